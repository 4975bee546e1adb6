// SPDX-License-Identifier: GPL-2.0
/*
 * monitor.c - reflinkfs monitor [MOUNTPOINT]: the events multicast group
 * of the reflinkfs family, one line per event until SIGINT or SIGTERM.
 *
 * The socket also listens to nlctrl's "notify" group: when the module is
 * unloaded the kernel drops our membership and says so (DELFAMILY); when
 * it is loaded again (NEWFAMILY, with the new group ids) we join again,
 * so a monitor outlives a module reload.
 *
 * Signals: SIGINT and SIGTERM are blocked except inside ppoll(), so they
 * cannot be lost between the check of the flag and the wait (libnl
 * itself retries a recvmsg() that a signal interrupted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "nl.h"

#define MONITOR_RCVBUF	(4 << 20)

struct monitor {
	struct nl_sock	*sk;
	int		family;		/* -1 while the family is gone */
	int		group;		/* "events", -1 while gone */
	bool		json;
	bool		quiet;
	bool		filter;		/* only events of dev */
	uint32_t	dev;
	int		failed;		/* TOOL_EXIT_FAIL: stop */
};

static volatile sig_atomic_t monitor_signal;

static void monitor_on_signal(int sig)
{
	monitor_signal = sig;
}

static void monitor_note(const struct monitor *m, const char *fmt, ...)
	TOOL_PRINTF(2, 3);

