// SPDX-License-Identifier: GPL-2.0
/*
 * integrity_test - a read never returns data the file did not write: the
 * races and size changes that could expose a block allocated but never
 * written, or bytes the page cache holds past EOF, and the rules that
 * keep a swap file's blocks to itself.
 *
 *   cow_overwrite_zero_copy  a whole-block write(2) over a shared block
 *	whose page is cached and uptodate, racing with another thread that
 *	revokes the user buffer (mprotect PROT_NONE) between the fault-in
 *	and the copy, copies nothing and fails with EFAULT: the block keeps
 *	its old data, or holds the new data when the write succeeded; it
 *	never becomes a copy that was allocated but not written (checked
 *	after the page is dropped).  The source stays unchanged.
 *   mkwrite_dio_read  mmap write faults fill the holes of a sparse file
 *	while O_DIRECT reads scan it: every block read is zeros or the data
 *	written, never what its block held before it was allocated.
 *   write_dio_read  the same with buffered pwrite(2) into the holes (safe
 *	today because a direct read maps its blocks under i_rwsem, which
 *	the write holds; the test keeps any other locking honest).
 *   swap  swapon(2) refuses a file with shared extents and a file with
 *	a hole (EINVAL) and takes a private, fully written one; while it is
 *	active, REFLINKFS_IOC_REFLINK and FICLONE from it are ETXTBSY.
 *   posteof_{truncate,clone,pwrite,falloc}  bytes written through mmap
 *	past EOF in the last page read as zeros once the file grows by
 *	ftruncate, FICLONERANGE past EOF, a pwrite past EOF or fallocate:
 *	through read(2) and mmap, right away and after a remount.
 *   falloc_rlimit_fsize  fallocate past RLIMIT_FSIZE fails with EFBIG
 *	and changes nothing; up to the limit it works.
 *   truncate_shared_tail  truncating a fresh clone inside a shared block
 *	(a copy on write of the tail block) succeeds every time, zeroes the
 *	tail and leaves the source alone, while another thread keeps the
 *	journal busy with large writes and fsyncs.
 *
 * Stale data: before the cow and dio races, fill_deleted() fills the
 * free space with a marker ("deleted data": a file of marker blocks,
 * written, fsynced and unlinked), so a block that is allocated and never
 * written reads as the marker; a block found holding it is reported as
 * deleted data.
 *
 * Race tests run for at most RACE_SECS, stop at the first wrong block and
 * log how often the racing path was taken.  Every test runs on a fresh
 * 64 MiB filesystem and ends with an unmount and "fsck.reflinkfs -n"
 * clean.  Environment: see rlfs_util.h.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/swap.h>
#include <linux/fs.h>

#include "rlfs_util.h"
#include "uapi/linux/reflinkfs.h"

#define BS		4096ULL
#define MiB		(1024ULL * 1024)
#define FS_BLOCKS	16384ULL	/* 64 MiB: quick to fill */
#define T_SHORT		120
#define T_RACE		180
#define RACE_SECS	15

/* "DELETED!" in memory order: what every freed block holds. */
#define MARKER		0x21444554454c4544ULL

FIXTURE(integrity) {
	struct rlfs_fs fs;
};

FIXTURE_SETUP(integrity)
{
	rlfs_fs_setup(&self->fs, FS_BLOCKS);
}

FIXTURE_TEARDOWN(integrity)
{
	rlfs_fs_teardown(&self->fs);
}

/* ---- helpers ------------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Fill every free block with the marker, then free them all again.
 * Returns the number of marker blocks written, or -errno.
 */
static long long fill_deleted(void)
{
	uint64_t *buf = malloc(RLFS_CHUNK);
	long long n = 0, before = rlfs_bfree(".");
	ssize_t w;
	size_t i;
	int fd, ret = 0;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < RLFS_CHUNK / 8; i++)
		buf[i] = MARKER;
	fd = open("deleted", O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	while ((w = write(fd, buf, RLFS_CHUNK)) > 0)
		n += w / BS;
	if (errno != ENOSPC)
		ret = -errno;
	if (fsync(fd) && !ret)
		ret = -errno;
	close(fd);
	if (unlink("deleted") && !ret)
		ret = -errno;
	free(buf);
	rlfs_wait_bfree(".", before);
	return ret ? ret : n;
}

