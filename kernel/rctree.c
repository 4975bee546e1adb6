// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs refcount tree storage: a B+tree of refcount records keyed by
 * physical block.  The reference-count logic built on it is in refcount.c.
 *
 * Theory of operation
 *
 * The root is the block s_refcount_root of the superblock (0: the tree is
 * empty), with s_refcount_depth levels below it.  Every node is a
 * refcount block (struct rlfs_refcount_block, owner 0): a node of depth 0
 * (a leaf) holds records {start, len, refcount}, a node of depth d > 0
 * holds indexes {key, child} to nodes of depth d - 1.
 *
 * Invariants, checked on every node read (rlfs_rc_check_node), on top of
 * the magic, own block number, owner and crc that rlfs_read_meta checks:
 *  - bt_max is RLFS_REFCOUNT_BLOCK_ENTRIES, 1 <= bt_entries <= bt_max and
 *    bt_depth is the depth the parent (or the superblock) implies;
 *  - records have len > 0 and refcount >= 2, are sorted by start, never
 *    overlap and lie inside the node's key range; index keys strictly
 *    increase and children are in the data area;
 *  - a child reached through index i holds only blocks in [key(i),
 *    key(i + 1)) (the parent's own upper bound for the last index), and
 *    its first key is exactly key(i): rlfs_rc_fix_keys() keeps keys exact
 *    whenever the first entry of a node changes;
 *  - no node is empty: removing the last record frees the root.
 *
 * The node mechanics (entry open/delete, binary search, path walk and
 * release, next key, key fixing, node split) are shared with the extent
 * tree in btnode.c (see btnode.h); this file keeps the refcount tree's
 * policy and reaches the shared code through rlfs_rc_ops (64-bit keys,
 * node reads with rlfs_rc_check_node, journaling, new refcount blocks).
 *
 * Walking: rlfs_rc_find_path() reads the root and fills a struct
 * rlfs_bt_path (rlfs_bt_walk) with one level per node, root first: the
 * buffer and the position followed (index levels) or found (leaf: the
 * last record starting at or before the block, -1 if none).
 *
 * The tree offers record operations to refcount.c, each a fresh walk:
 * find (the record containing or following a block), insert, update (the
 * caller keeps the records sorted and disjoint), delete, and reserve
 * (make room in a leaf before a multi-record change, so that nothing can
 * fail for lack of space half-way through it).  Room is made as in the
 * extent tree: split the lowest node that must split and whose parent has
 * room (rlfs_bt_split: half of the entries move to a new right sibling,
 * or only the last one when the walk follows it), or, when every node up
 * to the root is full, grow the tree: a new root with a single index to
 * the old one.
 * Each change is one round; the walk starts over after it.
 *
 * Deleting the last record of a node frees the node, and its ancestors
 * that would become empty, and drops the index from the first ancestor
 * that keeps entries; when the tree held nothing else, the root goes and
 * s_refcount_root becomes 0.  After a delete a root index node with a
 * single child is replaced by that child (the tree shrinks one level).
 *
 * Locking and journaling: the caller holds s_refcount_sem (shared for
 * find, exclusive for changes) and, for changes, a jbd2 handle.  Every
 * node change is get_write_access, change, rlfs_journal_dirty_meta;
 * superblock changes are made under the superblock buffer lock and
 * checksummed.  Tree blocks come from rlfs_alloc_blocks() and go back
 * through rlfs_free_meta_block() (revoked: they are metadata), with no
 * owning inode.  Creating the first record also sets
 * RLFS_FEATURE_INCOMPAT_REFCOUNT.
 */

#include "btnode.h"

static inline struct rlfs_btree_header *rlfs_rc_hdr(struct buffer_head *bh)
{
	return rlfs_bt_block_node(bh->b_data);
}

static inline struct rlfs_refcount_rec *
rlfs_rc_rec(struct rlfs_btree_header *rh, int i)
{
	return (struct rlfs_refcount_rec *)(rh + 1) + i;
}

/* Key of entry i, record or index alike. */
static inline u64 rlfs_rc_key(struct rlfs_btree_header *rh, int i)
{
	return rlfs_bt_key(rh, i, sizeof(__le64));
}

static inline u64 rlfs_rc_root(struct rlfs_sb_info *sbi)
{
	return le64_to_cpu(sbi->s_rsb->s_refcount_root);
}

static inline int rlfs_rc_depth(struct rlfs_sb_info *sbi)
{
	return le32_to_cpu(sbi->s_rsb->s_refcount_depth);
}

static void rlfs_rc_get(struct rlfs_btree_header *rh, int i,
			struct rlfs_rc_irec *irec)
{
	rlfs_rc_to_irec(rlfs_rc_rec(rh, i), irec);
}

static void rlfs_rc_set(struct rlfs_btree_header *rh, int i,
			const struct rlfs_rc_irec *irec)
{
	rlfs_irec_to_rc(irec, rlfs_rc_rec(rh, i));
}

/* First block past record i. */
static u64 rlfs_rc_end(struct rlfs_btree_header *rh, int i)
{
	struct rlfs_rc_irec r;

	rlfs_rc_get(rh, i, &r);
	return r.start + r.len;
}

/*
 * Validate one node read from block @blocknr (rlfs_verify_refcount_node()).
 * Entries must lie in [lo, hi) and, but in the root, start exactly at lo.
 * Returns 0 or -EFSCORRUPTED (reported).
 */
static int rlfs_rc_check_node(struct super_block *sb,
			      struct rlfs_btree_header *rh, u64 blocknr,
			      int depth, u64 lo, u64 hi, bool root)
{
	const char *why;
	int i;

	why = rlfs_verify_refcount_node(rh, root, depth, lo, hi,
					&RLFS_SB(sb)->s_geom, &i);
	if (!why)
		return 0;
	if (i >= 0)
		rlfs_corrupt_block(sb, blocknr,
				   "refcount block %llu: %s at entry %d (key %llu)",
				   blocknr, why, i, rlfs_rc_key(rh, i));
	else
		rlfs_corrupt_block(sb, blocknr,
				   "refcount block %llu: %s (entries %d max %d depth %d, expected depth %d)",
				   blocknr, why, rlfs_bt_entries(rh),
				   rlfs_bt_max(rh), rlfs_bt_depth(rh), depth);
	return -EFSCORRUPTED;
}

/* Read and validate one node; see rlfs_rc_check_node(). */
static struct buffer_head *rlfs_rc_read(struct super_block *sb, u64 blk,
					int depth, u64 lo, u64 hi, bool root)
{
	struct buffer_head *bh;
	int err;

	bh = rlfs_read_meta(sb, blk, RLFS_REFCOUNT_MAGIC, 0);
	if (IS_ERR(bh))
		return bh;
	err = rlfs_rc_check_node(sb, rlfs_rc_hdr(bh), blk, depth, lo, hi,
				 root);
	if (err) {
		brelse(bh);
		return ERR_PTR(err);
	}
	return bh;
}

/* Read and validate the root (the tree must not be empty). */
static struct buffer_head *rlfs_rc_read_root(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);

	/* Root and depth: checked with the superblock at mount. */
	return rlfs_rc_read(sb, rlfs_rc_root(sbi), rlfs_rc_depth(sbi),
			    sbi->s_geom.data_start, sbi->s_geom.blocks, true);
}

