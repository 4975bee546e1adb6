/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of the reflinkfs userspace tools (mkfs, fsck, dump):
 * crc32c, device access, geometry, superblock and journal validation.
 */
#ifndef _RLFS_LIB_H
#define _RLFS_LIB_H

#include <endian.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "rlfs_core.h"

#define RLFS_PRINTF(a, b)	__attribute__((format(printf, a, b)))

/* ---- checksums ---------------------------------------------------- */

/* Checksums, block headers and their verifiers: rlfs_core.h. */

/* ---- bitmaps (little-endian bit order within bytes) ---------------- */

static inline bool rlfs_test_bit(const uint8_t *bits, uint64_t nr)
{
	return bits[nr >> 3] & (1U << (nr & 7));
}

static inline void rlfs_set_bit(uint8_t *bits, uint64_t nr)
{
	bits[nr >> 3] |= 1U << (nr & 7);
}

static inline void rlfs_clear_bit(uint8_t *bits, uint64_t nr)
{
	bits[nr >> 3] &= ~(1U << (nr & 7));
}

/* ---- geometry ----------------------------------------------------- */

/* struct rlfs_geom, the limits and the layout: rlfs_core.h. */

/* ---- superblock / journal validation ------------------------------ */

typedef void (*rlfs_report_fn)(void *arg, const char *fmt, ...)
	RLFS_PRINTF(2, 3);

/*
 * Report rlfs_verify_super()'s verdict and unknown read-only features.
 * Returns the number of problems; *geom_ok is false when the region
 * fields cannot be trusted to read the rest of the filesystem.
 */
unsigned int rlfs_check_super(const struct rlfs_super *sb,
			      rlfs_report_fn report, void *arg, bool *geom_ok);

/* jbd2 journal superblock, big endian (include/linux/jbd2.h). */
#define RLFS_JBD2_MAGIC			0xc03b3998U
#define RLFS_JBD2_SUPERBLOCK_V1		3
#define RLFS_JBD2_SUPERBLOCK_V2		4
#define RLFS_JBD2_USERS_MAX		48

struct rlfs_jbd2_header {
	uint32_t	h_magic;
	uint32_t	h_blocktype;
	uint32_t	h_sequence;
};

struct rlfs_jbd2_super {
	struct rlfs_jbd2_header s_header;
	uint32_t	s_blocksize;
	uint32_t	s_maxlen;
	uint32_t	s_first;
	uint32_t	s_sequence;
	uint32_t	s_start;
	uint32_t	s_errno;
	uint32_t	s_feature_compat;
	uint32_t	s_feature_incompat;
	uint32_t	s_feature_ro_compat;
	uint8_t		s_uuid[16];
	uint32_t	s_nr_users;
	uint32_t	s_dynsuper;
	uint32_t	s_max_transaction;
	uint32_t	s_max_trans_data;
	uint8_t		s_checksum_type;
	uint8_t		s_padding2[3];
	uint32_t	s_num_fc_blks;
	uint32_t	s_padding[41];
	uint32_t	s_checksum;
	uint8_t		s_users[16 * RLFS_JBD2_USERS_MAX];
};
_Static_assert(offsetof(struct rlfs_jbd2_super, s_blocksize) == 0x0c, "jbd2");
_Static_assert(offsetof(struct rlfs_jbd2_super, s_sequence) == 0x18, "jbd2");
_Static_assert(offsetof(struct rlfs_jbd2_super, s_errno) == 0x20, "jbd2");
_Static_assert(offsetof(struct rlfs_jbd2_super, s_uuid) == 0x30, "jbd2");
_Static_assert(offsetof(struct rlfs_jbd2_super, s_nr_users) == 0x40, "jbd2");
_Static_assert(offsetof(struct rlfs_jbd2_super, s_checksum_type) == 0x50,
	       "jbd2");
_Static_assert(offsetof(struct rlfs_jbd2_super, s_padding) == 0x58, "jbd2");
_Static_assert(offsetof(struct rlfs_jbd2_super, s_users) == 0x100, "jbd2");
_Static_assert(sizeof(struct rlfs_jbd2_super) == 0x400, "jbd2");

/* Build the clean journal superblock mkfs writes (block buffer, zeroed). */
void rlfs_jbd2_super_init(void *block, uint64_t journal_blocks,
			  const uint8_t uuid[RLFS_UUID_LEN]);
/*
 * Check the journal superblock; *needs_recovery is set when s_start != 0.
 * Returns the number of problems reported.
 */
unsigned int rlfs_check_jbd2_super(const void *block, uint64_t jblk,
				   uint64_t journal_blocks,
				   rlfs_report_fn report, void *arg,
				   bool *needs_recovery);

/* ---- devices ------------------------------------------------------ */

struct rlfs_dev {
	int		fd;
	const char	*path;
	bool		is_blkdev;
	uint64_t	size;		/* bytes */
};

/*
 * Open path with the open(2) flags given.  O_EXCL is honoured for block
 * devices only (exclusive open: refuses a mounted device) and ignored for
 * files, so that O_CREAT | O_EXCL still opens an existing image.
 * Returns 0 or -errno.
 */
int rlfs_dev_open(struct rlfs_dev *dev, const char *path, int flags);
int rlfs_dev_close(struct rlfs_dev *dev);
/* Refresh dev->size (BLKGETSIZE64 or st_size). */
int rlfs_dev_get_size(struct rlfs_dev *dev);

/* Read up to len bytes; returns the bytes read (short at EOF) or -errno. */
ssize_t rlfs_pread_full(struct rlfs_dev *dev, void *buf, size_t len,
			uint64_t off);
/* Whole blocks; a short read is -EIO.  Return 0 or -errno. */
int rlfs_read_blocks(struct rlfs_dev *dev, uint64_t blk, uint64_t count,
		     void *buf);
int rlfs_write_blocks(struct rlfs_dev *dev, uint64_t blk, uint64_t count,
		      const void *buf);
/* Make blocks read as zeroes (BLKZEROOUT, hole punching or writes). */
int rlfs_zero_blocks(struct rlfs_dev *dev, uint64_t blk, uint64_t count);
int rlfs_dev_sync(struct rlfs_dev *dev);

/* ---- misc --------------------------------------------------------- */

void rlfs_uuid_unparse(const uint8_t uuid[RLFS_UUID_LEN], char out[37]);
/* Parse a decimal unsigned number; false on junk or overflow. */
bool rlfs_parse_u64(const char *s, uint64_t *val);

#endif /* _RLFS_LIB_H */
