/*
 * The request path of block/io.c, observed from a driver that records every
 * request it receives.
 *
 * The expected request sequences are derived from QEMU 7.2's documented
 * semantics (block-core.md §2, cited at each test), never from our output:
 * alignment padding and read-modify-write (§2.2, §2.3), max_transfer
 * splitting and zeroes past EOF (§2.2), serialising requests (§2.4), FUA
 * emulation (§2.3, §2.5), write zeroes splitting and fallback (§2.6),
 * discard fragmentation (§2.7), flush generations (§2.8), copy-on-read
 * (§2.10) and block status over backing chains (§2.11).
 */
#include "qemu/osdep.h"
#include "block/block-backend.h"
#include "block/block_int.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

#define KiB 1024
#define MiB (1024 * KiB)

/* ---- The recording driver ---- */

typedef enum {
    OP_READ,
    OP_WRITE,
    OP_ZERO,
    OP_DISCARD,
    OP_FLUSH,
    OP_COMPRESSED,
    OP_TRUNCATE,
} OpType;

typedef struct Op {
    OpType type;
    int64_t offset;
    int64_t bytes;
    int flags;
} Op;

typedef struct TestConfig {
    int64_t size;
    uint32_t align;
    uint32_t max_transfer;
    uint32_t pwrite_zeroes_alignment;
    int64_t max_pwrite_zeroes;
    uint32_t pdiscard_alignment;
    int64_t max_pdiscard;
    BdrvRequestFlags write_flags;       /* supported_write_flags */
    BdrvRequestFlags zero_flags;        /* supported_zero_flags */
    bool zeroes_enotsup;                /* co_pwrite_zeroes says -ENOTSUP */
    int discard_ret;                    /* what co_pdiscard returns */
    /*
     * cow driver only: allocation granularity; unallocated clusters read
     * from the backing file (or as zeroes), like a format driver.
     */
    int64_t cluster;
} TestConfig;

typedef struct BDRVRecState {
    TestConfig cfg;
    uint8_t *data;
    bool *allocated;            /* per cluster (cow driver) */
    GArray *ops;
    GArray *events;
    /* A read parked until the test lets it go. */
    bool hold_reads;
    Coroutine *held;
    /* The tracked request the last write found for itself. */
    BdrvTrackedRequest self_req;
    bool self_req_found;
} BDRVRecState;

/* Configuration for the next node opened (drivers get no arguments). */
static TestConfig next_config;

static void record(BlockDriverState *bs, OpType type, int64_t offset,
                   int64_t bytes, int flags)
{
    BDRVRecState *s = bs->opaque;
    Op op = { type, offset, bytes, flags };

    g_array_append_val(s->ops, op);
}

static int rec_open(BlockDriverState *bs, QDict *options, int flags,
                    Error **errp)
{
    BDRVRecState *s = bs->opaque;

    s->cfg = next_config;
    s->data = g_malloc0(s->cfg.size);
    if (s->cfg.cluster) {
        s->allocated = g_new0(bool, DIV_ROUND_UP(s->cfg.size,
                                                 s->cfg.cluster));
    }
    s->ops = g_array_new(false, false, sizeof(Op));
    s->events = g_array_new(false, false, sizeof(BlkdebugEvent));
    bs->supported_write_flags = s->cfg.write_flags;
    bs->supported_zero_flags = s->cfg.zero_flags;
    return 0;
}

static void rec_close(BlockDriverState *bs)
{
    BDRVRecState *s = bs->opaque;

    g_free(s->data);
    g_free(s->allocated);
    g_array_free(s->ops, true);
    g_array_free(s->events, true);
}

static int64_t rec_getlength(BlockDriverState *bs)
{
    BDRVRecState *s = bs->opaque;

    return s->cfg.size;
}

static void rec_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVRecState *s = bs->opaque;

    bs->bl.request_alignment = s->cfg.align;
    bs->bl.max_transfer = s->cfg.max_transfer;
    bs->bl.pwrite_zeroes_alignment = s->cfg.pwrite_zeroes_alignment;
    bs->bl.max_pwrite_zeroes = s->cfg.max_pwrite_zeroes;
    bs->bl.pdiscard_alignment = s->cfg.pdiscard_alignment;
    bs->bl.max_pdiscard = s->cfg.max_pdiscard;
}

/* The driver side of the contract (block_int.h): it is what we test. */
static void check_contract(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, QEMUIOVector *qiov)
{
    BDRVRecState *s = bs->opaque;

    g_assert_cmpint(offset % s->cfg.align, ==, 0);
    g_assert_cmpint(bytes % s->cfg.align, ==, 0);
    if (s->cfg.max_transfer) {
        g_assert_cmpint(bytes, <=, s->cfg.max_transfer);
    }
    g_assert_cmpint(offset + bytes, <=, s->cfg.size);
    if (qiov) {
        g_assert_cmpuint(qiov->size, ==, bytes);
    }
}

static int coroutine_fn rec_co_preadv(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      BdrvRequestFlags flags)
{
    BDRVRecState *s = bs->opaque;

    check_contract(bs, offset, bytes, qiov);
    record(bs, OP_READ, offset, bytes, flags);
    if (s->hold_reads) {
        s->held = qemu_coroutine_self();
        qemu_coroutine_yield();
    }
    qemu_iovec_from_buf(qiov, 0, s->data + offset, bytes);
    return 0;
}

static int coroutine_fn rec_co_pwritev(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    BDRVRecState *s = bs->opaque;

    BdrvTrackedRequest *req = bdrv_co_get_self_request(bs);

    check_contract(bs, offset, bytes, qiov);
    record(bs, OP_WRITE, offset, bytes, flags);
    s->self_req_found = req != NULL;
    if (req) {
        s->self_req = *req;
    }
    qemu_iovec_to_buf(qiov, 0, s->data + offset, bytes);
    return 0;
}

static int coroutine_fn rec_co_pwritev_compressed(BlockDriverState *bs,
                                                  int64_t offset,
                                                  int64_t bytes,
                                                  QEMUIOVector *qiov)
{
    BDRVRecState *s = bs->opaque;

    check_contract(bs, offset, bytes, qiov);
    record(bs, OP_COMPRESSED, offset, bytes, 0);
    qemu_iovec_to_buf(qiov, 0, s->data + offset, bytes);
    return 0;
}

static int coroutine_fn rec_co_pwrite_zeroes(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes,
                                             BdrvRequestFlags flags)
{
    BDRVRecState *s = bs->opaque;

    g_assert_cmpint(offset + bytes, <=, s->cfg.size);
    if (s->cfg.max_pwrite_zeroes) {
        g_assert_cmpint(bytes, <=, s->cfg.max_pwrite_zeroes);
    }
    g_assert_cmpint(flags & ~bs->supported_zero_flags, ==, 0);
    record(bs, OP_ZERO, offset, bytes, flags);
    if (s->cfg.zeroes_enotsup) {
        return -ENOTSUP;
    }
    memset(s->data + offset, 0, bytes);
    return 0;
}

static int coroutine_fn rec_co_pdiscard(BlockDriverState *bs, int64_t offset,
                                        int64_t bytes)
{
    BDRVRecState *s = bs->opaque;

    if (s->cfg.max_pdiscard) {
        g_assert_cmpint(bytes, <=, s->cfg.max_pdiscard);
    }
    record(bs, OP_DISCARD, offset, bytes, 0);
    return s->cfg.discard_ret;
}

static int coroutine_fn rec_co_flush_to_disk(BlockDriverState *bs)
{
    record(bs, OP_FLUSH, 0, 0, 0);
    return 0;
}

static void rec_debug_event(BlockDriverState *bs, BlkdebugEvent event)
{
    BDRVRecState *s = bs->opaque;

    g_array_append_val(s->events, event);
}

static BlockDriver bdrv_rec = {
    .format_name            = "rec",
    .instance_size          = sizeof(BDRVRecState),
    .bdrv_open              = rec_open,
    .bdrv_close             = rec_close,
    .bdrv_getlength         = rec_getlength,
    .bdrv_refresh_limits    = rec_refresh_limits,
    .bdrv_co_preadv         = rec_co_preadv,
    .bdrv_co_pwritev        = rec_co_pwritev,
    .bdrv_co_pwrite_zeroes  = rec_co_pwrite_zeroes,
    .bdrv_co_pdiscard       = rec_co_pdiscard,
    .bdrv_co_flush_to_disk  = rec_co_flush_to_disk,
    .bdrv_debug_event       = rec_debug_event,
    .bdrv_co_pwritev_compressed = rec_co_pwritev_compressed,
};

