// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs - check a reflinkfs filesystem.
 *
 * Passes, as e2fsck's:
 *   0  superblock (rlfs_verify_super()), journal superblock (this file)
 *   1  bitmap blocks, refcount tree, inode table: every inode, its
 *      extent tree, xattr block and symlink block (pass1.c)
 *   1b only when a block is claimed twice without a refcount record
 *      saying so: the owners of those blocks (pass1b.c)
 *   2  directory blocks and entries (pass2.c)
 *   3  connectivity: directories not reachable from the root (pass3.c)
 *   4  orphan list, link counts (pass4.c)
 *   5  refcount tree against the file mappings, bitmaps against the
 *      blocks and inodes in use (pass5.c)
 *
 * -n never writes.  -y repairs what can be repaired (repair.c), then
 * checks again; -p repairs the same but for the refcount tree.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsck.h"

static const char progname[] = "fsck.reflinkfs";

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s -n|-y|-p [-v] [-f] DEVICE|FILE\n"
		"  -n   check only, open read-only, never write\n"
		"  -y   repair what can be repaired, without asking\n"
		"  -p, -a  preen: as -y, but leave the refcount tree\n"
		"  -f   accepted for compatibility (every check is full)\n"
		"  -v   verbose\n"
		"Exit: 0 clean, 1 errors fixed, 4 errors left uncorrected, 8 "
		"operational error\n", progname);
}

/*
 * Pass 0: the superblock and the journal.  Returns false when the rest
 * cannot be checked: the geometry cannot be trusted, the device does not
 * hold the filesystem, or the journal must be replayed first.
 */
static bool pass0(struct fsck *f)
{
	uint64_t compat = le64toh(f->sb.s_feature_compat);
	uint32_t state;
	bool geom_ok, recovery;
	void *jblk;

	fsck_info(f, "Pass 0: superblock and journal");
	f->errors += rlfs_check_super(&f->sb, report_cb, f, &geom_ok);
	if (!geom_ok)
		return false;
	rlfs_geom_from_super(&f->sb, &f->g);
	if (f->dev.size / RLFS_BLOCK_SIZE < f->g.blocks) {
		fsck_err(f, "superblock: the filesystem has %" PRIu64 " blocks "
			 "but %s has only %" PRIu64, f->g.blocks, f->path,
			 f->dev.size / RLFS_BLOCK_SIZE);
		return false;
	}
	state = le32toh(f->sb.s_state);
	if (state & RLFS_STATE_ERROR)
		fsck_err(f, "superblock: the filesystem is marked as having "
			 "errors");
	if (!(state & RLFS_STATE_CLEAN))
		fsck_info(f, "superblock: not cleanly unmounted");
	if (compat & ~RLFS_FEATURE_COMPAT_SUPP)
		fsck_info(f, "superblock: unknown compatible features 0x%"
			  PRIx64,
			  (uint64_t)(compat & ~RLFS_FEATURE_COMPAT_SUPP));

	jblk = xcalloc(1, RLFS_BLOCK_SIZE);
	read_or_die(f, f->g.journal_start, 1, jblk);
	f->errors += rlfs_check_jbd2_super(jblk, f->g.journal_start,
					   f->g.journal_blocks, report_cb, f,
					   &recovery);
	free(jblk);
	return !recovery;
}

/* Read the superblock; false if it is not a reflinkfs one. */
static bool read_super(struct fsck *f)
{
	read_or_die(f, 0, 1, f->buf);
	memcpy(&f->sb, f->buf, sizeof(f->sb));
	if (le32toh(f->sb.s_magic) != RLFS_SUPER_MAGIC) {
		fprintf(stderr, "%s: %s: not a reflinkfs filesystem (bad "
			"superblock magic 0x%08x)\n", progname, f->path,
			le32toh(f->sb.s_magic));
		return false;
	}
	return true;
}

static void run_passes(struct fsck *f)
{
	if (!pass0(f))
		return;
	f->checked = true;
	pass1(f);
	pass1b(f);
	pass2(f);
	pass3(f);
	pass4(f);
	pass5(f);
}

/*
 * -y, -p: repair, then check again from the start, up to three rounds
 * (a fix may bring another to light).  Returns the fixes made.
 */
