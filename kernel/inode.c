// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs: inodes.  The inode cache, reading inodes from the inode
 * table (iget), creating and journaling them, eviction (deleting
 * unlinked inodes), setattr/getattr and truncate.
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
	return RLFS_SB(sb)->s_itable_start + ino / RLFS_INODES_PER_BLOCK;
}

static bool rlfs_ino_valid(struct super_block *sb, u64 ino)
{
	return ino >= RLFS_ROOT_INO && ino < RLFS_SB(sb)->s_inodes;
}

void rlfs_set_inode_ops(struct inode *inode)
{
	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &rlfs_file_inode_operations;
		inode->i_fop = &rlfs_file_operations;
		inode->i_mapping->a_ops = &rlfs_aops;
		break;
	case S_IFDIR:
		inode->i_op = &rlfs_dir_inode_operations;
		inode->i_fop = &rlfs_dir_operations;
		break;
	case S_IFLNK:
		if (RLFS_I(inode)->i_flags & RLFS_FAST_SYMLINK_FL) {
			inode->i_op = &rlfs_fast_symlink_inode_operations;
			inode->i_link = (char *)RLFS_I(inode)->i_data;
		} else {
			inode->i_op = &rlfs_symlink_inode_operations;
		}
		break;
	default:
		inode->i_op = &rlfs_special_inode_operations;
		init_special_inode(inode, inode->i_mode, inode->i_rdev);
		break;
	}
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
 * Check a record read from the inode table.  Returns 0, -ESTALE for a
 * free slot or -EFSCORRUPTED (after a message).
 */
static int rlfs_check_raw_inode(struct super_block *sb, u64 ino, u64 blk,
				const struct rlfs_inode *raw)
{
	umode_t mode = le16_to_cpu(raw->i_mode);
	const char *why;
	u32 crc;

	if (!raw->i_magic && !mode)
		return -ESTALE;		/* never used */
	if (le32_to_cpu(raw->i_magic) != RLFS_INODE_MAGIC) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): bad magic 0x%08x",
				   ino, blk, le32_to_cpu(raw->i_magic));
		return -EFSCORRUPTED;
	}
	if (le64_to_cpu(raw->i_ino) != ino) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): record says inode %llu",
				   ino, blk, le64_to_cpu(raw->i_ino));
		return -EFSCORRUPTED;
	}
	crc = rlfs_crc(raw, RLFS_INODE_SIZE, offsetof(struct rlfs_inode, i_crc));
	if (le32_to_cpu(raw->i_crc) != crc) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): bad checksum 0x%08x, expected 0x%08x",
				   ino, blk, le32_to_cpu(raw->i_crc), crc);
		return -EFSCORRUPTED;
	}
	if (!mode)
		return -ESTALE;		/* freed */
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): bad mode 0%o",
				   ino, blk, mode);
		return -EFSCORRUPTED;
	}
	if ((s64)le64_to_cpu(raw->i_size) < 0 ||
	    le64_to_cpu(raw->i_size) > RLFS_MAX_FILE_SIZE) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): bad size %llu",
				   ino, blk, le64_to_cpu(raw->i_size));
		return -EFSCORRUPTED;
	}
	if (S_ISDIR(mode) && (le64_to_cpu(raw->i_size) & (RLFS_BLOCK_SIZE - 1))) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): directory size %llu not a multiple of the block size",
				   ino, blk, le64_to_cpu(raw->i_size));
		return -EFSCORRUPTED;
	}
	if (le32_to_cpu(raw->i_atime_ns) >= NSEC_PER_SEC ||
	    le32_to_cpu(raw->i_mtime_ns) >= NSEC_PER_SEC ||
	    le32_to_cpu(raw->i_ctime_ns) >= NSEC_PER_SEC ||
	    le32_to_cpu(raw->i_crtime_ns) >= NSEC_PER_SEC) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): bad nanoseconds",
				   ino, blk);
		return -EFSCORRUPTED;
	}
	if (le64_to_cpu(raw->i_blocks) > RLFS_SB(sb)->s_blocks) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): %llu blocks in a filesystem of %llu",
				   ino, blk, le64_to_cpu(raw->i_blocks),
				   RLFS_SB(sb)->s_blocks);
		return -EFSCORRUPTED;
	}
	if (raw->i_next_orphan &&
	    !rlfs_ino_valid(sb, le64_to_cpu(raw->i_next_orphan))) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): bad next orphan %llu",
				   ino, blk, le64_to_cpu(raw->i_next_orphan));
		return -EFSCORRUPTED;
	}
	if (S_ISLNK(mode) &&
	    (le32_to_cpu(raw->i_flags) & RLFS_FAST_SYMLINK_FL)) {
		u64 size = le64_to_cpu(raw->i_size);

		if (!size || size > RLFS_FAST_SYMLINK_MAX ||
		    strnlen(raw->i_symlink, RLFS_INODE_DATA_SIZE) != size) {
			rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): bad fast symlink of size %llu",
					   ino, blk, size);
			return -EFSCORRUPTED;
		}
	}
	why = rlfs_check_snap_record(raw, rlfs_ro_compat(sb),
				     RLFS_SB(sb)->s_inodes, S_ISREG(mode));
	if (why) {
		rlfs_corrupt_block(sb, blk, "inode %llu (block %llu): %s (origin %llu)",
				   ino, blk, why, le64_to_cpu(raw->i_snap_origin));
		return -EFSCORRUPTED;
	}
	return 0;
}