/* Read a non-root node: the read operation of rlfs_rc_ops. */
static struct buffer_head *rlfs_rc_read_child(void *owner, u64 blk, int depth,
					      u64 lo, u64 hi)
{
	return rlfs_rc_read(owner, blk, depth, lo, hi, false);
}

static const struct rlfs_bt_ops rlfs_rc_ops;

/*
 * Walk from the root to the leaf whose key range holds @blk.  At index
 * levels pos is the last index whose key is <= blk (0 if blk precedes
 * them all); at the leaf it is the last record starting at or before blk,
 * or -1.  The tree must not be empty.  On success the caller must
 * rlfs_bt_path_release().
 */
static int rlfs_rc_find_path(struct super_block *sb, u64 blk,
			     struct rlfs_bt_path *path)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct buffer_head *bh;

	memset(path, 0, sizeof(*path));
	bh = rlfs_rc_read_root(sb);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	path->depth = rlfs_rc_depth(sbi);
	path->lv[0].bh = bh;
	path->lv[0].node = rlfs_rc_hdr(bh);
	path->lv[0].hi = sbi->s_geom.blocks;
	return rlfs_bt_walk(&rlfs_rc_ops, sb, path, blk);
}

static u64 rlfs_rc_next_key(struct rlfs_bt_path *path)
{
	return rlfs_bt_next_key(path, sizeof(__le64), U64_MAX);
}

static int rlfs_rc_access(handle_t *handle, void *sb,
			  struct rlfs_bt_level *lv)
{
	return rlfs_journal_get_write_access(handle, sb, lv->bh);
}

static int rlfs_rc_dirty(handle_t *handle, void *sb, struct rlfs_bt_level *lv)
{
	return rlfs_journal_dirty_meta(handle, lv->bh);
}

