/*
 * The request path of the block layer: validation, alignment padding and
 * read-modify-write, splitting, request tracking and serialisation, write
 * zeroes, discard, flush, truncate, copy-on-read, block status, in-flight
 * accounting and drain.  block-core.md §2 describes the behaviour kept from
 * QEMU 7.2; docs/internals.rst, "The request path", explains how this file
 * implements it.
 *
 * Threading: every request on a node runs in the node's AioContext, one
 * thread, cooperatively.  Updates of the tracked-request list and the flush
 * state never yield, so they cannot interleave and need no lock; only the
 * in-flight counters are atomic, because drain may poll them from the main
 * thread.
 */
#include "qemu/osdep.h"
#include "block/block_int.h"
#include "block/coroutines.h"
#include "block/write-threshold.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

/* Largest bounce buffer for copy-on-read and the write-zeroes fallback. */
#define MAX_BOUNCE_BUFFER (16 * 1024 * 1024)

/* Read flags the core understands; drivers only see supported ones. */
#define BDRV_REQ_READ_MASK \
    (BDRV_REQ_COPY_ON_READ | BDRV_REQ_PREFETCH | BDRV_REQ_REGISTERED_BUF)

static int coroutine_fn do_pwrite_zeroes(BlockDriverState *bs,
                                         int64_t offset, int64_t bytes,
                                         BdrvRequestFlags flags);

/* ------------------------------------------------------------------ */
/* In-flight accounting                                                */
/* ------------------------------------------------------------------ */

void bdrv_inc_in_flight(BlockDriverState *bs)
{
    qatomic_inc(&bs->in_flight);
}

void bdrv_wakeup(BlockDriverState *bs)
{
    aio_wait_kick();
}

void bdrv_dec_in_flight(BlockDriverState *bs)
{
    qatomic_dec(&bs->in_flight);
    bdrv_wakeup(bs);
}

/* Raise a blkdebug event on bs itself (only blkdebug implements it). */
static inline void debug_event(BlockDriverState *bs, BlkdebugEvent event)
{
    if (unlikely(bs->drv && bs->drv->bdrv_debug_event)) {
        bs->drv->bdrv_debug_event(bs, event);
    }
}

/* ------------------------------------------------------------------ */
/* Request validation (block-core.md §2.1)                             */
/* ------------------------------------------------------------------ */

/*
 * Range check shared by every request type: -EIO for negative values,
 * anything beyond BDRV_MAX_LENGTH, or a vector slice shorter than bytes.
 */
static int check_request(int64_t offset, int64_t bytes,
                         QEMUIOVector *qiov, size_t qiov_offset)
{
    if (offset < 0 || bytes < 0 ||
        bytes > BDRV_MAX_LENGTH || offset > BDRV_MAX_LENGTH - bytes) {
        return -EIO;
    }
    if (qiov && (qiov_offset > qiov->size ||
                 bytes > qiov->size - qiov_offset)) {
        return -EIO;
    }
    return 0;
}

/* Reads and writes that move data are also capped at ~2 GiB. */
static int check_rw_request(int64_t offset, int64_t bytes,
                            QEMUIOVector *qiov, size_t qiov_offset)
{
    int ret = check_request(offset, bytes, qiov, qiov_offset);

    if (ret == 0 && bytes > BDRV_REQUEST_MAX_BYTES) {
        ret = -EIO;
    }
    return ret;
}

/* Byte length from the cached sector count (no driver call). */
static inline int64_t cached_length(BlockDriverState *bs)
{
    return bs->total_sectors * BDRV_SECTOR_SIZE;
}

/*
 * The length to use for a request ending at end: the cached one, unless
 * the request reaches beyond it and the driver's length may have changed
 * behind our back (has_variable_length), which is the only case worth a
 * driver query.
 */
static int64_t length_for_request(BlockDriverState *bs, int64_t end)
{
    int64_t len = cached_length(bs);

    if (end > len && bs->drv && bs->drv->has_variable_length) {
        len = bdrv_getlength(bs);
    }
    return len;
}

/* ------------------------------------------------------------------ */
/* Tracked requests and serialisation (block-core.md §2.4)             */
/* ------------------------------------------------------------------ */

static void tracked_request_begin(BdrvTrackedRequest *req,
                                  BlockDriverState *bs, int64_t offset,
                                  int64_t bytes,
                                  enum BdrvTrackedRequestType type)
{
    *req = (BdrvTrackedRequest) {
        .bs = bs,
        .offset = offset,
        .bytes = bytes,
        .type = type,
        .co = qemu_coroutine_self(),
        .overlap_offset = offset,
        .overlap_bytes = bytes,
    };
    qemu_co_queue_init(&req->wait_queue);
    QLIST_INSERT_HEAD(&bs->tracked_requests, req, list);
}

static void coroutine_fn tracked_request_end(BdrvTrackedRequest *req)
{
    if (req->serialising) {
        qatomic_dec(&req->bs->serialising_in_flight);
    }
    QLIST_REMOVE(req, list);
    if (!qemu_co_queue_empty(&req->wait_queue)) {
        qemu_co_queue_restart_all(&req->wait_queue);
    }
}

static bool ranges_intersect(int64_t off1, int64_t len1,
                             int64_t off2, int64_t len2)
{
    return off1 < off2 + len2 && off2 < off1 + len1;
}

/*
 * A request that self must wait for: one whose overlap window intersects
 * self's, where at least one of the two serialises.  Requests that are
 * themselves waiting are passed over: they either wait (indirectly) for us
 * already or will find us when they wake up, and waiting for them could
 * deadlock.
 */
static BdrvTrackedRequest *find_conflict(BdrvTrackedRequest *self)
{
    BdrvTrackedRequest *req;

    QLIST_FOREACH(req, &self->bs->tracked_requests, list) {
        if (req == self || (!req->serialising && !self->serialising)) {
            continue;
        }
        if (!ranges_intersect(req->overlap_offset, req->overlap_bytes,
                              self->overlap_offset, self->overlap_bytes)) {
            continue;
        }
        /* Waiting for a request of our own coroutine never ends. */
        assert(req->co != self->co);
        if (!req->waiting_for) {
            return req;
        }
    }
    return NULL;
}

/* Wait until no conflicting request is left; returns whether it waited. */
static bool coroutine_fn wait_for_conflicts(BdrvTrackedRequest *self)
{
    BdrvTrackedRequest *req;
    bool waited = false;

    while ((req = find_conflict(self))) {
        self->waiting_for = req;
        qemu_co_queue_wait(&req->wait_queue, NULL);
        self->waiting_for = NULL;
        waited = true;
    }
    return waited;
}

/* Non-serialising requests only look when somebody serialises. */
static inline bool coroutine_fn wait_serialising_requests(
    BdrvTrackedRequest *self)
{
    if (likely(!qatomic_read(&self->bs->serialising_in_flight))) {
        return false;
    }
    return wait_for_conflicts(self);
}

/* Widen req's overlap window to align boundaries and mark it serialising. */
static void set_serialising(BdrvTrackedRequest *req, uint64_t align)
{
    int64_t start = QEMU_ALIGN_DOWN(req->offset, align);
    int64_t end = QEMU_ALIGN_UP(req->offset + req->bytes, align);

    if (!req->serialising) {
        qatomic_inc(&req->bs->serialising_in_flight);
        req->serialising = true;
    }
    /* Never shrink a window a previous call widened. */
    end = MAX(end, req->overlap_offset + req->overlap_bytes);
    req->overlap_offset = MIN(req->overlap_offset, start);
    req->overlap_bytes = end - req->overlap_offset;
}

bool coroutine_fn bdrv_make_request_serialising(BdrvTrackedRequest *req,
                                                uint64_t align)
{
    set_serialising(req, align);
    return wait_for_conflicts(req);
}

BdrvTrackedRequest *coroutine_fn bdrv_co_get_self_request(BlockDriverState *bs)
{
    Coroutine *self = qemu_coroutine_self();
    BdrvTrackedRequest *req;

    QLIST_FOREACH(req, &bs->tracked_requests, list) {
        if (req->co == self) {
            return req;
        }
    }
    return NULL;
}

/* The granularity of allocation: cluster size, else request_alignment. */
static int64_t cluster_size(BlockDriverState *bs)
{
    BlockDriverInfo bdi;

    if (bdrv_get_info(bs, &bdi) < 0 || bdi.cluster_size <= 0) {
        return bs->bl.request_alignment;
    }
    return bdi.cluster_size;
}

/* ------------------------------------------------------------------ */
/* Driver dispatch (block-core.md §2.2, §2.3, §5)                      */
/* ------------------------------------------------------------------ */

typedef struct AioCompletion {
    Coroutine *co;
    int ret;
} AioCompletion;

static void aio_completion_cb(void *opaque, int ret)
{
    AioCompletion *c = opaque;

    c->ret = ret;
    aio_co_wake(c->co);
}

/*
 * One request down the driver's callback ladder: the _part callback, else
 * the whole-vector coroutine one, else the aio one (waiting for its
 * completion).  A filter with none of them passes the request to its
 * child.  Reads and writes share the ladder; is_write picks the rung.
 */
static int coroutine_fn driver_rw(BlockDriverState *bs, bool is_write,
                                  int64_t offset, int64_t bytes,
                                  QEMUIOVector *qiov, size_t qiov_offset,
                                  int flags)
{
    BlockDriver *drv = bs->drv;
    typeof(drv->bdrv_co_preadv_part) co_part =
        is_write ? drv->bdrv_co_pwritev_part : drv->bdrv_co_preadv_part;
    typeof(drv->bdrv_co_preadv) co_whole =
        is_write ? drv->bdrv_co_pwritev : drv->bdrv_co_preadv;
    typeof(drv->bdrv_aio_preadv) aio =
        is_write ? drv->bdrv_aio_pwritev : drv->bdrv_aio_preadv;
    QEMUIOVector slice;
    int ret;

    if (co_part) {
        return co_part(bs, offset, bytes, qiov, qiov_offset, flags);
    }
    if (!co_whole && !aio) {
        BdrvChild *filtered = drv->is_filter ? bdrv_filter_child(bs) : NULL;

        if (!filtered) {
            return -ENOTSUP;
        }
        return is_write ?
            bdrv_co_pwritev_part(filtered, offset, bytes, qiov, qiov_offset,
                                 flags) :
            bdrv_co_preadv_part(filtered, offset, bytes, qiov, qiov_offset,
                                flags);
    }

    /* The older callbacks take a vector of exactly bytes. */
    if (qiov_offset || bytes != qiov->size) {
        qemu_iovec_init_slice(&slice, qiov, qiov_offset, bytes);
        qiov = &slice;
    }
    if (co_whole) {
        ret = co_whole(bs, offset, bytes, qiov, flags);
    } else {
        AioCompletion c = { .co = qemu_coroutine_self() };

        if (!aio(bs, offset, bytes, qiov, flags, aio_completion_cb, &c)) {
            ret = -EIO;
        } else {
            qemu_coroutine_yield();
            ret = c.ret;
        }
    }
    if (qiov == &slice) {
        qemu_iovec_destroy(&slice);
    }
    return ret;
}

