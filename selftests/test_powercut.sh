#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_powercut.sh - a power cut at every flush point, with dm-log-writes
# (as xfstests' generic/455 and generic/482 do it).
#
# The filesystem is made and the workload (powercut work: CoW traffic of
# every kind, fsyncs, a dm-log-writes mark after each step) runs on a
# log-writes device, which records every write in the order it reached
# stable storage.  replay-log then replays the log onto a second device,
# which starts filled with poison, and stops at every flush, FUA and mark
# entry: each is a moment the power could have been cut.  At each point a
# throw-away dm-snapshot of the replayed device is mounted (the journal is
# replayed into the snapshot), powercut check verifies that every file
# fsynced before the last mark has exactly its fsynced contents and that no
# block of any file holds data that file was never given, the filesystem
# is unmounted and fsck.reflinkfs -n must find it clean.
#
#   RLFS_POWERCUT_STEPS   workload steps (default 16: about 100 points)
#   RLFS_POWERCUT_SEED    workload seed (default 1)
#   RLFS_POWERCUT_EVERY   check every Kth point only (default 1: all)
#   RLFS_CASE_TIMEOUT     the case's watchdog (default 300 + 30 s a step);
#                         a long form also needs RLFS_TEST_TIMEOUT
#
# The point checks run as "test_powercut.sh --point" from replay-log.
# shellcheck disable=SC2317  # case functions are called through ktap_run
set -euo pipefail

PC=rlfs-pc
SNAP=$PC-snap

dmq() { timeout 60 dmsetup --noudevsync "$@"; }

# dm_node NAME: the device node of a dm device (made if udev did not)
dm_node() {
	local maj min
	dmq mknodes "$1" >/dev/null 2>&1 || true
	if [ -b "/dev/mapper/$1" ]; then
		echo "/dev/mapper/$1"
		return
	fi
	read -r maj min < <(dmsetup info -c --noheadings -o major,minor --separator ' ' "$1")
	rm -f "/dev/$1"
	mknod "/dev/$1" b "$maj" "$min"
	echo "/dev/$1"
}

dm_remove() { # dm_remove NAME...: remove, retrying while the device is busy
	local n _
	for n in "$@"; do
		dmsetup info "$n" >/dev/null 2>&1 || continue
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			dmq remove "$n" >/dev/null 2>&1 && break
			sleep 0.3
		done
		rm -f "/dev/$n"
	done
}

# One replay point: replay-log has brought PC_TARGET to the state the disk
# would hold after a power cut at entry $REPLAY_ENTRY.
check_point() {
	local dev rc=0 mark=${REPLAY_MARK:-} log=$PC_WORK/point.log
	local where="point $REPLAY_POINT: entry $REPLAY_ENTRY ($REPLAY_FLAGS), after mark '${mark:-none}'"

	# after the end mark (the unmount) everything the workload did is durable
	[ "$mark" = dm-log-writes-end ] && mark=m$PC_STEPS
	dmq create "$SNAP" --table "0 $PC_SECTORS snapshot $PC_TARGET $PC_COW N 8" ||
		{ echo "# $where: dmsetup create $SNAP failed"; return 2; }
	dev=$(dm_node "$SNAP")
	if ! mount -t "$PC_FSTYPE" "$dev" "$PC_MNT" > "$log" 2>&1; then
		echo "# $where: mount failed"
		sed 's/^/#   /' "$log"
		dmesg | tail -n 8 | sed 's/^/#   /'
		rc=1
	else
		if ! "$PC_POWERCUT" check "$PC_MNT" "$PC_WORK/model" "$mark" > "$log" 2>&1; then
			echo "# $where: contents wrong"
			sed 's/^/#   /' "$log"
			rc=1
		fi
		if ! umount "$PC_MNT" > "$log" 2>&1; then
			echo "# $where: umount failed"
			sed 's/^/#   /' "$log"
			umount -l "$PC_MNT" || true
			rc=1
		fi
		if ! "$PC_FSCK" -n "$dev" > "$log" 2>&1; then
			echo "# $where: fsck.reflinkfs -n not clean"
			sed 's/^/#   /' "$log" | tail -n 30
			rc=1
		fi
	fi
	dm_remove "$SNAP"
	return $rc
}

if [ "${1:-}" = --point ]; then
	check_point
	exit
fi

STEPS=${RLFS_POWERCUT_STEPS:-16}
# about 8 points per step, 1-2 s each under TCG: the watchdog scales
export RLFS_CASE_TIMEOUT=${RLFS_CASE_TIMEOUT:-$((300 + STEPS * 30))}

. "$(dirname "$0")/lib.sh"

PC_BLOCKS=16384		# 64 MiB filesystem
PC_SECTORS=$((PC_BLOCKS * 8))
SEED=${RLFS_POWERCUT_SEED:-1}
EVERY=${RLFS_POWERCUT_EVERY:-1}
POWERCUT=$RLFS_SELFTEST_DIR/powercut
REPLAY=$RLFS_SELFTEST_DIR/replay-log

