/*
 * AioContext tests: bottom halves, event notifiers and fd handlers,
 * timers, aio_poll() progress rules, notification, external handlers,
 * coroutine scheduling, AIO_WAIT_WHILE and the GSource glue, following
 * the behaviour of QEMU 7.2's event loop.
 */
#include "qemu/osdep.h"

#include <glib-unix.h>

#include "qemu/aio-wait.h"
#include "qemu/atomic.h"
#include "qemu/coroutine_int.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

static AioContext *ctx;

/* Run until nothing makes progress any more. */
static void aio_flush(void)
{
    while (aio_poll(ctx, false)) {
        /* nothing */
    }
}

/* ---- Bottom halves ---- */

typedef struct {
    QEMUBH *bh;
    int n;
    int max;
} BHTestData;

static void bh_test_cb(void *opaque)
{
    BHTestData *data = opaque;

    if (++data->n < data->max) {
        qemu_bh_schedule(data->bh);
    }
}

static void bh_delete_cb(void *opaque)
{
    BHTestData *data = opaque;

    if (++data->n < data->max) {
        qemu_bh_schedule(data->bh);
    } else {
        qemu_bh_delete(data->bh);
        data->bh = NULL;
    }
}

static void test_bh_schedule(void)
{
    BHTestData data = { .n = 0 };

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);
    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    g_assert(aio_poll(ctx, true));
    g_assert_cmpint(data.n, ==, 1);

    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    qemu_bh_delete(data.bh);
}

static void test_bh_schedule10(void)
{
    BHTestData data = { .n = 0, .max = 10 };

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);
    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    /* Rescheduled from its own callback: runs once per poll. */
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert(aio_poll(ctx, true));
    g_assert_cmpint(data.n, ==, 2);

    while (data.n < 10) {
        g_assert(aio_poll(ctx, true));
    }
    g_assert_cmpint(data.n, ==, 10);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 10);
    qemu_bh_delete(data.bh);
}

static void test_bh_cancel(void)
{
    BHTestData data = { .n = 0 };

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);
    qemu_bh_schedule(data.bh);
    qemu_bh_cancel(data.bh);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    /* A cancelled BH can be scheduled again. */
    qemu_bh_schedule(data.bh);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    qemu_bh_delete(data.bh);
}

static void test_bh_delete(void)
{
    BHTestData data = { .n = 0 };

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);
    qemu_bh_schedule(data.bh);
    qemu_bh_delete(data.bh);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);
}

static void test_bh_delete_from_cb(void)
{
    BHTestData data = { .n = 0, .max = 1 };

    data.bh = aio_bh_new(ctx, bh_delete_cb, &data);
    qemu_bh_schedule(data.bh);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert(data.bh == NULL);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
}

static void test_bh_delete_from_cb_many(void)
{
    BHTestData data[4] = {
        { .max = 1 }, { .max = 3 }, { .max = 2 }, { .max = 4 },
    };
    int i;

    for (i = 0; i < 4; i++) {
        data[i].bh = aio_bh_new(ctx, bh_delete_cb, &data[i]);
        qemu_bh_schedule(data[i].bh);
    }

    g_assert(aio_poll(ctx, false));
    for (i = 0; i < 4; i++) {
        g_assert_cmpint(data[i].n, ==, 1);
    }
    g_assert(data[0].bh == NULL);

    aio_flush();
    for (i = 0; i < 4; i++) {
        g_assert_cmpint(data[i].n, ==, data[i].max);
        g_assert(data[i].bh == NULL);
    }
}

static void test_bh_flush(void)
{
    BHTestData data = { .n = 0 };

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);
    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    aio_flush();
    g_assert_cmpint(data.n, ==, 1);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    qemu_bh_delete(data.bh);
}

static GString *bh_order;

static void bh_note_cb(void *opaque)
{
    g_string_append(bh_order, opaque);
}

static void test_bh_order(void)
{
    bh_order = g_string_new(NULL);
    aio_bh_schedule_oneshot(ctx, bh_note_cb, (void *)"a");
    aio_bh_schedule_oneshot(ctx, bh_note_cb, (void *)"b");
    aio_bh_schedule_oneshot(ctx, bh_note_cb, (void *)"c");
    g_assert(aio_poll(ctx, false));
    /* One poll runs them all, in scheduling order; oneshots are freed. */
    g_assert_cmpstr(bh_order->str, ==, "abc");
    g_assert(!aio_poll(ctx, false));
    g_string_free(bh_order, true);
}

static void bh_nested_poll_cb(void *opaque)
{
    g_string_append(bh_order, "[");
    /* The remaining BHs of the outer poll run in here. */
    g_assert(aio_poll(ctx, false));
    g_string_append(bh_order, "]");
}

static void test_bh_nested_poll(void)
{
    bh_order = g_string_new(NULL);
    aio_bh_schedule_oneshot(ctx, bh_nested_poll_cb, NULL);
    aio_bh_schedule_oneshot(ctx, bh_note_cb, (void *)"x");
    aio_bh_schedule_oneshot(ctx, bh_note_cb, (void *)"y");
    g_assert(aio_poll(ctx, false));
    g_assert_cmpstr(bh_order->str, ==, "[xy]");
    g_assert(!aio_poll(ctx, false));
    g_string_free(bh_order, true);
}

static void test_bh_idle(void)
{
    BHTestData data = { .n = 0 };
    int64_t start;

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);
    qemu_bh_schedule_idle(data.bh);
    /* Idle BHs bound the wait to ~10 ms instead of forcing a busy poll. */
    g_assert_cmpint(aio_compute_timeout(ctx), ==, 10 * SCALE_MS);

    /* They run, but do not count as progress. */
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);

    start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    qemu_bh_schedule_idle(data.bh);
    while (data.n < 2) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start, <,
                    5 * NANOSECONDS_PER_SECOND);
    qemu_bh_delete(data.bh);
}

