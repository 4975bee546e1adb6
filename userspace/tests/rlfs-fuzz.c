// SPDX-License-Identifier: GPL-2.0
/*
 * rlfs-fuzz - a structured fuzzer of reflinkfs images.
 *
 * From a seed image it lists every metadata block reachable from the
 * superblock (superblock, block and inode bitmaps, inode records, extent
 * tree nodes, the refcount tree, directory, xattr and symlink blocks; the
 * orphan list through s_orphan_head and i_next_orphan) and every field of
 * each record in them.  Mutation N picks one field of one block (a kind
 * of block first, uniformly among the kinds present, then a field) and
 * one operation on it: zero, all ones, a random value, +1, -1, a flipped
 * bit, or a swap of two records or entries of the block.  The block's
 * checksum (and the superblock's) is then recomputed with the format
 * core, so that the checks behind the checksums are what is exercised;
 * a mutation of a checksum field itself keeps the bad checksum.  N and
 * the seed number (-s) fix the mutation: the same image, N and seed
 * always give the same result.
 *
 * Test helper only: never installed.
 *
 * Usage:
 *   rlfs-fuzz --mkseed IMAGE          populate a freshly made image (see
 *                                     below) with the seed tree
 *   rlfs-fuzz [-s S] SEED OUT N       write SEED with mutation N to OUT
 *                                     (sparse)
 *   rlfs-fuzz [-s S] --apply N IMAGE  mutation N in place: IMAGE is a copy
 *                                     of the seed (cp --sparse=always)
 *   rlfs-fuzz [-s S] --batch SEED DIR FIRST COUNT
 *                                     DIR/fuzz-N.img for N in FIRST..
 *   rlfs-fuzz [-s S] -l|--describe SEED FIRST [COUNT]
 *                                     what mutations FIRST.. do, one a line:
 *                                     N block kind field op [value]
 *   rlfs-fuzz --targets SEED          every mutable field, one a line
 *   rlfs-fuzz --walk MNT              the workload on a mounted image:
 *                                     read everything, write, reflink,
 *                                     unshare, delete; errors by errno
 *   rlfs-fuzz [-s S] --run SEED WORKDIR [--range FIRST COUNT]
 *             [--list N,N,...] [--jobs J] [--fsck PROG] [--type FSTYPE]
 *             [--timeout SECS] [--log FILE] [--max-msgs N]
 *                                     each mutation through the checks
 *                                     of selftests/test_fuzz.sh (fsck
 *                                     -n, loop mount, walk, umount,
 *                                     kernel log), J at a time; exit 1
 *                                     on a violation
 *
 * The seed tree (--mkseed, on "mkfs.reflinkfs -f -N 64 IMAGE 4096"): a
 * root directory of three blocks (a hundred hard links with long names),
 * an xattr block on the root and one on /deep, /deep with an extent tree
 * of depth 2, /shared sharing all twelve data blocks of /deep (depth 1),
 * /snap a snapshot of /shared sharing four of them, so that the refcount
 * tree holds twelve records in a tree of depth 2, a subdirectory with a
 * fifo, fast and slow symlinks, a character device, and two orphans.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/loop.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "imgbuild.h"

/* ==== the seed tree ===================================================== */

/* A data block with a free block after it: shared ranges stay apart. */
static uint64_t alloc_apart(void)
{
	uint64_t b = ib_alloc_blocks(1);

	memset(ib_blk(b), (int)(b & 0xff) | 1, RLFS_BLOCK_SIZE);
	ib.next_blk++;
	return b;
}

static struct rlfs_btree_header *new_bt_block(uint32_t magic, uint64_t owner,
					      unsigned int depth, uint64_t *b)
{
	struct rlfs_btree_header *h =
		rlfs_bt_block_node(ib_new_meta_block(magic, owner, b));

	h->bt_max = htole16(magic == RLFS_EXTENT_MAGIC ?
			    RLFS_EXTENT_BLOCK_ENTRIES :
			    RLFS_REFCOUNT_BLOCK_ENTRIES);
	h->bt_depth = htole16(depth);
	return h;
}

static uint64_t new_inode(uint16_t mode, uint32_t nlink, uint64_t parent)
{
	uint64_t ino = ib_new_inode(mode, nlink, parent);

	ib_ino_rec(ino)->i_generation = htole32(ino * 7);
	return ino;
}
static void add_blocks(uint64_t ino, uint64_t n)
{
	ib_add_blocks(ib_ino_rec(ino), n);
}

/*
 * Append an entry {key, value} to a node: an extent or extent index (the
 * same layout), a refcount record or a refcount index.
 */
static void bt_add_any(struct rlfs_btree_header *h, bool rc, uint64_t key,
		       uint32_t len, uint64_t val)
{
	unsigned int n = le16toh(h->bt_entries);
	uint8_t *e = rlfs_bt_entry(h, n);

	if (!rc) {
		struct rlfs_extent *x = (void *)e;

		x->e_lblk = htole32(key);
		x->e_len = htole32(len);
		x->e_pblk = htole64(val);
	} else if (h->bt_depth) {
		struct rlfs_refcount_idx *x = (void *)e;

		x->ri_start = htole64(key);
		x->ri_blk = htole64(val);
	} else {
		struct rlfs_refcount_rec *x = (void *)e;

		x->rc_start = htole64(key);
		x->rc_len = htole32(len);
		x->rc_refcount = htole32(val);
	}
	h->bt_entries = htole16(n + 1);
}
#define bt_add(h, key, len, val)	bt_add_any(h, false, key, len, val)
#define rc_add(h, key, len, val)	bt_add_any(h, true, key, len, val)

static void new_dir_block(uint64_t dir, uint64_t *b)
{
	struct rlfs_inode *ri = ib_ino_rec(dir);
	struct rlfs_dirent *de = (void *)((uint8_t *)ib_new_meta_block(
		RLFS_DIR_MAGIC, dir, b) + sizeof(struct rlfs_block_header));

	de->d_rec_len = htole16(RLFS_BLOCK_SIZE -
				sizeof(struct rlfs_block_header));
	bt_add(&ri->i_eh, le64toh(ri->i_size) / RLFS_BLOCK_SIZE, 1, *b);
	add_blocks(dir, 1);
	ri->i_size = htole64(le64toh(ri->i_size) + RLFS_BLOCK_SIZE);
}

/* Add a name to directory @dir, growing it by a block when full. */
static void dir_add(uint64_t dir, uint64_t *b, const char *name,
		    uint64_t ino)
{
	while (!ib_dirent_append(*b, name, ino))
		new_dir_block(dir, b);
}

/* An xattr block for @ino with the given name=value pairs (user.). */
static void add_xattrs(uint64_t ino, const char *const *nv)
{
	uint64_t b;
	uint8_t *p = (uint8_t *)ib_new_meta_block(RLFS_XATTR_MAGIC, ino, &b) +
		     sizeof(struct rlfs_block_header);
	struct rlfs_xattr_entry *xe;

	for (; nv[0]; nv += 2) {
		xe = (void *)p;
		xe->xe_index = RLFS_XATTR_INDEX_USER;
		xe->xe_name_len = strlen(nv[0]);
		xe->xe_value_len = htole16(strlen(nv[1]));
		memcpy(xe->xe_name, nv[0], xe->xe_name_len);
		memcpy(xe->xe_name + xe->xe_name_len, nv[1], strlen(nv[1]));
		p += RLFS_XATTR_ENTRY_SIZE(xe->xe_name_len, strlen(nv[1]));
	}
	ib_ino_rec(ino)->i_xattr_blk = htole64(b);
	add_blocks(ino, 1);
}

