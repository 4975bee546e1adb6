#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side tests of `reflinkfs dump` on image files (no kernel module, no
# root needed), TAP output as test-format.sh.  Run from anywhere after
# `make` in userspace/ (or via `make check`).  Exits non-zero on the first
# failure.
#
#   (a) every superblock field, against what mkfs was given and against
#       an independent decode of the raw bytes (tests/dump-img.py sb);
#       usage and I/O errors exit 2
#   (b) images of known shape (tests/dump-img.py build, and rlfs-testimg):
#       exactly the expected extents, split by refcount, and records
#   (c) every corruption test-format.sh plants, and dump-img.py's own:
#       the failed verdict names the block, entry or offset and reason,
#       and dump exits 1
#   (d) fuzz smoke: DUMP_FUZZ_IMAGES (default 300) randomly mutated
#       images (fixed seeds), every view exits 0, 1 or 2 in time, with no
#       sanitizer report
#
# Sanitizer builds (make check SANITIZE=1) report with exit codes 98/99,
# never mistaken for dump's own 1.
set -euo pipefail

T=$(mktemp -d "${TMPDIR:-/tmp}/rlfs-dump.XXXXXX")
trap 'rm -rf "$T"' EXIT
ERR=$T/err
TIMEOUT=${DUMP_TIMEOUT:-60}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
GEN=$UDIR/tests/dump-img.py
need "$MKFS" "$FSCK" "$TOOL" "$TESTIMG"
if ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP python3 not found (needed to read --json)"
	exit 0
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=98:print_stacktrace=1
FUZZ_IMAGES=${DUMP_FUZZ_IMAGES:-300}

# dump EXPECTED_RC ARGS...: reflinkfs dump --json ARGS, JSON in $OUT
dump() {
	local want=$1
	shift
	run "$want" "$TOOL" dump --json "$@"
}

# jtrue EXPR...: every Python expression is true of d, the JSON in $OUT
# (failures(what, block, at, reason) finds a failure: at is the entry or
# offset, None to ignore it; reason is a prefix)
jtrue() {
	python3 - "$OUT" "$@" <<'EOF' || fail "JSON check"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1, "version"
assert d["failed"] == len(d["failures"]), "failed count"
assert d["ok"] == (not d["failures"]), "ok"
def failures(what, block, at, reason):
    return [f for f in d["failures"]
            if f["what"] == what and f["block"] == block and
            (at is None or f.get("entry", f.get("offset")) == at) and
            f["reason"].startswith(reason)]
for e in sys.argv[2:]:
    if not eval(e):
        print("false: " + e, file=sys.stderr)
        print(json.dumps(d.get("failures"), indent=1)[:3000],
              file=sys.stderr)
        sys.exit(1)
EOF
}

# jget EXPR: print a Python expression of d, the JSON in $OUT
jget() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$OUT" "$1"
}

IMG=$T/x.img

# --- (a) the superblock ----------------------------------------------
run 0 "$MKFS" -f -L dumptest -N 1000 -J 1100 "$IMG" 5000
UUID=$(sed -n 's/.*UUID[: ]*\([0-9a-f-]\{36\}\).*/\1/p' "$OUT" | head -n 1)
[ -n "$UUID" ] || fail "mkfs printed no UUID"
sha0=$(sha256sum <"$IMG")
dump 0 "$IMG"
jtrue 'd["view"] == "sb"' 'd["device_blocks"] == 5000' \
	'd["superblock"]["s_label"] == "dumptest"' \
	'd["superblock"]["s_inodes"] == 1008' \
	'd["superblock"]["s_journal_blocks"] == 1100' \
	'd["superblock"]["s_blocks"] == 5000' \
	'd["superblock"]["s_block_size"] == 4096' \
	'd["superblock"]["s_root_ino"] == 1' \
	"d['superblock']['s_uuid'] == '$UUID'" \
	'd["superblock"]["s_feature_incompat_names"] == ["refcount"]' \
	'd["superblock"]["s_feature_ro_compat_names"] == ["snapshot"]' \
	'd["superblock"]["s_feature_compat_names"] == []' \
	'd["superblock"]["s_state_names"] == ["clean"]' \
	'd["superblock"]["verdict"] == {"ok": True}' 'd["ok"]'
ok "dump sb: what mkfs was given (-L, -N rounded, -J, size, UUID)"

