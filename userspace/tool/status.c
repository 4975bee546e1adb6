// SPDX-License-Identifier: GPL-2.0
/*
 * status.c - reflinkfs status [MOUNTPOINT|--all]: every field of the
 * family's STATUS_GET, for one instance (a do request naming it by the fd
 * of MOUNTPOINT) or for all of them (a dump, also without an argument).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "nl.h"

enum status_kind {
	STATUS_NUMBER,		/* a count */
	STATUS_BLOCKS,		/* a count of blocks: also shown in bytes */
	STATUS_BYTES,		/* bytes: also shown in human units */
};

/* The numeric fields, in the order they are printed. */
static const struct status_field {
	int		attr;
	const char	*key;		/* JSON */
	const char	*label;		/* text */
	enum status_kind kind;
} status_fields[] = {
	{ REFLINKFS_A_STATUS_BLOCK_SIZE, "block_size", "block size", STATUS_NUMBER },
	{ REFLINKFS_A_STATUS_BLOCKS_TOTAL, "blocks_total", "blocks total", STATUS_BLOCKS },
	{ REFLINKFS_A_STATUS_BLOCKS_FREE, "blocks_free", "blocks free", STATUS_BLOCKS },
	{ REFLINKFS_A_STATUS_BLOCKS_USED, "blocks_used", "blocks used", STATUS_BLOCKS },
	{ REFLINKFS_A_STATUS_SHARED_BLOCKS, "shared_blocks", "shared blocks", STATUS_BLOCKS },
	{ REFLINKFS_A_STATUS_REFCOUNT_RECORDS, "refcount_records", "refcount records", STATUS_NUMBER },
	{ REFLINKFS_A_STATUS_LOGICAL_BYTES, "logical_bytes", "logical bytes", STATUS_BYTES },
	{ REFLINKFS_A_STATUS_PHYSICAL_BYTES, "physical_bytes", "physical bytes", STATUS_BYTES },
	{ REFLINKFS_A_STATUS_REFLINKS, "reflinks", "reflinks", STATUS_NUMBER },
	{ REFLINKFS_A_STATUS_SNAPSHOTS, "snapshots", "snapshots", STATUS_NUMBER },
	{ REFLINKFS_A_STATUS_CLONES, "clones", "clones", STATUS_NUMBER },
	{ REFLINKFS_A_STATUS_DEDUPES, "dedupes", "dedupes", STATUS_NUMBER },
	{ REFLINKFS_A_STATUS_COW_BLOCKS, "cow_blocks", "cow blocks", STATUS_BLOCKS },
	{ REFLINKFS_A_STATUS_UNSHARED_BLOCKS, "unshared_blocks", "unshared blocks", STATUS_BLOCKS },
	{ REFLINKFS_A_STATUS_ENOSPC, "enospc", "enospc", STATUS_NUMBER },
	{ REFLINKFS_A_STATUS_CORRUPTIONS, "corruptions", "corruptions", STATUS_NUMBER },
	{ REFLINKFS_A_STATUS_COMMITS, "commits", "commits", STATUS_NUMBER },
};

#define STATUS_UUID_LEN		16
#define STATUS_LABEL_MAX	64

struct status_inst {
	bool		have[REFLINKFS_A_STATUS_MAX + 1];
	uint64_t	val[REFLINKFS_A_STATUS_MAX + 1];	/* numbers */
	char		uuid[40];			/* canonical, "" */
	char		label[STATUS_LABEL_MAX];
	char		*mountpoint, *source;		/* mountinfo, NULL */
};

struct status_list {
	struct status_inst	*inst;
	size_t			nr;
	int			bad;	/* a reply that did not parse */
};

static struct nla_policy status_policy[REFLINKFS_A_STATUS_MAX + 1] = {
	[REFLINKFS_A_STATUS_DEV]		= { .type = NLA_U32 },
	[REFLINKFS_A_STATUS_UUID]		= { .type = NLA_UNSPEC },
	[REFLINKFS_A_STATUS_LABEL]		= { .type = NLA_UNSPEC },
	[REFLINKFS_A_STATUS_STATE]		= { .type = NLA_U32 },
	[REFLINKFS_A_STATUS_BLOCK_SIZE]		= { .type = NLA_U32 },
	[REFLINKFS_A_STATUS_BLOCKS_TOTAL]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_BLOCKS_FREE]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_BLOCKS_USED]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_SHARED_BLOCKS]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_REFCOUNT_RECORDS]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_LOGICAL_BYTES]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_PHYSICAL_BYTES]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_REFLINKS]		= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_SNAPSHOTS]		= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_CLONES]		= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_DEDUPES]		= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_COW_BLOCKS]		= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_UNSHARED_BLOCKS]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_ENOSPC]		= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_CORRUPTIONS]	= { .type = NLA_U64 },
	[REFLINKFS_A_STATUS_COMMITS]		= { .type = NLA_U64 },
};

