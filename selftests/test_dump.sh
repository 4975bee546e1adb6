#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_dump.sh - reflinkfs dump against what the kernel wrote: a scripted
# sequence of reflinks on the test disk, then, offline, the refcount tree
# and every file's extents as `reflinkfs dump --json` reads them must be
# what the sequence implies, every node verified; each case ends with
# fsck.reflinkfs -n.
#
#   case_dump_sequence    FICLONE of a whole file, FICLONERANGE of parts,
#                         CoW overwrites of shared blocks: the refcount of
#                         each block and the physical blocks each file maps
#   case_dump_big_trees   256 one-block FICLONERANGEs: a refcount tree and
#                         an extent tree of more than one level, each node
#                         also through dump tree and dump block
#   case_dump_mounted     dump of the mounted device: read-only, no O_EXCL
#   case_dump_corrupt     a flipped byte in the refcount root: dump names the
#                         block and the reason and exits 1, as fsck fails
# shellcheck disable=SC2317  # case functions are called through ktap_run
set -euo pipefail
. "$(dirname "$0")/lib.sh"

trap lib_cleanup EXIT

setup_dump_fs() {
	setup_fs
	rt dump --help > /dev/null 2>&1 || skip "this reflinkfs tool has no dump"
}

# dump_ok OUT ARGS...: reflinkfs dump --json DEV ARGS into OUT, exit 0
dump_ok() {
	local out=$1 rc=0
	shift
	rt dump --json "$DEV" "$@" > "$out" 2> "$WORK/err" || rc=$?
	if [ "$rc" != 0 ]; then
		show "$WORK/err"
		python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["failures"], indent=1))' "$out" 2>/dev/null | head -n 40 | show
		die "reflinkfs dump $* exited $rc, want 0"
	fi
}

# check_model BASE MODEL: the files' extents and the refcount tree, as
# dump reads them from $DEV (unmounted), against the model.  MODEL is a
# Python dict: file name -> {logical block: ("BASE", i) | "own"}, where
# ("BASE", i) is the physical block BASE's logical block i maps and "own"
# a block of the file's own, shared with nothing.  Every file's inode is
# in $WORK/ino.NAME.
check_model() {
	local base=$1 model=$2 f
	for f in $(python3 -c "print(' '.join(sorted($model)))"); do
		dump_ok "$WORK/ext.$f.json" extents "$(cat "$WORK/ino.$f")"
	done
	dump_ok "$WORK/rc.json" refcount
	python3 - "$WORK" "$base" "$model" <<'EOF' || die "dump disagrees with the reflink sequence"
import json, sys
work, base, model = sys.argv[1], sys.argv[2], eval(sys.argv[3])

def load(name):
    return json.load(open("%s/%s" % (work, name)))

# logical block -> (physical block, refcount dump gives it), every node ok
maps = {}
for f in model:
    d = load("ext.%s.json" % f)
    t = d["extent_tree"]
    assert d["ok"], (f, d["failures"])
    for n in t["nodes"]:
        assert n["verdict"] == {"ok": True}, (f, n)
    m = {}
    for e in t["extents"]:
        for k in range(e["len"]):
            assert e["lblk"] + k not in m, (f, "mapped twice", e)
            m[e["lblk"] + k] = (e["pblk"] + k, e["refcount"])
    maps[f] = m
    print("# %s: %d blocks in %d extents, %d nodes, depth %d" %
          (f, len(m), len(set((e["node"], e["entry"]) for e in t["extents"])),
           t["node_count"], t["depth"]))

P = {i: p for i, (p, _) in maps[base].items()}
want = {}
for f, m in model.items():
    assert sorted(maps[f]) == sorted(m), (f, "maps", sorted(maps[f]), "want", sorted(m))
    for l, src in m.items():
        p = maps[f][l][0]
        if src == "own":
            assert p not in P.values(), (f, l, "own block", p, "is the base's")
        else:
            assert src[0] == base
            assert p == P[src[1]], (f, l, "maps", p, "want", P[src[1]])
        want[p] = want.get(p, 0) + 1
owners = {}
for f, m in maps.items():
    for l, (p, _) in m.items():
        owners.setdefault(p, []).append((f, l))
for p, o in owners.items():
    assert len(o) == want[p], (p, o)

# the refcount tree: each block's count, as the sequence implies
d = load("rc.json")
assert d["ok"], d["failures"]
t = d["refcount_tree"]
for n in t["nodes"]:
    assert n["verdict"] == {"ok": True}, n
got = {}
prev = -1
for r in t["records"]:
    assert r["start"] >= prev, ("records out of order", r)
    prev = r["start"] + r["len"]
    for k in range(r["len"]):
        got[r["start"] + k] = r["refcount"]
shared = {p: c for p, c in want.items() if c >= 2}
assert got == shared, ("refcount tree", sorted(got.items()), "want", sorted(shared.items()))
# the counts dump put on each extent
for f, m in maps.items():
    for l, (p, c) in m.items():
        assert c == want[p], (f, l, p, "refcount", c, "want", want[p])
print("# refcount tree: %d records, %d shared blocks, %d nodes, depth %d" %
      (len(t["records"]), len(shared), t["node_count"], t["depth"]))
runs = []
for p in sorted(shared):
    if runs and runs[-1][0] + runs[-1][1] == p and runs[-1][2] == shared[p]:
        runs[-1][1] += 1
    else:
        runs.append([p, 1, shared[p]])
if [[r["start"], r["len"], r["refcount"]] for r in t["records"]] != runs:
    print("# note: the records are not fully merged")
json.dump({"depth": t["depth"], "nodes": [n["block"] for n in t["nodes"]]},
          open(work + "/rc.summary", "w"))
EOF
}

