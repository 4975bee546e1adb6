// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs namespace operations: lookup, create, mknod, mkdir, rmdir,
 * unlink, link, symlink and rename (with RENAME_NOREPLACE and
 * RENAME_EXCHANGE), and the inode operations of directories and special
 * files.
 *
 * Every change runs in one jbd2 handle sized for its worst case.  An inode
 * whose last link goes away is put on the orphan list in the same
 * transaction, so that an open-unlinked file survives a crash and is
 * reclaimed at the next mount; eviction takes it off the list.
 */

#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/string.h>
#include "reflinkfs.h"

/* New inode, its directory entry, the parent, an orphan entry on failure. */
#define RLFS_CREATE_CREDITS	(RLFS_NEWINODE_CREDITS + RLFS_DIRENT_CREDITS + \
				 RLFS_INODE_CREDITS + RLFS_ORPHAN_CREDITS + \
				 RLFS_XATTR_CREDITS)
/* A slow symlink also maps and writes its block. */
#define RLFS_SYMLINK_CREDITS	(RLFS_WRITE_CREDITS + 1)
/*
 * Rename: a new entry (may add a block), the two changed records, the
 * four inodes, an orphan entry for an overwritten target.
 */
#define RLFS_RENAME_CREDITS	(RLFS_DIRENT_CREDITS + 2 + \
				 4 * RLFS_INODE_CREDITS + RLFS_ORPHAN_CREDITS)
/* Unlink and rmdir: the record, both inodes, the orphan entry. */
#define RLFS_UNLINK_CREDITS	(1 + 2 * RLFS_INODE_CREDITS + \
				 RLFS_ORPHAN_CREDITS)

static struct dentry *rlfs_lookup(struct inode *dir, struct dentry *dentry,
				  unsigned int flags)
{
	struct inode *inode = NULL;
	u64 ino;
	int err;

	if (dentry->d_name.len > RLFS_NAME_LEN)
		return ERR_PTR(-ENAMETOOLONG);

	err = rlfs_find_entry(dir, &dentry->d_name, &ino, NULL, NULL);
	if (!err) {
		inode = rlfs_iget(dir->i_sb, ino);
		if (inode == ERR_PTR(-ESTALE)) {
			rlfs_corrupt(dir->i_sb, "directory %lu: entry '%pd' names free inode %llu",
				     dir->i_ino, dentry, ino);
			return ERR_PTR(-EFSCORRUPTED);
		}
	} else if (err != -ENOENT) {
		return ERR_PTR(err);
	}
	return d_splice_alias(inode, dentry);
}

static void rlfs_handle_dirsync(handle_t *handle, struct inode *dir)
{
	if (IS_DIRSYNC(dir))
		handle->h_sync = 1;
}

/*
 * Create a new inode of @mode named by @dentry in @dir: a regular or
 * special file, a directory, or a symlink to @symname.
 */
static int rlfs_create_common(struct rlfs_idmap *idmap, struct inode *dir,
			      struct dentry *dentry, umode_t mode, dev_t rdev,
			      const char *symname)
{
	struct super_block *sb = dir->i_sb;
	int credits = RLFS_CREATE_CREDITS;
	size_t symlen = 0;
	struct inode *inode;
	handle_t *handle;
	int retries = 0;
	int err;

	if (dentry->d_name.len > RLFS_NAME_LEN)
		return -ENAMETOOLONG;
	if (S_ISDIR(mode) && dir->i_nlink >= sb->s_max_links)
		return -EMLINK;
	if (symname) {
		symlen = strlen(symname);
		if (symlen >= sizeof_field(struct rlfs_symlink_block,
					   sl_target))
			return -ENAMETOOLONG;
		credits += RLFS_SYMLINK_CREDITS;
	}

retry:
	handle = rlfs_journal_start(sb, credits);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	rlfs_handle_dirsync(handle, dir);

	inode = rlfs_new_inode(handle, idmap, dir, mode, rdev);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		rlfs_journal_stop(handle);
		goto out_retry;
	}

	err = rlfs_init_security(handle, inode, dir, &dentry->d_name);
	if (err)
		goto out_fail;
	if (symname) {
		err = rlfs_create_symlink(handle, inode, symname, symlen);
		if (err)
			goto out_fail;
	}
	if (S_ISDIR(mode)) {
		set_nlink(inode, 2);
		err = rlfs_mark_inode_dirty(handle, inode);
		if (err)
			goto out_fail;
		inc_nlink(dir);
	}
	err = rlfs_add_entry(handle, dir, &dentry->d_name, inode);
	if (err) {
		if (S_ISDIR(mode)) {
			drop_nlink(dir);
			rlfs_mark_inode_dirty(handle, dir);
		}
		goto out_fail;
	}

	d_instantiate_new(dentry, inode);
	return rlfs_journal_stop(handle);

