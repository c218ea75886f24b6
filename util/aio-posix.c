/*
 * AioContext fd handlers on epoll, busy polling, and aio_poll().
 */
#include "qemu/osdep.h"

#include <poll.h>
#include <sys/epoll.h>

#include "qemu/atomic.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "aio-internal.h"

struct AioHandler {
    int fd;
    bool is_external;
    /* Set (under list_lock) once the node is unregistered. */
    bool deleted;
    /* Home thread only: io_poll found work during this aio_poll(). */
    bool poll_ready;
    /* Not pollable by epoll (a regular file): always ready. */
    bool always_ready;
    IOHandler *io_read;
    IOHandler *io_write;
    AioPollFn *io_poll;
    IOHandler *io_poll_ready;
    /* Event notifiers get their own callback type. */
    EventNotifierHandler *en_read;
    EventNotifierHandler *en_poll_ready;
    void *opaque;
    QLIST_ENTRY(AioHandler) node;
};

/*
 * Walk the handler list without list_lock, between walk_begin and
 * walk_end: aio_set_handler publishes new nodes with a release store.
 */
#define AIO_HANDLERS_FOREACH(ctx, node)                                     \
    for ((node) = qatomic_load_acquire(&(ctx)->handlers.lh_first); (node);  \
         (node) = qatomic_read(&(node)->node.le_next))

/* Events collected by one epoll_wait(); more are picked up next time. */
#define AIO_EPOLL_MAX_EVENTS 128

int aio_context_setup(AioContext *ctx, Error **errp)
{
    qemu_mutex_init(&ctx->list_lock);
    QLIST_INIT(&ctx->handlers);
    ctx->epollfd = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->epollfd < 0) {
        int err = errno;

        error_setg_errno(errp, err, "Failed to create epoll instance");
        qemu_mutex_destroy(&ctx->list_lock);
        return -err;
    }
    /* What a GMainContext polls for us. */
    ctx->epoll_tag = g_source_add_unix_fd(&ctx->source, ctx->epollfd,
                                          G_IO_IN);
    return 0;
}

void aio_context_destroy(AioContext *ctx)
{
    AioHandler *node, *next;

    assert(ctx->walkers == 0);
    /* Handlers nobody unregistered; their fds are not ours to close. */
    QLIST_FOREACH_SAFE(node, &ctx->handlers, node, next) {
        QLIST_REMOVE(node, node);
        g_free(node);
    }
    close(ctx->epollfd);
    qemu_mutex_destroy(&ctx->list_lock);
}

/*
 * epoll refuses regular files (EPERM), which poll() would report as always
 * ready.  Their handlers stay out of the epoll set and run at every
 * iteration instead; ctx->always_ready counts them.
 */

/* Is node (possibly NULL) meant to be in the epoll set right now? */
static bool aio_node_in_epoll(AioContext *ctx, AioHandler *node)
{
    return node && !node->always_ready &&
           !(node->is_external && ctx->external_disable_cnt);
}

static int aio_epoll_ctl(AioContext *ctx, int op, int fd, AioHandler *node)
{
    struct epoll_event event = { 0 };

    if (node) {
        if (node->io_read || node->en_read) {
            event.events |= EPOLLIN;
        }
        if (node->io_write) {
            event.events |= EPOLLOUT;
        }
        event.data.ptr = node;
    }
    return epoll_ctl(ctx->epollfd, op, fd, &event) < 0 ? -errno : 0;
}

static void G_NORETURN_FN aio_epoll_fail(int op, int fd, int err)
{
    /* A bad fd is the caller's bug; do not let it go unnoticed. */
    fprintf(stderr, "aio: epoll_ctl(%d) on fd %d failed: %s\n", op, fd,
            strerror(-err));
    abort();
}

