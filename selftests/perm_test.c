// SPDX-License-Identifier: GPL-2.0
/*
 * perm_test - who may call REFLINKFS_IOC_REFLINK, and what the new file
 * gets (Documentation/filesystems/reflinkfs-abi.rst).
 *
 * preserve_setgid: PRESERVE follows OCFS2's rules.  The caller must own
 *	the source or have CAP_CHOWN, and be in the source's group or have
 *	CAP_CHOWN: the owner of an immutable 02755 file of group 0 who is
 *	not in group 0 gets EPERM and no file (as for a 0644 file of that
 *	group); with 0 as a supplementary group the copy has the owner,
 *	group and mode 02755 of the source and is an ordinary writable file
 *	(no immutable or append-only flag, a write does not reach the
 *	source).  Set-id bits are copied only as chmod would keep them:
 *	CAP_CHOWN without CAP_FSETID, not in the group, gets the copy
 *	without S_ISGID; full root keeps it.
 * plain_reflink_unprivileged: without PRESERVE, uid 1000 can reflink a
 *	root file it may read into a directory it may write and search
 *	(0333); the copy is its own (the directory's group in a set-gid
 *	directory) with mode source & 0777 & ~umask.  A source it cannot
 *	read (an fd opened by root, or its own 0244 file opened write-only)
 *	and a directory without write or search permission give EACCES and
 *	create nothing (checked by name and by the free inode count).
 * reflink_same_mount: the new name must be on the source's mount, as
 *	for link(2) and OCFS2's reflink: a destination directory on another
 *	vfsmount of the same filesystem (a bind mount) is EXDEV in both
 *	directions, and creates nothing; within each mount the reflink
 *	works.  For reference, link(2) across the two mounts is EXDEV, while
 *	FICLONE into an existing file may cross them (Linux 5.18, "fs: allow
 *	cross-vfsmount reflink/dedupe": only the superblock must match).
 * reflink_fsnotify: inotify on the destination directory reports one
 *	IN_CREATE per reflinked name, with and without PRESERVE, and none for
 *	a reflink that fails.
 * reflink_xattrs_preserve: PRESERVE copies user.* xattrs and the access
 *	ACL (when the filesystem stores POSIX ACLs at all), but no security.*
 *	xattr (security.capability included): the copy is labelled as a new
 *	file.  The owner without CAP_SYS_ADMIN cannot have trusted.* copied:
 *	the copy lacks it, or the call is EPERM and creates nothing.
 * bad_args: unknown flags and non-zero reserved words are EINVAL, an
 *	unreadable argument or name EFAULT, an existing name (file, dangling
 *	symlink, directory) EEXIST, a directory source EINVAL, and the
 *	other path errors of the ABI (EBADF, ENOTDIR, ENOENT, ENAMETOOLONG);
 *	none creates or changes anything, and a valid call still works.
 *
 * The tests run as root; other callers are forked children that take
 * their credentials with setgroups/setresgid/setresuid (uid 1000 has no
 * capabilities) and, for root without one capability, capset(2).  A
 * child reports 0 or the errno of its ioctl through its exit status.
 * Every test ends with an unmount and "fsck.reflinkfs -n" clean.
 *
 * Environment: see rlfs_util.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>

#include "rlfs_util.h"
#include "uapi/linux/reflinkfs.h"

#define BS		4096
#define T_PERM		120
#define PRESERVE	REFLINKFS_REFLINK_PRESERVE
#define BIND_MNT	RLFS_MNT_BASE "/bind"
/* Exit status of a child that could not take its credentials. */
#define CHILD_BROKEN	255

/* ---- helpers ------------------------------------------------------------ */

/* The credentials of a forked caller. */
struct who {
	uid_t		uid;
	gid_t		gid;
	int		ngroups;
	gid_t		groups[2];
	uint64_t	drop_caps;	/* 1 << CAP_*: dropped (for uid 0) */
	mode_t		umask;
};

static int rl(int srcfd, int dirfd, const char *name, uint32_t flags)
{
	struct reflinkfs_reflink_args args = {
		.dest_dirfd	= dirfd,
		.flags		= flags,
		.dest_name	= (uintptr_t)name,
	};

	return ioctl(srcfd, REFLINKFS_IOC_REFLINK, &args) ? -errno : 0;
}

