/*
 * The driver side of the block layer: BlockDriver (the callback table),
 * BlockDriverState (a node), BdrvChild (an edge), BdrvChildClass (what a
 * child needs from its parent) and the services drivers build on.
 *
 * The I/O contract, stated once here and guaranteed by block/io.c so that
 * drivers never re-check it:
 *  - offset and bytes of read/write/zero/discard callbacks are multiples of
 *    bl.request_alignment (write-zeroes and discard may be smaller only
 *    when they reach the end of the image or the request was smaller);
 *  - bytes <= bl.max_transfer for reads and writes, <= max_pwrite_zeroes
 *    and max_pdiscard for those;
 *  - the range lies inside the node (except for writes on an edge that
 *    holds BLK_PERM_RESIZE, which may grow protocol nodes);
 *  - qiov->size - qiov_offset >= bytes; the buffers may be guest memory;
 *  - only flags in supported_{read,write,zero}_flags are passed;
 *  - callbacks run in coroutine context in the node's AioContext and
 *    return 0 or -errno (positive returns are treated as 0).
 */
#ifndef BLOCK_BLOCK_INT_H
#define BLOCK_BLOCK_INT_H

#include "block/block.h"
#include "qemu/aio-wait.h"
#include "qemu/option.h"

typedef struct Transaction Transaction;

/* ---- Option names for image creation (qemu-img create -o) ---- */

#define BLOCK_OPT_SIZE              "size"
#define BLOCK_OPT_ENCRYPT           "encryption"
#define BLOCK_OPT_ENCRYPT_FORMAT    "encrypt.format"
#define BLOCK_OPT_COMPAT6           "compat6"
#define BLOCK_OPT_HWVERSION         "hwversion"
#define BLOCK_OPT_BACKING_FILE      "backing_file"
#define BLOCK_OPT_BACKING_FMT       "backing_fmt"
#define BLOCK_OPT_CLUSTER_SIZE      "cluster_size"
#define BLOCK_OPT_TABLE_SIZE        "table_size"
#define BLOCK_OPT_PREALLOC          "preallocation"
#define BLOCK_OPT_SUBFMT            "subformat"
#define BLOCK_OPT_COMPAT_LEVEL      "compat"
#define BLOCK_OPT_LAZY_REFCOUNTS    "lazy_refcounts"
#define BLOCK_OPT_ADAPTER_TYPE      "adapter_type"
#define BLOCK_OPT_REDUNDANCY        "redundancy"
#define BLOCK_OPT_NOCOW             "nocow"
#define BLOCK_OPT_EXTENT_SIZE_HINT  "extent_size_hint"
#define BLOCK_OPT_OBJECT_SIZE       "object_size"
#define BLOCK_OPT_REFCOUNT_BITS     "refcount_bits"
#define BLOCK_OPT_DATA_FILE         "data_file"
#define BLOCK_OPT_DATA_FILE_RAW     "data_file_raw"
#define BLOCK_OPT_COMPRESSION_TYPE  "compression_type"
#define BLOCK_OPT_EXTL2             "extended_l2"
#define BLOCK_OPT_TOOLSVERSION      "toolsversion"
#define BLOCK_OPT_ZEROED_GRAIN      "zeroed_grain"
#define BLOCK_OPT_FORCE_SIZE        "force_size"

/* ---- Limits a node imposes on requests ---- */

typedef struct BlockLimits {
    /*
     * Offsets and lengths of all requests are multiples of this (power
     * of two; 1 for byte-granular drivers, 512 for sector-based ones).
     */
    uint32_t request_alignment;
    /* Largest discard in bytes (0: no limit) and its preferred alignment. */
    int64_t max_pdiscard;
    uint32_t pdiscard_alignment;
    /* Largest write-zeroes in bytes (0: no limit) and preferred alignment. */
    int64_t max_pwrite_zeroes;
    uint32_t pwrite_zeroes_alignment;
    /*
     * Preferred and maximum transfer sizes in bytes (0: no preference /
     * no limit); multiples of request_alignment.
     */
    uint32_t opt_transfer;
    uint32_t max_transfer;
    uint64_t max_hw_transfer;
    int max_hw_iov;
    /* Memory alignment the driver needs / prefers for buffers. */
    size_t min_mem_alignment;
    size_t opt_mem_alignment;
    /* Most iovec entries a request may have. */
    int max_iov;
} BlockLimits;

