/*
 * qcow2: image creation, preallocation and resizing.
 *
 * Creation writes what QEMU 7.2 writes, in the same order, so that the
 * files are byte-identical: a bare header and a refcount table with one
 * refcount block (clusters 0-2), then, through the driver, the refcounts
 * of those clusters, the full header, the L1 table for the size (and the
 * preallocation), and the backing file.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/host-utils.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "block/qcow2.h"

/* QEMU 7.2's order: the "Formatting ..." line of qemu-img follows it. */
QemuOptsList qcow2_create_opts = {
    .name = "qcow2-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(qcow2_create_opts.head),
    .desc = {
        {
            .name = BLOCK_OPT_ENCRYPT,
            .type = QEMU_OPT_BOOL,
            .help = "Encrypt the image with format 'aes'. (Deprecated in "
                    "favor of " BLOCK_OPT_ENCRYPT_FORMAT "=aes)",
        },
        {
            .name = BLOCK_OPT_ENCRYPT_FORMAT,
            .type = QEMU_OPT_STRING,
            .help = "Encrypt the image, format choices: 'aes', 'luks'",
        },
        {
            .name = "encrypt.key-secret",
            .type = QEMU_OPT_STRING,
            .help = "ID of secret providing qcow AES key or LUKS passphrase",
        },
        {
            .name = "encrypt.cipher-alg",
            .type = QEMU_OPT_STRING,
            .help = "Name of encryption cipher algorithm",
        },
        {
            .name = "encrypt.cipher-mode",
            .type = QEMU_OPT_STRING,
            .help = "Name of encryption cipher mode",
        },
        {
            .name = "encrypt.ivgen-alg",
            .type = QEMU_OPT_STRING,
            .help = "Name of IV generator algorithm",
        },
        {
            .name = "encrypt.ivgen-hash-alg",
            .type = QEMU_OPT_STRING,
            .help = "Name of IV generator hash algorithm",
        },
        {
            .name = "encrypt.hash-alg",
            .type = QEMU_OPT_STRING,
            .help = "Name of encryption hash algorithm",
        },
        {
            .name = "encrypt.iter-time",
            .type = QEMU_OPT_NUMBER,
            .help = "Time to spend in PBKDF in milliseconds",
        },
        {
            .name = BLOCK_OPT_CLUSTER_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "qcow2 cluster size",
            .def_value_str = "65536"
        },
        {
            .name = BLOCK_OPT_EXTL2,
            .type = QEMU_OPT_BOOL,
            .help = "Extended L2 tables",
            .def_value_str = "off"
        },
        {
            .name = BLOCK_OPT_PREALLOC,
            .type = QEMU_OPT_STRING,
            .help = "Preallocation mode (allowed values: off, metadata, "
                    "falloc, full)"
        },
        {
            .name = BLOCK_OPT_COMPRESSION_TYPE,
            .type = QEMU_OPT_STRING,
            .help = "Compression method used for image cluster compression",
            .def_value_str = "zlib"
        },
        {
            .name = BLOCK_OPT_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Virtual disk size"
        },
        {
            .name = BLOCK_OPT_COMPAT_LEVEL,
            .type = QEMU_OPT_STRING,
            .help = "Compatibility level (v2 [0.10] or v3 [1.1])"
        },
        {
            .name = BLOCK_OPT_BACKING_FILE,
            .type = QEMU_OPT_STRING,
            .help = "File name of a base image"
        },
        {
            .name = BLOCK_OPT_BACKING_FMT,
            .type = QEMU_OPT_STRING,
            .help = "Image format of the base image"
        },
        {
            .name = BLOCK_OPT_DATA_FILE,
            .type = QEMU_OPT_STRING,
            .help = "File name of an external data file"
        },
        {
            .name = BLOCK_OPT_DATA_FILE_RAW,
            .type = QEMU_OPT_BOOL,
            .help = "The external data file must stay valid as a raw image"
        },
        {
            .name = BLOCK_OPT_LAZY_REFCOUNTS,
            .type = QEMU_OPT_BOOL,
            .help = "Postpone refcount updates",
            .def_value_str = "off"
        },
        {
            .name = BLOCK_OPT_REFCOUNT_BITS,
            .type = QEMU_OPT_NUMBER,
            .help = "Width of a reference count entry in bits",
            .def_value_str = "16"
        },
        { /* end of list */ }
    }
};

