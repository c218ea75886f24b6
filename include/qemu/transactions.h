/*
 * Transactions: an ordered log of reversible actions.
 *
 * Code that changes several things which must all succeed or all be undone
 * (the block graph, permissions) registers one action per step.  At the end
 * the caller either commits or aborts the whole log.  Both walk the actions
 * newest first, so an abort undoes the steps in the reverse order of doing
 * them; each action's clean callback runs right after its commit or abort.
 */
#ifndef QEMU_TRANSACTIONS_H
#define QEMU_TRANSACTIONS_H

typedef struct TransactionActionDrv {
    /* Undo the step (the transaction failed). */
    void (*abort)(void *opaque);
    /* Make the step final (the transaction succeeded). */
    void (*commit)(void *opaque);
    /* Release opaque; runs after commit or abort. */
    void (*clean)(void *opaque);
} TransactionActionDrv;

typedef struct Transaction Transaction;

Transaction *tran_new(void);
/* Log a step that was just done; any callback of drv may be NULL. */
void tran_add(Transaction *tran, TransactionActionDrv *drv, void *opaque);
/* Undo every logged step, newest first, and free tran. */
void tran_abort(Transaction *tran);
/* Finalise every logged step, newest first, and free tran. */
void tran_commit(Transaction *tran);

/* Commit if ret >= 0, else abort. */
static inline void tran_finalize(Transaction *tran, int ret)
{
    if (ret < 0) {
        tran_abort(tran);
    } else {
        tran_commit(tran);
    }
}

#endif
