#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_core_rules.sh - the kernel enforces the format core's rules.  Every
# corruption that rlfs-testimg plants with valid checksums and that breaks
# a rule of one block (the verifiers of kernel/libreflinkfs/, which fsck
# uses too) is refused by the kernel: the mount fails, or touching the
# damaged object (stat, read, readlink, xattrs, a write, an unlink) fails
# with EUCLEAN and a message naming it.  Corruptions that need more than
# one block to see (duplicate blocks, link counts, bitmaps, refcounts
# against the maps) are fsck's; the kernel may miss them but must not
# crash on them.  Every image is refused by fsck -n (exit 4) before it is
# mounted.  (The VM runner fails the run on any oops or WARNING.)
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

TESTIMG=$RLFS_TOP/userspace/tests/rlfs-testimg

# Corruptions of one block or record: the kernel must refuse them.
PER_BLOCK="ext-beyond ext-meta ext-len ext-overlap idx-key ext-depth
ext-owner ext-empty ext-max dir-reclen dir-dot dir-names dir-crc
symlink-len fast-symlink-len xattr-index xattr-overrun inode-ns
inode-flags inode-type special-blocks inode-crc ext-root-crc rc-unsorted
rc-key rc-depth snap-feature snap-origin snap-self snap-lineage snap-dir
snap-notsnap ext-lblk-limit root-ref"

LOOP=

case_cleanup() {
	[ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null || true
	LOOP=
}

cleanup() {
	case_cleanup
	lib_cleanup
}
trap cleanup EXIT

# Touch everything on the mounted filesystem: stat, read, readlink and
# list every file, its xattrs, then append to every regular file and
# unlink everything (the refcount tree and the free paths).  Errors are
# expected; what counts is what the kernel logs.
walk_all() {
	local err=$WORK/walk.err
	find "$MNT" -xdev -exec stat {} + > /dev/null 2>> "$err" || true
	find "$MNT" -xdev -type f -exec cat {} + > /dev/null 2>> "$err" || true
	find "$MNT" -xdev -type l -exec readlink {} + > /dev/null 2>> "$err" || true
	find "$MNT" -xdev -type d -exec ls -l {} + > /dev/null 2>> "$err" || true
	getfattr -R -h -d -m - "$MNT" > /dev/null 2>> "$err" || true
	find "$MNT" -xdev -type f -exec sh -c 'for f; do echo x >> "$f"; done' \
		sh {} + 2>> "$err" || true
	rm -rf "${MNT:?}"/* 2>> "$err" || true
}

# run_scenario SC: plant SC in a copy of the fresh image, check that fsck
# refuses it, mount it and walk it.  Prints "refused" when the kernel
# refused the image (the mount failed, or it reported a corruption),
# else "accepted".  The image is a file on a loop device, so nothing of
# it lingers on a disk.
run_scenario() {
	local sc=$1 img=$WORK/img rc want
	rm -f "$img" "$WORK/walk.err"
	cp --sparse=always "$WORK/fresh.img" "$img"
	"$TESTIMG" "$img" "$sc" > "$LOG" 2>&1 || { show "$LOG"; die "rlfs-testimg $sc failed"; }
	# sb-free: the superblock's free counts are hints; fsck -n accepts
	# them wrong (as e2fsck -n does) and -y corrects them
	case "$sc" in
	clean|sb-free) want=0 ;;
	*) want=4 ;;
	esac
	rc=$(fsck_rc "$img")
	[ "$rc" = "$want" ] || { show "$LOG"; die "fsck -n exited $rc on $sc (want $want)"; }
	LOOP=$(losetup -f --show "$img") || die "losetup $img failed"
	dmesg_mark
	if ! try_mount "$LOOP"; then
		case_cleanup
		dmesg_since | grep -q "reflinkfs" ||
			die "$sc: the mount failed without a message"
		echo refused
		return 0
	fi
	walk_all
	umount_fs
	case_cleanup
	# The damage may surface where no caller sees it (an unlinked inode
	# freed at eviction stays on the orphan list): the log is the verdict.
	if dmesg_since | grep -q "reflinkfs.*corruption"; then
		echo refused
	else
		echo accepted
	fi
}

# The populated image every scenario starts from.
fresh_image() {
	[ -x "$TESTIMG" ] || skip "rlfs-testimg not built"
	[ -e "$WORK/fresh.img" ] && return 0
	truncate -s 64M "$WORK/fresh.img"
	"$MKFS" -f "$WORK/fresh.img" > "$LOG" 2>&1 || { show "$LOG"; die "mkfs of the image failed"; }
}

case_clean_image_works() {
	local verdict
	fresh_image
	verdict=$(run_scenario clean)
	[ "$verdict" = accepted ] || die "the clean populated image was refused"
	fsck_clean "$WORK/img"
}

case_per_block_rules() {
	local sc verdict missed=""
	fresh_image
	for sc in $PER_BLOCK; do
		"$TESTIMG" -l | grep -qx "$sc" || die "rlfs-testimg has no scenario $sc"
		verdict=$(run_scenario "$sc")
		msg "$sc: $verdict"
		[ "$verdict" = refused ] || missed="$missed $sc"
	done
	[ -z "$missed" ] || die "the kernel accepted:$missed"
}

case_cross_block_no_crash() {
	local sc verdict
	fresh_image
	for sc in $("$TESTIMG" -l); do
		[ "$sc" = clean ] && continue
		case " $(echo $PER_BLOCK) " in *" $sc "*) continue ;; esac
		verdict=$(run_scenario "$sc")
		msg "$sc: $verdict (fsck's to find)"
	done
}

require_vm
modprobe loop 2>/dev/null || true
ktap_run case_clean_image_works case_per_block_rules case_cross_block_no_crash
