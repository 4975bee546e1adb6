#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_stress.sh - stock stress tools on a mounted reflinkfs, each case
# ending with fsck.reflinkfs -n clean.  The point-in-time and model checks
# of concurrent sharing are in stress_test (C); these add the tools' own
# workloads and verification.
#
#   case_fio_verify_vs_clones  fio random writes with verify=crc32c (every
#                              block written is read back and checked)
#                              while other processes FICLONE the file,
#                              dedupe it against a clone and unshare it;
#                              a clone taken after fio is byte-equal
#   case_stress_ng             stress-ng's file-ioctl (FICLONE,
#                              FICLONERANGE, FIDEDUPERANGE, ...),
#                              copy-file (copy_file_range: clones here),
#                              fallocate, fiemap, mmap (file backed),
#                              iomix and hdd --verify stressors together
#
# RLFS_STRESS_SECONDS (default 6) is the length of each run.
# shellcheck disable=SC2317  # case functions are called through ktap_run
set -euo pipefail
. "$(dirname "$0")/lib.sh"

trap lib_cleanup EXIT

SECS=${RLFS_STRESS_SECONDS:-6}
[ "$SECS" -ge 1 ] 2>/dev/null || SECS=6
# the lib watchdog: the run, plus slack for setup, fsck and a slow TCG
CASE_TIMEOUT=${RLFS_CASE_TIMEOUT:-$((SECS * 3 + 240))}

# until_stopped FILE CMD...: run CMD in a loop until FILE exists; a
# failure of CMD (its status, or anything on stderr: xfs_io exits 0 after
# a failed command) is written to FILE.fail.
until_stopped() {
	local stop=$1 err
	shift
	err=$stop.err.$BASHPID	# this (background) shell's, not CMD's pid
	while [ ! -e "$stop" ]; do
		# (a dedupe of differing contents is no failure)
		if ! "$@" > /dev/null 2> "$err" ||
		   grep -qv "Extents did not match" "$err"; then
			{ echo "$*:"; cat "$err"; } >> "$stop.fail"
			return 1
		fi
		sleep 0.2	# leave fio some of the two CPUs
	done
}

case_fio_verify_vs_clones() {
	local stop=$WORK/stop pids=() rc=0 p
	command -v fio > /dev/null || skip "fio not installed"
	setup_fs
	rm -f "$stop" "$stop.fail"
	xfs_io -f -c "pwrite -q -b 1m 0 16m" -c fsync data
	cp --reflink=always data dd
	until_stopped "$stop" cp --reflink=always data clone1 &
	pids+=($!)
	until_stopped "$stop" xfs_io -f -c "reflink data 0 0 8m" clone2 &
	pids+=($!)
	until_stopped "$stop" xfs_io -c "funshare 4m 4m" data &
	pids+=($!)
	# dedupe of different contents is no error; of equal ones shares
	until_stopped "$stop" xfs_io -c "dedupe dd 0 0 16m" data &
	pids+=($!)
	msg "fio for ${SECS}s with cloners, an unsharer and a deduper"
	fio --name=rw --filename=data --size=16m --bs=4k --rw=randwrite \
		--ioengine=psync --numjobs=1 --time_based --runtime="$SECS" \
		--verify=crc32c --verify_backlog=64 --verify_fatal=1 \
		--do_verify=1 --direct=0 --group_reporting > "$WORK/fio1" 2>&1 || rc=$?
	touch "$stop"
	for p in "${pids[@]}"; do
		wait "$p" || true
	done
	[ "$rc" = 0 ] || { show "$WORK/fio1"; die "fio (buffered) exited $rc"; }
	[ ! -e "$stop.fail" ] || { show "$stop.fail"; die "a sharer failed"; }
	{ grep -E "write: IOPS|verify" "$WORK/fio1" || true; } | head -3 | show
	# again with O_DIRECT writers and mmap readers of the clone
	rm -f "$stop"
	cp --reflink=always data clone3
	until_stopped "$stop" cp --reflink=always data clone1 &
	pids=($!)
	until_stopped "$stop" xfs_io -c "mmap -r 0 16m" -c "mread 0 16m" clone3 &
	pids+=($!)
	fio --name=dio --filename=data --size=16m --bs=4k --rw=randwrite \
		--ioengine=psync --time_based --runtime="$SECS" --direct=1 \
		--verify=crc32c --verify_backlog=64 --verify_fatal=1 \
		--do_verify=1 > "$WORK/fio2" 2>&1 || rc=$?
	touch "$stop"
	for p in "${pids[@]}"; do
		wait "$p" || true
	done
	[ "$rc" = 0 ] || { show "$WORK/fio2"; die "fio (O_DIRECT) exited $rc"; }
	[ ! -e "$stop.fail" ] || { show "$stop.fail"; die "a sharer failed"; }
	# a clone taken now is the file, before and after a remount
	cp --reflink=always data final
	cmp data final || die "clone differs from its source"
	sha256sum data > "$WORK/sum"
	cd /
	umount_fs
	fsck_clean "$DEV"
	mount_fs "$DEV"
	cd "$MNT"
	sed 's/data$/final/' "$WORK/sum" | sha256sum -c --quiet - ||
		die "the clone changed across a remount"
	cd /
	umount_fs
	fsck_clean "$DEV"
}

case_stress_ng() {
	local rc=0
	command -v stress-ng > /dev/null || skip "stress-ng not installed"
	# copy-file's file is 128 MiB at least (stress-ng's minimum)
	setup_fs 196608
	mkdir ng
	msg "stress-ng for ${SECS}s"
	stress-ng --temp-path "$MNT/ng" --timeout "${SECS}s" --verify \
		--file-ioctl 2 --copy-file 1 --copy-file-bytes 128m \
		--fallocate 1 --fallocate-bytes 8m --fiemap 1 --fiemap-bytes 8m \
		--mmap 1 --mmap-file --mmap-bytes 8m --iomix 1 --iomix-bytes 8m \
		--hdd 1 --hdd-bytes 8m --hdd-write-size 4k \
		--metrics-brief > "$WORK/ng" 2>&1 || rc=$?
	# 0: every stressor passed (its own --verify included); 2: one
	# failed; 3: one could not get a resource; anything else: an error
	{ grep -E "passed|failed|skipped|successful|untrustworthy" "$WORK/ng" ||
		true; } | show
	[ "$rc" = 0 ] || { show "$WORK/ng"; die "stress-ng exited $rc"; }
	rm -rf ng
	cd /
	umount_fs
	fsck_clean "$DEV"
}

require_vm
command -v xfs_io > /dev/null || { echo "SKIP: xfs_io not found"; exit 4; }
ktap_run case_fio_verify_vs_clones case_stress_ng
