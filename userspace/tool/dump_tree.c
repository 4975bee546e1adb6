// SPDX-License-Identifier: GPL-2.0
/*
 * dump_tree.c - reflinkfs dump: the extent tree of an inode, the refcount
 * tree, and single tree blocks.
 *
 * Both trees are walked depth first from the root, each node printed
 * (with its entries and verdicts) before its children.  The walk is
 * bounded however hostile the image: the depth a node must have comes
 * from its parent (the root's own depth at most RLFS_MAX_EXTENT_DEPTH),
 * so recursion ends at depth 0; a block met twice in one tree is reported
 * (a loop, or a node shared by two parents) and not read again; a block
 * beyond the device is reported, not read; and only the entries a node
 * can hold are decoded, whatever bt_entries says.  The children of a node
 * whose magic is wrong are not followed.
 *
 *   root (inode)      depth 1, keys [0, 2^32 - 1)
 *    |-- block 1040   depth 0, keys [0, 100)     extents
 *    `-- block 1041   depth 0, keys [100, 2^32 - 1)
 *
 * Each extent is printed as the node holds it, and again in the flat
 * "extents" list split where the refcount of its physical blocks changes:
 * the refcount tree's records, sorted, say how many mappings share each
 * block (1 where no record covers it).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"

/* ---- entries of a node ---------------------------------------------- */

/* Entries of h worth decoding: bt_entries, at most the node's capacity. */
static int node_entries(const struct rlfs_btree_header *h, int cap)
{
	int n = rlfs_bt_entries(h);

	return n < cap ? n : cap;
}

/* The index entries of a node: key and child block. */
static void dump_indexes(struct dump *d, const struct rlfs_btree_header *h,
			 int n, unsigned int keylen)
{
	int i;

	dump_list_begin(d, "indexes");
	for (i = 0; i < n; i++) {
		dump_row_begin(d, NULL);
		dump_u64(d, "entry", i);
		dump_u64(d, "key", rlfs_bt_key(h, i, keylen));
		dump_u64(d, "child", rlfs_bt_child(h, i));
		dump_obj_end(d);
	}
	dump_list_end(d);
}

static void dump_ext_records(struct dump *d,
			     const struct rlfs_btree_header *h, int n)
{
	struct rlfs_ext_irec r;
	int i;

	dump_list_begin(d, "extents");
	for (i = 0; i < n; i++) {
		rlfs_ext_to_irec(rlfs_bt_entry(h, i), &r);
		dump_row_begin(d, NULL);
		dump_u64(d, "entry", i);
		dump_u64(d, "lblk", r.lblk);
		dump_u64(d, "len", r.len);
		dump_u64(d, "pblk", r.pblk);
		dump_obj_end(d);
	}
	dump_list_end(d);
}

static void dump_rc_records(struct dump *d,
			    const struct rlfs_btree_header *h, int n)
{
	struct rlfs_rc_irec r;
	int i;

	dump_list_begin(d, "records");
	for (i = 0; i < n; i++) {
		rlfs_rc_to_irec(rlfs_bt_entry(h, i), &r);
		dump_row_begin(d, NULL);
		dump_u64(d, "entry", i);
		dump_u64(d, "start", r.start);
		dump_u64(d, "len", r.len);
		dump_u64(d, "refcount", r.refcount);
		dump_obj_end(d);
	}
	dump_list_end(d);
}

/*
 * The depth a node is walked at: the one its parent implies, or its own
 * if that is less (a node knows best whether it holds records).  Always
 * below the parent's, so the walk ends.
 */
static int walk_depth(const struct rlfs_btree_header *h, int expected)
{
	int own = rlfs_bt_depth(h);

	return own < expected ? own : expected;
}

/* The child range of index i of a node covering [lo, hi): [key, next). */
static uint64_t child_hi(const struct rlfs_btree_header *h, int i, int n,
			 unsigned int keylen, uint64_t hi)
{
	uint64_t key = rlfs_bt_key(h, i, keylen), next;

	if (i + 1 >= n)
		return hi;
	next = rlfs_bt_key(h, i + 1, keylen);
	return next > key && next <= hi ? next : hi;
}

/*
 * Read tree block blk into buf unless it was seen in this walk or lies
 * beyond the device; the verdict says why not.  Returns true if read.
 */
static bool read_node(struct dump *d, struct dump_seen *seen,
		      const struct dump_where *w, void *buf)
{
	const char *why;

	if (!dump_seen_add(seen, w->block)) {
		dump_verdict(d, "verdict", w,
			     "block met twice in this tree (a loop or a shared node)");
		return false;
	}
	why = dump_read(d, w->block, buf);
	if (why) {
		dump_verdict(d, "verdict", w, why);
		return false;
	}
	return true;
}

