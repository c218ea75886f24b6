/*
 * qcow2: open and close, the header and its extensions, runtime options,
 * the I/O entry points, image information, the VM state area and the
 * driver table.  Mapping lives in qcow2-cluster.c, allocation and checks
 * in qcow2-refcount.c, creation and resizing in qcow2-create.c.
 *
 * Behaviour, error texts and the bytes written follow QEMU 7.2.  Not
 * supported (refused with a message, see docs/qcow2.rst): extended L2
 * entries, external data files, encryption, persistent bitmaps (their
 * autoclear bit is cleared on a read-write open, as the specification
 * asks of programs that do not know them).
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/host-utils.h"
#include "qemu/option.h"
#include "qemu/timer.h"
#include "block/block_int.h"
#include "block/aio_task.h"
#include "block/qcow2.h"

/* ---- Runtime options ---- */

#define QCOW2_OPT_LAZY_REFCOUNTS "lazy-refcounts"
#define QCOW2_OPT_DISCARD_REQUEST "pass-discard-request"
#define QCOW2_OPT_DISCARD_SNAPSHOT "pass-discard-snapshot"
#define QCOW2_OPT_DISCARD_OTHER "pass-discard-other"
#define QCOW2_OPT_OVERLAP "overlap-check"
#define QCOW2_OPT_OVERLAP_TEMPLATE "overlap-check.template"
#define QCOW2_OPT_OVERLAP_MAIN_HEADER "overlap-check.main-header"
#define QCOW2_OPT_OVERLAP_ACTIVE_L1 "overlap-check.active-l1"
#define QCOW2_OPT_OVERLAP_ACTIVE_L2 "overlap-check.active-l2"
#define QCOW2_OPT_OVERLAP_REFCOUNT_TABLE "overlap-check.refcount-table"
#define QCOW2_OPT_OVERLAP_REFCOUNT_BLOCK "overlap-check.refcount-block"
#define QCOW2_OPT_OVERLAP_SNAPSHOT_TABLE "overlap-check.snapshot-table"
#define QCOW2_OPT_OVERLAP_INACTIVE_L1 "overlap-check.inactive-l1"
#define QCOW2_OPT_OVERLAP_INACTIVE_L2 "overlap-check.inactive-l2"
#define QCOW2_OPT_OVERLAP_BITMAP_DIRECTORY "overlap-check.bitmap-directory"
#define QCOW2_OPT_CACHE_SIZE "cache-size"
#define QCOW2_OPT_L2_CACHE_SIZE "l2-cache-size"
#define QCOW2_OPT_L2_CACHE_ENTRY_SIZE "l2-cache-entry-size"
#define QCOW2_OPT_REFCOUNT_CACHE_SIZE "refcount-cache-size"
#define QCOW2_OPT_CACHE_CLEAN_INTERVAL "cache-clean-interval"

/* Feature bits this driver handles (others refuse the open). */
#define QCOW2_INCOMPAT_KNOWN (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | \
                              QCOW2_INCOMPAT_DATA_FILE | \
                              QCOW2_INCOMPAT_COMPRESSION | \
                              QCOW2_INCOMPAT_EXTL2)
#define QCOW2_AUTOCLEAR_KNOWN (QCOW2_AUTOCLEAR_BITMAPS | \
                               QCOW2_AUTOCLEAR_DATA_FILE_RAW)

/* Indexed by the bit number of the QCow2MetadataOverlap flag. */
static const char *const overlap_bool_option_names[] = {
    QCOW2_OPT_OVERLAP_MAIN_HEADER,
    QCOW2_OPT_OVERLAP_ACTIVE_L1,
    QCOW2_OPT_OVERLAP_ACTIVE_L2,
    QCOW2_OPT_OVERLAP_REFCOUNT_TABLE,
    QCOW2_OPT_OVERLAP_REFCOUNT_BLOCK,
    QCOW2_OPT_OVERLAP_SNAPSHOT_TABLE,
    QCOW2_OPT_OVERLAP_INACTIVE_L1,
    QCOW2_OPT_OVERLAP_INACTIVE_L2,
    QCOW2_OPT_OVERLAP_BITMAP_DIRECTORY,
};

static QemuOptsList qcow2_runtime_opts = {
    .name = "qcow2",
    .head = QTAILQ_HEAD_INITIALIZER(qcow2_runtime_opts.head),
    .desc = {
        {
            .name = QCOW2_OPT_LAZY_REFCOUNTS,
            .type = QEMU_OPT_BOOL,
            .help = "Postpone refcount updates",
        },
        {
            .name = QCOW2_OPT_DISCARD_REQUEST,
            .type = QEMU_OPT_BOOL,
            .help = "Pass guest discard requests to the layer below",
        },
        {
            .name = QCOW2_OPT_DISCARD_SNAPSHOT,
            .type = QEMU_OPT_BOOL,
            .help = "Generate discard requests when snapshot related space "
                    "is freed",
        },
        {
            .name = QCOW2_OPT_DISCARD_OTHER,
            .type = QEMU_OPT_BOOL,
            .help = "Generate discard requests when other clusters are freed",
        },
        {
            .name = QCOW2_OPT_OVERLAP,
            .type = QEMU_OPT_STRING,
            .help = "Selects which overlap checks to perform from a range of "
                    "templates (none, constant, cached, all)",
        },
        {
            .name = QCOW2_OPT_OVERLAP_TEMPLATE,
            .type = QEMU_OPT_STRING,
            .help = "Selects which overlap checks to perform from a range of "
                    "templates (none, constant, cached, all)",
        },
        {
            .name = QCOW2_OPT_OVERLAP_MAIN_HEADER,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into the main qcow2 header",
        },
        {
            .name = QCOW2_OPT_OVERLAP_ACTIVE_L1,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into the active L1 table",
        },
        {
            .name = QCOW2_OPT_OVERLAP_ACTIVE_L2,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into an active L2 table",
        },
        {
            .name = QCOW2_OPT_OVERLAP_REFCOUNT_TABLE,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into the refcount table",
        },
        {
            .name = QCOW2_OPT_OVERLAP_REFCOUNT_BLOCK,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into a refcount block",
        },
        {
            .name = QCOW2_OPT_OVERLAP_SNAPSHOT_TABLE,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into the snapshot table",
        },
        {
            .name = QCOW2_OPT_OVERLAP_INACTIVE_L1,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into an inactive L1 table",
        },
        {
            .name = QCOW2_OPT_OVERLAP_INACTIVE_L2,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into an inactive L2 table",
        },
        {
            .name = QCOW2_OPT_OVERLAP_BITMAP_DIRECTORY,
            .type = QEMU_OPT_BOOL,
            .help = "Check for unintended writes into the bitmap directory",
        },
        {
            .name = QCOW2_OPT_CACHE_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Maximum combined metadata (L2 tables and refcount blocks) "
                    "cache size",
        },
        {
            .name = QCOW2_OPT_L2_CACHE_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Maximum L2 table cache size",
        },
        {
            .name = QCOW2_OPT_L2_CACHE_ENTRY_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Size of each entry in the L2 cache",
        },
        {
            .name = QCOW2_OPT_REFCOUNT_CACHE_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Maximum refcount block cache size",
        },
        {
            .name = QCOW2_OPT_CACHE_CLEAN_INTERVAL,
            .type = QEMU_OPT_NUMBER,
            .help = "Clean unused cache entries after this time (in seconds)",
        },
        { /* end of list */ }
    },
};

/* Options that reopen may change: all of ours. */
static const char *const qcow2_mutable_opts[] = {
    QCOW2_OPT_LAZY_REFCOUNTS,
    QCOW2_OPT_DISCARD_REQUEST,
    QCOW2_OPT_DISCARD_SNAPSHOT,
    QCOW2_OPT_DISCARD_OTHER,
    QCOW2_OPT_OVERLAP,
    QCOW2_OPT_OVERLAP_TEMPLATE,
    QCOW2_OPT_OVERLAP_MAIN_HEADER,
    QCOW2_OPT_OVERLAP_ACTIVE_L1,
    QCOW2_OPT_OVERLAP_ACTIVE_L2,
    QCOW2_OPT_OVERLAP_REFCOUNT_TABLE,
    QCOW2_OPT_OVERLAP_REFCOUNT_BLOCK,
    QCOW2_OPT_OVERLAP_SNAPSHOT_TABLE,
    QCOW2_OPT_OVERLAP_INACTIVE_L1,
    QCOW2_OPT_OVERLAP_INACTIVE_L2,
    QCOW2_OPT_OVERLAP_BITMAP_DIRECTORY,
    QCOW2_OPT_CACHE_SIZE,
    QCOW2_OPT_L2_CACHE_SIZE,
    QCOW2_OPT_L2_CACHE_ENTRY_SIZE,
    QCOW2_OPT_REFCOUNT_CACHE_SIZE,
    QCOW2_OPT_CACHE_CLEAN_INTERVAL,
    NULL
};

/* None of our runtime options changes what the guest sees. */
static const char *const qcow2_strong_runtime_opts[] = {
    NULL
};

/* ---- Probe ---- */

static int qcow2_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    if (buf_size >= (int)sizeof(QCowHeader) &&
        ldl_be_p(buf) == QCOW_MAGIC &&
        ldl_be_p(buf + offsetof(QCowHeader, version)) >= 2) {
        return 100;
    }
    return 0;
}

/* ---- The header: load, store ---- */

/*
 * Convert the fields of a header read from disk to host order.  A v2
 * header ends before the feature bitmaps: give it v3's implicit values.
 */
static void qcow2_header_load(QCowHeader *h)
{
    h->magic = be32_to_cpu(h->magic);
    h->version = be32_to_cpu(h->version);
    h->backing_file_offset = be64_to_cpu(h->backing_file_offset);
    h->backing_file_size = be32_to_cpu(h->backing_file_size);
    h->cluster_bits = be32_to_cpu(h->cluster_bits);
    h->size = be64_to_cpu(h->size);
    h->crypt_method = be32_to_cpu(h->crypt_method);
    h->l1_size = be32_to_cpu(h->l1_size);
    h->l1_table_offset = be64_to_cpu(h->l1_table_offset);
    h->refcount_table_offset = be64_to_cpu(h->refcount_table_offset);
    h->refcount_table_clusters = be32_to_cpu(h->refcount_table_clusters);
    h->nb_snapshots = be32_to_cpu(h->nb_snapshots);
    h->snapshots_offset = be64_to_cpu(h->snapshots_offset);
    if (h->version == 2) {
        h->incompatible_features = 0;
        h->compatible_features = 0;
        h->autoclear_features = 0;
        h->refcount_order = 4;
        h->header_length = offsetof(QCowHeader, incompatible_features);
    } else {
        h->incompatible_features = be64_to_cpu(h->incompatible_features);
        h->compatible_features = be64_to_cpu(h->compatible_features);
        h->autoclear_features = be64_to_cpu(h->autoclear_features);
        h->refcount_order = be32_to_cpu(h->refcount_order);
        h->header_length = be32_to_cpu(h->header_length);
    }
}

