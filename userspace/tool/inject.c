// SPDX-License-Identifier: GPL-2.0
/*
 * inject.c - reflinkfs inject: the fault injection of the reflinkfs
 * family, on the instance holding MOUNTPOINT (named by fd).
 *
 *   inject MOUNTPOINT SITE [--nth N] [--every M] [--errno E]   FAULT_SET
 *   inject MOUNTPOINT --list [--json]                          FAULT_GET
 *   inject MOUNTPOINT --clear [SITE]                           FAULT_CLEAR
 *   inject MOUNTPOINT --refcount-max N                         FAULT_SET
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "nl.h"

#define INJECT_DEFAULT_ERRNO	EIO
#define INJECT_MAX_ENTRIES	64

enum inject_mode {
	INJECT_SET,
	INJECT_LIST,
	INJECT_CLEAR,
};

struct inject_entry {
	bool		have[REFLINKFS_A_FAULT_ENTRY_MAX + 1];
	uint64_t	val[REFLINKFS_A_FAULT_ENTRY_MAX + 1];
};

struct inject_list {
	bool			have_dev;
	uint32_t		dev;
	bool			have_rcmax;
	uint32_t		rcmax;
	struct inject_entry	e[INJECT_MAX_ENTRIES];
	size_t			nr;
	bool			truncated;
	int			bad;
};

static struct nla_policy fault_policy[REFLINKFS_A_FAULT_MAX + 1] = {
	[REFLINKFS_A_FAULT_DEV]		= { .type = NLA_U32 },
	[REFLINKFS_A_FAULT_ENTRY]	= { .type = NLA_NESTED },
	[REFLINKFS_A_FAULT_REFCOUNT_MAX] = { .type = NLA_U32 },
};

static struct nla_policy entry_policy[REFLINKFS_A_FAULT_ENTRY_MAX + 1] = {
	[REFLINKFS_A_FAULT_ENTRY_SITE]	= { .type = NLA_U32 },
	[REFLINKFS_A_FAULT_ENTRY_NTH]	= { .type = NLA_U64 },
	[REFLINKFS_A_FAULT_ENTRY_EVERY]	= { .type = NLA_U64 },
	[REFLINKFS_A_FAULT_ENTRY_ERRNO]	= { .type = NLA_U32 },
	[REFLINKFS_A_FAULT_ENTRY_CALLS]	= { .type = NLA_U64 },
	[REFLINKFS_A_FAULT_ENTRY_FIRED]	= { .type = NLA_U64 },
};

/* The u64 fields of an entry as the table and JSON show them. */
static const struct {
	int		attr;
	const char	*key;
} entry_counts[] = {
	{ REFLINKFS_A_FAULT_ENTRY_NTH,		"nth" },
	{ REFLINKFS_A_FAULT_ENTRY_EVERY,	"every" },
	{ REFLINKFS_A_FAULT_ENTRY_CALLS,	"calls" },
	{ REFLINKFS_A_FAULT_ENTRY_FIRED,	"fired" },
};

