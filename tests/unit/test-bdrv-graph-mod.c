/*
 * Graph modification and permission tests.
 *
 * The scenarios are those of QEMU 7.2's tests/unit/test-bdrv-graph-mod.c
 * (update-perm-tree, should-update-child, parallel-exclusive-write,
 * parallel-perm-update, append-greedy-filter) rebuilt with small drivers
 * defined here, plus checks of the error texts QEMU prints for permission
 * conflicts, cycles and missing backing support.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "block/block_int.h"
#include "block/block-backend.h"

/* ---- Test drivers ---- */

/* A format that needs nothing from its children (and allows backing). */
static void no_perm_child_perm(BlockDriverState *bs, BdrvChild *c,
                               BdrvChildRole role,
                               BlockReopenQueue *reopen_queue,
                               uint64_t perm, uint64_t shared,
                               uint64_t *nperm, uint64_t *nshared)
{
    *nperm = 0;
    *nshared = BLK_PERM_ALL;
}

static BlockDriver bdrv_no_perm = {
    .format_name      = "no-perm",
    .supports_backing = true,
    .bdrv_child_perm  = no_perm_child_perm,
};

/* A filter (child in bs->backing) passing permissions through. */
static BlockDriver bdrv_pass_through = {
    .format_name               = "pass-through",
    .is_filter                 = true,
    .filtered_child_is_backing = true,
    .bdrv_child_perm           = bdrv_default_perms,
};

/* A filter that writes its child and lets nobody else write it. */
static void exclusive_write_child_perm(BlockDriverState *bs, BdrvChild *c,
                                       BdrvChildRole role,
                                       BlockReopenQueue *reopen_queue,
                                       uint64_t perm, uint64_t shared,
                                       uint64_t *nperm, uint64_t *nshared)
{
    *nperm = BLK_PERM_WRITE;
    *nshared = BLK_PERM_ALL & ~BLK_PERM_WRITE;
}

static BlockDriver bdrv_exclusive_writer = {
    .format_name               = "exclusive-writer",
    .is_filter                 = true,
    .filtered_child_is_backing = true,
    .bdrv_child_perm           = exclusive_write_child_perm,
};

/* Writes (exclusively) only the child that bs->file points at. */
static void write_to_file_child_perm(BlockDriverState *bs, BdrvChild *c,
                                     BdrvChildRole role,
                                     BlockReopenQueue *reopen_queue,
                                     uint64_t perm, uint64_t shared,
                                     uint64_t *nperm, uint64_t *nshared)
{
    if (bs->file && c == bs->file) {
        exclusive_write_child_perm(bs, c, role, reopen_queue, perm, shared,
                                   nperm, nshared);
    } else {
        no_perm_child_perm(bs, c, role, reopen_queue, perm, shared, nperm,
                           nshared);
    }
}

static BlockDriver bdrv_write_to_file = {
    .format_name     = "tricky-perm",
    .bdrv_child_perm = write_to_file_child_perm,
};

/* A format without backing support, using the default permissions. */
static BlockDriver bdrv_no_backing = {
    .format_name     = "no-backing",
    .bdrv_child_perm = bdrv_default_perms,
};

static BlockDriverState *new_node(BlockDriver *drv, const char *name)
{
    return bdrv_new_open_driver(drv, name, BDRV_O_RDWR, &error_abort);
}

static BlockDriverState *new_ro_node(const char *name)
{
    return bdrv_new_open_driver(&bdrv_no_perm, name, 0, &error_abort);
}

/* child becomes parent's filtered backing child, taking a reference. */
static BdrvChild *attach_filtered(BlockDriverState *parent,
                                  BlockDriverState *child, Error **errp)
{
    return bdrv_attach_child(parent, child, "backing", &child_of_bds,
                             BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY, errp);
}

/* ---- QEMU's scenarios ---- */

/*
 * root (BB: write, unshares write) -> node.  A filter that already has
 * node as a DATA child is appended above node: its two edges to node would
 * both write while unsharing write, so the append must fail, and leave
 * the graph alone.
 */
