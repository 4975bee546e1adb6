// SPDX-License-Identifier: GPL-2.0
/*
 * reflink_test - reflink and copy-on-write through the standard
 * interfaces (FICLONE, FICLONERANGE, FIDEDUPERANGE, copy_file_range,
 * FS_IOC_FIEMAP with FIEMAP_EXTENT_SHARED, fallocate, statfs) and the
 * reflinkfs REFLINKFS_IOC_REFLINK ioctl.
 *
 * Every test runs on a fresh filesystem and ends with an unmount and
 * "fsck.reflinkfs -n" clean (fsck checks every block's refcount against
 * all mappings).  Data is compared with in-memory images of what each
 * file must hold; sharing is checked block by block with FIEMAP, written
 * as a string: '.' hole, 'd' mapped and not shared, 's' shared; in an
 * expectation '-' means "not shared" ('.' or 'd') and '?' anything.
 *
 * The fixture probes FICLONE after mkfs: when the module has no
 * ->remap_file_range (EOPNOTSUPP) every test is skipped, unless
 * RLFS_REQUIRE_REFLINK=1 makes that a failure.
 *
 * Environment: see rlfs_util.h.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "rlfs_util.h"
#include "uapi/linux/reflinkfs.h"

#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE	0x40
#endif
#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#endif
#ifndef FALLOC_FL_INSERT_RANGE
#define FALLOC_FL_INSERT_RANGE	0x20
#endif

#define BS		4096ULL
#define KiB		1024ULL
#define MiB		(1024ULL * 1024)
#define T_SHORT		120
#define T_LONG		280
#define IMG_CAP		(1 * MiB)
/* statfs slack for metadata blocks (extent/refcount tree, directory). */
#define META_SLACK	16

/* Skip the case on filesystem @fs, for @why. */
#define RLFS_NOT_ON(fs, why) do {					\
	if (rlfs_is_fstype(fs))						\
		SKIP(return, "%s: %s", fs, why);			\
} while (0)
#define BTRFS_FALLOC	"fallocate modes are KEEP_SIZE, PUNCH_HOLE and " \
			"ZERO_RANGE only (btrfs_fallocate: EOPNOTSUPP)"

/*
 * Everything deleted: the free count is back where it was.  Exact on
 * reflinkfs; xfs and btrfs may end with more free than at the start
 * (blocks of the setup's probe files still being freed in the background
 * when @f0 was taken, metadata they trim), never less.
 */
#define EXPECT_FREE_BACK(f0, now) do {					\
	long long __f0 = (f0), __now = (now);				\
									\
	if (rlfs_is_reflinkfs()) {					\
		EXPECT_EQ(__f0, __now);					\
	} else {							\
		EXPECT_LE(__f0, __now);					\
	}								\
} while (0)

/* ---- helpers ------------------------------------------------------------ */

/* In-memory image of what a file must hold. */
struct img {
	uint8_t	*b;
	size_t	size;
};

static int img_init(struct img *m)
{
	m->b = calloc(1, IMG_CAP);
	m->size = 0;
	return m->b ? 0 : -1;
}

static void img_copy(struct img *dst, const struct img *src)
{
	memcpy(dst->b, src->b, IMG_CAP);
	dst->size = src->size;
}

/* pwrite pattern @seed at [off, off+len) and mirror it into @m. */
static int wr(int fd, struct img *m, uint64_t off, size_t len, uint32_t seed)
{
	if (off + len > IMG_CAP)
		return -1;
	rlfs_fill(m->b + off, len, off, seed);
	if (pwrite(fd, m->b + off, len, off) != (ssize_t)len) {
		fprintf(stderr, "# pwrite %zu at %" PRIu64 ": %s\n", len, off,
			strerror(errno));
		return -1;
	}
	if (off + len > m->size)
		m->size = off + len;
	return 0;
}

static void img_truncate(struct img *m, size_t size)
{
	if (size < m->size)
		memset(m->b + size, 0, m->size - size);
	m->size = size;
}

static void img_zero(struct img *m, size_t off, size_t len)
{
	if (off >= m->size)
		return;
	if (off + len > m->size)
		len = m->size - off;
	memset(m->b + off, 0, len);
}

static void img_collapse(struct img *m, size_t off, size_t len)
{
	memmove(m->b + off, m->b + off + len, m->size - off - len);
	memset(m->b + m->size - len, 0, len);
	m->size -= len;
}

static void img_insert(struct img *m, size_t off, size_t len)
{
	memmove(m->b + off + len, m->b + off, m->size - off);
	memset(m->b + off, 0, len);
	m->size += len;
}

/* Compare the whole file @path with @m: 0 or 1 after printing why. */
static int cmp_file(const char *path, const struct img *m)
{
	return rlfs_compare_image(path, m->b, m->size);
}

/* Create @path with @nblocks blocks of pattern @seed; fills @m. */
static int make_img_file(const char *path, struct img *m, size_t len,
			 uint32_t seed)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	int ret;

	if (fd < 0)
		return -1;
	m->size = 0;
	memset(m->b, 0, IMG_CAP);
	ret = wr(fd, m, 0, len, seed);
	if (!ret && fsync(fd))
		ret = -1;
	close(fd);
	return ret;
}

static int clone_range(int sfd, uint64_t soff, uint64_t len, int dfd,
		       uint64_t doff)
{
	struct file_clone_range r = {
		.src_fd = sfd, .src_offset = soff, .src_length = len,
		.dest_offset = doff,
	};

	return ioctl(dfd, FICLONERANGE, &r) ? -errno : 0;
}

static int blockmap(const char *path, size_t n, char *out)
{
	int fd = open(path, O_RDONLY);
	int ret;

	if (fd < 0)
		return -errno;
	/*
	 * Settle what the filesystem does in the background (reflinkfs
	 * must be exact without it).  XFS frees an unlinked file's extents
	 * in inode inactivation, which syncfs does not wait for on 6.1.
	 */
	if (!rlfs_is_reflinkfs())
		syncfs(fd);
	ret = rlfs_blockmap_fd(fd, n, out);
	close(fd);
	return ret;
}

/*
 * @got matches @want.  Exact on reflinkfs.  On xfs a wanted 's' may also
 * be 'd': its copy-on-write unit is the dirty page-cache folio, not one
 * block, so a write can unshare neighbours of the block it wrote.  On
 * btrfs 's' and 'd' are only "mapped": FIEMAP_EXTENT_SHARED is set for a
 * whole data extent while any other reference to any part of it exists
 * (a written block leaves the old extent as a shared bookend).  Holes
 * stay exact, and a map that wants sharing must show some
 * (Documentation/filesystems/reflinkfs-conformance.rst).
 */
static bool map_ok(const char *got, const char *want)
{
	bool coarse = !rlfs_is_reflinkfs(), want_s = false, got_s = false;
	bool mapped_only = rlfs_is_fstype("btrfs");
	size_t i;

	for (i = 0; want[i]; i++) {
		want_s |= want[i] == 's';
		got_s |= got[i] == 's';
		switch (want[i]) {
		case '?':
			continue;
		case '-':
			if (got[i] == 's' && !mapped_only)
				return false;
			continue;
		case 's':
			if (coarse && got[i] == 'd')
				continue;
			if (got[i] != want[i])
				return false;
			continue;
		case 'd':
			if (mapped_only && got[i] == 's')
				continue;
			if (got[i] != want[i])
				return false;
			continue;
		default:
			if (got[i] != want[i])
				return false;
		}
	}
	return !want_s || got_s;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* Expect the FIEMAP block map of @path to match @want (see the top). */
#define EXPECT_MAP(path, want) do {					\
	const char *__w = (want);					\
	size_t __n = strlen(__w);					\
	char *__got = malloc(__n + 1);					\
	ASSERT_NE(NULL, __got);						\
	EXPECT_EQ(0, blockmap((path), __n, __got));			\
	EXPECT_TRUE(map_ok(__got, __w)) {				\
		TH_LOG("%s: block map %s", (path), __got);		\
		TH_LOG("%s: want      %s", (path), __w);		\
	}								\
	free(__got);							\
} while (0)

#define EXPECT_DATA(path, img) EXPECT_EQ(0, cmp_file((path), (img)))

/* Remount, then files "a" and "b" must still match images a and b. */
#define EXPECT_AB_AFTER_REMOUNT() do {					\
	RLFS_REMOUNT(&self->fs);					\
	EXPECT_DATA("a", a);						\
	EXPECT_DATA("b", b);						\
} while (0)

/* A string of @n copies of @c (static buffers, 4 in rotation). */
static const char *rep(size_t n, char c)
{
	static char buf[4][1024];
	static int slot;
	char *b = buf[slot++ & 3];

	if (n > sizeof(buf[0]) - 1)
		n = sizeof(buf[0]) - 1;
	memset(b, c, n);
	b[n] = '\0';
	return b;
}

/* Build a block-map string from pieces, e.g. cat3("sss", "d", "ssss"). */
static const char *cat(const char *a, const char *b, const char *c,
		       const char *d)
{
	static char buf[4][1024];
	static int slot;
	char *r = buf[slot++ & 3];
	const char *parts[4] = { a, b, c, d };
	size_t len = 0;
	int i;

	for (i = 0; i < 4; i++) {
		size_t n = parts[i] ? strlen(parts[i]) : 0;

		if (len + n >= sizeof(buf[0]))
			n = sizeof(buf[0]) - 1 - len;
		memmove(r + len, parts[i] ? parts[i] : "", n);
		len += n;
	}
	r[len] = '\0';
	return r;
}

static bool on_reflinkfs(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 &&
	       (unsigned long)sf.f_type == REFLINKFS_SUPER_MAGIC;
}

