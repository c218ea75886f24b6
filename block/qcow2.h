/*
 * qcow2 (QEMU copy-on-write v2/v3): on-disk layout and the state shared by
 * the driver's files:
 *   qcow2.c          open/close, header and extensions, options, the I/O
 *                    entry points, info, vmstate, the driver table
 *   qcow2-create.c   image creation, preallocation, truncate
 *   qcow2-cluster.c  guest-to-host mapping: L1/L2 lookup and allocation,
 *                    copy-on-write, zero clusters, discard
 *   qcow2-refcount.c refcount tables and blocks, cluster allocation,
 *                    metadata overlap checks, check and repair
 *   qcow2-cache.c    the LRU caches of L2 slices and refcount blocks
 *   qcow2-threads.c  zlib/zstd (de)compression off the coroutine
 *
 * Layout (all integers big-endian, docs/interop/qcow2.txt):
 *   cluster 0: header, header extensions, backing file name
 *   the L1 table (one 64-bit entry per L2 table), L2 tables (one cluster
 *   each; 64-bit entries, or 128-bit with extended L2), the refcount table
 *   (64-bit offsets of refcount blocks), refcount blocks (refcount_bits
 *   per cluster), data clusters, compressed data, the snapshot table.
 * Every cluster in use, metadata included, has a refcount >= 1.
 */
#ifndef BLOCK_QCOW2_H
#define BLOCK_QCOW2_H

#include "block/block_int.h"
#include "qemu/bswap.h"
#include "qemu/coroutine.h"
#include "qemu/units.h"

/* ---- On-disk structures ---- */

#define QCOW_MAGIC (('Q' << 24) | ('F' << 16) | ('I' << 8) | 0xfb)

#define QCOW_CRYPT_NONE 0
#define QCOW_CRYPT_AES  1
#define QCOW_CRYPT_LUKS 2

#define QCOW_MAX_SNAPSHOTS 65536

/* Limits that keep tables allocatable and offsets within 2^56. */
#define QCOW_MAX_REFTABLE_SIZE (8 * MiB)
#define QCOW_MAX_L1_SIZE (32 * MiB)
#define QCOW_MAX_SNAPSHOTS_SIZE (1024 * QCOW_MAX_SNAPSHOTS)
#define QCOW_MAX_SNAPSHOT_EXTRA_DATA 1024

#define MIN_CLUSTER_BITS 9
#define MAX_CLUSTER_BITS 21
#define DEFAULT_CLUSTER_SIZE 65536

#define QCOW2_COMPRESSED_SECTOR_SIZE 512
#define MIN_L2_CACHE_SIZE 2                 /* cache entries */
#define MIN_REFCOUNT_CACHE_SIZE 4           /* clusters */
#define DEFAULT_L2_CACHE_MAX_SIZE (32 * MiB)
#define DEFAULT_CACHE_CLEAN_INTERVAL 600    /* seconds */

/* The header; v2 stops after snapshots_offset (72 bytes). */
typedef struct QEMU_PACKED QCowHeader {
    uint32_t magic;
    uint32_t version;                   /* 2 or 3 */
    uint64_t backing_file_offset;       /* 0: no backing file */
    uint32_t backing_file_size;         /* bytes, no terminator, < 1024 */
    uint32_t cluster_bits;
    uint64_t size;                      /* virtual size, bytes */
    uint32_t crypt_method;              /* QCOW_CRYPT_* */
    uint32_t l1_size;                   /* entries */
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;

    /* v3 */
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;            /* refcount_bits = 1 << order */
    uint32_t header_length;             /* 104, or 112 with the fields below */

    /* optional, present when header_length > 104 */
    uint8_t compression_type;           /* Qcow2CompressionType */
    uint8_t padding[7];                 /* header_length is a multiple of 8 */
} QCowHeader;
G_STATIC_ASSERT(sizeof(QCowHeader) == 112);
G_STATIC_ASSERT(offsetof(QCowHeader, incompatible_features) == 72);
G_STATIC_ASSERT(offsetof(QCowHeader, compression_type) == 104);

/* Header extension: type, length, then length bytes padded to 8. */
typedef struct QEMU_PACKED QCowExtension {
    uint32_t magic;
    uint32_t len;
} QCowExtension;
G_STATIC_ASSERT(sizeof(QCowExtension) == 8);

