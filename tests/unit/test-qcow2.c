/*
 * Unit tests for the qcow2 driver (block/qcow2*.c): what qemu-io and
 * qemu-img reach only with hand-edited files.
 *
 * Expectations come from outside the driver: the on-disk layout of
 * docs/interop/qcow2.txt (fields are decoded here by offset, not through
 * QCowHeader), and the error texts and layouts QEMU 7.2's qemu-io and
 * qemu-img produce for the same files (observed; quoted in the tables).
 * Byte-for-byte comparisons with QEMU's own images live in the iotests
 * (qcow2-create, qcow2-header) and the interop suite.
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "test-helpers.h"

#define KiB 1024
#define MiB (1024 * 1024)

static const char *tmp_dir;

static char *path_of(const char *name)
{
    return g_build_filename(tmp_dir, name, NULL);
}

/* qemu-img create -f qcow2 [-o options] [-b backing -F fmt] name size */
static void create(const char *name, const char *options, const char *backing,
                   const char *backing_fmt, uint64_t size)
{
    g_autofree char *path = path_of(name);
    g_autofree char *opts = g_strdup(options);

    bdrv_img_create(path, "qcow2", backing, backing_fmt, opts, size, 0, true,
                    &error_abort);
}

/* Open name as qcow2 with the extra options "k=v,k=v"; NULL + *msg. */
static BlockBackend *open_img(const char *name, int flags, const char *extra,
                              char **msg)
{
    g_autofree char *path = path_of(name);
    QDict *opts = extra ? test_opts(extra) : qdict_new();
    Error *err = NULL;
    BlockBackend *blk;

    qdict_put_str(opts, "driver", "qcow2");
    qdict_put_str(opts, "file.driver", "file");
    qdict_put_str(opts, "file.filename", path);
    blk = blk_new_open(NULL, NULL, opts, flags, &err);
    if (!blk) {
        g_assert_nonnull(msg);
        *msg = g_strdup(error_get_pretty(err));
        error_free(err);
    }
    return blk;
}

static void file_put(const char *name, int64_t off, const void *buf,
                     size_t len)
{
    g_autofree char *path = path_of(name);

    test_file_pwrite(path, off, buf, len);
}

static void file_get(const char *name, int64_t off, void *buf, size_t len)
{
    g_autofree char *path = path_of(name);

    test_file_pread(path, off, buf, len);
}

static void put_be32(const char *name, int64_t off, uint32_t v)
{
    uint8_t b[4];

    stl_be_p(b, v);
    file_put(name, off, b, sizeof(b));
}

static void put_be64(const char *name, int64_t off, uint64_t v)
{
    uint8_t b[8];

    stq_be_p(b, v);
    file_put(name, off, b, sizeof(b));
}

static uint64_t get_be64(const char *name, int64_t off)
{
    uint8_t b[8];

    file_get(name, off, b, sizeof(b));
    return ldq_be_p(b);
}

static uint32_t get_be32(const char *name, int64_t off)
{
    uint8_t b[4];

    file_get(name, off, b, sizeof(b));
    return ldl_be_p(b);
}

/* ---- Header validation ---- */

/* One header field changed, and the open error QEMU 7.2 gives for it. */
typedef struct HeaderCase {
    int64_t offset;
    int width;                  /* 4 or 8 bytes, big-endian */
    uint64_t value;
    const char *error;          /* qemu-io: can't open device x: <error> */
} HeaderCase;

/* Observed with QEMU 7.2's qemu-io on a 64 MiB image, 64 KiB clusters. */
static const HeaderCase header_cases[] = {
    { 0, 4, 0x12345678, "Image is not in qcow2 format" },
    { 4, 4, 4, "Unsupported qcow2 version 4" },
    { 20, 4, 8, "Unsupported cluster size: 2^8" },
    { 20, 4, 22, "Unsupported cluster size: 2^22" },
    { 100, 4, 100, "qcow2 header too short" },
    { 100, 4, 131072, "qcow2 header exceeds cluster size" },
    { 96, 4, 7, "Reference count entry width too large; may not exceed "
                "64 bits" },
    { 72, 8, 0x20, "Unsupported qcow2 feature(s): Unknown incompatible "
                   "feature: 20" },
    { 72, 8, 0x60, "Unsupported qcow2 feature(s): Unknown incompatible "
                   "feature: 60" },
    { 72, 8, 0x8, "qcow2: Compression type incompatible feature bit must "
                  "not be set" },
    { 72, 8, 0x4, "'data-file' is required for this image" },
    { 56, 4, 0x1000000, "Reference count table too large" },
    { 48, 8, 0x10001, "Reference count table offset invalid" },
    { 36, 4, 0x4000001, "Active L1 table too large" },
    { 40, 8, 0x10001, "Active L1 table offset invalid" },
    { 36, 4, 0, "L1 table is too small" },
    { 8, 8, 0x20000, "Invalid backing file offset" },
    { 16, 4, 2000, "Backing file name too long" },
    { 60, 4, 70000, "Snapshot table too large" },
    { 64, 8, 7, "Snapshot table offset invalid" },
    { 32, 4, 3, "Unsupported encryption method 3" },
    { 32, 4, 1, "Parameter 'encrypt.key-secret' is required for cipher" },
    { 32, 4, 2, "Missing CRYPTO header for crypt method 2" },
};

