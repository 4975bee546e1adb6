// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs generic netlink family "reflinkfs": status of every mounted
 * instance, events on the "events" multicast group, and fault injection.
 * The protocol is specified in Documentation/netlink/specs/reflinkfs.yaml;
 * the names come from include/uapi/linux/reflinkfs.h.  The operation
 * table is written by hand (6.1 has no split ops), each operation with a
 * strict policy of its own: the genetlink core rejects unknown, malformed
 * and out-of-range attributes with an extended ACK naming the attribute.
 *
 * Instances.  Every mounted filesystem is on rlfs_instances from the end
 * of its mount to the start of its unmount; rlfs_instances_lock is held
 * while a handler uses an instance it found there, so the unmount waits.
 * A request names an instance by its device number or by a descriptor of
 * a file on it (which pins it by itself).
 *
 * Events are built and sent by event.c, to which this file hands the
 * family once it is registered.
 */

#include <linux/file.h>
#include <linux/kdev_t.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <uapi/linux/reflinkfs.h>
#include "reflinkfs.h"

static LIST_HEAD(rlfs_instances);
static DEFINE_MUTEX(rlfs_instances_lock);
static struct genl_family rlfs_genl_family;

static int rlfs_put_u64(struct sk_buff *skb, int type, u64 value, int pad)
{
	return nla_put_u64_64bit(skb, type, value, pad);
}

/* ---- instances -------------------------------------------------------- */

/**
 * rlfs_instance_add - a mount finished: list it, tell the listeners
 * @sb: the new instance
 */
void rlfs_instance_add(struct super_block *sb)
{
	struct rlfs_event ev = { .type = REFLINKFS_EVENT_TYPE_MOUNT };

	mutex_lock(&rlfs_instances_lock);
	list_add_tail(&RLFS_SB(sb)->s_instance, &rlfs_instances);
	mutex_unlock(&rlfs_instances_lock);
	rlfs_notify(sb, &ev);
}

/**
 * rlfs_instance_del - an unmount starts: unlist it, tell the listeners
 * @sb: the instance
 *
 * Waits for the handlers using it.  Its last message is the unmount.
 */
void rlfs_instance_del(struct super_block *sb)
{
	struct rlfs_event ev = { .type = REFLINKFS_EVENT_TYPE_UNMOUNT };

	mutex_lock(&rlfs_instances_lock);
	list_del_init(&RLFS_SB(sb)->s_instance);
	mutex_unlock(&rlfs_instances_lock);
	rlfs_notify(sb, &ev);
}

/*
 * The instance a request names: by @dev_attr or by @fd_attr (exactly one
 * of them).  On success rlfs_instances_lock is held (drop it with
 * rlfs_put_instance()), and with an fd, *filep holds the file.
 */
static struct super_block *rlfs_get_instance(struct genl_info *info,
					     int dev_attr, int fd_attr,
					     struct file **filep)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *dev = info->attrs[dev_attr];
	struct nlattr *fd = info->attrs[fd_attr];
	struct rlfs_sb_info *sbi;
	struct super_block *sb;
	struct file *file;

	*filep = NULL;
	if (!dev == !fd) {
		NL_SET_ERR_MSG(extack, "name the instance by dev or by fd (one of them)");
		NL_SET_BAD_ATTR(extack, dev ? dev : fd);
		return ERR_PTR(-EINVAL);
	}
	mutex_lock(&rlfs_instances_lock);
	if (fd) {
		file = fget(nla_get_s32(fd));
		if (!file) {
			mutex_unlock(&rlfs_instances_lock);
			NL_SET_ERR_MSG_ATTR(extack, fd, "not an open file descriptor");
			return ERR_PTR(-EBADF);
		}
		sb = file_inode(file)->i_sb;
		list_for_each_entry(sbi, &rlfs_instances, s_instance) {
			if (sbi->s_sb == sb) {
				*filep = file;
				return sb;
			}
		}
		fput(file);
		mutex_unlock(&rlfs_instances_lock);
		NL_SET_ERR_MSG_ATTR(extack, fd, "the file is not on a mounted reflinkfs");
		return ERR_PTR(-ENODEV);
	}
	list_for_each_entry(sbi, &rlfs_instances, s_instance)
		if (new_encode_dev(sbi->s_sb->s_dev) == nla_get_u32(dev))
			return sbi->s_sb;
	mutex_unlock(&rlfs_instances_lock);
	NL_SET_ERR_MSG_ATTR(extack, dev, "no reflinkfs is mounted from this device");
	return ERR_PTR(-ENODEV);
}

