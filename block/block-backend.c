/*
 * BlockBackend: the handle users (qemu-io, qemu-img, image creation) hold
 * on a node.  It is the node's parent through a "root" BdrvChild of class
 * child_root, requests the permissions its user needs, checks byte ranges,
 * counts its own requests and holds new ones back while the node is
 * drained.  block-core.md §2.13 describes the behaviour.
 */
#include "qemu/osdep.h"
#include "block/block-backend.h"
#include "block/block_int.h"
#include "block/coroutines.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

/* What a BlockBackend remembers of its node while it has none. */
typedef struct BlockBackendRootState {
    int open_flags;
    BlockdevDetectZeroesOptions detect_zeroes;
} BlockBackendRootState;

typedef struct BlkAioEmAIOCB BlkAioEmAIOCB;

struct BlockBackend {
    char *name;
    int refcnt;
    BdrvChild *root;
    AioContext *ctx;
    BlockBackendRootState root_state;

    /* Permissions for the root edge, also while there is no node. */
    uint64_t perm;
    uint64_t shared_perm;

    bool enable_write_cache;
    bool allow_write_beyond_eof;

    const BlockDevOps *dev_ops;
    void *dev_opaque;

    /* Drained sections of the node; requests wait in queued_requests. */
    int quiesce_counter;
    CoQueue queued_requests;
    bool disable_request_queuing;

    /* Requests of this BlockBackend, -ENOMEDIUM ones included (atomic). */
    unsigned int in_flight;

    /*
     * AIO requests that finished before their submitter returned; one BH
     * delivers their callbacks (no allocation per request).
     */
    QSIMPLEQ_HEAD(, BlkAioEmAIOCB) done_acbs;
    QEMUBH *done_bh;

    QTAILQ_ENTRY(BlockBackend) link;
};

static QTAILQ_HEAD(, BlockBackend) block_backends =
    QTAILQ_HEAD_INITIALIZER(block_backends);

static void blk_inc_in_flight(BlockBackend *blk)
{
    qatomic_inc(&blk->in_flight);
}

static void blk_dec_in_flight(BlockBackend *blk)
{
    qatomic_dec(&blk->in_flight);
    aio_wait_kick();
}

static void blk_aio_done_bh(void *opaque);

/* ------------------------------------------------------------------ */
/* The root edge (child_root)                                          */
/* ------------------------------------------------------------------ */

static char *blk_root_get_parent_desc(BdrvChild *child)
{
    BlockBackend *blk = child->opaque;

    if (blk->name) {
        return g_strdup_printf("block device '%s'", blk->name);
    }
    return g_strdup("an unnamed block device");
}

static const char *blk_root_get_name(BdrvChild *child)
{
    return blk_name(child->opaque);
}

static void blk_root_change_media(BdrvChild *child, bool load)
{
    BlockBackend *blk = child->opaque;

    if (blk->dev_ops && blk->dev_ops->change_media_cb) {
        blk->dev_ops->change_media_cb(blk->dev_opaque, load, NULL);
    }
}

static void blk_root_resize(BdrvChild *child)
{
    BlockBackend *blk = child->opaque;

    if (blk->dev_ops && blk->dev_ops->resize_cb) {
        blk->dev_ops->resize_cb(blk->dev_opaque);
    }
}

static void blk_root_drained_begin(BdrvChild *child)
{
    /* child, not blk->root: we may be attaching to a drained node. */
    BlockBackend *blk = child->opaque;

    if (++blk->quiesce_counter == 1 &&
        blk->dev_ops && blk->dev_ops->drained_begin) {
        blk->dev_ops->drained_begin(blk->dev_opaque);
    }
}

static bool blk_root_drained_poll(BdrvChild *child)
{
    BlockBackend *blk = child->opaque;
    bool busy = false;

    assert(blk->quiesce_counter);
    if (blk->dev_ops && blk->dev_ops->drained_poll) {
        busy = blk->dev_ops->drained_poll(blk->dev_opaque);
    }
    return busy || qatomic_read(&blk->in_flight) > 0;
}

static void blk_root_drained_end(BdrvChild *child, int *drained_end_counter)
{
    BlockBackend *blk = child->opaque;

    assert(blk->quiesce_counter);
    if (--blk->quiesce_counter == 0) {
        if (blk->dev_ops && blk->dev_ops->drained_end) {
            blk->dev_ops->drained_end(blk->dev_opaque);
        }
        /* Let the requests that arrived meanwhile go, in order. */
        while (qemu_co_enter_next(&blk->queued_requests, NULL)) {
            /* each one runs until it yields */
        }
    }
}

