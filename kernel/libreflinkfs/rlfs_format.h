/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * reflinkfs on-disk format.
 *
 * Part of libreflinkfs, the format core compiled unchanged into the kernel
 * module and the userspace tools (see rlfs_core.h).  It holds declarations
 * and limits only; the rules that say what a valid block is live in
 * rlfs_verify.c.  Everything on disk is little endian; every metadata
 * block carries a magic, its own block number and a crc32c, and is checked
 * by a read verifier before use.
 *
 * Layout of a filesystem of N 4 KiB blocks (all regions contiguous, in
 * this order, their positions recorded in the superblock):
 *
 *   block 0                    superblock
 *   journal_start ..           jbd2 journal (internal, contiguous)
 *   bbitmap_start ..           free-block bitmap   (1 bit per block)
 *   ibitmap_start ..           inode-allocation bitmap (1 bit per inode)
 *   itable_start ..            inode table (RLFS_INODES_PER_BLOCK per block)
 *   data_start .. N-1          data, directory, extent, xattr and
 *                              refcount-tree blocks
 *
 * See Documentation/filesystems/reflinkfs.rst for the full description.
 */
#ifndef _RLFS_FORMAT_H
#define _RLFS_FORMAT_H

#include "libreflinkfs_priv.h"

/* Magic numbers, one per kind of metadata block. */
#define RLFS_SUPER_MAGIC	0x52464c53U	/* "SLFR": superblock */
#define RLFS_INODE_MAGIC	0x4e494c52U	/* "RLIN": one inode record */
#define RLFS_BITMAP_MAGIC	0x4d424c52U	/* "RLBM": bitmap block */
#define RLFS_EXTENT_MAGIC	0x58454c52U	/* "RLEX": extent tree block */
#define RLFS_DIR_MAGIC		0x52444c52U	/* "RLDR": directory block */
#define RLFS_XATTR_MAGIC	0x41584c52U	/* "RLXA": xattr block */
#define RLFS_SYMLINK_MAGIC	0x4c534c52U	/* "RLSL": slow symlink block */
#define RLFS_REFCOUNT_MAGIC	0x43524c52U	/* "RLRC": refcount tree block */

#define RLFS_VERSION		1
#define RLFS_BLOCK_SIZE		4096U
#define RLFS_BLOCK_BITS		12
#define RLFS_SUPER_BLOCKNR	0ULL
#define RLFS_CRC_SEED		0xffffffffU

/*
 * Format limits.  Every rule about sizes lives here, read by mkfs (what it
 * makes), the kernel (what it mounts) and fsck (what it accepts) alike.
 *
 * Blocks: jbd2 without its 64bit feature stores 32-bit block numbers, so
 * a filesystem has at most 2^32 blocks.  Inodes: a multiple of
 * RLFS_INODES_PER_BLOCK in [RLFS_MIN_INODES, RLFS_MAX_INODES]; 64 is the
 * smallest table mkfs makes and the smallest anything accepts.  Data: at
 * least RLFS_MIN_DATA_BLOCKS blocks after the metadata.  Files: logical
 * blocks are 32-bit (e_lblk) and block 2^32 - 1 is never mapped, so that
 * the end of any extent fits in 32 bits: a file ends at 2^32 - 1 blocks.
 */
#define RLFS_MAX_BLOCKS		(1ULL << 32)
#define RLFS_MIN_INODES		64ULL
#define RLFS_MAX_INODES		(1ULL << 32)
#define RLFS_MIN_DATA_BLOCKS	16ULL
#define RLFS_LBLK_LIMIT		0xffffffffULL	/* first unmappable block */
#define RLFS_MAX_FILE_SIZE	(RLFS_LBLK_LIMIT << RLFS_BLOCK_BITS)

/* Inode numbers.  0 is never allocated; 1 is the root directory. */
#define RLFS_ROOT_INO		1ULL
#define RLFS_FIRST_INO		2ULL	/* first inode mkfs leaves free */

/* Feature masks (as ext4 and XFS: unknown incompat bits refuse mount). */
#define RLFS_FEATURE_COMPAT_SUPP	0ULL
/*
 * Snapshot records and lineage ids may be present in inodes (i_flags
 * RLFS_SNAPSHOT_FL, i_snap_origin, i_snap_origin_gen, i_lineage).  Read
 * only for a kernel that does not know it: such a kernel would keep the
 * files but drop the records it does not know when it rewrites an inode.
 * mkfs sets it; the kernel sets it with the first record it writes.
 */