/* Does the block hold the marker of fill_deleted() anywhere? */
static bool has_marker(const void *blk)
{
	const uint64_t *w = blk;
	size_t i;

	for (i = 0; i < BS / 8; i++)
		if (w[i] == MARKER)
			return true;
	return false;
}

static int reflink_ioctl(int srcfd, const char *name)
{
	struct reflinkfs_reflink_args arg = {
		.dest_dirfd = AT_FDCWD,
		.dest_name = (uintptr_t)name,
	};

	return ioctl(srcfd, REFLINKFS_IOC_REFLINK, &arg) ? -errno : 0;
}

static off_t file_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : st.st_size;
}

/* ---- copy on write of a whole block with a revoked user buffer ---------- */

#define COW_BLOCKS	256	/* 1 MiB: the blocks one round writes */
#define COW_SEED	1	/* file "a", shared by "b" */

struct revoker {
	uint8_t		*buf;	/* the page write(2) copies from */
	atomic_bool	stop;
	unsigned long	toggles;
};

/* Revoke and restore access to the buffer page, as fast as possible. */
static void *revoke_loop(void *arg)
{
	struct revoker *r = arg;

	while (!atomic_load(&r->stop)) {
		mprotect(r->buf, BS, PROT_NONE);
		mprotect(r->buf, BS, PROT_READ | PROT_WRITE);
		r->toggles++;
	}
	return NULL;
}

/*
 * Read "b" back and check every block: its first done[i] bytes are the
 * data of round @seed (a write may stop short when the buffer goes away
 * in the middle of the copy), the rest is the source's.  Returns the
 * number of wrong blocks, logging the first few.
 */
static int cow_check(struct __test_metadata *_metadata, int fd,
		     const int *done, uint32_t seed, uint8_t *img)
{
	uint8_t want[BS];
	int i, bad = 0;

	if (pread(fd, img, COW_BLOCKS * BS, 0) != (ssize_t)(COW_BLOCKS * BS)) {
		TH_LOG("read of b: %s", strerror(errno));
		return COW_BLOCKS;
	}
	for (i = 0; i < COW_BLOCKS; i++) {
		uint8_t *blk = img + i * BS;

		rlfs_fill(want, BS, i * BS, COW_SEED);
		rlfs_fill(want, done[i], 0, seed);
		if (!memcmp(blk, want, BS) || bad++ >= 4)
			continue;
		TH_LOG("b block %d (%d bytes written) holds %s", i, done[i],
		       has_marker(blk) ? "deleted data" :
		       rlfs_check(blk, BS, i * BS, COW_SEED) < 0 ?
		       "the old data" : "wrong data");
	}
	return bad;
}

TEST_F_TIMEOUT(integrity, cow_overwrite_zero_copy, T_RACE)
{
	int done[COW_BLOCKS];
	unsigned long efault = 0, partial = 0, rounds = 0;
	struct revoker r = { 0 };
	pthread_t thr;
	double end;
	uint8_t *img;
	uint32_t seed = 100;
	int fd, i, err = 0, bad = 0;

	img = malloc(COW_BLOCKS * BS);
	ASSERT_NE(NULL, img);
	r.buf = mmap(NULL, BS, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r.buf);
	ASSERT_LT(0, fill_deleted());
	ASSERT_EQ(0, rlfs_make_file("a", COW_BLOCKS * BS, COW_SEED, true));

	end = now() + RACE_SECS;
	while (!bad && !err && now() < end) {
		/* A fresh clone whose pages are all cached and uptodate. */
		ASSERT_EQ(0, rlfs_clone_file("a", "b"));
		fd = open("b", O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)(COW_BLOCKS * BS),
			  pread(fd, img, COW_BLOCKS * BS, 0));
		rlfs_fill(r.buf, BS, 0, ++seed);
		atomic_store(&r.stop, false);
		ASSERT_EQ(0, pthread_create(&thr, NULL, revoke_loop, &r));
		for (i = 0; i < COW_BLOCKS; i++) {
			ssize_t w = pwrite(fd, r.buf, BS, i * BS);

			if (w < 0 && errno != EFAULT) {
				err = errno;
				break;
			}
			done[i] = w < 0 ? 0 : w;
			efault += w < 0;
			partial += w >= 0 && w < (ssize_t)BS;
		}
		atomic_store(&r.stop, true);
		pthread_join(thr, NULL);
		ASSERT_EQ(0, err) {
			TH_LOG("write of block %d: %s", i, strerror(err));
		}
		/* Drop the clean pages: what is read next comes from disk. */
		ASSERT_EQ(0, fsync(fd));
		ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
		bad = cow_check(_metadata, fd, done, seed, img);
		close(fd);
		rounds++;
	}
	TH_LOG("%lu rounds of %d block writes: %lu EFAULT, %lu short; "
	       "%lu buffer revocations", rounds, COW_BLOCKS, efault, partial,
	       r.toggles);
	EXPECT_EQ(0, bad);

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("a", COW_BLOCKS * BS, COW_SEED));
	fd = open("b", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, cow_check(_metadata, fd, done, seed, img));
	close(fd);
	munmap(r.buf, BS);
	free(img);
}

