/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reflinkfs B+tree node code shared by the extent tree (extent.c) and the
 * refcount tree (rctree.c), in the spirit of XFS's xfs_btree.c but small.
 *
 * Both trees use the same node layout: an 8-byte header {entries, max,
 * depth, reserved} (struct rlfs_extent_header, struct rlfs_refcount_header)
 * followed by 16-byte entries whose key is at offset 0: an __le32 logical
 * block in the extent tree, an __le64 physical block in the refcount tree
 * (struct rlfs_bt_ops.keylen).  In index nodes the child block number is
 * the __le64 at offset 8 (ei_blk, ri_blk).  A tree block holds the node
 * header right after its struct rlfs_block_header.
 *
 * Shared here: entry access, open and delete, the binary search, the
 * header and index entry checks (the caller reports), path
 * walking and release, the next key after a leaf position, key fixing up
 * the tree and the split of a node into a new right sibling.  Each tree
 * keeps its own policy: node validation and its messages, where the root
 * lives (the inode or the superblock), growing, shrinking and freeing
 * nodes, when to split, and the journaling, which the shared code reaches
 * through struct rlfs_bt_ops.
 */
#ifndef _RLFS_BTNODE_H
#define _RLFS_BTNODE_H

#include "reflinkfs.h"

#define RLFS_BT_ENTRY_SIZE	16
#define RLFS_BT_MAX_DEPTH	RLFS_MAX_EXTENT_DEPTH

/* The node header of both trees. */
struct rlfs_bt_hdr {
	__le16	nh_entries;
	__le16	nh_max;
	__le16	nh_depth;
	__le16	nh_reserved;
};

struct rlfs_bt_level {
	struct buffer_head		*bh;	/* NULL: the extent root */
	union {
		void				*node;
		struct rlfs_extent_header	*eh;
		struct rlfs_refcount_header	*rh;
	};
	int				pos;	/* followed or found entry */
	u64				hi;	/* upper bound of the keys */
};

/*
 * One level per node from the root (lv[0]) to the leaf (lv[depth]).  At
 * index levels pos is the entry followed; at the leaf, the last entry
 * whose key is <= the key looked up, or -1.
 */
struct rlfs_bt_path {
	int			depth;
	struct rlfs_bt_level	lv[RLFS_BT_MAX_DEPTH + 1];
};

/* What the shared code needs from a tree; @owner is the tree's own. */
struct rlfs_bt_ops {
	unsigned int	keylen;		/* bytes of the key: 4 or 8 */
	/* Read and validate the node of @depth at @blk, keys in [lo, hi). */
	struct buffer_head *(*read)(void *owner, u64 blk, int depth,
				    u64 lo, u64 hi);
	/* Journal write access to, and a change of, the node of @lv. */
	int (*access)(handle_t *handle, void *owner, struct rlfs_bt_level *lv);
	int (*dirty)(handle_t *handle, void *owner, struct rlfs_bt_level *lv);
	/* A new empty tree block of @depth near @goal, write access held. */
	struct buffer_head *(*new_node)(handle_t *handle, void *owner,
					u64 goal, int depth);
};

static inline int rlfs_bt_entries(const void *node)
{
	return le16_to_cpu(((const struct rlfs_bt_hdr *)node)->nh_entries);
}

static inline void rlfs_bt_set_entries(void *node, int n)
{
	((struct rlfs_bt_hdr *)node)->nh_entries = cpu_to_le16(n);
}

static inline bool rlfs_bt_full(const void *node)
{
	const struct rlfs_bt_hdr *h = node;

	return le16_to_cpu(h->nh_entries) >= le16_to_cpu(h->nh_max);
}

/* Entry i of a node, record or index alike. */
static inline void *rlfs_bt_entry(const void *node, int i)
{
	return (u8 *)((struct rlfs_bt_hdr *)node + 1) + i * RLFS_BT_ENTRY_SIZE;
}

static inline u64 rlfs_bt_key(const void *node, int i, unsigned int keylen)
{
	const void *e = rlfs_bt_entry(node, i);

	return keylen == sizeof(__le32) ? le32_to_cpup(e) : le64_to_cpup(e);
}

static inline void rlfs_bt_set_key(void *node, int i, unsigned int keylen,
				   u64 key)
{
	void *e = rlfs_bt_entry(node, i);

	if (keylen == sizeof(__le32))
		*(__le32 *)e = cpu_to_le32(key);
	else
		*(__le64 *)e = cpu_to_le64(key);
}

/* Child block of index entry i. */
static inline u64 rlfs_bt_child(const void *node, int i)
{
	return le64_to_cpup((__le64 *)((u8 *)rlfs_bt_entry(node, i) + 8));
}

/* The node header of a tree block. */
static inline void *rlfs_bt_block_node(struct buffer_head *bh)
{
	return bh->b_data + sizeof(struct rlfs_block_header);
}

void rlfs_bt_entry_open(void *node, int i);
void rlfs_bt_entry_delete(void *node, int i);
int rlfs_bt_search(const void *node, unsigned int keylen, u64 key);
const char *rlfs_bt_check_header(const void *node, int max, int depth,
				 const char *max_what);
const char *rlfs_bt_check_index(struct super_block *sb, const void *node,
				int i, unsigned int keylen, u64 *prev_end,
				u64 hi);
void rlfs_bt_path_release(struct rlfs_bt_path *path);
int rlfs_bt_descend(const struct rlfs_bt_ops *ops, void *owner,
		    struct rlfs_bt_path *path, int level);
int rlfs_bt_walk(const struct rlfs_bt_ops *ops, void *owner,
		 struct rlfs_bt_path *path, u64 key);
u64 rlfs_bt_next_key(struct rlfs_bt_path *path, unsigned int keylen,
		     u64 none);
int rlfs_bt_fix_keys(handle_t *handle, const struct rlfs_bt_ops *ops,
		     void *owner, struct rlfs_bt_path *path, int level);
int rlfs_bt_split(handle_t *handle, const struct rlfs_bt_ops *ops,
		  void *owner, struct rlfs_bt_path *path, int level);

#endif /* _RLFS_BTNODE_H */
