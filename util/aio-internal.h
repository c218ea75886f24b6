/*
 * The inside of an AioContext, shared by async.c (lifetime, bottom halves,
 * GSource, coroutine scheduling), aio-posix.c (fd handlers and aio_poll),
 * qemu-timer.c and thread-pool.c.  Private to util/.
 */
#ifndef QEMU_AIO_INTERNAL_H
#define QEMU_AIO_INTERNAL_H

#include "qemu/aio.h"
#include "qemu/thread.h"

typedef struct AioHandler AioHandler;

/* A BH list: lock-free LIFO pushes, drained by the home thread only. */
typedef QSLIST_HEAD(, QEMUBH) BHList;

/*
 * The BHs taken off ctx->bh_list by one aio_bh_poll() call.  Slices stack
 * up when a BH callback polls the context again; the nested call runs the
 * rest of the outer slices too.
 */
typedef struct BHListSlice {
    BHList bh_list;
    QSIMPLEQ_ENTRY(BHListSlice) next;
} BHListSlice;

/* Armed timers of one clock, sorted by deadline (earliest first). */
struct QEMUTimerList {
    AioContext *ctx;
    QEMUClockType type;
    /* Timers may be armed or deleted from any thread. */
    QemuMutex lock;
    QEMUTimer *active;
};

struct AioContext {
    /* First: the context is also a GSource and is allocated by glib. */
    GSource source;

    /* aio_context_acquire/release. */
    QemuRecMutex lock;

    /*
     * fd handlers.  Nodes are immutable once published: replacing a
     * handler publishes a new node.  The home thread reads the list and
     * epoll's node pointers without list_lock while `walkers` > 0; any
     * thread may add nodes (at the head, with a release store) or delete
     * them under list_lock.  A node deleted while walkers > 0 is only
     * marked and is freed when the last walker leaves.
     */
    QemuMutex list_lock;
    QLIST_HEAD(, AioHandler) handlers;
    unsigned walkers;
    bool deleted_handlers;
    int epollfd;
    gpointer epoll_tag;         /* epollfd's GSource poll tag */
    /* > 0: external handlers are out of the epoll set and not dispatched. */
    int external_disable_cnt;
    /* Handlers of fds that epoll cannot watch; they run at every poll. */
    unsigned always_ready;

    /* Scheduled BHs not yet taken by aio_bh_poll(). */
    BHList bh_list;
    /* Slices being run by (possibly nested) aio_bh_poll() calls. */
    QSIMPLEQ_HEAD(, BHListSlice) bh_slice_list;

    /*
     * Bit 0: a GMainContext may block on us (between prepare and check).
     * Bits 1+: count of aio_poll() calls that may block.  aio_notify() only
     * writes the eventfd when this is non-zero.
     */
    unsigned notify_me;
    /* aio_notify() was called since the last aio_notify_accept(). */
    bool notified;
    EventNotifier notifier;

    /* aio_co_schedule(): lock-free LIFO, run FIFO by co_schedule_bh. */
    QSLIST_HEAD(, Coroutine) scheduled_coroutines;
    QEMUBH *co_schedule_bh;

    ThreadPool *thread_pool;
    int thread_pool_min;
    int thread_pool_max;

    QEMUTimerList timers[QEMU_CLOCK_MAX];

    /* Busy polling (0 poll_max_ns: off), adapted by aio_poll(). */
    int64_t poll_ns;
    int64_t poll_max_ns;
    int64_t poll_grow;
    int64_t poll_shrink;
};

/* aio-posix.c */
int aio_context_setup(AioContext *ctx, Error **errp);
void aio_context_destroy(AioContext *ctx);
/* Non-blocking dispatch of whatever is ready (GSource dispatch). */
void aio_dispatch(AioContext *ctx);
/* Is the epoll set readable according to the last g_main poll? */
bool aio_gsource_fds_ready(AioContext *ctx);
bool aio_fds_pending(AioContext *ctx);
/* Are handlers of fds that epoll cannot watch (regular files) enabled? */
bool aio_always_ready_pending(AioContext *ctx);

/* async.c */
bool aio_bh_poll(AioContext *ctx);
/* Is a BH other than an idle one scheduled?  *idle set if an idle one is. */
bool aio_bh_scheduled(AioContext *ctx, bool *idle);

/* qemu-timer.c */
void aio_timers_init(AioContext *ctx);
void aio_timers_destroy(AioContext *ctx);
/* Nanoseconds until the earliest timer of ctx (0 if expired), or -1. */
int64_t aio_timers_deadline_ns(AioContext *ctx);
/* Run expired timers; true if any ran. */
bool aio_timers_run(AioContext *ctx);

/* thread-pool.c */
#define THREAD_POOL_MAX_THREADS_DEFAULT 64

#endif
