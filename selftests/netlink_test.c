// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_test - the generic netlink family "reflinkfs" driven through
 * libnl-genl directly: status, the instance naming rules, malformed
 * requests, privileges, events, and fault injection at every site during
 * every kind of operation that allocates or journals.
 *
 *  status_fields        STATUS_GET by fd (of the root, a file, a
 *                       directory) and by dev: every attribute, equal to
 *                       stat/statfs and the raw superblock (UUID, label);
 *                       the dump lists the instance once; the state
 *                       follows a read-only remount.
 *  status_sharing       after a reflink, a clone, a CoW write, an unshare
 *                       and a dedupe the counters and the shared/logical
 *                       numbers are exact.
 *  instance_naming      neither dev nor fd, both, an unknown dev, an fd of
 *                       another filesystem, a closed fd, an O_PATH fd: the
 *                       errno and an extended ACK message, for each of
 *                       STATUS_GET, FAULT_GET, FAULT_SET and FAULT_CLEAR.
 *  malformed            wrong attribute lengths and types, unknown
 *                       attributes and commands, out-of-range values,
 *                       missing attributes, oversized and truncated
 *                       attributes, a truncated genetlink header, dumps
 *                       of do-only commands: each an error with the
 *                       expected errno and an extended ACK where the
 *                       kernel has something to say; then thousands of
 *                       random messages; the family still answers.
 *  faults_roundtrip     FAULT_SET / FAULT_GET / FAULT_CLEAR: entries in
 *                       site order, re-arming replaces, the calls and
 *                       fired counts follow nth and every, clearing one
 *                       and all, and unmount clears.
 *  unprivileged         uid 65534: status and fault-get work, fault-set
 *                       and fault-clear get EPERM, events arrive; uid 0
 *                       without CAP_SYS_ADMIN (CAP_NET_ADMIN kept) gets
 *                       EPERM for fault-set too.
 *  events               reflink, snapshot, FICLONE, FICLONERANGE, dedupe,
 *                       CoW (buffered, O_DIRECT, mmap), unshare, unmount
 *                       and mount arrive in order with the right inodes,
 *                       offsets, lengths and block counts.
 *  fault_reflink, fault_write, fault_direct, fault_mmap, fault_unshare,
 *  fault_dedupe, fault_punch, fault_truncate
 *                       for each site (alloc, meta-read, meta-write,
 *                       trans) and N = 1, 2, 3 ... until the operation
 *                       completes without the fault firing: on fresh
 *                       shared files the Nth call through the site fails
 *                       (EIO, ENOMEM, or ENOSPC for every call from the
 *                       Nth on; a store through mmap gets SIGBUS), the
 *                       operation returns that errno, the source keeps
 *                       its data and the destination its old or new data
 *                       block by block, the filesystem stays rw and out of
 *                       the error state, no block leaks (free count back
 *                       after the files are gone), and the retry without
 *                       the fault succeeds; unmount and fsck -n clean
 *                       after every site.  meta-write aborts the journal
 *                       (reflinkfs-abi.rst): there the operation may
 *                       return EROFS, and unmount, mount, unmount and a
 *                       clean fsck -n come before the retry.  The first
 *                       failure of a site is reported, then the next site
 *                       runs (on a fresh filesystem if fsck was not
 *                       clean).
 *
 * The family is resolved by name; a module without it skips every test.
 * Environment: see rlfs_util.h; RLFS_NL_FSCK_EVERY=1 also unmounts and
 * runs fsck after every injected failure (slow).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/netlink.h>

/*
 * rlfs_tool()'s snprintf of RLFS_TOP/userspace/NAME into PATH_MAX: gcc
 * sees it inlined here and warns that a PATH_MAX top could truncate it.
 */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "rlfs_util.h"
#include "uapi/linux/reflinkfs.h"

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE	0x40
#endif
#ifndef SOL_NETLINK
#define SOL_NETLINK		270
#endif

#define BS		4096ULL
#define NL_BLOCKS	16384ULL	/* 64 MiB test filesystems */
#define NL_TIMEOUT_S	5		/* for any answer of the kernel */
#define NL_MAX_NTH	400		/* a loop over N that never ends fails */

/* ---- the family from libnl ------------------------------------------------ */

struct nlt {
	struct nl_sock	*sk;
	int		family;
	int		group;		/* events, once subscribed */
	/* the last request */
	bool		answered;	/* an ACK, an error or DONE came */
	int		err;		/* positive errno, 0 */
	char		msg[256];	/* NLMSGERR_ATTR_MSG, "" */
	uint32_t	miss_type;	/* NLMSGERR_ATTR_MISS_TYPE, 0 */
	bool		have_offs;	/* NLMSGERR_ATTR_OFFS */
	int		replies;	/* data messages */
};

static void nlt_ext_ack(struct nl_sock *sk)
{
	struct timeval tv = { .tv_sec = NL_TIMEOUT_S };
	int one = 1, fd = nl_socket_get_fd(sk);

	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* 0, -ENOENT when the family is missing, or another -errno. */
static int nlt_open(struct nlt *n)
{
	int ret;

	memset(n, 0, sizeof(*n));
	n->group = -1;
	n->sk = nl_socket_alloc();
	if (!n->sk)
		return -ENOMEM;
	ret = genl_connect(n->sk);
	if (ret < 0) {
		nl_socket_free(n->sk);
		n->sk = NULL;
		return -EIO;
	}
	nlt_ext_ack(n->sk);
	ret = genl_ctrl_resolve(n->sk, REFLINKFS_FAMILY_NAME);
	if (ret < 0) {
		nl_socket_free(n->sk);
		n->sk = NULL;
		return ret == -NLE_OBJ_NOTFOUND ? -ENOENT : -EIO;
	}
	n->family = ret;
	return 0;
}

static void nlt_close(struct nlt *n)
{
	if (n->sk)
		nl_socket_free(n->sk);
	n->sk = NULL;
}

static struct nl_msg *nlt_msg(struct nlt *n, uint8_t cmd, int flags)
{
	struct nl_msg *m = nlmsg_alloc_size(128 * 1024);

	if (m)
		genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, n->family, 0, flags,
			    cmd, REFLINKFS_FAMILY_VERSION);
	return m;
}

struct nlt_req {
	struct nlt	*n;
	int		(*fn)(struct nl_msg *m, void *arg);
	void		*arg;
};

static void nlt_parse_ext_ack(struct nlt *n, struct nlmsghdr *h, size_t off)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t len;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || off >= h->nlmsg_len)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)h + off),
		      h->nlmsg_len - off, NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG]) {
		len = strnlen(nla_data(tb[NLMSGERR_ATTR_MSG]),
			      nla_len(tb[NLMSGERR_ATTR_MSG]));
		if (len >= sizeof(n->msg))
			len = sizeof(n->msg) - 1;
		memcpy(n->msg, nla_data(tb[NLMSGERR_ATTR_MSG]), len);
		n->msg[len] = '\0';
	}
	if (tb[NLMSGERR_ATTR_MISS_TYPE])
		n->miss_type = nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
	if (tb[NLMSGERR_ATTR_OFFS])
		n->have_offs = true;
}

static int nlt_valid_cb(struct nl_msg *m, void *arg)
{
	struct nlt_req *r = arg;

	r->n->replies++;
	return r->fn ? r->fn(m, r->arg) : NL_OK;
}

static int nlt_ack_cb(struct nl_msg *m, void *arg)
{
	struct nlt_req *r = arg;

	(void)m;
	r->n->answered = true;
	return NL_STOP;
}

static int nlt_finish_cb(struct nl_msg *m, void *arg)
{
	struct nlt_req *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(m);
	int e;

	r->n->answered = true;
	if (nlmsg_datalen(h) >= (int)sizeof(int)) {
		memcpy(&e, nlmsg_data(h), sizeof(e));
		if (e < 0) {
			r->n->err = -e;
			nlt_parse_ext_ack(r->n, h, NLMSG_HDRLEN + 4);
		}
	}
	return NL_STOP;
}

static int nlt_error_cb(struct sockaddr_nl *nla, struct nlmsgerr *e,
			void *arg)
{
	struct nlt_req *r = arg;
	struct nlmsghdr *h = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	size_t off = NLMSG_HDRLEN + sizeof(*e);

	(void)nla;
	r->n->answered = true;
	r->n->err = -e->error;
	if (!(h->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	nlt_parse_ext_ack(r->n, h, off);
	return NL_STOP;
}

/*
 * Send @m (freed) and read up to its ACK/error/DONE; @fn sees each data
 * message.  Returns the positive errno of the answer (0: ACK or DONE),
 * ETIMEDOUT when none came within NL_TIMEOUT_S.
 */
static int nlt_xfer(struct nlt *n, struct nl_msg *m,
		    int (*fn)(struct nl_msg *, void *), void *arg)
{
	struct nlt_req r = { .n = n, .fn = fn, .arg = arg };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret;

	n->answered = false;
	n->err = 0;
	n->msg[0] = '\0';
	n->miss_type = 0;
	n->have_offs = false;
	n->replies = 0;
	if (!cb || !m) {
		nlmsg_free(m);
		if (cb)
			nl_cb_put(cb);
		return n->err = ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, nlt_valid_cb, &r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, nlt_ack_cb, &r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, nlt_finish_cb, &r);
	nl_cb_err(cb, NL_CB_CUSTOM, nlt_error_cb, &r);
	ret = nl_send_auto(n->sk, m);
	nlmsg_free(m);
	if (ret < 0) {
		nl_cb_put(cb);
		return n->err = EIO;
	}
	while (!n->answered) {
		ret = nl_recvmsgs(n->sk, cb);
		if (ret < 0 && !n->answered) {
			n->err = ret == -NLE_AGAIN ? ETIMEDOUT : EIO;
			break;
		}
	}
	nl_cb_put(cb);
	return n->err;
}

/* ---- replies ---------------------------------------------------------------- */

struct status {
	bool		have[REFLINKFS_A_STATUS_MAX + 1];
	uint64_t	v[REFLINKFS_A_STATUS_MAX + 1];
	uint8_t		uuid[16];
	char		label[64];
	bool		bad;		/* an attribute of the wrong size */
};

struct status_set {
	struct status	s[8];
	int		nr;
};

static int status_cb(struct nl_msg *m, void *arg)
{
	struct status_set *set = arg;
	struct nlattr *a;
	struct status *s;
	int rem, t, len;

	if (set->nr == (int)ARRAY_SIZE(set->s))
		return NL_OK;
	s = &set->s[set->nr++];
	memset(s, 0, sizeof(*s));
	nlmsg_for_each_attr(a, nlmsg_hdr(m), GENL_HDRLEN, rem) {
		t = nla_type(a);
		len = nla_len(a);
		if (t < 1 || t > REFLINKFS_A_STATUS_MAX || t == REFLINKFS_A_STATUS_PAD)
			continue;
		s->have[t] = true;
		switch (t) {
		case REFLINKFS_A_STATUS_DEV:
		case REFLINKFS_A_STATUS_STATE:
		case REFLINKFS_A_STATUS_BLOCK_SIZE:
			if (len != 4)
				s->bad = true;
			else
				s->v[t] = nla_get_u32(a);
			break;
		case REFLINKFS_A_STATUS_UUID:
			if (len != 16)
				s->bad = true;
			else
				memcpy(s->uuid, nla_data(a), 16);
			break;
		case REFLINKFS_A_STATUS_LABEL:
			if (len < 1 || len > 32 ||
			    ((char *)nla_data(a))[len - 1] != '\0')
				s->bad = true;
			else
				memcpy(s->label, nla_data(a), len);
			break;
		case REFLINKFS_A_STATUS_FD:
			s->bad = true;		/* request only */
			break;
		default:
			if (len != 8)
				s->bad = true;
			else
				s->v[t] = nla_get_u64(a);
			break;
		}
	}
	return NL_OK;
}

struct fault_entry {
	uint32_t	site, err;
	uint64_t	nth, every, calls, fired;
};

struct fault_set {
	uint32_t		dev;
	struct fault_entry	e[8];
	int			nr;
};

static int fault_cb(struct nl_msg *m, void *arg)
{
	struct nlattr *tb[REFLINKFS_A_FAULT_ENTRY_MAX + 1];
	struct fault_set *fs = arg;
	struct fault_entry *e;
	struct nlattr *a;
	int rem;

	nlmsg_for_each_attr(a, nlmsg_hdr(m), GENL_HDRLEN, rem) {
		if (nla_type(a) == REFLINKFS_A_FAULT_DEV)
			fs->dev = nla_get_u32(a);
		if (nla_type(a) != REFLINKFS_A_FAULT_ENTRY ||
		    fs->nr == (int)ARRAY_SIZE(fs->e))
			continue;
		if (nla_parse_nested(tb, REFLINKFS_A_FAULT_ENTRY_MAX, a, NULL))
			continue;
		e = &fs->e[fs->nr++];
		memset(e, 0, sizeof(*e));
		if (tb[REFLINKFS_A_FAULT_ENTRY_SITE])
			e->site = nla_get_u32(tb[REFLINKFS_A_FAULT_ENTRY_SITE]);
		if (tb[REFLINKFS_A_FAULT_ENTRY_ERRNO])
			e->err = nla_get_u32(tb[REFLINKFS_A_FAULT_ENTRY_ERRNO]);
		if (tb[REFLINKFS_A_FAULT_ENTRY_NTH])
			e->nth = nla_get_u64(tb[REFLINKFS_A_FAULT_ENTRY_NTH]);
		if (tb[REFLINKFS_A_FAULT_ENTRY_EVERY])
			e->every = nla_get_u64(tb[REFLINKFS_A_FAULT_ENTRY_EVERY]);
		if (tb[REFLINKFS_A_FAULT_ENTRY_CALLS])
			e->calls = nla_get_u64(tb[REFLINKFS_A_FAULT_ENTRY_CALLS]);
		if (tb[REFLINKFS_A_FAULT_ENTRY_FIRED])
			e->fired = nla_get_u64(tb[REFLINKFS_A_FAULT_ENTRY_FIRED]);
	}
	return NL_OK;
}

/* ---- requests ----------------------------------------------------------------- */

static uint32_t encode_dev(dev_t d)
{
	uint32_t ma = major(d), mi = minor(d);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffU) << 12);
}

