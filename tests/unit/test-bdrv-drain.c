/*
 * Draining (block-core.md §2.12; the [core] items of QEMU 7.2's
 * test-bdrv-drain listed in §7): driver callbacks and quiesce counters for
 * drain, subtree drain and drain_all, from plain code and from coroutines;
 * requests in flight are complete when drained_begin returns; nesting;
 * several parents; graph changes under drain; nodes created, deleted or
 * detached during a drain.
 */
#include "qemu/osdep.h"
#include "block/block-backend.h"
#include "block/block_int.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

/* ---- A driver that counts drain callbacks ---- */

typedef struct BDRVTestState {
    /* co_drain_begin calls minus co_drain_end calls */
    int drain_count;
    /* co_drain_begin sleeps this long first (0: no sleep) */
    int64_t drain_begin_sleep_ns;
    /* Reads finish through a BH in this context (NULL: directly) */
    AioContext *bh_indirection_ctx;
    int reads;
    /* co_drain_begin schedules this BH once (NULL: nothing) */
    QEMUBHFunc *drain_begin_bh;
    void *drain_begin_bh_opaque;
} BDRVTestState;

static void coroutine_fn test_co_drain_begin(BlockDriverState *bs)
{
    BDRVTestState *s = bs->opaque;

    s->drain_count++;
    if (s->drain_begin_bh) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), s->drain_begin_bh,
                                s->drain_begin_bh_opaque);
        s->drain_begin_bh = NULL;
    }
    if (s->drain_begin_sleep_ns) {
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, s->drain_begin_sleep_ns);
    }
}

static void coroutine_fn test_co_drain_end(BlockDriverState *bs)
{
    BDRVTestState *s = bs->opaque;

    s->drain_count--;
}

static void test_close(BlockDriverState *bs)
{
    BDRVTestState *s = bs->opaque;

    /* Nodes are closed inside a drained section (block-core.md §1.7). */
    g_assert_cmpint(s->drain_count, >, 0);
}

static void co_reenter_bh(void *opaque)
{
    aio_co_wake(opaque);
}

static int coroutine_fn test_co_preadv(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    BDRVTestState *s = bs->opaque;

    /*
     * Stay in flight long enough that only the drain's polling can see
     * the request finish (the driver's drain_begin is polled first).
     */
    qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, 100000);
    if (s->bh_indirection_ctx) {
        aio_bh_schedule_oneshot(s->bh_indirection_ctx, co_reenter_bh,
                                qemu_coroutine_self());
        qemu_coroutine_yield();
    }
    s->reads++;
    return 0;
}

static BlockDriver bdrv_test = {
    .format_name            = "test",
    .instance_size          = sizeof(BDRVTestState),
    .supports_backing       = true,
    .bdrv_close             = test_close,
    .bdrv_co_preadv         = test_co_preadv,
    .bdrv_co_drain_begin    = test_co_drain_begin,
    .bdrv_co_drain_end      = test_co_drain_end,
    .bdrv_child_perm        = bdrv_default_perms,
};

static BlockDriverState *test_node(const char *name, int flags)
{
    return bdrv_new_open_driver(&bdrv_test, name, flags, &error_abort);
}

static BDRVTestState *ts(BlockDriverState *bs)
{
    return bs->opaque;
}

static BlockBackend *blk_on(BlockDriverState *bs)
{
    BlockBackend *blk = blk_new(qemu_get_aio_context(), BLK_PERM_ALL,
                                BLK_PERM_ALL);

    blk_insert_bs(blk, bs, &error_abort);
    return blk;
}

/* "test-node" (read-write, under a BlockBackend) over "backing". */
typedef struct TestChain {
    BlockBackend *blk;
    BlockDriverState *bs;
    BlockDriverState *backing;
} TestChain;

