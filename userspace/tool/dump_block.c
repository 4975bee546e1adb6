// SPDX-License-Identifier: GPL-2.0
/*
 * dump_block.c - reflinkfs dump block BLOCK: any block, decoded by the
 * region it lies in and, in the data area, by its magic.
 *
 *   block 0                  superblock
 *   journal                  jbd2 (its first block's magic only)
 *   block and inode bitmaps  bitmap blocks: header, crc, bit counts
 *   inode table              each slot: inode number, mode, verdict
 *   data area                extent and refcount nodes, directory
 *                            entries, xattr entries, a symlink target;
 *                            anything else is file data
 *
 * Blocks with a header get the verdicts of rlfs_verify_block_header()
 * and rlfs_verify_block_crc(), then that of the core's verifier for their
 * kind.  A block says who owns it (bh_owner) and nothing else does
 * without a walk of the whole filesystem, so the header is checked
 * against its own owner.  Entries are decoded as far as they stay within
 * the block, whatever their lengths say.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"

static bool in_region(uint64_t blk, uint64_t start, uint64_t n)
{
	return blk >= start && blk - start < n;
}

static const char *region_of(const struct dump *d, uint64_t blk)
{
	const struct rlfs_geom *g = &d->g;

	if (blk == RLFS_SUPER_BLOCKNR)
		return "superblock";
	if (!d->geom_ok)
		return "unknown";
	if (in_region(blk, g->journal_start, g->journal_blocks))
		return "journal";
	if (in_region(blk, g->bbitmap_start, g->bbitmap_blocks))
		return "block bitmap";
	if (in_region(blk, g->ibitmap_start, g->ibitmap_blocks))
		return "inode bitmap";
	if (in_region(blk, g->itable_start, g->itable_blocks))
		return "inode table";
	if (blk < g->blocks)
		return "data";
	return "beyond the filesystem";
}

/* ---- bitmaps ---------------------------------------------------------- */

static void dump_bitmap(struct dump *d, const void *buf, uint64_t blk,
			const char *region)
{
	const struct rlfs_bitmap_block *bb = buf;
	struct dump_where w = { "bitmap block", blk, 0, -1, -1 };
	uint64_t first = 0, items = 0, n, i, set = 0;

	dump_str(d, "kind", "bitmap");
	dump_verdict(d, "header", &w,
		     rlfs_verify_block_header(buf, RLFS_BITMAP_MAGIC, blk, 0));
	dump_verdict(d, "crc", &w, rlfs_verify_block_crc(buf));
	if (!strcmp(region, "block bitmap")) {
		first = (blk - d->g.bbitmap_start) * RLFS_BITS_PER_BITMAP;
		items = d->g.blocks;
	} else if (!strcmp(region, "inode bitmap")) {
		first = (blk - d->g.ibitmap_start) * RLFS_BITS_PER_BITMAP;
		items = d->g.inodes;
	} else {
		/* a bitmap outside the bitmaps: count all its bits */
		items = RLFS_BITS_PER_BITMAP;
	}
	n = items > first ? items - first : 0;
	if (n > RLFS_BITS_PER_BITMAP)
		n = RLFS_BITS_PER_BITMAP;
	for (i = 0; i < n; i++)
		set += rlfs_test_bit(bb->bb_bits, i);
	dump_u64(d, "first", first);
	dump_u64(d, "items", n);
	dump_u64(d, "set", set);
	dump_u64(d, "clear", n - set);
}

/* ---- inode table ------------------------------------------------------ */

static void dump_itable(struct dump *d, const void *buf, uint64_t blk)
{
	const struct rlfs_inode *ri = buf;
	uint64_t first = (blk - d->g.itable_start) * RLFS_INODES_PER_BLOCK;
	struct dump_where w = { "inode", blk, 0, -1, -1 };
	unsigned int i;
	uint16_t mode;

	dump_str(d, "kind", "inode table");
	dump_u64(d, "first_inode", first);
	dump_list_begin(d, "inodes");
	for (i = 0; i < RLFS_INODES_PER_BLOCK; i++, ri++) {
		mode = le16toh(ri->i_mode);
		w.ino = first + i;
		dump_row_begin(d, NULL);
		dump_u64(d, "slot", i);
		dump_u64(d, "ino", w.ino);
		dump_bool(d, "unused", rlfs_inode_slot_unused(ri));
		dump_u64(d, "i_ino", le64toh(ri->i_ino));
		dump_oct(d, "i_mode", mode);
		dump_str(d, "type", dump_mode_type(mode));
		dump_verdict(d, "verdict", &w, dump_inode_why(d, ri, w.ino));
		dump_obj_end(d);
	}
	dump_list_end(d);
}

/* ---- directory, xattr and symlink blocks ---------------------------- */

