/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version glue.  This is the only file that looks at
 * LINUX_VERSION_CODE.  It never redefines a kernel name: every wrapper is
 * rlfs_-prefixed, because Debian's 6.1 carries backports (the ctime
 * helpers, for instance) that a version test would get wrong.
 */
#ifndef _REFLINKFS_COMPAT_H
#define _REFLINKFS_COMPAT_H

#include <linux/version.h>
#include <linux/fs.h>
#include <linux/mnt_idmapping.h>
#include <linux/buffer_head.h>
#include <linux/mount.h>

/*
 * The idmap argument of inode operations: struct user_namespace up to
 * 6.2, struct mnt_idmap from 6.3.  Write "struct rlfs_idmap *".
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define rlfs_idmap		mnt_idmap
#define RLFS_NOP_IDMAP		(&nop_mnt_idmap)
#else
#define rlfs_idmap		user_namespace
#define RLFS_NOP_IDMAP		(&init_user_ns)
#endif

/*
 * ->write_begin / ->write_end pass a page up to 6.11 and a folio from
 * 6.12.  Write "struct rlfs_wb_folio *" and convert with
 * rlfs_wb_to_folio().
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define rlfs_wb_folio		folio
static inline struct folio *rlfs_wb_to_folio(struct folio *folio)
{
	return folio;
}
#else
#define rlfs_wb_folio		page
static inline struct folio *rlfs_wb_to_folio(struct page *page)
{
	return page_folio(page);
}
#endif

static inline void rlfs_fillattr(struct rlfs_idmap *idmap, u32 request_mask,
				 struct inode *inode, struct kstat *stat)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	generic_fillattr(idmap, request_mask, inode, stat);
#else
	generic_fillattr(idmap, inode, stat);
#endif
}

/*
 * atime/mtime accessors appeared in 6.7; ctime ones are used directly
 * (inode_get_ctime(), inode_set_ctime_to_ts(), inode_set_ctime_current()),
 * since Debian's 6.1 has them.
 */
static inline struct timespec64 rlfs_get_atime(const struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return inode_get_atime(inode);
#else
	return inode->i_atime;
#endif
}

static inline struct timespec64 rlfs_get_mtime(const struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return inode_get_mtime(inode);
#else
	return inode->i_mtime;
#endif
}

static inline void rlfs_set_atime(struct inode *inode, struct timespec64 ts)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	inode_set_atime_to_ts(inode, ts);
#else
	inode->i_atime = ts;
#endif
}

static inline void rlfs_set_mtime(struct inode *inode, struct timespec64 ts)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	inode_set_mtime_to_ts(inode, ts);
#else
	inode->i_mtime = ts;
#endif
}

/* Set mtime and ctime to the current time, as a data or name change does. */
static inline void rlfs_touch_mctime(struct inode *inode)
{
	rlfs_set_mtime(inode, inode_set_ctime_current(inode));
}

/* ->splice_read: generic_file_splice_read() was replaced in 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define rlfs_splice_read	filemap_splice_read
#else
#define rlfs_splice_read	generic_file_splice_read
#endif

/*
 * The filesystem UUID for FS_IOC_GETFSUUID and friends: from 6.9 the VFS
 * also wants its length (s_uuid_len, set by super_set_uuid()).
 */
static inline void rlfs_set_uuid(struct super_block *sb, const u8 *uuid)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	super_set_uuid(sb, uuid, sizeof(sb->s_uuid));
#else
	memcpy(&sb->s_uuid, uuid, sizeof(sb->s_uuid));
#endif
}

/* The idmap of a mount: mnt_idmap() since 6.3. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define rlfs_mnt_idmap(mnt)	mnt_idmap(mnt)
#else
#define rlfs_mnt_idmap(mnt)	mnt_user_ns(mnt)
#endif

/* create_empty_buffers() takes a folio and returns the head since 6.6. */
static inline struct buffer_head *
rlfs_create_empty_buffers(struct folio *folio, unsigned long blocksize)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	return create_empty_buffers(folio, blocksize, 0);
#else
	create_empty_buffers(&folio->page, blocksize, 0);
	return folio_buffers(folio);
#endif
}

#endif /* _REFLINKFS_COMPAT_H */
