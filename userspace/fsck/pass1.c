// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs pass 1: the bitmap blocks, the refcount tree and the
 * inode table.
 *
 * Every block read is judged by the format core: bitmap blocks by their
 * header, refcount and extent tree nodes by rlfs_verify_refcount_node()
 * and rlfs_verify_extent_node(), inodes by rlfs_verify_inode(), xattr and
 * slow symlink blocks by their verifiers.  This pass walks the trees
 * (the core checks a node, fsck descends into its children), counts the
 * references to every block in refs[] and marks metadata blocks in
 * bkind[], for passes 1b and 5; it collects the refcount records (pass 5)
 * and the directories with their mappings (passes 2 and 3).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"

#define IERR(f, w, fmt, ...) do {					\
		(w)->nerr++;						\
		fsck_err(f, "inode %" PRIu64 ": " fmt, (w)->ino,	\
			 ##__VA_ARGS__);				\
	} while (0)

/* Blocks read at once from the bitmaps and the inode table. */
#define CHUNK_BLOCKS	256U

/* ---- bitmaps ------------------------------------------------------ */

/*
 * Read a bitmap region into bits (RLFS_BITMAP_BYTES per block); ok[k]
 * records whether block k passed the core's header and checksum checks,
 * and so whether pass 5 can compare it.
 */
static void read_bitmap(struct fsck *f, const char *what, uint64_t start,
			uint64_t nblocks, uint64_t nitems, uint64_t reserved,
			uint8_t *bits, bool *ok)
{
	uint8_t *chunk = xcalloc(CHUNK_BLOCKS, RLFS_BLOCK_SIZE);
	const struct rlfs_bitmap_block *bb;
	uint64_t k, n, i, blk, first;
	const char *why;
	uint32_t bit;

	for (k = 0; k < nblocks; k += n) {
		n = nblocks - k < CHUNK_BLOCKS ? nblocks - k : CHUNK_BLOCKS;
		read_or_die(f, start + k, n, chunk);
		for (i = 0; i < n; i++) {
			bb = (const void *)(chunk + i * RLFS_BLOCK_SIZE);
			blk = start + k + i;
			memcpy(bits + (k + i) * RLFS_BITMAP_BYTES, bb->bb_bits,
			       RLFS_BITMAP_BYTES);
			ok[k + i] = check_block(f, bb, RLFS_BITMAP_MAGIC, blk,
						0, "%s block %" PRIu64, what,
						blk) == BLK_OK;
			if (!ok[k + i])
				continue;
			first = (k + i) * RLFS_BITS_PER_BITMAP;
			why = rlfs_verify_bitmap_block(bb, first, nitems,
						       reserved, &bit);
			if (why)
				fsck_err(f, "%s block %" PRIu64 ": %s (bit %u, "
					 "item %" PRIu64 ")", what, blk, why,
					 bit, first + bit);
		}
	}
	free(chunk);
}

/* ---- block claims ------------------------------------------------- */

/* Data blocks [blk, blk + len), in the data area (the core said so). */
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

static void rc_add(struct fsck *f, const struct rlfs_rc_irec *r)
{
	if (f->n_rc == f->cap_rc) {
		f->cap_rc = f->cap_rc ? f->cap_rc * 2 : 64;
		f->rc = xrealloc_array(f->rc, f->cap_rc, sizeof(*f->rc));
	}
	f->rc[f->n_rc++] = *r;
}

/* Report the core's verdict on refcount node @blk, keys in [lo, hi). */
static void rc_node_error(struct fsck *f, uint64_t blk,
			  const struct rlfs_btree_header *h, int depth,
			  uint64_t lo, uint64_t hi, const char *why, int entry)
{
	struct rlfs_rc_irec r;

	if (entry < 0) {
		fsck_err(f, "refcount block %" PRIu64 ": %s (entries %d, max "
			 "%d, depth %d, expected depth %d)", blk, why,
			 rlfs_bt_entries(h), rlfs_bt_max(h), rlfs_bt_depth(h),
			 depth);
	} else if (depth) {
		fsck_err(f, "refcount block %" PRIu64 " entry %d: %s (key %"
			 PRIu64 ", child %" PRIu64 "; node range [%" PRIu64 ", "
			 "%" PRIu64 "))", blk, entry, why,
			 rlfs_bt_key(h, entry, sizeof(__le64)),
			 rlfs_bt_child(h, entry), lo, hi);
	} else {
		rlfs_rc_to_irec(rlfs_bt_entry(h, entry), &r);
		fsck_err(f, "refcount block %" PRIu64 " entry %d: %s (start %"
			 PRIu64 ", length %u, refcount %u; node range [%" PRIu64
			 ", %" PRIu64 "))", blk, entry, why, r.start, r.len,
			 r.refcount, lo, hi);
	}
}

