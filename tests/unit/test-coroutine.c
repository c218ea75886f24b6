/*
 * Coroutine tests: lifecycle, nesting, ordering, wakeups, CoMutex, CoQueue,
 * CoRwlock and sleeping, against the semantics of QEMU 7.2's coroutines.
 */
#include "qemu/osdep.h"

#include "qemu/aio.h"
#include "qemu/coroutine_int.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

/*
 * A log of steps, so that tests can compare the exact interleaving of
 * the caller and its coroutines with the expected one.
 */
static GString *trace;

static void trace_reset(void)
{
    g_string_truncate(trace, 0);
}

static void G_GNUC_PRINTF(1, 2) trace_add(const char *fmt, ...)
{
    va_list ap;

    if (trace->len) {
        g_string_append_c(trace, ' ');
    }
    va_start(ap, fmt);
    g_string_append_vprintf(trace, fmt, ap);
    va_end(ap);
}

#define assert_trace(expected) g_assert_cmpstr(trace->str, ==, (expected))

/* ---- Basics ---- */

static void coroutine_fn verify_in_coroutine(void *opaque)
{
    *(bool *)opaque = qemu_in_coroutine();
}

static void test_in_coroutine(void)
{
    bool inside = false;
    Coroutine *co;

    g_assert(!qemu_in_coroutine());
    co = qemu_coroutine_create(verify_in_coroutine, &inside);
    qemu_coroutine_enter(co);
    g_assert(inside);
    g_assert(!qemu_in_coroutine());
}

static void coroutine_fn verify_self(void *opaque)
{
    Coroutine **expected = opaque;

    g_assert(qemu_coroutine_self() == *expected);
}

static void test_self(void)
{
    Coroutine *co = qemu_coroutine_create(verify_self, &co);
    Coroutine *leader = qemu_coroutine_self();

    qemu_coroutine_enter(co);
    /* Outside coroutines, self is the same stable handle each time. */
    g_assert(leader != NULL);
    g_assert(qemu_coroutine_self() == leader);
}

static void coroutine_fn verify_entered_inner(void *opaque)
{
    Coroutine *outer = opaque;

    g_assert(qemu_coroutine_entered(qemu_coroutine_self()));
    /* The outer coroutine is still running: it entered us. */
    g_assert(qemu_coroutine_entered(outer));
}

static void coroutine_fn verify_entered_outer(void *opaque)
{
    Coroutine **inner = opaque;

    g_assert(qemu_coroutine_entered(qemu_coroutine_self()));
    g_assert(!qemu_coroutine_entered(*inner));
    qemu_coroutine_enter(*inner);
    qemu_coroutine_yield();
}

static void test_entered(void)
{
    Coroutine *outer, *inner;

    outer = qemu_coroutine_create(verify_entered_outer, &inner);
    inner = qemu_coroutine_create(verify_entered_inner, outer);
    g_assert(!qemu_coroutine_entered(outer));
    qemu_coroutine_enter(outer);
    /* It yielded: not entered any more. */
    g_assert(!qemu_coroutine_entered(outer));
    qemu_coroutine_enter(outer);
}

typedef struct {
    unsigned entered;
    unsigned finished;
    unsigned max;
} NestData;

static void coroutine_fn nest(void *opaque)
{
    NestData *nd = opaque;

    nd->entered++;
    if (nd->entered < nd->max) {
        qemu_coroutine_enter(qemu_coroutine_create(nest, nd));
    }
    nd->finished++;
}

static void test_nesting(void)
{
    NestData nd = { .max = 128 };

    qemu_coroutine_enter(qemu_coroutine_create(nest, &nd));
    g_assert_cmpuint(nd.entered, ==, nd.max);
    g_assert_cmpuint(nd.finished, ==, nd.max);
}

static void coroutine_fn yield_n_times(void *opaque)
{
    int *remaining = opaque;

    while (*remaining > 0) {
        (*remaining)--;
        qemu_coroutine_yield();
    }
}

