// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs symlinks.  A target shorter than the inode's data area is kept
 * there, NUL terminated (fast symlink, RLFS_FAST_SYMLINK_FL); a longer one
 * lives in one RLFS_SYMLINK_MAGIC block mapped at logical block 0.
 */

#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "reflinkfs.h"

/*
 * Store @target (@len bytes, no NUL) in the new symlink @inode, within the
 * caller's handle (RLFS_WRITE_CREDITS + 1 for a slow symlink).
 */
int rlfs_create_symlink(handle_t *handle, struct inode *inode,
			const char *target, size_t len)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);
	struct super_block *sb = inode->i_sb;
	struct rlfs_map map = { .m_lblk = 0, .m_len = 1 };
	struct rlfs_symlink_block *sl;
	struct buffer_head *bh;
	int ret;

	if (len < RLFS_INODE_DATA_SIZE) {
		memset(ei->i_data, 0, sizeof(ei->i_data));
		memcpy(ei->i_data, target, len);
		ei->i_flags |= RLFS_FAST_SYMLINK_FL;
		inode->i_link = (char *)ei->i_data;
		inode->i_op = &rlfs_fast_symlink_inode_operations;
		i_size_write(inode, len);
		return rlfs_mark_inode_dirty(handle, inode);
	}
	if (len > RLFS_SLOW_SYMLINK_MAX)
		return -ENAMETOOLONG;

	inode->i_op = &rlfs_symlink_inode_operations;
	ret = rlfs_map_blocks(handle, inode, &map, RLFS_MAP_CREATE);
	if (ret < 0)
		return ret;
	if (ret == 0 || !map.m_new) {
		rlfs_corrupt(sb, "inode %lu: new symlink already has a block",
			     inode->i_ino);
		return -EFSCORRUPTED;
	}
	bh = rlfs_new_meta(handle, sb, map.m_pblk, RLFS_SYMLINK_MAGIC,
			   inode->i_ino);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	sl = (struct rlfs_symlink_block *)bh->b_data;
	memcpy(sl->sl_target, target, len);
	ret = rlfs_journal_dirty_meta(handle, bh);
	brelse(bh);
	if (ret)
		return ret;
	i_size_write(inode, len);
	return rlfs_mark_inode_dirty(handle, inode);
}

static const char *rlfs_get_link(struct dentry *dentry, struct inode *inode,
				 struct delayed_call *done)
{
	struct super_block *sb = inode->i_sb;
	struct rlfs_map map = { .m_lblk = 0, .m_len = 1 };
	struct rlfs_symlink_block *sl;
	struct buffer_head *bh;
	loff_t size = i_size_read(inode);
	const char *why;
	char *link;
	int ret;

	if (!dentry)
		return ERR_PTR(-ECHILD);

	ret = rlfs_map_blocks(NULL, inode, &map, 0);
	if (ret < 0)
		return ERR_PTR(ret);
	if (ret == 0) {
		rlfs_corrupt(sb, "inode %lu: symlink has no block",
			     inode->i_ino);
		return ERR_PTR(-EFSCORRUPTED);
	}
	bh = rlfs_read_meta(sb, map.m_pblk, RLFS_SYMLINK_MAGIC, inode->i_ino);
	if (IS_ERR(bh))
		return ERR_CAST(bh);
	sl = (struct rlfs_symlink_block *)bh->b_data;
	why = rlfs_verify_symlink_block(sl, size);
	if (why) {
		rlfs_corrupt_block(sb, bh->b_blocknr,
				   "block %llu: symlink %lu: %s (size %lld)",
				   (unsigned long long)bh->b_blocknr, inode->i_ino,
				   why, size);
		brelse(bh);
		return ERR_PTR(-EFSCORRUPTED);
	}
	link = kmemdup(sl->sl_target, size + 1, GFP_NOFS);
	brelse(bh);
	if (!link)
		return ERR_PTR(-ENOMEM);
	set_delayed_call(done, kfree_link, link);
	return link;
}

const struct inode_operations rlfs_fast_symlink_inode_operations = {
	.get_link	= simple_get_link,
	.setattr	= rlfs_setattr,
	.getattr	= rlfs_getattr,
	.listxattr	= rlfs_listxattr,
};

const struct inode_operations rlfs_symlink_inode_operations = {
	.get_link	= rlfs_get_link,
	.setattr	= rlfs_setattr,
	.getattr	= rlfs_getattr,
	.listxattr	= rlfs_listxattr,
};
