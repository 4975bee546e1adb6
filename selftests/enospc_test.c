// SPDX-License-Identifier: GPL-2.0
/*
 * enospc_test - running out of space while sharing, unsharing and
 * freeing shared blocks.
 *
 * "N free blocks" means statfs f_bavail == N.  The filesystem keeps a
 * reserved pool (f_bfree - f_bavail) that only freeing operations
 * (unlink, punch, truncate, the unmap half of a clone or dedupe) may use
 * for refcount-tree and extent-tree growth.  fill_to() gets to exactly N
 * with a filler file and a few small ones, re-reading statfs after every
 * step (tree blocks make each step inexact).
 *
 * The rule checked everywhere: an operation succeeds, or fails with a
 * clean errno and changes no file's contents, except that a failed clone
 * may have cloned a prefix of whole pieces (every destination block is
 * then the source's or its old one, and the size may have grown with
 * them); a dedupe never changes contents whatever its status; an unlink
 * never fails for lack of space and gives back what the file held.  File
 * contents are kept as one hash per block (struct fstate) and sharing as
 * FIEMAP strings ('.' hole, 'd' data, 's' shared).  Every test runs on a
 * fresh 64 MiB filesystem and ends with an unmount and
 * "fsck.reflinkfs -n" clean (rlfs_fs_teardown()).
 *
 *  dedupe_full_fs        FIDEDUPERANGE between identical, separately
 *                        written files at 0 free blocks keeps the
 *                        destination's data, also after a remount.
 *  clonerange_full_fs    FICLONERANGE onto different data at 0 free: each
 *                        destination block is the source's or its old one,
 *                        also after a remount.
 *  dedupe_killed         FIDEDUPERANGE over files of thousands of extents,
 *                        SIGKILLed after a random delay, again and again:
 *                        the destination keeps its data.
 *  clone_killed          the same with FICLONERANGE onto different data.
 *  unlink_shared_full    at 0 free, unlinking two files that together
 *                        share every block of a third, where every dropped
 *                        reference splits a record (the refcount tree grows
 *                        by several full leaves): both unlinks free their
 *                        inodes, the space comes back, the survivor is no
 *                        longer reported shared.
 *  punch_shared_full     at 0 free, punching single blocks in the middle of
 *                        shared records held in full refcount-tree leaves:
 *                        success, or ENOSPC with contents and FIEMAP
 *                        unchanged.
 *  truncate_shared_full  at 0 free, truncating such a file down: success,
 *                        or ENOSPC leaving the data; then a truncate back
 *                        up reads zeros past the smaller size.
 *  enospc_every_point    for N = 0..24 and a few larger values, on fresh
 *                        fragmented shared files, each of FICLONE,
 *                        REFLINKFS_IOC_REFLINK, FICLONERANGE, FIDEDUPERANGE,
 *                        FALLOC_FL_UNSHARE_RANGE, punch, truncate, a
 *                        copy-on-write overwrite and unlink at exactly N
 *                        free blocks; fsck after every round; at the
 *                        largest N everything succeeds.
 *  collapse_full,        FALLOC_FL_COLLAPSE_RANGE of one block of a
 *  collapse_full_long_pieces  fragmented shared file at 0 free (at a leaf
 *                        boundary, in a long extent): every later block
 *                        moves, or ENOSPC and nothing changed.
 *  insert_full           FALLOC_FL_INSERT_RANGE in the middle of an extent
 *                        in a full leaf at 0 free: the same rule.
 *
 * Environment: see rlfs_util.h.
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "rlfs_util.h"
#include "uapi/linux/reflinkfs.h"

#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE	0x40
#endif

#define BS		4096ULL
#define FS_BLOCKS	16384ULL	/* 64 MiB test filesystems */
#define T_SHORT		60
#define T_LONG		200
#define NSMALL		8		/* small filler files ... */
#define SMALL_MAX	5		/* ... of at most this many blocks */

/* ---- per-block content hashes ------------------------------------------- */

/* What a file holds: its size and a hash of every block (zero padded). */
struct fstate {
	off_t		size;
	size_t		nblk;
	uint64_t	*h;
};

static uint64_t hash_block(const uint8_t *p)
{
	uint64_t h = 0xcbf29ce484222325ULL, w;
	size_t i;

	for (i = 0; i < BS; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
	}
	return h;
}

static uint64_t zero_hash(void)
{
	static const uint8_t zero[BS];
	static uint64_t h;

	if (!h)
		h = hash_block(zero);
	return h;
}

/* Hash of block @b of @st; blocks past its end read as zeros. */
static uint64_t blk_hash(const struct fstate *st, size_t b)
{
	return b < st->nblk ? st->h[b] : zero_hash();
}

static void fstate_put(struct fstate *st)
{
	free(st->h);
	memset(st, 0, sizeof(*st));
}