/*
 * After mkfs + mount: probe FICLONE.  Skip every test (and leave the
 * child) when the module cannot clone, unless RLFS_REQUIRE_REFLINK=1.
 * The probe also creates and removes a refcount record once, so any
 * refcount-tree block that stays allocated afterwards is in the
 * baseline free count of the tests.
 */
#define rlfs_reflink_probe(fs) do {					\
	int __r;							\
	const char *__req = getenv("RLFS_REQUIRE_REFLINK");		\
									\
	ASSERT_EQ(0, rlfs_make_file(".probe", 2 * BS, 7, true));	\
	__r = rlfs_clone_file(".probe", ".probe2");				\
	if ((__r == -EOPNOTSUPP || __r == -ENOTTY) &&			\
	    !(__req && !strcmp(__req, "1"))) {				\
		unlink(".probe");					\
		unlink(".probe2");					\
		rlfs_umount(fs);					\
		SKIP(fflush(NULL); _exit(255),				\
		     "FICLONE: %s: the module does not support reflink",\
		     strerror(-__r));					\
	}								\
	ASSERT_EQ(0, __r) {						\
		TH_LOG("FICLONE probe: %s", strerror(-__r));		\
	}								\
	ASSERT_EQ(0, unlink(".probe"));					\
	ASSERT_EQ(0, unlink(".probe2"));				\
} while (0)

FIXTURE(reflink) {
	struct rlfs_fs fs;
	struct img a, b, c;
};

FIXTURE_SETUP(reflink)
{
	rlfs_fs_setup(&self->fs, RLFS_TEST_BLOCKS);
	rlfs_reflink_probe(&self->fs);
	ASSERT_EQ(0, img_init(&self->a));
	ASSERT_EQ(0, img_init(&self->b));
	ASSERT_EQ(0, img_init(&self->c));
}

FIXTURE_TEARDOWN(reflink)
{
	rlfs_fs_teardown(&self->fs);
}

/* ---- clone + buffered CoW -------------------------------------------------- */

TEST_F_TIMEOUT(reflink, clone_cow_buffered, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b, *h = &self->c;
	struct img h2;
	int fa, fb, fd;

	ASSERT_EQ(0, img_init(&h2));
	ASSERT_EQ(0, make_img_file("a", a, 16 * BS, 1));
	ASSERT_EQ(0, rlfs_clone_file("a", "b"));
	img_copy(b, a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("a", rep(16, 's'));
	EXPECT_MAP("b", rep(16, 's'));

	/* One whole block in the middle of the clone. */
	fb = open("b", O_RDWR);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, wr(fb, b, 8 * BS, BS, 2));
	ASSERT_EQ(0, fsync(fb));
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("a", cat(rep(8, 's'), "d", rep(7, 's'), NULL));
	EXPECT_MAP("b", cat(rep(8, 's'), "d", rep(7, 's'), NULL));

	/* Sub-block write to the source: block 3 unshared in both. */
	fa = open("a", O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, wr(fa, a, 3 * BS + 100, 10, 3));
	EXPECT_MAP("a", cat("sss", "d", "ssss", cat("d", rep(7, 's'), 0, 0)));
	EXPECT_MAP("b", cat("sss", "d", "ssss", cat("d", rep(7, 's'), 0, 0)));
	/* Sub-block write spanning two shared blocks of the clone. */
	ASSERT_EQ(0, wr(fb, b, 12 * BS - 5, 10, 4));
	EXPECT_MAP("b", cat("sssdssssdss", "dd", "sss", NULL));
	EXPECT_MAP("a", cat("sssdssssdss", "dd", "sss", NULL));
	/* Overwrite of an already unshared block: stays unshared. */
	ASSERT_EQ(0, wr(fb, b, 8 * BS + 17, 33, 5));

	/* At EOF: a whole block on b, a sub-block tail on a. */
	ASSERT_EQ(0, wr(fb, b, 16 * BS, BS, 6));
	ASSERT_EQ(0, wr(fa, a, 16 * BS, 100, 7));
	/* Unaligned tail write inside the last shared block + extension. */
	ASSERT_EQ(0, wr(fa, a, 15 * BS + 4000, 200, 8));
	close(fa);
	close(fb);
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("a", cat("sssdssssdss", "dd", "ss", "dd"));
	EXPECT_MAP("b", cat("sssdssssdss", "dd", "ss", "dd"));

	/* Holes: clone a sparse file and write into the holes. */
	fd = open("h", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	h->size = 0;
	ASSERT_EQ(0, wr(fd, h, 0, 4 * BS, 10));
	ASSERT_EQ(0, wr(fd, h, 8 * BS, 4 * BS, 11));
	close(fd);
	ASSERT_EQ(0, rlfs_clone_file("h", "h2"));
	img_copy(&h2, h);
	EXPECT_MAP("h", "ssss....ssss");
	EXPECT_MAP("h2", "ssss....ssss");
	fd = open("h2", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, &h2, 5 * BS + 7, 50, 12));	/* sub-block in hole */
	ASSERT_EQ(0, wr(fd, &h2, 6 * BS, BS, 13));	/* block in hole */
	ASSERT_EQ(0, wr(fd, &h2, 14 * BS + 9, 9, 14));	/* beyond EOF */
	close(fd);
	EXPECT_MAP("h", "ssss....ssss");
	EXPECT_MAP("h2", "ssss.dd.ssss..d");
	EXPECT_DATA("h", h);
	EXPECT_DATA("h2", &h2);

	/* Everything again from disk. */
	rlfs_drop_caches();
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_DATA("h2", &h2);
	EXPECT_AB_AFTER_REMOUNT();
	EXPECT_DATA("h", h);
	EXPECT_DATA("h2", &h2);
	EXPECT_MAP("a", cat("sssdssssdss", "dd", "ss", "dd"));
	EXPECT_MAP("b", cat("sssdssssdss", "dd", "ss", "dd"));
	EXPECT_MAP("h2", "ssss.dd.ssss..d");
	free(h2.b);
}

/*
 * Short copies into a shared block.  A whole-block write whose user
 * buffer faults half-way must not lose the rest of the block: the bytes
 * that were copied land, the rest of the block keeps its old data (read
 * from the shared block), and the other file sees nothing.  Once with the
 * page not cached (the copy into a page that is not uptodate is thrown
 * away and redone as a partial write), once with the page cached.
 */
TEST_F_TIMEOUT(reflink, cow_short_copy, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	const long pg = sysconf(_SC_PAGESIZE);
	const bool btrfs = rlfs_is_fstype("btrfs");
	uint8_t *buf, tmp[BS];
	ssize_t r;
	int fd;

	ASSERT_EQ(0, make_img_file("a", a, 4 * BS, 5));
	ASSERT_EQ(0, rlfs_clone_file("a", "b"));
	img_copy(b, a);
	buf = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	rlfs_fill(buf, pg, 0, 6);
	ASSERT_EQ(0, mprotect(buf + pg, pg, PROT_NONE));
	rlfs_drop_caches();

	fd = open("b", O_RDWR);
	ASSERT_LE(0, fd);
	/* Block 1 not cached: 2048 of 4096 bytes readable. */
	r = pwrite(fd, buf + pg - 2048, BS, BS);
	/*
	 * btrfs drops a short copy into a page that is not uptodate and
	 * then fails the write with EFAULT (a short count or an error:
	 * both are allowed by write(2)).
	 */
	if (!(btrfs && r == -1 && errno == EFAULT)) {
		EXPECT_EQ(2048, r) {
			TH_LOG("pwrite: %zd (%s)", r, r < 0 ? strerror(errno) : "");
		}
	}
	if (r > 0)
		memcpy(b->b + BS, buf + pg - 2048, r);
	/* Block 2: nothing readable, nothing written. */
	r = pwrite(fd, buf + pg, BS, 2 * BS);
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EFAULT, errno);
	/* Block 3 cached (uptodate) first. */
	ASSERT_EQ((ssize_t)BS, pread(fd, tmp, BS, 3 * BS));
	r = pwrite(fd, buf + pg - 1000, BS, 3 * BS);
	if (!(btrfs && r == -1 && errno == EFAULT))
		EXPECT_EQ(1000, r);
	if (r > 0)
		memcpy(b->b + 3 * BS, buf + pg - 1000, r);
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	munmap(buf, 2 * pg);

	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("a", "sd?d");
	EXPECT_MAP("b", "sd?d");
	rlfs_drop_caches();
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_AB_AFTER_REMOUNT();
}

/* Clone right after buffered writes: FICLONE must flush (or share) the
 * dirty data, and the clone must see it after the caches are dropped. */
TEST_F_TIMEOUT(reflink, clone_dirty_source, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	int fa, fb;

	fa = open("a", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, wr(fa, a, 0, 6 * BS, 1));
	ASSERT_EQ(0, wr(fa, a, 2 * BS + 10, 100, 2));	/* dirty, no fsync */
	fb = open("b", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, ioctl(fb, FICLONE, fa));
	img_copy(b, a);
	/* write the source again right away: the clone must not see it */
	ASSERT_EQ(0, wr(fa, a, 2 * BS + 20, 5, 3));
	close(fa);
	close(fb);
	EXPECT_DATA("b", b);
	rlfs_drop_caches();
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("a", "ssdsss");
	EXPECT_MAP("b", "ssdsss");
	EXPECT_AB_AFTER_REMOUNT();
}

/* Clone over blocks of a destination that has data of its own: those
 * blocks are freed (or still held by nobody else) and the rest stays. */