static TestChain test_chain_new(void)
{
    TestChain c = { .bs = test_node("test-node", BDRV_O_RDWR) };

    c.blk = blk_on(c.bs);
    c.backing = test_node("backing", 0);
    bdrv_set_backing_hd(c.bs, c.backing, &error_abort);
    return c;
}

static void test_chain_free(TestChain *c)
{
    bdrv_unref(c->backing);
    bdrv_unref(c->bs);
    blk_unref(c->blk);
}

/* ---- The three kinds of drain ---- */

enum drain_type {
    BDRV_DRAIN_ALL,
    BDRV_DRAIN,
    BDRV_SUBTREE_DRAIN,
    DRAIN_TYPE_MAX,
};

static const char *const drain_type_name[] = {
    [BDRV_DRAIN_ALL] = "drain_all",
    [BDRV_DRAIN] = "drain",
    [BDRV_SUBTREE_DRAIN] = "drain_subtree",
};

static void do_drain_begin(enum drain_type type, BlockDriverState *bs)
{
    switch (type) {
    case BDRV_DRAIN_ALL:
        bdrv_drain_all_begin();
        break;
    case BDRV_DRAIN:
        bdrv_drained_begin(bs);
        break;
    case BDRV_SUBTREE_DRAIN:
        bdrv_subtree_drained_begin(bs);
        break;
    default:
        g_assert_not_reached();
    }
}

static void do_drain_end(enum drain_type type, BlockDriverState *bs)
{
    switch (type) {
    case BDRV_DRAIN_ALL:
        bdrv_drain_all_end();
        break;
    case BDRV_DRAIN:
        bdrv_drained_end(bs);
        break;
    case BDRV_SUBTREE_DRAIN:
        bdrv_subtree_drained_end(bs);
        break;
    default:
        g_assert_not_reached();
    }
}

/* Does this kind of drain reach the children too? */
static bool drain_recursive(enum drain_type type)
{
    return type != BDRV_DRAIN;
}

/* ---- Running a test body in a coroutine ---- */

typedef struct CoBody {
    void (*fn)(enum drain_type type);
    enum drain_type type;
    bool done;
} CoBody;

static void coroutine_fn co_body_entry(void *opaque)
{
    CoBody *body = opaque;

    body->fn(body->type);
    body->done = true;
}

static void call_in_coroutine(void (*fn)(enum drain_type), enum drain_type t)
{
    CoBody body = { .fn = fn, .type = t };

    qemu_coroutine_enter(qemu_coroutine_create(co_body_entry, &body));
    while (!body.done) {
        aio_poll(qemu_get_aio_context(), true);
    }
}

static void aio_ret_cb(void *opaque, int ret)
{
    *(int *)opaque = ret;
}

/* ---- driver-cb: callbacks on the node, on backing if recursive ---- */

static void test_drv_cb_common(enum drain_type type)
{
    TestChain c = test_chain_new();
    BlockDriverState *bs = c.bs, *backing = c.backing;
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, NULL, 0);
    int aio_ret;

    g_assert_cmpint(ts(bs)->drain_count, ==, 0);
    g_assert_cmpint(ts(backing)->drain_count, ==, 0);

    do_drain_begin(type, bs);
    g_assert_cmpint(ts(bs)->drain_count, ==, 1);
    g_assert_cmpint(ts(backing)->drain_count, ==, drain_recursive(type));
    do_drain_end(type, bs);
    g_assert_cmpint(ts(bs)->drain_count, ==, 0);
    g_assert_cmpint(ts(backing)->drain_count, ==, 0);

    /* With a request in flight: complete when drained_begin returns. */
    aio_ret = -EINPROGRESS;
    g_assert(blk_aio_preadv(c.blk, 0, &qiov, 0, aio_ret_cb, &aio_ret));
    g_assert_cmpint(aio_ret, ==, -EINPROGRESS);
    g_assert_cmpint(ts(bs)->drain_count, ==, 0);

    do_drain_begin(type, bs);
    g_assert_cmpint(aio_ret, ==, 0);
    g_assert_cmpint(ts(bs)->reads, ==, 1);
    g_assert_cmpint(ts(bs)->drain_count, ==, 1);
    g_assert_cmpint(ts(backing)->drain_count, ==, drain_recursive(type));
    do_drain_end(type, bs);
    g_assert_cmpint(ts(bs)->drain_count, ==, 0);
    g_assert_cmpint(ts(backing)->drain_count, ==, 0);

    test_chain_free(&c);
}

