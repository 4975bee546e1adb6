// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs directories: the directory-block format (verification,
 * lookup, insertion, removal and retargeting of entries) and readdir.
 *
 * A directory's data are RLFS_DIR_MAGIC metadata blocks mapped by its
 * extent tree.  They live in the buffer cache of the device, like ext4's,
 * not in the directory's page cache, and every change to them is
 * journaled.  Records are packed from byte 32 to the end of the block;
 * "." and ".." are not stored.  Changes are serialised by the directory's
 * i_rwsem (held exclusively by the VFS for every namespace change, shared
 * for lookup and readdir).
 */

#include <linux/fs.h>
#include <linux/buffer_head.h>
#include <linux/compat.h>
#include "reflinkfs.h"

#define RLFS_DIR_FIRST		((unsigned int)sizeof(struct rlfs_block_header))
#define RLFS_DIR_MIN_REC	RLFS_DIRENT_SIZE(0)

static inline struct rlfs_dirent *rlfs_dirent_at(struct buffer_head *bh,
						 unsigned int off)
{
	return (struct rlfs_dirent *)(bh->b_data + off);
}

static inline unsigned int rlfs_rec_len(const struct rlfs_dirent *de)
{
	return le16_to_cpu(de->d_rec_len);
}

/* Number of directory blocks; i_size must be a multiple of the block. */
static int rlfs_dir_nblocks(struct inode *dir, u32 *nblocks)
{
	loff_t size = i_size_read(dir);

	if (size & (RLFS_BLOCK_SIZE - 1) ||
	    (size >> RLFS_BLOCK_BITS) > U32_MAX) {
		rlfs_corrupt(dir->i_sb, "directory %lu: bad size %lld",
			     dir->i_ino, size);
		return -EFSCORRUPTED;
	}
	*nblocks = size >> RLFS_BLOCK_BITS;
	return 0;
}

/* Check the records of a directory block (rlfs_verify_dir_block()). */
static int rlfs_check_dir_block(struct inode *dir, struct buffer_head *bh)
{
	struct super_block *sb = dir->i_sb;
	unsigned int off;
	const char *why;

	why = rlfs_verify_dir_block(bh->b_data, RLFS_SB(sb)->s_geom.inodes,
				    &off);
	if (!why)
		return 0;
	rlfs_corrupt_block(sb, bh->b_blocknr,
			   "block %llu: directory %lu: %s at offset %u",
			   (unsigned long long)bh->b_blocknr, dir->i_ino, why, off);
	return -EFSCORRUPTED;
}

/* Read and verify logical block @lblk of @dir. */
static struct buffer_head *rlfs_dir_bread(struct inode *dir, u32 lblk)
{
	struct super_block *sb = dir->i_sb;
	struct rlfs_map map = { .m_lblk = lblk, .m_len = 1 };
	struct buffer_head *bh;
	int ret;

	ret = rlfs_map_blocks(NULL, dir, &map, 0);
	if (ret < 0)
		return ERR_PTR(ret);
	if (ret == 0) {
		rlfs_corrupt(sb, "directory %lu: hole at logical block %u",
			     dir->i_ino, lblk);
		return ERR_PTR(-EFSCORRUPTED);
	}
	bh = rlfs_read_meta(sb, map.m_pblk, RLFS_DIR_MAGIC, dir->i_ino);
	if (IS_ERR(bh))
		return bh;
	ret = rlfs_check_dir_block(dir, bh);
	if (ret) {
		brelse(bh);
		return ERR_PTR(ret);
	}
	return bh;
}

static bool rlfs_name_match(const struct rlfs_dirent *de,
			    const struct qstr *name)
{
	return de->d_ino && de->d_name_len == name->len &&
	       !memcmp(de->d_name, name->name, name->len);
}

/*
 * Find @name in @dir.  On success *ino is the inode and, if @bhp is not
 * NULL, *bhp holds a reference to the block (the caller releases it) and
 * *dep points to the record in it.  Returns 0, -ENOENT or another error.
 */
