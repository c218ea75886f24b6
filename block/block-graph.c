/*
 * The edges of the block graph: BdrvChild creation and removal, the
 * child_of_bds parent class, the permission system and graph changes
 * (backing files, node replacement, appending an overlay).
 *
 * Every change is done in two steps.  First the graph is modified without
 * looking at permissions ("noperm"), each step logged in a Transaction.
 * Then the permissions of every affected node are recomputed, parents
 * before children, as if the new graph were final; drivers get to check
 * (and e.g. take file locks).  Only if every node agrees is the
 * transaction committed; otherwise it is aborted and the graph is exactly
 * as before.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "block-internal.h"

/* ---- Op blockers ---- */

typedef struct BdrvOpBlocker {
    Error *reason;
    QLIST_ENTRY(BdrvOpBlocker) list;
} BdrvOpBlocker;

void bdrv_op_block_all(BlockDriverState *bs, Error *reason)
{
    BdrvOpBlocker *blocker = g_new0(BdrvOpBlocker, 1);

    blocker->reason = reason;
    QLIST_INSERT_HEAD(&bs->op_blockers, blocker, list);
}

void bdrv_op_unblock_all(BlockDriverState *bs, Error *reason)
{
    BdrvOpBlocker *blocker, *next;

    QLIST_FOREACH_SAFE(blocker, &bs->op_blockers, list, next) {
        if (blocker->reason == reason) {
            QLIST_REMOVE(blocker, list);
            g_free(blocker);
        }
    }
}

bool bdrv_op_blocker_is_empty(BlockDriverState *bs)
{
    return QLIST_EMPTY(&bs->op_blockers);
}

/* ---- Permission names and defaults ---- */

char *bdrv_perm_names(uint64_t perm)
{
    static const struct {
        uint64_t perm;
        const char *name;
    } names[] = {
        { BLK_PERM_CONSISTENT_READ, "consistent read" },
        { BLK_PERM_WRITE,           "write" },
        { BLK_PERM_WRITE_UNCHANGED, "write unchanged" },
        { BLK_PERM_RESIZE,          "resize" },
    };
    GString *result = g_string_new("");

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (perm & names[i].perm) {
            if (result->len) {
                g_string_append(result, ", ");
            }
            g_string_append(result, names[i].name);
        }
    }
    return g_string_free(result, false);
}

/* A filtered child sees what the parents of the filter ask for. */
static void bdrv_filter_default_perms(uint64_t perm, uint64_t shared,
                                      uint64_t *nperm, uint64_t *nshared)
{
    *nperm = perm & DEFAULT_PERM_PASSTHROUGH;
    *nshared = (shared & DEFAULT_PERM_PASSTHROUGH) | DEFAULT_PERM_UNCHANGED;
}

/* A backing file is only ever read (for the parent's consistent reads). */
static void bdrv_default_perms_for_cow(BlockDriverState *bs,
                                       uint64_t perm, uint64_t shared,
                                       uint64_t *nperm, uint64_t *nshared)
{
    *nperm = perm & BLK_PERM_CONSISTENT_READ;

    /* Parents that cope with changing data cope with a changing backing. */
    *nshared = BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE_UNCHANGED;
    if (shared & BLK_PERM_WRITE) {
        *nshared |= BLK_PERM_WRITE | BLK_PERM_RESIZE;
    }
    if (bs->open_flags & BDRV_O_INACTIVE) {
        *nshared |= BLK_PERM_WRITE | BLK_PERM_RESIZE;
    }
}

/* The image file (data and/or metadata) of a format node. */
static void bdrv_default_perms_for_storage(BlockDriverState *bs,
                                           BdrvChildRole role,
                                           BlockReopenQueue *reopen_queue,
                                           uint64_t perm, uint64_t shared,
                                           uint64_t *nperm, uint64_t *nshared)
{
    int flags = bdrv_reopen_get_flags(reopen_queue, bs);

    assert(role & (BDRV_CHILD_METADATA | BDRV_CHILD_DATA));
    bdrv_filter_default_perms(perm, shared, &perm, &shared);

    if (role & BDRV_CHILD_METADATA) {
        /* Metadata may be updated even when the guest does not write. */
        if ((flags & (BDRV_O_RDWR | BDRV_O_INACTIVE)) == BDRV_O_RDWR) {
            perm |= BLK_PERM_WRITE | BLK_PERM_RESIZE;
        }
        /* Metadata must read consistently; nobody else may change it. */
        if (!(flags & BDRV_O_NO_IO)) {
            perm |= BLK_PERM_CONSISTENT_READ;
        }
        shared &= ~(BLK_PERM_WRITE | BLK_PERM_RESIZE);
    }

    if (role & BDRV_CHILD_DATA) {
        /* The format may rely on the file size (e.g. in its metadata). */
        shared &= ~BLK_PERM_RESIZE;
        /* Unchanged guest data can still mean rewritten clusters... */
        if (perm & BLK_PERM_WRITE_UNCHANGED) {
            perm |= BLK_PERM_WRITE;
        }
        /* ...and writes may extend the file. */
        if (perm & BLK_PERM_WRITE) {
            perm |= BLK_PERM_RESIZE;
        }
    }

    if (bs->open_flags & BDRV_O_INACTIVE) {
        shared |= BLK_PERM_WRITE | BLK_PERM_RESIZE;
    }

    *nperm = perm;
    *nshared = shared;
}