static void make_seed(void)
{
	static const char *const root_xattrs[] = { "comment", "seed root",
						   NULL };
	static const char *const deep_xattrs[] = {
		"a", "1", "colour", "blue-green", "long.name.of.an.xattr",
		"a value of some length for the fuzzer", NULL };
	struct rlfs_btree_header *i1, *i2, *l[4], *sl, *rm[2], *rl[4], *rr;
	uint64_t root = RLFS_ROOT_INO, rootb, file, deep, shared, snap, sub;
	uint64_t subb, fifo, fast, slow, chr, orphan, trunc, b, bi1, bi2;
	uint64_t bl[4], bm[2], brl[4], brr, bsl, slowb, data[12], fileb;
	struct rlfs_inode *ri;
	char name[80];
	unsigned int i, j;

	if (ib.g.inodes < 64 || ib.g.blocks < ib.g.data_start + 256)
		ib_die("seed image too small (mkfs -N 64 IMAGE 4096)");
	ib_touch(ib.g.itable_start);
	new_dir_block(root, &rootb);
	ib_ino_rec(root)->i_nlink = htole32(3);
	add_xattrs(root, root_xattrs);

	/* /file and a hundred hard links with long names */
	file = new_inode(S_IFREG | 0644, 1, 0);
	ri = ib_ino_rec(file);
	fileb = ib_alloc_blocks(5);
	bt_add(&ri->i_eh, 0, 2, fileb);
	bt_add(&ri->i_eh, 2, 1, fileb + 2);
	bt_add(&ri->i_eh, 8, 2, fileb + 3);
	add_blocks(file, 5);
	ri->i_size = htole64(8 * RLFS_BLOCK_SIZE + 100);
	dir_add(root, &rootb, "file", file);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name),
			 "hard-link-%03u-with-a-long-name-to-fill-directory-blocks",
			 i);
		dir_add(root, &rootb, name, file);
	}
	ri = ib_ino_rec(file);
	ri->i_nlink = htole32(101);

	/* /deep: depth 2, two index blocks, four leaves of three extents */
	deep = new_inode(S_IFREG | 0644, 1, 0);
	ri = ib_ino_rec(deep);
	ri->i_eh.bt_depth = htole16(2);
	i1 = new_bt_block(RLFS_EXTENT_MAGIC, deep, 1, &bi1);
	i2 = new_bt_block(RLFS_EXTENT_MAGIC, deep, 1, &bi2);
	bt_add(&ri->i_eh, 0, 0, bi1);
	bt_add(&ri->i_eh, 1000, 0, bi2);
	for (i = 0; i < 4; i++) {
		l[i] = new_bt_block(RLFS_EXTENT_MAGIC, deep, 0, &bl[i]);
		bt_add(i < 2 ? i1 : i2, i * 500, 0, bl[i]);
	}
	for (i = 0; i < 12; i++) {
		data[i] = alloc_apart();
		bt_add(l[i / 3], (i / 3) * 500 + (i % 3) * 2, 1, data[i]);
	}
	add_blocks(deep, 6 + 12);
	ri = ib_ino_rec(deep);
	ri->i_size = htole64(1600ULL * RLFS_BLOCK_SIZE);
	add_xattrs(deep, deep_xattrs);
	dir_add(root, &rootb, "deep", deep);

	/* /shared: every data block of /deep, depth 1 */
	shared = new_inode(S_IFREG | 0644, 1, 0);
	ri = ib_ino_rec(shared);
	ri->i_eh.bt_depth = htole16(1);
	sl = new_bt_block(RLFS_EXTENT_MAGIC, shared, 0, &bsl);
	bt_add(&ri->i_eh, 0, 0, bsl);
	for (i = 0; i < 12; i++)
		bt_add(sl, i, 1, data[i]);
	add_blocks(shared, 1 + 12);
	ri = ib_ino_rec(shared);
	ri->i_size = htole64(12ULL * RLFS_BLOCK_SIZE);
	dir_add(root, &rootb, "shared", shared);

	/* /snap: a snapshot of /shared, its first four blocks */
	snap = new_inode(S_IFREG | 0444, 1, 0);
	ri = ib_ino_rec(snap);
	for (i = 0; i < 4; i++)
		bt_add(&ri->i_eh, i, 1, data[i]);
	add_blocks(snap, 4);
	ri->i_size = htole64(4ULL * RLFS_BLOCK_SIZE);
	ri->i_flags = htole32(RLFS_SNAPSHOT_FL | RLFS_IMMUTABLE_FL);
	ri->i_snap_origin = htole64(shared);
	ri->i_snap_origin_gen = ib_ino_rec(shared)->i_generation;
	ri->i_crtime = htole64(1700000100);
	ri->i_lineage = htole64(0x5eed5eed12345678ULL);
	ib_ino_rec(shared)->i_lineage = ri->i_lineage;
	dir_add(root, &rootb, "snap", snap);

	/* the refcount tree: depth 2, 2 nodes of depth 1, 4 leaves */
	rr = new_bt_block(RLFS_REFCOUNT_MAGIC, 0, 2, &brr);
	for (i = 0; i < 2; i++) {
		rm[i] = new_bt_block(RLFS_REFCOUNT_MAGIC, 0, 1, &bm[i]);
		rc_add(rr, data[i * 6], 0, bm[i]);
	}
	for (i = 0; i < 4; i++) {
		rl[i] = new_bt_block(RLFS_REFCOUNT_MAGIC, 0, 0, &brl[i]);
		rc_add(rm[i / 2], data[i * 3], 0, brl[i]);
		for (j = 0; j < 3; j++)
			rc_add(rl[i], data[i * 3 + j], 1,
			       i * 3 + j < 4 ? 3 : 2);
	}
	ib.sb->s_feature_incompat |= htole64(RLFS_FEATURE_INCOMPAT_REFCOUNT);
	ib.sb->s_feature_ro_compat |= htole64(RLFS_FEATURE_RO_COMPAT_SNAPSHOT);
	ib.sb->s_refcount_root = htole64(brr);
	ib.sb->s_refcount_depth = htole32(2);

	/* /sub with a fifo */
	sub = new_inode(S_IFDIR | 0755, 2, root);
	new_dir_block(sub, &subb);
	fifo = new_inode(S_IFIFO | 0644, 1, 0);
	dir_add(sub, &subb, "fifo", fifo);
	dir_add(root, &rootb, "sub", sub);

	/* symlinks and a device */
	fast = new_inode(S_IFLNK | 0777, 1, 0);
	ri = ib_ino_rec(fast);
	ri->i_flags = htole32(RLFS_FAST_SYMLINK_FL);
	strcpy(ri->i_symlink, "sub/fifo");
	ri->i_size = htole64(strlen(ri->i_symlink));
	dir_add(root, &rootb, "fast", fast);
	slow = new_inode(S_IFLNK | 0777, 1, 0);
	ib_new_meta_block(RLFS_SYMLINK_MAGIC, slow, &slowb);
	ri = ib_ino_rec(slow);
	bt_add(&ri->i_eh, 0, 1, slowb);
	add_blocks(slow, 1);
	for (i = 0; i < 150; i++)
		memcpy(((struct rlfs_symlink_block *)ib_blk(slowb))->sl_target +
		       2 * i, "d/", 2);
	memcpy(((struct rlfs_symlink_block *)ib_blk(slowb))->sl_target + 300,
	       "file", 4);
	ri->i_size = htole64(304);
	dir_add(root, &rootb, "slow", slow);
	chr = new_inode(S_IFCHR | 0600, 1, 0);
	ib_ino_rec(chr)->i_rdev = htole32(0x0103);
	dir_add(root, &rootb, "chr", chr);

	/* orphans: unlinked (nlink 0) and being truncated (nlink 1) */
	orphan = new_inode(S_IFREG | 0644, 0, 0);
	b = ib_alloc_blocks(2);
	bt_add(&ib_ino_rec(orphan)->i_eh, 0, 2, b);
	add_blocks(orphan, 2);
	ib_ino_rec(orphan)->i_size = htole64(2 * RLFS_BLOCK_SIZE);
	trunc = new_inode(S_IFREG | 0644, 1, 0);
	b = ib_alloc_blocks(1);
	bt_add(&ib_ino_rec(trunc)->i_eh, 0, 1, b);
	add_blocks(trunc, 1);
	ib_ino_rec(trunc)->i_size = htole64(100);
	dir_add(root, &rootb, "trunc", trunc);
	ib.sb->s_orphan_head = htole64(orphan);
	ib_ino_rec(orphan)->i_next_orphan = htole64(trunc);
	ib.sb->s_next_generation = htole32(1000);
	ib_finish();
}

/* ==== targets: every field of every metadata block ===================== */

enum kind { K_SUPER, K_BBITMAP, K_IBITMAP, K_INODE, K_ORPHAN, K_FREEINO,
	    K_EXTENT, K_REFCOUNT, K_DIR, K_XATTR, K_SYMLINK, K_NR };
static const char *const kind_name[K_NR] = {
	"super", "block-bitmap", "inode-bitmap", "inode", "orphan-inode",
	"free-inode", "extent", "refcount", "dir", "xattr", "symlink",
};

enum csum { CS_SUPER, CS_INODE, CS_BLOCK };

struct target {
	uint64_t	blk;
	uint16_t	off;		/* field: byte offset in the block */
	uint16_t	size;		/* bytes */
	uint16_t	rec;		/* inode record offset (CS_INODE) */
	uint16_t	swap_a, swap_b, swap_len;	/* 0 len: no swap */
	uint8_t		kind;
	uint8_t		csum;
	bool		is_crc;
	char		name[64];
};

static struct target *tg;
static unsigned int ntg, tg_cap;
static unsigned int kind_first[K_NR + 1];	/* after sorting by kind */

struct field {
	uint16_t	off, size;
	const char	*name;
};
#define FLD(type, m) { offsetof(type, m), sizeof(((type *)0)->m), #m }

static const struct field super_fields[] = {
	FLD(struct rlfs_super, s_magic), FLD(struct rlfs_super, s_crc),
	FLD(struct rlfs_super, s_blocknr), FLD(struct rlfs_super, s_version),
	FLD(struct rlfs_super, s_block_size),
	FLD(struct rlfs_super, s_feature_compat),
	FLD(struct rlfs_super, s_feature_ro_compat),
	FLD(struct rlfs_super, s_feature_incompat),
	FLD(struct rlfs_super, s_uuid), FLD(struct rlfs_super, s_label),
	FLD(struct rlfs_super, s_blocks), FLD(struct rlfs_super, s_inodes),
	FLD(struct rlfs_super, s_free_blocks),
	FLD(struct rlfs_super, s_free_inodes),
	FLD(struct rlfs_super, s_journal_start),
	FLD(struct rlfs_super, s_journal_blocks),
	FLD(struct rlfs_super, s_bbitmap_start),
	FLD(struct rlfs_super, s_bbitmap_blocks),
	FLD(struct rlfs_super, s_ibitmap_start),
	FLD(struct rlfs_super, s_ibitmap_blocks),
	FLD(struct rlfs_super, s_itable_start),
	FLD(struct rlfs_super, s_itable_blocks),
	FLD(struct rlfs_super, s_data_start),
	FLD(struct rlfs_super, s_root_ino),
	FLD(struct rlfs_super, s_orphan_head),
	FLD(struct rlfs_super, s_refcount_root),
	FLD(struct rlfs_super, s_refcount_depth),
	FLD(struct rlfs_super, s_state), FLD(struct rlfs_super, s_mkfs_time),
	FLD(struct rlfs_super, s_mount_time),
	FLD(struct rlfs_super, s_write_time),
	FLD(struct rlfs_super, s_mount_count),
	FLD(struct rlfs_super, s_next_generation),
	{ offsetof(struct rlfs_super, s_reserved), 8, "s_reserved[0]" },
};