/* Resize @st to @size bytes; new blocks are zeros.  0 or -ENOMEM. */
static int fstate_resize(struct fstate *st, off_t size)
{
	size_t n = (size + BS - 1) / BS, i;
	uint64_t *h = realloc(st->h, (n ? n : 1) * sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (i = st->nblk; i < n; i++)
		h[i] = zero_hash();
	st->h = h;
	st->nblk = n;
	st->size = size;
	return 0;
}

static int fstate_copy(struct fstate *dst, const struct fstate *src)
{
	fstate_put(dst);
	if (fstate_resize(dst, src->size))
		return -ENOMEM;
	memcpy(dst->h, src->h, src->nblk * sizeof(*src->h));
	return 0;
}

/* Read @path into @st (replacing it).  0 or -errno. */
static int fstate_get(const char *path, struct fstate *st)
{
	uint8_t *buf = malloc(RLFS_CHUNK);
	struct stat sb;
	off_t off = 0;
	size_t b = 0;
	int fd, ret = 0;

	fstate_put(st);
	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb)) {
		ret = -errno;
		goto out;
	}
	ret = fstate_resize(st, sb.st_size);
	while (!ret && off < sb.st_size) {
		ssize_t r = pread(fd, buf, RLFS_CHUNK, off);
		size_t i;

		if (r <= 0) {
			ret = r < 0 ? -errno : -ENODATA;
			break;
		}
		if (r % BS)
			memset(buf + r, 0, BS - r % BS);
		for (i = 0; i < (size_t)r && b < st->nblk; i += BS)
			st->h[b++] = hash_block(buf + i);
		off += r;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* @path must hold @want: 0, else 1 after printing the first difference. */
static int state_differs(const char *path, const struct fstate *want)
{
	struct fstate st = { 0 };
	size_t b;
	int ret = fstate_get(path, &st);

	if (ret) {
		fprintf(stderr, "# %s: %s\n", path, strerror(-ret));
		return 1;
	}
	if (st.size != want->size) {
		fprintf(stderr, "# %s: size %lld, want %lld\n", path,
			(long long)st.size, (long long)want->size);
		ret = 1;
	}
	for (b = 0; !ret && b < st.nblk; b++) {
		if (st.h[b] == want->h[b])
			continue;
		fprintf(stderr, "# %s: block %zu changed%s\n", path, b,
			st.h[b] == zero_hash() ? " (now zeros)" : "");
		ret = 1;
	}
	fstate_put(&st);
	return ret;
}

/*
 * After a clone of @src over all of @old that may have stopped part-way:
 * every block of @path is @old's or @src's, and its size is @old's or,
 * when the clone extends the file, anything up to @src's.  On success
 * @got is what it holds.  0, else 1 after printing the first bad block.
 */
static int state_not_mixed(const char *path, const struct fstate *old,
			   const struct fstate *src, struct fstate *got)
{
	off_t max = old->size > src->size ? old->size : src->size;
	size_t b;
	int ret = fstate_get(path, got);

	if (ret) {
		fprintf(stderr, "# %s: %s\n", path, strerror(-ret));
		return 1;
	}
	if (got->size < old->size || got->size > max) {
		fprintf(stderr, "# %s: size %lld, want %lld..%lld\n", path,
			(long long)got->size, (long long)old->size,
			(long long)max);
		return 1;
	}
	for (b = 0; b < got->nblk; b++) {
		if (got->h[b] == blk_hash(old, b) ||
		    got->h[b] == blk_hash(src, b))
			continue;
		fprintf(stderr, "# %s: block %zu is neither the old nor the source's%s\n",
			path, b, got->h[b] == zero_hash() ? " (zeros)" : "");
		return 1;
	}
	return 0;
}

/*
 * @path must still hold @st, which is what the test expects of it: 0,
 * else 1 after printing the first difference and taking what the file
 * holds now as @st, so that later checks report only new changes.
 */
static int holds(const char *path, struct fstate *st)
{
	if (!state_differs(path, st))
		return 0;
	fstate_get(path, st);
	return 1;
}

/* @path holds @want (another file's state). */
#define EXPECT_STATE(path, want) EXPECT_EQ(0, state_differs((path), (want)))

/* @path still holds what the test expects of it, @st. */
#define EXPECT_HOLDS(path, st) EXPECT_EQ(0, holds((path), (st)))

#define GET_STATE(path, st) ASSERT_EQ(0, fstate_get((path), (st)))

/* ---- FIEMAP ------------------------------------------------------------- */

/*
 * Blocks [0, n) of @path as a string ('.' hole, 'd' data, 's' shared),
 * malloc()ed; NULL on error.  FIEMAP_FLAG_SYNC writes dirty data back.
 */
static char *blockmap(const char *path, size_t n)
{
	char *out = malloc(n + 1);
	int fd = open(path, O_RDONLY);

	if (!out || fd < 0 || rlfs_blockmap_fd(fd, n, out)) {
		free(out);
		out = NULL;
	}
	if (fd >= 0)
		close(fd);
	return out;
}

/* Mapped extents of @path as FIEMAP reports them, or -1. */
static long count_extents(const char *path)
{
	struct fiemap fm = {
		.fm_length = FIEMAP_MAX_OFFSET, .fm_flags = FIEMAP_FLAG_SYNC,
	};
	int fd = open(path, O_RDONLY);
	long n = -1;

	if (fd >= 0 && !ioctl(fd, FS_IOC_FIEMAP, &fm))
		n = fm.fm_mapped_extents;
	if (fd >= 0)
		close(fd);
	return n;
}

/* A string of @n copies of @c (static buffers, 2 in rotation). */
static const char *rep(size_t n, char c)
{
	static char buf[2][4 * 1024];
	static int slot;
	char *b = buf[slot++ & 1];

	if (n > sizeof(buf[0]) - 1)
		n = sizeof(buf[0]) - 1;
	memset(b, c, n);
	b[n] = '\0';
	return b;
}

/*
 * Blocks [0, n) of @path must map as @map: 0, else 1 after printing the
 * first difference and taking the file's map as @map.
 */
static int map_holds(const char *path, char *map, size_t n)
{
	char *got = blockmap(path, n);
	size_t i, from;

	if (!got)
		return 1;
	for (i = 0; i < n && got[i] == map[i]; i++)
		;
	if (i < n) {
		from = i > 20 ? i - 20 : 0;
		fprintf(stderr, "# %s: FIEMAP of block %zu is '%c', want '%c'; from block %zu:\n#   got  %.60s\n#   want %.60s\n",
			path, i, got[i], map[i], from, got + from, map + from);
		memcpy(map, got, n);
	}
	free(got);
	return i < n;
}

/* Blocks [0, n) of @path map as @want (a constant). */
#define EXPECT_MAP(path, want, n) do {					\
	char *__want = strdup(want);					\
									\
	ASSERT_NE(NULL, __want);					\
	EXPECT_EQ(0, map_holds((path), __want, (n)));			\
	free(__want);							\
} while (0)

/* Blocks [0, n) of @path still map as the test expects, @map. */
#define EXPECT_MAP_HOLDS(path, map, n) EXPECT_EQ(0, map_holds((path), (map), (n)))

/* ---- space --------------------------------------------------------------- */