TEST_F_TIMEOUT(reflink, clone_over_existing, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	long long f0, f1;
	int fa, fb;

	ASSERT_EQ(0, make_img_file("a", a, 4 * BS, 1));
	ASSERT_EQ(0, make_img_file("b", b, 8 * BS, 2));
	fa = open("a", O_RDONLY);
	fb = open("b", O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	f0 = rlfs_bfree(".");
	ASSERT_EQ(0, clone_range(fa, 0, 4 * BS, fb, 2 * BS));
	memcpy(b->b + 2 * BS, a->b, 4 * BS);
	f1 = rlfs_bfree(".");
	/*
	 * b's own blocks 2..5 went back to the free pool (not on btrfs: the
	 * rest of their extent still holds them as a bookend)
	 */
	if (!rlfs_is_fstype("btrfs")) {
		EXPECT_LE(4 - 2, f1 - f0);
		EXPECT_GE(4 + META_SLACK, f1 - f0);
	}
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", "ddssssdd");
	EXPECT_MAP("a", "ssss");
	/* clone b's blocks 6..7 over a's blocks 0..1: a mix of owners */
	close(fa);
	fa = open("a", O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, clone_range(fb, 6 * BS, 2 * BS, fa, 0));
	memcpy(a->b, b->b + 6 * BS, 2 * BS);
	close(fa);
	close(fb);
	EXPECT_DATA("a", a);
	/* a's old blocks 0..1 are now b's 2..3 alone */
	EXPECT_MAP("a", "ssss");
	EXPECT_MAP("b", "ddddssss");
	EXPECT_AB_AFTER_REMOUNT();
	EXPECT_MAP("b", "ddddssss");
}

/* Preallocated (unwritten) extents are shared too: writing one side must
 * not convert the shared extent in place (the other side reads zeros). */
TEST_F_TIMEOUT(reflink, clone_unwritten, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	bool unwr_shared = !rlfs_is_fstype("xfs");
	int fa, fb;

	fa = open("a", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, fallocate(fa, 0, 0, 8 * BS));
	a->size = 8 * BS;
	ASSERT_EQ(0, wr(fa, a, 0, BS, 1));
	ASSERT_EQ(0, fsync(fa));
	ASSERT_EQ(0, rlfs_clone_file("a", "b"));
	img_copy(b, a);
	/*
	 * xfs shares written extents only: an unwritten source range
	 * becomes a hole in the destination (xfs_reflink_remap_extent);
	 * both read as zeros.
	 */
	EXPECT_MAP("b", unwr_shared ? "ssssssss" : "s.......");
	fb = open("b", O_RDWR);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, wr(fb, b, 3 * BS, BS, 2));
	ASSERT_EQ(0, wr(fb, b, 6 * BS + 100, 10, 3));
	ASSERT_EQ(0, wr(fa, a, 5 * BS, BS, 4));
	ASSERT_EQ(0, fsync(fa));
	ASSERT_EQ(0, fsync(fb));
	close(fa);
	close(fb);
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("a", unwr_shared ? "sssdsdds" : "sddddddd");
	EXPECT_MAP("b", unwr_shared ? "sssdsdds" : "?..d..d.");
	EXPECT_AB_AFTER_REMOUNT();
}

/* ---- statfs ------------------------------------------------------------------ */

TEST_F_TIMEOUT(reflink, statfs_clone_32m, T_LONG)
{
	const uint64_t len = 32 * MiB, nb = len / BS;
	long long f0, f1, f2, f3, f4;
	char *map;
	int fd;

	f0 = rlfs_bfree(".");
	ASSERT_EQ(0, rlfs_make_file("src", len, 21, true));
	f1 = rlfs_bfree(".");
	EXPECT_LE((long long)nb, f0 - f1);
	ASSERT_EQ(0, rlfs_clone_file("src", "dst"));
	f2 = rlfs_bfree(".");
	TH_LOG("free blocks: empty %lld, 32 MiB file %lld, + clone %lld",
	       f0, f1, f2);
	EXPECT_GE(META_SLACK, f1 - f2) {
		TH_LOG("the clone took %lld blocks", f1 - f2);
	}
	EXPECT_LE(-META_SLACK, f1 - f2);

	map = malloc(nb + 1);
	ASSERT_NE(NULL, map);
	fd = open("dst", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rlfs_blockmap_fd(fd, nb, map));
	EXPECT_EQ(nb, count_char(map, 's'));
	close(fd);

	/* Deleting the source frees (almost) nothing: the clone holds it. */
	ASSERT_EQ(0, unlink("src"));
	f3 = rlfs_wait_bfree(".", f2 + (long long)nb);	/* must time out */
	EXPECT_GE(META_SLACK, f3 - f2) {
		TH_LOG("deleting the source freed %lld blocks", f3 - f2);
	}
	fd = open("dst", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rlfs_blockmap_fd(fd, nb, map));
	EXPECT_EQ(0U, count_char(map, 's'));
	EXPECT_EQ(nb, count_char(map, 'd'));
	close(fd);
	EXPECT_EQ(0, rlfs_verify_file("dst", len, 21));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("dst", len, 21));

	/* The last sharer goes: everything back. */
	ASSERT_EQ(0, unlink("dst"));
	f4 = rlfs_wait_bfree(".", f0);
	TH_LOG("free blocks: source deleted %lld, clone deleted %lld", f3, f4);
	EXPECT_FREE_BACK(f0, f4);
	free(map);
}

/*
 * FIEMAP of all of @path in one call: the number of extents (at most @max
 * filled in @fe), or -errno.
 */
static int fiemap_all(const char *path, struct fiemap_extent *fe,
		      unsigned int max)
{
	size_t sz = sizeof(struct fiemap) + max * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	int fd, ret;

	if (!fm)
		return -ENOMEM;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		free(fm);
		return -errno;
	}
	fm->fm_length = FIEMAP_MAX_OFFSET;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = max;
	ret = ioctl(fd, FS_IOC_FIEMAP, fm) ? -errno : (int)fm->fm_mapped_extents;
	if (ret > 0)
		memcpy(fe, fm->fm_extents, ret * sizeof(*fe));
	close(fd);
	free(fm);
	return ret;
}

/*
 * A contiguous file longer than one allocation step (32512 blocks) is one
 * extent; cloning it is one record and one extent insert, whatever its
 * size; CoW and a punch deep inside it split it exactly, and every block
 * comes back when the last sharer goes.
 */
TEST_F_TIMEOUT(reflink, clone_big_extent, T_LONG)
{
	const uint64_t nb = 40960, len = nb * BS, cow = 33000;
	const uint64_t punch = 100, plen = 33000;
	struct fiemap_extent fa[8], fb[8];
	long long f0, f1, f2, f3, f4;
	char *map;
	int fd, n;

	/* reflinkfs' extent layout: allocation step, one record per clone */
	RLFS_REFLINKFS_ONLY("extent counts of reflinkfs' allocator");
	f0 = rlfs_bfree(".");
	fd = open("a", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, 0, 0, len));
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, BS, 31));
	ASSERT_EQ(0, rlfs_write_pattern(fd, len - BS, BS, 31));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	n = fiemap_all("a", fa, 8);
	ASSERT_EQ(1, n) {
		TH_LOG("a 160 MiB contiguous file has %d extents", n);
	}
	EXPECT_EQ(len, fa[0].fe_length);
	EXPECT_EQ(0U, fa[0].fe_flags & FIEMAP_EXTENT_SHARED);

	f1 = rlfs_bfree(".");
	ASSERT_EQ(0, rlfs_clone_file("a", "b"));
	f2 = rlfs_bfree(".");
	TH_LOG("free blocks: empty %lld, file %lld, + clone %lld", f0, f1, f2);
	/* At most the refcount tree's first block and a directory block. */
	EXPECT_GE(2, f1 - f2);
	n = fiemap_all("b", fb, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(len, fb[0].fe_length);
	EXPECT_EQ(fa[0].fe_physical, fb[0].fe_physical);
	EXPECT_NE(0U, fb[0].fe_flags & FIEMAP_EXTENT_SHARED);

	/* Copy on write of one block deep inside the shared extent. */
	fd = open("b", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, cow * BS, BS, 32));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	map = malloc(nb + 1);
	ASSERT_NE(NULL, map);
	ASSERT_EQ(0, blockmap("b", nb, map));
	EXPECT_EQ(nb - 1, count_char(map, 's'));
	EXPECT_EQ('d', map[cow]);
	ASSERT_EQ(0, blockmap("a", nb, map));
	EXPECT_EQ(nb - 1, count_char(map, 's'));
	EXPECT_EQ('d', map[cow]);

	/* Punch more than one step out of the shared extent of a. */
	fd = open("a", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       punch * BS, plen * BS));
	close(fd);
	f3 = rlfs_bfree(".");
	/* b still maps them: only a's copy of block cow was freed. */
	EXPECT_GE(META_SLACK, f3 - f2);
	EXPECT_LE(-META_SLACK, f3 - f2);
	ASSERT_EQ(0, blockmap("a", nb, map));
	EXPECT_EQ(nb - plen, count_char(map, 's'));
	EXPECT_EQ(plen, count_char(map, '.'));
	ASSERT_EQ(0, blockmap("b", nb, map));
	EXPECT_EQ(nb - plen, count_char(map, 's'));
	EXPECT_EQ(plen, count_char(map, 'd'));

	RLFS_REMOUNT(&self->fs);
	fd = open("a", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rlfs_verify(fd, 0, BS, 31));
	EXPECT_EQ(0, rlfs_verify(fd, BS, len - 2 * BS, -1));
	EXPECT_EQ(0, rlfs_verify(fd, len - BS, BS, 31));
	close(fd);
	fd = open("b", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rlfs_verify(fd, 0, BS, 31));
	EXPECT_EQ(0, rlfs_verify(fd, BS, (cow - 1) * BS, -1));
	EXPECT_EQ(0, rlfs_verify(fd, cow * BS, BS, 32));
	EXPECT_EQ(0, rlfs_verify(fd, (cow + 1) * BS, len - (cow + 2) * BS,
				 -1));
	EXPECT_EQ(0, rlfs_verify(fd, len - BS, BS, 31));
	close(fd);

	/* b alone held the punched range: deleting b frees it. */
	ASSERT_EQ(0, unlink("b"));
	f4 = rlfs_wait_bfree(".", f3 + (long long)plen);
	EXPECT_LE(f3 + (long long)plen, f4);
	ASSERT_EQ(0, blockmap("a", nb, map));
	EXPECT_EQ(0U, count_char(map, 's'));
	EXPECT_EQ(nb - plen, count_char(map, 'd'));
	ASSERT_EQ(0, unlink("a"));
	EXPECT_FREE_BACK(f0, rlfs_wait_bfree(".", f0));
	free(map);
}