static void test_drv_cb(gconstpointer opaque)
{
    test_drv_cb_common(GPOINTER_TO_INT(opaque));
}

static void test_drv_cb_co(gconstpointer opaque)
{
    call_in_coroutine(test_drv_cb_common, GPOINTER_TO_INT(opaque));
}

/* ---- quiesce: the counters ---- */

static void test_quiesce_common(enum drain_type type)
{
    TestChain c = test_chain_new();
    BlockDriverState *bs = c.bs, *backing = c.backing;

    g_assert_cmpint(bs->quiesce_counter, ==, 0);
    g_assert_cmpint(backing->quiesce_counter, ==, 0);

    do_drain_begin(type, bs);
    g_assert_cmpint(bs->quiesce_counter, ==, 1);
    g_assert_cmpint(backing->quiesce_counter, ==, drain_recursive(type));
    g_assert_cmpint(bs->recursive_quiesce_counter, ==,
                    type == BDRV_SUBTREE_DRAIN);
    do_drain_end(type, bs);

    g_assert_cmpint(bs->quiesce_counter, ==, 0);
    g_assert_cmpint(backing->quiesce_counter, ==, 0);
    g_assert_cmpint(bs->recursive_quiesce_counter, ==, 0);

    test_chain_free(&c);
}

static void test_quiesce(gconstpointer opaque)
{
    test_quiesce_common(GPOINTER_TO_INT(opaque));
}

static void test_quiesce_co(gconstpointer opaque)
{
    call_in_coroutine(test_quiesce_common, GPOINTER_TO_INT(opaque));
}

/* ---- nested: every pair of kinds nests and unwinds ---- */

static void test_nested(void)
{
    TestChain c = test_chain_new();
    BlockDriverState *bs = c.bs, *backing = c.backing;
    enum drain_type outer, inner;

    for (outer = 0; outer < DRAIN_TYPE_MAX; outer++) {
        for (inner = 0; inner < DRAIN_TYPE_MAX; inner++) {
            int backing_count = drain_recursive(outer) +
                                drain_recursive(inner);

            do_drain_begin(outer, bs);
            do_drain_begin(inner, bs);

            g_assert_cmpint(bs->quiesce_counter, ==, 2);
            g_assert_cmpint(backing->quiesce_counter, ==, backing_count);
            g_assert_cmpint(ts(bs)->drain_count, ==, 2);
            g_assert_cmpint(ts(backing)->drain_count, ==, backing_count);

            do_drain_end(inner, bs);
            do_drain_end(outer, bs);

            g_assert_cmpint(bs->quiesce_counter, ==, 0);
            g_assert_cmpint(backing->quiesce_counter, ==, 0);
            g_assert_cmpint(ts(bs)->drain_count, ==, 0);
            g_assert_cmpint(ts(backing)->drain_count, ==, 0);
        }
    }

    test_chain_free(&c);
}

/* ---- multiparent: a subtree drain reaches the other parent ---- */

static void expect_counts(BlockDriverState *a, BlockDriverState *b,
                          BlockDriverState *backing, int na, int nb,
                          int nbacking)
{
    g_assert_cmpint(a->quiesce_counter, ==, na);
    g_assert_cmpint(b->quiesce_counter, ==, nb);
    g_assert_cmpint(backing->quiesce_counter, ==, nbacking);
    g_assert_cmpint(ts(a)->drain_count, ==, na);
    g_assert_cmpint(ts(b)->drain_count, ==, nb);
    g_assert_cmpint(ts(backing)->drain_count, ==, nbacking);
}

