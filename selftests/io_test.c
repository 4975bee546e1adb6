// SPDX-License-Identifier: GPL-2.0
/*
 * io_test - the data path of reflinkfs: buffered writes at block and
 * sub-block granularity, a large file, a fragmented file with a deep
 * extent tree, mmap reads and writes (also into holes), O_DIRECT
 * overwrite/hole/extension, and running out of space.  All data is
 * checked again after an unmount/mount cycle (which drops every cached
 * page), and every test ends with "fsck.reflinkfs -n" clean.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "rlfs_util.h"

#define KiB		1024ULL
#define MiB		(1024ULL * 1024)
#define T_SHORT		120
#define T_LONG		280

FIXTURE(io) {
	struct rlfs_fs fs;
};

FIXTURE_SETUP(io)
{
	rlfs_fs_setup(&self->fs, RLFS_TEST_BLOCKS);
}

FIXTURE_TEARDOWN(io)
{
	rlfs_fs_teardown(&self->fs);
}

/* pwrite pattern @seed at [off, off+len) and mirror it into @img. */
static int write_both(int fd, uint8_t *img, uint64_t off, size_t len,
		      uint32_t seed)
{
	rlfs_fill(img + off, len, off, seed);
	if (pwrite(fd, img + off, len, off) != (ssize_t)len)
		return -1;
	return 0;
}

TEST_F_TIMEOUT(io, sub_block_patterns, T_SHORT)
{
	static const struct { uint64_t off; size_t len; } w[] = {
		{ 0, 1 }, { 1, 4095 }, { 4096, 4096 }, { 8192 + 4095, 2 },
		{ 12288 + 100, 10000 }, { 30000, 1 }, { 40959, 1 },
		{ 40960, 8192 }, { 65000, 3000 },
		/* overlapping overwrites */
		{ 2000, 5000 }, { 50, 100 }, { 40000, 2000 }, { 67000, 1000 },
	};
	const size_t size = 68000;
	uint8_t *img = calloc(1, size);
	unsigned int i;
	int fd;

	ASSERT_NE(NULL, img);
	fd = open("p", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(w); i++)
		ASSERT_EQ(0, write_both(fd, img, w[i].off, w[i].len, 100 + i));
	close(fd);
	EXPECT_EQ(0, rlfs_compare_image("p", img, size));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_compare_image("p", img, size));

	/* Sub-block overwrites of blocks that are only on disk now. */
	fd = open("p", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_both(fd, img, 4100, 7, 200));
	ASSERT_EQ(0, write_both(fd, img, 20000, 13, 201));	/* in a hole */
	ASSERT_EQ(0, write_both(fd, img, 67999, 1, 202));	/* last byte */
	close(fd);
	rlfs_drop_caches();
	EXPECT_EQ(0, rlfs_compare_image("p", img, size));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_compare_image("p", img, size));
	free(img);
}

TEST_F_TIMEOUT(io, large_file_64m, T_LONG)
{
	const uint64_t len = 64 * MiB;
	long long bfree0, bfree1;
	struct stat st;
	int fd;

	ASSERT_EQ(0, mkdir("keep", 0755));
	bfree0 = rlfs_bfree(".");
	fd = open("big", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, len, 1));	/* 1 MiB chunks */
	EXPECT_EQ(0, rlfs_verify(fd, 0, len, 1));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)len, st.st_size);
	EXPECT_LE((blkcnt_t)(len / 512), st.st_blocks);
	close(fd);
	bfree1 = rlfs_bfree(".");
	EXPECT_LE((long long)(len / 4096), bfree0 - bfree1);
	/* Mostly contiguous: little metadata on top of the data. */
	EXPECT_GE((long long)(len / 4096) + 64, bfree0 - bfree1);

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("big", len, 1));
	EXPECT_EQ(bfree1, rlfs_bfree("."));
	ASSERT_EQ(0, unlink("big"));
	EXPECT_EQ(bfree0, rlfs_wait_bfree(".", bfree0));
}

