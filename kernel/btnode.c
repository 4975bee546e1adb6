// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs B+tree node code shared by the extent and refcount trees; see
 * btnode.h for what is shared and what each tree keeps.
 */

#include "btnode.h"

/* Open a slot at position i, shifting the entries from i on. */
void rlfs_bt_entry_open(struct rlfs_btree_header *node, int i)
{
	int n = rlfs_bt_entries(node);

	memmove(rlfs_bt_entry(node, i + 1), rlfs_bt_entry(node, i),
		(n - i) * RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_entries(node, n + 1);
}

/* Remove the entry at position i, zeroing the freed slot. */
void rlfs_bt_entry_delete(struct rlfs_btree_header *node, int i)
{
	int n = rlfs_bt_entries(node);

	memmove(rlfs_bt_entry(node, i), rlfs_bt_entry(node, i + 1),
		(n - i - 1) * RLFS_BT_ENTRY_SIZE);
	memset(rlfs_bt_entry(node, n - 1), 0, RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_entries(node, n - 1);
}

/* Last entry whose key is <= @key, -1 if none (binary search). */
int rlfs_bt_search(const struct rlfs_btree_header *node, unsigned int keylen,
		   u64 key)
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
	down->node = rlfs_bt_block_node(bh->b_data);
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

/* Index entry i of @node: @key and @child, the rest zero. */
static void rlfs_bt_set_index(struct rlfs_btree_header *node, int i,
			      unsigned int keylen, u64 key, u64 child)
{
	u8 *ix = rlfs_bt_entry(node, i);

	memset(ix, 0, RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_key(node, i, keylen, key);
	*(__le64 *)(ix + 8) = cpu_to_le64(child);
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
	struct rlfs_btree_header *node;
	struct buffer_head *bh;
	int err;

	if (WARN_ON_ONCE(n < 2))
		return -EIO;
	err = ops->access(handle, owner, up);
	if (!err)
		err = ops->access(handle, owner, cur);
	if (err)
		return err;
	bh = ops->new_node(handle, owner, cur->bh->b_blocknr,
			   rlfs_bt_depth(cur->node));
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	node = rlfs_bt_block_node(bh->b_data);
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
	rlfs_bt_set_index(up->node, up->pos + 1, ops->keylen,
			  rlfs_bt_key(node, 0, ops->keylen), bh->b_blocknr);
	err = ops->dirty(handle, owner, up);
out:
	brelse(bh);
	return err;
}

/*
 * Grow the tree of @path by one level.  A root kept in the owner (the
 * inode's extent root) moves its entries to a new node and becomes an
 * index with one entry; a root block gets a new root above it that
 * indexes it (ops->set_root).
 */
int rlfs_bt_grow(handle_t *handle, const struct rlfs_bt_ops *ops,
		 void *owner, struct rlfs_bt_path *path)
{
	struct rlfs_bt_level *root = &path->lv[0];
	int depth = path->depth;
	int n = rlfs_bt_entries(root->node);
	u64 key = n ? rlfs_bt_key(root->node, 0, ops->keylen) : 0;
	struct rlfs_btree_header *node;
	struct buffer_head *bh;
	int err;

	if (depth >= RLFS_BT_MAX_DEPTH) {
		rlfs_err(ops->sb(owner), "%s tree at maximum depth %d",
			 ops->name, RLFS_BT_MAX_DEPTH);
		return -ENOSPC;
	}
	if (root->bh) {
		bh = ops->new_node(handle, owner, root->bh->b_blocknr,
				   depth + 1);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		node = rlfs_bt_block_node(bh->b_data);
		rlfs_bt_set_index(node, 0, ops->keylen, key,
				  root->bh->b_blocknr);
		rlfs_bt_set_entries(node, 1);
		err = rlfs_journal_dirty_meta(handle, bh);
		if (!err)
			err = ops->set_root(handle, owner, bh->b_blocknr,
					    depth + 1);
		brelse(bh);
		return err;
	}

	/* Near the first block the root maps or indexes (offset 8). */
	bh = ops->new_node(handle, owner, n ? rlfs_bt_child(root->node, 0) : 0,
			   depth);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	node = rlfs_bt_block_node(bh->b_data);
	memcpy(rlfs_bt_entry(node, 0), rlfs_bt_entry(root->node, 0),
	       n * RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_entries(node, n);
	err = rlfs_journal_dirty_meta(handle, bh);
	if (!err)
		err = ops->access(handle, owner, root);
	if (err)
		goto out;
	memset(rlfs_bt_entry(root->node, 0), 0,
	       rlfs_bt_max(root->node) * RLFS_BT_ENTRY_SIZE);
	rlfs_bt_set_index(root->node, 0, ops->keylen, key, bh->b_blocknr);
	rlfs_bt_set_entries(root->node, 1);
	root->node->bt_depth = cpu_to_le16(depth + 1);
	err = ops->dirty(handle, owner, root);
out:
	brelse(bh);
	return err;
}

/*
 * The leaf of @path has fewer than @need free entries.  Split it, or the
 * lowest full node above it whose parent has room, or grow the tree when
 * every node up to the root is full.  One call makes one change; the
 * caller walks again and repeats, at most RLFS_BT_MAX_ROUNDS times.
 */
int rlfs_bt_make_room(handle_t *handle, const struct rlfs_bt_ops *ops,
		      void *owner, struct rlfs_bt_path *path, int need)
{
	int level = path->depth;

	if (rlfs_bt_free_slots(path->lv[level].node) >= need)
		return 0;
	while (level > 0 && rlfs_bt_full(path->lv[level - 1].node))
		level--;
	if (level == 0)
		return rlfs_bt_grow(handle, ops, owner, path);
	return rlfs_bt_split(handle, ops, owner, path, level);
}

/*
 * The node at @level (>= 1) is losing its only entry: free it, and its
 * parents that would become empty too, and drop the index from the first
 * ancestor that keeps entries.  With no such ancestor the tree is empty:
 * a root in the owner becomes an empty leaf, a root block goes
 * (ops->set_root(0)).  *@freed counts the freed blocks (revoke records).
 */
int rlfs_bt_remove_node(handle_t *handle, const struct rlfs_bt_ops *ops,
			void *owner, struct rlfs_bt_path *path, int level,
			int *freed)
{
	int floor = path->lv[0].bh ? 0 : 1;
	struct rlfs_bt_level *up = NULL;
	int top = level, l, err;

	while (top > floor && rlfs_bt_entries(path->lv[top - 1].node) == 1)
		top--;
	if (top == 0) {
		err = ops->set_root(handle, owner, 0, 0);
	} else {
		up = &path->lv[top - 1];
		err = ops->access(handle, owner, up);
		if (err)
			return err;
		rlfs_bt_entry_delete(up->node, up->pos);
		if (!up->bh && !rlfs_bt_entries(up->node))
			up->node->bt_depth = 0;	/* the tree is empty */
		err = ops->dirty(handle, owner, up);
	}
	for (l = level; !err && l >= top; l--) {
		err = ops->free_node(handle, owner, path->lv[l].bh->b_blocknr);
		if (!err)
			(*freed)++;
	}
	if (!err && up && up->pos == 0 && rlfs_bt_entries(up->node))
		err = rlfs_bt_fix_keys(handle, ops, owner, path, top - 1);
	return err;
}

/*
 * Shrink the tree by one level when the root (lv[0] of @path, the only
 * level the caller filled in) is an index with a single child: a root
 * block is replaced by that child; a root in the owner takes the child's
 * entries when they fit in it.
 */
int rlfs_bt_shrink(handle_t *handle, const struct rlfs_bt_ops *ops,
		   void *owner, struct rlfs_bt_path *path)
{
	struct rlfs_bt_level *root = &path->lv[0];
	struct rlfs_btree_header *child;
	int n, err;
	u64 blk;

	if (!path->depth || rlfs_bt_entries(root->node) != 1)
		return 0;
	if (root->bh) {
		err = ops->set_root(handle, owner, rlfs_bt_child(root->node, 0),
				    path->depth - 1);
		if (!err)
			err = ops->free_node(handle, owner,
					     root->bh->b_blocknr);
		return err;
	}
	err = rlfs_bt_descend(ops, owner, path, 0);
	if (err)
		return err;
	child = path->lv[1].node;
	n = rlfs_bt_entries(child);
	if (n <= rlfs_bt_max(root->node)) {
		blk = path->lv[1].bh->b_blocknr;
		err = ops->access(handle, owner, root);
		if (err)
			goto out;
		memset(rlfs_bt_entry(root->node, 0), 0,
		       rlfs_bt_max(root->node) * RLFS_BT_ENTRY_SIZE);
		memcpy(rlfs_bt_entry(root->node, 0), rlfs_bt_entry(child, 0),
		       n * RLFS_BT_ENTRY_SIZE);
		rlfs_bt_set_entries(root->node, n);
		root->node->bt_depth = child->bt_depth;
		err = ops->dirty(handle, owner, root);
		if (!err)
			err = ops->free_node(handle, owner, blk);
	}
out:
	brelse(path->lv[1].bh);
	path->lv[1].bh = NULL;
	return err;
}
