# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# lib.sh - helpers for the reflinkfs shell selftests.  Source it from a test
# that runs with "set -euo pipefail".
#
# A test defines one function per case and calls
#     ktap_run case_name ...
# which prints KTAP ("TAP version 13", "1..N", "ok N name" / "not ok N name"
# / "ok N name # SKIP reason") and exits 0 (all passed), 4 (all skipped) or
# 1 (something failed).  Each case runs in a subshell with errexit, so the
# first failing command fails the case (its line is printed) and the next
# case still runs; after each case the mount point is unmounted.
#
# Environment: RLFS_TOP, RLFS_DEV / RLFS_DEV2 (else RLFS_SCRATCH_DEVS, else
# /dev/vda /dev/vdb), RLFS_MKFS, RLFS_FSCK, RLFS_FSTYP, RLFS_MODULE.  The
# tests run only in the test VM (RLFS_VM=1) or with RLFS_ALLOW_HOST=1.

# shellcheck disable=SC2034  # variables used by the tests that source this
RLFS_SELFTEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RLFS_TOP=${RLFS_TOP:-$(cd "$RLFS_SELFTEST_DIR/.." && pwd)}

_tool() { # _tool ENVVALUE NAME
	if [ -n "$1" ]; then
		echo "$1"
	elif [ -x "$RLFS_TOP/userspace/$2" ]; then
		echo "$RLFS_TOP/userspace/$2"
	else
		echo "$2"
	fi
}
MKFS=$(_tool "${RLFS_MKFS:-}" mkfs.reflinkfs)
FSCK=$(_tool "${RLFS_FSCK:-}" fsck.reflinkfs)
TOOL=$(_tool "${RLFS_TOOL:-}" reflinkfs)
# The filesystem under test: reflinkfs (default), xfs or btrfs.  On xfs
# and btrfs only the cases a test lists in RLFS_PORTABLE_CASES run (those
# that use standard interfaces only); the others, and tests listing none,
# skip.  mkfs_fs, mount_fs and fsck_clean use that filesystem's tools.
FSTYP=${RLFS_FSTYP:-${RLFS_FSTYPE:-reflinkfs}}
FSTYPE=$FSTYP
RLFS_PORTABLE_CASES=	# set by the test after sourcing this (not from the environment)
BLOCKS=${RLFS_TEST_BLOCKS:-32768}	# 128 MiB filesystems

read -r -a _scratch <<< "${RLFS_SCRATCH_DEVS:-}"
DEV=${RLFS_DEV:-${_scratch[0]:-/dev/vda}}
DEV2=${RLFS_DEV2:-${_scratch[1]:-/dev/vdb}}

WORK=/tmp/rlfs-sh.$$
MNT=$WORK/mnt
LOG=$WORK/log

# ---- environment -------------------------------------------------------

# Exit 4 (skip) unless we are in the test VM with the tools at hand, and,
# on xfs/btrfs, unless the test has cases in RLFS_PORTABLE_CASES.
require_vm() {
	if [ "${RLFS_VM:-0}" != 1 ] && [ "${RLFS_ALLOW_HOST:-0}" != 1 ]; then
		echo "SKIP: not in the test VM (RLFS_VM unset): refusing to touch block devices"
		exit 4
	fi
	local t tools=("$MKFS" "$FSCK")
	case "$FSTYP" in
	reflinkfs) ;;
	xfs) tools=(mkfs.xfs xfs_repair) ;;
	btrfs) tools=(mkfs.btrfs btrfs) ;;
	*) echo "SKIP: RLFS_FSTYP=$FSTYP: want reflinkfs, xfs or btrfs"; exit 4 ;;
	esac
	if [ "$FSTYP" != reflinkfs ] && [ -z "$RLFS_PORTABLE_CASES" ]; then
		echo "SKIP: reflinkfs-only test (RLFS_FSTYP=$FSTYP)"
		exit 4
	fi
	for t in "${tools[@]}"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "SKIP: $t not found (build userspace/ first)"
			exit 4
		fi
	done
	if [ ! -b "$DEV" ]; then
		echo "SKIP: scratch device $DEV is not a block device"
		exit 4
	fi
	if ! grep -qw "$FSTYPE" /proc/filesystems; then
		echo "# $FSTYPE is not registered (module not loaded?)"
	fi
	mkdir -p "$MNT"
}

