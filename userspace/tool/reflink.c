// SPDX-License-Identifier: GPL-2.0
/*
 * reflink.c - reflinkfs reflink [-p] SRC DST: make DST a new file sharing
 * every extent of SRC, as ocfs2-tools' reflink(1).
 *
 * On reflinkfs this is REFLINKFS_IOC_REFLINK, which builds DST unlinked
 * and names it last (a crash leaves it whole or absent) and with -p keeps
 * owner, group, mode, mtime and xattrs.  Elsewhere, and without -p, DST is
 * created with O_EXCL and cloned with FICLONE; if the clone fails, DST is
 * removed again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#include "tool.h"

/* Which path an errno of REFLINKFS_IOC_REFLINK is about. */
static const char *reflink_err_path(int err, const char *src, const char *dst)
{
	switch (err) {
	case EPERM:
	case ETXTBSY:
	case EINVAL:
		return src;
	default:
		return dst;
	}
}

#define REFLINK_NO_IOCTL	(-1)

/* Returns an exit status, or REFLINK_NO_IOCTL for a module without it. */
static int reflink_ioctl(int sfd, const char *src, const char *dst,
			 bool preserve)
{
	int err;

	err = tool_reflink(sfd, AT_FDCWD, dst,
			   preserve ? REFLINKFS_REFLINK_PRESERVE : 0);
	if (!err)
		return 0;
	if (err == ENOTTY && !preserve)
		return REFLINK_NO_IOCTL;	/* the caller falls back */
	if (err == ENOTTY)
		return tool_ioctl_err(src, err, "REFLINKFS_IOC_REFLINK",
				      &tool_cmd_reflink);
	if (err == EPERM && preserve)
		return tool_err_hint(src, err,
				     "-p keeps owner and group: you must own the file and be in its group, or have CAP_CHOWN");
	return tool_err(reflink_err_path(err, src, dst), err);
}

/* O_EXCL create + FICLONE, for filesystems without the reflink ioctl. */
static int reflink_ficlone(int sfd, const struct stat *st, const char *dst)
{
	int dfd, err;

	dfd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
		   st->st_mode & 0777);
	if (dfd < 0)
		return tool_err(dst, errno);
	if (ioctl(dfd, FICLONE, sfd) < 0) {
		err = errno;
		unlink(dst);
		close(dfd);
		if (err == EOPNOTSUPP || err == EINVAL || err == ENOTTY)
			return tool_err_hint(dst, err,
					     "the filesystem cannot clone this file");
		if (err == EXDEV)
			return tool_err_hint(dst, err,
					     "a reflink must stay on one filesystem");
		return tool_err(dst, err);
	}
	if (close(dfd) < 0) {
		err = errno;
		unlink(dst);
		return tool_err(dst, err);
	}
	return 0;
}

static int reflink_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "preserve", no_argument, NULL, 'p' },
		TOOL_LONGOPT_HELP, TOOL_LONGOPT_END,
	};
	const char *src, *dst;
	bool preserve = false;
	struct stat st;
	int sfd, c, ret;

	while ((c = getopt_long(argc, argv, "hp", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			preserve = true;
			break;
		case TOOL_OPT_HELP:
			return tool_help(cmd);
		default:
			return tool_usage_error(cmd, NULL);
		}
	}
	if (argc - optind != 2)
		return tool_usage_error(cmd, "expected SRC and DST");
	src = argv[optind];
	dst = argv[optind + 1];

	sfd = tool_open_regular(src, O_RDONLY, &st);
	if (sfd < 0)
		return TOOL_EXIT_FAIL;
	if (tool_is_reflinkfs(sfd))
		ret = reflink_ioctl(sfd, src, dst, preserve);
	else if (preserve)
		ret = tool_err_msg(src, "not a reflinkfs filesystem (reflink -p needs reflinkfs)");
	else
		ret = REFLINK_NO_IOCTL;
	if (ret == REFLINK_NO_IOCTL)
		ret = reflink_ficlone(sfd, &st, dst);
	close(sfd);
	return ret;
}

const struct tool_cmd tool_cmd_reflink = {
	.name		= "reflink",
	.synopsis	= "[-p|--preserve] SRC DST",
	.summary	= "Create DST as a new file sharing every extent of SRC.",
	.help		=
"On reflinkfs, REFLINKFS_IOC_REFLINK (as ocfs2-tools' reflink(1)): DST is\n"
"built unlinked and named last, so a crash leaves it whole or absent.\n"
"Without -p it gets the caller's ownership and SRC's mode & ~umask.\n"
"\n"
"Without -p this works on any filesystem with FICLONE (XFS, btrfs): DST\n"
"is created (it must not exist) and cloned; if the clone fails DST is\n"
"removed again.\n"
"\n"
"Options:\n"
"  -p, --preserve   keep SRC's owner, group, mode, mtime and xattrs (needs\n"
"                   reflinkfs; you must own SRC and be in its group, or\n"
"                   have CAP_CHOWN)\n"
"  -h, --help       show this help\n",
	.run		= reflink_run,
};