void bdrv_default_perms(BlockDriverState *bs, BdrvChild *c,
                        BdrvChildRole role, BlockReopenQueue *reopen_queue,
                        uint64_t perm, uint64_t shared,
                        uint64_t *nperm, uint64_t *nshared)
{
    if (role & BDRV_CHILD_FILTERED) {
        assert(!(role & (BDRV_CHILD_DATA | BDRV_CHILD_METADATA |
                         BDRV_CHILD_COW)));
        bdrv_filter_default_perms(perm, shared, nperm, nshared);
    } else if (role & BDRV_CHILD_COW) {
        assert(!(role & (BDRV_CHILD_DATA | BDRV_CHILD_METADATA)));
        bdrv_default_perms_for_cow(bs, perm, shared, nperm, nshared);
    } else {
        bdrv_default_perms_for_storage(bs, role, reopen_queue, perm, shared,
                                       nperm, nshared);
    }
}

/* What bs (as a parent) needs on child_bs through c (NULL: not yet there). */
static void bdrv_child_perm(BlockDriverState *bs, BlockDriverState *child_bs,
                            BdrvChild *c, BdrvChildRole role,
                            BlockReopenQueue *reopen_queue,
                            uint64_t parent_perm, uint64_t parent_shared,
                            uint64_t *nperm, uint64_t *nshared)
{
    assert(bs->drv && bs->drv->bdrv_child_perm);
    bs->drv->bdrv_child_perm(bs, c, role, reopen_queue, parent_perm,
                             parent_shared, nperm, nshared);
    if (child_bs && child_bs->force_share) {
        *nshared = BLK_PERM_ALL;
    }
}

void bdrv_get_cumulative_perm(BlockDriverState *bs, uint64_t *perm,
                              uint64_t *shared_perm)
{
    uint64_t cumulative_perms = 0;
    uint64_t cumulative_shared = BLK_PERM_ALL;
    BdrvChild *c;

    QLIST_FOREACH(c, &bs->parents, next_parent) {
        cumulative_perms |= c->perm;
        cumulative_shared &= c->shared_perm;
    }
    *perm = cumulative_perms;
    *shared_perm = cumulative_shared;
}

int bdrv_reopen_get_flags(BlockReopenQueue *q, BlockDriverState *bs)
{
    BlockReopenQueueEntry *entry;

    if (q) {
        QTAILQ_FOREACH(entry, q, entry) {
            if (entry->state.bs == bs) {
                return entry->state.flags;
            }
        }
    }
    return bs->open_flags;
}

static bool bdrv_is_writable_after_reopen(BlockDriverState *bs,
                                          BlockReopenQueue *q)
{
    int flags = bdrv_reopen_get_flags(q, bs);

    return (flags & (BDRV_O_RDWR | BDRV_O_INACTIVE)) == BDRV_O_RDWR;
}

/* ---- Permission checks ---- */

static char *bdrv_child_user_desc(BdrvChild *c)
{
    return c->klass->get_parent_desc(c);
}

/* May b use what it asks for, given what a lets others do? */
static bool bdrv_a_allow_b(BdrvChild *a, BdrvChild *b, Error **errp)
{
    g_autofree char *a_user = NULL;
    g_autofree char *b_user = NULL;
    g_autofree char *perms = NULL;

    assert(a->bs && a->bs == b->bs);
    if (!(b->perm & ~a->shared_perm)) {
        return true;
    }

    a_user = bdrv_child_user_desc(a);
    b_user = bdrv_child_user_desc(b);
    perms = bdrv_perm_names(b->perm & ~a->shared_perm);
    error_setg(errp, "Permission conflict on node '%s': permissions '%s' are "
               "both required by %s (uses node '%s' as '%s' child) and "
               "unshared by %s (uses node '%s' as '%s' child).",
               bdrv_get_node_name(b->bs), perms,
               b_user, b->bs->node_name, b->name,
               a_user, a->bs->node_name, a->name);
    return false;
}

/* Each ordered pair of parents is checked (the relation is asymmetric). */
static bool bdrv_parent_perms_conflict(BlockDriverState *bs, Error **errp)
{
    BdrvChild *a, *b;

    QLIST_FOREACH(a, &bs->parents, next_parent) {
        QLIST_FOREACH(b, &bs->parents, next_parent) {
            if (a != b && !bdrv_a_allow_b(a, b, errp)) {
                return true;
            }
        }
    }
    return false;
}

