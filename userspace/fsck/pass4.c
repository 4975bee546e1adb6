// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs pass 4: the orphan list and link counts.
 *
 * The orphan list (from s_orphan_head through i_next_orphan) must hold
 * inodes in use, without a loop and without the root; an inode on it
 * with no links is a removed file still open and needs no directory
 * entry.  Then the link count of every inode in use is compared with the
 * entries pass 2 found: a file's with the entries naming it, a
 * directory's with 2 plus its subdirectories; a directory is named by
 * exactly one entry, and one no directory names (pass 3) is reported.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sys/stat.h>

#include "fsck.h"

static void check_orphans(struct fsck *f)
{
	struct rlfs_inode ri;
	uint64_t cur = le64toh(f->sb.s_orphan_head), prev = 0;
	uint64_t steps;

	for (steps = 0; cur && steps <= f->g.inodes; steps++) {
		/*
		 * The head is in range if rlfs_verify_super() accepted it, the
		 * next pointer of an inode in use if rlfs_verify_inode() did.
		 */
		if (cur >= f->g.inodes)
			return;
		if (!(f->ii[cur].flags & II_INUSE)) {
			fsck_err(f, "orphan list: inode %" PRIu64 " (after %"
				 PRIu64 ") is not in use", cur, prev);
			return;
		}
		if (f->ii[cur].flags & II_ORPHAN) {
			fsck_err(f, "orphan list: loop at inode %" PRIu64 " "
				 "(after %" PRIu64 ")", cur, prev);
			return;
		}
		if (cur == RLFS_ROOT_INO) {
			fsck_err(f, "orphan list: contains the root directory");
			return;
		}
		f->ii[cur].flags |= II_ORPHAN;
		if (f->ii[cur].nlink)
			fsck_info(f, "orphan list: inode %" PRIu64 " has %u "
				  "links (truncation in progress)", cur,
				  f->ii[cur].nlink);
		else
			fsck_info(f, "orphan list: inode %" PRIu64, cur);
		read_inode(f, cur, &ri);
		prev = cur;
		cur = le64toh(ri.i_next_orphan);
	}
}

/* A removed directory or file, still open: no entry names it. */
static bool removed_open(const struct ino_info *ii)
{
	return (ii->flags & II_ORPHAN) && ii->nlink == 0;
}

static void check_dir_links(struct fsck *f)
{
	struct dir_info *d;
	struct ino_info *ii;
	size_t i;

	for (i = 0; i < f->ndirs; i++) {
		d = &f->dirs[i];
		ii = &f->ii[d->ino];
		if (d->detached && !removed_open(ii))
			fsck_err(f, "directory %" PRIu64 " is not referenced "
				 "by any directory (parent %" PRIu64 ")",
				 d->ino, d->parent);
		if (d->ino != RLFS_ROOT_INO && ii->links > 1)
			fsck_err(f, "directory %" PRIu64 " is referenced by %u "
				 "directory entries", d->ino, ii->links);
		if (removed_open(ii) && !ii->links)
			continue;
		if (ii->nlink != (uint64_t)d->subdirs + 2)
			fsck_err(f, "directory %" PRIu64 ": link count %u, "
				 "expected %" PRIu64 " (2 + %u subdirectories)",
				 d->ino, ii->nlink, (uint64_t)d->subdirs + 2,
				 d->subdirs);
	}
}

static void check_file_links(struct fsck *f)
{
	struct ino_info *ii;
	uint64_t ino;

	for (ino = RLFS_ROOT_INO; ino < f->g.inodes; ino++) {
		ii = &f->ii[ino];
		if (!(ii->flags & II_INUSE) || S_ISDIR(ii->mode))
			continue;
		if (ii->links == ii->nlink) {
			if (ii->nlink == 0 && !(ii->flags & II_ORPHAN))
				fsck_err(f, "inode %" PRIu64 ": link count 0, "
					 "not referenced and not on the orphan "
					 "list", ino);
			continue;
		}
		if (ii->links == 0)
			fsck_err(f, "inode %" PRIu64 " (%s): not referenced by "
				 "any directory, link count %u", ino,
				 rlfs_ftype_name(rlfs_mode_to_ftype(ii->mode)),
				 ii->nlink);
		else
			fsck_err(f, "inode %" PRIu64 ": link count %u, but %u "
				 "directory entries refer to it", ino,
				 ii->nlink, ii->links);
	}
}

void pass4(struct fsck *f)
{
	fsck_info(f, "Pass 4: orphan list and link counts");
	check_orphans(f);
	check_dir_links(f);
	check_file_links(f);
}
