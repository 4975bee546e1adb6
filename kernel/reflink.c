// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs reflink: sharing blocks between files (FICLONE, FICLONERANGE,
 * FIDEDUPERANGE, copy_file_range) and copy on write of shared blocks.
 *
 * Copy on Write of Shared Blocks
 *
 * Files share physical blocks when two extent maps (or two places of one
 * map) point at the same blocks.  The refcount tree (refcount.c) counts
 * the mappings of every shared block; an unshared mapped block has no
 * record and count 1.  Remapping a range (rlfs_remap_file_range()) maps
 * the source's physical extents into the destination and increments
 * their counts piece by piece, the increment and the insert of a piece in
 * the same transaction (pieces share one handle while the transaction has
 * room):
 *
 *   src map:  [0..99] -> P100        refcount tree: (empty)
 *   clone:    dst [0..99] -> P100    refcount tree: P100+100 = 2
 *
 * A shared block is never written in place.  Before a buffered write,
 * an mmap write fault or a partial-block zeroing dirties the page of a
 * shared block, rlfs_cow_range() gives that block a private copy through
 * the page cache, as OCFS2 does:
 *
 *   1. lock the page; look the block up; refcount >= 2: shared;
 *   2. allocate a new block (ENOSPC here changes nothing);
 *   3. make the page uptodate by reading the OLD block if needed;
 *   4. in the running handle, point the extent at the new block
 *      (rlfs_extent_move(): the old block leaves the map without being
 *      released) and drop one reference to the old block;
 *   5. point the page's buffer at the new block, mark it dirty, and add
 *      the page to the transaction's ordered data.
 *
 *   before:  A [5] -> P105 (rc 2)     B [5] -> P105
 *   after:   A [5] -> P900 (new)      B [5] -> P105 (rc 1: no record)
 *
 * A buffered write that replaces a whole block needs none of the old
 * data, so it reads nothing: ->write_begin maps the page to the shared
 * block as for any overwrite and allocates the copy
 * (rlfs_cow_overwrite_begin()); after the user data is in the page,
 * ->write_end moves the mapping and drops the reference (steps 4 and 5,
 * rlfs_cow_overwrite_end()).  The page stays locked and clean in between,
 * so writeback never sees it aimed at the shared block.  A short copy
 * into a page that is not uptodate keeps nothing: the copy is freed, the
 * block stays shared, and the write is retried as a partial one, which
 * reads the old data first.
 *
 * Crash safety: the new mapping and the decrement commit together, and
 * data=ordered writes the page (now aimed at the new block) before the
 * commit record, so after a crash either the old state (A still maps the
 * old, still shared and intact block; the new block is free) or the new
 * state with the copied data is found.  Writeback never sees a buffer
 * mapped to a shared block: a page's buffer is redirected before the page
 * is dirtied, and the remap and dedupe paths write back and drop the
 * destination's pages before sharing.  Direct writes refuse shared blocks
 * (rlfs_get_block_dio_write() leaves them unmapped), so they fall back to
 * buffered I/O, which copies.
 *
 * Locking: handle -> page lock -> i_map_sem -> s_refcount_sem ->
 * s_alloc_lock.  Copy on write runs with only the page of the block
 * locked (block size == page size), and the handle's credits are taken
 * before the page is locked (a restart under a page lock could wait for
 * a commit that needs that page).  Remapping holds both inodes' i_rwsem,
 * both invalidate locks and waits for direct I/O, so neither map can
 * change under it; it takes one i_map_sem at a time.
 */

#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/security.h>
#include <linux/fsnotify.h>
#include <linux/xattr.h>
#include <uapi/linux/reflinkfs.h>
#include "reflinkfs.h"
#include "trace.h"

/* Every logical block a file can map. */
#define RLFS_LBLK_LIMIT_BLOCKS	((u64)U32_MAX)

static struct buffer_head *rlfs_folio_buffers(struct folio *folio)
{
	struct buffer_head *bh = folio_buffers(folio);

	return bh ? bh : rlfs_create_empty_buffers(folio, RLFS_BLOCK_SIZE);
}

/*
 * Point block @lblk of @inode at @new, its private copy, in place of the
 * shared block @old, and drop that mapping's reference to @old: one step
 * in the running handle (RLFS_COW_CREDITS).  Room in the map comes
 * first and the reference is dropped before the map changes, so ENOSPC
 * changes nothing.  On failure the map is unchanged and @new is still
 * the caller's.
 */