#define RLFS_FEATURE_RO_COMPAT_SNAPSHOT	(1ULL << 0)
#define RLFS_FEATURE_RO_COMPAT_SUPP	RLFS_FEATURE_RO_COMPAT_SNAPSHOT
/* Refcount tree present: shared extents may exist (s_refcount_root). */
#define RLFS_FEATURE_INCOMPAT_REFCOUNT	(1ULL << 0)
#define RLFS_FEATURE_INCOMPAT_SUPP	RLFS_FEATURE_INCOMPAT_REFCOUNT

/* Superblock state flags (s_state). */
#define RLFS_STATE_CLEAN	(1U << 0)	/* unmounted cleanly */
#define RLFS_STATE_ERROR	(1U << 1)	/* corruption was seen */

#define RLFS_LABEL_LEN		32
#define RLFS_UUID_LEN		16

/*
 * Superblock, block 0.  s_crc covers the whole structure (not the rest of
 * the block) with s_crc itself taken as zero.
 */
struct rlfs_super {
	__le32	s_magic;		/* RLFS_SUPER_MAGIC */
	__le32	s_crc;			/* crc32c of this struct */
	__le64	s_blocknr;		/* always 0: own block number */
	__le32	s_version;		/* RLFS_VERSION */
	__le32	s_block_size;		/* bytes, always 4096 */
	__le64	s_feature_compat;	/* unknown bits: ignored */
	__le64	s_feature_ro_compat;	/* unknown bits: read-only mount */
	__le64	s_feature_incompat;	/* unknown bits: refuse mount */
	__u8	s_uuid[RLFS_UUID_LEN];	/* filesystem UUID */
	char	s_label[RLFS_LABEL_LEN];/* NUL-padded volume label */
	__le64	s_blocks;		/* blocks in the filesystem */
	__le64	s_inodes;		/* inode slots (inode 0 included) */
	__le64	s_free_blocks;		/* hint, recomputed at mount */
	__le64	s_free_inodes;		/* hint, recomputed at mount */
	__le64	s_journal_start;	/* first journal block */
	__le64	s_journal_blocks;	/* journal length in blocks */
	__le64	s_bbitmap_start;	/* first block-bitmap block */
	__le64	s_bbitmap_blocks;	/* number of block-bitmap blocks */
	__le64	s_ibitmap_start;	/* first inode-bitmap block */
	__le64	s_ibitmap_blocks;	/* number of inode-bitmap blocks */
	__le64	s_itable_start;		/* first inode-table block */
	__le64	s_itable_blocks;	/* number of inode-table blocks */
	__le64	s_data_start;		/* first block of the data area */
	__le64	s_root_ino;		/* RLFS_ROOT_INO */
	__le64	s_orphan_head;		/* first inode of the orphan list */
	__le64	s_refcount_root;	/* refcount tree root block, 0: none */
	__le32	s_refcount_depth;	/* refcount tree levels below root */
	__le32	s_state;		/* RLFS_STATE_* */
	__le64	s_mkfs_time;		/* seconds since the epoch */
	__le64	s_mount_time;		/* last mount, seconds */
	__le64	s_write_time;		/* last superblock write, seconds */
	__le32	s_mount_count;		/* mounts since mkfs */
	__le32	s_next_generation;	/* next inode i_generation */
	__le64	s_reserved[31];		/* zero */
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_super) == 512);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_super, s_crc) == 4);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_super, s_uuid) == 48);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_super, s_blocks) == 96);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_super, s_refcount_root) == 216);

/*
 * Common header of every metadata block but the superblock and the inode
 * table (inode records carry their own magic/number/crc).  bh_crc is a
 * crc32c of the whole 4 KiB block with bh_crc taken as zero.
 */
struct rlfs_block_header {
	__le32	bh_magic;	/* RLFS_*_MAGIC of this kind of block */
	__le32	bh_crc;		/* crc32c of the block */
	__le64	bh_blocknr;	/* own block number */
	__le64	bh_owner;	/* owning inode, 0 for fs-wide blocks */
	__le64	bh_reserved;	/* zero */
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_block_header) == 32);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_block_header, bh_crc) == 4);

/*
 * Bitmap block (free-block map and inode map).  Bit set: in use.  Bit i of
 * bitmap block k describes item k * RLFS_BITS_PER_BITMAP + i; the bits are
 * little-endian within each byte (bit i is byte i / 8, mask 1 << (i % 8)).
 * Bits past the last item are set.
 */
