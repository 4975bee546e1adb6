// SPDX-License-Identifier: GPL-2.0
/*
 * posix_test - the POSIX namespace and metadata surface of reflinkfs:
 * files, directories, links, special files, rename (incl. renameat2
 * flags), unlink of open files, truncate, sparse files, fallocate,
 * SEEK_DATA/SEEK_HOLE, sync calls, timestamps, ownership and permissions,
 * xattrs, inode flags and statfs.  Each test runs on a fresh filesystem,
 * checks persistence with an unmount/mount cycle, and fails unless the
 * filesystem unmounts and "fsck.reflinkfs -n" finds it clean.
 *
 * Only standard interfaces are used, so the test can run on other
 * filesystems too (RLFS_FSTYPE/RLFS_MKFS/RLFS_FSCK).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/xattr.h>

#include "rlfs_util.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE		(1 << 1)
#endif

#define MiB		(1024ULL * 1024)
#define T_SHORT		120
#define T_LONG		240

FIXTURE(posix) {
	struct rlfs_fs fs;
};

FIXTURE_SETUP(posix)
{
	rlfs_fs_setup(&self->fs, RLFS_TEST_BLOCKS);
}

FIXTURE_TEARDOWN(posix)
{
	rlfs_fs_teardown(&self->fs);
}

/* ---- small helpers -------------------------------------------------------- */

static int sys_renameat2(const char *from, const char *to, unsigned int flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
}

/* errno of a call that returned -1, or 0 when it succeeded. */
#define ERRNO_OF(call)	((call) == -1 ? errno : 0)
/*
 * The link count a directory must have: btrfs keeps every directory's
 * st_nlink at 1 (no ".." links counted), the others count 2 + subdirs.
 */
#define DNL(n)		(rlfs_is_fstype("btrfs") ? 1 : (n))

static long long ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_ino;
}

static long long nlink_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : (long long)st.st_nlink;
}

static long long size_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : (long long)st.st_size;
}

static int write_all(const char *path, const void *buf, size_t len, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
	ssize_t w;

	if (fd < 0)
		return -errno;
	w = write(fd, buf, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -EIO;
}

/* Read up to @len bytes of @path into @buf; returns bytes or -errno. */
static ssize_t read_all(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = pread(fd, buf, len, 0);
	close(fd);
	return r;
}

static bool ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Let the coarse clock advance so a new timestamp differs (HZ >= 100). */
static void tick(void)
{
	usleep(30000);
}

/* ---- files ------------------------------------------------------------------ */

TEST_F_TIMEOUT(posix, create_read_write, T_SHORT)
{
	char buf[16];
	struct stat st;
	int fd;

	fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0640);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, write(fd, "hello", 5));
	ASSERT_EQ(0, rlfs_write_pattern(fd, 5, 10000, 1));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0640U, st.st_mode & 07777);
	EXPECT_EQ(10005, st.st_size);
	EXPECT_EQ(1, (long)st.st_nlink);
	EXPECT_EQ(4096, st.st_blksize);
	ASSERT_EQ(5, pread(fd, buf, 5, 0));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(0, rlfs_verify(fd, 5, 10000, 1));
	ASSERT_EQ(0, close(fd));

	EXPECT_EQ(EEXIST, ERRNO_OF(open("f", O_CREAT | O_EXCL | O_RDWR, 0600)));
	EXPECT_EQ(ENOENT, ERRNO_OF(open("nope", O_RDONLY)));
	EXPECT_EQ(ENOTDIR, ERRNO_OF(open("f/x", O_CREAT | O_RDWR, 0600)));

	RLFS_REMOUNT(&self->fs);
	fd = open("f", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(10005, st.st_size);
	EXPECT_EQ(0640U, st.st_mode & 07777);
	ASSERT_EQ(5, pread(fd, buf, 5, 0));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(0, rlfs_verify(fd, 5, 10000, 1));
	/* Overwrite across a block boundary, then read back. */
	ASSERT_EQ(6, pwrite(fd, "XYZxyz", 6, 4093));
	ASSERT_EQ(0, close(fd));

	RLFS_REMOUNT(&self->fs);
	fd = open("f", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(6, pread(fd, buf, 6, 4093));
	EXPECT_EQ(0, memcmp(buf, "XYZxyz", 6));
	EXPECT_EQ(0, rlfs_verify(fd, 5, 4093 - 5, 1));
	EXPECT_EQ(0, rlfs_verify(fd, 4099, 10005 - 4099, 1));
	close(fd);

	/* O_TRUNC empties the file and frees its blocks. */
	fd = open("f", O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(0, st.st_blocks);
	close(fd);
}

TEST_F_TIMEOUT(posix, mkdir_rmdir_errors, T_SHORT)
{
	long long root_nlink = nlink_of(".");

	ASSERT_LE(DNL(2), root_nlink);
	ASSERT_EQ(0, mkdir("d", 0755));
	EXPECT_EQ(DNL(root_nlink + 1), nlink_of("."));
	EXPECT_EQ(DNL(2), nlink_of("d"));
	EXPECT_EQ(EEXIST, ERRNO_OF(mkdir("d", 0755)));
	ASSERT_EQ(0, write_all("f", "x", 1, 0));
	EXPECT_EQ(EEXIST, ERRNO_OF(mkdir("f", 0755)));
	EXPECT_EQ(ENOENT, ERRNO_OF(rmdir("nope")));
	EXPECT_EQ(ENOENT, ERRNO_OF(mkdir("nope/x", 0755)));
	EXPECT_EQ(ENOTDIR, ERRNO_OF(mkdir("f/x", 0755)));
	EXPECT_EQ(ENOTDIR, ERRNO_OF(rmdir("f")));
	EXPECT_EQ(EISDIR, ERRNO_OF(unlink("d")));
	EXPECT_EQ(EISDIR, ERRNO_OF(open("d", O_WRONLY)));
	EXPECT_EQ(EINVAL, ERRNO_OF(rmdir("d/.")));

	ASSERT_EQ(0, mkdir("d/a", 0700));
	ASSERT_EQ(0, mkdir("d/b", 0700));
	ASSERT_EQ(0, write_all("d/file", "data", 4, 0));
	EXPECT_EQ(DNL(4), nlink_of("d"));
	EXPECT_EQ(ENOTEMPTY, ERRNO_OF(rmdir("d")));
	ASSERT_EQ(0, write_all("d/a/inner", "i", 1, 0));
	EXPECT_EQ(ENOTEMPTY, ERRNO_OF(rmdir("d/a")));
	ASSERT_EQ(0, unlink("d/a/inner"));
	ASSERT_EQ(0, rmdir("d/a"));
	EXPECT_EQ(DNL(3), nlink_of("d"));
	EXPECT_EQ(ENOENT, ERRNO_OF(rmdir("d/a")));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(DNL(3), nlink_of("d"));
	EXPECT_EQ(DNL(2), nlink_of("d/b"));
	EXPECT_EQ(DNL(root_nlink + 1), nlink_of("."));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("d/a", F_OK)));
	EXPECT_EQ(ENOTEMPTY, ERRNO_OF(rmdir("d")));
	ASSERT_EQ(0, unlink("d/file"));
	ASSERT_EQ(0, rmdir("d/b"));
	EXPECT_EQ(DNL(2), nlink_of("d"));
	/* An emptied directory (which has blocks now) can be removed. */
	ASSERT_EQ(0, rmdir("d"));
	EXPECT_EQ(DNL(root_nlink), nlink_of("."));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(ENOENT, ERRNO_OF(access("d", F_OK)));
	EXPECT_EQ(DNL(root_nlink), nlink_of("."));
}

/* Name of entry @i of the big directory: "%05d_" then filler, 6..255 long. */
static void big_name(char *buf, int i)
{
	int len = 6 + (i * 37) % 250;

	snprintf(buf, 7, "%05d_", i);
	memset(buf + 6, 'a' + i % 26, len - 6);
	buf[len] = '\0';
}

/*
 * readdir "big" and check that entry i is present exactly once iff
 * want(i); "." and ".." exactly once; nothing else.
 */
static int check_big_dir(int n, bool odd_deleted)
{
	unsigned char *seen = calloc(n, 1);
	char name[300];
	int dots = 0, dotdot = 0, bad = 0;
	struct dirent *de;
	DIR *d = opendir("big");
	int i;

	if (!d || !seen) {
		fprintf(stderr, "# opendir big: %s\n", strerror(errno));
		free(seen);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d))) {
		char *end;
		long idx;

		if (!strcmp(de->d_name, ".")) {
			dots++;
			continue;
		}
		if (!strcmp(de->d_name, "..")) {
			dotdot++;
			continue;
		}
		idx = strtol(de->d_name, &end, 10);
		if (end != de->d_name + 5 || idx < 0 || idx >= n) {
			fprintf(stderr, "# unexpected entry '%s'\n", de->d_name);
			bad++;
			continue;
		}
		big_name(name, idx);
		if (strcmp(name, de->d_name)) {
			fprintf(stderr, "# entry %ld has a wrong name '%s'\n",
				idx, de->d_name);
			bad++;
		}
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN) {
			fprintf(stderr, "# entry %ld: d_type %d\n", idx,
				de->d_type);
			bad++;
		}
		if (seen[idx] < 255)
			seen[idx]++;
	}
	if (errno) {
		fprintf(stderr, "# readdir: %s\n", strerror(errno));
		bad++;
	}
	closedir(d);
	if (dots != 1 || dotdot != 1) {
		fprintf(stderr, "# '.' seen %d times, '..' %d times\n", dots,
			dotdot);
		bad++;
	}
	for (i = 0; i < n; i++) {
		int want = (odd_deleted && (i & 1)) ? 0 : 1;

		if (seen[i] != want) {
			if (bad < 20)
				fprintf(stderr, "# entry %d seen %d times, "
					"want %d\n", i, seen[i], want);
			bad++;
		}
	}
	free(seen);
	return bad;
}

TEST_F_TIMEOUT(posix, many_entries, T_LONG)
{
	const int n = 2000;
	char name[300];
	char path[320];
	struct stat st;
	int i, fd;

	ASSERT_EQ(0, mkdir("big", 0755));
	for (i = 0; i < n; i++) {
		big_name(name, i);
		snprintf(path, sizeof(path), "big/%s", name);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		ASSERT_LE(0, fd) {
			TH_LOG("create entry %d (%zu bytes): %s", i,
			       strlen(name), strerror(errno));
		}
		close(fd);
	}
	ASSERT_EQ(0, stat("big", &st));
	/* ~280 KB of entries: many directory blocks. */
	EXPECT_LT(16 * 4096, st.st_size);
	/* btrfs: a directory's size is the sum of its names' lengths * 2 */
	if (!rlfs_is_fstype("btrfs"))
		EXPECT_EQ(0, st.st_size % 4096);
	EXPECT_EQ(0, check_big_dir(n, false));

	for (i = 1; i < n; i += 2) {
		big_name(name, i);
		snprintf(path, sizeof(path), "big/%s", name);
		ASSERT_EQ(0, unlink(path)) {
			TH_LOG("unlink entry %d: %s", i, strerror(errno));
		}
	}
	EXPECT_EQ(0, check_big_dir(n, true));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, check_big_dir(n, true));
	/* Lookups after remount: even names exist, odd are gone. */
	for (i = 0; i < n; i++) {
		big_name(name, i);
		snprintf(path, sizeof(path), "big/%s", name);
		EXPECT_EQ((i & 1) ? ENOENT : 0,
			  ERRNO_OF(access(path, F_OK)));
	}
	/* Freed records are reused: re-create the odd ones. */
	for (i = 1; i < n; i += 2) {
		big_name(name, i);
		snprintf(path, sizeof(path), "big/%s", name);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		ASSERT_LE(0, fd);
		close(fd);
	}
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, check_big_dir(n, false));
}