/*
 * Snapshot table entry: this header, extra_data_size bytes of extra data,
 * the id, the name, then padding to a multiple of 8.
 */
typedef struct QEMU_PACKED QCowSnapshotHeader {
    uint64_t l1_table_offset;
    uint32_t l1_size;
    uint16_t id_str_size;
    uint16_t name_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint32_t vm_state_size;             /* superseded by the extra data's */
    uint32_t extra_data_size;
} QCowSnapshotHeader;
G_STATIC_ASSERT(sizeof(QCowSnapshotHeader) == 40);

/* The known part of the extra data; older writers store a prefix of it. */
typedef struct QEMU_PACKED QCowSnapshotExtraData {
    uint64_t vm_state_size_large;
    uint64_t disk_size;
    uint64_t icount;
} QCowSnapshotExtraData;
G_STATIC_ASSERT(sizeof(QCowSnapshotExtraData) == 24);

#define QCOW2_EXT_MAGIC_END 0
#define QCOW2_EXT_MAGIC_BACKING_FORMAT 0xe2792aca
#define QCOW2_EXT_MAGIC_FEATURE_TABLE 0x6803f857
#define QCOW2_EXT_MAGIC_CRYPTO_HEADER 0x0537be77
#define QCOW2_EXT_MAGIC_DATA_FILE 0x44415441

/* One entry of the feature name table extension (48 bytes). */
typedef struct QEMU_PACKED Qcow2Feature {
    uint8_t type;                       /* QCOW2_FEAT_TYPE_* */
    uint8_t bit;
    char name[46];                      /* NUL-padded, not terminated */
} Qcow2Feature;
G_STATIC_ASSERT(sizeof(Qcow2Feature) == 48);

enum {
    QCOW2_FEAT_TYPE_INCOMPATIBLE    = 0,
    QCOW2_FEAT_TYPE_COMPATIBLE      = 1,
    QCOW2_FEAT_TYPE_AUTOCLEAR       = 2,
};

/* Incompatible feature bits */
enum {
    QCOW2_INCOMPAT_DIRTY_BITNR          = 0,
    QCOW2_INCOMPAT_CORRUPT_BITNR        = 1,
    QCOW2_INCOMPAT_DATA_FILE_BITNR      = 2,
    QCOW2_INCOMPAT_COMPRESSION_BITNR    = 3,
    QCOW2_INCOMPAT_EXTL2_BITNR          = 4,
    QCOW2_INCOMPAT_DIRTY        = 1 << QCOW2_INCOMPAT_DIRTY_BITNR,
    QCOW2_INCOMPAT_CORRUPT      = 1 << QCOW2_INCOMPAT_CORRUPT_BITNR,
    QCOW2_INCOMPAT_DATA_FILE    = 1 << QCOW2_INCOMPAT_DATA_FILE_BITNR,
    QCOW2_INCOMPAT_COMPRESSION  = 1 << QCOW2_INCOMPAT_COMPRESSION_BITNR,
    QCOW2_INCOMPAT_EXTL2        = 1 << QCOW2_INCOMPAT_EXTL2_BITNR,
};

/* Compatible feature bits */
enum {
    QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR   = 0,
    QCOW2_COMPAT_LAZY_REFCOUNTS = 1 << QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR,
};

/* Autoclear feature bits */
enum {
    QCOW2_AUTOCLEAR_BITMAPS_BITNR       = 0,
    QCOW2_AUTOCLEAR_DATA_FILE_RAW_BITNR = 1,
    QCOW2_AUTOCLEAR_BITMAPS     = 1 << QCOW2_AUTOCLEAR_BITMAPS_BITNR,
    QCOW2_AUTOCLEAR_DATA_FILE_RAW = 1 << QCOW2_AUTOCLEAR_DATA_FILE_RAW_BITNR,
};

typedef enum Qcow2CompressionType {
    QCOW2_COMPRESSION_TYPE_ZLIB = 0,
    QCOW2_COMPRESSION_TYPE_ZSTD = 1,
} Qcow2CompressionType;

/* L1 and L2 entry bits */
#define QCOW_OFLAG_COPIED     (1ULL << 63)  /* refcount is exactly 1 */
#define QCOW_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW_OFLAG_ZERO       (1ULL << 0)   /* v3: reads as zeroes */