#define RLFS_BITMAP_BYTES	(RLFS_BLOCK_SIZE - sizeof(struct rlfs_block_header))
#define RLFS_BITS_PER_BITMAP	(RLFS_BITMAP_BYTES * 8)
struct rlfs_bitmap_block {
	struct rlfs_block_header bb_hdr;	/* RLFS_BITMAP_MAGIC, owner 0 */
	__u8	bb_bits[RLFS_BITMAP_BYTES];
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_bitmap_block) == RLFS_BLOCK_SIZE);

/*
 * Extents.  A file maps logical block ranges to physical ranges; the map
 * is a B+tree whose root lives in the inode (i_data) and whose other nodes
 * are extent blocks.  Depth 0: the root holds extents; depth d > 0: the
 * node holds indexes to nodes of depth d - 1.  Entries are sorted by
 * logical block and never overlap.
 */
struct rlfs_extent {
	__le32	e_lblk;		/* first logical block */
	__le32	e_len;		/* length in blocks, 1..RLFS_MAX_EXTENT_LEN */
	__le64	e_pblk;		/* first physical block */
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_extent) == 16);

struct rlfs_extent_idx {
	__le32	ei_lblk;	/* first logical block covered by the child */
	__le32	ei_reserved;	/* zero */
	__le64	ei_blk;		/* child extent block */
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_extent_idx) == 16);

/*
 * B+tree node header, the same 8 bytes in both trees: in the inode root
 * and at the top of every extent block, and after the block header of
 * every refcount block.  Entries (16 bytes each) follow it; the key is at
 * offset 0 of an entry (__le32 logical block in the extent tree, __le64
 * physical block in the refcount tree) and in index entries the child
 * block is the __le64 at offset 8.
 */
struct rlfs_btree_header {
	__le16	bt_entries;	/* valid entries */
	__le16	bt_max;		/* capacity */
	__le16	bt_depth;	/* 0: leaf (records), >0: index node */
	__le16	bt_reserved;	/* zero */
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_btree_header) == 8);
#define RLFS_BT_ENTRY_SIZE	16

/*
 * Longest extent: 2^21 blocks (8 GiB), XFS's MAXEXTLEN.  The length bounds
 * no transaction (allocation and freeing work in steps of at most one
 * bitmap block's worth, whatever the extent), so a contiguous file of up to
 * 8 GiB is one extent and clones with one record insert.  It stays below
 * 2^31 so that a block count always fits an int.
 */
#define RLFS_MAX_EXTENT_LEN	(1U << 21)
#define RLFS_MAX_EXTENT_DEPTH	5
#define RLFS_EXTENT_BLOCK_ENTRIES \
	((RLFS_BLOCK_SIZE - sizeof(struct rlfs_block_header) - \
	  sizeof(struct rlfs_btree_header)) / sizeof(struct rlfs_extent))

struct rlfs_extent_block {
	struct rlfs_block_header eb_hdr;	/* RLFS_EXTENT_MAGIC, owner ino */
	struct rlfs_btree_header eb_eh;
	union {
		struct rlfs_extent	eb_ext[RLFS_EXTENT_BLOCK_ENTRIES];
		struct rlfs_extent_idx	eb_idx[RLFS_EXTENT_BLOCK_ENTRIES];
	};
	__u8	eb_pad[8];				/* zero */
};
RLFS_STATIC_ASSERT(RLFS_EXTENT_BLOCK_ENTRIES == 253);
RLFS_STATIC_ASSERT(RLFS_BITS_PER_BITMAP <= RLFS_MAX_EXTENT_LEN);
RLFS_STATIC_ASSERT(RLFS_MAX_EXTENT_LEN < (1U << 31));
RLFS_STATIC_ASSERT(sizeof(struct rlfs_extent_block) == RLFS_BLOCK_SIZE);

/*
 * Inode record, 256 bytes, RLFS_INODES_PER_BLOCK to an inode-table block
 * (inode n lives in block itable_start + n / 16, slot n % 16).  i_crc
 * covers the 256 bytes with i_crc taken as zero.  A free slot is all zero
 * except that it may hold a stale record whose i_mode is 0.
 */
#define RLFS_INODE_SIZE		256U
#define RLFS_INODES_PER_BLOCK	(RLFS_BLOCK_SIZE / RLFS_INODE_SIZE)
#define RLFS_INODE_DATA_SIZE	104U	/* i_data bytes */
#define RLFS_INODE_ROOT_ENTRIES \
	((RLFS_INODE_DATA_SIZE - sizeof(struct rlfs_btree_header)) / \
	 sizeof(struct rlfs_extent))
