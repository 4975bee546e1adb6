// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs reference counts of physical blocks: lookup, increment and
 * decrement of ranges, on top of the refcount tree storage in rctree.c.
 *
 * Theory of operation
 *
 * The refcount tree records only shared ranges, as records {start, len,
 * refcount} with refcount >= 2.  A block that is mapped but covered by no
 * record has refcount 1; a free block has refcount 0 and no record.
 * Records are sorted and disjoint; contiguous records with equal counts
 * are merged, so records describe maximal runs.
 *
 * Adjusting the reference count (after XFS's xfs_refcount.c) of a range
 * by +1 or -1 looks like this (physical blocks left to right, counts
 * inside the boxes, a gap has the implicit count 1):
 *
 *        <-------- adjustment range -------->
 *   ---+     +-----+--------+     +-------+------
 *    2 |     |  3  |   2    |     |   5   |  4
 *   ---+     +-----+--------+     +-------+------
 *
 * 1. Records crossing either edge of the range are split there, so that
 *    only their inner part changes:
 *
 *        <-------- adjustment range -------->
 *   ---+     +-----+--------+     +-------+--+---
 *    2 |     |  3  |   2    |     |   5   |4 | 4
 *   ---+     +-----+--------+     +-------+--+---
 *
 * 2. Every piece inside the range, gaps included, gets its new count.
 *    Incrementing, a gap becomes a record with count 2; decrementing, a
 *    record at 2 disappears (count 1 is implicit) and a gap's blocks lose
 *    their last reference and are freed:
 *
 *        <-------- adjustment range -------->
 *   ---+-----+-----+--------+-----+-------+--+---
 *    2 |  2  |  4  |   3    |  2  |   6   |5 | 4      (+1)
 *   ---+-----+-----+--------+-----+-------+--+---
 *
 * 3. A changed piece merges with a neighbour outside the range that
 *    abuts it and now has the same count (here the 2 on the left):
 *
 *        <-------- adjustment range -------->
 *   ---------+-----+--------+-----+-------+--+---
 *       2    |  4  |   3    |  2  |   6   |5 | 4
 *   ---------+-----+--------+-----+-------+--+---
 *
 *    Pieces inside the range never need merging with each other: they
 *    all moved by the same amount from counts that differed.
 *
 * Bounded steps.  One call of rlfs_refcount_inc() or rlfs_refcount_dec()
 * handles only the first piece of the range (the part of the first
 * record or gap that lies in it, for freed gaps at most RLFS_RC_MAX_FREE
 * blocks) and returns its length in *done; the caller loops with fresh
 * credits.  The piece [pblk, e) of a record R = [a, b) with count c gets
 * count nc = c +/- 1 and leaves a left part [a, pblk) and a right part
 * [e, b) with count c; its left neighbour L (ending at pblk, when there
 * is no left part) and its right neighbour N (starting at e, when there
 * is no right part and e ends the range: otherwise N is the next piece of
 * the range) absorb it when their count is nc:
 *
 *      L       R                         L       R        N
 *   +----+--------------+             +----+----------+------+
 *   | nc |      c       |     ==>     |    nc    |  c  |      |
 *   +----+--------------+             +----------+-----+------+
 *        ^pblk  ^e                                 ^e
 *
 * Each step therefore changes at most three records: the worst cases are
 * a record split in three (update R, insert two records) and a piece
 * absorbed on both sides (delete R and N, extend L).  Records are always
 * shrunk or deleted before others grow into the space they leave, so
 * that every node stays sorted and disjoint, and room for the inserts is
 * reserved (rlfs_rctree_reserve()) before the first change, so that a
 * step cannot fail half-way for lack of space.  Cloning a range that has
 * no record is a single record insert, whatever its length.
 *
 * Locking: s_refcount_sem, shared by lookups and exclusive for changes,
 * which run inside the caller's jbd2 handle.  It nests inside i_map_sem
 * and outside s_alloc_lock (taken by the block allocator and by freeing).
 */

#include <linux/sched/mm.h>
#include "reflinkfs.h"
#include "trace.h"

/* Most blocks one decrement step frees: they span <= 2 bitmap blocks. */
#define RLFS_RC_MAX_FREE	min_t(u32, RLFS_MAX_EXTENT_LEN, \
				      RLFS_BITS_PER_BITMAP)

/* A clone piece over mapped data: an increment, a decrement, an unmap. */
static_assert(2 * RLFS_REFCOUNT_REVOKES + RLFS_MAX_EXTENT_DEPTH + 1 <=
	      RLFS_REVOKE_CREDITS);

