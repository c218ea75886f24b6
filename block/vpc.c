/*
 * vpc: the VHD (Virtual PC, Hyper-V) format driver.
 *
 * Fixed and dynamic images behave as in QEMU 7.2, down to the bytes of
 * the images created and the error messages; differencing images (which
 * QEMU 7.2 opens as dynamic ones, losing the parent) live in vpc-diff.c.
 * The on-disk layout is described in vpc.h.
 *
 * Two QEMU 7.2 behaviours are kept on purpose, for identical results:
 *  - dynamic images are read without looking at the sector bitmaps (an
 *    allocated block is read whole), and the first write to a block sets
 *    every bit of its bitmap;
 *  - a fixed image (footer only at the end) is not probed: without -f vpc
 *    it opens as raw.
 * Allocation differs in one respect: QEMU flushes after each of the three
 * metadata writes of a new block, we flush once, between the block's
 * bitmap and footer (which must be stable first) and its BAT entry.
 */
#include "qemu/osdep.h"
#include <uuid/uuid.h>
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qemu/host-utils.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "block/vpc.h"

/* ---- On-disk structures: load, store, checksum ---- */

/*
 * The integer fields between big-endian and host order: the same swap
 * serves both directions.
 */
static void vpc_footer_bswap(VHDFooter *f)
{
    f->features = be32_to_cpu(f->features);
    f->version = be32_to_cpu(f->version);
    f->data_offset = be64_to_cpu(f->data_offset);
    f->timestamp = be32_to_cpu(f->timestamp);
    f->major = be16_to_cpu(f->major);
    f->minor = be16_to_cpu(f->minor);
    f->orig_size = be64_to_cpu(f->orig_size);
    f->current_size = be64_to_cpu(f->current_size);
    f->cyls = be16_to_cpu(f->cyls);
    f->type = be32_to_cpu(f->type);
    f->checksum = be32_to_cpu(f->checksum);
}

static void vpc_dyn_header_bswap(VHDDynHeader *h)
{
    h->data_offset = be64_to_cpu(h->data_offset);
    h->table_offset = be64_to_cpu(h->table_offset);
    h->version = be32_to_cpu(h->version);
    h->max_table_entries = be32_to_cpu(h->max_table_entries);
    h->block_size = be32_to_cpu(h->block_size);
    h->checksum = be32_to_cpu(h->checksum);
    h->parent_timestamp = be32_to_cpu(h->parent_timestamp);
    for (int i = 0; i < ARRAY_SIZE(h->parent_name); i++) {
        h->parent_name[i] = be16_to_cpu(h->parent_name[i]);
    }
    for (int i = 0; i < VHD_MAX_LOCATORS; i++) {
        VHDParentLocator *l = &h->loc[i];

        l->platform = be32_to_cpu(l->platform);
        l->data_space = be32_to_cpu(l->data_space);
        l->data_length = be32_to_cpu(l->data_length);
        l->data_offset = be64_to_cpu(l->data_offset);
    }
}

/* The footer/header checksum of len bytes, the field at csum_off zeroed. */
static uint32_t vpc_checksum(const uint8_t *buf, size_t len, size_t csum_off)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < len; i++) {
        if (i < csum_off || i >= csum_off + 4) {
            sum += buf[i];
        }
    }
    return ~sum;
}

#define VHD_FOOTER_CSUM_OFFSET  offsetof(VHDFooter, checksum)
#define VHD_DYN_CSUM_OFFSET     offsetof(VHDDynHeader, checksum)

/* Store the checksum of len bytes at csum_off, and return it. */
static uint32_t vpc_set_checksum(uint8_t *buf, size_t len, size_t csum_off)
{
    uint32_t sum = vpc_checksum(buf, len, csum_off);

    stl_be_p(buf + csum_off, sum);
    return sum;
}

static void vpc_footer_load(VHDFooter *f, const uint8_t *buf)
{
    memcpy(f, buf, sizeof(*f));
    vpc_footer_bswap(f);
}

/* f into buf, with its checksum (which f->checksum receives too). */
static void vpc_footer_store(uint8_t *buf, VHDFooter *f)
{
    memcpy(buf, f, sizeof(*f));
    vpc_footer_bswap((VHDFooter *)buf);
    f->checksum = vpc_set_checksum(buf, sizeof(*f), VHD_FOOTER_CSUM_OFFSET);
}

static void vpc_dyn_header_load(VHDDynHeader *h, const uint8_t *buf)
{
    memcpy(h, buf, sizeof(*h));
    vpc_dyn_header_bswap(h);
}

/* h into buf, with its checksum (which h->checksum receives too). */
static void vpc_dyn_header_store(uint8_t *buf, VHDDynHeader *h)
{
    memcpy(buf, h, sizeof(*h));
    vpc_dyn_header_bswap((VHDDynHeader *)buf);
    h->checksum = vpc_set_checksum(buf, sizeof(*h), VHD_DYN_CSUM_OFFSET);
}

bool vpc_is_vpc_node(BlockDriverState *bs)
{
    return bs && bs->drv && !strcmp(bs->drv->format_name, "vpc");
}

/* ---- Geometry and size ---- */

/*
 * The CHS geometry the VHD specification assigns to total_sectors: as
 * many cylinders as fit with 17, 31, 63 or 255 sectors per track.
 */
static void vpc_calc_geometry(int64_t total_sectors, uint16_t *cyls,
                              uint8_t *heads, uint8_t *secs_per_cyl)
{
    int64_t cyls_times_heads;

    total_sectors = MIN(total_sectors, VHD_MAX_GEOMETRY);

    if (total_sectors >= VHD_CHS_MAX_C * 16 * 63) {
        *secs_per_cyl = 255;
        *heads = 16;
        cyls_times_heads = total_sectors / 255;
    } else {
        *secs_per_cyl = 17;
        cyls_times_heads = total_sectors / 17;
        *heads = MAX(DIV_ROUND_UP(cyls_times_heads, 1024), 4);
        if (cyls_times_heads >= *heads * 1024 || *heads > 16) {
            *secs_per_cyl = 31;
            *heads = 16;
            cyls_times_heads = total_sectors / 31;
        }
        if (cyls_times_heads >= *heads * 1024) {
            *secs_per_cyl = 63;
            *heads = 16;
            cyls_times_heads = total_sectors / 63;
        }
    }
    *cyls = cyls_times_heads / *heads;
}

