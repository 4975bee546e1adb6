// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs pass 2: directory blocks and entries.
 *
 * Every block of every directory is judged by the format core: its
 * header and checksum, then its records (rlfs_verify_dir_block()).  A
 * record the core refuses is reported and taken as free, and the block
 * is judged again from the start, so that each bad record is reported
 * once and the good ones after it still count.  When the records cannot
 * be followed past a point (a bad record length), those before it are
 * kept.
 *
 * What needs more than one block is fsck's: names unique in their
 * directory, entries naming allocated inodes of the type they say, a
 * subdirectory's parent pointer naming the directory that holds it, no
 * entry naming the root.  The entries found are counted per inode (pass
 * 4 compares them with the link counts) and each entry naming a
 * directory becomes an edge of the tree pass 3 walks.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"

struct dir_info *find_dir(struct fsck *f, uint64_t ino)
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

/* ---- names of one directory --------------------------------------- */

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

/* ---- records ------------------------------------------------------ */

/*
 * Whether the fixed part of a record at @off lies inside the block, so
 * that it can be read (to print or to free it; the core judges it).
 */
static bool rec_readable(unsigned int off)
{
	return off <= RLFS_BLOCK_SIZE - RLFS_DIRENT_HDR;
}

/* Report the core's verdict on the record at @off of f->buf. */
static void dirent_error(struct fsck *f, const struct dir_info *d,
			 uint64_t blk, uint64_t lblk, unsigned int off,
			 const char *why)
{
	const struct rlfs_dirent *de = (const void *)(f->buf + off);
	char name[4 * RLFS_NAME_LEN + 8];
	unsigned int len;

	if (!rec_readable(off)) {
		fsck_err(f, "directory %" PRIu64 " block %" PRIu64 " (logical %"
			 PRIu64 ") offset %u: %s", d->ino, blk, lblk, off, why);
		return;
	}
	len = de->d_name_len;
	if (len > RLFS_BLOCK_SIZE - off - RLFS_DIRENT_HDR)
		len = RLFS_BLOCK_SIZE - off - RLFS_DIRENT_HDR;
	show_name(de->d_name, len, name, sizeof(name));
	fsck_err(f, "directory %" PRIu64 " block %" PRIu64 " (logical %" PRIu64
		 ") offset %u: %s (inode %" PRIu64 ", record length %u, name "
		 "length %u, type %u, name '%s')", d->ino, blk, lblk, off, why,
		 (uint64_t)le64toh(de->d_ino), le16toh(de->d_rec_len),
		 de->d_name_len, de->d_type, name);
}

/*
 * End the records of a block at @off, past which the core cannot follow
 * them: one free record to the end of the block takes the place of the
 * rest.  False if there is no room for one.
 */
static bool cut_records(uint8_t *block, unsigned int off)
{
	struct rlfs_dirent *de = (void *)(block + off);

	if (RLFS_BLOCK_SIZE - off < RLFS_DIRENT_SIZE(0))
		return false;
	de->d_ino = 0;
	de->d_rec_len = htole16(RLFS_BLOCK_SIZE - off);
	de->d_name_len = 0;
	de->d_type = RLFS_FT_UNKNOWN;
	return true;
}

/*
 * Repair (repair.c) removes an entry that names no inode it could name:
 * one out of range, the root, or a free inode.  Pass 2 notes them.
 */
static void note_dirent(struct fsck *f, const struct dir_info *d,
			const struct rlfs_dirent *de, enum fix_kind kind,
			uint64_t val, bool counted)
{
	if (!f->cur_dir_ok)
		return;		/* a block with a bad checksum is left */
	fix_add(f, &(struct fix){ .kind = kind, .ino = d->ino,
		.blk = f->cur_dir_blk, .off = (const uint8_t *)de - f->buf,
		.target = le64toh(de->d_ino), .val = val,
		.counted = counted });
}

/* A record the core refused that removing repairs (not counted). */
static bool removable_record(struct fsck *f, const struct rlfs_dirent *de)
{
	uint64_t ino = le64toh(de->d_ino);

	return ino >= f->g.inodes || ino == RLFS_ROOT_INO ||
	       !(f->ii[ino].flags & II_ALLOC) ||
	       (f->ii[ino].flags & II_FREEREC);
}

static void note_bad_record(struct fsck *f, const struct dir_info *d,
			    unsigned int off, uint64_t ino)
{
	if (f->cur_dir_ok)
		fix_add(f, &(struct fix){ .kind = FIX_DIRENT_REMOVE,
			.ino = d->ino, .blk = f->cur_dir_blk, .off = off,
			.target = ino });
}

/*
 * Judge the records of the directory block in f->buf, reporting each one
 * the core refuses; on return the buffer holds only records the core
 * accepts, the refused ones freed or cut off.  False if nothing of the
 * block can be used.
 */
