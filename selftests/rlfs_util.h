/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rlfs_util.h - fixture helpers shared by the reflinkfs C selftests.
 *
 * Every test gets a fresh filesystem: rlfs_fs_setup() runs
 * mkfs.reflinkfs on the scratch device, mounts it and chdir()s into the
 * mount point (so tests use relative paths); rlfs_fs_teardown() leaves
 * the mount point, unmounts and runs "fsck.reflinkfs -n", and fails the
 * test unless fsck reports a clean filesystem.
 *
 * kselftest_harness.h (6.1) runs FIXTURE_TEARDOWN in the test's child
 * after the body and exits with a failure status when _metadata->passed
 * was cleared, so a failed EXPECT in the teardown fails the test.  An
 * ASSERT in the teardown would longjmp back into the wrapper, which calls
 * the teardown again: the helpers below therefore never ASSERT in the
 * teardown and guard against being run twice.
 *
 * Environment (all optional):
 *   RLFS_TOP        top of the source tree (default: the directory above
 *                   the one holding this test program)
 *   RLFS_DEV        scratch block device (default: first of
 *                   RLFS_SCRATCH_DEVS, else /dev/vda)
 *   RLFS_MKFS, RLFS_FSCK  tool paths (default: RLFS_TOP/userspace/...,
 *                   else $PATH)
 *   RLFS_FSTYP      filesystem under test: reflinkfs (default), xfs or
 *                   btrfs (RLFS_FSTYPE is the older name); selects mkfs,
 *                   mount type and the clean check (see rlfs_fstype())
 *   RLFS_NATIVE_MIN_MIB  minimum xfs/btrfs test filesystem size (512)
 *   RLFS_VM=1       set by scripts/vm-run; without it (or
 *                   RLFS_ALLOW_HOST=1) every test is skipped so the suite
 *                   never touches a device on a development machine.
 */
#ifndef RLFS_UTIL_H
#define RLFS_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

/* kselftest_harness.h (6.1) has an unused parameter: keep -Wextra -Werror. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "rlfs_format.h"
#include <linux/fiemap.h>
#include <linux/fs.h>

#define RLFS_TEST_BLOCKS	65536ULL	/* 256 MiB test filesystems */
#define RLFS_MNT_BASE		"/tmp/rlfs-selftest"
#define RLFS_LOG		RLFS_MNT_BASE "/cmd.log"

struct rlfs_fs {
	char		dev[PATH_MAX];
	char		mnt[PATH_MAX];
	char		opts[256];
	unsigned long long blocks;
	bool		mounted;
	bool		torn_down;
};

/* ---- locations --------------------------------------------------------- */

static inline const char *rlfs_top(void)
{
	static char top[PATH_MAX];
	const char *env = getenv("RLFS_TOP");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (top[0])
		return top;
	if (env && *env) {
		snprintf(top, sizeof(top), "%s", env);
		return top;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(top, sizeof(top), "..");
		return top;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');		/* .../selftests/prog */
	if (slash)
		*slash = '\0';
	slash = strrchr(exe, '/');		/* .../selftests */
	if (slash)
		*slash = '\0';
	snprintf(top, sizeof(top), "%s", exe[0] ? exe : "/");
	return top;
}

/* Path of a userspace tool: $ENVVAR, RLFS_TOP/userspace/NAME, else NAME. */
static inline const char *rlfs_tool(const char *envvar, const char *name)
{
	static char buf[2][PATH_MAX];
	static int slot;
	const char *env = getenv(envvar);
	char *b = buf[slot++ & 1];

	if (env && *env)
		return env;
	snprintf(b, PATH_MAX, "%s/userspace/%s", rlfs_top(), name);
	if (access(b, X_OK) == 0)
		return b;
	return name;
}

static inline const char *rlfs_mkfs_path(void)
{
	return rlfs_tool("RLFS_MKFS", "mkfs.reflinkfs");
}

static inline const char *rlfs_fsck_path(void)
{
	return rlfs_tool("RLFS_FSCK", "fsck.reflinkfs");
}

/*
 * The filesystem under test: RLFS_FSTYP (reflinkfs, xfs or btrfs; the
 * older name RLFS_FSTYPE is accepted too), default reflinkfs.  On xfs and
 * btrfs the suite is a conformance suite: mkfs, mount and the clean check
 * after each test use that filesystem's own tools, and the cases that need
 * a reflinkfs-only interface skip (RLFS_REFLINKFS_ONLY).
 */
static inline const char *rlfs_fstype(void)
{
	const char *t = getenv("RLFS_FSTYP");

	if (!t || !*t)
		t = getenv("RLFS_FSTYPE");
	return t && *t ? t : "reflinkfs";
}

static inline bool rlfs_is_reflinkfs(void)
{
	return !strcmp(rlfs_fstype(), "reflinkfs");
}

static inline bool rlfs_is_fstype(const char *name)
{
	return !strcmp(rlfs_fstype(), name);
}

/*
 * In a test body: skip the case unless the filesystem under test is
 * reflinkfs (it needs a reflinkfs-only ioctl, tool or on-disk detail).
 */
#define RLFS_REFLINKFS_ONLY(what) do {					\
	if (!rlfs_is_reflinkfs())					\
		SKIP(return, "reflinkfs only (%s); RLFS_FSTYP=%s",	\
		     what, rlfs_fstype());				\
} while (0)

