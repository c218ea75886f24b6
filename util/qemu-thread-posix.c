/*
 * pthread wrappers.  Errors here are programming errors: abort.
 */
#include "qemu/osdep.h"
#include "qemu/thread.h"

static void check(int err, const char *what)
{
    if (err) {
        fprintf(stderr, "qemu: %s: %s\n", what, strerror(err));
        abort();
    }
}

void qemu_mutex_init(QemuMutex *mutex)
{
    check(pthread_mutex_init(&mutex->lock, NULL), __func__);
}

void qemu_mutex_destroy(QemuMutex *mutex)
{
    check(pthread_mutex_destroy(&mutex->lock), __func__);
}

void qemu_mutex_lock(QemuMutex *mutex)
{
    check(pthread_mutex_lock(&mutex->lock), __func__);
}

int qemu_mutex_trylock(QemuMutex *mutex)
{
    return pthread_mutex_trylock(&mutex->lock);
}

void qemu_mutex_unlock(QemuMutex *mutex)
{
    check(pthread_mutex_unlock(&mutex->lock), __func__);
}

void qemu_rec_mutex_init(QemuRecMutex *mutex)
{
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    check(pthread_mutex_init(&mutex->lock, &attr), __func__);
    pthread_mutexattr_destroy(&attr);
}

void qemu_rec_mutex_destroy(QemuRecMutex *mutex)
{
    check(pthread_mutex_destroy(&mutex->lock), __func__);
}

void qemu_rec_mutex_lock(QemuRecMutex *mutex)
{
    check(pthread_mutex_lock(&mutex->lock), __func__);
}

int qemu_rec_mutex_trylock(QemuRecMutex *mutex)
{
    return pthread_mutex_trylock(&mutex->lock);
}

void qemu_rec_mutex_unlock(QemuRecMutex *mutex)
{
    check(pthread_mutex_unlock(&mutex->lock), __func__);
}

void qemu_cond_init(QemuCond *cond)
{
    pthread_condattr_t attr;

    /* Timed waits use CLOCK_MONOTONIC so wall-clock jumps do not matter. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    check(pthread_cond_init(&cond->cond, &attr), __func__);
    pthread_condattr_destroy(&attr);
}

void qemu_cond_destroy(QemuCond *cond)
{
    check(pthread_cond_destroy(&cond->cond), __func__);
}

void qemu_cond_signal(QemuCond *cond)
{
    check(pthread_cond_signal(&cond->cond), __func__);
}

void qemu_cond_broadcast(QemuCond *cond)
{
    check(pthread_cond_broadcast(&cond->cond), __func__);
}

void qemu_cond_wait(QemuCond *cond, QemuMutex *mutex)
{
    check(pthread_cond_wait(&cond->cond, &mutex->lock), __func__);
}

static void deadline_after_ms(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

bool qemu_cond_timedwait(QemuCond *cond, QemuMutex *mutex, int ms)
{
    struct timespec ts;
    int err;

    deadline_after_ms(&ts, ms);
    err = pthread_cond_timedwait(&cond->cond, &mutex->lock, &ts);
    if (err != ETIMEDOUT) {
        check(err, __func__);
    }
    return err != ETIMEDOUT;
}

/* A counting semaphore on a mutex and a condition variable. */
void qemu_sem_init(QemuSemaphore *sem, int init)
{
    pthread_condattr_t attr;

    assert(init >= 0);
    check(pthread_mutex_init(&sem->mutex, NULL), __func__);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    check(pthread_cond_init(&sem->cond, &attr), __func__);
    pthread_condattr_destroy(&attr);
    sem->count = init;
}

void qemu_sem_destroy(QemuSemaphore *sem)
{
    check(pthread_cond_destroy(&sem->cond), __func__);
    check(pthread_mutex_destroy(&sem->mutex), __func__);
}

void qemu_sem_post(QemuSemaphore *sem)
{
    pthread_mutex_lock(&sem->mutex);
    assert(sem->count < UINT_MAX);
    sem->count++;
    pthread_cond_signal(&sem->cond);
    pthread_mutex_unlock(&sem->mutex);
}

void qemu_sem_wait(QemuSemaphore *sem)
{
    pthread_mutex_lock(&sem->mutex);
    while (sem->count == 0) {
        pthread_cond_wait(&sem->cond, &sem->mutex);
    }
    sem->count--;
    pthread_mutex_unlock(&sem->mutex);
}

int qemu_sem_timedwait(QemuSemaphore *sem, int ms)
{
    struct timespec ts;
    int err = 0;

    deadline_after_ms(&ts, ms);
    pthread_mutex_lock(&sem->mutex);
    while (sem->count == 0 && err != ETIMEDOUT) {
        err = pthread_cond_timedwait(&sem->cond, &sem->mutex, &ts);
    }
    if (sem->count > 0) {
        sem->count--;
        err = 0;
    }
    pthread_mutex_unlock(&sem->mutex);
    return err ? -1 : 0;
}

void qemu_thread_create(QemuThread *thread, const char *name,
                        void *(*start_routine)(void *), void *arg, int mode)
{
    pthread_attr_t attr;
    sigset_t all, old;

    pthread_attr_init(&attr);
    if (mode == QEMU_THREAD_DETACHED) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    }
    /* Workers must not take signals meant for the main thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    check(pthread_create(&thread->thread, &attr, start_routine, arg),
          __func__);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (name) {
        char short_name[16];
        g_strlcpy(short_name, name, sizeof(short_name));
        pthread_setname_np(thread->thread, short_name);
    }
    pthread_attr_destroy(&attr);
}

void *qemu_thread_join(QemuThread *thread)
{
    void *ret;

    check(pthread_join(thread->thread, &ret), __func__);
    return ret;
}

void qemu_thread_get_self(QemuThread *thread)
{
    thread->thread = pthread_self();
}

bool qemu_thread_is_self(QemuThread *thread)
{
    return pthread_equal(pthread_self(), thread->thread);
}