static void test_multiparent(void)
{
    BlockBackend *blk_a, *blk_b;
    BlockDriverState *a, *b, *backing;

    a = test_node("test-node-a", BDRV_O_RDWR);
    blk_a = blk_on(a);
    b = test_node("test-node-b", BDRV_O_RDWR);
    blk_b = blk_on(b);
    backing = test_node("backing", 0);
    bdrv_set_backing_hd(a, backing, &error_abort);
    bdrv_set_backing_hd(b, backing, &error_abort);

    expect_counts(a, b, backing, 0, 0, 0);

    /* backing's other parent b is quiesced through it. */
    do_drain_begin(BDRV_SUBTREE_DRAIN, a);
    expect_counts(a, b, backing, 1, 1, 1);
    do_drain_begin(BDRV_SUBTREE_DRAIN, b);
    expect_counts(a, b, backing, 2, 2, 2);

    do_drain_end(BDRV_SUBTREE_DRAIN, b);
    expect_counts(a, b, backing, 1, 1, 1);
    do_drain_end(BDRV_SUBTREE_DRAIN, a);
    expect_counts(a, b, backing, 0, 0, 0);

    bdrv_unref(backing);
    bdrv_unref(a);
    bdrv_unref(b);
    blk_unref(blk_a);
    blk_unref(blk_b);
}

/* ---- graph-change: drains follow edges that come and go ---- */

static void test_graph_change_drain_subtree(void)
{
    BlockBackend *blk_a, *blk_b;
    BlockDriverState *a, *b, *backing;
    int i;

    a = test_node("test-parent-a", BDRV_O_RDWR);
    blk_a = blk_on(a);
    b = test_node("test-parent-b", BDRV_O_RDWR);
    blk_b = blk_on(b);
    backing = test_node("backing", 0);
    bdrv_set_backing_hd(a, backing, &error_abort);

    /* a's three subtree drains also quiesce backing; b has two. */
    for (i = 0; i < 3; i++) {
        do_drain_begin(BDRV_SUBTREE_DRAIN, a);
    }
    for (i = 0; i < 2; i++) {
        do_drain_begin(BDRV_SUBTREE_DRAIN, b);
    }
    expect_counts(a, b, backing, 3, 2, 3);

    /* backing joins b's subtree (and a sees b's drains through it). */
    bdrv_set_backing_hd(b, backing, &error_abort);
    expect_counts(a, b, backing, 5, 5, 5);

    bdrv_set_backing_hd(b, NULL, &error_abort);
    expect_counts(a, b, backing, 3, 2, 3);

    bdrv_set_backing_hd(b, backing, &error_abort);
    expect_counts(a, b, backing, 5, 5, 5);

    for (i = 0; i < 2; i++) {
        do_drain_end(BDRV_SUBTREE_DRAIN, b);
    }
    for (i = 0; i < 3; i++) {
        do_drain_end(BDRV_SUBTREE_DRAIN, a);
    }
    expect_counts(a, b, backing, 0, 0, 0);

    bdrv_unref(backing);
    bdrv_unref(a);
    bdrv_unref(b);
    blk_unref(blk_a);
    blk_unref(blk_b);
}

