/*
 * AioContext lifetime, bottom halves, notification, the GSource glue and
 * coroutine scheduling.  fd handlers and aio_poll() are in aio-posix.c.
 */
#include "qemu/osdep.h"

#include "qemu/atomic.h"
#include "qemu/coroutine_int.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/thread-pool.h"
#include "aio-internal.h"

/* ---- Bottom halves ---- */

enum {
    BH_PENDING   = 1 << 0,      /* on ctx->bh_list or a slice */
    BH_SCHEDULED = 1 << 1,      /* run it when dequeued */
    BH_DELETED   = 1 << 2,      /* free it when dequeued */
    BH_ONESHOT   = 1 << 3,      /* free it after it ran */
    BH_IDLE      = 1 << 4,      /* no hurry, and no progress either */
};

struct QEMUBH {
    AioContext *ctx;
    QEMUBHFunc *cb;
    void *opaque;
    QSLIST_ENTRY(QEMUBH) next;
    unsigned flags;
};

/* Idle BHs run at least this often. */
#define BH_IDLE_TIMEOUT_NS (10 * SCALE_MS)

/* Safe from any thread. */
static void aio_bh_enqueue(QEMUBH *bh, unsigned new_flags)
{
    AioContext *ctx = bh->ctx;
    unsigned old_flags;

    /*
     * Whoever sets BH_PENDING pushes the BH; the flag stays set until the
     * home thread dequeues it, so a BH is never on two lists.
     */
    old_flags = qatomic_fetch_or(&bh->flags, BH_PENDING | new_flags);
    if (!(old_flags & BH_PENDING)) {
        QSLIST_INSERT_HEAD_ATOMIC(&ctx->bh_list, bh, next);
    }
    aio_notify(ctx);
}

/* Home thread only.  Returns the flags the BH had when dequeued. */
static QEMUBH *aio_bh_dequeue(BHList *head, unsigned *flags)
{
    QEMUBH *bh = QSLIST_FIRST(head);

    if (!bh) {
        return NULL;
    }
    QSLIST_REMOVE_HEAD(head, next);
    /* From here on the BH may be scheduled (and pushed) again. */
    *flags = qatomic_fetch_and(&bh->flags,
                               ~(BH_PENDING | BH_SCHEDULED | BH_IDLE));
    return bh;
}

QEMUBH *aio_bh_new(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    QEMUBH *bh = g_new(QEMUBH, 1);

    *bh = (QEMUBH) {
        .ctx = ctx,
        .cb = cb,
        .opaque = opaque,
    };
    return bh;
}

void aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    aio_bh_enqueue(aio_bh_new(ctx, cb, opaque), BH_SCHEDULED | BH_ONESHOT);
}

void qemu_bh_schedule(QEMUBH *bh)
{
    aio_bh_enqueue(bh, BH_SCHEDULED);
}

void qemu_bh_schedule_idle(QEMUBH *bh)
{
    aio_bh_enqueue(bh, BH_SCHEDULED | BH_IDLE);
}

void qemu_bh_cancel(QEMUBH *bh)
{
    qatomic_and(&bh->flags, ~BH_SCHEDULED);
}

void qemu_bh_delete(QEMUBH *bh)
{
    /* The home thread frees it, possibly after its callback returns. */
    aio_bh_enqueue(bh, BH_DELETED);
}

bool aio_bh_poll(AioContext *ctx)
{
    BHListSlice slice;
    BHListSlice *s;
    BHList lifo;
    QEMUBH *bh;
    bool progress = false;

    /* Take everything scheduled so far, and run it in scheduling order. */
    QSLIST_MOVE_ATOMIC(&lifo, &ctx->bh_list);
    QSLIST_INIT(&slice.bh_list);
    while ((bh = QSLIST_FIRST(&lifo))) {
        QSLIST_REMOVE_HEAD(&lifo, next);
        QSLIST_INSERT_HEAD(&slice.bh_list, bh, next);
    }
    QSIMPLEQ_INSERT_TAIL(&ctx->bh_slice_list, &slice, next);

    while ((s = QSIMPLEQ_FIRST(&ctx->bh_slice_list))) {
        unsigned flags;

        bh = aio_bh_dequeue(&s->bh_list, &flags);
        if (!bh) {
            QSIMPLEQ_REMOVE_HEAD(&ctx->bh_slice_list, next);
            continue;
        }
        if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED) {
            if (!(flags & BH_IDLE)) {
                progress = true;
            }
            bh->cb(bh->opaque);
        }
        if (flags & (BH_DELETED | BH_ONESHOT)) {
            g_free(bh);
        }
    }
    return progress;
}

