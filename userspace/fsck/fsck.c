// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs - check a reflinkfs filesystem.
 *
 * Passes:
 *   0  superblock, geometry, journal superblock
 *   1  bitmap blocks; refcount tree (nodes, records); inode table: every
 *      slot against the inode bitmap, every in-use inode (extent trees,
 *      symlinks, xattr block), counting the references to every block in
 *      refs[] and marking metadata blocks in bkind[]
 *   1b (only when a block is referenced twice without a refcount record
 *      saying so) find the owners of the multiply-claimed blocks
 *   1c reference counts: every refcount record against the file mappings
 *   2  orphan list; every directory: blocks, records, names, targets
 *   3  reachability from the root, link counts, parents
 *   4  block bitmap against refs[], inode bitmap tail
 *
 * Nothing is ever written; -y is accepted but repair is not implemented.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rlfs.h"

#define EXIT_OK		0
#define EXIT_UNCORRECTED 4
#define EXIT_OPERATIONAL 8

static const char *progname = "fsck.reflinkfs";

/* Per-inode state, indexed by inode number. */
#define II_ALLOC	0x01	/* bit set in the inode bitmap (or assumed) */
#define II_INUSE	0x02	/* valid in-use record: checked further */
#define II_BAD		0x04	/* allocated but unusable record */
#define II_ORPHAN	0x08	/* on the orphan list */

struct ino_info {
	uint32_t	nlink;		/* i_nlink on disk */
	uint32_t	links;		/* directory entries found */
	uint16_t	mode;
	uint8_t		flags;
};

struct ext_rec {
	uint32_t	lblk;
	uint32_t	len;
	uint64_t	pblk;
};

/* bkind[]: what claims a block besides file data mappings. */
#define BK_META		0x01	/* metadata: never shared, never recorded */
#define BK_RCTREE	0x02	/* a block of the refcount tree */

struct rc_rec {
	uint64_t	start;
	uint32_t	len;
	uint32_t	refcount;
};

struct dir_info {
	uint64_t	ino;
	uint64_t	parent;		/* i_parent on disk */
	uint64_t	ref_dir;	/* directory of the first entry to it */
	uint32_t	subdirs;	/* entries naming directories */
	uint32_t	nblocks;
	struct ext_rec	*ext;
	size_t		n_ext;
	size_t		first_child;	/* CSR index into child list */
	uint64_t	stamp;		/* pass 3 upward walks */
	bool		reached;
	bool		handled;
};

struct edge {
	size_t		parent;		/* dir indexes */
	size_t		child;
};

struct dup {
	uint64_t	blk;
	uint64_t	*owners;
	size_t		n_owners;
	size_t		cap;
	bool		descended;
};

/* State of the walk over one inode's blocks. */
struct walk {
	uint64_t	ino;
	uint64_t	data_blocks;
	uint64_t	meta_blocks;
	uint64_t	next_lblk;	/* end of the previous extent */
	unsigned int	ext_no;		/* extents seen, for messages */
	unsigned int	nerr;
	bool		collect;
	bool		meta_data;	/* mapped blocks are metadata (dirs) */
	struct ext_rec	*ext;
	size_t		n_ext;
	size_t		cap_ext;
};

struct name_ent {
	uint32_t	hash;
	uint32_t	next;		/* index + 1, 0: end */
	size_t		off;
	uint8_t		len;
};

struct name_set {
	uint32_t	*buckets;	/* index + 1 */
	size_t		nbuckets;
	struct name_ent	*ents;
	size_t		n;
	size_t		cap;
	char		*arena;
	size_t		alen;
	size_t		acap;
};

struct fsck {
	struct rlfs_dev	dev;
	const char	*path;
	bool		verbose;
	bool		pass1b;		/* quiet re-walk recording owners */
	uint64_t	errors;

	struct rlfs_super sb;
	struct rlfs_geom g;

	uint8_t		*bbits;		/* block bitmap bits */
	bool		*bbits_ok;	/* per bitmap block: trustworthy */
	uint8_t		*ibits;
	bool		*ibits_ok;

	uint32_t	*refs;		/* references to every block */
	uint8_t		*bkind;		/* BK_* of every block */
	struct ino_info	*ii;

	/* Valid refcount records, sorted and disjoint (pass 1). */
	struct rc_rec	*rc;
	size_t		n_rc;
	size_t		cap_rc;
	uint64_t	rc_prev_end;	/* end of the previous record walked */
	uint64_t	rc_blocks;	/* refcount tree blocks */

	struct dir_info	*dirs;
	size_t		ndirs;
	size_t		cap_dirs;
	struct edge	*edges;
	size_t		nedges;
	size_t		cap_edges;
	size_t		*children;	/* CSR child lists */

	struct dup	*dups;
	size_t		ndups;

	struct name_set	names;

	uint8_t		ebuf[RLFS_MAX_EXTENT_DEPTH][RLFS_BLOCK_SIZE];
	uint8_t		rbuf[RLFS_MAX_EXTENT_DEPTH + 1][RLFS_BLOCK_SIZE];
	uint8_t		buf[RLFS_BLOCK_SIZE];	/* dir/symlink/xattr blocks */
};

/* ---- reporting ---------------------------------------------------- */

static void RLFS_PRINTF(1, 2) fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_OPERATIONAL);
}

static void RLFS_PRINTF(2, 3) err(struct fsck *f, const char *fmt, ...)
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