static AioContext *blk_root_get_parent_aio_context(BdrvChild *child)
{
    return blk_get_aio_context(child->opaque);
}

static const BdrvChildClass child_root = {
    .get_parent_desc        = blk_root_get_parent_desc,
    .get_name               = blk_root_get_name,
    .change_media           = blk_root_change_media,
    .resize                 = blk_root_resize,
    .drained_begin          = blk_root_drained_begin,
    .drained_poll           = blk_root_drained_poll,
    .drained_end            = blk_root_drained_end,
    .get_parent_aio_context = blk_root_get_parent_aio_context,
};

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

BlockBackend *blk_new(AioContext *ctx, uint64_t perm, uint64_t shared_perm)
{
    BlockBackend *blk = g_new0(BlockBackend, 1);

    blk->refcnt = 1;
    blk->ctx = ctx;
    blk->perm = perm;
    blk->shared_perm = shared_perm;
    blk->enable_write_cache = true;
    qemu_co_queue_init(&blk->queued_requests);
    QSIMPLEQ_INIT(&blk->done_acbs);
    blk->done_bh = aio_bh_new(ctx, blk_aio_done_bh, blk);
    QTAILQ_INSERT_TAIL(&block_backends, blk, link);
    return blk;
}

BlockBackend *blk_new_with_bs(BlockDriverState *bs, uint64_t perm,
                              uint64_t shared_perm, Error **errp)
{
    BlockBackend *blk = blk_new(bdrv_get_aio_context(bs), perm, shared_perm);

    if (blk_insert_bs(blk, bs, errp) < 0) {
        blk_unref(blk);
        return NULL;
    }
    return blk;
}

BlockBackend *blk_new_open(const char *filename, const char *reference,
                           QDict *options, int flags, Error **errp)
{
    uint64_t perm = 0;
    uint64_t shared = BLK_PERM_ALL;
    BlockDriverState *bs;
    BlockBackend *blk;

    /*
     * The users (tools, image creation) keep the node to themselves, so
     * the flags decide the permissions and everything is shared unless
     * BDRV_O_NO_SHARE says otherwise.
     */
    if (!(flags & BDRV_O_NO_IO)) {
        perm |= BLK_PERM_CONSISTENT_READ;
        if (flags & BDRV_O_RDWR) {
            perm |= BLK_PERM_WRITE;
        }
    }
    if (flags & BDRV_O_RESIZE) {
        perm |= BLK_PERM_RESIZE;
    }
    if (flags & BDRV_O_NO_SHARE) {
        shared = BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE_UNCHANGED;
    }

    blk = blk_new(qemu_get_aio_context(), perm, shared);
    bs = bdrv_open(filename, reference, options, flags, errp);
    if (!bs) {
        blk_unref(blk);
        return NULL;
    }

    /* The edge takes over the reference bdrv_open returned. */
    blk->root = bdrv_root_attach_child(bs, "root", &child_root,
                                       BDRV_CHILD_FILTERED |
                                       BDRV_CHILD_PRIMARY,
                                       perm, shared, blk, errp);
    if (!blk->root) {
        blk_unref(blk);
        return NULL;
    }
    return blk;
}

static void blk_delete(BlockBackend *blk)
{
    assert(!blk->refcnt);
    if (blk->root) {
        blk_remove_bs(blk);
    }
    assert(QSIMPLEQ_EMPTY(&blk->done_acbs));
    qemu_bh_delete(blk->done_bh);
    QTAILQ_REMOVE(&block_backends, blk, link);
    g_free(blk->name);
    g_free(blk);
}

void blk_ref(BlockBackend *blk)
{
    assert(blk->refcnt > 0);
    blk->refcnt++;
}

void blk_unref(BlockBackend *blk)
{
    if (!blk) {
        return;
    }
    assert(blk->refcnt > 0);
    if (blk->refcnt > 1) {
        blk->refcnt--;
        return;
    }
    /* Requests still running hold no reference, so wait for them. */
    blk_drain(blk);
    assert(blk->refcnt == 1);
    blk->refcnt = 0;
    blk_delete(blk);
}

