/*
 * The file protocol driver (block/file-posix.c) through the block layer.
 *
 * Data is checked against the image file read directly with pread, space
 * allocation with SEEK_DATA/SEEK_HOLE and st_blocks, and messages against
 * QEMU 7.2's (the qemu-io / qemu-img command that shows each one is quoted
 * next to the check).  The I/O tests run once per aio mode.
 */
#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include "block/block_int.h"
#include "block/block-backend.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "test-helpers.h"

#define IMG_SIZE (1024 * 1024)

static char *tmp_dir;

typedef struct AioMode {
    const char *name;
    const char *aio;
    bool direct;
} AioMode;

static const AioMode aio_modes[] = {
    { "threads", "threads", false },
    { "threads-direct", "threads", true },
    { "native", "native", true },
#ifdef CONFIG_LINUX_IO_URING
    { "io_uring", "io_uring", false },
    { "io_uring-direct", "io_uring", true },
#endif
};

static struct stat file_stat(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return st;
}

/* Is [off, off + len) one hole of the file? */
static bool file_is_hole(const char *path, int64_t off, int64_t len)
{
    int fd = open(path, O_RDONLY);
    off_t data;

    g_assert_cmpint(fd, >=, 0);
    data = lseek(fd, off, SEEK_DATA);
    close(fd);
    return data < 0 || data >= off + len;
}

static QDict *file_options(const char *path, const AioMode *mode)
{
    QDict *opts = qdict_new();

    qdict_put_str(opts, "driver", "file");
    qdict_put_str(opts, "filename", path);
    if (mode) {
        qdict_put_str(opts, "aio", mode->aio);
        qdict_put_str(opts, "cache.direct", mode->direct ? "on" : "off");
    }
    return opts;
}

/* NULL if the host can't (O_DIRECT on tmpfs, io_uring in a sandbox). */
static BlockBackend *open_mode(const char *path, const AioMode *mode,
                               int flags)
{
    Error *err = NULL;
    BlockBackend *blk;

    blk = blk_new_open(NULL, NULL, file_options(path, mode), flags, &err);
    if (!blk) {
        const char *msg = error_get_pretty(err);

        if (strstr(msg, "O_DIRECT") || strstr(msg, "io_uring")) {
            g_test_skip(msg);
            error_free_or_abort(&err);
            return NULL;
        }
        g_error("open failed: %s", msg);
    }
    return blk;
}

static char *open_error(QDict *options, int flags)
{
    Error *err = NULL;
    BlockBackend *blk = blk_new_open(NULL, NULL, options, flags, &err);
    char *msg;

    g_assert_null(blk);
    msg = g_strdup(error_get_pretty(err));
    error_free_or_abort(&err);
    return msg;
}

static void fill(uint8_t *buf, size_t len, int seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = i * 13 + seed + i / 4096;
    }
}

/* ---- I/O per aio mode ---- */

static void aio_done(void *opaque, int ret)
{
    *(int *)opaque = ret;
}

