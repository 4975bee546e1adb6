#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side tests of fsck.reflinkfs -y and -p (repair) on the images
# rlfs-testimg makes, TAP output as test-format.sh.  Run from anywhere
# after `make` in userspace/ (or via `make check`).  Exits non-zero on the
# first failure.
#
#   (a) every repairable scenario: fsck -n finds it (exit 4; 0 for the
#       free-count hints), fsck -y repairs it (exit 1), a second fsck -n is
#       clean (exit 0), a second -y writes nothing, and the data of every
#       regular file the scenario did not damage is byte-identical (its
#       blocks filled with known data before, read back through the
#       repaired extent maps with `reflinkfs dump --json extents`)
#   (b) the same with -p: repaired too, but for the refcount tree, which
#       -p leaves (exit 4, "needs -y")
#   (c) interrupted repairs: fsck -y stopped before its 1st, 2nd, ...
#       write (RLFS_FSCK_STOP_AFTER), then fsck -y again: clean, data
#       intact
#   (d) every other scenario: fsck -y leaves errors (exit 4, "left
#       uncorrected"), a second fsck -n still exits 4, no crash
#   (e) -n never writes: the image is unchanged
set -euo pipefail

T=$(mktemp -d "${TMPDIR:-/tmp}/rlfs-repair.XXXXXX")
trap 'rm -rf "$T"' EXIT
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need "$MKFS" "$FSCK" "$TOOL" "$TESTIMG"
if ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP python3 not found (needed to read --json)"
	exit 0
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=98:print_stacktrace=1

# Regular files of the rlfs-testimg tree: /file, /big, the removed file
# on the orphan list, /trunc.
FILES="2 3 10 11"

# Repairable scenarios, and the files each damages (their data is not
# compared): dup points an extent of /big at a block of /file.
REPAIRABLE="dir-type dir-dup dir-ghost dir-freerec root-ref parent nlink
nlink-high dir-nlink nlink0 orphan-loop orphan-free orphan-missing iblocks
bbitmap-free bbitmap-used bbitmap-crc ibitmap ibitmap-free rc-count
rc-missing rc-extra rc-free rc-unsorted rc-bitmap rc-key rc-depth dup
sb-free"
declare -A DAMAGED=([dup]=3)
# Those only -y repairs (the refcount tree is rebuilt).
RCTREE="rc-count rc-missing rc-extra rc-free rc-unsorted rc-key rc-depth
dup"

cat >"$T/data.py" <<'PYEOF'
import hashlib, json, subprocess, sys
BS = 4096

def extents(tool, img, ino):
    out = subprocess.run([tool, 'dump', '--json', img, 'extents', str(ino)],
                         stdout=subprocess.PIPE, check=False).stdout
    return json.loads(out)['extent_tree']['extents']

