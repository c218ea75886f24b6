/*
 * bench-block: request throughput of the block layer, in the manner of
 * QEMU's `qemu-img bench`, so that the two can be compared on one machine.
 *
 *   bench-block [-c COUNT] [-d DEPTH] [-s SIZE] [-t CACHE] [-i AIO] [-w]
 *               [-f FMT] FILENAME
 *   bench-block [options] --image-opts driver=null-co,size=1G,...
 *
 * COUNT requests of SIZE bytes (default 4k) are issued with blk_aio_preadv
 * (blk_aio_pwritev with -w), DEPTH at a time, at consecutive offsets that
 * wrap around at the end of the image, as qemu-img bench does.  Prints
 * requests per second and nanoseconds per request.  Without arguments it
 * runs a quick null-co round at depth 1 and 64.
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include "block/block-backend.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"

typedef struct BenchState {
    BlockBackend *blk;
    uint64_t image_size;
    int64_t bufsize;
    bool write;
    int count;          /* requests still to issue */
    int in_flight;
    int completed;
    int64_t offset;
    int ret;
    uint8_t *buf;       /* DEPTH buffers of bufsize bytes */
    QEMUIOVector *qiov; /* one per slot */
} BenchState;

typedef struct BenchSlot {
    BenchState *b;
    int index;
} BenchSlot;

static void bench_submit(BenchSlot *slot);

static void bench_cb(void *opaque, int ret)
{
    BenchSlot *slot = opaque;
    BenchState *b = slot->b;

    if (ret < 0) {
        error_report("Failed request: %s", strerror(-ret));
        b->ret = ret;
        b->count = 0;
    }
    b->in_flight--;
    b->completed++;
    if (b->count > 0) {
        bench_submit(slot);
    }
}

static void bench_submit(BenchSlot *slot)
{
    BenchState *b = slot->b;
    QEMUIOVector *qiov = &b->qiov[slot->index];
    BlockAIOCB *acb;

    if (b->offset + b->bufsize > b->image_size) {
        b->offset = 0;
    }
    if (b->write) {
        acb = blk_aio_pwritev(b->blk, b->offset, qiov, 0, bench_cb, slot);
    } else {
        acb = blk_aio_preadv(b->blk, b->offset, qiov, 0, bench_cb, slot);
    }
    if (!acb) {
        error_report("Failed to issue request");
        exit(1);
    }
    b->offset += b->bufsize;
    b->count--;
    b->in_flight++;
}

/* Returns 0 or -errno; prints one result line. */
static int bench_run(const char *label, const char *filename, QDict *opts,
                     int flags, bool writethrough, int count, int depth,
                     int64_t bufsize, bool write)
{
    g_autofree BenchSlot *slots = g_new(BenchSlot, depth);
    BenchState b = {
        .bufsize = bufsize,
        .write = write,
        .count = count,
    };
    Error *err = NULL;
    int64_t start, ns;
    int64_t len;

    b.blk = blk_new_open(filename, NULL, opts, flags, &err);
    if (!b.blk) {
        error_reportf_err(err, "Could not open '%s': ",
                          filename ? filename : label);
        return -EINVAL;
    }
    blk_set_enable_write_cache(b.blk, !writethrough);
    len = blk_getlength(b.blk);
    if (len < bufsize) {
        error_report("Image is smaller than the request size");
        blk_unref(b.blk);
        return -EINVAL;
    }
    b.image_size = len;

    b.buf = blk_blockalign(b.blk, depth * bufsize);
    memset(b.buf, 0, depth * bufsize);
    b.qiov = g_new(QEMUIOVector, depth);
    for (int i = 0; i < depth; i++) {
        qemu_iovec_init_buf(&b.qiov[i], b.buf + i * bufsize, bufsize);
        slots[i] = (BenchSlot) { .b = &b, .index = i };
    }

    start = get_clock();
    for (int i = 0; i < depth && b.count > 0; i++) {
        bench_submit(&slots[i]);
    }
    while (b.in_flight > 0) {
        aio_poll(blk_get_aio_context(b.blk), true);
    }
    ns = get_clock() - start;

    printf("%-40s %9d requests  %12.0f requests/s  %9.0f ns/request\n",
           label, b.completed, b.completed * 1e9 / ns,
           (double)ns / MAX(b.completed, 1));

    qemu_vfree(b.buf);
    g_free(b.qiov);
    blk_unref(b.blk);
    return b.ret;
}

