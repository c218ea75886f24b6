/*
 * Unit tests for the raw format driver (block/raw-format.c).
 *
 * The expected values come from QEMU 7.2's behaviour; the command that
 * shows each one is quoted next to the check.  Images are temporary files
 * filled with a position-dependent pattern, so every byte read can be
 * checked against the file contents computed independently.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "test-helpers.h"

#define IMG_SIZE (1024 * 1024)

/* The directory is shared with g_test_trap_subprocess children. */
#define TEST_DIR_ENV "QBLOCK_TEST_RAW_DIR"

static char *tmp_dir;
static char *img_path;

/* The byte the test image holds at file offset off. */
static uint8_t pattern_byte(int64_t off)
{
    return (uint8_t)(off * 7 + off / 512);
}

static void make_image(void)
{
    g_autofree uint8_t *buf = g_malloc(IMG_SIZE);

    for (int64_t i = 0; i < IMG_SIZE; i++) {
        buf[i] = pattern_byte(i);
    }
    g_assert_true(g_file_set_contents(img_path, (char *)buf, IMG_SIZE, NULL));
}

static int64_t file_size(void)
{
    struct stat st;

    g_assert_cmpint(stat(img_path, &st), ==, 0);
    return st.st_size;
}

static QDict *raw_options(const char *offset, const char *size)
{
    QDict *opts = qdict_new();

    qdict_put_str(opts, "driver", "raw");
    qdict_put_str(opts, "file.driver", "file");
    qdict_put_str(opts, "file.filename", img_path);
    if (offset) {
        qdict_put_str(opts, "offset", offset);
    }
    if (size) {
        qdict_put_str(opts, "size", size);
    }
    return opts;
}

static BlockBackend *open_raw(const char *offset, const char *size,
                              int flags)
{
    return blk_new_open(NULL, NULL, raw_options(offset, size), flags,
                        &error_abort);
}

/* Open with a bad option and return the error text. */
static char *open_raw_error(const char *offset, const char *size)
{
    Error *err = NULL;
    BlockBackend *blk;
    char *msg;

    blk = blk_new_open(NULL, NULL, raw_options(offset, size), BDRV_O_RDWR,
                       &err);
    g_assert_null(blk);
    g_assert_nonnull(err);
    msg = g_strdup(error_get_pretty(err));
    error_free(err);
    return msg;
}

static void check_pattern(const uint8_t *buf, int64_t file_off, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != pattern_byte(file_off + i)) {
            g_error("byte %zu (file offset %" PRId64 "): %#x, expected %#x",
                    i, file_off + i, buf[i], pattern_byte(file_off + i));
        }
    }
}

/* The name qemu-img info prints, which it refreshes first. */
static const char *image_name(BlockDriverState *bs)
{
    bdrv_refresh_filename(bs);
    return bs->filename;
}

/* ---- Running driver callbacks directly ---- */

typedef struct CoCall {
    BlockDriverState *bs;
    int64_t offset;
    int64_t bytes;
    QEMUIOVector *qiov;
    bool write;
    int ret;
    bool done;
} CoCall;

static void coroutine_fn raw_call_entry(void *opaque)
{
    CoCall *c = opaque;

    if (c->write) {
        c->ret = bdrv_raw.bdrv_co_pwritev_part(c->bs, c->offset, c->bytes,
                                               c->qiov, 0, 0);
    } else {
        c->ret = bdrv_raw.bdrv_co_preadv_part(c->bs, c->offset, c->bytes,
                                              c->qiov, 0, 0);
    }
    c->done = true;
}

/* Call raw's read or write callback itself, skipping io.c's checks. */
static int raw_direct_io(BlockDriverState *bs, bool write, int64_t offset,
                         void *buf, int64_t bytes)
{
    QEMUIOVector qiov;
    CoCall c = { .bs = bs, .offset = offset, .bytes = bytes,
                 .qiov = &qiov, .write = write };

    qemu_iovec_init_buf(&qiov, buf, bytes);
    qemu_coroutine_enter(qemu_coroutine_create(raw_call_entry, &c));
    while (!c.done) {
        aio_poll(qemu_get_aio_context(), true);
    }
    return c.ret;
}

