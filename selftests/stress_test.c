// SPDX-License-Identifier: GPL-2.0
/*
 * stress_test - concurrent processes on shared blocks: FICLONE,
 * REFLINKFS_IOC_REFLINK, FICLONERANGE, FIDEDUPERANGE and
 * FALLOC_FL_UNSHARE_RANGE racing buffered, O_DIRECT and mmap writers,
 * truncate, hole punching and readers; two sharers copy-on-writing the
 * same block at once.
 *
 * Every 4 KiB block the test writes is self-verifying: word 0 holds a
 * magic and the block's origin index, every other 64-bit word holds the
 * block's generation in its high half and a hash of (index, word,
 * generation) in its low half.  Generations come from one counter shared
 * by all workers, shifted left by 3 with the writing file's id in the low
 * 3 bits, so they grow over time and name the file that wrote them.
 * Writers publish, per file and block, the generation they are about to
 * write (started) and the one they wrote (done); a block read between
 * done-before and started-after must hold a generation in that range,
 * written by that file (or be exactly done-before, e.g. a cloned-in
 * base).  A torn block (words of two generations) is only accepted where
 * it cannot be avoided (a read racing a write, a clone racing mmap
 * stores).  After the workers stop, each file must hold exactly what the
 * model says, again after a remount; fsck.reflinkfs -n must be clean.
 *
 * Each case forks its workers for RLFS_STRESS_SECONDS (default 6)
 * seconds.  A watchdog gives each phase a deadline; on a timeout it
 * prints /proc/PID/stack of every worker, writes 'w' to
 * /proc/sysrq-trigger (blocked tasks to the kernel log) and fails.
 *
 * Environment: RLFS_STRESS_SECONDS, and see rlfs_util.h.
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "rlfs_util.h"
#include "uapi/linux/reflinkfs.h"

#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE	0x40
#endif

#define BS		4096U
#define WORDS		(BS / 8)
#define MAGIC		0x524c5354ULL		/* "RLST" */
#define NB		256U			/* blocks per stressed file */
#define NF		4			/* model files per case */
#define NSLOT		8			/* clone images kept */
#define MAXW		12			/* workers per case */
#define DREG		64U			/* case 3: blocks per region */
#define T_CASE		900			/* harness timeout per case */

/* ---- shared state ----------------------------------------------------- */

struct shm {
	volatile int	stop;
	int		failed;
	char		msg[1024];
	uint64_t	genctr;
	uint32_t	started[NF][NB];
	uint32_t	done[NF][NB];
	/* hash of every block of the clone images (0: hole) */
	uint64_t	img[NSLOT][NB];
	bool		img_valid[NSLOT];
	uint64_t	pmodel[NB];	/* case 1: hashes of p's blocks */
	long		ops[MAXW];
	long		torn;
	long		busy;
	char		name[MAXW][24];
};

static struct shm *sh;

static int stress_seconds(void)
{
	const char *e = getenv("RLFS_STRESS_SECONDS");
	int s = e && *e ? atoi(e) : 0;

	return s > 0 ? s : 6;
}

/* First failure of any worker: kept for the parent to print. */
static void __attribute__((format(printf, 1, 2))) wfail(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&sh->failed, 1, __ATOMIC_SEQ_CST) == 0) {
		va_start(ap, fmt);
		vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
		va_end(ap);
	}
	sh->stop = 1;
}

static uint32_t new_gen(int fid)
{
	uint64_t n = __atomic_add_fetch(&sh->genctr, 1, __ATOMIC_SEQ_CST);

	return (uint32_t)(n << 3) | (uint32_t)fid;
}

static uint32_t ld(uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void st32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	uint64_t x = rnd_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rnd_state = x;
	return x;
}

static uint32_t rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* ---- self-verifying blocks ---------------------------------------------- */

static uint64_t word_of(uint32_t blk, uint32_t i, uint32_t gen)
{
	return ((uint64_t)gen << 32) |
	       (uint32_t)rlfs_pat_word(((uint64_t)blk << 9) | i, gen);
}

static void fill_block(uint64_t *w, uint32_t blk, uint32_t gen)
{
	uint32_t i;

	w[0] = (MAGIC << 32) | blk;
	for (i = 1; i < WORDS; i++)
		w[i] = word_of(blk, i, gen);
}

/* The same, one word at a time in ascending order (an mmap writer). */
static void store_block(volatile uint64_t *w, uint32_t blk, uint32_t gen)
{
	uint32_t i;

	w[0] = (MAGIC << 32) | blk;
	for (i = 1; i < WORDS; i++)
		w[i] = word_of(blk, i, gen);
}

static bool is_zero(const uint64_t *w)
{
	uint32_t i;

	for (i = 0; i < WORDS; i++)
		if (w[i])
			return false;
	return true;
}

