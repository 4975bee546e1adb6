// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs: the superblock.  Mount options and the fs_context, mounting
 * (superblock verification, journal load, free counts, orphan recovery),
 * remount, unmount, statfs, sync and freeze, error reporting with the
 * errors= policy, and module init/exit.  The orphan list is in orphan.c.
 */
#include <linux/module.h>
#include <linux/blkdev.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/seq_file.h>
#include <linux/statfs.h>
#include <linux/workqueue.h>
#include "reflinkfs.h"

/* ---- messages and errors ------------------------------------------- */

void __rlfs_msg(struct super_block *sb, const char *level, const char *fmt,
		...)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct va_format vaf;
	va_list args;

	if (sbi && !__ratelimit(&sbi->s_msg_ratelimit))
		return;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	switch (printk_get_level(level)) {
	case '3':
		pr_err("reflinkfs (%pg): %pV\n", sb->s_bdev, &vaf);
		break;
	case '4':
		pr_warn("reflinkfs (%pg): %pV\n", sb->s_bdev, &vaf);
		break;
	case '6':
		pr_info("reflinkfs (%pg): %pV\n", sb->s_bdev, &vaf);
		break;
	default:
		pr_notice("reflinkfs (%pg): %pV\n", sb->s_bdev, &vaf);
		break;
	}
	va_end(args);
}

/*
 * Set RLFS_STATE_ERROR in the superblock, in a transaction.  Once the
 * journal is aborted nothing is written: the superblock buffer may hold
 * changes of transactions that will never commit, and jbd2 has recorded
 * the error in the journal superblock, which the next mount reports.
 */
static void rlfs_error_work(struct work_struct *work)
{
	struct rlfs_sb_info *sbi = container_of(work, struct rlfs_sb_info,
						s_error_work);
	struct rlfs_super_edit edit = { .state_set = RLFS_STATE_ERROR };
	struct super_block *sb = sbi->s_sb;
	handle_t *handle;

	if (le32_to_cpu(sbi->s_rsb->s_state) & RLFS_STATE_ERROR)
		return;
	if (!sb_start_intwrite_trylock(sb)) {
		/*
		 * Frozen: the journal is empty and the superblock is written
		 * directly at thaw, so setting the bit in memory is enough.
		 */
		rlfs_super_update_nojournal(sb, &edit);
		return;
	}
	handle = rlfs_journal_start(sb, RLFS_SB_CREDITS);
	if (!IS_ERR(handle)) {
		rlfs_super_update(handle, sb, &edit);
		rlfs_journal_stop(handle);
	}
	sb_end_intwrite(sb);
}

void __rlfs_corrupt(struct super_block *sb, const char *func, u64 blocknr,
		    const char *fmt, ...)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_event ev = {
		.type	= REFLINKFS_EVENT_TYPE_CORRUPTION,
		.block	= blocknr,
	};
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	if (!sbi || __ratelimit(&sbi->s_msg_ratelimit))
		pr_crit("reflinkfs (%pg): corruption in %s: %pV\n",
			sb->s_bdev, func, &vaf);
	va_end(args);

	if (!sbi || !sbi->s_journal)
		return;		/* still mounting: the mount fails */
	rlfs_stat_add(sb, RLFS_STAT_CORRUPTIONS, 1);
	rlfs_notify(sb, &ev);
	if (!sb_rdonly(sb))
		schedule_work(&sbi->s_error_work);

	if (sbi->s_mount_opt & RLFS_MOUNT_ERRORS_PANIC)
		panic("reflinkfs (%pg): panic forced after error\n",
		      sb->s_bdev);
	if ((sbi->s_mount_opt & RLFS_MOUNT_ERRORS_RO) && !sb_rdonly(sb)) {
		pr_crit("reflinkfs (%pg): remounting filesystem read-only\n",
			sb->s_bdev);
		jbd2_journal_abort(sbi->s_journal, -EFSCORRUPTED);
		/* As ext4: make the read-only state visible before returning. */
		smp_wmb();
		sb->s_flags |= SB_RDONLY;
	}
}

