// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs: the inode record.  The inode cache, reading a record from
 * the inode table into an in-core inode and writing it back through the
 * journal.  Looking inodes up, creating, evicting and truncating them is
 * iops.c.
 */
#include <linux/slab.h>
#include <linux/pagemap.h>
#include <linux/writeback.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include "reflinkfs.h"

static struct kmem_cache *rlfs_inode_cachep;

struct inode *rlfs_alloc_inode(struct super_block *sb)
{
	struct rlfs_inode_info *ei;

	ei = alloc_inode_sb(sb, rlfs_inode_cachep, GFP_NOFS);
	if (!ei)
		return NULL;
	memset(ei->i_data, 0, sizeof(ei->i_data));
	ei->i_flags = 0;
	ei->i_xattr_blk = 0;
	ei->i_parent = 0;
	ei->i_snap_origin = 0;
	ei->i_snap_origin_gen = 0;
	ei->i_lineage = 0;
	ei->i_crtime = (struct timespec64){};
	ei->i_next_orphan = 0;
	INIT_LIST_HEAD(&ei->i_orphan);
	ei->i_sync_tid = 0;
	jbd2_journal_init_jbd_inode(&ei->i_jinode, &ei->vfs_inode);
	return &ei->vfs_inode;
}

void rlfs_free_inode(struct inode *inode)
{
	kmem_cache_free(rlfs_inode_cachep, RLFS_I(inode));
}

static void rlfs_inode_init_once(void *obj)
{
	struct rlfs_inode_info *ei = obj;

	init_rwsem(&ei->i_map_sem);
	init_rwsem(&ei->i_xattr_sem);
	spin_lock_init(&ei->i_raw_lock);
	INIT_LIST_HEAD(&ei->i_orphan);
	inode_init_once(&ei->vfs_inode);
}

int rlfs_init_inodecache(void)
{
	/* Fast symlink targets in i_data are copied to user space. */
	rlfs_inode_cachep =
		kmem_cache_create_usercopy("rlfs_inode_cache",
					   sizeof(struct rlfs_inode_info), 0,
					   SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT,
					   offsetof(struct rlfs_inode_info, i_data),
					   sizeof_field(struct rlfs_inode_info,
							i_data),
					   rlfs_inode_init_once);
	return rlfs_inode_cachep ? 0 : -ENOMEM;
}

void rlfs_destroy_inodecache(void)
{
	/* Inodes are freed through RCU: wait for them before the cache. */
	rcu_barrier();
	kmem_cache_destroy(rlfs_inode_cachep);
}

/* Inode-table block and byte offset of an inode record. */
static u64 rlfs_inode_block(struct super_block *sb, u64 ino,
			    unsigned int *offset)
{
	*offset = (ino % RLFS_INODES_PER_BLOCK) * RLFS_INODE_SIZE;
	return RLFS_SB(sb)->s_geom.itable_start + ino / RLFS_INODES_PER_BLOCK;
}

void rlfs_set_inode_flags(struct inode *inode)
{
	u32 flags = RLFS_I(inode)->i_flags;
	unsigned int new = 0;

	if (flags & RLFS_SYNC_FL)
		new |= S_SYNC;
	if (flags & RLFS_IMMUTABLE_FL)
		new |= S_IMMUTABLE;
	if (flags & RLFS_APPEND_FL)
		new |= S_APPEND;
	if (flags & RLFS_NOATIME_FL)
		new |= S_NOATIME;
	if (flags & RLFS_DIRSYNC_FL)
		new |= S_DIRSYNC;
	inode_set_flags(inode, new, S_SYNC | S_IMMUTABLE | S_APPEND |
			S_NOATIME | S_DIRSYNC);
}

static struct timespec64 rlfs_decode_time(__le64 sec, __le32 nsec)
{
	return (struct timespec64){
		.tv_sec = (s64)le64_to_cpu(sec),
		.tv_nsec = le32_to_cpu(nsec),
	};
}

static void rlfs_encode_time(struct timespec64 ts, __le64 *sec, __le32 *nsec)
{
	*sec = cpu_to_le64((u64)ts.tv_sec);
	*nsec = cpu_to_le32((u32)ts.tv_nsec);
}

/*
 * Check a record read from the inode table (rlfs_verify_inode()).
 * Returns 0, -ESTALE for a free slot or -EFSCORRUPTED (after a message).
 */