/* Append one header extension at *p; -ENOSPC if it does not fit. */
static int qcow2_header_ext_add(uint8_t **p, size_t *left, uint32_t magic,
                                const void *data, size_t len)
{
    size_t ext_len = sizeof(QCowExtension) + ROUND_UP(len, 8);

    if (*left < ext_len) {
        return -ENOSPC;
    }
    stl_be_p(*p, magic);
    stl_be_p(*p + 4, len);
    if (len) {
        memcpy(*p + sizeof(QCowExtension), data, len);
    }
    *p += ext_len;
    *left -= ext_len;
    return 0;
}

/* The feature name table every v3 image (clusters > 4 KiB) carries. */
static const Qcow2Feature qcow2_feature_table[] = {
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_DIRTY_BITNR,
      "dirty bit" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_CORRUPT_BITNR,
      "corrupt bit" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_DATA_FILE_BITNR,
      "external data file" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_COMPRESSION_BITNR,
      "compression type" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_EXTL2_BITNR,
      "extended L2 entries" },
    { QCOW2_FEAT_TYPE_COMPATIBLE, QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR,
      "lazy refcounts" },
    { QCOW2_FEAT_TYPE_AUTOCLEAR, QCOW2_AUTOCLEAR_BITMAPS_BITNR,
      "bitmaps" },
    { QCOW2_FEAT_TYPE_AUTOCLEAR, QCOW2_AUTOCLEAR_DATA_FILE_RAW_BITNR,
      "raw external data" },
};

static int qcow2_validate_compression_type(BDRVQcow2State *s, Error **errp)
{
    bool flag = s->incompatible_features & QCOW2_INCOMPAT_COMPRESSION;

    switch (s->compression_type) {
    case QCOW2_COMPRESSION_TYPE_ZLIB:
#ifdef CONFIG_ZSTD
    case QCOW2_COMPRESSION_TYPE_ZSTD:
#endif
        break;
    default:
        error_setg(errp, "qcow2: unknown compression type: %u",
                   s->compression_type);
        return -ENOTSUP;
    }

    /* Only a non-default type sets the incompatible bit. */
    if (s->compression_type == QCOW2_COMPRESSION_TYPE_ZLIB && flag) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit "
                   "must not be set");
        return -EINVAL;
    }
    if (s->compression_type != QCOW2_COMPRESSION_TYPE_ZLIB && !flag) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit "
                   "must be set");
        return -EINVAL;
    }
    return 0;
}

/*
 * Write cluster 0: the header, the extensions (backing format, feature
 * table, unknown ones, end marker) and the backing file name, in QEMU's
 * order and layout.
 */
int qcow2_update_header(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *buf = g_malloc0(s->cluster_size);
    QCowHeader *h = (QCowHeader *)buf;
    size_t left = s->cluster_size;
    size_t fixed_len;
    uint8_t *p;
    Qcow2UnknownHeaderExtension *uext;
    int ret;

    ret = qcow2_validate_compression_type(s, NULL);
    if (ret < 0) {
        return ret;
    }

    h->magic = cpu_to_be32(QCOW_MAGIC);
    h->version = cpu_to_be32(s->qcow_version);
    h->cluster_bits = cpu_to_be32(s->cluster_bits);
    h->size = cpu_to_be64(bs->total_sectors * BDRV_SECTOR_SIZE);
    h->crypt_method = cpu_to_be32(s->crypt_method_header);
    h->l1_size = cpu_to_be32(s->l1_size);
    h->l1_table_offset = cpu_to_be64(s->l1_table_offset);
    h->refcount_table_offset = cpu_to_be64(s->refcount_table_offset);
    h->refcount_table_clusters =
        cpu_to_be32(s->refcount_table_size >> (s->cluster_bits - 3));
    h->nb_snapshots = cpu_to_be32(s->nb_snapshots);
    h->snapshots_offset = cpu_to_be64(s->snapshots_offset);

    if (s->qcow_version == 2) {
        fixed_len = offsetof(QCowHeader, incompatible_features);
    } else {
        fixed_len = sizeof(QCowHeader);
        h->incompatible_features = cpu_to_be64(s->incompatible_features);
        h->compatible_features = cpu_to_be64(s->compatible_features);
        h->autoclear_features = cpu_to_be64(s->autoclear_features);
        h->refcount_order = cpu_to_be32(s->refcount_order);
        h->header_length = cpu_to_be32(sizeof(QCowHeader) +
                                       s->unknown_header_fields_size);
        h->compression_type = s->compression_type;
    }
    p = buf + fixed_len;
    left -= fixed_len;

    /* Unknown header fields stay where they were. */
    if (s->unknown_header_fields_size) {
        if (left < s->unknown_header_fields_size) {
            return -ENOSPC;
        }
        memcpy(p, s->unknown_header_fields, s->unknown_header_fields_size);
        p += s->unknown_header_fields_size;
        left -= s->unknown_header_fields_size;
    }

    if (s->image_backing_format) {
        ret = qcow2_header_ext_add(&p, &left, QCOW2_EXT_MAGIC_BACKING_FORMAT,
                                   s->image_backing_format,
                                   strlen(s->image_backing_format));
        if (ret < 0) {
            return ret;
        }
    }

    /*
     * The table takes 392 bytes: QEMU leaves it out of small clusters,
     * where it would crowd out the backing file name.
     */
    if (s->qcow_version >= 3 && s->cluster_size > 4096) {
        ret = qcow2_header_ext_add(&p, &left, QCOW2_EXT_MAGIC_FEATURE_TABLE,
                                   qcow2_feature_table,
                                   sizeof(qcow2_feature_table));
        if (ret < 0) {
            return ret;
        }
    }

    QLIST_FOREACH(uext, &s->unknown_header_ext, next) {
        ret = qcow2_header_ext_add(&p, &left, uext->magic, uext->data,
                                   uext->len);
        if (ret < 0) {
            return ret;
        }
    }

    ret = qcow2_header_ext_add(&p, &left, QCOW2_EXT_MAGIC_END, NULL, 0);
    if (ret < 0) {
        return ret;
    }

    if (s->image_backing_file) {
        size_t len = strlen(s->image_backing_file);

        if (left < len) {
            return -ENOSPC;
        }
        memcpy(p, s->image_backing_file, len);
        h->backing_file_offset = cpu_to_be64(p - buf);
        h->backing_file_size = cpu_to_be32(len);
    }

    return bdrv_pwrite(bs->file, 0, s->cluster_size, buf, 0);
}

int qcow2_mark_dirty(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t val;
    int ret;

    assert(s->qcow_version >= 3);
    if (s->incompatible_features & QCOW2_INCOMPAT_DIRTY) {
        return 0;
    }
    val = cpu_to_be64(s->incompatible_features | QCOW2_INCOMPAT_DIRTY);
    ret = bdrv_pwrite_sync(bs->file,
                           offsetof(QCowHeader, incompatible_features),
                           sizeof(val), &val, 0);
    if (ret < 0) {
        return ret;
    }
    /* Dirty only once the header says so. */
    s->incompatible_features |= QCOW2_INCOMPAT_DIRTY;
    return 0;
}

/* Refcounts are accurate again: write them out, then clear the bit. */
static int qcow2_mark_clean(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (!(s->incompatible_features & QCOW2_INCOMPAT_DIRTY)) {
        return 0;
    }
    s->incompatible_features &= ~QCOW2_INCOMPAT_DIRTY;
    ret = qcow2_flush_caches(bs);
    if (ret < 0) {
        return ret;
    }
    return qcow2_update_header(bs);
}

int qcow2_mark_corrupt(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    s->incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
    return qcow2_update_header(bs);
}

int qcow2_mark_consistent(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (!(s->incompatible_features & QCOW2_INCOMPAT_CORRUPT)) {
        return 0;
    }
    ret = qcow2_flush_caches(bs);
    if (ret < 0) {
        return ret;
    }
    s->incompatible_features &= ~QCOW2_INCOMPAT_CORRUPT;
    return qcow2_update_header(bs);
}

void qcow2_signal_corruption(BlockDriverState *bs, bool fatal, int64_t offset,
                             int64_t size, const char *message_format, ...)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree char *message = NULL;
    va_list ap;

    /* A read-only image cannot be marked: report, but keep going. */
    fatal = fatal && bdrv_is_writable(bs);

    if (s->signaled_corruption &&
        (!fatal || (s->incompatible_features & QCOW2_INCOMPAT_CORRUPT))) {
        return;
    }

    va_start(ap, message_format);
    message = g_strdup_vprintf(message_format, ap);
    va_end(ap);

    if (fatal) {
        fprintf(stderr, "qcow2: Marking image as corrupt: %s; further "
                "corruption events will be suppressed\n", message);
        qcow2_mark_corrupt(bs);
        /* Like QEMU: the node stops working ("No medium found"). */
        s->dead = true;
    } else {
        fprintf(stderr, "qcow2: Image is corrupt: %s; further non-fatal "
                "corruption events will be suppressed\n", message);
    }
    s->signaled_corruption = true;
}

int qcow2_validate_table(BlockDriverState *bs, uint64_t offset,
                         uint64_t entries, size_t entry_len,
                         int64_t max_size_bytes, const char *table_name,
                         Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (entries > max_size_bytes / entry_len) {
        error_setg(errp, "%s too large", table_name);
        return -EFBIG;
    }
    /* Offsets end up in int64_t arithmetic: stay below INT64_MAX. */
    if (INT64_MAX - entries * entry_len < offset ||
        offset_into_cluster(s, offset) != 0) {
        error_setg(errp, "%s offset invalid", table_name);
        return -EINVAL;
    }
    return 0;
}

/* ---- Header extensions ---- */

static void qcow2_free_unknown_header_ext(BDRVQcow2State *s)
{
    Qcow2UnknownHeaderExtension *uext, *next;

    QLIST_FOREACH_SAFE(uext, &s->unknown_header_ext, next, next) {
        QLIST_REMOVE(uext, next);
        g_free(uext);
    }
}

/*
 * Read the extensions in [start, end).  With feature_table, only that
 * table is wanted (returned NUL-entry terminated, for an error message).
 * Unknown extensions are kept to be written back; QEMU prepends them to
 * its list, which reverses their order on every header rewrite, and so
 * do we, to write the same bytes.
 */