TEST_F_TIMEOUT(posix, hard_links, T_SHORT)
{
	ASSERT_EQ(0, rlfs_make_file("a", 10000, 2, false));
	ASSERT_EQ(0, link("a", "b"));
	EXPECT_EQ(2, nlink_of("a"));
	EXPECT_EQ(ino_of("a"), ino_of("b"));
	EXPECT_EQ(EEXIST, ERRNO_OF(link("a", "b")));
	EXPECT_EQ(ENOENT, ERRNO_OF(link("nope", "c")));
	ASSERT_EQ(0, mkdir("sub", 0755));
	EXPECT_EQ(EPERM, ERRNO_OF(link("sub", "sublink")));
	ASSERT_EQ(0, link("a", "sub/c"));
	EXPECT_EQ(3, nlink_of("b"));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(3, nlink_of("a"));
	ASSERT_EQ(0, unlink("a"));
	EXPECT_EQ(2, nlink_of("b"));
	EXPECT_EQ(0, rlfs_verify_file("b", 10000, 2));
	EXPECT_EQ(0, rlfs_verify_file("sub/c", 10000, 2));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(ENOENT, ERRNO_OF(access("a", F_OK)));
	EXPECT_EQ(2, nlink_of("sub/c"));
	ASSERT_EQ(0, unlink("sub/c"));
	EXPECT_EQ(1, nlink_of("b"));
	EXPECT_EQ(0, rlfs_verify_file("b", 10000, 2));
}

/* ---- symlinks ------------------------------------------------------------- */

struct link_case {
	const char *name;
	size_t len;		/* target length */
	bool resolves;		/* target is "./././.../f" */
};

static void make_target(char *buf, size_t len, bool resolves)
{
	size_t i;

	if (resolves) {
		/* len is odd: "./" * (len-1)/2 + "f" names the file f */
		for (i = 0; i + 1 < len; i += 2)
			memcpy(buf + i, "./", 2);
		buf[len - 1] = 'f';
	} else {
		for (i = 0; i < len; i++)
			buf[i] = (i % 64 == 63) ? '/' : 'a' + i % 26;
	}
	buf[len] = '\0';
}

/* Not const: on xfs the longest case is cut to its limit (symlinks). */
static struct link_case link_cases[] = {
	{ "l_fast",	1,	true },		/* "f" */
	{ "l_fast2",	41,	true },
	{ "l_max_fast",	103,	true },		/* RLFS_FAST_SYMLINK_MAX */
	{ "l_min_slow",	105,	true },		/* first slow size (odd) */
	{ "l_104",	104,	false },
	{ "l_slow",	501,	true },
	{ "l_dangling",	4000,	false },
};

static int check_links(void)
{
	char want[4100], got[4200];
	unsigned int i;
	int bad = 0;

	for (i = 0; i < ARRAY_SIZE(link_cases); i++) {
		const struct link_case *c = &link_cases[i];
		struct stat st;
		ssize_t n;

		make_target(want, c->len, c->resolves);
		n = readlink(c->name, got, sizeof(got));
		if (n != (ssize_t)c->len || memcmp(got, want, c->len)) {
			fprintf(stderr, "# %s: readlink returned %zd bytes "
				"(want %zu) %s\n", c->name, n, c->len,
				n < 0 ? strerror(errno) : "");
			bad++;
			continue;
		}
		if (lstat(c->name, &st) || !S_ISLNK(st.st_mode) ||
		    st.st_size != (off_t)c->len) {
			fprintf(stderr, "# %s: lstat mode %o size %lld\n",
				c->name, st.st_mode, (long long)st.st_size);
			bad++;
		}
		if (c->resolves && rlfs_verify_file(c->name, 8192, 3)) {
			fprintf(stderr, "# %s: does not resolve to f\n",
				c->name);
			bad++;
		}
		if (!c->resolves && access(c->name, F_OK) != -1) {
			fprintf(stderr, "# %s: dangling link resolves\n",
				c->name);
			bad++;
		}
	}
	return bad;
}

TEST_F_TIMEOUT(posix, symlinks, T_SHORT)
{
	char target[4100];
	unsigned int i;
	char *huge;

	ASSERT_EQ(0, rlfs_make_file("f", 8192, 3, false));
	if (rlfs_is_fstype("xfs")) {
		/*
		 * XFS_SYMLINK_MAXLEN: an xfs symlink target is shorter
		 * than 1024 bytes (reflinkfs and btrfs: PATH_MAX).
		 */
		make_target(target, 4000, false);
		EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(symlink(target, "l_4000")));
		make_target(target, 1024, false);
		EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(symlink(target, "l_1024")));
		link_cases[ARRAY_SIZE(link_cases) - 1].len = 1023;
	}
	for (i = 0; i < ARRAY_SIZE(link_cases); i++) {
		make_target(target, link_cases[i].len, link_cases[i].resolves);
		ASSERT_EQ(0, symlink(target, link_cases[i].name)) {
			TH_LOG("symlink %s (%zu bytes): %s",
			       link_cases[i].name, link_cases[i].len,
			       strerror(errno));
		}
	}
	EXPECT_EQ(EEXIST, ERRNO_OF(symlink("f", "l_fast")));
	EXPECT_EQ(0, check_links());

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, check_links());

	/* A target of PATH_MAX bytes or more is refused. */
	huge = malloc(PATH_MAX + 2);
	ASSERT_NE(NULL, huge);
	memset(huge, 'x', PATH_MAX + 1);
	huge[PATH_MAX + 1] = '\0';
	EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(symlink(huge, "l_huge")));
	free(huge);

	/* Removing links leaves the target alone and frees slow blocks. */
	for (i = 0; i < ARRAY_SIZE(link_cases); i++)
		ASSERT_EQ(0, unlink(link_cases[i].name));
	EXPECT_EQ(0, rlfs_verify_file("f", 8192, 3));
	EXPECT_EQ(1, nlink_of("f"));
}

TEST_F_TIMEOUT(posix, name_too_long, T_SHORT)
{
	char n255[256], n256[257], p[300];
	struct dirent *de;
	bool found = false;
	DIR *d;
	int fd;

	memset(n255, 'n', 255);
	n255[255] = '\0';
	memset(n256, 'm', 256);
	n256[256] = '\0';

	fd = open(n255, O_CREAT | O_EXCL | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(3, write(fd, "max", 3));
	close(fd);
	ASSERT_EQ(0, mkdir("d", 0755));
	snprintf(p, sizeof(p), "d/%s", n255);
	ASSERT_EQ(0, mkdir(p, 0755));

	EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(open(n256, O_CREAT | O_WRONLY, 0644)));
	EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(mkdir(n256, 0755)));
	EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(symlink("x", n256)));
	EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(link(n255, n256)));
	EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(rename(n255, n256)));
	EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(mknod(n256, S_IFIFO | 0644, 0)));
	EXPECT_EQ(ENAMETOOLONG, ERRNO_OF(access(n256, F_OK)));

	RLFS_REMOUNT(&self->fs);
	d = opendir(".");
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		if (!strcmp(de->d_name, n255))
			found = true;
	closedir(d);
	EXPECT_TRUE(found);
	EXPECT_EQ(3, size_of(n255));
	EXPECT_EQ(0, rmdir(p));
	EXPECT_EQ(0, unlink(n255));
}

/* ---- special files -------------------------------------------------------- */

struct special_case {
	const char *name;
	mode_t mode;
	unsigned int maj, min;
	unsigned char dtype;
};

/* Not const: on xfs the big minor is cut to its limit (special_files). */
static struct special_case special_cases[] = {
	{ "fifo",	S_IFIFO | 0600,	0, 0,		DT_FIFO },
	{ "sock",	S_IFSOCK | 0644, 0, 0,		DT_SOCK },
	{ "null",	S_IFCHR | 0666,	1, 3,		DT_CHR },
	{ "chr_big",	S_IFCHR | 0600,	300, 70000,	DT_CHR },
	{ "blk",	S_IFBLK | 0600,	8, 16,		DT_BLK },
	{ "blk_big",	S_IFBLK | 0600,	259, 1048575,	DT_BLK },
};

static int check_specials(void)
{
	unsigned char types[ARRAY_SIZE(special_cases)] = { 0 };
	struct dirent *de;
	unsigned int i;
	int bad = 0;
	DIR *d;

	for (i = 0; i < ARRAY_SIZE(special_cases); i++) {
		const struct special_case *c = &special_cases[i];
		struct stat st;

		if (lstat(c->name, &st)) {
			fprintf(stderr, "# lstat %s: %s\n", c->name,
				strerror(errno));
			bad++;
			continue;
		}
		if (st.st_mode != c->mode) {
			fprintf(stderr, "# %s: mode %o, want %o\n", c->name,
				st.st_mode, c->mode);
			bad++;
		}
		if ((S_ISCHR(c->mode) || S_ISBLK(c->mode)) &&
		    st.st_rdev != makedev(c->maj, c->min)) {
			fprintf(stderr, "# %s: rdev %u:%u, want %u:%u\n",
				c->name, major(st.st_rdev), minor(st.st_rdev),
				c->maj, c->min);
			bad++;
		}
		if (st.st_size != 0 || st.st_blocks != 0) {
			fprintf(stderr, "# %s: size %lld blocks %lld\n",
				c->name, (long long)st.st_size,
				(long long)st.st_blocks);
			bad++;
		}
	}
	d = opendir(".");
	if (!d)
		return bad + 1;
	while ((de = readdir(d)))
		for (i = 0; i < ARRAY_SIZE(special_cases); i++)
			if (!strcmp(de->d_name, special_cases[i].name))
				types[i] = de->d_type;
	closedir(d);
	for (i = 0; i < ARRAY_SIZE(special_cases); i++) {
		if (types[i] != special_cases[i].dtype) {
			fprintf(stderr, "# %s: d_type %d, want %d\n",
				special_cases[i].name, types[i],
				special_cases[i].dtype);
			bad++;
		}
	}
	return bad;
}