static void test_rw(gconstpointer opaque)
{
    const AioMode *mode = opaque;
    g_autofree char *path = test_new_file(tmp_dir, "rw.img", IMG_SIZE);
    g_autofree uint8_t *wbuf = g_malloc(256 * 1024);
    g_autofree uint8_t *rbuf = g_malloc(256 * 1024);
    g_autofree uint8_t *check = g_malloc(256 * 1024);
    BlockBackend *blk = open_mode(path, mode, BDRV_O_RDWR);

    if (!blk) {
        return;
    }
    fill(wbuf, 256 * 1024, 1);
    g_assert_cmpint(blk_pwrite(blk, 64 * 1024, 256 * 1024, wbuf, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    test_file_pread(path, 64 * 1024, check, 256 * 1024);
    g_assert_cmpmem(check, 256 * 1024, wbuf, 256 * 1024);

    g_assert_cmpint(blk_pread(blk, 64 * 1024, 256 * 1024, rbuf, 0), ==, 0);
    g_assert_cmpmem(rbuf, 256 * 1024, wbuf, 256 * 1024);

    /* Data written behind our back is seen (no caching in the driver). */
    fill(wbuf, 4096, 9);
    test_file_pwrite(path, 0, wbuf, 4096);
    g_assert_cmpint(blk_pread(blk, 0, 4096, rbuf, 0), ==, 0);
    g_assert_cmpmem(rbuf, 4096, wbuf, 4096);

    /* Byte-granular requests: the block layer pads them under O_DIRECT. */
    g_assert_cmpint(blk_pwrite(blk, 1, 3, "abc", 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, 0, 5, rbuf, 0), ==, 0);
    g_assert_cmpint(rbuf[0], ==, wbuf[0]);
    g_assert_cmpmem(rbuf + 1, 3, "abc", 3);
    g_assert_cmpint(rbuf[4], ==, wbuf[4]);
    test_file_pread(path, 1, check, 3);
    g_assert_cmpmem(check, 3, "abc", 3);

    /* Several requests in flight at once, completed in any order. */
    {
        enum { N = 16 };
        QEMUIOVector qiov[N];
        int ret[N];

        memset(rbuf, 0, N * 4096);
        for (int i = 0; i < N; i++) {
            ret[i] = -EINPROGRESS;
            qemu_iovec_init_buf(&qiov[i], rbuf + i * 4096, 4096);
            g_assert_nonnull(blk_aio_preadv(blk, 64 * 1024 + i * 4096,
                                            &qiov[i], 0, aio_done, &ret[i]));
        }
        blk_drain(blk);
        for (int i = 0; i < N; i++) {
            g_assert_cmpint(ret[i], ==, 0);
        }
        test_file_pread(path, 64 * 1024, check, N * 4096);
        g_assert_cmpmem(rbuf, N * 4096, check, N * 4096);
    }
    blk_unref(blk);
    unlink(path);
}

/* Buffers not aligned to the O_DIRECT needs go through a bounce buffer. */
static void test_misaligned_buffers(gconstpointer opaque)
{
    const AioMode *mode = opaque;
    g_autofree char *path = test_new_file(tmp_dir, "misaligned.img", IMG_SIZE);
    g_autofree uint8_t *mem = g_malloc(3 * 4096 + 1);
    g_autofree uint8_t *check = g_malloc(8192);
    uint8_t *buf = mem + 1;
    BlockBackend *blk = open_mode(path, mode, BDRV_O_RDWR);
    struct iovec iov[3];
    QEMUIOVector qiov;

    if (!blk) {
        return;
    }
    fill(buf, 8192, 3);
    g_assert_cmpint(blk_pwrite(blk, 8192, 8192, buf, 0), ==, 0);
    test_file_pread(path, 8192, check, 8192);
    g_assert_cmpmem(check, 8192, buf, 8192);

    /* A vector of odd pieces. */
    memset(mem, 0, 3 * 4096 + 1);
    iov[0] = (struct iovec) { buf, 100 };
    iov[1] = (struct iovec) { buf + 100 + 7, 4000 };
    iov[2] = (struct iovec) { buf + 5000, 8192 - 4100 };
    qemu_iovec_init_external(&qiov, iov, 3);
    g_assert_cmpint(blk_preadv(blk, 8192, 8192, &qiov, 0), ==, 0);
    g_assert_cmpmem(buf, 100, check, 100);
    g_assert_cmpmem(buf + 107, 4000, check + 100, 4000);
    g_assert_cmpmem(buf + 5000, 8192 - 4100, check + 4100, 8192 - 4100);

    blk_unref(blk);
    unlink(path);
}

/* Reads of a file whose size is not a sector multiple. */
static void test_short_file(gconstpointer opaque)
{
    const AioMode *mode = opaque;
    g_autofree char *path = test_new_file(tmp_dir, "short.img", 0);
    uint8_t data[1000];
    uint8_t buf[1024];
    BlockBackend *blk;

    fill(data, sizeof(data), 5);
    test_file_pwrite(path, 0, data, sizeof(data));
    blk = open_mode(path, mode, 0);
    if (!blk) {
        return;
    }
    /* QEMU 7.2: `qemu-io -f raw -c 'length'` on a 1000-byte file: 1 KiB. */
    g_assert_cmpint(blk_getlength(blk), ==, 1024);
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(blk_pread(blk, 0, 1024, buf, 0), ==, 0);
    g_assert_cmpmem(buf, 1000, data, 1000);
    g_assert_true(buffer_is_zero(buf + 1000, 24));
    blk_unref(blk);
    unlink(path);
}

static void test_discard_zeroes(gconstpointer opaque)
{
    const AioMode *mode = opaque;
    g_autofree char *path = test_new_file(tmp_dir, "zero.img", IMG_SIZE);
    g_autofree uint8_t *buf = g_malloc(IMG_SIZE);
    BlockBackend *blk = open_mode(path, mode, BDRV_O_RDWR | BDRV_O_UNMAP |
                                  BDRV_O_RESIZE);
    blkcnt_t blocks;

    if (!blk) {
        return;
    }
    fill(buf, IMG_SIZE, 7);
    g_assert_cmpint(blk_pwrite(blk, 0, IMG_SIZE, buf, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    g_assert_false(file_is_hole(path, 0, IMG_SIZE));

    /* Discard punches a hole that reads as zeroes. */
    g_assert_cmpint(blk_pdiscard(blk, 256 * 1024, 128 * 1024), ==, 0);
    g_assert_true(file_is_hole(path, 256 * 1024, 128 * 1024));
    g_assert_cmpint(blk_pread(blk, 256 * 1024, 128 * 1024, buf, 0), ==, 0);
    g_assert_true(buffer_is_zero(buf, 128 * 1024));

    /*
     * Write zeroes without unmap keeps the space allocated (as unwritten
     * extents, which SEEK_DATA may report as holes: count the blocks).
     */
    blocks = file_stat(path).st_blocks;
    g_assert_cmpint(blk_pwrite_zeroes(blk, 512 * 1024, 64 * 1024, 0), ==, 0);
    g_assert_cmpint(file_stat(path).st_blocks, >=, blocks);
    blocks = file_stat(path).st_blocks;
    g_assert_cmpint(blk_pread(blk, 512 * 1024, 64 * 1024, buf, 0), ==, 0);
    g_assert_true(buffer_is_zero(buf, 64 * 1024));

    /* With unmap it punches a hole and frees the space. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 640 * 1024, 64 * 1024,
                                      BDRV_REQ_MAY_UNMAP), ==, 0);
    g_assert_true(file_is_hole(path, 640 * 1024, 64 * 1024));
    /* (Extent tree blocks may come and go: allow for one.) */
    g_assert_cmpint(file_stat(path).st_blocks, <=,
                    blocks - (64 - 4) * 1024 / 512);
    g_assert_cmpint(blk_pread(blk, 640 * 1024, 64 * 1024, buf, 0), ==, 0);
    g_assert_true(buffer_is_zero(buf, 64 * 1024));

    /* Unaligned write zeroes: the neighbours are untouched. */
    fill(buf, 4096, 7);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 100, 200, 0), ==, 0);
    {
        uint8_t check[4096];

        test_file_pread(path, 0, check, 4096);
        g_assert_cmpmem(check, 100, buf, 100);
        g_assert_true(buffer_is_zero(check + 100, 200));
        g_assert_cmpmem(check + 300, 4096 - 300, buf + 300, 4096 - 300);
    }

    /* Zero writes beyond the end of the file grow it. */
    blk_set_allow_write_beyond_eof(blk, true);
    g_assert_cmpint(blk_pwrite_zeroes(blk, IMG_SIZE + 65536, 65536, 0), ==, 0);
    g_assert_cmpint(file_stat(path).st_size, ==, IMG_SIZE + 2 * 65536);

    blk_unref(blk);
    unlink(path);
}

static void test_truncate(gconstpointer opaque)
{
    const AioMode *mode = opaque;
    g_autofree char *path = test_new_file(tmp_dir, "trunc.img", 65536);
    BlockBackend *blk = open_mode(path, mode, BDRV_O_RDWR | BDRV_O_RESIZE);
    Error *err = NULL;
    struct stat st;

    if (!blk) {
        return;
    }
    g_assert_cmpint(blk_truncate(blk, IMG_SIZE, true, PREALLOC_MODE_OFF, 0,
                                 &error_abort), ==, 0);
    st = file_stat(path);
    g_assert_cmpint(st.st_size, ==, IMG_SIZE);
    g_assert_cmpint(blk_getlength(blk), ==, IMG_SIZE);
    g_assert_true(file_is_hole(path, 65536, IMG_SIZE - 65536));

    /* falloc and full allocate the new space. */
    g_assert_cmpint(blk_truncate(blk, 2 * IMG_SIZE, true,
                                 PREALLOC_MODE_FALLOC, 0, &error_abort),
                    ==, 0);
    st = file_stat(path);
    g_assert_cmpint(st.st_size, ==, 2 * IMG_SIZE);
    g_assert_cmpint(st.st_blocks * 512, >=, IMG_SIZE);
    g_assert_cmpint(blk_truncate(blk, 3 * IMG_SIZE, true, PREALLOC_MODE_FULL,
                                 0, &error_abort), ==, 0);
    st = file_stat(path);
    g_assert_cmpint(st.st_size, ==, 3 * IMG_SIZE);
    g_assert_cmpint(st.st_blocks * 512, >=, 2 * IMG_SIZE);
    g_assert_false(file_is_hole(path, 2 * IMG_SIZE, IMG_SIZE));

    /* qemu-io -f raw -c 'truncate -m metadata 2M' x.raw */
    g_assert_cmpint(blk_truncate(blk, 4 * IMG_SIZE, true,
                                 PREALLOC_MODE_METADATA, 0, &err), ==,
                    -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Unsupported preallocation mode: metadata");
    error_free_or_abort(&err);
    err = NULL;

    /* qemu-io -f raw -c 'truncate -m falloc 512' x.raw */
    g_assert_cmpint(blk_truncate(blk, 512, true, PREALLOC_MODE_FALLOC, 0,
                                 &err), ==, -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Cannot use preallocation for shrinking files");
    error_free_or_abort(&err);
    g_assert_cmpint(file_stat(path).st_size, ==, 3 * IMG_SIZE);

    /* Shrinking without preallocation is fine. */
    g_assert_cmpint(blk_truncate(blk, 512, true, PREALLOC_MODE_OFF, 0,
                                 &error_abort), ==, 0);
    g_assert_cmpint(file_stat(path).st_size, ==, 512);

    blk_unref(blk);
    unlink(path);
}

/* ---- Block status ---- */

static void test_block_status(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "status.img", IMG_SIZE);
    g_autofree char *path2 = NULL;
    g_autofree uint8_t *buf = g_malloc0(65536);
    BlockDriverState *bs, *file;
    BlockBackend *blk;
    int64_t pnum, map;
    int ret;

    blk = open_mode(path, NULL, BDRV_O_RDWR);
    bs = blk_bs(blk);

    /* An empty sparse file: one hole to the end, zeroes, no data. */
    ret = bdrv_block_status(bs, 0, IMG_SIZE, &pnum, &map, &file);
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO |
                           BDRV_BLOCK_OFFSET_VALID), ==,
                    BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID);
    g_assert_cmpint(pnum, ==, IMG_SIZE);
    g_assert_cmpint(map, ==, 0);
    g_assert_true(file == bs);

    /* Data in the middle. */
    g_assert_cmpint(blk_pwrite(blk, 256 * 1024, 65536, buf, 0), ==, 0);
    ret = bdrv_block_status(bs, 0, IMG_SIZE, &pnum, &map, &file);
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO), ==,
                    BDRV_BLOCK_ZERO);
    g_assert_cmpint(pnum, ==, 256 * 1024);
    ret = bdrv_block_status(bs, 256 * 1024, IMG_SIZE - 256 * 1024, &pnum,
                            &map, &file);
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO |
                           BDRV_BLOCK_OFFSET_VALID), ==,
                    BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID);
    g_assert_cmpint(pnum, ==, 65536);
    g_assert_cmpint(map, ==, 256 * 1024);

    /* Allocation questions see everything as allocated here. */
    g_assert_cmpint(bdrv_is_allocated(bs, 0, IMG_SIZE, &pnum), ==, 1);
    g_assert_cmpint(pnum, ==, IMG_SIZE);

    blk_unref(blk);
    unlink(path);

    /*
     * A 1000-byte file: qemu-img map --output=json -f file gives data
     * [0, 1000) and zeroes [1000, 1024).
     */
    path2 = test_new_file(tmp_dir, "status-odd.img", 0);
    test_file_pwrite(path2, 0, buf, 1000);
    blk = open_mode(path2, NULL, 0);
    bs = blk_bs(blk);
    ret = bdrv_block_status(bs, 0, 1024, &pnum, &map, &file);
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO), ==,
                    BDRV_BLOCK_DATA);
    g_assert_cmpint(pnum, ==, 1000);
    ret = bdrv_block_status(bs, 1000, 24, &pnum, &map, &file);
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO |
                           BDRV_BLOCK_OFFSET_VALID), ==,
                    BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID);
    g_assert_cmpint(pnum, ==, 24);
    g_assert_cmpint(map, ==, 1000);
    blk_unref(blk);
    unlink(path2);
}

