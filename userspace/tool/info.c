// SPDX-License-Identifier: GPL-2.0
/*
 * info.c - reflinkfs info FILE: every field of REFLINKFS_IOC_GET_INFO.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tool.h"

static const struct {
	uint64_t	flag;
	const char	*name;
} info_flag_names[] = {
	{ REFLINKFS_INFO_SNAPSHOT,	"snapshot" },
	{ REFLINKFS_INFO_IMMUTABLE,	"immutable" },
	{ REFLINKFS_INFO_LINEAGE,	"lineage" },
};

void tool_info_flags(uint64_t flags, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(info_flag_names) && off < len; i++) {
		if (!(flags & info_flag_names[i].flag))
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? "," : "",
				info_flag_names[i].name);
		flags &= ~info_flag_names[i].flag;
	}
	/* bits this tool does not know yet */
	if (flags && off < len)
		off += snprintf(buf + off, len - off, "%s0x%" PRIx64,
				off ? "," : "", flags);
	if (!off)
		snprintf(buf, len, "-");
}

void tool_json_info(struct json *j, const struct reflinkfs_info *info)
{
	size_t i;

	json_u64(j, "ino", info->ino);
	json_u64(j, "generation", info->generation);
	json_u64(j, "info_flags", info->info_flags);
	json_array_begin(j, "flags");
	for (i = 0; i < ARRAY_SIZE(info_flag_names); i++)
		if (info->info_flags & info_flag_names[i].flag)
			json_string(j, NULL, info_flag_names[i].name);
	json_array_end(j);
	json_bool(j, "snapshot", info->info_flags & REFLINKFS_INFO_SNAPSHOT);
	json_bool(j, "immutable", info->info_flags & REFLINKFS_INFO_IMMUTABLE);
	json_u64(j, "origin_ino", info->origin_ino);
	json_u64(j, "origin_generation", info->origin_generation);
	json_u64(j, "lineage", info->lineage);
	json_s64(j, "snap_time_sec", info->snap_time_sec);
	json_u64(j, "snap_time_nsec", info->snap_time_nsec);
	json_u64(j, "size_bytes", info->size_bytes);
	json_u64(j, "shared_bytes", info->shared_bytes);
	json_u64(j, "exclusive_bytes", info->exclusive_bytes);
}

static void info_print(const char *path, const struct reflinkfs_info *info)
{
	char flags[128], when[32];

	tool_info_flags(info->info_flags, flags, sizeof(flags));
	tool_format_time(info->snap_time_sec, when, sizeof(when));
	printf("path:              %s\n", path);
	printf("inode:             %" PRIu64 "\n", (uint64_t)info->ino);
	printf("generation:        %" PRIu32 "\n", info->generation);
	printf("size:              %" PRIu64 "\n", (uint64_t)info->size_bytes);
	printf("flags:             %s\n", flags);
	printf("origin inode:      %" PRIu64 "\n", (uint64_t)info->origin_ino);
	printf("origin generation: %" PRIu32 "\n", info->origin_generation);
	if (info->lineage)
		printf("lineage:           %016" PRIx64 "\n",
		       (uint64_t)info->lineage);
	else
		printf("lineage:           none\n");
	printf("snap time:         %s.%09" PRIu32 " (%" PRId64 ")\n", when,
	       info->snap_time_nsec, (int64_t)info->snap_time_sec);
	printf("shared bytes:      %" PRIu64 "\n", (uint64_t)info->shared_bytes);
	printf("exclusive bytes:   %" PRIu64 "\n",
	       (uint64_t)info->exclusive_bytes);
}

static int info_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	struct reflinkfs_info info;
	const char *path;
	bool json;
	struct json j;
	int fd, err, ret;

	ret = tool_parse_plain(cmd, argc, argv, 1, "one FILE", &json);
	if (ret >= 0)
		return ret;
	path = argv[optind];

	fd = tool_open_regular(path, O_RDONLY, NULL);
	if (fd < 0)
		return TOOL_EXIT_FAIL;
	if (tool_need_reflinkfs(fd, path, cmd)) {
		close(fd);
		return TOOL_EXIT_FAIL;
	}
	err = tool_get_info(fd, &info) ? errno : 0;
	close(fd);
	if (err)
		return tool_ioctl_err(path, err, "REFLINKFS_IOC_GET_INFO", cmd);

	if (json) {
		json_document_begin(&j, stdout);
		json_string(&j, "path", path);
		tool_json_info(&j, &info);
		json_document_end(&j);
	} else {
		info_print(path, &info);
	}
	return TOOL_EXIT_OK;
}

const struct tool_cmd tool_cmd_info = {
	.name		= "info",
	.synopsis	= "[--json] FILE",
	.summary	= "Show FILE's identity, snapshot record and sharing (GET_INFO).",
	.help		=
"Prints every field of REFLINKFS_IOC_GET_INFO: inode number and\n"
"generation, size, flags (snapshot, immutable, lineage), the origin a\n"
"snapshot was taken of, the lineage id its snapshots and restores share,\n"
"the snapshot (birth) time, and the bytes in shared and exclusive extents.\n"
"\n"
"Needs reflinkfs.\n"
"\n"
"Options:\n"
"  --json        print a JSON object (see reflinkfs(8))\n"
"  -h, --help    show this help\n",
	.run		= info_run,
};
