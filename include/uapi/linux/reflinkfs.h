/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * reflinkfs user ABI: ioctls and flags.
 *
 * See Documentation/filesystems/reflinkfs-abi.rst for the semantics and
 * every errno.
 */
#ifndef _UAPI_LINUX_REFLINKFS_H
#define _UAPI_LINUX_REFLINKFS_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* statfs(2) f_type of a reflinkfs filesystem. */
#define REFLINKFS_SUPER_MAGIC		0x52464c53

/* struct reflinkfs_reflink_args.flags */
/* Keep owner, group, mode, mtime and xattrs of the source (OCFS2 rules). */
#define REFLINKFS_REFLINK_PRESERVE	(1U << 0)
/* The clone is born immutable: a snapshot with no writable window. */
#define REFLINKFS_REFLINK_IMMUTABLE	(1U << 1)
#define REFLINKFS_REFLINK_ALL_FLAGS	(REFLINKFS_REFLINK_PRESERVE | \
					 REFLINKFS_REFLINK_IMMUTABLE)

/*
 * REFLINKFS_IOC_REFLINK, issued on the source file descriptor: create
 * dest_name, relative to dest_dirfd (or AT_FDCWD), as a new regular file
 * sharing every extent of the source.  The new inode is built unlinked
 * and linked last, so after a crash it exists whole or not at all.
 */
struct reflinkfs_reflink_args {
	__s32	dest_dirfd;	/* directory fd or AT_FDCWD */
	__u32	flags;		/* REFLINKFS_REFLINK_* */
	__u64	dest_name;	/* user pointer to a NUL-terminated name */
	__u64	reserved[4];	/* must be zero */
};

#define REFLINKFS_IOC_MAGIC		0xf5
#define REFLINKFS_IOC_REFLINK		_IOW(REFLINKFS_IOC_MAGIC, 1, \
					     struct reflinkfs_reflink_args)

#endif /* _UAPI_LINUX_REFLINKFS_H */