/* ---- Tracked requests (block/io.c) ---- */

enum BdrvTrackedRequestType {
    BDRV_TRACKED_READ,
    BDRV_TRACKED_WRITE,
    BDRV_TRACKED_DISCARD,
    BDRV_TRACKED_TRUNCATE,
};

typedef struct BdrvTrackedRequest {
    BlockDriverState *bs;
    int64_t offset;
    int64_t bytes;
    enum BdrvTrackedRequestType type;

    /* Serialising requests exclude every overlapping request. */
    bool serialising;
    int64_t overlap_offset;
    int64_t overlap_bytes;

    QLIST_ENTRY(BdrvTrackedRequest) list;
    Coroutine *co;              /* owner, to catch self-deadlock */
    CoQueue wait_queue;         /* requests waiting for this one */
    struct BdrvTrackedRequest *waiting_for;
} BdrvTrackedRequest;

/* ---- Reopen ---- */

struct BDRVReopenState {
    BlockDriverState *bs;
    int flags;
    BlockdevDetectZeroesOptions detect_zeroes;
    bool backing_missing;
    BlockDriverState *old_backing_bs;  /* keep a ref while replacing */
    BlockDriverState *old_file_bs;
    QDict *options;
    QDict *explicit_options;
    void *opaque;                      /* driver state between the phases */
};

/* ---- The driver callback table ---- */

struct BlockDriver {
    /* Name for -f / driver=; also the name qemu-img/qemu-io print. */
    const char *format_name;
    /* Size of the driver state (bs->opaque, zero-filled at open). */
    int instance_size;

    /*
     * A filter passes data through to its one FILTERED|PRIMARY child (in
     * bs->file, or bs->backing if filtered_child_is_backing); the core
     * forwards unimplemented data callbacks to it.
     */
    bool is_filter;
    bool filtered_child_is_backing;
    /* Formats are not probed for their children (no nested probing). */
    bool is_format;
    /* Needs a "filename" option to open. */
    bool bdrv_needs_filename;
    /* May have a COW (backing) child. */
    bool supports_backing;
    /* bdrv_getlength re-queries the driver every time. */
    bool has_variable_length;

    /* "proto" for "proto:..." filenames; set only by protocol drivers. */
    const char *protocol_name;

    /* Options for qemu-img create / amend. */
    QemuOptsList *create_opts;
    QemuOptsList *amend_opts;
    /* Runtime options that reopen may change (NULL-terminated). */
    const char *const *mutable_opts;
    /*
     * Runtime options that affect the data and so appear in json: names
     * (entries ending in '.' are prefixes).
     */
    const char *const *strong_runtime_opts;

    /* ---- Global state (main loop, not in coroutines) ---- */

    /* Score 0..100 for the first BLOCK_PROBE_BUF_SIZE bytes. */
    int (*bdrv_probe)(const uint8_t *buf, int buf_size, const char *filename);
    /* Claim host device paths (not used by the drivers here). */
    int (*bdrv_probe_device)(const char *filename);
    /* Turn a legacy "proto:..." filename into options. */
    void (*bdrv_parse_filename)(const char *filename, QDict *options,
                                Error **errp);

    /*
     * Open a format or filter node.  Must consume (qdict_del or absorb) its
     * options and open its children with bdrv_open_child.
     */
    int (*bdrv_open)(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp);
    /* Open a protocol node (its presence makes the driver a protocol). */
    int (*bdrv_file_open)(BlockDriverState *bs, QDict *options, int flags,
                          Error **errp);
    /* Free driver state; the core drops the children afterwards. */
    void (*bdrv_close)(BlockDriverState *bs);