# ---- reporting ----------------------------------------------------------

msg() { echo "# [${SECONDS}s] $*"; }
die() { echo "# FAIL: $*"; exit 1; }
# skip REASON: end the current case as skipped.
skip() { echo "$*" > "$WORK/skip_reason"; exit 4; }

# Print a file as KTAP diagnostics.
show() { sed 's/^/#   /' "$@" || true; }

# ---- filesystem helpers -----------------------------------------------

# native_bytes BLOCKS: size of an xfs/btrfs test filesystem for BLOCKS
# 4 KiB blocks, at least RLFS_NATIVE_MIN_MIB (512) MiB: newer mkfs.xfs
# refuses less than 300 MiB, mkfs.btrfs less than ~114 MiB.
native_bytes() {
	local b=$(($1 * 4096)) min=$((${RLFS_NATIVE_MIN_MIB:-512} * 1048576))
	echo $((b > min ? b : min))
}

# mkfs_fs [DEV [BLOCKS]]
mkfs_fs() {
	local dev=${1:-$DEV} blocks=${2:-$BLOCKS} cmd
	case "$FSTYP" in
	xfs) cmd=(mkfs.xfs -f -m reflink=1 -b size=4096 -d size="$(native_bytes "$blocks")" "$dev") ;;
	btrfs) cmd=(mkfs.btrfs -f -b "$(native_bytes "$blocks")" "$dev") ;;
	*) cmd=("$MKFS" -f "$dev" "$blocks") ;;
	esac
	if ! "${cmd[@]}" > "$LOG" 2>&1; then
		show "$LOG"
		die "${cmd[*]} failed"
	fi
}

# mount_fs [DEV [OPTIONS]]
mount_fs() {
	local dev=${1:-$DEV} opts=${2:-}
	if ! mount -t "$FSTYPE" ${opts:+-o "$opts"} "$dev" "$MNT" > "$LOG" 2>&1; then
		show "$LOG"
		dmesg | tail -n 5 | show
		die "mount -t $FSTYPE ${opts:+-o $opts }$dev failed"
	fi
}

# require_ficlone: in the mount point, skip the case unless FICLONE works.
require_ficlone() {
	xfs_io -f -c "pwrite -q 0 4k" -c fsync .probe > /dev/null
	if ! xfs_io -f -c "reflink .probe" .probe2 > "$LOG" 2>&1 ||
	   grep -qi "not supported\|error" "$LOG"; then
		show "$LOG"
		rm -f .probe .probe2
		skip "FICLONE not supported by the module"
	fi
	rm -f .probe .probe2
}

# setup_fs [BLOCKS]: a new filesystem on $DEV, mounted, the mount point the
# current directory, FICLONE working.
setup_fs() {
	mkfs_fs "$DEV" "${1:-$BLOCKS}"
	mount_fs "$DEV"
	cd "$MNT"
	require_ficlone
}

# shared_blocks FILE: number of 4 KiB blocks FIEMAP reports shared.
shared_blocks() {
	local n=0 ext blk total flags
	while read -r ext _ blk total flags; do
		[[ $ext =~ ^[0-9]+:$ ]] || continue
		[ "$blk" != hole ] || continue
		if (( ${flags:-0} & 0x2000 )); then n=$((n + total)); fi
	done < <(xfs_io -r -c "fiemap -v" "$1")
	echo $((n / 8))
}

# try_mount [DEV [OPTIONS]]: returns mount's status, output in $LOG.
try_mount() {
	local dev=${1:-$DEV} opts=${2:-}
	mount -t "$FSTYPE" ${opts:+-o "$opts"} "$dev" "$MNT" > "$LOG" 2>&1
}

is_mounted() { mountpoint -q "$MNT"; }

