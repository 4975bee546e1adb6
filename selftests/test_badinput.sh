#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_badinput.sh - reflinkfs refuses bad input cleanly: a zeroed device,
# an ext4 filesystem, a bad superblock magic or checksum, a device smaller
# than the filesystem, a corrupted root inode and unknown mount options all
# make mount fail with a message in the kernel log; a corrupted directory
# block or file inode is reported as EUCLEAN ("Structure needs cleaning")
# naming the block, and fsck -n then exits 4.  After every case a good
# filesystem still mounts.  (The VM runner fails the run on any oops or
# WARNING in the kernel log.)
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

DM_NAME=rlfs-badinput-trunc

case_cleanup() {
	if command -v dmsetup >/dev/null && dmsetup info "$DM_NAME" >/dev/null 2>&1; then
		dmsetup remove --retry "$DM_NAME" >/dev/null 2>&1 || true
	fi
	if [ -n "${LOOPDEV:-}" ]; then
		losetup -d "$LOOPDEV" 2>/dev/null || true
	fi
	if [ -f "$WORK/loopdev" ]; then
		losetup -d "$(cat "$WORK/loopdev")" 2>/dev/null || true
		rm -f "$WORK/loopdev"
	fi
}

cleanup() {
	case_cleanup
	lib_cleanup
}
trap cleanup EXIT

# expect_mount_fails WHAT [DEV [OPTIONS]]
expect_mount_fails() {
	local what=$1
	shift
	if try_mount "$@"; then
		umount "$MNT" || true
		die "mount of $what succeeded"
	fi
	msg "mount of $what failed as expected: $(head -n 1 "$LOG")"
}

# A good filesystem mounts and works after a bad one was refused.
check_good_fs() {
	mkfs_fs
	mount_fs
	echo good > "$MNT/good"
	umount_fs
	fsck_clean
}

zero_start() { # wipe the first 16 MiB
	dd if=/dev/zero of="$DEV" bs=1M count=16 conv=fsync status=none
	blockdev --flushbufs "$DEV" 2>/dev/null || true
}

case_zeroed_device() {
	zero_start
	dmesg_mark
	expect_mount_fails "a zeroed device"
	check_good_fs
}

case_ext4_device() {
	command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 not installed"
	zero_start
	mkfs.ext4 -F -q -b 4096 "$DEV" 16384 > "$LOG" 2>&1 || { show "$LOG"; die "mkfs.ext4 failed"; }
	expect_mount_fails "an ext4 filesystem"
	check_good_fs
}

case_bad_magic() {
	mkfs_fs
	flip_byte "$DEV" "$SB_MAGIC_OFF"
	dmesg_mark
	expect_mount_fails "a superblock with a bad magic"
	check_good_fs
}

case_bad_super_crc() {
	mkfs_fs
	# s_label[0]: covered by s_crc, not otherwise checked
	flip_byte "$DEV" "$SB_LABEL_OFF"
	dmesg_mark
	expect_mount_fails "a superblock with a bad checksum"
	dmesg_expect "reflinkfs" "superblock checksum error reported"
	[ "$(fsck_rc)" != 0 ] || die "fsck -n found a bad superblock checksum clean"
	check_good_fs
}

case_truncated_device() {
	local half=$((BLOCKS / 2)) sectors tdev
	sectors=$((half * 8))
	mkfs_fs
	if command -v dmsetup >/dev/null && modprobe dm-mod 2>/dev/null; then
		dmsetup create "$DM_NAME" --noudevsync --table "0 $sectors linear $DEV 0" ||
			die "dmsetup create failed"
		dmsetup mknodes "$DM_NAME" 2>/dev/null || true
		tdev=/dev/mapper/$DM_NAME
	else
		modprobe loop 2>/dev/null || true
		tdev=$(losetup -f --show --sizelimit $((half * BLOCK_SIZE)) "$DEV") ||
			die "losetup failed"
		echo "$tdev" > "$WORK/loopdev"
	fi
	[ -b "$tdev" ] || die "$tdev did not appear"
	[ "$(blockdev --getsz "$tdev")" = "$sectors" ] || die "$tdev has the wrong size"
	dmesg_mark
	expect_mount_fails "a device half the filesystem's size" "$tdev"
	dmesg_expect "reflinkfs" "device too small reported"
	case_cleanup
	check_good_fs
}

# Byte offset of inode INO's record.
inode_off() {
	local itable
	itable=$(read_u64 "$DEV" "$SB_ITABLE_OFF")
	[ -n "$itable" ] && [ "$itable" -gt 0 ] || die "cannot read s_itable_start"
	echo $((itable * BLOCK_SIZE + $1 * INODE_SIZE))
}

