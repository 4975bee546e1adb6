// SPDX-License-Identifier: GPL-2.0
/*
 * snap.c - reflinkfs snap: immutable snapshots of single files.
 *
 *   snap FILE                 take one (REFLINKFS_REFLINK_IMMUTABLE)
 *   snap --list FILE          FILE's snapshots, newest first
 *   snap --restore SNAP FILE  replace FILE by a writable reflink of SNAP
 *   snap --prune --keep N FILE   delete all but the newest N
 *
 * Snapshots live in a directory, by default ".snapshot" beside FILE.  They
 * are found by what the kernel recorded in them (GET_INFO), never by
 * name: a snapshot belongs to FILE when it carries FILE's lineage id, or,
 * for a FILE without one, names FILE's inode and generation as its origin.
 * Taking a snapshot gives FILE a lineage and a restore hands it on to the
 * new inode, so renamed snapshots are still found, and snapshots taken
 * before a restore still belong to the restored FILE.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#include "json.h"
#include "tool.h"

#define SNAP_DEFAULT_DIR	".snapshot"
#define SNAP_MAX_SUFFIX		1000	/* NAME.1 .. NAME.999 */
#define SNAP_TMP_TRIES		100

enum snap_mode {
	SNAP_CREATE,
	SNAP_LIST,
	SNAP_RESTORE,
	SNAP_PRUNE,
};

struct snap_opts {
	enum snap_mode	mode;
	bool		mode_set;
	const char	*dir;		/* --dir, NULL: the default */
	const char	*name;		/* --name */
	unsigned int	keep;		/* --keep */
	bool		have_keep;
	bool		force;		/* --force */
	bool		json;
};

/* FILE, open, with what GET_INFO says about it. */
struct snap_file {
	const char		*path;
	int			fd;
	struct stat		st;
	struct reflinkfs_info	info;
};

struct snap_entry {
	char			*name;
	char			*path;		/* DIR/NAME, for messages */
	struct reflinkfs_info	info;
};

struct snap_list {
	struct snap_entry	*e;
	size_t			nr, cap;
	bool			incomplete;	/* an entry could not be read */
};

/* ---- helpers ---------------------------------------------------------- */

static int snap_open_file(const char *path, struct snap_file *f)
{
	int err;

	f->path = path;
	f->fd = tool_open_regular(path, O_RDONLY, &f->st);
	if (f->fd < 0)
		return TOOL_EXIT_FAIL;
	if (tool_need_reflinkfs(f->fd, path, &tool_cmd_snap))
		goto out_close;
	if (tool_get_info(f->fd, &f->info) < 0) {
		err = errno;
		tool_ioctl_err(path, err, "REFLINKFS_IOC_GET_INFO",
			       &tool_cmd_snap);
		goto out_close;
	}
	return 0;

out_close:
	close(f->fd);
	f->fd = -1;
	return TOOL_EXIT_FAIL;
}

/*
 * The snapshot directory of f: --dir, or ".snapshot" beside FILE; a
 * snapshot given as FILE is looked up among its siblings.  malloc'ed.
 */
static char *snap_dir_of(const struct snap_file *f, const char *dir_opt)
{
	char *dir, *base, *sdir;

	if (dir_opt)
		return tool_xstrdup(dir_opt);
	if (!tool_split_path(f->path, &dir, &base))
		return tool_xstrdup(SNAP_DEFAULT_DIR);
	if (f->info.info_flags & REFLINKFS_INFO_SNAPSHOT)
		sdir = tool_xstrdup(dir);
	else
		sdir = tool_join_path(dir, SNAP_DEFAULT_DIR);
	free(dir);
	free(base);
	return sdir;
}

/* Does the snapshot s belong to the file f (see the top of the file)? */
static bool snap_belongs(const struct reflinkfs_info *s,
			 const struct reflinkfs_info *f)
{
	if (!(s->info_flags & REFLINKFS_INFO_SNAPSHOT))
		return false;
	if (f->lineage)
		return s->lineage == f->lineage;
	return s->origin_ino == f->ino &&
	       s->origin_generation == f->generation;
}

