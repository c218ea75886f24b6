/*
 * The block layer's public interface: types, flags and the functions that
 * tools and drivers call on nodes (BlockDriverState) and edges (BdrvChild).
 *
 * Names and signatures follow QEMU 7.2 so that code moves between the two
 * with mechanical edits.  Synchronous functions (bdrv_pread, bdrv_flush,
 * ...) run their coroutine twin (bdrv_co_*) and poll until it finishes:
 * there is one I/O path.  All of them return 0 or -errno.
 */
#ifndef BLOCK_BLOCK_H
#define BLOCK_BLOCK_H

#include "qemu/aio.h"
#include "qemu/coroutine.h"
#include "qemu/iov.h"
#include "qemu/qapi-enum.h"
#include "qemu/qdict.h"

typedef struct BlockDriver BlockDriver;
typedef struct BdrvChild BdrvChild;
typedef struct BdrvChildClass BdrvChildClass;
typedef struct BlockBackend BlockBackend;
typedef struct BlockReopenQueueEntry BlockReopenQueueEntry;
typedef QTAILQ_HEAD(BlockReopenQueue, BlockReopenQueueEntry) BlockReopenQueue;
typedef struct BDRVReopenState BDRVReopenState;
typedef struct QemuOpts QemuOpts;
typedef struct QemuOptsList QemuOptsList;
typedef struct QEMUSnapshotInfo QEMUSnapshotInfo;

/* ---- Sizes and limits ---- */

#define BDRV_SECTOR_BITS   9
#define BDRV_SECTOR_SIZE   (1ULL << BDRV_SECTOR_BITS)

/* Largest request: INT_MAX rounded down to a whole sector (2147483136). */
#define BDRV_REQUEST_MAX_SECTORS MIN_CONST(SIZE_MAX >> BDRV_SECTOR_BITS, \
                                           INT_MAX >> BDRV_SECTOR_BITS)
#define BDRV_REQUEST_MAX_BYTES (BDRV_REQUEST_MAX_SECTORS << BDRV_SECTOR_BITS)
#define MIN_CONST(a, b) ((a) < (b) ? (a) : (b))

/* Largest image: INT64_MAX rounded down to 1 GiB. */
#define BDRV_MAX_ALIGNMENT (1L << 30)
#define BDRV_MAX_LENGTH (QEMU_ALIGN_DOWN(INT64_MAX, BDRV_MAX_ALIGNMENT))

/* How many bytes of an image probing looks at. */
#define BLOCK_PROBE_BUF_SIZE 512

/* ---- Open flags (bs->open_flags) ---- */

#define BDRV_O_NO_SHARE    0x0001 /* don't share permissions */
#define BDRV_O_RDWR        0x0002
#define BDRV_O_RESIZE      0x0004 /* request permission for resizing */
#define BDRV_O_SNAPSHOT    0x0008 /* temporary overlay, discarded on close */
#define BDRV_O_TEMPORARY   0x0010 /* delete the file on close */
#define BDRV_O_NOCACHE     0x0020 /* O_DIRECT */
#define BDRV_O_NATIVE_AIO  0x0080 /* aio=native (libaio) */
#define BDRV_O_NO_BACKING  0x0100 /* don't open the backing file */
#define BDRV_O_NO_FLUSH    0x0200 /* flushes are no-ops (cache=unsafe) */
#define BDRV_O_COPY_ON_READ 0x0400
#define BDRV_O_INACTIVE    0x0800 /* another process owns the image */
#define BDRV_O_CHECK       0x1000 /* open for qemu-img check */
#define BDRV_O_ALLOW_RDWR  0x2000 /* may be reopened read-write */
#define BDRV_O_UNMAP       0x4000 /* pass discards down */
#define BDRV_O_PROTOCOL    0x8000 /* this node is a protocol node */
#define BDRV_O_NO_IO       0x10000 /* metadata only, no guest data I/O */
#define BDRV_O_AUTO_RDONLY 0x20000 /* degrade to read-only if needed */
#define BDRV_O_IO_URING    0x40000 /* aio=io_uring */