cp "$OUT" "$T/sb.json"
python3 "$GEN" sb "$IMG" >"$T/raw.json"
python3 - "$T/sb.json" "$T/raw.json" <<'EOF' || fail "superblock fields differ from the raw bytes"
import json, sys
sb = json.load(open(sys.argv[1]))["superblock"]
raw = json.load(open(sys.argv[2]))
missing = [k for k in raw if k not in sb]
assert not missing, "not dumped: %s" % missing
diff = [(k, sb[k], raw[k]) for k in raw if sb[k] != raw[k]]
assert not diff, "differ: %s" % diff
extra = [k for k in sb if k.startswith("s_") and k not in raw and
         not k.endswith("_names")]
assert not extra, "dumped but not in struct rlfs_super: %s" % extra
EOF
ok "dump sb: every field equals an independent decode of block 0 ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/raw.json") fields)"

run 0 "$TOOL" dump "$IMG"
for k in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))))' "$T/raw.json"); do
	grep -q "^  $k: " "$OUT" || fail "text sb has no '$k:' line"
done
expect "^  s_label: dumptest$"
expect "^  s_feature_incompat: 0x1 \\(refcount\\)$"
expect "^  s_inodes: 1008$"
expect "^  verdict: ok$"
expect "^ok: true$"
ok "dump sb (text): the same fields, one per line"

# the view sb is the default; --json may come anywhere
run 0 "$TOOL" dump "$IMG" sb --json
cmp -s "$OUT" "$T/sb.json" || fail "'dump IMG sb --json' differs from 'dump --json IMG'"
ok "dump defaults to sb; options after the operands"

# --- usage and I/O errors: exit 2 --------------------------------------
truncate -s 1M "$T/zero.img"
: >"$T/empty.img"
run 2 "$TOOL" dump
run 2 "$TOOL" dump "$IMG" nosuchview
grep -q "unknown view 'nosuchview'" "$ERR" || fail "no message for a bad view"
run 2 "$TOOL" dump "$IMG" inode
run 2 "$TOOL" dump "$IMG" inode 12x
run 2 "$TOOL" dump "$IMG" sb 1
run 2 "$TOOL" dump "$IMG" inode 1008
grep -q "inode 1008 out of range" "$ERR" || fail "no message for inode 1008"
run 2 "$TOOL" dump "$IMG" block 5000
grep -q "block 5000 beyond the end" "$ERR" || fail "no message for block 5000"
run 2 "$TOOL" dump "$IMG" tree 99999999999
run 2 "$TOOL" dump "$T/does-not-exist"
grep -q "No such file or directory" "$ERR" || fail "no errno text"
run 2 "$TOOL" dump "$T"
run 2 "$TOOL" dump "$T/empty.img"
grep -q "smaller than one block" "$ERR" || fail "no message for an empty file"
run 0 "$TOOL" dump --help
expect "extents N"
ok "usage and I/O errors exit 2 with a message"

dump 1 "$T/zero.img"
jtrue 'failures("superblock", 0, None, "not a reflinkfs filesystem (bad magic)")' \
	'd["superblock"]["s_magic"] == 0'
dump 1 "$T/zero.img" extents 1
jtrue 'd["superblock"]["geometry_usable"] is False' \
	'failures("inode", 0, None, "cannot locate the inode")'
ok "a zeroed image: bad magic, exit 1"

# --- (b) images of known shape -----------------------------------------
G=$T/g.img
run 0 "$MKFS" -f -N 64 -J 1024 "$G" 2048
cp --sparse=always "$G" "$T/gfresh.img"
run 0 python3 "$GEN" build "$G"
cp "$OUT" "$T/man.json"
run 0 "$FSCK" -n "$G"
expect "clean, 5/64 inodes, [0-9]+/2048 blocks"
USED=$(sed -n 's/.*inodes, \([0-9]*\)\/2048 blocks.*/\1/p' "$OUT")
ok "dump-img.py builds an image fsck finds clean"

