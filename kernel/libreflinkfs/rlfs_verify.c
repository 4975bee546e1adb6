// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libreflinkfs: the verifiers.  Each rule about what a valid superblock,
 * inode, tree node, directory, xattr or symlink block is exists here and
 * nowhere else; see rlfs_core.h for the calling convention.
 */

#include "rlfs_core.h"

/* ---- superblock ----------------------------------------------------- */

const char *rlfs_verify_geom(const struct rlfs_geom *g)
{
	struct rlfs_geom want = {
		.blocks = g->blocks,
		.inodes = g->inodes,
		.journal_blocks = g->journal_blocks,
	};

	if (g->blocks > RLFS_MAX_BLOCKS)
		return "more blocks than the format allows (2^32)";
	if (g->inodes % RLFS_INODES_PER_BLOCK || g->inodes < RLFS_MIN_INODES ||
	    g->inodes > RLFS_MAX_INODES)
		return "bad inode count (a multiple of 16 in [64, 2^32])";
	if (g->journal_blocks < RLFS_MIN_JOURNAL_BLOCKS ||
	    g->journal_blocks > RLFS_MAX_JOURNAL_BLOCKS)
		return "journal size outside [1024, 32768] blocks";
	if (!rlfs_geom_layout(&want))
		return "regions overflow";
	if (g->bbitmap_blocks != want.bbitmap_blocks ||
	    g->ibitmap_blocks != want.ibitmap_blocks ||
	    g->itable_blocks != want.itable_blocks)
		return "bitmap or inode table sizes do not match the block and inode counts";
	if (g->journal_start != want.journal_start ||
	    g->bbitmap_start != want.bbitmap_start ||
	    g->ibitmap_start != want.ibitmap_start ||
	    g->itable_start != want.itable_start ||
	    g->data_start != want.data_start)
		return "regions not contiguous in the order journal, bitmaps, inode table, data";
	if (g->data_start + RLFS_MIN_DATA_BLOCKS > g->blocks)
		return "data area smaller than 16 blocks";
	return NULL;
}

const char *rlfs_super_unsupported(const struct rlfs_super *rsb)
{
	if (le32_to_cpu(rsb->s_version) != RLFS_VERSION)
		return "unsupported format version";
	if (le32_to_cpu(rsb->s_block_size) != RLFS_BLOCK_SIZE)
		return "unsupported block size";
	if (le64_to_cpu(rsb->s_feature_incompat) & ~RLFS_FEATURE_INCOMPAT_SUPP)
		return "unsupported incompatible features";
	return NULL;
}

const char *rlfs_verify_super(const struct rlfs_super *rsb, u64 dev_blocks,
			      int *error)
{
	struct rlfs_geom g;
	u64 orphan = le64_to_cpu(rsb->s_orphan_head);
	u64 rc_root = le64_to_cpu(rsb->s_refcount_root);
	const char *why;

	*error = EINVAL;
	if (le32_to_cpu(rsb->s_magic) != RLFS_SUPER_MAGIC)
		return "not a reflinkfs filesystem (bad magic)";
	*error = EFSCORRUPTED;
	if (le32_to_cpu(rsb->s_crc) != rlfs_super_csum(rsb))
		return "bad superblock checksum";
	if (le64_to_cpu(rsb->s_blocknr) != RLFS_SUPER_BLOCKNR)
		return "superblock says it is not block 0";
	*error = EINVAL;
	why = rlfs_super_unsupported(rsb);
	if (why)
		return why;
	*error = EFSCORRUPTED;
	rlfs_geom_from_super(rsb, &g);
	why = rlfs_verify_geom(&g);
	if (why)
		return why;
	if (le64_to_cpu(rsb->s_root_ino) != RLFS_ROOT_INO)
		return "bad root inode number";
	if (orphan && (orphan < RLFS_ROOT_INO || orphan >= g.inodes))
		return "orphan list head out of range";
	if (le64_to_cpu(rsb->s_free_blocks) > g.blocks ||
	    le64_to_cpu(rsb->s_free_inodes) > g.inodes)
		return "free counts larger than the filesystem";
	if (le32_to_cpu(rsb->s_refcount_depth) > RLFS_MAX_EXTENT_DEPTH)
		return "refcount tree too deep";
	if (rc_root && !rlfs_geom_in_data(&g, rc_root, 1))
		return "refcount tree root outside the data area";
	if (!rc_root && rsb->s_refcount_depth)
		return "empty refcount tree with a depth";
	if (rc_root && !(le64_to_cpu(rsb->s_feature_incompat) &
			 RLFS_FEATURE_INCOMPAT_REFCOUNT))
		return "refcount tree without the refcount feature";
	if (le32_to_cpu(rsb->s_state) & ~(RLFS_STATE_CLEAN | RLFS_STATE_ERROR))
		return "unknown state flags";
	if (dev_blocks && g.blocks > dev_blocks) {
		*error = EINVAL;
		return "device smaller than the filesystem";
	}
	*error = 0;
	return NULL;
}

