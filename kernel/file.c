// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs data path: block mapping for the page cache and direct I/O,
 * address_space operations, buffered writes in jbd2 handles
 * (data=ordered), mmap write faults, fallocate, SEEK_DATA/SEEK_HOLE and
 * fsync.
 *
 * Blocks are allocated only where a handle runs: ->write_begin,
 * ->page_mkwrite and fallocate.  Reads, readahead, writeback, bmap and
 * direct I/O map with rlfs_get_block_noalloc(), so writeback and the jbd2
 * commit (which writes ordered data) never start a transaction, and every
 * dirty page has its blocks mapped.  Copy-on-write hooks in at the same
 * places: ->write_begin and ->page_mkwrite give a shared block its private
 * copy, and direct writes, which only overwrite mapped blocks inside
 * i_size (rlfs_get_block_dio_write()), fall back to buffered I/O for
 * anything else.
 */

#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/mm.h>
#include <linux/mpage.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/uio.h>
#include <linux/writeback.h>
#include "reflinkfs.h"

/*
 * Blocks fallocate allocates and zeroes per transaction: 1 MiB.  The
 * zeroing runs with the handle open (and i_map_sem held), so it must be
 * short: a commit waits for it.
 */
#define RLFS_FALLOC_CHUNK	256U

static int __rlfs_get_block(struct inode *inode, sector_t iblock,
			    struct buffer_head *bh, handle_t *handle,
			    unsigned int flags)
{
	struct rlfs_map map;
	int ret;

	if (iblock >= U32_MAX)
		return -EFBIG;
	map.m_lblk = iblock;
	map.m_len = clamp_t(u64, bh->b_size >> RLFS_BLOCK_BITS, 1,
			    RLFS_MAX_EXTENT_LEN);
	ret = rlfs_map_blocks(handle, inode, &map, flags);
	if (ret <= 0)
		return ret;	/* error, or a hole: bh stays unmapped */
	map_bh(bh, inode->i_sb, map.m_pblk);
	if (map.m_new)
		set_buffer_new(bh);
	bh->b_size = (size_t)ret << RLFS_BLOCK_BITS;
	return 0;
}

/**
 * rlfs_get_block - get_block_t that allocates holes when @create is set
 * @inode: the inode
 * @iblock: logical block
 * @bh: buffer to map; b_size says how many blocks are wanted
 * @create: allocate a hole; needs the caller's running handle
 *
 * Returns 0 or -errno.
 */
int rlfs_get_block(struct inode *inode, sector_t iblock,
		   struct buffer_head *bh, int create)
{
	handle_t *handle = NULL;

	if (create) {
		handle = journal_current_handle();
		if (WARN_ON_ONCE(!handle))
			return -EIO;
	}
	return __rlfs_get_block(inode, iblock, bh, handle,
				create ? RLFS_MAP_CREATE : 0);
}

/*
 * get_block_t of ->page_mkwrite: holes get blocks zeroed on disk before
 * they are mapped.  A fault takes no i_rwsem, so a direct read may map
 * the block between the fault and the writeback of the page: it must
 * find zeroes there, never what the block held before it was allocated.
 */
static int rlfs_get_block_zero(struct inode *inode, sector_t iblock,
			       struct buffer_head *bh, int create)
{
	handle_t *handle = journal_current_handle();

	if (WARN_ON_ONCE(!create || !handle))
		return -EIO;
	return __rlfs_get_block(inode, iblock, bh, handle,
				RLFS_MAP_CREATE | RLFS_MAP_ZERO);
}

/**
 * rlfs_get_block_noalloc - get_block_t that never allocates
 * @inode: the inode
 * @iblock: logical block
 * @bh: buffer to map; left unmapped for a hole
 * @create: ignored
 *
 * Used by read_folio, readahead, writepages, bmap and direct I/O.
 */
int rlfs_get_block_noalloc(struct inode *inode, sector_t iblock,
			   struct buffer_head *bh, int create)
{
	return __rlfs_get_block(inode, iblock, bh, NULL, 0);
}

/*
 * Direct writes only overwrite blocks that are mapped and below i_size.
 * Anything else stays unmapped: the direct I/O code stops there
 * (-ENOTBLK, turned into a short write) and generic_file_write_iter()
 * finishes through the page cache, where ->write_begin allocates.
 * Shared blocks are refused the same way, so that the buffered path
 * copies them.
 */
