/*
 * raw: the format driver for images that are plain byte arrays.
 *
 * Without options the node passes every request straight to its "file"
 * child.  The runtime options "offset" and "size" turn it into a window on
 * the child: requests are shifted by offset, and with size they may not
 * leave the window.
 *
 * When the format was guessed by probing rather than given, a guest could
 * write a header of another format into sector 0 and so change what the
 * next probe finds.  Such nodes therefore work in whole sectors and refuse
 * (-EPERM) writes whose new sector 0 would no longer probe as raw.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/option.h"
#include "block/block_int.h"

typedef struct BDRVRawState {
    uint64_t offset;        /* where the image starts in the child */
    uint64_t size;          /* image length in bytes */
    bool has_size;          /* size was given: the window is fixed */
} BDRVRawState;

static const char *const raw_mutable_opts[] = { "offset", "size", NULL };

static const char *const raw_strong_runtime_opts[] = {
    "offset",
    "size",
    NULL
};

static QemuOptsList raw_runtime_opts = {
    .name = "raw",
    .head = QTAILQ_HEAD_INITIALIZER(raw_runtime_opts.head),
    .desc = {
        {
            .name = "offset",
            .type = QEMU_OPT_SIZE,
            .help = "offset in the disk where the image starts",
        },
        {
            .name = "size",
            .type = QEMU_OPT_SIZE,
            .help = "virtual disk size",
        },
        { /* end of list */ }
    },
};

static QemuOptsList raw_create_opts = {
    .name = "raw-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(raw_create_opts.head),
    .desc = {
        {
            .name = BLOCK_OPT_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Virtual disk size",
        },
        { /* end of list */ }
    },
};

/* Take offset/size out of options (open or reopen). */
static int raw_read_options(QDict *options, uint64_t *offset, bool *has_size,
                            uint64_t *size, Error **errp)
{
    QemuOpts *opts;
    int ret = 0;

    opts = qemu_opts_create(&raw_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        ret = -EINVAL;
        goto out;
    }

    *offset = qemu_opt_get_size(opts, "offset", 0);
    *has_size = qemu_opt_find(opts, "size") != NULL;
    *size = qemu_opt_get_size(opts, "size", 0);

out:
    qemu_opts_del(opts);
    return ret;
}

/*
 * Check offset/size against the child's current length and store them in
 * s (the live state at open, a staging copy at reopen).
 */
static int raw_apply_options(BlockDriverState *bs, BDRVRawState *s,
                             uint64_t offset, bool has_size, uint64_t size,
                             Error **errp)
{
    int64_t real_size = bdrv_getlength(bs->file->bs);

    if (real_size < 0) {
        error_setg_errno(errp, -real_size, "Could not get image size");
        return real_size;
    }

    if (offset > real_size) {
        error_setg(errp, "Offset (%" PRIu64 ") cannot be greater than "
                   "size of the containing file (%" PRId64 ")",
                   offset, real_size);
        return -EINVAL;
    }

    if (has_size && real_size - offset < size) {
        /* The doubled space is QEMU's; scripts may match on it. */
        error_setg(errp, "The sum of offset (%" PRIu64 ") and size "
                   "(%" PRIu64 ") has to be smaller or equal to the "
                   " actual size of the containing file (%" PRId64 ")",
                   offset, size, real_size);
        return -EINVAL;
    }

    /*
     * The core rounds lengths up to whole sectors; a fixed size that is not
     * a multiple would let the last sector reach past the window.
     */
    if (has_size && !QEMU_IS_ALIGNED(size, BDRV_SECTOR_SIZE)) {
        error_setg(errp, "Specified size is not multiple of %llu",
                   BDRV_SECTOR_SIZE);
        return -EINVAL;
    }

    s->offset = offset;
    s->has_size = has_size;
    s->size = has_size ? size : real_size - offset;
    return 0;
}

/*
 * Map a request on this node to the child.  A range that leaves a fixed
 * window must not touch the child at all: reads fail with -EINVAL, writes
 * (which would need more room) with -ENOSPC.
 */
