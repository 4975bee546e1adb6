// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs: inode operations.  Looking an inode up (iget) and giving it
 * its operations, creating inodes, eviction (deleting unlinked inodes),
 * truncate, setattr and getattr.  The record itself is inode.c.
 */
#include <linux/pagemap.h>
#include <linux/random.h>
#include "reflinkfs.h"

void rlfs_set_inode_ops(struct inode *inode)
{
	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &rlfs_file_inode_operations;
		inode->i_fop = &rlfs_file_operations;
		inode->i_mapping->a_ops = &rlfs_aops;
		break;
	case S_IFDIR:
		inode->i_op = &rlfs_dir_inode_operations;
		inode->i_fop = &rlfs_dir_operations;
		break;
	case S_IFLNK:
		if (RLFS_I(inode)->i_flags & RLFS_FAST_SYMLINK_FL) {
			inode->i_op = &rlfs_fast_symlink_inode_operations;
			inode->i_link = (char *)RLFS_I(inode)->i_data;
		} else {
			inode->i_op = &rlfs_symlink_inode_operations;
		}
		break;
	default:
		inode->i_op = &rlfs_special_inode_operations;
		init_special_inode(inode, inode->i_mode, inode->i_rdev);
		break;
	}
}

struct inode *rlfs_iget(struct super_block *sb, u64 ino)
{
	struct inode *inode;
	int err;

	if (ino < RLFS_ROOT_INO || ino >= RLFS_SB(sb)->s_geom.inodes) {
		rlfs_corrupt(sb, "inode %llu out of range [1, %llu)", ino,
			     RLFS_SB(sb)->s_geom.inodes);
		return ERR_PTR(-EFSCORRUPTED);
	}
	inode = iget_locked(sb, ino);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode->i_state & I_NEW))
		return inode;
	err = rlfs_read_inode(inode);
	if (err) {
		iget_failed(inode);
		return ERR_PTR(err);
	}
	rlfs_set_inode_ops(inode);
	rlfs_set_inode_flags(inode);
	unlock_new_inode(inode);
	return inode;
}

/* Flags a new inode inherits from its directory (as ext4). */
static u32 rlfs_inherit_flags(struct inode *dir, umode_t mode)
{
	u32 flags = RLFS_I(dir)->i_flags & (RLFS_SYNC_FL | RLFS_NOATIME_FL |
					     RLFS_NODUMP_FL | RLFS_DIRSYNC_FL);

	if (S_ISDIR(mode))
		return flags;
	if (S_ISREG(mode))
		return flags & ~RLFS_DIRSYNC_FL;
	return flags & (RLFS_NODUMP_FL | RLFS_NOATIME_FL);
}

struct inode *rlfs_new_inode(handle_t *handle, struct rlfs_idmap *idmap,
			     struct inode *dir, umode_t mode, dev_t rdev)
{
	struct super_block *sb = dir->i_sb;
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_inode_info *ei;
	struct timespec64 now;
	struct inode *inode;
	u64 ino;
	int err;

	err = rlfs_alloc_ino(handle, sb, dir->i_ino, &ino);
	if (err)
		return ERR_PTR(err);
	inode = new_inode(sb);
	if (!inode) {
		rlfs_free_ino(handle, sb, ino);
		return ERR_PTR(-ENOMEM);
	}
	ei = RLFS_I(inode);
	inode_init_owner(idmap, inode, dir, mode);
	inode->i_ino = ino;
	inode->i_blocks = 0;
	inode->i_size = 0;
	now = inode_set_ctime_current(inode);
	rlfs_set_atime(inode, now);
	rlfs_set_mtime(inode, now);
	ei->i_crtime = now;
	spin_lock(&sbi->s_gen_lock);
	inode->i_generation = sbi->s_next_generation++;
	spin_unlock(&sbi->s_gen_lock);
	ei->i_flags = rlfs_inherit_flags(dir, inode->i_mode);
	if (S_ISDIR(inode->i_mode))
		ei->i_parent = dir->i_ino;
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode) ||
	    S_ISFIFO(inode->i_mode) || S_ISSOCK(inode->i_mode))
		inode->i_rdev = rdev;
	rlfs_init_extent_root(inode);

	if (insert_inode_locked(inode) < 0) {
		/* The bitmap said free, yet the inode is live: corruption. */
		rlfs_corrupt(sb, "inode %llu: allocated while in use", ino);
		make_bad_inode(inode);
		iput(inode);
		return ERR_PTR(-EFSCORRUPTED);
	}
	rlfs_set_inode_ops(inode);
	rlfs_set_inode_flags(inode);
	err = rlfs_mark_inode_dirty(handle, inode);
	if (err) {
		clear_nlink(inode);
		unlock_new_inode(inode);
		iput(inode);
		return ERR_PTR(err);
	}
	return inode;
}

