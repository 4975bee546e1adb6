#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_reflink_crash.sh - crash consistency of reflink and copy-on-write,
# with dm-flakey as test_crash.sh does it: a workload runs on a dm-flakey
# device over $RLFS_DEV2; in its middle the table is switched to drop every
# write ("power cut"), the workload goes on for a while, the filesystem is
# unmounted, writes are let through again and it is mounted (journal
# replay).  Every block is written with a byte pattern distinct per file
# and generation, so after recovery each block of each file must hold its
# old or its new content and nothing else, and what was made durable
# (sync/fsync returned before the cut) must be new.  fsck -n must then
# find the filesystem clean (every refcount matches the mappings).
#
#   case_crash_clone_loop   cut in the middle of a loop of FICLONEs (new
#                           destinations and destinations with old data)
#   case_crash_cow_writes   cut in the middle of CoW writes to 8 clones
#                           and to their source, some fsync'ed
#   case_reload_sharing     sharing survives rmmod + insmod ($RLFS_MODULE)
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

FLAKEY=rlfs-rlcrash
CRASH_BLOCKS=32768	# 128 MiB
FDEV=
SECTORS=
BG=



case_cleanup() {
	if [ -n "$BG" ]; then
		kill "$BG" 2>/dev/null || true
		wait "$BG" 2>/dev/null || true
		BG=
	fi
	cd /
	if is_mounted; then umount "$MNT" 2>/dev/null || umount -l "$MNT" || true; fi
}

cleanup() {
	case_cleanup
	flakey_remove
	lib_cleanup
}
trap cleanup EXIT


# ---- helpers ----------------------------------------------------------------

require_reflink() { # in the mount point
	xfs_io -f -c "pwrite -q 0 4k" -c fsync .rlprobe > /dev/null
	xfs_io -f -c "reflink .rlprobe" .rlprobe2 > "$LOG" 2>&1 || true
	if [ "$(shared_blocks .rlprobe)" != 1 ]; then
		show "$LOG"
		rm -f .rlprobe .rlprobe2
		skip "FICLONE not supported by the module"
	fi
	rm -f .rlprobe .rlprobe2
}

# wait_count FILE N: wait (up to 120 s) until FILE holds a number >= N.
wait_count() {
	local i v
	for ((i = 0; i < 1200; i++)); do
		v=$(cat "$1" 2>/dev/null || echo 0)
		[ "${v:-0}" -ge "$2" ] && return 0
		sleep 0.1
	done
	die "workload did not reach $2 (at ${v:-0})"
}

# Byte of block b of the clone sources: 0x10 + b % 64 (never 0); old
# content of pre-existing destinations: 0x7a; new content of block b of
# CoW file k (k = 0 is the source): 0x80 + k*8 + b%8.
OLD_BYTE=0x7a

# pattern_args src|old NBLOCKS: xfs_io arguments writing blocks 0..N-1.
pattern_args() {
	local b
	for ((b = 0; b < $2; b++)); do
		if [ "$1" = src ]; then
			printf -- '-c\npwrite -q -S 0x%02x %d 4096\n' $((0x10 + b % 64)) $((b * 4096))
		else
			printf -- '-c\npwrite -q -S %s %d 4096\n' "$OLD_BYTE" $((b * 4096))
		fi
	done
}

# verify_spec SPEC: check the files named in SPEC (in the mount point).
#   file PATH SIZES [optional]   allowed sizes (comma list); a missing
#                                optional file is fine
#   blk PATH B BYTES             block B (if inside the file) is filled
#                                with one of BYTES (0 = zeros/hole)
verify_spec() {
	python3 - "$1" <<'EOF'
import os, sys
spec = {}
for line in open(sys.argv[1]):
    t = line.split()
    if not t:
        continue
    f = spec.setdefault(t[1], {"sizes": set(), "blocks": {}, "opt": False})
    if t[0] == "file":
        f["sizes"].update(int(x) for x in t[2].split(","))
        f["opt"] = len(t) > 3 and t[3] == "optional"
    elif t[0] == "blk":
        f["blocks"][int(t[2])] = set(int(x, 0) for x in t[3].split(","))
bad = 0
checked = 0
for path, f in sorted(spec.items()):
    if not os.path.exists(path):
        if not f["opt"]:
            print("# %s: missing" % path)
            bad += 1
        continue
    data = open(path, "rb").read()
    checked += 1
    if f["sizes"] and len(data) not in f["sizes"]:
        print("# %s: size %d, want one of %s" % (path, len(data), sorted(f["sizes"])))
        bad += 1
        continue
    for b, allowed in sorted(f["blocks"].items()):
        blk = data[b * 4096:(b + 1) * 4096]
        if not blk:
            continue
        v = blk[0]
        if blk.count(v) != len(blk) or v not in allowed:
            print("# %s: block %d holds %s, want one of %s" % (path, b,
                  "mixed bytes" if blk.count(v) != len(blk) else hex(v),
                  [hex(x) for x in sorted(allowed)]))
            bad += 1
            break
print("# verified %d files, %d bad" % (checked, bad))
sys.exit(1 if bad else 0)
EOF
}