static const struct field header_fields[] = {
	FLD(struct rlfs_block_header, bh_magic),
	FLD(struct rlfs_block_header, bh_crc),
	FLD(struct rlfs_block_header, bh_blocknr),
	FLD(struct rlfs_block_header, bh_owner),
	FLD(struct rlfs_block_header, bh_reserved),
};

static const struct field bt_fields[] = {
	FLD(struct rlfs_btree_header, bt_entries),
	FLD(struct rlfs_btree_header, bt_max),
	FLD(struct rlfs_btree_header, bt_depth),
	FLD(struct rlfs_btree_header, bt_reserved),
};

static const struct field ext_fields[] = {
	FLD(struct rlfs_extent, e_lblk), FLD(struct rlfs_extent, e_len),
	FLD(struct rlfs_extent, e_pblk),
};

static const struct field eidx_fields[] = {
	FLD(struct rlfs_extent_idx, ei_lblk),
	FLD(struct rlfs_extent_idx, ei_reserved),
	FLD(struct rlfs_extent_idx, ei_blk),
};

static const struct field rc_fields[] = {
	FLD(struct rlfs_refcount_rec, rc_start),
	FLD(struct rlfs_refcount_rec, rc_len),
	FLD(struct rlfs_refcount_rec, rc_refcount),
};

static const struct field ridx_fields[] = {
	FLD(struct rlfs_refcount_idx, ri_start),
	FLD(struct rlfs_refcount_idx, ri_blk),
};

static const struct field inode_fields[] = {
	FLD(struct rlfs_inode, i_magic), FLD(struct rlfs_inode, i_crc),
	FLD(struct rlfs_inode, i_ino), FLD(struct rlfs_inode, i_mode),
	FLD(struct rlfs_inode, i_reserved0), FLD(struct rlfs_inode, i_nlink),
	FLD(struct rlfs_inode, i_uid), FLD(struct rlfs_inode, i_gid),
	FLD(struct rlfs_inode, i_size), FLD(struct rlfs_inode, i_blocks),
	FLD(struct rlfs_inode, i_atime), FLD(struct rlfs_inode, i_mtime),
	FLD(struct rlfs_inode, i_ctime), FLD(struct rlfs_inode, i_crtime),
	FLD(struct rlfs_inode, i_atime_ns),
	FLD(struct rlfs_inode, i_mtime_ns),
	FLD(struct rlfs_inode, i_ctime_ns),
	FLD(struct rlfs_inode, i_crtime_ns), FLD(struct rlfs_inode, i_flags),
	FLD(struct rlfs_inode, i_generation), FLD(struct rlfs_inode, i_rdev),
	FLD(struct rlfs_inode, i_snap_origin_gen),
	FLD(struct rlfs_inode, i_xattr_blk),
	FLD(struct rlfs_inode, i_next_orphan),
	FLD(struct rlfs_inode, i_parent),
	FLD(struct rlfs_inode, i_snap_origin),
	FLD(struct rlfs_inode, i_lineage),
};

static const struct field dirent_fields[] = {
	FLD(struct rlfs_dirent, d_ino), FLD(struct rlfs_dirent, d_rec_len),
	FLD(struct rlfs_dirent, d_name_len), FLD(struct rlfs_dirent, d_type),
	{ offsetof(struct rlfs_dirent, d_name), 1, "d_name[0]" },
};

static const struct field xattr_fields[] = {
	FLD(struct rlfs_xattr_entry, xe_index),
	FLD(struct rlfs_xattr_entry, xe_name_len),
	FLD(struct rlfs_xattr_entry, xe_value_len),
	{ offsetof(struct rlfs_xattr_entry, xe_name), 1, "xe_name[0]" },
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static struct target *add_target(uint64_t b, enum kind k, enum csum cs,
				 unsigned int off, unsigned int size,
				 const char *fmt, ...) RLFS_PRINTF(6, 7);
static struct target *add_target(uint64_t b, enum kind k, enum csum cs,
				 unsigned int off, unsigned int size,
				 const char *fmt, ...)
{
	struct target *t;
	va_list ap;

	if (off + size > RLFS_BLOCK_SIZE || !size)
		return NULL;
	if (ntg == tg_cap) {
		tg_cap = tg_cap ? 2 * tg_cap : 1024;
		tg = realloc(tg, tg_cap * sizeof(*tg));
		if (!tg)
			ib_die("out of memory");
	}
	t = &tg[ntg++];
	memset(t, 0, sizeof(*t));
	t->blk = b;
	t->kind = k;
	t->csum = cs;
	t->off = off;
	t->size = size;
	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
	t->is_crc = strstr(t->name, "_crc") != NULL;
	return t;
}

/* Every field of a table at byte @base; @pfx names the record. */
static void add_fields(uint64_t b, enum kind k, enum csum cs,
		       unsigned int base, const struct field *f,
		       unsigned int nf, const char *pfx, unsigned int swap_to,
		       unsigned int swap_len)
{
	struct target *t;
	unsigned int i;

	for (i = 0; i < nf; i++) {
		t = add_target(b, k, cs, base + f[i].off, f[i].size, "%s%s",
			       pfx, f[i].name);
		if (t && swap_len) {
			t->swap_a = base;
			t->swap_b = swap_to;
			t->swap_len = swap_len;
		}
	}
}

static void add_header(uint64_t b, enum kind k)
{
	add_fields(b, k, CS_BLOCK, 0, header_fields, NFIELDS(header_fields),
		   "", 0, 0);
}

/* Blocks already listed (the seed shares data, never metadata). */
static uint64_t *seen;
static unsigned int nseen, seen_cap;

static bool mark_seen(uint64_t b)
{
	unsigned int i;

	for (i = 0; i < nseen; i++)
		if (seen[i] == b)
			return false;
	if (nseen == seen_cap) {
		seen_cap = seen_cap ? 2 * seen_cap : 256;
		seen = realloc(seen, seen_cap * sizeof(*seen));
		if (!seen)
			ib_die("out of memory");
	}
	seen[nseen++] = b;
	return true;
}

/*
 * The header and entries of a B+tree node at byte @base of block @b; the
 * entries beyond bt_entries are not looked at by anything, so they are
 * left alone.
 */
static void add_bt_node(uint64_t b, enum kind k, enum csum cs,
			unsigned int base, bool refcount, const char *pfx)
{
	const struct rlfs_btree_header *h =
		(const void *)((uint8_t *)ib_blk(b) + base);
	int n = rlfs_bt_entries(h), depth = rlfs_bt_depth(h), i;
	unsigned int max = cs == CS_INODE ? RLFS_INODE_ROOT_ENTRIES :
			   RLFS_EXTENT_BLOCK_ENTRIES, eoff;
	const struct field *f;
	unsigned int nf;
	char p[48];

	add_fields(b, k, cs, base, bt_fields, NFIELDS(bt_fields), pfx, 0, 0);
	if (refcount) {
		f = depth ? ridx_fields : rc_fields;
		nf = depth ? NFIELDS(ridx_fields) : NFIELDS(rc_fields);
	} else {
		f = depth ? eidx_fields : ext_fields;
		nf = depth ? NFIELDS(eidx_fields) : NFIELDS(ext_fields);
	}
	for (i = 0; i < n && (unsigned int)i < max; i++) {
		eoff = base + 8 + 16 * i;
		snprintf(p, sizeof(p), "%s%s[%d].", pfx,
			 refcount ? (depth ? "rb_idx" : "rb_rec") :
				    (depth ? "idx" : "ext"), i);
		add_fields(b, k, cs, eoff, f, nf, p,
			   i + 1 < n ? eoff + 16 : 0, i + 1 < n ? 16 : 0);
	}
}

static void walk_dir_block(uint64_t b)
{
	unsigned int off = sizeof(struct rlfs_block_header), len, prev = 0;
	const uint8_t *base = ib_blk(b);
	const struct rlfs_dirent *de;
	struct target *t;
	char p[32];
	int i = 0;

	add_header(b, K_DIR);
	while (off + RLFS_DIRENT_HDR <= RLFS_BLOCK_SIZE) {
		de = (const void *)(base + off);
		len = le16toh(de->d_rec_len);
		snprintf(p, sizeof(p), "dirent[%d].", i);
		add_fields(b, K_DIR, CS_BLOCK, off, dirent_fields,
			   de->d_name_len ? NFIELDS(dirent_fields) :
					    NFIELDS(dirent_fields) - 1,
			   p, 0, 0);
		/* swap the inodes of two neighbouring names */
		if (prev && de->d_ino) {
			t = &tg[ntg - NFIELDS(dirent_fields)];
			t->swap_a = prev;
			t->swap_b = off;
			t->swap_len = sizeof(de->d_ino);
		}
		if (de->d_name_len > 1)
			add_target(b, K_DIR, CS_BLOCK,
				   off + RLFS_DIRENT_HDR + de->d_name_len - 1,
				   1, "dirent[%d].d_name[%u]", i,
				   de->d_name_len - 1);
		prev = de->d_ino ? off : 0;
		if (len < RLFS_DIRENT_HDR || off + len > RLFS_BLOCK_SIZE)
			break;
		off += len;
		i++;
	}
}

static void walk_xattr_block(uint64_t b)
{
	unsigned int off = sizeof(struct rlfs_block_header);
	const uint8_t *base = ib_blk(b);
	const struct rlfs_xattr_entry *xe;
	char p[32];
	int i = 0;

	add_header(b, K_XATTR);
	while (off + sizeof(*xe) <= RLFS_BLOCK_SIZE) {
		xe = (const void *)(base + off);
		snprintf(p, sizeof(p), "xattr[%d].", i);
		add_fields(b, K_XATTR, CS_BLOCK, off, xattr_fields,
			   xe->xe_name_len ? NFIELDS(xattr_fields) : 2, p, 0,
			   0);
		if (!xe->xe_name_len)
			break;
		if (le16toh(xe->xe_value_len))
			add_target(b, K_XATTR, CS_BLOCK,
				   off + sizeof(*xe) + xe->xe_name_len, 1,
				   "xattr[%d].value[0]", i);
		off += RLFS_XATTR_ENTRY_SIZE(xe->xe_name_len,
					     le16toh(xe->xe_value_len));
		i++;
	}
}

static void walk_symlink_block(uint64_t b, uint64_t size)
{
	unsigned int base = sizeof(struct rlfs_block_header);

	add_header(b, K_SYMLINK);
	add_target(b, K_SYMLINK, CS_BLOCK, base, 1, "sl_target[0]");
	if (size > 1 && size < RLFS_BLOCK_SIZE - base)
		add_target(b, K_SYMLINK, CS_BLOCK, base + size - 1, 1,
			   "sl_target[%llu]", (unsigned long long)size - 1);
	if (size < RLFS_BLOCK_SIZE - base)
		add_target(b, K_SYMLINK, CS_BLOCK, base + size, 1,
			   "sl_target[%llu]", (unsigned long long)size);
}

/* What the leaves of a file map: directory and symlink blocks. */
static void walk_mapped(uint16_t mode, uint64_t size, uint64_t pblk,
			uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len && i < 16; i++) {
		if (!ib_blk_ok(pblk + i) || !mark_seen(pblk + i))
			continue;
		if (S_ISDIR(mode))
			walk_dir_block(pblk + i);
		else if (S_ISLNK(mode))
			walk_symlink_block(pblk + i, size);
	}
}

