// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_test - immutable snapshots and the read-only ioctls:
 * REFLINKFS_IOC_REFLINK with REFLINKFS_REFLINK_IMMUTABLE and
 * REFLINKFS_REFLINK_LINEAGE, REFLINKFS_IOC_GET_INFO and
 * REFLINKFS_IOC_GET_EXTENTS (include/uapi/linux/reflinkfs.h,
 * Documentation/filesystems/reflinkfs-abi.rst).
 *
 * The same source builds snapshot_test (64-bit) and snapshot_test32
 * (-m32: every ioctl goes through ->compat_ioctl); both must give the
 * same results, so every test but the module reload runs in both.
 *
 * born_immutable_race: two processes try to open for writing (O_WRONLY,
 *	O_RDWR, O_TRUNC, O_APPEND, a reopen of an O_PATH fd through
 *	/proc/self/fd), truncate(2), unlink, rename, link, setxattr and
 *	chmod the names of snapshots while the parent takes 200 of them,
 *	one spinning on the next names, one reacting to inotify IN_CREATE;
 *	no attempt may ever succeed (any success means a writable window),
 *	and each snapshot holds the source's data of the moment it was
 *	taken.
 * mmap_writer_race: a process keeps writing the source through a shared
 *	mapping while 60 snapshots are taken; each snapshot, read right
 *	after it was taken, must read the same from disk at the end (a page
 *	left writable across the snapshot would change the shared block).
 * write_side_eperm: every write-side operation on a snapshot fails as
 *	the VFS rules for an immutable inode say (see the test for each
 *	errno and the rule that gives it), and changes nothing; after
 *	chattr -i it is still a snapshot (INFO_SNAPSHOT without
 *	INFO_IMMUTABLE), and after chattr +i again even a writable fd
 *	opened in between cannot clone, dedupe, copy or fallocate into it.
 * unprivileged: IMMUTABLE (alone, with PRESERVE, with LINEAGE) needs
 *	CAP_LINUX_IMMUTABLE: uid 65534 and root without the capability get
 *	EPERM, no file and no lineage on the source; LINEAGE alone needs no
 *	capability; the owner of a snapshot cannot chattr -i, unlink or
 *	open it for writing.
 * info_fields: GET_INFO of a plain file, a reflink, a snapshot
 *	(IMMUTABLE, IMMUTABLE|PRESERVE, IMMUTABLE|LINEAGE) and an O_WRONLY
 *	fd: ino (st_ino), generation (FS_IOC_GETVERSION), origin, lineage,
 *	snap_time (statx birth time, within the call), size.
 * lineage: a snapshot gives its source a lineage (0 before, non-zero and
 *	equal to the snapshot's after) that never changes; a plain reflink
 *	has none, a LINEAGE reflink (of the file or of a snapshot) carries
 *	it, a snapshot of a snapshot names the snapshot as origin and keeps
 *	the lineage; another file gets another lineage; a reflink of a
 *	snapshot without IMMUTABLE is an ordinary writable file; when the
 *	origin's inode number is reused, the generation differs.
 * exact_sequence: a sequence of writes, reflinks, snapshots, FICLONE,
 *	CoW, punches (whole and partial blocks), UNSHARE_RANGE (with a
 *	hole), FICLONERANGE into another file and within one file,
 *	truncate, fallocate KEEP_SIZE past EOF, unlink, remount; after each
 *	step the test's own model of every block (which physical block, how
 *	many references) must equal GET_INFO (size, shared and exclusive
 *	bytes) and GET_EXTENTS (every run: logical, length, refcount,
 *	physical equal between sharers and distinct otherwise, maximal runs,
 *	LAST), and FIEMAP's physical addresses and shared flags.
 * refcount_fan: 6 references to one extent, dropped one by one.
 * extents_paging: count = 0 sizing, pagination with next for several
 *	counts, windows (in a hole, mid-run, past EOF, to the end, past the
 *	largest offset, overflowing), next of an exhausted range, LAST.
 * self_mapped_buffers: GET_EXTENTS and GET_INFO copying out into a
 *	shared mapping of the file asked about (the copy-out faults on that
 *	file and copies a shared block): no deadlock, the clone and the
 *	snapshot unchanged, exact counts after; a snapshot's private mapping
 *	as the buffer works, its read-only shared mapping is EFAULT.
 * abi_args: size versioning (VER0, VER0 + 8 zero tail, a page of zeros,
 *	non-zero tail E2BIG, short EINVAL), the bytes after the caller's
 *	size never touched, flags/reserved EINVAL, out fields ignored on
 *	input, bad argument and extents pointers EFAULT (NULL, unmapped,
 *	read-only, straddling a guard page, high bits set), directory EINVAL,
 *	O_PATH EBADF, bad REFLINK flags with IMMUTABLE.
 * persist_remount: the snapshot record (immutable flag, INFO_SNAPSHOT,
 *	origin, generation, lineage, snap time, sharing, extents) survives a
 *	remount and a drop of the caches; new snapshots join the lineage.
 * persist_module_reload (64-bit only; needs RLFS_MODULE): the same across
 *	umount, fsck -n, rmmod and insmod; runs last in the program.
 *
 * Every test ends with an unmount and "fsck.reflinkfs -n" clean.
 * Environment: see rlfs_util.h; RLFS_MODULE for the module reload.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

/* rlfs_tool()'s snprintf, once inlined here, trips -Wformat-truncation */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "rlfs_util.h"
#pragma GCC diagnostic pop
#include "uapi/linux/reflinkfs.h"

/*
 * -m32: the harness's setjmp() wrapper inlines each test body, and gcc
 * warns that the EXPECT temporaries "might be clobbered by longjmp";
 * none is used after the longjmp of a failed ASSERT.
 */
#pragma GCC diagnostic ignored "-Wclobbered"

#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE	0x40
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE		(1 << 1)
#endif

#define BS		4096ULL
#define T_SNAP		120
#define IMM		REFLINKFS_REFLINK_IMMUTABLE
#define LIN		REFLINKFS_REFLINK_LINEAGE
#define PRES		REFLINKFS_REFLINK_PRESERVE
#define SNAPFL		(REFLINKFS_INFO_SNAPSHOT | REFLINKFS_INFO_IMMUTABLE | \
			 REFLINKFS_INFO_LINEAGE)
#define NOBODY		65534

/* One layout for 32-bit and 64-bit callers: no compat translation. */
_Static_assert(sizeof(struct reflinkfs_info) == REFLINKFS_INFO_SIZE_VER0,
	       "reflinkfs_info size");
_Static_assert(sizeof(struct reflinkfs_extents_args) ==
	       REFLINKFS_EXTENTS_SIZE_VER0, "reflinkfs_extents_args size");
_Static_assert(sizeof(struct reflinkfs_extent) == 48, "reflinkfs_extent");
_Static_assert(sizeof(struct reflinkfs_reflink_args) == 48, "reflink args");
_Static_assert(_IOC_SIZE(REFLINKFS_IOC_GET_INFO) == 152, "GET_INFO nr");
_Static_assert(_IOC_SIZE(REFLINKFS_IOC_GET_EXTENTS) == 80, "GET_EXTENTS nr");

/* ---- ioctl wrappers ----------------------------------------------------- */

static int rl(int srcfd, int dirfd, const char *name, uint32_t flags)
{
	struct reflinkfs_reflink_args a;

	memset(&a, 0, sizeof(a));
	a.dest_dirfd = dirfd;
	a.flags = flags;
	a.dest_name = (uintptr_t)name;
	return ioctl(srcfd, REFLINKFS_IOC_REFLINK, &a) ? -errno : 0;
}

/* REFLINKFS_IOC_REFLINK of @src to @dst (relative to the cwd). */
static int rlp(const char *src, const char *dst, uint32_t flags)
{
	int fd = open(src, O_RDONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = rl(fd, AT_FDCWD, dst, flags);
	close(fd);
	return ret;
}

static int info_fd(int fd, struct reflinkfs_info *in)
{
	memset(in, 0, sizeof(*in));
	in->size = sizeof(*in);
	return ioctl(fd, REFLINKFS_IOC_GET_INFO, in) ? -errno : 0;
}

static int info_path(const char *path, struct reflinkfs_info *in)
{
	int fd = open(path, O_RDONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = info_fd(fd, in);
	close(fd);
	return ret;
}

/* GET_EXTENTS of [start, start + len): *count in/out, *next out. */
static int extents_fd(int fd, uint64_t start, uint64_t len,
		      struct reflinkfs_extent *ext, uint32_t *count,
		      uint64_t *next)
{
	struct reflinkfs_extents_args a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.start = start;
	a.length = len;
	a.extents = (uintptr_t)ext;
	a.count = *count;
	if (ioctl(fd, REFLINKFS_IOC_GET_EXTENTS, &a))
		return -errno;
	*count = a.count;
	if (next)
		*next = a.next;
	return 0;
}

/* FS_IOC_GETVERSION (i_generation) of @path, or -errno. */
static long long getversion(const char *path)
{
	long v = 0;
	int fd = open(path, O_RDONLY);
	long long ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, FS_IOC_GETVERSION, &v) ? -errno : (long long)(uint32_t)v;
	close(fd);
	return ret;
}

static int get_btime(const char *path, struct statx_timestamp *ts)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, 0, STATX_BTIME, &stx))
		return -errno;
	if (!(stx.stx_mask & STATX_BTIME))
		return -ENODATA;
	*ts = stx.stx_btime;
	return 0;
}

static bool immutable(const char *path)
{
	unsigned int fl = rlfs_get_iflags(path);

	return fl != ~0U && (fl & FS_IMMUTABLE_FL);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

static long long free_inodes(void)
{
	struct statfs sf;

	sync();
	return statfs(".", &sf) ? -1 : (long long)sf.f_ffree;
}

static void dump_info(const char *what, const struct reflinkfs_info *in)
{
	fprintf(stderr, "# %s: size %u flags %u info_flags 0x%" PRIx64
		" ino %" PRIu64 " gen %u origin %" PRIu64 "/%u lineage 0x%"
		PRIx64 " snap_time %" PRId64 ".%09u size_bytes %" PRIu64
		" shared %" PRIu64 " exclusive %" PRIu64 "\n", what, in->size,
		in->flags, (uint64_t)in->info_flags, (uint64_t)in->ino,
		in->generation, (uint64_t)in->origin_ino,
		in->origin_generation, (uint64_t)in->lineage,
		(int64_t)in->snap_time_sec, in->snap_time_nsec,
		(uint64_t)in->size_bytes, (uint64_t)in->shared_bytes,
		(uint64_t)in->exclusive_bytes);
}

static void dump_extents(const char *what, const struct reflinkfs_extent *e,
			 uint32_t n)
{
	uint32_t i;

	fprintf(stderr, "# %s: %u runs\n", what, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "#   [%u] logical %" PRIu64 " (blk %" PRIu64
			") physical %" PRIu64 " (blk %" PRIu64 ") length %"
			PRIu64 " (%" PRIu64 " blks) refcount %u flags 0x%x\n",
			i, (uint64_t)e[i].logical, (uint64_t)(e[i].logical / BS),
			(uint64_t)e[i].physical, (uint64_t)(e[i].physical / BS),
			(uint64_t)e[i].length, (uint64_t)(e[i].length / BS),
			e[i].refcount, e[i].flags);
}

/* Is the reserved tail of every run zero? */
static bool ext_reserved_zero(const struct reflinkfs_extent *e, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (e[i].reserved[0] || e[i].reserved[1])
			return false;
	return true;
}

/* ---- running as someone else ---------------------------------------------- */

struct creds {
	uid_t		uid;
	gid_t		gid;
	uint64_t	drop_caps;	/* 1 << CAP_*: dropped (uid 0) */
};

/* In a child: take @c.  Returns 0 or -errno. */
static int become(const struct creds *c)
{
	if (setgroups(0, NULL) ||
	    setresgid(c->gid, c->gid, c->gid) ||
	    setresuid(c->uid, c->uid, c->uid))
		return -errno;
	return rlfs_drop_caps(c->drop_caps);
}

#define NRES	32

/*
 * Run @fn(res, arg) in a child with credentials @c; it stores one result
 * (0 or -errno) per step in res[].  Returns 0 and copies res[] out, or
 * -1 (after a diagnostic) when the child could not run or crashed.
 */
static int run_as(const struct creds *c, void (*fn)(int *res, void *arg),
		  void *arg, int *out)
{
	int *res = mmap(NULL, NRES * sizeof(int), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int st, i, ret = 0;
	pid_t pid;

	if (res == MAP_FAILED)
		return -1;
	for (i = 0; i < NRES; i++)
		res[i] = 12345;		/* "not reached" */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		munmap(res, NRES * sizeof(int));
		return -1;
	}
	if (pid == 0) {
		int r = become(c);

		if (r) {
			fprintf(stderr, "# uid %u: cannot take the credentials: %s\n",
				c->uid, strerror(-r));
			_exit(1);
		}
		fn(res, arg);
		fflush(NULL);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st)) {
		fprintf(stderr, "# child as uid %u failed (status 0x%x)\n",
			c->uid, st);
		ret = -1;
	}
	memcpy(out, res, NRES * sizeof(int));
	munmap(res, NRES * sizeof(int));
	return ret;
}

/* ---- fixture ------------------------------------------------------------ */

FIXTURE(snap) {
	struct rlfs_fs	fs;
};

FIXTURE_SETUP(snap)
{
	struct statfs sf;

	RLFS_REFLINKFS_ONLY_SETUP("the snapshot ioctls");
	rlfs_fs_setup(&self->fs, RLFS_TEST_BLOCKS);
	ASSERT_EQ(0, statfs(".", &sf));
	ASSERT_EQ((unsigned long)REFLINKFS_SUPER_MAGIC,
		  (unsigned long)sf.f_type) {
		TH_LOG("not a reflinkfs mount (f_type 0x%lx)",
		       (unsigned long)sf.f_type);
	}
	TH_LOG("%zu-bit process", sizeof(long) * 8);
}

FIXTURE_TEARDOWN(snap)
{
	rlfs_fs_teardown(&self->fs);
}

/* ---- the block model ------------------------------------------------------ */

/*
 * What the test expects of the filesystem: for every file, which block
 * identity each logical block maps (0: a hole).  An identity stands for
 * one physical block; its reference count is the number of times it is
 * mapped in all files (a file mapping it twice counts twice).  A write
 * to a block whose identity has count >= 2 gives the block a new identity
 * (copy on write); a write to a block with count 1 keeps it.
 */
#define MB		48	/* blocks per model file */
#define MFILES		12
#define MAXID		4096

struct mfile {
	char		name[32];
	uint32_t	id[MB];
	uint64_t	size;
	bool		live;
};

struct model {
	struct mfile	f[MFILES];
	int		n;
	uint32_t	next_id;
	uint64_t	phys[MAXID];	/* identity -> byte address (check) */
};

static int m_new(struct model *m, const char *name)
{
	struct mfile *f;

	if (m->n >= MFILES)
		abort();		/* the test outgrew its model */
	f = &m->f[m->n];

	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->live = true;
	return m->n++;
}

static unsigned int m_rc(const struct model *m, uint32_t id)
{
	unsigned int n = 0;
	int i, b;

	if (!id)
		return 0;
	for (i = 0; i < m->n; i++)
		if (m->f[i].live)
			for (b = 0; b < MB; b++)
				n += m->f[i].id[b] == id;
	return n;
}

static uint32_t m_newid(struct model *m)
{
	if (m->next_id + 1 >= MAXID)
		abort();
	return ++m->next_id;
}

/* A write of (part of) block @b. */
static void m_write(struct model *m, int fi, unsigned int b, unsigned int n)
{
	for (; n--; b++) {
		uint32_t *p = &m->f[fi].id[b];

		if (!*p || m_rc(m, *p) >= 2)
			*p = m_newid(m);
	}
}

static void m_grow(struct model *m, int fi, uint64_t end)
{
	if (end > m->f[fi].size)
		m->f[fi].size = end;
}

