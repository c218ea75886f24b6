/*
 * The aio=native (linux-aio.c) and aio=io_uring (io_uring.c) engines on
 * their own: data round trips, zero-filled short reads, kernel errors,
 * batching while plugged, many requests, sharing per AioContext.
 *
 * The expectations come from the kernel interfaces (what O_DIRECT accepts,
 * what a read past the end of a file returns) and from QEMU's documented
 * engine behaviour, not from our own output.
 */
#include "qemu/osdep.h"
#include "block/raw-aio.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

#define ALIGN 4096

typedef enum {
    ENGINE_NATIVE,
    ENGINE_IO_URING,
} Engine;

typedef struct Fixture {
    Engine engine;
    char *dir;
    char *path;
    int fd;
    LinuxAioState *laio;
#ifdef CONFIG_LINUX_IO_URING
    LuringState *luring;
#endif
} Fixture;

/* One request, run in its own coroutine. */
typedef struct Req {
    Fixture *f;
    int type;
    int fd;
    uint64_t offset;
    QEMUIOVector qiov;
    int ret;
    bool done;
} Req;

static void coroutine_fn req_entry(void *opaque)
{
    Req *r = opaque;

    if (r->f->engine == ENGINE_NATIVE) {
        r->ret = laio_co_submit(NULL, r->f->laio, r->fd, r->offset, &r->qiov,
                                r->type, 0);
    } else {
#ifdef CONFIG_LINUX_IO_URING
        r->ret = luring_co_submit(NULL, r->f->luring, r->fd, r->offset,
                                  r->type == QEMU_AIO_FLUSH ? NULL : &r->qiov,
                                  r->type);
#endif
    }
    r->done = true;
}

static void req_start(Fixture *f, Req *r, int type, uint64_t offset,
                      void *buf, size_t len)
{
    *r = (Req) { .f = f, .type = type, .fd = f->fd, .offset = offset };
    qemu_iovec_init_buf(&r->qiov, buf, len);
    qemu_coroutine_enter(qemu_coroutine_create(req_entry, r));
}

static void req_wait(Req *r)
{
    while (!r->done) {
        aio_poll(qemu_get_aio_context(), true);
    }
}

static int run(Fixture *f, int type, uint64_t offset, void *buf, size_t len)
{
    Req r;

    req_start(f, &r, type, offset, buf, len);
    req_wait(&r);
    return r.ret;
}

static void plug(Fixture *f)
{
    if (f->engine == ENGINE_NATIVE) {
        laio_io_plug(NULL, f->laio);
    } else {
#ifdef CONFIG_LINUX_IO_URING
        luring_io_plug(NULL, f->luring);
#endif
    }
}

static void unplug(Fixture *f)
{
    if (f->engine == ENGINE_NATIVE) {
        laio_io_unplug(NULL, f->laio, 0);
    } else {
#ifdef CONFIG_LINUX_IO_URING
        luring_io_unplug(NULL, f->luring);
#endif
    }
}

/* Returns false (test skipped) where the host can't do it. */
static bool fixture_setup(Fixture *f, Engine engine, int file_size,
                          bool direct)
{
    g_autoptr(GError) gerr = NULL;
    Error *err = NULL;

    *f = (Fixture) { .engine = engine, .fd = -1 };
    f->dir = g_dir_make_tmp("test-raw-aio-XXXXXX", &gerr);
    g_assert_no_error(gerr);
    f->path = g_build_filename(f->dir, "img", NULL);

    f->fd = open(f->path, O_RDWR | O_CREAT | (direct ? O_DIRECT : 0), 0600);
    if (f->fd < 0 && errno == EINVAL) {
        g_test_skip("O_DIRECT not supported by the temporary directory");
        return false;
    }
    g_assert_cmpint(f->fd, >=, 0);
    g_assert_cmpint(ftruncate(f->fd, file_size), ==, 0);

    if (engine == ENGINE_NATIVE) {
        f->laio = laio_get(qemu_get_aio_context(), &err);
        g_assert_null(err);
        g_assert_nonnull(f->laio);
    } else {
#ifdef CONFIG_LINUX_IO_URING
        f->luring = luring_get(qemu_get_aio_context(), &err);
        if (!f->luring) {
            /* Sandboxes may forbid io_uring_setup. */
            error_free(err);
            g_test_skip("io_uring not available");
            return false;
        }
#endif
    }
    return true;
}

