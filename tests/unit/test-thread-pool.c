/*
 * Thread pool tests: submission styles, many requests, cancellation.
 */
#include "qemu/osdep.h"

#include "qemu/atomic.h"
#include "qemu/coroutine.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/thread-pool.h"

static AioContext *ctx;
static ThreadPool *pool;
/* Requests whose completion callback has not run yet. */
static int active;

typedef struct {
    BlockAIOCB *aiocb;
    int n;
    int ret;
    int callbacks;
    bool in_worker;
} WorkerTestData;

static int worker_cb(void *opaque)
{
    WorkerTestData *data = opaque;

    /* Workers run no event loop of their own. */
    data->in_worker = qemu_get_current_aio_context() == NULL;
    return qatomic_fetch_inc(&data->n);
}

/* Long jobs block on this gate until the test opens it. */
static QemuMutex gate_lock;
static QemuCond gate_cond;
static bool gate_open;
static int long_started;

static int long_cb(void *opaque)
{
    WorkerTestData *data = opaque;

    /* n: 0 queued, 1 running, 3 ran, 4 claimed by the test to cancel. */
    if (qatomic_cmpxchg(&data->n, 0, 1) == 0) {
        qatomic_inc(&long_started);
        qemu_mutex_lock(&gate_lock);
        while (!gate_open) {
            qemu_cond_wait(&gate_cond, &gate_lock);
        }
        qemu_mutex_unlock(&gate_lock);
        qatomic_or(&data->n, 2);
    }
    return 0;
}

static void open_gate(void)
{
    qemu_mutex_lock(&gate_lock);
    gate_open = true;
    qemu_cond_broadcast(&gate_cond);
    qemu_mutex_unlock(&gate_lock);
}

static void done_cb(void *opaque, int ret)
{
    WorkerTestData *data = opaque;

    g_assert(data->ret == -EINPROGRESS || data->ret == -ECANCELED);
    data->ret = ret;
    data->aiocb = NULL;
    data->callbacks++;

    /* Callbacks run one at a time in the pool's context. */
    g_assert(qemu_get_current_aio_context() == ctx);
    active--;
}

static void test_submit(void)
{
    WorkerTestData data = { .n = 0 };

    thread_pool_submit(pool, worker_cb, &data);
    while (qatomic_read(&data.n) == 0) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(data.n, ==, 1);
    g_assert(data.in_worker);
    /* The completion of a request without callback is just dropped. */
    while (aio_poll(ctx, false)) {
        /* nothing */
    }
}

static void test_submit_aio(void)
{
    WorkerTestData data = { .n = 0, .ret = -EINPROGRESS };

    data.aiocb = thread_pool_submit_aio(pool, worker_cb, &data, done_cb,
                                        &data);
    active = 1;

    /* The callback runs only from polling the context. */
    g_usleep(100 * 1000);
    g_assert_cmpint(data.ret, ==, -EINPROGRESS);
    g_assert(data.aiocb != NULL);

    while (data.ret == -EINPROGRESS) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(active, ==, 0);
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.ret, ==, 0);
    g_assert_cmpint(data.callbacks, ==, 1);
    g_assert(data.aiocb == NULL);
}

static void coroutine_fn co_test_cb(void *opaque)
{
    WorkerTestData *data = opaque;

    active = 1;
    data->n = 0;
    data->ret = -EINPROGRESS;
    thread_pool_submit_co(pool, worker_cb, data);

    /* The worker finished before we were woken. */
    g_assert_cmpint(data->n, ==, 1);
    data->ret = 0;
    active--;

    /* The test continues in test_submit_co. */
}

static void test_submit_co(void)
{
    WorkerTestData data;
    Coroutine *co = qemu_coroutine_create(co_test_cb, &data);

    qemu_coroutine_enter(co);

    /* The coroutine yielded while the worker runs. */
    g_assert_cmpint(active, ==, 1);
    g_assert_cmpint(data.ret, ==, -EINPROGRESS);

    while (data.ret == -EINPROGRESS) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(active, ==, 0);
    g_assert_cmpint(data.ret, ==, 0);
}

static void test_submit_many(void)
{
    WorkerTestData data[100];
    int i;

    /* More requests than the pool has threads. */
    for (i = 0; i < 100; i++) {
        data[i] = (WorkerTestData) { .n = 0, .ret = -EINPROGRESS };
        data[i].aiocb = thread_pool_submit_aio(pool, worker_cb, &data[i],
                                               done_cb, &data[i]);
    }

    active = 100;
    while (active > 0) {
        aio_poll(ctx, true);
    }
    for (i = 0; i < 100; i++) {
        g_assert_cmpint(data[i].n, ==, 1);
        g_assert_cmpint(data[i].ret, ==, 0);
        g_assert_cmpint(data[i].callbacks, ==, 1);
    }
}

