/*
 * Write threshold (see include/block/write-threshold.h).
 */
#include "qemu/osdep.h"
#include "block/write-threshold.h"

void bdrv_write_threshold_set(BlockDriverState *bs, uint64_t threshold_bytes)
{
    qatomic_set(&bs->write_threshold_offset, threshold_bytes);
}

uint64_t bdrv_write_threshold_get(const BlockDriverState *bs)
{
    return qatomic_read(&bs->write_threshold_offset);
}

void bdrv_write_threshold_check_write(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes)
{
    uint64_t threshold = qatomic_read(&bs->write_threshold_offset);

    /*
     * QEMU reports the crossing as a QMP event; the tools have no monitor,
     * so firing means disarming, which keeps it one-shot.
     */
    if (threshold > 0 && (uint64_t)(offset + bytes) > threshold) {
        bdrv_write_threshold_set(bs, 0);
    }
}
