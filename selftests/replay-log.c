// SPDX-License-Identifier: GPL-2.0
/*
 * replay-log - replay a dm-log-writes log onto a block device, stopping at
 * every flush, FUA or mark entry to run a check.
 *
 * The log format is the kernel's (drivers/md/dm-log-writes.c,
 * Documentation/admin-guide/device-mapper/log-writes.rst): a super sector
 * (magic, version, entry count, sector size), then per entry one header
 * sector (sector, nr_sectors, flags, data_len; a mark's name follows the
 * header in the same sector) and, for a write, nr_sectors sectors of data.
 * Writes appear in the order they reached stable storage: a write that
 * completed before a REQ_PREFLUSH is logged before the flush, so replaying
 * the log up to a flush or FUA entry gives exactly what the disk may hold
 * after a power cut at that moment.
 *
 *   replay-log --log LOG --list
 *   replay-log --log LOG --replay DEV [--start-mark NAME] [--end-mark NAME]
 *              [--check CMD] [--points flush,fua,mark] [--every K]
 *              [--limit N] [--keep-going]
 *
 * --list prints one line per entry: index, flags, sector, sectors, mark.
 * --replay writes the entries onto DEV in log order.  Entries up to and
 * including --start-mark are replayed without checks; from there on, after
 * each entry of a kind named in --points (default: all three), DEV is
 * flushed and CMD runs under /bin/sh with REPLAY_ENTRY (the index),
 * REPLAY_FLAGS (e.g. "flush|fua"), REPLAY_MARK (the last mark seen, "" if
 * none) and REPLAY_POINT (the count of checks so far) in its environment.
 * --every K checks only every Kth point (the last point is always
 * checked).  A failing CMD stops the replay (exit 1) unless --keep-going.
 * A discard is replayed as zeroes.  The last line printed is
 * "replay-log: N entries, N points checked, N failed".
 *
 * Exit status: 0 success, 1 a check failed, 2 bad usage or a bad log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <endian.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/fs.h>

#define LOG_FLUSH_FLAG		(1U << 0)
#define LOG_FUA_FLAG		(1U << 1)
#define LOG_DISCARD_FLAG	(1U << 2)
#define LOG_MARK_FLAG		(1U << 3)
#define LOG_METADATA_FLAG	(1U << 4)
#define LOG_KNOWN_FLAGS		0x1fU

#define WRITE_LOG_VERSION	1ULL
#define WRITE_LOG_MAGIC		0x6a736677736872ULL

struct log_write_super {
	uint64_t magic;
	uint64_t version;
	uint64_t nr_entries;
	uint32_t sectorsize;
} __attribute__((packed));

struct log_write_entry {
	uint64_t sector;
	uint64_t nr_sectors;
	uint64_t flags;
	uint64_t data_len;
} __attribute__((packed));

struct entry {
	uint64_t index;
	uint64_t sector;	/* in log sectors */
	uint64_t nr_sectors;
	uint64_t flags;
	char mark[256];
	off_t data_off;		/* byte offset of the data in the log */
};

struct log {
	int fd;
	const char *path;
	uint32_t sectorsize;
	uint64_t nr_entries;
	uint64_t next;		/* index of the next entry */
	off_t off;		/* byte offset of the next entry */
	off_t size;		/* bytes in the log device */
	char *sector;		/* one sector buffer */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("replay-log: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static off_t dev_size(int fd, const char *path)
{
	struct stat st;
	uint64_t bytes;

	if (fstat(fd, &st) < 0)
		die("%s: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode))
		return st.st_size;
	if (!S_ISBLK(st.st_mode))
		die("%s: not a block device or a file", path);
	if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
		die("%s: BLKGETSIZE64: %s", path, strerror(errno));
	return (off_t)bytes;
}

static void read_exact(int fd, const char *path, void *buf, size_t len,
		       off_t off)
{
	ssize_t n;
	size_t done = 0;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("%s: read at byte %jd: %s", path, (intmax_t)(off + done),
			    strerror(errno));
		if (n == 0)
			die("%s: short read at byte %jd (log truncated?)", path,
			    (intmax_t)(off + done));
		done += n;
	}
}

static void write_exact(int fd, const char *path, const void *buf, size_t len,
			off_t off)
{
	ssize_t n;
	size_t done = 0;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: write at byte %jd: %s", path,
			    (intmax_t)(off + done), n < 0 ? strerror(errno) : "no progress");
		done += n;
	}
}