static void fixture_teardown(Fixture *f)
{
    if (f->laio) {
        laio_put(f->laio);
    }
#ifdef CONFIG_LINUX_IO_URING
    if (f->luring) {
        luring_put(f->luring);
    }
#endif
    if (f->fd >= 0) {
        close(f->fd);
    }
    if (f->path) {
        unlink(f->path);
        rmdir(f->dir);
    }
    g_free(f->path);
    g_free(f->dir);
}

/* Writes land in the file; reads return what pwrite/pread see. */
static void test_rw(gconstpointer opaque)
{
    Engine engine = GPOINTER_TO_INT(opaque);
    g_autoptr(void) wbuf = qemu_memalign(ALIGN, 64 * 1024);
    g_autoptr(void) rbuf = qemu_memalign(ALIGN, 64 * 1024);
    g_autofree char *check = g_malloc(64 * 1024);
    Fixture f;

    if (!fixture_setup(&f, engine, 1024 * 1024, true)) {
        fixture_teardown(&f);
        return;
    }

    for (int i = 0; i < 64 * 1024; i++) {
        ((uint8_t *)wbuf)[i] = i * 7 + 3;
    }
    g_assert_cmpint(run(&f, QEMU_AIO_WRITE, 128 * 1024, wbuf, 64 * 1024),
                    ==, 0);

    /* Independent check through a buffered descriptor. */
    {
        int fd = open(f.path, O_RDONLY);
        g_assert_cmpint(pread(fd, check, 64 * 1024, 128 * 1024), ==,
                        64 * 1024);
        close(fd);
    }
    g_assert_cmpmem(check, 64 * 1024, wbuf, 64 * 1024);

    memset(rbuf, 0xaa, 64 * 1024);
    g_assert_cmpint(run(&f, QEMU_AIO_READ, 128 * 1024, rbuf, 64 * 1024),
                    ==, 0);
    g_assert_cmpmem(rbuf, 64 * 1024, wbuf, 64 * 1024);

    /* Unwritten parts of the sparse file read as zeroes. */
    memset(rbuf, 0xaa, 4096);
    g_assert_cmpint(run(&f, QEMU_AIO_READ, 0, rbuf, 4096), ==, 0);
    g_assert_true(buffer_is_zero(rbuf, 4096));

    fixture_teardown(&f);
}

/* A read crossing the end of the file: the tail is zero-filled, ret 0. */
static void test_short_read(gconstpointer opaque)
{
    Engine engine = GPOINTER_TO_INT(opaque);
    g_autoptr(void) buf = qemu_memalign(ALIGN, 8192);
    Fixture f;

    if (!fixture_setup(&f, engine, 4096, true)) {
        fixture_teardown(&f);
        return;
    }
    memset(buf, 0x55, 4096);
    g_assert_cmpint(run(&f, QEMU_AIO_WRITE, 0, buf, 4096), ==, 0);

    memset(buf, 0xff, 8192);
    g_assert_cmpint(run(&f, QEMU_AIO_READ, 0, buf, 8192), ==, 0);
    for (int i = 0; i < 4096; i++) {
        g_assert_cmpint(((uint8_t *)buf)[i], ==, 0x55);
    }
    g_assert_true(buffer_is_zero((char *)buf + 4096, 4096));

    /* Entirely beyond the end: all zeroes. */
    memset(buf, 0xff, 8192);
    g_assert_cmpint(run(&f, QEMU_AIO_READ, 65536, buf, 8192), ==, 0);
    g_assert_true(buffer_is_zero(buf, 8192));

    fixture_teardown(&f);
}

