/*
 * The block layer's node life cycle: driver registry and probing, node
 * names, references, opening (options, inheritance, protocol and format
 * layers, backing files), closing, filenames and state queries.
 *
 * Edges and permissions live in block-graph.c, reopen in block-reopen.c.
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/host-utils.h"
#include "qemu/error.h"
#include "qemu/json.h"
#include "qemu/main-loop.h"
#include "block/block-backend.h"
#include "block-internal.h"

/* Every node, in creation order. */
static QTAILQ_HEAD(, BlockDriverState) all_bdrv_states =
    QTAILQ_HEAD_INITIALIZER(all_bdrv_states);

/* Nodes with a name (all of them once opened). */
static QTAILQ_HEAD(, BlockDriverState) graph_bdrv_states =
    QTAILQ_HEAD_INITIALIZER(graph_bdrv_states);

/* Newest first: on equal probe scores the last registered driver wins. */
static QLIST_HEAD(, BlockDriver) bdrv_drivers =
    QLIST_HEAD_INITIALIZER(bdrv_drivers);

/* ---- Paths ---- */

bool path_has_protocol(const char *path)
{
    /* "proto:..." has a colon before any slash. */
    return path[strcspn(path, ":/")] == ':';
}

int path_is_absolute(const char *path)
{
    return path[0] == '/';
}

char *path_combine(const char *base_path, const char *filename)
{
    const char *dir_end = base_path;
    const char *slash;

    if (path_is_absolute(filename)) {
        return g_strdup(filename);
    }

    /* A "proto:" prefix of base_path is kept in front of the result. */
    if (path_has_protocol(base_path)) {
        dir_end = strchr(base_path, ':') + 1;
    }
    slash = strrchr(base_path, '/');
    if (slash && slash + 1 > dir_end) {
        dir_end = slash + 1;
    }

    return g_strdup_printf("%.*s%s", (int)(dir_end - base_path), base_path,
                           filename);
}

void bdrv_parse_filename_strip_prefix(const char *filename,
                                      const char *prefix, QDict *options)
{
    if (!strstart(filename, prefix, &filename)) {
        return;
    }

    /*
     * What is left may look like a protocol prefix itself ("a:b" for the
     * file "a:b"); "./" keeps it from being taken for one.
     */
    if (path_has_protocol(filename)) {
        qdict_put_obj(options, "filename",
                      QOBJECT(qstring_from_gstring(
                          g_string_append(g_string_new("./"), filename))));
    } else {
        qdict_put_str(options, "filename", filename);
    }
}

/* ---- Option value parsing ---- */

int bdrv_parse_cache_mode(const char *mode, int *flags, bool *writethrough)
{
    int cache_flags;
    bool wt;

    if (!strcmp(mode, "off") || !strcmp(mode, "none")) {
        cache_flags = BDRV_O_NOCACHE;
        wt = false;
    } else if (!strcmp(mode, "directsync")) {
        cache_flags = BDRV_O_NOCACHE;
        wt = true;
    } else if (!strcmp(mode, "writeback")) {
        cache_flags = 0;
        wt = false;
    } else if (!strcmp(mode, "unsafe")) {
        cache_flags = BDRV_O_NO_FLUSH;
        wt = false;
    } else if (!strcmp(mode, "writethrough")) {
        cache_flags = 0;
        wt = true;
    } else {
        return -1;
    }

    *flags = (*flags & ~BDRV_O_CACHE_MASK) | cache_flags;
    *writethrough = wt;
    return 0;
}

int bdrv_parse_aio(const char *mode, int *flags)
{
    if (!strcmp(mode, "threads")) {
        return 0;
    }
    if (!strcmp(mode, "native")) {
        *flags |= BDRV_O_NATIVE_AIO;
        return 0;
    }
#ifdef CONFIG_LINUX_IO_URING
    if (!strcmp(mode, "io_uring")) {
        *flags |= BDRV_O_IO_URING;
        return 0;
    }
#endif
    return -EINVAL;
}

int bdrv_parse_discard_flags(const char *mode, int *flags)
{
    if (!strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        *flags &= ~BDRV_O_UNMAP;
    } else if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        *flags |= BDRV_O_UNMAP;
    } else {
        return -1;
    }
    return 0;
}

/* ---- Driver registry ---- */

void bdrv_init(void)
{
    /* Drivers register themselves from block_init() constructors. */
}

void bdrv_register(BlockDriver *bdrv)
{
    QLIST_INSERT_HEAD(&bdrv_drivers, bdrv, list);
}

BlockDriver *bdrv_find_format(const char *format_name)
{
    BlockDriver *drv;

    QLIST_FOREACH(drv, &bdrv_drivers, list) {
        if (!strcmp(drv->format_name, format_name)) {
            return drv;
        }
    }
    return NULL;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void bdrv_iterate_format(void (*it)(void *opaque, const char *name),
                         void *opaque, bool read_only)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    BlockDriver *drv;

    QLIST_FOREACH(drv, &bdrv_drivers, list) {
        bool seen = false;

        for (guint i = 0; i < names->len && !seen; i++) {
            seen = !strcmp(g_ptr_array_index(names, i), drv->format_name);
        }
        if (!seen) {
            g_ptr_array_add(names, (gpointer)drv->format_name);
        }
    }

    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        it(opaque, g_ptr_array_index(names, i));
    }
}

/* A driver that claims filename as a host device, if any. */
static BlockDriver *find_hdev_driver(const char *filename)
{
    BlockDriver *drv, *best = NULL;
    int best_score = 0;

    QLIST_FOREACH(drv, &bdrv_drivers, list) {
        if (drv->bdrv_probe_device) {
            int score = drv->bdrv_probe_device(filename);

            if (score > best_score) {
                best_score = score;
                best = drv;
            }
        }
    }
    return best;
}

BlockDriver *bdrv_find_protocol(const char *filename,
                                bool allow_protocol_prefix, Error **errp)
{
    BlockDriver *drv;
    char protocol[128];
    size_t len;

    drv = find_hdev_driver(filename);
    if (drv) {
        return drv;
    }

    if (!allow_protocol_prefix || !path_has_protocol(filename)) {
        return &bdrv_file;
    }

    len = MIN(strchr(filename, ':') - filename, sizeof(protocol) - 1);
    memcpy(protocol, filename, len);
    protocol[len] = '\0';

    QLIST_FOREACH(drv, &bdrv_drivers, list) {
        if (drv->protocol_name && !strcmp(drv->protocol_name, protocol)) {
            return drv;
        }
    }

    error_setg(errp, "Unknown protocol '%s'", protocol);
    return NULL;
}

BlockDriver *bdrv_probe_all(const uint8_t *buf, int buf_size,
                            const char *filename)
{
    BlockDriver *drv, *best = NULL;
    int best_score = 0;

    QLIST_FOREACH(drv, &bdrv_drivers, list) {
        if (drv->bdrv_probe) {
            int score = drv->bdrv_probe(buf, buf_size, filename);

            /* Strictly greater: the first of equal scores stays. */
            if (score > best_score) {
                best_score = score;
                best = drv;
            }
        }
    }
    return best;
}

/*
 * Pick the format of the image behind file by its first bytes.  Empty
 * images and devices without a medium are raw.
 */
static int find_image_format(BlockBackend *file, const char *filename,
                             BlockDriver **pdrv, Error **errp)
{
    /* Zeroed: protocols like null-co leave read buffers untouched. */
    uint8_t buf[BLOCK_PROBE_BUF_SIZE] = { 0 };
    BlockDriver *drv;
    int ret;

    if (bdrv_is_sg(blk_bs(file)) || !blk_is_inserted(file) ||
        blk_getlength(file) == 0) {
        *pdrv = &bdrv_raw;
        return 0;
    }

    ret = blk_pread(file, 0, sizeof(buf), buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret,
                         "Could not read image for determining its format");
        return ret;
    }

    drv = bdrv_probe_all(buf, sizeof(buf), filename);
    if (!drv) {
        error_setg(errp, "Could not determine image format: No compatible "
                   "driver found");
        return -ENOENT;
    }

    *pdrv = drv;
    return 0;
}

/* ---- Node names ---- */

/* The BlockBackend called name, if any. */
static BlockBackend *find_blk_by_name(const char *name)
{
    BlockBackend *blk = NULL;

    while ((blk = blk_next(blk))) {
        if (!strcmp(blk_name(blk), name)) {
            return blk;
        }
    }
    return NULL;
}

/* A user-chosen id: a letter, then letters, digits, '-', '.' or '_'. */
static bool id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

/*
 * "#block<n><rr>": a counter plus two random digits.  '#' cannot start a
 * user name, so automatic names never clash with the user's.
 */
static char *generate_node_name(void)
{
    static uint64_t counter;

    return g_strdup_printf("#block%" PRIu64 "%02d", counter++,
                           g_random_int_range(0, 100));
}

static int bdrv_assign_node_name(BlockDriverState *bs, const char *node_name,
                                 Error **errp)
{
    g_autofree char *generated = NULL;

    if (!node_name) {
        node_name = generated = generate_node_name();
    } else if (!id_wellformed(node_name)) {
        error_setg(errp, "Invalid node-name: '%s'", node_name);
        return -EINVAL;
    }

    if (find_blk_by_name(node_name)) {
        error_setg(errp, "node-name=%s is conflicting with a device id",
                   node_name);
        return -EINVAL;
    }
    if (bdrv_find_node(node_name)) {
        error_setg(errp, "Duplicate nodes with node-name='%s'", node_name);
        return -EINVAL;
    }
    if (strlen(node_name) >= sizeof(bs->node_name)) {
        error_setg(errp, "Node name too long");
        return -EINVAL;
    }

    pstrcpy(bs->node_name, sizeof(bs->node_name), node_name);
    QTAILQ_INSERT_TAIL(&graph_bdrv_states, bs, node_list);
    return 0;
}