#define L1E_OFFSET_MASK 0x00fffffffffffe00ULL
#define L2E_OFFSET_MASK 0x00fffffffffffe00ULL
#define REFT_OFFSET_MASK 0xfffffffffffffe00ULL

/* Bits that must be zero */
#define L1E_RESERVED_MASK 0x7f000000000001ffULL
#define L2E_STD_RESERVED_MASK 0x3f000000000001feULL
#define REFT_RESERVED_MASK 0x1ffULL

#define INV_OFFSET (-1ULL)

/* Entry sizes of the L1 table, a normal L2 table and the refcount table */
#define L1E_SIZE (sizeof(uint64_t))
#define L2E_SIZE_NORMAL (sizeof(uint64_t))
#define REFTABLE_ENTRY_SIZE (sizeof(uint64_t))

/* Highest host offset a cluster may have (offset fields are 56 bits) */
#define QCOW_MAX_CLUSTER_OFFSET ((1ULL << 56) - 1)

/* ---- In-memory state ---- */

typedef enum QCow2ClusterType {
    QCOW2_CLUSTER_UNALLOCATED,
    QCOW2_CLUSTER_ZERO_PLAIN,           /* zero flag, no host cluster */
    QCOW2_CLUSTER_ZERO_ALLOC,           /* zero flag, host cluster kept */
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} QCow2ClusterType;

/* Why clusters are freed; decides whether the discard reaches the file. */
enum qcow2_discard_type {
    QCOW2_DISCARD_NEVER = 0,
    QCOW2_DISCARD_ALWAYS,
    QCOW2_DISCARD_REQUEST,
    QCOW2_DISCARD_SNAPSHOT,
    QCOW2_DISCARD_OTHER,
    QCOW2_DISCARD_MAX
};

/* Metadata that overlap checks protect (bits of s->overlap_check) */
typedef enum QCow2MetadataOverlap {
    QCOW2_OL_MAIN_HEADER        = 1 << 0,
    QCOW2_OL_ACTIVE_L1          = 1 << 1,
    QCOW2_OL_ACTIVE_L2          = 1 << 2,
    QCOW2_OL_REFCOUNT_TABLE     = 1 << 3,
    QCOW2_OL_REFCOUNT_BLOCK     = 1 << 4,
    QCOW2_OL_SNAPSHOT_TABLE     = 1 << 5,
    QCOW2_OL_INACTIVE_L1        = 1 << 6,
    QCOW2_OL_INACTIVE_L2        = 1 << 7,
    QCOW2_OL_BITMAP_DIRECTORY   = 1 << 8,
} QCow2MetadataOverlap;

#define QCOW2_OL_CONSTANT (QCOW2_OL_MAIN_HEADER | QCOW2_OL_ACTIVE_L1 | \
                           QCOW2_OL_REFCOUNT_TABLE | \
                           QCOW2_OL_SNAPSHOT_TABLE | \
                           QCOW2_OL_BITMAP_DIRECTORY)
#define QCOW2_OL_CACHED (QCOW2_OL_CONSTANT | QCOW2_OL_ACTIVE_L2 | \
                         QCOW2_OL_REFCOUNT_BLOCK | QCOW2_OL_INACTIVE_L1)
#define QCOW2_OL_ALL (QCOW2_OL_CACHED | QCOW2_OL_INACTIVE_L2)

typedef struct Qcow2Cache Qcow2Cache;

/* An internal snapshot, as read from the snapshot table (host order). */
typedef struct QCowSnapshot {
    uint64_t l1_table_offset;
    uint32_t l1_size;
    char *id_str;
    char *name;
    uint64_t vm_state_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t icount;                    /* -1: not recorded */
} QCowSnapshot;

typedef uint64_t Qcow2GetRefcountFunc(const void *refcount_array,
                                      uint64_t index);
typedef void Qcow2SetRefcountFunc(void *refcount_array, uint64_t index,
                                  uint64_t value);

/* A header extension this driver does not know; written back unchanged. */
typedef struct Qcow2UnknownHeaderExtension {
    uint32_t magic;
    uint32_t len;
    QLIST_ENTRY(Qcow2UnknownHeaderExtension) next;
    uint8_t data[];
} Qcow2UnknownHeaderExtension;

/* A host range freed while discards are batched (cache_discards). */
typedef struct Qcow2DiscardRegion {
    uint64_t offset;
    uint64_t bytes;
    QTAILQ_ENTRY(Qcow2DiscardRegion) next;
} Qcow2DiscardRegion;

