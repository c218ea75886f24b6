/*
 * Coroutine locks: CoQueue, CoMutex and CoRwlock.
 */
#include "qemu/osdep.h"

#include "qemu/aio.h"
#include "qemu/atomic.h"
#include "qemu/coroutine_int.h"

/* ---- CoQueue ---- */

void qemu_co_queue_init(CoQueue *queue)
{
    QSIMPLEQ_INIT(&queue->entries);
}

void coroutine_fn qemu_co_queue_wait_impl(CoQueue *queue, QemuLockable *lock,
                                          CoQueueWaitFlags flags)
{
    Coroutine *self = qemu_coroutine_self();

    if (flags & CO_QUEUE_WAIT_FRONT) {
        QSIMPLEQ_INSERT_HEAD(&queue->entries, self, co_queue_next);
    } else {
        QSIMPLEQ_INSERT_TAIL(&queue->entries, self, co_queue_next);
    }

    if (lock) {
        lock->unlock(lock->object);
    }
    qemu_coroutine_yield();
    assert(qemu_in_coroutine());

    /*
     * The waker did not hand the lock over; take it like anybody else.
     * Another coroutine may have run in between, so callers re-check
     * their condition.
     */
    if (lock) {
        lock->lock(lock->object);
    }
}

bool qemu_co_enter_next_impl(CoQueue *queue, QemuLockable *lock)
{
    Coroutine *next = QSIMPLEQ_FIRST(&queue->entries);

    if (!next) {
        return false;
    }
    QSIMPLEQ_REMOVE_HEAD(&queue->entries, co_queue_next);

    if (lock) {
        lock->unlock(lock->object);
    }
    aio_co_wake(next);
    if (lock) {
        lock->lock(lock->object);
    }
    return true;
}

void qemu_co_enter_all_impl(CoQueue *queue, QemuLockable *lock)
{
    while (qemu_co_enter_next_impl(queue, lock)) {
        /* nothing */
    }
}

bool coroutine_fn qemu_co_queue_next(CoQueue *queue)
{
    /* Inside a coroutine aio_co_wake() defers the entry until we yield. */
    return qemu_co_enter_next_impl(queue, NULL);
}

void coroutine_fn qemu_co_queue_restart_all(CoQueue *queue)
{
    qemu_co_enter_all_impl(queue, NULL);
}

bool qemu_co_queue_empty(CoQueue *queue)
{
    return QSIMPLEQ_EMPTY(&queue->entries);
}

/*
 * ---- CoMutex ----
 *
 * `locked` counts the holder plus every coroutine that has announced it
 * wants the lock.  Waiters push a CoWaitRecord onto the lock-free
 * `from_push` stack; the unlocker (only ever one at a time) reverses it
 * into `to_pop` so that waiters are served first-come first-served.
 *
 * Ownership passes straight from the unlocker to the waiter it wakes:
 * `locked` never drops to zero in between, so a newcomer cannot overtake
 * the queue, and exactly one waiter is woken per unlock.
 *
 * There is one race to close: an unlocker may see `locked` > 1 while the
 * locker that incremented it has not pushed its record yet.  The unlocker
 * then publishes a non-zero `handoff` token; whichever of the two claims the
 * token (with a compare-and-swap) pops the first waiter and wakes it, or
 * takes the lock itself if the first waiter is its own record.
 */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    barrier();
#endif
}

struct CoWaitRecord {
    Coroutine *co;
    QSLIST_ENTRY(CoWaitRecord) next;
};

void qemu_co_mutex_init(CoMutex *mutex)
{
    memset(mutex, 0, sizeof(*mutex));
}

static CoWaitRecord *co_mutex_pop_waiter(CoMutex *mutex)
{
    CoWaitRecord *w;

    if (QSLIST_EMPTY(&mutex->to_pop)) {
        QSLIST_HEAD(, CoWaitRecord) lifo;

        QSLIST_MOVE_ATOMIC(&lifo, &mutex->from_push);
        while ((w = QSLIST_FIRST(&lifo))) {
            QSLIST_REMOVE_HEAD(&lifo, next);
            QSLIST_INSERT_HEAD(&mutex->to_pop, w, next);
        }
    }
    w = QSLIST_FIRST(&mutex->to_pop);
    if (w) {
        QSLIST_REMOVE_HEAD(&mutex->to_pop, next);
    }
    return w;
}