/* Nodes created during drain_all start drained; deleted ones let go. */
static void test_graph_change_drain_all(void)
{
    BlockBackend *blk_a, *blk_b;
    BlockDriverState *a, *b;

    a = test_node("test-node-a", BDRV_O_RDWR);
    blk_a = blk_on(a);

    bdrv_drain_all_begin();

    b = test_node("test-node-b", BDRV_O_RDWR);
    blk_b = blk_on(b);
    g_assert_cmpint(a->quiesce_counter, ==, 1);
    g_assert_cmpint(b->quiesce_counter, ==, 1);
    g_assert_cmpint(ts(a)->drain_count, ==, 1);
    g_assert_cmpint(ts(b)->drain_count, ==, 1);

    /* Deleting a inside the section must not disturb b's drain. */
    blk_unref(blk_a);
    g_assert_cmpint(a->quiesce_counter, ==, 1);
    g_assert_cmpint(ts(a)->drain_count, ==, 1);
    bdrv_unref(a);
    g_assert_cmpint(b->quiesce_counter, ==, 1);
    g_assert_cmpint(ts(b)->drain_count, ==, 1);

    bdrv_drain_all_end();
    g_assert_cmpint(b->quiesce_counter, ==, 0);
    g_assert_cmpint(ts(b)->drain_count, ==, 0);
    g_assert(!aio_external_disabled(qemu_get_aio_context()));

    bdrv_unref(b);
    blk_unref(blk_b);
}

/* ---- attach: appending onto a drained node drains the overlay ---- */

static void test_append_to_drained(void)
{
    BlockBackend *blk;
    BlockDriverState *base, *overlay;

    base = test_node("base", BDRV_O_RDWR);
    blk = blk_on(base);
    overlay = test_node("overlay", BDRV_O_RDWR);

    do_drain_begin(BDRV_DRAIN, base);
    g_assert_cmpint(base->quiesce_counter, ==, 1);
    g_assert_cmpint(ts(base)->drain_count, ==, 1);
    g_assert_cmpint(base->in_flight, ==, 0);

    bdrv_append(overlay, base, &error_abort);
    g_assert_cmpint(base->in_flight, ==, 0);
    g_assert_cmpint(overlay->in_flight, ==, 0);
    g_assert_cmpint(base->quiesce_counter, ==, 1);
    g_assert_cmpint(ts(base)->drain_count, ==, 1);
    g_assert_cmpint(overlay->quiesce_counter, ==, 1);
    g_assert_cmpint(ts(overlay)->drain_count, ==, 1);

    do_drain_end(BDRV_DRAIN, base);
    g_assert_cmpint(base->quiesce_counter, ==, 0);
    g_assert_cmpint(ts(base)->drain_count, ==, 0);
    g_assert_cmpint(overlay->quiesce_counter, ==, 0);
    g_assert_cmpint(ts(overlay)->drain_count, ==, 0);

    bdrv_unref(overlay);
    bdrv_unref(base);
    blk_unref(blk);
}

/* ---- What drain waits for ---- */

/* Requests completing through a BH hop are still waited for. */
static void test_bh_indirection(void)
{
    BlockBackend *blk;
    BlockDriverState *bs;
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, NULL, 0);
    int aio_ret = -EINPROGRESS;

    bs = test_node("test-node", BDRV_O_RDWR);
    blk = blk_on(bs);
    ts(bs)->bh_indirection_ctx = qemu_get_aio_context();

    blk_aio_preadv(blk, 0, &qiov, 0, aio_ret_cb, &aio_ret);
    bdrv_drained_begin(bs);
    g_assert_cmpint(aio_ret, ==, 0);
    g_assert_cmpint(bs->in_flight, ==, 0);
    bdrv_drained_end(bs);

    bdrv_unref(bs);
    blk_unref(blk);
}

/* The driver's drain_begin counts as in flight: drain waits for it. */
static void test_slow_drain_begin(void)
{
    BlockBackend *blk;
    BlockDriverState *bs;
    int64_t start;

    bs = test_node("test-node", BDRV_O_RDWR);
    blk = blk_on(bs);
    ts(bs)->drain_begin_sleep_ns = 10 * 1000 * 1000;

    start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    bdrv_drained_begin(bs);
    g_assert_cmpint(qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start, >=,
                    10 * 1000 * 1000);
    g_assert_cmpint(bs->in_flight, ==, 0);
    g_assert_cmpint(ts(bs)->drain_count, ==, 1);
    bdrv_drained_end(bs);
    g_assert_cmpint(ts(bs)->drain_count, ==, 0);

    bdrv_unref(bs);
    blk_unref(blk);
}

