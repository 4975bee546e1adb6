#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2317  # case functions are called through ktap_run
#
# test_fuzz.sh - structured fuzzing of the on-disk format.  rlfs-fuzz
# builds a seed image holding every kind of metadata block (extent and
# refcount trees of depth 2, a directory of three blocks, xattr and symlink
# blocks, orphans, a snapshot) and, for mutation N, changes one field of
# one metadata block (zero, all ones, random, +1, -1, a bit, or a swap of
# two entries) and recomputes the checksums.  Each mutated image is
# checked with fsck -n, loop-mounted and walked (rlfs-fuzz --walk: stat,
# read, readlink, xattrs, write, reflink, unshare, delete), unmounted.
# Errors are expected; what must hold:
#   (a) the kernel refusing the image at mount or reporting a corruption
#       (EUCLEAN, "corruption in" in the log) means fsck -n finds it too;
#   (b) an image fsck -n calls clean mounts, survives the workload
#       without EUCLEAN or EIO, and is still clean for fsck afterwards;
#   (c) images fsck refuses but the kernel mounts and uses without a
#       complaint are counted, not failed (the kernel checks each block
#       as it reads it, not the whole filesystem at mount);
# never an oops, a WARNING (the VM runner fails on them) or a hang (each
# image has a timeout); kernel messages per image stay few (rate limited);
# no loop device or mount is left behind.
#
# The checks of each image run inside rlfs-fuzz --run (only fsck is a
# process of its own: the VM is slow at starting them), in RLFS_FUZZ_JOBS
# processes (default the CPU count), each with its own image, loop device
# and mount point, reading only its own device's kernel messages.
#
# Environment: RLFS_FUZZ_COUNT (images, default 200), RLFS_FUZZ_OFFSET
# (first mutation, default 0), RLFS_FUZZ_SEED (the mutation stream,
# default 0), RLFS_FUZZ_TIMEOUT (seconds per step, default 60),
# RLFS_FUZZ_JOBS.  With RLFS_RESULTS set (the VM runner does), one line
# per image goes to $RLFS_RESULTS/fuzz.log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FUZZ=$RLFS_TOP/userspace/tests/rlfs-fuzz
COUNT=${RLFS_FUZZ_COUNT:-200}
FIRST=${RLFS_FUZZ_OFFSET:-0}
SEEDNUM=${RLFS_FUZZ_SEED:-0}
STEP_TIMEOUT=${RLFS_FUZZ_TIMEOUT:-60}
JOBS=${RLFS_FUZZ_JOBS:-$(nproc)}
FUZZLOG=${RLFS_RESULTS:+$RLFS_RESULTS/fuzz.log}
# Long runs: the case watchdog scales with the count.
[ -n "${RLFS_CASE_TIMEOUT:-}" ] || CASE_TIMEOUT=$((COUNT * 5 + 240))

# Mutations of stream 0 that always run, whatever the offset: one of each
# outcome (refused at mount, EUCLEAN in the walk, EIO, fsck-only) over the
# kinds of block, and those that once found a bug.
#   3 dir d_rec_len, 5 s_root_ino, 11 refcount bt_max, 20 extent leaf
#   swap, 25 inode root bt_max, 29 refcount index swap, 36 d_ino zeroed
#   (fsck-only: link counts)
REGRESS="3 5 11 20 25 29 36"

cleanup() {
	local m
	for m in "$MNT" "$WORK"/mnt.*; do
		umount "$m" 2>/dev/null || true
	done
	losetup -a 2>/dev/null | grep -F "$WORK/" | cut -d: -f1 |
		xargs -r -n1 losetup -d 2>/dev/null || true
	lib_cleanup
}
trap cleanup EXIT

SEED=$WORK/seed.img
IMG=$WORK/img

seed_image() {
	[ -x "$FUZZ" ] || skip "rlfs-fuzz not built"
	[ -e "$SEED" ] && return 0
	truncate -s 16M "$SEED"
	"$MKFS" -f -N 64 "$SEED" 4096 > "$LOG" 2>&1 || { show "$LOG"; die "mkfs of the seed failed"; }
	"$FUZZ" --mkseed "$SEED" > "$LOG" 2>&1 || { show "$LOG"; die "rlfs-fuzz --mkseed failed"; }
}

# fuzz_run ARGS...: rlfs-fuzz --run on the seed with ARGS (the mutations);
# its violations and summary shown, its status returned.
fuzz_run() {
	local rc
	"$FUZZ" -s "$SEEDNUM" --run "$SEED" "$WORK" --jobs "$JOBS" \
		--fsck "$FSCK" --type "$FSTYPE" --timeout "$STEP_TIMEOUT" \
		${FUZZLOG:+--log "$FUZZLOG"} "$@" 2>&1 | sed -u 's/^# //; s/^/# /'
	rc=${PIPESTATUS[0]}
	return "$rc"
}

# No loop device, no mount of ours left behind.
no_leaks() {
	! is_mounted || die "$MNT still mounted"
	! grep -qF " $WORK/" /proc/mounts || die "a mount under $WORK was left behind"
	if losetup -a 2>/dev/null | grep -qF "$WORK/"; then
		losetup -a | show
		die "a loop device of $WORK was left behind"
	fi
}

case_seed_image() {
	seed_image
	fsck_clean "$SEED"
	"$TOOL" dump --json "$SEED" extents 3 > "$WORK/ext.json"
	json_ok "$WORK/ext.json" 'd["extent_tree"]["depth"] >= 2'
	"$TOOL" dump --json "$SEED" refcount > "$WORK/rc.json"
	json_ok "$WORK/rc.json" 'd["refcount_tree"]["depth"] >= 2'
	# every kind of metadata block has fields to mutate
	"$FUZZ" --targets "$SEED" | awk '{ print $3 }' | sort -u > "$WORK/kinds"
	for k in super block-bitmap inode-bitmap inode orphan-inode extent \
		refcount dir xattr symlink; do
		grep -qx "$k" "$WORK/kinds" || die "no $k fields in the seed"
	done
	# the seed mounts and the workload leaves it clean
	fuzz_one_clean
}

# The unmutated seed through the same checks (a "mutation" of nothing).
fuzz_one_clean() {
	local walk
	cp --sparse=always "$SEED" "$IMG"
	mount -t "$FSTYPE" -o loop "$IMG" "$MNT" || die "the seed does not mount"
	walk=$("$FUZZ" --walk "$MNT")
	msg "seed workload: $walk"
	case $walk in *" euclean 0 eio 0"*) ;; *) die "errors on the seed: $walk" ;; esac
	umount_fs
	fsck_clean "$IMG"
	no_leaks
}

case_regressions() {
	seed_image
	fuzz_run --list "$REGRESS" || die "invariant violations (above)"
	no_leaks
}

case_fuzz() {
	local start=$SECONDS
	seed_image
	msg "mutations $FIRST..$((FIRST + COUNT - 1)) of stream $SEEDNUM, $JOBS at a time"
	fuzz_run --range "$FIRST" "$COUNT" || die "invariant violations or a failed job (above)"
	msg "$COUNT images in $((SECONDS - start))s"
	no_leaks
}

require_vm
modprobe loop 2>/dev/null || true
ktap_run case_seed_image case_regressions case_fuzz