static void RLFS_PRINTF(2, 3) info(struct fsck *f, const char *fmt, ...)
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
static void RLFS_PRINTF(2, 3) report_cb(void *arg __attribute__((unused)),
					const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

static void *xrealloc_array(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		fatal("out of memory");
	q = realloc(p, n && size ? n * size : 1);
	if (!q)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return q;
}

static void read_or_die(struct fsck *f, uint64_t blk, uint64_t n, void *buf)
{
	int ret = rlfs_read_blocks(&f->dev, blk, n, buf);

	if (ret)
		fatal("%s: cannot read block %" PRIu64 ": %s", f->path, blk,
		      strerror(-ret));
}

static bool in_data(struct fsck *f, uint64_t blk)
{
	return blk >= f->g.data_start && blk < f->g.blocks;
}

/* ---- bitmaps ------------------------------------------------------ */

#define CHUNK_BLOCKS	256U

/*
 * Read a bitmap region into bits (RLFS_BITMAP_BYTES per block), checking
 * every block header; ok[k] records whether block k can be trusted.
 */
static void read_bitmap(struct fsck *f, const char *what, uint64_t start,
			uint64_t nblocks, uint8_t *bits, bool *ok)
{
	uint8_t *chunk = xcalloc(CHUNK_BLOCKS, RLFS_BLOCK_SIZE);
	const struct rlfs_bitmap_block *bb;
	uint64_t k, n, i, blk;

	for (k = 0; k < nblocks; k += n) {
		n = nblocks - k < CHUNK_BLOCKS ? nblocks - k : CHUNK_BLOCKS;
		read_or_die(f, start + k, n, chunk);
		for (i = 0; i < n; i++) {
			bb = (const void *)(chunk + i * RLFS_BLOCK_SIZE);
			blk = start + k + i;
			ok[k + i] = false;
			memcpy(bits + (k + i) * RLFS_BITMAP_BYTES, bb->bb_bits,
			       RLFS_BITMAP_BYTES);
			if (le32toh(bb->bb_hdr.bh_magic) != RLFS_BITMAP_MAGIC) {
				err(f, "%s block %" PRIu64 ": bad magic 0x%08x",
				    what, blk, le32toh(bb->bb_hdr.bh_magic));
				continue;
			}
			if (le64toh(bb->bb_hdr.bh_blocknr) != blk) {
				err(f, "%s block %" PRIu64 ": header says "
				    "block %" PRIu64, what, blk,
				    (uint64_t)le64toh(bb->bb_hdr.bh_blocknr));
				continue;
			}
			if (bb->bb_hdr.bh_owner) {
				err(f, "%s block %" PRIu64 ": owner %" PRIu64
				    ", expected 0", what, blk,
				    (uint64_t)le64toh(bb->bb_hdr.bh_owner));
				continue;
			}
			if (!rlfs_block_csum_ok(bb)) {
				err(f, "%s block %" PRIu64 ": bad checksum",
				    what, blk);
				continue;
			}
			ok[k + i] = true;
		}
	}
	free(chunk);
}

/* ---- block claims ------------------------------------------------- */

static struct dup *find_dup(struct fsck *f, uint64_t blk)
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

static void dup_add_owner(struct dup *d, uint64_t ino)
{
	if (d->n_owners == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 4;
		d->owners = xrealloc_array(d->owners, d->cap,
					   sizeof(*d->owners));
	}
	d->owners[d->n_owners++] = ino;
}

/* Data blocks [blk, blk + len), already checked to be in the data area. */
static void claim_data(struct fsck *f, struct walk *w, uint64_t blk,
		       uint64_t len)
{
	struct dup *d;
	uint64_t b;

	for (b = blk; b < blk + len; b++) {
		if (!f->pass1b) {
			if (f->refs[b] != UINT32_MAX)
				f->refs[b]++;
			if (w->meta_data)
				f->bkind[b] |= BK_META;
		} else if (f->refs[b] > 1) {
			d = find_dup(f, b);
			if (d) {
				dup_add_owner(d, w->ino);
				d->descended = true;
			}
		}
	}
}

/*
 * A metadata block (extent, xattr) of the inode.  Returns true if the
 * caller should read and descend into it: only on its first claim, which
 * bounds the walk on corrupt trees sharing nodes.
 */
static bool claim_meta(struct fsck *f, struct walk *w, uint64_t blk)
{
	struct dup *d;

	if (!f->pass1b) {
		f->bkind[blk] |= BK_META;
		if (f->refs[blk] == UINT32_MAX)
			return false;
		return f->refs[blk]++ == 0;
	}
	if (f->refs[blk] <= 1)
		return true;
	d = find_dup(f, blk);
	if (!d)
		return false;
	dup_add_owner(d, w->ino);
	if (d->descended)
		return false;
	d->descended = true;
	return true;
}

/* ---- refcount tree ----------------------------------------------- */

#define RERR(f, blk, fmt, ...)						\
	err(f, "refcount block %" PRIu64 ": " fmt, (uint64_t)(blk),	\
	    ##__VA_ARGS__)

static void rc_add(struct fsck *f, uint64_t start, uint32_t len,
		   uint32_t refcount)
{
	if (f->n_rc == f->cap_rc) {
		f->cap_rc = f->cap_rc ? f->cap_rc * 2 : 64;
		f->rc = xrealloc_array(f->rc, f->cap_rc, sizeof(*f->rc));
	}
	f->rc[f->n_rc].start = start;
	f->rc[f->n_rc].len = len;
	f->rc[f->n_rc].refcount = refcount;
	f->n_rc++;
}

static void walk_rc_node(struct fsck *f, uint64_t blk, unsigned int depth,
			 uint64_t lo, uint64_t hi, bool root);

/* "block N" or "blocks N-M" for [start, start + len), len > 0. */
static const char *blocks_str(char *buf, size_t size, uint64_t start,
			      uint64_t len)
{
	if (len == 1)
		snprintf(buf, size, "block %" PRIu64, start);
	else
		snprintf(buf, size, "blocks %" PRIu64 "-%" PRIu64, start,
			 start + len - 1);
	return buf;
}

/* Records of a leaf: keep the valid ones, in order, in f->rc. */
static void walk_rc_leaf(struct fsck *f, uint64_t blk,
			 const struct rlfs_refcount_rec *rec, unsigned int n,
			 uint64_t lo, uint64_t hi)
{
	uint64_t start, end;
	uint32_t len, refcount;
	unsigned int i;
	char what[64];

	for (i = 0; i < n; i++) {
		start = le64toh(rec[i].rc_start);
		len = le32toh(rec[i].rc_len);
		refcount = le32toh(rec[i].rc_refcount);
		end = start + len;
		if (len == 0) {
			RERR(f, blk, "record %u (block %" PRIu64 ") has length 0",
			     i, start);
			continue;
		}
		blocks_str(what, sizeof(what), start, len);
		if (start < f->g.data_start || start >= f->g.blocks ||
		    len > f->g.blocks - start) {
			RERR(f, blk, "record %u (%s) outside the data area", i,
			     what);
			continue;
		}
		if (refcount < 2) {
			RERR(f, blk, "record %u (%s) has refcount %u, below 2",
			     i, what, refcount);
			continue;
		}
		if (start < f->rc_prev_end) {
			RERR(f, blk, "record %u (%s) out of order or "
			     "overlapping the previous record (ending at %"
			     PRIu64 ")", i, what, f->rc_prev_end - 1);
			continue;
		}
		if (start < lo || end > hi) {
			RERR(f, blk, "record %u (%s) outside its index key "
			     "range %" PRIu64 "-%" PRIu64, i, what, lo, hi - 1);
			continue;
		}
		f->rc_prev_end = end;
		rc_add(f, start, len, refcount);
	}
}

static void walk_rc_index(struct fsck *f, uint64_t blk,
			  const struct rlfs_refcount_idx *idx, unsigned int n,
			  unsigned int depth, uint64_t lo, uint64_t hi)
{
	uint64_t key, next, child, prev = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		key = le64toh(idx[i].ri_start);
		child = le64toh(idx[i].ri_blk);
		if (key < lo || key >= hi || (i && key <= prev)) {
			RERR(f, blk, "index %u: key %" PRIu64 " out of order "
			     "(range %" PRIu64 "-%" PRIu64 ")", i, key, lo,
			     hi - 1);
			prev = key;
			continue;
		}
		prev = key;
		next = i + 1 < n ? le64toh(idx[i + 1].ri_start) : hi;
		if (next > hi || next <= key)
			next = hi;
		if (!in_data(f, child)) {
			RERR(f, blk, "index %u points to block %" PRIu64
			     " outside the data area", i, child);
			continue;
		}
		walk_rc_node(f, child, depth - 1, key, next, false);
	}
}

/*
 * One node of the refcount tree at block blk; [lo, hi) is the physical
 * range the parent's index allows, and the node's first key must be lo
 * (but at the root).  Tree blocks are claimed in refs[] like any other
 * metadata and marked BK_RCTREE.
 */
static void walk_rc_node(struct fsck *f, uint64_t blk, unsigned int depth,
			 uint64_t lo, uint64_t hi, bool root)
{
	const struct rlfs_refcount_block *rb = (const void *)f->rbuf[depth];
	unsigned int n, max, d;

	read_or_die(f, blk, 1, f->rbuf[depth]);
	if (le32toh(rb->rb_hdr.bh_magic) != RLFS_REFCOUNT_MAGIC) {
		RERR(f, blk, "bad magic 0x%08x", le32toh(rb->rb_hdr.bh_magic));
		return;
	}
	if (le64toh(rb->rb_hdr.bh_blocknr) != blk) {
		RERR(f, blk, "header says block %" PRIu64,
		     (uint64_t)le64toh(rb->rb_hdr.bh_blocknr));
		return;
	}
	if (f->refs[blk]) {
		RERR(f, blk, "referenced twice in the refcount tree");
		return;
	}
	f->refs[blk] = 1;
	f->bkind[blk] |= BK_META | BK_RCTREE;
	f->rc_blocks++;
	if (rb->rb_hdr.bh_owner)
		RERR(f, blk, "owner %" PRIu64 ", expected 0",
		     (uint64_t)le64toh(rb->rb_hdr.bh_owner));
	if (!rlfs_block_csum_ok(rb))
		RERR(f, blk, "bad checksum");

	n = le16toh(rb->rb_rh.rh_entries);
	max = le16toh(rb->rb_rh.rh_max);
	d = le16toh(rb->rb_rh.rh_depth);
	if (max != RLFS_REFCOUNT_BLOCK_ENTRIES)
		RERR(f, blk, "rh_max %u, expected %u", max,
		     (unsigned int)RLFS_REFCOUNT_BLOCK_ENTRIES);
	if (n > RLFS_REFCOUNT_BLOCK_ENTRIES) {
		RERR(f, blk, "%u entries, more than its capacity %u", n,
		     (unsigned int)RLFS_REFCOUNT_BLOCK_ENTRIES);
		return;
	}
	if (d != depth) {
		RERR(f, blk, "depth %u, expected %u", d, depth);
		return;
	}
	if (n == 0) {
		RERR(f, blk, "empty node");
		return;
	}
	if (!root && le64toh(rb->rb_rec[0].rc_start) != lo)
		RERR(f, blk, "first key %" PRIu64 " differs from its index "
		     "key %" PRIu64,
		     (uint64_t)le64toh(rb->rb_rec[0].rc_start), lo);
	if (depth == 0)
		walk_rc_leaf(f, blk, rb->rb_rec, n, lo, hi);
	else
		walk_rc_index(f, blk, rb->rb_idx, n, depth, lo, hi);
}

static void check_refcount_tree(struct fsck *f)
{
	uint64_t root = le64toh(f->sb.s_refcount_root);
	uint32_t depth = le32toh(f->sb.s_refcount_depth);

	if (!(le64toh(f->sb.s_feature_incompat) &
	      RLFS_FEATURE_INCOMPAT_REFCOUNT))
		return;		/* a root there was reported in pass 0 */
	if (!root) {
		if (depth)
			err(f, "superblock: empty refcount tree with depth %u",
			    depth);
		info(f, "refcount tree: empty");
		return;
	}
	if (depth > RLFS_MAX_EXTENT_DEPTH) {
		err(f, "superblock: refcount tree depth %u exceeds %u", depth,
		    RLFS_MAX_EXTENT_DEPTH);
		return;
	}
	if (!in_data(f, root)) {
		err(f, "superblock: refcount tree root %" PRIu64 " outside "
		    "the data area", root);
		return;
	}
	walk_rc_node(f, root, depth, f->g.data_start, f->g.blocks, true);
	info(f, "refcount tree: %zu records in %" PRIu64 " blocks, depth %u",
	     f->n_rc, f->rc_blocks, depth);
}

/* ---- extent trees ------------------------------------------------- */

#define IERR(f, w, fmt, ...) do {					\
		(w)->nerr++;						\
		err(f, "inode %" PRIu64 ": " fmt, (w)->ino, ##__VA_ARGS__); \
	} while (0)

static void collect_ext(struct walk *w, uint32_t lblk, uint32_t len,
			uint64_t pblk)
{
	if (!w->collect)
		return;
	if (w->n_ext == w->cap_ext) {
		w->cap_ext = w->cap_ext ? w->cap_ext * 2 : 16;
		w->ext = xrealloc_array(w->ext, w->cap_ext, sizeof(*w->ext));
	}
	w->ext[w->n_ext].lblk = lblk;
	w->ext[w->n_ext].len = len;
	w->ext[w->n_ext].pblk = pblk;
	w->n_ext++;
}

static void walk_node(struct fsck *f, struct walk *w,
		      const struct rlfs_extent_header *eh, const void *entries,
		      uint64_t node, unsigned int expect_depth, uint64_t lo,
		      uint64_t hi);

static void walk_leaf(struct fsck *f, struct walk *w,
		      const struct rlfs_extent *ext, unsigned int n,
		      uint64_t lo, uint64_t hi)
{
	uint64_t pblk, end;
	uint32_t lblk, len;
	unsigned int i, no;
	bool bad;

	for (i = 0; i < n; i++) {
		lblk = le32toh(ext[i].e_lblk);
		len = le32toh(ext[i].e_len);
		pblk = le64toh(ext[i].e_pblk);
		no = w->ext_no++;
		bad = false;
		end = (uint64_t)lblk + len;
		if (len == 0 || len > RLFS_MAX_EXTENT_LEN) {
			IERR(f, w, "extent %u (logical block %u) has length "
			     "%u (1..%u)", no, lblk, len, RLFS_MAX_EXTENT_LEN);
			bad = true;
		}
		if (lblk < lo) {
			IERR(f, w, "extent %u: logical block %u below its "
			     "index key %" PRIu64, no, lblk, lo);
		} else if (lblk < w->next_lblk) {
			IERR(f, w, "extent %u: logical block %u overlaps or "
			     "precedes the previous extent (ending at %"
			     PRIu64 ")", no, lblk, w->next_lblk);
		}
		if (!bad && end > hi)
			IERR(f, w, "extent %u: logical blocks %u-%" PRIu64
			     " reach past the next index key %" PRIu64, no,
			     lblk, end - 1, hi);
		if (pblk < f->g.data_start) {
			IERR(f, w, "extent %u maps block %" PRIu64 " in the "
			     "metadata area (data starts at %" PRIu64 ")", no,
			     pblk, f->g.data_start);
			bad = true;
		} else if (pblk >= f->g.blocks) {
			IERR(f, w, "extent %u maps block %" PRIu64 " beyond "
			     "the filesystem (%" PRIu64 " blocks)", no, pblk,
			     f->g.blocks);
			bad = true;
		} else if (!bad && len > f->g.blocks - pblk) {
			IERR(f, w, "extent %u maps blocks %" PRIu64 "-%" PRIu64
			     " beyond the filesystem (%" PRIu64 " blocks)", no,
			     pblk, pblk + len - 1, f->g.blocks);
			bad = true;
		}
		if (bad)
			continue;
		if (end > w->next_lblk)
			w->next_lblk = end;
		claim_data(f, w, pblk, len);
		w->data_blocks += len;
		collect_ext(w, lblk, len, pblk);
	}
}

static void walk_index(struct fsck *f, struct walk *w,
		       const struct rlfs_extent_idx *idx, unsigned int n,
		       unsigned int depth, uint64_t lo, uint64_t hi)
{
	const struct rlfs_extent_block *eb;
	uint64_t key, next, child, prev = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		key = le32toh(idx[i].ei_lblk);
		child = le64toh(idx[i].ei_blk);
		if (key < lo || key >= hi || (i && key <= prev)) {
			IERR(f, w, "extent index %u (depth %u): key %" PRIu64
			     " out of order (range %" PRIu64 "-%" PRIu64 ")",
			     i, depth, key, lo, hi);
			prev = key;
			continue;
		}
		prev = key;
		next = i + 1 < n ? le32toh(idx[i + 1].ei_lblk) : hi;
		if (next > hi || next <= key)
			next = hi;
		if (!in_data(f, child)) {
			IERR(f, w, "extent index %u (depth %u) points to "
			     "block %" PRIu64 " outside the data area", i,
			     depth, child);
			continue;
		}
		w->meta_blocks++;
		if (!claim_meta(f, w, child))
			continue;
		eb = (const void *)f->ebuf[depth - 1];
		read_or_die(f, child, 1, f->ebuf[depth - 1]);
		if (le32toh(eb->eb_hdr.bh_magic) != RLFS_EXTENT_MAGIC) {
			IERR(f, w, "extent block %" PRIu64 ": bad magic "
			     "0x%08x", child, le32toh(eb->eb_hdr.bh_magic));
			continue;
		}
		if (le64toh(eb->eb_hdr.bh_blocknr) != child) {
			IERR(f, w, "extent block %" PRIu64 ": header says "
			     "block %" PRIu64, child,
			     (uint64_t)le64toh(eb->eb_hdr.bh_blocknr));
			continue;
		}
		if (le64toh(eb->eb_hdr.bh_owner) != w->ino)
			IERR(f, w, "extent block %" PRIu64 ": owner is inode %"
			     PRIu64, child,
			     (uint64_t)le64toh(eb->eb_hdr.bh_owner));
		if (!rlfs_block_csum_ok(eb))
			IERR(f, w, "extent block %" PRIu64 ": bad checksum",
			     child);
		walk_node(f, w, &eb->eb_eh, eb->eb_ext, child, depth - 1, key,
			  next);
	}
}