static void status_uuid(const uint8_t *u, char *buf, size_t len)
{
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* One STATUS_GET reply: one instance. */
static int status_parse(struct nl_msg *msg, void *arg)
{
	struct status_list *list = arg;
	struct nlattr *tb[REFLINKFS_A_STATUS_MAX + 1];
	struct status_inst *s;
	size_t len;
	int i, ret;

	ret = genlmsg_parse(nlmsg_hdr(msg), 0, tb, REFLINKFS_A_STATUS_MAX,
			    status_policy);
	if (ret < 0) {
		list->bad = ret;
		return NL_SKIP;
	}
	list->inst = tool_xrealloc(list->inst, list->nr + 1, sizeof(*s));
	s = &list->inst[list->nr++];
	memset(s, 0, sizeof(*s));
	for (i = 1; i <= REFLINKFS_A_STATUS_MAX; i++) {
		if (!tb[i])
			continue;
		switch (status_policy[i].type) {
		case NLA_U32:
			s->val[i] = nla_get_u32(tb[i]);
			s->have[i] = true;
			break;
		case NLA_U64:
			s->val[i] = nla_get_u64(tb[i]);
			s->have[i] = true;
			break;
		default:
			break;
		}
	}
	if (tb[REFLINKFS_A_STATUS_UUID] &&
	    nla_len(tb[REFLINKFS_A_STATUS_UUID]) == STATUS_UUID_LEN) {
		status_uuid(nla_data(tb[REFLINKFS_A_STATUS_UUID]), s->uuid,
			    sizeof(s->uuid));
		s->have[REFLINKFS_A_STATUS_UUID] = true;
	}
	if (tb[REFLINKFS_A_STATUS_LABEL]) {
		len = strnlen(nla_data(tb[REFLINKFS_A_STATUS_LABEL]),
			      nla_len(tb[REFLINKFS_A_STATUS_LABEL]));
		if (len >= sizeof(s->label))
			len = sizeof(s->label) - 1;
		memcpy(s->label, nla_data(tb[REFLINKFS_A_STATUS_LABEL]), len);
		s->label[len] = '\0';
		s->have[REFLINKFS_A_STATUS_LABEL] = true;
	}
	if (s->have[REFLINKFS_A_STATUS_DEV])
		tool_dev_mount(s->val[REFLINKFS_A_STATUS_DEV], &s->mountpoint,
			       &s->source);
	return NL_OK;
}

static void status_free(struct status_list *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++) {
		free(list->inst[i].mountpoint);
		free(list->inst[i].source);
	}
	free(list->inst);
}

/* logical - physical: what sharing saves; false if not known. */
static bool status_saved(const struct status_inst *s, uint64_t *saved)
{
	uint64_t l = s->val[REFLINKFS_A_STATUS_LOGICAL_BYTES];
	uint64_t p = s->val[REFLINKFS_A_STATUS_PHYSICAL_BYTES];

	if (!s->have[REFLINKFS_A_STATUS_LOGICAL_BYTES] ||
	    !s->have[REFLINKFS_A_STATUS_PHYSICAL_BYTES] || l < p)
		return false;
	*saved = l - p;
	return true;
}

