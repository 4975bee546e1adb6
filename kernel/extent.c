// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs extent tree: the map from logical to physical blocks of a
 * regular file, a directory or a slow symlink.
 *
 * Theory of operation
 *
 * Each inode maps its logical blocks with a B+tree of extents.  The root
 * node lives in the inode (rlfs_inode_info.i_data, RLFS_INODE_ROOT_ENTRIES
 * entries); every other node is an extent block (RLFS_EXTENT_BLOCK_ENTRIES
 * entries).  A node of depth 0 (a leaf) holds extents (lblk, len, pblk); a
 * node of depth d > 0 holds indexes (key, child block) to nodes of depth
 * d - 1.  The root's bt_depth is the depth of the whole tree.
 *
 * Invariants, checked on every node read (rlfs_check_node):
 *  - entries are sorted by logical block and extents never overlap;
 *  - a child reached through index i holds only blocks in
 *    [key(i), key(i + 1)), key(i + 1) taken as the parent's own upper
 *    bound for the last index; the key of an index is the first logical
 *    block of its subtree (kept exact by rlfs_fix_keys);
 *  - only the root may be empty, and then the tree has depth 0;
 *  - extents are 1..RLFS_MAX_EXTENT_LEN blocks long, end at or below
 *    RLFS_LBLK_LIMIT and point inside the data area.
 *
 * The node mechanics (entry open/delete, binary search, path walk and
 * release, next key, key fixing, node split) are shared with the refcount
 * tree in btnode.c (see btnode.h); this file keeps the extent tree's
 * policy and reaches the shared code through rlfs_ext_ops (32-bit keys,
 * node reads with rlfs_check_node, journaling, new extent blocks).
 *
 * Walking: rlfs_find_path() checks the root and fills a struct
 * rlfs_bt_path (rlfs_bt_walk) with one entry per level, root first: the
 * node, its buffer (NULL for the root) and the position followed (index
 * levels) or found (leaf: the last extent that starts at or before the
 * block, -1 if none).
 *
 * Inserting (rlfs_extent_insert) a range that must be a hole: merge with
 * the neighbouring extent in the leaf when logically and physically
 * contiguous, else add an entry.  When the leaf is full, rlfs_bt_make_room()
 * splits the lowest full node whose parent has room (rlfs_bt_split: half
 * the entries move to a new block, or only the last one when appending),
 * or, when every node on the path is full, grows the tree by one level:
 * the root's entries move into a new block and the root becomes an index
 * with one entry (as ext4 does).  Then the walk starts over.
 *
 * Removing (rlfs_remove_range) works on at most one extent per call so
 * that one call fits one bounded transaction: the extent is dropped,
 * trimmed at the front or back, or split in two around the removed part
 * (which may need rlfs_bt_make_room() first).  Nodes left empty are freed up
 * the tree, and a root with a single child small enough to fit in the
 * inode absorbs it (the tree shrinks).  Blocks that leave the map are
 * given back only by rlfs_remove_step(), which for regular files drops
 * one reference (rlfs_refcount_dec(): a shared block loses a count, an
 * unshared one is freed) before it unmaps them, so that a lack of space
 * fails the step before the map changes.  Copy on write and remapping
 * over mapped data rewrite mappings in place (rlfs_extent_reserve(),
 * then rlfs_extent_replace(), which allocates nothing); collapse and
 * insert move them in place (rlfs_extent_shift_step()).  Freed tree,
 * directory and symlink blocks go through rlfs_free_meta_block(), which
 * revokes them and drops their cached buffer from the journal.
 *
 * Locking and journaling: i_map_sem protects the whole tree; readers take
 * it shared, writers exclusive and always inside a jbd2 handle (never the
 * other way round).  Every node change is get_write_access, change,
 * rlfs_journal_dirty_meta (which also recomputes the block crc) before
 * the node is read again; root changes are written to the inode record
 * with rlfs_mark_inode_dirty.  Allocation and freeing of tree blocks
 * change i_blocks, so they dirty the inode too.  While i_map_sem is held
 * allocations are GFP_NOFS: reclaim must not re-enter the filesystem.
 */

#include <linux/blkdev.h>
#include <linux/sched/mm.h>
#include "btnode.h"
#include "trace.h"

/*
 * Largest run of data blocks allocated or freed in one step: it spans at
 * most two bitmap blocks, as RLFS_BITMAP_CREDITS assumes.
 */
#define RLFS_MAX_STEP_BLOCKS	min_t(u32, RLFS_MAX_EXTENT_LEN, \
				      RLFS_BITS_PER_BITMAP)

/* Node accessors: extents and indexes follow the header in both kinds. */
static inline struct rlfs_extent *rlfs_ext(struct rlfs_btree_header *eh,
					   int i)
{
	return (struct rlfs_extent *)(eh + 1) + i;
}

static inline struct rlfs_extent_idx *rlfs_idx(struct rlfs_btree_header *eh,
					       int i)
{
	return (struct rlfs_extent_idx *)(eh + 1) + i;
}

/* Logical block of entry i, extent or index alike. */
static inline u32 rlfs_key(struct rlfs_btree_header *eh, int i)
{
	return rlfs_bt_key(eh, i, sizeof(__le32));
}

/*
 * Validate one node (rlfs_verify_extent_node()).  @blocknr is 0 for the
 * root.  Entries must lie in [lo, hi).  Returns 0 or -EFSCORRUPTED
 * (reported).
 */
static int rlfs_check_node(struct inode *inode, struct rlfs_btree_header *eh,
			   u64 blocknr, int depth, u32 lo, u32 hi)
{
	struct super_block *sb = inode->i_sb;
	const char *why;
	int entry;

	why = rlfs_verify_extent_node(eh, !blocknr, depth, lo, hi,
				      &RLFS_SB(sb)->s_geom, &entry);
	if (!why)
		return 0;
	if (blocknr)
		rlfs_corrupt_block(sb, blocknr,
				   "inode %lu: extent block %llu: %s at entry %d (entries %d max %d depth %d, expected depth %d)",
				   inode->i_ino, blocknr, why, entry,
				   rlfs_bt_entries(eh), rlfs_bt_max(eh),
				   rlfs_bt_depth(eh), depth);
	else
		rlfs_corrupt(sb, "inode %lu: extent root: %s at entry %d (entries %d max %d depth %d)",
			     inode->i_ino, why, entry, rlfs_bt_entries(eh),
			     rlfs_bt_max(eh), rlfs_bt_depth(eh));
	return -EFSCORRUPTED;
}