mj() { python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/man.json" "$1"; }
for ino in 2 3 4; do
	dump 0 "$G" extents $ino
	want=$(mj "m['extents']['$ino']")
	nodes=$(mj "m['nodes']['$ino']")
	jtrue "[[e['lblk'], e['pblk'], e['len'], e['refcount']] for e in d['extent_tree']['extents']] == $want" \
		"[n['block'] for n in d['extent_tree']['nodes']] == $nodes" \
		"all(n['verdict'] == {'ok': True} for n in d['extent_tree']['nodes'])" \
		'd["inode"]["verdict"]["ok"]'
done
ok "dump extents: exactly the expected extents, split where the refcount changes, and nodes"

run 0 "$TOOL" dump "$G" extents 2
P1=$(mj "m['blocks']['p1']")
EB1=$(mj "m['blocks']['eb1']")
expect "^    - lblk=2 pblk=$((P1 + 2)) len=2 refcount=2 node=$EB1 entry=0$"
expect "^    - lblk=4 pblk=$((P1 + 4)) len=2 refcount=3 node=$EB1 entry=0$"
expect "^    - block: $EB1$"
ok "dump extents (text): one line per split extent"

dump 0 "$G" refcount
want=$(mj "m['refcount']")
jtrue "[[r['start'], r['len'], r['refcount']] for r in d['refcount_tree']['records']] == $want" \
	"[n['block'] for n in d['refcount_tree']['nodes']] == [m for m in $(mj "[m['blocks'][k] for k in ('rc0', 'rl1', 'rl2')]")]" \
	'd["refcount_tree"]["node_count"] == 3' \
	"d['refcount_tree']['shared_blocks'] == sum(r[1] for r in $want)"
ok "dump refcount: exactly the expected records in key order"

# every field of each inode, against an independent decode of its 256 bytes
same_inode() { # same_inode IMAGE INO: $OUT holds dump --json IMAGE inode INO
	python3 "$GEN" inode "$1" "$2" >"$T/rawi.json"
	python3 - "$OUT" "$T/rawi.json" <<'EOF' || fail "inode $2: fields differ from the raw bytes"
import json, sys
ri = json.load(open(sys.argv[1]))["inode"]
raw = json.load(open(sys.argv[2]))
diff = [(k, ri.get(k), raw[k]) for k in raw if ri.get(k) != raw[k]]
assert not diff, "differ: %s" % diff
extra = [k for k in ri if k.startswith("i_") and k not in raw and
         not k.endswith("_names")]
assert not extra, "dumped but not in struct rlfs_inode: %s" % extra
EOF
}
for ino in 0 1 2 3 4 5; do
	dump 0 "$G" inode "$ino"
	same_inode "$G" "$ino"
done
dump 0 "$G" inode 2
jtrue 'd["inode"]["type"] == "regular file"' 'd["inode"]["i_size"] == 201 * 4096' \
	'd["inode"]["i_blocks"] == 21' 'd["inode"]["i_mode"] == 0o100644' \
	"[[e['lblk'], e['pblk'], e['len'], e['refcount']] for e in d['extent_tree']['extents']] == $(mj "m['extents']['2']")"
ok "dump inode: every field equals an independent decode; its extent tree"

dump 0 "$G" freemap
jtrue "d['freemap']['used_blocks'] == $USED" 'd["freemap"]["used_inodes"] == 5' \
	'd["freemap"]["free_blocks"] == d["freemap"]["s_free_blocks"]' \
	'd["freemap"]["free_blocks_match_hint"]' 'd["freemap"]["free_inodes_match_hint"]' \
	'd["freemap"]["free_blocks"] + d["freemap"]["used_blocks"] == 2048' \
	'd["freemap"]["free_runs"] == 1' \
	"d['freemap']['largest_free_run_start'] == $(mj "m['blocks']['rl2']") + 1" \
	"d['freemap']['largest_free_run'] == 2047 - $(mj "m['blocks']['rl2']") - 1"
ok "dump freemap: counts as fsck's, runs, hints"

for b in $(mj "' '.join(str(v) for k, v in m['blocks'].items())") 0 1 1026; do
	dump 0 "$G" block "$b"
done
dump 0 "$G" block "$(mj "m['blocks']['rootb']")"
jtrue 'd["block"]["kind"] == "directory"' \
	'[e["name"] for e in d["block"]["entries"]] == ["a", "b", "c"]' \
	'[e["ino"] for e in d["block"]["entries"]] == [2, 3, 4]'
for b in $(mj "' '.join(str(m['blocks'][k]) for k in ('eb1', 'eb2', 'rc0', 'rl1', 'rl2'))"); do
	dump 0 "$G" tree "$b"
done
dump 0 "$G" tree "$EB1"
jtrue 'd["tree"]["kind"] == "extent"' 'd["tree"]["owner"] == 2' \
	"[[e['lblk'], e['len'], e['pblk']] for e in d['tree']['extents']] == [[0, 8, $P1], [8, 4, $(mj "m['blocks']['p2']")]]"
dump 0 "$G" block 1027
jtrue '[s["ino"] for s in d["block"]["inodes"] if not s["unused"]] == [1, 2, 3, 4]' \
	'all(s["verdict"]["ok"] for s in d["block"]["inodes"])'
dump 1 "$G" tree "$(mj "m['blocks']['rootb']")"
jtrue "failures('block', $(mj "m['blocks']['rootb']"), None, 'not an extent or refcount block')"
ok "dump block / tree: every metadata block by its magic, each verdict ok"

[ "$(sha256sum <"$IMG")" = "$sha0" ] || fail "dump changed the image"
chmod 0444 "$G"
run 0 "$TOOL" dump "$G" refcount
chmod 0644 "$G"
ok "dump never writes (the image is unchanged; a read-only file works)"

# rlfs-testimg's populated image: clean everywhere, its refcount tree as
# fsck sees it
P=$T/p.img
truncate -s 64M "$P"
run 0 "$MKFS" -f "$P"
cp --sparse=always "$P" "$T/fresh.img"
run 0 "$TESTIMG" "$P" clean
cp --sparse=always "$P" "$T/clean.img"
run 0 "$FSCK" -n -v "$P"
expect "^refcount tree: 2 records in 3 blocks, depth 1$"
for v in sb refcount freemap; do
	dump 0 "$P" $v
done
jtrue 'd["freemap"]["free_inodes"] == 4096 - 12'
for ino in $(seq 0 12); do
	dump 0 "$P" inode "$ino"
	same_inode "$P" "$ino"
	dump 0 "$P" extents "$ino"
done
dump 0 "$P" refcount
jtrue 'd["refcount_tree"]["record_count"] == 2' 'd["refcount_tree"]["node_count"] == 3' \
	'd["refcount_tree"]["depth"] == 1'
ok "rlfs-testimg's image: every view of every inode verifies; refcount tree as fsck's"

# blocks of the clean image, to name in (c)
IT=$(le64 "$P" 176)
BB=$(le64 "$P" 144)
dump 0 "$P" extents 3
EB1=$(jget 'd["extent_tree"]["nodes"][1]["block"]')
EB2=$(jget 'd["extent_tree"]["nodes"][2]["block"]')
dump 0 "$P" refcount
RC0=$(jget 'd["refcount_tree"]["nodes"][0]["block"]')
RL2=$(jget 'd["refcount_tree"]["nodes"][2]["block"]')
dump 0 "$P" extents 1
ROOTB=$(jget 'd["extent_tree"]["extents"][0]["pblk"]')
dump 0 "$P" extents 8
SLOWB=$(jget 'd["extent_tree"]["extents"][0]["pblk"]')
dump 0 "$P" inode 9
XB=$(jget 'd["inode"]["i_xattr_blk"]')
JS=$(le64 "$P" 128)		# s_journal_start

# --- (c) corruptions ---------------------------------------------------
# the byte pokes of test-format.sh, checksums left stale
cp --sparse=always "$T/fresh.img" "$IMG"
poke "$IMG" 70
dump 1 "$IMG"
jtrue 'failures("superblock", 0, None, "bad superblock checksum")' \
	'd["superblock"]["crc_computed"] != d["superblock"]["s_crc"]'
run 1 "$TOOL" dump "$IMG"
expect "^  verdict: FAILED: bad superblock checksum$"
expect "^  - what=superblock block=0 reason=\"bad superblock checksum\"$"
dump 1 "$IMG" freemap
jtrue 'd["freemap"]["free_blocks_match_hint"]'
ok "a corrupt superblock byte: bad superblock checksum, in every view"

cp --sparse=always "$T/fresh.img" "$IMG"
poke "$IMG" 0
dump 1 "$IMG"
jtrue 'failures("superblock", 0, None, "not a reflinkfs filesystem (bad magic)")'
ok "a bad superblock magic"

cp --sparse=always "$T/fresh.img" "$IMG"
poke "$IMG" $((BB * 4096 + 1000))
dump 1 "$IMG" freemap
jtrue "failures('block bitmap', $BB, None, 'bad checksum')"
dump 1 "$IMG" block "$BB"
jtrue "failures('bitmap block', $BB, None, 'bad checksum')"
ok "a corrupt block bitmap byte: block $BB, bad checksum"

cp --sparse=always "$T/fresh.img" "$IMG"
poke "$IMG" $((IT * 4096 + 256 + 40))
dump 1 "$IMG" inode 1
jtrue "failures('inode', $IT, None, 'bad checksum')" \
	'[f["inode"] for f in d["failures"]] == [1]'
dump 1 "$IMG" block "$IT"
jtrue "failures('inode', $IT, None, 'bad checksum')"
ok "a corrupt root inode byte: inode 1 in block $IT, bad checksum"

# rlfs-testimg's scenarios (checksums kept valid): what a block-local
# verifier sees, as VIEW|WHAT|BLOCK|ENTRY-OR-OFFSET|REASON
declare -A WANT=(
	[ext-beyond]="extents 2|extent root|$IT|1|extent outside the data area"
	[ext-meta]="extents 2|extent root|$IT|1|extent outside the data area"
	[ext-len]="extents 2|extent root|$IT|1|bad extent length"
	[ext-overlap]="extents 2|extent root|$IT|1|extents out of order or range"
	[ext-max]="extents 2|extent root|$IT|None|bad capacity (bt_max)"
	[idx-key]="extents 3|extent block|$EB1|2|extents out of order or range"
	[ext-depth]="extents 3|extent block|$EB1|None|unexpected depth"
	[ext-owner]="extents 3|extent block|$EB2|None|header names another owner"
	[ext-empty]="extents 3|extent block|$EB2|None|empty node"
	[dir-reclen]="block $ROOTB|directory block|$ROOTB|64|record length too small"
	[dir-dot]="block $ROOTB|directory block|$ROOTB|64|'.' or '..' stored as an entry"
	[symlink-len]="block $SLOWB|symlink block|$SLOWB|None|target length does not match i_size"
	[fast-symlink-len]="inode 7|inode|$IT|None|fast symlink target length does not match i_size"
	[xattr-index]="block $XB|xattr block|$XB|32|unknown namespace index"
	[xattr-overrun]="block $XB|xattr block|$XB|32|entry crosses the end of the block"
	[inode-ns]="inode 5|inode|$IT|None|nanoseconds out of range"
	[inode-flags]="inode 5|inode|$IT|None|unknown flags"
	[inode-type]="inode 5|inode|$IT|None|unknown file type in i_mode"
	[special-blocks]="inode 5|inode|$IT|None|special file maps blocks"
	[rc-unsorted]="refcount|refcount block|$RL2|1|records out of order or overlapping"
	[rc-key]="refcount|refcount block|$RL2|0|first key differs from the parent's key"
	[rc-depth]="refcount|refcount block|$RC0|None|unexpected depth"
	[snap-feature]="inode 3|inode|$IT|None|snapshot record without the snapshot feature"
	[snap-origin]="inode 3|inode|$IT|None|snapshot origin out of range"
	[snap-self]="inode 3|inode|$IT|None|snapshot is its own origin"
	[snap-lineage]="inode 3|inode|$IT|None|snapshot without a lineage"
	[snap-dir]="inode 4|inode|$IT|None|snapshot record on a file that is not regular"
	[snap-notsnap]="inode 2|inode|$IT|None|snapshot origin on a file that is not a snapshot"
	[ext-lblk-limit]="extents 2|extent root|$IT|4|extents out of order or range"
	[ext-root-crc]="extents 2|inode|$IT|None|bad checksum"
	[dir-names]="block $ROOTB|directory block|$ROOTB|64|name contains '/' or NUL"
	[dir-crc]="block $ROOTB|directory block|$ROOTB|None|bad checksum"
	[inode-crc]="inode 3|inode|$IT|None|bad checksum"
)
# what only a walk of the whole filesystem finds (fsck's): every view
# verifies, as far as dump can tell
CROSS="dup iblocks dir-type dir-dup dir-free-ino dir-hole nlink dir-nlink
parent unreachable nlink0 orphan-loop orphan-free bbitmap-free
bbitmap-used ibitmap detached-dir dir-cycle journal root-ref dir-hardlink
rc-count rc-missing rc-free rc-bitmap rc-claimed dir-ghost dir-freerec
orphan-missing rc-extra sb-free nlink-high ibitmap-free"

# every view of the scenario's image exits 0 or 1 (and 0 if $1 = 0)
all_views() {
	local v rc
	for v in sb refcount freemap "inode 2" "inode 3" "extents 2" \
		 "extents 3" "block $ROOTB" "block $IT" "tree $RC0"; do
		rc=0
		# shellcheck disable=SC2086
		timeout "$TIMEOUT" "$TOOL" dump "$P" $v >"$OUT" 2>"$ERR" || rc=$?
		case $rc in
		0) ;;
		1) [ "$1" = 1 ] || fail "'dump $v' exited 1 on $sc" ;;
		*) fail "'dump $v' exited $rc on $sc" ;;
		esac
	done
}

