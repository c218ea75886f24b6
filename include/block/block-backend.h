/*
 * BlockBackend: the user-facing handle on a node (what qemu-io and qemu-img
 * open).  It is the parent of its root node through a BdrvChild of class
 * child_root, holds the permissions its user needs, counts its own
 * in-flight requests and queues new ones while drained.
 *
 * Synchronous functions run the coroutine path and poll; all return 0 or
 * -errno (not byte counts), as in QEMU 7.2.
 */
#ifndef BLOCK_BLOCK_BACKEND_H
#define BLOCK_BLOCK_BACKEND_H

#include "block/block.h"

/* A BlockBackend with no medium and the given permissions. */
BlockBackend *blk_new(AioContext *ctx, uint64_t perm, uint64_t shared_perm);
/* A BlockBackend on bs (a new reference is taken). */
BlockBackend *blk_new_with_bs(BlockDriverState *bs, uint64_t perm,
                              uint64_t shared_perm, Error **errp);
/*
 * bdrv_open + blk_new_with_bs, with the permissions the flags imply:
 * CONSISTENT_READ unless BDRV_O_NO_IO, WRITE with RDWR, RESIZE with
 * BDRV_O_RESIZE; sharing all unless BDRV_O_NO_SHARE.
 */
BlockBackend *blk_new_open(const char *filename, const char *reference,
                           QDict *options, int flags, Error **errp);
void blk_ref(BlockBackend *blk);
void blk_unref(BlockBackend *blk);
/* Drop every BlockBackend's medium (at exit). */
void blk_remove_all_bs(void);

const char *blk_name(const BlockBackend *blk);
BlockDriverState *blk_bs(BlockBackend *blk);
int blk_insert_bs(BlockBackend *blk, BlockDriverState *bs, Error **errp);
void blk_remove_bs(BlockBackend *blk);
BlockBackend *blk_next(BlockBackend *blk);

int blk_set_perm(BlockBackend *blk, uint64_t perm, uint64_t shared_perm,
                 Error **errp);
void blk_get_perm(BlockBackend *blk, uint64_t *perm, uint64_t *shared_perm);

/* Let writes grow the image (image creation). */
void blk_set_allow_write_beyond_eof(BlockBackend *blk, bool allow);
/* Without a write cache every write carries BDRV_REQ_FUA. */
void blk_set_enable_write_cache(BlockBackend *blk, bool wce);
bool blk_enable_write_cache(BlockBackend *blk);
/* Don't queue requests while drained (for internal users). */
void blk_set_disable_request_queuing(BlockBackend *blk, bool disable);

/*
 * Callbacks to the user of a BlockBackend (QEMU's emulated device; here
 * any owner that wants to know).  Every member may be NULL.
 */
typedef struct BlockDevOps {
    /* A medium was inserted (load) or removed. */
    void (*change_media_cb)(void *opaque, bool load, Error **errp);
    /* The medium changed size. */
    void (*resize_cb)(void *opaque);
    /* Stop submitting requests / may submit again. */
    void (*drained_begin)(void *opaque);
    void (*drained_end)(void *opaque);
    /* Does the user still have work in progress? */
    bool (*drained_poll)(void *opaque);
} BlockDevOps;

void blk_set_dev_ops(BlockBackend *blk, const BlockDevOps *ops,
                     void *opaque);

bool blk_is_inserted(BlockBackend *blk);
bool blk_is_available(BlockBackend *blk);
bool blk_is_writable(BlockBackend *blk);
int64_t blk_getlength(BlockBackend *blk);
int64_t blk_nb_sectors(BlockBackend *blk);
uint32_t blk_get_request_alignment(BlockBackend *blk);
uint32_t blk_get_max_transfer(BlockBackend *blk);
AioContext *blk_get_aio_context(BlockBackend *blk);
int blk_get_flags(BlockBackend *blk);
void *blk_blockalign(BlockBackend *blk, size_t size);

/* Wait for this BlockBackend's requests / everyone's. */
void blk_drain(BlockBackend *blk);
void blk_drain_all(void);

void blk_io_plug(BlockBackend *blk);
void blk_io_unplug(BlockBackend *blk);

/* ---- I/O ---- */

int blk_pread(BlockBackend *blk, int64_t offset, int64_t bytes, void *buf,
              BdrvRequestFlags flags);