static int rlfs_cow_remap(handle_t *handle, struct inode *inode, u32 lblk,
			  u64 old, u64 new)
{
	struct rlfs_ext_irec rec;
	unsigned int nofs;
	u64 moved;
	u32 done;
	int ret;

	nofs = rlfs_map_lock(inode, RLFS_MAP_EXCL);
	ret = rlfs_extent_reserve(handle, inode, lblk, &rec);
	if (ret < 0)
		goto out;
	if (!ret || rec.pblk + (lblk - rec.lblk) != old) {
		rlfs_corrupt(inode->i_sb, "inode %lu: block %u no longer maps %llu",
			     inode->i_ino, lblk, old);
		ret = -EFSCORRUPTED;
		goto out;
	}
	ret = rlfs_refcount_dec(handle, inode->i_sb, inode, old, 1, &done);
	if (ret)
		goto out;	/* the map is unchanged */
	ret = rlfs_extent_replace(handle, inode, lblk, 1, new, &moved);
	if (ret) {
		/* The reference went in this handle: it must never commit. */
		rlfs_err(inode->i_sb, "inode %lu: block %u: reference to %llu dropped, map unchanged: %d",
			 inode->i_ino, lblk, old, ret);
		rlfs_abort(inode->i_sb, ret);
	} else
		rlfs_note_cow(handle, inode, 1);
out:
	rlfs_map_unlock(inode, RLFS_MAP_EXCL, nofs);
	trace_reflinkfs_cow(inode, lblk, old, new, ret);
	return ret;
}

/* Write @bh, uptodate, to block @blk and wait; its dirty state is kept. */
static int rlfs_write_through(struct buffer_head *bh, struct super_block *sb,
			      u64 blk)
{
	map_bh(bh, sb, blk);
	lock_buffer(bh);
	get_bh(bh);
	bh->b_end_io = end_buffer_write_sync;
	submit_bh(REQ_OP_WRITE, bh);
	wait_on_buffer(bh);
	return buffer_uptodate(bh) ? 0 : -EIO;
}

/*
 * Give block @lblk of @inode a private copy if it is shared.  The handle
 * has RLFS_COW_CREDITS.  With RLFS_COW_WRITE_THROUGH the copy is on disk
 * before the map names it (a caller without i_rwsem: a direct read may
 * map the block before the page is written back).  Returns 1 (copied), 0
 * (not shared, or a hole) or -errno; on error nothing changed.
 */
static int rlfs_cow_block(handle_t *handle, struct inode *inode, u32 lblk,
			  unsigned int flags)
{
	struct super_block *sb = inode->i_sb;
	struct address_space *mapping = inode->i_mapping;
	struct rlfs_ext_irec rec;
	struct buffer_head *bh;
	struct folio *folio;
	struct page *page;
	u64 old, new;
	u32 rc, run, count = 1;
	int ret, err;

	page = find_or_create_page(mapping, lblk,
				   mapping_gfp_constraint(mapping, ~__GFP_FS));
	if (!page)
		return -ENOMEM;
	folio = page_folio(page);
	folio_wait_writeback(folio);

	ret = rlfs_extent_get(inode, lblk, &rec);
	if (ret <= 0)
		goto out_unlock;	/* a hole, or an error */
	old = rec.pblk + (lblk - rec.lblk);
	ret = rlfs_refcount_lookup(sb, old, 1, &rc, &run);
	if (ret || rc < 2)
		goto out_unlock;

	ret = rlfs_alloc_blocks(handle, inode->i_sb, inode, old, &count, &new,
				0);
	if (ret)
		goto out_unlock;
	clean_bdev_aliases(sb->s_bdev, new, 1);

	/* The page must hold the old block's data before it moves. */
	bh = rlfs_folio_buffers(folio);
	if (!folio_test_uptodate(folio)) {
		if (!buffer_uptodate(bh)) {
			map_bh(bh, sb, old);
			ret = bh_read(bh, 0);
			if (ret < 0)
				goto out_free;
		}
		folio_mark_uptodate(folio);
	}
	if (flags & RLFS_COW_WRITE_THROUGH) {
		ret = rlfs_write_through(bh, sb, new);
		if (ret)
			goto out_free;
	}

	ret = rlfs_cow_remap(handle, inode, lblk, old, new);
	if (ret)
		goto out_free;

	map_bh(bh, sb, new);
	clear_buffer_new(bh);
	set_buffer_uptodate(bh);
	mark_buffer_dirty(bh);
	folio_unlock(folio);
	folio_put(folio);
	err = rlfs_mark_inode_dirty(handle, inode);
	if (!err)
		err = rlfs_journal_order_data(handle, inode,
					      (loff_t)lblk << RLFS_BLOCK_BITS,
					      RLFS_BLOCK_SIZE);
	return err ? err : 1;

out_free:
	/* The page stays aimed at the shared block, clean. */
	map_bh(bh, sb, old);
	/* Never mapped: a plain free. */
	rlfs_free_blocks(handle, inode->i_sb, inode, new, 1);
	rlfs_mark_inode_dirty(handle, inode);
out_unlock:
	folio_unlock(folio);
	folio_put(folio);
	return ret;
}

