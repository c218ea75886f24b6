/*
 * AioTaskPool: at most max_busy_tasks run at once, every task runs to
 * completion before wait_all returns, the first error is the pool's
 * status, and a task that never yields finishes inside start_task.
 */
#include "qemu/osdep.h"
#include "qemu/aio.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "block/aio_task.h"

typedef struct Counters {
    int running;
    int max_running;
    int finished;
    int order[16];              /* task ids in completion order */
} Counters;

typedef struct TestTask {
    AioTask task;
    Counters *c;
    int id;
    int yields;                 /* event loop round trips before finishing */
    int ret;
} TestTask;

static int coroutine_fn test_task_func(AioTask *task)
{
    TestTask *t = container_of(task, TestTask, task);
    Counters *c = t->c;

    c->running++;
    c->max_running = MAX(c->max_running, c->running);
    for (int i = 0; i < t->yields; i++) {
        aio_co_schedule(qemu_get_aio_context(), qemu_coroutine_self());
        qemu_coroutine_yield();
    }
    c->running--;
    c->order[c->finished++] = t->id;
    return t->ret;
}

typedef struct Run {
    int max_busy;
    int nb_tasks;
    const int *yields;
    const int *rets;
    Counters c;
    int status;
    bool empty_after;
    bool done;
} Run;

static void coroutine_fn run_pool(void *opaque)
{
    Run *r = opaque;
    AioTaskPool *pool = aio_task_pool_new(r->max_busy);

    for (int i = 0; i < r->nb_tasks; i++) {
        TestTask *t = g_new0(TestTask, 1);

        *t = (TestTask) {
            .task.func = test_task_func,
            .c = &r->c,
            .id = i,
            .yields = r->yields[i],
            .ret = r->rets ? r->rets[i] : 0,
        };
        aio_task_pool_start_task(pool, &t->task);
    }
    aio_task_pool_wait_all(pool);
    r->status = aio_task_pool_status(pool);
    r->empty_after = aio_task_pool_empty(pool);
    aio_task_pool_free(pool);
    r->done = true;
}

static void run(Run *r)
{
    qemu_coroutine_enter(qemu_coroutine_create(run_pool, r));
    while (!r->done) {
        aio_poll(qemu_get_aio_context(), true);
    }
}

static void test_bounded(void)
{
    static const int yields[10] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3 };
    Run r = { .max_busy = 3, .nb_tasks = 10, .yields = yields };

    run(&r);
    g_assert_cmpint(r.c.finished, ==, 10);
    g_assert_cmpint(r.c.max_running, ==, 3);
    g_assert_cmpint(r.c.running, ==, 0);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_true(r.empty_after);
    /* Tasks 1 and 3 need one round trip each: they end first. */
    g_assert_cmpint(r.c.order[0], ==, 1);
}

static void test_first_error_wins(void)
{
    static const int yields[4] = { 2, 0, 1, 0 };
    static const int rets[4] = { -EIO, 0, -ENOSPC, -EINVAL };
    Run r = { .max_busy = 4, .nb_tasks = 4, .yields = yields, .rets = rets };

    run(&r);
    g_assert_cmpint(r.c.finished, ==, 4);
    /* Task 3 never yields, so it fails before tasks 0 and 2 return. */
    g_assert_cmpint(r.status, ==, -EINVAL);
}

static void test_synchronous_tasks(void)
{
    static const int yields[5] = { 0 };
    Run r = { .max_busy = 1, .nb_tasks = 5, .yields = yields };

    run(&r);
    g_assert_cmpint(r.c.finished, ==, 5);
    g_assert_cmpint(r.c.max_running, ==, 1);
    for (int i = 0; i < 5; i++) {
        g_assert_cmpint(r.c.order[i], ==, i);
    }
}

static void test_no_tasks(void)
{
    Run r = { .max_busy = 2, .nb_tasks = 0 };

    run(&r);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_true(r.empty_after);
}

int main(int argc, char **argv)
{
    qemu_init_main_loop(&error_abort);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/aio-task/bounded", test_bounded);
    g_test_add_func("/aio-task/first-error-wins", test_first_error_wins);
    g_test_add_func("/aio-task/synchronous", test_synchronous_tasks);
    g_test_add_func("/aio-task/no-tasks", test_no_tasks);
    return g_test_run();
}
