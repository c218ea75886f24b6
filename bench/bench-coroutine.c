/*
 * Coroutine micro-benchmark.  Prints one line:
 *   coroutine: switch_ns=N create_ns=N mutex_ns=N
 * switch: one qemu_coroutine_enter() + qemu_coroutine_yield() round trip;
 * create: create + enter + terminate of an empty coroutine (pooled);
 * mutex: an uncontended CoMutex lock + unlock inside a coroutine.
 * Each figure is the median over RUNS runs of ITERATIONS operations.
 */
#include "qemu/osdep.h"

#include "qemu/coroutine.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

#define RUNS 7
#define ITERATIONS 1000000

static bool stop;

static void coroutine_fn yield_loop(void *opaque)
{
    while (!stop) {
        qemu_coroutine_yield();
    }
}

static int64_t run_switch(void)
{
    Coroutine *co = qemu_coroutine_create(yield_loop, NULL);
    int64_t start;
    int i;

    stop = false;
    start = get_clock();
    for (i = 0; i < ITERATIONS; i++) {
        qemu_coroutine_enter(co);
    }
    start = get_clock() - start;
    stop = true;
    qemu_coroutine_enter(co);
    return start;
}

static void coroutine_fn empty(void *opaque)
{
}

static int64_t run_create(void)
{
    int64_t start = get_clock();
    int i;

    for (i = 0; i < ITERATIONS; i++) {
        qemu_coroutine_enter(qemu_coroutine_create(empty, NULL));
    }
    return get_clock() - start;
}

static void coroutine_fn lock_loop(void *opaque)
{
    int64_t *elapsed = opaque;
    CoMutex mutex;
    int64_t start;
    int i;

    qemu_co_mutex_init(&mutex);
    start = get_clock();
    for (i = 0; i < ITERATIONS; i++) {
        qemu_co_mutex_lock(&mutex);
        qemu_co_mutex_unlock(&mutex);
    }
    *elapsed = get_clock() - start;
}

static int64_t run_mutex(void)
{
    int64_t elapsed = 0;

    qemu_coroutine_enter(qemu_coroutine_create(lock_loop, &elapsed));
    return elapsed;
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* Median of RUNS runs, in nanoseconds per operation (rounded). */
static int64_t median_ns(int64_t (*run)(void))
{
    int64_t t[RUNS];
    int i;

    run();      /* warm up caches and the coroutine pool */
    for (i = 0; i < RUNS; i++) {
        t[i] = run();
    }
    qsort(t, RUNS, sizeof(t[0]), cmp_int64);
    return (t[RUNS / 2] + ITERATIONS / 2) / ITERATIONS;
}

int main(int argc, char **argv)
{
    int64_t switch_ns, create_ns, mutex_ns;

    qemu_init_main_loop(&error_fatal);
    switch_ns = median_ns(run_switch);
    create_ns = median_ns(run_create);
    mutex_ns = median_ns(run_mutex);
    printf("coroutine: switch_ns=%" PRId64 " create_ns=%" PRId64
           " mutex_ns=%" PRId64 "\n", switch_ns, create_ns, mutex_ns);
    return 0;
}
