/*
 * Coroutines: cooperative user-space threads, the execution model of the
 * block layer.  API and semantics follow QEMU 7.2.
 *
 * A coroutine runs until it yields or terminates; it is resumed with
 * qemu_coroutine_enter() (or woken through its AioContext).  Functions marked
 * coroutine_fn may yield and may only be called from coroutine context.
 */
#ifndef QEMU_COROUTINE_H
#define QEMU_COROUTINE_H

#include "qemu/queue.h"
#include "qemu/thread.h"
#include "qemu/timer.h"

typedef struct AioContext AioContext;
typedef struct Coroutine Coroutine;

typedef void coroutine_fn CoroutineEntry(void *opaque);

/*
 * Create a coroutine that will run entry(opaque) when first entered.  The
 * coroutine is freed (returned to the pool) when entry returns.
 */
Coroutine *qemu_coroutine_create(CoroutineEntry *entry, void *opaque);

/* Transfer control into a coroutine, in the current AioContext. */
void qemu_coroutine_enter(Coroutine *co);
/* Enter co in ctx; the coroutine remembers ctx for later wakeups. */
void qemu_aio_coroutine_enter(AioContext *ctx, Coroutine *co);
/* Enter co only if it is not currently running (has no caller). */
void qemu_coroutine_enter_if_inactive(Coroutine *co);

/* Return control to the caller of qemu_coroutine_enter(). */
void coroutine_fn qemu_coroutine_yield(void);

/* The running coroutine, or the thread's leader outside of coroutines. */
Coroutine *qemu_coroutine_self(void);
bool qemu_in_coroutine(void);
/* True while co is running or has entered another coroutine. */
bool qemu_coroutine_entered(Coroutine *co);
AioContext *qemu_coroutine_get_aio_context(Coroutine *co);

/* ---- CoMutex: FIFO mutex with direct handoff to the next waiter ---- */

typedef struct CoWaitRecord CoWaitRecord;

typedef struct CoMutex {
    /* Number of lockers, the holder included (0: free). */
    unsigned locked;
    /* Context of the holder, for spinning decisions. */
    AioContext *ctx;
    /* Waiters: pushed lock-free onto from_push, served FIFO from to_pop. */
    QSLIST_HEAD(, CoWaitRecord) from_push, to_pop;
    /* Handoff token for a locker that has not queued itself yet. */
    unsigned handoff, sequence;
    Coroutine *holder;
} CoMutex;

void qemu_co_mutex_init(CoMutex *mutex);
void coroutine_fn qemu_co_mutex_lock(CoMutex *mutex);
void coroutine_fn qemu_co_mutex_unlock(CoMutex *mutex);
/* Assert that the current coroutine holds mutex. */
void qemu_co_mutex_assert_locked(CoMutex *mutex);

/* Wrap a CoMutex, QemuMutex, QemuRecMutex or NULL as a QemuLockable *. */
#define QEMU_LOCK_FUNC_(x) ((QemuLockUnlockFunc *)_Generic((x),             \
        CoMutex *: qemu_co_mutex_lock,                                      \
        QemuMutex *: qemu_mutex_lock,                                       \
        QemuRecMutex *: qemu_rec_mutex_lock,                                \
        default: NULL))
#define QEMU_UNLOCK_FUNC_(x) ((QemuLockUnlockFunc *)_Generic((x),           \
        CoMutex *: qemu_co_mutex_unlock,                                    \
        QemuMutex *: qemu_mutex_unlock,                                     \
        QemuRecMutex *: qemu_rec_mutex_unlock,                              \
        default: NULL))
#define QEMU_MAKE_LOCKABLE(x)                                               \
    qemu_make_lockable((x), &(QemuLockable) {                               \
                               .object = (x),                               \
                               .lock = QEMU_LOCK_FUNC_(x),                  \
                               .unlock = QEMU_UNLOCK_FUNC_(x) })

/* A function rather than ?: so that &lock does not trigger -Waddress. */
static inline QemuLockable *qemu_make_lockable(void *x, QemuLockable *lockable)
{
    return x ? lockable : NULL;
}

static inline void qemu_lockable_lock(QemuLockable *x)
{
    x->lock(x->object);
}

static inline void qemu_lockable_unlock(QemuLockable *x)
{
    x->unlock(x->object);
}

static inline QemuLockable *qemu_lockable_auto_lock(QemuLockable *x)
{
    qemu_lockable_lock(x);
    return x;
}

static inline void qemu_lockable_auto_unlock(QemuLockable *x)
{
    if (x) {
        qemu_lockable_unlock(x);
    }
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuLockable, qemu_lockable_auto_unlock)

#define QEMU_LOCK_GUARD_CAT_(a, b) a##b
#define QEMU_LOCK_GUARD_VAR_(n) QEMU_LOCK_GUARD_CAT_(qemu_lock_guard_, n)