static int coroutine_fn driver_preadv(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      size_t qiov_offset, int flags)
{
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    return driver_rw(bs, false, offset, bytes, qiov, qiov_offset,
                     flags & bs->supported_read_flags);
}

/*
 * FUA emulated by a flush.  The write only counts in write_gen when it
 * finishes, after this flush, so the flush could take the node for clean
 * and skip the disk, losing the FUA (QEMU 7.2 does on a node not written
 * before).  Count it now; at worst one later flush is redundant.
 */
static int coroutine_fn flush_for_fua(BlockDriverState *bs)
{
    qatomic_inc(&bs->write_gen);
    return bdrv_co_flush(bs);
}

static int coroutine_fn driver_pwritev(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       size_t qiov_offset, int flags)
{
    bool flush_after;
    int ret;

    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    /* FUA the driver can't do is a flush after the write. */
    flush_after = (flags & BDRV_REQ_FUA) &&
                  !(bs->supported_write_flags & BDRV_REQ_FUA);
    ret = driver_rw(bs, true, offset, bytes, qiov, qiov_offset,
                    flags & bs->supported_write_flags);
    if (ret == 0 && flush_after) {
        ret = flush_for_fua(bs);
    }
    return ret;
}

static int coroutine_fn driver_pwritev_compressed(BlockDriverState *bs,
                                                  int64_t offset,
                                                  int64_t bytes,
                                                  QEMUIOVector *qiov,
                                                  size_t qiov_offset)
{
    BlockDriver *drv = bs->drv;
    QEMUIOVector slice;
    int ret;

    if (!drv) {
        return -ENOMEDIUM;
    }
    if (drv->bdrv_co_pwritev_compressed_part) {
        return drv->bdrv_co_pwritev_compressed_part(bs, offset, bytes, qiov,
                                                    qiov_offset);
    }
    if (!drv->bdrv_co_pwritev_compressed) {
        return -ENOTSUP;
    }
    if (qiov_offset == 0 && bytes == qiov->size) {
        return drv->bdrv_co_pwritev_compressed(bs, offset, bytes, qiov);
    }
    qemu_iovec_init_slice(&slice, qiov, qiov_offset, bytes);
    ret = drv->bdrv_co_pwritev_compressed(bs, offset, bytes, &slice);
    qemu_iovec_destroy(&slice);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Alignment padding (block-core.md §2.2 step 3, §2.3)                 */
/* ------------------------------------------------------------------ */

/*
 * An unaligned request grows to request_alignment boundaries.  The extra
 * head and tail bytes live in one bounce buffer: one block, or two when
 * head and tail fall into different blocks.  merge_reads means the padded
 * request fits the buffer exactly, so one read fetches head and tail.
 */
typedef struct RequestPadding {
    uint8_t *buf;
    size_t buf_len;
    uint8_t *tail_buf;      /* the block holding the tail */
    size_t head;            /* bytes added in front */
    size_t tail;            /* bytes added at the end */
    bool merge_reads;
    QEMUIOVector local_qiov;
} RequestPadding;

/* Compute the padding of [offset, offset + bytes); false if none needed. */
static bool padding_init(BlockDriverState *bs, int64_t offset, int64_t bytes,
                         RequestPadding *pad)
{
    int64_t align = bs->bl.request_alignment;
    int64_t end_rem = (offset + bytes) & (align - 1);
    int64_t padded;

    pad->head = offset & (align - 1);
    pad->tail = end_rem ? align - end_rem : 0;
    if (likely(!pad->head && !pad->tail)) {
        return false;
    }

    padded = pad->head + bytes + pad->tail;
    pad->buf_len = (pad->head && pad->tail && padded > align) ? 2 * align
                                                              : align;
    pad->buf = qemu_blockalign(bs, pad->buf_len);
    pad->merge_reads = padded == pad->buf_len;
    pad->tail_buf = pad->tail ? pad->buf + pad->buf_len - align : NULL;
    return true;
}

static void padding_destroy(RequestPadding *pad)
{
    if (pad->buf) {
        qemu_vfree(pad->buf);
        qemu_iovec_destroy(&pad->local_qiov);
        pad->buf = NULL;
    }
}

/*
 * Pad a read or write: on return *offset and *bytes are aligned and *qiov is
 * [head of bounce buffer][caller's slice][tail of bounce buffer].  Sets
 * *padded; the caller must padding_destroy() when it did.
 */
static int pad_request(BlockDriverState *bs, QEMUIOVector **qiov,
                       size_t *qiov_offset, int64_t *offset, int64_t *bytes,
                       RequestPadding *pad, bool *padded,
                       BdrvRequestFlags *flags)
{
    int ret;

    pad->buf = NULL;
    *padded = padding_init(bs, *offset, *bytes, pad);
    if (likely(!*padded)) {
        return 0;
    }

    if (!*qiov) {
        /* A prefetch fills nothing: just widen the range. */
        qemu_iovec_init_buf(&pad->local_qiov, NULL, 0);
    } else {
        ret = qemu_iovec_init_extended(&pad->local_qiov, pad->buf, pad->head,
                                       *qiov, *qiov_offset, *bytes,
                                       pad->buf + pad->buf_len - pad->tail,
                                       pad->tail);
        if (ret < 0) {
            qemu_vfree(pad->buf);
            pad->buf = NULL;
            *padded = false;
            return ret;
        }
        *qiov = &pad->local_qiov;
        *qiov_offset = 0;
    }
    *offset -= pad->head;
    *bytes += pad->head + pad->tail;
    /* The bounce buffer is not the caller's registered memory. */
    *flags &= ~BDRV_REQ_REGISTERED_BUF;
    return 0;
}

static int coroutine_fn aligned_preadv(BdrvChild *child,
                                       BdrvTrackedRequest *req,
                                       int64_t offset, int64_t bytes,
                                       int64_t align, QEMUIOVector *qiov,
                                       size_t qiov_offset, int flags);

/*
 * The read half of a padded write: fetch the head and tail blocks into
 * the bounce buffer (one read when merge_reads).  req must serialise over
 * the padded range, which is req's overlap window.  With zero_middle the
 * part between head and tail is zeroed (unaligned write zeroes).
 */
static int coroutine_fn rmw_read_padding(BdrvChild *child,
                                         BdrvTrackedRequest *req,
                                         RequestPadding *pad,
                                         bool zero_middle)
{
    BlockDriverState *bs = child->bs;
    int64_t align = bs->bl.request_alignment;
    QEMUIOVector local_qiov;
    int ret;

    assert(req->serialising && pad->buf);

    if (pad->head || pad->merge_reads) {
        int64_t len = pad->merge_reads ? pad->buf_len : align;
        bool tail_too = pad->merge_reads && pad->tail;

        qemu_iovec_init_buf(&local_qiov, pad->buf, len);
        if (pad->head) {
            debug_event(bs, BLKDBG_PWRITEV_RMW_HEAD);
        }
        if (tail_too) {
            debug_event(bs, BLKDBG_PWRITEV_RMW_TAIL);
        }
        ret = aligned_preadv(child, req, req->overlap_offset, len, align,
                             &local_qiov, 0, 0);
        if (ret < 0) {
            return ret;
        }
        if (pad->head) {
            debug_event(bs, BLKDBG_PWRITEV_RMW_AFTER_HEAD);
        }
        if (tail_too) {
            debug_event(bs, BLKDBG_PWRITEV_RMW_AFTER_TAIL);
        }
    }

    if (pad->tail && !pad->merge_reads) {
        qemu_iovec_init_buf(&local_qiov, pad->tail_buf, align);
        debug_event(bs, BLKDBG_PWRITEV_RMW_TAIL);
        ret = aligned_preadv(child, req,
                             req->overlap_offset + req->overlap_bytes - align,
                             align, align, &local_qiov, 0, 0);
        if (ret < 0) {
            return ret;
        }
        debug_event(bs, BLKDBG_PWRITEV_RMW_AFTER_TAIL);
    }

    if (zero_middle) {
        memset(pad->buf + pad->head, 0, pad->buf_len - pad->head - pad->tail);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reads (block-core.md §2.2, §2.10)                                   */
/* ------------------------------------------------------------------ */

static void round_to_clusters(BlockDriverState *bs, int64_t offset,
                              int64_t bytes, int64_t *cluster_offset,
                              int64_t *cluster_bytes)
{
    int64_t c = cluster_size(bs);

    *cluster_offset = QEMU_ALIGN_DOWN(offset, c);
    *cluster_bytes = QEMU_ALIGN_UP(offset - *cluster_offset + bytes, c);
}

/*
 * Copy-on-read: read [offset, offset + bytes) and write what is not
 * allocated in bs (so it came from the backing chain) into bs.  Works on
 * whole clusters so the written data needs no further backing reads; the
 * caller's buffer is never written to disk (guests may scribble on it), a
 * bounce buffer is.
 */
static int coroutine_fn copy_on_readv(BdrvChild *child, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      size_t qiov_offset, int flags)
{
    BlockDriverState *bs = child->bs;
    int64_t max_transfer = MIN_NON_ZERO(bs->bl.max_transfer,
                                        BDRV_REQUEST_MAX_BYTES);
    bool fill_qiov = !(flags & BDRV_REQ_PREFETCH);
    /* Inactive images must not be written; reading through is enough. */
    bool no_write = bs->open_flags & BDRV_O_INACTIVE;
    g_autoptr(void) bounce = NULL;
    int64_t bounce_len = 0;
    int64_t cl_offset, cl_bytes, skip, done = 0;
    int ret;

    if (!bs->drv) {
        return -ENOMEDIUM;
    }

    round_to_clusters(bs, offset, bytes, &cl_offset, &cl_bytes);
    skip = offset - cl_offset;  /* bytes of the first piece not wanted */

    while (cl_bytes) {
        int64_t pnum;
        int64_t want;

        if (no_write) {
            ret = 1;
            pnum = MIN(cl_bytes, max_transfer);
        } else {
            ret = bdrv_co_is_allocated(bs, cl_offset,
                                       MIN(cl_bytes, max_transfer), &pnum);
            if (ret < 0) {
                /* Treat as unallocated: the read will report a real error */
                pnum = MIN(cl_bytes, max_transfer);
            }
            if (ret == 0 && pnum == 0) {
                /* The image ends inside the last cluster. */
                assert(done >= bytes);
                break;
            }
            assert(skip < pnum);
        }

        if (ret > 0) {
            /* Already here: read straight into the caller's vector. */
            want = MIN(pnum - skip, bytes - done);
            if (fill_qiov) {
                ret = driver_preadv(bs, offset + done, want, qiov,
                                    qiov_offset + done, 0);
                if (ret < 0) {
                    return ret;
                }
            }
        } else {
            QEMUIOVector local_qiov;

            pnum = MIN(pnum, MAX_BOUNCE_BUFFER);
            if (!bounce) {
                /* Big enough for this piece and, usually, all later ones */
                bounce_len = MIN(MAX(pnum, cl_bytes - pnum),
                                 MIN(max_transfer, MAX_BOUNCE_BUFFER));
                bounce = qemu_try_blockalign(bs, bounce_len);
                if (!bounce) {
                    return -ENOMEM;
                }
            }
            assert(pnum <= bounce_len);
            qemu_iovec_init_buf(&local_qiov, bounce, pnum);

            ret = driver_preadv(bs, cl_offset, pnum, &local_qiov, 0, 0);
            if (ret < 0) {
                return ret;
            }

            debug_event(bs, BLKDBG_COR_WRITE);
            /* The data doesn't change, so no write-through flush either. */
            if (bs->drv->bdrv_co_pwrite_zeroes &&
                buffer_is_zero(bounce, pnum)) {
                ret = do_pwrite_zeroes(bs, cl_offset, pnum,
                                       BDRV_REQ_WRITE_UNCHANGED);
            } else {
                ret = driver_pwritev(bs, cl_offset, pnum, &local_qiov, 0,
                                     BDRV_REQ_WRITE_UNCHANGED);
            }
            if (ret < 0) {
                return ret;
            }

            if (fill_qiov) {
                qemu_iovec_from_buf(qiov, qiov_offset + done,
                                    (uint8_t *)bounce + skip,
                                    MIN(pnum - skip, bytes - done));
            }
        }

        cl_offset += pnum;
        cl_bytes -= pnum;
        done += pnum - skip;
        skip = 0;
    }
    return 0;
}

/*
 * Read an aligned range: copy-on-read, then the driver in max_transfer
 * pieces, with whatever lies beyond the end of the image read as zeroes.
 */
static int coroutine_fn aligned_preadv(BdrvChild *child,
                                       BdrvTrackedRequest *req,
                                       int64_t offset, int64_t bytes,
                                       int64_t align, QEMUIOVector *qiov,
                                       size_t qiov_offset, int flags)
{
    BlockDriverState *bs = child->bs;
    int64_t max_transfer, len, readable, done;
    int ret;

    assert(QEMU_IS_ALIGNED(offset, align) && QEMU_IS_ALIGNED(bytes, align));

    if (flags & BDRV_REQ_COPY_ON_READ) {
        /*
         * Serialise on whole clusters: the copy's read and write must not
         * interleave with writes that allocate the same cluster.
         */
        bdrv_make_request_serialising(req, cluster_size(bs));
        flags &= ~BDRV_REQ_COPY_ON_READ;

        if (!(bs->open_flags & BDRV_O_INACTIVE)) {
            int64_t pnum;

            ret = bdrv_co_is_allocated(bs, offset, bytes, &pnum);
            if (ret < 0) {
                return ret;
            }
            if (!ret || pnum != bytes) {
                return copy_on_readv(child, offset, bytes, qiov, qiov_offset,
                                     flags);
            }
        }
        if (flags & BDRV_REQ_PREFETCH) {
            return 0;
        }
    } else {
        wait_serialising_requests(req);
    }
    flags &= ~BDRV_REQ_PREFETCH;

    len = length_for_request(bs, offset + bytes);
    if (len < 0) {
        return len;
    }
    max_transfer = QEMU_ALIGN_DOWN(MIN_NON_ZERO(bs->bl.max_transfer, INT_MAX),
                                   align);
    readable = QEMU_ALIGN_UP(MAX(0, len - offset), align);

    if (likely(bytes <= readable && bytes <= max_transfer)) {
        ret = driver_preadv(bs, offset, bytes, qiov, qiov_offset, flags);
        return ret < 0 ? ret : 0;
    }

    for (done = 0; done < bytes; ) {
        int64_t num = bytes - done;

        if (readable > 0) {
            num = MIN(num, MIN(readable, max_transfer));
            ret = driver_preadv(bs, offset + done, num, qiov,
                                qiov_offset + done, flags);
            if (ret < 0) {
                return ret;
            }
            readable -= num;
        } else {
            /* Past the end of the image: zeroes, without asking anyone. */
            qemu_iovec_memset(qiov, qiov_offset + done, 0, num);
        }
        done += num;
    }
    return 0;
}

int coroutine_fn bdrv_co_preadv_part(BdrvChild *child, int64_t offset,
                                     int64_t bytes, QEMUIOVector *qiov,
                                     size_t qiov_offset,
                                     BdrvRequestFlags flags)
{
    BlockDriverState *bs = child->bs;
    BdrvTrackedRequest req;
    RequestPadding pad;
    bool padded;
    int ret;

    if (unlikely(!bs->drv)) {
        return -ENOMEDIUM;
    }
    ret = check_rw_request(offset, bytes, qiov, qiov_offset);
    if (unlikely(ret < 0)) {
        return ret;
    }
    if (unlikely(flags & ~BDRV_REQ_READ_MASK)) {
        return -EINVAL;
    }
    if (unlikely(!qiov) && !(flags & BDRV_REQ_PREFETCH)) {
        return -EINVAL;
    }
    if (unlikely(bytes == 0) &&
        !QEMU_IS_ALIGNED(offset, bs->bl.request_alignment)) {
        /* Nothing to read, and padding it would invent a request. */
        return 0;
    }

    bdrv_inc_in_flight(bs);

    if (qatomic_read(&bs->copy_on_read)) {
        flags |= BDRV_REQ_COPY_ON_READ;
    }
    if ((flags & BDRV_REQ_PREFETCH) && !(flags & BDRV_REQ_COPY_ON_READ)) {
        /* A prefetch only makes sense when it copies up. */
        ret = -EINVAL;
        goto out;
    }

    ret = pad_request(bs, &qiov, &qiov_offset, &offset, &bytes, &pad,
                      &padded, &flags);
    if (ret < 0) {
        goto out;
    }

    tracked_request_begin(&req, bs, offset, bytes, BDRV_TRACKED_READ);
    ret = aligned_preadv(child, &req, offset, bytes,
                         bs->bl.request_alignment, qiov, qiov_offset, flags);
    tracked_request_end(&req);

    if (padded) {
        padding_destroy(&pad);
    }
out:
    bdrv_dec_in_flight(bs);
    return ret;
}

int coroutine_fn bdrv_co_preadv(BdrvChild *child, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                BdrvRequestFlags flags)
{
    return bdrv_co_preadv_part(child, offset, bytes, qiov, 0, flags);
}

int coroutine_fn bdrv_co_pread(BdrvChild *child, int64_t offset,
                               int64_t bytes, void *buf,
                               BdrvRequestFlags flags)
{
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, bytes);

    if (bytes < 0) {
        return -EIO;
    }
    return bdrv_co_preadv_part(child, offset, bytes, &qiov, 0, flags);
}

/* ------------------------------------------------------------------ */
/* Writes (block-core.md §2.3, §2.6)                                   */
/* ------------------------------------------------------------------ */

/*
 * Checks before a write-type request touches the driver: read-only
 * nodes, serialisation (SERIALISING / NO_WAIT), permissions, and the
 * write threshold.
 */
static int coroutine_fn write_req_prepare(BdrvChild *child, int64_t offset,
                                          int64_t bytes,
                                          BdrvTrackedRequest *req,
                                          int flags)
{
    BlockDriverState *bs = child->bs;

    if (bdrv_is_read_only(bs)) {
        return -EPERM;
    }
    if ((flags & BDRV_REQ_NO_WAIT) && !(flags & BDRV_REQ_SERIALISING)) {
        return -EINVAL;
    }

    if (flags & BDRV_REQ_SERIALISING) {
        set_serialising(req, cluster_size(bs));
        if ((flags & BDRV_REQ_NO_WAIT) && find_conflict(req)) {
            return -EBUSY;
        }
        wait_for_conflicts(req);
    } else {
        wait_serialising_requests(req);
    }

    switch (req->type) {
    case BDRV_TRACKED_WRITE:
        /* Growing the node needs the resize permission on this edge. */
        if (offset + bytes > cached_length(bs) &&
            !(child->perm & BLK_PERM_RESIZE)) {
            return -EIO;
        }
        /* fall through */
    case BDRV_TRACKED_DISCARD:
        if (!(child->perm & BLK_PERM_WRITE) &&
            !((flags & BDRV_REQ_WRITE_UNCHANGED) &&
              (child->perm & BLK_PERM_WRITE_UNCHANGED))) {
            return -EPERM;
        }
        bdrv_write_threshold_check_write(bs, offset, bytes);
        return 0;
    case BDRV_TRACKED_TRUNCATE:
        return (child->perm & BLK_PERM_RESIZE) ? 0 : -EPERM;
    default:
        g_assert_not_reached();
    }
}

static void parents_resized(BlockDriverState *bs)
{
    BdrvChild *c;

    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass->resize) {
            c->klass->resize(c);
        }
    }
}

