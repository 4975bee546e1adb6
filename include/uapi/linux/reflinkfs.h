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

/*
 * The generic netlink family "reflinkfs" (status, events, fault
 * injection), specified in Documentation/netlink/specs/reflinkfs.yaml.
 * Between the YNL-GEN markers: exactly what tools/net/ynl/ynl-gen-c.py
 * --mode uapi makes of the spec (scripts/ynl check-uapi compares them);
 * change the spec, never this block by hand.
 */
/* YNL-GEN begin */
#define REFLINKFS_FAMILY_NAME		"reflinkfs"
#define REFLINKFS_FAMILY_VERSION	1

/**
 * enum reflinkfs_mount_state - Mount state of an instance.
 * @REFLINKFS_MOUNT_STATE_RW: mounted read-write
 * @REFLINKFS_MOUNT_STATE_RO: mounted read-only
 * @REFLINKFS_MOUNT_STATE_ERROR: a corruption was seen (the superblock's error
 *   state is set)
 */
enum reflinkfs_mount_state {
	REFLINKFS_MOUNT_STATE_RW,
	REFLINKFS_MOUNT_STATE_RO,
	REFLINKFS_MOUNT_STATE_ERROR,
};

/**
 * enum reflinkfs_event_type - What an event message reports.
 * @REFLINKFS_EVENT_TYPE_MOUNT: the instance was mounted
 * @REFLINKFS_EVENT_TYPE_UNMOUNT: the instance is being unmounted (its last
 *   message)
 * @REFLINKFS_EVENT_TYPE_REFLINK: REFLINKFS_IOC_REFLINK made ino from ino-src
 * @REFLINKFS_EVENT_TYPE_SNAPSHOT: REFLINKFS_IOC_REFLINK made the snapshot ino
 *   of ino-src
 * @REFLINKFS_EVENT_TYPE_CLONE: FICLONE, FICLONERANGE or copy_file_range shared
 *   length bytes
 * @REFLINKFS_EVENT_TYPE_DEDUPE: FIDEDUPERANGE shared length bytes
 * @REFLINKFS_EVENT_TYPE_UNSHARE: FALLOC_FL_UNSHARE_RANGE copied blocks of ino
 * @REFLINKFS_EVENT_TYPE_COW: copy on write gave ino blocks private blocks in
 *   one journal transaction (one message per inode per transaction, sent when
 *   the transaction commits)
 * @REFLINKFS_EVENT_TYPE_ENOSPC: an allocation for ino failed for lack of space
 * @REFLINKFS_EVENT_TYPE_CORRUPTION: a corrupt metadata block (block, 0 if
 *   unknown) was found
 */
enum reflinkfs_event_type {
	REFLINKFS_EVENT_TYPE_MOUNT = 1,
	REFLINKFS_EVENT_TYPE_UNMOUNT,
	REFLINKFS_EVENT_TYPE_REFLINK,
	REFLINKFS_EVENT_TYPE_SNAPSHOT,
	REFLINKFS_EVENT_TYPE_CLONE,
	REFLINKFS_EVENT_TYPE_DEDUPE,
	REFLINKFS_EVENT_TYPE_UNSHARE,
	REFLINKFS_EVENT_TYPE_COW,
	REFLINKFS_EVENT_TYPE_ENOSPC,
	REFLINKFS_EVENT_TYPE_CORRUPTION,
};

/**
 * enum reflinkfs_fault_site - Where an armed fault makes an operation fail.
 * @REFLINKFS_FAULT_SITE_ALLOC: block allocation (data, extent, xattr,
 *   directory, refcount blocks)
 * @REFLINKFS_FAULT_SITE_META_READ: reading a metadata block from disk or cache
 * @REFLINKFS_FAULT_SITE_META_WRITE: getting write access to a metadata block
 *   in a transaction
 * @REFLINKFS_FAULT_SITE_TRANS: starting a journal transaction
 */
enum reflinkfs_fault_site {
	REFLINKFS_FAULT_SITE_ALLOC = 1,
	REFLINKFS_FAULT_SITE_META_READ,
	REFLINKFS_FAULT_SITE_META_WRITE,
	REFLINKFS_FAULT_SITE_TRANS,
};