/*
 * One node of the tree: the root (node == 0, in the inode) or an extent
 * block.  expect_depth is the depth the parent implies (ignored at the
 * root); [lo, hi) is the logical range the parent index allows.
 */
static void walk_node(struct fsck *f, struct walk *w,
		      const struct rlfs_extent_header *eh, const void *entries,
		      uint64_t node, unsigned int expect_depth, uint64_t lo,
		      uint64_t hi)
{
	unsigned int cap = node ? RLFS_EXTENT_BLOCK_ENTRIES :
			   RLFS_INODE_ROOT_ENTRIES;
	unsigned int n = le16toh(eh->eh_entries);
	unsigned int max = le16toh(eh->eh_max);
	unsigned int depth = le16toh(eh->eh_depth);
	char where[48];

	if (node)
		snprintf(where, sizeof(where), "extent block %" PRIu64, node);
	else
		snprintf(where, sizeof(where), "extent root");

	if (max != cap)
		IERR(f, w, "%s: eh_max %u, expected %u", where, max, cap);
	if (n > cap || n > max) {
		IERR(f, w, "%s: %u entries, more than its capacity %u",
		     where, n, max < cap ? max : cap);
		return;
	}
	if (!node) {
		if (depth > RLFS_MAX_EXTENT_DEPTH) {
			IERR(f, w, "%s: depth %u exceeds %u", where, depth,
			     RLFS_MAX_EXTENT_DEPTH);
			return;
		}
	} else if (depth != expect_depth) {
		IERR(f, w, "%s: depth %u, expected %u", where, depth,
		     expect_depth);
		return;
	}
	if (n == 0) {
		if (node)
			IERR(f, w, "%s: empty extent block", where);
		return;
	}
	if (depth == 0)
		walk_leaf(f, w, entries, n, lo, hi);
	else
		walk_index(f, w, entries, n, depth, lo, hi);
}