/* The options of a new image, settled and validated. */
typedef struct Qcow2CreateParams {
    uint64_t size;
    int version;
    char *backing_file;
    char *backing_fmt;
    char *data_file;
    bool data_file_raw;
    char *encrypt_format;       /* "aes"/"luks" requested, or NULL */
    char *key_secret;
    uint64_t cluster_size;
    bool extended_l2;
    PreallocMode prealloc;
    bool lazy_refcounts;
    uint64_t refcount_bits;
    Qcow2CompressionType compression_type;
    /* As given, checked after the file exists (QEMU's order) */
    char *compat;
    char *prealloc_str;
    char *compression;
} Qcow2CreateParams;

static void qcow2_create_params_free(Qcow2CreateParams *p)
{
    g_free(p->backing_file);
    g_free(p->backing_fmt);
    g_free(p->data_file);
    g_free(p->encrypt_format);
    g_free(p->key_secret);
    g_free(p->compat);
    g_free(p->prealloc_str);
    g_free(p->compression);
}

/* Take our options out of opts: the protocol sees only its own. */
static void qcow2_take_create_opts(QemuOpts *opts, Qcow2CreateParams *p)
{
    bool encryption;

    p->size = ROUND_UP(qemu_opt_get_size_del(opts, BLOCK_OPT_SIZE, 0),
                       BDRV_SECTOR_SIZE);
    p->compat = qemu_opt_get_del(opts, BLOCK_OPT_COMPAT_LEVEL);
    p->backing_file = qemu_opt_get_del(opts, BLOCK_OPT_BACKING_FILE);
    p->backing_fmt = qemu_opt_get_del(opts, BLOCK_OPT_BACKING_FMT);
    p->data_file = qemu_opt_get_del(opts, BLOCK_OPT_DATA_FILE);
    p->data_file_raw = qemu_opt_get_bool_del(opts, BLOCK_OPT_DATA_FILE_RAW,
                                             false);
    encryption = qemu_opt_get_bool_del(opts, BLOCK_OPT_ENCRYPT, false);
    p->encrypt_format = qemu_opt_get_del(opts, BLOCK_OPT_ENCRYPT_FORMAT);
    p->key_secret = qemu_opt_get_del(opts, "encrypt.key-secret");
    g_free(qemu_opt_get_del(opts, "encrypt.cipher-alg"));
    g_free(qemu_opt_get_del(opts, "encrypt.cipher-mode"));
    g_free(qemu_opt_get_del(opts, "encrypt.ivgen-alg"));
    g_free(qemu_opt_get_del(opts, "encrypt.ivgen-hash-alg"));
    g_free(qemu_opt_get_del(opts, "encrypt.hash-alg"));
    qemu_opt_get_number_del(opts, "encrypt.iter-time", 0);
    p->cluster_size = qemu_opt_get_size_del(opts, BLOCK_OPT_CLUSTER_SIZE,
                                            DEFAULT_CLUSTER_SIZE);
    p->extended_l2 = qemu_opt_get_bool_del(opts, BLOCK_OPT_EXTL2, false);
    p->prealloc_str = qemu_opt_get_del(opts, BLOCK_OPT_PREALLOC);
    p->lazy_refcounts = qemu_opt_get_bool_del(opts, BLOCK_OPT_LAZY_REFCOUNTS,
                                              false);
    p->refcount_bits = qemu_opt_get_number_del(opts, BLOCK_OPT_REFCOUNT_BITS,
                                               16);
    p->compression = qemu_opt_get_del(opts, BLOCK_OPT_COMPRESSION_TYPE);

    if (encryption && !p->encrypt_format) {
        p->encrypt_format = g_strdup("aes");
    }
}