#define BDRV_O_CACHE_MASK  (BDRV_O_NOCACHE | BDRV_O_NO_FLUSH)

/* Option names shared by all nodes. */
#define BDRV_OPT_CACHE_WB       "cache.writeback"
#define BDRV_OPT_CACHE_DIRECT   "cache.direct"
#define BDRV_OPT_CACHE_NO_FLUSH "cache.no-flush"
#define BDRV_OPT_READ_ONLY      "read-only"
#define BDRV_OPT_AUTO_READ_ONLY "auto-read-only"
#define BDRV_OPT_DISCARD        "discard"
#define BDRV_OPT_FORCE_SHARE    "force-share"

/* ---- Request flags ---- */

typedef enum {
    BDRV_REQ_COPY_ON_READ   = 0x1,
    BDRV_REQ_ZERO_WRITE     = 0x2,  /* write zeroes; qiov is NULL */
    BDRV_REQ_MAY_UNMAP      = 0x4,  /* zero write may deallocate */
    BDRV_REQ_REGISTERED_BUF = 0x8,  /* buffer hint, always accepted */
    BDRV_REQ_FUA            = 0x10, /* durable on completion */
    BDRV_REQ_WRITE_COMPRESSED = 0x20,
    BDRV_REQ_WRITE_UNCHANGED = 0x40, /* data does not change (e.g. COR) */
    BDRV_REQ_SERIALISING    = 0x80,
    BDRV_REQ_NO_FALLBACK    = 0x100, /* -ENOTSUP instead of slow emulation */
    BDRV_REQ_PREFETCH       = 0x200, /* with COR: copy up, don't fill qiov */
    BDRV_REQ_NO_WAIT        = 0x400, /* with SERIALISING: -EBUSY, not wait */
    BDRV_REQ_MASK           = 0x7ff,
} BdrvRequestFlags;

/* ---- Block status (bdrv_block_status and friends) ---- */

#define BDRV_BLOCK_DATA         0x01 /* reads come from this layer's file */
#define BDRV_BLOCK_ZERO         0x02 /* reads return zeroes */
#define BDRV_BLOCK_OFFSET_VALID 0x04 /* *map is the offset in *file */
#define BDRV_BLOCK_RAW          0x08 /* driver only: ask *file at *map */
#define BDRV_BLOCK_ALLOCATED    0x10 /* set by the core: this layer decides */
#define BDRV_BLOCK_EOF          0x20 /* the range reaches the end */
#define BDRV_BLOCK_RECURSE      0x40 /* driver only: also probe *file */

/* ---- Permissions ---- */

enum {
    BLK_PERM_CONSISTENT_READ = 0x01,
    BLK_PERM_WRITE           = 0x02,
    BLK_PERM_WRITE_UNCHANGED = 0x04,
    BLK_PERM_RESIZE          = 0x08,
    BLK_PERM_ALL             = 0x0f,

    DEFAULT_PERM_PASSTHROUGH = BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE |
                               BLK_PERM_WRITE_UNCHANGED | BLK_PERM_RESIZE,
    DEFAULT_PERM_UNCHANGED   = BLK_PERM_ALL & ~DEFAULT_PERM_PASSTHROUGH,
};

/* "consistent read, write" etc., for messages.  Caller frees. */
char *bdrv_perm_names(uint64_t perm);

/* ---- Child roles ---- */

typedef enum BdrvChildRoleBits {
    BDRV_CHILD_DATA     = (1 << 0), /* guest data */
    BDRV_CHILD_METADATA = (1 << 1), /* metadata the parent interprets */
    BDRV_CHILD_FILTERED = (1 << 2), /* the parent passes data through */
    BDRV_CHILD_COW      = (1 << 3), /* backing: read-only data source */
    BDRV_CHILD_PRIMARY  = (1 << 4), /* the parent's main child (bs->file) */
    BDRV_CHILD_IMAGE    = BDRV_CHILD_DATA | BDRV_CHILD_METADATA |
                          BDRV_CHILD_PRIMARY,
} BdrvChildRoleBits;
typedef unsigned int BdrvChildRole;