/*
 * One node of the refcount tree at block @blk, of @depth, its keys in
 * [lo, hi).  Tree blocks are claimed in refs[] like any other metadata
 * and marked BK_RCTREE; the valid records are kept, in order, in f->rc.
 */
static void walk_rc_node(struct fsck *f, uint64_t blk, int depth,
			 uint64_t lo, uint64_t hi, bool root)
{
	uint8_t *block = f->rbuf[depth];
	const struct rlfs_btree_header *h = rlfs_bt_block_node(block);
	struct rlfs_rc_irec r;
	uint64_t key, next;
	const char *why;
	int i, n, entry;

	if (f->refs[blk]) {
		fsck_err(f, "refcount block %" PRIu64 ": referenced twice in "
			 "the refcount tree", blk);
		return;
	}
	f->refs[blk] = 1;
	f->bkind[blk] |= BK_META | BK_RCTREE;
	f->rc_blocks++;
	read_or_die(f, blk, 1, block);
	if (check_block(f, block, RLFS_REFCOUNT_MAGIC, blk, 0,
			"refcount block %" PRIu64, blk) == BLK_BAD_HEADER)
		return;

	n = usable_entries(f, rlfs_verify_refcount_node, h, root, depth, lo,
			   hi, &why, &entry);
	if (why)
		rc_node_error(f, blk, h, depth, lo, hi, why, entry);
	for (i = 0; i < n; i++) {
		if (!depth) {
			rlfs_rc_to_irec(rlfs_bt_entry(h, i), &r);
			rc_add(f, &r);
			continue;
		}
		key = rlfs_bt_key(h, i, sizeof(__le64));
		next = i + 1 < n ? rlfs_bt_key(h, i + 1, sizeof(__le64)) : hi;
		walk_rc_node(f, rlfs_bt_child(h, i), depth - 1, key, next,
			     false);
	}
}

static void check_refcount_tree(struct fsck *f)
{
	uint64_t root = le64toh(f->sb.s_refcount_root);
	uint32_t depth = le32toh(f->sb.s_refcount_depth);

	/*
	 * The root and depth belong to the superblock, judged in pass 0 by
	 * rlfs_verify_super(): a tree it cannot have accepted is not walked.
	 */
	if (!(le64toh(f->sb.s_feature_incompat) &
	      RLFS_FEATURE_INCOMPAT_REFCOUNT))
		return;
	if (!root) {
		fsck_info(f, "refcount tree: empty");
		return;
	}
	if (depth > RLFS_MAX_EXTENT_DEPTH || !rlfs_geom_in_data(&f->g, root, 1))
		return;
	walk_rc_node(f, root, depth, f->g.data_start, f->g.blocks, true);
	fsck_info(f, "refcount tree: %zu records in %" PRIu64 " blocks, depth "
		  "%u", f->n_rc, f->rc_blocks, depth);
}

/* ---- extent trees ------------------------------------------------- */

static void collect_ext(struct walk *w, const struct rlfs_ext_irec *r)
{
	if (!w->collect)
		return;
	if (w->n_ext == w->cap_ext) {
		w->cap_ext = w->cap_ext ? w->cap_ext * 2 : 16;
		w->ext = xrealloc_array(w->ext, w->cap_ext, sizeof(*w->ext));
	}
	w->ext[w->n_ext++] = *r;
}

