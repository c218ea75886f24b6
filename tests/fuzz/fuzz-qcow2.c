/*
 * libFuzzer target for the qcow2 driver.
 *
 * Each input is an image file (kept in a memfd and opened through the
 * file protocol as /proc/self/fd/N), opened read-write with "backing":
 * null, so that fuzzed backing file names never open host files.  The
 * open itself runs the dirty-image repair and the header update; after
 * it: reads spread over the disk in a few sizes, block status from the
 * start, writes (allocating, partial-cluster COW, zeroes with and without
 * unmap, discard, compressed), flush, a grow, and check with repair.  All
 * bounded, so that huge virtual sizes stay fast.  Errors are fine; the
 * sanitizers and assertions catch the bugs.
 */
#include "qemu/osdep.h"
#include <sys/mman.h>
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "block/block_int.h"
#include "block/block-backend.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs above this are skipped (the interesting ones are small). */
#define FUZZ_MAX_INPUT      (4 * 1024 * 1024)
#define FUZZ_BUF            (128 * 1024)
#define FUZZ_READS          8
#define FUZZ_STATUS_CALLS   64
#define FUZZ_GROW           (1024 * 1024)

static int image_fd = -1;
static char *image_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    image_fd = memfd_create("fuzz-qcow2", 0);
    if (image_fd < 0) {
        perror("memfd_create");
        abort();
    }
    image_path = g_strdup_printf("/proc/self/fd/%d", image_fd);
    return 0;
}

/* Reads of @size bytes at FUZZ_READS places spread over the disk. */
static void fuzz_reads(BlockBackend *blk, int64_t len, int64_t size,
                       uint8_t *buf)
{
    for (int i = 0; i < FUZZ_READS && len > 0; i++) {
        int64_t off = QEMU_ALIGN_DOWN(len / FUZZ_READS * i, BDRV_SECTOR_SIZE);

        blk_pread(blk, off, MIN(size, len - off), buf, 0);
    }
}

static void fuzz_status(BlockBackend *blk, int64_t len)
{
    int64_t off = 0, pnum;

    for (int i = 0; i < FUZZ_STATUS_CALLS && off < len; i++) {
        if (bdrv_block_status_above(blk_bs(blk), NULL, off, len - off,
                                    &pnum, NULL, NULL) < 0 || !pnum) {
            break;
        }
        off += pnum;
    }
}

static void fuzz_writes(BlockBackend *blk, int64_t len, int64_t cluster,
                        uint8_t *buf)
{
    int64_t mid = QEMU_ALIGN_DOWN(len / 2, cluster);
    int64_t last = QEMU_ALIGN_DOWN(len - 1, cluster);

    memset(buf, 0xa5, FUZZ_BUF);
    /* Allocating, at the start and the end of the disk. */
    blk_pwrite(blk, 0, MIN(len, cluster), buf, 0);
    blk_pwrite(blk, last, MIN(len - last, cluster), buf, 0);
    /* Partial clusters (copy on write), across a cluster boundary. */
    blk_pwrite(blk, mid + 100, MIN(len - mid - 100, cluster), buf, 0);
    blk_pwrite(blk, BDRV_SECTOR_SIZE, MIN(len, 2 * cluster) -
               BDRV_SECTOR_SIZE, buf, 0);
    /* Zeroes: a whole cluster with unmap, part of one without. */
    blk_pwrite_zeroes(blk, 0, MIN(len, cluster), BDRV_REQ_MAY_UNMAP);
    blk_pwrite_zeroes(blk, mid, MIN(len - mid, 3 * cluster),
                      BDRV_REQ_MAY_UNMAP);
    blk_pwrite_zeroes(blk, mid + BDRV_SECTOR_SIZE,
                      MIN(len - mid, cluster) - BDRV_SECTOR_SIZE, 0);
    blk_pdiscard(blk, last, len - last);
    blk_pdiscard(blk, mid, MIN(len - mid, 2 * cluster));
    /* Compressed: a full cluster, and the partial one at the end. */
    if (cluster <= FUZZ_BUF) {
        memset(buf + cluster / 2, 0, cluster / 2);
        blk_pwrite_compressed(blk, mid, MIN(len - mid, cluster), buf);
        blk_pwrite_compressed(blk, last, len - last, buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree uint8_t *buf = NULL;
    BlockDriverInfo bdi = { 0 };
    BdrvCheckResult res = { 0 };
    BlockBackend *blk;
    Error *err = NULL;
    QDict *opts;
    int64_t len, cluster;

    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    if (ftruncate(image_fd, 0) < 0 ||
        pwrite(image_fd, data, size, 0) != (ssize_t)size) {
        abort();
    }

    opts = qdict_new();
    qdict_put_str(opts, "driver", "qcow2");
    qdict_put_str(opts, "file.driver", "file");
    qdict_put_str(opts, "file.filename", image_path);
    qdict_put_str(opts, "file.locking", "off");
    qdict_put_null(opts, "backing");
    blk = blk_new_open(NULL, NULL, opts, BDRV_O_RDWR, &err);
    if (!blk) {
        error_free(err);
        return 0;
    }

    buf = g_malloc0(FUZZ_BUF);
    len = blk_getlength(blk);
    cluster = 64 * 1024;
    if (bdrv_get_info(blk_bs(blk), &bdi) == 0 && bdi.cluster_size > 0) {
        cluster = bdi.cluster_size;
    }
    /* Small disks get smaller (unaligned) pieces. */
    cluster = MIN(cluster, FUZZ_BUF / 2);
    cluster = MIN(cluster, QEMU_ALIGN_DOWN(len / 4, BDRV_SECTOR_SIZE));

    fuzz_reads(blk, len, BDRV_SECTOR_SIZE, buf);
    fuzz_reads(blk, len, 4096 + BDRV_SECTOR_SIZE, buf);
    fuzz_reads(blk, len, FUZZ_BUF, buf);
    fuzz_status(blk, len);
    if (cluster >= BDRV_SECTOR_SIZE) {
        fuzz_writes(blk, len, cluster, buf);
        fuzz_reads(blk, len, FUZZ_BUF, buf);
        fuzz_status(blk, len);
    }
    blk_flush(blk);
    if (len >= 0 && len < INT64_MAX / 2) {
        if (blk_truncate(blk, len + FUZZ_GROW, false, PREALLOC_MODE_OFF, 0,
                         &err) < 0) {
            error_free(err);
            err = NULL;
        } else {
            blk_pwrite(blk, len, BDRV_SECTOR_SIZE, buf, 0);
        }
    }
    bdrv_check(blk_bs(blk), &res, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS);
    blk_unref(blk);
    return 0;
}