/**
 * rlfs_cow_overwrite_begin - prepare the copy of a block written whole
 * @handle: the write's handle (RLFS_COW_CREDITS left for this block)
 * @inode: regular file
 * @folio: the block's folio, locked, its buffer mapped (block_write_begin())
 * @new: out: the block allocated for the copy, 0 when the block is not
 *	shared
 *
 * A buffered write that replaces a whole block does not need the old
 * data, so unlike rlfs_cow_range() nothing is read: only the new block is
 * allocated (ENOSPC fails the write before anything is copied), and the
 * map and the buffer keep naming the shared block until
 * rlfs_cow_overwrite_end().  In between the folio stays locked and is not
 * dirty, so writeback cannot write the shared block.
 *
 * Returns 0 or -errno; on error nothing changed.
 */
int rlfs_cow_overwrite_begin(handle_t *handle, struct inode *inode,
			     struct folio *folio, u64 *new)
{
	struct super_block *sb = inode->i_sb;
	struct buffer_head *bh = folio_buffers(folio);
	u32 rc, run, count = 1;
	int ret;

	*new = 0;
	if (!bh || !buffer_mapped(bh))
		return 0;
	ret = rlfs_refcount_lookup(sb, bh->b_blocknr, 1, &rc, &run);
	if (ret || rc < 2)
		return ret;
	ret = rlfs_alloc_blocks(handle, inode->i_sb, inode, bh->b_blocknr,
				&count, new, 0);
	if (ret)
		return ret;
	clean_bdev_aliases(sb->s_bdev, *new, 1);
	return 0;
}

/**
 * rlfs_cow_overwrite_end - move a block written whole to its copy
 * @handle: the write's handle
 * @inode: regular file
 * @folio: the locked folio, after the copy from user space
 * @new: the block from rlfs_cow_overwrite_begin()
 * @keep: the folio will be dirtied (the copy filled the block, or the
 *	folio was uptodate anyway): move the block to @new.  Otherwise the
 *	write copied nothing that will be kept (a short copy into a folio
 *	that is not uptodate): @new is freed and the block stays shared.
 *
 * The move and the decrement of the shared block's count are one step of
 * the write's transaction, which also orders the folio's data, now aimed
 * at @new, before its commit: after a crash the block holds its old or
 * its new data.  Returns 0 or -errno; on error @new is freed, the map is
 * unchanged and the caller must not dirty the folio.
 */
int rlfs_cow_overwrite_end(handle_t *handle, struct inode *inode,
			   struct folio *folio, u64 new, bool keep)
{
	struct buffer_head *bh = folio_buffers(folio);
	int ret = 0;

	if (keep) {
		ret = rlfs_cow_remap(handle, inode, folio->index,
				     bh->b_blocknr, new);
		if (!ret) {
			map_bh(bh, inode->i_sb, new);
			clear_buffer_new(bh);
			/* An error here aborted the handle: the stop reports it. */
			rlfs_mark_inode_dirty(handle, inode);
			return 0;
		}
	}
	/* Never mapped: a plain free. */
	rlfs_free_blocks(handle, inode->i_sb, inode, new, 1);
	rlfs_mark_inode_dirty(handle, inode);
	return ret;
}

/**
 * rlfs_cow_range - give the shared blocks of a range private copies
 * @handle: running handle with RLFS_COW_CREDITS per shared block
 *	(extended here when needed, before any page is locked)
 * @inode: regular file; no page of the range may be locked by the caller
 * @lblk: first logical block
 * @len: blocks
 * @flags: RLFS_COW_WRITE_THROUGH: write each copy to its new block before
 *	the map names it (callers that do not hold i_rwsem)
 *
 * Returns 0 or -errno (-ENOSPC when no block is left for a copy: the
 * block being copied is unchanged).
 */
