/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reflinkfs dump: what dump.c (the command and its views), dump_out.c
 * (text and JSON output), dump_tree.c (extent and refcount trees) and
 * dump_block.c (any block by its magic) share.
 *
 * dump reads a filesystem image or device read-only and decodes it; every
 * check it makes is one of the format core's verifiers (rlfs_core.h), plus
 * the checks that keep it safe on a hostile image: a block number within
 * the device before every read, tree depth bounded by
 * RLFS_MAX_EXTENT_DEPTH, and no block visited twice in one tree.  Each
 * failed check is printed where it happens (its verdict) and once more in
 * the failures list at the end; the exit status says whether there was
 * one.
 */
#ifndef _RLFS_TOOL_DUMP_H
#define _RLFS_TOOL_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rlfs.h"
#include "json.h"
#include "tool.h"

/* Text output nests as deep as the JSON document does. */
#define DUMP_MAX_NEST	JSON_MAX_DEPTH
#define DUMP_REASON_LEN	160

/* What a check looked at, for its verdict and the failures list. */
struct dump_where {
	const char	*what;		/* "extent block", "inode", ... */
	uint64_t	block;		/* the block read */
	uint64_t	ino;		/* the inode concerned, 0: none */
	int		entry;		/* entry at fault, -1: none */
	long		offset;		/* byte offset at fault, -1: none */
};

struct dump_fail {
	struct dump_where	where;
	char			reason[DUMP_REASON_LEN];
};

/* A refcount record as found in the tree, and where. */
struct dump_rc_rec {
	struct rlfs_rc_irec	rec;
	uint64_t		node;
	int			entry;
};

/* The records sorted, overlaps dropped: [start, end) has refcount. */
struct dump_rc_run {
	uint64_t	start;
	uint64_t	end;
	uint32_t	refcount;
};

/* A set of block numbers (open addressing), to find loops in a tree. */
struct dump_seen {
	uint64_t	*slot;		/* block + 1; 0: empty */
	size_t		cap;
	size_t		n;
};

enum dump_level {
	DUMP_LV_OBJ,		/* "key: value" lines */
	DUMP_LV_LIST,		/* "- value" lines */
	DUMP_LV_ROW,		/* " key=value" on one line */
	DUMP_LV_ROW_LIST,	/* "v,v,v" inside a row */
};

struct dump {
	const char		*path;
	struct rlfs_dev		dev;
	uint64_t		dev_blocks;
	bool			json;

	/* output */
	struct json		j;
	int			nest;
	enum dump_level		level[DUMP_MAX_NEST];
	bool			items[DUMP_MAX_NEST];	/* level has output */
	bool			dash[DUMP_MAX_NEST];	/* "- " still due */
	/* a list's "key:", printed with its first item or as "(none)" */
	const char		*pending[DUMP_MAX_NEST];

	/* block 0 and what the rest of the reads can rely on */
	uint8_t			*sb_block;
	const struct rlfs_super	*sb;
	const char		*sb_why;	/* rlfs_verify_super() */
	struct rlfs_geom	g;
	bool			geom_ok;	/* the regions can be used */
	uint64_t		ro_compat;

	/* failed checks, in the order they were made */
	struct dump_fail	*fails;
	size_t			nfails;
	bool			io_error;

	/* nothing is printed while quiet (verdicts are still recorded) */
	int			quiet;

	/* the refcount tree: records as found, and runs for lookups */
	struct dump_rc_rec	*rc;
	size_t			nrc;
	struct dump_rc_run	*runs;
	size_t			nruns;
	bool			rc_loaded;
	uint64_t		rc_nodes;
	size_t			rc_fails;
};

/* A flag bit and its name, for dump_flags(). */
struct dump_flag {
	uint64_t	bit;
	const char	*name;
};

/* ---- dump_out.c: output, text or JSON alike ------------------------- */