/* The node at byte @base of block @b (0 for the inode root, done). */
static void walk_extents(const struct rlfs_btree_header *h, uint16_t mode,
			 uint64_t size, int level)
{
	int n = rlfs_bt_entries(h), i;
	uint64_t child;

	if (level > RLFS_MAX_EXTENT_DEPTH || n > (int)RLFS_EXTENT_BLOCK_ENTRIES)
		return;
	for (i = 0; i < n; i++) {
		if (rlfs_bt_depth(h)) {
			child = rlfs_bt_child(h, i);
			if (!ib_blk_ok(child) || !mark_seen(child))
				continue;
			add_header(child, K_EXTENT);
			add_bt_node(child, K_EXTENT, CS_BLOCK,
				    sizeof(struct rlfs_block_header), false,
				    "");
			add_target(child, K_EXTENT, CS_BLOCK,
				   offsetof(struct rlfs_extent_block, eb_pad),
				   8, "eb_pad");
			walk_extents(rlfs_bt_block_node(ib_blk(child)), mode,
				     size, level + 1);
		} else {
			struct rlfs_ext_irec r;

			rlfs_ext_to_irec(rlfs_bt_entry(h, i), &r);
			walk_mapped(mode, size, r.pblk, r.len);
		}
	}
}

static void walk_refcount(uint64_t b, int level)
{
	struct rlfs_btree_header *h;
	int i, n;

	if (level > RLFS_MAX_EXTENT_DEPTH || !ib_blk_ok(b) || !mark_seen(b))
		return;
	add_header(b, K_REFCOUNT);
	add_bt_node(b, K_REFCOUNT, CS_BLOCK, sizeof(struct rlfs_block_header),
		    true, "");
	add_target(b, K_REFCOUNT, CS_BLOCK,
		   offsetof(struct rlfs_refcount_block, rb_pad), 8, "rb_pad");
	h = rlfs_bt_block_node(ib_blk(b));
	n = rlfs_bt_entries(h);
	if (!rlfs_bt_depth(h) || n > (int)RLFS_REFCOUNT_BLOCK_ENTRIES)
		return;
	for (i = 0; i < n; i++)
		walk_refcount(rlfs_bt_child(h, i), level + 1);
}

static bool on_orphan_list(uint64_t ino)
{
	uint64_t o = le64toh(ib.sb->s_orphan_head);
	unsigned int i;

	for (i = 0; o && o < ib.g.inodes && i < 64; i++) {
		if (o == ino)
			return true;
		o = le64toh(ib_ino_rec(o)->i_next_orphan);
	}
	return false;
}

static void walk_inode(uint64_t ino, unsigned int *free_slots)
{
	uint64_t b = ib.g.itable_start + ino / RLFS_INODES_PER_BLOCK;
	unsigned int rec = (ino % RLFS_INODES_PER_BLOCK) * RLFS_INODE_SIZE;
	struct rlfs_inode *ri = ib_ino_rec(ino);
	uint16_t mode = le16toh(ri->i_mode);
	uint64_t size = le64toh(ri->i_size), xb;
	enum kind k = on_orphan_list(ino) ? K_ORPHAN : K_INODE;
	unsigned int i, first = ntg, base = rec + RLFS_INODE_SIZE -
					     RLFS_INODE_DATA_SIZE;
	char p[32];

	if (rlfs_inode_slot_unused(ri)) {
		/* a few free slots: garbage where nothing should be */
		if ((*free_slots)++ < 2) {
			add_fields(b, K_FREEINO, CS_INODE, rec, inode_fields,
				   4, "", 0, 0);
			for (i = first; i < ntg; i++)
				tg[i].rec = rec;
		}
		return;
	}
	snprintf(p, sizeof(p), "ino%llu.", (unsigned long long)ino);
	add_fields(b, k, CS_INODE, rec, inode_fields, NFIELDS(inode_fields),
		   p, ino % RLFS_INODES_PER_BLOCK + 1 < RLFS_INODES_PER_BLOCK ?
		   rec + RLFS_INODE_SIZE : 0,
		   ino % RLFS_INODES_PER_BLOCK + 1 < RLFS_INODES_PER_BLOCK ?
		   RLFS_INODE_SIZE : 0);
	if (le32toh(ri->i_flags) & RLFS_FAST_SYMLINK_FL) {
		add_target(b, k, CS_INODE, base, 1, "%si_symlink[0]", p);
		if (size > 1 && size < RLFS_INODE_DATA_SIZE)
			add_target(b, k, CS_INODE, base + size - 1, 1,
				   "%si_symlink[%llu]", p,
				   (unsigned long long)size - 1);
		if (size < RLFS_INODE_DATA_SIZE)
			add_target(b, k, CS_INODE, base + size, 1,
				   "%si_symlink[%llu]", p,
				   (unsigned long long)size);
	} else if (mode) {
		strcat(p, "i_data.");
		add_bt_node(b, k, CS_INODE, base, false, p);
	}
	for (i = first; i < ntg; i++)
		tg[i].rec = rec;
	if (!mode || (le32toh(ri->i_flags) & RLFS_FAST_SYMLINK_FL))
		goto xattr;
	if (S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode))
		walk_extents(&ri->i_eh, mode, size, 0);
xattr:
	xb = le64toh(ri->i_xattr_blk);
	if (xb && ib_blk_ok(xb) && mark_seen(xb))
		walk_xattr_block(xb);
}

/* Bitmap block @b describing items [first, first + BITS) of @nitems. */
static void walk_bitmap(uint64_t b, enum kind k, uint64_t first,
			uint64_t nitems)
{
	const struct rlfs_bitmap_block *bb = ib_blk(b);
	unsigned int hdr = sizeof(struct rlfs_block_header), i, last = 0;
	unsigned int end;

	add_header(b, k);
	/* the last byte in use, and the byte holding the last item */
	for (i = 0; i < RLFS_BITMAP_BYTES; i++)
		if (bb->bb_bits[i] && (first + 8ULL * i) < nitems)
			last = i;
	end = nitems - first >= RLFS_BITS_PER_BITMAP ?
	      RLFS_BITMAP_BYTES - 1 : (nitems - first) / 8;
	for (i = 0; i < RLFS_BITMAP_BYTES; i++) {
		if (i > 3 && i + 2 < last && (i % 4) && i != last / 2)
			continue;
		if (i > last + 1 && i + 1 != end && i != end &&
		    i != RLFS_BITMAP_BYTES - 1)
			continue;
		struct target *t = add_target(b, k, CS_BLOCK, hdr + i, 1,
					      "bb_bits[%u]", i);
		if (t && i + 1 < RLFS_BITMAP_BYTES) {
			t->swap_a = hdr + i;
			t->swap_b = hdr + i + 1;
			t->swap_len = 1;
		}
	}
}