/* Blocks [0, nb) of @path: pattern @seed on even blocks, holes on odd. */
static int check_alternating(const char *path, uint64_t nb, uint32_t seed)
{
	int fd = open(path, O_RDONLY);
	uint64_t i;
	int ret = 0;

	if (fd < 0)
		return -errno;
	for (i = 0; i < nb && !ret; i++)
		ret = rlfs_verify(fd, i * BS, BS, i & 1 ? -1 : (int64_t)seed);
	close(fd);
	return ret;
}

/*
 * Cloning a file of thousands of extents runs many clone steps in one
 * handle, extending it and restarting it when the transaction is full:
 * every extent arrives shared, nothing is lost across the restarts, and
 * the refcounts stay exact (fsck) until both files are gone.
 */
TEST_F_TIMEOUT(reflink, clone_fragmented, T_LONG)
{
	const uint64_t nb = 6000;
	long long f0, f1;
	char *map, *want;
	uint64_t i;
	int fd;

	f0 = rlfs_bfree(".");
	fd = open("a", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	/*
	 * The size first: writes inside EOF get no speculative EOF
	 * preallocation, which on xfs turns the holes between them into
	 * unwritten extents.
	 */
	ASSERT_EQ(0, ftruncate(fd, nb * BS));
	for (i = 0; i < nb; i += 2)
		ASSERT_EQ(0, rlfs_write_pattern(fd, i * BS, BS, 41));
	ASSERT_EQ(0, fsync(fd));
	close(fd);

	map = malloc(nb + 1);
	want = malloc(nb + 1);
	ASSERT_NE(NULL, map);
	ASSERT_NE(NULL, want);
	for (i = 0; i < nb; i++)
		want[i] = i & 1 ? '.' : 's';
	want[nb] = '\0';

	ASSERT_EQ(0, rlfs_clone_file("a", "b"));
	ASSERT_EQ(0, blockmap("b", nb, map));
	EXPECT_EQ(0, strcmp(map, want));
	ASSERT_EQ(0, blockmap("a", nb, map));
	EXPECT_EQ(0, strcmp(map, want));
	EXPECT_EQ(0, check_alternating("b", nb, 41));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, check_alternating("b", nb, 41));

	/* The source goes: the clone keeps every extent, no longer shared. */
	f1 = rlfs_bfree(".");
	ASSERT_EQ(0, unlink("a"));
	/* btrfs gives back metadata reservations of the source */
	EXPECT_GE(META_SLACK + (rlfs_is_fstype("btrfs") ? 256 : 0),
		  rlfs_bfree(".") - f1);
	ASSERT_EQ(0, blockmap("b", nb, map));
	EXPECT_EQ(nb / 2, count_char(map, 'd'));
	EXPECT_EQ(0U, count_char(map, 's'));
	EXPECT_EQ(0, check_alternating("b", nb, 41));
	ASSERT_EQ(0, unlink("b"));
	EXPECT_FREE_BACK(f0, rlfs_wait_bfree(".", f0));
	free(map);
	free(want);
}

/* ---- mmap and O_DIRECT CoW ------------------------------------------------ */

TEST_F_TIMEOUT(reflink, cow_mmap, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	uint8_t *m;
	int fd;

	ASSERT_EQ(0, make_img_file("a", a, 16 * BS, 1));
	ASSERT_EQ(0, rlfs_clone_file("a", "b"));
	img_copy(b, a);

	fd = open("b", O_RDWR);
	ASSERT_LE(0, fd);
	m = mmap(NULL, 16 * BS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	/* read fault first: the page is mapped read-only from shared data */
	EXPECT_EQ(0, memcmp(m + 5 * BS, a->b + 5 * BS, BS));
	rlfs_fill(b->b + 5 * BS + 7, 300, 5 * BS + 7, 31);
	memcpy(m + 5 * BS + 7, b->b + 5 * BS + 7, 300);
	rlfs_fill(b->b + 10 * BS, BS, 10 * BS, 32);
	memcpy(m + 10 * BS, b->b + 10 * BS, BS);
	ASSERT_EQ(0, msync(m, 16 * BS, MS_SYNC));
	ASSERT_EQ(0, munmap(m, 16 * BS));
	close(fd);
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", "sssssdssssdsssss");
	EXPECT_MAP("a", "sssssdssssdsssss");

	/* mmap write to the source. */
	fd = open("a", O_RDWR);
	ASSERT_LE(0, fd);
	m = mmap(NULL, 16 * BS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	rlfs_fill(a->b + 2 * BS + 4095, 1, 2 * BS + 4095, 33);
	m[2 * BS + 4095] = a->b[2 * BS + 4095];
	ASSERT_EQ(0, msync(m, 16 * BS, MS_SYNC));
	/* a second write to the now-private block: no new CoW */
	rlfs_fill(a->b + 2 * BS, 10, 2 * BS, 34);
	memcpy(m + 2 * BS, a->b + 2 * BS, 10);
	ASSERT_EQ(0, msync(m, 16 * BS, MS_SYNC));
	ASSERT_EQ(0, munmap(m, 16 * BS));
	close(fd);
	EXPECT_MAP("a", "ssdssdssssdsssss");
	EXPECT_MAP("b", "ssdssdssssdsssss");
	rlfs_drop_caches();
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_AB_AFTER_REMOUNT();
	EXPECT_MAP("a", "ssdssdssssdsssss");
}

TEST_F_TIMEOUT(reflink, cow_odirect, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	uint8_t *buf;
	int fd;

	ASSERT_EQ(0, posix_memalign((void **)&buf, BS, 2 * BS));
	ASSERT_EQ(0, make_img_file("a", a, 16 * BS, 1));
	ASSERT_EQ(0, rlfs_clone_file("a", "b"));
	img_copy(b, a);
	/* cache the clone's pages: the direct write must invalidate them */
	EXPECT_DATA("b", b);

	fd = open("b", O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd);
	rlfs_fill(b->b, 2 * BS, 0, 41);
	memcpy(buf, b->b, 2 * BS);
	ASSERT_EQ((ssize_t)(2 * BS), pwrite(fd, buf, 2 * BS, 0));
	rlfs_fill(b->b + 14 * BS, BS, 14 * BS, 42);
	memcpy(buf, b->b + 14 * BS, BS);
	ASSERT_EQ((ssize_t)BS, pwrite(fd, buf, BS, 14 * BS));
	/* extension by direct write */
	rlfs_fill(b->b + 16 * BS, BS, 16 * BS, 43);
	memcpy(buf, b->b + 16 * BS, BS);
	ASSERT_EQ((ssize_t)BS, pwrite(fd, buf, BS, 16 * BS));
	b->size = 17 * BS;
	/* direct read back of a written and of a still-shared block */
	ASSERT_EQ((ssize_t)BS, pread(fd, buf, BS, 14 * BS));
	EXPECT_EQ(0, memcmp(buf, b->b + 14 * BS, BS));
	ASSERT_EQ((ssize_t)BS, pread(fd, buf, BS, 7 * BS));
	EXPECT_EQ(0, memcmp(buf, a->b + 7 * BS, BS));
	close(fd);

	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", cat("dd", rep(12, 's'), "dsd", NULL));
	EXPECT_MAP("a", cat("dd", rep(12, 's'), "ds", NULL));

	/* direct write to the source's still-shared block 7 */
	fd = open("a", O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd);
	rlfs_fill(a->b + 7 * BS, BS, 7 * BS, 44);
	memcpy(buf, a->b + 7 * BS, BS);
	ASSERT_EQ((ssize_t)BS, pwrite(fd, buf, BS, 7 * BS));
	close(fd);
	EXPECT_MAP("a", "ddsssssdssssssds");
	EXPECT_MAP("b", "ddsssssdssssssdsd");
	EXPECT_AB_AFTER_REMOUNT();
	free(buf);
}

/* ---- size and layout changes on shared ranges ---------------------------- */

/* a: 16 blocks of seed 1, b its clone; fd of b returned. */
static int setup_pair(struct img *a, struct img *b)
{
	if (make_img_file("a", a, 16 * BS, 1) || rlfs_clone_file("a", "b"))
		return -1;
	img_copy(b, a);
	return open("b", O_RDWR);
}

TEST_F_TIMEOUT(reflink, truncate_shared, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	char ma[32], mb[32];
	int fd = setup_pair(a, b);

	ASSERT_LE(0, fd);
	/* Down into the middle of block 10: its tail must read as zeros
	 * later, without changing the source's block 10. */
	ASSERT_EQ(0, ftruncate(fd, 10 * BS + 100));
	img_truncate(b, 10 * BS + 100);
	ASSERT_EQ(0, fsync(fd));
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	/* block 10 of b may stay shared or be copied; consistently so */
	ASSERT_EQ(0, blockmap("a", 16, ma));
	ASSERT_EQ(0, blockmap("b", 11, mb));
	EXPECT_TRUE(map_ok(ma, "ssssssssss?ddddd")) TH_LOG("a: %s", ma);
	EXPECT_TRUE(map_ok(mb, "ssssssssss?")) TH_LOG("b: %s", mb);
	EXPECT_EQ(ma[10], mb[10]);

	/* Up again: the tail of block 10 and blocks 11.. are zeros. */
	ASSERT_EQ(0, ftruncate(fd, 20 * BS));
	img_truncate(b, 20 * BS);
	ASSERT_EQ(0, fsync(fd));
	EXPECT_DATA("b", b);
	EXPECT_DATA("a", a);
	EXPECT_MAP("b", "ssssssssss?.........");
	/* Write into the grown region and into the shared part. */
	ASSERT_EQ(0, wr(fd, b, 12 * BS, 10, 51));
	ASSERT_EQ(0, wr(fd, b, 1 * BS, 10, 52));
	close(fd);
	EXPECT_MAP("b", "sdssssssss?.d.......");
	EXPECT_MAP("a", "sdssssssss?ddddd");
	EXPECT_AB_AFTER_REMOUNT();

	/* Truncate the source to zero: the clone's blocks stay, unshared. */
	ASSERT_EQ(0, truncate("a", 0));
	EXPECT_MAP("b", "dddddddddd-.d.......");
	EXPECT_DATA("b", b);
}

TEST_F_TIMEOUT(reflink, punch_shared, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	int fd = setup_pair(a, b);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       4 * BS, 4 * BS));
	img_zero(b, 4 * BS, 4 * BS);
	/* sub-block punch: zeroes part of block 9 (a write: CoW) */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       9 * BS + 100, 200));
	img_zero(b, 9 * BS + 100, 200);
	/* punch beyond EOF with KEEP_SIZE: nothing changes */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       20 * BS, 4 * BS));
	close(fd);
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", "ssss....sdssssss");
	EXPECT_MAP("a", "ssssddddsdssssss");
	EXPECT_AB_AFTER_REMOUNT();
	EXPECT_MAP("b", "ssss....sdssssss");
}