/* Zeroing of part of a block (partial punch, truncate): CoW if shared. */
static void m_zero_partial(struct model *m, int fi, unsigned int b)
{
	uint32_t *p = &m->f[fi].id[b];

	if (*p && m_rc(m, *p) >= 2)
		*p = m_newid(m);
}

static void m_punch(struct model *m, int fi, unsigned int b, unsigned int n)
{
	for (; n--; b++)
		m->f[fi].id[b] = 0;
}

/* fallocate mode 0 / KEEP_SIZE: holes get blocks. */
static void m_alloc(struct model *m, int fi, unsigned int b, unsigned int n)
{
	for (; n--; b++)
		if (!m->f[fi].id[b])
			m->f[fi].id[b] = m_newid(m);
}

/* UNSHARE_RANGE inside EOF: holes allocated, shared blocks copied. */
static void m_unshare(struct model *m, int fi, unsigned int b, unsigned int n)
{
	for (; n--; b++) {
		uint32_t *p = &m->f[fi].id[b];

		if (!*p || m_rc(m, *p) >= 2)
			*p = m_newid(m);
	}
}

static void m_clone(struct model *m, int dfi, unsigned int db, int sfi,
		    unsigned int sb, unsigned int n)
{
	uint32_t tmp[MB];

	memcpy(tmp, &m->f[sfi].id[sb], n * sizeof(uint32_t));
	memcpy(&m->f[dfi].id[db], tmp, n * sizeof(uint32_t));
}

/* REFLINKFS_IOC_REFLINK: every block, past EOF included, and the size. */
static int m_reflink(struct model *m, int sfi, const char *name)
{
	int fi = m_new(m, name);

	memcpy(m->f[fi].id, m->f[sfi].id, sizeof(m->f[fi].id));
	m->f[fi].size = m->f[sfi].size;
	return fi;
}

static void m_truncate(struct model *m, int fi, uint64_t size)
{
	unsigned int keep = (size + BS - 1) / BS, b;

	for (b = keep; b < MB; b++)
		m->f[fi].id[b] = 0;
	if (size < m->f[fi].size && size % BS)
		m_zero_partial(m, fi, size / BS);
	m->f[fi].size = size;
}

/* Per-block physical addresses and shared flags from FIEMAP (0: none). */
static int fiemap_blocks(int fd, uint64_t *phys, char *shared)
{
	const unsigned int cnt = 64;
	size_t sz = sizeof(struct fiemap) + cnt * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	uint64_t start = 0, end = MB * BS;
	int ret = 0;

	if (!fm)
		return -ENOMEM;
	memset(phys, 0, MB * sizeof(*phys));
	memset(shared, 0, MB);
	while (start < end) {
		struct fiemap_extent *last;
		unsigned int i;

		memset(fm, 0, sz);
		fm->fm_start = start;
		fm->fm_length = end - start;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = cnt;
		if (ioctl(fd, FS_IOC_FIEMAP, fm)) {
			ret = -errno;
			break;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *fe = &fm->fm_extents[i];
			uint64_t b, off;

			for (off = 0; off < fe->fe_length; off += BS) {
				b = (fe->fe_logical + off) / BS;
				if (b >= MB)
					break;
				phys[b] = fe->fe_physical + off;
				shared[b] = !!(fe->fe_flags &
					       FIEMAP_EXTENT_SHARED);
			}
		}
		last = &fm->fm_extents[fm->fm_mapped_extents - 1];
		if (last->fe_flags & FIEMAP_EXTENT_LAST ||
		    last->fe_logical + last->fe_length <= start)
			break;
		start = last->fe_logical + last->fe_length;
	}
	free(fm);
	return ret;
}

/*
 * Compare file @fi with the model: GET_INFO's size and sharing totals,
 * every run of GET_EXTENTS, and FIEMAP.  Physical addresses are learnt
 * per identity in m->phys (reset by check_all): the blocks of one
 * identity must be one physical block in every file, two identities two
 * blocks.
 */
static void check_file(struct __test_metadata *_metadata, struct model *m,
		       int fi, const char *step)
{
	struct mfile *f = &m->f[fi];
	struct reflinkfs_extent ext[MB + 4], want[MB + 4];
	uint64_t gphys[MB], fphys[MB], shared = 0, excl = 0, next = 0;
	uint32_t grc[MB], cnt = MB + 4, nwant = 0, i;
	bool gmap[MB], bad = false;
	char fshared[MB];
	struct reflinkfs_info in;
	unsigned int b;
	int fd, r, j;

	fd = open(f->name, O_RDONLY);
	ASSERT_LE(0, fd) {
		TH_LOG("%s: open %s: %s", step, f->name, strerror(errno));
	}
	EXPECT_EQ(0, fsync(fd));
	for (b = 0; b < MB; b++) {
		unsigned int rc = m_rc(m, f->id[b]);

		if (rc >= 2)
			shared += BS;
		else if (rc == 1)
			excl += BS;
	}
	r = info_fd(fd, &in);
	EXPECT_EQ(0, r) {
		TH_LOG("%s: GET_INFO %s: %s", step, f->name, strerror(-r));
	}
	if (!r) {
		EXPECT_EQ(f->size, in.size_bytes) {
			TH_LOG("%s: %s: size_bytes", step, f->name);
		}
		EXPECT_EQ(shared, in.shared_bytes) {
			TH_LOG("%s: %s: shared_bytes", step, f->name);
		}
		EXPECT_EQ(excl, in.exclusive_bytes) {
			TH_LOG("%s: %s: exclusive_bytes", step, f->name);
		}
	}

	memset(ext, 0xa5, sizeof(ext));
	r = extents_fd(fd, 0, ~0ULL, ext, &cnt, &next);
	EXPECT_EQ(0, r) {
		TH_LOG("%s: GET_EXTENTS %s: %s", step, f->name, strerror(-r));
	}
	if (r) {
		close(fd);
		return;
	}
	EXPECT_GT((uint32_t)(MB + 4), cnt) {
		TH_LOG("%s: %s: %u runs for a %u-block file", step, f->name,
		       cnt, MB);
	}
	if (cnt >= MB + 4) {
		close(fd);
		return;
	}
	/* Every run well formed; expand them to blocks. */
	memset(gmap, 0, sizeof(gmap));
	for (i = 0; i < cnt; i++) {
		const struct reflinkfs_extent *e = &ext[i];
		bool ok = e->logical % BS == 0 && e->physical % BS == 0 &&
			  e->length && e->length % BS == 0 &&
			  e->refcount >= 1 && e->logical / BS + e->length / BS <= MB &&
			  !(e->flags & ~REFLINKFS_EXTENT_LAST) &&
			  !!(e->flags & REFLINKFS_EXTENT_LAST) == (i == cnt - 1) &&
			  (i == 0 || e->logical >= ext[i - 1].logical +
						   ext[i - 1].length);

		EXPECT_TRUE(ok) {
			TH_LOG("%s: %s: run %u is malformed, out of order or "
			       "has a wrong LAST flag", step, f->name, i);
			bad = true;
		}
		if (!ok)
			continue;
		for (b = e->logical / BS; b < (e->logical + e->length) / BS; b++) {
			gmap[b] = true;
			gphys[b] = e->physical + (b * BS - e->logical);
			grc[b] = e->refcount;
		}
	}
	EXPECT_TRUE(ext_reserved_zero(ext, cnt)) {
		TH_LOG("%s: %s: non-zero reserved words in a run", step,
		       f->name);
		bad = true;
	}
	/* Blocks: mapped set, counts, physical identity. */
	for (b = 0; b < MB; b++) {
		uint32_t id = f->id[b];

		EXPECT_EQ(!!id, gmap[b]) {
			TH_LOG("%s: %s: block %u is %s, want %s", step, f->name,
			       b, gmap[b] ? "mapped" : "a hole",
			       id ? "mapped" : "a hole");
			bad = true;
		}
		if (!id || !gmap[b])
			continue;
		EXPECT_EQ(m_rc(m, id), grc[b]) {
			TH_LOG("%s: %s: block %u refcount", step, f->name, b);
			bad = true;
		}
		if (m->phys[id]) {
			EXPECT_EQ(m->phys[id], gphys[b]) {
				TH_LOG("%s: %s: block %u is not the block it "
				       "shares with another mapping", step,
				       f->name, b);
				bad = true;
			}
		} else {
			uint32_t o;

			for (o = 1; o < MAXID; o++) {
				if (m->phys[o] != gphys[b])
					continue;
				EXPECT_EQ(o, id) {
					TH_LOG("%s: %s: block %u maps physical "
					       "%" PRIu64 ", which another "
					       "unshared block maps too", step,
					       f->name, b, gphys[b]);
					bad = true;
				}
				break;
			}
			m->phys[id] = gphys[b];
		}
	}
	/* The runs, computed from the model and the physical addresses. */
	for (b = 0; b < MB; b++) {
		struct reflinkfs_extent *w;
		unsigned int rc = m_rc(m, f->id[b]);

		if (!f->id[b] || !gmap[b])
			continue;
		w = nwant ? &want[nwant - 1] : NULL;
		if (w && w->logical + w->length == b * BS &&
		    w->physical + w->length == gphys[b] && w->refcount == rc) {
			w->length += BS;
			continue;
		}
		w = &want[nwant++];
		memset(w, 0, sizeof(*w));
		w->logical = b * BS;
		w->physical = gphys[b];
		w->length = BS;
		w->refcount = rc;
	}
	if (nwant)
		want[nwant - 1].flags = REFLINKFS_EXTENT_LAST;
	EXPECT_EQ(nwant, cnt) {
		TH_LOG("%s: %s: number of runs", step, f->name);
		bad = true;
	}
	for (i = 0; i < nwant && i < cnt; i++) {
		EXPECT_EQ(0, memcmp(&want[i], &ext[i], sizeof(ext[i]))) {
			TH_LOG("%s: %s: run %u differs", step, f->name, i);
			bad = true;
		}
	}
	/* FIEMAP: the same physical blocks, shared flag = count >= 2. */
	r = fiemap_blocks(fd, fphys, fshared);
	EXPECT_EQ(0, r);
	for (b = 0; !r && b < MB; b++) {
		if (!f->id[b] || !gmap[b])
			continue;
		if (!fphys[b] && b * BS >= f->size)
			continue;	/* FIEMAP need not report past EOF */
		EXPECT_EQ(gphys[b], fphys[b]) {
			TH_LOG("%s: %s: block %u: FIEMAP physical differs",
			       step, f->name, b);
			bad = true;
		}
		EXPECT_EQ(grc[b] >= 2, fshared[b]) {
			TH_LOG("%s: %s: block %u: FIEMAP shared flag", step,
			       f->name, b);
			bad = true;
		}
	}
	if (bad) {
		char line[MB * 4 + 1];
		int n = 0;

		for (j = 0; j < MB; j++)
			n += snprintf(line + n, sizeof(line) - n, "%u:%u ",
				      f->id[j], m_rc(m, f->id[j]));
		fprintf(stderr, "# %s: model of %s (id:refs per block): %s\n",
			step, f->name, line);
		dump_extents("want", want, nwant);
		dump_extents("got", ext, cnt);
	}
	close(fd);
}

static void check_all(struct __test_metadata *_metadata, struct model *m,
		      const char *step)
{
	int i;

	memset(m->phys, 0, sizeof(m->phys));
	for (i = 0; i < m->n; i++)
		if (m->f[i].live)
			check_file(_metadata, m, i, step);
}

/* ---- file operations that keep the model ----------------------------------- */

