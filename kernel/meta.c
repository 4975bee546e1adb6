// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs: metadata blocks.  Reads through the format core's verifiers
 * (libreflinkfs/rlfs_verify.c) with a verified bit that spares the crc of
 * a cached block, new metadata blocks, checksums, and the superblock: its
 * one journaled update (rlfs_super_update()) and its direct write.
 */
#include <linux/blkdev.h>
#include "reflinkfs.h"

/*
 * A metadata buffer whose checksum was verified since it was read from
 * disk.  Writers keep the checksum current (rlfs_journal_dirty_meta()), so
 * only the cheap header checks are repeated on later reads.
 */
enum { BH_RlfsVerified = BH_JBDPrivateStart };
BUFFER_FNS(RlfsVerified, rlfs_verified)

void rlfs_update_block_crc(struct buffer_head *bh)
{
	rlfs_block_set_csum(bh->b_data);
}

/**
 * rlfs_read_meta - read and verify a metadata block
 * @sb: the filesystem
 * @blocknr: the block
 * @magic: the RLFS_*_MAGIC it must carry
 * @owner: the inode it must belong to, 0 for fs-wide blocks
 *
 * Checks the header and, once per read from disk, the checksum; the
 * caller verifies the contents with the verifier of its kind.  Returns
 * the buffer or ERR_PTR(-EFSCORRUPTED) (reported), -EIO, -ENOMEM.
 */
struct buffer_head *rlfs_read_meta(struct super_block *sb, u64 blocknr,
				   u32 magic, u64 owner)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	const struct rlfs_block_header *hdr;
	struct buffer_head *bh;
	const char *why;
	int err;

	if (blocknr == 0 || blocknr >= sbi->s_geom.blocks) {
		rlfs_corrupt_block(sb, blocknr, "block %llu: out of range (filesystem has %llu blocks), expected a block with magic 0x%08x",
				   blocknr, sbi->s_geom.blocks, magic);
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
	hdr = (const struct rlfs_block_header *)bh->b_data;
	why = rlfs_verify_block_header(hdr, magic, blocknr, owner);
	if (!why && !buffer_rlfs_verified(bh))
		why = rlfs_verify_block_crc(hdr);
	if (why) {
		rlfs_corrupt_block(sb, blocknr, "block %llu: %s (magic 0x%08x block %llu owner %llu crc 0x%08x; expected magic 0x%08x owner %llu)",
				   blocknr, why, le32_to_cpu(hdr->bh_magic),
				   le64_to_cpu(hdr->bh_blocknr),
				   le64_to_cpu(hdr->bh_owner),
				   le32_to_cpu(hdr->bh_crc), magic, owner);
		brelse(bh);
		return ERR_PTR(-EFSCORRUPTED);
	}
	set_buffer_rlfs_verified(bh);
	return bh;
}