/* ---- The cow driver: allocation per cluster, backing file ---- */

static bool cluster_allocated(BDRVRecState *s, int64_t offset)
{
    return s->allocated[offset / s->cfg.cluster];
}

/* Fill [offset, offset + bytes) of buf from below: backing file or zeroes. */
static int coroutine_fn cow_read_below(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, uint8_t *buf)
{
    if (bs->backing) {
        return bdrv_co_pread(bs->backing, offset, bytes, buf, 0);
    }
    memset(buf, 0, bytes);
    return 0;
}

static int coroutine_fn cow_co_preadv(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      BdrvRequestFlags flags)
{
    BDRVRecState *s = bs->opaque;
    g_autofree uint8_t *buf = g_malloc(bytes);
    int64_t pos = offset;
    int ret;

    check_contract(bs, offset, bytes, qiov);
    record(bs, OP_READ, offset, bytes, flags);
    while (pos < offset + bytes) {
        int64_t end = MIN(QEMU_ALIGN_DOWN(pos, s->cfg.cluster) +
                          s->cfg.cluster, offset + bytes);

        if (cluster_allocated(s, pos)) {
            memcpy(buf + pos - offset, s->data + pos, end - pos);
        } else {
            ret = cow_read_below(bs, pos, end - pos, buf + pos - offset);
            if (ret < 0) {
                return ret;
            }
        }
        pos = end;
    }
    qemu_iovec_from_buf(qiov, 0, buf, bytes);
    return 0;
}

/* Allocate the clusters of a range, copying up what is not overwritten. */
static int coroutine_fn cow_allocate(BlockDriverState *bs, int64_t offset,
                                     int64_t bytes)
{
    BDRVRecState *s = bs->opaque;
    int64_t pos;
    int ret;

    for (pos = QEMU_ALIGN_DOWN(offset, s->cfg.cluster); pos < offset + bytes;
         pos += s->cfg.cluster) {
        int64_t len = MIN(s->cfg.cluster, s->cfg.size - pos);

        if (!cluster_allocated(s, pos)) {
            ret = cow_read_below(bs, pos, len, s->data + pos);
            if (ret < 0) {
                return ret;
            }
            s->allocated[pos / s->cfg.cluster] = true;
        }
    }
    return 0;
}

static int coroutine_fn cow_co_pwritev(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    BDRVRecState *s = bs->opaque;
    int ret;

    check_contract(bs, offset, bytes, qiov);
    record(bs, OP_WRITE, offset, bytes, flags);
    ret = cow_allocate(bs, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    qemu_iovec_to_buf(qiov, 0, s->data + offset, bytes);
    return 0;
}

static int coroutine_fn cow_co_pwrite_zeroes(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes,
                                             BdrvRequestFlags flags)
{
    BDRVRecState *s = bs->opaque;
    int ret;

    record(bs, OP_ZERO, offset, bytes, flags);
    ret = cow_allocate(bs, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    memset(s->data + offset, 0, bytes);
    return 0;
}

static int coroutine_fn cow_co_block_status(BlockDriverState *bs,
                                            bool want_zero, int64_t offset,
                                            int64_t bytes, int64_t *pnum,
                                            int64_t *map,
                                            BlockDriverState **file)
{
    BDRVRecState *s = bs->opaque;
    bool alloc = cluster_allocated(s, offset);
    int64_t end = QEMU_ALIGN_DOWN(offset, s->cfg.cluster);

    do {
        end += s->cfg.cluster;
    } while (end < s->cfg.size && cluster_allocated(s, end) == alloc);
    *pnum = MIN(end, s->cfg.size) - offset;
    return alloc ? BDRV_BLOCK_DATA : 0;
}

static int coroutine_fn cow_co_truncate(BlockDriverState *bs, int64_t offset,
                                        bool exact, PreallocMode prealloc,
                                        BdrvRequestFlags flags, Error **errp)
{
    BDRVRecState *s = bs->opaque;
    int64_t old_clusters = DIV_ROUND_UP(s->cfg.size, s->cfg.cluster);
    int64_t new_clusters = DIV_ROUND_UP(offset, s->cfg.cluster);

    record(bs, OP_TRUNCATE, offset, 0, flags);
    s->data = g_realloc(s->data, offset);
    s->allocated = g_renew(bool, s->allocated, new_clusters);
    if (offset > s->cfg.size) {
        memset(s->data + s->cfg.size, 0, offset - s->cfg.size);
    }
    for (int64_t i = old_clusters; i < new_clusters; i++) {
        /* With ZERO_WRITE the new area must hide the backing file. */
        s->allocated[i] = flags & BDRV_REQ_ZERO_WRITE;
    }
    s->cfg.size = offset;
    return 0;
}

static int cow_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BDRVRecState *s = bs->opaque;

    bdi->cluster_size = s->cfg.cluster;
    return 0;
}

static BlockDriver bdrv_cow = {
    .format_name            = "cow",
    .instance_size          = sizeof(BDRVRecState),
    .supports_backing       = true,
    .bdrv_open              = rec_open,
    .bdrv_close             = rec_close,
    .bdrv_getlength         = rec_getlength,
    .bdrv_refresh_limits    = rec_refresh_limits,
    .bdrv_child_perm        = bdrv_default_perms,
    .bdrv_co_preadv         = cow_co_preadv,
    .bdrv_co_pwritev        = cow_co_pwritev,
    .bdrv_co_pwrite_zeroes  = cow_co_pwrite_zeroes,
    .bdrv_co_block_status   = cow_co_block_status,
    .bdrv_get_info          = cow_get_info,
    .bdrv_co_truncate       = cow_co_truncate,
    .bdrv_debug_event       = rec_debug_event,
};

/* ---- Helpers ---- */

static const TestConfig default_config = {
    .size = 64 * KiB,
    .align = 512,
};

static BlockDriverState *node_new(BlockDriver *drv, const char *name,
                                  TestConfig cfg, int flags)
{
    next_config = cfg;
    return bdrv_new_open_driver(drv, name, flags, &error_abort);
}

/* A BlockBackend owning bs (our reference passes to it). */
static BlockBackend *blk_own(BlockDriverState *bs)
{
    BlockBackend *blk = blk_new(qemu_get_aio_context(), BLK_PERM_ALL,
                                BLK_PERM_ALL);

    blk_insert_bs(blk, bs, &error_abort);
    bdrv_unref(bs);
    return blk;
}

static BlockBackend *rec_blk(TestConfig cfg)
{
    return blk_own(node_new(&bdrv_rec, "rec", cfg, BDRV_O_RDWR));
}

static BDRVRecState *state(BlockBackend *blk)
{
    return blk_bs(blk)->opaque;
}

static uint8_t pattern(int64_t off)
{
    return (off * 13 + off / 4096 + 5) & 0xff;
}

static void fill_pattern(BlockBackend *blk)
{
    BDRVRecState *s = state(blk);

    for (int64_t i = 0; i < s->cfg.size; i++) {
        s->data[i] = pattern(i);
    }
}

/* Compare the recorded requests with expected and forget them. */
static void expect_ops(BlockDriverState *bs, const Op *expected, size_t n)
{
    BDRVRecState *s = bs->opaque;

    for (size_t i = 0; i < MIN(n, s->ops->len); i++) {
        Op *op = &g_array_index(s->ops, Op, i);

        if (op->type != expected[i].type ||
            op->offset != expected[i].offset ||
            op->bytes != expected[i].bytes ||
            op->flags != expected[i].flags) {
            g_error("request %zu: got %d %" PRId64 "+%" PRId64 " flags %#x,"
                    " expected %d %" PRId64 "+%" PRId64 " flags %#x",
                    i, op->type, op->offset, op->bytes, op->flags,
                    expected[i].type, expected[i].offset, expected[i].bytes,
                    expected[i].flags);
        }
    }
    g_assert_cmpuint(s->ops->len, ==, n);
    g_array_set_size(s->ops, 0);
}

#define EXPECT_OPS(bs, ...) do {                                    \
    static const Op expected_[] = { __VA_ARGS__ };                  \
    expect_ops((bs), expected_, ARRAY_SIZE(expected_));             \
} while (0)

static void expect_no_ops(BlockDriverState *bs)
{
    expect_ops(bs, NULL, 0);
}

