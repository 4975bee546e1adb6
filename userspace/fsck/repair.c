// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs: repair (-y, and -p for the safe part of it).
 *
 * Repair works from what passes 1-5 computed, on a filesystem whose
 * journal needs no recovery (pass 0 stops the check otherwise), and only
 * where the right state follows from the rest of the filesystem:
 *
 *   directory entries  an entry naming a free inode, the root or an
 *                      inode out of range is removed, and so is the
 *                      later of two entries of one name (not naming a
 *                      directory); a wrong entry type is set from the
 *                      inode's mode
 *   inodes             i_blocks from the blocks it owns, the link count
 *                      from the entries naming it (a directory: 2 plus
 *                      its subdirectories)
 *   orphan list        cut at a link to an inode not in use, a loop or
 *                      the root; an inode with no links and no entry is
 *                      put on it (the kernel frees it at mount)
 *   refcount tree      (-y only) rebuilt from the union of the file
 *                      mappings: one record per run of blocks mapped
 *                      twice or more, in blocks the new free map shows
 *                      free and the old one did too
 *   bitmaps            the block bitmap from the blocks referenced, the
 *                      inode bitmap from the inodes in use
 *   superblock         the free block and inode counts, the error state
 *
 * Writes go in an order that leaves, if interrupted, a filesystem the
 * next run still repairs: entries, then inodes, then the orphan list
 * (inode before superblock), then new refcount tree blocks before the
 * superblock points at them, then the bitmaps, then the superblock.
 * Whatever depends on a damaged inode or block is left alone, and the
 * error stays: a record or block with a bad checksum is not rewritten,
 * and when an inode's blocks could not all be walked no block is freed
 * and the refcount tree is not rebuilt.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsck.h"

static uint64_t nfixed;