/* f_bavail after syncfs (which also makes freed blocks allocatable). */
static long long avail_blocks(void)
{
	struct statfs sf;
	int fd = open(".", O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	if (statfs(".", &sf))
		return -1;
	return (long long)sf.f_bavail;
}

/* Blocks given to each small filler file (each stays in its inode root). */
struct filler {
	int	small[NSMALL];
};

/* Name of filler @i: the big one for -1, else small one @i. */
static void filler_name(char *buf, size_t len, int i)
{
	if (i < 0)
		snprintf(buf, len, ".fill");
	else
		snprintf(buf, len, ".fill%d", i);
}

/* Empty filler files, created while there is room for their entries. */
static int filler_init(struct filler *fl)
{
	char name[16];
	int i, fd;

	memset(fl, 0, sizeof(*fl));
	for (i = -1; i < NSMALL; i++) {
		filler_name(name, sizeof(name), i);
		fd = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	return 0;
}

/* Give every filler block back. */
static int filler_reset(struct filler *fl)
{
	char name[16];
	int i;

	for (i = -1; i < NSMALL; i++) {
		filler_name(name, sizeof(name), i);
		if (truncate(name, 0))
			return -errno;
	}
	memset(fl, 0, sizeof(*fl));
	return 0;
}

/* Append @n blocks to @path (fallocate).  0 or -errno. */
static int grow_file(const char *path, long long n)
{
	struct stat st;
	int fd = open(path, O_RDWR), ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || fallocate(fd, 0, st.st_size, n * BS))
		ret = -errno;
	close(fd);
	return ret;
}

/* Drop the last @n blocks of the big filler (all of it if smaller). */
static int shrink_filler(long long n)
{
	struct stat st;
	off_t size;

	if (stat(".fill", &st))
		return -errno;
	size = st.st_size > (off_t)(n * BS) ? st.st_size - (off_t)(n * BS) : 0;
	return truncate(".fill", size) ? -errno : 0;
}

/*
 * Make f_bavail exactly @want: grow the big filler by the excess, or cut
 * its tail by the shortfall, and look again.  When the big filler cannot
 * take a block (its extent tree would need a new block), a small filler
 * takes one.  0 or -errno.
 */
static int fill_to(struct filler *fl, long long want)
{
	char name[16];
	int i, j, ret;

	for (i = 0; i < 100; i++) {
		long long avail = avail_blocks();

		if (avail < 0)
			return -errno;
		if (avail == want)
			return 0;
		if (avail < want) {
			ret = shrink_filler(want - avail);
			if (ret)
				return ret;
			continue;
		}
		ret = grow_file(".fill", avail - want);
		if (ret != -ENOSPC) {
			if (ret)
				return ret;
			continue;
		}
		if (avail_blocks() != avail)
			continue;	/* it took part of it */
		for (j = 0; j < NSMALL && fl->small[j] >= SMALL_MAX; j++)
			;
		if (j == NSMALL)
			return -ENOSPC;
		filler_name(name, sizeof(name), j);
		ret = grow_file(name, 1);
		if (ret && ret != -ENOSPC)
			return ret;
		/* One that cannot take a block is done with. */
		fl->small[j] = ret ? SMALL_MAX : fl->small[j] + 1;
	}
	fprintf(stderr, "# cannot get to %lld free blocks (at %lld)\n", want,
		avail_blocks());
	return -EAGAIN;
}

#define FILL_TO(fl, n) do {						\
	int __r = fill_to((fl), (n));					\
									\
	ASSERT_EQ(0, __r) {						\
		TH_LOG("filling to %lld free blocks: %s",		\
		       (long long)(n), strerror(-__r));			\
	}								\
} while (0)

/* ---- files ---------------------------------------------------------------- */

/* FICLONERANGE of blocks [sblk, sblk + n) of @sfd to @dblk of @dfd. */
static int clone_range(int sfd, uint64_t sblk, int dfd, uint64_t dblk,
		       uint64_t n)
{
	struct file_clone_range r = {
		.src_fd = sfd, .src_offset = sblk * BS, .src_length = n * BS,
		.dest_offset = dblk * BS,
	};

	return ioctl(dfd, FICLONERANGE, &r) ? -errno : 0;
}

/* FIDEDUPERANGE of @len bytes at 0: -errno, or the dedupe status. */
static int dedupe_file(int sfd, int dfd, uint64_t len)
{
	struct {
		struct file_dedupe_range r;
		struct file_dedupe_range_info i;
	} d;

	memset(&d, 0, sizeof(d));
	d.r.src_length = len;
	d.r.dest_count = 1;
	d.i.dest_fd = dfd;
	if (ioctl(sfd, FIDEDUPERANGE, &d.r))
		return -errno;
	return d.i.status;
}

static int punch(int fd, uint64_t blk, uint64_t n)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 blk * BS, n * BS) ? -errno : 0;
}

/* Length in blocks of piece @i of a fragmented file: every 4th is 3. */
static unsigned int piece_len(unsigned int i, bool long_pieces)
{
	return long_pieces && i % 4 == 0 ? 3 : 1;
}

/* First block of piece @i: the blocks of the pieces before it. */
static uint64_t piece_start(unsigned int i, bool long_pieces)
{
	uint64_t n = 0;
	unsigned int j;

	for (j = 0; j < i; j++)
		n += piece_len(j, long_pieces);
	return n;
}

/*
 * Write @nfiles (<= 8) files piece by piece in turn, so that their
 * blocks interleave on disk: each file gets @pieces extents.  File f
 * holds pattern seeds[f].  0 or -errno.
 */
static int write_interleaved(const char *const *names, const uint32_t *seeds,
			     int nfiles, unsigned int pieces, bool long_pieces)
{
	uint64_t off = 0;
	int fd[8], f, ret = 0;
	unsigned int i;

	for (f = 0; f < nfiles; f++) {
		fd[f] = open(names[f], O_CREAT | O_TRUNC | O_RDWR, 0644);
		if (fd[f] < 0)
			ret = -errno;
	}
	for (i = 0; !ret && i < pieces; i++) {
		uint64_t len = piece_len(i, long_pieces) * BS;

		for (f = 0; !ret && f < nfiles; f++)
			ret = rlfs_write_pattern(fd[f], off, len, seeds[f]);
		off += len;
	}
	for (f = 0; f < nfiles; f++) {
		if (fd[f] < 0)
			continue;
		if (!ret && fsync(fd[f]))
			ret = -errno;
		close(fd[f]);
	}
	return ret;
}

/* Short name of a result: "ok", the errno's name, or its text. */
static const char *errname(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case ENOSPC:
		return "ENOSPC";
	case EINTR:
		return "EINTR";
	case EIO:
		return "EIO";
	case EUCLEAN:
		return "EUCLEAN";
	case EROFS:
		return "EROFS";
	}
	return strerror(err);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- fixture ---------------------------------------------------------------- */

FIXTURE(enospc) {
	struct rlfs_fs fs;
	struct filler fl;
};

FIXTURE_SETUP(enospc)
{
	/* the cases count free blocks exactly (statfs == reflinkfs' own) */
	RLFS_REFLINKFS_ONLY_SETUP("exact free-block accounting");
	rlfs_fs_setup(&self->fs, FS_BLOCKS);
	ASSERT_EQ(0, filler_init(&self->fl));
}

FIXTURE_TEARDOWN(enospc)
{
	rlfs_fs_teardown(&self->fs);
}

/* ---- remapping at 0 free blocks --------------------------------------------- */

#define SMALL_FILE	(256 * 1024)