int rlfs_find_entry(struct inode *dir, const struct qstr *name, u64 *ino,
		    struct buffer_head **bhp, struct rlfs_dirent **dep)
{
	u32 nblocks, lblk;
	int err;

	if (name->len > RLFS_NAME_LEN)
		return -ENAMETOOLONG;
	err = rlfs_dir_nblocks(dir, &nblocks);
	if (err)
		return err;

	for (lblk = 0; lblk < nblocks; lblk++) {
		struct buffer_head *bh = rlfs_dir_bread(dir, lblk);
		unsigned int off = RLFS_DIR_FIRST;

		if (IS_ERR(bh))
			return PTR_ERR(bh);
		while (off < RLFS_BLOCK_SIZE) {
			struct rlfs_dirent *de = rlfs_dirent_at(bh, off);

			if (rlfs_name_match(de, name)) {
				*ino = le64_to_cpu(de->d_ino);
				if (bhp) {
					*bhp = bh;
					if (dep)
						*dep = de;
				} else {
					brelse(bh);
				}
				return 0;
			}
			off += rlfs_rec_len(de);
		}
		brelse(bh);
		cond_resched();
	}
	return -ENOENT;
}

/* Fill a record for @name -> @inode at @de, spanning @rec_len bytes. */
static void rlfs_fill_dirent(struct rlfs_dirent *de, unsigned int rec_len,
			     const struct qstr *name, struct inode *inode)
{
	unsigned int used = RLFS_DIRENT_SIZE(name->len);

	de->d_ino = cpu_to_le64(inode->i_ino);
	de->d_rec_len = cpu_to_le16(rec_len);
	de->d_name_len = name->len;
	de->d_type = rlfs_mode_to_ftype(inode->i_mode);
	memcpy(de->d_name, name->name, name->len);
	/* Keep the padding up to the aligned size clean. */
	memset(de->d_name + name->len, 0, used - RLFS_DIRENT_HDR - name->len);
}

static int rlfs_dir_touch(handle_t *handle, struct inode *dir)
{
	rlfs_touch_mctime(dir);
	return rlfs_mark_inode_dirty(handle, dir);
}

/*
 * Look for room for a record of @need bytes in @bh.  Returns the offset of
 * the record to use (free, or live with enough slack), or 0.
 */
static unsigned int rlfs_find_room(struct buffer_head *bh, unsigned int need)
{
	unsigned int off = RLFS_DIR_FIRST;

	while (off < RLFS_BLOCK_SIZE) {
		struct rlfs_dirent *de = rlfs_dirent_at(bh, off);
		unsigned int rec_len = rlfs_rec_len(de);

		if (!de->d_ino) {
			if (rec_len >= need)
				return off;
		} else if (rec_len - RLFS_DIRENT_SIZE(de->d_name_len) >=
			   need) {
			return off;
		}
		off += rec_len;
	}
	return 0;
}

/* Put @name -> @inode into the record at @off of @bh (write access held). */
static void rlfs_insert_at(struct buffer_head *bh, unsigned int off,
			   const struct qstr *name, struct inode *inode)
{
	struct rlfs_dirent *de = rlfs_dirent_at(bh, off);
	unsigned int rec_len = rlfs_rec_len(de);

	if (de->d_ino) {
		unsigned int used = RLFS_DIRENT_SIZE(de->d_name_len);

		de->d_rec_len = cpu_to_le16(used);
		de = rlfs_dirent_at(bh, off + used);
		rec_len -= used;
	}
	rlfs_fill_dirent(de, rec_len, name, inode);
}

/* Append a new block to @dir holding the single entry @name -> @inode. */
static int rlfs_dir_append_block(handle_t *handle, struct inode *dir,
				 u32 lblk, const struct qstr *name,
				 struct inode *inode)
{
	struct super_block *sb = dir->i_sb;
	struct rlfs_map map = { .m_lblk = lblk, .m_len = 1 };
	struct buffer_head *bh;
	int ret;

