/*
 * Clocks and AioContext timers.
 */
#include "qemu/osdep.h"

#include "qemu/atomic.h"
#include "qemu/timer.h"
#include "aio-internal.h"

int64_t qemu_clock_get_ns(QEMUClockType type)
{
    switch (type) {
    case QEMU_CLOCK_REALTIME:
    case QEMU_CLOCK_VIRTUAL:
    case QEMU_CLOCK_VIRTUAL_RT:
        /*
         * There is no guest in the tools: virtual time is real time, and
         * monotonic so that timers survive wall-clock changes.
         */
        return get_clock();
    case QEMU_CLOCK_HOST:
        return get_clock_realtime();
    default:
        abort();
    }
}

void aio_timers_init(AioContext *ctx)
{
    int type;

    for (type = 0; type < QEMU_CLOCK_MAX; type++) {
        QEMUTimerList *tl = &ctx->timers[type];

        tl->ctx = ctx;
        tl->type = type;
        tl->active = NULL;
        qemu_mutex_init(&tl->lock);
    }
}

void aio_timers_destroy(AioContext *ctx)
{
    int type;

    for (type = 0; type < QEMU_CLOCK_MAX; type++) {
        qemu_mutex_destroy(&ctx->timers[type].lock);
    }
}

void aio_timer_init(AioContext *ctx, QEMUTimer *ts, QEMUClockType type,
                    int scale, QEMUTimerCB *cb, void *opaque)
{
    *ts = (QEMUTimer) {
        .expire_time = -1,
        .timer_list = &ctx->timers[type],
        .cb = cb,
        .opaque = opaque,
        .scale = scale,
    };
}

QEMUTimer *aio_timer_new(AioContext *ctx, QEMUClockType type, int scale,
                         QEMUTimerCB *cb, void *opaque)
{
    QEMUTimer *ts = g_new(QEMUTimer, 1);

    aio_timer_init(ctx, ts, type, scale, cb, opaque);
    return ts;
}

bool timer_pending(QEMUTimer *ts)
{
    return qatomic_read(&ts->expire_time) >= 0;
}

int64_t timer_expire_time_ns(QEMUTimer *ts)
{
    return qatomic_read(&ts->expire_time);
}

/* Called with the list lock held. */
static void timer_unlink(QEMUTimerList *tl, QEMUTimer *ts)
{
    QEMUTimer **pt;

    qatomic_set(&ts->expire_time, -1);
    for (pt = &tl->active; *pt; pt = &(*pt)->next) {
        if (*pt == ts) {
            *pt = ts->next;
            ts->next = NULL;
            return;
        }
    }
}

/*
 * Called with the list lock held and ts not pending.  Returns whether ts
 * became the earliest timer, which changes the poll timeout.
 */
static bool timer_link(QEMUTimerList *tl, QEMUTimer *ts, int64_t expire_ns)
{
    QEMUTimer **pt;

    expire_ns = MAX(expire_ns, 0);
    /* Equal deadlines fire in the order they were armed. */
    for (pt = &tl->active; *pt; pt = &(*pt)->next) {
        if ((*pt)->expire_time > expire_ns) {
            break;
        }
    }
    ts->next = *pt;
    qatomic_set(&ts->expire_time, expire_ns);
    qatomic_store_release(pt, ts);
    return pt == &tl->active;
}

void timer_del(QEMUTimer *ts)
{
    QEMUTimerList *tl = ts->timer_list;

    if (tl) {
        qemu_mutex_lock(&tl->lock);
        timer_unlink(tl, ts);
        qemu_mutex_unlock(&tl->lock);
    }
}

void timer_free(QEMUTimer *ts)
{
    timer_del(ts);
    g_free(ts);
}

void timer_mod_ns(QEMUTimer *ts, int64_t expire_time)
{
    QEMUTimerList *tl = ts->timer_list;
    bool first;

    qemu_mutex_lock(&tl->lock);
    timer_unlink(tl, ts);
    first = timer_link(tl, ts, expire_time);
    qemu_mutex_unlock(&tl->lock);

    if (first) {
        /* A blocked poller must recompute its timeout. */
        aio_notify(tl->ctx);
    }
}

void timer_mod(QEMUTimer *ts, int64_t expire_time)
{
    timer_mod_ns(ts, expire_time * ts->scale);
}

void timer_mod_anticipate_ns(QEMUTimer *ts, int64_t expire_time)
{
    QEMUTimerList *tl = ts->timer_list;
    bool first = false;

    qemu_mutex_lock(&tl->lock);
    if (ts->expire_time < 0 || ts->expire_time > expire_time) {
        timer_unlink(tl, ts);
        first = timer_link(tl, ts, expire_time);
    }
    qemu_mutex_unlock(&tl->lock);

    if (first) {
        aio_notify(tl->ctx);
    }
}

int64_t aio_timers_deadline_ns(AioContext *ctx)
{
    int64_t deadline = -1;
    int type;

    for (type = 0; type < QEMU_CLOCK_MAX; type++) {
        QEMUTimerList *tl = &ctx->timers[type];
        int64_t expire = -1;
        int64_t delta;

        /* Cheap check first: most lists are empty most of the time. */
        if (!qatomic_read(&tl->active)) {
            continue;
        }
        qemu_mutex_lock(&tl->lock);
        if (tl->active) {
            expire = tl->active->expire_time;
        }
        qemu_mutex_unlock(&tl->lock);
        if (expire < 0) {
            continue;
        }
        delta = MAX(expire - qemu_clock_get_ns(type), 0);
        if (deadline < 0 || delta < deadline) {
            deadline = delta;
        }
    }
    return deadline;
}

bool aio_timers_run(AioContext *ctx)
{
    bool progress = false;
    int type;

    for (type = 0; type < QEMU_CLOCK_MAX; type++) {
        QEMUTimerList *tl = &ctx->timers[type];
        int64_t now;

        if (!qatomic_read(&tl->active)) {
            continue;
        }
        now = qemu_clock_get_ns(type);
        qemu_mutex_lock(&tl->lock);
        while (tl->active && tl->active->expire_time <= now) {
            QEMUTimer *ts = tl->active;
            QEMUTimerCB *cb = ts->cb;
            void *opaque = ts->opaque;

            timer_unlink(tl, ts);
            /* The callback may re-arm, delete or free ts. */
            qemu_mutex_unlock(&tl->lock);
            cb(opaque);
            progress = true;
            qemu_mutex_lock(&tl->lock);
        }
        qemu_mutex_unlock(&tl->lock);
    }
    return progress;
}