static int snap_open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		tool_err(path, errno);
	return fd;
}

/* Newest first; equal times by name, the later name first. */
static int snap_cmp(const void *pa, const void *pb)
{
	const struct snap_entry *a = pa, *b = pb;

	if (a->info.snap_time_sec != b->info.snap_time_sec)
		return a->info.snap_time_sec > b->info.snap_time_sec ? -1 : 1;
	if (a->info.snap_time_nsec != b->info.snap_time_nsec)
		return a->info.snap_time_nsec > b->info.snap_time_nsec ? -1 : 1;
	return -strcmp(a->name, b->name);
}

/*
 * The snapshots of f in the directory dfd (shown as dpath), sorted newest
 * first.  Entries that cannot be opened are reported and skipped
 * (list->incomplete); symlinks and other non-regular files are ignored.
 */
static int snap_scan(int dfd, const char *dpath, const struct snap_file *f,
		     struct snap_list *list)
{
	struct reflinkfs_info info;
	struct dirent *de;
	struct stat st;
	char *path;
	DIR *d;
	int fd, dup_fd, err;

	dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return tool_err(dpath, errno);
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return tool_err(dpath, errno);
	}
	rewinddir(d);
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		/* never open a device or FIFO the directory lists untyped */
		if (de->d_type == DT_UNKNOWN &&
		    (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		     !S_ISREG(st.st_mode)))
			continue;
		path = tool_join_path(dpath, de->d_name);
		fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
						 O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ELOOP && errno != ENOENT) {
				tool_err(path, errno);
				list->incomplete = true;
			}
			free(path);
			continue;
		}
		err = 0;
		if (fstat(fd, &st) < 0)
			err = errno;
		else if (!S_ISREG(st.st_mode))
			err = EINVAL;		/* replaced meanwhile: skip */
		else if (tool_get_info(fd, &info) < 0)
			err = errno;
		close(fd);
		if (err == EINVAL) {
			free(path);
			continue;
		}
		if (err) {
			tool_err(path, err);
			list->incomplete = true;
			free(path);
			continue;
		}
		if (!snap_belongs(&info, &f->info)) {
			free(path);
			continue;
		}
		if (list->nr == list->cap) {
			list->cap = list->cap ? list->cap * 2 : 16;
			list->e = tool_xrealloc(list->e, list->cap,
						sizeof(*list->e));
		}
		list->e[list->nr].name = tool_xstrdup(de->d_name);
		list->e[list->nr].path = path;
		list->e[list->nr].info = info;
		list->nr++;
	}
	err = errno;
	closedir(d);
	if (err)
		return tool_err(dpath, err);
	qsort(list->e, list->nr, sizeof(*list->e), snap_cmp);
	return 0;
}

static void snap_list_free(struct snap_list *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++) {
		free(list->e[i].name);
		free(list->e[i].path);
	}
	free(list->e);
}

static void snap_json_entry(struct json *j, const struct snap_entry *e)
{
	json_object_begin(j, NULL);
	json_string(j, "name", e->name);
	json_string(j, "path", e->path);
	tool_json_info(j, &e->info);
	json_object_end(j);
}

/* ---- snap FILE -------------------------------------------------------- */

/* FILE@YYYYMMDD-HHMMSS in local time. */
static char *snap_default_name(const char *base)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm))
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	return tool_xasprintf("%s@%s", base, stamp);
}

static int snap_reflink_err(const char *src, const char *dst, int err,
			    uint32_t flags)
{
	if (err == EOPNOTSUPP && (flags & REFLINKFS_REFLINK_IMMUTABLE))
		return tool_ioctl_err(src, err, "REFLINKFS_REFLINK_IMMUTABLE",
				      &tool_cmd_snap);
	if (err == EOPNOTSUPP || err == ENOTTY)
		return tool_ioctl_err(src, err, "REFLINKFS_IOC_REFLINK",
				      &tool_cmd_snap);
	if (err == EPERM)
		return tool_err_hint(src, err,
				     "%s needs %sto own the file and be in its group, or CAP_CHOWN",
				     flags & REFLINKFS_REFLINK_IMMUTABLE ?
				     "a snapshot" : "a restore",
				     flags & REFLINKFS_REFLINK_IMMUTABLE ?
				     "CAP_LINUX_IMMUTABLE, and " : "");
	if (err == EINVAL || err == ETXTBSY)
		return tool_err(src, err);
	return tool_err(dst, err);
}