static void rlfs_put_instance(struct file *file)
{
	mutex_unlock(&rlfs_instances_lock);
	if (file)
		fput(file);
}

/* ---- STATUS_GET ------------------------------------------------------- */

static u32 rlfs_mount_state(struct super_block *sb)
{
	journal_t *journal = RLFS_SB(sb)->s_journal;

	if (le32_to_cpu(RLFS_SB(sb)->s_rsb->s_state) & RLFS_STATE_ERROR)
		return REFLINKFS_MOUNT_STATE_ERROR;
	/* An aborted journal refuses every change: read-only in effect. */
	if (sb_rdonly(sb) || !journal || is_journal_aborted(journal))
		return REFLINKFS_MOUNT_STATE_RO;
	return REFLINKFS_MOUNT_STATE_RW;
}

static int rlfs_fill_status(struct sk_buff *skb, struct super_block *sb)
{
	static const struct {
		int		attr;
		enum rlfs_stat	stat;
	} counters[] = {
		{ REFLINKFS_A_STATUS_REFLINKS, RLFS_STAT_REFLINKS },
		{ REFLINKFS_A_STATUS_SNAPSHOTS, RLFS_STAT_SNAPSHOTS },
		{ REFLINKFS_A_STATUS_CLONES, RLFS_STAT_CLONES },
		{ REFLINKFS_A_STATUS_DEDUPES, RLFS_STAT_DEDUPES },
		{ REFLINKFS_A_STATUS_COW_BLOCKS, RLFS_STAT_COW_BLOCKS },
		{ REFLINKFS_A_STATUS_UNSHARED_BLOCKS, RLFS_STAT_UNSHARED_BLOCKS },
		{ REFLINKFS_A_STATUS_ENOSPC, RLFS_STAT_ENOSPC },
		{ REFLINKFS_A_STATUS_CORRUPTIONS, RLFS_STAT_CORRUPTIONS },
		{ REFLINKFS_A_STATUS_COMMITS, RLFS_STAT_COMMITS },
	};
	const int pad = REFLINKFS_A_STATUS_PAD;
	struct rlfs_sb_info *sbi = RLFS_SB(sb);
	char label[RLFS_LABEL_LEN + 1];
	struct rlfs_rc_totals rc;
	u64 free, used;
	int i, err;

	err = rlfs_refcount_totals(sb, &rc);
	if (err)
		return err;
	memcpy(label, sbi->s_rsb->s_label, RLFS_LABEL_LEN);
	label[RLFS_LABEL_LEN] = '\0';
	free = percpu_counter_sum_positive(&sbi->s_free_blocks);
	used = sbi->s_geom.blocks - min(free, sbi->s_geom.blocks);
	if (nla_put_u32(skb, REFLINKFS_A_STATUS_DEV, new_encode_dev(sb->s_dev)) ||
	    nla_put(skb, REFLINKFS_A_STATUS_UUID, RLFS_UUID_LEN,
		    sbi->s_rsb->s_uuid) ||
	    nla_put_string(skb, REFLINKFS_A_STATUS_LABEL, label) ||
	    nla_put_u32(skb, REFLINKFS_A_STATUS_STATE, rlfs_mount_state(sb)) ||
	    nla_put_u32(skb, REFLINKFS_A_STATUS_BLOCK_SIZE, RLFS_BLOCK_SIZE) ||
	    rlfs_put_u64(skb, REFLINKFS_A_STATUS_BLOCKS_TOTAL, sbi->s_geom.blocks,
			 pad) ||
	    rlfs_put_u64(skb, REFLINKFS_A_STATUS_BLOCKS_FREE, free, pad) ||
	    rlfs_put_u64(skb, REFLINKFS_A_STATUS_BLOCKS_USED, used, pad) ||
	    rlfs_put_u64(skb, REFLINKFS_A_STATUS_SHARED_BLOCKS, rc.blocks,
			 pad) ||
	    rlfs_put_u64(skb, REFLINKFS_A_STATUS_REFCOUNT_RECORDS, rc.records,
			 pad) ||
	    rlfs_put_u64(skb, REFLINKFS_A_STATUS_LOGICAL_BYTES,
			 (used + rc.extra_refs) << RLFS_BLOCK_BITS, pad) ||
	    rlfs_put_u64(skb, REFLINKFS_A_STATUS_PHYSICAL_BYTES,
			 used << RLFS_BLOCK_BITS, pad))
		return -EMSGSIZE;
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		if (rlfs_put_u64(skb, counters[i].attr,
				 atomic64_read(&sbi->s_stats[counters[i].stat]),
				 pad))
			return -EMSGSIZE;
	return 0;
}