/*
 * In a FIXTURE_SETUP, before rlfs_fs_setup(): every case of the fixture
 * needs reflinkfs; skip without making a filesystem.
 */
#define RLFS_REFLINKFS_ONLY_SETUP(what) do {				\
	if (!rlfs_is_reflinkfs())					\
		SKIP(fflush(NULL); _exit(255),				\
		     "reflinkfs only (%s); RLFS_FSTYP=%s", what,	\
		     rlfs_fstype());					\
} while (0)

static inline void rlfs_default_dev(char *buf, size_t len)
{
	const char *env = getenv("RLFS_DEV");
	const char *list = getenv("RLFS_SCRATCH_DEVS");

	if (env && *env) {
		snprintf(buf, len, "%s", env);
	} else if (list && *list) {
		size_t n = strcspn(list, " \t");

		snprintf(buf, len, "%.*s", (int)n, list);
	} else {
		snprintf(buf, len, "/dev/vda");
	}
}

/* ---- running the userspace tools ---------------------------------------- */

/* Print a command's log to stderr as KTAP diagnostics. */
static inline void rlfs_dump_log(const char *what)
{
	char line[512];
	FILE *f = fopen(RLFS_LOG, "r");
	int n = 0;

	if (!f)
		return;
	fprintf(stderr, "# ---- output of %s:\n", what);
	while (fgets(line, sizeof(line), f) && n++ < 60)
		fprintf(stderr, "#   %s%s", line,
			line[strlen(line) - 1] == '\n' ? "" : "\n");
	fclose(f);
}

/*
 * Run a shell command with its output in RLFS_LOG; returns the exit status
 * (128 + signal for a killed command, -1 if it could not run).  The log is
 * printed when the status differs from @expect.
 */
static inline int rlfs_run(int expect, const char *fmt, ...)
{
	char cmd[PATH_MAX * 3];
	char full[PATH_MAX * 3 + 64];
	va_list ap;
	int st, rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s >%s 2>&1 </dev/null", cmd, RLFS_LOG);
	fflush(stdout);
	fflush(stderr);
	st = system(full);
	if (st == -1)
		rc = -1;
	else if (WIFEXITED(st))
		rc = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		rc = 128 + WTERMSIG(st);
	else
		rc = -1;
	if (rc != expect) {
		fprintf(stderr, "# command '%s' exited with %d (expected %d)\n",
			cmd, rc, expect);
		rlfs_dump_log(cmd);
	}
	return rc;
}

/*
 * Size of an xfs or btrfs test filesystem for @blocks 4 KiB blocks: at
 * least RLFS_NATIVE_MIN_MIB MiB (default 512; newer mkfs.xfs refuses less
 * than 300 MiB, mkfs.btrfs less than ~114 MiB).
 */
static inline unsigned long long rlfs_native_bytes(unsigned long long blocks)
{
	const char *e = getenv("RLFS_NATIVE_MIN_MIB");
	unsigned long long min = (e && *e ? strtoull(e, NULL, 0) : 512) << 20;

	return blocks * 4096 > min ? blocks * 4096 : min;
}