    /* Create an image from qemu-img create style options. */
    int coroutine_fn (*bdrv_co_create_opts)(BlockDriver *drv,
                                            const char *filename,
                                            QemuOpts *opts, Error **errp);
    /* Remove a half-created file. */
    int coroutine_fn (*bdrv_co_delete_file)(BlockDriverState *bs,
                                            Error **errp);
    int (*bdrv_amend_options)(BlockDriverState *bs, QemuOpts *opts,
                              void (*status_cb)(BlockDriverState *bs,
                                                int64_t offset,
                                                int64_t total_work_size,
                                                void *opaque),
                              void *cb_opaque, bool force, Error **errp);
    int (*bdrv_make_empty)(BlockDriverState *bs);

    /*
     * Reopen: prepare validates and stages the new options (mandatory for
     * reopen to work at all); then exactly one of commit or abort.
     */
    int (*bdrv_reopen_prepare)(BDRVReopenState *reopen_state,
                               BlockReopenQueue *queue, Error **errp);
    void (*bdrv_reopen_commit)(BDRVReopenState *reopen_state);
    void (*bdrv_reopen_commit_post)(BDRVReopenState *reopen_state);
    void (*bdrv_reopen_abort)(BDRVReopenState *reopen_state);
    /* Merge old options into new ones for reopen, if not plain defaults. */
    void (*bdrv_join_options)(QDict *options, QDict *old_options);

    /* Fill bs->exact_filename, or leave it empty when impossible. */
    void (*bdrv_refresh_filename)(BlockDriverState *bs);
    /* Put the children's options into target (for json: names). */
    void (*bdrv_gather_child_options)(BlockDriverState *bs, QDict *target,
                                      bool backing_overridden);
    /* Directory for relative names in this node; caller frees. */
    char *(*bdrv_dirname)(BlockDriverState *bs, Error **errp);
    /* Override bs->bl after the core merged the children's limits. */
    void (*bdrv_refresh_limits)(BlockDriverState *bs, Error **errp);

    /*
     * Permissions this node needs on child c (NULL: about to be attached)
     * with role, given the cumulative perm/shared of its own parents.
     * Use bdrv_default_perms unless the driver needs something special.
     */
    void (*bdrv_child_perm)(BlockDriverState *bs, BdrvChild *c,
                            BdrvChildRole role,
                            BlockReopenQueue *reopen_queue,
                            uint64_t parent_perm, uint64_t parent_shared,
                            uint64_t *nperm, uint64_t *nshared);
    /*
     * check_perm stages a permission change (e.g. takes image locks); it
     * is followed by exactly one of set_perm (commit) or
     * abort_perm_update.  abort may come without a check: then a no-op.
     */
    int (*bdrv_check_perm)(BlockDriverState *bs, uint64_t perm,
                           uint64_t shared, Error **errp);
    void (*bdrv_set_perm)(BlockDriverState *bs, uint64_t perm,
                          uint64_t shared);
    void (*bdrv_abort_perm_update)(BlockDriverState *bs);

    int64_t (*bdrv_getlength)(BlockDriverState *bs);
    int64_t (*bdrv_get_allocated_file_size)(BlockDriverState *bs);
    BlockMeasureInfo *(*bdrv_measure)(QemuOpts *opts,
                                      BlockDriverState *in_bs, Error **errp);
    /* cluster_size > 1 GiB is an error (-EINVAL). */
    int (*bdrv_get_info)(BlockDriverState *bs, BlockDriverInfo *bdi);
    ImageInfoSpecific *(*bdrv_get_specific_info)(BlockDriverState *bs,
                                                 Error **errp);
    /* 1 if a new image reads as zeroes. */
    int (*bdrv_has_zero_init)(BlockDriverState *bs);
    /*
     * Record a new backing file in the header: -EINVAL for a format
     * without a file, -ENOSPC without room, -ENOTSUP if unsupported.
     */
    int (*bdrv_change_backing_file)(BlockDriverState *bs,
                                    const char *backing_file,
                                    const char *backing_fmt);
    int (*bdrv_inactivate)(BlockDriverState *bs);
    void coroutine_fn (*bdrv_co_invalidate_cache)(BlockDriverState *bs,
                                                  Error **errp);
    /* Check (and with fix, repair) the image; fills result. */
    int coroutine_fn (*bdrv_co_check)(BlockDriverState *bs,
                                      BdrvCheckResult *result,
                                      BdrvCheckMode fix);