/* ---- holes filled while O_DIRECT reads scan the file -------------------- */

#define HOLE_FILE	(32 * MiB)
#define HOLE_BLOCKS	(HOLE_FILE / BS)
#define DIO_CHUNK	(4 * MiB)
#define HOLE_SEED	7

/* What the first word of block @blk holds once written: never 0. */
static uint64_t hole_tag(uint64_t blk)
{
	return rlfs_pat_word(blk, HOLE_SEED) | 1;
}

struct hole_filler {
	int		fd;
	uint8_t		*map;	/* MAP_SHARED of the file, or NULL */
	uint32_t	*order;	/* blocks in the order they are filled */
	atomic_bool	done;
	int		err;	/* of pwrite */
};

/* Fill every hole: one 8-byte store through the mapping, or a pwrite. */
static void *hole_fill_loop(void *arg)
{
	struct hole_filler *f = arg;
	uint64_t blk[BS / 8] = { 0 };
	uint64_t i;

	for (i = 0; i < HOLE_BLOCKS && !f->err; i++) {
		uint64_t b = f->order[i];

		if (f->map) {
			*(volatile uint64_t *)(f->map + b * BS) = hole_tag(b);
			continue;
		}
		blk[0] = hole_tag(b);
		if (pwrite(f->fd, blk, BS, b * BS) != (ssize_t)BS)
			f->err = errno ? errno : EIO;
	}
	atomic_store(&f->done, true);
	return NULL;
}

/* 0: a hole read as zeros, 1: the data written, -1: anything else. */
static int hole_block_state(const uint8_t *p, uint64_t b)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	if (w[0] && w[0] != hole_tag(b))
		return -1;
	for (i = 1; i < BS / 8; i++)
		if (w[i])
			return -1;
	return w[0] != 0;
}

/*
 * Fill the holes of a sparse file in random order, through the mapping
 * (@use_mmap) or with pwrite, while this thread reads the whole file with
 * O_DIRECT again and again.
 */