/* ---- Enums from QAPI ---- */

typedef enum PreallocMode {
    PREALLOC_MODE_OFF,
    PREALLOC_MODE_METADATA,
    PREALLOC_MODE_FALLOC,
    PREALLOC_MODE_FULL,
    PREALLOC_MODE__MAX,
} PreallocMode;
extern const QEnumLookup PreallocMode_lookup;
#define PreallocMode_str(val) qapi_enum_lookup(&PreallocMode_lookup, (val))

typedef enum BlockdevDetectZeroesOptions {
    BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF,
    BLOCKDEV_DETECT_ZEROES_OPTIONS_ON,
    BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP,
    BLOCKDEV_DETECT_ZEROES_OPTIONS__MAX,
} BlockdevDetectZeroesOptions;
extern const QEnumLookup BlockdevDetectZeroesOptions_lookup;

typedef enum BlockdevAioOptions {
    BLOCKDEV_AIO_OPTIONS_THREADS,
    BLOCKDEV_AIO_OPTIONS_NATIVE,
    BLOCKDEV_AIO_OPTIONS_IO_URING,
    BLOCKDEV_AIO_OPTIONS__MAX,
} BlockdevAioOptions;
extern const QEnumLookup BlockdevAioOptions_lookup;

typedef enum OnOffAuto {
    ON_OFF_AUTO_AUTO,
    ON_OFF_AUTO_ON,
    ON_OFF_AUTO_OFF,
    ON_OFF_AUTO__MAX,
} OnOffAuto;
extern const QEnumLookup OnOffAuto_lookup;

/* Events that blkdebug can act on; format drivers raise them. */
typedef enum BlkdebugEvent {
    BLKDBG_L1_UPDATE,
    BLKDBG_L1_GROW_ALLOC_TABLE,
    BLKDBG_L1_GROW_WRITE_TABLE,
    BLKDBG_L1_GROW_ACTIVATE_TABLE,
    BLKDBG_L2_LOAD,
    BLKDBG_L2_UPDATE,
    BLKDBG_L2_UPDATE_COMPRESSED,
    BLKDBG_L2_ALLOC_COW_READ,
    BLKDBG_L2_ALLOC_WRITE,
    BLKDBG_READ_AIO,
    BLKDBG_READ_BACKING_AIO,
    BLKDBG_READ_COMPRESSED,
    BLKDBG_WRITE_AIO,
    BLKDBG_WRITE_COMPRESSED,
    BLKDBG_VMSTATE_LOAD,
    BLKDBG_VMSTATE_SAVE,
    BLKDBG_COW_READ,
    BLKDBG_COW_WRITE,
    BLKDBG_REFTABLE_LOAD,
    BLKDBG_REFTABLE_GROW,
    BLKDBG_REFTABLE_UPDATE,
    BLKDBG_REFBLOCK_LOAD,
    BLKDBG_REFBLOCK_UPDATE,
    BLKDBG_REFBLOCK_UPDATE_PART,
    BLKDBG_REFBLOCK_ALLOC,
    BLKDBG_REFBLOCK_ALLOC_HOOKUP,
    BLKDBG_REFBLOCK_ALLOC_WRITE,
    BLKDBG_REFBLOCK_ALLOC_WRITE_BLOCKS,
    BLKDBG_REFBLOCK_ALLOC_WRITE_TABLE,
    BLKDBG_REFBLOCK_ALLOC_SWITCH_TABLE,
    BLKDBG_CLUSTER_ALLOC,
    BLKDBG_CLUSTER_ALLOC_BYTES,
    BLKDBG_CLUSTER_FREE,
    BLKDBG_FLUSH_TO_OS,
    BLKDBG_FLUSH_TO_DISK,
    BLKDBG_PWRITEV_RMW_HEAD,
    BLKDBG_PWRITEV_RMW_AFTER_HEAD,
    BLKDBG_PWRITEV_RMW_TAIL,
    BLKDBG_PWRITEV_RMW_AFTER_TAIL,
    BLKDBG_PWRITEV,
    BLKDBG_PWRITEV_ZERO,
    BLKDBG_PWRITEV_DONE,
    BLKDBG_EMPTY_IMAGE_PREPARE,
    BLKDBG_L1_SHRINK_WRITE_TABLE,
    BLKDBG_L1_SHRINK_FREE_L2_CLUSTERS,
    BLKDBG_COR_WRITE,
    BLKDBG_CLUSTER_ALLOC_SPACE,
    BLKDBG_NONE,
    BLKDBG__MAX,
} BlkdebugEvent;
extern const QEnumLookup BlkdebugEvent_lookup;
#define BlkdebugEvent_str(val) qapi_enum_lookup(&BlkdebugEvent_lookup, (val))

