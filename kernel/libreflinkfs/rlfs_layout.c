// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libreflinkfs: the layout of a filesystem, computed the same way by mkfs
 * (to lay it out) and by mount and fsck (to check the superblock).
 */

#include "rlfs_core.h"

u64 rlfs_default_journal_blocks(u64 blocks)
{
	u64 j = blocks / 32;

	if (j < RLFS_MIN_JOURNAL_BLOCKS)
		j = RLFS_MIN_JOURNAL_BLOCKS;
	if (j > RLFS_MAX_JOURNAL_BLOCKS)
		j = RLFS_MAX_JOURNAL_BLOCKS;
	return j;
}

u64 rlfs_round_inodes(u64 inodes)
{
	if (inodes < RLFS_MIN_INODES)
		inodes = RLFS_MIN_INODES;
	if (inodes > RLFS_MAX_INODES)
		return inodes;		/* the caller refuses it */
	return rlfs_div_round_up(inodes, RLFS_INODES_PER_BLOCK) *
	       RLFS_INODES_PER_BLOCK;
}

u64 rlfs_default_inodes(u64 blocks)
{
	u64 n = blocks / 4;

	if (n > RLFS_MAX_INODES)
		n = RLFS_MAX_INODES;
	return rlfs_round_inodes(n);
}

bool rlfs_geom_layout(struct rlfs_geom *g)
{
	bool ovf = false;

	g->journal_start = 1;
	g->bbitmap_blocks = rlfs_div_round_up(g->blocks, RLFS_BITS_PER_BITMAP);
	g->ibitmap_blocks = rlfs_div_round_up(g->inodes, RLFS_BITS_PER_BITMAP);
	g->itable_blocks = g->inodes / RLFS_INODES_PER_BLOCK;
	ovf |= __builtin_add_overflow(g->journal_start, g->journal_blocks,
				      &g->bbitmap_start);
	ovf |= __builtin_add_overflow(g->bbitmap_start, g->bbitmap_blocks,
				      &g->ibitmap_start);
	ovf |= __builtin_add_overflow(g->ibitmap_start, g->ibitmap_blocks,
				      &g->itable_start);
	ovf |= __builtin_add_overflow(g->itable_start, g->itable_blocks,
				      &g->data_start);
	return !ovf;
}

void rlfs_geom_from_super(const struct rlfs_super *rsb, struct rlfs_geom *g)
{
	g->blocks = le64_to_cpu(rsb->s_blocks);
	g->inodes = le64_to_cpu(rsb->s_inodes);
	g->journal_start = le64_to_cpu(rsb->s_journal_start);
	g->journal_blocks = le64_to_cpu(rsb->s_journal_blocks);
	g->bbitmap_start = le64_to_cpu(rsb->s_bbitmap_start);
	g->bbitmap_blocks = le64_to_cpu(rsb->s_bbitmap_blocks);
	g->ibitmap_start = le64_to_cpu(rsb->s_ibitmap_start);
	g->ibitmap_blocks = le64_to_cpu(rsb->s_ibitmap_blocks);
	g->itable_start = le64_to_cpu(rsb->s_itable_start);
	g->itable_blocks = le64_to_cpu(rsb->s_itable_blocks);
	g->data_start = le64_to_cpu(rsb->s_data_start);
}