/* STATUS_GET naming the instance by dev (fd < 0) or fd. */
static int nl_status(struct nlt *n, uint32_t dev, int fd, struct status *out)
{
	struct status_set set = { .nr = 0 };
	struct nl_msg *m = nlt_msg(n, REFLINKFS_CMD_STATUS_GET, 0);
	int ret;

	if (fd >= 0)
		nla_put_s32(m, REFLINKFS_A_STATUS_FD, fd);
	else
		nla_put_u32(m, REFLINKFS_A_STATUS_DEV, dev);
	ret = nlt_xfer(n, m, status_cb, &set);
	if (!ret && set.nr != 1)
		return EPROTO;
	if (!ret)
		*out = set.s[0];
	return ret;
}

static int nl_status_dump(struct nlt *n, struct status_set *set)
{
	set->nr = 0;
	return nlt_xfer(n, nlt_msg(n, REFLINKFS_CMD_STATUS_GET, NLM_F_DUMP),
			status_cb, set);
}

static int nl_fault_set(struct nlt *n, uint32_t dev, uint32_t site,
			uint64_t nth, uint64_t every, uint32_t err)
{
	struct nl_msg *m = nlt_msg(n, REFLINKFS_CMD_FAULT_SET, 0);

	nla_put_u32(m, REFLINKFS_A_FAULT_DEV, dev);
	nla_put_u32(m, REFLINKFS_A_FAULT_SITE, site);
	nla_put_u64(m, REFLINKFS_A_FAULT_NTH, nth);
	nla_put_u64(m, REFLINKFS_A_FAULT_EVERY, every);
	nla_put_u32(m, REFLINKFS_A_FAULT_ERRNO, err);
	return nlt_xfer(n, m, NULL, NULL);
}

static int nl_fault_get(struct nlt *n, uint32_t dev, struct fault_set *fs)
{
	struct nl_msg *m = nlt_msg(n, REFLINKFS_CMD_FAULT_GET, 0);

	memset(fs, 0, sizeof(*fs));
	nla_put_u32(m, REFLINKFS_A_FAULT_DEV, dev);
	return nlt_xfer(n, m, fault_cb, fs);
}

/* site 0: all */
static int nl_fault_clear(struct nlt *n, uint32_t dev, uint32_t site)
{
	struct nl_msg *m = nlt_msg(n, REFLINKFS_CMD_FAULT_CLEAR, 0);

	nla_put_u32(m, REFLINKFS_A_FAULT_DEV, dev);
	if (site)
		nla_put_u32(m, REFLINKFS_A_FAULT_SITE, site);
	return nlt_xfer(n, m, NULL, NULL);
}

static const struct fault_entry *fault_find(const struct fault_set *fs,
					    uint32_t site)
{
	int i;

	for (i = 0; i < fs->nr; i++)
		if (fs->e[i].site == site)
			return &fs->e[i];
	return NULL;
}

/* ---- events ----------------------------------------------------------------- */

struct event {
	uint32_t	dev, type;
	uint64_t	ino, ino_src, offset, length, blocks, block;
	uint32_t	have;		/* 1 << attribute */
};

#define EV_MAX	256

struct evq {
	struct event	ev[EV_MAX];
	int		nr;
	int		bad;		/* malformed messages */
};

static int event_cb(struct nl_msg *m, void *arg)
{
	struct nlattr *tb[REFLINKFS_A_EVENT_MAX + 1];
	struct nlmsghdr *h = nlmsg_hdr(m);
	struct evq *q = arg;
	struct event *e;
	int i;

	if (genlmsg_hdr(h)->cmd != REFLINKFS_CMD_EVENT)
		return NL_OK;
	if (genlmsg_parse(h, 0, tb, REFLINKFS_A_EVENT_MAX, NULL) < 0 ||
	    !tb[REFLINKFS_A_EVENT_DEV] || !tb[REFLINKFS_A_EVENT_TYPE]) {
		q->bad++;
		return NL_OK;
	}
	if (q->nr == EV_MAX)
		return NL_OK;
	e = &q->ev[q->nr++];
	memset(e, 0, sizeof(*e));
	e->dev = nla_get_u32(tb[REFLINKFS_A_EVENT_DEV]);
	e->type = nla_get_u32(tb[REFLINKFS_A_EVENT_TYPE]);
	for (i = REFLINKFS_A_EVENT_INO; i <= REFLINKFS_A_EVENT_BLOCK; i++) {
		uint64_t v;

		if (!tb[i])
			continue;
		if (nla_len(tb[i]) != 8) {
			q->bad++;
			continue;
		}
		v = nla_get_u64(tb[i]);
		e->have |= 1U << i;
		switch (i) {
		case REFLINKFS_A_EVENT_INO: e->ino = v; break;
		case REFLINKFS_A_EVENT_INO_SRC: e->ino_src = v; break;
		case REFLINKFS_A_EVENT_OFFSET: e->offset = v; break;
		case REFLINKFS_A_EVENT_LENGTH: e->length = v; break;
		case REFLINKFS_A_EVENT_BLOCKS: e->blocks = v; break;
		case REFLINKFS_A_EVENT_BLOCK: e->block = v; break;
		}
	}
	return NL_OK;
}

/* Join the events group on a socket of its own; 0 or -errno. */
static int nlt_subscribe(struct nlt *n, struct evq *q)
{
	int ret = nlt_open(n);

	if (ret)
		return ret;
	n->group = genl_ctrl_resolve_grp(n->sk, REFLINKFS_FAMILY_NAME,
					 REFLINKFS_MCGRP_EVENTS);
	if (n->group < 0)
		return -ENOENT;
	nl_socket_disable_seq_check(n->sk);
	nl_socket_modify_cb(n->sk, NL_CB_VALID, NL_CB_CUSTOM, event_cb, q);
	if (nl_socket_add_membership(n->sk, n->group) < 0)
		return -EIO;
	nl_socket_set_nonblocking(n->sk);
	nl_socket_set_buffer_size(n->sk, 1 << 20, 0);
	q->nr = 0;
	q->bad = 0;
	return 0;
}

/* Read events until q holds @want of them or @ms pass; returns q->nr. */
static int nlt_events(struct nlt *n, struct evq *q, int want, int ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(n->sk), .events = POLLIN };
	struct timespec t0, t;
	int left = ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		while (nl_recvmsgs_default(n->sk) >= 0)
			;
		if (q->nr >= want || left <= 0)
			return q->nr;
		poll(&p, 1, left);
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 +
				  (t.tv_nsec - t0.tv_nsec) / 1000000);
	}
}

static const char *ev_name(uint32_t t)
{
	static const char *const names[] = {
		"?", "mount", "unmount", "reflink", "snapshot", "clone",
		"dedupe", "unshare", "cow", "enospc", "corruption",
	};

	return t < ARRAY_SIZE(names) ? names[t] : "?";
}

static void ev_dump(const struct evq *q)
{
	int i;

	for (i = 0; i < q->nr; i++)
		fprintf(stderr, "#   event %d: %s dev %u ino %" PRIu64 " src %"
			PRIu64 " off %" PRIu64 " len %" PRIu64 " blocks %"
			PRIu64 " block %" PRIu64 "\n", i, ev_name(q->ev[i].type),
			q->ev[i].dev, q->ev[i].ino, q->ev[i].ino_src,
			q->ev[i].offset, q->ev[i].length, q->ev[i].blocks,
			q->ev[i].block);
}

/* ---- files --------------------------------------------------------------------- */

static uint64_t ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

static int do_reflink(const char *src, const char *dst, uint32_t flags)
{
	struct reflinkfs_reflink_args a;
	int fd = open(src, O_RDONLY), ret = 0;

	if (fd < 0)
		return errno;
	memset(&a, 0, sizeof(a));
	a.dest_dirfd = AT_FDCWD;
	a.dest_name = (uintptr_t)dst;
	a.flags = flags;
	if (ioctl(fd, REFLINKFS_IOC_REFLINK, &a))
		ret = errno;
	close(fd);
	return ret;
}

/* FICLONE (len 0) or FICLONERANGE of src into dst (created if missing). */
static int do_clone(const char *src, const char *dst, uint64_t soff,
		    uint64_t len, uint64_t doff)
{
	int s = open(src, O_RDONLY), d, ret = 0;

	if (s < 0)
		return errno;
	d = open(dst, O_RDWR | O_CREAT, 0644);
	if (d < 0) {
		ret = errno;
		close(s);
		return ret;
	}
	if (!len) {
		if (ioctl(d, FICLONE, s))
			ret = errno;
	} else {
		struct file_clone_range r = {
			.src_fd = s, .src_offset = soff, .src_length = len,
			.dest_offset = doff,
		};

		if (ioctl(d, FICLONERANGE, &r))
			ret = errno;
	}
	if (!ret && fsync(d))
		ret = errno;
	close(s);
	close(d);
	return ret;
}