/* ---- Event notifiers ---- */

typedef struct {
    EventNotifier e;
    int n;
    int active;
    bool auto_set;
} EventNotifierTestData;

static void event_ready_cb(EventNotifier *e)
{
    EventNotifierTestData *data = container_of(e, EventNotifierTestData, e);

    g_assert(event_notifier_test_and_clear(e));
    data->n++;
    if (data->active > 0) {
        data->active--;
    }
    if (data->auto_set && data->active) {
        event_notifier_set(e);
    }
}

static void set_event_notifier(EventNotifier *e, EventNotifierHandler *cb)
{
    aio_set_event_notifier(ctx, e, false, cb, NULL, NULL);
}

static void dummy_notifier_read(EventNotifier *e)
{
    event_notifier_test_and_clear(e);
}

static void test_set_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 0 };

    event_notifier_init(&data.e, false);
    set_event_notifier(&data.e, event_ready_cb);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    set_event_notifier(&data.e, NULL);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    /* Removed: setting it no longer calls anything. */
    event_notifier_set(&data.e);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);
    event_notifier_cleanup(&data.e);
}

static void test_wait_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 1 };

    event_notifier_init(&data.e, false);
    set_event_notifier(&data.e, event_ready_cb);
    while (aio_poll(ctx, false)) {
        /* consume registration side effects */
    }
    g_assert_cmpint(data.n, ==, 0);
    g_assert_cmpint(data.active, ==, 1);

    event_notifier_set(&data.e);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 0);

    /* One callback per set. */
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 0);

    event_notifier_set(&data.e);
    g_assert(aio_poll(ctx, true));
    g_assert_cmpint(data.n, ==, 2);

    set_event_notifier(&data.e, NULL);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);
    event_notifier_cleanup(&data.e);
}

static void test_flush_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 10, .auto_set = true };

    event_notifier_init(&data.e, false);
    set_event_notifier(&data.e, event_ready_cb);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);
    g_assert_cmpint(data.active, ==, 10);

    event_notifier_set(&data.e);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 9);
    g_assert(aio_poll(ctx, false));

    /* The handler re-arms itself until active drains to zero. */
    while (data.active) {
        aio_poll(ctx, false);
    }
    g_assert_cmpint(data.n, ==, 10);
    g_assert_cmpint(data.active, ==, 0);
    g_assert(!aio_poll(ctx, false));

    set_event_notifier(&data.e, NULL);
    g_assert(!aio_poll(ctx, false));
    event_notifier_cleanup(&data.e);
}

static void test_wait_event_notifier_noflush(void)
{
    EventNotifierTestData data = { .n = 0 };
    EventNotifierTestData dummy = { .n = 0, .active = 1 };

    event_notifier_init(&data.e, false);
    set_event_notifier(&data.e, event_ready_cb);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    /* Must not block: the notifier is set. */
    event_notifier_set(&data.e);
    g_assert(aio_poll(ctx, true));
    data.n = 0;

    event_notifier_init(&dummy.e, false);
    set_event_notifier(&dummy.e, event_ready_cb);

    event_notifier_set(&data.e);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);

    event_notifier_set(&data.e);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);

    event_notifier_set(&dummy.e);
    while (dummy.active) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(data.n, ==, 2);
    g_assert_cmpint(dummy.n, ==, 1);
    g_assert_cmpint(dummy.active, ==, 0);

    set_event_notifier(&dummy.e, NULL);
    event_notifier_cleanup(&dummy.e);
    set_event_notifier(&data.e, NULL);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);
    event_notifier_cleanup(&data.e);
}

static void test_aio_external_client(void)
{
    int i, j;

    for (i = 1; i < 3; i++) {
        EventNotifierTestData data = { .n = 0, .active = 10,
                                       .auto_set = true };

        event_notifier_init(&data.e, false);
        aio_set_event_notifier(ctx, &data.e, true, event_ready_cb,
                               NULL, NULL);
        event_notifier_set(&data.e);
        for (j = 0; j < i; j++) {
            aio_disable_external(ctx);
        }
        /* Skipped until every disable is matched by an enable. */
        for (j = 0; j < i; j++) {
            g_assert(aio_external_disabled(ctx));
            g_assert(!aio_poll(ctx, false));
            g_assert(event_notifier_test_and_clear(&data.e));
            event_notifier_set(&data.e);
            aio_enable_external(ctx);
        }
        g_assert(!aio_external_disabled(ctx));
        g_assert(aio_poll(ctx, false));
        g_assert_cmpint(data.n, ==, 1);
        set_event_notifier(&data.e, NULL);
        event_notifier_cleanup(&data.e);
    }
}

static void timer_flag_cb(void *opaque)
{
    *(bool *)opaque = true;
}

/* A disabled external fd that is ready must not make blocking polls spin. */
static void test_aio_external_blocking(void)
{
    EventNotifierTestData data = { .n = 0 };
    QEMUTimer timer;
    bool fired = false;
    int64_t start;
    int polls = 0;

    event_notifier_init(&data.e, true);
    aio_set_event_notifier(ctx, &data.e, true, event_ready_cb, NULL, NULL);
    aio_disable_external(ctx);
    aio_flush();

    aio_timer_init(ctx, &timer, QEMU_CLOCK_REALTIME, SCALE_NS,
                   timer_flag_cb, &fired);
    start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    timer_mod(&timer, start + 50 * SCALE_MS);
    while (!fired) {
        aio_poll(ctx, true);
        polls++;
    }
    g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start, >=,
                    50 * SCALE_MS);
    /* Slept until the timer; the ready fd was neither polled nor run. */
    g_assert_cmpint(polls, <=, 2);
    g_assert_cmpint(data.n, ==, 0);

    aio_enable_external(ctx);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    set_event_notifier(&data.e, NULL);
    event_notifier_cleanup(&data.e);
}