/* Point the superblock at a new root (0: empty tree). */
static int rlfs_rc_set_root(handle_t *handle, struct super_block *sb,
			    u64 root, int depth)
{
	struct rlfs_super_edit edit = {
		.what = RLFS_SE_REFCOUNT,
		.refcount_root = root,
		.refcount_depth = depth,
	};

	return rlfs_super_update(handle, sb, &edit);
}

/* Allocate and initialise an empty node of the given depth near @goal. */
static struct buffer_head *rlfs_rc_new_node(handle_t *handle, void *sb,
					    u64 goal, int depth)
{
	struct rlfs_btree_header *rh;
	struct buffer_head *bh;
	u32 count = 1;
	u64 blk;
	int err;

	err = rlfs_alloc_blocks(handle, sb, NULL, goal, &count, &blk,
				RLFS_SB(sb)->s_rc_alloc_flags);
	if (err)
		return ERR_PTR(err);
	bh = rlfs_new_meta(handle, sb, blk, RLFS_REFCOUNT_MAGIC, 0);
	if (IS_ERR(bh)) {
		rlfs_free_meta_block(handle, sb, NULL, blk);
		return bh;
	}
	rh = rlfs_rc_hdr(bh);
	rh->bt_max = cpu_to_le16(RLFS_REFCOUNT_BLOCK_ENTRIES);
	rh->bt_depth = cpu_to_le16(depth);
	return bh;
}

/* Free a refcount block: revoked; refcount blocks have no owner. */
static int rlfs_rc_free_node(handle_t *handle, void *sb, u64 blk)
{
	return rlfs_free_meta_block(handle, sb, NULL, blk);
}

static int rlfs_rc_set_root_op(handle_t *handle, void *sb, u64 blk,
			       int depth)
{
	return rlfs_rc_set_root(handle, sb, blk, depth);
}

static struct super_block *rlfs_rc_sb(void *sb)
{
	return sb;
}

static const struct rlfs_bt_ops rlfs_rc_ops = {
	.keylen		= sizeof(__le64),
	.read		= rlfs_rc_read_child,
	.access		= rlfs_rc_access,
	.dirty		= rlfs_rc_dirty,
	.new_node	= rlfs_rc_new_node,
	.free_node	= rlfs_rc_free_node,
	.set_root	= rlfs_rc_set_root_op,
	.sb		= rlfs_rc_sb,
	.name		= "refcount",
};

/* The first key of the node at @level may have changed: fix the indexes. */
static int rlfs_rc_fix_keys(handle_t *handle, struct super_block *sb,
			    struct rlfs_bt_path *path, int level)
{
	return rlfs_bt_fix_keys(handle, &rlfs_rc_ops, sb, path, level);
}

/*
 * Walk to the leaf for @blk and make room there for @need entries.  On
 * success the path is held (rlfs_bt_path_release()).
 */
static int rlfs_rc_walk_room(handle_t *handle, struct super_block *sb,
			     u64 blk, int need, struct rlfs_bt_path *path)
{
	int round, err;

	for (round = 0; ; round++) {
		err = rlfs_rc_find_path(sb, blk, path);
		if (err)
			return err;
		if (rlfs_bt_free_slots(path->lv[path->depth].node) >= need)
			return 0;
		if (WARN_ON_ONCE(round >= RLFS_BT_MAX_ROUNDS))
			err = -EIO;
		else
			err = rlfs_bt_make_room(handle, &rlfs_rc_ops, sb, path,
						need);
		rlfs_bt_path_release(path);
		if (err)
			return err;
	}
}

/* Records handed in by refcount.c must be sane: a bug otherwise. */
static bool rlfs_rc_bad_irec(struct super_block *sb,
			     const struct rlfs_rc_irec *rec)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);

	return WARN_ON_ONCE(!rec->len || rec->refcount < 2 ||
			    rec->start < sbi->s_geom.data_start ||
			    rec->start >= sbi->s_geom.blocks ||
			    rec->len > sbi->s_geom.blocks - rec->start);
}

/* Find the record that starts exactly at @start: its leaf position. */
static int rlfs_rc_find_exact(struct super_block *sb, u64 start,
			      struct rlfs_bt_path *path)
{
	struct rlfs_bt_level *leaf;
	int err;

	err = rlfs_rc_find_path(sb, start, path);
	if (err)
		return err;
	leaf = &path->lv[path->depth];
	if (WARN_ON_ONCE(leaf->pos < 0 ||
			 rlfs_rc_key(leaf->node, leaf->pos) != start)) {
		rlfs_bt_path_release(path);
		return -EIO;
	}
	return 0;
}

