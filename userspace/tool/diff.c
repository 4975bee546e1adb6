// SPDX-License-Identifier: GPL-2.0
/*
 * diff.c - reflinkfs diff A B: the byte ranges where two files do not
 * share physical blocks (changed-block tracking for incremental backups
 * of a file against its snapshot).
 *
 * Both mappings are read whole (GET_EXTENTS or FIEMAP) and swept together
 * in O(extents): at each position the current extent or hole of each file
 * gives a segment that ends where either changes.  A segment is "same"
 * when both files map it to the same physical bytes or both have a hole
 * there (FIEMAP's unwritten extents count as holes: XFS leaves its
 * speculative preallocation unwritten inside EOF, and does not share it in
 * a clone); anything else, including extents whose physical address FIEMAP
 * does not give (unknown, delalloc, encoded, inline), is "different".
 * Different segments are widened to whole blocks and merged.
 *
 *   A:  |==== p0 ====|---- hole ----|== p9 ==|
 *   B:  |== p0 ==|= q4 =|-- hole ---|== p9 ==|
 *                [ diff ]
 *                [ diff ===========]   <- A hole, B mapped: differ
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tool.h"

#define DIFF_DEFAULT_BLOCK	4096

struct diff_range {
	uint64_t	offset;
	uint64_t	length;
};

struct diff_ranges {
	struct diff_range	*r;
	size_t			nr, cap;
	uint64_t		bytes;
};

/* Add [start, end) widened to blocks, merging with the previous range. */
static void diff_add(struct diff_ranges *d, uint64_t start, uint64_t end,
		     uint64_t bs, uint64_t limit)
{
	struct diff_range *last;

	start -= start % bs;
	if (end % bs)
		end += bs - end % bs;
	if (end > limit)
		end = limit;
	if (d->nr) {
		last = &d->r[d->nr - 1];
		if (start <= last->offset + last->length) {
			if (end > last->offset + last->length) {
				d->bytes += end - (last->offset + last->length);
				last->length = end - last->offset;
			}
			return;
		}
	}
	if (d->nr == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->r = tool_xrealloc(d->r, d->cap, sizeof(*d->r));
	}
	d->r[d->nr].offset = start;
	d->r[d->nr].length = end - start;
	d->nr++;
	d->bytes += end - start;
}

/*
 * Where one file stands at pos: its extent there (NULL: a hole) and the
 * position where that changes.
 */
struct diff_cursor {
	const struct tool_extmap	*map;
	size_t				i;
};

static const struct tool_extent *diff_at(struct diff_cursor *c, uint64_t pos,
					 uint64_t limit, uint64_t *seg_end)
{
	const struct tool_extent *e;

	while (c->i < c->map->nr &&
	       c->map->ext[c->i].logical + c->map->ext[c->i].length <= pos)
		c->i++;
	if (c->i == c->map->nr) {
		*seg_end = limit;
		return NULL;
	}
	e = &c->map->ext[c->i];
	if (e->logical > pos) {
		*seg_end = e->logical < limit ? e->logical : limit;
		return NULL;
	}
	*seg_end = e->logical + e->length;
	return e;
}

static void diff_maps(const struct tool_extmap *a, const struct tool_extmap *b,
		      bool same_fs, uint64_t bs, uint64_t limit,
		      struct diff_ranges *d)
{
	struct diff_cursor ca = { a, 0 }, cb = { b, 0 };
	const struct tool_extent *ea, *eb;
	uint64_t pos = 0, end_a, end_b, end;
	bool same;

	while (pos < limit) {
		ea = diff_at(&ca, pos, limit, &end_a);
		eb = diff_at(&cb, pos, limit, &end_b);
		/* preallocated (unwritten) reads as zeroes, as a hole does */
		if (ea && (ea->flags & TOOL_EXT_UNWRITTEN))
			ea = NULL;
		if (eb && (eb->flags & TOOL_EXT_UNWRITTEN))
			eb = NULL;
		end = end_a < end_b ? end_a : end_b;
		if (end > limit)
			end = limit;
		if (!ea || !eb)
			same = !ea && !eb;
		else
			same = same_fs &&
			       !((ea->flags | eb->flags) & TOOL_EXT_NO_PHYSICAL) &&
			       ea->physical + (pos - ea->logical) ==
			       eb->physical + (pos - eb->logical);
		if (!same)
			diff_add(d, pos, end, bs, limit);
		pos = end;
	}
}

