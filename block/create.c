/*
 * Image creation: running a driver's create callback, creating the
 * protocol-level file, the generic fallback for protocols that can only
 * open existing storage, and bdrv_img_create (what "qemu-img create"
 * does between parsing its command line and printing errors).
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "block/block-backend.h"

/* ---- Running create callbacks ---- */

static int coroutine_fn bdrv_co_create(BlockDriver *drv, const char *filename,
                                       QemuOpts *opts, Error **errp)
{
    ERRP_GUARD();
    int ret;

    if (!drv->bdrv_co_create_opts) {
        error_setg(errp, "Driver '%s' does not support image creation",
                   drv->format_name);
        return -ENOTSUP;
    }

    ret = drv->bdrv_co_create_opts(drv, filename, opts, errp);
    if (ret < 0 && !*errp) {
        error_setg_errno(errp, -ret, "Could not create image");
    }
    return ret;
}

/* A create call handed to a coroutine by a synchronous caller. */
typedef struct CreateCo {
    BlockDriver *drv;       /* NULL: create the protocol file */
    const char *filename;
    QemuOpts *opts;
    int ret;
    bool done;
    Error *err;
} CreateCo;

static void coroutine_fn bdrv_create_co_entry(void *opaque)
{
    CreateCo *cco = opaque;

    if (cco->drv) {
        cco->ret = bdrv_co_create(cco->drv, cco->filename, cco->opts,
                                  &cco->err);
    } else {
        cco->ret = bdrv_co_create_file(cco->filename, cco->opts, &cco->err);
    }
    cco->done = true;
    aio_wait_kick();
}

/* Run the request in a coroutine and poll the main loop until it is done. */
static int bdrv_create_run(CreateCo *cco, Error **errp)
{
    if (qemu_in_coroutine()) {
        bdrv_create_co_entry(cco);
    } else {
        Coroutine *co = qemu_coroutine_create(bdrv_create_co_entry, cco);

        qemu_coroutine_enter(co);
        AIO_WAIT_WHILE(qemu_get_aio_context(), !cco->done);
    }
    error_propagate(errp, cco->err);
    return cco->ret;
}

int bdrv_create(BlockDriver *drv, const char *filename, QemuOpts *opts,
                Error **errp)
{
    CreateCo cco = {
        .drv = drv,
        .filename = filename,
        .opts = opts,
    };

    return bdrv_create_run(&cco, errp);
}

int coroutine_fn bdrv_co_create_file(const char *filename, QemuOpts *opts,
                                     Error **errp)
{
    QemuOpts *protocol_opts;
    BlockDriver *drv;
    QDict *qdict;
    int ret;

    drv = bdrv_find_protocol(filename, true, errp);
    if (!drv) {
        return -ENOENT;
    }

    if (!drv->create_opts) {
        error_setg(errp, "Driver '%s' does not support image creation",
                   drv->format_name);
        return -ENOTSUP;
    }

    /*
     * opts belongs to the merged format+protocol list, whose defaults are
     * the format's where names overlap.  Hand the protocol only what was
     * actually set, re-parsed against its own list, so that it sees its
     * own defaults.
     */
    qdict = qemu_opts_to_qdict(opts, NULL);
    protocol_opts = qemu_opts_from_qdict(drv->create_opts, qdict, errp);
    if (!protocol_opts) {
        ret = -EINVAL;
        goto out;
    }

    ret = bdrv_co_create(drv, filename, protocol_opts, errp);

out:
    qemu_opts_del(protocol_opts);
    qobject_unref(qdict);
    return ret;
}

int bdrv_create_file(const char *filename, QemuOpts *opts, Error **errp)
{
    CreateCo cco = {
        .filename = filename,
        .opts = opts,
    };

    return bdrv_create_run(&cco, errp);
}

/* ---- Fallback for protocols that can only open existing storage ---- */

QemuOptsList bdrv_create_opts_simple = {
    .name = "simple-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(bdrv_create_opts_simple.head),
    .desc = {
        {
            .name = BLOCK_OPT_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Virtual disk size",
        },
        {
            .name = BLOCK_OPT_PREALLOC,
            .type = QEMU_OPT_STRING,
            .help = "Preallocation mode (allowed values: off)",
        },
        { /* end of list */ }
    },
};

/*
 * Grow blk to at least minimum_size if it is smaller.  Storage that cannot
 * be resized is fine as long as it is already large enough.  Returns the
 * resulting length or -errno.
 */
