// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs: the free-block and inode-allocation bitmaps: counting free
 * items at mount, allocating and freeing blocks and inode numbers.
 *
 * Both bitmaps share one implementation: a region of bitmap blocks, each
 * covering RLFS_BITS_PER_BITMAP items.  Every change happens under
 * s_alloc_lock inside a jbd2 handle.  Freeing takes undo access to the
 * bitmap block so that jbd2 keeps the last committed copy of it; an item
 * is allocatable only if it is free both now and in that copy, so that
 * nothing freed by an uncommitted transaction is reused before the free
 * is on disk (a crash would otherwise leave the item in two owners).
 */
#include <linux/bitops.h>
#include "reflinkfs.h"
#include "trace.h"

struct rlfs_bitmap {
	const char	*name;		/* "block" or "inode" */
	u64		start;		/* first bitmap block */
	u64		nblocks;	/* bitmap blocks */
	u64		nitems;		/* items described */
	u64		first;		/* first allocatable item */
	u64		resv;		/* free items this allocation must leave */
	struct percpu_counter *free;
};

static void rlfs_block_bitmap(struct rlfs_sb_info *sbi, struct rlfs_bitmap *bm)
{
	bm->name = "block";
	bm->start = sbi->s_geom.bbitmap_start;
	bm->nblocks = sbi->s_geom.bbitmap_blocks;
	bm->nitems = sbi->s_geom.blocks;
	bm->first = sbi->s_geom.data_start;
	bm->resv = sbi->s_resv_blocks;
	bm->free = &sbi->s_free_blocks;
}

static void rlfs_inode_bitmap(struct rlfs_sb_info *sbi, struct rlfs_bitmap *bm)
{
	bm->name = "inode";
	bm->start = sbi->s_geom.ibitmap_start;
	bm->nblocks = sbi->s_geom.ibitmap_blocks;
	bm->nitems = sbi->s_geom.inodes;
	bm->first = RLFS_FIRST_INO;
	bm->resv = 0;
	bm->free = &sbi->s_free_inodes;
}

static inline u32 rlfs_bit_of(u64 item)
{
	u32 rem;

	div_u64_rem(item, RLFS_BITS_PER_BITMAP, &rem);
	return rem;
}

static inline u8 *rlfs_bits(struct buffer_head *bh)
{
	return ((struct rlfs_bitmap_block *)bh->b_data)->bb_bits;
}

static struct buffer_head *rlfs_read_bitmap(struct super_block *sb,
					    const struct rlfs_bitmap *bm,
					    u64 item)
{
	return rlfs_read_meta(sb, bm->start + div_u64(item,
						      RLFS_BITS_PER_BITMAP),
			      RLFS_BITMAP_MAGIC, 0);
}

/* Count the clear bits among the first nbits of a bitmap block. */
static u32 rlfs_count_clear(const u8 *bits, u32 nbits)
{
	u32 used = 0, i;

	for (i = 0; i + 8 <= nbits; i += 8)
		used += hweight8(bits[i >> 3]);
	for (; i < nbits; i++)
		used += test_bit_le(i, bits) ? 1 : 0;
	return nbits - used;
}

static int rlfs_count_bitmap(struct super_block *sb, struct rlfs_bitmap *bm,
			     s64 *freep)
{
	u64 item = 0;
	s64 free = 0;

	while (item < bm->nitems) {
		struct buffer_head *bh;
		const char *why;
		u32 nbits, bit;
		u8 *bits;

		nbits = min_t(u64, RLFS_BITS_PER_BITMAP, bm->nitems - item);
		bh = rlfs_read_bitmap(sb, bm, item);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		why = rlfs_verify_bitmap_block(bh->b_data, item, bm->nitems,
					       bm->first, &bit);
		if (why) {
			rlfs_corrupt_block(sb, bh->b_blocknr,
					   "block %llu: %s bitmap: %s (bit %u, %s %llu)",
					   (u64)bh->b_blocknr, bm->name, why, bit,
					   bm->name, item + bit);
			brelse(bh);
			return -EFSCORRUPTED;
		}
		bits = rlfs_bits(bh);
		free += rlfs_count_clear(bits, nbits);
		brelse(bh);
		item += nbits;
		cond_resched();
	}
	*freep = free;
	return 0;
}

