// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs events on the "events" multicast group of the generic netlink
 * family (netlink.c registers the family and hands it over here).
 *
 * Events are only built when someone listens.  Copy on write is reported
 * once per inode per journal transaction, when the transaction commits,
 * so a write storm sends a message per inode every commit interval at
 * most.  Nothing is sent once the family is unregistered: events come
 * from mounted filesystems, and the module cannot go while one is.
 */

#include <linux/slab.h>
#include <net/genetlink.h>
#include <uapi/linux/reflinkfs.h>
#include "reflinkfs.h"

/* At most this many inodes per transaction get a cow event of their own. */
#define RLFS_COW_NOTES_MAX	1024

struct rlfs_cow_note {
	struct list_head	list;
	u64			ino;
	tid_t			tid;
	u64			blocks;
};

/* The registered family (netlink.c), NULL when there is none. */
static const struct genl_family *rlfs_family;

void rlfs_events_start(const struct genl_family *family)
{
	WRITE_ONCE(rlfs_family, family);
}

void rlfs_events_stop(void)
{
	WRITE_ONCE(rlfs_family, NULL);
}

static bool rlfs_listening(void)
{
	const struct genl_family *family = READ_ONCE(rlfs_family);

	return family && genl_has_listeners(family, &init_net,
					    RLFS_MCGRP_EVENTS);
}

static int rlfs_put_u64(struct sk_buff *skb, int type, u64 value, int pad)
{
	return nla_put_u64_64bit(skb, type, value, pad);
}

/* The byte range of a clone, dedupe or unshare event. */
static int rlfs_put_range(struct sk_buff *skb, const struct rlfs_event *ev)
{
	const int pad = REFLINKFS_A_EVENT_PAD;

	return rlfs_put_u64(skb, REFLINKFS_A_EVENT_OFFSET, ev->offset, pad) ||
	       rlfs_put_u64(skb, REFLINKFS_A_EVENT_LENGTH, ev->length, pad);
}

static int rlfs_fill_event(struct sk_buff *skb, struct super_block *sb,
			   const struct rlfs_event *ev)
{
	const int pad = REFLINKFS_A_EVENT_PAD;

	if (nla_put_u32(skb, REFLINKFS_A_EVENT_DEV, new_encode_dev(sb->s_dev)) ||
	    nla_put_u32(skb, REFLINKFS_A_EVENT_TYPE, ev->type))
		return -EMSGSIZE;
	switch (ev->type) {
	case REFLINKFS_EVENT_TYPE_MOUNT:
	case REFLINKFS_EVENT_TYPE_UNMOUNT:
		return 0;
	case REFLINKFS_EVENT_TYPE_CORRUPTION:
		return rlfs_put_u64(skb, REFLINKFS_A_EVENT_BLOCK, ev->block,
				    pad);
	}
	if (rlfs_put_u64(skb, REFLINKFS_A_EVENT_INO, ev->ino, pad))
		return -EMSGSIZE;
	switch (ev->type) {
	case REFLINKFS_EVENT_TYPE_CLONE:
	case REFLINKFS_EVENT_TYPE_DEDUPE:
		if (rlfs_put_range(skb, ev))
			return -EMSGSIZE;
		fallthrough;
	case REFLINKFS_EVENT_TYPE_REFLINK:
	case REFLINKFS_EVENT_TYPE_SNAPSHOT:
		return rlfs_put_u64(skb, REFLINKFS_A_EVENT_INO_SRC,
				    ev->ino_src, pad);
	case REFLINKFS_EVENT_TYPE_UNSHARE:
		if (rlfs_put_range(skb, ev))
			return -EMSGSIZE;
		fallthrough;
	case REFLINKFS_EVENT_TYPE_COW:
		return rlfs_put_u64(skb, REFLINKFS_A_EVENT_BLOCKS, ev->blocks,
				    pad);
	}
	return 0;
}

/**
 * rlfs_notify - send an event to the events group
 * @sb: the instance
 * @ev: what happened; only the fields of its type are sent
 *
 * Cheap when nobody listens.  May sleep (GFP_NOFS); a message that cannot
 * be built is dropped, as netlink drops messages for slow listeners.
 */