static void test_update_perm_tree(void)
{
    BlockBackend *root = blk_new(qemu_get_aio_context(),
                                 BLK_PERM_WRITE | BLK_PERM_CONSISTENT_READ,
                                 BLK_PERM_ALL & ~BLK_PERM_WRITE);
    BlockDriverState *bs = new_node(&bdrv_no_perm, "node");
    BlockDriverState *filter = new_node(&bdrv_pass_through, "filter");
    Error *err = NULL;
    int ret;

    blk_insert_bs(root, bs, &error_abort);
    bdrv_attach_child(filter, bs, "child", &child_of_bds, BDRV_CHILD_DATA,
                      &error_abort);

    ret = bdrv_append(filter, bs, &err);
    g_assert_cmpint(ret, <, 0);
    g_assert_nonnull(err);
    error_free_or_abort(&err);

    /* Rolled back: root still uses node, filter has no backing. */
    g_assert_true(blk_bs(root) == bs);
    g_assert_null(filter->backing);
    g_assert_null(filter->file);

    bdrv_unref(filter);
    blk_unref(root);
}

/*
 * root -> node; target's backing is node; filter has target as a child.
 * Appending filter over node must not move target's backing edge to
 * filter: filter reaches target, so that would make a loop.
 */
static void test_should_update_child(void)
{
    BlockBackend *root = blk_new(qemu_get_aio_context(), 0, BLK_PERM_ALL);
    BlockDriverState *bs = new_node(&bdrv_no_perm, "node");
    BlockDriverState *filter = new_node(&bdrv_no_perm, "filter");
    BlockDriverState *target = new_node(&bdrv_no_perm, "target");

    blk_insert_bs(root, bs, &error_abort);

    bdrv_set_backing_hd(target, bs, &error_abort);
    g_assert_true(target->backing->bs == bs);

    bdrv_attach_child(filter, target, "target", &child_of_bds,
                      BDRV_CHILD_DATA, &error_abort);
    bdrv_append(filter, bs, &error_abort);

    g_assert_true(target->backing->bs == bs);
    g_assert_true(blk_bs(root) == filter);
    g_assert_true(filter->backing->bs == bs);

    bdrv_unref(filter);
    bdrv_unref(bs);
    blk_unref(root);
}

/*
 * top (exclusive writer) -> fl1 -> base, and fl2 -> base.  Replacing fl1
 * by fl2: the write permission fl1 still holds on base must not block
 * fl2, which is about to take it over.
 */
static void test_parallel_exclusive_write(void)
{
    BlockDriverState *top = new_node(&bdrv_exclusive_writer, "top");
    BlockDriverState *base = new_node(&bdrv_no_perm, "base");
    BlockDriverState *fl1 = new_node(&bdrv_pass_through, "fl1");
    BlockDriverState *fl2 = new_node(&bdrv_pass_through, "fl2");

    /* Each attach consumes a reference to base. */
    bdrv_ref(base);

    attach_filtered(top, fl1, &error_abort);
    attach_filtered(fl1, base, &error_abort);
    attach_filtered(fl2, base, &error_abort);

    bdrv_replace_node(fl1, fl2, &error_abort);

    g_assert_true(top->backing->bs == fl2);
    g_assert_true(fl2->backing->perm & BLK_PERM_WRITE);

    bdrv_unref(fl2);
    bdrv_unref(top);
}

/*
 * top -> ws, ws -> fl1 -> base and ws -> fl2 -> base; ws writes whichever
 * child bs->file points at.  Switching that child and refreshing must
 * move the write permission without a (false) conflict on base: that
 * needs base to be checked only after both filters were updated, i.e. a
 * topological order.
 */
