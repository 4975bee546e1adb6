#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_tool.sh - the reflinkfs(8) tool end to end: the seed's workflows
# (a base image reflinked into 8 VM disks, nightly snapshots, list,
# restore after a corruption, prune, unshare, diff for an incremental
# backup) with statfs at each step, the error paths (message and exit
# status), --json output, and the standard-interface commands on XFS.
#
# Cases that need snapshots (REFLINKFS_REFLINK_IMMUTABLE, GET_INFO) skip
# when the loaded module does not have them.  RLFS_TOOL_CASES="case_a
# case_b" runs only those cases.
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

umask 022
XMNT=$WORK/xfs
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)

case_cleanup() {
	if mountpoint -q "$XMNT" 2>/dev/null; then
		umount "$XMNT" 2>/dev/null || umount -l "$XMNT" 2>/dev/null || true
	fi
}

cleanup() {
	case_cleanup
	lib_cleanup
}
trap cleanup EXIT

# ---- helpers ---------------------------------------------------------------

# want_out EXPECTED: $WORK/out is exactly EXPECTED.
want_out() {
	if [ "$(cat "$WORK/out")" != "$1" ]; then
		msg "got:"
		show "$WORK/out"
		msg "want:"
		echo "$1" | show
		die "unexpected output"
	fi
}

# blocks_used_since FREE: 4 KiB blocks allocated since free_blocks said FREE.
blocks_used_since() { echo $(($1 - $(free_blocks))); }

setup_fs() {
	mkfs_fs "$DEV" "$BLOCKS"
	mount_fs "$DEV"
	cd "$MNT"
}

# Skip unless the module takes snapshots (IMMUTABLE) and has GET_INFO.
need_snapshots() {
	xfs_io -f -c "pwrite -q 0 4k" .probe
	if ! rt snap --name probe .probe > "$LOG" 2>&1; then
		show "$LOG"
		grep -q "has no" "$LOG" && skip "the loaded module has no snapshots"
		die "snap of a probe file failed"
	fi
	rt info .snapshot/probe > "$LOG" 2>&1 || { show "$LOG"; die "info failed"; }
	chattr -i .snapshot/probe
	rm -rf .probe .snapshot
}

# Whether GET_EXTENTS (refcounts) is there: "reflinkfs" or "fiemap".
extent_source() {
	rt extents --json "$1" > "$WORK/src.json"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["source"])' "$WORK/src.json"
}

finish() {
	cd /
	umount_fs
	fsck_clean "$DEV"
}

# ---- the seed: a base image cloned into VM disks ---------------------------