static int64_t coroutine_fn
create_file_fallback_truncate(BlockBackend *blk, int64_t minimum_size,
                              Error **errp)
{
    Error *local_err = NULL;
    int64_t size;
    int ret;

    ret = blk_co_truncate(blk, minimum_size, false, PREALLOC_MODE_OFF, 0,
                          &local_err);
    if (ret < 0 && ret != -ENOTSUP) {
        error_propagate(errp, local_err);
        return ret;
    }

    size = blk_getlength(blk);
    if (size < 0) {
        error_free(local_err);
        error_setg_errno(errp, -size,
                         "Failed to inquire the new image file's length");
        return size;
    }

    if (size < minimum_size) {
        /* The truncate error (if any) explains why it is too small. */
        error_propagate(errp, local_err);
        return -ENOTSUP;
    }

    error_free(local_err);
    return size;
}

/* Zero the first sector so that no stale image header survives. */
static int coroutine_fn
create_file_fallback_zero_first_sector(BlockBackend *blk, int64_t size,
                                       Error **errp)
{
    int64_t bytes = MIN(size, (int64_t)BDRV_SECTOR_SIZE);
    int ret;

    if (!bytes) {
        return 0;
    }
    ret = blk_co_pwrite_zeroes(blk, 0, bytes, BDRV_REQ_MAY_UNMAP);
    if (ret < 0) {
        error_setg_errno(errp, -ret,
                         "Failed to clear the new image's first sector");
    }
    return ret;
}

int coroutine_fn bdrv_co_create_opts_simple(BlockDriver *drv,
                                            const char *filename,
                                            QemuOpts *opts, Error **errp)
{
    BlockBackend *blk;
    QDict *options;
    PreallocMode prealloc;
    Error *local_err = NULL;
    g_autofree char *buf = NULL;
    int64_t size;
    int ret;

    size = qemu_opt_get_size_del(opts, BLOCK_OPT_SIZE, 0);
    buf = qemu_opt_get_del(opts, BLOCK_OPT_PREALLOC);
    prealloc = qapi_enum_parse(&PreallocMode_lookup, buf, PREALLOC_MODE_OFF,
                               &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return -EINVAL;
    }
    if (prealloc != PREALLOC_MODE_OFF) {
        error_setg(errp, "Unsupported preallocation mode '%s'",
                   PreallocMode_str(prealloc));
        return -ENOTSUP;
    }

    options = qdict_new();
    qdict_put_str(options, "driver", drv->format_name);

    blk = blk_new_open(filename, NULL, options, BDRV_O_RDWR | BDRV_O_RESIZE,
                       errp);
    if (!blk) {
        error_prepend(errp, "Protocol driver '%s' does not support image "
                      "creation, and opening the image failed: ",
                      drv->format_name);
        return -EINVAL;
    }

    size = create_file_fallback_truncate(blk, size, errp);
    if (size < 0) {
        ret = size;
        goto out;
    }

    ret = create_file_fallback_zero_first_sector(blk, size, errp);

out:
    blk_unref(blk);
    return ret;
}

/* ---- qemu-img create ---- */

/*
 * Open the backing file the way qemu-img create does: without I/O (so an
 * encrypted backing file needs no key), shared, read-only.  On success
 * the caller owns the returned node.
 */
static BlockDriverState *bdrv_img_create_open_backing(const char *filename,
                                                      const char *backing_file,
                                                      const char *backing_fmt,
                                                      int flags, Error **errp)
{
    ERRP_GUARD();
    g_autofree char *full_backing = NULL;
    BlockDriverState *bs;
    QDict *backing_options;
    int back_flags;

    full_backing = bdrv_get_full_backing_filename_from_filename(filename,
                                                                backing_file,
                                                                errp);
    if (!full_backing) {
        return NULL;
    }

    back_flags = flags & ~(BDRV_O_RDWR | BDRV_O_SNAPSHOT | BDRV_O_NO_BACKING);
    back_flags |= BDRV_O_NO_IO;

    backing_options = qdict_new();
    if (backing_fmt) {
        qdict_put_str(backing_options, "driver", backing_fmt);
    }
    qdict_put_bool(backing_options, BDRV_OPT_FORCE_SHARE, true);

    bs = bdrv_open(full_backing, NULL, backing_options, back_flags, errp);
    if (!bs) {
        error_append_hint(errp, "Could not open backing image.\n");
    }
    return bs;
}