/* ---- block headers -------------------------------------------------- */

const char *rlfs_verify_block_header(const void *block, u32 magic,
				     u64 blocknr, u64 owner)
{
	const struct rlfs_block_header *bh = block;

	if (le32_to_cpu(bh->bh_magic) != magic)
		return "bad magic";
	if (le64_to_cpu(bh->bh_blocknr) != blocknr)
		return "header names another block";
	if (le64_to_cpu(bh->bh_owner) != owner)
		return "header names another owner";
	return NULL;
}

const char *rlfs_verify_block_crc(const void *block)
{
	const struct rlfs_block_header *bh = block;

	if (le32_to_cpu(bh->bh_crc) != rlfs_block_csum(block))
		return "bad checksum";
	return NULL;
}

static bool rlfs_bit_set(const u8 *bits, u32 i)
{
	return bits[i / 8] & (1U << (i % 8));
}

const char *rlfs_verify_bitmap_block(const void *block, u64 first,
				     u64 nitems, u64 reserved, u32 *bit)
{
	const struct rlfs_bitmap_block *bb = block;
	u64 end = first + RLFS_BITS_PER_BITMAP;
	u64 item;

	for (item = first; item < reserved && item < end; item++) {
		*bit = item - first;
		if (!rlfs_bit_set(bb->bb_bits, *bit))
			return "reserved item marked free";
	}
	for (item = nitems > first ? nitems : first; item < end; item++) {
		*bit = item - first;
		if (!rlfs_bit_set(bb->bb_bits, *bit))
			return "bit past the last item clear";
	}
	return NULL;
}

/* ---- inodes --------------------------------------------------------- */

/*
 * Snapshots (RLFS_FEATURE_RO_COMPAT_SNAPSHOT, see rlfs_format.h): a
 * snapshot names an origin other than itself and has a lineage; any
 * regular file may carry a lineage; nothing else carries a record.
 */
static const char *rlfs_verify_snap_record(const struct rlfs_inode *ri,
					   u64 ino, u64 inodes, u64 ro_compat,
					   bool is_reg)
{
	bool snapshot = le32_to_cpu(ri->i_flags) & RLFS_SNAPSHOT_FL;
	u64 origin = le64_to_cpu(ri->i_snap_origin);
	u32 origin_gen = le32_to_cpu(ri->i_snap_origin_gen);
	u64 lineage = le64_to_cpu(ri->i_lineage);

	if (!snapshot && !origin && !origin_gen && !lineage)
		return NULL;
	if (!(ro_compat & RLFS_FEATURE_RO_COMPAT_SNAPSHOT))
		return "snapshot record without the snapshot feature";
	if (!is_reg)
		return "snapshot record on a file that is not regular";
	if (!snapshot)
		return (origin || origin_gen) ?
			"snapshot origin on a file that is not a snapshot" :
			NULL;
	if (!origin || origin >= inodes)
		return "snapshot origin out of range";
	if (origin == ino)
		return "snapshot is its own origin";
	if (!lineage)
		return "snapshot without a lineage";
	return NULL;
}