    /* ---- I/O (coroutine context; see the contract at the top) ---- */

    /*
     * Reads: the core prefers co_preadv_part, then co_preadv, then
     * aio_preadv.  flags: subset of bs->supported_read_flags.
     */
    int coroutine_fn (*bdrv_co_preadv)(BlockDriverState *bs,
                                       int64_t offset, int64_t bytes,
                                       QEMUIOVector *qiov,
                                       BdrvRequestFlags flags);
    int coroutine_fn (*bdrv_co_preadv_part)(BlockDriverState *bs,
                                            int64_t offset, int64_t bytes,
                                            QEMUIOVector *qiov,
                                            size_t qiov_offset,
                                            BdrvRequestFlags flags);
    /* Writes, same ladder.  flags: subset of bs->supported_write_flags. */
    int coroutine_fn (*bdrv_co_pwritev)(BlockDriverState *bs,
                                        int64_t offset, int64_t bytes,
                                        QEMUIOVector *qiov,
                                        BdrvRequestFlags flags);
    int coroutine_fn (*bdrv_co_pwritev_part)(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes,
                                             QEMUIOVector *qiov,
                                             size_t qiov_offset,
                                             BdrvRequestFlags flags);
    /* Callback-style I/O (null-aio); cb must not run before return. */
    BlockAIOCB *(*bdrv_aio_preadv)(BlockDriverState *bs,
                                   int64_t offset, int64_t bytes,
                                   QEMUIOVector *qiov, BdrvRequestFlags flags,
                                   BlockCompletionFunc *cb, void *opaque);
    BlockAIOCB *(*bdrv_aio_pwritev)(BlockDriverState *bs,
                                    int64_t offset, int64_t bytes,
                                    QEMUIOVector *qiov, BdrvRequestFlags flags,
                                    BlockCompletionFunc *cb, void *opaque);
    BlockAIOCB *(*bdrv_aio_flush)(BlockDriverState *bs,
                                  BlockCompletionFunc *cb, void *opaque);

    /*
     * Efficiently zero a range.  flags: subset of supported_zero_flags.
     * -ENOTSUP makes the core write a zeroed buffer instead (unless the
     * request has BDRV_REQ_NO_FALLBACK).
     */
    int coroutine_fn (*bdrv_co_pwrite_zeroes)(BlockDriverState *bs,
                                              int64_t offset, int64_t bytes,
                                              BdrvRequestFlags flags);
    /* Advisory; -ENOTSUP is ignored by the core. */
    int coroutine_fn (*bdrv_co_pdiscard)(BlockDriverState *bs,
                                         int64_t offset, int64_t bytes);
    /* Whole-cluster compressed writes; presence means "can compress". */
    int coroutine_fn (*bdrv_co_pwritev_compressed)(BlockDriverState *bs,
                                                   int64_t offset,
                                                   int64_t bytes,
                                                   QEMUIOVector *qiov);
    int coroutine_fn (*bdrv_co_pwritev_compressed_part)(BlockDriverState *bs,
                                                        int64_t offset,
                                                        int64_t bytes,
                                                        QEMUIOVector *qiov,
                                                        size_t qiov_offset);

    /*
     * Status of this layer only, starting at offset (aligned, inside the
     * node): DATA/ZERO/OFFSET_VALID/RAW/RECURSE, or 0 for "not here, ask
     * the backing file".  *pnum must be set non-zero and aligned (it may
     * exceed bytes); *map and *file with OFFSET_VALID or RAW.
     * want_zero asks for precise ZERO/OFFSET_VALID answers over speed.
     */
    int coroutine_fn (*bdrv_co_block_status)(BlockDriverState *bs,
                                             bool want_zero, int64_t offset,
                                             int64_t bytes, int64_t *pnum,
                                             int64_t *map,
                                             BlockDriverState **file);