/*
 * The length is cached, as in QEMU 7.2 (file nodes are not "variable
 * length"): `qemu-io -f file -c length -c 'sleep 1000' -c length` prints
 * 1 MiB twice while another process grows the file in between.
 */
static void test_length_cached(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "length.img", IMG_SIZE);
    BlockBackend *blk = open_mode(path, NULL, 0);

    g_assert_cmpint(blk_getlength(blk), ==, IMG_SIZE);
    g_assert_cmpint(truncate(path, 2 * IMG_SIZE), ==, 0);
    g_assert_cmpint(blk_getlength(blk), ==, IMG_SIZE);
    blk_unref(blk);
    unlink(path);
}

/* ---- Creation ---- */

static int create(const char *path, const char *optstr, Error **errp)
{
    QemuOpts *opts = qemu_opts_create(bdrv_file.create_opts, NULL, 0,
                                      &error_abort);
    int ret;

    if (optstr && !qemu_opts_do_parse(opts, optstr, NULL, errp)) {
        qemu_opts_del(opts);
        return -EINVAL;
    }
    ret = bdrv_create(&bdrv_file, path, opts, errp);
    qemu_opts_del(opts);
    return ret;
}

static void test_create(void)
{
    g_autofree char *path = g_build_filename(tmp_dir, "new.img", NULL);
    g_autofree char *bad = g_build_filename(tmp_dir, "no/such/dir", NULL);
    g_autofree char *msg = NULL;
    BlockDriverState *bs;
    BlockBackend *blk;
    Error *err = NULL;
    int64_t pnum, map;
    int ret;

    /* qemu-img create -f raw x.raw 1000: rounded up to 1024 bytes. */
    g_assert_cmpint(create(path, "size=1000", &error_abort), ==, 0);
    g_assert_cmpint(file_stat(path).st_size, ==, 1024);

    /*
     * qemu-img create -f raw x.raw 1M; qemu-img map --output=json: the
     * first 4 KiB are data (written so that O_DIRECT probing finds a
     * block), the rest is a hole.
     */
    g_assert_cmpint(create(path, "size=1M", &error_abort), ==, 0);
    g_assert_cmpint(file_stat(path).st_size, ==, IMG_SIZE);
    blk = open_mode(path, NULL, 0);
    bs = blk_bs(blk);
    ret = bdrv_block_status(bs, 0, IMG_SIZE, &pnum, &map, NULL);
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO), ==,
                    BDRV_BLOCK_DATA);
    g_assert_cmpint(pnum, ==, 4096);
    ret = bdrv_block_status(bs, 4096, IMG_SIZE - 4096, &pnum, &map, NULL);
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO), ==,
                    BDRV_BLOCK_ZERO);
    g_assert_cmpint(pnum, ==, IMG_SIZE - 4096);
    /* qemu-img info: "disk size: 4 KiB". */
    g_assert_cmpint(bdrv_get_allocated_file_size(bs), ==, 4096);
    blk_unref(blk);

    /* preallocation=falloc / full: disk size 1 MiB. */
    g_assert_cmpint(create(path, "size=1M,preallocation=falloc",
                           &error_abort), ==, 0);
    g_assert_cmpint(file_stat(path).st_blocks * 512, >=, IMG_SIZE);
    g_assert_cmpint(create(path, "size=1M,preallocation=full,nocow=on",
                           &error_abort), ==, 0);
    g_assert_cmpint(file_stat(path).st_blocks * 512, >=, IMG_SIZE);

    /* qemu-img create -f raw -o preallocation=metadata y.raw 1M */
    g_assert_cmpint(create(path, "size=1M,preallocation=metadata", &err), <,
                    0);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Unsupported preallocation mode: metadata");
    g_clear_pointer(&err, error_free);

    /* qemu-img create -f raw -o preallocation=foo y.raw 1M */
    g_assert_cmpint(create(path, "size=1M,preallocation=foo", &err), ==,
                    -EINVAL);
    g_assert_cmpstr(error_get_pretty(err), ==, "invalid parameter value: foo");
    g_clear_pointer(&err, error_free);

    /* qemu-img create -f raw -o extent_size_hint=8G y.raw 1M */
    g_assert_cmpint(create(path, "size=1M,extent_size_hint=8G", &err), ==,
                    -EINVAL);
    g_assert_cmpstr(error_get_pretty(err), ==, "Extent size hint is too large");
    g_clear_pointer(&err, error_free);

    /* qemu-img create -f raw /nonexist/y.raw 1M */
    g_assert_cmpint(create(bad, "size=1M", &err), ==, -ENOENT);
    msg = g_strdup_printf("Could not create '%s': No such file or directory",
                          bad);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    g_clear_pointer(&err, error_free);

    /* The "file:" prefix is stripped. */
    {
        g_autofree char *prefixed = g_strdup_printf("file:%s", path);

        unlink(path);
        g_assert_cmpint(create(prefixed, "size=64k", &error_abort), ==, 0);
        g_assert_cmpint(file_stat(path).st_size, ==, 65536);
    }
    unlink(path);
}

