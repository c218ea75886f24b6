/*
 * Transactional reopen: successful commits, and failures (bad options,
 * driver refusal, permission conflicts) that must leave every node of the
 * queue exactly as it was.
 *
 * Messages are QEMU 7.2's, e.g.
 *   qemu-io -f null-co -c 'reopen -o size=2048' null-co://
 *   qemu-io: Cannot change the option 'size'
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "test-helpers.h"

/* ---- "rfmt": a format with one mutable option, "knob" ---- */

typedef struct RfmtState {
    char *knob;
} RfmtState;

/* How often the reopen callbacks ran (reset by each test). */
static struct {
    int prepare, commit, abort;
} calls;

static int rfmt_open(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp)
{
    RfmtState *s = bs->opaque;

    s->knob = g_strdup(qdict_get_try_str(options, "knob"));
    qdict_del(options, "knob");
    return bdrv_open_file_child(NULL, options, "file", bs, errp);
}

static void rfmt_close(BlockDriverState *bs)
{
    RfmtState *s = bs->opaque;

    g_free(s->knob);
}

static int64_t rfmt_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(bs->file->bs);
}

static int rfmt_reopen_prepare(BDRVReopenState *state,
                               BlockReopenQueue *queue, Error **errp)
{
    const char *knob = qdict_get_try_str(state->options, "knob");

    calls.prepare++;
    if (!g_strcmp0(knob, "fail")) {
        error_setg(errp, "knob says no");
        return -EINVAL;
    }
    state->opaque = g_strdup(knob);
    qdict_del(state->options, "knob");
    return 0;
}

static void rfmt_reopen_commit(BDRVReopenState *state)
{
    RfmtState *s = state->bs->opaque;

    calls.commit++;
    g_free(s->knob);
    s->knob = state->opaque;
}

static void rfmt_reopen_abort(BDRVReopenState *state)
{
    calls.abort++;
    g_free(state->opaque);
}

static const char *const rfmt_mutable_opts[] = { "knob", NULL };

static BlockDriver bdrv_rfmt = {
    .format_name         = "rfmt",
    .instance_size       = sizeof(RfmtState),
    .is_format           = true,
    .supports_backing    = true,
    .mutable_opts        = rfmt_mutable_opts,
    .bdrv_open           = rfmt_open,
    .bdrv_close          = rfmt_close,
    .bdrv_getlength      = rfmt_getlength,
    .bdrv_child_perm     = bdrv_default_perms,
    .bdrv_reopen_prepare = rfmt_reopen_prepare,
    .bdrv_reopen_commit  = rfmt_reopen_commit,
    .bdrv_reopen_abort   = rfmt_reopen_abort,
};

/* A format that cannot be reopened at all. */
static BlockDriver bdrv_noreopen = {
    .format_name     = "noreopen",
    .is_format       = true,
    .bdrv_open       = rfmt_open,
    .bdrv_close      = rfmt_close,
    .instance_size   = sizeof(RfmtState),
    .bdrv_child_perm = bdrv_default_perms,
};

/* rfmt over null-co (size 1 MiB) named name, with extra options. */
static BlockDriverState *open_rfmt(const char *name, const char *extra,
                                   int flags)
{
    g_autofree char *o = g_strdup_printf("driver=rfmt,node-name=%s,"
                                         "file.driver=null-co,"
                                         "file.size=1048576%s%s", name,
                                         extra[0] ? "," : "", extra);

    return bdrv_open(NULL, NULL, test_opts(o), flags, &error_abort);
}

static void check_reopen_error(BlockDriverState *bs, QDict *o, bool keep_old,
                               const char *expected)
{
    Error *err = NULL;

    g_assert_cmpint(bdrv_reopen(bs, o, keep_old, &err), <, 0);
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free_or_abort(&err);
    /* Every drained section of the queue was ended. */
    g_assert_cmpint(bs->quiesce_counter, ==, 0);
}

static void reset_calls(void)
{
    memset(&calls, 0, sizeof(calls));
}

/* ---- Tests ---- */