/* Part of a newly allocated cluster that is copied from the old data. */
typedef struct Qcow2COWRegion {
    uint64_t offset;                    /* from the start of the cluster */
    unsigned nb_bytes;
} Qcow2COWRegion;

/*
 * One allocation in flight: host clusters reserved for guest range
 * [offset, offset + nb_clusters * cluster_size), whose L2 entries are
 * written once the data (and the copy-on-write around it) is on disk.
 * Overlapping requests wait on dependent_requests.
 */
typedef struct QCowL2Meta {
    uint64_t offset;                    /* guest offset of the first cluster */
    uint64_t alloc_offset;              /* host offset of the first cluster */
    int nb_clusters;
    bool keep_old_clusters;             /* the L2 entries keep their clusters */
    Qcow2COWRegion cow_start;           /* head to copy before the data */
    Qcow2COWRegion cow_end;             /* tail to copy after it */
    bool skip_cow;                      /* the regions are already written */
    QEMUIOVector *data_qiov;            /* guest data, to merge with the COW */
    size_t data_qiov_offset;
    CoQueue dependent_requests;
    struct QCowL2Meta *next;            /* the next allocation of a request */
    QLIST_ENTRY(QCowL2Meta) next_in_flight;
} QCowL2Meta;

typedef struct BDRVQcow2State {
    int cluster_bits;
    int cluster_size;
    int l2_slice_size;                  /* entries per cached L2 slice */
    int l2_bits;                        /* log2(entries per L2 table) */
    int l2_size;                        /* entries per L2 table */
    int l1_size;
    int l1_vm_state_index;              /* first L1 index past the disk */
    int refcount_block_bits;            /* log2(entries per refcount block) */
    int refcount_block_size;
    int csize_shift;                    /* compressed L2 entry: size field */
    int csize_mask;
    uint64_t cluster_offset_mask;       /* compressed L2 entry: offset field */
    uint64_t l1_table_offset;
    uint64_t *l1_table;                 /* host byte order */

    Qcow2Cache *l2_table_cache;
    Qcow2Cache *refcount_block_cache;
    QEMUTimer *cache_clean_timer;
    unsigned cache_clean_interval;

    uint64_t *refcount_table;           /* host byte order */
    uint64_t refcount_table_offset;
    uint32_t refcount_table_size;       /* entries */
    uint32_t max_refcount_table_index;  /* highest used entry */
    uint64_t free_cluster_index;        /* first-fit allocation starts here */
    uint64_t free_byte_offset;          /* for compressed clusters */
    bool free_byte_cluster_freed;       /* ... and its cluster was freed */

    CoMutex lock;                       /* all metadata */

    uint32_t crypt_method_header;
    bool crypt_key_given;               /* encrypt.key-secret was set */
    uint64_t snapshots_offset;
    int snapshots_size;
    unsigned int nb_snapshots;
    /* Loaded on first use by qcow2-refcount.c, freed by refcount_close */
    QCowSnapshot *snapshots;

    int flags;                          /* BDRV_O_* of the open */
    int qcow_version;
    bool use_lazy_refcounts;
    int refcount_order;
    int refcount_bits;
    uint64_t refcount_max;
    Qcow2GetRefcountFunc *get_refcount;
    Qcow2SetRefcountFunc *set_refcount;

    bool discard_passthrough[QCOW2_DISCARD_MAX];

    int overlap_check;                  /* QCOW2_OL_* to check before writes */
    bool signaled_corruption;
    bool dead;                          /* fatal corruption: I/O fails */

    /* block_status: set RECURSE when only metadata was preallocated */
    bool metadata_preallocation_checked;
    bool metadata_preallocation;

    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;

    size_t unknown_header_fields_size;  /* bytes past our header struct */
    void *unknown_header_fields;
    QLIST_HEAD(, Qcow2UnknownHeaderExtension) unknown_header_ext;
    QTAILQ_HEAD(, Qcow2DiscardRegion) discards;
    bool cache_discards;

    /* Allocations in flight, for dependency tracking */
    QLIST_HEAD(, QCowL2Meta) cluster_allocs;

    /* As the header says; bs->backing may differ (options override) */
    char *image_backing_file;
    char *image_backing_format;

    CoQueue thread_task_queue;          /* waiting for a compression thread */
    int nb_threads;

    BdrvChild *data_file;               /* guest data; == bs->file here */

    Qcow2CompressionType compression_type;
} BDRVQcow2State;

