/*
 * aio=io_uring: submission through a Linux io_uring (liburing).
 *
 * Same shape as linux-aio.c: one ring per AioContext, requests on the
 * submitting coroutine's stack, a queue for batching (plug/unplug) and for
 * requests the ring had no room for, completions reaped when the ring fd
 * becomes readable.  Unlike kernel AIO, io_uring also serves buffered
 * files, where reads may come back short before the end of the file:
 * those are resubmitted for the remainder.
 */
#include "qemu/osdep.h"
#include <liburing.h>
#ifdef CONFIG_VALGRIND_H
#include <valgrind/memcheck.h>
#endif
#include "block/raw-aio.h"
#include "qemu/error.h"

/* Submission queue entries of the ring. */
#define MAX_ENTRIES 128

typedef struct LuringRequest {
    Coroutine *co;
    struct io_uring_sqe sqe;
    /* -EINPROGRESS until completed, then 0 or -errno. */
    ssize_t ret;
    QEMUIOVector *qiov;
    bool is_read;
    QSIMPLEQ_ENTRY(LuringRequest) next;

    /* Short buffered reads: bytes done so far and the rest of qiov. */
    size_t total_read;
    QEMUIOVector resubmit_qiov;
} LuringRequest;

struct LuringState {
    AioContext *aio_context;
    int refcnt;
    QLIST_ENTRY(LuringState) next;

    struct io_uring ring;

    int plugged;
    unsigned int in_queue;
    unsigned int in_flight;
    bool blocked;
    QSIMPLEQ_HEAD(, LuringRequest) submit_queue;

    /* Keeps completion processing going in nested event loops. */
    QEMUBH *completion_bh;
};

/* Rings by AioContext, each shared by the nodes of its context. */
static QLIST_HEAD(, LuringState) luring_engines =
    QLIST_HEAD_INITIALIZER(luring_engines);

static void luring_submit_queue(LuringState *s);

static void luring_requeue(LuringState *s, LuringRequest *req)
{
    QSIMPLEQ_INSERT_TAIL(&s->submit_queue, req, next);
    s->in_queue++;
}

/* Resubmit the part of a read that did not come back yet. */
static void luring_resubmit_short_read(LuringState *s, LuringRequest *req,
                                       int nread)
{
    QEMUIOVector *rest = &req->resubmit_qiov;

    req->total_read += nread;
    if (rest->iov == NULL) {
        qemu_iovec_init(rest, req->qiov->niov);
    } else {
        qemu_iovec_reset(rest);
    }
    qemu_iovec_concat(rest, req->qiov, req->total_read,
                      req->qiov->size - req->total_read);

    req->sqe.off += nread;
    req->sqe.addr = (uint64_t)(uintptr_t)rest->iov;
    req->sqe.len = rest->niov;
    luring_requeue(s, req);
}

static void luring_finish(LuringRequest *req, int ret)
{
#ifdef CONFIG_VALGRIND_H
    /* Memcheck can't see the kernel filling the buffers asynchronously. */
    if (ret == 0 && req->is_read) {
        for (int i = 0; i < req->qiov->niov; i++) {
            VALGRIND_MAKE_MEM_DEFINED(req->qiov->iov[i].iov_base,
                                      req->qiov->iov[i].iov_len);
        }
    }
#endif
    req->ret = ret;
    if (req->resubmit_qiov.iov) {
        qemu_iovec_destroy(&req->resubmit_qiov);
    }
    /* Never re-enter a coroutine that is still inside its submission. */
    if (!qemu_coroutine_entered(req->co)) {
        aio_co_wake(req->co);
    }
}

static void luring_process_completions(LuringState *s)
{
    struct io_uring_cqe *cqe;

    /* See laio_process_completions: nested event loops. */
    qemu_bh_schedule(s->completion_bh);

    while (io_uring_peek_cqe(&s->ring, &cqe) == 0 && cqe) {
        LuringRequest *req = io_uring_cqe_get_data(cqe);
        int ret = cqe->res;
        size_t total;

        io_uring_cqe_seen(&s->ring, cqe);
        s->in_flight--;

        if (ret < 0) {
            /* Transient failures (seen on some devices): try again. */
            if (ret == -EINTR || ret == -EAGAIN) {
                luring_requeue(s, req);
                continue;
            }
            luring_finish(req, ret);
            continue;
        }
        if (!req->qiov) {
            luring_finish(req, 0);      /* flush */
            continue;
        }

        total = req->total_read + ret;
        if (total == req->qiov->size) {
            luring_finish(req, 0);
        } else if (!req->is_read) {
            luring_finish(req, -ENOSPC);
        } else if (ret > 0) {
            luring_resubmit_short_read(s, req, ret);
        } else {
            /* End of file: the rest reads as zeroes. */
            qemu_iovec_memset(req->qiov, total, 0, req->qiov->size - total);
            luring_finish(req, 0);
        }
    }

    qemu_bh_cancel(s->completion_bh);
}