/* The record changes of one step, run in order by rlfs_rc_run(). */
enum rlfs_rc_op_kind {
	RLFS_RC_RESERVE,	/* make room for @slots records after @start */
	RLFS_RC_DELETE,		/* delete the record at @start */
	RLFS_RC_UPDATE,		/* rewrite the record at @start as @rec */
	RLFS_RC_INSERT,		/* insert @rec */
};

struct rlfs_rc_op {
	enum rlfs_rc_op_kind	kind;
	u64			start;
	int			slots;	/* RLFS_RC_RESERVE */
	struct rlfs_rc_irec	rec;	/* RLFS_RC_UPDATE, RLFS_RC_INSERT */
};

#define RLFS_RC_MAX_OPS		4

struct rlfs_rc_plan {
	int			n;
	struct rlfs_rc_op	op[RLFS_RC_MAX_OPS];
};

static inline u64 rlfs_irec_end(const struct rlfs_rc_irec *rec)
{
	return rec->start + rec->len;
}

static struct rlfs_rc_op *rlfs_rc_plan_op(struct rlfs_rc_plan *plan,
					  enum rlfs_rc_op_kind kind, u64 start)
{
	struct rlfs_rc_op *op = &plan->op[plan->n++];

	op->kind = kind;
	op->start = start;
	return op;
}

static void rlfs_rc_plan_reserve(struct rlfs_rc_plan *plan, u64 pblk,
				 int slots)
{
	rlfs_rc_plan_op(plan, RLFS_RC_RESERVE, pblk)->slots = slots;
}

static void rlfs_rc_plan_delete(struct rlfs_rc_plan *plan, u64 start)
{
	rlfs_rc_plan_op(plan, RLFS_RC_DELETE, start);
}

/* The record at @old becomes [start, end) with @refcount. */
static void rlfs_rc_plan_update(struct rlfs_rc_plan *plan, u64 old, u64 start,
				u64 end, u32 refcount)
{
	struct rlfs_rc_op *op = rlfs_rc_plan_op(plan, RLFS_RC_UPDATE, old);

	op->rec.start = start;
	op->rec.len = end - start;
	op->rec.refcount = refcount;
}

/* A new record [start, end) with @refcount. */
static void rlfs_rc_plan_insert(struct rlfs_rc_plan *plan, u64 start,
				u64 end, u32 refcount)
{
	struct rlfs_rc_op *op = rlfs_rc_plan_op(plan, RLFS_RC_INSERT, start);

	op->rec.start = start;
	op->rec.len = end - start;
	op->rec.refcount = refcount;
}

static int rlfs_rc_run(handle_t *handle, struct super_block *sb,
		       const struct rlfs_rc_plan *plan)
{
	bool changed = false;
	int i, err = 0;

	for (i = 0; i < plan->n; i++) {
		const struct rlfs_rc_op *op = &plan->op[i];

		switch (op->kind) {
		case RLFS_RC_RESERVE:
			err = rlfs_rctree_reserve(handle, sb, op->start,
						  op->slots);
			break;
		case RLFS_RC_DELETE:
			err = rlfs_rctree_delete(handle, sb, op->start);
			break;
		case RLFS_RC_UPDATE:
			err = rlfs_rctree_update(handle, sb, op->start,
						 &op->rec);
			break;
		case RLFS_RC_INSERT:
			err = rlfs_rctree_insert(handle, sb, &op->rec);
			break;
		}
		if (err) {
			/* Never commit a half-made change: drop it all. */
			if (changed) {
				rlfs_err(sb, "refcount tree change near block %llu failed half way: %d",
					 op->start, err);
				rlfs_abort(sb, err);
			}
			return err;
		}
		if (op->kind != RLFS_RC_RESERVE)
			changed = true;
	}
	return 0;
}

/* A range from a caller must be non-empty and inside the data area. */
static int rlfs_rc_check_range(struct super_block *sb, u64 pblk, u32 len)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);

	if (WARN_ON_ONCE(!len))
		return -EINVAL;
	if (pblk < sbi->s_geom.data_start || pblk >= sbi->s_geom.blocks ||
	    len > sbi->s_geom.blocks - pblk) {
		rlfs_corrupt(sb, "refcount of blocks %llu+%u: outside the data area [%llu, %llu)",
			     pblk, len, sbi->s_geom.data_start, sbi->s_geom.blocks);
		return -EFSCORRUPTED;
	}
	return 0;
}

/*
 * One step of adding @delta (+1 or -1) to the counts of [pblk, pblk +
 * len): see the comment at the top.  s_refcount_sem held for writing.
 * Decrements free blocks whose count drops to 0, charged to @inode.
 */
