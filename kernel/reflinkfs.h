/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reflinkfs: in-memory structures and the prototypes shared between the
 * files of the module.  The on-disk format and the rules that say what a
 * valid block is are in libreflinkfs/ (rlfs_format.h, rlfs_core.h).
 *
 * Lock order (outermost first):
 *
 *   VFS i_rwsem (directory, then the file, as the VFS takes them)
 *   sb_start_write / sb_start_pagefault (freeze protection)
 *   jbd2 handle (rlfs_journal_start)
 *   folio / page lock
 *   rlfs_inode_info.i_map_sem (extent map of one inode)
 *   rlfs_inode_info.i_xattr_sem
 *   rlfs_sb_info.s_refcount_sem (refcount tree)
 *   rlfs_sb_info.s_orphan_lock
 *   rlfs_sb_info.s_alloc_lock (bitmaps)
 *
 * A jbd2 handle is never started while holding i_map_sem, i_xattr_sem,
 * s_refcount_sem, s_orphan_lock, s_alloc_lock or a page lock: starting a
 * handle may wait for a commit, and the commit writes ordered data under
 * page locks and calls ->writepages, which takes i_map_sem for reading.
 */
#ifndef _REFLINKFS_H
#define _REFLINKFS_H

#include <linux/fs.h>
#include <linux/buffer_head.h>
#include <linux/jbd2.h>
#include <linux/percpu_counter.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>
#include <uapi/linux/reflinkfs.h>
#include "rlfs_core.h"
#include "compat.h"

/* Mount options, rlfs_sb_info.s_mount_opt. */
#define RLFS_MOUNT_ERRORS_RO	(1U << 0)	/* errors=remount-ro (default) */
#define RLFS_MOUNT_ERRORS_CONT	(1U << 1)	/* errors=continue */
#define RLFS_MOUNT_ERRORS_PANIC	(1U << 2)	/* errors=panic */
#define RLFS_MOUNT_BARRIER	(1U << 3)	/* flush the device at commit */

/* Default seconds between journal commits (commit= option). */
#define RLFS_DEFAULT_COMMIT	5

/*
 * Journal credits: the number of distinct metadata blocks an operation
 * may dirty in one handle.
 *
 * RLFS_TREE_CREDITS: one extent-tree change (insert with a split at every
 * level, or a removal): every node on the path and a new sibling per
 * level, a new root level, the bitmap blocks for the new nodes, the inode.
 */
#define RLFS_BITMAP_CREDITS	2	/* one extent spans <= 2 bitmap blocks */
#define RLFS_TREE_CREDITS	(3 * (RLFS_MAX_EXTENT_DEPTH + 1) + \
				 RLFS_BITMAP_CREDITS + 1)
#define RLFS_INODE_CREDITS	1	/* one inode-table block */
#define RLFS_SB_CREDITS		1
/* An orphan add or delete: superblock, this inode, the previous orphan. */
#define RLFS_ORPHAN_CREDITS	(RLFS_SB_CREDITS + 2 * RLFS_INODE_CREDITS)
/* Map one write of up to a page (one block) with allocation. */
#define RLFS_WRITE_CREDITS	(RLFS_TREE_CREDITS + RLFS_BITMAP_CREDITS + \
				 RLFS_INODE_CREDITS + RLFS_SB_CREDITS)
/* A new inode: inode bitmap, inode table, directory entry, xattr. */
#define RLFS_NEWINODE_CREDITS	(2 + RLFS_INODE_CREDITS)
#define RLFS_DIRENT_CREDITS	(1 + RLFS_WRITE_CREDITS) /* may add a block */
#define RLFS_XATTR_CREDITS	(2 + RLFS_BITMAP_CREDITS + RLFS_INODE_CREDITS)
/*
 * Revoke records a handle may issue between two credit checks: freed
 * metadata blocks of two refcount steps and an extent removal (a piece
 * of a clone over mapped data).
 */
#define RLFS_REVOKE_CREDITS	(5 * RLFS_MAX_EXTENT_DEPTH + 8)
/* Blocks one truncate step may free from a directory or symlink. */
#define RLFS_MAX_META_FREE	8

