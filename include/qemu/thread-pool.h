/*
 * Worker threads for blocking work.  A function runs in a worker thread;
 * its completion is delivered in the pool's AioContext.  Submit from the
 * thread that runs that context.  Workers are created on demand (up to 64
 * by default) and leave after 10 s without work.
 */
#ifndef QEMU_THREAD_POOL_H
#define QEMU_THREAD_POOL_H

#include "qemu/aio.h"

typedef int ThreadPoolFunc(void *opaque);

ThreadPool *thread_pool_new(AioContext *ctx);
/* Waits for the workers; no request may be pending. */
void thread_pool_free(ThreadPool *pool);

/*
 * Run func(arg) in a worker; cb(opaque, ret) runs later in the pool's
 * context.  Cancelling a request that has not started completes it with
 * -ECANCELED without running func.
 */
BlockAIOCB *thread_pool_submit_aio(ThreadPool *pool, ThreadPoolFunc *func,
                                   void *arg, BlockCompletionFunc *cb,
                                   void *opaque);
/* Run func(arg) in a worker and yield until it returns; returns its value. */
int coroutine_fn thread_pool_submit_co(ThreadPool *pool, ThreadPoolFunc *func,
                                       void *arg);
/* Fire and forget. */
void thread_pool_submit(ThreadPool *pool, ThreadPoolFunc *func, void *arg);

/* Take the context's limits (default: keep 0, allow 64 workers). */
void thread_pool_update_params(ThreadPool *pool, AioContext *ctx);
/* Keep at least min workers alive; allow at most max (> 0). */
void thread_pool_set_minmax_threads(ThreadPool *pool, int min, int max);

#endif