/* Walk the extent tree of an inode from its root in i_data. */
static void walk_inode_extents(struct fsck *f, struct walk *w,
			       const struct rlfs_inode *ri)
{
	walk_node(f, w, &ri->i_eh, ri->i_ext, 0, 0, 0, 1ULL << 32);
}

/* ---- xattr, symlinks ---------------------------------------------- */

/* Returns the number of blocks owned through i_xattr_blk (0 or 1). */
static unsigned int check_xattr(struct fsck *f, struct walk *w,
				uint64_t blk)
{
	const struct rlfs_xattr_block *xb = (const void *)f->buf;
	const struct rlfs_xattr_entry *xe;
	size_t off, size;
	unsigned int i;

	if (!blk)
		return 0;
	if (!in_data(f, blk)) {
		IERR(f, w, "xattr block %" PRIu64 " outside the data area",
		     blk);
		return 0;
	}
	if (!claim_meta(f, w, blk) || f->pass1b)
		return 1;
	read_or_die(f, blk, 1, f->buf);
	if (le32toh(xb->xb_hdr.bh_magic) != RLFS_XATTR_MAGIC) {
		IERR(f, w, "xattr block %" PRIu64 ": bad magic 0x%08x", blk,
		     le32toh(xb->xb_hdr.bh_magic));
		return 1;
	}
	if (le64toh(xb->xb_hdr.bh_blocknr) != blk) {
		IERR(f, w, "xattr block %" PRIu64 ": header says block %"
		     PRIu64, blk, (uint64_t)le64toh(xb->xb_hdr.bh_blocknr));
		return 1;
	}
	if (le64toh(xb->xb_hdr.bh_owner) != w->ino)
		IERR(f, w, "xattr block %" PRIu64 ": owner is inode %" PRIu64,
		     blk, (uint64_t)le64toh(xb->xb_hdr.bh_owner));
	if (!rlfs_block_csum_ok(xb))
		IERR(f, w, "xattr block %" PRIu64 ": bad checksum", blk);

	off = sizeof(xb->xb_hdr);
	for (i = 0; off + sizeof(*xe) <= RLFS_BLOCK_SIZE; i++) {
		xe = (const void *)(f->buf + off);
		if (xe->xe_name_len == 0)
			break;
		if (xe->xe_index < RLFS_XATTR_INDEX_USER ||
		    xe->xe_index > RLFS_XATTR_INDEX_SECURITY) {
			IERR(f, w, "xattr block %" PRIu64 ": entry %u at "
			     "offset %zu has unknown namespace index %u", blk,
			     i, off, xe->xe_index);
			break;
		}
		size = RLFS_XATTR_ENTRY_SIZE(xe->xe_name_len,
					     le16toh(xe->xe_value_len));
		if (size > RLFS_BLOCK_SIZE - off) {
			IERR(f, w, "xattr block %" PRIu64 ": entry %u at "
			     "offset %zu (name %u, value %u bytes) runs past "
			     "the block end", blk, i, off, xe->xe_name_len,
			     le16toh(xe->xe_value_len));
			break;
		}
		off += size;
	}
	return 1;
}

static void check_fast_symlink(struct fsck *f, struct walk *w,
			       const struct rlfs_inode *ri)
{
	uint64_t size = le64toh(ri->i_size);
	const char *nul = memchr(ri->i_symlink, 0, RLFS_INODE_DATA_SIZE);

	if (!nul) {
		IERR(f, w, "fast symlink target is not NUL terminated");
		return;
	}
	if (size == 0 || size > RLFS_FAST_SYMLINK_MAX ||
	    (uint64_t)(nul - ri->i_symlink) != size)
		IERR(f, w, "fast symlink: i_size %" PRIu64 " but target "
		     "length %td (1..%u)", size, nul - ri->i_symlink,
		     RLFS_FAST_SYMLINK_MAX);
}

static void check_slow_symlink(struct fsck *f, struct walk *w,
			       const struct rlfs_inode *ri)
{
	const struct rlfs_symlink_block *sl = (const void *)f->buf;
	uint64_t size = le64toh(ri->i_size);
	size_t max = sizeof(sl->sl_target);
	const char *nul;
	uint64_t blk;

	if (w->nerr)
		return;
	if (w->n_ext != 1 || le16toh(ri->i_eh.eh_depth) != 0 ||
	    w->ext[0].lblk != 0 || w->ext[0].len != 1) {
		IERR(f, w, "slow symlink must map exactly one block at "
		     "logical block 0 (%zu extents)", w->n_ext);
		return;
	}
	blk = w->ext[0].pblk;
	read_or_die(f, blk, 1, f->buf);
	if (le32toh(sl->sl_hdr.bh_magic) != RLFS_SYMLINK_MAGIC) {
		IERR(f, w, "symlink block %" PRIu64 ": bad magic 0x%08x", blk,
		     le32toh(sl->sl_hdr.bh_magic));
		return;
	}
	if (le64toh(sl->sl_hdr.bh_blocknr) != blk)
		IERR(f, w, "symlink block %" PRIu64 ": header says block %"
		     PRIu64, blk, (uint64_t)le64toh(sl->sl_hdr.bh_blocknr));
	if (le64toh(sl->sl_hdr.bh_owner) != w->ino)
		IERR(f, w, "symlink block %" PRIu64 ": owner is inode %"
		     PRIu64, blk, (uint64_t)le64toh(sl->sl_hdr.bh_owner));
	if (!rlfs_block_csum_ok(sl))
		IERR(f, w, "symlink block %" PRIu64 ": bad checksum", blk);
	nul = memchr(sl->sl_target, 0, max);
	if (!nul) {
		IERR(f, w, "symlink block %" PRIu64 ": target is not NUL "
		     "terminated", blk);
		return;
	}
	if (size == 0 || (uint64_t)(nul - sl->sl_target) != size)
		IERR(f, w, "symlink block %" PRIu64 ": i_size %" PRIu64
		     " but target length %td", blk, size,
		     nul - sl->sl_target);
}

/* ---- pass 1: inodes ----------------------------------------------- */

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len--)
		if (*b++)
			return false;
	return true;
}

static bool ibit_known(struct fsck *f, uint64_t ino)
{
	return f->ibits_ok[ino / RLFS_BITS_PER_BITMAP];
}

static void add_dir(struct fsck *f, const struct rlfs_inode *ri,
		    struct walk *w)
{
	struct dir_info *d;

	if (f->ndirs == f->cap_dirs) {
		f->cap_dirs = f->cap_dirs ? f->cap_dirs * 2 : 64;
		f->dirs = xrealloc_array(f->dirs, f->cap_dirs,
					 sizeof(*f->dirs));
	}
	d = &f->dirs[f->ndirs++];
	memset(d, 0, sizeof(*d));
	d->ino = w->ino;
	d->parent = le64toh(ri->i_parent);
	d->ext = w->ext;
	d->n_ext = w->n_ext;
	w->ext = NULL;
	w->n_ext = w->cap_ext = 0;
}