/* Report the core's verdict on an extent node (@blk 0: the root). */
static void ext_node_error(struct fsck *f, struct walk *w, uint64_t blk,
			   const struct rlfs_btree_header *h, int depth,
			   uint64_t lo, uint64_t hi, const char *why,
			   int entry)
{
	struct rlfs_ext_irec r;
	char where[64], expect[32] = "";

	w->nerr++;
	if (blk) {
		snprintf(where, sizeof(where), "extent block %" PRIu64, blk);
		snprintf(expect, sizeof(expect), ", expected depth %d", depth);
	} else {
		snprintf(where, sizeof(where), "extent root");
	}
	if (entry < 0) {
		fsck_err(f, "inode %" PRIu64 ": %s: %s (entries %d, max %d, "
			 "depth %d%s)", w->ino, where, why, rlfs_bt_entries(h),
			 rlfs_bt_max(h), rlfs_bt_depth(h), expect);
	} else if (depth) {
		fsck_err(f, "inode %" PRIu64 ": %s entry %d: %s (key %" PRIu64
			 ", child %" PRIu64 "; node range [%" PRIu64 ", %"
			 PRIu64 "))", w->ino, where, entry, why,
			 rlfs_bt_key(h, entry, sizeof(__le32)),
			 rlfs_bt_child(h, entry), lo, hi);
	} else {
		rlfs_ext_to_irec(rlfs_bt_entry(h, entry), &r);
		fsck_err(f, "inode %" PRIu64 ": %s entry %d: %s (logical %u, "
			 "length %u, physical %" PRIu64 "; node range [%" PRIu64
			 ", %" PRIu64 "))", w->ino, where, entry, why, r.lblk,
			 r.len, r.pblk, lo, hi);
	}
}

static void walk_ext_node(struct fsck *f, struct walk *w,
			  const struct rlfs_btree_header *h, uint64_t blk,
			  int depth, uint64_t lo, uint64_t hi);

/*
 * Read block @blk that inode w->ino owns as a @kind block (@magic) into
 * @block and check its header and checksum; a problem counts against the
 * inode's blocks.  BLK_BAD_HEADER: its contents are not to be used.
 */
static enum blk_verdict read_owned(struct fsck *f, struct walk *w,
				   uint64_t blk, void *block, uint32_t magic,
				   const char *kind)
{
	enum blk_verdict v;

	read_or_die(f, blk, 1, block);
	v = check_block(f, block, magic, blk, w->ino,
			"inode %" PRIu64 ": %s block %" PRIu64, w->ino, kind,
			blk);
	if (v != BLK_OK)
		w->nerr++;
	return v;
}

/* Extent block @blk of @depth, its keys in [lo, hi), as a child. */
static void walk_ext_block(struct fsck *f, struct walk *w, uint64_t blk,
			   int depth, uint64_t lo, uint64_t hi)
{
	uint8_t *block = f->ebuf[depth];
	enum blk_verdict v;

	w->meta_blocks++;
	if (!claim_meta(f, w, blk))
		return;
	v = read_owned(f, w, blk, block, RLFS_EXTENT_MAGIC, "extent");
	if (v == BLK_BAD_HEADER)
		return;
	walk_ext_node(f, w, rlfs_bt_block_node(block), blk, depth, lo, hi);
}

/*
 * One node of an inode's extent tree: the root in i_data (@blk 0) or an
 * extent block, of @depth, its keys in [lo, hi).
 */
static void walk_ext_node(struct fsck *f, struct walk *w,
			  const struct rlfs_btree_header *h, uint64_t blk,
			  int depth, uint64_t lo, uint64_t hi)
{
	struct rlfs_ext_irec r;
	uint64_t key, next;
	const char *why;
	int i, n, entry;

	n = usable_entries(f, rlfs_verify_extent_node, h, !blk, depth, lo,
			   hi, &why, &entry);
	if (why)
		ext_node_error(f, w, blk, h, depth, lo, hi, why, entry);
	for (i = 0; i < n; i++) {
		if (!depth) {
			rlfs_ext_to_irec(rlfs_bt_entry(h, i), &r);
			claim_data(f, w, r.pblk, r.len);
			w->data_blocks += r.len;
			collect_ext(w, &r);
			continue;
		}
		key = rlfs_bt_key(h, i, sizeof(__le32));
		next = i + 1 < n ? rlfs_bt_key(h, i + 1, sizeof(__le32)) : hi;
		walk_ext_block(f, w, rlfs_bt_child(h, i), depth - 1, key,
			       next);
	}
}