static int do_pwrite(const char *path, uint64_t off, size_t len, uint32_t seed)
{
	int fd = open(path, O_WRONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = rlfs_write_pattern(fd, off, len, seed);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

static int do_falloc(const char *path, int mode, uint64_t off, uint64_t len)
{
	int fd = open(path, O_WRONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = fallocate(fd, mode, off, len) ? -errno : 0;
	close(fd);
	return ret;
}

static int do_clone_range(const char *src, uint64_t soff, uint64_t len,
			  const char *dst, uint64_t doff)
{
	struct file_clone_range r;
	int s = open(src, O_RDONLY), d = open(dst, O_RDWR | O_CREAT, 0644);
	int ret;

	if (s < 0 || d < 0) {
		ret = -errno;
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.src_fd = s;
	r.src_offset = soff;
	r.src_length = len;
	r.dest_offset = doff;
	ret = ioctl(d, FICLONERANGE, &r) ? -errno : 0;
out:
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	return ret;
}

/* ---- born immutable: no writable window ---------------------------------------- */

#define RACE_N		200
#define RACE_BLOCKS	4

struct race {
	volatile int	cur;		/* snapshot being taken */
	volatile int	stop;
	long		attempts[2];
	long		eperm[2];
	long		enoent[2];
	long		other[2];
	long		success[2];
	int		other_errno;
	char		what[160];	/* the first success */
	char		other_what[160];	/* the first other errno */
};

static void snapname(char *buf, size_t len, int i)
{
	snprintf(buf, len, "snaps/s.%03d", i);
}

/* Write-side operations the racing children try on each name. */
#define RACE_OPS	12

/* One operation @op on @name: 0 if it succeeded, else -errno. */
static int race_op(int op, const char *name, const char **what)
{
	static const struct { int flags; const char *what; } modes[] = {
		{ O_WRONLY,			"open O_WRONLY" },
		{ O_RDWR,			"open O_RDWR" },
		{ O_WRONLY | O_TRUNC,		"open O_WRONLY|O_TRUNC" },
		{ O_RDONLY | O_TRUNC,		"open O_RDONLY|O_TRUNC" },
		{ O_WRONLY | O_APPEND,		"open O_WRONLY|O_APPEND" },
	};
	char other[300];
	int fd, p, r;

	if (op < (int)ARRAY_SIZE(modes)) {
		*what = modes[op].what;
		fd = open(name, modes[op].flags);
		if (fd < 0)
			return -errno;
		close(fd);
		return 0;
	}
	snprintf(other, sizeof(other), "%s.x", name);
	switch (op) {
	case 5:
		*what = "truncate(2)";
		return truncate(name, 1) ? -errno : 0;
	case 6:
		*what = "open O_PATH, reopen O_RDWR through /proc/self/fd";
		p = open(name, O_PATH);
		if (p < 0)
			return -errno;
		snprintf(other, sizeof(other), "/proc/self/fd/%d", p);
		fd = open(other, O_RDWR);
		r = fd < 0 ? -errno : 0;
		if (fd >= 0)
			close(fd);
		close(p);
		return r;
	case 7:
		*what = "unlink";
		return unlink(name) ? -errno : 0;
	case 8:
		*what = "rename";
		return rename(name, other) ? -errno : 0;
	case 9:
		*what = "link";
		return link(name, other) ? -errno : 0;
	case 10:
		*what = "setxattr";
		return setxattr(name, "user.x", "x", 1, 0) ? -errno : 0;
	default:
		*what = "chmod";
		return chmod(name, 0666) ? -errno : 0;
	}
}

/* Every operation once on @name; counts the outcomes in slot @k. */
static void race_try(struct race *sh, int k, const char *name)
{
	const char *what = "";
	int op, r;

	for (op = 0; op < RACE_OPS; op++) {
		r = race_op(op, name, &what);
		sh->attempts[k]++;
		if (!r) {
			if (!sh->success[k]++)
				snprintf(sh->what, sizeof(sh->what),
					 "%s of %s succeeded", what, name);
		} else if (r == -EPERM) {
			sh->eperm[k]++;
		} else if (r == -ENOENT) {
			sh->enoent[k]++;
		} else if (!sh->other[k]++) {
			sh->other_errno = -r;
			snprintf(sh->other_what, sizeof(sh->other_what),
				 "%s of %s: %s", what, name, strerror(-r));
		}
	}
}

/* Spin on the snapshot being taken and the next one. */
static void race_spinner(struct race *sh)
{
	char name[64];
	int i;

	while (!sh->stop) {
		i = sh->cur;
		snapname(name, sizeof(name), i);
		race_try(sh, 0, name);
		snapname(name, sizeof(name), i + 1);
		race_try(sh, 0, name);
	}
}

/* Try every name as soon as inotify reports it created. */
static void race_notified(struct race *sh, int ifd)
{
	char buf[4096] __attribute__((aligned(8)));
	char name[300];

	while (!sh->stop) {
		struct pollfd p = { .fd = ifd, .events = POLLIN };
		ssize_t n, off;

		if (poll(&p, 1, 20) <= 0)
			continue;
		n = read(ifd, buf, sizeof(buf));
		for (off = 0; n > 0 && off < n;) {
			struct inotify_event *ev = (void *)(buf + off);

			if (ev->len) {
				snprintf(name, sizeof(name), "snaps/%s", ev->name);
				race_try(sh, 1, name);
			}
			off += sizeof(*ev) + ev->len;
		}
	}
}

TEST_F_TIMEOUT(snap, born_immutable_race, T_SNAP)
{
	uint32_t seeds[RACE_N][RACE_BLOCKS], cur[RACE_BLOCKS];
	struct reflinkfs_info si, ai;
	struct race *sh;
	pid_t pid[2];
	int fa, ifd, i, b, k, st, r, made;
	char name[64];

	ASSERT_EQ(0, mkdir("snaps", 0777));
	ASSERT_EQ(0, chmod("snaps", 0777));
	fa = open("a", O_CREAT | O_RDWR, 0666);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, fchmod(fa, 0666));
	for (b = 0; b < RACE_BLOCKS; b++) {
		cur[b] = 100 + b;
		ASSERT_EQ(0, rlfs_write_pattern(fa, b * BS, BS, cur[b]));
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	ifd = inotify_init1(IN_NONBLOCK);
	ASSERT_LE(0, ifd);
	ASSERT_LE(0, inotify_add_watch(ifd, "snaps", IN_CREATE));
	fflush(NULL);
	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		ASSERT_LE(0, pid[k]);
		if (pid[k] == 0) {
			if (k == 0)
				race_spinner(sh);
			else
				race_notified(sh, ifd);
			_exit(0);
		}
	}
	close(ifd);
	for (i = 0; i < RACE_N; i++) {
		/* the source changes between snapshots: point in time */
		b = i % RACE_BLOCKS;
		cur[b] = 1000 + i;
		EXPECT_EQ(0, rlfs_write_pattern(fa, b * BS, BS, cur[b]));
		memcpy(seeds[i], cur, sizeof(cur));
		sh->cur = i;
		snapname(name, sizeof(name), i);
		r = rl(fa, AT_FDCWD, name, IMM);
		EXPECT_EQ(0, r) {
			TH_LOG("snapshot %d: %s", i, strerror(-r));
		}
		if (r)
			break;
	}
	made = i;
	usleep(200000);		/* let the notified child see the last */
	sh->stop = 1;
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(pid[k], waitpid(pid[k], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (k = 0; k < 2; k++)
		TH_LOG("%s: %ld attempts, %ld EPERM, %ld ENOENT, %ld other, "
		       "%ld successes", k ? "inotify" : "spinner",
		       sh->attempts[k], sh->eperm[k], sh->enoent[k],
		       sh->other[k], sh->success[k]);
	EXPECT_EQ(0, sh->success[0] + sh->success[1]) {
		TH_LOG("writable window: %s", sh->what);
	}
	EXPECT_EQ(0, sh->other[0] + sh->other[1]) {
		TH_LOG("unexpected errno: %s", sh->other_what);
	}
	/* Both children really raced with existing snapshots. */
	EXPECT_LT(0, sh->eperm[0]);
	EXPECT_LT(0, sh->eperm[1]);
	/* the notified child saw (nearly) every snapshot */
	EXPECT_LE((long)RACE_N * RACE_OPS / 2, sh->attempts[1]);
	munmap(sh, sizeof(*sh));

	ASSERT_EQ(0, info_fd(fa, &ai));
	EXPECT_NE(0ULL, (unsigned long long)ai.lineage);
	EXPECT_EQ((uint64_t)RACE_BLOCKS * BS, ai.shared_bytes);
	ASSERT_EQ(RACE_N, made);
	for (i = 0; i < RACE_N; i++) {
		int fd;

		snapname(name, sizeof(name), i);
		EXPECT_TRUE(immutable(name)) {
			TH_LOG("%s is not immutable", name);
		}
		ASSERT_EQ(0, info_path(name, &si));
		EXPECT_EQ((uint64_t)SNAPFL, si.info_flags) {
			TH_LOG("%s", name);
		}
		EXPECT_EQ(ai.ino, si.origin_ino);
		EXPECT_EQ(ai.generation, si.origin_generation);
		EXPECT_EQ(ai.lineage, si.lineage);
		fd = open(name, O_RDONLY);
		ASSERT_LE(0, fd);
		for (b = 0; b < RACE_BLOCKS; b++) {
			EXPECT_EQ(0, rlfs_verify(fd, b * BS, BS, seeds[i][b])) {
				TH_LOG("%s block %d: not the data of its time",
				       name, b);
			}
		}
		close(fd);
	}
	close(fa);
}

/*
 * A process writing the source through a shared mapping while snapshots
 * are taken: a page made writable before a snapshot must fault again
 * (and copy the block) before it can change the shared block, or the
 * snapshot would change after it was taken.  Each snapshot is read right
 * after it is taken and again from disk at the end: both must be equal.
 */
#define MMAP_N		60
#define MMAP_BLOCKS	4

TEST_F_TIMEOUT(snap, mmap_writer_race, T_SNAP)
{
	const size_t len = MMAP_BLOCKS * BS;
	volatile int *stop;
	uint8_t *copies, *buf;
	int fa, i, st, distinct = 0;
	char name[64];
	pid_t pid;

	copies = malloc(MMAP_N * len);
	buf = malloc(len);
	ASSERT_TRUE(copies && buf);
	ASSERT_EQ(0, rlfs_make_file("a", len, 1, true));
	ASSERT_EQ(0, mkdir("m", 0755));
	stop = mmap(NULL, sizeof(*stop), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(stop != MAP_FAILED);
	*stop = 0;
	fa = open("a", O_RDWR);
	ASSERT_LE(0, fa);
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fa, 0);
		uint64_t v = 1;
		size_t w;

		if (p == MAP_FAILED)
			_exit(1);
		/* every word of a block: one value, the next for the next */
		while (!*stop) {
			for (w = 0; w < len / 8; w++)
				p[w] = v + w / (BS / 8);
			v += MMAP_BLOCKS;
		}
		munmap(p, len);
		_exit(0);
	}
	for (i = 0; i < MMAP_N; i++) {
		int fd, r;

		usleep(2000);
		snprintf(name, sizeof(name), "m/%02d", i);
		r = rl(fa, AT_FDCWD, name, IMM);
		EXPECT_EQ(0, r) {
			TH_LOG("snapshot %s: %s", name, strerror(-r));
		}
		if (r)
			break;
		fd = open(name, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)len, pread(fd, copies + i * len, len, 0));
		close(fd);
		if (i && memcmp(copies + i * len, copies + (i - 1) * len, len))
			distinct++;
	}
	*stop = 1;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ASSERT_EQ(MMAP_N, i);
	ASSERT_EQ(0, fsync(fa));
	close(fa);
	/* the writer was running: the snapshots differ */
	EXPECT_LT(MMAP_N / 4, distinct);
	RLFS_REMOUNT(&self->fs);
	for (i = 0; i < MMAP_N; i++) {
		int fd;

		snprintf(name, sizeof(name), "m/%02d", i);
		fd = open(name, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)len, pread(fd, buf, len, 0));
		close(fd);
		EXPECT_EQ(0, memcmp(buf, copies + i * len, len)) {
			TH_LOG("snapshot %s changed after it was taken", name);
		}
		EXPECT_TRUE(immutable(name));
	}
	free(copies);
	free(buf);
}

/* ---- every write-side operation on a snapshot ----------------------------------- */

#define EXPECT_ERR(err, call) do {					\
	errno = 0;							\
	long __r = (long)(call);					\
	int __e = errno;						\
	EXPECT_EQ(-1L, __r) {						\
		TH_LOG("%s succeeded, want %s", #call, strerror(err));	\
	}								\
	EXPECT_EQ(err, __e) {						\
		TH_LOG("%s: %s, want %s", #call, strerror(__e),		\
		       strerror(err));					\
	}								\
} while (0)

/* FIDEDUPERANGE of @sfd [0, len) onto @dfd at 0: status (or -errno). */
static int dedupe_one(int sfd, int dfd, uint64_t len, uint64_t *done)
{
	struct file_dedupe_range *r = calloc(1, sizeof(*r) +
					     sizeof(struct file_dedupe_range_info));
	int ret;

	if (!r)
		return -ENOMEM;
	r->src_offset = 0;
	r->src_length = len;
	r->dest_count = 1;
	r->info[0].dest_fd = dfd;
	r->info[0].dest_offset = 0;
	r->info[0].bytes_deduped = 12345;
	if (ioctl(sfd, FIDEDUPERANGE, r))
		ret = -errno - 1000;	/* the ioctl itself failed */
	else
		ret = r->info[0].status;
	*done = r->info[0].bytes_deduped;
	free(r);
	return ret;
}

static int clone_into(int dfd, int sfd)
{
	return ioctl(dfd, FICLONE, sfd) ? -errno : 0;
}

static int clone_range_into(int dfd, int sfd)
{
	struct file_clone_range r = {
		.src_fd = sfd, .src_offset = 0, .src_length = BS,
		.dest_offset = BS,
	};

	return ioctl(dfd, FICLONERANGE, &r) ? -errno : 0;
}

/*
 * The snapshot's visible state: what no failed operation may change.
 * atime is left out: reading the data may update it.
 */
struct snapstate {
	struct stat		st;
	struct reflinkfs_info	info;
	char			xattr[32];
	ssize_t			xlen;
};

static void get_state(struct __test_metadata *_metadata, const char *path,
		      struct snapstate *s)
{
	memset(s, 0, sizeof(*s));
	ASSERT_EQ(0, stat(path, &s->st));
	ASSERT_EQ(0, info_path(path, &s->info));
	s->xlen = getxattr(path, "user.k", s->xattr, sizeof(s->xattr));
}

static void expect_same_state(struct __test_metadata *_metadata,
			      const char *path, const struct snapstate *a)
{
	struct snapstate b;

	get_state(_metadata, path, &b);
	EXPECT_EQ(a->st.st_ino, b.st.st_ino);
	EXPECT_EQ(a->st.st_size, b.st.st_size);
	EXPECT_EQ(a->st.st_mode, b.st.st_mode);
	EXPECT_EQ(a->st.st_uid, b.st.st_uid);
	EXPECT_EQ(a->st.st_gid, b.st.st_gid);
	EXPECT_EQ(a->st.st_nlink, b.st.st_nlink);
	EXPECT_EQ(a->st.st_blocks, b.st.st_blocks);
	EXPECT_EQ(a->st.st_mtim.tv_sec, b.st.st_mtim.tv_sec);
	EXPECT_EQ(a->st.st_mtim.tv_nsec, b.st.st_mtim.tv_nsec);
	EXPECT_EQ(a->st.st_ctim.tv_sec, b.st.st_ctim.tv_sec);
	EXPECT_EQ(a->st.st_ctim.tv_nsec, b.st.st_ctim.tv_nsec);
	EXPECT_EQ(0, memcmp(&a->info, &b.info, sizeof(b.info))) {
		dump_info("before", &a->info);
		dump_info("after", &b.info);
	}
	EXPECT_EQ(a->xlen, b.xlen);
	EXPECT_EQ(0, memcmp(a->xattr, b.xattr, sizeof(b.xattr)));
}

TEST_F_TIMEOUT(snap, write_side_eperm, T_SNAP)
{
	const struct timespec ts[2] = {
		{ .tv_sec = 1000000000, .tv_nsec = 0 },
		{ .tv_sec = 1000000000, .tv_nsec = 0 },
	};
	struct snapstate s0, s1;
	struct reflinkfs_info in;
	uint64_t done;
	char proc[64];
	void *p;
	int fa, fz, ro, op, w;
	loff_t off_in, off_out;

	ASSERT_EQ(0, rlfs_make_file("a", 4 * BS, 1, true));
	ASSERT_EQ(0, setxattr("a", "user.k", "v1", 2, 0));
	ASSERT_EQ(0, rlfs_make_file("z", 4 * BS, 1, true));	/* same data */
	ASSERT_EQ(0, rlfs_make_file("x", BS, 2, true));
	ASSERT_EQ(0, rlfs_make_file("y", BS, 3, true));
	ASSERT_EQ(0, rlp("a", "s", IMM | PRES));
	ASSERT_TRUE(immutable("s"));
	get_state(_metadata, "s", &s0);
	EXPECT_EQ((uint64_t)SNAPFL, s0.info.info_flags);
	EXPECT_EQ(2, s0.xlen);		/* PRESERVE copied user.k */
	fa = open("a", O_RDONLY);
	fz = open("z", O_RDONLY);
	ro = open("s", O_RDONLY);	/* reading is fine */
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fz);
	ASSERT_LE(0, ro);

	/* may_open -> inode_permission(MAY_WRITE): immutable -> EPERM;
	 * O_TRUNC asks for MAY_WRITE too. */
	EXPECT_ERR(EPERM, open("s", O_WRONLY));
	EXPECT_ERR(EPERM, open("s", O_RDWR));
	EXPECT_ERR(EPERM, open("s", O_WRONLY | O_TRUNC));
	EXPECT_ERR(EPERM, open("s", O_RDONLY | O_TRUNC));
	EXPECT_ERR(EPERM, open("s", O_WRONLY | O_APPEND));
	EXPECT_ERR(EPERM, open("s", O_RDWR | O_CREAT, 0644));
	EXPECT_ERR(EPERM, open("s", O_WRONLY | O_DIRECT));
	op = open("s", O_PATH);
	ASSERT_LE(0, op);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", op);
	EXPECT_ERR(EPERM, open(proc, O_RDWR));
	close(op);
	/* vfs_truncate: inode_permission(MAY_WRITE) -> EPERM */
	EXPECT_ERR(EPERM, truncate("s", 0));
	EXPECT_ERR(EPERM, truncate("s", 100 * BS));
	/* The only fd there can be is read-only: ftruncate EINVAL,
	 * fallocate EBADF, write EBADF, a shared writable mapping EACCES
	 * (the VFS checks FMODE_WRITE before anything else). */
	EXPECT_ERR(EINVAL, ftruncate(ro, 0));
	EXPECT_ERR(EBADF, fallocate(ro, 0, 0, 8 * BS));
	EXPECT_ERR(EBADF, fallocate(ro, FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, 0, BS));
	EXPECT_ERR(EBADF, pwrite(ro, "x", 1, 0));
	p = mmap(NULL, BS, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	EXPECT_TRUE(p == MAP_FAILED);
	EXPECT_EQ(EACCES, errno);
	if (p != MAP_FAILED)
		munmap(p, BS);
	/* may_setattr: ATTR_MODE/UID/GID/TIMES_SET on an immutable inode
	 * -> EPERM; ATTR_TOUCH (times NULL) -> EPERM */
	EXPECT_ERR(EPERM, chmod("s", 0600));
	EXPECT_ERR(EPERM, fchmod(ro, 0600));
	EXPECT_ERR(EPERM, chown("s", 1, 1));
	EXPECT_ERR(EPERM, fchown(ro, 1, 1));
	EXPECT_ERR(EPERM, lchown("s", 1, -1));
	EXPECT_ERR(EPERM, utimensat(AT_FDCWD, "s", ts, 0));
	EXPECT_ERR(EPERM, utimensat(AT_FDCWD, "s", NULL, 0));
	EXPECT_ERR(EPERM, futimens(ro, NULL));
	/* xattr_permission(MAY_WRITE): immutable -> EPERM, every prefix */
	EXPECT_ERR(EPERM, setxattr("s", "user.new", "v", 1, 0));
	EXPECT_ERR(EPERM, setxattr("s", "user.k", "v2", 2, XATTR_REPLACE));
	EXPECT_ERR(EPERM, removexattr("s", "user.k"));
	EXPECT_ERR(EPERM, fsetxattr(ro, "user.new", "v", 1, 0));
	EXPECT_ERR(EPERM, fremovexattr(ro, "user.k"));
	EXPECT_ERR(EPERM, setxattr("s", "trusted.t", "v", 1, 0));
	EXPECT_ERR(EPERM, setxattr("s", "security.t", "v", 1, 0));
	/* may_delete: immutable victim -> EPERM (unlink, rename of it,
	 * rename over it, exchange) */
	EXPECT_ERR(EPERM, unlink("s"));
	EXPECT_ERR(EPERM, rename("s", "t"));
	EXPECT_ERR(EPERM, rename("x", "s"));
	EXPECT_ERR(EPERM, syscall(SYS_renameat2, AT_FDCWD, "x", AT_FDCWD, "s",
				  RENAME_EXCHANGE));
	EXPECT_ERR(EPERM, syscall(SYS_renameat2, AT_FDCWD, "s", AT_FDCWD, "t",
				  RENAME_NOREPLACE));
	/* vfs_link: a link to an immutable inode -> EPERM */
	EXPECT_ERR(EPERM, link("s", "s.link"));
	EXPECT_ERR(EPERM, linkat(ro, "", AT_FDCWD, "s.link2", AT_EMPTY_PATH));
	/* Clones into it need a writable destination fd: EBADF
	 * (generic_file_rw_checks); copy_file_range the same. */
	EXPECT_EQ(-EBADF, clone_into(ro, fa));
	EXPECT_EQ(-EBADF, clone_range_into(ro, fa));
	off_in = 0;
	off_out = 0;
	EXPECT_ERR(EBADF, copy_file_range(fa, &off_in, ro, &off_out, BS, 0));
	/* FIDEDUPERANGE allows a read-only destination (root may), then
	 * generic_remap_file_range_prep refuses the immutable inode. */
	EXPECT_EQ(-EPERM, dedupe_one(fz, ro, 4 * BS, &done));
	EXPECT_EQ(0ULL, (unsigned long long)done);
	/* A reflink onto its name */
	EXPECT_EQ(-EEXIST, rl(fa, AT_FDCWD, "s", 0));
	EXPECT_EQ(-EEXIST, rl(fa, AT_FDCWD, "s", IMM));

	/* Nothing changed. */
	EXPECT_FALSE(exists("t"));
	EXPECT_FALSE(exists("s.link"));
	EXPECT_FALSE(exists("s.link2"));
	EXPECT_EQ(0, rlfs_verify_file("x", BS, 2));
	EXPECT_EQ(0, rlfs_verify_file("s", 4 * BS, 1));
	EXPECT_TRUE(immutable("s"));
	expect_same_state(_metadata, "s", &s0);

	/*
	 * chattr -i (with the capability): still a snapshot, no longer
	 * immutable; then +i again while a writable fd is open: that fd
	 * still cannot clone, dedupe, copy or fallocate into it
	 * (generic_remap_file_range_prep, generic_copy_file_checks and
	 * vfs_fallocate check the inode, not the fd).
	 */
	ASSERT_EQ(0, rlfs_set_iflags("s", 0));
	EXPECT_FALSE(immutable("s"));
	ASSERT_EQ(0, info_path("s", &in));
	EXPECT_EQ((uint64_t)(REFLINKFS_INFO_SNAPSHOT | REFLINKFS_INFO_LINEAGE),
		  in.info_flags);
	EXPECT_EQ(s0.info.origin_ino, in.origin_ino);
	EXPECT_EQ(s0.info.lineage, in.lineage);
	w = open("s", O_RDWR);
	ASSERT_LE(0, w);
	ASSERT_EQ(0, rlfs_set_iflags("s", FS_IMMUTABLE_FL));
	ASSERT_EQ(0, info_path("s", &in));
	EXPECT_EQ((uint64_t)SNAPFL, in.info_flags);
	get_state(_metadata, "s", &s1);
	EXPECT_EQ(-EPERM, clone_into(w, fa));
	EXPECT_EQ(-EPERM, clone_range_into(w, fa));
	EXPECT_EQ(-EPERM, dedupe_one(fz, w, 4 * BS, &done));
	off_in = 0;
	off_out = 0;
	EXPECT_ERR(EPERM, copy_file_range(fa, &off_in, w, &off_out, BS, 0));
	EXPECT_ERR(EPERM, fallocate(w, 0, 0, 8 * BS));
	EXPECT_ERR(EPERM, fallocate(w, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, 0, BS));
	EXPECT_ERR(EPERM, fallocate(w, FALLOC_FL_UNSHARE_RANGE, 0, BS));
	close(w);
	EXPECT_EQ(0, rlfs_verify_file("s", 4 * BS, 1));
	expect_same_state(_metadata, "s", &s1);
	close(fa);
	close(fz);
	close(ro);
	RLFS_REMOUNT(&self->fs);
	EXPECT_TRUE(immutable("s"));
	expect_same_state(_metadata, "s", &s1);
	EXPECT_ERR(EPERM, open("s", O_WRONLY));
	EXPECT_ERR(EPERM, unlink("s"));
}

/* ---- unprivileged callers ------------------------------------------------------ */

/* As uid 65534 (owner of u/ and u/own, no capabilities). */
static void nobody_steps(int *res, void *arg)
{
	int own = open("u/own", O_RDONLY), root = open("rootf", O_RDONLY);
	unsigned int fl = 0;
	int fd;

	(void)arg;
	if (own < 0 || root < 0) {
		res[0] = -1000 - errno;
		return;
	}
	res[0] = rl(own, AT_FDCWD, "u/s1", IMM);
	res[1] = rl(own, AT_FDCWD, "u/s2", IMM | PRES);
	res[2] = rl(own, AT_FDCWD, "u/s3", IMM | LIN);
	res[3] = rl(own, AT_FDCWD, "u/s4", IMM | LIN | PRES);
	res[4] = rl(root, AT_FDCWD, "u/s5", IMM);
	/* LINEAGE alone: no capability needed */
	res[5] = rl(own, AT_FDCWD, "u/r1", LIN);
	res[6] = rl(root, AT_FDCWD, "u/r2", LIN);
	/* the restore is an ordinary writable file of ours */
	fd = open("u/r1", O_RDWR);
	res[7] = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		res[8] = pwrite(fd, "abc", 3, 0) == 3 ? 0 : -errno;
		close(fd);
	}
	/* the snapshot root took of our own file (u/mysnap, ours by
	 * PRESERVE): immutable is stronger than ownership */
	fd = open("u/mysnap", O_WRONLY);
	res[9] = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	fd = open("u/mysnap", O_RDONLY);
	res[10] = fd < 0 ? -errno : (ioctl(fd, FS_IOC_SETFLAGS, &fl) ? -errno : 0);
	if (fd >= 0)
		close(fd);
	res[11] = unlink("u/mysnap") ? -errno : 0;
	res[12] = chmod("u/mysnap", 0600) ? -errno : 0;
	close(own);
	close(root);
}

/* As root without CAP_LINUX_IMMUTABLE. */
static void nocap_steps(int *res, void *arg)
{
	int src = open("rootf2", O_RDONLY);
	unsigned int fl = 0;
	int fd;

	(void)arg;
	if (src < 0) {
		res[0] = -1000 - errno;
		return;
	}
	res[0] = rl(src, AT_FDCWD, "n1", IMM);
	res[1] = rl(src, AT_FDCWD, "n2", IMM | PRES);
	res[2] = rl(src, AT_FDCWD, "n3", IMM | LIN);
	res[3] = rl(src, AT_FDCWD, "n4", LIN);
	/* chattr -i needs the capability too */
	fd = open("u/mysnap", O_RDONLY);
	res[4] = fd < 0 ? -errno : (ioctl(fd, FS_IOC_SETFLAGS, &fl) ? -errno : 0);
	if (fd >= 0)
		close(fd);
	close(src);
}

/* As uid 65534: snapshots of a file with no lineage, refused. */
static void nobody_fresh_steps(int *res, void *arg)
{
	int fd = open("u/fresh", O_RDONLY);

	(void)arg;
	if (fd < 0) {
		res[0] = -1000 - errno;
		return;
	}
	res[0] = rl(fd, AT_FDCWD, "u/fs1", IMM);
	res[1] = rl(fd, AT_FDCWD, "u/fs2", IMM | PRES);
	close(fd);
}

TEST_F_TIMEOUT(snap, unprivileged, T_SNAP)
{
	const struct creds nobody = { .uid = NOBODY, .gid = NOBODY };
	const struct creds nocap = {
		.uid = 0, .gid = 0, .drop_caps = 1ULL << CAP_LINUX_IMMUTABLE,
	};
	struct reflinkfs_info own0, own1, root1, r1, r2, in;
	int res[NRES];
	long long fi0, fi1;
	struct stat st;

	ASSERT_EQ(0, mkdir("u", 0755));
	ASSERT_EQ(0, chown("u", NOBODY, NOBODY));
	ASSERT_EQ(0, rlfs_make_file("u/own", 3 * BS, 1, true));
	ASSERT_EQ(0, chown("u/own", NOBODY, NOBODY));
	ASSERT_EQ(0, rlfs_make_file("rootf", 2 * BS, 2, true));
	ASSERT_EQ(0, chmod("rootf", 0644));
	ASSERT_EQ(0, rlfs_make_file("rootf2", 2 * BS, 3, true));
	ASSERT_EQ(0, rlp("rootf", "u/mysnap-src", 0));
	ASSERT_EQ(0, chown("u/mysnap-src", NOBODY, NOBODY));
	ASSERT_EQ(0, rlp("u/mysnap-src", "u/mysnap", IMM | PRES));
	ASSERT_EQ(0, stat("u/mysnap", &st));
	ASSERT_EQ((uid_t)NOBODY, st.st_uid);
	ASSERT_EQ(0, info_path("u/own", &own0));
	ASSERT_EQ(0ULL, (unsigned long long)own0.lineage);
	fi0 = free_inodes();

	ASSERT_EQ(0, run_as(&nobody, nobody_steps, NULL, res));
	EXPECT_EQ(-EPERM, res[0]);
	EXPECT_EQ(-EPERM, res[1]);
	EXPECT_EQ(-EPERM, res[2]);
	EXPECT_EQ(-EPERM, res[3]);
	EXPECT_EQ(-EPERM, res[4]);
	EXPECT_EQ(0, res[5]);
	EXPECT_EQ(0, res[6]);
	EXPECT_EQ(0, res[7]);
	EXPECT_EQ(0, res[8]);
	EXPECT_EQ(-EPERM, res[9]);
	EXPECT_EQ(-EPERM, res[10]);
	EXPECT_EQ(-EPERM, res[11]);
	EXPECT_EQ(-EPERM, res[12]);
	EXPECT_FALSE(exists("u/s1"));
	EXPECT_FALSE(exists("u/s2"));
	EXPECT_FALSE(exists("u/s3"));
	EXPECT_FALSE(exists("u/s4"));
	EXPECT_FALSE(exists("u/s5"));
	EXPECT_TRUE(exists("u/mysnap"));
	EXPECT_TRUE(immutable("u/mysnap"));
	/* only the two LINEAGE reflinks took inodes */
	fi1 = free_inodes();
	EXPECT_EQ(fi0 - 2, fi1);
	ASSERT_EQ(0, info_path("u/r1", &r1));
	ASSERT_EQ(0, info_path("u/r2", &r2));
	ASSERT_EQ(0, info_path("u/own", &own1));
	ASSERT_EQ(0, info_path("rootf", &root1));
	/* a restore: the source's lineage, not a snapshot, not immutable */
	EXPECT_EQ(own1.lineage, r1.lineage);
	EXPECT_EQ(root1.lineage, r2.lineage);
	EXPECT_EQ(0ULL, (unsigned long long)(r1.info_flags &
		  (REFLINKFS_INFO_SNAPSHOT | REFLINKFS_INFO_IMMUTABLE)));
	EXPECT_EQ(0ULL, (unsigned long long)(r2.info_flags &
		  (REFLINKFS_INFO_SNAPSHOT | REFLINKFS_INFO_IMMUTABLE)));
	EXPECT_FALSE(immutable("u/r1"));
	ASSERT_EQ(0, stat("u/r1", &st));
	EXPECT_EQ((uid_t)NOBODY, st.st_uid);

	/* root without CAP_LINUX_IMMUTABLE */
	ASSERT_EQ(0, info_path("rootf2", &in));
	EXPECT_EQ(0ULL, (unsigned long long)in.lineage);
	fi0 = free_inodes();
	ASSERT_EQ(0, run_as(&nocap, nocap_steps, NULL, res));
	EXPECT_EQ(-EPERM, res[0]);
	EXPECT_EQ(-EPERM, res[1]);
	EXPECT_EQ(-EPERM, res[2]);
	EXPECT_EQ(0, res[3]);
	EXPECT_EQ(-EPERM, res[4]);
	EXPECT_FALSE(exists("n1"));
	EXPECT_FALSE(exists("n2"));
	EXPECT_FALSE(exists("n3"));
	EXPECT_TRUE(exists("n4"));
	EXPECT_EQ(fi0 - 1, free_inodes());
	EXPECT_TRUE(immutable("u/mysnap"));
	ASSERT_EQ(0, info_path("n4", &in));
	EXPECT_EQ(0ULL, (unsigned long long)(in.info_flags &
		  (REFLINKFS_INFO_SNAPSHOT | REFLINKFS_INFO_IMMUTABLE)));

	/*
	 * A failed snapshot leaves the source as it was: u/own got its
	 * lineage only from the LINEAGE reflink (if at all), so check the
	 * failed calls on a fresh source with no LINEAGE call after them.
	 */
	ASSERT_EQ(0, rlfs_make_file("u/fresh", BS, 4, true));
	ASSERT_EQ(0, chown("u/fresh", NOBODY, NOBODY));
	ASSERT_EQ(0, run_as(&nobody, nobody_fresh_steps, NULL, res));
	EXPECT_EQ(-EPERM, res[0]);
	EXPECT_EQ(-EPERM, res[1]);
	EXPECT_FALSE(exists("u/fs1"));
	EXPECT_FALSE(exists("u/fs2"));
	ASSERT_EQ(0, info_path("u/fresh", &in));
	EXPECT_EQ(0ULL, (unsigned long long)in.lineage) {
		TH_LOG("a refused snapshot gave its source a lineage");
	}
	EXPECT_EQ(0ULL, (unsigned long long)(in.info_flags &
					     REFLINKFS_INFO_LINEAGE));
}

/* ---- GET_INFO fields ---------------------------------------------------------- */

static int64_t ts_ns(int64_t sec, uint32_t nsec)
{
	return sec * 1000000000LL + nsec;
}

/* GET_INFO of @path must show its own identity and birth time. */
static void expect_identity(struct __test_metadata *_metadata,
			    const char *path, const struct reflinkfs_info *in)
{
	struct statx_timestamp bt;
	long long gen = getversion(path);
	int r;

	EXPECT_EQ((uint32_t)REFLINKFS_INFO_SIZE_VER0, in->size);
	EXPECT_EQ(0U, in->flags);
	EXPECT_EQ(ino_of(path), in->ino) {
		TH_LOG("%s: ino", path);
	}
	EXPECT_LE(0, gen) {
		TH_LOG("%s: FS_IOC_GETVERSION: %s", path, strerror(-gen));
	}
	if (gen >= 0) {
		EXPECT_EQ((uint32_t)gen, in->generation) {
			TH_LOG("%s: generation", path);
		}
	}
	r = get_btime(path, &bt);
	EXPECT_EQ(0, r) {
		TH_LOG("%s: statx btime: %s", path, strerror(-r));
	}
	if (!r) {
		EXPECT_EQ(bt.tv_sec, in->snap_time_sec) {
			TH_LOG("%s: snap_time_sec is not the birth time", path);
		}
		EXPECT_EQ(bt.tv_nsec, in->snap_time_nsec) {
			TH_LOG("%s: snap_time_nsec is not the birth time", path);
		}
	}
	EXPECT_EQ(0U, in->reserved0);
	for (r = 0; r < 8; r++) {
		EXPECT_EQ(0ULL, (unsigned long long)in->reserved[r]);
	}
}

TEST_F_TIMEOUT(snap, info_fields, T_SNAP)
{
	const struct timespec old[2] = {
		{ .tv_sec = 1000000000, .tv_nsec = 111 },
		{ .tv_sec = 1000000001, .tv_nsec = 222 },
	};
	struct reflinkfs_info a0, a1, a2, r, s, sp, sl, w;
	struct timespec t0, t1;
	struct stat st, sst;
	int fd;

	ASSERT_EQ(0, rlfs_make_file("a", 5 * BS + 100, 1, true));
	ASSERT_EQ(0, chown("a", 1000, 1000));
	ASSERT_EQ(0, chmod("a", 0640));
	ASSERT_EQ(0, utimensat(AT_FDCWD, "a", old, 0));
	ASSERT_EQ(0, info_path("a", &a0)) {
		TH_LOG("GET_INFO: %s", strerror(errno));
	}
	expect_identity(_metadata, "a", &a0);
	EXPECT_EQ(0ULL, (unsigned long long)a0.info_flags);
	EXPECT_EQ(0ULL, (unsigned long long)a0.origin_ino);
	EXPECT_EQ(0U, a0.origin_generation);
	EXPECT_EQ(0ULL, (unsigned long long)a0.lineage);
	EXPECT_EQ(5 * BS + 100, a0.size_bytes);
	EXPECT_EQ(0ULL, (unsigned long long)a0.shared_bytes);
	EXPECT_EQ(6 * BS, a0.exclusive_bytes);

	/* A plain reflink: shared, no lineage, not a snapshot. */
	ASSERT_EQ(0, rlp("a", "r", 0));
	ASSERT_EQ(0, info_path("r", &r));
	expect_identity(_metadata, "r", &r);
	EXPECT_NE(a0.ino, r.ino);
	EXPECT_EQ(0ULL, (unsigned long long)r.info_flags);
	EXPECT_EQ(0ULL, (unsigned long long)r.lineage);
	EXPECT_EQ(0ULL, (unsigned long long)r.origin_ino);
	EXPECT_EQ(5 * BS + 100, r.size_bytes);
	EXPECT_EQ(6 * BS, r.shared_bytes);
	EXPECT_EQ(0ULL, (unsigned long long)r.exclusive_bytes);
	ASSERT_EQ(0, info_path("a", &a1));
	EXPECT_EQ(0ULL, (unsigned long long)a1.lineage);
	EXPECT_EQ(6 * BS, a1.shared_bytes);
	EXPECT_EQ(0ULL, (unsigned long long)a1.exclusive_bytes);

	/* A snapshot, taken between t0 and t1. */
	ASSERT_EQ(0, clock_gettime(CLOCK_REALTIME_COARSE, &t0));
	ASSERT_EQ(0, rlp("a", "s", IMM));
	ASSERT_EQ(0, clock_gettime(CLOCK_REALTIME, &t1));
	ASSERT_EQ(0, info_path("s", &s));
	expect_identity(_metadata, "s", &s);
	EXPECT_EQ((uint64_t)SNAPFL, s.info_flags);
	EXPECT_EQ(a0.ino, s.origin_ino);
	EXPECT_EQ(a0.generation, s.origin_generation);
	EXPECT_NE(0ULL, (unsigned long long)s.lineage);
	EXPECT_LE((int64_t)t0.tv_sec, (int64_t)s.snap_time_sec);
	EXPECT_GE(ts_ns(t1.tv_sec, t1.tv_nsec),
		  ts_ns(s.snap_time_sec, s.snap_time_nsec));
	EXPECT_GT(ts_ns(s.snap_time_sec, s.snap_time_nsec),
		  ts_ns(old[1].tv_sec, old[1].tv_nsec));
	EXPECT_EQ(5 * BS + 100, s.size_bytes);
	EXPECT_EQ(6 * BS, s.shared_bytes);
	EXPECT_EQ(0ULL, (unsigned long long)s.exclusive_bytes);
	EXPECT_TRUE(immutable("s"));
	EXPECT_EQ(0, rlfs_verify_file("s", 5 * BS + 100, 1));
	/* without PRESERVE: a new file's owner and mode */
	ASSERT_EQ(0, stat("s", &sst));
	EXPECT_EQ(0U, sst.st_uid);
	EXPECT_EQ(0U, sst.st_gid);
	EXPECT_EQ(1U, sst.st_nlink);
	/* The source now has a lineage, the snapshot's; nothing else moved. */
	ASSERT_EQ(0, info_path("a", &a2));
	EXPECT_EQ((uint64_t)REFLINKFS_INFO_LINEAGE, a2.info_flags);
	EXPECT_EQ(s.lineage, a2.lineage);
	EXPECT_EQ(a0.ino, a2.ino);
	EXPECT_EQ(a0.generation, a2.generation);
	EXPECT_EQ(a0.snap_time_sec, a2.snap_time_sec);
	EXPECT_EQ(a0.snap_time_nsec, a2.snap_time_nsec);
	EXPECT_EQ(0ULL, (unsigned long long)a2.origin_ino);
	EXPECT_EQ(6 * BS, a2.shared_bytes);

	/* IMMUTABLE | PRESERVE: owner, mode, mtime of the source, but the
	 * snapshot time is its birth, not the source's mtime. */
	ASSERT_EQ(0, rlp("a", "sp", IMM | PRES));
	ASSERT_EQ(0, info_path("sp", &sp));
	expect_identity(_metadata, "sp", &sp);
	EXPECT_EQ((uint64_t)SNAPFL, sp.info_flags);
	EXPECT_EQ(a0.ino, sp.origin_ino);
	EXPECT_EQ(a0.generation, sp.origin_generation);
	EXPECT_EQ(s.lineage, sp.lineage);
	EXPECT_LE(ts_ns(s.snap_time_sec, s.snap_time_nsec),
		  ts_ns(sp.snap_time_sec, sp.snap_time_nsec));
	ASSERT_EQ(0, stat("a", &st));
	ASSERT_EQ(0, stat("sp", &sst));
	EXPECT_EQ(1000U, sst.st_uid);
	EXPECT_EQ(1000U, sst.st_gid);
	EXPECT_EQ(st.st_mode, sst.st_mode);
	EXPECT_EQ(st.st_mtim.tv_sec, sst.st_mtim.tv_sec);
	EXPECT_EQ(st.st_mtim.tv_nsec, sst.st_mtim.tv_nsec);
	EXPECT_TRUE(immutable("sp"));

	/* IMMUTABLE | LINEAGE: the same as IMMUTABLE. */
	ASSERT_EQ(0, rlp("a", "sl", IMM | LIN));
	ASSERT_EQ(0, info_path("sl", &sl));
	expect_identity(_metadata, "sl", &sl);
	EXPECT_EQ((uint64_t)SNAPFL, sl.info_flags);
	EXPECT_EQ(a0.ino, sl.origin_ino);
	EXPECT_EQ(s.lineage, sl.lineage);
	EXPECT_EQ(6 * BS, sl.shared_bytes);

	/* Any descriptor: O_WRONLY of the source, O_RDONLY of a snapshot. */
	fd = open("a", O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, info_fd(fd, &w));
	close(fd);
	ASSERT_EQ(0, info_path("a", &a2));
	EXPECT_EQ(0, memcmp(&w, &a2, sizeof(w)));
	EXPECT_EQ(6 * BS, w.shared_bytes);
	fd = open("s", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, info_fd(fd, &w));
	close(fd);
	ASSERT_EQ(0, info_path("s", &s));
	EXPECT_EQ(0, memcmp(&w, &s, sizeof(w)));
	/* an unlinked but open file */
	fd = open("r", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink("r"));
	ASSERT_EQ(0, info_fd(fd, &w));
	EXPECT_EQ(r.ino, w.ino);
	EXPECT_EQ(6 * BS, w.shared_bytes);
	close(fd);
}

/* ---- lineage ------------------------------------------------------------------ */

#define INFO(path, in) ASSERT_EQ(0, info_path((path), (in))) {		\
		TH_LOG("GET_INFO %s: %s", (path), strerror(errno));	\
	}