static int raw_adjust_offset(BlockDriverState *bs, int64_t *offset,
                             int64_t bytes, bool is_write)
{
    BDRVRawState *s = bs->opaque;

    if (s->has_size && (*offset > s->size || bytes > s->size - *offset)) {
        return is_write ? -ENOSPC : -EINVAL;
    }
    if (*offset > INT64_MAX - s->offset) {
        return -EINVAL;
    }
    *offset += s->offset;
    return 0;
}

static int raw_open(BlockDriverState *bs, QDict *options, int flags,
                    Error **errp)
{
    BDRVRawState *s = bs->opaque;
    BdrvChildRole file_role;
    uint64_t offset, size;
    bool has_size;
    int ret;

    ret = raw_read_options(options, &offset, &has_size, &size, errp);
    if (ret < 0) {
        return ret;
    }

    /*
     * A plain raw node shows its child unchanged, so it can be looked
     * through like a filter.  A window shows only part of the child's data.
     */
    if (offset || has_size) {
        file_role = BDRV_CHILD_DATA | BDRV_CHILD_PRIMARY;
    } else {
        file_role = BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY;
    }

    if (!bdrv_open_child(NULL, options, "file", bs, &child_of_bds, file_role,
                         false, errp)) {
        return -EINVAL;
    }

    bs->sg = bdrv_is_sg(bs->file->bs);
    bs->supported_write_flags = BDRV_REQ_WRITE_UNCHANGED |
        (BDRV_REQ_FUA & bs->file->bs->supported_write_flags);
    bs->supported_zero_flags = BDRV_REQ_WRITE_UNCHANGED |
        ((BDRV_REQ_FUA | BDRV_REQ_MAY_UNMAP | BDRV_REQ_NO_FALLBACK) &
         bs->file->bs->supported_zero_flags);
    bs->supported_truncate_flags = bs->file->bs->supported_truncate_flags &
                                   BDRV_REQ_ZERO_WRITE;

    if (bs->probed && !bdrv_is_read_only(bs)) {
        bdrv_refresh_filename(bs->file->bs);
        fprintf(stderr,
                "WARNING: Image format was not specified for '%s' and probing "
                "guessed raw.\n"
                "         Automatically detecting the format is dangerous for "
                "raw images, write operations on block 0 will be restricted.\n"
                "         Specify the 'raw' format explicitly to remove the "
                "restrictions.\n",
                bs->file->bs->filename);
    }

    return raw_apply_options(bs, s, offset, has_size, size, errp);
}

/* Every image is a candidate, but any real format wins. */
static int raw_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    return 1;
}

static void raw_refresh_limits(BlockDriverState *bs, Error **errp)
{
    if (bs->probed) {
        /*
         * Whole sectors only, so that a write touching sector 0 always
         * carries all of it and can be checked before it lands.
         */
        bs->bl.request_alignment = BDRV_SECTOR_SIZE;
    }
}

static int64_t raw_getlength(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    int64_t len = bdrv_getlength(bs->file->bs);

    if (len < 0) {
        return len;
    }

    /* The child may have changed size behind our back; follow it. */
    if (len < s->offset) {
        s->size = 0;
    } else if (s->has_size) {
        s->size = MIN(s->size, len - s->offset);
    } else {
        s->size = len - s->offset;
    }
    return s->size;
}

static int coroutine_fn raw_co_preadv_part(BlockDriverState *bs,
                                           int64_t offset, int64_t bytes,
                                           QEMUIOVector *qiov,
                                           size_t qiov_offset,
                                           BdrvRequestFlags flags)
{
    int ret = raw_adjust_offset(bs, &offset, bytes, false);

    if (ret < 0) {
        return ret;
    }
    BLKDBG_EVENT(bs->file, BLKDBG_READ_AIO);
    return bdrv_co_preadv_part(bs->file, offset, bytes, qiov, qiov_offset,
                               flags);
}