static const char *rlfs_verify_fast_symlink(const struct rlfs_inode *ri)
{
	u64 size = le64_to_cpu(ri->i_size);
	const char *nul = memchr(ri->i_symlink, 0, RLFS_INODE_DATA_SIZE);

	if (!nul)
		return "fast symlink target not NUL terminated";
	if (!size || size > RLFS_FAST_SYMLINK_MAX ||
	    (u64)(nul - ri->i_symlink) != size)
		return "fast symlink target length does not match i_size";
	return NULL;
}

const char *rlfs_verify_inode(const struct rlfs_inode *ri, u64 ino,
			      const struct rlfs_geom *g, u64 ro_compat)
{
	u16 mode = le16_to_cpu(ri->i_mode);
	u32 flags = le32_to_cpu(ri->i_flags);
	u64 size = le64_to_cpu(ri->i_size);
	u64 next = le64_to_cpu(ri->i_next_orphan);
	u64 parent = le64_to_cpu(ri->i_parent);
	const char *why;
	u8 ft;

	if (le32_to_cpu(ri->i_magic) != RLFS_INODE_MAGIC)
		return "bad magic";
	if (le64_to_cpu(ri->i_ino) != ino)
		return "record names another inode";
	if (le32_to_cpu(ri->i_crc) != rlfs_inode_csum(ri))
		return "bad checksum";
	if (!mode)
		return NULL;			/* a freed record */
	ft = rlfs_mode_to_ftype(mode);
	if (ft == RLFS_FT_UNKNOWN)
		return "unknown file type in i_mode";
	if (ino == RLFS_ROOT_INO && ft != RLFS_FT_DIR)
		return "the root inode is not a directory";
	if (size > RLFS_MAX_FILE_SIZE)
		return "i_size beyond the largest file";
	if (ft == RLFS_FT_DIR && size % RLFS_BLOCK_SIZE)
		return "directory size not a multiple of the block size";
	if (le32_to_cpu(ri->i_atime_ns) >= NSEC_PER_SEC ||
	    le32_to_cpu(ri->i_mtime_ns) >= NSEC_PER_SEC ||
	    le32_to_cpu(ri->i_ctime_ns) >= NSEC_PER_SEC ||
	    le32_to_cpu(ri->i_crtime_ns) >= NSEC_PER_SEC)
		return "nanoseconds out of range";
	if (le64_to_cpu(ri->i_blocks) > g->blocks)
		return "i_blocks larger than the filesystem";
	if (next && (next < RLFS_ROOT_INO || next >= g->inodes))
		return "next orphan out of range";
	if (flags & ~RLFS_KNOWN_FL)
		return "unknown flags";
	if (ri->i_xattr_blk &&
	    !rlfs_geom_in_data(g, le64_to_cpu(ri->i_xattr_blk), 1))
		return "xattr block outside the data area";
	if (flags & RLFS_FAST_SYMLINK_FL) {
		if (ft != RLFS_FT_SYMLINK)
			return "fast symlink flag on a file that is not a symlink";
		return rlfs_verify_fast_symlink(ri);
	}
	if (ft != RLFS_FT_REG && ft != RLFS_FT_DIR && ft != RLFS_FT_SYMLINK) {
		if (ri->i_eh.bt_entries)
			return "special file maps blocks";
	} else {
		int entry;

		why = rlfs_verify_extent_node(&ri->i_eh, true,
					      rlfs_bt_depth(&ri->i_eh), 0,
					      RLFS_LBLK_LIMIT, g, &entry);
		if (why)
			return why;
	}
	if (ft == RLFS_FT_DIR &&
	    (parent < RLFS_ROOT_INO || parent >= g->inodes))
		return "directory parent out of range";
	if (ino == RLFS_ROOT_INO && parent != RLFS_ROOT_INO)
		return "the root directory's parent is not itself";
	return rlfs_verify_snap_record(ri, ino, g->inodes, ro_compat,
				       ft == RLFS_FT_REG);
}