void blk_remove_all_bs(void)
{
    BlockBackend *blk;

    QTAILQ_FOREACH(blk, &block_backends, link) {
        if (blk->root) {
            blk_remove_bs(blk);
        }
    }
}

const char *blk_name(const BlockBackend *blk)
{
    return blk->name ?: "";
}

BlockDriverState *blk_bs(BlockBackend *blk)
{
    return blk->root ? blk->root->bs : NULL;
}

BlockBackend *blk_next(BlockBackend *blk)
{
    return blk ? QTAILQ_NEXT(blk, link) : QTAILQ_FIRST(&block_backends);
}

int blk_insert_bs(BlockBackend *blk, BlockDriverState *bs, Error **errp)
{
    /* The edge steals this reference, also when attaching fails. */
    bdrv_ref(bs);
    blk->root = bdrv_root_attach_child(bs, "root", &child_root,
                                       BDRV_CHILD_FILTERED |
                                       BDRV_CHILD_PRIMARY,
                                       blk->perm, blk->shared_perm, blk,
                                       errp);
    return blk->root ? 0 : -EPERM;
}

void blk_remove_bs(BlockBackend *blk)
{
    BdrvChild *root;

    blk->root_state.open_flags = blk->root->bs->open_flags;
    blk->root_state.detect_zeroes = blk->root->bs->detect_zeroes;

    /*
     * Requests in flight would complete on a stale edge: wait for them
     * before the edge goes away.
     */
    blk_drain(blk);
    root = blk->root;
    blk->root = NULL;
    bdrv_root_unref_child(root);
}

/* ------------------------------------------------------------------ */
/* Settings and queries                                                */
/* ------------------------------------------------------------------ */

int blk_set_perm(BlockBackend *blk, uint64_t perm, uint64_t shared_perm,
                 Error **errp)
{
    if (blk->root) {
        int ret = bdrv_child_try_set_perm(blk->root, perm, shared_perm, errp);

        if (ret < 0) {
            return ret;
        }
    }
    blk->perm = perm;
    blk->shared_perm = shared_perm;
    return 0;
}

void blk_get_perm(BlockBackend *blk, uint64_t *perm, uint64_t *shared_perm)
{
    *perm = blk->perm;
    *shared_perm = blk->shared_perm;
}

void blk_set_allow_write_beyond_eof(BlockBackend *blk, bool allow)
{
    blk->allow_write_beyond_eof = allow;
}

void blk_set_enable_write_cache(BlockBackend *blk, bool wce)
{
    blk->enable_write_cache = wce;
}

bool blk_enable_write_cache(BlockBackend *blk)
{
    return blk->enable_write_cache;
}

void blk_set_disable_request_queuing(BlockBackend *blk, bool disable)
{
    blk->disable_request_queuing = disable;
}

void blk_set_dev_ops(BlockBackend *blk, const BlockDevOps *ops,
                     void *opaque)
{
    blk->dev_ops = ops;
    blk->dev_opaque = opaque;
}

bool blk_is_inserted(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs && bdrv_is_inserted(bs);
}

bool blk_is_available(BlockBackend *blk)
{
    return blk_is_inserted(blk);
}

bool blk_is_writable(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    if (bs) {
        return !bdrv_is_read_only(bs);
    }
    return blk->root_state.open_flags & BDRV_O_RDWR;
}

int64_t blk_getlength(BlockBackend *blk)
{
    if (!blk_is_available(blk)) {
        return -ENOMEDIUM;
    }
    return bdrv_getlength(blk_bs(blk));
}

int64_t blk_nb_sectors(BlockBackend *blk)
{
    if (!blk_is_available(blk)) {
        return -ENOMEDIUM;
    }
    return bdrv_nb_sectors(blk_bs(blk));
}

uint32_t blk_get_request_alignment(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs ? bs->bl.request_alignment : BDRV_SECTOR_SIZE;
}

uint32_t blk_get_max_transfer(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);
    uint32_t max = INT_MAX;

    if (bs) {
        max = MIN_NON_ZERO(max, bs->bl.max_transfer);
    }
    return ROUND_DOWN(max, blk_get_request_alignment(blk));
}

AioContext *blk_get_aio_context(BlockBackend *blk)
{
    return blk->ctx;
}

int blk_get_flags(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs ? bs->open_flags : blk->root_state.open_flags;
}