/* Set and clear s_state bits inside a transaction. */
static int rlfs_journal_state(struct super_block *sb, u32 set, u32 clear,
			      bool count_mount)
{
	struct rlfs_super_edit edit = {
		.what = RLFS_SE_STAMP | (count_mount ? RLFS_SE_MOUNT : 0),
		.state_set = set,
		.state_clear = clear,
	};
	handle_t *handle;
	int err, err2;

	handle = rlfs_journal_start(sb, RLFS_SB_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = rlfs_super_update(handle, sb, &edit);
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

/* ---- super_operations ---------------------------------------------- */

/*
 * Mark the image clean and write the superblock synchronously: the
 * journal is empty (destroyed, or flushed with updates locked).
 */
static int rlfs_commit_clean_super(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);

	lock_buffer(sbi->s_sbh);
	sbi->s_rsb->s_state |= cpu_to_le32(RLFS_STATE_CLEAN);
	unlock_buffer(sbi->s_sbh);
	return rlfs_commit_super(sb, true);
}

static void rlfs_put_super(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	bool aborted = false;

	flush_work(&sbi->s_error_work);
	if (!list_empty(&sbi->s_orphans))
		rlfs_warn(sb, "orphan list not empty at unmount");
	if (sbi->s_journal) {
		aborted = is_journal_aborted(sbi->s_journal);
		rlfs_journal_destroy(sb);
	}
	/* After the last commit and its events: the unmount is the last. */
	rlfs_instance_del(sb);
	rlfs_drop_cow_notes(sb);
	/* After an abort the buffer may hold uncommitted changes: leave it. */
	if (!sb_rdonly(sb) && !aborted)
		rlfs_commit_clean_super(sb);
	percpu_counter_destroy(&sbi->s_free_inodes);
	percpu_counter_destroy(&sbi->s_free_blocks);
	brelse(sbi->s_sbh);
	sb->s_fs_info = NULL;
	kfree(sbi);
}

static int rlfs_sync_fs(struct super_block *sb, int wait)
{
	journal_t *journal = RLFS_SB(sb)->s_journal;
	bool barrier, needs_barrier = false;
	tid_t target;
	int err = 0;

	if (!journal)
		return 0;
	barrier = journal->j_flags & JBD2_BARRIER;
	if (jbd2_journal_start_commit(journal, &target)) {
		if (wait && barrier)
			needs_barrier =
				!jbd2_trans_will_send_data_barrier(journal,
								   target);
		if (wait)
			err = jbd2_log_wait_commit(journal, target);
	} else if (wait && barrier) {
		needs_barrier = true;
	}
	if (needs_barrier) {
		int err2 = blkdev_issue_flush(sb->s_bdev);

		if (!err)
			err = err2;
	}
	return err;
}

static int rlfs_freeze_fs(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	int err;

	if (sb_rdonly(sb))
		return 0;
	jbd2_journal_lock_updates(sbi->s_journal);
	err = jbd2_journal_flush(sbi->s_journal, 0);
	if (!err) {
		/* Journal empty and blocked: the image is clean as it is. */
		err = rlfs_commit_clean_super(sb);
	}
	jbd2_journal_unlock_updates(sbi->s_journal);
	return err;
}

static int rlfs_unfreeze_fs(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);

	if (sb_rdonly(sb))
		return 0;
	lock_buffer(sbi->s_sbh);
	sbi->s_rsb->s_state &= ~cpu_to_le32(RLFS_STATE_CLEAN);
	unlock_buffer(sbi->s_sbh);
	return rlfs_commit_super(sb, true);
}

static int rlfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct super_block *sb = dentry->d_sb;
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	u64 fsid[2];

	buf->f_type = RLFS_SUPER_MAGIC;
	buf->f_bsize = RLFS_BLOCK_SIZE;
	buf->f_frsize = RLFS_BLOCK_SIZE;
	buf->f_blocks = sbi->s_geom.blocks - sbi->s_geom.data_start;
	buf->f_bfree = percpu_counter_sum_positive(&sbi->s_free_blocks);
	/* The reserved pool is free but not available to users. */
	buf->f_bavail = buf->f_bfree > sbi->s_resv_blocks ?
			buf->f_bfree - sbi->s_resv_blocks : 0;
	buf->f_files = sbi->s_geom.inodes - 1;
	buf->f_ffree = percpu_counter_sum_positive(&sbi->s_free_inodes);
	buf->f_namelen = RLFS_NAME_LEN;
	memcpy(fsid, sbi->s_rsb->s_uuid, sizeof(fsid));
	buf->f_fsid = u64_to_fsid(fsid[0] ^ fsid[1]);
	return 0;
}

