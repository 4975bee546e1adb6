# SPDX-License-Identifier: GPL-2.0
#
# Helpers of the host-side userspace tests (test-format.sh, test-dump.sh):
# TAP "ok" lines, running a command with an expected exit status, matching
# its output, raw reads and byte flips of an image.  Source it after
# setting T (the scratch directory); ERR, when set, takes stderr apart
# from stdout, and TIMEOUT bounds every command (default 600 s).

UDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MKFS=$UDIR/mkfs.reflinkfs
FSCK=$UDIR/fsck.reflinkfs
TOOL=$UDIR/reflinkfs
TESTIMG=$UDIR/tests/rlfs-testimg
OUT=$T/out
PASS=0

# need PROG...: every program must be built
need() {
	local p
	for p in "$@"; do
		[ -x "$p" ] || { echo "missing $p: run make in $UDIR" >&2; exit 1; }
	done
}

fail() {
	echo "FAIL: $*" >&2
	[ -s "$OUT" ] && head -n 60 "$OUT" | sed 's/^/    | /' >&2
	[ -n "${ERR:-}" ] && [ -s "$ERR" ] && head -n 20 "$ERR" | sed 's/^/    ! /' >&2
	exit 1
}

ok() {
	PASS=$((PASS + 1))
	echo "ok $PASS - $*"
}

# run EXPECTED_RC CMD...: output in $OUT (stderr in $ERR if set)
run() {
	local want=$1 rc=0
	shift
	if [ -n "${ERR:-}" ]; then
		timeout "${TIMEOUT:-600}" "$@" >"$OUT" 2>"$ERR" || rc=$?
	else
		timeout "${TIMEOUT:-600}" "$@" >"$OUT" 2>&1 || rc=$?
	fi
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want"
}

# expect REGEX: $OUT must match
expect() {
	grep -Eq -- "$1" "$OUT" || fail "output does not match /$1/"
}

# le64 FILE OFFSET
le64() {
	od -An -tu8 -j "$2" -N 8 "$1" | tr -d ' '
}

# poke FILE OFFSET: flip one byte
poke() {
	local old new
	old=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	new=$(( (old ^ 0x5a) & 0xff ))
	# shellcheck disable=SC2059  # the format is the byte
	printf "$(printf '\\%03o' "$new")" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