/* Errors of the kernel come back as -errno, for the right request. */
static void test_errors(gconstpointer opaque)
{
    Engine engine = GPOINTER_TO_INT(opaque);
    g_autoptr(void) buf = qemu_memalign(ALIGN, 2 * ALIGN);
    Fixture f;
    Req r;

    if (!fixture_setup(&f, engine, 65536, true)) {
        fixture_teardown(&f);
        return;
    }

    /*
     * O_DIRECT refuses a misaligned file offset (on allocated blocks:
     * holes may be read without reaching the device).
     */
    memset(buf, 1, 2 * ALIGN);
    g_assert_cmpint(run(&f, QEMU_AIO_WRITE, 0, buf, 2 * ALIGN), ==, 0);
    g_assert_cmpint(run(&f, QEMU_AIO_READ, 1, buf, 4096), ==, -EINVAL);

    /* A descriptor opened read-only can't be written. */
    {
        int rofd = open(f.path, O_RDONLY | O_DIRECT);

        g_assert_cmpint(rofd, >=, 0);
        r = (Req) { .f = &f, .type = QEMU_AIO_WRITE, .fd = rofd };
        qemu_iovec_init_buf(&r.qiov, buf, 4096);
        qemu_coroutine_enter(qemu_coroutine_create(req_entry, &r));
        req_wait(&r);
        g_assert_cmpint(r.ret, ==, -EBADF);
        close(rofd);
    }

    /* The engine is still usable afterwards. */
    g_assert_cmpint(run(&f, QEMU_AIO_READ, 0, buf, 4096), ==, 0);
    fixture_teardown(&f);
}

/*
 * While plugged, requests wait in the queue (nothing is submitted, so
 * nothing completes however long we poll); unplugging submits them.
 */
static void test_plug(gconstpointer opaque)
{
    Engine engine = GPOINTER_TO_INT(opaque);
    enum { N = 8 };
    g_autoptr(void) buf = qemu_memalign(ALIGN, N * 4096);
    Req reqs[N];
    Fixture f;

    if (!fixture_setup(&f, engine, N * 4096, true)) {
        fixture_teardown(&f);
        return;
    }

    for (int i = 0; i < N * 4096; i++) {
        ((uint8_t *)buf)[i] = i / 4096 + 1;
    }
    plug(&f);
    for (int i = 0; i < N; i++) {
        req_start(&f, &reqs[i], QEMU_AIO_WRITE, i * 4096,
                  (char *)buf + i * 4096, 4096);
    }
    for (int i = 0; i < 20; i++) {
        aio_poll(qemu_get_aio_context(), false);
        g_usleep(1000);
    }
    for (int i = 0; i < N; i++) {
        g_assert_false(reqs[i].done);
    }
    unplug(&f);
    for (int i = 0; i < N; i++) {
        req_wait(&reqs[i]);
        g_assert_cmpint(reqs[i].ret, ==, 0);
    }

    memset(buf, 0, N * 4096);
    g_assert_cmpint(run(&f, QEMU_AIO_READ, 0, buf, N * 4096), ==, 0);
    for (int i = 0; i < N * 4096; i++) {
        g_assert_cmpint(((uint8_t *)buf)[i], ==, i / 4096 + 1);
    }
    fixture_teardown(&f);
}