/* Called with list_lock held. */
static void aio_epoll_add(AioContext *ctx, AioHandler *node, bool replace)
{
    int ret = aio_epoll_ctl(ctx, replace ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                            node->fd, node);

    /* The registration vanishes when its fd is closed and reused. */
    if (ret == -ENOENT) {
        ret = aio_epoll_ctl(ctx, EPOLL_CTL_ADD, node->fd, node);
    }
    if (ret == -EPERM) {
        node->always_ready = true;
        qatomic_inc(&ctx->always_ready);
    } else if (ret < 0) {
        aio_epoll_fail(EPOLL_CTL_ADD, node->fd, ret);
    }
}

/* Called with list_lock held. */
static void aio_epoll_del(AioContext *ctx, int fd)
{
    int ret = aio_epoll_ctl(ctx, EPOLL_CTL_DEL, fd, NULL);

    /* Closing the fd already removed it. */
    if (ret < 0 && ret != -EBADF && ret != -ENOENT) {
        aio_epoll_fail(EPOLL_CTL_DEL, fd, ret);
    }
}

/* Move fd's registration from old_node to new_node (either may be NULL). */
static void aio_epoll_update(AioContext *ctx, int fd, AioHandler *old_node,
                             AioHandler *new_node)
{
    bool was_in = aio_node_in_epoll(ctx, old_node);

    if (old_node && old_node->always_ready) {
        qatomic_dec(&ctx->always_ready);
    }
    if (aio_node_in_epoll(ctx, new_node)) {
        aio_epoll_add(ctx, new_node, was_in);
    } else if (was_in) {
        aio_epoll_del(ctx, fd);
    }
}

/* Called with list_lock held. */
static void aio_free_deleted_handlers(AioContext *ctx)
{
    AioHandler *node, *next;

    if (!ctx->deleted_handlers) {
        return;
    }
    QLIST_FOREACH_SAFE(node, &ctx->handlers, node, next) {
        if (node->deleted) {
            QLIST_REMOVE(node, node);
            g_free(node);
        }
    }
    ctx->deleted_handlers = false;
}

/* Called with list_lock held: node leaves the list now or after the walk. */
static void aio_retire_handler(AioContext *ctx, AioHandler *node)
{
    qatomic_set(&node->deleted, true);
    if (ctx->walkers) {
        ctx->deleted_handlers = true;
    } else {
        QLIST_REMOVE(node, node);
        g_free(node);
    }
}

/*
 * Between walk_begin and walk_end the calling (home) thread may use node
 * pointers from the list and from epoll without holding list_lock.
 */
static void aio_walk_begin(AioContext *ctx)
{
    qemu_mutex_lock(&ctx->list_lock);
    ctx->walkers++;
    qemu_mutex_unlock(&ctx->list_lock);
}

static void aio_walk_end(AioContext *ctx)
{
    qemu_mutex_lock(&ctx->list_lock);
    if (--ctx->walkers == 0) {
        aio_free_deleted_handlers(ctx);
    }
    qemu_mutex_unlock(&ctx->list_lock);
}

static AioHandler *aio_find_handler(AioContext *ctx, int fd)
{
    AioHandler *node;

    QLIST_FOREACH(node, &ctx->handlers, node) {
        if (node->fd == fd && !node->deleted) {
            return node;
        }
    }
    return NULL;
}

static void aio_set_handler(AioContext *ctx, int fd, AioHandler *new_node)
{
    AioHandler *old_node;

    qemu_mutex_lock(&ctx->list_lock);
    old_node = aio_find_handler(ctx, fd);
    if (!old_node && !new_node) {
        qemu_mutex_unlock(&ctx->list_lock);
        return;
    }
    aio_epoll_update(ctx, fd, old_node, new_node);
    if (new_node) {
        /* Fully initialised before it becomes visible to walkers. */
        new_node->node.le_prev = &ctx->handlers.lh_first;
        new_node->node.le_next = ctx->handlers.lh_first;
        if (new_node->node.le_next) {
            new_node->node.le_next->node.le_prev = &new_node->node.le_next;
        }
        qatomic_store_release(&ctx->handlers.lh_first, new_node);
    }
    if (old_node) {
        aio_retire_handler(ctx, old_node);
    }
    qemu_mutex_unlock(&ctx->list_lock);

    /* Let a blocked poller pick up the new set of handlers. */
    aio_notify(ctx);
}

