// SPDX-License-Identifier: GPL-2.0
/*
 * rlfs-testimg - populate a freshly made reflinkfs image with a small tree
 * (files with inline and two-level extent trees, directories, fast and
 * slow symlinks, a device with an xattr block, orphans, blocks shared
 * between two files with a two-level refcount tree recording them),
 * optionally injecting one corruption with valid checksums, to exercise
 * fsck.
 *
 * Test helper only: never installed.
 *
 * Usage: rlfs-testimg IMAGE [SCENARIO]     (rlfs-testimg -l lists them)
 *        rlfs-testimg -c STRING            raw crc32c of STRING (no final
 *                                          xor), for the test vector
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgbuild.h"

static uint64_t new_meta_block(uint32_t magic, uint64_t owner)
{
	uint64_t b;

	ib_new_meta_block(magic, owner, &b);
	return b;
}

static uint64_t new_inode(uint16_t mode, uint32_t nlink, uint64_t parent)
{
	uint64_t ino = ib_new_inode(mode, nlink, parent);

	ib_ino_rec(ino)->i_mtime_ns = htole32(999999999);
	return ino;
}

/* A refcount block (owner 0) of the given depth. */
static struct rlfs_refcount_block *new_rc_block(unsigned int depth,
						uint64_t *b)
{
	struct rlfs_refcount_block *rb;

	*b = new_meta_block(RLFS_REFCOUNT_MAGIC, 0);
	rb = ib_blk(*b);
	rb->rb_rh.bt_max = htole16(RLFS_REFCOUNT_BLOCK_ENTRIES);
	rb->rb_rh.bt_depth = htole16(depth);
	return rb;
}

/* Append a record to a refcount leaf. */
static void rc_rec_add(struct rlfs_refcount_block *rb, uint64_t start,
		       uint32_t len, uint32_t refcount)
{
	unsigned int n = le16toh(rb->rb_rh.bt_entries);

	rb->rb_rec[n].rc_start = htole64(start);
	rb->rb_rec[n].rc_len = htole32(len);
	rb->rb_rec[n].rc_refcount = htole32(refcount);
	rb->rb_rh.bt_entries = htole16(n + 1);
}

/* Append an index to a refcount index node. */
static void rc_idx_add(struct rlfs_refcount_block *rb, uint64_t key,
		       uint64_t child)
{
	unsigned int n = le16toh(rb->rb_rh.bt_entries);

	rb->rb_idx[n].ri_start = htole64(key);
	rb->rb_idx[n].ri_blk = htole64(child);
	rb->rb_rh.bt_entries = htole16(n + 1);
}

/* Append an extent to a leaf (inode root or extent block header). */
static void leaf_add(struct rlfs_btree_header *eh, struct rlfs_extent *ext,
		     uint32_t lblk, uint32_t len, uint64_t pblk)
{
	unsigned int n = le16toh(eh->bt_entries);

	ext[n].e_lblk = htole32(lblk);
	ext[n].e_len = htole32(len);
	ext[n].e_pblk = htole64(pblk);
	eh->bt_entries = htole16(n + 1);
}

/* Map fresh data blocks into an inode with a depth-0 root. */
static uint64_t map_new(struct rlfs_inode *ri, uint32_t lblk, uint32_t len)
{
	uint64_t p = ib_alloc_blocks(len);

	leaf_add(&ri->i_eh, ri->i_ext, lblk, len, p);
	ib_add_blocks(ri, len);
	return p;
}

static uint64_t new_dir_block(uint64_t dir)
{
	struct rlfs_inode *ri = ib_ino_rec(dir);
	uint64_t b = new_meta_block(RLFS_DIR_MAGIC, dir);
	struct rlfs_dirent *de = (void *)((uint8_t *)ib_blk(b) +
					  sizeof(struct rlfs_block_header));
	uint32_t lblk = le64toh(ri->i_size) / RLFS_BLOCK_SIZE;

	de->d_ino = 0;
	de->d_rec_len = htole16(RLFS_BLOCK_SIZE -
				sizeof(struct rlfs_block_header));
	leaf_add(&ri->i_eh, ri->i_ext, lblk, 1, b);
	ib_add_blocks(ri, 1);
	ri->i_size = htole64(le64toh(ri->i_size) + RLFS_BLOCK_SIZE);
	return b;
}