static void test_parallel_perm_update(void)
{
    BlockDriverState *top = new_node(&bdrv_no_perm, "top");
    BlockDriverState *ws = new_node(&bdrv_write_to_file, "ws");
    BlockDriverState *fl1 = new_node(&bdrv_pass_through, "fl1");
    BlockDriverState *fl2 = new_node(&bdrv_pass_through, "fl2");
    BlockDriverState *base = new_node(&bdrv_no_perm, "base");
    BdrvChild *c_ws, *c_fl1, *c_fl2;

    bdrv_ref(base);

    c_ws = bdrv_attach_child(top, ws, "file", &child_of_bds, BDRV_CHILD_DATA,
                             &error_abort);
    c_fl1 = bdrv_attach_child(ws, fl1, "first", &child_of_bds,
                              BDRV_CHILD_DATA, &error_abort);
    c_fl2 = bdrv_attach_child(ws, fl2, "second", &child_of_bds,
                              BDRV_CHILD_DATA, &error_abort);
    attach_filtered(fl1, base, &error_abort);
    attach_filtered(fl2, base, &error_abort);

    ws->file = c_fl1;
    bdrv_child_refresh_perms(top, c_ws, &error_abort);
    g_assert_true(c_fl1->perm & BLK_PERM_WRITE);
    g_assert_false(c_fl2->perm & BLK_PERM_WRITE);

    ws->file = c_fl2;
    bdrv_child_refresh_perms(top, c_ws, &error_abort);
    g_assert_true(c_fl2->perm & BLK_PERM_WRITE);
    g_assert_false(c_fl1->perm & BLK_PERM_WRITE);

    /* And back, so the order of the children list does not matter. */
    ws->file = c_fl1;
    bdrv_child_refresh_perms(top, c_ws, &error_abort);
    g_assert_true(c_fl1->perm & BLK_PERM_WRITE);
    g_assert_false(c_fl2->perm & BLK_PERM_WRITE);

    bdrv_unref(top);
}

/*
 * top (exclusive writer) -> base.  A second exclusive writer appended
 * over base takes top's place; in between both would write base, which
 * must not matter because only the final graph is checked.
 */
static void test_append_greedy_filter(void)
{
    BlockDriverState *top = new_node(&bdrv_exclusive_writer, "top");
    BlockDriverState *base = new_node(&bdrv_no_perm, "base");
    BlockDriverState *fl = new_node(&bdrv_exclusive_writer, "fl1");

    attach_filtered(top, base, &error_abort);

    bdrv_append(fl, base, &error_abort);
    g_assert_true(top->backing->bs == fl);
    g_assert_true(fl->backing->bs == base);

    bdrv_unref(fl);
    bdrv_unref(top);
}

/* ---- Messages ---- */

/*
 * Two exclusive writers on one node.  The text is QEMU's, e.g. (QEMU 7.2):
 *   qemu-io -c 'open -o driver=qcow2,node-name=top,file.driver=file,
 *     file.filename=b.qcow2,file.node-name=f,backing.driver=qcow2,
 *     backing.node-name=base,backing.file=f'
 *   qemu-io: can't open: Could not open backing file: Permission conflict
 *   on node 'f': permissions 'write, resize' are both required by node
 *   'top' (uses node 'f' as 'file' child) and unshared by node 'base'
 *   (uses node 'f' as 'file' child).
 * The newest parent is checked first (as "unsharing").
 */