/* ---- Driver information ---- */

typedef struct BlockDriverInfo {
    /* Allocation unit in bytes; 0 if not applicable. */
    int cluster_size;
    /* Where the VM state is stored (qcow2), 0 otherwise. */
    int64_t vm_state_offset;
    bool is_dirty;
    /* True if writes must use BDRV_REQ_WRITE_COMPRESSED. */
    bool needs_compressed_writes;
} BlockDriverInfo;

/*
 * Format-specific information for qemu-img info / qemu-io info.  data
 * holds the QAPI member names of QEMU's ImageInfoSpecific<Fmt> type
 * ("compat", "lazy-refcounts", ...) with their values; both the human and
 * the JSON printers walk it in QDict order, as QEMU's do.
 */
typedef struct ImageInfoSpecific {
    char *type;     /* "qcow2", "vmdk", "file", ... */
    QDict *data;
} ImageInfoSpecific;

void qapi_free_ImageInfoSpecific(ImageInfoSpecific *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImageInfoSpecific, qapi_free_ImageInfoSpecific)

/* One internal snapshot, as QEMU's QEMUSnapshotInfo. */
struct QEMUSnapshotInfo {
    char id_str[128];           /* unique, usually a number */
    char name[256];             /* the user's tag */
    uint64_t vm_state_size;     /* bytes of saved VM state */
    uint32_t date_sec;          /* creation time, UTC */
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;     /* guest clock at creation */
    uint64_t icount;            /* instruction count, or -1 if unknown */
};

typedef struct BlockFragInfo {
    uint64_t allocated_clusters;
    uint64_t total_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
} BlockFragInfo;

typedef struct BdrvCheckResult {
    int corruptions;
    int leaks;
    int check_errors;
    int corruptions_fixed;
    int leaks_fixed;
    int64_t image_end_offset;
    BlockFragInfo bfi;
} BdrvCheckResult;

typedef enum {
    BDRV_FIX_LEAKS    = 1,
    BDRV_FIX_ERRORS   = 2,
} BdrvCheckMode;

typedef struct BlockMeasureInfo {
    uint64_t required;
    uint64_t fully_allocated;
    bool has_bitmaps;
    uint64_t bitmaps;
} BlockMeasureInfo;

/* ---- Drivers and set-up ---- */

/* Register every built-in driver; call once at start-up. */
void bdrv_init(void);
void bdrv_register(BlockDriver *bdrv);
BlockDriver *bdrv_find_format(const char *format_name);
/*
 * The protocol driver for filename: its "proto:" prefix if
 * allow_protocol_prefix, else "file".  errp: "Unknown protocol '%s'".
 */
BlockDriver *bdrv_find_protocol(const char *filename,
                                bool allow_protocol_prefix, Error **errp);
/* Call it(opaque, name) for each format name, sorted, once each. */
void bdrv_iterate_format(void (*it)(void *opaque, const char *name),
                         void *opaque, bool read_only);