static uint64_t block_hash(const uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t i;

	if (is_zero(w))
		return 0;
	for (i = 0; i < WORDS; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h | 1;
}

/*
 * Check a block read from (fid, index @blk) between done-before @lo and
 * started-after @hi: every word hash-valid, every generation in [lo, hi]
 * and either @lo itself or written by @fid.  @zero_ok: a zero block is
 * fine.  @blk_want ~0U: any origin index.  Returns 0 and the generation
 * of word 1 in *@gen (0 for a zero block), or -1 with *@why filled.
 */
static int check_block(const uint64_t *w, uint32_t blk_want, int fid,
		       uint32_t lo, uint32_t hi, bool torn_ok, bool zero_ok,
		       uint32_t *gen, char *why, size_t wl)
{
	uint32_t blk = (uint32_t)w[0], g0 = 0, i;
	bool torn = false;

	*gen = 0;
	if (is_zero(w)) {
		if (zero_ok)
			return 0;
		snprintf(why, wl, "zero block, want generation %u..%u", lo,
			 hi);
		return -1;
	}
	if (w[0] >> 32 != MAGIC || (blk_want != ~0U && blk != blk_want)) {
		snprintf(why, wl, "bad header %#llx (want block %u)",
			 (unsigned long long)w[0], blk_want);
		return -1;
	}
	for (i = 1; i < WORDS; i++) {
		uint32_t g = (uint32_t)(w[i] >> 32);

		if (w[i] != word_of(blk, i, g)) {
			snprintf(why, wl, "word %u of block %u is %#llx: not "
				 "a valid word (generation %u)", i, blk,
				 (unsigned long long)w[i], g);
			return -1;
		}
		if (g < lo || g > hi || (g != lo && fid >= 0 &&
					 (int)(g & 7) != fid)) {
			snprintf(why, wl, "word %u of block %u: generation %u "
				 "(file %u) outside %u..%u of file %d", i, blk,
				 g, g & 7, lo, hi, fid);
			return -1;
		}
		if (i == 1)
			g0 = g;
		else if (g != g0)
			torn = true;
	}
	if (torn && !torn_ok) {
		snprintf(why, wl, "torn block %u: generations differ", blk);
		return -1;
	}
	if (torn)
		__atomic_add_fetch(&sh->torn, 1, __ATOMIC_RELAXED);
	*gen = g0;
	return 0;
}

/* ---- I/O helpers ---------------------------------------------------------- */

static int pread_block(int fd, uint32_t blk, uint64_t *buf);

/*
 * Read and check block @b of file @fid while writers run.  A read that
 * overlapped a write of the block (done-before != started-after) may see
 * any mix of the two, down to single bytes (copy_to_user racing
 * copy_from_user): it is read again, up to 50 times.  A read no write
 * overlapped must be exact.  Returns 0, or -1 after wfail().
 */
static int read_checked(int fd, int fid, uint32_t b, const char *what)
{
	uint64_t buf[WORDS];
	char why[256];
	uint32_t lo, hi, g;
	int i;

	for (i = 0; i < 50; i++) {
		lo = ld(&sh->done[fid][b]);
		if (pread_block(fd, b, buf)) {
			wfail("%s: read block %u: %s", what, b,
			      strerror(errno));
			return -1;
		}
		hi = ld(&sh->started[fid][b]);
		if (!check_block(buf, b, fid, lo, hi, lo != hi, false, &g,
				 why, sizeof(why)))
			return 0;
		if (lo == hi) {
			wfail("%s block %u (no write overlapped): %s", what, b,
			      why);
			return -1;
		}
		__atomic_add_fetch(&sh->busy, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

static int pread_block(int fd, uint32_t blk, uint64_t *buf)
{
	ssize_t r = pread(fd, buf, BS, (off_t)blk * BS);

	if (r < 0)
		return -errno;
	if (r < (ssize_t)BS)		/* past EOF: reads as zero */
		memset((char *)buf + r, 0, BS - r);
	return 0;
}

static int pwrite_block(int fd, uint32_t blk, const uint64_t *buf)
{
	ssize_t r = pwrite(fd, buf, BS, (off_t)blk * BS);

	if (r < 0)
		return -errno;
	return r == (ssize_t)BS ? 0 : -EIO;
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

/* FIDEDUPERANGE of one range: bytes deduped, or -errno. */
static long long dedupe_range(int sfd, uint64_t soff, uint64_t len, int dfd,
			      uint64_t doff)
{
	struct {
		struct file_dedupe_range r;
		struct file_dedupe_range_info i;
	} d;

	memset(&d, 0, sizeof(d));
	d.r.src_offset = soff;
	d.r.src_length = len;
	d.r.dest_count = 1;
	d.i.dest_fd = dfd;
	d.i.dest_offset = doff;
	if (ioctl(sfd, FIDEDUPERANGE, &d))
		return -errno;
	if (d.i.status < 0)
		return d.i.status;
	return (long long)d.i.bytes_deduped;
}

/* FICLONE @src onto the existing @dst (not truncated): 0 or -errno. */
static int rlfs_clone_file_keep(const char *src, const char *dst)
{
	int s = open(src, O_RDONLY), d = open(dst, O_RDWR), ret = 0;

	if (s < 0 || d < 0)
		ret = -errno;
	else if (ioctl(d, FICLONE, s))
		ret = -errno;
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	return ret;
}

static int reflink_ioctl(int sfd, const char *name)
{
	struct reflinkfs_reflink_args a;

	memset(&a, 0, sizeof(a));
	a.dest_dirfd = AT_FDCWD;
	a.dest_name = (uintptr_t)name;
	return ioctl(sfd, REFLINKFS_IOC_REFLINK, &a) ? -errno : 0;
}

/* Write block @blk of file @fid with a new generation through @how. */
enum wmode { W_BUF, W_DIRECT, W_MMAP };

struct wfile {
	int		fd;		/* buffered */
	int		dfd;		/* O_DIRECT */
	volatile uint64_t *map;		/* MAP_SHARED of NB blocks */
};

static int write_gen(struct wfile *f, int fid, uint32_t blk, enum wmode how,
		     uint64_t *buf)
{
	uint32_t g = new_gen(fid);
	int ret = 0;

	st32(&sh->started[fid][blk], g);
	switch (how) {
	case W_BUF:
		fill_block(buf, blk, g);
		ret = pwrite_block(f->fd, blk, buf);
		break;
	case W_DIRECT:
		fill_block(buf, blk, g);
		ret = pwrite_block(f->dfd, blk, buf);
		break;
	case W_MMAP:
		store_block(f->map + (size_t)blk * WORDS, blk, g);
		break;
	}
	if (!ret)
		st32(&sh->done[fid][blk], g);
	return ret;
}

static int open_wfile(struct wfile *f, const char *path, bool direct,
		      bool map)
{
	memset(f, 0, sizeof(*f));
	f->fd = open(path, O_RDWR);
	f->dfd = -1;
	if (f->fd < 0)
		return -errno;
	if (direct) {
		f->dfd = open(path, O_RDWR | O_DIRECT);
		if (f->dfd < 0)
			return -errno;
	}
	if (map) {
		void *p = mmap(NULL, (size_t)NB * BS, PROT_READ | PROT_WRITE,
			       MAP_SHARED, f->fd, 0);

		if (p == MAP_FAILED)
			return -errno;
		f->map = p;
	}
	return 0;
}

/* Create @path with NB blocks of a first generation of file @fid. */
static int make_file(const char *path, int fid)
{
	uint64_t buf[WORDS];
	uint32_t b, g = new_gen(fid);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	int ret = 0;

	if (fd < 0)
		return -errno;
	for (b = 0; b < NB && !ret; b++) {
		fill_block(buf, b, g);
		ret = pwrite_block(fd, b, buf);
		sh->started[fid][b] = sh->done[fid][b] = g;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Whole-file check against the model after the workers stopped: every
 * block holds exactly done[fid][b], untorn.  Returns 0 or -1 (printed).
 */
static int verify_exact(const char *path, int fid)
{
	uint64_t buf[WORDS];
	char why[256];
	uint32_t b, g;
	int fd = open(path, O_RDONLY), ret = 0;

	if (fd < 0) {
		fprintf(stderr, "# open %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (b = 0; b < NB; b++) {
		uint32_t want = sh->done[fid][b];

		if (pread_block(fd, b, buf) ||
		    check_block(buf, b, fid, want, want, false, false, &g,
				why, sizeof(why))) {
			fprintf(stderr, "# %s block %u: %s\n", path, b, why);
			ret = -1;
			break;
		}
	}
	close(fd);
	return ret;
}

/* Compare a file's blocks with hashes (0: hole or past EOF). */
static int verify_hashes(const char *path, const uint64_t *h, uint32_t n)
{
	uint64_t buf[WORDS];
	uint32_t b;
	int fd = open(path, O_RDONLY), ret = 0;

	if (fd < 0) {
		fprintf(stderr, "# open %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (b = 0; b < n; b++) {
		if (pread_block(fd, b, buf) || block_hash(buf) != h[b]) {
			fprintf(stderr, "# %s block %u differs from the image "
				"the test recorded\n", path, b);
			ret = -1;
			break;
		}
	}
	close(fd);
	return ret;
}

/* ---- the worker runner with its watchdog ---------------------------------- */

typedef void (*worker_fn)(int idx, void *arg);

struct worker {
	const char	*name;
	worker_fn	fn;
	void		*arg;
};

static void dump_stacks(pid_t *pid, int n)
{
	char path[64], line[256];
	int i, fd;

	for (i = 0; i < n; i++) {
		FILE *f;

		if (!pid[i])
			continue;
		fprintf(stderr, "# ---- worker %d (%s, pid %d) stack:\n", i,
			sh->name[i], pid[i]);
		snprintf(path, sizeof(path), "/proc/%d/stack", pid[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			fprintf(stderr, "#   %s", line);
		fclose(f);
	}
	fd = open("/proc/sysrq-trigger", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "w", 1) != 1) {
			/* best effort */
		}
		close(fd);
	}
}

/*
 * Fork one process per worker, let them run @secs seconds, stop them and
 * wait; the phase deadline is 3 * @secs + 60 s.  Returns 0 when every
 * worker exited 0, -1 on a failure (sh->msg), -2 on a timeout.
 */
static int run_workers(const struct worker *w, int n, int secs)
{
	pid_t pid[MAXW] = { 0 };
	struct timespec t0, now;
	int i, left = n, ret = 0, st;
	double deadline = 3.0 * secs + 60;

	sh->stop = 0;
	fflush(NULL);
	for (i = 0; i < n; i++) {
		snprintf(sh->name[i], sizeof(sh->name[i]), "%s", w[i].name);
		sh->ops[i] = 0;
		pid[i] = fork();
		if (pid[i] < 0) {
			wfail("fork: %s", strerror(errno));
			pid[i] = 0;
			left--;
			continue;
		}
		if (pid[i] == 0) {
			rnd_state = 0x9E3779B97F4A7C15ULL * (getpid() + 1) + i;
			w[i].fn(i, w[i].arg);
			_exit(0);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left) {
		double el;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p > 0) {
			for (i = 0; i < n; i++)
				if (pid[i] == p)
					break;
			if (i < n) {
				if (!WIFEXITED(st) || WEXITSTATUS(st))
					wfail("worker %s died: status %#x",
					      sh->name[i], st);
				pid[i] = 0;
				left--;
			}
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		el = now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9;
		if (el >= secs)
			sh->stop = 1;
		if (el > deadline) {
			fprintf(stderr, "# watchdog: %d worker(s) still running "
				"%.0f s after the start\n", left, el);
			dump_stacks(pid, n);
			for (i = 0; i < n; i++)
				if (pid[i])
					kill(pid[i], SIGKILL);
			for (i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) >= 0;
			     i++)
				usleep(100000);
			return -2;
		}
		usleep(20000);
	}
	if (sh->failed)
		ret = -1;
	return ret;
}

static void log_ops(const struct worker *w, int n)
{
	char line[512];
	size_t off = 0;
	int i;

	for (i = 0; i < n && off < sizeof(line) - 40; i++)
		off += snprintf(line + off, sizeof(line) - off, "%s%s=%ld",
				i ? " " : "", w[i].name, sh->ops[i]);
	fprintf(stderr, "# ops: %s; torn reads %ld, busy %ld\n", line,
		sh->torn, sh->busy);
}

#define RUN(w, n, secs) do {						\
	int __r = run_workers(w, n, secs);				\
	log_ops(w, n);							\
	ASSERT_EQ(0, __r) {						\
		TH_LOG("%s", __r == -2 ? "watchdog: workers hung" :	\
		       sh->msg);					\
	}								\
} while (0)

/* ---- fixture ---------------------------------------------------------------- */

FIXTURE(stress) {
	struct rlfs_fs fs;
	int secs;
};

FIXTURE_SETUP(stress)
{
	int fd, fd2;

	RLFS_REFLINKFS_ONLY_SETUP("REFLINKFS_IOC_REFLINK");
	rlfs_fs_setup(&self->fs, RLFS_TEST_BLOCKS);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	self->secs = stress_seconds();
	/* the module must share blocks, else there is nothing to race */
	fd = open(".probe", O_CREAT | O_RDWR, 0644);
	fd2 = open(".probe2", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, rlfs_write_pattern(fd, 0, BS, 1));
	ASSERT_EQ(0, ioctl(fd2, FICLONE, fd)) {
		TH_LOG("FICLONE: %s", strerror(errno));
	}
	close(fd);
	close(fd2);
	ASSERT_EQ(0, unlink(".probe"));
	ASSERT_EQ(0, unlink(".probe2"));
}

FIXTURE_TEARDOWN(stress)
{
	/* a failed ASSERT leaves the trigger set: no spurious log */
	_metadata->trigger = 0;
	rlfs_fs_teardown(&self->fs);
}

/* ---- case 1: whole-file clones while written every way --------------------- */

/*
 * "src" (file 1): a buffered, an O_DIRECT and an mmap writer own every
 * third block each.  A cloner alternates FICLONE and REFLINKFS_IOC_REFLINK
 * into rotating images and checks each image is a point-in-time copy; a
 * range worker FICLONERANGEs and FIDEDUPERANGEs pieces of src into "p" at
 * the same offsets; a reader checks src itself.
 */
#define F_SRC	1

/*
 * A writer of file @path (model file @fid) the @how way, on the blocks
 * (rndn(@span) * @stride + @phase) % NB: writers of one file own disjoint
 * blocks, so every block has one writer and the model stays exact.
 */
struct wspec {
	const char	*path;
	int		fid;
	enum wmode	how;
	uint32_t	span, stride, phase;
};

static void w_writer(int idx, void *arg)
{
	const struct wspec *ws = arg;
	uint64_t *buf = aligned_alloc(BS, BS);
	struct wfile f;
	int ret = open_wfile(&f, ws->path, ws->how == W_DIRECT,
			     ws->how == W_MMAP);

	if (ret || !buf) {
		wfail("writer %s/%d: open: %s", ws->path, idx, strerror(-ret));
		return;
	}
	while (!sh->stop) {
		uint32_t b = (rndn(ws->span) * ws->stride + ws->phase) % NB;

		ret = write_gen(&f, ws->fid, b, ws->how, buf);
		if (ret) {
			wfail("writer %s/%d: block %u: %s", ws->path, idx, b,
			      strerror(-ret));
			return;
		}
		sh->ops[idx]++;
	}
}

/* Check a whole image taken between lo[] and hi[]; record its hashes. */
static int check_image(int fd, const char *name, const uint32_t *lo,
		       const uint32_t *hi, int slot)
{
	uint64_t buf[WORDS];
	char why[256];
	uint32_t b, g;
	struct stat st;

	if (fstat(fd, &st) || st.st_size != (off_t)NB * BS) {
		wfail("%s: size %lld after the clone", name,
		      (long long)st.st_size);
		return -1;
	}
	for (b = 0; b < NB; b++) {
		if (pread_block(fd, b, buf) ||
		    check_block(buf, b, F_SRC, lo[b], hi[b], b % 3 == W_MMAP,
				false, &g, why, sizeof(why))) {
			wfail("clone %s, block %u: not a point-in-time copy: %s",
			      name, b, why);
			return -1;
		}
		sh->img[slot][b] = block_hash(buf);
	}
	return 0;
}

static void w_cloner(int idx, void *arg)
{
	int base = (int)(uintptr_t)arg;		/* its own NSLOT / 2 images */
	uint32_t lo[NB], hi[NB], b;
	char name[32];
	int sfd = open("src", O_RDONLY), n = 0, ret, fd;

	if (sfd < 0) {
		wfail("cloner: open src: %s", strerror(errno));
		return;
	}
	while (!sh->stop) {
		int slot = base + n % (NSLOT / 2);
		bool ficlone = !(n & 1);

		snprintf(name, sizeof(name), "img%d", slot);
		for (b = 0; b < NB; b++)
			lo[b] = ld(&sh->done[F_SRC][b]);
		sh->img_valid[slot] = false;
		if (ficlone) {
			fd = open(name, O_CREAT | O_RDWR, 0644);
			ret = fd < 0 ? -errno : 0;
			if (!ret && ioctl(fd, FICLONE, sfd))
				ret = -errno;
		} else {
			if (unlink(name) && errno != ENOENT) {
				wfail("unlink %s: %s", name, strerror(errno));
				return;
			}
			ret = reflink_ioctl(sfd, name);
			fd = ret ? -1 : open(name, O_RDONLY);
		}
		for (b = 0; b < NB; b++)
			hi[b] = ld(&sh->started[F_SRC][b]);
		if (ret || fd < 0) {
			wfail("%s of src to %s: %s", ficlone ? "FICLONE" :
			      "REFLINKFS_IOC_REFLINK", name,
			      strerror(ret ? -ret : errno));
			return;
		}
		ret = check_image(fd, name, lo, hi, slot);
		close(fd);
		if (ret)
			return;
		sh->img_valid[slot] = true;
		sh->ops[idx]++;
		n++;
	}
}

static void w_ranger(int idx, void *arg)
{
	uint64_t buf[WORDS];
	char why[256];
	int sfd = open("src", O_RDWR), pfd = open("p", O_RDWR);
	uint32_t lo[16], hi[16], b, g, i;
	uint64_t *model = sh->pmodel;

	(void)arg;
	if (sfd < 0 || pfd < 0) {
		wfail("ranger: open: %s", strerror(errno));
		return;
	}
	for (b = 0; b < NB; b++) {
		if (pread_block(pfd, b, buf)) {
			wfail("read p: %s", strerror(errno));
			return;
		}
		model[b] = block_hash(buf);
	}
	while (!sh->stop) {
		uint32_t n = 1 + rndn(16), x = rndn(NB - n + 1);
		bool dedupe = rndn(3) == 0;
		long long r;

		for (i = 0; i < n; i++)
			lo[i] = ld(&sh->done[F_SRC][x + i]);
		if (dedupe) {
			/* p's content must not change, whatever src holds */
			r = dedupe_range(sfd, (uint64_t)x * BS,
					 (uint64_t)n * BS, pfd,
					 (uint64_t)x * BS);
			if (r < 0 && r != -EBADE) {
				wfail("FIDEDUPERANGE src->p %u+%u: %s", x, n,
				      strerror((int)-r));
				return;
			}
		} else {
			r = clone_range(sfd, (uint64_t)x * BS,
					(uint64_t)n * BS, pfd,
					(uint64_t)x * BS);
			if (r) {
				wfail("FICLONERANGE src->p %u+%u: %s", x, n,
				      strerror((int)-r));
				return;
			}
		}
		for (i = 0; i < n; i++)
			hi[i] = ld(&sh->started[F_SRC][x + i]);
		for (i = 0; i < n; i++) {
			b = x + i;
			if (pread_block(pfd, b, buf)) {
				wfail("read p: %s", strerror(errno));
				return;
			}
			if (dedupe) {
				if (block_hash(buf) != model[b]) {
					wfail("FIDEDUPERANGE src->p %u+%u "
					      "changed block %u of p", x, n, b);
					return;
				}
				continue;
			}
			if (check_block(buf, b, F_SRC, lo[i], hi[i],
					b % 3 == W_MMAP, false, &g, why,
					sizeof(why))) {
				wfail("FICLONERANGE src->p %u+%u: block %u: %s",
				      x, n, b, why);
				return;
			}
			model[b] = block_hash(buf);
		}
		sh->ops[idx]++;
	}
}

static void w_reader(int idx, void *arg)
{
	const char *path = arg;
	int fid = path[0] == 'b' ? 2 : F_SRC;
	int fd = open(path, O_RDONLY);
	char what[32];

	if (fd < 0) {
		wfail("reader: open %s: %s", path, strerror(errno));
		return;
	}
	snprintf(what, sizeof(what), "read of %s", path);
	while (!sh->stop) {
		if (read_checked(fd, fid, rndn(NB), what))
			return;
		sh->ops[idx]++;
	}
}

TEST_F_TIMEOUT(stress, clone_vs_writers, T_CASE)
{
	static const struct wspec ws[] = {
		{ "src", F_SRC, W_BUF, NB / 3, 3, 0 },
		{ "src", F_SRC, W_DIRECT, NB / 3, 3, 1 },
		{ "src", F_SRC, W_MMAP, NB / 3, 3, 2 },
	};
	const struct worker w[] = {
		{ "buffered", w_writer, (void *)&ws[0] },
		{ "direct", w_writer, (void *)&ws[1] },
		{ "mmap", w_writer, (void *)&ws[2] },
		{ "cloner", w_cloner, (void *)(uintptr_t)0 },
		{ "cloner2", w_cloner, (void *)(uintptr_t)(NSLOT / 2) },
		{ "range", w_ranger, NULL },
		{ "reader", w_reader, "src" },
	};
	uint64_t img[NSLOT][NB];
	uint64_t ph[NB];
	bool valid[NSLOT];
	char name[32];
	int i, n = 0;

	RLFS_REFLINKFS_ONLY("its cloner uses REFLINKFS_IOC_REFLINK");
	ASSERT_EQ(0, make_file("src", F_SRC));
	ASSERT_EQ(0, rlfs_clone_file("src", "p"));
	RUN(w, (int)ARRAY_SIZE(w), self->secs);
	ASSERT_LT(0, sh->ops[3] + sh->ops[4]);
	memcpy(img, sh->img, sizeof(img));
	memcpy(valid, sh->img_valid, sizeof(valid));
	memcpy(ph, sh->pmodel, sizeof(ph));
	EXPECT_EQ(0, verify_exact("src", F_SRC));
	EXPECT_EQ(0, verify_hashes("p", ph, NB));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, verify_exact("src", F_SRC));
	EXPECT_EQ(0, verify_hashes("p", ph, NB));
	/* each checked image still holds what its cloner saw */
	for (i = 0; i < NSLOT; i++) {
		snprintf(name, sizeof(name), "img%d", i);
		if (!valid[i])
			continue;
		n++;
		EXPECT_EQ(0, verify_hashes(name, img[i], NB));
	}
	EXPECT_LT(0, n);
}

/* ---- case 2: two sharers CoW-writing the same blocks at once ------------- */

/*
 * "a" (file 1) and "b" (file 2) share every block (b is a FICLONE of a,
 * made again at the start of each round).  On both files, writers of
 * different kinds write the same block indices at the same time, so both
 * sharers copy-on-write one shared block at once; an unsharer runs
 * FALLOC_FL_UNSHARE_RANGE and a deduper FIDEDUPERANGE (a->b) over random
 * ranges, readers check both files.
 */
#define F_A	1
#define F_B	2

static void w_unsharer(int idx, void *arg)
{
	int fa = open("a", O_RDWR), fb = open("b", O_RDWR);

	(void)arg;
	if (fa < 0 || fb < 0) {
		wfail("unsharer: open: %s", strerror(errno));
		return;
	}
	while (!sh->stop) {
		uint32_t n = 1 + rndn(32), x = rndn(NB - n + 1);

		if (fallocate(rndn(2) ? fa : fb, FALLOC_FL_UNSHARE_RANGE,
			      (off_t)x * BS, (off_t)n * BS)) {
			wfail("FALLOC_FL_UNSHARE_RANGE %u+%u: %s", x, n,
			      strerror(errno));
			return;
		}
		sh->ops[idx]++;
	}
}

static void w_deduper(int idx, void *arg)
{
	int fa = open("a", O_RDONLY), fb = open("b", O_RDWR);

	(void)arg;
	if (fa < 0 || fb < 0) {
		wfail("deduper: open: %s", strerror(errno));
		return;
	}
	while (!sh->stop) {
		uint32_t n = 1 + rndn(16), x = rndn(NB - n + 1);
		long long r = dedupe_range(fa, (uint64_t)x * BS,
					   (uint64_t)n * BS, fb,
					   (uint64_t)x * BS);

		if (r < 0 && r != -EBADE) {
			wfail("FIDEDUPERANGE a->b %u+%u: %s", x, n,
			      strerror((int)-r));
			return;
		}
		sh->ops[idx]++;
	}
}

TEST_F_TIMEOUT(stress, cow_same_block, T_CASE)
{
	/* stay on a few blocks: both files hit them together */
	static const struct wspec ws[] = {
		{ "a", F_A, W_BUF, NB / 8, 2, 0 },
		{ "a", F_A, W_MMAP, NB / 8, 2, 1 },
		{ "b", F_B, W_DIRECT, NB / 8, 2, 0 },
		{ "b", F_B, W_BUF, NB / 8, 2, 1 },
	};
	const struct worker w[] = {
		{ "a-buffered", w_writer, (void *)&ws[0] },
		{ "a-mmap", w_writer, (void *)&ws[1] },
		{ "b-direct", w_writer, (void *)&ws[2] },
		{ "b-buffered", w_writer, (void *)&ws[3] },
		{ "unshare", w_unsharer, NULL },
		{ "dedupe", w_deduper, NULL },
		{ "read-a", w_reader, "a" },
		{ "read-b", w_reader, "b" },
	};
	int rounds = self->secs >= 8 ? self->secs / 4 : 2, r;
	int per = (self->secs + rounds - 1) / rounds;
	long writes = 0;

	if (rlfs_is_fstype("btrfs"))
		SKIP(return, "btrfs: no FALLOC_FL_UNSHARE_RANGE (EOPNOTSUPP)");
	ASSERT_EQ(0, make_file("a", F_A));
	for (r = 0; r < rounds; r++) {
		/* b shares every block of a again */
		ASSERT_EQ(0, rlfs_clone_file("a", "b"));
		memcpy(sh->done[F_B], sh->done[F_A], sizeof(sh->done[F_B]));
		memcpy(sh->started[F_B], sh->done[F_A],
		       sizeof(sh->started[F_B]));
		RUN(w, (int)ARRAY_SIZE(w), per);
		writes += sh->ops[0] + sh->ops[1] + sh->ops[2] + sh->ops[3];
		ASSERT_EQ(0, verify_exact("a", F_A));
		ASSERT_EQ(0, verify_exact("b", F_B));
	}
	TH_LOG("%d rounds, %ld writes (buffered, O_DIRECT, mmap stores)", rounds,
	       writes);
	ASSERT_LT(0, writes);
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, verify_exact("a", F_A));
	EXPECT_EQ(0, verify_exact("b", F_B));
}

/* ---- case 3: range clones, dedupe, punch and unshare into regions ---------- */

/*
 * "a" (file 1) is rewritten by a buffered and an O_DIRECT writer.  Each of
 * three region workers owns DREG blocks of "d" and repeatedly
 * FICLONERANGEs pieces of a into its region (one block of a into many
 * offsets at once, too), clones within its region, dedupes a->d, punches
 * holes and unshares, keeping the model (hash per block) of its region.
 * At the end d must match the models exactly.
 */
#define NREG	3

/* Read d's blocks [y, y+n) into the model, checking them as copies of
 * a's blocks x.. taken between lo and hi (x == ~0U: only record). */
static int region_take(int fd, uint32_t y, uint32_t n, uint32_t x,
		       const uint32_t *lo, const uint32_t *hi, uint64_t *model,
		       const char *what)
{
	uint64_t buf[WORDS];
	char why[256];
	uint32_t i, g;

	for (i = 0; i < n; i++) {
		if (pread_block(fd, y + i, buf)) {
			wfail("%s: read d: %s", what, strerror(errno));
			return -1;
		}
		if (x != ~0U &&
		    check_block(buf, x + i, F_A, lo[i], hi[i], false, false,
				&g, why, sizeof(why))) {
			wfail("%s a %u -> d %u (%u blocks): block %u: %s", what,
			      x, y, n, i, why);
			return -1;
		}
		model[y + i] = block_hash(buf);
	}
	return 0;
}

static int region_check(int fd, uint32_t y, uint32_t n, const uint64_t *model,
			const char *what)
{
	uint64_t buf[WORDS];
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (pread_block(fd, y + i, buf) ||
		    block_hash(buf) != model[y + i]) {
			wfail("%s: d block %u changed", what, y + i);
			return -1;
		}
	}
	return 0;
}

static void w_region(int idx, void *arg)
{
	uint32_t base = (uint32_t)(uintptr_t)arg * DREG;
	uint64_t *model = (uint64_t *)sh->img;	/* NREG * DREG hashes */
	uint32_t lo[DREG], hi[DREG], i;
	int fa = open("a", O_RDONLY), fd = open("d", O_RDWR);
	char what[64];

	if (fa < 0 || fd < 0) {
		wfail("region: open: %s", strerror(errno));
		return;
	}
	while (!sh->stop) {
		uint32_t op = rndn(6), n = 1 + rndn(8);
		uint32_t y = base + rndn(DREG - n + 1), x = rndn(NB - n + 1);
		long long r = 0;

		switch (op) {
		case 0:		/* FICLONERANGE a -> d */
		case 1:		/* one block of a into n offsets of d */
			for (i = 0; i < n; i++)
				lo[i] = ld(&sh->done[F_A][op ? x : x + i]);
			if (!op)
				r = clone_range(fa, (uint64_t)x * BS,
						(uint64_t)n * BS, fd,
						(uint64_t)y * BS);
			for (i = 0; op && i < n && !r; i++)
				r = clone_range(fa, (uint64_t)x * BS, BS, fd,
						(uint64_t)(y + i) * BS);
			for (i = 0; i < n; i++)
				hi[i] = ld(&sh->started[F_A][op ? x : x + i]);
			snprintf(what, sizeof(what), "FICLONERANGE%s",
				 op ? " (one block, many offsets)" : "");
			if (r) {
				wfail("%s a %u -> d %u+%u: %s", what, x, y, n,
				      strerror((int)-r));
				return;
			}
			if (op) {
				/* every offset holds the same block x */
				for (i = 1; i < n; i++) {
					lo[i] = lo[0];
					hi[i] = hi[0];
				}
				for (i = 0; i < n; i++)
					if (region_take(fd, y + i, 1, x, lo + i,
							hi + i, model, what))
						return;
			} else if (region_take(fd, y, n, x, lo, hi, model,
					       what)) {
				return;
			}
			break;
		case 2: {	/* FICLONERANGE within the region */
			uint32_t z = base + rndn(DREG - n + 1);

			if (z < y + n && y < z + n)
				break;	/* the VFS refuses overlaps */
			r = clone_range(fd, (uint64_t)z * BS, (uint64_t)n * BS,
					fd, (uint64_t)y * BS);
			if (r) {
				wfail("FICLONERANGE d %u -> d %u+%u: %s", z, y,
				      n, strerror((int)-r));
				return;
			}
			memmove(model + y, model + z, n * sizeof(*model));
			if (region_check(fd, y, n, model, "clone in d"))
				return;
			break;
		}
		case 3:		/* FIDEDUPERANGE a -> d: content stays */
			r = dedupe_range(fa, (uint64_t)x * BS,
					 (uint64_t)n * BS, fd,
					 (uint64_t)y * BS);
			if (r < 0 && r != -EBADE) {
				wfail("FIDEDUPERANGE a %u -> d %u+%u: %s", x,
				      y, n, strerror((int)-r));
				return;
			}
			if (region_check(fd, y, n, model, "dedupe"))
				return;
			break;
		case 4:		/* punch a hole */
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, (off_t)y * BS,
				      (off_t)n * BS)) {
				wfail("punch d %u+%u: %s", y, n,
				      strerror(errno));
				return;
			}
			for (i = 0; i < n; i++)
				model[y + i] = 0;
			if (region_check(fd, y, n, model, "punch"))
				return;
			break;
		case 5:		/* unshare: content stays */
			if (fallocate(fd, FALLOC_FL_UNSHARE_RANGE,
				      (off_t)y * BS, (off_t)n * BS)) {
				wfail("unshare d %u+%u: %s", y, n,
				      strerror(errno));
				return;
			}
			if (region_check(fd, y, n, model, "unshare"))
				return;
			break;
		}
		sh->ops[idx]++;
	}
}

TEST_F_TIMEOUT(stress, clonerange_dedupe_punch, T_CASE)
{
	static const struct wspec ws[] = {
		{ "a", F_A, W_BUF, NB / 2, 2, 0 },
		{ "a", F_A, W_DIRECT, NB / 2, 2, 1 },
	};
	const struct worker w[] = {
		{ "a-buffered", w_writer, (void *)&ws[0] },
		{ "a-direct", w_writer, (void *)&ws[1] },
		{ "region0", w_region, (void *)(uintptr_t)0 },
		{ "region1", w_region, (void *)(uintptr_t)1 },
		{ "region2", w_region, (void *)(uintptr_t)2 },
		{ "read-a", w_reader, "a" },
	};
	uint64_t model[NREG * DREG];
	int fd;

	if (rlfs_is_fstype("btrfs"))
		SKIP(return, "btrfs: no FALLOC_FL_UNSHARE_RANGE (EOPNOTSUPP)");
	ASSERT_EQ(0, make_file("a", F_A));
	fd = open("d", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, (off_t)NREG * DREG * BS));
	close(fd);
	RUN(w, (int)ARRAY_SIZE(w), self->secs);
	ASSERT_LT(0, sh->ops[2] + sh->ops[3] + sh->ops[4]);
	memcpy(model, sh->img, sizeof(model));
	EXPECT_EQ(0, verify_exact("a", F_A));
	EXPECT_EQ(0, verify_hashes("d", model, NREG * DREG));
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, verify_exact("a", F_A));
	EXPECT_EQ(0, verify_hashes("d", model, NREG * DREG));
}

/* ---- case 4: truncate and punch racing clones and writers ----------------- */

/*
 * "t" (file 1) is written (buffered and O_DIRECT), truncated and punched
 * concurrently; FICLONE and REFLINKFS_IOC_REFLINK images of it and reads
 * of it must show each block either zero or a valid block of t at its own
 * index with a generation not newer than started-after.
 */
static void w_trunc_punch(int idx, void *arg)
{
	bool punch = arg != NULL;
	int fd = open("t", O_RDWR);

	if (fd < 0) {
		wfail("truncate/punch: open: %s", strerror(errno));
		return;
	}
	while (!sh->stop) {
		uint32_t n = 1 + rndn(32), x = rndn(NB - n + 1);
		int r;

		if (punch)
			r = fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, (off_t)x * BS,
				      (off_t)n * BS);
		else
			r = ftruncate(fd, (off_t)x * BS + rndn(BS));
		if (r) {
			wfail("%s t at block %u: %s", punch ? "punch" :
			      "truncate", x, strerror(errno));
			return;
		}
		sh->ops[idx]++;
		usleep(1000);
	}
}