BlockDriverState *bdrv_find_node(const char *node_name)
{
    BlockDriverState *bs;

    QTAILQ_FOREACH(bs, &graph_bdrv_states, node_list) {
        if (!strcmp(node_name, bs->node_name)) {
            return bs;
        }
    }
    return NULL;
}

BlockDriverState *bdrv_lookup_bs(const char *device, const char *node_name,
                                 Error **errp)
{
    if (device) {
        BlockBackend *blk = find_blk_by_name(device);

        if (blk) {
            BlockDriverState *bs = blk_bs(blk);

            if (!bs) {
                error_setg(errp, "Device '%s' has no medium", device);
            }
            return bs;
        }
    }

    if (node_name) {
        BlockDriverState *bs = bdrv_find_node(node_name);

        if (bs) {
            return bs;
        }
    }

    error_setg(errp, "Cannot find device='%s' nor node-name='%s'",
               device ?: "", node_name ?: "");
    return NULL;
}

const char *bdrv_get_node_name(const BlockDriverState *bs)
{
    return bs->node_name;
}

const char *bdrv_get_parent_name(const BlockDriverState *bs)
{
    BdrvChild *c;

    /* With several named parents, the first one speaks for the node. */
    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass->get_name) {
            const char *name = c->klass->get_name(c);

            if (name && *name) {
                return name;
            }
        }
    }
    return NULL;
}

const char *bdrv_get_device_name(const BlockDriverState *bs)
{
    return bdrv_get_parent_name(bs) ?: "";
}

const char *bdrv_get_device_or_node_name(const BlockDriverState *bs)
{
    return bdrv_get_parent_name(bs) ?: bs->node_name;
}

const char *bdrv_get_format_name(BlockDriverState *bs)
{
    return bs->drv ? bs->drv->format_name : NULL;
}

AioContext *bdrv_get_aio_context(BlockDriverState *bs)
{
    return bs ? bs->aio_context : qemu_get_aio_context();
}

/* ---- Node life cycle ---- */

BlockDriverState *bdrv_new(void)
{
    BlockDriverState *bs = g_new0(BlockDriverState, 1);

    QLIST_INIT(&bs->op_blockers);
    qemu_co_mutex_init(&bs->reqs_lock);
    qemu_co_queue_init(&bs->flush_queue);
    bs->refcnt = 1;
    bs->aio_context = qemu_get_aio_context();

    /* A node born inside drain_all sections is drained like the others. */
    for (unsigned int i = 0; i < bdrv_drain_all_count; i++) {
        bdrv_drained_begin(bs);
    }

    QTAILQ_INSERT_TAIL(&all_bdrv_states, bs, bs_list);
    return bs;
}

BlockDriverState *bdrv_next_all_states(BlockDriverState *bs)
{
    return bs ? QTAILQ_NEXT(bs, bs_list) : QTAILQ_FIRST(&all_bdrv_states);
}

void bdrv_ref(BlockDriverState *bs)
{
    bs->refcnt++;
}

/* Tear the node down once nobody references it (refcnt == 0). */
static void bdrv_close(BlockDriverState *bs)
{
    BdrvChild *child, *next;

    assert(!bs->refcnt);

    bdrv_drained_begin(bs);
    bdrv_flush(bs);
    /* The flush may have started more I/O. */
    bdrv_drain(bs);

    if (bs->drv) {
        if (bs->drv->bdrv_close) {
            bs->drv->bdrv_close(bs);
        }
        bs->drv = NULL;
    }

    QLIST_FOREACH_SAFE(child, &bs->children, next, next) {
        bdrv_unref_child(bs, child);
    }
    assert(!bs->backing && !bs->file);

    g_free(bs->opaque);
    bs->opaque = NULL;
    bs->copy_on_read = 0;
    bs->backing_file[0] = '\0';
    bs->backing_format[0] = '\0';
    bs->total_sectors = 0;
    bs->encrypted = false;
    bs->sg = false;
    qobject_unref(bs->options);
    bs->options = NULL;
    qobject_unref(bs->explicit_options);
    bs->explicit_options = NULL;
    qobject_unref(bs->full_open_options);
    bs->full_open_options = NULL;

    bdrv_drained_end(bs);

    /* bdrv_drain_all_end() will not see this node any more. */
    if (bs->quiesce_counter) {
        bdrv_drain_all_end_quiesce(bs);
    }
}

static void bdrv_delete(BlockDriverState *bs)
{
    assert(bdrv_op_blocker_is_empty(bs));
    assert(!bs->refcnt);

    if (bs->node_name[0]) {
        QTAILQ_REMOVE(&graph_bdrv_states, bs, node_list);
    }
    QTAILQ_REMOVE(&all_bdrv_states, bs, bs_list);

    bdrv_close(bs);
    g_free(bs);
}

void bdrv_unref(BlockDriverState *bs)
{
    if (!bs) {
        return;
    }
    assert(bs->refcnt > 0);
    if (--bs->refcnt == 0) {
        bdrv_delete(bs);
    }
}

void bdrv_close_all(void)
{
    /* Let requests still in flight drop their references first. */
    bdrv_drain_all();
    blk_remove_all_bs();
    assert(QTAILQ_EMPTY(&all_bdrv_states));
}

/* The first BlockBackend parent of bs, if any. */
static BlockBackend *bdrv_first_blk(BlockDriverState *bs)
{
    BdrvChild *c;

    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (!c->klass->parent_is_bds) {
            return c->opaque;
        }
    }
    return NULL;
}

/*
 * The root nodes of all BlockBackends, each once (a node shared by
 * several BlockBackends is returned for the first of them).  The iterator
 * holds references on the current BlockBackend and node, so the caller
 * may drop its own; bdrv_next_cleanup() releases them when the loop is
 * left early.  qblock has no monitor, hence no monitor-owned nodes.
 */
BlockDriverState *bdrv_next(BdrvNextIterator *it)
{
    BlockBackend *old_blk = it->blk;
    BlockDriverState *old_bs = it->bs;
    BlockDriverState *bs = NULL;

    do {
        it->blk = blk_next(it->blk);
        bs = it->blk ? blk_bs(it->blk) : NULL;
    } while (it->blk && (!bs || bdrv_first_blk(bs) != it->blk));

    if (it->blk) {
        blk_ref(it->blk);
    }
    if (bs) {
        bdrv_ref(bs);
    }
    it->bs = bs;

    blk_unref(old_blk);
    bdrv_unref(old_bs);
    return bs;
}

BlockDriverState *bdrv_first(BdrvNextIterator *it)
{
    *it = (BdrvNextIterator) { .phase = 0 };
    return bdrv_next(it);
}

void bdrv_next_cleanup(BdrvNextIterator *it)
{
    blk_unref(it->blk);
    bdrv_unref(it->bs);
    it->blk = NULL;
    it->bs = NULL;
}

/* ---- Generic runtime options ---- */

QemuOptsList bdrv_runtime_opts = {
    .name = "bdrv_common",
    .head = QTAILQ_HEAD_INITIALIZER(bdrv_runtime_opts.head),
    .desc = {
        {
            .name = "node-name",
            .type = QEMU_OPT_STRING,
            .help = "Node name of the block device node",
        },
        {
            .name = "driver",
            .type = QEMU_OPT_STRING,
            .help = "Block driver to use for the node",
        },
        {
            .name = BDRV_OPT_CACHE_DIRECT,
            .type = QEMU_OPT_BOOL,
            .help = "Bypass software writeback cache on the host",
        },
        {
            .name = BDRV_OPT_CACHE_NO_FLUSH,
            .type = QEMU_OPT_BOOL,
            .help = "Ignore flush requests",
        },
        {
            .name = BDRV_OPT_READ_ONLY,
            .type = QEMU_OPT_BOOL,
            .help = "Node is opened in read-only mode",
        },
        {
            .name = BDRV_OPT_AUTO_READ_ONLY,
            .type = QEMU_OPT_BOOL,
            .help = "Node can become read-only if opening read-write fails",
        },
        {
            .name = "detect-zeroes",
            .type = QEMU_OPT_STRING,
            .help = "try to optimize zero writes (off, on, unmap)",
        },
        {
            .name = BDRV_OPT_DISCARD,
            .type = QEMU_OPT_STRING,
            .help = "discard operation (ignore/off, unmap/on)",
        },
        {
            .name = BDRV_OPT_FORCE_SHARE,
            .type = QEMU_OPT_BOOL,
            .help = "always accept other writers (default: off)",
        },
        { /* end of list */ }
    },
};

void bdrv_update_flags_from_options(int *flags, QemuOpts *opts)
{
    *flags &= ~(BDRV_O_CACHE_MASK | BDRV_O_RDWR | BDRV_O_AUTO_RDONLY);

    if (qemu_opt_get_bool_del(opts, BDRV_OPT_CACHE_NO_FLUSH, false)) {
        *flags |= BDRV_O_NO_FLUSH;
    }
    if (qemu_opt_get_bool_del(opts, BDRV_OPT_CACHE_DIRECT, false)) {
        *flags |= BDRV_O_NOCACHE;
    }
    if (!qemu_opt_get_bool_del(opts, BDRV_OPT_READ_ONLY, false)) {
        *flags |= BDRV_O_RDWR;
    }
    if (qemu_opt_get_bool_del(opts, BDRV_OPT_AUTO_READ_ONLY, false)) {
        *flags |= BDRV_O_AUTO_RDONLY;
    }
}