static void bh_list_scan(BHList *list, bool *busy, bool *idle)
{
    QEMUBH *bh;

    for (bh = qatomic_load_acquire(&list->slh_first); bh;
         bh = qatomic_read(&bh->next.sle_next)) {
        unsigned flags = qatomic_read(&bh->flags);

        if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED) {
            if (flags & BH_IDLE) {
                *idle = true;
            } else {
                *busy = true;
                return;
            }
        }
    }
}

bool aio_bh_scheduled(AioContext *ctx, bool *idle)
{
    BHListSlice *s;
    bool busy = false;

    *idle = false;
    bh_list_scan(&ctx->bh_list, &busy, idle);
    QSIMPLEQ_FOREACH(s, &ctx->bh_slice_list, next) {
        if (busy) {
            break;
        }
        bh_list_scan(&s->bh_list, &busy, idle);
    }
    return busy;
}

int64_t aio_compute_timeout(AioContext *ctx)
{
    int64_t deadline;
    bool idle;

    if (aio_bh_scheduled(ctx, &idle) || aio_always_ready_pending(ctx)) {
        return 0;
    }
    deadline = aio_timers_deadline_ns(ctx);
    if (idle && (deadline < 0 || deadline > BH_IDLE_TIMEOUT_NS)) {
        deadline = BH_IDLE_TIMEOUT_NS;
    }
    return deadline;
}

/* ---- Notification ---- */

void aio_notify(AioContext *ctx)
{
    /* Publish what we are notifying about (e.g. bh_list) first. */
    smp_wmb();
    qatomic_set(&ctx->notified, true);
    /*
     * Order the store to `notified` before the load of notify_me; pairs
     * with the barrier after a poller raises notify_me.  Either the poller
     * sees our work, or we see that it may block and kick the eventfd.
     */
    smp_mb();
    if (qatomic_read(&ctx->notify_me)) {
        event_notifier_set(&ctx->notifier);
    }
}

void aio_notify_accept(AioContext *ctx)
{
    qatomic_set(&ctx->notified, false);
    /* Clear the flag before looking at the work it announced. */
    smp_mb();
}

static void aio_context_notifier_cb(EventNotifier *e)
{
    /* Waking the poller was the whole point; this is not progress. */
    event_notifier_test_and_clear(e);
}

static bool aio_context_notifier_poll(void *opaque)
{
    EventNotifier *e = opaque;
    AioContext *ctx = container_of(e, AioContext, notifier);

    return qatomic_read(&ctx->notified);
}

static void aio_context_notifier_poll_ready(EventNotifier *e)
{
    /* Nothing to do: the BHs that were scheduled run anyway. */
}

/* ---- GSource glue ---- */

static gboolean aio_ctx_prepare(GSource *source, gint *timeout)
{
    AioContext *ctx = (AioContext *)source;
    int64_t ns;

    qatomic_set(&ctx->notify_me, qatomic_read(&ctx->notify_me) | 1);
    /* Announce that we may block before looking at the pending work. */
    smp_mb();

    ns = aio_compute_timeout(ctx);
    if (ns < 0) {
        *timeout = -1;
    } else {
        /* Round up: waking before the deadline would only spin. */
        *timeout = MIN(DIV_ROUND_UP(ns, SCALE_MS), (int64_t)INT_MAX);
    }
    if (*timeout == 0) {
        /*
         * Ready: glib will not block, and skips our check(), which would
         * otherwise clear the flag.
         */
        qatomic_store_release(&ctx->notify_me,
                              qatomic_read(&ctx->notify_me) & ~1u);
        return true;
    }
    return false;
}

static gboolean aio_ctx_check(GSource *source)
{
    AioContext *ctx = (AioContext *)source;
    bool idle;

    qatomic_store_release(&ctx->notify_me,
                          qatomic_read(&ctx->notify_me) & ~1u);
    aio_notify_accept(ctx);

    return aio_bh_scheduled(ctx, &idle) || idle ||
           aio_gsource_fds_ready(ctx) || aio_timers_deadline_ns(ctx) == 0;
}