/*
 * The values whose errors QEMU reports while parsing the options, in
 * its order (version, backing-fmt, preallocation, compression-type).
 */
static int qcow2_parse_create_params(Qcow2CreateParams *p, Error **errp)
{
    const char *compat = p->compat;
    const char *prealloc = p->prealloc_str;
    const char *compression = p->compression;
    int i;

    if (!compat || !strcmp(compat, "1.1") || !strcmp(compat, "v3")) {
        p->version = 3;
    } else if (!strcmp(compat, "0.10") || !strcmp(compat, "v2")) {
        p->version = 2;
    } else {
        error_setg(errp, "Parameter 'version' does not accept value '%s'",
                   compat);
        return -EINVAL;
    }

    if (p->backing_fmt && !bdrv_find_format(p->backing_fmt)) {
        error_setg(errp, "Parameter 'backing-fmt' does not accept value '%s'",
                   p->backing_fmt);
        return -EINVAL;
    }

    p->prealloc = PREALLOC_MODE_OFF;
    if (prealloc) {
        for (i = 0; i < PREALLOC_MODE__MAX; i++) {
            if (!strcmp(prealloc, PreallocMode_str(i))) {
                break;
            }
        }
        if (i == PREALLOC_MODE__MAX) {
            error_setg(errp, "Parameter 'preallocation' does not accept "
                       "value '%s'", prealloc);
            return -EINVAL;
        }
        p->prealloc = i;
    }

    if (!compression || !strcmp(compression, "zlib")) {
        p->compression_type = QCOW2_COMPRESSION_TYPE_ZLIB;
    } else if (!strcmp(compression, "zstd")) {
        p->compression_type = QCOW2_COMPRESSION_TYPE_ZSTD;
    } else {
        error_setg(errp, "Parameter 'compression-type' does not accept value "
                   "'%s'", compression);
        return -EINVAL;
    }
    return 0;
}

