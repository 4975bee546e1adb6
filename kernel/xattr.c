// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs extended attributes: the user., trusted. and security.
 * namespaces, stored in one RLFS_XATTR_MAGIC block per inode
 * (i_xattr_blk).  Entries are packed after the block header, 4-byte
 * aligned, and end at an entry with xe_name_len 0 or at the end of the
 * block.  A change rewrites the entry list in a bounce buffer and then
 * the block, in one transaction; the block is freed with its last entry.
 *
 * Locking: the VFS holds i_rwsem for set; i_xattr_sem (inside the jbd2
 * handle) protects the block and i_xattr_blk.
 */

#include <linux/fs.h>
#include <linux/xattr.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "reflinkfs.h"

#define RLFS_XATTR_FIRST	((unsigned int)sizeof(struct rlfs_block_header))
#define RLFS_XATTR_ROOM		(RLFS_BLOCK_SIZE - RLFS_XATTR_FIRST)

static inline struct rlfs_xattr_entry *rlfs_xe_at(void *base, unsigned int off)
{
	return (struct rlfs_xattr_entry *)((char *)base + off);
}

static inline unsigned int rlfs_xe_size(const struct rlfs_xattr_entry *xe)
{
	return RLFS_XATTR_ENTRY_SIZE(xe->xe_name_len,
				     le16_to_cpu(xe->xe_value_len));
}

static inline char *rlfs_xe_value(struct rlfs_xattr_entry *xe)
{
	return xe->xe_name + xe->xe_name_len;
}

/*
 * Read and verify the xattr block of @inode (i_xattr_sem held); *@len is
 * the number of bytes its entries use after the header.
 */
static struct buffer_head *rlfs_xattr_bread(struct inode *inode,
					    unsigned int *len)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);
	unsigned int off;
	struct buffer_head *bh;
	const char *why;

	lockdep_assert_held(&ei->i_xattr_sem);
	bh = rlfs_read_meta(inode->i_sb, ei->i_xattr_blk, RLFS_XATTR_MAGIC,
			    inode->i_ino);
	if (IS_ERR(bh))
		return bh;
	why = rlfs_verify_xattr_block(bh->b_data, &off, len);
	if (why) {
		rlfs_corrupt_block(inode->i_sb, bh->b_blocknr,
				   "block %llu: xattr block of inode %lu: %s at offset %u",
				   (unsigned long long)bh->b_blocknr,
				   inode->i_ino, why, off);
		brelse(bh);
		return ERR_PTR(-EFSCORRUPTED);
	}
	return bh;
}

/* Find (@index, @name) in a verified entry list; NULL if absent. */
static struct rlfs_xattr_entry *rlfs_xattr_find(void *data, unsigned int len,
						int index, const char *name,
						size_t name_len)
{
	unsigned int off = 0;

	while (off + sizeof(struct rlfs_xattr_entry) <= len) {
		struct rlfs_xattr_entry *xe = rlfs_xe_at(data, off);

		if (!xe->xe_name_len)
			break;
		if (xe->xe_index == index && xe->xe_name_len == name_len &&
		    !memcmp(xe->xe_name, name, name_len))
			return xe;
		off += rlfs_xe_size(xe);
	}
	return NULL;
}

static int rlfs_xattr_get(struct inode *inode, int index, const char *name,
			  void *buffer, size_t size)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);
	struct rlfs_xattr_entry *xe;
	struct buffer_head *bh;
	size_t name_len = strlen(name);
	unsigned int len;
	size_t value_len;
	int ret;

	if (name_len > RLFS_NAME_LEN)
		return -ERANGE;

	down_read(&ei->i_xattr_sem);
	if (!ei->i_xattr_blk) {
		ret = -ENODATA;
		goto out;
	}
	bh = rlfs_xattr_bread(inode, &len);
	if (IS_ERR(bh)) {
		ret = PTR_ERR(bh);
		goto out;
	}
	xe = rlfs_xattr_find(bh->b_data + RLFS_XATTR_FIRST, len, index, name,
			     name_len);
	if (!xe) {
		ret = -ENODATA;
	} else {
		value_len = le16_to_cpu(xe->xe_value_len);
		ret = value_len;
		if (buffer) {
			if (value_len > size)
				ret = -ERANGE;
			else
				memcpy(buffer, rlfs_xe_value(xe), value_len);
		}
	}
	brelse(bh);
out:
	up_read(&ei->i_xattr_sem);
	return ret;
}

/*
 * Set, replace or (@value NULL) remove an attribute of @inode within the
 * caller's handle, which has RLFS_XATTR_CREDITS for it.
 */
