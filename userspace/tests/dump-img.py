#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""dump-img.py - images of known shape for tests/test-dump.sh.

  dump-img.py build IMAGE [SCENARIO]   populate a fresh mkfs'd image
  dump-img.py scenarios                list the scenarios
  dump-img.py sb IMAGE                 the superblock's raw fields (JSON)
  dump-img.py inode IMAGE INO          inode INO's raw fields (JSON)
  dump-img.py fuzz TOOL BASE WORK SEED N TIMEOUT
                                       run every view of TOOL dump on N
                                       copies of BASE (in WORK) with
                                       random bytes of their metadata
                                       changed (seeded): see fuzz_run

build writes three regular files that share blocks, in a root directory
block, and prints a JSON manifest of what it wrote: block numbers, every
file's extents split where the refcount changes and the refcount records,
both computed from the files' mappings alone (the number of mappings of
each physical block), not from the refcount tree it writes.  Layout
(P1..P4 data runs, EB extent blocks, RC refcount blocks):

  /a  inode 2  root depth 1 -> EB1 [0: P1 x8] [8: P2 x4]
                             -> EB2 [100: P3 x6] [200: P4 x1]
               (EB2 is the filesystem's last block)
  /b  inode 3  root depth 0: [0: P1+2 x4] [4: P3+1 x2] [10: P4 x1]
  /c  inode 4  root depth 0: [0: P1+4 x2]
  refcount tree, depth 1: RC0 -> RL1 {P1+2 x2: 2} {P1+4 x2: 3}
                               -> RL2 {P3+1 x2: 2} {P4 x1: 2}

A SCENARIO plants one corruption (checksums kept valid unless it is a
checksum scenario) and the manifest's "expect" says which view must
report which block, entry or offset and reason.  The independent
decoders here (struct offsets from rlfs_format.h, crc32c bytewise) share
no code with the tools.
"""
import json
import random
import struct
import subprocess
import sys

BS = 4096
SUPER_MAGIC = 0x52464c53
INODE_MAGIC = 0x4e494c52
BITMAP_MAGIC = 0x4d424c52
EXTENT_MAGIC = 0x58454c52
DIR_MAGIC = 0x52444c52
REFCOUNT_MAGIC = 0x43524c52
INODES_PER_BLOCK = 16
INODE_SIZE = 256
BITS_PER_BITMAP = (BS - 32) * 8
LBLK_LIMIT = 0xffffffff

SB_FIELDS = [
    ('s_magic', 'I'), ('s_crc', 'I'), ('s_blocknr', 'Q'),
    ('s_version', 'I'), ('s_block_size', 'I'),
    ('s_feature_compat', 'Q'), ('s_feature_ro_compat', 'Q'),
    ('s_feature_incompat', 'Q'), ('s_uuid', '16s'), ('s_label', '32s'),
    ('s_blocks', 'Q'), ('s_inodes', 'Q'), ('s_free_blocks', 'Q'),
    ('s_free_inodes', 'Q'), ('s_journal_start', 'Q'),
    ('s_journal_blocks', 'Q'), ('s_bbitmap_start', 'Q'),
    ('s_bbitmap_blocks', 'Q'), ('s_ibitmap_start', 'Q'),
    ('s_ibitmap_blocks', 'Q'), ('s_itable_start', 'Q'),
    ('s_itable_blocks', 'Q'), ('s_data_start', 'Q'), ('s_root_ino', 'Q'),
    ('s_orphan_head', 'Q'), ('s_refcount_root', 'Q'),
    ('s_refcount_depth', 'I'), ('s_state', 'I'), ('s_mkfs_time', 'q'),
    ('s_mount_time', 'q'), ('s_write_time', 'q'), ('s_mount_count', 'I'),
    ('s_next_generation', 'I'), ('s_reserved', '248s'),
]
SB_FMT = '<' + ''.join(f for _, f in SB_FIELDS)
assert struct.calcsize(SB_FMT) == 512

INODE_FIELDS = [
    ('i_magic', 'I'), ('i_crc', 'I'), ('i_ino', 'Q'), ('i_mode', 'H'),
    ('i_reserved0', 'H'), ('i_nlink', 'I'), ('i_uid', 'I'), ('i_gid', 'I'),
    ('i_size', 'Q'), ('i_blocks', 'Q'), ('i_atime', 'q'), ('i_mtime', 'q'),
    ('i_ctime', 'q'), ('i_crtime', 'q'), ('i_atime_ns', 'I'),
    ('i_mtime_ns', 'I'), ('i_ctime_ns', 'I'), ('i_crtime_ns', 'I'),
    ('i_flags', 'I'), ('i_generation', 'I'), ('i_rdev', 'I'),
    ('i_snap_origin_gen', 'I'), ('i_xattr_blk', 'Q'),
    ('i_next_orphan', 'Q'), ('i_parent', 'Q'), ('i_snap_origin', 'Q'),
    ('i_lineage', 'Q'), ('i_data', '104s'),
]
INODE_FMT = '<' + ''.join(f for _, f in INODE_FIELDS)
assert struct.calcsize(INODE_FMT) == INODE_SIZE

# ---- crc32c: reflected Castagnoli from 0xffffffff, no final xor --------

CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    CRC_TABLE.append(_c)


def crc32c(data, crc=0xffffffff):
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


def set_crc(buf, off, length):
    """crc32c of buf[0:length] with the __le32 at off as zero, stored there."""
    struct.pack_into('<I', buf, off, 0)
    struct.pack_into('<I', buf, off, crc32c(bytes(buf[:length])))


# ---- the image ------------------------------------------------------------


class Image:
    def __init__(self, path):
        self.f = open(path, 'r+b')
        self.blk0 = self.read(0)
        self.sb = dict(zip([n for n, _ in SB_FIELDS],
                           struct.unpack_from(SB_FMT, self.blk0)))
        self.dirty = {}

    def read(self, blk):
        if blk in getattr(self, 'dirty', {}):
            return self.dirty[blk]
        self.f.seek(blk * BS)
        return bytearray(self.f.read(BS))

    def block(self, blk):
        """A block to change, written back by flush()."""
        if blk not in self.dirty:
            self.dirty[blk] = self.read(blk)
        return self.dirty[blk]

    def flush(self):
        for blk, buf in sorted(self.dirty.items()):
            self.f.seek(blk * BS)
            self.f.write(buf)
        self.dirty = {}
        self.f.flush()

    def inode_pos(self, ino):
        return (self.sb['s_itable_start'] + ino // INODES_PER_BLOCK,
                (ino % INODES_PER_BLOCK) * INODE_SIZE)

    def bit(self, start, nr, value=None):
        blk = self.block(start + nr // BITS_PER_BITMAP)
        i = nr % BITS_PER_BITMAP
        if value is None:
            return bool(blk[32 + i // 8] & (1 << (i % 8)))
        if value:
            blk[32 + i // 8] |= 1 << (i % 8)
        else:
            blk[32 + i // 8] &= ~(1 << (i % 8)) & 0xff
        return value


def header(buf, magic, blk, owner):
    struct.pack_into('<IIQQQ', buf, 0, magic, 0, blk, owner, 0)


def bt_header(buf, off, entries, cap, depth):
    struct.pack_into('<HHHH', buf, off, entries, cap, depth, 0)


def write_extents(buf, off, exts):
    for i, (lblk, length, pblk) in enumerate(exts):
        struct.pack_into('<IIQ', buf, off + 8 + 16 * i, lblk, length, pblk)


def write_indexes(buf, off, idx, keyfmt):
    for i, (key, child) in enumerate(idx):
        if keyfmt == 'I':
            struct.pack_into('<IIQ', buf, off + 8 + 16 * i, key, 0, child)
        else:
            struct.pack_into('<QQ', buf, off + 8 + 16 * i, key, child)


def write_records(buf, off, recs):
    for i, (start, length, count) in enumerate(recs):
        struct.pack_into('<QII', buf, off + 8 + 16 * i, start, length, count)


SCENARIOS = [
    'clean', 'ext-magic', 'ext-crc', 'ext-blocknr', 'ext-loop', 'ext-deep',
    'ext-unsorted', 'rc-loop', 'rc-magic', 'rc-count1', 'rc-overlap',
    'dir-name', 'bitmap-crc', 'inode-crc',
]


def build(path, scenario):
    img = Image(path)
    sb = img.sb
    bb, ib = sb['s_bbitmap_start'], sb['s_ibitmap_start']
    nblocks = sb['s_blocks']
    state = {'next': sb['s_data_start']}

    def alloc(n):
        while True:
            b = state['next']
            if all(not img.bit(bb, b + i) for i in range(n)):
                break
            state['next'] += 1
        for i in range(n):
            img.bit(bb, b + i, True)
            img.block(b + i)[:] = bytes(BS)
        state['next'] = b + n
        return b

    rootb = alloc(1)
    p1, p2, p3, p4 = alloc(8), alloc(4), alloc(6), alloc(1)
    eb1, rc0, rl1, rl2 = alloc(1), alloc(1), alloc(1), alloc(1)
    eb2 = nblocks - 1
    assert not img.bit(bb, eb2)
    img.bit(bb, eb2, True)
    img.block(eb2)[:] = bytes(BS)

    files = {
        2: ('a', 201 * BS, [[(0, 8, p1), (8, 4, p2)],
                            [(100, 6, p3), (200, 1, p4)]]),
        3: ('b', 11 * BS, [(0, 4, p1 + 2), (4, 2, p3 + 1), (10, 1, p4)]),
        4: ('c', 2 * BS - 100, [(0, 2, p1 + 4)]),
    }

    # inodes
    def new_inode(ino, mode, nlink, size, nblk, parent=0):
        blk, off = img.inode_pos(ino)
        buf = img.block(blk)
        vals = dict.fromkeys([n for n, _ in INODE_FIELDS], 0)
        vals.update(i_magic=INODE_MAGIC, i_ino=ino, i_mode=mode,
                    i_nlink=nlink, i_size=size, i_blocks=nblk,
                    i_atime=1700000000, i_mtime=1700000000,
                    i_ctime=1700000000, i_crtime=1700000000,
                    i_parent=parent, i_data=bytes(104))
        struct.pack_into(INODE_FMT, buf, off,
                         *[vals[n] for n, _ in INODE_FIELDS])
        img.bit(ib, ino, True)
        return buf, off + 152

    # / (the root inode mkfs made, given a directory block)
    blk, off = img.inode_pos(1)
    buf = img.block(blk)
    struct.pack_into('<QQ', buf, off + 32, BS, 1)	# i_size, i_blocks
    bt_header(buf, off + 152, 1, 6, 0)
    write_extents(buf, off + 152, [(0, 1, rootb)])
    d = img.block(rootb)
    header(d, DIR_MAGIC, rootb, 1)
    pos = 32
    names = sorted(files.items())
    for k, (ino, (name, _, _)) in enumerate(names):
        rec = 16 if k + 1 < len(names) else BS - pos
        struct.pack_into('<QHBB', d, pos, ino, rec, len(name), 8)
        d[pos + 12:pos + 12 + len(name)] = name.encode()
        pos += rec

    # /a: two-level tree
    buf, root = new_inode(2, 0o100644, 1, files[2][1], 2 + 19)
    bt_header(buf, root, 2, 6, 1)
    write_indexes(buf, root, [(0, eb1), (100, eb2)], 'I')
    for eb, exts in ((eb1, files[2][2][0]), (eb2, files[2][2][1])):
        e = img.block(eb)
        header(e, EXTENT_MAGIC, eb, 2)
        bt_header(e, 32, len(exts), 253, 0)
        write_extents(e, 32, exts)
    # /b, /c: extents in the inode
    for ino in (3, 4):
        exts = files[ino][2]
        buf, root = new_inode(ino, 0o100644, 1, files[ino][1],
                              sum(e[1] for e in exts))
        bt_header(buf, root, len(exts), 6, 0)
        write_extents(buf, root, exts)

    # what the mappings say: references to each physical block
    maps = {2: files[2][2][0] + files[2][2][1], 3: files[3][2],
            4: files[4][2]}
    refs = {}
    for exts in maps.values():
        for _, length, pblk in exts:
            for p in range(pblk, pblk + length):
                refs[p] = refs.get(p, 0) + 1
    records = []
    for p in sorted(refs):
        if refs[p] < 2:
            continue
        if records and records[-1][0] + records[-1][1] == p and \
           records[-1][2] == refs[p]:
            records[-1][1] += 1
        else:
            records.append([p, 1, refs[p]])
    expect_ext = {}
    for ino, exts in maps.items():
        segs = []
        for lblk, length, pblk in exts:
            for i in range(length):
                c = refs[pblk + i]
                if segs and segs[-1][3] == c and \
                   segs[-1][1] + segs[-1][2] == pblk + i and \
                   segs[-1][0] + segs[-1][2] == lblk + i and i:
                    segs[-1][2] += 1
                else:
                    segs.append([lblk + i, pblk + i, 1, c])
        expect_ext[str(ino)] = segs

    # the refcount tree: two leaves under one root
    assert len(records) == 4
    leaves = ((rl1, records[:2]), (rl2, records[2:]))
    r = img.block(rc0)
    header(r, REFCOUNT_MAGIC, rc0, 0)
    bt_header(r, 32, 2, 253, 1)
    write_indexes(r, 32, [(recs[0][0], leaf) for leaf, recs in leaves], 'Q')
    for leaf, recs in leaves:
        lb = img.block(leaf)
        header(lb, REFCOUNT_MAGIC, leaf, 0)
        bt_header(lb, 32, len(recs), 253, 0)
        write_records(lb, 32, recs)
    sb['s_refcount_root'] = rc0
    sb['s_refcount_depth'] = 1

    names = {'rootb': rootb, 'p1': p1, 'p2': p2, 'p3': p3, 'p4': p4,
             'eb1': eb1, 'eb2': eb2, 'rc0': rc0, 'rl1': rl1, 'rl2': rl2,
             'itable2': img.inode_pos(2)[0], 'bbitmap': bb}
    expect = None
    pokes = []		# (block, offset): changed after the checksums

    def itable_root(ino):
        blk, off = img.inode_pos(ino)
        return img.block(blk), off + 152

    if scenario == 'ext-magic':
        struct.pack_into('<I', img.block(eb2), 0, 0x12345678)
        expect = (['extents', '2'], 'extent block', eb2, None, 'bad magic')
    elif scenario == 'ext-crc':
        pokes.append((eb1, 4000))
        expect = (['extents', '2'], 'extent block', eb1, None,
                  'bad checksum')
    elif scenario == 'ext-blocknr':
        struct.pack_into('<Q', img.block(eb1), 8, eb1 + 1)
        expect = (['extents', '2'], 'extent block', eb1, None,
                  'header names another block')
    elif scenario == 'ext-loop':
        ebi = alloc(1)
        names['ebi'] = ebi
        e = img.block(ebi)
        header(e, EXTENT_MAGIC, ebi, 2)
        bt_header(e, 32, 2, 253, 1)
        write_indexes(e, 32, [(0, ebi), (100, eb2)], 'I')
        buf, root = itable_root(2)
        bt_header(buf, root, 1, 6, 2)
        write_indexes(buf, root, [(0, ebi)], 'I')
        expect = (['extents', '2'], 'extent block', ebi, None,
                  'block met twice in this tree')
    elif scenario == 'ext-deep':
        buf, root = itable_root(2)
        struct.pack_into('<H', buf, root + 4, 6)
        expect = (['extents', '2'], 'extent root', names['itable2'], None,
                  'tree too deep')
    elif scenario == 'ext-unsorted':
        e = img.block(eb1)
        write_extents(e, 32, list(reversed(files[2][2][0])))
        expect = (['extents', '2'], 'extent block', eb1, 1,
                  'extents out of order or range')
    elif scenario == 'rc-loop':
        struct.pack_into('<Q', img.block(rc0), 32 + 8 + 16 + 8, rc0)
        expect = (['refcount'], 'refcount block', rc0, None,
                  'block met twice in this tree')
    elif scenario == 'rc-magic':
        struct.pack_into('<I', img.block(rl2), 0, 0x12345678)
        expect = (['refcount'], 'refcount block', rl2, None, 'bad magic')
    elif scenario == 'rc-count1':
        struct.pack_into('<I', img.block(rl1), 32 + 8 + 12, 1)
        expect = (['refcount'], 'refcount block', rl1, 0,
                  'record with a refcount below 2')
    elif scenario == 'rc-overlap':
        struct.pack_into('<Q', img.block(rl1), 32 + 8 + 16, p1 + 3)
        expect = (['refcount'], 'refcount block', rl1, 1,
                  'records out of order or overlapping')
    elif scenario == 'dir-name':
        d = img.block(rootb)
        d[32 + 12] = ord('/')
        expect = (['block', str(rootb)], 'directory block', rootb, 32,
                  "name contains '/' or NUL")
    elif scenario == 'bitmap-crc':
        pokes.append((bb, 4000))
        expect = (['freemap'], 'block bitmap', bb, None, 'bad checksum')
    elif scenario == 'inode-crc':
        blk, off = img.inode_pos(3)
        pokes.append((blk, off + 24))
        expect = (['inode', '3'], 'inode', blk, None, 'bad checksum')
    elif scenario != 'clean':
        sys.exit('dump-img.py: unknown scenario ' + scenario)

    # counts, checksums
    used_b = sum(img.bit(bb, b) for b in range(nblocks))
    used_i = sum(img.bit(ib, i) for i in range(sb['s_inodes']))
    sb['s_free_blocks'] = nblocks - used_b
    sb['s_free_inodes'] = sb['s_inodes'] - used_i
    for blk, buf in img.dirty.items():
        if blk == 0:
            continue
        it = sb['s_itable_start']
        if it <= blk < it + sb['s_itable_blocks']:
            for slot in range(INODES_PER_BLOCK):
                o = slot * INODE_SIZE
                if struct.unpack_from('<I', buf, o)[0] == INODE_MAGIC:
                    rec = bytearray(buf[o:o + INODE_SIZE])
                    set_crc(rec, 4, INODE_SIZE)
                    buf[o:o + INODE_SIZE] = rec
        elif struct.unpack_from('<I', buf, 0)[0] != 0 or blk == bb:
            set_crc(buf, 4, BS)
    b0 = img.block(0)
    struct.pack_into(SB_FMT, b0, 0, *[sb[n] for n, _ in SB_FIELDS])
    sbuf = bytearray(b0[:512])
    set_crc(sbuf, 4, 512)
    b0[:512] = sbuf
    for blk, off in pokes:
        img.block(blk)[off] ^= 0x5a
    img.flush()

    man = {'blocks': names, 'extents': expect_ext, 'refcount': records,
           'nodes': {'2': ['inode', eb1, eb2], '3': ['inode'],
                     '4': ['inode']}}
    if expect:
        man['expect'] = dict(zip(['view', 'what', 'block', 'where',
                                  'reason'], expect))
    print(json.dumps(man))


def decode_sb(path):
    with open(path, 'rb') as f:
        raw = f.read(512)
    vals = dict(zip([n for n, _ in SB_FIELDS], struct.unpack(SB_FMT, raw)))
    u = vals['s_uuid'].hex()
    vals['s_uuid'] = '-'.join([u[0:8], u[8:12], u[12:16], u[16:20], u[20:]])
    vals['s_label'] = vals['s_label'].split(b'\0')[0].decode('latin-1')
    vals['s_reserved_nonzero'] = sum(
        1 for i in range(31)
        if struct.unpack_from('<Q', vals['s_reserved'], 8 * i)[0])
    del vals['s_reserved']
    crc = bytearray(raw)
    crc[4:8] = bytes(4)
    vals['crc_computed'] = crc32c(bytes(crc))
    print(json.dumps(vals))


def decode_inode(path, ino):
    with open(path, 'rb') as f:
        sb = dict(zip([n for n, _ in SB_FIELDS],
                      struct.unpack(SB_FMT, f.read(512))))
        f.seek((sb['s_itable_start'] + ino // INODES_PER_BLOCK) * BS +
               (ino % INODES_PER_BLOCK) * INODE_SIZE)
        raw = f.read(INODE_SIZE)
    vals = dict(zip([n for n, _ in INODE_FIELDS],
                    struct.unpack(INODE_FMT, raw)))
    vals['i_data'] = vals['i_data'].hex()
    crc = bytearray(raw)
    crc[4:8] = bytes(4)
    vals['crc_computed'] = crc32c(bytes(crc))
    print(json.dumps(vals))


def mutate(rnd, data, sb, hot):
    """Blocks of data (dict block -> bytearray) with random bytes changed."""
    blocks = {}
    for _ in range(rnd.randint(1, 12)):
        blk = rnd.choice(hot)
        if blk not in blocks:
            blocks[blk] = bytearray(data[blk * BS:(blk + 1) * BS])
        # mostly the headers and first entries, where the fields are
        off = rnd.randrange(160) if rnd.random() < 0.7 else rnd.randrange(BS)
        blocks[blk][off] = rnd.randrange(256)
    if rnd.random() < 0.5:
        # valid checksums, so that the checks behind them are reached
        it = sb['s_itable_start']
        for blk, buf in blocks.items():
            if blk == 0:
                sbuf = bytearray(buf[:512])
                set_crc(sbuf, 4, 512)
                buf[:512] = sbuf
            elif it <= blk < it + sb['s_itable_blocks']:
                for o in range(0, BS, INODE_SIZE):
                    rec = bytearray(buf[o:o + INODE_SIZE])
                    set_crc(rec, 4, INODE_SIZE)
                    buf[o:o + INODE_SIZE] = rec
            else:
                set_crc(buf, 4, BS)
    return blocks


SANITIZER_MARKS = ('AddressSanitizer', 'LeakSanitizer', 'runtime error:',
                   'UndefinedBehaviorSanitizer')


def fuzz_run(tool, base, work, seed, count, timeout):
    """
    count images, each base with a few random bytes of its metadata
    changed (seeded), written into work in turn; every view of dump runs
    on each, text and JSON alternately.  A view must exit 0, 1 or 2 in
    time, with no sanitizer report, and its JSON must parse.
    """
    rnd = random.Random(seed)
    with open(base, 'rb') as f:
        data = bytearray(f.read())
    with open(work, 'wb') as f:
        f.write(data)
    sb = dict(zip([n for n, _ in SB_FIELDS],
                  struct.unpack_from(SB_FMT, data)))
    nb = len(data) // BS
    ds = sb['s_data_start']
    used = [b for b in range(ds, nb) if any(data[b * BS:b * BS + 64])]
    hot = [0, sb['s_bbitmap_start'], sb['s_ibitmap_start'],
           sb['s_itable_start']] + used
    views = [['sb'], ['inode', '1'], ['inode', '2'], ['inode', '3'],
             ['extents', '2'], ['extents', '3'], ['refcount'], ['freemap'],
             ['block', str(sb['s_itable_start'])],
             ['block', str(sb['s_bbitmap_start'])]]
    views += [['block', str(b)] for b in used[:8]]
    views += [['tree', str(b)] for b in used[:8]
              if struct.unpack_from('<I', data, b * BS)[0] in
              (EXTENT_MAGIC, REFCOUNT_MAGIC)]
    bad = []
    runs = 0
    codes = {}
    with open(work, 'r+b') as w:
        for it in range(count):
            blocks = mutate(rnd, data, sb, hot)
            for blk, buf in blocks.items():
                w.seek(blk * BS)
                w.write(buf)
            w.flush()
            for k, v in enumerate(views):
                js = (it + k) % 2 == 0
                cmd = [tool, 'dump'] + (['--json'] if js else []) + \
                    [work] + v
                runs += 1
                try:
                    p = subprocess.run(cmd, capture_output=True,
                                       timeout=timeout)
                except subprocess.TimeoutExpired:
                    bad.append((it, v, 'timeout'))
                    continue
                err = p.stderr.decode('utf-8', 'replace')
                codes[p.returncode] = codes.get(p.returncode, 0) + 1
                if p.returncode not in (0, 1, 2):
                    bad.append((it, v, 'exit %d: %s' % (p.returncode,
                                                        err[-600:])))
                elif any(m in err for m in SANITIZER_MARKS):
                    bad.append((it, v, 'sanitizer: ' + err[-600:]))
                elif js and p.returncode != 2:
                    try:
                        d = json.loads(p.stdout)
                        assert d['version'] == 1
                        assert d['ok'] == (p.returncode == 0)
                        assert d['failed'] == len(d['failures'])
                    except (ValueError, KeyError, AssertionError) as e:
                        bad.append((it, v, 'bad JSON: %r' % e))
            for blk in blocks:
                w.seek(blk * BS)
                w.write(data[blk * BS:(blk + 1) * BS])
    print('# fuzz: %d images, %d runs, exit codes %s, %d bad' %
          (count, runs, dict(sorted(codes.items())), len(bad)))
    for it, v, why in bad[:10]:
        print('# image %d (seed %d), dump %s: %s' % (it, seed, ' '.join(v),
                                                     why))
    sys.exit(1 if bad else 0)


def main():
    a = sys.argv[1:]
    if a[:1] == ['build'] and len(a) in (2, 3):
        build(a[1], a[2] if len(a) == 3 else 'clean')
    elif a == ['scenarios']:
        print('\n'.join(SCENARIOS))
    elif a[:1] == ['sb'] and len(a) == 2:
        decode_sb(a[1])
    elif a[:1] == ['inode'] and len(a) == 3:
        decode_inode(a[1], int(a[2]))
    elif a[:1] == ['fuzz'] and len(a) == 7:
        fuzz_run(a[1], a[2], a[3], int(a[4]), int(a[5]), float(a[6]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
