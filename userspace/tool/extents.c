// SPDX-License-Identifier: GPL-2.0
/*
 * extents.c - reflinkfs extents FILE: the file's mapped runs with their
 * reference counts (GET_EXTENTS) or FIEMAP's shared flag elsewhere, and
 * the shared and exclusive totals.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tool.h"

/* Flags shown by name; SHARED has its own column/key. */
static const struct {
	uint32_t	flag;
	const char	*name;
} extent_flag_names[] = {
	{ TOOL_EXT_LAST,	"last" },
	{ TOOL_EXT_UNWRITTEN,	"unwritten" },
	{ TOOL_EXT_UNKNOWN,	"unknown" },
	{ TOOL_EXT_DELALLOC,	"delalloc" },
	{ TOOL_EXT_ENCODED,	"encoded" },
	{ TOOL_EXT_INLINE,	"inline" },
};

static void extents_totals(const struct tool_extmap *map, uint64_t *shared,
			   uint64_t *exclusive)
{
	size_t i;

	*shared = *exclusive = 0;
	for (i = 0; i < map->nr; i++) {
		if (map->ext[i].flags & TOOL_EXT_SHARED)
			*shared += map->ext[i].length;
		else
			*exclusive += map->ext[i].length;
	}
}

static void extents_print_json(const char *path, const struct stat *st,
			       const struct tool_extmap *map)
{
	uint64_t shared, exclusive;
	struct json j;
	size_t i, k;

	extents_totals(map, &shared, &exclusive);
	json_document_begin(&j, stdout);
	json_string(&j, "path", path);
	json_string(&j, "source", map->source == TOOL_EXTMAP_REFLINKFS ?
				  "reflinkfs" : "fiemap");
	json_u64(&j, "size", st->st_size);
	json_array_begin(&j, "extents");
	for (i = 0; i < map->nr; i++) {
		const struct tool_extent *e = &map->ext[i];

		json_object_begin(&j, NULL);
		json_u64(&j, "logical", e->logical);
		json_u64(&j, "physical", e->physical);
		json_u64(&j, "length", e->length);
		if (map->source == TOOL_EXTMAP_REFLINKFS)
			json_u64(&j, "refcount", e->refcount);
		else
			json_null(&j, "refcount");
		json_bool(&j, "shared", e->flags & TOOL_EXT_SHARED);
		json_array_begin(&j, "flags");
		for (k = 0; k < ARRAY_SIZE(extent_flag_names); k++)
			if (e->flags & extent_flag_names[k].flag)
				json_string(&j, NULL, extent_flag_names[k].name);
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_u64(&j, "shared_bytes", shared);
	json_u64(&j, "exclusive_bytes", exclusive);
	json_document_end(&j);
}

static void extents_print(const struct tool_extmap *map)
{
	uint64_t shared, exclusive;
	char count[16];
	size_t i, k;
	bool any;

	extents_totals(map, &shared, &exclusive);
	printf("%14s %14s %14s %8s  %s\n", "LOGICAL", "PHYSICAL", "LENGTH",
	       "REFCOUNT", "FLAGS");
	for (i = 0; i < map->nr; i++) {
		const struct tool_extent *e = &map->ext[i];

		if (map->source == TOOL_EXTMAP_REFLINKFS)
			snprintf(count, sizeof(count), "%" PRIu32, e->refcount);
		else
			snprintf(count, sizeof(count), "%s",
				 e->flags & TOOL_EXT_SHARED ? "shared" : "1");
		printf("%14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %8s  ",
		       e->logical, e->physical, e->length, count);
		any = false;
		for (k = 0; k < ARRAY_SIZE(extent_flag_names); k++) {
			if (!(e->flags & extent_flag_names[k].flag))
				continue;
			printf("%s%s", any ? "," : "", extent_flag_names[k].name);
			any = true;
		}
		printf("%s\n", any ? "" : "-");
	}
	printf("shared: %" PRIu64 " bytes\nexclusive: %" PRIu64 " bytes\n",
	       shared, exclusive);
}

static int extents_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	struct tool_extmap map;
	struct stat st;
	bool json;
	int fd, ret;

	ret = tool_parse_plain(cmd, argc, argv, 1, "one FILE", &json);
	if (ret >= 0)
		return ret;

	fd = tool_open_regular(argv[optind], O_RDONLY, &st);
	if (fd < 0)
		return TOOL_EXIT_FAIL;
	ret = tool_extmap_read(fd, argv[optind], &map);
	close(fd);
	if (ret)
		return ret;
	if (json)
		extents_print_json(argv[optind], &st, &map);
	else
		extents_print(&map);
	tool_extmap_free(&map);
	return TOOL_EXIT_OK;
}

const struct tool_cmd tool_cmd_extents = {
	.name		= "extents",
	.synopsis	= "[--json] FILE",
	.summary	= "List FILE's extents with their reference counts.",
	.help		=
"On reflinkfs, REFLINKFS_IOC_GET_EXTENTS: one line per run of blocks\n"
"with one physical start and one reference count (LOGICAL, PHYSICAL and\n"
"LENGTH in bytes).  Elsewhere (XFS, btrfs) FIEMAP, which knows only\n"
"whether a run is shared: REFCOUNT then shows \"shared\" or 1.  Ends with\n"
"the bytes in shared (refcount >= 2) and exclusive extents.\n"
"\n"
"Works on any filesystem with FIEMAP (reflinkfs, XFS, btrfs).\n"
"\n"
"Options:\n"
"  --json        print a JSON object (see reflinkfs(8))\n"
"  -h, --help    show this help\n",
	.run		= extents_run,
};
