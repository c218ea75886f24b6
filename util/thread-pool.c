/*
 * Thread pool: runs blocking functions in worker threads and delivers
 * their completion in the pool's AioContext.
 */
#include "qemu/osdep.h"

#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "qemu/thread-pool.h"
#include "aio-internal.h"

/* Idle workers beyond min_threads exit after this long. */
#define THREAD_POOL_IDLE_TIMEOUT_MS 10000

typedef enum {
    THREAD_QUEUED,
    THREAD_ACTIVE,
    THREAD_DONE,
} ThreadState;

typedef struct ThreadPoolElement {
    BlockAIOCB common;
    ThreadPool *pool;
    ThreadPoolFunc *func;
    void *arg;

    /*
     * Leaves THREAD_QUEUED under pool->lock (taken by a worker or
     * cancelled); after that only the worker writes it.  `ret` is written
     * before the release store of THREAD_DONE.
     */
    ThreadState state;
    int ret;

    /* In pool->request_list while queued; protected by pool->lock. */
    QTAILQ_ENTRY(ThreadPoolElement) reqs;
    /* In pool->head until completed; home thread only. */
    QLIST_ENTRY(ThreadPoolElement) all;
} ThreadPoolElement;

struct ThreadPool {
    AioContext *ctx;
    QEMUBH *completion_bh;
    QEMUBH *new_thread_bh;

    /* Submitted requests whose callback has not run; home thread only. */
    QLIST_HEAD(, ThreadPoolElement) head;

    QemuMutex lock;
    /* Signalled when a request is queued or a worker should exit. */
    QemuCond request_cond;
    QemuCond worker_stopped;

    /* The rest is protected by lock. */
    QTAILQ_HEAD(, ThreadPoolElement) request_list;
    int cur_threads;        /* workers running or about to be created */
    int idle_threads;       /* workers waiting for a request */
    int new_threads;        /* workers still to be created */
    int pending_threads;    /* workers created but not yet running */
    int min_threads;
    int max_threads;
};

static void do_spawn_thread(ThreadPool *pool);

static void *worker_thread(void *opaque)
{
    ThreadPool *pool = opaque;

    qemu_mutex_lock(&pool->lock);
    pool->pending_threads--;
    /* Create the next needed worker, if any: creation is serialised. */
    do_spawn_thread(pool);

    while (pool->cur_threads <= pool->max_threads) {
        ThreadPoolElement *req;
        int ret;

        if (QTAILQ_EMPTY(&pool->request_list)) {
            bool woken;

            pool->idle_threads++;
            woken = qemu_cond_timedwait(&pool->request_cond, &pool->lock,
                                        THREAD_POOL_IDLE_TIMEOUT_MS);
            pool->idle_threads--;
            if (!woken && QTAILQ_EMPTY(&pool->request_list) &&
                pool->cur_threads > pool->min_threads) {
                break;
            }
            /* Re-check the thread count before taking work. */
            continue;
        }

        req = QTAILQ_FIRST(&pool->request_list);
        QTAILQ_REMOVE(&pool->request_list, req, reqs);
        req->state = THREAD_ACTIVE;
        qemu_mutex_unlock(&pool->lock);

        ret = req->func(req->arg);

        req->ret = ret;
        qatomic_store_release(&req->state, THREAD_DONE);
        qemu_bh_schedule(pool->completion_bh);

        qemu_mutex_lock(&pool->lock);
    }

    pool->cur_threads--;
    qemu_cond_signal(&pool->worker_stopped);
    /*
     * We may have consumed a wakeup meant for a request while deciding to
     * exit; pass it on.  Everything is done under the lock, because the
     * pool may be freed as soon as we release it.
     */
    qemu_cond_signal(&pool->request_cond);
    qemu_mutex_unlock(&pool->lock);
    return NULL;
}

/* Called with pool->lock held. */
static void do_spawn_thread(ThreadPool *pool)
{
    QemuThread thread;

    if (!pool->new_threads) {
        return;
    }
    pool->new_threads--;
    pool->pending_threads++;
    qemu_thread_create(&thread, "worker", worker_thread, pool,
                       QEMU_THREAD_DETACHED);
}

static void spawn_thread_bh_fn(void *opaque)
{
    ThreadPool *pool = opaque;

    qemu_mutex_lock(&pool->lock);
    do_spawn_thread(pool);
    qemu_mutex_unlock(&pool->lock);
}

/* Called with pool->lock held. */
static void spawn_thread(ThreadPool *pool)
{
    pool->cur_threads++;
    pool->new_threads++;
    /*
     * Threads are created one at a time, each new worker creating the
     * next, and the first from a BH in the pool's context so that workers
     * inherit its thread's properties (affinity) rather than the
     * submitter's.
     */
    if (!pool->pending_threads) {
        qemu_bh_schedule(pool->new_thread_bh);
    }
}

static void thread_pool_completion_bh(void *opaque)
{
    ThreadPool *pool = opaque;
    ThreadPoolElement *elem, *next;

    aio_context_acquire(pool->ctx);
restart:
    QLIST_FOREACH_SAFE(elem, &pool->head, all, next) {
        if (qatomic_load_acquire(&elem->state) != THREAD_DONE) {
            continue;
        }
        QLIST_REMOVE(elem, all);

        if (elem->common.cb) {
            /*
             * The callback may poll for another request that completed
             * at the same time: stay scheduled while it runs.
             */
            qemu_bh_schedule(pool->completion_bh);

            aio_context_release(pool->ctx);
            elem->common.cb(elem->common.opaque, elem->ret);
            aio_context_acquire(pool->ctx);

            /* The rescan below covers whatever scheduled us meanwhile. */
            qemu_bh_cancel(pool->completion_bh);
            qemu_aio_unref(elem);
            goto restart;
        }
        qemu_aio_unref(elem);
    }
    aio_context_release(pool->ctx);
}