static void log_open(struct log *log, const char *path)
{
	struct log_write_super super;
	char *buf;

	log->path = path;
	log->fd = open(path, O_RDONLY);
	if (log->fd < 0)
		die("%s: %s", path, strerror(errno));
	log->size = dev_size(log->fd, path);
	buf = malloc(512);
	if (!buf)
		die("out of memory");
	read_exact(log->fd, path, buf, 512, 0);
	memcpy(&super, buf, sizeof(super));
	free(buf);
	if (le64toh(super.magic) != WRITE_LOG_MAGIC)
		die("%s: bad magic %#" PRIx64 " (not a dm-log-writes log)", path,
		    (uint64_t)le64toh(super.magic));
	if (le64toh(super.version) != WRITE_LOG_VERSION)
		die("%s: unsupported log version %" PRIu64, path,
		    (uint64_t)le64toh(super.version));
	log->sectorsize = le32toh(super.sectorsize);
	if (log->sectorsize < 512 || log->sectorsize > 65536 ||
	    (log->sectorsize & (log->sectorsize - 1)))
		die("%s: bad sector size %u in the log super", path,
		    log->sectorsize);
	log->nr_entries = le64toh(super.nr_entries);
	if (log->nr_entries > (uint64_t)log->size / log->sectorsize)
		die("%s: %" PRIu64 " entries cannot fit in %jd bytes", path,
		    log->nr_entries, (intmax_t)log->size);
	log->sector = malloc(log->sectorsize);
	if (!log->sector)
		die("out of memory");
	log->next = 0;
	log->off = log->sectorsize;
}

/* Read the next entry header; false at the end of the log. */
static bool log_next(struct log *log, struct entry *e)
{
	struct log_write_entry raw;
	uint64_t data_len, bytes;

	if (log->next >= log->nr_entries)
		return false;
	if (log->off + (off_t)log->sectorsize > log->size)
		die("%s: entry %" PRIu64 " lies past the end of the log", log->path,
		    log->next);
	read_exact(log->fd, log->path, log->sector, log->sectorsize, log->off);
	memcpy(&raw, log->sector, sizeof(raw));
	e->index = log->next;
	e->sector = le64toh(raw.sector);
	e->nr_sectors = le64toh(raw.nr_sectors);
	e->flags = le64toh(raw.flags);
	data_len = le64toh(raw.data_len);
	e->mark[0] = '\0';
	if (e->flags & ~(uint64_t)LOG_KNOWN_FLAGS)
		die("%s: entry %" PRIu64 ": unknown flags %#" PRIx64, log->path,
		    e->index, e->flags);
	if (e->nr_sectors > (uint64_t)log->size / log->sectorsize)
		die("%s: entry %" PRIu64 ": bad length %" PRIu64 " sectors",
		    log->path, e->index, e->nr_sectors);
	log->off += log->sectorsize;
	e->data_off = log->off;
	if (e->flags & LOG_MARK_FLAG) {
		if (data_len >= sizeof(e->mark) ||
		    data_len > log->sectorsize - sizeof(raw))
			die("%s: entry %" PRIu64 ": mark of %" PRIu64 " bytes",
			    log->path, e->index, data_len);
		memcpy(e->mark, log->sector + sizeof(raw), data_len);
		e->mark[data_len] = '\0';
		bytes = 0;
	} else if (data_len) {
		/* inline data (unused by the kernel today): skip it */
		bytes = (data_len + log->sectorsize - 1) & ~(uint64_t)(log->sectorsize - 1);
	} else if (e->flags & LOG_DISCARD_FLAG) {
		bytes = 0;
	} else {
		bytes = e->nr_sectors * log->sectorsize;
	}
	if (log->off + (off_t)bytes > log->size)
		die("%s: entry %" PRIu64 ": data past the end of the log",
		    log->path, e->index);
	log->off += bytes;
	log->next++;
	return true;
}