/**
 * rlfs_rctree_find - the record containing or following a block
 * @sb: the filesystem; s_refcount_sem held
 * @pblk: physical block
 * @rec: out: the first record that ends after @pblk
 *
 * Returns 1 and the record, 0 when no record ends after @pblk, or -errno.
 */
int rlfs_rctree_find(struct super_block *sb, u64 pblk,
		     struct rlfs_rc_irec *rec)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_bt_level *leaf;
	struct rlfs_bt_path path;
	int pos, err;
	u64 next;

	lockdep_assert_held(&sbi->s_refcount_sem);
	if (!rlfs_rc_root(sbi))
		return 0;
	err = rlfs_rc_find_path(sb, pblk, &path);
	if (err)
		return err;
	leaf = &path.lv[path.depth];
	pos = leaf->pos;
	if (pos < 0 || rlfs_rc_end(leaf->node, pos) <= pblk)
		pos++;
	if (pos < rlfs_bt_entries(leaf->node)) {
		rlfs_rc_get(leaf->node, pos, rec);
		rlfs_bt_path_release(&path);
		return 1;
	}
	/* The first record of the next leaf starts at the next key. */
	next = rlfs_rc_next_key(&path);
	rlfs_bt_path_release(&path);
	if (next == U64_MAX)
		return 0;
	err = rlfs_rc_find_exact(sb, next, &path);
	if (err)
		return err;
	leaf = &path.lv[path.depth];
	rlfs_rc_get(leaf->node, leaf->pos, rec);
	rlfs_bt_path_release(&path);
	return 1;
}

/**
 * rlfs_rctree_reserve - make room for new records next to a block
 * @handle: running handle
 * @sb: the filesystem; s_refcount_sem held for writing
 * @pblk: a block inside an existing record
 * @slots: records that will be inserted right after that record (<= 2)
 *
 * After this, inserting up to @slots records that follow the record
 * holding @pblk (with no other record in between) needs no split, so a
 * multi-record change cannot fail half-way for lack of space.  Returns 0
 * or -errno (-ENOSPC), with the records unchanged.
 */
int rlfs_rctree_reserve(handle_t *handle, struct super_block *sb, u64 pblk,
			int slots)
{
	struct rlfs_bt_path path;
	int err;

	lockdep_assert_held_write(&RLFS_SB(sb)->s_refcount_sem);
	if (!rlfs_rc_root(RLFS_SB(sb)))
		return 0;
	err = rlfs_rc_walk_room(handle, sb, pblk, slots, &path);
	if (!err)
		rlfs_bt_path_release(&path);
	return err;
}

/* Insert into an empty tree: a root leaf holding @rec. */
static int rlfs_rc_new_root(handle_t *handle, struct super_block *sb,
			    const struct rlfs_rc_irec *rec)
{
	struct buffer_head *bh;
	int err;

	bh = rlfs_rc_new_node(handle, sb, 0, 0);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	rlfs_rc_set(rlfs_rc_hdr(bh), 0, rec);
	rlfs_rc_hdr(bh)->bt_entries = cpu_to_le16(1);
	err = rlfs_journal_dirty_meta(handle, bh);
	if (!err)
		err = rlfs_rc_set_root(handle, sb, bh->b_blocknr, 0);
	brelse(bh);
	return err;
}

/**
 * rlfs_rctree_insert - add a record
 * @handle: running handle
 * @sb: the filesystem; s_refcount_sem held for writing
 * @rec: the record; no existing record may overlap it
 *
 * Splits full nodes and grows the tree as needed.  Returns 0 or -errno
 * (-ENOSPC: no block for a new node, or the tree is at maximum depth).
 */
int rlfs_rctree_insert(handle_t *handle, struct super_block *sb,
		       const struct rlfs_rc_irec *rec)
{
	struct rlfs_bt_level *leaf;
	struct rlfs_bt_path path;
	int pos, err;

	lockdep_assert_held_write(&RLFS_SB(sb)->s_refcount_sem);
	if (rlfs_rc_bad_irec(sb, rec))
		return -EINVAL;
	if (!rlfs_rc_root(RLFS_SB(sb)))
		return rlfs_rc_new_root(handle, sb, rec);
	err = rlfs_rc_walk_room(handle, sb, rec->start, 1, &path);
	if (err)
		return err;
	leaf = &path.lv[path.depth];
	pos = leaf->pos + 1;
	if (WARN_ON_ONCE((pos > 0 &&
			  rlfs_rc_end(leaf->node, pos - 1) >
			  rec->start) ||
			 rec->start + rec->len > rlfs_rc_next_key(&path))) {
		err = -EEXIST;		/* overlaps an existing record */
		goto out;
	}
	err = rlfs_rc_access(handle, sb, leaf);
	if (err)
		goto out;
	rlfs_bt_entry_open(leaf->node, pos);
	rlfs_rc_set(leaf->node, pos, rec);
	err = rlfs_rc_dirty(handle, sb, leaf);
	if (!err && pos == 0)
		err = rlfs_rc_fix_keys(handle, sb, &path, path.depth);
out:
	rlfs_bt_path_release(&path);
	return err;
}