/*
 * Answer a do request about one instance with one message that @fill
 * builds, the instance named by @dev_attr or @fd_attr.
 */
static int rlfs_nl_reply(struct genl_info *info, int dev_attr, int fd_attr,
			 int (*fill)(struct sk_buff *, struct super_block *))
{
	struct super_block *sb;
	struct sk_buff *msg;
	struct file *file;
	void *hdr;
	int err;

	sb = rlfs_get_instance(info, dev_attr, fd_attr, &file);
	if (IS_ERR(sb))
		return PTR_ERR(sb);
	err = -ENOMEM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	hdr = genlmsg_put_reply(msg, info, &rlfs_genl_family, 0,
				info->genlhdr->cmd);
	err = hdr ? fill(msg, sb) : -EMSGSIZE;
	if (err) {
		nlmsg_free(msg);
		goto out;
	}
	genlmsg_end(msg, hdr);
	rlfs_put_instance(file);
	return genlmsg_reply(msg, info);
out:
	rlfs_put_instance(file);
	return err;
}

static int rlfs_nl_status_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	return rlfs_nl_reply(info, REFLINKFS_A_STATUS_DEV,
			     REFLINKFS_A_STATUS_FD, rlfs_fill_status);
}

/* One message per instance; cb->args[0] is the next instance's index. */
static int rlfs_nl_status_get_dumpit(struct sk_buff *skb,
				     struct netlink_callback *cb)
{
	struct rlfs_sb_info *sbi;
	long idx = 0;
	void *hdr;
	int err = 0;

	mutex_lock(&rlfs_instances_lock);
	list_for_each_entry(sbi, &rlfs_instances, s_instance) {
		if (idx++ < cb->args[0])
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &rlfs_genl_family,
				  NLM_F_MULTI, REFLINKFS_CMD_STATUS_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		err = rlfs_fill_status(skb, sbi->s_sb);
		if (err) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = idx;
	}
	mutex_unlock(&rlfs_instances_lock);
	/* A full skb ends this part of the dump; the next call goes on. */
	if (err == -EMSGSIZE && skb->len)
		return skb->len;
	return err ? err : skb->len;
}

/* ---- faults ----------------------------------------------------------- */

static int rlfs_nl_fault_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	struct super_block *sb;
	struct file *file;
	u32 err;

	/* GENL_ADMIN_PERM is CAP_NET_ADMIN; faults are CAP_SYS_ADMIN's. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	/* refcount-max alone only sets the limit */
	if (a[REFLINKFS_A_FAULT_REFCOUNT_MAX] && !a[REFLINKFS_A_FAULT_SITE] &&
	    !a[REFLINKFS_A_FAULT_NTH] && !a[REFLINKFS_A_FAULT_EVERY] &&
	    !a[REFLINKFS_A_FAULT_ERRNO]) {
		sb = rlfs_get_instance(info, REFLINKFS_A_FAULT_DEV,
				       REFLINKFS_A_FAULT_FD, &file);
		if (IS_ERR(sb))
			return PTR_ERR(sb);
		rlfs_fault_refcount_max(sb,
			nla_get_u32(a[REFLINKFS_A_FAULT_REFCOUNT_MAX]));
		rlfs_put_instance(file);
		return 0;
	}
	if (GENL_REQ_ATTR_CHECK(info, REFLINKFS_A_FAULT_SITE) ||
	    GENL_REQ_ATTR_CHECK(info, REFLINKFS_A_FAULT_NTH) ||
	    GENL_REQ_ATTR_CHECK(info, REFLINKFS_A_FAULT_ERRNO))
		return -EINVAL;
	err = nla_get_u32(a[REFLINKFS_A_FAULT_ERRNO]);
	if (err != ENOSPC && err != EIO && err != ENOMEM) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[REFLINKFS_A_FAULT_ERRNO],
				    "errno must be ENOSPC, EIO or ENOMEM");
		return -EINVAL;
	}
	sb = rlfs_get_instance(info, REFLINKFS_A_FAULT_DEV,
			       REFLINKFS_A_FAULT_FD, &file);
	if (IS_ERR(sb))
		return PTR_ERR(sb);
	rlfs_fault_arm(sb, nla_get_u32(a[REFLINKFS_A_FAULT_SITE]),
		       nla_get_u64(a[REFLINKFS_A_FAULT_NTH]),
		       a[REFLINKFS_A_FAULT_EVERY] ?
		       nla_get_u64(a[REFLINKFS_A_FAULT_EVERY]) : 0, err);
	if (a[REFLINKFS_A_FAULT_REFCOUNT_MAX])
		rlfs_fault_refcount_max(sb,
			nla_get_u32(a[REFLINKFS_A_FAULT_REFCOUNT_MAX]));
	rlfs_put_instance(file);
	return 0;
}

