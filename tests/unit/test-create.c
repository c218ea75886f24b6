/*
 * Unit tests for image creation (block/create.c): bdrv_img_create, which
 * is "qemu-img create" minus the command line, bdrv_create,
 * bdrv_create_file and the generic fallback for protocols.
 *
 * Expected output and messages are QEMU 7.2's; the qemu-img command that
 * shows each one is quoted next to the check.  A small test format
 * ("testcow") stands in for qcow2 where a format with backing files is
 * needed: like qcow2 it lists size, backing_file and backing_fmt in its
 * creation options, in that order.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "test-helpers.h"

/* The directory is shared with g_test_trap_subprocess children. */
#define TEST_DIR_ENV "QBLOCK_TEST_CREATE_DIR"

static char *tmp_dir;

static char *path(const char *name)
{
    return g_build_filename(tmp_dir, name, NULL);
}

static int64_t file_size(const char *name)
{
    g_autofree char *p = path(name);
    struct stat st;

    g_assert_cmpint(stat(p, &st), ==, 0);
    return st.st_size;
}

/* ---- A format with backing files ---- */

static QemuOptsList testcow_create_opts = {
    .name = "testcow-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(testcow_create_opts.head),
    .desc = {
        { .name = BLOCK_OPT_SIZE, .type = QEMU_OPT_SIZE,
          .help = "Virtual disk size" },
        { .name = BLOCK_OPT_BACKING_FILE, .type = QEMU_OPT_STRING,
          .help = "File name of a base image" },
        { .name = BLOCK_OPT_BACKING_FMT, .type = QEMU_OPT_STRING,
          .help = "Image format of the base image" },
        { /* end of list */ }
    },
};

/* Create just the protocol file, as a format driver would first do. */
static int coroutine_fn testcow_co_create_opts(BlockDriver *drv,
                                               const char *filename,
                                               QemuOpts *opts, Error **errp)
{
    g_free(qemu_opt_get_del(opts, BLOCK_OPT_BACKING_FILE));
    g_free(qemu_opt_get_del(opts, BLOCK_OPT_BACKING_FMT));
    return bdrv_co_create_file(filename, opts, errp);
}

static BlockDriver bdrv_testcow = {
    .format_name            = "testcow",
    .is_format              = true,
    .supports_backing       = true,
    .create_opts            = &testcow_create_opts,
    .bdrv_co_create_opts    = testcow_co_create_opts,
};

/* ---- Helpers ---- */

/* bdrv_img_create, quiet; the error message or NULL on success. */
static char *img_create(const char *fmt, const char *name,
                        const char *base, const char *base_fmt,
                        const char *options, uint64_t size, int flags)
{
    g_autofree char *filename = name[0] == '/' || strchr(name, ':') ?
                                g_strdup(name) : path(name);
    g_autofree char *opts = g_strdup(options);
    Error *err = NULL;
    char *msg;

    bdrv_img_create(filename, fmt, base, base_fmt, opts, size, flags, true,
                    &err);
    if (!err) {
        return NULL;
    }
    msg = g_strdup(error_get_pretty(err));
    error_free(err);
    return msg;
}

static void assert_img_create_fails(const char *fmt, const char *name,
                                    const char *base, const char *base_fmt,
                                    const char *options, uint64_t size,
                                    int flags, const char *expected)
{
    g_autofree char *msg = img_create(fmt, name, base, base_fmt, options,
                                      size, flags);

    g_assert_cmpstr(msg, ==, expected);
}

static void make_base(const char *name, int64_t size)
{
    g_autofree char *p = path(name);
    int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
}

/* ---- The "Formatting" line ---- */