static void expect_events(BlockDriverState *bs, const BlkdebugEvent *ev,
                          size_t n)
{
    BDRVRecState *s = bs->opaque;

    g_assert_cmpuint(s->events->len, ==, n);
    for (size_t i = 0; i < n; i++) {
        g_assert_cmpstr(BlkdebugEvent_str(g_array_index(s->events,
                                                        BlkdebugEvent, i)),
                        ==, BlkdebugEvent_str(ev[i]));
    }
    g_array_set_size(s->events, 0);
}

#define EXPECT_EVENTS(bs, ...) do {                                 \
    static const BlkdebugEvent expected_[] = { __VA_ARGS__ };       \
    expect_events((bs), expected_, ARRAY_SIZE(expected_));          \
} while (0)

/* Data of the node at [off, off + len) equals what fill_pattern wrote. */
static void assert_pattern(BlockBackend *blk, int64_t off, int64_t len)
{
    BDRVRecState *s = state(blk);

    for (int64_t i = off; i < off + len; i++) {
        g_assert_cmpuint(s->data[i], ==, pattern(i));
    }
}

/* buf holds what fill_pattern wrote at [off, off + len). */
static void assert_buf_pattern(const uint8_t *buf, int64_t off, int64_t len)
{
    for (int64_t i = 0; i < len; i++) {
        g_assert_cmpuint(buf[i], ==, pattern(off + i));
    }
}

static void assert_bytes(const uint8_t *buf, int c, int64_t len)
{
    for (int64_t i = 0; i < len; i++) {
        g_assert_cmpuint(buf[i], ==, c);
    }
}

/* ---- §2.2: reads are padded to request_alignment, split by max_transfer */

static void test_read_padding(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    BlockDriverState *bs = blk_bs(blk);
    uint8_t buf[3000];

    fill_pattern(blk);

    /* [100, 1100) grows to [0, 1536): one driver read. */
    g_assert_cmpint(blk_pread(blk, 100, 1000, buf, 0), ==, 0);
    EXPECT_OPS(bs, { OP_READ, 0, 1536, 0 });
    assert_buf_pattern(buf, 100, 1000);

    /* Aligned requests pass unchanged. */
    g_assert_cmpint(blk_pread(blk, 1024, 2048, buf, 0), ==, 0);
    EXPECT_OPS(bs, { OP_READ, 1024, 2048, 0 });

    /* A zero-length request at an unaligned offset is a no-op. */
    g_assert_cmpint(blk_pread(blk, 100, 0, buf, 0), ==, 0);
    expect_no_ops(bs);

    blk_unref(blk);
}

static void test_read_padding_4k(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    uint8_t buf[16];

    cfg.align = 4096;
    blk = rec_blk(cfg);
    fill_pattern(blk);

    g_assert_cmpint(blk_pread(blk, 4100, 10, buf, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_READ, 4096, 4096, 0 });
    assert_buf_pattern(buf, 4100, 10);
    blk_unref(blk);
}

static void test_read_max_transfer(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    uint8_t buf[3000];

    cfg.max_transfer = 1024;
    blk = rec_blk(cfg);
    fill_pattern(blk);

    /* [100, 2600) pads to [0, 3072) and splits at max_transfer. */
    g_assert_cmpint(blk_pread(blk, 100, 2500, buf, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk),
               { OP_READ, 0, 1024, 0 },
               { OP_READ, 1024, 1024, 0 },
               { OP_READ, 2048, 1024, 0 });
    assert_buf_pattern(buf, 100, 2500);
    blk_unref(blk);
}

/* Reads past the end of the node are zeroes the driver never sees. */
static void test_read_past_eof(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    uint8_t buf[2048];

    cfg.size = 1024;
    cfg.max_transfer = 1024;
    blk = rec_blk(cfg);
    fill_pattern(blk);
    /* Lift the BlockBackend's own range check to reach the node's. */
    blk_set_allow_write_beyond_eof(blk, true);

    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(blk_pread(blk, 512, 2048, buf, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_READ, 512, 512, 0 });
    assert_buf_pattern(buf, 512, 512);
    assert_bytes(buf + 512, 0, 1536);
    blk_unref(blk);
}

/* ---- §2.3: unaligned writes are read-modify-write cycles ---- */

static void test_write_rmw(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    BlockDriverState *bs = blk_bs(blk);
    uint8_t buf[1024];

    fill_pattern(blk);
    memset(buf, 0xa5, sizeof(buf));

    /*
     * [100, 1100): head and tail in different blocks, so two reads of one
     * block each, then one write of the padded range.
     */
    g_assert_cmpint(blk_pwrite(blk, 100, 1000, buf, 0), ==, 0);
    EXPECT_OPS(bs,
               { OP_READ, 0, 512, 0 },
               { OP_READ, 1024, 512, 0 },
               { OP_WRITE, 0, 1536, 0 });
    EXPECT_EVENTS(bs,
                  BLKDBG_PWRITEV_RMW_HEAD, BLKDBG_PWRITEV_RMW_AFTER_HEAD,
                  BLKDBG_PWRITEV_RMW_TAIL, BLKDBG_PWRITEV_RMW_AFTER_TAIL,
                  BLKDBG_PWRITEV, BLKDBG_PWRITEV_DONE);
    assert_pattern(blk, 0, 100);
    assert_bytes(state(blk)->data + 100, 0xa5, 1000);
    assert_pattern(blk, 1100, cfg.size - 1100);

    /* [100, 300) lies in one block: one read covers head and tail. */
    g_assert_cmpint(blk_pwrite(blk, 2048 + 100, 200, buf, 0), ==, 0);
    EXPECT_OPS(bs,
               { OP_READ, 2048, 512, 0 },
               { OP_WRITE, 2048, 512, 0 });
    EXPECT_EVENTS(bs,
                  BLKDBG_PWRITEV_RMW_HEAD, BLKDBG_PWRITEV_RMW_TAIL,
                  BLKDBG_PWRITEV_RMW_AFTER_HEAD,
                  BLKDBG_PWRITEV_RMW_AFTER_TAIL,
                  BLKDBG_PWRITEV, BLKDBG_PWRITEV_DONE);

    /* [4596, 4696) straddles a boundary: padded range = the two blocks. */
    g_assert_cmpint(blk_pwrite(blk, 4096 + 500, 100, buf, 0), ==, 0);
    EXPECT_OPS(bs,
               { OP_READ, 4096, 1024, 0 },
               { OP_WRITE, 4096, 1024, 0 });

    /* Only a head: the tail event does not happen. */
    g_assert_cmpint(blk_pwrite(blk, 8192 + 12, 500, buf, 0), ==, 0);
    EXPECT_OPS(bs,
               { OP_READ, 8192, 512, 0 },
               { OP_WRITE, 8192, 512, 0 });
    g_assert_cmpint(blk_pwrite(blk, 16384 + 12, 1012, buf, 0), ==, 0);
    EXPECT_OPS(bs,
               { OP_READ, 16384, 512, 0 },
               { OP_WRITE, 16384, 1024, 0 });
    EXPECT_EVENTS(bs,
                  BLKDBG_PWRITEV_RMW_HEAD,
                  BLKDBG_PWRITEV_RMW_TAIL, BLKDBG_PWRITEV_RMW_AFTER_HEAD,
                  BLKDBG_PWRITEV_RMW_AFTER_TAIL, BLKDBG_PWRITEV,
                  BLKDBG_PWRITEV_DONE,
                  BLKDBG_PWRITEV_RMW_HEAD, BLKDBG_PWRITEV_RMW_AFTER_HEAD,
                  BLKDBG_PWRITEV, BLKDBG_PWRITEV_DONE,
                  BLKDBG_PWRITEV_RMW_HEAD, BLKDBG_PWRITEV_RMW_AFTER_HEAD,
                  BLKDBG_PWRITEV, BLKDBG_PWRITEV_DONE);

    /* Only a tail. */
    g_assert_cmpint(blk_pwrite(blk, 24576, 700, buf, 0), ==, 0);
    EXPECT_OPS(bs,
               { OP_READ, 24576 + 512, 512, 0 },
               { OP_WRITE, 24576, 1024, 0 });
    EXPECT_EVENTS(bs,
                  BLKDBG_PWRITEV_RMW_TAIL, BLKDBG_PWRITEV_RMW_AFTER_TAIL,
                  BLKDBG_PWRITEV, BLKDBG_PWRITEV_DONE);
    blk_unref(blk);
}