/* Read and validate the extent block @blk of @depth, keys in [lo, hi). */
static struct buffer_head *rlfs_read_node(void *owner, u64 blk, int depth,
					  u64 lo, u64 hi)
{
	struct inode *inode = owner;
	struct buffer_head *bh;
	int err;

	bh = rlfs_read_meta(inode->i_sb, blk, RLFS_EXTENT_MAGIC, inode->i_ino);
	if (IS_ERR(bh))
		return bh;
	err = rlfs_check_node(inode, rlfs_bt_block_node(bh->b_data), blk,
			      depth, lo, hi);
	if (err) {
		brelse(bh);
		return ERR_PTR(err);
	}
	return bh;
}

static const struct rlfs_bt_ops rlfs_ext_ops;

/*
 * Walk from the root to the leaf whose key range holds @lblk.  At index
 * levels pos is the last index whose key is <= lblk (0 if lblk precedes
 * them all); at the leaf it is the last extent starting at or before lblk,
 * or -1.  On success the caller must rlfs_bt_path_release().
 */
static int rlfs_find_path(struct inode *inode, u32 lblk,
			  struct rlfs_bt_path *path)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);
	struct rlfs_btree_header *root = &ei->i_eh;
	int depth = le16_to_cpu(root->bt_depth);
	int err;

	memset(path, 0, sizeof(*path));
	if (ei->i_flags & RLFS_FAST_SYMLINK_FL)
		return -EINVAL;		/* i_data holds a name, not a tree */
	if (depth > RLFS_MAX_EXTENT_DEPTH) {
		rlfs_corrupt(inode->i_sb, "inode %lu: extent tree depth %d",
			     inode->i_ino, depth);
		return -EFSCORRUPTED;
	}
	err = rlfs_check_node(inode, root, 0, depth, 0, RLFS_LBLK_LIMIT);
	if (err)
		return err;
	path->depth = depth;
	path->lv[0].node = root;
	path->lv[0].hi = RLFS_LBLK_LIMIT;
	return rlfs_bt_walk(&rlfs_ext_ops, inode, path, lblk);
}

/*
 * Move the path to the next leaf, leftmost position.  Returns 1 when
 * there is one, 0 at the end of the tree, or -errno.
 */
static int rlfs_next_leaf(struct inode *inode, struct rlfs_bt_path *path)
{
	int level, err;

	for (level = path->depth - 1; level >= 0; level--)
		if (path->lv[level].pos + 1 < rlfs_bt_entries(path->lv[level].node))
			break;
	if (level < 0)
		return 0;
	path->lv[level].pos++;
	for (; level < path->depth; level++) {
		err = rlfs_bt_descend(&rlfs_ext_ops, inode, path, level);
		if (err)
			return err;
		path->lv[level + 1].pos = 0;
	}
	return 1;
}

/*
 * First logical block mapped after the leaf position of @path: the next
 * extent of the leaf or the key of the next subtree.  RLFS_LBLK_LIMIT if
 * there is none.
 */
static u32 rlfs_next_key(struct rlfs_bt_path *path)
{
	return rlfs_bt_next_key(path, sizeof(__le32), RLFS_LBLK_LIMIT);
}

/* Journal access to the node of one path level (the root needs none). */
static int rlfs_node_access(handle_t *handle, void *owner,
			    struct rlfs_bt_level *lv)
{
	struct inode *inode = owner;

	if (!lv->bh)
		return 0;
	return rlfs_journal_get_write_access(handle, inode->i_sb, lv->bh);
}

/* Journal a changed node: extent block, or the inode holding the root. */
static int rlfs_node_dirty(handle_t *handle, void *owner,
			   struct rlfs_bt_level *lv)
{
	struct inode *inode = owner;

	if (!lv->bh)
		return rlfs_mark_inode_dirty(handle, inode);
	return rlfs_journal_dirty_meta(handle, lv->bh);
}

/*
 * Allocate and initialise an empty extent block of the given depth near
 * @goal.  Counted in i_blocks, so the inode is dirtied.
 */
static struct buffer_head *rlfs_new_node(handle_t *handle, void *owner,
					 u64 goal, int depth)
{
	struct inode *inode = owner;
	struct rlfs_extent_block *eb;
	struct buffer_head *bh;
	u32 count = 1;
	u64 blk;
	int err;

	err = rlfs_alloc_blocks(handle, inode->i_sb, inode, goal, &count, &blk,
				RLFS_I(inode)->i_alloc_flags);
	if (err)
		return ERR_PTR(err);
	err = rlfs_mark_inode_dirty(handle, inode);
	if (err)
		goto out_free;
	bh = rlfs_new_meta(handle, inode->i_sb, blk, RLFS_EXTENT_MAGIC,
			   inode->i_ino);
	if (IS_ERR(bh)) {
		err = PTR_ERR(bh);
		goto out_free;
	}
	eb = (struct rlfs_extent_block *)bh->b_data;
	eb->eb_eh.bt_max = cpu_to_le16(RLFS_EXTENT_BLOCK_ENTRIES);
	eb->eb_eh.bt_depth = cpu_to_le16(depth);
	return bh;

out_free:
	rlfs_free_meta_block(handle, inode->i_sb, inode, blk);
	return ERR_PTR(err);
}

/* Free an extent block: revoked, and out of i_blocks (the inode). */
static int rlfs_free_node(handle_t *handle, void *owner, u64 blk)
{
	struct inode *inode = owner;
	int err;

	err = rlfs_free_meta_block(handle, inode->i_sb, inode, blk);
	if (!err)
		err = rlfs_mark_inode_dirty(handle, inode);
	return err;
}

static struct super_block *rlfs_node_sb(void *owner)
{
	return ((struct inode *)owner)->i_sb;
}

static const struct rlfs_bt_ops rlfs_ext_ops = {
	.keylen		= sizeof(__le32),
	.read		= rlfs_read_node,
	.access		= rlfs_node_access,
	.dirty		= rlfs_node_dirty,
	.new_node	= rlfs_new_node,
	.free_node	= rlfs_free_node,
	.sb		= rlfs_node_sb,
	.name		= "extent",
};