TEST_F_TIMEOUT(snap, lineage, T_SNAP)
{
	struct reflinkfs_info f0, f1, p, s1, s2, p2, r0, p3, r1, ss, sr, g, sg,
			      tmp, s3;
	uint64_t L;
	int fd, i;

	ASSERT_EQ(0, rlfs_make_file("f", 3 * BS, 1, true));
	ASSERT_EQ(0, rlfs_make_file("g", 2 * BS, 2, true));
	INFO("f", &f0);
	EXPECT_EQ(0ULL, (unsigned long long)f0.lineage);
	EXPECT_EQ(0ULL, (unsigned long long)(f0.info_flags & REFLINKFS_INFO_LINEAGE));

	/* A plain reflink neither has nor gives a lineage. */
	ASSERT_EQ(0, rlp("f", "p", 0));
	INFO("p", &p);
	INFO("f", &tmp);
	EXPECT_EQ(0ULL, (unsigned long long)p.lineage);
	EXPECT_EQ(0ULL, (unsigned long long)p.info_flags);
	EXPECT_EQ(0ULL, (unsigned long long)tmp.lineage);

	/* The first snapshot gives the source its lineage. */
	ASSERT_EQ(0, rlp("f", "s1", IMM));
	INFO("f", &f1);
	INFO("s1", &s1);
	L = f1.lineage;
	EXPECT_NE(0ULL, (unsigned long long)L);
	EXPECT_EQ((uint64_t)REFLINKFS_INFO_LINEAGE, f1.info_flags);
	EXPECT_EQ(L, s1.lineage);
	EXPECT_EQ((uint64_t)SNAPFL, s1.info_flags);
	EXPECT_EQ(f0.ino, s1.origin_ino);
	EXPECT_EQ(f0.generation, s1.origin_generation);

	/* ... and keeps it. */
	ASSERT_EQ(0, rlp("f", "s2", IMM));
	INFO("s2", &s2);
	INFO("f", &tmp);
	EXPECT_EQ(L, tmp.lineage);
	EXPECT_EQ(L, s2.lineage);
	EXPECT_EQ(f0.ino, s2.origin_ino);
	EXPECT_LE(ts_ns(s1.snap_time_sec, s1.snap_time_nsec),
		  ts_ns(s2.snap_time_sec, s2.snap_time_nsec));

	/* A plain reflink of a file with a lineage: none. */
	ASSERT_EQ(0, rlp("f", "p2", 0));
	INFO("p2", &p2);
	EXPECT_EQ(0ULL, (unsigned long long)p2.lineage);
	EXPECT_EQ(0ULL, (unsigned long long)p2.info_flags);

	/* LINEAGE: an ordinary writable file in the lineage. */
	ASSERT_EQ(0, rlp("f", "r0", LIN));
	INFO("r0", &r0);
	EXPECT_EQ(L, r0.lineage);
	EXPECT_EQ((uint64_t)REFLINKFS_INFO_LINEAGE, r0.info_flags);
	EXPECT_EQ(0ULL, (unsigned long long)r0.origin_ino);	/* no origin */
	EXPECT_EQ(0U, r0.origin_generation);
	EXPECT_FALSE(immutable("r0"));

	/* A plain reflink of a snapshot: writable, not immutable, not a
	 * snapshot, no lineage; its writes do not reach the snapshot. */
	ASSERT_EQ(0, rlp("s1", "p3", 0));
	INFO("p3", &p3);
	EXPECT_EQ(0ULL, (unsigned long long)p3.info_flags);
	EXPECT_EQ(0ULL, (unsigned long long)p3.lineage);
	EXPECT_FALSE(immutable("p3"));
	fd = open("p3", O_RDWR);
	ASSERT_LE(0, fd) {
		TH_LOG("open a reflink of a snapshot O_RDWR: %s", strerror(errno));
	}
	EXPECT_EQ(0, rlfs_write_pattern(fd, BS, BS, 9));
	close(fd);
	EXPECT_EQ(0, rlfs_verify_file("s1", 3 * BS, 1));

	/* LINEAGE of a snapshot: a restore. */
	ASSERT_EQ(0, rlp("s1", "r1", LIN));
	INFO("r1", &r1);
	EXPECT_EQ(L, r1.lineage);
	EXPECT_EQ((uint64_t)REFLINKFS_INFO_LINEAGE, r1.info_flags);
	EXPECT_EQ(0ULL, (unsigned long long)r1.origin_ino);
	EXPECT_EQ(0U, r1.origin_generation);
	EXPECT_FALSE(immutable("r1"));
	fd = open("r1", O_WRONLY | O_TRUNC);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	INFO("r1", &r1);
	EXPECT_EQ(L, r1.lineage);

	/* A snapshot of a snapshot names the snapshot. */
	ASSERT_EQ(0, rlp("s1", "ss", IMM));
	INFO("ss", &ss);
	EXPECT_EQ((uint64_t)SNAPFL, ss.info_flags);
	EXPECT_EQ(s1.ino, ss.origin_ino);
	EXPECT_EQ(s1.generation, ss.origin_generation);
	EXPECT_EQ(L, ss.lineage);
	INFO("s1", &tmp);
	EXPECT_EQ(0, memcmp(&tmp.info_flags, &s1.info_flags,
			    offsetof(struct reflinkfs_info, size_bytes) -
			    offsetof(struct reflinkfs_info, info_flags)));

	/* A snapshot of the restore: the restore is its origin, same
	 * lineage. */
	ASSERT_EQ(0, rlp("r1", "sr", IMM));
	INFO("sr", &sr);
	EXPECT_EQ(r1.ino, sr.origin_ino);
	EXPECT_EQ(L, sr.lineage);

	/* Another file, another lineage. */
	ASSERT_EQ(0, rlp("g", "sg", IMM));
	INFO("g", &g);
	INFO("sg", &sg);
	EXPECT_NE(0ULL, (unsigned long long)g.lineage);
	EXPECT_NE(L, g.lineage);
	EXPECT_EQ(g.lineage, sg.lineage);

	/* The restore workflow: reflink the snapshot back over the file. */
	ASSERT_EQ(0, rlp("s2", "f.tmp", LIN));
	ASSERT_EQ(0, rename("f.tmp", "f"));
	INFO("f", &tmp);
	EXPECT_EQ(L, tmp.lineage);
	EXPECT_NE(f0.ino, tmp.ino);
	ASSERT_EQ(0, rlp("f", "s3", IMM));
	INFO("s3", &s3);
	EXPECT_EQ(L, s3.lineage);
	EXPECT_EQ(tmp.ino, s3.origin_ino);
	/* the old snapshots keep their record of the gone origin */
	INFO("s1", &tmp);
	EXPECT_EQ(f0.ino, tmp.origin_ino);
	EXPECT_EQ(L, tmp.lineage);

	/* chattr -i: still a snapshot, not immutable; +i: immutable. */
	ASSERT_EQ(0, rlfs_set_iflags("ss", 0));
	INFO("ss", &tmp);
	EXPECT_EQ((uint64_t)(REFLINKFS_INFO_SNAPSHOT | REFLINKFS_INFO_LINEAGE),
		  tmp.info_flags);
	EXPECT_EQ(s1.ino, tmp.origin_ino);
	EXPECT_EQ(L, tmp.lineage);
	EXPECT_FALSE(immutable("ss"));
	ASSERT_EQ(0, rlfs_set_iflags("ss", FS_IMMUTABLE_FL));
	INFO("ss", &tmp);
	EXPECT_EQ((uint64_t)SNAPFL, tmp.info_flags);
	/* a reflink of a snapshot made writable again is not a snapshot */
	ASSERT_EQ(0, rlfs_set_iflags("s2", 0));
	ASSERT_EQ(0, rlp("s2", "p4", 0));
	INFO("p4", &tmp);
	EXPECT_EQ(0ULL, (unsigned long long)tmp.info_flags);
	/* and a pruned snapshot can go */
	EXPECT_EQ(0, unlink("s2"));

	/* The origin goes and its inode number comes back: the generation
	 * tells the new file from the origin. */
	ASSERT_EQ(0, unlink("g"));
	sync();
	for (i = 0; i < 64; i++) {
		char name[32];

		snprintf(name, sizeof(name), "new%d", i);
		ASSERT_EQ(0, rlfs_make_file(name, 0, 0, false));
		if (ino_of(name) != g.ino)
			continue;
		INFO(name, &tmp);
		INFO("sg", &sg);
		EXPECT_EQ(g.ino, sg.origin_ino);
		EXPECT_NE(sg.origin_generation, tmp.generation) {
			TH_LOG("inode %" PRIu64 " reused with the generation "
			       "the snapshot recorded", (uint64_t)g.ino);
		}
		EXPECT_EQ(0ULL, (unsigned long long)tmp.lineage);
		break;
	}
	TH_LOG("origin inode number %s", i < 64 ? "reused" : "not reused");
}