/* The inverse: record flag-given settings as options unless already set. */
static void update_options_from_flags(QDict *options, int flags)
{
    if (!qdict_haskey(options, BDRV_OPT_CACHE_DIRECT)) {
        qdict_put_bool(options, BDRV_OPT_CACHE_DIRECT,
                       flags & BDRV_O_NOCACHE);
    }
    if (!qdict_haskey(options, BDRV_OPT_CACHE_NO_FLUSH)) {
        qdict_put_bool(options, BDRV_OPT_CACHE_NO_FLUSH,
                       flags & BDRV_O_NO_FLUSH);
    }
    if (!qdict_haskey(options, BDRV_OPT_READ_ONLY)) {
        qdict_put_bool(options, BDRV_OPT_READ_ONLY, !(flags & BDRV_O_RDWR));
    }
    if (!qdict_haskey(options, BDRV_OPT_AUTO_READ_ONLY)) {
        qdict_put_bool(options, BDRV_OPT_AUTO_READ_ONLY,
                       flags & BDRV_O_AUTO_RDONLY);
    }
}

BlockdevDetectZeroesOptions bdrv_parse_detect_zeroes(QemuOpts *opts,
                                                     int open_flags,
                                                     Error **errp)
{
    Error *local_err = NULL;
    g_autofree char *value = qemu_opt_get_del(opts, "detect-zeroes");
    BlockdevDetectZeroesOptions dz =
        qapi_enum_parse(&BlockdevDetectZeroesOptions_lookup, value,
                        BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF, &local_err);

    if (local_err) {
        error_propagate(errp, local_err);
        return dz;
    }
    if (dz == BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP &&
        !(open_flags & BDRV_O_UNMAP)) {
        error_setg(errp, "setting detect-zeroes to unmap is not allowed "
                   "without setting discard operation to unmap");
    }
    return dz;
}

BdrvChildRole bdrv_backing_role(BlockDriverState *bs)
{
    if (bs->drv && bs->drv->is_filter) {
        return BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY;
    }
    return BDRV_CHILD_COW;
}

void bdrv_inherited_options(BdrvChildRole role, bool parent_is_format,
                            int *child_flags, QDict *child_options,
                            int parent_flags, QDict *parent_options)
{
    int flags = parent_flags;

    /*
     * Whether the child is probed for a format: pure data children of
     * non-format parents (quorum-like drivers) are; children of formats
     * (other than backing files) and metadata children never are.
     */
    if (!parent_is_format && (role & BDRV_CHILD_DATA) &&
        !(role & (BDRV_CHILD_METADATA | BDRV_CHILD_FILTERED))) {
        flags &= ~BDRV_O_PROTOCOL;
    }
    if ((parent_is_format && !(role & BDRV_CHILD_COW)) ||
        (role & BDRV_CHILD_METADATA)) {
        flags |= BDRV_O_PROTOCOL;
    }

    /* Caching and sharing follow the parent unless set explicitly. */
    qdict_copy_default(child_options, parent_options, BDRV_OPT_CACHE_DIRECT);
    qdict_copy_default(child_options, parent_options,
                       BDRV_OPT_CACHE_NO_FLUSH);
    qdict_copy_default(child_options, parent_options, BDRV_OPT_FORCE_SHARE);

    if (role & BDRV_CHILD_COW) {
        /* Backing files are read-only unless asked otherwise. */
        qdict_set_default_str(child_options, BDRV_OPT_READ_ONLY, "on");
        qdict_set_default_str(child_options, BDRV_OPT_AUTO_READ_ONLY, "off");
    } else {
        qdict_copy_default(child_options, parent_options, BDRV_OPT_READ_ONLY);
        qdict_copy_default(child_options, parent_options,
                           BDRV_OPT_AUTO_READ_ONLY);
    }

    /* The top node already applies the user's discard policy. */
    qdict_set_default_str(child_options, BDRV_OPT_DISCARD, "unmap");

    flags &= ~(BDRV_O_SNAPSHOT | BDRV_O_NO_BACKING | BDRV_O_COPY_ON_READ);
    if (role & BDRV_CHILD_METADATA) {
        flags &= ~BDRV_O_NO_IO;
    }
    if (role & BDRV_CHILD_COW) {
        flags &= ~BDRV_O_TEMPORARY;
    }

    *child_flags = flags;
}

/* Options of the temporary overlay that BDRV_O_SNAPSHOT puts on top. */
static void bdrv_temp_snapshot_options(int *child_flags, QDict *child_options,
                                       int parent_flags, QDict *parent_options)
{
    *child_flags = (parent_flags & ~BDRV_O_SNAPSHOT) | BDRV_O_TEMPORARY;

    /* A throw-away file needs no durability: cache=unsafe. */
    qdict_set_default_str(child_options, BDRV_OPT_CACHE_DIRECT, "off");
    qdict_set_default_str(child_options, BDRV_OPT_CACHE_NO_FLUSH, "on");

    qdict_copy_default(child_options, parent_options, BDRV_OPT_READ_ONLY);
    qdict_copy_default(child_options, parent_options, BDRV_OPT_DISCARD);

    /* aio=native would need cache.direct=on. */
    *child_flags &= ~BDRV_O_NATIVE_AIO;
}

/* ---- Filenames: json: and backing files ---- */

/* Merge a "json:{...}" filename into options (which take precedence). */
static int parse_json_protocol(QDict *options, const char **pfilename,
                               Error **errp)
{
    const char *json;
    QObject *obj;
    QDict *json_options;

    if (!*pfilename || !strstart(*pfilename, "json:", &json)) {
        return 0;
    }

    obj = qobject_from_json(json, errp);
    if (!obj) {
        error_prepend(errp, "Could not parse the JSON options: ");
        return -EINVAL;
    }
    json_options = qobject_to(QDict, obj);
    if (!json_options) {
        qobject_unref_impl(obj);
        error_setg(errp, "Invalid JSON object given");
        return -EINVAL;
    }

    qdict_flatten(json_options);
    qdict_join(options, json_options, false);
    qobject_unref(json_options);
    *pfilename = NULL;
    return 0;
}

char *bdrv_dirname(BlockDriverState *bs, Error **errp)
{
    BlockDriver *drv = bs->drv;
    BlockDriverState *primary;

    if (!drv) {
        error_setg(errp, "Node '%s' is ejected", bs->node_name);
        return NULL;
    }
    if (drv->bdrv_dirname) {
        return drv->bdrv_dirname(bs, errp);
    }

    primary = bdrv_primary_bs(bs);
    if (primary) {
        return bdrv_dirname(primary, errp);
    }

    bdrv_refresh_filename(bs);
    if (bs->exact_filename[0]) {
        return path_combine(bs->exact_filename, "");
    }

    error_setg(errp, "Cannot generate a base directory for %s nodes",
               drv->format_name);
    return NULL;
}

/* filename, resolved against the directory of relative_to if relative. */
static char *bdrv_make_absolute_filename(BlockDriverState *relative_to,
                                         const char *filename, Error **errp)
{
    g_autofree char *dir = NULL;

    if (!filename || !filename[0]) {
        return NULL;
    }
    if (path_has_protocol(filename) || path_is_absolute(filename)) {
        return g_strdup(filename);
    }

    dir = bdrv_dirname(relative_to, errp);
    if (!dir) {
        return NULL;
    }
    return g_strconcat(dir, filename, NULL);
}

char *bdrv_get_full_backing_filename(BlockDriverState *bs, Error **errp)
{
    return bdrv_make_absolute_filename(bs, bs->backing_file, errp);
}

char *bdrv_get_full_backing_filename_from_filename(const char *backed,
                                                   const char *backing,
                                                   Error **errp)
{
    if (!backing[0]) {
        return NULL;
    }
    if (path_has_protocol(backing) || path_is_absolute(backing)) {
        return g_strdup(backing);
    }
    if (!backed[0] || strstart(backed, "json:", NULL)) {
        error_setg(errp, "Cannot use relative backing file names for '%s'",
                   backed);
        return NULL;
    }
    return path_combine(backed, backing);
}

/* ---- Opening ---- */

/*
 * Settle driver and protocol-ness from the options, record flag-given
 * settings as options, and turn a protocol filename into options.
 */