static void dump_header(struct dump *d, const void *buf, uint64_t blk,
			uint32_t magic, struct dump_where *w, const char *kind)
{
	uint64_t owner = le64toh(((const struct rlfs_block_header *)buf)->
				 bh_owner);

	w->block = blk;
	w->ino = owner;
	dump_str(d, "kind", kind);
	dump_u64(d, "owner", owner);
	dump_verdict(d, "header", w,
		     rlfs_verify_block_header(buf, magic, blk, owner));
	dump_verdict(d, "crc", w, rlfs_verify_block_crc(buf));
}

static void dump_dir(struct dump *d, const void *buf, uint64_t blk)
{
	struct dump_where w = { "directory block", blk, 0, -1, -1 };
	const uint8_t *base = buf;
	const struct rlfs_dirent *de;
	unsigned int off, rec_len, room, nlen, voff;
	const char *why;

	dump_header(d, buf, blk, RLFS_DIR_MAGIC, &w, "directory");
	if (d->geom_ok) {
		why = rlfs_verify_dir_block(buf, d->g.inodes, &voff);
		if (why)
			w.offset = voff;
		dump_verdict(d, "verdict", &w, why);
		w.offset = -1;
	}
	dump_list_begin(d, "entries");
	for (off = sizeof(struct rlfs_block_header);
	     off + RLFS_DIRENT_HDR <= RLFS_BLOCK_SIZE;) {
		de = (const void *)(base + off);
		rec_len = le16toh(de->d_rec_len);
		room = RLFS_BLOCK_SIZE - off - RLFS_DIRENT_HDR;
		/* the name as its length says, as far as the block goes */
		nlen = de->d_name_len < room ? de->d_name_len : room;
		dump_row_begin(d, NULL);
		dump_u64(d, "offset", off);
		dump_u64(d, "ino", le64toh(de->d_ino));
		dump_u64(d, "rec_len", rec_len);
		dump_u64(d, "name_len", de->d_name_len);
		dump_u64(d, "type", de->d_type);
		dump_str(d, "type_name", rlfs_ftype_valid(de->d_type) ?
			 rlfs_ftype_name(de->d_type) : "unknown");
		/* names may hold NULs: print exactly nlen bytes */
		dump_hexbytes(d, "name_hex", de->d_name, nlen);
		dump_mem(d, "name", de->d_name, nlen);
		dump_obj_end(d);
		if (rec_len < RLFS_DIRENT_SIZE(0) ||
		    rec_len % RLFS_DIRENT_ALIGN ||
		    rec_len > RLFS_BLOCK_SIZE - off)
			break;		/* no telling where the next one is */
		off += rec_len;
	}
	dump_list_end(d);
}

static const char *xattr_namespace(unsigned int index)
{
	switch (index) {
	case RLFS_XATTR_INDEX_USER:
		return "user";
	case RLFS_XATTR_INDEX_TRUSTED:
		return "trusted";
	case RLFS_XATTR_INDEX_SECURITY:
		return "security";
	}
	return "unknown";
}

static void dump_xattr(struct dump *d, const void *buf, uint64_t blk)
{
	struct dump_where w = { "xattr block", blk, 0, -1, -1 };
	const unsigned int hdr = sizeof(struct rlfs_xattr_entry);
	const uint8_t *base = buf;
	const struct rlfs_xattr_entry *xe;
	unsigned int off, voff, used = 0, nlen, vlen, vstart, size;
	const char *why;

	dump_header(d, buf, blk, RLFS_XATTR_MAGIC, &w, "xattr");
	why = rlfs_verify_xattr_block(buf, &voff, &used);
	if (why)
		w.offset = voff;
	dump_verdict(d, "verdict", &w, why);
	if (!why)
		dump_u64(d, "used", used);
	dump_list_begin(d, "entries");
	for (off = sizeof(struct rlfs_block_header);
	     off + hdr <= RLFS_BLOCK_SIZE;) {
		xe = (const void *)(base + off);
		if (!xe->xe_name_len)
			break;
		nlen = xe->xe_name_len;
		if (nlen > RLFS_BLOCK_SIZE - off - hdr)
			nlen = RLFS_BLOCK_SIZE - off - hdr;
		vstart = off + hdr + nlen;
		vlen = le16toh(xe->xe_value_len);
		if (vlen > RLFS_BLOCK_SIZE - vstart)
			vlen = RLFS_BLOCK_SIZE - vstart;
		dump_row_begin(d, NULL);
		dump_u64(d, "offset", off);
		dump_u64(d, "index", xe->xe_index);
		dump_str(d, "namespace", xattr_namespace(xe->xe_index));
		dump_u64(d, "name_len", xe->xe_name_len);
		dump_mem(d, "name", xe->xe_name, nlen);
		dump_u64(d, "value_len", le16toh(xe->xe_value_len));
		dump_hexbytes(d, "value_hex", base + vstart, vlen);
		dump_obj_end(d);
		size = RLFS_XATTR_ENTRY_SIZE(xe->xe_name_len,
					     le16toh(xe->xe_value_len));
		if (size > RLFS_BLOCK_SIZE - off)
			break;
		off += size;
	}
	dump_list_end(d);
}