int rlfs_count_free(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_bitmap bm;
	s64 blocks, inodes;
	int err;

	rlfs_block_bitmap(sbi, &bm);
	err = rlfs_count_bitmap(sb, &bm, &blocks);
	if (err)
		return err;
	rlfs_inode_bitmap(sbi, &bm);
	err = rlfs_count_bitmap(sb, &bm, &inodes);
	if (err)
		return err;
	percpu_counter_set(&sbi->s_free_blocks, blocks);
	percpu_counter_set(&sbi->s_free_inodes, inodes);
	return 0;
}

/* Is @nr in use in one of jbd2's older copies of the bitmap? */
static bool rlfs_busy(const u8 *committed, const u8 *frozen, u32 nr)
{
	return (committed && test_bit_le(nr, committed)) ||
	       (frozen && test_bit_le(nr, frozen));
}

/*
 * Scan [lo, hi) for the first item clear in bits and in the older copies
 * (either may be NULL); extend the run up to *want.  Returns the bit or
 * -1.
 */
static long rlfs_scan_run(const u8 *bits, const u8 *committed,
			  const u8 *frozen, u32 lo, u32 hi, u32 *want)
{
	u32 nr = lo, len;

	while (nr < hi) {
		nr = find_next_zero_bit_le(bits, hi, nr);
		if (nr >= hi)
			break;
		if (rlfs_busy(committed, frozen, nr)) {
			nr++;
			continue;
		}
		for (len = 1; len < *want && nr + len < hi; len++) {
			if (test_bit_le(nr + len, bits) ||
			    rlfs_busy(committed, frozen, nr + len))
				break;
		}
		*want = len;
		return nr;
	}
	return -1;
}

/*
 * Find up to *want allocatable items in one bitmap block, in [lo, hi)
 * (bit numbers within the block).  An item is allocatable when clear in
 * the bitmap, in jbd2's undo copy (b_committed_data, kept since a free
 * took undo access, as OCFS2's ocfs2_test_bg_bit_allocatable) and in
 * the copy the committing transaction writes (b_frozen_data).  The undo
 * copy alone is not enough: while a transaction commits, its undo copy
 * predates its own allocations, so an item it allocated and the running
 * transaction freed would look free in both, and be reused before
 * either free or allocation is on disk (jbd2 then aborts on a metadata
 * block still owned by the committing transaction).  Returns the first
 * bit found or -1; *want is set to the run length.
 */
static long rlfs_find_run(struct buffer_head *bh, u32 lo, u32 hi, u32 *want)
{
	struct journal_head *jh;
	const u8 *committed = NULL, *frozen = NULL;
	long found;

	jh = jbd2_journal_grab_journal_head(bh);
	if (!jh)
		return rlfs_scan_run(rlfs_bits(bh), NULL, NULL, lo, hi, want);
	spin_lock(&jh->b_state_lock);
	if (jh->b_committed_data)
		committed = ((struct rlfs_bitmap_block *)
			     jh->b_committed_data)->bb_bits;
	if (jh->b_frozen_data)
		frozen = ((struct rlfs_bitmap_block *)
			  jh->b_frozen_data)->bb_bits;
	found = rlfs_scan_run(rlfs_bits(bh), committed, frozen, lo, hi, want);
	spin_unlock(&jh->b_state_lock);
	jbd2_journal_put_journal_head(jh);
	return found;
}

/*
 * Allocate a run of up to *count items at or after goal, wrapping once to
 * bm->first.  The run never crosses a bitmap block.  Called with
 * s_alloc_lock held.
 */
