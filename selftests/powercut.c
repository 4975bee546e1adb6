// SPDX-License-Identifier: GPL-2.0
/*
 * powercut - the workload and the checker of test_powercut.sh.
 *
 *   powercut poison DEV
 *   powercut work MNT MODEL STEPS SEED MARKCMD
 *   powercut check MNT MODEL MARK
 *
 * poison fills DEV with blocks no file is ever given, so a file that
 * exposes a block it never wrote (a data=ordered violation) shows it.
 *
 * work runs STEPS random steps of CoW traffic on the filesystem mounted at
 * MNT: buffered, O_DIRECT and mmap writes, FICLONE, FICLONERANGE,
 * copy_file_range, FIDEDUPERANGE, unshare, punch, zero range, fallocate,
 * truncate, rename (also over a file), unlink, and on reflinkfs the
 * REFLINK ioctl (snapshots and restores).  Each step ends with some fsyncs
 * (of files and their directories) or a sync, then runs "MARKCMD m<N>"
 * (dmsetup message ... mark) so the log records how far it got.  Every
 * 4 KiB block written carries a tag (file id, logical block, generation)
 * and a body derived from it, so any block read later is either zeroes,
 * a block of the workload, or foreign.  MODEL records, in order:
 *   P path fid shift   blocks tagged fid at lblk L may appear at L + shift
 *   T path             the path's contents or existence changed
 *   F path hash size   the path was fsynced with these contents
 *   G path             the path's unlink was made durable
 *   M n                mark m<n> was logged
 *
 * check verifies the filesystem at MNT after a replay to some point after
 * mark MARK ("m<N>"; anything else: before the first mark): every file
 * fsynced (F) before the mark and not touched (T) since, up to the next
 * mark, has exactly its fsynced size and contents; a path made gone (G)
 * does not exist; and every block of every file is zeroes or a block
 * some file of its lineage (P) was given at that offset.  Exit 0 if all
 * holds, 1 with one line per violation otherwise, 2 on operational errors.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "uapi/linux/reflinkfs.h"

#define BS		4096
#define NDIRS		4
#define MAX_FILES	2048
#define MAX_LIVE	40
#define MAX_BLOCKS	48		/* per file, so the fs never fills */
#define MAX_LIN		64
#define TAG_MAGIC	0x4b4c425455434650ULL	/* "PFCUTBLK" */
#define POISON_MAGIC	0x4e4f53494f505046ULL	/* "FPPOISON" */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fputs("powercut: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(2);
}

/* ---- tagged blocks --------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct tag {
	uint64_t magic, fid, lblk, gen, sum;
};

static uint64_t tag_sum(uint64_t fid, uint64_t lblk, uint64_t gen)
{
	return mix(fid ^ mix(lblk ^ mix(gen)));
}

static void fill_block(void *buf, uint64_t fid, uint64_t lblk, uint64_t gen)
{
	uint64_t *w = buf;
	uint64_t sum = tag_sum(fid, lblk, gen);
	size_t i;

	w[0] = TAG_MAGIC;
	w[1] = fid;
	w[2] = lblk;
	w[3] = gen;
	w[4] = sum;
	for (i = 5; i < BS / 8; i++)
		w[i] = mix(sum + i);
}

enum blk_kind { BLK_ZERO, BLK_TAG, BLK_FOREIGN };

/*
 * Classify the first len bytes of a block read from a file.  A tagged
 * block may end in zeroes: the tail past an old EOF, zeroed when the file
 * was truncated or extended there.
 */
static enum blk_kind classify(const void *buf, size_t len, struct tag *t)
{
	const unsigned char *b = buf;
	uint64_t word = 0;
	size_t i;