static void hole_race(struct __test_metadata *_metadata, struct rlfs_fs *fs,
		      bool use_mmap)
{
	struct hole_filler f = { .map = NULL };
	unsigned long passes = 0, zeros = 0, data = 0;
	uint64_t i, off, rnd = 88172645463325252ULL;
	uint8_t *dbuf, *buf;
	pthread_t thr;
	double start, end;
	int dfd, bad = 0, err = 0;
	bool last = false;

	f.order = malloc(HOLE_BLOCKS * sizeof(*f.order));
	ASSERT_NE(NULL, f.order);
	ASSERT_EQ(0, posix_memalign((void **)&dbuf, BS, DIO_CHUNK));
	for (i = 0; i < HOLE_BLOCKS; i++)
		f.order[i] = i;
	for (i = HOLE_BLOCKS - 1; i > 0; i--) {	/* Fisher-Yates */
		uint64_t j;
		uint32_t t;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		j = rnd % (i + 1);
		t = f.order[i];
		f.order[i] = f.order[j];
		f.order[j] = t;
	}
	ASSERT_LT(0, fill_deleted());
	f.fd = open("sparse", O_CREAT | O_RDWR, 0600);
	ASSERT_LE(0, f.fd);
	ASSERT_EQ(0, ftruncate(f.fd, HOLE_FILE));
	if (use_mmap) {
		f.map = mmap(NULL, HOLE_FILE, PROT_READ | PROT_WRITE,
			     MAP_SHARED, f.fd, 0);
		ASSERT_NE(MAP_FAILED, f.map);
	}
	dfd = open("sparse", O_RDONLY | O_DIRECT);
	ASSERT_LE(0, dfd);

	start = now();
	end = start + RACE_SECS;
	ASSERT_EQ(0, pthread_create(&thr, NULL, hole_fill_loop, &f));
	/*
	 * Scan until the filler is done or RACE_SECS are up, then once more
	 * (the filler finishes on its own).
	 */
	while (!bad && !err && !last) {
		last = atomic_load(&f.done) || now() > end;
		for (off = 0; off < HOLE_FILE && !bad && !err;
		     off += DIO_CHUNK) {
			if (pread(dfd, dbuf, DIO_CHUNK, off) !=
			    (ssize_t)DIO_CHUNK) {
				err = errno ? errno : EIO;
				break;
			}
			for (i = 0; i < DIO_CHUNK / BS; i++) {
				uint8_t *p = dbuf + i * BS;
				uint64_t b = off / BS + i;
				int st = hole_block_state(p, b);

				zeros += st == 0;
				data += st == 1;
				if (st >= 0 || bad++ >= 4)
					continue;
				TH_LOG("O_DIRECT read of block %" PRIu64
				       " (pass %lu) returned %s", b, passes,
				       has_marker(p) ? "deleted data" :
				       "wrong data");
			}
		}
		passes++;
	}
	pthread_join(thr, NULL);
	TH_LOG("%lu O_DIRECT passes over %llu MiB in %.1f s: %lu blocks read "
	       "as holes, %lu as data", passes, HOLE_FILE / MiB, now() - start,
	       zeros, data);
	ASSERT_EQ(0, err) {
		TH_LOG("O_DIRECT read: %s", strerror(err));
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, f.err) {
		TH_LOG("pwrite into a hole: %s", strerror(f.err));
	}
	if (f.map) {
		EXPECT_EQ(0, msync(f.map, HOLE_FILE, MS_SYNC));
		munmap(f.map, HOLE_FILE);
	}
	close(dfd);
	close(f.fd);
	free(dbuf);

	/* What the filler wrote is all on disk. */
	RLFS_REMOUNT(fs);
	f.fd = open("sparse", O_RDONLY);
	ASSERT_LE(0, f.fd);
	buf = malloc(RLFS_CHUNK);
	ASSERT_NE(NULL, buf);
	for (off = 0, bad = 0; off < HOLE_FILE; off += RLFS_CHUNK) {
		ASSERT_EQ((ssize_t)RLFS_CHUNK,
			  pread(f.fd, buf, RLFS_CHUNK, off));
		for (i = 0; i < RLFS_CHUNK / BS; i++) {
			uint64_t b = off / BS + i;

			if (hole_block_state(buf + i * BS, b) == 1 || bad++)
				continue;
			TH_LOG("after remount block %" PRIu64
			       " is not the data written", b);
		}
	}
	EXPECT_EQ(0, bad);
	close(f.fd);
	free(buf);
	free(f.order);
}

TEST_F_TIMEOUT(integrity, mkwrite_dio_read, T_RACE)
{
	/*
	 * iomap filesystems fail an O_DIRECT read that meets the delalloc
	 * extent a racing page_mkwrite made after the flush with EIO
	 * ("Direct I/O collision with buffered writes", fs/iomap/direct-io.c):
	 * DIO is not serialised against mmap there.  reflinkfs guarantees it.
	 */
	if (rlfs_is_fstype("xfs"))
		SKIP(return, "xfs: O_DIRECT read vs mmap write is EIO by design");
	hole_race(_metadata, &self->fs, true);
}