/* ---- refcount lookups ------------------------------------------------- */

static int run_cmp(const void *a, const void *b)
{
	const struct dump_rc_run *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? 1 : x->end > y->end ? -1 : 0;
}

/* d->rc sorted into d->runs, later overlapping parts dropped. */
static void build_runs(struct dump *d)
{
	uint64_t prev_end = 0;
	size_t i, n = 0;
	struct dump_rc_run *r;

	d->runs = tool_xrealloc(NULL, d->nrc, sizeof(*d->runs));
	for (i = 0; i < d->nrc; i++) {
		r = &d->runs[i];
		r->start = d->rc[i].rec.start;
		r->end = r->start + d->rc[i].rec.len;
		if (r->end < r->start)
			r->end = UINT64_MAX;
		r->refcount = d->rc[i].rec.refcount;
	}
	qsort(d->runs, d->nrc, sizeof(*d->runs), run_cmp);
	for (i = 0; i < d->nrc; i++) {
		r = &d->runs[i];
		if (n && r->start < prev_end)
			r->start = prev_end;
		if (r->start >= r->end)
			continue;
		d->runs[n++] = *r;
		prev_end = r->end;
	}
	d->nruns = n;
}

/*
 * The refcount of physical block p: that of the run covering it, else 1;
 * *end is where that count stops holding.
 */
static uint32_t rc_lookup(const struct dump *d, uint64_t p, uint64_t *end)
{
	size_t lo = 0, hi = d->nruns, mid;

	/* the first run starting after p */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (d->runs[mid].start <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && p < d->runs[lo - 1].end) {
		*end = d->runs[lo - 1].end;
		return d->runs[lo - 1].refcount;
	}
	*end = lo < d->nruns ? d->runs[lo].start : UINT64_MAX;
	return 1;
}

/* ---- extent tree ------------------------------------------------------ */

struct ext_seg {
	uint64_t	lblk;
	uint64_t	pblk;
	uint64_t	len;
	uint32_t	refcount;
	uint64_t	node;		/* 0: the root in the inode */
	int		entry;
};

struct ext_walk {
	struct dump		*d;
	uint64_t		ino;
	struct dump_seen	seen;
	struct ext_seg		*seg;
	size_t			nseg;
	uint64_t		nodes;
};

/* An extent, split where the refcount changes, into the flat list. */
static void ext_add(struct ext_walk *x, const struct rlfs_ext_irec *r,
		    uint64_t node, int entry)
{
	uint64_t p = r->pblk, end = r->pblk + r->len, run_end;
	struct ext_seg *s;
	uint32_t count;

	if (end < p)
		end = UINT64_MAX;
	while (p < end) {
		count = rc_lookup(x->d, p, &run_end);
		if (run_end > end || run_end <= p)
			run_end = end;
		x->seg = tool_xrealloc(x->seg, x->nseg + 1, sizeof(*x->seg));
		s = &x->seg[x->nseg++];
		s->lblk = r->lblk + (p - r->pblk);
		s->pblk = p;
		s->len = run_end - p;
		s->refcount = count;
		s->node = node;
		s->entry = entry;
		p = run_end;
	}
}

static void ext_leaf(struct ext_walk *x, const struct rlfs_btree_header *h,
		     int n, uint64_t node)
{
	struct rlfs_ext_irec r;
	int i;

	dump_ext_records(x->d, h, n);
	for (i = 0; i < n; i++) {
		rlfs_ext_to_irec(rlfs_bt_entry(h, i), &r);
		ext_add(x, &r, node, i);
	}
}

static void ext_children(struct ext_walk *x,
			 const struct rlfs_btree_header *h, int n,
			 uint64_t node, int depth, uint64_t hi);