/* ---- Inline helpers ---- */

static inline int64_t start_of_cluster(BDRVQcow2State *s, int64_t offset)
{
    return offset & ~(s->cluster_size - 1);
}

static inline int64_t offset_into_cluster(BDRVQcow2State *s, int64_t offset)
{
    return offset & (s->cluster_size - 1);
}

static inline uint64_t size_to_clusters(BDRVQcow2State *s, uint64_t size)
{
    return (size + (s->cluster_size - 1)) >> s->cluster_bits;
}

static inline int64_t size_to_l1(BDRVQcow2State *s, int64_t size)
{
    int shift = s->cluster_bits + s->l2_bits;
    return (size + (1ULL << shift) - 1) >> shift;
}

static inline int offset_to_l1_index(BDRVQcow2State *s, uint64_t offset)
{
    return offset >> (s->l2_bits + s->cluster_bits);
}

static inline int offset_to_l2_index(BDRVQcow2State *s, int64_t offset)
{
    return (offset >> s->cluster_bits) & (s->l2_size - 1);
}

static inline int offset_to_l2_slice_index(BDRVQcow2State *s, int64_t offset)
{
    return (offset >> s->cluster_bits) & (s->l2_slice_size - 1);
}

static inline int64_t qcow2_vm_state_offset(BDRVQcow2State *s)
{
    return (int64_t)s->l1_vm_state_index << (s->cluster_bits + s->l2_bits);
}

static inline bool has_data_file(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    return s->data_file != bs->file;
}

static inline uint64_t get_l2_entry(uint64_t *l2_slice, int idx)
{
    return be64_to_cpu(l2_slice[idx]);
}

static inline void set_l2_entry(uint64_t *l2_slice, int idx, uint64_t entry)
{
    l2_slice[idx] = cpu_to_be64(entry);
}

/*
 * The zero flag counts in v2 images too (as in QEMU 7.2), where
 * qcow2_get_host_offset() reports it as corruption.
 */
static inline QCow2ClusterType qcow2_get_cluster_type(BlockDriverState *bs,
                                                      uint64_t l2_entry)
{
    if (l2_entry & QCOW_OFLAG_COMPRESSED) {
        return QCOW2_CLUSTER_COMPRESSED;
    }
    if (l2_entry & QCOW_OFLAG_ZERO) {
        return (l2_entry & L2E_OFFSET_MASK) ? QCOW2_CLUSTER_ZERO_ALLOC
                                            : QCOW2_CLUSTER_ZERO_PLAIN;
    }
    return (l2_entry & L2E_OFFSET_MASK) ? QCOW2_CLUSTER_NORMAL
                                        : QCOW2_CLUSTER_UNALLOCATED;
}

static inline bool qcow2_need_accurate_refcounts(BDRVQcow2State *s)
{
    return !(s->incompatible_features & QCOW2_INCOMPAT_DIRTY);
}

static inline uint64_t l2meta_cow_start(QCowL2Meta *m)
{
    return m->offset + m->cow_start.offset;
}

static inline uint64_t l2meta_cow_end(QCowL2Meta *m)
{
    return m->offset + m->cow_end.offset + m->cow_end.nb_bytes;
}

static inline uint64_t refcount_diff(uint64_t r1, uint64_t r2)
{
    return r1 > r2 ? r1 - r2 : r2 - r1;
}

/* ---- qcow2.c ---- */

int qcow2_update_header(BlockDriverState *bs);
int qcow2_mark_dirty(BlockDriverState *bs);
int qcow2_mark_corrupt(BlockDriverState *bs);
int qcow2_mark_consistent(BlockDriverState *bs);
/*
 * Report metadata corruption: the message is printed (QEMU's "qcow2: Marking
 * image as corrupt: ..." / "qcow2: Image is corrupt: ...") and, if fatal,
 * the image is marked corrupt and further writes fail.
 */
void qcow2_signal_corruption(BlockDriverState *bs, bool fatal, int64_t offset,
                             int64_t size, const char *message_format, ...)
    G_GNUC_PRINTF(5, 6);
