// SPDX-License-Identifier: GPL-2.0
/*
 * mkfs.reflinkfs - create a reflinkfs filesystem.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rlfs.h"

static const char *progname = "mkfs.reflinkfs";

#define BLOCK_KIB	(RLFS_BLOCK_SIZE / 1024)

struct mkfs_opts {
	bool		force;
	const char	*label;
	uint64_t	inodes;		/* 0: default */
	uint64_t	journal_blocks;	/* 0: default */
	uint64_t	blocks;		/* 0: device size */
	const char	*path;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-f] [-L label] [-b %u] [-N inodes] "
		"[-J journal_blocks] DEVICE|FILE [BLOCKS]\n"
		"  -f              overwrite an existing filesystem without "
		"asking\n"
		"  -L label        volume label (at most %d bytes)\n"
		"  -b block_size   block size, only %u is supported\n"
		"  -N inodes       number of inodes (default: one per 16 KiB)\n"
		"  -J blocks       journal size in %u KiB blocks (%llu..%llu)\n"
		"  BLOCKS          filesystem size in %u KiB blocks "
		"(default: whole device)\n",
		progname, RLFS_BLOCK_SIZE, RLFS_LABEL_LEN - 1, RLFS_BLOCK_SIZE,
		BLOCK_KIB, RLFS_MIN_JOURNAL_BLOCKS, RLFS_MAX_JOURNAL_BLOCKS,
		BLOCK_KIB);
}