case_vm_images() {
	local free0 free1 used i
	setup_fs
	xfs_io -f -c "pwrite -q -S 0x42 0 16m" -c fsync base.img
	chmod 664 base.img
	touch -d "2008-11-18 12:00" base.img
	free0=$(free_blocks)
	for i in 1 2 3 4 5 6 7 8; do
		rt reflink base.img "vm$i.img"
	done
	used=$(blocks_used_since "$free0")
	msg "8 reflinks of a 16 MiB image: $used blocks"
	[ "$used" -le 16 ] || die "8 reflinks took $used blocks (want no data blocks)"
	cmp base.img vm1.img || die "vm1.img differs from base"
	cmp base.img vm8.img || die "vm8.img differs from base"
	# without -p: mode & ~umask, a new mtime; -p keeps both
	[ "$(stat -c %a vm1.img)" = 644 ] || die "vm1.img mode $(stat -c %a vm1.img)"
	[ "$(stat -c %Y vm1.img)" != "$(stat -c %Y base.img)" ] || die "vm1.img kept the mtime"
	rt reflink -p base.img kept.img
	[ "$(stat -c %a.%Y kept.img)" = "$(stat -c %a.%Y base.img)" ] || die "-p did not keep mode and mtime"
	rm kept.img

	# each VM writes one block of its own at i * 64 KiB
	free1=$(free_blocks)
	for i in 1 2 3 4 5 6 7 8; do
		xfs_io -c "pwrite -q -S 0x$i $((i * 64))k 4k" -c fsync "vm$i.img"
	done
	used=$(blocks_used_since "$free1")
	msg "8 CoW writes of 4 KiB: $used blocks"
	if [ "$used" -lt 8 ] || [ "$used" -gt 24 ]; then
		die "8 block writes took $used blocks"
	fi

	# diff finds exactly the written block of each
	for i in 1 5 8; do
		expect 0 '' rt diff base.img "vm$i.img"
		want_out "$((i * 65536)) 4096
total 4096 bytes in 1 range"
	done
	expect 0 '' rt diff vm2.img vm3.img
	want_out "131072 4096
196608 4096
total 8192 bytes in 2 ranges"
	rt diff --json base.img vm3.img > "$WORK/d.json"
	json_ok "$WORK/d.json" 'd["ranges"] == [{"offset": 196608, "length": 4096}]' \
		'd["bytes"] == 4096' 'd["a"] == "base.img" and d["b"] == "vm3.img"'

	# refcounts: blocks others rewrote are shared by 8, vm3's own by 1,
	# the rest by all 9
	rt extents --json vm3.img > "$WORK/e.json"
	rt extents vm3.img > "$WORK/out"
	show "$WORK/out"
	json_ok "$WORK/e.json" 'd["shared_bytes"] == 16 * 2**20 - 4096' \
		'd["exclusive_bytes"] == 4096' \
		'sum(e["length"] for e in d["extents"]) == 16 * 2**20' \
		'all(e["shared"] == (e["logical"] != 196608) for e in d["extents"])' \
		'd["source"] == "fiemap" or sum(e["length"] for e in d["extents"] if e["refcount"] == 8) == 7 * 4096' \
		'd["source"] == "fiemap" or sum(e["length"] for e in d["extents"] if e["refcount"] == 9) == 16 * 2**20 - 8 * 4096' \
		'd["source"] == "fiemap" or [e["refcount"] for e in d["extents"] if e["logical"] == 196608] == [1]'
	grep -q "^shared: $((16 * 1048576 - 4096)) bytes$" "$WORK/out" || die "extents: wrong shared total"
	finish
}

# ---- nightly snapshots and --list --------------------------------------------