/* ---- B+tree nodes --------------------------------------------------- */

/* The header of a node of capacity @max that the tree expects at @depth. */
static const char *rlfs_verify_bt_header(const struct rlfs_btree_header *h,
					 int max, int depth)
{
	if (rlfs_bt_max(h) != max)
		return "bad capacity (bt_max)";
	if (rlfs_bt_entries(h) > max)
		return "more entries than its capacity";
	if (depth > RLFS_MAX_EXTENT_DEPTH)
		return "tree too deep";
	if (rlfs_bt_depth(h) != depth)
		return "unexpected depth";
	return NULL;
}

/*
 * Index entry i: its key strictly above the previous one (in
 * [*prev_end, hi)), its child in the data area.  Advances *prev_end.
 */
static const char *rlfs_verify_bt_index(const struct rlfs_btree_header *h,
					int i, unsigned int keylen,
					u64 *prev_end, u64 hi,
					const struct rlfs_geom *g)
{
	u64 key = rlfs_bt_key(h, i, keylen);

	if (key < *prev_end || key >= hi)
		return "indexes out of order or range";
	if (!rlfs_geom_in_data(g, rlfs_bt_child(h, i), 1))
		return "index outside the data area";
	*prev_end = key + 1;
	return NULL;
}

const char *rlfs_verify_extent_node(const struct rlfs_btree_header *h,
				    bool root, int depth, u64 lo, u64 hi,
				    const struct rlfs_geom *g, int *entry)
{
	int max = root ? RLFS_INODE_ROOT_ENTRIES : RLFS_EXTENT_BLOCK_ENTRIES;
	int n = rlfs_bt_entries(h);
	u64 prev_end = lo;
	const char *why;
	int i;

	*entry = -1;
	why = rlfs_verify_bt_header(h, max, depth);
	if (why)
		return why;
	if (n == 0 && (!root || depth))
		return "empty node";
	for (i = 0; i < n; i++) {
		*entry = i;
		if (depth) {
			why = rlfs_verify_bt_index(h, i, sizeof(__le32),
						   &prev_end, hi, g);
			if (why)
				return why;
		} else {
			struct rlfs_ext_irec r;

			rlfs_ext_to_irec(rlfs_bt_entry(h, i), &r);
			if (!r.len || r.len > RLFS_MAX_EXTENT_LEN)
				return "bad extent length";
			if (r.lblk < prev_end || (u64)r.lblk + r.len > hi)
				return "extents out of order or range";
			if (!rlfs_geom_in_data(g, r.pblk, r.len))
				return "extent outside the data area";
			prev_end = (u64)r.lblk + r.len;
		}
	}
	*entry = -1;
	return NULL;
}

const char *rlfs_verify_refcount_node(const struct rlfs_btree_header *h,
				      bool root, int depth, u64 lo, u64 hi,
				      const struct rlfs_geom *g, int *entry)
{
	int n = rlfs_bt_entries(h);
	u64 prev_end = lo;
	const char *why;
	int i;

	*entry = -1;
	why = rlfs_verify_bt_header(h, RLFS_REFCOUNT_BLOCK_ENTRIES, depth);
	if (why)
		return why;
	if (n == 0)
		return "empty node";
	if (!root && rlfs_bt_key(h, 0, sizeof(__le64)) != lo) {
		*entry = 0;
		return "first key differs from the parent's key";
	}
	for (i = 0; i < n; i++) {
		*entry = i;
		if (depth) {
			why = rlfs_verify_bt_index(h, i, sizeof(__le64),
						   &prev_end, hi, g);
			if (why)
				return why;
		} else {
			struct rlfs_rc_irec r;

			rlfs_rc_to_irec(rlfs_bt_entry(h, i), &r);
			if (!r.len)
				return "empty record";
			if (r.refcount < 2)
				return "record with a refcount below 2";
			if (r.start < prev_end)
				return "records out of order or overlapping";
			if (r.start >= hi || r.len > hi - r.start)
				return "record outside its key range";
			if (!rlfs_geom_in_data(g, r.start, r.len))
				return "record outside the data area";
			prev_end = r.start + r.len;
		}
	}
	*entry = -1;
	return NULL;
}