static void test_header_validation(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(header_cases); i++) {
        const HeaderCase *c = &header_cases[i];
        g_autofree char *msg = NULL;
        BlockBackend *blk;

        create("hdr.qcow2", NULL, NULL, NULL, 64 * MiB);
        if (c->offset == 64) {
            put_be32("hdr.qcow2", 60, 1);   /* one snapshot */
        }
        if (c->offset == 16) {
            put_be64("hdr.qcow2", 8, 512);  /* a backing name at 512 */
        }
        if (c->width == 4) {
            put_be32("hdr.qcow2", c->offset, c->value);
        } else {
            put_be64("hdr.qcow2", c->offset, c->value);
        }
        blk = open_img("hdr.qcow2", BDRV_O_RDWR, NULL, &msg);
        g_assert_null(blk);
        g_assert_cmpstr(msg, ==, c->error);
    }
}

/* The corrupt bit: read-only opens work, read-write ones do not. */
static void test_corrupt_bit(void)
{
    g_autofree char *msg = NULL;
    BlockBackend *blk;

    create("corrupt.qcow2", NULL, NULL, NULL, MiB);
    put_be64("corrupt.qcow2", 72, 0x2);
    blk = open_img("corrupt.qcow2", BDRV_O_RDWR, NULL, &msg);
    g_assert_null(blk);
    g_assert_cmpstr(msg, ==,
                    "qcow2: Image is corrupt; cannot be opened read/write");
    blk = open_img("corrupt.qcow2", 0, NULL, NULL);
    g_assert_nonnull(blk);
    blk_unref(blk);
}

/*
 * The feature name table names unknown incompatible bits; the last
 * table counts (QEMU: "Unsupported qcow2 feature(s): test feature, ...").
 */
static void test_feature_table_names(void)
{
    g_autofree char *msg = NULL;
    uint8_t ext[8 + 48] = { 0 };

    create("feat.qcow2", NULL, NULL, NULL, MiB);
    /* Replace the extensions: one table naming bit 5, then the end. */
    stl_be_p(ext, 0x6803f857);
    stl_be_p(ext + 4, 48);
    ext[8] = 0;                 /* incompatible */
    ext[9] = 5;
    memcpy(ext + 10, "test feature", 12);
    file_put("feat.qcow2", 112, ext, sizeof(ext));
    put_be64("feat.qcow2", 112 + sizeof(ext), 0);
    put_be64("feat.qcow2", 72, 0x60);

    g_assert_null(open_img("feat.qcow2", 0, NULL, &msg));
    g_assert_cmpstr(msg, ==, "Unsupported qcow2 feature(s): test feature, "
                    "Unknown incompatible feature: 40");
}

/*
 * Unknown extensions survive a header rewrite (here: clearing an unknown
 * autoclear bit on a read-write open), in reversed order as with QEMU.
 */
static void test_unknown_extensions_kept(void)
{
    uint8_t exts[3 * 16] = { 0 };
    uint8_t got[3 * 16];
    BlockBackend *blk;

    create("ext.qcow2", "cluster_size=4096", NULL, NULL, MiB);
    /* 4 KiB clusters: no feature table, extensions start at 112. */
    stl_be_p(exts, 0x11111111);
    stl_be_p(exts + 4, 5);
    memcpy(exts + 8, "hello", 5);
    stl_be_p(exts + 16, 0x22222222);
    stl_be_p(exts + 20, 3);
    memcpy(exts + 24, "abc", 3);
    file_put("ext.qcow2", 112, exts, sizeof(exts));
    put_be64("ext.qcow2", 88, 1ULL << 10);

    blk = open_img("ext.qcow2", BDRV_O_RDWR, NULL, NULL);
    g_assert_nonnull(blk);
    blk_unref(blk);

    g_assert_cmphex(get_be64("ext.qcow2", 88), ==, 0);
    file_get("ext.qcow2", 112, got, sizeof(got));
    g_assert_cmphex(ldl_be_p(got), ==, 0x22222222);
    g_assert_cmpmem(got + 8, 3, "abc", 3);
    g_assert_cmphex(ldl_be_p(got + 16), ==, 0x11111111);
    g_assert_cmpmem(got + 24, 5, "hello", 5);
    g_assert_cmphex(ldl_be_p(got + 32), ==, 0);
}