TEST_F_TIMEOUT(posix, special_files, T_SHORT)
{
	unsigned int i;
	int fd;

	umask(0);
	if (rlfs_is_fstype("xfs")) {
		/*
		 * xfs keeps rdev in the 32-bit sysv encoding and takes
		 * majors < 512, minors < 2^18 only (xfs_generic_create:
		 * sysv_valid_dev), else EINVAL.
		 */
		EXPECT_EQ(EINVAL, ERRNO_OF(mknod("blk_2p20", S_IFBLK | 0600,
						 makedev(259, 1048575))));
		EXPECT_EQ(EINVAL, ERRNO_OF(mknod("chr_512", S_IFCHR | 0600,
						 makedev(512, 0))));
		special_cases[ARRAY_SIZE(special_cases) - 1].min = 262143;
	}
	for (i = 0; i < ARRAY_SIZE(special_cases); i++) {
		const struct special_case *c = &special_cases[i];

		ASSERT_EQ(0, mknod(c->name, c->mode,
				   makedev(c->maj, c->min))) {
			TH_LOG("mknod %s: %s", c->name, strerror(errno));
		}
	}
	EXPECT_EQ(0, check_specials());
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, check_specials());

	/* The device node works: it is /dev/null. */
	fd = open("null", O_WRONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(4, write(fd, "gone", 4));
	close(fd);
	/* A FIFO opened non-blocking for reading works too. */
	fd = open("fifo", O_RDONLY | O_NONBLOCK);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	for (i = 0; i < ARRAY_SIZE(special_cases); i++)
		EXPECT_EQ(0, unlink(special_cases[i].name));
}

TEST_F_TIMEOUT(posix, readdir_types, T_SHORT)
{
	static const struct { const char *name; unsigned char type; } want[] = {
		{ "reg", DT_REG }, { "dir", DT_DIR }, { "lnk", DT_LNK },
	};
	unsigned char got[3] = { 0 };
	struct dirent *de;
	unsigned int i;
	int pass;
	DIR *d;

	ASSERT_EQ(0, write_all("reg", "r", 1, 0));
	ASSERT_EQ(0, mkdir("dir", 0755));
	ASSERT_EQ(0, symlink("reg", "lnk"));
	for (pass = 0; pass < 2; pass++) {
		d = opendir(".");
		ASSERT_NE(NULL, d);
		memset(got, 0, sizeof(got));
		while ((de = readdir(d))) {
			for (i = 0; i < ARRAY_SIZE(want); i++)
				if (!strcmp(de->d_name, want[i].name))
					got[i] = de->d_type;
			if (!strcmp(de->d_name, ".."))
				EXPECT_EQ(ino_of("."), (long long)de->d_ino);
		}
		closedir(d);
		for (i = 0; i < ARRAY_SIZE(want); i++) {
			EXPECT_EQ(want[i].type, got[i]) {
				TH_LOG("%s: d_type %d (pass %d)", want[i].name,
				       got[i], pass);
			}
		}
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
}

/* ---- rename ---------------------------------------------------------------- */

TEST_F_TIMEOUT(posix, rename_plain, T_SHORT)
{
	long long ino;

	ASSERT_EQ(0, rlfs_make_file("a", 6000, 3, false));
	ino = ino_of("a");
	ASSERT_EQ(0, rename("a", "b"));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("a", F_OK)));
	EXPECT_EQ(ino, ino_of("b"));
	EXPECT_EQ(0, rlfs_verify_file("b", 6000, 3));
	EXPECT_EQ(0, rename("b", "b"));
	EXPECT_EQ(ENOENT, ERRNO_OF(rename("nope", "x")));
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, rename("b", "d/c"));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("b", F_OK)));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(ino, ino_of("d/c"));
	EXPECT_EQ(1, nlink_of("d/c"));
	EXPECT_EQ(0, rlfs_verify_file("d/c", 6000, 3));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("a", F_OK)));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("b", F_OK)));
}

TEST_F_TIMEOUT(posix, rename_over_file, T_SHORT)
{
	long long before, after, src_ino;

	ASSERT_EQ(0, rlfs_make_file("victim", 4 * MiB, 4, true));
	ASSERT_EQ(0, rlfs_make_file("src", 8192, 5, true));
	src_ino = ino_of("src");
	before = rlfs_bfree(".");
	ASSERT_LT(0, before);

	ASSERT_EQ(0, rename("src", "victim"));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("src", F_OK)));
	EXPECT_EQ(src_ino, ino_of("victim"));
	EXPECT_EQ(0, rlfs_verify_file("victim", 8192, 5));
	/* The old target's 1024 data blocks are free again. */
	after = rlfs_wait_bfree(".", before + 1024);
	EXPECT_LE(before + 1024, after) {
		TH_LOG("f_bfree %lld before, %lld after replacing a 4 MiB "
		       "file", before, after);
	}

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("victim", 8192, 5));
	EXPECT_EQ(1, nlink_of("victim"));
	EXPECT_EQ(after, rlfs_bfree("."));
}

TEST_F_TIMEOUT(posix, rename_dir_across_parents, T_SHORT)
{
	long long root_nlink = nlink_of(".");
	int e;

	ASSERT_EQ(0, mkdir("a", 0755));
	ASSERT_EQ(0, mkdir("b", 0755));
	ASSERT_EQ(0, mkdir("a/sub", 0755));
	ASSERT_EQ(0, rlfs_make_file("a/sub/x", 5000, 6, false));
	EXPECT_EQ(DNL(3), nlink_of("a"));
	EXPECT_EQ(DNL(2), nlink_of("b"));
	EXPECT_EQ(ino_of("a"), ino_of("a/sub/.."));

	ASSERT_EQ(0, rename("a/sub", "b/sub"));
	EXPECT_EQ(ino_of("b"), ino_of("b/sub/.."));
	EXPECT_EQ(DNL(2), nlink_of("a"));
	EXPECT_EQ(DNL(3), nlink_of("b"));
	EXPECT_EQ(0, rlfs_verify_file("b/sub/x", 5000, 6));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(ino_of("b"), ino_of("b/sub/.."));
	EXPECT_EQ(DNL(2), nlink_of("a"));
	EXPECT_EQ(DNL(3), nlink_of("b"));
	EXPECT_EQ(0, rlfs_verify_file("b/sub/x", 5000, 6));

	/* Error cases. */
	ASSERT_EQ(0, mkdir("c", 0755));
	ASSERT_EQ(0, mkdir("c/full", 0755));
	ASSERT_EQ(0, write_all("c/full/f", "f", 1, 0));
	ASSERT_EQ(0, write_all("file", "f", 1, 0));
	e = ERRNO_OF(rename("b/sub", "c/full"));
	EXPECT_TRUE(e == ENOTEMPTY || e == EEXIST) {
		TH_LOG("rename over a non-empty dir: %s",
		       e ? strerror(e) : "success");
	}
	EXPECT_EQ(EINVAL, ERRNO_OF(rename("b", "b/sub/inside")));
	EXPECT_EQ(ENOTDIR, ERRNO_OF(rename("b/sub", "file")));
	EXPECT_EQ(EISDIR, ERRNO_OF(rename("file", "b/sub")));
	EXPECT_EQ(0, rlfs_verify_file("b/sub/x", 5000, 6));

	/* A directory replaces an empty directory in another parent. */
	ASSERT_EQ(0, mkdir("e", 0755));
	EXPECT_EQ(DNL(root_nlink + 4), nlink_of("."));	/* a b c e */
	ASSERT_EQ(0, rename("b/sub", "e"));
	EXPECT_EQ(DNL(root_nlink + 4), nlink_of("."));	/* a b c e(=sub) */
	EXPECT_EQ(DNL(2), nlink_of("b"));
	EXPECT_EQ(ino_of("."), ino_of("e/.."));
	EXPECT_EQ(0, rlfs_verify_file("e/x", 5000, 6));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(ino_of("."), ino_of("e/.."));
	EXPECT_EQ(DNL(root_nlink + 4), nlink_of("."));
	EXPECT_EQ(DNL(2), nlink_of("b"));
	EXPECT_EQ(DNL(2), nlink_of("e"));
	EXPECT_EQ(0, rlfs_verify_file("e/x", 5000, 6));
}

TEST_F_TIMEOUT(posix, rename_noreplace, T_SHORT)
{
	ASSERT_EQ(0, rlfs_make_file("x", 3000, 6, false));
	ASSERT_EQ(0, rlfs_make_file("y", 7000, 7, false));
	EXPECT_EQ(EEXIST, ERRNO_OF(sys_renameat2("x", "y", RENAME_NOREPLACE)));
	EXPECT_EQ(0, rlfs_verify_file("x", 3000, 6));
	EXPECT_EQ(0, rlfs_verify_file("y", 7000, 7));
	ASSERT_EQ(0, sys_renameat2("x", "z", RENAME_NOREPLACE));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("x", F_OK)));
	EXPECT_EQ(EINVAL, ERRNO_OF(sys_renameat2("z", "y",
						 RENAME_NOREPLACE |
						 RENAME_EXCHANGE)));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("z", 3000, 6));
	EXPECT_EQ(0, rlfs_verify_file("y", 7000, 7));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("x", F_OK)));
}

TEST_F_TIMEOUT(posix, rename_exchange_files, T_SHORT)
{
	long long ix, iy;

	ASSERT_EQ(0, rlfs_make_file("x", 5000, 6, false));
	ASSERT_EQ(0, rlfs_make_file("y", 9000, 7, false));
	ix = ino_of("x");
	iy = ino_of("y");
	ASSERT_EQ(0, sys_renameat2("x", "y", RENAME_EXCHANGE));
	EXPECT_EQ(iy, ino_of("x"));
	EXPECT_EQ(ix, ino_of("y"));
	EXPECT_EQ(0, rlfs_verify_file("x", 9000, 7));
	EXPECT_EQ(0, rlfs_verify_file("y", 5000, 6));
	EXPECT_EQ(ENOENT, ERRNO_OF(sys_renameat2("x", "nope",
						 RENAME_EXCHANGE)));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(iy, ino_of("x"));
	EXPECT_EQ(ix, ino_of("y"));
	EXPECT_EQ(0, rlfs_verify_file("x", 9000, 7));
	EXPECT_EQ(0, rlfs_verify_file("y", 5000, 6));
	EXPECT_EQ(1, nlink_of("x"));
	EXPECT_EQ(1, nlink_of("y"));
}