/*
 * FIDEDUPERANGE of [off, off + len) of src onto dst: 0, the ioctl's errno,
 * or the range's negative status as a positive errno; EBADE if it saw
 * different data.
 */
static int do_dedupe(const char *src, const char *dst, uint64_t off,
		     uint64_t len, uint64_t *deduped)
{
	struct {
		struct file_dedupe_range r;
		struct file_dedupe_range_info i;
	} d;
	int s = open(src, O_RDONLY), t, ret = 0;

	if (s < 0)
		return errno;
	t = open(dst, O_RDWR);
	if (t < 0) {
		ret = errno;
		close(s);
		return ret;
	}
	memset(&d, 0, sizeof(d));
	d.r.src_offset = off;
	d.r.src_length = len;
	d.r.dest_count = 1;
	d.i.dest_fd = t;
	d.i.dest_offset = off;
	if (ioctl(s, FIDEDUPERANGE, &d))
		ret = errno;
	else if (d.i.status == FILE_DEDUPE_RANGE_DIFFERS)
		ret = EBADE;
	else if (d.i.status < 0)
		ret = -d.i.status;
	if (deduped)
		*deduped = d.i.bytes_deduped;
	if (!ret && fsync(t))
		ret = errno;
	close(s);
	close(t);
	return ret;
}

static int do_falloc(const char *path, int mode, uint64_t off, uint64_t len)
{
	int fd = open(path, O_RDWR), ret = 0;

	if (fd < 0)
		return errno;
	if (fallocate(fd, mode, off, len) || fsync(fd))
		ret = errno;
	close(fd);
	return ret;
}

/* pwrite of pattern @seed, one block per call, then fsync. */
static int do_write(const char *path, uint64_t off, uint64_t blocks,
		    uint32_t seed, bool direct)
{
	void *buf;
	uint64_t i;
	int fd, ret = 0;

	if (posix_memalign(&buf, BS, BS))
		return ENOMEM;
	fd = open(path, O_RDWR | (direct ? O_DIRECT : 0));
	if (fd < 0) {
		ret = errno;
		free(buf);
		return ret;
	}
	for (i = 0; i < blocks && !ret; i++) {
		ssize_t w;

		rlfs_fill(buf, BS, off + i * BS, seed);
		w = pwrite(fd, buf, BS, off + i * BS);
		if (w < 0)
			ret = errno;
		else if (w != (ssize_t)BS)
			ret = EPROTO;	/* a short one-block write */
	}
	if (!ret && fsync(fd))
		ret = errno;
	close(fd);
	free(buf);
	return ret;
}

static sigjmp_buf mmap_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(mmap_jmp, 1);
}

#define R_SIGBUS	(-1)	/* do_mmap_write: a store got SIGBUS */

/* Stores of pattern @seed through a shared mapping, msync, fsync. */
static int do_mmap_write(const char *path, uint64_t off, uint64_t blocks,
			 uint32_t seed)
{
	struct sigaction sa, old;
	struct stat st;
	volatile int ret = 0;
	uint8_t *p;
	uint64_t i;
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return errno;
	if (fstat(fd, &st)) {
		ret = errno;
		close(fd);
		return ret;
	}
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = errno;
		close(fd);
		return ret;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(mmap_jmp, 1)) {
		ret = R_SIGBUS;
	} else {
		for (i = 0; i < blocks; i++)
			rlfs_fill(p + off + i * BS, BS, off + i * BS, seed);
		if (msync(p, st.st_size, MS_SYNC))
			ret = errno;
	}
	sigaction(SIGBUS, &old, NULL);
	munmap(p, st.st_size);
	if (!ret && fsync(fd))
		ret = errno;
	close(fd);
	return ret;
}

/* 0 when block @b of fd holds pattern @seed (seed < 0: zeros), else 1. */
static int block_is(int fd, uint64_t b, int64_t seed)
{
	uint8_t buf[BS];
	ssize_t r = pread(fd, buf, BS, b * BS);

	if (r != (ssize_t)BS)
		return 1;
	if (seed < 0)
		return rlfs_check_zero(buf, BS) >= 0;
	return rlfs_check(buf, BS, b * BS, (uint32_t)seed) >= 0;
}

/* Sharing of block b (by FIEMAP): 1 shared, 0 not, -1 a hole or error. */
static int block_shared(const char *path, uint64_t b)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent fe[1];
	} f;
	int fd = open(path, O_RDONLY), ret = -1;

	if (fd < 0)
		return -1;
	memset(&f, 0, sizeof(f));
	f.fm.fm_start = b * BS;
	f.fm.fm_length = BS;
	f.fm.fm_flags = FIEMAP_FLAG_SYNC;
	f.fm.fm_extent_count = 1;
	if (!ioctl(fd, FS_IOC_FIEMAP, &f.fm) && f.fm.fm_mapped_extents == 1)
		ret = !!(f.fe[0].fe_flags & FIEMAP_EXTENT_SHARED);
	close(fd);
	return ret;
}

static long long bfree_now(void)
{
	return rlfs_bfree(".");
}

static void sync_here(void)
{
	int fd = open(".", O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
}

/* ---- the fixture ------------------------------------------------------------- */

FIXTURE(nl) {
	struct rlfs_fs	fs;
	struct nlt	n;
	uint32_t	dev;
};

FIXTURE_SETUP(nl)
{
	struct stat st;
	int ret;

	RLFS_REFLINKFS_ONLY_SETUP("the reflinkfs generic netlink family");
	ret = nlt_open(&self->n);

	if (ret == -ENOENT)
		SKIP(fflush(NULL); _exit(255),
		     "the loaded module has no generic netlink family "
		     REFLINKFS_FAMILY_NAME);
	ASSERT_EQ(0, ret) {
		TH_LOG("generic netlink socket: %s", strerror(-ret));
	}
	rlfs_fs_setup(&self->fs, NL_BLOCKS);
	ASSERT_EQ(0, stat(".", &st));
	self->dev = encode_dev(st.st_dev);
}

FIXTURE_TEARDOWN(nl)
{
	if (self->n.sk && self->dev) {
		/* a failed test may leave a fault armed */
		nl_fault_clear(&self->n, self->dev, 0);
	}
	nlt_close(&self->n);
	rlfs_fs_teardown(&self->fs);
}

/* Unmount, fsck -n clean, mount again (in a test body). */
#define REMOUNT_FSCK(self) do {						\
	ASSERT_EQ(0, rlfs_umount(&(self)->fs));				\
	ASSERT_EQ(0, rlfs_fsck((self)->fs.dev)) {			\
		TH_LOG("fsck.reflinkfs -n not clean");			\
	}								\
	ASSERT_EQ(0, rlfs_mount(&(self)->fs));				\
} while (0)

/* ---- status ------------------------------------------------------------------ */

static void check_status_fs(struct __test_metadata *_metadata,
			    FIXTURE_DATA(nl) *self, const struct status *s)
{
	struct statfs sf;
	uint8_t sb[128];
	int i, fd;

	ASSERT_FALSE(s->bad);
	for (i = 1; i <= REFLINKFS_A_STATUS_COMMITS; i++) {
		if (i == REFLINKFS_A_STATUS_FD)
			continue;
		EXPECT_TRUE(s->have[i]) {
			TH_LOG("status attribute %d missing", i);
		}
	}
	EXPECT_EQ(self->dev, s->v[REFLINKFS_A_STATUS_DEV]);
	EXPECT_EQ((uint64_t)4096, s->v[REFLINKFS_A_STATUS_BLOCK_SIZE]);
	EXPECT_EQ(self->fs.blocks, s->v[REFLINKFS_A_STATUS_BLOCKS_TOTAL]);
	ASSERT_EQ(0, statfs(".", &sf));
	EXPECT_EQ(sf.f_bfree, s->v[REFLINKFS_A_STATUS_BLOCKS_FREE]);
	EXPECT_EQ(s->v[REFLINKFS_A_STATUS_BLOCKS_TOTAL] -
		  s->v[REFLINKFS_A_STATUS_BLOCKS_FREE],
		  s->v[REFLINKFS_A_STATUS_BLOCKS_USED]);
	EXPECT_EQ(s->v[REFLINKFS_A_STATUS_BLOCKS_USED] * BS,
		  s->v[REFLINKFS_A_STATUS_PHYSICAL_BYTES]);
	/* UUID and label as the superblock on disk has them */
	fd = open(self->fs.dev, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)sizeof(sb), pread(fd, sb, sizeof(sb), 0));
	close(fd);
	EXPECT_EQ(0, memcmp(s->uuid, sb + 48, 16));
	EXPECT_EQ(0, strncmp(s->label, (char *)sb + 64, 32));
}