/* The FAULT_GET reply: the dev and one nest per armed site. */
static int inject_parse(struct nl_msg *msg, void *arg)
{
	struct inject_list *list = arg;
	struct nlattr *tb[REFLINKFS_A_FAULT_MAX + 1];
	struct nlattr *etb[REFLINKFS_A_FAULT_ENTRY_MAX + 1];
	struct nlattr *nla;
	struct inject_entry *e;
	int rem, ret, i;

	ret = genlmsg_parse(nlmsg_hdr(msg), 0, tb, REFLINKFS_A_FAULT_MAX,
			    fault_policy);
	if (ret < 0) {
		list->bad = ret;
		return NL_SKIP;
	}
	if (tb[REFLINKFS_A_FAULT_DEV]) {
		list->have_dev = true;
		list->dev = nla_get_u32(tb[REFLINKFS_A_FAULT_DEV]);
	}
	if (tb[REFLINKFS_A_FAULT_REFCOUNT_MAX]) {
		list->have_rcmax = true;
		list->rcmax = nla_get_u32(tb[REFLINKFS_A_FAULT_REFCOUNT_MAX]);
	}
	/* multi-attr: walk every attribute, not just the last of the type */
	nlmsg_for_each_attr(nla, nlmsg_hdr(msg), GENL_HDRLEN, rem) {
		if (nla_type(nla) != REFLINKFS_A_FAULT_ENTRY)
			continue;
		ret = nla_parse_nested(etb, REFLINKFS_A_FAULT_ENTRY_MAX, nla,
				       entry_policy);
		if (ret < 0) {
			list->bad = ret;
			continue;
		}
		if (list->nr == INJECT_MAX_ENTRIES) {
			list->truncated = true;
			continue;
		}
		e = &list->e[list->nr++];
		memset(e, 0, sizeof(*e));
		for (i = 1; i <= REFLINKFS_A_FAULT_ENTRY_MAX; i++) {
			if (!etb[i])
				continue;
			if (entry_policy[i].type == NLA_U32)
				e->val[i] = nla_get_u32(etb[i]);
			else if (entry_policy[i].type == NLA_U64)
				e->val[i] = nla_get_u64(etb[i]);
			else
				continue;
			e->have[i] = true;
		}
	}
	return NL_OK;
}

static const char *entry_site(const struct inject_entry *e, char *buf,
			      size_t len)
{
	const char *name = NULL;

	if (e->have[REFLINKFS_A_FAULT_ENTRY_SITE])
		name = tool_nl_site_name(e->val[REFLINKFS_A_FAULT_ENTRY_SITE]);
	if (name)
		return name;
	if (!e->have[REFLINKFS_A_FAULT_ENTRY_SITE])
		return "?";
	snprintf(buf, len, "site-%" PRIu64, e->val[REFLINKFS_A_FAULT_ENTRY_SITE]);
	return buf;
}

static const char *entry_errno(const struct inject_entry *e, char *buf,
			       size_t len)
{
	const char *name = NULL;

	if (!e->have[REFLINKFS_A_FAULT_ENTRY_ERRNO])
		return "?";
	name = tool_errno_name(e->val[REFLINKFS_A_FAULT_ENTRY_ERRNO]);
	if (name)
		return name;
	snprintf(buf, len, "%" PRIu64, e->val[REFLINKFS_A_FAULT_ENTRY_ERRNO]);
	return buf;
}

static void inject_print(const struct inject_list *list)
{
	char sbuf[24], ebuf[24];
	size_t i, k;

	/* only a lowered limit is news */
	if (list->have_rcmax && list->rcmax != UINT32_MAX)
		printf("refcount-max %" PRIu32 "\n", list->rcmax);
	if (!list->nr) {
		printf("no fault armed\n");
		return;
	}
	printf("%-11s %10s %10s %-7s %10s %10s\n", "SITE", "NTH", "EVERY",
	       "ERRNO", "CALLS", "FIRED");
	for (i = 0; i < list->nr; i++) {
		const struct inject_entry *e = &list->e[i];
		char num[4][24];

		for (k = 0; k < ARRAY_SIZE(entry_counts); k++) {
			if (e->have[entry_counts[k].attr])
				snprintf(num[k], sizeof(num[k]), "%" PRIu64,
					 e->val[entry_counts[k].attr]);
			else
				snprintf(num[k], sizeof(num[k]), "-");
		}
		printf("%-11s %10s %10s %-7s %10s %10s\n",
		       entry_site(e, sbuf, sizeof(sbuf)), num[0], num[1],
		       entry_errno(e, ebuf, sizeof(ebuf)), num[2], num[3]);
	}
}