/* Parse cache/aio/discard mode names into flags (0 or -1). */
int bdrv_parse_cache_mode(const char *mode, int *flags, bool *writethrough);
int bdrv_parse_aio(const char *mode, int *flags);
int bdrv_parse_discard_flags(const char *mode, int *flags);

/* ---- Opening and the graph ---- */

/* A node without a driver (refcount 1); mostly for tests. */
BlockDriverState *bdrv_new(void);

/*
 * Open a node: from filename (may carry a protocol prefix or be
 * "json:{...}"), from reference (the name of an existing node), and/or from
 * options (ownership of options passes to the block layer).  Returns a new
 * reference or NULL with errp set.
 */
BlockDriverState *bdrv_open(const char *filename, const char *reference,
                            QDict *options, int flags, Error **errp);
/* Open a node of drv with no children (mainly for tests and filters). */
BlockDriverState *bdrv_new_open_driver(BlockDriver *drv,
                                       const char *node_name, int flags,
                                       Error **errp);
BlockDriverState *bdrv_new_open_driver_opts(BlockDriver *drv,
                                            const char *node_name,
                                            QDict *options, int flags,
                                            Error **errp);

/*
 * Open and attach the child of parent named bdref_key, from the
 * bdref_key.* options (or a node reference in options[bdref_key]) or from
 * filename.  NULL without error if nothing is given and allow_none.
 */
BdrvChild *bdrv_open_child(const char *filename, QDict *options,
                           const char *bdref_key, BlockDriverState *parent,
                           const BdrvChildClass *child_class,
                           BdrvChildRole child_role, bool allow_none,
                           Error **errp);
/* bdrv_open_child("file") with the role filters or formats need. */
int bdrv_open_file_child(const char *filename, QDict *options,
                         const char *bdref_key, BlockDriverState *parent,
                         Error **errp);
int bdrv_open_backing_file(BlockDriverState *bs, QDict *parent_options,
                           const char *bdref_key, Error **errp);

void bdrv_ref(BlockDriverState *bs);
void bdrv_unref(BlockDriverState *bs);
/* Detach child from parent and drop the reference it held. */
void bdrv_unref_child(BlockDriverState *parent, BdrvChild *child);

BdrvChild *bdrv_attach_child(BlockDriverState *parent_bs,
                             BlockDriverState *child_bs,
                             const char *child_name,
                             const BdrvChildClass *child_class,
                             BdrvChildRole child_role, Error **errp);
int bdrv_set_backing_hd(BlockDriverState *bs, BlockDriverState *backing_hd,
                        Error **errp);
/* Put bs_new on top of bs_top: bs_top becomes bs_new's backing file. */
int bdrv_append(BlockDriverState *bs_new, BlockDriverState *bs_top,
                Error **errp);
int bdrv_replace_node(BlockDriverState *from, BlockDriverState *to,
                      Error **errp);

/* Close every node (at exit). */
void bdrv_close_all(void);

/* Iterates over the nodes with a BlockBackend parent or a monitor ref. */
typedef struct BdrvNextIterator {
    int phase;
    BlockBackend *blk;
    BlockDriverState *bs;
} BdrvNextIterator;
BlockDriverState *bdrv_first(BdrvNextIterator *it);
BlockDriverState *bdrv_next(BdrvNextIterator *it);
void bdrv_next_cleanup(BdrvNextIterator *it);
/* Every node that exists, in creation order. */
BlockDriverState *bdrv_next_all_states(BlockDriverState *bs);

BlockDriverState *bdrv_find_node(const char *node_name);
/*
 * The node of BlockBackend device, else the node named node_name.
 * errp: "Cannot find device='%s' nor node-name='%s'".
 */
BlockDriverState *bdrv_lookup_bs(const char *device, const char *node_name,
                                 Error **errp);
const char *bdrv_get_node_name(const BlockDriverState *bs);
const char *bdrv_get_device_name(const BlockDriverState *bs);
const char *bdrv_get_device_or_node_name(const BlockDriverState *bs);
const char *bdrv_get_format_name(BlockDriverState *bs);
AioContext *bdrv_get_aio_context(BlockDriverState *bs);

