/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reflinkfs trace events: trace system "reflinkfs".  Every event names
 * the device; ranges are in 4 KiB blocks unless a field says bytes, and
 * err is 0 on success or the negative errno of the error exit.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM reflinkfs

#if !defined(_RLFS_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _RLFS_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(reflinkfs_refcount_change,
	TP_PROTO(struct super_block *sb, u64 pblk, u32 len, u32 old_count,
		 u32 new_count, int err),
	TP_ARGS(sb, pblk, len, old_count, new_count, err),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u64, pblk)
		__field(u32, len)
		__field(u32, old_count)
		__field(u32, new_count)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->dev = sb->s_dev;
		__entry->pblk = pblk;
		__entry->len = len;
		__entry->old_count = old_count;
		__entry->new_count = new_count;
		__entry->err = err;
	),
	TP_printk("dev %d:%d blocks %llu+%u refcount %u -> %u err %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->pblk,
		  __entry->len, __entry->old_count, __entry->new_count,
		  __entry->err)
);

TRACE_EVENT(reflinkfs_cow,
	TP_PROTO(struct inode *inode, u32 lblk, u64 old_pblk, u64 new_pblk,
		 int err),
	TP_ARGS(inode, lblk, old_pblk, new_pblk, err),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u64, ino)
		__field(u64, offset)
		__field(u64, old_pblk)
		__field(u64, new_pblk)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->dev = inode->i_sb->s_dev;
		__entry->ino = inode->i_ino;
		__entry->offset = (u64)lblk << 12;
		__entry->old_pblk = old_pblk;
		__entry->new_pblk = new_pblk;
		__entry->err = err;
	),
	TP_printk("dev %d:%d ino %llu offset %llu block %llu -> %llu err %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->ino,
		  __entry->offset, __entry->old_pblk, __entry->new_pblk,
		  __entry->err)
);

TRACE_EVENT(reflinkfs_remap,
	TP_PROTO(struct inode *src, loff_t pos_in, struct inode *dest,
		 loff_t pos_out, loff_t len, bool dedupe, loff_t ret),
	TP_ARGS(src, pos_in, dest, pos_out, len, dedupe, ret),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u64, src)
		__field(loff_t, pos_in)
		__field(u64, dest)
		__field(loff_t, pos_out)
		__field(loff_t, len)
		__field(bool, dedupe)
		__field(loff_t, ret)
	),
	TP_fast_assign(
		__entry->dev = dest->i_sb->s_dev;
		__entry->src = src->i_ino;
		__entry->pos_in = pos_in;
		__entry->dest = dest->i_ino;
		__entry->pos_out = pos_out;
		__entry->len = len;
		__entry->dedupe = dedupe;
		__entry->ret = ret;
	),
	TP_printk("dev %d:%d %s ino %llu bytes %lld+%lld to ino %llu at %lld ret %lld",
		  MAJOR(__entry->dev), MINOR(__entry->dev),
		  __entry->dedupe ? "dedupe" : "clone", __entry->src,
		  __entry->pos_in, __entry->len, __entry->dest,
		  __entry->pos_out, __entry->ret)
);

TRACE_EVENT(reflinkfs_reflink,
	TP_PROTO(struct inode *src, u64 new_ino, u32 flags, int err),
	TP_ARGS(src, new_ino, flags, err),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u64, src)
		__field(u64, new_ino)
		__field(u32, flags)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->dev = src->i_sb->s_dev;
		__entry->src = src->i_ino;
		__entry->new_ino = new_ino;
		__entry->flags = flags;
		__entry->err = err;
	),
	TP_printk("dev %d:%d ino %llu -> ino %llu flags 0x%x err %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->src,
		  __entry->new_ino, __entry->flags, __entry->err)
);