/* Counters since mount, reported by STATUS_GET (netlink.c). */
enum rlfs_stat {
	RLFS_STAT_REFLINKS,
	RLFS_STAT_SNAPSHOTS,
	RLFS_STAT_CLONES,
	RLFS_STAT_DEDUPES,
	RLFS_STAT_COW_BLOCKS,
	RLFS_STAT_UNSHARED_BLOCKS,
	RLFS_STAT_ENOSPC,
	RLFS_STAT_CORRUPTIONS,
	RLFS_STAT_COMMITS,
	RLFS_STAT_NR
};

/* One armed fault site (fault.c), under rlfs_sb_info.s_fault_lock. */
struct rlfs_fault {
	bool			armed;	/* also read without the lock */
	int			err;	/* positive errno */
	u64			nth;
	u64			every;
	u64			calls;
	u64			fired;
};
#define RLFS_FAULT_SITES	(REFLINKFS_FAULT_SITE_TRANS + 1)

/*
 * Per-filesystem information, sb->s_fs_info.
 */
struct rlfs_sb_info {
	struct super_block	*s_sb;
	struct buffer_head	*s_sbh;		/* superblock buffer */
	struct rlfs_super	*s_rsb;		/* s_sbh->b_data */
	journal_t		*s_journal;

	/* Geometry, CPU order, verified at mount and read-only after it. */
	struct rlfs_geom	s_geom;

	/* Free counts, computed from the bitmaps at mount. */
	struct percpu_counter	s_free_blocks;
	struct percpu_counter	s_free_inodes;

	/*
	 * Free blocks only allocations with RLFS_ALLOC_RESERVE may take:
	 * the tree growth of freeing operations (ext4's reserved clusters,
	 * XFS's per-AG metadata reservations).  Not in statfs f_bavail.
	 * Read-only after mount.
	 */
	u64			s_resv_blocks;

	/*
	 * s_alloc_lock serialises every change to both bitmaps and the
	 * allocation cursors below.  Innermost lock.
	 */
	struct mutex		s_alloc_lock;
	u64			s_block_cursor;	/* next-fit allocation goal */
	u64			s_inode_cursor;

	/*
	 * s_orphan_lock protects the orphan list: s_orphans (in-memory, in
	 * on-disk order), the superblock's s_orphan_head and every
	 * rlfs_inode_info.i_next_orphan.
	 */
	struct mutex		s_orphan_lock;
	struct list_head	s_orphans;

	/*
	 * s_refcount_sem protects the refcount tree: its blocks and the
	 * superblock's s_refcount_root and s_refcount_depth.  Shared for
	 * lookups, exclusive for changes (always inside a jbd2 handle).
	 * Nests inside i_map_sem, outside s_alloc_lock.  Initialised by
	 * rlfs_refcount_init().
	 */
	struct rw_semaphore	s_refcount_sem;
	/* RLFS_ALLOC_* for refcount-tree blocks; under s_refcount_sem. */
	unsigned int		s_rc_alloc_flags;

	/* s_gen_lock protects s_next_generation. */
	spinlock_t		s_gen_lock;
	u32			s_next_generation;

	/* Mount options. */
	unsigned int		s_mount_opt;
	unsigned int		s_commit_interval;	/* seconds */

	struct ratelimit_state	s_msg_ratelimit;

	/* Records RLFS_STATE_ERROR in the superblock after a corruption. */
	struct work_struct	s_error_work;

	/* Observability (netlink.c, fault.c). */
	struct list_head	s_instance;	/* on rlfs_instances */
	atomic64_t		s_stats[RLFS_STAT_NR];
	/* Copy-on-write notes of uncommitted transactions, s_cow_lock. */
	spinlock_t		s_cow_lock;
	struct list_head	s_cow_notes;
	unsigned int		s_cow_nr_notes;
	spinlock_t		s_fault_lock;
	struct rlfs_fault	s_faults[RLFS_FAULT_SITES];
	bool			s_fault_fired;	/* since mount: rlfs_abort() */
	/* Highest refcount (U32_MAX; lowered by FAULT_SET to test it). */
	u32			s_refcount_max;
};

/*
 * Per-inode information.
 */
