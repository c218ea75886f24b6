/*
 * BlockAIOCB: the handle of a callback-style asynchronous request.
 */
#include "qemu/osdep.h"

#include "qemu/main-loop.h"

void *qemu_aio_get(const AIOCBInfo *aiocb_info, BlockDriverState *bs,
                   BlockCompletionFunc *cb, void *opaque)
{
    BlockAIOCB *acb;

    assert(aiocb_info->aiocb_size >= sizeof(BlockAIOCB));
    acb = g_malloc(aiocb_info->aiocb_size);
    acb->aiocb_info = aiocb_info;
    acb->bs = bs;
    acb->cb = cb;
    acb->opaque = opaque;
    acb->refcnt = 1;
    return acb;
}

void qemu_aio_ref(void *p)
{
    BlockAIOCB *acb = p;

    acb->refcnt++;
}

void qemu_aio_unref(void *p)
{
    BlockAIOCB *acb = p;

    assert(acb->refcnt > 0);
    if (--acb->refcnt == 0) {
        g_free(acb);
    }
}

void bdrv_aio_cancel_async(BlockAIOCB *acb)
{
    /* Without cancel_async the request simply completes normally. */
    if (acb->aiocb_info->cancel_async) {
        acb->aiocb_info->cancel_async(acb);
    }
}

void bdrv_aio_cancel(BlockAIOCB *acb)
{
    AioContext *ctx;

    /* Our reference keeps acb alive until its completion has run. */
    qemu_aio_ref(acb);
    bdrv_aio_cancel_async(acb);

    if (acb->aiocb_info->get_aio_context) {
        ctx = acb->aiocb_info->get_aio_context(acb);
    } else {
        /*
         * Requests of a node run in its context, which is the main one
         * while there are no I/O threads.
         */
        assert(acb->bs);
        ctx = qemu_get_aio_context();
    }
    while (acb->refcnt > 1) {
        aio_poll(ctx, true);
    }
    qemu_aio_unref(acb);
}