static void status_json_inst(struct json *j, const struct status_inst *s)
{
	unsigned int ma, mi;
	char dev[24];
	const char *state;
	uint64_t saved;
	size_t i;

	json_object_begin(j, NULL);
	if (s->have[REFLINKFS_A_STATUS_DEV]) {
		tool_dev_decode(s->val[REFLINKFS_A_STATUS_DEV], &ma, &mi);
		tool_dev_format(s->val[REFLINKFS_A_STATUS_DEV], dev, sizeof(dev));
		json_u64(j, "dev", s->val[REFLINKFS_A_STATUS_DEV]);
		json_string(j, "device", dev);
		json_u64(j, "major", ma);
		json_u64(j, "minor", mi);
	} else {
		json_null(j, "dev");
		json_null(j, "device");
		json_null(j, "major");
		json_null(j, "minor");
	}
	if (s->mountpoint) {
		json_string(j, "mountpoint", s->mountpoint);
		json_string(j, "source", s->source);
	} else {
		json_null(j, "mountpoint");
		json_null(j, "source");
	}
	if (s->have[REFLINKFS_A_STATUS_UUID])
		json_string(j, "uuid", s->uuid);
	else
		json_null(j, "uuid");
	if (s->have[REFLINKFS_A_STATUS_LABEL])
		json_string(j, "label", s->label);
	else
		json_null(j, "label");
	if (s->have[REFLINKFS_A_STATUS_STATE]) {
		state = tool_nl_state_name(s->val[REFLINKFS_A_STATUS_STATE]);
		if (state)
			json_string(j, "state", state);
		else
			json_null(j, "state");
		json_u64(j, "state_num", s->val[REFLINKFS_A_STATUS_STATE]);
	} else {
		json_null(j, "state");
		json_null(j, "state_num");
	}
	for (i = 0; i < ARRAY_SIZE(status_fields); i++) {
		const struct status_field *f = &status_fields[i];

		if (s->have[f->attr])
			json_u64(j, f->key, s->val[f->attr]);
		else
			json_null(j, f->key);
	}
	if (status_saved(s, &saved))
		json_u64(j, "saved_bytes", saved);
	else
		json_null(j, "saved_bytes");
	json_object_end(j);
}

static void status_print_inst(const struct status_inst *s)
{
	uint64_t bsize = s->val[REFLINKFS_A_STATUS_BLOCK_SIZE], saved;
	char dev[24], human[32];
	const char *state;
	size_t i;

	if (!s->have[REFLINKFS_A_STATUS_BLOCK_SIZE])
		bsize = 0;
	if (s->have[REFLINKFS_A_STATUS_DEV])
		tool_dev_format(s->val[REFLINKFS_A_STATUS_DEV], dev, sizeof(dev));
	else
		snprintf(dev, sizeof(dev), "?");
	if (s->mountpoint)
		printf("%s on %s (device %s)\n", s->source, s->mountpoint, dev);
	else
		printf("device %s (mount point not found)\n", dev);
	printf("  %-18s %s\n", "uuid:", s->have[REFLINKFS_A_STATUS_UUID] ?
	       s->uuid : "-");
	printf("  %-18s %s\n", "label:", !s->have[REFLINKFS_A_STATUS_LABEL] ?
	       "-" : s->label[0] ? s->label : "(none)");
	if (s->have[REFLINKFS_A_STATUS_STATE]) {
		state = tool_nl_state_name(s->val[REFLINKFS_A_STATUS_STATE]);
		if (state)
			printf("  %-18s %s\n", "state:", state);
		else
			printf("  %-18s %" PRIu64 " (unknown)\n", "state:",
			       s->val[REFLINKFS_A_STATUS_STATE]);
	} else {
		printf("  %-18s -\n", "state:");
	}
	for (i = 0; i < ARRAY_SIZE(status_fields); i++) {
		const struct status_field *f = &status_fields[i];
		char label[32];
		uint64_t v = s->val[f->attr];

		snprintf(label, sizeof(label), "%s:", f->label);
		if (!s->have[f->attr]) {
			printf("  %-18s -\n", label);
			continue;
		}
		switch (f->kind) {
		case STATUS_BLOCKS:
			if (bsize && v <= UINT64_MAX / bsize) {
				tool_human_bytes(v * bsize, human, sizeof(human));
				printf("  %-18s %" PRIu64 " (%s)\n", label, v, human);
				break;
			}
			printf("  %-18s %" PRIu64 "\n", label, v);
			break;
		case STATUS_BYTES:
			tool_human_bytes(v, human, sizeof(human));
			printf("  %-18s %" PRIu64 " (%s)\n", label, v, human);
			break;
		default:
			printf("  %-18s %" PRIu64 "\n", label, v);
			break;
		}
		if (f->attr == REFLINKFS_A_STATUS_PHYSICAL_BYTES &&
		    status_saved(s, &saved)) {
			tool_human_bytes(saved, human, sizeof(human));
			printf("  %-18s %" PRIu64 " (%s)\n", "saved by sharing:",
			       saved, human);
		}
	}
}