/*
 * The geometry and sector count of a new image of size bytes (a multiple
 * of 512): the smallest CHS product not below the size, unless that is
 * the largest geometry (or force_size): then the size itself, which may
 * not exceed 2040 GiB.
 */
static int vpc_rounded_size(int64_t size, bool force_size, uint16_t *cyls,
                            uint8_t *heads, uint8_t *secs_per_cyl,
                            int64_t *total_sectors, Error **errp)
{
    int64_t want = MIN(VHD_MAX_GEOMETRY, size / BDRV_SECTOR_SIZE);
    int64_t chs = 0;

    *cyls = 0;
    *heads = 0;
    *secs_per_cyl = 0;
    if (force_size) {
        *cyls = VHD_CHS_MAX_C;
        *heads = VHD_CHS_MAX_H;
        *secs_per_cyl = VHD_CHS_MAX_S;
        chs = VHD_MAX_GEOMETRY;
    } else {
        /* Round up: the next sector counts until the product covers it. */
        for (int64_t i = 0; chs < want; i++) {
            vpc_calc_geometry(want + i, cyls, heads, secs_per_cyl);
            chs = (int64_t)*cyls * *heads * *secs_per_cyl;
        }
    }

    if (chs == VHD_MAX_GEOMETRY) {
        *total_sectors = size / BDRV_SECTOR_SIZE;
        if (*total_sectors > VHD_MAX_SECTORS) {
            error_setg(errp, "Disk size is too large, max size is 2040 GiB");
            return -EFBIG;
        }
    } else {
        *total_sectors = chs;
    }
    return 0;
}

/*
 * Virtual PC sizes a disk by its CHS geometry, Hyper-V and most other
 * tools by current_size; the footer's creator application tells which:
 *
 *   "vpc "  Virtual PC         CHS
 *   "vs  "  Virtual Server     CHS
 *   "qemu"  QEMU               CHS
 *   "vbox"  VirtualBox         CHS
 *   "qem2"  QEMU, force_size   current_size
 *   "win "  Hyper-V            current_size
 *   "d2v "  Disk2vhd           current_size
 *   "CTXS"  XenConverter       current_size
 *   "tap\0" XenServer          current_size
 *   others                     CHS
 *
 * A maximal geometry cannot describe the disk, so current_size wins
 * there whatever the creator.  force_size_calc overrides the table (but
 * not the maximal-geometry rule for "chs").  Disk2vhd writes "d2v\0" in
 * practice, which only the maximal geometry saves (as in QEMU).
 */
static int64_t vpc_virtual_sectors(BDRVVPCState *s)
{
    const VHDFooter *f = &s->footer;
    int64_t chs = (int64_t)f->cyls * f->heads * f->secs_per_cyl;
    bool use_chs;

    use_chs = (memcmp(f->creator_app, "win ", 4) &&
               memcmp(f->creator_app, "qem2", 4) &&
               memcmp(f->creator_app, "d2v ", 4) &&
               memcmp(f->creator_app, "CTXS", 4) &&
               memcmp(f->creator_app, "tap", 4)) || s->force_use_chs;

    if (!use_chs || chs == VHD_MAX_GEOMETRY || s->force_use_sz) {
        return f->current_size / BDRV_SECTOR_SIZE;
    }
    return chs;
}

/* ---- Options, probe ---- */

static QemuOptsList vpc_runtime_opts = {
    .name = "vpc-runtime-opts",
    .head = QTAILQ_HEAD_INITIALIZER(vpc_runtime_opts.head),
    .desc = {
        {
            .name = VPC_OPT_SIZE_CALC,
            .type = QEMU_OPT_STRING,
            .help = "Force disk size calculation to use either CHS geometry, "
                    "or use the disk current_size specified in the VHD "
                    "footer. {chs, current_size}"
        },
        { /* end of list */ }
    }
};

static const char *const vpc_strong_runtime_opts[] = {
    VPC_OPT_SIZE_CALC,
    NULL
};

static int vpc_parse_options(BlockDriverState *bs, QemuOpts *opts,
                             Error **errp)
{
    BDRVVPCState *s = bs->opaque;
    const char *size_calc = qemu_opt_get(opts, VPC_OPT_SIZE_CALC);

    if (!size_calc) {
        return 0;
    }
    if (!strcmp(size_calc, "current_size")) {
        s->force_use_sz = true;
    } else if (!strcmp(size_calc, "chs")) {
        s->force_use_chs = true;
    } else {
        error_setg(errp, "Invalid size calculation mode: '%s'", size_calc);
        return -EINVAL;
    }
    return 0;
}

/* Only the copy at offset 0 is recognised: fixed images probe as raw. */
static int vpc_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    if (buf_size >= 8 && !memcmp(buf, "conectix", 8)) {
        return 100;
    }
    return 0;
}

/* ---- Open ---- */

/*
 * Read the footer: the copy at offset 0 if there is one, else the one at
 * the end of the file, which must then describe a fixed disk.
 */
static int vpc_read_footer(BlockDriverState *bs, bool *head_copy,
                           Error **errp)
{
    BDRVVPCState *s = bs->opaque;
    uint8_t *buf = s->footer_buf;
    int64_t len;
    int ret;

    ret = bdrv_pread(bs->file, 0, VHD_FOOTER_SIZE, buf, 0);
    if (ret < 0) {
        error_setg(errp, "Unable to read VHD header");
        return ret;
    }

    *head_copy = !memcmp(buf, "conectix", 8);
    if (!*head_copy) {
        len = bdrv_getlength(bs->file->bs);
        if (len < 0) {
            error_setg(errp, "Invalid file size");
            return len;
        }
        if (len < VHD_FOOTER_SIZE) {
            error_setg(errp, "File too small for a VHD header");
            return -EINVAL;
        }
        ret = bdrv_pread(bs->file, len - VHD_FOOTER_SIZE, VHD_FOOTER_SIZE,
                         buf, 0);
        if (ret < 0) {
            return ret;
        }
        if (memcmp(buf, "conectix", 8) ||
            ldl_be_p(buf + offsetof(VHDFooter, type)) != VHD_FIXED) {
            error_setg(errp, "invalid VPC image");
            return -EINVAL;
        }
    }

    if (vpc_checksum(buf, VHD_FOOTER_SIZE, VHD_FOOTER_CSUM_OFFSET) !=
        ldl_be_p(buf + VHD_FOOTER_CSUM_OFFSET)) {
        error_setg(errp, "Incorrect header checksum");
        return -EINVAL;
    }
    vpc_footer_load(&s->footer, buf);
    return 0;
}

