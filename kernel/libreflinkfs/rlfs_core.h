/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * libreflinkfs: the reflinkfs format core, in the way of XFS's libxfs.
 *
 * The files of this directory are compiled unchanged into the kernel
 * module (kernel/Kbuild) and into mkfs.reflinkfs, fsck.reflinkfs and
 * reflinkfs dump (userspace/Makefile).  They are pure C: no buffer_head,
 * no jbd2, no locking, no allocation, no printing.  What they need from
 * their surroundings (fixed-size types, endian helpers, crc32c(), errno
 * values) comes from "libreflinkfs_priv.h", of which there are two:
 * kernel/ and userspace/lib/.
 *
 * The core owns every rule about what a valid block is.  A verifier
 * returns NULL when its block is valid, or a short reason ("extents out
 * of order or range") and, for blocks with entries, the index of the
 * entry at fault; the caller reports it its own way (the kernel with
 * rlfs_corrupt_block() naming the block, fsck by reporting and carrying
 * on, dump by printing the verdict) and never re-checks.
 */
#ifndef _RLFS_CORE_H
#define _RLFS_CORE_H

#include "libreflinkfs_priv.h"
#include "rlfs_format.h"

/* ---- geometry (rlfs_layout.c) --------------------------------------- */

/* Where each region of a filesystem lies, in blocks (see rlfs_format.h). */
struct rlfs_geom {
	u64	blocks;
	u64	inodes;
	u64	journal_start;
	u64	journal_blocks;
	u64	bbitmap_start;
	u64	bbitmap_blocks;
	u64	ibitmap_start;
	u64	ibitmap_blocks;
	u64	itable_start;
	u64	itable_blocks;
	u64	data_start;
};

static inline u64 rlfs_div_round_up(u64 n, u64 d)
{
	return n / d + (n % d != 0);
}

/* blocks / 32 within [RLFS_MIN_JOURNAL_BLOCKS, RLFS_MAX_JOURNAL_BLOCKS]. */
u64 rlfs_default_journal_blocks(u64 blocks);
/* A multiple of RLFS_INODES_PER_BLOCK, at least RLFS_MIN_INODES. */
u64 rlfs_round_inodes(u64 inodes);
/* blocks / 4 within [RLFS_MIN_INODES, RLFS_MAX_INODES], rounded. */
u64 rlfs_default_inodes(u64 blocks);
/*
 * From g->blocks, g->inodes and g->journal_blocks compute every region,
 * as mkfs lays them out and mount expects them.  Returns false if they do
 * not fit in 64 bits (never for sane input).
 */
bool rlfs_geom_layout(struct rlfs_geom *g);
void rlfs_geom_from_super(const struct rlfs_super *rsb, struct rlfs_geom *g);

static inline bool rlfs_geom_in_data(const struct rlfs_geom *g, u64 blk,
				     u64 len)
{
	return blk >= g->data_start && blk < g->blocks &&
	       len <= g->blocks - blk;
}

/* ---- checksums (rlfs_record.c) -------------------------------------- */

/* crc32c from RLFS_CRC_SEED over @len bytes, the __le32 at @crc_off as 0. */
u32 rlfs_crc(const void *buf, size_t len, size_t crc_off);
u32 rlfs_super_csum(const struct rlfs_super *rsb);
u32 rlfs_inode_csum(const struct rlfs_inode *ri);
u32 rlfs_block_csum(const void *block);		/* RLFS_BLOCK_SIZE bytes */
void rlfs_super_set_csum(struct rlfs_super *rsb);
void rlfs_inode_set_csum(struct rlfs_inode *ri);
void rlfs_block_set_csum(void *block);
/* Fill a metadata block header; the crc is set by rlfs_block_set_csum(). */
void rlfs_block_header_init(void *block, u32 magic, u64 blocknr, u64 owner);

/* ---- file types (rlfs_record.c) ------------------------------------- */

/* RLFS_FT_* of an i_mode; RLFS_FT_UNKNOWN for a type the format lacks. */
u8 rlfs_mode_to_ftype(u16 mode);
/* A d_type the format knows (RLFS_FT_UNKNOWN is not one). */
bool rlfs_ftype_valid(u8 ftype);
const char *rlfs_ftype_name(u8 ftype);

/* ---- records: disk <-> CPU, at this one boundary (rlfs_record.c) ---- */

/* An extent in CPU order (XFS xfs_bmbt_irec). */
struct rlfs_ext_irec {
	u32	lblk;
	u32	len;
	u64	pblk;
};

/* A refcount record in CPU order (XFS xfs_refcount_irec). */
struct rlfs_rc_irec {
	u64	start;
	u32	len;
	u32	refcount;
};

void rlfs_ext_to_irec(const struct rlfs_extent *ex, struct rlfs_ext_irec *r);
void rlfs_irec_to_ext(const struct rlfs_ext_irec *r, struct rlfs_extent *ex);
void rlfs_rc_to_irec(const struct rlfs_refcount_rec *rec,
		     struct rlfs_rc_irec *r);
void rlfs_irec_to_rc(const struct rlfs_rc_irec *r,
		     struct rlfs_refcount_rec *rec);

/* ---- B+tree nodes: the layout both trees share ---------------------- */

static inline int rlfs_bt_entries(const struct rlfs_btree_header *h)
{
	return le16_to_cpu(h->bt_entries);
}

static inline int rlfs_bt_max(const struct rlfs_btree_header *h)
{
	return le16_to_cpu(h->bt_max);
}

static inline int rlfs_bt_depth(const struct rlfs_btree_header *h)
{
	return le16_to_cpu(h->bt_depth);
}

/* Entry i of a node, record or index alike. */
static inline void *rlfs_bt_entry(const struct rlfs_btree_header *h, int i)
{
	return (u8 *)(h + 1) + i * RLFS_BT_ENTRY_SIZE;
}

/* Key of entry i: 4 bytes (extent tree) or 8 (refcount tree). */
static inline u64 rlfs_bt_key(const struct rlfs_btree_header *h, int i,
			      unsigned int keylen)
{
	const void *e = rlfs_bt_entry(h, i);

	return keylen == sizeof(__le32) ? le32_to_cpu(*(const __le32 *)e) :
					  le64_to_cpu(*(const __le64 *)e);
}

/* Child block of index entry i. */
static inline u64 rlfs_bt_child(const struct rlfs_btree_header *h, int i)
{
	return le64_to_cpu(*(const __le64 *)((u8 *)rlfs_bt_entry(h, i) + 8));
}

/* The node header of an extent or refcount block. */
static inline struct rlfs_btree_header *rlfs_bt_block_node(void *block)
{
	return (struct rlfs_btree_header *)
		((u8 *)block + sizeof(struct rlfs_block_header));
}

/* ---- verifiers (rlfs_verify.c) -------------------------------------- */

/*
 * What this code cannot handle (version, block size, incompatible
 * features), or NULL: part of rlfs_verify_super(), for callers that must
 * know it apart from a bad checksum.
 */
const char *rlfs_super_unsupported(const struct rlfs_super *rsb);

/* The regions of @g against the limits and the layout mkfs makes. */
const char *rlfs_verify_geom(const struct rlfs_geom *g);

/*
 * The superblock on its own and against a device of @dev_blocks blocks
 * (0: unknown, not checked).  *@error is EINVAL for what is not a
 * reflinkfs filesystem or one this code cannot handle (magic, version,
 * block size, incompatible features, a device smaller than the
 * filesystem), else EFSCORRUPTED.  Unknown read-only compatible features
 * are not an error here: see rlfs_super_ro_unknown().
 */
const char *rlfs_verify_super(const struct rlfs_super *rsb, u64 dev_blocks,
			      int *error);
static inline u64 rlfs_super_ro_unknown(const struct rlfs_super *rsb)
{
	return le64_to_cpu(rsb->s_feature_ro_compat) &
	       ~RLFS_FEATURE_RO_COMPAT_SUPP;
}

/*
 * The header of metadata block @blocknr: its magic, its own number and its
 * owner (0 for fs-wide blocks).  The checksum is separate so that a cache
 * of verified blocks can skip it.
 */
const char *rlfs_verify_block_header(const void *block, u32 magic,
				     u64 blocknr, u64 owner);
const char *rlfs_verify_block_crc(const void *block);

/*
 * The bits of a bitmap block (header already verified) that the format
 * fixes: items below @reserved (metadata blocks; inodes 0 and 1) are in
 * use, and so are the bits past the last of @nitems items.  The block
 * describes items [@first, @first + RLFS_BITS_PER_BITMAP).  *@bit is the
 * bit at fault.
 */
const char *rlfs_verify_bitmap_block(const void *block, u64 first,
				     u64 nitems, u64 reserved, u32 *bit);

/*
 * An inode-table slot that was never written (magic and mode zero): a
 * free inode, not a corrupt one.
 */
static inline bool rlfs_inode_slot_unused(const struct rlfs_inode *ri)
{
	return !ri->i_magic && !ri->i_mode;
}

/*
 * The record of inode @ino: magic, own number, checksum and, unless it is
 * a freed record (i_mode 0, valid), every field, the extent root in i_data
 * included (its entries, not the blocks below it).  @ro_compat: the
 * superblock's features (snapshot records need theirs).
 */
const char *rlfs_verify_inode(const struct rlfs_inode *ri, u64 ino,
			      const struct rlfs_geom *g, u64 ro_compat);

/*
 * One extent-tree node: the root in i_data (@root) or an extent block, of
 * @depth, its keys and records in [@lo, @hi).  *@entry is the entry at
 * fault, or -1 for the header.
 */
const char *rlfs_verify_extent_node(const struct rlfs_btree_header *h,
				    bool root, int depth, u64 lo, u64 hi,
				    const struct rlfs_geom *g, int *entry);

/*
 * One refcount-tree node of @depth, its keys in [@lo, @hi); but at the
 * @root its first key is exactly @lo.  *@entry as above.
 */
const char *rlfs_verify_refcount_node(const struct rlfs_btree_header *h,
				      bool root, int depth, u64 lo, u64 hi,
				      const struct rlfs_geom *g, int *entry);

/*
 * The records of a directory block (header already verified), in a
 * filesystem of @inodes inodes.  *@off is the byte offset of the record at
 * fault.  Duplicate names and entry types against their inodes need the
 * whole directory and are fsck's.
 */
const char *rlfs_verify_dir_block(const void *block, u64 inodes,
				  unsigned int *off);

/*
 * The entries of an xattr block (header already verified).  *@off is the
 * byte offset of the entry at fault.  On success *@used is the number of
 * bytes the entries take after the header.
 */
const char *rlfs_verify_xattr_block(const void *block, unsigned int *off,
				    unsigned int *used);

/* A symlink block's target against the inode's i_size. */
const char *rlfs_verify_symlink_block(const void *block, u64 size);

#endif /* _RLFS_CORE_H */