/* qemu-img create -f raw -o help x: the options, their types and help. */
static void test_create_opts(void)
{
    static const struct {
        const char *name;
        enum QemuOptType type;
        const char *help;
    } expected[] = {
        { "size", QEMU_OPT_SIZE, "Virtual disk size" },
        { "nocow", QEMU_OPT_BOOL,
          "Turn off copy-on-write (valid only on btrfs)" },
        { "preallocation", QEMU_OPT_STRING,
          "Preallocation mode (allowed values: off, falloc, full)" },
        { "extent_size_hint", QEMU_OPT_SIZE,
          "Extent size hint for the image file, 0 to disable" },
    };
    QemuOptsList *list = bdrv_file.create_opts;
    size_t n = 0;

    while (list->desc[n].name) {
        n++;
    }
    g_assert_cmpint(n, ==, ARRAY_SIZE(expected));
    for (size_t i = 0; i < n; i++) {
        bool found = false;

        for (size_t j = 0; j < n; j++) {
            if (!strcmp(list->desc[j].name, expected[i].name)) {
                g_assert_cmpint(list->desc[j].type, ==, expected[i].type);
                g_assert_cmpstr(list->desc[j].help, ==, expected[i].help);
                found = true;
            }
        }
        g_assert_true(found);
    }
}