/* The first key of the node at @level may have changed: fix the indexes. */
static int rlfs_fix_keys(handle_t *handle, struct inode *inode,
			 struct rlfs_bt_path *path, int level)
{
	return rlfs_bt_fix_keys(handle, &rlfs_ext_ops, inode, path, level);
}

/*
 * Free the directory or symlink blocks [pblk, pblk + count) that the map
 * of @inode no longer references: journaled metadata, revoked one by
 * one.  A regular file's blocks are released by rlfs_remove_step()
 * itself, by a refcount decrement before the unmap.
 */
static int rlfs_release_meta(handle_t *handle, struct inode *inode,
			     u64 pblk, u32 count)
{
	u32 i;
	int err;

	for (i = 0; i < count; i++) {
		err = rlfs_free_meta_block(handle, inode->i_sb, inode,
					   pblk + i);
		if (err)
			return err;
	}
	return 0;
}

/* Extent i of a leaf, in CPU order, and back (the one conversion). */
static void rlfs_get_ext(struct rlfs_btree_header *eh, int i,
			 struct rlfs_ext_irec *r)
{
	rlfs_ext_to_irec(rlfs_ext(eh, i), r);
}

static void rlfs_set_ext(struct rlfs_btree_header *eh, int i,
			 const struct rlfs_ext_irec *r)
{
	rlfs_irec_to_ext(r, rlfs_ext(eh, i));
}

static bool rlfs_can_merge(const struct rlfs_ext_irec *a,
			   const struct rlfs_ext_irec *b)
{
	return (u64)a->lblk + a->len == b->lblk &&
	       a->pblk + a->len == b->pblk &&
	       (u64)a->len + b->len <= RLFS_MAX_EXTENT_LEN;
}

/*
 * Add [lblk, lblk + len) -> pblk to the leaf of @path, merging with a
 * neighbour of the same leaf when contiguous.  -EAGAIN: the leaf is full.
 */
static int rlfs_leaf_insert(handle_t *handle, struct inode *inode,
			    struct rlfs_bt_path *path, u32 lblk, u64 pblk,
			    u32 len)
{
	struct rlfs_bt_level *leaf = &path->lv[path->depth];
	struct rlfs_btree_header *eh = leaf->node;
	int n = rlfs_bt_entries(eh), pos = leaf->pos;
	struct rlfs_ext_irec new = { .lblk = lblk, .len = len, .pblk = pblk };
	struct rlfs_ext_irec prev, next;
	bool has_prev = pos >= 0, has_next = pos + 1 < n;
	int err;

	if (has_prev)
		rlfs_get_ext(eh, pos, &prev);
	if (has_next)
		rlfs_get_ext(eh, pos + 1, &next);
	if (WARN_ON_ONCE((has_prev && (u64)prev.lblk + prev.len > lblk) ||
			 (u64)lblk + len > rlfs_next_key(path)))
		return -EEXIST;		/* the caller's range is not a hole */

	if (has_prev && rlfs_can_merge(&prev, &new)) {
		err = rlfs_node_access(handle, inode, leaf);
		if (err)
			return err;
		prev.len += len;
		/* The new range may have closed the gap to the next one. */
		if (has_next && rlfs_can_merge(&prev, &next)) {
			prev.len += next.len;
			rlfs_bt_entry_delete(eh, pos + 1);
		}
		rlfs_set_ext(eh, pos, &prev);
		return rlfs_node_dirty(handle, inode, leaf);
	}

	if (has_next && rlfs_can_merge(&new, &next)) {
		err = rlfs_node_access(handle, inode, leaf);
		if (err)
			return err;
		new.len += next.len;
		rlfs_set_ext(eh, pos + 1, &new);
		err = rlfs_node_dirty(handle, inode, leaf);
		if (!err && pos + 1 == 0)
			err = rlfs_fix_keys(handle, inode, path, path->depth);
		return err;
	}

	if (rlfs_bt_full(eh))
		return -EAGAIN;
	err = rlfs_node_access(handle, inode, leaf);
	if (err)
		return err;
	rlfs_bt_entry_open(eh, pos + 1);
	rlfs_set_ext(eh, pos + 1, &new);
	err = rlfs_node_dirty(handle, inode, leaf);
	if (!err && pos + 1 == 0)
		err = rlfs_fix_keys(handle, inode, path, path->depth);
	return err;
}

/* rlfs_extent_insert() without its trace point. */
static int __rlfs_extent_insert(handle_t *handle, struct inode *inode,
				u32 lblk, u64 pblk, u32 len)
{
	struct rlfs_bt_path path;
	int round, err;

	lockdep_assert_held_write(&RLFS_I(inode)->i_map_sem);
	if (WARN_ON_ONCE(!len || len > RLFS_MAX_EXTENT_LEN ||
			 (u64)lblk + len > RLFS_LBLK_LIMIT))
		return -EINVAL;

	for (round = 0; ; round++) {
		err = rlfs_find_path(inode, lblk, &path);
		if (err)
			return err;
		err = rlfs_leaf_insert(handle, inode, &path, lblk, pblk, len);
		if (err == -EAGAIN) {
			if (WARN_ON_ONCE(round >= RLFS_BT_MAX_ROUNDS))
				err = -EIO;
			else
				err = rlfs_bt_make_room(handle, &rlfs_ext_ops, inode,
						&path, 1);
			if (!err)
				err = -EAGAIN;
		}
		rlfs_bt_path_release(&path);
		if (err != -EAGAIN)
			return err;
	}
}

/**
 * rlfs_extent_insert - map [lblk, lblk + len) to [pblk, pblk + len)
 * @handle: running handle with RLFS_TREE_CREDITS for this call
 * @inode: the inode; its i_map_sem is held for writing
 * @lblk: first logical block
 * @pblk: first physical block
 * @len: 1..RLFS_MAX_EXTENT_LEN blocks
 *
 * The range must be a hole.  Splits full nodes and grows the tree as
 * needed; tree blocks come from rlfs_alloc_blocks() and count in i_blocks.
 * On failure the map is unchanged (the caller still owns the blocks).
 */