/* In a child: take the credentials of @w.  Returns 0 or -errno. */
static int become(const struct who *w)
{
	umask(w->umask);
	if (setgroups(w->ngroups, w->groups) ||
	    setresgid(w->gid, w->gid, w->gid) ||
	    setresuid(w->uid, w->uid, w->uid))
		return -errno;
	return rlfs_drop_caps(w->drop_caps);
}

/*
 * As @w, in a child: reflink @srcfd (inherited from the caller) or, when
 * it is negative, @src opened with @oflags, to @dest relative to the
 * current directory.  Returns 0 or -errno of the ioctl, -CHILD_BROKEN
 * (after a diagnostic) when the child could not get that far.
 */
static int reflink_as(const struct who *w, int srcfd, const char *src,
		      int oflags, const char *dest, uint32_t flags)
{
	pid_t pid;
	int st, ret;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -CHILD_BROKEN;
	if (pid == 0) {
		ret = become(w);
		if (ret) {
			fprintf(stderr, "# uid %u gid %u: cannot take the credentials: %s\n",
				w->uid, w->gid, strerror(-ret));
			_exit(CHILD_BROKEN);
		}
		if (srcfd < 0)
			srcfd = open(src, oflags);
		if (srcfd < 0) {
			fprintf(stderr, "# uid %u: open %s: %s\n", w->uid, src,
				strerror(errno));
			_exit(CHILD_BROKEN);
		}
		_exit(-rl(srcfd, AT_FDCWD, dest, flags));
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -CHILD_BROKEN;
	return -WEXITSTATUS(st);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Free inodes of the filesystem in the current directory, or -1. */
static long long free_inodes(void)
{
	struct statfs sf;

	sync();
	return statfs(".", &sf) ? -1 : (long long)sf.f_ffree;
}

/* Entries of directory @path other than "." and "..", or -1. */
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

/*
 * Compare xattr @name of @path with @len bytes at @val.  Returns 0 when
 * equal, -ENODATA when absent, 1 when different, else -errno.
 */
static int xattr_cmp(const char *path, const char *name, const void *val,
		     size_t len)
{
	char buf[2048];
	ssize_t n = getxattr(path, name, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	return (size_t)n == len && !memcmp(buf, val, len) ? 0 : 1;
}

#define EXPECT_STAT(path, uid, gid, mode) do {				\
	struct stat __st;						\
									\
	ASSERT_EQ(0, stat(path, &__st)) {				\
		TH_LOG("%s: %s", path, strerror(errno));		\
	}								\
	EXPECT_EQ((uid_t)(uid), __st.st_uid) {				\
		TH_LOG("%s: owner", path);				\
	}								\
	EXPECT_EQ((gid_t)(gid), __st.st_gid) {				\
		TH_LOG("%s: group", path);				\
	}								\
	EXPECT_EQ((mode_t)(S_IFREG | (mode)), __st.st_mode) {		\
		TH_LOG("%s: mode 0%o, want 0%o", path,			\
		       (unsigned int)__st.st_mode,			\
		       (unsigned int)(S_IFREG | (mode)));		\
	}								\
} while (0)

#define EXPECT_ABSENT(path) do {					\
	EXPECT_FALSE(exists(path)) {					\
		TH_LOG("%s exists after a failed reflink", path);	\
	}								\
} while (0)

/* ---- fixture ------------------------------------------------------------ */

FIXTURE(perm) {
	struct rlfs_fs	fs;
	bool		bound;		/* BIND_MNT is mounted */
};

FIXTURE_SETUP(perm)
{
	RLFS_REFLINKFS_ONLY_SETUP("REFLINKFS_IOC_REFLINK");
	rlfs_fs_setup(&self->fs, RLFS_TEST_BLOCKS);
}

FIXTURE_TEARDOWN(perm)
{
	if (self->bound) {
		self->bound = false;
		close_range(3, ~0U, 0);
		EXPECT_EQ(0, umount2(BIND_MNT, 0)) {
			TH_LOG("umount %s: %s", BIND_MNT, strerror(errno));
			umount2(BIND_MNT, MNT_DETACH);
		}
	}
	rlfs_fs_teardown(&self->fs);
}

/* ---- PRESERVE and the set-group-ID bit ---------------------------------- */

TEST_F_TIMEOUT(perm, preserve_setgid, T_PERM)
{
	const struct who owner = { .uid = 1000, .gid = 1000 };
	const struct who owner_in_group = {
		.uid = 1000, .gid = 1000, .ngroups = 1, .groups = { 0 },
	};
	const struct who chown_no_fsetid = {
		.uid = 0, .gid = 1000, .drop_caps = 1ULL << CAP_FSETID,
	};
	const size_t len = 3 * BS + 100;
	int fd;

	ASSERT_EQ(0, rlfs_make_file("src", len, 1, true));
	ASSERT_EQ(0, chown("src", 1000, 0));
	ASSERT_EQ(0, chmod("src", 02755));
	ASSERT_EQ(0, rlfs_set_iflags("src", FS_IMMUTABLE_FL));
	ASSERT_EQ(0, rlfs_make_file("nosgid", BS, 1, true));
	ASSERT_EQ(0, chown("nosgid", 1000, 0));
	ASSERT_EQ(0, mkdir("d", 0777));
	ASSERT_EQ(0, chmod("d", 0777));

	/* The owner outside group 0 could not chmod g+s either. */
	EXPECT_EQ(-EPERM, reflink_as(&owner, -1, "src", O_RDONLY, "d/own",
				     PRESERVE));
	EXPECT_ABSENT("d/own");
	/* Nor may it have a file of that group without the set-gid bit. */
	EXPECT_EQ(-EPERM, reflink_as(&owner, -1, "nosgid", O_RDONLY,
				     "d/nosgid", PRESERVE));
	EXPECT_ABSENT("d/nosgid");

	/* In group 0 through a supplementary group. */
	ASSERT_EQ(0, reflink_as(&owner_in_group, -1, "src", O_RDONLY, "d/grp",
				PRESERVE));
	EXPECT_STAT("d/grp", 1000, 0, 02755);
	EXPECT_EQ(0U, rlfs_get_iflags("d/grp") & (FS_IMMUTABLE_FL | FS_APPEND_FL));
	EXPECT_EQ(0, rlfs_verify_file("d/grp", len, 1));
	/* An ordinary file: writable, and the write stays in the copy. */
	fd = open("d/grp", O_WRONLY);
	ASSERT_LE(0, fd) {
		TH_LOG("open d/grp for writing: %s", strerror(errno));
	}
	EXPECT_EQ(0, rlfs_write_pattern(fd, 0, len, 2));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, rlfs_verify_file("d/grp", len, 2));
	EXPECT_EQ(0, rlfs_verify_file("src", len, 1));

	/* CAP_CHOWN, outside the group, no CAP_FSETID: chmod drops S_ISGID. */
	ASSERT_EQ(0, reflink_as(&chown_no_fsetid, -1, "src", O_RDONLY,
				"d/cap", PRESERVE));
	EXPECT_STAT("d/cap", 1000, 0, 0755);
	EXPECT_EQ(0U, rlfs_get_iflags("d/cap") & (FS_IMMUTABLE_FL | FS_APPEND_FL));

	/* Full root keeps it. */
	fd = open("src", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rl(fd, AT_FDCWD, "d/root", PRESERVE));
	EXPECT_STAT("d/root", 1000, 0, 02755);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, rlfs_verify_file("d/root", len, 1));
	EXPECT_EQ(0, rlfs_set_iflags("src", 0));
}

