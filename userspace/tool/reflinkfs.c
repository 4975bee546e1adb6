// SPDX-License-Identifier: GPL-2.0
/*
 * reflinkfs - the reflinkfs command-line tool: reflinks, snapshots,
 * restores, extent maps and diffs of single files; status, events and
 * fault injection of mounted filesystems (generic netlink, nl.c); offline
 * metadata dumps of devices and images (dump*.c, with librlfs).
 *
 *   reflinkfs COMMAND [OPTION]... ARG...
 *   reflinkfs COMMAND --help
 *   reflinkfs --help | --version
 *
 * Each command lives in its own file and is one entry of the table below;
 * exit status 0 ok, 1 the operation failed, 2 usage error.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define TOOL_VERSION	"1.0"

static const struct tool_cmd *const commands[] = {
	&tool_cmd_reflink,
	&tool_cmd_snap,
	&tool_cmd_diff,
	&tool_cmd_unshare,
	&tool_cmd_extents,
	&tool_cmd_info,
	&tool_cmd_status,
	&tool_cmd_monitor,
	&tool_cmd_inject,
	&tool_cmd_dump,
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: " TOOL_NAME " COMMAND [OPTION]... ARG...\n"
		"       " TOOL_NAME " COMMAND --help\n"
		"       " TOOL_NAME " help [COMMAND]\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i]->name,
			commands[i]->summary);
	fprintf(f,
		"\n"
		"Commands that print data take --json.  Exit status: 0 ok, 1 the\n"
		"operation failed, 2 usage error.  See reflinkfs(8).\n");
}

static const struct tool_cmd *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	fprintf(stderr, TOOL_NAME ": unknown command '%s'\n"
		"Try '" TOOL_NAME " --help' for the list of commands.\n", name);
	return TOOL_EXIT_USAGE;
}

/* reflinkfs help [COMMAND] */
static int help(int argc, char **argv)
{
	const struct tool_cmd *cmd;

	if (argc < 2) {
		usage(stdout);
		return TOOL_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	return tool_help(cmd);
}

int main(int argc, char **argv)
{
	const struct tool_cmd *cmd;
	char *name;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return tool_finish_output(TOOL_EXIT_OK);
	}
	if (!strcmp(argv[1], "--version")) {
		printf(TOOL_NAME " " TOOL_VERSION "\n");
		return tool_finish_output(TOOL_EXIT_OK);
	}
	if (!strcmp(argv[1], "help"))
		return tool_finish_output(help(argc - 1, argv + 1));
	if (argv[1][0] == '-') {
		fprintf(stderr, TOOL_NAME ": unknown option '%s'\n"
			"Try '" TOOL_NAME " --help' for more information.\n",
			argv[1]);
		return TOOL_EXIT_USAGE;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);

	/* getopt's own messages then read "reflinkfs snap: ..." */
	name = tool_xasprintf(TOOL_NAME " %s", cmd->name);
	argv[1] = name;
	ret = cmd->run(cmd, argc - 1, argv + 1);
	free(name);
	return tool_finish_output(ret);
}