TEST_F_TIMEOUT(posix, rename_exchange_file_dir, T_SHORT)
{
	int pass;

	ASSERT_EQ(0, mkdir("a", 0755));
	ASSERT_EQ(0, mkdir("b", 0755));
	ASSERT_EQ(0, rlfs_make_file("a/f", 4500, 8, false));
	ASSERT_EQ(0, mkdir("b/d", 0755));
	ASSERT_EQ(0, rlfs_make_file("b/d/inner", 100, 9, false));
	EXPECT_EQ(DNL(2), nlink_of("a"));
	EXPECT_EQ(DNL(3), nlink_of("b"));

	ASSERT_EQ(0, sys_renameat2("a/f", "b/d", RENAME_EXCHANGE));
	for (pass = 0; pass < 2; pass++) {
		struct stat st;

		ASSERT_EQ(0, lstat("a/f", &st));
		EXPECT_TRUE(S_ISDIR(st.st_mode));
		ASSERT_EQ(0, lstat("b/d", &st));
		EXPECT_TRUE(S_ISREG(st.st_mode));
		EXPECT_EQ(DNL(3), nlink_of("a"));
		EXPECT_EQ(DNL(2), nlink_of("b"));
		EXPECT_EQ(DNL(2), nlink_of("a/f"));
		EXPECT_EQ(ino_of("a"), ino_of("a/f/.."));
		EXPECT_EQ(0, rlfs_verify_file("a/f/inner", 100, 9));
		EXPECT_EQ(0, rlfs_verify_file("b/d", 4500, 8));
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
	/* The moved directory can be emptied and removed from its new home. */
	ASSERT_EQ(0, unlink("a/f/inner"));
	ASSERT_EQ(0, rmdir("a/f"));
	EXPECT_EQ(DNL(2), nlink_of("a"));
}

/* ---- unlink / truncate / sparse -------------------------------------------- */

TEST_F_TIMEOUT(posix, unlink_open_file, T_SHORT)
{
	long long before, during, after;
	struct stat st;
	int fd;

	ASSERT_EQ(0, rlfs_make_file("u", 4 * MiB, 8, true));
	ASSERT_EQ(0, write_all("keep", "k", 1, 0));
	before = rlfs_bfree(".");
	fd = open("u", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink("u"));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("u", F_OK)));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, (long)st.st_nlink);
	EXPECT_EQ((off_t)(4 * MiB), st.st_size);
	/* Still readable and writable through the descriptor. */
	EXPECT_EQ(0, rlfs_verify(fd, 0, 4 * MiB, 8));
	EXPECT_EQ(0, rlfs_write_pattern(fd, 0, 4096, 8));
	EXPECT_EQ(0, fsync(fd));
	/* The blocks stay allocated while the file is open... */
	during = rlfs_bfree(".");
	EXPECT_GT(before + 1024, during) {
		TH_LOG("space of an open unlinked file was freed early: "
		       "%lld -> %lld", before, during);
	}
	ASSERT_EQ(0, close(fd));
	/* ...and come back once it is closed. */
	after = rlfs_wait_bfree(".", before + 1024);
	EXPECT_LE(before + 1024, after) {
		TH_LOG("f_bfree %lld before unlink, %lld after close", before,
		       after);
	}
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(after, rlfs_bfree("."));
	EXPECT_EQ(ENOENT, ERRNO_OF(access("u", F_OK)));
}

static int check_truncate_pattern(struct __test_metadata *_metadata, int fd)
{
	char buf[8192];
	int i, bad = 0;

	EXPECT_EQ(8192, pread(fd, buf, sizeof(buf), 0));
	for (i = 0; i < 8192; i++) {
		char want = i < 100 ? 'A' : 0;

		if (buf[i] != want) {
			if (!bad)
				TH_LOG("byte %d is 0x%02x, want 0x%02x", i,
				       (uint8_t)buf[i], (uint8_t)want);
			bad++;
		}
	}
	return bad;
}

TEST_F_TIMEOUT(posix, truncate_zeroes_tail, T_SHORT)
{
	char a[5000];
	struct stat st;
	int fd;

	memset(a, 'A', sizeof(a));
	/* In the page cache. */
	fd = open("t", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5000, pwrite(fd, a, 5000, 0));
	ASSERT_EQ(0, ftruncate(fd, 100));
	ASSERT_EQ(0, ftruncate(fd, 8192));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(8192, st.st_size);
	EXPECT_EQ(0, check_truncate_pattern(_metadata, fd));
	close(fd);
	RLFS_REMOUNT(&self->fs);
	fd = open("t", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, check_truncate_pattern(_metadata, fd));
	close(fd);

	/* From disk: each step after a remount. */
	fd = open("t2", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5000, pwrite(fd, a, 5000, 0));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	RLFS_REMOUNT(&self->fs);
	ASSERT_EQ(0, truncate("t2", 100));
	RLFS_REMOUNT(&self->fs);
	ASSERT_EQ(0, truncate("t2", 8192));
	fd = open("t2", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, check_truncate_pattern(_metadata, fd));
	close(fd);
	RLFS_REMOUNT(&self->fs);
	fd = open("t2", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, check_truncate_pattern(_metadata, fd));
	close(fd);
}

TEST_F_TIMEOUT(posix, truncate_frees_blocks, T_SHORT)
{
	const off_t keep = 3 * 4096 + 10;
	long long b_full, b_cut;
	int fd;

	ASSERT_EQ(0, rlfs_make_file("t", MiB, 10, true));
	b_full = rlfs_st_blocks("t");
	EXPECT_LE(2048, b_full);
	ASSERT_EQ(0, truncate("t", keep));
	b_cut = rlfs_st_blocks("t");
	/* 4 data blocks remain (and at most one extent block). */
	EXPECT_LE(32, b_cut);
	EXPECT_GE(40, b_cut) {
		TH_LOG("st_blocks %lld after truncating to 4 blocks", b_cut);
	}
	EXPECT_EQ(0, rlfs_verify_file("t", keep, 10));
	/* Growing again is sparse and reads zeros. */
	ASSERT_EQ(0, truncate("t", MiB));
	EXPECT_EQ(b_cut, rlfs_st_blocks("t"));
	fd = open("t", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rlfs_verify(fd, 0, keep, 10));
	EXPECT_EQ(0, rlfs_verify(fd, keep, MiB - keep, -1));
	close(fd);
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(MiB, (unsigned long long)size_of("t"));
	EXPECT_EQ(b_cut, rlfs_st_blocks("t"));
	ASSERT_EQ(0, truncate("t", 0));
	EXPECT_EQ(0, rlfs_st_blocks("t"));
	EXPECT_EQ(0, size_of("t"));
}

TEST_F_TIMEOUT(posix, sparse_file, T_SHORT)
{
	const off_t far = 100 * MiB;
	struct stat st;
	char c;
	int fd, pass;

	fd = open("s", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, far, 4096, 11));
	ASSERT_EQ(1, pwrite(fd, "\x5a", 1, 7));	/* sub-block, in a hole */
	close(fd);
	for (pass = 0; pass < 2; pass++) {
		fd = open("s", O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(far + 4096, st.st_size);
		/* 2 data blocks, maybe an extent block: far from 100 MiB */
		EXPECT_GE(64, st.st_blocks) {
			TH_LOG("st_blocks %lld for a sparse file",
			       (long long)st.st_blocks);
		}
		EXPECT_LE(16, st.st_blocks);
		EXPECT_EQ(0, rlfs_verify(fd, 0, 7, -1));
		ASSERT_EQ(1, pread(fd, &c, 1, 7));
		EXPECT_EQ(0x5a, c);
		EXPECT_EQ(0, rlfs_verify(fd, 8, 4096 - 8, -1));
		EXPECT_EQ(0, rlfs_verify(fd, 4096, 64 * 1024, -1));
		EXPECT_EQ(0, rlfs_verify(fd, 50 * MiB, 64 * 1024, -1));
		EXPECT_EQ(0, rlfs_verify(fd, far - 64 * 1024, 64 * 1024, -1));
		EXPECT_EQ(0, rlfs_verify(fd, far, 4096, 11));
		EXPECT_EQ(0, pread(fd, &c, 1, far + 4096));
		close(fd);
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
}

/* ---- fallocate ------------------------------------------------------------ */

TEST_F_TIMEOUT(posix, fallocate_default, T_SHORT)
{
	long long bfree0, bfree1;
	struct stat st;
	int fd;

	ASSERT_EQ(0, write_all("keep", "k", 1, 0));
	bfree0 = rlfs_bfree(".");
	fd = open("fa", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, 8192, 12));
	ASSERT_EQ(0, fallocate(fd, 0, 0, MiB));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)MiB, st.st_size);
	EXPECT_LE(2048, st.st_blocks);
	EXPECT_EQ(0, rlfs_verify(fd, 0, 8192, 12));
	EXPECT_EQ(0, rlfs_verify(fd, 8192, MiB - 8192, -1));
	close(fd);
	bfree1 = rlfs_bfree(".");
	EXPECT_LE(256, bfree0 - bfree1);

	RLFS_REMOUNT(&self->fs);
	fd = open("fa", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)MiB, st.st_size);
	EXPECT_LE(2048, st.st_blocks);
	EXPECT_EQ(0, rlfs_verify(fd, 0, 8192, 12));
	EXPECT_EQ(0, rlfs_verify(fd, 8192, MiB - 8192, -1));
	/* Writing into preallocated space takes no new blocks. */
	ASSERT_EQ(0, rlfs_write_pattern(fd, 65536, 65536, 13));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	EXPECT_EQ(bfree1, rlfs_bfree("."));
	ASSERT_EQ(0, unlink("fa"));
	EXPECT_EQ(bfree0, rlfs_wait_bfree(".", bfree0));
}

TEST_F_TIMEOUT(posix, fallocate_keep_size, T_SHORT)
{
	struct stat st;
	char c;
	int fd;

	fd = open("fk", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, 4096, 14));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 4096, MiB));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(4096, st.st_size);
	EXPECT_LE(8 + 2048, st.st_blocks);
	EXPECT_EQ(0, pread(fd, &c, 1, 4096));
	close(fd);

	RLFS_REMOUNT(&self->fs);
	fd = open("fk", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(4096, st.st_size);
	EXPECT_LE(8 + 2048, st.st_blocks);
	/* Exposing the preallocated blocks shows zeros, never stale data. */
	ASSERT_EQ(0, ftruncate(fd, MiB + 4096));
	EXPECT_EQ(0, rlfs_verify(fd, 0, 4096, 14));
	EXPECT_EQ(0, rlfs_verify(fd, 4096, MiB, -1));
	close(fd);
	RLFS_REMOUNT(&self->fs);
	fd = open("fk", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rlfs_verify(fd, 4096, MiB, -1));
	close(fd);
}

TEST_F_TIMEOUT(posix, fallocate_punch_hole, T_SHORT)
{
	long long b0, b1, bfree0, bfree1;
	int fd, pass;

	fd = open("fp", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, MiB, 15));
	ASSERT_EQ(0, fsync(fd));
	b0 = rlfs_st_blocks("fp");
	bfree0 = rlfs_bfree(".");
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       256 * 1024, 256 * 1024));
	b1 = rlfs_st_blocks("fp");
	EXPECT_GE(b0 - 512, b1) {
		TH_LOG("st_blocks %lld -> %lld after punching 256 KiB", b0, b1);
	}
	bfree1 = rlfs_bfree(".");
	/*
	 * btrfs frees a data extent only when no part of it is referenced:
	 * the punched middle of the 1 MiB extent stays allocated.
	 */
	if (!rlfs_is_fstype("btrfs"))
		EXPECT_LE(bfree0 + 64, bfree1);
	/* Partial blocks: bytes zeroed, nothing freed. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       1000, 3000));
	EXPECT_EQ(b1, rlfs_st_blocks("fp"));
	/* Beyond EOF: no size change. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       2 * MiB, 4096));
	close(fd);

	for (pass = 0; pass < 2; pass++) {
		EXPECT_EQ(MiB, (unsigned long long)size_of("fp"));
		fd = open("fp", O_RDONLY);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, rlfs_verify(fd, 0, 1000, 15));
		EXPECT_EQ(0, rlfs_verify(fd, 1000, 3000, -1));
		EXPECT_EQ(0, rlfs_verify(fd, 4000, 256 * 1024 - 4000, 15));
		EXPECT_EQ(0, rlfs_verify(fd, 256 * 1024, 256 * 1024, -1));
		EXPECT_EQ(0, rlfs_verify(fd, 512 * 1024, 512 * 1024, 15));
		EXPECT_EQ(256 * 1024, lseek(fd, 0, SEEK_HOLE));
		EXPECT_EQ(512 * 1024, lseek(fd, 256 * 1024, SEEK_DATA));
		close(fd);
		EXPECT_EQ(b1, rlfs_st_blocks("fp"));
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
}

TEST_F_TIMEOUT(posix, fallocate_zero_range, T_SHORT)
{
	const off_t zoff = 8192 + 100, zlen = 16384;
	int fd, pass;

	fd = open("fz", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, 65536, 16));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE, zoff, zlen));
	EXPECT_EQ(65536, size_of("fz"));
	/* Past EOF without KEEP_SIZE grows the file... */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE, 65536, 8192));
	EXPECT_EQ(65536 + 8192, size_of("fz"));
	/* ...with KEEP_SIZE it does not. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			       81920, 8192));
	EXPECT_EQ(65536 + 8192, size_of("fz"));
	close(fd);
	for (pass = 0; pass < 2; pass++) {
		fd = open("fz", O_RDONLY);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, rlfs_verify(fd, 0, zoff, 16));
		EXPECT_EQ(0, rlfs_verify(fd, zoff, zlen, -1));
		EXPECT_EQ(0, rlfs_verify(fd, zoff + zlen, 65536 - zoff - zlen,
					 16));
		EXPECT_EQ(0, rlfs_verify(fd, 65536, 8192, -1));
		close(fd);
		/* 16 + 2 data blocks, 2 preallocated past EOF */
		EXPECT_LE(20 * 8, rlfs_st_blocks("fz"));
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
}

