/*
 * BlockBackend (block-core.md §2.13, §7 test-block-backend): requests
 * without a medium complete with -ENOMEDIUM and blk_drain/blk_drain_all
 * wait for them; byte-range checks; requests queued while drained; the
 * AIO interface's callback rules; permissions from open flags (§1.4);
 * the root edge (child_root) seen from the node.
 */
#include "qemu/osdep.h"
#include "block/block-backend.h"
#include "block/block_int.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

#define IMAGE_SIZE (64 * 1024)

/* ---- A memory driver that grows when written past its end ---- */

typedef struct BDRVMemState {
    uint8_t *data;
    int64_t size;
    int reads;
    /* Reads sleep this long (0: complete at once). */
    int64_t read_delay_ns;
} BDRVMemState;

static int mem_open(BlockDriverState *bs, QDict *options, int flags,
                    Error **errp)
{
    BDRVMemState *s = bs->opaque;

    s->size = IMAGE_SIZE;
    s->data = g_malloc0(s->size);
    return 0;
}

static void mem_close(BlockDriverState *bs)
{
    BDRVMemState *s = bs->opaque;

    g_free(s->data);
}

static int64_t mem_getlength(BlockDriverState *bs)
{
    BDRVMemState *s = bs->opaque;

    return s->size;
}

static int coroutine_fn mem_co_preadv(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      BdrvRequestFlags flags)
{
    BDRVMemState *s = bs->opaque;

    s->reads++;
    if (s->read_delay_ns) {
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, s->read_delay_ns);
    }
    g_assert_cmpint(offset + bytes, <=, s->size);
    qemu_iovec_from_buf(qiov, 0, s->data + offset, bytes);
    return 0;
}

static int coroutine_fn mem_co_pwritev(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    BDRVMemState *s = bs->opaque;

    if (offset + bytes > s->size) {
        s->data = g_realloc(s->data, offset + bytes);
        memset(s->data + s->size, 0, offset + bytes - s->size);
        s->size = offset + bytes;
    }
    qemu_iovec_to_buf(qiov, 0, s->data + offset, bytes);
    return 0;
}

static BlockDriver bdrv_mem = {
    .format_name            = "mem",
    .instance_size          = sizeof(BDRVMemState),
    .has_variable_length    = true,
    .bdrv_open              = mem_open,
    .bdrv_close             = mem_close,
    .bdrv_getlength         = mem_getlength,
    .bdrv_co_preadv         = mem_co_preadv,
    .bdrv_co_pwritev        = mem_co_pwritev,
};

static BlockBackend *mem_blk(void)
{
    BlockDriverState *bs = bdrv_new_open_driver(&bdrv_mem, NULL, BDRV_O_RDWR,
                                                &error_abort);
    BlockBackend *blk = blk_new_with_bs(bs, BLK_PERM_ALL, BLK_PERM_ALL,
                                        &error_abort);

    bdrv_unref(bs);
    return blk;
}

static BDRVMemState *mem_state(BlockBackend *blk)
{
    return blk_bs(blk)->opaque;
}

typedef struct AioResult {
    int ret;
    int calls;
    /* Set after the submitting call returned. */
    bool returned;
    bool returned_at_callback;
} AioResult;

static void aio_result_cb(void *opaque, int ret)
{
    AioResult *r = opaque;

    r->ret = ret;
    r->calls++;
    r->returned_at_callback = r->returned;
}

static void wait_for(AioResult *r)
{
    while (!r->calls) {
        aio_poll(qemu_get_aio_context(), true);
    }
}

/* ---- §7: -ENOMEDIUM completions and drain ---- */

static void test_drain_aio_error(void)
{
    BlockBackend *blk = blk_new(qemu_get_aio_context(), BLK_PERM_ALL,
                                BLK_PERM_ALL);
    AioResult r = { 0 };
    BlockAIOCB *acb;

    acb = blk_aio_flush(blk, aio_result_cb, &r);
    r.returned = true;
    g_assert(acb != NULL);
    g_assert_cmpint(r.calls, ==, 0);

    blk_drain(blk);
    g_assert_cmpint(r.calls, ==, 1);
    g_assert_cmpint(r.ret, ==, -ENOMEDIUM);
    g_assert(r.returned_at_callback);
    blk_unref(blk);
}