TEST_F_TIMEOUT(reflink, zero_range_shared, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	int fd = setup_pair(a, b);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE, 2 * BS, 4 * BS));
	img_zero(b, 2 * BS, 4 * BS);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE, 12 * BS + 1000, 500));
	img_zero(b, 12 * BS + 1000, 500);
	/* zero range extending the file */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE, 15 * BS, 3 * BS));
	img_zero(b, 15 * BS, BS);
	b->size = 18 * BS;
	close(fd);
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", "ss----ssssssdss---");
	EXPECT_MAP("a", "ssddddssssssdssd");
	EXPECT_AB_AFTER_REMOUNT();
}

TEST_F_TIMEOUT(reflink, collapse_shared, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	int fd = setup_pair(a, b);

	RLFS_NOT_ON("btrfs", BTRFS_FALLOC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 4 * BS, 4 * BS)) {
		TH_LOG("FALLOC_FL_COLLAPSE_RANGE on a clone: %s", strerror(errno));
	}
	img_collapse(b, 4 * BS, 4 * BS);
	/* unaligned collapse: EINVAL, nothing changes */
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 100, BS));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", rep(12, 's'));
	EXPECT_MAP("a", "ssssddddssssssss");
	/* the moved blocks are still CoW: write the first moved one */
	fd = open("b", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, b, 4 * BS, 1, 61));	/* a's block 8 */
	close(fd);
	EXPECT_MAP("b", "ssssdsssssss");
	EXPECT_MAP("a", "ssssdddddsssssss");
	EXPECT_AB_AFTER_REMOUNT();
}

TEST_F_TIMEOUT(reflink, insert_shared, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	int fd = setup_pair(a, b);

	RLFS_NOT_ON("btrfs", BTRFS_FALLOC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_INSERT_RANGE, 6 * BS, 2 * BS)) {
		TH_LOG("FALLOC_FL_INSERT_RANGE on a clone: %s", strerror(errno));
	}
	img_insert(b, 6 * BS, 2 * BS);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_INSERT_RANGE, 6 * BS + 1, BS));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", "ssssss..ssssssssss");
	EXPECT_MAP("a", rep(16, 's'));
	/* write into the inserted hole and into a shifted shared block */
	fd = open("b", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, b, 7 * BS + 5, 5, 62));
	ASSERT_EQ(0, wr(fd, b, 17 * BS, 5, 63));	/* a's block 15 */
	close(fd);
	/*
	 * Block 6 stays a hole on reflinkfs.  A filesystem that writes
	 * back whole large folios (6.1 iomap has no per-block dirty state)
	 * may allocate it with the write to block 7.
	 */
	EXPECT_MAP("b", rlfs_is_reflinkfs() ? "ssssss.dsssssssssd" :
					     "ssssss?dsssssssssd");
	EXPECT_MAP("a", "sssssssssssssssd");
	EXPECT_AB_AFTER_REMOUNT();
}

TEST_F_TIMEOUT(reflink, unshare_range, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	long long f0, f1;
	int fd = setup_pair(a, b);

	RLFS_NOT_ON("btrfs", BTRFS_FALLOC);
	ASSERT_LE(0, fd);
	f0 = rlfs_bfree(".");
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_UNSHARE_RANGE, 3 * BS, 7 * BS));
	ASSERT_EQ(0, fsync(fd));
	f1 = rlfs_bfree(".");
	EXPECT_LE(7, f0 - f1);
	/* xfs: plus the CoW fork's preallocation (cowextsize, 32 blocks) */
	EXPECT_GE(7 + META_SLACK + (rlfs_is_reflinkfs() ? 0 : 32), f0 - f1);
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", "sssdddddddssssss");
	EXPECT_MAP("a", "sssdddddddssssss");
	/* unshare of an unshared range and of a hole: no-ops */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_UNSHARE_RANGE, 3 * BS, 2 * BS));
	ASSERT_EQ(0, ftruncate(fd, 20 * BS));
	img_truncate(b, 20 * BS);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_UNSHARE_RANGE, 17 * BS, BS));
	/* the rest of the file */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_UNSHARE_RANGE, 0, 20 * BS));
	close(fd);
	EXPECT_MAP("b", "dddddddddddddddd----");
	EXPECT_MAP("a", rep(16, 'd'));
	EXPECT_AB_AFTER_REMOUNT();
}

/* ---- dedupe ---------------------------------------------------------------- */

TEST_F_TIMEOUT(reflink, dedupe, T_SHORT)
{
	struct img *a = &self->a, *c = &self->b, *d = &self->c;
	struct file_dedupe_range *r;
	int fa, fc, fd, fe;

	ASSERT_EQ(0, make_img_file("a", a, 8 * BS, 1));
	ASSERT_EQ(0, make_img_file("c", c, 8 * BS, 1));	/* same data */
	ASSERT_EQ(0, make_img_file("e", c, 8 * BS, 1));	/* same data */
	ASSERT_EQ(0, make_img_file("d", d, 8 * BS, 1));
	fd = open("d", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, d, 3 * BS + 2000, 1, 9));	/* one byte differs */
	EXPECT_MAP("a", "dddddddd");
	EXPECT_MAP("c", "dddddddd");

	fa = open("a", O_RDONLY);
	fc = open("c", O_RDWR);
	fe = open("e", O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fc);
	ASSERT_LE(0, fe);
	r = calloc(1, sizeof(*r) + 3 * sizeof(r->info[0]));
	ASSERT_NE(NULL, r);
	r->src_offset = 0;
	r->src_length = 8 * BS;
	r->dest_count = 3;
	r->info[0].dest_fd = fc;
	r->info[1].dest_fd = fd;
	r->info[2].dest_fd = fe;
	ASSERT_EQ(0, ioctl(fa, FIDEDUPERANGE, r)) {
		TH_LOG("FIDEDUPERANGE: %s", strerror(errno));
	}
	EXPECT_EQ(FILE_DEDUPE_RANGE_SAME, r->info[0].status);
	EXPECT_EQ(8 * BS, r->info[0].bytes_deduped);
	EXPECT_EQ(FILE_DEDUPE_RANGE_DIFFERS, r->info[1].status);
	EXPECT_EQ(0U, r->info[1].bytes_deduped);
	EXPECT_EQ(FILE_DEDUPE_RANGE_SAME, r->info[2].status);
	EXPECT_EQ(8 * BS, r->info[2].bytes_deduped);
	EXPECT_MAP("a", "ssssssss");
	EXPECT_MAP("c", "ssssssss");
	EXPECT_MAP("e", "ssssssss");
	EXPECT_MAP("d", "dddddddd");

	/* A sub-range where d is the same: blocks 4..6 of a -> d at 4. */
	memset(r, 0, sizeof(*r) + sizeof(r->info[0]));
	r->src_offset = 4 * BS;
	r->src_length = 3 * BS;
	r->dest_count = 1;
	r->info[0].dest_fd = fd;
	r->info[0].dest_offset = 4 * BS;
	ASSERT_EQ(0, ioctl(fa, FIDEDUPERANGE, r));
	EXPECT_EQ(FILE_DEDUPE_RANGE_SAME, r->info[0].status);
	EXPECT_EQ(3 * BS, r->info[0].bytes_deduped);
	EXPECT_MAP("d", "ddddsssd");
	/* Same data at a different offset differs (pattern is positional). */
	r->src_offset = 0;
	r->src_length = BS;
	r->info[0].dest_offset = 7 * BS;
	r->info[0].status = 0;
	r->info[0].bytes_deduped = 0;
	ASSERT_EQ(0, ioctl(fa, FIDEDUPERANGE, r));
	EXPECT_EQ(FILE_DEDUPE_RANGE_DIFFERS, r->info[0].status);
	/* Beyond EOF: per-destination EINVAL. */
	r->src_offset = 0;
	r->src_length = 8 * BS;
	r->info[0].dest_offset = 4 * BS;
	r->info[0].status = 0;
	ASSERT_EQ(0, ioctl(fa, FIDEDUPERANGE, r));
	EXPECT_EQ(-EINVAL, r->info[0].status);
	close(fa);
	close(fc);
	close(fd);
	close(fe);
	free(r);
	EXPECT_DATA("a", a);
	EXPECT_DATA("c", c);
	EXPECT_DATA("e", c);
	EXPECT_DATA("d", d);
	RLFS_REMOUNT(&self->fs);
	EXPECT_DATA("a", a);
	EXPECT_DATA("d", d);
	EXPECT_MAP("a", "ssssssss");
	EXPECT_MAP("d", "ddddsssd");
}