static int check_loose(int fd, const char *what, bool retry)
{
	uint64_t buf[WORDS];
	char why[256];
	uint32_t b, g;

	for (b = 0; b < NB; b++) {
		uint32_t lo, hi;
		int tries = 0;
again:
		lo = ld(&sh->done[F_A][b]);
		if (pread_block(fd, b, buf)) {
			wfail("%s: read: %s", what, strerror(errno));
			return -1;
		}
		hi = ld(&sh->started[F_A][b]);
		if (check_block(buf, b, F_A, 0, hi, true, true, &g, why,
				sizeof(why))) {
			/*
			 * EOF (a truncate) inside the block: valid words,
			 * at most one cut word (its low bytes kept), zeros.
			 */
			uint64_t hdr = (MAGIC << 32) | b;
			uint32_t i = WORDS, k;

			while (i > 1 && !buf[i - 1])
				i--;
			if (i == 1) {	/* the cut is in the header */
				for (k = 1; k <= 8; k++)
					if (buf[0] == (k == 8 ? hdr :
					    hdr & ((1ULL << (8 * k)) - 1)))
						break;
				if (k <= 8)
					continue;
			} else if (i < WORDS && buf[0] == hdr) {
				for (g = 1; g + 1 < i; g++)
					if (buf[g] != word_of(b, g,
							      buf[g] >> 32) ||
					    (buf[g] >> 32) > hi)
						break;
				if (g + 1 >= i)
					continue;
			}
			/* a read of t itself may overlap a write: again */
			if (lo != hi && retry && ++tries < 50) {
				__atomic_add_fetch(&sh->busy, 1,
						   __ATOMIC_RELAXED);
				goto again;
			}
			wfail("%s block %u (done-before %u, started-after %u, "
			      "%d re-reads): %s", what, b, lo, hi, tries, why);
			return -1;
		}
	}
	return 0;
}

