// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs: reporting, memory, reads, and the calls to the format
 * core's block verifiers that every pass shares.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"

static const char progname[] = "fsck.reflinkfs";

/* ---- reporting ---------------------------------------------------- */

void fsck_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_OPERATIONAL);
}

void fsck_err(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	if (f->pass1b)
		return;
	f->errors++;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void fsck_info(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->verbose || f->pass1b)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* For the library checks, which count their problems themselves. */
void report_cb(void *arg __attribute__((unused)), const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* "block N" or "blocks N-M" for [start, start + len), len > 0. */
const char *blocks_str(char *buf, size_t size, uint64_t start, uint64_t len)
{
	if (len == 1)
		snprintf(buf, size, "block %" PRIu64, start);
	else
		snprintf(buf, size, "blocks %" PRIu64 "-%" PRIu64, start,
			 start + len - 1);
	return buf;
}

/* ---- memory and reads --------------------------------------------- */

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fsck_fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *xrealloc_array(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		fsck_fatal("out of memory");
	q = realloc(p, n && size ? n * size : 1);
	if (!q)
		fsck_fatal("out of memory (%zu x %zu bytes)", n, size);
	return q;
}

void read_or_die(struct fsck *f, uint64_t blk, uint64_t n, void *buf)
{
	int ret = rlfs_read_blocks(&f->dev, blk, n, buf);

	if (ret)
		fsck_fatal("%s: cannot read block %" PRIu64 ": %s", f->path,
			   blk, strerror(-ret));
}

void read_inode(struct fsck *f, uint64_t ino, struct rlfs_inode *ri)
{
	uint64_t off = (f->g.itable_start +
			ino / RLFS_INODES_PER_BLOCK) * RLFS_BLOCK_SIZE +
		       (ino % RLFS_INODES_PER_BLOCK) * RLFS_INODE_SIZE;
	ssize_t r = rlfs_pread_full(&f->dev, ri, sizeof(*ri), off);

	if (r != (ssize_t)sizeof(*ri))
		fsck_fatal("%s: cannot read inode %" PRIu64 ": %s", f->path,
			   ino, r < 0 ? strerror(-r) : "short read");
}

/* ---- the core's verdicts ------------------------------------------ */

/*
 * The header and checksum of metadata block @blk, which should have
 * @magic and @owner (rlfs_verify_block_header(), rlfs_verify_block_crc()).
 * A problem is reported as "WHERE: reason (what the header holds)", WHERE
 * formatted from @where_fmt.  A block whose header is wrong is not the
 * block the caller expected and must not be used; one with a bad
 * checksum is still checked, so that one flipped bit does not hide the
 * rest of what it holds.
 */
enum blk_verdict check_block(struct fsck *f, const void *block, u32 magic,
			     uint64_t blk, uint64_t owner,
			     const char *where_fmt, ...)
{
	const struct rlfs_block_header *bh = block;
	enum blk_verdict v = BLK_BAD_HEADER;
	const char *why;
	char where[128];
	va_list ap;

	why = rlfs_verify_block_header(block, magic, blk, owner);
	if (!why) {
		v = BLK_BAD_CRC;
		why = rlfs_verify_block_crc(block);
		if (!why)
			return BLK_OK;
	}
	va_start(ap, where_fmt);
	vsnprintf(where, sizeof(where), where_fmt, ap);
	va_end(ap);
	if (v == BLK_BAD_CRC)
		fsck_err(f, "%s: %s (crc 0x%08x, computed 0x%08x)", where, why,
			 le32toh(bh->bh_crc), rlfs_block_csum(block));
	else
		fsck_err(f, "%s: %s (magic 0x%08x, block %" PRIu64 ", owner %"
			 PRIu64 "; expected magic 0x%08x, owner %" PRIu64 ")",
			 where, why, le32toh(bh->bh_magic),
			 (uint64_t)le64toh(bh->bh_blocknr),
			 (uint64_t)le64toh(bh->bh_owner), magic, owner);
	return v;
}

/*
 * The core's verdict on one B+tree node (rlfs_verify_extent_node() or
 * rlfs_verify_refcount_node(), same arguments); *@why and *@entry as it
 * returns them.  Returns how many of its entries the walk may use: all of
 * them if the node is valid; else, when the fault is at an entry, the
 * entries before it if the core accepts them as a node on their own (a
 * copy of the node cut before the fault is verified again), so that one
 * bad record costs only what follows it; else none.
 */
int usable_entries(struct fsck *f, node_verifier verify,
		   const struct rlfs_btree_header *h, bool root, int depth,
		   uint64_t lo, uint64_t hi, const char **why, int *entry)
{
	struct rlfs_btree_header *cut = (void *)f->scratch;
	int e;

	*why = verify(h, root, depth, lo, hi, &f->g, entry);
	if (!*why)
		return rlfs_bt_entries(h);
	if (*entry <= 0)
		return 0;
	/* The header passed: *entry < bt_entries <= bt_max, in the node. */
	memcpy(cut, h, sizeof(*h) + (size_t)*entry * RLFS_BT_ENTRY_SIZE);
	cut->bt_entries = htole16(*entry);
	if (verify(cut, root, depth, lo, hi, &f->g, &e))
		return 0;
	return *entry;
}