TEST_F_TIMEOUT(integrity, write_dio_read, T_RACE)
{
	hole_race(_metadata, &self->fs, false);
}

/* ---- swap files --------------------------------------------------------- */

#define SWAP_PAGES	1024	/* 4 MiB */

/*
 * A swap file of @pages pages as mkswap writes it (version 1 header,
 * "SWAPSPACE2"), every page written except @hole (if >= 0).
 */
static int make_swapfile(const char *path, unsigned int pages, int hole)
{
	struct {
		uint32_t	version;
		uint32_t	last_page;
		uint32_t	nr_badpages;
		uint8_t		uuid[16];
		uint8_t		label[16];
	} hdr = { .version = 1, .last_page = pages - 1 };
	uint8_t page[BS] = { 0 };
	unsigned int i;
	int fd, ret = 0;

	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0)
		return -errno;
	memcpy(page + 1024, &hdr, sizeof(hdr));
	memcpy(page + BS - 10, "SWAPSPACE2", 10);
	for (i = 0; i < pages && !ret; i++) {
		if ((int)i != hole &&
		    pwrite(fd, page, BS, (off_t)i * BS) != (ssize_t)BS)
			ret = -errno;
		memset(page, 0, BS);
	}
	if (!ret && ftruncate(fd, (off_t)pages * BS))
		ret = -errno;
	/* xfs' speculative EOF preallocation fills a skipped page */
	if (!ret && hole >= 0 &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)hole * BS, BS))
		ret = -errno;
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

/* swapon(2): 0 or -errno; a swap file that was taken is let go again. */
static int try_swapon(const char *path)
{
	if (swapon(path, 0))
		return -errno;
	swapoff(path);
	return 0;
}

TEST_F_TIMEOUT(integrity, swap, T_SHORT)
{
	int fd, d, r, rl, fc;

	if (rlfs_is_fstype("btrfs"))
		SKIP(return, "btrfs: a swap file must be NOCOW (chattr +C); "
		     "the case's files are CoW (btrfs_swap_activate)");
	/* A hole. */
	ASSERT_EQ(0, make_swapfile("holey", SWAP_PAGES, SWAP_PAGES / 2));
	r = try_swapon("holey");
	if (r == -ENOSYS)
		SKIP(return, "no swap support in this kernel");
	EXPECT_EQ(-EINVAL, r) {
		TH_LOG("swapon of a file with a hole: %s", strerror(-r));
	}

	/* Shared extents: neither the clone nor its source. */
	ASSERT_EQ(0, make_swapfile("swap", SWAP_PAGES, -1));
	ASSERT_EQ(0, rlfs_clone_file("swap", "swap.clone"));
	r = try_swapon("swap.clone");
	EXPECT_EQ(-EINVAL, r) {
		TH_LOG("swapon of a clone: %s", strerror(-r));
	}
	r = try_swapon("swap");
	EXPECT_EQ(-EINVAL, r) {
		TH_LOG("swapon of a file that a clone shares: %s",
		       strerror(-r));
	}

	/* Private again: swapon works, and the file cannot be shared. */
	ASSERT_EQ(0, unlink("swap.clone"));
	rlfs_settle(".");	/* xfs frees the clone's extents in inodegc */
	fd = open("swap", O_RDONLY);
	ASSERT_LE(0, fd);
	d = open("ficlone", O_CREAT | O_WRONLY, 0600);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, swapon("swap", 0)) {
		TH_LOG("swapon of a private, fully written file: %s",
		       strerror(errno));
	}
	rl = reflink_ioctl(fd, "reflink");
	fc = ioctl(d, FICLONE, fd) ? -errno : 0;
	EXPECT_EQ(0, swapoff("swap")) {
		TH_LOG("swapoff: %s", strerror(errno));
	}
	if (rlfs_is_reflinkfs()) {
		EXPECT_EQ(-ETXTBSY, rl) {
			TH_LOG("REFLINKFS_IOC_REFLINK from an active swap file: %s",
			       strerror(-rl));
		}
	} else {
		EXPECT_EQ(-ENOTTY, rl);	/* a reflinkfs-only ioctl */
	}
	EXPECT_EQ(-ETXTBSY, fc) {
		TH_LOG("FICLONE from an active swap file: %s", strerror(-fc));
	}
	if (!rl) {
		EXPECT_EQ(0, unlink("reflink"));
	} else {
		EXPECT_NE(0, access("reflink", F_OK));
	}

	/* After swapoff it is an ordinary file. */
	EXPECT_EQ(0, ioctl(d, FICLONE, fd));
	close(d);
	close(fd);
}

