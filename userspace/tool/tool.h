/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reflinkfs(8): the command table, error reporting and the helpers the
 * commands share.
 *
 * Every command is a struct tool_cmd in its own file, listed in the table
 * in reflinkfs.c; a command returns its exit status:
 *
 *   TOOL_EXIT_OK      0  success
 *   TOOL_EXIT_FAIL    1  the operation failed (message on stderr)
 *   TOOL_EXIT_USAGE   2  bad command line
 */
#ifndef _RLFS_TOOL_H
#define _RLFS_TOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "uapi/linux/reflinkfs.h"

#define TOOL_PRINTF(a, b)	__attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

#define TOOL_NAME		"reflinkfs"

enum {
	TOOL_EXIT_OK	= 0,
	TOOL_EXIT_FAIL	= 1,
	TOOL_EXIT_USAGE	= 2,
};

struct tool_cmd {
	const char	*name;
	const char	*synopsis;	/* after "reflinkfs NAME " */
	const char	*summary;	/* one line for reflinkfs --help */
	const char	*help;		/* the rest of NAME --help */
	int		(*run)(const struct tool_cmd *cmd, int argc,
			       char **argv);
};

/* The commands, one file each. */
extern const struct tool_cmd tool_cmd_reflink;	/* reflink.c */
extern const struct tool_cmd tool_cmd_snap;	/* snap.c */
extern const struct tool_cmd tool_cmd_diff;	/* diff.c */
extern const struct tool_cmd tool_cmd_unshare;	/* unshare.c */
extern const struct tool_cmd tool_cmd_extents;	/* extents.c */
extern const struct tool_cmd tool_cmd_info;	/* info.c */
extern const struct tool_cmd tool_cmd_status;	/* status.c */
extern const struct tool_cmd tool_cmd_monitor;	/* monitor.c */
extern const struct tool_cmd tool_cmd_inject;	/* inject.c */
extern const struct tool_cmd tool_cmd_dump;	/* dump*.c */

/*
 * Options every command understands.  Commands parse with getopt_long()
 * and a leading "+" is never used, so options may follow the operands.
 */
enum {
	TOOL_OPT_HELP = 'h',
	TOOL_OPT_JSON = 0x100,		/* long options without a letter */
	TOOL_OPT_FIRST_PRIVATE,
};
#define TOOL_LONGOPT_HELP	{ "help", no_argument, NULL, TOOL_OPT_HELP }
#define TOOL_LONGOPT_JSON	{ "json", no_argument, NULL, TOOL_OPT_JSON }
#define TOOL_LONGOPT_END	{ NULL, 0, NULL, 0 }

/* ---- util.c: messages ------------------------------------------------- */

/* "reflinkfs: MESSAGE"; returns TOOL_EXIT_FAIL. */
int tool_errx(const char *fmt, ...) TOOL_PRINTF(1, 2);
/* "reflinkfs: PATH: strerror(err)"; returns TOOL_EXIT_FAIL. */
int tool_err(const char *path, int err);
/* "reflinkfs: PATH: strerror(err) (HINT)"; returns TOOL_EXIT_FAIL. */
int tool_err_hint(const char *path, int err, const char *fmt, ...)
	TOOL_PRINTF(3, 4);
/* "reflinkfs: PATH: MESSAGE"; returns TOOL_EXIT_FAIL. */
int tool_err_msg(const char *path, const char *fmt, ...) TOOL_PRINTF(2, 3);
/*
 * "reflinkfs NAME: MESSAGE" and "Try 'reflinkfs NAME --help'." on stderr;
 * returns TOOL_EXIT_USAGE.  A NULL fmt prints only the hint (getopt has
 * already said what was wrong).
 */
int tool_usage_error(const struct tool_cmd *cmd, const char *fmt, ...)
	TOOL_PRINTF(2, 3);
/* Print NAME --help to stdout; returns TOOL_EXIT_OK. */
int tool_help(const struct tool_cmd *cmd);

/*
 * The command line of a command whose only options are --help and
 * --json, with nargs operands: returns -1 to go on (operands from
 * argv[optind]), else the exit status.
 */
int tool_parse_plain(const struct tool_cmd *cmd, int argc, char **argv,
		     int nargs, const char *what, bool *json);

/* ---- util.c: files ---------------------------------------------------- */

/*
 * Open PATH (flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, so a FIFO does not
 * block) and require a regular file: on error print it (EISDIR for a
 * directory, "not a regular file" otherwise) and return -1.  st may be
 * NULL.
 */
int tool_open_regular(const char *path, int flags, struct stat *st);
/* The same relative to dirfd; the message names DISPLAY. */
int tool_openat_regular(int dirfd, const char *name, int flags,
			struct stat *st, const char *display);

/* True if fd is on a reflinkfs filesystem (statfs f_type). */
bool tool_is_reflinkfs(int fd);
/*
 * Unless fd is on reflinkfs, print "PATH: not a reflinkfs filesystem
 * (NAME needs reflinkfs)" and return TOOL_EXIT_FAIL; else 0.
 */