static int status_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		TOOL_LONGOPT_HELP, TOOL_LONGOPT_JSON, TOOL_LONGOPT_END,
	};
	struct status_list list = { 0 };
	const char *path = NULL;
	bool all = false, json = false;
	struct tool_nl nl;
	struct nl_msg *msg;
	struct json j;
	int c, fd = -1, ret;
	size_t i;

	while ((c = getopt_long(argc, argv, "ha", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
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
	if (argc - optind > 1)
		return tool_usage_error(cmd, "expected at most one MOUNTPOINT");
	if (argc - optind == 1) {
		if (all)
			return tool_usage_error(cmd, "--all and a MOUNTPOINT do not go together");
		path = argv[optind];
	}

	if (path) {
		fd = tool_nl_open_instance(path, cmd, NULL);
		if (fd < 0)
			return TOOL_EXIT_FAIL;
	}
	if (tool_nl_open(&nl)) {
		if (fd >= 0)
			close(fd);
		return TOOL_EXIT_FAIL;
	}
	if (path) {
		msg = tool_nl_msg(&nl, REFLINKFS_CMD_STATUS_GET, 0);
		nla_put_s32(msg, REFLINKFS_A_STATUS_FD, fd);
	} else {
		msg = tool_nl_msg(&nl, REFLINKFS_CMD_STATUS_GET, NLM_F_DUMP);
	}
	ret = tool_nl_request(&nl, msg, status_parse, &list);
	if (fd >= 0)
		close(fd);
	if (ret) {
		ret = tool_nl_report(&nl, path, NULL);
		goto out;
	}
	if (list.bad) {
		ret = tool_errx("malformed STATUS_GET reply from the kernel: %s",
				nl_geterror(list.bad));
		goto out;
	}
	if (path && list.nr != 1) {
		ret = tool_err_msg(path, "STATUS_GET answered with %zu instances, "
				   "not one", list.nr);
		goto out;
	}

	if (json) {
		json_document_begin(&j, stdout);
		if (path)
			json_string(&j, "path", path);
		json_array_begin(&j, "instances");
		for (i = 0; i < list.nr; i++)
			status_json_inst(&j, &list.inst[i]);
		json_array_end(&j);
		json_document_end(&j);
	} else if (!list.nr) {
		printf("no reflinkfs filesystem is mounted\n");
	} else {
		for (i = 0; i < list.nr; i++) {
			if (i)
				putchar('\n');
			status_print_inst(&list.inst[i]);
		}
	}
	ret = TOOL_EXIT_OK;
out:
	status_free(&list);
	tool_nl_close(&nl);
	return ret;
}

const struct tool_cmd tool_cmd_status = {
	.name		= "status",
	.synopsis	= "[--json] [MOUNTPOINT | --all]",
	.summary	= "Show space, sharing and counters of mounted reflinkfs filesystems.",
	.help		=
"Asks the kernel (generic netlink family reflinkfs, STATUS_GET) for the\n"
"status of the reflinkfs filesystem holding MOUNTPOINT (the mount point\n"
"or any file on it), or with --all or without an argument of every\n"
"mounted one: device, UUID, label, state (rw, ro, error), block size;\n"
"blocks total, free (statfs f_bfree) and used (metadata included);\n"
"blocks shared (reference count 2 or more) and refcount tree records;\n"
"logical bytes (what the used blocks would take without sharing) and\n"
"physical bytes, and what sharing saves; and counters since mount:\n"
"reflinks, snapshots, clones, dedupes, blocks copied by copy on write\n"
"(unshares included), blocks copied by unshare, ENOSPC failures,\n"
"corruption reports and journal commits.  Sizes are exact, with human\n"
"units (powers of 1024) beside them.\n"
"\n"
"Needs the reflinkfs module with its netlink family; any user may ask.\n"
"\n"
"Options:\n"
"  -a, --all     every mounted reflinkfs filesystem (the default)\n"
"      --json    print a JSON object (see reflinkfs(8))\n"
"  -h, --help    show this help\n",
	.run		= status_run,
};