static void test_write_rmw_max_transfer(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    g_autofree uint8_t *buf = g_malloc(3000);

    cfg.max_transfer = 1024;
    blk = rec_blk(cfg);
    fill_pattern(blk);
    memset(buf, 0x3c, 3000);

    g_assert_cmpint(blk_pwrite(blk, 100, 3000, buf, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk),
               { OP_READ, 0, 512, 0 },
               { OP_READ, 3072, 512, 0 },
               { OP_WRITE, 0, 1024, 0 },
               { OP_WRITE, 1024, 1024, 0 },
               { OP_WRITE, 2048, 1024, 0 },
               { OP_WRITE, 3072, 512, 0 });
    assert_pattern(blk, 0, 100);
    assert_bytes(state(blk)->data + 100, 0x3c, 3000);
    assert_pattern(blk, 3100, cfg.size - 3100);
    blk_unref(blk);
}

/* Random unaligned writes and reads against a reference image. */
static void test_rmw_random(void)
{
    static const uint32_t aligns[] = { 1, 512, 4096 };
    static const uint32_t max_transfers[] = { 0, 4096, 8192 };

    for (size_t a = 0; a < ARRAY_SIZE(aligns); a++) {
        for (size_t m = 0; m < ARRAY_SIZE(max_transfers); m++) {
            TestConfig cfg = default_config;
            g_autofree uint8_t *ref = NULL;
            g_autofree uint8_t *buf = g_malloc(20000);
            BlockBackend *blk;

            cfg.align = aligns[a];
            cfg.max_transfer = max_transfers[m];
            if (cfg.max_transfer && cfg.max_transfer < cfg.align) {
                continue;
            }
            blk = rec_blk(cfg);
            fill_pattern(blk);
            ref = g_malloc(cfg.size);
            memcpy(ref, state(blk)->data, cfg.size);

            for (int i = 0; i < 200; i++) {
                int64_t len = g_test_rand_int_range(1, 20000);
                int64_t off = g_test_rand_int_range(0, cfg.size - len);

                if (g_test_rand_bit()) {
                    memset(buf, i, len);
                    g_assert_cmpint(blk_pwrite(blk, off, len, buf, 0), ==, 0);
                    memset(ref + off, i, len);
                } else {
                    g_assert_cmpint(blk_pread(blk, off, len, buf, 0), ==, 0);
                    g_assert_cmpmem(buf, len, ref + off, len);
                }
                g_array_set_size(state(blk)->ops, 0);
            }
            g_assert_cmpmem(state(blk)->data, cfg.size, ref, cfg.size);
            g_array_set_size(state(blk)->events, 0);
            blk_unref(blk);
        }
    }
}

/* ---- §2.4: a request overlapping an RMW cycle waits for it ---- */

static void aio_cb_ret(void *opaque, int ret)
{
    *(int *)opaque = ret;
}

static void test_serialising_rmw(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    BlockDriverState *bs = blk_bs(blk);
    BDRVRecState *s = state(blk);
    uint8_t a[100], b[512], c[512];
    QEMUIOVector qa = QEMU_IOVEC_INIT_BUF(qa, a, sizeof(a));
    QEMUIOVector qb = QEMU_IOVEC_INIT_BUF(qb, b, sizeof(b));
    QEMUIOVector qc = QEMU_IOVEC_INIT_BUF(qc, c, sizeof(c));
    int ret_a = -EINPROGRESS, ret_b = -EINPROGRESS, ret_c = -EINPROGRESS;

    fill_pattern(blk);
    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));

    /* A: unaligned write; its RMW read is parked in the driver. */
    s->hold_reads = true;
    blk_aio_pwritev(blk, 100, &qa, 0, aio_cb_ret, &ret_a);
    while (!s->held) {
        aio_poll(qemu_get_aio_context(), true);
    }
    s->hold_reads = false;
    EXPECT_OPS(bs, { OP_READ, 0, 512, 0 });

    /* B: aligned write of the same block; C: aligned read of it. */
    blk_aio_pwritev(blk, 0, &qb, 0, aio_cb_ret, &ret_b);
    blk_aio_preadv(blk, 0, &qc, 0, aio_cb_ret, &ret_c);
    while (aio_poll(qemu_get_aio_context(), false)) {
        /* let everything that can run, run */
    }
    /* Both must wait for A's serialising request: nothing reached us. */
    expect_no_ops(bs);
    g_assert_cmpint(ret_b, ==, -EINPROGRESS);
    g_assert_cmpint(ret_c, ==, -EINPROGRESS);

    aio_co_wake(s->held);
    s->held = NULL;
    while (ret_a == -EINPROGRESS || ret_b == -EINPROGRESS ||
           ret_c == -EINPROGRESS) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_cmpint(ret_a, ==, 0);
    g_assert_cmpint(ret_b, ==, 0);
    g_assert_cmpint(ret_c, ==, 0);

    /* A's write came first, so B's data is what the block holds now. */
    EXPECT_OPS(bs,
               { OP_WRITE, 0, 512, 0 },
               { OP_WRITE, 0, 512, 0 },
               { OP_READ, 0, 512, 0 });
    assert_bytes(s->data, 0xbb, 512);
    assert_bytes(c, 0xbb, 512);
    g_array_set_size(s->events, 0);
    blk_unref(blk);
}

/* Requests that don't overlap a serialising one do not wait. */
static void test_serialising_no_overlap(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    BlockDriverState *bs = blk_bs(blk);
    BDRVRecState *s = state(blk);
    uint8_t a[100], b[512];
    QEMUIOVector qa = QEMU_IOVEC_INIT_BUF(qa, a, sizeof(a));
    QEMUIOVector qb = QEMU_IOVEC_INIT_BUF(qb, b, sizeof(b));
    int ret_a = -EINPROGRESS, ret_b = -EINPROGRESS;

    memset(a, 1, sizeof(a));
    memset(b, 2, sizeof(b));
    s->hold_reads = true;
    blk_aio_pwritev(blk, 100, &qa, 0, aio_cb_ret, &ret_a);
    while (!s->held) {
        aio_poll(qemu_get_aio_context(), true);
    }
    s->hold_reads = false;

    blk_aio_pwritev(blk, 512, &qb, 0, aio_cb_ret, &ret_b);
    while (ret_b == -EINPROGRESS) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_cmpint(ret_a, ==, -EINPROGRESS);
    EXPECT_OPS(bs, { OP_READ, 0, 512, 0 }, { OP_WRITE, 512, 512, 0 });

    aio_co_wake(s->held);
    s->held = NULL;
    while (ret_a == -EINPROGRESS) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_cmpint(ret_a, ==, 0);
    EXPECT_OPS(bs, { OP_WRITE, 0, 512, 0 });
    g_array_set_size(s->events, 0);
    blk_unref(blk);
}

/* ---- §2.3, §2.5: FUA, emulated by a flush when unsupported ---- */

static void test_fua_emulated(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    BlockDriverState *bs;
    uint8_t buf[4096] = { 0 };

    cfg.max_transfer = 1024;
    blk = rec_blk(cfg);
    bs = blk_bs(blk);

    /* One flush after the last piece, and no FUA reaches the driver. */
    g_assert_cmpint(blk_pwrite(blk, 0, 3072, buf, BDRV_REQ_FUA), ==, 0);
    EXPECT_OPS(bs,
               { OP_WRITE, 0, 1024, 0 },
               { OP_WRITE, 1024, 1024, 0 },
               { OP_WRITE, 2048, 1024, 0 },
               { OP_FLUSH, 0, 0, 0 });

    /* Without a write cache, every write is FUA. */
    blk_set_enable_write_cache(blk, false);
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, 0);
    EXPECT_OPS(bs, { OP_WRITE, 0, 512, 0 }, { OP_FLUSH, 0, 0, 0 });
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);
}

static void test_fua_native(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    BlockDriverState *bs;
    uint8_t buf[4096] = { 0 };

    cfg.max_transfer = 1024;
    cfg.write_flags = BDRV_REQ_FUA;
    blk = rec_blk(cfg);
    bs = blk_bs(blk);

    /* A driver that can do FUA gets it on every piece, and no flush. */
    g_assert_cmpint(blk_pwrite(blk, 0, 2048, buf, BDRV_REQ_FUA), ==, 0);
    EXPECT_OPS(bs,
               { OP_WRITE, 0, 1024, BDRV_REQ_FUA },
               { OP_WRITE, 1024, 1024, BDRV_REQ_FUA });
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);
}

/* ---- §2.6: write zeroes ---- */