static void inject_print_json(const char *path, const struct inject_list *list)
{
	const char *name;
	char dev[24];
	struct json j;
	size_t i, k;

	json_document_begin(&j, stdout);
	json_string(&j, "path", path);
	if (list->have_dev) {
		tool_dev_format(list->dev, dev, sizeof(dev));
		json_u64(&j, "dev", list->dev);
		json_string(&j, "device", dev);
	} else {
		json_null(&j, "dev");
		json_null(&j, "device");
	}
	json_array_begin(&j, "faults");
	for (i = 0; i < list->nr; i++) {
		const struct inject_entry *e = &list->e[i];

		json_object_begin(&j, NULL);
		name = e->have[REFLINKFS_A_FAULT_ENTRY_SITE] ?
		       tool_nl_site_name(e->val[REFLINKFS_A_FAULT_ENTRY_SITE]) : NULL;
		if (name)
			json_string(&j, "site", name);
		else
			json_null(&j, "site");
		if (e->have[REFLINKFS_A_FAULT_ENTRY_SITE])
			json_u64(&j, "site_num", e->val[REFLINKFS_A_FAULT_ENTRY_SITE]);
		else
			json_null(&j, "site_num");
		name = e->have[REFLINKFS_A_FAULT_ENTRY_ERRNO] ?
		       tool_errno_name(e->val[REFLINKFS_A_FAULT_ENTRY_ERRNO]) : NULL;
		if (name)
			json_string(&j, "errno", name);
		else
			json_null(&j, "errno");
		if (e->have[REFLINKFS_A_FAULT_ENTRY_ERRNO])
			json_u64(&j, "errno_num", e->val[REFLINKFS_A_FAULT_ENTRY_ERRNO]);
		else
			json_null(&j, "errno_num");
		for (k = 0; k < ARRAY_SIZE(entry_counts); k++) {
			if (e->have[entry_counts[k].attr])
				json_u64(&j, entry_counts[k].key,
					 e->val[entry_counts[k].attr]);
			else
				json_null(&j, entry_counts[k].key);
		}
		json_object_end(&j);
	}
	json_array_end(&j);
	if (list->have_rcmax)
		json_u64(&j, "refcount_max", list->rcmax);
	else
		json_null(&j, "refcount_max");
	json_document_end(&j);
}

static int inject_parse_site(const struct tool_cmd *cmd, const char *s,
			     uint32_t *site)
{
	*site = tool_nl_site_parse(s);
	if (!*site)
		return tool_usage_error(cmd, "unknown fault site '%s' (one of %s)",
					s, tool_nl_site_list);
	return -1;
}

enum {
	OPT_NTH = TOOL_OPT_FIRST_PRIVATE,
	OPT_EVERY,
	OPT_ERRNO,
	OPT_LIST,
	OPT_CLEAR,
	OPT_RCMAX,
};

