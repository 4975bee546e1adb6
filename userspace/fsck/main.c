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
 * Nothing is ever written; -y is accepted but repair is not implemented.
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
		"Usage: %s -n|-y [-v] [-f] DEVICE|FILE\n"
		"  -n   check only, open read-only, never write\n"
		"  -y   repair (not implemented yet: checks only)\n"
		"  -p, -a  same as -y\n"
		"  -f   accepted for compatibility (every check is full)\n"
		"  -v   verbose\n"
		"Exit: 0 clean, 4 errors left uncorrected, 8 operational "
		"error\n", progname);
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

static int check(struct fsck *f)
{
	if (f->dev.size < RLFS_BLOCK_SIZE) {
		fprintf(stderr, "%s: %s: not a reflinkfs filesystem (only %"
			PRIu64 " bytes)\n", progname, f->path, f->dev.size);
		return EXIT_OPERATIONAL;
	}
	read_or_die(f, 0, 1, f->buf);
	memcpy(&f->sb, f->buf, sizeof(f->sb));
	if (le32toh(f->sb.s_magic) != RLFS_SUPER_MAGIC) {
		fprintf(stderr, "%s: %s: not a reflinkfs filesystem (bad "
			"superblock magic 0x%08x)\n", progname, f->path,
			le32toh(f->sb.s_magic));
		return EXIT_OPERATIONAL;
	}
	if (pass0(f)) {
		pass1(f);
		pass1b(f);
		pass2(f);
		pass3(f);
		pass4(f);
		pass5(f);
	}

	if (!f->errors) {
		printf("reflinkfs %s: clean, %" PRIu64 "/%" PRIu64 " inodes, %"
		       PRIu64 "/%" PRIu64 " blocks\n", f->path, f->used_inodes,
		       f->g.inodes, f->used_blocks, f->g.blocks);
		return EXIT_OK;
	}
	printf("reflinkfs %s: %" PRIu64 " error%s found, not repaired\n",
	       f->path, f->errors, f->errors == 1 ? "" : "s");
	return EXIT_UNCORRECTED;
}

int main(int argc, char **argv)
{
	static struct fsck fs;
	struct fsck *f = &fs;
	bool check_only = false, repair = false;
	int c, ret;

	while ((c = getopt(argc, argv, "nypafvh")) != -1) {
		switch (c) {
		case 'n':
			check_only = true;
			break;
		case 'y':
		case 'p':
		case 'a':
			repair = true;
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
	if (repair)
		printf("%s: repair is not implemented yet; checking only\n",
		       progname);

	ret = rlfs_dev_open(&f->dev, f->path, O_RDONLY);
	if (ret)
		fsck_fatal("%s: cannot open: %s", f->path, strerror(-ret));
	ret = check(f);
	rlfs_dev_close(&f->dev);
	return ret;
}