static void RLFS_PRINTF(1, 2) fixing(const char *fmt, ...)
{
	va_list ap;

	nfixed++;
	fputs("fixing: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A fix that fsck found but cannot make. */
static void RLFS_PRINTF(1, 2) not_fixing(const char *fmt, ...)
{
	va_list ap;

	fputs("not fixing: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void fix_add(struct fsck *f, const struct fix *x)
{
	if (f->nfixes == f->cap_fixes) {
		f->cap_fixes = f->cap_fixes ? f->cap_fixes * 2 : 32;
		f->fixes = xrealloc_array(f->fixes, f->cap_fixes,
					  sizeof(*f->fixes));
	}
	f->fixes[f->nfixes++] = *x;
}

/* ---- writes ------------------------------------------------------- */

/*
 * RLFS_FSCK_STOP_AFTER=N (tests only): stop, as a crash would, before
 * the N+1th write of the repair, to show that the next run repairs what
 * an interrupted one left.
 */
static void maybe_stop(struct fsck *f)
{
	static long left = -2;
	const char *env;

	if (left == -2) {
		env = getenv("RLFS_FSCK_STOP_AFTER");
		left = env && *env ? strtol(env, NULL, 10) : -1;
	}
	if (left < 0)
		return;
	if (left-- == 0) {
		rlfs_dev_sync(&f->dev);
		printf("fsck.reflinkfs: stopping before a write "
		       "(RLFS_FSCK_STOP_AFTER)\n");
		fflush(stdout);
		_exit(EXIT_OPERATIONAL);
	}
}

static void write_or_die(struct fsck *f, uint64_t blk, const void *buf)
{
	int ret;

	maybe_stop(f);
	ret = rlfs_write_blocks(&f->dev, blk, 1, buf);

	if (ret)
		fsck_fatal("%s: cannot write block %" PRIu64 ": %s", f->path,
			   blk, strerror(-ret));
}

/* Write f->sb (with its checksum) if it differs from the disk's. */
static void write_super(struct fsck *f)
{
	uint8_t *b = f->scratch;

	read_or_die(f, RLFS_SUPER_BLOCKNR, 1, b);
	rlfs_super_set_csum(&f->sb);
	if (!memcmp(b, &f->sb, sizeof(f->sb)))
		return;
	memcpy(b, &f->sb, sizeof(f->sb));
	write_or_die(f, RLFS_SUPER_BLOCKNR, b);
}

/*
 * Read inode @ino for a rewrite: only a record the core accepts, which
 * pass 1 did not have to salvage.
 */
static bool inode_for_write(struct fsck *f, uint64_t ino,
			    struct rlfs_inode *ri)
{
	if (!(f->ii[ino].flags & II_INUSE) ||
	    (f->ii[ino].flags & II_SALVAGED))
		return false;
	read_inode(f, ino, ri);
	return !rlfs_verify_inode(ri, ino, &f->g,
				  le64toh(f->sb.s_feature_ro_compat));
}

static void write_inode(struct fsck *f, uint64_t ino, struct rlfs_inode *ri)
{
	uint64_t blk = f->g.itable_start + ino / RLFS_INODES_PER_BLOCK;
	uint8_t *b = f->scratch;

	rlfs_inode_set_csum(ri);
	read_or_die(f, blk, 1, b);
	memcpy(b + (ino % RLFS_INODES_PER_BLOCK) * RLFS_INODE_SIZE, ri,
	       sizeof(*ri));
	write_or_die(f, blk, b);
}

/* ---- directory entries -------------------------------------------- */

/* Free the record at @off of a directory block as the kernel does. */
static void remove_record(uint8_t *block, unsigned int off)
{
	struct rlfs_dirent *de = (void *)(block + off), *prev = NULL, *cur;
	unsigned int o = sizeof(struct rlfs_block_header), len;

	while (o < off) {
		cur = (void *)(block + o);
		len = le16toh(cur->d_rec_len);
		if (!len)
			break;
		prev = cur;
		o += len;
	}
	if (prev && o == off) {
		prev->d_rec_len = htole16(le16toh(prev->d_rec_len) +
					  le16toh(de->d_rec_len));
		memset(de, 0, RLFS_DIRENT_HDR);
	} else {
		de->d_ino = 0;
	}
}

static void repair_dirents(struct fsck *f)
{
	uint8_t *b = f->buf;
	struct rlfs_dirent *de;
	struct fix *x;
	size_t i, j;
	bool dirty;

	for (i = 0; i < f->nfixes; i = j) {
		x = &f->fixes[i];
		for (j = i; j < f->nfixes && f->fixes[j].blk == x->blk &&
		     (f->fixes[j].kind == FIX_DIRENT_REMOVE ||
		      f->fixes[j].kind == FIX_DIRENT_TYPE); j++)
			;
		if (j == i) {
			j = i + 1;
			continue;
		}
		read_or_die(f, x->blk, 1, b);
		if (rlfs_verify_block_header(b, RLFS_DIR_MAGIC, x->blk, x->ino) ||
		    rlfs_verify_block_crc(b))
			continue;	/* changed under us: leave it */
		dirty = false;
		for (; i < j; i++) {
			x = &f->fixes[i];
			de = (void *)(b + x->off);
			if (le64toh(de->d_ino) != x->target)
				continue;
			if (x->kind == FIX_DIRENT_TYPE) {
				fixing("directory %" PRIu64 " block %" PRIu64
				       " offset %u: entry type %u -> %" PRIu64
				       " (%s, as inode %" PRIu64 ")", x->ino,
				       x->blk, x->off, de->d_type, x->val,
				       rlfs_ftype_name(x->val), x->target);
				de->d_type = x->val;
			} else {
				fixing("directory %" PRIu64 " block %" PRIu64
				       " offset %u: removing the entry naming "
				       "inode %" PRIu64, x->ino, x->blk, x->off,
				       x->target);
				remove_record(b, x->off);
				if (x->counted && x->target < f->g.inodes &&
				    f->ii[x->target].links &&
				    f->ii[x->target].links != UINT32_MAX)
					f->ii[x->target].links--;
			}
			dirty = true;
		}
		if (!dirty)
			continue;
		rlfs_block_set_csum(b);
		write_or_die(f, x->blk, b);
	}
}

/* ---- inodes ------------------------------------------------------- */

static void set_nlink(struct fsck *f, uint64_t ino, uint32_t want)
{
	struct rlfs_inode ri;

	/* Entries not read can only raise the count: never lower it then. */
	if (f->entries_incomplete && want < f->ii[ino].nlink) {
		not_fixing("inode %" PRIu64 ": link count %u, %u entries "
			   "found, but not every directory block could be "
			   "read", ino, f->ii[ino].nlink, want);
		return;
	}
	if (!inode_for_write(f, ino, &ri)) {
		not_fixing("inode %" PRIu64 ": link count (record damaged)",
			   ino);
		return;
	}
	fixing("inode %" PRIu64 ": link count %u -> %u", ino,
	       le32toh(ri.i_nlink), want);
	ri.i_nlink = htole32(want);
	write_inode(f, ino, &ri);
	f->ii[ino].nlink = want;
}

static void repair_inodes(struct fsck *f)
{
	struct rlfs_inode ri;
	struct ino_info *ii;
	struct dir_info *d;
	struct fix *x;
	uint64_t ino, want;
	size_t i;

	for (i = 0; i < f->nfixes; i++) {
		x = &f->fixes[i];
		if (x->kind != FIX_IBLOCKS && x->kind != FIX_PARENT)
			continue;
		ino = x->ino;
		if (!inode_for_write(f, ino, &ri))
			continue;
		if (x->kind == FIX_IBLOCKS) {
			fixing("inode %" PRIu64 ": i_blocks %" PRIu64 " -> %"
			       PRIu64, ino, (uint64_t)le64toh(ri.i_blocks),
			       x->val);
			ri.i_blocks = htole64(x->val);
		} else {
			/* Only a directory that one entry names. */
			if (f->ii[ino].links != 1 || f->entries_incomplete)
				continue;
			fixing("directory %" PRIu64 ": parent %" PRIu64 " -> %"
			       PRIu64 " (the directory naming it)", ino,
			       (uint64_t)le64toh(ri.i_parent), x->val);
			ri.i_parent = htole64(x->val);
		}
		write_inode(f, ino, &ri);
	}

	for (i = 0; i < f->ndirs; i++) {
		d = &f->dirs[i];
		ii = &f->ii[d->ino];
		if ((ii->flags & II_ORPHAN) && !ii->nlink && !ii->links)
			continue;	/* removed, still open */
		want = (uint64_t)d->subdirs + 2;
		if (ii->nlink != want && want <= UINT32_MAX)
			set_nlink(f, d->ino, want);
	}
	for (ino = RLFS_ROOT_INO; ino < f->g.inodes; ino++) {
		ii = &f->ii[ino];
		if (!(ii->flags & II_INUSE) || S_ISDIR(ii->mode))
			continue;
		if (ii->links && ii->links != UINT32_MAX &&
		    ii->links != ii->nlink)
			set_nlink(f, ino, ii->links);
		else if (!ii->links && ii->nlink)
			not_fixing("inode %" PRIu64 ": no directory entry "
				   "names it (link count %u): there is no "
				   "lost+found to put it in", ino, ii->nlink);
	}
}

/* ---- orphan list -------------------------------------------------- */

/* End the list after @prev (0: at the head). */
static bool cut_orphans(struct fsck *f, uint64_t prev, uint64_t cur,
			const char *why)
{
	struct rlfs_inode ri;

	if (!prev) {
		fixing("orphan list: head %" PRIu64 " %s: emptying the list",
		       cur, why);
		f->sb.s_orphan_head = 0;
		write_super(f);
		return true;
	}
	if (!inode_for_write(f, prev, &ri)) {
		not_fixing("orphan list: inode %" PRIu64 " (record damaged)",
			   prev);
		return false;
	}
	fixing("orphan list: inode %" PRIu64 " after %" PRIu64 " %s: ending "
	       "the list at %" PRIu64, cur, prev, why, prev);
	ri.i_next_orphan = 0;
	write_inode(f, prev, &ri);
	return true;
}

static void repair_orphans(struct fsck *f)
{
	uint64_t cur = le64toh(f->sb.s_orphan_head), prev = 0, ino;
	struct rlfs_inode ri;
	struct ino_info *ii;
	const char *why;

	for (ino = 0; ino < f->g.inodes; ino++)
		f->ii[ino].flags &= ~II_ORPHAN;
	while (cur) {
		why = NULL;
		if (cur >= f->g.inodes || !(f->ii[cur].flags & II_INUSE))
			why = "is not in use";
		else if (f->ii[cur].flags & II_ORPHAN)
			why = "closes a loop";
		else if (cur == RLFS_ROOT_INO)
			why = "is the root directory";
		if (why) {
			cut_orphans(f, prev, cur, why);
			break;
		}
		f->ii[cur].flags |= II_ORPHAN;
		read_inode(f, cur, &ri);
		prev = cur;
		cur = le64toh(ri.i_next_orphan);
	}

	/* A file with no link and no entry: removed, to be freed. */
	for (ino = RLFS_FIRST_INO; ino < f->g.inodes &&
	     !f->entries_incomplete; ino++) {
		ii = &f->ii[ino];
		if (!(ii->flags & II_INUSE) || S_ISDIR(ii->mode) ||
		    ii->nlink || ii->links || (ii->flags & II_ORPHAN))
			continue;
		if (!inode_for_write(f, ino, &ri))
			continue;
		fixing("orphan list: adding inode %" PRIu64 " (no links, no "
		       "entry: the kernel frees it at the next mount)", ino);
		ri.i_next_orphan = f->sb.s_orphan_head;
		write_inode(f, ino, &ri);
		f->sb.s_orphan_head = htole64(ino);
		write_super(f);
		ii->flags |= II_ORPHAN;
	}
}

/* ---- refcount tree ------------------------------------------------ */

/* File mappings of a data block that a record must count (0: none). */
static uint32_t rc_want(struct fsck *f, uint64_t b)
{
	if (f->bkind[b] & BK_META)
		return 0;
	return f->refs[b] >= 2 ? f->refs[b] : 0;
}

/* Recorded count at @b; *cur walks f->rc in block order. */
static uint32_t rc_have(struct fsck *f, size_t *cur, uint64_t b)
{
	while (*cur < f->n_rc && f->rc[*cur].start + f->rc[*cur].len <= b)
		(*cur)++;
	if (*cur < f->n_rc && f->rc[*cur].start <= b)
		return f->rc[*cur].refcount;
	return 0;
}

/* One line per run of blocks whose count changes the same way. */
static uint64_t report_rc_changes(struct fsck *f)
{
	uint64_t b, first = 0, changed = 0;
	uint32_t have, want, run_have = 0, run_want = 0;
	bool in_run = false;
	size_t cur = 0;
	char where[64];

	for (b = f->g.data_start; b <= f->g.blocks; b++) {
		if (b < f->g.blocks) {
			have = rc_have(f, &cur, b);
			want = rc_want(f, b);
		} else {
			have = want = 0;
		}
		if (in_run && (have != run_have || want != run_want)) {
			blocks_str(where, sizeof(where), first, b - first);
			fixing("refcount of %s: %u -> %u", where, run_have,
			       run_want);
			in_run = false;
		}
		if (have != want) {
			changed++;
			if (!in_run) {
				in_run = true;
				first = b;
				run_have = have;
				run_want = want;
			}
		}
	}
	return changed;
}

/* A block for the new tree: free in the new map and on disk. */
static uint64_t rc_alloc(struct fsck *f, uint64_t *next)
{
	uint64_t b;

	for (b = *next; b < f->g.blocks; b++) {
		if (f->refs[b] || f->bkind[b])
			continue;
		if (f->bbits_ok[b / RLFS_BITS_PER_BITMAP] &&
		    rlfs_test_bit(f->bbits, b))
			continue;
		*next = b + 1;
		return b;
	}
	return 0;
}

struct rc_level {
	uint64_t	*blk;		/* node blocks of this level */
	uint64_t	*key;		/* first key of each */
	size_t		n;
};

/* Write one node of @depth holding @n entries from @src. */
static void rc_write_node(struct fsck *f, uint64_t blk, int depth,
			  const void *src, size_t n)
{
	struct rlfs_refcount_block *rb = (void *)f->buf;

	memset(rb, 0, RLFS_BLOCK_SIZE);
	rlfs_block_header_init(rb, RLFS_REFCOUNT_MAGIC, blk, 0);
	rb->rb_rh.bt_entries = htole16(n);
	rb->rb_rh.bt_max = htole16(RLFS_REFCOUNT_BLOCK_ENTRIES);
	rb->rb_rh.bt_depth = htole16(depth);
	memcpy(rb->rb_rec, src, n * RLFS_BT_ENTRY_SIZE);
	rlfs_block_set_csum(rb);
	write_or_die(f, blk, rb);
}

/*
 * Build the records from the mappings, write them as a tree into new
 * blocks, and point the superblock at it.  Returns false (nothing
 * written) if there is no room.
 */
static bool rc_rebuild(struct fsck *f)
{
	const size_t per = RLFS_REFCOUNT_BLOCK_ENTRIES;
	struct rlfs_refcount_rec *recs = NULL;
	struct rlfs_refcount_idx *idx;
	struct rlfs_rc_irec r = { 0 };
	uint64_t b, next = f->g.data_start, root = 0, *blks = NULL;
	size_t n = 0, cap = 0, nblk = 0, width, i, k, off;
	uint32_t want;
	int depth = 0;

	for (b = f->g.data_start; b <= f->g.blocks; b++) {
		want = b < f->g.blocks ? rc_want(f, b) : 0;
		if (r.len && (want != r.refcount || b != r.start + r.len ||
			      r.len == UINT32_MAX)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				recs = xrealloc_array(recs, cap, sizeof(*recs));
			}
			rlfs_irec_to_rc(&r, &recs[n++]);
			r.len = 0;
		}
		if (want && !r.len) {
			r.start = b;
			r.refcount = want;
		}
		if (want)
			r.len++;
	}

	/* Nodes per level: ceil(n / per), up to one root. */
	for (width = n, k = 0; width; k++) {
		width = rlfs_div_round_up(width, per);
		nblk += width;
		if (width == 1)
			break;
	}
	if (k > RLFS_MAX_EXTENT_DEPTH) {
		not_fixing("refcount tree: %zu records need a tree deeper "
			   "than %d", n, RLFS_MAX_EXTENT_DEPTH);
		free(recs);
		return false;
	}
	blks = xcalloc(nblk, sizeof(*blks));
	for (i = 0; i < nblk; i++) {
		blks[i] = rc_alloc(f, &next);
		if (!blks[i]) {
			not_fixing("refcount tree: no free block for the %zu "
				   "blocks of the new tree", nblk);
			free(blks);
			free(recs);
			return false;
		}
	}

	/*
	 * Level by level: the entries of this level (records, then the
	 * indexes of the level below) go into nodes of @per entries.
	 */
	off = 0;
	idx = NULL;
	width = n;
	if (n) {
		void *src = recs;

		for (;;) {
			size_t nodes = rlfs_div_round_up(width, per);
			struct rlfs_refcount_idx *up =
				xcalloc(nodes, sizeof(*up));

			for (i = 0; i < nodes; i++) {
				size_t cnt = width - i * per < per ?
					     width - i * per : per;
				const uint8_t *e = (const uint8_t *)src +
						   i * per * RLFS_BT_ENTRY_SIZE;

				rc_write_node(f, blks[off + i], depth, e, cnt);
				up[i].ri_start = *(const __le64 *)e;
				up[i].ri_blk = htole64(blks[off + i]);
			}
			free(idx);
			idx = up;
			off += nodes;
			if (nodes == 1) {
				root = blks[off - 1];
				break;
			}
			src = idx;
			width = nodes;
			depth++;
		}
	}
	free(idx);

	/* Only now the superblock: the old tree stays until this write. */
	if (root)
		fixing("refcount tree: rebuilt from the file mappings: %zu "
		       "records in %zu blocks, depth %d, root %" PRIu64, n,
		       nblk, depth, root);
	else
		fixing("refcount tree: no block is shared: emptied");
	f->sb.s_refcount_root = htole64(root);
	f->sb.s_refcount_depth = htole32(depth);
	if (root)
		f->sb.s_feature_incompat |=
			htole64(RLFS_FEATURE_INCOMPAT_REFCOUNT);
	write_super(f);

	/* The new free map: the old tree's blocks go, the new ones come. */
	for (b = f->g.data_start; b < f->g.blocks; b++)
		if ((f->bkind[b] & BK_RCTREE) && f->refs[b] == 1) {
			f->refs[b] = 0;
			f->bkind[b] = 0;
		}
	for (i = 0; i < nblk; i++) {
		f->refs[blks[i]] = 1;
		f->bkind[blks[i]] = BK_META | BK_RCTREE;
	}
	free(blks);
	free(recs);
	return true;
}

static void repair_refcounts(struct fsck *f)
{
	bool shared = false, feature;
	uint64_t b, changed;

	feature = le64toh(f->sb.s_feature_incompat) &
		  RLFS_FEATURE_INCOMPAT_REFCOUNT;
	for (b = f->g.data_start; b < f->g.blocks && !shared; b++)
		shared = rc_want(f, b) != 0;
	if (!f->rc_errors) {
		size_t cur = 0;
		bool differ = false;

		for (b = f->g.data_start; b < f->g.blocks && !differ; b++)
			differ = rc_have(f, &cur, b) != rc_want(f, b);
		if (!differ && (feature || !shared))
			return;
	}
	if (f->mode != MODE_REPAIR) {
		not_fixing("refcount tree: a rebuild needs -y");
		return;
	}
	if (f->claims_incomplete) {
		not_fixing("refcount tree: not rebuilt, the blocks of a "
			   "damaged inode are not all known");
		return;
	}
	for (b = f->g.data_start; b < f->g.blocks; b++) {
		if ((f->bkind[b] & BK_RCTREE) && f->refs[b] > 1) {
			not_fixing("refcount tree: block %" PRIu64 " of the "
				   "tree is also mapped by a file", b);
			return;
		}
	}
	changed = report_rc_changes(f);
	if (!rc_rebuild(f))
		return;
	fsck_info(f, "refcount tree: %" PRIu64 " blocks changed count",
		  changed);
}

/* ---- bitmaps ------------------------------------------------------ */

/* A run of bitmap items [first, end) that repair sets or clears. */
struct bit_run {
	const char	*what;
	const char	*item;
	uint64_t	first;
	uint64_t	end;
	bool		set;
};

static void flush_run(struct bit_run *r)
{
	if (r->end == r->first)
		return;
	if (r->end - r->first == 1)
		fixing("%s: %s %" PRIu64 " marked %s", r->what, r->item,
		       r->first, r->set ? "in use" : "free");
	else
		fixing("%s: %ss %" PRIu64 "-%" PRIu64 " marked %s", r->what,
		       r->item, r->first, r->end - 1,
		       r->set ? "in use" : "free");
	r->first = r->end = 0;
}

/*
 * Rewrite the bitmap of @nitems items at @start so that bit i is
 * want(f, i) (and every bit past the last item is set): the blocks that
 * change, and every block pass 1 could not use.  One line per run of
 * items that change the same way.  Returns the items in use.
 */
static uint64_t repair_bitmap(struct fsck *f, const char *what,
			      const char *item, uint64_t start,
			      uint64_t nblocks, uint64_t nitems,
			      const uint8_t *bits, const bool *ok,
			      bool (*want)(struct fsck *, uint64_t))
{
	struct rlfs_bitmap_block *bb = (void *)f->buf;
	struct bit_run run = { .what = what, .item = item };
	uint64_t k, i, it, used = 0;
	bool w, dirty;

	for (k = 0; k < nblocks; k++) {
		dirty = !ok[k];
		memset(bb, 0, RLFS_BLOCK_SIZE);
		rlfs_block_header_init(bb, RLFS_BITMAP_MAGIC, start + k, 0);
		for (i = 0; i < RLFS_BITS_PER_BITMAP; i++) {
			it = k * RLFS_BITS_PER_BITMAP + i;
			w = it >= nitems || want(f, it);
			if (w)
				rlfs_set_bit(bb->bb_bits, i);
			if (it >= nitems)
				continue;
			used += w;
			if (!ok[k])
				continue;
			if (w == rlfs_test_bit(bits, it)) {
				flush_run(&run);
				continue;
			}
			dirty = true;
			if (run.end != run.first && run.set != w)
				flush_run(&run);
			if (run.end == run.first) {
				run.first = it;
				run.set = w;
			}
			run.end = it + 1;
		}
		flush_run(&run);
		if (ok[k] && !dirty &&
		    memcmp(bb->bb_bits, bits + k * RLFS_BITMAP_BYTES,
			   RLFS_BITMAP_BYTES)) {
			fixing("%s block %" PRIu64 ": setting the bits past "
			       "the last %s", what, start + k, item);
			dirty = true;
		}
		if (!dirty)
			continue;
		if (!ok[k])
			fixing("%s block %" PRIu64 ": rewritten from the %ss "
			       "in use", what, start + k, item);
		rlfs_block_set_csum(bb);
		write_or_die(f, start + k, bb);
	}
	return used;
}

static bool block_wanted(struct fsck *f, uint64_t b)
{
	if (b < f->g.data_start || f->refs[b])
		return true;
	/* Blocks of an inode not walked may be any: never freed then. */
	return f->claims_incomplete &&
	       (!f->bbits_ok[b / RLFS_BITS_PER_BITMAP] ||
		rlfs_test_bit(f->bbits, b));
}

static bool inode_wanted(struct fsck *f, uint64_t ino)
{
	return ino < RLFS_FIRST_INO ||
	       ((f->ii[ino].flags & II_ALLOC) &&
		!(f->ii[ino].flags & II_FREEREC));
}

/* ---- the whole repair --------------------------------------------- */

/* The free counts in the superblock against the bitmaps. */
static bool hints_wrong(struct fsck *f)
{
	return le64toh(f->sb.s_free_blocks) != f->g.blocks - f->used_blocks ||
	       le64toh(f->sb.s_free_inodes) != f->g.inodes - f->used_inodes;
}

bool repair_wanted(struct fsck *f)
{
	return f->checked && (f->errors || hints_wrong(f));
}

uint64_t repair(struct fsck *f)
{
	uint64_t used_b, used_i, b;
	uint32_t state;
	int ret, err;

	nfixed = 0;
	if (!f->checked)
		return 0;
	/* Every fix may rewrite the superblock: never a refused one. */
	if (rlfs_verify_super(&f->sb, 0, &err)) {
		not_fixing("superblock: refused by the format core, nothing "
			   "is repaired");
		return 0;
	}
	/*
	 * A block claimed twice where one claim is metadata: one of the
	 * mappings is wrong and which is not known, so the mappings are no
	 * base to free blocks or count references on.
	 */
	for (b = f->g.data_start; b < f->g.blocks; b++)
		if (f->refs[b] > 1 && (f->bkind[b] & BK_META))
			break;
	if (b < f->g.blocks) {
		not_fixing("block %" PRIu64 ": claimed twice, once as "
			   "metadata; no block is freed and the refcount tree "
			   "is not rebuilt", b);
		f->claims_incomplete = true;
	}
	repair_dirents(f);
	repair_inodes(f);
	repair_orphans(f);
	repair_refcounts(f);
	if (f->claims_incomplete)
		not_fixing("block bitmap: no block is freed, the claims on "
			   "blocks are not all known");
	used_b = repair_bitmap(f, "block bitmap", "block",
			       f->g.bbitmap_start, f->g.bbitmap_blocks,
			       f->g.blocks, f->bbits, f->bbits_ok,
			       block_wanted);
	used_i = repair_bitmap(f, "inode bitmap", "inode",
			       f->g.ibitmap_start, f->g.ibitmap_blocks,
			       f->g.inodes, f->ibits, f->ibits_ok,
			       inode_wanted);

	if (le64toh(f->sb.s_free_blocks) != f->g.blocks - used_b) {
		fixing("superblock: free blocks %" PRIu64 " -> %" PRIu64,
		       (uint64_t)le64toh(f->sb.s_free_blocks),
		       f->g.blocks - used_b);
		f->sb.s_free_blocks = htole64(f->g.blocks - used_b);
	}
	if (le64toh(f->sb.s_free_inodes) != f->g.inodes - used_i) {
		fixing("superblock: free inodes %" PRIu64 " -> %" PRIu64,
		       (uint64_t)le64toh(f->sb.s_free_inodes),
		       f->g.inodes - used_i);
		f->sb.s_free_inodes = htole64(f->g.inodes - used_i);
	}
	state = le32toh(f->sb.s_state);
	if (state & RLFS_STATE_ERROR) {
		fixing("superblock: clearing the error state");
		f->sb.s_state = htole32(state & ~RLFS_STATE_ERROR);
	}
	write_super(f);
	ret = rlfs_dev_sync(&f->dev);
	if (ret)
		fsck_fatal("%s: fsync: %s", f->path, strerror(-ret));
	return nfixed;
}

/* Forget everything the passes computed, to check again. */
void fsck_reset(struct fsck *f)
{
	struct rlfs_dev dev = f->dev;
	const char *path = f->path;
	bool verbose = f->verbose;
	enum fsck_mode mode = f->mode;
	size_t i;

	free(f->bbits);
	free(f->bbits_ok);
	free(f->ibits);
	free(f->ibits_ok);
	free(f->refs);
	free(f->bkind);
	free(f->ii);
	free(f->rc);
	for (i = 0; i < f->ndirs; i++)
		free(f->dirs[i].ext);
	free(f->dirs);
	free(f->edges);
	free(f->children);
	free(f->names.buckets);
	free(f->names.ents);
	free(f->names.arena);
	free(f->fixes);
	memset(f, 0, sizeof(*f));
	f->dev = dev;
	f->path = path;
	f->verbose = verbose;
	f->mode = mode;
}