static bool co_mutex_has_waiters(CoMutex *mutex)
{
    return !QSLIST_EMPTY(&mutex->to_pop) ||
           qatomic_read(&mutex->from_push.slh_first) != NULL;
}

/* Give the lock to co and make it runnable. */
static void co_mutex_wake(CoMutex *mutex, Coroutine *co)
{
    /* co->ctx was published before co could queue itself. */
    smp_mb_acquire();
    mutex->ctx = qatomic_read(&co->ctx);
    aio_co_wake(co);
}

static void coroutine_fn co_mutex_lock_slowpath(AioContext *ctx,
                                                CoMutex *mutex)
{
    Coroutine *self = qemu_coroutine_self();
    CoWaitRecord w = { .co = self };
    unsigned token;

    QSLIST_INSERT_HEAD_ATOMIC(&mutex->from_push, &w, next);

    token = qatomic_mb_read(&mutex->handoff);
    if (token && co_mutex_has_waiters(mutex) &&
        qatomic_cmpxchg(&mutex->handoff, token, 0) == token) {
        /* We own the unlocker's duty; only one token exists at a time. */
        CoWaitRecord *first = co_mutex_pop_waiter(mutex);

        if (first->co == self) {
            assert(first == &w);
            mutex->ctx = ctx;
            return;
        }
        co_mutex_wake(mutex, first->co);
    }

    qemu_coroutine_yield();
}

void coroutine_fn qemu_co_mutex_lock(CoMutex *mutex)
{
    AioContext *ctx = qemu_get_current_aio_context();
    Coroutine *self = qemu_coroutine_self();
    unsigned lockers;
    int spins = 0;

retry:
    lockers = qatomic_cmpxchg(&mutex->locked, 0, 1);
    if (lockers != 0) {
        /*
         * A holder running in another thread usually releases the lock
         * sooner than a sleep and wakeup would take, so spin a little.  A
         * holder in our own context cannot make progress while we spin.
         */
        while (lockers == 1 && ++spins < 1000 &&
               qatomic_read(&mutex->ctx) != ctx) {
            if (qatomic_read(&mutex->locked) == 0) {
                goto retry;
            }
            cpu_relax();
        }
        lockers = qatomic_fetch_inc(&mutex->locked);
    }

    if (lockers == 0) {
        mutex->ctx = ctx;
    } else {
        co_mutex_lock_slowpath(ctx, mutex);
    }
    mutex->holder = self;
    self->locks_held++;
}

void coroutine_fn qemu_co_mutex_unlock(CoMutex *mutex)
{
    Coroutine *self = qemu_coroutine_self();

    assert(mutex->locked);
    assert(mutex->holder == self);
    assert(qemu_in_coroutine());

    mutex->ctx = NULL;
    mutex->holder = NULL;
    self->locks_held--;
    if (qatomic_fetch_dec(&mutex->locked) == 1) {
        return;
    }

    for (;;) {
        CoWaitRecord *next = co_mutex_pop_waiter(mutex);
        unsigned token;

        if (next) {
            co_mutex_wake(mutex, next->co);
            return;
        }

        /* A locker has counted itself but not queued yet: hand off. */
        if (++mutex->sequence == 0) {
            mutex->sequence = 1;
        }
        token = mutex->sequence;
        qatomic_mb_set(&mutex->handoff, token);
        if (!co_mutex_has_waiters(mutex)) {
            /* It will find the token once it has queued. */
            return;
        }
        /* It queued meanwhile: take the token back, unless it beat us. */
        if (qatomic_cmpxchg(&mutex->handoff, token, 0) != token) {
            return;
        }
    }
}

void qemu_co_mutex_assert_locked(CoMutex *mutex)
{
    assert(qatomic_read(&mutex->locked) &&
           mutex->holder == qemu_coroutine_self());
}

/*
 * ---- CoRwlock ----
 *
 * The internal CoMutex guards `owners` and the FIFO of tickets.  A reader
 * only joins other readers when nobody waits, so a queued writer is not
 * starved.  Whoever releases the lock grants it to the first ticket if it
 * is compatible, setting `owners` before the wakeup so that nobody can
 * sneak in; a reader granted the lock then tries the next ticket itself,
 * which lets a run of queued readers in one after the other.
 */