static void test_read_only_switch(void)
{
    BlockDriverState *bs = open_rfmt("top", "", BDRV_O_RDWR);
    BlockDriverState *file = bs->file->bs;

    reset_calls();
    g_assert_true(bdrv_is_writable(bs));
    g_assert_cmpint(bdrv_reopen_set_read_only(bs, true, &error_abort), ==, 0);
    g_assert_true(bdrv_is_read_only(bs));
    /* The protocol node inherits read-only from its parent. */
    g_assert_true(bdrv_is_read_only(file));
    g_assert_cmpint(calls.prepare, ==, 1);
    g_assert_cmpint(calls.commit, ==, 1);
    g_assert_cmpint(calls.abort, ==, 0);
    /* Read-only nodes need no write access below. */
    g_assert_false(bs->file->perm & BLK_PERM_WRITE);

    /* Opened read-write, so it may become read-write again. */
    g_assert_cmpint(bdrv_reopen_set_read_only(bs, false, &error_abort), ==,
                    0);
    g_assert_true(bdrv_is_writable(bs));
    g_assert_true(bdrv_is_writable(file));
    g_assert_true(bs->file->perm & BLK_PERM_WRITE);
    g_assert_cmpint(bs->quiesce_counter, ==, 0);
    g_assert_cmpint(file->quiesce_counter, ==, 0);

    bdrv_unref(bs);
}

static void test_option_change_rejected(void)
{
    BlockDriverState *bs = open_rfmt("top", "knob=1", BDRV_O_RDWR);
    BlockDriverState *file = bs->file->bs;
    RfmtState *s = bs->opaque;

    reset_calls();
    /* The child fails after the parent was prepared: parent aborted. */
    check_reopen_error(bs, test_opts("file.size=2048"), true,
                       "Cannot change the option 'size'");
    g_assert_cmpint(calls.prepare, ==, 1);
    g_assert_cmpint(calls.commit, ==, 0);
    g_assert_cmpint(calls.abort, ==, 1);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1048576);
    g_assert_cmpstr(qdict_get_try_str(file->options, "size"), ==, "1048576");

    /* A failing driver prepare: nothing to abort there. */
    reset_calls();
    check_reopen_error(bs, test_opts("knob=fail"), true, "knob says no");
    g_assert_cmpint(calls.abort, ==, 0);
    g_assert_cmpstr(s->knob, ==, "1");
    g_assert_cmpstr(qdict_get_try_str(bs->options, "knob"), ==, "1");

    /* qemu-io -c 'reopen -o bogus=1' x.raw */
    check_reopen_error(bs, test_opts("bogus=1"), true,
                       "Cannot change the option 'bogus'");
    g_assert_false(qdict_haskey(bs->options, "bogus"));
    g_assert_false(qdict_haskey(bs->explicit_options, "bogus"));
    g_assert_true(bs->file->bs == file);
    g_assert_cmpint(file->refcnt, ==, 1);

    /* node-name and driver are fixed. */
    check_reopen_error(bs, test_opts("node-name=other"), true,
                       "Cannot change the option 'node-name'");
    check_reopen_error(bs, test_opts("driver=raw"), true,
                       "Cannot change the option 'driver'");
    g_assert_true(bdrv_find_node("top") == bs);
    check_reopen_error(bs, test_opts("discard=maybe"), true,
                       "Invalid discard option");
    check_reopen_error(bs, test_opts("detect-zeroes=unmap,discard=off"), true,
                       "setting detect-zeroes to unmap is not allowed "
                       "without setting discard operation to unmap");
    check_reopen_error(bs, test_opts("read-only=maybe"), true,
                       "Parameter 'read-only' expects 'on' or 'off'");
    g_assert_true(bdrv_is_writable(bs));

    /* Repeating unchanged options is fine; a mutable one changes. */
    reset_calls();
    g_assert_cmpint(bdrv_reopen(bs, test_opts("node-name=top,driver=rfmt,"
                                              "knob=2"), true, &error_abort),
                    ==, 0);
    g_assert_cmpint(calls.commit, ==, 1);
    g_assert_cmpstr(s->knob, ==, "2");
    g_assert_cmpstr(qdict_get_try_str(bs->options, "knob"), ==, "2");
    g_assert_cmpstr(qdict_get_try_str(bs->explicit_options, "knob"), ==,
                    "2");
    /* A reference to the current child counts as unchanged too. */
    g_assert_cmpint(bdrv_reopen(bs, test_opts("file=#none"), true, NULL), <, 0);
    {
        QDict *o = qdict_new();

        qdict_put_str(o, "file", file->node_name);
        g_assert_cmpint(bdrv_reopen(bs, o, true, &error_abort), ==, 0);
        g_assert_true(bs->file->bs == file);
    }

    bdrv_unref(bs);
}

static void test_no_reopen_support(void)
{
    BlockDriverState *bs = bdrv_open(NULL, NULL,
                                     test_opts("driver=noreopen,node-name=nr,"
                                               "file.driver=null-co"),
                                     BDRV_O_RDWR, &error_abort);

    check_reopen_error(bs, NULL, true, "Block format 'noreopen' used by "
                       "node 'nr' does not support reopening files");
    bdrv_unref(bs);
}