void *blk_blockalign(BlockBackend *blk, size_t size)
{
    return qemu_blockalign(blk ? blk_bs(blk) : NULL, size);
}

void blk_io_plug(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    if (bs) {
        bdrv_io_plug(bs);
    }
}

void blk_io_unplug(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    if (bs) {
        bdrv_io_unplug(bs);
    }
}

/* ------------------------------------------------------------------ */
/* Drain                                                               */
/* ------------------------------------------------------------------ */

void blk_drain(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    if (bs) {
        bdrv_ref(bs);
        bdrv_drained_begin(bs);
    }
    /* Requests without a node (-ENOMEDIUM) may still be completing. */
    AIO_WAIT_WHILE(blk_get_aio_context(blk),
                   qatomic_mb_read(&blk->in_flight) > 0);
    if (bs) {
        bdrv_drained_end(bs);
        bdrv_unref(bs);
    }
}

void blk_drain_all(void)
{
    BlockBackend *blk;

    bdrv_drain_all_begin();
    QTAILQ_FOREACH(blk, &block_backends, link) {
        AIO_WAIT_WHILE(blk_get_aio_context(blk),
                       qatomic_mb_read(&blk->in_flight) > 0);
    }
    bdrv_drain_all_end();
}

/* ------------------------------------------------------------------ */
/* Coroutine I/O                                                       */
/* ------------------------------------------------------------------ */

/*
 * A request arriving while the node is drained waits until the drain
 * ends, without counting as in flight (the drain waits for in-flight
 * requests, so counting it would never let the drain finish).
 */
static void coroutine_fn blk_wait_while_drained(BlockBackend *blk)
{
    assert(blk->in_flight > 0);
    if (blk->quiesce_counter && !blk->disable_request_queuing) {
        blk_dec_in_flight(blk);
        qemu_co_queue_wait(&blk->queued_requests, NULL);
        blk_inc_in_flight(blk);
    }
}

/*
 * -EIO for negative values or (unless allowed) a range beyond the end,
 * -ENOMEDIUM without a node.  The cached length answers most requests;
 * only a range beyond it asks the node (whose size may have changed).
 */
static int blk_check_byte_request(BlockBackend *blk, int64_t offset,
                                  int64_t bytes)
{
    BlockDriverState *bs;
    int64_t len;

    if (bytes < 0) {
        return -EIO;
    }
    if (!blk_is_available(blk)) {
        return -ENOMEDIUM;
    }
    if (offset < 0) {
        return -EIO;
    }
    if (blk->allow_write_beyond_eof) {
        return 0;
    }
    bs = blk_bs(blk);
    len = bs->total_sectors * BDRV_SECTOR_SIZE;
    if (likely(offset <= len && len - offset >= bytes)) {
        return 0;
    }
    len = bdrv_getlength(bs);
    if (len < 0) {
        return len;
    }
    if (offset > len || len - offset < bytes) {
        return -EIO;
    }
    return 0;
}