case_snapshots() {
	local free0 used ino lineage d1 d2
	setup_fs
	need_snapshots
	xfs_io -f -c "pwrite -q -S 0x61 0 8m" -c fsync disk.img
	ino=$(stat -c %i disk.img)

	# night 1: a snapshot costs no data blocks
	free0=$(free_blocks)
	expect 0 '' rt snap --name night1 disk.img
	want_out ".snapshot/night1"
	used=$(blocks_used_since "$free0")
	msg "snapshot of 8 MiB: $used blocks"
	[ "$used" -le 4 ] || die "a snapshot took $used blocks"
	[ "$(stat -c %a .snapshot)" = 755 ] || die ".snapshot mode $(stat -c %a .snapshot)"
	lsattr -d .snapshot/night1 | grep -q '^....i' || die "night1 is not immutable"
	rt info --json .snapshot/night1 > "$WORK/i.json"
	rt info --json disk.img > "$WORK/f.json"
	lineage=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lineage"])' "$WORK/f.json")
	[ "$lineage" != 0 ] || die "disk.img got no lineage from its snapshot"
	json_ok "$WORK/i.json" 'd["snapshot"] and d["immutable"]' \
		"d['origin_ino'] == $ino" "d['lineage'] == $lineage" \
		'sorted(d["flags"]) == ["immutable", "lineage", "snapshot"]' \
		'd["size_bytes"] == 8 * 2**20 and d["exclusive_bytes"] == 0' \
		'd["shared_bytes"] == 8 * 2**20'
	rt info .snapshot/night1 > "$WORK/out"
	show "$WORK/out"
	grep -q "^flags: *snapshot,immutable,lineage$" "$WORK/out" || die "info: flags line"

	# the day's writes cost blocks; diff shows exactly them
	free0=$(free_blocks)
	xfs_io -c "pwrite -q -S 0x62 1m 8k" -c fsync disk.img
	used=$(blocks_used_since "$free0")
	[ "$used" -ge 2 ] || die "writing 8 KiB under a snapshot took $used blocks"
	expect 0 '' rt diff .snapshot/night1 disk.img
	want_out "1048576 8192
total 8192 bytes in 1 range"

	# night 2, a day's write, then two snapshots with default names
	expect 0 '' rt snap --name night2 disk.img
	xfs_io -c "pwrite -q -S 0x63 3m 4k" -c fsync disk.img
	d1=$(rt snap disk.img)
	d2=$(rt snap disk.img)
	msg "default names: $d1 $d2"
	[[ $d1 =~ ^\.snapshot/disk\.img@[0-9]{8}-[0-9]{6}$ ]] || die "default name '$d1'"
	[ "$d2" = "$d1.1" ] || [[ $d2 =~ ^\.snapshot/disk\.img@[0-9]{8}-[0-9]{6}$ ]] ||
		die "second default name '$d2'"
	[ "$d1" != "$d2" ] || die "two snapshots got one name"
	expect 1 'night1: File exists' rt snap --name night1 disk.img

	# a renamed snapshot is still found; same-named strangers are not
	chattr -i .snapshot/night2
	mv .snapshot/night2 .snapshot/renamed
	chattr +i .snapshot/renamed
	wfile ".snapshot/disk.img@20991231-000000" 5000
	rt reflink disk.img ".snapshot/disk.img@20990101-000000"
	xfs_io -f -c "pwrite -q 0 64k" other.img
	rt snap --name other-night other.img > /dev/null

	expect 0 '' rt snap --list disk.img
	show "$WORK/out"
	[ "$(wc -l < "$WORK/out")" = 5 ] || die "--list: want a header and 4 snapshots"
	[ "$(awk 'NR > 1 { print $NF }' "$WORK/out" | tr '\n' ' ')" = \
	  "${d2#.snapshot/} ${d1#.snapshot/} renamed night1 " ] || die "--list: wrong snapshots or order"
	rt snap --list --json disk.img > "$WORK/l.json"
	json_ok "$WORK/l.json" \
		"[s['name'] for s in d['snapshots']] == ['${d2#.snapshot/}', '${d1#.snapshot/}', 'renamed', 'night1']" \
		"d['lineage'] == $lineage and d['complete']" \
		"all(s['origin_ino'] == $ino and s['lineage'] == $lineage for s in d['snapshots'])" \
		'[s["exclusive_bytes"] for s in d["snapshots"]] == [0, 0, 0, 8192]' \
		'all(s["path"] == ".snapshot/" + s["name"] for s in d["snapshots"])' \
		'all(d["snapshots"][i]["snap_time_sec"] >= d["snapshots"][i + 1]["snap_time_sec"] for i in range(3))'
	# --dir, and a snapshot given as FILE lists its lineage beside it
	expect 0 '' rt snap --list --dir .snapshot disk.img
	[ "$(wc -l < "$WORK/out")" = 5 ] || die "--list --dir: want 4 snapshots"
	expect 0 '' rt snap --list .snapshot/night1
	[ "$(wc -l < "$WORK/out")" = 5 ] || die "--list SNAPSHOT: want 4 snapshots"
	expect 0 '' rt snap --list other.img
	[ "$(awk 'NR > 1 { print $NF }' "$WORK/out")" = other-night ] || die "other.img's list"

	# a snapshot of a snapshot names it as origin and keeps the lineage
	mkfifo .snapshot/fifo
	expect 0 '' rt snap --dir .snapshot --name chain .snapshot/night1
	rt info --json .snapshot/chain > "$WORK/i.json"
	json_ok "$WORK/i.json" "d['origin_ino'] == $(stat -c %i .snapshot/night1)" \
		"d['lineage'] == $lineage and d['snapshot']"
	expect 0 '' rt snap --list disk.img
	[ "$(awk 'NR == 2 { print $NF }' "$WORK/out")" = chain ] || die "--list: the chained snapshot is not first"
	[ "$(wc -l < "$WORK/out")" = 6 ] || die "--list: want 5 snapshots with the chained one"
	finish
}

# ---- restore after a corruption, lineage, prune ------------------------------