/* Walk the extent tree of an inode from its root in i_data. */
static void walk_inode_extents(struct fsck *f, struct walk *w,
			       const struct rlfs_inode *ri)
{
	walk_ext_node(f, w, &ri->i_eh, 0, rlfs_bt_depth(&ri->i_eh), 0,
		      RLFS_LBLK_LIMIT);
}

/* ---- xattr, symlinks ---------------------------------------------- */

/*
 * The xattr block @blk, in the data area (rlfs_verify_inode() said so).
 * Returns the number of blocks owned through i_xattr_blk (0 or 1).
 */
static unsigned int check_xattr(struct fsck *f, struct walk *w,
				uint64_t blk)
{
	const struct rlfs_xattr_entry *xe;
	unsigned int off, used;
	enum blk_verdict v;
	const char *why;

	if (!blk)
		return 0;
	if (!claim_meta(f, w, blk) || f->pass1b)
		return 1;
	v = read_owned(f, w, blk, f->buf, RLFS_XATTR_MAGIC, "xattr");
	if (v == BLK_BAD_HEADER)
		return 1;
	why = rlfs_verify_xattr_block(f->buf, &off, &used);
	if (!why)
		return 1;
	xe = (const void *)(f->buf + off);
	/* What the entry holds, where it lies inside the buffer. */
	if (off <= RLFS_BLOCK_SIZE - sizeof(*xe))
		IERR(f, w, "xattr block %" PRIu64 " offset %u: %s (index %u, "
		     "name length %u, value length %u)", blk, off, why,
		     xe->xe_index, xe->xe_name_len, le16toh(xe->xe_value_len));
	else
		IERR(f, w, "xattr block %" PRIu64 " offset %u: %s", blk, off,
		     why);
	return 1;
}

static void check_slow_symlink(struct fsck *f, struct walk *w,
			       const struct rlfs_inode *ri)
{
	const struct rlfs_symlink_block *sl = (const void *)f->buf;
	uint64_t size = le64toh(ri->i_size);
	enum blk_verdict v;
	const char *why;
	uint64_t blk;

	if (w->nerr)
		return;
	if (w->n_ext != 1 || rlfs_bt_depth(&ri->i_eh) != 0 ||
	    w->ext[0].lblk != 0 || w->ext[0].len != 1) {
		IERR(f, w, "slow symlink must map exactly one block at "
		     "logical block 0 (%zu extents)", w->n_ext);
		return;
	}
	blk = w->ext[0].pblk;
	v = read_owned(f, w, blk, f->buf, RLFS_SYMLINK_MAGIC, "symlink");
	if (v == BLK_BAD_HEADER)
		return;
	why = rlfs_verify_symlink_block(sl, size);
	if (why)
		IERR(f, w, "symlink block %" PRIu64 ": %s (i_size %" PRIu64
		     ", target length %zu)", blk, why, size,
		     strnlen(sl->sl_target, sizeof(sl->sl_target)));
}

/* ---- inodes ------------------------------------------------------- */

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