int blk_pwrite(BlockBackend *blk, int64_t offset, int64_t bytes,
               const void *buf, BdrvRequestFlags flags);
int blk_preadv(BlockBackend *blk, int64_t offset, int64_t bytes,
               QEMUIOVector *qiov, BdrvRequestFlags flags);
int blk_pwritev(BlockBackend *blk, int64_t offset, int64_t bytes,
                QEMUIOVector *qiov, BdrvRequestFlags flags);
int blk_pwritev_part(BlockBackend *blk, int64_t offset, int64_t bytes,
                     QEMUIOVector *qiov, size_t qiov_offset,
                     BdrvRequestFlags flags);
int blk_pwrite_zeroes(BlockBackend *blk, int64_t offset, int64_t bytes,
                      BdrvRequestFlags flags);
int blk_pwrite_compressed(BlockBackend *blk, int64_t offset, int64_t bytes,
                          const void *buf);
int blk_pdiscard(BlockBackend *blk, int64_t offset, int64_t bytes);
int blk_flush(BlockBackend *blk);
int blk_truncate(BlockBackend *blk, int64_t offset, bool exact,
                 PreallocMode prealloc, BdrvRequestFlags flags,
                 Error **errp);
/* VM state; return bytes transferred or -errno. */
int blk_save_vmstate(BlockBackend *blk, const uint8_t *buf, int64_t pos,
                     int size);
int blk_load_vmstate(BlockBackend *blk, uint8_t *buf, int64_t pos, int size);

int coroutine_fn blk_co_preadv(BlockBackend *blk, int64_t offset,
                               int64_t bytes, QEMUIOVector *qiov,
                               BdrvRequestFlags flags);
int coroutine_fn blk_co_preadv_part(BlockBackend *blk, int64_t offset,
                                    int64_t bytes, QEMUIOVector *qiov,
                                    size_t qiov_offset,
                                    BdrvRequestFlags flags);
int coroutine_fn blk_co_pwritev(BlockBackend *blk, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                BdrvRequestFlags flags);
int coroutine_fn blk_co_pwritev_part(BlockBackend *blk, int64_t offset,
                                     int64_t bytes, QEMUIOVector *qiov,
                                     size_t qiov_offset,
                                     BdrvRequestFlags flags);
int coroutine_fn blk_co_pread(BlockBackend *blk, int64_t offset,
                              int64_t bytes, void *buf,
                              BdrvRequestFlags flags);
int coroutine_fn blk_co_pwrite(BlockBackend *blk, int64_t offset,
                               int64_t bytes, const void *buf,
                               BdrvRequestFlags flags);
int coroutine_fn blk_co_pwrite_zeroes(BlockBackend *blk, int64_t offset,
                                      int64_t bytes, BdrvRequestFlags flags);
int coroutine_fn blk_co_pdiscard(BlockBackend *blk, int64_t offset,
                                 int64_t bytes);
int coroutine_fn blk_co_flush(BlockBackend *blk);
int coroutine_fn blk_co_truncate(BlockBackend *blk, int64_t offset,
                                 bool exact, PreallocMode prealloc,
                                 BdrvRequestFlags flags, Error **errp);

/*
 * Asynchronous forms: cb(opaque, ret) runs later from the event loop
 * (never before the call returns).  The returned ACB can be cancelled.
 */
BlockAIOCB *blk_aio_preadv(BlockBackend *blk, int64_t offset,
                           QEMUIOVector *qiov, BdrvRequestFlags flags,
                           BlockCompletionFunc *cb, void *opaque);
BlockAIOCB *blk_aio_pwritev(BlockBackend *blk, int64_t offset,
                            QEMUIOVector *qiov, BdrvRequestFlags flags,
                            BlockCompletionFunc *cb, void *opaque);
BlockAIOCB *blk_aio_pwrite_zeroes(BlockBackend *blk, int64_t offset,
                                  int64_t bytes, BdrvRequestFlags flags,
                                  BlockCompletionFunc *cb, void *opaque);
BlockAIOCB *blk_aio_pdiscard(BlockBackend *blk, int64_t offset,
                             int64_t bytes, BlockCompletionFunc *cb,
                             void *opaque);
BlockAIOCB *blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb,
                          void *opaque);
void blk_aio_cancel(BlockAIOCB *acb);
void blk_aio_cancel_async(BlockAIOCB *acb);

#endif