static void w_t_cloner(int idx, void *arg)
{
	int sfd = open("t", O_RDONLY), n = 0, fd, ret;
	char name[32];

	(void)arg;
	if (sfd < 0) {
		wfail("cloner: open t: %s", strerror(errno));
		return;
	}
	while (!sh->stop) {
		bool ficlone = n & 1;

		snprintf(name, sizeof(name), "timg%d", n % 4);
		if (ficlone) {
			/*
			 * Empty first: t's EOF block may be partial, and
			 * that may only be cloned to the dest's EOF.
			 */
			fd = open(name, O_CREAT | O_TRUNC | O_RDWR, 0644);
			ret = fd < 0 ? -errno : 0;
			if (!ret && ioctl(fd, FICLONE, sfd))
				ret = -errno;
		} else {
			unlink(name);
			ret = reflink_ioctl(sfd, name);
			fd = ret ? -1 : open(name, O_RDONLY);
		}
		if (ret || fd < 0) {
			wfail("clone of t to %s: %s", name,
			      strerror(ret ? -ret : errno));
			return;
		}
		ret = check_loose(fd, name, false);
		close(fd);
		if (ret)
			return;
		sh->ops[idx]++;
		n++;
	}
}

static void w_t_reader(int idx, void *arg)
{
	int fd = open("t", O_RDONLY);

	(void)arg;
	if (fd < 0) {
		wfail("reader: open t: %s", strerror(errno));
		return;
	}
	while (!sh->stop) {
		if (check_loose(fd, "read of t", true))
			return;
		sh->ops[idx]++;
	}
}