static int rlfs_nl_fault_clear_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	struct nlattr *site = info->attrs[REFLINKFS_A_FAULT_SITE];
	struct super_block *sb;
	struct file *file;
	int i;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	sb = rlfs_get_instance(info, REFLINKFS_A_FAULT_DEV,
			       REFLINKFS_A_FAULT_FD, &file);
	if (IS_ERR(sb))
		return PTR_ERR(sb);
	for (i = REFLINKFS_FAULT_SITE_ALLOC; i <= REFLINKFS_FAULT_SITE_TRANS; i++)
		if (!site || nla_get_u32(site) == i)
			rlfs_fault_arm(sb, i, 0, 0, 0);
	if (!site)
		rlfs_fault_refcount_max(sb, U32_MAX);
	rlfs_put_instance(file);
	return 0;
}

static int rlfs_fill_faults(struct sk_buff *msg, struct super_block *sb)
{
	const int pad = REFLINKFS_A_FAULT_ENTRY_PAD;
	struct rlfs_fault_state st;
	struct nlattr *nest;
	int i;

	if (nla_put_u32(msg, REFLINKFS_A_FAULT_DEV, new_encode_dev(sb->s_dev)))
		return -EMSGSIZE;
	for (i = REFLINKFS_FAULT_SITE_ALLOC; i <= REFLINKFS_FAULT_SITE_TRANS; i++) {
		if (!rlfs_fault_read(sb, i, &st))
			continue;
		nest = nla_nest_start(msg, REFLINKFS_A_FAULT_ENTRY);
		if (!nest ||
		    nla_put_u32(msg, REFLINKFS_A_FAULT_ENTRY_SITE, i) ||
		    rlfs_put_u64(msg, REFLINKFS_A_FAULT_ENTRY_NTH, st.nth, pad) ||
		    rlfs_put_u64(msg, REFLINKFS_A_FAULT_ENTRY_EVERY, st.every,
				 pad) ||
		    nla_put_u32(msg, REFLINKFS_A_FAULT_ENTRY_ERRNO, st.err) ||
		    rlfs_put_u64(msg, REFLINKFS_A_FAULT_ENTRY_CALLS, st.calls,
				 pad) ||
		    rlfs_put_u64(msg, REFLINKFS_A_FAULT_ENTRY_FIRED, st.fired,
				 pad))
			return -EMSGSIZE;
		nla_nest_end(msg, nest);
	}
	if (nla_put_u32(msg, REFLINKFS_A_FAULT_REFCOUNT_MAX,
			READ_ONCE(RLFS_SB(sb)->s_refcount_max)))
		return -EMSGSIZE;
	return 0;
}

static int rlfs_nl_fault_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	return rlfs_nl_reply(info, REFLINKFS_A_FAULT_DEV, REFLINKFS_A_FAULT_FD,
			     rlfs_fill_faults);
}

/* ---- the family ------------------------------------------------------- */

static const struct nla_policy rlfs_status_get_policy[REFLINKFS_A_STATUS_FD + 1] = {
	[REFLINKFS_A_STATUS_DEV]	= { .type = NLA_U32 },
	[REFLINKFS_A_STATUS_FD]		= { .type = NLA_S32 },
};