static void do_test_cancel(bool sync)
{
    WorkerTestData data[100];
    int64_t deadline;
    int claimed, cancelled, ran, started;
    int i;

    /* Make sure the pool already has threads. */
    test_submit_many();

    gate_open = false;
    long_started = 0;
    for (i = 0; i < 100; i++) {
        data[i] = (WorkerTestData) { .n = 0, .ret = -EINPROGRESS };
        data[i].aiocb = thread_pool_submit_aio(pool, long_cb, &data[i],
                                               done_cb, &data[i]);
    }
    active = 100;

    /*
     * Let the workers pick up jobs (new threads are created from a BH, so
     * poll) until every worker is stuck at the gate: no job starts for a
     * while.  At most 64 threads exist, so the other jobs stay queued.
     */
    deadline = get_clock() + 60 * NANOSECONDS_PER_SECOND;
    started = -1;
    while (started != qatomic_read(&long_started) || started == 0) {
        g_assert_cmpint(get_clock(), <, deadline);
        started = qatomic_read(&long_started);
        aio_poll(ctx, false);
        g_usleep(200 * 1000);
    }
    g_assert_cmpint(started, <=, 64);
    g_assert_cmpint(active, ==, 100);

    /* Cancel the jobs that have not started (claiming them first). */
    claimed = 0;
    for (i = 0; i < 100; i++) {
        if (qatomic_cmpxchg(&data[i].n, 0, 4) == 0) {
            data[i].ret = -ECANCELED;
            if (sync) {
                bdrv_aio_cancel(data[i].aiocb);
                /* Waited for: the callback has run. */
                g_assert_cmpint(data[i].callbacks, ==, 1);
            } else {
                bdrv_aio_cancel_async(data[i].aiocb);
            }
            claimed++;
        }
    }
    g_assert_cmpint(claimed, ==, 100 - started);

    /* Cancelling running jobs does not stop them: they complete. */
    open_gate();
    for (i = 0; i < 100; i++) {
        if (data[i].aiocb && qatomic_read(&data[i].n) < 4) {
            if (sync) {
                bdrv_aio_cancel(data[i].aiocb);
            } else {
                bdrv_aio_cancel_async(data[i].aiocb);
            }
        }
    }

    while (active > 0) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(active, ==, 0);
    cancelled = ran = 0;
    for (i = 0; i < 100; i++) {
        /* Every request called back exactly once. */
        g_assert_cmpint(data[i].callbacks, ==, 1);
        g_assert(data[i].aiocb == NULL);
        if (data[i].n == 3) {
            g_assert_cmpint(data[i].ret, ==, 0);
            ran++;
        } else {
            /*
             * Claimed while queued.  Normally cancelled without running;
             * a worker that dequeued it just before the cancel ran it, and
             * then it completes normally.
             */
            g_assert_cmpint(data[i].n, ==, 4);
            g_assert(data[i].ret == -ECANCELED || data[i].ret == 0);
            cancelled += data[i].ret == -ECANCELED;
        }
    }
    g_assert_cmpint(ran, ==, started);
    g_assert_cmpint(cancelled, >, 0);
}

static void test_cancel(void)
{
    do_test_cancel(true);
}

static void test_cancel_async(void)
{
    do_test_cancel(false);
}

static int running_now;
static int running_max;

static int serial_cb(void *opaque)
{
    int now = qatomic_inc_fetch(&running_now);
    int max = qatomic_read(&running_max);

    while (now > max && qatomic_cmpxchg(&running_max, max, now) != max) {
        max = qatomic_read(&running_max);
    }
    g_usleep(10 * 1000);
    qatomic_dec(&running_now);
    return 0;
}

/* A pool of its own, limited to one thread: requests run one by one. */
static void test_limits(void)
{
    ThreadPool *p = thread_pool_new(ctx);
    WorkerTestData data[4];
    int i;

    thread_pool_set_minmax_threads(p, 0, 1);
    for (i = 0; i < 4; i++) {
        data[i] = (WorkerTestData) { .n = 0, .ret = -EINPROGRESS };
        data[i].aiocb = thread_pool_submit_aio(p, serial_cb, &data[i],
                                               done_cb, &data[i]);
    }
    active = 4;
    while (active > 0) {
        aio_poll(ctx, true);
    }
    for (i = 0; i < 4; i++) {
        g_assert_cmpint(data[i].ret, ==, 0);
        g_assert_cmpint(data[i].callbacks, ==, 1);
    }
    g_assert_cmpint(running_max, ==, 1);
    /* Waits for the worker to leave. */
    thread_pool_free(p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    qemu_mutex_init(&gate_lock);
    qemu_cond_init(&gate_cond);
    ctx = qemu_get_current_aio_context();
    pool = aio_get_thread_pool(ctx);

    g_test_add_func("/thread-pool/submit", test_submit);
    g_test_add_func("/thread-pool/submit-aio", test_submit_aio);
    g_test_add_func("/thread-pool/submit-co", test_submit_co);
    g_test_add_func("/thread-pool/submit-many", test_submit_many);
    g_test_add_func("/thread-pool/cancel", test_cancel);
    g_test_add_func("/thread-pool/cancel-async", test_cancel_async);
    g_test_add_func("/thread-pool/limits", test_limits);

    return g_test_run();
}