case_restore_prune() {
	local sum1 sum2 ino lineage free0 n
	setup_fs
	need_snapshots
	xfs_io -f -c "pwrite -q -S 0x71 0 4m" -c fsync disk.img
	rt snap --name n1 disk.img > /dev/null
	xfs_io -c "pwrite -q -S 0x72 64k 8k" -c fsync disk.img
	sum1=$(sha256sum < disk.img)
	rt snap --name n2 disk.img > /dev/null
	xfs_io -c "pwrite -q -S 0x73 2m 4k" -c fsync disk.img
	rt snap --name n3 disk.img > /dev/null
	rt info --json disk.img > "$WORK/f.json"
	lineage=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lineage"])' "$WORK/f.json")
	ino=$(stat -c %i disk.img)

	# the disk is corrupted: restore n2
	dd if=/dev/urandom of=disk.img bs=4k seek=10 count=3 conv=notrunc,fsync status=none
	sum2=$(sha256sum < disk.img)
	[ "$sum1" != "$sum2" ] || die "corruption did not change the file"
	expect 0 '' rt snap --restore .snapshot/n2 disk.img
	want_out ""
	[ "$(sha256sum < disk.img)" = "$sum1" ] || die "restored content differs from n2"
	cmp disk.img .snapshot/n2 || die "restored disk.img differs from n2"
	[ "$(stat -c %i disk.img)" != "$ino" ] || die "restore kept the inode"
	[ -z "$(find . -maxdepth 1 -name '.disk.img.restore.*')" ] || die "temporary left behind"
	lsattr disk.img | grep -q '^....i' && die "restored file is immutable"
	xfs_io -c "pwrite -q -S 0x74 0 4k" -c fsync disk.img || die "restored file not writable"
	rt info --json disk.img > "$WORK/f.json"
	json_ok "$WORK/f.json" "d['lineage'] == $lineage" 'not d["snapshot"]' \
		'd["flags"] == ["lineage"]'

	# the restored file still has its snapshots, and new ones join them
	rt snap --name n4 disk.img > /dev/null
	rt snap --list --json disk.img > "$WORK/l.json"
	json_ok "$WORK/l.json" '[s["name"] for s in d["snapshots"]] == ["n4", "n3", "n2", "n1"]'

	# refusals: not a snapshot, another file's snapshot; --force
	xfs_io -f -c "pwrite -q 0 16k" other.img
	rt snap --name o1 other.img > /dev/null
	sum2=$(sha256sum < disk.img)
	expect 1 'other.img: not a snapshot \(--force' rt snap --restore other.img disk.img
	expect 1 'disk.img: .snapshot/o1 is not a snapshot of this file' \
		rt snap --restore .snapshot/o1 disk.img
	[ "$(sha256sum < disk.img)" = "$sum2" ] || die "a refused restore changed disk.img"
	expect 0 '' rt snap --restore --force .snapshot/o1 other-copy.img
	cmp other.img other-copy.img || die "restore to a new file differs"
	# a missing FILE is created, and is in the lineage
	expect 0 '' rt snap --restore .snapshot/n3 fresh.img
	cmp fresh.img .snapshot/n3 || die "restore into a new name differs"
	rm fresh.img other-copy.img

	# prune keeps the newest 2, reports what the test measures itself
	free0=$(free_blocks)
	rt snap --prune --keep 2 --json disk.img > "$WORK/p.json"
	n=$(free_blocks)
	json_ok "$WORK/p.json" '[s["name"] for s in d["removed"]] == ["n1", "n2"]' \
		"d['freed_bytes'] == ($n - $free0) * 4096" 'd["freed_bytes"] > 0' \
		'd["kept"] == 2 and d["keep"] == 2'
	msg "prune freed $(((n - free0) * 4)) KiB"
	if [ -e .snapshot/n1 ] || [ -e .snapshot/n2 ]; then
		die "pruned snapshots still there"
	fi
	[ -e .snapshot/o1 ] || die "prune removed another file's snapshot"
	expect 0 '' rt snap --prune --keep 1 disk.img
	want_out "removed .snapshot/n3
freed $(($(stat -f -c %f .) * 4096 - n * 4096)) bytes"
	expect 0 '' rt snap --list disk.img
	[ "$(awk 'NR > 1 { print $NF }' "$WORK/out")" = n4 ] || die "after prune: want only n4"
	expect 0 '' rt snap --prune --keep 5 disk.img
	want_out "freed 0 bytes"
	finish
}

# ---- unshare: the seed's "cp foo bar; mv bar foo" in place ---------------------