static int __rlfs_xattr_set(handle_t *handle, struct inode *inode, int index,
			    const char *name, const void *value, size_t size,
			    int flags)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);
	struct super_block *sb = inode->i_sb;
	size_t name_len = strlen(name);
	struct buffer_head *bh = NULL;
	struct rlfs_xattr_entry *xe, *old = NULL;
	unsigned int len = 0, used, off;
	u8 *buf;
	int err;

	if (name_len > RLFS_NAME_LEN)
		return -ERANGE;
	if (!name_len)
		return -EINVAL;
	if (value && size > U16_MAX)
		return -ENOSPC;

	buf = kzalloc(RLFS_XATTR_ROOM, GFP_NOFS);
	if (!buf)
		return -ENOMEM;

	down_write(&ei->i_xattr_sem);
	if (ei->i_xattr_blk) {
		bh = rlfs_xattr_bread(inode, &len);
		if (IS_ERR(bh)) {
			err = PTR_ERR(bh);
			bh = NULL;
			goto out;
		}
		old = rlfs_xattr_find(bh->b_data + RLFS_XATTR_FIRST, len,
				      index, name, name_len);
	}
	if (old && (flags & XATTR_CREATE)) {
		err = -EEXIST;
		goto out;
	}
	if (!old && (flags & XATTR_REPLACE || !value)) {
		err = -ENODATA;
		goto out;
	}

	/* Build the new list in buf: every other entry, then the new one. */
	used = 0;
	for (off = 0; off < len; ) {
		xe = rlfs_xe_at(bh->b_data + RLFS_XATTR_FIRST, off);
		off += rlfs_xe_size(xe);
		if (xe == old)
			continue;
		memcpy(buf + used, xe, rlfs_xe_size(xe));
		used += rlfs_xe_size(xe);
	}
	if (value) {
		unsigned int need = RLFS_XATTR_ENTRY_SIZE(name_len, size);

		if (used + need > RLFS_XATTR_ROOM) {
			err = -ENOSPC;
			goto out;
		}
		xe = rlfs_xe_at(buf, used);
		xe->xe_index = index;
		xe->xe_name_len = name_len;
		xe->xe_value_len = cpu_to_le16(size);
		memcpy(xe->xe_name, name, name_len);
		memcpy(rlfs_xe_value(xe), value, size);
		used += need;
	}

	if (!used) {
		/* The last attribute went: free the block. */
		u64 blk = ei->i_xattr_blk;

		brelse(bh);
		bh = NULL;
		err = rlfs_free_meta_block(handle, inode->i_sb, inode, blk);
		if (err)
			goto out;
		ei->i_xattr_blk = 0;
	} else if (!bh) {
		u32 count = 1;
		u64 blk;

		err = rlfs_alloc_blocks(handle, inode->i_sb, inode, 0, &count,
					&blk, 0);
		if (err)
			goto out;
		bh = rlfs_new_meta(handle, sb, blk, RLFS_XATTR_MAGIC,
				   inode->i_ino);
		if (IS_ERR(bh)) {
			err = PTR_ERR(bh);
			bh = NULL;
			rlfs_free_blocks(handle, inode->i_sb, inode, blk, 1);
			goto out;
		}
		memcpy(bh->b_data + RLFS_XATTR_FIRST, buf, used);
		err = rlfs_journal_dirty_meta(handle, bh);
		if (err)
			goto out;
		ei->i_xattr_blk = blk;
	} else {
		err = rlfs_journal_get_write_access(handle, sb, bh);
		if (err)
			goto out;
		memcpy(bh->b_data + RLFS_XATTR_FIRST, buf, RLFS_XATTR_ROOM);
		err = rlfs_journal_dirty_meta(handle, bh);
		if (err)
			goto out;
	}
	inode_set_ctime_current(inode);
	err = rlfs_mark_inode_dirty(handle, inode);
out:
	up_write(&ei->i_xattr_sem);
	brelse(bh);
	kfree(buf);
	return err;
}