static int qcow2_read_extensions(BlockDriverState *bs, uint64_t start,
                                 uint64_t end, Qcow2Feature **feature_table,
                                 bool *has_data_file, bool *has_crypto_header,
                                 Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t offset = start;
    QCowExtension ext;
    int ret;

    while (offset < end) {
        ret = bdrv_pread(bs->file, offset, sizeof(ext), &ext, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "qcow2_read_extension: ERROR: "
                             "pread fail from offset %" PRIu64, offset);
            return ret;
        }
        ext.magic = be32_to_cpu(ext.magic);
        ext.len = be32_to_cpu(ext.len);
        offset += sizeof(ext);
        if (offset > end || ext.len > end - offset) {
            error_setg(errp, "Header extension too large");
            return -EINVAL;
        }

        switch (ext.magic) {
        case QCOW2_EXT_MAGIC_END:
            return 0;

        case QCOW2_EXT_MAGIC_BACKING_FORMAT:
            if (feature_table) {
                break;
            }
            if (ext.len >= sizeof(bs->backing_format)) {
                error_setg(errp, "ERROR: ext_backing_format: len=%" PRIu32
                           " too large (>=%zu)", ext.len,
                           sizeof(bs->backing_format));
                return -EINVAL;
            }
            ret = bdrv_pread(bs->file, offset, ext.len, bs->backing_format,
                             0);
            if (ret < 0) {
                error_setg_errno(errp, -ret, "ERROR: ext_backing_format: "
                                 "Could not read format name");
                return ret;
            }
            bs->backing_format[ext.len] = '\0';
            g_free(s->image_backing_format);
            s->image_backing_format = g_strdup(bs->backing_format);
            break;

        case QCOW2_EXT_MAGIC_FEATURE_TABLE:
            if (feature_table) {
                /* The last table counts; zeroed entries end it. */
                Qcow2Feature *t = g_malloc0(ext.len +
                                            2 * sizeof(Qcow2Feature));

                ret = bdrv_pread(bs->file, offset, ext.len, t, 0);
                if (ret < 0) {
                    error_setg_errno(errp, -ret, "ERROR: ext_feature_table: "
                                     "Could not read table");
                    g_free(t);
                    return ret;
                }
                g_free(*feature_table);
                *feature_table = t;
            }
            break;

        case QCOW2_EXT_MAGIC_DATA_FILE:
            if (has_data_file) {
                *has_data_file = true;
            }
            break;

        case QCOW2_EXT_MAGIC_CRYPTO_HEADER:
            if (has_crypto_header) {
                *has_crypto_header = true;
            }
            break;

        default:
            if (!feature_table) {
                Qcow2UnknownHeaderExtension *uext;

                uext = g_malloc0(sizeof(*uext) + ext.len);
                uext->magic = ext.magic;
                uext->len = ext.len;
                QLIST_INSERT_HEAD(&s->unknown_header_ext, uext, next);
                ret = bdrv_pread(bs->file, offset, ext.len, uext->data, 0);
                if (ret < 0) {
                    error_setg_errno(errp, -ret, "ERROR: unknown extension: "
                                     "Could not read data");
                    return ret;
                }
            }
            break;
        }
        offset += ROUND_UP(ext.len, 8);
    }
    return 0;
}

/* "Unsupported qcow2 feature(s): ...", named from the image's table. */
static void qcow2_report_unsupported_feature(Error **errp,
                                             const Qcow2Feature *table,
                                             uint64_t mask)
{
    g_autoptr(GString) features = g_string_new("");

    for (; table && table->name[0] != '\0'; table++) {
        if (table->type != QCOW2_FEAT_TYPE_INCOMPATIBLE || table->bit >= 64 ||
            !(mask & (1ULL << table->bit))) {
            continue;
        }
        if (features->len) {
            g_string_append(features, ", ");
        }
        g_string_append_printf(features, "%.46s", table->name);
        mask &= ~(1ULL << table->bit);
    }
    if (mask) {
        if (features->len) {
            g_string_append(features, ", ");
        }
        g_string_append_printf(features,
                               "Unknown incompatible feature: %" PRIx64, mask);
    }
    error_setg(errp, "Unsupported qcow2 feature(s): %s", features->str);
}

/* ---- Runtime options and caches ---- */

/* What update_options_prepare settles, until commit or abort. */
typedef struct Qcow2ReopenState {
    Qcow2Cache *l2_table_cache;
    Qcow2Cache *refcount_block_cache;
    int l2_slice_size;
    bool use_lazy_refcounts;
    int overlap_check;
    bool discard_passthrough[QCOW2_DISCARD_MAX];
    uint64_t cache_clean_interval;
    bool crypt_key_given;
} Qcow2ReopenState;

/*
 * Cache sizes in bytes from cache-size, l2-cache-size and
 * refcount-cache-size, as QEMU 7.2 computes them: the L2 cache covers
 * the whole disk unless that takes more than l2-cache-size (32 MiB by
 * default); a combined size goes to L2 first.  When the L2 cache cannot
 * cover the disk its entries default to 4 KiB slices.
 */
static int qcow2_read_cache_sizes(BlockDriverState *bs, QemuOpts *opts,
                                  uint64_t *l2_cache_size,
                                  uint64_t *l2_cache_entry_size,
                                  uint64_t *refcount_cache_size, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t min_refcount_cache =
        (uint64_t)MIN_REFCOUNT_CACHE_SIZE * s->cluster_size;
    uint64_t disk_size = bs->total_sectors * BDRV_SECTOR_SIZE;
    uint64_t max_l2_entries = DIV_ROUND_UP(disk_size, s->cluster_size);
    uint64_t max_l2_cache = ROUND_UP(max_l2_entries * sizeof(uint64_t),
                                     s->cluster_size);
    bool combined_set = qemu_opt_get(opts, QCOW2_OPT_CACHE_SIZE);
    bool l2_set = qemu_opt_get(opts, QCOW2_OPT_L2_CACHE_SIZE);
    bool refcount_set = qemu_opt_get(opts, QCOW2_OPT_REFCOUNT_CACHE_SIZE);
    bool entry_set = qemu_opt_get(opts, QCOW2_OPT_L2_CACHE_ENTRY_SIZE);
    uint64_t combined = qemu_opt_get_size(opts, QCOW2_OPT_CACHE_SIZE, 0);
    uint64_t l2_max = qemu_opt_get_size(opts, QCOW2_OPT_L2_CACHE_SIZE,
                                        DEFAULT_L2_CACHE_MAX_SIZE);

    *refcount_cache_size = qemu_opt_get_size(opts,
                                             QCOW2_OPT_REFCOUNT_CACHE_SIZE, 0);
    *l2_cache_entry_size = qemu_opt_get_size(opts,
                                             QCOW2_OPT_L2_CACHE_ENTRY_SIZE,
                                             s->cluster_size);
    *l2_cache_size = MIN(max_l2_cache, l2_max);

    if (combined_set) {
        if (l2_set && refcount_set) {
            error_setg(errp, QCOW2_OPT_CACHE_SIZE ", " QCOW2_OPT_L2_CACHE_SIZE
                       " and " QCOW2_OPT_REFCOUNT_CACHE_SIZE " may not be set "
                       "at the same time");
            return -EINVAL;
        } else if (l2_set && l2_max > combined) {
            error_setg(errp, QCOW2_OPT_L2_CACHE_SIZE " may not exceed "
                       QCOW2_OPT_CACHE_SIZE);
            return -EINVAL;
        } else if (*refcount_cache_size > combined) {
            error_setg(errp, QCOW2_OPT_REFCOUNT_CACHE_SIZE " may not exceed "
                       QCOW2_OPT_CACHE_SIZE);
            return -EINVAL;
        }

        if (l2_set) {
            *refcount_cache_size = combined - *l2_cache_size;
        } else if (refcount_set) {
            *l2_cache_size = combined - *refcount_cache_size;
        } else if (combined >= max_l2_cache + min_refcount_cache) {
            *l2_cache_size = max_l2_cache;
            *refcount_cache_size = combined - *l2_cache_size;
        } else {
            *refcount_cache_size = MIN(combined, min_refcount_cache);
            *l2_cache_size = combined - *refcount_cache_size;
        }
    }

    if (*l2_cache_size < max_l2_cache && !entry_set) {
        *l2_cache_entry_size = MIN(s->cluster_size, 4096);
    }

    if (*l2_cache_entry_size < (1 << MIN_CLUSTER_BITS) ||
        *l2_cache_entry_size > s->cluster_size ||
        !is_power_of_2(*l2_cache_entry_size)) {
        error_setg(errp, "L2 cache entry size must be a power of two "
                   "between %d and the cluster size (%d)",
                   1 << MIN_CLUSTER_BITS, s->cluster_size);
        return -EINVAL;
    }
    return 0;
}

static int qcow2_parse_overlap_check(QemuOpts *opts, int *overlap_check,
                                     Error **errp)
{
    const char *mode = qemu_opt_get(opts, QCOW2_OPT_OVERLAP);
    const char *template = qemu_opt_get(opts, QCOW2_OPT_OVERLAP_TEMPLATE);
    int flags;

    if (mode && template && strcmp(mode, template)) {
        error_setg(errp, "Conflicting values for qcow2 options '"
                   QCOW2_OPT_OVERLAP "' ('%s') and '" QCOW2_OPT_OVERLAP_TEMPLATE
                   "' ('%s')", mode, template);
        return -EINVAL;
    }
    if (!mode) {
        mode = template ?: "cached";
    }

    if (!strcmp(mode, "none")) {
        flags = 0;
    } else if (!strcmp(mode, "constant")) {
        flags = QCOW2_OL_CONSTANT;
    } else if (!strcmp(mode, "cached")) {
        flags = QCOW2_OL_CACHED;
    } else if (!strcmp(mode, "all")) {
        flags = QCOW2_OL_ALL;
    } else {
        error_setg(errp, "Unsupported value '%s' for qcow2 option "
                   "'overlap-check'. Allowed are any of the following: "
                   "none, constant, cached, all", mode);
        return -EINVAL;
    }

    /* Each structure's own option overrides the template. */
    *overlap_check = 0;
    for (int i = 0; i < (int)ARRAY_SIZE(overlap_bool_option_names); i++) {
        if (qemu_opt_get_bool(opts, overlap_bool_option_names[i],
                              flags & (1 << i))) {
            *overlap_check |= 1 << i;
        }
    }
    return 0;
}

static void qcow2_update_options_abort(Qcow2ReopenState *r)
{
    if (r->l2_table_cache) {
        qcow2_cache_destroy(r->l2_table_cache);
    }
    if (r->refcount_block_cache) {
        qcow2_cache_destroy(r->refcount_block_cache);
    }
    r->l2_table_cache = NULL;
    r->refcount_block_cache = NULL;
}