static void formatting_output(void)
{
    g_autofree char *a = path("a.raw");
    g_autofree char *b = path("b.raw");
    g_autofree char *c = path("c.raw");
    g_autofree char *d = path("d.cow");
    g_autofree char *e = path("e.cow");
    g_autofree char *f = path("f.raw");
    g_autofree char *base = path("base.raw");
    g_autofree char *comma_base = path("ba,se.raw");
    g_autofree char *opts_b = g_strdup("preallocation=full");
    g_autofree char *opts_c = g_strdup("size=1M,size=2M");
    g_autofree char *opts_f = g_strdup("preallocation=foo");
    Error *err = NULL;

    /* qemu-img create -f raw a.raw 1M */
    bdrv_img_create(a, "raw", NULL, NULL, NULL, 1048576, 0, false,
                    &error_abort);
    /* qemu-img create -f raw -o preallocation=full b.raw 1M */
    bdrv_img_create(b, "raw", NULL, NULL, opts_b, 1048576, 0, false,
                    &error_abort);
    /* qemu-img create -f raw -o size=1M,size=2M c.raw */
    bdrv_img_create(c, "raw", NULL, NULL, opts_c, UINT64_C(-1), 0, false,
                    &error_abort);
    /*
     * qemu-img create -f qcow2 -b base.raw -F raw x.qcow2: the size comes
     * from the backing file (3 MiB), printed in the format's option order.
     */
    bdrv_img_create(d, "testcow", base, "raw", NULL, UINT64_C(-1), 0, false,
                    &error_abort);
    /* Commas in values are doubled, as in -o syntax. */
    bdrv_img_create(e, "testcow", comma_base, "raw", NULL, UINT64_C(-1), 0,
                    false, &error_abort);
    /* quiet: nothing printed (qemu-img create -q) */
    bdrv_img_create(a, "raw", NULL, NULL, NULL, 512, 0, true, &error_abort);
    /*
     * qemu-img create -f raw -o preallocation=foo f.raw 1M: the line is
     * printed before the protocol driver rejects the value.
     */
    bdrv_img_create(f, "raw", NULL, NULL, opts_f, 1048576, 0, false, &err);
    g_assert_cmpstr(error_get_pretty(err), ==, "invalid parameter value: foo");
    error_free(err);
}

static void test_formatting(void)
{
    g_autofree char *expected = NULL;
    struct stat st;

    make_base("base.raw", 3 * 1024 * 1024);
    make_base("ba,se.raw", 512);

    if (g_test_subprocess()) {
        formatting_output();
        return;
    }

    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    expected = g_strdup_printf(
        "Formatting '%1$s/a.raw', fmt=raw size=1048576\n"
        "Formatting '%1$s/b.raw', fmt=raw size=1048576 preallocation=full\n"
        "Formatting '%1$s/c.raw', fmt=raw size=2097152\n"
        "Formatting '%1$s/d.cow', fmt=testcow size=3145728 "
        "backing_file=%1$s/base.raw backing_fmt=raw\n"
        "Formatting '%1$s/e.cow', fmt=testcow size=512 "
        "backing_file=%1$s/ba,,se.raw backing_fmt=raw\n"
        "Formatting '%1$s/f.raw', fmt=raw size=1048576 preallocation=foo\n",
        tmp_dir);
    g_test_trap_assert_stdout(expected);

    /* The images themselves (the quiet run made a.raw 512 bytes). */
    g_assert_cmpint(file_size("a.raw"), ==, 512);
    g_assert_cmpint(file_size("b.raw"), ==, 1048576);
    g_assert_cmpint(file_size("c.raw"), ==, 2097152);
    g_assert_cmpint(file_size("d.cow"), ==, 3 * 1024 * 1024);
    {
        g_autofree char *b = path("b.raw");

        /* preallocation=full wrote every block. */
        g_assert_cmpint(stat(b, &st), ==, 0);
        g_assert_cmpint((int64_t)st.st_blocks * 512, >=, 1048576);
    }
}

/* ---- Errors ---- */

