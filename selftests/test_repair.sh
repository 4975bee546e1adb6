#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_repair.sh - fsck.reflinkfs -y on a filesystem the kernel wrote:
# whole-file and range reflinks, snapshots, a fragmented file sharing every
# other block, CoW overwrites; then, unmounted, metadata damaged in place
# (valid checksums, found with `reflinkfs dump --json`), fsck -n finds it
# (exit 4), fsck -y repairs it (exit 1), fsck -n is clean, the mount shows
# every file as before (sha256 of all of them), CoW still keeps the sharers
# apart, and fsck -n is clean after the unmount.
#
#   case_repair_mixed     a refcount record's count, a block bitmap bit
#                         cleared for a used block and one set for a free
#                         block, a file's link count, the free counts
#   case_repair_rctree    the whole refcount tree dropped (s_refcount_root
#                         0): rebuilt from the file mappings
# shellcheck disable=SC2317  # case functions are called through ktap_run
set -euo pipefail
. "$(dirname "$0")/lib.sh"

trap lib_cleanup EXIT

setup_tree() {
	local i
	setup_fs
	xfs_io -f -c "pwrite -q -S 0x61 0 1m" -c "pwrite -q -S 0x62 1m 200k" \
		-c fsync a
	cp --reflink=always a b
	xfs_io -c "pwrite -q -S 0x63 64k 8k" -c fsync b
	mkdir -p d/e
	xfs_io -f -c "reflink $MNT/a 128k 0 256k" d/e/part
	ln d/e/part d/hard
	# frag: every other block of a, the rest its own
	xfs_io -f -c "pwrite -q -S 0x64 0 256k" -c fsync frag
	for i in $(seq 0 2 63); do
		xfs_io -c "reflink $MNT/a $((i * 4096)) $((i * 4096)) 4096" \
			frag > "$LOG"
	done
	rt snap --name s1 a > "$LOG" 2>&1 || { show "$LOG"; skip "no snapshots"; }
	xfs_io -c "pwrite -q -S 0x65 512k 4k" -c fsync a
	rt snap --name s2 a > "$LOG" 2>&1 || { show "$LOG"; die "second snapshot"; }
	echo small > small
	ln -s a link
	sync
	cd /
	manifest > "$WORK/before"
	umount_fs
	fsck_clean "$DEV"
}

# edit.py DEV WHAT ARGS...: change one field in place, fixing the
# checksum of what holds it (block header, inode record or superblock).
cat > "$WORK/edit.py" <<'EOF'
import os, struct, sys
BS = 4096
T = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    T.append(c)

def crc(b):
    c = 0xffffffff
    for x in b:
        c = T[(c ^ x) & 0xff] ^ (c >> 8)
    return c

def csum(buf, start, length):
    part = bytearray(buf[start:start + length])
    part[4:8] = bytes(4)
    struct.pack_into('<I', buf, start + 4, crc(part))

dev, what = sys.argv[1], sys.argv[2]
args = [int(x) for x in sys.argv[3:]]
fd = os.open(dev, os.O_RDWR)
sb = bytearray(os.pread(fd, BS, 0))
if what == 'rc':		# rc BLOCK ENTRY COUNT: rc_refcount of a record
    blk, entry, count = args
    b = bytearray(os.pread(fd, BS, blk * BS))
    struct.pack_into('<I', b, 40 + 16 * entry + 12, count)
    csum(b, 0, BS)
    os.pwrite(fd, bytes(b), blk * BS)
