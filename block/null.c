/*
 * null-co and null-aio: protocol drivers without storage.
 *
 * Reads leave the buffer alone (or zero it with read-zeroes=on), writes
 * and flushes succeed without doing anything.  latency-ns delays every
 * request.  null-co implements the coroutine interface, null-aio the
 * callback one, completing from a bottom half or a timer, so the two
 * exercise both request ladders of the core.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/units.h"
#include "block/block_int.h"

#define NULL_OPT_LATENCY "latency-ns"
#define NULL_OPT_ZEROES  "read-zeroes"

typedef struct BDRVNullState {
    int64_t length;
    int64_t latency_ns;
    bool read_zeroes;
} BDRVNullState;

static QemuOptsList null_runtime_opts = {
    .name = "null",
    .head = QTAILQ_HEAD_INITIALIZER(null_runtime_opts.head),
    .desc = {
        {
            .name = BLOCK_OPT_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "size of the null block",
        },
        {
            .name = NULL_OPT_LATENCY,
            .type = QEMU_OPT_NUMBER,
            .help = "nanoseconds (approximated) to wait "
                    "before completing request",
        },
        {
            .name = NULL_OPT_ZEROES,
            .type = QEMU_OPT_BOOL,
            .help = "return zeroes when read",
        },
        { /* end of list */ }
    },
};

/* The only filename either driver accepts is "<driver>://". */
static void null_check_filename(const char *filename, const char *expected,
                                Error **errp)
{
    if (strcmp(filename, expected)) {
        error_setg(errp, "The only allowed filename for this driver is '%s'",
                   expected);
    }
}

static void null_co_parse_filename(const char *filename, QDict *options,
                                   Error **errp)
{
    null_check_filename(filename, "null-co://", errp);
}

static void null_aio_parse_filename(const char *filename, QDict *options,
                                    Error **errp)
{
    null_check_filename(filename, "null-aio://", errp);
}

static int null_file_open(BlockDriverState *bs, QDict *options, int flags,
                          Error **errp)
{
    BDRVNullState *s = bs->opaque;
    QemuOpts *opts;
    int ret = 0;

    opts = qemu_opts_create(&null_runtime_opts, NULL, 0, &error_abort);
    /* QEMU 7.2 aborts on malformed values here; report them instead. */
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        ret = -EINVAL;
        goto out;
    }
    s->length = qemu_opt_get_size(opts, BLOCK_OPT_SIZE, 1 * GiB);
    s->latency_ns = qemu_opt_get_number(opts, NULL_OPT_LATENCY, 0);
    if (s->latency_ns < 0) {
        error_setg(errp, "latency-ns is invalid");
        ret = -EINVAL;
        goto out;
    }
    s->read_zeroes = qemu_opt_get_bool(opts, NULL_OPT_ZEROES, false);
    bs->supported_write_flags = BDRV_REQ_FUA;

out:
    qemu_opts_del(opts);
    return ret;
}

static int64_t null_getlength(BlockDriverState *bs)
{
    BDRVNullState *s = bs->opaque;

    return s->length;
}

static int64_t null_get_allocated_file_size(BlockDriverState *bs)
{
    return 0;
}

static int null_reopen_prepare(BDRVReopenState *reopen_state,
                               BlockReopenQueue *queue, Error **errp)
{
    return 0;
}

/* ---- null-co: coroutine requests ---- */

static int coroutine_fn null_co_common(BlockDriverState *bs)
{
    BDRVNullState *s = bs->opaque;

    if (s->latency_ns) {
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, s->latency_ns);
    }
    return 0;
}

static int coroutine_fn null_co_preadv(BlockDriverState *bs,
                                       int64_t offset, int64_t bytes,
                                       QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    BDRVNullState *s = bs->opaque;

    if (s->read_zeroes) {
        qemu_iovec_memset(qiov, 0, 0, bytes);
    }
    return null_co_common(bs);
}

static int coroutine_fn null_co_pwritev(BlockDriverState *bs,
                                        int64_t offset, int64_t bytes,
                                        QEMUIOVector *qiov,
                                        BdrvRequestFlags flags)
{
    return null_co_common(bs);
}

static int coroutine_fn null_co_flush(BlockDriverState *bs)
{
    return null_co_common(bs);
}

/* ---- null-aio: callback requests ---- */

typedef struct NullAIOCB {
    BlockAIOCB common;
    QEMUTimer timer;
} NullAIOCB;

static const AIOCBInfo null_aiocb_info = {
    .aiocb_size = sizeof(NullAIOCB),
};

static void null_aio_complete(void *opaque)
{
    NullAIOCB *acb = opaque;

    acb->common.cb(acb->common.opaque, 0);
    qemu_aio_unref(acb);
}

