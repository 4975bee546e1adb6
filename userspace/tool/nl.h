/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nl.h - the reflinkfs generic netlink family from the tool (status,
 * monitor, inject): libnl-genl sockets with extended ACKs, one request and
 * its replies, the names of the family's enums, device numbers and mount
 * points.
 *
 * The family and its multicast group are resolved by name (genl_ctrl_*),
 * so the tool works with whatever ids the kernel gave them.  A request
 * returns the kernel's errno and keeps the extended ACK message (the
 * NLMSGERR_ATTR_MSG attribute) for the error report.
 */
#ifndef _RLFS_TOOL_NL_H
#define _RLFS_TOOL_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "tool.h"

#define TOOL_NL_EXTACK_MAX	256

struct tool_nl {
	struct nl_sock	*sk;
	int		family;		/* the id of "reflinkfs" */
	/* of the last request: */
	int		err;		/* positive errno, 0 on success */
	char		extack[TOOL_NL_EXTACK_MAX];	/* "" if none */
	uint32_t	miss_type;	/* NLMSGERR_ATTR_MISS_TYPE, 0: none */
};

/*
 * Connect a socket with extended ACKs on and resolve the family.  On
 * failure print why (a missing family: "reflinkfs module not loaded or
 * too old: ...") and return TOOL_EXIT_FAIL; else 0.
 */
int tool_nl_open(struct tool_nl *nl);
void tool_nl_close(struct tool_nl *nl);
/* Turn extended ACKs on for sk (NETLINK_EXT_ACK, NETLINK_CAP_ACK). */
void tool_nl_ext_ack(struct nl_sock *sk);

/* A request of the family: netlink and genetlink headers, no attribute. */
struct nl_msg *tool_nl_msg(struct tool_nl *nl, uint8_t cmd, int flags);

/* Called for every reply message; returns NL_OK, or NL_STOP to give up. */
typedef int (*tool_nl_reply_fn)(struct nl_msg *msg, void *arg);

/*
 * Send msg (freed) and read the replies (each passed to fn, which may be
 * NULL) up to the ACK, the error or, for a dump, NLMSG_DONE.  Returns 0
 * or the positive errno, also in nl->err with the extended ACK message
 * in nl->extack.
 */
int tool_nl_request(struct tool_nl *nl, struct nl_msg *msg,
		    tool_nl_reply_fn fn, void *arg);

/*
 * Report a failed request about path (NULL: none) as
 * "reflinkfs: PATH: strerror(err) (kernel: EXTACK; HINT)", with an
 * explanation for the errnos that mean a missing or old module, and
 * EPERM.  Returns TOOL_EXIT_FAIL.
 */
int tool_nl_report(const struct tool_nl *nl, const char *path,
		   const char *what);

/*
 * Open path, any file or directory (mount point) of a reflinkfs
 * filesystem, for a request that names the instance by fd.  Prints the
 * error and returns -1 when it cannot be opened or is not on reflinkfs.
 */
int tool_nl_open_instance(const char *path, const struct tool_cmd *cmd,
			  struct stat *st);

/* ---- device numbers -------------------------------------------------- */

/* The kernel's new_encode_dev() / new_decode_dev() of a dev_t. */
uint32_t tool_dev_encode(dev_t dev);
void tool_dev_decode(uint32_t dev, unsigned int *major, unsigned int *minor);
/* "MAJOR:MINOR" of an encoded device number; buf of 24 bytes. */
void tool_dev_format(uint32_t dev, char *buf, size_t len);

/*
 * The mount point and source of the first reflinkfs mount of dev (from
 * /proc/self/mountinfo), malloc'ed; false if none is found.
 */
bool tool_dev_mount(uint32_t dev, char **mountpoint, char **source);

/* ---- names ------------------------------------------------------------ */

/* "rw", "ro", "error"; NULL for a value this tool does not know. */
const char *tool_nl_state_name(uint32_t state);
/* "mount", ..., "corruption"; NULL if unknown. */
const char *tool_nl_event_name(uint32_t type);
/* "alloc", "meta-read", "meta-write", "trans"; NULL if unknown. */
const char *tool_nl_site_name(uint32_t site);
/* The site of a name, 0 if none. */
uint32_t tool_nl_site_parse(const char *name);
/* The list "alloc, meta-read, meta-write, trans" for messages. */
extern const char tool_nl_site_list[];

/* "EIO" of 5, NULL if unknown. */
const char *tool_errno_name(int err);
/* A name ("ENOSPC", any case) or a decimal number; 0 if neither. */
int tool_errno_parse(const char *s);

/* A decimal unsigned 64-bit integer, nothing else; false on garbage. */
bool tool_parse_u64(const char *s, uint64_t *val);
/* "123 MiB" (powers of 1024, one decimal below 10); buf of 32 bytes. */
void tool_human_bytes(uint64_t bytes, char *buf, size_t len);

#endif /* _RLFS_TOOL_NL_H */