static void test_drain_all_aio_error(void)
{
    BlockBackend *blk = blk_new(qemu_get_aio_context(), BLK_PERM_ALL,
                                BLK_PERM_ALL);
    AioResult r = { 0 };

    g_assert(blk_aio_flush(blk, aio_result_cb, &r) != NULL);
    g_assert_cmpint(r.calls, ==, 0);

    blk_drain_all();
    g_assert_cmpint(r.calls, ==, 1);
    g_assert_cmpint(r.ret, ==, -ENOMEDIUM);
    blk_unref(blk);
}

/* Every request type fails alike without a medium. */
static void test_no_medium(void)
{
    BlockBackend *blk = blk_new(qemu_get_aio_context(), BLK_PERM_ALL,
                                BLK_PERM_ALL);
    uint8_t buf[512] = { 0 };
    AioResult r = { 0 };
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, sizeof(buf));

    g_assert(!blk_is_inserted(blk));
    g_assert(!blk_is_available(blk));
    g_assert(blk_bs(blk) == NULL);
    g_assert_cmpint(blk_getlength(blk), ==, -ENOMEDIUM);
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, -ENOMEDIUM);
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, -ENOMEDIUM);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, 0), ==, -ENOMEDIUM);
    g_assert_cmpint(blk_pdiscard(blk, 0, 512), ==, -ENOMEDIUM);
    g_assert_cmpint(blk_flush(blk), ==, -ENOMEDIUM);
    g_assert_cmpint(blk_save_vmstate(blk, buf, 0, 512), ==, -ENOMEDIUM);
    /* A negative length is checked before the medium, the offset after */
    g_assert_cmpint(blk_pread(blk, 0, -1, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pread(blk, -1, 512, buf, 0), ==, -ENOMEDIUM);
    /* Defaults without a node. */
    g_assert_cmpint(blk_get_request_alignment(blk), ==, BDRV_SECTOR_SIZE);
    g_assert_cmpint(blk_get_max_transfer(blk), ==,
                    QEMU_ALIGN_DOWN(INT_MAX, BDRV_SECTOR_SIZE));

    blk_aio_preadv(blk, 0, &qiov, 0, aio_result_cb, &r);
    wait_for(&r);
    g_assert_cmpint(r.ret, ==, -ENOMEDIUM);
    blk_unref(blk);
}

/* ---- I/O through a BlockBackend ---- */

static void test_io(void)
{
    BlockBackend *blk = mem_blk();
    uint8_t buf[4096], out[4096];

    for (int i = 0; i < sizeof(buf); i++) {
        buf[i] = i * 7;
    }
    g_assert_cmpint(blk_getlength(blk), ==, IMAGE_SIZE);
    g_assert_cmpint(blk_nb_sectors(blk), ==, IMAGE_SIZE / BDRV_SECTOR_SIZE);
    g_assert_cmpint(blk_pwrite(blk, 1000, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, 1000, sizeof(out), out, 0), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), out, sizeof(out));

    g_assert_cmpint(blk_pwrite_zeroes(blk, 2000, 100, 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, 1000, sizeof(out), out, 0), ==, 0);
    g_assert_cmpmem(buf, 1000, out, 1000);
    g_assert(buffer_is_zero(out + 1000, 100));
    g_assert_cmpmem(buf + 1100, sizeof(buf) - 1100, out + 1100,
                    sizeof(out) - 1100);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    blk_unref(blk);
}

/* ---- §2.13: byte-range checks ---- */