/* Extent block blk, reached from entry pentry of node parent (0: root). */
static void ext_block(struct ext_walk *x, uint64_t blk, uint64_t parent,
		      int pentry, int depth, uint64_t lo, uint64_t hi)
{
	struct dump *d = x->d;
	struct dump_where w = { "extent block", blk, x->ino, -1, -1 };
	uint8_t *buf = tool_xrealloc(NULL, RLFS_BLOCK_SIZE, 1);
	const struct rlfs_btree_header *h = rlfs_bt_block_node(buf);
	const char *why;
	bool magic_ok = false;
	int n = 0;

	x->nodes++;
	dump_obj_begin(d, NULL);
	dump_u64(d, "block", blk);
	if (parent)
		dump_u64(d, "parent", parent);
	else
		dump_str(d, "parent", "inode");
	dump_u64(d, "parent_entry", pentry);
	dump_u64(d, "expected_depth", depth);
	dump_u64(d, "lo", lo);
	dump_u64(d, "hi", hi);
	if (!read_node(d, &x->seen, &w, buf))
		goto out;
	dump_verdict(d, "header", &w,
		     rlfs_verify_block_header(buf, RLFS_EXTENT_MAGIC, blk,
					      x->ino));
	dump_verdict(d, "crc", &w, rlfs_verify_block_crc(buf));
	magic_ok = le32toh(*(const uint32_t *)buf) == RLFS_EXTENT_MAGIC;
	if (!magic_ok)
		goto out;
	n = node_entries(h, RLFS_EXTENT_BLOCK_ENTRIES);
	dump_u64(d, "depth", rlfs_bt_depth(h));
	dump_u64(d, "entries", rlfs_bt_entries(h));
	dump_u64(d, "max", rlfs_bt_max(h));
	why = rlfs_verify_extent_node(h, false, depth, lo, hi, &d->g,
				      &w.entry);
	dump_verdict(d, "verdict", &w, why);
	depth = walk_depth(h, depth);
	if (depth)
		dump_indexes(d, h, n, sizeof(__le32));
	else
		ext_leaf(x, h, n, blk);
out:
	dump_obj_end(d);
	if (magic_ok && depth)
		ext_children(x, h, n, blk, depth, hi);
	free(buf);
}

static void ext_children(struct ext_walk *x,
			 const struct rlfs_btree_header *h, int n,
			 uint64_t node, int depth, uint64_t hi)
{
	int i;

	for (i = 0; i < n; i++)
		ext_block(x, rlfs_bt_child(h, i), node, i, depth - 1,
			  rlfs_bt_key(h, i, sizeof(__le32)),
			  child_hi(h, i, n, sizeof(__le32), hi));
}

void dump_extent_tree(struct dump *d, const struct rlfs_inode *ri,
		      uint64_t ino, uint64_t iblk)
{
	const struct rlfs_btree_header *h = &ri->i_eh;
	struct dump_where w = { "extent root", iblk, ino, -1, -1 };
	struct ext_walk x = { .d = d, .ino = ino };
	int depth = rlfs_bt_depth(h);
	int n = node_entries(h, RLFS_INODE_ROOT_ENTRIES);
	uint64_t mapped = 0, shared = 0;
	const struct ext_seg *s;
	size_t i;

	dump_obj_begin(d, "extent_tree");
	dump_u64(d, "inode", ino);
	dump_u64(d, "depth", depth);
	if (d->rc_loaded) {
		dump_row_begin(d, "refcount_tree");
		dump_u64(d, "root", le64toh(d->sb->s_refcount_root));
		dump_u64(d, "nodes", d->rc_nodes);
		dump_u64(d, "records", d->nrc);
		dump_u64(d, "failed", d->rc_fails);
		dump_obj_end(d);
	}

	dump_list_begin(d, "nodes");
	x.nodes++;
	dump_obj_begin(d, NULL);
	dump_str(d, "block", "inode");
	dump_u64(d, "inode_block", iblk);
	dump_u64(d, "depth", depth);
	dump_u64(d, "entries", rlfs_bt_entries(h));
	dump_u64(d, "max", rlfs_bt_max(h));
	dump_u64(d, "lo", 0);
	dump_u64(d, "hi", RLFS_LBLK_LIMIT);
	if (d->geom_ok)
		dump_verdict(d, "verdict", &w,
			     rlfs_verify_extent_node(h, true, depth, 0,
						     RLFS_LBLK_LIMIT, &d->g,
						     &w.entry));
	if (depth > RLFS_MAX_EXTENT_DEPTH)
		n = 0;		/* no telling what its entries are */
	if (depth)
		dump_indexes(d, h, n, sizeof(__le32));
	else
		ext_leaf(&x, h, n, 0);
	dump_obj_end(d);
	if (depth && n)
		ext_children(&x, h, n, 0, depth, RLFS_LBLK_LIMIT);
	dump_list_end(d);

	dump_list_begin(d, "extents");
	for (i = 0; i < x.nseg; i++) {
		s = &x.seg[i];
		dump_row_begin(d, NULL);
		dump_u64(d, "lblk", s->lblk);
		dump_u64(d, "pblk", s->pblk);
		dump_u64(d, "len", s->len);
		dump_u64(d, "refcount", s->refcount);
		if (s->node)
			dump_u64(d, "node", s->node);
		else
			dump_str(d, "node", "inode");
		dump_u64(d, "entry", s->entry);
		dump_obj_end(d);
		mapped += s->len;
		if (s->refcount > 1)
			shared += s->len;
	}
	dump_list_end(d);
	dump_u64(d, "node_count", x.nodes);
	dump_u64(d, "mapped_blocks", mapped);
	dump_u64(d, "shared_blocks", shared);
	dump_obj_end(d);
	free(x.seg);
	dump_seen_free(&x.seen);
}