/* The mapping of a directory against its size (a multiple of blocks). */
static void check_dir_shape(struct fsck *f, struct walk *w,
			    const struct rlfs_inode *ri)
{
	uint64_t size = le64toh(ri->i_size);
	uint64_t expect = 0;
	size_t i;

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

static void inode_error(struct fsck *f, uint64_t ino,
			const struct rlfs_inode *ri, const char *why)
{
	bool magic_ok = le32toh(ri->i_magic) == RLFS_INODE_MAGIC;

	fsck_err(f, "inode %" PRIu64 ": %s (magic 0x%08x, mode 0%o, size %"
		 PRIu64 ", flags 0x%08x)%s", ino, why, le32toh(ri->i_magic),
		 le16toh(ri->i_mode), (uint64_t)le64toh(ri->i_size),
		 le32toh(ri->i_flags),
		 magic_ok ? "" : ", marked in use in the inode bitmap");
}

/* Whether i_data holds an extent root (the other inodes map nothing). */
static bool has_extent_root(const struct rlfs_inode *ri)
{
	int ft = rlfs_mode_to_ftype(le16toh(ri->i_mode));

	if (ft == RLFS_FT_SYMLINK)
		return !(le32toh(ri->i_flags) & RLFS_FAST_SYMLINK_FL);
	return ft == RLFS_FT_REG || ft == RLFS_FT_DIR;
}

/* The core's verdict on @rec with its checksum recomputed. */
static const char *verify_resummed(struct fsck *f, uint64_t ino,
				   struct rlfs_inode *rec)
{
	rlfs_inode_set_csum(rec);
	return rlfs_verify_inode(rec, ino, &f->g,
				 le64toh(f->sb.s_feature_ro_compat));
}

/*
 * The core refused inode @ri (@why): report it, and say whether the
 * inode can still be checked, from the copy of it left in @rec.  That is
 * so when the core accepts the copy with its checksum recomputed and, if
 * the fault is in the extent root, with the root cut before the entry at
 * fault (usable_entries(); the root is then reported as a node, with the
 * entry).  A bad checksum alone does not stop the checks, as it does not
 * for a block (check_block()).  The reasons are the core's strings: the
 * same pointer is the same verdict, reported once.
 */
static bool salvage_inode(struct fsck *f, struct walk *w,
			  const struct rlfs_inode *ri, const char *why,
			  struct rlfs_inode *rec)
{
	int depth = rlfs_bt_depth(&ri->i_eh), n = 0, entry;
	const char *root_why = NULL, *rest;

	*rec = *ri;
	rest = verify_resummed(f, w->ino, rec);
	if (rest && has_extent_root(ri))
		n = usable_entries(f, rlfs_verify_extent_node, &ri->i_eh, true,
				   depth, 0, RLFS_LBLK_LIMIT, &root_why,
				   &entry);
	if (!rest || rest != root_why) {
		inode_error(f, w->ino, ri, why);
		if (rest && rest != why)
			inode_error(f, w->ino, ri, rest);
		return !rest;
	}
	if (why != root_why)
		inode_error(f, w->ino, ri, why);
	ext_node_error(f, w, 0, &ri->i_eh, depth, 0, RLFS_LBLK_LIMIT,
		       root_why, entry);
	rec->i_eh.bt_entries = htole16(n);
	rec->i_eh.bt_max = htole16(RLFS_INODE_ROOT_ENTRIES);
	if (!n)
		rec->i_eh.bt_depth = 0;
	rest = verify_resummed(f, w->ino, rec);
	if (rest)
		inode_error(f, w->ino, ri, rest);
	return !rest;
}

static void check_inode(struct fsck *f, uint64_t ino,
			const struct rlfs_inode *ri)
{
	struct ino_info *ii = &f->ii[ino];
	struct walk w = { .ino = ino };
	struct rlfs_inode rec;
	bool magic_ok = le32toh(ri->i_magic) == RLFS_INODE_MAGIC;
	uint16_t mode = le16toh(ri->i_mode);
	uint32_t flags = le32toh(ri->i_flags);
	uint64_t owned, iblocks;
	bool alloc, known = ibit_known(f, ino);
	const char *why;
	int ft;

	if (known)
		alloc = rlfs_test_bit(f->ibits, ino);
	else
		alloc = magic_ok && mode != 0;

	if (ino == 0) {
		/* Its bit: rlfs_verify_bitmap_block() in read_bitmap(). */
		if (!f->pass1b)
			ii->flags = II_ALLOC;
		return;
	}
	if (!alloc) {
		if (!magic_ok || mode == 0) {
			if (!magic_ok && !all_zero(ri, sizeof(*ri)))
				fsck_info(f, "inode %" PRIu64 ": free slot "
					  "holds non-zero data", ino);
			return;
		}
		fsck_err(f, "inode %" PRIu64 ": in use (mode 0%o) but marked "
			 "free in the inode bitmap", ino, mode);
		/*
		 * A record the core accepts is an inode in use whose bit is
		 * wrong: it is checked as allocated, so that its blocks and
		 * the entries naming it count (and repair sets the bit).
		 */
		if (rlfs_verify_inode(ri, ino, &f->g,
				      le64toh(f->sb.s_feature_ro_compat))) {
			f->claims_incomplete = true;
			return;
		}
	}
	if (all_zero(ri, sizeof(*ri))) {
		/* Never written: a free inode whose bit is wrong. */
		fsck_err(f, "inode %" PRIu64 ": marked in use in the inode "
			 "bitmap but never written", ino);
		if (!f->pass1b)
			ii->flags = II_ALLOC | II_FREEREC;
		return;
	}
	if (!f->pass1b)
		ii->flags = II_ALLOC | II_BAD;
	why = rlfs_verify_inode(ri, ino, &f->g,
				le64toh(f->sb.s_feature_ro_compat));
	if (why) {
		if (!salvage_inode(f, &w, ri, why, &rec)) {
			/* What it owns or names is not known. */
			f->claims_incomplete = true;
			f->entries_incomplete = true;
			return;
		}
		ri = &rec;
	}
	if (mode == 0) {
		fsck_err(f, "inode %" PRIu64 ": marked in use in the inode "
			 "bitmap but free (mode 0)", ino);
		if (!f->pass1b && !why)
			ii->flags |= II_FREEREC;
		return;
	}
	ft = rlfs_mode_to_ftype(mode);
	if (!f->pass1b) {
		ii->flags = II_ALLOC | II_INUSE | (why ? II_SALVAGED : 0);
		ii->mode = mode;
		ii->nlink = le32toh(ri->i_nlink);
	}

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
		if (flags & RLFS_FAST_SYMLINK_FL)
			break;		/* checked by rlfs_verify_inode() */
		w.collect = true;
		w.meta_data = true;
		walk_inode_extents(f, &w, ri);
		if (!f->pass1b)
			check_slow_symlink(f, &w, ri);
		break;
	default:
		break;		/* no blocks: checked by rlfs_verify_inode() */
	}
	free(w.ext);

	owned = w.data_blocks + w.meta_blocks +
		check_xattr(f, &w, le64toh(ri->i_xattr_blk));
	/* Blocks below a node it could not use are not claimed. */
	if (w.nerr) {
		f->claims_incomplete = true;
		if (ft == RLFS_FT_DIR)
			f->entries_incomplete = true;
	}
	iblocks = le64toh(ri->i_blocks);
	if (!w.nerr && iblocks != owned) {
		IERR(f, &w, "i_blocks is %" PRIu64 " but the inode owns %"
		     PRIu64 " blocks", iblocks, owned);
		if (!f->pass1b && !why)
			fix_add(f, &(struct fix){ .kind = FIX_IBLOCKS,
				.ino = ino, .val = owned });
	}
}