static gboolean aio_ctx_dispatch(GSource *source, GSourceFunc callback,
                                 gpointer user_data)
{
    AioContext *ctx = (AioContext *)source;

    assert(callback == NULL);
    aio_dispatch(ctx);
    return G_SOURCE_CONTINUE;
}

static void aio_ctx_finalize(GSource *source)
{
    AioContext *ctx = (AioContext *)source;
    QEMUBH *bh;
    unsigned flags;

    thread_pool_free(ctx->thread_pool);

    assert(QSLIST_EMPTY(&ctx->scheduled_coroutines));
    qemu_bh_delete(ctx->co_schedule_bh);

    /* Nobody may be inside aio_bh_poll() any more. */
    assert(QSIMPLEQ_EMPTY(&ctx->bh_slice_list));

    while ((bh = aio_bh_dequeue(&ctx->bh_list, &flags))) {
        /*
         * A scheduled BH that was never deleted is a lifecycle bug: whoever
         * scheduled it still expects it to run.
         */
        if (unlikely(!(flags & BH_DELETED))) {
            fprintf(stderr, "%s: BH leaked, aio_bh_new() called without "
                    "qemu_bh_delete()\n", __func__);
            abort();
        }
        g_free(bh);
    }

    aio_set_event_notifier(ctx, &ctx->notifier, false, NULL, NULL, NULL);
    event_notifier_cleanup(&ctx->notifier);
    aio_context_destroy(ctx);
    aio_timers_destroy(ctx);
    qemu_rec_mutex_destroy(&ctx->lock);
}

static GSourceFuncs aio_source_funcs = {
    .prepare = aio_ctx_prepare,
    .check = aio_ctx_check,
    .dispatch = aio_ctx_dispatch,
    .finalize = aio_ctx_finalize,
};

GSource *aio_get_g_source(AioContext *ctx)
{
    aio_context_ref(ctx);
    return &ctx->source;
}

/* ---- Scheduling coroutines ---- */

static void co_schedule_bh_cb(void *opaque)
{
    AioContext *ctx = opaque;
    QSLIST_HEAD(, Coroutine) lifo, fifo = QSLIST_HEAD_INITIALIZER(fifo);
    Coroutine *co;

    QSLIST_MOVE_ATOMIC(&lifo, &ctx->scheduled_coroutines);
    while ((co = QSLIST_FIRST(&lifo))) {
        QSLIST_REMOVE_HEAD(&lifo, co_scheduled_next);
        QSLIST_INSERT_HEAD(&fifo, co, co_scheduled_next);
    }

    while ((co = QSLIST_FIRST(&fifo))) {
        QSLIST_REMOVE_HEAD(&fifo, co_scheduled_next);
        aio_context_acquire(ctx);
        /* Cleared before entering: the coroutine may schedule itself. */
        qatomic_set(&co->scheduled, NULL);
        qemu_aio_coroutine_enter(ctx, co);
        aio_context_release(ctx);
    }
}

void aio_co_schedule(AioContext *ctx, Coroutine *co)
{
    const char *scheduled = qatomic_cmpxchg(&co->scheduled,
                                            (const char *)NULL, __func__);

    if (scheduled) {
        fprintf(stderr, "%s: Co-routine was already scheduled in '%s'\n",
                __func__, scheduled);
        abort();
    }

    /*
     * Once pushed, the coroutine may run (in ctx's thread) and drop the
     * last reference to ctx before we get to schedule the BH.
     */
    aio_context_ref(ctx);
    QSLIST_INSERT_HEAD_ATOMIC(&ctx->scheduled_coroutines, co,
                              co_scheduled_next);
    qemu_bh_schedule(ctx->co_schedule_bh);
    aio_context_unref(ctx);
}

typedef struct {
    Coroutine *co;
    AioContext *new_ctx;
} AioCoRescheduleSelf;

static void aio_co_reschedule_self_bh(void *opaque)
{
    AioCoRescheduleSelf *data = opaque;

    aio_co_schedule(data->new_ctx, data->co);
}

void coroutine_fn aio_co_reschedule_self(AioContext *new_ctx)
{
    AioContext *old_ctx = qemu_get_current_aio_context();
    AioCoRescheduleSelf data = {
        .co = qemu_coroutine_self(),
        .new_ctx = new_ctx,
    };

    if (old_ctx != new_ctx) {
        /*
         * Schedule from a BH in the old context: only once we have yielded
         * may the new context's thread enter us.
         */
        aio_bh_schedule_oneshot(old_ctx, aio_co_reschedule_self_bh, &data);
        qemu_coroutine_yield();
    }
}

