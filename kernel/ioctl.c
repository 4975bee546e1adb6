// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs ioctls and inode flags: the ioctl entry point (the reflink
 * ioctl itself lives in reflink.c; FS_IOC_GETFLAGS and FS_IOC_SETFLAGS
 * reach ->fileattr_get/->fileattr_set through the VFS), the read-only
 * GET_INFO and GET_EXTENTS, FS_IOC_GETVERSION, and chattr/lsattr support.
 * Every structure has one layout for 32-bit and 64-bit callers.
 */

#include <linux/fs.h>
#include <linux/fileattr.h>
#include <linux/compat.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include <uapi/linux/reflinkfs.h>
#include "reflinkfs.h"

/*
 * Read a size-versioned argument (struct reflinkfs_info and
 * reflinkfs_extents_args begin with __u32 size): at least @ver0 bytes,
 * bytes past @ksize zero (-E2BIG, as openat2(2)).  Returns the caller's
 * size or -errno.
 */
static long rlfs_get_sized_arg(void *karg, size_t ksize, size_t ver0,
			       const void __user *uarg)
{
	u32 usize;
	int err;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (usize < ver0)
		return -EINVAL;
	err = copy_struct_from_user(karg, ksize, uarg, usize);
	if (err)
		return err;	/* not "err ? err : usize": that is unsigned */
	return usize;
}

/* Fill the reference-count totals of @info from the file's runs. */
static int rlfs_info_sharing(struct inode *inode, struct reflinkfs_info *info)
{
	struct rlfs_run run;
	u64 lblk = 0;
	int ret;

	while ((ret = rlfs_next_run(inode, lblk, U32_MAX, false, &run)) > 0) {
		if (run.refcount >= 2)
			info->shared_bytes += run.len << RLFS_BLOCK_BITS;
		else
			info->exclusive_bytes += run.len << RLFS_BLOCK_BITS;
		lblk = run.lblk + run.len;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return ret;
}

/*
 * REFLINKFS_IOC_GET_INFO: identity, snapshot record and sharing of a
 * regular file, under its i_rwsem (shared) so that no write or truncate
 * runs between the walk and the record.
 */
static long rlfs_ioc_get_info(struct file *file, void __user *uarg)
{
	struct inode *inode = file_inode(file);
	struct rlfs_inode_info *ei = RLFS_I(inode);
	struct reflinkfs_info info;
	long usize;
	int err;

	usize = rlfs_get_sized_arg(&info, sizeof(info),
				   REFLINKFS_INFO_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (info.flags || info.reserved0 ||
	    memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;
	if (!S_ISREG(inode->i_mode))
		return -EINVAL;

	memset(&info, 0, sizeof(info));
	inode_lock_shared(inode);
	err = rlfs_info_sharing(inode, &info);
	if (ei->i_flags & RLFS_SNAPSHOT_FL)
		info.info_flags |= REFLINKFS_INFO_SNAPSHOT;
	if (ei->i_flags & RLFS_IMMUTABLE_FL)
		info.info_flags |= REFLINKFS_INFO_IMMUTABLE;
	if (ei->i_lineage)
		info.info_flags |= REFLINKFS_INFO_LINEAGE;
	info.ino = inode->i_ino;
	info.generation = inode->i_generation;
	info.origin_ino = ei->i_snap_origin;
	info.origin_generation = ei->i_snap_origin_gen;
	info.lineage = ei->i_lineage;
	info.snap_time_sec = ei->i_crtime.tv_sec;
	info.snap_time_nsec = ei->i_crtime.tv_nsec;
	info.size_bytes = i_size_read(inode);
	inode_unlock_shared(inode);
	if (err)
		return err;

	info.size = min_t(size_t, usize, sizeof(info));
	if (copy_to_user(uarg, &info, info.size))
		return -EFAULT;
	return 0;
}

/*
 * REFLINKFS_IOC_GET_EXTENTS: the runs of a byte range with their counts,
 * copied out one at a time with no lock held (as FIEMAP: a fault on the
 * user buffer may read this very file).
 */
static long rlfs_ioc_get_extents(struct file *file, void __user *uarg)
{
	struct inode *inode = file_inode(file);
	struct reflinkfs_extents_args args;
	struct reflinkfs_extent __user *uext;
	struct reflinkfs_extent ext;
	struct rlfs_run run, next;
	u64 lblk, end, limit = (u64)U32_MAX << RLFS_BLOCK_BITS;
	u32 filled = 0;
	long usize;
	int ret;

	usize = rlfs_get_sized_arg(&args, sizeof(args),
				   REFLINKFS_EXTENTS_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (args.flags || args.reserved0 ||
	    memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;
	if (!S_ISREG(inode->i_mode))
		return -EINVAL;
	uext = u64_to_user_ptr(args.extents);

	end = args.start < limit ? args.start + min(args.length,
						    limit - args.start) : limit;
	args.next = end;
	lblk = min(args.start, limit) >> RLFS_BLOCK_BITS;
	end = rlfs_blocks_of(end);
	ret = rlfs_next_run(inode, lblk, end, true, &run);
	while (ret > 0) {
		if (args.count && filled == args.count) {
			args.next = ext.logical + ext.length;
			break;
		}
		ret = rlfs_next_run(inode, run.lblk + run.len, end, true,
				    &next);
		if (ret < 0)
			break;
		if (args.count) {
			memset(&ext, 0, sizeof(ext));
			ext.logical = run.lblk << RLFS_BLOCK_BITS;
			ext.physical = run.pblk << RLFS_BLOCK_BITS;
			ext.length = run.len << RLFS_BLOCK_BITS;
			ext.refcount = run.refcount;
			if (!ret) {
				int more = rlfs_any_data_from(inode, run.lblk +
							      run.len);

				if (more < 0) {
					ret = more;
					break;
				}
				if (!more)
					ext.flags |= REFLINKFS_EXTENT_LAST;
			}
			if (copy_to_user(&uext[filled], &ext, sizeof(ext))) {
				ret = -EFAULT;
				break;
			}
		}
		filled++;
		run = next;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	if (ret < 0)
		return ret;

	args.count = filled;
	args.size = min_t(size_t, usize, sizeof(args));
	if (copy_to_user(uarg, &args, args.size))
		return -EFAULT;
	return 0;
}

long rlfs_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case FS_IOC_GETVERSION:
		return put_user(file_inode(file)->i_generation,
				(int __user *)uarg);
	case REFLINKFS_IOC_REFLINK:
		return rlfs_ioctl_reflink(file, uarg);
	case REFLINKFS_IOC_GET_INFO:
		return rlfs_ioc_get_info(file, uarg);
	case REFLINKFS_IOC_GET_EXTENTS:
		return rlfs_ioc_get_extents(file, uarg);
	}
	return -ENOTTY;
}

#ifdef CONFIG_COMPAT
/*
 * 32-bit callers: the reflinkfs structures have one layout, so only the
 * pointer changes; FS_IOC32_GETVERSION differs from FS_IOC_GETVERSION in
 * its encoded size only (an int either way).
 */
long rlfs_compat_ioctl(struct file *file, unsigned int cmd,
		       unsigned long arg)
{
	if (cmd == FS_IOC32_GETVERSION)
		cmd = FS_IOC_GETVERSION;
	return rlfs_ioctl(file, cmd, (unsigned long)compat_ptr(arg));
}
#endif

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

	lockdep_assert_held(&inode->i_rwsem);
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
