// SPDX-License-Identifier: GPL-2.0
/*
 * nl.c - the libnl plumbing the netlink commands share (see nl.h): the
 * socket, one request and its replies with the extended ACK, error
 * reports, device numbers, mount points and the names of the family's
 * enums.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

/* ---- the socket ------------------------------------------------------- */

void tool_nl_ext_ack(struct nl_sock *sk)
{
	int one = 1, fd = nl_socket_get_fd(sk);

	/*
	 * Best effort: kernels without them still answer, only without the
	 * message.  CAP_ACK: errors do not echo the request, so the TLVs
	 * follow struct nlmsgerr directly.
	 */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
}

int tool_nl_open(struct tool_nl *nl)
{
	int ret;

	memset(nl, 0, sizeof(*nl));
	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return tool_err("netlink socket", ENOMEM);
	ret = genl_connect(nl->sk);
	if (ret < 0) {
		tool_errx("cannot open a generic netlink socket: %s",
			  nl_geterror(ret));
		goto out_free;
	}
	tool_nl_ext_ack(nl->sk);
	ret = genl_ctrl_resolve(nl->sk, REFLINKFS_FAMILY_NAME);
	if (ret < 0) {
		if (ret == -NLE_OBJ_NOTFOUND)
			tool_errx("reflinkfs module not loaded or too old: no "
				  "generic netlink family " REFLINKFS_FAMILY_NAME);
		else
			tool_errx("cannot resolve the generic netlink family "
				  REFLINKFS_FAMILY_NAME ": %s", nl_geterror(ret));
		goto out_free;
	}
	nl->family = ret;
	return 0;

out_free:
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	return TOOL_EXIT_FAIL;
}

void tool_nl_close(struct tool_nl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

struct nl_msg *tool_nl_msg(struct tool_nl *nl, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family,
				 0, flags, cmd, REFLINKFS_FAMILY_VERSION)) {
		tool_err("netlink message", ENOMEM);
		exit(TOOL_EXIT_FAIL);
	}
	return msg;
}

/* ---- one request ------------------------------------------------------ */

struct tool_nl_req {
	struct tool_nl		*nl;
	tool_nl_reply_fn	fn;
	void			*arg;
	bool			done;
};

/* NLMSGERR_ATTR_MSG of the TLVs at offset off of an error or DONE. */
static void tool_nl_parse_ext_ack(struct tool_nl *nl, struct nlmsghdr *h,
				  size_t off)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t len;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || off >= h->nlmsg_len)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)h + off),
		      h->nlmsg_len - off, NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MISS_TYPE] &&
	    nla_len(tb[NLMSGERR_ATTR_MISS_TYPE]) == 4)
		nl->miss_type = nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
	if (!tb[NLMSGERR_ATTR_MSG])
		return;
	len = strnlen(nla_data(tb[NLMSGERR_ATTR_MSG]),
		      nla_len(tb[NLMSGERR_ATTR_MSG]));
	if (len >= sizeof(nl->extack))
		len = sizeof(nl->extack) - 1;
	memcpy(nl->extack, nla_data(tb[NLMSGERR_ATTR_MSG]), len);
	nl->extack[len] = '\0';
}

static int tool_nl_valid_cb(struct nl_msg *msg, void *arg)
{
	struct tool_nl_req *req = arg;
	int ret;

	if (!req->fn)
		return NL_OK;
	ret = req->fn(msg, req->arg);
	if (ret == NL_STOP)
		req->done = true;
	return ret;
}

static int tool_nl_ack_cb(struct nl_msg *msg, void *arg)
{
	struct tool_nl_req *req = arg;

	(void)msg;
	req->done = true;
	return NL_STOP;
}

/* NLMSG_DONE of a dump: it carries the dump's error, if any. */
static int tool_nl_finish_cb(struct nl_msg *msg, void *arg)
{
	struct tool_nl_req *req = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	int err;

	req->done = true;
	if (nlmsg_datalen(h) >= (int)sizeof(int)) {
		memcpy(&err, nlmsg_data(h), sizeof(err));
		if (err < 0) {
			req->nl->err = -err;
			tool_nl_parse_ext_ack(req->nl, h,
					      NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int)));
		}
	}
	return NL_STOP;
}