/* "key=value,key=value" (no escaping) into a QDict. */
static QDict *parse_image_opts(const char *str)
{
    g_auto(GStrv) pairs = g_strsplit(str, ",", -1);
    QDict *opts = qdict_new();

    for (int i = 0; pairs[i]; i++) {
        char *eq = strchr(pairs[i], '=');

        if (!eq) {
            error_report("Invalid option '%s' (expected key=value)",
                         pairs[i]);
            exit(1);
        }
        *eq = '\0';
        qdict_put_str(opts, pairs[i], eq + 1);
    }
    return opts;
}

static void usage(void)
{
    printf("Usage: bench-block [-c COUNT] [-d DEPTH] [-s SIZE] [-t CACHE] "
           "[-i AIO] [-w]\n"
           "                   [-f FMT] FILENAME | --image-opts OPTIONS\n");
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "image-opts", no_argument, NULL, 'I' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL;
    const char *cache = "writeback";
    const char *aio = NULL;
    bool image_opts = false;
    bool write = false;
    int count = 75000;
    int depth = 64;
    uint64_t bufsize = 4096;
    int flags = 0;
    bool writethrough;
    QDict *opts;
    int c;

    error_init(argv[0]);
    qemu_init_main_loop(&error_fatal);
    bdrv_init();

    if (argc == 1) {
        /* Quick self-check for `make bench`. */
        QDict *o1 = parse_image_opts("driver=null-co,size=1G");
        QDict *o2 = parse_image_opts("driver=null-co,size=1G");

        if (bench_run("null-co QD1", NULL, o1, 0, false, 200000, 1, 4096,
                      false) ||
            bench_run("null-co QD64", NULL, o2, 0, false, 200000, 64, 4096,
                      false)) {
            return 1;
        }
        return 0;
    }

    while ((c = getopt_long(argc, argv, "c:d:s:t:i:wf:h", long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'c':
            count = atoi(optarg);
            break;
        case 'd':
            depth = atoi(optarg);
            break;
        case 's':
            if (qemu_strtosz(optarg, NULL, &bufsize) < 0 || !bufsize ||
                bufsize > INT_MAX) {
                error_report("Invalid buffer size specified");
                return 1;
            }
            break;
        case 't':
            cache = optarg;
            break;
        case 'i':
            aio = optarg;
            break;
        case 'w':
            write = true;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'I':
            image_opts = true;
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 1;
        }
    }
    if (optind != argc - 1 || count <= 0 || depth <= 0) {
        usage();
        return 1;
    }

    if (bdrv_parse_cache_mode(cache, &flags, &writethrough) < 0) {
        error_report("Invalid cache mode");
        return 1;
    }
    if (aio && bdrv_parse_aio(aio, &flags) < 0) {
        error_report("Invalid aio option: %s", aio);
        return 1;
    }
    if (write) {
        flags |= BDRV_O_RDWR;
    }

    if (image_opts) {
        g_autofree char *label = g_strdup_printf("QD%d %s", depth,
                                                 argv[optind]);

        opts = parse_image_opts(argv[optind]);
        return bench_run(label, NULL, opts, flags, writethrough, count,
                         depth, bufsize, write) < 0;
    } else {
        g_autofree char *label = g_strdup_printf("QD%d %s", depth,
                                                 argv[optind]);

        opts = qdict_new();
        if (fmt) {
            qdict_put_str(opts, "driver", fmt);
        }
        return bench_run(label, argv[optind], opts, flags, writethrough,
                         count, depth, bufsize, write) < 0;
    }
}
