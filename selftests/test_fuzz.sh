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
# Environment: RLFS_FUZZ_COUNT (images, default 200), RLFS_FUZZ_OFFSET
# (first mutation, default 0), RLFS_FUZZ_SEED (the mutation stream,
# default 0), RLFS_FUZZ_TIMEOUT (seconds per step, default 60).  With
# RLFS_RESULTS set (the VM runner does), one line per image goes to
# $RLFS_RESULTS/fuzz.log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FUZZ=$RLFS_TOP/userspace/tests/rlfs-fuzz
COUNT=${RLFS_FUZZ_COUNT:-200}
FIRST=${RLFS_FUZZ_OFFSET:-0}
SEEDNUM=${RLFS_FUZZ_SEED:-0}
STEP_TIMEOUT=${RLFS_FUZZ_TIMEOUT:-60}
FUZZLOG=${RLFS_RESULTS:+$RLFS_RESULTS/fuzz.log}
# Long runs: the case watchdog scales with the count.
[ -n "${RLFS_CASE_TIMEOUT:-}" ] || CASE_TIMEOUT=$((COUNT * 10 + 240))

# Mutations of stream 0 that always run, whatever the offset: one of each
# outcome (refused at mount, EUCLEAN in the walk, EIO, fsck-only) over the
# kinds of block, and those that once found a bug.
#   3 dir d_rec_len, 5 s_root_ino, 11 refcount bt_max, 20 extent leaf
#   swap, 25 inode root bt_max, 29 refcount index swap, 36 d_ino zeroed
#   (fsck-only: link counts)
REGRESS="3 5 11 20 25 29 36"

cleanup() {
	umount "$MNT" 2>/dev/null || true
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

# Counters of a run (fuzz_one updates them).
N_IMG=0 N_MOUNT=0 N_REFUSED=0 N_EUCLEAN=0 N_FSCK=0 N_FSCKONLY=0 N_BAD=0
BAD=""

# violation N WHAT: record an invariant violation of mutation N.
violation() {
	N_BAD=$((N_BAD + 1))
	BAD="$BAD $1"
	msg "VIOLATION $1: $2"
	msg "  mutation: $DESC"
	show "$LOG"
	dmesg_since | grep reflinkfs | tail -n 8 | show
}

# fuzz_one SEEDNUM N: mutation N of stream SEEDNUM, checked as above.
fuzz_one() {
	local s=$1 n=$2 rc0 rc1=- mounted=0 kern=0 walk="" klog nmsg lines
	cp --sparse=always "$SEED" "$IMG"
	DESC=$("$FUZZ" -s "$s" --apply "$n" "$IMG") || die "rlfs-fuzz --apply $n failed"
	rc0=$(fsck_rc "$IMG")
	case $rc0 in
	0|4|8) ;;
	*) violation "$n" "fsck -n exited $rc0 (crashed?)" ;;
	esac
	[ "$rc0" = 0 ] || N_FSCK=$((N_FSCK + 1))
	dmesg_mark
	if timeout "$STEP_TIMEOUT" mount -t "$FSTYPE" -o loop "$IMG" "$MNT" > "$WORK/mount.out" 2>&1; then
		mounted=1
		N_MOUNT=$((N_MOUNT + 1))
		if ! walk=$(timeout "$STEP_TIMEOUT" "$FUZZ" --walk "$MNT"); then
			violation "$n" "the workload did not finish in ${STEP_TIMEOUT}s"
			die "mutation $n: hang"
		fi
		cd /
		if ! timeout "$STEP_TIMEOUT" umount "$MNT" 2> "$LOG"; then
			violation "$n" "umount failed"
			die "mutation $n: umount failed"
		fi
		! is_mounted || die "mutation $n: still mounted"
	else
		N_REFUSED=$((N_REFUSED + 1))
		kern=1
	fi
	# one process: the VM is slow at starting them
	klog=$(dmesg | awk -v m="$DMESG_MARK" 'found && /reflinkfs/ { print } index($0, m) { found = 1 }')
	case $walk in
	*" euclean 0 "*) ;;
	*) [ -z "$walk" ] || { kern=1; N_EUCLEAN=$((N_EUCLEAN + 1)); } ;;
	esac
	case $klog in *"corruption in"*) kern=1 ;; esac
	nmsg=0
	if [ -n "$klog" ]; then
		mapfile -t lines <<< "$klog"
		nmsg=${#lines[@]}
	fi
	# 10 a burst per filesystem, plus those of a failed mount
	[ "$nmsg" -le 40 ] || violation "$n" "$nmsg kernel messages (not rate limited?)"
	if [ "$rc0" = 0 ]; then
		if [ "$kern" = 1 ]; then
			violation "$n" "the kernel found a corruption fsck -n did not (walk: ${walk:-not mounted})"
		else
			case $walk in *" eio 0"*) ;; *) violation "$n" "EIO on a clean image ($walk)" ;; esac
			rc1=$(fsck_rc "$IMG")
			[ "$rc1" = 0 ] || violation "$n" "fsck -n exited $rc1 after the workload"
		fi
	elif [ "$mounted" = 1 ] && [ "$kern" = 0 ]; then
		N_FSCKONLY=$((N_FSCKONLY + 1))
	fi
	N_IMG=$((N_IMG + 1))
	[ -z "$FUZZLOG" ] || echo "$s $n fsck=$rc0 mounted=$mounted kernel=$kern after=$rc1 | $DESC | ${walk:-}" >> "$FUZZLOG"
	return 0
}

summary() {
	msg "images $N_IMG, mounted $N_MOUNT, refused at mount $N_REFUSED, EUCLEAN later $N_EUCLEAN," \
		"fsck-detected $N_FSCK, fsck-only (kernel mounted and used) $N_FSCKONLY, violations $N_BAD${BAD:+:$BAD}"
}

# No loop device, no mount of ours left behind.
no_leaks() {
	! is_mounted || die "$MNT still mounted"
	if losetup -a 2>/dev/null | grep -qF "$IMG"; then
		losetup -a | show
		die "a loop device of $IMG was left behind"
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
	local n
	seed_image
	for n in $REGRESS; do
		fuzz_one 0 "$n"
	done
	summary
	no_leaks
	[ "$N_BAD" = 0 ] || die "$N_BAD invariant violations:$BAD"
}

case_fuzz() {
	local n start=$SECONDS
	seed_image
	msg "mutations $FIRST..$((FIRST + COUNT - 1)) of stream $SEEDNUM"
	for ((n = FIRST; n < FIRST + COUNT; n++)); do
		fuzz_one "$SEEDNUM" "$n"
		if (((n - FIRST + 1) % 50 == 0)); then
			summary
			no_leaks
		fi
	done
	summary
	msg "$N_IMG images in $((SECONDS - start))s"
	no_leaks
	[ "$N_BAD" = 0 ] || die "$N_BAD invariant violations:$BAD"
}

require_vm
modprobe loop 2>/dev/null || true
ktap_run case_seed_image case_regressions case_fuzz