struct inode *rlfs_iget(struct super_block *sb, u64 ino)
{
	struct rlfs_inode_info *ei;
	struct rlfs_inode *raw;
	struct buffer_head *bh;
	struct inode *inode;
	unsigned int offset;
	umode_t mode;
	u64 blk;
	int err;

	if (!rlfs_ino_valid(sb, ino)) {
		rlfs_corrupt(sb, "inode %llu out of range [1, %llu)", ino,
			     RLFS_SB(sb)->s_inodes);
		return ERR_PTR(-EFSCORRUPTED);
	}
	inode = iget_locked(sb, ino);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode->i_state & I_NEW))
		return inode;
	ei = RLFS_I(inode);

	blk = rlfs_inode_block(sb, ino, &offset);
	bh = sb_bread(sb, blk);
	if (!bh) {
		rlfs_err(sb, "inode %llu (block %llu): read error", ino, blk);
		err = -EIO;
		goto bad;
	}
	raw = (struct rlfs_inode *)(bh->b_data + offset);
	err = rlfs_check_raw_inode(sb, ino, blk, raw);
	if (err)
		goto bad_brelse;

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
	brelse(bh);

	if (S_ISDIR(mode) && !rlfs_ino_valid(sb, ei->i_parent)) {
		rlfs_corrupt(sb, "inode %llu: bad parent directory %llu", ino,
			     ei->i_parent);
		err = -EFSCORRUPTED;
		goto bad;
	}
	if (S_ISREG(mode) || S_ISDIR(mode) ||
	    (S_ISLNK(mode) && !(ei->i_flags & RLFS_FAST_SYMLINK_FL))) {
		err = rlfs_extent_check_root(inode);
		if (err)
			goto bad;
	}
	rlfs_set_inode_ops(inode);
	rlfs_set_inode_flags(inode);
	unlock_new_inode(inode);
	return inode;

bad_brelse:
	brelse(bh);
bad:
	iget_failed(inode);
	return ERR_PTR(err);
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
	raw->i_crc = cpu_to_le32(rlfs_crc(raw, RLFS_INODE_SIZE,
					  offsetof(struct rlfs_inode, i_crc)));
}

/*
 * Write the inode's record into the journal (fill) or zero the slot
 * (!fill: the inode is being freed).
 */
static int rlfs_write_raw_inode(handle_t *handle, struct inode *inode,
				bool fill)
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