/* ---- fd handlers ---- */

typedef struct {
    int fds[2];
    int reads;
    int writes;
} PipeData;

static void pipe_read_cb(void *opaque)
{
    PipeData *p = opaque;
    char buf[16];

    g_assert_cmpint(read(p->fds[0], buf, sizeof(buf)), >, 0);
    p->reads++;
}

static void pipe_write_cb(void *opaque)
{
    PipeData *p = opaque;

    p->writes++;
}

static void pipe_open(PipeData *p)
{
    memset(p, 0, sizeof(*p));
    g_assert(g_unix_open_pipe(p->fds, FD_CLOEXEC, NULL));
    g_assert(g_unix_set_fd_nonblocking(p->fds[0], true, NULL));
}

static void pipe_close(PipeData *p)
{
    close(p->fds[0]);
    close(p->fds[1]);
}

static void test_fd_handler(void)
{
    PipeData p;

    pipe_open(&p);
    aio_set_fd_handler(ctx, p.fds[0], false, pipe_read_cb, NULL, NULL, NULL,
                       &p);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(p.reads, ==, 0);

    g_assert_cmpint(write(p.fds[1], "x", 1), ==, 1);
    g_assert(aio_poll(ctx, true));
    g_assert_cmpint(p.reads, ==, 1);
    g_assert(!aio_poll(ctx, false));

    /* Writable at once. */
    aio_set_fd_handler(ctx, p.fds[1], false, NULL, pipe_write_cb, NULL, NULL,
                       &p);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(p.writes, ==, 1);
    aio_set_fd_handler(ctx, p.fds[1], false, NULL, NULL, NULL, NULL, NULL);

    /* Replacing keeps one registration; removing stops the calls. */
    aio_set_fd_handler(ctx, p.fds[0], false, pipe_read_cb, NULL, NULL, NULL,
                       &p);
    aio_set_fd_handler(ctx, p.fds[0], false, NULL, NULL, NULL, NULL, NULL);
    g_assert_cmpint(write(p.fds[1], "x", 1), ==, 1);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(p.reads, ==, 1);
    pipe_close(&p);
}

typedef struct {
    PipeData p[2];
    int calls;
} MutualDelete;

static MutualDelete *mutual;

static void mutual_delete_cb(void *opaque)
{
    PipeData *self = opaque;
    PipeData *other = self == &mutual->p[0] ? &mutual->p[1] : &mutual->p[0];

    mutual->calls++;
    /* Remove both; the other's pending event must be dropped safely. */
    aio_set_fd_handler(ctx, other->fds[0], false, NULL, NULL, NULL, NULL,
                       NULL);
    aio_set_fd_handler(ctx, self->fds[0], false, NULL, NULL, NULL, NULL,
                       NULL);
}

static void test_fd_handler_delete_in_dispatch(void)
{
    MutualDelete md = { 0 };
    int i;

    mutual = &md;
    for (i = 0; i < 2; i++) {
        pipe_open(&md.p[i]);
        aio_set_fd_handler(ctx, md.p[i].fds[0], false, mutual_delete_cb,
                           NULL, NULL, NULL, &md.p[i]);
        g_assert_cmpint(write(md.p[i].fds[1], "x", 1), ==, 1);
    }
    g_assert(aio_poll(ctx, true));
    g_assert_cmpint(md.calls, ==, 1);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(md.calls, ==, 1);
    for (i = 0; i < 2; i++) {
        pipe_close(&md.p[i]);
    }
}

static void count_cb(void *opaque)
{
    (*(int *)opaque)++;
}

/*
 * Regular files cannot be watched by epoll; like poll(), treat them as
 * always readable and writable.
 */
static void test_fd_handler_regular_file(void)
{
    g_autofree char *path = NULL;
    int reads = 0;
    int fd;

    aio_flush();
    fd = g_file_open_tmp("test-aio-XXXXXX", &path, NULL);
    g_assert_cmpint(fd, >=, 0);

    aio_set_fd_handler(ctx, fd, false, count_cb, NULL, NULL, NULL, &reads);
    g_assert_cmpint(aio_compute_timeout(ctx), ==, 0);
    g_assert(aio_poll(ctx, true));
    g_assert_cmpint(reads, ==, 1);
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(reads, ==, 2);

    /* Through glib too. */
    g_assert(g_main_context_iteration(NULL, false));
    g_assert_cmpint(reads, ==, 3);

    aio_set_fd_handler(ctx, fd, false, NULL, NULL, NULL, NULL, NULL);
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(reads, ==, 3);
    g_assert_cmpint(aio_compute_timeout(ctx), ==, -1);

    close(fd);
    unlink(path);
}

typedef struct {
    PipeData p;
    bool poll_has_work;
    int poll_calls;
    int ready_calls;
} PollModeData;

static bool poll_mode_poll(void *opaque)
{
    PollModeData *pm = opaque;

    pm->poll_calls++;
    return pm->poll_has_work;
}

static void poll_mode_ready(void *opaque)
{
    PollModeData *pm = opaque;

    pm->ready_calls++;
    pm->poll_has_work = false;
}

