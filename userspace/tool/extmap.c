// SPDX-License-Identifier: GPL-2.0
/*
 * extmap.c - read a file's whole mapping into a sorted array of extents,
 * from REFLINKFS_IOC_GET_EXTENTS (with reference counts) on reflinkfs, or
 * from FIEMAP (FIEMAP_FLAG_SYNC, shared flag only) anywhere else.
 *
 * Both write the file's dirty data back first and read in batches; the
 * cost is O(extents), not O(blocks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "tool.h"

#define EXTMAP_BATCH	256

static struct tool_extent *extmap_add(struct tool_extmap *map, size_t *cap)
{
	if (map->nr == *cap) {
		*cap = *cap ? *cap * 2 : EXTMAP_BATCH;
		map->ext = tool_xrealloc(map->ext, *cap, sizeof(*map->ext));
	}
	return &map->ext[map->nr++];
}

/* GET_EXTENTS from 0 to EOF; returns 0 or an errno. */
static int extmap_read_reflinkfs(int fd, struct tool_extmap *map)
{
	struct reflinkfs_extent buf[EXTMAP_BATCH];
	struct reflinkfs_extents_args args;
	struct tool_extent *e;
	uint64_t start = 0;
	size_t cap = 0;
	uint32_t i;
	bool last = false;

	map->source = TOOL_EXTMAP_REFLINKFS;
	/* what FIEMAP_FLAG_SYNC does: write dirty data back first */
	if (fdatasync(fd) < 0)
		return errno;
	while (!last) {
		memset(&args, 0, sizeof(args));
		memset(buf, 0, sizeof(buf));
		args.size = sizeof(args);
		args.start = start;
		args.length = ~0ULL - start;
		args.extents = (uintptr_t)buf;
		args.count = EXTMAP_BATCH;
		if (ioctl(fd, REFLINKFS_IOC_GET_EXTENTS, &args) < 0)
			return errno;
		if (args.count > EXTMAP_BATCH)
			return EPROTO;
		for (i = 0; i < args.count; i++) {
			e = extmap_add(map, &cap);
			e->logical = buf[i].logical;
			e->physical = buf[i].physical;
			e->length = buf[i].length;
			e->refcount = buf[i].refcount;
			e->flags = 0;
			if (buf[i].refcount >= 2)
				e->flags |= TOOL_EXT_SHARED;
			if (buf[i].flags & REFLINKFS_EXTENT_LAST) {
				e->flags |= TOOL_EXT_LAST;
				last = true;
			}
		}
		/* fewer than asked: the range is exhausted */
		if (args.count < EXTMAP_BATCH)
			break;
		if (args.next <= start)
			return EPROTO;	/* the kernel would loop us forever */
		start = args.next;
	}
	return 0;
}

static uint32_t extmap_fiemap_flags(uint32_t fe)
{
	uint32_t f = 0;

	if (fe & FIEMAP_EXTENT_SHARED)
		f |= TOOL_EXT_SHARED;
	if (fe & FIEMAP_EXTENT_LAST)
		f |= TOOL_EXT_LAST;
	if (fe & FIEMAP_EXTENT_UNWRITTEN)
		f |= TOOL_EXT_UNWRITTEN;
	if (fe & FIEMAP_EXTENT_UNKNOWN)
		f |= TOOL_EXT_UNKNOWN;
	if (fe & FIEMAP_EXTENT_DELALLOC)
		f |= TOOL_EXT_DELALLOC;
	if (fe & FIEMAP_EXTENT_ENCODED)
		f |= TOOL_EXT_ENCODED;
	if (fe & (FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL |
		  FIEMAP_EXTENT_NOT_ALIGNED))
		f |= TOOL_EXT_INLINE;
	return f;
}

/* FIEMAP from 0 to the end; returns 0 or an errno. */
static int extmap_read_fiemap(int fd, struct tool_extmap *map)
{
	struct fiemap *fm;
	struct fiemap_extent *fe;
	struct tool_extent *e;
	uint64_t start = 0;
	size_t cap = 0;
	uint32_t i;
	int err = 0;

	map->source = TOOL_EXTMAP_FIEMAP;
	fm = calloc(1, sizeof(*fm) + EXTMAP_BATCH * sizeof(fm->fm_extents[0]));
	if (!fm)
		return ENOMEM;
	for (;;) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = EXTMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			err = errno;
			break;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			fe = &fm->fm_extents[i];
			e = extmap_add(map, &cap);
			e->logical = fe->fe_logical;
			e->physical = fe->fe_physical;
			e->length = fe->fe_length;
			e->refcount = 0;
			e->flags = extmap_fiemap_flags(fe->fe_flags);
		}
		fe = &fm->fm_extents[fm->fm_mapped_extents - 1];
		if (fe->fe_flags & FIEMAP_EXTENT_LAST ||
		    fm->fm_mapped_extents < EXTMAP_BATCH)
			break;
		if (fe->fe_logical + fe->fe_length <= start) {
			err = EPROTO;
			break;
		}
		start = fe->fe_logical + fe->fe_length;
	}
	free(fm);
	return err;
}

/*
 * Extents must come sorted and must not overlap: diff depends on it, and
 * a kernel that breaks it has a bug worth seeing.
 */
static int extmap_check(const struct tool_extmap *map, const char *path)
{
	size_t i;

	for (i = 0; i < map->nr; i++) {
		const struct tool_extent *e = &map->ext[i];

		if (!e->length || e->logical + e->length < e->logical ||
		    (i && e->logical < map->ext[i - 1].logical +
					map->ext[i - 1].length))
			return tool_err_msg(path,
					    "bad extent map from the kernel: extent %zu at %llu length %llu",
					    i, (unsigned long long)e->logical,
					    (unsigned long long)e->length);
	}
	return 0;
}

int tool_extmap_read(int fd, const char *path, struct tool_extmap *map)
{
	int err = ENOTTY;

	memset(map, 0, sizeof(*map));
	if (tool_is_reflinkfs(fd)) {
		err = extmap_read_reflinkfs(fd, map);
		if (err == ENOTTY || err == EOPNOTSUPP) {
			/* a module without GET_EXTENTS: FIEMAP still works */
			tool_extmap_free(map);
		}
	}
	if (err == ENOTTY || err == EOPNOTSUPP)
		err = extmap_read_fiemap(fd, map);
	if (err) {
		tool_extmap_free(map);
		if (err == EOPNOTSUPP || err == ENOTTY)
			return tool_err_hint(path, err,
					     "the filesystem has no FIEMAP");
		return tool_err(path, err);
	}
	if (extmap_check(map, path)) {
		tool_extmap_free(map);
		return TOOL_EXIT_FAIL;
	}
	return 0;
}

void tool_extmap_free(struct tool_extmap *map)
{
	free(map->ext);
	map->ext = NULL;
	map->nr = 0;
}
