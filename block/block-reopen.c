/*
 * Reopening nodes with new options, transactionally.
 *
 * A reopen queue holds one entry per node: the node itself and, through
 * option inheritance, the children that were opened together with it.
 * Every entry is prepared (options validated, driver staged), then the
 * permissions of everything involved are checked with the flags the nodes
 * will have afterwards.  Only when all of that worked are the entries
 * committed; otherwise every prepared driver is told to abort and the
 * graph, options and flags are left untouched.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "block-internal.h"

/* Merge old options under new ones (the driver may know better). */
static void bdrv_join_options(BlockDriverState *bs, QDict *options,
                              QDict *old_options)
{
    if (bs->drv && bs->drv->bdrv_join_options) {
        bs->drv->bdrv_join_options(options, old_options);
    } else {
        qdict_join(options, old_options, false);
    }
}

/* Flags that the generic options in options describe, starting at flags. */
static int flags_from_options(QDict *options, int flags)
{
    g_autoptr(QDict) copy = qdict_clone_shallow(options);
    QemuOpts *opts = qemu_opts_create(&bdrv_runtime_opts, NULL, 0,
                                      &error_abort);

    /* Bad values are reported when the entry is prepared. */
    qemu_opts_absorb_qdict(opts, copy, NULL);
    bdrv_update_flags_from_options(&flags, opts);
    qemu_opts_del(opts);
    return flags;
}

/*
 * Queue bs with options (ownership passes), and recursively the children
 * that inherit from it.  For a child, klass/role/parent_* describe the
 * edge it inherits through; parent_options NULL marks the root.
 */
static BlockReopenQueue *bdrv_reopen_queue_child(BlockReopenQueue *bs_queue,
                                                 BlockDriverState *bs,
                                                 QDict *options,
                                                 const BdrvChildClass *klass,
                                                 BdrvChildRole role,
                                                 bool parent_is_format,
                                                 QDict *parent_options,
                                                 int parent_flags,
                                                 bool keep_old_opts)
{
    BlockReopenQueueEntry *bs_entry;
    QDict *explicit_options;
    BdrvChild *child;
    int flags;

    bdrv_drained_begin(bs);

    if (!bs_queue) {
        bs_queue = g_new0(BlockReopenQueue, 1);
        QTAILQ_INIT(bs_queue);
    }
    if (!options) {
        options = qdict_new();
    }

    QTAILQ_FOREACH(bs_entry, bs_queue, entry) {
        if (bs_entry->state.bs == bs) {
            break;
        }
    }

    /*
     * Precedence, highest first: options given now; options set
     * explicitly before (kept for a node queued twice, or with
     * keep_old_opts); options inherited from the parent; the node's
     * previous effective options (with keep_old_opts).
     */
    if (bs_entry || keep_old_opts) {
        QDict *old_explicit = bs_entry ? bs_entry->state.explicit_options
                                       : bs->explicit_options;
        g_autoptr(QDict) old = qdict_clone_shallow(old_explicit);

        bdrv_join_options(bs, options, old);
    }

    explicit_options = qdict_clone_shallow(options);

    if (parent_options) {
        flags = 0;
        klass->inherit_options(role, parent_is_format, &flags, options,
                               parent_flags, parent_options);
    } else {
        flags = bs->open_flags;
    }

    if (keep_old_opts) {
        g_autoptr(QDict) old = qdict_clone_shallow(bs->options);

        bdrv_join_options(bs, options, old);
    }

    flags = flags_from_options(options, flags);
    /* As bdrv_open would have it. */
    flags &= ~BDRV_O_PROTOCOL;
    if (flags & BDRV_O_RDWR) {
        flags |= BDRV_O_ALLOW_RDWR;
    }

    if (!bs_entry) {
        bs_entry = g_new0(BlockReopenQueueEntry, 1);
        QTAILQ_INSERT_TAIL(bs_queue, bs_entry, entry);
    } else {
        qobject_unref(bs_entry->state.options);
        qobject_unref(bs_entry->state.explicit_options);
    }

    bs_entry->state.bs = bs;
    bs_entry->state.options = options;
    bs_entry->state.explicit_options = explicit_options;
    bs_entry->state.flags = flags;

    /*
     * Without keep_old_opts, missing options reset to defaults; "backing"
     * cannot be reset, so remember whether it is missing.
     */
    if (!keep_old_opts) {
        bs_entry->state.backing_missing =
            !qdict_haskey(options, "backing") &&
            !qdict_haskey(options, "backing.driver");
    }

    QLIST_FOREACH(child, &bs->children, next) {
        QDict *child_options = NULL;
        bool child_keep_old = keep_old_opts;

        /* Only children opened with bs follow it; others are referenced. */
        if (child->bs->inherits_from != bs) {
            continue;
        }

        if (qdict_haskey(options, child->name)) {
            const char *childref = qdict_get_try_str(options, child->name);

            /* A different node (or null): this child is being dropped. */
            if (g_strcmp0(childref, child->bs->node_name)) {
                continue;
            }
            /* The same node: it keeps its options (but may inherit). */
            child_keep_old = true;
        } else {
            g_autofree char *prefix = g_strdup_printf("%s.", child->name);

            qdict_extract_subqdict(explicit_options, NULL, prefix);
            qdict_extract_subqdict(options, &child_options, prefix);
        }

        bdrv_reopen_queue_child(bs_queue, child->bs, child_options,
                                child->klass, child->role, bs->drv->is_format,
                                options, flags, child_keep_old);
    }

    return bs_queue;
}