struct buffer_head *rlfs_new_meta(handle_t *handle, struct super_block *sb,
				  u64 blocknr, u32 magic, u64 owner)
{
	struct buffer_head *bh;
	int err;

	if (blocknr < RLFS_SB(sb)->s_geom.data_start ||
	    blocknr >= RLFS_SB(sb)->s_geom.blocks) {
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
	rlfs_block_header_init(bh->b_data, magic, blocknr, owner);
	return bh;
}


/* ---- the superblock ------------------------------------------------- */

static void rlfs_super_apply(struct rlfs_sb_info *sbi,
			     const struct rlfs_super_edit *edit)
{
	struct rlfs_super *rsb = sbi->s_rsb;

	if (edit->what & RLFS_SE_ORPHAN)
		rsb->s_orphan_head = cpu_to_le64(edit->orphan_head);
	if (edit->what & RLFS_SE_REFCOUNT) {
		rsb->s_refcount_root = cpu_to_le64(edit->refcount_root);
		rsb->s_refcount_depth = cpu_to_le32(edit->refcount_depth);
		if (edit->refcount_root)
			rsb->s_feature_incompat |=
				cpu_to_le64(RLFS_FEATURE_INCOMPAT_REFCOUNT);
	}
	rsb->s_feature_ro_compat |= cpu_to_le64(edit->ro_compat_set);
	rsb->s_state = cpu_to_le32((le32_to_cpu(rsb->s_state) &
				    ~edit->state_clear) | edit->state_set);
	if (edit->what & RLFS_SE_MOUNT) {
		le32_add_cpu(&rsb->s_mount_count, 1);
		rsb->s_mount_time = cpu_to_le64(ktime_get_real_seconds());
	}
	if (edit->what & RLFS_SE_STAMP) {
		spin_lock(&sbi->s_gen_lock);
		rsb->s_next_generation = cpu_to_le32(sbi->s_next_generation);
		spin_unlock(&sbi->s_gen_lock);
		rsb->s_write_time = cpu_to_le64(ktime_get_real_seconds());
	}
	rlfs_super_set_csum(rsb);
}

/**
 * rlfs_super_update - change the superblock in a transaction
 * @handle: the running handle (RLFS_SB_CREDITS for the superblock)
 * @sb: the filesystem
 * @edit: the fields to change
 *
 * The one way the superblock changes in a transaction: journal write
 * access to block 0, the change and its checksum under the buffer lock,
 * the buffer journaled.  Returns 0 or -errno.
 */
int rlfs_super_update(handle_t *handle, struct super_block *sb,
		      const struct rlfs_super_edit *edit)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	int err;

	err = rlfs_journal_get_write_access(handle, sb, sbi->s_sbh);
	if (err)
		return err;
	lock_buffer(sbi->s_sbh);
	rlfs_super_apply(sbi, edit);
	unlock_buffer(sbi->s_sbh);
	return rlfs_journal_dirty(handle, sbi->s_sbh);
}

/*
 * The same change made in memory only, for a frozen filesystem whose
 * superblock is written directly at thaw.
 */
void rlfs_super_update_nojournal(struct super_block *sb,
				 const struct rlfs_super_edit *edit)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);

	lock_buffer(sbi->s_sbh);
	rlfs_super_apply(sbi, edit);
	unlock_buffer(sbi->s_sbh);
}

/**
 * rlfs_set_ro_compat - record a read-only compatible feature in use
 * @handle: the transaction that writes the first structure needing it
 * @sb: the filesystem
 * @feature: RLFS_FEATURE_RO_COMPAT_* bit
 *
 * Nothing to do (and no credit used) when the bit is already set.
 * Returns 0 or -errno.
 */
int rlfs_set_ro_compat(handle_t *handle, struct super_block *sb, u64 feature)
{
	struct rlfs_super_edit edit = { .ro_compat_set = feature };

	if (rlfs_ro_compat(sb) & feature)
		return 0;
	return rlfs_super_update(handle, sb, &edit);
}

/*
 * Write the superblock directly, bypassing the journal: only when the
 * journal is flushed with updates locked, destroyed, or not loaded.
 */
int rlfs_commit_super(struct super_block *sb, bool sync)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_super *rsb = sbi->s_rsb;
	struct buffer_head *sbh = sbi->s_sbh;
	int err = 0;

	lock_buffer(sbh);
	rsb->s_free_blocks =
		cpu_to_le64(percpu_counter_sum_positive(&sbi->s_free_blocks));
	rsb->s_free_inodes =
		cpu_to_le64(percpu_counter_sum_positive(&sbi->s_free_inodes));
	rsb->s_write_time = cpu_to_le64(ktime_get_real_seconds());
	spin_lock(&sbi->s_gen_lock);
	rsb->s_next_generation = cpu_to_le32(sbi->s_next_generation);
	spin_unlock(&sbi->s_gen_lock);
	rlfs_super_set_csum(rsb);
	if (buffer_write_io_error(sbh) || !buffer_uptodate(sbh)) {
		/* A previous write failed: the in-memory copy is still good. */
		clear_buffer_write_io_error(sbh);
		set_buffer_uptodate(sbh);
	}
	unlock_buffer(sbh);
	mark_buffer_dirty(sbh);
	if (sync) {
		err = sync_dirty_buffer(sbh);
		if (err)
			rlfs_err(sb, "block 0: superblock write failed: %d",
				 err);
	}
	return err;
}