static void test_errors(void)
{
    g_autofree char *big = NULL;

    /* qemu-img create -f foo z 1M */
    assert_img_create_fails("foo", "z", NULL, NULL, NULL, 1048576, 0,
                            "Unknown file format 'foo'");
    /* qemu-img create -f raw foo:bar 1M */
    assert_img_create_fails("raw", "foo:bar", NULL, NULL, NULL, 1048576, 0,
                            "Unknown protocol 'foo'");
    /* qemu-img create -f blkdebug x 1M */
    assert_img_create_fails("blkdebug", "x", NULL, NULL, NULL, 1048576, 0,
                            "Format driver 'blkdebug' does not support "
                            "image creation");
    /* qemu-img create -f raw blkdebug::x 1M */
    assert_img_create_fails("raw", "blkdebug::x", NULL, NULL, NULL, 1048576,
                            0, "Protocol driver 'blkdebug' does not support "
                            "image creation");
    /* qemu-img create -f raw z */
    assert_img_create_fails("raw", "z", NULL, NULL, NULL, UINT64_C(-1), 0,
                            "Image creation needs a size parameter");
    /* qemu-img create -f raw -o size=1M z 2M */
    assert_img_create_fails("raw", "z", NULL, NULL, "size=1M", 2097152, 0,
                            "The image size must be specified only once");
    /* qemu-img create -f raw -o size=18446744073709551615 z */
    assert_img_create_fails("raw", "z", NULL, NULL,
                            "size=18446744073709551615", UINT64_C(-1), 0,
                            "Image creation needs a size parameter");
    /* qemu-img create -f raw -o size=18446744073709551616 z */
    assert_img_create_fails("raw", "z", NULL, NULL,
                            "size=18446744073709551616", UINT64_C(-1), 0,
                            "Value '18446744073709551616' is out of range "
                            "for parameter 'size'");
    /* qemu-img create -f raw -o size=abc z */
    assert_img_create_fails("raw", "z", NULL, NULL, "size=abc", UINT64_C(-1),
                            0, "Parameter 'size' expects a non-negative "
                            "number below 2^64");
    /* qemu-img create -f raw -o foo=bar z 1M */
    assert_img_create_fails("raw", "z", NULL, NULL, "foo=bar", 1048576, 0,
                            "Invalid parameter 'foo'");
    /* qemu-img create -f raw -o nocow=maybe z 1M */
    assert_img_create_fails("raw", "z", NULL, NULL, "nocow=maybe", 1048576, 0,
                            "Parameter 'nocow' expects 'on' or 'off'");
    /* qemu-img create -f raw -b base.qcow2 r.raw 1M */
    assert_img_create_fails("raw", "z", "base.raw", NULL, NULL, 1048576, 0,
                            "Backing file not supported for file format "
                            "'raw'");
    /* qemu-img create -f raw -F qcow2 r.raw 1M */
    assert_img_create_fails("raw", "z", NULL, "qcow2", NULL, 1048576, 0,
                            "Backing file format not supported for file "
                            "format 'raw'");
    /* qemu-img create -f raw -o preallocation=metadata r.raw 1M */
    assert_img_create_fails("raw", "z", NULL, NULL, "preallocation=metadata",
                            1048576, 0,
                            "Unsupported preallocation mode: metadata");
    /* qemu-img create -f raw /nonexistent/x 1M */
    assert_img_create_fails("raw", "/nonexistent/x", NULL, NULL, NULL,
                            1048576, 0, "Could not create '/nonexistent/x': "
                            "No such file or directory");
    /* qemu-img create -f raw /tmp/q/big 1E (ext4: EFBIG) */
    assert_img_create_fails("raw", "big", NULL, NULL, NULL,
                            UINT64_C(1) << 60, 0,
                            "The image size is too large for file format "
                            "'raw'");
    big = path("big");
    unlink(big);
}

static void test_backing_errors(void)
{
    g_autofree char *self = path("self.cow");

    make_base("base.raw", 3 * 1024 * 1024);

    /* qemu-img create -f qcow2 -b x.qcow2 -F qcow2 x.qcow2 1M */
    assert_img_create_fails("testcow", "self.cow", self, "raw", NULL, 1048576,
                            0, "Error: Trying to create an image with the "
                            "same filename as the backing file");
    /* qemu-img create -f qcow2 -o backing_file= x.qcow2 1M */
    assert_img_create_fails("testcow", "x.cow", NULL, NULL, "backing_file=",
                            1048576, 0, "Expected backing file name, got "
                            "empty string");
    /* qemu-img create -f qcow2 -u -b nonexist.qcow2 x.qcow2 1M */
    assert_img_create_fails("testcow", "x.cow", "nonexist", NULL, NULL,
                            1048576, BDRV_O_NO_BACKING,
                            "Backing file specified without backing format");
    /* qemu-img create -f qcow2 -u -b nonexist.qcow2 -F qcow2 x.qcow2 */
    assert_img_create_fails("testcow", "x.cow", "nonexist", "raw", NULL,
                            UINT64_C(-1), BDRV_O_NO_BACKING,
                            "Image creation needs a size parameter");
    /* ... with a size it works without touching the backing file. */
    g_assert_null(img_create("testcow", "x.cow", "nonexist", "raw", NULL,
                             1048576, BDRV_O_NO_BACKING));
    g_assert_cmpint(file_size("x.cow"), ==, 1048576);

    /*
     * Relative backing names are resolved against the new image's
     * directory: qemu-img create -f qcow2 -b ../base.raw -F raw
     * sub/y.qcow2 works.
     */
    {
        g_autofree char *sub = path("sub");

        g_assert_cmpint(g_mkdir_with_parents(sub, 0755), ==, 0);
        g_assert_null(img_create("testcow", "sub/y.cow", "../base.raw", "raw",
                                 NULL, UINT64_C(-1), 0));
        g_assert_cmpint(file_size("sub/y.cow"), ==, 3 * 1024 * 1024);
    }
}