static void enumerate(void)
{
	unsigned int free_slots = 0, k, i;
	uint64_t ino, j;
	const char *why;
	int err;

	why = rlfs_verify_super(ib.sb, ib.size / RLFS_BLOCK_SIZE, &err);
	if (why)
		ib_die("the seed's superblock is bad: %s", why);
	rlfs_geom_from_super(ib.sb, &ib.g);
	add_fields(0, K_SUPER, CS_SUPER, 0, super_fields,
		   NFIELDS(super_fields), "", 0, 0);
	for (j = 0; j < ib.g.bbitmap_blocks; j++)
		walk_bitmap(ib.g.bbitmap_start + j, K_BBITMAP,
			    j * RLFS_BITS_PER_BITMAP, ib.g.blocks);
	for (j = 0; j < ib.g.ibitmap_blocks; j++)
		walk_bitmap(ib.g.ibitmap_start + j, K_IBITMAP,
			    j * RLFS_BITS_PER_BITMAP, ib.g.inodes);
	for (ino = RLFS_ROOT_INO; ino < ib.g.inodes; ino++)
		walk_inode(ino, &free_slots);
	if (ib.sb->s_refcount_root)
		walk_refcount(le64toh(ib.sb->s_refcount_root), 0);
	/* grouped by kind, in walk order within a kind */
	{
		struct target *s = malloc(ntg * sizeof(*s));
		unsigned int n = 0;

		if (!s)
			ib_die("out of memory");
		for (k = 0; k < K_NR; k++) {
			kind_first[k] = n;
			for (i = 0; i < ntg; i++)
				if (tg[i].kind == k)
					s[n++] = tg[i];
		}
		kind_first[K_NR] = n;
		free(tg);
		tg = s;
	}
}

/* ==== mutations ========================================================= */

enum op { OP_ZERO, OP_ONES, OP_RANDOM, OP_INC, OP_DEC, OP_BITFLIP, OP_SWAP,
	  OP_NR };
static const char *const op_name[OP_NR] = {
	"zero", "ones", "random", "+1", "-1", "bitflip", "swap",
};

struct mutation {
	const struct target *t;
	enum op op;
	uint64_t rnd;
};

static uint64_t fuzz_seed;

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void pick(uint64_t n, struct mutation *m)
{
	uint64_t r = splitmix64(splitmix64(fuzz_seed) ^ n);
	unsigned int kinds[K_NR], nk = 0, k, cnt;

	for (k = 0; k < K_NR; k++)
		if (kind_first[k + 1] > kind_first[k])
			kinds[nk++] = k;
	if (!nk)
		ib_die("no metadata found");
	k = kinds[r % nk];
	r = splitmix64(r);
	cnt = kind_first[k + 1] - kind_first[k];
	m->t = &tg[kind_first[k] + r % cnt];
	r = splitmix64(r);
	m->op = r % OP_NR;
	if (m->op == OP_SWAP && !m->t->swap_len)
		m->op = OP_RANDOM;
	m->rnd = splitmix64(r);
}

static uint64_t get_le(const uint8_t *p, unsigned int size)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < size && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, unsigned int size, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < size && i < 8; i++)
		p[i] = v >> (8 * i);
}

/* Apply @m to the in-memory image; returns the new value (for -l). */
static uint64_t mutate(const struct mutation *m)
{
	const struct target *t = m->t;
	uint8_t *b = ib_blk(t->blk), *p = b + t->off, tmp[RLFS_INODE_SIZE];
	unsigned int n = t->size, i;
	bool num = n == 1 || n == 2 || n == 4 || n == 8;
	uint64_t v = num ? get_le(p, n) : p[0];
	uint64_t mask = n >= 8 ? ~0ULL : (1ULL << (8 * n)) - 1;

	switch (m->op) {
	case OP_ZERO:
		memset(p, 0, n);
		break;
	case OP_ONES:
		memset(p, 0xff, n);
		break;
	case OP_RANDOM:
		for (i = 0; i < n; i++)
			p[i] = splitmix64(m->rnd + i);
		break;
	case OP_INC:
	case OP_DEC:
		v = (m->op == OP_INC ? v + 1 : v - 1) & (num ? mask : 0xff);
		put_le(p, num ? n : 1, v);
		break;
	case OP_BITFLIP:
		p[(m->rnd >> 8) % n] ^= 1U << (m->rnd % 8);
		break;
	case OP_SWAP:
		memcpy(tmp, b + t->swap_a, t->swap_len);
		memcpy(b + t->swap_a, b + t->swap_b, t->swap_len);
		memcpy(b + t->swap_b, tmp, t->swap_len);
		break;
	default:
		break;
	}
	v = num ? get_le(p, n) : p[0];
	if (t->is_crc && m->op != OP_SWAP)
		return v;
	switch (t->csum) {
	case CS_SUPER:
		rlfs_super_set_csum(ib.sb);
		break;
	case CS_INODE:
		/* a freed record (i_mode 0) keeps its checksum too */
		rlfs_inode_set_csum((struct rlfs_inode *)(b + t->rec));
		if (m->op == OP_SWAP && t->swap_b + RLFS_INODE_SIZE <=
					RLFS_BLOCK_SIZE &&
		    t->swap_len == RLFS_INODE_SIZE)
			rlfs_inode_set_csum((struct rlfs_inode *)(b +
								 t->swap_b));
		break;
	case CS_BLOCK:
		rlfs_block_set_csum(b);
		break;
	}
	return v;
}

/* What mutation @n (@m, leaving value @v) does, a line to @f. */
static void describe(FILE *f, uint64_t n, const struct mutation *m,
		     uint64_t v)
{
	const struct target *t = m->t;

	fprintf(f, "%llu block %llu %s %s %s", (unsigned long long)n,
		(unsigned long long)t->blk, kind_name[t->kind], t->name,
		op_name[m->op]);
	if (m->op == OP_SWAP)
		fprintf(f, " with +%d", (int)t->swap_b - (int)t->swap_a);
	else
		fprintf(f, " -> 0x%llx", (unsigned long long)v);
	if (t->is_crc && m->op != OP_SWAP)
		fprintf(f, " (checksum left bad)");
	fputc('\n', f);
}

/* ==== image I/O ========================================================= */

static int img_fd = -1;

/* @shared_rw: changes go to the file; else private (@rw: writable fd). */
static void map_image(const char *path, bool shared_rw, bool rw)
{
	struct stat st;
	void *p;

	img_fd = open(path, shared_rw || rw ? O_RDWR : O_RDONLY);
	if (img_fd < 0 || fstat(img_fd, &st))
		ib_die("%s: %s", path, strerror(errno));
	if (st.st_size < RLFS_BLOCK_SIZE)
		ib_die("%s: too small", path);
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE,
		 shared_rw ? MAP_SHARED : MAP_PRIVATE, img_fd, 0);
	if (p == MAP_FAILED)
		ib_die("%s: %s", path, strerror(errno));
	ib_attach(p, st.st_size);
	if (ib.g.blocks * RLFS_BLOCK_SIZE > ib.size)
		ib_die("%s: image smaller than the filesystem", path);
}

static bool all_zero(const uint8_t *p)
{
	size_t i;

	for (i = 0; i < RLFS_BLOCK_SIZE; i++)
		if (p[i])
			return false;
	return true;
}

/* The whole mapping to @path, holes for the zero blocks. */
static void write_sparse(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t off;

	if (fd < 0 || ftruncate(fd, ib.size))
		ib_die("%s: %s", path, strerror(errno));
	for (off = 0; off + RLFS_BLOCK_SIZE <= ib.size;
	     off += RLFS_BLOCK_SIZE) {
		if (all_zero(ib.img + off))
			continue;
		if (pwrite(fd, ib.img + off, RLFS_BLOCK_SIZE, off) !=
		    RLFS_BLOCK_SIZE)
			ib_die("%s: %s", path, strerror(errno));
	}
	if (close(fd))
		ib_die("%s: %s", path, strerror(errno));
}

/* The block(s) mutation @m changed, back to the file (--apply). */
static void write_back(const struct mutation *m)
{
	uint64_t b = m->t->blk;

	if (pwrite(img_fd, ib_blk(b), RLFS_BLOCK_SIZE, b * RLFS_BLOCK_SIZE) !=
	    RLFS_BLOCK_SIZE)
		ib_die("write: %s", strerror(errno));
	if (fsync(img_fd))
		ib_die("fsync: %s", strerror(errno));
}

/* ==== the workload on a mounted image (--walk) ========================= */

/*
 * Touch everything under a mount point, then change it: stat, read
 * (bounded: a mutated i_size may be huge), readlink, list and read the
 * xattrs of every file; write into the regular files, reflink each to a
 * clone and unshare the clone (FICLONE, FALLOC_FL_UNSHARE_RANGE), make a
 * file, a directory and an xattr, truncate, and delete everything.  Every
 * failure is counted by errno; the verdict is the caller's.  Output, one
 * line: "ops N errors N euclean N eio N" and the errnos seen.
 */
#define WALK_MAX_FILES	256
#define WALK_READ_MAX	(8U << 20)

static unsigned long w_ops, w_err, w_euclean, w_eio;
static unsigned long w_errno[256];
static char *w_files[WALK_MAX_FILES];
static ino_t w_inos[WALK_MAX_FILES];
static unsigned int w_nfiles;
static char w_buf[1 << 16];

