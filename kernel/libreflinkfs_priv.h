/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel side of the libreflinkfs shim (see libreflinkfs/rlfs_core.h):
 * what the shared format core may use, from the kernel's own headers.  Its
 * userspace twin, userspace/lib/libreflinkfs_priv.h, provides the same
 * names from libc; the files under libreflinkfs/ include only this header.
 */
#ifndef _LIBREFLINKFS_PRIV_H
#define _LIBREFLINKFS_PRIV_H

#include <linux/types.h>
#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/stat.h>
#include <linux/errno.h>
#include <linux/time64.h>
#include <linux/crc32c.h>
#include <asm/byteorder.h>

#ifndef EFSCORRUPTED
#define EFSCORRUPTED	EUCLEAN		/* as ext4 and XFS define it */
#endif

#define RLFS_STATIC_ASSERT(e)	static_assert(e)

#endif /* _LIBREFLINKFS_PRIV_H */
