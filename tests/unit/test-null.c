/*
 * null-co and null-aio: sizes, reads that leave the buffer alone (or
 * zero it), latency, block status and the filename/option errors of
 * QEMU 7.2, e.g.
 *   qemu-io -c 'open null-co://foo'
 *   qemu-io: can't open device null-co://foo: The only allowed filename for
 *   this driver is 'null-co://'
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/units.h"
#include "block/block_int.h"
#include "block/block-backend.h"

static const char *const drivers[] = { "null-co", "null-aio" };

static QDict *null_opts(const char *driver, const char *key,
                        const char *value)
{
    QDict *d = qdict_new();

    qdict_put_str(d, "driver", driver);
    if (key) {
        qdict_put_str(d, key, value);
    }
    return d;
}

static BlockBackend *open_blk(const char *driver, const char *key,
                              const char *value)
{
    return blk_new_open(NULL, NULL, null_opts(driver, key, value),
                        BDRV_O_RDWR, &error_abort);
}

static void test_size(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
        g_autofree char *name = g_strdup_printf("%s://", drivers[i]);
        BlockDriverState *bs = bdrv_open(name, NULL, NULL, BDRV_O_PROTOCOL,
                                         &error_abort);
        BlockBackend *blk;

        g_assert_cmpstr(bdrv_get_format_name(bs), ==, drivers[i]);
        g_assert_cmpint(bdrv_getlength(bs), ==, 1 * GiB);
        g_assert_cmpint(bdrv_get_allocated_file_size(bs), ==, 0);
        bdrv_unref(bs);

        blk = open_blk(drivers[i], "size", "4096");
        g_assert_cmpint(blk_getlength(blk), ==, 4096);
        blk_unref(blk);
    }
}

static void test_read_write(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
        BlockBackend *blk = open_blk(drivers[i], NULL, NULL);
        uint8_t buf[4096];

        /* Reads leave the caller's buffer as it was. */
        memset(buf, 0xa5, sizeof(buf));
        g_assert_cmpint(blk_pread(blk, 512, sizeof(buf), buf, 0), ==, 0);
        for (size_t j = 0; j < sizeof(buf); j++) {
            g_assert_cmpint(buf[j], ==, 0xa5);
        }
        g_assert_cmpint(blk_pwrite(blk, 0, sizeof(buf), buf, 0), ==, 0);
        g_assert_cmpint(blk_pwrite(blk, 0, sizeof(buf), buf,
                                   BDRV_REQ_FUA), ==, 0);
        g_assert_cmpint(blk_flush(blk), ==, 0);
        g_assert_true(blk_bs(blk)->supported_write_flags & BDRV_REQ_FUA);
        /* Past the end is an error for the BlockBackend. */
        g_assert_cmpint(blk_pread(blk, 1 * GiB, 512, buf, 0), ==, -EIO);
        blk_unref(blk);

        /* read-zeroes=on fills the buffer with zeroes. */
        blk = open_blk(drivers[i], "read-zeroes", "on");
        memset(buf, 0xa5, sizeof(buf));
        g_assert_cmpint(blk_pread(blk, 0, sizeof(buf), buf, 0), ==, 0);
        for (size_t j = 0; j < sizeof(buf); j++) {
            g_assert_cmpint(buf[j], ==, 0);
        }
        blk_unref(blk);
    }
}

static void test_latency(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
        BlockBackend *blk = open_blk(drivers[i], "latency-ns", "20000000");
        uint8_t buf[512];
        int64_t start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

        g_assert_cmpint(blk_pread(blk, 0, sizeof(buf), buf, 0), ==, 0);
        g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start, >=,
                        20000000);
        blk_unref(blk);
    }
}

/*
 * Nothing is allocated and the data sits at the same offset of the node;
 * qemu-img map --output=json --image-opts driver=null-co,read-zeroes=on
 * shows "present": true, "zero": true, "offset": 0.
 */
static void test_block_status(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
        BlockDriverState *bs;
        BlockDriverState *file;
        int64_t pnum, map;
        int ret;

        bs = bdrv_open(NULL, NULL, null_opts(drivers[i], NULL, NULL), 0,
                       &error_abort);
        ret = bdrv_block_status(bs, 4096, 65536, &pnum, &map, &file);
        g_assert_cmpint(ret, ==, BDRV_BLOCK_OFFSET_VALID);
        g_assert_cmpint(pnum, ==, 65536);
        g_assert_cmpint(map, ==, 4096);
        g_assert_true(file == bs);
        bdrv_unref(bs);

        bs = bdrv_open(NULL, NULL, null_opts(drivers[i], "read-zeroes", "on"),
                       0, &error_abort);
        ret = bdrv_block_status(bs, 0, 65536, &pnum, &map, &file);
        g_assert_cmpint(ret, ==, BDRV_BLOCK_OFFSET_VALID | BDRV_BLOCK_ZERO |
                        BDRV_BLOCK_ALLOCATED);
        g_assert_cmpint(map, ==, 0);
        bdrv_unref(bs);
    }
}

static void check_error(const char *filename, QDict *options,
                        const char *expected)
{
    Error *err = NULL;

    g_assert_null(bdrv_open(filename, NULL, options, 0, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free_or_abort(&err);
}

static void test_errors(void)
{
    /* qemu-io -c 'open null-co://foo' */
    check_error("null-co://foo", NULL, "The only allowed filename for this "
                "driver is 'null-co://'");
    check_error("null-aio://x", NULL, "The only allowed filename for this "
                "driver is 'null-aio://'");
    /* qemu-io -c 'open -o driver=null-co,latency-ns=-1' */
    check_error(NULL, null_opts("null-co", "latency-ns", "-1"),
                "latency-ns is invalid");
    /*
     * qemu-io -c 'open -o driver=null-co,size=abc' prints this message
     * and then aborts; here it is just an error.
     */
    check_error(NULL, null_opts("null-co", "size", "abc"),
                "Parameter 'size' expects a non-negative number below 2^64");
    check_error(NULL, null_opts("null-aio", "read-zeroes", "xx"),
                "Parameter 'read-zeroes' expects 'on' or 'off'");
}

static void test_reopen(void)
{
    BlockDriverState *bs = bdrv_open("null-co://", NULL, NULL,
                                     BDRV_O_RDWR | BDRV_O_PROTOCOL,
                                     &error_abort);

    g_assert_cmpint(bdrv_reopen_set_read_only(bs, true, &error_abort), ==, 0);
    g_assert_true(bdrv_is_read_only(bs));
    bdrv_unref(bs);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    g_test_add_func("/null/size", test_size);
    g_test_add_func("/null/read-write", test_read_write);
    g_test_add_func("/null/latency", test_latency);
    g_test_add_func("/null/block-status", test_block_status);
    g_test_add_func("/null/errors", test_errors);
    g_test_add_func("/null/reopen", test_reopen);

    return g_test_run();
}