static void test_poll_mode(void)
{
    PollModeData pm = { 0 };
    QEMUTimer timer;
    bool fired = false;

    pipe_open(&pm.p);
    aio_set_fd_handler(ctx, pm.p.fds[0], false, pipe_read_cb, NULL,
                       poll_mode_poll, poll_mode_ready, &pm);
    aio_context_set_poll_params(ctx, 200 * SCALE_MS, 0, 0, &error_abort);
    aio_timer_init(ctx, &timer, QEMU_CLOCK_REALTIME, SCALE_MS,
                   timer_flag_cb, &fired);

    /* A short block (below poll_max_ns) makes the loop start polling. */
    timer_mod(&timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 20);
    aio_notify_accept(ctx);
    while (!fired) {
        aio_poll(ctx, true);
    }

    /* Now io_poll finds work without any fd event, and ends the wait. */
    fired = false;
    timer_mod(&timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 5000);
    aio_notify_accept(ctx);
    pm.poll_has_work = true;
    g_assert(aio_poll(ctx, true));
    g_assert_cmpint(pm.ready_calls, ==, 1);
    g_assert_cmpint(pm.poll_calls, >, 0);
    g_assert(!fired);
    g_assert_cmpint(pm.p.reads, ==, 0);

    timer_del(&timer);
    aio_context_set_poll_params(ctx, 0, 0, 0, &error_abort);
    aio_set_fd_handler(ctx, pm.p.fds[0], false, NULL, NULL, NULL, NULL,
                       NULL);
    aio_flush();
    pipe_close(&pm.p);
}

/* ---- Timers ---- */

typedef struct {
    AioContext *ctx;
    int n;
    int max;
    int64_t ns;
    QEMUClockType clock_type;
    QEMUTimer timer;
} TimerTestData;

static void timer_test_cb(void *opaque)
{
    TimerTestData *data = opaque;

    if (++data->n == data->max) {
        return;
    }
    timer_mod(&data->timer,
              qemu_clock_get_ns(data->clock_type) + data->ns);
}

static void dummy_io_handler_read(EventNotifier *e)
{
}

static void test_timer_schedule(void)
{
    TimerTestData data = {
        .n = 0, .ctx = ctx, .ns = SCALE_MS * 750LL, .max = 2,
        .clock_type = QEMU_CLOCK_REALTIME,
    };
    EventNotifier e;

    event_notifier_init(&e, false);
    set_event_notifier(&e, dummy_io_handler_read);
    aio_poll(ctx, false);

    aio_timer_init(ctx, &data.timer, data.clock_type, SCALE_NS,
                   timer_test_cb, &data);
    timer_mod(&data.timer, qemu_clock_get_ns(data.clock_type) + data.ns);
    g_assert(timer_pending(&data.timer));
    g_assert_cmpint(data.n, ==, 0);

    aio_flush();
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    /* Not early... */
    g_usleep(1 * G_USEC_PER_SEC);
    g_assert_cmpint(data.n, ==, 0);

    /* ...and on the first poll after the deadline. */
    g_assert(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);

    /* The callback re-armed it. */
    aio_flush();
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);

    /* A blocking poll waits for it. */
    g_assert(aio_poll(ctx, true));
    g_assert_cmpint(data.n, ==, 2);

    /* max reached: not re-armed. */
    g_assert(!timer_pending(&data.timer));
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);

    set_event_notifier(&e, NULL);
    event_notifier_cleanup(&e);
    timer_del(&data.timer);
}

typedef struct {
    QEMUTimer timer;
    int64_t deadline;
    char name;
} OrderTimer;

static GString *timer_order;

static void order_timer_cb(void *opaque)
{
    OrderTimer *ot = opaque;

    /* Never early. */
    g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_REALTIME), >=,
                    ot->deadline);
    g_string_append_c(timer_order, ot->name);
}

static void test_timer_order(void)
{
    /* Armed out of order; c and d share a deadline. */
    static const struct { char name; int ms; } spec[] = {
        { 'b', 30 }, { 'a', 10 }, { 'c', 50 }, { 'd', 50 }, { 'e', 70 },
    };
    OrderTimer ot[ARRAY_SIZE(spec)];
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    size_t i;

    timer_order = g_string_new(NULL);
    for (i = 0; i < ARRAY_SIZE(spec); i++) {
        ot[i].name = spec[i].name;
        ot[i].deadline = now + spec[i].ms * SCALE_MS;
        aio_timer_init(ctx, &ot[i].timer, QEMU_CLOCK_REALTIME, SCALE_NS,
                       order_timer_cb, &ot[i]);
        timer_mod_ns(&ot[i].timer, ot[i].deadline);
        g_assert_cmpint(timer_expire_time_ns(&ot[i].timer), ==,
                        ot[i].deadline);
    }
    /* Deleted timers never fire. */
    timer_del(&ot[4].timer);
    g_assert(!timer_pending(&ot[4].timer));
    g_assert_cmpint(timer_expire_time_ns(&ot[4].timer), ==, -1);

    while (timer_order->len < 4) {
        aio_poll(ctx, true);
    }
    g_assert_cmpstr(timer_order->str, ==, "abcd");
    g_assert_cmpint(aio_compute_timeout(ctx), ==, -1);
    g_string_free(timer_order, true);
}

static void test_timer_anticipate(void)
{
    QEMUTimer timer;
    bool fired = false;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

    aio_timer_init(ctx, &timer, QEMU_CLOCK_VIRTUAL, SCALE_NS,
                   timer_flag_cb, &fired);
    timer_mod_anticipate_ns(&timer, now + 10 * NANOSECONDS_PER_SECOND);
    g_assert_cmpint(timer_expire_time_ns(&timer), ==,
                    now + 10 * NANOSECONDS_PER_SECOND);
    /* Later deadlines do not postpone it, earlier ones advance it. */
    timer_mod_anticipate_ns(&timer, now + 20 * NANOSECONDS_PER_SECOND);
    g_assert_cmpint(timer_expire_time_ns(&timer), ==,
                    now + 10 * NANOSECONDS_PER_SECOND);
    timer_mod_anticipate_ns(&timer, now + SCALE_MS);
    g_assert_cmpint(timer_expire_time_ns(&timer), ==, now + SCALE_MS);
    while (!fired) {
        aio_poll(ctx, true);
    }
    g_assert(!timer_pending(&timer));
}