/* ---- refcount tree ---------------------------------------------------- */

struct rc_walk {
	struct dump		*d;
	struct dump_seen	seen;
};

static void rc_add(struct dump *d, const struct rlfs_btree_header *h,
		   int n, uint64_t node)
{
	struct dump_rc_rec *r;
	int i;

	d->rc = tool_xrealloc(d->rc, d->nrc + n, sizeof(*d->rc));
	for (i = 0; i < n; i++) {
		r = &d->rc[d->nrc++];
		rlfs_rc_to_irec(rlfs_bt_entry(h, i), &r->rec);
		r->node = node;
		r->entry = i;
	}
}

/* Refcount block blk: the root, or entry pentry of node parent. */
static void rc_block(struct rc_walk *rw, uint64_t blk, bool root,
		     uint64_t parent, int pentry, int depth, uint64_t lo,
		     uint64_t hi)
{
	struct dump *d = rw->d;
	struct dump_where w = { "refcount block", blk, 0, -1, -1 };
	uint8_t *buf = tool_xrealloc(NULL, RLFS_BLOCK_SIZE, 1);
	const struct rlfs_btree_header *h = rlfs_bt_block_node(buf);
	bool magic_ok = false;
	int i, n = 0;

	d->rc_nodes++;
	dump_obj_begin(d, NULL);
	dump_u64(d, "block", blk);
	if (!root) {
		dump_u64(d, "parent", parent);
		dump_u64(d, "parent_entry", pentry);
	}
	dump_u64(d, "expected_depth", depth);
	dump_u64(d, "lo", lo);
	dump_u64(d, "hi", hi);
	if (!read_node(d, &rw->seen, &w, buf))
		goto out;
	dump_verdict(d, "header", &w,
		     rlfs_verify_block_header(buf, RLFS_REFCOUNT_MAGIC, blk,
					      0));
	dump_verdict(d, "crc", &w, rlfs_verify_block_crc(buf));
	magic_ok = le32toh(*(const uint32_t *)buf) == RLFS_REFCOUNT_MAGIC;
	if (!magic_ok)
		goto out;
	n = node_entries(h, RLFS_REFCOUNT_BLOCK_ENTRIES);
	dump_u64(d, "depth", rlfs_bt_depth(h));
	dump_u64(d, "entries", rlfs_bt_entries(h));
	dump_u64(d, "max", rlfs_bt_max(h));
	dump_verdict(d, "verdict", &w,
		     rlfs_verify_refcount_node(h, root, depth, lo, hi, &d->g,
					       &w.entry));
	depth = walk_depth(h, depth);
	if (depth > RLFS_MAX_EXTENT_DEPTH) {
		n = 0;
	} else if (depth) {
		dump_indexes(d, h, n, sizeof(__le64));
	} else {
		dump_rc_records(d, h, n);
		rc_add(d, h, n, blk);
	}
out:
	dump_obj_end(d);
	if (magic_ok && depth)
		for (i = 0; i < n; i++)
			rc_block(rw, rlfs_bt_child(h, i), false, blk, i,
				 depth - 1, rlfs_bt_key(h, i, sizeof(__le64)),
				 child_hi(h, i, n, sizeof(__le64), hi));
	free(buf);
}

/* Walk the tree (printing unless d->quiet) and build the lookup runs. */
static void rc_walk(struct dump *d)
{
	struct rc_walk rw = { .d = d };
	uint64_t root = le64toh(d->sb->s_refcount_root);
	uint32_t depth = le32toh(d->sb->s_refcount_depth);
	size_t fails = d->nfails;

	if (depth > RLFS_MAX_EXTENT_DEPTH + 1)
		depth = RLFS_MAX_EXTENT_DEPTH + 1;	/* "too deep" */
	dump_list_begin(d, "nodes");
	if (root && d->geom_ok)
		rc_block(&rw, root, true, 0, -1, depth, d->g.data_start,
			 d->g.blocks);
	dump_list_end(d);
	dump_seen_free(&rw.seen);
	d->rc_fails = d->nfails - fails;
	d->rc_loaded = true;
	build_runs(d);
}