/* Does [start, end) overlap one of the image's metadata areas? */
static bool vpc_overlaps_metadata(BDRVVPCState *s, int64_t start,
                                  int64_t end)
{
    int64_t bat_end = s->host_bat_offset + (int64_t)s->max_table_entries * 4;
    int64_t dyn = s->footer.data_offset;

    if (start < VHD_FOOTER_SIZE ||
        (start < dyn + VHD_DYN_HEADER_SIZE && dyn < end) ||
        (start < bat_end && (int64_t)s->host_bat_offset < end)) {
        return true;
    }
    for (int i = 0; i < VHD_MAX_LOCATORS; i++) {
        if (start < s->host_loc_end[i] && s->host_loc_start[i] < end) {
            return true;
        }
    }
    return false;
}

/*
 * Load and check the BAT of a dynamic or differencing image and find
 * where new blocks go: after the BAT, the headers, the locators and every
 * block.
 */
static int vpc_load_bat(BlockDriverState *bs, int64_t file_length,
                        Error **errp)
{
    BDRVVPCState *s = bs->opaque;
    int64_t bat_size = (int64_t)s->max_table_entries * 4;
    int64_t entry_span = (int64_t)s->bitmap_size + s->block_size;
    int64_t free_offset;
    int ret;

    if (bat_size > BDRV_REQUEST_MAX_BYTES ||
        s->host_bat_offset > BDRV_MAX_LENGTH - bat_size) {
        /* QEMU fails the read; say what it says, without the allocation. */
        error_setg(errp, "Error reading pagetable");
        return -EIO;
    }
    free_offset = ROUND_UP(s->host_bat_offset + bat_size, BDRV_SECTOR_SIZE);
    free_offset = MAX(free_offset,
                      ROUND_UP(s->footer.data_offset + VHD_DYN_HEADER_SIZE,
                               BDRV_SECTOR_SIZE));
    for (int i = 0; i < VHD_MAX_LOCATORS; i++) {
        free_offset = MAX(free_offset,
                          ROUND_UP(s->host_loc_end[i], BDRV_SECTOR_SIZE));
    }
    if (free_offset > file_length) {
        goto truncated;
    }

    s->bat = g_try_malloc(MAX(bat_size, 1));
    if (!s->bat) {
        error_setg(errp, "Unable to allocate memory for page table");
        return -ENOMEM;
    }
    ret = bdrv_pread(bs->file, s->host_bat_offset, bat_size, s->bat, 0);
    if (ret < 0) {
        error_setg(errp, "Error reading pagetable");
        return ret;
    }

    for (uint32_t i = 0; i < s->max_table_entries; i++) {
        int64_t start, end;

        s->bat[i] = be32_to_cpu(s->bat[i]);
        if (s->bat[i] == VHD_BAT_UNUSED) {
            continue;
        }
        start = (int64_t)s->bat[i] * BDRV_SECTOR_SIZE;
        end = start + entry_span;
        if (end > file_length) {
            goto truncated;
        }
        if (vpc_overlaps_metadata(s, start, end)) {
            error_setg(errp, "Block %" PRIu32 " (offset 0x%" PRIx64 ") "
                       "overlaps the image metadata", i, start);
            return -EINVAL;
        }
        free_offset = MAX(free_offset, end);
    }
    s->host_free_offset = free_offset;
    s->host_ready_end = free_offset;
    s->host_footer_offset = free_offset;
    return 0;

truncated:
    error_setg(errp, "block-vpc: free_data_block_offset points after the "
               "end of file. The image has been truncated.");
    return -EINVAL;
}

/* The dynamic header and the BAT of a dynamic or differencing image. */
static int vpc_open_sparse(BlockDriverState *bs, QDict *options,
                           Error **errp)
{
    BDRVVPCState *s = bs->opaque;
    g_autofree uint8_t *buf = g_malloc(VHD_DYN_HEADER_SIZE);
    VHDDynHeader *h = &s->dyn_header;
    int64_t file_length;
    int ret;

    ret = bdrv_pread(bs->file, s->footer.data_offset, VHD_DYN_HEADER_SIZE,
                     buf, 0);
    if (ret < 0) {
        error_setg(errp, "Error reading dynamic VHD header");
        return ret;
    }
    vpc_dyn_header_load(h, buf);

    /* Like QEMU, the header checksum is not verified. */
    if (memcmp(h->magic, "cxsparse", 8)) {
        error_setg(errp, "Invalid header magic");
        return -EINVAL;
    }

    s->block_size = h->block_size;
    if (!is_power_of_2(s->block_size) || s->block_size < BDRV_SECTOR_SIZE) {
        error_setg(errp, "Invalid block size %" PRIu32, s->block_size);
        return -EINVAL;
    }
    if (s->disk_type == VHD_DIFFERENCING) {
        /* One bit per sector, in whole sectors (the spec's rule). */
        s->bitmap_size = ROUND_UP(s->block_size / BDRV_SECTOR_SIZE / 8,
                                  BDRV_SECTOR_SIZE);
        s->bitmap_size = MAX(s->bitmap_size, BDRV_SECTOR_SIZE);
    } else {
        /* QEMU's rule (blocks under 4 KiB get no bitmap), for its images. */
        s->bitmap_size = ROUND_UP(s->block_size / (8 * BDRV_SECTOR_SIZE),
                                  BDRV_SECTOR_SIZE);
    }

    s->max_table_entries = h->max_table_entries;
    if ((bs->total_sectors * BDRV_SECTOR_SIZE) / s->block_size >
        0xffffffffU) {
        error_setg(errp, "Too many blocks");
        return -EINVAL;
    }
    if ((uint64_t)s->max_table_entries * s->block_size <
        bs->total_sectors * BDRV_SECTOR_SIZE) {
        error_setg(errp, "Page table too small");
        return -EINVAL;
    }
    if (s->max_table_entries > INT_MAX / 4) {
        error_setg(errp, "Max Table Entries too large (%" PRId32 ")",
                   (int32_t)s->max_table_entries);
        return -EINVAL;
    }
    s->host_bat_offset = h->table_offset;

    file_length = bdrv_getlength(bs->file->bs);
    if (file_length < 0) {
        error_setg_errno(errp, -file_length, "Could not get the file size");
        return file_length;
    }

    if (s->disk_type == VHD_DIFFERENCING) {
        ret = vpc_diff_open(bs, options, file_length, errp);
        if (ret < 0) {
            return ret;
        }
    }

    ret = vpc_load_bat(bs, file_length, errp);
    if (ret < 0) {
        return ret;
    }

    if (s->disk_type == VHD_DYNAMIC) {
        s->bitmap_full = g_try_malloc0(DIV_ROUND_UP(s->max_table_entries, 8) +
                                       1);
        if (!s->bitmap_full) {
            error_setg(errp, "Unable to allocate memory for page table");
            return -ENOMEM;
        }
    }
    return 0;
}