/* ---- Open errors (texts of qemu-io 7.2) ---- */

static void test_open_errors(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "errors.img", 65536);
    g_autofree char *missing = g_build_filename(tmp_dir, "missing", NULL);
    g_autofree char *expected = NULL;
    g_autofree char *msg = NULL;
    QDict *opts;

    /* qemu-io -f raw nonexist.img */
    msg = open_error(file_options(missing, NULL), 0);
    expected = g_strdup_printf("Could not open '%s': No such file or "
                               "directory", missing);
    g_assert_cmpstr(msg, ==, expected);
    g_clear_pointer(&msg, g_free);
    g_clear_pointer(&expected, g_free);

    /* qemu-io -r -f raw /tmp */
    msg = open_error(file_options(tmp_dir, NULL), 0);
    expected = g_strdup_printf("'file' driver requires '%s' to be a regular "
                               "file", tmp_dir);
    g_assert_cmpstr(msg, ==, expected);
    g_clear_pointer(&msg, g_free);
    g_clear_pointer(&expected, g_free);

    /* qemu-io -f raw /tmp */
    msg = open_error(file_options(tmp_dir, NULL), BDRV_O_RDWR);
    expected = g_strdup_printf("Could not open '%s': Is a directory",
                               tmp_dir);
    g_assert_cmpstr(msg, ==, expected);
    g_clear_pointer(&msg, g_free);

    /* qemu-io -c 'open -o driver=file,aio=native l.raw' */
    opts = file_options(path, NULL);
    qdict_put_str(opts, "aio", "native");
    msg = open_error(opts, BDRV_O_RDWR);
    g_assert_cmpstr(msg, ==, "aio=native was specified, but it requires "
                    "cache.direct=on, which was not specified.");
    g_clear_pointer(&msg, g_free);

    /* qemu-io -c 'open -o driver=file,aio=foo l.raw' */
    opts = file_options(path, NULL);
    qdict_put_str(opts, "aio", "foo");
    msg = open_error(opts, BDRV_O_RDWR);
    g_assert_cmpstr(msg, ==, "invalid parameter value: foo");
    g_clear_pointer(&msg, g_free);

    /* qemu-io -c 'open -o driver=file,locking=foo l.raw' */
    opts = file_options(path, NULL);
    qdict_put_str(opts, "locking", "bar");
    msg = open_error(opts, BDRV_O_RDWR);
    g_assert_cmpstr(msg, ==, "invalid parameter value: bar");
    g_clear_pointer(&msg, g_free);

    /* Unknown options are left for the generic check. */
    opts = file_options(path, NULL);
    qdict_put_str(opts, "pr-manager", "x");
    msg = open_error(opts, BDRV_O_RDWR);
    g_assert_cmpstr(msg, ==, "Block protocol 'file' doesn't support the "
                    "option 'pr-manager'");
    unlink(path);
}

