/*
 * Coroutine sleeps: on a timer of the current AioContext, or until an
 * explicit qemu_co_sleep_wake().
 */
#include "qemu/osdep.h"

#include "qemu/aio.h"
#include "qemu/atomic.h"
#include "qemu/coroutine_int.h"

/* Marks a sleeping coroutine as scheduled, so a stray wakeup aborts. */
static const char co_sleep_scheduled[] = "qemu_co_sleep_ns";

void qemu_co_sleep_wake(QemuCoSleep *w)
{
    Coroutine *co = w->to_wake;

    w->to_wake = NULL;
    if (co) {
        const char *was = qatomic_cmpxchg(&co->scheduled, co_sleep_scheduled,
                                          (const char *)NULL);

        assert(was == co_sleep_scheduled);
        aio_co_wake(co);
    }
}

static void co_sleep_timer_cb(void *opaque)
{
    qemu_co_sleep_wake(opaque);
}

void coroutine_fn qemu_co_sleep(QemuCoSleep *w)
{
    Coroutine *co = qemu_coroutine_self();
    const char *was = qatomic_cmpxchg(&co->scheduled, (const char *)NULL,
                                      co_sleep_scheduled);

    if (was) {
        fprintf(stderr, "%s: Co-routine was already scheduled in '%s'\n",
                __func__, was);
        abort();
    }
    w->to_wake = co;
    qemu_coroutine_yield();
    /* Whoever woke us cleared to_wake first. */
    assert(w->to_wake == NULL);
}

void coroutine_fn qemu_co_sleep_ns_wakeable(QemuCoSleep *w,
                                            QEMUClockType type, int64_t ns)
{
    AioContext *ctx = qemu_get_current_aio_context();
    QEMUTimer ts;

    /*
     * The timer fires from ctx's event loop, which cannot run before we
     * yield in qemu_co_sleep(), so arming it first is not racy.
     */
    aio_timer_init(ctx, &ts, type, SCALE_NS, co_sleep_timer_cb, w);
    timer_mod(&ts, qemu_clock_get_ns(type) + ns);
    qemu_co_sleep(w);
    timer_del(&ts);
}
