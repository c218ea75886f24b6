/*
 * Coroutine core: creation from the free pools, entering, yielding and
 * termination.  The stack switch itself lives in the back end
 * (coroutine-asm.c or coroutine-ucontext.c).
 */
#include "qemu/osdep.h"

#include <sys/mman.h>

#ifdef CONFIG_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "qemu/aio.h"
#include "qemu/atomic.h"
#include "qemu/coroutine_int.h"

/*
 * Free coroutines are kept for reuse, because allocating a stack costs
 * several system calls.  Terminated coroutines go first to a global release
 * pool (so that a thread that only frees can feed one that only allocates),
 * then to the terminating thread's own pool.  A thread whose own pool is
 * empty takes the whole release pool once it holds more than a batch.
 */
enum {
    POOL_MIN_BATCH_SIZE = 64,
    /* Each of the two pools keeps at most this many (release: twice). */
    POOL_MAX_SIZE = POOL_MIN_BATCH_SIZE,
};

static QSLIST_HEAD(, Coroutine) release_pool =
    QSLIST_HEAD_INITIALIZER(release_pool);
static unsigned release_pool_size;

typedef QSLIST_HEAD(, Coroutine) CoroutinePool;

static __thread CoroutinePool alloc_pool;
static __thread unsigned alloc_pool_size;
static __thread bool alloc_pool_registered;

static pthread_key_t alloc_pool_key;
static pthread_once_t alloc_pool_key_once = PTHREAD_ONCE_INIT;

/* Thread exit: the thread's free coroutines would otherwise leak. */
static void alloc_pool_cleanup(void *unused)
{
    Coroutine *co;

    while ((co = QSLIST_FIRST(&alloc_pool))) {
        QSLIST_REMOVE_HEAD(&alloc_pool, pool_next);
        qemu_coroutine_delete(co);
    }
    alloc_pool_size = 0;
}

static void alloc_pool_key_init(void)
{
    pthread_key_create(&alloc_pool_key, alloc_pool_cleanup);
}

static void alloc_pool_register(void)
{
    pthread_once(&alloc_pool_key_once, alloc_pool_key_init);
    /* Any non-NULL value makes the destructor run at thread exit. */
    pthread_setspecific(alloc_pool_key, &alloc_pool);
    alloc_pool_registered = true;
}

static Coroutine *pool_get(void)
{
    Coroutine *co = QSLIST_FIRST(&alloc_pool);

    if (!co && qatomic_read(&release_pool_size) > POOL_MIN_BATCH_SIZE) {
        /* The size is only a hint, so a racy exchange is good enough. */
        QSLIST_MOVE_ATOMIC(&alloc_pool, &release_pool);
        alloc_pool_size = qatomic_xchg(&release_pool_size, 0);
        co = QSLIST_FIRST(&alloc_pool);
    }
    if (co) {
        QSLIST_REMOVE_HEAD(&alloc_pool, pool_next);
        alloc_pool_size--;
    }
    return co;
}

static void pool_put(Coroutine *co)
{
    if (qatomic_read(&release_pool_size) < POOL_MAX_SIZE * 2) {
        QSLIST_INSERT_HEAD_ATOMIC(&release_pool, co, pool_next);
        qatomic_inc(&release_pool_size);
        return;
    }
    if (alloc_pool_size < POOL_MAX_SIZE) {
        if (unlikely(!alloc_pool_registered)) {
            alloc_pool_register();
        }
        QSLIST_INSERT_HEAD(&alloc_pool, co, pool_next);
        alloc_pool_size++;
        return;
    }
    qemu_coroutine_delete(co);
}

Coroutine *qemu_coroutine_create(CoroutineEntry *entry, void *opaque)
{
    Coroutine *co = pool_get();

    if (!co) {
        co = qemu_coroutine_new();
    }
    co->entry = entry;
    co->entry_arg = opaque;
    QSIMPLEQ_INIT(&co->co_queue_wakeup);
    return co;
}

/* Out of line: keeps the hot path of qemu_aio_coroutine_enter() small. */
static void QEMU_NOINLINE coroutine_delete(Coroutine *co)
{
    assert(!co->locks_held);
    co->caller = NULL;
    pool_put(co);
}

