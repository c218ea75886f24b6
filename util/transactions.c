/*
 * Transactions: a stack of reversible actions, finalised all at once.
 */
#include "qemu/osdep.h"
#include "qemu/queue.h"
#include "qemu/transactions.h"

typedef struct TransactionAction {
    TransactionActionDrv *drv;
    void *opaque;
    QSLIST_ENTRY(TransactionAction) next;
} TransactionAction;

struct Transaction {
    /* Newest first: pushing at the head gives the reverse walk for free. */
    QSLIST_HEAD(, TransactionAction) actions;
};

Transaction *tran_new(void)
{
    Transaction *tran = g_new(Transaction, 1);

    QSLIST_INIT(&tran->actions);
    return tran;
}

void tran_add(Transaction *tran, TransactionActionDrv *drv, void *opaque)
{
    TransactionAction *act = g_new(TransactionAction, 1);

    act->drv = drv;
    act->opaque = opaque;
    QSLIST_INSERT_HEAD(&tran->actions, act, next);
}

/* Run commit (or abort) and then clean of each action, newest first. */
static void tran_finish(Transaction *tran, bool commit)
{
    TransactionAction *act;

    while ((act = QSLIST_FIRST(&tran->actions))) {
        void (*fn)(void *) = commit ? act->drv->commit : act->drv->abort;

        /* Unlink first so the list stays consistent during callbacks. */
        QSLIST_REMOVE_HEAD(&tran->actions, next);
        if (fn) {
            fn(act->opaque);
        }
        if (act->drv->clean) {
            act->drv->clean(act->opaque);
        }
        g_free(act);
    }
    g_free(tran);
}

void tran_abort(Transaction *tran)
{
    tran_finish(tran, false);
}

void tran_commit(Transaction *tran)
{
    tran_finish(tran, true);
}