/* The checks QEMU's qcow2_co_create makes, with its texts and order. */
static int qcow2_validate_create_params(Qcow2CreateParams *p, Error **errp)
{
    int cluster_bits = ctz64(p->cluster_size);
    int ret;

    ret = qcow2_parse_create_params(p, errp);
    if (ret < 0) {
        return ret;
    }

    if (p->extended_l2 && p->version < 3) {
        error_setg(errp, "Extended L2 entries are only supported with "
                   "compatibility level 1.1 and above (use version=v3 or "
                   "greater)");
        return -EINVAL;
    }
    if (cluster_bits < MIN_CLUSTER_BITS || cluster_bits > MAX_CLUSTER_BITS ||
        (1ULL << cluster_bits) != p->cluster_size) {
        error_setg(errp, "Cluster size must be a power of two between %d and "
                   "%dk", 1 << MIN_CLUSTER_BITS, 1 << (MAX_CLUSTER_BITS - 10));
        return -EINVAL;
    }
    if (p->extended_l2 && p->cluster_size < 16384) {
        error_setg(errp, "Extended L2 entries are only supported with "
                   "cluster sizes of at least %u bytes", 16384);
        return -EINVAL;
    }
    if (p->backing_file && p->prealloc != PREALLOC_MODE_OFF &&
        !p->extended_l2) {
        error_setg(errp, "Backing file and preallocation can only be used at "
                   "the same time if extended_l2 is on");
        return -EINVAL;
    }
    if (p->backing_fmt && !p->backing_file) {
        error_setg(errp, "Backing format cannot be used without backing file");
        return -EINVAL;
    }
    if (p->version < 3 && p->lazy_refcounts) {
        error_setg(errp, "Lazy refcounts only supported with compatibility "
                   "level 1.1 and above (use version=v3 or greater)");
        return -EINVAL;
    }
    if (p->refcount_bits > 64 || !is_power_of_2(p->refcount_bits)) {
        error_setg(errp, "Refcount width must be a power of two and may not "
                   "exceed 64 bits");
        return -EINVAL;
    }
    if (p->version < 3 && p->refcount_bits != 16) {
        error_setg(errp, "Different refcount widths than 16 bits require "
                   "compatibility level 1.1 or above (use version=v3 or "
                   "greater)");
        return -EINVAL;
    }
    if (p->data_file_raw && !p->data_file) {
        error_setg(errp, "data-file-raw requires data-file");
        return -EINVAL;
    }
    if (p->data_file_raw && p->backing_file) {
        error_setg(errp, "Backing file and data-file-raw cannot be used at "
                   "the same time");
        return -EINVAL;
    }
    if (p->data_file) {
        if (p->version < 3) {
            error_setg(errp, "External data files are only supported with "
                       "compatibility level 1.1 and above (use version=v3 or "
                       "greater)");
            return -EINVAL;
        }
        error_setg(errp, "External data files are not supported by this "
                   "qcow2 driver");
        return -ENOTSUP;
    }
    if (p->compression_type != QCOW2_COMPRESSION_TYPE_ZLIB) {
        if (p->version < 3) {
            error_setg(errp, "Non-zlib compression type is only supported "
                       "with compatibility level 1.1 and above (use "
                       "version=v3 or greater)");
            return -EINVAL;
        }
#ifndef CONFIG_ZSTD
        error_setg(errp, "Unknown compression type");
        return -EINVAL;
#endif
    }
    if (p->extended_l2) {
        error_setg(errp, "Extended L2 entries are not supported by this "
                   "qcow2 driver");
        return -ENOTSUP;
    }
    if (p->encrypt_format) {
        if (!p->key_secret) {
            error_setg(errp, "Parameter 'encrypt.key-secret' is required for "
                       "cipher");
            return -EINVAL;
        }
        error_setg(errp, "Encrypted qcow2 images are not supported by this "
                   "qcow2 driver");
        return -ENOTSUP;
    }
    return 0;
}

/* The bare start QEMU writes before opening the image as qcow2. */
static int coroutine_fn qcow2_write_initial(BlockBackend *blk,
                                            Qcow2CreateParams *p,
                                            Error **errp)
{
    uint64_t cs = p->cluster_size;
    g_autofree uint8_t *buf = g_malloc0(2 * cs);
    QCowHeader *h = (QCowHeader *)buf;
    int ret;

    h->magic = cpu_to_be32(QCOW_MAGIC);
    h->version = cpu_to_be32(p->version);
    h->cluster_bits = cpu_to_be32(ctz64(cs));
    h->refcount_table_offset = cpu_to_be64(cs);
    h->refcount_table_clusters = cpu_to_be32(1);
    h->refcount_order = cpu_to_be32(ctz64(p->refcount_bits));
    h->header_length = cpu_to_be32(sizeof(*h));
    h->compression_type = p->compression_type;
    if (p->lazy_refcounts) {
        h->compatible_features |= cpu_to_be64(QCOW2_COMPAT_LAZY_REFCOUNTS);
    }
    if (p->compression_type != QCOW2_COMPRESSION_TYPE_ZLIB) {
        h->incompatible_features |= cpu_to_be64(QCOW2_INCOMPAT_COMPRESSION);
    }
    ret = blk_co_pwrite(blk, 0, cs, buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not write qcow2 header");
        return ret;
    }

    /* The refcount table (cluster 1) and its one refcount block (2). */
    memset(buf, 0, 2 * cs);
    stq_be_p(buf, 2 * cs);
    ret = blk_co_pwrite(blk, cs, 2 * cs, buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not write refcount table");
        return ret;
    }
    return 0;
}