	for (i = 0; i < len && !b[i]; i++)
		;
	if (i == len)
		return BLK_ZERO;
	if (len < sizeof(*t))
		return BLK_TAG;	/* too short to tell: accept */
	memcpy(t, buf, sizeof(*t));
	if (t->magic != TAG_MAGIC || t->sum != tag_sum(t->fid, t->lblk, t->gen))
		return BLK_FOREIGN;
	for (i = sizeof(*t); i < len; i++) {
		if (i % 8 == 0)
			word = mix(t->sum + i / 8);
		if (b[i] != ((const unsigned char *)&word)[i % 8])
			break;
	}
	for (; i < len; i++)
		if (b[i])
			return BLK_FOREIGN;
	return BLK_TAG;
}

static uint64_t hash_bytes(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* ---- small I/O helpers ------------------------------------------------ */

static void pwrite_all(int fd, const void *buf, size_t len, off_t off,
		       const char *what)
{
	ssize_t n;
	size_t done = 0;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write %s at %jd", what, (intmax_t)(off + done));
		done += n;
	}
}

/* Hash a file's contents and size; -1 if it cannot be read. */
static int hash_file(int fd, uint64_t *hash, uint64_t *size)
{
	static char buf[1 << 16];
	uint64_t h = 0xcbf29ce484222325ULL, total = 0;
	ssize_t n;
	off_t off = 0;

	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		h = hash_bytes(h, buf, n);
		total += n;
		off += n;
	}
	*hash = h;
	*size = total;
	return 0;
}

/* ---- poison ------------------------------------------------------------ */

static int cmd_poison(const char *dev)
{
	static uint64_t buf[256 * BS / 8];
	int fd = open(dev, O_WRONLY);
	uint64_t bytes, off;
	size_t i;

	if (fd < 0)
		die("open %s", dev);
	if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
		die("BLKGETSIZE64 %s", dev);
	for (i = 0; i < sizeof(buf) / 8; i++)
		buf[i] = (i % (BS / 8)) ? mix(i) : POISON_MAGIC;
	for (off = 0; off < bytes; off += sizeof(buf)) {
		size_t len = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);

		pwrite_all(fd, buf, len, off, dev);
	}
	if (fsync(fd) < 0)
		die("fsync %s", dev);
	close(fd);
	return 0;
}

/* ---- the workload ------------------------------------------------------ */

struct pair {
	uint64_t fid;
	int64_t shift;
};

struct wfile {
	char path[64];
	uint64_t fid;
	uint64_t size;
	bool live, immutable, dirty;
	int nlin;
	struct pair lin[MAX_LIN];
};

static struct {
	const char *mnt;
	FILE *model;
	const char *markcmd;
	uint64_t rng, gen, next_fid, next_name;
	bool is_rlfs;
	struct wfile files[MAX_FILES];
	int nfiles;
	int ops[32];
} W;