static int rlfs_bitmap_alloc(handle_t *handle, struct super_block *sb,
			     struct rlfs_bitmap *bm, u64 goal, u32 *count,
			     u64 *start)
{
	u64 item = goal, end = bm->nitems;
	bool wrapped = false;
	s64 avail;
	int err;

	lockdep_assert_held(&RLFS_SB(sb)->s_alloc_lock);
	/*
	 * Exact under s_alloc_lock: nothing free beyond the reserve, do not
	 * scan; never take more than is free beyond it.
	 */
	avail = percpu_counter_sum(bm->free) - bm->resv;
	if (avail <= 0)
		return -ENOSPC;
	*count = min_t(s64, *count, avail);
	/* One bitmap block to dirty; a caller's estimate may be short. */
	if (jbd2_handle_buffer_credits(handle) < 1 &&
	    jbd2_journal_extend(handle, 1, 0)) {
		rlfs_err(sb, "allocating %s: no journal credit left", bm->name);
		return -ENOSPC;
	}
	if (goal < bm->first || goal >= bm->nitems)
		goal = bm->first;
	item = goal;
	for (;;) {
		struct buffer_head *bh;
		u64 base, bend;
		u32 want = *count, i;
		long bit;

		if (item >= end) {
			if (wrapped || goal <= bm->first)
				return -ENOSPC;
			wrapped = true;
			end = goal;
			item = bm->first;
			continue;
		}
		base = item - rlfs_bit_of(item);
		bend = min_t(u64, base + RLFS_BITS_PER_BITMAP, end);
		bh = rlfs_read_bitmap(sb, bm, item);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		bit = rlfs_find_run(bh, item - base, bend - base, &want);
		if (bit < 0) {
			brelse(bh);
			item = bend;
			cond_resched();
			continue;
		}
		err = rlfs_journal_get_write_access(handle, sb, bh);
		if (err) {
			brelse(bh);
			return err;
		}
		for (i = 0; i < want; i++)
			__set_bit_le(bit + i, rlfs_bits(bh));
		err = rlfs_journal_dirty_meta(handle, bh);
		brelse(bh);
		if (err)
			return err;
		percpu_counter_sub(bm->free, want);
		*start = base + bit;
		*count = want;
		return 0;
	}
}

/*
 * Items [bit, bit + n) of @bh are being freed: set them in jbd2's undo
 * copy, as ext3 did.  The copy may be the committing transaction's,
 * taken before that transaction allocated them: without this they would
 * look free in it, and be reused before this free is on disk (a crash
 * would then leave them in two owners).  The undo access forced a frozen
 * copy of the committing transaction's bitmap, which becomes the undo
 * copy when that commit ends and has them set too.
 */
static void rlfs_keep_busy(struct buffer_head *bh, u32 bit, u32 n)
{
	struct journal_head *jh = bh2jh(bh);
	u32 i;

	spin_lock(&jh->b_state_lock);
	if (!WARN_ON_ONCE(!jh->b_committed_data)) {
		u8 *committed = ((struct rlfs_bitmap_block *)
				 jh->b_committed_data)->bb_bits;

		for (i = 0; i < n; i++)
			__set_bit_le(bit + i, committed);
	}
	spin_unlock(&jh->b_state_lock);
}

/*
 * Free [start, start + count): every item must be in the allocatable area
 * and in use, else nothing changes.  The range may span bitmap blocks.
 * Called with s_alloc_lock held.
 */
static int rlfs_bitmap_free(handle_t *handle, struct super_block *sb,
			    struct rlfs_bitmap *bm, u64 start, u32 count)
{
	u64 item, end = start + count;
	int pass, err, nbm;