/* Bookkeeping after a write-type request (ret is its result). */
static void write_req_finish(BdrvChild *child, int64_t offset, int64_t bytes,
                             BdrvTrackedRequest *req, int ret)
{
    BlockDriverState *bs = child->bs;
    int64_t end_sector = DIV_ROUND_UP(offset + bytes, BDRV_SECTOR_SIZE);

    qatomic_inc(&bs->write_gen);

    /* A discard never grows the image, even when it went past the end. */
    if (ret == 0 && req->type != BDRV_TRACKED_DISCARD &&
        (req->type == BDRV_TRACKED_TRUNCATE ||
         end_sector > bs->total_sectors)) {
        bs->total_sectors = end_sector;
        parents_resized(bs);
    }
    if (req->type == BDRV_TRACKED_WRITE && bytes &&
        bs->wr_highest_offset < (uint64_t)(offset + bytes)) {
        bs->wr_highest_offset = offset + bytes;
    }
}

/* The one-entry block-status cache (protocol nodes). */
static bool bsc_lookup(BlockDriverState *bs, int64_t offset, int64_t *pnum)
{
    if (!bs->block_status_cache.valid ||
        offset < bs->block_status_cache.data_start ||
        offset >= bs->block_status_cache.data_end) {
        return false;
    }
    *pnum = bs->block_status_cache.data_end - offset;
    return true;
}

static void bsc_fill(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    bs->block_status_cache.data_start = offset;
    bs->block_status_cache.data_end = offset + bytes;
    bs->block_status_cache.valid = true;
}

static void bsc_invalidate(BlockDriverState *bs, int64_t offset,
                           int64_t bytes)
{
    if (bs->block_status_cache.valid &&
        ranges_intersect(offset, bytes, bs->block_status_cache.data_start,
                         bs->block_status_cache.data_end -
                         bs->block_status_cache.data_start)) {
        bs->block_status_cache.valid = false;
    }
}

/*
 * Zero an aligned range through the driver: pieces aligned to
 * pwrite_zeroes_alignment and at most max_pwrite_zeroes long; where the
 * driver can't (-ENOTSUP) write a zeroed buffer, unless NO_FALLBACK.
 */