static void check_dir_shape(struct fsck *f, struct walk *w,
			    const struct rlfs_inode *ri)
{
	uint64_t size = le64toh(ri->i_size);
	uint64_t expect = 0;
	size_t i;

	if (size % RLFS_BLOCK_SIZE) {
		IERR(f, w, "directory size %" PRIu64 " is not a multiple "
		     "of %u", size, RLFS_BLOCK_SIZE);
		return;
	}
	for (i = 0; i < w->n_ext; i++) {
		if (w->ext[i].lblk != expect) {
			IERR(f, w, "directory has a hole at logical block %"
			     PRIu64, expect);
			return;
		}
		expect += w->ext[i].len;
	}
	if (expect != size / RLFS_BLOCK_SIZE)
		IERR(f, w, "directory maps %" PRIu64 " blocks but its size "
		     "is %" PRIu64 " blocks", expect, size / RLFS_BLOCK_SIZE);
}

static void check_inode(struct fsck *f, uint64_t ino,
			const struct rlfs_inode *ri)
{
	static const char *const tname[] = { "atime", "mtime", "ctime",
					     "crtime" };
	struct ino_info *ii = &f->ii[ino];
	struct walk w = { .ino = ino };
	bool magic_ok = le32toh(ri->i_magic) == RLFS_INODE_MAGIC;
	uint16_t mode = le16toh(ri->i_mode);
	uint32_t flags = le32toh(ri->i_flags);
	uint32_t ns[4];
	uint64_t owned, iblocks;
	bool alloc, known = ibit_known(f, ino);
	const char *why;
	int ft, i;

	if (known)
		alloc = rlfs_test_bit(f->ibits, ino);
	else
		alloc = magic_ok && mode != 0;

	if (ino == 0) {
		if (known && !alloc)
			err(f, "inode bitmap: reserved inode 0 is marked free");
		if (!f->pass1b)
			ii->flags = II_ALLOC;
		return;
	}
	if (!alloc) {
		if (magic_ok && mode != 0)
			err(f, "inode %" PRIu64 ": in use (mode 0%o) but "
			    "marked free in the inode bitmap", ino, mode);
		else if (!magic_ok && !all_zero(ri, sizeof(*ri)))
			info(f, "inode %" PRIu64 ": free slot holds "
			     "non-zero data", ino);
		return;
	}
	if (!f->pass1b)
		ii->flags = II_ALLOC | II_BAD;
	if (!magic_ok) {
		err(f, "inode %" PRIu64 ": marked in use in the inode bitmap "
		    "but has bad magic 0x%08x", ino, le32toh(ri->i_magic));
		return;
	}
	if (le64toh(ri->i_ino) != ino) {
		err(f, "inode %" PRIu64 ": record says inode %" PRIu64, ino,
		    (uint64_t)le64toh(ri->i_ino));
		return;
	}
	if (mode == 0) {
		err(f, "inode %" PRIu64 ": marked in use in the inode bitmap "
		    "but free (mode 0)", ino);
		return;
	}
	ft = rlfs_mode_to_ftype(mode);
	if (ft < 0) {
		err(f, "inode %" PRIu64 ": unknown file type in mode 0%o",
		    ino, mode);
		return;
	}
	if (!rlfs_inode_csum_ok(ri))
		err(f, "inode %" PRIu64 ": bad checksum 0x%08x, expected "
		    "0x%08x", ino, le32toh(ri->i_crc), rlfs_inode_csum(ri));
	if (ino == RLFS_ROOT_INO && ft != RLFS_FT_DIR) {
		err(f, "inode 1: the root inode is a %s, not a directory",
		    rlfs_ftype_name(ft));
		return;
	}
	if (!f->pass1b) {
		ii->flags = II_ALLOC | II_INUSE;
		ii->mode = mode;
		ii->nlink = le32toh(ri->i_nlink);
	}

	/*
	 * Field problems go straight to err(); w.nerr counts only problems
	 * with the blocks the inode owns, which make i_blocks meaningless.
	 */
	ns[0] = le32toh(ri->i_atime_ns);
	ns[1] = le32toh(ri->i_mtime_ns);
	ns[2] = le32toh(ri->i_ctime_ns);
	ns[3] = le32toh(ri->i_crtime_ns);
	for (i = 0; i < 4; i++)
		if (ns[i] >= 1000000000U)
			err(f, "inode %" PRIu64 ": %s nanoseconds %u out of "
			    "range", ino, tname[i], ns[i]);
	if (flags & ~RLFS_KNOWN_FL)
		err(f, "inode %" PRIu64 ": unknown flags 0x%08x", ino,
		    flags & ~RLFS_KNOWN_FL);
	if ((flags & RLFS_FAST_SYMLINK_FL) && ft != RLFS_FT_SYMLINK)
		err(f, "inode %" PRIu64 ": fast symlink flag on a %s", ino,
		    rlfs_ftype_name(ft));
	why = rlfs_check_snap_record(ri, le64toh(f->sb.s_feature_ro_compat),
				     le64toh(f->sb.s_inodes),
				     ft == RLFS_FT_REG);
	if (why)
		err(f, "inode %" PRIu64 ": %s (origin %" PRIu64 ", lineage "
		    "0x%016" PRIx64 ")", ino, why,
		    (uint64_t)le64toh(ri->i_snap_origin),
		    (uint64_t)le64toh(ri->i_lineage));

	switch (ft) {
	case RLFS_FT_REG:
		walk_inode_extents(f, &w, ri);
		break;
	case RLFS_FT_DIR:
		w.meta_data = true;
		w.collect = !f->pass1b;
		walk_inode_extents(f, &w, ri);
		if (!f->pass1b) {
			check_dir_shape(f, &w, ri);
			add_dir(f, ri, &w);
		}
		break;
	case RLFS_FT_SYMLINK:
		if (flags & RLFS_FAST_SYMLINK_FL) {
			check_fast_symlink(f, &w, ri);
			break;
		}
		w.collect = true;
		w.meta_data = true;
		walk_inode_extents(f, &w, ri);
		if (!f->pass1b)
			check_slow_symlink(f, &w, ri);
		break;
	default:
		if (ri->i_eh.eh_entries)
			IERR(f, &w, "%s maps blocks (%u extents in i_data)",
			     rlfs_ftype_name(ft),
			     le16toh(ri->i_eh.eh_entries));
		break;
	}
	free(w.ext);

	owned = w.data_blocks + w.meta_blocks +
		check_xattr(f, &w, le64toh(ri->i_xattr_blk));
	iblocks = le64toh(ri->i_blocks);
	if (!w.nerr && iblocks != owned)
		IERR(f, &w, "i_blocks is %" PRIu64 " but the inode owns %"
		     PRIu64 " blocks", iblocks, owned);
}

static void scan_inodes(struct fsck *f)
{
	uint8_t *chunk = xcalloc(CHUNK_BLOCKS, RLFS_BLOCK_SIZE);
	const struct rlfs_inode *ri;
	uint64_t k, n, i, ino;

	for (k = 0; k < f->g.itable_blocks; k += n) {
		n = f->g.itable_blocks - k < CHUNK_BLOCKS ?
		    f->g.itable_blocks - k : CHUNK_BLOCKS;
		read_or_die(f, f->g.itable_start + k, n, chunk);
		for (i = 0; i < n * RLFS_INODES_PER_BLOCK; i++) {
			ino = k * RLFS_INODES_PER_BLOCK + i;
			ri = (const void *)(chunk + i * RLFS_INODE_SIZE);
			check_inode(f, ino, ri);
		}
	}
	free(chunk);
}

/* ---- pass 1b: owners of multiply-claimed blocks ------------------- */

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

/*
 * A block claimed more than once is an error unless it is a file data
 * block whose sharing a refcount record describes (its count is checked
 * in pass 1c).
 */
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

