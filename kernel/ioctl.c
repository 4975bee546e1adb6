// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs ioctls and inode flags: the ioctl entry point (FS_IOC_GETFLAGS
 * and FS_IOC_SETFLAGS reach ->fileattr_get/->fileattr_set through the VFS)
 * and chattr/lsattr support.
 */

#include <linux/fs.h>
#include <linux/fileattr.h>
#include <uapi/linux/reflinkfs.h>
#include "reflinkfs.h"

long rlfs_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case REFLINKFS_IOC_REFLINK:
		return rlfs_ioctl_reflink(file, (void __user *)arg);
	}
	return -ENOTTY;
}

int rlfs_fileattr_get(struct dentry *dentry, struct fileattr *fa)
{
	struct rlfs_inode_info *ei = RLFS_I(d_inode(dentry));

	fileattr_fill_flags(fa, READ_ONCE(ei->i_flags) & RLFS_USER_FL_MASK);
	return 0;
}

/* Called with i_rwsem held; the VFS checked ownership and capabilities. */
int rlfs_fileattr_set(struct rlfs_idmap *idmap, struct dentry *dentry,
		      struct fileattr *fa)
{
	struct inode *inode = d_inode(dentry);
	struct rlfs_inode_info *ei = RLFS_I(inode);
	handle_t *handle;
	u32 flags;
	int err, err2;

	if (fileattr_has_fsx(fa))
		return -EOPNOTSUPP;
	if (fa->flags & ~RLFS_USER_FL_MASK)
		return -EOPNOTSUPP;

	handle = rlfs_journal_start(inode->i_sb, RLFS_INODE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	flags = (ei->i_flags & ~RLFS_USER_FL_MASK) | fa->flags;
	WRITE_ONCE(ei->i_flags, flags);
	rlfs_set_inode_flags(inode);
	inode_set_ctime_current(inode);
	err = rlfs_mark_inode_dirty(handle, inode);
	if (IS_SYNC(inode))
		handle->h_sync = 1;
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}