static int rlfs_get_block_dio_write(struct inode *inode, sector_t iblock,
				    struct buffer_head *bh, int create)
{
	u64 eof_blocks = rlfs_blocks_of(i_size_read(inode));
	int err;

	if (iblock >= eof_blocks)
		return 0;
	bh->b_size = min_t(u64, bh->b_size,
			   (eof_blocks - iblock) << RLFS_BLOCK_BITS);
	err = rlfs_get_block_noalloc(inode, iblock, bh, 0);
	if (!err && buffer_mapped(bh) &&
	    WARN_ON_ONCE(buffer_new(bh)))
		return -EIO;
	if (!err && buffer_mapped(bh)) {
		u32 rc, run;

		/* Never overwrite a shared block: buffered I/O copies it. */
		err = rlfs_refcount_lookup(inode->i_sb, bh->b_blocknr,
					   bh->b_size >> RLFS_BLOCK_BITS,
					   &rc, &run);
		if (err)
			return err;
		if (rc >= 2)
			clear_buffer_mapped(bh);
		else
			bh->b_size = (size_t)run << RLFS_BLOCK_BITS;
	}
	return err;
}

static int rlfs_read_folio(struct file *file, struct folio *folio)
{
	return mpage_read_folio(folio, rlfs_get_block_noalloc);
}

static void rlfs_readahead(struct readahead_control *rac)
{
	mpage_readahead(rac, rlfs_get_block_noalloc);
}

static int rlfs_writepages(struct address_space *mapping,
			   struct writeback_control *wbc)
{
	return mpage_writepages(mapping, wbc, rlfs_get_block_noalloc);
}

static sector_t rlfs_bmap(struct address_space *mapping, sector_t block)
{
	return generic_block_bmap(mapping, block, rlfs_get_block_noalloc);
}

/*
 * A write failed or was short after blocks were allocated past EOF: drop
 * the page cache and the blocks beyond i_size.  No handle may be held.
 */
static void rlfs_write_failed(struct inode *inode)
{
	loff_t size = i_size_read(inode);

	truncate_pagecache(inode, size);
	rlfs_truncate_blocks(inode, rlfs_blocks_of(size));
}

/*
 * blockdev_direct_IO() (DIO_LOCKING) takes i_rwsem around the block
 * lookup of a read and writes the range back first: a buffered write,
 * which allocates under i_rwsem, has its data on disk before a direct
 * read can map its blocks.  Page faults allocate without i_rwsem and zero
 * their blocks instead (rlfs_get_block_zero()).
 */
static ssize_t rlfs_direct_IO(struct kiocb *iocb, struct iov_iter *iter)
{
	struct inode *inode = file_inode(iocb->ki_filp);

	if (iov_iter_rw(iter) == WRITE)
		return blockdev_direct_IO(iocb, inode, iter,
					  rlfs_get_block_dio_write);
	return blockdev_direct_IO(iocb, inode, iter, rlfs_get_block_noalloc);
}

/*
 * Start the handle that lives until ->write_end, then let the buffer code
 * lock the page and map (allocating) its blocks.
 */
static int rlfs_write_begin(struct file *file, struct address_space *mapping,
			    loff_t pos, unsigned int len,
			    struct rlfs_wb_folio **pagep, void **fsdata)
{
	struct inode *inode = mapping->host;
	/* A whole block: no need to read a shared one before copying it. */
	bool whole = !(pos & (RLFS_BLOCK_SIZE - 1)) &&
		     len == RLFS_BLOCK_SIZE &&
		     sizeof(unsigned long) >= sizeof(u64);
	struct folio *folio;
	handle_t *handle;
	int retries = 0;
	u64 new;
	int err;

retry:
	*fsdata = NULL;
	handle = rlfs_journal_start(inode->i_sb,
				    RLFS_WRITE_CREDITS + RLFS_COW_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	/*
	 * A shared block gets its copy before the page is written: read
	 * through the page cache for a partial write, only allocated for a
	 * whole one (moved in rlfs_write_end(), @fsdata holds the copy).
	 */
	err = whole ? 0 : rlfs_cow_range(handle, inode,
					 pos >> RLFS_BLOCK_BITS, 1, 0);
	if (!err)
		err = block_write_begin(mapping, pos, len, pagep,
					rlfs_get_block);
	if (!err && whole) {
		folio = rlfs_wb_to_folio(*pagep);
		err = rlfs_cow_overwrite_begin(handle, inode, folio, &new);
		if (err) {
			folio_unlock(folio);
			folio_put(folio);
		} else {
			*fsdata = (void *)(unsigned long)new;
		}
	}
	if (!err)
		return 0;
	rlfs_journal_stop(handle);
	if (err == -ENOSPC && rlfs_should_retry_alloc(inode->i_sb, &retries))
		goto retry;
	if (pos + len > i_size_read(inode))
		rlfs_write_failed(inode);
	return err;
}

static int rlfs_write_end(struct file *file, struct address_space *mapping,
			  loff_t pos, unsigned int len, unsigned int copied,
			  struct rlfs_wb_folio *page, void *fsdata)
{
	struct inode *inode = mapping->host;
	handle_t *handle = journal_current_handle();
	struct folio *folio = rlfs_wb_to_folio(page);
	u64 new = (unsigned long)fsdata;
	int ret, err = 0, err2;