/* Through the driver: refcounts, full header, size, backing file. */
static int coroutine_fn qcow2_create_finish(const char *filename,
                                            Qcow2CreateParams *p,
                                            Error **errp)
{
    QDict *options = qdict_new();
    BlockBackend *blk;
    BlockDriverState *bs;
    int64_t ret;

    qdict_put_str(options, "driver", "qcow2");
    blk = blk_new_open(filename, NULL, options,
                       BDRV_O_RDWR | BDRV_O_RESIZE | BDRV_O_NO_FLUSH |
                       BDRV_O_NO_BACKING, errp);
    if (!blk) {
        return -EIO;
    }
    bs = blk_bs(blk);

    ret = qcow2_alloc_clusters(bs, 3 * p->cluster_size);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not allocate clusters for qcow2 "
                         "header and refcount table");
        goto out;
    }
    assert(ret == 0);

    ret = qcow2_update_header(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not update qcow2 header");
        goto out;
    }

    ret = blk_co_truncate(blk, p->size, false, p->prealloc, 0, errp);
    if (ret < 0) {
        error_prepend(errp, "Could not resize image: ");
        goto out;
    }

    if (p->backing_file) {
        ret = bdrv_change_backing_file(bs, p->backing_file, p->backing_fmt,
                                       false);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not assign backing file '%s' "
                             "with format '%s'", p->backing_file,
                             p->backing_fmt);
            goto out;
        }
    }
    ret = 0;
out:
    blk_unref(blk);
    return ret;
}

/* Remove what a failed creation left, as QEMU does. */
static void coroutine_fn qcow2_delete_file(const char *filename)
{
    BlockBackend *blk = blk_new_open(filename, NULL, NULL,
                                     BDRV_O_RDWR | BDRV_O_PROTOCOL, NULL);
    BlockDriverState *bs;

    if (!blk) {
        return;
    }
    bs = blk_bs(blk);
    if (bs->drv && bs->drv->bdrv_co_delete_file) {
        bs->drv->bdrv_co_delete_file(bs, NULL);
    }
    blk_unref(blk);
}

int coroutine_fn qcow2_co_create_opts(BlockDriver *drv, const char *filename,
                                      QemuOpts *opts, Error **errp)
{
    Qcow2CreateParams p = { 0 };
    BlockBackend *blk = NULL;
    bool created = false;
    int ret;

    qcow2_take_create_opts(opts, &p);
    ret = bdrv_co_create_file(filename, opts, errp);
    if (ret < 0) {
        goto out;
    }
    created = true;

    ret = qcow2_validate_create_params(&p, errp);
    if (ret < 0) {
        goto out;
    }

    blk = blk_new_open(filename, NULL, NULL,
                       BDRV_O_RDWR | BDRV_O_RESIZE | BDRV_O_PROTOCOL, errp);
    if (!blk) {
        ret = -EIO;
        goto out;
    }
    blk_set_allow_write_beyond_eof(blk, true);
    ret = qcow2_write_initial(blk, &p, errp);
    blk_unref(blk);
    if (ret < 0) {
        goto out;
    }

    ret = qcow2_create_finish(filename, &p, errp);

out:
    if (ret < 0 && created) {
        qcow2_delete_file(filename);
    }
    qcow2_create_params_free(&p);
    return ret;
}

/* ---- Preallocation and truncate ---- */

/*
 * Allocate clusters (and their L2 tables) for guest [offset, new_length)
 * and make the file cover them; called with s->lock held.
 */