out_fail:
	/*
	 * The inode number and any blocks are released by eviction; the
	 * orphan entry reclaims them should we crash first.
	 */
	clear_nlink(inode);
	if (!rlfs_mark_inode_dirty(handle, inode))
		rlfs_orphan_add(handle, inode);
	unlock_new_inode(inode);
	rlfs_journal_stop(handle);
	iput(inode);
out_retry:
	if (err == -ENOSPC && rlfs_should_retry_alloc(sb, &retries))
		goto retry;
	return err;
}

static int rlfs_create(struct rlfs_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode, bool excl)
{
	return rlfs_create_common(idmap, dir, dentry, S_IFREG | (mode & ~S_IFMT),
				  0, NULL);
}

static int rlfs_mknod(struct rlfs_idmap *idmap, struct inode *dir,
		      struct dentry *dentry, umode_t mode, dev_t rdev)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case 0:
		return rlfs_create_common(idmap, dir, dentry,
					  S_IFREG | (mode & ~S_IFMT), 0, NULL);
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return rlfs_create_common(idmap, dir, dentry, mode, rdev, NULL);
	}
	return -EINVAL;
}

static int rlfs_mkdir(struct rlfs_idmap *idmap, struct inode *dir,
		      struct dentry *dentry, umode_t mode)
{
	return rlfs_create_common(idmap, dir, dentry, S_IFDIR | (mode & ~S_IFMT),
				  0, NULL);
}

static int rlfs_symlink(struct rlfs_idmap *idmap, struct inode *dir,
			struct dentry *dentry, const char *symname)
{
	return rlfs_create_common(idmap, dir, dentry, S_IFLNK | 0777, 0,
				  symname);
}

/*
 * Find the record of @dentry in @dir and check that it still names the
 * inode the dentry has; a mismatch means the directory changed under the
 * dcache, that is, corruption.
 */
static int rlfs_find_dentry(struct inode *dir, struct dentry *dentry,
			    struct buffer_head **bhp, struct rlfs_dirent **dep)
{
	struct inode *inode = d_inode(dentry);
	u64 ino;
	int err;

	err = rlfs_find_entry(dir, &dentry->d_name, &ino, bhp, dep);
	if (err)
		return err;
	if (ino != inode->i_ino) {
		brelse(*bhp);
		*bhp = NULL;
		rlfs_corrupt(dir->i_sb, "directory %lu: entry '%pd' names inode %llu, expected %lu",
			     dir->i_ino, dentry, ino, inode->i_ino);
		return -EFSCORRUPTED;
	}
	return 0;
}

/* Drop one link of @inode (two for a directory); orphan it at zero. */
static int rlfs_drop_links(handle_t *handle, struct inode *inode)
{
	int err;

	inode_set_ctime_current(inode);
	if (!inode->i_nlink) {
		rlfs_corrupt(inode->i_sb, "inode %lu: unlinking an inode with no links",
			     inode->i_ino);
		set_nlink(inode, 1);
	}
	if (S_ISDIR(inode->i_mode))
		clear_nlink(inode);
	else
		drop_nlink(inode);
	if (!inode->i_nlink) {
		err = rlfs_orphan_add(handle, inode);
		if (err)
			return err;
	}
	return rlfs_mark_inode_dirty(handle, inode);
}