static int bdrv_fill_options(QDict **options, const char *filename,
                             int *flags, Error **errp)
{
    const char *drvname = qdict_get_try_str(*options, "driver");
    bool protocol = *flags & BDRV_O_PROTOCOL;
    bool parse_filename = false;
    BlockDriver *drv = NULL;

    if (drvname) {
        drv = bdrv_find_format(drvname);
        if (!drv) {
            error_setg(errp, "Unknown driver '%s'", drvname);
            return -ENOENT;
        }
        /* An explicit driver decides whether this is a protocol node. */
        protocol = drv->bdrv_file_open;
    }

    if (protocol) {
        *flags |= BDRV_O_PROTOCOL;
    } else {
        *flags &= ~BDRV_O_PROTOCOL;
    }

    update_options_from_flags(*options, *flags);

    if (protocol && filename) {
        if (qdict_haskey(*options, "filename")) {
            error_setg(errp, "Can't specify 'file' and 'filename' options at "
                       "the same time");
            return -EINVAL;
        }
        qdict_put_str(*options, "filename", filename);
        parse_filename = true;
    }

    filename = qdict_get_try_str(*options, "filename");

    if (!drvname && protocol) {
        if (!filename) {
            error_setg(errp, "Must specify either driver or file");
            return -EINVAL;
        }
        drv = bdrv_find_protocol(filename, parse_filename, errp);
        if (!drv) {
            return -EINVAL;
        }
        qdict_put_str(*options, "driver", drv->format_name);
    }

    assert(drv || !protocol);

    if (drv && drv->bdrv_parse_filename && parse_filename) {
        Error *local_err = NULL;

        drv->bdrv_parse_filename(filename, *options, &local_err);
        if (local_err) {
            error_propagate(errp, local_err);
            return -EINVAL;
        }
        if (!drv->bdrv_needs_filename) {
            qdict_del(*options, "filename");
        }
    }

    return 0;
}

/* Run the driver's drain_begin in a coroutine and wait for it. */
typedef struct DrainBeginCo {
    BlockDriverState *bs;
    bool done;
} DrainBeginCo;

static void coroutine_fn bdrv_drain_begin_co_entry(void *opaque)
{
    DrainBeginCo *data = opaque;

    data->bs->drv->bdrv_co_drain_begin(data->bs);
    data->done = true;
    aio_wait_kick();
}

static void bdrv_driver_drain_begin(BlockDriverState *bs)
{
    DrainBeginCo data = { .bs = bs };
    Coroutine *co = qemu_coroutine_create(bdrv_drain_begin_co_entry, &data);

    bdrv_inc_in_flight(bs);
    aio_co_enter(bdrv_get_aio_context(bs), co);
    BDRV_POLL_WHILE(bs, !data.done);
    bdrv_dec_in_flight(bs);
}

/*
 * Name the node, create the driver state and let the driver open it.  On
 * a driver failure the node is left without a driver.
 */
static int bdrv_open_driver(BlockDriverState *bs, BlockDriver *drv,
                            const char *node_name, QDict *options,
                            int open_flags, Error **errp)
{
    Error *local_err = NULL;
    int ret;

    ret = bdrv_assign_node_name(bs, node_name, errp);
    if (ret < 0) {
        return ret;
    }

    bs->drv = drv;
    bs->opaque = g_malloc0(drv->instance_size);

    if (drv->bdrv_file_open) {
        assert(!drv->bdrv_needs_filename || bs->filename[0]);
        ret = drv->bdrv_file_open(bs, options, open_flags, &local_err);
    } else if (drv->bdrv_open) {
        ret = drv->bdrv_open(bs, options, open_flags, &local_err);
    }

    if (ret < 0) {
        if (local_err) {
            error_propagate(errp, local_err);
        } else if (bs->filename[0]) {
            error_setg_errno(errp, -ret, "Could not open '%s'", bs->filename);
        } else {
            error_setg_errno(errp, -ret, "Could not open image");
        }
        bs->drv = NULL;
        if (bs->file) {
            bdrv_unref_child(bs, bs->file);
        }
        g_free(bs->opaque);
        bs->opaque = NULL;
        return ret;
    }

    assert(!(bs->supported_read_flags & ~BDRV_REQ_MASK));
    assert(!(bs->supported_write_flags & ~BDRV_REQ_MASK));
    /* A buffer hint that every driver can safely pass on or ignore. */
    bs->supported_read_flags |= BDRV_REQ_REGISTERED_BUF;
    bs->supported_write_flags |= BDRV_REQ_REGISTERED_BUF;

    ret = bdrv_refresh_total_sectors(bs, bs->total_sectors);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not refresh total sector count");
        return ret;
    }

    bdrv_refresh_limits(bs, NULL, &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return -EINVAL;
    }

    assert(bdrv_opt_mem_align(bs) != 0);
    assert(bdrv_min_mem_align(bs) != 0);
    assert(is_power_of_2(bs->bl.request_alignment));

    /* Catch up with the drained sections the node is already in. */
    if (drv->bdrv_co_drain_begin) {
        for (int i = 0; i < bs->quiesce_counter; i++) {
            bdrv_driver_drain_begin(bs);
        }
    }

    return 0;
}

/*
 * Absorb the generic options, check them and open the driver.  file_bs is
 * the protocol node opened for probing (formats only).
 */
static int bdrv_open_common(BlockDriverState *bs, BlockDriverState *file_bs,
                            QDict *options, Error **errp)
{
    Error *local_err = NULL;
    QemuOpts *opts;
    BlockDriver *drv;
    const char *filename;
    const char *discard;
    int ret = -EINVAL;

    assert(!bs->file);
    assert(options && bs->options != options);

    opts = qemu_opts_create(&bdrv_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        goto out;
    }

    bdrv_update_flags_from_options(&bs->open_flags, opts);

    drv = bdrv_find_format(qemu_opt_get(opts, "driver"));
    assert(drv);

    bs->force_share = qemu_opt_get_bool(opts, BDRV_OPT_FORCE_SHARE, false);
    if (bs->force_share && (bs->open_flags & BDRV_O_RDWR)) {
        error_setg(errp, BDRV_OPT_FORCE_SHARE
                   "=on can only be used with read-only images");
        goto out;
    }

    if (file_bs) {
        bdrv_refresh_filename(file_bs);
        filename = file_bs->filename;
    } else {
        filename = qdict_get_try_str(options, "filename");
    }

    if (drv->bdrv_needs_filename && (!filename || !filename[0])) {
        error_setg(errp, "The '%s' block driver requires a file name",
                   drv->format_name);
        goto out;
    }

    assert(bs->copy_on_read == 0);
    if (bs->open_flags & BDRV_O_COPY_ON_READ) {
        if (bdrv_is_read_only(bs)) {
            error_setg(errp, "Can't use copy-on-read on read-only device");
            goto out;
        }
        bs->copy_on_read++;
    }

    discard = qemu_opt_get(opts, BDRV_OPT_DISCARD);
    if (discard && bdrv_parse_discard_flags(discard, &bs->open_flags)) {
        error_setg(errp, "Invalid discard option");
        goto out;
    }

    bs->detect_zeroes = bdrv_parse_detect_zeroes(opts, bs->open_flags,
                                                 &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        goto out;
    }

    pstrcpy(bs->filename, sizeof(bs->filename), filename ?: "");
    pstrcpy(bs->exact_filename, sizeof(bs->exact_filename), bs->filename);

    assert(!drv->bdrv_file_open || !file_bs);
    /* Flags that only steer bdrv_open itself stay away from drivers. */
    ret = bdrv_open_driver(bs, drv, qemu_opt_get(opts, "node-name"), options,
                           bs->open_flags & ~(BDRV_O_SNAPSHOT |
                                              BDRV_O_NO_BACKING |
                                              BDRV_O_PROTOCOL),
                           errp);

out:
    qemu_opts_del(opts);
    return ret;
}

static BlockDriverState *bdrv_open_inherit(const char *filename,
                                           const char *reference,
                                           QDict *options, int flags,
                                           BlockDriverState *parent,
                                           const BdrvChildClass *child_class,
                                           BdrvChildRole child_role,
                                           Error **errp);

/*
 * Open the node for parent's child bdref_key from filename or the
 * bdref_key.* options or the reference options[bdref_key] (which is
 * removed).  NULL without error if nothing describes it and allow_none.
 */
static BlockDriverState *bdrv_open_child_bs(const char *filename,
                                            QDict *options,
                                            const char *bdref_key,
                                            BlockDriverState *parent,
                                            const BdrvChildClass *child_class,
                                            BdrvChildRole child_role,
                                            bool allow_none, Error **errp)
{
    g_autofree char *prefix = g_strdup_printf("%s.", bdref_key);
    BlockDriverState *bs = NULL;
    QDict *child_options;
    const char *reference;

    qdict_extract_subqdict(options, &child_options, prefix);
    reference = qdict_get_try_str(options, bdref_key);

    if (!filename && !reference && !qdict_size(child_options)) {
        if (!allow_none) {
            error_setg(errp, "A block device must be specified for \"%s\"",
                       bdref_key);
        }
        qobject_unref(child_options);
    } else {
        bs = bdrv_open_inherit(filename, reference, child_options, 0, parent,
                               child_class, child_role, errp);
    }

    qdict_del(options, bdref_key);
    return bs;
}

BdrvChild *bdrv_open_child(const char *filename, QDict *options,
                           const char *bdref_key, BlockDriverState *parent,
                           const BdrvChildClass *child_class,
                           BdrvChildRole child_role, bool allow_none,
                           Error **errp)
{
    BlockDriverState *bs;

    bs = bdrv_open_child_bs(filename, options, bdref_key, parent, child_class,
                            child_role, allow_none, errp);
    if (!bs) {
        return NULL;
    }
    return bdrv_attach_child(parent, bs, bdref_key, child_class, child_role,
                             errp);
}

int bdrv_open_file_child(const char *filename, QDict *options,
                         const char *bdref_key, BlockDriverState *parent,
                         Error **errp)
{
    BdrvChildRole role;

    assert(!parent->drv->filtered_child_is_backing);
    role = parent->drv->is_filter ? BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY
                                  : BDRV_CHILD_IMAGE;

    if (!bdrv_open_child(filename, options, bdref_key, parent, &child_of_bds,
                         role, false, errp)) {
        return -EINVAL;
    }
    return 0;
}