/* ---- without PRESERVE --------------------------------------------------- */

TEST_F_TIMEOUT(perm, plain_reflink_unprivileged, T_PERM)
{
	const struct who user = { .uid = 1000, .gid = 1000, .umask = 027 };
	const size_t len = 5 * BS + 7;
	long long ffree;
	int secret;

	ASSERT_EQ(0, rlfs_make_file("src", len, 3, true));
	ASSERT_EQ(0, chmod("src", 06777));
	ASSERT_EQ(0, rlfs_make_file("secret", BS, 4, true));
	ASSERT_EQ(0, chmod("secret", 0600));
	ASSERT_EQ(0, rlfs_make_file("noread", BS, 5, true));
	ASSERT_EQ(0, chown("noread", 1000, 1000));
	ASSERT_EQ(0, chmod("noread", 0244));
	ASSERT_EQ(0, mkdir("pub", 0));
	ASSERT_EQ(0, chmod("pub", 0333));	/* write and search only */
	ASSERT_EQ(0, mkdir("sgd", 0));
	ASSERT_EQ(0, chown("sgd", 0, 2000));
	ASSERT_EQ(0, chmod("sgd", 02777));
	ASSERT_EQ(0, mkdir("ro", 0));
	ASSERT_EQ(0, chmod("ro", 0555));
	ASSERT_EQ(0, mkdir("nox", 0));
	ASSERT_EQ(0, chmod("nox", 0666));
	secret = open("secret", O_RDONLY);
	ASSERT_LE(0, secret);
	ffree = free_inodes();

	EXPECT_EQ(0, reflink_as(&user, -1, "src", O_RDONLY, "pub/c", 0));
	EXPECT_STAT("pub/c", 1000, 1000, 0750);
	EXPECT_EQ(0, rlfs_verify_file("pub/c", len, 3));
	EXPECT_EQ(0, reflink_as(&user, -1, "src", O_RDONLY, "sgd/c", 0));
	EXPECT_STAT("sgd/c", 1000, 2000, 0750);
	EXPECT_EQ(0, rlfs_verify_file("sgd/c", len, 3));

	EXPECT_EQ(-EACCES, reflink_as(&user, -1, "src", O_RDONLY, "ro/c", 0));
	EXPECT_EQ(-EACCES, reflink_as(&user, -1, "src", O_RDONLY, "nox/c", 0));
	/* The check is on the caller, not on how the fd was opened. */
	EXPECT_EQ(-EACCES, reflink_as(&user, secret, NULL, 0, "pub/secret", 0));
	EXPECT_EQ(-EACCES, reflink_as(&user, -1, "noread", O_WRONLY,
				      "pub/noread", 0));
	EXPECT_ABSENT("ro/c");
	EXPECT_ABSENT("nox/c");
	EXPECT_ABSENT("pub/secret");
	EXPECT_ABSENT("pub/noread");
	EXPECT_EQ(ffree - 2, free_inodes());
	EXPECT_EQ(0, close(secret));
}