def pattern(p):
    return hashlib.sha256(b'block %d' % p).digest() * (BS // 32)

cmd, tool, img = sys.argv[1:4]
inos = [int(x) for x in sys.argv[4:]] if cmd != "fillfrom" else []
if cmd == 'fill':
    # fill: the blocks the files map in this (clean) image, listed
    with open(img, 'r+b') as f:
        for ino in inos:
            for e in extents(tool, img, ino):
                for p in range(e['pblk'], e['pblk'] + e['len']):
                    f.seek(p * BS)
                    f.write(pattern(p))
elif cmd == 'fillfrom':
    # fillfrom IMG LIST: write the patterns at the blocks of LIST
    with open(img, 'r+b') as f:
        for line in open(sys.argv[4]):
            p = int(line)
            f.seek(p * BS)
            f.write(pattern(p))
elif cmd == 'blocks':
    for ino in inos:
        for e in extents(tool, img, ino):
            for p in range(e['pblk'], e['pblk'] + e['len']):
                print(p)
elif cmd == 'hash':
    # hash: one line per file, the sha256 of its blocks by logical order
    with open(img, 'rb') as f:
        for ino in inos:
            h = hashlib.sha256()
            # block by block: dump splits extents where refcounts change
            blocks = {}
            for e in extents(tool, img, ino):
                for i in range(e['len']):
                    blocks[e['lblk'] + i] = e['pblk'] + i
            for l in sorted(blocks):
                f.seek(blocks[l] * BS)
                h.update(b'%d:' % l)
                h.update(f.read(BS))
            print(ino, h.hexdigest())
PYEOF
data() { python3 "$T/data.py" "$1" "$TOOL" "${@:2}"; }

P=$T/p.img
truncate -s 64M "$T/fresh.img"
run 0 "$MKFS" -f "$T/fresh.img"
cp --sparse=always "$T/fresh.img" "$T/clean.img"
run 0 "$TESTIMG" "$T/clean.img" clean
# shellcheck disable=SC2086
data blocks "$T/clean.img" $FILES >"$T/blocks" || fail "listing the data blocks"
# shellcheck disable=SC2086
data fill "$T/clean.img" $FILES || fail "filling the data blocks"
# shellcheck disable=SC2086
data hash "$T/clean.img" $FILES >"$T/want" || fail "hashing the files"
[ "$(sort -u "$T/blocks" | wc -l)" -ge 15 ] || fail "too few data blocks"
run 0 "$FSCK" -n "$T/clean.img"
ok "reference image: $(wc -l <"$T/blocks") data blocks of files $FILES filled"

# make SCENARIO: $P is the scenario's image, the files' blocks filled
make_img() {
	cp --sparse=always "$T/fresh.img" "$P"
	run 0 "$TESTIMG" "$P" "$1"
	data fillfrom "$P" "$T/blocks" || fail "filling $1"
}

# intact SCENARIO: the files it does not damage hash as in the reference
intact() {
	local ino want got
	# shellcheck disable=SC2086
	data hash "$P" $FILES >"$T/got" || fail "$1: hashing the files"
	while read -r ino want; do
		[[ " ${DAMAGED[$1]:-} " == *" $ino "* ]] && continue
		got=$(awk -v i="$ino" '$1 == i { print $2 }' "$T/got")
		[ "$got" = "$want" ] || fail "$1: data of inode $ino changed"
	done <"$T/want"
}

# is_in WORD LIST: LIST (words over lines) holds WORD
is_in() { local l=" ${2//$'\n'/ } "; [[ $l == *" $1 "* ]]; }

# --- (e) -n never writes; -y on a clean image writes nothing -----------
make_img rc-count
cp --sparse=always "$P" "$T/before.img"
run 4 "$FSCK" -n "$P"
cmp -s "$P" "$T/before.img" || fail "fsck -n modified the image"
cp --sparse=always "$T/clean.img" "$P"
run 0 "$FSCK" -y "$P"
cmp -s "$P" "$T/clean.img" || fail "fsck -y modified a clean image"
run 0 "$FSCK" -p "$P"
cmp -s "$P" "$T/clean.img" || fail "fsck -p modified a clean image"
ok "fsck -n never writes; -y and -p write nothing on a clean image"

# --- (a) -y on every repairable scenario --------------------------------
for sc in $REPAIRABLE; do
	make_img "$sc"
	if [ "$sc" = sb-free ]; then
		run 0 "$FSCK" -n "$P"	# the counts are hints
	else
		run 4 "$FSCK" -n "$P"
	fi
	run 1 "$FSCK" -y "$P"
	expect "^fixing: "
	expect "^reflinkfs .*: repaired, clean, "
	grep -q "^not fixing" "$OUT" && fail "$sc: -y left something"
	cp "$OUT" "$T/repair.out"
	run 0 "$FSCK" -n -v "$P"
	expect "^reflinkfs .*: clean, "
	! grep -q "hint" "$OUT" || fail "$sc: the free counts are still off"
	cp --sparse=always "$P" "$T/before.img"
	run 0 "$FSCK" -y "$P"
	cmp -s "$P" "$T/before.img" || fail "$sc: a second fsck -y wrote"
	intact "$sc"
	ok "fsck -y repairs $sc ($(grep -c '^fixing: ' "$T/repair.out") fixes), data intact"
done

# --- (b) -p ---------------------------------------------------------------
for sc in $REPAIRABLE; do
	make_img "$sc"
	if is_in "$sc" "$RCTREE"; then
		run 4 "$FSCK" -p "$P"
		expect "^not fixing: refcount tree: a rebuild needs -y$"
		run 1 "$FSCK" -y "$P"
		run 0 "$FSCK" -n "$P"
		intact "$sc"
		ok "fsck -p leaves the refcount tree of $sc to -y"
		continue
	fi
	run 1 "$FSCK" -p "$P"
	run 0 "$FSCK" -n "$P"
	intact "$sc"
	ok "fsck -p repairs $sc"
done

# --- (c) interrupted repairs ----------------------------------------------
for sc in rc-count rc-missing rc-depth dir-dup bbitmap-crc orphan-missing \
	  dir-freerec; do
	n=0
	while :; do
		make_img "$sc"
		rc=0
		RLFS_FSCK_STOP_AFTER=$n "$FSCK" -y "$P" >"$OUT" 2>&1 || rc=$?
		[ "$rc" = 1 ] && break		# it had fewer writes
		[ "$rc" = 8 ] || fail "$sc: fsck -y stopped after $n writes exited $rc"
		rc=0
		"$FSCK" -y "$P" >"$OUT" 2>&1 || rc=$?
		[ "$rc" = 0 ] || [ "$rc" = 1 ] ||
			fail "$sc: fsck -y after one stopped after $n writes exited $rc"
		run 0 "$FSCK" -n "$P"
		intact "$sc"
		n=$((n + 1))
		[ "$n" -le 40 ] || fail "$sc: more than 40 writes"
	done
	ok "fsck -y of $sc stopped before each of its $n writes: the next run repairs it"
done

# --- (d) the rest: reported, left ---------------------------------------
for sc in $("$TESTIMG" -l); do
	[ "$sc" = clean ] && continue
	is_in "$sc" "$REPAIRABLE" && continue
	make_img "$sc"
	run 4 "$FSCK" -y "$P"
	expect "error.* left uncorrected$"
	run 4 "$FSCK" -n "$P"
	ok "fsck -y leaves $sc (exit 4)"
done

echo "all $PASS tests passed"