static int rlfs_finish_truncate(struct inode *inode);

/* Free the on-disk inode of an unlinked inode being evicted. */
static void rlfs_delete_inode(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	struct rlfs_inode_info *ei = RLFS_I(inode);
	handle_t *handle;
	int err = 0;

	if (S_ISREG(inode->i_mode) || S_ISDIR(inode->i_mode) ||
	    (S_ISLNK(inode->i_mode) && !(ei->i_flags & RLFS_FAST_SYMLINK_FL)))
		err = rlfs_truncate_blocks(inode, 0);
	if (err)
		goto keep;
	handle = rlfs_journal_start(sb, RLFS_XATTR_CREDITS +
				    RLFS_ORPHAN_CREDITS + RLFS_INODE_CREDITS +
				    RLFS_BITMAP_CREDITS);
	if (IS_ERR(handle)) {
		err = PTR_ERR(handle);
		goto keep;
	}
	err = rlfs_xattr_delete_inode(handle, inode);
	if (!err)
		err = rlfs_orphan_del(handle, inode);
	if (!err)
		err = rlfs_write_raw_inode(handle, inode, false);
	if (!err)
		err = rlfs_free_ino(handle, sb, inode->i_ino);
	rlfs_journal_stop(handle);
	if (!err)
		return;
keep:
	/*
	 * The inode stays on the on-disk orphan list (if it is on it) and is
	 * reclaimed at the next read-write mount; forget it in memory.
	 */
	if (err != -EROFS)
		rlfs_err(sb, "inode %lu: cannot free the unlinked inode: %d",
			 inode->i_ino, err);
	rlfs_orphan_del(NULL, inode);
}

void rlfs_evict_inode(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	journal_t *journal = RLFS_SB(sb)->s_journal;
	struct rlfs_inode_info *ei = RLFS_I(inode);

	truncate_inode_pages_final(&inode->i_data);
	if (!inode->i_nlink && !is_bad_inode(inode)) {
		sb_start_intwrite(sb);
		rlfs_delete_inode(inode);
		sb_end_intwrite(sb);
	} else if (!list_empty(&ei->i_orphan)) {
		/*
		 * A truncate that did not finish: try again.  If it fails
		 * once more, the on-disk orphan entry stays and the next
		 * mount finishes it; blocks past EOF never outlive it.
		 */
		sb_start_intwrite(sb);
		rlfs_finish_truncate(inode);
		sb_end_intwrite(sb);
		rlfs_orphan_del(NULL, inode);
	}
	if (journal)
		jbd2_journal_release_jbd_inode(journal, &ei->i_jinode);
	invalidate_inode_buffers(inode);
	clear_inode(inode);
}

/*
 * A truncate that could not unmap every block past the new EOF left the
 * inode on the orphan list (the next mount finishes it).  Finish it now,
 * before i_size grows over those blocks.
 */