int rlfs_cow_range(handle_t *handle, struct inode *inode, u32 lblk, u32 len,
		   unsigned int flags)
{
	int err;

	for (; len; lblk++, len--) {
		err = rlfs_journal_ensure_credits(handle, RLFS_COW_CREDITS);
		if (err)
			return err;
		err = rlfs_cow_block(handle, inode, lblk, flags);
		if (err < 0)
			return err;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/**
 * rlfs_unshare_range - FALLOC_FL_UNSHARE_RANGE: copy every shared block
 * @inode: regular file (i_rwsem and the invalidate lock held)
 * @offset: first byte
 * @len: bytes
 *
 * One transaction per block.  Counts and reports (netlink) the blocks
 * copied, also when it fails part way.  Returns 0 or -errno.
 */
int rlfs_unshare_range(struct inode *inode, loff_t offset, loff_t len)
{
	u64 lblk = offset >> RLFS_BLOCK_BITS;
	u64 end = min_t(u64, rlfs_blocks_of(offset + len), U32_MAX);
	struct rlfs_event ev = {
		.type	= REFLINKFS_EVENT_TYPE_UNSHARE,
		.ino	= inode->i_ino,
		.offset	= offset,
		.length	= len,
	};
	handle_t *handle;
	int err = 0, err2;

	lockdep_assert_held(&inode->i_rwsem);
	lockdep_assert_held(&inode->i_mapping->invalidate_lock);
	for (; lblk < end; lblk++) {
		handle = rlfs_journal_start(inode->i_sb, RLFS_COW_CREDITS);
		if (IS_ERR(handle)) {
			err = PTR_ERR(handle);
			break;
		}
		err = rlfs_cow_block(handle, inode, lblk, 0);
		err2 = rlfs_journal_stop(handle);
		if (err > 0)
			ev.blocks++;
		if (err >= 0)
			err = err2;
		if (!err && fatal_signal_pending(current))
			err = -EINTR;
		if (err)
			break;
		cond_resched();
	}
	rlfs_stat_add(inode->i_sb, RLFS_STAT_UNSHARED_BLOCKS, ev.blocks);
	rlfs_notify(inode->i_sb, &ev);
	trace_reflinkfs_unshare(inode, offset, len, ev.blocks, err);
	return err;
}

/*
 * One piece of a clone: a reference increment, a decrement of the
 * destination's old blocks, room in the destination's map, the map
 * change, the destination's inode.
 */
#define RLFS_CLONE_CREDITS	(RLFS_TREE_CREDITS + RLFS_BITMAP_CREDITS + \
				 2 * RLFS_REFCOUNT_CREDITS + \
				 2 * RLFS_INODE_CREDITS)

/*
 * Drop more of @dest's references to [pblk, pblk + len) when a first
 * step did not cover the piece (another file changed the records in
 * between): further steps extend the handle, i_map_sem is held.
 */
static int rlfs_clone_drop_old(handle_t *handle, struct inode *dest, u64 pblk,
			       u32 len)
{
	u32 done;
	int err;

	lockdep_assert_held_write(&RLFS_I(dest)->i_map_sem);
	while (len) {
		if (jbd2_journal_extend(handle, RLFS_REFCOUNT_CREDITS,
					RLFS_REFCOUNT_REVOKES))
			return -ENOSPC;
		err = rlfs_refcount_dec(handle, dest->i_sb, dest, pblk, len, &done);
		if (err)
			return err;
		pblk += done;
		len -= done;
	}
	return 0;
}

/*
 * Map the source blocks [spblk, spblk + *piece) at @dlblk of @dest, in
 * place of what @dest maps there (a hole, or one extent: *piece is
 * clipped to it), under dest's i_map_sem.  Everything that may need
 * space comes first: room in the map, then the increment; so ENOSPC
 * leaves @dest as it was.  The old blocks' references are dropped
 * next (this may use the reserved pool, as freeing does) and the map
 * changes last, allocating nothing.  *piece is what was remapped.
 */
static int rlfs_clone_piece(handle_t *handle, struct inode *dest, u32 dlblk,
			    u64 spblk, u32 *piece)
{
	struct super_block *sb = dest->i_sb;
	struct rlfs_ext_irec drec;
	u64 dpblk = 0, moved;
	u32 done, undone, step;
	int mapped, ret;

	mapped = rlfs_extent_reserve(handle, dest, dlblk, &drec);
	if (mapped < 0)
		return mapped;
	*piece = min(*piece, drec.len - (dlblk - drec.lblk));
	if (mapped) {
		dpblk = drec.pblk + (dlblk - drec.lblk);
		ret = rlfs_refcount_step_len(sb, dpblk, *piece, &step);
		if (ret)
			return ret;
		*piece = step;
	}
	/* The count first: a mapping never names a free block. */
	ret = rlfs_refcount_inc(handle, sb, spblk, *piece, &done);
	if (ret)
		return ret;
	*piece = done;
	if (mapped) {
		ret = rlfs_refcount_dec(handle, dest->i_sb, dest, dpblk, *piece, &done);
		if (!ret && done < *piece)	/* the tree changed meanwhile */
			ret = rlfs_clone_drop_old(handle, dest, dpblk + done,
						  *piece - done);
		if (!ret) {
			ret = rlfs_extent_replace(handle, dest, dlblk, *piece,
						  spblk, &moved);
			if (ret)
				done = *piece;
		}
		if (ret && done) {
			rlfs_err(sb, "inode %lu: clone at %u failed half-way: %d",
				 dest->i_ino, dlblk, ret);
			rlfs_abort(sb, ret);
			return ret;
		}
	} else {
		ret = rlfs_extent_insert(handle, dest, dlblk, spblk, *piece);
	}
	if (!ret) {
		inode_add_bytes(dest, (loff_t)*piece << RLFS_BLOCK_BITS);
		return 0;
	}
	/* Nothing of the piece happened but the increment: undo it. */
	if (rlfs_refcount_dec(handle, sb, NULL, spblk, *piece, &undone) ||
	    undone != *piece)
		rlfs_err(sb, "block %llu: refcount left one too high", spblk);
	return ret;
}

/*
 * Map @count blocks of @src from @slblk into @dest at @dlblk, replacing
 * what @dest maps there; holes in the source unmap the destination.
 * Each piece (one source extent or hole, one destination extent or
 * hole) is one consistent step, so a failure (ENOSPC, EINTR, a crash)
 * leaves a prefix of whole pieces remapped and the rest untouched.  The
 * pieces share a handle as long as the running transaction can take
 * their credits; rlfs_journal_ensure_credits() extends the handle, or
 * restarts it when the transaction is full.  i_size grows with the
 * pieces, up to @new_size, so no block is ever mapped past EOF; the
 * last handle also sets the times.
 */
static int rlfs_clone_blocks(struct inode *src, u32 slblk, struct inode *dest,
			     u32 dlblk, u64 count, loff_t new_size)
{
	struct super_block *sb = src->i_sb;
	struct rlfs_ext_irec rec;
	handle_t *handle;
	unsigned int nofs;
	u32 piece;
	u64 spblk;
	loff_t size;
	int ret = 0, err;

	handle = rlfs_journal_start(sb, RLFS_CLONE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	while (count) {
		ret = rlfs_extent_get(src, slblk, &rec);
		if (ret < 0)
			break;
		piece = min_t(u64, count, rec.len - (slblk - rec.lblk));
		spblk = ret ? rec.pblk + (slblk - rec.lblk) : 0;

		ret = rlfs_journal_ensure_credits(handle, RLFS_CLONE_CREDITS);
		if (ret)
			break;
		if (!spblk) {
			/* A source hole unmaps the destination (holes: no-op). */
			ret = rlfs_remove_range(handle, dest, dlblk, piece,
						&piece);
		} else {
			nofs = rlfs_map_lock(dest, RLFS_MAP_EXCL);
			ret = rlfs_clone_piece(handle, dest, dlblk, spblk,
					       &piece);
			rlfs_map_unlock(dest, RLFS_MAP_EXCL, nofs);
		}
		if (ret)
			break;
		size = min_t(loff_t, new_size,
			     (loff_t)((u64)dlblk + piece) << RLFS_BLOCK_BITS);
		if (size > i_size_read(dest))
			i_size_write(dest, size);
		ret = rlfs_mark_inode_dirty(handle, dest);
		if (ret)
			break;
		slblk += piece;
		dlblk += piece;
		count -= piece;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	if (!ret)
		ret = rlfs_journal_ensure_credits(handle, RLFS_INODE_CREDITS);
	if (!ret) {
		if (new_size > i_size_read(dest))
			i_size_write(dest, new_size);
		rlfs_touch_mctime(dest);
		ret = rlfs_mark_inode_dirty(handle, dest);
		if (IS_SYNC(dest))
			handle->h_sync = 1;
	}
	err = rlfs_journal_stop(handle);
	return ret ? ret : err;
}

/**
 * rlfs_remap_file_range - ->remap_file_range: clone or dedupe a range
 * @file_in: source
 * @pos_in: source offset
 * @file_out: destination
 * @pos_out: destination offset
 * @len: bytes (0: to the source's EOF)
 * @remap_flags: REMAP_FILE_*
 *
 * The destination's blocks are replaced piece by piece
 * (rlfs_clone_blocks()), never punched first: a dedupe that fails
 * leaves the contents as they were, and a clone that fails has
 * remapped a prefix of the range and left the rest untouched.  Returns
 * the bytes remapped or -errno.
 */
loff_t rlfs_remap_file_range(struct file *file_in, loff_t pos_in,
			     struct file *file_out, loff_t pos_out,
			     loff_t len, unsigned int remap_flags)
{
	struct inode *src = file_inode(file_in);
	struct inode *dest = file_inode(file_out);
	loff_t ret, end;
	u64 blocks;
	int err;

	if (remap_flags & ~(REMAP_FILE_DEDUP | REMAP_FILE_ADVISORY))
		return -EINVAL;
	if (src->i_sb != dest->i_sb)
		return -EXDEV;

	lock_two_nondirectories(src, dest);
	inode_dio_wait(src);
	if (dest != src)
		inode_dio_wait(dest);
	filemap_invalidate_lock_two(src->i_mapping, dest->i_mapping);

	/* Checks, writes both ranges back, compares for dedupe. */
	ret = generic_remap_file_range_prep(file_in, pos_in, file_out, pos_out,
					    &len, remap_flags);
	if (ret < 0 || len == 0)
		goto out_unlock;

	end = pos_out + len;
	blocks = rlfs_blocks_of(pos_in + len) - (pos_in >> RLFS_BLOCK_BITS);
	/* Growing the destination: what lies past its EOF must read zero. */
	if (end > i_size_read(dest)) {
		err = rlfs_prepare_grow(dest, pos_out);
		if (err) {
			ret = err;
			goto out_unlock;
		}
	}
	/* Written back by the prep: the cached pages of the range go. */
	truncate_inode_pages_range(dest->i_mapping, pos_out,
				   round_up(end, RLFS_BLOCK_SIZE) - 1);
	err = rlfs_clone_blocks(src, pos_in >> RLFS_BLOCK_BITS, dest,
				pos_out >> RLFS_BLOCK_BITS, blocks, end);
	ret = err ? err : len;

out_unlock:
	filemap_invalidate_unlock_two(src->i_mapping, dest->i_mapping);
	unlock_two_nondirectories(src, dest);
	trace_reflinkfs_remap(src, pos_in, dest, pos_out, len,
			      remap_flags & REMAP_FILE_DEDUP, ret);
	if (ret > 0) {
		bool dedupe = remap_flags & REMAP_FILE_DEDUP;
		struct rlfs_event ev = {
			.type	= dedupe ? REFLINKFS_EVENT_TYPE_DEDUPE :
				  REFLINKFS_EVENT_TYPE_CLONE,
			.ino	= dest->i_ino,
			.ino_src = src->i_ino,
			.offset	= pos_out,
			.length	= ret,
		};

		rlfs_stat_add(dest->i_sb, dedupe ? RLFS_STAT_DEDUPES :
			      RLFS_STAT_CLONES, 1);
		rlfs_notify(dest->i_sb, &ev);
	}
	return ret;
}

#define RLFS_REFLINK_LINK_CREDITS	(RLFS_DIRENT_CREDITS + \
					 RLFS_ORPHAN_CREDITS + \
					 2 * RLFS_INODE_CREDITS)

/*
 * PRESERVE: copy the xattrs of @src (through its dentry) to @inode, as
 * setxattr(2) by the caller could set them: security.* are left to the
 * LSM, which labelled the new inode as any new file (rlfs_init_security()
 * after the create hooks), and trusted.* need CAP_SYS_ADMIN (skipped
 * without it).  user.* belong to the owner, whom the caller is or may
 * make (rlfs_reflink_may_preserve()).
 */
static int rlfs_reflink_xattrs(struct dentry *src_dentry, struct inode *src,
			       struct rlfs_idmap *idmap, struct dentry *dentry,
			       struct inode *inode)
{
	char *names, *name, *value = NULL;
	ssize_t list, size;
	int err = 0;

	list = rlfs_listxattr(src_dentry, NULL, 0);
	if (list <= 0)
		return list;
	names = kvmalloc(list, GFP_KERNEL);
	value = kvmalloc(XATTR_SIZE_MAX, GFP_KERNEL);
	if (!names || !value) {
		err = -ENOMEM;
		goto out;
	}
	list = rlfs_listxattr(src_dentry, names, list);
	if (list < 0) {
		err = list;
		goto out;
	}
	for (name = names; name < names + list; name += strlen(name) + 1) {
		if (!strncmp(name, XATTR_SECURITY_PREFIX,
			     XATTR_SECURITY_PREFIX_LEN))
			continue;
		if (!strncmp(name, XATTR_TRUSTED_PREFIX,
			     XATTR_TRUSTED_PREFIX_LEN) &&
		    !capable(CAP_SYS_ADMIN))
			continue;
		size = __vfs_getxattr(src_dentry, src, name, value,
				      XATTR_SIZE_MAX);
		if (size == -ENODATA)
			continue;
		if (size < 0) {
			err = size;
			break;
		}
		err = __vfs_setxattr(idmap, dentry, inode, name, value, size,
				     0);
		if (err)
			break;
	}
out:
	kvfree(value);
	kvfree(names);
	return err;
}

/*
 * Give @src a lineage id if it has none, in a transaction of its own
 * before the new inode that copies it exists (so no record ever names a
 * lineage its origin lacks).  The id is random and never 0; it never
 * changes once set.  Called with @src's i_rwsem held.
 */
static int rlfs_reflink_lineage(struct inode *src)
{
	struct rlfs_inode_info *ei = RLFS_I(src);
	handle_t *handle;
	u64 lineage;
	int err, err2;

	lockdep_assert_held(&src->i_rwsem);
	if (ei->i_lineage)
		return 0;
	handle = rlfs_journal_start(src->i_sb, RLFS_INODE_CREDITS +
				    RLFS_SB_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = rlfs_set_ro_compat(handle, src->i_sb,
				 RLFS_FEATURE_RO_COMPAT_SNAPSHOT);
	if (!err) {
		do {
			lineage = get_random_u64();
		} while (!lineage);
		WRITE_ONCE(ei->i_lineage, lineage);
		err = rlfs_mark_inode_dirty(handle, src);
	}
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

/*
 * The new inode, unlinked and on the orphan list.  A snapshot is
 * immutable and carries its record (origin, lineage) from this, its
 * first transaction: it never exists writable, not even as an orphan.
 */
static struct inode *rlfs_reflink_new_inode(struct rlfs_idmap *idmap,
					    struct inode *src,
					    struct inode *dir, umode_t mode,
					    const struct qstr *qname,
					    unsigned int flags)
{
	struct rlfs_inode_info *ei;
	struct inode *inode;
	handle_t *handle;
	int err, err2;

	handle = rlfs_journal_start(dir->i_sb, RLFS_NEWINODE_CREDITS +
				    RLFS_ORPHAN_CREDITS + RLFS_XATTR_CREDITS);
	if (IS_ERR(handle))
		return ERR_CAST(handle);
	inode = rlfs_new_inode(handle, idmap, dir, mode, 0);
	if (IS_ERR(inode)) {
		rlfs_journal_stop(handle);
		return inode;
	}
	ei = RLFS_I(inode);
	if (flags & (REFLINKFS_REFLINK_IMMUTABLE | REFLINKFS_REFLINK_LINEAGE))
		ei->i_lineage = READ_ONCE(RLFS_I(src)->i_lineage);
	if (flags & REFLINKFS_REFLINK_IMMUTABLE) {
		ei->i_flags |= RLFS_IMMUTABLE_FL | RLFS_SNAPSHOT_FL;
		ei->i_snap_origin = src->i_ino;
		ei->i_snap_origin_gen = src->i_generation;
		rlfs_set_inode_flags(inode);
	}
	err = rlfs_init_security(handle, inode, dir, qname);
	clear_nlink(inode);
	if (!err)
		err = rlfs_orphan_add(handle, inode);
	if (!err)
		err = rlfs_mark_inode_dirty(handle, inode);
	unlock_new_inode(inode);
	err2 = rlfs_journal_stop(handle);
	if (err || err2) {
		iput(inode);
		return ERR_PTR(err ? err : err2);
	}
	return inode;
}

/* Last step: size, link count, directory entry, off the orphan list. */
static int rlfs_reflink_link(struct inode *src, struct inode *dir,
			     struct dentry *dentry, struct inode *inode,
			     bool preserve)
{
	handle_t *handle;
	int err, err2;

	handle = rlfs_journal_start(dir->i_sb, RLFS_REFLINK_LINK_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	if (IS_DIRSYNC(dir))
		handle->h_sync = 1;
	i_size_write(inode, i_size_read(src));
	if (preserve)
		rlfs_set_mtime(inode, rlfs_get_mtime(src));
	inode_set_ctime_current(inode);
	set_nlink(inode, 1);
	err = rlfs_add_entry(handle, dir, &dentry->d_name, inode);
	if (!err)
		err = rlfs_orphan_del(handle, inode);
	if (err)
		clear_nlink(inode);
	err2 = rlfs_mark_inode_dirty(handle, inode);
	if (!err)
		err = err2;
	err2 = rlfs_journal_stop(handle);
	return err ? err : err2;
}

/*
 * May the caller have a PRESERVE copy of @src, with its owner and group?
 * OCFS2's rule: own the source and be in its group, or have CAP_CHOWN
 * (the copy could be made by chown otherwise).
 */
static int rlfs_reflink_may_preserve(struct rlfs_idmap *idmap,
				     struct inode *src)
{
	if (!vfsuid_eq_kuid(i_uid_into_vfsuid(idmap, src), current_fsuid()) &&
	    !capable_wrt_inode_uidgid(idmap, src, CAP_CHOWN))
		return -EPERM;
	if (!vfsgid_in_group_p(i_gid_into_vfsgid(idmap, src)) &&
	    !capable_wrt_inode_uidgid(idmap, src, CAP_CHOWN))
		return -EPERM;
	return 0;
}

/*
 * The mode of a PRESERVE copy: the source's, with the set-id bits only
 * as chmod(2) by the caller would keep them (set-uid for the owner,
 * set-gid for a member of the group, either with CAP_FSETID).
 */
static umode_t rlfs_reflink_preserve_mode(struct rlfs_idmap *idmap,
					  struct inode *src)
{
	umode_t mode = src->i_mode;

	if (capable_wrt_inode_uidgid(idmap, src, CAP_FSETID))
		return mode;
	if (!vfsuid_eq_kuid(i_uid_into_vfsuid(idmap, src), current_fsuid()))
		mode &= ~S_ISUID;
	if (!vfsgid_in_group_p(i_gid_into_vfsgid(idmap, src)))
		mode &= ~S_ISGID;
	return mode;
}

/**
 * rlfs_ioctl_reflink - REFLINKFS_IOC_REFLINK
 * @file: the source file
 * @argp: user pointer to struct reflinkfs_reflink_args
 *
 * Creation follows what mknod(2) checks and notifies (write and search
 * permission on the directory, the LSM's path and inode create hooks,
 * fsnotify); like link(2), source and directory must be on one mount,
 * and an active swap file cannot be the source.  See Documentation/filesystems/reflinkfs-abi.rst.  Returns 0 or
 * -errno.
 */
long rlfs_ioctl_reflink(struct file *file, void __user *argp)
{
	struct inode *src = file_inode(file);
	struct rlfs_idmap *src_idmap = rlfs_mnt_idmap(file->f_path.mnt);
	struct reflinkfs_reflink_args args;
	struct rlfs_idmap *idmap;
	struct inode *dir, *inode;
	struct dentry *dentry;
	struct path path;
	u64 new_ino = 0;
	bool preserve;
	umode_t mode;
	int i, err;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~REFLINKFS_REFLINK_ALL_FLAGS)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(args.reserved); i++)
		if (args.reserved[i])
			return -EINVAL;
	if (!S_ISREG(src->i_mode))
		return -EINVAL;
	if (IS_SWAPFILE(src))
		return -ETXTBSY;
	/* A snapshot is born immutable: chattr +i's capability. */
	if ((args.flags & REFLINKFS_REFLINK_IMMUTABLE) &&
	    !capable(CAP_LINUX_IMMUTABLE))
		return -EPERM;
	preserve = args.flags & REFLINKFS_REFLINK_PRESERVE;
	err = inode_permission(src_idmap, src, MAY_READ);
	if (err)
		return err;
	if (preserve) {
		err = rlfs_reflink_may_preserve(src_idmap, src);
		if (err)
			return err;
	}

	/* Locks the directory, takes mnt_want_write, -EEXIST if positive. */
	dentry = user_path_create(args.dest_dirfd,
				  u64_to_user_ptr(args.dest_name), &path, 0);
	if (IS_ERR(dentry))
		return PTR_ERR(dentry);
	dir = d_inode(path.dentry);
	idmap = rlfs_mnt_idmap(path.mnt);
	err = -EXDEV;
	if (path.mnt != file->f_path.mnt)
		goto out_path;
	err = -ENAMETOOLONG;
	if (dentry->d_name.len > RLFS_NAME_LEN)
		goto out_path;
	err = inode_permission(idmap, dir, MAY_WRITE | MAY_EXEC);
	if (err)
		goto out_path;
	err = -ENOENT;
	if (IS_DEADDIR(dir))
		goto out_path;

	mode = preserve ? rlfs_reflink_preserve_mode(src_idmap, src) :
		S_IFREG | (src->i_mode & 0777 & ~current_umask());
	err = security_path_mknod(&path, dentry, mode, 0);
	if (!err)
		err = security_inode_create(dir, dentry, mode);
	if (err)
		goto out_path;
	if (args.flags & (REFLINKFS_REFLINK_IMMUTABLE |
			  REFLINKFS_REFLINK_LINEAGE)) {
		inode_lock(src);
		err = rlfs_reflink_lineage(src);
		inode_unlock(src);
		if (err)
			goto out_path;
	}
	inode = rlfs_reflink_new_inode(idmap, src, dir, mode, &dentry->d_name,
				       args.flags);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto out_path;
	}
	if (preserve) {
		inode->i_uid = src->i_uid;
		inode->i_gid = src->i_gid;
		err = rlfs_reflink_xattrs(file->f_path.dentry, src, idmap,
					  dentry, inode);
		if (err)
			goto out_iput;
	}

	/* A stable source with its data on disk: nothing dirty gets shared. */
	inode_lock(src);
	inode_dio_wait(src);
	filemap_invalidate_lock(src->i_mapping);
	err = -ETXTBSY;
	if (IS_SWAPFILE(src))
		goto out_src;
	err = filemap_write_and_wait(src->i_mapping);
	if (!err)
		err = rlfs_clone_blocks(src, 0, inode, 0,
					RLFS_LBLK_LIMIT_BLOCKS, 0);
	if (!err)
		err = rlfs_reflink_link(src, dir, dentry, inode, preserve);
out_src:
	filemap_invalidate_unlock(src->i_mapping);
	inode_unlock(src);
	if (!err) {
		bool snapshot = args.flags & REFLINKFS_REFLINK_IMMUTABLE;
		struct rlfs_event ev = {
			.type	= snapshot ? REFLINKFS_EVENT_TYPE_SNAPSHOT :
				  REFLINKFS_EVENT_TYPE_REFLINK,
			.ino	= inode->i_ino,
			.ino_src = src->i_ino,
		};

		new_ino = inode->i_ino;
		d_instantiate(dentry, inode);
		fsnotify_create(dir, dentry);
		rlfs_stat_add(src->i_sb, RLFS_STAT_REFLINKS, 1);
		if (snapshot)
			rlfs_stat_add(src->i_sb, RLFS_STAT_SNAPSHOTS, 1);
		rlfs_notify(src->i_sb, &ev);
		goto out_path;
	}
out_iput:
	iput(inode);	/* eviction drops the shared references */
out_path:
	done_path_create(&path, dentry);
	trace_reflinkfs_reflink(src, new_ino, args.flags, err);
	return err;
}