elif what == 'bit':		# bit BLOCK 0|1: its block bitmap bit
    nr, val = args
    per = (BS - 32) * 8
    blk = struct.unpack_from('<Q', sb, 144)[0] + nr // per
    b = bytearray(os.pread(fd, BS, blk * BS))
    i = nr % per
    if val:
        b[32 + i // 8] |= 1 << (i % 8)
    else:
        b[32 + i // 8] &= ~(1 << (i % 8)) & 0xff
    csum(b, 0, BS)
    os.pwrite(fd, bytes(b), blk * BS)
elif what == 'nlink':		# nlink INO N
    ino, n = args
    off = (struct.unpack_from('<Q', sb, 176)[0] + ino // 16) * BS + \
          (ino % 16) * 256
    r = bytearray(os.pread(fd, 256, off))
    struct.pack_into('<I', r, 20, n)
    csum(r, 0, 256)
    os.pwrite(fd, bytes(r), off)
elif what == 'sb':		# sb OFFSET VALUE: an __le64 of the superblock
    off, val = args
    struct.pack_into('<Q', sb, off, val)
    csum(sb, 0, 512)
    os.pwrite(fd, bytes(sb[:512]), 0)
os.fsync(fd)
os.close(fd)
EOF
edit() { python3 "$WORK/edit.py" "$DEV" "$@" || die "edit $* failed"; blockdev --flushbufs "$DEV" 2>/dev/null || true; }

# repair_and_verify: -n finds it, -y fixes it, -n clean, files as before
repair_and_verify() {
	local rc
	rc=$(fsck_rc)
	[ "$rc" = 4 ] || { show "$LOG"; die "fsck -n exited $rc after the damage, want 4"; }
	show "$LOG"
	rc=0
	"$FSCK" -y "$DEV" > "$LOG" 2>&1 || rc=$?
	show "$LOG"
	[ "$rc" = 1 ] || die "fsck -y exited $rc, want 1"
	grep -q "^not fixing" "$LOG" && die "fsck -y left something"
	fsck_clean "$DEV"
	mount_fs "$DEV"
	manifest > "$WORK/after"
	if ! diff -u "$WORK/before" "$WORK/after" > "$LOG"; then
		show "$LOG"
		die "the files changed across the repair"
	fi
	# CoW on every sharer: the others keep their data
	cd "$MNT"
	xfs_io -c "pwrite -q -S 0x71 0 1m" -c fsync a
	xfs_io -c "pwrite -q -S 0x72 0 256k" -c fsync frag
	cd /
	grep -v '^H \./\(a\|frag\) ' "$WORK/before" | grep '^H ' > "$WORK/want"
	manifest | grep '^H ' | grep -v '^H \./\(a\|frag\) ' > "$WORK/got"
	if ! diff -u "$WORK/want" "$WORK/got" > "$LOG"; then
		show "$LOG"
		die "a CoW write after the repair changed another file"
	fi
	umount_fs
	fsck_clean "$DEV"
}

case_repair_mixed() {
	local rcj extj ino fino used free rblk rent rcount
	setup_tree
	rcj=$WORK/rc.json
	extj=$WORK/ext.json
	rt dump --json "$DEV" refcount > "$rcj" || die "dump refcount"
	json_ok "$rcj" 'len(d["refcount_tree"]["records"]) >= 3'
	read -r rblk rent rcount < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["refcount_tree"]["records"][1]
print(r["node"], r["entry"], r["refcount"])' "$rcj")
	msg "refcount record: block $rblk entry $rent count $rcount -> $((rcount + 3))"
	edit rc "$rblk" "$rent" $((rcount + 3))
	# a used block of d/e/part's inode (found by name from the tree)
	mount_fs "$DEV"
	ino=$(stat -c %i "$MNT/d/e/part")
	fino=$(stat -c %i "$MNT/small")
	umount_fs
	rt dump --json "$DEV" extents "$fino" > "$extj" || die "dump extents"
	used=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["extent_tree"]["extents"][0]["pblk"])' "$extj")
	free=$((BLOCKS - 7))
	msg "block bitmap: clearing $used (small's block), setting $free"
	edit bit "$used" 0
	edit bit "$free" 1
	msg "inode $ino (d/e/part, 2 links): link count -> 5"
	edit nlink "$ino" 5
	edit sb 112 1000		# s_free_blocks
	repair_and_verify
}

case_repair_rctree() {
	setup_tree
	msg "dropping the refcount tree (root $(read_u64 "$DEV" 216))"
	edit sb 216 0		# s_refcount_root
	edit sb 224 $((1 << 32))	# s_refcount_depth 0, s_state clean
	repair_and_verify
}

require_vm
ktap_run case_repair_mixed case_repair_rctree