static bool verify_records(struct fsck *f, const struct dir_info *d,
			   uint64_t blk, uint64_t lblk)
{
	struct rlfs_dirent *de;
	unsigned int off, last = 0;
	const char *why;
	bool pending = false;
	uint64_t pending_ino = 0;

	for (;;) {
		why = rlfs_verify_dir_block(f->buf, f->g.inodes, &off);
		if (pending && (!why || off != last))	/* freeing it helped */
			note_bad_record(f, d, last, pending_ino);
		pending = false;
		if (!why)
			return true;
		if (off == last)	/* freeing it did not help */
			break;
		dirent_error(f, d, blk, lblk, off, why);
		de = (void *)(f->buf + off);
		if (!rec_readable(off) || !de->d_ino)
			break;
		pending = removable_record(f, de);
		if (!pending)
			f->entries_incomplete = true;
		pending_ino = le64toh(de->d_ino);
		de->d_ino = 0;		/* taken as free, judge again */
		last = off;
	}
	/* The records before @off are kept if the core accepts them. */
	f->entries_incomplete = true;
	return cut_records(f->buf, off) &&
	       !rlfs_verify_dir_block(f->buf, f->g.inodes, &off);
}

/* An entry the core accepted, against the rest of the filesystem. */
static void check_dirent(struct fsck *f, struct dir_info *d,
			 const struct rlfs_dirent *de)
{
	uint64_t dino = d->ino, ino = le64toh(de->d_ino);
	unsigned int len = de->d_name_len;
	struct dir_info *cd;
	struct ino_info *t;
	char name[4 * RLFS_NAME_LEN + 8];
	bool removed = false;
	int ft;

	show_name(de->d_name, len, name, sizeof(name));
	t = &f->ii[ino];		/* below s_inodes: the core said so */
	if (!names_add(&f->names, de->d_name, len)) {
		fsck_err(f, "directory %" PRIu64 ": duplicate entry '%s'", dino,
			 name);
		/* The later one goes, unless it names a directory. */
		removed = (t->flags & II_INUSE) && !S_ISDIR(t->mode);
		if (removed)
			note_dirent(f, d, de, FIX_DIRENT_REMOVE, 0, true);
	}
	if (!(t->flags & II_ALLOC)) {
		fsck_err(f, "directory %" PRIu64 ": entry '%s' points to free "
			 "inode %" PRIu64, dino, name, ino);
		note_dirent(f, d, de, FIX_DIRENT_REMOVE, 0, false);
		return;
	}
	if (t->links != UINT32_MAX)
		t->links++;
	if (t->flags & II_FREEREC)	/* reported in pass 1 */
		note_dirent(f, d, de, FIX_DIRENT_REMOVE, 0, true);
	if (!(t->flags & II_INUSE))
		return;		/* corrupt inode, already reported */
	ft = rlfs_mode_to_ftype(t->mode);
	if (de->d_type != ft) {
		fsck_err(f, "directory %" PRIu64 ": entry '%s' has type %u "
			 "(%s) but inode %" PRIu64 " is a %s", dino, name,
			 de->d_type, rlfs_ftype_name(de->d_type), ino,
			 rlfs_ftype_name(ft));
		if (!removed)
			note_dirent(f, d, de, FIX_DIRENT_TYPE, ft, true);
	}
	if (ft != RLFS_FT_DIR)
		return;
	d->subdirs++;
	cd = find_dir(f, ino);
	if (!cd)
		return;
	if (cd->parent != dino) {
		fsck_err(f, "directory %" PRIu64 " (entry '%s' in directory %"
			 PRIu64 ") has parent %" PRIu64, ino, name, dino,
			 cd->parent);
		fix_add(f, &(struct fix){ .kind = FIX_PARENT, .ino = ino,
			.val = dino });
	}
	if (!cd->ref_dir)
		cd->ref_dir = dino;
	add_edge(f, d - f->dirs, cd - f->dirs);
}

static void check_dir_block(struct fsck *f, struct dir_info *d, uint64_t blk,
			    uint64_t lblk)
{
	const struct rlfs_dirent *de;
	unsigned int off;

	enum blk_verdict v;

	read_or_die(f, blk, 1, f->buf);
	v = check_block(f, f->buf, RLFS_DIR_MAGIC, blk, d->ino,
			"directory %" PRIu64 " block %" PRIu64 " (logical %"
			PRIu64 ")", d->ino, blk, lblk);
	if (v != BLK_OK)
		f->entries_incomplete = true;	/* what it held is unsure */
	if (v == BLK_BAD_HEADER)
		return;
	f->cur_dir_blk = blk;
	f->cur_dir_ok = v == BLK_OK;
	if (!verify_records(f, d, blk, lblk))
		return;
	for (off = sizeof(struct rlfs_block_header); off < RLFS_BLOCK_SIZE;
	     off += le16toh(de->d_rec_len)) {
		de = (const void *)(f->buf + off);
		if (de->d_ino)
			check_dirent(f, d, de);
	}
}

void pass2(struct fsck *f)
{
	struct dir_info *d;
	uint64_t b;
	size_t i, e;

	fsck_info(f, "Pass 2: directories");
	for (i = 0; i < f->ndirs; i++) {
		d = &f->dirs[i];
		names_reset(&f->names);
		for (e = 0; e < d->n_ext; e++)
			for (b = 0; b < d->ext[e].len; b++)
				check_dir_block(f, d, d->ext[e].pblk + b,
						(uint64_t)d->ext[e].lblk + b);
	}
}