/* A plain drain leaves the children alone; a subtree drain waits for them */
static void test_subtree_waits_for_children(void)
{
    TestChain c = test_chain_new();
    BlockDriverState *bs = c.bs, *backing = c.backing;
    BlockBackend *blk_backing;
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, NULL, 0);
    int aio_ret = -EINPROGRESS;

    blk_backing = blk_new(qemu_get_aio_context(), BLK_PERM_CONSISTENT_READ,
                          BLK_PERM_ALL);
    blk_insert_bs(blk_backing, backing, &error_abort);

    /* A request on backing (through its own BlockBackend) */
    blk_aio_preadv(blk_backing, 0, &qiov, 0, aio_ret_cb, &aio_ret);
    bdrv_subtree_drained_begin(bs);
    g_assert_cmpint(aio_ret, ==, 0);
    g_assert_cmpint(backing->in_flight, ==, 0);
    bdrv_subtree_drained_end(bs);

    blk_unref(blk_backing);
    test_chain_free(&c);
}

/* ---- detach: graph changes from completion callbacks during drain ---- */

typedef struct DetachByCb {
    BlockDriverState *parent;
    BdrvChild *child;
    int ret;
} DetachByCb;

static void detach_cb(void *opaque, int ret)
{
    DetachByCb *d = opaque;

    d->ret = ret;
    bdrv_unref_child(d->parent, d->child);
    d->child = NULL;
}

/*
 * A request on the child completes while the child is being drained and
 * its callback detaches the child from its (drained) parent: the parent
 * is un-drained by the detach, and nothing is ended twice.
 */
static void test_detach_by_completion(void)
{
    BlockBackend *blk, *blk_child;
    BlockDriverState *parent, *child;
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, NULL, 0);
    DetachByCb d = { .ret = -EINPROGRESS };

    parent = test_node("parent", BDRV_O_RDWR);
    blk = blk_on(parent);
    child = test_node("child", BDRV_O_RDWR);
    d.parent = parent;
    d.child = bdrv_attach_child(parent, child, "extra", &child_of_bds,
                                BDRV_CHILD_DATA, &error_abort);
    bdrv_ref(child);
    blk_child = blk_new(qemu_get_aio_context(), BLK_PERM_CONSISTENT_READ,
                        BLK_PERM_ALL);
    blk_insert_bs(blk_child, child, &error_abort);

    blk_aio_preadv(blk_child, 0, &qiov, 0, detach_cb, &d);
    bdrv_drained_begin(child);
    g_assert_cmpint(d.ret, ==, 0);
    g_assert(d.child == NULL);
    g_assert(QLIST_EMPTY(&parent->children));
    /* The parent's drain went with the edge. */
    g_assert_cmpint(parent->quiesce_counter, ==, 0);
    g_assert_cmpint(ts(parent)->drain_count, ==, 0);
    g_assert_cmpint(child->quiesce_counter, ==, 1);
    bdrv_drained_end(child);
    g_assert_cmpint(child->quiesce_counter, ==, 0);
    g_assert_cmpint(ts(child)->drain_count, ==, 0);

    bdrv_unref(child);
    blk_unref(blk_child);
    bdrv_unref(parent);
    blk_unref(blk);
}

typedef struct DeleteByCb {
    BlockBackend *blk;
    BlockDriverState *bs;
    int ret;
} DeleteByCb;

static void delete_cb(void *opaque, int ret)
{
    DeleteByCb *d = opaque;

    d->ret = ret;
    bdrv_unref(d->bs);
    d->bs = NULL;
}

/*
 * The completion drops the last reference to a drained parent node: it
 * is deleted inside the drain of its child, which must survive that.
 */