static bool snap_name_ok(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..");
}

static int snap_create(const struct snap_opts *o, const char *path)
{
	const uint32_t flags = REFLINKFS_REFLINK_IMMUTABLE |
			       REFLINKFS_REFLINK_PRESERVE;
	struct reflinkfs_info info;
	struct snap_file f;
	char *sdir = NULL, *dir = NULL, *base = NULL, *stem = NULL;
	char *name = NULL, *spath = NULL;
	unsigned int n;
	int dfd = -1, nfd, err, ret = TOOL_EXIT_FAIL;
	struct json j;

	if (snap_open_file(path, &f))
		return TOOL_EXIT_FAIL;
	if (!tool_split_path(path, &dir, &base)) {
		tool_err_msg(path, "not a file name");
		goto out;
	}
	sdir = o->dir ? tool_xstrdup(o->dir) :
			tool_join_path(dir, SNAP_DEFAULT_DIR);
	if (!o->dir && mkdir(sdir, 0755) < 0 && errno != EEXIST) {
		tool_err(sdir, errno);
		goto out;
	}
	dfd = snap_open_dir(sdir);
	if (dfd < 0)
		goto out;

	/* an explicit name is taken as is; the default one gets .1, .2 ... */
	stem = o->name ? tool_xstrdup(o->name) : snap_default_name(base);
	for (n = 0; n < SNAP_MAX_SUFFIX; n++) {
		free(name);
		name = n ? tool_xasprintf("%s.%u", stem, n) : tool_xstrdup(stem);
		err = tool_reflink(f.fd, dfd, name, flags);
		if (err != EEXIST || o->name)
			break;
	}
	spath = tool_join_path(sdir, name);
	if (err) {
		snap_reflink_err(path, spath, err, flags);
		goto out;
	}

	/* make it durable: the new inode, then its name */
	nfd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (nfd < 0) {
		tool_err(spath, errno);
		goto out;
	}
	err = fsync(nfd) < 0 ? errno : 0;
	if (!err && fsync(dfd) < 0)
		err = errno;
	if (!err && o->json && tool_get_info(nfd, &info) < 0)
		err = errno;
	close(nfd);
	if (err) {
		tool_err(spath, err);
		goto out;
	}

	if (o->json) {
		json_document_begin(&j, stdout);
		json_string(&j, "path", spath);
		json_string(&j, "name", name);
		json_string(&j, "dir", sdir);
		json_string(&j, "file", path);
		tool_json_info(&j, &info);
		json_document_end(&j);
	} else {
		printf("%s\n", spath);
	}
	ret = TOOL_EXIT_OK;
out:
	if (dfd >= 0)
		close(dfd);
	close(f.fd);
	free(spath);
	free(name);
	free(stem);
	free(sdir);
	free(dir);
	free(base);
	return ret;
}

/* ---- snap --list FILE --------------------------------------------------- */

/*
 * Open f's snapshot directory and scan it.  A missing default directory
 * means no snapshots yet (*dfd = -1, empty list); a missing --dir is an
 * error.
 */
static int snap_find(const struct snap_opts *o, const struct snap_file *f,
		     char **sdir, int *dfd, struct snap_list *list)
{
	memset(list, 0, sizeof(*list));
	*sdir = snap_dir_of(f, o->dir);
	*dfd = open(*sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0) {
		if (errno == ENOENT && !o->dir)
			return 0;
		return tool_err(*sdir, errno);
	}
	return snap_scan(*dfd, *sdir, f, list);
}