/* Fast symlink: the target lives in i_data, NUL terminated. */
#define RLFS_FAST_SYMLINK_MAX	(RLFS_INODE_DATA_SIZE - 1)

/* i_flags: the FS_*_FL values chattr knows, stored as such. */
#define RLFS_SECRM_FL		0x00000001U
#define RLFS_SYNC_FL		0x00000008U
#define RLFS_IMMUTABLE_FL	0x00000010U
#define RLFS_APPEND_FL		0x00000020U
#define RLFS_NODUMP_FL		0x00000040U
#define RLFS_NOATIME_FL		0x00000080U
#define RLFS_DIRSYNC_FL		0x00010000U
/* Internal, not settable by chattr. */
#define RLFS_FAST_SYMLINK_FL	0x01000000U	/* i_data holds the target */
#define RLFS_SNAPSHOT_FL	0x02000000U	/* a snapshot record: see below */
#define RLFS_USER_FL_MASK	(RLFS_SYNC_FL | RLFS_IMMUTABLE_FL | \
				 RLFS_APPEND_FL | RLFS_NODUMP_FL | \
				 RLFS_NOATIME_FL | RLFS_DIRSYNC_FL)
/* Every flag an inode may carry. */
#define RLFS_KNOWN_FL		(RLFS_SECRM_FL | RLFS_USER_FL_MASK | \
				 RLFS_FAST_SYMLINK_FL | RLFS_SNAPSHOT_FL)

struct rlfs_inode {
	__le32	i_magic;	/* RLFS_INODE_MAGIC */
	__le32	i_crc;		/* crc32c of the record */
	__le64	i_ino;		/* own inode number */
	__le16	i_mode;		/* type and permissions, 0: free */
	__le16	i_reserved0;	/* zero */
	__le32	i_nlink;	/* hard links */
	__le32	i_uid;		/* owner */
	__le32	i_gid;		/* group */
	__le64	i_size;		/* bytes */
	__le64	i_blocks;	/* 4 KiB blocks owned: data, extent, xattr */
	__le64	i_atime;	/* seconds since the epoch, signed */
	__le64	i_mtime;
	__le64	i_ctime;
	__le64	i_crtime;	/* birth time */
	__le32	i_atime_ns;	/* nanoseconds, < 1e9 */
	__le32	i_mtime_ns;
	__le32	i_ctime_ns;
	__le32	i_crtime_ns;
	__le32	i_flags;	/* RLFS_*_FL */
	__le32	i_generation;	/* NFS generation */
	__le32	i_rdev;		/* device number, new_encode_dev() */
	__le32	i_snap_origin_gen; /* snapshots: origin's i_generation */
	__le64	i_xattr_blk;	/* xattr block, 0: none */
	__le64	i_next_orphan;	/* next inode on the orphan list, 0: end */
	__le64	i_parent;	/* directories: parent directory inode */
	__le64	i_snap_origin;	/* snapshots: the inode it was taken of */
	__le64	i_lineage;	/* regular files: lineage id, 0: none */
	union {
		struct {
			struct rlfs_btree_header i_eh;
			struct rlfs_extent i_ext[RLFS_INODE_ROOT_ENTRIES];
		};
		struct {
			struct rlfs_btree_header i_eh_idx;
			struct rlfs_extent_idx i_idx[RLFS_INODE_ROOT_ENTRIES];
		};
		char	i_symlink[RLFS_INODE_DATA_SIZE];
		__u8	i_data[RLFS_INODE_DATA_SIZE];
	};
};
RLFS_STATIC_ASSERT(RLFS_INODE_ROOT_ENTRIES == 6);
RLFS_STATIC_ASSERT(sizeof(struct rlfs_inode) == RLFS_INODE_SIZE);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_inode, i_crc) == 4);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_inode, i_xattr_blk) == 112);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_inode, i_data) == 152);

/*
 * Snapshots (RLFS_FEATURE_RO_COMPAT_SNAPSHOT).  A regular file made by a
 * reflink with the immutable flag carries RLFS_SNAPSHOT_FL and records
 * the file it was taken of (i_snap_origin, i_snap_origin_gen: that
 * inode's number and generation when the snapshot was taken; it may have
 * been deleted since) and its lineage; its birth time i_crtime is the
 * snapshot time.  Clearing the immutable flag later leaves the record.
 *
 * A lineage id (i_lineage) names the history of one file across
 * restores: a random non-zero number the file is given when its first
 * snapshot is taken, copied into each snapshot and into a file restored
 * from one.  Any regular file may carry one; no other file type does.
 */

