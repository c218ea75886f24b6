/*
 * AIO_WAIT_WHILE support: waking the threads that wait for a condition.
 */
#include "qemu/osdep.h"

#include "qemu/aio-wait.h"

AioWait global_aio_wait;

static void dummy_bh_cb(void *opaque)
{
    /* Running at all makes the waiter's aio_poll() return. */
}

void aio_wait_kick(void)
{
    /*
     * Order the caller's update of the condition before reading
     * num_waiters; pairs with the barrier in AIO_WAIT_WHILE.
     */
    smp_mb();
    if (qatomic_read(&global_aio_wait.num_waiters)) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), dummy_bh_cb, NULL);
    }
}

typedef struct {
    bool done;
    QEMUBHFunc *cb;
    void *opaque;
} AioWaitBHData;

static void aio_wait_bh(void *opaque)
{
    AioWaitBHData *data = opaque;

    data->cb(data->opaque);
    data->done = true;
    aio_wait_kick();
}

void aio_wait_bh_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    AioWaitBHData data = {
        .cb = cb,
        .opaque = opaque,
    };

    assert(qemu_get_current_aio_context() == qemu_get_aio_context());

    aio_bh_schedule_oneshot(ctx, aio_wait_bh, &data);
    AIO_WAIT_WHILE(ctx, !qatomic_read(&data.done));
}