typedef struct BdrvChildSetPermState {
    BdrvChild *child;
    uint64_t old_perm;
    uint64_t old_shared_perm;
} BdrvChildSetPermState;

static void bdrv_child_set_perm_abort(void *opaque)
{
    BdrvChildSetPermState *s = opaque;

    s->child->perm = s->old_perm;
    s->child->shared_perm = s->old_shared_perm;
}

static TransactionActionDrv bdrv_child_set_perm_drv = {
    .abort = bdrv_child_set_perm_abort,
    .clean = g_free,
};

static void bdrv_child_set_perm(BdrvChild *c, uint64_t perm,
                                uint64_t shared, Transaction *tran)
{
    BdrvChildSetPermState *s = g_new(BdrvChildSetPermState, 1);

    *s = (BdrvChildSetPermState) {
        .child = c,
        .old_perm = c->perm,
        .old_shared_perm = c->shared_perm,
    };
    c->perm = perm;
    c->shared_perm = shared;
    tran_add(tran, &bdrv_child_set_perm_drv, s);
}

/* Commit hands the driver the cumulative permissions as they end up. */
static void bdrv_drv_set_perm_commit(void *opaque)
{
    BlockDriverState *bs = opaque;
    uint64_t perm, shared;

    if (bs->drv->bdrv_set_perm) {
        bdrv_get_cumulative_perm(bs, &perm, &shared);
        bs->drv->bdrv_set_perm(bs, perm, shared);
    }
}

static void bdrv_drv_set_perm_abort(void *opaque)
{
    BlockDriverState *bs = opaque;

    if (bs->drv->bdrv_abort_perm_update) {
        bs->drv->bdrv_abort_perm_update(bs);
    }
}

static TransactionActionDrv bdrv_drv_set_perm_drv = {
    .abort = bdrv_drv_set_perm_abort,
    .commit = bdrv_drv_set_perm_commit,
};

static int bdrv_drv_set_perm(BlockDriverState *bs, uint64_t perm,
                             uint64_t shared, Transaction *tran,
                             Error **errp)
{
    if (!bs->drv) {
        return 0;
    }
    if (bs->drv->bdrv_check_perm) {
        int ret = bs->drv->bdrv_check_perm(bs, perm, shared, errp);

        if (ret < 0) {
            return ret;
        }
    }
    tran_add(tran, &bdrv_drv_set_perm_drv, bs);
    return 0;
}

/*
 * Check the cumulative permissions of bs's parents against the node and
 * its driver, then derive (and stage) the permissions on its children.
 */
static int bdrv_node_refresh_perm(BlockDriverState *bs, BlockReopenQueue *q,
                                  Transaction *tran, Error **errp)
{
    BlockDriver *drv = bs->drv;
    uint64_t perm, shared;
    BdrvChild *c;
    int ret;

    bdrv_get_cumulative_perm(bs, &perm, &shared);

    if ((perm & (BLK_PERM_WRITE | BLK_PERM_WRITE_UNCHANGED)) &&
        !bdrv_is_writable_after_reopen(bs, q)) {
        if (!bdrv_is_writable_after_reopen(bs, NULL)) {
            error_setg(errp, "Block node is read-only");
        } else {
            error_setg(errp, "Read-only block node '%s' cannot support "
                       "read-write users", bdrv_get_node_name(bs));
        }
        return -EPERM;
    }

    /*
     * Requests are padded to the alignment; without RESIZE the padded
     * tail could not be written past an unaligned end of the image.
     */
    if ((perm & (BLK_PERM_WRITE | BLK_PERM_WRITE_UNCHANGED)) &&
        !(perm & BLK_PERM_RESIZE) &&
        (bs->total_sectors * BDRV_SECTOR_SIZE) % bs->bl.request_alignment) {
        error_setg(errp, "Cannot get 'write' permission without 'resize': "
                   "Image size is not a multiple of request alignment");
        return -EPERM;
    }

    if (!drv) {
        return 0;
    }

    ret = bdrv_drv_set_perm(bs, perm, shared, tran, errp);
    if (ret < 0) {
        return ret;
    }

    /* Drivers that never have children may leave child_perm out. */
    if (!drv->bdrv_child_perm) {
        assert(QLIST_EMPTY(&bs->children));
        return 0;
    }

    QLIST_FOREACH(c, &bs->children, next) {
        uint64_t child_perm, child_shared;

        bdrv_child_perm(bs, c->bs, c, c->role, q, perm, shared,
                        &child_perm, &child_shared);
        bdrv_child_set_perm(c, child_perm, child_shared, tran);
    }
    return 0;
}

GSList *bdrv_topological_dfs(GSList *list, GHashTable *found,
                             BlockDriverState *bs)
{
    g_autoptr(GHashTable) own_found = NULL;
    BdrvChild *child;

    if (!found) {
        assert(!list);
        found = own_found = g_hash_table_new(NULL, NULL);
    }
    if (g_hash_table_contains(found, bs)) {
        return list;
    }
    g_hash_table_add(found, bs);

    QLIST_FOREACH(child, &bs->children, next) {
        list = bdrv_topological_dfs(list, found, child->bs);
    }
    /* Post-order, prepended: every node precedes its descendants. */
    return g_slist_prepend(list, bs);
}