/* ---- mounts ------------------------------------------------------------- */

TEST_F_TIMEOUT(perm, reflink_same_mount, T_PERM)
{
	int fa, fb, dmain, dbind, fo;

	ASSERT_EQ(0, rlfs_make_file("src", 2 * BS, 6, true));
	ASSERT_EQ(0, mkdir("d", 0755));
	mkdir(BIND_MNT, 0755);
	ASSERT_EQ(0, mount(self->fs.mnt, BIND_MNT, NULL, MS_BIND, NULL)) {
		TH_LOG("bind mount on %s: %s", BIND_MNT, strerror(errno));
	}
	self->bound = true;
	fa = open("src", O_RDONLY);
	fb = open(BIND_MNT "/src", O_RDONLY);
	dmain = open("d", O_RDONLY | O_DIRECTORY);
	dbind = open(BIND_MNT "/d", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	ASSERT_LE(0, dmain);
	ASSERT_LE(0, dbind);

	/* Within one mount: fine. */
	EXPECT_EQ(0, rl(fa, dmain, "m", 0));
	EXPECT_EQ(0, rl(fb, dbind, "b", 0));
	EXPECT_EQ(0, rlfs_verify_file("d/m", 2 * BS, 6));
	EXPECT_EQ(0, rlfs_verify_file("d/b", 2 * BS, 6));

	/* Across the two mounts of one filesystem. */
	EXPECT_EQ(-EXDEV, rl(fa, dbind, "x1", 0));
	EXPECT_EQ(-EXDEV, rl(fb, dmain, "x2", 0));
	EXPECT_EQ(-EXDEV, rl(fa, AT_FDCWD, BIND_MNT "/d/x3", 0));
	EXPECT_EQ(-EXDEV, rl(fa, dbind, "x4", PRESERVE));
	/* Another filesystem (the tmpfs holding the mount points). */
	EXPECT_EQ(-EXDEV, rl(fa, AT_FDCWD, RLFS_MNT_BASE "/x5", 0));
	EXPECT_ABSENT("d/x1");
	EXPECT_ABSENT("d/x2");
	EXPECT_ABSENT("d/x3");
	EXPECT_ABSENT("d/x4");
	EXPECT_ABSENT(RLFS_MNT_BASE "/x5");
	EXPECT_EQ(2, count_entries("d"));

	/* The VFS rules, for reference. */
	EXPECT_EQ(-1, link("src", BIND_MNT "/d/ln"));
	EXPECT_EQ(EXDEV, errno);
	fo = open(BIND_MNT "/d/fc", O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fo);
	EXPECT_EQ(0, ioctl(fo, FICLONE, fa)) {
		TH_LOG("FICLONE across the mounts: %s", strerror(errno));
	}
	EXPECT_EQ(0, close(fo));
	EXPECT_EQ(0, rlfs_verify_file("d/fc", 2 * BS, 6));
	EXPECT_EQ(3, count_entries("d"));

	EXPECT_EQ(0, close(dbind));
	EXPECT_EQ(0, close(fb));
	EXPECT_EQ(0, umount2(BIND_MNT, 0)) {
		TH_LOG("umount %s: %s", BIND_MNT, strerror(errno));
	}
	self->bound = false;
}

/* ---- fsnotify ----------------------------------------------------------- */

/* IN_CREATE events for @name on watch @wd in @buf (@len bytes). */
static int count_creates(const char *buf, ssize_t len, int wd,
			 const char *name)
{
	const struct inotify_event *ev;
	ssize_t off;
	int n = 0;

	for (off = 0; off < len; off += sizeof(*ev) + ev->len) {
		ev = (const struct inotify_event *)(buf + off);
		if (ev->wd == wd && (ev->mask & IN_CREATE) && ev->len &&
		    !strcmp(ev->name, name))
			n++;
	}
	return n;
}

TEST_F_TIMEOUT(perm, reflink_fsnotify, T_PERM)
{
	union {
		struct inotify_event	ev;
		char			b[4096];
	} buf;
	int ifd, wd_d, wd_top, fa, dfd;
	ssize_t len;

	ASSERT_EQ(0, rlfs_make_file("src", BS, 7, true));
	ASSERT_EQ(0, mkdir("d", 0755));
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ASSERT_LE(0, ifd);
	wd_d = inotify_add_watch(ifd, "d", IN_CREATE);
	wd_top = inotify_add_watch(ifd, ".", IN_CREATE);
	ASSERT_LE(0, wd_d);
	ASSERT_LE(0, wd_top);
	fa = open("src", O_RDONLY);
	dfd = open("d", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, dfd);

	EXPECT_EQ(0, rl(fa, dfd, "plain", 0));
	EXPECT_EQ(0, rl(fa, dfd, "pres", PRESERVE));
	EXPECT_EQ(0, rl(fa, AT_FDCWD, "top", 0));
	EXPECT_EQ(-EEXIST, rl(fa, dfd, "plain", 0));

	len = read(ifd, buf.b, sizeof(buf.b));
	EXPECT_LT(0, len) {
		TH_LOG("no inotify event at all: %s", strerror(errno));
	}
	EXPECT_EQ(1, count_creates(buf.b, len, wd_d, "plain"));
	EXPECT_EQ(1, count_creates(buf.b, len, wd_d, "pres"));
	EXPECT_EQ(1, count_creates(buf.b, len, wd_top, "top"));
	EXPECT_EQ(0, close(dfd));
	EXPECT_EQ(0, close(fa));
	EXPECT_EQ(0, close(ifd));
}

/* ---- xattrs ------------------------------------------------------------- */

static const char big_value[1200] = { [0 ... 1199] = 'v' };

/* File capabilities: CAP_NET_RAW permitted and effective. */
static const struct vfs_cap_data fcaps = {
	.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
	.data = { { .permitted = CAP_TO_MASK(CAP_NET_RAW) } },
};

/* user::rw- user:2000:r-- group::r-- mask::r-- other::--- */
static const struct {
	struct posix_acl_xattr_header	h;
	struct posix_acl_xattr_entry	e[5];
} acl = {
	.h = { .a_version = POSIX_ACL_XATTR_VERSION },
	.e = {
		{ ACL_USER_OBJ, ACL_READ | ACL_WRITE, ACL_UNDEFINED_ID },
		{ ACL_USER, ACL_READ, 2000 },
		{ ACL_GROUP_OBJ, ACL_READ, ACL_UNDEFINED_ID },
		{ ACL_MASK, ACL_READ, ACL_UNDEFINED_ID },
		{ ACL_OTHER, 0, ACL_UNDEFINED_ID },
	},
};

TEST_F_TIMEOUT(perm, reflink_xattrs_preserve, T_PERM)
{
	const struct who owner = { .uid = 1000, .gid = 1000 };
	const char *const copies[] = { "d/root", "d/owner", NULL };
	const char *const *cp;
	struct stat s0;
	long long ffree;
	bool have_acl;
	int fa, r;

	ASSERT_EQ(0, rlfs_make_file("src", 2 * BS, 8, true));
	ASSERT_EQ(0, chown("src", 1000, 1000));
	ASSERT_EQ(0, chmod("src", 0640));
	ASSERT_EQ(0, setxattr("src", "user.a", "alpha", 5, 0));
	ASSERT_EQ(0, setxattr("src", "user.big", big_value, sizeof(big_value),
			      0));
	ASSERT_EQ(0, setxattr("src", "security.rlfs_label", "label", 5, 0));
	ASSERT_EQ(0, setxattr("src", "security.capability", &fcaps,
			      XATTR_CAPS_SZ_2, 0));
	ASSERT_EQ(0, setxattr("src", "trusted.rlfs", "t", 1, 0));
	have_acl = !setxattr("src", "system.posix_acl_access", &acl,
			     sizeof(acl), 0);
	if (!have_acl) {
		ASSERT_EQ(EOPNOTSUPP, errno);
		TH_LOG("no POSIX ACLs on this filesystem: ACL copy not checked");
	}
	ASSERT_EQ(0, stat("src", &s0));
	ASSERT_EQ(0, mkdir("d", 0777));
	ASSERT_EQ(0, chmod("d", 0777));

	fa = open("src", O_RDONLY);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, rl(fa, AT_FDCWD, "d/root", PRESERVE));
	EXPECT_EQ(0, close(fa));
	ffree = free_inodes();
	r = reflink_as(&owner, -1, "src", O_RDONLY, "d/owner", PRESERVE);
	if (r == -EPERM) {
		TH_LOG("PRESERVE of a file with trusted.* xattrs as its owner: EPERM");
		EXPECT_ABSENT("d/owner");
		EXPECT_EQ(ffree, free_inodes());
	} else {
		ASSERT_EQ(0, r);
		EXPECT_EQ(-ENODATA, xattr_cmp("d/owner", "trusted.rlfs", "t", 1));
	}

	for (cp = copies; *cp; cp++) {
		const char *c = *cp;

		if (!exists(c))
			continue;
		EXPECT_STAT(c, 1000, 1000, s0.st_mode & 07777);
		EXPECT_EQ(0, rlfs_verify_file(c, 2 * BS, 8));
		EXPECT_EQ(0, xattr_cmp(c, "user.a", "alpha", 5)) {
			TH_LOG("%s: user.a", c);
		}
		EXPECT_EQ(0, xattr_cmp(c, "user.big", big_value,
				       sizeof(big_value))) {
			TH_LOG("%s: user.big", c);
		}
		EXPECT_EQ(-ENODATA, xattr_cmp(c, "security.rlfs_label", "label",
					      5)) {
			TH_LOG("%s: security.rlfs_label copied", c);
		}
		EXPECT_EQ(-ENODATA, xattr_cmp(c, "security.capability", &fcaps,
					      XATTR_CAPS_SZ_2)) {
			TH_LOG("%s: file capabilities copied", c);
		}
		if (have_acl)
			EXPECT_EQ(0, xattr_cmp(c, "system.posix_acl_access",
					       &acl, sizeof(acl))) {
				TH_LOG("%s: access ACL", c);
			}
	}
}

