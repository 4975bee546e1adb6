/* SPDX-License-Identifier: GPL-2.0 */
/*
 * imgbuild - the image builder the test helpers share (rlfs-testimg,
 * rlfs-fuzz): an mkfs'd image mapped in memory, blocks and inodes handed
 * out in order, metadata blocks remembered so that ib_finish() can seal
 * their checksums and the superblock's free counts at the end.
 *
 * Test helpers only: never installed.
 */
#ifndef RLFS_IMGBUILD_H
#define RLFS_IMGBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rlfs.h"

#define IB_MAX_TOUCHED	256

struct imgb {
	uint8_t			*img;		/* the whole image */
	size_t			size;		/* its size in bytes */
	struct rlfs_super	*sb;		/* block 0 */
	struct rlfs_geom	g;		/* from sb */
	uint64_t		next_blk;	/* next block handed out */
	uint64_t		next_ino;	/* next inode handed out */
	uint64_t		touched[IB_MAX_TOUCHED]; /* metadata blocks */
	unsigned int		ntouched;
};

extern struct imgb ib;

void ib_die(const char *fmt, ...) RLFS_PRINTF(1, 2) __attribute__((noreturn));
void ib_attach(uint8_t *img, size_t size);
bool ib_blk_ok(uint64_t b);
void *ib_blk(uint64_t b);
struct rlfs_inode *ib_ino_rec(uint64_t ino);
void ib_bitmap_set(uint64_t start, uint64_t nr, bool set);
void ib_touch(uint64_t b);
uint64_t ib_alloc_blocks(uint64_t n);
void *ib_new_meta_block(uint32_t magic, uint64_t owner, uint64_t *b);
uint64_t ib_new_inode(uint16_t mode, uint32_t nlink, uint64_t parent);
void ib_add_blocks(struct rlfs_inode *ri, uint64_t n);
struct rlfs_dirent *ib_dirent_append(uint64_t b, const char *name,
				     uint64_t ino);
void ib_finish(void);

#endif /* RLFS_IMGBUILD_H */