    /* Flush everything below too (replaces the two below). */
    int coroutine_fn (*bdrv_co_flush)(BlockDriverState *bs);
    /* Write the driver's own caches (metadata) to its children. */
    int coroutine_fn (*bdrv_co_flush_to_os)(BlockDriverState *bs);
    /* Make written data stable on the device (fdatasync). */
    int coroutine_fn (*bdrv_co_flush_to_disk)(BlockDriverState *bs);

    /*
     * Resize to offset.  Modes other than PREALLOC_MODE_OFF are rejected
     * when shrinking; with exact, -ENOTSUP if only a larger size is
     * possible.  flags: subset of supported_truncate_flags.
     */
    int coroutine_fn (*bdrv_co_truncate)(BlockDriverState *bs, int64_t offset,
                                         bool exact, PreallocMode prealloc,
                                         BdrvRequestFlags flags,
                                         Error **errp);

    int coroutine_fn (*bdrv_co_readv_vmstate)(BlockDriverState *bs,
                                              QEMUIOVector *qiov,
                                              int64_t pos);
    int coroutine_fn (*bdrv_co_writev_vmstate)(BlockDriverState *bs,
                                               QEMUIOVector *qiov,
                                               int64_t pos);

    /* Quiesce / resume internal request sources (timers, caches). */
    void coroutine_fn (*bdrv_co_drain_begin)(BlockDriverState *bs);
    void coroutine_fn (*bdrv_co_drain_end)(BlockDriverState *bs);
    /*
     * Batch submissions between plug and unplug (nested calls counted by
     * the core; the driver sees 0->1 and 1->0 only).
     */
    void (*bdrv_io_plug)(BlockDriverState *bs);
    void (*bdrv_io_unplug)(BlockDriverState *bs);

    /* blkdebug: events and breakpoints (see block/blkdebug.c). */
    void (*bdrv_debug_event)(BlockDriverState *bs, BlkdebugEvent event);
    int (*bdrv_debug_breakpoint)(BlockDriverState *bs, const char *event,
                                 const char *tag);
    int (*bdrv_debug_remove_breakpoint)(BlockDriverState *bs,
                                        const char *tag);
    int (*bdrv_debug_resume)(BlockDriverState *bs, const char *tag);
    bool (*bdrv_debug_is_suspended)(BlockDriverState *bs, const char *tag);

    /* Snapshots (qcow2). */
    int (*bdrv_snapshot_create)(BlockDriverState *bs,
                                QEMUSnapshotInfo *sn_info);
    int (*bdrv_snapshot_goto)(BlockDriverState *bs, const char *snapshot_id);
    int (*bdrv_snapshot_delete)(BlockDriverState *bs, const char *snapshot_id,
                                const char *name, Error **errp);
    int (*bdrv_snapshot_list)(BlockDriverState *bs,
                              QEMUSnapshotInfo **psn_info);
    int (*bdrv_snapshot_load_tmp)(BlockDriverState *bs,
                                  const char *snapshot_id, const char *name,
                                  Error **errp);

    QLIST_ENTRY(BlockDriver) list;
};

/* ---- Parent-side callbacks of an edge ---- */

struct BdrvChildClass {
    /* The parent is a node (child_of_bds) rather than a BlockBackend. */
    bool parent_is_bds;
    /* Edges of this class are not moved by bdrv_replace_node. */
    bool stay_at_node;

    /* Compute the child's flags/options from the parent's (at open). */
    void (*inherit_options)(BdrvChildRole role, bool parent_is_format,
                            int *child_flags, QDict *child_options,
                            int parent_flags, QDict *parent_options);

    /* Describe the parent for messages ("node 'x'", "block device 'y'"). */
    char *(*get_parent_desc)(BdrvChild *child);
    const char *(*get_name)(BdrvChild *child);

    void (*change_media)(BdrvChild *child, bool load);
    /* The child node changed size. */
    void (*resize)(BdrvChild *child);