TEST_F(nl, status_fields)
{
	struct status a, b, c, d;
	struct status_set set;
	int fd, i, found = 0;

	ASSERT_EQ(0, rlfs_make_file("f", 8 * BS, 1, true));
	ASSERT_EQ(0, mkdir("d", 0755));
	sync_here();

	fd = open(".", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, nl_status(&self->n, 0, fd, &a)) {
		TH_LOG("STATUS_GET by fd of the root: %s (%s)",
		       strerror(self->n.err), self->n.msg);
	}
	close(fd);
	check_status_fs(_metadata, self, &a);
	EXPECT_EQ((uint64_t)REFLINKFS_MOUNT_STATE_RW, a.v[REFLINKFS_A_STATUS_STATE]);
	EXPECT_EQ((uint64_t)0, a.v[REFLINKFS_A_STATUS_SHARED_BLOCKS]);
	EXPECT_EQ((uint64_t)0, a.v[REFLINKFS_A_STATUS_REFCOUNT_RECORDS]);
	EXPECT_EQ(a.v[REFLINKFS_A_STATUS_PHYSICAL_BYTES],
		  a.v[REFLINKFS_A_STATUS_LOGICAL_BYTES]);
	for (i = REFLINKFS_A_STATUS_REFLINKS; i <= REFLINKFS_A_STATUS_CORRUPTIONS; i++)
		EXPECT_EQ((uint64_t)0, a.v[i]) {
			TH_LOG("counter %d is %" PRIu64 " on a fresh mount", i,
			       a.v[i]);
		}

	/* a regular file, a directory, and the dev: the same instance */
	fd = open("f", O_RDONLY);
	ASSERT_EQ(0, nl_status(&self->n, 0, fd, &b));
	close(fd);
	fd = open("d", O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(0, nl_status(&self->n, 0, fd, &c));
	close(fd);
	ASSERT_EQ(0, nl_status(&self->n, self->dev, -1, &d)) {
		TH_LOG("STATUS_GET by dev: %s (%s)", strerror(self->n.err),
		       self->n.msg);
	}
	for (i = REFLINKFS_A_STATUS_DEV; i <= REFLINKFS_A_STATUS_CORRUPTIONS; i++) {
		EXPECT_EQ(a.v[i], b.v[i]);
		EXPECT_EQ(a.v[i], c.v[i]);
		EXPECT_EQ(a.v[i], d.v[i]);
	}

	/* the dump has it once */
	ASSERT_EQ(0, nl_status_dump(&self->n, &set));
	for (i = 0; i < set.nr; i++) {
		EXPECT_FALSE(set.s[i].bad);
		if (set.s[i].v[REFLINKFS_A_STATUS_DEV] != self->dev)
			continue;
		found++;
		check_status_fs(_metadata, self, &set.s[i]);
	}
	EXPECT_EQ(1, found);

	/* read-only remount: state ro, and rw again */
	ASSERT_EQ(0, mount(NULL, self->fs.mnt, NULL, MS_REMOUNT | MS_RDONLY,
			   NULL));
	ASSERT_EQ(0, nl_status(&self->n, self->dev, -1, &a));
	EXPECT_EQ((uint64_t)REFLINKFS_MOUNT_STATE_RO, a.v[REFLINKFS_A_STATUS_STATE]);
	ASSERT_EQ(0, mount(NULL, self->fs.mnt, NULL, MS_REMOUNT, NULL));
	ASSERT_EQ(0, nl_status(&self->n, self->dev, -1, &a));
	EXPECT_EQ((uint64_t)REFLINKFS_MOUNT_STATE_RW, a.v[REFLINKFS_A_STATUS_STATE]);

	/* an unmounted instance is gone from the dump and by dev */
	ASSERT_EQ(0, rlfs_umount(&self->fs));
	EXPECT_EQ(ENODEV, nl_status(&self->n, self->dev, -1, &a));
	ASSERT_EQ(0, nl_status_dump(&self->n, &set));
	for (i = 0; i < set.nr; i++)
		EXPECT_NE(self->dev, set.s[i].v[REFLINKFS_A_STATUS_DEV]);
	ASSERT_EQ(0, rlfs_mount(&self->fs));
}

#define SV(s, a)	((s).v[REFLINKFS_A_STATUS_##a])

/* Status after syncfs, by dev. */
static int status_now(FIXTURE_DATA(nl) *self, struct status *s)
{
	sync_here();
	return nl_status(&self->n, self->dev, -1, s);
}

TEST_F(nl, status_sharing)
{
	struct status s0, s;
	uint64_t deduped;

	ASSERT_EQ(0, rlfs_make_file("a", 16 * BS, 1, true));
	ASSERT_EQ(0, status_now(self, &s0));

	/* reflink a -> b: 16 blocks at refcount 2 */
	ASSERT_EQ(0, do_reflink("a", "b", 0));
	ASSERT_EQ(0, status_now(self, &s));
	EXPECT_EQ((uint64_t)1, SV(s, REFLINKS) - SV(s0, REFLINKS));
	EXPECT_EQ((uint64_t)0, SV(s, SNAPSHOTS) - SV(s0, SNAPSHOTS));
	EXPECT_EQ((uint64_t)16, SV(s, SHARED_BLOCKS));
	EXPECT_LE((uint64_t)1, SV(s, REFCOUNT_RECORDS));
	EXPECT_EQ(SV(s, PHYSICAL_BYTES) + 16 * BS, SV(s, LOGICAL_BYTES));

	/* FICLONE a -> c: refcount 3 */
	ASSERT_EQ(0, do_clone("a", "c", 0, 0, 0));
	ASSERT_EQ(0, status_now(self, &s));
	EXPECT_EQ((uint64_t)1, SV(s, CLONES) - SV(s0, CLONES));
	EXPECT_EQ((uint64_t)16, SV(s, SHARED_BLOCKS));
	EXPECT_EQ(SV(s, PHYSICAL_BYTES) + 32 * BS, SV(s, LOGICAL_BYTES));

	/* CoW of 4 blocks of c: those go back to refcount 2 */
	ASSERT_EQ(0, do_write("c", 4 * BS, 4, 2, false));
	ASSERT_EQ(0, status_now(self, &s));
	EXPECT_EQ((uint64_t)4, SV(s, COW_BLOCKS) - SV(s0, COW_BLOCKS));
	EXPECT_EQ((uint64_t)16, SV(s, SHARED_BLOCKS));
	EXPECT_EQ(SV(s, PHYSICAL_BYTES) + 28 * BS, SV(s, LOGICAL_BYTES));

	/* unshare blocks 8-15 of b: copies 8 (counted as cow blocks too) */
	ASSERT_EQ(0, do_falloc("b", FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE,
			       8 * BS, 8 * BS));
	ASSERT_EQ(0, status_now(self, &s));
	EXPECT_EQ((uint64_t)8, SV(s, UNSHARED_BLOCKS) - SV(s0, UNSHARED_BLOCKS));
	EXPECT_EQ((uint64_t)12, SV(s, COW_BLOCKS) - SV(s0, COW_BLOCKS));
	/* blocks 0-3: a b c; 4-7: a b; 8-15: a c */
	EXPECT_EQ((uint64_t)16, SV(s, SHARED_BLOCKS));
	EXPECT_EQ(SV(s, PHYSICAL_BYTES) + (8 + 4 + 8) * BS, SV(s, LOGICAL_BYTES));

	/* dedupe a separately written copy of a's blocks 0-3 */
	ASSERT_EQ(0, rlfs_make_file("d", 4 * BS, 1, true));
	ASSERT_EQ(0, do_dedupe("a", "d", 0, 4 * BS, &deduped));
	EXPECT_EQ(4 * BS, deduped);
	ASSERT_EQ(0, status_now(self, &s));
	EXPECT_EQ((uint64_t)1, SV(s, DEDUPES) - SV(s0, DEDUPES));
	EXPECT_EQ((uint64_t)16, SV(s, SHARED_BLOCKS));
	EXPECT_EQ(SV(s, PHYSICAL_BYTES) + (12 + 4 + 8) * BS, SV(s, LOGICAL_BYTES));

	/* a dedupe of different data shares nothing and is not counted */
	ASSERT_EQ(0, rlfs_make_file("e", 4 * BS, 7, true));
	EXPECT_EQ(EBADE, do_dedupe("a", "e", 0, 4 * BS, NULL));
	ASSERT_EQ(0, status_now(self, &s));
	EXPECT_EQ((uint64_t)1, SV(s, DEDUPES) - SV(s0, DEDUPES));

	/* unlink everything but a: nothing shared, logical == physical */
	ASSERT_EQ(0, unlink("b"));
	ASSERT_EQ(0, unlink("c"));
	ASSERT_EQ(0, unlink("d"));
	ASSERT_EQ(0, status_now(self, &s));
	EXPECT_EQ((uint64_t)0, SV(s, SHARED_BLOCKS));
	EXPECT_EQ((uint64_t)0, SV(s, REFCOUNT_RECORDS));
	EXPECT_EQ(SV(s, PHYSICAL_BYTES), SV(s, LOGICAL_BYTES));
	EXPECT_EQ(SV(s, BLOCKS_USED) * BS, SV(s, PHYSICAL_BYTES));
	EXPECT_LT(SV(s0, COMMITS), SV(s, COMMITS));
}

/* ---- naming an instance -------------------------------------------------------- */

/* Expect error @want with an extended ACK message. */
#define EXPECT_NLERR(want, got, what) do {				\
	int __g = (got);						\
	EXPECT_EQ((want), __g) {					\
		TH_LOG("%s: got %s, want %s (extack '%s')", (what),	\
		       strerror(__g), strerror(want), self->n.msg);	\
	}								\
	EXPECT_NE(0, self->n.msg[0]) {					\
		TH_LOG("%s: no extended ACK message", (what));		\
	}								\
} while (0)

/* A request of @cmd naming the instance as @how says. */
enum naming { BY_NONE, BY_BOTH, BY_DEV, BY_FD };

static int nl_named(struct nlt *n, uint8_t cmd, enum naming how, uint32_t dev,
		    int fd)
{
	struct nl_msg *m = nlt_msg(n, cmd, 0);
	/* dev and fd are 1 and 2 in every attribute set */
	if (how == BY_DEV || how == BY_BOTH)
		nla_put_u32(m, 1, dev);
	if (how == BY_FD || how == BY_BOTH)
		nla_put_s32(m, 2, fd);
	if (cmd == REFLINKFS_CMD_FAULT_SET) {
		nla_put_u32(m, REFLINKFS_A_FAULT_SITE, REFLINKFS_FAULT_SITE_ALLOC);
		nla_put_u64(m, REFLINKFS_A_FAULT_NTH, 1000000);
		nla_put_u32(m, REFLINKFS_A_FAULT_ERRNO, EIO);
	}
	return nlt_xfer(n, m, NULL, NULL);
}

TEST_F(nl, instance_naming)
{
	static const uint8_t cmds[] = {
		REFLINKFS_CMD_STATUS_GET, REFLINKFS_CMD_FAULT_GET,
		REFLINKFS_CMD_FAULT_SET, REFLINKFS_CMD_FAULT_CLEAR,
	};
	struct stat st;
	struct fault_set fs;
	char what[64];
	int root, proc, opath, closed;
	size_t i;

	root = open(".", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, root);
	proc = open("/proc/self/stat", O_RDONLY);
	ASSERT_LE(0, proc);
	opath = open(".", O_PATH);
	ASSERT_LE(0, opath);
	closed = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, closed);
	close(closed);
	ASSERT_EQ(0, stat("/proc", &st));

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		uint8_t c = cmds[i];

		snprintf(what, sizeof(what), "cmd %u, neither dev nor fd", c);
		EXPECT_NLERR(EINVAL, nl_named(&self->n, c, BY_NONE, 0, 0), what);
		snprintf(what, sizeof(what), "cmd %u, both dev and fd", c);
		EXPECT_NLERR(EINVAL, nl_named(&self->n, c, BY_BOTH, self->dev,
					      root), what);
		snprintf(what, sizeof(what), "cmd %u, unknown dev", c);
		EXPECT_NLERR(ENODEV, nl_named(&self->n, c, BY_DEV, 0xfffff, 0),
			     what);
		snprintf(what, sizeof(what), "cmd %u, dev of /proc", c);
		EXPECT_NLERR(ENODEV, nl_named(&self->n, c, BY_DEV,
					      encode_dev(st.st_dev), 0), what);
		snprintf(what, sizeof(what), "cmd %u, fd on /proc", c);
		EXPECT_NLERR(ENODEV, nl_named(&self->n, c, BY_FD, 0, proc), what);
		snprintf(what, sizeof(what), "cmd %u, closed fd", c);
		EXPECT_NLERR(EBADF, nl_named(&self->n, c, BY_FD, 0, closed), what);
		snprintf(what, sizeof(what), "cmd %u, fd -1", c);
		EXPECT_NLERR(EBADF, nl_named(&self->n, c, BY_FD, 0, -1), what);
		snprintf(what, sizeof(what), "cmd %u, O_PATH fd", c);
		EXPECT_NLERR(EBADF, nl_named(&self->n, c, BY_FD, 0, opath), what);
		/* and right */
		EXPECT_EQ(0, nl_named(&self->n, c, BY_FD, 0, root)) {
			TH_LOG("cmd %u by fd: %s (%s)", c, strerror(self->n.err),
			       self->n.msg);
		}
		EXPECT_EQ(0, nl_named(&self->n, c, BY_DEV, self->dev, 0)) {
			TH_LOG("cmd %u by dev: %s (%s)", c, strerror(self->n.err),
			       self->n.msg);
		}
	}
	/* FAULT_SET went through: alloc is armed far away; clear it */
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	EXPECT_EQ(0, fs.nr);	/* FAULT_CLEAR came last in the loop */
	close(root);
	close(proc);
	close(opath);
}

/* ---- malformed requests ---------------------------------------------------------- */