void rlfs_notify(struct super_block *sb, const struct rlfs_event *ev)
{
	struct sk_buff *skb;
	void *hdr;

	if (!rlfs_listening())
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_NOFS);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, rlfs_family, 0, REFLINKFS_CMD_EVENT);
	if (!hdr || rlfs_fill_event(skb, sb, ev)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast(rlfs_family, skb, 0, RLFS_MCGRP_EVENTS, GFP_NOFS);
}

/**
 * rlfs_note_cow - count blocks copied on write in a transaction
 * @handle: the running handle
 * @inode: the file that got private copies
 * @blocks: how many
 *
 * Adds to the counters and, when someone listens, to the inode's note of
 * the running transaction, sent by rlfs_notify_commit().
 */
void rlfs_note_cow(handle_t *handle, struct inode *inode, u64 blocks)
{
	struct rlfs_sb_info *sbi = RLFS_SB(inode->i_sb);
	struct rlfs_cow_note *note, *new = NULL;
	tid_t tid = handle->h_transaction->t_tid;

	rlfs_stat_add(inode->i_sb, RLFS_STAT_COW_BLOCKS, blocks);
	if (!rlfs_listening())
		return;
	for (;;) {
		spin_lock(&sbi->s_cow_lock);
		list_for_each_entry(note, &sbi->s_cow_notes, list) {
			if (note->ino == inode->i_ino && note->tid == tid) {
				note->blocks += blocks;
				spin_unlock(&sbi->s_cow_lock);
				kfree(new);
				return;
			}
		}
		if (new || sbi->s_cow_nr_notes >= RLFS_COW_NOTES_MAX)
			break;
		spin_unlock(&sbi->s_cow_lock);
		new = kmalloc(sizeof(*new), GFP_NOFS);
		if (!new)
			return;
	}
	if (new) {
		new->ino = inode->i_ino;
		new->tid = tid;
		new->blocks = blocks;
		list_add_tail(&new->list, &sbi->s_cow_notes);
		sbi->s_cow_nr_notes++;
		new = NULL;
	}
	spin_unlock(&sbi->s_cow_lock);
	kfree(new);
}

/*
 * The notes of transaction @tid (all notes if @all), taken off the list.
 * Called from the jbd2 commit callback and at unmount.
 */
static void rlfs_take_cow_notes(struct rlfs_sb_info *sbi, tid_t tid, bool all,
				struct list_head *out)
{
	struct rlfs_cow_note *note, *next;

	spin_lock(&sbi->s_cow_lock);
	list_for_each_entry_safe(note, next, &sbi->s_cow_notes, list) {
		if (all || note->tid == tid) {
			list_move_tail(&note->list, out);
			sbi->s_cow_nr_notes--;
		}
	}
	spin_unlock(&sbi->s_cow_lock);
}

/**
 * rlfs_notify_commit - a transaction committed: count it, send its notes
 * @sb: the instance
 * @tid: the transaction
 *
 * Runs in the jbd2 thread (j_commit_callback).
 */
void rlfs_notify_commit(struct super_block *sb, tid_t tid)
{
	struct rlfs_cow_note *note, *next;
	LIST_HEAD(notes);

	rlfs_stat_add(sb, RLFS_STAT_COMMITS, 1);
	rlfs_take_cow_notes(RLFS_SB(sb), tid, false, &notes);
	list_for_each_entry_safe(note, next, &notes, list) {
		struct rlfs_event ev = {
			.type	= REFLINKFS_EVENT_TYPE_COW,
			.ino	= note->ino,
			.blocks	= note->blocks,
		};

		rlfs_notify(sb, &ev);
		kfree(note);
	}
}

/* Free what is left of the notes at unmount (journal gone). */
void rlfs_drop_cow_notes(struct super_block *sb)
{
	struct rlfs_cow_note *note, *next;
	LIST_HEAD(notes);

	rlfs_take_cow_notes(RLFS_SB(sb), 0, true, &notes);
	list_for_each_entry_safe(note, next, &notes, list)
		kfree(note);
}