    /* The child is being drained: stop sending new requests to it. */
    void (*drained_begin)(BdrvChild *child);
    /* Drain ended; bump *drained_end_counter for work still scheduled. */
    void (*drained_end)(BdrvChild *child, int *drained_end_counter);
    /* Does the parent still have requests in flight to the child? */
    bool (*drained_poll)(BdrvChild *child);

    int (*inactivate)(BdrvChild *child);
    void (*activate)(BdrvChild *child, Error **errp);

    /* Maintain the parent's view (bs->file / bs->backing, children list). */
    void (*attach)(BdrvChild *child);
    void (*detach)(BdrvChild *child);

    /* The child's filename changed: update what the parent recorded. */
    int (*update_filename)(BdrvChild *child, BlockDriverState *new_base,
                           const char *filename, Error **errp);

    AioContext *(*get_parent_aio_context)(BdrvChild *child);
};

extern const BdrvChildClass child_of_bds;

/* ---- An edge: parent (opaque) -> child node (bs) ---- */

struct BdrvChild {
    BlockDriverState *bs;
    char *name;
    const BdrvChildClass *klass;
    BdrvChildRole role;
    /* The parent: a BlockDriverState for child_of_bds, else a BlockBackend. */
    void *opaque;

    /* Permissions the parent uses / lets others use on bs. */
    uint64_t perm;
    uint64_t shared_perm;

    /* The edge may not be removed or re-pointed. */
    bool frozen;

    /* How many times the parent has been drained because of this child. */
    int parent_quiesce_counter;

    QLIST_ENTRY(BdrvChild) next;          /* in the parent's children */
    QLIST_ENTRY(BdrvChild) next_parent;   /* in the child's parents */
};

/* ---- A node ---- */

struct BlockDriverState {
    BlockDriver *drv;
    void *opaque;                   /* driver state */
    AioContext *aio_context;

    int open_flags;                 /* BDRV_O_* */
    bool encrypted;
    bool sg;
    bool probed;                    /* the format was probed */
    bool force_share;
    bool implicit;                  /* created by the layer, not the user */

    /* All options of the node / those the user set explicitly. */
    QDict *options;
    QDict *explicit_options;
    /* Options that recreate the node (json: names). */
    QDict *full_open_options;

    char filename[PATH_MAX];        /* exact_filename, or a json: name */
    char exact_filename[PATH_MAX];  /* a plain name that recreates it */
    /* Backing file as recorded in the image / the name the user passed. */
    char backing_file[PATH_MAX];
    char auto_backing_file[PATH_MAX];
    char backing_format[16];

    char node_name[32];
    QTAILQ_ENTRY(BlockDriverState) node_list;     /* named nodes */
    QTAILQ_ENTRY(BlockDriverState) bs_list;       /* all nodes */
    QTAILQ_ENTRY(BlockDriverState) monitor_list;
    int refcnt;

    QLIST_HEAD(, BdrvChild) children;
    QLIST_HEAD(, BdrvChild) parents;
    /* Shortcuts into children. */
    BdrvChild *file;
    BdrvChild *backing;
    /* The node this one inherits options from, for reopen. */
    BlockDriverState *inherits_from;

    BlockLimits bl;
    BdrvRequestFlags supported_read_flags;
    BdrvRequestFlags supported_write_flags;
    BdrvRequestFlags supported_zero_flags;
    BdrvRequestFlags supported_truncate_flags;

    /* Length in 512-byte sectors (driver length rounded up). */
    int64_t total_sectors;

    BlockdevDetectZeroesOptions detect_zeroes;
    int copy_on_read;               /* > 0: copy-on-read enabled */

    /* Requests in flight on this node (atomic); drain waits for 0. */
    unsigned int in_flight;
    unsigned int serialising_in_flight;
    unsigned int io_plugged;

    /* Drain nesting: on this node / inherited from drained ancestors. */
    int quiesce_counter;
    int recursive_quiesce_counter;
    unsigned int write_gen;         /* bumped by every write */

    /* Protects tracked_requests, flush state and the status cache. */
    CoMutex reqs_lock;
    QLIST_HEAD(, BdrvTrackedRequest) tracked_requests;
    /* Flushes are serialised; flushed_gen is write_gen at the last one. */
    CoQueue flush_queue;
    bool active_flush_req;
    unsigned int flushed_gen;