int qcow2_validate_table(BlockDriverState *bs, uint64_t offset,
                         uint64_t entries, size_t entry_len,
                         int64_t max_size_bytes, const char *table_name,
                         Error **errp);
/* Parse the runtime options again (cache sizes follow the disk size). */
int qcow2_update_options(BlockDriverState *bs, QDict *options, int flags,
                         Error **errp);
/*
 * Commit (link_l2) or abort the allocations of a request, free them and
 * wake their waiters; *pl2meta keeps what is left after an error.
 * Called with s->lock held.
 */
int qcow2_handle_l2meta(BlockDriverState *bs, QCowL2Meta **pl2meta,
                        bool link_l2);
int coroutine_fn qcow2_co_pwritev_part(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       size_t qiov_offset,
                                       BdrvRequestFlags flags);

/* ---- qcow2-snapshot.c ---- */

/*
 * Read the snapshot table at s->snapshots_offset (s->nb_snapshots entries)
 * into s->snapshots and set s->snapshots_size.
 */
int qcow2_read_snapshots(BlockDriverState *bs, Error **errp);
void qcow2_free_snapshots(BlockDriverState *bs);
int qcow2_snapshot_list(BlockDriverState *bs, QEMUSnapshotInfo **psn_tab);

/* ---- qcow2-create.c ---- */

extern QemuOptsList qcow2_create_opts;
int coroutine_fn qcow2_co_create_opts(BlockDriver *drv, const char *filename,
                                      QemuOpts *opts, Error **errp);
int coroutine_fn qcow2_co_truncate(BlockDriverState *bs, int64_t offset,
                                   bool exact, PreallocMode prealloc,
                                   BdrvRequestFlags flags, Error **errp);

/* ---- qcow2-refcount.c ---- */

int qcow2_refcount_init(BlockDriverState *bs);
void qcow2_refcount_close(BlockDriverState *bs);

int qcow2_get_refcount(BlockDriverState *bs, int64_t cluster_index,
                       uint64_t *refcount);

/* Allocation returns the host offset, or -errno. */
int64_t qcow2_alloc_clusters(BlockDriverState *bs, uint64_t size);
int64_t qcow2_alloc_clusters_at(BlockDriverState *bs, uint64_t offset,
                                int64_t nb_clusters);
int64_t qcow2_alloc_bytes(BlockDriverState *bs, int size);
void qcow2_free_clusters(BlockDriverState *bs, int64_t offset, int64_t size,
                         enum qcow2_discard_type type);
void qcow2_free_any_cluster(BlockDriverState *bs, uint64_t l2_entry,
                            enum qcow2_discard_type type);
void qcow2_process_discards(BlockDriverState *bs, int ret);

/* Lay out a new reftable and refblocks covering the image at start_offset. */
int64_t qcow2_refcount_area(BlockDriverState *bs, uint64_t offset,
                            uint64_t additional_clusters, bool exact_size,
                            int new_refblock_index,
                            uint64_t new_refblock_offset);

int qcow2_flush_caches(BlockDriverState *bs);
int qcow2_write_caches(BlockDriverState *bs);

int qcow2_check_refcounts(BlockDriverState *bs, BdrvCheckResult *res,
                          BdrvCheckMode fix);

/*
 * Bytes of refcount table and blocks needed for an image of clusters
 * clusters, the metadata counting itself; *refblock_count (if not NULL)
 * gets the number of refcount blocks.  generous_increase leaves room for
 * growth as qcow2_refcount_area does.
 */
int64_t qcow2_refcount_metadata_size(int64_t clusters, size_t cluster_size,
                                     int refcount_order,
                                     bool generous_increase,
                                     uint64_t *refblock_count);
/* The packing functions for refcount_order 0..6 (exported for the tests) */
Qcow2GetRefcountFunc *qcow2_get_refcount_func(int refcount_order);
Qcow2SetRefcountFunc *qcow2_set_refcount_func(int refcount_order);

/* 0, or the QCow2MetadataOverlap bit of the first overlapping structure */
int qcow2_check_metadata_overlap(BlockDriverState *bs, int ign,
                                 int64_t offset, int64_t size);
/* 0, or -EIO after signalling corruption; call before every host write */
int qcow2_pre_write_overlap_check(BlockDriverState *bs, int ign,
                                  int64_t offset, int64_t size,
                                  bool data_file);