static uint64_t rnd(void)
{
	W.rng ^= W.rng << 13;
	W.rng ^= W.rng >> 7;
	W.rng ^= W.rng << 17;
	return W.rng;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void model(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void model(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(W.model, fmt, ap);
	va_end(ap);
	fputc('\n', W.model);
	fflush(W.model);
}

static void add_pair(struct wfile *f, uint64_t fid, int64_t shift)
{
	int i;

	for (i = 0; i < f->nlin; i++)
		if (f->lin[i].fid == fid && f->lin[i].shift == shift)
			return;
	if (f->nlin == MAX_LIN)
		die("lineage of %s overflows", f->path);
	f->lin[f->nlin].fid = fid;
	f->lin[f->nlin].shift = shift;
	f->nlin++;
	model("P %s %" PRIu64 " %" PRId64, f->path, fid, shift);
}

static void touch(struct wfile *f)
{
	f->dirty = true;
	model("T %s", f->path);
}

static int open_at(const char *path, int flags)
{
	char full[512];
	int fd;

	snprintf(full, sizeof(full), "%s/%s", W.mnt, path);
	fd = open(full, flags, 0644);
	if (fd < 0)
		die("open %s", full);
	return fd;
}

static int nlive(void)
{
	int i, n = 0;

	for (i = 0; i < W.nfiles; i++)
		n += W.files[i].live;
	return n;
}

/* A random live file; writable: not immutable; minblocks: full blocks. */
static struct wfile *pick(bool writable, uint64_t minblocks)
{
	int i, n = 0, k;

	for (i = 0; i < W.nfiles; i++) {
		struct wfile *f = &W.files[i];

		if (f->live && (!writable || !f->immutable) &&
		    f->size / BS >= minblocks)
			n++;
	}
	if (!n)
		return NULL;
	k = rnd_below(n);
	for (i = 0; i < W.nfiles; i++) {
		struct wfile *f = &W.files[i];

		if (f->live && (!writable || !f->immutable) &&
		    f->size / BS >= minblocks && k-- == 0)
			return f;
	}
	return NULL;
}

static struct wfile *new_file(bool own_lineage)
{
	struct wfile *f;

	if (W.nfiles == MAX_FILES)
		die("too many files");
	f = &W.files[W.nfiles++];
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "d%d/f%" PRIu64,
		 (int)rnd_below(NDIRS), W.next_name++);
	f->fid = ++W.next_fid;
	f->live = true;
	touch(f);
	if (own_lineage)
		add_pair(f, f->fid, 0);
	return f;
}

static void inherit(struct wfile *dst, const struct wfile *src, int64_t delta)
{
	int i, n = src->nlin;

	for (i = 0; i < n; i++)
		add_pair(dst, src->lin[i].fid, src->lin[i].shift + delta);
}

/* Write tagged blocks [lblk, lblk + n) of f through fd (O_DIRECT-safe). */
static void write_tags(struct wfile *f, int fd, uint64_t lblk, uint64_t n)
{
	void *buf;
	uint64_t i, gen = ++W.gen;

	if (posix_memalign(&buf, BS, n * BS))
		die("memory");
	for (i = 0; i < n; i++)
		fill_block((char *)buf + i * BS, f->fid, lblk + i, gen);
	pwrite_all(fd, buf, n * BS, lblk * BS, f->path);
	free(buf);
	if ((lblk + n) * BS > f->size)
		f->size = (lblk + n) * BS;
}

static void op_create(void)
{
	struct wfile *f = new_file(true);
	int fd = open_at(f->path, O_CREAT | O_EXCL | O_WRONLY);

	write_tags(f, fd, 0, 1 + rnd_below(24));
	close(fd);
}

static void op_write(int oflags)
{
	struct wfile *f = pick(true, 0);
	uint64_t blocks, lblk, n;
	int fd;

	if (!f)
		return op_create();
	blocks = (f->size + BS - 1) / BS;
	lblk = rnd_below(blocks + 2);
	n = 1 + rnd_below(8);
	if (lblk + n > MAX_BLOCKS)
		return;
	fd = open_at(f->path, O_WRONLY | oflags);
	touch(f);
	add_pair(f, f->fid, 0);
	write_tags(f, fd, lblk, n);
	close(fd);
}

static void op_mmap(void)
{
	struct wfile *f = pick(true, 1);
	uint64_t blocks, lblk, n, i, gen;
	char *map;
	int fd;

	if (!f)
		return op_write(0);
	blocks = f->size / BS;
	lblk = rnd_below(blocks);
	n = 1 + rnd_below(blocks - lblk);
	fd = open_at(f->path, O_RDWR);
	map = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap %s", f->path);
	touch(f);
	add_pair(f, f->fid, 0);
	gen = ++W.gen;
	for (i = 0; i < n; i++)
		fill_block(map + (lblk + i) * BS, f->fid, lblk + i, gen);
	if (rnd_below(2) && msync(map, f->size, MS_SYNC) < 0)
		die("msync %s", f->path);
	munmap(map, f->size);
	close(fd);
}

static void op_ficlone(void)
{
	struct wfile *src = pick(false, 0), *dst;
	int sfd, dfd;

	if (!src || nlive() >= MAX_LIVE)
		return;
	dst = new_file(false);
	sfd = open_at(src->path, O_RDONLY);
	dfd = open_at(dst->path, O_CREAT | O_EXCL | O_WRONLY);
	inherit(dst, src, 0);
	if (ioctl(dfd, FICLONE, sfd) < 0)
		die("FICLONE %s -> %s", src->path, dst->path);
	dst->size = src->size;
	close(sfd);
	close(dfd);
}

/* FICLONERANGE or copy_file_range of whole blocks between two files. */
static void op_range(bool copy)
{
	struct wfile *src = pick(false, 1), *dst = pick(true, 0);
	uint64_t a, n, c, dblocks;
	int sfd, dfd;

	if (!src || !dst || src == dst)
		return;
	a = rnd_below(src->size / BS);
	n = 1 + rnd_below(src->size / BS - a);
	dblocks = (dst->size + BS - 1) / BS;
	/* a clone into the destination's partial EOF block is refused */
	c = rnd_below(dst->size / BS + 1);
	if (c + n > MAX_BLOCKS || (!copy && c < dblocks && c + n > dblocks &&
				   dst->size % BS))
		return;
	sfd = open_at(src->path, O_RDONLY);
	dfd = open_at(dst->path, O_WRONLY);
	touch(dst);
	inherit(dst, src, (int64_t)c - (int64_t)a);
	if (copy) {
		loff_t in = a * BS, out = c * BS;
		size_t left = n * BS;

		while (left) {
			ssize_t r = copy_file_range(sfd, &in, dfd, &out, left, 0);

			if (r <= 0)
				die("copy_file_range %s -> %s", src->path,
				    dst->path);
			left -= r;
		}
	} else {
		struct file_clone_range r = {
			.src_fd = sfd, .src_offset = a * BS,
			.src_length = n * BS, .dest_offset = c * BS,
		};

		if (ioctl(dfd, FICLONERANGE, &r) < 0)
			die("FICLONERANGE %s -> %s", src->path, dst->path);
	}
	if ((c + n) * BS > dst->size)
		dst->size = (c + n) * BS;
	close(sfd);
	close(dfd);
}

/*
 * Dedupe: write a copy B of a file A, then remap A's blocks onto B's.
 * A's contents must not change at any moment, so A is not touched.
 */
static void op_dedupe(void)
{
	struct wfile *a = pick(true, 1), *b;
	struct file_dedupe_range *r;
	char *buf;
	int afd, bfd;
	ssize_t got;

	if (!a || nlive() >= MAX_LIVE)
		return;
	b = new_file(false);
	inherit(b, a, 0);
	afd = open_at(a->path, O_RDWR);
	bfd = open_at(b->path, O_CREAT | O_EXCL | O_RDWR);
	buf = malloc(a->size);
	if (!buf)
		die("memory");
	got = pread(afd, buf, a->size, 0);
	if (got != (ssize_t)a->size)
		die("read %s", a->path);
	pwrite_all(bfd, buf, a->size, 0, b->path);
	b->size = a->size;
	free(buf);
	r = calloc(1, sizeof(*r) + sizeof(r->info[0]));
	if (!r)
		die("memory");
	r->src_offset = 0;
	r->src_length = a->size;
	r->dest_count = 1;
	r->info[0].dest_fd = afd;
	r->info[0].dest_offset = 0;
	if (ioctl(bfd, FIDEDUPERANGE, r) < 0)
		die("FIDEDUPERANGE %s -> %s", b->path, a->path);
	if (r->info[0].status != FILE_DEDUPE_RANGE_SAME)
		die("FIDEDUPERANGE %s -> %s: status %d", b->path, a->path,
		    r->info[0].status);
	free(r);
	close(afd);
	close(bfd);
}

/* Unshare keeps the contents: the file is not touched. */
static void op_unshare(void)
{
	struct wfile *f = pick(true, 1);
	int fd;

	if (!f)
		return;
	fd = open_at(f->path, O_WRONLY);
	if (fallocate(fd, FALLOC_FL_UNSHARE_RANGE, 0, f->size) < 0)
		die("unshare %s", f->path);
	close(fd);
}

static void op_falloc(void)
{
	struct wfile *f = pick(true, 1);
	uint64_t lblk, n;
	int mode, fd;

	if (!f)
		return;
	lblk = rnd_below(f->size / BS);
	n = 1 + rnd_below(f->size / BS - lblk + 2);
	switch (rnd_below(3)) {
	case 0: mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE; break;
	case 1: mode = FALLOC_FL_ZERO_RANGE; break;
	default: mode = 0; break;
	}
	if (lblk + n > MAX_BLOCKS)
		return;
	fd = open_at(f->path, O_WRONLY);
	touch(f);
	if (fallocate(fd, mode, lblk * BS, n * BS) < 0)
		die("fallocate mode %#x %s", mode, f->path);
	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) &&
	    (lblk + n) * BS > f->size)
		f->size = (lblk + n) * BS;
	close(fd);
}

