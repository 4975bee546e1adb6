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
/*
 * A snapshot: the clone is born immutable (no writable window; needs
 * CAP_LINUX_IMMUTABLE) and records the source as its origin, in the
 * source's lineage.
 */
#define REFLINKFS_REFLINK_IMMUTABLE	(1U << 1)
/* A restore: the clone joins the source's lineage (see GET_INFO). */
#define REFLINKFS_REFLINK_LINEAGE	(1U << 2)
#define REFLINKFS_REFLINK_ALL_FLAGS	(REFLINKFS_REFLINK_PRESERVE | \
					 REFLINKFS_REFLINK_IMMUTABLE | \
					 REFLINKFS_REFLINK_LINEAGE)

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

/* struct reflinkfs_info.info_flags */
#define REFLINKFS_INFO_SNAPSHOT		(1ULL << 0)	/* made by IMMUTABLE */
#define REFLINKFS_INFO_IMMUTABLE	(1ULL << 1)	/* now immutable */
#define REFLINKFS_INFO_LINEAGE		(1ULL << 2)	/* lineage != 0 */

/*
 * REFLINKFS_IOC_GET_INFO, on any descriptor of a regular file: its
 * identity, its snapshot record and how much of it is shared.
 *
 * Size-versioned: the caller sets size to sizeof() of the structure it
 * was built with (at least REFLINKFS_INFO_SIZE_VER0); the kernel reads
 * and writes that many bytes, requires bytes it does not know to be
 * zero, and returns in size the bytes it filled.
 */
struct reflinkfs_info {
	__u32	size;		/* in: caller's sizeof; out: bytes filled */
	__u32	flags;		/* in: must be zero */
	__u64	info_flags;	/* out: REFLINKFS_INFO_* */
	__u64	ino;		/* out: the file's inode number */
	__u32	generation;	/* out: the file's i_generation */
	__u32	origin_generation; /* out: snapshots: origin's generation */
	__u64	origin_ino;	/* out: snapshots: the file it was taken of */
	__u64	lineage;	/* out: lineage id, 0: none */
	__s64	snap_time_sec;	/* out: birth time; of a snapshot, when taken */
	__u32	snap_time_nsec;
	__u32	reserved0;	/* must be zero */
	__u64	size_bytes;	/* out: i_size */
	__u64	shared_bytes;	/* out: mapped bytes with refcount >= 2 */
	__u64	exclusive_bytes; /* out: mapped bytes with refcount 1 */
	__u64	reserved[8];	/* must be zero */
};
#define REFLINKFS_INFO_SIZE_VER0	152

/* struct reflinkfs_extent.flags */
#define REFLINKFS_EXTENT_LAST		(1U << 0)	/* no data after it */

/* One run of a file's mapping with one reference count. */
struct reflinkfs_extent {
	__u64	logical;	/* file offset, bytes */
	__u64	physical;	/* device offset, bytes */
	__u64	length;		/* bytes */
	__u32	refcount;	/* references to these blocks, >= 1 */
	__u32	flags;		/* REFLINKFS_EXTENT_* */
	__u64	reserved[2];	/* zero */
};

/*
 * REFLINKFS_IOC_GET_EXTENTS, on any descriptor of a regular file: the
 * mapped runs of [start, start + length) with their reference counts,
 * split wherever the physical block or the count changes (so FIEMAP's
 * extents, with the count instead of a shared flag).  count = 0 asks only
 * for the number of runs.  Size-versioned as reflinkfs_info.
 */
struct reflinkfs_extents_args {
	__u32	size;		/* in: caller's sizeof; out: bytes filled */
	__u32	flags;		/* in: must be zero */
	__u64	start;		/* in: first byte of the range */
	__u64	length;		/* in: bytes; ~0ULL for the whole file */
	__u64	extents;	/* in: user pointer to count entries */
	__u32	count;		/* in: entries at extents; out: filled */
	__u32	reserved0;	/* must be zero */
	__u64	next;		/* out: offset to continue from */
	__u64	reserved[4];	/* must be zero */
};
#define REFLINKFS_EXTENTS_SIZE_VER0	80

#define REFLINKFS_IOC_MAGIC		0xf5
#define REFLINKFS_IOC_REFLINK		_IOW(REFLINKFS_IOC_MAGIC, 1, \
					     struct reflinkfs_reflink_args)
#define REFLINKFS_IOC_GET_INFO		_IOWR(REFLINKFS_IOC_MAGIC, 2, \
					      struct reflinkfs_info)
#define REFLINKFS_IOC_GET_EXTENTS	_IOWR(REFLINKFS_IOC_MAGIC, 3, \
					      struct reflinkfs_extents_args)

#endif /* _UAPI_LINUX_REFLINKFS_H */