/* Append raw bytes (no padding) after what the message holds. */
static void put_raw(struct nl_msg *m, const void *p, size_t len)
{
	nlmsg_append(m, (void *)p, len, 0);
}

struct bad_case {
	const char	*what;
	uint8_t		cmd;
	int		flags;
	/* attributes: type, length, value (little endian; fill byte if > 8) */
	struct { uint16_t type; uint16_t len; uint64_t val; } a[4];
	int		na;
	int		want1, want2;	/* acceptable errnos */
	bool		extack;		/* a message or a missing type */
};

#define A(t, l, v)	{ (t), (l), (v) }
#define OURDEV		0x5eedf00dULL	/* replaced by our device number */
#define SDEV		A(REFLINKFS_A_STATUS_DEV, 4, OURDEV)
#define FDEV		A(REFLINKFS_A_FAULT_DEV, 4, OURDEV)
#define FSITE(v)	A(REFLINKFS_A_FAULT_SITE, 4, (v))
#define FNTH(v)		A(REFLINKFS_A_FAULT_NTH, 8, (v))
#define FERR(v)		A(REFLINKFS_A_FAULT_ERRNO, 4, (v))

static const struct bad_case bad_cases[] = {
	{ "STATUS_GET dev of 2 bytes", REFLINKFS_CMD_STATUS_GET, 0,
	  { A(REFLINKFS_A_STATUS_DEV, 2, 1) }, 1, EINVAL, ERANGE, true },
	{ "STATUS_GET dev of 8 bytes", REFLINKFS_CMD_STATUS_GET, 0,
	  { A(REFLINKFS_A_STATUS_DEV, 8, 1) }, 1, EINVAL, ERANGE, true },
	{ "STATUS_GET dev of 0 bytes", REFLINKFS_CMD_STATUS_GET, 0,
	  { A(REFLINKFS_A_STATUS_DEV, 0, 0) }, 1, EINVAL, ERANGE, true },
	{ "STATUS_GET fd of 8 bytes", REFLINKFS_CMD_STATUS_GET, 0,
	  { A(REFLINKFS_A_STATUS_FD, 8, 0) }, 1, EINVAL, ERANGE, true },
	{ "STATUS_GET fd of 1 byte", REFLINKFS_CMD_STATUS_GET, 0,
	  { A(REFLINKFS_A_STATUS_FD, 1, 0) }, 1, EINVAL, ERANGE, true },
	{ "STATUS_GET reply attribute uuid in the request",
	  REFLINKFS_CMD_STATUS_GET, 0,
	  { SDEV, A(REFLINKFS_A_STATUS_UUID, 16, 7) }, 2, EINVAL, EINVAL, true },
	{ "STATUS_GET unknown attribute 200", REFLINKFS_CMD_STATUS_GET, 0,
	  { SDEV, A(200, 4, 0) }, 2, EINVAL, EINVAL, true },
	{ "STATUS_GET attribute 0", REFLINKFS_CMD_STATUS_GET, 0,
	  { A(0, 4, 0), SDEV }, 2, EINVAL, EINVAL, true },
	{ "STATUS_GET dev with NLA_F_NESTED", REFLINKFS_CMD_STATUS_GET, 0,
	  { A(REFLINKFS_A_STATUS_DEV | NLA_F_NESTED, 4, OURDEV) }, 1, EINVAL,
	  EINVAL, true },
	{ "STATUS_GET oversized attribute (60000 bytes, unknown)",
	  REFLINKFS_CMD_STATUS_GET, 0,
	  { SDEV, A(REFLINKFS_A_STATUS_MAX + 1, 60000, 'x') }, 2, EINVAL,
	  EINVAL, true },
	{ "STATUS_GET oversized dev (40000 bytes)", REFLINKFS_CMD_STATUS_GET, 0,
	  { A(REFLINKFS_A_STATUS_DEV, 40000, 'y') }, 1, EINVAL, ERANGE, true },
	{ "STATUS_GET dump with an unknown attribute", REFLINKFS_CMD_STATUS_GET,
	  NLM_F_DUMP, { A(99, 8, 0) }, 1, EINVAL, EINVAL, true },
	{ "FAULT_SET no site", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FNTH(1), FERR(EIO) }, 3, EINVAL, EINVAL, true },
	{ "FAULT_SET no nth", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), FERR(EIO) }, 3, EINVAL, EINVAL, true },
	{ "FAULT_SET no errno", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), FNTH(1) }, 3, EINVAL, EINVAL, true },
	{ "FAULT_SET site 0", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(0), FNTH(1), FERR(EIO) }, 4, EINVAL, ERANGE, true },
	{ "FAULT_SET site 5", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(5), FNTH(1), FERR(EIO) }, 4, EINVAL, ERANGE, true },
	{ "FAULT_SET site 0xffffffff", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(0xffffffff), FNTH(1), FERR(EIO) }, 4, EINVAL, ERANGE,
	  true },
	{ "FAULT_SET site as the string \"alloc\"", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, A(REFLINKFS_A_FAULT_SITE, 6, 0x636f6c6c61ULL), FNTH(1),
	    FERR(EIO) }, 4, EINVAL, ERANGE, true },
	{ "FAULT_SET nth 0", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), FNTH(0), FERR(EIO) }, 4, EINVAL, ERANGE, true },
	{ "FAULT_SET nth of 4 bytes", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), A(REFLINKFS_A_FAULT_NTH, 4, 1), FERR(EIO) }, 4,
	  EINVAL, ERANGE, true },
	{ "FAULT_SET every of 2 bytes", REFLINKFS_CMD_FAULT_SET, 0,
	  { FSITE(1), FNTH(1), FERR(EIO), A(REFLINKFS_A_FAULT_EVERY, 2, 1) }, 4,
	  EINVAL, ERANGE, true },
	{ "FAULT_SET errno 0", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), FNTH(1), FERR(0) }, 4, EINVAL, ERANGE, true },
	{ "FAULT_SET refcount-max 0", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, A(REFLINKFS_A_FAULT_REFCOUNT_MAX, 4, 0) }, 2, EINVAL, ERANGE,
	  true },
	{ "FAULT_SET refcount-max of 8 bytes", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, A(REFLINKFS_A_FAULT_REFCOUNT_MAX, 8, 5) }, 2, EINVAL, ERANGE,
	  true },
	{ "FAULT_SET errno 22 (EINVAL)", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), FNTH(1), FERR(EINVAL) }, 4, EINVAL, EINVAL, true },
	{ "FAULT_SET errno 1 (EPERM)", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), FNTH(1), FERR(EPERM) }, 4, EINVAL, EINVAL, true },
	{ "FAULT_SET errno 0xffffffff", REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), FNTH(1), FERR(0xffffffff) }, 4, EINVAL, ERANGE,
	  true },
	{ "FAULT_SET entry (a reply attribute) in the request",
	  REFLINKFS_CMD_FAULT_SET, 0,
	  { FDEV, FSITE(1), FNTH(1), A(REFLINKFS_A_FAULT_ENTRY, 12, 0) }, 4,
	  EINVAL, EINVAL, true },
	{ "FAULT_GET site (not in its policy)", REFLINKFS_CMD_FAULT_GET, 0,
	  { FDEV, FSITE(1) }, 2, EINVAL, EINVAL, true },
	{ "FAULT_CLEAR site 9", REFLINKFS_CMD_FAULT_CLEAR, 0,
	  { FDEV, FSITE(9) }, 2, EINVAL, ERANGE, true },
	{ "FAULT_CLEAR nth (not in its policy)", REFLINKFS_CMD_FAULT_CLEAR, 0,
	  { FDEV, FNTH(1) }, 2, EINVAL, EINVAL, true },
	{ "FAULT_GET dump (no dump operation)", REFLINKFS_CMD_FAULT_GET,
	  NLM_F_DUMP, { A(0, 0, 0) }, 0, EOPNOTSUPP, EOPNOTSUPP, false },
	{ "EVENT as a request", REFLINKFS_CMD_EVENT, 0,
	  { A(REFLINKFS_A_EVENT_DEV, 4, OURDEV) }, 1, EOPNOTSUPP, EOPNOTSUPP,
	  false },
	{ "unknown command 0", 0, 0, { A(0, 0, 0) }, 0, EOPNOTSUPP, EOPNOTSUPP,
	  false },
	{ "unknown command 6", 6, 0, { A(0, 0, 0) }, 0, EOPNOTSUPP, EOPNOTSUPP,
	  false },
	{ "unknown command 99", 99, 0, { A(1, 4, 0) }, 1, EOPNOTSUPP,
	  EOPNOTSUPP, false },
	{ "unknown command 255 (dump)", 255, NLM_F_DUMP, { A(0, 0, 0) }, 0,
	  EOPNOTSUPP, EOPNOTSUPP, false },
};

/* Send one case; returns the errno. */
static int send_bad(struct nlt *n, const struct bad_case *c, uint32_t dev)
{
	struct nl_msg *m = nlt_msg(n, c->cmd, c->flags);
	static uint8_t buf[65536];
	uint64_t v;
	int i, b;

	for (i = 0; i < c->na; i++) {
		v = c->a[i].val == OURDEV ? dev : c->a[i].val;
		if (c->a[i].len > 8)
			memset(buf, (uint8_t)v, c->a[i].len);
		else
			for (b = 0; b < c->a[i].len; b++)
				buf[b] = (uint8_t)(v >> (8 * b));
		nla_put(m, c->a[i].type, c->a[i].len, buf);
	}
	return nlt_xfer(n, m, NULL, NULL);
}

/* Raw tails after the genetlink header. */
static int send_raw(struct nlt *n, uint8_t cmd, const void *p, size_t len)
{
	struct nl_msg *m = nlt_msg(n, cmd, 0);

	put_raw(m, p, len);
	return nlt_xfer(n, m, NULL, NULL);
}