static void test_zero_split(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;

    cfg.pwrite_zeroes_alignment = 4096;
    cfg.max_pwrite_zeroes = 16384;
    blk = rec_blk(cfg);

    /*
     * [1024, 41984): an unaligned head up to the next 4 KiB boundary, then
     * the bulk in pieces of at most 16 KiB with the unaligned tail (1 KiB)
     * kept off them, then the tail on its own.
     */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 1024, 40960, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk),
               { OP_ZERO, 1024, 3072, 0 },
               { OP_ZERO, 4096, 16384, 0 },
               { OP_ZERO, 20480, 16384, 0 },
               { OP_ZERO, 36864, 4096, 0 },
               { OP_ZERO, 40960, 1024, 0 });
    EXPECT_EVENTS(blk_bs(blk), BLKDBG_PWRITEV_ZERO, BLKDBG_PWRITEV_DONE);
    blk_unref(blk);
}

/* Unaligned write zeroes: RMW of the partial blocks, zero the middle. */
static void test_zero_unaligned(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    BlockDriverState *bs = blk_bs(blk);

    fill_pattern(blk);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 100, 1000, 0), ==, 0);
    EXPECT_OPS(bs,
               { OP_READ, 0, 512, 0 },
               { OP_READ, 1024, 512, 0 },
               { OP_WRITE, 0, 512, 0 },
               { OP_ZERO, 512, 512, 0 },
               { OP_WRITE, 1024, 512, 0 });
    assert_pattern(blk, 0, 100);
    assert_bytes(state(blk)->data + 100, 0, 1000);
    assert_pattern(blk, 1100, cfg.size - 1100);
    g_array_set_size(state(blk)->events, 0);

    /* Within one block: one read, one plain write, no zero write. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 2048 + 10, 20, 0), ==, 0);
    EXPECT_OPS(bs, { OP_READ, 2048, 512, 0 }, { OP_WRITE, 2048, 512, 0 });
    assert_bytes(state(blk)->data + 2058, 0, 20);
    assert_pattern(blk, 2078, 100);

    /* NO_FALLBACK refuses what would need padding. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 100, 1000, BDRV_REQ_NO_FALLBACK),
                    ==, -ENOTSUP);
    expect_no_ops(bs);
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);
}

/* The driver says -ENOTSUP: zeroed buffers are written instead. */
static void test_zero_fallback(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    BDRVRecState *s;
    int64_t pos = 1024;
    int zero_calls = 0;

    cfg.pwrite_zeroes_alignment = 4096;
    cfg.max_pwrite_zeroes = 16384;
    cfg.max_transfer = 8192;
    cfg.zeroes_enotsup = true;
    blk = rec_blk(cfg);
    s = state(blk);
    fill_pattern(blk);

    g_assert_cmpint(blk_pwrite_zeroes(blk, 1024, 40960, 0), ==, 0);
    /*
     * Each piece is first offered as a zero write, then written as data;
     * data pieces are at most max_transfer and follow each other.
     */
    for (guint i = 0; i < s->ops->len; i++) {
        Op *op = &g_array_index(s->ops, Op, i);

        if (op->type == OP_ZERO) {
            g_assert_cmpint(op->offset, ==, pos);
            zero_calls++;
            continue;
        }
        g_assert_cmpint(op->type, ==, OP_WRITE);
        g_assert_cmpint(op->offset, ==, pos);
        g_assert_cmpint(op->bytes, <=, 8192);
        g_assert_cmpint(op->flags, ==, 0);
        pos += op->bytes;
    }
    g_assert_cmpint(pos, ==, 1024 + 40960);
    g_assert_cmpint(zero_calls, >, 0);
    assert_bytes(s->data + 1024, 0, 40960);
    assert_pattern(blk, 0, 1024);
    assert_pattern(blk, 41984, cfg.size - 41984);
    g_array_set_size(s->ops, 0);

    /* NO_FALLBACK the driver doesn't claim: refused before trying. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 4096, BDRV_REQ_NO_FALLBACK),
                    ==, -ENOTSUP);
    expect_no_ops(blk_bs(blk));
    g_array_set_size(s->events, 0);
    blk_unref(blk);
}

/* NO_FALLBACK with a driver that claims it but fails: no data written. */
static void test_zero_no_fallback(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;

    cfg.zero_flags = BDRV_REQ_NO_FALLBACK;
    cfg.zeroes_enotsup = true;
    blk = rec_blk(cfg);

    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 4096, BDRV_REQ_NO_FALLBACK),
                    ==, -ENOTSUP);
    EXPECT_OPS(blk_bs(blk), { OP_ZERO, 0, 4096, BDRV_REQ_NO_FALLBACK });
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);
}

/* The fallback buffer never exceeds 16 MiB, even without max_transfer. */
static void test_zero_fallback_bounded(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;

    cfg.size = 48 * MiB;
    cfg.zeroes_enotsup = true;
    blk = rec_blk(cfg);

    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 40 * MiB, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk),
               { OP_ZERO, 0, 40 * MiB, 0 },
               { OP_WRITE, 0, 16 * MiB, 0 },
               { OP_ZERO, 16 * MiB, 24 * MiB, 0 },
               { OP_WRITE, 16 * MiB, 16 * MiB, 0 },
               { OP_ZERO, 32 * MiB, 8 * MiB, 0 },
               { OP_WRITE, 32 * MiB, 8 * MiB, 0 });
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);
}

/* MAY_UNMAP only reaches the driver when the node allows unmapping. */
static void test_zero_may_unmap(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;

    cfg.zero_flags = BDRV_REQ_MAY_UNMAP;
    blk = rec_blk(cfg);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, BDRV_REQ_MAY_UNMAP), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_ZERO, 0, 512, 0 });
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);

    blk = blk_own(node_new(&bdrv_rec, "rec", cfg, BDRV_O_RDWR | BDRV_O_UNMAP));
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, BDRV_REQ_MAY_UNMAP), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_ZERO, 0, 512, BDRV_REQ_MAY_UNMAP });
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);
}

/* ---- §2.7: discard ---- */

static BlockBackend *discard_blk(TestConfig cfg)
{
    return blk_own(node_new(&bdrv_rec, "rec", cfg,
                            BDRV_O_RDWR | BDRV_O_UNMAP));
}

static void test_discard_split(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;

    cfg.pdiscard_alignment = 4096;
    cfg.max_pdiscard = 8192;
    blk = discard_blk(cfg);

    /* Head up to the boundary, aligned bulk in max pieces, then tail. */
    g_assert_cmpint(blk_pdiscard(blk, 1536, 20480), ==, 0);
    EXPECT_OPS(blk_bs(blk),
               { OP_DISCARD, 1536, 2560, 0 },
               { OP_DISCARD, 4096, 8192, 0 },
               { OP_DISCARD, 12288, 8192, 0 },
               { OP_DISCARD, 20480, 1536, 0 });

    /*
     * Pieces not even aligned to request_alignment are cut so that the
     * following ones are: 100+412, then 512 up to the 4 KiB boundary; the
     * tail 4096+1004 becomes 512 and the 492 bytes left.
     */
    g_assert_cmpint(blk_pdiscard(blk, 100, 5000), ==, 0);
    EXPECT_OPS(blk_bs(blk),
               { OP_DISCARD, 100, 412, 0 },
               { OP_DISCARD, 512, 3584, 0 },
               { OP_DISCARD, 4096, 512, 0 },
               { OP_DISCARD, 4608, 492, 0 });
    blk_unref(blk);
}

static void test_discard_errors(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;

    /* Without BDRV_O_UNMAP discard does nothing, successfully. */
    blk = rec_blk(cfg);
    g_assert_cmpint(blk_pdiscard(blk, 0, 4096), ==, 0);
    expect_no_ops(blk_bs(blk));
    g_assert_cmpint(blk_pdiscard(blk, -2, 4096), ==, -EIO);
    blk_unref(blk);

    /* -ENOTSUP from the driver is ignored: discard is advisory. */
    cfg.discard_ret = -ENOTSUP;
    blk = discard_blk(cfg);
    g_assert_cmpint(blk_pdiscard(blk, 0, 4096), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_DISCARD, 0, 4096, 0 });
    blk_unref(blk);

    /* Other errors are not. */
    cfg.discard_ret = -EIO;
    blk = discard_blk(cfg);
    g_assert_cmpint(blk_pdiscard(blk, 0, 4096), ==, -EIO);
    EXPECT_OPS(blk_bs(blk), { OP_DISCARD, 0, 4096, 0 });
    blk_unref(blk);
}

/* ---- §2.8: flush ---- */