	if (WARN_ON_ONCE(!handle)) {
		folio_unlock(folio);
		folio_put(folio);
		return -EIO;
	}
	if (new) {
		/*
		 * Kept only when generic_write_end() will dirty the buffer:
		 * some bytes were copied, and either all of them or the
		 * folio is uptodate anyway.  A copy of nothing dirties
		 * nothing, and a map aimed at a block that is never written
		 * would read whatever that block held before.
		 */
		ret = rlfs_cow_overwrite_end(handle, inode, folio, new,
					     copied &&
					     (copied == len ||
					      folio_test_uptodate(folio)));
		if (ret) {
			/* The folio may hold bytes that never reach a disk. */
			if (folio_test_uptodate(folio)) {
				folio_clear_uptodate(folio);
				clear_buffer_uptodate(folio_buffers(folio));
			}
			folio_unlock(folio);
			folio_put(folio);
			rlfs_journal_stop(handle);
			if (pos + len > i_size_read(inode))
				rlfs_write_failed(inode);
			return ret;
		}
	}
	/* Updates i_size and dirties the inode (in our handle). */
	ret = generic_write_end(file, mapping, pos, len, copied, page, fsdata);
	if (ret > 0)
		err = rlfs_journal_order_data(handle, inode, pos, ret);
	err2 = rlfs_journal_stop(handle);
	if (ret < len && pos + len > i_size_read(inode))
		rlfs_write_failed(inode);
	if (err || err2)
		return err ? err : err2;
	return ret;
}

/*
 * ->swap_activate: the swap code writes swap pages straight to the
 * blocks, so a block shared with another file would be overwritten
 * under it, and a hole has no block at all: refuse both, as
 * iomap_swapfile_activate() does for XFS.  While the file is a swap file
 * the VFS refuses writes, truncation and remapping (ETXTBSY), and so
 * does REFLINKFS_IOC_REFLINK.
 */
static int rlfs_swap_activate(struct swap_info_struct *sis, struct file *file,
			      sector_t *span)
{
	struct inode *inode = file->f_mapping->host;
	u64 pages = i_size_read(inode) >> PAGE_SHIFT;
	u64 lblk = 0, lowest = U64_MAX, highest = 0;
	struct rlfs_map map;
	u32 rc, run;
	int ret, extents = 0;

	ret = vfs_fsync(file, 1);
	if (ret)
		return ret;
	pages = min_t(u64, pages, sis->max);
	while (lblk < pages) {
		map.m_lblk = lblk;
		map.m_len = min_t(u64, pages - lblk, RLFS_MAX_EXTENT_LEN);
		ret = rlfs_map_blocks(NULL, inode, &map, 0);
		if (ret < 0)
			return ret;
		if (!ret) {
			rlfs_err(inode->i_sb, "swapon: inode %lu has a hole at block %llu",
				 inode->i_ino, lblk);
			return -EINVAL;
		}
		ret = rlfs_refcount_lookup(inode->i_sb, map.m_pblk, map.m_len,
					   &rc, &run);
		if (ret)
			return ret;
		if (rc >= 2) {
			rlfs_err(inode->i_sb, "swapon: inode %lu shares block %llu",
				 inode->i_ino, map.m_pblk);
			return -EINVAL;
		}
		ret = add_swap_extent(sis, lblk, run, map.m_pblk);
		if (ret < 0)
			return ret;
		extents += ret;
		/* The first page holds the swap header, not swap space. */
		lowest = min(lowest, map.m_pblk + (lblk ? 0 : 1));
		highest = max(highest, map.m_pblk + run - 1);
		lblk += run;
		cond_resched();
	}
	if (pages < 2) {
		rlfs_err(inode->i_sb, "swapon: inode %lu is too small",
			 inode->i_ino);
		return -EINVAL;
	}
	*span = 1 + highest - lowest;
	sis->max = pages;
	sis->pages = pages - 1;
	sis->highest_bit = pages - 1;
	return extents;
}

const struct address_space_operations rlfs_aops = {
	.read_folio		= rlfs_read_folio,
	.readahead		= rlfs_readahead,
	.writepages		= rlfs_writepages,
	.dirty_folio		= block_dirty_folio,
	.invalidate_folio	= block_invalidate_folio,
	.write_begin		= rlfs_write_begin,
	.write_end		= rlfs_write_end,
	.bmap			= rlfs_bmap,
	.direct_IO		= rlfs_direct_IO,
	.migrate_folio		= buffer_migrate_folio,
	.is_partially_uptodate	= block_is_partially_uptodate,
	.swap_activate		= rlfs_swap_activate,
};

/**
 * rlfs_zero_partial - zero part of one block through the page cache
 * @inode: the inode
 * @from: first byte
 * @len: bytes; [from, from + len) must lie in one block
 *
 * The zeroes reach the disk as ordered data of the running (or a new)
 * transaction.  i_size is not changed, so the range may lie past EOF
 * (truncate zeroes the tail of the new last block).  A hole is left
 * alone.  Returns 0 or -errno.
 */
int rlfs_zero_partial(struct inode *inode, loff_t from, loff_t len)
{
	struct address_space *mapping = inode->i_mapping;
	struct rlfs_map map = { .m_lblk = from >> RLFS_BLOCK_BITS, .m_len = 1 };
	struct rlfs_wb_folio *page;
	struct folio *folio;
	handle_t *handle;
	int err, err2;

	if (len <= 0)
		return 0;
	if (WARN_ON_ONCE((from & (RLFS_BLOCK_SIZE - 1)) + len > RLFS_BLOCK_SIZE))
		return -EINVAL;
	err = rlfs_map_blocks(NULL, inode, &map, 0);
	if (err <= 0)
		return err;

	handle = rlfs_journal_start(inode->i_sb,
				    RLFS_WRITE_CREDITS + RLFS_COW_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	/* The block is mapped, so nothing is allocated here but a copy. */
	err = rlfs_cow_range(handle, inode, map.m_lblk, 1, 0);
	if (!err)
		err = block_write_begin(mapping, from, len, &page,
					rlfs_get_block_noalloc);
	if (!err) {
		folio = rlfs_wb_to_folio(page);
		folio_zero_range(folio, offset_in_folio(folio, from), len);
		block_write_end(NULL, mapping, from, len, len, page, NULL);
		folio_unlock(folio);
		folio_put(folio);
		err = rlfs_journal_order_data(handle, inode, from, len);
	}
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

/*
 * block_page_mkwrite() result to vm_fault_t (block_page_mkwrite_return()
 * in 6.1, vmf_fs_error() in 6.12: the same mapping, spelled out here).
 */
static vm_fault_t rlfs_mkwrite_return(int err)
{
	if (!err)
		return VM_FAULT_LOCKED;
	if (err == -EFAULT || err == -EAGAIN)
		return VM_FAULT_NOPAGE;
	if (err == -ENOMEM)
		return VM_FAULT_OOM;
	return VM_FAULT_SIGBUS;
}

static vm_fault_t rlfs_page_mkwrite(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct inode *inode = file_inode(vma->vm_file);
	struct super_block *sb = inode->i_sb;
	handle_t *handle;
	int retries = 0;
	int err;

	sb_start_pagefault(sb);
	file_update_time(vma->vm_file);
	/* Keeps punch hole and truncate from racing with the allocation. */
	filemap_invalidate_lock_shared(inode->i_mapping);
retry:
	handle = rlfs_journal_start(sb, RLFS_WRITE_CREDITS + RLFS_COW_CREDITS);
	if (IS_ERR(handle)) {
		err = PTR_ERR(handle);
		goto out;
	}
	/*
	 * A shared block gets its copy first (the page is not locked),
	 * written through to the new block before it is mapped, for the
	 * same reason as rlfs_get_block_zero() zeroes.
	 */
	err = rlfs_cow_range(handle, inode, vmf->page->index, 1,
			     RLFS_COW_WRITE_THROUGH);
	/* On success the page is returned locked and dirty. */
	if (!err)
		err = block_page_mkwrite(vma, vmf, rlfs_get_block_zero);
	if (!err) {
		struct folio *folio = page_folio(vmf->page);

		err = rlfs_journal_order_data(handle, inode, folio_pos(folio),
					      folio_size(folio));
		if (err)
			folio_unlock(folio);
	}
	rlfs_journal_stop(handle);
	if (err == -ENOSPC && rlfs_should_retry_alloc(sb, &retries))
		goto retry;
out:
	filemap_invalidate_unlock_shared(inode->i_mapping);
	sb_end_pagefault(sb);
	return rlfs_mkwrite_return(err);
}

static const struct vm_operations_struct rlfs_file_vm_ops = {
	.fault		= filemap_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= rlfs_page_mkwrite,
};

static int rlfs_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	file_accessed(file);
	vma->vm_ops = &rlfs_file_vm_ops;
	return 0;
}

/**
 * rlfs_fsync - write the file's data, then commit its last transaction
 * @file: the file
 * @start: first byte
 * @end: last byte
 * @datasync: fdatasync
 *
 * Also used for directories, whose blocks are journaled metadata.
 */
int rlfs_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	struct inode *inode = file->f_mapping->host;
	int err;

	err = file_write_and_wait_range(file, start, end);
	if (err)
		return err;
	return rlfs_sync_inode_journal(inode, datasync);
}

/* First hole at or after @offset (< @size); @size if there is none. */
static loff_t rlfs_seek_hole(struct inode *inode, loff_t offset, loff_t size)
{
	u64 lblk = offset >> RLFS_BLOCK_BITS;
	struct rlfs_map map;
	int ret;

	while ((lblk << RLFS_BLOCK_BITS) < size) {
		map.m_lblk = lblk;
		map.m_len = RLFS_MAX_EXTENT_LEN;
		ret = rlfs_map_blocks(NULL, inode, &map, 0);
		if (ret < 0)
			return ret;
		if (!ret)
			return max_t(loff_t, offset, lblk << RLFS_BLOCK_BITS);
		lblk += ret;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return size;
}

static loff_t rlfs_seek_data(struct inode *inode, loff_t offset, loff_t size)
{
	u32 found;
	loff_t pos;
	int err;

	err = rlfs_next_data(inode, offset >> RLFS_BLOCK_BITS, &found);
	if (err)
		return err;
	pos = max_t(loff_t, offset, (loff_t)found << RLFS_BLOCK_BITS);
	return pos < size ? pos : -ENXIO;
}

/*
 * SEEK_DATA and SEEK_HOLE come straight from the extent map: a dirty page
 * always has its blocks mapped, so the map is exact.
 */
static loff_t rlfs_file_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file->f_mapping->host;
	loff_t size, pos;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return generic_file_llseek_size(file, offset, whence,
						inode->i_sb->s_maxbytes,
						i_size_read(inode));
	inode_lock_shared(inode);
	size = i_size_read(inode);
	if (offset < 0 || offset >= size)
		pos = -ENXIO;
	else if (whence == SEEK_DATA)
		pos = rlfs_seek_data(inode, offset, size);
	else
		pos = rlfs_seek_hole(inode, offset, size);
	inode_unlock_shared(inode);
	if (pos < 0)
		return pos;
	return vfs_setpos(file, pos, inode->i_sb->s_maxbytes);
}

/*
 * Allocate zeroed blocks over [offset, offset + len), one bounded
 * transaction per chunk.  Without FALLOC_FL_KEEP_SIZE, i_size grows with
 * each chunk, so a crash never leaves allocated blocks past EOF.
 */
static int rlfs_alloc_range(struct inode *inode, loff_t offset, loff_t len,
			    int mode)
{
	struct super_block *sb = inode->i_sb;
	loff_t end = offset + len;
	u64 lblk = offset >> RLFS_BLOCK_BITS;
	u64 stop = rlfs_blocks_of(end);
	struct rlfs_map map;
	handle_t *handle;
	int retries = 0;
	int ret, err;

	while (lblk < stop) {
		handle = rlfs_journal_start(sb, RLFS_WRITE_CREDITS);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		map.m_lblk = lblk;
		map.m_len = min_t(u64, stop - lblk, RLFS_FALLOC_CHUNK);
		ret = rlfs_map_blocks(handle, inode, &map,
				      RLFS_MAP_CREATE | RLFS_MAP_ZERO);
		if (ret > 0) {
			loff_t new_size;

			lblk += ret;
			new_size = min_t(loff_t, end, lblk << RLFS_BLOCK_BITS);
			if (!(mode & FALLOC_FL_KEEP_SIZE) &&
			    new_size > i_size_read(inode)) {
				i_size_write(inode, new_size);
				ret = rlfs_mark_inode_dirty(handle, inode);
			}
		}
		err = rlfs_journal_stop(handle);
		if (ret == -ENOSPC && rlfs_should_retry_alloc(sb, &retries))
			continue;
		if (ret < 0)
			return ret;
		if (err)
			return err;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/*
 * Punch [offset, offset + len): zero the partial blocks at the edges,
 * drop the page cache over the whole blocks and unmap them.
 */
static int rlfs_punch(struct inode *inode, loff_t offset, loff_t len)
{
	loff_t end = offset + len;
	loff_t first = round_up(offset, RLFS_BLOCK_SIZE);
	loff_t last = round_down(end, RLFS_BLOCK_SIZE);
	int err;

	if (first > last)	/* inside one block */
		return rlfs_zero_partial(inode, offset, len);
	if (offset < first) {
		err = rlfs_zero_partial(inode, offset, first - offset);
		if (err)
			return err;
	}
	if (end > last) {
		err = rlfs_zero_partial(inode, last, end - last);
		if (err)
			return err;
	}
	if (first == last)
		return 0;
	truncate_pagecache_range(inode, first, last - 1);
	return rlfs_punch_blocks(inode, first >> RLFS_BLOCK_BITS,
				 (last - first) >> RLFS_BLOCK_BITS);
}

/*
 * COLLAPSE_RANGE and INSERT_RANGE: move every mapping from the offset on
 * by len, one bounded transaction per extent piece, then set the size.
 * Only mappings move: shared blocks stay shared with the same counts.
 */
static int rlfs_shift_range(struct inode *inode, loff_t offset, loff_t len,
			    bool collapse)
{
	struct super_block *sb = inode->i_sb;
	u32 first = offset >> RLFS_BLOCK_BITS;
	u32 shift = len >> RLFS_BLOCK_BITS;
	loff_t size = i_size_read(inode);
	handle_t *handle;
	u32 cur;
	int ret, err;

	if ((offset | len) & (RLFS_BLOCK_SIZE - 1) || len <= 0)
		return -EINVAL;
	if (collapse && offset + len >= size)
		return -EINVAL;
	if (!collapse && offset >= size)
		return -EINVAL;
	if (!collapse && size + len > sb->s_maxbytes)
		return -EFBIG;
	ret = filemap_write_and_wait_range(inode->i_mapping, offset, LLONG_MAX);
	if (ret)
		return ret;
	truncate_pagecache(inode, offset);
	/*
	 * Steps move whole extents in place and allocate nothing; what may
	 * need space comes first: the punch of a collapse (a freeing
	 * operation, it may use the reserved pool), the cut of an insert.
	 */
	if (collapse) {
		ret = rlfs_punch_blocks(inode, first, shift);
		if (ret)
			return ret;
	} else {
		handle = rlfs_journal_start(sb, RLFS_TREE_CREDITS +
					    RLFS_INODE_CREDITS);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		ret = rlfs_extent_split(handle, inode, first);
		err = rlfs_journal_stop(handle);
		if (ret || err)
			return ret ? ret : err;
	}
	cur = collapse ? first + shift : U32_MAX;
	do {
		handle = rlfs_journal_start(sb, 2 * RLFS_TREE_CREDITS +
					    RLFS_INODE_CREDITS);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		ret = rlfs_extent_shift_step(handle, inode, &cur, first, shift,
					     collapse);
		if (ret >= 0)
			ret = rlfs_mark_inode_dirty(handle, inode) ?: ret;
		err = rlfs_journal_stop(handle);
		if (ret < 0 || err)
			return ret < 0 ? ret : err;
		cond_resched();
	} while (ret > 0);

	handle = rlfs_journal_start(sb, RLFS_INODE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	i_size_write(inode, collapse ? size - len : size + len);
	rlfs_touch_mctime(inode);
	ret = rlfs_mark_inode_dirty(handle, inode);
	err = rlfs_journal_stop(handle);
	return ret ? ret : err;
}

static long rlfs_fallocate(struct file *file, int mode, loff_t offset,
			   loff_t len)
{
	struct inode *inode = file_inode(file);
	struct address_space *mapping = inode->i_mapping;
	int err;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		     FALLOC_FL_ZERO_RANGE | FALLOC_FL_UNSHARE_RANGE |
		     FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_UNSHARE_RANGE) &&
	    (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))
		return -EINVAL;
	if (!S_ISREG(inode->i_mode))
		return -EOPNOTSUPP;

	inode_lock(inode);
	/* Growing the file: RLIMIT_FSIZE and s_maxbytes, as a write. */
	if (!(mode & (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		      FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) &&
	    offset + len > i_size_read(inode)) {
		err = inode_newsize_ok(inode, offset + len);
		if (err)
			goto out;
	}
	err = file_modified(file);
	if (err)
		goto out;
	/* No direct I/O in flight may still use the blocks we change. */
	inode_dio_wait(inode);
	/* Past EOF: a failed truncate's blocks go, the tail reads zero. */
	if (!(mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) &&
	    offset + len > i_size_read(inode)) {
		err = rlfs_prepare_grow(inode, LLONG_MAX);
		if (err)
			goto out;
	}
	filemap_invalidate_lock(mapping);
	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
		err = rlfs_shift_range(inode, offset, len,
				       mode & FALLOC_FL_COLLAPSE_RANGE);
	} else if (mode & FALLOC_FL_PUNCH_HOLE) {
		err = rlfs_punch(inode, offset, len);
	} else if (mode & FALLOC_FL_ZERO_RANGE) {
		err = rlfs_punch(inode, offset, len);
		if (!err)
			err = rlfs_alloc_range(inode, offset, len, mode);
	} else {
		err = rlfs_alloc_range(inode, offset, len, mode);
		/* Unshare: every shared block inside EOF gets a copy. */
		if (!err && (mode & FALLOC_FL_UNSHARE_RANGE) &&
		    offset < i_size_read(inode))
			err = rlfs_unshare_range(inode, offset,
						 min_t(loff_t, len,
						       i_size_read(inode) - offset));
	}
	filemap_invalidate_unlock(mapping);
out:
	inode_unlock(inode);
	return err;
}

/* Is anything mapped at or after @lblk? */
int rlfs_any_data_from(struct inode *inode, u64 lblk)
{
	u32 found;
	int err;

	if (lblk >= U32_MAX)
		return 0;
	err = rlfs_next_data(inode, lblk, &found);
	if (err == -ENXIO)
		return 0;
	return err ? err : 1;
}

/* The run starting exactly at @lblk: 1 mapped, 0 a hole, or -errno. */
static int rlfs_run_at(struct inode *inode, u64 lblk, u64 end,
		       struct rlfs_run *run)
{
	struct rlfs_map map;
	u32 rc, len;
	int ret;

	map.m_lblk = lblk;
	map.m_len = min_t(u64, end - lblk, RLFS_MAX_EXTENT_LEN);
	ret = rlfs_map_blocks(NULL, inode, &map, 0);
	if (ret <= 0)
		return ret;
	ret = rlfs_refcount_lookup(inode->i_sb, map.m_pblk, map.m_len, &rc,
				   &len);
	if (ret)
		return ret;
	run->lblk = lblk;
	run->pblk = map.m_pblk;
	run->len = len;
	run->refcount = rc;
	return 1;
}

/**
 * rlfs_next_run - the first mapped run of a file at or after a block
 * @inode: the file
 * @lblk: first logical block to look at
 * @end: logical block to stop at (exclusive, at most U32_MAX)
 * @merge: false: a run ends at every extent record (FIEMAP's extents);
 *	true: only where physical contiguity or the count changes
 * @run: out: blocks from run->lblk mapped to consecutive physical blocks
 *	that have one reference count, clipped to @end
 *
 * Each lookup takes i_map_sem and s_refcount_sem for reading by itself,
 * so no lock is held between two calls (a caller may copy to user space
 * in between).  Costs one extent and one refcount lookup per record and
 * per refcount boundary, never per block.  Returns 1, 0 when nothing is
 * mapped in [@lblk, @end), or -errno.
 */
int rlfs_next_run(struct inode *inode, u64 lblk, u64 end, bool merge,
		  struct rlfs_run *run)
{
	struct rlfs_run next;
	u32 found;
	int ret;

	for (;;) {
		if (lblk >= end)
			return 0;
		ret = rlfs_run_at(inode, lblk, end, run);
		if (ret)
			break;
		ret = rlfs_next_data(inode, lblk, &found);
		if (ret == -ENXIO)
			return 0;
		if (ret)
			return ret;
		if (found <= lblk)	/* mapped, yet a hole: never loop */
			return -EFSCORRUPTED;
		lblk = found;
	}
	if (ret < 0 || !merge)
		return ret;
	while (run->lblk + run->len < end) {
		ret = rlfs_run_at(inode, run->lblk + run->len, end, &next);
		if (ret < 0)
			return ret;
		if (!ret || next.pblk != run->pblk + run->len ||
		    next.refcount != run->refcount)
			break;
		run->len += next.len;
		cond_resched();
	}
	return 1;
}

/*
 * FIEMAP from the extent map, one extent at a time: i_map_sem is not held
 * while fiemap_fill_next_extent() copies to user space (a fault there may
 * read this very file).  Extents are split at share boundaries.
 */
static int rlfs_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
		       u64 start, u64 len)
{
	struct rlfs_run run;
	u64 lblk, end;
	u32 flags;
	int ret, more;

	ret = fiemap_prep(inode, fieinfo, start, &len, 0);
	if (ret)
		return ret;
	lblk = start >> RLFS_BLOCK_BITS;
	end = min_t(u64, rlfs_blocks_of(start + len), U32_MAX);
	while ((ret = rlfs_next_run(inode, lblk, end, false, &run)) > 0) {
		flags = run.refcount >= 2 ? FIEMAP_EXTENT_SHARED : 0;
		more = rlfs_any_data_from(inode, run.lblk + run.len);
		if (more < 0)
			return more;
		if (!more)
			flags |= FIEMAP_EXTENT_LAST;
		ret = fiemap_fill_next_extent(fieinfo,
					      run.lblk << RLFS_BLOCK_BITS,
					      run.pblk << RLFS_BLOCK_BITS,
					      run.len << RLFS_BLOCK_BITS,
					      flags);
		if (ret < 0)
			return ret;
		if (ret == 1)
			break;
		lblk = run.lblk + run.len;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return ret < 0 ? ret : 0;
}

/*
 * generic_file_write_iter(), with the file's tail past EOF made to read
 * as zeroes before a write that starts beyond it (rlfs_prepare_grow()).
 */
static ssize_t rlfs_file_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	ssize_t ret;
	int err;

	if (iocb->ki_flags & IOCB_NOWAIT) {
		if (!inode_trylock(inode))
			return -EAGAIN;
	} else {
		inode_lock(inode);
	}
	ret = generic_write_checks(iocb, from);
	if (ret > 0 && iocb->ki_pos + ret > i_size_read(inode)) {
		if (iocb->ki_flags & IOCB_NOWAIT) {
			ret = -EAGAIN;
		} else {
			err = rlfs_prepare_grow(inode, iocb->ki_pos);
			if (err)
				ret = err;
		}
	}
	if (ret > 0)
		ret = __generic_file_write_iter(iocb, from);
	inode_unlock(inode);
	if (ret > 0)
		ret = generic_write_sync(iocb, ret);
	return ret;
}

const struct file_operations rlfs_file_operations = {
	.llseek		= rlfs_file_llseek,
	.read_iter	= generic_file_read_iter,
	.write_iter	= rlfs_file_write_iter,
	.mmap		= rlfs_file_mmap,
	.open		= generic_file_open,
	.fsync		= rlfs_fsync,
	.fallocate	= rlfs_fallocate,
	.remap_file_range = rlfs_remap_file_range,
	.unlocked_ioctl	= rlfs_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	= rlfs_compat_ioctl,
#endif
	.splice_read	= rlfs_splice_read,
	.splice_write	= iter_file_splice_write,
};

const struct inode_operations rlfs_file_inode_operations = {
	.setattr	= rlfs_setattr,
	.getattr	= rlfs_getattr,
	.listxattr	= rlfs_listxattr,
	.fileattr_get	= rlfs_fileattr_get,
	.fileattr_set	= rlfs_fileattr_set,
	.fiemap		= rlfs_fiemap,
};