static int inject_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nth",	required_argument,	NULL, OPT_NTH },
		{ "every",	required_argument,	NULL, OPT_EVERY },
		{ "errno",	required_argument,	NULL, OPT_ERRNO },
		{ "list",	no_argument,		NULL, OPT_LIST },
		{ "clear",	no_argument,		NULL, OPT_CLEAR },
		{ "refcount-max", required_argument,	NULL, OPT_RCMAX },
		TOOL_LONGOPT_HELP, TOOL_LONGOPT_JSON, TOOL_LONGOPT_END,
	};
	enum inject_mode mode = INJECT_SET;
	uint64_t nth = 1, every = 0, rcmax = 0;
	int err = INJECT_DEFAULT_ERRNO;
	bool json = false, set_opts = false, mode_set = false;
	struct inject_list list = { 0 };
	const char *path, *site_arg = NULL;
	uint32_t site = 0;
	struct tool_nl nl;
	struct nl_msg *msg;
	int c, fd, ret, nargs;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_NTH:
			if (!tool_parse_u64(optarg, &nth) || !nth)
				return tool_usage_error(cmd, "invalid --nth '%s' "
							"(1 or more)", optarg);
			set_opts = true;
			break;
		case OPT_EVERY:
			if (!tool_parse_u64(optarg, &every))
				return tool_usage_error(cmd, "invalid --every '%s'",
							optarg);
			set_opts = true;
			break;
		case OPT_ERRNO:
			err = tool_errno_parse(optarg);
			if (!err)
				return tool_usage_error(cmd, "invalid --errno '%s' "
							"(ENOSPC, EIO or ENOMEM)",
							optarg);
			set_opts = true;
			break;
		case OPT_RCMAX:
			if (!tool_parse_u64(optarg, &rcmax) || !rcmax ||
			    rcmax > UINT32_MAX)
				return tool_usage_error(cmd, "invalid --refcount-max "
							"'%s' (1 to 4294967295)",
							optarg);
			break;
		case OPT_LIST:
		case OPT_CLEAR:
			if (mode_set)
				return tool_usage_error(cmd, "--list and --clear "
							"do not go together");
			mode_set = true;
			mode = c == OPT_LIST ? INJECT_LIST : INJECT_CLEAR;
			break;
		case TOOL_OPT_JSON:
			json = true;
			break;
		case TOOL_OPT_HELP:
			return tool_help(cmd);
		default:
			return tool_usage_error(cmd, NULL);
		}
	}
	nargs = argc - optind;
	if (mode != INJECT_SET && set_opts)
		return tool_usage_error(cmd, "--nth, --every and --errno arm a site: "
					"not with --list or --clear");
	if (json && mode != INJECT_LIST)
		return tool_usage_error(cmd, "--json goes with --list");
	if (rcmax && mode != INJECT_SET)
		return tool_usage_error(cmd, "--refcount-max sets the limit: "
					"not with --list or --clear");
	switch (mode) {
	case INJECT_SET:
		if (rcmax && nargs == 1 && !set_opts)
			break;	/* only the refcount limit */
		if (nargs != 2)
			return tool_usage_error(cmd, "expected MOUNTPOINT and a site "
						"(%s)", tool_nl_site_list);
		site_arg = argv[optind + 1];
		break;
	case INJECT_LIST:
		if (nargs != 1)
			return tool_usage_error(cmd, "expected one MOUNTPOINT");
		break;
	case INJECT_CLEAR:
		if (nargs < 1 || nargs > 2)
			return tool_usage_error(cmd, "expected MOUNTPOINT and at "
						"most one site");
		if (nargs == 2)
			site_arg = argv[optind + 1];
		break;
	}
	if (site_arg) {
		ret = inject_parse_site(cmd, site_arg, &site);
		if (ret >= 0)
			return ret;
	}
	path = argv[optind];

	fd = tool_nl_open_instance(path, cmd, NULL);
	if (fd < 0)
		return TOOL_EXIT_FAIL;
	if (tool_nl_open(&nl)) {
		close(fd);
		return TOOL_EXIT_FAIL;
	}
	switch (mode) {
	case INJECT_SET:
		msg = tool_nl_msg(&nl, REFLINKFS_CMD_FAULT_SET, 0);
		nla_put_s32(msg, REFLINKFS_A_FAULT_FD, fd);
		if (site) {
			nla_put_u32(msg, REFLINKFS_A_FAULT_SITE, site);
			nla_put_u64(msg, REFLINKFS_A_FAULT_NTH, nth);
			nla_put_u64(msg, REFLINKFS_A_FAULT_EVERY, every);
			nla_put_u32(msg, REFLINKFS_A_FAULT_ERRNO, err);
		}
		if (rcmax)
			nla_put_u32(msg, REFLINKFS_A_FAULT_REFCOUNT_MAX,
				    (uint32_t)rcmax);
		ret = tool_nl_request(&nl, msg, NULL, NULL);
		break;
	case INJECT_CLEAR:
		msg = tool_nl_msg(&nl, REFLINKFS_CMD_FAULT_CLEAR, 0);
		nla_put_s32(msg, REFLINKFS_A_FAULT_FD, fd);
		if (site)
			nla_put_u32(msg, REFLINKFS_A_FAULT_SITE, site);
		ret = tool_nl_request(&nl, msg, NULL, NULL);
		break;
	default:
		msg = tool_nl_msg(&nl, REFLINKFS_CMD_FAULT_GET, 0);
		nla_put_s32(msg, REFLINKFS_A_FAULT_FD, fd);
		ret = tool_nl_request(&nl, msg, inject_parse, &list);
		break;
	}
	close(fd);
	if (ret) {
		ret = tool_nl_report(&nl, path, ret == EPERM && mode != INJECT_LIST ?
				     "arming and clearing faults needs CAP_SYS_ADMIN" :
				     NULL);
		goto out;
	}
	ret = TOOL_EXIT_OK;
	if (mode != INJECT_LIST)
		goto out;
	if (list.bad) {
		ret = tool_errx("malformed FAULT_GET reply from the kernel: %s",
				nl_geterror(list.bad));
		goto out;
	}
	if (list.truncated)
		ret = tool_errx("more than %d faults in the FAULT_GET reply: "
				"showing the first", INJECT_MAX_ENTRIES);
	if (json)
		inject_print_json(path, &list);
	else
		inject_print(&list);