/* Every slot of the inode table; pass 1b walks it again, quietly. */
void scan_inodes(struct fsck *f)
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

void pass1(struct fsck *f)
{
	fsck_info(f, "Pass 1: bitmaps, refcount tree and inodes");
	f->bbits = xcalloc(f->g.bbitmap_blocks, RLFS_BITMAP_BYTES);
	f->bbits_ok = xcalloc(f->g.bbitmap_blocks, sizeof(bool));
	f->ibits = xcalloc(f->g.ibitmap_blocks, RLFS_BITMAP_BYTES);
	f->ibits_ok = xcalloc(f->g.ibitmap_blocks, sizeof(bool));
	read_bitmap(f, "block bitmap", f->g.bbitmap_start,
		    f->g.bbitmap_blocks, f->g.blocks, f->g.data_start,
		    f->bbits, f->bbits_ok);
	read_bitmap(f, "inode bitmap", f->g.ibitmap_start,
		    f->g.ibitmap_blocks, f->g.inodes, RLFS_FIRST_INO,
		    f->ibits, f->ibits_ok);

	f->refs = xcalloc(f->g.blocks, sizeof(*f->refs));
	f->bkind = xcalloc(f->g.blocks, sizeof(*f->bkind));
	f->ii = xcalloc(f->g.inodes, sizeof(*f->ii));
	f->rc_errors = f->errors;
	check_refcount_tree(f);
	f->rc_errors = f->errors - f->rc_errors;
	scan_inodes(f);
}