	lockdep_assert_held(&RLFS_SB(sb)->s_alloc_lock);
	if (!count || start < bm->first || start >= bm->nitems ||
	    count > bm->nitems - start) {
		rlfs_corrupt(sb, "freeing %s %llu+%u: outside [%llu, %llu)",
			     bm->name, start, count, bm->first, bm->nitems);
		return -EFSCORRUPTED;
	}
	/*
	 * Callers free at most RLFS_BITS_PER_BITMAP blocks at a time, which
	 * span at most RLFS_BITMAP_CREDITS bitmap blocks.  Make sure the
	 * handle can take every bitmap block of the range before changing
	 * anything anyway, so that a free stays all-or-nothing.
	 */
	nbm = (int)(div_u64(end - 1, RLFS_BITS_PER_BITMAP) -
		    div_u64(start, RLFS_BITS_PER_BITMAP)) + 1;
	if (jbd2_handle_buffer_credits(handle) < nbm &&
	    jbd2_journal_extend(handle, nbm, 0)) {
		rlfs_err(sb, "freeing %s %llu+%u: not enough journal credits",
			 bm->name, start, count);
		return -ENOSPC;
	}

	/* Pass 0 checks that every bit is set, pass 1 clears them. */
	for (pass = 0; pass < 2; pass++) {
		for (item = start; item < end;) {
			struct buffer_head *bh;
			u32 bit = rlfs_bit_of(item);
			u32 n = min_t(u64, RLFS_BITS_PER_BITMAP - bit,
				      end - item);
			u32 i;

			bh = rlfs_read_bitmap(sb, bm, item);
			if (IS_ERR(bh))
				return PTR_ERR(bh);
			if (pass == 0) {
				for (i = 0; i < n; i++) {
					if (test_bit_le(bit + i, rlfs_bits(bh)))
						continue;
					rlfs_corrupt_block(sb, bh->b_blocknr,
							   "block %llu: freeing free %s %llu",
							   (u64)bh->b_blocknr,
							   bm->name, item + i);
					brelse(bh);
					return -EFSCORRUPTED;
				}
				brelse(bh);
				item += n;
				continue;
			}
			err = jbd2_journal_get_undo_access(handle, bh);
			if (err) {
				rlfs_err(sb, "block %llu: journal undo access failed: %d",
					 (u64)bh->b_blocknr, err);
				brelse(bh);
				return err;
			}
			rlfs_keep_busy(bh, bit, n);
			for (i = 0; i < n; i++)
				__clear_bit_le(bit + i, rlfs_bits(bh));
			err = rlfs_journal_dirty_meta(handle, bh);
			brelse(bh);
			if (err)
				return err;
			percpu_counter_add(bm->free, n);
			item += n;
		}
	}
	return 0;
}

/**
 * rlfs_resv_blocks_of - size of the reserved pool
 * @data_blocks: blocks of the data area
 *
 * 1/128 of the data area, at least 16 and at most 1024 blocks (4 MiB):
 * one freeing step grows each tree by at most a few blocks
 * (RLFS_MAX_EXTENT_DEPTH + 1 splits), and steps that cut records also
 * free space for the next ones, so the pool is never near empty in
 * practice; a freeing operation that does empty it fails with ENOSPC
 * before changing anything, as any allocation does.
 */
u64 rlfs_resv_blocks_of(u64 data_blocks)
{
	return min_t(u64, clamp_t(u64, data_blocks >> 7, 16, 1024),
		     data_blocks / 8);
}

/**
 * rlfs_alloc_blocks - allocate a run of data-area blocks
 * @handle: running handle
 * @sb: the filesystem
 * @inode: charged in i_blocks, or NULL (refcount tree blocks)
 * @goal: preferred first block, 0 for the allocation cursor
 * @count: in: blocks wanted (> 0); out: blocks allocated (>= 1)
 * @start: out: first block
 * @flags: RLFS_ALLOC_RESERVE: may use the reserved pool
 *	(rlfs_sb_info.s_resv_blocks), which only the tree growth of
 *	freeing operations may take, so that freeing never fails for lack
 *	of space
 *
 * Returns 0 or -errno (-ENOSPC).
 */
