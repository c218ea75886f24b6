/*
 * Transactions (util/transactions.c): commit and abort run every action's
 * callback newest first, each followed by its clean callback.
 */
#include "qemu/osdep.h"
#include "qemu/transactions.h"

static GString *log_str;

static void log_commit(void *opaque)
{
    g_string_append_printf(log_str, "c%s ", (char *)opaque);
}

static void log_abort(void *opaque)
{
    g_string_append_printf(log_str, "a%s ", (char *)opaque);
}

static void log_clean(void *opaque)
{
    g_string_append_printf(log_str, "x%s ", (char *)opaque);
}

static TransactionActionDrv full_drv = {
    .commit = log_commit,
    .abort = log_abort,
    .clean = log_clean,
};

/* Only an abort callback: commit does nothing at all. */
static TransactionActionDrv abort_only_drv = {
    .abort = log_abort,
};

static Transaction *three_actions(void)
{
    Transaction *tran = tran_new();

    tran_add(tran, &full_drv, "1");
    tran_add(tran, &abort_only_drv, "2");
    tran_add(tran, &full_drv, "3");
    return tran;
}

static void test_commit(void)
{
    g_string_truncate(log_str, 0);
    tran_commit(three_actions());
    g_assert_cmpstr(log_str->str, ==, "c3 x3 c1 x1 ");
}

static void test_abort(void)
{
    g_string_truncate(log_str, 0);
    tran_abort(three_actions());
    g_assert_cmpstr(log_str->str, ==, "a3 x3 a2 a1 x1 ");
}

static void test_finalize(void)
{
    g_string_truncate(log_str, 0);
    tran_finalize(three_actions(), -EINVAL);
    g_assert_cmpstr(log_str->str, ==, "a3 x3 a2 a1 x1 ");

    g_string_truncate(log_str, 0);
    tran_finalize(three_actions(), 0);
    g_assert_cmpstr(log_str->str, ==, "c3 x3 c1 x1 ");

    /* An empty transaction is fine either way. */
    tran_commit(tran_new());
    tran_abort(tran_new());
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    log_str = g_string_new("");
    g_test_add_func("/transactions/commit", test_commit);
    g_test_add_func("/transactions/abort", test_abort);
    g_test_add_func("/transactions/finalize", test_finalize);
    ret = g_test_run();
    g_string_free(log_str, true);
    return ret;
}