BlockReopenQueue *bdrv_reopen_queue(BlockReopenQueue *bs_queue,
                                    BlockDriverState *bs, QDict *options,
                                    bool keep_old_opts)
{
    return bdrv_reopen_queue_child(bs_queue, bs, options, NULL, 0, false,
                                   NULL, 0, keep_old_opts);
}

void bdrv_reopen_queue_free(BlockReopenQueue *bs_queue)
{
    BlockReopenQueueEntry *bs_entry, *next;

    if (!bs_queue) {
        return;
    }
    QTAILQ_FOREACH_SAFE(bs_entry, bs_queue, entry, next) {
        bdrv_drained_end(bs_entry->state.bs);
        qobject_unref(bs_entry->state.explicit_options);
        qobject_unref(bs_entry->state.options);
        g_free(bs_entry);
    }
    g_free(bs_queue);
}

static bool str_in_list(const char *str, const char *const *list)
{
    for (; list && *list; list++) {
        if (!strcmp(str, *list)) {
            return true;
        }
    }
    return false;
}

/*
 * An option missing from new_opts would go back to its default.  The
 * generic ones are handled here, immutable ones stay what they are; but
 * no driver knows how to reset a mutable one.
 */
static int bdrv_reset_options_allowed(BlockDriverState *bs,
                                      const QDict *new_opts, Error **errp)
{
    static const char *const common_options[] = {
        "node-name", "discard", "cache.direct", "cache.no-flush",
        "read-only", "auto-read-only", "detect-zeroes", NULL
    };

    for (const QDictEntry *e = qdict_first(bs->options); e;
         e = qdict_next(bs->options, e)) {
        const char *key = qdict_entry_key(e);

        if (!qdict_haskey(new_opts, key) &&
            !str_in_list(key, common_options) &&
            str_in_list(key, bs->drv->mutable_opts)) {
            error_setg(errp, "Option '%s' cannot be reset to its default "
                       "value", key);
            return -EINVAL;
        }
    }
    return 0;
}

/*
 * Handle a "backing" (or "file") option: a node name to switch to, or
 * null to drop the backing file.
 */