static int rlfs_refcount_step(handle_t *handle, struct super_block *sb,
			      struct inode *inode, u64 pblk, u32 len,
			      int delta, u32 *done)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_rc_irec r0, left, next;
	struct rlfs_rc_plan plan = { 0 };
	u64 end = pblk + len, e, r0_end = 0, ps, pe;
	bool in_rec, lpart, rpart, mleft = false, mright = false;
	u32 c, nc;
	int ret;

	lockdep_assert_held_write(&sbi->s_refcount_sem);
	ret = rlfs_rctree_find(sb, pblk, &r0);
	if (ret < 0)
		return ret;
	in_rec = ret && r0.start <= pblk;
	if (in_rec) {
		c = r0.refcount;
		r0_end = rlfs_irec_end(&r0);
		e = min(end, r0_end);
	} else {
		c = 1;
		e = ret ? min(end, r0.start) : end;
	}

	if (delta < 0 && c == 1) {
		/* The last reference goes: free the blocks. */
		e = min_t(u64, e, pblk + RLFS_RC_MAX_FREE);
		ret = rlfs_free_blocks(handle, sb, inode, pblk, e - pblk);
		if (!ret)
			*done = e - pblk;
		return ret;
	}
	if (delta > 0 && c >= READ_ONCE(sbi->s_refcount_max)) {
		rlfs_err(sb, "block %llu: reference count at its maximum %u",
			 pblk, c);
		return -EMLINK;
	}
	nc = c + delta;
	lpart = in_rec && r0.start < pblk;
	rpart = in_rec && e < r0_end;

	/* Neighbours outside the range that now match absorb the piece. */
	if (nc >= 2 && !lpart && pblk > sbi->s_geom.data_start) {
		ret = rlfs_rctree_find(sb, pblk - 1, &left);
		if (ret < 0)
			return ret;
		mleft = ret && rlfs_irec_end(&left) == pblk &&
			left.refcount == nc && e - left.start <= U32_MAX;
	}
	ps = mleft ? left.start : pblk;
	if (nc >= 2 && !rpart && e == end && e < sbi->s_geom.blocks) {
		ret = rlfs_rctree_find(sb, e, &next);
		if (ret < 0)
			return ret;
		mright = ret && next.start == e && next.refcount == nc &&
			 rlfs_irec_end(&next) - ps <= U32_MAX;
	}
	pe = mright ? rlfs_irec_end(&next) : e;

	if (lpart) {
		/* R keeps [a, pblk); the piece and the right part follow. */
		int slots = (nc >= 2 && !mright) + rpart;

		if (slots)
			rlfs_rc_plan_reserve(&plan, pblk, slots);
		rlfs_rc_plan_update(&plan, r0.start, r0.start, pblk, c);
		if (nc >= 2 && mright)
			rlfs_rc_plan_update(&plan, next.start, ps, pe, nc);
		else if (nc >= 2)
			rlfs_rc_plan_insert(&plan, ps, pe, nc);
		if (rpart)
			rlfs_rc_plan_insert(&plan, e, r0_end, c);
	} else if (rpart && nc >= 2 && !mleft) {
		/* R becomes the piece, its right part is inserted after it. */
		rlfs_rc_plan_reserve(&plan, pblk, 1);
		rlfs_rc_plan_update(&plan, r0.start, ps, pe, nc);
		rlfs_rc_plan_insert(&plan, e, r0_end, c);
	} else if (rpart) {
		/* R keeps [e, b); L absorbs the piece, or it drops to 1. */
		rlfs_rc_plan_update(&plan, r0.start, e, r0_end, c);
		if (mleft)
			rlfs_rc_plan_update(&plan, left.start, ps, pe, nc);
	} else if (in_rec && nc < 2) {
		/* All of R drops to the implicit count 1. */
		rlfs_rc_plan_delete(&plan, r0.start);
	} else if (in_rec) {
		/* All of R changes count, absorbed by L and/or absorbing N. */
		if (mright)
			rlfs_rc_plan_delete(&plan, next.start);
		if (mleft) {
			rlfs_rc_plan_delete(&plan, r0.start);
			rlfs_rc_plan_update(&plan, left.start, ps, pe, nc);
		} else {
			rlfs_rc_plan_update(&plan, r0.start, ps, pe, nc);
		}
	} else {
		/* A gap becomes shared: count 2. */
		if (mleft && mright)
			rlfs_rc_plan_delete(&plan, next.start);
		if (mleft)
			rlfs_rc_plan_update(&plan, left.start, ps, pe, nc);
		else if (mright)
			rlfs_rc_plan_update(&plan, next.start, ps, pe, nc);
		else
			rlfs_rc_plan_insert(&plan, ps, pe, nc);
	}

	ret = rlfs_rc_run(handle, sb, &plan);
	if (ret)
		return ret;
	/* The caller's mapping is gone even where the blocks stay in use. */
	if (delta < 0 && inode)
		inode_sub_bytes(inode, (loff_t)(e - pblk) << RLFS_BLOCK_BITS);
	*done = e - pblk;
	return 0;
}

