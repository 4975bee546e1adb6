#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_persist.sh - everything a user stored survives unmount, a module
# reload (rmmod + insmod) and a read-only mount: file contents, sizes,
# modes, owners, link counts, timestamps (ns), symlink targets, device
# numbers, xattrs and allocated blocks are compared with a manifest taken
# before; fsck -n must find the filesystem clean.
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

cleanup() {
	lib_cleanup
	# Leave the module loaded for the tests that follow.
	if [ -n "${RLFS_MODULE:-}" ] && ! grep -qw "$FSTYPE" /proc/filesystems; then
		insmod "$RLFS_MODULE" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# Populate the mounted filesystem with one of everything.
populate() {
	cd "$MNT"
	mkdir -p a/b/c empty
	: > zero
	head -c 1 /dev/urandom > one
	head -c 4095 /dev/urandom > a/4095
	head -c 4096 /dev/urandom > a/4096
	head -c 4097 /dev/urandom > a/b/4097
	head -c $((1024 * 1024 + 123)) /dev/urandom > a/b/c/1m
	# sparse: data at 0 and 10 MiB
	head -c 5000 /dev/urandom > sparse
	head -c 4096 /dev/urandom | dd of=sparse bs=1M seek=10 conv=notrunc status=none
	xfs_io -f -c "falloc 0 1m" -c "pwrite -q -S 0x5a 4096 8192" prealloc
	xfs_io -f -c "falloc -k 0 256k" -c "pwrite -q -S 0x33 0 100" prealloc_keep
	ln a/4096 a/b/hardlink
	ln a/4096 hardlink2
	ln -s one fastlink
	ln -s "$(printf 'x%.0s' {1..300})/target" slowlink
	ln -s a/b/c dirlink
	mkfifo fifo
	mknod chr c 1 3
	mknod blk b 8 17
	chmod 0600 one
	chmod 04755 a/b/4097
	chmod 01777 a/b
	chown 1000:1000 a/4095
	chown 65534:100 a/b/c
	chown -h 7:8 fastlink
	setfattr -n user.color -v blue one
	setfattr -n user.bin -v 0x00ff00ff00 a/4096
	setfattr -n trusted.secret -v hidden a/b
	setfattr -n user.big -v "$(printf 'v%.0s' {1..1500})" a/b/c/1m
	touch -h -d '2001-02-03 04:05:06.123456789' fastlink
	touch -d '1999-12-31 23:59:59.999999999' a/4095
	touch -d '2100-01-01 00:00:00.000000001' zero
	touch -d '1960-06-15 12:00:00.5' one
	touch -d '2010-10-10 10:10:10.101010101' a/b/c
	cd /
}

compare_manifest() { # compare_manifest OLD NEW WHEN
	if ! diff -u "$1" "$2" > "$WORK/diff"; then
		show "$WORK/diff"
		die "the filesystem changed across $3"
	fi
}

case_persist_umount_mount() {
	mkfs_fs
	mount_fs
	populate
	manifest > "$WORK/m0"
	umount_fs
	fsck_clean
	mount_fs
	manifest > "$WORK/m1"
	compare_manifest "$WORK/m0" "$WORK/m1" "unmount/mount"
	umount_fs
	fsck_clean
}

case_persist_module_reload() {
	[ -n "${RLFS_MODULE:-}" ] && [ -r "${RLFS_MODULE:-}" ] ||
		skip "RLFS_MODULE not set: cannot reload the module"
	mkfs_fs
	mount_fs
	populate
	manifest > "$WORK/m0"
	umount_fs
	rmmod reflinkfs || die "rmmod reflinkfs failed (module still in use?)"
	if grep -qw reflinkfs /proc/filesystems; then
		die "reflinkfs still registered after rmmod"
	fi
	insmod "$RLFS_MODULE" || die "insmod $RLFS_MODULE failed"
	mount_fs
	manifest > "$WORK/m1"
	compare_manifest "$WORK/m0" "$WORK/m1" "rmmod/insmod"
	# Still writable after the reload.
	echo appended >> "$MNT/one"
	mkdir "$MNT/after_reload"
	umount_fs
	fsck_clean
	mount_fs
	[ "$(tail -c 9 "$MNT/one")" = appended ] || die "append after reload lost"
	[ -d "$MNT/after_reload" ] || die "mkdir after reload lost"
	umount_fs
	fsck_clean
}

case_persist_readonly() {
	mkfs_fs
	mount_fs
	populate
	manifest > "$WORK/m0"
	umount_fs
	mount_fs "$DEV" ro
	manifest > "$WORK/m1"
	compare_manifest "$WORK/m0" "$WORK/m1" "a read-only mount"
	if touch "$MNT/newfile" 2>"$LOG"; then
		die "creating a file on a read-only mount succeeded"
	fi
	grep -qi "read-only" "$LOG" || { show "$LOG"; die "expected EROFS"; }
	# ro -> rw -> ro
	mount -o remount,rw "$MNT" || die "remount,rw failed"
	echo rw > "$MNT/newfile"
	sync
	mount -o remount,ro "$MNT" || die "remount,ro failed"
	if (echo x > "$MNT/newfile2") 2>/dev/null; then
		die "write after remount,ro succeeded"
	fi
	umount_fs
	fsck_clean
	mount_fs
	[ "$(cat "$MNT/newfile")" = rw ] || die "file written while remounted rw lost"
	manifest > "$WORK/m2"
	# newfile and the root directory's times changed: compare the rest
	grep -v -e ' \./newfile' -e '^S \. ' "$WORK/m0" > "$WORK/m0.f" || true
	grep -v -e ' \./newfile' -e '^S \. ' "$WORK/m2" > "$WORK/m2.f" || true
	grep -q ' \./newfile' "$WORK/m2" || die "newfile missing from the manifest"
	compare_manifest "$WORK/m0.f" "$WORK/m2.f" "ro/rw remounts"
	umount_fs
	fsck_clean
}

# Plain POSIX: these run on xfs and btrfs too (RLFS_FSTYP); the module
# reload is reflinkfs only.
RLFS_PORTABLE_CASES="case_persist_umount_mount case_persist_readonly"
require_vm
ktap_run case_persist_umount_mount case_persist_module_reload case_persist_readonly