/* ---- FICLONERANGE rules, cross-fs, copy_file_range ---------------------------- */

TEST_F_TIMEOUT(reflink, clone_range_errors, T_SHORT)
{
	const uint64_t ssize = 10 * BS + 100;	/* unaligned EOF */
	struct img *a = &self->a, *b = &self->b;
	char xpath[PATH_MAX];
	struct stat st;
	int fa, fb, fro, fdir, fx;
	loff_t in, out;

	ASSERT_EQ(0, make_img_file("a", a, ssize, 1));
	fa = open("a", O_RDWR);
	fb = open("b", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);

	/* unaligned offsets */
	EXPECT_EQ(-EINVAL, clone_range(fa, 100, BS, fb, 0));
	EXPECT_EQ(-EINVAL, clone_range(fa, 0, BS, fb, 100));
	/* unaligned length not ending at source EOF */
	EXPECT_EQ(-EINVAL, clone_range(fa, 0, BS + 5, fb, 0));
	/* beyond source EOF */
	EXPECT_EQ(-EINVAL, clone_range(fa, 0, 12 * BS, fb, 0));
	EXPECT_EQ(-EINVAL, clone_range(fa, 20 * BS, BS, fb, 0));
	ASSERT_EQ(0, fstat(fb, &st));
	EXPECT_EQ(0, st.st_size);
	/* same file, overlapping ranges */
	EXPECT_EQ(-EINVAL, clone_range(fa, 0, 4 * BS, fa, 2 * BS));
	EXPECT_EQ(-EINVAL, clone_range(fa, 2 * BS, 4 * BS, fa, 0));
	/* FICLONE of a file onto itself is an overlapping clone too */
	EXPECT_EQ(-1, ioctl(fa, FICLONE, fa));
	EXPECT_EQ(EINVAL, errno);

	/* length 0: to EOF */
	EXPECT_EQ(0, clone_range(fa, 4 * BS, 0, fb, 0));
	img_truncate(b, 0);
	memcpy(b->b, a->b + 4 * BS, ssize - 4 * BS);
	b->size = ssize - 4 * BS;
	EXPECT_DATA("b", b);
	EXPECT_MAP("b", "sssssss");
	/* exactly to the unaligned EOF */
	EXPECT_EQ(0, clone_range(fa, 0, ssize, fb, 8 * BS));
	memcpy(b->b + 8 * BS, a->b, ssize);
	b->size = 8 * BS + ssize;
	EXPECT_DATA("b", b);
	/* b's block 6 (a's EOF block) may be CoW-zeroed past EOF */
	EXPECT_MAP("b", "ssssss?.sssssssssss");
	EXPECT_MAP("a", "sssssssssss");
	/* same file, disjoint ranges: fine */
	EXPECT_EQ(0, clone_range(fa, 0, 2 * BS, fa, 12 * BS));
	memcpy(a->b + 12 * BS, a->b, 2 * BS);
	memset(a->b + ssize, 0, 12 * BS - ssize);
	a->size = 14 * BS;
	EXPECT_DATA("a", a);
	EXPECT_MAP("a", "ssssssssss?.ss");

	/* destination opened read-only */
	fro = open("a", O_RDONLY);
	ASSERT_LE(0, fro);
	EXPECT_EQ(-1, ioctl(fro, FICLONE, fb));
	EXPECT_EQ(EBADF, errno);
	close(fro);

	/* a directory as source */
	fdir = open(".", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fdir);
	EXPECT_EQ(-1, ioctl(fb, FICLONE, fdir));
	EXPECT_TRUE(errno == EISDIR || errno == EINVAL) {
		TH_LOG("FICLONE from a directory: %s", strerror(errno));
	}
	close(fdir);

	/* across filesystems: a file outside the mount */
	snprintf(xpath, sizeof(xpath), "%s/xdev", RLFS_MNT_BASE);
	fx = open(xpath, O_CREAT | O_TRUNC | O_RDWR, 0644);
	ASSERT_LE(0, fx);
	EXPECT_EQ(-1, ioctl(fx, FICLONE, fa));
	EXPECT_EQ(EXDEV, errno);
	ASSERT_EQ(0, rlfs_write_pattern(fx, 0, 2 * BS, 3));
	EXPECT_EQ(-1, ioctl(fb, FICLONE, fx));
	EXPECT_EQ(EXDEV, errno);
	close(fx);
	unlink(xpath);

	/* copy_file_range of an aligned range shares */
	close(fb);
	fb = open("c", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fb);
	in = 2 * BS;
	out = 0;
	EXPECT_EQ((ssize_t)(6 * BS), copy_file_range(fa, &in, fb, &out,
						     6 * BS, 0));
	EXPECT_EQ((loff_t)(8 * BS), in);
	close(fb);
	close(fa);
	b->size = 6 * BS;
	memcpy(b->b, a->b + 2 * BS, 6 * BS);
	EXPECT_DATA("c", b);
	EXPECT_MAP("c", "ssssss");
	RLFS_REMOUNT(&self->fs);
	EXPECT_DATA("a", a);
	EXPECT_DATA("c", b);
}

/* ---- chains ------------------------------------------------------------------ */

TEST_F_TIMEOUT(reflink, clone_chain, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b, *c = &self->c;
	long long f0, f1;
	int fd;

	f0 = rlfs_bfree(".");
	ASSERT_EQ(0, make_img_file("a", a, 8 * BS, 1));
	ASSERT_EQ(0, rlfs_clone_file("a", "b"));
	img_copy(b, a);
	ASSERT_EQ(0, rlfs_clone_file("b", "c"));
	img_copy(c, b);
	EXPECT_MAP("c", "ssssssss");

	fd = open("b", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, b, 2 * BS, BS, 2));
	close(fd);
	/* a and c still share block 2 */
	EXPECT_MAP("a", "ssssssss");
	EXPECT_MAP("b", "ssdsssss");
	EXPECT_MAP("c", "ssssssss");
	fd = open("c", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, c, 2 * BS + 1, 1, 3));
	ASSERT_EQ(0, wr(fd, c, 5 * BS, BS, 4));
	close(fd);
	EXPECT_MAP("a", "ssdsssss");	/* block 5: a and b */
	EXPECT_MAP("c", "ssdssdss");
	/* clone of the clone of the clone, then drop the middle one */
	ASSERT_EQ(0, rlfs_clone_file("c", "d"));
	ASSERT_EQ(0, unlink("b"));
	EXPECT_MAP("a", "ssdssdss");
	EXPECT_MAP("c", "ssssssss");
	EXPECT_DATA("a", a);
	EXPECT_DATA("c", c);
	EXPECT_DATA("d", c);
	RLFS_REMOUNT(&self->fs);
	EXPECT_DATA("a", a);
	EXPECT_DATA("d", c);
	ASSERT_EQ(0, unlink("a"));
	ASSERT_EQ(0, unlink("c"));
	EXPECT_MAP("d", "dddddddd");
	ASSERT_EQ(0, unlink("d"));
	f1 = rlfs_wait_bfree(".", f0);
	EXPECT_FREE_BACK(f0, f1);
}

/* ---- persistence ------------------------------------------------------------ */

TEST_F_TIMEOUT(reflink, persistence, T_SHORT)
{
	struct img *a = &self->a, *b = &self->b;
	int fd = setup_pair(a, b);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, b, 3 * BS, 2 * BS, 5));
	ASSERT_EQ(0, wr(fd, b, 10 * BS + 5, 5, 6));
	close(fd);
	/* no fsync: the unmount writes everything */
	EXPECT_AB_AFTER_REMOUNT();
	EXPECT_MAP("a", "sssddsssssdsssss");
	EXPECT_MAP("b", "sssddsssssdsssss");
	/* and CoW still works on the reloaded sharing */
	fd = open("a", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, a, 15 * BS, 1, 7));
	close(fd);
	EXPECT_AB_AFTER_REMOUNT();
	EXPECT_MAP("a", "sssddsssssdssssd");
	EXPECT_MAP("b", "sssddsssssdssssd");
}

/* ---- ENOSPC -------------------------------------------------------------------- */