save_inodes() {
	local f
	for f in "$@"; do
		stat -c %i "$f" > "$WORK/ino.$f"
	done
}

# ---- the reflink sequence --------------------------------------------------

case_dump_sequence() {
	setup_dump_fs
	xfs_io -f -c "pwrite -q -S 0x61 0 64k" -c fsync a	# blocks 0-15
	xfs_io -f -c "reflink -q a" b			# FICLONE: all of a
	xfs_io -f -c "reflink -q a 16k 0 16k" c		# FICLONERANGE a 4-7 -> c 0-3
	xfs_io -f -c "reflink -q a 48k 32k 16k" d	# a 12-15 -> d 8-11
	xfs_io -c "pwrite -q -S 0x62 20k 4k" -c fsync b	# CoW: b 5 its own
	xfs_io -c "pwrite -q -S 0x63 4k 4k" -c fsync c	# CoW: c 1 (a 5) its own
	sync
	save_inodes a b c d
	cd /
	umount_fs
	# a 0-3: a,b  4: a,b,c  5: a  6-7: a,b,c  8-11: a,b  12-15: a,b,d
	check_model a "{
		'a': {i: ('a', i) for i in range(16)},
		'b': {i: ('a', i) if i != 5 else 'own' for i in range(16)},
		'c': {0: ('a', 4), 1: 'own', 2: ('a', 6), 3: ('a', 7)},
		'd': {8 + i: ('a', 12 + i) for i in range(4)}}"
	dump_ok "$WORK/sb.json" sb
	json_ok "$WORK/sb.json" "d['superblock']['s_blocks'] == $BLOCKS" \
		'd["superblock"]["s_state_names"] == ["clean"]'
	dump_ok "$WORK/fm.json" freemap
	json_ok "$WORK/fm.json" 'd["freemap"]["free_blocks_match_hint"]' \
		'd["freemap"]["free_inodes_match_hint"]'
	fsck_clean "$DEV"
}

# ---- trees of more than one level ----------------------------------------