/*
 * mkfs of the filesystem under test: mkfs.reflinkfs -f DEV BLOCKS;
 * mkfs.xfs -m reflink=1 (4 KiB blocks); mkfs.btrfs.
 */
static inline int rlfs_mkfs(const char *dev, unsigned long long blocks)
{
	if (rlfs_is_fstype("xfs"))
		return rlfs_run(0, "mkfs.xfs -f -m reflink=1 -b size=4096 -d size=%llu '%s'",
				rlfs_native_bytes(blocks), dev);
	if (rlfs_is_fstype("btrfs"))
		return rlfs_run(0, "mkfs.btrfs -f -b %llu '%s'",
				rlfs_native_bytes(blocks), dev);
	return rlfs_run(0, "'%s' -f '%s' %llu", rlfs_mkfs_path(), dev, blocks);
}

/*
 * The clean check after a test, read-only: fsck.reflinkfs -n; on xfs
 * xfs_repair -n, on btrfs btrfs check --readonly.
 */
static inline int rlfs_fsck(const char *dev)
{
	if (rlfs_is_fstype("xfs"))
		return rlfs_run(0, "xfs_repair -n '%s'", dev);
	if (rlfs_is_fstype("btrfs"))
		return rlfs_run(0, "btrfs check --readonly '%s'", dev);
	return rlfs_run(0, "'%s' -n '%s'", rlfs_fsck_path(), dev);
}

/* ---- mount / unmount ---------------------------------------------------- */

/* Mount @fs and chdir into it.  Returns 0 or -errno. */
static inline int rlfs_mount(struct rlfs_fs *fs)
{
	if (mount(fs->dev, fs->mnt, rlfs_fstype(), 0,
		  fs->opts[0] ? fs->opts : NULL)) {
		int e = errno;

		fprintf(stderr, "# mount -t %s %s %s: %s\n", rlfs_fstype(),
			fs->dev, fs->mnt, strerror(e));
		return -e;
	}
	fs->mounted = true;
	if (chdir(fs->mnt)) {
		int e = errno;

		fprintf(stderr, "# chdir %s: %s\n", fs->mnt, strerror(e));
		return -e;
	}
	return 0;
}

/*
 * Leave the mount point and unmount; retries while busy (a just-closed
 * file may still hold it for a moment).  Returns 0 or -errno.
 */
static inline int rlfs_umount(struct rlfs_fs *fs)
{
	int i, e = 0;

	if (chdir("/")) {
		/* cannot happen; keep going */
	}
	for (i = 0; i < 100; i++) {
		if (umount2(fs->mnt, 0) == 0) {
			fs->mounted = false;
			return 0;
		}
		e = errno;
		if (e != EBUSY)
			break;
		usleep(50000);
	}
	fprintf(stderr, "# umount %s: %s\n", fs->mnt, strerror(e));
	return -e;
}

/* Unmount and mount again: drops every cached page, dentry and inode. */
static inline int rlfs_remount(struct rlfs_fs *fs)
{
	int ret = rlfs_umount(fs);

	if (ret)
		return ret;
	return rlfs_mount(fs);
}

/* Unmount everything still mounted on our mount point (a killed test). */
static inline void rlfs_umount_stale(const char *mnt)
{
	int i;

	for (i = 0; i < 10; i++)
		if (umount2(mnt, 0) && errno != EBUSY)
			break;
	if (umount2(mnt, 0) == 0 || errno == EBUSY)
		umount2(mnt, MNT_DETACH);
}

/* ---- fixture ------------------------------------------------------------ */

static inline bool rlfs_env_ok(char *why, size_t len)
{
	const char *vm = getenv("RLFS_VM");
	const char *allow = getenv("RLFS_ALLOW_HOST");

	if ((vm && !strcmp(vm, "1")) || (allow && !strcmp(allow, "1")))
		return true;
	snprintf(why, len, "not in the test VM (RLFS_VM unset): refusing to "
		 "touch a block device");
	return false;
}