static int rlfs_unlink(struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	struct buffer_head *bh = NULL;
	struct rlfs_dirent *de;
	handle_t *handle;
	int err, err2;

	handle = rlfs_journal_start(dir->i_sb, RLFS_UNLINK_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	rlfs_handle_dirsync(handle, dir);

	err = rlfs_find_dentry(dir, dentry, &bh, &de);
	if (err)
		goto out;
	err = rlfs_delete_entry(handle, dir, bh, de);
	brelse(bh);
	if (err)
		goto out;
	err = rlfs_drop_links(handle, inode);
out:
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

static int rlfs_rmdir(struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	struct buffer_head *bh = NULL;
	struct rlfs_dirent *de;
	handle_t *handle;
	int err, err2;

	err = rlfs_empty_dir(inode);
	if (err < 0)
		return err;
	if (!err)
		return -ENOTEMPTY;

	handle = rlfs_journal_start(dir->i_sb, RLFS_UNLINK_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	rlfs_handle_dirsync(handle, dir);

	err = rlfs_find_dentry(dir, dentry, &bh, &de);
	if (err)
		goto out;
	err = rlfs_delete_entry(handle, dir, bh, de);
	brelse(bh);
	if (err)
		goto out;
	err = rlfs_drop_links(handle, inode);
	if (err)
		goto out;
	drop_nlink(dir);
	err = rlfs_mark_inode_dirty(handle, dir);
out:
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

static int rlfs_link(struct dentry *old_dentry, struct inode *dir,
		     struct dentry *dentry)
{
	struct inode *inode = d_inode(old_dentry);
	struct super_block *sb = dir->i_sb;
	handle_t *handle;
	int retries = 0;
	bool was_orphan;
	int err, err2;

	if (dentry->d_name.len > RLFS_NAME_LEN)
		return -ENAMETOOLONG;
	if (inode->i_nlink >= sb->s_max_links)
		return -EMLINK;

retry:
	handle = rlfs_journal_start(sb, RLFS_DIRENT_CREDITS +
				    2 * RLFS_INODE_CREDITS +
				    RLFS_ORPHAN_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	rlfs_handle_dirsync(handle, dir);

	/* Linking an O_TMPFILE inode brings it back from the orphan list. */
	was_orphan = !inode->i_nlink;
	inode_set_ctime_current(inode);
	inc_nlink(inode);
	ihold(inode);
	err = rlfs_add_entry(handle, dir, &dentry->d_name, inode);
	if (!err && was_orphan)
		err = rlfs_orphan_del(handle, inode);
	if (!err)
		err = rlfs_mark_inode_dirty(handle, inode);
	if (err) {
		drop_nlink(inode);
		rlfs_mark_inode_dirty(handle, inode);
		rlfs_journal_stop(handle);
		iput(inode);
		if (err == -ENOSPC && rlfs_should_retry_alloc(sb, &retries))
			goto retry;
		return err;
	}
	d_instantiate(dentry, inode);
	err2 = rlfs_journal_stop(handle);
	return err2;
}

static int rlfs_tmpfile(struct rlfs_idmap *idmap, struct inode *dir,
			struct file *file, umode_t mode)
{
	struct super_block *sb = dir->i_sb;
	struct inode *inode;
	handle_t *handle;
	int retries = 0;
	int err;

retry:
	handle = rlfs_journal_start(sb, RLFS_NEWINODE_CREDITS +
				    RLFS_ORPHAN_CREDITS + RLFS_XATTR_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	inode = rlfs_new_inode(handle, idmap, dir, S_IFREG | (mode & ~S_IFMT),
			       0);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		rlfs_journal_stop(handle);
		if (err == -ENOSPC && rlfs_should_retry_alloc(sb, &retries))
			goto retry;
		return err;
	}
	err = rlfs_init_security(handle, inode, dir, NULL);
	clear_nlink(inode);
	if (!err)
		err = rlfs_orphan_add(handle, inode);
	if (!err)
		err = rlfs_mark_inode_dirty(handle, inode);
	if (err) {
		unlock_new_inode(inode);
		rlfs_journal_stop(handle);
		iput(inode);
		return err;
	}
	/* d_tmpfile() sets the link count back to one, then drops it. */
	set_nlink(inode, 1);
	d_tmpfile(file, inode);
	unlock_new_inode(inode);
	err = rlfs_journal_stop(handle);
	if (err)
		return err;
	return finish_open_simple(file, 0);
}

/* Swap two names: RENAME_EXCHANGE. */
static int rlfs_rename_exchange(struct inode *old_dir,
				struct dentry *old_dentry,
				struct inode *new_dir,
				struct dentry *new_dentry)
{
	struct inode *old_inode = d_inode(old_dentry);
	struct inode *new_inode = d_inode(new_dentry);
	bool old_is_dir = S_ISDIR(old_inode->i_mode);
	bool new_is_dir = S_ISDIR(new_inode->i_mode);
	struct super_block *sb = old_dir->i_sb;
	struct buffer_head *old_bh = NULL, *new_bh = NULL;
	struct rlfs_dirent *old_de, *new_de;
	handle_t *handle;
	int err, err2;

	if (old_dir != new_dir && old_is_dir != new_is_dir) {
		if (old_is_dir && new_dir->i_nlink >= sb->s_max_links)
			return -EMLINK;
		if (new_is_dir && old_dir->i_nlink >= sb->s_max_links)
			return -EMLINK;
	}

	handle = rlfs_journal_start(sb, RLFS_RENAME_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	rlfs_handle_dirsync(handle, old_dir);
	rlfs_handle_dirsync(handle, new_dir);

	err = rlfs_find_dentry(old_dir, old_dentry, &old_bh, &old_de);
	if (err)
		goto out;
	err = rlfs_find_dentry(new_dir, new_dentry, &new_bh, &new_de);
	if (err)
		goto out;

	err = rlfs_set_entry(handle, old_dir, old_bh, old_de, new_inode);
	if (err)
		goto out;
	err = rlfs_set_entry(handle, new_dir, new_bh, new_de, old_inode);
	if (err)
		goto out;

	if (old_dir != new_dir) {
		if (old_is_dir)
			WRITE_ONCE(RLFS_I(old_inode)->i_parent, new_dir->i_ino);
		if (new_is_dir)
			WRITE_ONCE(RLFS_I(new_inode)->i_parent, old_dir->i_ino);
		if (old_is_dir && !new_is_dir) {
			drop_nlink(old_dir);
			inc_nlink(new_dir);
		} else if (new_is_dir && !old_is_dir) {
			drop_nlink(new_dir);
			inc_nlink(old_dir);
		}
	}
	inode_set_ctime_current(old_inode);
	inode_set_ctime_current(new_inode);
	err = rlfs_mark_inode_dirty(handle, old_inode);
	if (!err)
		err = rlfs_mark_inode_dirty(handle, new_inode);
	if (!err)
		err = rlfs_mark_inode_dirty(handle, old_dir);
	if (!err && new_dir != old_dir)
		err = rlfs_mark_inode_dirty(handle, new_dir);
out:
	brelse(old_bh);
	brelse(new_bh);
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

static int rlfs_rename(struct rlfs_idmap *idmap, struct inode *old_dir,
		       struct dentry *old_dentry, struct inode *new_dir,
		       struct dentry *new_dentry, unsigned int flags)
{
	struct inode *old_inode = d_inode(old_dentry);
	struct inode *new_inode = d_inode(new_dentry);
	bool is_dir = S_ISDIR(old_inode->i_mode);
	struct super_block *sb = old_dir->i_sb;
	struct buffer_head *old_bh = NULL, *new_bh = NULL;
	struct rlfs_dirent *old_de, *new_de;
	handle_t *handle;
	int retries = 0;
	int err, err2;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (new_dentry->d_name.len > RLFS_NAME_LEN)
		return -ENAMETOOLONG;
	if (flags & RENAME_EXCHANGE)
		return rlfs_rename_exchange(old_dir, old_dentry, new_dir,
					    new_dentry);
	if (new_inode && (flags & RENAME_NOREPLACE))
		return -EEXIST;

	if (new_inode) {
		if (is_dir != S_ISDIR(new_inode->i_mode))
			return is_dir ? -ENOTDIR : -EISDIR;
		if (is_dir) {
			err = rlfs_empty_dir(new_inode);
			if (err < 0)
				return err;
			if (!err)
				return -ENOTEMPTY;
		}
	} else if (is_dir && new_dir != old_dir &&
		   new_dir->i_nlink >= sb->s_max_links) {
		return -EMLINK;
	}

retry:
	handle = rlfs_journal_start(sb, RLFS_RENAME_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	rlfs_handle_dirsync(handle, old_dir);
	rlfs_handle_dirsync(handle, new_dir);

	err = rlfs_find_dentry(old_dir, old_dentry, &old_bh, &old_de);
	if (err)
		goto out;

	if (new_inode) {
		err = rlfs_find_dentry(new_dir, new_dentry, &new_bh, &new_de);
		if (err)
			goto out;
		err = rlfs_set_entry(handle, new_dir, new_bh, new_de,
				     old_inode);
		if (err)
			goto out;
		err = rlfs_drop_links(handle, new_inode);
		if (err)
			goto out;
	} else {
		/*
		 * The new record may take the slack of the old one but never
		 * moves it, so old_de stays valid.
		 */
		err = rlfs_add_entry(handle, new_dir, &new_dentry->d_name,
				     old_inode);
		if (err)
			goto out;
	}

	err = rlfs_delete_entry(handle, old_dir, old_bh, old_de);
	if (err)
		goto out;

	if (is_dir) {
		/* The moved directory's ".." leaves old_dir. */
		if (new_dir != old_dir)
			WRITE_ONCE(RLFS_I(old_inode)->i_parent, new_dir->i_ino);
		if (new_inode) {
			/* It replaces new_inode's "..": new_dir unchanged. */
			drop_nlink(old_dir);
		} else if (new_dir != old_dir) {
			drop_nlink(old_dir);
			inc_nlink(new_dir);
		}
	}
	inode_set_ctime_current(old_inode);
	err = rlfs_mark_inode_dirty(handle, old_inode);
	if (!err)
		err = rlfs_mark_inode_dirty(handle, old_dir);
	if (!err && new_dir != old_dir)
		err = rlfs_mark_inode_dirty(handle, new_dir);
out:
	brelse(old_bh);
	brelse(new_bh);
	old_bh = NULL;
	new_bh = NULL;
	err2 = rlfs_journal_stop(handle);
	if (err == -ENOSPC && rlfs_should_retry_alloc(sb, &retries))
		goto retry;
	return err ? err : err2;
}

const struct inode_operations rlfs_dir_inode_operations = {
	.lookup		= rlfs_lookup,
	.create		= rlfs_create,
	.link		= rlfs_link,
	.unlink		= rlfs_unlink,
	.symlink	= rlfs_symlink,
	.mkdir		= rlfs_mkdir,
	.rmdir		= rlfs_rmdir,
	.mknod		= rlfs_mknod,
	.tmpfile	= rlfs_tmpfile,
	.rename		= rlfs_rename,
	.setattr	= rlfs_setattr,
	.getattr	= rlfs_getattr,
	.listxattr	= rlfs_listxattr,
	.fileattr_get	= rlfs_fileattr_get,
	.fileattr_set	= rlfs_fileattr_set,
};

const struct inode_operations rlfs_special_inode_operations = {
	.setattr	= rlfs_setattr,
	.getattr	= rlfs_getattr,
	.listxattr	= rlfs_listxattr,
};