/* Sub-millisecond deadlines are honoured by a single blocking poll. */
static void test_timer_resolution(void)
{
    QEMUTimer *timer;
    bool fired = false;
    int64_t deadline_us;

    aio_flush();
    timer = aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_US, timer_flag_cb,
                          &fired);
    deadline_us = qemu_clock_get_us(QEMU_CLOCK_REALTIME) + 1300;
    timer_mod(timer, deadline_us);
    g_assert_cmpint(timer_expire_time_ns(timer), ==, deadline_us * SCALE_US);
    /* Consume timer_mod's notification, which would end the wait early. */
    aio_notify_accept(ctx);
    /* A millisecond-granular wait would return before the deadline. */
    g_assert(aio_poll(ctx, true));
    g_assert(fired);
    g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_REALTIME), >=,
                    deadline_us * SCALE_US);
    timer_free(timer);
}

/*
 * A timer may expire while its context computes the poll timeout; the
 * timeout must then be 0, never -1 ("no timer", which blocks forever).
 * Deadlines a few nanoseconds ahead make that window likely to be hit.
 */
static void test_timer_deadline_race(void)
{
    QEMUTimer timer;
    bool fired = false;

    aio_flush();
    aio_timer_init(ctx, &timer, QEMU_CLOCK_REALTIME, SCALE_NS, timer_flag_cb,
                   &fired);
    for (int i = 0; i < 100000; i++) {
        timer_mod_ns(&timer, qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + i % 64);
        g_assert_cmpint(aio_compute_timeout(ctx), >=, 0);
    }
    timer_del(&timer);
    aio_notify_accept(ctx);
}

static void test_clocks(void)
{
    int64_t host = qemu_clock_get_ns(QEMU_CLOCK_HOST);
    int64_t rt = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    int64_t virt = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

    /* HOST is wall-clock time. */
    g_assert_cmpint(llabs(host - g_get_real_time() * SCALE_US), <,
                    10 * NANOSECONDS_PER_SECOND);
    /* VIRTUAL follows real time. */
    g_assert_cmpint(virt, >=, rt);
    g_assert_cmpint(virt - rt, <, 10 * NANOSECONDS_PER_SECOND);
    g_assert_cmpint(qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL_RT), >=,
                    rt / SCALE_MS);
}

/* ---- Notification and progress ---- */

typedef struct {
    QemuMutex start_lock;
    EventNotifier notifier;
    bool thread_acquired;
} AcquireTestData;

static void *test_acquire_thread(void *opaque)
{
    AcquireTestData *data = opaque;

    /* Wait for the main thread to be ready. */
    qemu_mutex_lock(&data->start_lock);
    qemu_mutex_unlock(&data->start_lock);

    /*
     * Before or after the main thread enters poll(): the outcome must be
     * the same.
     */
    event_notifier_set(&data->notifier);
    aio_context_acquire(ctx);
    aio_context_release(ctx);

    data->thread_acquired = true;
    return NULL;
}

static void test_acquire(void)
{
    QemuThread thread;
    AcquireTestData data = { 0 };

    event_notifier_init(&data.notifier, false);
    set_event_notifier(&data.notifier, dummy_notifier_read);
    g_assert(!aio_poll(ctx, false));

    qemu_mutex_init(&data.start_lock);
    qemu_mutex_lock(&data.start_lock);
    qemu_thread_create(&thread, "test_acquire_thread", test_acquire_thread,
                       &data, QEMU_THREAD_JOINABLE);

    /* aio_poll() does not drop the context lock while it blocks. */
    aio_context_acquire(ctx);
    qemu_mutex_unlock(&data.start_lock);
    g_assert(aio_poll(ctx, true));
    g_assert(!data.thread_acquired);
    aio_context_release(ctx);

    qemu_thread_join(&thread);
    set_event_notifier(&data.notifier, NULL);
    event_notifier_cleanup(&data.notifier);
    qemu_mutex_destroy(&data.start_lock);
    g_assert(data.thread_acquired);
}

static void *notify_thread(void *opaque)
{
    g_usleep(20 * 1000);
    aio_notify(opaque);
    return NULL;
}

static void test_notify(void)
{
    QemuThread thread;

    /* A bare notification is not progress... */
    aio_notify(ctx);
    g_assert(!aio_poll(ctx, false));

    /* ...but it does wake a blocked poller, which then returns false. */
    qemu_thread_create(&thread, "notify", notify_thread, ctx,
                       QEMU_THREAD_JOINABLE);
    g_assert(!aio_poll(ctx, true));
    qemu_thread_join(&thread);
    g_assert(!aio_poll(ctx, false));
}

static void *schedule_bh_thread(void *opaque)
{
    g_usleep(20 * 1000);
    qemu_bh_schedule(opaque);
    return NULL;
}

static void test_bh_from_thread(void)
{
    BHTestData data = { .n = 0 };
    QemuThread thread;

    aio_flush();
    data.bh = aio_bh_new(ctx, bh_test_cb, &data);
    qemu_thread_create(&thread, "schedule-bh", schedule_bh_thread, data.bh,
                       QEMU_THREAD_JOINABLE);
    /* A BH scheduled by another thread wakes the poller and is progress. */
    while (data.n == 0) {
        g_assert(aio_poll(ctx, true));
    }
    qemu_thread_join(&thread);
    qemu_bh_delete(data.bh);
}

/* ---- Coroutines ---- */

typedef struct ChainData {
    unsigned i;
    unsigned max;
    Coroutine *co;
    struct ChainData *other;
    uintptr_t stack_low;
} ChainData;