TEST_F_TIMEOUT(posix, fallocate_unsupported, T_SHORT)
{
	int fd;

	fd = open("fu", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, 65536, 17));
	/* Modes the filesystem does not implement, and bad combinations. */
	EXPECT_EQ(EOPNOTSUPP, ERRNO_OF(fallocate(fd, FALLOC_FL_NO_HIDE_STALE,
						 0, 4096)));
	EXPECT_EQ(EOPNOTSUPP, ERRNO_OF(fallocate(fd, FALLOC_FL_PUNCH_HOLE,
						 0, 4096)));
	EXPECT_EQ(EOPNOTSUPP, ERRNO_OF(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
						 FALLOC_FL_ZERO_RANGE |
						 FALLOC_FL_KEEP_SIZE, 0, 4096)));
	EXPECT_EQ(EOPNOTSUPP, ERRNO_OF(fallocate(fd, 0x100, 0, 4096)));
	EXPECT_EQ(EINVAL, ERRNO_OF(fallocate(fd, 0, 0, 0)));
	EXPECT_EQ(EINVAL, ERRNO_OF(fallocate(fd, 0, -4096, 4096)));
	close(fd);
	EXPECT_EQ(0, rlfs_verify_file("fu", 65536, 17));
}

/* COLLAPSE_RANGE / INSERT_RANGE shift the data after the range. */
TEST_F_TIMEOUT(posix, fallocate_collapse_insert, T_SHORT)
{
	const size_t size = 64 * 1024;
	uint8_t *img = malloc(size + 8192), *want = malloc(size + 8192);
	int fd, e, pass;

	ASSERT_NE(NULL, img);
	ASSERT_NE(NULL, want);
	rlfs_fill(img, size, 0, 29);
	fd = open("fc", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)size, pwrite(fd, img, size, 0));
	ASSERT_EQ(0, fsync(fd));

	e = ERRNO_OF(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 16384, 8192));
	if (e == EOPNOTSUPP) {
		close(fd);
		free(img);
		free(want);
		SKIP(return, "COLLAPSE_RANGE not supported");
	}
	ASSERT_EQ(0, e);
	/* want = img without [16K, 24K) */
	memcpy(want, img, 16384);
	memcpy(want + 16384, img + 24576, size - 24576);
	/* insert a 4 KiB hole at 8K: everything after moves up */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_INSERT_RANGE, 8192, 4096));
	memmove(want + 12288, want + 8192, size - 8192 - 8192);
	memset(want + 8192, 0, 4096);
	/* size: 64K - 8K + 4K */
	EXPECT_EQ((off_t)(size - 4096), lseek(fd, 0, SEEK_END));
	/* Unaligned ranges and ranges reaching EOF are refused. */
	EXPECT_EQ(EINVAL, ERRNO_OF(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE,
					     100, 4096)));
	EXPECT_EQ(EINVAL, ERRNO_OF(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE,
					     size - 8192, 8192)));
	EXPECT_EQ(EINVAL, ERRNO_OF(fallocate(fd, FALLOC_FL_INSERT_RANGE,
					     size, 4096)));
	close(fd);
	for (pass = 0; pass < 2; pass++) {
		uint8_t *got = malloc(size);
		ssize_t n;

		ASSERT_NE(NULL, got);
		fd = open("fc", O_RDONLY);
		ASSERT_LE(0, fd);
		n = pread(fd, got, size, 0);
		EXPECT_EQ((ssize_t)(size - 4096), n);
		EXPECT_EQ(0, memcmp(got, want, size - 4096)) {
			size_t i;

			for (i = 0; i < size - 4096 && got[i] == want[i]; i++)
				;
			TH_LOG("first difference at byte %zu (pass %d)", i,
			       pass);
		}
		close(fd);
		free(got);
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
	free(img);
	free(want);
}

/* ---- SEEK_DATA / SEEK_HOLE ------------------------------------------------ */

struct seek_case {
	int whence;
	off_t from;
	off_t want;	/* -1: ENXIO */
};

TEST_F_TIMEOUT(posix, seek_data_hole, T_SHORT)
{
	/* data [0,4K) hole [4K,1M) data [1M,1M+8K) hole .. data [2M-4K,2M)
	 * hole [2M, 3M) = EOF 3M */
	static const struct seek_case cases[] = {
		{ SEEK_DATA, 0, 0 },
		{ SEEK_DATA, 100, 100 },
		{ SEEK_HOLE, 0, 4096 },
		{ SEEK_HOLE, 4095, 4096 },
		{ SEEK_DATA, 4096, MiB },
		{ SEEK_DATA, 5000, MiB },
		{ SEEK_HOLE, 5000, 5000 },
		{ SEEK_HOLE, MiB, MiB + 8192 },
		{ SEEK_HOLE, MiB + 100, MiB + 8192 },
		{ SEEK_DATA, MiB + 4096, MiB + 4096 },
		{ SEEK_DATA, MiB + 8192, 2 * MiB - 4096 },
		{ SEEK_HOLE, MiB + 8192, MiB + 8192 },
		{ SEEK_HOLE, 2 * MiB - 4096, 2 * MiB },
		{ SEEK_DATA, 2 * MiB, -1 },
		{ SEEK_HOLE, 2 * MiB, 2 * MiB },
		{ SEEK_HOLE, 3 * MiB - 1, 3 * MiB - 1 },
		{ SEEK_DATA, 3 * MiB - 1, -1 },
		{ SEEK_DATA, 3 * MiB, -1 },
		{ SEEK_HOLE, 3 * MiB, -1 },
		{ SEEK_DATA, 10 * MiB, -1 },
		{ SEEK_HOLE, 10 * MiB, -1 },
	};
	static const char *const phase[] = { "dirty", "fsynced", "remounted" };
	unsigned int i;
	int fd, p;

	fd = open("sk", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, 4096, 18));
	ASSERT_EQ(0, rlfs_write_pattern(fd, MiB, 8192, 18));
	ASSERT_EQ(0, rlfs_write_pattern(fd, 2 * MiB - 4096, 4096, 18));
	ASSERT_EQ(0, ftruncate(fd, 3 * MiB));
	for (p = 0; p < 3; p++) {
		if (p == 1)
			ASSERT_EQ(0, fsync(fd));
		if (p == 2) {
			close(fd);
			RLFS_REMOUNT(&self->fs);
			fd = open("sk", O_RDONLY);
			ASSERT_LE(0, fd);
		}
		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			const struct seek_case *c = &cases[i];
			off_t got;

			errno = 0;
			got = lseek(fd, c->from, c->whence);
			if (c->want < 0) {
				EXPECT_EQ(-1, got) {
					TH_LOG("%s: %s from %lld: got %lld, "
					       "want ENXIO", phase[p],
					       c->whence == SEEK_DATA ?
					       "SEEK_DATA" : "SEEK_HOLE",
					       (long long)c->from,
					       (long long)got);
				}
				EXPECT_EQ(ENXIO, errno);
			} else {
				EXPECT_EQ(c->want, got) {
					TH_LOG("%s: %s from %lld: got %lld "
					       "(%s)", phase[p],
					       c->whence == SEEK_DATA ?
					       "SEEK_DATA" : "SEEK_HOLE",
					       (long long)c->from,
					       (long long)got,
					       got < 0 ? strerror(errno) : "");
				}
			}
		}
	}
	close(fd);

	/* An empty file has neither data nor a hole at 0. */
	fd = open("empty", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	EXPECT_EQ(ENXIO, ERRNO_OF(lseek(fd, 0, SEEK_DATA)));
	EXPECT_EQ(ENXIO, ERRNO_OF(lseek(fd, 0, SEEK_HOLE)));
	close(fd);
}

/* ---- sync ----------------------------------------------------------------- */

TEST_F_TIMEOUT(posix, fsync_fdatasync_syncfs, T_SHORT)
{
	int fd, dfd;

	ASSERT_EQ(0, mkdir("d", 0755));
	fd = open("d/f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, 20000, 19));
	EXPECT_EQ(0, fsync(fd));
	ASSERT_EQ(0, rlfs_write_pattern(fd, 20000, 5000, 19));
	EXPECT_EQ(0, fdatasync(fd));
	EXPECT_EQ(0, syncfs(fd));
	EXPECT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE |
				     SYNC_FILE_RANGE_WAIT_AFTER));
	/* fsync with nothing dirty succeeds too. */
	EXPECT_EQ(0, fsync(fd));
	close(fd);
	dfd = open("d", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(0, fsync(dfd));
	EXPECT_EQ(0, fdatasync(dfd));
	close(dfd);

	fd = open("d/s", O_CREAT | O_WRONLY | O_SYNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, 10000, 20));
	close(fd);
	fd = open("d/ds", O_CREAT | O_WRONLY | O_DSYNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, 10000, 21));
	close(fd);

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("d/f", 25000, 19));
	EXPECT_EQ(0, rlfs_verify_file("d/s", 10000, 20));
	EXPECT_EQ(0, rlfs_verify_file("d/ds", 10000, 21));
}

/* ---- timestamps ------------------------------------------------------------ */