static int qcow2_update_options_prepare(BlockDriverState *bs,
                                        Qcow2ReopenState *r, QDict *options,
                                        int flags, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    QemuOpts *opts = qemu_opts_create(&qcow2_runtime_opts, NULL, 0,
                                      &error_abort);
    uint64_t l2_cache_size, l2_cache_entry_size, refcount_cache_size;
    QDict *encryptopts = NULL;
    const char *encryptfmt;
    int ret;

    qdict_extract_subqdict(options, &encryptopts, "encrypt.");
    encryptfmt = qdict_get_try_str(encryptopts, "format");

    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        ret = -EINVAL;
        goto fail;
    }

    ret = qcow2_read_cache_sizes(bs, opts, &l2_cache_size,
                                 &l2_cache_entry_size, &refcount_cache_size,
                                 errp);
    if (ret < 0) {
        goto fail;
    }

    l2_cache_size /= l2_cache_entry_size;
    l2_cache_size = MAX(l2_cache_size, MIN_L2_CACHE_SIZE);
    if (l2_cache_size > INT_MAX) {
        error_setg(errp, "L2 cache size too big");
        ret = -EINVAL;
        goto fail;
    }
    refcount_cache_size /= s->cluster_size;
    refcount_cache_size = MAX(refcount_cache_size, MIN_REFCOUNT_CACHE_SIZE);
    if (refcount_cache_size > INT_MAX) {
        error_setg(errp, "Refcount cache size too big");
        ret = -EINVAL;
        goto fail;
    }

    /* The old caches go at commit: their dirty entries must be out now. */
    if (s->l2_table_cache) {
        ret = qcow2_cache_flush(bs, s->l2_table_cache);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to flush the L2 table cache");
            goto fail;
        }
    }
    if (s->refcount_block_cache) {
        ret = qcow2_cache_flush(bs, s->refcount_block_cache);
        if (ret < 0) {
            error_setg_errno(errp, -ret,
                             "Failed to flush the refcount block cache");
            goto fail;
        }
    }

    r->l2_slice_size = l2_cache_entry_size / sizeof(uint64_t);
    r->l2_table_cache = qcow2_cache_create(bs, l2_cache_size,
                                           l2_cache_entry_size);
    r->refcount_block_cache = qcow2_cache_create(bs, refcount_cache_size,
                                                 s->cluster_size);
    if (!r->l2_table_cache || !r->refcount_block_cache) {
        error_setg(errp, "Could not allocate metadata caches");
        ret = -ENOMEM;
        goto fail;
    }

    r->cache_clean_interval =
        qemu_opt_get_number(opts, QCOW2_OPT_CACHE_CLEAN_INTERVAL,
                            DEFAULT_CACHE_CLEAN_INTERVAL);
    if (r->cache_clean_interval > UINT_MAX) {
        error_setg(errp, "Cache clean interval too big");
        ret = -EINVAL;
        goto fail;
    }

    r->use_lazy_refcounts =
        qemu_opt_get_bool(opts, QCOW2_OPT_LAZY_REFCOUNTS,
                          s->compatible_features &
                          QCOW2_COMPAT_LAZY_REFCOUNTS);
    if (r->use_lazy_refcounts && s->qcow_version < 3) {
        error_setg(errp, "Lazy refcounts require a qcow2 image with at least "
                   "qemu 1.1 compatibility level");
        ret = -EINVAL;
        goto fail;
    }
    if (s->use_lazy_refcounts && !r->use_lazy_refcounts) {
        ret = qcow2_mark_clean(bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to disable lazy refcounts");
            goto fail;
        }
    }

    ret = qcow2_parse_overlap_check(opts, &r->overlap_check, errp);
    if (ret < 0) {
        goto fail;
    }

    r->discard_passthrough[QCOW2_DISCARD_NEVER] = false;
    r->discard_passthrough[QCOW2_DISCARD_ALWAYS] = true;
    r->discard_passthrough[QCOW2_DISCARD_REQUEST] =
        qemu_opt_get_bool(opts, QCOW2_OPT_DISCARD_REQUEST,
                          flags & BDRV_O_UNMAP);
    r->discard_passthrough[QCOW2_DISCARD_SNAPSHOT] =
        qemu_opt_get_bool(opts, QCOW2_OPT_DISCARD_SNAPSHOT, true);
    r->discard_passthrough[QCOW2_DISCARD_OTHER] =
        qemu_opt_get_bool(opts, QCOW2_OPT_DISCARD_OTHER, false);

    if (s->crypt_method_header == QCOW_CRYPT_NONE && encryptfmt) {
        error_setg(errp, "No encryption in image header, but options "
                   "specified format '%s'", encryptfmt);
        ret = -EINVAL;
        goto fail;
    }
    if (s->crypt_method_header != QCOW_CRYPT_NONE && encryptfmt) {
        const char *hdrfmt = s->crypt_method_header == QCOW_CRYPT_AES ?
                             "aes" : "luks";

        if (strcmp(encryptfmt, hdrfmt)) {
            error_setg(errp, "Header reported '%s' encryption format but "
                       "options specify '%s'", hdrfmt, encryptfmt);
            ret = -EINVAL;
            goto fail;
        }
    }
    r->crypt_key_given = qdict_haskey(encryptopts, "key-secret");
    ret = 0;

fail:
    qobject_unref(encryptopts);
    qemu_opts_del(opts);
    return ret;
}

static void qcow2_cache_clean_timer_cb(void *opaque)
{
    BlockDriverState *bs = opaque;
    BDRVQcow2State *s = bs->opaque;

    qcow2_cache_clean_unused(s->l2_table_cache);
    qcow2_cache_clean_unused(s->refcount_block_cache);
    timer_mod(s->cache_clean_timer, qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
              (int64_t)s->cache_clean_interval * 1000);
}

static void qcow2_cache_clean_timer_init(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->cache_clean_interval > 0) {
        s->cache_clean_timer = aio_timer_new(bdrv_get_aio_context(bs),
                                             QEMU_CLOCK_VIRTUAL, SCALE_MS,
                                             qcow2_cache_clean_timer_cb, bs);
        timer_mod(s->cache_clean_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  (int64_t)s->cache_clean_interval * 1000);
    }
}

static void qcow2_cache_clean_timer_del(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->cache_clean_timer) {
        timer_free(s->cache_clean_timer);
        s->cache_clean_timer = NULL;
    }
}

static void qcow2_update_options_commit(BlockDriverState *bs,
                                        Qcow2ReopenState *r)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->l2_table_cache) {
        qcow2_cache_destroy(s->l2_table_cache);
    }
    if (s->refcount_block_cache) {
        qcow2_cache_destroy(s->refcount_block_cache);
    }
    s->l2_table_cache = r->l2_table_cache;
    s->refcount_block_cache = r->refcount_block_cache;
    s->l2_slice_size = r->l2_slice_size;
    s->overlap_check = r->overlap_check;
    s->use_lazy_refcounts = r->use_lazy_refcounts;
    s->crypt_key_given = r->crypt_key_given;
    memcpy(s->discard_passthrough, r->discard_passthrough,
           sizeof(s->discard_passthrough));

    if (s->cache_clean_interval != r->cache_clean_interval) {
        qcow2_cache_clean_timer_del(bs);
        s->cache_clean_interval = r->cache_clean_interval;
        qcow2_cache_clean_timer_init(bs);
    }
}

int qcow2_update_options(BlockDriverState *bs, QDict *options, int flags,
                         Error **errp)
{
    Qcow2ReopenState r = { 0 };
    int ret;

    ret = qcow2_update_options_prepare(bs, &r, options, flags, errp);
    if (ret < 0) {
        qcow2_update_options_abort(&r);
        return ret;
    }
    qcow2_update_options_commit(bs, &r);
    return 0;
}

/* ---- Check ---- */

/* Sum the counts; the allocation figures come from the refcount check. */
static void qcow2_add_check_result(BdrvCheckResult *out,
                                   const BdrvCheckResult *src,
                                   bool set_allocation_info)
{
    out->corruptions += src->corruptions;
    out->leaks += src->leaks;
    out->check_errors += src->check_errors;
    out->corruptions_fixed += src->corruptions_fixed;
    out->leaks_fixed += src->leaks_fixed;
    if (set_allocation_info) {
        out->image_end_offset = src->image_end_offset;
        out->bfi = src->bfi;
    }
}

/*
 * An open for check skips the snapshot table: read and check it here,
 * with QEMU's messages; -r all drops snapshots beyond the maximum.
 */
static int qcow2_check_read_snapshot_table(BlockDriverState *bs,
                                           BdrvCheckResult *result,
                                           BdrvCheckMode fix)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t ptr[12];            /* nb_snapshots, snapshots_offset */
    Error *local_err = NULL;
    int ret;

    ret = bdrv_pread(bs->file, offsetof(QCowHeader, nb_snapshots),
                     sizeof(ptr), ptr, 0);
    if (ret < 0) {
        result->check_errors++;
        fprintf(stderr, "ERROR failed to read the snapshot table pointer "
                "from the image header: %s\n", strerror(-ret));
        return ret;
    }
    s->nb_snapshots = ldl_be_p(ptr);
    s->snapshots_offset = ldq_be_p(ptr + 4);

    if (s->nb_snapshots > QCOW_MAX_SNAPSHOTS && (fix & BDRV_FIX_ERRORS)) {
        uint32_t nb = cpu_to_be32(QCOW_MAX_SNAPSHOTS);

        fprintf(stderr, "Discarding %u overhanging snapshots\n",
                s->nb_snapshots - QCOW_MAX_SNAPSHOTS);
        result->corruptions_fixed += s->nb_snapshots - QCOW_MAX_SNAPSHOTS;
        s->nb_snapshots = QCOW_MAX_SNAPSHOTS;
        ret = bdrv_pwrite_sync(bs->file, offsetof(QCowHeader, nb_snapshots),
                               sizeof(nb), &nb, 0);
        if (ret < 0) {
            result->check_errors++;
            fprintf(stderr, "ERROR failed to update the snapshot count in the "
                    "image header: %s\n", strerror(-ret));
            return ret;
        }
    }

    ret = qcow2_validate_table(bs, s->snapshots_offset, s->nb_snapshots,
                               sizeof(QCowSnapshotHeader),
                               sizeof(QCowSnapshotHeader) * QCOW_MAX_SNAPSHOTS,
                               "snapshot table", &local_err);
    if (ret == 0) {
        ret = qcow2_read_snapshots(bs, &local_err);
    }
    if (ret < 0) {
        result->check_errors++;
        error_reportf_err(local_err, "ERROR ");
        if (s->nb_snapshots > QCOW_MAX_SNAPSHOTS) {
            fprintf(stderr, "You can force-remove all %u overhanging "
                    "snapshots with qemu-img check -r all\n",
                    s->nb_snapshots - QCOW_MAX_SNAPSHOTS);
        }
        /* Unread: forget it. */
        s->snapshots_offset = 0;
        s->nb_snapshots = 0;
        return ret;
    }
    return 0;
}

/* Called with s->lock held (or before the node is in use). */
static int qcow2_check_locked(BlockDriverState *bs, BdrvCheckResult *result,
                              BdrvCheckMode fix)
{
    BdrvCheckResult snapshot_res = { 0 };
    BdrvCheckResult refcount_res = { 0 };
    int ret;

    memset(result, 0, sizeof(*result));
    ret = qcow2_check_read_snapshot_table(bs, &snapshot_res, fix);
    if (ret < 0) {
        qcow2_add_check_result(result, &snapshot_res, false);
        return ret;
    }
    ret = qcow2_check_refcounts(bs, &refcount_res, fix);
    qcow2_add_check_result(result, &refcount_res, true);
    qcow2_add_check_result(result, &snapshot_res, false);
    if (ret < 0) {
        return ret;
    }

    if (fix && result->check_errors == 0 && result->corruptions == 0) {
        ret = qcow2_mark_clean(bs);
        if (ret < 0) {
            return ret;
        }
        return qcow2_mark_consistent(bs);
    }
    return ret;
}

static int coroutine_fn qcow2_co_check(BlockDriverState *bs,
                                       BdrvCheckResult *result,
                                       BdrvCheckMode fix)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = qcow2_check_locked(bs, result, fix);
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/* ---- Open, close, reopen ---- */