int rlfs_alloc_blocks(handle_t *handle, struct super_block *sb,
		      struct inode *inode, u64 goal, u32 *count, u64 *start,
		      unsigned int flags)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_bitmap bm;
	int err;

	if (WARN_ON_ONCE(!*count))
		return -EINVAL;
	err = rlfs_fault(sb, REFLINKFS_FAULT_SITE_ALLOC);
	if (err)
		goto out;
	rlfs_block_bitmap(sbi, &bm);
	if (flags & RLFS_ALLOC_RESERVE)
		bm.resv = 0;
	mutex_lock(&sbi->s_alloc_lock);
	if (!goal)
		goal = sbi->s_block_cursor;
	err = rlfs_bitmap_alloc(handle, sb, &bm, goal, count, start);
	if (!err)
		sbi->s_block_cursor = *start + *count;
	mutex_unlock(&sbi->s_alloc_lock);
	if (!err && inode)
		inode_add_bytes(inode, (loff_t)*count << RLFS_BLOCK_BITS);
out:
	trace_reflinkfs_alloc_blocks(sb, inode ? inode->i_ino : 0,
				     err ? goal : *start, *count, err);
	if (err == -ENOSPC) {
		struct rlfs_event ev = {
			.type	= REFLINKFS_EVENT_TYPE_ENOSPC,
			.ino	= inode ? inode->i_ino : 0,
		};

		rlfs_stat_add(sb, RLFS_STAT_ENOSPC, 1);
		rlfs_notify(sb, &ev);
	}
	return err;
}

int rlfs_free_blocks(handle_t *handle, struct super_block *sb,
		     struct inode *inode, u64 start, u32 count)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_bitmap bm;
	int err;

	rlfs_block_bitmap(sbi, &bm);
	mutex_lock(&sbi->s_alloc_lock);
	err = rlfs_bitmap_free(handle, sb, &bm, start, count);
	mutex_unlock(&sbi->s_alloc_lock);
	if (!err && inode)
		inode_sub_bytes(inode, (loff_t)count << RLFS_BLOCK_BITS);
	trace_reflinkfs_free_blocks(sb, inode ? inode->i_ino : 0, start, count,
				    err);
	return err;
}

int rlfs_free_meta_block(handle_t *handle, struct super_block *sb,
			 struct inode *inode, u64 blocknr)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	int err;

	if (blocknr < sbi->s_geom.data_start || blocknr >= sbi->s_geom.blocks) {
		rlfs_corrupt(sb, "freeing metadata block %llu outside the data area",
			     blocknr);
		return -EFSCORRUPTED;
	}
	err = rlfs_journal_forget_block(handle, sb, blocknr);
	if (err)
		return err;
	return rlfs_free_blocks(handle, sb, inode, blocknr, 1);
}

int rlfs_alloc_ino(handle_t *handle, struct super_block *sb, u64 goal,
		   u64 *ino)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_bitmap bm;
	u32 count = 1;
	int err;

	rlfs_inode_bitmap(sbi, &bm);
	mutex_lock(&sbi->s_alloc_lock);
	if (!goal)
		goal = sbi->s_inode_cursor;
	err = rlfs_bitmap_alloc(handle, sb, &bm, goal, &count, ino);
	if (!err)
		sbi->s_inode_cursor = *ino + 1;
	mutex_unlock(&sbi->s_alloc_lock);
	return err;
}

int rlfs_free_ino(handle_t *handle, struct super_block *sb, u64 ino)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_bitmap bm;
	int err;

	rlfs_inode_bitmap(sbi, &bm);
	mutex_lock(&sbi->s_alloc_lock);
	err = rlfs_bitmap_free(handle, sb, &bm, ino, 1);
	mutex_unlock(&sbi->s_alloc_lock);
	return err;
}
