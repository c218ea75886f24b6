/*
 * Coroutine internals shared by the coroutine core, the context-switch
 * back ends and the AioContext scheduler.  Not for block drivers.
 */
#ifndef QEMU_COROUTINE_INT_H
#define QEMU_COROUTINE_INT_H

#include "qemu/coroutine.h"

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

/* Back end: allocate a coroutine with its own stack / free it. */
Coroutine *qemu_coroutine_new(void);
void qemu_coroutine_delete(Coroutine *co);
/* Back end: switch from `from` to `to`, returning the action passed back. */
CoroutineAction qemu_coroutine_switch(Coroutine *from, Coroutine *to,
                                      CoroutineAction action);

#endif