int tool_need_reflinkfs(int fd, const char *path, const struct tool_cmd *cmd);
/*
 * Report a failed reflinkfs ioctl: ENOTTY and EOPNOTSUPP say that the
 * loaded module lacks IOCTL (COMMAND needs a newer one).  Returns
 * TOOL_EXIT_FAIL.
 */
int tool_ioctl_err(const char *path, int err, const char *ioctl_name,
		   const struct tool_cmd *cmd);

/*
 * REFLINKFS_IOC_REFLINK of sfd to name relative to dirfd (or AT_FDCWD)
 * with REFLINKFS_REFLINK_* flags; returns 0 or the errno.
 */
int tool_reflink(int sfd, int dirfd, const char *name, uint32_t flags);
/* REFLINKFS_IOC_GET_INFO with the size and zeroed input set up. */
int tool_get_info(int fd, struct reflinkfs_info *info);

/* ---- info.c: GET_INFO fields, shared by info and snap --------------- */

struct json;
/* The fields of info as keys of the current JSON object ("info object"). */
void tool_json_info(struct json *j, const struct reflinkfs_info *info);
/* "snapshot,immutable,lineage" (or "-") into buf. */
void tool_info_flags(uint64_t flags, char *buf, size_t len);

/*
 * Split PATH into its directory and last component, as dirname(3) and
 * basename(3) would, into malloc'ed strings ("." for a bare name).  A
 * trailing slash is dropped.  Returns false if PATH names no file
 * ("/", "", ".." as the last component).
 */
bool tool_split_path(const char *path, char **dir, char **base);
/* DIR/NAME, malloc'ed ("NAME" when dir is "."). */
char *tool_join_path(const char *dir, const char *name);

/* xmalloc-style helpers: print and exit(1) when memory runs out. */
void *tool_xrealloc(void *ptr, size_t n, size_t size);
char *tool_xstrdup(const char *s);
char *tool_xasprintf(const char *fmt, ...) TOOL_PRINTF(1, 2);

/* ---- util.c: numbers and time --------------------------------------- */

/*
 * A size in bytes: decimal digits with an optional suffix k, m, g or t
 * (either case; powers of 1024).  False on garbage or overflow.
 */
bool tool_parse_size(const char *s, uint64_t *val);
/* A non-negative decimal integer that fits an unsigned int. */
bool tool_parse_uint(const char *s, unsigned int *val);
/* "YYYY-MM-DD HH:MM:SS" in local time; buf of at least 32 bytes. */
void tool_format_time(int64_t sec, char *buf, size_t len);

/* ---- util.c: output ------------------------------------------------- */

/* Flush stdout; on a write error report it and return TOOL_EXIT_FAIL. */
int tool_finish_output(int status);

/* ---- extmap.c: a file's mapping, from GET_EXTENTS or FIEMAP ------------ */

enum tool_ext_flags {
	TOOL_EXT_SHARED		= 1U << 0,	/* refcount >= 2 / FIEMAP shared */
	TOOL_EXT_LAST		= 1U << 1,	/* the file's last extent */
	TOOL_EXT_UNWRITTEN	= 1U << 2,	/* FIEMAP: preallocated */
	/* FIEMAP: the physical offset means nothing to compare */
	TOOL_EXT_UNKNOWN	= 1U << 3,
	TOOL_EXT_DELALLOC	= 1U << 4,
	TOOL_EXT_ENCODED	= 1U << 5,
	TOOL_EXT_INLINE		= 1U << 6,
};
#define TOOL_EXT_NO_PHYSICAL	(TOOL_EXT_UNKNOWN | TOOL_EXT_DELALLOC | \
				 TOOL_EXT_ENCODED | TOOL_EXT_INLINE)

struct tool_extent {
	uint64_t	logical;	/* bytes */
	uint64_t	physical;	/* bytes */
	uint64_t	length;		/* bytes */
	uint32_t	refcount;	/* 0: not known (FIEMAP) */
	uint32_t	flags;		/* TOOL_EXT_* */
};

enum tool_extmap_source {
	TOOL_EXTMAP_REFLINKFS,		/* REFLINKFS_IOC_GET_EXTENTS */
	TOOL_EXTMAP_FIEMAP,		/* FS_IOC_FIEMAP, FIEMAP_FLAG_SYNC */
};

struct tool_extmap {
	enum tool_extmap_source	source;
	struct tool_extent	*ext;	/* sorted by logical, no overlaps */
	size_t			nr;
};

/*
 * Read the whole mapping of fd: GET_EXTENTS on reflinkfs (if the module
 * has it), FIEMAP elsewhere.  Prints the error (naming path) and returns
 * TOOL_EXIT_FAIL on failure.
 */
int tool_extmap_read(int fd, const char *path, struct tool_extmap *map);
void tool_extmap_free(struct tool_extmap *map);

#endif /* _RLFS_TOOL_H */
