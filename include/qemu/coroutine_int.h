/*
 * Coroutine internals shared by the coroutine core, the context-switch
 * back ends and the AioContext scheduler.  Not for block drivers.
 */
#ifndef QEMU_COROUTINE_INT_H
#define QEMU_COROUTINE_INT_H

#include "qemu/coroutine.h"

#ifdef CONFIG_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define COROUTINE_STACK_SIZE (1 << 20)

typedef enum {
    COROUTINE_YIELD = 1,
    COROUTINE_TERMINATE = 2,
    COROUTINE_ENTER = 3,
} CoroutineAction;

struct Coroutine {
    CoroutineEntry *entry;
    void *entry_arg;
    /* Who entered us; NULL while not running. */
    Coroutine *caller;

    /* Free-pool linkage. */
    QSLIST_ENTRY(Coroutine) pool_next;

    /* CoMutex/CoRwlock locks held; must be 0 on termination. */
    size_t locks_held;

    /*
     * Non-NULL (the name of the scheduling function) while the coroutine is
     * scheduled to run from a BH or timer; entering it then is a bug.
     */
    const char *scheduled;

    /* Linkage in a CoQueue or in another coroutine's wakeup list. */
    QSIMPLEQ_ENTRY(Coroutine) co_queue_next;

    /* Coroutines woken while this one ran; entered right after it yields. */
    QSIMPLEQ_HEAD(, Coroutine) co_queue_wakeup;

    /* Linkage in AioContext's lock-free scheduled list. */
    QSLIST_ENTRY(Coroutine) co_scheduled_next;

    /* Context the coroutine last ran in. */
    AioContext *ctx;
};

/*
 * ---- Back end interface (util/coroutine-asm.c or coroutine-ucontext.c) ----
 *
 * The back end also implements qemu_coroutine_self() and
 * qemu_in_coroutine(), because it owns the thread-local "current" pointer.
 */

/* Allocate a coroutine with its own stack / free it. */
Coroutine *qemu_coroutine_new(void);
void qemu_coroutine_delete(Coroutine *co);
/*
 * Switch from `from` (the running coroutine) to `to`, passing action.
 * Returns the action passed by whoever switches back to `from`.
 */
CoroutineAction qemu_coroutine_switch(Coroutine *from, Coroutine *to,
                                      CoroutineAction action);

/*
 * ---- Helpers shared by the back ends ----
 */

/* A coroutine stack: usable memory above a PROT_NONE guard page. */
typedef struct CoroutineStack {
    void *bottom;               /* lowest usable address */
    size_t size;                /* usable bytes */
    unsigned valgrind_id;
} CoroutineStack;

/* Map a COROUTINE_STACK_SIZE stack plus guard page; aborts on failure. */
void qemu_coroutine_stack_alloc(CoroutineStack *stack);
void qemu_coroutine_stack_free(CoroutineStack *stack);

/*
 * For the functions that switch stacks (and the trampolines below them):
 * their frames must live on the real stack, not on an ASan "fake stack"
 * (detect_stack_use_after_return), because a terminating coroutine's fake
 * stack is released while their frames stay in use by the pooled
 * coroutine.
 */
#define COROUTINE_NO_SANITIZE __attribute__((no_sanitize_address))

/*
 * AddressSanitizer must be told about every stack switch, or it reports
 * false stack overflows and loses track of fake stacks.  Call
 * coroutine_fiber_start() right before switching to `to` (with
 * fake_stack_save NULL when the current coroutine terminates) and
 * coroutine_fiber_finish() right after control comes back.  The thread's
 * own stack is learnt from the first switch away from it and stored in
 * leader_stack(), which must be a non-inlined function: we may now run
 * in another thread.  Without ASan both compile to nothing.
 */
static inline void coroutine_fiber_start(void **fake_stack_save,
                                         const CoroutineStack *to)
{
#ifdef CONFIG_ASAN
    __sanitizer_start_switch_fiber(fake_stack_save, to->bottom, to->size);
#endif
}

static inline void coroutine_fiber_finish(void *fake_stack_save,
                                          CoroutineStack *(*leader_stack)(void))
{
#ifdef CONFIG_ASAN
    CoroutineStack *leader = leader_stack();
    const void *bottom_old;
    size_t size_old;

    __sanitizer_finish_switch_fiber(fake_stack_save, &bottom_old, &size_old);
    if (!leader->bottom) {
        leader->bottom = (void *)bottom_old;
        leader->size = size_old;
    }
#endif
}

#endif