/* ---- directory, xattr and symlink blocks ---------------------------- */

static bool rlfs_dot_or_dotdot(const char *name, unsigned int len)
{
	return (len == 1 && name[0] == '.') ||
	       (len == 2 && name[0] == '.' && name[1] == '.');
}

static const char *rlfs_verify_dirent(const struct rlfs_dirent *de,
				      unsigned int rec_len, u64 inodes)
{
	u64 ino = le64_to_cpu(de->d_ino);

	if (rec_len < (unsigned int)RLFS_DIRENT_SIZE(de->d_name_len))
		return "record too short for its name";
	if (!ino)
		return NULL;			/* a free record */
	if (!de->d_name_len)
		return "live record with an empty name";
	if (ino >= inodes)
		return "inode number out of range";
	if (ino == RLFS_ROOT_INO)
		return "entry names the root directory";
	if (memchr(de->d_name, '/', de->d_name_len) ||
	    memchr(de->d_name, 0, de->d_name_len))
		return "name contains '/' or NUL";
	if (rlfs_dot_or_dotdot(de->d_name, de->d_name_len))
		return "'.' or '..' stored as an entry";
	if (!rlfs_ftype_valid(de->d_type))
		return "unknown entry type";
	return NULL;
}

const char *rlfs_verify_dir_block(const void *block, u64 inodes,
				  unsigned int *off)
{
	const u8 *base = block;
	const char *why;

	for (*off = sizeof(struct rlfs_block_header); *off < RLFS_BLOCK_SIZE;) {
		const struct rlfs_dirent *de = (const void *)(base + *off);
		unsigned int rec_len;

		if (*off + RLFS_DIRENT_HDR > RLFS_BLOCK_SIZE)
			return "record header past the end of the block";
		rec_len = le16_to_cpu(de->d_rec_len);
		if (rec_len < (unsigned int)RLFS_DIRENT_SIZE(0))
			return "record length too small";
		if (rec_len % RLFS_DIRENT_ALIGN)
			return "record length not a multiple of 8";
		if (*off + rec_len > RLFS_BLOCK_SIZE)
			return "record past the end of the block";
		why = rlfs_verify_dirent(de, rec_len, inodes);
		if (why)
			return why;
		*off += rec_len;
	}
	return NULL;
}

const char *rlfs_verify_xattr_block(const void *block, unsigned int *off,
				    unsigned int *used)
{
	const unsigned int first = sizeof(struct rlfs_block_header);
	const u8 *base = block;

	for (*off = first;
	     *off + sizeof(struct rlfs_xattr_entry) <= RLFS_BLOCK_SIZE;) {
		const struct rlfs_xattr_entry *xe = (const void *)(base + *off);
		unsigned int size;

		if (!xe->xe_name_len)
			break;
		if (xe->xe_index < RLFS_XATTR_INDEX_USER ||
		    xe->xe_index > RLFS_XATTR_INDEX_SECURITY)
			return "unknown namespace index";
		size = RLFS_XATTR_ENTRY_SIZE(xe->xe_name_len,
					     le16_to_cpu(xe->xe_value_len));
		if (size > RLFS_BLOCK_SIZE - *off)
			return "entry crosses the end of the block";
		*off += size;
	}
	*used = *off - first;
	return NULL;
}

const char *rlfs_verify_symlink_block(const void *block, u64 size)
{
	const struct rlfs_symlink_block *sl = block;
	const char *nul = memchr(sl->sl_target, 0, sizeof(sl->sl_target));

	if (!nul)
		return "target not NUL terminated";
	if (!size || size > RLFS_SLOW_SYMLINK_MAX ||
	    (u64)(nul - sl->sl_target) != size)
		return "target length does not match i_size";
	return NULL;
}