static void find_dups(struct fsck *f)
{
	char owners[512];
	uint64_t b, n = 0;
	size_t i, j, cur = 0;

	for (b = f->g.data_start; b < f->g.blocks; b++)
		if (is_dup(f, &cur, b))
			n++;
	if (!n)
		return;
	info(f, "Pass 1b: %" PRIu64 " blocks claimed more than once", n);
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
			err(f, "block %" PRIu64 " claimed by %s",
			    f->dups[i].blk, owners);
		else
			err(f, "blocks %" PRIu64 "-%" PRIu64 " claimed by %s",
			    f->dups[i].blk, f->dups[j - 1].blk, owners);
	}
	for (i = 0; i < f->ndups; i++)
		free(f->dups[i].owners);
	free(f->dups);
	f->dups = NULL;
	f->ndups = 0;
}

/* ---- pass 1c: reference counts ------------------------------------ */

enum rc_problem { RC_OK, RC_COUNT, RC_UNMAPPED, RC_META };

/* One error line per run of blocks with the same problem and counts. */
static void report_rc_run(struct fsck *f, enum rc_problem p, uint64_t first,
			  uint64_t last, uint32_t rc, uint32_t refs)
{
	char where[64];

	blocks_str(where, sizeof(where), first, last - first + 1);
	switch (p) {
	case RC_COUNT:
		err(f, "refcount tree: %s: refcount %u recorded, %u file "
		    "mapping%s found", where, rc, refs, refs == 1 ? "" : "s");
		break;
	case RC_UNMAPPED:
		err(f, "refcount tree: %s: refcount %u recorded but no file "
		    "maps %s", where, rc, first == last ? "it" : "them");
		break;
	case RC_META:
		err(f, "refcount tree: %s: refcount %u recorded on metadata",
		    where, rc);
		break;
	case RC_OK:
		break;
	}
}

/*
 * For every block covered by a record, the number of file mappings must
 * equal the recorded count.  Blocks without a record are mapped at most
 * once (pass 1b reports the others) and unmapped blocks must be free
 * (pass 4).
 */
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

/* ---- pass 2: orphans, directories --------------------------------- */

static void read_inode(struct fsck *f, uint64_t ino, struct rlfs_inode *ri)
{
	uint64_t off = (f->g.itable_start +
			ino / RLFS_INODES_PER_BLOCK) * RLFS_BLOCK_SIZE +
		       (ino % RLFS_INODES_PER_BLOCK) * RLFS_INODE_SIZE;
	ssize_t r = rlfs_pread_full(&f->dev, ri, sizeof(*ri), off);

	if (r != (ssize_t)sizeof(*ri))
		fatal("%s: cannot read inode %" PRIu64 ": %s", f->path, ino,
		      r < 0 ? strerror(-r) : "short read");
}

static void check_orphans(struct fsck *f)
{
	struct rlfs_inode ri;
	uint64_t cur = le64toh(f->sb.s_orphan_head), prev = 0;
	uint64_t steps;

	for (steps = 0; cur && steps <= f->g.inodes; steps++) {
		if (cur >= f->g.inodes) {
			err(f, "orphan list: inode %" PRIu64 " (after %" PRIu64
			    ") is out of range", cur, prev);
			return;
		}
		if (!(f->ii[cur].flags & II_INUSE)) {
			err(f, "orphan list: inode %" PRIu64 " (after %" PRIu64
			    ") is not in use", cur, prev);
			return;
		}
		if (f->ii[cur].flags & II_ORPHAN) {
			err(f, "orphan list: loop at inode %" PRIu64 " (after %"
			    PRIu64 ")", cur, prev);
			return;
		}
		if (cur == RLFS_ROOT_INO) {
			err(f, "orphan list: contains the root directory");
			return;
		}
		f->ii[cur].flags |= II_ORPHAN;
		if (f->ii[cur].nlink)
			info(f, "orphan list: inode %" PRIu64 " has %u links "
			     "(truncation in progress)", cur,
			     f->ii[cur].nlink);
		else
			info(f, "orphan list: inode %" PRIu64, cur);
		read_inode(f, cur, &ri);
		prev = cur;
		cur = le64toh(ri.i_next_orphan);
	}
}

