/*
 * aio=native: Linux kernel AIO (io_submit) for files opened with O_DIRECT.
 *
 * One engine per AioContext.  Requests are iocbs living on the stack of the
 * submitting coroutine; they wait in a pending queue while the context is
 * plugged (batching) or the kernel refused more work (-EAGAIN), and are
 * submitted in batches.  Completions are signalled through an eventfd
 * that the context polls; they are reaped with a zero-timeout
 * io_getevents and wake the waiting coroutines.
 */
#include "qemu/osdep.h"
#include <libaio.h>
#include "block/raw-aio.h"
#include "qemu/error.h"

/* Size of the kernel completion ring (io_setup). */
#define MAX_EVENTS 1024

/* Requests submitted at once when plugged, unless configured. */
#define DEFAULT_MAX_BATCH 32

typedef struct LaioRequest {
    Coroutine *co;
    LinuxAioState *s;
    struct iocb iocb;
    /* -EINPROGRESS until completed, then 0 or -errno. */
    ssize_t ret;
    QEMUIOVector *qiov;
    bool is_read;
    QSIMPLEQ_ENTRY(LaioRequest) next;
} LaioRequest;

struct LinuxAioState {
    AioContext *aio_context;
    int refcnt;
    QLIST_ENTRY(LinuxAioState) next;

    io_context_t ctx;
    EventNotifier e;

    /* Nesting of laio_io_plug. */
    int plugged;
    /* Requests in pending / submitted to the kernel. */
    unsigned int in_queue;
    unsigned int in_flight;
    /* The kernel refused the last submission; wait for completions. */
    bool blocked;
    QSIMPLEQ_HEAD(, LaioRequest) pending;

    /*
     * Reaped events not processed yet.  They are kept here rather than on
     * the stack so that a nested event loop, entered from a completion,
     * carries on with them (through completion_bh).
     */
    QEMUBH *completion_bh;
    int event_idx;
    int event_max;
    struct io_event events[MAX_EVENTS];
};

/*
 * Engines by AioContext.  Process-wide because an engine is shared by all
 * nodes of its context; each entry lives exactly as long as its users.
 */
static QLIST_HEAD(, LinuxAioState) laio_engines =
    QLIST_HEAD_INITIALIZER(laio_engines);

static void laio_submit_pending(LinuxAioState *s);

static uint64_t laio_max_batch(LinuxAioState *s, uint64_t dev_max_batch)
{
    uint64_t max_batch = MIN_NON_ZERO(dev_max_batch, DEFAULT_MAX_BATCH);

    /* Never queue more than the kernel ring can take. */
    return MIN_NON_ZERO(MAX_EVENTS - s->in_flight, max_batch);
}

/* Finish req with its raw result (bytes transferred or -errno). */
static void laio_complete(LaioRequest *req, ssize_t res)
{
    if (res >= 0 && (size_t)res != req->qiov->size) {
        if (req->is_read) {
            /* A short read hit the end of the file: the rest is zeroes. */
            qemu_iovec_memset(req->qiov, res, 0, req->qiov->size - res);
            res = req->qiov->size;
        } else {
            res = -ENOSPC;
        }
    }
    req->ret = res < 0 ? res : 0;

    /*
     * A coroutine that is running is still inside laio_co_submit (the
     * request failed or completed during its own submission); it sees
     * req->ret itself.  Entering it again would recurse.
     */
    if (!qemu_coroutine_entered(req->co)) {
        aio_co_wake(req->co);
    }
}

static void laio_process_completions(LinuxAioState *s)
{
    /*
     * A completion may run a nested event loop that waits for another of
     * the reaped requests: keep the BH scheduled so that loop continues
     * where we are.
     */
    qemu_bh_schedule(s->completion_bh);

    for (;;) {
        struct io_event *ev;
        LaioRequest *req;

        if (s->event_idx == s->event_max) {
            struct timespec ts = { 0 };
            int n;

            do {
                n = io_getevents(s->ctx, 0, MAX_EVENTS, s->events, &ts);
            } while (n == -EINTR);
            s->event_idx = 0;
            s->event_max = n > 0 ? n : 0;
            if (s->event_max == 0) {
                break;
            }
        }

        ev = &s->events[s->event_idx++];
        req = container_of(ev->obj, LaioRequest, iocb);
        s->in_flight--;
        /* res2 carries the upper half on 32-bit ABIs. */
        laio_complete(req, (ssize_t)(((uint64_t)ev->res2 << 32) | ev->res));
    }

    qemu_bh_cancel(s->completion_bh);
}

static void laio_process_completions_and_submit(LinuxAioState *s)
{
    laio_process_completions(s);
    if (!s->plugged && !QSIMPLEQ_EMPTY(&s->pending)) {
        laio_submit_pending(s);
    }
}

static void laio_completion_bh(void *opaque)
{
    laio_process_completions_and_submit(opaque);
}

static void laio_completion_cb(EventNotifier *e)
{
    LinuxAioState *s = container_of(e, LinuxAioState, e);

    if (event_notifier_test_and_clear(&s->e)) {
        laio_process_completions_and_submit(s);
    }
}