static void op_truncate(void)
{
	struct wfile *f = pick(true, 0);
	uint64_t size;
	char full[512];

	if (!f)
		return;
	size = rnd_below(f->size + 4 * BS);
	if (rnd_below(2))
		size &= ~(uint64_t)(BS - 1);
	if (size > MAX_BLOCKS * BS)
		return;
	snprintf(full, sizeof(full), "%s/%s", W.mnt, f->path);
	touch(f);
	if (truncate(full, size) < 0)
		die("truncate %s", full);
	f->size = size;
}

static void op_rename(void)
{
	struct wfile *f = pick(true, 0), *over = NULL;
	char from[512], to[512], path[64];

	if (!f)
		return;
	if (rnd_below(3) == 0) {
		over = pick(true, 0);
		if (over == f)
			over = NULL;
	}
	if (over)
		snprintf(path, sizeof(path), "%s", over->path);
	else
		snprintf(path, sizeof(path), "d%d/f%" PRIu64,
			 (int)rnd_below(NDIRS), W.next_name++);
	snprintf(from, sizeof(from), "%s/%s", W.mnt, f->path);
	snprintf(to, sizeof(to), "%s/%s", W.mnt, path);
	touch(f);
	if (over) {
		touch(over);
		over->live = false;
	}
	if (rename(from, to) < 0)
		die("rename %s %s", from, to);
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (!over)
		model("T %s", f->path);
	{
		/* the new path may now hold everything the file may hold */
		int i, n = f->nlin;

		f->nlin = 0;
		for (i = 0; i < n; i++)
			add_pair(f, f->lin[i].fid, f->lin[i].shift);
		if (f->nlin != n)
			die("lineage lost in rename");
	}
}