static void w_fail(int e)
{
	w_err++;
	if (e == EUCLEAN)
		w_euclean++;
	if (e == EIO)
		w_eio++;
	w_errno[e & 0xff]++;
}

/* Count a call: @ret < 0 is a failure, by errno. */
static long w_check(long ret)
{
	w_ops++;
	if (ret < 0)
		w_fail(errno);
	return ret;
}

static void w_xattrs(const char *path)
{
	char list[4096], *n;
	ssize_t len;

	len = w_check(llistxattr(path, list, sizeof(list)));
	for (n = list; len > 0 && n < list + len; n += strlen(n) + 1)
		w_check(lgetxattr(path, n, w_buf, sizeof(w_buf)));
}

static void w_read(const char *path, off_t size)
{
	int fd = w_check(open(path, O_RDONLY | O_NOFOLLOW));
	size_t done = 0;
	ssize_t r;

	if (fd < 0)
		return;
	while (done < WALK_READ_MAX) {
		r = w_check(read(fd, w_buf, sizeof(w_buf)));
		if (r <= 0)
			break;
		done += r;
	}
	/* and the end of a large file */
	if (size > (off_t)WALK_READ_MAX)
		w_check(pread(fd, w_buf, sizeof(w_buf), size - 1));
	w_check(lseek(fd, 0, SEEK_DATA));
	close(fd);
}

static void w_tree(const char *dir, int level)
{
	char path[4096], target[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (level > 16)
		return;
	d = opendir(dir);
	w_ops++;
	if (!d) {
		w_fail(errno);
		return;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				w_fail(errno);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (w_check(lstat(path, &st)) < 0)
			continue;
		w_xattrs(path);
		if (S_ISDIR(st.st_mode)) {
			w_tree(path, level + 1);
		} else if (S_ISLNK(st.st_mode)) {
			w_check(readlink(path, target, sizeof(target)));
			w_check(stat(path, &st));
		} else if (S_ISREG(st.st_mode)) {
			unsigned int i;

			/* each inode once: the hard links are many */
			for (i = 0; i < w_nfiles; i++)
				if (w_inos[i] == st.st_ino)
					break;
			if (i < w_nfiles)
				continue;
			w_read(path, st.st_size);
			if (w_nfiles < WALK_MAX_FILES) {
				w_inos[w_nfiles] = st.st_ino;
				w_files[w_nfiles++] = strdup(path);
			}
		}
	}
	closedir(d);
}

static void w_remove(const char *dir, int level)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	if (level > 16)
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR) {
			w_remove(path, level + 1);
			w_check(rmdir(path));
		} else {
			w_check(unlink(path));
		}
	}
	closedir(d);
}

static void w_change(const char *mnt)
{
	char path[4096], clone[4096];
	unsigned int i;
	struct stat st;
	int fd, cfd;

	memset(w_buf, 0x5a, sizeof(w_buf));
	for (i = 0; i < w_nfiles; i++) {
		fd = w_check(open(w_files[i], O_RDWR));
		if (fd < 0)
			continue;
		/* a write into shared blocks (copy on write) and an append */
		w_check(pwrite(fd, w_buf, 4096, 4096));
		if (w_check(fstat(fd, &st)) == 0 &&
		    st.st_size < (off_t)WALK_READ_MAX)
			w_check(pwrite(fd, w_buf, 100, st.st_size));
		snprintf(clone, sizeof(clone), "%s/fuzz-clone-%u", mnt, i);
		cfd = w_check(open(clone, O_RDWR | O_CREAT | O_EXCL, 0644));
		if (cfd >= 0) {
			w_check(ioctl(cfd, FICLONE, fd));
			w_check(fallocate(cfd, FALLOC_FL_UNSHARE_RANGE, 0,
					  1 << 20));
			w_check(pwrite(cfd, w_buf, 4096, 0));
			w_check(fsync(cfd));
			close(cfd);
			w_check(unlink(clone));
		}
		w_check(ftruncate(fd, 4096 * 3 + 7));
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/fuzz-dir", mnt);
	w_check(mkdir(path, 0755));
	snprintf(path, sizeof(path), "%s/fuzz-dir/new", mnt);
	fd = w_check(open(path, O_RDWR | O_CREAT, 0644));
	if (fd >= 0) {
		w_check(pwrite(fd, w_buf, sizeof(w_buf), 0));
		w_check(fsetxattr(fd, "user.fuzz", "1", 1, 0));
		w_check(fsync(fd));
		close(fd);
	}
	snprintf(clone, sizeof(clone), "%s/fuzz-renamed", mnt);
	w_check(rename(path, clone));
	w_check(setxattr(mnt, "user.fuzz", "root", 4, 0));
	fd = w_check(open(mnt, O_RDONLY | O_DIRECTORY));
	if (fd >= 0) {
		w_check(syncfs(fd));
		close(fd);
	}
	w_remove(mnt, 0);
}

static int walk(const char *mnt)
{
	unsigned int i;

	w_tree(mnt, 0);
	w_change(mnt);
	printf("ops %lu errors %lu euclean %lu eio %lu", w_ops, w_err,
	       w_euclean, w_eio);
	for (i = 0; i < 256; i++)
		if (w_errno[i])
			printf(" %s:%lu", strerrorname_np(i) ?: "?", w_errno[i]);
	putchar('\n');
	return 0;
}

/* ==== the checker (--run) ============================================== */

/*
 * Each mutated image through the checks of selftests/test_fuzz.sh, in
 * this process: the VM is slow at starting processes, so only fsck is
 * executed; the loop device, the mount, the workload (in a child, for
 * its timeout) and the kernel log are system calls.  JOBS processes share
 * the mutations (every JOBSth), each with its own image, loop device and
 * mount point, reading only its own device's kernel messages.
 */
struct run_opts {
	const char	*work;		/* directory for images, mount points */
	const char	*fsck;		/* fsck.reflinkfs */
	const char	*fstype;	/* mount type */
	const char	*log;		/* a line per image, or NULL */
	unsigned int	jobs;
	unsigned int	timeout;	/* seconds per step */
	unsigned int	max_msgs;	/* kernel messages per image */
};

struct run_count {
	unsigned long	img, mounted, refused, euclean, fsck, fsck_only, bad;
};

static const struct run_opts *ro;
static struct run_count rc_cnt;
static FILE *run_log;
static char run_why[8192];	/* the last violation's details */
static int kmsg_fd = -1;

static void violation(uint64_t n, const char *desc, const char *fmt, ...)
	RLFS_PRINTF(3, 4);
static void violation(uint64_t n, const char *desc, const char *fmt, ...)
{
	va_list ap;

	rc_cnt.bad++;
	printf("# VIOLATION %llu: ", (unsigned long long)n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n#   mutation: %s\n%s", desc, run_why);
	fflush(stdout);
}

/* Wait for @pid for up to @secs; -1 (and a SIGKILL) on a timeout. */
static int wait_for(pid_t pid, unsigned int secs)
{
	struct timespec t0, t, nap = { 0, 2000000 };
	int st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) :
					       128 + WTERMSIG(st);
		if (r < 0 && errno != EINTR)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= (time_t)secs) {
			kill(pid, SIGKILL);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
}

/* fsck -n of @img, its output in @out.  Its exit status, -1: a hang. */
static int run_fsck(const char *img, const char *out)
{
	pid_t pid = fork();

	if (pid < 0)
		ib_die("fork: %s", strerror(errno));
	if (!pid) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp(ro->fsck, ro->fsck, "-n", img, (char *)NULL);
		_exit(127);
	}
	return wait_for(pid, ro->timeout);
}

/* Append up to @max lines of file @path to run_why, indented. */
static void why_file(const char *path, unsigned int max)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t l;

	while (f && max-- && fgets(line, sizeof(line), f)) {
		l = strlen(run_why);
		snprintf(run_why + l, sizeof(run_why) - l, "#   %s%s", line,
			 strchr(line, '\n') ? "" : "\n");
	}
	if (f)
		fclose(f);
}

/*
 * The kernel messages logged since the last call that name device @dev
 * ("reflinkfs (loopN): ..."): their number, the last 8 in run_why,
 * *@corrupt set when one reports a corruption.
 */
static unsigned int read_klog(const char *dev, bool *corrupt)
{
	char rec[2048], tag[64], last[8][256];
	unsigned int n = 0, i;
	ssize_t r;

	snprintf(tag, sizeof(tag), "reflinkfs (%s):", dev);
	for (;;) {
		char *msg, *nl;

		r = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)	/* overwritten: go on */
			continue;
		if (r <= 0)
			break;
		rec[r] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		if (!strstr(msg, tag))
			continue;
		if (strstr(msg, "corruption in"))
			*corrupt = true;
		snprintf(last[n % 8], sizeof(last[0]), "%s", msg);
		n++;
	}
	for (i = n > 8 ? n - 8 : 0; i < n; i++) {
		size_t l = strlen(run_why);

		snprintf(run_why + l, sizeof(run_why) - l, "#   kernel: %s\n",
			 last[i % 8]);
	}
	return n;
}

/*
 * Attach @img to loop device @path, autoclear: the device lets go of it
 * at its last close, ours or that of a udev probe still holding it.  The
 * device's open fd, or -1.  A device still busy with the last image
 * (such a probe) is waited for, up to the step timeout.
 */
