/*
 * Write threshold: a one-shot notification that a write went past a given
 * offset (used by management layers to grow thin-provisioned storage).
 * Crossing the threshold disables it (resets it to 0).
 */
#ifndef BLOCK_WRITE_THRESHOLD_H
#define BLOCK_WRITE_THRESHOLD_H

#include "block/block_int.h"

/* Arm the threshold at threshold_bytes; 0 disables it. */
void bdrv_write_threshold_set(BlockDriverState *bs, uint64_t threshold_bytes);
/* The armed threshold, or 0. */
uint64_t bdrv_write_threshold_get(const BlockDriverState *bs);
/*
 * Called by the request path before a write of [offset, offset + bytes):
 * if it ends beyond the threshold, the threshold fires and is reset to 0.
 */
void bdrv_write_threshold_check_write(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes);

#endif