static int coroutine_fn raw_co_pwritev_part(BlockDriverState *bs,
                                            int64_t offset, int64_t bytes,
                                            QEMUIOVector *qiov,
                                            size_t qiov_offset,
                                            BdrvRequestFlags flags)
{
    g_autoptr(void) sector0 = NULL;
    QEMUIOVector checked_qiov;
    int ret;

    QEMU_BUILD_BUG_ON(BLOCK_PROBE_BUF_SIZE != BDRV_SECTOR_SIZE);

    if (bs->probed && offset < BLOCK_PROBE_BUF_SIZE && bytes) {
        /* raw_refresh_limits makes the core send whole sectors. */
        assert(offset == 0 && bytes >= BLOCK_PROBE_BUF_SIZE);

        /*
         * Probe a private copy: the caller's buffer may be guest memory
         * that changes between our check and the write.
         */
        sector0 = qemu_try_blockalign(bs->file->bs, BLOCK_PROBE_BUF_SIZE);
        if (!sector0) {
            return -ENOMEM;
        }
        if (qemu_iovec_to_buf(qiov, qiov_offset, sector0,
                              BLOCK_PROBE_BUF_SIZE) != BLOCK_PROBE_BUF_SIZE) {
            ret = -EINVAL;
            goto out;
        }
        if (bdrv_probe_all(sector0, BLOCK_PROBE_BUF_SIZE, NULL) != bs->drv) {
            ret = -EPERM;
            goto out;
        }

        ret = qemu_iovec_init_extended(&checked_qiov,
                                       sector0, BLOCK_PROBE_BUF_SIZE,
                                       qiov, qiov_offset + BLOCK_PROBE_BUF_SIZE,
                                       bytes - BLOCK_PROBE_BUF_SIZE, NULL, 0);
        if (ret < 0) {
            goto out;
        }
        qiov = &checked_qiov;
        qiov_offset = 0;
        /* The copy is not a buffer the caller registered. */
        flags &= ~BDRV_REQ_REGISTERED_BUF;
    }

    ret = raw_adjust_offset(bs, &offset, bytes, true);
    if (ret < 0) {
        goto out;
    }

    BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
    ret = bdrv_co_pwritev_part(bs->file, offset, bytes, qiov, qiov_offset,
                               flags);

out:
    if (qiov == &checked_qiov) {
        qemu_iovec_destroy(&checked_qiov);
    }
    return ret;
}

static int coroutine_fn raw_co_block_status(BlockDriverState *bs,
                                            bool want_zero, int64_t offset,
                                            int64_t bytes, int64_t *pnum,
                                            int64_t *map,
                                            BlockDriverState **file)
{
    BDRVRawState *s = bs->opaque;

    *pnum = bytes;
    *file = bs->file->bs;
    *map = offset + s->offset;
    return BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
}

static int coroutine_fn raw_co_pwrite_zeroes(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes,
                                             BdrvRequestFlags flags)
{
    int ret = raw_adjust_offset(bs, &offset, bytes, true);

    if (ret < 0) {
        return ret;
    }
    return bdrv_co_pwrite_zeroes(bs->file, offset, bytes, flags);
}

static int coroutine_fn raw_co_pdiscard(BlockDriverState *bs,
                                        int64_t offset, int64_t bytes)
{
    int ret = raw_adjust_offset(bs, &offset, bytes, true);

    if (ret < 0) {
        return ret;
    }
    return bdrv_co_pdiscard(bs->file, offset, bytes);
}

static int coroutine_fn raw_co_truncate(BlockDriverState *bs, int64_t offset,
                                        bool exact, PreallocMode prealloc,
                                        BdrvRequestFlags flags, Error **errp)
{
    BDRVRawState *s = bs->opaque;

    if (s->has_size) {
        error_setg(errp, "Cannot resize fixed-size raw disks");
        return -ENOTSUP;
    }

    if (INT64_MAX - offset < s->offset) {
        error_setg(errp, "Disk size too large for the chosen offset");
        return -EINVAL;
    }

    s->size = offset;
    return bdrv_co_truncate(bs->file, offset + s->offset, exact, prealloc,
                            flags, errp);
}

static int raw_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    return bdrv_get_info(bs->file->bs, bdi);
}

static int raw_has_zero_init(BlockDriverState *bs)
{
    return bdrv_has_zero_init(bs->file->bs);
}

