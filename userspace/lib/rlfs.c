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

/* ---- superblock / journal validation ------------------------------ */

unsigned int rlfs_check_super(const struct rlfs_super *sb,
			      rlfs_report_fn report, void *arg, bool *geom_ok)
{
	struct rlfs_geom g;
	unsigned int n = 0;
	const char *why;
	int error;
	uint64_t v;

	rlfs_geom_from_super(sb, &g);
	why = rlfs_verify_super(sb, 0, &error);
	if (why) {
		report(arg, "superblock (block 0): %s (version %u, block size "
		       "%u, %" PRIu64 " blocks, %" PRIu64 " inodes, journal %"
		       PRIu64 "+%" PRIu64 ", data at %" PRIu64 ")", why,
		       le32toh(sb->s_version), le32toh(sb->s_block_size),
		       g.blocks, g.inodes, g.journal_start, g.journal_blocks,
		       g.data_start);
		n++;
	}
	v = rlfs_super_ro_unknown(sb);
	if (v) {
		report(arg, "superblock: unknown read-only compatible "
		       "features 0x%" PRIx64, v);
		n++;
	}
	*geom_ok = !rlfs_super_unsupported(sb) && !rlfs_verify_geom(&g);
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