/* Hold lock x (non-NULL) until the end of the enclosing block. */
#define QEMU_LOCK_GUARD(x)                                                  \
    g_autoptr(QemuLockable) QEMU_LOCK_GUARD_VAR_(__COUNTER__)               \
        G_GNUC_UNUSED = qemu_lockable_auto_lock(QEMU_MAKE_LOCKABLE((x)))

/* WITH_QEMU_LOCK_GUARD(x) { ... }: hold lock x (non-NULL) in the block. */
#define WITH_QEMU_LOCK_GUARD_(x, var)                                       \
    for (g_autoptr(QemuLockable) var =                                      \
             qemu_lockable_auto_lock(QEMU_MAKE_LOCKABLE((x)));              \
         var;                                                               \
         qemu_lockable_auto_unlock(var), var = NULL)
#define WITH_QEMU_LOCK_GUARD(x)                                             \
    WITH_QEMU_LOCK_GUARD_((x), QEMU_LOCK_GUARD_VAR_(__COUNTER__))

/* ---- CoQueue: FIFO of waiting coroutines ---- */

typedef struct CoQueue {
    QSIMPLEQ_HEAD(, Coroutine) entries;
} CoQueue;

typedef enum {
    /* Queue at the front instead of the back. */
    CO_QUEUE_WAIT_FRONT = 0x1,
} CoQueueWaitFlags;

void qemu_co_queue_init(CoQueue *queue);

/*
 * Add the current coroutine to the queue, release lock (which may be NULL)
 * while waiting, and take it again once woken.
 */
#define qemu_co_queue_wait(queue, lock) \
    qemu_co_queue_wait_impl(queue, QEMU_MAKE_LOCKABLE(lock), 0)
#define qemu_co_queue_wait_flags(queue, lock, flags) \
    qemu_co_queue_wait_impl(queue, QEMU_MAKE_LOCKABLE(lock), (flags))
void coroutine_fn qemu_co_queue_wait_impl(CoQueue *queue, QemuLockable *lock,
                                          CoQueueWaitFlags flags);

/* Wake the first waiter (it runs after the caller yields); false if none. */
bool coroutine_fn qemu_co_queue_next(CoQueue *queue);
/* Wake every waiter. */
void coroutine_fn qemu_co_queue_restart_all(CoQueue *queue);

/*
 * From outside coroutine context: enter the first waiter / every waiter
 * immediately, releasing lock (may be NULL) around each entry.
 */
#define qemu_co_enter_next(queue, lock) \
    qemu_co_enter_next_impl(queue, QEMU_MAKE_LOCKABLE(lock))
bool qemu_co_enter_next_impl(CoQueue *queue, QemuLockable *lock);
#define qemu_co_enter_all(queue, lock) \
    qemu_co_enter_all_impl(queue, QEMU_MAKE_LOCKABLE(lock))
void qemu_co_enter_all_impl(CoQueue *queue, QemuLockable *lock);

bool qemu_co_queue_empty(CoQueue *queue);

/* ---- CoRwlock: readers/writer lock, FIFO fair ---- */

typedef struct CoRwTicket CoRwTicket;
typedef struct CoRwlock {
    CoMutex mutex;
    /* >0: number of readers; -1: one writer; 0: free. */
    int owners;
    QSIMPLEQ_HEAD(, CoRwTicket) tickets;
} CoRwlock;

void qemu_co_rwlock_init(CoRwlock *lock);
void coroutine_fn qemu_co_rwlock_rdlock(CoRwlock *lock);
void coroutine_fn qemu_co_rwlock_wrlock(CoRwlock *lock);
/* Turn the caller's read lock into a write lock (may wait). */
void coroutine_fn qemu_co_rwlock_upgrade(CoRwlock *lock);
/* Turn the caller's write lock into a read lock (never waits). */
void coroutine_fn qemu_co_rwlock_downgrade(CoRwlock *lock);
void coroutine_fn qemu_co_rwlock_unlock(CoRwlock *lock);

/* ---- Sleeping ---- */

typedef struct QemuCoSleep {
    Coroutine *to_wake;
} QemuCoSleep;

/* Sleep for ns on clock type; qemu_co_sleep_wake(w) ends it early. */
void coroutine_fn qemu_co_sleep_ns_wakeable(QemuCoSleep *w,
                                            QEMUClockType type, int64_t ns);
/* Sleep until qemu_co_sleep_wake(w). */
void coroutine_fn qemu_co_sleep(QemuCoSleep *w);
/* Wake a sleeper; no-op if nobody sleeps on w. */
void qemu_co_sleep_wake(QemuCoSleep *w);

static inline void coroutine_fn qemu_co_sleep_ns(QEMUClockType type,
                                                 int64_t ns)
{
    QemuCoSleep w = { 0 };
    qemu_co_sleep_ns_wakeable(&w, type, ns);
}

#endif