enum {
	REFLINKFS_A_STATUS_DEV = 1,
	REFLINKFS_A_STATUS_FD,
	REFLINKFS_A_STATUS_UUID,
	REFLINKFS_A_STATUS_LABEL,
	REFLINKFS_A_STATUS_STATE,
	REFLINKFS_A_STATUS_BLOCK_SIZE,
	REFLINKFS_A_STATUS_BLOCKS_TOTAL,
	REFLINKFS_A_STATUS_BLOCKS_FREE,
	REFLINKFS_A_STATUS_BLOCKS_USED,
	REFLINKFS_A_STATUS_SHARED_BLOCKS,
	REFLINKFS_A_STATUS_REFCOUNT_RECORDS,
	REFLINKFS_A_STATUS_LOGICAL_BYTES,
	REFLINKFS_A_STATUS_PHYSICAL_BYTES,
	REFLINKFS_A_STATUS_REFLINKS,
	REFLINKFS_A_STATUS_SNAPSHOTS,
	REFLINKFS_A_STATUS_CLONES,
	REFLINKFS_A_STATUS_DEDUPES,
	REFLINKFS_A_STATUS_COW_BLOCKS,
	REFLINKFS_A_STATUS_UNSHARED_BLOCKS,
	REFLINKFS_A_STATUS_ENOSPC,
	REFLINKFS_A_STATUS_CORRUPTIONS,
	REFLINKFS_A_STATUS_COMMITS,
	REFLINKFS_A_STATUS_PAD,

	__REFLINKFS_A_STATUS_MAX,
	REFLINKFS_A_STATUS_MAX = (__REFLINKFS_A_STATUS_MAX - 1)
};

enum {
	REFLINKFS_A_EVENT_DEV = 1,
	REFLINKFS_A_EVENT_TYPE,
	REFLINKFS_A_EVENT_INO,
	REFLINKFS_A_EVENT_INO_SRC,
	REFLINKFS_A_EVENT_OFFSET,
	REFLINKFS_A_EVENT_LENGTH,
	REFLINKFS_A_EVENT_BLOCKS,
	REFLINKFS_A_EVENT_BLOCK,
	REFLINKFS_A_EVENT_PAD,

	__REFLINKFS_A_EVENT_MAX,
	REFLINKFS_A_EVENT_MAX = (__REFLINKFS_A_EVENT_MAX - 1)
};

enum {
	REFLINKFS_A_FAULT_ENTRY_SITE = 1,
	REFLINKFS_A_FAULT_ENTRY_NTH,
	REFLINKFS_A_FAULT_ENTRY_EVERY,
	REFLINKFS_A_FAULT_ENTRY_ERRNO,
	REFLINKFS_A_FAULT_ENTRY_CALLS,
	REFLINKFS_A_FAULT_ENTRY_FIRED,
	REFLINKFS_A_FAULT_ENTRY_PAD,

	__REFLINKFS_A_FAULT_ENTRY_MAX,
	REFLINKFS_A_FAULT_ENTRY_MAX = (__REFLINKFS_A_FAULT_ENTRY_MAX - 1)
};

enum {
	REFLINKFS_A_FAULT_DEV = 1,
	REFLINKFS_A_FAULT_FD,
	REFLINKFS_A_FAULT_SITE,
	REFLINKFS_A_FAULT_NTH,
	REFLINKFS_A_FAULT_EVERY,
	REFLINKFS_A_FAULT_ERRNO,
	REFLINKFS_A_FAULT_ENTRY,
	REFLINKFS_A_FAULT_REFCOUNT_MAX,

	__REFLINKFS_A_FAULT_MAX,
	REFLINKFS_A_FAULT_MAX = (__REFLINKFS_A_FAULT_MAX - 1)
};

enum {
	REFLINKFS_CMD_STATUS_GET = 1,
	REFLINKFS_CMD_FAULT_SET,
	REFLINKFS_CMD_FAULT_GET,
	REFLINKFS_CMD_FAULT_CLEAR,
	REFLINKFS_CMD_EVENT,

	__REFLINKFS_CMD_MAX,
	REFLINKFS_CMD_MAX = (__REFLINKFS_CMD_MAX - 1)
};

#define REFLINKFS_MCGRP_EVENTS	"events"
/* YNL-GEN end */

#endif /* _UAPI_LINUX_REFLINKFS_H */