static int snap_list(const struct snap_opts *o, const char *path)
{
	struct snap_list list;
	struct snap_file f;
	char when[32], *sdir;
	struct json j;
	size_t i;
	int dfd, ret;

	if (snap_open_file(path, &f))
		return TOOL_EXIT_FAIL;
	ret = snap_find(o, &f, &sdir, &dfd, &list);
	if (ret)
		goto out;
	if (o->json) {
		json_document_begin(&j, stdout);
		json_string(&j, "file", path);
		json_string(&j, "dir", sdir);
		json_u64(&j, "lineage", f.info.lineage);
		json_array_begin(&j, "snapshots");
		for (i = 0; i < list.nr; i++)
			snap_json_entry(&j, &list.e[i]);
		json_array_end(&j);
		json_bool(&j, "complete", !list.incomplete);
		json_document_end(&j);
	} else {
		printf("%-19s %14s %14s  %s\n", "TIME", "SIZE", "EXCLUSIVE",
		       "NAME");
		for (i = 0; i < list.nr; i++) {
			const struct reflinkfs_info *in = &list.e[i].info;

			tool_format_time(in->snap_time_sec, when, sizeof(when));
			printf("%-19s %14" PRIu64 " %14" PRIu64 "  %s\n", when,
			       (uint64_t)in->size_bytes,
			       (uint64_t)in->exclusive_bytes, list.e[i].name);
		}
	}
	if (list.incomplete)
		ret = TOOL_EXIT_FAIL;
out:
	snap_list_free(&list);
	if (dfd >= 0)
		close(dfd);
	free(sdir);
	close(f.fd);
	return ret;
}

/* ---- snap --restore SNAPSHOT FILE --------------------------------------- */

/* ".BASE.restore.XXXXXX" with six random letters and digits. */
static char *snap_tmp_name(const char *base)
{
	static const char chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char rnd[6];
	char sfx[7];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		/* never blocks once booted; time is good enough then */
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);

		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = t >> (8 * i);
	}
	for (i = 0; i < sizeof(rnd); i++)
		sfx[i] = chars[rnd[i] % (sizeof(chars) - 1)];
	sfx[6] = '\0';
	/* leave room for the decoration within NAME_MAX */
	return tool_xasprintf(".%.200s.restore.%s", base, sfx);
}

/*
 * May SNAPSHOT (sinfo) replace the existing FILE at dfd/base?  Returns 0
 * if FILE does not exist or belongs to the snapshot's lineage (or with
 * --force), else prints why not.
 */
static int snap_restore_check(const struct snap_opts *o, int dfd,
			      const char *base, const char *file,
			      const struct snap_file *snap)
{
	struct reflinkfs_info finfo;
	struct stat st;
	int fd, err;

	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;		/* restore creates it */
		return tool_err(file, errno);
	}
	if (S_ISDIR(st.st_mode))
		return tool_err(file, EISDIR);
	if (!S_ISREG(st.st_mode))
		return tool_err_msg(file, "not a regular file");
	if (st.st_dev != snap->st.st_dev)
		return tool_err_hint(file, EXDEV,
				     "the snapshot is on another filesystem");
	if (o->force)
		return 0;
	fd = tool_openat_regular(dfd, base, O_RDONLY | O_NOFOLLOW, NULL, file);
	if (fd < 0)
		return TOOL_EXIT_FAIL;
	err = tool_get_info(fd, &finfo) < 0 ? errno : 0;
	close(fd);
	if (err)
		return tool_ioctl_err(file, err, "REFLINKFS_IOC_GET_INFO",
				      &tool_cmd_snap);
	if (!snap_belongs(&snap->info, &finfo))
		return tool_err_msg(file,
				    "%s is not a snapshot of this file (lineage %016" PRIx64 ", the file's %016" PRIx64 "); --force replaces it anyway",
				    snap->path, (uint64_t)snap->info.lineage,
				    (uint64_t)finfo.lineage);
	return 0;
}

