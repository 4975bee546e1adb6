// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs fault injection.  A site (REFLINKFS_FAULT_SITE_*) is armed
 * through netlink (FAULT_SET) on one mounted instance: the nth call
 * through it from then on fails with the errno given, and after that
 * every every-th call.  The sites are the entry points a real failure of
 * that kind comes from, and the injected error takes the same path:
 *
 *   alloc       rlfs_alloc_blocks()             (as if the bitmap were full)
 *   meta-read   rlfs_read_meta()                (as if the read failed)
 *   meta-write  rlfs_journal_get_write_access() (as jbd2 failing it)
 *   trans       rlfs_journal_start()            (as jbd2 failing a start)
 *
 * A disarmed site costs one READ_ONCE.  Faults live in the in-core
 * superblock, so an unmount clears them.
 *
 * The refcount limit (s_refcount_max, U32_MAX: what the format's 32-bit
 * count holds) may be lowered the same way, so that the limit's error
 * path (rlfs_refcount_step(): EMLINK) can be reached with a few clones.
 */

#include <linux/math64.h>
#include "reflinkfs.h"

static const char *const rlfs_fault_names[RLFS_FAULT_SITES] = {
	[REFLINKFS_FAULT_SITE_ALLOC]		= "block allocation",
	[REFLINKFS_FAULT_SITE_META_READ]	= "metadata read",
	[REFLINKFS_FAULT_SITE_META_WRITE]	= "metadata write access",
	[REFLINKFS_FAULT_SITE_TRANS]		= "transaction start",
};

void rlfs_fault_init(struct super_block *sb)
{
	spin_lock_init(&RLFS_SB(sb)->s_fault_lock);
	RLFS_SB(sb)->s_refcount_max = U32_MAX;
}

/* Set the highest reference count of @sb (1..U32_MAX). */
void rlfs_fault_refcount_max(struct super_block *sb, u32 max)
{
	WRITE_ONCE(RLFS_SB(sb)->s_refcount_max, max);
	if (max != U32_MAX)
		rlfs_warn(sb, "injected fault: reference counts limited to %u",
			  max);
}

/**
 * rlfs_fault - should this call through @site fail?
 * @sb: the filesystem
 * @site: REFLINKFS_FAULT_SITE_*
 *
 * Returns 0, or the negative errno to fail with (and says so in the log,
 * rate limited).
 */
int rlfs_fault(struct super_block *sb, int site)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_fault *f = &sbi->s_faults[site];
	bool fire = false;
	u64 n, rem;
	int err = 0;

	if (likely(!READ_ONCE(f->armed)))
		return 0;
	spin_lock(&sbi->s_fault_lock);
	if (f->armed) {
		n = ++f->calls;
		if (n == f->nth) {
			fire = true;
		} else if (n > f->nth && f->every) {
			div64_u64_rem(n - f->nth, f->every, &rem);
			fire = !rem;
		}
		if (fire) {
			f->fired++;
			err = -f->err;
			WRITE_ONCE(sbi->s_fault_fired, true);
		}
	}
	spin_unlock(&sbi->s_fault_lock);
	if (err)
		rlfs_warn(sb, "injected fault: %s fails with %d",
			  rlfs_fault_names[site], err);
	return err;
}

/**
 * rlfs_fault_arm - arm or disarm a site
 * @sb: the filesystem
 * @site: REFLINKFS_FAULT_SITE_*
 * @nth: the call that fails first (1: the next one); 0 disarms
 * @every: then every this many calls; 0 for once
 * @err: positive errno
 *
 * The call and fire counts start again from zero.
 */
void rlfs_fault_arm(struct super_block *sb, int site, u64 nth, u64 every,
		    int err)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_fault *f = &sbi->s_faults[site];

	spin_lock(&sbi->s_fault_lock);
	f->nth = nth;
	f->every = every;
	f->err = err;
	f->calls = 0;
	f->fired = 0;
	WRITE_ONCE(f->armed, nth != 0);
	spin_unlock(&sbi->s_fault_lock);
}

/* Copy an armed site's state; false if it is not armed. */
bool rlfs_fault_read(struct super_block *sb, int site,
		     struct rlfs_fault_state *st)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_fault *f = &sbi->s_faults[site];
	bool armed;

	spin_lock(&sbi->s_fault_lock);
	armed = f->armed;
	st->nth = f->nth;
	st->every = f->every;
	st->calls = f->calls;
	st->fired = f->fired;
	st->err = f->err;
	spin_unlock(&sbi->s_fault_lock);
	return armed;
}
