/*
 * libFuzzer target for the vpc driver's open and read path.
 *
 * Each input is an image file (kept in a memfd and opened through the
 * file protocol as /proc/self/fd/N).  A differencing image gets a null-co
 * parent, so that fuzzed parent locators never open host files.  After
 * the open: reads spread over the disk and block status from the start,
 * both bounded, so that huge virtual sizes stay fast.  Inputs of odd
 * length are also opened read-write and written to (allocation, bitmap
 * updates and the footer move on damaged images).
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
#define FUZZ_READ_CHUNK     (64 * 1024)
#define FUZZ_READS          16
#define FUZZ_STATUS_CALLS   64

static int image_fd = -1;
static char *image_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    QDict *opts = qdict_new();

    qemu_init_main_loop(&error_abort);
    bdrv_init();

    image_fd = memfd_create("fuzz-vpc", 0);
    if (image_fd < 0) {
        perror("memfd_create");
        abort();
    }
    image_path = g_strdup_printf("/proc/self/fd/%d", image_fd);

    qdict_put_str(opts, "driver", "null-co");
    qdict_put_str(opts, "node-name", "fuzz-parent");
    qdict_put_bool(opts, "read-zeroes", true);
    qdict_put_int(opts, "size", INT64_C(1) << 41);
    bdrv_open(NULL, NULL, opts, 0, &error_abort);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree uint8_t *buf = NULL;
    BlockBackend *blk;
    Error *err = NULL;
    QDict *opts;
    int64_t len, off, pnum;
    bool writable = size % 2;

    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    if (ftruncate(image_fd, 0) < 0 ||
        pwrite(image_fd, data, size, 0) != (ssize_t)size) {
        abort();
    }

    opts = qdict_new();
    qdict_put_str(opts, "driver", "vpc");
    qdict_put_str(opts, "file.driver", "file");
    qdict_put_str(opts, "file.filename", image_path);
    qdict_put_str(opts, "file.locking", "off");
    qdict_put_str(opts, "backing", "fuzz-parent");
    blk = blk_new_open(NULL, NULL, opts, writable ? BDRV_O_RDWR : 0, &err);
    if (!blk) {
        error_free(err);
        return 0;
    }

    buf = g_malloc0(FUZZ_READ_CHUNK);
    len = blk_getlength(blk);
    if (writable && len > 0) {
        /* A new block at the end, part of one in the middle, sector 0. */
        blk_pwrite(blk, QEMU_ALIGN_DOWN(len - 1, BDRV_SECTOR_SIZE),
                   MIN(len, BDRV_SECTOR_SIZE), buf, 0);
        blk_pwrite(blk, QEMU_ALIGN_DOWN(len / 2, BDRV_SECTOR_SIZE) + 100,
                   MIN(len / 2, 3000), buf, 0);
        blk_pwrite(blk, 0, MIN(len, 4096), buf, 0);
    }
    for (int i = 0; i < FUZZ_READS && len > 0; i++) {
        off = QEMU_ALIGN_DOWN(len / FUZZ_READS * i, BDRV_SECTOR_SIZE);
        blk_pread(blk, off, MIN(FUZZ_READ_CHUNK, len - off), buf, 0);
    }
    off = 0;
    for (int i = 0; i < FUZZ_STATUS_CALLS && off < len; i++) {
        if (bdrv_block_status_above(blk_bs(blk), NULL, off, len - off,
                                    &pnum, NULL, NULL) < 0 || !pnum) {
            break;
        }
        off += pnum;
    }
    blk_unref(blk);
    return 0;
}