case_unshare() {
	local ino free0 used
	setup_fs
	xfs_io -f -c "pwrite -q -S 0x55 0 1m" -c fsync a
	rt reflink a b
	rt reflink a c
	ino=$(stat -c %i b)
	free0=$(free_blocks)
	expect 0 '' rt unshare b
	want_out ""
	used=$(blocks_used_since "$free0")
	[ "$(stat -c %i b)" = "$ino" ] || die "unshare changed the inode"
	[ "$used" -ge 256 ] || die "unsharing 1 MiB took $used blocks"
	cmp a b || die "unshare changed the data"
	rt extents --json b > "$WORK/e.json"
	json_ok "$WORK/e.json" 'd["shared_bytes"] == 0 and d["exclusive_bytes"] == 2**20' \
		'not any(e["shared"] for e in d["extents"])' \
		'd["source"] == "fiemap" or all(e["refcount"] == 1 for e in d["extents"])'
	expect 0 '' rt diff a b
	want_out "0 1048576
total 1048576 bytes in 1 range"
	# a range, with size suffixes
	expect 0 '' rt unshare --offset 64k --length 128K c
	rt extents --json c > "$WORK/e.json"
	json_ok "$WORK/e.json" 'd["exclusive_bytes"] == 131072' \
		'min(e["logical"] for e in d["extents"] if not e["shared"]) == 65536' \
		'max(e["logical"] + e["length"] for e in d["extents"] if not e["shared"]) == 196608'
	expect 0 '' rt unshare -o 1m c		# from EOF on: nothing to do
	cmp a c || die "range unshare changed the data"
	finish
}

# ---- diff against a clone: exactly the written ranges --------------------------

# diff_scenario: in the current directory, on any filesystem with FICLONE.
diff_scenario() {
	xfs_io -f -c "pwrite -q -S 0x44 0 1m" -c fsync orig
	rt reflink orig copy
	expect 0 '' rt diff orig copy
	want_out "total 0 bytes in 0 ranges"
	xfs_io -c "pwrite -q -S 0x45 8k 4k" -c "pwrite -q 100000 10" \
	       -c "pwrite -q 200k 12k" -c "pwrite -q 400k 4k" \
	       -c "pwrite -q 404k 4k" -c "pwrite -q $((1048576 + 5000)) 100" \
	       -c fsync copy
	expect 0 '' rt diff orig copy
	want_out "8192 4096
98304 4096
204800 12288
409600 8192
1052672 4096
total 32768 bytes in 5 ranges"
	rt diff --json copy orig > "$WORK/d.json"
	json_ok "$WORK/d.json" 'd["bytes"] == 32768 and d["size_b"] == 2**20' \
		'[(r["offset"], r["length"]) for r in d["ranges"]] == [(8192, 4096), (98304, 4096), (204800, 12288), (409600, 8192), (1052672, 4096)]' \
		"d['size_a'] == $((1048576 + 5100))"
	# a file and a copy that shares nothing
	cp --reflink=never orig full
	expect 0 '' rt diff orig full
	want_out "0 1048576
total 1048576 bytes in 1 range"

	# more extents than one GET_EXTENTS/FIEMAP batch (256): 300 blocks
	# with holes between them
	local i cmds=()
	for ((i = 0; i < 300; i++)); do
		cmds+=(-c "pwrite -q -S 0x$((i % 90 + 10)) $((i * 8))k 4k")
	done
	xfs_io -f "${cmds[@]}" -c fsync sparse
	rt reflink sparse sparse2
	cp --reflink=never --sparse=always sparse sparse3
	rt extents --json sparse > "$WORK/e.json"
	rt diff --json sparse sparse3 > "$WORK/d.json"
	expect 0 '' rt diff sparse sparse2
	want_out "total 0 bytes in 0 ranges"
	# (XFS may keep preallocation in the holes as unwritten extents)
	json_ok "$WORK/e.json" \
		'[(e["logical"], e["length"]) for e in d["extents"] if "unwritten" not in e["flags"]] == [(i * 8192, 4096) for i in range(300)]' \
		'"last" in d["extents"][-1]["flags"]' \
		'sum(e["length"] for e in d["extents"] if e["shared"] and "unwritten" not in e["flags"]) == 300 * 4096'
	json_ok "$WORK/d.json" '[(r["offset"], r["length"]) for r in d["ranges"]] == [(i * 8192, 4096) for i in range(300)]'
	rm sparse sparse2 sparse3
}

case_diff() {
	setup_fs
	diff_scenario
	finish
}

# ---- the standard-interface commands on XFS ------------------------------------