static int bdrv_reopen_parse_file_or_backing(BDRVReopenState *state,
                                             bool is_backing,
                                             Transaction *tran, Error **errp)
{
    BlockDriverState *bs = state->bs;
    BlockDriverState *old_child_bs = child_bs(is_backing ? bs->backing
                                                         : bs->file);
    const char *child_name = is_backing ? "backing" : "file";
    BlockDriverState *new_child_bs;
    QObject *value = qdict_get(state->options, child_name);
    const char *str;

    if (!value) {
        return 0;
    }

    switch (qobject_type(value)) {
    case QTYPE_QNULL:
        if (!is_backing) {
            /* QEMU asserts here; its QAPI schema forbids a null file. */
            error_setg(errp, "Invalid parameter type for 'file', expected: "
                       "string");
            return -EINVAL;
        }
        new_child_bs = NULL;
        break;
    case QTYPE_QSTRING:
        str = qstring_get_str(qobject_to(QString, value));
        new_child_bs = bdrv_lookup_bs(NULL, str, errp);
        if (!new_child_bs) {
            return -EINVAL;
        }
        if (bdrv_recurse_has_child(new_child_bs, bs)) {
            error_setg(errp, "Making '%s' a %s child of '%s' would create a "
                       "cycle", str, child_name, bs->node_name);
            return -EINVAL;
        }
        break;
    default:
        /* Flattened options hold nothing else (QEMU asserts). */
        error_setg(errp, "Invalid parameter type for '%s', expected: string",
                   child_name);
        return -EINVAL;
    }

    if (old_child_bs == new_child_bs) {
        return 0;
    }

    if (old_child_bs) {
        if (bdrv_skip_implicit_filters(old_child_bs) == new_child_bs) {
            return 0;
        }
        if (old_child_bs->implicit) {
            error_setg(errp, "Cannot replace implicit %s child of %s",
                       child_name, bs->node_name);
            return -EPERM;
        }
    }

    if (bs->drv->is_filter && !old_child_bs) {
        /* A filter has exactly one of the two; this is the wrong one. */
        error_setg(errp, "'%s' is a %s filter node that does not support a "
                   "%s child", bs->node_name, bs->drv->format_name,
                   child_name);
        return -EINVAL;
    }

    if (is_backing) {
        state->old_backing_bs = old_child_bs;
    } else {
        state->old_file_bs = old_child_bs;
    }

    return bdrv_set_file_or_backing_noperm(bs, new_child_bs, is_backing, tran,
                                           errp);
}

/*
 * Validate the new options of one node and let its driver stage them.
 * Graph changes ("backing"/"file") go into tran.  On success the driver
 * is prepared and exactly one of commit/abort must follow.
 */