for sc in $("$TESTIMG" -l); do
	[ "$sc" = clean ] && continue
	cp --sparse=always "$T/fresh.img" "$P"
	run 0 "$TESTIMG" "$P" "$sc"
	if [ -n "${WANT[$sc]:-}" ]; then
		IFS='|' read -r view what blk at reason <<<"${WANT[$sc]}"
		# shellcheck disable=SC2086
		dump 1 "$P" $view
		jtrue "failures('$what', $blk, $at, \"$reason\")"
		# shellcheck disable=SC2086
		run 1 "$TOOL" dump "$P" $view
		grep -qF "FAILED: $reason" "$OUT" || fail "text output has no 'FAILED: $reason'"
		all_views 1
		ok "dump $view names $what $blk and the reason of $sc"
	elif grep -qw -- "$sc" <<<"$CROSS"; then
		all_views 0
		ok "$sc is for fsck (no block-local check fails): dump verifies"
	else
		all_views 1
		echo "# $sc: a scenario this test does not know yet; no crash"
		ok "$sc: dump does not crash"
	fi
done
cp --sparse=always "$T/fresh.img" "$P"
run 0 "$TESTIMG" "$P" journal
dump 0 "$P" block "$JS"
jtrue 'd["block"]["kind"] == "journal"' 'd["block"]["jbd2_magic_ok"]'
ok "dump block of the journal superblock"