static void fsync_dir(const char *path)
{
	char dir[512];
	const char *slash = strrchr(path, '/');
	int fd;

	snprintf(dir, sizeof(dir), "%s/%.*s", W.mnt,
		 slash ? (int)(slash - path) : 0, path);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		die("open %s", dir);
	if (fsync(fd) < 0)
		die("fsync %s", dir);
	close(fd);
}

static void op_unlink(void)
{
	struct wfile *f = pick(true, 0);
	char full[512];

	if (!f)
		return;
	snprintf(full, sizeof(full), "%s/%s", W.mnt, f->path);
	touch(f);
	if (unlink(full) < 0)
		die("unlink %s", full);
	f->live = false;
	if (rnd_below(2)) {
		fsync_dir(f->path);
		model("G %s", f->path);
	}
}

/* The REFLINK ioctl: a snapshot (born immutable) or a plain reflink. */
static void op_reflink(void)
{
	struct wfile *src = pick(false, 0), *dst;
	struct reflinkfs_reflink_args args;
	const char *slash;
	char dir[512];
	int sfd, dirfd;

	if (!W.is_rlfs)
		return op_ficlone();
	if (!src || nlive() >= MAX_LIVE)
		return;
	dst = new_file(false);
	memset(&args, 0, sizeof(args));
	args.flags = rnd_below(2) ? REFLINKFS_REFLINK_IMMUTABLE :
		     REFLINKFS_REFLINK_PRESERVE;
	slash = strrchr(dst->path, '/');
	snprintf(dir, sizeof(dir), "%s/%.*s", W.mnt, (int)(slash - dst->path),
		 dst->path);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0)
		die("open %s", dir);
	sfd = open_at(src->path, O_RDONLY);
	args.dest_dirfd = dirfd;
	args.dest_name = (uintptr_t)(slash + 1);
	inherit(dst, src, 0);
	if (ioctl(sfd, REFLINKFS_IOC_REFLINK, &args) < 0)
		die("REFLINK %s -> %s", src->path, dst->path);
	dst->size = src->size;
	dst->immutable = args.flags & REFLINKFS_REFLINK_IMMUTABLE;
	close(sfd);
	close(dirfd);
}