static int qcow2_do_open(BlockDriverState *bs, QDict *options, int flags,
                         Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    QCowHeader header;
    uint64_t ext_end;
    int64_t l1_vm_state_index;
    bool has_data_file = false, has_crypto_header = false;
    int ret;

    ret = bdrv_pread(bs->file, 0, sizeof(header), &header, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read qcow2 header");
        return ret;
    }
    qcow2_header_load(&header);

    if (header.magic != QCOW_MAGIC) {
        error_setg(errp, "Image is not in qcow2 format");
        return -EINVAL;
    }
    if (header.version < 2 || header.version > 3) {
        error_setg(errp, "Unsupported qcow2 version %" PRIu32,
                   header.version);
        return -ENOTSUP;
    }
    s->qcow_version = header.version;

    if (header.cluster_bits < MIN_CLUSTER_BITS ||
        header.cluster_bits > MAX_CLUSTER_BITS) {
        error_setg(errp, "Unsupported cluster size: 2^%" PRIu32,
                   header.cluster_bits);
        return -EINVAL;
    }
    s->cluster_bits = header.cluster_bits;
    s->cluster_size = 1 << s->cluster_bits;

    if (header.version >= 3 && header.header_length < 104) {
        error_setg(errp, "qcow2 header too short");
        return -EINVAL;
    }
    if (header.header_length > s->cluster_size) {
        error_setg(errp, "qcow2 header exceeds cluster size");
        return -EINVAL;
    }
    if (header.header_length > sizeof(header)) {
        s->unknown_header_fields_size = header.header_length - sizeof(header);
        s->unknown_header_fields = g_malloc(s->unknown_header_fields_size);
        ret = bdrv_pread(bs->file, sizeof(header),
                         s->unknown_header_fields_size,
                         s->unknown_header_fields, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read unknown qcow2 header "
                             "fields");
            return ret;
        }
    }

    if (header.backing_file_offset > s->cluster_size) {
        error_setg(errp, "Invalid backing file offset");
        return -EINVAL;
    }
    ext_end = header.backing_file_offset ?: s->cluster_size;

    s->incompatible_features = header.incompatible_features;
    s->compatible_features = header.compatible_features;
    s->autoclear_features = header.autoclear_features;

    /* Headers before the field imply zlib. */
    if (header.header_length > offsetof(QCowHeader, compression_type)) {
        s->compression_type = header.compression_type;
    } else {
        s->compression_type = QCOW2_COMPRESSION_TYPE_ZLIB;
    }
    ret = qcow2_validate_compression_type(s, errp);
    if (ret < 0) {
        return ret;
    }

    if (s->incompatible_features & ~QCOW2_INCOMPAT_KNOWN) {
        g_autofree Qcow2Feature *table = NULL;

        qcow2_read_extensions(bs, header.header_length, ext_end, &table,
                              NULL, NULL, NULL);
        qcow2_report_unsupported_feature(errp, table,
                                         s->incompatible_features &
                                         ~QCOW2_INCOMPAT_KNOWN);
        return -ENOTSUP;
    }

    if ((s->incompatible_features & QCOW2_INCOMPAT_CORRUPT) &&
        (flags & BDRV_O_RDWR) && !(flags & BDRV_O_CHECK)) {
        /* Only a repair may write to a corrupt image. */
        error_setg(errp, "qcow2: Image is corrupt; cannot be opened "
                   "read/write");
        return -EACCES;
    }

    /* Known to QEMU, not (yet) to us: refuse rather than misread. */
    if (s->incompatible_features & QCOW2_INCOMPAT_EXTL2) {
        error_setg(errp, "Unsupported qcow2 feature(s): extended L2 entries");
        return -ENOTSUP;
    }

    if (header.refcount_order > 6) {
        error_setg(errp, "Reference count entry width too large; may not "
                   "exceed 64 bits");
        return -EINVAL;
    }
    s->refcount_order = header.refcount_order;
    s->refcount_bits = 1 << s->refcount_order;
    s->refcount_max = UINT64_C(1) << (s->refcount_bits - 1);
    s->refcount_max += s->refcount_max - 1;

    if (header.crypt_method > QCOW_CRYPT_LUKS) {
        error_setg(errp, "Unsupported encryption method %" PRIu32,
                   header.crypt_method);
        return -EINVAL;
    }
    s->crypt_method_header = header.crypt_method;
    bs->encrypted = s->crypt_method_header != QCOW_CRYPT_NONE;

    s->l2_bits = s->cluster_bits - 3;
    s->l2_size = 1 << s->l2_bits;
    /* 2^(refcount_order - 3) bytes per refcount */
    s->refcount_block_bits = s->cluster_bits - (s->refcount_order - 3);
    s->refcount_block_size = 1 << s->refcount_block_bits;
    bs->total_sectors = header.size / BDRV_SECTOR_SIZE;
    s->csize_shift = 62 - (s->cluster_bits - 8);
    s->csize_mask = (1 << (s->cluster_bits - 8)) - 1;
    s->cluster_offset_mask = (1ULL << s->csize_shift) - 1;

    s->refcount_table_offset = header.refcount_table_offset;
    s->refcount_table_size =
        header.refcount_table_clusters << (s->cluster_bits - 3);
    if (header.refcount_table_clusters == 0 && !(flags & BDRV_O_CHECK)) {
        error_setg(errp, "Image does not contain a reference count table");
        return -EINVAL;
    }
    ret = qcow2_validate_table(bs, s->refcount_table_offset,
                               header.refcount_table_clusters,
                               s->cluster_size, QCOW_MAX_REFTABLE_SIZE,
                               "Reference count table", errp);
    if (ret < 0) {
        return ret;
    }

    if (!(flags & BDRV_O_CHECK)) {
        /* Entries vary in size: the total is checked when reading them. */
        ret = qcow2_validate_table(bs, header.snapshots_offset,
                                   header.nb_snapshots,
                                   sizeof(QCowSnapshotHeader),
                                   sizeof(QCowSnapshotHeader) *
                                   QCOW_MAX_SNAPSHOTS,
                                   "Snapshot table", errp);
        if (ret < 0) {
            return ret;
        }
    }

    ret = qcow2_validate_table(bs, header.l1_table_offset, header.l1_size,
                               sizeof(uint64_t), QCOW_MAX_L1_SIZE,
                               "Active L1 table", errp);
    if (ret < 0) {
        return ret;
    }
    s->l1_size = header.l1_size;
    s->l1_table_offset = header.l1_table_offset;

    l1_vm_state_index = size_to_l1(s, header.size);
    if (l1_vm_state_index > INT_MAX) {
        error_setg(errp, "Image is too big");
        return -EFBIG;
    }
    s->l1_vm_state_index = l1_vm_state_index;
    if (s->l1_size < s->l1_vm_state_index) {
        error_setg(errp, "L1 table is too small");
        return -EINVAL;
    }

    if (s->l1_size > 0) {
        s->l1_table = qemu_try_blockalign(bs->file->bs,
                                          s->l1_size * sizeof(uint64_t));
        if (!s->l1_table) {
            error_setg(errp, "Could not allocate L1 table");
            return -ENOMEM;
        }
        ret = bdrv_pread(bs->file, s->l1_table_offset,
                         s->l1_size * sizeof(uint64_t), s->l1_table, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read L1 table");
            return ret;
        }
        for (int i = 0; i < s->l1_size; i++) {
            s->l1_table[i] = be64_to_cpu(s->l1_table[i]);
        }
    }

    ret = qcow2_update_options(bs, options, flags, errp);
    if (ret < 0) {
        return ret;
    }
    s->flags = flags;

    ret = qcow2_refcount_init(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not initialize refcount handling");
        return ret;
    }

    ret = qcow2_read_extensions(bs, header.header_length, ext_end, NULL,
                                &has_data_file, &has_crypto_header, errp);
    if (ret < 0) {
        return -EINVAL;
    }
    s->data_file = bs->file;
    if (s->incompatible_features & QCOW2_INCOMPAT_DATA_FILE) {
        if (!has_data_file) {
            error_setg(errp, "'data-file' is required for this image");
            return -EINVAL;
        }
        error_setg(errp, "Unsupported qcow2 feature(s): external data file");
        return -ENOTSUP;
    }
    if (s->crypt_method_header == QCOW_CRYPT_LUKS && !has_crypto_header &&
        !(flags & BDRV_O_NO_IO)) {
        error_setg(errp, "Missing CRYPTO header for crypt method %d",
                   s->crypt_method_header);
        return -EINVAL;
    }

    /*
     * Encrypted images can be inspected (no guest I/O: QEMU needs no key
     * then), but not read or written: we have no cipher.
     */
    if (s->crypt_method_header &&
        (!(flags & BDRV_O_NO_IO) ||
         s->crypt_method_header != QCOW_CRYPT_AES)) {
        if (!s->crypt_key_given) {
            error_setg(errp, "Parameter 'encrypt.key-secret' is required for "
                       "cipher");
            return -EINVAL;
        }
        error_setg(errp, "Encrypted qcow2 images are not supported");
        return -ENOTSUP;
    }

    if (header.backing_file_offset != 0) {
        uint32_t len = header.backing_file_size;

        if (len > MIN(1023, s->cluster_size - header.backing_file_offset) ||
            len >= sizeof(bs->backing_file)) {
            error_setg(errp, "Backing file name too long");
            return -EINVAL;
        }
        ret = bdrv_pread(bs->file, header.backing_file_offset, len,
                         bs->auto_backing_file, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read backing file name");
            return ret;
        }
        bs->auto_backing_file[len] = '\0';
        pstrcpy(bs->backing_file, sizeof(bs->backing_file),
                bs->auto_backing_file);
        s->image_backing_file = g_strdup(bs->auto_backing_file);
    }

    s->snapshots_offset = header.snapshots_offset;
    s->nb_snapshots = header.nb_snapshots;
    if (!(flags & BDRV_O_CHECK)) {
        ret = qcow2_read_snapshots(bs, errp);
        if (ret < 0) {
            return ret;
        }
    }

    /*
     * Autoclear bits we do not maintain are cleared on a writable open,
     * bitmaps included (their extension stays, now marked stale).
     */
    if ((s->autoclear_features & ~QCOW2_AUTOCLEAR_DATA_FILE_RAW) &&
        bdrv_is_writable(bs)) {
        s->autoclear_features &= QCOW2_AUTOCLEAR_DATA_FILE_RAW;
        ret = qcow2_update_header(bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not update qcow2 header");
            return ret;
        }
    }

    bs->supported_zero_flags = header.version >= 3 ?
                               BDRV_REQ_MAY_UNMAP | BDRV_REQ_NO_FALLBACK : 0;
    bs->supported_truncate_flags = BDRV_REQ_ZERO_WRITE;

    /* A dirty image (lazy refcounts, then a crash): repair it first. */
    if (!(flags & BDRV_O_CHECK) && bdrv_is_writable(bs) &&
        (s->incompatible_features & QCOW2_INCOMPAT_DIRTY)) {
        BdrvCheckResult result = { 0 };

        ret = qcow2_check_locked(bs, &result,
                                 BDRV_FIX_ERRORS | BDRV_FIX_LEAKS);
        if (ret < 0 || result.check_errors) {
            if (ret >= 0) {
                ret = -EIO;
            }
            error_setg_errno(errp, -ret, "Could not repair dirty image");
            return ret;
        }
    }
    return 0;
}

