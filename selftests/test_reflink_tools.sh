#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_reflink_tools.sh - the standard tools against reflinkfs:
# cp --reflink=always (the copy shares: xfs_io fiemap -v shows flag 0x2000,
# filefrag -v "shared"), xfs_io reflink (whole file and range) and xfs_io
# dedupe (same and differing data), and that a copy across filesystems
# with --reflink=always fails instead of copying.
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

trap lib_cleanup EXIT

case_cp_reflink() {
	setup_fs
	xfs_io -f -c "pwrite -q -S 0x61 0 1m" -c "pwrite -q -S 0x62 1m 100k" -c fsync a
	cp --reflink=always a b || die "cp --reflink=always failed"
	cmp a b || die "copy differs"
	xfs_io -r -c "fiemap -v" b > "$LOG"
	show "$LOG"
	grep -q '0x2[0-9a-f]\{3\}$' "$LOG" || die "no extent with the shared flag 0x2000"
	[ "$(shared_blocks b)" = 281 ] || die "b: $(shared_blocks b) shared blocks, want 281"
	[ "$(shared_blocks a)" = 281 ] || die "a: $(shared_blocks a) shared blocks, want 281"
	if command -v filefrag > /dev/null; then
		filefrag -v b > "$LOG" || true
		grep -q shared "$LOG" || { show "$LOG"; die "filefrag -v shows no shared extent"; }
	fi
	# CoW through the tools: a write unshares one block in both
	xfs_io -c "pwrite -q -S 0x63 64k 4k" -c fsync b
	local lo=280 hi=280 n
	# xfs copies the written page-cache folio (up to 16 blocks); btrfs
	# flags the whole old extent shared while b still uses part of it
	[ "$FSTYP" = reflinkfs ] || lo=$((281 - 16))
	[ "$FSTYP" != btrfs ] || hi=281
	n=$(shared_blocks a)
	{ [ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ]; } ||
		die "a: $n shared after CoW, want $lo..$hi"
	[ "$(od -An -c -j 65536 -N 1 a | tr -d ' ')" = a ] || die "source changed by a write to the copy"
	# --reflink=always to another filesystem must fail, not copy
	if cp --reflink=always a "$WORK/xdev" 2> "$LOG"; then
		die "cp --reflink=always across filesystems succeeded"
	fi
	cd /
	umount_fs
	fsck_clean "$DEV"
}

case_xfs_io_reflink() {
	setup_fs
	xfs_io -f -c "pwrite -q -S 0x41 0 256k" -c fsync s
	xfs_io -f -c "reflink $MNT/s" d > "$LOG" 2>&1
	show "$LOG"
	cmp s d || die "xfs_io reflink: copy differs"
	[ "$(shared_blocks d)" = 64 ] || die "d: $(shared_blocks d) shared, want 64"
	# a range: 64k of s at 128k into r at 0
	xfs_io -f -c "reflink $MNT/s 128k 0 64k" r > "$LOG" 2>&1
	show "$LOG"
	[ "$(stat -c %s r)" = 65536 ] || die "r: size $(stat -c %s r)"
	[ "$(shared_blocks r)" = 16 ] || die "r: $(shared_blocks r) shared, want 16"
	cmp -n 65536 r s || die "r differs"
	cd /
	umount_fs
	fsck_clean "$DEV"
}

case_xfs_io_dedupe() {
	setup_fs
	xfs_io -f -c "pwrite -q -S 0x51 0 128k" -c fsync s
	xfs_io -f -c "pwrite -q -S 0x51 0 128k" -c fsync same
	xfs_io -f -c "pwrite -q -S 0x51 0 128k" -c "pwrite -q -S 0x52 100k 1" -c fsync diff
	[ "$(shared_blocks same)" = 0 ] || die "shared before dedupe"
	xfs_io -c "dedupe $MNT/s 0 0 128k" same > "$LOG" 2>&1 || true
	show "$LOG"
	grep -q "deduped 131072/131072 bytes" "$LOG" || die "dedupe of identical data: no 'deduped 131072/131072'"
	[ "$(shared_blocks same)" = 32 ] || die "same: $(shared_blocks same) shared, want 32"
	[ "$(shared_blocks s)" = 32 ] || die "s: $(shared_blocks s) shared, want 32"
	xfs_io -c "dedupe $MNT/s 0 0 128k" diff > "$LOG" 2>&1 || true
	show "$LOG"
	grep -qi "did not match\|differ" "$LOG" || die "dedupe of differing data not reported"
	[ "$(shared_blocks diff)" = 0 ] || die "diff: $(shared_blocks diff) shared after a failed dedupe"
	# a sub-range that is the same
	xfs_io -c "dedupe $MNT/s 0 0 64k" diff > "$LOG" 2>&1 || true
	show "$LOG"
	grep -q "deduped 65536/65536 bytes" "$LOG" || die "dedupe of the identical first 64k failed"
	[ "$(shared_blocks diff)" = 16 ] || die "diff: $(shared_blocks diff) shared, want 16"
	cmp -n 131072 s same || die "dedupe changed data"
	cd /
	umount_fs
	fsck_clean "$DEV"
}

# Standard interfaces only: these run on xfs and btrfs too (RLFS_FSTYP).
RLFS_PORTABLE_CASES="case_cp_reflink case_xfs_io_reflink case_xfs_io_dedupe"
require_vm
command -v xfs_io >/dev/null || { echo "SKIP: xfs_io not installed"; exit 4; }
ktap_run case_cp_reflink case_xfs_io_reflink case_xfs_io_dedupe