cleanup() {
	cd /
	if is_mounted; then umount "$MNT" 2>/dev/null || umount -l "$MNT" || true; fi
	dm_remove "$SNAP" "$PC-lw" "$PC-data" "$PC-target" "$PC-cow"
	lib_cleanup
}
trap cleanup EXIT

case_cleanup() {
	cd /
	if is_mounted; then umount "$MNT" 2>/dev/null || umount -l "$MNT" || true; fi
	dm_remove "$SNAP" "$PC-lw" "$PC-data" "$PC-target" "$PC-cow"
}

setup_devices() {
	command -v dmsetup >/dev/null || skip "dmsetup not installed"
	modprobe dm-log-writes 2>/dev/null || skip "dm-log-writes not available"
	modprobe dm-snapshot 2>/dev/null || skip "dm-snapshot not available"
	[ -b "$DEV2" ] || skip "second scratch device $DEV2 missing"
	if [ ! -x "$POWERCUT" ] || [ ! -x "$REPLAY" ]; then skip "powercut/replay-log not built"; fi
	[ "$(blockdev --getsz "$DEV")" -ge $((3 * PC_SECTORS)) ] ||
		skip "$DEV is smaller than $((3 * PC_SECTORS)) sectors"
	# three slices of $DEV: the live device, the replay target, the COW
	# store of the per-point snapshots; the log on $DEV2
	dmq create "$PC-data" --table "0 $PC_SECTORS linear $DEV 0" || die "dm create data"
	dmq create "$PC-target" --table "0 $PC_SECTORS linear $DEV $PC_SECTORS" ||
		die "dm create target"
	dmq create "$PC-cow" --table "0 $PC_SECTORS linear $DEV $((2 * PC_SECTORS))" ||
		die "dm create cow"
	DATA=$(dm_node "$PC-data")
	TARGET=$(dm_node "$PC-target")
	COW=$(dm_node "$PC-cow")
	"$POWERCUT" poison "$TARGET" || die "poisoning $TARGET failed"
	# no stale log from an earlier run
	dd if=/dev/zero of="$DEV2" bs=1M count=1 oflag=direct status=none
	dmq create "$PC-lw" --table "0 $PC_SECTORS log-writes $DATA $DEV2" ||
		die "dm create log-writes"
	LW=$(dm_node "$PC-lw")
}

# Record the workload; the log ends up on $DEV2.
record() {
	mkfs_fs "$LW" "$PC_BLOCKS"
	dmq message "$PC-lw" 0 mark mkfs || die "mark mkfs"
	mount_fs "$LW"
	msg "workload: $STEPS steps, seed $SEED"
	if ! "$POWERCUT" work "$MNT" "$WORK/model" "$STEPS" "$SEED" \
		"dmsetup --noudevsync message $PC-lw 0 mark" > "$LOG" 2>&1; then
		show "$LOG"
		die "the workload failed"
	fi
	umount_fs
	dm_remove "$PC-lw"
	# the live device itself must be clean and hold the final state
	fsck_clean "$DATA"
	"$REPLAY" --log "$DEV2" --list > "$WORK/entries" || die "replay-log --list failed"
	msg "log: $(grep -vc '^#' "$WORK/entries") entries," \
		"$(grep -c ' flush' "$WORK/entries") flush," \
		"$(grep -c 'fua' "$WORK/entries") fua," \
		"$(awk '$2 ~ /mark/' "$WORK/entries" | wc -l) marks"
	[ "$(awk '$2 ~ /mark/ && $5 ~ /^m[0-9]+$/' "$WORK/entries" | wc -l)" = "$STEPS" ] ||
		die "the log lacks some of the $STEPS step marks"
}

# Replay to every point and check each; at least MIN points must be seen.
replay_all() {
	local min=$1 out=$WORK/replay.out summary checked failed
	export PC_WORK=$WORK PC_MNT=$MNT PC_TARGET=$TARGET PC_COW=$COW
	export PC_SECTORS PC_FSTYPE=$FSTYPE PC_FSCK=$FSCK PC_POWERCUT=$POWERCUT
	export PC_STEPS=$STEPS
	"$REPLAY" --log "$DEV2" --replay "$TARGET" --start-mark mkfs \
		--every "$EVERY" --check "$0 --point" > "$out" 2>&1 || true
	summary=$(grep '^replay-log: [0-9]* entries' "$out" || true)
	if [ -z "$summary" ]; then
		show "$out"
		die "replay-log did not finish"
	fi
	{ grep -v '^replay-log: [0-9]* entries' "$out" || true; } | head -n 60 | show
	msg "$summary"
	# "replay-log: N entries, N points checked, N failed"
	read -r _ _ _ checked _ _ failed _ <<< "$summary"
	[ "$failed" = 0 ] || die "$failed of $checked replay points failed"
	[ "$checked" -ge "$min" ] || die "only $checked replay points (want >= $min)"
}

case_powercut_every_flush() {
	[ "$FSTYPE" = reflinkfs ] || skip "needs fsck.reflinkfs and the reflinkfs journal"
	setup_devices
	record
	replay_all $((STEPS * 2 / EVERY))
}

require_vm
ktap_run case_powercut_every_flush