static void test_range_checks(void)
{
    BlockBackend *blk = mem_blk();
    uint8_t buf[1024] = { 0 };

    g_assert_cmpint(blk_pread(blk, IMAGE_SIZE - 512, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, IMAGE_SIZE - 512, 1024, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pread(blk, IMAGE_SIZE, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pread(blk, IMAGE_SIZE + 512, 0, buf, 0), ==, -EIO);
    /* Zero bytes at the end is in range (and, aligned, reaches the node) */
    g_assert_cmpint(blk_pread(blk, IMAGE_SIZE, 0, buf, 0), ==, 0);
    g_assert_cmpint(blk_pwrite(blk, IMAGE_SIZE, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite(blk, -512, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite_zeroes(blk, IMAGE_SIZE - 512, 1024, 0),
                    ==, -EIO);
    g_assert_cmpint(blk_pdiscard(blk, IMAGE_SIZE, 512), ==, -EIO);
    g_assert_cmpint(blk_pread(blk, INT64_MAX - 10, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(mem_state(blk)->reads, ==, 2);
    blk_unref(blk);
}

static int resizes;

static void count_resize(void *opaque)
{
    resizes++;
}

static const BlockDevOps resize_ops = {
    .resize_cb = count_resize,
};

/* Image creation writes past the end; parents hear about the growth. */
static void test_write_beyond_eof(void)
{
    BlockBackend *blk = mem_blk();
    uint8_t buf[1024];

    memset(buf, 0x42, sizeof(buf));
    blk_set_dev_ops(blk, &resize_ops, NULL);
    resizes = 0;

    g_assert_cmpint(blk_pwrite(blk, IMAGE_SIZE, 1024, buf, 0), ==, -EIO);
    blk_set_allow_write_beyond_eof(blk, true);
    g_assert_cmpint(blk_pwrite(blk, IMAGE_SIZE, 1024, buf, 0), ==, 0);
    g_assert_cmpint(blk_getlength(blk), ==, IMAGE_SIZE + 1024);
    g_assert_cmpint(resizes, ==, 1);

    blk_set_allow_write_beyond_eof(blk, false);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(blk_pread(blk, IMAGE_SIZE, 1024, buf, 0), ==, 0);
    for (int i = 0; i < sizeof(buf); i++) {
        g_assert_cmpuint(buf[i], ==, 0x42);
    }
    /* A write inside the image does not resize. */
    g_assert_cmpint(blk_pwrite(blk, 0, 1024, buf, 0), ==, 0);
    g_assert_cmpint(resizes, ==, 1);
    blk_unref(blk);
}

/* The node grew behind the BlockBackend's back (variable length). */
static void test_length_refreshed(void)
{
    BlockBackend *blk = mem_blk();
    BDRVMemState *s = mem_state(blk);
    uint8_t buf[512] = { 0 };

    s->data = g_realloc(s->data, 2 * IMAGE_SIZE);
    memset(s->data + IMAGE_SIZE, 7, IMAGE_SIZE);
    s->size = 2 * IMAGE_SIZE;

    g_assert_cmpint(blk_pread(blk, IMAGE_SIZE, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpuint(buf[0], ==, 7);
    g_assert_cmpint(blk_getlength(blk), ==, 2 * IMAGE_SIZE);
    blk_unref(blk);
}

/* ---- §2.13: the AIO interface ---- */

static void test_aio_callback_order(void)
{
    BlockBackend *blk = mem_blk();
    uint8_t buf[512];
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, sizeof(buf));
    AioResult r[3] = { { 0 } };

    /* These complete at once; callbacks still wait for the event loop. */
    blk_aio_preadv(blk, 0, &qiov, 0, aio_result_cb, &r[0]);
    r[0].returned = true;
    blk_aio_pwritev(blk, 512, &qiov, 0, aio_result_cb, &r[1]);
    r[1].returned = true;
    blk_aio_pwrite_zeroes(blk, IMAGE_SIZE, 512, 0, aio_result_cb, &r[2]);
    r[2].returned = true;
    g_assert_cmpint(r[0].calls + r[1].calls + r[2].calls, ==, 0);

    blk_drain(blk);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(r[i].calls, ==, 1);
        g_assert(r[i].returned_at_callback);
    }
    g_assert_cmpint(r[0].ret, ==, 0);
    g_assert_cmpint(r[1].ret, ==, 0);
    g_assert_cmpint(r[2].ret, ==, -EIO);
    blk_unref(blk);
}

/* Cancelling a request that can't be cancelled waits for it, once. */
static void test_aio_cancel(void)
{
    BlockBackend *blk = mem_blk();
    uint8_t buf[512];
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, sizeof(buf));
    AioResult r = { 0 };
    BlockAIOCB *acb;

    mem_state(blk)->read_delay_ns = 1000000;
    acb = blk_aio_preadv(blk, 0, &qiov, 0, aio_result_cb, &r);
    blk_aio_cancel(acb);
    g_assert_cmpint(r.calls, ==, 1);
    g_assert_cmpint(r.ret, ==, 0);

    r.calls = 0;
    acb = blk_aio_preadv(blk, 0, &qiov, 0, aio_result_cb, &r);
    blk_aio_cancel_async(acb);
    blk_drain(blk);
    g_assert_cmpint(r.calls, ==, 1);
    blk_unref(blk);
}

/* blk_drain waits for requests in flight on the node. */
static void test_drain_waits(void)
{
    BlockBackend *blk = mem_blk();
    uint8_t buf[512];
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, sizeof(buf));
    AioResult r[4] = { { 0 } };

    mem_state(blk)->read_delay_ns = 1000000;
    for (int i = 0; i < 4; i++) {
        blk_aio_preadv(blk, 0, &qiov, 0, aio_result_cb, &r[i]);
    }
    blk_drain(blk);
    for (int i = 0; i < 4; i++) {
        g_assert_cmpint(r[i].calls, ==, 1);
    }
    blk_unref(blk);
}

/* ---- §2.12: requests wait while the node is drained ---- */

static int drained_begins, drained_ends;

static void dev_drained_begin(void *opaque)
{
    drained_begins++;
}

static void dev_drained_end(void *opaque)
{
    drained_ends++;
}

static const BlockDevOps drain_ops = {
    .drained_begin = dev_drained_begin,
    .drained_end = dev_drained_end,
};

static void test_queued_while_drained(void)
{
    BlockBackend *blk = mem_blk();
    BlockDriverState *bs = blk_bs(blk);
    uint8_t buf[512];
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, buf, sizeof(buf));
    AioResult r = { 0 };

    blk_set_dev_ops(blk, &drain_ops, NULL);
    drained_begins = drained_ends = 0;

    bdrv_drained_begin(bs);
    bdrv_drained_begin(bs);
    /* The user hears of the first begin only. */
    g_assert_cmpint(drained_begins, ==, 1);

    blk_aio_preadv(blk, 0, &qiov, 0, aio_result_cb, &r);
    while (aio_poll(qemu_get_aio_context(), false)) {
        /* run everything that can run */
    }
    /* Parked: the driver saw nothing, nothing counts as in flight. */
    g_assert_cmpint(r.calls, ==, 0);
    g_assert_cmpint(mem_state(blk)->reads, ==, 0);
    g_assert_cmpint(bs->in_flight, ==, 0);

    bdrv_drained_end(bs);
    while (aio_poll(qemu_get_aio_context(), false)) {
        /* still drained once */
    }
    g_assert_cmpint(r.calls, ==, 0);
    g_assert_cmpint(drained_ends, ==, 0);

    bdrv_drained_end(bs);
    g_assert_cmpint(drained_ends, ==, 1);
    wait_for(&r);
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_cmpint(mem_state(blk)->reads, ==, 1);

    /* Internal users may opt out of queuing. */
    blk_set_disable_request_queuing(blk, true);
    bdrv_drained_begin(bs);
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(mem_state(blk)->reads, ==, 2);
    bdrv_drained_end(bs);
    blk_unref(blk);
}

/* ---- Medium changes and the root edge ---- */

static void test_insert_remove(void)
{
    BlockBackend *blk = blk_new(qemu_get_aio_context(), BLK_PERM_ALL,
                                BLK_PERM_ALL);
    BlockDriverState *bs = bdrv_new_open_driver(&bdrv_mem, NULL, BDRV_O_RDWR,
                                                &error_abort);
    BdrvChild *root;
    g_autofree char *desc = NULL;
    uint64_t perm, shared;

    g_assert_cmpint(blk_insert_bs(blk, bs, &error_abort), ==, 0);
    g_assert(blk_bs(blk) == bs);
    g_assert_cmpint(bs->refcnt, ==, 2);
    g_assert(blk_is_writable(blk));
    g_assert_cmpint(blk_get_flags(blk) & BDRV_O_RDWR, ==, BDRV_O_RDWR);

    /* The node sees the BlockBackend as its parent. */
    root = QLIST_FIRST(&bs->parents);
    g_assert(root && root->opaque == blk);
    g_assert_cmpstr(root->name, ==, "root");
    g_assert_cmpint(root->role, ==, BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY);
    g_assert_cmpuint(root->perm, ==, BLK_PERM_ALL);
    desc = root->klass->get_parent_desc(root);
    g_assert_cmpstr(desc, ==, "an unnamed block device");
    g_assert_cmpstr(root->klass->get_name(root), ==, "");
    g_assert_cmpstr(blk_name(blk), ==, "");

    /* Permissions change on the edge too. */
    g_assert_cmpint(blk_set_perm(blk, BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL,
                                 &error_abort), ==, 0);
    g_assert_cmpuint(root->perm, ==, BLK_PERM_CONSISTENT_READ);
    blk_get_perm(blk, &perm, &shared);
    g_assert_cmpuint(perm, ==, BLK_PERM_CONSISTENT_READ);
    g_assert_cmpuint(shared, ==, BLK_PERM_ALL);

    /* Removed: the flags are remembered. */
    blk_remove_bs(blk);
    g_assert(blk_bs(blk) == NULL);
    g_assert_cmpint(bs->refcnt, ==, 1);
    g_assert(blk_is_writable(blk));
    g_assert_cmpint(blk_get_flags(blk) & BDRV_O_RDWR, ==, BDRV_O_RDWR);
    bdrv_unref(bs);
    blk_unref(blk);
}

/* Iteration over nodes with users: each node once. */
static void test_bdrv_next(void)
{
    BlockBackend *a = mem_blk(), *b, *c = mem_blk();
    BdrvNextIterator it;
    BlockDriverState *bs;
    int count = 0;
    bool seen_a = false, seen_c = false;

    b = blk_new_with_bs(blk_bs(a), BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL,
                        &error_abort);
    for (bs = bdrv_first(&it); bs; bs = bdrv_next(&it)) {
        count++;
        seen_a |= bs == blk_bs(a);
        seen_c |= bs == blk_bs(c);
    }
    g_assert_cmpint(count, ==, 2);
    g_assert(seen_a && seen_c);

    /* Stopping early needs the cleanup. */
    bs = bdrv_first(&it);
    g_assert(bs);
    bdrv_next_cleanup(&it);

    g_assert_cmpint(bdrv_flush_all(), ==, 0);
    blk_unref(b);
    blk_unref(a);
    blk_unref(c);
}

/* ---- §1.4: blk_new_open derives permissions from the flags ---- */

static void expect_open_perms(int flags, uint64_t perm, uint64_t shared)
{
    QDict *opts = qdict_new();
    BlockBackend *blk;
    uint64_t p, s;

    qdict_put_str(opts, "driver", "null-co");
    blk = blk_new_open(NULL, NULL, opts, flags, &error_abort);
    blk_get_perm(blk, &p, &s);
    g_assert_cmpuint(p, ==, perm);
    g_assert_cmpuint(s, ==, shared);
    blk_unref(blk);
}

static void test_new_open(void)
{
    Error *err = NULL;

    expect_open_perms(0, BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL);
    expect_open_perms(BDRV_O_RDWR,
                      BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                      BLK_PERM_ALL);
    expect_open_perms(BDRV_O_RDWR | BDRV_O_RESIZE,
                      BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE |
                      BLK_PERM_RESIZE, BLK_PERM_ALL);
    expect_open_perms(BDRV_O_NO_SHARE, BLK_PERM_CONSISTENT_READ,
                      BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE_UNCHANGED);
    expect_open_perms(BDRV_O_NO_IO | BDRV_O_RDWR, 0, BLK_PERM_ALL);

    g_assert(!blk_new_open("no-such-protocol://x", NULL, NULL, 0, &err));
    g_assert(err);
    error_free(err);
}

/* The largest request a BlockBackend passes on in one piece. */
static void test_max_transfer(void)
{
    BlockBackend *blk = mem_blk();

    blk_bs(blk)->bl.max_transfer = 65536;
    g_assert_cmpint(blk_get_max_transfer(blk), ==, 65536);
    blk_bs(blk)->bl.max_transfer = 0;
    g_assert_cmpint(blk_get_max_transfer(blk), ==, INT_MAX);
    blk_unref(blk);
}

int main(int argc, char **argv)
{
    qemu_init_main_loop(&error_abort);
    bdrv_init();
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/block-backend/drain_aio_error", test_drain_aio_error);
    g_test_add_func("/block-backend/drain_all_aio_error",
                    test_drain_all_aio_error);
    g_test_add_func("/block-backend/no-medium", test_no_medium);
    g_test_add_func("/block-backend/io", test_io);
    g_test_add_func("/block-backend/range-checks", test_range_checks);
    g_test_add_func("/block-backend/write-beyond-eof", test_write_beyond_eof);
    g_test_add_func("/block-backend/length-refreshed", test_length_refreshed);
    g_test_add_func("/block-backend/aio/callback-order",
                    test_aio_callback_order);
    g_test_add_func("/block-backend/aio/cancel", test_aio_cancel);
    g_test_add_func("/block-backend/drain-waits", test_drain_waits);
    g_test_add_func("/block-backend/queued-while-drained",
                    test_queued_while_drained);
    g_test_add_func("/block-backend/insert-remove", test_insert_remove);
    g_test_add_func("/block-backend/bdrv-next", test_bdrv_next);
    g_test_add_func("/block-backend/new-open", test_new_open);
    g_test_add_func("/block-backend/max-transfer", test_max_transfer);

    return g_test_run();
}