static int rlfs_finish_truncate(struct inode *inode)
{
	handle_t *handle;
	int err, err2;

	if (!inode->i_nlink || list_empty(&RLFS_I(inode)->i_orphan))
		return 0;
	err = rlfs_truncate_blocks(inode, rlfs_blocks_of(i_size_read(inode)));
	if (err)
		return err;
	handle = rlfs_journal_start(inode->i_sb, RLFS_ORPHAN_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = rlfs_orphan_del(handle, inode);
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

/**
 * rlfs_prepare_grow - make what lies past EOF read as zeroes
 * @inode: regular file, i_rwsem held, no handle
 * @from: the first byte the caller writes itself (a write's or a
 *	clone's start), LLONG_MAX when it writes nothing (truncate,
 *	fallocate)
 *
 * Before i_size grows (truncate up, a write or fallocate past EOF, a
 * clone that extends the file): the bytes of the last block past EOF,
 * up to @from, may hold what was written through mmap (writeback zeroes
 * them on disk only), so they are zeroed in the page cache, as
 * xfs_zero_range() and ext4 do; and blocks a failed truncate left mapped
 * past EOF are unmapped.  An append at EOF zeroes nothing.  Returns 0 or
 * -errno.
 */
int rlfs_prepare_grow(struct inode *inode, loff_t from)
{
	loff_t size = i_size_read(inode);
	loff_t end = min_t(loff_t, from, round_up(size, RLFS_BLOCK_SIZE));
	int err;

	lockdep_assert_held(&inode->i_rwsem);
	err = rlfs_finish_truncate(inode);
	if (err || end <= size)
		return err;
	return rlfs_zero_partial(inode, size, end - size);
}

int rlfs_truncate(struct inode *inode, loff_t size)
{
	struct super_block *sb = inode->i_sb;
	loff_t oldsize = i_size_read(inode);
	handle_t *handle;
	int err, err2;

	if (!S_ISREG(inode->i_mode))
		return -EINVAL;
	if (size == oldsize)
		return 0;

	if (size > oldsize) {
		err = rlfs_prepare_grow(inode, LLONG_MAX);
		if (err)
			return err;
		handle = rlfs_journal_start(sb, RLFS_INODE_CREDITS);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		i_size_write(inode, size);
		rlfs_touch_mctime(inode);
		err = rlfs_mark_inode_dirty(handle, inode);
		rlfs_journal_stop(handle);
		if (!err)
			pagecache_isize_extended(inode, oldsize, size);
		return err;
	}

	filemap_invalidate_lock(inode->i_mapping);
	/*
	 * The zeroing of the new last block runs in this handle (nested)
	 * and may copy a shared block: its credits are taken here, since a
	 * nested handle can neither ask for more nor restart.
	 */
	handle = rlfs_journal_start(sb, RLFS_ORPHAN_CREDITS +
				    RLFS_INODE_CREDITS + RLFS_WRITE_CREDITS +
				    RLFS_COW_CREDITS);
	if (IS_ERR(handle)) {
		err = PTR_ERR(handle);
		goto out_unlock;
	}
	/*
	 * The orphan entry makes a crash before the blocks are gone finish
	 * the truncate at the next mount.
	 */
	err = rlfs_orphan_add(handle, inode);
	if (err)
		goto out_stop;
	/* Zero the tail of the new last block, up to the old size. */
	if (size & (RLFS_BLOCK_SIZE - 1)) {
		loff_t end = min_t(loff_t, oldsize,
				   round_up(size, RLFS_BLOCK_SIZE));

		err = rlfs_zero_partial(inode, size, end - size);
		if (err)
			goto out_stop;
	}
	i_size_write(inode, size);
	rlfs_touch_mctime(inode);
	err = rlfs_mark_inode_dirty(handle, inode);
out_stop:
	rlfs_journal_stop(handle);
	if (err)
		goto out_unlock;

	truncate_pagecache(inode, size);
	err = rlfs_truncate_blocks(inode, rlfs_blocks_of(size));

	/*
	 * On failure the inode stays an orphan on disk, so the next mount
	 * finishes the truncate.
	 */
	if (!err) {
		handle = rlfs_journal_start(sb, RLFS_ORPHAN_CREDITS);
		if (IS_ERR(handle)) {
			err = PTR_ERR(handle);
		} else {
			err = rlfs_orphan_del(handle, inode);
			err2 = rlfs_journal_stop(handle);
			if (!err)
				err = err2;
		}
	}
out_unlock:
	filemap_invalidate_unlock(inode->i_mapping);
	return err;
}

int rlfs_setattr(struct rlfs_idmap *idmap, struct dentry *dentry,
		 struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	handle_t *handle;
	int err, err2;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;

	if (attr->ia_valid & ATTR_SIZE) {
		if (!S_ISREG(inode->i_mode))
			return -EINVAL;
		if (attr->ia_size != i_size_read(inode)) {
			inode_dio_wait(inode);
			err = rlfs_truncate(inode, attr->ia_size);
			if (err)
				return err;
		}
	}
	if (!(attr->ia_valid & ~ATTR_SIZE))
		return 0;

	handle = rlfs_journal_start(inode->i_sb, RLFS_INODE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	setattr_copy(idmap, inode, attr);
	err = rlfs_mark_inode_dirty(handle, inode);
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

int rlfs_getattr(struct rlfs_idmap *idmap, const struct path *path,
		 struct kstat *stat, u32 request_mask, unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct rlfs_inode_info *ei = RLFS_I(inode);
	u32 iflags = READ_ONCE(ei->i_flags);

	if (request_mask & STATX_BTIME) {
		stat->result_mask |= STATX_BTIME;
		stat->btime = ei->i_crtime;
	}
	if (iflags & RLFS_IMMUTABLE_FL)
		stat->attributes |= STATX_ATTR_IMMUTABLE;
	if (iflags & RLFS_APPEND_FL)
		stat->attributes |= STATX_ATTR_APPEND;
	if (iflags & RLFS_NODUMP_FL)
		stat->attributes |= STATX_ATTR_NODUMP;
	stat->attributes_mask |= STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND |
				 STATX_ATTR_NODUMP;
	rlfs_fillattr(idmap, request_mask, inode, stat);
	stat->blksize = RLFS_BLOCK_SIZE;
	return 0;
}