static void test_reset_to_default(void)
{
    BlockDriverState *bs = open_rfmt("top", "knob=1", BDRV_O_RDWR);

    /* Without keep_old_opts, a missing mutable option would be reset. */
    check_reopen_error(bs, NULL, false,
                       "Option 'knob' cannot be reset to its default value");
    g_assert_cmpstr(((RfmtState *)bs->opaque)->knob, ==, "1");
    bdrv_unref(bs);

    /* Without the option in the first place, there is nothing to reset. */
    bs = open_rfmt("top", "", BDRV_O_RDWR);
    g_assert_cmpint(bdrv_reopen(bs, NULL, false, &error_abort), ==, 0);
    /* And the node went back to its default: read-write. */
    g_assert_true(bdrv_is_writable(bs));
    bdrv_unref(bs);
}

/* The write permission a BlockBackend holds blocks going read-only. */
static void test_perm_rollback(void)
{
    BlockDriverState *bs = open_rfmt("top", "", BDRV_O_RDWR);
    BlockBackend *blk = blk_new(qemu_get_aio_context(),
                                BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                                BLK_PERM_ALL);
    uint64_t file_perm;
    int file_flags;

    blk_insert_bs(blk, bs, &error_abort);
    file_perm = bs->file->perm;
    file_flags = bs->file->bs->open_flags;

    reset_calls();
    check_reopen_error(bs, test_opts("read-only=on"), true,
                       "Read-only block node 'top' cannot support read-write "
                       "users");
    g_assert_cmpint(calls.prepare, ==, 1);
    g_assert_cmpint(calls.abort, ==, 1);
    g_assert_cmpint(calls.commit, ==, 0);
    g_assert_true(bdrv_is_writable(bs));
    g_assert_cmpint(bs->file->bs->open_flags, ==, file_flags);
    g_assert_cmpuint(bs->file->perm, ==, file_perm);
    g_assert_false(qdict_get_try_bool(bs->options, "read-only", true));

    blk_unref(blk);
    bdrv_unref(bs);
}

static void test_copy_on_read(void)
{
    BlockDriverState *bs = open_rfmt("cor", "",
                                     BDRV_O_RDWR | BDRV_O_COPY_ON_READ);

    check_reopen_error(bs, test_opts("read-only=on"), true,
                       "Can't set node 'cor' to r/o with copy-on-read "
                       "enabled");
    g_assert_true(bdrv_is_writable(bs));
    bdrv_unref(bs);
}

static void test_backing_option(void)
{
    BlockDriverState *a = open_rfmt("A", "", BDRV_O_RDWR);
    BlockDriverState *c = open_rfmt("C", "", BDRV_O_RDWR);
    BlockDriverState *b = bdrv_open(NULL, NULL,
                                    test_opts("driver=null-co,node-name=B"), 0,
                                    &error_abort);

    /* Attach B as A's backing file by name. */
    g_assert_cmpint(bdrv_reopen(a, test_opts("backing=B"), true, &error_abort),
                    ==, 0);
    g_assert_true(a->backing->bs == b);
    g_assert_true(a->backing->role == BDRV_CHILD_COW);
    g_assert_false(qdict_haskey(a->options, "backing"));
    g_assert_cmpint(b->refcnt, ==, 2);

    /* Naming the current backing node changes nothing. */
    g_assert_cmpint(bdrv_reopen(a, test_opts("backing=B"), true, &error_abort),
                    ==, 0);
    g_assert_true(a->backing->bs == b);

    /* Without keep_old_opts the backing file must be named. */
    check_reopen_error(a, NULL, false, "backing is missing for 'A'");
    g_assert_true(a->backing->bs == b);

    /* Errors leave the graph alone. */
    check_reopen_error(a, test_opts("backing=nope"), true,
                       "Cannot find device='' nor node-name='nope'");
    g_assert_cmpint(bdrv_reopen(c, test_opts("backing=A"), true, &error_abort),
                    ==, 0);
    check_reopen_error(a, test_opts("backing=C"), true,
                       "Making 'C' a backing child of 'A' would create a "
                       "cycle");
    g_assert_true(a->backing->bs == b);
    /* A failure after the backing change (same node) undoes it... */
    {
        QDict *o = test_opts("size=5");

        qdict_put_null(o, "backing");
        check_reopen_error(a, o, true, "Cannot change the option 'size'");
        g_assert_true(a->backing->bs == b);
        g_assert_cmpint(b->refcnt, ==, 2);
    }
    /* ...and so does one in another node of the queue. */
    {
        QDict *o = test_opts("file.size=5");

        qdict_put_null(o, "backing");
        check_reopen_error(a, o, true, "Cannot change the option 'size'");
        g_assert_true(a->backing->bs == b);
        g_assert_false(bdrv_op_blocker_is_empty(b));
    }

    /* null drops it. */
    {
        QDict *o = qdict_new();

        qdict_put_null(o, "backing");
        g_assert_cmpint(bdrv_reopen(a, o, true, &error_abort), ==, 0);
        g_assert_null(a->backing);
        g_assert_cmpint(b->refcnt, ==, 1);
    }

    bdrv_unref(c);
    bdrv_unref(a);
    bdrv_unref(b);
}

