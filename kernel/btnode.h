/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reflinkfs B+tree node code shared by the extent tree (extent.c) and the
 * refcount tree (rctree.c), in the spirit of XFS's xfs_btree.c but small.
 *
 * Both trees use the same node layout: an 8-byte header {entries, max,
 * depth, reserved} (struct rlfs_btree_header, struct rlfs_btree_header)
 * followed by 16-byte entries whose key is at offset 0: an __le32 logical
 * block in the extent tree, an __le64 physical block in the refcount tree
 * (struct rlfs_bt_ops.keylen).  In index nodes the child block number is
 * the __le64 at offset 8 (ei_blk, ri_blk).  A tree block holds the node
 * header right after its struct rlfs_block_header.
 *
 * Shared here: entry open and delete, the binary search, path walking
 * and release, the next key after a leaf position, key fixing up the
 * tree, the split of a node into a new right sibling, growing the tree by
 * a level, making room in a leaf, removing emptied nodes and shrinking
 * the tree by a level.  Node validation is the format core's
 * (rlfs_verify_extent_node(), rlfs_verify_refcount_node()).  Each tree
 * keeps its own policy, which the shared code reaches through struct
 * rlfs_bt_ops: reading a node and its messages, where the root lives (in
 * the inode, or a block the superblock points to), allocating and
 * freeing nodes and the journaling.
 */
#ifndef _RLFS_BTNODE_H
#define _RLFS_BTNODE_H

#include "reflinkfs.h"

#define RLFS_BT_MAX_DEPTH	RLFS_MAX_EXTENT_DEPTH

struct rlfs_bt_level {
	struct buffer_head		*bh;	/* NULL: the extent root */
	struct rlfs_btree_header	*node;
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
	/* Give back the tree block @blk, which nothing points to any more. */
	int (*free_node)(handle_t *handle, void *owner, u64 blk);
	/*
	 * Trees whose root is a block (lv[0].bh set): point the owner at
	 * the root @blk of @depth, 0 for an empty tree.  A root kept in the
	 * owner itself (the inode's extent root) is never freed or moved.
	 */
	int (*set_root)(handle_t *handle, void *owner, u64 blk, int depth);
	/* The filesystem, for messages. */
	struct super_block *(*sb)(void *owner);
	const char	*name;		/* "extent", "refcount" */
};

/* Upper bound of make-room rounds for one walk: splits and growths. */
#define RLFS_BT_MAX_ROUNDS	(2 * RLFS_BT_MAX_DEPTH + 4)

static inline void rlfs_bt_set_entries(struct rlfs_btree_header *node, int n)
{
	node->bt_entries = cpu_to_le16(n);
}

static inline bool rlfs_bt_full(const struct rlfs_btree_header *node)
{
	return rlfs_bt_entries(node) >= rlfs_bt_max(node);
}

static inline int rlfs_bt_free_slots(const struct rlfs_btree_header *node)
{
	return rlfs_bt_max(node) - rlfs_bt_entries(node);
}

static inline void rlfs_bt_set_key(struct rlfs_btree_header *node, int i,
				   unsigned int keylen, u64 key)
{
	void *e = rlfs_bt_entry(node, i);

	if (keylen == sizeof(__le32))
		*(__le32 *)e = cpu_to_le32(key);
	else
		*(__le64 *)e = cpu_to_le64(key);
}

void rlfs_bt_entry_open(struct rlfs_btree_header *node, int i);
void rlfs_bt_entry_delete(struct rlfs_btree_header *node, int i);
int rlfs_bt_search(const struct rlfs_btree_header *node, unsigned int keylen,
		   u64 key);
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
int rlfs_bt_grow(handle_t *handle, const struct rlfs_bt_ops *ops,
		 void *owner, struct rlfs_bt_path *path);
int rlfs_bt_make_room(handle_t *handle, const struct rlfs_bt_ops *ops,
		      void *owner, struct rlfs_bt_path *path, int need);
int rlfs_bt_remove_node(handle_t *handle, const struct rlfs_bt_ops *ops,
			void *owner, struct rlfs_bt_path *path, int level,
			int *freed);
int rlfs_bt_shrink(handle_t *handle, const struct rlfs_bt_ops *ops,
		   void *owner, struct rlfs_bt_path *path);

#endif /* _RLFS_BTNODE_H */