static void G_NORETURN_FN QEMU_NOINLINE coroutine_enter_abort(Coroutine *co)
{
    const char *scheduled = qatomic_read(&co->scheduled);

    if (scheduled) {
        fprintf(stderr, "qemu_aio_coroutine_enter: Co-routine was already "
                "scheduled in '%s'\n", scheduled);
    } else {
        fprintf(stderr, "Co-routine re-entered recursively\n");
    }
    abort();
}

void qemu_aio_coroutine_enter(AioContext *ctx, Coroutine *co)
{
    /*
     * Coroutines woken while `to` runs are not entered from inside it (that
     * would nest stacks without bound); they wait on its co_queue_wakeup
     * list and are entered from here, one after the other, once it yields.
     */
    QSIMPLEQ_HEAD(, Coroutine) pending = QSIMPLEQ_HEAD_INITIALIZER(pending);
    Coroutine *self = qemu_coroutine_self();
    Coroutine *to = co;

    for (;;) {
        CoroutineAction ret;

        if (unlikely(qatomic_mb_read(&to->scheduled) || to->caller)) {
            coroutine_enter_abort(to);
        }
        to->caller = self;
        to->ctx = ctx;
        /* Publish to->ctx before `to` can be woken from another thread. */
        smp_wmb();

        ret = qemu_coroutine_switch(self, to, COROUTINE_ENTER);

        /* Depth first: what `to` woke runs before older pending entries. */
        if (unlikely(!QSIMPLEQ_EMPTY(&to->co_queue_wakeup))) {
            QSIMPLEQ_PREPEND(&pending, &to->co_queue_wakeup);
        }
        if (ret == COROUTINE_TERMINATE) {
            coroutine_delete(to);
        } else {
            assert(ret == COROUTINE_YIELD);
        }

        to = QSIMPLEQ_FIRST(&pending);
        if (likely(!to)) {
            return;
        }
        QSIMPLEQ_REMOVE_HEAD(&pending, co_queue_next);
    }
}

void qemu_coroutine_enter(Coroutine *co)
{
    qemu_aio_coroutine_enter(qemu_get_current_aio_context(), co);
}

void qemu_coroutine_enter_if_inactive(Coroutine *co)
{
    if (!qemu_coroutine_entered(co)) {
        qemu_coroutine_enter(co);
    }
}

void coroutine_fn qemu_coroutine_yield(void)
{
    Coroutine *self = qemu_coroutine_self();
    Coroutine *to = self->caller;

    if (!to) {
        fprintf(stderr, "Co-routine is yielding to no one\n");
        abort();
    }
    self->caller = NULL;
    qemu_coroutine_switch(self, to, COROUTINE_YIELD);
}

bool qemu_coroutine_entered(Coroutine *co)
{
    return co->caller != NULL;
}

AioContext *qemu_coroutine_get_aio_context(Coroutine *co)
{
    return co->ctx;
}

void qemu_coroutine_stack_alloc(CoroutineStack *stack)
{
    size_t page = qemu_real_host_page_size();
    size_t size = ROUND_UP((size_t)COROUTINE_STACK_SIZE, page);
    char *map;

    map = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        g_error("coroutine: cannot map a %zu byte stack: %s", size,
                g_strerror(errno));
    }
    /*
     * Overflowing the stack faults on the guard page instead of corrupting
     * whatever is mapped below.
     */
    if (mprotect(map, page, PROT_NONE) < 0) {
        g_error("coroutine: cannot protect the stack guard page: %s",
                g_strerror(errno));
    }
    stack->bottom = map + page;
    stack->size = size;
#ifdef CONFIG_VALGRIND_H
    stack->valgrind_id = VALGRIND_STACK_REGISTER(stack->bottom,
                                                 map + page + size);
#endif
}

void qemu_coroutine_stack_free(CoroutineStack *stack)
{
    size_t page = qemu_real_host_page_size();

#ifdef CONFIG_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(stack->valgrind_id);
#endif
#ifdef CONFIG_ASAN
    /*
     * Frames that never returned leave poisoned shadow behind; do not let
     * it haunt whatever is mapped here next.
     */
    ASAN_UNPOISON_MEMORY_REGION(stack->bottom, stack->size);
#endif
    munmap((char *)stack->bottom - page, stack->size + page);
    stack->bottom = NULL;
}