/* ---- Tests ---- */

static void test_plain(void)
{
    BlockBackend *blk = open_raw(NULL, NULL, BDRV_O_RDWR);
    BlockDriverState *bs = blk_bs(blk);
    uint8_t buf[4096];

    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    g_assert_cmpint(blk_getlength(blk), ==, IMG_SIZE);
    /* Without offset/size raw is transparent: a filtered child. */
    g_assert_cmpuint(bs->file->role, ==,
                     BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY);
    g_assert_false(bs->probed);

    g_assert_cmpint(blk_pread(blk, 4096, sizeof(buf), buf, 0), ==, 0);
    check_pattern(buf, 4096, sizeof(buf));

    /* Name: qemu-img info -f raw x -> "image: x" */
    g_assert_cmpstr(image_name(bs), ==, img_path);
    blk_unref(blk);
}

static void test_offset_window(void)
{
    BlockBackend *blk = open_raw("512", NULL, BDRV_O_RDWR);
    BlockDriverState *bs = blk_bs(blk);
    uint8_t buf[1536], file_buf[1536];
    g_autofree char *json = NULL;

    /*
     * qemu-img info --image-opts driver=raw,file.filename=x,offset=512:
     * "virtual size: 1 MiB (1048064 bytes)", and the json: name below.
     */
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE - 512);
    json = g_strdup_printf("json:{\"offset\": \"512\", \"driver\": \"raw\", "
                           "\"file\": {\"driver\": \"file\", "
                           "\"filename\": \"%s\"}}", img_path);
    g_assert_cmpstr(image_name(bs), ==, json);
    g_assert_cmpuint(bs->file->role, ==, BDRV_CHILD_DATA | BDRV_CHILD_PRIMARY);

    g_assert_cmpint(blk_pread(blk, 0, sizeof(buf), buf, 0), ==, 0);
    check_pattern(buf, 512, sizeof(buf));

    memset(buf, 0xa5, sizeof(buf));
    g_assert_cmpint(blk_pwrite(blk, 1000, sizeof(buf), buf, 0), ==, 0);
    test_file_pread(img_path, 1512, file_buf, sizeof(file_buf));
    g_assert_cmpmem(file_buf, sizeof(file_buf), buf, sizeof(buf));
    blk_unref(blk);
    make_image();

    /*
     * Offset 100 with no size: the length is rounded up to a sector.
     * qemu-io --image-opts -c length driver=raw,file.filename=x,offset=100
     * prints "1 MiB".
     */
    blk = open_raw("100", NULL, 0);
    g_assert_cmpint(blk_getlength(blk), ==, IMG_SIZE);
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, 0);
    check_pattern(buf, 100, 512);
    blk_unref(blk);

    /* offset == file size gives an empty image ("0 bytes"). */
    blk = open_raw("1M", NULL, 0);
    g_assert_cmpint(blk_getlength(blk), ==, 0);
    blk_unref(blk);
}