/* mkfs + mount; the caller then works in the mount point (cwd). */
#define rlfs_fs_setup(fs, nblocks) do {					\
	char __why[128];						\
	int __ret;							\
	struct stat __st;						\
									\
	memset((fs), 0, sizeof(*(fs)));					\
	/* SKIP in a setup does not stop the body: leave the child. */	\
	if (!rlfs_env_ok(__why, sizeof(__why)))				\
		SKIP(fflush(NULL); _exit(255), "%s", __why);		\
	rlfs_default_dev((fs)->dev, sizeof((fs)->dev));			\
	snprintf((fs)->mnt, sizeof((fs)->mnt), "%s/mnt", RLFS_MNT_BASE);\
	(fs)->blocks = (nblocks);					\
	mkdir(RLFS_MNT_BASE, 0755);					\
	mkdir((fs)->mnt, 0755);						\
	ASSERT_EQ(0, stat((fs)->dev, &__st)) {				\
		TH_LOG("scratch device %s: %s", (fs)->dev,		\
		       strerror(errno));				\
	}								\
	ASSERT_TRUE(S_ISBLK(__st.st_mode)) {				\
		TH_LOG("%s is not a block device", (fs)->dev);		\
	}								\
	rlfs_umount_stale((fs)->mnt);					\
	ASSERT_EQ(0, rlfs_mkfs((fs)->dev, (fs)->blocks)) {		\
		TH_LOG("mkfs.reflinkfs %s failed", (fs)->dev);		\
	}								\
	__ret = rlfs_mount(fs);						\
	ASSERT_EQ(0, __ret) {						\
		TH_LOG("mount of a fresh filesystem failed: %s",	\
		       strerror(-__ret));				\
	}								\
} while (0)

/*
 * Unmount and check: the test fails unless the filesystem unmounts and
 * fsck -n reports it clean.  EXPECT only (see the comment at the top).
 */
#define rlfs_fs_teardown(fs) do {					\
	int __ret;							\
									\
	if ((fs)->torn_down || !(fs)->dev[0])				\
		break;							\
	(fs)->torn_down = true;						\
	/* files a failed test left open would keep the fs busy */	\
	close_range(3, ~0U, 0);						\
	if ((fs)->mounted) {						\
		__ret = rlfs_umount(fs);				\
		EXPECT_EQ(0, __ret) {					\
			TH_LOG("unmount failed: %s", strerror(-__ret));	\
		}							\
		if (__ret)						\
			break;						\
	}								\
	__ret = rlfs_fsck((fs)->dev);					\
	EXPECT_EQ(0, __ret) {						\
		TH_LOG("fsck.reflinkfs -n %s: exit %d, filesystem not "	\
		       "clean after the test", (fs)->dev, __ret);	\
	}								\
} while (0)

/* In a test body: unmount + mount again, asserting success. */
#define RLFS_REMOUNT(fs) do {						\
	int __r = rlfs_remount(fs);					\
	ASSERT_EQ(0, __r) {						\
		TH_LOG("remount failed: %s", strerror(-__r));		\
	}								\
} while (0)

/* ---- data patterns ------------------------------------------------------ */

/*
 * Pattern @seed: the byte at file offset @off is a hash of (off / 8, seed)
 * picked by off % 8, so a block written at the wrong offset, read from the
 * wrong block or left stale is seen.
 */
static inline uint64_t rlfs_pat_word(uint64_t word, uint32_t seed)
{
	uint64_t x = word * 0x9E3779B97F4A7C15ULL;

	x ^= ((uint64_t)seed + 1) * 0xC2B2AE3D27D4EB4FULL;
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 32;
	return x;
}

static inline uint8_t rlfs_pat_byte(uint64_t off, uint32_t seed)
{
	return (uint8_t)(rlfs_pat_word(off >> 3, seed) >> ((off & 7) * 8));
}

static inline void rlfs_fill(void *buf, size_t len, uint64_t off,
			     uint32_t seed)
{
	uint8_t *p = buf;
	size_t i = 0;

	for (; i < len && ((off + i) & 7); i++)
		p[i] = rlfs_pat_byte(off + i, seed);
	for (; i + 8 <= len; i += 8) {
		uint64_t w = rlfs_pat_word((off + i) >> 3, seed);

		memcpy(p + i, &w, 8);	/* little endian: byte k = w >> 8k */
	}
	for (; i < len; i++)
		p[i] = rlfs_pat_byte(off + i, seed);
}