/*
 * Directory block: header, then variable-length entries packed from byte
 * 32 to the end of the block, as ext2.  d_rec_len is a multiple of 8 and
 * the entries of a block cover it exactly; d_ino 0 marks a free record.
 * "." and ".." are not stored: the parent is i_parent of the directory.
 * A directory's i_size is a multiple of the block size.
 */
#define RLFS_NAME_LEN		255
#define RLFS_DIRENT_HDR		12
#define RLFS_DIRENT_ALIGN	8
#define RLFS_DIRENT_SIZE(len) \
	(((RLFS_DIRENT_HDR) + (len) + RLFS_DIRENT_ALIGN - 1) & \
	 ~(RLFS_DIRENT_ALIGN - 1))

/* d_type values: the DT_* numbers. */
#define RLFS_FT_UNKNOWN		0
#define RLFS_FT_FIFO		1
#define RLFS_FT_CHRDEV		2
#define RLFS_FT_DIR		4
#define RLFS_FT_BLKDEV		6
#define RLFS_FT_REG		8
#define RLFS_FT_SYMLINK		10
#define RLFS_FT_SOCK		12

struct rlfs_dirent {
	__le64	d_ino;		/* inode, 0: free record */
	__le16	d_rec_len;	/* bytes to the next record */
	__u8	d_name_len;	/* bytes of name */
	__u8	d_type;		/* RLFS_FT_* */
	char	d_name[];	/* not NUL terminated */
};
RLFS_STATIC_ASSERT(offsetof(struct rlfs_dirent, d_name) == RLFS_DIRENT_HDR);

struct rlfs_dir_block {
	struct rlfs_block_header db_hdr;	/* RLFS_DIR_MAGIC, owner dir */
	__u8	db_data[RLFS_BLOCK_SIZE - sizeof(struct rlfs_block_header)];
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_dir_block) == RLFS_BLOCK_SIZE);

/*
 * Slow symlink: one block (i_data maps it with one extent), the target
 * NUL terminated after the header: at most 4063 bytes.
 */
struct rlfs_symlink_block {
	struct rlfs_block_header sl_hdr;	/* RLFS_SYMLINK_MAGIC, owner */
	char	sl_target[RLFS_BLOCK_SIZE - sizeof(struct rlfs_block_header)];
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_symlink_block) == RLFS_BLOCK_SIZE);
#define RLFS_SLOW_SYMLINK_MAX	(RLFS_BLOCK_SIZE - \
				 sizeof(struct rlfs_block_header) - 1)

/*
 * Extended attributes: one block per inode (i_xattr_blk), entries packed
 * after the header, each 4-byte aligned, terminated by an entry with
 * xe_name_len 0 or the end of the block.  xe_index is the namespace.
 */
#define RLFS_XATTR_INDEX_USER		1
#define RLFS_XATTR_INDEX_TRUSTED	2
#define RLFS_XATTR_INDEX_SECURITY	3
#define RLFS_XATTR_ALIGN		4
#define RLFS_XATTR_ENTRY_SIZE(nlen, vlen) \
	((sizeof(struct rlfs_xattr_entry) + (nlen) + (vlen) + \
	  RLFS_XATTR_ALIGN - 1) & ~(RLFS_XATTR_ALIGN - 1))

struct rlfs_xattr_entry {
	__u8	xe_index;	/* RLFS_XATTR_INDEX_* */
	__u8	xe_name_len;	/* name bytes, no NUL, 0: end of list */
	__le16	xe_value_len;	/* value bytes */
	char	xe_name[];	/* name, then value */
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_xattr_entry) == 4);

struct rlfs_xattr_block {
	struct rlfs_block_header xb_hdr;	/* RLFS_XATTR_MAGIC, owner ino */
	__u8	xb_data[RLFS_BLOCK_SIZE - sizeof(struct rlfs_block_header)];
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_xattr_block) == RLFS_BLOCK_SIZE);