TEST_F_TIMEOUT(reflink, enospc_cow, T_LONG)
{
	struct img *a = &self->a, *b = &self->b;
	struct statfs sf;
	uint8_t blk[BS];
	long long avail;
	ssize_t w;
	int fd, ff, i, ret;

	fd = setup_pair(a, b);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fsync(fd));
	/* Fill: one fallocate for most of the space, then single blocks. */
	ff = open("fill", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, ff);
	ASSERT_EQ(0, fstatfs(ff, &sf));
	avail = (long long)sf.f_bavail - 64;
	while (avail > 0 &&
	       fallocate(ff, 0, 0, (off_t)avail * BS) && errno == ENOSPC)
		avail -= 64;
	memset(blk, 0x5a, sizeof(blk));
	for (i = 0; i < 2; i++) {
		off_t off = lseek(ff, 0, SEEK_END);
		int n;

		for (n = 0; n < 100000; n++, off += BS)
			if (pwrite(ff, blk, BS, off) != (ssize_t)BS)
				break;
		EXPECT_EQ(ENOSPC, errno);
		fsync(ff);		/* may fail: not what is tested */
	}
	ASSERT_EQ(0, fstatfs(ff, &sf));
	TH_LOG("filled: %llu free blocks, %llu available",
	       (unsigned long long)sf.f_bfree, (unsigned long long)sf.f_bavail);

	/* A CoW write of a whole shared block needs a block: ENOSPC. */
	rlfs_fill(blk, BS, 5 * BS, 71);
	w = pwrite(fd, blk, BS, 5 * BS);
	if (w < 0)
		ret = errno;
	else
		ret = fsync(fd) ? errno : 0;
	EXPECT_EQ(-1, w) {
		TH_LOG("CoW write on a full filesystem: %zd, fsync: %s", w,
		       strerror(ret));
	}
	EXPECT_EQ(ENOSPC, ret);
	/* sub-block CoW write to the source (closed by close_range below) */
	w = pwrite(open("a", O_RDWR), blk, 10, 7 * BS + 3);
	EXPECT_EQ(-1, w);
	EXPECT_EQ(ENOSPC, errno);
	/* unshare needs space too (btrfs has no unshare: EOPNOTSUPP) */
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_UNSHARE_RANGE, 0, 16 * BS));
	EXPECT_EQ(rlfs_is_fstype("btrfs") ? EOPNOTSUPP : ENOSPC, errno);
	close_range(3, ~0U, 0);
	rlfs_drop_caches();
	EXPECT_DATA("a", a);
	EXPECT_DATA("b", b);
	EXPECT_MAP("a", rep(16, 's'));
	EXPECT_MAP("b", rep(16, 's'));

	/* With space again the same write works. */
	ASSERT_EQ(0, unlink("fill"));
	rlfs_bfree(".");
	fd = open("b", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wr(fd, b, 5 * BS, BS, 71));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	EXPECT_AB_AFTER_REMOUNT();
	EXPECT_MAP("b", "sssssdssssssssss");
}

/* ---- REFLINKFS_IOC_REFLINK ----------------------------------------------------- */

static int rl_ioctl(int srcfd, int dirfd, const char *name, uint32_t flags,
		    uint64_t res)
{
	struct reflinkfs_reflink_args arg;

	memset(&arg, 0, sizeof(arg));
	arg.dest_dirfd = dirfd;
	arg.flags = flags;
	arg.dest_name = (uintptr_t)name;
	arg.reserved[3] = res;
	return ioctl(srcfd, REFLINKFS_IOC_REFLINK, &arg) ? -errno : 0;
}

#define REQUIRE_REFLINKFS() do {					\
	if (!on_reflinkfs("."))						\
		SKIP(return, "not reflinkfs: no REFLINKFS_IOC_REFLINK");\
} while (0)

TEST_F_TIMEOUT(reflink, ioc_reflink_basic, T_SHORT)
{
	struct img *a = &self->a;
	struct stat st;
	int fa, dfd, r;

	REQUIRE_REFLINKFS();
	ASSERT_EQ(0, make_img_file("a", a, 12 * BS + 300, 1));
	ASSERT_EQ(0, mkdir("dir", 0755));
	fa = open("a", O_RDONLY);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, rl_ioctl(fa, AT_FDCWD, "r", 0, 0));
	EXPECT_DATA("r", a);
	EXPECT_MAP("r", rep(13, 's'));
	EXPECT_MAP("a", rep(13, 's'));
	ASSERT_EQ(0, stat("r", &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(1U, st.st_nlink);
	/* relative to a directory fd */
	dfd = open("dir", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, rl_ioctl(fa, dfd, "r2", 0, 0));
	EXPECT_DATA("dir/r2", a);
	/* errors */
	EXPECT_EQ(-EEXIST, rl_ioctl(fa, AT_FDCWD, "r", 0, 0));
	EXPECT_EQ(-EEXIST, rl_ioctl(fa, dfd, "r2", 0, 0));
	EXPECT_EQ(-EINVAL, rl_ioctl(fa, AT_FDCWD, "f1", 1U << 7, 0));
	EXPECT_EQ(-EINVAL, rl_ioctl(fa, AT_FDCWD, "f2",
				    ~REFLINKFS_REFLINK_ALL_FLAGS, 0));
	EXPECT_EQ(-EINVAL, rl_ioctl(fa, AT_FDCWD, "f3", 0, 1));
	EXPECT_EQ(-ENOENT, rl_ioctl(fa, AT_FDCWD, "nodir/x", 0, 0));
	EXPECT_EQ(-EINVAL, rl_ioctl(dfd, AT_FDCWD, "f4", 0, 0));
	EXPECT_NE(0, access("f1", F_OK));
	EXPECT_NE(0, access("f2", F_OK));
	EXPECT_NE(0, access("f3", F_OK));
	EXPECT_NE(0, access("f4", F_OK));
	/* the new file is CoW */
	close(dfd);
	{
		int fr = open("r", O_RDWR);
		struct img *r2 = &self->b;

		ASSERT_LE(0, fr);
		img_copy(r2, a);
		ASSERT_EQ(0, wr(fr, r2, 4 * BS, 3, 81));
		close(fr);
		EXPECT_DATA("r", r2);
		EXPECT_MAP("r", "ssssdssssssss");
	}
	/* IMMUTABLE: a snapshot (snapshot_test.c tests it in depth). */
	r = rl_ioctl(fa, AT_FDCWD, "snap", REFLINKFS_REFLINK_IMMUTABLE, 0);
	EXPECT_EQ(0, r);
	EXPECT_TRUE(!!(rlfs_get_iflags("snap") & FS_IMMUTABLE_FL));
	EXPECT_DATA("snap", a);
	EXPECT_EQ(-1, open("snap", O_WRONLY));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, rlfs_set_iflags("snap", 0));
	close(fa);
	RLFS_REMOUNT(&self->fs);
	EXPECT_DATA("r", &self->b);
	EXPECT_DATA("dir/r2", a);
	EXPECT_MAP("dir/r2", rep(13, 's'));
}

TEST_F_TIMEOUT(reflink, ioc_reflink_preserve, T_SHORT)
{
	const struct timespec ts[2] = {
		{ .tv_sec = 1000000000, .tv_nsec = 123456789 },
		{ .tv_sec = 1100000000, .tv_nsec = 987654321 },
	};
	struct img *a = &self->a;
	struct stat s0, s1;
	char val[32];
	ssize_t n;
	int fa;

	REQUIRE_REFLINKFS();
	ASSERT_EQ(0, make_img_file("a", a, 5 * BS, 1));
	ASSERT_EQ(0, chown("a", 1000, 1000));
	ASSERT_EQ(0, chmod("a", 0640));
	ASSERT_EQ(0, setxattr("a", "user.k", "v1", 2, 0));
	memset(val, 'x', sizeof(val));
	ASSERT_EQ(0, setxattr("a", "user.long", val, sizeof(val), 0));
	ASSERT_EQ(0, utimensat(AT_FDCWD, "a", ts, 0));
	ASSERT_EQ(0, stat("a", &s0));
	fa = open("a", O_RDONLY);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, rl_ioctl(fa, AT_FDCWD, "p", REFLINKFS_REFLINK_PRESERVE, 0));
	ASSERT_EQ(0, stat("p", &s1));
	EXPECT_EQ(1000U, s1.st_uid);
	EXPECT_EQ(1000U, s1.st_gid);
	EXPECT_EQ(s0.st_mode, s1.st_mode);
	EXPECT_EQ(s0.st_mtim.tv_sec, s1.st_mtim.tv_sec);
	EXPECT_EQ(s0.st_mtim.tv_nsec, s1.st_mtim.tv_nsec);
	EXPECT_NE(s0.st_ino, s1.st_ino);
	n = getxattr("p", "user.k", val, sizeof(val));
	EXPECT_EQ(2, n);
	EXPECT_EQ(0, memcmp(val, "v1", 2));
	memset(val, 0, sizeof(val));
	n = getxattr("p", "user.long", val, sizeof(val));
	EXPECT_EQ((ssize_t)sizeof(val), n);
	EXPECT_EQ(0, memcmp(val, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", sizeof(val)));
	EXPECT_DATA("p", a);
	EXPECT_MAP("p", "sssss");
	/* without PRESERVE the caller owns the new file */
	ASSERT_EQ(0, rl_ioctl(fa, AT_FDCWD, "np", 0, 0));
	ASSERT_EQ(0, stat("np", &s1));
	EXPECT_EQ(geteuid(), s1.st_uid);
	EXPECT_EQ(getegid(), s1.st_gid);
	EXPECT_DATA("np", a);
	close(fa);
	RLFS_REMOUNT(&self->fs);
	ASSERT_EQ(0, stat("p", &s1));
	EXPECT_EQ(1000U, s1.st_uid);
	EXPECT_EQ(s0.st_mtim.tv_sec, s1.st_mtim.tv_sec);
	EXPECT_EQ(2, getxattr("p", "user.k", val, sizeof(val)));
	EXPECT_MAP("a", "sssss");
}

/* Child: become uid/gid 1000 and try the ioctls on inherited fds. */
static int unpriv_child(int f_root644, int f_root600, int f_mine)
{
	int r;

	if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) ||
	    setresuid(1000, 1000, 1000)) {
		fprintf(stderr, "# setresuid: %s\n", strerror(errno));
		return 10;
	}
	r = rl_ioctl(f_root644, AT_FDCWD, "ud/pres", REFLINKFS_REFLINK_PRESERVE, 0);
	if (r != -EPERM) {
		fprintf(stderr, "# PRESERVE of a root file as uid 1000: %s, "
			"want EPERM\n", strerror(-r));
		return 11;
	}
	r = rl_ioctl(f_root600, AT_FDCWD, "ud/secret", 0, 0);
	if (r != -EACCES) {
		fprintf(stderr, "# reflink of a 0600 root file as uid 1000: "
			"%s, want EACCES\n", strerror(-r));
		return 12;
	}
	if (access("ud/pres", F_OK) == 0 || access("ud/secret", F_OK) == 0) {
		fprintf(stderr, "# a failed reflink left a file behind\n");
		return 13;
	}
	r = rl_ioctl(f_root644, AT_FDCWD, "ud/plain", 0, 0);
	if (r) {
		fprintf(stderr, "# plain reflink of a 0644 file as uid 1000: "
			"%s\n", strerror(-r));
		return 14;
	}
	r = rl_ioctl(f_mine, AT_FDCWD, "ud/mine", REFLINKFS_REFLINK_PRESERVE, 0);
	if (r) {
		fprintf(stderr, "# PRESERVE of an own file: %s\n", strerror(-r));
		return 15;
	}
	/* no write permission on the target directory */
	r = rl_ioctl(f_mine, AT_FDCWD, "rootdir/x", 0, 0);
	if (r != -EACCES) {
		fprintf(stderr, "# reflink into a 0755 root directory: %s, "
			"want EACCES\n", strerror(-r));
		return 16;
	}
	return 0;
}