int rlfs_extent_insert(handle_t *handle, struct inode *inode,
		       u32 lblk, u64 pblk, u32 len)
{
	int err = __rlfs_extent_insert(handle, inode, lblk, pblk, len);

	trace_reflinkfs_extent_insert(inode, lblk, pblk, len, err);
	return err;
}

/*
 * Look @lblk up in a walked path: 1 and the whole extent in @rec when it
 * is mapped; 0 and the hole in @rec (pblk 0, len up to the next extent)
 * otherwise.  *goal, if asked, gets the physical block right after the
 * previous extent of the leaf (0 if none), the allocation goal.
 */
static int rlfs_path_lookup(struct rlfs_bt_path *path, u32 lblk,
			    struct rlfs_ext_irec *rec, u64 *goal)
{
	struct rlfs_bt_level *leaf = &path->lv[path->depth];
	struct rlfs_ext_irec prev;

	if (leaf->pos >= 0)
		rlfs_get_ext(leaf->node, leaf->pos, &prev);
	if (goal)
		*goal = leaf->pos >= 0 ? prev.pblk + prev.len : 0;
	if (leaf->pos >= 0 && (u64)prev.lblk + prev.len > lblk) {
		*rec = prev;
		return 1;
	}
	rec->lblk = lblk;
	rec->len = rlfs_next_key(path) - lblk;
	rec->pblk = 0;
	return 0;
}

/**
 * rlfs_extent_lookup - find the extent or hole holding a logical block
 * @inode: the inode; its i_map_sem is held (shared or exclusive)
 * @lblk: logical block, below RLFS_LBLK_LIMIT
 * @rec: out: the whole extent (return 1), or the hole from @lblk to the
 *	next extent with pblk 0 (return 0)
 *
 * Returns 1, 0 or -errno.
 */
int rlfs_extent_lookup(struct inode *inode, u32 lblk, struct rlfs_ext_irec *rec)
{
	struct rlfs_bt_path path;
	int ret;

	lockdep_assert_held(&RLFS_I(inode)->i_map_sem);
	if (lblk >= RLFS_LBLK_LIMIT)
		return -EFBIG;
	ret = rlfs_find_path(inode, lblk, &path);
	if (ret)
		return ret;
	ret = rlfs_path_lookup(&path, lblk, rec, NULL);
	rlfs_bt_path_release(&path);
	return ret;
}

/**
 * rlfs_extent_get - rlfs_extent_lookup() for a caller without i_map_sem
 * @inode: the inode
 * @lblk: logical block
 * @rec: out, as rlfs_extent_lookup()
 *
 * Takes i_map_sem shared.  Returns 1, 0 or -errno.
 */
int rlfs_extent_get(struct inode *inode, u32 lblk, struct rlfs_ext_irec *rec)
{
	unsigned int nofs;
	int ret;

	nofs = rlfs_map_lock(inode, RLFS_MAP_SHARED);
	ret = rlfs_extent_lookup(inode, lblk, rec);
	rlfs_map_unlock(inode, RLFS_MAP_SHARED, nofs);
	return ret;
}

/* Clip @map to the found extent or hole and return the map result. */
static int rlfs_map_result(struct rlfs_map *map,
			   const struct rlfs_ext_irec *rec, int mapped)
{
	u32 off = map->m_lblk - rec->lblk;

	map->m_len = min(map->m_len, rec->len - off);
	if (!mapped) {
		map->m_pblk = 0;
		return 0;
	}
	map->m_pblk = rec->pblk + off;
	return map->m_len;
}

/*
 * Allocate blocks for the hole at map->m_lblk (i_map_sem held for
 * writing): at most the hole, RLFS_MAX_STEP_BLOCKS and map->m_len.
 */
static int rlfs_map_alloc(handle_t *handle, struct inode *inode,
			  struct rlfs_map *map, const struct rlfs_ext_irec *hole,
			  u64 goal, unsigned int flags)
{
	struct super_block *sb = inode->i_sb;
	u32 count = min3(map->m_len, hole->len, RLFS_MAX_STEP_BLOCKS);
	u64 pblk;
	int err;

	lockdep_assert_held_write(&RLFS_I(inode)->i_map_sem);
	err = rlfs_alloc_blocks(handle, sb, inode, goal, &count, &pblk, 0);
	if (err)
		return err;
	/*
	 * Data blocks are written through the file's page cache or directly:
	 * drop stale aliases in the device's cache (a freed tree or directory
	 * block) so that they are never written over the new data.
	 */
	if (S_ISREG(inode->i_mode))
		clean_bdev_aliases(sb->s_bdev, pblk, count);
	if (flags & RLFS_MAP_ZERO) {
		err = sb_issue_zeroout(sb, pblk, count, GFP_NOFS);
		if (err)
			goto out_free;
	}
	err = rlfs_extent_insert(handle, inode, map->m_lblk, pblk, count);
	if (err)
		goto out_free;
	err = rlfs_mark_inode_dirty(handle, inode);	/* i_blocks */
	if (err)
		return err;
	map->m_pblk = pblk;
	map->m_len = count;
	map->m_new = true;
	return count;

out_free:
	/* Never mapped: a plain free, not a refcount decrement. */
	rlfs_free_blocks(handle, inode->i_sb, inode, pblk, count);
	rlfs_mark_inode_dirty(handle, inode);
	return err;
}

/**
 * rlfs_map_blocks - map logical blocks, allocating holes on request
 * @handle: running handle (RLFS_WRITE_CREDITS) with RLFS_MAP_CREATE, else
 *	unused
 * @inode: the inode
 * @map: m_lblk and m_len in; m_pblk, m_len and m_new out
 * @flags: RLFS_MAP_CREATE to allocate a hole, RLFS_MAP_ZERO to zero the
 *	new blocks on disk before they are mapped
 *
 * Returns the number of mapped blocks from m_lblk (m_len, > 0), 0 for a
 * hole (m_len clipped to the next extent), or -errno.
 */
int rlfs_map_blocks(handle_t *handle, struct inode *inode,
		    struct rlfs_map *map, unsigned int flags)
{
	bool create = flags & RLFS_MAP_CREATE;
	struct rlfs_ext_irec rec;
	struct rlfs_bt_path path;
	unsigned int nofs;
	u64 goal;
	int ret;