static int tool_nl_error_cb(struct sockaddr_nl *nla, struct nlmsgerr *e,
			    void *arg)
{
	struct tool_nl_req *req = arg;
	struct nlmsghdr *h = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	size_t off = NLMSG_HDRLEN + sizeof(*e);

	(void)nla;
	req->done = true;
	req->nl->err = e->error < 0 ? -e->error : EPROTO;
	/* without NLM_F_CAPPED the request follows, then the TLVs */
	if (!(h->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	tool_nl_parse_ext_ack(req->nl, h, off);
	return NL_STOP;
}

int tool_nl_request(struct tool_nl *nl, struct nl_msg *msg,
		    tool_nl_reply_fn fn, void *arg)
{
	struct tool_nl_req req = { .nl = nl, .fn = fn, .arg = arg };
	struct nl_cb *cb;
	int ret;

	nl->err = 0;
	nl->extack[0] = '\0';
	nl->miss_type = 0;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		return nl->err = ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, tool_nl_valid_cb, &req);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, tool_nl_ack_cb, &req);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, tool_nl_finish_cb, &req);
	nl_cb_err(cb, NL_CB_CUSTOM, tool_nl_error_cb, &req);

	ret = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		snprintf(nl->extack, sizeof(nl->extack), "send: %s",
			 nl_geterror(ret));
		nl->err = EIO;
		goto out;
	}
	while (!req.done) {
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret < 0 && !req.done) {
			/* libnl's own trouble, not an answer of the kernel */
			snprintf(nl->extack, sizeof(nl->extack), "receive: %s",
				 nl_geterror(ret));
			nl->err = EIO;
			break;
		}
	}
out:
	nl_cb_put(cb);
	return nl->err;
}

int tool_nl_report(const struct tool_nl *nl, const char *path,
		   const char *hint)
{
	char text[TOOL_NL_EXTACK_MAX + 256];
	size_t off = 0;

	text[0] = '\0';
	if (!hint) {
		switch (nl->err) {
		case EOPNOTSUPP:
			hint = "the loaded reflinkfs module does not have this "
			       "request: too old?";
			break;
		case ENODEV:
			hint = "no mounted reflinkfs instance there";
			break;
		default:
			break;
		}
	}
	if (nl->extack[0])
		off += snprintf(text, sizeof(text), "kernel: %s", nl->extack);
	else if (nl->miss_type)
		off += snprintf(text, sizeof(text),
				"kernel: missing attribute %u", nl->miss_type);
	if (hint && off < sizeof(text))
		snprintf(text + off, sizeof(text) - off, "%s%s",
			 off ? "; " : "", hint);
	if (text[0])
		return tool_err_hint(path, nl->err, "%s", text);
	return tool_err(path, nl->err);
}

int tool_nl_open_instance(const char *path, const struct tool_cmd *cmd,
			  struct stat *st)
{
	int fd;

	/* a directory (the mount point) or any file; never blocks */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		tool_err(path, errno);
		return -1;
	}
	if (st && fstat(fd, st) < 0) {
		tool_err(path, errno);
		close(fd);
		return -1;
	}
	if (tool_need_reflinkfs(fd, path, cmd)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- device numbers ---------------------------------------------------- */

uint32_t tool_dev_encode(dev_t dev)
{
	uint32_t ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffU) << 12);
}

void tool_dev_decode(uint32_t dev, unsigned int *ma, unsigned int *mi)
{
	*ma = (dev & 0xfff00) >> 8;
	*mi = (dev & 0xff) | ((dev >> 12) & 0xfff00);
}