static int snap_restore(const struct snap_opts *o, const char *spath,
			const char *path)
{
	const uint32_t flags = REFLINKFS_REFLINK_PRESERVE |
			       REFLINKFS_REFLINK_LINEAGE;
	struct snap_file snap;
	char *dir = NULL, *base = NULL, *tmp = NULL, *tpath = NULL;
	bool made = false;
	int dfd = -1, tfd, err = 0, ret = TOOL_EXIT_FAIL, i;

	if (snap_open_file(spath, &snap))
		return TOOL_EXIT_FAIL;
	if (!(snap.info.info_flags & REFLINKFS_INFO_SNAPSHOT) && !o->force) {
		tool_err_msg(spath, "not a snapshot (--force restores from any file)");
		goto out;
	}
	if (!tool_split_path(path, &dir, &base)) {
		tool_err_msg(path, "not a file name");
		goto out;
	}
	dfd = snap_open_dir(dir);
	if (dfd < 0)
		goto out;
	if (snap_restore_check(o, dfd, base, path, &snap))
		goto out;

	/* a writable reflink in the lineage, under a name nobody uses */
	for (i = 0; i < SNAP_TMP_TRIES; i++) {
		free(tmp);
		tmp = snap_tmp_name(base);
		err = tool_reflink(snap.fd, dfd, tmp, flags);
		if (err != EEXIST)
			break;
	}
	tpath = tool_join_path(dir, tmp);
	if (err) {
		snap_reflink_err(spath, tpath, err, flags);
		goto out;
	}
	made = true;

	tfd = openat(dfd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0) {
		tool_err(tpath, errno);
		goto out;
	}
	err = fsync(tfd) < 0 ? errno : 0;
	close(tfd);
	if (err) {
		tool_err(tpath, err);
		goto out;
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		tool_err(path, errno);
		goto out;
	}
	made = false;
	if (fsync(dfd) < 0) {
		tool_err(dir, errno);
		goto out;
	}
	ret = TOOL_EXIT_OK;
out:
	if (made && unlinkat(dfd, tmp, 0) < 0)
		tool_err(tpath, errno);
	if (dfd >= 0)
		close(dfd);
	close(snap.fd);
	free(tpath);
	free(tmp);
	free(dir);
	free(base);
	return ret;
}

/* ---- snap --prune --keep N FILE ----------------------------------------- */

static int snap_free_blocks(int fd, const char *path, struct statfs *sfs)
{
	if (syncfs(fd) < 0 || fstatfs(fd, sfs) < 0)
		return tool_err(path, errno);
	return 0;
}

/* Clear the immutable (and append-only) flag of e and unlink it. */
static int snap_remove(int dfd, const struct snap_entry *e)
{
	const int clear = FS_IMMUTABLE_FL | FS_APPEND_FL;
	struct stat st;
	int fd, flags, err = 0;

	fd = openat(dfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
				  O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return tool_err(e->path, errno);
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto out_close;
	}
	if (st.st_ino != e->info.ino) {
		close(fd);
		return tool_err_msg(e->path, "replaced since it was listed; left alone");
	}
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
		err = errno;
		goto out_close;
	}
	if (flags & clear) {
		int nflags = flags & ~clear;

		if (ioctl(fd, FS_IOC_SETFLAGS, &nflags) < 0) {
			err = errno;
			close(fd);
			if (err == EPERM)
				return tool_err_hint(e->path, err,
						     "clearing the immutable flag needs CAP_LINUX_IMMUTABLE");
			return tool_err(e->path, err);
		}
	}
	if (unlinkat(dfd, e->name, 0) < 0) {
		err = errno;
		/* put the flag back: it stays a snapshot */
		if (flags & clear)
			ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
out_close:
	close(fd);
	if (err)
		return tool_err(e->path, err);
	return 0;
}