static int rlfs_check_raw_inode(struct super_block *sb, u64 ino, u64 blk,
				const struct rlfs_inode *raw)
{
	const char *why;

	if (rlfs_inode_slot_unused(raw))
		return -ESTALE;		/* never used */
	why = rlfs_verify_inode(raw, ino, &RLFS_SB(sb)->s_geom,
				rlfs_ro_compat(sb));
	if (why) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): %s (magic 0x%08x ino %llu mode 0%o size %llu flags 0x%x crc 0x%08x)",
				   ino, blk, why, le32_to_cpu(raw->i_magic),
				   le64_to_cpu(raw->i_ino),
				   le16_to_cpu(raw->i_mode),
				   le64_to_cpu(raw->i_size),
				   le32_to_cpu(raw->i_flags),
				   le32_to_cpu(raw->i_crc));
		return -EFSCORRUPTED;
	}
	if (!raw->i_mode)
		return -ESTALE;		/* freed */
	return 0;
}

/**
 * rlfs_read_inode - fill a new in-core inode from its record
 * @inode: locked new inode (iget_locked()), i_ino in range
 *
 * Reads and verifies the record (rlfs_verify_inode()).  Returns 0,
 * -ESTALE for a free slot, -EFSCORRUPTED (reported) or -EIO.
 */
int rlfs_read_inode(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	struct rlfs_inode_info *ei = RLFS_I(inode);
	u64 ino = inode->i_ino;
	struct rlfs_inode *raw;
	struct buffer_head *bh;
	unsigned int offset;
	umode_t mode;
	u64 blk;
	int err;

	blk = rlfs_inode_block(sb, ino, &offset);
	bh = sb_bread(sb, blk);
	if (!bh) {
		rlfs_err(sb, "inode %llu (block %llu): read error", ino, blk);
		return -EIO;
	}
	raw = (struct rlfs_inode *)(bh->b_data + offset);
	err = rlfs_check_raw_inode(sb, ino, blk, raw);
	if (err)
		goto out;

	mode = le16_to_cpu(raw->i_mode);
	inode->i_mode = mode;
	set_nlink(inode, le32_to_cpu(raw->i_nlink));
	i_uid_write(inode, le32_to_cpu(raw->i_uid));
	i_gid_write(inode, le32_to_cpu(raw->i_gid));
	inode->i_size = le64_to_cpu(raw->i_size);
	inode->i_blocks = le64_to_cpu(raw->i_blocks) << (RLFS_BLOCK_BITS - 9);
	rlfs_set_atime(inode, rlfs_decode_time(raw->i_atime, raw->i_atime_ns));
	rlfs_set_mtime(inode, rlfs_decode_time(raw->i_mtime, raw->i_mtime_ns));
	inode_set_ctime_to_ts(inode, rlfs_decode_time(raw->i_ctime,
						      raw->i_ctime_ns));
	ei->i_crtime = rlfs_decode_time(raw->i_crtime, raw->i_crtime_ns);
	inode->i_generation = le32_to_cpu(raw->i_generation);
	if (S_ISCHR(mode) || S_ISBLK(mode))
		inode->i_rdev = new_decode_dev(le32_to_cpu(raw->i_rdev));
	ei->i_flags = le32_to_cpu(raw->i_flags);
	ei->i_xattr_blk = le64_to_cpu(raw->i_xattr_blk);
	ei->i_next_orphan = le64_to_cpu(raw->i_next_orphan);
	ei->i_parent = le64_to_cpu(raw->i_parent);
	ei->i_snap_origin = le64_to_cpu(raw->i_snap_origin);
	ei->i_snap_origin_gen = le32_to_cpu(raw->i_snap_origin_gen);
	ei->i_lineage = le64_to_cpu(raw->i_lineage);
	memcpy(ei->i_data, raw->i_data, RLFS_INODE_DATA_SIZE);
out:
	brelse(bh);
	return err;
}