void aio_set_fd_handler(AioContext *ctx, int fd, bool is_external,
                        IOHandler *io_read, IOHandler *io_write,
                        AioPollFn *io_poll, IOHandler *io_poll_ready,
                        void *opaque)
{
    AioHandler *node = NULL;

    if (io_read || io_write || io_poll) {
        node = g_new0(AioHandler, 1);
        node->fd = fd;
        node->is_external = is_external;
        node->io_read = io_read;
        node->io_write = io_write;
        node->io_poll = io_poll;
        node->io_poll_ready = io_poll_ready;
        node->opaque = opaque;
    }
    aio_set_handler(ctx, fd, node);
}

void aio_set_event_notifier(AioContext *ctx, EventNotifier *notifier,
                            bool is_external, EventNotifierHandler *io_read,
                            AioPollFn *io_poll,
                            EventNotifierHandler *io_poll_ready)
{
    int fd = event_notifier_get_fd(notifier);
    AioHandler *node = NULL;

    if (io_read || io_poll) {
        node = g_new0(AioHandler, 1);
        node->fd = fd;
        node->is_external = is_external;
        node->en_read = io_read;
        node->io_poll = io_poll;
        node->en_poll_ready = io_poll_ready;
        node->opaque = notifier;
    }
    aio_set_handler(ctx, fd, node);
}

/* ---- External handlers ---- */

void aio_disable_external(AioContext *ctx)
{
    AioHandler *node;

    qemu_mutex_lock(&ctx->list_lock);
    if (ctx->external_disable_cnt == 0) {
        /* Out of the epoll set, so that a blocking poll ignores them. */
        QLIST_FOREACH(node, &ctx->handlers, node) {
            if (node->is_external && !node->deleted && !node->always_ready) {
                aio_epoll_del(ctx, node->fd);
            }
        }
    }
    qatomic_set(&ctx->external_disable_cnt, ctx->external_disable_cnt + 1);
    qemu_mutex_unlock(&ctx->list_lock);
}

void aio_enable_external(AioContext *ctx)
{
    AioHandler *node;

    qemu_mutex_lock(&ctx->list_lock);
    assert(ctx->external_disable_cnt > 0);
    qatomic_set(&ctx->external_disable_cnt, ctx->external_disable_cnt - 1);
    if (ctx->external_disable_cnt == 0) {
        QLIST_FOREACH(node, &ctx->handlers, node) {
            if (node->is_external && !node->deleted && !node->always_ready) {
                aio_epoll_add(ctx, node, false);
            }
        }
    }
    qemu_mutex_unlock(&ctx->list_lock);

    /* Let a blocked poller wait on the external fds again. */
    aio_notify(ctx);
}

bool aio_external_disabled(AioContext *ctx)
{
    return qatomic_read(&ctx->external_disable_cnt) > 0;
}

/* ---- Waiting and dispatching ---- */

static bool aio_node_enabled(AioContext *ctx, AioHandler *node)
{
    return !qatomic_read(&node->deleted) &&
           !(node->is_external && qatomic_read(&ctx->external_disable_cnt));
}

/*
 * epoll_wait() counts in milliseconds, too coarse for our timers: wait for
 * a finite timeout with ppoll() on the epoll fd, then collect the events.
 */
static int aio_epoll_wait(AioContext *ctx, struct epoll_event *events,
                          int64_t timeout_ns)
{
    int ret;

    if (timeout_ns > 0) {
        struct pollfd pfd = { .fd = ctx->epollfd, .events = POLLIN };
        struct timespec ts = {
            .tv_sec = timeout_ns / NANOSECONDS_PER_SECOND,
            .tv_nsec = timeout_ns % NANOSECONDS_PER_SECOND,
        };

        do {
            ret = ppoll(&pfd, 1, &ts, NULL);
        } while (ret < 0 && errno == EINTR);
        if (ret == 0) {
            return 0;
        }
        timeout_ns = 0;
    }

    do {
        ret = epoll_wait(ctx->epollfd, events, AIO_EPOLL_MAX_EVENTS,
                         timeout_ns < 0 ? -1 : 0);
    } while (ret < 0 && errno == EINTR);

    if (ret < 0) {
        fprintf(stderr, "aio: epoll_wait failed: %s\n", strerror(errno));
        abort();
    }
    return ret;
}