case_dump_big_trees() {
	local cmds=() i b
	setup_dump_fs
	xfs_io -f -c "pwrite -q -S 0x41 0 2m" -c fsync big	# 512 blocks
	for ((i = 0; i < 512; i += 2)); do
		cmds+=(-c "reflink -q big $((i * 4096)) $((i * 4096)) 4096")
	done
	xfs_io -f "${cmds[@]}" -c fsync frag		# 256 one-block extents
	sync
	save_inodes big frag
	cd /
	umount_fs
	check_model big "{
		'big': {i: ('big', i) for i in range(512)},
		'frag': {i: ('big', i) for i in range(0, 512, 2)}}"
	json_ok "$WORK/ext.frag.json" 'd["extent_tree"]["depth"] >= 1' \
		'd["extent_tree"]["node_count"] >= 3' \
		'len(d["extent_tree"]["extents"]) == 256'
	json_ok "$WORK/rc.json" 'd["refcount_tree"]["depth"] >= 1' \
		'd["refcount_tree"]["node_count"] >= 3' \
		'd["refcount_tree"]["record_count"] >= 2'
	# every node on its own, through tree and block
	for b in $(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
e = json.load(open(sys.argv[2]))
print(" ".join(str(n["block"]) for n in d["refcount_tree"]["nodes"] + e["extent_tree"]["nodes"] if n["block"] != "inode"))' \
		   "$WORK/rc.json" "$WORK/ext.frag.json"); do
		dump_ok "$WORK/t.json" tree "$b"
		dump_ok "$WORK/b.json" block "$b"
		json_ok "$WORK/b.json" 'd["block"]["kind"] in ("extent", "refcount")'
	done
	fsck_clean "$DEV"
}

# ---- the mounted device -------------------------------------------------

case_dump_mounted() {
	local rc=0
	setup_dump_fs
	xfs_io -f -c "pwrite -q 0 1m" -c fsync x
	sync
	# the kernel holds the device exclusively: dump must not need to
	dump_ok "$WORK/sb.json" sb
	json_ok "$WORK/sb.json" "d['superblock']['s_blocks'] == $BLOCKS" \
		'd["superblock"]["s_mount_count"] >= 1'
	rt dump --json "$DEV" freemap > "$WORK/fm.json" 2> "$WORK/err" || rc=$?
	[ "$rc" -le 1 ] || { show "$WORK/err"; die "dump freemap of the mounted device exited $rc"; }
	cd /
	umount_fs
	fsck_clean "$DEV"
}

# ---- a corrupt refcount root ----------------------------------------------

case_dump_corrupt() {
	local root rc=0
	setup_dump_fs
	xfs_io -f -c "pwrite -q 0 64k" -c fsync a
	xfs_io -f -c "reflink -q a" b
	sync
	cd /
	umount_fs
	dump_ok "$WORK/sb.json" sb
	root=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["superblock"]["s_refcount_root"])' "$WORK/sb.json")
	[ "$root" != 0 ] || die "no refcount tree after a reflink"
	flip_byte "$DEV" $((root * BLOCK_SIZE + 40))
	rt dump --json "$DEV" refcount > "$WORK/rc.json" 2> "$WORK/err" || rc=$?
	[ "$rc" = 1 ] || { show "$WORK/err"; die "dump refcount of a corrupt root exited $rc, want 1"; }
	json_ok "$WORK/rc.json" "any(f['what'] == 'refcount block' and f['block'] == $root and f['reason'] == 'bad checksum' for f in d['failures'])" \
		'not d["ok"]'
	rc=$(fsck_rc "$DEV")
	[ "$rc" != 0 ] || die "fsck -n found nothing dump found"
}

require_vm
command -v python3 > /dev/null || { echo "SKIP: python3 not found"; exit 4; }
command -v xfs_io > /dev/null || { echo "SKIP: xfs_io not found"; exit 4; }
ktap_run case_dump_sequence case_dump_big_trees case_dump_mounted \
	case_dump_corrupt