static void test_conflict_message(void)
{
    BlockDriverState *w1 = new_node(&bdrv_exclusive_writer, "w1");
    BlockDriverState *w2 = new_node(&bdrv_exclusive_writer, "w2");
    BlockDriverState *base = new_node(&bdrv_no_perm, "base");
    Error *err = NULL;

    bdrv_ref(base);
    attach_filtered(w1, base, &error_abort);
    g_assert_null(attach_filtered(w2, base, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Permission conflict on node 'base': permissions "
                    "'write' are both required by node 'w1' (uses node "
                    "'base' as 'backing' child) and unshared by node 'w2' "
                    "(uses node 'base' as 'backing' child).");
    error_free_or_abort(&err);

    /* The failed attach left nothing behind. */
    g_assert_null(w2->backing);
    g_assert_true(QLIST_FIRST(&base->parents) == w1->backing);
    g_assert_null(QLIST_NEXT(w1->backing, next_parent));
    g_assert_cmpint(base->refcnt, ==, 1);

    bdrv_unref(w1);
    bdrv_unref(w2);
}

/* BlockBackend parents are "an unnamed block device". */
static void test_conflict_message_blk(void)
{
    BlockDriverState *bs = new_node(&bdrv_no_perm, "node");
    BlockBackend *b1 = blk_new(qemu_get_aio_context(),
                               BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                               BLK_PERM_ALL & ~BLK_PERM_WRITE);
    BlockBackend *b2 = blk_new(qemu_get_aio_context(),
                               BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                               BLK_PERM_ALL);
    Error *err = NULL;

    blk_insert_bs(b1, bs, &error_abort);
    g_assert_cmpint(blk_insert_bs(b2, bs, &err), <, 0);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Permission conflict on node 'node': permissions "
                    "'write' are both required by an unnamed block device "
                    "(uses node 'node' as 'root' child) and unshared by an "
                    "unnamed block device (uses node 'node' as 'root' "
                    "child).");
    error_free_or_abort(&err);
    g_assert_null(blk_bs(b2));

    blk_unref(b2);
    blk_unref(b1);
    bdrv_unref(bs);
}

/* A read-only node refuses writers (cumulative perms have WRITE). */
static void test_read_only_node(void)
{
    BlockDriverState *bs = new_ro_node("ro");
    BlockBackend *blk = blk_new(qemu_get_aio_context(),
                                BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                                BLK_PERM_ALL);
    Error *err = NULL;

    g_assert_cmpint(blk_insert_bs(blk, bs, &err), ==, -EPERM);
    g_assert_cmpstr(error_get_pretty(err), ==, "Block node is read-only");
    error_free_or_abort(&err);

    blk_unref(blk);
    bdrv_unref(bs);
}