/* ---- bytes past EOF when the file grows --------------------------------- */

#define PE_OLD		(3 * BS + 100)	/* old size: 100 bytes into block 3 */
#define PE_DATA		(5 * BS)	/* new data of clone and pwrite */
#define PE_SEED		11
#define PE_NEW_SEED	12

enum grow { GROW_TRUNCATE, GROW_CLONE, GROW_PWRITE, GROW_FALLOC };

/*
 * The grown file: [0, PE_OLD) the old data, [PE_OLD, data) zeros,
 * [data, size) pattern PE_NEW_SEED at @pat_off + (offset - data).
 * Returns 0 or 1 after logging the first difference.
 */
static int posteof_check(struct __test_metadata *_metadata, int fd,
			 off_t data, off_t size, off_t pat_off, const char *how)
{
	size_t len = (size + BS - 1) & ~(BS - 1);
	uint8_t *buf = calloc(1, len), *map;
	ssize_t bad;
	int ret = 1;

	if (!buf)
		return 1;
	if (file_size(fd) != size) {
		TH_LOG("%s: size %lld, want %lld", how,
		       (long long)file_size(fd), (long long)size);
		goto out;
	}
	if (pread(fd, buf, size, 0) != size) {
		TH_LOG("%s: read: %s", how, strerror(errno));
		goto out;
	}
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		TH_LOG("%s: mmap: %s", how, strerror(errno));
		goto out;
	}
	if ((bad = rlfs_check(buf, PE_OLD, 0, PE_SEED)) >= 0) {
		TH_LOG("%s: old data wrong at %zd", how, bad);
	} else if ((bad = rlfs_check_zero(buf + PE_OLD, data - PE_OLD)) >= 0) {
		TH_LOG("%s: read(2) of the old EOF block: byte %lld is 0x%02x, "
		       "not 0", how, (long long)(PE_OLD + bad),
		       buf[PE_OLD + bad]);
	} else if ((bad = rlfs_check_zero(map + PE_OLD, data - PE_OLD)) >= 0) {
		TH_LOG("%s: mmap of the old EOF block: byte %lld is 0x%02x, "
		       "not 0", how, (long long)(PE_OLD + bad),
		       map[PE_OLD + bad]);
	} else if ((bad = rlfs_check(buf + data, size - data, pat_off,
				     PE_NEW_SEED)) >= 0) {
		TH_LOG("%s: new data wrong at %lld", how,
		       (long long)(data + bad));
	} else if ((bad = rlfs_check_zero(map + size, len - size)) >= 0) {
		TH_LOG("%s: mmap past the new EOF: byte %lld is not 0", how,
		       (long long)(size + bad));
	} else {
		ret = 0;
	}
	munmap(map, len);
out:
	free(buf);
	return ret;
}

static void posteof_case(struct __test_metadata *_metadata,
			 struct rlfs_fs *fs, enum grow how)
{
	static const char * const name[] = {
		"ftruncate", "FICLONERANGE", "pwrite", "fallocate",
	};
	off_t data, size, pat_off = 0;
	uint8_t *p;
	int fd, src;

	/*
	 * Every fsync comes first: a commit writes the dirty EOF page back,
	 * and writeback zeroes it past EOF.
	 */
	ASSERT_EQ(0, rlfs_make_file("src", 2 * BS, PE_NEW_SEED, true));
	ASSERT_EQ(0, rlfs_make_file("f", PE_OLD, PE_SEED, true));
	src = open("src", O_RDONLY);
	ASSERT_LE(0, src);
	fd = open("f", O_RDWR);
	ASSERT_LE(0, fd);
	/* Dirty the EOF page past EOF: allowed, it is inside the page. */
	p = mmap(NULL, BS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 3 * BS);
	ASSERT_NE(MAP_FAILED, p);
	memset(p + (PE_OLD - 3 * BS), 0xa5, BS - (PE_OLD - 3 * BS));
	ASSERT_EQ(0, munmap(p, BS));