	map->m_pblk = 0;
	map->m_new = false;
	if (map->m_lblk >= RLFS_LBLK_LIMIT)
		return -EFBIG;
	if (WARN_ON_ONCE(!map->m_len) || WARN_ON_ONCE(create && !handle))
		return -EINVAL;
	map->m_len = min(map->m_len, RLFS_LBLK_LIMIT - map->m_lblk);

	nofs = rlfs_map_lock(inode, create ? RLFS_MAP_EXCL : RLFS_MAP_SHARED);

	ret = rlfs_find_path(inode, map->m_lblk, &path);
	if (ret)
		goto out;
	ret = rlfs_path_lookup(&path, map->m_lblk, &rec, &goal);
	rlfs_bt_path_release(&path);
	if (ret < 0)
		goto out;
	if (ret || !create)
		ret = rlfs_map_result(map, &rec, ret);
	else
		ret = rlfs_map_alloc(handle, inode, map, &rec, goal, flags);
out:
	rlfs_map_unlock(inode, create ? RLFS_MAP_EXCL : RLFS_MAP_SHARED, nofs);
	return ret;
}

/*
 * Shrink the tree by one level when the root has a single child whose
 * entries fit in it (rlfs_bt_shrink()).  Skipped when the handle may be
 * out of revoke credits.
 */
static int rlfs_shrink_tree(handle_t *handle, struct inode *inode, int freed)
{
	struct rlfs_btree_header *root = &RLFS_I(inode)->i_eh;
	struct rlfs_bt_path path;

	if (freed + 1 > RLFS_REVOKE_CREDITS)
		return 0;
	/* Read the child only, not a whole path. */
	memset(&path, 0, sizeof(path));
	path.depth = rlfs_bt_depth(root);
	path.lv[0].node = root;
	path.lv[0].hi = RLFS_LBLK_LIMIT;
	return rlfs_bt_shrink(handle, &rlfs_ext_ops, inode, &path);
}

/*
 * One removal step under i_map_sem: see rlfs_remove_range().  @len is
 * clipped so that lblk + len <= RLFS_LBLK_LIMIT.  With @release, the
 * unmapped blocks are given back; without, the caller keeps them (a
 * move).
 *
 * Order, so that running out of space changes nothing: first the room
 * for a cut in the middle of an extent is made (a tree split may
 * allocate); then, for a regular file, the reference is dropped
 * (rlfs_refcount_dec() may grow the refcount tree, and fails before it
 * changes anything); only then does the map change, which allocates
 * nothing.  The decrement says how much it covered, and the unmap
 * follows it exactly.
 */
static int rlfs_remove_step(handle_t *handle, struct inode *inode, u32 lblk,
			    u32 len, u32 *removed, bool release)
{
	u32 limit = S_ISREG(inode->i_mode) ? RLFS_MAX_STEP_BLOCKS :
					     RLFS_MAX_META_FREE;
	bool drop = release && S_ISREG(inode->i_mode);
	u64 end = (u64)lblk + len;
	struct rlfs_bt_level *leaf;
	struct rlfs_ext_irec ex, piece;
	struct rlfs_bt_path path;
	u32 es, elen, cs, ce;
	u64 epblk;
	int round, target, n, err, freed = 0;

	for (round = 0; ; round++) {
		err = rlfs_find_path(inode, lblk, &path);
		if (err)
			return err;
		leaf = &path.lv[path.depth];
		n = rlfs_bt_entries(leaf->node);
		target = leaf->pos;
		if (target >= 0)
			rlfs_get_ext(leaf->node, target, &ex);
		if (target < 0 || (u64)ex.lblk + ex.len <= lblk) {
			/* lblk is in a hole: go on with the next extent of this leaf. */
			target++;
			if (target >= n || rlfs_key(leaf->node, target) >= end) {
				*removed = min_t(u64, rlfs_next_key(&path), end) - lblk;
				if (target < n)
					*removed = len;
				goto out;
			}
		}
		rlfs_get_ext(leaf->node, target, &ex);
		es = ex.lblk;
		elen = ex.len;
		epblk = ex.pblk;
		cs = max(lblk, es);
		ce = min_t(u64, end, (u64)es + elen);
		ce = min(ce, cs + limit);
		/*
		 * A piece that does not start the extent may cut it in two
		 * (the decrement below may cover less than asked): room first.
		 */
		if (cs == es || !rlfs_bt_full(leaf->node))
			break;
		if (WARN_ON_ONCE(round >= RLFS_BT_MAX_ROUNDS))
			err = -EIO;
		else
			err = rlfs_bt_make_room(handle, &rlfs_ext_ops, inode,
						&path, 1);
		rlfs_bt_path_release(&path);
		if (err)
			return err;
	}

	if (drop) {
		u32 done;

		/* One decrement step; the unmap covers what it covered. */
		err = rlfs_refcount_dec(handle, inode->i_sb, inode,
					epblk + (cs - es), ce - cs, &done);
		if (err)
			goto out;
		ce = cs + done;
		err = rlfs_mark_inode_dirty(handle, inode);	/* i_blocks */
		if (err)
			goto out;
	}

	if (cs == es && ce == es + elen && n == 1 && path.depth > 0) {
		/* The last extent of a leaf: the leaf goes. */
		err = rlfs_bt_remove_node(handle, &rlfs_ext_ops, inode, &path,
					  path.depth, &freed);
	} else {
		err = rlfs_node_access(handle, inode, leaf);
		if (err)
			goto out_unmap;
		/* What is left after the cut: a head, a tail, or both. */
		piece.lblk = ce;
		piece.len = es + elen - ce;
		piece.pblk = epblk + (ce - es);
		ex.len = cs - es;
		if (cs == es && ce == es + elen) {
			rlfs_bt_entry_delete(leaf->node, target);
		} else if (cs == es) {
			rlfs_set_ext(leaf->node, target, &piece);
		} else if (ce == es + elen) {
			rlfs_set_ext(leaf->node, target, &ex);
		} else {
			rlfs_set_ext(leaf->node, target, &ex);
			rlfs_bt_entry_open(leaf->node, target + 1);
			rlfs_set_ext(leaf->node, target + 1, &piece);
		}
		err = rlfs_node_dirty(handle, inode, leaf);
		if (!err && target == 0 && cs == es && rlfs_bt_entries(leaf->node))
			err = rlfs_fix_keys(handle, inode, &path, path.depth);
	}
	if (err)
		goto out_unmap;
	if (release && !drop) {
		err = rlfs_release_meta(handle, inode, epblk + (cs - es),
					ce - cs);
		if (!err)
			err = rlfs_mark_inode_dirty(handle, inode);
		freed += ce - cs;
	}
	*removed = ce - lblk;
	rlfs_bt_path_release(&path);
	if (err)
		return err;
	return rlfs_shrink_tree(handle, inode, freed);
out_unmap:
	/* Only an I/O error or an aborted journal gets here. */
	if (drop) {
		rlfs_err(inode->i_sb, "inode %lu: blocks %u+%u released but still mapped: error %d",
			 inode->i_ino, cs, ce - cs, err);
		rlfs_abort(inode->i_sb, err);
	}
out:
	rlfs_bt_path_release(&path);
	return err;
}