/* Every other 4 KiB block of [0, range): thousands of extents. */
static int check_fragmented(int fd, uint64_t range, uint64_t filled_to)
{
	char buf[4096];
	uint64_t off;

	for (off = 0; off < range; off += 4096) {
		bool data = ((off / 4096) % 2 == 0) || off < filled_to;
		ssize_t bad;

		if (pread(fd, buf, 4096, off) != 4096) {
			fprintf(stderr, "# short read at %" PRIu64 "\n", off);
			return 1;
		}
		bad = data ? rlfs_check(buf, 4096, off, 2) :
			     rlfs_check_zero(buf, 4096);
		if (bad >= 0) {
			fprintf(stderr, "# %s block at %" PRIu64 ": byte %zd "
				"wrong\n", data ? "data" : "hole", off, bad);
			return 1;
		}
	}
	return 0;
}

TEST_F_TIMEOUT(io, fragmented_file, T_LONG)
{
	const uint64_t range = 64 * MiB, fill = 8 * MiB;
	long long bfree0, bfree1, used;
	char buf[4096];
	uint64_t off;
	int fd;

	ASSERT_EQ(0, mkdir("keep", 0755));
	fd = open("frag", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	bfree0 = rlfs_bfree(".");
	/*
	 * The size first (the last block is a hole): writes inside EOF
	 * get no speculative EOF preallocation, which on xfs turns the
	 * holes between them into unwritten extents.
	 */
	ASSERT_EQ(0, ftruncate(fd, range));
	for (off = 0; off < range; off += 8192) {
		rlfs_fill(buf, 4096, off, 2);
		ASSERT_EQ(4096, pwrite(fd, buf, 4096, off)) {
			TH_LOG("pwrite at %" PRIu64 ": %s", off,
			       strerror(errno));
		}
	}
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	bfree1 = rlfs_bfree(".");
	used = bfree0 - bfree1;
	/*
	 * 8192 data blocks plus a multi-level extent tree (>= 33 leaves on
	 * reflinkfs; xfs packs 4096 extents into ~17 bmbt blocks, btrfs
	 * keeps them in its shared fs tree).
	 */
	EXPECT_LE(8192 + (rlfs_is_reflinkfs() ? 33 : 0), used) {
		TH_LOG("%lld blocks used: no extent blocks?", used);
	}
	/* btrfs: f_bfree moves with its metadata reservations (+ DUP) */
	EXPECT_GE(8192 + (rlfs_is_fstype("btrfs") ? 1024 : 200), used);

	RLFS_REMOUNT(&self->fs);
	fd = open("frag", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, check_fragmented(fd, range, 0));
	EXPECT_EQ(4096, lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ(8192, lseek(fd, 4096, SEEK_DATA));
	EXPECT_EQ((off_t)(range - 4096), lseek(fd, range - 8192 + 1,
					       SEEK_HOLE));
	/* Fill the holes of the first 8 MiB: extents change in place. */
	for (off = 4096; off < fill; off += 8192) {
		rlfs_fill(buf, 4096, off, 2);
		ASSERT_EQ(4096, pwrite(fd, buf, 4096, off));
	}
	close(fd);

	RLFS_REMOUNT(&self->fs);
	fd = open("frag", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, check_fragmented(fd, range, fill));
	/* Cut in the middle of the tree, then to nothing. */
	ASSERT_EQ(0, ftruncate(fd, range / 2 + 2048));
	close(fd);
	RLFS_REMOUNT(&self->fs);
	fd = open("frag", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, check_fragmented(fd, range / 2, fill));
	EXPECT_EQ(0, rlfs_verify(fd, range / 2, 2048, 2));
	EXPECT_EQ((off_t)(range / 2 + 2048), lseek(fd, 0, SEEK_END));
	ASSERT_EQ(0, ftruncate(fd, 0));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	EXPECT_EQ(0, rlfs_st_blocks("frag"));
	/* Every data and extent block is free again. */
	EXPECT_EQ(bfree0, rlfs_wait_bfree(".", bfree0));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(bfree0, rlfs_bfree("."));
}

TEST_F_TIMEOUT(io, mmap_read_write, T_SHORT)
{
	const size_t size = 256 * KiB;
	uint8_t *img = calloc(1, size);
	uint8_t *map;
	ssize_t bad;
	int fd;

	ASSERT_NE(NULL, img);
	fd = open("m", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_both(fd, img, 0, 16 * KiB, 40));
	ASSERT_EQ(0, ftruncate(fd, size));	/* hole [16K, 256K) */
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	RLFS_REMOUNT(&self->fs);

	fd = open("m", O_RDWR);
	ASSERT_LE(0, fd);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* Reads through the mapping: data from disk, zeros in the hole. */
	bad = rlfs_check(map, 16 * KiB, 0, 40);
	EXPECT_EQ(-1, bad);
	EXPECT_EQ(-1, rlfs_check_zero(map + 16 * KiB, size - 16 * KiB));
	/* Writes: inside data, into the hole, the last byte. */
	rlfs_fill(img + 8 * KiB, 100, 8 * KiB, 41);
	memcpy(map + 8 * KiB, img + 8 * KiB, 100);
	rlfs_fill(img + 64 * KiB, 64 * KiB, 64 * KiB, 42);
	memcpy(map + 64 * KiB, img + 64 * KiB, 64 * KiB);
	img[size - 1] = 0xa5;
	map[size - 1] = 0xa5;
	ASSERT_EQ(0, msync(map, size, MS_SYNC));
	/* Coherent with read() before any remount. */
	EXPECT_EQ(0, rlfs_compare_image("m", img, size));
	ASSERT_EQ(0, munmap(map, size));
	close(fd);
	/* The hole pages got blocks. */
	EXPECT_LE((long long)(16 + 64 + 4) * 1024 / 512, rlfs_st_blocks("m"));

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_compare_image("m", img, size));

	/* No msync: munmap + close, dirty pages go out at unmount. */
	fd = open("m", O_RDWR);
	ASSERT_LE(0, fd);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	rlfs_fill(img + 200 * KiB, 5000, 200 * KiB, 43);
	memcpy(map + 200 * KiB, img + 200 * KiB, 5000);
	ASSERT_EQ(0, munmap(map, size));
	close(fd);
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_compare_image("m", img, size));

	/* A private mapping never reaches the file. */
	fd = open("m", O_RDWR);
	ASSERT_LE(0, fd);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0x11, size);
	ASSERT_EQ(0, munmap(map, size));
	close(fd);
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_compare_image("m", img, size));
	free(img);
}