static void test_delete_by_completion(void)
{
    BlockBackend *blk_child;
    BlockDriverState *parent, *child;
    QEMUIOVector qiov = QEMU_IOVEC_INIT_BUF(qiov, NULL, 0);
    DeleteByCb d = { .ret = -EINPROGRESS };

    parent = test_node("parent", BDRV_O_RDWR);
    child = test_node("child", 0);
    bdrv_ref(child);
    bdrv_attach_child(parent, child, "extra", &child_of_bds, BDRV_CHILD_DATA,
                      &error_abort);
    blk_child = blk_new(qemu_get_aio_context(), BLK_PERM_CONSISTENT_READ,
                        BLK_PERM_ALL);
    blk_insert_bs(blk_child, child, &error_abort);
    d.bs = parent;

    blk_aio_preadv(blk_child, 0, &qiov, 0, delete_cb, &d);
    bdrv_drained_begin(child);
    g_assert_cmpint(d.ret, ==, 0);
    g_assert(d.bs == NULL);
    g_assert(QLIST_FIRST(&child->parents)->opaque == blk_child);
    bdrv_drained_end(child);
    g_assert_cmpint(child->quiesce_counter, ==, 0);

    bdrv_unref(child);
    blk_unref(blk_child);
}

/*
 * Graph changes from a BH that a drain callback scheduled: PB's child B is
 * replaced by C while A (PB's other child) is being drained.  Only the
 * top-level poll may run the BH, after every callback of the walk ran.
 *
 *   PA     PB             PA     PB
 *     \   /  \      ->      \   /  \
 *      A      B            A      C
 */
typedef struct DetachIndirect {
    BlockDriverState *pa, *pb, *a, *b, *c;
    BdrvChild *pb_b;
    int bh_runs;
} DetachIndirect;

static void detach_indirect_bh(void *opaque)
{
    DetachIndirect *d = opaque;

    d->bh_runs++;
    bdrv_unref_child(d->pb, d->pb_b);
    bdrv_ref(d->c);
    bdrv_attach_child(d->pb, d->c, "PB-C", &child_of_bds, BDRV_CHILD_DATA,
                      &error_abort);
}

static DetachIndirect *detach_data;

/* A parent class that starts the graph change from its drain callback. */
static void detach_by_parent_drained_begin(BdrvChild *child)
{
    child_of_bds.drained_begin(child);
    if (detach_data && !detach_data->bh_runs) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), detach_indirect_bh,
                                detach_data);
    }
}

static BdrvChildClass detach_by_parent_class;

static void test_detach_indirect(bool by_parent_cb)
{
    DetachIndirect d = { 0 };
    BdrvChild *c;
    int children = 0;

    detach_by_parent_class = child_of_bds;
    detach_by_parent_class.drained_begin = detach_by_parent_drained_begin;

    d.pa = test_node("PA", BDRV_O_RDWR);
    d.pb = test_node("PB", BDRV_O_RDWR);
    d.a = test_node("A", BDRV_O_RDWR);
    d.b = test_node("B", BDRV_O_RDWR);
    d.c = test_node("C", BDRV_O_RDWR);

    /* PA -> A uses the special class in the parent-callback variant. */
    bdrv_ref(d.a);
    bdrv_attach_child(d.pa, d.a, "PA-A",
                      by_parent_cb ? &detach_by_parent_class : &child_of_bds,
                      BDRV_CHILD_DATA, &error_abort);
    bdrv_ref(d.a);
    bdrv_attach_child(d.pb, d.a, "PB-A", &child_of_bds, BDRV_CHILD_DATA,
                      &error_abort);
    bdrv_ref(d.b);
    d.pb_b = bdrv_attach_child(d.pb, d.b, "PB-B", &child_of_bds,
                               BDRV_CHILD_DATA, &error_abort);

    if (by_parent_cb) {
        detach_data = &d;
    } else {
        ts(d.a)->drain_begin_bh = detach_indirect_bh;
        ts(d.a)->drain_begin_bh_opaque = &d;
    }

    bdrv_drained_begin(d.a);
    detach_data = NULL;
    g_assert_cmpint(d.bh_runs, ==, 1);

    /* PB now has A and C; B left with its drain state intact. */
    QLIST_FOREACH(c, &d.pb->children, next) {
        g_assert(c->bs == d.a || c->bs == d.c);
        children++;
    }
    g_assert_cmpint(children, ==, 2);
    g_assert_cmpint(d.a->quiesce_counter, ==, 1);
    g_assert_cmpint(d.pa->quiesce_counter, ==, 1);
    g_assert_cmpint(d.pb->quiesce_counter, ==, 1);
    g_assert_cmpint(d.b->quiesce_counter, ==, 0);
    g_assert_cmpint(d.c->quiesce_counter, ==, 0);

    bdrv_drained_end(d.a);
    g_assert_cmpint(d.a->quiesce_counter, ==, 0);
    g_assert_cmpint(d.pa->quiesce_counter, ==, 0);
    g_assert_cmpint(d.pb->quiesce_counter, ==, 0);
    g_assert_cmpint(ts(d.pa)->drain_count, ==, 0);
    g_assert_cmpint(ts(d.pb)->drain_count, ==, 0);
    g_assert_cmpint(ts(d.a)->drain_count, ==, 0);

    bdrv_unref(d.pa);
    bdrv_unref(d.pb);
    bdrv_unref(d.a);
    bdrv_unref(d.b);
    bdrv_unref(d.c);
}

