// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs orphan list (as ext4's fs/ext4/orphan.c): inodes with no
 * name left that still own blocks, or whose truncate is not finished,
 * are chained from the superblock's s_orphan_head through
 * i_next_orphan, in memory on rlfs_sb_info.s_orphans in the same order,
 * under s_orphan_lock.  The mount finishes what a crash left on the list
 * (rlfs_recover_orphans()): deletes the unlinked, truncates the rest.
 */

#include "reflinkfs.h"

/* Point the list head in the superblock at ino. */
static int rlfs_set_orphan_head(handle_t *handle, struct super_block *sb,
				u64 ino)
{
	struct rlfs_super_edit edit = {
		.what = RLFS_SE_ORPHAN,
		.orphan_head = ino,
	};

	return rlfs_super_update(handle, sb, &edit);
}

int rlfs_orphan_add(handle_t *handle, struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_inode_info *ei = RLFS_I(inode);
	u64 old_next;
	int err;

	mutex_lock(&sbi->s_orphan_lock);
	if (!list_empty(&ei->i_orphan)) {
		err = 0;
		goto out;
	}
	old_next = ei->i_next_orphan;
	ei->i_next_orphan = le64_to_cpu(sbi->s_rsb->s_orphan_head);
	err = rlfs_mark_inode_dirty(handle, inode);
	if (err) {
		ei->i_next_orphan = old_next;
		goto out;
	}
	err = rlfs_set_orphan_head(handle, sb, inode->i_ino);
	if (err)
		goto out;
	list_add(&ei->i_orphan, &sbi->s_orphans);
out:
	mutex_unlock(&sbi->s_orphan_lock);
	return err;
}

/*
 * Take an inode off the orphan list.  With a NULL handle only the
 * in-memory list is changed (the inode stays on the on-disk list, which
 * the next read-write mount processes), as ext4 does.
 */
int rlfs_orphan_del(handle_t *handle, struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_inode_info *ei = RLFS_I(inode);
	u64 next;
	int err = 0;

	mutex_lock(&sbi->s_orphan_lock);
	if (list_empty(&ei->i_orphan))
		goto out;
	if (!handle) {
		list_del_init(&ei->i_orphan);
		goto out;
	}
	next = ei->i_next_orphan;
	if (ei->i_orphan.prev == &sbi->s_orphans) {
		err = rlfs_set_orphan_head(handle, sb, next);
	} else {
		struct rlfs_inode_info *prev;

		prev = list_prev_entry(ei, i_orphan);
		prev->i_next_orphan = next;
		err = rlfs_mark_inode_dirty(handle, &prev->vfs_inode);
	}
	list_del_init(&ei->i_orphan);
	if (err)
		goto out;
	ei->i_next_orphan = 0;
	err = rlfs_mark_inode_dirty(handle, inode);
out:
	mutex_unlock(&sbi->s_orphan_lock);
	return err;
}

/*
 * Finish what crashed: delete unlinked inodes and cut truncated ones to
 * their size.  Each step removes the head of the list, so the loop is
 * bounded by the number of inodes.
 */
void rlfs_recover_orphans(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	unsigned long deleted = 0, truncated = 0;
	u64 ino, steps = 0;
	int err = 0;

	if (!list_empty(&sbi->s_orphans))
		return;
	while ((ino = le64_to_cpu(sbi->s_rsb->s_orphan_head)) != 0) {
		struct inode *inode;
		handle_t *handle;

		if (++steps > sbi->s_geom.inodes) {
			rlfs_corrupt(sb, "block 0: orphan list has a cycle (at inode %llu)",
				     ino);
			break;
		}
		inode = rlfs_iget(sb, ino);
		if (IS_ERR(inode)) {
			err = PTR_ERR(inode);
			rlfs_err(sb, "orphan inode %llu cannot be read: %d; run fsck",
				 ino, err);
			break;
		}
		mutex_lock(&sbi->s_orphan_lock);
		if (list_empty(&RLFS_I(inode)->i_orphan))
			list_add(&RLFS_I(inode)->i_orphan, &sbi->s_orphans);
		mutex_unlock(&sbi->s_orphan_lock);

		if (!inode->i_nlink) {
			/* Eviction frees it and takes it off the list. */
			iput(inode);
			deleted++;
		} else {
			if (S_ISREG(inode->i_mode))
				err = rlfs_truncate_blocks(inode,
					rlfs_blocks_of(i_size_read(inode)));
			if (!err) {
				handle = rlfs_journal_start(sb,
							    RLFS_ORPHAN_CREDITS);
				if (IS_ERR(handle)) {
					err = PTR_ERR(handle);
				} else {
					err = rlfs_orphan_del(handle, inode);
					rlfs_journal_stop(handle);
				}
			}
			rlfs_orphan_del(NULL, inode);
			iput(inode);
			if (err) {
				rlfs_err(sb, "orphan inode %llu: truncate failed: %d",
					 ino, err);
				break;
			}
			truncated++;
		}
		if (le64_to_cpu(sbi->s_rsb->s_orphan_head) == ino) {
			rlfs_err(sb, "orphan inode %llu could not be processed; run fsck",
				 ino);
			break;
		}
	}
	if (deleted || truncated)
		rlfs_info(sb, "orphan recovery: %lu inodes deleted, %lu truncated",
			  deleted, truncated);
}
