// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs: the jbd2 glue (handles, journal access to buffers, journal
 * setup and teardown, data=ordered hooks, fsync support).  Metadata block
 * reads and checksums are in meta.c.
 */
#include <linux/blkdev.h>
#include <linux/pagemap.h>
#include <linux/writeback.h>
#include "reflinkfs.h"
#include "trace.h"

/**
 * rlfs_abort - abort the journal: the running transaction must not commit
 * @sb: the filesystem
 * @err: why (negative errno)
 *
 * For a change that failed half way inside a handle: nothing of the
 * running transaction reaches the disk, the filesystem refuses further
 * changes (EROFS), and the next mount replays what committed before.
 * After a fault was injected in this mount the abort is recorded as a
 * shutdown (-ESHUTDOWN), which the next mount does not take for a
 * filesystem error: the image is as consistent as the last commit.
 */
void rlfs_abort(struct super_block *sb, int err)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);

	if (!sbi->s_journal || is_journal_aborted(sbi->s_journal))
		return;
	if (READ_ONCE(sbi->s_fault_fired))
		err = -ESHUTDOWN;
	rlfs_err(sb, "aborting the journal (error %d): the running transaction is dropped",
		 err);
	jbd2_journal_abort(sbi->s_journal, err);
}

/*
 * @fault: a start the trans fault site may fail; false only where the
 * caller cannot return the error (->dirty_inode: the VFS drops it).
 */
handle_t *__rlfs_journal_start(struct super_block *sb, int credits,
			       bool fault)
{
	journal_t *journal = RLFS_SB(sb)->s_journal;
	handle_t *handle;
	int err;

	/* A nested start joins the running handle, whatever the mount state. */
	if (!journal_current_handle()) {
		if (sb_rdonly(sb) || !journal)
			return ERR_PTR(-EROFS);
		if (is_journal_aborted(journal))
			return ERR_PTR(-EROFS);
		err = fault ? rlfs_fault(sb, REFLINKFS_FAULT_SITE_TRANS) : 0;
		if (err) {
			trace_reflinkfs_trans_start(sb, credits, err);
			return ERR_PTR(err);
		}
	}
	handle = jbd2__journal_start(journal, credits, 0, RLFS_REVOKE_CREDITS,
				     GFP_NOFS, 0, 0);
	trace_reflinkfs_trans_start(sb, credits, PTR_ERR_OR_ZERO(handle));
	return handle;
}

/* A handle of @credits blocks; the "trans" fault site applies. */
handle_t *rlfs_journal_start(struct super_block *sb, int credits)
{
	return __rlfs_journal_start(sb, credits, true);
}

int rlfs_journal_stop(handle_t *handle)
{
	struct super_block *sb = handle->h_transaction ?
		handle->h_transaction->t_journal->j_private : NULL;
	int left = jbd2_handle_buffer_credits(handle);
	int err = jbd2_journal_stop(handle);

	if (sb)
		trace_reflinkfs_trans_stop(sb, left, err);
	return err;
}

int rlfs_journal_get_write_access(handle_t *handle, struct super_block *sb,
				  struct buffer_head *bh)
{
	int err;

	err = rlfs_fault(sb, REFLINKFS_FAULT_SITE_META_WRITE);
	if (err) {
		/*
		 * jbd2 refuses write access only once the journal is
		 * aborted: an injected refusal aborts it too, so the
		 * handle's earlier changes never commit (as for a real one).
		 */
		rlfs_abort(sb, err);
	} else {
		err = jbd2_journal_get_write_access(handle, bh);
	}
	if (err)
		rlfs_err(sb, "block %llu: journal write access failed: %d",
			 (u64)bh->b_blocknr, err);
	return err;
}

int rlfs_journal_dirty(handle_t *handle, struct buffer_head *bh)
{
	int err;

	err = jbd2_journal_dirty_metadata(handle, bh);
	if (err) {
		struct super_block *sb = handle->h_transaction ?
			handle->h_transaction->t_journal->j_private : NULL;

		if (sb)
			rlfs_err(sb, "block %llu: journal dirty failed: %d",
				 (u64)bh->b_blocknr, err);
	}
	return err;
}

int rlfs_journal_dirty_meta(handle_t *handle, struct buffer_head *bh)
{
	rlfs_update_block_crc(bh);
	return rlfs_journal_dirty(handle, bh);
}

int rlfs_journal_forget_block(handle_t *handle, struct super_block *sb,
			      u64 blocknr)
{
	struct buffer_head *bh;
	int err;

	/*
	 * jbd2_journal_revoke() consumes the buffer reference it is given;
	 * look up a cached buffer so a pending write of it is cancelled too.
	 */
	bh = sb_find_get_block(sb, blocknr);
	err = jbd2_journal_revoke(handle, blocknr, bh);
	if (err)
		rlfs_err(sb, "block %llu: journal revoke failed: %d", blocknr,
			 err);
	return err;
}

int rlfs_journal_ensure_credits(handle_t *handle, int credits)
{
	int have, revokes, err;

	if (is_handle_aborted(handle))
		return -EROFS;
	have = jbd2_handle_buffer_credits(handle);
	revokes = handle->h_revoke_credits;
	if (have >= credits && revokes >= RLFS_REVOKE_CREDITS)
		return 0;
	err = jbd2_journal_extend(handle, max(0, credits - have),
				  max(0, RLFS_REVOKE_CREDITS - revokes));
	if (err <= 0)
		return err;
	/* A nested handle cannot be restarted under its outer user. */
	if (handle->h_ref > 1)
		return -ENOSPC;
	return jbd2__journal_restart(handle, credits, RLFS_REVOKE_CREDITS,
				     GFP_NOFS);
}

