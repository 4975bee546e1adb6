// SPDX-License-Identifier: GPL-2.0
/*
 * imgbuild - the image builder the test helpers share; see imgbuild.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "imgbuild.h"

struct imgb ib;

void ib_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Build on (or look at) the image @img of @size bytes. */
void ib_attach(uint8_t *img, size_t size)
{
	ib.img = img;
	ib.size = size;
	ib.sb = (struct rlfs_super *)img;
	rlfs_geom_from_super(ib.sb, &ib.g);
	ib.next_blk = ib.g.data_start;
	ib.next_ino = RLFS_FIRST_INO;
	ib.ntouched = 0;
}

bool ib_blk_ok(uint64_t b)
{
	return b < ib.g.blocks && (b + 1) * RLFS_BLOCK_SIZE <= ib.size;
}

void *ib_blk(uint64_t b)
{
	if (!ib_blk_ok(b))
		ib_die("block %llu out of range", (unsigned long long)b);
	return ib.img + b * RLFS_BLOCK_SIZE;
}

struct rlfs_inode *ib_ino_rec(uint64_t ino)
{
	return (struct rlfs_inode *)ib_blk(ib.g.itable_start +
					   ino / RLFS_INODES_PER_BLOCK) +
	       ino % RLFS_INODES_PER_BLOCK;
}

/* Bit @nr of the bitmap starting at block @start. */
void ib_bitmap_set(uint64_t start, uint64_t nr, bool set)
{
	struct rlfs_bitmap_block *bb =
		ib_blk(start + nr / RLFS_BITS_PER_BITMAP);

	if (set)
		rlfs_set_bit(bb->bb_bits, nr % RLFS_BITS_PER_BITMAP);
	else
		rlfs_clear_bit(bb->bb_bits, nr % RLFS_BITS_PER_BITMAP);
}

/* Remember metadata block @b: ib_finish() sets its checksum. */
void ib_touch(uint64_t b)
{
	if (ib.ntouched == IB_MAX_TOUCHED)
		ib_die("too many metadata blocks");
	ib.touched[ib.ntouched++] = b;
}

/* @n zeroed blocks, marked used, in order from next_blk. */
uint64_t ib_alloc_blocks(uint64_t n)
{
	uint64_t b = ib.next_blk, i;

	for (i = 0; i < n; i++) {
		ib_bitmap_set(ib.g.bbitmap_start, b + i, true);
		memset(ib_blk(b + i), 0, RLFS_BLOCK_SIZE);
	}
	ib.next_blk += n;
	return b;
}

/* A new metadata block with its header; its number in *@b. */
void *ib_new_meta_block(uint32_t magic, uint64_t owner, uint64_t *b)
{
	*b = ib_alloc_blocks(1);
	ib_touch(*b);
	rlfs_block_header_init(ib_blk(*b), magic, *b, owner);
	return ib_blk(*b);
}

/* The next inode: @mode, @nlink, an empty extent root, fixed times. */
uint64_t ib_new_inode(uint16_t mode, uint32_t nlink, uint64_t parent)
{
	uint64_t ino = ib.next_ino++;
	struct rlfs_inode *ri = ib_ino_rec(ino);

	ib_bitmap_set(ib.g.ibitmap_start, ino, true);
	memset(ri, 0, sizeof(*ri));
	ri->i_magic = htole32(RLFS_INODE_MAGIC);
	ri->i_ino = htole64(ino);
	ri->i_mode = htole16(mode);
	ri->i_nlink = htole32(nlink);
	ri->i_mtime = ri->i_atime = ri->i_ctime = ri->i_crtime =
		htole64(1700000000);
	if (S_ISDIR(mode))
		ri->i_parent = htole64(parent);
	ri->i_eh.bt_max = htole16(RLFS_INODE_ROOT_ENTRIES);
	return ino;
}

void ib_add_blocks(struct rlfs_inode *ri, uint64_t n)
{
	ri->i_blocks = htole64(le64toh(ri->i_blocks) + n);
}

/*
 * Append the entry @name -> @ino to directory block @b, after its last
 * entry.  Returns it, or NULL when the block has no room for it.
 */
struct rlfs_dirent *ib_dirent_append(uint64_t b, const char *name,
				     uint64_t ino)
{
	unsigned int off = sizeof(struct rlfs_block_header), len, used;
	uint8_t *base = ib_blk(b);
	size_t nlen = strlen(name);
	struct rlfs_dirent *de, *nde;

	for (;;) {
		de = (void *)(base + off);
		len = le16toh(de->d_rec_len);
		if (off + len >= RLFS_BLOCK_SIZE)
			break;
		off += len;
	}
	used = de->d_ino ? RLFS_DIRENT_SIZE(de->d_name_len) : 0;
	if (len - used < RLFS_DIRENT_SIZE(nlen))
		return NULL;
	if (de->d_ino) {
		de->d_rec_len = htole16(used);
		nde = (void *)(base + off + used);
		nde->d_rec_len = htole16(len - used);
		de = nde;
	}
	de->d_ino = htole64(ino);
	de->d_name_len = nlen;
	de->d_type = rlfs_mode_to_ftype(le16toh(ib_ino_rec(ino)->i_mode));
	memcpy(de->d_name, name, nlen);
	return de;
}

/*
 * Seal the image: checksums of the remembered blocks, both bitmaps and
 * every inode in use, then the superblock's free counts from the bitmaps
 * and its checksum.
 */
void ib_finish(void)
{
	const struct rlfs_geom *g = &ib.g;
	uint64_t k, ino, used_b = 0, used_i = 0;
	struct rlfs_inode *ri;
	unsigned int i;

	for (i = 0; i < ib.ntouched; i++)
		rlfs_block_set_csum(ib_blk(ib.touched[i]));
	for (k = 0; k < g->bbitmap_blocks; k++)
		rlfs_block_set_csum(ib_blk(g->bbitmap_start + k));
	for (k = 0; k < g->ibitmap_blocks; k++)
		rlfs_block_set_csum(ib_blk(g->ibitmap_start + k));
	for (ino = 1; ino < ib.next_ino; ino++) {
		ri = ib_ino_rec(ino);
		if (le32toh(ri->i_magic) == RLFS_INODE_MAGIC)
			rlfs_inode_set_csum(ri);
	}
	for (k = 0; k < g->blocks; k++)
		used_b += rlfs_test_bit(((struct rlfs_bitmap_block *)
			ib_blk(g->bbitmap_start + k / RLFS_BITS_PER_BITMAP))->bb_bits,
			k % RLFS_BITS_PER_BITMAP);
	for (k = 0; k < g->inodes; k++)
		used_i += rlfs_test_bit(((struct rlfs_bitmap_block *)
			ib_blk(g->ibitmap_start + k / RLFS_BITS_PER_BITMAP))->bb_bits,
			k % RLFS_BITS_PER_BITMAP);
	ib.sb->s_free_blocks = htole64(g->blocks - used_b);
	ib.sb->s_free_inodes = htole64(g->inodes - used_i);
	rlfs_super_set_csum(ib.sb);
}