/**
 * rlfs_remove_range - unmap part of [lblk, lblk + len) in one step
 * @handle: running handle with RLFS_TREE_CREDITS + RLFS_BITMAP_CREDITS +
 *	RLFS_INODE_CREDITS + RLFS_REFCOUNT_CREDITS (and RLFS_REVOKE_CREDITS
 *	revoke records)
 * @inode: the inode; i_map_sem must NOT be held
 * @lblk: first logical block
 * @len: blocks
 * @removed: out: blocks from @lblk dealt with (holes included)
 *
 * Unmaps at most one extent, or part of one (RLFS_MAX_STEP_BLOCKS for
 * files, RLFS_MAX_META_FREE for directories and symlinks), splitting it
 * when the range is in its middle, frees emptied tree nodes and releases
 * the unmapped blocks.  Callers loop until @len is covered.
 */
int rlfs_remove_range(handle_t *handle, struct inode *inode, u32 lblk,
		      u32 len, u32 *removed)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);
	unsigned int nofs;
	int err;

	*removed = 0;
	if (lblk >= RLFS_LBLK_LIMIT) {
		*removed = len;
		return 0;
	}
	len = min(len, RLFS_LBLK_LIMIT - lblk);
	if (!len)
		return 0;
	nofs = rlfs_map_lock(inode, RLFS_MAP_EXCL);
	/* Freeing may grow the tree into the reserved pool. */
	ei->i_alloc_flags = RLFS_ALLOC_RESERVE;
	err = rlfs_remove_step(handle, inode, lblk, len, removed, true);
	ei->i_alloc_flags = 0;
	rlfs_map_unlock(inode, RLFS_MAP_EXCL, nofs);
	trace_reflinkfs_extent_remove(inode, lblk, 0, *removed, err);
	return err;
}

/**
 * rlfs_extent_reserve - make room to map or remap a range in one extent
 * @handle: running handle with RLFS_TREE_CREDITS for this call
 * @inode: the inode; its i_map_sem is held for writing
 * @lblk: first logical block of the range
 * @rec: out: what rlfs_extent_lookup() finds at @lblk
 *
 * Splits (allocating tree blocks) until the leaf holding @lblk has room
 * for two more entries, the most rlfs_extent_replace() or an insert into
 * a hole adds there.  The map's contents do not change, so the caller
 * can fail afterwards (ENOSPC from a refcount change) and leave nothing
 * half done.  Returns 1 (mapped) or 0 (a hole) as rlfs_extent_lookup(),
 * or -errno.
 */
int rlfs_extent_reserve(handle_t *handle, struct inode *inode, u32 lblk,
			struct rlfs_ext_irec *rec)
{
	struct rlfs_bt_path path;
	int round, err;

	lockdep_assert_held_write(&RLFS_I(inode)->i_map_sem);
	for (round = 0; ; round++) {
		err = rlfs_find_path(inode, lblk, &path);
		if (err)
			return err;
		if (rlfs_bt_free_slots(path.lv[path.depth].node) >= 2) {
			err = rlfs_path_lookup(&path, lblk, rec, NULL);
			rlfs_bt_path_release(&path);
			return err;
		}
		if (WARN_ON_ONCE(round >= RLFS_BT_MAX_ROUNDS))
			err = -EIO;
		else
			err = rlfs_bt_make_room(handle, &rlfs_ext_ops, inode,
						&path, 2);
		rlfs_bt_path_release(&path);
		if (err)
			return err;
	}
}

/**
 * rlfs_extent_replace - point a mapped range at other blocks
 * @handle: running handle with RLFS_TREE_CREDITS for this call
 * @inode: the inode; its i_map_sem is held for writing, and
 *	rlfs_extent_reserve() ran for @lblk under it
 * @lblk: first logical block
 * @len: blocks, all mapped by one extent
 * @new_pblk: the new physical blocks (the caller holds a reference)
 * @old_pblk: out: the physical blocks the range mapped before
 *
 * The extent is rewritten in place, trimmed or cut around the range, and
 * the range mapped to @new_pblk; neighbours are not merged.  Nothing is
 * allocated or released: the caller already dropped (or still holds) the
 * reference to the old blocks.  Used by copy on write and by remapping
 * over mapped data.  Returns 0, or -errno with the map unchanged.
 */