static void test_flush_generations(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    BlockDriverState *bs = blk_bs(blk);
    uint8_t buf[512] = { 0 };

    /* Nothing written since the node was opened: nothing to flush. */
    g_assert_cmpint(blk_flush(blk), ==, 0);
    expect_no_ops(bs);

    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    EXPECT_OPS(bs, { OP_WRITE, 0, 512, 0 }, { OP_FLUSH, 0, 0, 0 });

    /* A second flush without a write in between doesn't reach the disk. */
    g_assert_cmpint(blk_flush(blk), ==, 0);
    expect_no_ops(bs);

    /* Reads don't make it dirty, writes do. */
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    EXPECT_OPS(bs, { OP_READ, 0, 512, 0 });
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    EXPECT_OPS(bs, { OP_ZERO, 0, 512, 0 }, { OP_FLUSH, 0, 0, 0 });
    EXPECT_EVENTS(bs,
                  BLKDBG_PWRITEV, BLKDBG_PWRITEV_DONE,
                  BLKDBG_PWRITEV_ZERO, BLKDBG_PWRITEV_DONE);
    blk_unref(blk);
}

static void test_flush_no_flush(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    uint8_t buf[512] = { 0 };

    /* cache=unsafe: writes never reach the disk's flush. */
    blk = blk_own(node_new(&bdrv_rec, "rec", cfg,
                           BDRV_O_RDWR | BDRV_O_NO_FLUSH));
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_WRITE, 0, 512, 0 });
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);

    /* Read-only nodes succeed without doing anything. */
    blk = blk_new_with_bs(node_new(&bdrv_rec, "ro", cfg, 0),
                          BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL,
                          &error_abort);
    bdrv_unref(blk_bs(blk));
    g_assert_cmpint(blk_flush(blk), ==, 0);
    expect_no_ops(blk_bs(blk));
    blk_unref(blk);
}