TEST_F_TIMEOUT(posix, timestamps_persist, T_SHORT)
{
	static const struct timespec times[][2] = {
		{ { 1000000000, 111111111 }, { 1234567890, 987654321 } },
		{ { 1, 1 }, { -1000, 500 } },			/* before 1970 */
		{ { 8589934592LL, 999999999 }, { 4294967296LL, 7 } }, /* > 2038 */
	};
	static const char *const names[] = { "t0", "t1", "t2" };
	struct timespec before, after;
	struct statx stx;
	struct stat st;
	unsigned int i;
	int pass;

	clock_gettime(CLOCK_REALTIME, &before);
	before.tv_sec -= 1;
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		ASSERT_EQ(0, write_all(names[i], "t", 1, 0));
		ASSERT_EQ(0, utimensat(AT_FDCWD, names[i], times[i], 0));
	}
	clock_gettime(CLOCK_REALTIME, &after);
	after.tv_sec += 1;
	ASSERT_EQ(0, mkdir("dir", 0755));
	ASSERT_EQ(0, utimensat(AT_FDCWD, "dir", times[0], 0));
	ASSERT_EQ(0, symlink("t0", "lnk"));
	ASSERT_EQ(0, utimensat(AT_FDCWD, "lnk", times[0], AT_SYMLINK_NOFOLLOW));

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < ARRAY_SIZE(names); i++) {
			ASSERT_EQ(0, stat(names[i], &st));
			EXPECT_TRUE(ts_eq(times[i][0], st.st_atim)) {
				TH_LOG("%s atime %lld.%09ld", names[i],
				       (long long)st.st_atim.tv_sec,
				       st.st_atim.tv_nsec);
			}
			EXPECT_TRUE(ts_eq(times[i][1], st.st_mtim)) {
				TH_LOG("%s mtime %lld.%09ld, want %lld.%09ld",
				       names[i], (long long)st.st_mtim.tv_sec,
				       st.st_mtim.tv_nsec,
				       (long long)times[i][1].tv_sec,
				       times[i][1].tv_nsec);
			}
		}
		ASSERT_EQ(0, stat("dir", &st));
		EXPECT_TRUE(ts_eq(times[0][1], st.st_mtim));
		ASSERT_EQ(0, lstat("lnk", &st));
		EXPECT_TRUE(ts_eq(times[0][1], st.st_mtim));
		/* Birth time, if reported, is the creation time. */
		ASSERT_EQ(0, statx(AT_FDCWD, "t0", 0, STATX_BTIME, &stx));
		if (stx.stx_mask & STATX_BTIME) {
			struct timespec bt = { stx.stx_btime.tv_sec,
					       stx.stx_btime.tv_nsec };

			EXPECT_TRUE(ts_after(bt, before) &&
				    ts_after(after, bt)) {
				TH_LOG("btime %lld outside [%lld, %lld]",
				       (long long)bt.tv_sec,
				       (long long)before.tv_sec,
				       (long long)after.tv_sec);
			}
		}
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
}

TEST_F_TIMEOUT(posix, mtime_ctime_update, T_SHORT)
{
	struct stat s0, s1, d0, d1;
	int fd;

	ASSERT_EQ(0, mkdir("d", 0755));
	fd = open("d/f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &s0));

	tick();
	ASSERT_EQ(4, write(fd, "data", 4));
	ASSERT_EQ(0, fstat(fd, &s1));
	EXPECT_TRUE(ts_after(s1.st_mtim, s0.st_mtim));
	EXPECT_TRUE(ts_after(s1.st_ctim, s0.st_ctim));

	tick();
	s0 = s1;
	ASSERT_EQ(0, fchmod(fd, 0600));
	ASSERT_EQ(0, fstat(fd, &s1));
	EXPECT_TRUE(ts_eq(s1.st_mtim, s0.st_mtim));
	EXPECT_TRUE(ts_after(s1.st_ctim, s0.st_ctim));

	tick();
	s0 = s1;
	ASSERT_EQ(0, ftruncate(fd, 2));
	ASSERT_EQ(0, fstat(fd, &s1));
	EXPECT_TRUE(ts_after(s1.st_mtim, s0.st_mtim));
	EXPECT_TRUE(ts_after(s1.st_ctim, s0.st_ctim));

	tick();
	s0 = s1;
	ASSERT_EQ(0, link("d/f", "d/g"));
	ASSERT_EQ(0, fstat(fd, &s1));
	EXPECT_TRUE(ts_after(s1.st_ctim, s0.st_ctim));
	close(fd);

	/* Directory mtime/ctime follow entry changes. */
	ASSERT_EQ(0, stat("d", &d0));
	tick();
	ASSERT_EQ(0, write_all("d/new", "n", 1, 0));
	ASSERT_EQ(0, stat("d", &d1));
	EXPECT_TRUE(ts_after(d1.st_mtim, d0.st_mtim));
	EXPECT_TRUE(ts_after(d1.st_ctim, d0.st_ctim));
	tick();
	d0 = d1;
	ASSERT_EQ(0, unlink("d/new"));
	ASSERT_EQ(0, stat("d", &d1));
	EXPECT_TRUE(ts_after(d1.st_mtim, d0.st_mtim));
	tick();
	d0 = d1;
	ASSERT_EQ(0, rename("d/g", "d/h"));
	ASSERT_EQ(0, stat("d", &d1));
	EXPECT_TRUE(ts_after(d1.st_mtim, d0.st_mtim));

	/* The new values are on disk. */
	ASSERT_EQ(0, stat("d/f", &s0));
	RLFS_REMOUNT(&self->fs);
	ASSERT_EQ(0, stat("d/f", &s1));
	EXPECT_TRUE(ts_eq(s0.st_mtim, s1.st_mtim));
	EXPECT_TRUE(ts_eq(s0.st_ctim, s1.st_ctim));
	ASSERT_EQ(0, stat("d", &d0));
	EXPECT_TRUE(ts_eq(d0.st_mtim, d1.st_mtim));
}

/* ---- ownership and permissions -------------------------------------------- */

TEST_F_TIMEOUT(posix, chmod_chown_persist, T_SHORT)
{
	struct stat st;
	int pass;

	ASSERT_EQ(0, write_all("f", "f", 1, 0));
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, symlink("f", "l"));
	ASSERT_EQ(0, chown("f", 1234, 5678));
	ASSERT_EQ(0, chmod("f", 04751));
	ASSERT_EQ(0, chown("d", 100000, 200000));
	ASSERT_EQ(0, chmod("d", 01700));
	ASSERT_EQ(0, lchown("l", 42, 43));
	for (pass = 0; pass < 2; pass++) {
		ASSERT_EQ(0, stat("f", &st));
		EXPECT_EQ(04751U, st.st_mode & 07777);
		EXPECT_EQ(1234U, st.st_uid);
		EXPECT_EQ(5678U, st.st_gid);
		ASSERT_EQ(0, stat("d", &st));
		EXPECT_EQ(01700U, st.st_mode & 07777);
		EXPECT_EQ(100000U, st.st_uid);
		EXPECT_EQ(200000U, st.st_gid);
		ASSERT_EQ(0, lstat("l", &st));
		EXPECT_EQ(42U, st.st_uid);
		EXPECT_EQ(43U, st.st_gid);
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
	/* chown of a setuid executable clears setuid. */
	ASSERT_EQ(0, chown("f", 1, 1));
	ASSERT_EQ(0, stat("f", &st));
	EXPECT_EQ(0U, st.st_mode & S_ISUID);
}

enum { U_CHMOD_OTHER, U_CHOWN_OTHER, U_WRITE_RO_OWN, U_WRITE_OTHER,
	U_CREATE_IN_ROOTDIR, U_UNLINK_IN_ROOTDIR, U_CHMOD_OWN, U_WRITE_OWN,
	U_CHOWN_AWAY, U_SETFLAGS, U_TRUSTED_XATTR, U_UTIMES_OTHER, U_NR };

static const char *const u_names[U_NR] = {
	"chmod of root's file", "chown of root's file",
	"write to own 0444 file", "write to root's 0644 file",
	"create in root's 0755 dir", "unlink in root's 0755 dir",
	"chmod of own file", "write to own file after chmod",
	"chown of own file to root", "FS_IOC_SETFLAGS immutable",
	"set trusted.* xattr", "utimensat of root's file",
};

static void unpriv_child(int wfd)
{
	int res[U_NR];
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };
	int fd, flags = FS_IMMUTABLE_FL;

	if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) ||
	    setresuid(1000, 1000, 1000))
		_exit(2);
	res[U_CHMOD_OTHER] = ERRNO_OF(chmod("rootfile", 0666));
	res[U_CHOWN_OTHER] = ERRNO_OF(chown("rootfile", 1000, 1000));
	res[U_WRITE_RO_OWN] = ERRNO_OF(open("userfile", O_WRONLY));
	res[U_WRITE_OTHER] = ERRNO_OF(open("rootfile", O_WRONLY));
	res[U_CREATE_IN_ROOTDIR] = ERRNO_OF(open("rootdir/new",
						 O_CREAT | O_WRONLY, 0644));
	res[U_UNLINK_IN_ROOTDIR] = ERRNO_OF(unlink("rootdir/f"));
	res[U_CHMOD_OWN] = ERRNO_OF(chmod("userfile", 0644));
	fd = open("userfile", O_WRONLY | O_APPEND);
	res[U_WRITE_OWN] = fd < 0 ? errno :
			   (write(fd, "+u", 2) == 2 ? 0 : EIO);
	if (fd >= 0)
		close(fd);
	res[U_CHOWN_AWAY] = ERRNO_OF(chown("userfile", 0, 0));
	fd = open("userfile", O_RDONLY);
	res[U_SETFLAGS] = fd < 0 ? errno :
			  ERRNO_OF(ioctl(fd, FS_IOC_SETFLAGS, &flags));
	if (fd >= 0)
		close(fd);
	res[U_TRUSTED_XATTR] = ERRNO_OF(setxattr("userfile", "trusted.t", "v",
						 1, 0));
	res[U_UTIMES_OTHER] = ERRNO_OF(utimensat(AT_FDCWD, "rootfile", ts, 0));
	if (write(wfd, res, sizeof(res)) != sizeof(res))
		_exit(3);
	_exit(0);
}

TEST_F_TIMEOUT(posix, unprivileged_permissions, T_SHORT)
{
	static const int want[U_NR] = {
		[U_CHMOD_OTHER] = EPERM, [U_CHOWN_OTHER] = EPERM,
		[U_WRITE_RO_OWN] = EACCES, [U_WRITE_OTHER] = EACCES,
		[U_CREATE_IN_ROOTDIR] = EACCES, [U_UNLINK_IN_ROOTDIR] = EACCES,
		[U_CHMOD_OWN] = 0, [U_WRITE_OWN] = 0, [U_CHOWN_AWAY] = EPERM,
		[U_SETFLAGS] = EPERM, [U_TRUSTED_XATTR] = EPERM,
		[U_UTIMES_OTHER] = EPERM,
	};
	int res[U_NR];
	int pfd[2], status, i;
	char buf[16];
	struct stat st;
	pid_t pid;

	ASSERT_EQ(0, chmod(".", 0755));
	ASSERT_EQ(0, write_all("rootfile", "root", 4, 0));
	ASSERT_EQ(0, chmod("rootfile", 0644));
	ASSERT_EQ(0, write_all("userfile", "user", 4, 0));
	ASSERT_EQ(0, chown("userfile", 1000, 1000));
	ASSERT_EQ(0, chmod("userfile", 0444));
	ASSERT_EQ(0, mkdir("rootdir", 0755));
	ASSERT_EQ(0, write_all("rootdir/f", "f", 1, 0));

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		unpriv_child(pfd[1]);
	}
	close(pfd[1]);
	ASSERT_EQ((ssize_t)sizeof(res), read(pfd[0], res, sizeof(res))) {
		TH_LOG("the unprivileged child reported nothing");
	}
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (i = 0; i < U_NR; i++) {
		EXPECT_EQ(want[i], res[i]) {
			TH_LOG("uid 1000: %s: got %s, want %s", u_names[i],
			       res[i] ? strerror(res[i]) : "success",
			       want[i] ? strerror(want[i]) : "success");
		}
	}
	/* Root's objects are untouched; the user's changes happened. */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, stat("rootfile", &st));
		EXPECT_EQ(0644U, st.st_mode & 07777);
		EXPECT_EQ(0U, st.st_uid);
		EXPECT_EQ(4, read_all("rootfile", buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, "root", 4));
		ASSERT_EQ(0, stat("userfile", &st));
		EXPECT_EQ(0644U, st.st_mode & 07777);
		EXPECT_EQ(1000U, st.st_uid);
		EXPECT_EQ(6, read_all("userfile", buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, "user+u", 6));
		EXPECT_EQ(0, access("rootdir/f", F_OK));
		EXPECT_EQ(ENOENT, ERRNO_OF(access("rootdir/new", F_OK)));
		if (!i)
			RLFS_REMOUNT(&self->fs);
	}
}