/* ---- Graph navigation ---- */

BdrvChild *bdrv_cow_child(BlockDriverState *bs);
BdrvChild *bdrv_filter_child(BlockDriverState *bs);
BdrvChild *bdrv_filter_or_cow_child(BlockDriverState *bs);
BdrvChild *bdrv_primary_child(BlockDriverState *bs);
BlockDriverState *bdrv_skip_filters(BlockDriverState *bs);
BlockDriverState *bdrv_backing_chain_next(BlockDriverState *bs);

BlockDriverState *child_bs(BdrvChild *child);
BlockDriverState *bdrv_cow_bs(BlockDriverState *bs);
BlockDriverState *bdrv_filter_bs(BlockDriverState *bs);
BlockDriverState *bdrv_filter_or_cow_bs(BlockDriverState *bs);
BlockDriverState *bdrv_primary_bs(BlockDriverState *bs);
/* bs->backing's node, or NULL. */
BlockDriverState *backing_bs(BlockDriverState *bs);

/* ---- Reopen ---- */

BlockReopenQueue *bdrv_reopen_queue(BlockReopenQueue *bs_queue,
                                    BlockDriverState *bs, QDict *options,
                                    bool keep_old_opts);
void bdrv_reopen_queue_free(BlockReopenQueue *bs_queue);
int bdrv_reopen_multiple(BlockReopenQueue *bs_queue, Error **errp);
/* Reopen bs with opts (ownership passes); keep_old_opts keeps the rest. */
int bdrv_reopen(BlockDriverState *bs, QDict *opts, bool keep_old_opts,
                Error **errp);
int bdrv_reopen_set_read_only(BlockDriverState *bs, bool read_only,
                              Error **errp);

/* ---- State queries ---- */

bool bdrv_is_read_only(BlockDriverState *bs);
/* Writable after any reopen in progress? */
bool bdrv_is_writable(BlockDriverState *bs);
int bdrv_can_set_read_only(BlockDriverState *bs, bool read_only,
                           bool ignore_allow_rdw, Error **errp);
int bdrv_apply_auto_read_only(BlockDriverState *bs, const char *errmsg,
                              Error **errp);
bool bdrv_is_inserted(BlockDriverState *bs);
bool bdrv_is_sg(BlockDriverState *bs);
bool bdrv_is_encrypted(BlockDriverState *bs);
bool bdrv_supports_compressed_writes(BlockDriverState *bs);

/* Length in bytes (a multiple of 512), or -errno. */
int64_t bdrv_getlength(BlockDriverState *bs);
int64_t bdrv_nb_sectors(BlockDriverState *bs);
int64_t bdrv_get_allocated_file_size(BlockDriverState *bs);
int bdrv_get_info(BlockDriverState *bs, BlockDriverInfo *bdi);
ImageInfoSpecific *bdrv_get_specific_info(BlockDriverState *bs,
                                          Error **errp);
/*
 * The internal snapshots of bs (or of the node that holds its data, when bs
 * only passes it through): their number, with *psn_info a g_new array the
 * caller frees; -ENOTSUP where no node in the way keeps snapshots.
 */
int bdrv_snapshot_list(BlockDriverState *bs, QEMUSnapshotInfo **psn_info);
/* Does a freshly created image read as zeroes? */
int bdrv_has_zero_init(BlockDriverState *bs);
int bdrv_has_zero_init_1(BlockDriverState *bs);

/* Recompute bs->filename, exact_filename and full_open_options. */
void bdrv_refresh_filename(BlockDriverState *bs);
/* Directory against which relative names in bs resolve; caller frees. */
char *bdrv_dirname(BlockDriverState *bs, Error **errp);
/* bs->backing_file made absolute; caller frees. */
char *bdrv_get_full_backing_filename(BlockDriverState *bs, Error **errp);
char *bdrv_get_full_backing_filename_from_filename(const char *backed,
                                                   const char *backing,
                                                   Error **errp);