static int snap_prune(const struct snap_opts *o, const char *path)
{
	struct statfs before, after;
	struct snap_list list;
	struct snap_file f;
	int64_t freed = 0;
	size_t i, removed = 0;
	struct json j;
	char *sdir;
	int dfd, ret;

	if (snap_open_file(path, &f))
		return TOOL_EXIT_FAIL;
	ret = snap_find(o, &f, &sdir, &dfd, &list);
	if (ret)
		goto out;
	if (dfd < 0)
		goto print;		/* no snapshot directory yet */
	ret = snap_free_blocks(dfd, sdir, &before);
	if (ret)
		goto out;
	/* oldest first, so an interruption keeps the newest */
	for (i = list.nr; i > o->keep; i--) {
		ret = snap_remove(dfd, &list.e[i - 1]);
		if (ret)
			break;
		removed++;
		if (!o->json)
			printf("removed %s\n", list.e[i - 1].path);
	}
	if (!snap_free_blocks(dfd, sdir, &after))
		freed = ((int64_t)after.f_bfree - (int64_t)before.f_bfree) *
			(int64_t)after.f_bsize;
	else
		ret = TOOL_EXIT_FAIL;
print:
	if (o->json) {
		json_document_begin(&j, stdout);
		json_string(&j, "file", path);
		json_string(&j, "dir", sdir);
		json_u64(&j, "keep", o->keep);
		json_array_begin(&j, "removed");
		for (i = list.nr; i > list.nr - removed; i--)
			snap_json_entry(&j, &list.e[i - 1]);
		json_array_end(&j);
		json_u64(&j, "kept", list.nr - removed);
		json_s64(&j, "freed_bytes", freed);
		json_document_end(&j);
	} else {
		printf("freed %" PRId64 " bytes\n", freed);
	}
	if (!ret && list.incomplete)
		ret = TOOL_EXIT_FAIL;
out:
	snap_list_free(&list);
	if (dfd >= 0)
		close(dfd);
	free(sdir);
	close(f.fd);
	return ret;
}

/* ---- command line ----------------------------------------------------- */

enum {
	OPT_LIST = TOOL_OPT_FIRST_PRIVATE,
	OPT_RESTORE,
	OPT_PRUNE,
};

static int snap_set_mode(const struct tool_cmd *cmd, struct snap_opts *o,
			 enum snap_mode mode)
{
	if (o->mode_set && o->mode != mode)
		return tool_usage_error(cmd, "--list, --restore and --prune exclude each other");
	o->mode = mode;
	o->mode_set = true;
	return 0;
}

static int snap_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "list",	no_argument,		NULL, OPT_LIST },
		{ "restore",	no_argument,		NULL, OPT_RESTORE },
		{ "prune",	no_argument,		NULL, OPT_PRUNE },
		{ "keep",	required_argument,	NULL, 'k' },
		{ "dir",	required_argument,	NULL, 'd' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "force",	no_argument,		NULL, 'f' },
		TOOL_LONGOPT_HELP, TOOL_LONGOPT_JSON, TOOL_LONGOPT_END,
	};
	struct snap_opts o = { .mode = SNAP_CREATE };
	int c, nargs;

	while ((c = getopt_long(argc, argv, "hk:d:n:f", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LIST:
			if (snap_set_mode(cmd, &o, SNAP_LIST))
				return TOOL_EXIT_USAGE;
			break;
		case OPT_RESTORE:
			if (snap_set_mode(cmd, &o, SNAP_RESTORE))
				return TOOL_EXIT_USAGE;
			break;
		case OPT_PRUNE:
			if (snap_set_mode(cmd, &o, SNAP_PRUNE))
				return TOOL_EXIT_USAGE;
			break;
		case 'k':
			if (!tool_parse_uint(optarg, &o.keep))
				return tool_usage_error(cmd, "invalid --keep count '%s'",
							optarg);
			o.have_keep = true;
			break;
		case 'd':
			if (!*optarg)
				return tool_usage_error(cmd, "empty --dir");
			o.dir = optarg;
			break;
		case 'n':
			if (!snap_name_ok(optarg))
				return tool_usage_error(cmd, "invalid snapshot name '%s' (a file name, no '/')",
							optarg);
			o.name = optarg;
			break;
		case 'f':
			o.force = true;
			break;
		case TOOL_OPT_JSON:
			o.json = true;
			break;
		case TOOL_OPT_HELP:
			return tool_help(cmd);
		default:
			return tool_usage_error(cmd, NULL);
		}
	}
	nargs = argc - optind;
	if (o.name && o.mode != SNAP_CREATE)
		return tool_usage_error(cmd, "--name only names a new snapshot");
	if (o.have_keep != (o.mode == SNAP_PRUNE))
		return tool_usage_error(cmd, "--prune needs --keep N, and --keep needs --prune");
	if (o.force && o.mode != SNAP_RESTORE)
		return tool_usage_error(cmd, "--force only applies to --restore");
	if (o.dir && o.mode == SNAP_RESTORE)
		return tool_usage_error(cmd, "--restore takes the snapshot's path, not --dir");
	if (o.json && o.mode == SNAP_RESTORE)
		return tool_usage_error(cmd, "--restore prints nothing; --json does not apply");
	if (nargs != (o.mode == SNAP_RESTORE ? 2 : 1))
		return tool_usage_error(cmd, o.mode == SNAP_RESTORE ?
					"expected SNAPSHOT and FILE" :
					"expected one FILE");

	switch (o.mode) {
	case SNAP_LIST:
		return snap_list(&o, argv[optind]);
	case SNAP_RESTORE:
		return snap_restore(&o, argv[optind], argv[optind + 1]);
	case SNAP_PRUNE:
		return snap_prune(&o, argv[optind]);
	case SNAP_CREATE:
	default:
		return snap_create(&o, argv[optind]);
	}
}