TRACE_EVENT(reflinkfs_unshare,
	TP_PROTO(struct inode *inode, loff_t offset, loff_t len, u64 blocks,
		 int err),
	TP_ARGS(inode, offset, len, blocks, err),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u64, ino)
		__field(loff_t, offset)
		__field(loff_t, len)
		__field(u64, blocks)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->dev = inode->i_sb->s_dev;
		__entry->ino = inode->i_ino;
		__entry->offset = offset;
		__entry->len = len;
		__entry->blocks = blocks;
		__entry->err = err;
	),
	TP_printk("dev %d:%d ino %llu bytes %lld+%lld copied %llu blocks err %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->ino,
		  __entry->offset, __entry->len, __entry->blocks, __entry->err)
);

DECLARE_EVENT_CLASS(reflinkfs_extent_class,
	TP_PROTO(struct inode *inode, u32 lblk, u64 pblk, u32 len, int err),
	TP_ARGS(inode, lblk, pblk, len, err),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u64, ino)
		__field(u32, lblk)
		__field(u64, pblk)
		__field(u32, len)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->dev = inode->i_sb->s_dev;
		__entry->ino = inode->i_ino;
		__entry->lblk = lblk;
		__entry->pblk = pblk;
		__entry->len = len;
		__entry->err = err;
	),
	TP_printk("dev %d:%d ino %llu lblk %u+%u pblk %llu err %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->ino,
		  __entry->lblk, __entry->len, __entry->pblk, __entry->err)
);

/* pblk: the first block mapped (insert, replace); 0 for a remove. */
DEFINE_EVENT(reflinkfs_extent_class, reflinkfs_extent_insert,
	TP_PROTO(struct inode *inode, u32 lblk, u64 pblk, u32 len, int err),
	TP_ARGS(inode, lblk, pblk, len, err));
DEFINE_EVENT(reflinkfs_extent_class, reflinkfs_extent_replace,
	TP_PROTO(struct inode *inode, u32 lblk, u64 pblk, u32 len, int err),
	TP_ARGS(inode, lblk, pblk, len, err));
DEFINE_EVENT(reflinkfs_extent_class, reflinkfs_extent_remove,
	TP_PROTO(struct inode *inode, u32 lblk, u64 pblk, u32 len, int err),
	TP_ARGS(inode, lblk, pblk, len, err));

DECLARE_EVENT_CLASS(reflinkfs_blocks_class,
	TP_PROTO(struct super_block *sb, u64 ino, u64 start, u32 count,
		 int err),
	TP_ARGS(sb, ino, start, count, err),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u64, ino)
		__field(u64, start)
		__field(u32, count)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->dev = sb->s_dev;
		__entry->ino = ino;
		__entry->start = start;
		__entry->count = count;
		__entry->err = err;
	),
	TP_printk("dev %d:%d ino %llu blocks %llu+%u err %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->ino,
		  __entry->start, __entry->count, __entry->err)
);

/* Allocation: start is the goal on an error exit. */
DEFINE_EVENT(reflinkfs_blocks_class, reflinkfs_alloc_blocks,
	TP_PROTO(struct super_block *sb, u64 ino, u64 start, u32 count,
		 int err),
	TP_ARGS(sb, ino, start, count, err));
DEFINE_EVENT(reflinkfs_blocks_class, reflinkfs_free_blocks,
	TP_PROTO(struct super_block *sb, u64 ino, u64 start, u32 count,
		 int err),
	TP_ARGS(sb, ino, start, count, err));

TRACE_EVENT(reflinkfs_trans_start,
	TP_PROTO(struct super_block *sb, int credits, int err),
	TP_ARGS(sb, credits, err),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(int, credits)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->dev = sb->s_dev;
		__entry->credits = credits;
		__entry->err = err;
	),
	TP_printk("dev %d:%d credits %d err %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->credits,
		  __entry->err)
);

TRACE_EVENT(reflinkfs_trans_stop,
	TP_PROTO(struct super_block *sb, int credits_left, int err),
	TP_ARGS(sb, credits_left, err),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(int, credits_left)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->dev = sb->s_dev;
		__entry->credits_left = credits_left;
		__entry->err = err;
	),
	TP_printk("dev %d:%d credits left %d err %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev),
		  __entry->credits_left, __entry->err)
);

#endif /* _RLFS_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