/* Undo what a failed qcow2_do_open set up. */
static void qcow2_free_state(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    qcow2_cache_clean_timer_del(bs);
    if (s->l2_table_cache) {
        qcow2_cache_destroy(s->l2_table_cache);
        s->l2_table_cache = NULL;
    }
    if (s->refcount_block_cache) {
        qcow2_cache_destroy(s->refcount_block_cache);
        s->refcount_block_cache = NULL;
    }
    qcow2_refcount_close(bs);
    qcow2_free_snapshots(bs);
    qemu_vfree(s->l1_table);
    s->l1_table = NULL;
    g_free(s->unknown_header_fields);
    s->unknown_header_fields = NULL;
    qcow2_free_unknown_header_ext(s);
    g_free(s->image_backing_file);
    g_free(s->image_backing_format);
    s->image_backing_file = NULL;
    s->image_backing_format = NULL;
}

static int qcow2_open(BlockDriverState *bs, QDict *options, int flags,
                      Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    qemu_co_mutex_init(&s->lock);
    qemu_co_queue_init(&s->thread_task_queue);
    QLIST_INIT(&s->unknown_header_ext);
    QLIST_INIT(&s->cluster_allocs);
    QTAILQ_INIT(&s->discards);

    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        return ret;
    }

    ret = qcow2_do_open(bs, options, flags, errp);
    if (ret < 0) {
        qcow2_free_state(bs);
        return ret;
    }
    return 0;
}

/* Write out the caches and clear the dirty bit. */
static int qcow2_inactivate(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret, result = 0;

    ret = qcow2_cache_flush(bs, s->l2_table_cache);
    if (ret < 0) {
        result = ret;
        error_report("Failed to flush the L2 table cache: %s",
                     strerror(-ret));
    }
    ret = qcow2_cache_flush(bs, s->refcount_block_cache);
    if (ret < 0) {
        result = ret;
        error_report("Failed to flush the refcount block cache: %s",
                     strerror(-ret));
    }
    if (result == 0) {
        qcow2_mark_clean(bs);
    }
    return result;
}

static void qcow2_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    /* No overlap checks against the L1 table while flushing. */
    qemu_vfree(s->l1_table);
    s->l1_table = NULL;

    /* A node killed by corruption is not written to again (QEMU). */
    if (!s->dead && bdrv_is_writable(bs)) {
        qcow2_inactivate(bs);
    }
    qcow2_free_state(bs);
}

static int qcow2_reopen_prepare(BDRVReopenState *state,
                                BlockReopenQueue *queue, Error **errp)
{
    Qcow2ReopenState *r = g_new0(Qcow2ReopenState, 1);
    int ret;

    state->opaque = r;
    ret = qcow2_update_options_prepare(state->bs, r, state->options,
                                       state->flags, errp);
    if (ret < 0) {
        goto fail;
    }

    /* Going read-only: everything must be on disk, and the image clean. */
    if (!(state->flags & BDRV_O_RDWR)) {
        ret = bdrv_flush(state->bs);
        if (ret < 0) {
            goto fail;
        }
        ret = qcow2_mark_clean(state->bs);
        if (ret < 0) {
            goto fail;
        }
    }
    return 0;

fail:
    qcow2_update_options_abort(r);
    g_free(r);
    state->opaque = NULL;
    return ret;
}

static void qcow2_reopen_commit(BDRVReopenState *state)
{
    BDRVQcow2State *s = state->bs->opaque;

    qcow2_update_options_commit(state->bs, state->opaque);
    /* bs->file may have been replaced by the reopen. */
    s->data_file = state->bs->file;
    g_free(state->opaque);
    state->opaque = NULL;
}

static void qcow2_reopen_abort(BDRVReopenState *state)
{
    if (state->opaque) {
        qcow2_update_options_abort(state->opaque);
        g_free(state->opaque);
        state->opaque = NULL;
    }
}

/*
 * Reopen merges the old options into the new ones; a new template or
 * total cache size replaces the old options it governs (QEMU's rules).
 */
static void qcow2_join_options(QDict *options, QDict *old_options)
{
    bool new_total_cache = qdict_haskey(options, QCOW2_OPT_CACHE_SIZE);

    if (qdict_haskey(options, QCOW2_OPT_OVERLAP) ||
        qdict_haskey(options, QCOW2_OPT_OVERLAP_TEMPLATE)) {
        qdict_del(old_options, QCOW2_OPT_OVERLAP);
        qdict_del(old_options, QCOW2_OPT_OVERLAP_TEMPLATE);
        for (int i = 0; i < (int)ARRAY_SIZE(overlap_bool_option_names); i++) {
            qdict_del(old_options, overlap_bool_option_names[i]);
        }
    }
    if (new_total_cache) {
        qdict_del(old_options, QCOW2_OPT_L2_CACHE_SIZE);
        qdict_del(old_options, QCOW2_OPT_REFCOUNT_CACHE_SIZE);
    }

    qdict_join(options, old_options, false);

    /* An old total size gives way to any new individual size. */
    if (!new_total_cache &&
        (qdict_haskey(options, QCOW2_OPT_L2_CACHE_SIZE) ||
         qdict_haskey(options, QCOW2_OPT_REFCOUNT_CACHE_SIZE))) {
        qdict_del(options, QCOW2_OPT_CACHE_SIZE);
    }
}

static void qcow2_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    bs->bl.request_alignment = 1;
    bs->bl.pwrite_zeroes_alignment = s->cluster_size;
    bs->bl.pdiscard_alignment = s->cluster_size;
}

/* ---- Reads ---- */

static int coroutine_fn qcow2_co_preadv_compressed(BlockDriverState *bs,
                                                   uint64_t l2_entry,
                                                   uint64_t offset,
                                                   uint64_t bytes,
                                                   QEMUIOVector *qiov,
                                                   size_t qiov_offset)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *buf = NULL;
    uint8_t *out_buf;
    uint64_t coffset;
    int csize, ret;

    qcow2_parse_compressed_l2_entry(bs, l2_entry, &coffset, &csize);
    buf = g_try_malloc(csize);
    if (!buf) {
        return -ENOMEM;
    }
    out_buf = qemu_blockalign(bs, s->cluster_size);

    bdrv_debug_event(bs->file->bs, BLKDBG_READ_COMPRESSED);
    ret = bdrv_co_pread(bs->file, coffset, csize, buf, 0);
    if (ret >= 0 &&
        qcow2_co_decompress(bs, out_buf, s->cluster_size, buf, csize) < 0) {
        ret = -EIO;
    }
    if (ret >= 0) {
        qemu_iovec_from_buf(qiov, qiov_offset,
                            out_buf + offset_into_cluster(s, offset), bytes);
        ret = 0;
    }
    qemu_vfree(out_buf);
    return ret;
}

/*
 * One piece of a read or write: the request loop maps (or allocates) a
 * guest range, and the piece does the I/O; a request of several pieces
 * runs up to QCOW2_MAX_WORKERS of them at once, as QEMU does.  The order
 * matters for writes: each piece is allocated before the previous ones
 * complete and free what they replace, which decides the image layout.
 */
typedef struct Qcow2AioTask {
    AioTask task;
    BlockDriverState *bs;
    QCow2ClusterType cluster_type;      /* reads */
    uint64_t host_offset;               /* the L2 entry if compressed */
    uint64_t offset;
    uint64_t bytes;
    QEMUIOVector *qiov;
    size_t qiov_offset;
    QCowL2Meta *l2meta;                 /* writes */
} Qcow2AioTask;

#define QCOW2_MAX_WORKERS 8

/* Run the piece now if it is the whole request, else as a task of pool. */
static int coroutine_fn qcow2_add_task(AioTaskPool *pool, AioTaskFunc func,
                                       const Qcow2AioTask *piece)
{
    Qcow2AioTask local, *task = pool ? g_new(Qcow2AioTask, 1) : &local;

    *task = *piece;
    task->task.func = func;
    if (!pool) {
        return func(&task->task);
    }
    aio_task_pool_start_task(pool, &task->task);
    return 0;
}

/* Wait for the pieces in flight; the request's result. */
static int coroutine_fn qcow2_finish_tasks(AioTaskPool *pool, int ret)
{
    if (pool) {
        aio_task_pool_wait_all(pool);
        if (ret == 0) {
            ret = aio_task_pool_status(pool);
        }
        aio_task_pool_free(pool);
    }
    return ret;
}

static int coroutine_fn qcow2_co_preadv_task(AioTask *task)
{
    Qcow2AioTask *t = container_of(task, Qcow2AioTask, task);
    BlockDriverState *bs = t->bs;
    BDRVQcow2State *s = bs->opaque;

    switch (t->cluster_type) {
    case QCOW2_CLUSTER_UNALLOCATED:
        /* The core reads what lies past the backing file's end as zeroes */
        bdrv_debug_event(bs->file->bs, BLKDBG_READ_BACKING_AIO);
        return bdrv_co_preadv_part(bs->backing, t->offset, t->bytes, t->qiov,
                                   t->qiov_offset, 0);
    case QCOW2_CLUSTER_COMPRESSED:
        return qcow2_co_preadv_compressed(bs, t->host_offset, t->offset,
                                          t->bytes, t->qiov, t->qiov_offset);
    case QCOW2_CLUSTER_NORMAL:
        bdrv_debug_event(bs->file->bs, BLKDBG_READ_AIO);
        return bdrv_co_preadv_part(s->data_file, t->host_offset, t->bytes,
                                   t->qiov, t->qiov_offset, 0);
    default:
        g_assert_not_reached();
    }
}

static int coroutine_fn qcow2_co_preadv_part(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes,
                                             QEMUIOVector *qiov,
                                             size_t qiov_offset,
                                             BdrvRequestFlags flags)
{
    BDRVQcow2State *s = bs->opaque;
    AioTaskPool *pool = NULL;
    int ret = 0;

    if (s->dead) {
        return -ENOMEDIUM;
    }

    while (bytes > 0 && aio_task_pool_status(pool) == 0) {
        unsigned int cur_bytes = MIN(bytes, INT_MAX);
        uint64_t host_offset = 0;
        QCow2ClusterType type;

        qemu_co_mutex_lock(&s->lock);
        ret = qcow2_get_host_offset(bs, offset, &cur_bytes, &host_offset,
                                    &type);
        qemu_co_mutex_unlock(&s->lock);
        if (ret < 0) {
            break;
        }

        if (type == QCOW2_CLUSTER_ZERO_PLAIN ||
            type == QCOW2_CLUSTER_ZERO_ALLOC ||
            (type == QCOW2_CLUSTER_UNALLOCATED && !bs->backing)) {
            qemu_iovec_memset(qiov, qiov_offset, 0, cur_bytes);
        } else {
            if (!pool && cur_bytes != bytes) {
                pool = aio_task_pool_new(QCOW2_MAX_WORKERS);
            }
            ret = qcow2_add_task(pool, qcow2_co_preadv_task,
                                 &(Qcow2AioTask) {
                                     .bs = bs,
                                     .cluster_type = type,
                                     .host_offset = host_offset,
                                     .offset = offset,
                                     .bytes = cur_bytes,
                                     .qiov = qiov,
                                     .qiov_offset = qiov_offset,
                                 });
            if (ret < 0) {
                break;
            }
        }
        offset += cur_bytes;
        bytes -= cur_bytes;
        qiov_offset += cur_bytes;
    }
    return qcow2_finish_tasks(pool, ret);
}