case_corrupt_root_inode() {
	local off
	mkfs_fs
	off=$(inode_off 1)
	[ "$(read_u32 "$DEV" "$off")" = $((0x4e494c52)) ] || die "no inode magic at $off"
	flip_byte "$DEV" $((off + I_UID_OFF))
	dmesg_mark
	expect_mount_fails "a filesystem whose root inode is corrupted"
	dmesg_expect "reflinkfs" "root inode corruption reported"
	[ "$(fsck_rc)" = 4 ] || { show "$LOG"; die "fsck -n did not exit 4 on a corrupted root inode"; }
	check_good_fs
}

case_corrupt_dir_block() {
	local off entries depth pblk i
	mkfs_fs
	mount_fs
	mkdir "$MNT/sub"
	for i in $(seq 1 20); do echo "$i" > "$MNT/file$i"; done
	umount_fs
	fsck_clean

	off=$(inode_off 1)
	[ "$(read_u32 "$DEV" "$off")" = $((0x4e494c52)) ] || die "no inode magic at $off"
	entries=$(read_u16 "$DEV" $((off + I_DATA_OFF)))
	depth=$(read_u16 "$DEV" $((off + I_DATA_OFF + 4)))
	[ "$depth" = 0 ] && [ "$entries" -ge 1 ] ||
		die "root directory extent header: entries=$entries depth=$depth"
	# first extent: lblk u32, len u32, pblk u64
	[ "$(read_u32 "$DEV" $((off + I_DATA_OFF + 8)))" = 0 ] || die "first extent not at lblk 0"
	pblk=$(read_u64 "$DEV" $((off + I_DATA_OFF + 16)))
	msg "root directory block: $pblk"
	[ "$(read_u32 "$DEV" $((pblk * BLOCK_SIZE)))" = $((0x52444c52)) ] ||
		die "block $pblk is not a directory block"
	flip_byte "$DEV" $((pblk * BLOCK_SIZE + 100))

	dmesg_mark
	mount_fs
	if ls "$MNT" > "$LOG" 2>&1; then
		die "ls of a directory with a corrupted block succeeded"
	fi
	grep -q "Structure needs cleaning" "$LOG" || { show "$LOG"; die "ls did not fail with EUCLEAN"; }
	if stat "$MNT/file7" > "$LOG" 2>&1; then
		die "lookup in a corrupted directory block succeeded"
	fi
	grep -q "Structure needs cleaning" "$LOG" || { show "$LOG"; die "lookup did not fail with EUCLEAN"; }
	dmesg_expect "reflinkfs.*$pblk|$pblk.*reflinkfs" "the corrupted block $pblk named"
	umount_fs
	local rc
	rc=$(fsck_rc)
	[ "$rc" = 4 ] || { show "$LOG"; die "fsck -n exited $rc on a corrupted directory block (want 4)"; }
	check_good_fs
}

case_corrupt_file_inode() {
	local ino off rc
	mkfs_fs
	mount_fs
	echo victim > "$MNT/victim"
	echo fine > "$MNT/fine"
	ino=$(stat -c %i "$MNT/victim")
	umount_fs
	off=$(inode_off "$ino")
	[ "$(read_u32 "$DEV" "$off")" = $((0x4e494c52)) ] || die "no inode magic for inode $ino"
	flip_byte "$DEV" $((off + I_UID_OFF))
	dmesg_mark
	mount_fs
	if cat "$MNT/victim" > "$LOG" 2>&1; then
		die "reading a file with a corrupted inode succeeded"
	fi
	grep -q "Structure needs cleaning" "$LOG" || { show "$LOG"; die "no EUCLEAN for a corrupted inode"; }
	[ "$(cat "$MNT/fine")" = fine ] || die "an intact file next to it is unreadable"
	dmesg_expect "reflinkfs.*(inode )?$ino" "the corrupted inode $ino named"
	umount_fs
	rc=$(fsck_rc)
	[ "$rc" = 4 ] || { show "$LOG"; die "fsck -n exited $rc on a corrupted inode (want 4)"; }
	check_good_fs
}

case_bad_mount_options() {
	local opt
	mkfs_fs
	for opt in bogus_option errors=bogus commit=notanumber "barrier=maybe"; do
		dmesg_mark
		expect_mount_fails "with -o $opt" "$DEV" "$opt"
		dmesg_expect "reflinkfs|${opt%%=*}" "bad option '$opt' reported"
	done
	dmesg_mark
	expect_mount_fails "with -o bogus_option" "$DEV" bogus_option
	dmesg_expect "bogus_option" "the unknown option named"
	# valid options work
	mount_fs "$DEV" "errors=remount-ro,commit=5,nobarrier"
	echo ok > "$MNT/ok"
	umount_fs
	fsck_clean
	mount_fs "$DEV" "errors=continue,barrier"
	[ "$(cat "$MNT/ok")" = ok ] || die "data lost"
	umount_fs
	fsck_clean
	check_good_fs
}

require_vm
ktap_run case_zeroed_device case_ext4_device case_bad_magic case_bad_super_crc \
	case_truncated_device case_corrupt_root_inode case_corrupt_dir_block \
	case_corrupt_file_inode case_bad_mount_options