/* Errors with hints, printed as qemu-img prints them. */
static void backing_hint_output(void)
{
    g_autofree char *x = path("x.cow");
    g_autofree char *sub_z = path("sub/z.cow");
    Error *err = NULL;

    error_init("qemu-img");

    /* qemu-img create -f qcow2 -b base.qcow2 x.qcow2 (no -F) */
    bdrv_img_create(x, "testcow", "base.raw", NULL, NULL, UINT64_C(-1), 0,
                    true, &err);
    error_report_err(err);
    err = NULL;
    /* qemu-img create -f qcow2 -b base.raw -F qcow2 sub/z.qcow2 */
    bdrv_img_create(sub_z, "testcow", "base.raw", "raw", NULL, UINT64_C(-1),
                    0, true, &err);
    error_report_err(err);
    err = NULL;
    /* qemu-img create -f qcow2 -b base.raw -F foo z.qcow2 */
    bdrv_img_create(x, "testcow", "base.raw", "foo", NULL, UINT64_C(-1), 0,
                    true, &err);
    error_report_err(err);
}

static void test_backing_hints(void)
{
    g_autofree char *expected = NULL;
    g_autofree char *sub = path("sub");

    make_base("base.raw", 3 * 1024 * 1024);
    g_assert_cmpint(g_mkdir_with_parents(sub, 0755), ==, 0);

    if (g_test_subprocess()) {
        backing_hint_output();
        return;
    }

    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    /* The first hint has no trailing newline, exactly as QEMU's. */
    expected = g_strdup_printf(
        "qemu-img: Backing file specified without backing format\n"
        "Detected format of raw."
        "qemu-img: Could not open '%s/sub/base.raw': No such file or "
        "directory\n"
        "Could not open backing image.\n"
        "qemu-img: Unknown driver 'foo'\n"
        "Could not open backing image.\n", tmp_dir);
    g_test_trap_assert_stderr(expected);
}

/* ---- bdrv_create / bdrv_create_file ---- */