	ret = rlfs_map_blocks(handle, dir, &map, RLFS_MAP_CREATE);
	if (ret < 0)
		return ret;
	if (ret == 0 || !map.m_new) {
		rlfs_corrupt(sb, "directory %lu: logical block %u past the end of the directory is already mapped",
			     dir->i_ino, lblk);
		return -EFSCORRUPTED;
	}
	bh = rlfs_new_meta(handle, sb, map.m_pblk, RLFS_DIR_MAGIC, dir->i_ino);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	rlfs_fill_dirent(rlfs_dirent_at(bh, RLFS_DIR_FIRST),
			 RLFS_BLOCK_SIZE - RLFS_DIR_FIRST, name, inode);
	ret = rlfs_journal_dirty_meta(handle, bh);
	brelse(bh);
	if (ret)
		return ret;
	i_size_write(dir, (loff_t)(lblk + 1) << RLFS_BLOCK_BITS);
	return 0;
}

/*
 * Add @name -> @inode to @dir.  The caller has checked that the name does
 * not exist, holds @dir's i_rwsem and a handle with RLFS_DIRENT_CREDITS
 * for this call.
 */
int rlfs_add_entry(handle_t *handle, struct inode *dir,
		   const struct qstr *name, struct inode *inode)
{
	struct super_block *sb = dir->i_sb;
	unsigned int need = RLFS_DIRENT_SIZE(name->len);
	u32 nblocks, lblk;
	int err;

	if (!name->len)
		return -ENOENT;
	if (name->len > RLFS_NAME_LEN)
		return -ENAMETOOLONG;
	err = rlfs_dir_nblocks(dir, &nblocks);
	if (err)
		return err;

	for (lblk = 0; lblk < nblocks; lblk++) {
		struct buffer_head *bh = rlfs_dir_bread(dir, lblk);
		unsigned int off;

		if (IS_ERR(bh))
			return PTR_ERR(bh);
		off = rlfs_find_room(bh, need);
		if (off) {
			err = rlfs_journal_get_write_access(handle, sb, bh);
			if (!err) {
				rlfs_insert_at(bh, off, name, inode);
				err = rlfs_journal_dirty_meta(handle, bh);
			}
			brelse(bh);
			if (err)
				return err;
			return rlfs_dir_touch(handle, dir);
		}
		brelse(bh);
		cond_resched();
	}

	if (nblocks >= RLFS_MAX_FILE_SIZE >> RLFS_BLOCK_BITS)
		return -ENOSPC;
	err = rlfs_dir_append_block(handle, dir, nblocks, name, inode);
	if (err)
		return err;
	return rlfs_dir_touch(handle, dir);
}

/*
 * Remove the record @de of block @bh (from rlfs_find_entry) from @dir:
 * merged into the previous record of the block, or marked free when it is
 * the first.  The caller keeps its reference to @bh.
 */
int rlfs_delete_entry(handle_t *handle, struct inode *dir,
		      struct buffer_head *bh, struct rlfs_dirent *de)
{
	unsigned int target = (char *)de - bh->b_data;
	unsigned int off = RLFS_DIR_FIRST;
	struct rlfs_dirent *prev = NULL;
	int err;

	while (off < target) {
		struct rlfs_dirent *cur = rlfs_dirent_at(bh, off);

		prev = cur;
		off += rlfs_rec_len(cur);
	}
	if (off != target) {
		rlfs_corrupt(dir->i_sb, "block %llu: directory %lu: no record at offset %u",
			     (unsigned long long)bh->b_blocknr, dir->i_ino,
			     target);
		return -EFSCORRUPTED;
	}

	err = rlfs_journal_get_write_access(handle, dir->i_sb, bh);
	if (err)
		return err;
	if (prev) {
		prev->d_rec_len = cpu_to_le16(rlfs_rec_len(prev) +
					      rlfs_rec_len(de));
		memset(de, 0, RLFS_DIRENT_HDR);
	} else {
		de->d_ino = 0;
	}
	err = rlfs_journal_dirty_meta(handle, bh);
	if (err)
		return err;
	return rlfs_dir_touch(handle, dir);
}

