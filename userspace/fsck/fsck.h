/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fsck.reflinkfs: the state shared by the passes, as in e2fsck.
 *
 * Every rule about what one valid block or record is lives in the format
 * core (kernel/libreflinkfs/rlfs_verify.c); fsck asks it for a verdict on
 * each block it reads, reports the verdict with the block number and the
 * entry or offset at fault, and carries on with the next block.  What
 * fsck checks itself needs more than one block: duplicate claims,
 * reference counts against the file mappings, link counts, connectivity,
 * bitmaps, name uniqueness, entry types against inode modes, i_blocks
 * against the blocks owned, the shape of a directory or slow symlink
 * mapping.
 */
#ifndef _RLFS_FSCK_H
#define _RLFS_FSCK_H

#include <stdio.h>

#include "rlfs.h"

/* Exit codes, as e2fsck's. */
#define EXIT_OK			0
#define EXIT_FIXED		1	/* errors found and all corrected */
#define EXIT_UNCORRECTED	4
#define EXIT_OPERATIONAL	8

/* Per-inode state, indexed by inode number. */
#define II_ALLOC	0x01	/* bit set in the inode bitmap (or assumed) */
#define II_INUSE	0x02	/* valid in-use record: checked further */
#define II_BAD		0x04	/* allocated but unusable record */
#define II_ORPHAN	0x08	/* on the orphan list */
#define II_FREEREC	0x10	/* bit set but the record is free (mode 0) */
#define II_SALVAGED	0x20	/* record refused, checked from a copy */

struct ino_info {
	uint32_t	nlink;		/* i_nlink on disk */
	uint32_t	links;		/* directory entries found */
	uint16_t	mode;
	uint8_t		flags;
};

/* bkind[]: what claims a block besides file data mappings. */
#define BK_META		0x01	/* metadata: never shared, never recorded */
#define BK_RCTREE	0x02	/* a block of the refcount tree */

struct dir_info {
	uint64_t	ino;
	uint64_t	parent;		/* i_parent on disk */
	uint64_t	ref_dir;	/* directory of the first entry to it */
	uint32_t	subdirs;	/* entries naming directories */
	struct rlfs_ext_irec *ext;	/* its mapping, in logical order */
	size_t		n_ext;
	size_t		first_child;	/* CSR index into child list */
	uint64_t	stamp;		/* pass 3 upward walks */
	bool		reached;
	bool		handled;
	bool		detached;	/* top of a tree not under the root */
};

struct edge {
	size_t		parent;		/* dir indexes */
	size_t		child;
};

struct dup {
	uint64_t	blk;
	uint64_t	*owners;
	size_t		n_owners;
	size_t		cap;
	bool		descended;
};

/* State of the walk over one inode's blocks. */
struct walk {
	uint64_t	ino;
	uint64_t	data_blocks;
	uint64_t	meta_blocks;
	unsigned int	nerr;		/* problems with the blocks it owns */
	bool		collect;	/* keep the extents in ext[] */
	bool		meta_data;	/* mapped blocks are metadata (dirs) */
	struct rlfs_ext_irec *ext;
	size_t		n_ext;
	size_t		cap_ext;
};

struct name_ent {
	uint32_t	hash;
	uint32_t	next;		/* index + 1, 0: end */
	size_t		off;
	uint8_t		len;
};

struct name_set {
	uint32_t	*buckets;	/* index + 1 */
	size_t		nbuckets;
	struct name_ent	*ents;
	size_t		n;
	size_t		cap;
	char		*arena;
	size_t		alen;
	size_t		acap;
};

/* A fix pass 1 or 2 found while checking, applied by repair.c. */
enum fix_kind {
	FIX_IBLOCKS,		/* inode ino: i_blocks = val */
	FIX_DIRENT_REMOVE,	/* entry at blk/off of directory ino */
	FIX_DIRENT_TYPE,	/* d_type of the entry at blk/off = val */
	FIX_PARENT,		/* directory ino: i_parent = val */
};

struct fix {
	enum fix_kind	kind;
	uint64_t	ino;		/* inode, or the directory */
	uint64_t	blk;
	uint64_t	val;
	uint64_t	target;		/* entry: the inode it names */
	unsigned int	off;
	bool		counted;	/* entry: counted in links (pass 2) */
};

/* What fsck may change: -n nothing, -p the safe fixes, -y all of them. */
enum fsck_mode { MODE_CHECK, MODE_PREEN, MODE_REPAIR };

struct fsck {
	struct rlfs_dev	dev;
	const char	*path;
	bool		verbose;
	bool		pass1b;		/* quiet re-walk recording owners */
	enum fsck_mode	mode;
	bool		checked;	/* passes 1-5 ran (pass 0 allowed them) */
	uint64_t	errors;

