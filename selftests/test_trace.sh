#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_trace.sh - the reflinkfs trace events, as a kernel developer reads
# them with trace-cmd: a copy-on-write write shows its allocation, the
# shared block losing a reference and the copy replacing it, in that
# order and with the right blocks; a clone shows its remap; a write that
# runs out of space shows the error exit of the allocation and no copy.
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

trap lib_cleanup EXIT

TRACE=$WORK/trace.dat
REPORT=$WORK/trace.txt

tracefs() {
	mountpoint -q /sys/kernel/tracing ||
		mount -t tracefs nodev /sys/kernel/tracing 2> /dev/null ||
		skip "tracefs cannot be mounted"
}

# traced CMD...: run CMD under trace-cmd with the reflinkfs events; the
# report (one event per line) is in $REPORT.
traced() {
	trace-cmd record -q -e reflinkfs -o "$TRACE" -- "$@" > "$LOG" 2>&1 ||
		{ show "$LOG"; die "trace-cmd record $* failed"; }
	trace-cmd report -i "$TRACE" 2> /dev/null | grep 'reflinkfs_' > "$REPORT" || true
	show "$REPORT"
}

# line_of REGEX: number of the first report line matching REGEX, or die.
line_of() {
	local n
	n=$(grep -n -m1 -E "$1" "$REPORT" | cut -d: -f1)
	[ -n "$n" ] || die "no trace event matches: $1"
	echo "$n"
}

# pblk FILE LBLK: the physical block FIEMAP gives for logical block LBLK.
pblk() {
	local s
	s=$(xfs_io -r -c "fiemap $(($2 * 4096)) 4096" "$1" |
		sed -n 's/^[[:space:]]*0: \[[0-9]*\.\.[0-9]*\]: \([0-9][0-9]*\)\.\..*/\1/p')
	[ -n "$s" ] && echo $((s / 8))
}

case_cow_write() {
	tracefs
	mkfs_fs "$DEV" "$BLOCKS"
	mount_fs "$DEV"
	xfs_io -f -c "pwrite -q -S 0x61 0 16k" -c fsync "$MNT/a"
	cp --reflink=always "$MNT/a" "$MNT/b"
	sync
	local ino old
	ino=$(stat -c %i "$MNT/b")
	old=$(pblk "$MNT/b" 1)
	[ -n "$old" ] || die "no mapping for block 1 of b"
	traced xfs_io -c "pwrite -q -S 0x62 4096 4096" -c fsync "$MNT/b"
	local new la lr lc
	new=$(pblk "$MNT/b" 1)
	[ "$new" != "$old" ] || die "block 1 of b still maps $old after the write"
	la=$(line_of "reflinkfs_alloc_blocks: +dev [0-9:]+ ino $ino blocks $new\\+1 err 0")
	lr=$(line_of "reflinkfs_refcount_change: +dev [0-9:]+ blocks $old\\+1 refcount 2 -> 1 err 0")
	lc=$(line_of "reflinkfs_cow: +dev [0-9:]+ ino $ino offset 4096 block $old -> $new err 0")
	[ "$la" -lt "$lr" ] && [ "$lr" -lt "$lc" ] ||
		die "events out of order: alloc at $la, refcount at $lr, cow at $lc"
	line_of "reflinkfs_trans_start: +dev [0-9:]+ credits [0-9]+ err 0" > /dev/null
	line_of "reflinkfs_trans_stop: +dev [0-9:]+ credits left -?[0-9]+ err 0" > /dev/null
	[ "$(grep -c 'reflinkfs_cow:' "$REPORT")" = 1 ] || die "one block written, $(grep -c 'reflinkfs_cow:' "$REPORT") copies traced"
	[ "$(od -An -tx1 -j 4096 -N 1 "$MNT/a" | tr -d ' ')" = 61 ] || die "the write reached the other sharer"
	umount_fs
	fsck_clean "$DEV"
}

case_clone_and_dedupe() {
	tracefs
	mkfs_fs "$DEV" "$BLOCKS"
	mount_fs "$DEV"
	xfs_io -f -c "pwrite -q -S 0x71 0 64k" -c fsync "$MNT/s"
	xfs_io -f -c "pwrite -q -S 0x72 0 64k" -c fsync "$MNT/d"
	local si di
	si=$(stat -c %i "$MNT/s")
	di=$(stat -c %i "$MNT/d")
	traced xfs_io -c "reflink $MNT/s 8k 16k 32k" "$MNT/d"
	line_of "reflinkfs_remap: +dev [0-9:]+ clone ino $si bytes 8192\\+32768 to ino $di at 16384 ret 32768" > /dev/null
	line_of "reflinkfs_extent_replace: +dev [0-9:]+ ino $di lblk 4\\+8 pblk [0-9]+ err 0" > /dev/null
	line_of "reflinkfs_refcount_change: +dev [0-9:]+ blocks [0-9]+\\+8 refcount 1 -> 2 err 0" > /dev/null
	# a dedupe of differing data remaps nothing: its error exit is
	# EBADE (-52), which the VFS reports as FILE_DEDUPE_RANGE_DIFFERS
	traced xfs_io -c "dedupe $MNT/s 0 0 4k" "$MNT/d"
	line_of "reflinkfs_remap: +dev [0-9:]+ dedupe ino $si bytes 0\\+4096 to ino $di at 0 ret -52" > /dev/null
	! grep -q 'reflinkfs_refcount_change' "$REPORT" || die "a failed dedupe changed a refcount"
	umount_fs
	fsck_clean "$DEV"
}

case_enospc_error_exit() {
	tracefs
	mkfs_fs "$DEV" 8192
	mount_fs "$DEV"
	xfs_io -f -c "pwrite -q -S 0x31 0 64k" -c fsync "$MNT/a"
	cp --reflink=always "$MNT/a" "$MNT/b"
	# fill the rest of the filesystem
	dd if=/dev/zero of="$MNT/fill" bs=1M status=none 2> /dev/null || true
	dd if=/dev/zero of="$MNT/fill2" bs=4k status=none 2> /dev/null || true
	sync
	local ino
	ino=$(stat -c %i "$MNT/b")
	traced sh -c "xfs_io -c 'pwrite -q -S 0x32 0 4k' -c fsync '$MNT/b' || true"
	line_of "reflinkfs_alloc_blocks: +dev [0-9:]+ ino $ino blocks [0-9]+\\+1 err -28" > /dev/null
	! grep -qE "reflinkfs_cow: .* err 0" "$REPORT" || die "a copy was traced although allocation failed"
	[ "$(od -An -tx1 -N 1 "$MNT/b" | tr -d ' ')" = 31 ] || die "b changed although its copy could not be allocated"
	rm -f "$MNT/fill" "$MNT/fill2"
	umount_fs
	fsck_clean "$DEV"
}

require_vm
command -v trace-cmd > /dev/null || { echo "SKIP: trace-cmd not installed"; exit 4; }
command -v xfs_io > /dev/null || { echo "SKIP: xfs_io not installed"; exit 4; }
ktap_run case_cow_write case_clone_and_dedupe case_enospc_error_exit