TEST_F_TIMEOUT(stress, truncate_punch_vs_clone, T_CASE)
{
	static const struct wspec ws[] = {
		{ "t", F_A, W_BUF, NB / 2, 2, 0 },
		{ "t", F_A, W_DIRECT, NB / 2, 2, 1 },
	};
	const struct worker w[] = {
		{ "buffered", w_writer, (void *)&ws[0] },
		{ "direct", w_writer, (void *)&ws[1] },
		{ "truncate", w_trunc_punch, NULL },
		{ "punch", w_trunc_punch, (void *)1 },
		{ "cloner", w_t_cloner, NULL },
		{ "reader", w_t_reader, NULL },
	};
	int fd;

	RLFS_REFLINKFS_ONLY("its cloner uses REFLINKFS_IOC_REFLINK");
	ASSERT_EQ(0, make_file("t", F_A));
	RUN(w, (int)ARRAY_SIZE(w), self->secs);
	ASSERT_LT(0, sh->ops[4]);
	fd = open("t", O_RDONLY);
	ASSERT_LE(0, fd);
	sh->stop = 0;
	EXPECT_EQ(0, check_loose(fd, "t after the run", false)) {
		TH_LOG("%s", sh->msg);
	}
	close(fd);
	RLFS_REMOUNT(&self->fs);
	fd = open("t", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, check_loose(fd, "t after a remount", false)) {
		TH_LOG("%s", sh->msg);
	}
	close(fd);
}