/* Remove and fail the first pending request. */
static void laio_fail_first(LinuxAioState *s, int ret)
{
    LaioRequest *req = QSIMPLEQ_FIRST(&s->pending);

    QSIMPLEQ_REMOVE_HEAD(&s->pending, next);
    s->in_queue--;
    laio_complete(req, ret);
}

static void laio_submit_pending(LinuxAioState *s)
{
    struct iocb *iocbs[MAX_EVENTS];
    LaioRequest *req;
    int ret, len;

    do {
        if (s->in_flight >= MAX_EVENTS) {
            break;
        }
        len = 0;
        QSIMPLEQ_FOREACH(req, &s->pending, next) {
            iocbs[len++] = &req->iocb;
            if (s->in_flight + len >= MAX_EVENTS) {
                break;
            }
        }

        ret = io_submit(s->ctx, len, iocbs);
        if (ret == -EAGAIN && s->in_flight > 0) {
            /* Out of kernel resources: retry when something completes. */
            break;
        }
        if (ret < 0) {
            /* Fail the first request and try the others again. */
            laio_fail_first(s, ret);
            continue;
        }

        /* The kernel may take only a prefix of the batch. */
        s->in_flight += ret;
        s->in_queue -= ret;
        for (int i = 0; i < ret; i++) {
            QSIMPLEQ_REMOVE_HEAD(&s->pending, next);
        }
    } while (ret == len && !QSIMPLEQ_EMPTY(&s->pending));
    s->blocked = s->in_queue > 0;

    if (s->in_flight) {
        /* Fast completions are common: reap them right away. */
        laio_process_completions(s);
    }
}

void laio_io_plug(BlockDriverState *bs, LinuxAioState *s)
{
    s->plugged++;
}

void laio_io_unplug(BlockDriverState *bs, LinuxAioState *s,
                    uint64_t dev_max_batch)
{
    assert(s->plugged);
    s->plugged--;

    /*
     * Another node may have queued beyond our batch size while plugged,
     * hence the size check even when still plugged.
     */
    if (s->in_queue >= laio_max_batch(s, dev_max_batch) ||
        (!s->plugged && !s->blocked && !QSIMPLEQ_EMPTY(&s->pending))) {
        laio_submit_pending(s);
    }
}

int coroutine_fn laio_co_submit(BlockDriverState *bs, LinuxAioState *s,
                                int fd, uint64_t offset, QEMUIOVector *qiov,
                                int type, uint64_t dev_max_batch)
{
    LaioRequest req = {
        .co = qemu_coroutine_self(),
        .s = s,
        .ret = -EINPROGRESS,
        .qiov = qiov,
        .is_read = type == QEMU_AIO_READ,
    };

    switch (type) {
    case QEMU_AIO_READ:
        io_prep_preadv(&req.iocb, fd, qiov->iov, qiov->niov, offset);
        break;
    case QEMU_AIO_WRITE:
        io_prep_pwritev(&req.iocb, fd, qiov->iov, qiov->niov, offset);
        break;
    default:
        g_assert_not_reached();
    }
    io_set_eventfd(&req.iocb, event_notifier_get_fd(&s->e));

    QSIMPLEQ_INSERT_TAIL(&s->pending, &req, next);
    s->in_queue++;
    if (!s->blocked &&
        (!s->plugged || s->in_queue >= laio_max_batch(s, dev_max_batch))) {
        laio_submit_pending(s);
    }

    if (req.ret == -EINPROGRESS) {
        qemu_coroutine_yield();
    }
    return req.ret;
}

LinuxAioState *laio_get(AioContext *ctx, Error **errp)
{
    LinuxAioState *s;
    int rc;

    QLIST_FOREACH(s, &laio_engines, next) {
        if (s->aio_context == ctx) {
            s->refcnt++;
            return s;
        }
    }

    s = g_new0(LinuxAioState, 1);
    rc = event_notifier_init(&s->e, false);
    if (rc < 0) {
        error_setg_errno(errp, -rc, "failed to initialize event notifier");
        g_free(s);
        return NULL;
    }
    rc = io_setup(MAX_EVENTS, &s->ctx);
    if (rc < 0) {
        error_setg_errno(errp, -rc, "failed to create linux AIO context");
        event_notifier_cleanup(&s->e);
        g_free(s);
        return NULL;
    }

    s->aio_context = ctx;
    s->refcnt = 1;
    QSIMPLEQ_INIT(&s->pending);
    s->completion_bh = aio_bh_new(ctx, laio_completion_bh, s);
    aio_set_event_notifier(ctx, &s->e, false, laio_completion_cb, NULL,
                           NULL);
    QLIST_INSERT_HEAD(&laio_engines, s, next);
    return s;
}

void laio_put(LinuxAioState *s)
{
    if (--s->refcnt > 0) {
        return;
    }
    /* Users drain their requests before they let go. */
    assert(!s->in_flight && !s->in_queue && !s->plugged);

    QLIST_REMOVE(s, next);
    aio_set_event_notifier(s->aio_context, &s->e, false, NULL, NULL, NULL);
    qemu_bh_delete(s->completion_bh);
    io_destroy(s->ctx);
    event_notifier_cleanup(&s->e);
    g_free(s);
}