static void test_detach_by_parent_cb(void)
{
    test_detach_indirect(true);
}

static void test_detach_by_driver_cb(void)
{
    test_detach_indirect(false);
}

int main(int argc, char **argv)
{
    qemu_init_main_loop(&error_abort);
    bdrv_init();
    g_test_init(&argc, &argv, NULL);

    for (int t = 0; t < DRAIN_TYPE_MAX; t++) {
        g_autofree char *cb = g_strdup_printf("/bdrv-drain/driver-cb/%s",
                                              drain_type_name[t]);
        g_autofree char *cb_co =
            g_strdup_printf("/bdrv-drain/driver-cb/co/%s", drain_type_name[t]);
        g_autofree char *q = g_strdup_printf("/bdrv-drain/quiesce/%s",
                                             drain_type_name[t]);
        g_autofree char *q_co = g_strdup_printf("/bdrv-drain/quiesce/co/%s",
                                                drain_type_name[t]);

        g_test_add_data_func(cb, GINT_TO_POINTER(t), test_drv_cb);
        g_test_add_data_func(cb_co, GINT_TO_POINTER(t), test_drv_cb_co);
        g_test_add_data_func(q, GINT_TO_POINTER(t), test_quiesce);
        g_test_add_data_func(q_co, GINT_TO_POINTER(t), test_quiesce_co);
    }
    g_test_add_func("/bdrv-drain/nested", test_nested);
    g_test_add_func("/bdrv-drain/multiparent", test_multiparent);
    g_test_add_func("/bdrv-drain/graph-change/drain_subtree",
                    test_graph_change_drain_subtree);
    g_test_add_func("/bdrv-drain/graph-change/drain_all",
                    test_graph_change_drain_all);
    g_test_add_func("/bdrv-drain/attach/drain", test_append_to_drained);
    g_test_add_func("/bdrv-drain/bh-indirection", test_bh_indirection);
    g_test_add_func("/bdrv-drain/slow-drain-begin", test_slow_drain_begin);
    g_test_add_func("/bdrv-drain/subtree-waits-for-children",
                    test_subtree_waits_for_children);
    g_test_add_func("/bdrv-drain/detach/by-completion",
                    test_detach_by_completion);
    g_test_add_func("/bdrv-drain/deletion/by-completion",
                    test_delete_by_completion);
    g_test_add_func("/bdrv-drain/detach/parent_cb", test_detach_by_parent_cb);
    g_test_add_func("/bdrv-drain/detach/driver_cb", test_detach_by_driver_cb);

    return g_test_run();
}