/* The request part, for callers that already count it in flight. */
static int coroutine_fn blk_co_do_preadv_part(BlockBackend *blk,
                                              int64_t offset, int64_t bytes,
                                              QEMUIOVector *qiov,
                                              size_t qiov_offset,
                                              BdrvRequestFlags flags)
{
    int ret;

    blk_wait_while_drained(blk);
    /* Only now look at the graph: it may have changed while we waited. */
    ret = blk_check_byte_request(blk, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    return bdrv_co_preadv_part(blk->root, offset, bytes, qiov, qiov_offset,
                               flags);
}

static int coroutine_fn blk_co_do_pwritev_part(BlockBackend *blk,
                                               int64_t offset, int64_t bytes,
                                               QEMUIOVector *qiov,
                                               size_t qiov_offset,
                                               BdrvRequestFlags flags)
{
    int ret;

    blk_wait_while_drained(blk);
    ret = blk_check_byte_request(blk, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    /* Without a write cache every write must be durable at once. */
    if (!blk->enable_write_cache) {
        flags |= BDRV_REQ_FUA;
    }
    return bdrv_co_pwritev_part(blk->root, offset, bytes, qiov, qiov_offset,
                                flags);
}

static int coroutine_fn blk_co_do_pdiscard(BlockBackend *blk, int64_t offset,
                                           int64_t bytes)
{
    int ret;

    blk_wait_while_drained(blk);
    ret = blk_check_byte_request(blk, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    return bdrv_co_pdiscard(blk->root, offset, bytes);
}

static int coroutine_fn blk_co_do_flush(BlockBackend *blk)
{
    blk_wait_while_drained(blk);
    if (!blk_is_available(blk)) {
        return -ENOMEDIUM;
    }
    return bdrv_co_flush(blk_bs(blk));
}

int coroutine_fn blk_co_preadv_part(BlockBackend *blk, int64_t offset,
                                    int64_t bytes, QEMUIOVector *qiov,
                                    size_t qiov_offset,
                                    BdrvRequestFlags flags)
{
    int ret;

    blk_inc_in_flight(blk);
    ret = blk_co_do_preadv_part(blk, offset, bytes, qiov, qiov_offset, flags);
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_preadv(BlockBackend *blk, int64_t offset,
                               int64_t bytes, QEMUIOVector *qiov,
                               BdrvRequestFlags flags)
{
    return blk_co_preadv_part(blk, offset, bytes, qiov, 0, flags);
}

int coroutine_fn blk_co_pwritev_part(BlockBackend *blk, int64_t offset,
                                     int64_t bytes, QEMUIOVector *qiov,
                                     size_t qiov_offset,
                                     BdrvRequestFlags flags)
{
    int ret;

    blk_inc_in_flight(blk);
    ret = blk_co_do_pwritev_part(blk, offset, bytes, qiov, qiov_offset,
                                 flags);
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_pwritev(BlockBackend *blk, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                BdrvRequestFlags flags)
{
    return blk_co_pwritev_part(blk, offset, bytes, qiov, 0, flags);
}

int coroutine_fn blk_co_pread(BlockBackend *blk, int64_t offset,
                              int64_t bytes, void *buf,
                              BdrvRequestFlags flags)
{
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, bytes);

    return blk_co_preadv_part(blk, offset, bytes, &qiov, 0, flags);
}

int coroutine_fn blk_co_pwrite(BlockBackend *blk, int64_t offset,
                               int64_t bytes, const void *buf,
                               BdrvRequestFlags flags)
{
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, bytes);

    return blk_co_pwritev_part(blk, offset, bytes, &qiov, 0, flags);
}

int coroutine_fn blk_co_pwrite_zeroes(BlockBackend *blk, int64_t offset,
                                      int64_t bytes, BdrvRequestFlags flags)
{
    return blk_co_pwritev_part(blk, offset, bytes, NULL, 0,
                               flags | BDRV_REQ_ZERO_WRITE);
}

static int coroutine_fn blk_co_pwrite_compressed(BlockBackend *blk,
                                                 int64_t offset,
                                                 int64_t bytes,
                                                 const void *buf)
{
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, bytes);

    return blk_co_pwritev_part(blk, offset, bytes, &qiov, 0,
                               BDRV_REQ_WRITE_COMPRESSED);
}

int coroutine_fn blk_co_pdiscard(BlockBackend *blk, int64_t offset,
                                 int64_t bytes)
{
    int ret;

    blk_inc_in_flight(blk);
    ret = blk_co_do_pdiscard(blk, offset, bytes);
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_flush(BlockBackend *blk)
{
    int ret;

    blk_inc_in_flight(blk);
    ret = blk_co_do_flush(blk);
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_truncate(BlockBackend *blk, int64_t offset,
                                 bool exact, PreallocMode prealloc,
                                 BdrvRequestFlags flags, Error **errp)
{
    if (!blk_is_available(blk)) {
        error_setg(errp, "No medium inserted");
        return -ENOMEDIUM;
    }
    return bdrv_co_truncate(blk->root, offset, exact, prealloc, flags, errp);
}

int blk_save_vmstate(BlockBackend *blk, const uint8_t *buf, int64_t pos,
                     int size)
{
    int ret;

    if (!blk_is_available(blk)) {
        return -ENOMEDIUM;
    }
    ret = bdrv_save_vmstate(blk_bs(blk), buf, pos, size);
    if (ret < 0) {
        return ret;
    }
    if (ret == size && !blk->enable_write_cache) {
        ret = bdrv_flush(blk_bs(blk));
    }
    return ret < 0 ? ret : size;
}

int blk_load_vmstate(BlockBackend *blk, uint8_t *buf, int64_t pos, int size)
{
    if (!blk_is_available(blk)) {
        return -ENOMEDIUM;
    }
    return bdrv_load_vmstate(blk_bs(blk), buf, pos, size);
}

/* ------------------------------------------------------------------ */
/* Asynchronous requests                                               */
/* ------------------------------------------------------------------ */

struct BlkAioEmAIOCB {
    BlockAIOCB common;
    BlockBackend *blk;
    int64_t offset;
    int64_t bytes;
    QEMUIOVector *qiov;
    BdrvRequestFlags flags;
    int ret;
    /* The submitting call returned: the callback may run now. */
    bool has_returned;
    /* The coroutine finished (ret is valid). */
    bool done;
    QSIMPLEQ_ENTRY(BlkAioEmAIOCB) next_done;
};

static AioContext *blk_aio_em_get_aio_context(BlockAIOCB *acb)
{
    return blk_get_aio_context(container_of(acb, BlkAioEmAIOCB,
                                            common)->blk);
}

static const AIOCBInfo blk_aio_em_aiocb_info = {
    .aiocb_size         = sizeof(BlkAioEmAIOCB),
    .get_aio_context    = blk_aio_em_get_aio_context,
};

/* Callback first, then the request stops counting, then the ACB goes. */
static void blk_aio_deliver(BlkAioEmAIOCB *acb)
{
    BlockBackend *blk = acb->blk;

    acb->common.cb(acb->common.opaque, acb->ret);
    blk_dec_in_flight(blk);
    qemu_aio_unref(acb);
}

static void blk_aio_done_bh(void *opaque)
{
    BlockBackend *blk = opaque;
    QSIMPLEQ_HEAD(, BlkAioEmAIOCB) batch = QSIMPLEQ_HEAD_INITIALIZER(batch);
    BlkAioEmAIOCB *acb;

    /*
     * Deliver what is queued now; completions queued by these callbacks
     * wait for the next round of the event loop, as separate BHs would.
     */
    QSIMPLEQ_CONCAT(&batch, &blk->done_acbs);
    while ((acb = QSIMPLEQ_FIRST(&batch))) {
        QSIMPLEQ_REMOVE_HEAD(&batch, next_done);
        blk_aio_deliver(acb);
    }
}

/* The coroutine of an AIO request finished with ret. */
static void blk_aio_complete(BlkAioEmAIOCB *acb, int ret)
{
    acb->ret = ret;
    acb->done = true;
    /* Still inside the submitting call: blk_aio_prwv defers the callback */
    if (acb->has_returned) {
        blk_aio_deliver(acb);
    }
}

static void coroutine_fn blk_aio_read_entry(void *opaque)
{
    BlkAioEmAIOCB *acb = opaque;

    blk_aio_complete(acb, blk_co_do_preadv_part(acb->blk, acb->offset,
                                                acb->bytes, acb->qiov, 0,
                                                acb->flags));
}

static void coroutine_fn blk_aio_write_entry(void *opaque)
{
    BlkAioEmAIOCB *acb = opaque;

    blk_aio_complete(acb, blk_co_do_pwritev_part(acb->blk, acb->offset,
                                                 acb->bytes, acb->qiov, 0,
                                                 acb->flags));
}

static void coroutine_fn blk_aio_pdiscard_entry(void *opaque)
{
    BlkAioEmAIOCB *acb = opaque;

    blk_aio_complete(acb, blk_co_do_pdiscard(acb->blk, acb->offset,
                                             acb->bytes));
}

static void coroutine_fn blk_aio_flush_entry(void *opaque)
{
    BlkAioEmAIOCB *acb = opaque;

    blk_aio_complete(acb, blk_co_do_flush(acb->blk));
}

/*
 * Start entry in a coroutine in the BlockBackend's context.  If it is
 * done before we return, the callback is delivered from a BH instead, so
 * that callers never see their callback before they got the ACB.
 */
static BlockAIOCB *blk_aio_prwv(BlockBackend *blk, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                CoroutineEntry *entry, BdrvRequestFlags flags,
                                BlockCompletionFunc *cb, void *opaque)
{
    BlkAioEmAIOCB *acb;

    blk_inc_in_flight(blk);
    acb = qemu_aio_get(&blk_aio_em_aiocb_info, blk_bs(blk), cb, opaque);
    acb->blk = blk;
    acb->offset = offset;
    acb->bytes = bytes;
    acb->qiov = qiov;
    acb->flags = flags;
    acb->ret = 0;
    acb->has_returned = false;
    acb->done = false;

    aio_co_enter(blk_get_aio_context(blk), qemu_coroutine_create(entry, acb));

    acb->has_returned = true;
    if (acb->done) {
        if (QSIMPLEQ_EMPTY(&blk->done_acbs)) {
            qemu_bh_schedule(blk->done_bh);
        }
        QSIMPLEQ_INSERT_TAIL(&blk->done_acbs, acb, next_done);
    }
    return &acb->common;
}

BlockAIOCB *blk_aio_preadv(BlockBackend *blk, int64_t offset,
                           QEMUIOVector *qiov, BdrvRequestFlags flags,
                           BlockCompletionFunc *cb, void *opaque)
{
    return blk_aio_prwv(blk, offset, qiov->size, qiov, blk_aio_read_entry,
                        flags, cb, opaque);
}

BlockAIOCB *blk_aio_pwritev(BlockBackend *blk, int64_t offset,
                            QEMUIOVector *qiov, BdrvRequestFlags flags,
                            BlockCompletionFunc *cb, void *opaque)
{
    return blk_aio_prwv(blk, offset, qiov->size, qiov, blk_aio_write_entry,
                        flags, cb, opaque);
}

BlockAIOCB *blk_aio_pwrite_zeroes(BlockBackend *blk, int64_t offset,
                                  int64_t bytes, BdrvRequestFlags flags,
                                  BlockCompletionFunc *cb, void *opaque)
{
    return blk_aio_prwv(blk, offset, bytes, NULL, blk_aio_write_entry,
                        flags | BDRV_REQ_ZERO_WRITE, cb, opaque);
}

BlockAIOCB *blk_aio_pdiscard(BlockBackend *blk, int64_t offset,
                             int64_t bytes, BlockCompletionFunc *cb,
                             void *opaque)
{
    return blk_aio_prwv(blk, offset, bytes, NULL, blk_aio_pdiscard_entry, 0,
                        cb, opaque);
}

BlockAIOCB *blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb,
                          void *opaque)
{
    return blk_aio_prwv(blk, 0, 0, NULL, blk_aio_flush_entry, 0, cb, opaque);
}

void blk_aio_cancel(BlockAIOCB *acb)
{
    bdrv_aio_cancel(acb);
}

void blk_aio_cancel_async(BlockAIOCB *acb)
{
    bdrv_aio_cancel_async(acb);
}

/* ------------------------------------------------------------------ */
/* Synchronous wrappers (block-core.md §3.6)                           */
/* ------------------------------------------------------------------ */

#define BLK_CTX(blk) blk_get_aio_context(blk)

CO_WRAPPER(blk_pread, blk_co_pread, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (int64_t, bytes),
           (void *, buf), (BdrvRequestFlags, flags))
CO_WRAPPER(blk_pwrite, blk_co_pwrite, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (int64_t, bytes),
           (const void *, buf), (BdrvRequestFlags, flags))
CO_WRAPPER(blk_preadv, blk_co_preadv, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (int64_t, bytes),
           (QEMUIOVector *, qiov), (BdrvRequestFlags, flags))
CO_WRAPPER(blk_pwritev, blk_co_pwritev, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (int64_t, bytes),
           (QEMUIOVector *, qiov), (BdrvRequestFlags, flags))
CO_WRAPPER(blk_pwritev_part, blk_co_pwritev_part, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (int64_t, bytes),
           (QEMUIOVector *, qiov), (size_t, qiov_offset),
           (BdrvRequestFlags, flags))
CO_WRAPPER(blk_pwrite_zeroes, blk_co_pwrite_zeroes, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (int64_t, bytes),
           (BdrvRequestFlags, flags))
CO_WRAPPER(blk_pwrite_compressed, blk_co_pwrite_compressed, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (int64_t, bytes),
           (const void *, buf))
CO_WRAPPER(blk_pdiscard, blk_co_pdiscard, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (int64_t, bytes))
CO_WRAPPER(blk_flush, blk_co_flush, BLK_CTX(blk),
           (BlockBackend *, blk))
CO_WRAPPER(blk_truncate, blk_co_truncate, BLK_CTX(blk),
           (BlockBackend *, blk), (int64_t, offset), (bool, exact),
           (PreallocMode, prealloc), (BdrvRequestFlags, flags),
           (Error **, errp))