static void test_cycle(void)
{
    BlockDriverState *a = new_node(&bdrv_no_perm, "a");
    BlockDriverState *b = new_node(&bdrv_no_perm, "b");
    Error *err = NULL;

    bdrv_set_backing_hd(a, b, &error_abort);
    g_assert_cmpint(bdrv_set_backing_hd(b, a, &err), <, 0);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Making 'a' a backing child of 'b' would create a cycle");
    error_free_or_abort(&err);
    g_assert_null(b->backing);

    /* A node is never its own child (the attach consumes a reference). */
    bdrv_ref(b);
    g_assert_null(bdrv_attach_child(b, b, "self", &child_of_bds,
                                    BDRV_CHILD_DATA, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Making 'b' a self child of 'b' would create a cycle");
    error_free_or_abort(&err);

    bdrv_unref(b);
    bdrv_unref(a);
}

static void test_backing_unsupported(void)
{
    BlockDriverState *a = new_node(&bdrv_no_backing, "fmt");
    BlockDriverState *b = new_node(&bdrv_no_perm, "b");
    Error *err = NULL;

    g_assert_cmpint(bdrv_set_backing_hd(a, b, &err), ==, -EINVAL);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Driver 'no-backing' of node 'fmt' does not support "
                    "backing files");
    error_free_or_abort(&err);
    g_assert_cmpint(b->refcnt, ==, 1);

    bdrv_unref(b);
    bdrv_unref(a);
}

/* The backing node is blocked while used; set_backing_hd(NULL) undoes. */
static void test_backing_blocker_and_removal(void)
{
    BlockDriverState *top = new_node(&bdrv_no_perm, "top");
    BlockDriverState *base = new_node(&bdrv_no_perm, "base");

    bdrv_set_backing_hd(top, base, &error_abort);
    g_assert_true(top->backing->role == BDRV_CHILD_COW);
    g_assert_false(bdrv_op_blocker_is_empty(base));
    g_assert_cmpstr(error_get_pretty(top->backing_blocker), ==,
                    "node is used as backing hd of 'top'");
    g_assert_true(base->inherits_from == NULL);
    g_assert_cmpint(base->refcnt, ==, 2);

    bdrv_set_backing_hd(top, NULL, &error_abort);
    g_assert_null(top->backing);
    g_assert_true(bdrv_op_blocker_is_empty(base));
    g_assert_null(top->backing_blocker);
    g_assert_cmpint(base->refcnt, ==, 1);

    bdrv_unref(base);
    bdrv_unref(top);
}

/* Loosening permissions never fails, even when the graph is in conflict. */
static void test_try_set_perm_loosen(void)
{
    BlockDriverState *bs = new_ro_node("ro");
    BlockBackend *blk = blk_new(qemu_get_aio_context(),
                                BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL);
    BdrvChild *c;
    Error *err = NULL;

    blk_insert_bs(blk, bs, &error_abort);
    c = QLIST_FIRST(&bs->parents);

    /* Tightening to WRITE on a read-only node fails and is undone. */
    g_assert_cmpint(bdrv_child_try_set_perm(c, BLK_PERM_WRITE, BLK_PERM_ALL,
                                            &err), ==, -EPERM);
    g_assert_cmpstr(error_get_pretty(err), ==, "Block node is read-only");
    error_free_or_abort(&err);
    g_assert_cmpuint(c->perm, ==, BLK_PERM_CONSISTENT_READ);

    /* Make the edge inconsistent behind the core's back... */
    c->perm = BLK_PERM_WRITE;
    /* ...then asking for less is still reported as success. */
    g_assert_cmpint(bdrv_child_try_set_perm(c, BLK_PERM_WRITE, BLK_PERM_ALL,
                                            &error_abort), ==, 0);
    c->perm = BLK_PERM_CONSISTENT_READ;

    blk_unref(blk);
    bdrv_unref(bs);
}

static void test_perm_names(void)
{
    g_autofree char *all = bdrv_perm_names(BLK_PERM_ALL);
    g_autofree char *two = bdrv_perm_names(BLK_PERM_CONSISTENT_READ |
                                           BLK_PERM_RESIZE);
    g_autofree char *none = bdrv_perm_names(0);

    g_assert_cmpstr(all, ==,
                    "consistent read, write, write unchanged, resize");
    g_assert_cmpstr(two, ==, "consistent read, resize");
    g_assert_cmpstr(none, ==, "");
}

/* The default child permissions of block-core.md 1.4. */
static void test_default_perms(void)
{
    BlockDriverState *rw = new_node(&bdrv_no_perm, "rw");
    BlockDriverState *ro = new_ro_node("ro");
    uint64_t p, s;

    /* FILTERED: pass through. */
    bdrv_default_perms(rw, NULL, BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY,
                       NULL, BLK_PERM_WRITE, BLK_PERM_CONSISTENT_READ,
                       &p, &s);
    g_assert_cmpuint(p, ==, BLK_PERM_WRITE);
    g_assert_cmpuint(s, ==, BLK_PERM_CONSISTENT_READ);

    /* COW: read only, sharing read and unchanged writes... */
    bdrv_default_perms(rw, NULL, BDRV_CHILD_COW, NULL, BLK_PERM_ALL, 0,
                       &p, &s);
    g_assert_cmpuint(p, ==, BLK_PERM_CONSISTENT_READ);
    g_assert_cmpuint(s, ==, BLK_PERM_CONSISTENT_READ |
                     BLK_PERM_WRITE_UNCHANGED);
    /* ...and writes/resizes when the parent shares writes. */
    bdrv_default_perms(rw, NULL, BDRV_CHILD_COW, NULL, 0, BLK_PERM_WRITE,
                       &p, &s);
    g_assert_cmpuint(p, ==, 0);
    g_assert_cmpuint(s, ==, BLK_PERM_ALL);

    /* IMAGE of a writable node: metadata needs read/write/resize. */
    bdrv_default_perms(rw, NULL, BDRV_CHILD_IMAGE, NULL, 0, BLK_PERM_ALL,
                       &p, &s);
    g_assert_cmpuint(p, ==, BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE |
                     BLK_PERM_RESIZE);
    g_assert_cmpuint(s, ==, BLK_PERM_CONSISTENT_READ |
                     BLK_PERM_WRITE_UNCHANGED);

    /* IMAGE of a read-only node: read only. */
    bdrv_default_perms(ro, NULL, BDRV_CHILD_IMAGE, NULL, 0, BLK_PERM_ALL,
                       &p, &s);
    g_assert_cmpuint(p, ==, BLK_PERM_CONSISTENT_READ);

    /* DATA: unchanged writes become writes, writes need resize. */
    bdrv_default_perms(rw, NULL, BDRV_CHILD_DATA, NULL,
                       BLK_PERM_WRITE_UNCHANGED, BLK_PERM_ALL, &p, &s);
    g_assert_cmpuint(p, ==, BLK_PERM_WRITE_UNCHANGED | BLK_PERM_WRITE |
                     BLK_PERM_RESIZE);
    g_assert_cmpuint(s, ==, BLK_PERM_ALL & ~BLK_PERM_RESIZE);

    bdrv_unref(ro);
    bdrv_unref(rw);
}

/* The navigation helpers on a filter over a COW chain. */
static void test_navigation(void)
{
    BlockDriverState *flt = new_node(&bdrv_pass_through, "flt");
    BlockDriverState *top = new_node(&bdrv_no_perm, "top");
    BlockDriverState *base = new_node(&bdrv_no_perm, "base");

    bdrv_set_backing_hd(top, base, &error_abort);
    bdrv_unref(base);
    bdrv_set_backing_hd(flt, top, &error_abort);
    bdrv_unref(top);

    g_assert_true(flt->backing->role ==
                  (BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY));
    g_assert_null(bdrv_cow_child(flt));
    g_assert_true(bdrv_filter_bs(flt) == top);
    g_assert_true(bdrv_primary_bs(flt) == top);
    g_assert_true(bdrv_filter_or_cow_bs(flt) == top);
    g_assert_true(bdrv_cow_bs(top) == base);
    g_assert_null(bdrv_filter_child(top));
    g_assert_null(bdrv_primary_child(top));
    g_assert_true(bdrv_skip_filters(flt) == top);
    g_assert_true(bdrv_backing_chain_next(flt) == base);
    g_assert_null(bdrv_backing_chain_next(base));
    g_assert_true(backing_bs(top) == base);
    g_assert_null(child_bs(NULL));

    bdrv_unref(flt);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    g_test_add_func("/bdrv-graph-mod/update-perm-tree", test_update_perm_tree);
    g_test_add_func("/bdrv-graph-mod/should-update-child",
                    test_should_update_child);
    g_test_add_func("/bdrv-graph-mod/parallel-exclusive-write",
                    test_parallel_exclusive_write);
    g_test_add_func("/bdrv-graph-mod/parallel-perm-update",
                    test_parallel_perm_update);
    g_test_add_func("/bdrv-graph-mod/append-greedy-filter",
                    test_append_greedy_filter);
    g_test_add_func("/bdrv-graph-mod/conflict-message",
                    test_conflict_message);
    g_test_add_func("/bdrv-graph-mod/conflict-message-blk",
                    test_conflict_message_blk);
    g_test_add_func("/bdrv-graph-mod/read-only-node", test_read_only_node);
    g_test_add_func("/bdrv-graph-mod/cycle", test_cycle);
    g_test_add_func("/bdrv-graph-mod/backing-unsupported",
                    test_backing_unsupported);
    g_test_add_func("/bdrv-graph-mod/backing-blocker",
                    test_backing_blocker_and_removal);
    g_test_add_func("/bdrv-graph-mod/try-set-perm-loosen",
                    test_try_set_perm_loosen);
    g_test_add_func("/bdrv-graph-mod/perm-names", test_perm_names);
    g_test_add_func("/bdrv-graph-mod/default-perms", test_default_perms);
    g_test_add_func("/bdrv-graph-mod/navigation", test_navigation);

    return g_test_run();
}
