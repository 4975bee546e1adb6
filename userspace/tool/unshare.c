// SPDX-License-Identifier: GPL-2.0
/*
 * unshare.c - reflinkfs unshare FILE: give FILE its own copy of every
 * shared block (FALLOC_FL_UNSHARE_RANGE), keeping the inode.  The seed's
 * "cp foo bar; mv bar foo" in one step that cannot lose the file and keeps
 * its inode number, links, owner and xattrs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <unistd.h>

#include "tool.h"

static int unshare_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		TOOL_LONGOPT_HELP, TOOL_LONGOPT_END,
	};
	uint64_t offset = 0, length = 0;
	bool have_length = false;
	const char *path;
	struct stat st;
	int fd, c, ret = TOOL_EXIT_OK;

	while ((c = getopt_long(argc, argv, "ho:l:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!tool_parse_size(optarg, &offset) ||
			    offset > INT64_MAX)
				return tool_usage_error(cmd, "invalid offset '%s'",
							optarg);
			break;
		case 'l':
			if (!tool_parse_size(optarg, &length) ||
			    length > INT64_MAX)
				return tool_usage_error(cmd, "invalid length '%s'",
							optarg);
			have_length = true;
			break;
		case TOOL_OPT_HELP:
			return tool_help(cmd);
		default:
			return tool_usage_error(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return tool_usage_error(cmd, "expected one FILE");
	if (have_length && offset > INT64_MAX - length)
		return tool_usage_error(cmd, "offset + length is too large");
	path = argv[optind];

	fd = tool_open_regular(path, O_WRONLY, &st);
	if (fd < 0)
		return TOOL_EXIT_FAIL;
	/* default: from offset to EOF */
	if (!have_length)
		length = (uint64_t)st.st_size > offset ? st.st_size - offset : 0;
	if (length &&
	    fallocate(fd, FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE,
		      offset, length) < 0) {
		if (errno == EOPNOTSUPP)
			ret = tool_err_hint(path, errno,
					    "the filesystem cannot unshare");
		else
			ret = tool_err(path, errno);
	}
	if (!ret && fsync(fd) < 0)
		ret = tool_err(path, errno);
	close(fd);
	return ret;
}

const struct tool_cmd tool_cmd_unshare = {
	.name		= "unshare",
	.synopsis	= "[--offset O] [--length L] FILE",
	.summary	= "Give FILE its own copy of its shared blocks, in place.",
	.help		=
"fallocate(FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE) over the range\n"
"(default the whole file, 0 to its size), then fsync: every shared block\n"
"in the range is copied so that FILE no longer shares it; the inode, its\n"
"links, owner, mode and xattrs stay.  As with fallocate, holes in the\n"
"range are allocated too.  O and L are bytes, with an optional suffix\n"
"k, m, g or t (powers of 1024).\n"
"\n"
"Works on any filesystem with FALLOC_FL_UNSHARE_RANGE (reflinkfs, XFS).\n"
"\n"
"Options:\n"
"  -o, --offset O   first byte of the range (default 0)\n"
"  -l, --length L   bytes in the range (default: to the end of the file)\n"
"  -h, --help       show this help\n",
	.run		= unshare_run,
};