static int loop_attach(const char *path, const char *img)
{
	struct loop_config lc;
	int fd = open(img, O_RDWR), lfd = -1, i, ret = -1;

	if (fd < 0)
		return -1;
	memset(&lc, 0, sizeof(lc));
	lc.fd = fd;
	lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	for (i = 0; i < (int)ro->timeout * 100; i++) {
		lfd = open(path, O_RDWR);
		if (lfd < 0)
			break;
		ret = ioctl(lfd, LOOP_CONFIGURE, &lc);
		if (!ret || errno != EBUSY)
			break;
		close(lfd);
		lfd = -1;
		usleep(10000);
	}
	close(fd);
	if (ret && lfd >= 0) {
		close(lfd);
		lfd = -1;
	}
	return lfd;
}

/*
 * The workload in a child (its output line in @line): 0, or -1 when it
 * did not finish in time.
 */
static int run_walk(const char *mnt, char *line, size_t len)
{
	int pfd[2], st;
	pid_t pid;
	ssize_t r;
	size_t got = 0;

	if (pipe(pfd))
		ib_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		ib_die("fork: %s", strerror(errno));
	if (!pid) {
		close(pfd[0]);
		dup2(pfd[1], 1);
		walk(mnt);
		fflush(stdout);
		_exit(0);
	}
	close(pfd[1]);
	line[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };

		if (poll(&p, 1, ro->timeout * 1000) <= 0) {
			kill(pid, SIGKILL);
			close(pfd[0]);
			return -1;
		}
		r = read(pfd[0], line + got, len - 1 - got);
		if (r <= 0)
			break;
		got += r;
		line[got] = '\0';
	}
	close(pfd[0]);
	st = wait_for(pid, ro->timeout);
	if (got && line[got - 1] == '\n')
		line[got - 1] = '\0';
	return st == 0 ? 0 : -1;
}

/* Mutation @n of the seed (mapped at ib) checked; see test_fuzz.sh. */
static void run_one(uint64_t n, unsigned int job, const char *dev)
{
	char img[4096], mnt[4096], out[4096], desc[512], walkl[512] = "";
	uint8_t save[RLFS_BLOCK_SIZE], save0[RLFS_BLOCK_SIZE];
	int rc0, rc1 = -2, i, lfd;
	bool mounted = false, kern = false, corrupt = false;
	unsigned int nmsg;
	struct mutation m;
	uint64_t v;
	FILE *d;

	snprintf(img, sizeof(img), "%s/img.%u", ro->work, job);
	snprintf(mnt, sizeof(mnt), "%s/mnt.%u", ro->work, job);
	snprintf(out, sizeof(out), "%s/fsck.%u", ro->work, job);
	run_why[0] = '\0';

	/* the mutated image, then the seed as it was */
	pick(n, &m);
	memcpy(save, ib_blk(m.t->blk), RLFS_BLOCK_SIZE);
	memcpy(save0, ib.img, RLFS_BLOCK_SIZE);
	v = mutate(&m);
	write_sparse(img);
	d = fmemopen(desc, sizeof(desc), "w");
	if (d) {
		describe(d, n, &m, v);
		fclose(d);
		desc[strcspn(desc, "\n")] = '\0';
	}
	memcpy(ib_blk(m.t->blk), save, RLFS_BLOCK_SIZE);
	memcpy(ib.img, save0, RLFS_BLOCK_SIZE);

	rc0 = run_fsck(img, out);
	if (rc0 != 0 && rc0 != 4 && rc0 != 8) {
		why_file(out, 20);
		violation(n, desc, "fsck -n exited %d (crashed or hung?)", rc0);
	}
	if (rc0 != 0)
		rc_cnt.fsck++;

	lseek(kmsg_fd, 0, SEEK_END);
	snprintf(out, sizeof(out), "/dev/%s", dev);
	lfd = loop_attach(out, img);
	if (lfd < 0)
		ib_die("%s: LOOP_CONFIGURE: %s", dev, strerror(errno));
	if (!mount(out, mnt, ro->fstype, 0, NULL)) {
		mounted = true;
		rc_cnt.mounted++;
		if (run_walk(mnt, walkl, sizeof(walkl))) {
			violation(n, desc, "the workload did not finish in %us",
				  ro->timeout);
			ib_die("mutation %llu: hang", (unsigned long long)n);
		}
		for (i = 0; umount2(mnt, 0); i++) {
			if (errno != EBUSY || i == 50) {
				violation(n, desc, "umount: %s",
					  strerror(errno));
				ib_die("mutation %llu: umount failed",
				       (unsigned long long)n);
			}
			usleep(100000);
		}
	} else {
		rc_cnt.refused++;
		kern = true;
	}
	/* now, or at the last close of a prober's open (autoclear) */
	if (ioctl(lfd, LOOP_CLR_FD) && errno != ENXIO)
		ib_die("%s: LOOP_CLR_FD: %s", dev, strerror(errno));
	close(lfd);

	if (walkl[0] && !strstr(walkl, " euclean 0 ")) {
		kern = true;
		rc_cnt.euclean++;
	}
	nmsg = read_klog(dev, &corrupt);
	if (corrupt)
		kern = true;
	/* 10 a burst per filesystem, plus those of a failed mount */
	if (nmsg > ro->max_msgs)
		violation(n, desc, "%u kernel messages (not rate limited?)",
			  nmsg);
	snprintf(out, sizeof(out), "%s/fsck.%u", ro->work, job);
	if (rc0 == 0) {
		if (kern) {
			violation(n, desc, "the kernel found a corruption fsck "
				  "-n did not (walk: %s)",
				  walkl[0] ? walkl : "not mounted");
		} else if (!strstr(walkl, " eio 0")) {
			violation(n, desc, "EIO on a clean image (%s)", walkl);
		} else {
			rc1 = run_fsck(img, out);
			if (rc1 != 0) {
				why_file(out, 20);
				violation(n, desc, "fsck -n exited %d after "
					  "the workload", rc1);
			}
		}
	} else if (mounted && !kern) {
		rc_cnt.fsck_only++;
	}
	rc_cnt.img++;
	if (run_log) {
		fprintf(run_log, "%llu %llu fsck=%d mounted=%d kernel=%d "
			"after=", (unsigned long long)fuzz_seed,
			(unsigned long long)n, rc0, mounted, kern);
		if (rc1 == -2)
			fputc('-', run_log);
		else
			fprintf(run_log, "%d", rc1);
		fprintf(run_log, " | %s | %s\n", desc, walkl);
	}
}

/* Loop device number @nr, created if needed; its name in @name. */
static void loop_dev(int nr, char *name, size_t len)
{
	char path[64];
	int ctl = open("/dev/loop-control", O_RDWR);
	struct stat st;

	if (ctl < 0)
		ib_die("/dev/loop-control: %s", strerror(errno));
	if (ioctl(ctl, LOOP_CTL_ADD, nr) < 0 && errno != EEXIST)
		ib_die("LOOP_CTL_ADD %d: %s", nr, strerror(errno));
	close(ctl);
	snprintf(name, len, "loop%d", nr);
	snprintf(path, sizeof(path), "/dev/loop%d", nr);
	if (stat(path, &st) &&
	    mknod(path, S_IFBLK | 0600, makedev(7, nr)))
		ib_die("mknod %s: %s", path, strerror(errno));
}

/* Job @job: mutations @list[job], @list[job + jobs], ... */
static void run_job(unsigned int job, const uint64_t *list, size_t nlist)
{
	char path[4096], dev[32];
	size_t i;
	FILE *f;

	/* device numbers of our own: no other user, no reuse by others */
	loop_dev(200 + job, dev, sizeof(dev));
	snprintf(path, sizeof(path), "%s/mnt.%u", ro->work, job);
	if (mkdir(path, 0755) && errno != EEXIST)
		ib_die("mkdir %s: %s", path, strerror(errno));
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0)
		ib_die("/dev/kmsg: %s", strerror(errno));
	if (ro->log) {
		snprintf(path, sizeof(path), "%s/log.%u", ro->work, job);
		run_log = fopen(path, "w");
	}
	for (i = job; i < nlist; i += ro->jobs) {
		run_one(list[i], job, dev);
		if (run_log)
			fflush(run_log);
		if (rc_cnt.img % 500 == 0) {
			printf("# job %u: %lu images, %lu violations\n", job,
			       rc_cnt.img, rc_cnt.bad);
			fflush(stdout);
		}
	}
	snprintf(path, sizeof(path), "%s/count.%u", ro->work, job);
	f = fopen(path, "w");
	if (!f || fwrite(&rc_cnt, sizeof(rc_cnt), 1, f) != 1 || fclose(f))
		ib_die("%s: %s", path, strerror(errno));
	if (run_log)
		fclose(run_log);
}

/*
 * --run: the checks of @nlist mutations, @opts->jobs at a time.  Prints
 * each violation and a summary line; exits 0 when there was none.
 */