static int coroutine_fn do_pwrite_zeroes(BlockDriverState *bs,
                                         int64_t offset, int64_t bytes,
                                         BdrvRequestFlags flags)
{
    BlockDriver *drv = bs->drv;
    int64_t align = MAX(bs->bl.pwrite_zeroes_alignment,
                        bs->bl.request_alignment);
    int64_t max_zeroes = QEMU_ALIGN_DOWN(MIN_NON_ZERO(bs->bl.max_pwrite_zeroes,
                                                      INT64_MAX), align);
    int64_t max_transfer = MIN_NON_ZERO(bs->bl.max_transfer,
                                        MAX_BOUNCE_BUFFER);
    BdrvChild *filtered = NULL;
    g_autoptr(void) buf = NULL;
    int64_t buf_len = 0;
    bool flush_after = false;
    int64_t head, tail;
    int ret = 0;

    if (!drv) {
        return -ENOMEDIUM;
    }
    if ((flags & BDRV_REQ_NO_FALLBACK) &&
        !(bs->supported_zero_flags & BDRV_REQ_NO_FALLBACK)) {
        return -ENOTSUP;
    }
    /* There is no buffer to be registered. */
    if (flags & BDRV_REQ_REGISTERED_BUF) {
        return -EINVAL;
    }
    if (!drv->bdrv_co_pwrite_zeroes && drv->is_filter) {
        filtered = bdrv_filter_child(bs);
    }

    bsc_invalidate(bs, offset, bytes);

    assert(align % bs->bl.request_alignment == 0);
    assert(max_zeroes >= bs->bl.request_alignment);
    head = offset % align;
    tail = (offset + bytes) % align;

    while (bytes > 0 && ret == 0) {
        int64_t num = bytes;

        /*
         * Drivers may rely on the bulk being aligned and on unaligned
         * pieces not crossing an alignment boundary.
         */
        if (head) {
            num = MIN(MIN(bytes, max_transfer), align - head);
            head = (head + num) % align;
        } else if (tail && num > align) {
            num -= tail;
        }
        num = MIN(num, max_zeroes);

        ret = -ENOTSUP;
        if (drv->bdrv_co_pwrite_zeroes) {
            ret = drv->bdrv_co_pwrite_zeroes(bs, offset, num,
                                             flags & bs->supported_zero_flags);
            if (ret != -ENOTSUP && (flags & BDRV_REQ_FUA) &&
                !(bs->supported_zero_flags & BDRV_REQ_FUA)) {
                flush_after = true;
            }
        } else if (filtered) {
            ret = bdrv_co_pwritev(filtered, offset, num, NULL,
                                  flags | BDRV_REQ_ZERO_WRITE);
        }

        if (ret == -ENOTSUP && !(flags & BDRV_REQ_NO_FALLBACK)) {
            BdrvRequestFlags wflags = flags & ~BDRV_REQ_ZERO_WRITE;
            QEMUIOVector qiov;

            if ((flags & BDRV_REQ_FUA) &&
                !(bs->supported_write_flags & BDRV_REQ_FUA)) {
                /* One flush at the end instead of one per piece. */
                wflags &= ~BDRV_REQ_FUA;
                flush_after = true;
            }
            num = MIN(num, max_transfer);
            if (!buf) {
                /* Sized for every remaining piece, so it is reused. */
                buf_len = MIN(bytes, max_transfer);
                buf = qemu_try_blockalign0(bs, buf_len);
                if (!buf) {
                    return -ENOMEM;
                }
            }
            assert(num <= buf_len);
            qemu_iovec_init_buf(&qiov, buf, num);
            ret = driver_pwritev(bs, offset, num, &qiov, 0, wflags);
        }

        offset += num;
        bytes -= num;
    }

    if (ret == 0 && flush_after) {
        ret = flush_for_fua(bs);
    }
    return ret;
}

/*
 * Write an aligned range: prepare (serialisation, checks), detect zeroes,
 * then dispatch as write zeroes, compressed write, or plain write in
 * max_transfer pieces.  Always finishes the request bookkeeping.
 */
static int coroutine_fn aligned_pwritev(BdrvChild *child,
                                        BdrvTrackedRequest *req,
                                        int64_t offset, int64_t bytes,
                                        int64_t align, QEMUIOVector *qiov,
                                        size_t qiov_offset,
                                        BdrvRequestFlags flags)
{
    BlockDriverState *bs = child->bs;
    BlockDriver *drv = bs->drv;
    int64_t max_transfer;
    int ret;

    if (!drv) {
        return -ENOMEDIUM;
    }
    assert(QEMU_IS_ALIGNED(offset, align) && QEMU_IS_ALIGNED(bytes, align));

    ret = write_req_prepare(child, offset, bytes, req, flags);
    if (ret < 0) {
        goto finish;
    }

    if (bs->detect_zeroes != BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF &&
        !(flags & BDRV_REQ_ZERO_WRITE) && drv->bdrv_co_pwrite_zeroes &&
        qemu_iovec_is_zero(qiov, qiov_offset, bytes)) {
        flags |= BDRV_REQ_ZERO_WRITE;
        if (bs->detect_zeroes == BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP) {
            flags |= BDRV_REQ_MAY_UNMAP;
        }
    }

    max_transfer = QEMU_ALIGN_DOWN(MIN_NON_ZERO(bs->bl.max_transfer, INT_MAX),
                                   align);
    if (flags & BDRV_REQ_ZERO_WRITE) {
        debug_event(bs, BLKDBG_PWRITEV_ZERO);
        ret = do_pwrite_zeroes(bs, offset, bytes, flags);
    } else if (flags & BDRV_REQ_WRITE_COMPRESSED) {
        ret = driver_pwritev_compressed(bs, offset, bytes, qiov, qiov_offset);
    } else if (likely(bytes <= max_transfer)) {
        debug_event(bs, BLKDBG_PWRITEV);
        ret = driver_pwritev(bs, offset, bytes, qiov, qiov_offset, flags);
    } else {
        bool emulated_fua = (flags & BDRV_REQ_FUA) &&
                            !(bs->supported_write_flags & BDRV_REQ_FUA);
        int64_t done;

        debug_event(bs, BLKDBG_PWRITEV);
        for (done = 0; done < bytes && ret >= 0; ) {
            int64_t num = MIN(bytes - done, max_transfer);
            int piece_flags = flags;

            /* An emulated FUA is a flush: once, after the last piece. */
            if (emulated_fua && done + num < bytes) {
                piece_flags &= ~BDRV_REQ_FUA;
            }
            ret = driver_pwritev(bs, offset + done, num, qiov,
                                 qiov_offset + done, piece_flags);
            done += num;
        }
    }
    debug_event(bs, BLKDBG_PWRITEV_DONE);

    if (ret > 0) {
        ret = 0;
    }
finish:
    write_req_finish(child, offset, bytes, req, ret);
    return ret;
}

/*
 * Unaligned write zeroes: the partial head and tail blocks are read,
 * zeroed in the middle and written back as plain writes; the aligned
 * middle is a real zero write.
 */
static int coroutine_fn do_zero_pwritev(BdrvChild *child, int64_t offset,
                                        int64_t bytes, BdrvRequestFlags flags,
                                        BdrvTrackedRequest *req)
{
    BlockDriverState *bs = child->bs;
    int64_t align = bs->bl.request_alignment;
    BdrvRequestFlags data_flags;
    QEMUIOVector local_qiov;
    RequestPadding pad;
    int ret = 0;

    flags &= ~BDRV_REQ_REGISTERED_BUF;
    data_flags = flags & ~BDRV_REQ_ZERO_WRITE;

    pad.buf = NULL;
    if (padding_init(bs, offset, bytes, &pad)) {
        /* Only the bounce buffer is used; padding_destroy() frees it. */
        qemu_iovec_init_buf(&pad.local_qiov, NULL, 0);
        if (flags & BDRV_REQ_NO_WAIT) {
            /* The read-modify-write cycle has to wait: can't promise not to */
            ret = -EINVAL;
            goto out;
        }
        bdrv_make_request_serialising(req, align);
        ret = rmw_read_padding(child, req, &pad, true);
        if (ret < 0) {
            goto out;
        }

        if (pad.head || pad.merge_reads) {
            int64_t first = pad.merge_reads ? pad.buf_len : align;

            qemu_iovec_init_buf(&local_qiov, pad.buf, first);
            ret = aligned_pwritev(child, req, offset - pad.head, first, align,
                                  &local_qiov, 0, data_flags);
            if (ret < 0 || pad.merge_reads) {
                goto out;
            }
            offset += first - pad.head;
            bytes -= first - pad.head;
        }
    }

    if (bytes >= align) {
        int64_t middle = QEMU_ALIGN_DOWN(bytes, align);

        assert(QEMU_IS_ALIGNED(offset, align));
        ret = aligned_pwritev(child, req, offset, middle, align, NULL, 0,
                              flags);
        if (ret < 0) {
            goto out;
        }
        offset += middle;
        bytes -= middle;
    }

    if (bytes) {
        assert(pad.tail && (int64_t)pad.tail + bytes == align);
        qemu_iovec_init_buf(&local_qiov, pad.tail_buf, align);
        ret = aligned_pwritev(child, req, offset, align, align, &local_qiov,
                              0, data_flags);
    }

out:
    padding_destroy(&pad);
    return ret;
}

int coroutine_fn bdrv_co_pwritev_part(BdrvChild *child, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      size_t qiov_offset,
                                      BdrvRequestFlags flags)
{
    BlockDriverState *bs = child->bs;
    int64_t align = bs->bl.request_alignment;
    BdrvTrackedRequest req;
    RequestPadding pad;
    bool padded = false;
    int ret;

    if (unlikely(!bs->drv)) {
        return -ENOMEDIUM;
    }
    if (flags & BDRV_REQ_ZERO_WRITE) {
        /* No data moves, so no 2 GiB cap. */
        ret = check_request(offset, bytes, NULL, 0);
    } else {
        ret = check_rw_request(offset, bytes, qiov, qiov_offset);
    }
    if (unlikely(ret < 0)) {
        return ret;
    }
    if (unlikely(flags & ~BDRV_REQ_MASK)) {
        return -EINVAL;
    }
    if (unlikely(!qiov) && !(flags & BDRV_REQ_ZERO_WRITE)) {
        return -EINVAL;
    }
    /* Padding is exactly the slow emulation NO_FALLBACK refuses. */
    if ((flags & BDRV_REQ_NO_FALLBACK) &&
        !QEMU_IS_ALIGNED(offset | bytes, align)) {
        return -ENOTSUP;
    }
    if (unlikely(bytes == 0) && !QEMU_IS_ALIGNED(offset, align)) {
        return 0;
    }
    if (!(bs->open_flags & BDRV_O_UNMAP)) {
        flags &= ~BDRV_REQ_MAY_UNMAP;
    }

    if (!(flags & BDRV_REQ_ZERO_WRITE)) {
        ret = pad_request(bs, &qiov, &qiov_offset, &offset, &bytes, &pad,
                          &padded, &flags);
        if (ret < 0) {
            return ret;
        }
    }

    bdrv_inc_in_flight(bs);
    tracked_request_begin(&req, bs, offset, bytes, BDRV_TRACKED_WRITE);

    if (flags & BDRV_REQ_ZERO_WRITE) {
        ret = do_zero_pwritev(child, offset, bytes, flags, &req);
    } else {
        if (padded) {
            /* Nobody may change the padding blocks between read and write */
            bdrv_make_request_serialising(&req, align);
            ret = rmw_read_padding(child, &req, &pad, false);
        }
        if (ret == 0) {
            ret = aligned_pwritev(child, &req, offset, bytes, align, qiov,
                                  qiov_offset, flags);
        }
        if (padded) {
            padding_destroy(&pad);
        }
    }

    tracked_request_end(&req);
    bdrv_dec_in_flight(bs);
    return ret;
}