static struct rlfs_dirent *dir_add(uint64_t b, const char *name,
				   uint64_t ino)
{
	struct rlfs_dirent *de = ib_dirent_append(b, name, ino);

	if (!de)
		ib_die("directory block full");
	return de;
}

static struct rlfs_dirent *find_entry(uint64_t b, const char *name)
{
	uint8_t *base = ib_blk(b);
	unsigned int off = sizeof(struct rlfs_block_header);
	struct rlfs_dirent *de;

	while (off < RLFS_BLOCK_SIZE) {
		de = (void *)(base + off);
		if (de->d_ino && de->d_name_len == strlen(name) &&
		    !memcmp(de->d_name, name, de->d_name_len))
			return de;
		off += le16toh(de->d_rec_len);
	}
	ib_die("entry not found");
	return NULL;
}

static const char *const scenarios[] = {
	"clean", "ext-beyond", "ext-meta", "ext-len", "ext-overlap",
	"dup", "idx-key", "ext-depth", "ext-owner", "ext-empty", "ext-max",
	"iblocks", "dir-type", "dir-dup", "dir-reclen", "dir-dot",
	"dir-free-ino", "dir-hole", "nlink", "dir-nlink", "parent",
	"unreachable", "nlink0", "orphan-loop", "orphan-free", "bbitmap-free",
	"bbitmap-used", "ibitmap", "symlink-len", "fast-symlink-len",
	"xattr-index", "xattr-overrun", "detached-dir", "dir-cycle",
	"journal", "inode-ns", "inode-flags", "inode-type", "special-blocks",
	"root-ref", "dir-hardlink", "rc-count", "rc-missing", "rc-free",
	"rc-unsorted", "rc-bitmap", "rc-key", "rc-depth", "rc-claimed",
	"snap-feature", "snap-origin", "snap-self", "snap-lineage",
	"snap-dir", "snap-notsnap", "ext-lblk-limit", "dir-names",
	"dir-crc", "inode-crc", "ext-root-crc",
	/* fsck -y repairs these (tests/test-repair.sh) */
	"dir-ghost", "dir-freerec", "orphan-missing", "rc-extra", "sb-free",
	"nlink-high", "ibitmap-free", "bbitmap-crc",
	NULL,
};