/* ---- Runtime options ---- */

typedef struct OptionCase {
    const char *options;
    const char *error;          /* NULL: the open succeeds */
} OptionCase;

/* Observed with QEMU 7.2's qemu-io --image-opts on a 64 MiB v2 image. */
static const OptionCase option_cases[] = {
    { "cache-size=1M,l2-cache-size=512k,refcount-cache-size=256k",
      "cache-size, l2-cache-size and refcount-cache-size may not be set at "
      "the same time" },
    { "cache-size=1M,l2-cache-size=2M",
      "l2-cache-size may not exceed cache-size" },
    { "cache-size=1M,refcount-cache-size=2M",
      "refcount-cache-size may not exceed cache-size" },
    { "l2-cache-entry-size=1000",
      "L2 cache entry size must be a power of two between 512 and the "
      "cluster size (65536)" },
    { "l2-cache-entry-size=128k",
      "L2 cache entry size must be a power of two between 512 and the "
      "cluster size (65536)" },
    { "overlap-check=foo",
      "Unsupported value 'foo' for qcow2 option 'overlap-check'. Allowed are "
      "any of the following: none, constant, cached, all" },
    { "overlap-check=none,overlap-check.template=all",
      "Conflicting values for qcow2 options 'overlap-check' ('none') and "
      "'overlap-check.template' ('all')" },
    { "cache-clean-interval=5000000000", "Cache clean interval too big" },
    { "lazy-refcounts=on",
      "Lazy refcounts require a qcow2 image with at least qemu 1.1 "
      "compatibility level" },
    { "encrypt.format=aes",
      "No encryption in image header, but options specified format 'aes'" },
    { "cache-size=1M", NULL },
    { "l2-cache-size=1G,l2-cache-entry-size=4k", NULL },
    { "overlap-check.template=constant,overlap-check.active-l2=on", NULL },
    { "pass-discard-other=on,cache-clean-interval=0", NULL },
};

static void test_runtime_options(void)
{
    create("opts.qcow2", "compat=0.10", NULL, NULL, 64 * MiB);
    for (size_t i = 0; i < G_N_ELEMENTS(option_cases); i++) {
        const OptionCase *c = &option_cases[i];
        g_autofree char *msg = NULL;
        BlockBackend *blk;

        blk = open_img("opts.qcow2", BDRV_O_RDWR, c->options, &msg);
        if (c->error) {
            g_assert_null(blk);
            g_assert_cmpstr(msg, ==, c->error);
        } else {
            g_assert_nonnull(blk);
            blk_unref(blk);
        }
    }
}

/* ---- Layout of new images ---- */

/*
 * qemu-img create 1M: header, reftable in cluster 1, refblock in 2, L1
 * in 3; refcount 1 for clusters 0-3; the feature table only above 4 KiB
 * clusters (QEMU 7.2 images, decoded by hand).
 */
static void test_create_layout(void)
{
    static const uint32_t sizes[] = { 512, 4096, 8192, 65536, 2 * MiB };

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        uint32_t cs = sizes[i];
        g_autofree char *opts = g_strdup_printf("cluster_size=%u", cs);
        uint16_t refcounts[5];

        create("layout.qcow2", opts, NULL, NULL, MiB);
        g_assert_cmphex(get_be32("layout.qcow2", 0), ==, 0x514649fb);
        g_assert_cmpuint(get_be32("layout.qcow2", 4), ==, 3);
        g_assert_cmpuint(1u << get_be32("layout.qcow2", 20), ==, cs);
        g_assert_cmpuint(get_be64("layout.qcow2", 24), ==, MiB);
        g_assert_cmpuint(get_be64("layout.qcow2", 48), ==, cs);
        g_assert_cmpuint(get_be32("layout.qcow2", 56), ==, 1);
        g_assert_cmpuint(get_be64("layout.qcow2", 40), ==, 3 * cs);
        g_assert_cmpuint(get_be32("layout.qcow2", 96), ==, 4);
        g_assert_cmpuint(get_be32("layout.qcow2", 100), ==, 112);
        g_assert_cmphex(get_be32("layout.qcow2", 112), ==,
                        cs > 4096 ? 0x6803f857 : 0);
        g_assert_cmpuint(get_be64("layout.qcow2", cs), ==, 2 * cs);

        file_get("layout.qcow2", 2 * cs, refcounts, sizeof(refcounts));
        for (int c = 0; c < 5; c++) {
            g_assert_cmpuint(be16_to_cpu(refcounts[c]), ==, c < 4);
        }
    }
}