int coroutine_fn bdrv_co_pwritev(BdrvChild *child, int64_t offset,
                                 int64_t bytes, QEMUIOVector *qiov,
                                 BdrvRequestFlags flags)
{
    return bdrv_co_pwritev_part(child, offset, bytes, qiov, 0, flags);
}

int coroutine_fn bdrv_co_pwrite(BdrvChild *child, int64_t offset,
                                int64_t bytes, const void *buf,
                                BdrvRequestFlags flags)
{
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, bytes);

    if (bytes < 0) {
        return -EIO;
    }
    return bdrv_co_pwritev_part(child, offset, bytes, &qiov, 0, flags);
}

int coroutine_fn bdrv_co_pwrite_sync(BdrvChild *child, int64_t offset,
                                     int64_t bytes, const void *buf,
                                     BdrvRequestFlags flags)
{
    int ret = bdrv_co_pwrite(child, offset, bytes, buf, flags);

    if (ret < 0) {
        return ret;
    }
    return bdrv_co_flush(child->bs);
}

int coroutine_fn bdrv_co_pwrite_zeroes(BdrvChild *child, int64_t offset,
                                       int64_t bytes, BdrvRequestFlags flags)
{
    return bdrv_co_pwritev_part(child, offset, bytes, NULL, 0,
                                flags | BDRV_REQ_ZERO_WRITE);
}

/* Zero everything that doesn't already read as zeroes. */
int bdrv_make_zero(BdrvChild *child, BdrvRequestFlags flags)
{
    BlockDriverState *bs = child->bs;
    int64_t len = bdrv_getlength(bs);
    int64_t offset = 0;
    int ret;

    if (len < 0) {
        return len;
    }
    while (offset < len) {
        int64_t bytes = MIN(len - offset, BDRV_REQUEST_MAX_BYTES);

        ret = bdrv_block_status(bs, offset, bytes, &bytes, NULL, NULL);
        if (ret < 0) {
            return ret;
        }
        if (!(ret & BDRV_BLOCK_ZERO)) {
            ret = bdrv_pwrite_zeroes(child, offset, bytes, flags);
            if (ret < 0) {
                return ret;
            }
        }
        offset += bytes;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Discard (block-core.md §2.7)                                        */
/* ------------------------------------------------------------------ */

int coroutine_fn bdrv_co_pdiscard(BdrvChild *child, int64_t offset,
                                  int64_t bytes)
{
    BlockDriverState *bs = child ? child->bs : NULL;
    BdrvChild *filtered = NULL;
    BdrvTrackedRequest req;
    int64_t align, max_discard, head, tail;
    int64_t req_align;
    int ret;

    if (!bs || !bs->drv || !bdrv_is_inserted(bs)) {
        return -ENOMEDIUM;
    }
    ret = check_request(offset, bytes, NULL, 0);
    if (ret < 0) {
        return ret;
    }
    /* Discard is advisory: without unmap or a way to do it, succeed. */
    if (!(bs->open_flags & BDRV_O_UNMAP)) {
        return 0;
    }
    if (!bs->drv->bdrv_co_pdiscard) {
        filtered = bs->drv->is_filter ? bdrv_filter_child(bs) : NULL;
        if (!filtered) {
            return 0;
        }
    }

    bsc_invalidate(bs, offset, bytes);

    /*
     * Pass everything down (devices may coalesce unaligned pieces), but in
     * pieces that respect pdiscard_alignment, since many drivers ignore
     * discards that aren't aligned.
     */
    req_align = bs->bl.request_alignment;
    align = MAX(bs->bl.pdiscard_alignment, req_align);
    assert(align % req_align == 0);
    head = offset % align;
    tail = (offset + bytes) % align;

    bdrv_inc_in_flight(bs);
    tracked_request_begin(&req, bs, offset, bytes, BDRV_TRACKED_DISCARD);

    ret = write_req_prepare(child, offset, bytes, &req, 0);
    if (ret < 0) {
        goto out;
    }

    max_discard = QEMU_ALIGN_DOWN(MIN_NON_ZERO(bs->bl.max_pdiscard, INT64_MAX),
                                  align);
    assert(max_discard >= req_align);

    while (bytes > 0) {
        int64_t num = bytes;

        if (head) {
            /* Up to the boundary, request_alignment-sized where possible */
            num = MIN(bytes, align - head);
            if (!QEMU_IS_ALIGNED(num, req_align)) {
                num %= req_align;
            }
            head = (head + num) % align;
        } else if (tail) {
            if (num > align) {
                num -= tail;
            } else if (!QEMU_IS_ALIGNED(tail, req_align) && tail > req_align) {
                tail %= req_align;
                num -= tail;
            }
        }
        num = MIN(num, max_discard);

        if (!bs->drv) {
            ret = -ENOMEDIUM;
            goto out;
        }
        if (filtered) {
            ret = bdrv_co_pdiscard(filtered, offset, num);
        } else {
            ret = bs->drv->bdrv_co_pdiscard(bs, offset, num);
        }
        if (ret && ret != -ENOTSUP) {
            goto out;
        }
        offset += num;
        bytes -= num;
    }
    ret = 0;

out:
    write_req_finish(child, req.offset, req.bytes, &req, ret);
    tracked_request_end(&req);
    bdrv_dec_in_flight(bs);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Flush (block-core.md §2.8)                                          */
/* ------------------------------------------------------------------ */

/*
 * The flush itself, serialised by the caller: the driver's caches, then
 * the disk if anything was written since the flush that saw gen, then
 * every child we may have written to.
 */
static int coroutine_fn flush_layers(BlockDriverState *bs, unsigned int gen)
{
    BdrvChild *primary = bdrv_primary_child(bs);
    BdrvChild *child;
    int ret = 0;

    if (bs->drv->bdrv_co_flush) {
        /* The driver flushes every layer itself. */
        return bs->drv->bdrv_co_flush(bs);
    }

    /* Driver caches go to the OS even with cache=unsafe... */
    BLKDBG_EVENT(primary, BLKDBG_FLUSH_TO_OS);
    if (bs->drv->bdrv_co_flush_to_os) {
        ret = bs->drv->bdrv_co_flush_to_os(bs);
        if (ret < 0) {
            return ret;
        }
    }

    /* ...but only reach the disk without it, and if anything was written */
    if (!(bs->open_flags & BDRV_O_NO_FLUSH) && bs->flushed_gen != gen) {
        BLKDBG_EVENT(primary, BLKDBG_FLUSH_TO_DISK);
        if (!bs->drv) {
            /* flush_to_os may have ejected the medium */
            return -ENOMEDIUM;
        }
        if (bs->drv->bdrv_co_flush_to_disk) {
            ret = bs->drv->bdrv_co_flush_to_disk(bs);
        } else if (bs->drv->bdrv_aio_flush) {
            AioCompletion c = { .co = qemu_coroutine_self() };

            if (!bs->drv->bdrv_aio_flush(bs, aio_completion_cb, &c)) {
                ret = -EIO;
            } else {
                qemu_coroutine_yield();
                ret = c.ret;
            }
        }
        /*
         * A driver without a flush callback can't do better (its backend
         * is writethrough or unsafe by design); failing would only break
         * users, so succeed.
         */
        if (ret < 0) {
            return ret;
        }
    }

    /* Then every child we may have written to; the first error counts. */
    QLIST_FOREACH(child, &bs->children, next) {
        if (child->perm & (BLK_PERM_WRITE | BLK_PERM_WRITE_UNCHANGED)) {
            int child_ret = bdrv_co_flush(child->bs);

            if (ret == 0) {
                ret = child_ret;
            }
        }
    }
    return ret;
}

int coroutine_fn bdrv_co_flush(BlockDriverState *bs)
{
    unsigned int gen;
    int ret = 0;

    bdrv_inc_in_flight(bs);
    if (bdrv_is_inserted(bs) && !bdrv_is_read_only(bs) && !bdrv_is_sg(bs)) {
        /* One flush at a time per node, in the order they arrived. */
        gen = qatomic_read(&bs->write_gen);
        while (bs->active_flush_req) {
            qemu_co_queue_wait(&bs->flush_queue, NULL);
        }
        bs->active_flush_req = true;

        ret = flush_layers(bs, gen);
        if (ret == 0) {
            bs->flushed_gen = gen;
        }

        bs->active_flush_req = false;
        qemu_co_queue_next(&bs->flush_queue);
    }
    bdrv_dec_in_flight(bs);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Truncate (block-core.md §2.9)                                       */
/* ------------------------------------------------------------------ */

int coroutine_fn bdrv_co_truncate(BdrvChild *child, int64_t offset,
                                  bool exact, PreallocMode prealloc,
                                  BdrvRequestFlags flags, Error **errp)
{
    BlockDriverState *bs = child->bs;
    BlockDriver *drv = bs->drv;
    BdrvChild *filtered, *backing;
    BdrvTrackedRequest req;
    int64_t old_size, grow;
    int ret;

    if (!drv) {
        error_setg(errp, "No medium inserted");
        return -ENOMEDIUM;
    }
    if (offset < 0) {
        error_setg(errp, "Image size cannot be negative");
        return -EINVAL;
    }
    if (offset > BDRV_MAX_LENGTH) {
        error_setg(errp, "offset(%" PRId64 ") exceeds maximum(%" PRId64 ")",
                   offset, (int64_t)BDRV_MAX_LENGTH);
        return -EIO;
    }

    old_size = bdrv_getlength(bs);
    if (old_size < 0) {
        error_setg_errno(errp, -old_size, "Failed to get old image size");
        return old_size;
    }
    if (bdrv_is_read_only(bs)) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }

    grow = offset > old_size ? offset - old_size : 0;

    bdrv_inc_in_flight(bs);
    tracked_request_begin(&req, bs, offset - grow, grow,
                          BDRV_TRACKED_TRUNCATE);

    /*
     * Writes into the new area must not race with its preallocation:
     * serialise over it, byte-granular.
     */
    if (grow) {
        bdrv_make_request_serialising(&req, 1);
    }
    ret = write_req_prepare(child, offset - grow, grow, &req, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret,
                         "Failed to prepare request for truncation");
        goto out;
    }

    filtered = bdrv_filter_child(bs);
    backing = bdrv_cow_child(bs);

    /* A longer backing file would show through the new area: zero it. */
    if (grow && backing) {
        int64_t backing_len = bdrv_getlength(backing->bs);

        if (backing_len < 0) {
            ret = backing_len;
            error_setg_errno(errp, -ret, "Could not get backing file size");
            goto out;
        }
        if (backing_len > old_size) {
            flags |= BDRV_REQ_ZERO_WRITE;
        }
    }

    if (drv->bdrv_co_truncate) {
        if (flags & ~bs->supported_truncate_flags) {
            error_setg(errp, "Block driver does not support requested flags");
            ret = -ENOTSUP;
            goto out;
        }
        ret = drv->bdrv_co_truncate(bs, offset, exact, prealloc, flags, errp);
    } else if (filtered) {
        ret = bdrv_co_truncate(filtered, offset, exact, prealloc, flags, errp);
    } else {
        error_setg(errp, "Image format driver does not support resize");
        ret = -ENOTSUP;
        goto out;
    }
    if (ret < 0) {
        goto out;
    }

    ret = bdrv_refresh_total_sectors(bs, offset >> BDRV_SECTOR_BITS);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not refresh total sector count");
    } else {
        offset = cached_length(bs);
    }
    /* The resize happened either way: notify parents. */
    write_req_finish(child, offset - grow, grow, &req, 0);

out:
    tracked_request_end(&req);
    bdrv_dec_in_flight(bs);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Block status (block-core.md §2.11)                                  */
/* ------------------------------------------------------------------ */

/*
 * Status of one layer, bs, at offset.  See the header comments of
 * BlockDriver.bdrv_co_block_status for what drivers answer; this adds
 * the generic parts: EOF, alignment, the protocol cache, RAW recursion,
 * ALLOCATED, zeroes from a missing or short backing file, RECURSE.
 */
static int coroutine_fn block_status_one(BlockDriverState *bs,
                                         bool want_zero, int64_t offset,
                                         int64_t bytes, int64_t *pnum,
                                         int64_t *map,
                                         BlockDriverState **file)
{
    BlockDriverState *local_file = NULL;
    int64_t local_map = 0;
    int64_t total, aligned_offset, aligned_bytes;
    uint32_t align;
    int ret;

    assert(pnum);
    *pnum = 0;
    total = bdrv_getlength(bs);
    if (total < 0) {
        ret = total;
        goto early_out;
    }
    if (offset >= total) {
        ret = BDRV_BLOCK_EOF;
        goto early_out;
    }
    if (!bytes) {
        ret = 0;
        goto early_out;
    }
    bytes = MIN(bytes, total - offset);

    if (!bs->drv->bdrv_co_block_status && !bdrv_filter_child(bs)) {
        /* No way to tell: everything is data of this layer. */
        *pnum = bytes;
        ret = BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED;
        if (offset + bytes == total) {
            ret |= BDRV_BLOCK_EOF;
        }
        if (bs->drv->protocol_name) {
            ret |= BDRV_BLOCK_OFFSET_VALID;
            local_map = offset;
            local_file = bs;
        }
        goto early_out;
    }

    bdrv_inc_in_flight(bs);

    align = bs->bl.request_alignment;
    aligned_offset = QEMU_ALIGN_DOWN(offset, align);
    aligned_bytes = ROUND_UP(offset + bytes, align) - aligned_offset;

    if (bs->drv->bdrv_co_block_status) {
        /*
         * Protocol drivers may be slow to ask (lseek over a big data
         * area), so the last data region they reported is cached; for
         * them DATA means OFFSET_VALID with map == offset.
         */
        bool protocol = QLIST_EMPTY(&bs->children);

        if (protocol && bsc_lookup(bs, aligned_offset, pnum)) {
            ret = BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
            local_file = bs;
            local_map = aligned_offset;
        } else {
            ret = bs->drv->bdrv_co_block_status(bs, want_zero, aligned_offset,
                                                aligned_bytes, pnum,
                                                &local_map, &local_file);
            if (want_zero && protocol &&
                ret == (BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID)) {
                assert(local_file == bs && local_map == aligned_offset);
                bsc_fill(bs, aligned_offset, *pnum);
            }
        }
    } else {
        /* Filters without a callback: ask the filtered child. */
        local_file = bdrv_filter_bs(bs);
        local_map = aligned_offset;
        *pnum = aligned_bytes;
        ret = BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
    }
    if (ret < 0) {
        *pnum = 0;
        goto out;
    }

    /* Back from the aligned window to what the caller asked for. */
    assert(*pnum && QEMU_IS_ALIGNED(*pnum, align) &&
           align > offset - aligned_offset);
    *pnum -= offset - aligned_offset;
    *pnum = MIN(*pnum, bytes);
    if (ret & BDRV_BLOCK_OFFSET_VALID) {
        local_map += offset - aligned_offset;
    }

    if (ret & BDRV_BLOCK_RAW) {
        assert((ret & BDRV_BLOCK_OFFSET_VALID) && local_file);
        ret = block_status_one(local_file, want_zero, local_map, *pnum, pnum,
                               &local_map, &local_file);
        goto out;
    }

    if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) {
        ret |= BDRV_BLOCK_ALLOCATED;
    } else if (bs->drv->supports_backing) {
        BlockDriverState *cow = bdrv_cow_bs(bs);

        if (!cow) {
            ret |= BDRV_BLOCK_ZERO;
        } else if (want_zero) {
            int64_t cow_len = bdrv_getlength(cow);

            if (cow_len >= 0 && offset >= cow_len) {
                ret |= BDRV_BLOCK_ZERO;
            }
        }
    }

    if (want_zero && (ret & BDRV_BLOCK_RECURSE) && local_file &&
        local_file != bs &&
        (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID))
        == (BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID)) {
        int64_t file_pnum;
        int ret2 = block_status_one(local_file, want_zero, local_map, *pnum,
                                    &file_pnum, NULL, NULL);

        /* Extra precision only: errors here are not the caller's problem */
        if (ret2 >= 0) {
            if ((ret2 & BDRV_BLOCK_EOF) &&
                (!file_pnum || (ret2 & BDRV_BLOCK_ZERO))) {
                /* Formats may read beyond their file's end: zeroes. */
                ret |= BDRV_BLOCK_ZERO;
            } else {
                *pnum = file_pnum;
                ret |= ret2 & BDRV_BLOCK_ZERO;
            }
        }
    }

out:
    bdrv_dec_in_flight(bs);
    if (ret >= 0 && offset + *pnum == total) {
        ret |= BDRV_BLOCK_EOF;
    }
early_out:
    if (file) {
        *file = local_file;
    }
    if (map) {
        *map = local_map;
    }
    return ret;
}