/* Point the record @de of block @bh in @dir at @inode (rename). */
int rlfs_set_entry(handle_t *handle, struct inode *dir,
		   struct buffer_head *bh, struct rlfs_dirent *de,
		   struct inode *inode)
{
	int err;

	err = rlfs_journal_get_write_access(handle, dir->i_sb, bh);
	if (err)
		return err;
	de->d_ino = cpu_to_le64(inode->i_ino);
	de->d_type = rlfs_mode_to_ftype(inode->i_mode);
	err = rlfs_journal_dirty_meta(handle, bh);
	if (err)
		return err;
	return rlfs_dir_touch(handle, dir);
}

/* 1 if @dir has no entries, 0 if it has some, or a negative error. */
int rlfs_empty_dir(struct inode *dir)
{
	u32 nblocks, lblk;
	int err;

	err = rlfs_dir_nblocks(dir, &nblocks);
	if (err)
		return err;
	for (lblk = 0; lblk < nblocks; lblk++) {
		struct buffer_head *bh = rlfs_dir_bread(dir, lblk);
		unsigned int off = RLFS_DIR_FIRST;

		if (IS_ERR(bh))
			return PTR_ERR(bh);
		while (off < RLFS_BLOCK_SIZE) {
			struct rlfs_dirent *de = rlfs_dirent_at(bh, off);

			if (de->d_ino) {
				brelse(bh);
				return 0;
			}
			off += rlfs_rec_len(de);
		}
		brelse(bh);
	}
	return 1;
}

/*
 * readdir.  Positions: 0 ".", 1 "..", then (lblk << 12) | offset of the
 * record in its block (>= 32), so a position stays valid while entries
 * come and go; a position that no longer starts a record resumes at the
 * next record of its block.
 */
static int rlfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	u32 nblocks, lblk;
	int err;

	if (ctx->pos == 0) {
		if (!dir_emit_dot(file, ctx))
			return 0;
		ctx->pos = 1;
	}
	if (ctx->pos == 1) {
		if (!dir_emit(ctx, "..", 2, READ_ONCE(RLFS_I(dir)->i_parent),
			      DT_DIR))
			return 0;
		ctx->pos = 2;
	}
	if (ctx->pos < RLFS_DIR_FIRST)
		ctx->pos = RLFS_DIR_FIRST;

	err = rlfs_dir_nblocks(dir, &nblocks);
	if (err)
		return err;
	if ((u64)ctx->pos >> RLFS_BLOCK_BITS >= nblocks)
		return 0;

	for (lblk = ctx->pos >> RLFS_BLOCK_BITS; lblk < nblocks; lblk++) {
		unsigned int start = ctx->pos & (RLFS_BLOCK_SIZE - 1);
		unsigned int off = RLFS_DIR_FIRST;
		struct buffer_head *bh;

		bh = rlfs_dir_bread(dir, lblk);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		while (off < RLFS_BLOCK_SIZE) {
			struct rlfs_dirent *de = rlfs_dirent_at(bh, off);

			if (off >= start && de->d_ino) {
				ctx->pos = ((loff_t)lblk << RLFS_BLOCK_BITS) |
					   off;
				if (!dir_emit(ctx, de->d_name, de->d_name_len,
					      le64_to_cpu(de->d_ino),
					      de->d_type)) {
					brelse(bh);
					return 0;
				}
			}
			off += rlfs_rec_len(de);
		}
		brelse(bh);
		ctx->pos = ((loff_t)(lblk + 1) << RLFS_BLOCK_BITS) |
			   RLFS_DIR_FIRST;
		cond_resched();
	}
	return 0;
}

const struct file_operations rlfs_dir_operations = {
	.llseek		= generic_file_llseek,
	.read		= generic_read_dir,
	.iterate_shared	= rlfs_readdir,
	.fsync		= rlfs_fsync,
	.unlocked_ioctl	= rlfs_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	= rlfs_compat_ioctl,
#endif
};