TEST_F_TIMEOUT(enospc, dedupe_full_fs, T_SHORT)
{
	struct fstate src = { 0 }, dst = { 0 };
	int sfd, dfd, st;

	ASSERT_EQ(0, rlfs_make_file("src", SMALL_FILE, 1, true));
	ASSERT_EQ(0, rlfs_make_file("dst", SMALL_FILE, 1, true));
	GET_STATE("src", &src);
	GET_STATE("dst", &dst);
	FILL_TO(&self->fl, 0);

	sfd = open("src", O_RDONLY);
	dfd = open("dst", O_RDWR);
	ASSERT_LE(0, sfd);
	ASSERT_LE(0, dfd);
	st = dedupe_file(sfd, dfd, SMALL_FILE);
	close(sfd);
	close(dfd);
	EXPECT_NE(FILE_DEDUPE_RANGE_DIFFERS, st);
	TH_LOG("FIDEDUPERANGE at 0 free blocks: %s", errname(-st));
	EXPECT_EQ(0, rlfs_verify_file("dst", SMALL_FILE, 1));
	EXPECT_HOLDS("dst", &dst);
	EXPECT_HOLDS("src", &src);
	RLFS_REMOUNT(&self->fs);
	EXPECT_HOLDS("dst", &dst);
	EXPECT_HOLDS("src", &src);
	fstate_put(&src);
	fstate_put(&dst);
}

TEST_F_TIMEOUT(enospc, clonerange_full_fs, T_SHORT)
{
	struct fstate src = { 0 }, dst = { 0 }, got = { 0 };
	int sfd, dfd, ret;

	ASSERT_EQ(0, rlfs_make_file("src", SMALL_FILE, 1, true));
	ASSERT_EQ(0, rlfs_make_file("dst", SMALL_FILE, 2, true));
	GET_STATE("src", &src);
	GET_STATE("dst", &dst);
	FILL_TO(&self->fl, 0);

	sfd = open("src", O_RDONLY);
	dfd = open("dst", O_RDWR);
	ASSERT_LE(0, sfd);
	ASSERT_LE(0, dfd);
	ret = clone_range(sfd, 0, dfd, 0, SMALL_FILE / BS);
	close(sfd);
	close(dfd);
	TH_LOG("FICLONERANGE at 0 free blocks: %s", errname(-ret));
	if (ret)
		EXPECT_EQ(-ENOSPC, ret);
	EXPECT_EQ(0, state_not_mixed("dst", &dst, &src, &got));
	if (!ret)
		EXPECT_STATE("dst", &src);
	EXPECT_HOLDS("src", &src);
	RLFS_REMOUNT(&self->fs);
	EXPECT_HOLDS("dst", &got);
	EXPECT_HOLDS("src", &src);
	fstate_put(&src);
	fstate_put(&dst);
	fstate_put(&got);
}

/* ---- remapping killed part-way ---------------------------------------------- */

#define KILL_BLOCKS	2000
#define KILL_ROUNDS	8

/* Dedupe or clone all of "src" onto @dst in a child; its pid. */
static pid_t remap_child(bool dedupe, const char *dst, uint64_t len)
{
	pid_t pid = fork();
	int sfd, dfd, ret;

	if (pid)
		return pid;
	sfd = open("src", O_RDONLY);
	dfd = open(dst, O_RDWR);
	if (sfd < 0 || dfd < 0)
		_exit(2);
	if (dedupe) {
		ret = dedupe_file(sfd, dfd, len);
	} else {
		struct file_clone_range r = {
			.src_fd = sfd, .src_length = len,
		};

		ret = ioctl(dfd, FICLONERANGE, &r) ? -errno : 0;
	}
	_exit(ret ? 1 : 0);
}

/*
 * Three files of KILL_BLOCKS single-block extents (written interleaved);
 * "dst" and "cal" hold the same data as "src" for a dedupe, other data
 * for a clone.  One remap onto cal runs to the end to time it, then
 * KILL_ROUNDS remaps onto dst are killed after a random part of that
 * time.  After each, "src" is intact and every block of dst is its old
 * one or the source's (for a dedupe the same thing), also after a
 * remount.
 */
static void remap_killed(struct __test_metadata *_metadata,
			 struct rlfs_fs *fs, bool dedupe)
{
	const char *const names[] = { "src", "dst", "cal" };
	const uint32_t seeds[] = { 1, dedupe ? 1 : 2, dedupe ? 1 : 2 };
	const uint64_t len = KILL_BLOCKS * BS;
	struct fstate src = { 0 }, cur = { 0 }, got = { 0 };
	unsigned int seed = (unsigned int)time(NULL) ^ getpid();
	int round, status, killed = 0;
	double t0, ms;
	long ext;
	pid_t pid;

	ASSERT_EQ(0, write_interleaved(names, seeds, 3, KILL_BLOCKS, false));
	ext = count_extents("dst");
	ASSERT_LE(KILL_BLOCKS / 2, ext) {
		TH_LOG("dst has only %ld extents", ext);
	}
	GET_STATE("src", &src);
	GET_STATE("dst", &cur);

	t0 = now_ms();
	pid = remap_child(dedupe, "cal", len);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ms = now_ms() - t0;
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_STATE("cal", dedupe ? &cur : &src);
	TH_LOG("%s of %ld extents: %.0f ms; kill seed %u",
	       dedupe ? "FIDEDUPERANGE" : "FICLONERANGE", ext, ms, seed);

	for (round = 0; round < KILL_ROUNDS; round++) {
		useconds_t delay = rand_r(&seed) % ((useconds_t)(ms * 1000) + 1);

		pid = remap_child(dedupe, "dst", len);
		ASSERT_LT(0, pid);
		usleep(delay);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		killed += WIFSIGNALED(status);
		EXPECT_EQ(0, state_not_mixed("dst", &cur, &src, &got)) {
			TH_LOG("round %d: killed after %u us", round, delay);
		}
		EXPECT_HOLDS("src", &src);
		ASSERT_EQ(0, fstate_copy(&cur, &got));
	}
	TH_LOG("%d of %d remaps killed before they returned", killed,
	       KILL_ROUNDS);
	RLFS_REMOUNT(fs);
	EXPECT_HOLDS("dst", &cur);
	EXPECT_HOLDS("src", &src);
	fstate_put(&src);
	fstate_put(&cur);
	fstate_put(&got);
}

TEST_F_TIMEOUT(enospc, dedupe_killed, T_LONG)
{
	remap_killed(_metadata, &self->fs, true);
}

TEST_F_TIMEOUT(enospc, clone_killed, T_LONG)
{
	remap_killed(_metadata, &self->fs, false);
}

/* ---- freeing shared blocks at 0 free blocks --------------------------------- */

#define MERGED_UNITS	800	/* 3-block units of the merged layout */
#define STEP_UNITS	300	/* 4-block units of the step layout */

/*
 * "A" (3 * MERGED_UNITS contiguous blocks, made by the caller) is cloned
 * to "B" and "C", then B loses blocks 3k + 2 and C blocks 3k and 3k + 1:
 * every block of A has count 2 and, records being merged, the refcount
 * tree holds one record.  Every extent of B and C lies inside it, so
 * dropping one splits it: removing B grows the tree by hundreds of
 * records, several full leaves.
 */