TEST_F_TIMEOUT(reflink, ioc_reflink_unprivileged, T_SHORT)
{
	struct img *a = &self->a;
	int f1, f2, f3, st;
	struct stat s;
	pid_t pid;

	REQUIRE_REFLINKFS();
	ASSERT_EQ(0, make_img_file("root644", a, 3 * BS, 1));
	ASSERT_EQ(0, make_img_file("root600", a, 3 * BS, 1));
	ASSERT_EQ(0, make_img_file("mine", a, 3 * BS, 1));
	ASSERT_EQ(0, chmod("root644", 0644));
	ASSERT_EQ(0, chmod("root600", 0600));
	ASSERT_EQ(0, chown("mine", 1000, 1000));
	ASSERT_EQ(0, mkdir("ud", 0777));
	ASSERT_EQ(0, chmod("ud", 0777));
	ASSERT_EQ(0, mkdir("rootdir", 0755));
	f1 = open("root644", O_RDONLY);
	f2 = open("root600", O_RDONLY);
	f3 = open("mine", O_RDONLY);
	ASSERT_LE(0, f1);
	ASSERT_LE(0, f2);
	ASSERT_LE(0, f3);
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(unpriv_child(f1, f2, f3));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	close(f1);
	close(f2);
	close(f3);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		ASSERT_EQ(0, stat("ud/plain", &s));
		EXPECT_EQ(1000U, s.st_uid);
		EXPECT_DATA("ud/plain", a);
		ASSERT_EQ(0, stat("ud/mine", &s));
		EXPECT_EQ(1000U, s.st_uid);
		EXPECT_MAP("root644", "sss");
	}
}

TEST_F_TIMEOUT(reflink, immutable_source, T_SHORT)
{
	struct img *a = &self->a;
	int fa, fd;

	ASSERT_EQ(0, make_img_file("a", a, 4 * BS, 1));
	ASSERT_EQ(0, rlfs_set_iflags("a", FS_IMMUTABLE_FL));
	EXPECT_TRUE(!!(rlfs_get_iflags("a") & FS_IMMUTABLE_FL));
	EXPECT_EQ(-1, open("a", O_WRONLY));
	EXPECT_EQ(EPERM, errno);
	/* FICLONE from an immutable file is fine (only the target may not
	 * be immutable) */
	EXPECT_EQ(0, rlfs_clone_file("a", "b"));
	EXPECT_DATA("b", a);
	fa = open("a", O_RDONLY);
	ASSERT_LE(0, fa);
	/* ... but an immutable file cannot be the destination */
	fd = open("b", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_set_iflags("b", FS_IMMUTABLE_FL));
	EXPECT_EQ(-1, ioctl(fd, FICLONE, fa));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, rlfs_set_iflags("b", 0));
	close(fd);
	if (on_reflinkfs(".")) {
		ASSERT_EQ(0, rl_ioctl(fa, AT_FDCWD, "r", 0, 0));
		EXPECT_DATA("r", a);
		EXPECT_FALSE(!!(rlfs_get_iflags("r") & FS_IMMUTABLE_FL));
		EXPECT_MAP("r", "ssss");
	}
	close(fa);
	EXPECT_MAP("a", "ssss");
	EXPECT_EQ(0, rlfs_set_iflags("a", 0));
}

/* ---- fans: 100 clones, deleted in three orders --------------------------------- */

#define FAN_N		100
#define FAN_BLOCKS	8

FIXTURE(fan) {
	struct rlfs_fs fs;
};

FIXTURE_VARIANT(fan) {
	int order;	/* 0 forward, 1 reverse, 2 interleaved */
};

FIXTURE_VARIANT_ADD(fan, forward) { .order = 0 };
FIXTURE_VARIANT_ADD(fan, reverse) { .order = 1 };
FIXTURE_VARIANT_ADD(fan, interleaved) { .order = 2 };

FIXTURE_SETUP(fan)
{
	rlfs_fs_setup(&self->fs, RLFS_TEST_BLOCKS);
	rlfs_reflink_probe(&self->fs);
}

FIXTURE_TEARDOWN(fan)
{
	rlfs_fs_teardown(&self->fs);
}

/* Check clone @i (or the source for i < 0) against its expected data. */
static int fan_check(int i)
{
	char name[32];
	uint8_t buf[FAN_BLOCKS * BS];
	int fd, b;

	if (i < 0)
		snprintf(name, sizeof(name), "fan/src");
	else
		snprintf(name, sizeof(name), "fan/c%03d", i);
	fd = open(name, O_RDONLY);
	if (fd < 0 || pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
		fprintf(stderr, "# %s: cannot read\n", name);
		return 1;
	}
	close(fd);
	for (b = 0; b < FAN_BLOCKS; b++) {
		uint32_t seed = (i >= 0 && b == i % FAN_BLOCKS) ? 1000 + i : 1;

		if (rlfs_check(buf + b * BS, BS, b * BS, seed) >= 0) {
			fprintf(stderr, "# %s: block %d wrong\n", name, b);
			return 1;
		}
	}
	return 0;
}

TEST_F_TIMEOUT(fan, hundred_clones, T_LONG)
{
	int order[FAN_N + 1], i, fd, bad = 0;
	long long f0, f1, f2;
	char name[32], map[FAN_BLOCKS + 1];

	f0 = rlfs_bfree(".");
	ASSERT_EQ(0, mkdir("fan", 0755));
	ASSERT_EQ(0, rlfs_make_file("fan/src", FAN_BLOCKS * BS, 1, true));
	f1 = rlfs_bfree(".");
	for (i = 0; i < FAN_N; i++) {
		snprintf(name, sizeof(name), "fan/c%03d", i);
		ASSERT_EQ(0, rlfs_clone_file("fan/src", name));
	}
	f2 = rlfs_bfree(".");
	TH_LOG("free: empty %lld, source %lld, +%d clones %lld", f0, f1,
	       FAN_N, f2);
	/* only inodes and directory blocks: no data copied */
	EXPECT_GT(FAN_BLOCKS * FAN_N / 2, f1 - f2);

	for (i = 0; i < FAN_N; i++) {
		snprintf(name, sizeof(name), "fan/c%03d", i);
		fd = open(name, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, rlfs_write_pattern(fd, (i % FAN_BLOCKS) * BS, BS,
						1000 + i));
		close(fd);
	}
	for (i = -1; i < FAN_N; i++)
		bad += fan_check(i);
	EXPECT_EQ(0, bad);
	ASSERT_EQ(0, blockmap("fan/src", FAN_BLOCKS, map));
	EXPECT_STREQ("ssssssss", map);
	ASSERT_EQ(0, blockmap("fan/c005", FAN_BLOCKS, map));
	EXPECT_STREQ("sssssdss", map);
	RLFS_REMOUNT(&self->fs);
	for (i = -1, bad = 0; i < FAN_N; i++)
		bad += fan_check(i);
	EXPECT_EQ(0, bad);

	/* deletion order over clones 0..99 and the source (index FAN_N) */
	for (i = 0; i <= FAN_N; i++) {
		switch (variant->order) {
		case 0:
			order[i] = i;			/* source last */
			break;
		case 1:
			order[i] = FAN_N - i;		/* source first */
			break;
		default:				/* evens, source, odds */
			order[i] = i < FAN_N / 2 ? 2 * i :
				   i == FAN_N / 2 ? FAN_N :
				   2 * (i - FAN_N / 2 - 1) + 1;
			break;
		}
	}
	for (i = 0; i <= FAN_N; i++) {
		int victim = order[i];

		if (victim == FAN_N)
			snprintf(name, sizeof(name), "fan/src");
		else
			snprintf(name, sizeof(name), "fan/c%03d", victim);
		ASSERT_EQ(0, unlink(name)) TH_LOG("unlink %s: %s", name,
						  strerror(errno));
		/* halfway: the survivors are intact (after a remount) */
		if (i == FAN_N / 2) {
			int j;

			RLFS_REMOUNT(&self->fs);
			for (j = i + 1, bad = 0; j <= FAN_N; j++)
				bad += fan_check(order[j] == FAN_N ? -1 :
						 order[j]);
			EXPECT_EQ(0, bad);
		}
	}
	ASSERT_EQ(0, rmdir("fan"));
	f2 = rlfs_wait_bfree(".", f0);
	TH_LOG("free after deleting everything: %lld (before: %lld)", f2, f0);
	EXPECT_FREE_BACK(f0, f2);
	RLFS_REMOUNT(&self->fs);
	EXPECT_FREE_BACK(f0, rlfs_bfree("."));
}

TEST_HARNESS_MAIN