/*
 * The deterministic core of case 4: a shared EOF block copied on write,
 * cut by a truncate inside it, then the file grows again (truncate up or
 * a write past EOF): the block must read as the new data up to the cut
 * and zeros after it, and the clone keeps the old data.  Each of the 8
 * combinations of fsync after the write, dropping the caches after the
 * cut and the way of growing, at cut offsets all over the block.
 */
TEST_F_TIMEOUT(stress, truncate_cut_regrow, T_CASE)
{
	uint64_t want[WORDS], buf[WORDS], old[WORDS];
	int i, fd, fc;

	for (i = 0; i < 48; i++) {
		uint32_t r = i == 0 ? 1204 : (uint32_t)(i * 997) % (BS - 1) + 1;
		uint32_t g1 = new_gen(1), g2 = new_gen(1);
		bool sync_w = i & 1, drop = i & 2, by_write = i & 4;

		fd = open("t", O_CREAT | O_TRUNC | O_RDWR, 0644);
		ASSERT_LE(0, fd);
		fill_block(old, 2, g1);
		fill_block(want, 2, g2);
		ASSERT_EQ(0, pwrite_block(fd, 0, old));
		ASSERT_EQ(0, pwrite_block(fd, 1, old));
		ASSERT_EQ(0, pwrite_block(fd, 2, old));
		ASSERT_EQ(0, fsync(fd));
		fc = open("c", O_CREAT | O_TRUNC | O_RDWR, 0644);
		ASSERT_LE(0, fc);
		ASSERT_EQ(0, ioctl(fc, FICLONE, fd));
		ASSERT_EQ(0, pwrite_block(fd, 2, want));	/* CoW */
		if (sync_w) {
			ASSERT_EQ(0, fsync(fd));
		}
		ASSERT_EQ(0, ftruncate(fd, (off_t)2 * BS + r));
		if (drop)
			rlfs_drop_caches();
		if (by_write) {
			ASSERT_EQ(0, pwrite_block(fd, 3, old));
		} else {
			ASSERT_EQ(0, ftruncate(fd, (off_t)4 * BS));
		}
		memset((char *)want + r, 0, BS - r);
		ASSERT_EQ(0, pread_block(fd, 2, buf));
		EXPECT_EQ(0, memcmp(buf, want, BS)) {
			uint32_t k;

			for (k = 0; k < BS && ((char *)buf)[k] ==
			     ((char *)want)[k]; k++)
				;
			TH_LOG("cut at %u (fsync %d, drop %d, grow by %s): "
			       "block 2 differs from byte %u", r, sync_w, drop,
			       by_write ? "write" : "truncate", k);
		}
		ASSERT_EQ(0, pread_block(fc, 2, buf));
		EXPECT_EQ(0, memcmp(buf, old, BS)) {
			TH_LOG("cut at %u: the clone changed", r);
		}
		close(fc);
		close(fd);
		if (!_metadata->passed)
			break;
	}
}