static void RLFS_PRINTF(1, 2) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void parse_args(int argc, char **argv, struct mkfs_opts *o)
{
	uint64_t v;
	int c;

	while ((c = getopt(argc, argv, "fL:b:N:J:h")) != -1) {
		switch (c) {
		case 'f':
			o->force = true;
			break;
		case 'L':
			if (strlen(optarg) > RLFS_LABEL_LEN - 1)
				die("label '%s' is too long (at most %d bytes)",
				    optarg, RLFS_LABEL_LEN - 1);
			o->label = optarg;
			break;
		case 'b':
			if (!rlfs_parse_u64(optarg, &v) ||
			    v != RLFS_BLOCK_SIZE)
				die("invalid block size '%s': only %u is "
				    "supported", optarg, RLFS_BLOCK_SIZE);
			break;
		case 'N':
			if (!rlfs_parse_u64(optarg, &v) || v == 0 ||
			    v > RLFS_MAX_INODES)
				die("invalid inode count '%s' (1..%llu)",
				    optarg, RLFS_MAX_INODES);
			o->inodes = rlfs_round_inodes(v);
			break;
		case 'J':
			if (!rlfs_parse_u64(optarg, &v) ||
			    v < RLFS_MIN_JOURNAL_BLOCKS ||
			    v > RLFS_MAX_JOURNAL_BLOCKS)
				die("invalid journal size '%s' (%llu..%llu "
				    "blocks)", optarg, RLFS_MIN_JOURNAL_BLOCKS,
				    RLFS_MAX_JOURNAL_BLOCKS);
			o->journal_blocks = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind >= argc || argc - optind > 2) {
		usage(stderr);
		exit(1);
	}
	o->path = argv[optind];
	if (argc - optind == 2) {
		if (!rlfs_parse_u64(argv[optind + 1], &o->blocks) ||
		    !o->blocks)
			die("invalid block count '%s'", argv[optind + 1]);
	}
}

/* Geometry for a filesystem of the given size and the options. */
static void compute_geom(const struct mkfs_opts *o, uint64_t blocks,
			 struct rlfs_geom *g)
{
	memset(g, 0, sizeof(*g));
	g->blocks = blocks;
	g->journal_blocks = o->journal_blocks ? o->journal_blocks :
			    rlfs_default_journal_blocks(blocks);
	g->inodes = o->inodes ? o->inodes : rlfs_default_inodes(blocks);
	rlfs_geom_layout(g);
}

/*
 * Smallest size for which the metadata plus RLFS_MIN_DATA_BLOCKS fit.
 * data_start grows with the size, so iterate size = data_start(size) +
 * RLFS_MIN_DATA_BLOCKS from below: the sequence increases to the least
 * solution.
 */
static uint64_t min_blocks(const struct mkfs_opts *o)
{
	struct rlfs_geom g;
	uint64_t n = 0;
	int i;

	for (i = 0; i < 1000; i++) {
		compute_geom(o, n, &g);
		if (g.data_start + RLFS_MIN_DATA_BLOCKS == n)
			break;
		n = g.data_start + RLFS_MIN_DATA_BLOCKS;
	}
	return n;
}

/*
 * Refuse a geometry the format core refuses (rlfs_verify_geom()); one
 * too small for the metadata is told the least size that fits.
 */
static void check_size(const struct mkfs_opts *o, const char *path)
{
	struct rlfs_geom g;
	const char *why;
	uint64_t need;

	compute_geom(o, o->blocks, &g);
	why = rlfs_verify_geom(&g);
	if (!why)
		return;
	need = min_blocks(o);
	if (g.blocks < need)
		die("%s: %" PRIu64 " blocks (%" PRIu64 " KiB) is too small: "
		    "at least %" PRIu64 " blocks (%" PRIu64 " KiB) are needed "
		    "with this journal size and inode count", path,
		    g.blocks, g.blocks * BLOCK_KIB, need, need * BLOCK_KIB);
	die("%s: cannot make a filesystem of %" PRIu64 " blocks: %s", path,
	    g.blocks, why);
}

#define PROBE_BYTES	(65600 + 8)

/* Name of a filesystem found at the start of the device, or NULL. */
static const char *probe_fs(struct rlfs_dev *dev)
{
	static uint8_t buf[PROBE_BYTES];
	const struct rlfs_super *sb = (const void *)buf;
	ssize_t n;
	uint32_t compat, incompat;

	n = rlfs_pread_full(dev, buf, sizeof(buf), 0);
	if (n < 0)
		die("%s: cannot read: %s", dev->path, strerror(-n));
	memset(buf + n, 0, sizeof(buf) - n);

	if (le32toh(sb->s_magic) == RLFS_SUPER_MAGIC &&
	    le32toh(sb->s_crc) == rlfs_super_csum(sb))
		return "reflinkfs";
	if (buf[1080] == 0x53 && buf[1081] == 0xef) {
		compat = buf[1024 + 0x5c] | buf[1024 + 0x5d] << 8;
		incompat = buf[1024 + 0x60] | buf[1024 + 0x61] << 8;
		if (incompat & 0x40)		/* extents */
			return "ext4";
		if (compat & 0x4)		/* has journal */
			return "ext3";
		return "ext2";
	}
	if (!memcmp(buf, "XFSB", 4))
		return "xfs";
	if (!memcmp(buf + 65600, "_BHRfS_M", 8))
		return "btrfs";
	return NULL;
}

static bool ask_proceed(void)
{
	char *line = NULL;
	size_t cap = 0;
	bool yes;

	printf("Proceed anyway? (y,N) ");
	fflush(stdout);
	if (getline(&line, &cap, stdin) < 0) {
		free(line);
		putchar('\n');
		return false;
	}
	yes = line[0] == 'y' || line[0] == 'Y';
	free(line);
	if (!isatty(STDIN_FILENO))
		putchar('\n');	/* the answer was not echoed */
	return yes;
}

static void write_or_die(struct rlfs_dev *dev, uint64_t blk, uint64_t n,
			 const void *buf, const char *what)
{
	int ret = rlfs_write_blocks(dev, blk, n, buf);

	if (ret)
		die("%s: cannot write %s (block %" PRIu64 "): %s", dev->path,
		    what, blk, strerror(-ret));
}

/*
 * Write a bitmap of nbits items over nblocks blocks starting at start:
 * items below used_below and at or past nbits are set.
 */
static void write_bitmap(struct rlfs_dev *dev, uint64_t start,
			 uint64_t nblocks, uint64_t used_below, uint64_t nbits,
			 const char *what)
{
	struct rlfs_bitmap_block *bb = malloc(RLFS_BLOCK_SIZE);
	uint64_t k, first, i, lo, hi;

	if (!bb)
		die("out of memory");
	for (k = 0; k < nblocks; k++) {
		memset(bb, 0, RLFS_BLOCK_SIZE);
		rlfs_block_header_init(bb, RLFS_BITMAP_MAGIC, start + k, 0);
		first = k * RLFS_BITS_PER_BITMAP;
		/* set [0, used_below) and [nbits, inf) within this block */
		hi = used_below > first ? used_below - first : 0;
		if (hi > RLFS_BITS_PER_BITMAP)
			hi = RLFS_BITS_PER_BITMAP;
		for (i = 0; i < hi; i++)
			rlfs_set_bit(bb->bb_bits, i);
		lo = nbits > first ? nbits - first : 0;
		for (i = lo; i < RLFS_BITS_PER_BITMAP; i++)
			rlfs_set_bit(bb->bb_bits, i);
		rlfs_block_set_csum(bb);
		write_or_die(dev, start + k, 1, bb, what);
	}
	free(bb);
}

static void make_root_inode(struct rlfs_inode *ri, const struct timespec *now)
{
	memset(ri, 0, sizeof(*ri));
	ri->i_magic = htole32(RLFS_INODE_MAGIC);
	ri->i_ino = htole64(RLFS_ROOT_INO);
	ri->i_mode = htole16(S_IFDIR | 0755);
	ri->i_nlink = htole32(2);
	ri->i_uid = 0;
	ri->i_gid = 0;
	ri->i_size = 0;
	ri->i_blocks = 0;
	ri->i_atime = ri->i_mtime = ri->i_ctime = ri->i_crtime =
		htole64((int64_t)now->tv_sec);
	ri->i_atime_ns = ri->i_mtime_ns = ri->i_ctime_ns = ri->i_crtime_ns =
		htole32((uint32_t)now->tv_nsec);
	ri->i_generation = 0;
	ri->i_parent = htole64(RLFS_ROOT_INO);
	ri->i_eh.bt_entries = 0;
	ri->i_eh.bt_max = htole16(RLFS_INODE_ROOT_ENTRIES);
	ri->i_eh.bt_depth = 0;
	rlfs_inode_set_csum(ri);
}

static void make_super(struct rlfs_super *sb, const struct rlfs_geom *g,
		       const struct mkfs_opts *o, const uint8_t *uuid,
		       const struct timespec *now)
{
	memset(sb, 0, sizeof(*sb));
	sb->s_magic = htole32(RLFS_SUPER_MAGIC);
	sb->s_blocknr = htole64(RLFS_SUPER_BLOCKNR);
	sb->s_version = htole32(RLFS_VERSION);
	sb->s_block_size = htole32(RLFS_BLOCK_SIZE);
	sb->s_feature_compat = 0;
	/* Snapshot records and lineage ids may be written. */
	sb->s_feature_ro_compat = htole64(RLFS_FEATURE_RO_COMPAT_SNAPSHOT);
	/* An empty refcount tree (s_refcount_root 0), ready for reflinks. */
	sb->s_feature_incompat = htole64(RLFS_FEATURE_INCOMPAT_REFCOUNT);
	memcpy(sb->s_uuid, uuid, RLFS_UUID_LEN);
	if (o->label)
		strncpy(sb->s_label, o->label, RLFS_LABEL_LEN - 1);
	sb->s_blocks = htole64(g->blocks);
	sb->s_inodes = htole64(g->inodes);
	sb->s_free_blocks = htole64(g->blocks - g->data_start);
	sb->s_free_inodes = htole64(g->inodes - RLFS_FIRST_INO);
	sb->s_journal_start = htole64(g->journal_start);
	sb->s_journal_blocks = htole64(g->journal_blocks);
	sb->s_bbitmap_start = htole64(g->bbitmap_start);
	sb->s_bbitmap_blocks = htole64(g->bbitmap_blocks);
	sb->s_ibitmap_start = htole64(g->ibitmap_start);
	sb->s_ibitmap_blocks = htole64(g->ibitmap_blocks);
	sb->s_itable_start = htole64(g->itable_start);
	sb->s_itable_blocks = htole64(g->itable_blocks);
	sb->s_data_start = htole64(g->data_start);
	sb->s_root_ino = htole64(RLFS_ROOT_INO);
	sb->s_orphan_head = 0;
	sb->s_refcount_root = 0;
	sb->s_refcount_depth = 0;
	sb->s_state = htole32(RLFS_STATE_CLEAN);
	sb->s_mkfs_time = htole64((uint64_t)now->tv_sec);
	sb->s_mount_time = 0;
	sb->s_write_time = htole64((uint64_t)now->tv_sec);
	sb->s_mount_count = 0;
	sb->s_next_generation = htole32(1);
	rlfs_super_set_csum(sb);
}

static void make_uuid(uint8_t *uuid)
{
	size_t done = 0;
	ssize_t r;

	while (done < RLFS_UUID_LEN) {
		r = getrandom(uuid + done, RLFS_UUID_LEN - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("getrandom: %s", strerror(errno));
		}
		done += r;
	}
	uuid[6] = (uuid[6] & 0x0f) | 0x40;	/* version 4 */
	uuid[8] = (uuid[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
}

int main(int argc, char **argv)
{
	struct mkfs_opts o = { 0 };
	struct rlfs_dev dev;
	struct rlfs_geom g;
	struct timespec now;
	uint8_t uuid[RLFS_UUID_LEN];
	uint64_t dev_blocks;
	const char *fstype;
	bool create = false;
	struct stat st;
	char uuid_str[37];
	void *blk;
	int ret;

	parse_args(argc, argv, &o);
	if (o.blocks)
		check_size(&o, o.path);

	if (stat(o.path, &st)) {
		if (errno != ENOENT || !o.blocks)
			die("%s: %s", o.path, strerror(errno));
		create = true;	/* new image file of BLOCKS blocks */
	} else if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
		die("%s: not a block device or regular file", o.path);
	}
	ret = rlfs_dev_open(&dev, o.path, O_RDWR | O_EXCL |
			    (create ? O_CREAT : 0));
	if (ret)
		die("%s: cannot open: %s", o.path, strerror(-ret));

	dev_blocks = dev.size / RLFS_BLOCK_SIZE;
	if (o.blocks) {
		if (o.blocks > dev_blocks && dev.is_blkdev)
			die("%s: %" PRIu64 " blocks requested but the device "
			    "has only %" PRIu64 " blocks", o.path, o.blocks,
			    dev_blocks);
	} else {
		o.blocks = dev_blocks;
	}
	check_size(&o, o.path);
	compute_geom(&o, o.blocks, &g);

	if (!o.force && !create) {
		fstype = probe_fs(&dev);
		if (fstype) {
			printf("%s contains a %s file system\n", o.path,
			       fstype);
			if (!ask_proceed()) {
				fprintf(stderr, "%s: aborted\n", progname);
				exit(1);
			}
		}
	}

	if (!dev.is_blkdev && dev.size < g.blocks * RLFS_BLOCK_SIZE &&
	    ftruncate(dev.fd, g.blocks * RLFS_BLOCK_SIZE))
		die("%s: cannot extend to %" PRIu64 " bytes: %s", o.path,
		    g.blocks * RLFS_BLOCK_SIZE, strerror(errno));

	make_uuid(uuid);
	clock_gettime(CLOCK_REALTIME, &now);
	blk = calloc(1, RLFS_BLOCK_SIZE);
	if (!blk)
		die("out of memory");

	/* Invalidate the old superblock first: no half-made filesystem. */
	write_or_die(&dev, 0, 1, blk, "superblock");

	ret = rlfs_zero_blocks(&dev, g.journal_start, g.journal_blocks);
	if (ret)
		die("%s: cannot zero the journal: %s", o.path,
		    strerror(-ret));
	ret = rlfs_zero_blocks(&dev, g.itable_start, g.itable_blocks);
	if (ret)
		die("%s: cannot zero the inode table: %s", o.path,
		    strerror(-ret));

	rlfs_jbd2_super_init(blk, g.journal_blocks, uuid);
	write_or_die(&dev, g.journal_start, 1, blk, "journal superblock");

	write_bitmap(&dev, g.bbitmap_start, g.bbitmap_blocks, g.data_start,
		     g.blocks, "block bitmap");
	write_bitmap(&dev, g.ibitmap_start, g.ibitmap_blocks,
		     RLFS_FIRST_INO, g.inodes, "inode bitmap");

	memset(blk, 0, RLFS_BLOCK_SIZE);
	make_root_inode((struct rlfs_inode *)blk + RLFS_ROOT_INO, &now);
	write_or_die(&dev, g.itable_start, 1, blk, "inode table");

	ret = rlfs_dev_sync(&dev);
	if (ret)
		die("%s: fsync: %s", o.path, strerror(-ret));

	memset(blk, 0, RLFS_BLOCK_SIZE);
	make_super(blk, &g, &o, uuid, &now);
	write_or_die(&dev, 0, 1, blk, "superblock");
	ret = rlfs_dev_sync(&dev);
	if (ret)
		die("%s: fsync: %s", o.path, strerror(-ret));
	ret = rlfs_dev_close(&dev);
	if (ret)
		die("%s: close: %s", o.path, strerror(-ret));
	free(blk);

	rlfs_uuid_unparse(uuid, uuid_str);
	printf("Created reflinkfs on %s\n", o.path);
	printf("  blocks:  %" PRIu64 " x %u KiB (%" PRIu64 " MiB), data "
	       "area starts at block %" PRIu64 "\n", g.blocks, BLOCK_KIB,
	       g.blocks * BLOCK_KIB / 1024, g.data_start);
	printf("  inodes:  %" PRIu64 "\n", g.inodes);
	printf("  journal: %" PRIu64 " blocks (%" PRIu64 " MiB)\n",
	       g.journal_blocks, g.journal_blocks * BLOCK_KIB / 1024);
	printf("  feature: refcount (empty refcount tree), snapshot\n");
	printf("  label:   %s\n", o.label ? o.label : "(none)");
	printf("  UUID:    %s\n", uuid_str);
	return 0;
}