/* Resolve filename relative to the directory of base_path; caller frees. */
char *path_combine(const char *base_path, const char *filename);
bool path_has_protocol(const char *path);
int path_is_absolute(const char *path);

/* Rewrite the backing file name/format recorded in the image header. */
/* require: refuse (-EINVAL) a backing file without a format. */
int bdrv_change_backing_file(BlockDriverState *bs, const char *backing_file,
                             const char *backing_fmt, bool require);

/* Buffers aligned for this node's memory alignment requirements. */
void *qemu_blockalign(BlockDriverState *bs, size_t size);
void *qemu_blockalign0(BlockDriverState *bs, size_t size);
void *qemu_try_blockalign(BlockDriverState *bs, size_t size);
void *qemu_try_blockalign0(BlockDriverState *bs, size_t size);
size_t bdrv_min_mem_align(BlockDriverState *bs);
size_t bdrv_opt_mem_align(BlockDriverState *bs);

/* ---- I/O (synchronous forms run the coroutine path) ---- */

int bdrv_pread(BdrvChild *child, int64_t offset, int64_t bytes, void *buf,
               BdrvRequestFlags flags);
int bdrv_pwrite(BdrvChild *child, int64_t offset, int64_t bytes,
                const void *buf, BdrvRequestFlags flags);
/* bdrv_pwrite followed by bdrv_flush. */
int bdrv_pwrite_sync(BdrvChild *child, int64_t offset, int64_t bytes,
                     const void *buf, BdrvRequestFlags flags);
int bdrv_preadv(BdrvChild *child, int64_t offset, int64_t bytes,
                QEMUIOVector *qiov, BdrvRequestFlags flags);
int bdrv_pwritev(BdrvChild *child, int64_t offset, int64_t bytes,
                 QEMUIOVector *qiov, BdrvRequestFlags flags);
int bdrv_pwrite_zeroes(BdrvChild *child, int64_t offset, int64_t bytes,
                       BdrvRequestFlags flags);
/* Zero the whole device, skipping what already reads as zero. */
int bdrv_make_zero(BdrvChild *child, BdrvRequestFlags flags);
int bdrv_pdiscard(BdrvChild *child, int64_t offset, int64_t bytes);
int bdrv_flush(BlockDriverState *bs);
int bdrv_flush_all(void);
int bdrv_truncate(BdrvChild *child, int64_t offset, bool exact,
                  PreallocMode prealloc, BdrvRequestFlags flags,
                  Error **errp);

int coroutine_fn bdrv_co_pwrite_zeroes(BdrvChild *child, int64_t offset,
                                       int64_t bytes, BdrvRequestFlags flags);
int coroutine_fn bdrv_co_pdiscard(BdrvChild *child, int64_t offset,
                                  int64_t bytes);
int coroutine_fn bdrv_co_flush(BlockDriverState *bs);
int coroutine_fn bdrv_co_truncate(BdrvChild *child, int64_t offset,
                                  bool exact, PreallocMode prealloc,
                                  BdrvRequestFlags flags, Error **errp);
int64_t coroutine_fn bdrv_co_getlength(BlockDriverState *bs);

/* VM state area (qcow2); return bytes transferred or -errno. */
int bdrv_save_vmstate(BlockDriverState *bs, const uint8_t *buf,
                      int64_t pos, int size);
int bdrv_load_vmstate(BlockDriverState *bs, uint8_t *buf,
                      int64_t pos, int size);
int coroutine_fn bdrv_co_readv_vmstate(BlockDriverState *bs,
                                       QEMUIOVector *qiov, int64_t pos);
int coroutine_fn bdrv_co_writev_vmstate(BlockDriverState *bs,
                                        QEMUIOVector *qiov, int64_t pos);

/* ---- Allocation status ---- */

/*
 * Status of [offset, offset + bytes) in bs alone (BDRV_BLOCK_* bits);
 * *pnum is the length with the same status.  map/file may be NULL.
 */