static uint64_t diff_block_size(const struct stat *sa, const struct stat *sb)
{
	uint64_t a = sa->st_blksize, b = sb->st_blksize, bs;

	bs = a > b ? a : b;
	/* a power of two, or the default */
	if (!bs || (bs & (bs - 1)) || bs > (1U << 20))
		bs = DIFF_DEFAULT_BLOCK;
	return bs;
}

static const char *diff_source_name(const struct tool_extmap *m)
{
	return m->source == TOOL_EXTMAP_REFLINKFS ? "reflinkfs" : "fiemap";
}

static void diff_print_json(const char *pa, const char *pb,
			    const struct stat *sa, const struct stat *sb,
			    const struct tool_extmap *ma,
			    const struct tool_extmap *mb, uint64_t bs,
			    const struct diff_ranges *d)
{
	struct json j;
	size_t i;

	json_document_begin(&j, stdout);
	json_string(&j, "a", pa);
	json_string(&j, "b", pb);
	json_u64(&j, "size_a", sa->st_size);
	json_u64(&j, "size_b", sb->st_size);
	json_string(&j, "source_a", diff_source_name(ma));
	json_string(&j, "source_b", diff_source_name(mb));
	json_u64(&j, "block_size", bs);
	json_array_begin(&j, "ranges");
	for (i = 0; i < d->nr; i++) {
		json_object_begin(&j, NULL);
		json_u64(&j, "offset", d->r[i].offset);
		json_u64(&j, "length", d->r[i].length);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_u64(&j, "bytes", d->bytes);
	json_document_end(&j);
}

static void diff_print(const struct diff_ranges *d)
{
	size_t i;

	for (i = 0; i < d->nr; i++)
		printf("%" PRIu64 " %" PRIu64 "\n", d->r[i].offset,
		       d->r[i].length);
	printf("total %" PRIu64 " bytes in %zu range%s\n", d->bytes, d->nr,
	       d->nr == 1 ? "" : "s");
}

static int diff_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	struct tool_extmap ma = { 0 }, mb = { 0 };
	struct diff_ranges d = { 0 };
	struct stat sa, sb;
	uint64_t bs, limit;
	bool json;
	int fa = -1, fb = -1, ret;

	ret = tool_parse_plain(cmd, argc, argv, 2, "two files, A and B", &json);
	if (ret >= 0)
		return ret;
	ret = TOOL_EXIT_FAIL;

	fa = tool_open_regular(argv[optind], O_RDONLY, &sa);
	if (fa < 0)
		goto out;
	fb = tool_open_regular(argv[optind + 1], O_RDONLY, &sb);
	if (fb < 0)
		goto out;
	if (tool_extmap_read(fa, argv[optind], &ma) ||
	    tool_extmap_read(fb, argv[optind + 1], &mb))
		goto out;

	bs = diff_block_size(&sa, &sb);
	limit = sa.st_size > sb.st_size ? sa.st_size : sb.st_size;
	if (limit % bs)
		limit += bs - limit % bs;
	diff_maps(&ma, &mb, sa.st_dev == sb.st_dev, bs, limit, &d);

	if (json)
		diff_print_json(argv[optind], argv[optind + 1], &sa, &sb, &ma,
				&mb, bs, &d);
	else
		diff_print(&d);
	ret = TOOL_EXIT_OK;
out:
	free(d.r);
	tool_extmap_free(&ma);
	tool_extmap_free(&mb);
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return ret;
}

const struct tool_cmd tool_cmd_diff = {
	.name		= "diff",
	.synopsis	= "[--json] A B",
	.summary	= "Print the byte ranges where A and B do not share physical blocks.",
	.help		=
"Compares the extent maps of A and B (REFLINKFS_IOC_GET_EXTENTS on\n"
"reflinkfs, FIEMAP with FIEMAP_FLAG_SYNC elsewhere) in O(extents): a block\n"
"is the same when both files map it to the same physical bytes, or both\n"
"have a hole there (an unwritten extent counts as a hole).  Prints one\n"
"\"OFFSET LENGTH\" line (bytes) per range of different blocks, ranges\n"
"block aligned and merged, up to the larger size rounded up to a block,\n"
"then the total.  With a snapshot as A this lists what changed in B since\n"
"the snapshot (incremental backup).\n"
"\n"
"Works on any filesystem with FIEMAP (reflinkfs, XFS, btrfs).\n"
"\n"
"Options:\n"
"  --json        print a JSON object (see reflinkfs(8))\n"
"  -h, --help    show this help\n",
	.run		= diff_run,
};