static BlockMeasureInfo *raw_measure(QemuOpts *opts, BlockDriverState *in_bs,
                                     Error **errp)
{
    BlockMeasureInfo *info;
    int64_t required;

    if (in_bs) {
        required = bdrv_getlength(in_bs);
        if (required < 0) {
            error_setg_errno(errp, -required, "Unable to get image size");
            return NULL;
        }
    } else {
        required = ROUND_UP(qemu_opt_get_size_del(opts, BLOCK_OPT_SIZE, 0),
                            BDRV_SECTOR_SIZE);
    }

    info = g_new0(BlockMeasureInfo, 1);
    info->required = required;
    /* Every byte of a raw image is stored, allocated or not. */
    info->fully_allocated = required;
    return info;
}

static void raw_child_perm(BlockDriverState *bs, BdrvChild *c,
                           BdrvChildRole role,
                           BlockReopenQueue *reopen_queue,
                           uint64_t perm, uint64_t shared,
                           uint64_t *nperm, uint64_t *nshared)
{
    bdrv_default_perms(bs, c, role, reopen_queue, perm, shared,
                       nperm, nshared);

    /*
     * The defaults for a DATA child take WRITE and RESIZE whenever the node
     * is writable.  raw has no metadata to update, so it needs them only
     * when its own parents do; asking for less avoids needless conflicts.
     */
    *nperm &= ~(BLK_PERM_WRITE | BLK_PERM_RESIZE);
    *nperm |= perm & (BLK_PERM_WRITE | BLK_PERM_RESIZE);
}

static int raw_reopen_prepare(BDRVReopenState *state,
                              BlockReopenQueue *queue, Error **errp)
{
    g_autofree BDRVRawState *new_s = NULL;
    uint64_t offset, size;
    bool has_size;
    int ret;

    ret = raw_read_options(state->options, &offset, &has_size, &size, errp);
    if (ret < 0) {
        return ret;
    }

    /* A failed prepare gets no abort: stage only once all is checked. */
    new_s = g_new0(BDRVRawState, 1);
    ret = raw_apply_options(state->bs, new_s, offset, has_size, size, errp);
    if (ret < 0) {
        return ret;
    }
    state->opaque = g_steal_pointer(&new_s);
    return 0;
}

static void raw_reopen_commit(BDRVReopenState *state)
{
    BDRVRawState *s = state->bs->opaque;

    *s = *(BDRVRawState *)state->opaque;
    g_free(state->opaque);
    state->opaque = NULL;
}

static void raw_reopen_abort(BDRVReopenState *state)
{
    g_free(state->opaque);
    state->opaque = NULL;
}

static int coroutine_fn raw_co_create_opts(BlockDriver *drv,
                                           const char *filename,
                                           QemuOpts *opts, Error **errp)
{
    return bdrv_co_create_file(filename, opts, errp);
}

BlockDriver bdrv_raw = {
    .format_name                = "raw",
    .instance_size              = sizeof(BDRVRawState),
    .is_format                  = true,
    .has_variable_length        = true,
    .create_opts                = &raw_create_opts,
    .mutable_opts               = raw_mutable_opts,
    .strong_runtime_opts        = raw_strong_runtime_opts,

    .bdrv_probe                 = raw_probe,
    .bdrv_open                  = raw_open,
    .bdrv_co_create_opts        = raw_co_create_opts,
    .bdrv_reopen_prepare        = raw_reopen_prepare,
    .bdrv_reopen_commit         = raw_reopen_commit,
    .bdrv_reopen_abort          = raw_reopen_abort,
    .bdrv_refresh_limits        = raw_refresh_limits,
    .bdrv_child_perm            = raw_child_perm,

    .bdrv_getlength             = raw_getlength,
    .bdrv_measure               = raw_measure,
    .bdrv_get_info              = raw_get_info,
    .bdrv_has_zero_init         = raw_has_zero_init,

    .bdrv_co_preadv_part        = raw_co_preadv_part,
    .bdrv_co_pwritev_part       = raw_co_pwritev_part,
    .bdrv_co_pwrite_zeroes      = raw_co_pwrite_zeroes,
    .bdrv_co_pdiscard           = raw_co_pdiscard,
    .bdrv_co_block_status       = raw_co_block_status,
    .bdrv_co_truncate           = raw_co_truncate,
};

static void bdrv_raw_init(void)
{
    bdrv_register(&bdrv_raw);
}

block_init(bdrv_raw_init);