static void luring_process_completions_and_submit(LuringState *s)
{
    luring_process_completions(s);
    if (!s->plugged && s->in_queue > 0) {
        luring_submit_queue(s);
    }
}

static void luring_completion_bh(void *opaque)
{
    luring_process_completions_and_submit(opaque);
}

static void luring_completion_cb(void *opaque)
{
    luring_process_completions_and_submit(opaque);
}

static bool luring_poll_cb(void *opaque)
{
    LuringState *s = opaque;

    return io_uring_cq_ready(&s->ring);
}

static void luring_poll_ready(void *opaque)
{
    luring_process_completions_and_submit(opaque);
}

static void luring_submit_queue(LuringState *s)
{
    bool refused = false;

    do {
        while (s->in_queue > 0) {
            LuringRequest *req;
            int ret;

            /* Move as many queued requests as fit into the ring. */
            while ((req = QSIMPLEQ_FIRST(&s->submit_queue))) {
                struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

                if (!sqe) {
                    break;
                }
                *sqe = req->sqe;
                QSIMPLEQ_REMOVE_HEAD(&s->submit_queue, next);
            }

            ret = io_uring_submit(&s->ring);
            if (ret == -EINTR || ret == -EAGAIN) {
                continue;
            }
            if (ret <= 0) {
                /* The entries stay in the ring for the next submit. */
                refused = true;
                break;
            }
            s->in_flight += ret;
            s->in_queue -= ret;
        }

        /*
         * Buffered I/O often completes during the submission.  Reap it
         * now; short reads come back into the queue and are submitted by
         * the next round (no ring event would trigger that later).
         */
        if (s->in_flight) {
            luring_process_completions(s);
        }
    } while (s->in_queue > 0 && !refused);
    s->blocked = s->in_queue > 0;
}

void luring_io_plug(BlockDriverState *bs, LuringState *s)
{
    s->plugged++;
}

void luring_io_unplug(BlockDriverState *bs, LuringState *s)
{
    assert(s->plugged);
    s->plugged--;
    if (!s->plugged && !s->blocked && s->in_queue > 0) {
        luring_submit_queue(s);
    }
}

int coroutine_fn luring_co_submit(BlockDriverState *bs, LuringState *s,
                                  int fd, uint64_t offset, QEMUIOVector *qiov,
                                  int type)
{
    LuringRequest req = {
        .co = qemu_coroutine_self(),
        .ret = -EINPROGRESS,
        .qiov = qiov,
        .is_read = type == QEMU_AIO_READ,
    };

    switch (type) {
    case QEMU_AIO_WRITE:
        io_uring_prep_writev(&req.sqe, fd, qiov->iov, qiov->niov, offset);
        break;
    case QEMU_AIO_READ:
        io_uring_prep_readv(&req.sqe, fd, qiov->iov, qiov->niov, offset);
        break;
    case QEMU_AIO_FLUSH:
        io_uring_prep_fsync(&req.sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    default:
        g_assert_not_reached();
    }
    io_uring_sqe_set_data(&req.sqe, &req);

    luring_requeue(s, &req);
    if (!s->blocked &&
        (!s->plugged || s->in_flight + s->in_queue >= MAX_ENTRIES)) {
        luring_submit_queue(s);
    }

    if (req.ret == -EINPROGRESS) {
        qemu_coroutine_yield();
    }
    return req.ret;
}

LuringState *luring_get(AioContext *ctx, Error **errp)
{
    LuringState *s;
    int rc;

    QLIST_FOREACH(s, &luring_engines, next) {
        if (s->aio_context == ctx) {
            s->refcnt++;
            return s;
        }
    }

    s = g_new0(LuringState, 1);
    rc = io_uring_queue_init(MAX_ENTRIES, &s->ring, 0);
    if (rc < 0) {
        error_setg_errno(errp, -rc, "failed to init linux io_uring ring");
        g_free(s);
        return NULL;
    }

    s->aio_context = ctx;
    s->refcnt = 1;
    QSIMPLEQ_INIT(&s->submit_queue);
    s->completion_bh = aio_bh_new(ctx, luring_completion_bh, s);
    aio_set_fd_handler(ctx, s->ring.ring_fd, false, luring_completion_cb,
                       NULL, luring_poll_cb, luring_poll_ready, s);
    QLIST_INSERT_HEAD(&luring_engines, s, next);
    return s;
}

void luring_put(LuringState *s)
{
    if (--s->refcnt > 0) {
        return;
    }
    assert(!s->in_flight && !s->in_queue && !s->plugged);

    QLIST_REMOVE(s, next);
    aio_set_fd_handler(s->aio_context, s->ring.ring_fd, false, NULL, NULL,
                       NULL, NULL, NULL);
    qemu_bh_delete(s->completion_bh);
    io_uring_queue_exit(&s->ring);
    g_free(s);
}
