/*
 * Waiting in non-coroutine code for a condition that changes from the event
 * loop (the synchronous wrappers around coroutine I/O use this).  Whoever
 * changes the condition must call aio_wait_kick().
 */
#ifndef QEMU_AIO_WAIT_H
#define QEMU_AIO_WAIT_H

#include "qemu/aio.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"

typedef struct {
    /* Threads waiting in AIO_WAIT_WHILE; kicks are skipped when 0. */
    unsigned num_waiters;
} AioWait;

extern AioWait global_aio_wait;

/*
 * Poll ctx (or the main context, when called from another thread than
 * ctx's) until cond is false.  Evaluates to whether it had to wait.
 */
#define AIO_WAIT_WHILE(ctx, cond) ({                                        \
    bool waited_ = false;                                                   \
    AioWait *wait_ = &global_aio_wait;                                      \
    AioContext *ctx_ = (ctx);                                               \
    qatomic_inc(&wait_->num_waiters);                                       \
    smp_mb();                                                               \
    if (ctx_ && in_aio_context_home_thread(ctx_)) {                         \
        while ((cond)) {                                                    \
            aio_poll(ctx_, true);                                           \
            waited_ = true;                                                 \
        }                                                                   \
    } else {                                                                \
        while ((cond)) {                                                    \
            if (ctx_) {                                                     \
                aio_context_release(ctx_);                                  \
            }                                                               \
            aio_poll(qemu_get_aio_context(), true);                         \
            if (ctx_) {                                                     \
                aio_context_acquire(ctx_);                                  \
            }                                                               \
            waited_ = true;                                                 \
        }                                                                   \
    }                                                                       \
    qatomic_dec(&wait_->num_waiters);                                       \
    waited_;                                                                \
})

/* Wake AIO_WAIT_WHILE waiters so they re-evaluate their condition. */
void aio_wait_kick(void);

/* Run cb(opaque) in ctx and wait for it to finish. */
void aio_wait_bh_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque);

#endif