int qcow2_shrink_reftable(BlockDriverState *bs);
int64_t qcow2_get_last_cluster(BlockDriverState *bs, int64_t size);
int coroutine_fn qcow2_detect_metadata_preallocation(BlockDriverState *bs);

/* ---- qcow2-cluster.c ---- */

int qcow2_grow_l1_table(BlockDriverState *bs, uint64_t min_size,
                        bool exact_size);
int qcow2_shrink_l1_table(BlockDriverState *bs, uint64_t max_size);
int qcow2_write_l1_entry(BlockDriverState *bs, int l1_index);

/*
 * Map guest [offset, offset + *bytes): on return *bytes is shrunk to the
 * contiguous run of one type starting at offset, *host_offset is its host
 * offset (for compressed clusters: the raw L2 entry), *type its type.
 */
int qcow2_get_host_offset(BlockDriverState *bs, uint64_t offset,
                          unsigned int *bytes, uint64_t *host_offset,
                          QCow2ClusterType *type);
/*
 * Find or allocate host space for a write to guest [offset, offset + *bytes):
 * *bytes shrinks to what one contiguous host run covers.  New allocations
 * are queued on *m; qcow2_alloc_cluster_link_l2() commits each one after
 * the data write.
 */
int coroutine_fn qcow2_alloc_host_offset(BlockDriverState *bs,
                                         uint64_t offset,
                                         unsigned int *bytes,
                                         uint64_t *host_offset,
                                         QCowL2Meta **m);
int coroutine_fn qcow2_alloc_cluster_link_l2(BlockDriverState *bs,
                                             QCowL2Meta *m);
void qcow2_alloc_cluster_abort(BlockDriverState *bs, QCowL2Meta *m);
int coroutine_fn qcow2_alloc_compressed_cluster_offset(BlockDriverState *bs,
                                                       uint64_t offset,
                                                       int compressed_size,
                                                       uint64_t *host_offset);
void qcow2_parse_compressed_l2_entry(BlockDriverState *bs, uint64_t l2_entry,
                                     uint64_t *coffset, int *csize);

int qcow2_cluster_discard(BlockDriverState *bs, uint64_t offset,
                          uint64_t bytes, enum qcow2_discard_type type,
                          bool full_discard);
int coroutine_fn qcow2_subcluster_zeroize(BlockDriverState *bs,
                                          uint64_t offset, uint64_t bytes,
                                          int flags);

/* ---- qcow2-cache.c ---- */

Qcow2Cache *qcow2_cache_create(BlockDriverState *bs, int num_tables,
                               unsigned table_size);
int qcow2_cache_destroy(Qcow2Cache *c);
void qcow2_cache_entry_mark_dirty(Qcow2Cache *c, void *table);
int qcow2_cache_flush(BlockDriverState *bs, Qcow2Cache *c);
int qcow2_cache_write(BlockDriverState *bs, Qcow2Cache *c);
/* Make sure dependency is written before any entry of c is. */
int qcow2_cache_set_dependency(BlockDriverState *bs, Qcow2Cache *c,
                               Qcow2Cache *dependency);
void qcow2_cache_depends_on_flush(Qcow2Cache *c);
void qcow2_cache_clean_unused(Qcow2Cache *c);
int qcow2_cache_empty(BlockDriverState *bs, Qcow2Cache *c);
/* *table points at the cached copy (on-disk byte order) until put */
int qcow2_cache_get(BlockDriverState *bs, Qcow2Cache *c, uint64_t offset,
                    void **table);
int qcow2_cache_get_empty(BlockDriverState *bs, Qcow2Cache *c,
                          uint64_t offset, void **table);
void qcow2_cache_put(Qcow2Cache *c, void **table);
void *qcow2_cache_is_table_offset(Qcow2Cache *c, uint64_t offset);
void qcow2_cache_discard(Qcow2Cache *c, void *table);

/* ---- qcow2-threads.c ---- */

/* Both return the output size or -errno (-ENOMEM: does not fit). */
ssize_t coroutine_fn qcow2_co_compress(BlockDriverState *bs, void *dest,
                                       size_t dest_size, const void *src,
                                       size_t src_size);
ssize_t coroutine_fn qcow2_co_decompress(BlockDriverState *bs, void *dest,
                                         size_t dest_size, const void *src,
                                         size_t src_size);

#endif /* BLOCK_QCOW2_H */