int rlfs_journal_order_data(handle_t *handle, struct inode *inode,
			    loff_t start, loff_t len)
{
	if (len <= 0)
		return 0;
	return jbd2_journal_inode_ranged_write(handle, &RLFS_I(inode)->i_jinode,
					       start, len);
}

/* data=ordered: write the inode's dirty range before the commit block. */
static int rlfs_submit_inode_data(struct jbd2_inode *jinode)
{
	struct address_space *mapping = jinode->i_vfs_inode->i_mapping;
	struct writeback_control wbc = {
		.sync_mode = WB_SYNC_ALL,
		.nr_to_write = LONG_MAX,
		.range_start = jinode->i_dirty_start,
		.range_end = jinode->i_dirty_end,
	};

	return filemap_fdatawrite_wbc(mapping, &wbc);
}

static int rlfs_finish_inode_data(struct jbd2_inode *jinode)
{
	return filemap_fdatawait_range_keep_errors(jinode->i_vfs_inode->i_mapping,
						   jinode->i_dirty_start,
						   jinode->i_dirty_end);
}

/*
 * The journal superblock and log use block numbers relative to the start
 * of the journal region (s_first 1, s_maxlen s_journal_blocks, as mkfs
 * writes them).  jbd2 treats the log blocks of a device journal as
 * absolute device blocks, so map them here.
 */
static int rlfs_journal_bmap(journal_t *journal, sector_t *block)
{
	struct super_block *sb = journal->j_private;
	struct rlfs_sb_info *sbi = RLFS_SB(sb);

	if (*block >= sbi->s_geom.journal_blocks)
		return -EFSCORRUPTED;
	*block += sbi->s_geom.journal_start;
	return 0;
}

/* A transaction is on disk: counters and copy-on-write events. */
static void rlfs_journal_commit_callback(journal_t *journal,
					 transaction_t *transaction)
{
	rlfs_notify_commit(journal->j_private, transaction->t_tid);
}

int rlfs_journal_init(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	journal_t *journal;
	int err;

	journal = jbd2_journal_init_dev(sb->s_bdev, sb->s_bdev,
					sbi->s_geom.journal_start,
					(int)sbi->s_geom.journal_blocks,
					RLFS_BLOCK_SIZE);
	/* NULL up to 6.7, an ERR_PTR after: accept both. */
	if (IS_ERR_OR_NULL(journal)) {
		err = journal ? PTR_ERR(journal) : -ENOMEM;
		rlfs_err(sb, "cannot set up the journal (blocks %llu+%llu): %d",
			 sbi->s_geom.journal_start, sbi->s_geom.journal_blocks, err);
		return err == -ENOMEM ? err : -EINVAL;
	}
	journal->j_private = sb;
	journal->j_bmap = rlfs_journal_bmap;
	journal->j_commit_callback = rlfs_journal_commit_callback;
	journal->j_commit_interval = sbi->s_commit_interval * HZ;
	journal->j_submit_inode_data_buffers = rlfs_submit_inode_data;
	journal->j_finish_inode_data_buffers = rlfs_finish_inode_data;
	write_lock(&journal->j_state_lock);
	if (sbi->s_mount_opt & RLFS_MOUNT_BARRIER)
		journal->j_flags |= JBD2_BARRIER;
	else
		journal->j_flags &= ~JBD2_BARRIER;
	write_unlock(&journal->j_state_lock);

	err = jbd2_journal_load(journal);
	if (err) {
		rlfs_err(sb, "cannot load the journal (blocks %llu+%llu): %d",
			 sbi->s_geom.journal_start, sbi->s_geom.journal_blocks, err);
		jbd2_journal_destroy(journal);
		if (err == -EIO || err == -ENOMEM)
			return err;
		return -EFSCORRUPTED;
	}
	if (!jbd2_journal_set_features(journal, 0, 0,
				       JBD2_FEATURE_INCOMPAT_CSUM_V3))
		rlfs_info(sb, "journal checksums not enabled");
	sbi->s_journal = journal;
	return 0;
}

void rlfs_journal_destroy(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	int err;

	if (!sbi->s_journal)
		return;
	err = jbd2_journal_destroy(sbi->s_journal);
	sbi->s_journal = NULL;
	if (err)
		rlfs_err(sb, "journal error at unmount: %d", err);
}

int rlfs_journal_force_commit(struct super_block *sb)
{
	journal_t *journal = RLFS_SB(sb)->s_journal;

	if (!journal)
		return 0;
	return jbd2_journal_force_commit(journal);
}

int rlfs_sync_inode_journal(struct inode *inode, bool datasync)
{
	struct super_block *sb = inode->i_sb;
	journal_t *journal = RLFS_SB(sb)->s_journal;
	tid_t tid = READ_ONCE(RLFS_I(inode)->i_sync_tid);
	bool needs_barrier = false;
	int err;

	if (!journal)
		return 0;
	if ((journal->j_flags & JBD2_BARRIER) &&
	    !jbd2_trans_will_send_data_barrier(journal, tid))
		needs_barrier = true;
	err = jbd2_complete_transaction(journal, tid);
	if (!err && needs_barrier)
		err = blkdev_issue_flush(sb->s_bdev);
	return err;
}

bool rlfs_should_retry_alloc(struct super_block *sb, int *retries)
{
	journal_t *journal = RLFS_SB(sb)->s_journal;

	if (!journal || (*retries)++ >= 3)
		return false;
	jbd2_journal_force_commit_nested(journal);
	return true;
}