static int coroutine_fn qcow2_preallocate(BlockDriverState *bs,
                                          uint64_t offset,
                                          uint64_t new_length,
                                          PreallocMode mode, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bytes = new_length - offset;
    uint64_t host_offset = 0;
    unsigned int cur_bytes = 0;
    QCowL2Meta *meta = NULL;
    int64_t file_length;
    int ret;

    while (bytes) {
        cur_bytes = MIN(bytes, QEMU_ALIGN_DOWN(INT_MAX, s->cluster_size));
        ret = qcow2_alloc_host_offset(bs, offset, &cur_bytes, &host_offset,
                                      &meta);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Allocating clusters failed");
            goto out;
        }
        ret = qcow2_handle_l2meta(bs, &meta, true);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Mapping clusters failed");
            goto out;
        }
        bytes -= cur_bytes;
        offset += cur_bytes;
    }

    /* Reads past the end of the file would fail: extend it. */
    file_length = bdrv_co_getlength(s->data_file->bs);
    if (file_length < 0) {
        error_setg_errno(errp, -file_length, "Could not get file size");
        ret = file_length;
        goto out;
    }
    if ((int64_t)(host_offset + cur_bytes) > file_length) {
        if (mode == PREALLOC_MODE_METADATA) {
            mode = PREALLOC_MODE_OFF;
        }
        ret = bdrv_co_truncate(s->data_file, host_offset + cur_bytes, false,
                               mode, 0, errp);
        if (ret < 0) {
            goto out;
        }
    }
    ret = 0;
out:
    qcow2_handle_l2meta(bs, &meta, false);
    return ret;
}

/*
 * falloc/full preallocation: the new data clusters go in one run after
 * the current end of the image (with refcount structures placed for
 * them first), the file grows with the requested mode, and L2 entries
 * are written for them.  Called with s->lock held.
 */
static int coroutine_fn qcow2_preallocate_data(BlockDriverState *bs,
                                               uint64_t old_length,
                                               uint64_t new_length,
                                               PreallocMode prealloc,
                                               BdrvRequestFlags *flags,
                                               Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t old_file_size, last_cluster, allocation_start, allocated;
    int64_t host_offset, guest_offset, new_file_size;
    uint64_t nb_new_data_clusters, nb_new_l2_tables;
    int ret;

    old_file_size = bdrv_co_getlength(bs->file->bs);
    if (old_file_size < 0) {
        error_setg_errno(errp, -old_file_size,
                         "Failed to inquire current file length");
        return old_file_size;
    }
    last_cluster = qcow2_get_last_cluster(bs, old_file_size);
    if (last_cluster >= 0) {
        old_file_size = (last_cluster + 1) * s->cluster_size;
    } else {
        old_file_size = ROUND_UP(old_file_size, s->cluster_size);
    }

    nb_new_data_clusters = (ROUND_UP(new_length, s->cluster_size) -
                            start_of_cluster(s, old_length)) >>
                           s->cluster_bits;
    /* One more L2 table for a range that is not L2-aligned. */
    nb_new_l2_tables = DIV_ROUND_UP(nb_new_data_clusters,
                                    s->cluster_size / sizeof(uint64_t)) + 1;

    allocation_start = qcow2_refcount_area(bs, old_file_size,
                                           nb_new_data_clusters +
                                           nb_new_l2_tables, true, 0, 0);
    if (allocation_start < 0) {
        error_setg_errno(errp, -allocation_start,
                         "Failed to resize refcount structures");
        return allocation_start;
    }

    allocated = qcow2_alloc_clusters_at(bs, allocation_start,
                                        nb_new_data_clusters);
    if (allocated < 0) {
        error_setg_errno(errp, -allocated,
                         "Failed to allocate data clusters");
        return allocated;
    }
    assert((uint64_t)allocated == nb_new_data_clusters);

    new_file_size = allocation_start + nb_new_data_clusters * s->cluster_size;
    ret = -ENOTSUP;
    if (*flags & BDRV_REQ_ZERO_WRITE) {
        ret = bdrv_co_truncate(bs->file, new_file_size, false, prealloc,
                               BDRV_REQ_ZERO_WRITE, NULL);
        if (ret >= 0) {
            *flags &= ~BDRV_REQ_ZERO_WRITE;
        }
    }
    if (ret < 0) {
        ret = bdrv_co_truncate(bs->file, new_file_size, false, prealloc, 0,
                               errp);
    }
    if (ret < 0) {
        error_prepend(errp, "Failed to resize underlying file: ");
        qcow2_free_clusters(bs, allocation_start,
                            nb_new_data_clusters * s->cluster_size,
                            QCOW2_DISCARD_OTHER);
        return ret;
    }

    host_offset = allocation_start;
    guest_offset = old_length;
    while (nb_new_data_clusters) {
        int64_t nb_clusters =
            MIN(nb_new_data_clusters,
                s->l2_slice_size - offset_to_l2_slice_index(s, guest_offset));
        QCowL2Meta allocation = {
            .offset = start_of_cluster(s, guest_offset),
            .alloc_offset = host_offset,
            .nb_clusters = nb_clusters,
            .cow_start = {
                .offset = 0,
                .nb_bytes = offset_into_cluster(s, guest_offset),
            },
            .cow_end = {
                .offset = nb_clusters << s->cluster_bits,
                .nb_bytes = 0,
            },
        };

        qemu_co_queue_init(&allocation.dependent_requests);
        ret = qcow2_alloc_cluster_link_l2(bs, &allocation);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to update L2 tables");
            qcow2_free_clusters(bs, host_offset,
                                nb_new_data_clusters * s->cluster_size,
                                QCOW2_DISCARD_OTHER);
            return ret;
        }
        guest_offset = allocation.offset + nb_clusters * s->cluster_size;
        host_offset += nb_clusters * s->cluster_size;
        nb_new_data_clusters -= nb_clusters;
    }
    return 0;
}