static void test_yield(void)
{
    Coroutine *co;
    int remaining = 5;
    int entries = 0;

    co = qemu_coroutine_create(yield_n_times, &remaining);
    /* Each entry runs exactly one step; the last one terminates. */
    while (remaining > 0) {
        int before = remaining;

        qemu_coroutine_enter(co);
        entries++;
        g_assert_cmpint(remaining, ==, before - 1);
    }
    qemu_coroutine_enter(co);
    entries++;
    g_assert_cmpint(entries, ==, 6);
}

static void coroutine_fn yield_once(void *opaque)
{
    qemu_coroutine_yield();
}

static void coroutine_fn enter_other(void *opaque)
{
    qemu_coroutine_enter(opaque);
}

static void test_no_dangling_access(void)
{
    Coroutine *c1, *c2;
    Coroutine saved;

    c2 = qemu_coroutine_create(yield_once, NULL);
    c1 = qemu_coroutine_create(enter_other, c2);
    qemu_coroutine_enter(c1);

    /*
     * c1 has terminated and c2 yielded back into it.  Finishing c2 must
     * not touch c1's structure, so make any access to it blow up.
     */
    saved = *c1;
    memset(c1, 0xff, sizeof(*c1));
    qemu_coroutine_enter(c2);
    /* c1 sits in the free pool: give it back its links. */
    *c1 = saved;
}

static void coroutine_fn set_flag(void *opaque)
{
    *(bool *)opaque = true;
}

static void test_lifecycle(void)
{
    bool done = false;

    qemu_coroutine_enter(qemu_coroutine_create(set_flag, &done));
    g_assert(done);

    /* Again: nothing left over from the first one may matter. */
    done = false;
    qemu_coroutine_enter(qemu_coroutine_create(set_flag, &done));
    g_assert(done);
}

static void coroutine_fn note_self(void *opaque)
{
    GHashTable *seen = opaque;

    g_hash_table_add(seen, qemu_coroutine_self());
}

static void test_pool_reuse(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
    int i;

    /*
     * Terminated coroutines are recycled, so a long run of short-lived
     * coroutines is served by a small set (bounded by the pool sizes,
     * 64 per batch), not by one allocation each.
     */
    for (i = 0; i < 1000; i++) {
        Coroutine *co = qemu_coroutine_create(note_self, seen);

        qemu_coroutine_enter(co);
    }
    g_assert_cmpuint(g_hash_table_size(seen), <=, 3 * 64 + 1);

    /* A recycled coroutine starts afresh with its new entry point. */
    for (i = 0; i < 3; i++) {
        bool done = false;

        qemu_coroutine_enter(qemu_coroutine_create(set_flag, &done));
        g_assert(done);
    }
}

static void coroutine_fn order_co(void *opaque)
{
    trace_add("co1");
    g_assert(qemu_in_coroutine());
    qemu_coroutine_yield();
    trace_add("co2");
    g_assert(qemu_in_coroutine());
}

static void test_order(void)
{
    Coroutine *co = qemu_coroutine_create(order_co, NULL);

    trace_reset();
    trace_add("main1");
    qemu_coroutine_enter(co);
    trace_add("main2");
    g_assert(!qemu_in_coroutine());
    qemu_coroutine_enter(co);
    trace_add("main3");
    g_assert(!qemu_in_coroutine());
    assert_trace("main1 co1 main2 co2 main3");
}

static void coroutine_fn order_nested_inner(void *opaque)
{
    trace_add("inner-start");
    qemu_coroutine_yield();
    trace_add("inner-end");
}

static void coroutine_fn order_nested_outer(void *opaque)
{
    Coroutine *inner = qemu_coroutine_create(order_nested_inner, NULL);

    trace_add("outer-start");
    qemu_coroutine_enter(inner);
    trace_add("outer-mid");
    qemu_coroutine_enter(inner);
    trace_add("outer-end");
}

