// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs B+tree node code shared by the extent and refcount trees; see
 * btnode.h for what is shared and what each tree keeps.
 */

#include "btnode.h"

static_assert(sizeof(struct rlfs_bt_hdr) ==
	      sizeof(struct rlfs_extent_header));
static_assert(sizeof(struct rlfs_bt_hdr) ==
	      sizeof(struct rlfs_refcount_header));
static_assert(offsetof(struct rlfs_bt_hdr, nh_entries) ==
	      offsetof(struct rlfs_extent_header, eh_entries));
static_assert(offsetof(struct rlfs_bt_hdr, nh_max) ==
	      offsetof(struct rlfs_extent_header, eh_max));
static_assert(offsetof(struct rlfs_bt_hdr, nh_depth) ==
	      offsetof(struct rlfs_extent_header, eh_depth));
static_assert(offsetof(struct rlfs_bt_hdr, nh_entries) ==
	      offsetof(struct rlfs_refcount_header, rh_entries));
static_assert(offsetof(struct rlfs_bt_hdr, nh_max) ==
	      offsetof(struct rlfs_refcount_header, rh_max));
static_assert(offsetof(struct rlfs_bt_hdr, nh_depth) ==
	      offsetof(struct rlfs_refcount_header, rh_depth));
static_assert(sizeof(struct rlfs_extent) == RLFS_BT_ENTRY_SIZE);
static_assert(sizeof(struct rlfs_extent_idx) == RLFS_BT_ENTRY_SIZE);
static_assert(sizeof(struct rlfs_refcount_rec) == RLFS_BT_ENTRY_SIZE);
static_assert(sizeof(struct rlfs_refcount_idx) == RLFS_BT_ENTRY_SIZE);
static_assert(offsetof(struct rlfs_extent, e_lblk) == 0);
static_assert(offsetof(struct rlfs_extent_idx, ei_lblk) == 0);
static_assert(offsetof(struct rlfs_extent_idx, ei_blk) == 8);
static_assert(offsetof(struct rlfs_refcount_rec, rc_start) == 0);
static_assert(offsetof(struct rlfs_refcount_idx, ri_start) == 0);
static_assert(offsetof(struct rlfs_refcount_idx, ri_blk) == 8);
static_assert(offsetof(struct rlfs_extent_block, eb_eh) ==
	      sizeof(struct rlfs_block_header));
static_assert(offsetof(struct rlfs_extent_block, eb_ext) ==
	      sizeof(struct rlfs_block_header) + sizeof(struct rlfs_bt_hdr));
static_assert(offsetof(struct rlfs_refcount_block, rb_rh) ==
	      sizeof(struct rlfs_block_header));
static_assert(offsetof(struct rlfs_refcount_block, rb_rec) ==
	      sizeof(struct rlfs_block_header) + sizeof(struct rlfs_bt_hdr));