static void build_merged(struct __test_metadata *_metadata)
{
	unsigned int k;
	int fb, fc;

	ASSERT_EQ(0, rlfs_clone_file("A", "B"));
	ASSERT_EQ(0, rlfs_clone_file("A", "C"));
	fb = open("B", O_RDWR);
	fc = open("C", O_RDWR);
	ASSERT_LE(0, fb);
	ASSERT_LE(0, fc);
	for (k = 0; k < MERGED_UNITS; k++)
		ASSERT_EQ(0, punch(fb, 3 * k + 2, 1));
	for (k = 0; k < MERGED_UNITS; k++)
		ASSERT_EQ(0, punch(fc, 3 * k, 2));
	close(fb);
	close(fc);
}

/*
 * "A" (4 * STEP_UNITS + 4 contiguous blocks, made by the caller) is
 * cloned whole to "B" and "C" (count 3), and its block 4j + 3 to "D" for
 * every j (count 4): the records alternate [4j, 4j + 3) count 3 and
 * [4j + 3] count 4.  They were added at the end of the tree two at a
 * time, which leaves every leaf but the last full or one slot short, so
 * that splitting a count-3 record (two more records) splits its leaf.
 * B stays one extent.
 */
static void build_steps(struct __test_metadata *_metadata)
{
	unsigned int j;
	int fa, fd;

	ASSERT_EQ(0, rlfs_clone_file("A", "B"));
	ASSERT_EQ(0, rlfs_clone_file("A", "C"));
	fa = open("A", O_RDONLY);
	fd = open("D", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fd);
	for (j = 0; j < STEP_UNITS; j++)
		ASSERT_EQ(0, clone_range(fa, 4 * j + 3, fd, 4 * j + 3, 1));
	close(fa);
	close(fd);
}

/* Remove the filler files: only the test's own files are left. */
static void remove_fillers(struct __test_metadata *_metadata)
{
	char name[16];
	int i;

	for (i = -1; i < NSMALL; i++) {
		filler_name(name, sizeof(name), i);
		ASSERT_EQ(0, unlink(name));
	}
}

TEST_F_TIMEOUT(enospc, unlink_shared_full, T_LONG)
{
	const size_t n = 3 * MERGED_UNITS;
	struct fstate a = { 0 };
	long long bfree0, bfull, bnow;

	ASSERT_EQ(0, rlfs_make_file("A", n * BS, 1, true));
	bfree0 = rlfs_bfree(".");
	build_merged(_metadata);
	GET_STATE("A", &a);
	EXPECT_MAP("A", rep(n, 's'), n);
	FILL_TO(&self->fl, 0);
	bfull = rlfs_bfree(".");

	EXPECT_EQ(0, unlink("B"));
	EXPECT_EQ(0, unlink("C"));
	bnow = rlfs_bfree(".");
	EXPECT_LT(bfull, bnow) {
		TH_LOG("%lld free blocks before the unlinks, %lld after",
		       bfull, bnow);
	}
	EXPECT_HOLDS("A", &a);
	EXPECT_MAP("A", rep(n, 'd'), n);

	remove_fillers(_metadata);
	bnow = rlfs_wait_bfree(".", bfree0);
	EXPECT_EQ(bfree0, bnow) {
		TH_LOG("A alone had %lld free blocks, now %lld", bfree0, bnow);
	}
	RLFS_REMOUNT(&self->fs);
	EXPECT_HOLDS("A", &a);
	EXPECT_MAP("A", rep(n, 'd'), n);
	EXPECT_EQ(bfree0, rlfs_bfree("."));
	fstate_put(&a);
}

TEST_F_TIMEOUT(enospc, punch_shared_full, T_LONG)
{
	/* Units in the first, second and last leaf of the refcount tree. */
	static const unsigned int units[] = { 5, 6, 140, 141, 270 };
	const size_t n = 4 * STEP_UNITS + 4;
	struct fstate a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	char res[64] = "";
	unsigned int i;
	char *map;
	int fd, ret;

	ASSERT_EQ(0, rlfs_make_file("A", n * BS, 1, true));
	build_steps(_metadata);
	GET_STATE("A", &a);
	GET_STATE("B", &b);
	GET_STATE("C", &c);
	GET_STATE("D", &d);
	map = strdup(rep(n, 's'));
	ASSERT_NE(NULL, map);
	EXPECT_MAP_HOLDS("B", map, n);

	fd = open("B", O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		uint64_t p = 4 * units[i] + 1;

		FILL_TO(&self->fl, 0);
		ret = punch(fd, p, 1);
		if (!ret) {
			b.h[p] = zero_hash();
			map[p] = '.';
		} else {
			EXPECT_EQ(-ENOSPC, ret);
		}
		strcat(res, " ");
		strcat(res, errname(-ret));
		EXPECT_HOLDS("B", &b) {
			TH_LOG("punch of block %" PRIu64 ": %s", p,
			       errname(-ret));
		}
		EXPECT_MAP_HOLDS("B", map, n);
	}
	close(fd);
	TH_LOG("punches at 0 free blocks:%s", res);
	EXPECT_HOLDS("A", &a);
	EXPECT_HOLDS("C", &c);
	EXPECT_HOLDS("D", &d);
	RLFS_REMOUNT(&self->fs);
	EXPECT_HOLDS("A", &a);
	EXPECT_HOLDS("B", &b);
	EXPECT_HOLDS("C", &c);
	EXPECT_HOLDS("D", &d);
	EXPECT_MAP_HOLDS("B", map, n);
	free(map);
	fstate_put(&a);
	fstate_put(&b);
	fstate_put(&c);
	fstate_put(&d);
}

/*
 * ftruncate(@fd of @path) from @old's size down to @size, then back up.
 * The truncate either works or fails with ENOSPC leaving the size and
 * data, or the smaller size and the data below it.  At the smaller size,
 * truncating back up must give zeros past @size, and map nothing there:
 * the old blocks must not come back.  That may fail with ENOSPC too
 * (changing nothing), then it must work once the fillers are gone.  @old
 * and @map (its FIEMAP) become what the file holds; returns the first
 * truncate's result.
 */
static int truncate_check(struct __test_metadata *_metadata,
			  struct filler *fl, const char *path, int fd,
			  struct fstate *old, char *map, off_t size)
{
	const off_t oldsize = old->size;
	const size_t n = old->nblk;
	struct stat st;
	int ret, up;