int bdrv_open_backing_file(BlockDriverState *bs, QDict *parent_options,
                           const char *bdref_key, Error **errp)
{
    g_autoptr(QDict) own_parent_options = NULL;
    g_autofree char *prefix = g_strdup_printf("%s.", bdref_key);
    g_autofree char *backing_filename = NULL;
    QDict *options;
    const char *reference;
    bool implicit_backing = false;
    BlockDriverState *backing_hd;
    Error *local_err = NULL;
    int ret;

    if (bs->backing) {
        return 0;
    }

    if (!parent_options) {
        parent_options = own_parent_options = qdict_new();
    }

    bs->open_flags &= ~BDRV_O_NO_BACKING;

    qdict_extract_subqdict(parent_options, &options, prefix);
    reference = qdict_get_try_str(parent_options, bdref_key);

    if (!reference && !qdict_haskey(options, "file.filename")) {
        if (!bs->backing_file[0] && !qdict_size(options)) {
            /* Nothing to open. */
            qobject_unref(options);
            return 0;
        }
        /*
         * Without options the backing node is the one the image header
         * names; remember it so json: names can leave it out.
         */
        if (!qdict_size(options)) {
            implicit_backing = !strcmp(bs->auto_backing_file,
                                       bs->backing_file);
        }
        backing_filename = bdrv_get_full_backing_filename(bs, &local_err);
        if (local_err) {
            error_propagate(errp, local_err);
            qobject_unref(options);
            return -EINVAL;
        }
    }

    if (!bs->drv || !bs->drv->supports_backing) {
        error_setg(errp, "Driver doesn't support backing files");
        qobject_unref(options);
        return -EINVAL;
    }

    if (!reference && bs->backing_format[0] &&
        !qdict_haskey(options, "driver")) {
        qdict_put_str(options, "driver", bs->backing_format);
    }

    backing_hd = bdrv_open_inherit(backing_filename, reference, options, 0,
                                   bs, &child_of_bds, bdrv_backing_role(bs),
                                   &local_err);
    if (!backing_hd) {
        bs->open_flags |= BDRV_O_NO_BACKING;
        error_propagate_prepend(errp, local_err,
                                "Could not open backing file: ");
        return -EINVAL;
    }

    if (implicit_backing) {
        bdrv_refresh_filename(backing_hd);
        pstrcpy(bs->auto_backing_file, sizeof(bs->auto_backing_file),
                backing_hd->filename);
    }

    /* bs takes over the reference. */
    ret = bdrv_set_backing_hd(bs, backing_hd, errp);
    bdrv_unref(backing_hd);
    if (ret < 0) {
        return ret;
    }

    qdict_del(parent_options, bdref_key);
    return 0;
}

/* A throw-away temporary file name (the caller unlinks it). */
static char *create_tmp_file(Error **errp)
{
    const char *tmpdir = g_get_tmp_dir();
    char *filename;
    int fd;

    /* Overlays can grow large; /tmp is often a small tmpfs. */
    if (!g_strcmp0(tmpdir, "/tmp")) {
        tmpdir = "/var/tmp";
    }

    filename = g_strdup_printf("%s/vl.XXXXXX", tmpdir);
    fd = g_mkstemp(filename);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not open temporary file '%s'",
                         filename);
        g_free(filename);
        return NULL;
    }
    close(fd);
    return filename;
}

/*
 * BDRV_O_SNAPSHOT: put a temporary qcow2 overlay on top of bs so that
 * writes never reach it.  Returns the overlay (a new reference).
 */
static BlockDriverState *bdrv_append_temp_snapshot(BlockDriverState *bs,
                                                   int flags,
                                                   QDict *snapshot_options,
                                                   Error **errp)
{
    BlockDriver *qcow2 = bdrv_find_format("qcow2");
    g_autofree char *tmp_filename = NULL;
    BlockDriverState *overlay = NULL;
    QemuOpts *opts;
    int64_t size;
    int ret;

    size = bdrv_getlength(bs);
    if (size < 0) {
        error_setg_errno(errp, -size, "Could not get image size");
        goto out;
    }
    if (!qcow2) {
        error_setg(errp, "Unknown driver 'qcow2'");
        goto out;
    }

    tmp_filename = create_tmp_file(errp);
    if (!tmp_filename) {
        goto out;
    }

    opts = qemu_opts_create(qcow2->create_opts, NULL, 0, &error_abort);
    qemu_opt_set_number(opts, BLOCK_OPT_SIZE, size, &error_abort);
    ret = bdrv_create(qcow2, tmp_filename, opts, errp);
    qemu_opts_del(opts);
    if (ret < 0) {
        error_prepend(errp, "Could not create temporary overlay '%s': ",
                      tmp_filename);
        goto out;
    }

    qdict_put_str(snapshot_options, "file.driver", "file");
    qdict_put_str(snapshot_options, "file.filename", tmp_filename);
    qdict_put_str(snapshot_options, "driver", "qcow2");

    overlay = bdrv_open(NULL, NULL, snapshot_options, flags, errp);
    snapshot_options = NULL;
    if (overlay && bdrv_append(overlay, bs, errp) < 0) {
        bdrv_unref(overlay);
        overlay = NULL;
    }

out:
    if (tmp_filename) {
        /* The open file descriptor keeps the overlay alive until closed. */
        unlink(tmp_filename);
    }
    qobject_unref(snapshot_options);
    return overlay;
}

/* Tell every parent that bs got (load) or lost its medium. */
static void bdrv_parent_cb_change_media(BlockDriverState *bs, bool load)
{
    BdrvChild *c;

    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass->change_media) {
            c->klass->change_media(c, load);
        }
    }
}

/* Drop every child's name and name.* keys from bs's option dicts. */
static void bdrv_remove_child_options(BlockDriverState *bs)
{
    BdrvChild *child;

    QLIST_FOREACH(child, &bs->children, next) {
        g_autofree char *prefix = g_strdup_printf("%s.", child->name);

        qdict_extract_subqdict(bs->explicit_options, NULL, prefix);
        qdict_extract_subqdict(bs->options, NULL, prefix);
        qdict_del(bs->explicit_options, child->name);
        qdict_del(bs->options, child->name);
    }
}

/* The "reference" form of bdrv_open: another reference to a named node. */
static BlockDriverState *bdrv_open_reference(const char *filename,
                                             const char *reference,
                                             QDict *options, Error **errp)
{
    bool have_options = options && qdict_size(options);
    BlockDriverState *bs;

    qobject_unref(options);
    if (filename || have_options) {
        error_setg(errp, "Cannot reference an existing block device with "
                   "additional options or a new filename");
        return NULL;
    }

    bs = bdrv_lookup_bs(reference, reference, errp);
    if (bs) {
        bdrv_ref(bs);
    }
    return bs;
}

/*
 * The whole of bdrv_open: parent/child_class/child_role describe the edge
 * when a child is opened (flags are then inherited, not passed).
 * Ownership of options passes to this function.
 */