static int rlfs_show_options(struct seq_file *seq, struct dentry *root)
{
	struct rlfs_sb_info *sbi = RLFS_SB(root->d_sb);

	if (sbi->s_mount_opt & RLFS_MOUNT_ERRORS_RO)
		seq_puts(seq, ",errors=remount-ro");
	else if (sbi->s_mount_opt & RLFS_MOUNT_ERRORS_PANIC)
		seq_puts(seq, ",errors=panic");
	if (sbi->s_commit_interval != RLFS_DEFAULT_COMMIT)
		seq_printf(seq, ",commit=%u", sbi->s_commit_interval);
	if (!(sbi->s_mount_opt & RLFS_MOUNT_BARRIER))
		seq_puts(seq, ",nobarrier");
	return 0;
}

const struct super_operations rlfs_sops = {
	.alloc_inode	= rlfs_alloc_inode,
	.free_inode	= rlfs_free_inode,
	.write_inode	= rlfs_write_inode,
	.dirty_inode	= rlfs_dirty_inode,
	.evict_inode	= rlfs_evict_inode,
	.put_super	= rlfs_put_super,
	.sync_fs	= rlfs_sync_fs,
	.freeze_fs	= rlfs_freeze_fs,
	.unfreeze_fs	= rlfs_unfreeze_fs,
	.statfs		= rlfs_statfs,
	.show_options	= rlfs_show_options,
};

/* ---- mount options -------------------------------------------------- */

struct rlfs_fs_context {
	unsigned int	mount_opt;
	unsigned int	commit;		/* seconds */
};

#define RLFS_MOUNT_ERRORS_MASK	(RLFS_MOUNT_ERRORS_RO | \
				 RLFS_MOUNT_ERRORS_CONT | \
				 RLFS_MOUNT_ERRORS_PANIC)

enum { Opt_errors, Opt_commit, Opt_barrier, Opt_nobarrier };

static const struct constant_table rlfs_param_errors[] = {
	{ "continue",	RLFS_MOUNT_ERRORS_CONT },
	{ "remount-ro",	RLFS_MOUNT_ERRORS_RO },
	{ "panic",	RLFS_MOUNT_ERRORS_PANIC },
	{}
};

static const struct fs_parameter_spec rlfs_param_spec[] = {
	fsparam_enum("errors", Opt_errors, rlfs_param_errors),
	fsparam_u32("commit", Opt_commit),
	fsparam_flag("barrier", Opt_barrier),
	fsparam_flag("nobarrier", Opt_nobarrier),
	{}
};

static int rlfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct rlfs_fs_context *ctx = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, rlfs_param_spec, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case Opt_errors:
		ctx->mount_opt = (ctx->mount_opt & ~RLFS_MOUNT_ERRORS_MASK) |
				 result.uint_32;
		break;
	case Opt_commit:
		if (result.uint_32 > INT_MAX / HZ)
			return invalfc(fc, "commit=%u is too large",
				       result.uint_32);
		ctx->commit = result.uint_32 ?: RLFS_DEFAULT_COMMIT;
		break;
	case Opt_barrier:
		ctx->mount_opt |= RLFS_MOUNT_BARRIER;
		break;
	case Opt_nobarrier:
		ctx->mount_opt &= ~RLFS_MOUNT_BARRIER;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/* ---- mount ---------------------------------------------------------- */

/*
 * Verify the superblock (rlfs_verify_super()) against the device and
 * take its geometry.  A missing magic is reported only when not @silent.
 */
static int rlfs_check_super(struct super_block *sb, struct rlfs_super *rsb,
			    bool silent)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	u64 devblocks = bdev_nr_bytes(sb->s_bdev) >> RLFS_BLOCK_BITS;
	struct rlfs_geom *g = &sbi->s_geom;
	const char *why;
	int error;
	u64 v;

	rlfs_geom_from_super(rsb, g);
	why = rlfs_verify_super(rsb, devblocks, &error);
	if (why) {
		if (silent && le32_to_cpu(rsb->s_magic) != RLFS_SUPER_MAGIC)
			return -EINVAL;
		rlfs_err(sb, "block 0: %s (version %u, block size %u, %llu blocks, %llu inodes, journal %llu+%llu, data at %llu, features 0x%llx/0x%llx; device %llu blocks)",
			 why, le32_to_cpu(rsb->s_version),
			 le32_to_cpu(rsb->s_block_size), g->blocks, g->inodes,
			 g->journal_start, g->journal_blocks, g->data_start,
			 le64_to_cpu(rsb->s_feature_incompat),
			 le64_to_cpu(rsb->s_feature_ro_compat), devblocks);
		return -error;
	}
	v = rlfs_super_ro_unknown(rsb);
	if (v && !sb_rdonly(sb)) {
		rlfs_err(sb, "unsupported read-only compatible features 0x%llx; mount read-only",
			 v);
		return -EINVAL;
	}
	return 0;
}

