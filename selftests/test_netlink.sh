#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_netlink.sh - the generic netlink family "reflinkfs" through the
# tool (reflinkfs status, monitor, inject) and through the kernel's own
# tools/net/ynl/cli.py driven by the spec alone.
#
#   case_usage           --help, usage errors (exit 2), a path that is not
#                        on reflinkfs or does not exist (exit 1)
#   case_status_exact    known reflinks, a snapshot, a clone, CoW writes, a
#                        punch, unshares, a dedupe, a copy_file_range, an
#                        unlink and a truncate: shared blocks, logical and
#                        physical bytes and every counter equal what the
#                        test computes; free blocks equal statfs f_bfree;
#                        records and used blocks equal fsck's counts
#   case_status_all      two filesystems: the dump lists both with their
#                        devices and mount points, text and JSON; anyone
#                        may ask
#   case_events          monitor --json: mount, reflink, snapshot, FICLONE,
#                        FICLONERANGE, dedupe, copy_file_range, CoW
#                        (buffered, O_DIRECT, mmap), unshare, ENOSPC (real,
#                        on a full filesystem), unmount, in order with the
#                        right inodes and byte counts; CoW blocks add up to
#                        the status counter; a MOUNTPOINT filter; text lines
#   case_corruption      a corrupted refcount-tree block: the corruption
#                        event names it, status says error; fsck finds it
#   case_inject          inject: arm, --list (text, JSON), --clear one and
#                        all, the kernel's extended ACK message in errors;
#                        every site once under reflink, CoW write, unshare,
#                        dedupe, punch and truncate: the errno reaches the
#                        caller (meta-write: the journal aborts, a remount
#                        goes on, fsck clean), both sharers keep their
#                        data, the retry succeeds
#   case_unprivileged    uid 65534: status and inject --list work, arming
#                        and clearing get EPERM, monitor receives events
#   case_ynl             cli.py: dump and do status-get, fault-set /
#                        fault-get / fault-clear, an error with its extack,
#                        subscribe to events
#   case_module_unload   (last) a monitor attached while the module is
#                        unloaded and loaded again: rmmod succeeds, the
#                        monitor stays and hears the next mount
#
# RLFS_NETLINK_CASES="case_a case_b" runs only those cases.
set -euo pipefail
# shellcheck disable=SC2317  # case functions are called through ktap_run
. "$(dirname "$0")/lib.sh"

MNT2=$WORK/mnt2
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
YNL_DIR=$RLFS_TOP/build/ynl
MON_LIST=$WORK/monitors		# pids of the background monitors and cli.py

case_cleanup() {
	local p
	if [ -e "$MON_LIST" ]; then
		while read -r p; do
			kill -TERM "$p" 2>/dev/null || true
		done < "$MON_LIST"
		rm -f "$MON_LIST"
	fi
	if mountpoint -q "$MNT2" 2>/dev/null; then
		umount "$MNT2" 2>/dev/null || umount -l "$MNT2" 2>/dev/null || true
	fi
}