/* Index of the first byte of @buf that differs from the pattern, or -1. */
static inline ssize_t rlfs_check(const void *buf, size_t len, uint64_t off,
				 uint32_t seed)
{
	const uint8_t *p = buf;
	size_t i = 0;

	for (; i < len && ((off + i) & 7); i++)
		if (p[i] != rlfs_pat_byte(off + i, seed))
			return (ssize_t)i;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = rlfs_pat_word((off + i) >> 3, seed);

		if (memcmp(p + i, &w, 8))
			break;
	}
	for (; i < len; i++)
		if (p[i] != rlfs_pat_byte(off + i, seed))
			return (ssize_t)i;
	return -1;
}

static inline ssize_t rlfs_check_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return (ssize_t)i;
	return -1;
}

#define RLFS_CHUNK	(1U << 20)

/* pwrite the pattern over [off, off+len) in chunks; 0 or -errno. */
static inline int rlfs_write_pattern(int fd, uint64_t off, uint64_t len,
				     uint32_t seed)
{
	size_t bsz = len < RLFS_CHUNK ? len : RLFS_CHUNK;
	char *buf = malloc(bsz ? bsz : 1);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (len) {
		size_t n = len < bsz ? len : bsz;
		ssize_t w;

		rlfs_fill(buf, n, off, seed);
		w = pwrite(fd, buf, n, off);
		if (w < 0) {
			ret = -errno;
			break;
		}
		if (w == 0) {
			ret = -EIO;
			break;
		}
		off += w;
		len -= w;
	}
	free(buf);
	return ret;
}

/*
 * Read [off, off+len) and compare with the pattern (seed >= 0) or with
 * zeros (seed < 0).  Returns 0 if equal, else 1 after printing the first
 * mismatch, or -errno on a read error / short file.
 */
static inline int rlfs_verify(int fd, uint64_t off, uint64_t len,
			      int64_t seed)
{
	size_t bsz = len < RLFS_CHUNK ? len : RLFS_CHUNK;
	char *buf = malloc(bsz ? bsz : 1);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (len) {
		size_t n = len < bsz ? len : bsz;
		ssize_t r = pread(fd, buf, n, off);
		ssize_t bad;

		if (r < 0) {
			ret = -errno;
			fprintf(stderr, "# read at %" PRIu64 ": %s\n", off,
				strerror(errno));
			break;
		}
		if (r == 0) {
			fprintf(stderr, "# unexpected EOF at %" PRIu64 "\n",
				off);
			ret = -ENODATA;
			break;
		}
		bad = seed < 0 ? rlfs_check_zero(buf, r) :
				 rlfs_check(buf, r, off, (uint32_t)seed);
		if (bad >= 0) {
			fprintf(stderr, "# data mismatch at offset %" PRIu64
				": got 0x%02x, want 0x%02x\n",
				off + bad, (uint8_t)buf[bad],
				seed < 0 ? 0 :
				rlfs_pat_byte(off + bad, (uint32_t)seed));
			ret = 1;
			break;
		}
		off += r;
		len -= r;
	}
	free(buf);
	return ret;
}