/* Open a slot at position i, shifting the entries from i on. */
void rlfs_bt_entry_open(void *node, int i)
{
	int n = rlfs_bt_entries(node);

	memmove(rlfs_bt_entry(node, i + 1), rlfs_bt_entry(node, i),
		(n - i) * RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_entries(node, n + 1);
}

/* Remove the entry at position i, zeroing the freed slot. */
void rlfs_bt_entry_delete(void *node, int i)
{
	int n = rlfs_bt_entries(node);

	memmove(rlfs_bt_entry(node, i), rlfs_bt_entry(node, i + 1),
		(n - i - 1) * RLFS_BT_ENTRY_SIZE);
	memset(rlfs_bt_entry(node, n - 1), 0, RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_entries(node, n - 1);
}

/* Last entry whose key is <= @key, -1 if none (binary search). */
int rlfs_bt_search(const void *node, unsigned int keylen, u64 key)
{
	int lo = 0, hi = rlfs_bt_entries(node) - 1, found = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (rlfs_bt_key(node, mid, keylen) <= key) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

/*
 * Check a node header against the capacity @max and the @depth that the
 * tree expects.  Returns NULL, or what is wrong (@max_what for a bad
 * capacity) for the caller to report, naming the node its own way.
 */
const char *rlfs_bt_check_header(const void *node, int max, int depth,
				 const char *max_what)
{
	const struct rlfs_bt_hdr *h = node;

	if (le16_to_cpu(h->nh_max) != max)
		return max_what;
	if (rlfs_bt_entries(node) > max)
		return "too many entries";
	if (le16_to_cpu(h->nh_depth) != depth)
		return "unexpected depth";
	return NULL;
}

/*
 * Check index entry i: its key strictly above the previous one (in
 * [*prev_end, hi)), its child in the data area.  Advances *prev_end.
 * Returns NULL, or what is wrong.
 */
const char *rlfs_bt_check_index(struct super_block *sb, const void *node,
				int i, unsigned int keylen, u64 *prev_end,
				u64 hi)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	u64 key = rlfs_bt_key(node, i, keylen);
	u64 blk = rlfs_bt_child(node, i);

	if (key < *prev_end || key >= hi)
		return "indexes out of order or range";
	if (blk < sbi->s_data_start || blk >= sbi->s_blocks)
		return "index outside the data area";
	*prev_end = key + 1;
	return NULL;
}

/* Drop the buffers of a path (the extent root has none). */
void rlfs_bt_path_release(struct rlfs_bt_path *path)
{
	int i;

	for (i = 0; i <= path->depth; i++) {
		brelse(path->lv[i].bh);
		path->lv[i].bh = NULL;
	}
}

/* Read the child that lv[level].pos points to into lv[level + 1]. */
int rlfs_bt_descend(const struct rlfs_bt_ops *ops, void *owner,
		    struct rlfs_bt_path *path, int level)
{
	struct rlfs_bt_level *up = &path->lv[level];
	struct rlfs_bt_level *down = &path->lv[level + 1];
	int n = rlfs_bt_entries(up->node);
	u64 blk = rlfs_bt_child(up->node, up->pos);
	u64 lo = rlfs_bt_key(up->node, up->pos, ops->keylen);
	u64 hi = up->pos + 1 < n ?
		rlfs_bt_key(up->node, up->pos + 1, ops->keylen) : up->hi;
	struct buffer_head *bh;

	bh = ops->read(owner, blk, path->depth - level - 1, lo, hi);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	brelse(down->bh);
	down->bh = bh;
	down->node = rlfs_bt_block_node(bh);
	down->pos = -1;
	down->hi = hi;
	return 0;
}

/*
 * Walk from the root, already in lv[0] with path->depth set, to the leaf
 * whose key range holds @key.  At index levels pos is the last index whose
 * key is <= @key (0 if @key precedes them all); at the leaf it is the last
 * entry whose key is <= @key, or -1.  On failure the path is released.
 */
int rlfs_bt_walk(const struct rlfs_bt_ops *ops, void *owner,
		 struct rlfs_bt_path *path, u64 key)
{
	int level, err;

	for (level = 0; level < path->depth; level++) {
		struct rlfs_bt_level *lv = &path->lv[level];

		lv->pos = max(rlfs_bt_search(lv->node, ops->keylen, key), 0);
		err = rlfs_bt_descend(ops, owner, path, level);
		if (err) {
			rlfs_bt_path_release(path);
			return err;
		}
	}
	path->lv[path->depth].pos = rlfs_bt_search(path->lv[path->depth].node,
						   ops->keylen, key);
	return 0;
}

/*
 * First key after the leaf position of @path: the next entry of the leaf
 * or the key of the next subtree.  @none if there is none.
 */
u64 rlfs_bt_next_key(struct rlfs_bt_path *path, unsigned int keylen, u64 none)
{
	int level;

	for (level = path->depth; level >= 0; level--) {
		struct rlfs_bt_level *lv = &path->lv[level];

		if (lv->pos + 1 < rlfs_bt_entries(lv->node))
			return rlfs_bt_key(lv->node, lv->pos + 1, keylen);
	}
	return none;
}

/*
 * The first key of the node at @level may have changed: update the index
 * pointing to it, and further up while that index is the first entry.
 */
int rlfs_bt_fix_keys(handle_t *handle, const struct rlfs_bt_ops *ops,
		     void *owner, struct rlfs_bt_path *path, int level)
{
	int err;

	for (; level > 0; level--) {
		struct rlfs_bt_level *up = &path->lv[level - 1];
		u64 key = rlfs_bt_key(path->lv[level].node, 0, ops->keylen);

		if (rlfs_bt_key(up->node, up->pos, ops->keylen) == key)
			return 0;
		err = ops->access(handle, owner, up);
		if (err)
			return err;
		rlfs_bt_set_key(up->node, up->pos, ops->keylen, key);
		err = ops->dirty(handle, owner, up);
		if (err)
			return err;
		if (up->pos != 0)
			return 0;
	}
	return 0;
}

/*
 * Split the node at @level (>= 1) whose parent has room: the upper
 * entries move to a new right sibling, indexed in the parent right after
 * it.  When the walk follows the last entry (appending, the common case)
 * only that one moves, so that nodes fill up completely.
 */
int rlfs_bt_split(handle_t *handle, const struct rlfs_bt_ops *ops,
		  void *owner, struct rlfs_bt_path *path, int level)
{
	struct rlfs_bt_level *cur = &path->lv[level];
	struct rlfs_bt_level *up = &path->lv[level - 1];
	int n = rlfs_bt_entries(cur->node);
	int split = cur->pos == n - 1 ? n - 1 : n / 2;
	struct buffer_head *bh;
	void *node, *ix;
	int err;

	if (WARN_ON_ONCE(n < 2))
		return -EIO;
	err = ops->access(handle, owner, up);
	if (!err)
		err = ops->access(handle, owner, cur);
	if (err)
		return err;
	bh = ops->new_node(handle, owner, cur->bh->b_blocknr,
			   le16_to_cpu(((struct rlfs_bt_hdr *)cur->node)->nh_depth));
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	node = rlfs_bt_block_node(bh);
	memcpy(rlfs_bt_entry(node, 0), rlfs_bt_entry(cur->node, split),
	       (n - split) * RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_entries(node, n - split);
	err = rlfs_journal_dirty_meta(handle, bh);
	if (err)
		goto out;

	memset(rlfs_bt_entry(cur->node, split), 0,
	       (n - split) * RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_entries(cur->node, split);
	err = ops->dirty(handle, owner, cur);
	if (err)
		goto out;

	rlfs_bt_entry_open(up->node, up->pos + 1);
	ix = rlfs_bt_entry(up->node, up->pos + 1);
	memset(ix, 0, RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_key(up->node, up->pos + 1, ops->keylen,
			rlfs_bt_key(node, 0, ops->keylen));
	*(__le64 *)((u8 *)ix + 8) = cpu_to_le64(bh->b_blocknr);
	err = ops->dirty(handle, owner, up);
out:
	brelse(bh);
	return err;
}