static void thread_pool_cancel(BlockAIOCB *acb)
{
    ThreadPoolElement *elem = container_of(acb, ThreadPoolElement, common);
    ThreadPool *pool = elem->pool;

    /* A request that already runs cannot be stopped; it completes. */
    qemu_mutex_lock(&pool->lock);
    if (elem->state == THREAD_QUEUED) {
        QTAILQ_REMOVE(&pool->request_list, elem, reqs);
        elem->ret = -ECANCELED;
        qatomic_store_release(&elem->state, THREAD_DONE);
        qemu_bh_schedule(pool->completion_bh);
    }
    qemu_mutex_unlock(&pool->lock);
}

static AioContext *thread_pool_get_aio_context(BlockAIOCB *acb)
{
    ThreadPoolElement *elem = container_of(acb, ThreadPoolElement, common);

    return elem->pool->ctx;
}

static const AIOCBInfo thread_pool_aiocb_info = {
    .aiocb_size = sizeof(ThreadPoolElement),
    .cancel_async = thread_pool_cancel,
    .get_aio_context = thread_pool_get_aio_context,
};

BlockAIOCB *thread_pool_submit_aio(ThreadPool *pool, ThreadPoolFunc *func,
                                   void *arg, BlockCompletionFunc *cb,
                                   void *opaque)
{
    ThreadPoolElement *req;

    req = qemu_aio_get(&thread_pool_aiocb_info, NULL, cb, opaque);
    req->pool = pool;
    req->func = func;
    req->arg = arg;
    req->state = THREAD_QUEUED;
    req->ret = -EINPROGRESS;

    QLIST_INSERT_HEAD(&pool->head, req, all);

    qemu_mutex_lock(&pool->lock);
    if (pool->idle_threads == 0 && pool->cur_threads < pool->max_threads) {
        spawn_thread(pool);
    }
    QTAILQ_INSERT_TAIL(&pool->request_list, req, reqs);
    qemu_cond_signal(&pool->request_cond);
    qemu_mutex_unlock(&pool->lock);

    return &req->common;
}

typedef struct {
    Coroutine *co;
    int ret;
} ThreadPoolCo;

static void thread_pool_co_cb(void *opaque, int ret)
{
    ThreadPoolCo *tpc = opaque;

    tpc->ret = ret;
    aio_co_wake(tpc->co);
}

int coroutine_fn thread_pool_submit_co(ThreadPool *pool, ThreadPoolFunc *func,
                                       void *arg)
{
    ThreadPoolCo tpc = {
        .co = qemu_coroutine_self(),
        .ret = -EINPROGRESS,
    };

    assert(qemu_in_coroutine());
    thread_pool_submit_aio(pool, func, arg, thread_pool_co_cb, &tpc);
    qemu_coroutine_yield();
    return tpc.ret;
}

void thread_pool_submit(ThreadPool *pool, ThreadPoolFunc *func, void *arg)
{
    thread_pool_submit_aio(pool, func, arg, NULL, NULL);
}

static void thread_pool_set_limits(ThreadPool *pool, int min, int max)
{
    int i;

    assert(min >= 0 && max >= min && max > 0);

    qemu_mutex_lock(&pool->lock);
    pool->min_threads = min;
    pool->max_threads = max;

    /* Warm up to min_threads; surplus workers notice and exit. */
    for (i = pool->cur_threads; i < pool->min_threads; i++) {
        spawn_thread(pool);
    }
    for (i = pool->cur_threads; i > pool->max_threads; i--) {
        qemu_cond_signal(&pool->request_cond);
    }
    qemu_mutex_unlock(&pool->lock);
}

void thread_pool_update_params(ThreadPool *pool, AioContext *ctx)
{
    thread_pool_set_limits(pool, ctx->thread_pool_min, ctx->thread_pool_max);
}

void thread_pool_set_minmax_threads(ThreadPool *pool, int min, int max)
{
    thread_pool_set_limits(pool, min, max);
}

ThreadPool *thread_pool_new(AioContext *ctx)
{
    ThreadPool *pool = g_new0(ThreadPool, 1);

    if (!ctx) {
        ctx = qemu_get_aio_context();
    }
    pool->ctx = ctx;
    pool->completion_bh = aio_bh_new(ctx, thread_pool_completion_bh, pool);
    pool->new_thread_bh = aio_bh_new(ctx, spawn_thread_bh_fn, pool);
    QLIST_INIT(&pool->head);
    qemu_mutex_init(&pool->lock);
    qemu_cond_init(&pool->request_cond);
    qemu_cond_init(&pool->worker_stopped);
    QTAILQ_INIT(&pool->request_list);

    thread_pool_update_params(pool, ctx);
    return pool;
}

void thread_pool_free(ThreadPool *pool)
{
    if (!pool) {
        return;
    }

    assert(QLIST_EMPTY(&pool->head));

    qemu_mutex_lock(&pool->lock);

    /* Workers not created yet never will be. */
    qemu_bh_delete(pool->new_thread_bh);
    pool->cur_threads -= pool->new_threads;
    pool->new_threads = 0;

    /* max_threads 0 makes every worker leave its loop. */
    pool->max_threads = 0;
    qemu_cond_broadcast(&pool->request_cond);
    while (pool->cur_threads > 0) {
        qemu_cond_wait(&pool->worker_stopped, &pool->lock);
    }
    qemu_mutex_unlock(&pool->lock);

    qemu_bh_delete(pool->completion_bh);
    qemu_cond_destroy(&pool->request_cond);
    qemu_cond_destroy(&pool->worker_stopped);
    qemu_mutex_destroy(&pool->lock);
    g_free(pool);
}