static int run(const struct run_opts *opts, const uint64_t *list,
	       size_t nlist)
{
	struct run_count sum = { 0 }, c;
	unsigned int j, failed = 0;
	char path[4096];
	pid_t pid[64];
	FILE *f;
	int st;

	ro = opts;
	enumerate();
	for (j = 0; j < ro->jobs; j++) {
		fflush(stdout);
		pid[j] = fork();
		if (pid[j] < 0)
			ib_die("fork: %s", strerror(errno));
		if (!pid[j]) {
			run_job(j, list, nlist);
			fflush(stdout);
			_exit(rc_cnt.bad ? 1 : 0);
		}
	}
	for (j = 0; j < ro->jobs; j++) {
		if (waitpid(pid[j], &st, 0) != pid[j] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) > 1) {
			printf("# job %u failed\n", j);
			failed++;
		}
		snprintf(path, sizeof(path), "%s/count.%u", ro->work, j);
		f = fopen(path, "r");
		if (!f || fread(&c, sizeof(c), 1, f) != 1) {
			failed++;
			if (f)
				fclose(f);
			continue;
		}
		fclose(f);
		sum.img += c.img;
		sum.mounted += c.mounted;
		sum.refused += c.refused;
		sum.euclean += c.euclean;
		sum.fsck += c.fsck;
		sum.fsck_only += c.fsck_only;
		sum.bad += c.bad;
	}
	/* the jobs' lines, in mutation order */
	if (ro->log) {
		FILE *out = fopen(ro->log, "a"), *in[64];
		char line[1024];
		size_t i;

		for (j = 0; j < ro->jobs; j++) {
			snprintf(path, sizeof(path), "%s/log.%u", ro->work, j);
			in[j] = fopen(path, "r");
		}
		for (i = 0; out && i < nlist; i++) {
			FILE *from = in[i % ro->jobs];

			if (from && fgets(line, sizeof(line), from))
				fputs(line, out);
		}
		for (j = 0; j < ro->jobs; j++)
			if (in[j])
				fclose(in[j]);
		if (out)
			fclose(out);
	}
	printf("images %lu, mounted %lu, refused at mount %lu, EUCLEAN later "
	       "%lu, fsck-detected %lu, fsck-only (kernel mounted and used) "
	       "%lu, violations %lu\n", sum.img, sum.mounted, sum.refused,
	       sum.euclean, sum.fsck, sum.fsck_only, sum.bad);
	if (!failed && sum.img != nlist) {
		printf("# %lu images checked, want %zu\n", sum.img, nlist);
		failed++;
	}
	return failed || sum.bad ? 1 : 0;
}

static uint64_t num_arg(const char *s)
{
	uint64_t v;

	if (!rlfs_parse_u64(s, &v))
		ib_die("bad number '%s'", s);
	return v;
}

static void usage(void)
{
	fputs("usage: rlfs-fuzz --mkseed IMAGE\n"
	      "       rlfs-fuzz [-s S] SEED OUT N\n"
	      "       rlfs-fuzz [-s S] --apply N IMAGE\n"
	      "       rlfs-fuzz [-s S] --batch SEED DIR FIRST COUNT\n"
	      "       rlfs-fuzz [-s S] -l|--describe SEED FIRST [COUNT]\n"
	      "       rlfs-fuzz --targets SEED\n"
	      "       rlfs-fuzz --walk MOUNTPOINT\n"
	      "       rlfs-fuzz [-s S] --run SEED WORKDIR [--range FIRST COUNT]\n"
	      "                 [--list N,N,...] [--jobs J] [--fsck PROG]\n"
	      "                 [--type FSTYPE] [--timeout SECS] [--log FILE]\n"
	      "                 [--max-msgs N]\n", stderr);
	exit(2);
}

/* Append @v to the growing list *@list of *@n (capacity *@cap). */
static void list_add(uint64_t **list, size_t *n, size_t *cap, uint64_t v)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		*list = realloc(*list, *cap * sizeof(**list));
		if (!*list)
			ib_die("out of memory");
	}
	(*list)[(*n)++] = v;
}

/* --run SEED WORKDIR [options]: see usage() and run(). */
static int run_main(int argc, char **argv)
{
	struct run_opts o = {
		.work = argv[2], .fsck = "fsck.reflinkfs",
		.fstype = "reflinkfs", .jobs = 1, .timeout = 60,
		.max_msgs = 40,
	};
	uint64_t *list = NULL, first, count, k;
	size_t nlist = 0, cap = 0;
	char *tok, *save, *spec;
	int i;

	for (i = 3; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--range") && i + 2 < argc) {
			first = num_arg(argv[++i]);
			count = num_arg(argv[++i]);
			for (k = first; k < first + count; k++)
				list_add(&list, &nlist, &cap, k);
		} else if (!strcmp(a, "--list") && i + 1 < argc) {
			spec = strdup(argv[++i]);
			if (!spec)
				ib_die("out of memory");
			for (tok = strtok_r(spec, ", ", &save); tok;
			     tok = strtok_r(NULL, ", ", &save))
				list_add(&list, &nlist, &cap, num_arg(tok));
			free(spec);
		} else if (!strcmp(a, "--jobs") && i + 1 < argc) {
			o.jobs = num_arg(argv[++i]);
		} else if (!strcmp(a, "--fsck") && i + 1 < argc) {
			o.fsck = argv[++i];
		} else if (!strcmp(a, "--type") && i + 1 < argc) {
			o.fstype = argv[++i];
		} else if (!strcmp(a, "--timeout") && i + 1 < argc) {
			o.timeout = num_arg(argv[++i]);
		} else if (!strcmp(a, "--log") && i + 1 < argc) {
			o.log = argv[++i];
		} else if (!strcmp(a, "--max-msgs") && i + 1 < argc) {
			o.max_msgs = num_arg(argv[++i]);
		} else {
			usage();
		}
	}
	if (o.jobs < 1 || o.jobs > 64 || !o.timeout)
		ib_die("--jobs 1..64 and a --timeout, please");
	map_image(argv[1], false, false);
	i = run(&o, list, nlist);
	free(list);
	return i;
}

int main(int argc, char **argv)
{
	uint64_t n, first, count, v;
	struct mutation m;
	unsigned int i;
	char path[4096];

	argv++;
	argc--;
	if (argc >= 2 && !strcmp(argv[0], "-s")) {
		fuzz_seed = num_arg(argv[1]);
		argv += 2;
		argc -= 2;
	}
	if (argc < 1)
		usage();
	if (!strcmp(argv[0], "--walk") && argc == 2)
		return walk(argv[1]);
	if (!strcmp(argv[0], "--run") && argc >= 3)
		return run_main(argc, argv);
	if (!strcmp(argv[0], "--mkseed") && argc == 2) {
		map_image(argv[1], true, true);
		make_seed();
		if (msync(ib.img, ib.size, MS_SYNC))
			ib_die("msync: %s", strerror(errno));
		return 0;
	}
	if (!strcmp(argv[0], "--targets") && argc == 2) {
		map_image(argv[1], false, false);
		enumerate();
		for (i = 0; i < ntg; i++)
			printf("block %llu %s %s off %u size %u%s\n",
			       (unsigned long long)tg[i].blk,
			       kind_name[tg[i].kind], tg[i].name, tg[i].off,
			       tg[i].size, tg[i].swap_len ? " swap" : "");
		return 0;
	}
	if ((!strcmp(argv[0], "-l") || !strcmp(argv[0], "--describe")) &&
	    (argc == 3 || argc == 4)) {
		map_image(argv[1], false, false);
		enumerate();
		first = num_arg(argv[2]);
		count = argc == 4 ? num_arg(argv[3]) : 1;
		for (n = first; n < first + count; n++) {
			pick(n, &m);
			/* on a private copy of the block: undo afterwards */
			uint8_t save[RLFS_BLOCK_SIZE], save0[RLFS_BLOCK_SIZE];

			memcpy(save, ib_blk(m.t->blk), RLFS_BLOCK_SIZE);
			memcpy(save0, ib.img, RLFS_BLOCK_SIZE);
			v = mutate(&m);
			describe(stdout, n, &m, v);
			memcpy(ib_blk(m.t->blk), save, RLFS_BLOCK_SIZE);
			memcpy(ib.img, save0, RLFS_BLOCK_SIZE);
		}
		return 0;
	}
	if (!strcmp(argv[0], "--apply") && argc == 3) {
		n = num_arg(argv[1]);
		map_image(argv[2], false, true);
		enumerate();
		pick(n, &m);
		v = mutate(&m);
		write_back(&m);
		describe(stdout, n, &m, v);
		return 0;
	}
	if (!strcmp(argv[0], "--batch") && argc == 5) {
		map_image(argv[1], false, false);
		enumerate();
		first = num_arg(argv[3]);
		count = num_arg(argv[4]);
		for (n = first; n < first + count; n++) {
			uint8_t save[RLFS_BLOCK_SIZE], save0[RLFS_BLOCK_SIZE];

			pick(n, &m);
			memcpy(save, ib_blk(m.t->blk), RLFS_BLOCK_SIZE);
			memcpy(save0, ib.img, RLFS_BLOCK_SIZE);
			v = mutate(&m);
			snprintf(path, sizeof(path), "%s/fuzz-%llu.img",
				 argv[2], (unsigned long long)n);
			write_sparse(path);
			describe(stdout, n, &m, v);
			memcpy(ib_blk(m.t->blk), save, RLFS_BLOCK_SIZE);
			memcpy(ib.img, save0, RLFS_BLOCK_SIZE);
		}
		return 0;
	}
	if (argc == 3 && argv[0][0] != '-') {
		map_image(argv[0], false, false);
		enumerate();
		pick(num_arg(argv[2]), &m);
		v = mutate(&m);
		write_sparse(argv[1]);
		describe(stdout, num_arg(argv[2]), &m, v);
		return 0;
	}
	usage();
	return 2;
}