umount_fs() {
	local i
	for i in $(seq 1 50); do
		umount "$MNT" 2>"$LOG" && return 0
		grep -q "busy" "$LOG" || break
		sleep 0.1
	done
	show "$LOG"
	die "umount $MNT failed"
}

# fsck_cmd: the read-only checker of the filesystem under test.
fsck_cmd() {
	case "$FSTYP" in
	xfs) echo "xfs_repair -n" ;;
	btrfs) echo "btrfs check --readonly" ;;
	*) echo "$FSCK -n" ;;
	esac
}

# fsck_rc [DEV]: prints fsck -n's exit status (output in $LOG).
fsck_rc() {
	local rc=0 cmd
	read -r -a cmd <<< "$(fsck_cmd)"
	"${cmd[@]}" "${1:-$DEV}" > "$LOG" 2>&1 || rc=$?
	echo "$rc"
}

# fsck_clean [DEV]: fail unless fsck -n reports a clean filesystem.
fsck_clean() {
	local rc
	rc=$(fsck_rc "${1:-$DEV}")
	if [ "$rc" != 0 ]; then
		show "$LOG"
		die "$(fsck_cmd) ${1:-$DEV} exited $rc (want 0: clean)"
	fi
}

# Free blocks of the mounted filesystem (after syncing it).
free_blocks() {
	sync -f "$MNT"
	stat -f -c %f "$MNT"
}

# manifest: the state of the tree under $MNT, one line per fact, so lines
# can be filtered by path: "S path <stat>", "L path -> target",
# "H path <sha256>", "X path name=value".  atime is left out (reading the
# files updates it).  Few processes: the VM is slow at starting them.
manifest() {
	(
		cd "$MNT"
		find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c \
			'S %n type=%F mode=%a uid=%u gid=%g size=%s nlink=%h ino=%i blocks=%b rdev=%t:%T mtime=%y ctime=%z'
		find . -type l -printf 'L %p -> %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum |
			awk '{ print "H " $2 " " $1 }'
		getfattr -R -h -d -m - -e hex . 2>/dev/null |
			awk '/^# file: / { f = substr($0, 9); next } /^$/ { next } { print "X " f " " $0 }' |
			LC_ALL=C sort
	)
}

# wfile FILE SIZE: write SIZE bytes that name the file (no process spawned).
wfile() {
	local s="$1:$2;"
	while [ "${#s}" -lt "$2" ]; do s=$s$s; done
	printf '%s' "${s:0:$2}" > "$1"
}

# ---- kernel log ---------------------------------------------------------

# dmesg_mark: write a marker into the kernel log; dmesg_since prints what
# was logged after it.
dmesg_mark() {
	DMESG_MARK="rlfs-selftest mark $$.$RANDOM.$SECONDS"
	echo "$DMESG_MARK" > /dev/kmsg
}
dmesg_since() {
	dmesg | awk -v m="$DMESG_MARK" 'found { print } index($0, m) { found = 1 }'
}
# dmesg_expect REGEX WHAT: fail unless a kernel message since the mark
# matches.
dmesg_expect() {
	if ! dmesg_since | grep -qiE "$1"; then
		msg "kernel log since the mark:"
		dmesg_since | tail -n 20 | show
		die "no kernel message matching '$1' ($2)"
	fi
}

# ---- raw device access (offsets from kernel/libreflinkfs/rlfs_format.h) ------------

SB_MAGIC_OFF=0		# __le32 s_magic
SB_LABEL_OFF=64		# char s_label[32] (s_uuid is 48..63)
SB_BLOCKS_OFF=96	# __le64 s_blocks
SB_ITABLE_OFF=176	# __le64 s_itable_start
SB_DATA_OFF=192		# __le64 s_data_start
INODE_SIZE=256
I_UID_OFF=24		# __le32 i_uid
I_DATA_OFF=152		# i_data: extent header, then extents
BLOCK_SIZE=4096

# read_u16/u32/u64 DEV OFFSET: little-endian integer at a byte offset.
read_u16() { od -An -t u2 -j "$2" -N 2 "$1" | tr -d ' \n'; }
read_u32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' \n'; }
read_u64() { od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' \n'; }