void dump_out_init(struct dump *d);
void dump_out_finish(struct dump *d);
/* An object: "key:" and indented lines; in a list, "- " items. */
void dump_obj_begin(struct dump *d, const char *key);
/* An object on one line: "key: a=1 b=2", in a list "- a=1 b=2". */
void dump_row_begin(struct dump *d, const char *key);
void dump_obj_end(struct dump *d);
void dump_list_begin(struct dump *d, const char *key);
void dump_list_end(struct dump *d);
void dump_u64(struct dump *d, const char *key, uint64_t val);
void dump_s64(struct dump *d, const char *key, int64_t val);
/* A number shown in hexadecimal (text) or octal; JSON has the number. */
void dump_hex(struct dump *d, const char *key, uint64_t val);
void dump_oct(struct dump *d, const char *key, uint64_t val);
void dump_str(struct dump *d, const char *key, const char *s);
/* At most len bytes of s, up to a NUL. */
void dump_mem(struct dump *d, const char *key, const void *s, size_t len);
/* Bytes as hexadecimal digits. */
void dump_hexbytes(struct dump *d, const char *key, const void *s,
		   size_t len);
void dump_bool(struct dump *d, const char *key, bool val);
/*
 * A flag word: JSON "key": N and "key_names": [...] (unknown bits as
 * "0x..."), text "key: 0x.. (name,name)".
 */
void dump_flags(struct dump *d, const char *key, uint64_t val,
		const struct dump_flag *names, size_t n);
/* Seconds since the epoch: the number, in text with the UTC date. */
void dump_time(struct dump *d, const char *key, int64_t sec);
/*
 * The verdict of one check: why is NULL (ok) or the reason; a failure is
 * also added to the failures list.  JSON "key": {"ok": BOOL, "reason":
 * S, "entry": N, "offset": N}, text "ok" or "FAILED: reason (entry N)".
 * Returns true if the check failed.
 */
bool dump_verdict(struct dump *d, const char *key,
		  const struct dump_where *w, const char *why);
/* A failure with a formatted reason (no verdict of a core verifier). */
bool dump_verdictf(struct dump *d, const char *key,
		   const struct dump_where *w, const char *fmt, ...)
	TOOL_PRINTF(4, 5);
/* The failures list. */
void dump_failures(struct dump *d);

/* ---- dump.c: reading and shared decoders ---------------------------- */

/*
 * Read block blk into buf (RLFS_BLOCK_SIZE bytes) if it lies within the
 * device.  Returns NULL or why not (a read error also sets io_error).
 */
const char *dump_read(struct dump *d, uint64_t blk, void *buf);
/* Where inode ino lives; false if the geometry cannot say. */
bool dump_inode_pos(struct dump *d, uint64_t ino, uint64_t *blk,
		    unsigned int *slot);
/* The superblock in block buf (block blk), every field and verdict. */
void dump_super_fields(struct dump *d, const void *buf, uint64_t blk);
/* The verdict of rlfs_verify_inode() (free slots are fine). */
const char *dump_inode_why(struct dump *d, const struct rlfs_inode *ri,
			   uint64_t ino);
const char *dump_mode_type(uint16_t mode);

bool dump_seen_add(struct dump_seen *s, uint64_t blk);
void dump_seen_free(struct dump_seen *s);

/* ---- dump_tree.c ---------------------------------------------------- */

/* The extent tree of inode ino (record ri in inode-table block iblk). */
void dump_extent_tree(struct dump *d, const struct rlfs_inode *ri,
		      uint64_t ino, uint64_t iblk);
/* Collect the refcount records into d->rc (failures recorded). */
void dump_rc_load(struct dump *d);
/* The refcount tree: its nodes and records. */
void dump_refcount_tree(struct dump *d);
/*
 * One extent or refcount block (buf, block blk), decoded by its magic,
 * as keys of the current object; false if it is neither.
 */
bool dump_tree_block(struct dump *d, const void *buf, uint64_t blk);

/* ---- dump_block.c --------------------------------------------------- */

/* Block blk decoded by its region and magic, as keys of an object. */
void dump_any_block(struct dump *d, uint64_t blk);

#endif /* _RLFS_TOOL_DUMP_H */