int coroutine_fn
bdrv_co_common_block_status_above(BlockDriverState *bs,
                                  BlockDriverState *base,
                                  bool include_base, bool want_zero,
                                  int64_t offset, int64_t bytes,
                                  int64_t *pnum, int64_t *map,
                                  BlockDriverState **file, int *depth)
{
    BlockDriverState *p;
    int64_t eof = 0;
    int local_depth;
    int ret;

    if (!depth) {
        depth = &local_depth;
    }
    *depth = 0;
    if (include_base && !base) {
        return -EINVAL;
    }
    if (!include_base && bs == base) {
        *pnum = bytes;
        return 0;
    }
    if (!bs->drv) {
        return -ENOMEDIUM;
    }

    ret = block_status_one(bs, want_zero, offset, bytes, pnum, map, file);
    ++*depth;
    if (ret < 0 || *pnum == 0 || (ret & BDRV_BLOCK_ALLOCATED) || bs == base) {
        return ret;
    }
    if (ret & BDRV_BLOCK_EOF) {
        eof = offset + *pnum;
    }
    bytes = *pnum;

    /* Not decided here: go down the chain, on a shrinking window. */
    for (p = bdrv_filter_or_cow_bs(bs); p && (include_base || p != base);
         p = bdrv_filter_or_cow_bs(p)) {
        ret = block_status_one(p, want_zero, offset, bytes, pnum, map, file);
        ++*depth;
        if (ret < 0) {
            return ret;
        }
        if (*pnum == 0) {
            /*
             * p is shorter than the layers above: what they defer to it
             * beyond its end reads as zeroes, allocated in p.  (Its EOF is
             * not the top's: that is re-added below if it applies.)
             */
            assert(ret & BDRV_BLOCK_EOF);
            *pnum = bytes;
            if (file) {
                *file = p;
            }
            ret = BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED;
            break;
        }
        if (ret & BDRV_BLOCK_ALLOCATED) {
            ret &= ~BDRV_BLOCK_EOF;
            break;
        }
        if (p == base) {
            break;
        }
        bytes = *pnum;
    }

    if (offset + *pnum == eof) {
        ret |= BDRV_BLOCK_EOF;
    }
    return ret;
}

int coroutine_fn bdrv_co_block_status_above(BlockDriverState *bs,
                                            BlockDriverState *base,
                                            int64_t offset, int64_t bytes,
                                            int64_t *pnum, int64_t *map,
                                            BlockDriverState **file)
{
    return bdrv_co_common_block_status_above(bs, base, false, true, offset,
                                             bytes, pnum, map, file, NULL);
}

int bdrv_block_status_above(BlockDriverState *bs, BlockDriverState *base,
                            int64_t offset, int64_t bytes, int64_t *pnum,
                            int64_t *map, BlockDriverState **file)
{
    return bdrv_common_block_status_above(bs, base, false, true, offset,
                                          bytes, pnum, map, file, NULL);
}

int bdrv_block_status(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, int64_t *map, BlockDriverState **file)
{
    return bdrv_block_status_above(bs, bdrv_filter_or_cow_bs(bs), offset,
                                   bytes, pnum, map, file);
}

int coroutine_fn bdrv_co_is_zero_fast(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes)
{
    int64_t pnum = bytes;
    int ret;

    if (!bytes) {
        return 1;
    }
    ret = bdrv_co_common_block_status_above(bs, NULL, false, false, offset,
                                            bytes, &pnum, NULL, NULL, NULL);
    if (ret < 0) {
        return ret;
    }
    return pnum == bytes && (ret & BDRV_BLOCK_ZERO);
}

int coroutine_fn bdrv_co_is_allocated(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, int64_t *pnum)
{
    int64_t local_pnum;
    int ret;

    ret = bdrv_co_common_block_status_above(bs, bs, true, false, offset,
                                            bytes, pnum ? pnum : &local_pnum,
                                            NULL, NULL, NULL);
    if (ret < 0) {
        return ret;
    }
    return !!(ret & BDRV_BLOCK_ALLOCATED);
}

int coroutine_fn bdrv_co_is_allocated_above(BlockDriverState *top,
                                            BlockDriverState *base,
                                            bool include_base, int64_t offset,
                                            int64_t bytes, int64_t *pnum)
{
    int depth;
    int ret;

    ret = bdrv_co_common_block_status_above(top, base, include_base, false,
                                            offset, bytes, pnum, NULL, NULL,
                                            &depth);
    if (ret < 0) {
        return ret;
    }
    return (ret & BDRV_BLOCK_ALLOCATED) ? depth : 0;
}

/* A layer that maps every byte 1:1 to the same offset of one child. */
static int block_status_passthrough(BdrvChild *child, int64_t offset,
                                    int64_t bytes, int64_t *pnum,
                                    int64_t *map, BlockDriverState **file)
{
    assert(child && child->bs);
    *pnum = bytes;
    *map = offset;
    *file = child->bs;
    return BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
}

int coroutine_fn bdrv_co_block_status_from_file(BlockDriverState *bs,
                                                bool want_zero,
                                                int64_t offset, int64_t bytes,
                                                int64_t *pnum, int64_t *map,
                                                BlockDriverState **file)
{
    return block_status_passthrough(bs->file, offset, bytes, pnum, map, file);
}

int coroutine_fn bdrv_co_block_status_from_backing(BlockDriverState *bs,
                                                   bool want_zero,
                                                   int64_t offset,
                                                   int64_t bytes,
                                                   int64_t *pnum,
                                                   int64_t *map,
                                                   BlockDriverState **file)
{
    return block_status_passthrough(bs->backing, offset, bytes, pnum, map,
                                    file);
}