struct rlfs_inode_info {
	/*
	 * i_map_sem protects i_data (the extent-tree root, in disk format,
	 * copied to the inode record when the inode is written) and the
	 * extent blocks below it, and the on-disk i_blocks.  Taken for
	 * reading to map blocks, for writing to change the map.  Nests
	 * inside a jbd2 handle and inside the page lock.
	 */
	struct rw_semaphore	i_map_sem;
	union {
		struct {
			struct rlfs_btree_header i_eh;
			struct rlfs_extent	i_ext[RLFS_INODE_ROOT_ENTRIES];
		};
		__u8			i_data[RLFS_INODE_DATA_SIZE];
	};
	/* RLFS_ALLOC_* for extent-tree blocks; under i_map_sem (write). */
	unsigned int		i_alloc_flags;
	u32			i_flags;	/* RLFS_*_FL, under i_rwsem */
	u64			i_xattr_blk;	/* under i_xattr_sem */
	u64			i_parent;	/* directories, under i_rwsem */
	/* The snapshot record (RLFS_SNAPSHOT_FL), under i_rwsem. */
	u64			i_snap_origin;
	u32			i_snap_origin_gen;
	u64			i_lineage;	/* regular files, under i_rwsem */
	struct timespec64	i_crtime;

	/* i_xattr_sem protects the xattr block and i_xattr_blk. */
	struct rw_semaphore	i_xattr_sem;

	/* Orphan list, under rlfs_sb_info.s_orphan_lock. */
	u64			i_next_orphan;
	struct list_head	i_orphan;	/* empty: not an orphan */

	/* data=ordered: the jbd2 inode that makes commits flush our data. */
	struct jbd2_inode	i_jinode;

	/*
	 * i_raw_lock makes copying the in-core inode into its inode-table
	 * slot and checksumming the slot atomic against another copy.
	 */
	spinlock_t		i_raw_lock;

	/* Last transaction that changed this inode, for fsync. */
	tid_t			i_sync_tid;

	struct inode		vfs_inode;
};

static inline struct rlfs_sb_info *RLFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct rlfs_inode_info *RLFS_I(struct inode *inode)
{
	return container_of(inode, struct rlfs_inode_info, vfs_inode);
}

/*
 * The one way into the extent map of an inode (as xfs_ilock()): i_map_sem
 * shared (RLFS_MAP_SHARED) or exclusive (RLFS_MAP_EXCL), with the NOFS
 * allocation scope every map operation needs (reclaim must not re-enter
 * the filesystem while the map or a jbd2 handle is held).  Returns the
 * scope cookie rlfs_map_unlock() takes back.
 */
#define RLFS_MAP_SHARED		0
#define RLFS_MAP_EXCL		1

static inline unsigned int rlfs_map_lock(struct inode *inode, int mode)
{
	if (mode == RLFS_MAP_EXCL)
		down_write(&RLFS_I(inode)->i_map_sem);
	else
		down_read(&RLFS_I(inode)->i_map_sem);
	return memalloc_nofs_save();
}

static inline void rlfs_map_unlock(struct inode *inode, int mode,
				   unsigned int nofs)
{
	memalloc_nofs_restore(nofs);
	if (mode == RLFS_MAP_EXCL)
		up_write(&RLFS_I(inode)->i_map_sem);
	else
		up_read(&RLFS_I(inode)->i_map_sem);
}

/* The superblock's read-only compatible features (rlfs_set_ro_compat()). */
static inline u64 rlfs_ro_compat(struct super_block *sb)
{
	return le64_to_cpu(READ_ONCE(RLFS_SB(sb)->s_rsb->s_feature_ro_compat));
}

/* Logical blocks of a byte count, rounded up. */
static inline u64 rlfs_blocks_of(loff_t bytes)
{
	return ((u64)bytes + RLFS_BLOCK_SIZE - 1) >> RLFS_BLOCK_BITS;
}

/*
 * Messages.  rlfs_err() is rate limited per filesystem and names the
 * device; rlfs_corrupt() also records the error in the superblock state
 * and applies the errors= policy.  Both are safe in any context that may
 * sleep.
 */
__printf(3, 4)
void __rlfs_msg(struct super_block *sb, const char *level, const char *fmt,
		...);