	/* Found while checking, for repair.c (reset with the rest). */
	struct fix	*fixes;
	size_t		nfixes;
	size_t		cap_fixes;
	uint64_t	rc_errors;	/* problems inside the refcount tree */
	bool		claims_incomplete; /* an inode's blocks not all walked */
	bool		entries_incomplete; /* directory entries not all read */
	uint64_t	cur_dir_blk;	/* pass 2: block in f->buf */
	bool		cur_dir_ok;	/* its header and crc are good */

	struct rlfs_super sb;
	struct rlfs_geom g;

	uint8_t		*bbits;		/* block bitmap bits */
	bool		*bbits_ok;	/* per bitmap block: trustworthy */
	uint8_t		*ibits;
	bool		*ibits_ok;

	uint32_t	*refs;		/* references to every block */
	uint8_t		*bkind;		/* BK_* of every block */
	struct ino_info	*ii;

	/* Valid refcount records, sorted and disjoint (pass 1). */
	struct rlfs_rc_irec *rc;
	size_t		n_rc;
	size_t		cap_rc;
	uint64_t	rc_blocks;	/* refcount tree blocks */

	struct dir_info	*dirs;
	size_t		ndirs;
	size_t		cap_dirs;
	struct edge	*edges;
	size_t		nedges;
	size_t		cap_edges;
	size_t		*children;	/* CSR child lists */

	struct dup	*dups;
	size_t		ndups;

	struct name_set	names;

	/* Pass 5: what the summary line shows. */
	uint64_t	used_blocks;
	uint64_t	used_inodes;

	uint8_t		ebuf[RLFS_MAX_EXTENT_DEPTH][RLFS_BLOCK_SIZE];
	uint8_t		rbuf[RLFS_MAX_EXTENT_DEPTH + 1][RLFS_BLOCK_SIZE];
	uint8_t		buf[RLFS_BLOCK_SIZE];	/* dir/symlink/xattr blocks */
	uint8_t		scratch[RLFS_BLOCK_SIZE]; /* see usable_entries() */
};

/* A core node verifier: rlfs_verify_extent_node or _refcount_node. */
typedef const char *(*node_verifier)(const struct rlfs_btree_header *h,
				     bool root, int depth, u64 lo, u64 hi,
				     const struct rlfs_geom *g, int *entry);

/* util.c */
void fsck_fatal(const char *fmt, ...) RLFS_PRINTF(1, 2);
void fsck_err(struct fsck *f, const char *fmt, ...) RLFS_PRINTF(2, 3);
void fsck_info(struct fsck *f, const char *fmt, ...) RLFS_PRINTF(2, 3);
void report_cb(void *arg, const char *fmt, ...) RLFS_PRINTF(2, 3);
void *xcalloc(size_t n, size_t size);
void *xrealloc_array(void *p, size_t n, size_t size);
void read_or_die(struct fsck *f, uint64_t blk, uint64_t n, void *buf);
void read_inode(struct fsck *f, uint64_t ino, struct rlfs_inode *ri);
const char *blocks_str(char *buf, size_t size, uint64_t start,
		       uint64_t len);

enum blk_verdict {
	BLK_OK,
	BLK_BAD_CRC,		/* reported; the contents are still checked */
	BLK_BAD_HEADER,		/* reported; not the block expected: skip it */
};

enum blk_verdict check_block(struct fsck *f, const void *block, u32 magic,
			     uint64_t blk, uint64_t owner,
			     const char *where_fmt, ...) RLFS_PRINTF(6, 7);
int usable_entries(struct fsck *f, node_verifier verify,
		   const struct rlfs_btree_header *h, bool root, int depth,
		   uint64_t lo, uint64_t hi, const char **why, int *entry);

/* pass1.c */
void pass1(struct fsck *f);
void scan_inodes(struct fsck *f);

/* pass1b.c */
void pass1b(struct fsck *f);
struct dup *find_dup(struct fsck *f, uint64_t blk);
void dup_add_owner(struct dup *d, uint64_t ino);

/* pass2.c */
void pass2(struct fsck *f);
struct dir_info *find_dir(struct fsck *f, uint64_t ino);

/* pass3.c */
void pass3(struct fsck *f);

/* pass4.c */
void pass4(struct fsck *f);

/* pass5.c */
void pass5(struct fsck *f);

/* repair.c */
void fix_add(struct fsck *f, const struct fix *x);
bool repair_wanted(struct fsck *f);
uint64_t repair(struct fsck *f);
void fsck_reset(struct fsck *f);

#endif /* _RLFS_FSCK_H */
