#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side tests of mkfs.reflinkfs and fsck.reflinkfs on image files (no
# kernel module, no root needed).  Run from anywhere after `make` in
# userspace/ (or via `make check`).  Exits non-zero on the first failure.
set -euo pipefail

T=$(mktemp -d "${TMPDIR:-/tmp}/rlfs-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need "$MKFS" "$FSCK" "$TESTIMG"

IMG=$T/x.img

# --- crc32c ----------------------------------------------------------
[ "$("$TESTIMG" -c 123456789)" = 1cf96d7c ] ||
	fail "crc32c(\"123456789\") is not 0x1cf96d7c (0xe3069283 inverted)"
ok "crc32c test vector"

# --- mkfs + fsck of a fresh image ------------------------------------
truncate -s 256M "$IMG"
run 0 "$MKFS" -f -L testlabel "$IMG"
expect "UUID"
run 0 "$FSCK" -n "$IMG"
expect "^reflinkfs .*: clean, 2/16384 inodes, [0-9]+/65536 blocks$"
ok "mkfs + fsck -n of a 256 MiB image"

run 0 "$FSCK" -n -v "$IMG"
ok "fsck -v of a fresh image"

cp --sparse=always "$IMG" "$T/orig.img"
run 0 "$FSCK" -y "$IMG"
expect "^reflinkfs .*: clean, "
cmp -s "$IMG" "$T/orig.img" || fail "fsck -y modified a clean image"
ok "fsck -y on a clean image writes nothing"

if command -v python3 >/dev/null; then
	python3 - "$IMG" <<'EOF' || fail "independent checksum verification"
import struct, sys
def crc(b, c=0xffffffff):
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c
d = open(sys.argv[1], 'rb').read(4096)
sb = bytearray(d[:512])
want = struct.unpack_from('<I', sb, 4)[0]
sb[4:8] = bytes(4)
assert crc(sb) == want, 'superblock crc'
assert struct.unpack_from('<I', d, 0)[0] == 0x52464c53, 'magic'
EOF
	ok "superblock crc matches an independent crc32c"
fi

# --- existing filesystem: ask, yes proceeds, n / EOF abort ------------
cp --sparse=always "$IMG" "$T/orig.img"
run 1 sh -c "echo n | '$MKFS' '$IMG'"
expect "contains a reflinkfs file system"
expect "Proceed anyway\\? \\(y,N\\)"
cmp -s "$IMG" "$T/orig.img" || fail "image modified after 'n'"
run 1 sh -c "'$MKFS' '$IMG' </dev/null"
cmp -s "$IMG" "$T/orig.img" || fail "image modified after EOF"
ok "mkfs without -f asks and aborts on n / EOF"
run 0 sh -c "yes | '$MKFS' '$IMG'"
expect "contains a reflinkfs file system"
cmp -s "$IMG" "$T/orig.img" && fail "image unchanged after 'yes'"
run 0 "$FSCK" -n "$IMG"
ok "yes | mkfs proceeds"

# ext4 magic at byte 1080
truncate -s 64M "$T/ext.img"
printf '\123\357' | dd of="$T/ext.img" bs=1 seek=1080 conv=notrunc status=none
run 1 sh -c "'$MKFS' '$T/ext.img' </dev/null"
expect "contains a ext2 file system"
ok "mkfs detects an ext2/3/4 superblock"

# --- size and option errors ------------------------------------------
run 1 "$MKFS" "$T/small.img" 100
expect "too small: at least [0-9]+ blocks"
[ ! -e "$T/small.img" ] || fail "small image was created"
ok "mkfs refuses a 100-block filesystem"
run 1 "$MKFS" -f -b 1024 "$IMG"
expect "only 4096"
run 1 "$MKFS" -f -L 0123456789abcdef0123456789abcdef "$IMG"
expect "too long"
run 1 "$MKFS" -f -J 10 "$IMG"
expect "journal size"
ok "mkfs rejects bad -b, -L, -J"
run 0 "$MKFS" -f -N 1000 -J 1024 "$T/new.img" 4096
[ "$(stat -c %s "$T/new.img")" = $((4096 * 4096)) ] ||
	fail "new image not created with BLOCKS size"
run 0 "$FSCK" -n "$T/new.img"
expect "clean, 2/1008 inodes"
ok "mkfs creates a new image file of BLOCKS blocks (-N rounded)"

# --- corruption with dd ----------------------------------------------
run 0 "$MKFS" -f "$IMG"
BB=$(le64 "$IMG" 144)		# s_bbitmap_start
IT=$(le64 "$IMG" 176)		# s_itable_start
cp --sparse=always "$IMG" "$T/orig.img"

poke "$IMG" 70			# in s_label
run 4 "$FSCK" -n "$IMG"
expect "^superblock \\(block 0\\): bad superblock checksum \\(version 1,"
expect "1 error"
ok "fsck finds a corrupt superblock byte"

cp --sparse=always "$T/orig.img" "$IMG"
poke "$IMG" $((BB * 4096 + 1000))
run 4 "$FSCK" -n "$IMG"
expect "^block bitmap block $BB: bad checksum \\(crc 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)$"
ok "fsck finds a corrupt block bitmap block ($BB)"

cp --sparse=always "$T/orig.img" "$IMG"
poke "$IMG" $((IT * 4096 + 256 + 40))	# root inode, i_size
run 4 "$FSCK" -n "$IMG"
expect "^inode 1: bad checksum \\(magic 0x4e494c52, mode 040755,"
run 4 "$FSCK" -y "$IMG"
expect "[0-9]+ errors? left uncorrected$"
ok "fsck finds a corrupt root inode (and -y leaves it)"

cp --sparse=always "$T/orig.img" "$IMG"
poke "$IMG" 0
run 8 "$FSCK" -n "$IMG"
expect "not a reflinkfs"
truncate -s 1M "$T/zero.img"
run 8 "$FSCK" -n "$T/zero.img"
run 8 "$FSCK" -n "$T/does-not-exist"
run 8 "$FSCK" "$T/orig.img"
ok "fsck exits 8 for non-reflinkfs, missing file, bad usage"

# --- populated images: every check, one injected error each -----------
declare -A WANT=(
	[ext-beyond]="^inode 2: extent root entry 1: extent outside the data area \\(logical 2, length 1, physical 16394;"
	[ext-meta]="^inode 2: extent root entry 1: extent outside the data area \\(logical 2, length 1, physical [0-9]+;"
	[ext-len]="^inode 2: extent root entry 1: bad extent length \\(logical 2, length 0,"
	[ext-overlap]="^inode 2: extent root entry 1: extents out of order or range \\(logical 1, length 1,"
	[dup]="block [0-9]+ claimed by inode 2 and inode 3"
	[idx-key]="^inode 3: extent block [0-9]+ entry 2: extents out of order or range \\(logical 50, length 2, physical [0-9]+; node range \\[0, 20\\)\\)$"
	[ext-depth]="^inode 3: extent block [0-9]+: unexpected depth \\(entries 3, max 253, depth 1, expected depth 0\\)$"
	[ext-owner]="^inode 3: extent block [0-9]+: header names another owner \\(.*, owner 2; expected .*, owner 3\\)$"
	[ext-empty]="^inode 3: extent block [0-9]+: empty node \\(entries 0,"
	[ext-max]="^inode 2: extent root: bad capacity \\(bt_max\\) \\(entries 5, max 4, depth 0\\)$"
	[iblocks]="inode 3: i_blocks is 12 but the inode owns 13 blocks"
	[dir-type]="directory 1: entry 'fast' has type 8"
	[dir-dup]="directory 1: duplicate entry 'file'"
	[dir-reclen]="^directory 1 block [0-9]+ \\(logical 0\\) offset [0-9]+: record length too small \\(inode 3, record length 12,"
	[dir-dot]="^directory 1 block [0-9]+ \\(logical 0\\) offset [0-9]+: '\\.' or '\\.\\.' stored as an entry \\(.*name '\\.\\.'\\)$"
	[dir-free-ino]="directory 4: entry 'fifo' points to free inode"
	[dir-hole]="inode 4: directory has a hole at logical block 0"
	[nlink]="inode 2: link count 1, but 2 directory entries"
	[dir-nlink]="directory 1: link count 2, expected 3"
	[parent]="directory 6 \\(entry 'deep' in directory 4\\) has parent 1"
	[unreachable]="inode 12 \\(regular file\\): not referenced by any directory"
	[nlink0]="inode 12: link count 0, not referenced and not on the orphan list"
	[orphan-loop]="orphan list: loop at inode 10"
	[orphan-free]="orphan list: inode [0-9]+ .* is not in use"
	[bbitmap-free]="block bitmap: block [0-9]+ is in use but marked free"
	[bbitmap-used]="block bitmap: blocks [0-9]+-[0-9]+ are marked in use but not in use"
	[ibitmap]="inode 9: in use .* but marked free in the inode bitmap"
	[symlink-len]="^inode 8: symlink block [0-9]+: target length does not match i_size \\(i_size 299, target length 300\\)$"
	[fast-symlink-len]="^inode 7: fast symlink target length does not match i_size \\(.*, size 3,"
	[xattr-index]="^inode 9: xattr block [0-9]+ offset 32: unknown namespace index \\(index 7,"
	[xattr-overrun]="^inode 9: xattr block [0-9]+ offset 32: entry crosses the end of the block \\(.*value length 4080\\)$"
	[detached-dir]="directory 12 is not referenced by any directory"
	[dir-cycle]="directory 1[23] is in a cycle"
	[journal]="journal needs recovery; mount the filesystem to replay it"
	[inode-ns]="^inode 5: nanoseconds out of range \\(magic 0x4e494c52, mode 010644,"
	[inode-flags]="^inode 5: unknown flags \\(.*, flags 0x80000000\\)$"
	[inode-type]="^inode 5: unknown file type in i_mode \\(.*, mode 0170644,"
	[special-blocks]="^inode 5: special file maps blocks \\(.*, mode 010644,"
	[root-ref]="^directory 4 block [0-9]+ \\(logical 0\\) offset 64: entry names the root directory \\(inode 1, "
	[dir-hardlink]="directory 6 is referenced by 2 directory entries"
	[rc-count]="^refcount tree: blocks [0-9]+-[0-9]+: refcount 3 recorded, 2 file mappings found$"
	[rc-missing]="^block [0-9]+ claimed by inode 2 and inode 3$"
	[rc-free]="^refcount tree: blocks [0-9]+-[0-9]+: refcount 2 recorded but no file maps them$"
	[rc-unsorted]="^refcount block [0-9]+ entry 1: records out of order or overlapping \\(start [0-9]+, length 1, refcount 2; node range \\[[0-9]+, [0-9]+\\)\\)$"
	[rc-bitmap]="^block bitmap: block [0-9]+ is in use but marked free$"
	[rc-key]="^refcount block [0-9]+ entry 0: first key differs from the parent's key \\(start [0-9]+, length 1, refcount 2; node range \\[[0-9]+,"
	[rc-depth]="^refcount block [0-9]+: unexpected depth \\(entries 2, max 253, depth 1, expected depth 2\\)$"
	[rc-claimed]="^block [0-9]+ claimed by the refcount tree and inode 11$"
	[snap-feature]="^inode 3: snapshot record without the snapshot feature"
	[snap-origin]="^inode 3: snapshot origin out of range \\(magic 0x4e494c52, mode 0100600,"
	[snap-self]="^inode 3: snapshot is its own origin"
	[snap-lineage]="^inode 3: snapshot without a lineage"
	[snap-dir]="^inode 4: snapshot record on a file that is not regular"
	[snap-notsnap]="^inode 2: snapshot origin on a file that is not a snapshot"
	[ext-lblk-limit]="^inode 2: extent root entry 4: extents out of order or range \\(logical 4294967295, length 1, physical [0-9]+; node range \\[0, 4294967295\\)\\)$"
	[dir-names]="^directory 1 block [0-9]+ \\(logical 0\\) offset [0-9]+: inode number out of range \\(inode 4101, .*name 'slow'\\)$"
	[dir-crc]="^directory 1 block [0-9]+ \\(logical 0\\): bad checksum \\(crc 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)$"
	[inode-crc]="^inode 3: bad checksum \\(magic 0x4e494c52, mode 0100600,"
	[ext-root-crc]="^inode 2: bad checksum \\(magic 0x4e494c52, mode 0100644,"
	[dir-ghost]="^directory 4: entry 'ghost' points to free inode 14$"
	[dir-freerec]="^inode 12: marked in use in the inode bitmap but free \\(mode 0\\)$"
	[orphan-missing]="^inode 10: link count 0, not referenced and not on the orphan list$"
	[rc-extra]="^refcount tree: block [0-9]+: refcount 2 recorded, 1 file mapping found$"
	[nlink-high]="^inode 2: link count 3, but 2 directory entries refer to it$"
	[ibitmap-free]="^inode 13: marked in use in the inode bitmap but never written$"
	[bbitmap-crc]="^block bitmap block [0-9]+: bad checksum \\(crc 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)$"
)
# A second line some scenarios must print, and one they must not: each
# bad record of a directory block is reported and the good records after
# it still count; a block or an inode whose checksum alone is wrong is
# still checked, and so is an inode whose extent root is cut at a bad
# entry.
declare -A ALSO=(
	[dir-names]="^directory 1 block [0-9]+ \\(logical 0\\) offset [0-9]+: name contains '/' or NUL \\(inode 3, .*name 'b/g'\\)$"
	[dir-crc]="^reflinkfs .*: 1 error found, not repaired$"
	[inode-crc]="^reflinkfs .*: 1 error found, not repaired$"
	[ext-root-crc]="^inode 2: extent root entry 1: extent outside the data area \\(logical 2,"
)
declare -A UNWANT=(
	[dir-names]="^inode (9|11) .*not referenced"
	[dir-crc]="not referenced"
	[ext-root-crc]="^inode 2: extent outside the data area"
)
P=$T/p.img
truncate -s 64M "$P"
run 0 "$MKFS" -f "$P"
cp --sparse=always "$P" "$T/fresh.img"
run 0 "$FSCK" -n -v "$P"
expect "^refcount tree: empty$"
[ "$(le64 "$P" 40)" = 1 ] || fail "mkfs did not set the refcount feature"
[ "$(le64 "$P" 32)" = 1 ] || fail "mkfs did not set the snapshot feature"
ok "mkfs sets the refcount feature with an empty refcount tree"
run 0 "$TESTIMG" "$P" clean
run 0 "$FSCK" -n -v "$P"
expect "orphan list: inode 11 has 1 links"
expect "^refcount tree: 2 records in 3 blocks, depth 1$"
expect "clean, 12/4096 inodes"
ok "populated image (extent tree, dirs, symlinks, xattr, orphans, shared blocks with a refcount tree) is clean"

for sc in $("$TESTIMG" -l); do
	# sb-free: the free counts are hints, -n only shows them with -v
	case $sc in clean|sb-free) continue ;; esac
	[ -n "${WANT[$sc]:-}" ] || fail "no expectation for scenario $sc"
	cp --sparse=always "$T/fresh.img" "$P"
	run 0 "$TESTIMG" "$P" "$sc"
	run 4 "$FSCK" -n "$P"
	expect "${WANT[$sc]}"
	[ -z "${ALSO[$sc]:-}" ] || expect "${ALSO[$sc]}"
	[ -z "${UNWANT[$sc]:-}" ] || ! grep -Eq -- "${UNWANT[$sc]}" "$OUT" ||
		fail "output matches /${UNWANT[$sc]}/"
	ok "fsck detects $sc"
done

echo "all $PASS tests passed"