static void test_size_window(void)
{
    BlockBackend *blk = open_raw("8192", "4096", BDRV_O_RDWR | BDRV_O_RESIZE);
    BlockDriverState *bs = blk_bs(blk);
    uint8_t buf[4096];
    g_autofree char *json = NULL;

    g_assert_cmpint(blk_getlength(blk), ==, 4096);
    g_assert_cmpint(blk_pread(blk, 0, 4096, buf, 0), ==, 0);
    check_pattern(buf, 8192, 4096);

    /* Beyond the window the block layer stops the request (EIO). */
    g_assert_cmpint(blk_pread(blk, 4096, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite(blk, 4096, 512, buf, 0), ==, -EIO);

    /*
     * raw itself refuses to leave the window: reads -EINVAL, writes
     * -ENOSPC, so nothing outside it is ever touched.
     */
    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(raw_direct_io(bs, false, 4096, buf, 512), ==, -EINVAL);
    g_assert_cmpint(raw_direct_io(bs, false, 3584, buf, 1024), ==, -EINVAL);
    g_assert_cmpint(raw_direct_io(bs, true, 4096, buf, 512), ==, -ENOSPC);
    g_assert_cmpint(raw_direct_io(bs, true, 3584, buf, 1024), ==, -ENOSPC);
    g_assert_cmpint(raw_direct_io(bs, false, INT64_MAX - 511, buf, 512), ==,
                    -EINVAL);

    /* The same through the block layer when growing is allowed. */
    blk_set_allow_write_beyond_eof(blk, true);
    g_assert_cmpint(blk_pwrite(blk, 4096, 512, buf, 0), ==, -ENOSPC);
    g_assert_cmpint(file_size(), ==, IMG_SIZE);
    test_file_pread(img_path, 8192 + 4096, buf, 512);
    check_pattern(buf, 8192 + 4096, 512);

    /* qemu-img info --image-opts driver=raw,file.filename=x,size=512 */
    json = g_strdup_printf("json:{\"offset\": \"8192\", \"driver\": \"raw\", "
                           "\"size\": \"4096\", \"file\": {\"driver\": "
                           "\"file\", \"filename\": \"%s\"}}", img_path);
    g_assert_cmpstr(image_name(bs), ==, json);
    blk_unref(blk);

    /* A size alone also makes the child a plain data child. */
    blk = open_raw(NULL, "512", 0);
    g_assert_cmpuint(blk_bs(blk)->file->role, ==,
                     BDRV_CHILD_DATA | BDRV_CHILD_PRIMARY);
    g_assert_cmpint(blk_getlength(blk), ==, 512);
    blk_unref(blk);
}

static void test_bad_options(void)
{
    static const struct {
        const char *offset, *size, *msg;
    } cases[] = {
        /* qemu-io --image-opts driver=raw,file.filename=x,offset=2M */
        { "2M", NULL, "Offset (2097152) cannot be greater than size of the "
                      "containing file (1048576)" },
        /* ... size=2M */
        { NULL, "2M", "The sum of offset (0) and size (2097152) has to be "
                      "smaller or equal to the  actual size of the containing "
                      "file (1048576)" },
        /* ... offset=512,size=1M */
        { "512", "1M", "The sum of offset (512) and size (1048576) has to be "
                       "smaller or equal to the  actual size of the "
                       "containing file (1048576)" },
        /* ... size=1000 */
        { NULL, "1000", "Specified size is not multiple of 512" },
        /* The offset check comes first: offset=2M,size=1000 */
        { "2M", "1000", "Offset (2097152) cannot be greater than size of the "
                        "containing file (1048576)" },
        /* ... offset=-1 */
        { "-1", NULL, "Parameter 'offset' expects a non-negative number "
                      "below 2^64" },
        /* ... size=abc */
        { NULL, "abc", "Parameter 'size' expects a non-negative number "
                       "below 2^64" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autofree char *msg = open_raw_error(cases[i].offset, cases[i].size);

        g_assert_cmpstr(msg, ==, cases[i].msg);
    }
}

static void test_block_status(void)
{
    BlockBackend *blk = open_raw("4096", "65536", 0);
    BlockDriverState *bs = blk_bs(blk);
    BlockDriverState *file = NULL;
    int64_t pnum, map;
    int ret;

    /* The file is fully written: data, mapped at offset + 4096. */
    ret = bdrv_block_status(bs, 512, 8192, &pnum, &map, &file);
    g_assert_cmpint(ret, >=, 0);
    g_assert_true(ret & BDRV_BLOCK_DATA);
    g_assert_true(ret & BDRV_BLOCK_OFFSET_VALID);
    g_assert_cmpint(map, ==, 4096 + 512);
    g_assert_true(file == bs->file->bs);
    g_assert_cmpint(pnum, >, 0);
    g_assert_cmpint(pnum, <=, 8192);
    blk_unref(blk);
}

/* A format that claims sectors starting with this magic. */
#define TESTFMT_MAGIC "QBLKTEST"

static int testfmt_probe(const uint8_t *buf, int buf_size,
                         const char *filename)
{
    return buf_size >= 8 && !memcmp(buf, TESTFMT_MAGIC, 8) ? 100 : 0;
}

static BlockDriver bdrv_testfmt = {
    .format_name = "testfmt",
    .bdrv_probe  = testfmt_probe,
};

static void test_probed(void)
{
    g_autofree char *warning = NULL;
    BlockBackend *blk;
    BlockDriverState *bs;
    uint8_t buf[1024], file_buf[1024];

    if (g_test_subprocess()) {
        /* Only the warning is checked here; see below for the rest. */
        blk = blk_new_open(img_path, NULL, NULL, BDRV_O_RDWR, &error_abort);
        blk_unref(blk);
        blk = blk_new_open(img_path, NULL, NULL, 0, &error_abort);
        blk_unref(blk);
        return;
    }

    /*
     * qemu-io -c 'read 0 512' x (a raw image, no -f): the warning appears
     * for read-write opens only (qemu-img info, read-only, prints none).
     */
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    warning = g_strdup_printf(
        "WARNING: Image format was not specified for '%s' and probing "
        "guessed raw.\n"
        "         Automatically detecting the format is dangerous for raw "
        "images, write operations on block 0 will be restricted.\n"
        "         Specify the 'raw' format explicitly to remove the "
        "restrictions.\n", img_path);
    g_test_trap_assert_stderr(warning);

    /* The warning goes to stderr; keep the test log readable. */
    g_assert_cmpint(dup2(open("/dev/null", O_WRONLY), STDERR_FILENO), >=, 0);
    blk = blk_new_open(img_path, NULL, NULL, BDRV_O_RDWR, &error_abort);
    bs = blk_bs(blk);
    g_assert_true(bs->probed);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    g_assert_cmpuint(bs->bl.request_alignment, ==, 512);

    /*
     * qemu-io -c 'write -s h.qcow2 0 512' x: a header of another format in
     * sector 0 fails with "Operation not permitted" and changes nothing.
     */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, TESTFMT_MAGIC, 8);
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, -EPERM);
    g_assert_cmpint(blk_pwrite(blk, 0, 1024, buf, 0), ==, -EPERM);
    test_file_pread(img_path, 0, file_buf, sizeof(file_buf));
    check_pattern(file_buf, 0, sizeof(file_buf));

    /* A partial write that completes the magic is caught after RMW. */
    g_assert_cmpint(blk_pwrite(blk, 0, 4, buf, 0), ==, 0);
    g_assert_cmpint(blk_pwrite(blk, 4, 4, buf + 4, 0), ==, -EPERM);
    test_file_pread(img_path, 0, file_buf, 8);
    g_assert_cmpmem(file_buf, 4, TESTFMT_MAGIC, 4);
    check_pattern(file_buf + 4, 4, 4);

    /* Sector 0 data that still probes as raw is fine ('write 0 512'). */
    memset(buf, 0x51, sizeof(buf));
    g_assert_cmpint(blk_pwrite(blk, 0, 1024, buf, 0), ==, 0);
    test_file_pread(img_path, 0, file_buf, sizeof(file_buf));
    g_assert_cmpmem(file_buf, sizeof(file_buf), buf, sizeof(buf));
    /* ... and so are byte writes ('write 1 1') and later sectors. */
    g_assert_cmpint(blk_pwrite(blk, 1, 1, "Q", 0), ==, 0);
    memcpy(buf, TESTFMT_MAGIC, 8);
    g_assert_cmpint(blk_pwrite(blk, 512, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, 0), ==, 0);
    blk_unref(blk);
    make_image();

    /* With the format given, sector 0 is just data. */
    blk = open_raw(NULL, NULL, BDRV_O_RDWR);
    g_assert_false(blk_bs(blk)->probed);
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, 0);
    test_file_pread(img_path, 0, file_buf, 8);
    g_assert_cmpmem(file_buf, 8, TESTFMT_MAGIC, 8);
    blk_unref(blk);

    /* The file now probes as testfmt. */
    test_file_pread(img_path, 0, file_buf, 512);
    g_assert_true(bdrv_probe_all(file_buf, 512, NULL) == &bdrv_testfmt);
    make_image();
}