/* Entry, yield and termination of nested coroutines return to the caller. */
static void test_order_nested(void)
{
    trace_reset();
    qemu_coroutine_enter(qemu_coroutine_create(order_nested_outer, NULL));
    trace_add("main");
    assert_trace("outer-start inner-start outer-mid inner-end outer-end "
                 "main");
}

/* ---- Waking ---- */

static void coroutine_fn wakee(void *opaque)
{
    trace_add("wakee");
    qemu_coroutine_yield();
    trace_add("wakee-again");
}

static void coroutine_fn waker(void *opaque)
{
    Coroutine *co = opaque;

    trace_add("waker-wakes");
    aio_co_wake(co);
    /* Not nested: the wakee runs once we yield. */
    trace_add("waker-yields");
    qemu_coroutine_yield();
    trace_add("waker-ends");
}

static void test_wake_deferred(void)
{
    Coroutine *a = qemu_coroutine_create(wakee, NULL);
    Coroutine *b = qemu_coroutine_create(waker, a);

    trace_reset();
    qemu_coroutine_enter(a);
    qemu_coroutine_enter(b);
    trace_add("main");
    qemu_coroutine_enter(b);
    assert_trace("wakee waker-wakes waker-yields wakee-again main "
                 "waker-ends");
}

typedef struct {
    Coroutine *co;
    bool ran;
    bool in_bh;
} BHEnterData;

static bool running_bh;

static void coroutine_fn note_in_bh(void *opaque)
{
    BHEnterData *data = opaque;

    data->ran = true;
    data->in_bh = running_bh;
}

static void enter_from_bh(void *opaque)
{
    BHEnterData *data = opaque;

    running_bh = true;
    aio_co_enter(qemu_get_aio_context(), data->co);
    running_bh = false;
}

static void test_enter_from_bh(void)
{
    AioContext *ctx = qemu_get_aio_context();
    BHEnterData data = { 0 };

    data.co = qemu_coroutine_create(note_in_bh, &data);
    aio_bh_schedule_oneshot(ctx, enter_from_bh, &data);
    g_assert(!data.ran);
    g_assert(aio_poll(ctx, false));
    /* Entered right away, from inside the BH, in the main context. */
    g_assert(data.ran);
    g_assert(data.in_bh);
}

static void coroutine_fn note_ctx(void *opaque)
{
    *(AioContext **)opaque = qemu_coroutine_get_aio_context(
                                 qemu_coroutine_self());
}

static void test_enter_context(void)
{
    AioContext *seen = NULL;

    qemu_coroutine_enter(qemu_coroutine_create(note_ctx, &seen));
    g_assert(seen == qemu_get_aio_context());
}

/* ---- Misuse aborts with QEMU's messages ---- */

static void coroutine_fn enter_self(void *opaque)
{
    qemu_coroutine_enter(qemu_coroutine_self());
}