/* ---- xattrs ---------------------------------------------------------------- */

struct xa { const char *name; const char *value; };

static const struct xa xa_set[] = {
	{ "user.a", "va" },
	{ "user.bb", "value-b" },
	{ "user.empty", "" },
	{ "trusted.t", "trusted value" },
	{ "security.s", "security value" },
};

/* Check that exactly the names in @want (and no others) are listed. */
static int check_xattr_list(const char *path, const char *const *want,
			    int nwant)
{
	char list[4096];
	int found[16] = { 0 };
	ssize_t n = listxattr(path, list, sizeof(list));
	int bad = 0, i;
	char *p;

	if (n < 0) {
		fprintf(stderr, "# listxattr %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (listxattr(path, NULL, 0) != n) {
		fprintf(stderr, "# listxattr size query differs\n");
		bad++;
	}
	for (p = list; p < list + n; p += strlen(p) + 1) {
		for (i = 0; i < nwant; i++)
			if (!strcmp(p, want[i]))
				break;
		if (i == nwant) {
			fprintf(stderr, "# %s: unexpected xattr %s\n", path, p);
			bad++;
		} else {
			found[i]++;
		}
	}
	for (i = 0; i < nwant; i++) {
		if (found[i] != 1) {
			fprintf(stderr, "# %s: xattr %s listed %d times\n",
				path, want[i], found[i]);
			bad++;
		}
	}
	return bad;
}

TEST_F_TIMEOUT(posix, xattr_basic, T_SHORT)
{
	const char *after_rm[] = { "user.bb", "user.empty", "trusted.t",
				   "security.s" };
	const char *all[ARRAY_SIZE(xa_set)];
	char buf[256];
	unsigned int i;
	int pass;

	ASSERT_EQ(0, write_all("f", "f", 1, 0));
	ASSERT_EQ(0, mkdir("d", 0755));
	for (i = 0; i < ARRAY_SIZE(xa_set); i++) {
		all[i] = xa_set[i].name;
		ASSERT_EQ(0, setxattr("f", xa_set[i].name, xa_set[i].value,
				      strlen(xa_set[i].value), 0)) {
			TH_LOG("setxattr %s: %s", xa_set[i].name,
			       strerror(errno));
		}
	}
	ASSERT_EQ(0, setxattr("d", "user.dir", "on a dir", 8, 0));
	for (i = 0; i < ARRAY_SIZE(xa_set); i++) {
		ssize_t len = strlen(xa_set[i].value);

		EXPECT_EQ(len, getxattr("f", xa_set[i].name, NULL, 0));
		EXPECT_EQ(len, getxattr("f", xa_set[i].name, buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, xa_set[i].value, len));
	}
	EXPECT_EQ(0, check_xattr_list("f", all, ARRAY_SIZE(all)));
	EXPECT_EQ(ENODATA, ERRNO_OF(getxattr("f", "user.none", buf,
					     sizeof(buf))));
	EXPECT_EQ(ERANGE, ERRNO_OF(getxattr("f", "user.bb", buf, 3)));
	EXPECT_EQ(ERANGE, ERRNO_OF(listxattr("f", buf, 5)));
	EXPECT_EQ(EOPNOTSUPP, ERRNO_OF(setxattr("f", "bogus.ns", "v", 1, 0)));

	ASSERT_EQ(0, removexattr("f", "user.a"));
	EXPECT_EQ(ENODATA, ERRNO_OF(getxattr("f", "user.a", buf, sizeof(buf))));
	EXPECT_EQ(ENODATA, ERRNO_OF(removexattr("f", "user.a")));

	for (pass = 0; pass < 2; pass++) {
		EXPECT_EQ(0, check_xattr_list("f", after_rm,
					      ARRAY_SIZE(after_rm)));
		for (i = 1; i < ARRAY_SIZE(xa_set); i++) {
			ssize_t len = strlen(xa_set[i].value);

			EXPECT_EQ(len, getxattr("f", xa_set[i].name, buf,
						sizeof(buf))) {
				TH_LOG("getxattr %s (pass %d): %s",
				       xa_set[i].name, pass, strerror(errno));
			}
			EXPECT_EQ(0, memcmp(buf, xa_set[i].value, len));
		}
		EXPECT_EQ(8, getxattr("d", "user.dir", buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, "on a dir", 8));
		EXPECT_EQ(ENODATA, ERRNO_OF(getxattr("f", "user.a", buf,
						     sizeof(buf))));
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
}

TEST_F_TIMEOUT(posix, xattr_create_replace, T_SHORT)
{
	char buf[64];

	ASSERT_EQ(0, write_all("f", "f", 1, 0));
	ASSERT_EQ(0, setxattr("f", "user.x", "one", 3, XATTR_CREATE));
	EXPECT_EQ(EEXIST, ERRNO_OF(setxattr("f", "user.x", "two", 3,
					    XATTR_CREATE)));
	EXPECT_EQ(ENODATA, ERRNO_OF(setxattr("f", "user.y", "two", 3,
					     XATTR_REPLACE)));
	EXPECT_EQ(ENODATA, ERRNO_OF(getxattr("f", "user.y", buf, sizeof(buf))));
	ASSERT_EQ(0, setxattr("f", "user.x", "three!", 6, XATTR_REPLACE));
	/* Plain set replaces too; shorter value. */
	ASSERT_EQ(0, setxattr("f", "user.z", "zz", 2, 0));
	ASSERT_EQ(0, setxattr("f", "user.z", "z", 1, 0));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(6, getxattr("f", "user.x", buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "three!", 6));
	EXPECT_EQ(1, getxattr("f", "user.z", buf, sizeof(buf)));
	EXPECT_EQ('z', buf[0]);
	EXPECT_EQ(ENODATA, ERRNO_OF(getxattr("f", "user.y", buf, sizeof(buf))));
}

TEST_F_TIMEOUT(posix, xattr_large_and_full, T_SHORT)
{
	char big[3000], mid[2000], huge[5000], got[5000];
	char longname[300];
	long long bfree0;
	int e;

	rlfs_fill(big, sizeof(big), 0, 22);
	rlfs_fill(mid, sizeof(mid), 0, 23);
	rlfs_fill(huge, sizeof(huge), 0, 24);
	ASSERT_EQ(0, write_all("f", "f", 1, 0));
	ASSERT_EQ(0, write_all("g", "g", 1, 0));
	bfree0 = rlfs_bfree(".");

	ASSERT_EQ(0, setxattr("f", "user.big", big, sizeof(big), 0));
	EXPECT_EQ((ssize_t)sizeof(big), getxattr("f", "user.big", got,
						  sizeof(got)));
	EXPECT_EQ(0, memcmp(got, big, sizeof(big)));
	if (!rlfs_is_reflinkfs()) {
		/*
		 * The limits are reflinkfs' one xattr block per inode;
		 * xfs (values up to 64 KiB) and btrfs (up to a leaf) take
		 * both values.  Their space accounting is their own.
		 */
		EXPECT_EQ(0, setxattr("f", "user.mid", mid, sizeof(mid), 0));
		EXPECT_EQ(0, setxattr("g", "user.huge", huge, sizeof(huge), 0));
		RLFS_REMOUNT(&self->fs);
		EXPECT_EQ((ssize_t)sizeof(mid), getxattr("f", "user.mid", got,
							  sizeof(got)));
		EXPECT_EQ(0, memcmp(got, mid, sizeof(mid)));
		EXPECT_EQ((ssize_t)sizeof(huge), getxattr("g", "user.huge",
							   got, sizeof(got)));
		EXPECT_EQ(0, memcmp(got, huge, sizeof(huge)));
		memset(longname, 'x', sizeof(longname));
		memcpy(longname, "user.", 5);
		longname[5 + 256] = '\0';
		EXPECT_EQ(ERANGE, ERRNO_OF(setxattr("f", longname, "v", 1, 0)));
		EXPECT_EQ(0, removexattr("f", "user.big"));
		EXPECT_EQ(0, removexattr("f", "user.mid"));
		EXPECT_EQ(0, removexattr("g", "user.huge"));
		EXPECT_EQ(ENODATA, ERRNO_OF(getxattr("f", "user.mid", got, 10)));
		return;
	}
	/* A second value that does not fit next to it. */
	e = ERRNO_OF(setxattr("f", "user.mid", mid, sizeof(mid), 0));
	EXPECT_TRUE(e == ENOSPC || e == E2BIG) {
		TH_LOG("2000-byte xattr next to a 3000-byte one: %s",
		       e ? strerror(e) : "success");
	}
	/* A value larger than the xattr space. */
	e = ERRNO_OF(setxattr("g", "user.huge", huge, sizeof(huge), 0));
	EXPECT_TRUE(e == ENOSPC || e == E2BIG) {
		TH_LOG("5000-byte xattr: %s", e ? strerror(e) : "success");
	}
	/* Failed sets changed nothing. */
	EXPECT_EQ((ssize_t)sizeof(big), getxattr("f", "user.big", got,
						  sizeof(got)));
	EXPECT_EQ(0, memcmp(got, big, sizeof(big)));
	EXPECT_EQ(ENODATA, ERRNO_OF(getxattr("f", "user.mid", got, 10)));
	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "user.", 5);
	longname[5 + 256] = '\0';
	EXPECT_EQ(ERANGE, ERRNO_OF(setxattr("f", longname, "v", 1, 0)));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ((ssize_t)sizeof(big), getxattr("f", "user.big", got,
						  sizeof(got)));
	EXPECT_EQ(0, memcmp(got, big, sizeof(big)));
	/* After removing the big one the 2000-byte value fits. */
	ASSERT_EQ(0, removexattr("f", "user.big"));
	ASSERT_EQ(0, setxattr("f", "user.mid", mid, sizeof(mid), 0));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ((ssize_t)sizeof(mid), getxattr("f", "user.mid", got,
						  sizeof(got)));
	EXPECT_EQ(0, memcmp(got, mid, sizeof(mid)));
	/* Removing the last xattr gives its storage back. */
	ASSERT_EQ(0, removexattr("f", "user.mid"));
	EXPECT_EQ(bfree0, rlfs_wait_bfree(".", bfree0));
}

/* ---- inode flags ------------------------------------------------------------ */

static int get_flags(const char *path, int *flags)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, FS_IOC_GETFLAGS, flags) ? -errno : 0;
	close(fd);
	return ret;
}

