// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers of the reflinkfs userspace tools.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "rlfs.h"

/* ---- checksums ---------------------------------------------------- */

#define CRC32C_POLY	0x82F63B78U

static uint32_t crc32c_table[8][256];
static bool crc32c_ready;

static void crc32c_init(void)
{
	uint32_t i, j, crc;

	for (i = 0; i < 256; i++) {
		crc = i;
		for (j = 0; j < 8; j++)
			crc = (crc >> 1) ^ (CRC32C_POLY & -(crc & 1));
		crc32c_table[0][i] = crc;
	}
	for (i = 0; i < 256; i++) {
		crc = crc32c_table[0][i];
		for (j = 1; j < 8; j++) {
			crc = crc32c_table[0][crc & 0xff] ^ (crc >> 8);
			crc32c_table[j][i] = crc;
		}
	}
	crc32c_ready = true;
}

/* Slicing-by-8; same result as the bytewise definition in the header. */
uint32_t rlfs_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t lo, hi;

	if (!crc32c_ready)
		crc32c_init();
	while (len && ((uintptr_t)p & 7)) {
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		     (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		crc = crc32c_table[7][lo & 0xff] ^
		      crc32c_table[6][(lo >> 8) & 0xff] ^
		      crc32c_table[5][(lo >> 16) & 0xff] ^
		      crc32c_table[4][lo >> 24] ^
		      crc32c_table[3][hi & 0xff] ^
		      crc32c_table[2][(hi >> 8) & 0xff] ^
		      crc32c_table[1][(hi >> 16) & 0xff] ^
		      crc32c_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t rlfs_csum_skip(const void *buf, size_t len, size_t crc_off)
{
	static const uint8_t zero[4];
	const uint8_t *p = buf;
	uint32_t crc;

	crc = rlfs_crc32c(RLFS_CRC_SEED, p, crc_off);
	crc = rlfs_crc32c(crc, zero, sizeof(zero));
	return rlfs_crc32c(crc, p + crc_off + 4, len - crc_off - 4);
}

uint32_t rlfs_super_csum(const struct rlfs_super *sb)
{
	return rlfs_csum_skip(sb, sizeof(*sb),
			      offsetof(struct rlfs_super, s_crc));
}

uint32_t rlfs_inode_csum(const struct rlfs_inode *ino)
{
	return rlfs_csum_skip(ino, sizeof(*ino),
			      offsetof(struct rlfs_inode, i_crc));
}

uint32_t rlfs_block_csum(const void *block)
{
	return rlfs_csum_skip(block, RLFS_BLOCK_SIZE,
			      offsetof(struct rlfs_block_header, bh_crc));
}

bool rlfs_super_csum_ok(const struct rlfs_super *sb)
{
	return le32toh(sb->s_crc) == rlfs_super_csum(sb);
}

bool rlfs_inode_csum_ok(const struct rlfs_inode *ino)
{
	return le32toh(ino->i_crc) == rlfs_inode_csum(ino);
}

bool rlfs_block_csum_ok(const void *block)
{
	const struct rlfs_block_header *bh = block;

	return le32toh(bh->bh_crc) == rlfs_block_csum(block);
}

void rlfs_super_set_csum(struct rlfs_super *sb)
{
	sb->s_crc = htole32(rlfs_super_csum(sb));
}

void rlfs_inode_set_csum(struct rlfs_inode *ino)
{
	ino->i_crc = htole32(rlfs_inode_csum(ino));
}

void rlfs_block_set_csum(void *block)
{
	struct rlfs_block_header *bh = block;

	bh->bh_crc = htole32(rlfs_block_csum(block));
}

void rlfs_block_header_init(void *block, uint32_t magic, uint64_t blocknr,
			    uint64_t owner)
{
	struct rlfs_block_header *bh = block;

	bh->bh_magic = htole32(magic);
	bh->bh_crc = 0;
	bh->bh_blocknr = htole64(blocknr);
	bh->bh_owner = htole64(owner);
	bh->bh_reserved = 0;
}

/* ---- geometry ----------------------------------------------------- */

uint64_t rlfs_default_journal_blocks(uint64_t blocks)
{
	uint64_t j = blocks / 32;

	if (j < RLFS_MIN_JOURNAL_BLOCKS)
		j = RLFS_MIN_JOURNAL_BLOCKS;
	if (j > RLFS_MAX_JOURNAL_BLOCKS)
		j = RLFS_MAX_JOURNAL_BLOCKS;
	return j;
}

uint64_t rlfs_round_inodes(uint64_t inodes)
{
	if (inodes < RLFS_MIN_INODES)
		inodes = RLFS_MIN_INODES;
	if (inodes > RLFS_MAX_INODES)
		return inodes;		/* caller refuses it */
	return rlfs_div_round_up(inodes, RLFS_INODES_PER_BLOCK) *
	       RLFS_INODES_PER_BLOCK;
}

uint64_t rlfs_default_inodes(uint64_t blocks)
{
	uint64_t n = blocks / 4;

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

void rlfs_geom_from_super(const struct rlfs_super *sb, struct rlfs_geom *g)
{
	g->blocks = le64toh(sb->s_blocks);
	g->inodes = le64toh(sb->s_inodes);
	g->journal_start = le64toh(sb->s_journal_start);
	g->journal_blocks = le64toh(sb->s_journal_blocks);
	g->bbitmap_start = le64toh(sb->s_bbitmap_start);
	g->bbitmap_blocks = le64toh(sb->s_bbitmap_blocks);
	g->ibitmap_start = le64toh(sb->s_ibitmap_start);
	g->ibitmap_blocks = le64toh(sb->s_ibitmap_blocks);
	g->itable_start = le64toh(sb->s_itable_start);
	g->itable_blocks = le64toh(sb->s_itable_blocks);
	g->data_start = le64toh(sb->s_data_start);
}

/* ---- superblock / journal validation ------------------------------ */

/*
 * One region [start, start + len) must begin at expect_start and lie
 * within the filesystem.  Returns false (after reporting) if not.
 */
static bool check_region(const char *name, uint64_t start, uint64_t len,
			 uint64_t expect_start, uint64_t blocks,
			 rlfs_report_fn report, void *arg, unsigned int *n)
{
	bool ok = true;

	if (start != expect_start) {
		report(arg, "superblock: %s starts at block %" PRIu64
		       ", expected %" PRIu64, name, start, expect_start);
		(*n)++;
		ok = false;
	}
	if (start > blocks || len > blocks - start) {
		report(arg, "superblock: %s (blocks %" PRIu64 "+%" PRIu64
		       ") extends past the end of the filesystem (%" PRIu64
		       " blocks)", name, start, len, blocks);
		(*n)++;
		ok = false;
	}
	return ok;
}

unsigned int rlfs_check_super(const struct rlfs_super *sb,
			      rlfs_report_fn report, void *arg, bool *geom_ok)
{
	struct rlfs_geom g;
	unsigned int n = 0;
	uint64_t v, expect;
	bool ok = true;

	rlfs_geom_from_super(sb, &g);

	if (!rlfs_super_csum_ok(sb)) {
		report(arg, "superblock (block 0): bad checksum 0x%08x, "
		       "expected 0x%08x", le32toh(sb->s_crc),
		       rlfs_super_csum(sb));
		n++;
	}
	v = le64toh(sb->s_blocknr);
	if (v != RLFS_SUPER_BLOCKNR) {
		report(arg, "superblock (block 0): own block number is %"
		       PRIu64 ", expected 0", v);
		n++;
	}
	if (le32toh(sb->s_version) != RLFS_VERSION) {
		report(arg, "superblock: unsupported version %u (expected %u)",
		       le32toh(sb->s_version), RLFS_VERSION);
		n++;
		ok = false;
	}
	if (le32toh(sb->s_block_size) != RLFS_BLOCK_SIZE) {
		report(arg, "superblock: unsupported block size %u "
		       "(expected %u)", le32toh(sb->s_block_size),
		       RLFS_BLOCK_SIZE);
		n++;
		ok = false;
	}
	v = le64toh(sb->s_feature_incompat) & ~RLFS_FEATURE_INCOMPAT_SUPP;
	if (v) {
		report(arg, "superblock: unknown incompatible features 0x%"
		       PRIx64, v);
		n++;
		ok = false;
	}
	v = le64toh(sb->s_feature_ro_compat) & ~RLFS_FEATURE_RO_COMPAT_SUPP;
	if (v) {
		report(arg, "superblock: unknown read-only compatible "
		       "features 0x%" PRIx64, v);
		n++;
	}

	/* Sizes. */
	if (g.inodes % RLFS_INODES_PER_BLOCK || g.inodes < RLFS_MIN_INODES ||
	    g.inodes > RLFS_MAX_INODES) {
		report(arg, "superblock: bad inode count %" PRIu64
		       " (a multiple of %u in [%llu, %llu])", g.inodes,
		       (unsigned int)RLFS_INODES_PER_BLOCK, RLFS_MIN_INODES,
		       RLFS_MAX_INODES);
		n++;
		ok = false;
	}
	if (g.journal_blocks < RLFS_MIN_JOURNAL_BLOCKS ||
	    g.journal_blocks > RLFS_MAX_JOURNAL_BLOCKS) {
		report(arg, "superblock: journal size %" PRIu64 " blocks "
		       "outside [%llu, %llu]", g.journal_blocks,
		       RLFS_MIN_JOURNAL_BLOCKS, RLFS_MAX_JOURNAL_BLOCKS);
		n++;
		ok = false;
	}
	expect = rlfs_div_round_up(g.blocks, RLFS_BITS_PER_BITMAP);
	if (g.bbitmap_blocks != expect) {
		report(arg, "superblock: %" PRIu64 " block-bitmap blocks, "
		       "expected %" PRIu64 " for %" PRIu64 " blocks",
		       g.bbitmap_blocks, expect, g.blocks);
		n++;
		ok = false;
	}
	expect = rlfs_div_round_up(g.inodes, RLFS_BITS_PER_BITMAP);
	if (g.ibitmap_blocks != expect) {
		report(arg, "superblock: %" PRIu64 " inode-bitmap blocks, "
		       "expected %" PRIu64 " for %" PRIu64 " inodes",
		       g.ibitmap_blocks, expect, g.inodes);
		n++;
		ok = false;
	}
	expect = g.inodes / RLFS_INODES_PER_BLOCK;
	if (g.itable_blocks != expect) {
		report(arg, "superblock: %" PRIu64 " inode-table blocks, "
		       "expected %" PRIu64 " for %" PRIu64 " inodes",
		       g.itable_blocks, expect, g.inodes);
		n++;
		ok = false;
	}

	/* Regions: contiguous, in order, inside the filesystem. */
	ok &= check_region("journal", g.journal_start, g.journal_blocks, 1,
			   g.blocks, report, arg, &n);
	if (ok)
		ok &= check_region("block bitmap", g.bbitmap_start,
				   g.bbitmap_blocks,
				   g.journal_start + g.journal_blocks,
				   g.blocks, report, arg, &n);
	if (ok)
		ok &= check_region("inode bitmap", g.ibitmap_start,
				   g.ibitmap_blocks,
				   g.bbitmap_start + g.bbitmap_blocks,
				   g.blocks, report, arg, &n);
	if (ok)
		ok &= check_region("inode table", g.itable_start,
				   g.itable_blocks,
				   g.ibitmap_start + g.ibitmap_blocks,
				   g.blocks, report, arg, &n);
	if (ok)
		ok &= check_region("data area", g.data_start,
				   g.blocks - g.data_start,
				   g.itable_start + g.itable_blocks,
				   g.blocks, report, arg, &n);
	if (ok && g.data_start >= g.blocks) {
		report(arg, "superblock: no data area (data starts at block %"
		       PRIu64 " of %" PRIu64 ")", g.data_start, g.blocks);
		n++;
		ok = false;
	}

	v = le64toh(sb->s_root_ino);
	if (v != RLFS_ROOT_INO) {
		report(arg, "superblock: root inode is %" PRIu64
		       ", expected %llu", v, RLFS_ROOT_INO);
		n++;
	}
	if (!(le64toh(sb->s_feature_incompat) &
	      RLFS_FEATURE_INCOMPAT_REFCOUNT) &&
	    (sb->s_refcount_root || sb->s_refcount_depth)) {
		report(arg, "superblock: refcount tree root %" PRIu64
		       " (depth %u) without the refcount feature",
		       (uint64_t)le64toh(sb->s_refcount_root),
		       le32toh(sb->s_refcount_depth));
		n++;
	}
	*geom_ok = ok;
	return n;
}

void rlfs_jbd2_super_init(void *block, uint64_t journal_blocks,
			  const uint8_t uuid[RLFS_UUID_LEN])
{
	struct rlfs_jbd2_super *js = block;

	memset(js, 0, sizeof(*js));
	js->s_header.h_magic = htobe32(RLFS_JBD2_MAGIC);
	js->s_header.h_blocktype = htobe32(RLFS_JBD2_SUPERBLOCK_V2);
	js->s_header.h_sequence = 0;
	js->s_blocksize = htobe32(RLFS_BLOCK_SIZE);
	js->s_maxlen = htobe32((uint32_t)journal_blocks);
	js->s_first = htobe32(1);
	js->s_sequence = htobe32(1);
	js->s_start = 0;
	js->s_errno = 0;
	memcpy(js->s_uuid, uuid, RLFS_UUID_LEN);
	js->s_nr_users = htobe32(1);
	memcpy(js->s_users, uuid, RLFS_UUID_LEN);
}

unsigned int rlfs_check_jbd2_super(const void *block, uint64_t jblk,
				   uint64_t journal_blocks,
				   rlfs_report_fn report, void *arg,
				   bool *needs_recovery)
{
	const struct rlfs_jbd2_super *js = block;
	unsigned int n = 0;
	uint32_t v, maxlen;

	*needs_recovery = false;
	v = be32toh(js->s_header.h_magic);
	if (v != RLFS_JBD2_MAGIC) {
		report(arg, "journal superblock (block %" PRIu64 "): bad magic "
		       "0x%08x", jblk, v);
		return 1;
	}
	v = be32toh(js->s_header.h_blocktype);
	if (v != RLFS_JBD2_SUPERBLOCK_V1 && v != RLFS_JBD2_SUPERBLOCK_V2) {
		report(arg, "journal superblock (block %" PRIu64 "): bad block "
		       "type %u", jblk, v);
		n++;
	}
	v = be32toh(js->s_blocksize);
	if (v != RLFS_BLOCK_SIZE) {
		report(arg, "journal superblock (block %" PRIu64 "): block size "
		       "%u, expected %u", jblk, v, RLFS_BLOCK_SIZE);
		n++;
	}
	maxlen = be32toh(js->s_maxlen);
	if (maxlen != journal_blocks) {
		report(arg, "journal superblock (block %" PRIu64 "): length %u "
		       "blocks, superblock says %" PRIu64, jblk, maxlen,
		       journal_blocks);
		n++;
	}
	v = be32toh(js->s_first);
	if (v < 1 || v >= maxlen) {
		report(arg, "journal superblock (block %" PRIu64 "): first log "
		       "block %u outside [1, %u)", jblk, v, maxlen);
		n++;
	}
	v = be32toh(js->s_nr_users);
	if (v > RLFS_JBD2_USERS_MAX) {
		report(arg, "journal superblock (block %" PRIu64 "): %u users "
		       "(at most %u)", jblk, v, RLFS_JBD2_USERS_MAX);
		n++;
	}
	v = be32toh(js->s_errno);
	if (v) {
		report(arg, "journal superblock (block %" PRIu64 "): journal "
		       "aborted with error %d", jblk, (int32_t)v);
		n++;
	}
	if (js->s_start) {
		report(arg, "journal needs recovery; mount the filesystem to "
		       "replay it");
		*needs_recovery = true;
		n++;
	}
	return n;
}

/* ---- inodes ------------------------------------------------------- */

int rlfs_mode_to_ftype(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return RLFS_FT_REG;
	case S_IFDIR:
		return RLFS_FT_DIR;
	case S_IFLNK:
		return RLFS_FT_SYMLINK;
	case S_IFCHR:
		return RLFS_FT_CHRDEV;
	case S_IFBLK:
		return RLFS_FT_BLKDEV;
	case S_IFIFO:
		return RLFS_FT_FIFO;
	case S_IFSOCK:
		return RLFS_FT_SOCK;
	}
	return -1;
}

const char *rlfs_ftype_name(int ftype)
{
	switch (ftype) {
	case RLFS_FT_REG:
		return "regular file";
	case RLFS_FT_DIR:
		return "directory";
	case RLFS_FT_SYMLINK:
		return "symlink";
	case RLFS_FT_CHRDEV:
		return "character device";
	case RLFS_FT_BLKDEV:
		return "block device";
	case RLFS_FT_FIFO:
		return "fifo";
	case RLFS_FT_SOCK:
		return "socket";
	case RLFS_FT_UNKNOWN:
		return "unknown";
	}
	return "invalid";
}

/* ---- devices ------------------------------------------------------ */

int rlfs_dev_get_size(struct rlfs_dev *dev)
{
	struct stat st;
	uint64_t size;

	if (fstat(dev->fd, &st))
		return -errno;
	dev->is_blkdev = S_ISBLK(st.st_mode);
	if (dev->is_blkdev) {
		if (ioctl(dev->fd, BLKGETSIZE64, &size))
			return -errno;
		dev->size = size;
	} else if (S_ISREG(st.st_mode)) {
		dev->size = st.st_size;
	} else {
		return -EINVAL;
	}
	return 0;
}

int rlfs_dev_open(struct rlfs_dev *dev, const char *path, int flags)
{
	int excl = flags & O_EXCL;
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->path = path;
	dev->fd = open(path, (flags & ~O_EXCL) | O_CLOEXEC, 0666);
	if (dev->fd < 0)
		return -errno;
	ret = rlfs_dev_get_size(dev);
	if (!ret && dev->is_blkdev && excl) {
		close(dev->fd);
		dev->fd = open(path, (flags & ~O_CREAT) | O_CLOEXEC);
		if (dev->fd < 0)
			return -errno;
		ret = rlfs_dev_get_size(dev);
	}
	if (ret) {
		close(dev->fd);
		dev->fd = -1;
	}
	return ret;
}

int rlfs_dev_close(struct rlfs_dev *dev)
{
	int ret = 0;

	if (dev->fd >= 0 && close(dev->fd))
		ret = -errno;
	dev->fd = -1;
	return ret;
}

ssize_t rlfs_pread_full(struct rlfs_dev *dev, void *buf, size_t len,
			uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = pread(dev->fd, (char *)buf + done, len - done, off + done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		done += r;
	}
	return done;
}

static int pwrite_full(struct rlfs_dev *dev, const void *buf, size_t len,
		       uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = pwrite(dev->fd, (const char *)buf + done, len - done,
			   off + done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ENOSPC;
		done += r;
	}
	return 0;
}

static bool blocks_overflow(uint64_t blk, uint64_t count, uint64_t *off,
			    size_t *len)
{
	uint64_t o, l;

	if (__builtin_mul_overflow(blk, RLFS_BLOCK_SIZE, &o) ||
	    __builtin_mul_overflow(count, RLFS_BLOCK_SIZE, &l) ||
	    l > SIZE_MAX || o + l < o)
		return true;
	*off = o;
	*len = l;
	return false;
}

int rlfs_read_blocks(struct rlfs_dev *dev, uint64_t blk, uint64_t count,
		     void *buf)
{
	uint64_t off;
	size_t len;
	ssize_t r;

	if (blocks_overflow(blk, count, &off, &len))
		return -EINVAL;
	r = rlfs_pread_full(dev, buf, len, off);
	if (r < 0)
		return r;
	if ((size_t)r != len)
		return -EIO;
	return 0;
}

int rlfs_write_blocks(struct rlfs_dev *dev, uint64_t blk, uint64_t count,
		      const void *buf)
{
	uint64_t off;
	size_t len;

	if (blocks_overflow(blk, count, &off, &len))
		return -EINVAL;
	return pwrite_full(dev, buf, len, off);
}

#define ZERO_CHUNK	(1U << 20)

static int write_zeroes(struct rlfs_dev *dev, uint64_t off, uint64_t len)
{
	void *buf = calloc(1, ZERO_CHUNK);
	size_t n;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (len) {
		n = len < ZERO_CHUNK ? len : ZERO_CHUNK;
		ret = pwrite_full(dev, buf, n, off);
		if (ret)
			break;
		off += n;
		len -= n;
	}
	free(buf);
	return ret;
}

int rlfs_zero_blocks(struct rlfs_dev *dev, uint64_t blk, uint64_t count)
{
	uint64_t range[2];
	uint64_t off;
	size_t len;

	if (!count)
		return 0;
	if (blocks_overflow(blk, count, &off, &len))
		return -EINVAL;
	if (dev->is_blkdev) {
		range[0] = off;
		range[1] = len;
		if (!ioctl(dev->fd, BLKZEROOUT, range))
			return 0;
		if (errno != EOPNOTSUPP && errno != ENOTTY && errno != EINVAL)
			return -errno;
	} else {
		if (!fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, off, len))
			return 0;
		if (errno != EOPNOTSUPP && errno != ENOSYS)
			return -errno;
	}
	return write_zeroes(dev, off, len);
}

int rlfs_dev_sync(struct rlfs_dev *dev)
{
	if (fsync(dev->fd))
		return -errno;
	return 0;
}

/* ---- misc --------------------------------------------------------- */

void rlfs_uuid_unparse(const uint8_t u[RLFS_UUID_LEN], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4],
		 u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

bool rlfs_parse_u64(const char *s, uint64_t *val)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*val = v;
	return true;
}