# ---- cases ----------------------------------------------------------------------

SRC_BLOCKS=64		# 256 KiB clone-loop source
NCLONES=40	# the cut comes after NCLONES/2

case_crash_clone_loop() {
	local i durable spec=$WORK/spec size=$((SRC_BLOCKS * 4096))
	flakey_create
	mkfs_fs "$FDEV" "$CRASH_BLOCKS"
	mount_fs "$FDEV"
	cd "$MNT"
	require_reflink
	mkdir d
	# the source, and every third destination with old data
	python3 - "$SRC_BLOCKS" "$NCLONES" "$OLD_BYTE" <<'EOF'
import os, sys
nb, n, old = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3], 0)
with open("s", "wb") as f:
    f.write(b"".join(bytes([0x10 + b % 64]) * 4096 for b in range(nb)))
for i in range(0, n, 3):
    with open("d/c%d" % i, "wb") as f:
        f.write(bytes([old]) * 4096 * nb)
EOF
	sync
	echo 0 > "$WORK/done"
	echo 0 > "$WORK/durable"
	msg "clone loop: $NCLONES clones of a ${SRC_BLOCKS}-block file"
	# one process for the whole loop (a process start costs ~1 s in TCG)
	(cd "$MNT" && exec python3 - "$NCLONES" "$WORK" <<'EOF'
import fcntl, os, sys, time
FICLONE = 0x40049409
n, work = int(sys.argv[1]), sys.argv[2]
def note(name, v):
    with open(work + "/" + name + ".tmp", "w") as f:
        f.write("%d\n" % v)
    os.rename(work + "/" + name + ".tmp", work + "/" + name)
src = os.open("s", os.O_RDONLY)
for i in range(n):
    fd = os.open("d/c%d" % i, os.O_CREAT | os.O_WRONLY, 0o644)
    fcntl.ioctl(fd, FICLONE, src)
    os.close(fd)
    note("done", i + 1)
    if i % 4 == 3:
        os.sync()
        note("durable", i + 1)
    time.sleep(0.2)
EOF
	) &
	BG=$!
	wait_count "$WORK/done" $((NCLONES / 2))
	durable=$(cat "$WORK/durable")
	flakey_load drop
	msg "cut after $(cat "$WORK/done") clones, $durable durable"
	wait "$BG" || die "clone loop failed"
	BG=
	sync
	cd /
	crash_and_recover
	msg "recovered"
	{
		echo "file s $size"
		for ((b = 0; b < SRC_BLOCKS; b++)); do
			printf 'blk s %d 0x%02x\n' "$b" $((0x10 + b % 64))
		done
		for ((i = 0; i < NCLONES; i++)); do
			if [ "$i" -lt "$durable" ]; then
				echo "file d/c$i $size"
				alt=
			elif [ $((i % 3)) = 0 ]; then
				echo "file d/c$i $size"
				alt=,$OLD_BYTE
			else
				echo "file d/c$i 0,$size optional"
				alt=,0
			fi
			for ((b = 0; b < SRC_BLOCKS; b++)); do
				printf 'blk d/c%d %d 0x%02x%s\n' "$i" "$b" $((0x10 + b % 64)) "$alt"
			done
		done
	} > "$spec"
	(cd "$MNT" && verify_spec "$spec") || die "files torn by the crash"
	# the durable clones still share with the source
	[ "$durable" -gt 0 ] || die "no clone was durable before the cut"
	[ "$(shared_blocks "$MNT/d/c0")" = "$SRC_BLOCKS" ] ||
		die "d/c0 shares $(shared_blocks "$MNT/d/c0") blocks, want $SRC_BLOCKS"
	# the recovered filesystem is usable: CoW on a recovered clone
	xfs_io -c "pwrite -q -S 0x01 0 4096" -c fsync "$MNT/d/c0"
	[ "$(shared_blocks "$MNT/s")" -ge $((SRC_BLOCKS - 1)) ] || die "source lost its sharing"
	umount_fs
	msg "fsck"
	fsck_clean "$FDEV"
}

NCOW=4
COW_BLOCKS=32

cow_name() { if [ "$1" = 0 ]; then echo s; else echo "c$1"; fi; }