cleanup() {
	case_cleanup
	lib_cleanup
	# Leave the module loaded for the tests that follow.
	if [ -n "${RLFS_MODULE:-}" ] && ! grep -qw "$FSTYPE" /proc/filesystems; then
		insmod "$RLFS_MODULE" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# ---- helpers -------------------------------------------------------------------

# new_encode_dev of the filesystem holding PATH.
enc_dev() {
	local ma mi
	read -r ma mi < <(stat -c '%Hd %Ld' "$1")
	echo $(( (mi & 0xff) | (ma << 8) | ((mi & ~0xff) << 12) ))
}

setup_fs() {
	mkfs_fs "$DEV" "$BLOCKS"
	mount_fs "$DEV"
	cd "$MNT"
}

finish() {
	cd /
	umount_fs
	fsck_clean "$DEV"
}

# ST[key]: the fields of "reflinkfs status --json $MNT" (one tool process,
# parsed in bash: the VM is slow at starting interpreters).
declare -A ST
status_read() {
	local line json=$WORK/status.json
	sync -f "$MNT"
	rt status --json "$MNT" > "$json" || die "reflinkfs status failed"
	ST=()
	while IFS= read -r line; do
		if [[ $line =~ ^\ *\"([a-z_]+)\":\ (\"[^\"]*\"|[0-9]+|null),?$ ]]; then
			ST[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]//\"/}
		fi
	done < "$json"
	[ -n "${ST[blocks_total]:-}" ] || { show "$json"; die "no blocks_total in the status"; }
}

# start_monitor OUT ERR COMMAND...: run a monitor in the background and
# wait until it listens; its pid is in MON_PID (killed after the case).
declare -A MON_ERR
start_monitor() {
	local out=$1 err=$2 i
	shift 2
	"$@" > "$out" 2> "$err" &
	MON_PID=$!
	echo "$MON_PID" >> "$MON_LIST"
	MON_ERR[$MON_PID]=$err
	for i in $(seq 1 200); do
		grep -q "listening" "$err" 2>/dev/null && return 0
		kill -0 "$MON_PID" 2>/dev/null || break
		sleep 0.05
	done
	show "$err"
	die "the monitor did not start listening"
}

# wait_line FILE REGEX: until a line of FILE matches (10 s).
wait_line() {
	local i
	for i in $(seq 1 200); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	show "$1"
	die "no line matching '$2' in $(basename "$1")"
}

# wait_count FILE REGEX N: until N lines of FILE match (10 s).
wait_count() {
	local i
	for i in $(seq 1 200); do
		[ "$(grep -cE -- "$2" "$1" 2>/dev/null)" = "$3" ] && return 0
		sleep 0.05
	done
	show "$1"
	die "$(grep -cE -- "$2" "$1") lines matching '$2' in $(basename "$1"), want $3"
}

# stop_monitor PID [SIGNAL]: it must still run, and exit 0.
stop_monitor() {
	local rc=0
	if ! kill "-${2:-INT}" "$1" 2>/dev/null; then
		wait "$1" || rc=$?
		show "${MON_ERR[$1]:-/dev/null}"
		die "the monitor had exited (status $rc) before it was stopped"
	fi
	wait "$1" || rc=$?
	[ "$rc" = 0 ] || die "the monitor exited $rc after SIG${2:-INT} (want 0)"
}

# fsck_counts DEV: "RECORDS USED TOTAL" from fsck -n -v.
fsck_counts() {
	local rec used total
	"$FSCK" -n -v "$1" > "$LOG" 2>&1 || { show "$LOG"; die "fsck.reflinkfs -n -v $1 not clean"; }
	if grep -q "refcount tree: empty" "$LOG"; then
		rec=0
	else
		rec=$(sed -n 's/.*refcount tree: \([0-9]*\) records in.*/\1/p' "$LOG")
	fi
	read -r used total < <(sed -n 's/.*inodes, \([0-9]*\)\/\([0-9]*\) blocks$/\1 \2/p' "$LOG")
	[ -n "$rec" ] && [ -n "$used" ] || { show "$LOG"; die "no counts in fsck -v output"; }
	echo "$rec $used $total"
}

# ---- usage ---------------------------------------------------------------------

case_usage() {
	local c
	for c in status monitor inject; do
		expect 0 '' rt "$c" --help
		grep -q "^Usage: reflinkfs $c " "$WORK/out" || die "$c --help: no usage line"
	done
	grep -q "default EIO" < <(rt inject --help) || die "inject --help does not name the default errno"
	expect 0 '' rt --help
	grep -qE "^  status +" "$WORK/out" && grep -qE "^  monitor +" "$WORK/out" &&
		grep -qE "^  inject +" "$WORK/out" || die "--help does not list the new commands"
	expect 2 "expected at most one MOUNTPOINT" rt status a b
	expect 2 "--all and a MOUNTPOINT" rt status --all /
	expect 2 "unrecognized option" rt status --bogus
	expect 2 "expected at most one MOUNTPOINT" rt monitor a b
	expect 2 "expected MOUNTPOINT and a site" rt inject /
	expect 2 "unknown fault site 'disk'" rt inject / disk
	expect 2 "invalid --nth '0'" rt inject / alloc --nth 0
	expect 2 "invalid --nth 'x'" rt inject / alloc --nth x
	expect 2 "invalid --every '-1'" rt inject / alloc --every -1
	expect 2 "invalid --errno 'EFROB'" rt inject / alloc --errno EFROB
	expect 2 "do not go together" rt inject / --list --clear
	expect 2 "not with --list or --clear" rt inject / --list --nth 2
	expect 2 "--json goes with --list" rt inject / alloc --json
	expect 2 "expected one MOUNTPOINT" rt inject / alloc --list
	# not reflinkfs, missing
	mkdir -p "$WORK/plain"
	for c in status monitor "inject --list"; do
		# shellcheck disable=SC2086
		expect 1 "^reflinkfs: $WORK/plain: not a reflinkfs filesystem \(${c%% *} needs reflinkfs\)$" \
			rt $c "$WORK/plain"
		# shellcheck disable=SC2086
		expect 1 "^reflinkfs: $WORK/nosuch: No such file or directory$" rt $c "$WORK/nosuch"
	done
}

# ---- status -----------------------------------------------------------------------

# check_status SHARED EXTRA [COUNTER=DELTA...]: the status now, against
# the values the test computed: SHARED blocks with refcount >= 2, EXTRA
# blocks of sharing (sum of (refcount - 1)), counters since the baseline
# in B[] (not named: unchanged).
declare -A B
check_status() {
	local shared=$1 extra=$2 kv k v free
	shift 2
	status_read
	free=$(stat -f -c %f "$MNT")
	[ "${ST[state]}" = rw ] || die "state ${ST[state]}"
	[ "${ST[block_size]}" = 4096 ] || die "block size ${ST[block_size]}"
	[ "${ST[blocks_total]}" = "$BLOCKS" ] || die "blocks_total ${ST[blocks_total]}, want $BLOCKS"
	[ "${ST[blocks_free]}" = "$free" ] || die "blocks_free ${ST[blocks_free]}, statfs f_bfree $free"
	[ "${ST[blocks_used]}" = $((BLOCKS - free)) ] || die "blocks_used ${ST[blocks_used]}, want $((BLOCKS - free))"
	[ "${ST[physical_bytes]}" = $((ST[blocks_used] * 4096)) ] ||
		die "physical_bytes ${ST[physical_bytes]}, want blocks_used * 4096"
	[ "${ST[shared_blocks]}" = "$shared" ] || die "shared_blocks ${ST[shared_blocks]}, want $shared"
	[ "${ST[logical_bytes]}" = $((ST[physical_bytes] + extra * 4096)) ] ||
		die "logical_bytes ${ST[logical_bytes]} = physical + $(( (ST[logical_bytes] - ST[physical_bytes]) / 4096 )) blocks, want + $extra"
	[ "${ST[saved_bytes]}" = $((extra * 4096)) ] || die "saved_bytes ${ST[saved_bytes]}"
	if [ "$shared" = 0 ]; then
		[ "${ST[refcount_records]}" = 0 ] || die "refcount_records ${ST[refcount_records]} with nothing shared"
	else
		[ "${ST[refcount_records]}" -ge 1 ] || die "refcount_records ${ST[refcount_records]} with $shared shared"
	fi
	declare -A want=([reflinks]=0 [snapshots]=0 [clones]=0 [dedupes]=0 [cow_blocks]=0
			 [unshared_blocks]=0 [enospc]=0 [corruptions]=0)
	for kv in "$@"; do
		want[${kv%%=*}]=${kv#*=}
	done
	for k in "${!want[@]}"; do
		v=$((ST[$k] - B[$k]))
		[ "$v" = "${want[$k]}" ] || die "$k: +$v since mount, want +${want[$k]}"
	done
	[ "${ST[commits]}" -ge "${B[commits]}" ] || die "commits went down"
	msg "status ok: shared $shared, extra $extra, records ${ST[refcount_records]}, used ${ST[blocks_used]}"
}

status_baseline() {
	local k
	status_read
	B=()
	for k in "${!ST[@]}"; do
		B[$k]=${ST[$k]}
	done
}

# Unmount, compare records and used blocks with fsck's own count, mount;
# the counters start again.
status_vs_fsck() {
	local rec used total
	status_read
	cd /
	umount_fs
	read -r rec used total < <(fsck_counts "$DEV")
	[ "$rec" = "${ST[refcount_records]}" ] || die "refcount_records ${ST[refcount_records]}, fsck counts $rec"
	[ "$used" = "${ST[blocks_used]}" ] || die "blocks_used ${ST[blocks_used]}, fsck counts $used"
	[ "$total" = "${ST[blocks_total]}" ] || die "blocks_total ${ST[blocks_total]}, fsck counts $total"
	msg "fsck agrees: $rec records, $used/$total blocks"
	mount_fs "$DEV"
	cd "$MNT"
	status_baseline
	local k
	for k in reflinks snapshots clones dedupes cow_blocks unshared_blocks enospc corruptions; do
		[ "${B[$k]}" = 0 ] || die "$k is ${B[$k]} right after mount"
	done
}

case_status_exact() {
	setup_fs
	mkdir snaps
	# a: 64 blocks; every expected value below is in blocks of 4 KiB
	xfs_io -f -c "pwrite -q -S 0x11 0 256k" -c fsync a
	status_baseline
	check_status 0 0
	rt reflink a b					# a b
	check_status 64 64 reflinks=1
	rt snap --dir snaps --name s1 a > /dev/null	# a b s
	check_status 64 128 reflinks=2 snapshots=1
	xfs_io -f -c "reflink a 0 0 128k" c		# 0-31: a b s c
	check_status 64 160 reflinks=2 snapshots=1 clones=1
	status_vs_fsck

	# CoW of b's blocks 0-3: 0-3 a s c, 4-31 a b s c, 32-63 a b s
	xfs_io -c "pwrite -q -S 0x22 0 16k" -c fsync b
	check_status 64 156 cow_blocks=4
	# punch c's blocks 4-7: 4-7 a b s
	xfs_io -c "fpunch 16k 16k" -c fsync c
	check_status 64 152 cow_blocks=4
	# unshare c's blocks 8-31, then 0-3 (24 + 4 copies): c shares nothing
	rt unshare --offset 32k c
	check_status 64 128 cow_blocks=28 unshared_blocks=24
	rt unshare --offset 0 --length 16k c
	check_status 64 124 cow_blocks=32 unshared_blocks=28
	# c: a's blocks 0-3 and 8-31, a hole at 4-7
	cmp <(head -c 16k a) <(head -c 16k c) && cmp -n 16384 /dev/zero <(tail -c +16385 c) &&
		cmp <(tail -c +32769 a | head -c 98304) <(tail -c +32769 c) || die "c has the wrong data"
	# dedupe d (a copy of a's first 64k): 0-3 a s d, 4-15 a b s d
	xfs_io -f -c "pwrite -q -S 0x11 0 64k" -c fsync d
	xfs_io -c "dedupe a 0 0 64k" d > "$LOG" 2>&1 || { show "$LOG"; die "dedupe failed"; }
	grep -q "deduped 65536" "$LOG" || { show "$LOG"; die "dedupe shared nothing"; }
	check_status 64 140 cow_blocks=32 unshared_blocks=28 dedupes=1
	status_vs_fsck

	# copy_file_range of a's first 64k to e: a remap (0-3 a s d e,
	# 4-15 a b s d e)
	xfs_io -f -c "copy_range -s 0 -d 0 -l 64k a" -c fsync e
	check_status 64 156 clones=1
	# unlink b: 4-15 a s d e, 16-63 a s
	rm b
	check_status 64 96 clones=1
	# truncate a: 0-15 s d e, the rest s alone
	xfs_io -c "truncate 0" -c fsync a
	check_status 16 32 clones=1
	rm d e
	check_status 0 0 clones=1
	status_vs_fsck

	# the text output shows the same numbers
	rt status "$MNT" > "$WORK/out"
	grep -qE "^  shared blocks: +0 \(0 B\)$" "$WORK/out" || { show "$WORK/out"; die "text: shared blocks"; }
	grep -qE "^  blocks total: +$BLOCKS \(128 MiB\)$" "$WORK/out" || { show "$WORK/out"; die "text: blocks total"; }
	grep -qE "^  state: +rw$" "$WORK/out" || { show "$WORK/out"; die "text: state"; }
	grep -qE "^/dev/.* on $MNT \(device [0-9]+:[0-9]+\)$" "$WORK/out" || { show "$WORK/out"; die "text: first line"; }
	cmp <(head -c 256k /dev/zero | tr '\0' '\021') snaps/s1 || die "the snapshot changed"
	finish
}

case_status_all() {
	local d1 d2 uuid label
	[ -b "$DEV2" ] || skip "no second scratch device"
	mkfs_fs "$DEV" "$BLOCKS"
	mkfs_fs "$DEV2" 8192
	mount_fs "$DEV"
	mkdir -p "$MNT2"
	mount -t "$FSTYPE" "$DEV2" "$MNT2" || die "mount $DEV2"
	d1=$(enc_dev "$MNT")
	d2=$(enc_dev "$MNT2")
	uuid=$(od -An -tx1 -j 48 -N 16 "$DEV" | tr -d ' \n')
	label=$(head -c 96 "$DEV" | tail -c 32 | tr -d '\0')
	# no argument and --all: both, with their mount points
	rt status --json > "$WORK/a.json"
	rt status --all --json > "$WORK/b.json"
	cmp <(grep -v '"commits"' "$WORK/a.json") <(grep -v '"commits"' "$WORK/b.json") ||
		die "status and status --all differ"
	json_ok "$WORK/a.json" \
		"sorted(i['dev'] for i in d['instances'] if i['dev'] in ($d1, $d2)) == sorted([$d1, $d2])" \
		"[i['mountpoint'] for i in d['instances'] if i['dev'] == $d1] == ['$MNT']" \
		"[i['mountpoint'] for i in d['instances'] if i['dev'] == $d2] == ['$MNT2']" \
		"[i['source'] for i in d['instances'] if i['dev'] == $d2] == ['$DEV2']" \
		"[i['blocks_total'] for i in d['instances'] if i['dev'] == $d2] == [8192]" \
		"[i['uuid'].replace('-', '') for i in d['instances'] if i['dev'] == $d1] == ['$uuid']" \
		"[i['label'] for i in d['instances'] if i['dev'] == $d1] == ['$label']" \
		"all(i['device'] == '%d:%d' % (i['major'], i['minor']) for i in d['instances'])" \
		"all(i['dev'] == (i['minor'] & 0xff) | (i['major'] << 8) | ((i['minor'] & ~0xff) << 12) for i in d['instances'])" \
		"all(len(i['uuid']) == 36 and i['uuid'][8] == '-' for i in d['instances'])" \
		"all(i['state'] == 'rw' and i['state_num'] == 0 for i in d['instances'])" \
		"all(i[k] is not None for i in d['instances'] for k in ('shared_blocks', 'refcount_records', 'logical_bytes', 'physical_bytes', 'reflinks', 'snapshots', 'clones', 'dedupes', 'cow_blocks', 'unshared_blocks', 'enospc', 'corruptions', 'commits', 'saved_bytes'))"
	# one by path, any file on it
	mkdir "$MNT2/sub"
	rt status --json "$MNT2/sub" > "$WORK/c.json"
	json_ok "$WORK/c.json" "d['path'] == '$MNT2/sub'" "len(d['instances']) == 1" \
		"d['instances'][0]['dev'] == $d2"
	# text: one block per instance
	rt status > "$WORK/out"
	grep -qE "^$DEV on $MNT \(device " "$WORK/out" && grep -qE "^$DEV2 on $MNT2 \(device " "$WORK/out" ||
		{ show "$WORK/out"; die "text status misses an instance"; }
	# read-only: state ro
	mount -o remount,ro "$MNT2"
	rt status --json "$MNT2" > "$WORK/c.json"
	json_ok "$WORK/c.json" "d['instances'][0]['state'] == 'ro'"
	# anyone may ask
	expect 0 '' "${NOBODY[@]}" "$TOOL" status --json
	cp "$WORK/out" "$WORK/n.json"
	json_ok "$WORK/n.json" "len([i for i in d['instances'] if i['dev'] in ($d1, $d2)]) == 2"
	umount "$MNT2"
	rt status --json > "$WORK/a.json"
	json_ok "$WORK/a.json" "[i['dev'] for i in d['instances'] if i['dev'] in ($d1, $d2)] == [$d1]"
	fsck_clean "$DEV2"
	finish
}

# ---- events -------------------------------------------------------------------------

case_events() {
	local d1 d2 ia ib ic id ie i_f ig is free
	[ -b "$DEV2" ] || skip "no second scratch device"
	mkfs_fs "$DEV" "$BLOCKS"
	mkfs_fs "$DEV2" 4096
	start_monitor "$WORK/ev.json" "$WORK/ev.err" "$TOOL" monitor --json
	local mon=$MON_PID
	mount_fs "$DEV"
	cd "$MNT"
	d1=$(enc_dev "$MNT")
	wait_line "$WORK/ev.json" '"type": "mount"'
	status_baseline
	xfs_io -f -c "pwrite -q -S 0x11 0 64k" -c fsync a
	rt reflink a b
	mkdir snaps
	rt snap --dir snaps --name s a > /dev/null
	cp --reflink=always a c
	xfs_io -f -c "reflink a 16k 8k 8k" -c fsync e
	xfs_io -f -c "pwrite -q -S 0x11 0 16k" -c fsync d
	xfs_io -c "dedupe a 0 0 16k" d > /dev/null
	xfs_io -f -c "copy_range -s 0 -d 0 -l 16k a" -c fsync f
	# CoW: buffered 3 blocks of b, O_DIRECT 2 of c, mmap 1 of b
	xfs_io -c "pwrite -q -S 0x22 0 12k" -c fsync b
	xfs_io -d -c "pwrite -q -S 0x33 32k 8k" -c fsync c
	xfs_io -c "mmap -w 0 64k" -c "mwrite -S 0x44 48k 4k" -c "msync -s 0 64k" -c fsync b
	rt unshare --offset 16k --length 16k b
	sync -f .
	status_read
	cp "$WORK/status.json" "$WORK/st-end.json"
	ia=$(stat -c %i a); ib=$(stat -c %i b); ic=$(stat -c %i c)
	id=$(stat -c %i d); ie=$(stat -c %i e); i_f=$(stat -c %i f)
	is=$(stat -c %i snaps/s)

	# a real ENOSPC on a small filesystem, watched by a filtered monitor
	mkdir -p "$MNT2"
	mount -t "$FSTYPE" "$DEV2" "$MNT2" || die "mount $DEV2"
	d2=$(enc_dev "$MNT2")
	start_monitor "$WORK/ev2.json" "$WORK/ev2.err" "$TOOL" monitor --json "$MNT2"
	local mon2=$MON_PID
	dd if=/dev/zero of="$MNT2/fill" bs=1M count=32 conv=fsync status=none 2> "$LOG" &&
		die "32 MiB fit on a 16 MiB filesystem"
	grep -q "No space left on device" "$LOG" || { show "$LOG"; die "dd did not fail with ENOSPC"; }
	ig=$(stat -c %i "$MNT2/fill")
	rm "$MNT2/fill"
	sync -f "$MNT2"
	rt status --json "$MNT2" > "$WORK/st2.json"
	umount "$MNT2"
	wait_line "$WORK/ev2.json" '"type": "unmount"'
	stop_monitor "$mon2" TERM
	# a text monitor too
	start_monitor "$WORK/ev.txt" "$WORK/evt.err" "$TOOL" monitor "$MNT"
	local mont=$MON_PID
	rt reflink a t
	wait_line "$WORK/ev.txt" " reflink ino=$(stat -c %i t) ino_src=$ia$"
	stop_monitor "$mont"
	rm t
	free=$(stat -f -c %f .)
	cd /
	umount_fs
	wait_line "$WORK/ev.json" "\"dev\": $d1, .*\"type\": \"unmount\""
	stop_monitor "$mon"
	grep -q "listening for events of every reflinkfs filesystem" "$WORK/ev.err" ||
		{ show "$WORK/ev.err"; die "no listening note"; }
	python3 - "$WORK/ev.json" "$WORK/ev2.json" "$WORK/st-end.json" "$WORK/st2.json" \
		"$d1" "$d2" "$ia" "$ib" "$ic" "$id" "$ie" "$i_f" "$is" "$ig" "${B[cow_blocks]}" <<'EOF' ||
import json, sys
ev, ev2, st, st2 = sys.argv[1:5]
d1, d2, ia, ib, ic, id_, ie, if_, is_, ig, cow0 = map(int, sys.argv[5:])
def load(p):
    out = []
    for l in open(p):
        e = json.loads(l)        # one object per line
        assert e["version"] == 1
        out.append(e)
    return out
E = [e for e in load(ev) if e["dev"] == d1]
E2 = load(ev2)
st = json.load(open(st))["instances"][0]
st2 = json.load(open(st2))["instances"][0]
def fail(msg):
    print("# " + msg)
    for e in E:
        print("#   %s" % {k: v for k, v in e.items() if k not in ("version", "time")})
    sys.exit(1)
keys = ("type", "ino", "ino_src", "offset", "length", "blocks", "block")
def strip(e):
    return {k: e[k] for k in keys if k in e}
want = [
    {"type": "mount"},
    {"type": "reflink", "ino": ib, "ino_src": ia},
    {"type": "snapshot", "ino": is_, "ino_src": ia},
    {"type": "clone", "ino": ic, "ino_src": ia, "offset": 0, "length": 65536},
    {"type": "clone", "ino": ie, "ino_src": ia, "offset": 8192, "length": 8192},
    {"type": "dedupe", "ino": id_, "ino_src": ia, "offset": 0, "length": 16384},
    {"type": "clone", "ino": if_, "ino_src": ia, "offset": 0, "length": 16384},
    {"type": "unshare", "ino": ib, "offset": 16384, "length": 16384, "blocks": 4},
    {"type": "reflink", "ino_src": ia},
    {"type": "unmount"},
]
got = [strip(e) for e in E if e["type"] != "cow"]
if len(got) != len(want):
    fail("%d events besides cow, want %d" % (len(got), len(want)))
for g, w in zip(got, want):
    if any(g.get(k) != v for k, v in w.items()) or g["type"] != w["type"]:
        fail("got %s, want %s" % (g, w))
# attributes of each type: exactly the documented ones
shape = {"mount": set(), "unmount": set(), "reflink": {"ino", "ino_src"},
         "snapshot": {"ino", "ino_src"}, "clone": {"ino", "ino_src", "offset", "length"},
         "dedupe": {"ino", "ino_src", "offset", "length"},
         "unshare": {"ino", "offset", "length", "blocks"}, "cow": {"ino", "blocks"},
         "enospc": {"ino"}, "corruption": {"block"}}
for e in E + E2:
    have = set(strip(e)) - {"type"}
    if have != shape[e["type"]]:
        fail("%s event has %s, want %s" % (e["type"], sorted(have), sorted(shape[e["type"]])))
    if e["device"] != "%d:%d" % ((e["dev"] & 0xfff00) >> 8, (e["dev"] & 0xff) | ((e["dev"] >> 12) & 0xfff00)):
        fail("device %s does not match dev %d" % (e["device"], e["dev"]))
# cow: b 3 (buffered) + 1 (mmap), c 2 (O_DIRECT); b's unshare copies
# may come as cow too (they count as cow blocks)
cow = {}
for e in E:
    if e["type"] == "cow":
        cow[e["ino"]] = cow.get(e["ino"], 0) + e["blocks"]
if cow.get(ic) != 2 or cow.get(ib) not in (4, 8) or set(cow) - {ib, ic}:
    fail("cow blocks per inode %s, want {%d: 4 (+4), %d: 2}" % (cow, ib, ic))
if cow[ib] == 8:
    print("# the unshare's 4 copies come as cow events too")
if sum(cow.values()) != st["cow_blocks"] - cow0:
    fail("cow events add up to %d blocks, status says %d" % (sum(cow.values()), st["cow_blocks"] - cow0))
# a cow event comes after the write that caused it and before the next operation
order = [e["type"] for e in E]
i = order.index("clone", order.index("dedupe"))          # the copy_file_range
j = order.index("unshare")
if order[i + 1:j].count("cow") < 2:
    fail("the cow events of the writes did not arrive between the copy_file_range and the unshare")
# the filtered monitor: only the small filesystem, ENOSPC for the filler
if any(e["dev"] != d2 for e in E2):
    fail("the filtered monitor printed events of another filesystem")
t2 = [e["type"] for e in E2]
if "enospc" not in t2 or t2[-1] != "unmount":
    fail("filtered monitor: %s, want enospc ... unmount" % t2)
if any(e["ino"] != ig for e in E2 if e["type"] == "enospc"):
    fail("enospc for the wrong inode: %s" % E2)
if st2["enospc"] != t2.count("enospc"):
    fail("status enospc %d, %d enospc events" % (st2["enospc"], t2.count("enospc")))
print("# %d events, cow %s" % (len(E), cow))
EOF
		die "the events are not what the operations did"
	grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{6} [0-9]+:[0-9]+ reflink ino=[0-9]+ ino_src=$ia$" "$WORK/ev.txt" ||
		{ show "$WORK/ev.txt"; die "text monitor line"; }
	fsck_clean "$DEV"
	fsck_clean "$DEV2"
	[ "$free" -gt 0 ]
}

case_corruption() {
	local ino itable off blk d i
	mkfs_fs "$DEV" "$BLOCKS"
	mount_fs "$DEV"
	cd "$MNT"
	# 20 extents: more than the inode holds, so an extent block
	for i in $(seq 0 19); do
		printf 'x%.0s' {1..4096} | dd of=frag bs=4k seek=$((i * 2)) conv=notrunc status=none
	done
	sync -f .
	ino=$(stat -c %i frag)
	cd /
	umount_fs
	itable=$(read_u64 "$DEV" "$SB_ITABLE_OFF")
	off=$(( (itable + ino / 16) * BLOCK_SIZE + (ino % 16) * INODE_SIZE + I_DATA_OFF ))
	[ "$(read_u16 "$DEV" $((off + 4)))" -ge 1 ] || die "frag has no extent block (depth 0)"
	blk=$(read_u64 "$DEV" $((off + 16)))	# the first index entry's ei_blk
	[ "$blk" -gt 0 ] || die "no extent block"
	flip_byte "$DEV" $((blk * BLOCK_SIZE + 1000))
	mount_fs "$DEV"
	d=$(enc_dev "$MNT")
	start_monitor "$WORK/cor.json" "$WORK/cor.err" "$TOOL" monitor --json "$MNT"
	status_read
	[ "${ST[corruptions]}" = 0 ] || die "corruptions ${ST[corruptions]} before the block was read"
	[ "${ST[state]}" = rw ] || die "state ${ST[state]} before the block was read"
	# reading the file reads the extent block
	expect 1 '' cat "$MNT/frag"
	grep -qE "Structure needs cleaning|Input/output error" "$WORK/err" || { show "$WORK/err"; die "no EUCLEAN/EIO"; }
	wait_line "$WORK/cor.json" "\"type\": \"corruption\""
	grep -q "\"dev\": $d, .*\"type\": \"corruption\".*\"block\": $blk}" "$WORK/cor.json" ||
		{ show "$WORK/cor.json"; die "the corruption event does not name block $blk"; }
	status_read
	[ "${ST[corruptions]}" -ge 1 ] || die "corruptions ${ST[corruptions]}"
	[ "${ST[state]}" = error ] || die "state ${ST[state]} after a corruption, want error"
	rt status "$MNT" | grep -qE "^  state: +error$" || die "text status: state is not error"
	umount_fs
	wait_line "$WORK/cor.json" '"type": "unmount"'
	stop_monitor "$MON_PID"
	# fsck finds it too; then a fresh filesystem for what follows
	[ "$(fsck_rc "$DEV")" != 0 ] || die "fsck -n found the corrupted extent block clean"
	grep -q "$blk" "$LOG" || { show "$LOG"; msg "fsck does not name block $blk"; }
	mkfs_fs "$DEV" "$BLOCKS"
}

# ---- fault injection through the tool ---------------------------------------------

# inject_list_json: the armed faults as JSON in $WORK/f.json.
inject_list_json() { rt inject "$MNT" --list --json > "$WORK/f.json"; }

case_inject() {
	local site op err r
	setup_fs
	wfile probe 4096
	expect 0 '' rt inject "$MNT" --list
	[ "$(cat "$WORK/out")" = "no fault armed" ] || { show "$WORK/out"; die "--list of nothing"; }
	expect 0 '' rt inject "$MNT" alloc --nth 1000000 --every 3 --errno ENOSPC
	expect 0 '' rt inject "$MNT/probe" meta-read --nth 500000
	expect 0 '' rt inject "$MNT" trans --nth 400000 --errno enomem
	expect 0 '' rt inject "$MNT" --list
	grep -qE "^SITE +NTH +EVERY +ERRNO +CALLS +FIRED$" "$WORK/out" &&
		grep -qE "^alloc +1000000 +3 +ENOSPC +[0-9]+ +0$" "$WORK/out" &&
		grep -qE "^meta-read +500000 +0 +EIO +[0-9]+ +0$" "$WORK/out" &&
		grep -qE "^trans +400000 +0 +ENOMEM +[0-9]+ +0$" "$WORK/out" ||
		{ show "$WORK/out"; die "--list table"; }
	wfile probe2 8192
	sync -f .
	inject_list_json
	json_ok "$WORK/f.json" "d['path'] == '$MNT'" "d['dev'] == $(enc_dev "$MNT")" \
		"[f['site'] for f in d['faults']] == ['alloc', 'meta-read', 'trans']" \
		"[f['site_num'] for f in d['faults']] == [1, 2, 4]" \
		"d['faults'][0] | {'calls': 0} == {'site': 'alloc', 'site_num': 1, 'errno': 'ENOSPC', 'errno_num': 28, 'nth': 1000000, 'every': 3, 'calls': 0, 'fired': 0}" \
		"d['faults'][0]['calls'] >= 1 and d['faults'][2]['calls'] >= 1" \
		"d['device'] == '%d:%d' % (($(enc_dev "$MNT") & 0xfff00) >> 8, $(enc_dev "$MNT") & 0xff)"
	# re-arming replaces; --clear SITE; --clear
	expect 0 '' rt inject "$MNT" alloc --nth 7
	expect 0 '' rt inject "$MNT" --clear meta-read
	expect 0 '' rt inject "$MNT" --list
	grep -qE "^alloc +7 +0 +EIO +0 +0$" "$WORK/out" && ! grep -q "^meta-read" "$WORK/out" ||
		{ show "$WORK/out"; die "re-arm / clear one"; }
	expect 0 '' rt inject "$MNT" --clear
	expect 0 '' rt inject "$MNT" --list
	[ "$(cat "$WORK/out")" = "no fault armed" ] || die "--clear left faults"
	# the refcount limit (selftests/stress_test rclimit tests its effect)
	expect 0 '' rt inject "$MNT" --refcount-max 3
	inject_list_json
	json_ok "$WORK/f.json" "d['refcount_max'] == 3" "d['faults'] == []"
	expect 2 "invalid --refcount-max" rt inject "$MNT" --refcount-max 0
	expect 2 "invalid --refcount-max" rt inject "$MNT" --refcount-max 4294967296
	expect 2 "not with --list or --clear" rt inject "$MNT" --list --refcount-max 3
	expect 0 '' rt inject "$MNT" --clear
	inject_list_json
	json_ok "$WORK/f.json" "d['refcount_max'] == 4294967295"
	# the kernel's own words in errors
	expect 1 '^reflinkfs: '"$MNT"': Invalid argument \(kernel: .+\)$' rt inject "$MNT" alloc --errno EINVAL
	expect 1 '^reflinkfs: '"$MNT"': Invalid argument \(kernel: .+\)$' rt inject "$MNT" alloc --errno 4000
	# faults are gone after an unmount
	expect 0 '' rt inject "$MNT" meta-write --nth 900000
	cd /
	umount_fs
	mount_fs "$DEV"
	cd "$MNT"
	expect 0 '' rt inject "$MNT" --list
	[ "$(cat "$WORK/out")" = "no fault armed" ] || die "an unmount left faults armed"

	# every site once (N = 1) under each operation; meta-write last: it
	# aborts the journal (reflinkfs-abi.rst), which takes a remount
	xfs_io -f -c "pwrite -q -S 0x5a 0 64k" -c fsync src
	local sum_src
	sum_src=$(sha256sum < src)
	for site in alloc meta-read trans meta-write; do
		for op in reflink write unshare dedupe punch truncate; do
			case $op in
			reflink) ;;
			dedupe) xfs_io -f -c "pwrite -q -S 0x5a 0 64k" -c fsync dst ;;
			*) cp --reflink=always src dst ;;
			esac
			sync -f .
			err=EIO
			[ "$site" = alloc ] && err=ENOMEM
			rt inject "$MNT" "$site" --nth 1 --errno "$err"
			r=0
			case $op in
			reflink) rt reflink src dst 2> "$LOG" || r=$? ;;
			write) xfs_io -c "pwrite -q -S 0x66 8k 4k" -c fsync dst 2> "$LOG" || r=$? ;;
			unshare) rt unshare dst 2> "$LOG" || r=$? ;;
			dedupe) xfs_io -c "dedupe src 0 0 64k" dst > "$WORK/out" 2> "$LOG" || r=$? ;;
			punch) xfs_io -c "fpunch 8k 8k" -c fsync dst 2> "$LOG" || r=$? ;;
			truncate) xfs_io -c "truncate 10000" -c fsync dst 2> "$LOG" || r=$? ;;
			esac
			cat "$WORK/out" >> "$LOG" 2>/dev/null || true
			: > "$WORK/out"
			rt inject "$MNT" --list > "$WORK/l"
			rt inject "$MNT" --clear
			local fired
			fired=$(awk -v s="$site" '$1 == s { print $6 }' "$WORK/l")
			[ -n "$fired" ] || { show "$WORK/l"; die "$op/$site: not armed"; }
			if [ "$fired" != 0 ] && [ "$site" = meta-write ]; then
				# the journal is aborted: the operation fails
				# (EROFS or the errno), then every change gets EROFS
				grep -qE "$(errno_text "$err")|Read-only file system" "$LOG" ||
					{ show "$LOG" "$WORK/l"; die "$op/$site: the operation did not fail"; }
				! touch probe 2> /dev/null || die "$op/$site: changes still work after the abort"
				[ "$(sha256sum < src)" = "$sum_src" ] || die "$op/$site: src changed"
				msg "$op/$site: journal aborted; unmount, mount"
				cd /
				umount_fs
				mount_fs "$DEV"
				umount_fs
				fsck_clean "$DEV"
				mount_fs "$DEV"
				cd "$MNT"
			elif [ "$fired" != 0 ]; then
				# xfs_io prints the error, the tool exits 1
				grep -q "$(errno_text "$err")" "$LOG" ||
					{ show "$LOG" "$WORK/l"; die "$op/$site: the $err did not reach the caller"; }
			else
				[ "$r" = 0 ] || { show "$LOG"; die "$op/$site: no fault fired but the operation failed"; }
			fi
			[ "$(sha256sum < src)" = "$sum_src" ] || die "$op/$site: src changed"
			status_read
			[ "${ST[state]}" = rw ] || die "$op/$site: the filesystem is ${ST[state]} after an injected $err"
			# the retry succeeds
			case $op in
			reflink) [ ! -e dst ] || [ "$fired" = 0 ] || die "reflink/$site: a failed reflink left dst"
				 [ -e dst ] || rt reflink src dst ;;
			write) xfs_io -c "pwrite -q -S 0x66 8k 4k" -c fsync dst ;;
			unshare) rt unshare dst ;;
			dedupe) xfs_io -c "dedupe src 0 0 64k" dst | grep -q "deduped 65536" || die "dedupe/$site: retry shared nothing" ;;
			punch) xfs_io -c "fpunch 8k 8k" -c fsync dst ;;
			truncate) xfs_io -c "truncate 10000" -c fsync dst ;;
			esac
			case $op in
			write) cmp -n 8192 src dst && cmp <(head -c 4096 /dev/zero | tr '\0' '\146') <(tail -c +8193 dst | head -c 4096) ;;
			punch) cmp -n 8192 src dst && cmp -n 8192 /dev/zero <(tail -c +8193 dst) ;;
			truncate) [ "$(stat -c %s dst)" = 10000 ] && cmp -n 10000 src dst ;;
			*) cmp src dst ;;
			esac || die "$op/$site: dst has the wrong data after the retry"
			msg "$op/$site: fired $fired, status $r"
			rm -f dst
		done
	done
	finish
}