/* ------------------------------------------------------------------ */
/* VM state, check                                                    */
/* ------------------------------------------------------------------ */

/*
 * The VM state area lives in the first layer down the chain whose driver
 * handles it (only formats with internal snapshots do).
 */
static int coroutine_fn vmstate_rw(BlockDriverState *bs, QEMUIOVector *qiov,
                                   int64_t pos, bool is_read)
{
    BlockDriverState *below = bdrv_primary_bs(bs);
    int ret;

    ret = check_request(pos, qiov->size, qiov, 0);
    if (ret < 0) {
        return ret;
    }
    if (!bs->drv) {
        return -ENOMEDIUM;
    }

    bdrv_inc_in_flight(bs);
    if (is_read && bs->drv->bdrv_co_readv_vmstate) {
        ret = bs->drv->bdrv_co_readv_vmstate(bs, qiov, pos);
    } else if (!is_read && bs->drv->bdrv_co_writev_vmstate) {
        ret = bs->drv->bdrv_co_writev_vmstate(bs, qiov, pos);
    } else if (below) {
        ret = vmstate_rw(below, qiov, pos, is_read);
    } else {
        ret = -ENOTSUP;
    }
    bdrv_dec_in_flight(bs);
    return ret;
}

int coroutine_fn bdrv_co_readv_vmstate(BlockDriverState *bs,
                                       QEMUIOVector *qiov, int64_t pos)
{
    return vmstate_rw(bs, qiov, pos, true);
}

int coroutine_fn bdrv_co_writev_vmstate(BlockDriverState *bs,
                                        QEMUIOVector *qiov, int64_t pos)
{
    return vmstate_rw(bs, qiov, pos, false);
}

int bdrv_save_vmstate(BlockDriverState *bs, const uint8_t *buf,
                      int64_t pos, int size)
{
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, size);
    int ret;

    if (size < 0) {
        return -EINVAL;
    }
    ret = bdrv_writev_vmstate(bs, &qiov, pos);
    return ret < 0 ? ret : size;
}

int bdrv_load_vmstate(BlockDriverState *bs, uint8_t *buf,
                      int64_t pos, int size)
{
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, size);
    int ret;

    if (size < 0) {
        return -EINVAL;
    }
    ret = bdrv_readv_vmstate(bs, &qiov, pos);
    return ret < 0 ? ret : size;
}

int coroutine_fn bdrv_co_check(BlockDriverState *bs, BdrvCheckResult *res,
                               BdrvCheckMode fix)
{
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    if (!bs->drv->bdrv_co_check) {
        return -ENOTSUP;
    }
    memset(res, 0, sizeof(*res));
    return bs->drv->bdrv_co_check(bs, res, fix);
}

/* ------------------------------------------------------------------ */
/* Drain (block-core.md §2.12)                                         */
/* ------------------------------------------------------------------ */

unsigned int bdrv_drain_all_count;

static AioContext *parent_aio_context(BdrvChild *c)
{
    if (c->klass->get_parent_aio_context) {
        return c->klass->get_parent_aio_context(c);
    }
    return bdrv_get_aio_context(c->bs);
}

/*
 * Parents a drain of bs skips: where it came from, and node parents
 * during drain_all (each node is quiesced on its own then).
 */
static inline bool skip_parent(BdrvChild *c, BdrvChild *ignore,
                               bool ignore_bds_parents)
{
    return c == ignore || (ignore_bds_parents && c->klass->parent_is_bds);
}

static bool parent_drained_poll_single(BdrvChild *c)
{
    return c->klass->drained_poll && c->klass->drained_poll(c);
}

void bdrv_parent_drained_begin_single(BdrvChild *c, bool poll)
{
    AioContext *ctx = parent_aio_context(c);

    c->parent_quiesce_counter++;
    if (c->klass->drained_begin) {
        c->klass->drained_begin(c);
    }
    if (poll) {
        AIO_WAIT_WHILE(ctx, parent_drained_poll_single(c));
    }
}

static void parent_drained_end_single_no_poll(BdrvChild *c, int *counter)
{
    assert(c->parent_quiesce_counter > 0);
    c->parent_quiesce_counter--;
    if (c->klass->drained_end) {
        c->klass->drained_end(c, counter);
    }
}

void bdrv_parent_drained_end_single(BdrvChild *c)
{
    AioContext *ctx = parent_aio_context(c);
    int counter = 0;

    parent_drained_end_single_no_poll(c, &counter);
    AIO_WAIT_WHILE(ctx, qatomic_read(&counter) > 0);
}

static void parents_drained_begin(BlockDriverState *bs, BdrvChild *ignore,
                                  bool ignore_bds_parents)
{
    BdrvChild *c, *next;

    QLIST_FOREACH_SAFE(c, &bs->parents, next_parent, next) {
        if (!skip_parent(c, ignore, ignore_bds_parents)) {
            bdrv_parent_drained_begin_single(c, false);
        }
    }
}

static void parents_drained_end(BlockDriverState *bs, BdrvChild *ignore,
                                bool ignore_bds_parents, int *counter)
{
    BdrvChild *c;

    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (!skip_parent(c, ignore, ignore_bds_parents)) {
            parent_drained_end_single_no_poll(c, counter);
        }
    }
}

static bool parents_drained_poll(BlockDriverState *bs, BdrvChild *ignore,
                                 bool ignore_bds_parents)
{
    BdrvChild *c, *next;
    bool busy = false;

    /* Ask every parent: polling is also how some of them make progress */
    QLIST_FOREACH_SAFE(c, &bs->parents, next_parent, next) {
        if (!skip_parent(c, ignore, ignore_bds_parents)) {
            busy |= parent_drained_poll_single(c);
        }
    }
    return busy;
}

/* The driver's co_drain_begin/end run in a coroutine of their own. */
typedef struct DriverDrainCall {
    BlockDriverState *bs;
    bool begin;
    int *counter;           /* drain_end only: settles when it reaches 0 */
} DriverDrainCall;

static void coroutine_fn driver_drain_entry(void *opaque)
{
    DriverDrainCall *call = opaque;
    BlockDriverState *bs = call->bs;

    if (call->begin) {
        bs->drv->bdrv_co_drain_begin(bs);
    } else {
        bs->drv->bdrv_co_drain_end(bs);
        qatomic_dec(call->counter);
    }
    /* The begin poll waits for this via in_flight. */
    bdrv_dec_in_flight(bs);
    g_free(call);
}

static void driver_drain_invoke(BlockDriverState *bs, bool begin,
                                int *counter)
{
    DriverDrainCall *call;

    if (!bs->drv || !(begin ? bs->drv->bdrv_co_drain_begin
                            : bs->drv->bdrv_co_drain_end)) {
        return;
    }
    call = g_new(DriverDrainCall, 1);
    *call = (DriverDrainCall) { .bs = bs, .begin = begin, .counter = counter };
    if (!begin) {
        qatomic_inc(counter);
    }
    bdrv_inc_in_flight(bs);
    aio_co_schedule(bdrv_get_aio_context(bs),
                    qemu_coroutine_create(driver_drain_entry, call));
}

bool bdrv_drain_poll(BlockDriverState *bs, bool recursive,
                     BdrvChild *ignore_parent, bool ignore_bds_parents)
{
    BdrvChild *child, *next;

    if (parents_drained_poll(bs, ignore_parent, ignore_bds_parents)) {
        return true;
    }
    if (qatomic_read(&bs->in_flight)) {
        return true;
    }
    if (recursive) {
        QLIST_FOREACH_SAFE(child, &bs->children, next, next) {
            if (bdrv_drain_poll(child->bs, true, child, false)) {
                return true;
            }
        }
    }
    return false;
}

/* The top-level poll condition: first run what is already pending. */
static bool drain_poll_top_level(BlockDriverState *bs, bool recursive,
                                 BdrvChild *ignore_parent)
{
    while (aio_poll(bdrv_get_aio_context(bs), false)) {
        /* keep going */
    }
    return bdrv_drain_poll(bs, recursive, ignore_parent, false);
}

static void do_drained_begin(BlockDriverState *bs, bool recursive,
                             BdrvChild *parent, bool ignore_bds_parents,
                             bool poll);
static void do_drained_end(BlockDriverState *bs, bool recursive,
                           BdrvChild *parent, bool ignore_bds_parents,
                           int *counter);

/*
 * Drain from a coroutine: polling must not run on a coroutine stack (the
 * coroutine itself may hold what others wait for), so hand the work to a
 * BH and sleep until it is done.
 */
typedef struct CoDrainCall {
    Coroutine *co;
    BlockDriverState *bs;   /* NULL: drain_all_begin */
    bool begin;
    bool recursive;
    bool poll;
    bool ignore_bds_parents;
    BdrvChild *parent;
    int *counter;
    bool done;
} CoDrainCall;

static void co_drain_bh(void *opaque)
{
    CoDrainCall *call = opaque;
    BlockDriverState *bs = call->bs;

    if (!bs) {
        bdrv_drain_all_begin();
    } else {
        AioContext *ctx = bdrv_get_aio_context(bs);

        aio_context_acquire(ctx);
        bdrv_dec_in_flight(bs);
        if (call->begin) {
            do_drained_begin(bs, call->recursive, call->parent,
                             call->ignore_bds_parents, call->poll);
        } else {
            do_drained_end(bs, call->recursive, call->parent,
                           call->ignore_bds_parents, call->counter);
        }
        aio_context_release(ctx);
    }
    call->done = true;
    aio_co_wake(call->co);
}

static void coroutine_fn co_yield_to_drain(BlockDriverState *bs, bool begin,
                                           bool recursive, BdrvChild *parent,
                                           bool ignore_bds_parents, bool poll,
                                           int *counter)
{
    CoDrainCall call = {
        .co = qemu_coroutine_self(),
        .bs = bs,
        .begin = begin,
        .recursive = recursive,
        .poll = poll,
        .ignore_bds_parents = ignore_bds_parents,
        .parent = parent,
        .counter = counter,
    };
    AioContext *ctx = bs ? bdrv_get_aio_context(bs) : qemu_get_aio_context();

    /* Keep bs alive (and its drain pending) until the BH ran. */
    if (bs) {
        bdrv_inc_in_flight(bs);
    }
    aio_bh_schedule_oneshot(ctx, co_drain_bh, &call);
    qemu_coroutine_yield();
    /* Anything else waking us would be a bug in whoever did it. */
    assert(call.done);
}

void bdrv_do_drained_begin_quiesce(BlockDriverState *bs, BdrvChild *parent,
                                   bool ignore_bds_parents)
{
    assert(!qemu_in_coroutine());

    /* Parent-to-child order: stop the sources of requests first. */
    if (qatomic_fetch_inc(&bs->quiesce_counter) == 0) {
        aio_disable_external(bdrv_get_aio_context(bs));
    }
    parents_drained_begin(bs, parent, ignore_bds_parents);
    driver_drain_invoke(bs, true, NULL);
}