/* An error recorded in the journal superblock by an abort: report it. */
static void rlfs_clear_journal_err(struct super_block *sb)
{
	journal_t *journal = RLFS_SB(sb)->s_journal;
	int j_errno = jbd2_journal_errno(journal);

	if (!j_errno)
		return;
	if (j_errno == -ESHUTDOWN) {
		/* rlfs_abort() after an injected fault: no filesystem error. */
		rlfs_info(sb, "the journal was shut down before the last unmount; replayed");
	} else {
		rlfs_warn(sb, "the journal was aborted (error %d) before the last unmount; run fsck",
			  j_errno);
		RLFS_SB(sb)->s_rsb->s_state |= cpu_to_le32(RLFS_STATE_ERROR);
	}
	jbd2_journal_clear_err(journal);
	jbd2_journal_update_sb_errno(journal);
}

static int rlfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct rlfs_fs_context *ctx = fc->fs_private;
	bool silent = fc->sb_flags & SB_SILENT;
	struct rlfs_sb_info *sbi;
	struct rlfs_super *rsb;
	struct inode *root;
	u32 state;
	int err;

	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	sb->s_fs_info = sbi;
	sbi->s_sb = sb;
	sbi->s_mount_opt = ctx->mount_opt;
	sbi->s_commit_interval = ctx->commit;
	mutex_init(&sbi->s_alloc_lock);
	mutex_init(&sbi->s_orphan_lock);
	INIT_LIST_HEAD(&sbi->s_orphans);
	spin_lock_init(&sbi->s_gen_lock);
	ratelimit_state_init(&sbi->s_msg_ratelimit, 5 * HZ, 10);
	INIT_WORK(&sbi->s_error_work, rlfs_error_work);
	INIT_LIST_HEAD(&sbi->s_instance);
	spin_lock_init(&sbi->s_cow_lock);
	INIT_LIST_HEAD(&sbi->s_cow_notes);
	rlfs_fault_init(sb);

	if (!sb_set_blocksize(sb, RLFS_BLOCK_SIZE)) {
		rlfs_err(sb, "cannot use %u-byte blocks on this device (logical block size %u)",
			 RLFS_BLOCK_SIZE, bdev_logical_block_size(sb->s_bdev));
		err = -EINVAL;
		goto out_free;
	}
	sbi->s_sbh = sb_bread(sb, RLFS_SUPER_BLOCKNR);
	if (!sbi->s_sbh) {
		rlfs_err(sb, "block 0: cannot read the superblock");
		err = -EIO;
		goto out_free;
	}
	rsb = (struct rlfs_super *)sbi->s_sbh->b_data;
	sbi->s_rsb = rsb;
	err = rlfs_check_super(sb, rsb, silent);
	if (err)
		goto out_brelse;
	if (bdev_read_only(sb->s_bdev)) {
		rlfs_err(sb, "the device is read-only; the journal needs a writable device");
		err = -EROFS;
		goto out_brelse;
	}
	sbi->s_block_cursor = sbi->s_geom.data_start;
	sbi->s_inode_cursor = RLFS_FIRST_INO;
	sbi->s_resv_blocks = rlfs_resv_blocks_of(sbi->s_geom.blocks -
						 sbi->s_geom.data_start);

	err = percpu_counter_init(&sbi->s_free_blocks, 0, GFP_KERNEL);
	if (err)
		goto out_brelse;
	err = percpu_counter_init(&sbi->s_free_inodes, 0, GFP_KERNEL);
	if (err)
		goto out_free_blocks;

	sb->s_magic = RLFS_SUPER_MAGIC;
	sb->s_op = &rlfs_sops;
	sb->s_xattr = rlfs_xattr_handlers;
	sb->s_maxbytes = RLFS_MAX_FILE_SIZE;
	sb->s_time_gran = 1;
	sb->s_time_min = S64_MIN;
	sb->s_time_max = S64_MAX;
	sb->s_max_links = 65000;
	sb->s_flags &= ~SB_POSIXACL;
	rlfs_set_uuid(sb, rsb->s_uuid);

	state = le32_to_cpu(rsb->s_state);
	err = rlfs_journal_init(sb);
	if (err)
		goto out_free_inodes;
	/* Replay may have rewritten block 0 in the buffer: check it again. */
	if (le32_to_cpu(rsb->s_magic) != RLFS_SUPER_MAGIC ||
	    le32_to_cpu(rsb->s_crc) != rlfs_super_csum(rsb)) {
		rlfs_err(sb, "block 0: superblock invalid after journal replay");
		err = -EFSCORRUPTED;
		goto out_journal;
	}
	rlfs_clear_journal_err(sb);
	spin_lock(&sbi->s_gen_lock);
	sbi->s_next_generation = le32_to_cpu(rsb->s_next_generation);
	spin_unlock(&sbi->s_gen_lock);

	/* The refcount tree root, as the replayed journal left it. */
	err = rlfs_refcount_init(sb);
	if (err)
		goto out_journal;
	err = rlfs_count_free(sb);
	if (err)
		goto out_journal;

	root = rlfs_iget(sb, RLFS_ROOT_INO);
	if (IS_ERR(root)) {
		err = PTR_ERR(root);
		if (err == -ESTALE)
			err = -EFSCORRUPTED;
		rlfs_err(sb, "cannot read the root directory: %d", err);
		goto out_journal;
	}
	if (!S_ISDIR(root->i_mode) || !root->i_nlink) {
		rlfs_err(sb, "inode %llu: root is not a directory (mode 0%o)",
			 RLFS_ROOT_INO, root->i_mode);
		iput(root);
		err = -EFSCORRUPTED;
		goto out_journal;
	}
	sb->s_root = d_make_root(root);
	if (!sb->s_root) {
		err = -ENOMEM;
		goto out_journal;
	}

	if (!(state & RLFS_STATE_CLEAN))
		rlfs_info(sb, "was not cleanly unmounted; journal replayed");
	if (le32_to_cpu(rsb->s_state) & RLFS_STATE_ERROR)
		rlfs_warn(sb, "filesystem has errors; run fsck.reflinkfs");

	if (!sb_rdonly(sb)) {
		rlfs_recover_orphans(sb);
		err = rlfs_journal_state(sb, 0, RLFS_STATE_CLEAN, true);
		if (err) {
			rlfs_err(sb, "cannot update the superblock: %d", err);
			goto out_root;
		}
	}
	rlfs_instance_add(sb);
	return 0;