/* Shrink: drop the clusters past the end, then the tables and file tail. */
static int coroutine_fn qcow2_shrink(BlockDriverState *bs, int64_t offset,
                                     uint64_t old_length, int64_t new_l1_size,
                                     Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t last_cluster, old_file_size;
    uint64_t start = ROUND_UP(offset, s->cluster_size);
    int ret;

    ret = qcow2_cluster_discard(bs, start, old_length - start,
                                QCOW2_DISCARD_ALWAYS, true);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to discard cropped clusters");
        return ret;
    }
    ret = qcow2_shrink_l1_table(bs, new_l1_size);
    if (ret < 0) {
        error_setg_errno(errp, -ret,
                         "Failed to reduce the number of L2 tables");
        return ret;
    }
    ret = qcow2_shrink_reftable(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to discard unused refblocks");
        return ret;
    }

    old_file_size = bdrv_co_getlength(bs->file->bs);
    if (old_file_size < 0) {
        error_setg_errno(errp, -old_file_size,
                         "Failed to inquire current file length");
        return old_file_size;
    }
    last_cluster = qcow2_get_last_cluster(bs, old_file_size);
    if (last_cluster < 0) {
        error_setg_errno(errp, -last_cluster,
                         "Failed to find the last cluster");
        return last_cluster;
    }
    if ((last_cluster + 1) * s->cluster_size < old_file_size) {
        Error *local_err = NULL;

        /* Not exact: the qcow2 layer's size is exact anyway. */
        bdrv_co_truncate(bs->file, (last_cluster + 1) * s->cluster_size,
                         false, PREALLOC_MODE_OFF, 0, &local_err);
        if (local_err) {
            error_prepend(&local_err,
                          "Failed to truncate the tail of the image: ");
            warn_report_err(local_err);
        }
    }
    return 0;
}