	ret = ftruncate(fd, size) ? -errno : 0;
	ASSERT_EQ(0, fstat(fd, &st));
	if (ret) {
		EXPECT_EQ(-ENOSPC, ret);
		EXPECT_TRUE(st.st_size == oldsize || st.st_size == size) {
			TH_LOG("%s: size %lld after a failed truncate from %lld to %lld",
			       path, (long long)st.st_size,
			       (long long)oldsize, (long long)size);
		}
	} else {
		EXPECT_EQ(size, st.st_size);
	}
	if (st.st_size == oldsize) {
		EXPECT_HOLDS(path, old);
		EXPECT_MAP_HOLDS(path, map, n);
		return ret;
	}
	ASSERT_EQ(0, fstate_resize(old, size));
	EXPECT_HOLDS(path, old);

	up = ftruncate(fd, oldsize) ? -errno : 0;
	if (up == -ENOSPC) {
		EXPECT_HOLDS(path, old);
		ASSERT_EQ(0, filler_reset(fl));
		up = ftruncate(fd, oldsize) ? -errno : 0;
	}
	EXPECT_EQ(0, up);
	ASSERT_EQ(0, fstate_resize(old, oldsize));
	EXPECT_HOLDS(path, old) {
		TH_LOG("%s: truncated to %lld and back up to %lld", path,
		       (long long)size, (long long)oldsize);
	}
	memset(map + size / BS, '.', n - size / BS);
	EXPECT_MAP_HOLDS(path, map, n);
	return ret;
}

TEST_F_TIMEOUT(enospc, truncate_shared_full, T_LONG)
{
	const size_t n = 3 * MERGED_UNITS, keep = 30;
	struct fstate a = { 0 }, b = { 0 }, c = { 0 };
	char *map;
	int fd, ret;

	ASSERT_EQ(0, rlfs_make_file("A", n * BS, 1, true));
	build_merged(_metadata);
	GET_STATE("A", &a);
	GET_STATE("B", &b);
	GET_STATE("C", &c);
	map = blockmap("B", n);
	ASSERT_NE(NULL, map);
	FILL_TO(&self->fl, 0);

	fd = open("B", O_RDWR);
	ASSERT_LE(0, fd);
	ret = truncate_check(_metadata, &self->fl, "B", fd, &b, map,
			     keep * BS);
	close(fd);
	TH_LOG("truncate at 0 free blocks: %s", errname(-ret));
	EXPECT_HOLDS("A", &a);
	EXPECT_HOLDS("C", &c);
	RLFS_REMOUNT(&self->fs);
	EXPECT_HOLDS("A", &a);
	EXPECT_HOLDS("B", &b);
	EXPECT_HOLDS("C", &c);
	EXPECT_MAP_HOLDS("B", map, n);
	free(map);
	fstate_put(&a);
	fstate_put(&b);
	fstate_put(&c);
}

/* ---- every operation at every small number of free blocks ----------------- */

#define EP_PIECES	300	/* extents of each file of a round */

enum ep_op {
	OP_CLONE, OP_REFLINK, OP_RANGE, OP_DEDUPE, OP_UNSHARE, OP_PUNCH,
	OP_TRUNCATE, OP_COW, OP_UNLINK, OP_COUNT
};

static const char *const ep_op_name[OP_COUNT] = {
	"FICLONE", "REFLINK", "FICLONERANGE", "FIDEDUPERANGE", "unshare",
	"punch", "truncate", "cow", "unlink",
};

/*
 * The files of one round, fragmented (EP_PIECES extents, every 4th of 3
 * blocks, written interleaved): "s", and "u" and "w" with the same data,
 * "v" with other data; "t1".."t5" clones of s; "c" empty; and what each
 * must hold.
 */
struct ep_round {
	struct filler	*fl;
	long long	n;		/* free blocks for each operation */
	size_t		nblk;
	struct fstate	s, u, v, w, t1, t3, t4, t5, c, r;
	int		res[OP_COUNT];	/* 0 or errno */
};

static const char *const ep_files[] = {
	"s", "u", "v", "w", "t1", "t2", "t3", "t4", "t5", "c", "r",
};

/* A block in the middle of 3-block piece @i of every round file. */
static uint64_t ep_mid(unsigned int i)
{
	return piece_start(i, true) + 1;
}

static void ep_open2(struct __test_metadata *_metadata, const char *a,
		     int *fa, const char *b, int *fb)
{
	*fa = open(a, O_RDWR);
	*fb = open(b, O_RDWR);
	ASSERT_LE(0, *fa);
	ASSERT_LE(0, *fb);
}

static void ep_setup(struct __test_metadata *_metadata, struct ep_round *e,
		     uint32_t seed)
{
	const char *const names[] = { "s", "u", "v", "w" };
	const uint32_t seeds[] = { seed, seed, seed + 1, seed };
	char t[4];
	int i, fd;

	ASSERT_EQ(0, write_interleaved(names, seeds, 4, EP_PIECES, true));
	for (i = 1; i <= 5; i++) {
		snprintf(t, sizeof(t), "t%d", i);
		ASSERT_EQ(0, rlfs_clone_file("s", t));
	}
	fd = open("c", O_CREAT | O_TRUNC | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	close(fd);
	e->nblk = piece_start(EP_PIECES, true);
	GET_STATE("s", &e->s);
	GET_STATE("u", &e->u);
	GET_STATE("v", &e->v);
	GET_STATE("w", &e->w);
	GET_STATE("t1", &e->t1);
	GET_STATE("t3", &e->t3);
	GET_STATE("t4", &e->t4);
	GET_STATE("t5", &e->t5);
	GET_STATE("c", &e->c);
	fstate_put(&e->r);
}

/* The op's errno in e->res; a failure must be ENOSPC. */
#define EP_RESULT(e, op, ret) do {					\
	(e)->res[op] = -(ret);						\
	if (ret)							\
		EXPECT_EQ(-ENOSPC, (ret)) {				\
			TH_LOG("N=%lld: %s: %s", (e)->n,		\
			       ep_op_name[op], strerror(-(ret)));	\
		}							\
} while (0)

static void ep_clone(struct __test_metadata *_metadata, struct ep_round *e)
{
	struct fstate got = { 0 };
	int fs, fc, ret;

	ep_open2(_metadata, "s", &fs, "c", &fc);
	ret = ioctl(fc, FICLONE, fs) ? -errno : 0;
	close(fs);
	close(fc);
	EP_RESULT(e, OP_CLONE, ret);
	EXPECT_EQ(0, state_not_mixed("c", &e->c, &e->s, &got));
	if (!ret)
		EXPECT_STATE("c", &e->s);
	ASSERT_EQ(0, fstate_copy(&e->c, &got));
	fstate_put(&got);
}