/* ---- O_DIRECT alignment ---- */

static void test_direct_alignment(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "direct.img", IMG_SIZE);
    const AioMode direct = { "direct", "threads", true };
    BlockBackend *blk;
    uint32_t align;

    /* Give the probe real blocks to read. */
    {
        g_autofree uint8_t *buf = g_malloc0(IMG_SIZE);

        test_file_pwrite(path, 0, buf, IMG_SIZE);
    }
    blk = open_mode(path, &direct, BDRV_O_RDWR);
    if (!blk) {
        return;
    }
    align = blk_get_request_alignment(blk);
    /* What the kernel says O_DIRECT needs, when it tells (statx). */
#ifdef STATX_DIOALIGN
    {
        struct statx stx;

        if (statx(AT_FDCWD, path, 0, STATX_DIOALIGN, &stx) == 0 &&
            (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
            g_assert_cmpint(align, ==, stx.stx_dio_offset_align);
        }
    }
#endif
    g_assert_cmpint(align, >=, 512);
    g_assert_cmpint(align & (align - 1), ==, 0);
    blk_unref(blk);

    /* Without O_DIRECT requests are byte-granular. */
    blk = open_mode(path, NULL, BDRV_O_RDWR);
    g_assert_cmpint(blk_get_request_alignment(blk), ==, 1);
    blk_unref(blk);
    unlink(path);
}

/* ---- Access modes ---- */

/* The access mode of the descriptors this process has open on path. */
static int count_fds(const char *path, int accmode)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    const char *name;
    int n = 0;

    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *link = g_strdup_printf("/proc/self/fd/%s", name);
        g_autofree char *target = g_file_read_link(link, NULL);
        int fd = atoi(name);

        if (target && !strcmp(target, path) &&
            (fcntl(fd, F_GETFL) & O_ACCMODE) == accmode) {
            n++;
        }
    }
    return n;
}