static void fsync_file(struct wfile *f)
{
	uint64_t hash, size;
	int fd = open_at(f->path, O_RDONLY);

	if (fsync(fd) < 0)
		die("fsync %s", f->path);
	fsync_dir(f->path);
	if (hash_file(fd, &hash, &size) < 0)
		die("read %s", f->path);
	if (size != f->size)
		die("%s: size %" PRIu64 ", the workload expects %" PRIu64,
		    f->path, size, f->size);
	close(fd);
	f->dirty = false;
	model("F %s %" PRIx64 " %" PRIu64, f->path, hash, size);
}

static void step(int n)
{
	static void (*const ops[])(void) = {
		op_create, op_create, op_mmap, op_ficlone, op_ficlone,
		op_dedupe, op_unshare, op_falloc, op_truncate, op_rename,
		op_unlink, op_reflink, op_reflink,
	};
	char cmd[512];
	int i, k, nops = 1 + rnd_below(4);
	uint64_t r;

	for (k = 0; k < nops; k++) {
		r = rnd_below(sizeof(ops) / sizeof(ops[0]) + 6);
		switch (r) {
		case 0: case 1: op_write(0); break;
		case 2: op_write(O_DIRECT); break;
		case 3: op_range(false); break;
		case 4: op_range(true); break;
		case 5: op_write(0); break;
		default: ops[r - 6](); break;
		}
	}
	r = rnd_below(10);
	if (r == 0) {
		sync();
		for (i = 0; i < W.nfiles; i++)
			if (W.files[i].live)
				fsync_file(&W.files[i]);
	} else if (r < 9) {
		for (i = 0; i < W.nfiles; i++)
			if (W.files[i].live && W.files[i].dirty && rnd_below(4))
				fsync_file(&W.files[i]);
	}
	snprintf(cmd, sizeof(cmd), "%s m%d", W.markcmd, n);
	if (system(cmd) != 0)
		die("mark command '%s' failed", cmd);
	model("M %d", n);
}