static void test_reopen(void)
{
    BlockBackend *blk = open_raw("512", NULL, BDRV_O_RDWR);
    BlockDriverState *bs = blk_bs(blk);
    Error *err = NULL;
    QDict *opts;
    uint8_t buf[512];

    opts = qdict_new();
    qdict_put_str(opts, "offset", "4096");
    qdict_put_str(opts, "size", "8192");
    g_assert_cmpint(bdrv_reopen(bs, opts, true, &error_abort), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 8192);
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, 0);
    check_pattern(buf, 4096, 512);

    /* A failed reopen leaves the old window in place. */
    opts = qdict_new();
    qdict_put_str(opts, "offset", "4096");
    qdict_put_str(opts, "size", "4M");
    g_assert_cmpint(bdrv_reopen(bs, opts, true, &err), <, 0);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "The sum of offset (4096) and size (4194304) has to be "
                    "smaller or equal to the  actual size of the containing "
                    "file (1048576)");
    error_free(err);
    err = NULL;
    g_assert_cmpint(bdrv_getlength(bs), ==, 8192);
    g_assert_cmpint(blk_pread(blk, 512, 512, buf, 0), ==, 0);
    check_pattern(buf, 4608, 512);

    opts = qdict_new();
    qdict_put_str(opts, "size", "1234");
    g_assert_cmpint(bdrv_reopen(bs, opts, true, &err), <, 0);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Specified size is not multiple of 512");
    error_free(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 8192);
    blk_unref(blk);
}