/* ---- exact numbers after known sequences ---------------------------------------- */

TEST_F_TIMEOUT(snap, exact_sequence, T_SNAP)
{
	struct model *m = calloc(1, sizeof(*m));
	int a, b, s1, c, d, e;

	ASSERT_TRUE(m != NULL);
	/* S0: 16 blocks */
	ASSERT_EQ(0, rlfs_make_file("a", 16 * BS, 1, true));
	a = m_new(m, "a");
	m_write(m, a, 0, 16);
	m->f[a].size = 16 * BS;
	check_all(_metadata, m, "write 16 blocks");

	/* S1: plain reflink; S2: snapshot; S3: FICLONE: 4 references */
	ASSERT_EQ(0, rlp("a", "b", 0));
	b = m_reflink(m, a, "b");
	check_all(_metadata, m, "reflink a b");
	ASSERT_EQ(0, rlp("a", "s1", IMM));
	s1 = m_reflink(m, a, "s1");
	check_all(_metadata, m, "snapshot a s1");
	ASSERT_EQ(0, rlfs_clone_file("a", "c"));
	c = m_reflink(m, a, "c");
	check_all(_metadata, m, "FICLONE a c");

	/* S4: CoW of whole blocks of a; S5: a sub-block write to b */
	ASSERT_EQ(0, do_pwrite("a", 2 * BS, BS, 2));
	ASSERT_EQ(0, do_pwrite("a", 9 * BS, BS, 2));
	m_write(m, a, 2, 1);
	m_write(m, a, 9, 1);
	check_all(_metadata, m, "write a blocks 2, 9");
	ASSERT_EQ(0, do_pwrite("b", 5 * BS + 100, 10, 3));
	m_write(m, b, 5, 1);
	check_all(_metadata, m, "write 10 bytes into b block 5");

	/* S6: punch whole blocks of c; S7: punch inside a block of c */
	ASSERT_EQ(0, do_falloc("c", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       10 * BS, 2 * BS));
	m_punch(m, c, 10, 2);
	check_all(_metadata, m, "punch c blocks 10-11");
	ASSERT_EQ(0, do_falloc("c", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       3 * BS + 10, 10));
	m_zero_partial(m, c, 3);
	check_all(_metadata, m, "punch 10 bytes of c block 3");

	/* S8: unshare b blocks 12-15, one of them a hole */
	ASSERT_EQ(0, do_falloc("b", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       13 * BS, BS));
	m_punch(m, b, 13, 1);
	check_all(_metadata, m, "punch b block 13");
	ASSERT_EQ(0, do_falloc("b", FALLOC_FL_UNSHARE_RANGE, 12 * BS, 4 * BS));
	m_unshare(m, b, 12, 4);
	check_all(_metadata, m, "unshare b blocks 12-15");

	/* S9: FICLONERANGE a[0,4) -> d[4,8); S10: d[4,6) -> d[0,2) */
	ASSERT_EQ(0, do_clone_range("a", 0, 4 * BS, "d", 4 * BS));
	d = m_new(m, "d");
	m_clone(m, d, 4, a, 0, 4);
	m->f[d].size = 8 * BS;
	check_all(_metadata, m, "FICLONERANGE a[0,4) d[4,8)");
	ASSERT_EQ(0, do_clone_range("d", 4 * BS, 2 * BS, "d", 0));
	m_clone(m, d, 0, d, 4, 2);
	check_all(_metadata, m, "FICLONERANGE d[4,6) d[0,2)");

	/* S11: truncate c into its shared block 6; S12: preallocate past
	 * EOF; S13: reflink c (the preallocation is shared too) */
	ASSERT_EQ(0, truncate("c", 6 * BS + 100));
	m_truncate(m, c, 6 * BS + 100);
	check_all(_metadata, m, "truncate c to 6 blocks + 100");
	ASSERT_EQ(0, do_falloc("c", FALLOC_FL_KEEP_SIZE, 20 * BS, 4 * BS));
	m_alloc(m, c, 20, 4);
	check_all(_metadata, m, "fallocate -k c blocks 20-23");
	ASSERT_EQ(0, rlp("c", "e", 0));
	e = m_reflink(m, c, "e");
	check_all(_metadata, m, "reflink c e");

	/* S14: snapshot of the snapshot */
	ASSERT_EQ(0, rlp("s1", "s2", IMM));
	m_reflink(m, s1, "s2");
	check_all(_metadata, m, "snapshot s1 s2");

	/* S15: the same from disk */
	RLFS_REMOUNT(&self->fs);
	check_all(_metadata, m, "after remount");

	/* S16: drop references */
	ASSERT_EQ(0, unlink("b"));
	m->f[b].live = false;
	ASSERT_EQ(0, unlink("c"));
	m->f[c].live = false;
	check_all(_metadata, m, "unlink b c");

	/* S17: write into e's (now exclusive) preallocation past EOF */
	ASSERT_EQ(0, do_pwrite("e", 21 * BS, BS, 4));
	m_write(m, e, 21, 1);
	m_grow(m, e, 22 * BS);
	check_all(_metadata, m, "write e block 21");
	/* and a write into s1's data through a restore of it */
	ASSERT_EQ(0, rlp("s1", "r", LIN));
	m_reflink(m, s1, "r");
	ASSERT_EQ(0, do_pwrite("r", 0, 3 * BS, 5));
	m_write(m, m->n - 1, 0, 3);
	check_all(_metadata, m, "restore s1 r, write r blocks 0-2");
	EXPECT_EQ(0, rlfs_verify_file("s1", 16 * BS, 1));
	EXPECT_EQ(0, rlfs_verify_file("s2", 16 * BS, 1));
	free(m);
}