static void test_bdrv_create(void)
{
    BlockDriver *blkdebug = bdrv_find_format("blkdebug");
    BlockDriver *raw = bdrv_find_format("raw");
    g_autofree char *p = path("created.raw");
    Error *err = NULL;
    QemuOpts *opts;

    g_assert_nonnull(blkdebug);
    g_assert_nonnull(raw);

    opts = qemu_opts_create(raw->create_opts, NULL, 0, &error_abort);
    qemu_opt_set(opts, BLOCK_OPT_SIZE, "4096", &error_abort);

    g_assert_cmpint(bdrv_create(blkdebug, p, opts, &err), ==, -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Driver 'blkdebug' does not support image creation");
    error_free(err);
    err = NULL;

    g_assert_cmpint(bdrv_create(raw, p, opts, &error_abort), ==, 0);
    g_assert_cmpint(file_size("created.raw"), ==, 4096);
    qemu_opts_del(opts);

    /* The protocol file alone; a size of 1000 rounds up to a sector. */
    opts = qemu_opts_create(raw->create_opts, NULL, 0, &error_abort);
    qemu_opt_set(opts, BLOCK_OPT_SIZE, "1000", &error_abort);
    g_assert_cmpint(bdrv_create_file(p, opts, &error_abort), ==, 0);
    g_assert_cmpint(file_size("created.raw"), ==, 1024);

    g_assert_cmpint(bdrv_create_file("blkdebug::x", opts, &err), ==,
                    -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Driver 'blkdebug' does not support image creation");
    error_free(err);
    err = NULL;

    g_assert_cmpint(bdrv_create_file("foo:bar", opts, &err), ==, -ENOENT);
    g_assert_cmpstr(error_get_pretty(err), ==, "Unknown protocol 'foo'");
    error_free(err);
    err = NULL;
    qemu_opts_del(opts);

    /*
     * The protocol only gets options it knows: a format that forgot to
     * take its own out makes creation fail.
     */
    opts = qemu_opts_create(&testcow_create_opts, NULL, 0, &error_abort);
    qemu_opt_set(opts, BLOCK_OPT_SIZE, "4096", &error_abort);
    qemu_opt_set(opts, BLOCK_OPT_BACKING_FILE, "base", &error_abort);
    g_assert_cmpint(bdrv_create_file(p, opts, &err), ==, -EINVAL);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Invalid parameter 'backing_file'");
    error_free(err);
    qemu_opts_del(opts);
}

/* ---- The fallback for protocols that only open existing storage ---- */

static int simple_create(BlockDriver *drv, const char *filename,
                         const char *size, const char *prealloc, char **msg)
{
    QemuOpts *opts = qemu_opts_create(&bdrv_create_opts_simple, NULL, 0,
                                      &error_abort);
    Error *err = NULL;
    int ret;

    qemu_opt_set(opts, BLOCK_OPT_SIZE, size, &error_abort);
    if (prealloc) {
        qemu_opt_set(opts, BLOCK_OPT_PREALLOC, prealloc, &error_abort);
    }
    ret = bdrv_create(drv, filename, opts, &err);
    *msg = err ? g_strdup(error_get_pretty(err)) : NULL;
    error_free(err);
    qemu_opts_del(opts);
    return ret;
}

static void test_create_simple(void)
{
    BlockDriver file_simple, null_simple;
    g_autofree char *p = path("simple.img");
    g_autofree uint8_t *buf = g_malloc(8192);
    g_autofree uint8_t *pattern = g_malloc(4096);
    char *msg;
    int fd;

    /* The file driver, but creating through the generic fallback. */
    file_simple = bdrv_file;
    file_simple.create_opts = &bdrv_create_opts_simple;
    file_simple.bdrv_co_create_opts = bdrv_co_create_opts_simple;

    /*
     * Existing data: the fallback resizes to the requested size, zeroes
     * the first sector (stale headers) and leaves the rest alone.
     */
    memset(pattern, 0xab, 4096);
    g_assert_true(g_file_set_contents(p, (char *)pattern, 4096, NULL));
    g_assert_cmpint(simple_create(&file_simple, p, "8192", NULL, &msg), ==, 0);
    g_assert_null(msg);
    g_assert_cmpint(file_size("simple.img"), ==, 8192);
    fd = open(p, O_RDONLY);
    g_assert_cmpint(pread(fd, buf, 8192, 0), ==, 8192);
    close(fd);
    g_assert_true(buffer_is_zero(buf, 512));
    g_assert_cmpmem(buf + 512, 4096 - 512, pattern, 4096 - 512);
    g_assert_true(buffer_is_zero(buf + 4096, 4096));

    /* Preallocation: only "off" exists for the fallback. */
    g_assert_cmpint(simple_create(&file_simple, p, "8192", "full", &msg), ==,
                    -ENOTSUP);
    g_assert_cmpstr(msg, ==, "Unsupported preallocation mode 'full'");
    g_free(msg);
    g_assert_cmpint(simple_create(&file_simple, p, "8192", "foo", &msg), ==,
                    -EINVAL);
    g_assert_cmpstr(msg, ==, "invalid parameter value: foo");
    g_free(msg);
    g_assert_cmpint(simple_create(&file_simple, p, "8192", "off", &msg), ==,
                    0);
    g_assert_null(msg);

    /*
     * null-co cannot be resized: enough room (1 GiB) is fine, more is
     * not, and the failed resize explains why.
     */
    null_simple = *bdrv_find_format("null-co");
    null_simple.create_opts = &bdrv_create_opts_simple;
    null_simple.bdrv_co_create_opts = bdrv_co_create_opts_simple;
    g_assert_cmpint(simple_create(&null_simple, "null-co://", "1M", NULL,
                                  &msg), ==, 0);
    g_assert_null(msg);
    g_assert_cmpint(simple_create(&null_simple, "null-co://", "2G", NULL,
                                  &msg), ==, -ENOTSUP);
    g_assert_cmpstr(msg, ==, "Image format driver does not support resize");
    g_free(msg);

    /* Storage that cannot be opened. */
    g_assert_cmpint(simple_create(&file_simple, "/nonexistent/x", "1M", NULL,
                                  &msg), ==, -EINVAL);
    g_assert_cmpstr(msg, ==, "Protocol driver 'file' does not support image "
                    "creation, and opening the image failed: Could not open "
                    "'/nonexistent/x': No such file or directory");
    g_free(msg);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();
    bdrv_register(&bdrv_testcow);

    tmp_dir = test_tmp_dir(TEST_DIR_ENV, "test-create-XXXXXX");

    g_test_add_func("/create/formatting", test_formatting);
    g_test_add_func("/create/errors", test_errors);
    g_test_add_func("/create/backing-errors", test_backing_errors);
    g_test_add_func("/create/backing-hints", test_backing_hints);
    g_test_add_func("/create/bdrv-create", test_bdrv_create);
    g_test_add_func("/create/simple", test_create_simple);

    ret = g_test_run();

    if (!g_test_subprocess()) {
        test_remove_tree(tmp_dir);
    }
    g_free(tmp_dir);
    return ret;
}