    /* Highest written offset + 1 (for statistics). */
    uint64_t wr_highest_offset;
    /* A write ending beyond this offset resets it to 0 (0: disabled). */
    uint64_t write_threshold_offset;

    /* One-entry block-status cache for protocol nodes. */
    struct {
        bool valid;
        int64_t data_start;
        int64_t data_end;
    } block_status_cache;

    /* Op blockers, e.g. "node is used as backing hd of ...". */
    QLIST_HEAD(, BdrvOpBlocker) op_blockers;
    /* The reason this node blocks its backing node (while it has one). */
    Error *backing_blocker;
};

/* ---- Op blockers ---- */

/* Block every operation on bs, giving reason (owned by the caller). */
void bdrv_op_block_all(BlockDriverState *bs, Error *reason);
void bdrv_op_unblock_all(BlockDriverState *bs, Error *reason);
bool bdrv_op_blocker_is_empty(BlockDriverState *bs);

/* ---- Drain plumbing shared by block.c and io.c ---- */

/* Number of bdrv_drain_all_begin() sections in progress. */
extern unsigned int bdrv_drain_all_count;
/*
 * Quiesce bs and its parents without polling (child_of_bds forwards a
 * parent drain with this); parent is the edge the request came from.
 */
void bdrv_do_drained_begin_quiesce(BlockDriverState *bs, BdrvChild *parent,
                                   bool ignore_bds_parents);
/* Does bs (or, with recursive, a child) still have activity to wait for? */
bool bdrv_drain_poll(BlockDriverState *bs, bool recursive,
                     BdrvChild *ignore_parent, bool ignore_bds_parents);
/* End a drained section without polling; counts scheduled work. */
void bdrv_drained_end_no_poll(BlockDriverState *bs, int *drained_end_counter);
/* Drain / undrain the parent of one edge (c->klass callbacks). */
void bdrv_parent_drained_begin_single(BdrvChild *c, bool poll);
void bdrv_parent_drained_end_single(BdrvChild *c);
/*
 * A child joining (leaving) new_parent (old_parent) takes on (drops) the
 * subtree drains that are active on the parent.
 */
void bdrv_apply_subtree_drain(BdrvChild *child, BlockDriverState *new_parent);
void bdrv_unapply_subtree_drain(BdrvChild *child,
                                BlockDriverState *old_parent);
/* End the drain_all sections a node being deleted still takes part in. */
void bdrv_drain_all_end_quiesce(BlockDriverState *bs);

/* ---- Services for drivers ---- */

/* Default BlockDriver.bdrv_child_perm for formats and filters. */
void bdrv_default_perms(BlockDriverState *bs, BdrvChild *c,
                        BdrvChildRole role, BlockReopenQueue *reopen_queue,
                        uint64_t perm, uint64_t shared,
                        uint64_t *nperm, uint64_t *nshared);
void bdrv_get_cumulative_perm(BlockDriverState *bs, uint64_t *perm,
                              uint64_t *shared_perm);
/* Set an edge's permissions (BlockBackend edges); see block-core.md. */
int bdrv_child_try_set_perm(BdrvChild *c, uint64_t perm, uint64_t shared,
                            Error **errp);
/* Re-ask the driver's child_perm for c and apply the result. */
int bdrv_child_refresh_perms(BlockDriverState *bs, BdrvChild *c,
                             Error **errp);

/* Attach child_bs to a non-node parent (BlockBackend); steals a ref. */
BdrvChild *bdrv_root_attach_child(BlockDriverState *child_bs,
                                  const char *child_name,
                                  const BdrvChildClass *child_class,
                                  BdrvChildRole child_role,
                                  uint64_t perm, uint64_t shared_perm,
                                  void *opaque, Error **errp);
void bdrv_root_unref_child(BdrvChild *child);