/* ---- Writes ---- */

/*
 * If the guest data lies exactly between the COW head and tail of one
 * allocation, let the COW write it too: one write instead of three.
 */
static bool qcow2_merge_cow(uint64_t offset, unsigned bytes,
                            QEMUIOVector *qiov, size_t qiov_offset,
                            QCowL2Meta *l2meta)
{
    for (QCowL2Meta *m = l2meta; m; m = m->next) {
        if ((m->cow_start.nb_bytes == 0 && m->cow_end.nb_bytes == 0) ||
            m->skip_cow) {
            continue;
        }
        if (l2meta_cow_start(m) + m->cow_start.nb_bytes != offset ||
            m->offset + m->cow_end.offset != offset + bytes) {
            continue;
        }
        if (qemu_iovec_subvec_niov(qiov, qiov_offset, bytes) > IOV_MAX - 2) {
            continue;
        }
        m->data_qiov = qiov;
        m->data_qiov_offset = qiov_offset;
        return true;
    }
    return false;
}

/* Nothing in the backing chain at [offset, offset + bytes)? (fast) */
static bool coroutine_fn qcow2_is_unallocated(BlockDriverState *bs,
                                              int64_t offset, int64_t bytes)
{
    int64_t nr;

    return !bytes ||
           (!bdrv_co_is_allocated_above(bs, NULL, false, offset, bytes, &nr) &&
            nr == bytes);
}

/*
 * Copy-on-write regions that would copy zeroes: zero the new clusters in
 * the file instead (one cheap request, no buffer) and skip the copy.
 */
static int coroutine_fn qcow2_handle_alloc_space(BlockDriverState *bs,
                                                 QCowL2Meta *l2meta)
{
    BDRVQcow2State *s = bs->opaque;

    if (!(s->data_file->bs->supported_zero_flags & BDRV_REQ_NO_FALLBACK)) {
        return 0;
    }

    for (QCowL2Meta *m = l2meta; m; m = m->next) {
        uint64_t host_start = m->alloc_offset + m->cow_start.offset;
        unsigned nb_bytes = m->cow_end.offset + m->cow_end.nb_bytes -
                            m->cow_start.offset;
        int ret;

        if (!m->cow_start.nb_bytes && !m->cow_end.nb_bytes) {
            continue;
        }
        if (!qcow2_is_unallocated(bs, m->offset + m->cow_start.offset,
                                  m->cow_start.nb_bytes) ||
            !qcow2_is_unallocated(bs, m->offset + m->cow_end.offset,
                                  m->cow_end.nb_bytes)) {
            continue;
        }

        ret = qcow2_pre_write_overlap_check(bs, 0, host_start, nb_bytes,
                                            true);
        if (ret < 0) {
            return ret;
        }
        bdrv_debug_event(bs->file->bs, BLKDBG_CLUSTER_ALLOC_SPACE);
        ret = bdrv_co_pwrite_zeroes(s->data_file, host_start, nb_bytes,
                                    BDRV_REQ_NO_FALLBACK);
        if (ret < 0) {
            if (ret != -ENOTSUP && ret != -EAGAIN) {
                return ret;
            }
            continue;
        }
        m->skip_cow = true;
    }
    return 0;
}

int qcow2_handle_l2meta(BlockDriverState *bs, QCowL2Meta **pl2meta,
                        bool link_l2)
{
    QCowL2Meta *l2meta = *pl2meta;
    int ret = 0;

    while (l2meta) {
        QCowL2Meta *next;

        if (link_l2) {
            ret = qcow2_alloc_cluster_link_l2(bs, l2meta);
            if (ret < 0) {
                break;
            }
        } else {
            qcow2_alloc_cluster_abort(bs, l2meta);
        }
        QLIST_REMOVE(l2meta, next_in_flight);
        qemu_co_queue_restart_all(&l2meta->dependent_requests);
        next = l2meta->next;
        g_free(l2meta);
        l2meta = next;
    }
    *pl2meta = l2meta;
    return ret;
}

/* Write one allocated piece, then commit (or undo) its allocations. */
static int coroutine_fn qcow2_co_pwritev_task(AioTask *task)
{
    Qcow2AioTask *t = container_of(task, Qcow2AioTask, task);
    BlockDriverState *bs = t->bs;
    BDRVQcow2State *s = bs->opaque;
    int ret;

    ret = qcow2_handle_alloc_space(bs, t->l2meta);
    if (ret >= 0 && !qcow2_merge_cow(t->offset, t->bytes, t->qiov,
                                     t->qiov_offset, t->l2meta)) {
        bdrv_debug_event(bs->file->bs, BLKDBG_WRITE_AIO);
        ret = bdrv_co_pwritev_part(s->data_file, t->host_offset, t->bytes,
                                   t->qiov, t->qiov_offset, 0);
    }

    qemu_co_mutex_lock(&s->lock);
    if (ret >= 0) {
        ret = qcow2_handle_l2meta(bs, &t->l2meta, true);
    }
    qcow2_handle_l2meta(bs, &t->l2meta, false);
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

int coroutine_fn qcow2_co_pwritev_part(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       size_t qiov_offset,
                                       BdrvRequestFlags flags)
{
    BDRVQcow2State *s = bs->opaque;
    AioTaskPool *pool = NULL;
    int ret = 0;

    if (s->dead) {
        return -ENOMEDIUM;
    }

    while (bytes > 0 && aio_task_pool_status(pool) == 0) {
        unsigned int cur_bytes = MIN(bytes, INT_MAX);
        QCowL2Meta *l2meta = NULL;
        uint64_t host_offset;

        qemu_co_mutex_lock(&s->lock);
        ret = qcow2_alloc_host_offset(bs, offset, &cur_bytes, &host_offset,
                                      &l2meta);
        if (ret >= 0) {
            ret = qcow2_pre_write_overlap_check(bs, 0, host_offset,
                                                cur_bytes, true);
        }
        if (ret < 0) {
            qcow2_handle_l2meta(bs, &l2meta, false);
            qemu_co_mutex_unlock(&s->lock);
            break;
        }
        qemu_co_mutex_unlock(&s->lock);

        if (!pool && cur_bytes != bytes) {
            pool = aio_task_pool_new(QCOW2_MAX_WORKERS);
        }
        ret = qcow2_add_task(pool, qcow2_co_pwritev_task,
                             &(Qcow2AioTask) {
                                 .bs = bs,
                                 .host_offset = host_offset,
                                 .offset = offset,
                                 .bytes = cur_bytes,
                                 .qiov = qiov,
                                 .qiov_offset = qiov_offset,
                                 .l2meta = l2meta,
                             });
        if (ret < 0) {
            break;
        }
        offset += cur_bytes;
        bytes -= cur_bytes;
        qiov_offset += cur_bytes;
    }
    /* No FUA in supported_write_flags: the core flushes after the write. */
    return qcow2_finish_tasks(pool, ret);
}

/* Does guest [offset, offset + bytes) read as zeroes (backing included)? */
static bool coroutine_fn qcow2_is_zero(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes)
{
    int64_t end = bs->total_sectors * BDRV_SECTOR_SIZE;
    int64_t nr = 0;
    int res = 0;

    bytes = MIN(bytes, end - offset);
    if (bytes <= 0) {
        return true;
    }
    /* Zeroes of different kinds come in separate pieces: loop. */
    do {
        res = bdrv_co_block_status_above(bs, NULL, offset, bytes, &nr, NULL,
                                         NULL);
        offset += nr;
        bytes -= nr;
    } while (res >= 0 && (res & BDRV_BLOCK_ZERO) && nr && bytes);

    return res >= 0 && (res & BDRV_BLOCK_ZERO) && bytes == 0;
}

/*
 * Zero clusters need whole clusters: a partial one qualifies only if
 * the rest of it reads as zeroes already (then it is zeroed whole);
 * otherwise the core falls back to writing zeroes.
 */
static int coroutine_fn qcow2_co_pwrite_zeroes(BlockDriverState *bs,
                                               int64_t offset, int64_t bytes,
                                               BdrvRequestFlags flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint32_t head = offset_into_cluster(s, offset);
    uint32_t tail = ROUND_UP(offset + bytes, s->cluster_size) -
                    (offset + bytes);
    int ret;

    if (s->dead) {
        return -ENOMEDIUM;
    }
    if (offset + bytes == bs->total_sectors * BDRV_SECTOR_SIZE) {
        tail = 0;
    }

    if (head || tail) {
        unsigned int nr = s->cluster_size;
        QCow2ClusterType type;
        uint64_t host_offset;

        assert(head + bytes + tail <= (uint64_t)s->cluster_size);
        if (!(qcow2_is_zero(bs, offset - head, head) &&
              qcow2_is_zero(bs, offset + bytes, tail))) {
            return -ENOTSUP;
        }

        qemu_co_mutex_lock(&s->lock);
        /* A write may have come in since the check. */
        offset -= head;
        bytes = s->cluster_size;
        ret = qcow2_get_host_offset(bs, offset, &nr, &host_offset, &type);
        if (ret < 0 ||
            (type != QCOW2_CLUSTER_UNALLOCATED &&
             type != QCOW2_CLUSTER_ZERO_PLAIN &&
             type != QCOW2_CLUSTER_ZERO_ALLOC)) {
            qemu_co_mutex_unlock(&s->lock);
            return ret < 0 ? ret : -ENOTSUP;
        }
    } else {
        qemu_co_mutex_lock(&s->lock);
    }

    ret = qcow2_subcluster_zeroize(bs, offset, bytes, flags);
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

static int coroutine_fn qcow2_co_pdiscard(BlockDriverState *bs,
                                          int64_t offset, int64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->dead) {
        return -ENOMEDIUM;
    }
    /* Without a zero flag, discarding would expose the backing data. */
    if (s->qcow_version < 3 && bs->backing) {
        return -ENOTSUP;
    }

    /* Partial clusters are ignored, except a whole last partial one. */
    if (!QEMU_IS_ALIGNED(offset | bytes, s->cluster_size)) {
        assert(bytes < s->cluster_size);
        if (!QEMU_IS_ALIGNED(offset, s->cluster_size) ||
            offset + bytes != bs->total_sectors * BDRV_SECTOR_SIZE) {
            return -ENOTSUP;
        }
    }

    qemu_co_mutex_lock(&s->lock);
    ret = qcow2_cluster_discard(bs, offset, bytes, QCOW2_DISCARD_REQUEST,
                                false);
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/* One cluster (or the last partial one) compressed, else written plain. */
static int coroutine_fn qcow2_co_pwrite_compressed_cluster(
    BlockDriverState *bs, uint64_t offset, uint64_t bytes,
    QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *out_buf = g_malloc(s->cluster_size);
    uint8_t *buf = qemu_blockalign(bs, s->cluster_size);
    uint64_t host_offset;
    ssize_t out_len;
    int ret;

    assert(bytes == (uint64_t)s->cluster_size ||
           (bytes < (uint64_t)s->cluster_size &&
            offset + bytes == bs->total_sectors * BDRV_SECTOR_SIZE));

    /* The last cluster of an unaligned image is padded with zeroes. */
    memset(buf + bytes, 0, s->cluster_size - bytes);
    qemu_iovec_to_buf(qiov, qiov_offset, buf, bytes);

    out_len = qcow2_co_compress(bs, out_buf, s->cluster_size - 1, buf,
                                s->cluster_size);
    if (out_len == -ENOMEM) {
        /* It does not shrink: a normal cluster is as good. */
        ret = qcow2_co_pwritev_part(bs, offset, bytes, qiov, qiov_offset, 0);
        goto out;
    } else if (out_len < 0) {
        ret = -EINVAL;
        goto out;
    }

    qemu_co_mutex_lock(&s->lock);
    ret = qcow2_alloc_compressed_cluster_offset(bs, offset, out_len,
                                                &host_offset);
    if (ret >= 0) {
        ret = qcow2_pre_write_overlap_check(bs, 0, host_offset, out_len,
                                            true);
    }
    qemu_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        goto out;
    }

    bdrv_debug_event(bs->file->bs, BLKDBG_WRITE_COMPRESSED);
    ret = bdrv_co_pwrite(s->data_file, host_offset, out_len, out_buf, 0);
out:
    qemu_vfree(buf);
    return ret < 0 ? ret : 0;
}

static int coroutine_fn qcow2_co_pwritev_compressed_part(BlockDriverState *bs,
                                                         int64_t offset,
                                                         int64_t bytes,
                                                         QEMUIOVector *qiov,
                                                         size_t qiov_offset)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->dead) {
        return -ENOMEDIUM;
    }
    if (bytes == 0) {
        /* End the file on a sector boundary (sector-based readers). */
        int64_t len = bdrv_co_getlength(bs->file->bs);

        if (len < 0) {
            return len;
        }
        return bdrv_co_truncate(bs->file, len, false, PREALLOC_MODE_OFF, 0,
                                NULL);
    }
    if (offset_into_cluster(s, offset)) {
        return -EINVAL;
    }
    if (offset_into_cluster(s, bytes) &&
        offset + bytes != bs->total_sectors * BDRV_SECTOR_SIZE) {
        return -EINVAL;
    }

    while (bytes > 0) {
        uint64_t chunk = MIN(bytes, s->cluster_size);

        ret = qcow2_co_pwrite_compressed_cluster(bs, offset, chunk, qiov,
                                                 qiov_offset);
        if (ret < 0) {
            return ret;
        }
        offset += chunk;
        bytes -= chunk;
        qiov_offset += chunk;
    }
    return 0;
}