	switch (how) {
	case GROW_TRUNCATE:
		size = data = 6 * BS + 50;
		ASSERT_EQ(0, ftruncate(fd, size));
		break;
	case GROW_CLONE: {
		struct file_clone_range r = {
			.src_fd = src, .src_offset = 0, .src_length = 2 * BS,
			.dest_offset = PE_DATA,
		};

		ASSERT_EQ(0, ioctl(fd, FICLONERANGE, &r)) {
			TH_LOG("FICLONERANGE past EOF: %s", strerror(errno));
		}
		data = PE_DATA;
		size = PE_DATA + 2 * BS;
		break;
	}
	case GROW_PWRITE:
		data = pat_off = PE_DATA + 10;
		size = data + 1000;
		ASSERT_EQ(0, rlfs_write_pattern(fd, data, size - data,
						PE_NEW_SEED));
		break;
	case GROW_FALLOC:
		size = data = PE_OLD + 3 * BS;
		ASSERT_EQ(0, fallocate(fd, 0, PE_OLD, 3 * BS));
		break;
	}
	EXPECT_EQ(0, posteof_check(_metadata, fd, data, size, pat_off,
				   name[how]));
	close(fd);
	close(src);

	RLFS_REMOUNT(fs);
	fd = open("f", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, posteof_check(_metadata, fd, data, size, pat_off,
				   name[how]));
	close(fd);
}

TEST_F_TIMEOUT(integrity, posteof_truncate, T_SHORT)
{
	posteof_case(_metadata, &self->fs, GROW_TRUNCATE);
}

TEST_F_TIMEOUT(integrity, posteof_clone, T_SHORT)
{
	posteof_case(_metadata, &self->fs, GROW_CLONE);
}

TEST_F_TIMEOUT(integrity, posteof_pwrite, T_SHORT)
{
	posteof_case(_metadata, &self->fs, GROW_PWRITE);
}

TEST_F_TIMEOUT(integrity, posteof_falloc, T_SHORT)
{
	posteof_case(_metadata, &self->fs, GROW_FALLOC);
}

/* ---- fallocate and RLIMIT_FSIZE ----------------------------------------- */

#define FSIZE_LIMIT	(1 * MiB)

TEST_F_TIMEOUT(integrity, falloc_rlimit_fsize, T_SHORT)
{
	struct rlimit old, lim;
	long long blocks;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, getrlimit(RLIMIT_FSIZE, &old));
	lim = old;
	lim.rlim_cur = FSIZE_LIMIT;
	signal(SIGXFSZ, SIG_IGN);
	ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &lim));

	EXPECT_EQ(0, fallocate(fd, 0, 0, FSIZE_LIMIT / 2));
	EXPECT_EQ((off_t)(FSIZE_LIMIT / 2), file_size(fd));
	blocks = rlfs_st_blocks("f");
	/* across the limit, and wholly past it */
	EXPECT_EQ(-1, fallocate(fd, 0, FSIZE_LIMIT - BS, 2 * BS));
	EXPECT_EQ(EFBIG, errno);
	EXPECT_EQ(-1, fallocate(fd, 0, 2 * FSIZE_LIMIT, BS));
	EXPECT_EQ(EFBIG, errno);
	EXPECT_EQ((off_t)(FSIZE_LIMIT / 2), file_size(fd));
	EXPECT_EQ(blocks, rlfs_st_blocks("f"));
	/* as a write past the limit */
	EXPECT_EQ(-1, pwrite(fd, "x", 1, FSIZE_LIMIT));
	EXPECT_EQ(EFBIG, errno);
	/* up to the limit exactly */
	EXPECT_EQ(0, fallocate(fd, 0, 0, FSIZE_LIMIT));
	EXPECT_EQ((off_t)FSIZE_LIMIT, file_size(fd));

	EXPECT_EQ(0, setrlimit(RLIMIT_FSIZE, &old));
	signal(SIGXFSZ, SIG_DFL);
	close(fd);
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("f", FSIZE_LIMIT, -1));
}