static void coroutine_fn chain_cb(void *opaque)
{
    ChainData *data = opaque;
    uintptr_t here = (uintptr_t)&here;

    while (data->i < data->max) {
        data->i++;
        /* Stack use must not grow with the number of wakeups. */
        if (!data->stack_low || here < data->stack_low) {
            data->stack_low = here;
        }
        if (data->other->i < data->other->max) {
            aio_co_enter(ctx, data->other->co);
        }
        if (data->i < data->max) {
            qemu_coroutine_yield();
        }
    }
}

static void test_queue_chaining(void)
{
    /* This many iterations once exhausted the stack. */
    ChainData a = { .max = 25000 }, b = { .max = 25000 };

    a.other = &b;
    b.other = &a;
    a.co = qemu_coroutine_create(chain_cb, &a);
    b.co = qemu_coroutine_create(chain_cb, &b);

    qemu_coroutine_enter(b.co);
    g_assert_cmpuint(a.i, ==, a.max);
    g_assert_cmpuint(b.i, ==, b.max);
}

typedef struct {
    GString *log;
    int id;
    int runs;
} ScheduledCo;

static void coroutine_fn scheduled_co(void *opaque)
{
    ScheduledCo *sc = opaque;

    for (;;) {
        g_string_append_printf(sc->log, "%d", sc->id);
        g_assert(qemu_get_current_aio_context() == ctx);
        if (++sc->runs == 2) {
            break;
        }
        qemu_coroutine_yield();
    }
}

static void test_co_schedule_fifo(void)
{
    ScheduledCo sc[3];
    Coroutine *co[3];
    GString *log = g_string_new(NULL);
    int i;

    for (i = 0; i < 3; i++) {
        sc[i] = (ScheduledCo) { .log = log, .id = i };
        co[i] = qemu_coroutine_create(scheduled_co, &sc[i]);
        aio_co_schedule(ctx, co[i]);
    }
    g_assert_cmpstr(log->str, ==, "");
    g_assert(aio_poll(ctx, false));
    /* Entered in scheduling order, from the context's BH. */
    g_assert_cmpstr(log->str, ==, "012");

    for (i = 2; i >= 0; i--) {
        aio_co_schedule(ctx, co[i]);
    }
    g_assert(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "012210");
    g_string_free(log, true);
}

typedef struct {
    Coroutine *co;
    bool done;
    bool ran_in_main_thread;
    QemuThread main_thread;
} CoEnterData;

static void coroutine_fn note_thread(void *opaque)
{
    CoEnterData *data = opaque;

    data->ran_in_main_thread = qemu_thread_is_self(&data->main_thread);
    data->done = true;
}

static void *co_enter_thread(void *opaque)
{
    CoEnterData *data = opaque;

    aio_co_enter(ctx, data->co);
    return NULL;
}

static void test_worker_thread_co_enter(void)
{
    CoEnterData data = { 0 };
    QemuThread thread;

    qemu_thread_get_self(&data.main_thread);
    data.co = qemu_coroutine_create(note_thread, &data);
    qemu_thread_create(&thread, "co-enter", co_enter_thread, &data,
                       QEMU_THREAD_JOINABLE);
    /* The coroutine is scheduled into ctx, not entered by the thread. */
    while (!data.done) {
        aio_poll(ctx, true);
    }
    qemu_thread_join(&thread);
    g_assert(data.ran_in_main_thread);
}

/* A second thread with its own context, like an IOThread. */
typedef struct {
    QemuThread thread;
    AioContext *ctx;
    QemuSemaphore ready;
    bool stopping;
} TestIOThread;

static void *iothread_run(void *opaque)
{
    TestIOThread *t = opaque;

    qemu_set_current_aio_context(t->ctx);
    qemu_sem_post(&t->ready);
    while (!qatomic_read(&t->stopping)) {
        aio_poll(t->ctx, true);
    }
    qemu_set_current_aio_context(NULL);
    return NULL;
}

static TestIOThread *iothread_new(void)
{
    TestIOThread *t = g_new0(TestIOThread, 1);

    t->ctx = aio_context_new(&error_abort);
    qemu_sem_init(&t->ready, 0);
    qemu_thread_create(&t->thread, "iothread", iothread_run, t,
                       QEMU_THREAD_JOINABLE);
    qemu_sem_wait(&t->ready);
    return t;
}

static void iothread_stop_bh(void *opaque)
{
    TestIOThread *t = opaque;

    qatomic_set(&t->stopping, true);
}

static void iothread_free(TestIOThread *t)
{
    aio_bh_schedule_oneshot(t->ctx, iothread_stop_bh, t);
    qemu_thread_join(&t->thread);
    aio_context_unref(t->ctx);
    qemu_sem_destroy(&t->ready);
    g_free(t);
}

typedef struct {
    AioContext *other;
    AioContext *seen[3];
    bool done;
} RescheduleData;

static void coroutine_fn hop_contexts(void *opaque)
{
    RescheduleData *data = opaque;

    data->seen[0] = qemu_get_current_aio_context();
    aio_co_reschedule_self(data->other);
    data->seen[1] = qemu_get_current_aio_context();
    aio_co_reschedule_self(ctx);
    data->seen[2] = qemu_get_current_aio_context();
    qatomic_set(&data->done, true);
    aio_wait_kick();
}

static void test_co_reschedule_self(void)
{
    TestIOThread *t = iothread_new();
    RescheduleData data = { .other = t->ctx };

    qemu_coroutine_enter(qemu_coroutine_create(hop_contexts, &data));
    AIO_WAIT_WHILE(ctx, !qatomic_read(&data.done));
    g_assert(data.seen[0] == ctx);
    g_assert(data.seen[1] == t->ctx);
    g_assert(data.seen[2] == ctx);
    iothread_free(t);
}