static BlockDriverState *bdrv_open_inherit(const char *filename,
                                           const char *reference,
                                           QDict *options, int flags,
                                           BlockDriverState *parent,
                                           const BdrvChildClass *child_class,
                                           BdrvChildRole child_role,
                                           Error **errp)
{
    BlockDriverState *bs;
    BlockBackend *probe_blk = NULL;
    BlockDriver *drv = NULL;
    QDict *snapshot_options = NULL;
    int snapshot_flags = 0;
    const char *drvname;
    const char *backing;
    Error *local_err = NULL;
    int ret;

    assert(!child_class || !flags);
    assert(!child_class == !parent);

    if (reference) {
        return bdrv_open_reference(filename, reference, options, errp);
    }

    bs = bdrv_new();
    if (!options) {
        options = qdict_new();
    }

    /* A json: filename counts as explicit options. */
    if (parse_json_protocol(options, &filename, &local_err) < 0) {
        goto fail;
    }

    bs->explicit_options = qdict_clone_shallow(options);

    if (child_class) {
        /*
         * A parent without a driver is being probed, which only happens
         * for format nodes.
         */
        bool parent_is_format = parent->drv ? parent->drv->is_format : true;

        bs->inherits_from = parent;
        child_class->inherit_options(child_role, parent_is_format, &flags,
                                     options, parent->open_flags,
                                     parent->options);
    }

    if (bdrv_fill_options(&options, filename, &flags, &local_err) < 0) {
        goto fail;
    }

    /*
     * read-only may be a QBool (json:, QAPI) or a QString (-o); anything
     * but "on"/true means read-write.
     */
    if (g_strcmp0(qdict_get_try_str(options, BDRV_OPT_READ_ONLY), "on") &&
        !qdict_get_try_bool(options, BDRV_OPT_READ_ONLY, false)) {
        flags |= BDRV_O_RDWR | BDRV_O_ALLOW_RDWR;
    } else {
        flags &= ~BDRV_O_RDWR;
    }

    if (flags & BDRV_O_SNAPSHOT) {
        snapshot_options = qdict_new();
        bdrv_temp_snapshot_options(&snapshot_flags, snapshot_options, flags,
                                   options);
        /* The node below the overlay is opened like a backing file. */
        qdict_del(options, BDRV_OPT_READ_ONLY);
        bdrv_inherited_options(BDRV_CHILD_COW, true, &flags, options, flags,
                               options);
    }

    bs->open_flags = flags;
    bs->options = options;
    /* From here on options is the working copy that open consumes. */
    options = qdict_clone_shallow(options);

    drvname = qdict_get_try_str(options, "driver");
    if (drvname) {
        drv = bdrv_find_format(drvname);
        assert(drv);
    }
    assert(drvname || !(flags & BDRV_O_PROTOCOL));

    /* "backing": null (or the deprecated "") suppresses the backing file. */
    backing = qdict_get_try_str(options, "backing");
    if (qobject_to(QNull, qdict_get(options, "backing")) ||
        (backing && !backing[0])) {
        if (backing) {
            warn_report("Use of \"backing\": \"\" is deprecated; "
                        "use \"backing\": null instead");
        }
        flags |= BDRV_O_NO_BACKING;
        qdict_del(bs->explicit_options, "backing");
        qdict_del(bs->options, "backing");
        qdict_del(options, "backing");
    }

    /*
     * A format node: open its protocol layer first.  It is only used here
     * to probe the format; the driver attaches it itself through the
     * "file" reference put back into options.
     */
    if (!(flags & BDRV_O_PROTOCOL)) {
        BlockDriverState *file_bs;

        file_bs = bdrv_open_child_bs(filename, options, "file", bs,
                                     &child_of_bds, BDRV_CHILD_IMAGE, true,
                                     &local_err);
        if (local_err) {
            goto fail;
        }
        if (file_bs) {
            /* Only the header is looked at, no consistency needed. */
            probe_blk = blk_new_with_bs(file_bs, 0, BLK_PERM_ALL,
                                        &local_err);
            bdrv_unref(file_bs);
            if (!probe_blk) {
                goto fail;
            }
            qdict_put_str(options, "file", bdrv_get_node_name(file_bs));
        }
    }

    bs->probed = !drv;
    if (!drv && probe_blk) {
        ret = find_image_format(probe_blk, filename, &drv, &local_err);
        if (ret < 0) {
            goto fail;
        }
        /* Both the full options and the working copy name the driver. */
        qdict_put_str(bs->options, "driver", drv->format_name);
        qdict_put_str(options, "driver", drv->format_name);
    } else if (!drv) {
        error_setg(&local_err, "Must specify either driver or file");
        goto fail;
    }

    assert(!!(flags & BDRV_O_PROTOCOL) == !!drv->bdrv_file_open);
    assert(!(flags & BDRV_O_PROTOCOL) || !probe_blk);

    ret = bdrv_open_common(bs, probe_blk ? blk_bs(probe_blk) : NULL, options,
                           &local_err);
    if (ret < 0) {
        goto fail;
    }

    blk_unref(probe_blk);
    probe_blk = NULL;

    if (!(flags & BDRV_O_NO_BACKING)) {
        ret = bdrv_open_backing_file(bs, options, "backing", &local_err);
        if (ret < 0) {
            goto fail;
        }
    }

    bdrv_remove_child_options(bs);

    /* Whatever nobody consumed is an option the driver does not know. */
    if (qdict_size(options)) {
        const char *key = qdict_entry_key(qdict_first(options));

        if (flags & BDRV_O_PROTOCOL) {
            error_setg(&local_err, "Block protocol '%s' doesn't support the "
                       "option '%s'", drv->format_name, key);
        } else {
            error_setg(&local_err, "Block format '%s' does not support the "
                       "option '%s'", drv->format_name, key);
        }
        goto fail;
    }

    bdrv_parent_cb_change_media(bs, true);
    qobject_unref(options);
    options = NULL;

    if (snapshot_flags) {
        BlockDriverState *overlay;

        overlay = bdrv_append_temp_snapshot(bs, snapshot_flags,
                                            snapshot_options, &local_err);
        snapshot_options = NULL;
        if (!overlay) {
            goto fail;
        }
        /* The overlay holds bs now; return the overlay instead. */
        bdrv_unref(bs);
        bs = overlay;
    }

    return bs;

fail:
    /* Closing bs (opened or not) also drops bs->options and friends. */
    blk_unref(probe_blk);
    qobject_unref(snapshot_options);
    qobject_unref(options);
    bdrv_unref(bs);
    error_propagate(errp, local_err);
    return NULL;
}

BlockDriverState *bdrv_open(const char *filename, const char *reference,
                            QDict *options, int flags, Error **errp)
{
    return bdrv_open_inherit(filename, reference, options, flags, NULL, NULL,
                             0, errp);
}

BlockDriverState *bdrv_new_open_driver_opts(BlockDriver *drv,
                                            const char *node_name,
                                            QDict *options, int flags,
                                            Error **errp)
{
    BlockDriverState *bs = bdrv_new();

    bs->open_flags = flags;
    bs->options = options ?: qdict_new();
    bs->explicit_options = qdict_clone_shallow(bs->options);

    update_options_from_flags(bs->options, flags);

    if (bdrv_open_driver(bs, drv, node_name, bs->options, flags, errp) < 0) {
        qobject_unref(bs->explicit_options);
        bs->explicit_options = NULL;
        qobject_unref(bs->options);
        bs->options = NULL;
        bdrv_unref(bs);
        return NULL;
    }
    return bs;
}

BlockDriverState *bdrv_new_open_driver(BlockDriver *drv,
                                       const char *node_name, int flags,
                                       Error **errp)
{
    return bdrv_new_open_driver_opts(drv, node_name, NULL, flags, errp);
}

/* ---- Size and limits ---- */

int bdrv_refresh_total_sectors(BlockDriverState *bs, int64_t hint)
{
    BlockDriver *drv = bs->drv;

    if (!drv) {
        return -ENOMEDIUM;
    }
    /* SCSI generic devices have no length to ask for. */
    if (bdrv_is_sg(bs)) {
        return 0;
    }

    if (drv->bdrv_getlength) {
        int64_t length = drv->bdrv_getlength(bs);

        if (length < 0) {
            return length;
        }
        hint = DIV_ROUND_UP(length, BDRV_SECTOR_SIZE);
    }

    bs->total_sectors = hint;
    if (bs->total_sectors * BDRV_SECTOR_SIZE > BDRV_MAX_LENGTH) {
        return -EFBIG;
    }
    return 0;
}

int64_t bdrv_nb_sectors(BlockDriverState *bs)
{
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    if (bs->drv->has_variable_length) {
        int ret = bdrv_refresh_total_sectors(bs, bs->total_sectors);

        if (ret < 0) {
            return ret;
        }
    }
    return bs->total_sectors;
}

int64_t bdrv_getlength(BlockDriverState *bs)
{
    int64_t sectors = bdrv_nb_sectors(bs);

    if (sectors < 0) {
        return sectors;
    }
    if (sectors > INT64_MAX / BDRV_SECTOR_SIZE) {
        return -EFBIG;
    }
    return sectors * BDRV_SECTOR_SIZE;
}

int64_t coroutine_fn bdrv_co_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(bs);
}

typedef struct RefreshLimitsState {
    BlockDriverState *bs;
    BlockLimits old_bl;
} RefreshLimitsState;

static void bdrv_refresh_limits_abort(void *opaque)
{
    RefreshLimitsState *s = opaque;

    s->bs->bl = s->old_bl;
}

static TransactionActionDrv bdrv_refresh_limits_drv = {
    .abort = bdrv_refresh_limits_abort,
    .clean = g_free,
};

/* Children's limits a parent inherits before its driver has its say. */
static void bdrv_merge_limits(BlockLimits *dst, const BlockLimits *src)
{
    dst->pdiscard_alignment = MAX(dst->pdiscard_alignment,
                                  src->pdiscard_alignment);
    dst->opt_transfer = MAX(dst->opt_transfer, src->opt_transfer);
    dst->max_transfer = MIN_NON_ZERO(dst->max_transfer, src->max_transfer);
    dst->max_hw_transfer = MIN_NON_ZERO(dst->max_hw_transfer,
                                        src->max_hw_transfer);
    dst->opt_mem_alignment = MAX(dst->opt_mem_alignment,
                                 src->opt_mem_alignment);
    dst->min_mem_alignment = MAX(dst->min_mem_alignment,
                                 src->min_mem_alignment);
    dst->max_iov = MIN_NON_ZERO(dst->max_iov, src->max_iov);
    dst->max_hw_iov = MIN_NON_ZERO(dst->max_hw_iov, src->max_hw_iov);
}

void bdrv_refresh_limits(BlockDriverState *bs, Transaction *tran,
                         Error **errp)
{
    BlockDriver *drv = bs->drv;
    bool have_limits = false;
    Error *local_err = NULL;
    BdrvChild *c;

    if (tran) {
        RefreshLimitsState *s = g_new(RefreshLimitsState, 1);

        *s = (RefreshLimitsState) { .bs = bs, .old_bl = bs->bl };
        tran_add(tran, &bdrv_refresh_limits_drv, s);
    }

    memset(&bs->bl, 0, sizeof(bs->bl));
    if (!drv) {
        return;
    }

    /* Byte-granular unless the driver only has sector callbacks. */
    bs->bl.request_alignment = (drv->bdrv_co_preadv ||
                                drv->bdrv_aio_preadv ||
                                drv->bdrv_co_preadv_part) ? 1 : 512;

    QLIST_FOREACH(c, &bs->children, next) {
        if (c->role & (BDRV_CHILD_DATA | BDRV_CHILD_FILTERED |
                       BDRV_CHILD_COW)) {
            bdrv_merge_limits(&bs->bl, &c->bs->bl);
            have_limits = true;
        }
    }
    if (!have_limits) {
        bs->bl.min_mem_alignment = 512;
        bs->bl.opt_mem_alignment = qemu_real_host_page_size();
        /* Most protocols end in readv()/writev(). */
        bs->bl.max_iov = IOV_MAX;
    }

    if (drv->bdrv_refresh_limits) {
        drv->bdrv_refresh_limits(bs, &local_err);
        if (local_err) {
            error_propagate(errp, local_err);
            return;
        }
    }

    if (bs->bl.request_alignment > BDRV_MAX_ALIGNMENT) {
        error_setg(errp, "Driver requires too large request alignment");
    }
}