const struct tool_cmd tool_cmd_snap = {
	.name		= "snap",
	.synopsis	= "[--dir DIR] [--name NAME] [--json] FILE\n"
	"       reflinkfs snap --list [--dir DIR] [--json] FILE\n"
	"       reflinkfs snap --restore [--force] SNAPSHOT FILE\n"
	"       reflinkfs snap --prune --keep N [--dir DIR] [--json] FILE",
	.summary	= "Take, list, restore and prune immutable snapshots of FILE.",
	.help		=
"snap FILE: an immutable snapshot (REFLINKFS_IOC_REFLINK with IMMUTABLE\n"
"and PRESERVE; needs CAP_LINUX_IMMUTABLE) in DIR, by default .snapshot/\n"
"beside FILE (made, mode 0755, if missing), named NAME or by default\n"
"FILE@YYYYMMDD-HHMMSS (local time) with .1, .2 ... if that exists.\n"
"Prints the path of the snapshot.\n"
"\n"
"--list: FILE's snapshots in DIR, newest first: time, size, exclusive\n"
"bytes, name.  They are found by the lineage and origin recorded in them,\n"
"not by name.  FILE may itself be a snapshot (of a file that is gone):\n"
"then its lineage is listed, by default from the directory holding it.\n"
"\n"
"--restore: replace FILE atomically by a writable reflink of SNAPSHOT\n"
"that keeps FILE's lineage (a temporary file beside FILE, fsync, rename\n"
"over FILE, fsync of the directory); a crash leaves the old FILE or the\n"
"restored one.  Refused if SNAPSHOT is not a snapshot, or not one of an\n"
"existing FILE, unless --force.  A missing FILE is created.\n"
"\n"
"--prune --keep N: remove FILE's snapshots beyond the newest N, oldest\n"
"first (clearing the immutable flag needs CAP_LINUX_IMMUTABLE); prints\n"
"each path removed and the space freed.\n"
"\n"
"Needs reflinkfs.\n"
"\n"
"Options:\n"
"  -d, --dir DIR     the snapshot directory (default FILE's .snapshot/)\n"
"  -n, --name NAME   the new snapshot's name (it must not exist)\n"
"      --list        list FILE's snapshots\n"
"      --restore     restore SNAPSHOT to FILE\n"
"  -f, --force       restore from a non-snapshot or over another file\n"
"      --prune       remove old snapshots, with --keep\n"
"  -k, --keep N      how many of the newest snapshots --prune keeps\n"
"      --json        print a JSON object (see reflinkfs(8))\n"
"  -h, --help        show this help\n",
	.run		= snap_run,
};