/*
 * Coroutines in two threads fight over one CoMutex.  The section yields
 * (rescheduling itself) with the lock held, so that lockers of both
 * threads queue up and ownership passes between contexts.
 */
typedef struct {
    CoMutex lock;
    unsigned counter;
    unsigned running;
} ContentionData;

#define CONTENTION_COROUTINES 4
#define CONTENTION_ITERATIONS 500

static void coroutine_fn contend(void *opaque)
{
    ContentionData *cd = opaque;
    int i;

    for (i = 0; i < CONTENTION_ITERATIONS; i++) {
        unsigned v;

        qemu_co_mutex_lock(&cd->lock);
        v = cd->counter;
        aio_co_schedule(qemu_get_current_aio_context(),
                        qemu_coroutine_self());
        qemu_coroutine_yield();
        cd->counter = v + 1;
        qemu_co_mutex_unlock(&cd->lock);
    }
    qatomic_dec(&cd->running);
    aio_wait_kick();
}

static void start_contenders(void *opaque)
{
    ContentionData *cd = opaque;
    int i;

    for (i = 0; i < CONTENTION_COROUTINES; i++) {
        aio_co_enter(qemu_get_current_aio_context(),
                     qemu_coroutine_create(contend, cd));
    }
}

static void test_multithread_co_mutex(void)
{
    TestIOThread *t = iothread_new();
    ContentionData cd = { .running = 2 * CONTENTION_COROUTINES };

    qemu_co_mutex_init(&cd.lock);
    aio_bh_schedule_oneshot(t->ctx, start_contenders, &cd);
    start_contenders(&cd);
    AIO_WAIT_WHILE(ctx, qatomic_read(&cd.running) > 0);

    g_assert_cmpuint(cd.counter, ==,
                     2 * CONTENTION_COROUTINES * CONTENTION_ITERATIONS);
    g_assert_cmpuint(cd.lock.locked, ==, 0);
    iothread_free(t);
}

/* ---- AIO_WAIT_WHILE ---- */

static void *set_flag_and_kick(void *opaque)
{
    g_usleep(50 * 1000);
    qatomic_set((bool *)opaque, true);
    aio_wait_kick();
    return NULL;
}

static void test_aio_wait_kick(void)
{
    QemuThread thread;
    bool flag = false;

    qemu_thread_create(&thread, "kicker", set_flag_and_kick, &flag,
                       QEMU_THREAD_JOINABLE);
    g_assert(AIO_WAIT_WHILE(ctx, !qatomic_read(&flag)));
    qemu_thread_join(&thread);
    /* Nothing to wait for: returns at once. */
    g_assert(!AIO_WAIT_WHILE(ctx, false));
}

static void note_context_cb(void *opaque)
{
    *(AioContext **)opaque = qemu_get_current_aio_context();
}

static void test_aio_wait_bh_oneshot(void)
{
    TestIOThread *t = iothread_new();
    AioContext *seen = NULL;

    aio_wait_bh_oneshot(ctx, note_context_cb, &seen);
    g_assert(seen == ctx);

    /*
     * Runs in the other thread; we wait on the main context meanwhile,
     * dropping the other context's lock, which callers hold.
     */
    seen = NULL;
    aio_context_acquire(t->ctx);
    aio_wait_bh_oneshot(t->ctx, note_context_cb, &seen);
    aio_context_release(t->ctx);
    g_assert(seen == t->ctx);
    iothread_free(t);
}

/* ---- Main loop and GSource ---- */

static void test_main_loop_iohandler(void)
{
    PipeData p;

    aio_flush();
    pipe_open(&p);
    qemu_set_fd_handler(p.fds[0], pipe_read_cb, NULL, &p);
    g_assert_cmpint(write(p.fds[1], "x", 1), ==, 1);

    /* Not part of the main AioContext's nested polling... */
    g_assert(!aio_poll(ctx, false));
    g_assert_cmpint(p.reads, ==, 0);

    /* ...only of the main loop. */
    while (p.reads == 0) {
        main_loop_wait(false);
    }
    g_assert_cmpint(p.reads, ==, 1);
    qemu_set_fd_handler(p.fds[0], NULL, NULL, NULL);
    pipe_close(&p);
}

static void gsource_flush(void)
{
    while (g_main_context_iteration(NULL, false)) {
        /* nothing */
    }
}

static void test_source_bh_schedule10(void)
{
    BHTestData data = { .n = 0, .max = 10 };

    gsource_flush();
    data.bh = aio_bh_new(ctx, bh_test_cb, &data);
    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    g_assert(g_main_context_iteration(NULL, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert(g_main_context_iteration(NULL, true));
    g_assert_cmpint(data.n, ==, 2);

    while (data.n < 10) {
        g_main_context_iteration(NULL, true);
    }
    g_assert_cmpint(data.n, ==, 10);
    g_assert(!g_main_context_iteration(NULL, false));
    qemu_bh_delete(data.bh);
    gsource_flush();
}

static void test_source_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 10, .auto_set = true };

    event_notifier_init(&data.e, false);
    set_event_notifier(&data.e, event_ready_cb);
    gsource_flush();
    g_assert_cmpint(data.n, ==, 0);

    event_notifier_set(&data.e);
    g_assert(g_main_context_iteration(NULL, true));
    g_assert_cmpint(data.n, ==, 1);
    while (data.active) {
        g_main_context_iteration(NULL, true);
    }
    g_assert_cmpint(data.n, ==, 10);

    set_event_notifier(&data.e, NULL);
    gsource_flush();
    event_notifier_cleanup(&data.e);
}

