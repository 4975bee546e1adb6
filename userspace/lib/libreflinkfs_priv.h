/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The userspace side of the libreflinkfs shim (see
 * kernel/libreflinkfs/rlfs_core.h), as xfsprogs' libxfs_priv.h: the
 * kernel types, endian helpers and crc32c() the shared format core uses,
 * mapped to libc.  Its kernel twin is kernel/libreflinkfs_priv.h.
 */
#ifndef _LIBREFLINKFS_PRIV_H
#define _LIBREFLINKFS_PRIV_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/types.h>

typedef uint8_t		u8;
typedef uint16_t	u16;
typedef uint32_t	u32;
typedef uint64_t	u64;
typedef int64_t		s64;

#define le16_to_cpu(x)	le16toh(x)
#define le32_to_cpu(x)	le32toh(x)
#define le64_to_cpu(x)	le64toh(x)
#define cpu_to_le16(x)	htole16(x)
#define cpu_to_le32(x)	htole32(x)
#define cpu_to_le64(x)	htole64(x)

#ifndef EFSCORRUPTED
#define EFSCORRUPTED	EUCLEAN		/* as the kernel's ext4 and XFS */
#endif

#define NSEC_PER_SEC	1000000000L

#define RLFS_STATIC_ASSERT(e)	_Static_assert(e, #e)

/* The kernel's crc32c(seed, buf, len): reflected Castagnoli, no final xor. */
u32 crc32c(u32 crc, const void *buf, size_t len);

#endif /* _LIBREFLINKFS_PRIV_H */