out_root:
	/* SB_ACTIVE is not set yet: the last iput evicts the inodes now. */
	dput(sb->s_root);
	sb->s_root = NULL;
out_journal:
	flush_work(&sbi->s_error_work);
	rlfs_journal_destroy(sb);
	rlfs_drop_cow_notes(sb);
out_free_inodes:
	percpu_counter_destroy(&sbi->s_free_inodes);
out_free_blocks:
	percpu_counter_destroy(&sbi->s_free_blocks);
out_brelse:
	brelse(sbi->s_sbh);
out_free:
	sb->s_fs_info = NULL;
	kfree(sbi);
	return err;
}

static int rlfs_get_tree(struct fs_context *fc)
{
	return get_tree_bdev(fc, rlfs_fill_super);
}

/* Read-write to read-only: empty the journal and mark the image clean. */
static int rlfs_remount_ro(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	int err;

	flush_work(&sbi->s_error_work);
	if (is_journal_aborted(sbi->s_journal)) {
		/* Nothing can be written any more; just stop writers. */
		sb->s_flags |= SB_RDONLY;
		return 0;
	}
	jbd2_journal_lock_updates(sbi->s_journal);
	err = jbd2_journal_flush(sbi->s_journal, 0);
	if (err) {
		jbd2_journal_unlock_updates(sbi->s_journal);
		return err;
	}
	sb->s_flags |= SB_RDONLY;
	err = rlfs_commit_clean_super(sb);
	jbd2_journal_unlock_updates(sbi->s_journal);
	return err;
}