static int bdrv_reopen_prepare(BDRVReopenState *state,
                               BlockReopenQueue *queue, Transaction *tran,
                               Error **errp)
{
    BlockDriverState *bs = state->bs;
    BlockDriver *drv = bs->drv;
    Error *local_err = NULL;
    g_autoptr(QDict) orig_options = NULL;
    g_autofree char *discard = NULL;
    bool drv_prepared = false;
    QemuOpts *opts;
    int old_flags;
    int ret = -EINVAL;

    assert(drv);

    /* Processing consumes state->options; restore them on success. */
    orig_options = qdict_clone_shallow(state->options);

    opts = qemu_opts_create(&bdrv_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, state->options, errp)) {
        goto error;
    }

    /* The queue computed the flags already; this consumes the options. */
    old_flags = state->flags;
    bdrv_update_flags_from_options(&state->flags, opts);
    assert(old_flags == state->flags);

    discard = qemu_opt_get_del(opts, BDRV_OPT_DISCARD);
    if (discard && bdrv_parse_discard_flags(discard, &state->flags)) {
        error_setg(errp, "Invalid discard option");
        goto error;
    }

    state->detect_zeroes = bdrv_parse_detect_zeroes(opts, state->flags,
                                                    &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        goto error;
    }

    /* node-name, driver etc. may not change: check them with the rest. */
    qemu_opts_to_qdict(opts, state->options);

    ret = bdrv_can_set_read_only(bs, !(state->flags & BDRV_O_RDWR), true,
                                 errp);
    if (ret < 0) {
        goto error;
    }

    if (!drv->bdrv_reopen_prepare) {
        error_setg(errp, "Block format '%s' used by node '%s' does not "
                   "support reopening files", drv->format_name,
                   bdrv_get_device_or_node_name(bs));
        ret = -1;
        goto error;
    }

    ret = bdrv_reset_options_allowed(bs, state->options, errp);
    if (ret < 0) {
        goto error;
    }

    ret = drv->bdrv_reopen_prepare(state, queue, &local_err);
    if (ret) {
        if (local_err) {
            error_propagate(errp, local_err);
        } else {
            bdrv_refresh_filename(bs);
            error_setg(errp, "failed while preparing to reopen image '%s'",
                       bs->filename);
        }
        goto error;
    }
    drv_prepared = true;

    /*
     * A node with a backing file (in the graph or in its header) must be
     * told what to do with it.
     */
    if (drv->supports_backing && state->backing_missing &&
        (bs->backing || bs->backing_file[0])) {
        error_setg(errp, "backing is missing for '%s'", bs->node_name);
        ret = -EINVAL;
        goto error;
    }

    ret = bdrv_reopen_parse_file_or_backing(state, true, tran, errp);
    if (ret < 0) {
        goto error;
    }
    qdict_del(state->options, "backing");

    ret = bdrv_reopen_parse_file_or_backing(state, false, tran, errp);
    if (ret < 0) {
        goto error;
    }
    qdict_del(state->options, "file");

    /*
     * Whatever is left was for the initial open only (filename, ...): it
     * may be repeated but not changed.  A child reference naming the
     * current child is a repetition too.
     */
    for (const QDictEntry *e = qdict_first(state->options); e;
         e = qdict_next(state->options, e)) {
        QObject *new = qdict_entry_value(e);
        QObject *old = qdict_get(bs->options, qdict_entry_key(e));
        QString *ref = qobject_to(QString, new);

        if (ref) {
            BdrvChild *child;

            QLIST_FOREACH(child, &bs->children, next) {
                if (!strcmp(child->name, qdict_entry_key(e))) {
                    break;
                }
            }
            if (child && !strcmp(child->bs->node_name,
                                 qstring_get_str(ref))) {
                continue;
            }
        }

        /*
         * Values given to reopen are strings; typed values from the
         * original open (json:) therefore never compare equal.  QEMU
         * behaves the same.
         */
        if (!qobject_is_equal(new, old)) {
            error_setg(errp, "Cannot change the option '%s'",
                       qdict_entry_key(e));
            ret = -EINVAL;
            goto error;
        }
    }

    qobject_unref(state->options);
    state->options = qobject_ref(orig_options);
    ret = 0;

error:
    /* bdrv_reopen_multiple() only aborts entries that were prepared. */
    if (ret < 0 && drv_prepared && drv->bdrv_reopen_abort) {
        drv->bdrv_reopen_abort(state);
    }
    qemu_opts_del(opts);
    return ret;
}

/* Make the prepared state the node's. */
static void bdrv_reopen_commit(BDRVReopenState *state)
{
    BlockDriverState *bs = state->bs;
    BdrvChild *child;

    assert(bs->drv);
    if (bs->drv->bdrv_reopen_commit) {
        bs->drv->bdrv_reopen_commit(state);
    }

    qobject_unref(bs->explicit_options);
    qobject_unref(bs->options);
    bs->explicit_options = qobject_ref(state->explicit_options);
    bs->options = qobject_ref(state->options);
    bs->open_flags = state->flags;
    bs->detect_zeroes = state->detect_zeroes;

    /* Child sub-options went with the children; drop the references. */
    QLIST_FOREACH(child, &bs->children, next) {
        qdict_del(bs->explicit_options, child->name);
        qdict_del(bs->options, child->name);
    }
    /* The backing child may just have been removed. */
    qdict_del(bs->explicit_options, "backing");
    qdict_del(bs->options, "backing");

    bdrv_refresh_limits(bs, NULL, NULL);
}