static void ep_reflink(struct __test_metadata *_metadata, struct ep_round *e)
{
	struct reflinkfs_reflink_args arg = {
		.dest_dirfd = AT_FDCWD, .dest_name = (uintptr_t)"r",
	};
	int fs = open("s", O_RDONLY), ret;

	ASSERT_LE(0, fs);
	ret = ioctl(fs, REFLINKFS_IOC_REFLINK, &arg) ? -errno : 0;
	close(fs);
	EP_RESULT(e, OP_REFLINK, ret);
	if (!ret) {
		EXPECT_STATE("r", &e->s);
		ASSERT_EQ(0, fstate_get("r", &e->r));
	} else {
		EXPECT_NE(0, access("r", F_OK)) {
			TH_LOG("N=%lld: a failed reflink left its file", e->n);
		}
	}
}

static void ep_range(struct __test_metadata *_metadata, struct ep_round *e)
{
	struct fstate got = { 0 };
	int fu, fv, ret;

	ep_open2(_metadata, "u", &fu, "v", &fv);
	ret = clone_range(fu, 0, fv, 0, e->nblk);
	close(fu);
	close(fv);
	EP_RESULT(e, OP_RANGE, ret);
	EXPECT_EQ(0, state_not_mixed("v", &e->v, &e->u, &got));
	if (!ret)
		EXPECT_STATE("v", &e->u);
	ASSERT_EQ(0, fstate_copy(&e->v, &got));
	EXPECT_HOLDS("u", &e->u);
	fstate_put(&got);
}

static void ep_dedupe(struct __test_metadata *_metadata, struct ep_round *e)
{
	int fs, fw, st;

	ep_open2(_metadata, "s", &fs, "w", &fw);
	st = dedupe_file(fs, fw, e->nblk * BS);
	close(fs);
	close(fw);
	EXPECT_NE(FILE_DEDUPE_RANGE_DIFFERS, st);
	EP_RESULT(e, OP_DEDUPE, st < 0 ? st : 0);
	EXPECT_HOLDS("w", &e->w) {
		TH_LOG("N=%lld: FIDEDUPERANGE status %d", e->n, st);
	}
}

static void ep_unshare(struct __test_metadata *_metadata, struct ep_round *e)
{
	const uint64_t off = piece_start(40, true), len = 8;
	int fd = open("t1", O_RDWR), ret;
	char *map;

	ASSERT_LE(0, fd);
	ret = fallocate(fd, FALLOC_FL_UNSHARE_RANGE, off * BS, len * BS) ?
	      -errno : 0;
	close(fd);
	EP_RESULT(e, OP_UNSHARE, ret);
	EXPECT_HOLDS("t1", &e->t1);
	map = blockmap("t1", off + len);
	ASSERT_NE(NULL, map);
	if (!ret)
		EXPECT_EQ(NULL, strchr(map + off, 's')) {
			TH_LOG("N=%lld: unshared blocks still shared: %s",
			       e->n, map + off);
		}
	free(map);
}

static void ep_punch(struct __test_metadata *_metadata, struct ep_round *e)
{
	const uint64_t p = ep_mid(8);
	char *map = blockmap("t3", e->nblk);
	int fd = open("t3", O_RDWR), ret;

	ASSERT_NE(NULL, map);
	ASSERT_LE(0, fd);
	ret = punch(fd, p, 1);
	close(fd);
	EP_RESULT(e, OP_PUNCH, ret);
	if (!ret) {
		e->t3.h[p] = zero_hash();
		map[p] = '.';
	}
	EXPECT_HOLDS("t3", &e->t3);
	EXPECT_MAP_HOLDS("t3", map, e->nblk);
	free(map);
}

static void ep_truncate(struct __test_metadata *_metadata, struct ep_round *e)
{
	char *map = blockmap("t4", e->nblk);
	int fd = open("t4", O_RDWR), ret;

	ASSERT_NE(NULL, map);
	ASSERT_LE(0, fd);
	ret = truncate_check(_metadata, e->fl, "t4", fd, &e->t4, map,
			     ep_mid(200) * BS);
	close(fd);
	free(map);
	EP_RESULT(e, OP_TRUNCATE, ret);
}

static void ep_cow(struct __test_metadata *_metadata, struct ep_round *e)
{
	const uint64_t p = ep_mid(12);
	uint8_t buf[BS];
	int fd = open("t5", O_RDWR), ret = 0;
	ssize_t w;
	char *map;

	ASSERT_LE(0, fd);
	rlfs_fill(buf, BS, p * BS, 99);
	w = pwrite(fd, buf, BS, p * BS);
	if (w < 0)
		ret = -errno;
	else
		EXPECT_EQ((ssize_t)BS, w);
	if (w > 0) {
		EXPECT_EQ(0, fsync(fd));
		e->t5.h[p] = hash_block(buf);
	}
	close(fd);
	EP_RESULT(e, OP_COW, ret);
	EXPECT_HOLDS("t5", &e->t5);
	map = blockmap("t5", p + 1);
	ASSERT_NE(NULL, map);
	if (!ret)
		EXPECT_EQ('d', map[p]);
	free(map);
}

static void ep_unlink(struct __test_metadata *_metadata, struct ep_round *e)
{
	long long before, after, own;
	struct stat st;

	/* Its data is all shared: it owns only its extent-tree blocks. */
	ASSERT_EQ(0, stat("t2", &st));
	own = st.st_blocks / (BS / 512) - (long long)e->nblk;
	before = rlfs_bfree(".");
	ASSERT_EQ(0, unlink("t2"));
	after = rlfs_wait_bfree(".", before + own);
	e->res[OP_UNLINK] = 0;
	EXPECT_LE(before + own, after) {
		TH_LOG("N=%lld: unlink of a clone owning %lld blocks: %lld free blocks before, %lld after",
		       e->n, own, before, after);
	}
}

static void (*const ep_ops[OP_COUNT])(struct __test_metadata *,
				      struct ep_round *) = {
	ep_clone, ep_reflink, ep_range, ep_dedupe, ep_unshare, ep_punch,
	ep_truncate, ep_cow, ep_unlink,
};

/* Every file of the round holds what it must. */
static void ep_check(struct __test_metadata *_metadata, struct ep_round *e)
{
	EXPECT_HOLDS("s", &e->s);
	EXPECT_HOLDS("u", &e->u);
	EXPECT_HOLDS("v", &e->v);
	EXPECT_HOLDS("w", &e->w);
	EXPECT_HOLDS("t1", &e->t1);
	EXPECT_HOLDS("t3", &e->t3);
	EXPECT_HOLDS("t4", &e->t4);
	EXPECT_HOLDS("t5", &e->t5);
	EXPECT_HOLDS("c", &e->c);
	if (e->r.h)
		EXPECT_HOLDS("r", &e->r);
}

static void ep_free(struct ep_round *e)
{
	fstate_put(&e->s);
	fstate_put(&e->u);
	fstate_put(&e->v);
	fstate_put(&e->w);
	fstate_put(&e->t1);
	fstate_put(&e->t3);
	fstate_put(&e->t4);
	fstate_put(&e->t5);
	fstate_put(&e->c);
	fstate_put(&e->r);
}