static int rlfs_xattr_set(struct inode *inode, int index, const char *name,
			  const void *value, size_t size, int flags)
{
	struct super_block *sb = inode->i_sb;
	handle_t *handle;
	int retries = 0;
	int err, err2;

retry:
	handle = rlfs_journal_start(sb, RLFS_XATTR_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = __rlfs_xattr_set(handle, inode, index, name, value, size, flags);
	if (IS_SYNC(inode))
		handle->h_sync = 1;
	err2 = rlfs_journal_stop(handle);
	if (err == -ENOSPC && rlfs_should_retry_alloc(sb, &retries))
		goto retry;
	return err ? err : err2;
}

static int rlfs_xattr_handler_get(const struct xattr_handler *handler,
				  struct dentry *dentry, struct inode *inode,
				  const char *name, void *buffer, size_t size)
{
	return rlfs_xattr_get(inode, handler->flags, name, buffer, size);
}

static int rlfs_xattr_handler_set(const struct xattr_handler *handler,
				  struct rlfs_idmap *idmap,
				  struct dentry *dentry, struct inode *inode,
				  const char *name, const void *value,
				  size_t size, int flags)
{
	return rlfs_xattr_set(inode, handler->flags, name, value, size, flags);
}

static const struct xattr_handler rlfs_xattr_user_handler = {
	.prefix	= XATTR_USER_PREFIX,
	.flags	= RLFS_XATTR_INDEX_USER,
	.get	= rlfs_xattr_handler_get,
	.set	= rlfs_xattr_handler_set,
};

static const struct xattr_handler rlfs_xattr_trusted_handler = {
	.prefix	= XATTR_TRUSTED_PREFIX,
	.flags	= RLFS_XATTR_INDEX_TRUSTED,
	.get	= rlfs_xattr_handler_get,
	.set	= rlfs_xattr_handler_set,
};

static const struct xattr_handler rlfs_xattr_security_handler = {
	.prefix	= XATTR_SECURITY_PREFIX,
	.flags	= RLFS_XATTR_INDEX_SECURITY,
	.get	= rlfs_xattr_handler_get,
	.set	= rlfs_xattr_handler_set,
};

const struct xattr_handler *rlfs_xattr_handlers[] = {
	&rlfs_xattr_user_handler,
	&rlfs_xattr_trusted_handler,
	&rlfs_xattr_security_handler,
	NULL
};

static const char *rlfs_xattr_prefix(int index, size_t *len)
{
	switch (index) {
	case RLFS_XATTR_INDEX_USER:
		*len = XATTR_USER_PREFIX_LEN;
		return XATTR_USER_PREFIX;
	case RLFS_XATTR_INDEX_TRUSTED:
		if (!capable(CAP_SYS_ADMIN))
			return NULL;
		*len = XATTR_TRUSTED_PREFIX_LEN;
		return XATTR_TRUSTED_PREFIX;
	case RLFS_XATTR_INDEX_SECURITY:
		*len = XATTR_SECURITY_PREFIX_LEN;
		return XATTR_SECURITY_PREFIX;
	}
	return NULL;
}

ssize_t rlfs_listxattr(struct dentry *dentry, char *buffer, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct rlfs_inode_info *ei = RLFS_I(inode);
	struct buffer_head *bh;
	unsigned int off, len;
	ssize_t total = 0;

	down_read(&ei->i_xattr_sem);
	if (!ei->i_xattr_blk)
		goto out;
	bh = rlfs_xattr_bread(inode, &len);
	if (IS_ERR(bh)) {
		total = PTR_ERR(bh);
		goto out;
	}
	for (off = 0; off < len; ) {
		struct rlfs_xattr_entry *xe;
		const char *prefix;
		size_t plen, need;

		xe = rlfs_xe_at(bh->b_data + RLFS_XATTR_FIRST, off);
		off += rlfs_xe_size(xe);
		prefix = rlfs_xattr_prefix(xe->xe_index, &plen);
		if (!prefix)
			continue;
		need = plen + xe->xe_name_len + 1;
		if (buffer) {
			if (total + need > size) {
				total = -ERANGE;
				break;
			}
			memcpy(buffer + total, prefix, plen);
			memcpy(buffer + total + plen, xe->xe_name,
			       xe->xe_name_len);
			buffer[total + need - 1] = '\0';
		}
		total += need;
	}
	brelse(bh);
out:
	up_read(&ei->i_xattr_sem);
	return total;
}

/*
 * Free the xattr block of @inode being deleted, within the caller's
 * handle.  The block is checked to belong to the inode first: a corrupt
 * pointer is dropped (leaking the block, which fsck finds) rather than
 * freeing a block of someone else or keeping the inode forever.
 */
int rlfs_xattr_delete_inode(handle_t *handle, struct inode *inode)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);
	struct buffer_head *bh;
	u64 blk;
	int err = 0;

	down_write(&ei->i_xattr_sem);
	blk = ei->i_xattr_blk;
	if (!blk)
		goto out;
	bh = rlfs_read_meta(inode->i_sb, blk, RLFS_XATTR_MAGIC, inode->i_ino);
	if (IS_ERR(bh)) {
		err = PTR_ERR(bh);
		/* Not ours (reported already): leak it, delete the inode. */
		if (err == -EFSCORRUPTED) {
			ei->i_xattr_blk = 0;
			err = 0;
		}
		goto out;
	}
	brelse(bh);
	err = rlfs_free_meta_block(handle, inode->i_sb, inode, blk);
	if (!err)
		ei->i_xattr_blk = 0;
out:
	up_write(&ei->i_xattr_sem);
	return err;
}

static int rlfs_initxattrs(struct inode *inode, const struct xattr *xattrs,
			   void *fs_info)
{
	handle_t *handle = fs_info;
	const struct xattr *xattr;
	int err = 0;

	for (xattr = xattrs; xattr->name; xattr++) {
		err = __rlfs_xattr_set(handle, inode, RLFS_XATTR_INDEX_SECURITY,
				       xattr->name, xattr->value,
				       xattr->value_len, XATTR_CREATE);
		if (err)
			break;
	}
	return err;
}

/*
 * Let the LSMs label a new inode, within the creating handle (which has
 * RLFS_XATTR_CREDITS for it).
 */
int rlfs_init_security(handle_t *handle, struct inode *inode,
		       struct inode *dir, const struct qstr *qstr)
{
	return security_inode_init_security(inode, dir, qstr,
					    &rlfs_initxattrs, handle);
}