void tool_dev_format(uint32_t dev, char *buf, size_t len)
{
	unsigned int ma, mi;

	tool_dev_decode(dev, &ma, &mi);
	snprintf(buf, len, "%u:%u", ma, mi);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *mountinfo_unescape(const char *s)
{
	char *out = tool_xstrdup(s), *o = out;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

bool tool_dev_mount(uint32_t dev, char **mountpoint, char **source)
{
	unsigned int want_ma, want_mi, ma, mi;
	char *line = NULL, *sep;
	char root[4096], mnt[4096], fstype[256], src[4096];
	bool found = false;
	size_t cap = 0;
	FILE *f;

	tool_dev_decode(dev, &want_ma, &want_mi);
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER */
		if (sscanf(line, "%*u %*u %u:%u %4095s %4095s", &ma, &mi, root,
			   mnt) != 4)
			continue;
		if (ma != want_ma || mi != want_mi)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%255s %4095s", fstype, src) != 2)
			continue;
		if (strcmp(fstype, "reflinkfs"))
			continue;
		/* a bind mount of a subtree only if nothing better is found */
		if (found && strcmp(root, "/"))
			continue;
		if (found) {
			free(*mountpoint);
			free(*source);
		}
		*mountpoint = mountinfo_unescape(mnt);
		*source = mountinfo_unescape(src);
		found = true;
		if (!strcmp(root, "/"))
			break;
	}
	free(line);
	fclose(f);
	return found;
}

/* ---- names ------------------------------------------------------------- */

static const char *const state_names[] = {
	[REFLINKFS_MOUNT_STATE_RW]		= "rw",
	[REFLINKFS_MOUNT_STATE_RO]		= "ro",
	[REFLINKFS_MOUNT_STATE_ERROR]		= "error",
};

static const char *const event_names[] = {
	[REFLINKFS_EVENT_TYPE_MOUNT]		= "mount",
	[REFLINKFS_EVENT_TYPE_UNMOUNT]		= "unmount",
	[REFLINKFS_EVENT_TYPE_REFLINK]		= "reflink",
	[REFLINKFS_EVENT_TYPE_SNAPSHOT]		= "snapshot",
	[REFLINKFS_EVENT_TYPE_CLONE]		= "clone",
	[REFLINKFS_EVENT_TYPE_DEDUPE]		= "dedupe",
	[REFLINKFS_EVENT_TYPE_UNSHARE]		= "unshare",
	[REFLINKFS_EVENT_TYPE_COW]		= "cow",
	[REFLINKFS_EVENT_TYPE_ENOSPC]		= "enospc",
	[REFLINKFS_EVENT_TYPE_CORRUPTION]	= "corruption",
};

static const char *const site_names[] = {
	[REFLINKFS_FAULT_SITE_ALLOC]		= "alloc",
	[REFLINKFS_FAULT_SITE_META_READ]	= "meta-read",
	[REFLINKFS_FAULT_SITE_META_WRITE]	= "meta-write",
	[REFLINKFS_FAULT_SITE_TRANS]		= "trans",
};

const char tool_nl_site_list[] = "alloc, meta-read, meta-write, trans";

#define NAME_OF(table, v) \
	((v) < ARRAY_SIZE(table) ? (table)[v] : NULL)

const char *tool_nl_state_name(uint32_t state)
{
	return NAME_OF(state_names, state);
}

const char *tool_nl_event_name(uint32_t type)
{
	return NAME_OF(event_names, type);
}

const char *tool_nl_site_name(uint32_t site)
{
	return NAME_OF(site_names, site);
}

uint32_t tool_nl_site_parse(const char *name)
{
	uint32_t i;

	for (i = 0; i < ARRAY_SIZE(site_names); i++)
		if (site_names[i] && !strcmp(site_names[i], name))
			return i;
	return 0;
}

const char *tool_errno_name(int err)
{
	return err > 0 ? strerrorname_np(err) : NULL;
}

int tool_errno_parse(const char *s)
{
	unsigned int v;
	const char *name;
	int i;

	if (tool_parse_uint(s, &v))
		return v > 0 && v < 4096 ? (int)v : 0;
	for (i = 1; i < 4096; i++) {
		name = strerrorname_np(i);
		if (name && !strcasecmp(name, s))
			return i;
	}
	return 0;
}

bool tool_parse_u64(const char *s, uint64_t *val)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*val = v;
	return true;
}

void tool_human_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {
		"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	double v = bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else if (v < 10)
		snprintf(buf, len, "%.1f %s", v, units[u]);
	else
		snprintf(buf, len, "%.0f %s", v, units[u]);
}