case_crash_cow_writes() {
	local k b f spec=$WORK/spec size=$((COW_BLOCKS * 4096))
	local -a order
	local -A must
	flakey_create
	mkfs_fs "$FDEV" "$CRASH_BLOCKS"
	mount_fs "$FDEV"
	cd "$MNT"
	require_reflink
	mapfile -t args < <(pattern_args src "$COW_BLOCKS")
	xfs_io -f "${args[@]}" -c fsync s
	for ((k = 1; k <= NCOW; k++)); do
		xfs_io -f -c "reflink $MNT/s" "c$k" > /dev/null
	done
	sync
	[ "$(shared_blocks s)" = "$COW_BLOCKS" ] || die "clones do not share"
	# A shuffled list of "k b" writes: every block of every file once.
	mapfile -t order < <(for ((k = 0; k <= NCOW; k++)); do
		for ((b = 0; b < COW_BLOCKS; b++)); do echo "$k $b"; done
	done | shuf --random-source=<(yes))
	: > "$WORK/durable"
	echo 0 > "$WORK/done"
	printf '%s\n' "${order[@]}" > "$WORK/order"
	msg "CoW writes: ${#order[@]} block writes over $((NCOW + 1)) files"
	# Every 5th write is followed by an fsync of its file, which makes
	# all writes to that file so far durable; $WORK/durable lists them.
	(cd "$MNT" && exec python3 - "$NCOW" "$WORK" <<'EOF'
import os, sys, time
ncow, work = int(sys.argv[1]), sys.argv[2]
fds = [os.open("s" if k == 0 else "c%d" % k, os.O_RDWR) for k in range(ncow + 1)]
written = [[] for _ in range(ncow + 1)]
durable = set()
def note(name, text):
    with open(work + "/" + name + ".tmp", "w") as f:
        f.write(text)
    os.rename(work + "/" + name + ".tmp", work + "/" + name)
n = 0
for line in open(work + "/order"):
    k, b = map(int, line.split())
    os.pwrite(fds[k], bytes([0x80 + k * 8 + b % 8]) * 4096, b * 4096)
    written[k].append(b)
    n += 1
    if n % 5 == 0:
        os.fsync(fds[k])
        durable.update((k, x) for x in written[k])
        note("durable", "".join("%d %d\n" % kb for kb in sorted(durable)))
    note("done", "%d\n" % n)
    time.sleep(0.05)
EOF
	) &
	BG=$!
	wait_count "$WORK/done" 60
	cp "$WORK/durable" "$WORK/durable.cut"
	flakey_load drop
	msg "cut after $(cat "$WORK/done") writes, $(sort -u "$WORK/durable.cut" | wc -l) durable"
	# let it run on a little after the cut, then stop it
	sleep 3
	kill "$BG" 2>/dev/null || true
	wait "$BG" 2>/dev/null || true
	BG=
	sync
	cd /
	crash_and_recover
	msg "recovered"
	while read -r k b _; do must["$k $b"]=1; done < "$WORK/durable.cut"
	[ "${#must[@]}" -gt 0 ] || die "no write was durable before the cut"
	{
		for ((k = 0; k <= NCOW; k++)); do
			f=$(cow_name "$k")
			echo "file $f $size"
			for ((b = 0; b < COW_BLOCKS; b++)); do
				if [ -n "${must["$k $b"]:-}" ]; then
					printf 'blk %s %d 0x%02x\n' "$f" "$b" $((0x80 + k * 8 + b % 8))
				else
					printf 'blk %s %d 0x%02x,0x%02x\n' "$f" "$b" $((0x10 + b % 64)) $((0x80 + k * 8 + b % 8))
				fi
			done
		done
	} > "$spec"
	(cd "$MNT" && verify_spec "$spec") || die "blocks torn by the crash"
	# usable: more CoW after recovery, then a clean fsck
	xfs_io -c "pwrite -q -S 0x02 0 8192" -c fsync "$MNT/c1"
	xfs_io -f -c "reflink $MNT/c2" "$MNT/c99" > /dev/null
	umount_fs
	msg "fsck"
	fsck_clean "$FDEV"
}

case_reload_sharing() {
	local n0 n1
	[ -n "${RLFS_MODULE:-}" ] && [ -r "${RLFS_MODULE:-}" ] ||
		skip "RLFS_MODULE not set: cannot reload the module"
	mkfs_fs "$DEV" "$BLOCKS"
	mount_fs "$DEV"
	cd "$MNT"
	require_reflink
	mapfile -t args < <(pattern_args src "$SRC_BLOCKS")
	xfs_io -f "${args[@]}" s
	xfs_io -f -c "reflink $MNT/s" c > /dev/null
	xfs_io -c "pwrite -q -S 0x03 8192 4096" c
	sha256sum s c > "$WORK/sums"
	n0=$(shared_blocks s)
	[ "$n0" = $((SRC_BLOCKS - 1)) ] || die "shared before reload: $n0, want $((SRC_BLOCKS - 1))"
	cd /
	umount_fs
	rmmod reflinkfs || die "rmmod reflinkfs failed"
	insmod "$RLFS_MODULE" || die "insmod $RLFS_MODULE failed"
	mount_fs "$DEV"
	(cd "$MNT" && sha256sum --quiet -c "$WORK/sums") || die "contents changed over the reload"
	n1=$(shared_blocks "$MNT/c")
	[ "$n1" = "$n0" ] || die "shared after reload: $n1, want $n0"
	# CoW on reloaded sharing, then the last sharer goes
	xfs_io -c "pwrite -q -S 0x04 0 4096" "$MNT/s"
	rm "$MNT/c"
	[ "$(shared_blocks "$MNT/s")" = 0 ] || die "s still shared after its clone went"
	umount_fs
	fsck_clean "$DEV"
}

require_vm
command -v xfs_io >/dev/null || { echo "SKIP: xfs_io not installed"; exit 4; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 4; }
ktap_run case_crash_clone_loop case_crash_cow_writes case_reload_sharing