# The strerror text of an errno name.
errno_text() {
	case $1 in
	EIO) echo "Input/output error" ;;
	ENOMEM) echo "Cannot allocate memory" ;;
	ENOSPC) echo "No space left on device" ;;
	esac
}

# ---- privileges ---------------------------------------------------------------------

case_unprivileged() {
	command -v setpriv > /dev/null || skip "setpriv (util-linux) not installed"
	setup_fs
	xfs_io -f -c "pwrite -q 0 16k" -c fsync a
	expect 0 '' "${NOBODY[@]}" "$TOOL" status "$MNT"
	expect 0 '' "${NOBODY[@]}" "$TOOL" inject "$MNT" --list
	expect 1 "^reflinkfs: $MNT: Operation not permitted \(arming and clearing faults needs CAP_SYS_ADMIN\)$" \
		"${NOBODY[@]}" "$TOOL" inject "$MNT" alloc --nth 1
	expect 1 "^reflinkfs: $MNT: Operation not permitted" "${NOBODY[@]}" "$TOOL" inject "$MNT" --clear
	expect 1 "^reflinkfs: $MNT: Operation not permitted" "${NOBODY[@]}" "$TOOL" inject "$MNT" --refcount-max 2
	rt inject "$MNT" --list > "$WORK/out"
	[ "$(cat "$WORK/out")" = "no fault armed" ] || die "an unprivileged inject armed a fault"
	# an unprivileged monitor hears a reflink
	start_monitor "$WORK/np.json" "$WORK/np.err" "${NOBODY[@]}" "$TOOL" monitor --json "$MNT"
	rt reflink a b
	wait_line "$WORK/np.json" "\"type\": \"reflink\", \"type_num\": 3, \"ino\": $(stat -c %i b), \"ino_src\": $(stat -c %i a)}"
	stop_monitor "$MON_PID" TERM
	finish
}