static int dio_pwrite(int fd, void *abuf, uint8_t *img, uint64_t off,
		      size_t len, uint32_t seed)
{
	rlfs_fill(img + off, len, off, seed);
	memcpy(abuf, img + off, len);
	return pwrite(fd, abuf, len, off) == (ssize_t)len ? 0 : -errno;
}

TEST_F_TIMEOUT(io, direct_io, T_SHORT)
{
	const size_t size = 144 * KiB;
	uint8_t *img = calloc(1, size);
	void *abuf;
	ssize_t r;
	int fd, bfd, e;

	ASSERT_NE(NULL, img);
	ASSERT_EQ(0, posix_memalign(&abuf, 4096, size + 4096));
	bfd = open("dio", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, write_both(bfd, img, 0, 64 * KiB, 50));
	ASSERT_EQ(0, ftruncate(bfd, 128 * KiB));	/* hole [64K,128K) */
	ASSERT_EQ(0, fsync(bfd));

	fd = open("dio", O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd) {
		TH_LOG("O_DIRECT open: %s", strerror(errno));
	}
	/* Overwrite in place. */
	ASSERT_EQ(0, dio_pwrite(fd, abuf, img, 16 * KiB, 8 * KiB, 51));
	/* Into the hole. */
	ASSERT_EQ(0, dio_pwrite(fd, abuf, img, 96 * KiB, 8 * KiB, 52));
	/* Extending past EOF. */
	ASSERT_EQ(0, dio_pwrite(fd, abuf, img, 128 * KiB, 16 * KiB, 53));
	/*
	 * Misaligned direct I/O is refused; btrfs does it buffered instead
	 * (btrfs_direct_write: check_direct_IO fails -> buffered write).
	 */
	e = pwrite(fd, abuf, 4096, 100) < 0 ? errno : 0;
	if (rlfs_is_fstype("btrfs")) {
		EXPECT_EQ(0, e);
		memcpy(img + 100, abuf, 4096);
	} else {
		EXPECT_EQ(EINVAL, e);
	}

	/* O_DIRECT read of everything, holes included. */
	memset(abuf, 0xee, size);
	r = pread(fd, abuf, size, 0);
	EXPECT_EQ((ssize_t)size, r);
	EXPECT_EQ(0, memcmp(abuf, img, size));
	/* Buffered readers see the direct writes. */
	EXPECT_EQ(0, rlfs_compare_image("dio", img, size));
	close(fd);
	close(bfd);

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_compare_image("dio", img, size));
	/* Direct read after remount, page cache cold. */
	fd = open("dio", O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	memset(abuf, 0xee, size);
	EXPECT_EQ((ssize_t)size, pread(fd, abuf, size + 4096, 0));
	EXPECT_EQ(0, memcmp(abuf, img, size));
	close(fd);
	free(abuf);
	free(img);
}