/* Complete after latency-ns (timer) or on the next loop iteration (BH). */
static BlockAIOCB *null_aio_common(BlockDriverState *bs,
                                   BlockCompletionFunc *cb, void *opaque)
{
    BDRVNullState *s = bs->opaque;
    NullAIOCB *acb = qemu_aio_get(&null_aiocb_info, bs, cb, opaque);
    AioContext *ctx = bdrv_get_aio_context(bs);

    if (s->latency_ns) {
        aio_timer_init(ctx, &acb->timer, QEMU_CLOCK_REALTIME, SCALE_NS,
                       null_aio_complete, acb);
        timer_mod_ns(&acb->timer,
                     qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + s->latency_ns);
    } else {
        aio_bh_schedule_oneshot(ctx, null_aio_complete, acb);
    }
    return &acb->common;
}

static BlockAIOCB *null_aio_preadv(BlockDriverState *bs,
                                   int64_t offset, int64_t bytes,
                                   QEMUIOVector *qiov, BdrvRequestFlags flags,
                                   BlockCompletionFunc *cb, void *opaque)
{
    BDRVNullState *s = bs->opaque;

    if (s->read_zeroes) {
        qemu_iovec_memset(qiov, 0, 0, bytes);
    }
    return null_aio_common(bs, cb, opaque);
}

static BlockAIOCB *null_aio_pwritev(BlockDriverState *bs,
                                    int64_t offset, int64_t bytes,
                                    QEMUIOVector *qiov, BdrvRequestFlags flags,
                                    BlockCompletionFunc *cb, void *opaque)
{
    return null_aio_common(bs, cb, opaque);
}

static BlockAIOCB *null_aio_flush(BlockDriverState *bs,
                                  BlockCompletionFunc *cb, void *opaque)
{
    return null_aio_common(bs, cb, opaque);
}

/* ---- Both ---- */

/*
 * Nothing is allocated, so the data "lives" at the same offset of this
 * node; it only reads as zeroes when read-zeroes is on.
 */
static int coroutine_fn null_co_block_status(BlockDriverState *bs,
                                             bool want_zero, int64_t offset,
                                             int64_t bytes, int64_t *pnum,
                                             int64_t *map,
                                             BlockDriverState **file)
{
    BDRVNullState *s = bs->opaque;

    *pnum = bytes;
    *map = offset;
    *file = bs;
    return BDRV_BLOCK_OFFSET_VALID | (s->read_zeroes ? BDRV_BLOCK_ZERO : 0);
}

/*
 * "null-co://" recreates the node unless a strong option (size,
 * read-zeroes) was given; latency does not change the data.
 */
static void null_refresh_filename(BlockDriverState *bs)
{
    const QDictEntry *e;

    for (e = qdict_first(bs->full_open_options); e;
         e = qdict_next(bs->full_open_options, e)) {
        const char *key = qdict_entry_key(e);

        if (strcmp(key, "driver") && strcmp(key, "filename") &&
            strcmp(key, NULL_OPT_LATENCY)) {
            return;
        }
    }
    snprintf(bs->exact_filename, sizeof(bs->exact_filename), "%s://",
             bs->drv->format_name);
}

static const char *const null_strong_runtime_opts[] = {
    BLOCK_OPT_SIZE,
    NULL_OPT_ZEROES,
    NULL
};

static BlockDriver bdrv_null_co = {
    .format_name                  = "null-co",
    .protocol_name                = "null-co",
    .instance_size                = sizeof(BDRVNullState),
    .strong_runtime_opts          = null_strong_runtime_opts,

    .bdrv_file_open               = null_file_open,
    .bdrv_parse_filename          = null_co_parse_filename,
    .bdrv_reopen_prepare          = null_reopen_prepare,
    .bdrv_refresh_filename        = null_refresh_filename,
    .bdrv_getlength               = null_getlength,
    .bdrv_get_allocated_file_size = null_get_allocated_file_size,

    .bdrv_co_preadv               = null_co_preadv,
    .bdrv_co_pwritev              = null_co_pwritev,
    .bdrv_co_flush_to_disk        = null_co_flush,
    .bdrv_co_block_status         = null_co_block_status,
};

static BlockDriver bdrv_null_aio = {
    .format_name                  = "null-aio",
    .protocol_name                = "null-aio",
    .instance_size                = sizeof(BDRVNullState),
    .strong_runtime_opts          = null_strong_runtime_opts,

    .bdrv_file_open               = null_file_open,
    .bdrv_parse_filename          = null_aio_parse_filename,
    .bdrv_reopen_prepare          = null_reopen_prepare,
    .bdrv_refresh_filename        = null_refresh_filename,
    .bdrv_getlength               = null_getlength,
    .bdrv_get_allocated_file_size = null_get_allocated_file_size,

    .bdrv_aio_preadv              = null_aio_preadv,
    .bdrv_aio_pwritev             = null_aio_pwritev,
    .bdrv_aio_flush               = null_aio_flush,
    .bdrv_co_block_status         = null_co_block_status,
};

static void bdrv_null_init(void)
{
    bdrv_register(&bdrv_null_co);
    bdrv_register(&bdrv_null_aio);
}

block_init(bdrv_null_init);