/* "reflinkfs monitor: ..." on stderr, unless --quiet. */
static void monitor_note(const struct monitor *m, const char *fmt, ...)
{
	va_list ap;

	if (m->quiet)
		return;
	fflush(stdout);
	fputs(TOOL_NAME " monitor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- events ------------------------------------------------------------- */

static struct nla_policy event_policy[REFLINKFS_A_EVENT_MAX + 1] = {
	[REFLINKFS_A_EVENT_DEV]		= { .type = NLA_U32 },
	[REFLINKFS_A_EVENT_TYPE]	= { .type = NLA_U32 },
	[REFLINKFS_A_EVENT_INO]		= { .type = NLA_U64 },
	[REFLINKFS_A_EVENT_INO_SRC]	= { .type = NLA_U64 },
	[REFLINKFS_A_EVENT_OFFSET]	= { .type = NLA_U64 },
	[REFLINKFS_A_EVENT_LENGTH]	= { .type = NLA_U64 },
	[REFLINKFS_A_EVENT_BLOCKS]	= { .type = NLA_U64 },
	[REFLINKFS_A_EVENT_BLOCK]	= { .type = NLA_U64 },
};

/* The optional attributes, in the order printed. */
static const struct {
	int		attr;
	const char	*key;
} event_fields[] = {
	{ REFLINKFS_A_EVENT_INO,	"ino" },
	{ REFLINKFS_A_EVENT_INO_SRC,	"ino_src" },
	{ REFLINKFS_A_EVENT_OFFSET,	"offset" },
	{ REFLINKFS_A_EVENT_LENGTH,	"length" },
	{ REFLINKFS_A_EVENT_BLOCKS,	"blocks" },
	{ REFLINKFS_A_EVENT_BLOCK,	"block" },
};

static void monitor_print(struct monitor *m, struct nlattr **tb)
{
	uint32_t dev = nla_get_u32(tb[REFLINKFS_A_EVENT_DEV]);
	uint32_t type = nla_get_u32(tb[REFLINKFS_A_EVENT_TYPE]);
	const char *name = tool_nl_event_name(type);
	char devs[24], when[32], tname[24];
	struct timespec ts;
	struct tm tm;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	tool_dev_format(dev, devs, sizeof(devs));
	if (!name) {
		snprintf(tname, sizeof(tname), "type-%" PRIu32, type);
		name = tname;
	}
	if (m->json) {
		/* one line: the names are ASCII and need no escaping */
		printf("{\"version\": 1, \"time\": %lld.%06ld, \"dev\": %" PRIu32
		       ", \"device\": \"%s\", \"type\": \"%s\", \"type_num\": %"
		       PRIu32, (long long)ts.tv_sec, ts.tv_nsec / 1000, dev, devs,
		       name, type);
		for (i = 0; i < ARRAY_SIZE(event_fields); i++)
			if (tb[event_fields[i].attr])
				printf(", \"%s\": %" PRIu64, event_fields[i].key,
				       nla_get_u64(tb[event_fields[i].attr]));
		printf("}\n");
	} else {
		if (!localtime_r(&ts.tv_sec, &tm) ||
		    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
			snprintf(when, sizeof(when), "@%lld", (long long)ts.tv_sec);
		printf("%s.%06ld %s %s", when, ts.tv_nsec / 1000, devs, name);
		for (i = 0; i < ARRAY_SIZE(event_fields); i++)
			if (tb[event_fields[i].attr])
				printf(" %s=%" PRIu64, event_fields[i].key,
				       nla_get_u64(tb[event_fields[i].attr]));
		putchar('\n');
	}
	/* readers of a pipe see each event when it happens */
	if (fflush(stdout) || ferror(stdout)) {
		tool_err("standard output", errno ? errno : EIO);
		m->failed = TOOL_EXIT_FAIL;
	}
}

static int monitor_event(struct monitor *m, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[REFLINKFS_A_EVENT_MAX + 1];
	int ret;

	if (genlmsg_hdr(h)->cmd != REFLINKFS_CMD_EVENT)
		return NL_SKIP;
	ret = genlmsg_parse(h, 0, tb, REFLINKFS_A_EVENT_MAX, event_policy);
	if (ret < 0 || !tb[REFLINKFS_A_EVENT_DEV] || !tb[REFLINKFS_A_EVENT_TYPE]) {
		monitor_note(m, "malformed event skipped: %s",
			     ret < 0 ? nl_geterror(ret) : "no dev or type");
		return NL_SKIP;
	}
	if (m->filter && nla_get_u32(tb[REFLINKFS_A_EVENT_DEV]) != m->dev)
		return NL_SKIP;
	monitor_print(m, tb);
	return m->failed ? NL_STOP : NL_OK;
}

/* ---- the family going and coming back ------------------------------------ */

static bool nla_is(const struct nlattr *nla, const char *s)
{
	size_t n = strlen(s);

	return nla && (size_t)nla_len(nla) >= n + 1 &&
	       !memcmp(nla_data(nla), s, n) && !((char *)nla_data(nla))[n];
}

/* The id of the "events" group in a CTRL_ATTR_MCAST_GROUPS nest, or -1. */
static int monitor_find_group(struct nlattr *groups)
{
	struct nlattr *tb[CTRL_ATTR_MCAST_GRP_MAX + 1];
	struct nlattr *g;
	int rem;

	if (!groups)
		return -1;
	nla_for_each_nested(g, groups, rem) {
		if (nla_parse_nested(tb, CTRL_ATTR_MCAST_GRP_MAX, g, NULL) < 0)
			continue;
		if (nla_is(tb[CTRL_ATTR_MCAST_GRP_NAME], REFLINKFS_MCGRP_EVENTS) &&
		    tb[CTRL_ATTR_MCAST_GRP_ID] &&
		    nla_len(tb[CTRL_ATTR_MCAST_GRP_ID]) == 4)
			return nla_get_u32(tb[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return -1;
}

static int monitor_ctrl(struct monitor *m, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[CTRL_ATTR_MAX + 1];
	int cmd = genlmsg_hdr(h)->cmd, group, ret;

	if (genlmsg_parse(h, 0, tb, CTRL_ATTR_MAX, NULL) < 0 ||
	    !nla_is(tb[CTRL_ATTR_FAMILY_NAME], REFLINKFS_FAMILY_NAME))
		return NL_SKIP;
	switch (cmd) {
	case CTRL_CMD_DELFAMILY:
		if (m->family >= 0)
			monitor_note(m, "the reflinkfs family is gone (module "
				     "unloaded); waiting for it to come back");
		m->family = -1;
		m->group = -1;
		break;
	case CTRL_CMD_NEWFAMILY:
	case CTRL_CMD_NEWMCAST_GRP:
		group = monitor_find_group(tb[CTRL_ATTR_MCAST_GROUPS]);
		if (group < 0 || !tb[CTRL_ATTR_FAMILY_ID] ||
		    nla_len(tb[CTRL_ATTR_FAMILY_ID]) != 2)
			break;
		if (m->family >= 0 && m->group == group)
			break;
		ret = nl_socket_add_membership(m->sk, group);
		if (ret < 0) {
			tool_errx("cannot join the reflinkfs events group again: %s",
				  nl_geterror(ret));
			m->failed = TOOL_EXIT_FAIL;
			return NL_STOP;
		}
		m->family = nla_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
		m->group = group;
		monitor_note(m, "the reflinkfs family is back; listening again");
		break;
	default:
		break;
	}
	return NL_OK;
}

static int monitor_msg(struct nl_msg *msg, void *arg)
{
	struct monitor *m = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);

	if (!genlmsg_valid_hdr(h, 0))
		return NL_SKIP;
	if (h->nlmsg_type == GENL_ID_CTRL)
		return monitor_ctrl(m, msg);
	if (m->family >= 0 && h->nlmsg_type == m->family)
		return monitor_event(m, msg);
	return NL_SKIP;
}

/* ---- the loop ------------------------------------------------------------- */

static int monitor_loop(struct monitor *m, const sigset_t *waitmask)
{
	struct pollfd p = { .fd = nl_socket_get_fd(m->sk), .events = POLLIN };
	int ret;

	while (!monitor_signal && !m->failed) {
		ret = ppoll(&p, 1, NULL, waitmask);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return tool_err("poll", errno);
		}
		ret = nl_recvmsgs_default(m->sk);
		if (ret >= 0 || ret == -NLE_AGAIN)
			continue;
		if (ret == -NLE_NOMEM) {
			/* ENOBUFS: the kernel dropped messages for us */
			monitor_note(m, "events were lost: the receive buffer "
				     "overflowed");
			continue;
		}
		return tool_errx("receiving events: %s", nl_geterror(ret));
	}
	return m->failed;
}

static int monitor_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		TOOL_LONGOPT_HELP, TOOL_LONGOPT_JSON, TOOL_LONGOPT_END,
	};
	struct monitor m = { .family = -1, .group = -1 };
	const char *path = NULL;
	struct sigaction sa;
	sigset_t block, waitmask;
	struct tool_nl nl;
	struct stat st;
	int c, fd, ret, ctrl;

	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			m.quiet = true;
			break;
		case TOOL_OPT_JSON:
			m.json = true;
			break;
		case TOOL_OPT_HELP:
			return tool_help(cmd);
		default:
			return tool_usage_error(cmd, NULL);
		}
	}
	if (argc - optind > 1)
		return tool_usage_error(cmd, "expected at most one MOUNTPOINT");
	if (argc - optind == 1) {
		path = argv[optind];
		fd = tool_nl_open_instance(path, cmd, &st);
		if (fd < 0)
			return TOOL_EXIT_FAIL;
		close(fd);
		m.filter = true;
		m.dev = tool_dev_encode(st.st_dev);
	}

	if (tool_nl_open(&nl))
		return TOOL_EXIT_FAIL;
	m.sk = nl.sk;
	m.family = nl.family;
	m.group = genl_ctrl_resolve_grp(m.sk, REFLINKFS_FAMILY_NAME,
					REFLINKFS_MCGRP_EVENTS);
	if (m.group < 0) {
		tool_errx("reflinkfs module too old: the family " REFLINKFS_FAMILY_NAME
			  " has no multicast group " REFLINKFS_MCGRP_EVENTS " (%s)",
			  nl_geterror(m.group));
		goto out_fail;
	}
	/* nlctrl's notifications: the module going and coming back */
	ctrl = genl_ctrl_resolve_grp(m.sk, "nlctrl", "notify");

	/* from here on the socket only receives multicast messages */
	nl_socket_disable_seq_check(m.sk);
	nl_socket_modify_cb(m.sk, NL_CB_VALID, NL_CB_CUSTOM, monitor_msg, &m);
	ret = nl_socket_add_membership(m.sk, m.group);
	if (ret < 0) {
		tool_errx("cannot join the reflinkfs events group: %s",
			  nl_geterror(ret));
		goto out_fail;
	}
	if (ctrl >= 0 && nl_socket_add_membership(m.sk, ctrl) < 0)
		monitor_note(&m, "cannot follow module unload and reload");
	nl_socket_set_nonblocking(m.sk);
	(void)nl_socket_set_buffer_size(m.sk, MONITOR_RCVBUF, 0);

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = monitor_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (m.filter)
		monitor_note(&m, "listening for events of %s (device %u:%u); "
			     "interrupt to stop", path, major(st.st_dev),
			     minor(st.st_dev));
	else
		monitor_note(&m, "listening for events of every reflinkfs "
			     "filesystem; interrupt to stop");

	ret = monitor_loop(&m, &waitmask);
	tool_nl_close(&nl);
	return ret;

out_fail:
	tool_nl_close(&nl);
	return TOOL_EXIT_FAIL;
}