/* ---- Block status, flush ---- */

static int coroutine_fn qcow2_co_block_status(BlockDriverState *bs,
                                              bool want_zero,
                                              int64_t offset, int64_t count,
                                              int64_t *pnum, int64_t *map,
                                              BlockDriverState **file)
{
    BDRVQcow2State *s = bs->opaque;
    unsigned int bytes = MIN(INT_MAX, count);
    uint64_t host_offset = 0;
    QCow2ClusterType type;
    int ret, status = 0;

    if (s->dead) {
        return -ENOMEDIUM;
    }

    qemu_co_mutex_lock(&s->lock);
    if (!s->metadata_preallocation_checked) {
        ret = qcow2_detect_metadata_preallocation(bs);
        s->metadata_preallocation = ret == 1;
        s->metadata_preallocation_checked = true;
    }
    ret = qcow2_get_host_offset(bs, offset, &bytes, &host_offset, &type);
    qemu_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        return ret;
    }

    *pnum = bytes;
    if (type == QCOW2_CLUSTER_NORMAL || type == QCOW2_CLUSTER_ZERO_ALLOC) {
        *map = host_offset;
        *file = s->data_file->bs;
        status |= BDRV_BLOCK_OFFSET_VALID;
    }
    if (type == QCOW2_CLUSTER_ZERO_PLAIN || type == QCOW2_CLUSTER_ZERO_ALLOC) {
        status |= BDRV_BLOCK_ZERO;
    } else if (type != QCOW2_CLUSTER_UNALLOCATED) {
        status |= BDRV_BLOCK_DATA;
    }
    /* Preallocated metadata: the file knows which data is really there. */
    if (s->metadata_preallocation && (status & BDRV_BLOCK_DATA) &&
        (status & BDRV_BLOCK_OFFSET_VALID)) {
        status |= BDRV_BLOCK_RECURSE;
    }
    return status;
}

static int coroutine_fn qcow2_co_flush_to_os(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->dead) {
        return -ENOMEDIUM;
    }
    qemu_co_mutex_lock(&s->lock);
    ret = qcow2_write_caches(bs);
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/* ---- VM state: the area past the disk, at l1_vm_state_index ---- */

static int coroutine_fn qcow2_co_writev_vmstate(BlockDriverState *bs,
                                                QEMUIOVector *qiov,
                                                int64_t pos)
{
    BDRVQcow2State *s = bs->opaque;

    bdrv_debug_event(bs->file->bs, BLKDBG_VMSTATE_SAVE);
    return qcow2_co_pwritev_part(bs, qcow2_vm_state_offset(s) + pos,
                                 qiov->size, qiov, 0, 0);
}

static int coroutine_fn qcow2_co_readv_vmstate(BlockDriverState *bs,
                                               QEMUIOVector *qiov,
                                               int64_t pos)
{
    BDRVQcow2State *s = bs->opaque;

    bdrv_debug_event(bs->file->bs, BLKDBG_VMSTATE_LOAD);
    return qcow2_co_preadv_part(bs, qcow2_vm_state_offset(s) + pos,
                                qiov->size, qiov, 0, 0);
}

/* ---- Information ---- */

static int qcow2_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->dead) {
        return -ENOMEDIUM;
    }
    bdi->cluster_size = s->cluster_size;
    bdi->vm_state_offset = qcow2_vm_state_offset(s);
    bdi->is_dirty = s->incompatible_features & QCOW2_INCOMPAT_DIRTY;
    return 0;
}

/*
 * QEMU's ImageInfoSpecificQCow2, members inserted in schema order (the
 * QDict's iteration order then matches QEMU's output).
 */
static ImageInfoSpecific *qcow2_get_specific_info(BlockDriverState *bs,
                                                  Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    ImageInfoSpecific *info = g_new0(ImageInfoSpecific, 1);
    QDict *d = qdict_new();

    info->type = g_strdup("qcow2");
    info->data = d;
    if (s->qcow_version == 2) {
        qdict_put_str(d, "compat", "0.10");
        qdict_put_int(d, "refcount-bits", s->refcount_bits);
    } else {
        qdict_put_str(d, "compat", "1.1");
        qdict_put_bool(d, "extended-l2", false);
        qdict_put_bool(d, "lazy-refcounts",
                       s->compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS);
        qdict_put_bool(d, "corrupt",
                       s->incompatible_features & QCOW2_INCOMPAT_CORRUPT);
        qdict_put_int(d, "refcount-bits", s->refcount_bits);
    }
    if (s->crypt_method_header == QCOW_CRYPT_AES) {
        QDict *encrypt = qdict_new();

        qdict_put_str(encrypt, "format", "aes");
        qdict_put(d, "encrypt", encrypt);
    }
    qdict_put_str(d, "compression-type",
                  s->compression_type == QCOW2_COMPRESSION_TYPE_ZSTD ?
                  "zstd" : "zlib");
    return info;
}

/*
 * A new image reads as zeroes unless it was preallocated (then the L2
 * tables exist, the first one at least) over a file that does not.
 */
static int qcow2_has_zero_init(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    bool preallocated;

    if (qemu_in_coroutine()) {
        qemu_co_mutex_lock(&s->lock);
    }
    preallocated = s->l1_size > 0 && s->l1_table[0] != 0;
    if (qemu_in_coroutine()) {
        qemu_co_mutex_unlock(&s->lock);
    }
    if (!preallocated) {
        return 1;
    }
    return bdrv_has_zero_init(s->data_file->bs);
}

static int qcow2_change_backing_file(BlockDriverState *bs,
                                     const char *backing_file,
                                     const char *backing_fmt)
{
    BDRVQcow2State *s = bs->opaque;

    if (backing_file && strlen(backing_file) > 1023) {
        return -EINVAL;
    }

    pstrcpy(bs->auto_backing_file, sizeof(bs->auto_backing_file),
            backing_file ?: "");
    pstrcpy(bs->backing_file, sizeof(bs->backing_file), backing_file ?: "");
    pstrcpy(bs->backing_format, sizeof(bs->backing_format),
            backing_fmt ?: "");

    g_free(s->image_backing_file);
    g_free(s->image_backing_format);
    s->image_backing_file = backing_file ? g_strdup(bs->backing_file) : NULL;
    s->image_backing_format = backing_fmt ? g_strdup(bs->backing_format)
                                          : NULL;
    return qcow2_update_header(bs);
}

static BlockDriver bdrv_qcow2 = {
    .format_name                = "qcow2",
    .instance_size              = sizeof(BDRVQcow2State),
    .is_format                  = true,
    .supports_backing           = true,

    .bdrv_probe                 = qcow2_probe,
    .bdrv_open                  = qcow2_open,
    .bdrv_close                 = qcow2_close,
    .bdrv_reopen_prepare        = qcow2_reopen_prepare,
    .bdrv_reopen_commit         = qcow2_reopen_commit,
    .bdrv_reopen_abort          = qcow2_reopen_abort,
    .bdrv_join_options          = qcow2_join_options,
    .bdrv_child_perm            = bdrv_default_perms,
    .bdrv_refresh_limits        = qcow2_refresh_limits,
    .bdrv_co_create_opts        = qcow2_co_create_opts,
    .bdrv_co_truncate           = qcow2_co_truncate,

    .bdrv_co_preadv_part        = qcow2_co_preadv_part,
    .bdrv_co_pwritev_part       = qcow2_co_pwritev_part,
    .bdrv_co_pwrite_zeroes      = qcow2_co_pwrite_zeroes,
    .bdrv_co_pdiscard           = qcow2_co_pdiscard,
    .bdrv_co_pwritev_compressed_part = qcow2_co_pwritev_compressed_part,
    .bdrv_co_block_status       = qcow2_co_block_status,
    .bdrv_co_flush_to_os        = qcow2_co_flush_to_os,
    .bdrv_co_readv_vmstate      = qcow2_co_readv_vmstate,
    .bdrv_co_writev_vmstate     = qcow2_co_writev_vmstate,

    .bdrv_snapshot_list         = qcow2_snapshot_list,

    .bdrv_get_info              = qcow2_get_info,
    .bdrv_get_specific_info     = qcow2_get_specific_info,
    .bdrv_has_zero_init         = qcow2_has_zero_init,
    .bdrv_change_backing_file   = qcow2_change_backing_file,
    .bdrv_co_check              = qcow2_co_check,

    .create_opts                = &qcow2_create_opts,
    .mutable_opts               = qcow2_mutable_opts,
    .strong_runtime_opts        = qcow2_strong_runtime_opts,
};

static void bdrv_qcow2_init(void)
{
    bdrv_register(&bdrv_qcow2);
}

block_init(bdrv_qcow2_init);
