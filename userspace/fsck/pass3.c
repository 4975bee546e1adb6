// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.reflinkfs pass 3: directory connectivity.
 *
 * The entries naming directories (pass 2) form a graph; every directory
 * must be reachable from the root.  Those that are not are grouped into
 * detached trees: the top of each is found by walking up the chain of
 * first references, a cycle is reported here, and a top that no
 * directory names is marked for pass 4, which knows whether it is a
 * removed directory still open (on the orphan list, no links).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>

#include "fsck.h"

static void build_children(struct fsck *f)
{
	size_t i, *pos;

	f->children = xcalloc(f->nedges, sizeof(*f->children));
	pos = xcalloc(f->ndirs + 1, sizeof(*pos));
	for (i = 0; i < f->nedges; i++)
		pos[f->edges[i].parent + 1]++;
	for (i = 0; i < f->ndirs; i++)
		pos[i + 1] += pos[i];
	for (i = 0; i < f->ndirs; i++)
		f->dirs[i].first_child = pos[i];
	for (i = 0; i < f->nedges; i++)
		f->children[pos[f->edges[i].parent]++] = f->edges[i].child;
	free(pos);
}

static size_t children_end(struct fsck *f, size_t i)
{
	return i + 1 < f->ndirs ? f->dirs[i + 1].first_child : f->nedges;
}

/* Mark the directories reachable from start (reached or handled). */
static void mark_tree(struct fsck *f, size_t start, bool reached)
{
	size_t *queue = xcalloc(f->ndirs, sizeof(*queue));
	size_t head = 0, tail = 0, i, c;
	struct dir_info *d;

	if (reached)
		f->dirs[start].reached = true;
	f->dirs[start].handled = true;
	queue[tail++] = start;
	while (head < tail) {
		i = queue[head++];
		for (c = f->dirs[i].first_child; c < children_end(f, i); c++) {
			d = &f->dirs[f->children[c]];
			if (d->handled)
				continue;
			d->handled = true;
			d->reached = reached;
			queue[tail++] = f->children[c];
		}
	}
	free(queue);
}

/*
 * Directories not reachable from the root: walk up the first-reference
 * chain to the top of each detached tree (or around a cycle), report a
 * cycle once, mark a top that no directory names, and mark the tree.
 */
static void check_detached_dirs(struct fsck *f)
{
	struct dir_info *d, *top;
	uint64_t stamp = 0;
	size_t i;

	for (i = 0; i < f->ndirs; i++) {
		if (f->dirs[i].handled)
			continue;
		stamp++;
		d = &f->dirs[i];
		top = NULL;
		for (;;) {
			if (d->handled)
				break;
			if (d->stamp == stamp) {
				fsck_err(f, "directory %" PRIu64 " is in a "
					 "cycle of directories not connected "
					 "to the root", d->ino);
				top = d;
				break;
			}
			d->stamp = stamp;
			if (!d->ref_dir || !find_dir(f, d->ref_dir)) {
				top = d;
				top->detached = true;
				break;
			}
			d = find_dir(f, d->ref_dir);
		}
		if (top)
			mark_tree(f, top - f->dirs, false);
		else
			mark_tree(f, i, false);
	}
}

void pass3(struct fsck *f)
{
	struct dir_info *root = find_dir(f, RLFS_ROOT_INO);

	fsck_info(f, "Pass 3: connectivity");
	build_children(f);
	if (!root)
		fsck_err(f, "inode 1: root directory missing or unusable");
	else
		mark_tree(f, root - f->dirs, true);
	check_detached_dirs(f);
}