/* ---- Memory alignment ---- */

size_t bdrv_min_mem_align(BlockDriverState *bs)
{
    if (!bs || !bs->drv) {
        /* The page size or a 4k disk sector is always safe. */
        return MAX(4096, qemu_real_host_page_size());
    }
    return bs->bl.min_mem_alignment;
}

size_t bdrv_opt_mem_align(BlockDriverState *bs)
{
    if (!bs || !bs->drv) {
        return MAX(4096, qemu_real_host_page_size());
    }
    return bs->bl.opt_mem_alignment;
}

void *qemu_blockalign(BlockDriverState *bs, size_t size)
{
    return qemu_memalign(bdrv_opt_mem_align(bs), size);
}

void *qemu_blockalign0(BlockDriverState *bs, size_t size)
{
    return memset(qemu_blockalign(bs, size), 0, size);
}

void *qemu_try_blockalign(BlockDriverState *bs, size_t size)
{
    size_t align = bdrv_opt_mem_align(bs);

    /* A zero-sized request must still give a non-NULL pointer. */
    assert(align > 0);
    return qemu_try_memalign(align, size ?: align);
}

void *qemu_try_blockalign0(BlockDriverState *bs, size_t size)
{
    void *mem = qemu_try_blockalign(bs, size);

    if (mem) {
        memset(mem, 0, size);
    }
    return mem;
}

/* ---- State queries ---- */

bool bdrv_is_read_only(BlockDriverState *bs)
{
    return !(bs->open_flags & BDRV_O_RDWR);
}

bool bdrv_is_writable(BlockDriverState *bs)
{
    return (bs->open_flags & (BDRV_O_RDWR | BDRV_O_INACTIVE)) == BDRV_O_RDWR;
}

int bdrv_can_set_read_only(BlockDriverState *bs, bool read_only,
                           bool ignore_allow_rdw, Error **errp)
{
    if (read_only && bs->copy_on_read) {
        error_setg(errp, "Can't set node '%s' to r/o with copy-on-read "
                   "enabled", bdrv_get_device_or_node_name(bs));
        return -EINVAL;
    }
    if (!read_only && !(bs->open_flags & BDRV_O_ALLOW_RDWR) &&
        !ignore_allow_rdw) {
        error_setg(errp, "Node '%s' is read only",
                   bdrv_get_device_or_node_name(bs));
        return -EPERM;
    }
    return 0;
}

int bdrv_apply_auto_read_only(BlockDriverState *bs, const char *errmsg,
                              Error **errp)
{
    if (!(bs->open_flags & BDRV_O_RDWR)) {
        return 0;
    }
    if ((bs->open_flags & BDRV_O_AUTO_RDONLY) &&
        bdrv_can_set_read_only(bs, true, false, NULL) == 0) {
        bs->open_flags &= ~BDRV_O_RDWR;
        return 0;
    }

    error_setg(errp, "%s", errmsg ?: "Image is read-only");
    return -EACCES;
}

bool bdrv_is_inserted(BlockDriverState *bs)
{
    BdrvChild *child;

    if (!bs->drv) {
        return false;
    }
    QLIST_FOREACH(child, &bs->children, next) {
        if (!bdrv_is_inserted(child->bs)) {
            return false;
        }
    }
    return true;
}

bool bdrv_is_sg(BlockDriverState *bs)
{
    return bs->sg;
}

bool bdrv_is_encrypted(BlockDriverState *bs)
{
    return bs->encrypted;
}

bool bdrv_supports_compressed_writes(BlockDriverState *bs)
{
    BlockDriverState *filtered;

    if (!bs->drv || !(bs->drv->bdrv_co_pwritev_compressed ||
                      bs->drv->bdrv_co_pwritev_compressed_part)) {
        return false;
    }

    /* A filter can only pass compressed writes on. */
    filtered = bdrv_filter_bs(bs);
    return filtered ? bdrv_supports_compressed_writes(filtered) : true;
}

int bdrv_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BlockDriver *drv = bs->drv;
    int ret;

    if (!drv) {
        return -ENOMEDIUM;
    }
    if (!drv->bdrv_get_info) {
        BlockDriverState *filtered = bdrv_filter_bs(bs);

        return filtered ? bdrv_get_info(filtered, bdi) : -ENOTSUP;
    }

    memset(bdi, 0, sizeof(*bdi));
    ret = drv->bdrv_get_info(bs, bdi);
    if (ret < 0) {
        return ret;
    }
    if (bdi->cluster_size > BDRV_MAX_ALIGNMENT) {
        return -EINVAL;
    }
    return 0;
}

ImageInfoSpecific *bdrv_get_specific_info(BlockDriverState *bs,
                                          Error **errp)
{
    if (bs->drv && bs->drv->bdrv_get_specific_info) {
        return bs->drv->bdrv_get_specific_info(bs, errp);
    }
    return NULL;
}

int bdrv_snapshot_list(BlockDriverState *bs, QEMUSnapshotInfo **psn_info)
{
    BdrvChild *child;

    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    if (bs->drv->bdrv_snapshot_list) {
        return bs->drv->bdrv_snapshot_list(bs, psn_info);
    }
    /*
     * Like QEMU, look through to the file only when it is the one child
     * holding data: snapshotting it alone must capture the whole node.
     */
    if (!bs->file) {
        return -ENOTSUP;
    }
    QLIST_FOREACH(child, &bs->children, next) {
        if (child != bs->file && (child->role & (BDRV_CHILD_DATA |
                                                 BDRV_CHILD_METADATA |
                                                 BDRV_CHILD_FILTERED))) {
            return -ENOTSUP;
        }
    }
    return bdrv_snapshot_list(bs->file->bs, psn_info);
}

int bdrv_has_zero_init_1(BlockDriverState *bs)
{
    return 1;
}

int bdrv_has_zero_init(BlockDriverState *bs)
{
    BlockDriverState *filtered;

    if (!bs->drv) {
        return 0;
    }
    /* A new overlay shows its backing file, not zeroes. */
    if (bdrv_cow_child(bs)) {
        return 0;
    }
    if (bs->drv->bdrv_has_zero_init) {
        return bs->drv->bdrv_has_zero_init(bs);
    }

    filtered = bdrv_filter_bs(bs);
    return filtered ? bdrv_has_zero_init(filtered) : 0;
}

int64_t bdrv_get_allocated_file_size(BlockDriverState *bs)
{
    BlockDriver *drv = bs->drv;
    int64_t sum = 0;
    BdrvChild *child;

    if (!drv) {
        return -ENOMEDIUM;
    }
    if (drv->bdrv_get_allocated_file_size) {
        return drv->bdrv_get_allocated_file_size(bs);
    }
    /* Protocols keep their data elsewhere than in children. */
    if (drv->bdrv_file_open) {
        return -ENOTSUP;
    }
    if (drv->is_filter) {
        return bdrv_get_allocated_file_size(bdrv_filter_bs(bs));
    }

    /* Formats: whatever their data and metadata children use. */
    QLIST_FOREACH(child, &bs->children, next) {
        if (child->role & (BDRV_CHILD_DATA | BDRV_CHILD_METADATA |
                           BDRV_CHILD_FILTERED)) {
            int64_t size = bdrv_get_allocated_file_size(child->bs);

            if (size < 0) {
                return size;
            }
            sum += size;
        }
    }
    return sum;
}

int bdrv_change_backing_file(BlockDriverState *bs, const char *backing_file,
                             const char *backing_fmt, bool require)
{
    BlockDriver *drv = bs->drv;
    int ret;

    if (!drv) {
        return -ENOMEDIUM;
    }
    /* A format without a file makes no sense. */
    if (backing_fmt && !backing_file) {
        return -EINVAL;
    }
    if (require && backing_file && !backing_fmt) {
        return -EINVAL;
    }
    if (!drv->bdrv_change_backing_file) {
        return -ENOTSUP;
    }

    ret = drv->bdrv_change_backing_file(bs, backing_file, backing_fmt);
    if (ret == 0) {
        pstrcpy(bs->backing_file, sizeof(bs->backing_file),
                backing_file ?: "");
        pstrcpy(bs->backing_format, sizeof(bs->backing_format),
                backing_fmt ?: "");
        pstrcpy(bs->auto_backing_file, sizeof(bs->auto_backing_file),
                backing_file ?: "");
    }
    return ret;
}

/* ---- Filename regeneration ---- */

/*
 * Was the backing file chosen by the user rather than by the image
 * header?  Then opening the image alone would not recreate this graph.
 */
static bool bdrv_backing_overridden(BlockDriverState *bs)
{
    if (bs->backing) {
        return strcmp(bs->auto_backing_file, bs->backing->bs->filename);
    }
    /* A header backing file without a backing node was suppressed. */
    return bs->auto_backing_file[0] != '\0';
}