/*
 * Refcount tree (RLFS_FEATURE_INCOMPAT_REFCOUNT): a B+tree keyed by
 * physical block, rooted at block s_refcount_root (0: empty tree) with
 * s_refcount_depth levels below the root.  Its leaves hold one record per
 * shared physical range: a data block covered by a record is referenced
 * rc_refcount (>= 2) times by file mappings; a mapped block without a
 * record is referenced once; a free block has no record.  Records are
 * sorted by rc_start and never overlap; contiguous records with equal
 * counts are merged when the kernel changes them.
 *
 * Nodes are refcount blocks.  A node of depth 0 (a leaf) holds records; a
 * node of depth d > 0 holds indexes {key, child} to nodes of depth d - 1.
 * The key of an index is exactly the first physical block of its child's
 * subtree (the rc_start of its first record), so a child reached through
 * index i holds only blocks in [key(i), key(i + 1)), and the parent's own
 * upper bound for the last index.  No node is empty: the last record
 * leaving the tree frees the root and sets s_refcount_root to 0.  The root
 * has depth s_refcount_depth <= RLFS_MAX_EXTENT_DEPTH; every block of the
 * tree lies in the data area and is marked in use in the block bitmap.
 */
struct rlfs_refcount_rec {
	__le64	rc_start;	/* first physical block */
	__le32	rc_len;		/* blocks, > 0 */
	__le32	rc_refcount;	/* references, >= 2 */
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_refcount_rec) == 16);

struct rlfs_refcount_idx {
	__le64	ri_start;	/* key: first physical block of the child */
	__le64	ri_blk;		/* child refcount block */
};
RLFS_STATIC_ASSERT(sizeof(struct rlfs_refcount_idx) == 16);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_refcount_rec, rc_start) ==
		   offsetof(struct rlfs_refcount_idx, ri_start));


#define RLFS_REFCOUNT_BLOCK_ENTRIES \
	((RLFS_BLOCK_SIZE - sizeof(struct rlfs_block_header) - \
	  sizeof(struct rlfs_btree_header)) / \
	 sizeof(struct rlfs_refcount_rec))

struct rlfs_refcount_block {
	struct rlfs_block_header rb_hdr;	/* RLFS_REFCOUNT_MAGIC, owner 0 */
	struct rlfs_btree_header rb_rh;	/* node header */
	union {
		/* depth 0: records sorted by rc_start, not overlapping */
		struct rlfs_refcount_rec rb_rec[RLFS_REFCOUNT_BLOCK_ENTRIES];
		/* depth > 0: indexes with strictly increasing keys */
		struct rlfs_refcount_idx rb_idx[RLFS_REFCOUNT_BLOCK_ENTRIES];
	};
	__u8	rb_pad[8];			/* zero */
};
RLFS_STATIC_ASSERT(RLFS_REFCOUNT_BLOCK_ENTRIES == 253);
RLFS_STATIC_ASSERT(sizeof(struct rlfs_refcount_block) == RLFS_BLOCK_SIZE);

/* Both trees: 16-byte entries, the key at 0, an index's child at 8. */
RLFS_STATIC_ASSERT(sizeof(struct rlfs_extent) == RLFS_BT_ENTRY_SIZE);
RLFS_STATIC_ASSERT(sizeof(struct rlfs_extent_idx) == RLFS_BT_ENTRY_SIZE);
RLFS_STATIC_ASSERT(sizeof(struct rlfs_refcount_rec) == RLFS_BT_ENTRY_SIZE);
RLFS_STATIC_ASSERT(sizeof(struct rlfs_refcount_idx) == RLFS_BT_ENTRY_SIZE);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_extent, e_lblk) == 0);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_extent_idx, ei_lblk) == 0);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_extent_idx, ei_blk) == 8);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_refcount_idx, ri_start) == 0);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_refcount_idx, ri_blk) == 8);
RLFS_STATIC_ASSERT(offsetof(struct rlfs_extent_block, eb_eh) ==
		   sizeof(struct rlfs_block_header));
RLFS_STATIC_ASSERT(offsetof(struct rlfs_extent_block, eb_ext) ==
		   sizeof(struct rlfs_block_header) +
		   sizeof(struct rlfs_btree_header));
RLFS_STATIC_ASSERT(offsetof(struct rlfs_refcount_block, rb_rh) ==
		   sizeof(struct rlfs_block_header));
RLFS_STATIC_ASSERT(offsetof(struct rlfs_refcount_block, rb_rec) ==
		   sizeof(struct rlfs_block_header) +
		   sizeof(struct rlfs_btree_header));

/* Journal: jbd2 on blocks [s_journal_start, +s_journal_blocks). */
#define RLFS_MIN_JOURNAL_BLOCKS	1024ULL		/* JBD2_MIN_JOURNAL_BLOCKS */
#define RLFS_MAX_JOURNAL_BLOCKS	32768ULL	/* 128 MiB */

#endif /* _RLFS_FORMAT_H */