/* Coroutine I/O on a child (what drivers call on bs->file etc.). */
int coroutine_fn bdrv_co_preadv(BdrvChild *child, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                BdrvRequestFlags flags);
int coroutine_fn bdrv_co_preadv_part(BdrvChild *child, int64_t offset,
                                     int64_t bytes, QEMUIOVector *qiov,
                                     size_t qiov_offset,
                                     BdrvRequestFlags flags);
int coroutine_fn bdrv_co_pwritev(BdrvChild *child, int64_t offset,
                                 int64_t bytes, QEMUIOVector *qiov,
                                 BdrvRequestFlags flags);
int coroutine_fn bdrv_co_pwritev_part(BdrvChild *child, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      size_t qiov_offset,
                                      BdrvRequestFlags flags);
int coroutine_fn bdrv_co_pread(BdrvChild *child, int64_t offset,
                               int64_t bytes, void *buf,
                               BdrvRequestFlags flags);
int coroutine_fn bdrv_co_pwrite(BdrvChild *child, int64_t offset,
                                int64_t bytes, const void *buf,
                                BdrvRequestFlags flags);
int coroutine_fn bdrv_co_pwrite_sync(BdrvChild *child, int64_t offset,
                                     int64_t bytes, const void *buf,
                                     BdrvRequestFlags flags);

/* Make req exclude overlapping requests at align granularity; waits. */
bool coroutine_fn bdrv_make_request_serialising(BdrvTrackedRequest *req,
                                                uint64_t align);
/* The tracked request of the running coroutine on bs, if any. */
BdrvTrackedRequest *coroutine_fn bdrv_co_get_self_request(BlockDriverState *bs);

/* Pass block status to bs->file / bs->backing (for simple drivers). */
int coroutine_fn bdrv_co_block_status_from_file(BlockDriverState *bs,
                                                bool want_zero,
                                                int64_t offset, int64_t bytes,
                                                int64_t *pnum, int64_t *map,
                                                BlockDriverState **file);
int coroutine_fn bdrv_co_block_status_from_backing(BlockDriverState *bs,
                                                   bool want_zero,
                                                   int64_t offset,
                                                   int64_t bytes,
                                                   int64_t *pnum,
                                                   int64_t *map,
                                                   BlockDriverState **file);

/* Recompute bs->total_sectors from the driver (hint: known sectors). */
int bdrv_refresh_total_sectors(BlockDriverState *bs, int64_t hint);
void bdrv_refresh_limits(BlockDriverState *bs, Transaction *tran,
                         Error **errp);

/* The best-scoring driver for a probe buffer, or NULL. */
BlockDriver *bdrv_probe_all(const uint8_t *buf, int buf_size,
                            const char *filename);
/* Strip "prefix:" from filename into options["filename"]. */
void bdrv_parse_filename_strip_prefix(const char *filename,
                                      const char *prefix, QDict *options);

/* Create support for protocols that can only open existing storage. */
int coroutine_fn bdrv_co_create_opts_simple(BlockDriver *drv,
                                            const char *filename,
                                            QemuOpts *opts, Error **errp);
extern QemuOptsList bdrv_create_opts_simple;
int coroutine_fn bdrv_co_create_file(const char *filename, QemuOpts *opts,
                                     Error **errp);

/* Wake AIO_WAIT_WHILE waiters after an in-flight request finished. */
void bdrv_wakeup(BlockDriverState *bs);

/* Poll bs's context until cond is false (synchronous wrappers). */
#define BDRV_POLL_WHILE(bs, cond) ({                      \
    BlockDriverState *bs_ = (bs);                         \
    AIO_WAIT_WHILE(bdrv_get_aio_context(bs_), cond);      \
})

/* Read-only state of a node for messages. */
const char *bdrv_get_parent_name(const BlockDriverState *bs);

/*
 * Register a driver when the program starts.  Driver objects are linked
 * whole (see meson.build), so nothing else has to name them.
 */
#define block_init(function)                                            \
    static void __attribute__((constructor)) block_init_##function(void) \
    {                                                                   \
        function();                                                     \
    }

/* Well-known drivers. */
extern BlockDriver bdrv_file;
extern BlockDriver bdrv_raw;

#endif
