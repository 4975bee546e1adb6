// SPDX-License-Identifier: GPL-2.0
/*
 * util.c - messages, file and path helpers, number parsing for the
 * reflinkfs tool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

/* ---- messages --------------------------------------------------------- */

/* "reflinkfs: [PATH: ][strerror(err)][ (]MESSAGE[)]" on stderr. */
static void message(const char *path, int err, const char *fmt, va_list *ap)
{
	fflush(stdout);
	fputs(TOOL_NAME ": ", stderr);
	if (path)
		fprintf(stderr, "%s: ", path);
	if (err)
		fputs(strerror(err), stderr);
	if (fmt) {
		if (err)
			fputs(" (", stderr);
		vfprintf(stderr, fmt, *ap);
		if (err)
			fputc(')', stderr);
	}
	fputc('\n', stderr);
}

int tool_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message(NULL, 0, fmt, &ap);
	va_end(ap);
	return TOOL_EXIT_FAIL;
}

int tool_err(const char *path, int err)
{
	message(path, err, NULL, NULL);
	return TOOL_EXIT_FAIL;
}

int tool_err_hint(const char *path, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message(path, err, fmt, &ap);
	va_end(ap);
	return TOOL_EXIT_FAIL;
}

int tool_err_msg(const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message(path, 0, fmt, &ap);
	va_end(ap);
	return TOOL_EXIT_FAIL;
}

int tool_usage_error(const struct tool_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (fmt) {
		fprintf(stderr, TOOL_NAME " %s: ", cmd->name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "Try '" TOOL_NAME " %s --help' for more information.\n",
		cmd->name);
	return TOOL_EXIT_USAGE;
}

int tool_help(const struct tool_cmd *cmd)
{
	printf("Usage: " TOOL_NAME " %s %s\n%s\n\n%s", cmd->name,
	       cmd->synopsis, cmd->summary, cmd->help);
	return TOOL_EXIT_OK;
}

int tool_parse_plain(const struct tool_cmd *cmd, int argc, char **argv,
		     int nargs, const char *what, bool *json)
{
	static const struct option longopts[] = {
		TOOL_LONGOPT_HELP, TOOL_LONGOPT_JSON, TOOL_LONGOPT_END,
	};
	int c;

	*json = false;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case TOOL_OPT_HELP:
			return tool_help(cmd);
		case TOOL_OPT_JSON:
			*json = true;
			break;
		default:
			return tool_usage_error(cmd, NULL);
		}
	}
	if (argc - optind != nargs)
		return tool_usage_error(cmd, "expected %s", what);
	return -1;
}

int tool_finish_output(int status)
{
	if (fflush(stdout) || ferror(stdout)) {
		tool_err("standard output", errno ? errno : EIO);
		return TOOL_EXIT_FAIL;
	}
	return status;
}

/* ---- memory ----------------------------------------------------------- */

static void __attribute__((noreturn)) out_of_memory(void)
{
	tool_err(NULL, ENOMEM);
	exit(TOOL_EXIT_FAIL);
}

void *tool_xrealloc(void *ptr, size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		out_of_memory();
	p = realloc(ptr, n && size ? n * size : 1);
	if (!p)
		out_of_memory();
	return p;
}

char *tool_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		out_of_memory();
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		out_of_memory();
	return p;
}

char *tool_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	return p;
}

/* ---- files ------------------------------------------------------------ */

int tool_openat_regular(int dirfd, const char *name, int flags,
			struct stat *st, const char *display)
{
	struct stat sbuf;
	int fd;

	if (!st)
		st = &sbuf;
	fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		tool_err(display, errno);
		return -1;
	}
	if (fstat(fd, st) < 0) {
		tool_err(display, errno);
		goto out_close;
	}
	if (S_ISDIR(st->st_mode)) {
		tool_err(display, EISDIR);
		goto out_close;
	}
	if (!S_ISREG(st->st_mode)) {
		tool_err_msg(display, "not a regular file");
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return -1;
}

int tool_open_regular(const char *path, int flags, struct stat *st)
{
	return tool_openat_regular(AT_FDCWD, path, flags, st, path);
}

bool tool_is_reflinkfs(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 &&
	       (unsigned long)sfs.f_type == REFLINKFS_SUPER_MAGIC;
}

int tool_need_reflinkfs(int fd, const char *path, const struct tool_cmd *cmd)
{
	if (tool_is_reflinkfs(fd))
		return 0;
	return tool_err_msg(path, "not a reflinkfs filesystem (%s needs reflinkfs)",
			    cmd->name);
}

int tool_ioctl_err(const char *path, int err, const char *ioctl_name,
		   const struct tool_cmd *cmd)
{
	if (err == ENOTTY || err == EOPNOTSUPP)
		return tool_err_hint(path, err,
				     "the loaded reflinkfs module has no %s: %s needs a newer one",
				     ioctl_name, cmd->name);
	return tool_err(path, err);
}

int tool_reflink(int sfd, int dirfd, const char *name, uint32_t flags)
{
	struct reflinkfs_reflink_args args;

	memset(&args, 0, sizeof(args));
	args.dest_dirfd = dirfd;
	args.dest_name = (uintptr_t)name;
	args.flags = flags;
	return ioctl(sfd, REFLINKFS_IOC_REFLINK, &args) < 0 ? errno : 0;
}

int tool_get_info(int fd, struct reflinkfs_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, REFLINKFS_IOC_GET_INFO, info);
}

/* ---- paths ------------------------------------------------------------ */

bool tool_split_path(const char *path, char **dir, char **base)
{
	size_t len = strlen(path), b;
	char *last;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (!len || (len == 1 && path[0] == '/'))
		return false;
	b = len;
	while (b > 0 && path[b - 1] != '/')
		b--;
	last = xstrndup(path + b, len - b);
	if (!strcmp(last, ".") || !strcmp(last, "..")) {
		free(last);
		return false;
	}
	*base = last;
	/* the directory: what precedes the slashes before the last name */
	while (b > 1 && path[b - 1] == '/')
		b--;
	if (!b)
		*dir = tool_xstrdup(".");
	else if (b == 1 && path[0] == '/')
		*dir = tool_xstrdup("/");
	else
		*dir = xstrndup(path, b);
	return true;
}

char *tool_join_path(const char *dir, const char *name)
{
	size_t len = strlen(dir);

	if (!strcmp(dir, "."))
		return tool_xstrdup(name);
	if (len && dir[len - 1] == '/')
		return tool_xasprintf("%s%s", dir, name);
	return tool_xasprintf("%s/%s", dir, name);
}

/* ---- numbers and time ------------------------------------------------- */

bool tool_parse_size(const char *s, uint64_t *val)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	if (*end) {
		switch (*end) {
		case 'k': case 'K':
			shift = 10;
			break;
		case 'm': case 'M':
			shift = 20;
			break;
		case 'g': case 'G':
			shift = 30;
			break;
		case 't': case 'T':
			shift = 40;
			break;
		default:
			return false;
		}
		if (end[1])
			return false;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*val = (uint64_t)v << shift;
	return true;
}

bool tool_parse_uint(const char *s, unsigned int *val)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return false;
	*val = v;
	return true;
}

void tool_format_time(int64_t sec, char *buf, size_t len)
{
	time_t t = sec;
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "@%lld", (long long)sec);
}