/*
 * Precedence: options given now > options set explicitly before >
 * inherited > effective before.  The child set cache.no-flush itself, so
 * a new parent value does not reach it; read-only it inherits.
 */
static void test_precedence(void)
{
    BlockDriverState *bs = open_rfmt("top", "file.cache.no-flush=off",
                                     BDRV_O_RDWR);
    BlockDriverState *file = bs->file->bs;

    g_assert_cmpint(bdrv_reopen(bs, test_opts("cache.no-flush=on,read-only=on"),
                                true, &error_abort), ==, 0);
    g_assert_true(bs->open_flags & BDRV_O_NO_FLUSH);
    g_assert_false(file->open_flags & BDRV_O_NO_FLUSH);
    g_assert_true(bdrv_is_read_only(file));

    /* Explicit child options in the new set beat the kept ones. */
    g_assert_cmpint(bdrv_reopen(bs, test_opts("file.cache.no-flush=on"), true,
                                &error_abort), ==, 0);
    g_assert_true(file->open_flags & BDRV_O_NO_FLUSH);
    g_assert_cmpstr(qdict_get_try_str(file->explicit_options,
                                      "cache.no-flush"), ==, "on");
    /* And the parent's options do not keep child keys. */
    g_assert_false(qdict_haskey(bs->options, "file.cache.no-flush"));

    bdrv_unref(bs);
}

/* A queue of two independent nodes fails as a whole. */
static void test_multiple(void)
{
    BlockDriverState *a = open_rfmt("A", "", BDRV_O_RDWR);
    BlockDriverState *b = open_rfmt("B", "knob=1", BDRV_O_RDWR);
    BlockReopenQueue *queue;
    Error *err = NULL;

    reset_calls();
    queue = bdrv_reopen_queue(NULL, a, test_opts("read-only=on"), true);
    queue = bdrv_reopen_queue(queue, b, test_opts("knob=fail"), true);
    g_assert_cmpint(bdrv_reopen_multiple(queue, &err), <, 0);
    g_assert_cmpstr(error_get_pretty(err), ==, "knob says no");
    error_free_or_abort(&err);
    g_assert_cmpint(calls.prepare, ==, 2);
    g_assert_cmpint(calls.abort, ==, 1);
    g_assert_true(bdrv_is_writable(a));
    g_assert_cmpint(a->quiesce_counter, ==, 0);

    reset_calls();
    queue = bdrv_reopen_queue(NULL, a, test_opts("read-only=on"), true);
    queue = bdrv_reopen_queue(queue, b, test_opts("knob=3"), true);
    g_assert_cmpint(bdrv_reopen_multiple(queue, &error_abort), ==, 0);
    g_assert_cmpint(calls.commit, ==, 2);
    g_assert_true(bdrv_is_read_only(a));
    g_assert_cmpstr(((RfmtState *)b->opaque)->knob, ==, "3");

    bdrv_unref(a);
    bdrv_unref(b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();
    bdrv_register(&bdrv_rfmt);
    bdrv_register(&bdrv_noreopen);

    g_test_add_func("/reopen/read-only-switch", test_read_only_switch);
    g_test_add_func("/reopen/option-change-rejected",
                    test_option_change_rejected);
    g_test_add_func("/reopen/no-reopen-support", test_no_reopen_support);
    g_test_add_func("/reopen/reset-to-default", test_reset_to_default);
    g_test_add_func("/reopen/perm-rollback", test_perm_rollback);
    g_test_add_func("/reopen/copy-on-read", test_copy_on_read);
    g_test_add_func("/reopen/backing-option", test_backing_option);
    g_test_add_func("/reopen/precedence", test_precedence);
    g_test_add_func("/reopen/multiple", test_multiple);

    return g_test_run();
}
