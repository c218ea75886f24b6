/*
 * Host I/O back ends of the file protocol driver (block/file-posix.c):
 * request types and the Linux native AIO (aio=native) and io_uring
 * (aio=io_uring) engines.
 *
 * Each engine keeps one instance per AioContext, shared by every node in
 * that context so that submissions of several nodes can be batched and the
 * kernel resources (io_context, ring) are not multiplied by the number of
 * open files.  Nodes take a reference at open and drop it at close; the
 * instance goes away with its last user.
 */
#ifndef BLOCK_RAW_AIO_H
#define BLOCK_RAW_AIO_H

#include "block/block.h"

/* Request types of the file driver's worker functions and engines. */
#define QEMU_AIO_READ         0x0001
#define QEMU_AIO_WRITE        0x0002
#define QEMU_AIO_IOCTL        0x0004
#define QEMU_AIO_FLUSH        0x0008
#define QEMU_AIO_DISCARD      0x0010
#define QEMU_AIO_WRITE_ZEROES 0x0020
#define QEMU_AIO_COPY_RANGE   0x0040
#define QEMU_AIO_TRUNCATE     0x0080
#define QEMU_AIO_TYPE_MASK \
        (QEMU_AIO_READ | QEMU_AIO_WRITE | QEMU_AIO_IOCTL | QEMU_AIO_FLUSH | \
         QEMU_AIO_DISCARD | QEMU_AIO_WRITE_ZEROES | QEMU_AIO_COPY_RANGE | \
         QEMU_AIO_TRUNCATE)

/* Modifiers. */
#define QEMU_AIO_MISALIGNED   0x1000  /* buffers need an aligned bounce */
#define QEMU_AIO_BLKDEV       0x2000
#define QEMU_AIO_NO_FALLBACK  0x4000

/* ---- Linux native AIO (libaio) ---- */

typedef struct LinuxAioState LinuxAioState;

/*
 * The engine of ctx, created on first use (an io_context of 1024 events
 * and an eventfd registered in ctx).  Returns a new reference, or NULL
 * with errp set ("failed to create linux AIO context: ...").
 */
LinuxAioState *laio_get(AioContext *ctx, Error **errp);
/* Drop a reference; the last one tears the engine down (must be idle). */
void laio_put(LinuxAioState *s);

/*
 * Read or write (type QEMU_AIO_READ / QEMU_AIO_WRITE) qiov->size bytes at
 * offset of fd, which must be open with O_DIRECT and suitably aligned.
 * Yields until completion.  Returns 0, or -errno; a short read is padded
 * with zeroes, a short write is -ENOSPC.  dev_max_batch caps the number of
 * queued requests submitted at once (0: the default of 32).
 */
int coroutine_fn laio_co_submit(BlockDriverState *bs, LinuxAioState *s,
                                int fd, uint64_t offset, QEMUIOVector *qiov,
                                int type, uint64_t dev_max_batch);
/* Queue submissions until the matching unplug (nestable). */
void laio_io_plug(BlockDriverState *bs, LinuxAioState *s);
void laio_io_unplug(BlockDriverState *bs, LinuxAioState *s,
                    uint64_t dev_max_batch);

/* ---- io_uring (liburing) ---- */

#ifdef CONFIG_LINUX_IO_URING
typedef struct LuringState LuringState;

/* The ring of ctx (128 entries), created on first use; see laio_get. */
LuringState *luring_get(AioContext *ctx, Error **errp);
void luring_put(LuringState *s);

/*
 * QEMU_AIO_READ, QEMU_AIO_WRITE (qiov) or QEMU_AIO_FLUSH (qiov NULL) on
 * fd; works with and without O_DIRECT.  Same results as laio_co_submit.
 */
int coroutine_fn luring_co_submit(BlockDriverState *bs, LuringState *s,
                                  int fd, uint64_t offset, QEMUIOVector *qiov,
                                  int type);
void luring_io_plug(BlockDriverState *bs, LuringState *s);
void luring_io_unplug(BlockDriverState *bs, LuringState *s);
#endif

#endif