static void test_truncate(void)
{
    BlockBackend *blk = open_raw("4096", "8192", BDRV_O_RDWR | BDRV_O_RESIZE);
    Error *err = NULL;

    g_assert_cmpint(blk_truncate(blk, 16384, false, PREALLOC_MODE_OFF, 0,
                                 &err), ==, -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Cannot resize fixed-size raw disks");
    error_free(err);
    blk_unref(blk);

    /* Without a fixed size the child is resized to offset + new size. */
    blk = open_raw("4096", NULL, BDRV_O_RDWR | BDRV_O_RESIZE);
    g_assert_cmpint(blk_truncate(blk, 2 * IMG_SIZE, false, PREALLOC_MODE_OFF,
                                 0, &error_abort), ==, 0);
    g_assert_cmpint(blk_getlength(blk), ==, 2 * IMG_SIZE);
    g_assert_cmpint(file_size(), ==, 2 * IMG_SIZE + 4096);
    blk_unref(blk);
    g_assert_cmpint(truncate(img_path, IMG_SIZE), ==, 0);
}

static void test_perms(void)
{
    const uint64_t write_resize = BLK_PERM_WRITE | BLK_PERM_RESIZE;
    BlockDriverState *bs;
    BlockBackend *blk;

    /* A writable node without writing users takes no write permission. */
    bs = bdrv_open(NULL, NULL, raw_options(NULL, NULL), BDRV_O_RDWR,
                   &error_abort);
    g_assert_cmpuint(bs->file->perm & write_resize, ==, 0);
    bdrv_unref(bs);

    /*
     * With a window the child is a DATA child, for which the default
     * policy adds WRITE and RESIZE for a writable node, RESIZE to every
     * writer and WRITE to WRITE_UNCHANGED users.  raw asks only for what
     * its own users hold.
     */
    bs = bdrv_open(NULL, NULL, raw_options("512", NULL), BDRV_O_RDWR,
                   &error_abort);
    g_assert_cmpuint(bs->file->perm & write_resize, ==, 0);

    blk = blk_new_with_bs(bs, BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                          BLK_PERM_ALL, &error_abort);
    g_assert_true(bs->file->perm & BLK_PERM_WRITE);
    g_assert_false(bs->file->perm & BLK_PERM_RESIZE);
    blk_unref(blk);

    blk = blk_new_with_bs(bs, BLK_PERM_WRITE_UNCHANGED, BLK_PERM_ALL,
                          &error_abort);
    g_assert_true(bs->file->perm & BLK_PERM_WRITE_UNCHANGED);
    g_assert_cmpuint(bs->file->perm & write_resize, ==, 0);
    blk_unref(blk);

    blk = blk_new_with_bs(bs, BLK_PERM_WRITE | BLK_PERM_RESIZE, BLK_PERM_ALL,
                          &error_abort);
    g_assert_cmpuint(bs->file->perm & write_resize, ==, write_resize);
    blk_unref(blk);
    bdrv_unref(bs);
}

static void test_forwarding(void)
{
    BlockBackend *blk = open_raw(NULL, NULL, BDRV_O_RDWR);
    BlockDriverState *bs = blk_bs(blk);
    BlockDriverInfo bdi_raw, bdi_file;
    int ret_raw, ret_file;
    QemuOpts *opts;
    BlockMeasureInfo *info;

    g_assert_cmpint(bdrv_has_zero_init(bs), ==,
                    bdrv_has_zero_init(bs->file->bs));

    memset(&bdi_raw, 0, sizeof(bdi_raw));
    memset(&bdi_file, 0, sizeof(bdi_file));
    ret_raw = bdrv_get_info(bs, &bdi_raw);
    ret_file = bdrv_get_info(bs->file->bs, &bdi_file);
    g_assert_cmpint(ret_raw, ==, ret_file);
    g_assert_cmpint(bdi_raw.cluster_size, ==, bdi_file.cluster_size);

    /* FUA comes from the child; WRITE_UNCHANGED is raw's own. */
    g_assert_true(bs->supported_write_flags & BDRV_REQ_WRITE_UNCHANGED);
    g_assert_cmpuint(bs->supported_write_flags & BDRV_REQ_FUA, ==,
                     bs->file->bs->supported_write_flags & BDRV_REQ_FUA);
    g_assert_cmpuint(bs->supported_zero_flags & BDRV_REQ_MAY_UNMAP, ==,
                     bs->file->bs->supported_zero_flags & BDRV_REQ_MAY_UNMAP);
    blk_unref(blk);

    /* qemu-img measure -O raw --size 1000: required 1024 (whole sectors). */
    opts = qemu_opts_create(bdrv_raw.create_opts, NULL, 0, &error_abort);
    qemu_opt_set(opts, BLOCK_OPT_SIZE, "1000", &error_abort);
    info = bdrv_raw.bdrv_measure(opts, NULL, &error_abort);
    g_assert_cmpuint(info->required, ==, 1024);
    g_assert_cmpuint(info->fully_allocated, ==, 1024);
    g_free(info);
    qemu_opts_del(opts);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();
    bdrv_register(&bdrv_testfmt);

    tmp_dir = test_tmp_dir(TEST_DIR_ENV, "test-raw-XXXXXX");
    img_path = g_build_filename(tmp_dir, "raw.img", NULL);
    make_image();

    g_test_add_func("/raw/plain", test_plain);
    g_test_add_func("/raw/offset-window", test_offset_window);
    g_test_add_func("/raw/size-window", test_size_window);
    g_test_add_func("/raw/bad-options", test_bad_options);
    g_test_add_func("/raw/block-status", test_block_status);
    g_test_add_func("/raw/reopen", test_reopen);
    g_test_add_func("/raw/truncate", test_truncate);
    g_test_add_func("/raw/perms", test_perms);
    g_test_add_func("/raw/forwarding", test_forwarding);
    /* Last: it sends stderr to /dev/null. */
    g_test_add_func("/raw/probed", test_probed);

    ret = g_test_run();

    if (!g_test_subprocess()) {
        test_remove_tree(tmp_dir);
    }
    g_free(img_path);
    g_free(tmp_dir);
    return ret;
}