/*
 * The count of @pblk and the run of blocks from it, at most @len, with
 * that count: one record or gap, or with @follow also the equal records
 * that abut it (neighbours are merged when changed, not always).
 */
static int __rlfs_refcount_lookup(struct super_block *sb, u64 pblk, u32 len,
				  bool follow, u32 *refcount, u32 *run)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_rc_irec rec;
	u64 end = pblk + len, pos;
	unsigned int nofs;
	int ret;

	ret = rlfs_rc_check_range(sb, pblk, len);
	if (ret)
		return ret;
	down_read(&sbi->s_refcount_sem);
	nofs = memalloc_nofs_save();
	ret = rlfs_rctree_find(sb, pblk, &rec);
	if (ret < 0)
		goto out;
	if (!ret || rec.start > pblk) {
		*refcount = 1;
		*run = (ret ? min(end, rec.start) : end) - pblk;
		ret = 0;
		goto out;
	}
	*refcount = rec.refcount;
	pos = rlfs_irec_end(&rec);
	while (follow && pos < end) {
		ret = rlfs_rctree_find(sb, pos, &rec);
		if (ret < 0)
			goto out;
		if (!ret || rec.start != pos || rec.refcount != *refcount)
			break;
		pos = rlfs_irec_end(&rec);
	}
	*run = min(pos, end) - pblk;
	ret = 0;
out:
	memalloc_nofs_restore(nofs);
	up_read(&sbi->s_refcount_sem);
	return ret;
}

/**
 * rlfs_refcount_lookup - reference count of a block
 * @sb: the filesystem
 * @pblk: a mapped physical block in the data area
 * @len: blocks of interest from @pblk (> 0)
 * @refcount: out: the count of @pblk (1 when no record covers it)
 * @run: out: blocks from @pblk, at most @len, with that same count
 *
 * Takes s_refcount_sem for reading; no handle needed.  Returns 0 or
 * -errno.
 */
int rlfs_refcount_lookup(struct super_block *sb, u64 pblk, u32 len,
			 u32 *refcount, u32 *run)
{
	return __rlfs_refcount_lookup(sb, pblk, len, true, refcount, run);
}

/**
 * rlfs_refcount_step_len - blocks one increment or decrement step covers
 * @sb: the filesystem
 * @pblk: first physical block, mapped
 * @len: blocks of interest (> 0)
 * @step: out: the blocks from @pblk, at most @len, that one
 *	rlfs_refcount_inc() or rlfs_refcount_dec() call covers as the tree
 *	is now: the rest of the record holding @pblk, or of the gap (at most
 *	RLFS_RC_MAX_FREE blocks, the most one decrement frees)
 *
 * Lets a caller size a piece so that its reference changes are single
 * steps.  Returns 0 or -errno.
 */
int rlfs_refcount_step_len(struct super_block *sb, u64 pblk, u32 len,
			   u32 *step)
{
	u32 rc;
	int ret;

	ret = __rlfs_refcount_lookup(sb, pblk, len, false, &rc, step);
	if (!ret && rc == 1)
		*step = min(*step, RLFS_RC_MAX_FREE);
	return ret;
}

/* One locked step of rlfs_refcount_inc() (+1) or rlfs_refcount_dec() (-1). */
static int rlfs_refcount_adjust(handle_t *handle, struct super_block *sb,
				struct inode *inode, u64 pblk, u32 len,
				int delta, u32 *done)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	u32 old = 0, run;
	unsigned int nofs;
	int err;

	*done = 0;
	err = rlfs_rc_check_range(sb, pblk, len);
	if (err)
		return err;
	/* A step covers one record or gap: one count before it. */
	if (trace_reflinkfs_refcount_change_enabled() &&
	    __rlfs_refcount_lookup(sb, pblk, len, false, &old, &run))
		old = 0;
	down_write(&sbi->s_refcount_sem);
	nofs = memalloc_nofs_save();
	/*
	 * Dropping a reference never fails for lack of space: the tree may
	 * grow into the reserved pool (a record cut in three).
	 */
	sbi->s_rc_alloc_flags = delta < 0 ? RLFS_ALLOC_RESERVE : 0;
	err = rlfs_refcount_step(handle, sb, inode, pblk, len, delta, done);
	sbi->s_rc_alloc_flags = 0;
	memalloc_nofs_restore(nofs);
	up_write(&sbi->s_refcount_sem);
	trace_reflinkfs_refcount_change(sb, pblk, err ? len : *done, old,
					err ? old : old + delta, err);
	return err;
}