static bool aio_dispatch_handler(AioContext *ctx, AioHandler *node,
                                 uint32_t revents)
{
    bool progress = false;

    if (!aio_node_enabled(ctx, node)) {
        return false;
    }
    if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (node->en_read) {
            node->en_read(node->opaque);
        } else if (node->io_read) {
            node->io_read(node->opaque);
        }
        /* Draining our own notifier is not progress. */
        if ((node->en_read || node->io_read) &&
            node->opaque != &ctx->notifier) {
            progress = true;
        }
    }
    if ((revents & (EPOLLOUT | EPOLLERR)) && node->io_write &&
        aio_node_enabled(ctx, node)) {
        node->io_write(node->opaque);
        progress = true;
    }
    return progress;
}

static bool aio_dispatch_events(AioContext *ctx, struct epoll_event *events,
                                int n)
{
    bool progress = false;
    int i;

    for (i = 0; i < n; i++) {
        progress |= aio_dispatch_handler(ctx, events[i].data.ptr,
                                         events[i].events);
    }
    return progress;
}

/* Is an enabled handler of a regular file waiting to run? */
bool aio_always_ready_pending(AioContext *ctx)
{
    AioHandler *node;
    bool pending = false;

    if (!qatomic_read(&ctx->always_ready)) {
        return false;
    }
    aio_walk_begin(ctx);
    AIO_HANDLERS_FOREACH(ctx, node) {
        if (node->always_ready && aio_node_enabled(ctx, node)) {
            pending = true;
            break;
        }
    }
    aio_walk_end(ctx);
    return pending;
}

/* Called between walk_begin and walk_end. */
static bool aio_dispatch_always_ready(AioContext *ctx)
{
    AioHandler *node;
    bool progress = false;

    if (!qatomic_read(&ctx->always_ready)) {
        return false;
    }
    AIO_HANDLERS_FOREACH(ctx, node) {
        if (node->always_ready) {
            progress |= aio_dispatch_handler(ctx, node, EPOLLIN | EPOLLOUT);
        }
    }
    return progress;
}

/* ---- Busy polling ---- */

/* Call every io_poll once; mark the nodes that have work. */
static bool aio_run_poll_handlers_once(AioContext *ctx)
{
    AioHandler *node;
    bool found = false;

    AIO_HANDLERS_FOREACH(ctx, node) {
        if (node->io_poll && aio_node_enabled(ctx, node) &&
            node->io_poll(node->opaque)) {
            node->poll_ready = true;
            found = true;
        }
    }
    return found;
}

/* Poll for up to max_ns; true if some handler has work. */
static bool aio_try_poll(AioContext *ctx, int64_t max_ns)
{
    int64_t end = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + max_ns;

    do {
        if (aio_run_poll_handlers_once(ctx)) {
            return true;
        }
    } while (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) < end);
    return false;
}

static bool aio_dispatch_poll_ready(AioContext *ctx)
{
    AioHandler *node;
    bool progress = false;

    AIO_HANDLERS_FOREACH(ctx, node) {
        if (!node->poll_ready) {
            continue;
        }
        node->poll_ready = false;
        if (!aio_node_enabled(ctx, node)) {
            continue;
        }
        if (node->en_poll_ready) {
            node->en_poll_ready(node->opaque);
        } else if (node->io_poll_ready) {
            node->io_poll_ready(node->opaque);
        } else {
            continue;
        }
        if (node->opaque != &ctx->notifier) {
            progress = true;
        }
    }
    return progress;
}

/*
 * Poll longer while events tend to arrive within the polling window, less
 * (or not at all) when we end up blocking for longer than poll_max_ns.
 */