/* ---- truncating a clone inside a shared block --------------------------- */

#define TR_BLOCKS	8
#define TR_SIZE		(5 * BS + 123)	/* inside shared block 5 */
#define TR_ROUNDS	3000
#define TR_SEED		21
#define LOAD_CHUNK	(256 * 1024)
#define LOAD_FILE	(8 * MiB)

struct journal_load {
	atomic_bool	stop;
	unsigned long	fsyncs;
	int		err;
};

/* Large appends to a third file, each followed by fsync (a commit). */
static void *load_loop(void *arg)
{
	struct journal_load *l = arg;
	char *buf = malloc(LOAD_CHUNK);
	off_t off = 0;
	int fd = open("load", O_CREAT | O_TRUNC | O_WRONLY, 0600);

	if (fd < 0 || !buf) {
		l->err = errno ? errno : ENOMEM;
		goto out;
	}
	memset(buf, 0x3c, LOAD_CHUNK);
	while (!atomic_load(&l->stop)) {
		if (pwrite(fd, buf, LOAD_CHUNK, off) != LOAD_CHUNK ||
		    fsync(fd)) {
			l->err = errno ? errno : EIO;
			break;
		}
		l->fsyncs++;
		off += LOAD_CHUNK;
		if (off >= (off_t)LOAD_FILE) {
			if (ftruncate(fd, 0)) {
				l->err = errno;
				break;
			}
			off = 0;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

TEST_F_TIMEOUT(integrity, truncate_shared_tail, T_RACE)
{
	struct journal_load l = { .err = 0 };
	uint8_t buf[6 * BS];
	int i, fd, fails = 0, first_err = 0, err = 0, bad = 0;
	pthread_t thr;
	double end;

	ASSERT_EQ(0, rlfs_make_file("a", TR_BLOCKS * BS, TR_SEED, true));
	ASSERT_EQ(0, pthread_create(&thr, NULL, load_loop, &l));
	end = now() + RACE_SECS;
	for (i = 0; i < TR_ROUNDS && !err && !bad && now() < end; i++) {
		err = -rlfs_clone_file("a", "c");
		fd = err ? -1 : open("c", O_RDWR);
		if (fd < 0) {
			err = err ? err : errno;
			break;
		}
		if (ftruncate(fd, TR_SIZE)) {
			if (!fails++)
				first_err = errno;
		} else if (ftruncate(fd, sizeof(buf)) ||
			   pread(fd, buf, sizeof(buf), 0) !=
			   (ssize_t)sizeof(buf)) {
			err = errno ? errno : EIO;
		} else {
			/* the old data up to the new size, zeros after it */
			bad = rlfs_check(buf, TR_SIZE, 0, TR_SEED) >= 0 ||
			      rlfs_check_zero(buf + TR_SIZE,
					      sizeof(buf) - TR_SIZE) >= 0;
		}
		close(fd);
		if (unlink("c") && !err)
			err = errno;
	}
	atomic_store(&l.stop, true);
	pthread_join(thr, NULL);
	TH_LOG("%d truncates of fresh clones, %lu fsyncs of the load file",
	       i, l.fsyncs);
	EXPECT_EQ(0, fails) {
		TH_LOG("%d of %d truncates failed, the first with %s", fails,
		       i, strerror(first_err));
	}
	EXPECT_EQ(0, l.err) {
		TH_LOG("load file: %s", strerror(l.err));
	}
	ASSERT_EQ(0, err) {
		TH_LOG("round %d: clone, open, truncate up or read: %s", i,
		       strerror(err));
	}
	EXPECT_EQ(0, bad) {
		TH_LOG("round %d: the truncated clone holds wrong data", i);
	}
	EXPECT_EQ(0, rlfs_verify_file("a", TR_BLOCKS * BS, TR_SEED));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("a", TR_BLOCKS * BS, TR_SEED));
}

TEST_HARNESS_MAIN
