/*
 * What block.c, block-graph.c and block-reopen.c share and nobody else
 * needs: the generic runtime options, option inheritance and the
 * transactional graph primitives that open, reopen and graph changes are
 * built from.
 */
#ifndef BLOCK_BLOCK_INTERNAL_H
#define BLOCK_BLOCK_INTERNAL_H

#include "block/block_int.h"
#include "qemu/transactions.h"

/* One node of a reopen queue (see block-reopen.c). */
struct BlockReopenQueueEntry {
    bool prepared;
    BDRVReopenState state;
    QTAILQ_ENTRY(BlockReopenQueueEntry) entry;
};

/* ---- Generic runtime options (block.c) ---- */

/* node-name, driver, cache.*, read-only, discard, ... of every node. */
extern QemuOptsList bdrv_runtime_opts;
/* Apply the cache/read-only options in opts to *flags (consuming them). */
void bdrv_update_flags_from_options(int *flags, QemuOpts *opts);
/* Consume and check detect-zeroes against open_flags. */
BlockdevDetectZeroesOptions bdrv_parse_detect_zeroes(QemuOpts *opts,
                                                     int open_flags,
                                                     Error **errp);
/* child_of_bds's inherit_options. */
void bdrv_inherited_options(BdrvChildRole role, bool parent_is_format,
                            int *child_flags, QDict *child_options,
                            int parent_flags, QDict *parent_options);
/* The role a backing child of bs gets: COW, or FILTERED|PRIMARY. */
BdrvChildRole bdrv_backing_role(BlockDriverState *bs);

/* ---- Graph and permissions (block-graph.c) ---- */

/* Is child reachable from bs (bs itself included)? */
bool bdrv_recurse_has_child(BlockDriverState *bs, BlockDriverState *child);
/*
 * Prepend bs and its not yet found descendants to list so that parents
 * come before their children; found (NULL: a private one) remembers the
 * nodes already listed.
 */
GSList *bdrv_topological_dfs(GSList *list, GHashTable *found,
                             BlockDriverState *bs);
/*
 * Check and stage new permissions for every node of list (parents
 * first), as the graph is now and with the flags q will give.
 */
int bdrv_list_refresh_perms(GSList *list, BlockReopenQueue *q,
                            Transaction *tran, Error **errp);
/* The same for bs and its subtree; tran NULL: finalise here. */
int bdrv_refresh_perms(BlockDriverState *bs, Transaction *tran,
                       Error **errp);
/* Flags bs will have once the reopen q is done (bs->open_flags if none). */
int bdrv_reopen_get_flags(BlockReopenQueue *q, BlockDriverState *bs);
/*
 * Replace the backing (or file) child of parent_bs by child_bs (NULL:
 * remove it), without refreshing permissions.
 */
int bdrv_set_file_or_backing_noperm(BlockDriverState *parent_bs,
                                    BlockDriverState *child_bs,
                                    bool is_backing, Transaction *tran,
                                    Error **errp);
/* Follow implicit filters down from bs. */
BlockDriverState *bdrv_skip_implicit_filters(BlockDriverState *bs);

#endif