static void bdrv_reopen_abort(BDRVReopenState *state)
{
    assert(state->bs->drv);
    if (state->bs->drv->bdrv_reopen_abort) {
        state->bs->drv->bdrv_reopen_abort(state);
    }
}

int bdrv_reopen_multiple(BlockReopenQueue *bs_queue, Error **errp)
{
    g_autoptr(GHashTable) found = g_hash_table_new(NULL, NULL);
    g_autoptr(GSList) refresh_list = NULL;
    Transaction *tran = tran_new();
    BlockReopenQueueEntry *bs_entry;
    int ret;

    assert(bs_queue);

    QTAILQ_FOREACH(bs_entry, bs_queue, entry) {
        ret = bdrv_flush(bs_entry->state.bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Error flushing drive");
            goto abort;
        }
    }

    QTAILQ_FOREACH(bs_entry, bs_queue, entry) {
        assert(bs_entry->state.bs->quiesce_counter > 0);
        ret = bdrv_reopen_prepare(&bs_entry->state, bs_queue, tran, errp);
        if (ret < 0) {
            goto abort;
        }
        bs_entry->prepared = true;
    }

    /* Nodes that lose a parent through the reopen are involved too. */
    QTAILQ_FOREACH(bs_entry, bs_queue, entry) {
        BDRVReopenState *state = &bs_entry->state;

        refresh_list = bdrv_topological_dfs(refresh_list, found, state->bs);
        if (state->old_backing_bs) {
            refresh_list = bdrv_topological_dfs(refresh_list, found,
                                                state->old_backing_bs);
        }
        if (state->old_file_bs) {
            refresh_list = bdrv_topological_dfs(refresh_list, found,
                                                state->old_file_bs);
        }
    }

    /*
     * Check permissions with the flags the nodes will have.  Drivers
     * reconfigure themselves (file-posix: the fd mode) from the
     * permissions they see here, even when nothing changes.
     */
    ret = bdrv_list_refresh_perms(refresh_list, bs_queue, tran, errp);
    if (ret < 0) {
        goto abort;
    }

    /* Children come after parents in the queue: commit bottom-up. */
    QTAILQ_FOREACH_REVERSE(bs_entry, bs_queue, entry) {
        bdrv_reopen_commit(&bs_entry->state);
    }
    tran_commit(tran);

    QTAILQ_FOREACH_REVERSE(bs_entry, bs_queue, entry) {
        BlockDriverState *bs = bs_entry->state.bs;

        if (bs->drv->bdrv_reopen_commit_post) {
            bs->drv->bdrv_reopen_commit_post(&bs_entry->state);
        }
    }

    bdrv_reopen_queue_free(bs_queue);
    return 0;

abort:
    tran_abort(tran);
    QTAILQ_FOREACH(bs_entry, bs_queue, entry) {
        if (bs_entry->prepared) {
            bdrv_reopen_abort(&bs_entry->state);
        }
    }
    bdrv_reopen_queue_free(bs_queue);
    return ret;
}

int bdrv_reopen(BlockDriverState *bs, QDict *opts, bool keep_old_opts,
                Error **errp)
{
    BlockReopenQueue *queue = bdrv_reopen_queue(NULL, bs, opts,
                                                keep_old_opts);

    return bdrv_reopen_multiple(queue, errp);
}

int bdrv_reopen_set_read_only(BlockDriverState *bs, bool read_only,
                              Error **errp)
{
    QDict *opts = qdict_new();

    qdict_put_bool(opts, BDRV_OPT_READ_ONLY, read_only);
    return bdrv_reopen(bs, opts, true, errp);
}