int rlfs_extent_replace(handle_t *handle, struct inode *inode, u32 lblk,
			u32 len, u64 new_pblk, u64 *old_pblk)
{
	struct rlfs_ext_irec ex, head, tail;
	struct rlfs_bt_level *leaf;
	struct rlfs_bt_path path;
	u32 end = lblk + len;
	u64 ee;
	int pos, err, need;

	lockdep_assert_held_write(&RLFS_I(inode)->i_map_sem);
	err = rlfs_find_path(inode, lblk, &path);
	if (err)
		return err;
	leaf = &path.lv[path.depth];
	pos = leaf->pos;
	err = -EINVAL;
	if (pos < 0)
		goto out;	/* not one extent: a caller bug */
	rlfs_get_ext(leaf->node, pos, &ex);
	ee = (u64)ex.lblk + ex.len;
	if (ee < end || ex.lblk > lblk)
		goto out;
	need = (ex.lblk < lblk) + (end < ee);
	if (WARN_ON_ONCE(rlfs_bt_free_slots(leaf->node) < need))
		goto out;	/* no rlfs_extent_reserve() */
	*old_pblk = ex.pblk + (lblk - ex.lblk);
	err = rlfs_node_access(handle, inode, leaf);
	if (err)
		goto out;
	/* The head stays; the range follows it; the tail keeps the old blocks. */
	head = (struct rlfs_ext_irec){ ex.lblk, lblk - ex.lblk, ex.pblk };
	tail = (struct rlfs_ext_irec){ end, ee - end,
				       ex.pblk + (end - ex.lblk) };
	ex = (struct rlfs_ext_irec){ lblk, len, new_pblk };
	if (head.len) {
		rlfs_set_ext(leaf->node, pos, &head);
		rlfs_bt_entry_open(leaf->node, ++pos);
	}
	rlfs_set_ext(leaf->node, pos, &ex);
	if (tail.len) {
		rlfs_bt_entry_open(leaf->node, ++pos);
		rlfs_set_ext(leaf->node, pos, &tail);
	}
	err = rlfs_node_dirty(handle, inode, leaf);
out:
	rlfs_bt_path_release(&path);
	trace_reflinkfs_extent_replace(inode, lblk, new_pblk, len, err);
	return err;
}

/*
 * Last extent starting at or before @lblk (i_map_sem held): 1 and the
 * extent in @rec, 0 when there is none.  Index keys are exact, so the
 * leaf position is -1 only in the first leaf, when no extent starts at
 * or before @lblk.
 */
static int rlfs_extent_prev(struct inode *inode, u32 lblk,
			    struct rlfs_ext_irec *rec)
{
	struct rlfs_bt_level *leaf;
	struct rlfs_bt_path path;
	int ret;

	lockdep_assert_held(&RLFS_I(inode)->i_map_sem);
	ret = rlfs_find_path(inode, lblk, &path);
	if (ret)
		return ret;
	leaf = &path.lv[path.depth];
	if (leaf->pos >= 0) {
		rlfs_get_ext(leaf->node, leaf->pos, rec);
		ret = 1;
	}
	rlfs_bt_path_release(&path);
	return ret;
}

/**
 * rlfs_extent_split - cut the extent that holds @lblk in two at @lblk
 * @handle: running handle with RLFS_TREE_CREDITS
 * @inode: regular file; i_map_sem must NOT be held
 * @lblk: logical block
 *
 * Nothing to do when @lblk is in a hole or starts an extent.  The only
 * allocation is the room for the second entry, before the map changes.
 * Returns 0 or -errno (-ENOSPC: the map is unchanged).
 */
int rlfs_extent_split(handle_t *handle, struct inode *inode, u32 lblk)
{
	struct rlfs_ext_irec rec;
	unsigned int nofs;
	u64 old;
	int ret;

	nofs = rlfs_map_lock(inode, RLFS_MAP_EXCL);
	ret = rlfs_extent_lookup(inode, lblk, &rec);
	if (ret > 0 && rec.lblk < lblk) {
		ret = rlfs_extent_reserve(handle, inode, lblk, &rec);
		if (ret > 0)
			ret = rlfs_extent_replace(handle, inode, lblk,
						  rec.lblk + rec.len - lblk,
						  rec.pblk + (lblk - rec.lblk),
						  &old);
	}
	rlfs_map_unlock(inode, RLFS_MAP_EXCL, nofs);
	return ret < 0 ? ret : 0;
}

/*
 * Move the extent that starts at @lblk to start at @to, in place in its
 * leaf (i_map_sem held for writing).  The caller guarantees the order:
 * [@to, @to + len) lies between the extent's neighbours.  The leaf's
 * key follows (rlfs_fix_keys()); nothing is allocated.
 */
static int rlfs_extent_set_lblk(handle_t *handle, struct inode *inode,
				u32 lblk, u32 to)
{
	struct rlfs_bt_level *leaf;
	struct rlfs_bt_path path;
	int err;

	lockdep_assert_held_write(&RLFS_I(inode)->i_map_sem);

	err = rlfs_find_path(inode, lblk, &path);
	if (err)
		return err;
	leaf = &path.lv[path.depth];
	if (leaf->pos < 0 || rlfs_key(leaf->node, leaf->pos) != lblk) {
		rlfs_corrupt(inode->i_sb, "inode %lu: no extent starts at %u",
			     inode->i_ino, lblk);
		err = -EFSCORRUPTED;
		goto out;
	}
	err = rlfs_node_access(handle, inode, leaf);
	if (err)
		goto out;
	rlfs_bt_set_key(leaf->node, leaf->pos, sizeof(__le32), to);
	err = rlfs_node_dirty(handle, inode, leaf);
	if (!err && leaf->pos == 0)
		err = rlfs_fix_keys(handle, inode, &path, path.depth);
out:
	rlfs_bt_path_release(&path);
	return err;
}

/**
 * rlfs_extent_shift_step - move one extent (collapse / insert range)
 * @handle: running handle with 2 * RLFS_TREE_CREDITS + RLFS_INODE_CREDITS
 * @inode: regular file; i_map_sem must NOT be held
 * @cur: in/out: scan position, see below
 * @floor: insert: the insert offset (blocks below it never move); the
 *	caller cut the extent holding it there (rlfs_extent_split())
 * @shift: blocks to move by
 * @left: true to collapse (move left), false to insert (move right)
 *
 * Collapse: the first extent starting at or after *cur moves left by
 * @shift, the caller having made [*cur - shift, *cur) a hole; *cur
 * becomes the end of its old place.  Insert: start with *cur =
 * RLFS_LBLK_LIMIT; the last extent starting before *cur, and at or after
 * @floor, moves right; *cur becomes its old start.  Extents move whole
 * and in place (their order does not change), so a step allocates
 * nothing and cannot fail for lack of space; the blocks and their
 * reference counts do not move.  Returns 1 when an extent moved, 0 when
 * nothing is left to move, or -errno (-EFBIG: past the largest file).
 */
