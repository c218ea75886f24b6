/*
 * Bounded pools of concurrent coroutine tasks (include/block/aio_task.h).
 */
#include "qemu/osdep.h"
#include "qemu/aio.h"
#include "block/aio_task.h"

struct AioTaskPool {
    Coroutine *main_co;         /* the owner, who starts tasks and waits */
    int status;
    int max_busy_tasks;
    int busy_tasks;
    bool waiting;               /* main_co is yielding until a task ends */
};

static void coroutine_fn aio_task_co(void *opaque)
{
    AioTask *task = opaque;
    AioTaskPool *pool = task->pool;

    assert(pool->busy_tasks < pool->max_busy_tasks);
    pool->busy_tasks++;

    task->ret = task->func(task);

    pool->busy_tasks--;
    if (task->ret < 0 && pool->status == 0) {
        pool->status = task->ret;
    }
    g_free(task);

    if (pool->waiting) {
        pool->waiting = false;
        aio_co_wake(pool->main_co);
    }
}

void coroutine_fn aio_task_pool_wait_one(AioTaskPool *pool)
{
    assert(pool->busy_tasks > 0);
    assert(qemu_coroutine_self() == pool->main_co);

    pool->waiting = true;
    qemu_coroutine_yield();
    assert(!pool->waiting);
}

void coroutine_fn aio_task_pool_wait_slot(AioTaskPool *pool)
{
    while (pool->busy_tasks >= pool->max_busy_tasks) {
        aio_task_pool_wait_one(pool);
    }
}

void coroutine_fn aio_task_pool_wait_all(AioTaskPool *pool)
{
    while (pool->busy_tasks > 0) {
        aio_task_pool_wait_one(pool);
    }
}

void coroutine_fn aio_task_pool_start_task(AioTaskPool *pool, AioTask *task)
{
    aio_task_pool_wait_slot(pool);
    task->pool = pool;
    qemu_coroutine_enter(qemu_coroutine_create(aio_task_co, task));
}

AioTaskPool *coroutine_fn aio_task_pool_new(int max_busy_tasks)
{
    AioTaskPool *pool = g_new0(AioTaskPool, 1);

    assert(max_busy_tasks > 0);
    pool->main_co = qemu_coroutine_self();
    pool->max_busy_tasks = max_busy_tasks;
    return pool;
}

void aio_task_pool_free(AioTaskPool *pool)
{
    assert(pool->busy_tasks == 0);
    g_free(pool);
}

int aio_task_pool_status(AioTaskPool *pool)
{
    return pool ? pool->status : 0;
}

bool aio_task_pool_empty(AioTaskPool *pool)
{
    return pool->busy_tasks == 0;
}