TEST_F_TIMEOUT(nl, malformed, 120)
{
	struct status s;
	struct fault_set fs;
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];

		r = send_bad(&self->n, c, self->dev);
		EXPECT_TRUE(r == c->want1 || r == c->want2) {
			TH_LOG("%s: got %d (%s), want %s (extack '%s')", c->what,
			       r, strerror(r), strerror(c->want1), self->n.msg);
		}
		if (c->extack)
			EXPECT_TRUE(self->n.msg[0] || self->n.miss_type) {
				TH_LOG("%s: no extended ACK (message or missing "
				       "attribute)", c->what);
			}
		if (r)
			TH_LOG("%s: %s, extack '%s' miss-type %u offs %d", c->what,
			       strerror(r), self->n.msg, self->n.miss_type,
			       self->n.have_offs);
	}

	/* an attribute header longer than what follows */
	{
		struct nlattr a = { .nla_len = 200, .nla_type = REFLINKFS_A_STATUS_DEV };

		r = send_raw(&self->n, REFLINKFS_CMD_STATUS_GET, &a, sizeof(a));
		EXPECT_EQ(EINVAL, r);
		TH_LOG("attribute running past the message: %s ('%s')",
		       strerror(r), self->n.msg);
	}
	/* an attribute header shorter than a header */
	{
		uint8_t raw[8] = { 2, 0, 1, 0, 0, 0, 0, 0 };

		r = send_raw(&self->n, REFLINKFS_CMD_STATUS_GET, raw, sizeof(raw));
		EXPECT_EQ(EINVAL, r);
		TH_LOG("attribute of length 2: %s ('%s')", strerror(r),
		       self->n.msg);
	}
	/* trailing garbage after a good attribute */
	{
		uint8_t raw[11];
		struct nlattr *a = (struct nlattr *)raw;

		a->nla_len = 8;
		a->nla_type = REFLINKFS_A_STATUS_DEV;
		memcpy(raw + 4, &self->dev, 4);
		memset(raw + 8, 0xee, 3);
		r = send_raw(&self->n, REFLINKFS_CMD_STATUS_GET, raw, sizeof(raw));
		EXPECT_EQ(EINVAL, r);
		TH_LOG("trailing bytes: %s ('%s')", strerror(r), self->n.msg);
	}
	/* a message shorter than the genetlink header */
	{
		struct nl_msg *m = nlmsg_alloc_simple(self->n.family, 0);
		uint8_t half[2] = { REFLINKFS_CMD_STATUS_GET, 1 };

		put_raw(m, half, sizeof(half));
		r = nlt_xfer(&self->n, m, NULL, NULL);
		EXPECT_EQ(EINVAL, r);
	}

	/*
	 * Random messages: commands 0..7, up to 6 attributes of random type
	 * (0..31, sometimes with the nested/byte-order flags), length (0..40
	 * or large) and bytes.  Every one gets an answer and none names our
	 * instance (dev values differ from ours; fds here are not on it).
	 */
	srandom(0x5eed);
	for (i = 0; i < 3000; i++) {
		struct nl_msg *m;
		int na = random() % 7, k, flags = random() % 8 ? 0 : NLM_F_DUMP;
		static uint8_t buf[2048];

		m = nlt_msg(&self->n, random() % 8, flags);
		for (k = 0; k < na; k++) {
			uint16_t type = random() % 32;
			uint16_t len = random() % 16 ? random() % 41 :
				       random() % (long)sizeof(buf);
			size_t b;

			if (!(random() % 16))
				type |= random() % 2 ? NLA_F_NESTED :
						       NLA_F_NET_BYTEORDER;
			for (b = 0; b < len; b++)
				buf[b] = random();
			if (len == 4 && !memcmp(buf, &self->dev, 4))
				buf[0] ^= 0x80;
			nla_put(m, type, len, buf);
		}
		r = nlt_xfer(&self->n, m, NULL, NULL);
		ASSERT_TRUE(self->n.answered) {
			TH_LOG("random message %zu: no answer (%s)", i,
			       strerror(r));
		}
	}

	/* still alive, nothing armed on us */
	ASSERT_EQ(0, nl_status(&self->n, self->dev, -1, &s));
	EXPECT_FALSE(s.bad);
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	EXPECT_EQ(0, fs.nr);
	EXPECT_EQ(self->dev, fs.dev);
}

/* ---- fault bookkeeping --------------------------------------------------------- */

/* Which of calls 1..calls fire with nth and every. */
static uint64_t expect_fired(uint64_t calls, uint64_t nth, uint64_t every)
{
	if (calls < nth)
		return 0;
	if (!every)
		return 1;
	return 1 + (calls - nth) / every;
}

TEST_F(nl, faults_roundtrip)
{
	struct fault_set fs;
	const struct fault_entry *e;
	struct status s0, s;
	int i;

	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	EXPECT_EQ(0, fs.nr);
	EXPECT_EQ(self->dev, fs.dev);

	/* armed in any order, listed in site order */
	ASSERT_EQ(0, nl_fault_set(&self->n, self->dev, REFLINKFS_FAULT_SITE_TRANS,
				  1000000, 0, ENOMEM));
	ASSERT_EQ(0, nl_fault_set(&self->n, self->dev, REFLINKFS_FAULT_SITE_ALLOC,
				  3, 2, ENOSPC));
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	ASSERT_EQ(2, fs.nr);
	EXPECT_EQ((uint64_t)REFLINKFS_FAULT_SITE_ALLOC, fs.e[0].site);
	EXPECT_EQ((uint64_t)REFLINKFS_FAULT_SITE_TRANS, fs.e[1].site);
	EXPECT_EQ((uint64_t)3, fs.e[0].nth);
	EXPECT_EQ((uint64_t)2, fs.e[0].every);
	EXPECT_EQ((uint64_t)ENOSPC, fs.e[0].err);
	EXPECT_EQ((uint64_t)0, fs.e[0].calls);
	EXPECT_EQ((uint64_t)0, fs.e[0].fired);
	EXPECT_EQ((uint64_t)1000000, fs.e[1].nth);
	EXPECT_EQ((uint64_t)0, fs.e[1].every);
	EXPECT_EQ((uint64_t)ENOMEM, fs.e[1].err);

	/* re-arming replaces (and restarts the counts) */
	ASSERT_EQ(0, nl_fault_set(&self->n, self->dev, REFLINKFS_FAULT_SITE_ALLOC,
				  1000000, 0, EIO));
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	ASSERT_EQ(2, fs.nr);
	e = fault_find(&fs, REFLINKFS_FAULT_SITE_ALLOC);
	ASSERT_NE(NULL, e);
	EXPECT_EQ((uint64_t)1000000, e->nth);
	EXPECT_EQ((uint64_t)EIO, e->err);

	/* allocations are counted and none fires */
	for (i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		ASSERT_EQ(0, rlfs_make_file(name, BS, i, true));
	}
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	e = fault_find(&fs, REFLINKFS_FAULT_SITE_ALLOC);
	ASSERT_NE(NULL, e);
	EXPECT_LE((uint64_t)5, e->calls);
	EXPECT_EQ((uint64_t)0, e->fired);
	e = fault_find(&fs, REFLINKFS_FAULT_SITE_TRANS);
	ASSERT_NE(NULL, e);
	EXPECT_LE((uint64_t)5, e->calls);
	EXPECT_EQ((uint64_t)0, e->fired);

	/* nth 2 every 3: calls 2, 5, 8 ... fail */
	ASSERT_EQ(0, nl_fault_clear(&self->n, self->dev, REFLINKFS_FAULT_SITE_TRANS));
	ASSERT_EQ(0, nl_fault_set(&self->n, self->dev, REFLINKFS_FAULT_SITE_ALLOC,
				  2, 3, ENOSPC));
	ASSERT_EQ(0, status_now(self, &s0));
	for (i = 0; i < 12; i++) {
		char name[16];
		int fd;

		snprintf(name, sizeof(name), "g%d", i);
		fd = open(name, O_CREAT | O_WRONLY, 0644);
		ASSERT_LE(0, fd);
		/* one block each; a failure is fine here */
		rlfs_write_pattern(fd, 0, BS, i);
		close(fd);
	}
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	ASSERT_EQ(1, fs.nr);
	e = &fs.e[0];
	EXPECT_EQ((uint64_t)REFLINKFS_FAULT_SITE_ALLOC, e->site);
	EXPECT_LE((uint64_t)12, e->calls);
	EXPECT_EQ(expect_fired(e->calls, 2, 3), e->fired) {
		TH_LOG("%" PRIu64 " calls with nth 2 every 3: fired %" PRIu64,
		       e->calls, e->fired);
	}
	/* injected ENOSPC counts as ENOSPC (same path as a real one) */
	ASSERT_EQ(0, status_now(self, &s));
	EXPECT_LE((uint64_t)1, SV(s, ENOSPC) - SV(s0, ENOSPC));

	/* clear one, clear all, clear when nothing is armed */
	ASSERT_EQ(0, nl_fault_set(&self->n, self->dev, REFLINKFS_FAULT_SITE_META_READ,
				  1000000, 0, EIO));
	ASSERT_EQ(0, nl_fault_set(&self->n, self->dev, REFLINKFS_FAULT_SITE_META_WRITE,
				  1000000, 0, EIO));
	ASSERT_EQ(0, nl_fault_clear(&self->n, self->dev, REFLINKFS_FAULT_SITE_ALLOC));
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	ASSERT_EQ(2, fs.nr);
	EXPECT_EQ((uint64_t)REFLINKFS_FAULT_SITE_META_READ, fs.e[0].site);
	EXPECT_EQ((uint64_t)REFLINKFS_FAULT_SITE_META_WRITE, fs.e[1].site);
	ASSERT_EQ(0, nl_fault_clear(&self->n, self->dev, 0));
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	EXPECT_EQ(0, fs.nr);
	EXPECT_EQ(0, nl_fault_clear(&self->n, self->dev, 0));

	/* unmount clears */
	for (i = REFLINKFS_FAULT_SITE_ALLOC; i <= REFLINKFS_FAULT_SITE_TRANS; i++)
		ASSERT_EQ(0, nl_fault_set(&self->n, self->dev, i, 1000000, 7, EIO));
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	EXPECT_EQ(4, fs.nr);
	RLFS_REMOUNT(&self->fs);
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	EXPECT_EQ(0, fs.nr);
}

/* ---- privileges ------------------------------------------------------------------- */

/* Drop CAP_SYS_ADMIN (keep the others) from every set of this process. */
static int drop_sys_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	int i;

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0))
		return -errno;
	if (syscall(SYS_capget, &h, d))
		return -errno;
	for (i = 0; i < 2; i++) {
		if (CAP_TO_INDEX(CAP_SYS_ADMIN) != i)
			continue;
		d[i].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
		d[i].permitted &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
		d[i].inheritable &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	}
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

/* Child exit codes of the privilege checks. */
enum {
	C_OK = 0, C_SETUP, C_STATUS, C_DUMP, C_FGET, C_FSET, C_FCLEAR,
	C_SUB, C_EVENT, C_STILL_ARMED,
};

static int child_checks(uint32_t dev, int pipe_w, uint64_t want_src,
			bool events)
{
	struct nlt n, ev;
	struct status s;
	struct status_set set;
	struct fault_set fs;
	static struct evq q;
	int r, i;

	if (nlt_open(&n))
		return C_SETUP;
	if (nl_status(&n, dev, -1, &s) || s.v[REFLINKFS_A_STATUS_DEV] != dev)
		return C_STATUS;
	if (nl_status_dump(&n, &set) || set.nr < 1)
		return C_DUMP;
	if (nl_fault_get(&n, dev, &fs))
		return C_FGET;
	r = nl_fault_set(&n, dev, REFLINKFS_FAULT_SITE_ALLOC, 1, 0, EIO);
	if (r != EPERM) {
		fprintf(stderr, "# child: FAULT_SET: %s, want EPERM\n", strerror(r));
		return C_FSET;
	}
	r = nl_fault_clear(&n, dev, 0);
	if (r != EPERM) {
		fprintf(stderr, "# child: FAULT_CLEAR: %s, want EPERM\n", strerror(r));
		return C_FCLEAR;
	}
	if (nl_fault_get(&n, dev, &fs) || fs.nr)
		return C_STILL_ARMED;
	nlt_close(&n);
	if (!events)
		return C_OK;
	if (nlt_subscribe(&ev, &q))
		return C_SUB;
	/* subscribed: the parent may go on */
	if (write(pipe_w, "x", 1) != 1)
		return C_SETUP;
	nlt_events(&ev, &q, 1, 20000);
	for (i = 0; i < q.nr; i++)
		if (q.ev[i].type == REFLINKFS_EVENT_TYPE_REFLINK &&
		    q.ev[i].dev == dev && q.ev[i].ino_src == want_src)
			return C_OK;
	return C_EVENT;
}