/* Flags a new inode inherits from its directory (as ext4). */
static u32 rlfs_inherit_flags(struct inode *dir, umode_t mode)
{
	u32 flags = RLFS_I(dir)->i_flags & (RLFS_SYNC_FL | RLFS_NOATIME_FL |
					     RLFS_NODUMP_FL | RLFS_DIRSYNC_FL);

	if (S_ISDIR(mode))
		return flags;
	if (S_ISREG(mode))
		return flags & ~RLFS_DIRSYNC_FL;
	return flags & (RLFS_NODUMP_FL | RLFS_NOATIME_FL);
}

struct inode *rlfs_new_inode(handle_t *handle, struct rlfs_idmap *idmap,
			     struct inode *dir, umode_t mode, dev_t rdev)
{
	struct super_block *sb = dir->i_sb;
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	struct rlfs_inode_info *ei;
	struct timespec64 now;
	struct inode *inode;
	u64 ino;
	int err;

	err = rlfs_alloc_ino(handle, sb, dir->i_ino, &ino);
	if (err)
		return ERR_PTR(err);
	inode = new_inode(sb);
	if (!inode) {
		rlfs_free_ino(handle, sb, ino);
		return ERR_PTR(-ENOMEM);
	}
	ei = RLFS_I(inode);
	inode_init_owner(idmap, inode, dir, mode);
	inode->i_ino = ino;
	inode->i_blocks = 0;
	inode->i_size = 0;
	now = inode_set_ctime_current(inode);
	rlfs_set_atime(inode, now);
	rlfs_set_mtime(inode, now);
	ei->i_crtime = now;
	spin_lock(&sbi->s_gen_lock);
	inode->i_generation = sbi->s_next_generation++;
	spin_unlock(&sbi->s_gen_lock);
	ei->i_flags = rlfs_inherit_flags(dir, inode->i_mode);
	if (S_ISDIR(inode->i_mode))
		ei->i_parent = dir->i_ino;
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode) ||
	    S_ISFIFO(inode->i_mode) || S_ISSOCK(inode->i_mode))
		inode->i_rdev = rdev;
	rlfs_init_extent_root(inode);

	if (insert_inode_locked(inode) < 0) {
		/* The bitmap said free, yet the inode is live: corruption. */
		rlfs_corrupt(sb, "inode %llu: allocated while in use", ino);
		make_bad_inode(inode);
		iput(inode);
		return ERR_PTR(-EFSCORRUPTED);
	}
	rlfs_set_inode_ops(inode);
	rlfs_set_inode_flags(inode);
	err = rlfs_mark_inode_dirty(handle, inode);
	if (err) {
		clear_nlink(inode);
		unlock_new_inode(inode);
		iput(inode);
		return ERR_PTR(err);
	}
	return inode;
}

static int rlfs_finish_truncate(struct inode *inode);

/* Free the on-disk inode of an unlinked inode being evicted. */
static void rlfs_delete_inode(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	struct rlfs_inode_info *ei = RLFS_I(inode);
	handle_t *handle;
	int err = 0;

	if (S_ISREG(inode->i_mode) || S_ISDIR(inode->i_mode) ||
	    (S_ISLNK(inode->i_mode) && !(ei->i_flags & RLFS_FAST_SYMLINK_FL)))
		err = rlfs_truncate_blocks(inode, 0);
	if (err)
		goto keep;
	handle = rlfs_journal_start(sb, RLFS_XATTR_CREDITS +
				    RLFS_ORPHAN_CREDITS + RLFS_INODE_CREDITS +
				    RLFS_BITMAP_CREDITS);
	if (IS_ERR(handle)) {
		err = PTR_ERR(handle);
		goto keep;
	}
	err = rlfs_xattr_delete_inode(handle, inode);
	if (!err)
		err = rlfs_orphan_del(handle, inode);
	if (!err)
		err = rlfs_write_raw_inode(handle, inode, false);
	if (!err)
		err = rlfs_free_ino(handle, sb, inode->i_ino);
	rlfs_journal_stop(handle);
	if (!err)
		return;
keep:
	/*
	 * The inode stays on the on-disk orphan list (if it is on it) and is
	 * reclaimed at the next read-write mount; forget it in memory.
	 */
	if (err != -EROFS)
		rlfs_err(sb, "inode %lu: cannot free the unlinked inode: %d",
			 inode->i_ino, err);
	rlfs_orphan_del(NULL, inode);
}