static const char *flag_names(uint64_t flags, char *buf, size_t len)
{
	static const char *const names[] = {
		"flush", "fua", "discard", "mark", "meta",
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & (1U << i)))
			continue;
		n += snprintf(buf + n, len - n, "%s%s", n ? "|" : "", names[i]);
		if (n >= len)
			break;
	}
	if (!buf[0])
		snprintf(buf, len, "write");
	return buf;
}

/* Apply one entry to the replay device. */
static void replay_entry(struct log *log, const struct entry *e, int fd,
			 const char *path, off_t dev_bytes, char **bufp,
			 size_t *buflen)
{
	uint64_t bytes = e->nr_sectors * log->sectorsize;
	off_t dst = (off_t)(e->sector * log->sectorsize);
	size_t chunk, done = 0;

	if (!bytes || (e->flags & LOG_MARK_FLAG))
		return;
	if (e->sector > (uint64_t)dev_bytes / log->sectorsize ||
	    dst + (off_t)bytes > dev_bytes)
		die("entry %" PRIu64 ": sectors %" PRIu64 "+%" PRIu64
		    " lie past the end of %s", e->index, e->sector,
		    e->nr_sectors, path);
	if (*buflen < 1 << 20) {
		free(*bufp);
		*buflen = 1 << 20;
		*bufp = malloc(*buflen);
		if (!*bufp)
			die("out of memory");
	}
	while (done < bytes) {
		chunk = bytes - done < *buflen ? bytes - done : *buflen;
		if (e->flags & LOG_DISCARD_FLAG)
			memset(*bufp, 0, chunk);
		else
			read_exact(log->fd, log->path, *bufp, chunk,
				   e->data_off + done);
		write_exact(fd, path, *bufp, chunk, dst + done);
		done += chunk;
	}
}

static unsigned int parse_points(const char *s)
{
	unsigned int mask = 0;
	char *copy = strdup(s), *tok, *save = NULL;

	if (!copy)
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "flush"))
			mask |= LOG_FLUSH_FLAG;
		else if (!strcmp(tok, "fua"))
			mask |= LOG_FUA_FLAG;
		else if (!strcmp(tok, "mark"))
			mask |= LOG_MARK_FLAG;
		else
			die("--points: unknown kind '%s' (flush, fua, mark)", tok);
	}
	free(copy);
	if (!mask)
		die("--points: empty");
	return mask;
}

static uint64_t parse_u64(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		die("%s: bad number '%s'", opt, s);
	return v;
}