# dump-img.py's own: loops, depth, magics, block numbers, checksums
for sc in $(python3 "$GEN" scenarios); do
	[ "$sc" = clean ] && continue
	cp --sparse=always "$T/gfresh.img" "$G"
	run 0 python3 "$GEN" build "$G" "$sc"
	cp "$OUT" "$T/man.json"
	view=$(mj "' '.join(m['expect']['view'])")
	what=$(mj "m['expect']['what']")
	blk=$(mj "m['expect']['block']")
	at=$(mj "m['expect']['where']")
	reason=$(mj "m['expect']['reason']")
	# shellcheck disable=SC2086
	dump 1 "$G" $view
	jtrue "failures('$what', $blk, $at, \"$reason\")"
	ok "dump $view names $what $blk and the reason of $sc"
done

# a device smaller than the filesystem: what lies beyond is not read
cp --sparse=always "$T/gfresh.img" "$G"
run 0 python3 "$GEN" build "$G"
cp "$OUT" "$T/man.json"
truncate -s $((2047 * 4096)) "$G"
dump 1 "$G"
jtrue 'failures("superblock", 0, None, "device smaller than the filesystem")'
dump 1 "$G" extents 2
jtrue 'failures("extent block", 2047, None, "block 2047 beyond the end of the device (2047 blocks)")' \
	"[e['lblk'] for e in d['extent_tree']['extents']] == [0, 2, 4, 6, 8]"
run 2 "$TOOL" dump "$G" block 2047
ok "a truncated image: the extent block past its end is reported, not read"

# --- (d) fuzz smoke ----------------------------------------------------
half=$((FUZZ_IMAGES / 2))
cp --sparse=always "$T/gfresh.img" "$G"
run 0 python3 "$GEN" build "$G"
run 0 python3 "$GEN" fuzz "$TOOL" "$G" "$T/fuzz.img" 1 "$half" "$TIMEOUT"
cat "$OUT"
ok "fuzz: $half mutated dump-img.py images, every view exits 0/1/2"
run 0 python3 "$GEN" fuzz "$TOOL" "$T/clean.img" "$T/fuzz.img" 2 \
	$((FUZZ_IMAGES - half)) "$TIMEOUT"
cat "$OUT"
ok "fuzz: $((FUZZ_IMAGES - half)) mutated rlfs-testimg images, every view exits 0/1/2"

echo "1..$PASS"
echo "all $PASS tests passed"