/* Six references to one extent, dropped one by one. */
TEST_F_TIMEOUT(snap, refcount_fan, T_SNAP)
{
	static const char *const names[] = { "c1", "s1", "c2", "s2", "c3" };
	struct model *m = calloc(1, sizeof(*m));
	char step[64];
	int a, i, fi[5];

	ASSERT_TRUE(m != NULL);
	ASSERT_EQ(0, rlfs_make_file("a", 6 * BS, 1, true));
	a = m_new(m, "a");
	m_write(m, a, 0, 6);
	m->f[a].size = 6 * BS;
	for (i = 0; i < 5; i++) {
		if (names[i][0] == 's') {
			ASSERT_EQ(0, rlp("a", names[i], IMM));
		} else {
			ASSERT_EQ(0, rlfs_clone_file("a", names[i]));
		}
		fi[i] = m_reflink(m, a, names[i]);
		snprintf(step, sizeof(step), "%d references", i + 2);
		check_all(_metadata, m, step);
	}
	/* a CoW in the middle: 5 left on the old block */
	ASSERT_EQ(0, do_pwrite("c2", 3 * BS, BS, 7));
	m_write(m, fi[2], 3, 1);
	check_all(_metadata, m, "write c2 block 3");
	for (i = 4; i >= 0; i--) {
		if (names[i][0] == 's') {
			EXPECT_EQ(-EPERM, unlink(names[i]) ? -errno : 0);
			ASSERT_EQ(0, rlfs_set_iflags(names[i], 0));
		}
		ASSERT_EQ(0, unlink(names[i]));
		m->f[fi[i]].live = false;
		snprintf(step, sizeof(step), "unlink %s", names[i]);
		check_all(_metadata, m, step);
	}
	free(m);
}

/* ---- GET_EXTENTS: sizing, pagination, windows --------------------------------- */

#define NEXT_MAX	64

/* Runs of @full clipped to [s, e): what a window must return. */
static uint32_t clip_runs(const struct reflinkfs_extent *full, uint32_t n,
			  uint64_t s, uint64_t e, struct reflinkfs_extent *out)
{
	uint64_t last_end = n ? full[n - 1].logical + full[n - 1].length : 0;
	uint32_t i, k = 0;

	for (i = 0; i < n; i++) {
		uint64_t lo = full[i].logical, hi = lo + full[i].length;

		if (hi <= s || lo >= e)
			continue;
		out[k] = full[i];
		if (lo < s) {
			out[k].logical = s;
			out[k].physical += s - lo;
			lo = s;
		}
		if (hi > e)
			hi = e;
		out[k].length = hi - lo;
		out[k].flags = hi == last_end ? REFLINKFS_EXTENT_LAST : 0;
		k++;
	}
	return k;
}

/*
 * An exhausted range: @next is its end, @end (ABI: "the end of the range
 * when it is exhausted").  For an open range (~0ULL, or one beyond any
 * file size) the end is the largest file offset, which the test does not
 * know: it must be block aligned, not before the last run, and nothing
 * may be mapped from there on.
 */
static void expect_end_next(struct __test_metadata *_metadata, int fd,
			    uint64_t last_end, uint64_t end, uint64_t next,
			    const char *what)
{
	uint32_t cnt = 0;

	if (end < (1ULL << 40)) {
		EXPECT_EQ(end, next) {
			TH_LOG("%s: next of an exhausted range", what);
		}
		return;
	}
	EXPECT_LE(last_end, next) {
		TH_LOG("%s: next before the last run", what);
	}
	EXPECT_EQ(0ULL, (unsigned long long)(next % BS)) {
		TH_LOG("%s: next %" PRIu64 " not block aligned", what, next);
	}
	EXPECT_EQ(0, extents_fd(fd, next, ~0ULL, NULL, &cnt, NULL));
	EXPECT_EQ(0U, cnt) {
		TH_LOG("%s: runs after next %" PRIu64, what, next);
	}
}

TEST_F_TIMEOUT(snap, extents_paging, T_SNAP)
{
	static const struct { uint64_t s, l; } win[] = {
		{ 0, BS }, { 1 * BS, 3 * BS }, { 10 * BS, 2 * BS },
		{ 9 * BS, 4 * BS }, { 12 * BS, 6 * BS }, { 20 * BS, ~0ULL },
		{ 24 * BS, ~0ULL }, { 31 * BS, BS }, { 40 * BS, ~0ULL },
		{ 8 * BS, 1ULL << 62 }, { 0, 64 * BS },
	};
	static const struct { uint64_t s, l; } far[] = {
		{ ~0ULL - BS, ~0ULL }, { 1ULL << 63, 1ULL << 63 },
		{ 1ULL << 44, ~0ULL }, { ~0ULL, 1 },
	};
	struct reflinkfs_extent full[NEXT_MAX], got[NEXT_MAX], want[NEXT_MAX];
	struct reflinkfs_extent sentinel[4];
	struct model *m = calloc(1, sizeof(*m));
	uint32_t n, cnt, k, i, w, total;
	uint64_t next, start, last_end;
	int fd, p, q, r, calls, pk;

	ASSERT_TRUE(m != NULL);
	/* p: 24 blocks shared with q, every other one of 1..7 rewritten,
	 * a hole at 10-11, 2 blocks preallocated past EOF at 30-31 */
	ASSERT_EQ(0, rlfs_make_file("p", 24 * BS, 1, true));
	p = m_new(m, "p");
	m_write(m, p, 0, 24);
	m->f[p].size = 24 * BS;
	ASSERT_EQ(0, rlp("p", "q", 0));
	q = m_reflink(m, p, "q");
	for (i = 1; i <= 7; i += 2) {
		ASSERT_EQ(0, do_pwrite("p", i * BS, BS, 2));
		m_write(m, p, i, 1);
	}
	ASSERT_EQ(0, do_falloc("p", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       10 * BS, 2 * BS));
	m_punch(m, p, 10, 2);
	ASSERT_EQ(0, do_falloc("p", FALLOC_FL_KEEP_SIZE, 30 * BS, 2 * BS));
	m_alloc(m, p, 30, 2);
	(void)q;
	check_all(_metadata, m, "setup");	/* the full list is right */

	fd = open("p", O_RDONLY);
	ASSERT_LE(0, fd);
	n = NEXT_MAX;
	ASSERT_EQ(0, extents_fd(fd, 0, ~0ULL, full, &n, &next));
	ASSERT_LT(8U, n);
	ASSERT_GT(NEXT_MAX, (int)n);
	/* exhausted: next is the end of the range (the largest offset) */
	expect_end_next(_metadata, fd, full[n - 1].logical + full[n - 1].length,
			~0ULL, next, "the whole file");

	/* count = 0: only the number, nothing written (NULL is fine) */
	cnt = 0;
	EXPECT_EQ(0, extents_fd(fd, 0, ~0ULL, NULL, &cnt, NULL));
	EXPECT_EQ(n, cnt);
	cnt = 0;
	memset(sentinel, 0x5a, sizeof(sentinel));
	memcpy(got, sentinel, sizeof(sentinel));
	EXPECT_EQ(0, extents_fd(fd, 0, ~0ULL, got, &cnt, NULL));
	EXPECT_EQ(n, cnt);
	EXPECT_EQ(0, memcmp(got, sentinel, sizeof(sentinel)));
	cnt = 0;
	EXPECT_EQ(0, extents_fd(fd, 0, ~0ULL, (void *)16, &cnt, NULL));
	EXPECT_EQ(n, cnt);
	cnt = 0;
	EXPECT_EQ(0, extents_fd(fd, 12 * BS, 6 * BS, NULL, &cnt, NULL));
	EXPECT_EQ(clip_runs(full, n, 12 * BS, 18 * BS, want), cnt);

	/* Pages of k runs, continuing at next. */
	for (pk = 0; pk < 6; pk++) {
		const uint32_t ks[6] = { 1, 2, 3, 5, n, n + 1 };

		k = ks[pk];
		total = 0;
		start = 0;
		for (calls = 0; calls < NEXT_MAX + 2; calls++) {
			cnt = k;
			memset(got + total, 0x5a, (k + 1) * sizeof(got[0]));
			r = extents_fd(fd, start, ~0ULL, got + total, &cnt, &next);
			EXPECT_EQ(0, r) {
				TH_LOG("page at %" PRIu64 ": %s", start,
				       strerror(-r));
			}
			if (r)
				break;
			EXPECT_GE(k, cnt);
			/* nothing written past the count */
			EXPECT_EQ(0, memcmp(got + total + cnt, sentinel,
					    sizeof(got[0])));
			last_end = cnt ? got[total + cnt - 1].logical +
					 got[total + cnt - 1].length : start;
			if (cnt == k && total + cnt < n) {
				/* more to come: the byte after the last run */
				EXPECT_EQ(last_end, next) {
					TH_LOG("count %u: next", k);
				}
			} else {
				/* exhausted (a short page, or a full one that
				 * ends with the last run): end of the range */
				expect_end_next(_metadata, fd, last_end, ~0ULL,
						next, "a page");
			}
			total += cnt;
			if (cnt < k || total >= n + 1)
				break;
			start = next;
		}
		EXPECT_EQ(n, total) {
			TH_LOG("count %u: %u runs in pages", k, total);
		}
		if (total == n) {
			EXPECT_EQ(0, memcmp(full, got, n * sizeof(got[0]))) {
				TH_LOG("count %u: pages differ from one call", k);
				dump_extents("one call", full, n);
				dump_extents("pages", got, total);
			}
		}
	}

	/* Windows: the runs clipped to them; LAST only at the file's end. */
	for (w = 0; w < ARRAY_SIZE(win); w++) {
		uint64_t e = win[w].l == ~0ULL || win[w].s + win[w].l < win[w].s ?
			     ~0ULL : win[w].s + win[w].l;
		uint32_t nw = clip_runs(full, n, win[w].s, e, want);

		cnt = NEXT_MAX;
		r = extents_fd(fd, win[w].s, win[w].l, got, &cnt, &next);
		EXPECT_EQ(0, r);
		if (r)
			continue;
		expect_end_next(_metadata, fd,
				cnt ? got[cnt - 1].logical + got[cnt - 1].length :
				      win[w].s, e, next, "a window");
		EXPECT_EQ(nw, cnt) {
			TH_LOG("window [%" PRIu64 ", +%" PRIu64 ")", win[w].s,
			       win[w].l);
		}
		if (nw == cnt) {
			EXPECT_EQ(0, memcmp(want, got, nw * sizeof(got[0]))) {
				TH_LOG("window [%" PRIu64 ", +%" PRIu64 ")",
				       win[w].s, win[w].l);
				dump_extents("want", want, nw);
				dump_extents("got", got, cnt);
			}
		}
	}
	/* Ranges at and past the largest offset, overflowing ones: none. */
	for (w = 0; w < ARRAY_SIZE(far); w++) {
		cnt = NEXT_MAX;
		r = extents_fd(fd, far[w].s, far[w].l, got, &cnt, &next);
		EXPECT_EQ(0, r) {
			TH_LOG("range [0x%" PRIx64 ", +0x%" PRIx64 "): %s",
			       far[w].s, far[w].l, strerror(-r));
		}
		EXPECT_EQ(0U, cnt);
	}
	/* An unaligned start: the runs still cover it, block aligned. */
	cnt = NEXT_MAX;
	ASSERT_EQ(0, extents_fd(fd, 2 * BS + 1, BS, got, &cnt, &next));
	ASSERT_LE(1U, cnt);
	EXPECT_GE(2 * BS + 1, got[0].logical);
	EXPECT_LT(2 * BS + 1, got[0].logical + got[0].length);
	for (i = 0; i < cnt; i++) {
		EXPECT_EQ(0ULL, (unsigned long long)(got[i].logical % BS));
		EXPECT_EQ(0ULL, (unsigned long long)(got[i].length % BS));
		EXPECT_GT(3 * BS + 1, got[i].logical);
	}
	close(fd);

	/* An empty file, and a file that is one hole. */
	ASSERT_EQ(0, rlfs_make_file("empty", 0, 1, false));
	fd = open("hole", O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 100 * BS));
	close(fd);
	for (i = 0; i < 2; i++) {
		const char *name = i ? "hole" : "empty";
		struct reflinkfs_info in;

		fd = open(name, O_RDONLY);
		ASSERT_LE(0, fd);
		cnt = 4;
		EXPECT_EQ(0, extents_fd(fd, 0, ~0ULL, got, &cnt, NULL));
		EXPECT_EQ(0U, cnt);
		ASSERT_EQ(0, info_fd(fd, &in));
		EXPECT_EQ(0ULL, (unsigned long long)in.shared_bytes);
		EXPECT_EQ(0ULL, (unsigned long long)in.exclusive_bytes);
		EXPECT_EQ(i ? 100 * BS : 0, in.size_bytes);
		close(fd);
	}
	free(m);
}

