// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libreflinkfs: checksums, file types, and the one place where extent and
 * refcount records change between disk and CPU order.
 */

#include "rlfs_core.h"

/* ---- checksums ------------------------------------------------------ */

u32 rlfs_crc(const void *buf, size_t len, size_t crc_off)
{
	static const u8 zero[sizeof(__le32)];
	const u8 *p = buf;
	u32 crc;

	crc = crc32c(RLFS_CRC_SEED, p, crc_off);
	crc = crc32c(crc, zero, sizeof(zero));
	return crc32c(crc, p + crc_off + sizeof(zero),
		      len - crc_off - sizeof(zero));
}

u32 rlfs_super_csum(const struct rlfs_super *rsb)
{
	return rlfs_crc(rsb, sizeof(*rsb), offsetof(struct rlfs_super, s_crc));
}

u32 rlfs_inode_csum(const struct rlfs_inode *ri)
{
	return rlfs_crc(ri, sizeof(*ri), offsetof(struct rlfs_inode, i_crc));
}

u32 rlfs_block_csum(const void *block)
{
	return rlfs_crc(block, RLFS_BLOCK_SIZE,
			offsetof(struct rlfs_block_header, bh_crc));
}

void rlfs_super_set_csum(struct rlfs_super *rsb)
{
	rsb->s_crc = cpu_to_le32(rlfs_super_csum(rsb));
}

void rlfs_inode_set_csum(struct rlfs_inode *ri)
{
	ri->i_crc = cpu_to_le32(rlfs_inode_csum(ri));
}

void rlfs_block_set_csum(void *block)
{
	struct rlfs_block_header *bh = block;

	bh->bh_crc = cpu_to_le32(rlfs_block_csum(block));
}

void rlfs_block_header_init(void *block, u32 magic, u64 blocknr, u64 owner)
{
	struct rlfs_block_header *bh = block;

	bh->bh_magic = cpu_to_le32(magic);
	bh->bh_crc = 0;
	bh->bh_blocknr = cpu_to_le64(blocknr);
	bh->bh_owner = cpu_to_le64(owner);
	bh->bh_reserved = 0;
}

/* ---- file types ----------------------------------------------------- */

u8 rlfs_mode_to_ftype(u16 mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return RLFS_FT_REG;
	case S_IFDIR:
		return RLFS_FT_DIR;
	case S_IFLNK:
		return RLFS_FT_SYMLINK;
	case S_IFCHR:
		return RLFS_FT_CHRDEV;
	case S_IFBLK:
		return RLFS_FT_BLKDEV;
	case S_IFIFO:
		return RLFS_FT_FIFO;
	case S_IFSOCK:
		return RLFS_FT_SOCK;
	}
	return RLFS_FT_UNKNOWN;
}

bool rlfs_ftype_valid(u8 ftype)
{
	switch (ftype) {
	case RLFS_FT_REG:
	case RLFS_FT_DIR:
	case RLFS_FT_SYMLINK:
	case RLFS_FT_CHRDEV:
	case RLFS_FT_BLKDEV:
	case RLFS_FT_FIFO:
	case RLFS_FT_SOCK:
		return true;
	}
	return false;
}

const char *rlfs_ftype_name(u8 ftype)
{
	switch (ftype) {
	case RLFS_FT_REG:
		return "regular file";
	case RLFS_FT_DIR:
		return "directory";
	case RLFS_FT_SYMLINK:
		return "symlink";
	case RLFS_FT_CHRDEV:
		return "character device";
	case RLFS_FT_BLKDEV:
		return "block device";
	case RLFS_FT_FIFO:
		return "fifo";
	case RLFS_FT_SOCK:
		return "socket";
	}
	return "unknown type";
}

/* ---- records -------------------------------------------------------- */

void rlfs_ext_to_irec(const struct rlfs_extent *ex, struct rlfs_ext_irec *r)
{
	r->lblk = le32_to_cpu(ex->e_lblk);
	r->len = le32_to_cpu(ex->e_len);
	r->pblk = le64_to_cpu(ex->e_pblk);
}

void rlfs_irec_to_ext(const struct rlfs_ext_irec *r, struct rlfs_extent *ex)
{
	ex->e_lblk = cpu_to_le32(r->lblk);
	ex->e_len = cpu_to_le32(r->len);
	ex->e_pblk = cpu_to_le64(r->pblk);
}

void rlfs_rc_to_irec(const struct rlfs_refcount_rec *rec,
		     struct rlfs_rc_irec *r)
{
	r->start = le64_to_cpu(rec->rc_start);
	r->len = le32_to_cpu(rec->rc_len);
	r->refcount = le32_to_cpu(rec->rc_refcount);
}

void rlfs_irec_to_rc(const struct rlfs_rc_irec *r,
		     struct rlfs_refcount_rec *rec)
{
	rec->rc_start = cpu_to_le64(r->start);
	rec->rc_len = cpu_to_le32(r->len);
	rec->rc_refcount = cpu_to_le32(r->refcount);
}