struct CoRwTicket {
    bool read;
    Coroutine *co;
    QSIMPLEQ_ENTRY(CoRwTicket) next;
};

void qemu_co_rwlock_init(CoRwlock *lock)
{
    qemu_co_mutex_init(&lock->mutex);
    lock->owners = 0;
    QSIMPLEQ_INIT(&lock->tickets);
}

/* Called with lock->mutex held; releases it. */
static void coroutine_fn co_rwlock_grant_first(CoRwlock *lock)
{
    CoRwTicket *ticket = QSIMPLEQ_FIRST(&lock->tickets);
    Coroutine *co = NULL;

    if (ticket) {
        if (ticket->read && lock->owners >= 0) {
            lock->owners++;
            co = ticket->co;
        } else if (!ticket->read && lock->owners == 0) {
            lock->owners = -1;
            co = ticket->co;
        }
    }
    if (co) {
        QSIMPLEQ_REMOVE_HEAD(&lock->tickets, next);
    }
    qemu_co_mutex_unlock(&lock->mutex);
    if (co) {
        aio_co_wake(co);
    }
}

/* Called with lock->mutex held; returns once the ticket was granted. */
static void coroutine_fn co_rwlock_wait(CoRwlock *lock, bool read)
{
    CoRwTicket ticket = { .read = read, .co = qemu_coroutine_self() };

    QSIMPLEQ_INSERT_TAIL(&lock->tickets, &ticket, next);
    qemu_co_mutex_unlock(&lock->mutex);
    qemu_coroutine_yield();
}

void coroutine_fn qemu_co_rwlock_rdlock(CoRwlock *lock)
{
    Coroutine *self = qemu_coroutine_self();

    qemu_co_mutex_lock(&lock->mutex);
    if (lock->owners == 0 ||
        (lock->owners > 0 && QSIMPLEQ_EMPTY(&lock->tickets))) {
        lock->owners++;
        qemu_co_mutex_unlock(&lock->mutex);
    } else {
        co_rwlock_wait(lock, true);
        assert(lock->owners >= 1);
        /* Let the next reader in line follow us. */
        qemu_co_mutex_lock(&lock->mutex);
        co_rwlock_grant_first(lock);
    }
    self->locks_held++;
}

void coroutine_fn qemu_co_rwlock_wrlock(CoRwlock *lock)
{
    Coroutine *self = qemu_coroutine_self();

    qemu_co_mutex_lock(&lock->mutex);
    if (lock->owners == 0) {
        lock->owners = -1;
        qemu_co_mutex_unlock(&lock->mutex);
    } else {
        co_rwlock_wait(lock, false);
        assert(lock->owners == -1);
    }
    self->locks_held++;
}

void coroutine_fn qemu_co_rwlock_unlock(CoRwlock *lock)
{
    Coroutine *self = qemu_coroutine_self();

    assert(qemu_in_coroutine());
    self->locks_held--;

    qemu_co_mutex_lock(&lock->mutex);
    if (lock->owners > 0) {
        lock->owners--;
    } else {
        assert(lock->owners == -1);
        lock->owners = 0;
    }
    co_rwlock_grant_first(lock);
}

void coroutine_fn qemu_co_rwlock_downgrade(CoRwlock *lock)
{
    qemu_co_mutex_lock(&lock->mutex);
    assert(lock->owners == -1);
    lock->owners = 1;
    /* A queued reader may join us now (and wake the readers behind it). */
    co_rwlock_grant_first(lock);
}

void coroutine_fn qemu_co_rwlock_upgrade(CoRwlock *lock)
{
    qemu_co_mutex_lock(&lock->mutex);
    assert(lock->owners > 0);
    if (lock->owners == 1 && QSIMPLEQ_EMPTY(&lock->tickets)) {
        lock->owners = -1;
        qemu_co_mutex_unlock(&lock->mutex);
    } else {
        /*
         * Give up our read share and queue as a writer behind whoever
         * already waits; if we were the last reader, the first waiter
         * (perhaps a writer) gets the lock now.
         */
        CoRwTicket ticket = { .read = false, .co = qemu_coroutine_self() };

        lock->owners--;
        QSIMPLEQ_INSERT_TAIL(&lock->tickets, &ticket, next);
        co_rwlock_grant_first(lock);
        qemu_coroutine_yield();
        assert(lock->owners == -1);
    }
}