static int run_check(const char *cmd, const struct entry *e, const char *mark,
		     uint64_t point)
{
	char buf[64], num[32];
	int st;

	snprintf(num, sizeof(num), "%" PRIu64, e->index);
	setenv("REPLAY_ENTRY", num, 1);
	setenv("REPLAY_FLAGS", flag_names(e->flags, buf, sizeof(buf)), 1);
	setenv("REPLAY_MARK", mark, 1);
	snprintf(num, sizeof(num), "%" PRIu64, point);
	setenv("REPLAY_POINT", num, 1);
	fflush(stdout);
	st = system(cmd);
	if (st == -1)
		die("cannot run the check command: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: replay-log --log LOG --list\n"
		"       replay-log --log LOG --replay DEV [--start-mark NAME]\n"
		"                  [--end-mark NAME] [--check CMD]\n"
		"                  [--points flush,fua,mark] [--every K]\n"
		"                  [--limit N] [--keep-going]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ "list", no_argument, NULL, 'L' },
		{ "replay", required_argument, NULL, 'r' },
		{ "start-mark", required_argument, NULL, 's' },
		{ "end-mark", required_argument, NULL, 'e' },
		{ "check", required_argument, NULL, 'c' },
		{ "points", required_argument, NULL, 'p' },
		{ "every", required_argument, NULL, 'k' },
		{ "limit", required_argument, NULL, 'n' },
		{ "keep-going", no_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const char *logpath = NULL, *devpath = NULL, *start_mark = NULL;
	const char *end_mark = NULL, *cmd = NULL;
	unsigned int points = LOG_FLUSH_FLAG | LOG_FUA_FLAG | LOG_MARK_FLAG;
	uint64_t every = 1, limit = UINT64_MAX, seen = 0, checked = 0, failed = 0;
	bool list = false, keep_going = false, checking, pending = false;
	char mark[256] = "", flags[64];
	struct entry e, last = { 0 };
	struct log log;
	char *buf = NULL;
	size_t buflen = 0;
	off_t dev_bytes = 0;
	int c, fd = -1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': logpath = optarg; break;
		case 'L': list = true; break;
		case 'r': devpath = optarg; break;
		case 's': start_mark = optarg; break;
		case 'e': end_mark = optarg; break;
		case 'c': cmd = optarg; break;
		case 'p': points = parse_points(optarg); break;
		case 'k': every = parse_u64("--every", optarg); break;
		case 'n': limit = parse_u64("--limit", optarg); break;
		case 'g': keep_going = true; break;
		default: usage();
		}
	}
	if (optind != argc || !logpath || list == !!devpath || !every)
		usage();
	log_open(&log, logpath);

	if (list) {
		printf("# %s: %" PRIu64 " entries, sector size %u\n", logpath,
		       log.nr_entries, log.sectorsize);
		while (log_next(&log, &e))
			printf("%" PRIu64 " %s %" PRIu64 " %" PRIu64 "%s%s\n",
			       e.index, flag_names(e.flags, flags, sizeof(flags)),
			       e.sector, e.nr_sectors, e.mark[0] ? " " : "",
			       e.mark);
		return 0;
	}

	fd = open(devpath, O_WRONLY);
	if (fd < 0)
		die("%s: %s", devpath, strerror(errno));
	dev_bytes = dev_size(fd, devpath);
	checking = !start_mark;
	while (checked < limit && log_next(&log, &e)) {
		replay_entry(&log, &e, fd, devpath, dev_bytes, &buf, &buflen);
		if (e.flags & LOG_MARK_FLAG)
			snprintf(mark, sizeof(mark), "%s", e.mark);
		if (!checking) {
			if ((e.flags & LOG_MARK_FLAG) && !strcmp(e.mark, start_mark))
				checking = true;
			continue;
		}
		if (cmd && (e.flags & points)) {
			seen++;
			last = e;
			pending = true;
			if ((seen - 1) % every == 0) {
				if (fdatasync(fd) < 0)
					die("%s: fdatasync: %s", devpath, strerror(errno));
				pending = false;
				checked++;
				if (run_check(cmd, &e, mark, checked)) {
					failed++;
					printf("replay-log: check failed at entry %" PRIu64
					       " (%s, after mark '%s')\n", e.index,
					       flag_names(e.flags, flags, sizeof(flags)), mark);
					if (!keep_going)
						break;
				}
			}
		}
		if (end_mark && (e.flags & LOG_MARK_FLAG) && !strcmp(e.mark, end_mark))
			break;
	}
	if (!checking)
		die("start mark '%s' not found in %s", start_mark, logpath);
	/* the last point is always checked */
	if (pending && (!failed || keep_going) && checked < limit) {
		if (fdatasync(fd) < 0)
			die("%s: fdatasync: %s", devpath, strerror(errno));
		checked++;
		if (run_check(cmd, &last, mark, checked))
			failed++;
	}
	if (fsync(fd) < 0)
		die("%s: fsync: %s", devpath, strerror(errno));
	close(fd);
	free(buf);
	printf("replay-log: %" PRIu64 " entries, %" PRIu64 " points checked, %"
	       PRIu64 " failed\n", log.next, checked, failed);
	return failed ? 1 : 0;
}