case_xfs() {
	[ -b "$DEV2" ] || skip "no second scratch device"
	command -v mkfs.xfs > /dev/null || skip "mkfs.xfs not installed"
	modprobe xfs 2>/dev/null || true
	mkfs.xfs -f -q -m reflink=1 "$DEV2" > "$LOG" 2>&1 || { show "$LOG"; skip "mkfs.xfs -m reflink=1 failed"; }
	mkdir -p "$XMNT"
	mount -t xfs "$DEV2" "$XMNT" > "$LOG" 2>&1 || { show "$LOG"; skip "cannot mount XFS"; }
	setup_fs		# reflinkfs beside it, for the cross-filesystem case
	cd "$XMNT"
	diff_scenario
	expect 1 '' rt reflink orig copy	# exists
	grep -q "^reflinkfs: copy: File exists$" "$WORK/err" || die "existing destination message"
	expect 0 '' rt reflink full again
	cmp full again || die "XFS reflink differs"
	rt extents --json again > "$WORK/e.json"
	json_ok "$WORK/e.json" 'd["source"] == "fiemap"' \
		'all(e["refcount"] is None and e["shared"] for e in d["extents"])' \
		'd["shared_bytes"] == 2**20'
	expect 0 '' rt extents again
	grep -qE '^ +0 +[0-9]+ +[0-9]+ +shared ' "$WORK/out" || { show "$WORK/out"; die "extents on XFS: no 'shared' column"; }
	expect 0 '' rt unshare again
	rt extents --json again > "$WORK/e.json"
	json_ok "$WORK/e.json" 'd["shared_bytes"] == 0 and d["exclusive_bytes"] >= 2**20'
	cmp full again || die "XFS unshare changed the data"
	# reflinkfs-only commands say so
	expect 1 '^reflinkfs: orig: not a reflinkfs filesystem \(snap needs reflinkfs\)$' rt snap orig
	expect 1 '^reflinkfs: orig: not a reflinkfs filesystem \(snap needs reflinkfs\)$' rt snap --list orig
	expect 1 '^reflinkfs: orig: not a reflinkfs filesystem \(info needs reflinkfs\)$' rt info orig
	expect 1 '^reflinkfs: orig: not a reflinkfs filesystem \(reflink -p needs reflinkfs\)$' rt reflink -p orig p
	[ ! -e p ] || die "reflink -p on XFS left a file"
	# across filesystems: refused, nothing left behind
	expect 1 "^reflinkfs: $MNT/x: .*(Invalid cross-device link|Operation not supported)" rt reflink orig "$MNT/x"
	[ ! -e "$MNT/x" ] || die "a failed cross-filesystem reflink left its destination"
	cd /
	umount "$XMNT"
	finish
}

# ---- error paths ---------------------------------------------------------------