/* Copy key (or, for "prefix.", every key it starts) from bs->options. */
static bool copy_strong_option(QDict *d, BlockDriverState *bs,
                               const char *key)
{
    bool copied = false;

    if (!g_str_has_suffix(key, ".")) {
        QObject *value = qdict_get(bs->options, key);

        if (value) {
            qobject_ref_impl(value);
            qdict_put_obj(d, key, value);
            copied = true;
        }
        return copied;
    }

    for (const QDictEntry *e = qdict_first(bs->options); e;
         e = qdict_next(bs->options, e)) {
        if (strstart(qdict_entry_key(e), key, NULL)) {
            qobject_ref_impl(qdict_entry_value(e));
            qdict_put_obj(d, qdict_entry_key(e), qdict_entry_value(e));
            copied = true;
        }
    }
    return copied;
}

/*
 * Put the options that shape bs's data into d: "driver", "filename" and
 * the driver's strong runtime options.  Returns whether any of the latter
 * was set (a plain filename could then not recreate the node).
 */
static bool append_strong_runtime_options(QDict *d, BlockDriverState *bs)
{
    const char *const *strong = bs->drv->strong_runtime_opts;
    bool found_any = false;

    copy_strong_option(d, bs, "driver");
    copy_strong_option(d, bs, "filename");
    for (; strong && *strong; strong++) {
        assert((*strong)[0]);
        found_any |= copy_strong_option(d, bs, *strong);
    }

    /* Nodes from bdrv_new_open_driver() may lack "driver". */
    if (!qdict_haskey(d, "driver")) {
        qdict_put_str(d, "driver", bs->drv->format_name);
    }
    return found_any;
}

void bdrv_refresh_filename(BlockDriverState *bs)
{
    BlockDriver *drv = bs->drv;
    BlockDriverState *primary;
    bool backing_overridden;
    bool need_json;
    BdrvChild *child;
    QDict *opts;

    if (!drv) {
        return;
    }

    /* Our name may be built from our children's. */
    QLIST_FOREACH(child, &bs->children, next) {
        bdrv_refresh_filename(child->bs);
    }

    if (bs->implicit) {
        /* An implicit node is invisible: it looks like its only child. */
        child = QLIST_FIRST(&bs->children);
        assert(!QLIST_NEXT(child, next));

        pstrcpy(bs->exact_filename, sizeof(bs->exact_filename),
                child->bs->exact_filename);
        pstrcpy(bs->filename, sizeof(bs->filename), child->bs->filename);
        qobject_unref(bs->full_open_options);
        bs->full_open_options = qobject_ref(child->bs->full_open_options);
        return;
    }

    /* Without I/O (qemu-img info etc.) the backing file changes nothing. */
    backing_overridden = !(bs->open_flags & BDRV_O_NO_IO) &&
                         bdrv_backing_overridden(bs);

    opts = qdict_new();
    need_json = append_strong_runtime_options(opts, bs) || backing_overridden;

    if (drv->bdrv_gather_child_options) {
        drv->bdrv_gather_child_options(bs, opts, backing_overridden);
    } else {
        QLIST_FOREACH(child, &bs->children, next) {
            if (child == bs->backing && !backing_overridden) {
                continue;
            }
            qdict_put_obj(opts, child->name,
                          QOBJECT(qobject_ref(child->bs->full_open_options)));
        }
        if (backing_overridden && !bs->backing) {
            qdict_put_null(opts, "backing");
        }
    }

    qobject_unref(bs->full_open_options);
    bs->full_open_options = opts;

    primary = bdrv_primary_bs(bs);
    if (drv->bdrv_refresh_filename) {
        bs->exact_filename[0] = '\0';
        drv->bdrv_refresh_filename(bs);
    } else if (primary) {
        /*
         * A format over a protocol node is recreated by opening the
         * protocol's filename, unless options changed the picture.
         * Filters cannot be probed, so they never qualify.
         */
        bs->exact_filename[0] = '\0';
        if (primary->exact_filename[0] && primary->drv->bdrv_file_open &&
            !drv->is_filter && !need_json) {
            pstrcpy(bs->exact_filename, sizeof(bs->exact_filename),
                    primary->exact_filename);
        }
    }

    if (bs->exact_filename[0]) {
        pstrcpy(bs->filename, sizeof(bs->filename), bs->exact_filename);
    } else {
        g_autoptr(GString) json = qobject_to_json(QOBJECT(opts));

        if (snprintf(bs->filename, sizeof(bs->filename), "json:%s",
                     json->str) >= sizeof(bs->filename)) {
            /* Show that the name was cut. */
            strcpy(bs->filename + sizeof(bs->filename) - 4, "...");
        }
    }
}

/* ---- Graph navigation ---- */

BlockDriverState *child_bs(BdrvChild *child)
{
    return child ? child->bs : NULL;
}

BlockDriverState *backing_bs(BlockDriverState *bs)
{
    return child_bs(bs->backing);
}

BdrvChild *bdrv_cow_child(BlockDriverState *bs)
{
    if (!bs || !bs->drv || bs->drv->is_filter || !bs->backing) {
        return NULL;
    }
    assert(bs->backing->role & BDRV_CHILD_COW);
    return bs->backing;
}

BdrvChild *bdrv_filter_child(BlockDriverState *bs)
{
    BdrvChild *c;

    if (!bs || !bs->drv || !bs->drv->is_filter) {
        return NULL;
    }
    /* A filter uses exactly one of the two slots. */
    assert(!(bs->backing && bs->file));
    c = bs->backing ?: bs->file;
    assert(!c || (c->role & BDRV_CHILD_FILTERED));
    return c;
}

BdrvChild *bdrv_filter_or_cow_child(BlockDriverState *bs)
{
    BdrvChild *cow = bdrv_cow_child(bs);
    BdrvChild *filtered = bdrv_filter_child(bs);

    assert(!(cow && filtered));
    return cow ?: filtered;
}

BdrvChild *bdrv_primary_child(BlockDriverState *bs)
{
    BdrvChild *c, *found = NULL;

    QLIST_FOREACH(c, &bs->children, next) {
        if (c->role & BDRV_CHILD_PRIMARY) {
            assert(!found);
            found = c;
        }
    }
    return found;
}

BlockDriverState *bdrv_cow_bs(BlockDriverState *bs)
{
    return child_bs(bdrv_cow_child(bs));
}

BlockDriverState *bdrv_filter_bs(BlockDriverState *bs)
{
    return child_bs(bdrv_filter_child(bs));
}

BlockDriverState *bdrv_filter_or_cow_bs(BlockDriverState *bs)
{
    return child_bs(bdrv_filter_or_cow_child(bs));
}

BlockDriverState *bdrv_primary_bs(BlockDriverState *bs)
{
    return child_bs(bdrv_primary_child(bs));
}

/* Descend through filters (only implicit ones if implicit_only). */
static BlockDriverState *bdrv_do_skip_filters(BlockDriverState *bs,
                                              bool implicit_only)
{
    while (bs && (!implicit_only || bs->implicit)) {
        BdrvChild *c = bdrv_filter_child(bs);

        if (!c) {
            /* A filter in a working graph always has its child. */
            assert(!bs->drv || !bs->drv->is_filter);
            break;
        }
        bs = c->bs;
    }
    return bs;
}

BlockDriverState *bdrv_skip_filters(BlockDriverState *bs)
{
    return bdrv_do_skip_filters(bs, false);
}

BlockDriverState *bdrv_skip_implicit_filters(BlockDriverState *bs)
{
    return bdrv_do_skip_filters(bs, true);
}

BlockDriverState *bdrv_backing_chain_next(BlockDriverState *bs)
{
    return bdrv_skip_filters(bdrv_cow_bs(bdrv_skip_filters(bs)));
}

/* ---- blkdebug breakpoints (on the first node down that has them) ---- */

/* Follow primary children to the first node whose driver has hook set. */
#define DEBUG_NODE(bs, hook) ({                                     \
    BlockDriverState *n_ = (bs);                                    \
    while (n_ && n_->drv && !n_->drv->hook) {                       \
        n_ = bdrv_primary_bs(n_);                                   \
    }                                                               \
    (n_ && n_->drv && n_->drv->hook) ? n_ : NULL;                   \
})

int bdrv_debug_breakpoint(BlockDriverState *bs, const char *event,
                          const char *tag)
{
    bs = DEBUG_NODE(bs, bdrv_debug_breakpoint);
    return bs ? bs->drv->bdrv_debug_breakpoint(bs, event, tag) : -ENOTSUP;
}

int bdrv_debug_remove_breakpoint(BlockDriverState *bs, const char *tag)
{
    bs = DEBUG_NODE(bs, bdrv_debug_remove_breakpoint);
    return bs ? bs->drv->bdrv_debug_remove_breakpoint(bs, tag) : -ENOTSUP;
}

int bdrv_debug_resume(BlockDriverState *bs, const char *tag)
{
    bs = DEBUG_NODE(bs, bdrv_debug_resume);
    return bs ? bs->drv->bdrv_debug_resume(bs, tag) : -ENOTSUP;
}

bool bdrv_debug_is_suspended(BlockDriverState *bs, const char *tag)
{
    bs = DEBUG_NODE(bs, bdrv_debug_is_suspended);
    return bs ? bs->drv->bdrv_debug_is_suspended(bs, tag) : false;
}