static const struct nla_policy rlfs_fault_set_policy[REFLINKFS_A_FAULT_REFCOUNT_MAX + 1] = {
	[REFLINKFS_A_FAULT_DEV]		= { .type = NLA_U32 },
	[REFLINKFS_A_FAULT_FD]		= { .type = NLA_S32 },
	[REFLINKFS_A_FAULT_SITE]	= NLA_POLICY_RANGE(NLA_U32,
						REFLINKFS_FAULT_SITE_ALLOC,
						REFLINKFS_FAULT_SITE_TRANS),
	[REFLINKFS_A_FAULT_NTH]		= NLA_POLICY_MIN(NLA_U64, 1),
	[REFLINKFS_A_FAULT_EVERY]	= { .type = NLA_U64 },
	[REFLINKFS_A_FAULT_ERRNO]	= NLA_POLICY_RANGE(NLA_U32, 1, 4095),
	[REFLINKFS_A_FAULT_REFCOUNT_MAX] = NLA_POLICY_MIN(NLA_U32, 1),
};

static const struct nla_policy rlfs_fault_get_policy[REFLINKFS_A_FAULT_FD + 1] = {
	[REFLINKFS_A_FAULT_DEV]		= { .type = NLA_U32 },
	[REFLINKFS_A_FAULT_FD]		= { .type = NLA_S32 },
};

static const struct nla_policy rlfs_fault_clear_policy[REFLINKFS_A_FAULT_SITE + 1] = {
	[REFLINKFS_A_FAULT_DEV]		= { .type = NLA_U32 },
	[REFLINKFS_A_FAULT_FD]		= { .type = NLA_S32 },
	[REFLINKFS_A_FAULT_SITE]	= NLA_POLICY_RANGE(NLA_U32,
						REFLINKFS_FAULT_SITE_ALLOC,
						REFLINKFS_FAULT_SITE_TRANS),
};

static const struct genl_ops rlfs_genl_ops[] = {
	{
		.cmd		= REFLINKFS_CMD_STATUS_GET,
		.doit		= rlfs_nl_status_get_doit,
		.dumpit		= rlfs_nl_status_get_dumpit,
		.policy		= rlfs_status_get_policy,
		.maxattr	= ARRAY_SIZE(rlfs_status_get_policy) - 1,
	},
	{
		.cmd		= REFLINKFS_CMD_FAULT_SET,
		.doit		= rlfs_nl_fault_set_doit,
		.policy		= rlfs_fault_set_policy,
		.maxattr	= ARRAY_SIZE(rlfs_fault_set_policy) - 1,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= REFLINKFS_CMD_FAULT_GET,
		.doit		= rlfs_nl_fault_get_doit,
		.policy		= rlfs_fault_get_policy,
		.maxattr	= ARRAY_SIZE(rlfs_fault_get_policy) - 1,
	},
	{
		.cmd		= REFLINKFS_CMD_FAULT_CLEAR,
		.doit		= rlfs_nl_fault_clear_doit,
		.policy		= rlfs_fault_clear_policy,
		.maxattr	= ARRAY_SIZE(rlfs_fault_clear_policy) - 1,
		.flags		= GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group rlfs_genl_mcgrps[] = {
	[RLFS_MCGRP_EVENTS] = { .name = REFLINKFS_MCGRP_EVENTS },
};

static struct genl_family rlfs_genl_family __ro_after_init = {
	.name		= REFLINKFS_FAMILY_NAME,
	.version	= REFLINKFS_FAMILY_VERSION,
	.netnsok	= false,
	.module		= THIS_MODULE,
	.ops		= rlfs_genl_ops,
	.n_ops		= ARRAY_SIZE(rlfs_genl_ops),
	.mcgrps		= rlfs_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(rlfs_genl_mcgrps),
	.resv_start_op	= REFLINKFS_CMD_EVENT,
};

int __init rlfs_netlink_init(void)
{
	int err = genl_register_family(&rlfs_genl_family);

	if (!err)
		rlfs_events_start(&rlfs_genl_family);
	return err;
}

void rlfs_netlink_exit(void)
{
	rlfs_events_stop();
	genl_unregister_family(&rlfs_genl_family);
}