/* ---- the refcount limit ------------------------------------------------------ */

/*
 * The format counts references in 32 bits; an increment past the limit
 * fails with EMLINK and leaves everything consistent.  2^32 sharers
 * cannot be made in a test, so the limit is lowered to RCMAX for the
 * mount with "reflinkfs inject MNT --refcount-max N" (FAULT_SET
 * refcount-max, CAP_SYS_ADMIN only).
 */
#define RCMAX	5

static const char *tool_path(void)
{
	static char p[PATH_MAX + 32];
	const char *e = getenv("RLFS_TOOL");

	if (e && *e)
		return e;
	snprintf(p, sizeof(p), "%s/userspace/reflinkfs", rlfs_top());
	return access(p, X_OK) ? "reflinkfs" : p;
}

static int set_rcmax(const char *mnt, unsigned long long max)
{
	return rlfs_run(0, "'%s' inject '%s' --refcount-max %llu", tool_path(),
			mnt, max);
}

/* Count of the block at block @b of @fd (REFLINKFS_IOC_GET_EXTENTS). */
static long refcount_of(int fd, uint32_t b)
{
	struct reflinkfs_extent e[2];
	struct reflinkfs_extents_args a;

	memset(&a, 0, sizeof(a));
	memset(e, 0, sizeof(e));
	a.size = sizeof(a);
	a.start = (uint64_t)b * BS;
	a.length = BS;
	a.extents = (uintptr_t)e;
	a.count = 2;
	if (ioctl(fd, REFLINKFS_IOC_GET_EXTENTS, &a))
		return -errno;
	return a.count ? (long)e[0].refcount : 0;
}

static long refcount_path(const char *path, uint32_t b)
{
	int fd = open(path, O_RDONLY);
	long r;

	if (fd < 0)
		return -errno;
	r = refcount_of(fd, b);
	close(fd);
	return r;
}

/* Does the log of the last rlfs_run() contain @str? */
static bool log_has(const char *str)
{
	char buf[4096];
	FILE *f = fopen(RLFS_LOG, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, str) != NULL;
}

FIXTURE(rclimit) {
	struct rlfs_fs fs;
};

FIXTURE_SETUP(rclimit)
{
	RLFS_REFLINKFS_ONLY_SETUP("reflinkfs inject --refcount-max");
	rlfs_fs_setup(&self->fs, RLFS_TEST_BLOCKS);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
}

/*
 * Lower the limit (in the body: a failed ASSERT in a setup would skip
 * the teardown and leave the filesystem mounted).
 */
#define RCLIMIT_ARM(fs) do {						\
	ASSERT_EQ(0, set_rcmax((fs)->mnt, RCMAX)) {			\
		TH_LOG("reflinkfs inject --refcount-max failed");	\
	}								\
	/* --list shows the lowered limit (its first line) */		\
	ASSERT_EQ(0, rlfs_run(0, "'%s' inject '%s' --list", tool_path(),\
			      (fs)->mnt));				\
	ASSERT_TRUE(log_has("refcount-max 5\n")) {			\
		rlfs_dump_log("inject --list");				\
	}								\
} while (0)

FIXTURE_TEARDOWN(rclimit)
{
	_metadata->trigger = 0;
	rlfs_fs_teardown(&self->fs);
}