const struct tool_cmd tool_cmd_monitor = {
	.name		= "monitor",
	.synopsis	= "[--json] [--quiet] [MOUNTPOINT]",
	.summary	= "Print the events of mounted reflinkfs filesystems as they happen.",
	.help		=
"Joins the events multicast group of the generic netlink family\n"
"reflinkfs and prints one line per event, until interrupted (SIGINT or\n"
"SIGTERM: exit status 0).  With MOUNTPOINT (or any file on it), only the\n"
"events of that filesystem.  Each line has the time it was received, the\n"
"device (MAJOR:MINOR), the event and its attributes as KEY=VALUE:\n"
"\n"
"  mount, unmount          (nothing else)\n"
"  reflink, snapshot       ino (the new file), ino_src\n"
"  clone, dedupe           ino (the destination), ino_src, offset, length\n"
"  unshare                 ino, offset, length (bytes), blocks (copied)\n"
"  cow                     ino, blocks copied by copy on write in one\n"
"                          journal transaction (sent when it commits)\n"
"  enospc                  ino\n"
"  corruption              block (0 if unknown)\n"
"\n"
"Standard output is flushed after every line.  A note on standard error\n"
"says when the monitor is listening, when events were lost (the socket's\n"
"buffer overflowed) and when the module was unloaded; the monitor then\n"
"waits and listens again once the module is loaded.\n"
"\n"
"Any user may listen.\n"
"\n"
"Options:\n"
"      --json    one JSON object per line (see reflinkfs(8))\n"
"  -q, --quiet   no notes on standard error (errors are still shown)\n"
"  -h, --help    show this help\n",
	.run		= monitor_run,
};