static void test_source_timer(void)
{
    TimerTestData data = {
        .n = 0, .ctx = ctx, .ns = 50 * SCALE_MS, .max = 2,
        .clock_type = QEMU_CLOCK_VIRTUAL,
    };
    int64_t start = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

    gsource_flush();
    aio_timer_init(ctx, &data.timer, data.clock_type, SCALE_NS,
                   timer_test_cb, &data);
    timer_mod(&data.timer, start + data.ns);
    gsource_flush();
    g_assert_cmpint(data.n, ==, 0);

    /* glib sleeps until the deadline and then dispatches the timer. */
    while (data.n < 2) {
        g_main_context_iteration(NULL, true);
    }
    g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) - start, >=,
                    2 * data.ns);
    g_assert(!timer_pending(&data.timer));
    gsource_flush();
}

static void test_source_fd_handler(void)
{
    PipeData p;

    pipe_open(&p);
    aio_set_fd_handler(ctx, p.fds[0], false, pipe_read_cb, NULL, NULL, NULL,
                       &p);
    gsource_flush();
    g_assert_cmpint(write(p.fds[1], "x", 1), ==, 1);
    while (p.reads == 0) {
        g_main_context_iteration(NULL, true);
    }
    g_assert_cmpint(p.reads, ==, 1);
    aio_set_fd_handler(ctx, p.fds[0], false, NULL, NULL, NULL, NULL, NULL);
    gsource_flush();
    pipe_close(&p);
}

/* A private context driven only by its own GMainContext. */
static void test_source_private_context(void)
{
    g_autoptr(GMainContext) gctx = g_main_context_new();
    AioContext *actx = aio_context_new(&error_abort);
    GSource *src = aio_get_g_source(actx);
    BHTestData data = { .n = 0 };

    g_source_attach(src, gctx);
    g_source_unref(src);

    data.bh = aio_bh_new(actx, bh_test_cb, &data);
    qemu_bh_schedule(data.bh);
    g_assert(g_main_context_iteration(gctx, true));
    g_assert_cmpint(data.n, ==, 1);
    qemu_bh_delete(data.bh);
    while (g_main_context_iteration(gctx, false)) {
        /* free the deleted BH */
    }

    g_source_destroy(src);
    aio_context_unref(actx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_fatal);
    ctx = qemu_get_aio_context();

    g_test_add_func("/aio/acquire", test_acquire);
    g_test_add_func("/aio/notify", test_notify);
    g_test_add_func("/aio/bh/schedule", test_bh_schedule);
    g_test_add_func("/aio/bh/schedule10", test_bh_schedule10);
    g_test_add_func("/aio/bh/cancel", test_bh_cancel);
    g_test_add_func("/aio/bh/delete", test_bh_delete);
    g_test_add_func("/aio/bh/callback-delete/one", test_bh_delete_from_cb);
    g_test_add_func("/aio/bh/callback-delete/many",
                    test_bh_delete_from_cb_many);
    g_test_add_func("/aio/bh/flush", test_bh_flush);
    g_test_add_func("/aio/bh/order", test_bh_order);
    g_test_add_func("/aio/bh/nested-poll", test_bh_nested_poll);
    g_test_add_func("/aio/bh/idle", test_bh_idle);
    g_test_add_func("/aio/bh/from-thread", test_bh_from_thread);
    g_test_add_func("/aio/event/add-remove", test_set_event_notifier);
    g_test_add_func("/aio/event/wait", test_wait_event_notifier);
    g_test_add_func("/aio/event/wait/no-flush-cb",
                    test_wait_event_notifier_noflush);
    g_test_add_func("/aio/event/flush", test_flush_event_notifier);
    g_test_add_func("/aio/external-client", test_aio_external_client);
    g_test_add_func("/aio/external-client/blocking",
                    test_aio_external_blocking);
    g_test_add_func("/aio/fd-handler", test_fd_handler);
    g_test_add_func("/aio/fd-handler/delete-in-dispatch",
                    test_fd_handler_delete_in_dispatch);
    g_test_add_func("/aio/fd-handler/regular-file",
                    test_fd_handler_regular_file);
    g_test_add_func("/aio/poll-mode", test_poll_mode);
    g_test_add_func("/aio/timer/schedule", test_timer_schedule);
    g_test_add_func("/aio/timer/order", test_timer_order);
    g_test_add_func("/aio/timer/anticipate", test_timer_anticipate);
    g_test_add_func("/aio/timer/resolution", test_timer_resolution);
    g_test_add_func("/aio/timer/deadline-race", test_timer_deadline_race);
    g_test_add_func("/aio/timer/clocks", test_clocks);
    g_test_add_func("/aio/coroutine/queue-chaining", test_queue_chaining);
    g_test_add_func("/aio/coroutine/schedule-fifo", test_co_schedule_fifo);
    g_test_add_func("/aio/coroutine/worker-thread-co-enter",
                    test_worker_thread_co_enter);
    g_test_add_func("/aio/coroutine/reschedule-self",
                    test_co_reschedule_self);
    g_test_add_func("/aio/coroutine/multithread-co-mutex",
                    test_multithread_co_mutex);
    g_test_add_func("/aio/wait/kick", test_aio_wait_kick);
    g_test_add_func("/aio/wait/bh-oneshot", test_aio_wait_bh_oneshot);
    g_test_add_func("/aio/main-loop/iohandler", test_main_loop_iohandler);
    g_test_add_func("/aio-gsource/bh/schedule10", test_source_bh_schedule10);
    g_test_add_func("/aio-gsource/event", test_source_event_notifier);
    g_test_add_func("/aio-gsource/timer", test_source_timer);
    g_test_add_func("/aio-gsource/fd-handler", test_source_fd_handler);
    g_test_add_func("/aio-gsource/private-context",
                    test_source_private_context);

    return g_test_run();
}