void bdrv_img_create(const char *filename, const char *fmt,
                     const char *base_filename, const char *base_fmt,
                     char *options, uint64_t img_size, int flags,
                     bool quiet, Error **errp)
{
    ERRP_GUARD();
    QemuOptsList *create_opts = NULL;
    QemuOpts *opts = NULL;
    const char *backing_file, *backing_fmt;
    BlockDriver *drv, *proto_drv;
    Error *local_err = NULL;
    int64_t size;
    int ret;

    drv = bdrv_find_format(fmt);
    if (!drv) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return;
    }

    proto_drv = bdrv_find_protocol(filename, true, errp);
    if (!proto_drv) {
        return;
    }

    if (!drv->create_opts) {
        error_setg(errp, "Format driver '%s' does not support image creation",
                   drv->format_name);
        return;
    }
    if (!proto_drv->create_opts) {
        error_setg(errp, "Protocol driver '%s' does not support image "
                   "creation", proto_drv->format_name);
        return;
    }

    /* The format's options first: that is the order the user sees. */
    create_opts = qemu_opts_append(create_opts, drv->create_opts);
    create_opts = qemu_opts_append(create_opts, proto_drv->create_opts);
    opts = qemu_opts_create(create_opts, NULL, 0, &error_abort);

    if (options && !qemu_opts_do_parse(opts, options, NULL, errp)) {
        goto out;
    }

    if (!qemu_opt_get(opts, BLOCK_OPT_SIZE)) {
        /* UINT64_MAX (no size given) is stored as -1, meaning "unset". */
        qemu_opt_set_number(opts, BLOCK_OPT_SIZE, img_size, &error_abort);
    } else if (img_size != UINT64_C(-1)) {
        error_setg(errp, "The image size must be specified only once");
        goto out;
    }

    if (base_filename &&
        !qemu_opt_set(opts, BLOCK_OPT_BACKING_FILE, base_filename, NULL)) {
        error_setg(errp, "Backing file not supported for file format '%s'",
                   fmt);
        goto out;
    }
    if (base_fmt &&
        !qemu_opt_set(opts, BLOCK_OPT_BACKING_FMT, base_fmt, NULL)) {
        error_setg(errp, "Backing file format not supported for file "
                   "format '%s'", fmt);
        goto out;
    }

    backing_file = qemu_opt_get(opts, BLOCK_OPT_BACKING_FILE);
    if (backing_file) {
        if (!strcmp(filename, backing_file)) {
            error_setg(errp, "Error: Trying to create an image with the "
                       "same filename as the backing file");
            goto out;
        }
        if (backing_file[0] == '\0') {
            error_setg(errp, "Expected backing file name, got empty string");
            goto out;
        }
    }
    backing_fmt = qemu_opt_get(opts, BLOCK_OPT_BACKING_FMT);

    /*
     * Without a size the backing file provides it, unless the caller
     * forbade opening it (qemu-img create -u).  Since QEMU 7.2 a backing
     * file always needs an explicit format; opening it first lets the
     * error name the format that probing would have chosen.
     */
    size = qemu_opt_get_size(opts, BLOCK_OPT_SIZE, img_size);
    if (backing_file && !(flags & BDRV_O_NO_BACKING)) {
        BlockDriverState *bs;

        bs = bdrv_img_create_open_backing(filename, backing_file, backing_fmt,
                                          flags, errp);
        if (!bs) {
            goto out;
        }
        if (!backing_fmt) {
            error_setg(errp, "Backing file specified without backing format");
            error_append_hint(errp, "Detected format of %s.",
                              bs->drv->format_name);
            bdrv_unref(bs);
            goto out;
        }
        if (size == -1) {
            size = bdrv_getlength(bs);
            if (size < 0) {
                error_setg_errno(errp, -size, "Could not get size of '%s'",
                                 backing_file);
                bdrv_unref(bs);
                goto out;
            }
            qemu_opt_set_number(opts, BLOCK_OPT_SIZE, size, &error_abort);
        }
        bdrv_unref(bs);
    } else if (backing_file && !backing_fmt) {
        error_setg(errp, "Backing file specified without backing format");
        goto out;
    }

    if (size == -1) {
        error_setg(errp, "Image creation needs a size parameter");
        goto out;
    }

    if (!quiet) {
        printf("Formatting '%s', fmt=%s ", filename, fmt);
        qemu_opts_print(opts, " ");
        puts("");
        fflush(stdout);
    }

    ret = bdrv_create(drv, filename, opts, &local_err);
    if (ret == -EFBIG) {
        /*
         * Whatever the driver said, "too large" is the useful summary; a
         * larger cluster size may help if the format has one.
         */
        const char *hint = "";

        if (qemu_opt_get_size(opts, BLOCK_OPT_CLUSTER_SIZE, 0)) {
            hint = " (try using a larger cluster size)";
        }
        error_free(local_err);
        error_setg(errp, "The image size is too large for file format '%s'%s",
                   fmt, hint);
    } else {
        error_propagate(errp, local_err);
    }

out:
    qemu_opts_del(opts);
    qemu_opts_free(create_opts);
}