/**
 * rlfs_rctree_update - rewrite a record in place
 * @handle: running handle
 * @sb: the filesystem; s_refcount_sem held for writing
 * @start: start of the existing record
 * @rec: its new value, which must keep the records sorted and disjoint
 *
 * Returns 0 or -errno.
 */
int rlfs_rctree_update(handle_t *handle, struct super_block *sb, u64 start,
		       const struct rlfs_rc_irec *rec)
{
	struct rlfs_bt_level *leaf;
	struct rlfs_bt_path path;
	int pos, err;

	lockdep_assert_held_write(&RLFS_SB(sb)->s_refcount_sem);
	if (rlfs_rc_bad_irec(sb, rec))
		return -EINVAL;
	err = rlfs_rc_find_exact(sb, start, &path);
	if (err)
		return err;
	leaf = &path.lv[path.depth];
	pos = leaf->pos;
	if (WARN_ON_ONCE((pos > 0 &&
			  rlfs_rc_end(leaf->node, pos - 1) >
			  rec->start) ||
			 rec->start + rec->len > rlfs_rc_next_key(&path))) {
		err = -EEXIST;
		goto out;
	}
	err = rlfs_rc_access(handle, sb, leaf);
	if (err)
		goto out;
	rlfs_rc_set(leaf->node, pos, rec);
	err = rlfs_rc_dirty(handle, sb, leaf);
	if (!err && pos == 0 && rec->start != start)
		err = rlfs_rc_fix_keys(handle, sb, &path, path.depth);
out:
	rlfs_bt_path_release(&path);
	return err;
}

/* Replace a root index node that has a single child by that child. */
static int rlfs_rc_shrink(handle_t *handle, struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_bt_path path;
	struct buffer_head *bh;
	int err;

	if (!rlfs_rc_root(sbi) || !rlfs_rc_depth(sbi))
		return 0;
	bh = rlfs_rc_read_root(sb);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	memset(&path, 0, sizeof(path));
	path.depth = rlfs_rc_depth(sbi);
	path.lv[0].bh = bh;
	path.lv[0].node = rlfs_rc_hdr(bh);
	err = rlfs_bt_shrink(handle, &rlfs_rc_ops, sb, &path);
	brelse(bh);
	return err;
}

/**
 * rlfs_rctree_delete - remove a record
 * @handle: running handle
 * @sb: the filesystem; s_refcount_sem held for writing
 * @start: start of the record
 *
 * Frees the nodes this empties and shrinks the root by one level when it
 * is left with a single child.  Returns 0 or -errno.
 */
int rlfs_rctree_delete(handle_t *handle, struct super_block *sb, u64 start)
{
	struct rlfs_bt_level *leaf;
	struct rlfs_bt_path path;
	int err, freed = 0;

	lockdep_assert_held_write(&RLFS_SB(sb)->s_refcount_sem);
	err = rlfs_rc_find_exact(sb, start, &path);
	if (err)
		return err;
	leaf = &path.lv[path.depth];
	if (rlfs_bt_entries(leaf->node) == 1) {
		err = rlfs_bt_remove_node(handle, &rlfs_rc_ops, sb, &path,
					  path.depth, &freed);
	} else {
		err = rlfs_rc_access(handle, sb, leaf);
		if (!err) {
			rlfs_bt_entry_delete(leaf->node, leaf->pos);
			err = rlfs_rc_dirty(handle, sb, leaf);
		}
		if (!err && leaf->pos == 0)
			err = rlfs_rc_fix_keys(handle, sb, &path, path.depth);
	}
	rlfs_bt_path_release(&path);
	if (err)
		return err;
	return rlfs_rc_shrink(handle, sb);
}

/**
 * rlfs_rctree_check_root - validate the root at mount
 * @sb: the filesystem
 *
 * rlfs_verify_super() has checked the root's number, depth and feature;
 * a non-empty tree's root block must hold a valid node of that depth.
 * Returns 0 or -EFSCORRUPTED (reported).
 */
int rlfs_rctree_check_root(struct super_block *sb)
{
	struct buffer_head *bh;

	if (!rlfs_rc_root(RLFS_SB(sb)))
		return 0;
	bh = rlfs_rc_read_root(sb);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	brelse(bh);
	return 0;
}