static void dump_symlink(struct dump *d, const void *buf, uint64_t blk)
{
	const struct rlfs_symlink_block *sl = buf;
	struct dump_where w = { "symlink block", blk, 0, -1, -1 };
	uint8_t *ibuf = tool_xrealloc(NULL, RLFS_BLOCK_SIZE, 1);
	const struct rlfs_inode *ri;
	unsigned int slot;
	const char *why;
	uint64_t iblk;

	dump_header(d, buf, blk, RLFS_SYMLINK_MAGIC, &w, "symlink");
	dump_mem(d, "target", sl->sl_target, sizeof(sl->sl_target));
	dump_u64(d, "target_length",
		 strnlen(sl->sl_target, sizeof(sl->sl_target)));
	/* the target's length is judged against the owner's i_size */
	if (!dump_inode_pos(d, w.ino, &iblk, &slot)) {
		if (d->geom_ok)
			dump_verdictf(d, "verdict", &w,
				      "owner %" PRIu64 " is no inode: cannot check the target against i_size",
				      w.ino);
		goto out;
	}
	why = dump_read(d, iblk, ibuf);
	if (why) {
		dump_verdictf(d, "verdict", &w, "owner inode unreadable: %s",
			      why);
		goto out;
	}
	ri = (const void *)(ibuf + slot * RLFS_INODE_SIZE);
	dump_u64(d, "owner_size", le64toh(ri->i_size));
	dump_verdict(d, "verdict", &w,
		     rlfs_verify_symlink_block(buf, le64toh(ri->i_size)));
out:
	free(ibuf);
}

/* ---- the dispatch ----------------------------------------------------- */

static void dump_journal(struct dump *d, const void *buf, uint64_t blk)
{
	const struct rlfs_jbd2_super *js = buf;

	dump_str(d, "kind", "journal");
	dump_u64(d, "journal_block", blk - d->g.journal_start);
	if (blk == d->g.journal_start) {
		dump_hex(d, "jbd2_magic", be32toh(js->s_header.h_magic));
		dump_bool(d, "jbd2_magic_ok",
			  be32toh(js->s_header.h_magic) == RLFS_JBD2_MAGIC);
	}
}

void dump_any_block(struct dump *d, uint64_t blk)
{
	struct dump_where w = { "block", blk, 0, -1, -1 };
	uint8_t *buf = tool_xrealloc(NULL, RLFS_BLOCK_SIZE, 1);
	const char *region = region_of(d, blk), *why;
	uint32_t magic;

	dump_u64(d, "block", blk);
	dump_str(d, "region", region);
	why = dump_read(d, blk, buf);
	if (why) {
		dump_verdict(d, "verdict", &w, why);
		goto out;
	}
	magic = le32toh(*(const uint32_t *)buf);
	dump_hex(d, "magic", magic);
	if (blk == RLFS_SUPER_BLOCKNR ||
	    (!d->geom_ok && magic == RLFS_SUPER_MAGIC)) {
		dump_str(d, "kind", "superblock");
		dump_obj_begin(d, "superblock");
		dump_super_fields(d, buf, blk);
		dump_obj_end(d);
	} else if (!strcmp(region, "journal")) {
		dump_journal(d, buf, blk);
	} else if (!strcmp(region, "block bitmap") ||
		   !strcmp(region, "inode bitmap") ||
		   magic == RLFS_BITMAP_MAGIC) {
		dump_bitmap(d, buf, blk, region);
	} else if (!strcmp(region, "inode table")) {
		dump_itable(d, buf, blk);
	} else if (magic == RLFS_EXTENT_MAGIC ||
		   magic == RLFS_REFCOUNT_MAGIC) {
		dump_tree_block(d, buf, blk);
	} else if (magic == RLFS_DIR_MAGIC) {
		dump_dir(d, buf, blk);
	} else if (magic == RLFS_XATTR_MAGIC) {
		dump_xattr(d, buf, blk);
	} else if (magic == RLFS_SYMLINK_MAGIC) {
		dump_symlink(d, buf, blk);
	} else {
		/* file data, or a free block: nothing to verify */
		dump_str(d, "kind", "data");
		dump_hexbytes(d, "first_bytes", buf, 32);
	}
out:
	free(buf);
}