static int count_direct_fds(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    const char *name;
    int n = 0;

    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *link = g_strdup_printf("/proc/self/fd/%s", name);
        g_autofree char *target = g_file_read_link(link, NULL);

        if (target && !strcmp(target, path) &&
            (fcntl(atoi(name), F_GETFL) & O_DIRECT)) {
            n++;
        }
    }
    return n;
}

/* auto-read-only: read-only until a writer comes, then read-write. */
static void test_auto_read_only(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "auto.img", 65536);
    g_autofree char *real = realpath(path, NULL);
    BlockBackend *blk;

    blk = blk_new_open(NULL, NULL, file_options(path, NULL),
                       BDRV_O_RDWR | BDRV_O_AUTO_RDONLY | BDRV_O_NO_IO,
                       &error_abort);
    g_assert_cmpint(count_fds(real, O_RDONLY), ==, 1);
    g_assert_cmpint(count_fds(real, O_RDWR), ==, 0);

    g_assert_cmpint(blk_set_perm(blk, BLK_PERM_CONSISTENT_READ |
                                 BLK_PERM_WRITE, BLK_PERM_ALL, &error_abort),
                    ==, 0);
    g_assert_cmpint(count_fds(real, O_RDONLY), ==, 0);
    g_assert_cmpint(count_fds(real, O_RDWR), ==, 1);
    g_assert_cmpint(blk_pwrite(blk, 0, 4, "data", 0), ==, 0);

    g_assert_cmpint(blk_set_perm(blk, BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL,
                                 &error_abort), ==, 0);
    g_assert_cmpint(count_fds(real, O_RDONLY), ==, 1);
    g_assert_cmpint(count_fds(real, O_RDWR), ==, 0);
    blk_unref(blk);
    unlink(path);
}

/* Reopening read-write and back swaps the descriptor. */
static void test_reopen(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "reopen.img", 65536);
    g_autofree char *real = realpath(path, NULL);
    BlockBackend *blk;
    BlockDriverState *bs;

    blk = blk_new_open(NULL, NULL, file_options(path, NULL), 0,
                       &error_abort);
    bs = blk_bs(blk);
    g_assert_cmpint(count_fds(real, O_RDONLY), ==, 1);

    bdrv_ref(bs);
    blk_unref(blk);
    g_assert_cmpint(bdrv_reopen_set_read_only(bs, false, &error_abort), ==,
                    0);
    g_assert_cmpint(count_fds(real, O_RDWR), ==, 1);
    blk = blk_new_with_bs(bs, BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                          BLK_PERM_ALL, &error_abort);
    g_assert_cmpint(blk_pwrite(blk, 0, 4, "abcd", 0), ==, 0);
    blk_unref(blk);

    g_assert_cmpint(bdrv_reopen_set_read_only(bs, true, &error_abort), ==, 0);
    g_assert_cmpint(count_fds(real, O_RDONLY), ==, 1);
    g_assert_cmpint(count_fds(real, O_RDWR), ==, 0);
    bdrv_unref(bs);
    g_assert_cmpint(count_fds(real, O_RDONLY), ==, 0);
    unlink(path);
}

/* cache.direct can be switched by reopen: a new descriptor, new limits. */
static void test_reopen_direct(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "direct-reopen.img",
                                          IMG_SIZE);
    g_autofree char *real = realpath(path, NULL);
    BlockBackend *blk;
    BlockDriverState *bs;
    QDict *opts;
    uint8_t buf[4096];

    memset(buf, 0x5a, sizeof(buf));
    test_file_pwrite(path, 0, buf, sizeof(buf));
    blk = open_mode(path, NULL, BDRV_O_RDWR);
    bs = blk_bs(blk);
    g_assert_cmpint(count_direct_fds(real), ==, 0);
    g_assert_cmpint(bs->bl.request_alignment, ==, 1);

    opts = qdict_new();
    qdict_put_str(opts, "cache.direct", "on");
    if (bdrv_reopen(bs, opts, true, NULL) < 0) {
        g_test_skip("O_DIRECT not supported here");
        blk_unref(blk);
        return;
    }
    g_assert_cmpint(count_direct_fds(real), ==, 1);
    g_assert_cmpint(bs->bl.request_alignment, >=, 512);
    g_assert_cmpint(blk_pwrite(blk, 1, 2, "xy", 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, 0, 4, buf, 0), ==, 0);
    g_assert_cmpmem(buf, 4, "\x5axy\x5a", 4);

    opts = qdict_new();
    qdict_put_str(opts, "cache.direct", "off");
    g_assert_cmpint(bdrv_reopen(bs, opts, true, &error_abort), ==, 0);
    g_assert_cmpint(count_direct_fds(real), ==, 0);
    g_assert_cmpint(bs->bl.request_alignment, ==, 1);
    blk_unref(blk);
    unlink(path);
}