int bdrv_list_refresh_perms(GSList *list, BlockReopenQueue *q,
                            Transaction *tran, Error **errp)
{
    for (; list; list = list->next) {
        BlockDriverState *bs = list->data;
        int ret;

        if (bdrv_parent_perms_conflict(bs, errp)) {
            return -EINVAL;
        }
        ret = bdrv_node_refresh_perm(bs, q, tran, errp);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

int bdrv_refresh_perms(BlockDriverState *bs, Transaction *tran, Error **errp)
{
    g_autoptr(GSList) list = bdrv_topological_dfs(NULL, NULL, bs);
    Transaction *local_tran = NULL;
    int ret;

    if (!tran) {
        tran = local_tran = tran_new();
    }
    ret = bdrv_list_refresh_perms(list, NULL, tran, errp);
    if (local_tran) {
        tran_finalize(local_tran, ret);
    }
    return ret;
}

int bdrv_child_try_set_perm(BdrvChild *c, uint64_t perm, uint64_t shared,
                            Error **errp)
{
    Error *local_err = NULL;
    Transaction *tran = tran_new();
    int ret;

    bdrv_child_set_perm(c, perm, shared, tran);
    ret = bdrv_refresh_perms(c->bs, tran, &local_err);
    tran_finalize(tran, ret);

    if (ret < 0) {
        /* c has its old permissions again: compare against those. */
        if ((perm & ~c->perm) || (c->shared_perm & ~shared)) {
            error_propagate(errp, local_err);
        } else {
            /* Only loosening: callers rely on that never failing. */
            error_free(local_err);
            ret = 0;
        }
    }
    return ret;
}

int bdrv_child_refresh_perms(BlockDriverState *bs, BdrvChild *c,
                             Error **errp)
{
    uint64_t parent_perm, parent_shared;
    uint64_t perm, shared;

    bdrv_get_cumulative_perm(bs, &parent_perm, &parent_shared);
    bdrv_child_perm(bs, c->bs, c, c->role, NULL, parent_perm, parent_shared,
                    &perm, &shared);
    return bdrv_child_try_set_perm(c, perm, shared, errp);
}

/* ---- child_of_bds: the parent is a node ---- */

static char *bdrv_child_get_parent_desc(BdrvChild *c)
{
    BlockDriverState *parent = c->opaque;

    return g_strdup_printf("node '%s'", bdrv_get_node_name(parent));
}

static void bdrv_child_cb_drained_begin(BdrvChild *child)
{
    bdrv_do_drained_begin_quiesce(child->opaque, NULL, false);
}

static bool bdrv_child_cb_drained_poll(BdrvChild *child)
{
    return bdrv_drain_poll(child->opaque, false, NULL, false);
}

static void bdrv_child_cb_drained_end(BdrvChild *child,
                                      int *drained_end_counter)
{
    bdrv_drained_end_no_poll(child->opaque, drained_end_counter);
}

/* The parent got a backing node: block operations on it meanwhile. */
static void bdrv_backing_attach(BdrvChild *c)
{
    BlockDriverState *parent = c->opaque;
    BlockDriverState *backing_hd = c->bs;

    assert(!parent->backing_blocker);
    error_setg(&parent->backing_blocker, "node is used as backing hd of '%s'",
               bdrv_get_device_or_node_name(parent));

    bdrv_refresh_filename(backing_hd);
    parent->open_flags &= ~BDRV_O_NO_BACKING;
    bdrv_op_block_all(backing_hd, parent->backing_blocker);
}

static void bdrv_backing_detach(BdrvChild *c)
{
    BlockDriverState *parent = c->opaque;

    assert(parent->backing_blocker);
    bdrv_op_unblock_all(c->bs, parent->backing_blocker);
    error_free(parent->backing_blocker);
    parent->backing_blocker = NULL;
}

/* Put the new edge into the parent's lists and file/backing slots. */
static void bdrv_child_cb_attach(BdrvChild *child)
{
    BlockDriverState *bs = child->opaque;

    QLIST_INSERT_HEAD(&bs->children, child, next);

    if (bs->drv->is_filter || (child->role & BDRV_CHILD_FILTERED)) {
        /*
         * Filters, and raw when it acts as one: the primary child is the
         * filtered one, and there is no COW child.
         */
        assert(!(child->role & BDRV_CHILD_COW));
        if (child->role & BDRV_CHILD_PRIMARY) {
            assert(child->role & BDRV_CHILD_FILTERED);
            assert(!bs->backing && !bs->file);
            if (bs->drv->filtered_child_is_backing) {
                bs->backing = child;
            } else {
                bs->file = child;
            }
        } else {
            assert(!(child->role & BDRV_CHILD_FILTERED));
        }
    } else if (child->role & BDRV_CHILD_COW) {
        assert(bs->drv->supports_backing);
        assert(!(child->role & BDRV_CHILD_PRIMARY));
        assert(!bs->backing);
        bs->backing = child;
        bdrv_backing_attach(child);
    } else if (child->role & BDRV_CHILD_PRIMARY) {
        assert(!bs->file);
        bs->file = child;
    }

    bdrv_apply_subtree_drain(child, bs);
}

static void bdrv_child_cb_detach(BdrvChild *child)
{
    BlockDriverState *bs = child->opaque;

    if (child->role & BDRV_CHILD_COW) {
        bdrv_backing_detach(child);
    }
    bdrv_unapply_subtree_drain(child, bs);

    QLIST_REMOVE(child, next);
    if (child == bs->backing) {
        assert(child != bs->file);
        bs->backing = NULL;
    } else if (child == bs->file) {
        bs->file = NULL;
    }
}

static AioContext *child_of_bds_get_parent_aio_context(BdrvChild *c)
{
    return bdrv_get_aio_context(c->opaque);
}

const BdrvChildClass child_of_bds = {
    .parent_is_bds          = true,
    .get_parent_desc        = bdrv_child_get_parent_desc,
    .inherit_options        = bdrv_inherited_options,
    .drained_begin          = bdrv_child_cb_drained_begin,
    .drained_poll           = bdrv_child_cb_drained_poll,
    .drained_end            = bdrv_child_cb_drained_end,
    .attach                 = bdrv_child_cb_attach,
    .detach                 = bdrv_child_cb_detach,
    .get_parent_aio_context = child_of_bds_get_parent_aio_context,
};

/* ---- Creating and removing edges ---- */

/*
 * Point child at new_bs (either may be NULL), keeping the parent's drain
 * count in step with the node it now looks at.  No permission handling.
 */
static void bdrv_replace_child_noperm(BdrvChild *child,
                                      BlockDriverState *new_bs)
{
    BlockDriverState *old_bs = child->bs;
    int new_bs_quiesce_counter = new_bs ? new_bs->quiesce_counter : 0;
    int drain_saldo;

    assert(!child->frozen);
    assert(old_bs != new_bs);

    /*
     * A parent moving to a more drained node is drained up front, so no
     * request of its reaches the new node in between.
     */
    drain_saldo = new_bs_quiesce_counter - child->parent_quiesce_counter;
    while (drain_saldo > 0 && child->klass->drained_begin) {
        bdrv_parent_drained_begin_single(child, true);
        drain_saldo--;
    }

    if (old_bs) {
        /* Detaching first drops the subtree drains child brought along. */
        if (child->klass->detach) {
            child->klass->detach(child);
        }
        QLIST_REMOVE(child, next_parent);
    }

    child->bs = new_bs;

    if (new_bs) {
        QLIST_INSERT_HEAD(&new_bs->parents, child, next_parent);

        /* The detach may have undrained new_bs (if old_bs was above it). */
        assert(new_bs->quiesce_counter <= new_bs_quiesce_counter);
        drain_saldo += new_bs->quiesce_counter - new_bs_quiesce_counter;

        if (child->klass->attach) {
            child->klass->attach(child);
        }
    }

    /* A parent leaving a drained node is released only now. */
    while (drain_saldo < 0 && child->klass->drained_end) {
        bdrv_parent_drained_end_single(child);
        drain_saldo++;
    }
}

static void bdrv_child_free(BdrvChild *child)
{
    assert(!child->bs);
    g_free(child->name);
    g_free(child);
}

typedef struct BdrvAttachChildCommonState {
    BdrvChild *child;
} BdrvAttachChildCommonState;

static void bdrv_attach_child_common_abort(void *opaque)
{
    BdrvAttachChildCommonState *s = opaque;
    BlockDriverState *bs = s->child->bs;

    bdrv_replace_child_noperm(s->child, NULL);
    bdrv_unref(bs);
    bdrv_child_free(s->child);
}

static TransactionActionDrv bdrv_attach_child_common_drv = {
    .abort = bdrv_attach_child_common_abort,
    .clean = g_free,
};

/*
 * Create an edge from opaque (a parent of child_class) to child_bs with
 * the given initial permissions; the edge takes a new reference.
 */
static BdrvChild *bdrv_attach_child_common(BlockDriverState *child_bs,
                                           const char *child_name,
                                           const BdrvChildClass *child_class,
                                           BdrvChildRole child_role,
                                           uint64_t perm, uint64_t shared_perm,
                                           void *opaque, Transaction *tran)
{
    BdrvChild *new_child = g_new(BdrvChild, 1);
    BdrvAttachChildCommonState *s;

    assert(child_class->get_parent_desc);
    *new_child = (BdrvChild) {
        .name        = g_strdup(child_name),
        .klass       = child_class,
        .role        = child_role,
        .perm        = perm,
        .shared_perm = shared_perm,
        .opaque      = opaque,
    };

    bdrv_ref(child_bs);
    bdrv_replace_child_noperm(new_child, child_bs);

    s = g_new(BdrvAttachChildCommonState, 1);
    s->child = new_child;
    tran_add(tran, &bdrv_attach_child_common_drv, s);
    return new_child;
}

bool bdrv_recurse_has_child(BlockDriverState *bs, BlockDriverState *child)
{
    BdrvChild *c;

    if (bs == child) {
        return true;
    }
    QLIST_FOREACH(c, &bs->children, next) {
        if (bdrv_recurse_has_child(c->bs, child)) {
            return true;
        }
    }
    return false;
}

/* Attach child_bs under parent_bs, with the perms parent_bs derives. */
static BdrvChild *bdrv_attach_child_noperm(BlockDriverState *parent_bs,
                                           BlockDriverState *child_bs,
                                           const char *child_name,
                                           const BdrvChildClass *child_class,
                                           BdrvChildRole child_role,
                                           Transaction *tran, Error **errp)
{
    uint64_t perm, shared;

    assert(parent_bs->drv);

    if (bdrv_recurse_has_child(child_bs, parent_bs)) {
        error_setg(errp, "Making '%s' a %s child of '%s' would create a cycle",
                   child_bs->node_name, child_name, parent_bs->node_name);
        return NULL;
    }

    bdrv_get_cumulative_perm(parent_bs, &perm, &shared);
    bdrv_child_perm(parent_bs, child_bs, NULL, child_role, NULL, perm, shared,
                    &perm, &shared);

    return bdrv_attach_child_common(child_bs, child_name, child_class,
                                    child_role, perm, shared, parent_bs, tran);
}

BdrvChild *bdrv_root_attach_child(BlockDriverState *child_bs,
                                  const char *child_name,
                                  const BdrvChildClass *child_class,
                                  BdrvChildRole child_role,
                                  uint64_t perm, uint64_t shared_perm,
                                  void *opaque, Error **errp)
{
    Transaction *tran = tran_new();
    BdrvChild *child;
    int ret;

    child = bdrv_attach_child_common(child_bs, child_name, child_class,
                                     child_role, perm, shared_perm, opaque,
                                     tran);
    ret = bdrv_refresh_perms(child_bs, tran, errp);
    tran_finalize(tran, ret);

    /* The caller's reference was handed to the edge (or is dropped). */
    bdrv_unref(child_bs);
    return ret < 0 ? NULL : child;
}

BdrvChild *bdrv_attach_child(BlockDriverState *parent_bs,
                             BlockDriverState *child_bs,
                             const char *child_name,
                             const BdrvChildClass *child_class,
                             BdrvChildRole child_role, Error **errp)
{
    Transaction *tran = tran_new();
    BdrvChild *child;
    int ret = -EINVAL;

    child = bdrv_attach_child_noperm(parent_bs, child_bs, child_name,
                                     child_class, child_role, tran, errp);
    if (child) {
        ret = bdrv_refresh_perms(parent_bs, tran, errp);
    }
    tran_finalize(tran, ret);

    bdrv_unref(child_bs);
    return ret < 0 ? NULL : child;
}

/* Remove the edge; the node may now allow more (errors are moot). */
static void bdrv_detach_child(BdrvChild *child)
{
    BlockDriverState *old_bs = child->bs;

    bdrv_replace_child_noperm(child, NULL);
    bdrv_child_free(child);
    if (old_bs) {
        bdrv_refresh_perms(old_bs, NULL, NULL);
    }
}

void bdrv_root_unref_child(BdrvChild *child)
{
    BlockDriverState *child_bs = child->bs;

    bdrv_detach_child(child);
    bdrv_unref(child_bs);
}

typedef struct BdrvSetInheritsFrom {
    BlockDriverState *bs;
    BlockDriverState *old_inherits_from;
} BdrvSetInheritsFrom;

static void bdrv_set_inherits_from_abort(void *opaque)
{
    BdrvSetInheritsFrom *s = opaque;

    s->bs->inherits_from = s->old_inherits_from;
}

static TransactionActionDrv bdrv_set_inherits_from_drv = {
    .abort = bdrv_set_inherits_from_abort,
    .clean = g_free,
};

static void bdrv_set_inherits_from(BlockDriverState *bs,
                                   BlockDriverState *new_inherits_from,
                                   Transaction *tran)
{
    if (tran) {
        BdrvSetInheritsFrom *s = g_new(BdrvSetInheritsFrom, 1);

        *s = (BdrvSetInheritsFrom) {
            .bs = bs,
            .old_inherits_from = bs->inherits_from,
        };
        tran_add(tran, &bdrv_set_inherits_from_drv, s);
    }
    bs->inherits_from = new_inherits_from;
}

/*
 * child is going away from root: if it was root's last link to that node,
 * the node no longer inherits options from root.
 */
static void bdrv_unset_inherits_from(BlockDriverState *root, BdrvChild *child,
                                     Transaction *tran)
{
    BdrvChild *c;

    if (child->bs->inherits_from != root) {
        return;
    }
    QLIST_FOREACH(c, &root->children, next) {
        if (c != child && c->bs == child->bs) {
            return;
        }
    }
    bdrv_set_inherits_from(child->bs, NULL, tran);
}

void bdrv_unref_child(BlockDriverState *parent, BdrvChild *child)
{
    if (!child) {
        return;
    }
    bdrv_unset_inherits_from(parent, child, NULL);
    bdrv_root_unref_child(child);
}

/* Does child inherit from parent, directly or through its ancestors? */
static bool bdrv_inherits_from_recursive(BlockDriverState *child,
                                         BlockDriverState *parent)
{
    while (child && child != parent) {
        child = child->inherits_from;
    }
    return child != NULL;
}

/* ---- Transactional re-pointing ---- */

typedef struct BdrvReplaceChildState {
    BdrvChild *child;
    BlockDriverState *old_bs;
} BdrvReplaceChildState;

static void bdrv_replace_child_commit(void *opaque)
{
    BdrvReplaceChildState *s = opaque;

    bdrv_unref(s->old_bs);
}

static void bdrv_replace_child_abort(void *opaque)
{
    BdrvReplaceChildState *s = opaque;
    BlockDriverState *new_bs = s->child->bs;

    /* The reference on old_bs moves back from s to the edge. */
    bdrv_replace_child_noperm(s->child, s->old_bs);
    bdrv_unref(new_bs);
}

static TransactionActionDrv bdrv_replace_child_drv = {
    .commit = bdrv_replace_child_commit,
    .abort = bdrv_replace_child_abort,
    .clean = g_free,
};

/*
 * Point child at new_bs (NULL: detach); the old node is only released on
 * commit.  A detached child must stay allocated until the transaction
 * ends, so the abort can reattach it.
 */
static void bdrv_replace_child_tran(BdrvChild *child,
                                    BlockDriverState *new_bs,
                                    Transaction *tran)
{
    BdrvReplaceChildState *s = g_new(BdrvReplaceChildState, 1);

    *s = (BdrvReplaceChildState) {
        .child = child,
        .old_bs = child->bs,
    };
    tran_add(tran, &bdrv_replace_child_drv, s);

    if (new_bs) {
        bdrv_ref(new_bs);
    }
    bdrv_replace_child_noperm(child, new_bs);
}

static void bdrv_remove_child_commit(void *opaque)
{
    bdrv_child_free(opaque);
}

static TransactionActionDrv bdrv_remove_child_drv = {
    .commit = bdrv_remove_child_commit,
};

/* Detach and (on commit) free child.  No permission update. */
static void bdrv_remove_child(BdrvChild *child, Transaction *tran)
{
    if (child->bs) {
        bdrv_replace_child_tran(child, NULL, tran);
    }
    tran_add(tran, &bdrv_remove_child_drv, child);
}

int bdrv_set_file_or_backing_noperm(BlockDriverState *parent_bs,
                                    BlockDriverState *child_bs,
                                    bool is_backing, Transaction *tran,
                                    Error **errp)
{
    bool update_inherits_from = child_bs &&
        bdrv_inherits_from_recursive(child_bs, parent_bs);
    BdrvChild *child = is_backing ? parent_bs->backing : parent_bs->file;
    BlockDriver *drv = parent_bs->drv;
    BdrvChildRole role;

    if (!drv) {
        error_setg(errp, "Node corrupted");
        return -EINVAL;
    }

    if (child && child->frozen) {
        error_setg(errp, "Cannot change frozen '%s' link from '%s' to '%s'",
                   child->name, parent_bs->node_name, child->bs->node_name);
        return -EPERM;
    }

    /*
     * QEMU 7.2 lets filters through here and then trips an assertion for
     * filters whose child lives in bs->file; refuse those instead.
     */
    if (is_backing && !(drv->is_filter ? drv->filtered_child_is_backing
                                       : drv->supports_backing)) {
        error_setg(errp, "Driver '%s' of node '%s' does not support backing "
                   "files", drv->format_name, parent_bs->node_name);
        return -EINVAL;
    }

    if (drv->is_filter) {
        role = BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY;
    } else if (is_backing) {
        role = BDRV_CHILD_COW;
    } else {
        /* There is no generic way to tell the role of a new file child. */
        if (!child) {
            error_setg(errp, "Cannot set file child to format node without "
                       "file child");
            return -EINVAL;
        }
        role = child->role;
    }

    if (child) {
        bdrv_unset_inherits_from(parent_bs, child, tran);
        bdrv_remove_child(child, tran);
    }

    if (child_bs) {
        child = bdrv_attach_child_noperm(parent_bs, child_bs,
                                         is_backing ? "backing" : "file",
                                         &child_of_bds, role, tran, errp);
        if (!child) {
            return -EINVAL;
        }
        /* An indirect heir of parent_bs becomes a direct one. */
        if (update_inherits_from) {
            bdrv_set_inherits_from(child_bs, parent_bs, tran);
        }
    }

    bdrv_refresh_limits(parent_bs, tran, NULL);
    return 0;
}

int bdrv_set_backing_hd(BlockDriverState *bs, BlockDriverState *backing_hd,
                        Error **errp)
{
    /* Draining the old backing node also drains bs, its parent. */
    BlockDriverState *drain_bs = bs->backing ? bs->backing->bs : bs;
    Transaction *tran;
    int ret;

    bdrv_ref(drain_bs);
    bdrv_drained_begin(drain_bs);

    tran = tran_new();
    ret = bdrv_set_file_or_backing_noperm(bs, backing_hd, true, tran, errp);
    if (ret >= 0) {
        ret = bdrv_refresh_perms(bs, tran, errp);
    }
    tran_finalize(tran, ret);

    bdrv_drained_end(drain_bs);
    bdrv_unref(drain_bs);
    return ret;
}

/* ---- Replacing nodes ---- */

/*
 * May edge c (now pointing at some node A) be moved to to?  Not if it
 * belongs to the subtree of to: that would make a loop (the usual case is
 * the backing edge of a new overlay to the node it replaces).  Nor if the
 * parent insists on staying.
 */
static bool should_update_child(BdrvChild *c, BlockDriverState *to)
{
    g_autoptr(GHashTable) found = g_hash_table_new(NULL, NULL);
    GQueue queue = G_QUEUE_INIT;
    bool ret = true;

    if (c->klass->stay_at_node) {
        return false;
    }

    g_hash_table_add(found, to);
    g_queue_push_tail(&queue, to);
    while (ret && !g_queue_is_empty(&queue)) {
        BlockDriverState *v = g_queue_pop_head(&queue);
        BdrvChild *c2;

        QLIST_FOREACH(c2, &v->children, next) {
            if (c2 == c) {
                ret = false;
                break;
            }
            if (!g_hash_table_contains(found, c2->bs)) {
                g_hash_table_add(found, c2->bs);
                g_queue_push_tail(&queue, c2->bs);
            }
        }
    }
    g_queue_clear(&queue);
    return ret;
}

/* Move the parents of from over to to (skipping those that must stay). */
static int bdrv_replace_node_noperm(BlockDriverState *from,
                                    BlockDriverState *to,
                                    bool auto_skip, Transaction *tran,
                                    Error **errp)
{
    BdrvChild *c, *next;

    QLIST_FOREACH_SAFE(c, &from->parents, next_parent, next) {
        assert(c->bs == from);
        if (!should_update_child(c, to)) {
            if (auto_skip) {
                continue;
            }
            error_setg(errp, "Should not change '%s' link to '%s'",
                       c->name, from->node_name);
            return -EINVAL;
        }
        if (c->frozen) {
            error_setg(errp, "Cannot change '%s' link to '%s'",
                       c->name, from->node_name);
            return -EPERM;
        }
        bdrv_replace_child_tran(c, to, tran);
    }
    return 0;
}

int bdrv_replace_node(BlockDriverState *from, BlockDriverState *to,
                      Error **errp)
{
    g_autoptr(GHashTable) found = g_hash_table_new(NULL, NULL);
    g_autoptr(GSList) refresh_list = NULL;
    Transaction *tran = tran_new();
    int ret;

    assert(bdrv_get_aio_context(from) == bdrv_get_aio_context(to));

    /* from must survive until its parents are safely elsewhere. */
    bdrv_ref(from);
    bdrv_drained_begin(from);

    ret = bdrv_replace_node_noperm(from, to, true, tran, errp);
    if (ret >= 0) {
        /* Both subtrees changed parents; refresh them in one go. */
        refresh_list = bdrv_topological_dfs(refresh_list, found, to);
        refresh_list = bdrv_topological_dfs(refresh_list, found, from);
        ret = bdrv_list_refresh_perms(refresh_list, NULL, tran, errp);
    }
    tran_finalize(tran, ret);

    bdrv_drained_end(from);
    bdrv_unref(from);
    return ret;
}

int bdrv_append(BlockDriverState *bs_new, BlockDriverState *bs_top,
                Error **errp)
{
    Transaction *tran = tran_new();
    BdrvChild *child;
    int ret = -EINVAL;

    assert(!bs_new->backing);

    /*
     * Link first and move the parents second, then check everything at
     * once: the intermediate graph may well be in conflict.
     */
    child = bdrv_attach_child_noperm(bs_new, bs_top, "backing", &child_of_bds,
                                     bdrv_backing_role(bs_new), tran, errp);
    if (child) {
        ret = bdrv_replace_node_noperm(bs_top, bs_new, true, tran, errp);
    }
    if (ret >= 0) {
        ret = bdrv_refresh_perms(bs_new, tran, errp);
    }
    tran_finalize(tran, ret);

    bdrv_refresh_limits(bs_top, NULL, NULL);
    return ret;
}