/* FICLONE, REFLINKFS_IOC_REFLINK, FIDEDUPERANGE, copy_file_range. */
TEST_F_TIMEOUT(rclimit, whole_file, T_CASE)
{
	char name[32];
	struct stat st;
	long long r;
	int i, fa, fd, fx;
	ssize_t n;

	RCLIMIT_ARM(&self->fs);
	ASSERT_EQ(0, rlfs_make_file("a", 4 * BS, 7, true));
	/* a's blocks reach RCMAX with RCMAX - 1 clones */
	for (i = 1; i < RCMAX; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		ASSERT_EQ(0, rlfs_clone_file("a", name));
	}
	EXPECT_EQ(RCMAX, refcount_path("a", 0));
	EXPECT_EQ(RCMAX, refcount_path("a", 3));
	/* FICLONE onto an existing file: it stays as it was */
	ASSERT_EQ(0, rlfs_make_file("x", 2 * BS, 9, true));
	EXPECT_EQ(-EMLINK, rlfs_clone_file_keep("a", "x"));
	EXPECT_EQ(0, rlfs_verify_file("x", 2 * BS, 9));
	EXPECT_EQ(1, refcount_path("x", 0));
	/* the reflink ioctl makes no file */
	fa = open("a", O_RDONLY);
	ASSERT_LE(0, fa);
	EXPECT_EQ(-EMLINK, reflink_ioctl(fa, "r"));
	EXPECT_EQ(-1, stat("r", &st));
	EXPECT_EQ(ENOENT, errno);
	/* dedupe of equal contents: the per-destination status */
	ASSERT_EQ(0, rlfs_make_file("y", 4 * BS, 7, true));
	fd = open("y", O_RDWR);
	ASSERT_LE(0, fd);
	r = dedupe_range(fa, 0, 4 * BS, fd, 0);
	EXPECT_EQ(-EMLINK, r);
	EXPECT_EQ(1, refcount_of(fd, 0));
	close(fd);
	EXPECT_EQ(0, rlfs_verify_file("y", 4 * BS, 7));
	/* copy_file_range falls back to copying */
	fx = open("z", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fx);
	n = copy_file_range(fa, NULL, fx, NULL, 4 * BS, 0);
	EXPECT_EQ((ssize_t)(4 * BS), n) {
		TH_LOG("copy_file_range: %s", strerror(errno));
	}
	EXPECT_EQ(1, refcount_of(fx, 0));
	close(fx);
	EXPECT_EQ(0, rlfs_verify_file("z", 4 * BS, 7));
	EXPECT_EQ(RCMAX, refcount_of(fa, 0));
	/* dropping a reference makes room for one clone */
	ASSERT_EQ(0, unlink("c1"));
	for (i = 0; i < 50 && refcount_of(fa, 0) == RCMAX; i++)
		usleep(100000);		/* a deferred iput frees it */
	EXPECT_EQ(RCMAX - 1, refcount_of(fa, 0));
	EXPECT_EQ(0, rlfs_clone_file("a", "c1"));
	EXPECT_EQ(-EMLINK, rlfs_clone_file("a", "c5"));
	/* cleared: the format's limit again */
	ASSERT_EQ(0, rlfs_run(0, "'%s' inject . --clear", tool_path()));
	EXPECT_EQ(0, rlfs_clone_file("a", "c5"));
	EXPECT_EQ(RCMAX + 1, refcount_of(fa, 0));
	close(fa);
	for (i = 1; i <= RCMAX; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		EXPECT_EQ(0, rlfs_verify_file(name, 4 * BS, 7));
	}
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("a", 4 * BS, 7));
	EXPECT_EQ(0, rlfs_verify_file("x", 2 * BS, 9));
	EXPECT_EQ(0, rlfs_verify_file("y", 4 * BS, 7));
}

/*
 * FICLONERANGE of one block into many offsets of one file stops at the
 * limit; a range whose second piece is at the limit clones its first
 * piece only (a clone stops between whole pieces) and leaves the rest.
 */
TEST_F_TIMEOUT(rclimit, many_offsets_and_prefix, T_CASE)
{
	int fs_, fe, fq, i, r;

	RCLIMIT_ARM(&self->fs);
	ASSERT_EQ(0, rlfs_make_file("s", 2 * BS, 3, true));
	ASSERT_EQ(0, rlfs_make_file("e", 16 * BS, 4, true));
	fs_ = open("s", O_RDONLY);
	fe = open("e", O_RDWR);
	ASSERT_LE(0, fs_);
	ASSERT_LE(0, fe);
	/* s block 1 into offsets 0.. of e: RCMAX - 1 succeed */
	for (i = 0; i < 16; i++) {
		r = clone_range(fs_, BS, BS, fe, (uint64_t)i * BS);
		if (r)
			break;
	}
	EXPECT_EQ(RCMAX - 1, i);
	EXPECT_EQ(-EMLINK, r);
	EXPECT_EQ(RCMAX, refcount_of(fs_, 1));
	EXPECT_EQ(1, refcount_of(fs_, 0));
	/* e: the clones, then its own blocks untouched */
	for (i = 0; i < 16; i++) {
		uint8_t buf[BS], want[BS];

		ASSERT_EQ((ssize_t)BS, pread(fe, buf, BS, (off_t)i * BS));
		if (i < RCMAX - 1)
			rlfs_fill(want, BS, BS, 3);
		else
			rlfs_fill(want, BS, (uint64_t)i * BS, 4);
		EXPECT_EQ(0, memcmp(buf, want, BS)) {
			TH_LOG("e block %d", i);
		}
	}
	/* s[0, 2): block 0 clones, block 1 is at the limit */
	ASSERT_EQ(0, rlfs_make_file("q", 2 * BS, 5, true));
	fq = open("q", O_RDWR);
	ASSERT_LE(0, fq);
	EXPECT_EQ(-EMLINK, clone_range(fs_, 0, 2 * BS, fq, 0));
	EXPECT_EQ(2, refcount_of(fq, 0));
	EXPECT_EQ(1, refcount_of(fq, 1));
	EXPECT_EQ(0, rlfs_verify(fq, 0, BS, 3));
	EXPECT_EQ(0, rlfs_verify(fq, BS, BS, 5));
	/* a write to a shared block still works at the limit (CoW) */
	EXPECT_EQ(0, rlfs_write_pattern(fe, 0, BS, 8));
	EXPECT_EQ(RCMAX - 1, refcount_of(fs_, 1));
	EXPECT_EQ(0, clone_range(fs_, BS, BS, fe, 0));
	close(fq);
	close(fe);
	close(fs_);
	RLFS_REMOUNT(&self->fs);
	EXPECT_EQ(0, rlfs_verify_file("s", 2 * BS, 3));
	fq = open("q", O_RDONLY);
	ASSERT_LE(0, fq);
	EXPECT_EQ(0, rlfs_verify(fq, 0, BS, 3));
	EXPECT_EQ(0, rlfs_verify(fq, BS, BS, 5));
	close(fq);
}

/* Concurrent cloners of one block against a low limit: no count passes
 * it, every refusal is EMLINK, and the counts stay exact (fsck). */
static void w_limit_cloner(int idx, void *arg)
{
	int fs_ = open("s", O_RDONLY), fd, r;
	char name[32];

	(void)arg;
	snprintf(name, sizeof(name), "lc%d", idx);
	fd = open(name, O_CREAT | O_RDWR, 0644);
	if (fs_ < 0 || fd < 0 || ftruncate(fd, 8 * BS)) {
		wfail("limit cloner: open: %s", strerror(errno));
		return;
	}
	while (!sh->stop) {
		uint32_t off = rndn(8);

		r = clone_range(fs_, 0, BS, fd, (uint64_t)off * BS);
		if (r && r != -EMLINK) {
			wfail("FICLONERANGE at the limit: %s", strerror(-r));
			return;
		}
		if (r)
			__atomic_add_fetch(&sh->busy, 1, __ATOMIC_RELAXED);
		if (refcount_of(fs_, 0) > RCMAX) {
			wfail("refcount %ld passed the limit %d",
			      refcount_of(fs_, 0), RCMAX);
			return;
		}
		/* and drop one again: punch or CoW */
		if (rndn(2))
			r = fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE,
				      (off_t)rndn(8) * BS, BS);
		else
			r = fallocate(fd, FALLOC_FL_UNSHARE_RANGE,
				      (off_t)rndn(8) * BS, BS);
		if (r) {
			wfail("punch/unshare: %s", strerror(errno));
			return;
		}
		sh->ops[idx]++;
	}
}

TEST_F_TIMEOUT(rclimit, concurrent, T_CASE)
{
	const struct worker w[] = {
		{ "clone0", w_limit_cloner, NULL },
		{ "clone1", w_limit_cloner, NULL },
		{ "clone2", w_limit_cloner, NULL },
		{ "clone3", w_limit_cloner, NULL },
	};
	int secs = stress_seconds() / 2 + 1;

	RCLIMIT_ARM(&self->fs);
	ASSERT_EQ(0, rlfs_make_file("s", BS, 3, true));
	RUN(w, (int)ARRAY_SIZE(w), secs);
	TH_LOG("%ld clones refused with EMLINK", sh->busy);
	EXPECT_LT(0, sh->busy);
	EXPECT_GE(RCMAX, refcount_path("s", 0));
	EXPECT_EQ(0, rlfs_verify_file("s", BS, 3));
}

TEST_HARNESS_MAIN