int coroutine_fn qcow2_co_truncate(BlockDriverState *bs, int64_t offset,
                                   bool exact, PreallocMode prealloc,
                                   BdrvRequestFlags flags, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old_length;
    int64_t new_l1_size;
    uint64_t size_be;
    QDict *options;
    int ret;

    if (s->dead) {
        /* As QEMU's core says for a node whose driver is gone. */
        error_setg(errp, "No medium inserted");
        return -ENOMEDIUM;
    }
    if (!QEMU_IS_ALIGNED(offset, BDRV_SECTOR_SIZE)) {
        error_setg(errp, "The new size must be a multiple of %u",
                   (unsigned)BDRV_SECTOR_SIZE);
        return -EINVAL;
    }

    qemu_co_mutex_lock(&s->lock);

    /* v2 snapshot entries need not record the disk size. */
    if (s->nb_snapshots && s->qcow_version < 3) {
        error_setg(errp, "Can't resize a v2 image which has snapshots");
        ret = -ENOTSUP;
        goto fail;
    }

    old_length = bs->total_sectors * BDRV_SECTOR_SIZE;
    new_l1_size = size_to_l1(s, offset);

    if ((uint64_t)offset < old_length) {
        if (prealloc != PREALLOC_MODE_OFF) {
            error_setg(errp,
                       "Preallocation can't be used for shrinking an image");
            ret = -EINVAL;
            goto fail;
        }
        ret = qcow2_shrink(bs, offset, old_length, new_l1_size, errp);
        if (ret < 0) {
            goto fail;
        }
    } else {
        ret = qcow2_grow_l1_table(bs, new_l1_size, true);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to grow the L1 table");
            goto fail;
        }
    }

    switch (prealloc) {
    case PREALLOC_MODE_OFF:
        break;
    case PREALLOC_MODE_METADATA:
        ret = qcow2_preallocate(bs, old_length, offset, prealloc, errp);
        break;
    case PREALLOC_MODE_FALLOC:
    case PREALLOC_MODE_FULL:
        ret = qcow2_preallocate_data(bs, old_length, offset, prealloc,
                                     &flags, errp);
        break;
    default:
        error_setg(errp, "Unsupported preallocation mode '%s'",
                   PreallocMode_str(prealloc));
        ret = -ENOTSUP;
        break;
    }
    if (ret < 0) {
        goto fail;
    }

    if ((flags & BDRV_REQ_ZERO_WRITE) && (uint64_t)offset > old_length) {
        uint64_t zero_start = ROUND_UP(old_length, s->cluster_size);

        /* Zero clusters where possible (the end may be unaligned). */
        if ((uint64_t)offset > zero_start) {
            ret = qcow2_subcluster_zeroize(bs, zero_start,
                                           offset - zero_start, 0);
            if (ret < 0) {
                error_setg_errno(errp, -ret,
                                 "Failed to zero out new clusters");
                goto fail;
            }
        }
        /* Explicit zeroes for the unaligned head. */
        if (zero_start > old_length) {
            uint64_t len = MIN(zero_start, (uint64_t)offset) - old_length;
            uint8_t *buf = qemu_blockalign0(bs, len);
            QEMUIOVector qiov;

            qemu_iovec_init_buf(&qiov, buf, len);
            qemu_co_mutex_unlock(&s->lock);
            ret = qcow2_co_pwritev_part(bs, old_length, len, &qiov, 0, 0);
            qemu_co_mutex_lock(&s->lock);
            qemu_vfree(buf);
            if (ret < 0) {
                error_setg_errno(errp, -ret,
                                 "Failed to zero out the new area");
                goto fail;
            }
        }
    }

    if (prealloc != PREALLOC_MODE_OFF) {
        /* The metadata must be on disk before the size says it exists. */
        ret = qcow2_write_caches(bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret,
                             "Failed to flush the preallocated area to disk");
            goto fail;
        }
    }

    bs->total_sectors = offset / BDRV_SECTOR_SIZE;
    size_be = cpu_to_be64(offset);
    ret = bdrv_co_pwrite_sync(bs->file, offsetof(QCowHeader, size),
                              sizeof(size_be), &size_be, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to update the image size");
        goto fail;
    }
    s->l1_vm_state_index = new_l1_size;

    /* The cache sizes depend on the disk size. */
    options = qdict_clone_shallow(bs->options);
    ret = qcow2_update_options(bs, options, s->flags, errp);
    qobject_unref(options);
    if (ret < 0) {
        goto fail;
    }
    ret = 0;
fail:
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}
