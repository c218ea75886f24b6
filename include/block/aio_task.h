/*
 * Bounded sets of concurrent coroutine tasks: a request split into pieces
 * runs up to max_busy_tasks of them at once and waits for all (qcow2 reads
 * and writes).  The pool belongs to the coroutine that created it; only
 * that coroutine may start tasks and wait.
 */
#ifndef BLOCK_AIO_TASK_H
#define BLOCK_AIO_TASK_H

#include "qemu/coroutine.h"

typedef struct AioTaskPool AioTaskPool;
typedef struct AioTask AioTask;
typedef int coroutine_fn (*AioTaskFunc)(AioTask *task);

/*
 * Embed as the first member of a g_new'ed task struct; the pool frees the
 * task once func returns.
 */
struct AioTask {
    AioTaskPool *pool;
    AioTaskFunc func;
    int ret;
};

AioTaskPool *coroutine_fn aio_task_pool_new(int max_busy_tasks);
void aio_task_pool_free(AioTaskPool *pool);

/* Wait for a free slot, then run task in a new coroutine. */
void coroutine_fn aio_task_pool_start_task(AioTaskPool *pool, AioTask *task);
void coroutine_fn aio_task_pool_wait_slot(AioTaskPool *pool);
void coroutine_fn aio_task_pool_wait_one(AioTaskPool *pool);
void coroutine_fn aio_task_pool_wait_all(AioTaskPool *pool);

/* 0, or the error of the first task that failed */
int aio_task_pool_status(AioTaskPool *pool);
bool aio_task_pool_empty(AioTaskPool *pool);

#endif