static void aio_adapt_poll_time(AioContext *ctx, int64_t block_ns)
{
    int64_t max = ctx->poll_max_ns;

    if (block_ns <= ctx->poll_ns) {
        return;
    }
    if (block_ns > max) {
        ctx->poll_ns = ctx->poll_shrink ? ctx->poll_ns / ctx->poll_shrink : 0;
    } else if (ctx->poll_ns < max) {
        int64_t grow = ctx->poll_grow ? ctx->poll_grow : 2;

        /* Start at 4 microseconds. */
        ctx->poll_ns = ctx->poll_ns ? ctx->poll_ns * grow : 4000;
        ctx->poll_ns = MIN(ctx->poll_ns, max);
    }
}

bool aio_poll(AioContext *ctx, bool blocking)
{
    struct epoll_event events[AIO_EPOLL_MAX_EVENTS];
    bool progress = false;
    bool use_notify_me;
    int64_t timeout;
    int64_t start = 0;
    int n;

    /* Only the home thread polls, and iohandler_ctx only through glib. */
    assert(in_aio_context_home_thread(ctx));

    aio_walk_begin(ctx);

    timeout = blocking ? aio_compute_timeout(ctx) : 0;

    /*
     * aio_notify() skips the eventfd write while nobody can block.  If we
     * may block, say so; whatever was notified before that (a BH, a timer
     * change) must stop us from blocking, and anything notified after it
     * kicks the eventfd.
     */
    use_notify_me = timeout != 0;
    if (use_notify_me) {
        qatomic_set(&ctx->notify_me, qatomic_read(&ctx->notify_me) + 2);
        smp_mb();
        if (qatomic_read(&ctx->notified)) {
            timeout = 0;
        }
    }

    if (ctx->poll_max_ns && timeout != 0) {
        int64_t max_ns = ctx->poll_ns;

        start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
        if (timeout > 0 && timeout < max_ns) {
            max_ns = timeout;
        }
        if (max_ns && aio_try_poll(ctx, max_ns)) {
            timeout = 0;
        }
    }

    n = aio_epoll_wait(ctx, events, timeout);

    if (use_notify_me) {
        qatomic_store_release(&ctx->notify_me,
                              qatomic_read(&ctx->notify_me) - 2);
    }
    aio_notify_accept(ctx);

    if (ctx->poll_max_ns && start) {
        aio_adapt_poll_time(ctx,
                            qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start);
    }

    progress |= aio_bh_poll(ctx);
    progress |= aio_dispatch_events(ctx, events, n);
    progress |= aio_dispatch_always_ready(ctx);
    progress |= aio_dispatch_poll_ready(ctx);

    aio_walk_end(ctx);

    progress |= aio_timers_run(ctx);
    return progress;
}

void aio_dispatch(AioContext *ctx)
{
    struct epoll_event events[AIO_EPOLL_MAX_EVENTS];
    int n;

    aio_walk_begin(ctx);
    aio_bh_poll(ctx);
    n = aio_epoll_wait(ctx, events, 0);
    aio_dispatch_events(ctx, events, n);
    aio_dispatch_always_ready(ctx);
    aio_walk_end(ctx);
    aio_timers_run(ctx);
}

bool aio_gsource_fds_ready(AioContext *ctx)
{
    return (g_source_query_unix_fd(&ctx->source, ctx->epoll_tag) & G_IO_IN) ||
           aio_always_ready_pending(ctx);
}

bool aio_fds_pending(AioContext *ctx)
{
    struct epoll_event events[AIO_EPOLL_MAX_EVENTS];
    bool pending = false;
    int i, n;

    aio_walk_begin(ctx);
    n = aio_epoll_wait(ctx, events, 0);
    for (i = 0; i < n; i++) {
        AioHandler *node = events[i].data.ptr;

        if (node->opaque != &ctx->notifier && aio_node_enabled(ctx, node)) {
            pending = true;
        }
    }
    aio_walk_end(ctx);
    return pending || aio_always_ready_pending(ctx);
}
