/*
 * Portable coroutine context switch on ucontext and sigsetjmp.
 *
 * makecontext/setcontext are used exactly once per coroutine, to start
 * running on its stack; after that every switch is a sigsetjmp into the
 * outgoing coroutine's buffer and a siglongjmp into the incoming one's,
 * with the signal mask left alone (no system call per switch).
 */

/*
 * glibc's fortified longjmp refuses to jump to another stack; this must be
 * undone before any system header is included.
 */
#ifdef _FORTIFY_SOURCE
#undef _FORTIFY_SOURCE
#endif
#include "qemu/osdep.h"

#include <setjmp.h>
#include <ucontext.h>

#include "qemu/atomic.h"
#include "qemu/coroutine_int.h"

typedef struct {
    Coroutine base;
    sigjmp_buf env;
    CoroutineStack stack;
} CoroutineUContext;

/* What a new coroutine needs to know to jump back to its creator. */
typedef struct {
    CoroutineUContext *co;
    sigjmp_buf *creator_env;
    CoroutineUContext *creator;
} CoroutineStart;

/*
 * The running coroutine of this thread, and the pseudo-coroutine standing
 * for the thread's own stack.  Only functions that do not span a switch
 * touch them directly: code that runs after a switch may be in another
 * thread and must not reuse a thread-local address computed before it.
 */
static __thread Coroutine *current;
static __thread CoroutineUContext leader;

static QEMU_NOINLINE G_GNUC_UNUSED CoroutineStack *leader_stack(void)
{
    barrier();
    return &leader.stack;
}

/* makecontext() passes int arguments only: the pointer comes in halves. */
static void COROUTINE_NO_SANITIZE coroutine_trampoline(int lo, int hi)
{
    uintptr_t ptr = ((uintptr_t)(unsigned)hi << 16 << 16) | (unsigned)lo;
    CoroutineStart *start = (CoroutineStart *)ptr;
    CoroutineUContext *self = start->co;
    Coroutine *co = &self->base;
    void *fake_stack_save = NULL;

    coroutine_fiber_finish(NULL, leader_stack);

    /* Save this point, then return to qemu_coroutine_new(). */
    if (!sigsetjmp(self->env, 0)) {
        coroutine_fiber_start(&fake_stack_save, &start->creator->stack);
        siglongjmp(*start->creator_env, 1);
    }
    /* First entry: `start` lived on the creator's stack and is gone. */
    coroutine_fiber_finish(fake_stack_save, leader_stack);

    /* Terminated coroutines are pooled and reused from here. */
    for (;;) {
        co->entry(co->entry_arg);
        qemu_coroutine_switch(co, co->caller, COROUTINE_TERMINATE);
    }
}

Coroutine *COROUTINE_NO_SANITIZE qemu_coroutine_new(void)
{
    CoroutineUContext *co = g_new0(CoroutineUContext, 1);
    CoroutineUContext *creator;
    CoroutineStart start;
    sigjmp_buf creator_env;
    ucontext_t uc;
    void *fake_stack_save = NULL;
    uintptr_t ptr = (uintptr_t)&start;

    qemu_coroutine_stack_alloc(&co->stack);

    creator = container_of(qemu_coroutine_self(), CoroutineUContext, base);
    start = (CoroutineStart) {
        .co = co,
        .creator_env = &creator_env,
        .creator = creator,
    };

    if (getcontext(&uc) < 0) {
        g_error("coroutine: getcontext failed: %s", g_strerror(errno));
    }
    /* The trampoline never returns. */
    uc.uc_link = NULL;
    uc.uc_stack.ss_sp = co->stack.bottom;
    uc.uc_stack.ss_size = co->stack.size;
    uc.uc_stack.ss_flags = 0;
    makecontext(&uc, (void (*)(void))coroutine_trampoline, 2,
                (int)(unsigned)ptr, (int)(unsigned)(ptr >> 16 >> 16));

    /*
     * Run the trampoline until it has saved its jump buffer; it comes back
     * with siglongjmp, so our own context need not be saved (setcontext
     * rather than swapcontext, which ASan warns about).
     */
    if (!sigsetjmp(creator_env, 0)) {
        coroutine_fiber_start(&fake_stack_save, &co->stack);
        setcontext(&uc);
        abort();
    }
    coroutine_fiber_finish(fake_stack_save, leader_stack);

    return &co->base;
}

void qemu_coroutine_delete(Coroutine *co_)
{
    CoroutineUContext *co = container_of(co_, CoroutineUContext, base);

    qemu_coroutine_stack_free(&co->stack);
    g_free(co);
}

/* Not inlined: callers must re-read thread-local state after it returns. */
CoroutineAction QEMU_NOINLINE COROUTINE_NO_SANITIZE
qemu_coroutine_switch(Coroutine *from_, Coroutine *to_, CoroutineAction action)
{
    CoroutineUContext *from = container_of(from_, CoroutineUContext, base);
    CoroutineUContext *to = container_of(to_, CoroutineUContext, base);
    void *fake_stack_save = NULL;
    int ret;

    current = to_;
    ret = sigsetjmp(from->env, 0);
    if (ret == 0) {
        coroutine_fiber_start(action == COROUTINE_TERMINATE ?
                              NULL : &fake_stack_save, &to->stack);
        siglongjmp(to->env, action);
    }
    coroutine_fiber_finish(fake_stack_save, leader_stack);

    return ret;
}

Coroutine *qemu_coroutine_self(void)
{
    if (!current) {
        current = &leader.base;
    }
    return current;
}

bool qemu_in_coroutine(void)
{
    return current && current->caller;
}