static int set_flags(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, FS_IOC_SETFLAGS, &flags) ? -errno : 0;
	close(fd);
	return ret;
}

TEST_F_TIMEOUT(posix, flags_immutable, T_SHORT)
{
	int flags, pass;

	ASSERT_EQ(0, rlfs_make_file("f", 5000, 25, false));
	ASSERT_EQ(0, get_flags("f", &flags));
	EXPECT_EQ(0, flags & (FS_IMMUTABLE_FL | FS_APPEND_FL));
	ASSERT_EQ(0, set_flags("f", flags | FS_IMMUTABLE_FL));
	for (pass = 0; pass < 2; pass++) {
		struct statx stx;

		ASSERT_EQ(0, get_flags("f", &flags));
		EXPECT_TRUE(flags & FS_IMMUTABLE_FL);
		EXPECT_EQ(EPERM, ERRNO_OF(open("f", O_WRONLY)));
		EXPECT_EQ(EPERM, ERRNO_OF(open("f", O_RDWR | O_APPEND)));
		EXPECT_EQ(EPERM, ERRNO_OF(unlink("f")));
		EXPECT_EQ(EPERM, ERRNO_OF(rename("f", "g")));
		EXPECT_EQ(EPERM, ERRNO_OF(truncate("f", 0)));
		EXPECT_EQ(EPERM, ERRNO_OF(chmod("f", 0600)));
		EXPECT_EQ(EPERM, ERRNO_OF(link("f", "g")));
		EXPECT_EQ(EPERM, ERRNO_OF(setxattr("f", "user.x", "v", 1, 0)));
		EXPECT_EQ(0, rlfs_verify_file("f", 5000, 25));
		ASSERT_EQ(0, statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &stx));
		if (stx.stx_attributes_mask & STATX_ATTR_IMMUTABLE)
			EXPECT_NE(0ULL, stx.stx_attributes & STATX_ATTR_IMMUTABLE);
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
	ASSERT_EQ(0, set_flags("f", flags & ~FS_IMMUTABLE_FL));
	EXPECT_EQ(0, rlfs_make_file("f", 100, 26, false));
	EXPECT_EQ(0, unlink("f"));
}

TEST_F_TIMEOUT(posix, flags_append_only, T_SHORT)
{
	char buf[16];
	int flags, fd, pass;

	ASSERT_EQ(0, write_all("f", "base", 4, 0));
	ASSERT_EQ(0, get_flags("f", &flags));
	ASSERT_EQ(0, set_flags("f", flags | FS_APPEND_FL));
	EXPECT_EQ(EPERM, ERRNO_OF(open("f", O_WRONLY)));
	EXPECT_EQ(EPERM, ERRNO_OF(open("f", O_WRONLY | O_TRUNC | O_APPEND)));
	fd = open("f", O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	EXPECT_EQ(3, write(fd, "+ab", 3));
	/* pwrite on an O_APPEND descriptor appends on Linux. */
	EXPECT_EQ(2, pwrite(fd, "+c", 2, 0));
	EXPECT_EQ(EPERM, ERRNO_OF(ftruncate(fd, 0)));
	EXPECT_EQ(EPERM, ERRNO_OF(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE, 0, 4096)));
	close(fd);
	EXPECT_EQ(EPERM, ERRNO_OF(unlink("f")));
	EXPECT_EQ(EPERM, ERRNO_OF(rename("f", "g")));
	for (pass = 0; pass < 2; pass++) {
		ASSERT_EQ(0, get_flags("f", &flags));
		EXPECT_TRUE(flags & FS_APPEND_FL);
		EXPECT_EQ(9, read_all("f", buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, "base+ab+c", 9));
		EXPECT_EQ(EPERM, ERRNO_OF(open("f", O_WRONLY)));
		if (!pass)
			RLFS_REMOUNT(&self->fs);
	}
	ASSERT_EQ(0, set_flags("f", flags & ~FS_APPEND_FL));
	EXPECT_EQ(0, truncate("f", 0));
	EXPECT_EQ(0, unlink("f"));
}

TEST_F_TIMEOUT(posix, flags_other_persist, T_SHORT)
{
	const int want = FS_NODUMP_FL | FS_NOATIME_FL | FS_SYNC_FL;
	/* xfs has no directory DIRSYNC flag (xfs_fileattr_set: EOPNOTSUPP) */
	const bool dirsync = !rlfs_is_fstype("xfs");
	const bool btrfs = rlfs_is_fstype("btrfs");
	int flags;

	ASSERT_EQ(0, write_all("f", "f", 1, 0));
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, get_flags("f", &flags));
	ASSERT_EQ(0, set_flags("f", flags | want));
	ASSERT_EQ(0, get_flags("d", &flags));
	if (!dirsync) {
		EXPECT_EQ(-EOPNOTSUPP, set_flags("d", flags | FS_DIRSYNC_FL));
		ASSERT_EQ(0, set_flags("d", flags | FS_NOATIME_FL | FS_NODUMP_FL));
	} else {
		ASSERT_EQ(0, set_flags("d", flags | FS_DIRSYNC_FL |
				       FS_NOATIME_FL | FS_NODUMP_FL));
	}
	/*
	 * Flags that are not supported are refused: compression (btrfs
	 * has it: there data journalling, which it has not).
	 */
	EXPECT_EQ(-EOPNOTSUPP, set_flags("f", flags |
		  (btrfs ? FS_JOURNAL_DATA_FL : FS_COMPR_FL)));
	/*
	 * A new file inherits NOATIME and NODUMP from its directory
	 * (btrfs_inherit_iflags inherits only NODATACOW/compression).
	 */
	ASSERT_EQ(0, write_all("d/child", "c", 1, 0));
	ASSERT_EQ(0, get_flags("d/child", &flags));
	EXPECT_EQ(btrfs ? 0 : FS_NOATIME_FL | FS_NODUMP_FL,
		  flags & (FS_NOATIME_FL | FS_NODUMP_FL));
	RLFS_REMOUNT(&self->fs);
	ASSERT_EQ(0, get_flags("f", &flags));
	EXPECT_EQ(want, flags & want);
	ASSERT_EQ(0, get_flags("d", &flags));
	EXPECT_EQ(dirsync, !!(flags & FS_DIRSYNC_FL));
	/* Files made in a DIRSYNC directory work as usual. */
	EXPECT_EQ(0, rlfs_make_file("d/x", 5000, 27, false));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("d/x", 5000, 27));
}

/* ---- statfs ----------------------------------------------------------------- */

TEST_F_TIMEOUT(posix, statfs_counts, T_SHORT)
{
	/*
	 * The filesystem's own magic and size; metadata slack for 1 MiB of
	 * data and 10 directories: 16 blocks on reflinkfs, 64 on xfs/btrfs
	 * (btree splits, inode chunks).
	 */
	unsigned long magic = rlfs_is_fstype("xfs") ? 0x58465342UL :
			      rlfs_is_fstype("btrfs") ? 0x9123683EUL :
			      RLFS_SUPER_MAGIC;
	unsigned long long nblocks = rlfs_is_reflinkfs() ? RLFS_TEST_BLOCKS :
		rlfs_native_bytes(RLFS_TEST_BLOCKS) / 4096;
	unsigned long slack = rlfs_is_reflinkfs() ? 16 : 64;
	/* btrfs allocates inodes dynamically: f_files = f_ffree = 0 */
	const bool inodes = !rlfs_is_fstype("btrfs");
	struct statfs s0, s1, s2;
	struct statvfs v;
	int i;

	ASSERT_EQ(0, write_all("keep", "k", 1, 0));
	ASSERT_LE(0, rlfs_bfree("."));	/* syncfs */
	ASSERT_EQ(0, statfs(".", &s0));
	EXPECT_EQ(magic, (unsigned long)s0.f_type);
	EXPECT_EQ(4096, s0.f_bsize);
	EXPECT_EQ(4096, s0.f_frsize);
	EXPECT_EQ(255, s0.f_namelen);
	/* btrfs reports the whole device */
	EXPECT_GE(nblocks - (rlfs_is_fstype("btrfs") ? 0 : 1), s0.f_blocks);
	EXPECT_LT(nblocks * 8 / 10, s0.f_blocks);
	EXPECT_GE(s0.f_blocks, s0.f_bfree);
	EXPECT_GE(s0.f_bfree, s0.f_bavail);
	EXPECT_LT(s0.f_blocks * 9 / 10, s0.f_bfree);	/* nearly empty */
	if (inodes) {
		EXPECT_LT(0UL, s0.f_files);
		EXPECT_GT(s0.f_files, s0.f_ffree);
		EXPECT_LT(0UL, s0.f_ffree);
	} else {
		EXPECT_EQ(0UL, s0.f_files);
		EXPECT_EQ(0UL, s0.f_ffree);
	}
	ASSERT_EQ(0, statvfs(".", &v));
	EXPECT_EQ(s0.f_bfree, v.f_bfree);
	EXPECT_EQ(4096UL, v.f_frsize);

	/* 1 MiB of data and 10 directories. */
	ASSERT_EQ(0, rlfs_make_file("data", MiB, 28, true));
	for (i = 0; i < 10; i++) {
		char n[16];

		snprintf(n, sizeof(n), "d%d", i);
		ASSERT_EQ(0, mkdir(n, 0755));
	}
	sync();
	ASSERT_EQ(0, statfs(".", &s1));
	EXPECT_LE(256UL, s0.f_bfree - s1.f_bfree);
	EXPECT_GE(256UL + slack, s0.f_bfree - s1.f_bfree);
	EXPECT_EQ(inodes ? 11UL : 0UL, s0.f_ffree - s1.f_ffree);
	EXPECT_EQ(s0.f_blocks, s1.f_blocks);
	EXPECT_EQ(s0.f_files, s1.f_files);

	/* Remount: the counts are recomputed and agree. */
	RLFS_REMOUNT(&self->fs);
	ASSERT_EQ(0, statfs(".", &s2));
	EXPECT_EQ(s1.f_bfree, s2.f_bfree);
	EXPECT_EQ(s1.f_ffree, s2.f_ffree);

	/* Removing everything gives it all back. */
	ASSERT_EQ(0, unlink("data"));
	for (i = 0; i < 10; i++) {
		char n[16];

		snprintf(n, sizeof(n), "d%d", i);
		ASSERT_EQ(0, rmdir(n));
	}
	EXPECT_EQ((long long)s0.f_bfree,
		  rlfs_wait_bfree(".", (long long)s0.f_bfree));
	ASSERT_EQ(0, statfs(".", &s2));
	EXPECT_EQ(s0.f_ffree, s2.f_ffree);
	RLFS_REMOUNT(&self->fs);
	ASSERT_EQ(0, statfs(".", &s2));
	EXPECT_EQ(s0.f_bfree, s2.f_bfree);
	EXPECT_EQ(s0.f_ffree, s2.f_ffree);
}

TEST_HARNESS_MAIN