/* Create (truncate) @path and fill it with @len bytes of pattern @seed. */
static inline int rlfs_make_file(const char *path, uint64_t len,
				 uint32_t seed, bool do_fsync)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	int ret;

	if (fd < 0)
		return -errno;
	ret = rlfs_write_pattern(fd, 0, len, seed);
	if (!ret && do_fsync && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/* Compare a whole file with a pattern: 0 when size and bytes match. */
static inline int rlfs_verify_file(const char *path, uint64_t len,
				   int64_t seed)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	int ret;

	if (fd < 0) {
		fprintf(stderr, "# open %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || (uint64_t)st.st_size != len) {
		fprintf(stderr, "# %s: size %lld, want %" PRIu64 "\n", path,
			(long long)st.st_size, len);
		close(fd);
		return 1;
	}
	ret = rlfs_verify(fd, 0, len, seed);
	close(fd);
	return ret;
}

/*
 * Compare the whole file @path with @img (@len bytes): size and content.
 * Returns 0, or 1 after printing the first difference.
 */
static inline int rlfs_compare_image(const char *path, const uint8_t *img,
				     size_t len)
{
	uint8_t *buf = malloc(len + 1);
	struct stat st;
	size_t i;
	ssize_t r;
	int fd, ret = 0;

	if (!buf)
		return 1;
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "# open %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(buf);
		return 1;
	}
	if ((size_t)st.st_size != len) {
		fprintf(stderr, "# %s: size %lld, want %zu\n", path,
			(long long)st.st_size, len);
		ret = 1;
	}
	r = pread(fd, buf, len + 1, 0);
	if (r != (ssize_t)len) {
		fprintf(stderr, "# %s: read %zd bytes, want %zu\n", path, r,
			len);
		ret = 1;
	}
	for (i = 0; r > 0 && i < (size_t)r && i < len; i++) {
		if (buf[i] != img[i]) {
			fprintf(stderr, "# %s: byte %zu (block %zu) is 0x%02x, want 0x%02x\n",
				path, i, i / 4096, buf[i], img[i]);
			ret = 1;
			break;
		}
	}
	close(fd);
	free(buf);
	return ret;
}

/* ---- space accounting --------------------------------------------------- */

/*
 * XFS (5.19+) frees an unlinked inode's extents in background inode
 * inactivation (inodegc): until that ran, statfs counts them used and
 * FIEMAP still flags the blocks they shared, and on 6.1 neither syncfs
 * nor statfs waits for it.  XFS_IOC_FREE_EOFBLOCKS with
 * XFS_EOF_FLAGS_SYNC does (xfs_blockgc_free_space() ends in
 * xfs_inodegc_flush()), and trims speculative preallocation past EOF as
 * well.  The ABI from fs/xfs/libxfs/xfs_fs.h (xfslibs-dev is not a
 * dependency of the suite).
 */
struct rlfs_xfs_eofblocks {
	__u32	eof_version;		/* XFS_EOFBLOCKS_VERSION: 1 */
	__u32	eof_flags;		/* XFS_EOF_FLAGS_SYNC: 1 */
	__u32	eof_uid, eof_gid, eof_prid, pad32;
	__u64	eof_min_file_size;
	__u64	pad64[12];
};
#define RLFS_XFS_IOC_FREE_EOFBLOCKS	_IOR('X', 58, struct rlfs_xfs_eofblocks)

/*
 * Let deferred frees finish on the filesystem of @fd: syncfs, and on xfs
 * wait for inodegc.  The suite compares what a filesystem promises once
 * an unlink is done, not how soon its background work runs.
 */
static inline void rlfs_settle_fd(int fd)
{
	struct rlfs_xfs_eofblocks eofb = { .eof_version = 1, .eof_flags = 1 };

	syncfs(fd);
	if (rlfs_is_fstype("xfs") &&
	    ioctl(fd, RLFS_XFS_IOC_FREE_EOFBLOCKS, &eofb))
		fprintf(stderr, "# XFS_IOC_FREE_EOFBLOCKS: %s\n",
			strerror(errno));
}

/* rlfs_settle_fd() on the filesystem holding @path. */
static inline void rlfs_settle(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		rlfs_settle_fd(fd);
		close(fd);
	}
}

/* Free blocks of the filesystem holding @path (settled first), or -1. */
static inline long long rlfs_bfree(const char *path)
{
	struct statfs sf;

	rlfs_settle(path);
	if (statfs(path, &sf))
		return -1;
	return (long long)sf.f_bfree;
}

/*
 * Wait (up to ~5 s) until the free block count is at least @want: freeing
 * may finish in a deferred iput.  Returns the last value seen.
 */
static inline long long rlfs_wait_bfree(const char *path, long long want)
{
	long long v = -1;
	int i;

	for (i = 0; i < 50; i++) {
		v = rlfs_bfree(path);
		if (v >= want)
			break;
		usleep(100000);
	}
	return v;
}

static inline void rlfs_drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1) {
			/* best effort */
		}
		close(fd);
	}
}

/* st_blocks of @path in 512-byte units, or -1. */
static inline long long rlfs_st_blocks(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -1;
	return (long long)st.st_blocks;
}