out:
	tool_nl_close(&nl);
	return ret;
}

const struct tool_cmd tool_cmd_inject = {
	.name		= "inject",
	.synopsis	= "MOUNTPOINT SITE [--nth N] [--every M] [--errno E]\n"
	"       reflinkfs inject MOUNTPOINT --list [--json]\n"
	"       reflinkfs inject MOUNTPOINT --clear [SITE]\n"
	"       reflinkfs inject MOUNTPOINT --refcount-max N",
	.summary	= "Make a reflinkfs filesystem fail on purpose (fault injection).",
	.help		=
"Arms a fault site of the reflinkfs filesystem holding MOUNTPOINT (the\n"
"mount point or any file on it; generic netlink FAULT_SET): the Nth call\n"
"through SITE from now fails with errno E, and then every Mth call after\n"
"it.  Re-arming a site replaces it; every fault is cleared at unmount.\n"
"The sites:\n"
"\n"
"  alloc        block allocation (data, extent, xattr, directory,\n"
"               refcount blocks)\n"
"  meta-read    reading a metadata block from disk or cache\n"
"  meta-write   getting write access to a metadata block in a transaction\n"
"  trans        starting a journal transaction\n"
"\n"
"--list shows the armed sites with how many calls went through each\n"
"since it was armed and how many of them failed (FAULT_GET); --clear\n"
"disarms SITE, or every site (FAULT_CLEAR), and then also restores the\n"
"refcount limit.\n"
"\n"
"--refcount-max N lowers the highest reference count a block may reach on\n"
"this mount (normally 4294967295) to N, so that the limit can be tested\n"
"with a few clones: a clone, dedupe or reflink that would pass it fails\n"
"with EMLINK.  4294967295 restores it; so does an unmount.\n"
"\n"
"Arming and clearing need CAP_SYS_ADMIN; anyone may --list.\n"
"\n"
"Options:\n"
"      --nth N      the first call that fails, 1 (the next) or more\n"
"                   (default 1)\n"
"      --every M    after it, every Mth call fails too; 0: only once\n"
"                   (default 0)\n"
"      --errno E    ENOSPC, EIO or ENOMEM (default EIO); other names and\n"
"                   numbers are passed on, for the kernel to refuse\n"
"      --list       show the armed faults\n"
"      --clear      disarm SITE, or all sites\n"
"      --refcount-max N  limit reference counts to N (1 or more)\n"
"      --json       with --list: print a JSON object (see reflinkfs(8))\n"
"  -h, --help       show this help\n",
	.run		= inject_run,
};