int rlfs_extent_shift_step(handle_t *handle, struct inode *inode, u32 *cur,
			   u32 floor, u32 shift, bool left)
{
	struct rlfs_ext_irec rec;
	unsigned int nofs;
	u32 found;
	int ret;

	if (left) {
		ret = rlfs_next_data(inode, *cur, &found);
		if (ret == -ENXIO)
			return 0;
		if (ret)
			return ret;
	}
	nofs = rlfs_map_lock(inode, RLFS_MAP_EXCL);
	if (left) {
		ret = rlfs_extent_lookup(inode, found, &rec);
		if (ret == 0 || (ret > 0 && (rec.lblk < *cur ||
					     rec.lblk < shift)))
			ret = -EFSCORRUPTED;
		if (ret < 0)
			goto out;
		ret = rlfs_extent_set_lblk(handle, inode, rec.lblk,
					   rec.lblk - shift);
		if (ret)
			goto out;
		*cur = rec.lblk + rec.len;
	} else {
		if (*cur <= floor) {
			ret = 0;
			goto out;
		}
		ret = rlfs_extent_prev(inode, *cur - 1, &rec);
		if (ret <= 0)
			goto out;
		if (rec.lblk + rec.len <= floor) {
			ret = 0;
			goto out;
		}
		if (rec.lblk < floor) {
			rlfs_corrupt(inode->i_sb, "inode %lu: extent at %u crosses the insert offset %u",
				     inode->i_ino, rec.lblk, floor);
			ret = -EFSCORRUPTED;
			goto out;
		}
		if ((u64)rec.lblk + rec.len + shift > RLFS_LBLK_LIMIT) {
			ret = -EFBIG;
			goto out;
		}
		ret = rlfs_extent_set_lblk(handle, inode, rec.lblk,
					   rec.lblk + shift);
		if (ret)
			goto out;
		*cur = rec.lblk;
	}
	ret = 1;
out:
	rlfs_map_unlock(inode, RLFS_MAP_EXCL, nofs);
	return ret;
}

/*
 * Unmap [lblk, lblk + len), one transaction per step.  Holes are skipped
 * without a transaction, so unmapping a range that maps nothing (the
 * destination of a clone, the tail of a sparse file) costs no commit.
 */
static int rlfs_remove_loop(struct inode *inode, u32 lblk, u64 len)
{
	const int credits = RLFS_TREE_CREDITS + RLFS_BITMAP_CREDITS +
			    RLFS_INODE_CREDITS + RLFS_REFCOUNT_CREDITS;
	handle_t *handle;
	u32 removed, found;
	int err, err2;

	while (len) {
		err = rlfs_next_data(inode, lblk, &found);
		if (err == -ENXIO)
			return 0;
		if (err)
			return err;
		if (found - lblk >= len)
			return 0;
		len -= found - lblk;
		lblk = found;
		handle = rlfs_journal_start(inode->i_sb, credits);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		err = rlfs_remove_range(handle, inode, lblk,
					min_t(u64, len, U32_MAX), &removed);
		err2 = rlfs_journal_stop(handle);
		if (err || err2)
			return err ? err : err2;
		if (WARN_ON_ONCE(!removed))
			return -EIO;
		lblk += removed;
		len -= removed;
		cond_resched();
	}
	return 0;
}

/**
 * rlfs_truncate_blocks - unmap every block from @from_lblk on
 * @inode: the inode (i_rwsem held or inode being evicted)
 * @from_lblk: first logical block to unmap
 *
 * Runs its own transactions; must not be called with a handle or
 * i_map_sem held.
 */
int rlfs_truncate_blocks(struct inode *inode, u32 from_lblk)
{
	if (RLFS_I(inode)->i_flags & RLFS_FAST_SYMLINK_FL)
		return 0;
	if (from_lblk >= RLFS_LBLK_LIMIT)
		return 0;
	return rlfs_remove_loop(inode, from_lblk,
				RLFS_LBLK_LIMIT - from_lblk);
}

/**
 * rlfs_punch_blocks - unmap [lblk, lblk + len)
 * @inode: the inode (i_rwsem and the invalidate lock held)
 * @lblk: first logical block
 * @len: blocks
 *
 * Runs its own transactions like rlfs_truncate_blocks().
 */
int rlfs_punch_blocks(struct inode *inode, u32 lblk, u32 len)
{
	lockdep_assert_held(&inode->i_rwsem);
	lockdep_assert_held(&inode->i_mapping->invalidate_lock);
	if (lblk >= RLFS_LBLK_LIMIT)
		return 0;
	return rlfs_remove_loop(inode, lblk,
				min_t(u64, len, RLFS_LBLK_LIMIT - lblk));
}

/**
 * rlfs_next_data - find the first mapped block at or after @lblk
 * @inode: the inode
 * @lblk: where to start
 * @found: out: the block
 *
 * Returns 0, -ENXIO when nothing is mapped from @lblk on, or -errno.
 */
int rlfs_next_data(struct inode *inode, u32 lblk, u32 *found)
{
	struct rlfs_bt_level *leaf;
	struct rlfs_ext_irec ex;
	struct rlfs_bt_path path;
	unsigned int nofs;
	int pos, ret;

	if (lblk >= RLFS_LBLK_LIMIT)
		return -ENXIO;
	nofs = rlfs_map_lock(inode, RLFS_MAP_SHARED);
	ret = rlfs_find_path(inode, lblk, &path);
	if (ret)
		goto out_unlock;
	leaf = &path.lv[path.depth];
	pos = leaf->pos;
	if (pos >= 0)
		rlfs_get_ext(leaf->node, pos, &ex);
	if (pos >= 0 && (u64)ex.lblk + ex.len > lblk) {
		*found = lblk;
		goto out;
	}
	if (pos + 1 < rlfs_bt_entries(leaf->node)) {
		*found = rlfs_key(leaf->node, pos + 1);
		goto out;
	}
	ret = rlfs_next_leaf(inode, &path);
	if (ret > 0) {
		*found = rlfs_key(path.lv[path.depth].node, 0);
		ret = 0;
	} else if (ret == 0) {
		ret = -ENXIO;
	}
out:
	rlfs_bt_path_release(&path);
out_unlock:
	rlfs_map_unlock(inode, RLFS_MAP_SHARED, nofs);
	return ret;
}

/**
 * rlfs_init_extent_root - make i_data an empty tree (new inodes)
 * @inode: the inode
 */
void rlfs_init_extent_root(struct inode *inode)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);

	memset(ei->i_data, 0, sizeof(ei->i_data));
	ei->i_eh.bt_max = cpu_to_le16(RLFS_INODE_ROOT_ENTRIES);
}