/* ---- argument checking ---------------------------------------------------------- */

/* An address no process can use: above a 32-bit process's 4 GiB, or
 * non-canonical for a 64-bit one. */
static uint64_t bad_high(const void *p)
{
	return sizeof(void *) == 4 ? (1ULL << 32) | (uintptr_t)p :
				     (1ULL << 63) | (uintptr_t)p;
}

static int ioc(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	while (n--)
		if (*p++ != v)
			return false;
	return true;
}

/* struct reflinkfs_extents_args for @ext at @p, caller's size @sz. */
static struct reflinkfs_extents_args *ea_at(void *p, uint32_t sz, void *ext,
					    uint32_t count)
{
	struct reflinkfs_extents_args *a = p;

	memset(a, 0, sz < sizeof(*a) ? sizeof(*a) : sz);
	a->size = sz;
	a->length = ~0ULL;
	a->extents = (uintptr_t)ext;
	a->count = count;
	return a;
}

static struct reflinkfs_info *in_at(void *p, uint32_t sz)
{
	struct reflinkfs_info *in = p;

	memset(in, 0, sz < sizeof(*in) ? sizeof(*in) : sz);
	in->size = sz;
	return in;
}

static int rl_args(int fd, void *argp, int dirfd, uint64_t name,
		   uint32_t flags, int resv, uint64_t rval)
{
	struct reflinkfs_reflink_args *a = argp;

	memset(a, 0, sizeof(*a));
	a->dest_dirfd = dirfd;
	a->flags = flags;
	a->dest_name = name;
	if (resv >= 0)
		a->reserved[resv] = rval;
	return ioc(fd, REFLINKFS_IOC_REFLINK, a);
}

TEST_F_TIMEOUT(snap, abi_args, T_SNAP)
{
	const uint32_t V0 = REFLINKFS_INFO_SIZE_VER0;
	const uint32_t E0 = REFLINKFS_EXTENTS_SIZE_VER0;
	const long pg = sysconf(_SC_PAGESIZE);
	struct reflinkfs_extent ext[8], ref_ext[8];
	struct reflinkfs_extents_args *ea;
	struct reflinkfs_reflink_args ra;
	struct reflinkfs_info ref, *in;
	uint8_t *m, *end;
	uint32_t nref = 8;
	long long fi0;
	int fd, dfd, op, i, r, ents;

	ASSERT_EQ(0, rlfs_make_file("a", 3 * BS, 1, true));
	ASSERT_EQ(0, rlp("a", "b", 0));
	ASSERT_EQ(0, do_pwrite("a", BS, BS, 2));	/* runs: 2, 1, 2 refs */
	fd = open("a", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, info_fd(fd, &ref));
	ASSERT_EQ(0, extents_fd(fd, 0, ~0ULL, ref_ext, &nref, NULL));
	ASSERT_EQ(3U, nref);
	m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	ASSERT_EQ(0, mprotect(m + 2 * pg, pg, PROT_NONE));
	end = m + 2 * pg;		/* the guard page */

	/* ---- GET_INFO sizes */
	in = in_at(end - V0, V0);	/* exactly VER0, ending at the guard */
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	EXPECT_EQ(V0, in->size);
	EXPECT_EQ(0, memcmp(in, &ref, V0));
	in = in_at(end - V0 - 8, V0 + 8);	/* a newer caller, zero tail */
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	EXPECT_EQ(V0, in->size) {
		TH_LOG("out size must be the bytes filled");
	}
	in->size = V0;
	EXPECT_EQ(0, memcmp(in, &ref, V0));
	EXPECT_TRUE(all_bytes((uint8_t *)in + V0, 8, 0));
	/* the bytes after the caller's size are not touched */
	in = in_at(m + 64, V0 + 8);
	memset((uint8_t *)in + V0 + 8, 0xaa, 64);
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	EXPECT_TRUE(all_bytes((uint8_t *)in + V0 + 8, 64, 0xaa));
	in = in_at(m + 64, V0);
	memset((uint8_t *)in + V0, 0xaa, 64);
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	EXPECT_TRUE(all_bytes((uint8_t *)in + V0, 64, 0xaa));
	/* a page of zeros */
	in = in_at(m, pg);
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	EXPECT_EQ(V0, in->size);
	/* a non-zero byte the kernel does not know: E2BIG */
	in = in_at(m + 64, V0 + 8);
	((uint8_t *)in)[V0 + 5] = 1;
	EXPECT_EQ(-E2BIG, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	in = in_at(m, pg);
	m[pg - 1] = 0x80;
	EXPECT_EQ(-E2BIG, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	/* shorter than VER0: EINVAL */
	for (i = 0; i < 4; i++) {
		static const uint32_t sz[] = { 0, 4, 152 - 8, 152 - 1 };

		in = in_at(m + 64, sz[i]);
		EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_INFO, in)) {
			TH_LOG("size %u", sz[i]);
		}
	}
	/* a tail that runs into the guard page: EFAULT (or E2BIG for an
	 * absurd size) */
	in = in_at(end - V0, V0);
	in->size = V0 + 8;
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	in = in_at(end - V0, V0);
	in->size = ~0U;
	r = ioc(fd, REFLINKFS_IOC_GET_INFO, in);
	EXPECT_TRUE(r == -EFAULT || r == -E2BIG) {
		TH_LOG("size ~0: %s", strerror(-r));
	}
	/* flags and reserved words */
	in = in_at(m + 64, V0);
	in->flags = 1;
	EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	in = in_at(m + 64, V0);
	in->flags = 1U << 31;
	EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	in = in_at(m + 64, V0);
	in->reserved0 = 1;
	EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	for (i = 0; i < 8; i++) {
		in = in_at(m + 64, V0);
		in->reserved[i] = 1ULL << (i * 8);
		EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_INFO, in)) {
			TH_LOG("reserved[%d]", i);
		}
	}
	/* out fields are ignored on input */
	in = in_at(m + 64, V0);
	memset(in, 0xff, V0);
	in->size = V0;
	in->flags = 0;
	in->reserved0 = 0;
	memset(in->reserved, 0, sizeof(in->reserved));
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	EXPECT_EQ(0, memcmp(in, &ref, V0)) {
		dump_info("got", in);
		dump_info("want", &ref);
	}
	/* bad argument pointers */
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_INFO, NULL));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_INFO, (void *)16));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_INFO, end));
	*(uint32_t *)(end - 8) = V0;		/* size readable, rest not */
	*(uint32_t *)(end - 4) = 0;
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_INFO, end - 8));
	if (sizeof(void *) == 8) {
		EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_INFO,
				       (void *)(uintptr_t)bad_high(m)));
	}
	in = in_at(m + pg, V0);			/* read-only: cannot fill */
	ASSERT_EQ(0, mprotect(m + pg, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_INFO, in));
	ASSERT_EQ(0, mprotect(m + pg, pg, PROT_READ | PROT_WRITE));

	/* ---- GET_EXTENTS sizes */
	memset(ext, 0, sizeof(ext));
	ea = ea_at(end - E0, E0, ext, 8);
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	EXPECT_EQ(E0, ea->size);
	EXPECT_EQ(3U, ea->count);
	EXPECT_EQ(0, memcmp(ext, ref_ext, 3 * sizeof(ext[0])));
	ea = ea_at(end - E0 - 8, E0 + 8, ext, 8);
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	EXPECT_EQ(E0, ea->size);
	EXPECT_EQ(3U, ea->count);
	EXPECT_TRUE(all_bytes((uint8_t *)ea + E0, 8, 0));
	ea = ea_at(m + 64, E0 + 8, ext, 8);
	memset((uint8_t *)ea + E0 + 8, 0xaa, 64);
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	EXPECT_TRUE(all_bytes((uint8_t *)ea + E0 + 8, 64, 0xaa));
	ea = ea_at(m + 64, E0 + 8, ext, 8);
	((uint8_t *)ea)[E0 + 7] = 1;
	EXPECT_EQ(-E2BIG, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(m + 64, E0 - 8, ext, 8);
	EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(m + 64, 0, ext, 8);
	EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(end - E0, E0, ext, 8);
	ea->size = E0 + 8;
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(m + 64, E0, ext, 8);
	ea->flags = 1;
	EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(m + 64, E0, ext, 8);
	ea->flags = 1U << 31;
	EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(m + 64, E0, ext, 8);
	ea->reserved0 = 1;
	EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	for (i = 0; i < 4; i++) {
		ea = ea_at(m + 64, E0, ext, 8);
		ea->reserved[i] = 1ULL << (i * 16);
		EXPECT_EQ(-EINVAL, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea)) {
			TH_LOG("reserved[%d]", i);
		}
	}
	ea = ea_at(m + 64, E0, ext, 8);	/* next is out only */
	ea->next = ~0ULL;
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	EXPECT_EQ(3U, ea->count);
	/* bad extents pointers: EFAULT */
	ea = ea_at(m + 64, E0, NULL, 8);
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(m + 64, E0, (void *)16, 8);
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(m + 64, E0, end, 8);
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ea = ea_at(m + 64, E0, end - sizeof(ext[0]), 8);	/* room for 1 */
	memset(end - sizeof(ext[0]), 0x5a, sizeof(ext[0]));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	/* ABI: the runs before the fault were stored, count not updated */
	EXPECT_EQ(0, memcmp(end - sizeof(ext[0]), &ref_ext[0], sizeof(ext[0])));
	EXPECT_EQ(8U, ea->count);
	ea = ea_at(m + 64, E0, NULL, 8);
	ea->extents = bad_high(ext);
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea)) {
		TH_LOG("extents = 0x%" PRIx64 ": the high bits must not be "
		       "dropped", (uint64_t)ea->extents);
	}
	ea = ea_at(m + 64, E0, m + pg, 8);
	ASSERT_EQ(0, mprotect(m + pg, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	ASSERT_EQ(0, mprotect(m + pg, pg, PROT_READ | PROT_WRITE));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, NULL));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, end));
	ea = (void *)(end - 16);		/* the header only */
	memset(ea, 0, 16);
	ea->size = E0;
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_GET_EXTENTS, ea));
	/* the file is unchanged by all that */
	nref = 8;
	EXPECT_EQ(0, extents_fd(fd, 0, ~0ULL, ext, &nref, NULL));
	EXPECT_EQ(3U, nref);
	EXPECT_EQ(0, memcmp(ext, ref_ext, 3 * sizeof(ext[0])));

	/* ---- not a regular file: a directory EINVAL, O_PATH EBADF */
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	in = in_at(m + 64, V0);
	EXPECT_EQ(-EINVAL, ioc(dfd, REFLINKFS_IOC_GET_INFO, in));
	ea = ea_at(m + 64, E0, ext, 8);
	EXPECT_EQ(-EINVAL, ioc(dfd, REFLINKFS_IOC_GET_EXTENTS, ea));
	EXPECT_EQ(-EINVAL, rl(dfd, AT_FDCWD, "dsnap", IMM));
	EXPECT_FALSE(exists("dsnap"));
	op = open("a", O_PATH);
	ASSERT_LE(0, op);
	in = in_at(m + 64, V0);
	EXPECT_EQ(-EBADF, ioc(op, REFLINKFS_IOC_GET_INFO, in));
	ea = ea_at(m + 64, E0, ext, 8);
	EXPECT_EQ(-EBADF, ioc(op, REFLINKFS_IOC_GET_EXTENTS, ea));
	EXPECT_EQ(-EBADF, rl(op, AT_FDCWD, "psnap", IMM));
	close(op);

	/* ---- REFLINK with IMMUTABLE: bad arguments create nothing */
	fi0 = free_inodes();
	ents = count_entries(".");
	memcpy(end - 6, "snapX", 6);
	EXPECT_EQ(-EINVAL, rl_args(fd, &ra, AT_FDCWD, (uintptr_t)(end - 6),
				   IMM | (1U << 3), -1, 0));
	EXPECT_EQ(-EINVAL, rl_args(fd, &ra, AT_FDCWD, (uintptr_t)(end - 6),
				   IMM | (1U << 31), -1, 0));
	EXPECT_EQ(-EINVAL, rl_args(fd, &ra, AT_FDCWD, (uintptr_t)(end - 6),
				   ~0U, -1, 0));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-EINVAL, rl_args(fd, &ra, AT_FDCWD,
					   (uintptr_t)(end - 6), IMM, i,
					   1ULL << 40)) {
			TH_LOG("reserved[%d]", i);
		}
	}
	EXPECT_EQ(-EFAULT, rl_args(fd, &ra, AT_FDCWD, 0, IMM, -1, 0));
	EXPECT_EQ(-EFAULT, rl_args(fd, &ra, AT_FDCWD, 16, IMM, -1, 0));
	EXPECT_EQ(-EFAULT, rl_args(fd, &ra, AT_FDCWD, (uintptr_t)end, IMM,
				   -1, 0));
	memcpy(end - 5, "snapY", 5);		/* no NUL before the guard */
	EXPECT_EQ(-EFAULT, rl_args(fd, &ra, AT_FDCWD, (uintptr_t)(end - 5),
				   IMM, -1, 0));
	memcpy(end - 6, "snapX", 6);		/* "snapX" again */
	EXPECT_EQ(-EFAULT, rl_args(fd, &ra, AT_FDCWD, bad_high(end - 6), IMM,
				   -1, 0)) {
		TH_LOG("dest_name 0x%" PRIx64 ": the high bits must not be "
		       "dropped", bad_high(end - 6));
	}
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_REFLINK, NULL));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_REFLINK, end));
	EXPECT_EQ(-EFAULT, ioc(fd, REFLINKFS_IOC_REFLINK, end - 16));
	EXPECT_EQ(-EBADF, rl_args(fd, &ra, 9999, (uintptr_t)(end - 6), IMM,
				  -1, 0));
	EXPECT_EQ(-ENOTDIR, rl_args(fd, &ra, fd, (uintptr_t)(end - 6), IMM,
				    -1, 0));
	EXPECT_EQ(-EEXIST, rl(fd, AT_FDCWD, "b", IMM));
	EXPECT_EQ(-EEXIST, rl(fd, AT_FDCWD, ".", IMM));
	EXPECT_EQ(-ENOENT, rl(fd, AT_FDCWD, "", IMM));
	EXPECT_EQ(-ENOENT, rl(fd, AT_FDCWD, "nodir/x", IMM));
	EXPECT_FALSE(exists("snapX"));
	EXPECT_FALSE(exists("snapY"));
	EXPECT_EQ(ents, count_entries("."));
	EXPECT_EQ(fi0, free_inodes());
	ASSERT_EQ(0, info_fd(fd, &ref));
	EXPECT_EQ(0ULL, (unsigned long long)ref.lineage) {
		TH_LOG("a failed snapshot call gave the source a lineage");
	}
	/* and a good call still works, through the same guarded name */
	EXPECT_EQ(0, rl_args(fd, &ra, AT_FDCWD, (uintptr_t)(end - 6), IMM,
			     -1, 0));
	EXPECT_TRUE(immutable("snapX"));
	close(dfd);
	close(fd);
	munmap(m, 3 * pg);
}