/* ---- bad arguments ------------------------------------------------------ */

TEST_F_TIMEOUT(perm, bad_args, T_PERM)
{
	struct reflinkfs_reflink_args *args;
	char name[PATH_MAX + 16];
	long long ffree;
	int fa, dfd, top, dd, i;
	char *page;
	size_t off;

	ASSERT_EQ(0, rlfs_make_file("src", BS, 9, true));
	ASSERT_EQ(0, mkdir("dd", 0755));
	ASSERT_EQ(0, rlfs_make_file("dd/exists", BS, 10, true));
	ASSERT_EQ(0, symlink("nowhere", "dd/dangling"));
	ASSERT_EQ(0, mkdir("dd/subdir", 0755));
	fa = open("src", O_RDONLY);
	dfd = open("dd", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, dfd);
	/* A readable page followed by an unreadable one. */
	page = mmap(NULL, 2 * BS, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, mprotect(page + BS, BS, PROT_NONE));
	top = count_entries(".");
	ffree = free_inodes();

	/* flags and reserved words */
	EXPECT_EQ(-EINVAL, rl(fa, dfd, "f1", REFLINKFS_REFLINK_ALL_FLAGS + 1));
	EXPECT_EQ(-EINVAL, rl(fa, dfd, "f2", 1U << 31));
	EXPECT_EQ(-EINVAL, rl(fa, dfd, "f3", PRESERVE | (1U << 5)));
	EXPECT_EQ(-EINVAL, rl(fa, dfd, "f4", ~0U));
	for (i = 0; i < 4; i++) {
		struct reflinkfs_reflink_args a = {
			.dest_dirfd	= dfd,
			.dest_name	= (uintptr_t)"res",
		};

		a.reserved[i] = 1ULL << (16 * i);
		EXPECT_EQ(-1, ioctl(fa, REFLINKFS_IOC_REFLINK, &a));
		EXPECT_EQ(EINVAL, errno) {
			TH_LOG("reserved[%d] != 0", i);
		}
	}

	/* unreadable memory */
	EXPECT_EQ(-1, ioctl(fa, REFLINKFS_IOC_REFLINK, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fa, REFLINKFS_IOC_REFLINK, page + BS));
	EXPECT_EQ(EFAULT, errno);
	/* the last word of the arguments on the unreadable page */
	args = (void *)(page + BS - sizeof(*args) + 8);
	memset(args, 0, sizeof(*args) - 8);
	args->dest_dirfd = dfd;
	args->dest_name = (uintptr_t)"straddle";
	EXPECT_EQ(-1, ioctl(fa, REFLINKFS_IOC_REFLINK, args));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-EFAULT, rl(fa, dfd, NULL, 0));
	EXPECT_EQ(-EFAULT, rl(fa, dfd, page + BS, 0));
	/* a name without its NUL before the unreadable page */
	memset(page, 'n', BS);
	EXPECT_EQ(-EFAULT, rl(fa, dfd, page + BS - 8, 0));

	/* the name exists */
	EXPECT_EQ(-EEXIST, rl(fa, dfd, "exists", 0));
	EXPECT_EQ(-EEXIST, rl(fa, dfd, "exists", PRESERVE));
	EXPECT_EQ(-EEXIST, rl(fa, dfd, "dangling", 0));
	EXPECT_EQ(-EEXIST, rl(fa, dfd, "subdir", 0));
	EXPECT_EQ(-EEXIST, rl(fa, AT_FDCWD, "src", 0));

	/* a directory as the source */
	dd = open("dd/subdir", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dd);
	EXPECT_EQ(-EINVAL, rl(dd, dfd, "dir1", 0));
	EXPECT_EQ(-EINVAL, rl(dd, dfd, "dir2", PRESERVE));
	EXPECT_EQ(-EINVAL, rl(dfd, AT_FDCWD, "dir3", 0));
	EXPECT_EQ(0, close(dd));

	/* path errors */
	EXPECT_EQ(-EBADF, rl(fa, 1000, "badf", 0));
	EXPECT_EQ(-ENOTDIR, rl(fa, fa, "notdir", 0));
	EXPECT_EQ(-ENOTDIR, rl(fa, dfd, "exists/x", 0));
	EXPECT_EQ(-ENOENT, rl(fa, dfd, "", 0));
	EXPECT_EQ(-ENOENT, rl(fa, dfd, "nodir/x", 0));
	memset(name, 'l', 256);
	name[256] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, rl(fa, dfd, name, 0));
	for (off = 0; off + 2 < sizeof(name) - 1; off += 2)
		memcpy(name + off, "a/", 2);
	name[off] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, rl(fa, dfd, name, 0));

	/* nothing was created or changed */
	EXPECT_EQ(ffree, free_inodes());
	EXPECT_EQ(3, count_entries("dd"));
	EXPECT_EQ(top, count_entries("."));
	EXPECT_EQ(0, rlfs_verify_file("dd/exists", BS, 10));
	EXPECT_EQ(0, rlfs_verify_file("src", BS, 9));
	/* and the filesystem still reflinks */
	EXPECT_EQ(0, rl(fa, dfd, "ok", 0));
	EXPECT_EQ(0, rlfs_verify_file("dd/ok", BS, 9));
	EXPECT_EQ(0, munmap(page, 2 * BS));
	EXPECT_EQ(0, close(dfd));
	EXPECT_EQ(0, close(fa));
}

TEST_HARNESS_MAIN