/* Flush recurses into children it may have written (WRITE perm). */
static void test_flush_children(void)
{
    TestConfig cfg = default_config;
    BlockDriverState *top, *file;
    BlockBackend *blk;
    uint8_t buf[512] = { 0 };

    top = node_new(&bdrv_cow, "top", (TestConfig) {
        .size = 64 * KiB, .align = 512, .cluster = 4096 }, BDRV_O_RDWR);
    file = node_new(&bdrv_rec, "file", cfg, BDRV_O_RDWR);
    blk = blk_own(top);
    bdrv_attach_child(top, file, "file", &child_of_bds, BDRV_CHILD_IMAGE,
                      &error_abort);

    /* The child was written (directly, by us): flushing the top reaches it */
    g_assert_cmpint(bdrv_pwrite(top->file, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    EXPECT_OPS(file, { OP_WRITE, 0, 512, 0 }, { OP_FLUSH, 0, 0, 0 });
    g_array_set_size(((BDRVRecState *)file->opaque)->events, 0);
    blk_unref(blk);
}

/* ---- §2.11: block status over a backing chain ---- */

typedef struct Chain {
    BlockBackend *blk;
    BlockDriverState *top, *base;
} Chain;

/*
 * base: 8 KiB, cluster 0 allocated with data.
 * top: 16 KiB over base, cluster 1 allocated.
 */
static Chain chain_new(void)
{
    TestConfig cfg = {
        .size = 16 * KiB, .align = 512, .cluster = 4096,
        /* to see what copy-on-read asks for */
        .write_flags = BDRV_REQ_WRITE_UNCHANGED,
        .zero_flags = BDRV_REQ_WRITE_UNCHANGED,
    };
    uint8_t buf[4096];
    Chain c;

    c.top = node_new(&bdrv_cow, "top", cfg, BDRV_O_RDWR);
    cfg.size = 8 * KiB;
    c.base = node_new(&bdrv_cow, "base", cfg, BDRV_O_RDWR);
    bdrv_set_backing_hd(c.top, c.base, &error_abort);

    /* Fill base's first cluster through a temporary BlockBackend. */
    memset(buf, 0x11, sizeof(buf));
    c.blk = blk_own(c.base);
    g_assert_cmpint(blk_pwrite(c.blk, 0, 4096, buf, 0), ==, 0);
    blk_unref(c.blk);

    c.blk = blk_own(c.top);
    memset(buf, 0x22, sizeof(buf));
    g_assert_cmpint(blk_pwrite(c.blk, 4096, 4096, buf, 0), ==, 0);
    for (BlockDriverState *bs = c.top; bs; bs = backing_bs(bs)) {
        g_array_set_size(((BDRVRecState *)bs->opaque)->ops, 0);
        g_array_set_size(((BDRVRecState *)bs->opaque)->events, 0);
    }
    return c;
}

static void chain_free(Chain *c)
{
    blk_unref(c->blk);
}

static void test_block_status_chain(void)
{
    Chain c = chain_new();
    BlockDriverState *file;
    int64_t pnum;
    int ret;

    /* Top layer alone: cluster 0 not here (and base has data there). */
    ret = bdrv_block_status(c.top, 0, 16 * KiB, &pnum, NULL, NULL);
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(pnum, ==, 4096);

    ret = bdrv_block_status(c.top, 4096, 16 * KiB, &pnum, NULL, NULL);
    g_assert_cmpint(ret, ==, BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED);
    g_assert_cmpint(pnum, ==, 4096);

    /* Beyond the backing file's end, unallocated means zero (want_zero). */
    ret = bdrv_block_status(c.top, 8192, 8192, &pnum, NULL, NULL);
    g_assert_cmpint(ret, ==, BDRV_BLOCK_ZERO | BDRV_BLOCK_EOF);
    g_assert_cmpint(pnum, ==, 8192);

    /* Down the chain: cluster 0 comes from base. */
    ret = bdrv_block_status_above(c.top, NULL, 0, 16 * KiB, &pnum, NULL,
                                  &file);
    g_assert_cmpint(ret, ==, BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED);
    g_assert_cmpint(pnum, ==, 4096);
    g_assert(file == NULL);

    /*
     * Past the short backing file: zeroes, as if allocated in base; EOF
     * because the top layer ends there too.
     */
    ret = bdrv_block_status_above(c.top, NULL, 8192, 8192, &pnum, NULL,
                                  &file);
    g_assert_cmpint(ret, ==, BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED |
                    BDRV_BLOCK_EOF);
    g_assert_cmpint(pnum, ==, 8192);
    g_assert(file == c.base);

    /* Beyond the end of the top: EOF, nothing. */
    ret = bdrv_block_status_above(c.top, NULL, 16 * KiB, 512, &pnum, NULL,
                                  NULL);
    g_assert_cmpint(ret, ==, BDRV_BLOCK_EOF);
    g_assert_cmpint(pnum, ==, 0);

    chain_free(&c);
}

static void test_is_allocated_depth(void)
{
    Chain c = chain_new();
    int64_t pnum;

    g_assert_cmpint(bdrv_is_allocated(c.top, 0, 16 * KiB, &pnum), ==, 0);
    g_assert_cmpint(pnum, ==, 4096);
    g_assert_cmpint(bdrv_is_allocated(c.top, 4096, 16 * KiB, &pnum), ==, 1);
    g_assert_cmpint(pnum, ==, 4096);
    g_assert_cmpint(bdrv_is_allocated(c.base, 0, 8 * KiB, &pnum), ==, 1);
    g_assert_cmpint(pnum, ==, 4096);

    /* The depth of the layer that allocates: 1 top, 2 base, 0 none. */
    g_assert_cmpint(bdrv_is_allocated_above(c.top, NULL, false, 0, 16 * KiB,
                                            &pnum), ==, 2);
    g_assert_cmpint(pnum, ==, 4096);
    g_assert_cmpint(bdrv_is_allocated_above(c.top, NULL, false, 4096,
                                            16 * KiB, &pnum), ==, 1);
    g_assert_cmpint(pnum, ==, 4096);
    /* Past base's end the short base "allocates" zeroes. */
    g_assert_cmpint(bdrv_is_allocated_above(c.top, NULL, false, 8192, 8192,
                                            &pnum), ==, 2);
    g_assert_cmpint(pnum, ==, 8192);
    /* Stopping above base: not allocated anywhere looked at. */
    g_assert_cmpint(bdrv_is_allocated_above(c.top, c.base, false, 0,
                                            16 * KiB, &pnum), ==, 0);
    g_assert_cmpint(pnum, ==, 4096);
    /* Including base again finds it. */
    g_assert_cmpint(bdrv_is_allocated_above(c.top, c.base, true, 0,
                                            16 * KiB, &pnum), ==, 2);
    /*
     * Base cluster 1 is unallocated and base has no backing: it reads as
     * zeroes, but is still not allocated.
     */
    g_assert_cmpint(bdrv_is_allocated(c.base, 4096, 4096, &pnum), ==, 0);

    chain_free(&c);
}

/* Reads through the chain, including zeroes beyond the short base. */
static void test_read_chain(void)
{
    Chain c = chain_new();
    uint8_t buf[16 * KiB];

    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(blk_pread(c.blk, 0, sizeof(buf), buf, 0), ==, 0);
    assert_bytes(buf, 0x11, 4096);
    assert_bytes(buf + 4096, 0x22, 4096);
    assert_bytes(buf + 8192, 0, 8192);
    chain_free(&c);
}

/* ---- §2.10: copy-on-read ---- */

static void test_copy_on_read(void)
{
    Chain c = chain_new();
    BDRVRecState *top = c.top->opaque;
    uint8_t buf[100];
    int64_t pnum;

    /* Reading cluster 0 with COR copies the whole cluster up. */
    g_assert_cmpint(blk_pread(c.blk, 1000, 100, buf, BDRV_REQ_COPY_ON_READ),
                    ==, 0);
    assert_bytes(buf, 0x11, 100);
    EXPECT_OPS(c.top,
               { OP_READ, 0, 4096, 0 },
               { OP_WRITE, 0, 4096, BDRV_REQ_WRITE_UNCHANGED });
    g_array_set_size(((BDRVRecState *)c.base->opaque)->ops, 0);
    EXPECT_EVENTS(c.top, BLKDBG_COR_WRITE);
    g_assert_cmpint(bdrv_is_allocated(c.top, 0, 4096, &pnum), ==, 1);
    assert_bytes(top->data, 0x11, 4096);

    /* Now it is here: a plain read, no copy. */
    g_assert_cmpint(blk_pread(c.blk, 1000, 100, buf, BDRV_REQ_COPY_ON_READ),
                    ==, 0);
    EXPECT_OPS(c.top, { OP_READ, 512, 1024, 0 });

    /* Zeroes from beyond the short base become a zero write. */
    g_assert_cmpint(blk_pread(c.blk, 9000, 100, buf, BDRV_REQ_COPY_ON_READ),
                    ==, 0);
    assert_bytes(buf, 0, 100);
    EXPECT_OPS(c.top,
               { OP_READ, 8192, 4096, 0 },
               { OP_ZERO, 8192, 4096, BDRV_REQ_WRITE_UNCHANGED });
    EXPECT_EVENTS(c.top, BLKDBG_COR_WRITE);
    g_assert_cmpint(bdrv_is_allocated(c.top, 8192, 4096, &pnum), ==, 1);

    chain_free(&c);
}

/* Read whole image with COR as the node's default (copy_on_read > 0). */
static void test_copy_on_read_node(void)
{
    Chain c = chain_new();
    uint8_t buf[16 * KiB];
    int64_t pnum;

    c.top->copy_on_read++;
    g_assert_cmpint(blk_pread(c.blk, 0, sizeof(buf), buf, 0), ==, 0);
    c.top->copy_on_read--;
    assert_bytes(buf, 0x11, 4096);
    assert_bytes(buf + 4096, 0x22, 4096);
    assert_bytes(buf + 8192, 0, 8192);
    /* Everything is in the top layer now. */
    g_assert_cmpint(bdrv_is_allocated(c.top, 0, 16 * KiB, &pnum), ==, 1);
    g_assert_cmpint(pnum, ==, 16 * KiB);
    chain_free(&c);
}

/* ---- §2.9: truncate hides a longer backing file ---- */

static void test_truncate_backing(void)
{
    Chain c = chain_new();
    BlockBackend *blk_base;
    uint8_t buf[4096];

    c.top->supported_truncate_flags = BDRV_REQ_ZERO_WRITE;

    /* Give base data where top's new area will be. */
    blk_base = blk_new_with_bs(c.base, BLK_PERM_ALL, BLK_PERM_ALL,
                               &error_abort);
    memset(buf, 0x33, sizeof(buf));
    g_assert_cmpint(blk_pwrite(blk_base, 4096, 4096, buf, 0), ==, 0);
    blk_unref(blk_base);

    /* Shrinking: nothing new, no flag. */
    g_assert_cmpint(blk_truncate(c.blk, 4096, true, PREALLOC_MODE_OFF, 0,
                                 &error_abort), ==, 0);
    EXPECT_OPS(c.top, { OP_TRUNCATE, 4096, 0, 0 });
    g_assert_cmpint(blk_getlength(c.blk), ==, 4096);

    /* Growing over base's data (base is 8 KiB): must be zeroed. */
    g_assert_cmpint(blk_truncate(c.blk, 16 * KiB, true, PREALLOC_MODE_OFF, 0,
                                 &error_abort), ==, 0);
    EXPECT_OPS(c.top, { OP_TRUNCATE, 16 * KiB, 0, BDRV_REQ_ZERO_WRITE });
    g_assert_cmpint(blk_getlength(c.blk), ==, 16 * KiB);
    g_assert_cmpint(blk_pread(c.blk, 4096, sizeof(buf), buf, 0), ==, 0);
    assert_bytes(buf, 0, sizeof(buf));
    g_array_set_size(((BDRVRecState *)c.top->opaque)->ops, 0);

    /* Growing further, beyond base's end: nothing to hide. */
    g_assert_cmpint(blk_truncate(c.blk, 32 * KiB, true, PREALLOC_MODE_OFF, 0,
                                 &error_abort), ==, 0);
    EXPECT_OPS(c.top, { OP_TRUNCATE, 32 * KiB, 0, 0 });
    chain_free(&c);
}

/* ---- §2.4: SERIALISING | NO_WAIT, and a driver's own request ---- */

static void test_serialising_no_wait(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    BlockDriverState *bs = blk_bs(blk);
    BDRVRecState *s = state(blk);
    uint8_t a[100], b[512] = { 0 };
    QEMUIOVector qa = QEMU_IOVEC_INIT_BUF(qa, a, sizeof(a));
    int ret_a = -EINPROGRESS;
    const int flags = BDRV_REQ_SERIALISING | BDRV_REQ_NO_WAIT;

    memset(a, 1, sizeof(a));
    s->hold_reads = true;
    blk_aio_pwritev(blk, 100, &qa, 0, aio_cb_ret, &ret_a);
    g_assert(s->held);
    s->hold_reads = false;
    g_assert_cmpint(bs->in_flight, ==, 1);
    g_assert_cmpint(bs->serialising_in_flight, ==, 1);

    /* Overlapping the RMW in progress: refused instead of waiting. */
    g_assert_cmpint(blk_pwrite(blk, 0, 512, b, flags), ==, -EBUSY);
    /* Elsewhere: fine. */
    g_assert_cmpint(blk_pwrite(blk, 1024, 512, b, flags), ==, 0);
    /* NO_WAIT only makes sense with SERIALISING. */
    g_assert_cmpint(blk_pwrite(blk, 2048, 512, b, BDRV_REQ_NO_WAIT),
                    ==, -EINVAL);
    EXPECT_OPS(bs, { OP_READ, 0, 512, 0 }, { OP_WRITE, 1024, 512, 0 });

    aio_co_wake(s->held);
    s->held = NULL;
    while (ret_a == -EINPROGRESS) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_cmpint(ret_a, ==, 0);
    g_assert_cmpint(bs->in_flight, ==, 0);
    g_assert_cmpint(bs->serialising_in_flight, ==, 0);

    /* The write found its own tracked request: the padded range. */
    g_assert(s->self_req_found);
    g_assert_cmpint(s->self_req.offset, ==, 0);
    g_assert_cmpint(s->self_req.bytes, ==, 512);
    g_assert_cmpint(s->self_req.type, ==, BDRV_TRACKED_WRITE);
    g_assert(s->self_req.serialising);
    g_array_set_size(s->events, 0);
    blk_unref(blk);
}

/* ---- §2.3: detect-zeroes and compressed writes ---- */

static void test_detect_zeroes(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk;
    uint8_t zero[1024] = { 0 }, data[1024];

    memset(data, 9, sizeof(data));
    cfg.zero_flags = BDRV_REQ_MAY_UNMAP;
    blk = blk_own(node_new(&bdrv_rec, "rec", cfg, BDRV_O_RDWR | BDRV_O_UNMAP));

    /* off: a write of zeroes is a write. */
    g_assert_cmpint(blk_pwrite(blk, 0, 1024, zero, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_WRITE, 0, 1024, 0 });

    blk_bs(blk)->detect_zeroes = BLOCKDEV_DETECT_ZEROES_OPTIONS_ON;
    g_assert_cmpint(blk_pwrite(blk, 0, 1024, zero, 0), ==, 0);
    g_assert_cmpint(blk_pwrite(blk, 0, 1024, data, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_ZERO, 0, 1024, 0 },
               { OP_WRITE, 0, 1024, 0 });

    blk_bs(blk)->detect_zeroes = BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP;
    g_assert_cmpint(blk_pwrite(blk, 0, 1024, zero, 0), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_ZERO, 0, 1024, BDRV_REQ_MAY_UNMAP });
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);
}