/* With this many free blocks every operation must succeed. */
static void ep_all_ok(struct __test_metadata *_metadata, struct ep_round *e,
		      const char *results)
{
	int op, failed = 0;

	for (op = 0; op < OP_COUNT; op++)
		failed += e->res[op] != 0;
	EXPECT_EQ(0, failed) {
		TH_LOG("N=%lld:%s", e->n, results);
	}
}

/*
 * End of a round: unmount and fsck for whatever the round leaked, mount
 * and check every file from the disk, then remove the round's files.
 * After an unclean fsck the next round gets a fresh filesystem.
 */
static void ep_finish(struct __test_metadata *_metadata, struct rlfs_fs *fs,
		      struct ep_round *e, const char *results)
{
	bool clean;
	size_t f;

	ASSERT_EQ(0, rlfs_umount(fs));
	clean = rlfs_fsck(fs->dev) == 0;
	EXPECT_TRUE(clean) {
		TH_LOG("N=%lld: fsck not clean after:%s", e->n, results);
	}
	ASSERT_EQ(0, rlfs_mount(fs));
	ep_check(_metadata, e);
	if (!clean) {
		ASSERT_EQ(0, rlfs_umount(fs));
		ASSERT_EQ(0, rlfs_mkfs(fs->dev, fs->blocks));
		ASSERT_EQ(0, rlfs_mount(fs));
		ASSERT_EQ(0, filler_init(e->fl));
		return;
	}
	for (f = 0; f < ARRAY_SIZE(ep_files); f++)
		ASSERT_TRUE(!unlink(ep_files[f]) || errno == ENOENT);
	ASSERT_EQ(0, filler_reset(e->fl));
}

TEST_F_TIMEOUT(enospc, enospc_every_point, T_LONG)
{
	static const int ns[] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
		18, 19, 20, 21, 22, 23, 24, 32, 64, 256,
	};
	const int nrounds = ARRAY_SIZE(ns);
	char line[256], last[256] = "";
	struct ep_round e;
	int i, op, len;

	memset(&e, 0, sizeof(e));
	e.fl = &self->fl;
	for (i = 0; i < nrounds; i++) {
		e.n = ns[i];
		ep_setup(_metadata, &e, i);
		for (op = 0; op < OP_COUNT; op++) {
			FILL_TO(&self->fl, e.n);
			ep_ops[op](_metadata, &e);
			EXPECT_HOLDS("s", &e.s) {
				TH_LOG("N=%lld: %s changed the source",
				       e.n, ep_op_name[op]);
			}
		}
		len = 0;
		for (op = 0; op < OP_COUNT; op++)
			len += snprintf(line + len, sizeof(line) - len, " %s=%s",
					ep_op_name[op], errname(e.res[op]));
		if (strcmp(line, last))
			TH_LOG("N=%lld:%s", e.n, line);
		strcpy(last, line);
		if (i == nrounds - 1)
			ep_all_ok(_metadata, &e, line);
		ep_finish(_metadata, &self->fs, &e, line);
	}
	ep_free(&e);
}

/* ---- collapse and insert range at 0 free ------------------------------ */

/* @old with block @first removed (collapse) or a hole inserted there. */
static void shifted(struct fstate *dst, const struct fstate *old, size_t first,
		    size_t shift, bool collapse)
{
	size_t b;

	fstate_copy(dst, old);
	if (collapse) {
		for (b = first; b + shift < old->nblk; b++)
			dst->h[b] = old->h[b + shift];
		fstate_resize(dst, old->size - shift * BS);
	} else {
		fstate_resize(dst, old->size + shift * BS);
		for (b = dst->nblk - 1; b >= first + shift; b--)
			dst->h[b] = old->h[b - shift];
		for (b = first; b < first + shift; b++)
			dst->h[b] = zero_hash();
	}
}

/* F: 1200 extents interleaved with G, shared with its clone F2. */
static void frag_shared(struct __test_metadata *_metadata, bool long_pieces)
{
	const char *const names[] = { "F", "G" };
	const uint32_t seeds[] = { 1, 2 };

	ASSERT_EQ(0, write_interleaved(names, seeds, 2, 1200, long_pieces));
	ASSERT_EQ(0, rlfs_clone_file("F", "F2"));
}

/*
 * Collapse or insert one block at @first of a fragmented shared file at
 * 0 free blocks: success with every later block moved, or ENOSPC with
 * nothing changed (the old code lost a mapping, or shifted part of the
 * file, when a moved extent needed a new leaf); F2 never changes.
 */
static void shift_test(struct __test_metadata *_metadata, struct rlfs_fs *fs,
		       struct filler *fl, bool collapse, bool long_pieces,
		       size_t first)
{
	struct fstate f = { 0 }, want = { 0 }, f2 = { 0 }, got = { 0 };
	int fd, ret;

	frag_shared(_metadata, long_pieces);
	GET_STATE("F", &f);
	GET_STATE("F2", &f2);
	shifted(&want, &f, first, 1, collapse);
	FILL_TO(fl, 0);
	fd = open("F", O_RDWR);
	ASSERT_LE(0, fd);
	ret = fallocate(fd, collapse ? FALLOC_FL_COLLAPSE_RANGE :
			FALLOC_FL_INSERT_RANGE, first * BS, BS) ? -errno : 0;
	close(fd);
	TH_LOG("%s of block %zu at 0 free: %s", collapse ? "collapse" : "insert",
	       first, errname(-ret));
	if (ret) {
		EXPECT_EQ(-ENOSPC, ret);
		EXPECT_HOLDS("F", &f);
	} else {
		EXPECT_STATE("F", &want);
	}
	EXPECT_HOLDS("F2", &f2);
	fstate_get("F", &got);
	RLFS_REMOUNT(fs);
	EXPECT_HOLDS("F", &got);
	EXPECT_HOLDS("F2", &f2);
	fstate_put(&f);
	fstate_put(&want);
	fstate_put(&f2);
	fstate_put(&got);
}

TEST_F_TIMEOUT(enospc, collapse_full, T_LONG)
{
	shift_test(_metadata, &self->fs, &self->fl, true, false, 252);
}

TEST_F_TIMEOUT(enospc, collapse_full_long_pieces, T_LONG)
{
	shift_test(_metadata, &self->fs, &self->fl, true, true,
		   piece_start(100, true) + 1);
}

TEST_F_TIMEOUT(enospc, insert_full, T_LONG)
{
	/* in the middle of a 3-block piece in leaf 0 */
	shift_test(_metadata, &self->fs, &self->fl, false, true, piece_start(8, true) + 1);
}


TEST_HARNESS_MAIN