/* "file:" is the default protocol's explicit prefix. */
static void test_file_prefix(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "prefix.img", 65536);
    g_autofree char *name = g_strdup_printf("file:%s", path);
    QDict *opts = qdict_new();
    BlockBackend *blk;

    qdict_put_str(opts, "driver", "file");
    blk = blk_new_open(name, NULL, opts, 0, &error_abort);
    g_assert_cmpstr(blk_bs(blk)->filename, ==, path);
    blk_unref(blk);

    /* Without a driver: probed raw on top of a file node. */
    blk = blk_new_open(name, NULL, NULL, 0, &error_abort);
    g_assert_cmpstr(blk_bs(blk)->file->bs->drv->format_name, ==, "file");
    g_assert_cmpstr(blk_bs(blk)->file->bs->filename, ==, path);
    blk_unref(blk);
    unlink(path);
}

typedef struct DriverCall {
    BlockDriverState *bs;
    bool delete_file;
    int ret;
    Error *err;
    bool done;
} DriverCall;

static void coroutine_fn driver_call_entry(void *opaque)
{
    DriverCall *c = opaque;

    if (c->delete_file) {
        c->ret = c->bs->drv->bdrv_co_delete_file(c->bs, &c->err);
    } else {
        c->bs->drv->bdrv_co_invalidate_cache(c->bs, &c->err);
    }
    c->done = true;
}

/* Run a driver callback in a coroutine, as the (future) callers will. */
static void driver_call(DriverCall *c)
{
    qemu_coroutine_enter(qemu_coroutine_create(driver_call_entry, c));
    while (!c->done) {
        aio_poll(qemu_get_aio_context(), true);
    }
}

/* Callbacks without a generic caller yet: invalidate_cache, delete_file. */
static void test_driver_callbacks(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "callbacks.img", IMG_SIZE);
    g_autofree char *msg = g_strdup_printf(
        "%s is not a regular file: No such file or directory", path);
    g_autofree uint8_t *buf = g_malloc(IMG_SIZE);
    QDict *opts = file_options(path, NULL);
    BlockBackend *blk;
    DriverCall c;

    qdict_put_str(opts, "x-check-cache-dropped", "on");
    blk = blk_new_open(NULL, NULL, opts, BDRV_O_RDWR, &error_abort);
    fill(buf, IMG_SIZE, 11);
    g_assert_cmpint(blk_pwrite(blk, 0, IMG_SIZE, buf, 0), ==, 0);

    /* Flushes, drops the page cache and checks with mincore it's gone. */
    c = (DriverCall) { .bs = blk_bs(blk) };
    driver_call(&c);
    g_assert_null(c.err);

    c = (DriverCall) { .bs = blk_bs(blk), .delete_file = true };
    driver_call(&c);
    g_assert_cmpint(c.ret, ==, 0);
    g_assert_cmpint(access(path, F_OK), <, 0);

    c = (DriverCall) { .bs = blk_bs(blk), .delete_file = true };
    driver_call(&c);
    g_assert_cmpint(c.ret, ==, -ENOENT);
    g_assert_cmpstr(error_get_pretty(c.err), ==, msg);
    error_free(c.err);
    blk_unref(blk);
}

static void add_mode_test(const char *test, GTestDataFunc fn)
{
    for (size_t i = 0; i < ARRAY_SIZE(aio_modes); i++) {
        g_autofree char *name = g_strdup_printf("/file-posix/%s/%s",
                                                aio_modes[i].name, test);

        g_test_add_data_func(name, &aio_modes[i], fn);
    }
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    tmp_dir = test_tmp_dir("QBLOCK_TEST_FILE_POSIX_DIR",
                           "test-file-posix-XXXXXX");

    add_mode_test("rw", test_rw);
    add_mode_test("misaligned-buffers", test_misaligned_buffers);
    add_mode_test("short-file", test_short_file);
    add_mode_test("discard-zeroes", test_discard_zeroes);
    add_mode_test("truncate", test_truncate);
    g_test_add_func("/file-posix/block-status", test_block_status);
    g_test_add_func("/file-posix/length-cached", test_length_cached);
    g_test_add_func("/file-posix/create", test_create);
    g_test_add_func("/file-posix/create-opts", test_create_opts);
    g_test_add_func("/file-posix/open-errors", test_open_errors);
    g_test_add_func("/file-posix/direct-alignment", test_direct_alignment);
    g_test_add_func("/file-posix/auto-read-only", test_auto_read_only);
    g_test_add_func("/file-posix/reopen", test_reopen);
    g_test_add_func("/file-posix/reopen-direct", test_reopen_direct);
    g_test_add_func("/file-posix/file-prefix", test_file_prefix);
    g_test_add_func("/file-posix/driver-callbacks", test_driver_callbacks);
    ret = g_test_run();

    bdrv_close_all();
    test_remove_tree(tmp_dir);
    g_free(tmp_dir);
    return ret;
}