/* Copy the in-core inode into its record.  Called under i_raw_lock. */
static void rlfs_fill_raw_inode(struct inode *inode, struct rlfs_inode *raw)
{
	struct rlfs_inode_info *ei = RLFS_I(inode);

	memset(raw, 0, sizeof(*raw));
	raw->i_magic = cpu_to_le32(RLFS_INODE_MAGIC);
	raw->i_ino = cpu_to_le64(inode->i_ino);
	raw->i_mode = cpu_to_le16(inode->i_mode);
	raw->i_nlink = cpu_to_le32(inode->i_nlink);
	raw->i_uid = cpu_to_le32(i_uid_read(inode));
	raw->i_gid = cpu_to_le32(i_gid_read(inode));
	raw->i_size = cpu_to_le64(i_size_read(inode));
	raw->i_blocks = cpu_to_le64(inode->i_blocks >> (RLFS_BLOCK_BITS - 9));
	rlfs_encode_time(rlfs_get_atime(inode), &raw->i_atime,
			 &raw->i_atime_ns);
	rlfs_encode_time(rlfs_get_mtime(inode), &raw->i_mtime,
			 &raw->i_mtime_ns);
	rlfs_encode_time(inode_get_ctime(inode), &raw->i_ctime,
			 &raw->i_ctime_ns);
	rlfs_encode_time(ei->i_crtime, &raw->i_crtime, &raw->i_crtime_ns);
	raw->i_flags = cpu_to_le32(ei->i_flags);
	raw->i_generation = cpu_to_le32(inode->i_generation);
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode))
		raw->i_rdev = cpu_to_le32(new_encode_dev(inode->i_rdev));
	raw->i_xattr_blk = cpu_to_le64(ei->i_xattr_blk);
	raw->i_next_orphan = cpu_to_le64(ei->i_next_orphan);
	raw->i_parent = cpu_to_le64(ei->i_parent);
	raw->i_snap_origin = cpu_to_le64(ei->i_snap_origin);
	raw->i_snap_origin_gen = cpu_to_le32(ei->i_snap_origin_gen);
	raw->i_lineage = cpu_to_le64(ei->i_lineage);
	memcpy(raw->i_data, ei->i_data, RLFS_INODE_DATA_SIZE);
	rlfs_inode_set_csum(raw);
}

/*
 * Write the inode's record into the journal (fill) or zero the slot
 * (!fill: the inode is being freed).
 */
int rlfs_write_raw_inode(handle_t *handle, struct inode *inode, bool fill)
{
	struct super_block *sb = inode->i_sb;
	struct rlfs_inode_info *ei = RLFS_I(inode);
	struct buffer_head *bh;
	unsigned int offset;
	u64 blk;
	int err;

	blk = rlfs_inode_block(sb, inode->i_ino, &offset);
	bh = sb_bread(sb, blk);
	if (!bh) {
		rlfs_err(sb, "inode %lu (block %llu): read error",
			 inode->i_ino, blk);
		return -EIO;
	}
	err = rlfs_journal_get_write_access(handle, sb, bh);
	if (err)
		goto out;
	spin_lock(&ei->i_raw_lock);
	if (fill)
		rlfs_fill_raw_inode(inode,
				    (struct rlfs_inode *)(bh->b_data + offset));
	else
		memset(bh->b_data + offset, 0, RLFS_INODE_SIZE);
	spin_unlock(&ei->i_raw_lock);
	err = rlfs_journal_dirty(handle, bh);
	if (!err)
		WRITE_ONCE(ei->i_sync_tid, handle->h_transaction->t_tid);
out:
	brelse(bh);
	return err;
}

int rlfs_mark_inode_dirty(handle_t *handle, struct inode *inode)
{
	return rlfs_write_raw_inode(handle, inode, true);
}

void rlfs_dirty_inode(struct inode *inode, int flags)
{
	handle_t *handle;

	/* lazytime: timestamps only, written later with I_DIRTY_SYNC. */
	if (flags == I_DIRTY_TIME)
		return;
	/* Its error cannot reach anyone: not a fault-injection site. */
	handle = __rlfs_journal_start(inode->i_sb, RLFS_INODE_CREDITS, false);
	if (IS_ERR(handle))
		return;
	rlfs_mark_inode_dirty(handle, inode);
	rlfs_journal_stop(handle);
}

int rlfs_write_inode(struct inode *inode, struct writeback_control *wbc)
{
	if (current->flags & PF_MEMALLOC || sb_rdonly(inode->i_sb))
		return 0;
	if (WARN_ON_ONCE(journal_current_handle()))
		return -EIO;
	/* sync(2) commits the journal in ->sync_fs. */
	if (wbc->sync_mode != WB_SYNC_ALL || wbc->for_sync)
		return 0;
	return rlfs_sync_inode_journal(inode, false);
}