/**
 * rlfs_refcount_inc - add a reference to part of a range of blocks
 * @handle: running handle with RLFS_REFCOUNT_CREDITS (and
 *	RLFS_REFCOUNT_REVOKES revoke records) for this call
 * @sb: the filesystem
 * @pblk: first physical block; every block of the range must be in use
 * @len: blocks (> 0)
 * @done: out: blocks from @pblk handled by this call (> 0 on success)
 *
 * Blocks without a record (count 1) get count 2, recorded blocks one
 * more, records splitting at the range edges and merging with equal
 * neighbours.  One call handles one record or gap of the range; callers
 * loop: while (len) { ensure credits; inc(..., &done); pblk += done;
 * len -= done; }.  Takes s_refcount_sem for writing.  Returns 0 or
 * -errno (-ENOSPC: no block for a tree node, -EMLINK: a count would
 * pass s_refcount_max, U32_MAX unless lowered by fault injection); on
 * error nothing of this call's piece changed, unless
 * the filesystem reported a corruption.
 */
int rlfs_refcount_inc(handle_t *handle, struct super_block *sb, u64 pblk,
		      u32 len, u32 *done)
{
	return rlfs_refcount_adjust(handle, sb, NULL, pblk, len, 1, done);
}

/**
 * rlfs_refcount_dec - drop a reference to part of a range of blocks
 * @handle: running handle with RLFS_REFCOUNT_CREDITS (and
 *	RLFS_REFCOUNT_REVOKES revoke records) for this call
 * @sb: the filesystem
 * @inode: the inode whose mapping of the blocks went away, or NULL
 * @pblk: first physical block
 * @len: blocks (> 0)
 * @done: out: blocks from @pblk handled by this call (> 0 on success)
 *
 * Recorded blocks lose one reference (a record at 2 disappears); blocks
 * without a record had the last one and are freed with rlfs_free_blocks()
 * (data blocks: no revoke), at most RLFS_RC_MAX_FREE per call.  Either
 * way @inode's i_blocks drops by *done blocks, as rlfs_free_blocks()
 * alone would (the caller marks the inode dirty).  Loop as for
 * rlfs_refcount_inc().  Takes s_refcount_sem for writing.  Returns 0 or
 * -errno.
 */
int rlfs_refcount_dec(handle_t *handle, struct super_block *sb,
		      struct inode *inode, u64 pblk, u32 len, u32 *done)
{
	return rlfs_refcount_adjust(handle, sb, inode, pblk, len, -1, done);
}

/**
 * rlfs_refcount_init - set up the refcount tree at mount
 * @sb: the filesystem, journal loaded (replayed)
 *
 * Initialises s_refcount_sem and validates the root: 0 with depth 0, or
 * a block of the data area holding a valid node of depth
 * s_refcount_depth <= RLFS_MAX_EXTENT_DEPTH.  Returns 0 or -EFSCORRUPTED.
 */
int rlfs_refcount_init(struct super_block *sb)
{
	init_rwsem(&RLFS_SB(sb)->s_refcount_sem);
	return rlfs_rctree_check_root(sb);
}

/**
 * rlfs_refcount_totals - count the whole refcount tree
 * @sb: the filesystem
 * @tot: out: records, blocks they cover (the shared blocks) and the sum of
 *	(refcount - 1) * len (the blocks sharing saves)
 *
 * One lookup per record, under s_refcount_sem (shared).  Returns 0 or
 * -errno.
 */
int rlfs_refcount_totals(struct super_block *sb, struct rlfs_rc_totals *tot)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_rc_irec rec;
	unsigned int nofs;
	u64 pblk = 0;
	int ret;

	memset(tot, 0, sizeof(*tot));
	down_read(&sbi->s_refcount_sem);
	nofs = memalloc_nofs_save();
	while ((ret = rlfs_rctree_find(sb, pblk, &rec)) > 0) {
		tot->records++;
		tot->blocks += rec.len;
		tot->extra_refs += (u64)rec.len * (rec.refcount - 1);
		pblk = rec.start + rec.len;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	memalloc_nofs_restore(nofs);
	up_read(&sbi->s_refcount_sem);
	return ret < 0 ? ret : 0;
}