static int vpc_open(BlockDriverState *bs, QDict *options, int flags,
                    Error **errp)
{
    BDRVVPCState *s = bs->opaque;
    QemuOpts *opts;
    bool head_copy;
    int ret;

    qemu_co_mutex_init(&s->lock);
    qemu_co_queue_init(&s->alloc_queue);
    qemu_co_queue_init(&s->reserve_queue);

    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        return ret;
    }

    opts = qemu_opts_create(&vpc_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        ret = -EINVAL;
        goto fail;
    }
    ret = vpc_parse_options(bs, opts, errp);
    if (ret < 0) {
        goto fail;
    }

    ret = vpc_read_footer(bs, &head_copy, errp);
    if (ret < 0) {
        goto fail;
    }

    /*
     * As in QEMU, the layout follows where the footer was found (a copy at
     * offset 0 means a dynamic header), the I/O path the footer's type.
     * Unknown types with a header copy are handled as dynamic.
     */
    s->io_fixed = s->footer.type == VHD_FIXED;
    s->disk_type = !head_copy ? VHD_FIXED :
                   s->footer.type == VHD_DIFFERENCING ? VHD_DIFFERENCING :
                   VHD_DYNAMIC;

    bs->total_sectors = vpc_virtual_sectors(s);
    if (bs->total_sectors > VHD_MAX_SECTORS) {
        /* QEMU sets no message: "Could not open 'x': File too large". */
        ret = -EFBIG;
        goto fail;
    }

    if (head_copy) {
        ret = vpc_open_sparse(bs, options, errp);
        if (ret < 0) {
            goto fail;
        }
    }

    ret = vpc_check_as_parent(bs, errp);
    if (ret < 0) {
        goto fail;
    }

    qemu_opts_del(opts);
    return 0;

fail:
    qemu_opts_del(opts);
    vpc_diff_close(bs);
    g_free(s->bat);
    g_free(s->bitmap_full);
    s->bat = NULL;
    s->bitmap_full = NULL;
    return ret;
}

/*
 * Give the file QEMU's layout again (the footer right after the last
 * block) when space was reserved beyond it.  Failure leaves a valid
 * image, only longer.
 */
static void vpc_trim(BlockDriverState *bs)
{
    BDRVVPCState *s = bs->opaque;

    if (s->host_footer_offset <= s->host_free_offset ||
        !(bs->open_flags & BDRV_O_RDWR)) {
        return;
    }
    if (bdrv_pwrite(bs->file, s->host_free_offset, VHD_FOOTER_SIZE,
                    s->footer_buf, 0) < 0 ||
        bdrv_flush(bs->file->bs) < 0 ||
        bdrv_truncate(bs->file, s->host_free_offset + VHD_FOOTER_SIZE, true,
                      PREALLOC_MODE_OFF, 0, NULL) < 0) {
        return;
    }
    s->host_footer_offset = s->host_free_offset;
    s->host_ready_end = s->host_free_offset;
}

static void vpc_close(BlockDriverState *bs)
{
    BDRVVPCState *s = bs->opaque;

    if (s->bat) {
        vpc_trim(bs);
    }
    vpc_diff_close(bs);
    g_free(s->bat);
    g_free(s->bitmap_full);
}

static int vpc_reopen_prepare(BDRVReopenState *state,
                              BlockReopenQueue *queue, Error **errp)
{
    /* Still writable here: leave the file as QEMU lays it out. */
    if (!(state->flags & BDRV_O_RDWR)) {
        vpc_trim(state->bs);
    }
    return 0;
}

static void vpc_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVVPCState *s = bs->opaque;

    /*
     * A differencing image owns whole sectors (one bitmap bit each): let
     * the core turn partial-sector writes into read-modify-write, whose
     * read fetches the parent's part.
     */
    if (s->disk_type == VHD_DIFFERENCING) {
        bs->bl.request_alignment = BDRV_SECTOR_SIZE;
    }
}

static int vpc_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BDRVVPCState *s = bs->opaque;

    if (!s->io_fixed) {
        bdi->cluster_size = s->block_size;
    }
    return 0;
}

static int vpc_has_zero_init(BlockDriverState *bs)
{
    BDRVVPCState *s = bs->opaque;

    if (s->io_fixed) {
        return bdrv_has_zero_init(bs->file->bs);
    }
    return 1;
}

/* ---- I/O on fixed and dynamic images ---- */

static inline bool vpc_test_bit(const uint8_t *map, uint32_t i)
{
    return map[i / 8] & (1 << (i % 8));
}

static inline void vpc_set_bit(uint8_t *map, uint32_t i)
{
    map[i / 8] |= 1 << (i % 8);
}

int coroutine_fn vpc_co_data_io(BlockDriverState *bs, bool write,
                                int64_t host_offset, int64_t bytes,
                                QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVVPCState *s = bs->opaque;
    int ret;

    qemu_co_mutex_unlock(&s->lock);
    if (write) {
        ret = bdrv_co_pwritev_part(bs->file, host_offset, bytes, qiov,
                                   qiov_offset, 0);
    } else {
        ret = bdrv_co_preadv_part(bs->file, host_offset, bytes, qiov,
                                  qiov_offset, 0);
    }
    qemu_co_mutex_lock(&s->lock);
    return ret;
}

