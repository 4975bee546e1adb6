// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs pass 1b: the owners of multiply-claimed blocks.
 *
 * A block claimed more than once in pass 1 is an error unless it is a
 * file data block whose sharing a refcount record describes (pass 5
 * checks its count).  Only when there are such blocks, the inode table
 * is walked again, quietly, recording who claims each, and every run of
 * consecutive blocks with the same owners is reported once, as e2fsck's
 * pass 1b does.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"

struct dup *find_dup(struct fsck *f, uint64_t blk)
{
	size_t lo = 0, hi = f->ndups, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (f->dups[mid].blk == blk)
			return &f->dups[mid];
		if (f->dups[mid].blk < blk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void dup_add_owner(struct dup *d, uint64_t ino)
{
	if (d->n_owners == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 4;
		d->owners = xrealloc_array(d->owners, d->cap,
					   sizeof(*d->owners));
	}
	d->owners[d->n_owners++] = ino;
}

/* Owner 0 stands for the refcount tree. */
static void print_owners(const struct dup *d, char *out, size_t size)
{
	size_t i, len = 0;
	const char *sep;

	out[0] = 0;
	for (i = 0; i < d->n_owners && len < size; i++) {
		sep = i == 0 ? "" : i + 1 == d->n_owners ? " and " : ", ";
		if (d->owners[i])
			len += snprintf(out + len, size - len, "%sinode %"
					PRIu64, sep, d->owners[i]);
		else
			len += snprintf(out + len, size - len,
					"%sthe refcount tree", sep);
	}
}

/*
 * Recorded refcount of every block, walked in block order: the caller
 * keeps *cur, starting at 0, and asks for increasing blocks.
 */
static uint32_t rc_at(struct fsck *f, size_t *cur, uint64_t blk)
{
	while (*cur < f->n_rc &&
	       f->rc[*cur].start + f->rc[*cur].len <= blk)
		(*cur)++;
	if (*cur < f->n_rc && f->rc[*cur].start <= blk)
		return f->rc[*cur].refcount;
	return 0;
}

static bool is_dup(struct fsck *f, size_t *cur, uint64_t blk)
{
	uint32_t rc = rc_at(f, cur, blk);

	return f->refs[blk] > 1 && (!rc || (f->bkind[blk] & BK_META));
}

static bool same_owners(const struct dup *a, const struct dup *b)
{
	return a->n_owners == b->n_owners &&
	       !memcmp(a->owners, b->owners,
		       a->n_owners * sizeof(*a->owners));
}

void pass1b(struct fsck *f)
{
	char owners[512];
	uint64_t b, n = 0;
	size_t i, j, cur = 0;

	for (b = f->g.data_start; b < f->g.blocks; b++)
		if (is_dup(f, &cur, b))
			n++;
	if (!n)
		return;
	fsck_info(f, "Pass 1b: %" PRIu64 " blocks claimed more than once", n);
	f->dups = xcalloc(n, sizeof(*f->dups));
	cur = 0;
	for (b = f->g.data_start; b < f->g.blocks; b++) {
		if (!is_dup(f, &cur, b))
			continue;
		if (f->bkind[b] & BK_RCTREE)
			dup_add_owner(&f->dups[f->ndups], 0);
		f->dups[f->ndups++].blk = b;
	}

	f->pass1b = true;
	scan_inodes(f);
	f->pass1b = false;

	/* Report runs of consecutive blocks with the same owners once. */
	for (i = 0; i < f->ndups; i = j) {
		for (j = i + 1; j < f->ndups; j++)
			if (f->dups[j].blk != f->dups[j - 1].blk + 1 ||
			    !same_owners(&f->dups[i], &f->dups[j]))
				break;
		print_owners(&f->dups[i], owners, sizeof(owners));
		if (j - i == 1)
			fsck_err(f, "block %" PRIu64 " claimed by %s",
				 f->dups[i].blk, owners);
		else
			fsck_err(f, "blocks %" PRIu64 "-%" PRIu64 " claimed by "
				 "%s", f->dups[i].blk, f->dups[j - 1].blk,
				 owners);
	}
	for (i = 0; i < f->ndups; i++)
		free(f->dups[i].owners);
	free(f->dups);
	f->dups = NULL;
	f->ndups = 0;
}