TEST_F_TIMEOUT(io, enospc_and_recovery, T_LONG)
{
	const unsigned long long blocks = 16384;	/* 64 MiB */
	long long bfree0, bfree_full, bfree_back;
	struct statfs sf;
	uint64_t written = 0;
	char *buf;
	int fd, err = 0;

	/* A smaller filesystem for this one. */
	ASSERT_EQ(0, rlfs_umount(&self->fs));
	self->fs.blocks = blocks;
	ASSERT_EQ(0, rlfs_mkfs(self->fs.dev, blocks));
	ASSERT_EQ(0, rlfs_mount(&self->fs));
	ASSERT_EQ(0, mkdir("keep", 0755));
	bfree0 = rlfs_bfree(".");
	ASSERT_LT(1000, bfree0);

	buf = malloc(MiB);
	ASSERT_NE(NULL, buf);
	fd = open("fill", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	for (;;) {
		ssize_t w;

		rlfs_fill(buf, MiB, written, 3);
		w = pwrite(fd, buf, MiB, written);
		if (w < 0) {
			err = errno;
			break;
		}
		written += w;
		ASSERT_GT((uint64_t)bfree0 * 4096 + MiB, written) {
			TH_LOG("wrote %" PRIu64 " bytes with %lld blocks free",
			       written, bfree0);
		}
	}
	free(buf);
	EXPECT_EQ(ENOSPC, err) {
		TH_LOG("filling the filesystem ended with %s", strerror(err));
	}
	/*
	 * Nearly all the free space went into the file, and statfs then
	 * shows it full.  Not on btrfs: its f_bfree includes space that
	 * only metadata chunks can use (and their reserve).
	 */
	if (!rlfs_is_fstype("btrfs")) {
		EXPECT_LE((uint64_t)bfree0 * 4096 * 95 / 100, written) {
			TH_LOG("only %" PRIu64 " of %lld bytes written before ENOSPC",
			       written, bfree0 * 4096);
		}
	}
	EXPECT_EQ(0, fsync(fd));
	ASSERT_EQ(0, statfs(".", &sf));
	bfree_full = (long long)sf.f_bfree;
	if (!rlfs_is_fstype("btrfs")) {
		EXPECT_GE((long long)sf.f_blocks / 100, bfree_full) {
			TH_LOG("statfs reports %lld free blocks on a full fs",
			       bfree_full);
		}
	}
	EXPECT_GE(sf.f_bfree, sf.f_bavail);
	/* What was written before ENOSPC is intact. */
	EXPECT_EQ(0, rlfs_verify(fd, 0, written, 3));
	close(fd);

	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("fill", written, 3));
	ASSERT_EQ(0, unlink("fill"));
	bfree_back = rlfs_wait_bfree(".", bfree0);
	EXPECT_EQ(bfree0, bfree_back);

	/* The space is usable again. */
	EXPECT_EQ(0, rlfs_make_file("after", 8 * MiB, 4, true));
	EXPECT_EQ(0, mkdir("newdir", 0755));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("after", 8 * MiB, 4));
}

TEST_HARNESS_MAIN