TEST_F_TIMEOUT(nl, unprivileged, 90)
{
	int p[2], st, fd;
	pid_t pid;
	char c;
	struct fault_set fs;

	ASSERT_EQ(0, rlfs_make_file("src", 4 * BS, 1, true));
	ASSERT_EQ(0, chmod(".", 0777));

	/* nobody */
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(p[0]);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(C_SETUP);
		_exit(child_checks(self->dev, p[1], ino_of("src"), true));
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &c, 1)) {
		waitpid(pid, &st, 0);
		TH_LOG("child (uid 65534) failed check %d before subscribing",
		       WEXITSTATUS(st));
	}
	ASSERT_EQ(0, do_reflink("src", "dst", 0));
	close(p[0]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(C_OK, WEXITSTATUS(st)) {
		TH_LOG("child (uid 65534) failed check %d", WEXITSTATUS(st));
	}

	/* root without CAP_SYS_ADMIN (CAP_NET_ADMIN still there) */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (drop_sys_admin())
			_exit(C_SETUP);
		_exit(child_checks(self->dev, -1, 0, false));
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(C_OK, WEXITSTATUS(st)) {
		TH_LOG("uid 0 without CAP_SYS_ADMIN: failed check %d "
		       "(%d: FAULT_SET, %d: FAULT_CLEAR not refused)",
		       WEXITSTATUS(st), C_FSET, C_FCLEAR);
	}
	ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
	EXPECT_EQ(0, fs.nr);
	ASSERT_EQ(0, nl_fault_clear(&self->n, self->dev, 0));
	fd = open("dst", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rlfs_verify(fd, 0, 4 * BS, 1));
	close(fd);
}

/* ---- events ------------------------------------------------------------------------ */

/* The next event of our instance after *pos, of @type; NULL if none. */
static const struct event *ev_next(const struct evq *q, int *pos, uint32_t dev,
				   uint32_t type)
{
	while (*pos < q->nr) {
		const struct event *e = &q->ev[(*pos)++];

		if (e->dev != dev)
			continue;
		if (e->type == type)
			return e;
		/* a cow event may come between others (at commit) */
		if (e->type == REFLINKFS_EVENT_TYPE_COW && type != e->type)
			continue;
		return NULL;
	}
	return NULL;
}

#define HAS(e, a)	((e)->have & (1U << REFLINKFS_A_EVENT_##a))

TEST_F_TIMEOUT(nl, events, 90)
{
	static struct evq q;
	struct nlt ev;
	const struct event *e;
	uint64_t ia, ib, ic, id, is, ie;
	uint64_t cow_b = 0, cow_c = 0, cow_d = 0;
	int pos = 0, i, nmsg;

	ASSERT_EQ(0, nlt_subscribe(&ev, &q));
	ASSERT_EQ(0, rlfs_make_file("a", 16 * BS, 1, true));
	ia = ino_of("a");
	/* 1: reflink a -> b */
	ASSERT_EQ(0, do_reflink("a", "b", 0));
	ib = ino_of("b");
	/* 2: snapshot a -> s (needs CAP_LINUX_IMMUTABLE) */
	ASSERT_EQ(0, do_reflink("a", "s", REFLINKFS_REFLINK_IMMUTABLE));
	is = ino_of("s");
	/* 3: FICLONE a -> c */
	ASSERT_EQ(0, do_clone("a", "c", 0, 0, 0));
	ic = ino_of("c");
	/* 4: FICLONERANGE a[4..8) -> e at block 2 */
	ASSERT_EQ(0, do_clone("a", "e", 4 * BS, 4 * BS, 2 * BS));
	ie = ino_of("e");
	/* 5: dedupe a copy of a[0..4) */
	ASSERT_EQ(0, rlfs_make_file("d", 4 * BS, 1, true));
	id = ino_of("d");
	ASSERT_EQ(0, do_dedupe("a", "d", 0, 4 * BS, NULL));
	/* 6-8: CoW: buffered 3 blocks of b, O_DIRECT 2 of c, mmap 1 of d */
	ASSERT_EQ(0, do_write("b", 0, 3, 2, false));
	ASSERT_EQ(0, do_write("c", 8 * BS, 2, 3, true));
	ASSERT_EQ(0, do_mmap_write("d", 2 * BS, 1, 4));
	/* 9: unshare b[8..12) */
	ASSERT_EQ(0, do_falloc("b", FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE,
			       8 * BS, 4 * BS));
	/* 10-11: unmount, mount */
	RLFS_REMOUNT(&self->fs);

	nmsg = 11;
	nlt_events(&ev, &q, nmsg + 3, 3000);
	ev_dump(&q);
	EXPECT_EQ(0, q.bad);

	e = ev_next(&q, &pos, self->dev, REFLINKFS_EVENT_TYPE_REFLINK);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(ib, e->ino);
	EXPECT_EQ(ia, e->ino_src);
	e = ev_next(&q, &pos, self->dev, REFLINKFS_EVENT_TYPE_SNAPSHOT);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(is, e->ino);
	EXPECT_EQ(ia, e->ino_src);
	e = ev_next(&q, &pos, self->dev, REFLINKFS_EVENT_TYPE_CLONE);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(ic, e->ino);
	EXPECT_EQ(ia, e->ino_src);
	EXPECT_EQ((uint64_t)0, e->offset);
	EXPECT_EQ(16 * BS, e->length);
	EXPECT_TRUE(HAS(e, OFFSET) && HAS(e, LENGTH));
	e = ev_next(&q, &pos, self->dev, REFLINKFS_EVENT_TYPE_CLONE);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(ie, e->ino);
	EXPECT_EQ(ia, e->ino_src);
	EXPECT_EQ(2 * BS, e->offset);
	EXPECT_EQ(4 * BS, e->length);
	e = ev_next(&q, &pos, self->dev, REFLINKFS_EVENT_TYPE_DEDUPE);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(id, e->ino);
	EXPECT_EQ(ia, e->ino_src);
	EXPECT_EQ((uint64_t)0, e->offset);
	EXPECT_EQ(4 * BS, e->length);
	e = ev_next(&q, &pos, self->dev, REFLINKFS_EVENT_TYPE_UNSHARE);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(ib, e->ino);
	EXPECT_EQ(8 * BS, e->offset);
	EXPECT_EQ(4 * BS, e->length);
	EXPECT_EQ((uint64_t)4, e->blocks);
	e = ev_next(&q, &pos, self->dev, REFLINKFS_EVENT_TYPE_UNMOUNT);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0U, HAS(e, INO));
	e = ev_next(&q, &pos, self->dev, REFLINKFS_EVENT_TYPE_MOUNT);
	ASSERT_NE(NULL, e);

	/* the cow events: per inode, before the unshare of b was sent */
	for (i = 0; i < q.nr; i++) {
		e = &q.ev[i];
		if (e->type != REFLINKFS_EVENT_TYPE_COW)
			continue;
		EXPECT_TRUE(HAS(e, INO) && HAS(e, BLOCKS));
		if (e->ino == ib)
			cow_b += e->blocks;
		else if (e->ino == ic)
			cow_c += e->blocks;
		else if (e->ino == id)
			cow_d += e->blocks;
		else
			TH_LOG("cow event for inode %" PRIu64, e->ino);
	}
	/* b: 3 written; the unshare's 4 copies may be reported as cow too */
	EXPECT_TRUE(cow_b == 3 || cow_b == 7) {
		TH_LOG("cow blocks of b: %" PRIu64 ", want 3 (+4 unshared)",
		       cow_b);
	}
	if (cow_b == 7)
		TH_LOG("the unshare's copies come as cow events too");
	EXPECT_EQ((uint64_t)2, cow_c);
	EXPECT_EQ((uint64_t)1, cow_d);
	nlt_close(&ev);
}

/* ---- fault injection during operations ------------------------------------------------ */

enum op {
	OP_REFLINK, OP_WRITE, OP_DIRECT, OP_MMAP, OP_UNSHARE, OP_DEDUPE,
	OP_PUNCH, OP_TRUNCATE,
};

static const char *const op_names[] = {
	"reflink", "buffered CoW write", "O_DIRECT CoW write",
	"mmap CoW write", "unshare", "dedupe", "punch", "truncate",
};

static const char *const site_names[] = {
	"", "alloc", "meta-read", "meta-write", "trans",
};

#define FB		16	/* blocks of the test files */
#define RB		4	/* the range an operation changes: blocks ... */
#define RO		6	/* ... RO to RO + RB */
#define TRUNC_SIZE	(9 * BS + 100)
#define SEED_OLD	11
#define SEED_NEW	12

/* src (FB blocks, SEED_OLD) and dst sharing it, or a copy for dedupe. */
static int op_setup(enum op op)
{
	int ret;

	unlink("src");
	unlink("dst");
	ret = rlfs_make_file("src", FB * BS, SEED_OLD, true);
	if (ret)
		return -ret;
	if (op == OP_REFLINK)
		return 0;
	if (op == OP_DEDUPE)
		return -rlfs_make_file("dst", FB * BS, SEED_OLD, true);
	return do_clone("src", "dst", 0, 0, 0);
}

/* The operation; 0, its errno, or R_SIGBUS. */
static int op_run(enum op op)
{
	switch (op) {
	case OP_REFLINK:
		return do_reflink("src", "dst", 0);
	case OP_WRITE:
		return do_write("dst", RO * BS, RB, SEED_NEW, false);
	case OP_DIRECT:
		return do_write("dst", RO * BS, RB, SEED_NEW, true);
	case OP_MMAP:
		return do_mmap_write("dst", RO * BS, RB, SEED_NEW);
	case OP_UNSHARE:
		return do_falloc("dst", FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE,
				 RO * BS, RB * BS);
	case OP_DEDUPE:
		return do_dedupe("src", "dst", 0, FB * BS, NULL);
	case OP_PUNCH:
		return do_falloc("dst", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 RO * BS, RB * BS);
	case OP_TRUNCATE: {
		int fd = open("dst", O_RDWR), ret = 0;

		if (fd < 0)
			return errno;
		if (ftruncate(fd, TRUNC_SIZE) || fsync(fd))
			ret = errno;
		close(fd);
		return ret;
	}
	}
	return EINVAL;
}

/*
 * The files after the operation: done (it succeeded) or not (it failed:
 * each block old or new).  src always keeps its data.  Returns 0, or 1
 * after saying what is wrong.
 */
