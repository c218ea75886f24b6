/*
 * AioContext: the event loop that drives coroutines, bottom halves, timers
 * and file descriptor handlers.  One thread runs a given context; tools use
 * the main context returned by qemu_get_aio_context().
 *
 * Also home of the asynchronous-request control block (BlockAIOCB) shared
 * by the thread pool and the block layer's aio interfaces.
 */
#ifndef QEMU_AIO_H
#define QEMU_AIO_H

#include "qemu/coroutine.h"
#include "qemu/event_notifier.h"
#include "qemu/timer.h"

typedef struct BlockDriverState BlockDriverState;
typedef struct BlockAIOCB BlockAIOCB;
typedef void BlockCompletionFunc(void *opaque, int ret);

typedef struct AIOCBInfo {
    /* Request cancellation; the callback still runs exactly once. */
    void (*cancel_async)(BlockAIOCB *acb);
    AioContext *(*get_aio_context)(BlockAIOCB *acb);
    size_t aiocb_size;
} AIOCBInfo;

struct BlockAIOCB {
    const AIOCBInfo *aiocb_info;
    BlockDriverState *bs;
    BlockCompletionFunc *cb;
    void *opaque;
    int refcnt;
};

/* Allocate an ACB of aiocb_info->aiocb_size bytes with one reference. */
void *qemu_aio_get(const AIOCBInfo *aiocb_info, BlockDriverState *bs,
                   BlockCompletionFunc *cb, void *opaque);
void qemu_aio_ref(void *p);
void qemu_aio_unref(void *p);

/* Cancel and wait until the callback has run. */
void bdrv_aio_cancel(BlockAIOCB *acb);
/* Ask for cancellation without waiting. */
void bdrv_aio_cancel_async(BlockAIOCB *acb);

typedef void QEMUBHFunc(void *opaque);
typedef struct QEMUBH QEMUBH;

typedef void IOHandler(void *opaque);
/* Busy-poll callback: return true if there is work for io_poll_ready. */
typedef bool AioPollFn(void *opaque);

/* ---- Lifetime ---- */

AioContext *aio_context_new(Error **errp);
void aio_context_ref(AioContext *ctx);
void aio_context_unref(AioContext *ctx);

/* Recursive lock protecting the context's users across threads. */
void aio_context_acquire(AioContext *ctx);
void aio_context_release(AioContext *ctx);

/* The GSource through which a GMainContext can drive ctx. */
GSource *aio_get_g_source(AioContext *ctx);

/* ---- Bottom halves ---- */

QEMUBH *aio_bh_new(AioContext *ctx, QEMUBHFunc *cb, void *opaque);
#define aio_bh_new_full(ctx, cb, opaque, name) aio_bh_new(ctx, cb, opaque)
/* Run cb once, soon, in ctx; no handle is returned. */
void aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque);
#define aio_bh_schedule_oneshot_full(ctx, cb, opaque, name) \
    aio_bh_schedule_oneshot(ctx, cb, opaque)
void qemu_bh_schedule(QEMUBH *bh);
/* Run within ~10 ms; does not count as aio_poll progress. */
void qemu_bh_schedule_idle(QEMUBH *bh);
void qemu_bh_cancel(QEMUBH *bh);
/* Cancel and free (deferred if called from the BH itself). */
void qemu_bh_delete(QEMUBH *bh);

/* ---- Notification and polling ---- */

/* Wake a thread blocked in aio_poll(ctx, true). */
void aio_notify(AioContext *ctx);
void aio_notify_accept(AioContext *ctx);

/*
 * Run one iteration: scheduled BHs, ready fd handlers, expired timers.
 * With blocking, waits for at least one event.  Returns true if any BH
 * (other than idle BHs), handler (other than the context's own notifier)
 * or timer made progress.
 */
bool aio_poll(AioContext *ctx, bool blocking);

/*
 * Register (or, with all callbacks NULL, remove) handlers for fd.
 * External handlers are skipped while aio_disable_external() is in effect.
 */
void aio_set_fd_handler(AioContext *ctx, int fd, bool is_external,
                        IOHandler *io_read, IOHandler *io_write,
                        AioPollFn *io_poll, IOHandler *io_poll_ready,
                        void *opaque);
void aio_set_event_notifier(AioContext *ctx, EventNotifier *notifier,
                            bool is_external, EventNotifierHandler *io_read,
                            AioPollFn *io_poll,
                            EventNotifierHandler *io_poll_ready);

void aio_disable_external(AioContext *ctx);
void aio_enable_external(AioContext *ctx);
bool aio_external_disabled(AioContext *ctx);

/* Busy-poll parameters (0 disables busy polling). */
void aio_context_set_poll_params(AioContext *ctx, int64_t max_ns,
                                 int64_t grow, int64_t shrink, Error **errp);

/* ---- Coroutines and contexts ---- */

/* Enter co in ctx soon, from ctx's thread (safe from any thread). */
void aio_co_schedule(AioContext *ctx, Coroutine *co);
/* Move the running coroutine to new_ctx. */
void coroutine_fn aio_co_reschedule_self(AioContext *new_ctx);
/* Wake co in the context it last ran in. */
void aio_co_wake(Coroutine *co);
/*
 * Enter co in ctx: scheduled if ctx belongs to another thread, queued after
 * the running coroutine if called from coroutine context, else entered now.
 */
void aio_co_enter(AioContext *ctx, Coroutine *co);

/*
 * The context of the calling thread: the main context in the main-loop
 * thread, NULL in threads that run no event loop (thread-pool workers).
 */
AioContext *qemu_get_current_aio_context(void);
/*
 * Make ctx the calling thread's context (once per thread; NULL resets).
 * A thread must own the context it runs aio_poll() on.
 */
void qemu_set_current_aio_context(AioContext *ctx);
/* Is the calling thread the one that runs ctx? */
bool in_aio_context_home_thread(AioContext *ctx);

/* ---- Timers ---- */

QEMUTimer *aio_timer_new(AioContext *ctx, QEMUClockType type, int scale,
                         QEMUTimerCB *cb, void *opaque);
void aio_timer_init(AioContext *ctx, QEMUTimer *ts, QEMUClockType type,
                    int scale, QEMUTimerCB *cb, void *opaque);
/* Nanoseconds until the earliest timer of ctx, or -1 if none. */
int64_t aio_compute_timeout(AioContext *ctx);

/* ---- Per-context thread pool, created on first use ---- */

typedef struct ThreadPool ThreadPool;
ThreadPool *aio_get_thread_pool(AioContext *ctx);

#endif