void aio_co_wake(Coroutine *co)
{
    /* Pairs with the barrier after qemu_aio_coroutine_enter() sets ctx. */
    smp_mb_acquire();
    aio_co_enter(qatomic_read(&co->ctx), co);
}

void aio_co_enter(AioContext *ctx, Coroutine *co)
{
    if (ctx != qemu_get_current_aio_context()) {
        aio_co_schedule(ctx, co);
        return;
    }

    if (qemu_in_coroutine()) {
        Coroutine *self = qemu_coroutine_self();

        assert(self != co);
        QSIMPLEQ_INSERT_TAIL(&self->co_queue_wakeup, co, co_queue_next);
    } else if (ctx) {
        aio_context_acquire(ctx);
        qemu_aio_coroutine_enter(ctx, co);
        aio_context_release(ctx);
    } else {
        /* No event loop in this thread (plain coroutine users). */
        qemu_aio_coroutine_enter(NULL, co);
    }
}

/* ---- Lifetime and locking ---- */

AioContext *aio_context_new(Error **errp)
{
    AioContext *ctx;
    int ret;

    ctx = (AioContext *)g_source_new(&aio_source_funcs, sizeof(AioContext));
    /*
     * aio_poll() may run from inside our own dispatch (nested event
     * loops); without this GLib would also drop and re-add the poll fd
     * around every dispatch.
     */
    g_source_set_can_recurse(&ctx->source, true);
    QSLIST_INIT(&ctx->bh_list);
    QSIMPLEQ_INIT(&ctx->bh_slice_list);
    QSLIST_INIT(&ctx->scheduled_coroutines);
    ctx->thread_pool_min = 0;
    ctx->thread_pool_max = THREAD_POOL_MAX_THREADS_DEFAULT;

    ret = event_notifier_init(&ctx->notifier, false);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to initialize event notifier");
        goto fail;
    }
    ret = aio_context_setup(ctx, errp);
    if (ret < 0) {
        event_notifier_cleanup(&ctx->notifier);
        goto fail;
    }

    qemu_rec_mutex_init(&ctx->lock);
    aio_timers_init(ctx);
    aio_set_event_notifier(ctx, &ctx->notifier, false,
                           aio_context_notifier_cb,
                           aio_context_notifier_poll,
                           aio_context_notifier_poll_ready);
    ctx->co_schedule_bh = aio_bh_new(ctx, co_schedule_bh_cb, ctx);
    return ctx;

fail:
    /* Nothing for finalize to undo yet. */
    g_source_set_funcs(&ctx->source, &(GSourceFuncs) { 0 });
    g_source_destroy(&ctx->source);
    g_source_unref(&ctx->source);
    return NULL;
}

void aio_context_ref(AioContext *ctx)
{
    g_source_ref(&ctx->source);
}

void aio_context_unref(AioContext *ctx)
{
    g_source_unref(&ctx->source);
}

void aio_context_acquire(AioContext *ctx)
{
    qemu_rec_mutex_lock(&ctx->lock);
}

void aio_context_release(AioContext *ctx)
{
    qemu_rec_mutex_unlock(&ctx->lock);
}

ThreadPool *aio_get_thread_pool(AioContext *ctx)
{
    if (!ctx->thread_pool) {
        ctx->thread_pool = thread_pool_new(ctx);
    }
    return ctx->thread_pool;
}

void aio_context_set_poll_params(AioContext *ctx, int64_t max_ns,
                                 int64_t grow, int64_t shrink, Error **errp)
{
    if (max_ns < 0 || grow < 0 || shrink < 0) {
        error_setg(errp, "poll parameters must not be negative");
        return;
    }
    /* Racy updates are harmless: the poller adapts on its next round. */
    ctx->poll_max_ns = max_ns;
    ctx->poll_ns = 0;
    ctx->poll_grow = grow;
    ctx->poll_shrink = shrink;
    aio_notify(ctx);
}

/* ---- The calling thread's context ---- */

static __thread AioContext *my_aiocontext;

AioContext *qemu_get_current_aio_context(void)
{
    return my_aiocontext;
}

void qemu_set_current_aio_context(AioContext *ctx)
{
    assert(!my_aiocontext || !ctx);
    my_aiocontext = ctx;
}

bool in_aio_context_home_thread(AioContext *ctx)
{
    return ctx == qemu_get_current_aio_context();
}