# flip_byte DEV OFFSET: invert one byte in place.
flip_byte() {
	local dev=$1 off=$2 v
	v=$(od -An -t u1 -j "$off" -N 1 "$dev" | tr -d ' \n')
	v=$((v ^ 0xff))
	printf "\\$(printf '%03o' "$v")" |
		dd of="$dev" bs=1 seek="$off" count=1 conv=notrunc,fsync status=none
	blockdev --flushbufs "$dev" 2>/dev/null || true
}

# ---- KTAP runner ------------------------------------------------------------

_ktap_n=0
_ktap_fail=0
_ktap_skip=0

# Unmount whatever a failed case left mounted.
_case_cleanup() {
	local i
	cd /
	for i in 1 2 3; do
		is_mounted || break
		umount "$MNT" 2>/dev/null || { sleep 0.5; umount -l "$MNT" 2>/dev/null || true; }
	done
	if declare -F case_cleanup >/dev/null; then
		case_cleanup || true
	fi
}

# Per-case watchdog: a case running longer than RLFS_CASE_TIMEOUT seconds
# is reported with the kernel's list of blocked tasks (sysrq w) and killed.
CASE_TIMEOUT=${RLFS_CASE_TIMEOUT:-240}

_watchdog() { # _watchdog PID NAME
	local pid=$1 name=$2 i
	for ((i = 0; i < CASE_TIMEOUT; i++)); do
		sleep 1
		kill -0 "$pid" 2>/dev/null || return 0
	done
	echo "# $name: TIMEOUT after ${CASE_TIMEOUT}s; blocked tasks:"
	echo w > /proc/sysrq-trigger 2>/dev/null || true
	sleep 1
	dmesg | tail -n 80 | sed 's/^/#   /'
	echo timeout > "$WORK/timed_out"
	pkill -KILL -P "$pid" 2>/dev/null || true
	kill -KILL "$pid" 2>/dev/null || true
}

_run_case() {
	local name=$1 rc start wd pid
	_ktap_n=$((_ktap_n + 1))
	rm -f "$WORK/skip_reason" "$WORK/timed_out"
	echo "#  RUN  $name ..."
	if [ "$FSTYP" != reflinkfs ] && [[ " $RLFS_PORTABLE_CASES " != *" $name "* ]]; then
		_ktap_skip=$((_ktap_skip + 1))
		echo "ok $_ktap_n $name # SKIP reflinkfs only (RLFS_FSTYP=$FSTYP)"
		return 0
	fi
	start=$SECONDS
	set +e
	(
		set -eE
		trap 'echo "# $name: line $LINENO: command failed (status $?): $BASH_COMMAND"' ERR
		"$name"
	) &
	pid=$!
	_watchdog "$pid" "$name" &
	wd=$!
	wait "$pid"
	rc=$?
	kill "$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	set -e
	_case_cleanup
	echo "# $name: $((SECONDS - start))s"
	if [ -e "$WORK/timed_out" ]; then
		_ktap_fail=$((_ktap_fail + 1))
		echo "not ok $_ktap_n $name # TIMEOUT"
	elif [ "$rc" = 0 ]; then
		echo "ok $_ktap_n $name"
	elif [ "$rc" = 4 ]; then
		_ktap_skip=$((_ktap_skip + 1))
		echo "ok $_ktap_n $name # SKIP $(cat "$WORK/skip_reason" 2>/dev/null || echo skipped)"
	else
		_ktap_fail=$((_ktap_fail + 1))
		echo "not ok $_ktap_n $name"
	fi
}

# ktap_run CASE...: run the cases, print KTAP, exit with the summary status.
ktap_run() {
	echo "TAP version 13"
	echo "1..$#"
	local c
	for c in "$@"; do
		_run_case "$c"
	done
	echo "# $(basename "$0"): $((_ktap_n - _ktap_fail - _ktap_skip)) passed, $_ktap_fail failed, $_ktap_skip skipped"
	if [ "$_ktap_fail" -gt 0 ]; then
		exit 1
	elif [ "$_ktap_skip" = "$_ktap_n" ]; then
		exit 4
	fi
	exit 0
}