/*
 * Output buffers in mappings of the file being asked about (FIEMAP's
 * deadlock pattern: the copy-out faults on this very file, and the fault
 * copies a shared block).  The calls must finish, the copy-out's CoW must
 * leave the clone alone, and a snapshot mapped privately as the buffer
 * must not change; read-only mappings give EFAULT.
 */
TEST_F_TIMEOUT(snap, self_mapped_buffers, T_SNAP)
{
	struct reflinkfs_extent ext[8];
	struct reflinkfs_info in, *pin;
	uint32_t cnt;
	uint8_t *p, *q;
	int fd, sfd;

	ASSERT_EQ(0, rlfs_make_file("f", 8 * BS, 1, true));
	ASSERT_EQ(0, rlfs_clone_file("f", "c"));
	ASSERT_EQ(0, rlp("f", "s", IMM));
	fd = open("f", O_RDWR);
	ASSERT_LE(0, fd);
	p = mmap(NULL, 8 * BS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	/* the runs, copied into page 0 of f itself (not yet faulted in) */
	cnt = 8;
	EXPECT_EQ(0, extents_fd(fd, 0, ~0ULL, (void *)p, &cnt, NULL));
	EXPECT_LE(1U, cnt);
	EXPECT_GE(2U, cnt);
	memcpy(ext, p, sizeof(ext[0]));
	EXPECT_EQ(0ULL, (unsigned long long)ext[0].logical);
	EXPECT_LE(2U, ext[0].refcount);
	ASSERT_EQ(0, msync(p, 8 * BS, MS_SYNC));
	/* the fault copied f's block 0; c and s keep theirs */
	cnt = 8;
	ASSERT_EQ(0, extents_fd(fd, 0, ~0ULL, ext, &cnt, NULL));
	ASSERT_EQ(2U, cnt);
	EXPECT_EQ(BS, ext[0].length);
	EXPECT_EQ(1U, ext[0].refcount);
	EXPECT_EQ(7 * BS, ext[1].length);
	EXPECT_EQ(3U, ext[1].refcount);
	EXPECT_EQ(0, rlfs_verify_file("c", 8 * BS, 1));
	EXPECT_EQ(0, rlfs_verify_file("s", 8 * BS, 1));
	EXPECT_EQ(0, rlfs_verify(fd, BS, 7 * BS, 1));
	/* GET_INFO's argument in page 1 of f, write-protected by msync */
	pin = (void *)(p + BS);
	memset(pin, 0, sizeof(*pin));
	pin->size = sizeof(*pin);
	ASSERT_EQ(0, msync(p, 8 * BS, MS_SYNC));
	EXPECT_EQ(0, ioc(fd, REFLINKFS_IOC_GET_INFO, pin));
	memcpy(&in, pin, sizeof(in));
	EXPECT_EQ(ino_of("f"), in.ino);
	EXPECT_EQ(2 * BS, in.exclusive_bytes);
	EXPECT_EQ(6 * BS, in.shared_bytes);
	munmap(p, 8 * BS);

	/* A snapshot as the buffer: private writable mapping works and does
	 * not reach the snapshot; a shared one can only be read-only. */
	sfd = open("s", O_RDONLY);
	ASSERT_LE(0, sfd);
	q = mmap(NULL, 8 * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE, sfd, 0);
	ASSERT_TRUE(q != MAP_FAILED);
	cnt = 8;
	EXPECT_EQ(0, extents_fd(sfd, 0, ~0ULL, (void *)q, &cnt, NULL));
	/* f copied its blocks 0 and 1: s shares them with c only */
	EXPECT_EQ(2U, cnt);
	memcpy(ext, q, 2 * sizeof(ext[0]));
	EXPECT_EQ(2 * BS, ext[0].length);
	EXPECT_EQ(2U, ext[0].refcount);
	EXPECT_EQ(6 * BS, ext[1].length);
	EXPECT_EQ(3U, ext[1].refcount);
	pin = (void *)(q + BS);
	memset(pin, 0, sizeof(*pin));
	pin->size = sizeof(*pin);
	EXPECT_EQ(0, ioc(sfd, REFLINKFS_IOC_GET_INFO, pin));
	EXPECT_EQ((uint64_t)SNAPFL, pin->info_flags);
	munmap(q, 8 * BS);
	q = mmap(NULL, 8 * BS, PROT_READ, MAP_SHARED, sfd, 0);
	ASSERT_TRUE(q != MAP_FAILED);
	cnt = 8;
	EXPECT_EQ(-EFAULT, extents_fd(sfd, 0, ~0ULL, (void *)q, &cnt, NULL));
	munmap(q, 8 * BS);
	close(sfd);
	close(fd);
	rlfs_drop_caches();
	EXPECT_EQ(0, rlfs_verify_file("s", 8 * BS, 1));
	EXPECT_EQ(0, rlfs_verify_file("c", 8 * BS, 1));
}

/* ---- persistence ------------------------------------------------------------ */

#define PN	7
static const char *const pnames[PN] = {
	"a", "s1", "s2", "ss", "r", "u", "c",
};

struct pstate {
	struct reflinkfs_info	info[PN];
	struct reflinkfs_extent	ext[PN][16];
	uint32_t		next[PN];
	unsigned int		iflags[PN];
	struct statx_timestamp	bt[PN];
};

/* a, its snapshots s1 (IMMUTABLE) and s2 (IMMUTABLE|PRESERVE), a
 * snapshot of s1, a restore r of s1, a snapshot u made writable again
 * (chattr -i), a plain reflink c; then a CoW write in a. */
static void persist_make(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, rlfs_make_file("a", 6 * BS + 10, 1, true));
	ASSERT_EQ(0, setxattr("a", "user.k", "v", 1, 0));
	ASSERT_EQ(0, chown("a", 1000, 1001));
	ASSERT_EQ(0, rlp("a", "s1", IMM));
	ASSERT_EQ(0, rlp("a", "s2", IMM | PRES));
	ASSERT_EQ(0, rlp("s1", "ss", IMM));
	ASSERT_EQ(0, rlp("s1", "r", LIN));
	ASSERT_EQ(0, rlp("a", "u", IMM));
	ASSERT_EQ(0, rlfs_set_iflags("u", 0));
	ASSERT_EQ(0, rlp("a", "c", 0));
	ASSERT_EQ(0, do_pwrite("a", 2 * BS, BS, 2));
	ASSERT_EQ(0, do_pwrite("r", 4 * BS, 2 * BS, 3));
	sync();
}

static void persist_get(struct __test_metadata *_metadata, struct pstate *p)
{
	int i, fd;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < PN; i++) {
		fd = open(pnames[i], O_RDONLY);
		ASSERT_LE(0, fd) {
			TH_LOG("open %s: %s", pnames[i], strerror(errno));
		}
		ASSERT_EQ(0, info_fd(fd, &p->info[i]));
		p->next[i] = 16;
		ASSERT_EQ(0, extents_fd(fd, 0, ~0ULL, p->ext[i], &p->next[i],
					NULL));
		close(fd);
		p->iflags[i] = rlfs_get_iflags(pnames[i]);
		ASSERT_EQ(0, get_btime(pnames[i], &p->bt[i]));
	}
}

static void persist_expect_record(struct __test_metadata *_metadata,
				  const struct pstate *p)
{
	const struct reflinkfs_info *a = &p->info[0];
	int i;

	EXPECT_EQ((uint64_t)REFLINKFS_INFO_LINEAGE, a->info_flags);
	EXPECT_NE(0ULL, (unsigned long long)a->lineage);
	for (i = 1; i < PN; i++) {
		const struct reflinkfs_info *in = &p->info[i];
		bool snap = i <= 3 || i == 5;

		if (i == 6) {			/* the plain reflink */
			EXPECT_EQ(0ULL, (unsigned long long)in->info_flags);
			continue;
		}
		EXPECT_EQ(a->lineage, in->lineage) {
			TH_LOG("%s: lineage", pnames[i]);
		}
		EXPECT_EQ(snap, !!(in->info_flags & REFLINKFS_INFO_SNAPSHOT)) {
			TH_LOG("%s: INFO_SNAPSHOT", pnames[i]);
		}
		EXPECT_EQ(snap && i != 5,
			  !!(in->info_flags & REFLINKFS_INFO_IMMUTABLE)) {
			TH_LOG("%s: INFO_IMMUTABLE", pnames[i]);
		}
		EXPECT_EQ(snap && i != 5, !!(p->iflags[i] & FS_IMMUTABLE_FL)) {
			TH_LOG("%s: FS_IMMUTABLE_FL", pnames[i]);
		}
		if (snap) {
			const struct reflinkfs_info *o = i == 3 ? &p->info[1] : a;

			EXPECT_EQ(o->ino, in->origin_ino) {
				TH_LOG("%s: origin", pnames[i]);
			}
			EXPECT_EQ(o->generation, in->origin_generation) {
				TH_LOG("%s: origin generation", pnames[i]);
			}
		}
		EXPECT_EQ(p->bt[i].tv_sec, in->snap_time_sec);
		EXPECT_EQ(p->bt[i].tv_nsec, in->snap_time_nsec);
	}
}

static void persist_compare(struct __test_metadata *_metadata,
			    const struct pstate *p0, const char *when)
{
	struct pstate p1;
	int i;

	persist_get(_metadata, &p1);
	for (i = 0; i < PN; i++) {
		EXPECT_EQ(0, memcmp(&p0->info[i], &p1.info[i],
				    sizeof(p1.info[i]))) {
			TH_LOG("%s: GET_INFO of %s changed across %s",
			       pnames[i], pnames[i], when);
			dump_info("before", &p0->info[i]);
			dump_info("after", &p1.info[i]);
		}
		EXPECT_EQ(p0->next[i], p1.next[i]);
		EXPECT_EQ(0, memcmp(p0->ext[i], p1.ext[i], sizeof(p1.ext[i]))) {
			TH_LOG("%s: GET_EXTENTS changed across %s", pnames[i],
			       when);
			dump_extents("before", p0->ext[i], p0->next[i]);
			dump_extents("after", p1.ext[i], p1.next[i]);
		}
		EXPECT_EQ(p0->iflags[i], p1.iflags[i]) {
			TH_LOG("%s: inode flags changed across %s", pnames[i],
			       when);
		}
		EXPECT_EQ(p0->bt[i].tv_sec, p1.bt[i].tv_sec);
		EXPECT_EQ(p0->bt[i].tv_nsec, p1.bt[i].tv_nsec);
	}
	persist_expect_record(_metadata, &p1);
	EXPECT_EQ(0, rlfs_verify_file("s1", 6 * BS + 10, 1));
	EXPECT_EQ(0, rlfs_verify_file("ss", 6 * BS + 10, 1));
	EXPECT_ERR(EPERM, open("s1", O_WRONLY));
	EXPECT_ERR(EPERM, unlink("ss"));
}

/* After the check: new snapshots join the lineage, writes CoW. */
static void persist_after(struct __test_metadata *_metadata,
			  const struct pstate *p0)
{
	struct reflinkfs_info in;

	ASSERT_EQ(0, rlp("a", "s3", IMM));
	ASSERT_EQ(0, info_path("s3", &in));
	EXPECT_EQ(p0->info[0].lineage, in.lineage);
	EXPECT_EQ(p0->info[0].ino, in.origin_ino);
	EXPECT_EQ((uint64_t)SNAPFL, in.info_flags);
	ASSERT_EQ(0, do_pwrite("a", 0, BS, 4));
	EXPECT_EQ(0, rlfs_verify_file("s1", 6 * BS + 10, 1));
	ASSERT_EQ(0, info_path("s3", &in));
	EXPECT_EQ(7 * BS, in.shared_bytes);
	EXPECT_EQ(0ULL, (unsigned long long)in.exclusive_bytes);
}

TEST_F_TIMEOUT(snap, persist_remount, T_SNAP)
{
	struct pstate p0;

	persist_make(_metadata);
	persist_get(_metadata, &p0);
	persist_expect_record(_metadata, &p0);
	rlfs_drop_caches();
	persist_compare(_metadata, &p0, "a drop of the caches");
	RLFS_REMOUNT(&self->fs);
	persist_compare(_metadata, &p0, "a remount");
	persist_after(_metadata, &p0);
}

#if !defined(__i386__)
static bool fs_registered(void)
{
	char line[256];
	FILE *f = fopen("/proc/filesystems", "r");
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\treflinkfs\n"))
			found = true;
	fclose(f);
	return found;
}

/* Last in the program: everything after it would run on a new module. */
TEST_F_TIMEOUT(snap, persist_module_reload, T_SNAP)
{
	const char *mod = getenv("RLFS_MODULE");
	struct pstate p0;
	int r;

	if (!mod || !*mod || access(mod, R_OK))
		SKIP(return, "RLFS_MODULE not set: cannot reload the module");
	persist_make(_metadata);
	persist_get(_metadata, &p0);
	persist_expect_record(_metadata, &p0);
	close_range(3, ~0U, 0);
	ASSERT_EQ(0, rlfs_umount(&self->fs));
	EXPECT_EQ(0, rlfs_fsck(self->fs.dev));
	r = rlfs_run(0, "rmmod reflinkfs");
	ASSERT_EQ(0, r) {
		TH_LOG("rmmod reflinkfs failed (in use?)");
	}
	EXPECT_FALSE(fs_registered());
	r = rlfs_run(0, "insmod '%s'", mod);
	if (r && !fs_registered())
		r = rlfs_run(0, "insmod '%s'", mod);
	ASSERT_EQ(0, r) {
		TH_LOG("insmod %s failed", mod);
	}
	ASSERT_EQ(0, rlfs_mount(&self->fs));
	persist_compare(_metadata, &p0, "rmmod/insmod");
	persist_after(_metadata, &p0);
}
#endif

TEST_HARNESS_MAIN