int main(int argc, char **argv)
{
	uint64_t root = RLFS_ROOT_INO, rootb, file, hard_b, big, eb1, eb2;
	uint64_t sub, subb, fifo, deep, fast, slow, slowb, chr, xb, orphan;
	uint64_t trunc, a, x, y, xblk, yblk, fileb, big_a, big_c, big_d;
	uint64_t rcroot, rcl1, rcl2;
	struct rlfs_refcount_block *rr, *rl1, *rl2;
	const char *sc = argc > 2 ? argv[2] : "clean";
	struct rlfs_extent_block *e1, *e2;
	struct rlfs_xattr_entry *xe;
	struct rlfs_inode *ri, *bi;
	struct rlfs_dirent *de;
	struct rlfs_jbd2_super *js;
	struct stat st;
	unsigned int i;
	void *p;
	int fd;

	if (argc == 3 && !strcmp(argv[1], "-c")) {
		printf("%08x\n", crc32c(RLFS_CRC_SEED, argv[2],
					strlen(argv[2])));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "-l")) {
		for (i = 0; scenarios[i]; i++)
			puts(scenarios[i]);
		return 0;
	}
	if (argc < 2 || argc > 3)
		ib_die("usage: rlfs-testimg IMAGE [SCENARIO] | -l | -c STRING");
	for (i = 0; scenarios[i] && strcmp(scenarios[i], sc); i++)
		;
	if (!scenarios[i])
		ib_die("unknown scenario");

	fd = open(argv[1], O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		ib_die("%s", strerror(errno));
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		ib_die("%s", strerror(errno));
	ib_attach(p, st.st_size);
	if ((uint64_t)st.st_size < ib.g.blocks * RLFS_BLOCK_SIZE)
		ib_die("image smaller than the filesystem");
	ib_touch(ib.g.itable_start);

	/* / */
	rootb = new_dir_block(root);
	/* /file, /hard: 3 blocks within i_size, 2 preallocated past it */
	file = new_inode(S_IFREG | 0644, 2, 0);
	ri = ib_ino_rec(file);
	fileb = map_new(ri, 0, 2);
	map_new(ri, 2, 1);
	map_new(ri, 3, 2);
	ri->i_size = htole64(2 * RLFS_BLOCK_SIZE + 100);
	dir_add(rootb, "file", file);
	dir_add(rootb, "hard", file);
	hard_b = rootb;
	/* /big: two-level tree, holes between extents */
	big = new_inode(S_IFREG | 0600, 1, 0);
	bi = ib_ino_rec(big);
	eb1 = new_meta_block(RLFS_EXTENT_MAGIC, big);
	eb2 = new_meta_block(RLFS_EXTENT_MAGIC, big);
	e1 = ib_blk(eb1);
	e2 = ib_blk(eb2);
	e1->eb_eh.bt_max = e2->eb_eh.bt_max =
		htole16(RLFS_EXTENT_BLOCK_ENTRIES);
	bi->i_eh_idx.bt_depth = htole16(1);
	bi->i_idx[0].ei_lblk = htole32(0);
	bi->i_idx[0].ei_blk = htole64(eb1);
	bi->i_idx[1].ei_lblk = htole32(100);
	bi->i_idx[1].ei_blk = htole64(eb2);
	bi->i_eh_idx.bt_entries = htole16(2);
	big_a = ib_alloc_blocks(3);
	leaf_add(&e1->eb_eh, e1->eb_ext, 0, 3, big_a);
	leaf_add(&e1->eb_eh, e1->eb_ext, 10, 1, ib_alloc_blocks(1));
	leaf_add(&e1->eb_eh, e1->eb_ext, 50, 2, ib_alloc_blocks(2));
	big_c = ib_alloc_blocks(4);
	leaf_add(&e2->eb_eh, e2->eb_ext, 100, 4, big_c);
	big_d = ib_alloc_blocks(1);
	leaf_add(&e2->eb_eh, e2->eb_ext, 199, 1, big_d);
	bi->i_blocks = htole64(2 + 3 + 1 + 2 + 4 + 1);
	bi->i_size = htole64(200ULL * RLFS_BLOCK_SIZE);
	dir_add(rootb, "big", big);
	/*
	 * /file shares blocks of /big (reflinked past its EOF): 2 of the 4
	 * blocks at /big 100 and the one at /big 199, each referenced twice,
	 * recorded in a refcount tree of depth 1 with one record per leaf.
	 */
	ri = ib_ino_rec(file);
	leaf_add(&ri->i_eh, ri->i_ext, 10, 2, big_c + 1);
	leaf_add(&ri->i_eh, ri->i_ext, 20, 1, big_d);
	ib_add_blocks(ri, 3);
	rr = new_rc_block(1, &rcroot);
	rl1 = new_rc_block(0, &rcl1);
	rl2 = new_rc_block(0, &rcl2);
	rc_rec_add(rl1, big_c + 1, 2, 2);
	rc_rec_add(rl2, big_d, 1, 2);
	rc_idx_add(rr, big_c + 1, rcl1);
	rc_idx_add(rr, big_d, rcl2);
	ib.sb->s_feature_incompat |= htole64(RLFS_FEATURE_INCOMPAT_REFCOUNT);
	ib.sb->s_refcount_root = htole64(rcroot);
	ib.sb->s_refcount_depth = htole32(1);
	/* /big: a snapshot of /file (made writable since), in its lineage */
	bi->i_flags |= htole32(RLFS_SNAPSHOT_FL);
	bi->i_snap_origin = htole64(file);
	bi->i_snap_origin_gen = ib_ino_rec(file)->i_generation;
	bi->i_lineage = htole64(0x1f2e3d4c5b6a7988ULL);
	ib_ino_rec(file)->i_lineage = bi->i_lineage;
	/* /sub, /sub/fifo, /sub/deep */
	sub = new_inode(S_IFDIR | 0755, 3, root);
	subb = new_dir_block(sub);
	fifo = new_inode(S_IFIFO | 0644, 1, 0);
	deep = new_inode(S_IFDIR | 0700, 2, sub);
	dir_add(subb, "fifo", fifo);
	dir_add(subb, "deep", deep);
	dir_add(rootb, "sub", sub);
	ib_ino_rec(root)->i_nlink = htole32(3);
	/* symlinks */
	fast = new_inode(S_IFLNK | 0777, 1, 0);
	ri = ib_ino_rec(fast);
	ri->i_flags = htole32(RLFS_FAST_SYMLINK_FL);
	strcpy(ri->i_symlink, "target/of/fast");
	ri->i_size = htole64(strlen(ri->i_symlink));
	dir_add(rootb, "fast", fast);
	slow = new_inode(S_IFLNK | 0777, 1, 0);
	ri = ib_ino_rec(slow);
	slowb = new_meta_block(RLFS_SYMLINK_MAGIC, slow);
	leaf_add(&ri->i_eh, ri->i_ext, 0, 1, slowb);
	ib_add_blocks(ri, 1);
	memset(((struct rlfs_symlink_block *)ib_blk(slowb))->sl_target, 'x',
	       300);
	ri->i_size = htole64(300);
	dir_add(rootb, "slow", slow);
	/* /chr with an xattr block */
	chr = new_inode(S_IFCHR | 0600, 1, 0);
	ri = ib_ino_rec(chr);
	ri->i_rdev = htole32(0x0103);
	xb = new_meta_block(RLFS_XATTR_MAGIC, chr);
	ri->i_xattr_blk = htole64(xb);
	ib_add_blocks(ri, 1);
	xe = (void *)((uint8_t *)ib_blk(xb) + sizeof(struct rlfs_block_header));
	xe->xe_index = RLFS_XATTR_INDEX_USER;
	xe->xe_name_len = 3;
	xe->xe_value_len = htole16(5);
	memcpy(xe->xe_name, "foovalue", 8);
	dir_add(rootb, "chr", chr);
	/* orphans: removed file (nlink 0), file being truncated (nlink 1) */
	orphan = new_inode(S_IFREG | 0644, 0, 0);
	map_new(ib_ino_rec(orphan), 0, 1);
	trunc = new_inode(S_IFREG | 0644, 1, 0);
	map_new(ib_ino_rec(trunc), 0, 1);
	dir_add(rootb, "trunc", trunc);
	ib.sb->s_orphan_head = htole64(orphan);
	ib_ino_rec(orphan)->i_next_orphan = htole64(trunc);

	/* One corruption, checksums kept valid. */
	if (!strcmp(sc, "ext-beyond")) {
		ib_ino_rec(file)->i_ext[1].e_pblk = htole64(ib.g.blocks + 10);
	} else if (!strcmp(sc, "ext-meta")) {
		ib_ino_rec(file)->i_ext[1].e_pblk = htole64(ib.g.itable_start);
	} else if (!strcmp(sc, "ext-len")) {
		ib_ino_rec(file)->i_ext[1].e_len = 0;
	} else if (!strcmp(sc, "ext-overlap")) {
		ib_ino_rec(file)->i_ext[1].e_lblk = htole32(1);
	} else if (!strcmp(sc, "dup")) {
		e2->eb_ext[1].e_pblk = htole64(fileb + 1);
	} else if (!strcmp(sc, "idx-key")) {
		bi->i_idx[1].ei_lblk = htole32(20);
	} else if (!strcmp(sc, "ext-depth")) {
		e1->eb_eh.bt_depth = htole16(1);
	} else if (!strcmp(sc, "ext-owner")) {
		e2->eb_hdr.bh_owner = htole64(file);
	} else if (!strcmp(sc, "ext-empty")) {
		e2->eb_eh.bt_entries = 0;
	} else if (!strcmp(sc, "ext-max")) {
		ib_ino_rec(file)->i_eh.bt_max = htole16(4);
	} else if (!strcmp(sc, "iblocks")) {
		bi->i_blocks = htole64(12);
	} else if (!strcmp(sc, "dir-type")) {
		find_entry(rootb, "fast")->d_type = RLFS_FT_REG;
	} else if (!strcmp(sc, "dir-dup")) {
		memcpy(find_entry(hard_b, "hard")->d_name, "file", 4);
	} else if (!strcmp(sc, "dir-reclen")) {
		find_entry(rootb, "big")->d_rec_len = htole16(12);
	} else if (!strcmp(sc, "dir-dot")) {
		de = find_entry(rootb, "big");
		memcpy(de->d_name, "..", 2);
		de->d_name_len = 2;
	} else if (!strcmp(sc, "dir-free-ino")) {
		find_entry(subb, "fifo")->d_ino = htole64(ib.next_ino + 2);
	} else if (!strcmp(sc, "dir-hole")) {
		ib_ino_rec(sub)->i_ext[0].e_lblk = htole32(1);
		ib_ino_rec(sub)->i_size = htole64(2 * RLFS_BLOCK_SIZE);
	} else if (!strcmp(sc, "nlink")) {
		ib_ino_rec(file)->i_nlink = htole32(1);
	} else if (!strcmp(sc, "dir-nlink")) {
		ib_ino_rec(root)->i_nlink = htole32(2);
	} else if (!strcmp(sc, "parent")) {
		ib_ino_rec(deep)->i_parent = htole64(root);
	} else if (!strcmp(sc, "unreachable")) {
		a = new_inode(S_IFREG | 0644, 1, 0);
		(void)a;
	} else if (!strcmp(sc, "nlink0")) {
		a = new_inode(S_IFREG | 0644, 0, 0);
		(void)a;
	} else if (!strcmp(sc, "orphan-loop")) {
		ib_ino_rec(trunc)->i_next_orphan = htole64(orphan);
	} else if (!strcmp(sc, "orphan-free")) {
		ib_ino_rec(trunc)->i_next_orphan = htole64(ib.next_ino + 3);
	} else if (!strcmp(sc, "bbitmap-free")) {
		ib_bitmap_set(ib.g.bbitmap_start, fileb + 1, false);
	} else if (!strcmp(sc, "bbitmap-used")) {
		ib_bitmap_set(ib.g.bbitmap_start, ib.next_blk + 5, true);
		ib_bitmap_set(ib.g.bbitmap_start, ib.next_blk + 6, true);
	} else if (!strcmp(sc, "ibitmap")) {
		ib_bitmap_set(ib.g.ibitmap_start, chr, false);
	} else if (!strcmp(sc, "symlink-len")) {
		ib_ino_rec(slow)->i_size = htole64(299);
	} else if (!strcmp(sc, "fast-symlink-len")) {
		ib_ino_rec(fast)->i_size = htole64(3);
	} else if (!strcmp(sc, "xattr-index")) {
		xe->xe_index = 7;
	} else if (!strcmp(sc, "xattr-overrun")) {
		xe->xe_value_len = htole16(4080);
	} else if (!strcmp(sc, "detached-dir")) {
		a = new_inode(S_IFDIR | 0755, 2, root);
		(void)a;
	} else if (!strcmp(sc, "dir-cycle")) {
		x = new_inode(S_IFDIR | 0755, 3, 0);
		y = new_inode(S_IFDIR | 0755, 3, 0);
		ib_ino_rec(x)->i_parent = htole64(y);
		ib_ino_rec(y)->i_parent = htole64(x);
		xblk = new_dir_block(x);
		yblk = new_dir_block(y);
		dir_add(xblk, "y", y);
		dir_add(yblk, "x", x);
	} else if (!strcmp(sc, "journal")) {
		js = ib_blk(ib.g.journal_start);
		js->s_start = htobe32(1);
	} else if (!strcmp(sc, "inode-ns")) {
		ib_ino_rec(fifo)->i_ctime_ns = htole32(1000000000);
	} else if (!strcmp(sc, "inode-flags")) {
		ib_ino_rec(fifo)->i_flags = htole32(0x80000000U);
	} else if (!strcmp(sc, "inode-type")) {
		ib_ino_rec(fifo)->i_mode = htole16(0170644);
	} else if (!strcmp(sc, "special-blocks")) {
		leaf_add(&ib_ino_rec(fifo)->i_eh, ib_ino_rec(fifo)->i_ext, 0, 1,
			 ib_alloc_blocks(1));
	} else if (!strcmp(sc, "root-ref")) {
		dir_add(subb, "up", root);
	} else if (!strcmp(sc, "dir-hardlink")) {
		dir_add(rootb, "deep2", deep);
		ib_ino_rec(root)->i_nlink = htole32(4);
	} else if (!strcmp(sc, "rc-count")) {
		rl1->rb_rec[0].rc_refcount = htole32(3);
	} else if (!strcmp(sc, "rc-missing")) {
		rl1->rb_rec[0].rc_len = htole32(1);
	} else if (!strcmp(sc, "rc-free")) {
		rc_rec_add(rl2, ib.next_blk + 10, 3, 2);
	} else if (!strcmp(sc, "rc-unsorted")) {
		rc_rec_add(rl2, big_a, 1, 2);
	} else if (!strcmp(sc, "rc-bitmap")) {
		ib_bitmap_set(ib.g.bbitmap_start, rcl1, false);
	} else if (!strcmp(sc, "rc-key")) {
		rr->rb_idx[1].ri_start = htole64(big_d - 1);
	} else if (!strcmp(sc, "rc-depth")) {
		ib.sb->s_refcount_depth = htole32(2);
	} else if (!strcmp(sc, "rc-claimed")) {
		ib_ino_rec(trunc)->i_ext[0].e_pblk = htole64(rcl1);
	} else if (!strcmp(sc, "snap-feature")) {
		ib.sb->s_feature_ro_compat &=
			~htole64(RLFS_FEATURE_RO_COMPAT_SNAPSHOT);
	} else if (!strcmp(sc, "snap-origin")) {
		bi->i_snap_origin = 0;
	} else if (!strcmp(sc, "snap-self")) {
		bi->i_snap_origin = htole64(big);
	} else if (!strcmp(sc, "snap-lineage")) {
		bi->i_lineage = 0;
	} else if (!strcmp(sc, "snap-dir")) {
		ib_ino_rec(sub)->i_lineage = htole64(5);
	} else if (!strcmp(sc, "snap-notsnap")) {
		ib_ino_rec(file)->i_snap_origin = htole64(big);
	} else if (!strcmp(sc, "ext-lblk-limit")) {
		ib_ino_rec(file)->i_ext[4].e_lblk = htole32(RLFS_LBLK_LIMIT);
	} else if (!strcmp(sc, "ext-root-crc")) {
		ib_ino_rec(file)->i_ext[1].e_pblk = htole64(ib.g.blocks + 10);
	} else if (!strcmp(sc, "dir-ghost")) {
		/* an entry naming a never-used inode */
		de = dir_add(subb, "ghost", ib.next_ino + 2);
		de->d_type = RLFS_FT_REG;
	} else if (!strcmp(sc, "dir-freerec")) {
		/* a freed record (mode 0) still marked and named */
		a = new_inode(S_IFREG | 0644, 1, 0);
		dir_add(subb, "freed", a);
		ib_ino_rec(a)->i_mode = 0;
	} else if (!strcmp(sc, "orphan-missing")) {
		/* the removed file (nlink 0) dropped from the list */
		ib.sb->s_orphan_head = htole64(trunc);
	} else if (!strcmp(sc, "rc-extra")) {
		/* a record for a block mapped once (/trunc's) */
		rc_rec_add(rl2, le64toh(ib_ino_rec(trunc)->i_ext[0].e_pblk), 1,
			   2);
	} else if (!strcmp(sc, "nlink-high")) {
		ib_ino_rec(file)->i_nlink = htole32(3);
	} else if (!strcmp(sc, "ibitmap-free")) {
		/* bits set for inode slots never written */
		ib_bitmap_set(ib.g.ibitmap_start, ib.next_ino + 1, true);
		ib_bitmap_set(ib.g.ibitmap_start, ib.next_ino + 2, true);
	} else if (!strcmp(sc, "dir-names")) {
		find_entry(rootb, "big")->d_name[1] = '/';
		find_entry(rootb, "slow")->d_ino = htole64(ib.g.inodes + 5);
	}

	ib_finish();
	/* After the checksums: a directory block or inode crc is wrong. */
	if (!strcmp(sc, "dir-crc"))
		((struct rlfs_block_header *)ib_blk(rootb))->bh_crc ^=
			htole32(1);
	else if (!strcmp(sc, "inode-crc"))
		bi->i_crc ^= htole32(1);
	else if (!strcmp(sc, "ext-root-crc"))
		ib_ino_rec(file)->i_crc ^= htole32(1);
	else if (!strcmp(sc, "bbitmap-crc"))	/* a bit flipped after */
		rlfs_clear_bit(((struct rlfs_bitmap_block *)
				ib_blk(ib.g.bbitmap_start))->bb_bits, fileb);
	else if (!strcmp(sc, "sb-free")) {	/* a hint, not an error */
		ib.sb->s_free_blocks = htole64(le64toh(ib.sb->s_free_blocks) - 7);
		ib.sb->s_free_inodes = htole64(le64toh(ib.sb->s_free_inodes) + 3);
		rlfs_super_set_csum(ib.sb);
	}
	if (msync(ib.img, st.st_size, MS_SYNC) || munmap(ib.img, st.st_size) ||
	    close(fd))
		ib_die("%s", strerror(errno));
	return 0;
}