static void do_drained_begin(BlockDriverState *bs, bool recursive,
                             BdrvChild *parent, bool ignore_bds_parents,
                             bool poll)
{
    BdrvChild *child, *next;

    if (qemu_in_coroutine()) {
        co_yield_to_drain(bs, true, recursive, parent, ignore_bds_parents,
                          poll, NULL);
        return;
    }

    bdrv_do_drained_begin_quiesce(bs, parent, ignore_bds_parents);

    if (recursive) {
        assert(!ignore_bds_parents);
        bs->recursive_quiesce_counter++;
        QLIST_FOREACH_SAFE(child, &bs->children, next, next) {
            do_drained_begin(child->bs, true, child, false, false);
        }
    }

    /*
     * One poll, at the top, is enough: it runs the whole AioContext, which
     * covers every node of the subtree.
     */
    if (poll) {
        assert(!ignore_bds_parents);
        BDRV_POLL_WHILE(bs, drain_poll_top_level(bs, recursive, parent));
    }
}

void bdrv_drained_begin(BlockDriverState *bs)
{
    do_drained_begin(bs, false, NULL, false, true);
}

void bdrv_subtree_drained_begin(BlockDriverState *bs)
{
    do_drained_begin(bs, true, NULL, false, true);
}

/*
 * Never polls (callers may run inside a graph change); every operation
 * it leaves scheduled bumps *counter until it settles, and whoever set up
 * the counter polls it down to 0.
 */
static void do_drained_end(BlockDriverState *bs, bool recursive,
                           BdrvChild *parent, bool ignore_bds_parents,
                           int *counter)
{
    BdrvChild *child;

    assert(counter);
    if (qemu_in_coroutine()) {
        co_yield_to_drain(bs, false, recursive, parent, ignore_bds_parents,
                          false, counter);
        return;
    }
    assert(bs->quiesce_counter > 0);

    /* Child-to-parent order: resume the node before its users. */
    driver_drain_invoke(bs, false, counter);
    parents_drained_end(bs, parent, ignore_bds_parents, counter);
    if (qatomic_fetch_dec(&bs->quiesce_counter) == 1) {
        aio_enable_external(bdrv_get_aio_context(bs));
    }

    if (recursive) {
        assert(!ignore_bds_parents);
        bs->recursive_quiesce_counter--;
        QLIST_FOREACH(child, &bs->children, next) {
            do_drained_end(child->bs, true, child, false, counter);
        }
    }
}

void bdrv_drained_end(BlockDriverState *bs)
{
    int counter = 0;

    do_drained_end(bs, false, NULL, false, &counter);
    BDRV_POLL_WHILE(bs, qatomic_read(&counter) > 0);
}

void bdrv_drained_end_no_poll(BlockDriverState *bs, int *drained_end_counter)
{
    do_drained_end(bs, false, NULL, false, drained_end_counter);
}

void bdrv_subtree_drained_end(BlockDriverState *bs)
{
    int counter = 0;

    do_drained_end(bs, true, NULL, false, &counter);
    BDRV_POLL_WHILE(bs, qatomic_read(&counter) > 0);
}

void bdrv_apply_subtree_drain(BdrvChild *child, BlockDriverState *new_parent)
{
    int i;

    for (i = 0; i < new_parent->recursive_quiesce_counter; i++) {
        do_drained_begin(child->bs, true, child, false, true);
    }
}

void bdrv_unapply_subtree_drain(BdrvChild *child,
                                BlockDriverState *old_parent)
{
    int counter = 0;
    int i;

    for (i = 0; i < old_parent->recursive_quiesce_counter; i++) {
        do_drained_end(child->bs, true, child, false, &counter);
    }
    BDRV_POLL_WHILE(child->bs, qatomic_read(&counter) > 0);
}

void bdrv_drain(BlockDriverState *bs)
{
    bdrv_drained_begin(bs);
    bdrv_drained_end(bs);
}

static void assert_idle(BlockDriverState *bs)
{
    BdrvChild *child;

    assert(qatomic_read(&bs->in_flight) == 0);
    QLIST_FOREACH(child, &bs->children, next) {
        assert_idle(child->bs);
    }
}

static bool drain_all_poll(void)
{
    BlockDriverState *bs = NULL;
    bool busy = false;

    /* Polling can't change the graph, so walking all nodes is safe. */
    while ((bs = bdrv_next_all_states(bs))) {
        busy |= bdrv_drain_poll(bs, false, NULL, true);
    }
    return busy;
}

void bdrv_drain_all_begin(void)
{
    BlockDriverState *bs = NULL;

    if (qemu_in_coroutine()) {
        co_yield_to_drain(NULL, true, false, NULL, true, true, NULL);
        return;
    }

    assert(qemu_get_current_aio_context() == qemu_get_aio_context());
    assert(bdrv_drain_all_count < INT_MAX);
    bdrv_drain_all_count++;

    /* Quiesce every node first, then wait for all of them at once. */
    while ((bs = bdrv_next_all_states(bs))) {
        do_drained_begin(bs, false, NULL, true, false);
    }
    AIO_WAIT_WHILE(NULL, drain_all_poll());

    while ((bs = bdrv_next_all_states(bs))) {
        assert_idle(bs);
    }
}

void bdrv_drain_all_end_quiesce(BlockDriverState *bs)
{
    int counter = 0;

    assert(bs->quiesce_counter > 0);
    assert(!bs->refcnt);

    while (bs->quiesce_counter) {
        do_drained_end(bs, false, NULL, true, &counter);
    }
    BDRV_POLL_WHILE(bs, qatomic_read(&counter) > 0);
}

void bdrv_drain_all_end(void)
{
    BlockDriverState *bs = NULL;
    int counter = 0;

    while ((bs = bdrv_next_all_states(bs))) {
        do_drained_end(bs, false, NULL, true, &counter);
    }
    AIO_WAIT_WHILE(NULL, qatomic_read(&counter) > 0);

    assert(bdrv_drain_all_count > 0);
    bdrv_drain_all_count--;
}

void bdrv_drain_all(void)
{
    bdrv_drain_all_begin();
    bdrv_drain_all_end();
}

/* ------------------------------------------------------------------ */
/* Plug/unplug, flush_all, debug events                                */
/* ------------------------------------------------------------------ */

void bdrv_io_plug(BlockDriverState *bs)
{
    BdrvChild *child;

    QLIST_FOREACH(child, &bs->children, next) {
        bdrv_io_plug(child->bs);
    }
    if (qatomic_fetch_inc(&bs->io_plugged) == 0 &&
        bs->drv && bs->drv->bdrv_io_plug) {
        bs->drv->bdrv_io_plug(bs);
    }
}

void bdrv_io_unplug(BlockDriverState *bs)
{
    BdrvChild *child;

    assert(bs->io_plugged);
    if (qatomic_fetch_dec(&bs->io_plugged) == 1 &&
        bs->drv && bs->drv->bdrv_io_unplug) {
        bs->drv->bdrv_io_unplug(bs);
    }
    QLIST_FOREACH(child, &bs->children, next) {
        bdrv_io_unplug(child->bs);
    }
}

int bdrv_flush_all(void)
{
    BdrvNextIterator it;
    BlockDriverState *bs;
    int result = 0;

    for (bs = bdrv_first(&it); bs; bs = bdrv_next(&it)) {
        int ret = bdrv_flush(bs);

        if (ret < 0 && !result) {
            result = ret;
        }
    }
    return result;
}

void bdrv_debug_event(BlockDriverState *bs, BlkdebugEvent event)
{
    if (bs) {
        debug_event(bs, event);
    }
}

/* ------------------------------------------------------------------ */
/* Synchronous wrappers (block-core.md §3.6)                           */
/* ------------------------------------------------------------------ */

#define CHILD_CTX(child) bdrv_get_aio_context((child)->bs)

CO_WRAPPER(bdrv_pread, bdrv_co_pread, CHILD_CTX(child),
           (BdrvChild *, child), (int64_t, offset), (int64_t, bytes),
           (void *, buf), (BdrvRequestFlags, flags))
CO_WRAPPER(bdrv_pwrite, bdrv_co_pwrite, CHILD_CTX(child),
           (BdrvChild *, child), (int64_t, offset), (int64_t, bytes),
           (const void *, buf), (BdrvRequestFlags, flags))
CO_WRAPPER(bdrv_pwrite_sync, bdrv_co_pwrite_sync, CHILD_CTX(child),
           (BdrvChild *, child), (int64_t, offset), (int64_t, bytes),
           (const void *, buf), (BdrvRequestFlags, flags))
CO_WRAPPER(bdrv_preadv, bdrv_co_preadv, CHILD_CTX(child),
           (BdrvChild *, child), (int64_t, offset), (int64_t, bytes),
           (QEMUIOVector *, qiov), (BdrvRequestFlags, flags))
CO_WRAPPER(bdrv_pwritev, bdrv_co_pwritev, CHILD_CTX(child),
           (BdrvChild *, child), (int64_t, offset), (int64_t, bytes),
           (QEMUIOVector *, qiov), (BdrvRequestFlags, flags))
CO_WRAPPER(bdrv_pwrite_zeroes, bdrv_co_pwrite_zeroes, CHILD_CTX(child),
           (BdrvChild *, child), (int64_t, offset), (int64_t, bytes),
           (BdrvRequestFlags, flags))
CO_WRAPPER(bdrv_pdiscard, bdrv_co_pdiscard, CHILD_CTX(child),
           (BdrvChild *, child), (int64_t, offset), (int64_t, bytes))
CO_WRAPPER(bdrv_truncate, bdrv_co_truncate, CHILD_CTX(child),
           (BdrvChild *, child), (int64_t, offset), (bool, exact),
           (PreallocMode, prealloc), (BdrvRequestFlags, flags),
           (Error **, errp))
CO_WRAPPER(bdrv_flush, bdrv_co_flush, bdrv_get_aio_context(bs),
           (BlockDriverState *, bs))
CO_WRAPPER(bdrv_check, bdrv_co_check, bdrv_get_aio_context(bs),
           (BlockDriverState *, bs), (BdrvCheckResult *, res),
           (BdrvCheckMode, fix))
CO_WRAPPER(bdrv_readv_vmstate, bdrv_co_readv_vmstate,
           bdrv_get_aio_context(bs),
           (BlockDriverState *, bs), (QEMUIOVector *, qiov), (int64_t, pos))
CO_WRAPPER(bdrv_writev_vmstate, bdrv_co_writev_vmstate,
           bdrv_get_aio_context(bs),
           (BlockDriverState *, bs), (QEMUIOVector *, qiov), (int64_t, pos))
CO_WRAPPER(bdrv_common_block_status_above, bdrv_co_common_block_status_above,
           bdrv_get_aio_context(bs),
           (BlockDriverState *, bs), (BlockDriverState *, base),
           (bool, include_base), (bool, want_zero), (int64_t, offset),
           (int64_t, bytes), (int64_t *, pnum), (int64_t *, map),
           (BlockDriverState **, file), (int *, depth))
CO_WRAPPER(bdrv_is_allocated, bdrv_co_is_allocated, bdrv_get_aio_context(bs),
           (BlockDriverState *, bs), (int64_t, offset), (int64_t, bytes),
           (int64_t *, pnum))
CO_WRAPPER(bdrv_is_allocated_above, bdrv_co_is_allocated_above,
           bdrv_get_aio_context(top),
           (BlockDriverState *, top), (BlockDriverState *, base),
           (bool, include_base), (int64_t, offset), (int64_t, bytes),
           (int64_t *, pnum))