/* ---- files and flags ------------------------------------------------------ */

/* FICLONE @src onto @dst (created or truncated, mode 0644): 0 or -errno. */
static inline int rlfs_clone_file(const char *src, const char *dst)
{
	int s = open(src, O_RDONLY);
	int d, ret = 0;

	if (s < 0)
		return -errno;
	d = open(dst, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (d < 0) {
		ret = -errno;
		close(s);
		return ret;
	}
	if (ioctl(d, FICLONE, s))
		ret = -errno;
	close(s);
	close(d);
	return ret;
}

/* FS_IOC_GETFLAGS of @path, ~0U on error. */
static inline unsigned int rlfs_get_iflags(const char *path)
{
	unsigned int fl = ~0U;
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		if (ioctl(fd, FS_IOC_GETFLAGS, &fl))
			fl = ~0U;
		close(fd);
	}
	return fl;
}

/* FS_IOC_SETFLAGS of @path: 0 or -errno. */
static inline int rlfs_set_iflags(const char *path, unsigned int fl)
{
	int fd = open(path, O_RDONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, FS_IOC_SETFLAGS, &fl) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Blocks [0, n) of @fd as a string in @out (n + 1 bytes): '.' hole, 'd'
 * mapped and not shared, 's' shared (FIEMAP_EXTENT_SHARED).
 * FIEMAP_FLAG_SYNC writes dirty data back first.  Returns 0 or -errno.
 */
static inline int rlfs_blockmap_fd(int fd, size_t n, char *out)
{
	const unsigned int cnt = 128;
	size_t sz = sizeof(struct fiemap) + cnt * sizeof(struct fiemap_extent);
	struct fiemap *fm = malloc(sz);
	uint64_t start = 0, end = n * RLFS_BLOCK_SIZE;
	int ret = 0;

	if (!fm)
		return -ENOMEM;
	if (rlfs_is_fstype("xfs"))
		rlfs_settle_fd(fd);	/* sharing as of the last unlink */
	memset(out, '.', n);
	out[n] = '\0';
	while (start < end) {
		unsigned int i;
		struct fiemap_extent *last;

		memset(fm, 0, sz);
		fm->fm_start = start;
		fm->fm_length = end - start;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = cnt;
		if (ioctl(fd, FS_IOC_FIEMAP, fm)) {
			ret = -errno;
			fprintf(stderr, "# FS_IOC_FIEMAP: %s\n", strerror(errno));
			break;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *fe = &fm->fm_extents[i];
			uint64_t b = fe->fe_logical / RLFS_BLOCK_SIZE;
			uint64_t e = (fe->fe_logical + fe->fe_length +
				      RLFS_BLOCK_SIZE - 1) / RLFS_BLOCK_SIZE;

			for (; b < e && b < n; b++)
				out[b] = (fe->fe_flags & FIEMAP_EXTENT_SHARED) ?
					 's' : 'd';
		}
		last = &fm->fm_extents[fm->fm_mapped_extents - 1];
		if (last->fe_flags & FIEMAP_EXTENT_LAST)
			break;
		if (last->fe_logical + last->fe_length <= start)
			break;
		start = last->fe_logical + last->fe_length;
	}
	free(fm);
	return ret;
}

/*
 * Drop the capabilities in @mask (1 << CAP_*) from the effective,
 * permitted and inheritable sets of this process.  Returns 0 or -errno.
 */
static inline int rlfs_drop_caps(uint64_t mask)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct cap[_LINUX_CAPABILITY_U32S_3];
	int c;

	if (!mask)
		return 0;
	if (syscall(SYS_capget, &hdr, cap))
		return -errno;
	for (c = 0; c < 64; c++) {
		if (!(mask & (1ULL << c)))
			continue;
		cap[CAP_TO_INDEX(c)].effective &= ~CAP_TO_MASK(c);
		cap[CAP_TO_INDEX(c)].permitted &= ~CAP_TO_MASK(c);
		cap[CAP_TO_INDEX(c)].inheritable &= ~CAP_TO_MASK(c);
	}
	return syscall(SYS_capset, &hdr, cap) ? -errno : 0;
}

#endif /* RLFS_UTIL_H */
