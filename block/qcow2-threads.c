/*
 * qcow2 cluster compression (zlib raw deflate, zstd) on worker threads,
 * so that a coroutine does not block its AioContext while a cluster is
 * (de)compressed.  At most QCOW2_MAX_THREADS jobs of one image run at a
 * time; more wait on s->thread_task_queue.
 *
 * The output must match QEMU 7.2's byte for byte (images are compared
 * with cmp), hence the exact zlib parameters.
 */
#include "qemu/osdep.h"
#include <zlib.h>
#ifdef CONFIG_ZSTD
#include <zstd.h>
#endif
#include "qemu/thread-pool.h"
#include "block/qcow2.h"

#define QCOW2_MAX_THREADS 4

/* Returns the output size or -errno. */
typedef ssize_t Qcow2CompressFunc(void *dest, size_t dest_size,
                                  const void *src, size_t src_size);

typedef struct Qcow2CompressData {
    void *dest;
    size_t dest_size;
    const void *src;
    size_t src_size;
    ssize_t ret;
    Qcow2CompressFunc *func;
} Qcow2CompressData;

/*
 * Raw deflate stream (no zlib header), 4 KiB window, default level.
 * -ENOMEM: the result does not fit in dest_size.
 */
static ssize_t qcow2_zlib_compress(void *dest, size_t dest_size,
                                   const void *src, size_t src_size)
{
    z_stream strm = { 0 };
    ssize_t ret;

    if (deflateInit2(&strm, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return -EIO;
    }

    /* zlib's next_in is not const everywhere */
    strm.next_in = (Bytef *)src;
    strm.avail_in = src_size;
    strm.next_out = dest;
    strm.avail_out = dest_size;

    switch (deflate(&strm, Z_FINISH)) {
    case Z_STREAM_END:
        ret = dest_size - strm.avail_out;
        break;
    case Z_OK:
        /* Out of space before the end of the stream */
        ret = -ENOMEM;
        break;
    default:
        ret = -EIO;
        break;
    }

    deflateEnd(&strm);
    return ret;
}

/*
 * Fill dest exactly.  The compressed size is only known to the sector, so
 * src may hold garbage after the end of the stream; running out of input
 * before dest is full, or invalid data, is -EIO.
 */
static ssize_t qcow2_zlib_decompress(void *dest, size_t dest_size,
                                     const void *src, size_t src_size)
{
    z_stream strm = { 0 };
    ssize_t ret;
    int zret;

    strm.next_in = (Bytef *)src;
    strm.avail_in = src_size;
    strm.next_out = dest;
    strm.avail_out = dest_size;

    if (inflateInit2(&strm, -12) != Z_OK) {
        return -EIO;
    }

    zret = inflate(&strm, Z_FINISH);
    if ((zret == Z_STREAM_END || zret == Z_BUF_ERROR) &&
        strm.avail_out == 0) {
        ret = dest_size;
    } else {
        ret = -EIO;
    }

    inflateEnd(&strm);
    return ret;
}

#ifdef CONFIG_ZSTD

/*
 * One zstd frame at the library's default level, made in a single
 * streaming call (as QEMU does, so that the frame header is the same).
 * The output buffer cannot grow, so a call that does not finish the frame
 * means it does not fit.
 */
static ssize_t qcow2_zstd_compress(void *dest, size_t dest_size,
                                   const void *src, size_t src_size)
{
    ZSTD_outBuffer output = { .dst = dest, .size = dest_size, .pos = 0 };
    ZSTD_inBuffer input = { .src = src, .size = src_size, .pos = 0 };
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    size_t zret;
    ssize_t ret;

    if (!cctx) {
        return -EIO;
    }

    /*
     * Non-zero: an error code (huge as size_t) or the bytes still to be
     * flushed; either way more than the space left means "does not fit".
     */
    zret = ZSTD_compressStream2(cctx, &output, &input, ZSTD_e_end);
    if (zret != 0) {
        ret = zret > output.size - output.pos ? -ENOMEM : -EIO;
    } else {
        assert(output.pos <= dest_size);
        ret = output.pos;
    }

    ZSTD_freeCCtx(cctx);
    return ret;
}

/*
 * Decode frames until dest is full.  As with zlib, src may extend past the
 * data; a frame left unfinished when dest is full means the cluster would
 * decompress to more than its size: corrupt.
 */
static ssize_t qcow2_zstd_decompress(void *dest, size_t dest_size,
                                     const void *src, size_t src_size)
{
    ZSTD_outBuffer output = { .dst = dest, .size = dest_size, .pos = 0 };
    ZSTD_inBuffer input = { .src = src, .size = src_size, .pos = 0 };
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    size_t zret = 0;
    ssize_t ret = 0;

    if (!dctx) {
        return -EIO;
    }

    while (output.pos < output.size) {
        size_t in_before = input.pos;
        size_t out_before = output.pos;

        zret = ZSTD_decompressStream(dctx, &output, &input);
        if (ZSTD_isError(zret)) {
            ret = -EIO;
            break;
        }
        /* No progress: the input ended (or zstd waits for more of it) */
        if (input.pos <= in_before && output.pos <= out_before) {
            ret = -EIO;
            break;
        }
    }
    if (zret > 0) {
        ret = -EIO;
    }
    if (ret == 0) {
        ret = dest_size;
    }

    ZSTD_freeDCtx(dctx);
    return ret;
}

#endif /* CONFIG_ZSTD */

static int qcow2_compress_pool_func(void *opaque)
{
    Qcow2CompressData *data = opaque;

    data->ret = data->func(data->dest, data->dest_size,
                           data->src, data->src_size);
    return 0;
}

/* Run func on a worker thread; takes s->lock, so the caller must not hold it */
static ssize_t coroutine_fn qcow2_co_do_compress(BlockDriverState *bs,
                                                 void *dest, size_t dest_size,
                                                 const void *src,
                                                 size_t src_size,
                                                 Qcow2CompressFunc *func)
{
    BDRVQcow2State *s = bs->opaque;
    ThreadPool *pool = aio_get_thread_pool(bdrv_get_aio_context(bs));
    Qcow2CompressData arg = {
        .dest = dest,
        .dest_size = dest_size,
        .src = src,
        .src_size = src_size,
        .func = func,
    };

    qemu_co_mutex_lock(&s->lock);
    while (s->nb_threads >= QCOW2_MAX_THREADS) {
        qemu_co_queue_wait(&s->thread_task_queue, &s->lock);
    }
    s->nb_threads++;
    qemu_co_mutex_unlock(&s->lock);

    thread_pool_submit_co(pool, qcow2_compress_pool_func, &arg);

    qemu_co_mutex_lock(&s->lock);
    s->nb_threads--;
    qemu_co_queue_next(&s->thread_task_queue);
    qemu_co_mutex_unlock(&s->lock);

    return arg.ret;
}

/* The (de)compression function of the image's compression type */
static Qcow2CompressFunc *qcow2_compress_func(BDRVQcow2State *s,
                                              bool decompress)
{
    switch (s->compression_type) {
    case QCOW2_COMPRESSION_TYPE_ZLIB:
        return decompress ? qcow2_zlib_decompress : qcow2_zlib_compress;
#ifdef CONFIG_ZSTD
    case QCOW2_COMPRESSION_TYPE_ZSTD:
        return decompress ? qcow2_zstd_decompress : qcow2_zstd_compress;
#endif
    default:
        /* open refuses compression types this build does not have */
        return NULL;
    }
}

/*
 * Compress src into at most dest_size bytes with the image's compression
 * type: the compressed size, -ENOMEM if it does not fit, or -errno.
 */
ssize_t coroutine_fn qcow2_co_compress(BlockDriverState *bs, void *dest,
                                       size_t dest_size, const void *src,
                                       size_t src_size)
{
    Qcow2CompressFunc *fn = qcow2_compress_func(bs->opaque, false);

    if (!fn) {
        return -ENOTSUP;
    }
    return qcow2_co_do_compress(bs, dest, dest_size, src, src_size, fn);
}

/*
 * Decompress src (which may extend past the compressed data) into exactly
 * dest_size bytes: dest_size, or -EIO for corrupt data.
 */
ssize_t coroutine_fn qcow2_co_decompress(BlockDriverState *bs, void *dest,
                                         size_t dest_size, const void *src,
                                         size_t src_size)
{
    Qcow2CompressFunc *fn = qcow2_compress_func(bs->opaque, true);

    if (!fn) {
        return -ENOTSUP;
    }
    return qcow2_co_do_compress(bs, dest, dest_size, src, src_size, fn);
}
