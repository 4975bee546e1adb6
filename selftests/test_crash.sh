#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_crash.sh - crash consistency with dm-flakey, as the xfstests generic
# crash tests do.  A workload runs on a dm-flakey device over $RLFS_DEV2;
# at a chosen point the data that must be durable is made so (sync, or
# fsync of some files and their directories), then the table is switched
# to drop every write ("power cut"), the workload goes on, the filesystem
# is unmounted, writes are let through again and the filesystem is mounted
# (journal replay).  Everything made durable before the cut must be there
# exactly, and fsck -n must find the filesystem clean.  The switch point
# and the sync method vary per iteration.  A last case checks that an
# unlinked-but-open file lost in a crash is reclaimed at mount (orphan
# recovery): the free block count returns to that of the empty filesystem.
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

FLAKEY=rlfs-flakey
CRASH_BLOCKS=32768	# 128 MiB
FDEV=
SECTORS=
HOLDER=


case_cleanup() {
	# a holder process a failed case left behind (cases run in subshells)
	if [ -s "$WORK/holder" ]; then
		kill "$(cat "$WORK/holder")" 2>/dev/null || true
		rm -f "$WORK/holder"
		sleep 0.5
	fi
	cd /
	if is_mounted; then umount "$MNT" 2>/dev/null || umount -l "$MNT" || true; fi
}

cleanup() {
	case_cleanup
	flakey_remove
	lib_cleanup
}
trap cleanup EXIT


# ---- the workload: steps 1..NSTEPS, each changing the tree ---------------

NSTEPS=8

step1() { mkdir d1 d2; wfile d1/a 10240; wfile d1/b 102400; wfile c 1; }
step2() { head -c $((4 * 1024 * 1024)) /dev/urandom > d2/big; setfattr -n user.x -v step2 d1/a; }
step3() { mv d1/b d2/b2; ln d1/a d2/a_link; chmod 0600 d2/b2; }
step4() { rm c; wfile d1/e 5000; truncate -s $((1024 * 1024 + 7)) d2/big; }
step5() {
	local i
	mkdir d3
	for ((i = 0; i < 40; i++)); do wfile "d3/s$i" $((100 + i)); done
}
step6() {
	head -c 65536 /dev/urandom | dd of=d2/big bs=64k seek=8 conv=notrunc status=none
	wfile d1/a.tail 3000
	cat d1/a.tail >> d1/a
	rm d1/a.tail
}
step7() { rm d3/s{0..38..2}; mv d1 d4; }
step8() { xfs_io -f -c "falloc 0 1m" -c "pwrite -q 4096 8192" d4/fa; ln -s e d4/l; wfile d4/late 70000; }

run_steps() { # run_steps FROM TO (in the mount point)
	local i
	for ((i = $1; i <= $2; i++)); do
		"step$i"
	done
}


# crash_iteration K MODE: cut after step K; MODE sync (everything durable,
# the tree must match exactly) or fsync (every other file fsync'ed with its
# directory; those must match).
crash_iteration() {
	local k=$1 mode=$2
	local -a files dirs
	flakey_create
	mkfs_fs "$FDEV" "$CRASH_BLOCKS"
	mount_fs "$FDEV"
	msg "mounted; steps 1..$k"
	cd "$MNT"
	run_steps 1 "$k"
	case "$mode" in
	sync)
		sync
		;;
	fsync)
		mapfile -t files < <(find . -type f | LC_ALL=C sort | awk 'NR % 2 == 1')
		mapfile -t dirs < <(printf '%s\n' "${files[@]}" | xargs -r -n1 dirname | sort -u)
		[ "${#files[@]}" -gt 0 ] || die "nothing to fsync"
		# coreutils sync FILE... fsyncs each file and directory
		sync "${files[@]}" "${dirs[@]}"
		sha256sum "${files[@]}" > "$WORK/fsynced"
		;;
	esac
	flakey_load drop
	[ "$mode" = sync ] && manifest > "$WORK/before"
	msg "steps $((k + 1))..$NSTEPS after the cut"
	# Keep working after the power cut: none of this may reach the disk.
	run_steps $((k + 1)) "$NSTEPS"
	wfile d2/after_cut 12345
	head -c 8192 /dev/urandom | dd of=d2/big bs=4k seek=2 conv=notrunc status=none
	sync
	cd /
	crash_and_recover
	msg "recovered"
	if [ "$mode" = sync ]; then
		manifest > "$WORK/after"
		if ! diff -u "$WORK/before" "$WORK/after" > "$WORK/diff"; then
			show "$WORK/diff"
			die "after a crash following sync (step $k) the tree differs"
		fi
	else
		if ! (cd "$MNT" && sha256sum --quiet -c "$WORK/fsynced") > "$LOG" 2>&1; then
			show "$LOG"
			die "fsync'ed files lost or changed by the crash (step $k)"
		fi
		msg "$(wc -l < "$WORK/fsynced") fsync'ed files intact"
	fi
	# The recovered filesystem is usable.
	echo post > "$MNT/post_crash"
	umount_fs
	msg "fsck"
	fsck_clean "$FDEV"
}

case_crash_sync_step1() { crash_iteration 1 sync; }
case_crash_fsync_step3() { crash_iteration 3 fsync; }
case_crash_fsync_step5() { crash_iteration 5 fsync; }
case_crash_sync_step7() { crash_iteration 7 sync; }
case_crash_fsync_step8() { crash_iteration 8 fsync; }

case_orphan_recovery() {
	local base after
	flakey_create
	mkfs_fs "$FDEV" "$CRASH_BLOCKS"
	mount_fs "$FDEV"
	echo keep > "$MNT/keep"
	base=$(free_blocks)
	msg "writing the orphan"
	xfs_io -f -c "pwrite -q 0 8m" -c fsync "$MNT/orphan"
	[ "$(free_blocks)" -le $((base - 2048)) ] || die "8 MiB file took no space"
	# A process holds the file open while it is unlinked.
	( exec 3<"$MNT/orphan"; exec sleep 1000 ) &
	HOLDER=$!
	echo "$HOLDER" > "$WORK/holder"
	sleep 0.5
	rm "$MNT/orphan"
	sync
	flakey_load drop
	# The last close frees the file: lost with the cut.
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	rm -f "$WORK/holder"
	msg "holder killed"
	crash_and_recover
	msg "recovered"
	[ ! -e "$MNT/orphan" ] || die "unlinked file reappeared"
	[ "$(cat "$MNT/keep")" = keep ] || die "keep lost"
	after=$(free_blocks)
	[ "$after" = "$base" ] ||
		die "free blocks after orphan recovery: $after, want $base"
	umount_fs
	fsck_clean "$FDEV"
	mount_fs "$FDEV"
	after=$(free_blocks)
	[ "$after" = "$base" ] || die "free blocks after a second mount: $after, want $base"
	umount_fs
}

require_vm
ktap_run case_crash_sync_step1 case_crash_fsync_step3 case_crash_fsync_step5 \
	case_crash_sync_step7 case_crash_fsync_step8 case_orphan_recovery
