// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs: checksums, metadata block read verification and the jbd2
 * glue (handles, journal access to buffers, journal setup and teardown,
 * data=ordered hooks, fsync support).
 */
#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/pagemap.h>
#include <linux/writeback.h>
#include "reflinkfs.h"
#include "trace.h"

/*
 * A metadata buffer whose checksum was verified since it was read from
 * disk.  Writers keep the checksum current (rlfs_journal_dirty_meta()), so
 * only the cheap header checks are repeated on later reads.
 */
enum { BH_RlfsVerified = BH_JBDPrivateStart };
BUFFER_FNS(RlfsVerified, rlfs_verified)

u32 rlfs_crc(const void *buf, size_t len, size_t crc_offset)
{
	static const u8 zero[4];
	u32 crc;

	crc = crc32c(RLFS_CRC_SEED, buf, crc_offset);
	crc = crc32c(crc, zero, sizeof(zero));
	return crc32c(crc, (const u8 *)buf + crc_offset + sizeof(zero),
		      len - crc_offset - sizeof(zero));
}

void rlfs_set_block_header(struct buffer_head *bh, u32 magic, u64 owner)
{
	struct rlfs_block_header *hdr = (struct rlfs_block_header *)bh->b_data;

	hdr->bh_magic = cpu_to_le32(magic);
	hdr->bh_blocknr = cpu_to_le64(bh->b_blocknr);
	hdr->bh_owner = cpu_to_le64(owner);
	hdr->bh_reserved = 0;
}

void rlfs_update_block_crc(struct buffer_head *bh)
{
	struct rlfs_block_header *hdr = (struct rlfs_block_header *)bh->b_data;

	hdr->bh_crc = cpu_to_le32(rlfs_crc(bh->b_data, RLFS_BLOCK_SIZE,
					   offsetof(struct rlfs_block_header,
						    bh_crc)));
}

struct buffer_head *rlfs_read_meta(struct super_block *sb, u64 blocknr,
				   u32 magic, u64 owner)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_block_header *hdr;
	struct buffer_head *bh;
	u32 crc;
	int err;

	if (blocknr == 0 || blocknr >= sbi->s_blocks) {
		rlfs_corrupt_block(sb, blocknr, "block %llu: out of range (filesystem has %llu blocks), expected a block with magic 0x%08x",
				   blocknr, sbi->s_blocks, magic);
		return ERR_PTR(-EFSCORRUPTED);
	}
	err = rlfs_fault(sb, REFLINKFS_FAULT_SITE_META_READ);
	if (err) {
		rlfs_err(sb, "block %llu: read error", blocknr);
		return ERR_PTR(err);
	}
	bh = sb_getblk(sb, blocknr);
	if (!bh)
		return ERR_PTR(-ENOMEM);
	if (!buffer_uptodate(bh)) {
		clear_buffer_rlfs_verified(bh);
		if (bh_read(bh, 0) < 0) {
			rlfs_err(sb, "block %llu: read error", blocknr);
			brelse(bh);
			return ERR_PTR(-EIO);
		}
	}
	hdr = (struct rlfs_block_header *)bh->b_data;
	if (le32_to_cpu(hdr->bh_magic) != magic) {
		rlfs_corrupt_block(sb, blocknr, "block %llu: bad magic 0x%08x, expected 0x%08x",
				   blocknr, le32_to_cpu(hdr->bh_magic), magic);
		goto bad;
	}
	if (le64_to_cpu(hdr->bh_blocknr) != blocknr) {
		rlfs_corrupt_block(sb, blocknr, "block %llu: header says block %llu",
				   blocknr, le64_to_cpu(hdr->bh_blocknr));
		goto bad;
	}
	if (le64_to_cpu(hdr->bh_owner) != owner) {
		rlfs_corrupt_block(sb, blocknr, "block %llu: owner %llu, expected %llu",
				   blocknr, le64_to_cpu(hdr->bh_owner), owner);
		goto bad;
	}
	if (buffer_rlfs_verified(bh))
		return bh;
	crc = rlfs_crc(bh->b_data, RLFS_BLOCK_SIZE,
		       offsetof(struct rlfs_block_header, bh_crc));
	if (le32_to_cpu(hdr->bh_crc) != crc) {
		rlfs_corrupt_block(sb, blocknr, "block %llu: bad checksum 0x%08x, expected 0x%08x",
				   blocknr, le32_to_cpu(hdr->bh_crc), crc);
		goto bad;
	}
	set_buffer_rlfs_verified(bh);
	return bh;
bad:
	brelse(bh);
	return ERR_PTR(-EFSCORRUPTED);
}

struct buffer_head *rlfs_new_meta(handle_t *handle, struct super_block *sb,
				  u64 blocknr, u32 magic, u64 owner)
{
	struct buffer_head *bh;
	int err;

	if (blocknr < RLFS_SB(sb)->s_data_start ||
	    blocknr >= RLFS_SB(sb)->s_blocks) {
		rlfs_corrupt_block(sb, blocknr,
				   "block %llu: new metadata block outside the data area",
				   blocknr);
		return ERR_PTR(-EFSCORRUPTED);
	}
	bh = sb_getblk(sb, blocknr);
	if (!bh)
		return ERR_PTR(-ENOMEM);
	/* jbd2 wants the buffer locked across create access (as ext4). */
	lock_buffer(bh);
	err = jbd2_journal_get_create_access(handle, bh);
	if (err) {
		unlock_buffer(bh);
		rlfs_err(sb, "block %llu: journal create access failed: %d",
			 blocknr, err);
		brelse(bh);
		return ERR_PTR(err);
	}
	memset(bh->b_data, 0, bh->b_size);
	set_buffer_uptodate(bh);
	unlock_buffer(bh);
	rlfs_set_block_header(bh, magic, owner);
	return bh;
}

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

	if (*block >= sbi->s_journal_blocks)
		return -EFSCORRUPTED;
	*block += sbi->s_journal_start;
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
					sbi->s_journal_start,
					(int)sbi->s_journal_blocks,
					RLFS_BLOCK_SIZE);
	/* NULL up to 6.7, an ERR_PTR after: accept both. */
	if (IS_ERR_OR_NULL(journal)) {
		err = journal ? PTR_ERR(journal) : -ENOMEM;
		rlfs_err(sb, "cannot set up the journal (blocks %llu+%llu): %d",
			 sbi->s_journal_start, sbi->s_journal_blocks, err);
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
			 sbi->s_journal_start, sbi->s_journal_blocks, err);
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
