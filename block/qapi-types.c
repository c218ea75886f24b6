/*
 * The option enums that QEMU generates from its QAPI schema: name tables
 * (the spelling users type and tools print) and the free function of
 * ImageInfoSpecific.
 */
#include "qemu/osdep.h"
#include "block/block.h"

static const char *const prealloc_mode_names[PREALLOC_MODE__MAX] = {
    [PREALLOC_MODE_OFF]      = "off",
    [PREALLOC_MODE_METADATA] = "metadata",
    [PREALLOC_MODE_FALLOC]   = "falloc",
    [PREALLOC_MODE_FULL]     = "full",
};

const QEnumLookup PreallocMode_lookup = {
    .array = prealloc_mode_names,
    .size  = PREALLOC_MODE__MAX,
};

static const char *const detect_zeroes_names[] = {
    [BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF]   = "off",
    [BLOCKDEV_DETECT_ZEROES_OPTIONS_ON]    = "on",
    [BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP] = "unmap",
};

const QEnumLookup BlockdevDetectZeroesOptions_lookup = {
    .array = detect_zeroes_names,
    .size  = BLOCKDEV_DETECT_ZEROES_OPTIONS__MAX,
};

static const char *const aio_names[] = {
    [BLOCKDEV_AIO_OPTIONS_THREADS]  = "threads",
    [BLOCKDEV_AIO_OPTIONS_NATIVE]   = "native",
    [BLOCKDEV_AIO_OPTIONS_IO_URING] = "io_uring",
};

const QEnumLookup BlockdevAioOptions_lookup = {
    .array = aio_names,
    .size  = BLOCKDEV_AIO_OPTIONS__MAX,
};

static const char *const on_off_auto_names[] = {
    [ON_OFF_AUTO_AUTO] = "auto",
    [ON_OFF_AUTO_ON]   = "on",
    [ON_OFF_AUTO_OFF]  = "off",
};

const QEnumLookup OnOffAuto_lookup = {
    .array = on_off_auto_names,
    .size  = ON_OFF_AUTO__MAX,
};

/* blkdebug's event names (QEMU's BlkdebugEvent, same order). */
static const char *const blkdebug_event_names[] = {
    [BLKDBG_L1_UPDATE]                  = "l1_update",
    [BLKDBG_L1_GROW_ALLOC_TABLE]        = "l1_grow_alloc_table",
    [BLKDBG_L1_GROW_WRITE_TABLE]        = "l1_grow_write_table",
    [BLKDBG_L1_GROW_ACTIVATE_TABLE]     = "l1_grow_activate_table",
    [BLKDBG_L2_LOAD]                    = "l2_load",
    [BLKDBG_L2_UPDATE]                  = "l2_update",
    [BLKDBG_L2_UPDATE_COMPRESSED]       = "l2_update_compressed",
    [BLKDBG_L2_ALLOC_COW_READ]          = "l2_alloc_cow_read",
    [BLKDBG_L2_ALLOC_WRITE]             = "l2_alloc_write",
    [BLKDBG_READ_AIO]                   = "read_aio",
    [BLKDBG_READ_BACKING_AIO]           = "read_backing_aio",
    [BLKDBG_READ_COMPRESSED]            = "read_compressed",
    [BLKDBG_WRITE_AIO]                  = "write_aio",
    [BLKDBG_WRITE_COMPRESSED]           = "write_compressed",
    [BLKDBG_VMSTATE_LOAD]               = "vmstate_load",
    [BLKDBG_VMSTATE_SAVE]               = "vmstate_save",
    [BLKDBG_COW_READ]                   = "cow_read",
    [BLKDBG_COW_WRITE]                  = "cow_write",
    [BLKDBG_REFTABLE_LOAD]              = "reftable_load",
    [BLKDBG_REFTABLE_GROW]              = "reftable_grow",
    [BLKDBG_REFTABLE_UPDATE]            = "reftable_update",
    [BLKDBG_REFBLOCK_LOAD]              = "refblock_load",
    [BLKDBG_REFBLOCK_UPDATE]            = "refblock_update",
    [BLKDBG_REFBLOCK_UPDATE_PART]       = "refblock_update_part",
    [BLKDBG_REFBLOCK_ALLOC]             = "refblock_alloc",
    [BLKDBG_REFBLOCK_ALLOC_HOOKUP]      = "refblock_alloc_hookup",
    [BLKDBG_REFBLOCK_ALLOC_WRITE]       = "refblock_alloc_write",
    [BLKDBG_REFBLOCK_ALLOC_WRITE_BLOCKS] = "refblock_alloc_write_blocks",
    [BLKDBG_REFBLOCK_ALLOC_WRITE_TABLE] = "refblock_alloc_write_table",
    [BLKDBG_REFBLOCK_ALLOC_SWITCH_TABLE] = "refblock_alloc_switch_table",
    [BLKDBG_CLUSTER_ALLOC]              = "cluster_alloc",
    [BLKDBG_CLUSTER_ALLOC_BYTES]        = "cluster_alloc_bytes",
    [BLKDBG_CLUSTER_FREE]               = "cluster_free",
    [BLKDBG_FLUSH_TO_OS]                = "flush_to_os",
    [BLKDBG_FLUSH_TO_DISK]              = "flush_to_disk",
    [BLKDBG_PWRITEV_RMW_HEAD]           = "pwritev_rmw_head",
    [BLKDBG_PWRITEV_RMW_AFTER_HEAD]     = "pwritev_rmw_after_head",
    [BLKDBG_PWRITEV_RMW_TAIL]           = "pwritev_rmw_tail",
    [BLKDBG_PWRITEV_RMW_AFTER_TAIL]     = "pwritev_rmw_after_tail",
    [BLKDBG_PWRITEV]                    = "pwritev",
    [BLKDBG_PWRITEV_ZERO]               = "pwritev_zero",
    [BLKDBG_PWRITEV_DONE]               = "pwritev_done",
    [BLKDBG_EMPTY_IMAGE_PREPARE]        = "empty_image_prepare",
    [BLKDBG_L1_SHRINK_WRITE_TABLE]      = "l1_shrink_write_table",
    [BLKDBG_L1_SHRINK_FREE_L2_CLUSTERS] = "l1_shrink_free_l2_clusters",
    [BLKDBG_COR_WRITE]                  = "cor_write",
    [BLKDBG_CLUSTER_ALLOC_SPACE]        = "cluster_alloc_space",
    [BLKDBG_NONE]                       = "none",
};

const QEnumLookup BlkdebugEvent_lookup = {
    .array = blkdebug_event_names,
    .size  = BLKDBG__MAX,
};

/* Every table must name every value. */
G_STATIC_ASSERT(G_N_ELEMENTS(detect_zeroes_names) ==
                BLOCKDEV_DETECT_ZEROES_OPTIONS__MAX);
G_STATIC_ASSERT(G_N_ELEMENTS(aio_names) == BLOCKDEV_AIO_OPTIONS__MAX);
G_STATIC_ASSERT(G_N_ELEMENTS(on_off_auto_names) == ON_OFF_AUTO__MAX);
G_STATIC_ASSERT(G_N_ELEMENTS(blkdebug_event_names) == BLKDBG__MAX);

void qapi_free_ImageInfoSpecific(ImageInfoSpecific *info)
{
    if (!info) {
        return;
    }
    g_free(info->type);
    qobject_unref(info->data);
    g_free(info);
}