void rlfs_evict_inode(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	journal_t *journal = RLFS_SB(sb)->s_journal;
	struct rlfs_inode_info *ei = RLFS_I(inode);

	truncate_inode_pages_final(&inode->i_data);
	if (!inode->i_nlink && !is_bad_inode(inode)) {
		sb_start_intwrite(sb);
		rlfs_delete_inode(inode);
		sb_end_intwrite(sb);
	} else if (!list_empty(&ei->i_orphan)) {
		/*
		 * A truncate that did not finish: try again.  If it fails
		 * once more, the on-disk orphan entry stays and the next
		 * mount finishes it; blocks past EOF never outlive it.
		 */
		sb_start_intwrite(sb);
		rlfs_finish_truncate(inode);
		sb_end_intwrite(sb);
		rlfs_orphan_del(NULL, inode);
	}
	if (journal)
		jbd2_journal_release_jbd_inode(journal, &ei->i_jinode);
	invalidate_inode_buffers(inode);
	clear_inode(inode);
}

/*
 * A truncate that could not unmap every block past the new EOF left the
 * inode on the orphan list (the next mount finishes it).  Finish it now,
 * before i_size grows over those blocks.
 */
static int rlfs_finish_truncate(struct inode *inode)
{
	handle_t *handle;
	int err, err2;

	if (!inode->i_nlink || list_empty(&RLFS_I(inode)->i_orphan))
		return 0;
	err = rlfs_truncate_blocks(inode, rlfs_blocks_of(i_size_read(inode)));
	if (err)
		return err;
	handle = rlfs_journal_start(inode->i_sb, RLFS_ORPHAN_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = rlfs_orphan_del(handle, inode);
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

/**
 * rlfs_prepare_grow - make what lies past EOF read as zeroes
 * @inode: regular file, i_rwsem held, no handle
 * @from: the first byte the caller writes itself (a write's or a
 *	clone's start), LLONG_MAX when it writes nothing (truncate,
 *	fallocate)
 *
 * Before i_size grows (truncate up, a write or fallocate past EOF, a
 * clone that extends the file): the bytes of the last block past EOF,
 * up to @from, may hold what was written through mmap (writeback zeroes
 * them on disk only), so they are zeroed in the page cache, as
 * xfs_zero_range() and ext4 do; and blocks a failed truncate left mapped
 * past EOF are unmapped.  An append at EOF zeroes nothing.  Returns 0 or
 * -errno.
 */
int rlfs_prepare_grow(struct inode *inode, loff_t from)
{
	loff_t size = i_size_read(inode);
	loff_t end = min_t(loff_t, from, round_up(size, RLFS_BLOCK_SIZE));
	int err;

	err = rlfs_finish_truncate(inode);
	if (err || end <= size)
		return err;
	return rlfs_zero_partial(inode, size, end - size);
}

int rlfs_truncate(struct inode *inode, loff_t size)
{
	struct super_block *sb = inode->i_sb;
	loff_t oldsize = i_size_read(inode);
	handle_t *handle;
	int err, err2;

	if (!S_ISREG(inode->i_mode))
		return -EINVAL;
	if (size == oldsize)
		return 0;

	if (size > oldsize) {
		err = rlfs_prepare_grow(inode, LLONG_MAX);
		if (err)
			return err;
		handle = rlfs_journal_start(sb, RLFS_INODE_CREDITS);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		i_size_write(inode, size);
		rlfs_touch_mctime(inode);
		err = rlfs_mark_inode_dirty(handle, inode);
		rlfs_journal_stop(handle);
		if (!err)
			pagecache_isize_extended(inode, oldsize, size);
		return err;
	}

	filemap_invalidate_lock(inode->i_mapping);
	/*
	 * The zeroing of the new last block runs in this handle (nested)
	 * and may copy a shared block: its credits are taken here, since a
	 * nested handle can neither ask for more nor restart.
	 */
	handle = rlfs_journal_start(sb, RLFS_ORPHAN_CREDITS +
				    RLFS_INODE_CREDITS + RLFS_WRITE_CREDITS +
				    RLFS_COW_CREDITS);
	if (IS_ERR(handle)) {
		err = PTR_ERR(handle);
		goto out_unlock;
	}
	/*
	 * The orphan entry makes a crash before the blocks are gone finish
	 * the truncate at the next mount.
	 */
	err = rlfs_orphan_add(handle, inode);
	if (err)
		goto out_stop;
	/* Zero the tail of the new last block, up to the old size. */
	if (size & (RLFS_BLOCK_SIZE - 1)) {
		loff_t end = min_t(loff_t, oldsize,
				   round_up(size, RLFS_BLOCK_SIZE));

		err = rlfs_zero_partial(inode, size, end - size);
		if (err)
			goto out_stop;
	}
	i_size_write(inode, size);
	rlfs_touch_mctime(inode);
	err = rlfs_mark_inode_dirty(handle, inode);
out_stop:
	rlfs_journal_stop(handle);
	if (err)
		goto out_unlock;

	truncate_pagecache(inode, size);
	err = rlfs_truncate_blocks(inode, rlfs_blocks_of(size));

	/*
	 * On failure the inode stays an orphan on disk, so the next mount
	 * finishes the truncate.
	 */
	if (!err) {
		handle = rlfs_journal_start(sb, RLFS_ORPHAN_CREDITS);
		if (IS_ERR(handle)) {
			err = PTR_ERR(handle);
		} else {
			err = rlfs_orphan_del(handle, inode);
			err2 = rlfs_journal_stop(handle);
			if (!err)
				err = err2;
		}
	}
out_unlock:
	filemap_invalidate_unlock(inode->i_mapping);
	return err;
}

int rlfs_setattr(struct rlfs_idmap *idmap, struct dentry *dentry,
		 struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	handle_t *handle;
	int err, err2;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;

	if (attr->ia_valid & ATTR_SIZE) {
		if (!S_ISREG(inode->i_mode))
			return -EINVAL;
		if (attr->ia_size != i_size_read(inode)) {
			inode_dio_wait(inode);
			err = rlfs_truncate(inode, attr->ia_size);
			if (err)
				return err;
		}
	}
	if (!(attr->ia_valid & ~ATTR_SIZE))
		return 0;

	handle = rlfs_journal_start(inode->i_sb, RLFS_INODE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	setattr_copy(idmap, inode, attr);
	err = rlfs_mark_inode_dirty(handle, inode);
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

int rlfs_getattr(struct rlfs_idmap *idmap, const struct path *path,
		 struct kstat *stat, u32 request_mask, unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct rlfs_inode_info *ei = RLFS_I(inode);
	u32 iflags = READ_ONCE(ei->i_flags);

	if (request_mask & STATX_BTIME) {
		stat->result_mask |= STATX_BTIME;
		stat->btime = ei->i_crtime;
	}
	if (iflags & RLFS_IMMUTABLE_FL)
		stat->attributes |= STATX_ATTR_IMMUTABLE;
	if (iflags & RLFS_APPEND_FL)
		stat->attributes |= STATX_ATTR_APPEND;
	if (iflags & RLFS_NODUMP_FL)
		stat->attributes |= STATX_ATTR_NODUMP;
	stat->attributes_mask |= STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND |
				 STATX_ATTR_NODUMP;
	rlfs_fillattr(idmap, request_mask, inode, stat);
	stat->blksize = RLFS_BLOCK_SIZE;
	return 0;
}