static void test_compressed(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    uint8_t buf[4096];

    memset(buf, 3, sizeof(buf));
    g_assert_cmpint(blk_pwrite_compressed(blk, 4096, sizeof(buf), buf), ==, 0);
    EXPECT_OPS(blk_bs(blk), { OP_COMPRESSED, 4096, 4096, 0 });
    assert_bytes(state(blk)->data + 4096, 3, 4096);
    g_array_set_size(state(blk)->events, 0);
    blk_unref(blk);
}

/* ---- Driver dispatch ladder (§2.2): aio callbacks ---- */

typedef struct AioTestReq {
    BlockCompletionFunc *cb;
    void *opaque;
} AioTestReq;

static void aio_test_bh(void *opaque)
{
    AioTestReq *r = opaque;

    r->cb(r->opaque, 0);
    g_free(r);
}

static BlockAIOCB *aio_test_preadv(BlockDriverState *bs, int64_t offset,
                                   int64_t bytes, QEMUIOVector *qiov,
                                   BdrvRequestFlags flags,
                                   BlockCompletionFunc *cb, void *opaque)
{
    AioTestReq *r = g_new(AioTestReq, 1);

    qemu_iovec_memset(qiov, 0, 0x5a, bytes);
    r->cb = cb;
    r->opaque = opaque;
    /* Completion from the event loop, never before we return. */
    aio_bh_schedule_oneshot(qemu_get_aio_context(), aio_test_bh, r);
    /* Callers only look at NULL/non-NULL. */
    return (BlockAIOCB *)r;
}

static int64_t aio_test_getlength(BlockDriverState *bs)
{
    return 64 * KiB;
}

static BlockDriver bdrv_aio_test = {
    .format_name            = "aio-test",
    .instance_size          = 1,
    .bdrv_getlength         = aio_test_getlength,
    .bdrv_aio_preadv        = aio_test_preadv,
};

static void test_aio_driver(void)
{
    BlockBackend *blk;
    uint8_t buf[1000];

    blk = blk_own(bdrv_new_open_driver(&bdrv_aio_test, "aio", BDRV_O_RDWR,
                                       &error_abort));
    /* Byte-granular (a byte-based read callback exists). */
    g_assert_cmpint(blk_get_request_alignment(blk), ==, 1);
    g_assert_cmpint(blk_pread(blk, 3, sizeof(buf), buf, 0), ==, 0);
    assert_bytes(buf, 0x5a, sizeof(buf));
    /* No write callback at all. */
    g_assert_cmpint(blk_pwrite(blk, 0, sizeof(buf), buf, 0), ==, -ENOTSUP);
    blk_unref(blk);
}

/* ---- Validation (§2.1) ---- */

static void test_validation(void)
{
    TestConfig cfg = default_config;
    BlockBackend *blk = rec_blk(cfg);
    BlockDriverState *bs = blk_bs(blk);
    BdrvChild *c = QLIST_FIRST(&bs->parents);
    QEMUIOVector qiov;
    uint8_t buf[512];

    g_assert_cmpint(bdrv_pread(c, -1, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pread(c, 0, -1, buf, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pread(c, BDRV_MAX_LENGTH, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pwrite(c, INT64_MAX - 100, 512, buf, 0), ==, -EIO);
    /* Data requests are capped at BDRV_REQUEST_MAX_BYTES... */
    g_assert_cmpint(bdrv_preadv(c, 0, (int64_t)BDRV_REQUEST_MAX_BYTES + 512,
                                &(QEMUIOVector) { .size = SIZE_MAX }, 0),
                    ==, -EIO);
    g_assert_cmpint(bdrv_pwrite_zeroes(c, -1, 512, 0), ==, -EIO);
    /* Unknown flags, and read flags that make no sense. */
    g_assert_cmpint(bdrv_pread(c, 0, 512, buf, BDRV_REQ_MASK + 1), ==,
                    -EINVAL);
    g_assert_cmpint(bdrv_pread(c, 0, 512, buf, BDRV_REQ_FUA), ==, -EINVAL);
    g_assert_cmpint(bdrv_pwrite(c, 0, 512, buf, BDRV_REQ_MASK + 1), ==,
                    -EINVAL);
    /* An unaligned zero write has to wait for its RMW: can't be NO_WAIT. */
    g_assert_cmpint(bdrv_pwrite_zeroes(c, 100, 100, BDRV_REQ_SERIALISING |
                                       BDRV_REQ_NO_WAIT), ==, -EINVAL);
    g_assert_cmpint(bdrv_pdiscard(c, 512, -1), ==, -EIO);
    /* A vector shorter than the request. */
    qemu_iovec_init_buf(&qiov, buf, 512);
    g_assert_cmpint(bdrv_preadv(c, 0, 1024, &qiov, 0), ==, -EIO);
    g_assert_cmpint(bdrv_pwritev(c, 0, 1024, &qiov, 0), ==, -EIO);
    expect_no_ops(bs);
    blk_unref(blk);
}

int main(int argc, char **argv)
{
    qemu_init_main_loop(&error_abort);
    bdrv_init();
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/request-path/read/padding", test_read_padding);
    g_test_add_func("/request-path/read/padding-4k", test_read_padding_4k);
    g_test_add_func("/request-path/read/max-transfer", test_read_max_transfer);
    g_test_add_func("/request-path/read/past-eof", test_read_past_eof);
    g_test_add_func("/request-path/read/aio-driver", test_aio_driver);
    g_test_add_func("/request-path/write/rmw", test_write_rmw);
    g_test_add_func("/request-path/write/rmw-max-transfer",
                    test_write_rmw_max_transfer);
    g_test_add_func("/request-path/rmw-random", test_rmw_random);
    g_test_add_func("/request-path/serialising/rmw", test_serialising_rmw);
    g_test_add_func("/request-path/serialising/no-overlap",
                    test_serialising_no_overlap);
    g_test_add_func("/request-path/fua/emulated", test_fua_emulated);
    g_test_add_func("/request-path/fua/native", test_fua_native);
    g_test_add_func("/request-path/zero/split", test_zero_split);
    g_test_add_func("/request-path/zero/unaligned", test_zero_unaligned);
    g_test_add_func("/request-path/zero/fallback", test_zero_fallback);
    g_test_add_func("/request-path/zero/no-fallback", test_zero_no_fallback);
    g_test_add_func("/request-path/zero/fallback-bounded",
                    test_zero_fallback_bounded);
    g_test_add_func("/request-path/zero/may-unmap", test_zero_may_unmap);
    g_test_add_func("/request-path/discard/split", test_discard_split);
    g_test_add_func("/request-path/discard/errors", test_discard_errors);
    g_test_add_func("/request-path/flush/generations",
                    test_flush_generations);
    g_test_add_func("/request-path/flush/no-flush", test_flush_no_flush);
    g_test_add_func("/request-path/flush/children", test_flush_children);
    g_test_add_func("/request-path/block-status/chain",
                    test_block_status_chain);
    g_test_add_func("/request-path/block-status/is-allocated-depth",
                    test_is_allocated_depth);
    g_test_add_func("/request-path/read/chain", test_read_chain);
    g_test_add_func("/request-path/copy-on-read/flag", test_copy_on_read);
    g_test_add_func("/request-path/copy-on-read/node",
                    test_copy_on_read_node);
    g_test_add_func("/request-path/validation", test_validation);
    g_test_add_func("/request-path/truncate/backing", test_truncate_backing);
    g_test_add_func("/request-path/serialising/no-wait",
                    test_serialising_no_wait);
    g_test_add_func("/request-path/write/detect-zeroes", test_detect_zeroes);
    g_test_add_func("/request-path/write/compressed", test_compressed);

    return g_test_run();
}