case_errors() {
	local c snaps=1
	setup_fs
	(need_snapshots) > /dev/null 2>&1 || snaps=0
	wfile a 10000
	mkdir d
	# a missing file
	for c in "info nosuch" "extents nosuch" "unshare nosuch" "snap nosuch" \
		 "snap --list nosuch" "reflink nosuch x" "diff a nosuch"; do
		# shellcheck disable=SC2086
		expect 1 '^reflinkfs: nosuch: No such file or directory$' rt $c
	done
	expect 1 '^reflinkfs: .snapshot/nosuch: No such file or directory$' \
		rt snap --restore .snapshot/nosuch a
	# an existing destination
	wfile b 10
	expect 1 '^reflinkfs: b: File exists$' rt reflink a b
	[ "$(stat -c %s b)" = 10 ] || die "reflink over an existing file changed it"
	# a directory
	for c in "info d" "extents d" "unshare d" "snap d" "reflink d x" "diff a d"; do
		# shellcheck disable=SC2086
		expect 1 '^reflinkfs: d: Is a directory$' rt $c
	done
	# no permission, as uid 65534
	command -v setpriv > /dev/null || skip "setpriv (util-linux) not installed"
	wfile secret 4096
	chmod 600 secret
	mkdir pub
	chmod 1777 pub
	expect 1 '^reflinkfs: secret: Permission denied$' "${NOBODY[@]}" "$TOOL" reflink secret pub/x
	expect 1 '^reflinkfs: y: Permission denied$' "${NOBODY[@]}" "$TOOL" reflink a y
	expect 1 '^reflinkfs: a: Permission denied$' "${NOBODY[@]}" "$TOOL" unshare a
	expect 1 '^reflinkfs: secret: Permission denied$' "${NOBODY[@]}" "$TOOL" diff a secret
	if [ "$snaps" = 1 ]; then
		expect 1 '^reflinkfs: a: Operation not permitted \(a snapshot needs CAP_LINUX_IMMUTABLE' \
			"${NOBODY[@]}" "$TOOL" snap --dir pub a
		rt snap --name s1 a > /dev/null
		rt snap --name s2 a > /dev/null
		expect 1 '^reflinkfs: .snapshot/s1: Operation not permitted \(clearing the immutable flag needs CAP_LINUX_IMMUTABLE\)$' \
			"${NOBODY[@]}" "$TOOL" snap --prune --keep 1 a
		[ -e .snapshot/s1 ] || die "a refused prune removed s1"
		expect 1 '^reflinkfs: \.snapshot/s1: Operation not permitted' rt unshare .snapshot/s1
		expect 1 '^reflinkfs: \.snapshot/s1: File exists$' rt reflink a .snapshot/s1
		expect 1 '^reflinkfs: no/such: No such file or directory$' rt snap --list --dir no/such a
		expect 1 '^reflinkfs: d: Is a directory$' rt snap --restore --force .snapshot/s1 d
	fi
	# bad usage: exit 2 with a hint
	expect 2 "^Usage: reflinkfs COMMAND" rt
	expect 2 "^reflinkfs: unknown command 'frobnicate'" rt frobnicate a
	expect 2 "^reflinkfs: unknown option '--frob'" rt --frob
	expect 2 "unrecognized option '--bogus'" rt snap --bogus a
	expect 2 "Try 'reflinkfs snap --help'" rt snap --keep 2 a
	expect 2 "needs --keep" rt snap --prune a
	expect 2 "invalid --keep count 'x'" rt snap --prune --keep x a
	expect 2 "exclude each other" rt snap --list --restore a b
	expect 2 "expected SNAPSHOT and FILE" rt snap --restore a
	expect 2 "invalid snapshot name 'x/y'" rt snap --name x/y a
	expect 2 "invalid offset '12q'" rt unshare --offset 12q a
	expect 2 "invalid length '1kk'" rt unshare --length 1kk a
	expect 2 "expected two files" rt diff a
	expect 2 "expected SRC and DST" rt reflink a
	expect 2 "expected one FILE" rt extents
	expect 2 "expected one FILE" rt info a b
	expect 2 "unrecognized option|invalid option" rt reflink -x a b
	[ ! -e .snapshot ] || [ "$snaps" = 1 ] || die "a failed command made .snapshot"
	# --help everywhere, exit 0 on stdout
	for c in reflink snap diff unshare extents info; do
		expect 0 '' rt "$c" --help
		grep -q "^Usage: reflinkfs $c " "$WORK/out" || die "$c --help: no usage line"
	done
	grep -q "XFS" < <(rt diff --help) || die "diff --help does not say it works on XFS"
	grep -q "Needs reflinkfs" < <(rt snap --help) || die "snap --help does not say it needs reflinkfs"
	expect 0 '' rt --help
	grep -q "^  snap " "$WORK/out" || die "--help lists no snap command"
	expect 0 '' rt help unshare
	finish
}

# ---- --json with awkward names ---------------------------------------------------

case_json_names() {
	local name
	setup_fs
	name=$(printf 'we"ird\\\n\tname\001\377.img')
	wfile "$name" 8192
	rt extents --json "$name" > "$WORK/e.json"
	rt diff --json "$name" "$name" > "$WORK/d.json"
	json_ok "$WORK/e.json" 'd["path"] == "we\"ird\\\n\tname\x01\ufffd.img"' \
		'd["size"] == 8192' 'len(d["extents"]) >= 1'
	json_ok "$WORK/d.json" 'd["ranges"] == [] and d["bytes"] == 0'
	finish
}

require_vm
command -v xfs_io > /dev/null || { echo "SKIP: xfs_io not installed"; exit 4; }
command -v python3 > /dev/null || { echo "SKIP: python3 not installed"; exit 4; }
[ -x "$TOOL" ] || command -v "$TOOL" > /dev/null ||
	{ echo "SKIP: reflinkfs tool not built (make userspace)"; exit 4; }
# shellcheck disable=SC2086
ktap_run ${RLFS_TOOL_CASES:-case_vm_images case_snapshots case_restore_prune \
	case_unshare case_diff case_xfs case_errors case_json_names}