/* A v2 header is 72 bytes and the backing name follows the extensions. */
static void test_create_v2_backing(void)
{
    g_autofree char *base = path_of("base.raw");
    char name[64];

    g_free(test_new_file(tmp_dir, "base.raw", MiB));
    create("v2.qcow2", "compat=0.10", base, "raw", MiB);
    g_assert_cmpuint(get_be32("v2.qcow2", 4), ==, 2);
    /* 72-byte header, then the backing format extension ("raw") */
    g_assert_cmphex(get_be32("v2.qcow2", 72), ==, 0xe2792aca);
    g_assert_cmpuint(get_be32("v2.qcow2", 76), ==, 3);
    g_assert_cmphex(get_be32("v2.qcow2", 88), ==, 0);
    g_assert_cmpuint(get_be64("v2.qcow2", 8), ==, 96);
    g_assert_cmpuint(get_be32("v2.qcow2", 16), ==, strlen(base));
    g_assert_cmpuint(strlen(base), <, sizeof(name));
    file_get("v2.qcow2", 96, name, strlen(base));
    g_assert_cmpmem(name, strlen(base), base, strlen(base));
}

/* ---- Data path ---- */

/*
 * A write lands in a new data cluster after the L1 (QEMU: L2 table in
 * cluster 4, data in cluster 5 for the first write), COW from the
 * backing file fills the rest of the cluster.
 */
static void test_write_cow(void)
{
    g_autofree char *base = path_of("cow-base.raw");
    g_autofree uint8_t *buf = g_malloc(64 * KiB);
    BlockBackend *blk;
    uint64_t l2, entry;

    g_free(test_new_file(tmp_dir, "cow-base.raw", MiB));
    memset(buf, 0x11, 64 * KiB);
    file_put("cow-base.raw", 0, buf, 64 * KiB);
    create("cow.qcow2", NULL, base, "raw", MiB);

    blk = open_img("cow.qcow2", BDRV_O_RDWR, NULL, NULL);
    g_assert_nonnull(blk);
    memset(buf, 0x22, 4 * KiB);
    g_assert_cmpint(blk_pwrite(blk, 4 * KiB, 4 * KiB, buf, 0), ==, 0);
    blk_unref(blk);

    l2 = get_be64("cow.qcow2", 3 * 64 * KiB);
    g_assert_cmphex(l2, ==, (1ULL << 63) | (4 * 64 * KiB));
    entry = get_be64("cow.qcow2", 4 * 64 * KiB);
    g_assert_cmphex(entry, ==, (1ULL << 63) | (5 * 64 * KiB));
    file_get("cow.qcow2", 5 * 64 * KiB, buf, 64 * KiB);
    for (int i = 0; i < 64 * KiB; i++) {
        g_assert_cmpint(buf[i], ==, i >= 4 * KiB && i < 8 * KiB ? 0x22 : 0x11);
    }
}

/* The data of a compressed cluster reads back, a second one fails. */
static void test_compressed(void)
{
    g_autofree uint8_t *buf = g_malloc(64 * KiB);
    g_autofree uint8_t *back = g_malloc(64 * KiB);
    BlockBackend *blk;

    create("comp.qcow2", NULL, NULL, NULL, MiB);
    blk = open_img("comp.qcow2", BDRV_O_RDWR, NULL, NULL);
    g_assert_nonnull(blk);
    for (int i = 0; i < 64 * KiB; i++) {
        buf[i] = i / 1000;
    }
    g_assert_cmpint(blk_pwrite_compressed(blk, 0, 64 * KiB, buf), ==, 0);
    g_assert_cmpint(blk_pread(blk, 0, 64 * KiB, back, 0), ==, 0);
    g_assert_cmpmem(buf, 64 * KiB, back, 64 * KiB);
    /* QEMU: "write failed: Input/output error" over an allocated cluster */
    g_assert_cmpint(blk_pwrite_compressed(blk, 0, 64 * KiB, buf), ==, -EIO);
    blk_unref(blk);

    /* L2 entry of cluster 0: the compressed flag, no COPIED flag */
    g_assert_cmphex(get_be64("comp.qcow2", 4 * 64 * KiB) >> 62, ==, 1);
}

int main(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    dir = test_tmp_dir("QBLOCK_TEST_QCOW2_DIR", "test-qcow2-XXXXXX");
    tmp_dir = dir;

    g_test_add_func("/qcow2/header-validation", test_header_validation);
    g_test_add_func("/qcow2/corrupt-bit", test_corrupt_bit);
    g_test_add_func("/qcow2/feature-table-names", test_feature_table_names);
    g_test_add_func("/qcow2/unknown-extensions-kept",
                    test_unknown_extensions_kept);
    g_test_add_func("/qcow2/runtime-options", test_runtime_options);
    g_test_add_func("/qcow2/create-layout", test_create_layout);
    g_test_add_func("/qcow2/create-v2-backing", test_create_v2_backing);
    g_test_add_func("/qcow2/write-cow", test_write_cow);
    g_test_add_func("/qcow2/compressed", test_compressed);

    ret = g_test_run();
    test_remove_tree(dir);
    return ret;
}