void dump_rc_load(struct dump *d)
{
	if (d->rc_loaded)
		return;
	d->quiet++;
	rc_walk(d);
	d->quiet--;
}

void dump_refcount_tree(struct dump *d)
{
	struct dump_where w = { "superblock", 0, 0, -1, -1 };
	uint64_t shared = 0;
	const struct dump_rc_rec *r;
	size_t i;

	dump_obj_begin(d, "refcount_tree");
	dump_bool(d, "feature", le64toh(d->sb->s_feature_incompat) &
				RLFS_FEATURE_INCOMPAT_REFCOUNT);
	dump_u64(d, "root", le64toh(d->sb->s_refcount_root));
	dump_u64(d, "depth", le32toh(d->sb->s_refcount_depth));
	if (!d->geom_ok && d->sb->s_refcount_root)
		dump_verdict(d, "verdict", &w,
			     "cannot check the tree: superblock geometry unusable");
	rc_walk(d);
	dump_list_begin(d, "records");
	for (i = 0; i < d->nrc; i++) {
		r = &d->rc[i];
		dump_row_begin(d, NULL);
		dump_u64(d, "start", r->rec.start);
		dump_u64(d, "len", r->rec.len);
		dump_u64(d, "refcount", r->rec.refcount);
		dump_u64(d, "node", r->node);
		dump_u64(d, "entry", r->entry);
		dump_obj_end(d);
		shared += r->rec.len;
	}
	dump_list_end(d);
	dump_u64(d, "node_count", d->rc_nodes);
	dump_u64(d, "record_count", d->nrc);
	dump_u64(d, "shared_blocks", shared);
	dump_obj_end(d);
}

/* ---- one tree block --------------------------------------------------- */

bool dump_tree_block(struct dump *d, const void *buf, uint64_t blk)
{
	const struct rlfs_block_header *bh = buf;
	const struct rlfs_btree_header *h =
		rlfs_bt_block_node((void *)buf);
	uint32_t magic = le32toh(bh->bh_magic);
	uint64_t owner = le64toh(bh->bh_owner);
	struct dump_where w = { "extent block", blk, owner, -1, -1 };
	int depth = rlfs_bt_depth(h);
	bool ext = magic == RLFS_EXTENT_MAGIC;
	int n;

	if (!ext && magic != RLFS_REFCOUNT_MAGIC)
		return false;
	if (!ext) {
		w.what = "refcount block";
		w.ino = 0;
	}
	n = node_entries(h, ext ? RLFS_EXTENT_BLOCK_ENTRIES :
				  RLFS_REFCOUNT_BLOCK_ENTRIES);
	dump_str(d, "kind", ext ? "extent" : "refcount");
	dump_u64(d, "owner", owner);
	/* an extent block's owner is taken as it says: none to compare */
	dump_verdict(d, "header", &w,
		     rlfs_verify_block_header(buf, magic, blk,
					      ext ? owner : 0));
	dump_verdict(d, "crc", &w, rlfs_verify_block_crc(buf));
	dump_u64(d, "depth", depth);
	dump_u64(d, "entries", rlfs_bt_entries(h));
	dump_u64(d, "max", rlfs_bt_max(h));
	/*
	 * Without its parent the key range is the whole tree's, and a
	 * refcount block is judged as a root (its first key unchecked).
	 */
	if (d->geom_ok) {
		dump_u64(d, "lo", ext ? 0 : d->g.data_start);
		dump_u64(d, "hi", ext ? RLFS_LBLK_LIMIT : d->g.blocks);
		dump_verdict(d, "verdict", &w, ext ?
			     rlfs_verify_extent_node(h, false, depth, 0,
						     RLFS_LBLK_LIMIT, &d->g,
						     &w.entry) :
			     rlfs_verify_refcount_node(h, true, depth,
						       d->g.data_start,
						       d->g.blocks, &d->g,
						       &w.entry));
	}
	if (depth > RLFS_MAX_EXTENT_DEPTH)
		n = 0;
	if (depth)
		dump_indexes(d, h, n, ext ? sizeof(__le32) : sizeof(__le64));
	else if (ext)
		dump_ext_records(d, h, n);
	else
		dump_rc_records(d, h, n);
	return true;
}