/*
 * Call fn for each block that [offset, offset + bytes) touches, in order,
 * with s->lock held; stop at the first error.
 */
static int coroutine_fn vpc_co_for_each_block(BlockDriverState *bs,
                                              int64_t offset, int64_t bytes,
                                              QEMUIOVector *qiov,
                                              size_t qiov_offset,
                                              VPCBlockFunc *fn)
{
    BDRVVPCState *s = bs->opaque;
    int ret = 0;

    qemu_co_mutex_lock(&s->lock);
    while (bytes > 0 && ret >= 0) {
        uint32_t index = offset / s->block_size;
        int64_t in_block = offset % s->block_size;
        int64_t n = MIN(bytes, s->block_size - in_block);

        assert(index < s->max_table_entries);
        ret = fn(bs, index, in_block, n, qiov, qiov_offset);
        offset += n;
        bytes -= n;
        qiov_offset += n;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/* A VPCBlockFunc: read from one block of a dynamic image. */
static int coroutine_fn vpc_co_read_block(BlockDriverState *bs,
                                          uint32_t index, int64_t in_block,
                                          int64_t n, QEMUIOVector *qiov,
                                          size_t qiov_offset)
{
    BDRVVPCState *s = bs->opaque;

    if (s->bat[index] == VHD_BAT_UNUSED) {
        qemu_iovec_memset(qiov, qiov_offset, 0, n);
        return 0;
    }
    /* Like QEMU: the bitmap is not consulted for dynamic images. */
    return vpc_co_data_io(bs, false, vpc_host_data_offset(s, index, in_block),
                          n, qiov, qiov_offset);
}

static int coroutine_fn vpc_co_preadv_part(BlockDriverState *bs,
                                           int64_t offset, int64_t bytes,
                                           QEMUIOVector *qiov,
                                           size_t qiov_offset,
                                           BdrvRequestFlags flags)
{
    BDRVVPCState *s = bs->opaque;

    if (s->io_fixed) {
        return bdrv_co_preadv_part(bs->file, offset, bytes, qiov, qiov_offset,
                                   0);
    }
    if (s->disk_type == VHD_DIFFERENCING) {
        return vpc_diff_co_preadv(bs, offset, bytes, qiov, qiov_offset);
    }
    return vpc_co_for_each_block(bs, offset, bytes, qiov, qiov_offset,
                                 vpc_co_read_block);
}

/*
 * Space for new blocks is reserved ahead, up to VPC_RESERVE_BYTES of
 * blocks at a time (never more than the BAT can still use): the footer
 * moves behind it, whatever the file had there is zeroed, and a flush
 * makes the new file size stable.  A block placed in reserved space then
 * needs no flush before its BAT entry: if a crash loses its bitmap, that
 * reads as zeroes, an empty bitmap.  QEMU instead flushes after each of
 * the three writes of every new block.
 *
 * The next reservation starts in the background once half of the
 * current one is used, so that sequential writers rarely wait for it.
 */

/* Reserve from host_ready_end on; called with s->reserving set. */
static int coroutine_fn vpc_co_reserve(BlockDriverState *bs)
{
    BDRVVPCState *s = bs->opaque;
    int64_t span = (int64_t)s->bitmap_size + s->block_size;
    int64_t n = MAX(VPC_RESERVE_BYTES / span, 1);
    int64_t start, end, reserved, unused = 0, file_len, stale_end;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    start = s->host_ready_end;
    /* Blocks already reserved count against the unused BAT entries. */
    reserved = (start - s->host_free_offset) / span;
    for (uint32_t i = 0; i < s->max_table_entries && unused < n + reserved;
         i++) {
        unused += s->bat[i] == VHD_BAT_UNUSED;
    }
    qemu_co_mutex_unlock(&s->lock);
    if (unused <= reserved) {
        return 0;
    }
    end = start + MIN(unused - reserved, n) * span;

    file_len = bdrv_getlength(bs->file->bs);
    if (file_len < 0) {
        return file_len;
    }
    /* The new footer first: the file must always end in one. */
    ret = bdrv_co_pwrite(bs->file, end, VHD_FOOTER_SIZE, s->footer_buf, 0);
    if (ret < 0) {
        return ret;
    }
    /* Old contents (the old footer) must not pass for a bitmap. */
    stale_end = MIN(file_len, end);
    if (stale_end > start) {
        ret = bdrv_co_pwrite_zeroes(bs->file, start, stale_end - start, 0);
        if (ret < 0) {
            return ret;
        }
    }
    ret = bdrv_co_flush(bs->file->bs);
    if (ret < 0) {
        return ret;
    }

    qemu_co_mutex_lock(&s->lock);
    s->host_ready_end = end;
    s->host_footer_offset = end;
    qemu_co_mutex_unlock(&s->lock);
    return 0;
}

static void coroutine_fn vpc_co_reserve_entry(void *opaque)
{
    BlockDriverState *bs = opaque;
    BDRVVPCState *s = bs->opaque;

    /* A failure here is met again, and reported, by the next allocation. */
    vpc_co_reserve(bs);

    qemu_co_mutex_lock(&s->lock);
    s->reserving = false;
    qemu_co_queue_restart_all(&s->reserve_queue);
    qemu_co_mutex_unlock(&s->lock);
    bdrv_dec_in_flight(bs);
}

/*
 * Make sure [host_free_offset, host_end) is reserved, and start the next
 * reservation early.  Called and returns with s->lock held.
 */
static int coroutine_fn vpc_co_ensure_reserved(BlockDriverState *bs,
                                               int64_t host_end)
{
    BDRVVPCState *s = bs->opaque;
    int ret;

    while (host_end > s->host_ready_end) {
        if (s->reserving) {
            qemu_co_queue_wait(&s->reserve_queue, &s->lock);
            continue;
        }
        s->reserving = true;
        qemu_co_mutex_unlock(&s->lock);
        ret = vpc_co_reserve(bs);
        qemu_co_mutex_lock(&s->lock);
        s->reserving = false;
        qemu_co_queue_restart_all(&s->reserve_queue);
        if (ret < 0) {
            return ret;
        }
        if (host_end > s->host_ready_end) {
            return -ENOSPC;
        }
    }

    if (!s->reserving &&
        s->host_ready_end - host_end < VPC_RESERVE_BYTES / 2) {
        s->reserving = true;
        bdrv_inc_in_flight(bs);
        aio_co_schedule(bdrv_get_aio_context(bs),
                        qemu_coroutine_create(vpc_co_reserve_entry, bs));
    }
    return 0;
}

int coroutine_fn vpc_co_alloc_block(BlockDriverState *bs, uint32_t index,
                                    bool zero_bitmap)
{
    BDRVVPCState *s = bs->opaque;
    g_autofree uint8_t *bitmap = NULL;
    int64_t host, host_end;
    uint32_t bat_entry;
    int ret;

    while (s->allocating) {
        qemu_co_queue_wait(&s->alloc_queue, &s->lock);
    }
    if (s->bat[index] != VHD_BAT_UNUSED) {
        return 0;
    }

    host = s->host_free_offset;
    host_end = host + s->bitmap_size + s->block_size;
    /* BAT entries are 32-bit sector numbers (and ~0 means unused). */
    if (host / BDRV_SECTOR_SIZE >= VHD_BAT_UNUSED) {
        return -EFBIG;
    }

    s->allocating = true;
    ret = vpc_co_ensure_reserved(bs, host_end);
    qemu_co_mutex_unlock(&s->lock);

    if (ret >= 0 && s->bitmap_size) {
        bitmap = g_malloc(s->bitmap_size);
        memset(bitmap, zero_bitmap ? 0 : 0xff, s->bitmap_size);
        ret = bdrv_co_pwrite(bs->file, host, s->bitmap_size, bitmap, 0);
    }
    if (ret >= 0) {
        bat_entry = cpu_to_be32(host / BDRV_SECTOR_SIZE);
        ret = bdrv_co_pwrite(bs->file, s->host_bat_offset + 4 * (int64_t)index,
                             sizeof(bat_entry), &bat_entry, 0);
    }

    qemu_co_mutex_lock(&s->lock);
    if (ret >= 0) {
        s->bat[index] = host / BDRV_SECTOR_SIZE;
        s->host_free_offset = host_end;
        if (s->disk_type == VHD_DIFFERENCING) {
            vpc_diff_new_block(s, index);
        } else {
            vpc_set_bit(s->bitmap_full, index);
        }
    }
    s->allocating = false;
    qemu_co_queue_restart_all(&s->alloc_queue);
    return ret < 0 ? ret : 0;
}

/*
 * QEMU sets every bit of a dynamic image's block bitmap before writing to
 * the block (reads ignore the bitmap anyway).  Blocks we allocated, or
 * whose bitmap we already filled, are remembered in bitmap_full.
 */
static int coroutine_fn vpc_co_fill_bitmap(BlockDriverState *bs,
                                           uint32_t index)
{
    BDRVVPCState *s = bs->opaque;
    g_autofree uint8_t *ones = NULL;
    int64_t host = vpc_host_bitmap_offset(s, index);
    int ret;

    if (vpc_test_bit(s->bitmap_full, index) || !s->bitmap_size) {
        return 0;
    }
    ones = g_malloc(s->bitmap_size);
    memset(ones, 0xff, s->bitmap_size);

    qemu_co_mutex_unlock(&s->lock);
    ret = bdrv_co_pwrite(bs->file, host, s->bitmap_size, ones, 0);
    qemu_co_mutex_lock(&s->lock);
    if (ret < 0) {
        return ret;
    }
    vpc_set_bit(s->bitmap_full, index);
    return 0;
}

/* A VPCBlockFunc: write to one block of a dynamic image. */
static int coroutine_fn vpc_co_write_block(BlockDriverState *bs,
                                           uint32_t index, int64_t in_block,
                                           int64_t n, QEMUIOVector *qiov,
                                           size_t qiov_offset)
{
    BDRVVPCState *s = bs->opaque;
    int ret;

    if (s->bat[index] == VHD_BAT_UNUSED) {
        ret = vpc_co_alloc_block(bs, index, false);
    } else {
        ret = vpc_co_fill_bitmap(bs, index);
    }
    if (ret < 0) {
        return ret;
    }
    return vpc_co_data_io(bs, true, vpc_host_data_offset(s, index, in_block),
                          n, qiov, qiov_offset);
}

static int coroutine_fn vpc_co_pwritev_part(BlockDriverState *bs,
                                            int64_t offset, int64_t bytes,
                                            QEMUIOVector *qiov,
                                            size_t qiov_offset,
                                            BdrvRequestFlags flags)
{
    BDRVVPCState *s = bs->opaque;

    if (s->io_fixed) {
        return bdrv_co_pwritev_part(bs->file, offset, bytes, qiov,
                                    qiov_offset, 0);
    }
    return vpc_co_for_each_block(bs, offset, bytes, qiov, qiov_offset,
                                 s->disk_type == VHD_DIFFERENCING ?
                                 vpc_diff_co_write_block :
                                 vpc_co_write_block);
}

/*
 * Fixed images map one to one onto the file.  In a dynamic image an
 * allocated block is DATA as a whole (bitmaps are not looked at) and
 * unallocated blocks read as ZERO, as in QEMU.
 */
static int coroutine_fn vpc_co_block_status(BlockDriverState *bs,
                                            bool want_zero,
                                            int64_t offset, int64_t bytes,
                                            int64_t *pnum, int64_t *map,
                                            BlockDriverState **file)
{
    BDRVVPCState *s = bs->opaque;
    int ret = BDRV_BLOCK_ZERO;

    if (s->io_fixed) {
        *pnum = bytes;
        *map = offset;
        *file = bs->file->bs;
        /* DATA, and ZERO where the file has holes (as QEMU reports). */
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID |
               BDRV_BLOCK_RECURSE;
    }
    if (s->disk_type == VHD_DIFFERENCING) {
        return vpc_diff_co_block_status(bs, offset, bytes, pnum, map, file);
    }

    qemu_co_mutex_lock(&s->lock);
    *pnum = 0;
    while (bytes > 0) {
        uint32_t index = offset / s->block_size;
        int64_t in_block = offset % s->block_size;
        int64_t n = MIN(bytes, s->block_size - in_block);

        assert(index < s->max_table_entries);
        if (s->bat[index] != VHD_BAT_UNUSED) {
            if (*pnum == 0) {
                /* A bitmap separates blocks: one block at most. */
                *pnum = n;
                *map = vpc_host_data_offset(s, index, in_block);
                *file = bs->file->bs;
                ret = BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
            }
            break;
        }
        *pnum += n;
        offset += n;
        bytes -= n;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/* ---- Creation ---- */

static QemuOptsList vpc_create_opts = {
    .name = "vpc-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(vpc_create_opts.head),
    .desc = {
        {
            .name = BLOCK_OPT_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Virtual disk size"
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
            .name = BLOCK_OPT_SUBFMT,
            .type = QEMU_OPT_STRING,
            .help =
                "Type of virtual hard disk format. Supported formats are "
                "{dynamic (default) | fixed} "
        },
        {
            .name = BLOCK_OPT_FORCE_SIZE,
            .type = QEMU_OPT_BOOL,
            .help = "Force disk size calculation to use the actual size "
                    "specified, rather than using the nearest CHS-based "
                    "calculation"
        },
        { /* end of list */ }
    }
};

/* What a new image looks like, settled from the options. */
typedef struct VPCCreateParams {
    uint32_t disk_type;
    int64_t size;               /* virtual size in bytes */
    uint16_t cyls;
    uint8_t heads;
    uint8_t secs_per_cyl;
    bool qem2;                  /* creator "qem2": size is current_size */
    /* Differencing: the parent. */
    char *parent_path;          /* as given (relative to the new image) */
    VHDFooter parent_footer;
} VPCCreateParams;

static void vpc_fill_footer(VHDFooter *f, const VPCCreateParams *p)
{
    memset(f, 0, sizeof(*f));
    memcpy(f->creator, "conectix", 8);
    memcpy(f->creator_app, p->qem2 ? "qem2" : "qemu", 4);
    memcpy(f->creator_os, "Wi2k", 4);
    f->features = 0x2;
    f->version = 0x00010000;
    f->data_offset = p->disk_type == VHD_FIXED ? ~0ULL : VHD_FOOTER_SIZE;
    f->timestamp = time(NULL) - VHD_TIMESTAMP_BASE;
    /* Virtual PC 2007 */
    f->major = 0x0005;
    f->minor = 0x0003;
    f->orig_size = p->size;
    f->current_size = p->size;
    f->cyls = p->cyls;
    f->heads = p->heads;
    f->secs_per_cyl = p->secs_per_cyl;
    f->type = p->disk_type;
    uuid_generate(f->uuid);
}

static int coroutine_fn vpc_co_create_fixed(BlockBackend *blk,
                                            VPCCreateParams *p, Error **errp)
{
    uint8_t buf[VHD_FOOTER_SIZE];
    VHDFooter footer;
    int ret;

    vpc_fill_footer(&footer, p);
    vpc_footer_store(buf, &footer);

    ret = blk_co_truncate(blk, p->size + VHD_FOOTER_SIZE, false,
                          PREALLOC_MODE_OFF, 0, errp);
    if (ret < 0) {
        return ret;
    }
    ret = blk_co_pwrite(blk, p->size, VHD_FOOTER_SIZE, buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Unable to write VHD header");
    }
    return ret;
}

/*
 * Footer copy, dynamic header at 512, BAT at 1536 (all unused), for a
 * differencing image the parent locators' data, and the footer.
 */
static int coroutine_fn vpc_co_create_dynamic(const char *filename,
                                              BlockBackend *blk,
                                              VPCCreateParams *p,
                                              Error **errp)
{
    uint8_t footer_buf[VHD_FOOTER_SIZE];
    g_autofree uint8_t *header_buf = g_malloc0(VHD_DYN_HEADER_SIZE);
    g_autofree uint8_t *bat = NULL;
    g_autofree uint8_t *loc_data = NULL;
    size_t loc_data_len = 0;
    int64_t bat_offset = 3 * BDRV_SECTOR_SIZE;
    int64_t bat_size, host_end;
    VHDFooter footer;
    VHDDynHeader h;
    int ret;

    memset(&h, 0, sizeof(h));
    memcpy(h.magic, "cxsparse", 8);
    h.data_offset = ~0ULL;
    h.table_offset = bat_offset;
    h.version = 0x00010000;
    h.block_size = VHD_DEFAULT_BLOCK_SIZE;
    h.max_table_entries = DIV_ROUND_UP(p->size, VHD_DEFAULT_BLOCK_SIZE);

    bat_size = ROUND_UP((int64_t)h.max_table_entries * 4, BDRV_SECTOR_SIZE);
    host_end = bat_offset + bat_size;
    if (p->disk_type == VHD_DIFFERENCING) {
        ret = vpc_diff_create_header(filename, p->parent_path,
                                     &p->parent_footer, &h, &host_end,
                                     &loc_data, &loc_data_len, errp);
        if (ret < 0) {
            return ret;
        }
    }

    vpc_dyn_header_store(header_buf, &h);

    vpc_fill_footer(&footer, p);
    vpc_footer_store(footer_buf, &footer);

    bat = g_malloc(bat_size + 1);
    memset(bat, 0xff, bat_size);

    ret = blk_co_pwrite(blk, 0, VHD_FOOTER_SIZE, footer_buf, 0);
    if (ret >= 0) {
        ret = blk_co_pwrite(blk, host_end, VHD_FOOTER_SIZE, footer_buf, 0);
    }
    if (ret >= 0 && bat_size) {
        ret = blk_co_pwrite(blk, bat_offset, bat_size, bat, 0);
    }
    if (ret >= 0) {
        ret = blk_co_pwrite(blk, VHD_FOOTER_SIZE, VHD_DYN_HEADER_SIZE,
                            header_buf, 0);
    }
    if (ret >= 0 && loc_data_len) {
        ret = blk_co_pwrite(blk, bat_offset + bat_size, loc_data_len,
                            loc_data, 0);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Unable to write VHD header");
    }
    return ret;
}

/*
 * Settle the parent of a differencing image: it must be a vpc image; the
 * child takes its size and geometry, and (when the parent's size is not
 * its CHS product) the "qem2" creator so that it reads as the same size.
 */
static int vpc_create_parent_params(const char *filename,
                                    const char *backing_file,
                                    const char *backing_fmt,
                                    VPCCreateParams *p, Error **errp)
{
    g_autofree char *full = NULL;
    BlockBackend *parent;
    BlockDriverState *pbs;
    BDRVVPCState *ps;
    QDict *options;
    int64_t chs;

    if (!backing_fmt || strcmp(backing_fmt, "vpc")) {
        error_setg(errp, "Invalid backing file format: %s. Must be vpc",
                   backing_fmt ?: "(none)");
        return -EINVAL;
    }

    full = bdrv_get_full_backing_filename_from_filename(filename,
                                                        backing_file, errp);
    if (!full) {
        return -EINVAL;
    }
    options = qdict_new();
    qdict_put_str(options, "driver", "vpc");
    qdict_put_bool(options, BDRV_OPT_FORCE_SHARE, true);
    parent = blk_new_open(full, NULL, options,
                          BDRV_O_NO_BACKING | BDRV_O_NO_IO, errp);
    if (!parent) {
        error_prepend(errp, "Could not open backing file: ");
        return -EINVAL;
    }
    pbs = blk_bs(parent);
    ps = pbs->opaque;
    p->parent_footer = ps->footer;
    p->size = pbs->total_sectors * BDRV_SECTOR_SIZE;
    p->cyls = ps->footer.cyls;
    p->heads = ps->footer.heads;
    p->secs_per_cyl = ps->footer.secs_per_cyl;
    chs = (int64_t)p->cyls * p->heads * p->secs_per_cyl;
    p->qem2 = chs != pbs->total_sectors && chs != VHD_MAX_GEOMETRY;
    blk_unref(parent);

    p->parent_path = g_strdup(backing_file);
    return 0;
}

static int coroutine_fn vpc_co_create_opts(BlockDriver *drv,
                                           const char *filename,
                                           QemuOpts *opts, Error **errp)
{
    VPCCreateParams p = { 0 };
    g_autofree char *subformat = NULL;
    g_autofree char *backing_file = NULL;
    g_autofree char *backing_fmt = NULL;
    BlockBackend *blk = NULL;
    bool force_size;
    int64_t size, total_sectors;
    int ret;

    /* Take our options out: the protocol sees only its own. */
    size = ROUND_UP(qemu_opt_get_size_del(opts, BLOCK_OPT_SIZE, 0),
                    BDRV_SECTOR_SIZE);
    backing_file = qemu_opt_get_del(opts, BLOCK_OPT_BACKING_FILE);
    backing_fmt = qemu_opt_get_del(opts, BLOCK_OPT_BACKING_FMT);
    subformat = qemu_opt_get_del(opts, BLOCK_OPT_SUBFMT);
    force_size = qemu_opt_get_bool_del(opts, BLOCK_OPT_FORCE_SIZE, false);

    if (!subformat || !strcmp(subformat, "dynamic")) {
        p.disk_type = VHD_DYNAMIC;
    } else if (!strcmp(subformat, "fixed")) {
        p.disk_type = VHD_FIXED;
    }

    if (backing_file) {
        if (!p.disk_type) {
            error_setg(errp, "Parameter 'subformat' does not accept value "
                       "'%s'", subformat);
            return -EINVAL;
        }
        if (p.disk_type == VHD_FIXED) {
            error_setg(errp, "Backing files are only supported with "
                       "subformat=dynamic");
            return -EINVAL;
        }
        ret = vpc_create_parent_params(filename, backing_file, backing_fmt,
                                       &p, errp);
        if (ret < 0) {
            return ret;
        }
        p.disk_type = VHD_DIFFERENCING;
        if (force_size) {
            p.cyls = VHD_CHS_MAX_C;
            p.heads = VHD_CHS_MAX_H;
            p.secs_per_cyl = VHD_CHS_MAX_S;
            p.qem2 = true;
        }
    }

    /* Create and open the file (protocol layer), as QEMU does first. */
    ret = bdrv_co_create_file(filename, opts, errp);
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

    if (!p.disk_type) {
        error_setg(errp, "Parameter 'subformat' does not accept value '%s'",
                   subformat);
        ret = -EINVAL;
        goto out;
    }

    if (p.disk_type == VHD_DIFFERENCING) {
        /* The parent's size, or a size that rounds to it. */
        if (size != p.size) {
            uint16_t c;
            uint8_t hd, sp;

            ret = vpc_rounded_size(size, false, &c, &hd, &sp, &total_sectors,
                                   NULL);
            if (ret < 0 || total_sectors * BDRV_SECTOR_SIZE != p.size) {
                error_setg(errp, "The size of a differencing image must be "
                           "the size of its parent (%" PRId64 " bytes)",
                           p.size);
                ret = -EINVAL;
                goto out;
            }
        }
    } else {
        ret = vpc_rounded_size(size, force_size, &p.cyls, &p.heads,
                               &p.secs_per_cyl, &total_sectors, errp);
        if (ret < 0) {
            goto out;
        }
        p.qem2 = force_size;
        p.size = force_size ? size : total_sectors * BDRV_SECTOR_SIZE;
    }

    if (p.disk_type == VHD_FIXED) {
        ret = vpc_co_create_fixed(blk, &p, errp);
    } else {
        ret = vpc_co_create_dynamic(filename, blk, &p, errp);
    }

out:
    blk_unref(blk);
    g_free(p.parent_path);
    return ret;
}

static BlockDriver bdrv_vpc = {
    .format_name            = "vpc",
    .instance_size          = sizeof(BDRVVPCState),
    .is_format              = true,
    .supports_backing       = true,

    .bdrv_probe             = vpc_probe,
    .bdrv_open              = vpc_open,
    .bdrv_close             = vpc_close,
    .bdrv_reopen_prepare    = vpc_reopen_prepare,
    .bdrv_child_perm        = bdrv_default_perms,
    .bdrv_refresh_limits    = vpc_refresh_limits,
    .bdrv_co_create_opts    = vpc_co_create_opts,

    .bdrv_co_preadv_part    = vpc_co_preadv_part,
    .bdrv_co_pwritev_part   = vpc_co_pwritev_part,
    .bdrv_co_block_status   = vpc_co_block_status,

    .bdrv_get_info          = vpc_get_info,
    .bdrv_has_zero_init     = vpc_has_zero_init,

    .create_opts            = &vpc_create_opts,
    .strong_runtime_opts    = vpc_strong_runtime_opts,
};

static void bdrv_vpc_init(void)
{
    bdrv_register(&bdrv_vpc);
}

block_init(bdrv_vpc_init);