int bdrv_block_status(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, int64_t *map, BlockDriverState **file);
/* The same, looking through the backing chain down to (excluding) base. */
int bdrv_block_status_above(BlockDriverState *bs, BlockDriverState *base,
                            int64_t offset, int64_t bytes, int64_t *pnum,
                            int64_t *map, BlockDriverState **file);
int coroutine_fn bdrv_co_block_status_above(BlockDriverState *bs,
                                            BlockDriverState *base,
                                            int64_t offset, int64_t bytes,
                                            int64_t *pnum, int64_t *map,
                                            BlockDriverState **file);
/* 1 if allocated in bs itself, 0 if not, -errno on error. */
int bdrv_is_allocated(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum);
int coroutine_fn bdrv_co_is_allocated(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, int64_t *pnum);
/*
 * Depth (1 = top) of the first layer between top and base that allocates
 * offset, 0 if none, -errno on error.
 */
int bdrv_is_allocated_above(BlockDriverState *top, BlockDriverState *base,
                            bool include_base, int64_t offset, int64_t bytes,
                            int64_t *pnum);
int coroutine_fn bdrv_co_is_allocated_above(BlockDriverState *top,
                                            BlockDriverState *base,
                                            bool include_base, int64_t offset,
                                            int64_t bytes, int64_t *pnum);
/* Cheap check that the range reads as zeroes. */
int coroutine_fn bdrv_co_is_zero_fast(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes);

/* ---- Consistency check ---- */

int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res,
               BdrvCheckMode fix);
int coroutine_fn bdrv_co_check(BlockDriverState *bs, BdrvCheckResult *res,
                               BdrvCheckMode fix);

/* ---- Draining ---- */

/* Stop new requests from the parents of bs and wait for in-flight ones. */
void bdrv_drained_begin(BlockDriverState *bs);
void bdrv_drained_end(BlockDriverState *bs);
/* The same, also for every child (recursively). */
void bdrv_subtree_drained_begin(BlockDriverState *bs);
void bdrv_subtree_drained_end(BlockDriverState *bs);
/* bdrv_drained_begin + end. */
void bdrv_drain(BlockDriverState *bs);
void bdrv_drain_all_begin(void);
void bdrv_drain_all_end(void);
void bdrv_drain_all(void);

void bdrv_inc_in_flight(BlockDriverState *bs);
void bdrv_dec_in_flight(BlockDriverState *bs);

void bdrv_io_plug(BlockDriverState *bs);
void bdrv_io_unplug(BlockDriverState *bs);

/* ---- blkdebug hooks ---- */

void bdrv_debug_event(BlockDriverState *bs, BlkdebugEvent event);
/* Raise event on the node below child (drivers report on their file). */
#define BLKDBG_EVENT(child, evt) \
    do { \
        if (child) { \
            bdrv_debug_event((child)->bs, evt); \
        } \
    } while (0)
int bdrv_debug_breakpoint(BlockDriverState *bs, const char *event,
                          const char *tag);
int bdrv_debug_remove_breakpoint(BlockDriverState *bs, const char *tag);
int bdrv_debug_resume(BlockDriverState *bs, const char *tag);
bool bdrv_debug_is_suspended(BlockDriverState *bs, const char *tag);

/* ---- Image creation ---- */

/* Run drv's co_create_opts for filename (polling until done). */
int bdrv_create(BlockDriver *drv, const char *filename, QemuOpts *opts,
                Error **errp);
/* Create the protocol-level file for filename. */
int bdrv_create_file(const char *filename, QemuOpts *opts, Error **errp);
/*
 * What qemu-img create does: validate options, open the backing file to
 * get a default size, create the image, print "Formatting ..." unless quiet.
 */
void bdrv_img_create(const char *filename, const char *fmt,
                     const char *base_filename, const char *base_fmt,
                     char *options, uint64_t img_size, int flags,
                     bool quiet, Error **errp);

#endif