static int cmd_work(int argc, char **argv)
{
	char dir[512];
	struct statfs sfs;
	int steps, i, fd;

	if (argc != 7)
		die("usage: powercut work MNT MODEL STEPS SEED MARKCMD");
	W.mnt = argv[2];
	W.model = fopen(argv[3], "w");
	if (!W.model)
		die("open %s", argv[3]);
	steps = atoi(argv[4]);
	W.rng = mix(strtoull(argv[5], NULL, 0)) | 1;
	W.markcmd = argv[6];
	fd = open(W.mnt, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		die("open %s", W.mnt);
	if (fstatfs(fd, &sfs) < 0)
		die("statfs %s", W.mnt);
	W.is_rlfs = sfs.f_type == REFLINKFS_SUPER_MAGIC;
	for (i = 0; i < NDIRS; i++) {
		snprintf(dir, sizeof(dir), "%s/d%d", W.mnt, i);
		if (mkdir(dir, 0755) < 0)
			die("mkdir %s", dir);
	}
	sync();
	close(fd);
	for (i = 0; i < steps; i++)
		step(i);
	fclose(W.model);
	return 0;
}

/* ---- the checker ------------------------------------------------------- */

enum pstate { P_UNKNOWN, P_EXACT, P_GONE };

struct cpath {
	char path[64];
	enum pstate state;
	uint64_t hash, size;
	int nlin;
	struct pair lin[MAX_LIN * 4];
	bool seen;
	struct cpath *next;
};

#define NBUCKETS 4096
static struct cpath *buckets[NBUCKETS];
static int violations;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void violation(const char *fmt, ...)
{
	va_list ap;

	if (++violations > 20)
		return;
	fputs("powercut: VIOLATION: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static struct cpath *lookup(const char *path, bool create)
{
	uint64_t h = hash_bytes(0xcbf29ce484222325ULL, path, strlen(path));
	struct cpath **b = &buckets[h % NBUCKETS], *p;

	for (p = *b; p; p = p->next)
		if (!strcmp(p->path, path))
			return p;
	if (!create)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		die("memory");
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->next = *b;
	*b = p;
	return p;
}

static void check_file(const char *rel, int fd)
{
	struct cpath *p = lookup(rel, false);
	static char buf[BS];
	uint64_t lblk, hash, size;
	struct stat st;
	struct tag t;
	int i, bad = 0;

	if (!p) {
		violation("%s: a file the workload never made", rel);
		return;
	}
	p->seen = true;
	if (fstat(fd, &st) < 0)
		die("stat %s", rel);
	for (lblk = 0; (off_t)(lblk * BS) < st.st_size; lblk++) {
		ssize_t n = pread(fd, buf, BS, lblk * BS);
		enum blk_kind k;

		if (n < 0) {
			violation("%s: read of block %" PRIu64 ": %s", rel, lblk,
				  strerror(errno));
			return;
		}
		k = classify(buf, n, &t);
		if (k == BLK_ZERO || (k == BLK_TAG && (size_t)n < sizeof(t)))
			continue;
		if (k == BLK_TAG)
			for (i = 0; i < p->nlin; i++)
				if (p->lin[i].fid == t.fid &&
				    (int64_t)t.lblk + p->lin[i].shift == (int64_t)lblk)
					break;
		if (k == BLK_FOREIGN || i == p->nlin) {
			if (bad++ < 3)
				violation("%s: block %" PRIu64 " holds %s", rel, lblk,
					  k == BLK_FOREIGN ?
					  "data no file was ever given (stale or garbage)" :
					  "a block of another file's lineage");
		}
	}
	if (p->state == P_EXACT) {
		if (hash_file(fd, &hash, &size) < 0)
			violation("%s: cannot read: %s", rel, strerror(errno));
		else if (size != p->size || hash != p->hash)
			violation("%s: fsynced as %" PRIu64 " bytes hash %" PRIx64
				  ", found %" PRIu64 " bytes hash %" PRIx64, rel,
				  p->size, p->hash, size, hash);
	} else if (p->state == P_GONE) {
		violation("%s: exists, but its unlink was made durable", rel);
	}
}

static void walk(const char *root, const char *rel)
{
	char full[1024], sub[512];
	struct dirent *d;
	DIR *dir;

	snprintf(full, sizeof(full), "%s%s%s", root, *rel ? "/" : "", rel);
	dir = opendir(full);
	if (!dir) {
		violation("%s: cannot open directory: %s", *rel ? rel : ".",
			  strerror(errno));
		return;
	}
	while ((d = readdir(dir))) {
		struct stat st;
		int fd;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			 d->d_name);
		snprintf(full, sizeof(full), "%s/%s", root, sub);
		if (lstat(full, &st) < 0) {
			violation("%s: stat: %s", sub, strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			walk(root, sub);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			violation("%s: not a regular file (mode %o)", sub,
				  st.st_mode);
			continue;
		}
		fd = open(full, O_RDONLY);
		if (fd < 0) {
			violation("%s: open: %s", sub, strerror(errno));
			continue;
		}
		check_file(sub, fd);
		close(fd);
	}
	closedir(dir);
}

static int cmd_check(int argc, char **argv)
{
	char line[256], path[200];
	int mark = -1, n, i;
	bool past = false;	/* past mark MARK: F and G no longer count */
	FILE *m;

	if (argc != 5)
		die("usage: powercut check MNT MODEL MARK");
	if (sscanf(argv[4], "m%d", &mark) != 1)
		mark = -1;
	m = fopen(argv[3], "r");
	if (!m)
		die("open %s", argv[3]);
	past = mark < 0;
	while (fgets(line, sizeof(line), m)) {
		struct cpath *p;
		uint64_t a, b;
		int64_t s;

		if (sscanf(line, "M %d", &n) == 1) {
			if (n == mark)
				past = true;
			if (n > mark)
				break;
		} else if (sscanf(line, "P %199s %" SCNu64 " %" SCNd64, path, &a, &s) == 3) {
			p = lookup(path, true);
			for (i = 0; i < p->nlin; i++)
				if (p->lin[i].fid == a && p->lin[i].shift == s)
					break;
			if (i == p->nlin) {
				if (p->nlin == MAX_LIN * 4)
					die("lineage of %s overflows", path);
				p->lin[p->nlin].fid = a;
				p->lin[p->nlin++].shift = s;
			}
		} else if (sscanf(line, "T %199s", path) == 1) {
			lookup(path, true)->state = P_UNKNOWN;
		} else if (sscanf(line, "F %199s %" SCNx64 " %" SCNu64, path, &a, &b) == 3) {
			if (past)
				continue;
			p = lookup(path, true);
			p->state = P_EXACT;
			p->hash = a;
			p->size = b;
		} else if (sscanf(line, "G %199s", path) == 1) {
			if (!past)
				lookup(path, true)->state = P_GONE;
		} else {
			die("%s: bad model line: %s", argv[3], line);
		}
	}
	/* lineage of paths appearing after the mark still counts */
	while (fgets(line, sizeof(line), m)) {
		uint64_t a;
		int64_t s;
		struct cpath *p;

		if (sscanf(line, "P %199s %" SCNu64 " %" SCNd64, path, &a, &s) != 3)
			continue;
		p = lookup(path, true);
		for (i = 0; i < p->nlin; i++)
			if (p->lin[i].fid == a && p->lin[i].shift == s)
				break;
		if (i == p->nlin && p->nlin < MAX_LIN * 4) {
			p->lin[p->nlin].fid = a;
			p->lin[p->nlin++].shift = s;
		}
	}
	fclose(m);
	walk(argv[2], "");
	for (i = 0; i < NBUCKETS; i++) {
		struct cpath *p;

		for (p = buckets[i]; p; p = p->next)
			if (p->state == P_EXACT && !p->seen)
				violation("%s: fsynced, but missing", p->path);
	}
	if (violations > 20)
		printf("powercut: ... %d violations in all\n", violations);
	return violations ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "poison") && argc == 3)
		return cmd_poison(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "work"))
		return cmd_work(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return cmd_check(argc, argv);
	fprintf(stderr, "usage: powercut poison DEV\n"
		"       powercut work MNT MODEL STEPS SEED MARKCMD\n"
		"       powercut check MNT MODEL MARK\n");
	return 2;
}