static struct dir_info *find_dir(struct fsck *f, uint64_t ino)
{
	size_t lo = 0, hi = f->ndirs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (f->dirs[mid].ino == ino)
			return &f->dirs[mid];
		if (f->dirs[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static uint32_t name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261U;

	while (len--) {
		h ^= (uint8_t)*s++;
		h *= 16777619U;
	}
	return h;
}

static void names_reset(struct name_set *s)
{
	if (!s->buckets) {
		s->nbuckets = 1024;
		s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	} else {
		memset(s->buckets, 0, s->nbuckets * sizeof(*s->buckets));
	}
	s->n = 0;
	s->alen = 0;
}

static void names_grow(struct name_set *s)
{
	size_t i, b;

	free(s->buckets);
	s->nbuckets *= 2;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	for (i = 0; i < s->n; i++) {
		b = s->ents[i].hash & (s->nbuckets - 1);
		s->ents[i].next = s->buckets[b];
		s->buckets[b] = i + 1;
	}
}

/* Add a name; false if it was already there. */
static bool names_add(struct name_set *s, const char *name, uint8_t len)
{
	uint32_t h = name_hash(name, len), e;
	struct name_ent *ne;

	for (e = s->buckets[h & (s->nbuckets - 1)]; e; e = ne->next) {
		ne = &s->ents[e - 1];
		if (ne->hash == h && ne->len == len &&
		    !memcmp(s->arena + ne->off, name, len))
			return false;
	}
	if (s->n >= UINT32_MAX - 1)
		return true;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->ents = xrealloc_array(s->ents, s->cap, sizeof(*s->ents));
	}
	if (s->alen + len > s->acap) {
		s->acap = s->acap ? s->acap * 2 : 65536;
		s->arena = xrealloc_array(s->arena, s->acap, 1);
	}
	memcpy(s->arena + s->alen, name, len);
	ne = &s->ents[s->n];
	ne->hash = h;
	ne->len = len;
	ne->off = s->alen;
	s->alen += len;
	ne->next = s->buckets[h & (s->nbuckets - 1)];
	s->buckets[h & (s->nbuckets - 1)] = ++s->n;
	if (s->n > s->nbuckets)
		names_grow(s);
	return true;
}

static void add_edge(struct fsck *f, size_t parent, size_t child)
{
	if (f->nedges == f->cap_edges) {
		f->cap_edges = f->cap_edges ? f->cap_edges * 2 : 64;
		f->edges = xrealloc_array(f->edges, f->cap_edges,
					  sizeof(*f->edges));
	}
	f->edges[f->nedges].parent = parent;
	f->edges[f->nedges].child = child;
	f->nedges++;
}

/* Printable copy of a directory entry name. */
static const char *show_name(const char *name, unsigned int len,
			     char *out, size_t size)
{
	size_t o = 0;
	unsigned int i;
	unsigned char c;

	for (i = 0; i < len && o + 5 < size; i++) {
		c = name[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			o += snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = c;
	}
	out[o] = 0;
	return out;
}

static void check_dirent(struct fsck *f, struct dir_info *d, uint64_t blk,
			 unsigned int off, const struct rlfs_dirent *de)
{
	uint64_t dino = d->ino, ino = le64toh(de->d_ino);
	unsigned int len = de->d_name_len;
	struct dir_info *cd;
	struct ino_info *t;
	char name[4 * RLFS_NAME_LEN + 8];
	int ft;

	show_name(de->d_name, len, name, sizeof(name));
	if (len == 0) {
		err(f, "directory %" PRIu64 " block %" PRIu64 " offset %u: "
		    "entry for inode %" PRIu64 " has an empty name", dino,
		    blk, off, ino);
		return;
	}
	if (memchr(de->d_name, '/', len) || memchr(de->d_name, 0, len))
		err(f, "directory %" PRIu64 ": entry '%s' contains '/' or "
		    "NUL", dino, name);
	else if ((len == 1 && de->d_name[0] == '.') ||
		 (len == 2 && de->d_name[0] == '.' && de->d_name[1] == '.'))
		err(f, "directory %" PRIu64 ": stores an entry '%s'", dino,
		    name);
	if (!names_add(&f->names, de->d_name, len))
		err(f, "directory %" PRIu64 ": duplicate entry '%s'", dino,
		    name);
	if (ino >= f->g.inodes) {
		err(f, "directory %" PRIu64 ": entry '%s' points to inode %"
		    PRIu64 " beyond the inode table", dino, name, ino);
		return;
	}
	t = &f->ii[ino];
	if (!(t->flags & II_ALLOC) || ino == 0) {
		err(f, "directory %" PRIu64 ": entry '%s' points to free "
		    "inode %" PRIu64, dino, name, ino);
		return;
	}
	if (t->links != UINT32_MAX)
		t->links++;
	if (!(t->flags & II_INUSE))
		return;		/* corrupt inode, already reported */
	ft = rlfs_mode_to_ftype(t->mode);
	if (de->d_type != ft)
		err(f, "directory %" PRIu64 ": entry '%s' has type %u (%s) "
		    "but inode %" PRIu64 " is a %s", dino, name, de->d_type,
		    rlfs_ftype_name(de->d_type), ino, rlfs_ftype_name(ft));
	if (ft != RLFS_FT_DIR)
		return;
	if (ino == RLFS_ROOT_INO) {
		err(f, "directory %" PRIu64 ": entry '%s' refers to the root "
		    "directory", dino, name);
		return;
	}
	d->subdirs++;
	cd = find_dir(f, ino);
	if (!cd)
		return;
	if (cd->parent != dino)
		err(f, "directory %" PRIu64 " (entry '%s' in directory %"
		    PRIu64 ") has parent %" PRIu64, ino, name, dino,
		    cd->parent);
	if (!cd->ref_dir)
		cd->ref_dir = dino;
	add_edge(f, d - f->dirs, cd - f->dirs);
}

static void check_dir_block(struct fsck *f, struct dir_info *d, uint64_t blk,
			    uint64_t lblk)
{
	const struct rlfs_dir_block *db = (const void *)f->buf;
	const struct rlfs_dirent *de;
	unsigned int off, rec_len;

	read_or_die(f, blk, 1, f->buf);
	if (le32toh(db->db_hdr.bh_magic) != RLFS_DIR_MAGIC) {
		err(f, "directory %" PRIu64 " block %" PRIu64 " (logical %"
		    PRIu64 "): bad magic 0x%08x", d->ino, blk, lblk,
		    le32toh(db->db_hdr.bh_magic));
		return;
	}
	if (le64toh(db->db_hdr.bh_blocknr) != blk) {
		err(f, "directory %" PRIu64 " block %" PRIu64 ": header says "
		    "block %" PRIu64, d->ino, blk,
		    (uint64_t)le64toh(db->db_hdr.bh_blocknr));
		return;
	}
	if (le64toh(db->db_hdr.bh_owner) != d->ino)
		err(f, "directory %" PRIu64 " block %" PRIu64 ": owner is "
		    "inode %" PRIu64, d->ino, blk,
		    (uint64_t)le64toh(db->db_hdr.bh_owner));
	if (!rlfs_block_csum_ok(db))
		err(f, "directory %" PRIu64 " block %" PRIu64 ": bad checksum",
		    d->ino, blk);

	for (off = sizeof(db->db_hdr); off < RLFS_BLOCK_SIZE; off += rec_len) {
		if (RLFS_BLOCK_SIZE - off < RLFS_DIRENT_HDR) {
			err(f, "directory %" PRIu64 " block %" PRIu64 ": "
			    "truncated record at offset %u", d->ino, blk,
			    off);
			return;
		}
		de = (const void *)(f->buf + off);
		rec_len = le16toh(de->d_rec_len);
		if (rec_len % RLFS_DIRENT_ALIGN ||
		    rec_len < (unsigned int)RLFS_DIRENT_SIZE(de->d_name_len) ||
		    rec_len > RLFS_BLOCK_SIZE - off) {
			err(f, "directory %" PRIu64 " block %" PRIu64 ": "
			    "record at offset %u has bad length %u (name "
			    "length %u)", d->ino, blk, off, rec_len,
			    de->d_name_len);
			return;
		}
		if (de->d_ino)
			check_dirent(f, d, blk, off, de);
	}
}

static void check_dirs(struct fsck *f)
{
	struct dir_info *d;
	uint64_t b;
	size_t i, e;

	for (i = 0; i < f->ndirs; i++) {
		d = &f->dirs[i];
		names_reset(&f->names);
		for (e = 0; e < d->n_ext; e++)
			for (b = 0; b < d->ext[e].len; b++)
				check_dir_block(f, d, d->ext[e].pblk + b,
						(uint64_t)d->ext[e].lblk + b);
	}
}

/* ---- pass 3: connectivity and link counts ------------------------- */

static void build_children(struct fsck *f)
{
	size_t i, *pos;

	f->children = xcalloc(f->nedges, sizeof(*f->children));
	pos = xcalloc(f->ndirs + 1, sizeof(*pos));
	for (i = 0; i < f->nedges; i++)
		pos[f->edges[i].parent + 1]++;
	for (i = 0; i < f->ndirs; i++)
		pos[i + 1] += pos[i];
	for (i = 0; i < f->ndirs; i++)
		f->dirs[i].first_child = pos[i];
	for (i = 0; i < f->nedges; i++)
		f->children[pos[f->edges[i].parent]++] = f->edges[i].child;
	free(pos);
}

static size_t children_end(struct fsck *f, size_t i)
{
	return i + 1 < f->ndirs ? f->dirs[i + 1].first_child : f->nedges;
}

/* Mark the directories reachable from start (reached or handled). */
static void mark_tree(struct fsck *f, size_t start, bool reached)
{
	size_t *queue = xcalloc(f->ndirs, sizeof(*queue));
	size_t head = 0, tail = 0, i, c;
	struct dir_info *d;

	if (reached)
		f->dirs[start].reached = true;
	f->dirs[start].handled = true;
	queue[tail++] = start;
	while (head < tail) {
		i = queue[head++];
		for (c = f->dirs[i].first_child; c < children_end(f, i); c++) {
			d = &f->dirs[f->children[c]];
			if (d->handled)
				continue;
			d->handled = true;
			d->reached = reached;
			queue[tail++] = f->children[c];
		}
	}
	free(queue);
}

/*
 * Directories not reachable from the root: walk up the first-reference
 * chain to the top of each detached tree (or around a cycle), report
 * that top once and mark the tree.
 */
static void check_detached_dirs(struct fsck *f)
{
	struct dir_info *d, *top;
	struct ino_info *ii;
	uint64_t stamp = 0;
	size_t i;

	for (i = 0; i < f->ndirs; i++) {
		if (f->dirs[i].handled)
			continue;
		stamp++;
		d = &f->dirs[i];
		top = NULL;
		for (;;) {
			if (d->handled)
				break;
			if (d->stamp == stamp) {
				err(f, "directory %" PRIu64 " is in a cycle of "
				    "directories not connected to the root",
				    d->ino);
				top = d;
				break;
			}
			d->stamp = stamp;
			if (!d->ref_dir || !find_dir(f, d->ref_dir)) {
				top = d;
				ii = &f->ii[d->ino];
				if (!(ii->flags & II_ORPHAN) || ii->nlink)
					err(f, "directory %" PRIu64 " is not "
					    "referenced by any directory "
					    "(parent %" PRIu64 ")", d->ino,
					    d->parent);
				break;
			}
			d = find_dir(f, d->ref_dir);
		}
		if (top)
			mark_tree(f, top - f->dirs, false);
		else
			mark_tree(f, i, false);
	}
}

static void check_links(struct fsck *f)
{
	struct dir_info *d;
	struct ino_info *ii;
	uint64_t ino;
	size_t i;

	for (i = 0; i < f->ndirs; i++) {
		d = &f->dirs[i];
		ii = &f->ii[d->ino];
		if (d->ino == RLFS_ROOT_INO && d->parent != RLFS_ROOT_INO)
			err(f, "directory 1 (root): parent is %" PRIu64
			    ", expected 1", d->parent);
		if (d->ino != RLFS_ROOT_INO && ii->links > 1)
			err(f, "directory %" PRIu64 " is referenced by %u "
			    "directory entries", d->ino, ii->links);
		if ((ii->flags & II_ORPHAN) && ii->nlink == 0 && !ii->links)
			continue;	/* removed, still open */
		if (ii->nlink != (uint64_t)d->subdirs + 2)
			err(f, "directory %" PRIu64 ": link count %u, expected "
			    "%" PRIu64 " (2 + %u subdirectories)", d->ino,
			    ii->nlink, (uint64_t)d->subdirs + 2, d->subdirs);
	}

	for (ino = 1; ino < f->g.inodes; ino++) {
		ii = &f->ii[ino];
		if (!(ii->flags & II_INUSE) || S_ISDIR(ii->mode))
			continue;
		if (ii->links == ii->nlink) {
			if (ii->nlink == 0 && !(ii->flags & II_ORPHAN))
				err(f, "inode %" PRIu64 ": link count 0, not "
				    "referenced and not on the orphan list",
				    ino);
			continue;
		}
		if (ii->links == 0)
			err(f, "inode %" PRIu64 " (%s): not referenced by any "
			    "directory, link count %u", ino,
			    rlfs_ftype_name(rlfs_mode_to_ftype(ii->mode)),
			    ii->nlink);
		else
			err(f, "inode %" PRIu64 ": link count %u, but %u "
			    "directory entries refer to it", ino, ii->nlink,
			    ii->links);
	}
}

static void check_connectivity(struct fsck *f)
{
	struct dir_info *root = find_dir(f, RLFS_ROOT_INO);

	build_children(f);
	if (!root)
		err(f, "inode 1: root directory missing or unusable");
	else
		mark_tree(f, root - f->dirs, true);
	check_detached_dirs(f);
	check_links(f);
}

/* ---- pass 4: bitmaps ---------------------------------------------- */

static void report_range(struct fsck *f, const char *what, const char *item,
			 uint64_t first, uint64_t last, bool used)
{
	const char *msg = used ? "in use but marked free" :
				 "marked in use but not in use";

	if (first == last)
		err(f, "%s: %s %" PRIu64 " is %s", what, item, first, msg);
	else
		err(f, "%s: %ss %" PRIu64 "-%" PRIu64 " are %s", what, item,
		    first, last, msg);
}

/*
 * Compare the bitmap with the computed usage over [0, n); bits past n up
 * to the end of the last bitmap block must be set.  Blocks of the bitmap
 * that failed their header checks are skipped.
 */
static void compare_bitmap(struct fsck *f, const char *what,
			   const char *item, uint8_t *bits, const bool *ok,
			   uint64_t start, uint64_t nblocks, uint64_t n,
			   bool (*used)(struct fsck *, uint64_t))
{
	uint64_t i, end = nblocks * RLFS_BITS_PER_BITMAP, run = 0;
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
	for (i = n; i < end; i++) {
		if (!ok[i / RLFS_BITS_PER_BITMAP])
			continue;
		if (!rlfs_test_bit(bits, i)) {
			err(f, "%s block %" PRIu64 ": bits past the end (from "
			    "%" PRIu64 ") are not all set", what,
			    start + i / RLFS_BITS_PER_BITMAP, i);
			break;
		}
	}
}

static bool block_used(struct fsck *f, uint64_t blk)
{
	return blk < f->g.data_start || f->refs[blk] > 0;
}

static bool inode_used(struct fsck *f, uint64_t ino)
{
	return ino == 0 || (f->ii[ino].flags & II_ALLOC);
}

/* ---- main --------------------------------------------------------- */

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

static int check(struct fsck *f)
{
	uint64_t used_blocks = 0, used_inodes = 0, i, free_hint;
	uint32_t state;
	bool geom_ok, recovery;
	void *jblk;

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
	info(f, "Pass 0: superblock and journal");
	f->errors += rlfs_check_super(&f->sb, report_cb, f, &geom_ok);
	if (!geom_ok)
		goto out;
	rlfs_geom_from_super(&f->sb, &f->g);
	if (f->dev.size / RLFS_BLOCK_SIZE < f->g.blocks) {
		err(f, "superblock: the filesystem has %" PRIu64 " blocks but "
		    "%s has only %" PRIu64, f->g.blocks, f->path,
		    f->dev.size / RLFS_BLOCK_SIZE);
		goto out;
	}
	state = le32toh(f->sb.s_state);
	if (state & RLFS_STATE_ERROR)
		err(f, "superblock: the filesystem is marked as having errors");
	if (!(state & RLFS_STATE_CLEAN))
		info(f, "superblock: not cleanly unmounted");
	if (le64toh(f->sb.s_feature_compat) & ~RLFS_FEATURE_COMPAT_SUPP)
		info(f, "superblock: unknown compatible features 0x%" PRIx64,
		     (uint64_t)(le64toh(f->sb.s_feature_compat) &
				~RLFS_FEATURE_COMPAT_SUPP));

	jblk = xcalloc(1, RLFS_BLOCK_SIZE);
	read_or_die(f, f->g.journal_start, 1, jblk);
	f->errors += rlfs_check_jbd2_super(jblk, f->g.journal_start,
					   f->g.journal_blocks, report_cb, f,
					   &recovery);
	free(jblk);
	if (recovery)
		goto out;

	info(f, "Pass 1: bitmaps and inodes");
	f->bbits = xcalloc(f->g.bbitmap_blocks, RLFS_BITMAP_BYTES);
	f->bbits_ok = xcalloc(f->g.bbitmap_blocks, sizeof(bool));
	f->ibits = xcalloc(f->g.ibitmap_blocks, RLFS_BITMAP_BYTES);
	f->ibits_ok = xcalloc(f->g.ibitmap_blocks, sizeof(bool));
	read_bitmap(f, "block bitmap", f->g.bbitmap_start,
		    f->g.bbitmap_blocks, f->bbits, f->bbits_ok);
	read_bitmap(f, "inode bitmap", f->g.ibitmap_start,
		    f->g.ibitmap_blocks, f->ibits, f->ibits_ok);

	f->refs = xcalloc(f->g.blocks, sizeof(*f->refs));
	f->bkind = xcalloc(f->g.blocks, sizeof(*f->bkind));
	f->ii = xcalloc(f->g.inodes, sizeof(*f->ii));
	check_refcount_tree(f);
	scan_inodes(f);
	find_dups(f);
	info(f, "Pass 1c: reference counts");
	check_refcounts(f);

	info(f, "Pass 2: orphan list and directories");
	check_orphans(f);
	check_dirs(f);

	info(f, "Pass 3: connectivity and link counts");
	check_connectivity(f);

	info(f, "Pass 4: bitmaps");
	compare_bitmap(f, "block bitmap", "block", f->bbits, f->bbits_ok,
		       f->g.bbitmap_start, f->g.bbitmap_blocks, f->g.blocks, block_used);
	compare_bitmap(f, "inode bitmap", "inode", f->ibits, f->ibits_ok,
		       f->g.ibitmap_start, f->g.ibitmap_blocks, f->g.inodes, inode_used);

	for (i = 0; i < f->g.blocks; i++)
		used_blocks += block_used(f, i);
	for (i = 0; i < f->g.inodes; i++)
		used_inodes += inode_used(f, i);
	free_hint = le64toh(f->sb.s_free_blocks);
	if (free_hint != f->g.blocks - used_blocks)
		info(f, "superblock: free blocks hint %" PRIu64 ", counted %"
		     PRIu64, free_hint, f->g.blocks - used_blocks);
	free_hint = le64toh(f->sb.s_free_inodes);
	if (free_hint != f->g.inodes - used_inodes)
		info(f, "superblock: free inodes hint %" PRIu64 ", counted %"
		     PRIu64, free_hint, f->g.inodes - used_inodes);

out:
	if (!f->errors) {
		printf("reflinkfs %s: clean, %" PRIu64 "/%" PRIu64 " inodes, %"
		       PRIu64 "/%" PRIu64 " blocks\n", f->path, used_inodes,
		       f->g.inodes, used_blocks, f->g.blocks);
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
		fatal("%s: cannot open: %s", f->path, strerror(-ret));
	ret = check(f);
	rlfs_dev_close(&f->dev);
	return ret;
}