# ---- the kernel's ynl cli.py, from the spec alone -------------------------------------

ynl() { "$RLFS_TOP/scripts/ynl" cli "$@"; }

case_ynl() {
	local d ia pid i
	[ -e "$YNL_DIR/tools/net/ynl/cli.py" ] ||
		skip "build/ynl missing: run 'scripts/ynl gen-uapi >/dev/null' on the host before the VM run"
	cmp -s "$RLFS_TOP/Documentation/netlink/specs/reflinkfs.yaml" \
		"$YNL_DIR/Documentation/netlink/specs/reflinkfs.yaml" ||
		skip "build/ynl has an old copy of the spec: run 'scripts/ynl gen-uapi >/dev/null' on the host"
	[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import yaml, jsonschema' 2>/dev/null ||
		skip "python3 with yaml and jsonschema needed by cli.py"
	export PYTHONDONTWRITEBYTECODE=1
	setup_fs
	d=$(enc_dev "$MNT")
	xfs_io -f -c "pwrite -q 0 64k" -c fsync a
	ia=$(stat -c %i a)
	rt reflink a b
	ynl --dump status-get --output-json > "$WORK/dump.json" 2> "$LOG" || { show "$LOG"; die "ynl dump status-get"; }
	ynl --do status-get --json "{\"dev\": $d}" --output-json > "$WORK/do.json" 2> "$LOG" ||
		{ show "$LOG"; die "ynl do status-get"; }
	python3 - "$WORK/dump.json" "$WORK/do.json" "$d" "$BLOCKS" <<'EOF' || die "ynl status-get"
import json, sys
dump = json.load(open(sys.argv[1]))
do = json.load(open(sys.argv[2]))
d, blocks = int(sys.argv[3]), int(sys.argv[4])
mine = [i for i in dump if i["dev"] == d]
assert len(mine) == 1, dump
for s in (mine[0], do):
    assert s["dev"] == d and s["state"] == "rw" and s["block-size"] == 4096, s
    assert s["blocks-total"] == blocks and s["shared-blocks"] == 16, s
    assert s["reflinks"] == 1 and len(bytes.fromhex(s["uuid"])) == 16, s
    assert s["logical-bytes"] == s["physical-bytes"] + 16 * 4096, s
    assert set(s) >= {"label", "refcount-records", "cow-blocks", "commits"}, s
EOF
	ynl --do fault-set --json "{\"dev\": $d, \"site\": \"meta-write\", \"nth\": 123456, \"every\": 2, \"errno\": 28}" \
		> "$LOG" 2>&1 || { show "$LOG"; die "ynl fault-set"; }
	ynl --do fault-get --json "{\"dev\": $d}" --output-json > "$WORK/f.json" 2> "$LOG" ||
		{ show "$LOG"; die "ynl fault-get"; }
	python3 - "$WORK/f.json" "$d" <<'EOF' || die "ynl fault-get"
import json, sys
f = json.load(open(sys.argv[1]))
assert f["dev"] == int(sys.argv[2]), f
e = f["entry"]
assert len(e) == 1 and e[0]["site"] == "meta-write" and e[0]["nth"] == 123456, f
assert e[0]["every"] == 2 and e[0]["errno"] == 28 and e[0]["fired"] == 0, f
EOF
	rt inject "$MNT" --list | grep -qE "^meta-write +123456 +2 +ENOSPC " || die "the tool does not see the ynl fault"
	ynl --do fault-clear --json "{\"dev\": $d}" > "$LOG" 2>&1 || { show "$LOG"; die "ynl fault-clear"; }
	[ "$(rt inject "$MNT" --list)" = "no fault armed" ] || die "ynl fault-clear left a fault"
	# an error, with the kernel's message
	if ynl --do fault-set --json "{\"dev\": $d, \"site\": \"alloc\", \"nth\": 1, \"errno\": 22}" > "$LOG" 2>&1; then
		die "ynl fault-set with errno 22 succeeded"
	fi
	grep -q "Netlink error: Invalid argument" "$LOG" && grep -q "'msg'" "$LOG" ||
		{ show "$LOG"; die "ynl: no error with an extack message"; }
	ynl --do status-get --json '{"dev": 1048575}' > "$LOG" 2>&1 && die "status-get of an unknown dev succeeded"
	grep -q "No such device" "$LOG" || { show "$LOG"; die "unknown dev: not ENODEV"; }
	# subscribe: reflinks every half second until cli.py has slept 8 s
	ynl --subscribe events --sleep 8 --output-json > "$WORK/ntf.json" 2> "$WORK/ntf.err" &
	pid=$!
	echo "$pid" >> "$MON_LIST"
	for i in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		rt reflink a "r$i"
		sleep 0.5
	done
	wait "$pid" || { show "$WORK/ntf.err"; die "ynl --subscribe failed"; }
	python3 - "$WORK/ntf.json" "$d" "$ia" <<'EOF' || { show "$WORK/ntf.json" "$WORK/ntf.err"; die "ynl events"; }
import json, sys
q = json.load(open(sys.argv[1]))
d, ia = int(sys.argv[2]), int(sys.argv[3])
r = [m["msg"] for m in q if m["name"] == "event" and m["msg"]["type"] == "reflink"]
assert r, q
assert all(m["dev"] == d and m["ino-src"] == ia and m["ino"] > ia for m in r), r
print("# cli.py received %d reflink events" % len(r))
EOF
	finish
}

# ---- module unload with a monitor attached (last: reloads the module) ------------------------

case_module_unload() {
	[ -n "${RLFS_MODULE:-}" ] && [ -r "${RLFS_MODULE:-}" ] ||
		skip "RLFS_MODULE not set: cannot reload the module"
	local d
	mkfs_fs "$DEV" "$BLOCKS"
	start_monitor "$WORK/mu.json" "$WORK/mu.err" "$TOOL" monitor --json
	local mon=$MON_PID
	start_monitor "$WORK/muq.txt" "$WORK/muq.err" "$TOOL" monitor
	local mon2=$MON_PID
	mount_fs "$DEV"
	d=$(enc_dev "$MNT")
	wait_line "$WORK/mu.json" "\"dev\": $d, .*\"type\": \"mount\""
	umount_fs
	wait_line "$WORK/mu.json" "\"dev\": $d, .*\"type\": \"unmount\""
	dmesg_mark
	rmmod reflinkfs || die "rmmod reflinkfs failed with monitors attached"
	! grep -qw reflinkfs /proc/filesystems || die "reflinkfs still registered after rmmod"
	sleep 0.5
	kill -0 "$mon" 2>/dev/null || die "the monitor died when the module went away"
	kill -0 "$mon2" 2>/dev/null || die "the text monitor died when the module went away"
	wait_line "$WORK/mu.err" "family is gone"
	# a status now says the module is missing
	expect 1 "^reflinkfs: reflinkfs module not loaded or too old: no generic netlink family reflinkfs$" rt status
	insmod "$RLFS_MODULE" || die "insmod $RLFS_MODULE failed"
	wait_line "$WORK/mu.err" "family is back"
	mount_fs "$DEV"
	# the monitor joined again: it hears the next mount
	wait_count "$WORK/mu.json" "\"dev\": $d, .*\"type\": \"mount\"" 2
	umount_fs
	wait_count "$WORK/mu.json" "\"dev\": $d, .*\"type\": \"unmount\"" 2
	stop_monitor "$mon" TERM
	stop_monitor "$mon2" INT
	wait_count "$WORK/muq.txt" " $((d >> 8 & 0xfff)):$((d & 0xff)) mount$" 2
	if dmesg_since | grep -E "WARNING|BUG|Oops|Call Trace" > "$LOG"; then
		show "$LOG"
		die "kernel warnings around the module reload"
	fi
	fsck_clean "$DEV"
}

require_vm
command -v xfs_io > /dev/null || { echo "SKIP: xfs_io not installed"; exit 4; }
command -v python3 > /dev/null || { echo "SKIP: python3 not installed"; exit 4; }
[ -x "$TOOL" ] || command -v "$TOOL" > /dev/null ||
	{ echo "SKIP: reflinkfs tool not built (make userspace)"; exit 4; }
if ! "$TOOL" status > "$LOG" 2>&1; then
	if grep -q "no generic netlink family" "$LOG"; then
		echo "SKIP: the loaded module has no generic netlink family reflinkfs"
		exit 4
	fi
fi
# shellcheck disable=SC2086
ktap_run ${RLFS_NETLINK_CASES:-case_usage case_status_exact case_status_all case_events \
	case_corruption case_inject case_unprivileged case_ynl case_module_unload}