static int rlfs_remount_rw(struct super_block *sb)
{
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_super *rsb = sbi->s_rsb;
	u64 v;
	int err;

	v = le64_to_cpu(rsb->s_feature_ro_compat) & ~RLFS_FEATURE_RO_COMPAT_SUPP;
	if (v) {
		rlfs_err(sb, "unsupported read-only compatible features 0x%llx; cannot remount read-write",
			 v);
		return -EINVAL;
	}
	if (is_journal_aborted(sbi->s_journal)) {
		rlfs_err(sb, "the journal was aborted; unmount and run fsck");
		return -EROFS;
	}
	sb->s_flags &= ~SB_RDONLY;
	err = rlfs_journal_state(sb, 0, RLFS_STATE_CLEAN, false);
	if (err) {
		sb->s_flags |= SB_RDONLY;
		return err;
	}
	rlfs_recover_orphans(sb);
	return 0;
}

static int rlfs_reconfigure(struct fs_context *fc)
{
	struct rlfs_fs_context *ctx = fc->fs_private;
	struct super_block *sb = fc->root->d_sb;
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	journal_t *journal = sbi->s_journal;
	int err = 0;

	sync_filesystem(sb);
	if ((fc->sb_flags_mask & SB_RDONLY) &&
	    !!(fc->sb_flags & SB_RDONLY) != !!sb_rdonly(sb)) {
		if (fc->sb_flags & SB_RDONLY)
			err = rlfs_remount_ro(sb);
		else
			err = rlfs_remount_rw(sb);
		if (err)
			return err;
	}

	sbi->s_mount_opt = ctx->mount_opt;
	sbi->s_commit_interval = ctx->commit;
	write_lock(&journal->j_state_lock);
	journal->j_commit_interval = sbi->s_commit_interval * HZ;
	if (sbi->s_mount_opt & RLFS_MOUNT_BARRIER)
		journal->j_flags |= JBD2_BARRIER;
	else
		journal->j_flags &= ~JBD2_BARRIER;
	write_unlock(&journal->j_state_lock);
	return 0;
}

static void rlfs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations rlfs_context_ops = {
	.parse_param	= rlfs_parse_param,
	.get_tree	= rlfs_get_tree,
	.reconfigure	= rlfs_reconfigure,
	.free		= rlfs_free_fc,
};

static int rlfs_init_fs_context(struct fs_context *fc)
{
	struct rlfs_fs_context *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	if (fc->purpose == FS_CONTEXT_FOR_RECONFIGURE) {
		/* Options not given keep their current values. */
		struct rlfs_sb_info *sbi = RLFS_SB(fc->root->d_sb);

		ctx->mount_opt = sbi->s_mount_opt;
		ctx->commit = sbi->s_commit_interval;
	} else {
		ctx->mount_opt = RLFS_MOUNT_ERRORS_CONT | RLFS_MOUNT_BARRIER;
		ctx->commit = RLFS_DEFAULT_COMMIT;
	}
	fc->fs_private = ctx;
	fc->ops = &rlfs_context_ops;
	return 0;
}

static struct file_system_type rlfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "reflinkfs",
	.init_fs_context	= rlfs_init_fs_context,
	.parameters		= rlfs_param_spec,
	.kill_sb		= kill_block_super,
	.fs_flags		= FS_REQUIRES_DEV,
};
MODULE_ALIAS_FS("reflinkfs");

static int __init rlfs_init(void)
{
	int err;

	err = rlfs_init_inodecache();
	if (err)
		return err;
	err = rlfs_netlink_init();
	if (err)
		goto out_cache;
	err = register_filesystem(&rlfs_fs_type);
	if (err)
		goto out_netlink;
	return 0;

out_netlink:
	rlfs_netlink_exit();
out_cache:
	rlfs_destroy_inodecache();
	return err;
}

/* No instance is left: nothing can send on the family any more. */
static void __exit rlfs_exit(void)
{
	unregister_filesystem(&rlfs_fs_type);
	rlfs_netlink_exit();
	rlfs_destroy_inodecache();
}

module_init(rlfs_init);
module_exit(rlfs_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("reflinkfs: a journaling filesystem with reflinks");
MODULE_SOFTDEP("pre: jbd2 crc32c");