static uint64_t repair_rounds(struct fsck *f)
{
	uint64_t fixed = 0, n;
	int round, err;

	for (round = 0; round < 3 && repair_wanted(f); round++) {
		n = repair(f);
		if (!n)
			break;
		fixed += n;
		printf("%s: %" PRIu64 " fix%s written; checking again\n",
		       progname, n, n == 1 ? "" : "es");
		fsck_reset(f);
		if (!read_super(f))
			return fixed;
		run_passes(f);
	}
	if (f->errors && f->checked && !rlfs_verify_super(&f->sb, 0, &err) &&
	    !(le32toh(f->sb.s_state) & RLFS_STATE_ERROR)) {
		/* What is left: the mark that corruption was seen. */
		f->sb.s_state |= htole32(RLFS_STATE_ERROR);
		rlfs_super_set_csum(&f->sb);
		read_or_die(f, 0, 1, f->scratch);
		memcpy(f->scratch, &f->sb, sizeof(f->sb));
		if (rlfs_write_blocks(&f->dev, 0, 1, f->scratch) ||
		    rlfs_dev_sync(&f->dev))
			fsck_fatal("%s: cannot write the superblock", f->path);
	}
	return fixed;
}

static int check(struct fsck *f)
{
	uint64_t found, fixed = 0;

	if (f->dev.size < RLFS_BLOCK_SIZE) {
		fprintf(stderr, "%s: %s: not a reflinkfs filesystem (only %"
			PRIu64 " bytes)\n", progname, f->path, f->dev.size);
		return EXIT_OPERATIONAL;
	}
	if (!read_super(f))
		return EXIT_OPERATIONAL;
	run_passes(f);
	found = f->errors;
	if (f->mode != MODE_CHECK)
		fixed = repair_rounds(f);

	if (!f->errors) {
		printf("reflinkfs %s: %sclean, %" PRIu64 "/%" PRIu64 " inodes, "
		       "%" PRIu64 "/%" PRIu64 " blocks\n", f->path,
		       fixed ? "repaired, " : "", f->used_inodes, f->g.inodes,
		       f->used_blocks, f->g.blocks);
		if (fixed)
			printf("reflinkfs %s: %" PRIu64 " error%s found, %"
			       PRIu64 " fix%s made\n", f->path, found,
			       found == 1 ? "" : "s", fixed,
			       fixed == 1 ? "" : "es");
		return fixed ? EXIT_FIXED : EXIT_OK;
	}
	if (f->mode == MODE_CHECK)
		printf("reflinkfs %s: %" PRIu64 " error%s found, not "
		       "repaired\n", f->path, f->errors,
		       f->errors == 1 ? "" : "s");
	else
		printf("reflinkfs %s: %" PRIu64 " error%s found, %" PRIu64
		       " fix%s made, %" PRIu64 " error%s left uncorrected\n",
		       f->path, found, found == 1 ? "" : "s", fixed,
		       fixed == 1 ? "" : "es", f->errors,
		       f->errors == 1 ? "" : "s");
	return EXIT_UNCORRECTED;
}

int main(int argc, char **argv)
{
	static struct fsck fs;
	struct fsck *f = &fs;
	bool check_only = false, repair = false, preen = false;
	int c, ret;

	while ((c = getopt(argc, argv, "nypafvh")) != -1) {
		switch (c) {
		case 'n':
			check_only = true;
			break;
		case 'y':
			repair = true;
			break;
		case 'p':
		case 'a':
			repair = preen = true;
			break;
		case 'f':
			break;
		case 'v':
			f->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_OPERATIONAL;
		}
	}
	if (optind != argc - 1 || check_only == repair) {
		if (check_only && repair)
			fprintf(stderr, "%s: -n and -y are mutually "
				"exclusive\n", progname);
		usage(stderr);
		return EXIT_OPERATIONAL;
	}
	f->path = argv[optind];
	f->mode = !repair ? MODE_CHECK : preen ? MODE_PREEN : MODE_REPAIR;

	/* Exclusive for a block device: a mounted one is refused. */
	ret = rlfs_dev_open(&f->dev, f->path,
			    repair ? O_RDWR | O_EXCL : O_RDONLY);
	if (ret)
		fsck_fatal("%s: cannot open: %s", f->path, strerror(-ret));
	ret = check(f);
	rlfs_dev_close(&f->dev);
	return ret;
}