static void test_abort_reenter(void)
{
    if (g_test_subprocess()) {
        qemu_coroutine_enter(qemu_coroutine_create(enter_self, NULL));
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*Co-routine re-entered recursively\n*");
}

static void test_abort_yield_outside(void)
{
    if (g_test_subprocess()) {
        qemu_coroutine_yield();
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*Co-routine is yielding to no one\n*");
}

static void test_abort_double_schedule(void)
{
    if (g_test_subprocess()) {
        Coroutine *co = qemu_coroutine_create(yield_once, NULL);

        aio_co_schedule(qemu_get_aio_context(), co);
        aio_co_schedule(qemu_get_aio_context(), co);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*aio_co_schedule: Co-routine was already "
                              "scheduled in 'aio_co_schedule'\n*");
}

static void test_abort_enter_scheduled(void)
{
    if (g_test_subprocess()) {
        Coroutine *co = qemu_coroutine_create(yield_once, NULL);

        aio_co_schedule(qemu_get_aio_context(), co);
        qemu_coroutine_enter(co);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*qemu_aio_coroutine_enter: Co-routine was "
                              "already scheduled in 'aio_co_schedule'\n*");
}

static void coroutine_fn lock_and_return(void *opaque)
{
    qemu_co_mutex_lock(opaque);
}

static void test_abort_terminate_locked(void)
{
    if (g_test_subprocess()) {
        CoMutex m;

        qemu_co_mutex_init(&m);
        qemu_coroutine_enter(qemu_coroutine_create(lock_and_return, &m));
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*locks_held*");
}

/* ---- CoMutex ---- */

static bool mutex_locked;
static int mutex_done;

static void coroutine_fn lock_yield_unlock(void *opaque)
{
    CoMutex *m = opaque;

    qemu_co_mutex_lock(m);
    g_assert(!mutex_locked);
    mutex_locked = true;
    qemu_co_mutex_assert_locked(m);
    qemu_coroutine_yield();
    mutex_locked = false;
    qemu_co_mutex_unlock(m);
    mutex_done++;
}

static void coroutine_fn lockable_yield_unlock(void *opaque)
{
    QemuLockable *x = opaque;

    qemu_lockable_lock(x);
    g_assert(!mutex_locked);
    mutex_locked = true;
    qemu_coroutine_yield();
    mutex_locked = false;
    qemu_lockable_unlock(x);
    mutex_done++;
}

static void do_test_co_mutex(CoroutineEntry *entry, void *opaque)
{
    Coroutine *c1 = qemu_coroutine_create(entry, opaque);
    Coroutine *c2 = qemu_coroutine_create(entry, opaque);

    mutex_done = 0;
    qemu_coroutine_enter(c1);
    g_assert(mutex_locked);
    /* c2 blocks in lock. */
    qemu_coroutine_enter(c2);
    g_assert(mutex_locked);

    /*
     * c1 unlocks, which hands the lock to c2 but only queues it; c1 runs
     * to its end, then c2 runs up to its yield, holding the lock.
     */
    qemu_coroutine_enter(c1);
    g_assert_cmpint(mutex_done, ==, 1);
    g_assert(mutex_locked);

    qemu_coroutine_enter(c2);
    g_assert_cmpint(mutex_done, ==, 2);
    g_assert(!mutex_locked);
}

static void test_co_mutex(void)
{
    CoMutex m;

    qemu_co_mutex_init(&m);
    do_test_co_mutex(lock_yield_unlock, &m);
}

static void test_co_mutex_lockable(void)
{
    CoMutex m;
    CoMutex *null_pointer = NULL;

    qemu_co_mutex_init(&m);
    do_test_co_mutex(lockable_yield_unlock, QEMU_MAKE_LOCKABLE(&m));
    g_assert(QEMU_MAKE_LOCKABLE(null_pointer) == NULL);
}

typedef struct {
    CoMutex *m;
    int id;
} FifoLocker;

static void coroutine_fn fifo_locker(void *opaque)
{
    FifoLocker *fl = opaque;

    qemu_co_mutex_lock(fl->m);
    trace_add("L%d", fl->id);
    /* Holding a CoMutex across a yield is fine. */
    qemu_coroutine_yield();
    trace_add("U%d", fl->id);
    qemu_co_mutex_unlock(fl->m);
}

static void test_co_mutex_fifo(void)
{
    FifoLocker fl[6];
    Coroutine *co[6];
    CoMutex m;
    int i;

    qemu_co_mutex_init(&m);
    trace_reset();
    for (i = 0; i < 6; i++) {
        fl[i] = (FifoLocker) { .m = &m, .id = i };
        co[i] = qemu_coroutine_create(fifo_locker, &fl[i]);
    }

    /* co0 takes the lock; co1..co4 queue up behind it in this order. */
    for (i = 0; i < 5; i++) {
        qemu_coroutine_enter(co[i]);
    }
    assert_trace("L0");

    /*
     * Each unlock hands the lock to exactly one waiter, the oldest, which
     * then owns it: nobody else wakes up just to find it taken.
     */
    qemu_coroutine_enter(co[0]);
    assert_trace("L0 U0 L1");
    g_assert(m.holder == co[1]);

    /* A newcomer does not overtake the queue. */
    qemu_coroutine_enter(co[5]);
    assert_trace("L0 U0 L1");

    for (i = 1; i < 5; i++) {
        qemu_coroutine_enter(co[i]);
    }
    assert_trace("L0 U0 L1 U1 L2 U2 L3 U3 L4 U4 L5");
    qemu_coroutine_enter(co[5]);
    assert_trace("L0 U0 L1 U1 L2 U2 L3 U3 L4 U4 L5 U5");
    g_assert_cmpuint(m.locked, ==, 0);
    g_assert(m.holder == NULL);
}

static void coroutine_fn guarded_section(void *opaque)
{
    CoMutex *m = opaque;

    WITH_QEMU_LOCK_GUARD(m) {
        g_assert(m->holder == qemu_coroutine_self());
        qemu_coroutine_yield();
    }
    g_assert(m->holder == NULL);
    {
        QEMU_LOCK_GUARD(m);
        g_assert(m->holder == qemu_coroutine_self());
    }
    g_assert(m->holder == NULL);
}

static void test_co_mutex_guard(void)
{
    Coroutine *co;
    CoMutex m;

    qemu_co_mutex_init(&m);
    co = qemu_coroutine_create(guarded_section, &m);
    qemu_coroutine_enter(co);
    g_assert(m.holder == co);
    qemu_coroutine_enter(co);
    g_assert_cmpuint(m.locked, ==, 0);
}

/* ---- CoQueue ---- */

typedef struct {
    CoQueue *queue;
    CoMutex *lock;
    int id;
    CoQueueWaitFlags flags;
} QueueWaiter;

static void coroutine_fn queue_waiter(void *opaque)
{
    QueueWaiter *qw = opaque;

    qemu_co_mutex_lock(qw->lock);
    trace_add("W%d", qw->id);
    qemu_co_queue_wait_flags(qw->queue, qw->lock, qw->flags);
    /* Woken with the lock taken again. */
    g_assert(qw->lock->holder == qemu_coroutine_self());
    trace_add("R%d", qw->id);
    qemu_co_mutex_unlock(qw->lock);
}

static void coroutine_fn queue_kicker(void *opaque)
{
    CoQueue *queue = opaque;

    g_assert(qemu_co_queue_next(queue));
    /* The waiter runs after we yield, not now. */
    trace_add("K");
    qemu_coroutine_yield();
    qemu_co_queue_restart_all(queue);
    trace_add("KA");
    g_assert(!qemu_co_queue_next(queue));
}

static void test_co_queue(void)
{
    QueueWaiter qw[4];
    CoQueue queue;
    CoMutex lock;
    Coroutine *kicker;
    int i;

    qemu_co_queue_init(&queue);
    qemu_co_mutex_init(&lock);
    g_assert(qemu_co_queue_empty(&queue));
    trace_reset();

    for (i = 0; i < 4; i++) {
        qw[i] = (QueueWaiter) {
            .queue = &queue,
            .lock = &lock,
            .id = i,
            /* 3 jumps the queue. */
            .flags = i == 3 ? CO_QUEUE_WAIT_FRONT : 0,
        };
        qemu_coroutine_enter(qemu_coroutine_create(queue_waiter, &qw[i]));
    }
    g_assert(!qemu_co_queue_empty(&queue));
    /* The lock was released while waiting. */
    g_assert_cmpuint(lock.locked, ==, 0);
    assert_trace("W0 W1 W2 W3");

    kicker = qemu_coroutine_create(queue_kicker, &queue);
    qemu_coroutine_enter(kicker);
    assert_trace("W0 W1 W2 W3 K R3");
    qemu_coroutine_enter(kicker);
    assert_trace("W0 W1 W2 W3 K R3 KA R0 R1 R2");
    g_assert(qemu_co_queue_empty(&queue));
}

static void coroutine_fn queue_wait_nolock(void *opaque)
{
    QueueWaiter *qw = opaque;

    qemu_co_queue_wait(qw->queue, NULL);
    trace_add("R%d", qw->id);
}

static void test_co_enter_next(void)
{
    QueueWaiter qw[3];
    CoQueue queue;
    QemuMutex lock;
    int i;

    qemu_co_queue_init(&queue);
    qemu_mutex_init(&lock);
    trace_reset();
    for (i = 0; i < 3; i++) {
        qw[i] = (QueueWaiter) { .queue = &queue, .id = i };
        qemu_coroutine_enter(qemu_coroutine_create(queue_wait_nolock,
                                                   &qw[i]));
    }

    /* From outside coroutines the waiter is entered immediately. */
    qemu_mutex_lock(&lock);
    g_assert(qemu_co_enter_next(&queue, &lock));
    assert_trace("R0");
    qemu_co_enter_all(&queue, &lock);
    assert_trace("R0 R1 R2");
    g_assert(!qemu_co_enter_next(&queue, &lock));
    qemu_mutex_unlock(&lock);
    qemu_mutex_destroy(&lock);
}

/* ---- CoRwlock ---- */

typedef struct {
    CoRwlock *lock;
    const char *name;
} RwUser;

static void coroutine_fn rd_yield_upgrade(void *opaque)
{
    RwUser *u = opaque;

    qemu_co_rwlock_rdlock(u->lock);
    trace_add("%s-rd", u->name);
    qemu_coroutine_yield();
    qemu_co_rwlock_upgrade(u->lock);
    g_assert_cmpint(u->lock->owners, ==, -1);
    trace_add("%s-upgraded", u->name);
    qemu_co_rwlock_unlock(u->lock);
    trace_add("%s-done", u->name);
}

static void coroutine_fn wr_yield(void *opaque)
{
    RwUser *u = opaque;

    qemu_co_rwlock_wrlock(u->lock);
    g_assert_cmpint(u->lock->owners, ==, -1);
    trace_add("%s-wr", u->name);
    qemu_coroutine_yield();
    qemu_co_rwlock_unlock(u->lock);
    trace_add("%s-done", u->name);
}

static void test_co_rwlock_upgrade(void)
{
    CoRwlock lock;
    RwUser r = { &lock, "r" }, w = { &lock, "w" };
    Coroutine *cr, *cw;

    qemu_co_rwlock_init(&lock);
    trace_reset();
    cr = qemu_coroutine_create(rd_yield_upgrade, &r);
    cw = qemu_coroutine_create(wr_yield, &w);

    qemu_coroutine_enter(cr);
    /* The writer queues behind the reader. */
    qemu_coroutine_enter(cw);
    assert_trace("r-rd");

    /*
     * Upgrading while a writer waits: the reader gives up its share, the
     * queued writer gets the lock first, and the upgrade completes when
     * the writer is done.  Nothing hangs.
     */
    qemu_coroutine_enter(cr);
    assert_trace("r-rd w-wr");
    qemu_coroutine_enter(cw);
    assert_trace("r-rd w-wr w-done r-upgraded r-done");
    g_assert_cmpint(lock.owners, ==, 0);
}

static void coroutine_fn rd_yield_unlock_yield(void *opaque)
{
    RwUser *u = opaque;

    qemu_co_rwlock_rdlock(u->lock);
    trace_add("%s-rd", u->name);
    qemu_coroutine_yield();
    qemu_co_rwlock_unlock(u->lock);
    trace_add("%s-unlocked", u->name);
    qemu_coroutine_yield();
    trace_add("%s-done", u->name);
}

static void coroutine_fn wr_downgrade(void *opaque)
{
    RwUser *u = opaque;

    qemu_co_rwlock_wrlock(u->lock);
    trace_add("%s-wr", u->name);
    qemu_co_rwlock_downgrade(u->lock);
    g_assert_cmpint(u->lock->owners, >=, 1);
    trace_add("%s-downgraded", u->name);
    /* Let the reader that the downgrade admitted run first. */
    qemu_coroutine_yield();
    qemu_co_rwlock_unlock(u->lock);
    trace_add("%s-done", u->name);
}

static void coroutine_fn rd_only(void *opaque)
{
    RwUser *u = opaque;

    qemu_co_rwlock_rdlock(u->lock);
    trace_add("%s-rd", u->name);
    qemu_co_rwlock_unlock(u->lock);
    trace_add("%s-done", u->name);
}

static void coroutine_fn wr_only(void *opaque)
{
    RwUser *u = opaque;

    qemu_co_rwlock_wrlock(u->lock);
    trace_add("%s-wr", u->name);
    qemu_co_rwlock_unlock(u->lock);
    trace_add("%s-done", u->name);
}

/*
 * A reader holds the lock while a writer, a reader and another writer
 * queue up.  When the first reader leaves, the writer gets in and
 * downgrades, which must admit the queued reader; the last writer gets in
 * once both readers are gone.  None of them may hang.
 */
static void test_co_rwlock_downgrade(void)
{
    CoRwlock lock;
    RwUser u1 = { &lock, "r1" }, u2 = { &lock, "w2" };
    RwUser u3 = { &lock, "r3" }, u4 = { &lock, "w4" };
    Coroutine *c1, *c2, *c3, *c4;

    qemu_co_rwlock_init(&lock);
    trace_reset();
    c1 = qemu_coroutine_create(rd_yield_unlock_yield, &u1);
    c2 = qemu_coroutine_create(wr_downgrade, &u2);
    c3 = qemu_coroutine_create(rd_only, &u3);
    c4 = qemu_coroutine_create(wr_only, &u4);

    qemu_coroutine_enter(c1);
    qemu_coroutine_enter(c2);
    /* Not admitted although only readers hold the lock: a writer waits. */
    qemu_coroutine_enter(c3);
    qemu_coroutine_enter(c4);
    assert_trace("r1-rd");

    qemu_coroutine_enter(c1);
    assert_trace("r1-rd r1-unlocked w2-wr w2-downgraded r3-rd r3-done");
    g_assert_cmpint(lock.owners, ==, 1);

    qemu_coroutine_enter(c2);
    assert_trace("r1-rd r1-unlocked w2-wr w2-downgraded r3-rd r3-done "
                 "w2-done w4-wr w4-done");
    qemu_coroutine_enter(c1);
    g_assert_cmpint(lock.owners, ==, 0);
    g_assert(QSIMPLEQ_EMPTY(&lock.tickets));
}

/* Readers queued behind a writer are all let in when it leaves. */
static void test_co_rwlock_readers_chain(void)
{
    CoRwlock lock;
    RwUser w = { &lock, "w" };
    RwUser r[3] = { { &lock, "a" }, { &lock, "b" }, { &lock, "c" } };
    Coroutine *cw;
    int i;

    qemu_co_rwlock_init(&lock);
    trace_reset();
    cw = qemu_coroutine_create(wr_yield, &w);
    qemu_coroutine_enter(cw);
    for (i = 0; i < 3; i++) {
        qemu_coroutine_enter(qemu_coroutine_create(rd_only, &r[i]));
    }
    assert_trace("w-wr");
    qemu_coroutine_enter(cw);
    assert_trace("w-wr w-done a-rd a-done b-rd b-done c-rd c-done");
    g_assert_cmpint(lock.owners, ==, 0);
}

/* ---- Sleeping ---- */

typedef struct {
    QemuCoSleep w;
    int64_t ns;
    bool done;
} SleepData;

static void coroutine_fn sleeper(void *opaque)
{
    SleepData *sd = opaque;

    qemu_co_sleep_ns_wakeable(&sd->w, QEMU_CLOCK_REALTIME, sd->ns);
    sd->done = true;
}

static void test_co_sleep(void)
{
    AioContext *ctx = qemu_get_aio_context();
    SleepData sd = { .ns = 20 * SCALE_MS };
    int64_t start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    qemu_coroutine_enter(qemu_coroutine_create(sleeper, &sd));
    g_assert(!sd.done);
    while (!sd.done) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start, >=,
                    sd.ns);
}

static void test_co_sleep_wake(void)
{
    AioContext *ctx = qemu_get_aio_context();
    SleepData sd = { .ns = 60 * NANOSECONDS_PER_SECOND };
    int64_t start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    qemu_coroutine_enter(qemu_coroutine_create(sleeper, &sd));
    g_assert(!sd.done);
    /* Ends the sleep now; the timer is gone with it. */
    qemu_co_sleep_wake(&sd.w);
    g_assert(sd.done);
    g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start, <,
                    10 * NANOSECONDS_PER_SECOND);
    g_assert_cmpint(aio_compute_timeout(ctx), ==, -1);
    /* Waking nobody is harmless. */
    qemu_co_sleep_wake(&sd.w);
}

static void coroutine_fn sleep_forever(void *opaque)
{
    SleepData *sd = opaque;

    qemu_co_sleep(&sd->w);
    sd->done = true;
}

static void wake_sleeper_bh(void *opaque)
{
    SleepData *sd = opaque;

    qemu_co_sleep_wake(&sd->w);
}

static void test_co_sleep_until_woken(void)
{
    AioContext *ctx = qemu_get_aio_context();
    SleepData sd = { 0 };

    qemu_coroutine_enter(qemu_coroutine_create(sleep_forever, &sd));
    g_assert(!sd.done);
    g_assert(!aio_poll(ctx, false));
    g_assert(!sd.done);
    aio_bh_schedule_oneshot(ctx, wake_sleeper_bh, &sd);
    g_assert(aio_poll(ctx, true));
    g_assert(sd.done);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    trace = g_string_new(NULL);

    g_test_add_func("/basic/in_coroutine", test_in_coroutine);
    g_test_add_func("/basic/self", test_self);
    g_test_add_func("/basic/entered", test_entered);
    g_test_add_func("/basic/nesting", test_nesting);
    g_test_add_func("/basic/yield", test_yield);
    g_test_add_func("/basic/no-dangling-access", test_no_dangling_access);
    g_test_add_func("/basic/lifecycle", test_lifecycle);
    g_test_add_func("/basic/pool-reuse", test_pool_reuse);
    g_test_add_func("/basic/order", test_order);
    g_test_add_func("/basic/order-nested", test_order_nested);
    g_test_add_func("/wake/deferred", test_wake_deferred);
    g_test_add_func("/wake/from-bh", test_enter_from_bh);
    g_test_add_func("/wake/context", test_enter_context);
    g_test_add_func("/abort/reenter", test_abort_reenter);
    g_test_add_func("/abort/yield-outside", test_abort_yield_outside);
    g_test_add_func("/abort/double-schedule", test_abort_double_schedule);
    g_test_add_func("/abort/enter-scheduled", test_abort_enter_scheduled);
    g_test_add_func("/abort/terminate-locked", test_abort_terminate_locked);
    g_test_add_func("/locking/co-mutex", test_co_mutex);
    g_test_add_func("/locking/co-mutex/lockable", test_co_mutex_lockable);
    g_test_add_func("/locking/co-mutex/fifo", test_co_mutex_fifo);
    g_test_add_func("/locking/co-mutex/guard", test_co_mutex_guard);
    g_test_add_func("/locking/co-queue", test_co_queue);
    g_test_add_func("/locking/co-queue/enter-next", test_co_enter_next);
    g_test_add_func("/locking/co-rwlock/upgrade", test_co_rwlock_upgrade);
    g_test_add_func("/locking/co-rwlock/downgrade", test_co_rwlock_downgrade);
    g_test_add_func("/locking/co-rwlock/readers-chain",
                    test_co_rwlock_readers_chain);
    g_test_add_func("/sleep/timer", test_co_sleep);
    g_test_add_func("/sleep/wake-early", test_co_sleep_wake);
    g_test_add_func("/sleep/until-woken", test_co_sleep_until_woken);

    return g_test_run();
}