/* More requests than the io_uring ring / a batch: all complete. */
static void test_many(gconstpointer opaque)
{
    Engine engine = GPOINTER_TO_INT(opaque);
    enum { N = 300 };
    g_autoptr(void) buf = qemu_memalign(ALIGN, N * 512);
    g_autofree Req *reqs = g_new0(Req, N);
    Fixture f;

    if (!fixture_setup(&f, engine, N * 512, true)) {
        fixture_teardown(&f);
        return;
    }

    for (int i = 0; i < N * 512; i++) {
        ((uint8_t *)buf)[i] = i / 512;
    }
    plug(&f);
    for (int i = 0; i < N; i++) {
        req_start(&f, &reqs[i], QEMU_AIO_WRITE, i * 512,
                  (char *)buf + i * 512, 512);
    }
    unplug(&f);
    for (int i = 0; i < N; i++) {
        req_wait(&reqs[i]);
        g_assert_cmpint(reqs[i].ret, ==, 0);
    }
    {
        g_autofree uint8_t *check = g_malloc(N * 512);
        int fd = open(f.path, O_RDONLY);

        g_assert_cmpint(pread(fd, check, N * 512, 0), ==, N * 512);
        close(fd);
        g_assert_cmpmem(check, N * 512, buf, N * 512);
    }
    fixture_teardown(&f);
}

/* One engine per AioContext, shared by its users. */
static void test_shared(gconstpointer opaque)
{
    Engine engine = GPOINTER_TO_INT(opaque);
    Error *err = NULL;

    if (engine == ENGINE_NATIVE) {
        LinuxAioState *a = laio_get(qemu_get_aio_context(), &err);
        LinuxAioState *b = laio_get(qemu_get_aio_context(), &err);

        g_assert_nonnull(a);
        g_assert_true(a == b);
        laio_put(a);
        laio_put(b);
    } else {
#ifdef CONFIG_LINUX_IO_URING
        LuringState *a = luring_get(qemu_get_aio_context(), &err);
        LuringState *b;

        if (!a) {
            error_free(err);
            g_test_skip("io_uring not available");
            return;
        }
        b = luring_get(qemu_get_aio_context(), &err);
        g_assert_true(a == b);
        luring_put(a);
        luring_put(b);
#endif
    }
}

#ifdef CONFIG_LINUX_IO_URING
/* io_uring serves buffered files too, and flushes. */
static void test_uring_buffered(void)
{
    g_autofree char *buf = g_malloc(100000);
    g_autofree char *rbuf = g_malloc(100000 + 1000);
    Fixture f;

    if (!fixture_setup(&f, ENGINE_IO_URING, 0, false)) {
        fixture_teardown(&f);
        return;
    }
    for (int i = 0; i < 100000; i++) {
        buf[i] = i % 251;
    }
    /* Unaligned offset, length and buffer: fine without O_DIRECT. */
    g_assert_cmpint(run(&f, QEMU_AIO_WRITE, 3, buf, 100000), ==, 0);
    g_assert_cmpint(run(&f, QEMU_AIO_FLUSH, 0, NULL, 0), ==, 0);

    memset(rbuf, 0x77, 101000);
    g_assert_cmpint(run(&f, QEMU_AIO_READ, 3, rbuf, 101000), ==, 0);
    g_assert_cmpmem(rbuf, 100000, buf, 100000);
    g_assert_true(buffer_is_zero(rbuf + 100000, 1000));
    fixture_teardown(&f);
}
#endif

static void add_engine_tests(const char *name, Engine engine)
{
    static const struct {
        const char *name;
        GTestDataFunc fn;
    } tests[] = {
        { "rw", test_rw },
        { "short-read", test_short_read },
        { "errors", test_errors },
        { "plug", test_plug },
        { "many", test_many },
        { "shared", test_shared },
    };

    for (size_t i = 0; i < ARRAY_SIZE(tests); i++) {
        g_autofree char *path = g_strdup_printf("/raw-aio/%s/%s", name,
                                                tests[i].name);
        g_test_add_data_func(path, GINT_TO_POINTER(engine), tests[i].fn);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);

    add_engine_tests("native", ENGINE_NATIVE);
#ifdef CONFIG_LINUX_IO_URING
    add_engine_tests("io_uring", ENGINE_IO_URING);
    g_test_add_func("/raw-aio/io_uring/buffered", test_uring_buffered);
#endif
    return g_test_run();
}