# Common cleanup for the EXIT trap.
lib_cleanup() {
	cd /
	if mountpoint -q "$MNT" 2>/dev/null; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}

# ---- dm-flakey power cuts, as xfstests' crash tests -----------------------
# The test sets FLAKEY (the dm name); these set SECTORS and FDEV (the node).
# flakey_load drop makes every write vanish silently; crash_and_recover
# unmounts, lets writes through again and mounts, which replays the journal.

dm() { timeout 60 dmsetup --noudevsync "$@"; }

flakey_remove() {
	if dmsetup info "$FLAKEY" >/dev/null 2>&1; then
		local i
		for i in 1 2 3 4 5; do
			dm remove "$FLAKEY" >/dev/null 2>&1 && break
			sleep 0.5
		done
	fi
	rm -f "$WORK/flakey"
}

flakey_create() {
	local maj min
	command -v dmsetup >/dev/null || skip "dmsetup not installed"
	modprobe dm-flakey 2>/dev/null || skip "dm-flakey not available"
	[ -b "$DEV2" ] || skip "second scratch device $DEV2 missing"
	SECTORS=$(blockdev --getsz "$DEV2")
	if dmsetup info "$FLAKEY" >/dev/null 2>&1; then
		flakey_load up
	else
		dm create "$FLAKEY" --table "0 $SECTORS flakey $DEV2 0 180 0" ||
			die "dmsetup create $FLAKEY failed"
		dm mknodes "$FLAKEY" >/dev/null 2>&1 || true
	fi
	if [ -b "/dev/mapper/$FLAKEY" ]; then
		FDEV=/dev/mapper/$FLAKEY
	else
		read -r maj min < <(dmsetup info -c --noheadings -o major,minor --separator ' ' "$FLAKEY")
		rm -f "$WORK/flakey"
		mknod "$WORK/flakey" b "$maj" "$min"
		FDEV=$WORK/flakey
	fi
}

flakey_load() {
	local table
	case "$1" in
	up) table="0 $SECTORS flakey $DEV2 0 180 0" ;;
	drop) table="0 $SECTORS flakey $DEV2 0 0 180 1 drop_writes" ;;
	esac
	dm suspend --nolockfs "$FLAKEY" || die "dmsetup suspend failed"
	dm load "$FLAKEY" --table "$table" || die "dmsetup load failed"
	dm resume "$FLAKEY" || die "dmsetup resume failed"
	msg "dm-flakey: $1"
}

crash_and_recover() {
	umount_fs
	blockdev --flushbufs "$FDEV" 2>/dev/null || true
	flakey_load up
	blockdev --flushbufs "$FDEV" 2>/dev/null || true
	mount_fs "$FDEV"
}

mkdir -p "$WORK"

# ---- the reflinkfs tool ------------------------------------------------

rt() { "$TOOL" "$@"; }

# expect RC REGEX COMMAND...: COMMAND exits with RC and its stderr matches
# the extended REGEX (empty: anything).  Its stdout is left in $WORK/out.
expect() {
	local want=$1 re=$2 rc=0
	shift 2
	"$@" > "$WORK/out" 2> "$WORK/err" || rc=$?
	if [ "$rc" != "$want" ]; then
		show "$WORK/out" "$WORK/err"
		die "'$*' exited $rc, want $want"
	fi
	if [ -n "$re" ] && ! grep -qE -- "$re" "$WORK/err"; then
		show "$WORK/err"
		die "'$*': stderr does not match '$re'"
	fi
}

# json_ok FILE EXPR...: FILE parses as JSON (d), has "version": 1, and
# every Python expression is true.  One interpreter for all of them: it
# is slow to start in the VM.
json_ok() {
	python3 - "$@" <<'EOF' || die "JSON check of $1 failed"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1, "version"
for e in sys.argv[2:]:
    if not eval(e):
        print("# false: " + e)
        for l in json.dumps(d, indent=1).splitlines()[:80]:
            print("#   " + l)
        sys.exit(1)
EOF
}