static int op_verify(enum op op, bool done, char *why, size_t len)
{
	struct stat st;
	uint64_t b;
	int fd, bad = 0;

	fd = open("src", O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || st.st_size != (off_t)(FB * BS)) {
		snprintf(why, len, "src: missing or resized");
		goto out_bad;
	}
	for (b = 0; b < FB; b++)
		if (block_is(fd, b, SEED_OLD)) {
			snprintf(why, len, "src block %" PRIu64 " changed", b);
			goto out_bad;
		}
	close(fd);

	fd = open("dst", O_RDONLY);
	if (op == OP_REFLINK && !done) {
		if (fd >= 0) {
			snprintf(why, len, "a failed reflink left dst behind");
			goto out_bad;
		}
		return 0;
	}
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(why, len, "dst: %s", strerror(errno));
		goto out_bad;
	}
	if (op == OP_TRUNCATE) {
		if (st.st_size != TRUNC_SIZE && (done || st.st_size != (off_t)(FB * BS))) {
			snprintf(why, len, "dst size %lld", (long long)st.st_size);
			goto out_bad;
		}
		for (b = 0; b < 9; b++)
			if (block_is(fd, b, SEED_OLD)) {
				snprintf(why, len, "dst block %" PRIu64 " changed", b);
				goto out_bad;
			}
		/* the head of the partial last block */
		{
			uint8_t buf[100];

			if (pread(fd, buf, 100, 9 * BS) != 100 ||
			    rlfs_check(buf, 100, 9 * BS, SEED_OLD) >= 0) {
				snprintf(why, len, "dst block 9 changed");
				goto out_bad;
			}
		}
		close(fd);
		return 0;
	}
	if (st.st_size != (off_t)(FB * BS)) {
		snprintf(why, len, "dst size %lld", (long long)st.st_size);
		goto out_bad;
	}
	for (b = 0; b < FB; b++) {
		bool in = b >= RO && b < RO + RB;
		int64_t neu = op == OP_PUNCH ? -1 : SEED_NEW;
		bool is_old = !block_is(fd, b, SEED_OLD);
		bool is_new = !block_is(fd, b, neu);

		switch (op) {
		case OP_WRITE:
		case OP_DIRECT:
		case OP_MMAP:
		case OP_PUNCH:
			if (!in)
				bad = !is_old;
			else if (done)
				bad = !is_new;
			else
				bad = !is_old && !is_new;
			break;
		default:	/* unshare, dedupe, reflink: same data */
			bad = !is_old;
			break;
		}
		if (bad) {
			snprintf(why, len, "dst block %" PRIu64 " is neither old "
				 "nor%s new data", b, done ? " (done)" : "");
			goto out_bad;
		}
	}
	close(fd);
	/* what the operation is for */
	if (done && op == OP_UNSHARE)
		for (b = RO; b < RO + RB; b++)
			if (block_shared("dst", b) != 0) {
				snprintf(why, len, "dst block %" PRIu64 " still "
					 "shared after unshare", b);
				return 1;
			}
	if (done && (op == OP_DEDUPE || op == OP_REFLINK))
		for (b = 0; b < FB; b++)
			if (block_shared("dst", b) != 1) {
				snprintf(why, len, "dst block %" PRIu64 " not "
					 "shared after %s", b, op_names[op]);
				return 1;
			}
	return 0;

out_bad:
	if (fd >= 0)
		close(fd);
	return 1;
}

/* The errno of round n at a site (ENOSPC: from the nth call on). */
static int round_errno(enum op op, int site, int n, uint64_t *every)
{
	static const int alloc_errs[] = { EIO, ENOSPC, ENOMEM };
	static const int other_errs[] = { EIO, ENOMEM };
	int e;

	if (site == REFLINKFS_FAULT_SITE_ALLOC)
		e = alloc_errs[n % 3];
	else
		e = other_errs[n % 2];
	/* a store cannot return ENOMEM: the page fault retries (OOM) */
	if (op == OP_MMAP && e == ENOMEM)
		e = EIO;
	*every = e == ENOSPC ? 1 : 0;
	return e;
}

/*
 * Unmount; fsck -n must be clean (if not: say so and start again on a
 * fresh filesystem, so the other sites still get tested); mount.
 */
static bool matrix_remount(struct __test_metadata *_metadata,
			   FIXTURE_DATA(nl) *self, const char *what)
{
	bool clean;

	ASSERT_EQ(0, rlfs_umount(&self->fs));
	clean = rlfs_fsck(self->fs.dev) == 0;
	EXPECT_TRUE(clean) {
		TH_LOG("%s: fsck.reflinkfs -n not clean after unmount", what);
	}
	if (!clean)
		ASSERT_EQ(0, rlfs_mkfs(self->fs.dev, self->fs.blocks));
	ASSERT_EQ(0, rlfs_mount(&self->fs));
	return clean;
}

/*
 * After a journal abort: unmount, mount (the journal is replayed), unmount;
 * then as matrix_remount().
 */
static bool matrix_recover(struct __test_metadata *_metadata,
			   FIXTURE_DATA(nl) *self, const char *what)
{
	ASSERT_EQ(0, rlfs_umount(&self->fs)) {
		TH_LOG("%s: unmount after the abort failed", what);
	}
	ASSERT_EQ(0, rlfs_mount(&self->fs)) {
		TH_LOG("%s: mount after the abort failed", what);
	}
	return matrix_remount(_metadata, self, what);
}

/* Whether a create fails with EROFS (the journal was aborted). */
static bool fs_refuses_writes(void)
{
	int fd = open("probe", O_CREAT | O_WRONLY, 0644);

	if (fd < 0)
		return errno == EROFS;
	close(fd);
	unlink("probe");
	return false;
}

/*
 * The free count with no test file, after one round of the operation
 * (the first may leave a directory or tree block that stays allocated).
 */
static long long matrix_base(enum op op)
{
	if (!op_setup(op))
		op_run(op);
	unlink("src");
	unlink("dst");
	return bfree_now();
}

static const char *rname(int r)
{
	return r == R_SIGBUS ? "SIGBUS" : strerror(r);
}

static void fault_matrix(struct __test_metadata *_metadata,
			 FIXTURE_DATA(nl) *self, enum op op)
{
	bool fsck_every = getenv("RLFS_NL_FSCK_EVERY") &&
			  !strcmp(getenv("RLFS_NL_FSCK_EVERY"), "1");
	long long base = matrix_base(op);
	int site;

	for (site = REFLINKFS_FAULT_SITE_ALLOC; site <= REFLINKFS_FAULT_SITE_TRANS; site++) {
		char where[96];
		int n, failed = 0;

		for (n = 1; ; n++) {
			const struct fault_entry *e;
			struct fault_set fs;
			struct status s;
			char why[160];
			uint64_t every, calls, fired;
			bool bad = false, remounted = false, ro;
			int err, r;
			long long now;

			snprintf(where, sizeof(where), "%s/%s N=%d", op_names[op],
				 site_names[site], n);
			ASSERT_GT(NL_MAX_NTH, n) {
				TH_LOG("%s: still firing", where);
			}
			err = round_errno(op, site, n, &every);
			ASSERT_EQ(0, op_setup(op));
			sync_here();
			ASSERT_EQ(0, nl_fault_set(&self->n, self->dev, site, n,
						  every, err)) {
				TH_LOG("FAULT_SET: %s (%s)", strerror(self->n.err),
				       self->n.msg);
			}
			r = op_run(op);
			ASSERT_EQ(0, nl_fault_get(&self->n, self->dev, &fs));
			ASSERT_EQ(0, nl_fault_clear(&self->n, self->dev, 0));
			e = fault_find(&fs, site);
			ASSERT_NE(NULL, e);
			calls = e->calls;
			fired = e->fired;

			if (!fired) {
				/* past the last call: the operation is whole */
				EXPECT_EQ(0, r) {
					TH_LOG("%s: no fault fired but %s", where,
					       rname(r));
				}
				EXPECT_EQ(0, op_verify(op, true, why, sizeof(why))) {
					TH_LOG("%s: %s", where, why);
				}
				TH_LOG("%s/%s: %d calls, each failed in turn (%d "
				       "failures)", op_names[op], site_names[site],
				       n - 1, failed);
				break;
			}
			failed++;
			/* still writable?  (an aborted journal refuses writes) */
			ASSERT_EQ(0, nl_status(&self->n, self->dev, -1, &s));
			ro = fs_refuses_writes();
			/* the operation failed with what was injected */
			if (op == OP_MMAP) {
				EXPECT_TRUE(r == R_SIGBUS || r == err ||
					    (ro && r == EROFS)) {
					TH_LOG("%s (%s): got %s, want SIGBUS", where,
					       strerror(err), rname(r));
					bad = true;
				}
			} else if (ro && r == EROFS) {
				TH_LOG("%s: injected %s, the operation returned "
				       "EROFS: the journal was aborted", where,
				       strerror(err));
			} else {
				EXPECT_EQ(err, r) {
					TH_LOG("%s: injected %s, the operation "
					       "returned %s (%" PRIu64 " calls, %"
					       PRIu64 " fired)%s", where,
					       strerror(err), rname(r), calls, fired,
					       r ? "" : ": the error was swallowed");
					bad = true;
				}
			}
			EXPECT_EQ(0, op_verify(op, false, why, sizeof(why))) {
				TH_LOG("%s (%s) after the failure: %s", where,
				       strerror(err), why);
				bad = true;
			}
			if (SV(s, STATE) == REFLINKFS_MOUNT_STATE_ERROR) {
				EXPECT_TRUE(false) {
					TH_LOG("%s (%s): the filesystem went into "
					       "the error state", where, strerror(err));
				}
				bad = true;
				if (!matrix_remount(_metadata, self, where))
					break;	/* a fresh filesystem */
				remounted = true;
			} else if (ro || SV(s, STATE) != REFLINKFS_MOUNT_STATE_RW) {
				TH_LOG("%s (%s): the filesystem went read-only "
				       "(status state %" PRIu64 ")", where,
				       strerror(err), SV(s, STATE));
				/*
				 * Only a journal abort may do that: meta-write
				 * always aborts, and a metadata read failing
				 * half way through a tree change aborts so the
				 * half-made change never commits
				 * (reflinkfs-abi.rst).
				 */
				EXPECT_TRUE(site == REFLINKFS_FAULT_SITE_META_WRITE ||
					    site == REFLINKFS_FAULT_SITE_META_READ) {
					bad = true;
				}
				if (SV(s, STATE) == REFLINKFS_MOUNT_STATE_RW)
					TH_LOG("%s: status still says rw, though a "
					       "create fails with EROFS", where);
				if (!matrix_recover(_metadata, self, where))
					break;	/* a fresh filesystem */
				remounted = true;
			}
			/* the retry without the fault completes it */
			r = op_run(op);
			EXPECT_EQ(0, r) {
				TH_LOG("%s: the retry failed: %s", where, rname(r));
				bad = true;
			}
			EXPECT_EQ(0, op_verify(op, true, why, sizeof(why))) {
				TH_LOG("%s after the retry: %s", where, why);
				bad = true;
			}
			/* no block leaked */
			ASSERT_EQ(0, unlink("src"));
			ASSERT_EQ(0, unlink("dst"));
			now = rlfs_wait_bfree(".", base);
			if (remounted)
				base = now;
			EXPECT_EQ(base, now) {
				TH_LOG("%s (%s): %lld blocks leaked", where,
				       strerror(err), base - now);
				bad = true;
			}
			if (bad || fsck_every) {
				if (!matrix_remount(_metadata, self, where))
					bad = true;
				base = matrix_base(op);
			}
			/* one failure per site is enough to look at */
			if (bad)
				break;
		}
		unlink("src");
		unlink("dst");
		snprintf(where, sizeof(where), "%s/%s", op_names[op],
			 site_names[site]);
		matrix_remount(_metadata, self, where);
		base = matrix_base(op);
	}
}

#define FAULT_TEST(name, op)						\
TEST_F_TIMEOUT(nl, name, 240)						\
{									\
	fault_matrix(_metadata, self, op);				\
}

FAULT_TEST(fault_reflink, OP_REFLINK)
FAULT_TEST(fault_write, OP_WRITE)
FAULT_TEST(fault_direct, OP_DIRECT)
FAULT_TEST(fault_mmap, OP_MMAP)
FAULT_TEST(fault_unshare, OP_UNSHARE)
FAULT_TEST(fault_dedupe, OP_DEDUPE)
FAULT_TEST(fault_punch, OP_PUNCH)
FAULT_TEST(fault_truncate, OP_TRUNCATE)

TEST_HARNESS_MAIN
