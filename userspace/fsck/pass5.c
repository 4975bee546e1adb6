// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs pass 5: the refcount tree and the bitmaps against what
 * passes 1 and 2 computed.
 *
 * Every block a refcount record covers must be mapped by as many file
 * extents as the record counts, and by none if it is metadata; blocks
 * without a record are mapped at most once (pass 1b reports the others).
 * The block bitmap must mark exactly the metadata area and the blocks
 * referenced, the inode bitmap inode 0 and the inodes allocated, and the
 * bits past the last item of each bitmap must be set.  The superblock's
 * free counts are hints: a difference is only shown with -v.
 */
#define _GNU_SOURCE
#include <inttypes.h>

#include "fsck.h"

/* ---- reference counts --------------------------------------------- */

enum rc_problem { RC_OK, RC_COUNT, RC_UNMAPPED, RC_META };

/* One error line per run of blocks with the same problem and counts. */
static void report_rc_run(struct fsck *f, enum rc_problem p, uint64_t first,
			  uint64_t last, uint32_t rc, uint32_t refs)
{
	char where[64];

	blocks_str(where, sizeof(where), first, last - first + 1);
	switch (p) {
	case RC_COUNT:
		fsck_err(f, "refcount tree: %s: refcount %u recorded, %u file "
			 "mapping%s found", where, rc, refs,
			 refs == 1 ? "" : "s");
		break;
	case RC_UNMAPPED:
		fsck_err(f, "refcount tree: %s: refcount %u recorded but no "
			 "file maps %s", where, rc,
			 first == last ? "it" : "them");
		break;
	case RC_META:
		fsck_err(f, "refcount tree: %s: refcount %u recorded on "
			 "metadata", where, rc);
		break;
	case RC_OK:
		break;
	}
}

static void check_refcounts(struct fsck *f)
{
	enum rc_problem p, run_p = RC_OK;
	uint32_t run_rc = 0, run_refs = 0, refs;
	uint64_t first = 0, last = 0, b;
	size_t i;

	for (i = 0; i < f->n_rc; i++) {
		for (b = f->rc[i].start; b < f->rc[i].start + f->rc[i].len;
		     b++) {
			refs = f->refs[b];
			if (f->bkind[b] & BK_META)
				p = RC_META;
			else if (!refs)
				p = RC_UNMAPPED;
			else if (refs != f->rc[i].refcount)
				p = RC_COUNT;
			else
				p = RC_OK;
			if (run_p != RC_OK &&
			    (p != run_p || b != last + 1 ||
			     f->rc[i].refcount != run_rc || refs != run_refs)) {
				report_rc_run(f, run_p, first, last, run_rc,
					      run_refs);
				run_p = RC_OK;
			}
			if (p == RC_OK)
				continue;
			if (run_p == RC_OK) {
				run_p = p;
				first = b;
				run_rc = f->rc[i].refcount;
				run_refs = refs;
			}
			last = b;
		}
	}
	if (run_p != RC_OK)
		report_rc_run(f, run_p, first, last, run_rc, run_refs);
}

/* ---- bitmaps ------------------------------------------------------ */

static void report_range(struct fsck *f, const char *what, const char *item,
			 uint64_t first, uint64_t last, bool used)
{
	const char *msg = used ? "in use but marked free" :
				 "marked in use but not in use";

	if (first == last)
		fsck_err(f, "%s: %s %" PRIu64 " is %s", what, item, first, msg);
	else
		fsck_err(f, "%s: %ss %" PRIu64 "-%" PRIu64 " are %s", what,
			 item, first, last, msg);
}

/*
 * Compare the bitmap with the computed usage over [0, n).  The bits past
 * n were checked with each block in pass 1 (rlfs_verify_bitmap_block()).
 * Blocks of the bitmap that failed their header checks there are skipped.
 */
static void compare_bitmap(struct fsck *f, const char *what,
			   const char *item, uint8_t *bits, const bool *ok,
			   uint64_t n,
			   bool (*used)(struct fsck *, uint64_t))
{
	uint64_t i, run = 0;
	bool in_run = false, run_used = false, u, b;

	for (i = 0; i < n; i++) {
		if (!ok[i / RLFS_BITS_PER_BITMAP]) {
			u = b = false;
		} else {
			u = used(f, i);
			b = rlfs_test_bit(bits, i);
		}
		if (in_run && (u == b || u != run_used)) {
			report_range(f, what, item, run, i - 1, run_used);
			in_run = false;
		}
		if (u != b && !in_run) {
			in_run = true;
			run = i;
			run_used = u;
		}
	}
	if (in_run)
		report_range(f, what, item, run, n - 1, run_used);
}

static bool block_used(struct fsck *f, uint64_t blk)
{
	return blk < f->g.data_start || f->refs[blk] > 0;
}

static bool inode_used(struct fsck *f, uint64_t ino)
{
	return ino == 0 || (f->ii[ino].flags & II_ALLOC);
}

void pass5(struct fsck *f)
{
	uint64_t i, hint;

	fsck_info(f, "Pass 5: reference counts and bitmaps");
	check_refcounts(f);
	compare_bitmap(f, "block bitmap", "block", f->bbits, f->bbits_ok,
		       f->g.blocks, block_used);
	compare_bitmap(f, "inode bitmap", "inode", f->ibits, f->ibits_ok,
		       f->g.inodes, inode_used);

	for (i = 0; i < f->g.blocks; i++)
		f->used_blocks += block_used(f, i);
	for (i = 0; i < f->g.inodes; i++)
		f->used_inodes += inode_used(f, i);
	hint = le64toh(f->sb.s_free_blocks);
	if (hint != f->g.blocks - f->used_blocks)
		fsck_info(f, "superblock: free blocks hint %" PRIu64 ", "
			  "counted %" PRIu64, hint,
			  f->g.blocks - f->used_blocks);
	hint = le64toh(f->sb.s_free_inodes);
	if (hint != f->g.inodes - f->used_inodes)
		fsck_info(f, "superblock: free inodes hint %" PRIu64 ", "
			  "counted %" PRIu64, hint,
			  f->g.inodes - f->used_inodes);
}