#define rlfs_err(sb, fmt, ...) \
	__rlfs_msg(sb, KERN_ERR, fmt, ##__VA_ARGS__)
#define rlfs_warn(sb, fmt, ...) \
	__rlfs_msg(sb, KERN_WARNING, fmt, ##__VA_ARGS__)
#define rlfs_info(sb, fmt, ...) \
	__rlfs_msg(sb, KERN_INFO, fmt, ##__VA_ARGS__)
__printf(4, 5)
void __rlfs_corrupt(struct super_block *sb, const char *func, u64 blocknr,
		    const char *fmt, ...);
#define rlfs_corrupt(sb, fmt, ...) \
	__rlfs_corrupt(sb, __func__, 0, fmt, ##__VA_ARGS__)
/* The same, naming the corrupt block in the netlink event. */
#define rlfs_corrupt_block(sb, blocknr, fmt, ...) \
	__rlfs_corrupt(sb, __func__, blocknr, fmt, ##__VA_ARGS__)

static inline void rlfs_stat_add(struct super_block *sb, enum rlfs_stat stat,
				 u64 n)
{
	atomic64_add(n, &RLFS_SB(sb)->s_stats[stat]);
}

/* orphan.c */
int rlfs_orphan_add(handle_t *handle, struct inode *inode);
int rlfs_orphan_del(handle_t *handle, struct inode *inode);
void rlfs_recover_orphans(struct super_block *sb);

/* super.c */
extern const struct super_operations rlfs_sops;

/* meta.c */
void rlfs_update_block_crc(struct buffer_head *bh);
struct buffer_head *rlfs_read_meta(struct super_block *sb, u64 blocknr,
				   u32 magic, u64 owner);
struct buffer_head *rlfs_new_meta(handle_t *handle, struct super_block *sb,
				  u64 blocknr, u32 magic, u64 owner);

/*
 * A change of the superblock (rlfs_super_update()): the fields named in
 * @what, the bits to set and clear; zero-initialise what is unused.
 */
#define RLFS_SE_ORPHAN		(1U << 0)	/* s_orphan_head */
#define RLFS_SE_REFCOUNT	(1U << 1)	/* refcount root and depth */
#define RLFS_SE_MOUNT		(1U << 2)	/* count a mount, its time */
#define RLFS_SE_STAMP		(1U << 3)	/* next generation, write time */
struct rlfs_super_edit {
	unsigned int	what;
	u64		orphan_head;
	u64		refcount_root;
	u32		refcount_depth;
	u32		state_set;
	u32		state_clear;
	u64		ro_compat_set;
};
int rlfs_super_update(handle_t *handle, struct super_block *sb,
		      const struct rlfs_super_edit *edit);
void rlfs_super_update_nojournal(struct super_block *sb,
				 const struct rlfs_super_edit *edit);
int rlfs_set_ro_compat(handle_t *handle, struct super_block *sb, u64 feature);
int rlfs_commit_super(struct super_block *sb, bool sync);

/* journal.c */
handle_t *__rlfs_journal_start(struct super_block *sb, int credits,
			       bool fault);
handle_t *rlfs_journal_start(struct super_block *sb, int credits);
void rlfs_abort(struct super_block *sb, int err);
int rlfs_journal_stop(handle_t *handle);
int rlfs_journal_get_write_access(handle_t *handle, struct super_block *sb,
				  struct buffer_head *bh);
int rlfs_journal_dirty(handle_t *handle, struct buffer_head *bh);
int rlfs_journal_dirty_meta(handle_t *handle, struct buffer_head *bh);
int rlfs_journal_forget_block(handle_t *handle, struct super_block *sb,
			      u64 blocknr);
int rlfs_journal_ensure_credits(handle_t *handle, int credits);
int rlfs_journal_order_data(handle_t *handle, struct inode *inode,
			    loff_t start, loff_t len);
int rlfs_journal_init(struct super_block *sb);
void rlfs_journal_destroy(struct super_block *sb);
int rlfs_journal_force_commit(struct super_block *sb);
int rlfs_sync_inode_journal(struct inode *inode, bool datasync);
bool rlfs_should_retry_alloc(struct super_block *sb, int *retries);

/* balloc.c */
int rlfs_count_free(struct super_block *sb);
#define RLFS_ALLOC_RESERVE	(1U << 0)	/* may use s_resv_blocks */
int rlfs_alloc_blocks(handle_t *handle, struct super_block *sb,
		      struct inode *inode, u64 goal, u32 *count, u64 *start,
		      unsigned int flags);
u64 rlfs_resv_blocks_of(u64 data_blocks);
int rlfs_free_blocks(handle_t *handle, struct super_block *sb,
		     struct inode *inode, u64 start, u32 count);
int rlfs_free_meta_block(handle_t *handle, struct super_block *sb,
			 struct inode *inode, u64 blocknr);
int rlfs_alloc_ino(handle_t *handle, struct super_block *sb, u64 goal,
		   u64 *ino);
int rlfs_free_ino(handle_t *handle, struct super_block *sb, u64 ino);

/* inode.c: the inode record */
int rlfs_read_inode(struct inode *inode);
int rlfs_write_raw_inode(handle_t *handle, struct inode *inode, bool fill);
int rlfs_mark_inode_dirty(handle_t *handle, struct inode *inode);
void rlfs_set_inode_flags(struct inode *inode);
int rlfs_write_inode(struct inode *inode, struct writeback_control *wbc);
void rlfs_dirty_inode(struct inode *inode, int flags);

/* iops.c: inode operations */
struct inode *rlfs_iget(struct super_block *sb, u64 ino);
struct inode *rlfs_new_inode(handle_t *handle, struct rlfs_idmap *idmap,
			     struct inode *dir, umode_t mode, dev_t rdev);
void rlfs_set_inode_ops(struct inode *inode);
void rlfs_evict_inode(struct inode *inode);
int rlfs_setattr(struct rlfs_idmap *idmap, struct dentry *dentry,
		 struct iattr *attr);
int rlfs_getattr(struct rlfs_idmap *idmap, const struct path *path,
		 struct kstat *stat, u32 request_mask, unsigned int flags);
int rlfs_truncate(struct inode *inode, loff_t size);
int rlfs_prepare_grow(struct inode *inode, loff_t from);
struct inode *rlfs_alloc_inode(struct super_block *sb);
void rlfs_free_inode(struct inode *inode);
int rlfs_init_inodecache(void);
void rlfs_destroy_inodecache(void);

/* extent.c */
struct rlfs_map {
	u32	m_lblk;		/* in: first logical block */
	u32	m_len;		/* in: blocks wanted; out: blocks found */
	u64	m_pblk;		/* out: first physical block, 0 for a hole */
	bool	m_new;		/* out: the blocks were allocated now */
};
/* One extent, or a hole (pblk 0), in CPU order: rlfs_extent_lookup(). */
#define RLFS_MAP_CREATE	(1U << 0)	/* allocate holes */
#define RLFS_MAP_ZERO	(1U << 1)	/* zero allocated blocks on disk */
int rlfs_map_blocks(handle_t *handle, struct inode *inode,
		    struct rlfs_map *map, unsigned int flags);
int rlfs_extent_insert(handle_t *handle, struct inode *inode,
		       u32 lblk, u64 pblk, u32 len);
int rlfs_remove_range(handle_t *handle, struct inode *inode, u32 lblk,
		      u32 len, u32 *removed);
int rlfs_extent_reserve(handle_t *handle, struct inode *inode, u32 lblk,
			struct rlfs_ext_irec *rec);
int rlfs_extent_replace(handle_t *handle, struct inode *inode, u32 lblk,
			u32 len, u64 new_pblk, u64 *old_pblk);
int rlfs_extent_split(handle_t *handle, struct inode *inode, u32 lblk);
int rlfs_extent_shift_step(handle_t *handle, struct inode *inode, u32 *cur,
			   u32 floor, u32 shift, bool left);
int rlfs_truncate_blocks(struct inode *inode, u32 from_lblk);
int rlfs_punch_blocks(struct inode *inode, u32 lblk, u32 len);
int rlfs_next_data(struct inode *inode, u32 lblk, u32 *found);
void rlfs_init_extent_root(struct inode *inode);
int rlfs_extent_lookup(struct inode *inode, u32 lblk,
		       struct rlfs_ext_irec *rec);
int rlfs_extent_get(struct inode *inode, u32 lblk, struct rlfs_ext_irec *rec);

/*
 * refcount.c / rctree.c: the refcount tree.  Only shared physical ranges
 * have records (refcount >= 2); a mapped block without a record has
 * refcount 1.  The tree is protected by rlfs_sb_info.s_refcount_sem,
 * which nests inside i_map_sem and outside s_alloc_lock.  Each call does
 * a bounded amount of work (one transaction step) and reports progress
 * in *done; callers loop with fresh credits.
 *
 * RLFS_REFCOUNT_CREDITS: one rlfs_refcount_inc/dec step.  Worst case: two
 * records deleted and a neighbour extended (the paths of both deleted
 * records and the neighbour's leaf, a bitmap block for every tree block
 * freed on the way and for the two root shrinks, the superblock), or a
 * record split in three (one path, one split per level plus a new root,
 * a bitmap block per new node, the superblock).  A step also issues at
 * most RLFS_REFCOUNT_REVOKES revoke records (freed tree blocks).
 */
#define RLFS_REFCOUNT_CREDITS	(4 * (RLFS_MAX_EXTENT_DEPTH + 1) + \
				 RLFS_SB_CREDITS)
#define RLFS_REFCOUNT_REVOKES	(2 * RLFS_MAX_EXTENT_DEPTH + 1)
int rlfs_refcount_lookup(struct super_block *sb, u64 pblk, u32 len,
			 u32 *refcount, u32 *run);
int rlfs_refcount_inc(handle_t *handle, struct super_block *sb, u64 pblk,
		      u32 len, u32 *done);
int rlfs_refcount_dec(handle_t *handle, struct super_block *sb,
		      struct inode *inode, u64 pblk, u32 len, u32 *done);
int rlfs_refcount_step_len(struct super_block *sb, u64 pblk, u32 len,
			   u32 *step);
int rlfs_refcount_init(struct super_block *sb);
/* The whole tree: records, blocks covered, sum of (refcount - 1) * len. */
struct rlfs_rc_totals {
	u64	records;
	u64	blocks;
	u64	extra_refs;
};
int rlfs_refcount_totals(struct super_block *sb, struct rlfs_rc_totals *tot);

/* rctree.c: record storage for refcount.c, s_refcount_sem held. */
int rlfs_rctree_find(struct super_block *sb, u64 pblk,
		     struct rlfs_rc_irec *rec);
int rlfs_rctree_reserve(handle_t *handle, struct super_block *sb, u64 pblk,
			int slots);
int rlfs_rctree_insert(handle_t *handle, struct super_block *sb,
		       const struct rlfs_rc_irec *rec);
int rlfs_rctree_update(handle_t *handle, struct super_block *sb, u64 start,
		       const struct rlfs_rc_irec *rec);
int rlfs_rctree_delete(handle_t *handle, struct super_block *sb, u64 start);
int rlfs_rctree_check_root(struct super_block *sb);

/*
 * reflink.c: remapping and copy on write.  RLFS_COW_CREDITS: copying one
 * shared block: the new block's bitmap, room in the extent leaf and the
 * in-place rewrite (one tree change), one refcount decrement, the inode,
 * the superblock.
 */
#define RLFS_COW_CREDITS	(RLFS_BITMAP_CREDITS + RLFS_TREE_CREDITS + \
				 RLFS_REFCOUNT_CREDITS + RLFS_INODE_CREDITS + \
				 RLFS_SB_CREDITS)
#define RLFS_COW_WRITE_THROUGH	(1U << 0)	/* write the copy before mapping it */
int rlfs_cow_range(handle_t *handle, struct inode *inode, u32 lblk, u32 len,
		   unsigned int flags);
int rlfs_cow_overwrite_begin(handle_t *handle, struct inode *inode,
			     struct folio *folio, u64 *new);
int rlfs_cow_overwrite_end(handle_t *handle, struct inode *inode,
			   struct folio *folio, u64 new, bool keep);
int rlfs_unshare_range(struct inode *inode, loff_t offset, loff_t len);
loff_t rlfs_remap_file_range(struct file *file_in, loff_t pos_in,
			     struct file *file_out, loff_t pos_out,
			     loff_t len, unsigned int remap_flags);
long rlfs_ioctl_reflink(struct file *file, void __user *arg);

/* file.c */
extern const struct file_operations rlfs_file_operations;
extern const struct inode_operations rlfs_file_inode_operations;
int rlfs_fsync(struct file *file, loff_t start, loff_t end, int datasync);
extern const struct address_space_operations rlfs_aops;
int rlfs_get_block(struct inode *inode, sector_t iblock,
		   struct buffer_head *bh, int create);
int rlfs_get_block_noalloc(struct inode *inode, sector_t iblock,
			   struct buffer_head *bh, int create);
int rlfs_zero_partial(struct inode *inode, loff_t from, loff_t len);
/* One mapped run of a file with one reference count: rlfs_next_run(). */
struct rlfs_run {
	u64	lblk;		/* first logical block */
	u64	pblk;		/* first physical block */
	u64	len;		/* blocks */
	u32	refcount;	/* references to the blocks, >= 1 */
};
int rlfs_next_run(struct inode *inode, u64 lblk, u64 end, bool merge,
		  struct rlfs_run *run);
int rlfs_any_data_from(struct inode *inode, u64 lblk);

/* dir.c */
extern const struct file_operations rlfs_dir_operations;
int rlfs_find_entry(struct inode *dir, const struct qstr *name, u64 *ino,
		    struct buffer_head **bhp, struct rlfs_dirent **dep);
int rlfs_add_entry(handle_t *handle, struct inode *dir,
		   const struct qstr *name, struct inode *inode);
int rlfs_delete_entry(handle_t *handle, struct inode *dir,
		      struct buffer_head *bh, struct rlfs_dirent *de);
int rlfs_set_entry(handle_t *handle, struct inode *dir,
		   struct buffer_head *bh, struct rlfs_dirent *de,
		   struct inode *inode);
int rlfs_empty_dir(struct inode *dir);

/* namei.c */
extern const struct inode_operations rlfs_dir_inode_operations;
extern const struct inode_operations rlfs_special_inode_operations;

/* symlink.c */
extern const struct inode_operations rlfs_fast_symlink_inode_operations;
extern const struct inode_operations rlfs_symlink_inode_operations;
int rlfs_create_symlink(handle_t *handle, struct inode *inode,
			const char *target, size_t len);

/* xattr.c */
extern const struct xattr_handler *rlfs_xattr_handlers[];
ssize_t rlfs_listxattr(struct dentry *dentry, char *buffer, size_t size);
int rlfs_xattr_delete_inode(handle_t *handle, struct inode *inode);
int rlfs_init_security(handle_t *handle, struct inode *inode,
		       struct inode *dir, const struct qstr *qstr);

/* event.c: events on the multicast group; see the spec for the fields. */
struct rlfs_event {
	u32	type;		/* REFLINKFS_EVENT_TYPE_* */
	u64	ino;
	u64	ino_src;
	u64	offset;
	u64	length;
	u64	blocks;
	u64	block;
};
enum { RLFS_MCGRP_EVENTS };	/* the family's multicast groups */
struct genl_family;
void rlfs_events_start(const struct genl_family *family);
void rlfs_events_stop(void);
void rlfs_notify(struct super_block *sb, const struct rlfs_event *ev);
void rlfs_note_cow(handle_t *handle, struct inode *inode, u64 blocks);
void rlfs_notify_commit(struct super_block *sb, tid_t tid);
void rlfs_drop_cow_notes(struct super_block *sb);

/* netlink.c: the generic netlink family and the list of instances. */
void rlfs_instance_add(struct super_block *sb);
void rlfs_instance_del(struct super_block *sb);
int rlfs_netlink_init(void);
void rlfs_netlink_exit(void);

/* fault.c: fault injection, armed through netlink. */
struct rlfs_fault_state {
	u64	nth;
	u64	every;
	u64	calls;
	u64	fired;
	u32	err;
};
int rlfs_fault(struct super_block *sb, int site);
void rlfs_fault_arm(struct super_block *sb, int site, u64 nth, u64 every,
		    int err);
bool rlfs_fault_read(struct super_block *sb, int site,
		     struct rlfs_fault_state *st);
void rlfs_fault_init(struct super_block *sb);
void rlfs_fault_refcount_max(struct super_block *sb, u32 max);

/* ioctl.c */
long rlfs_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
long rlfs_compat_ioctl(struct file *file, unsigned int cmd,
		       unsigned long arg);
int rlfs_fileattr_get(struct dentry *dentry, struct fileattr *fa);
int rlfs_fileattr_set(struct rlfs_idmap *idmap, struct dentry *dentry,
		      struct fileattr *fa);

#endif /* _REFLINKFS_H */
