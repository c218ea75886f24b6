/*
 * Unit tests for the vpc (VHD) driver (block/vpc.c, block/vpc-diff.c).
 *
 * Expectations come from outside the driver: sizes and layouts observed
 * with QEMU 7.2's qemu-img (quoted next to each table), and the VHD
 * specification for differencing images (field offsets and bitmap bit
 * order are decoded here by hand, not through the driver's structures).
 * Byte-for-byte comparisons with QEMU's own images live in the interop
 * suite, which can run QEMU.
 */
#include "qemu/osdep.h"
#include <uuid/uuid.h>
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "test-helpers.h"

#define MiB (1024 * 1024)

static const char *tmp_dir;

static char *path_of(const char *name)
{
    return g_build_filename(tmp_dir, name, NULL);
}

static GByteArray *read_file(const char *path)
{
    g_autofree char *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_byte_array_new_take((guint8 *)g_steal_pointer(&data), len);
}

static void write_file(const char *path, GByteArray *b)
{
    g_assert_true(g_file_set_contents(path, (char *)b->data, b->len, NULL));
}

static uint32_t spec_checksum(const uint8_t *buf, size_t len, size_t off)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < len; i++) {
        if (i < off || i >= off + 4) {
            sum += buf[i];
        }
    }
    return ~sum;
}

/* Recompute the footer checksum (bytes 64..67) at off. */
static void fix_footer(GByteArray *b, size_t off)
{
    stl_be_p(b->data + off + 64, spec_checksum(b->data + off, 512, 64));
}

/* qemu-img create -f vpc [-o options] [-b backing -F vpc] name size */
static int create(const char *name, const char *options, const char *backing,
                  uint64_t size, char **msg)
{
    g_autofree char *path = path_of(name);
    g_autofree char *opts = g_strdup(options);
    Error *err = NULL;

    bdrv_img_create(path, "vpc", backing, backing ? "vpc" : NULL, opts, size,
                    0, true, &err);
    if (err) {
        if (msg) {
            *msg = g_strdup(error_get_pretty(err));
        } else {
            error_report_err(err);
            g_assert_not_reached();
        }
        error_free(err);
        return -1;
    }
    return 0;
}

static BlockBackend *open_img(const char *name, int flags, QDict *extra,
                              char **msg)
{
    g_autofree char *path = path_of(name);
    QDict *opts = extra ?: qdict_new();
    Error *err = NULL;
    BlockBackend *blk;

    qdict_put_str(opts, "driver", "vpc");
    qdict_put_str(opts, "file.driver", "file");
    qdict_put_str(opts, "file.filename", path);
    blk = blk_new_open(NULL, NULL, opts, flags, &err);
    if (!blk) {
        if (msg) {
            *msg = g_strdup(error_get_pretty(err));
        } else {
            error_report_err(err);
            g_assert_not_reached();
        }
        error_free(err);
    }
    return blk;
}

static void fill(BlockBackend *blk, int64_t off, int64_t len, int c)
{
    g_autofree uint8_t *buf = g_malloc(len);

    memset(buf, c, len);
    g_assert_cmpint(blk_pwrite(blk, off, len, buf, 0), ==, 0);
}

static void expect(BlockBackend *blk, int64_t off, int64_t len, int c)
{
    g_autofree uint8_t *buf = g_malloc(len);

    g_assert_cmpint(blk_pread(blk, off, len, buf, 0), ==, 0);
    for (int64_t i = 0; i < len; i++) {
        if (buf[i] != c) {
            g_test_message("offset %" PRId64 ": 0x%02x, expected 0x%02x",
                           off + i, buf[i], c);
            g_assert_not_reached();
        }
    }
}

/* ---- Sizes and geometry ---- */

/*
 * qemu-img create -f vpc t.vhd SIZE; qemu-img info: virtual size, file
 * length and the CHS bytes (footer bytes 56..59), QEMU 7.2.
 */
static const struct {
    uint64_t size;
    int64_t virtual_size;
    int64_t file_length;
    uint32_t chs;
} size_table[] = {
    { 512, 34816, 2560, 0x00010411 },
    { 1000, 34816, 2560, 0x00010411 },
    { 34816, 34816, 2560, 0x00010411 },
    { 34817, 69632, 2560, 0x00020411 },
    { 1048577, 1079296, 2560, 0x001f0411 },
    { 10 * MiB, 10514432, 2560, 0x012e0411 },
    { 64 * MiB, 67125248, 2560, 0x03c40811 },
    { 100 * MiB, 104865792, 2560, 0x03ec0c11 },
    { 127 * MiB, 133171200, 2560, 0x03fc0f11 },
    { 500 * MiB, 524353536, 3072, 0x03f8103f },
    { 1024 * MiB, 1073995776, 4608, 0x0821103f },
    { 4096ULL * MiB, 4295467008, 10752, 0x2083103f },
    { 31744ULL * MiB, 33286127616, 66048, 0xfbf0103f },
    { 32768ULL * MiB, 34361303040, 68096, 0x404110ff },
    { 130048ULL * MiB, 136365219840, 262656, 0xfeff10ff },
    { 136365219841ULL, 136367308800, 262656, 0xff0010ff },
    { 130560ULL * MiB, 136902082560, 263168, 0xffff10ff },
    { 1024ULL * 1024 * MiB, 1099511627776, 2099200, 0xffff10ff },
    { 2040ULL * 1024 * MiB, 2190433320960, 4179968, 0xffff10ff },
};

static void test_geometry(void)
{
    for (int i = 0; i < ARRAY_SIZE(size_table); i++) {
        g_autofree char *path = path_of("geo.vhd");
        g_autoptr(GByteArray) b = NULL;
        BlockBackend *blk;

        g_assert_cmpint(create("geo.vhd", NULL, NULL, size_table[i].size,
                               NULL), ==, 0);
        b = read_file(path);
        g_assert_cmpint(b->len, ==, size_table[i].file_length);
        g_assert_cmphex(ldl_be_p(b->data + 56), ==, size_table[i].chs);

        blk = open_img("geo.vhd", 0, NULL, NULL);
        g_assert_cmpint(blk_getlength(blk), ==, size_table[i].virtual_size);
        blk_unref(blk);
    }
}

static void test_create_errors(void)
{
    char *msg = NULL;

    /* QEMU 7.2: the image size message of qemu-img (EFBIG). */
    g_assert_cmpint(create("e.vhd", NULL, NULL, 2041ULL << 30, &msg), ==, -1);
    g_assert_cmpstr(msg, ==,
                    "The image size is too large for file format 'vpc'");
    g_free(msg);
    g_assert_cmpint(create("e.vhd", "force_size=on", NULL,
                           (2040ULL << 30) + 512, &msg), ==, -1);
    g_assert_cmpstr(msg, ==,
                    "The image size is too large for file format 'vpc'");
    g_free(msg);
    g_assert_cmpint(create("e.vhd", "force_size=on", NULL, 2040ULL << 30,
                           NULL), ==, 0);

    g_assert_cmpint(create("e.vhd", "subformat=foo", NULL, MiB, &msg), ==,
                    -1);
    g_assert_cmpstr(msg, ==,
                    "Parameter 'subformat' does not accept value 'foo'");
    g_free(msg);
}

/* ---- Layout of new images (QEMU 7.2's, see formats.md) ---- */

static void check_footer(const uint8_t *f, const char *app, uint64_t size,
                         uint32_t chs, uint32_t type, uint64_t data_offset)
{
    g_assert_cmpmem(f, 8, "conectix", 8);
    g_assert_cmphex(ldl_be_p(f + 8), ==, 2);
    g_assert_cmphex(ldl_be_p(f + 12), ==, 0x10000);
    g_assert_cmphex(ldq_be_p(f + 16), ==, data_offset);
    g_assert_cmpmem(f + 28, 4, app, 4);
    g_assert_cmphex(ldl_be_p(f + 32), ==, 0x00050003);
    g_assert_cmpmem(f + 36, 4, "Wi2k", 4);
    g_assert_cmpint(ldq_be_p(f + 40), ==, size);
    g_assert_cmpint(ldq_be_p(f + 48), ==, size);
    g_assert_cmphex(ldl_be_p(f + 56), ==, chs);
    g_assert_cmpint(ldl_be_p(f + 60), ==, type);
    g_assert_cmphex(ldl_be_p(f + 64), ==, spec_checksum(f, 512, 64));
    for (int i = 84; i < 512; i++) {
        g_assert_cmpint(f[i], ==, 0);
    }
}

static void test_create_dynamic(void)
{
    g_autofree char *path = path_of("dyn.vhd");
    g_autoptr(GByteArray) b = NULL;

    g_assert_cmpint(create("dyn.vhd", NULL, NULL, 64 * MiB, NULL), ==, 0);
    b = read_file(path);
    g_assert_cmpint(b->len, ==, 2560);
    check_footer(b->data, "qemu", 67125248, 0x03c40811, 3, 512);
    g_assert_cmpmem(b->data, 512, b->data + 2048, 512);

    /* Dynamic header: its checksum is QEMU's (no random field in it). */
    g_assert_cmpmem(b->data + 512, 8, "cxsparse", 8);
    g_assert_cmphex(ldq_be_p(b->data + 520), ==, UINT64_MAX);
    g_assert_cmphex(ldq_be_p(b->data + 528), ==, 1536);
    g_assert_cmphex(ldl_be_p(b->data + 536), ==, 0x10000);
    g_assert_cmpint(ldl_be_p(b->data + 540), ==, 33);
    g_assert_cmpint(ldl_be_p(b->data + 544), ==, 2 * MiB);
    g_assert_cmphex(ldl_be_p(b->data + 548), ==, 0xfffff456);
    for (int i = 552; i < 1536; i++) {
        g_assert_cmpint(b->data[i], ==, 0);
    }
    for (int i = 1536; i < 2048; i++) {
        g_assert_cmpint(b->data[i], ==, 0xff);
    }
}

static void test_create_fixed(void)
{
    g_autofree char *path = path_of("fixed.vhd");
    g_autoptr(GByteArray) b = NULL;
    BlockBackend *blk;

    g_assert_cmpint(create("fixed.vhd", "subformat=fixed", NULL, 10 * MiB,
                           NULL), ==, 0);
    b = read_file(path);
    g_assert_cmpint(b->len, ==, 10514944);
    check_footer(b->data + b->len - 512, "qemu", 10514432, 0x012e0411, 2,
                 UINT64_MAX);

    blk = open_img("fixed.vhd", BDRV_O_RDWR, NULL, NULL);
    g_assert_cmpint(blk_getlength(blk), ==, 10514432);
    fill(blk, 1000, 3000, 0x5a);
    expect(blk, 1000, 3000, 0x5a);
    blk_unref(blk);

    /* Fixed images map one to one onto the file. */
    g_byte_array_unref(b);
    b = read_file(path);
    g_assert_cmpint(b->data[1000], ==, 0x5a);
    g_assert_cmpint(b->data[3999], ==, 0x5a);
    g_assert_cmpint(b->data[4000], ==, 0);
}

static void test_create_force_size(void)
{
    g_autofree char *path = path_of("fs.vhd");
    g_autoptr(GByteArray) b = NULL;
    BlockBackend *blk;

    g_assert_cmpint(create("fs.vhd", "force_size=on", NULL, 64 * MiB, NULL),
                    ==, 0);
    b = read_file(path);
    g_assert_cmpint(b->len, ==, 2560);
    check_footer(b->data, "qem2", 64 * MiB, 0xffff10ff, 3, 512);
    g_assert_cmpint(ldl_be_p(b->data + 540), ==, 32);

    blk = open_img("fs.vhd", 0, NULL, NULL);
    g_assert_cmpint(blk_getlength(blk), ==, 64 * MiB);
    blk_unref(blk);
}

/* ---- Dynamic images ---- */

static void test_dynamic_allocation(void)
{
    g_autofree char *path = path_of("alloc.vhd");
    g_autoptr(GByteArray) b = NULL;
    g_autoptr(GByteArray) b2 = NULL;
    BlockBackend *blk;
    int64_t pnum, map;
    BlockDriverState *file;

    g_assert_cmpint(create("alloc.vhd", NULL, NULL, 64 * MiB, NULL), ==, 0);
    blk = open_img("alloc.vhd", BDRV_O_RDWR, NULL, NULL);
    /* QEMU 7.2 after "write -P 0xab 1M 64k": BAT[0] = 4, bitmap all ones. */
    fill(blk, MiB, 64 * 1024, 0xab);
    expect(blk, 0, MiB, 0);
    expect(blk, MiB, 64 * 1024, 0xab);

    /* Allocated block: DATA for the whole block; the rest reads ZERO. */
    g_assert_cmpint(bdrv_block_status(blk_bs(blk), 0, 64 * MiB, &pnum, &map,
                                      &file), ==,
                    BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID |
                    BDRV_BLOCK_ALLOCATED);
    g_assert_cmpint(pnum, ==, 2 * MiB);
    g_assert_cmpint(map, ==, 2560);
    g_assert_cmpint(bdrv_block_status(blk_bs(blk), 2 * MiB,
                                      67125248 - 2 * MiB, &pnum, NULL,
                                      NULL) & ~BDRV_BLOCK_EOF, ==,
                    BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED);
    g_assert_cmpint(pnum, ==, 67125248 - 2 * MiB);
    blk_unref(blk);

    b = read_file(path);
    g_assert_cmpint(b->len, ==, 2048 + 512 + 2 * MiB + 512);
    g_assert_cmphex(ldl_be_p(b->data + 1536), ==, 4);
    g_assert_cmphex(ldl_be_p(b->data + 1540), ==, 0xffffffff);
    for (int i = 2048; i < 2560; i++) {
        g_assert_cmpint(b->data[i], ==, 0xff);
    }
    g_assert_cmpint(b->data[2560 + MiB], ==, 0xab);
    /* The footer moved behind the block, unchanged. */
    g_assert_cmpmem(b->data, 512, b->data + b->len - 512, 512);

    /*
     * A block whose bitmap is partial (as other tools write them) is
     * read whole, and its first write sets every bit, as QEMU does.
     */
    memset(b->data + 2048, 0, 512);
    b->data[2048] = 0x80;
    write_file(path, b);
    blk = open_img("alloc.vhd", BDRV_O_RDWR, NULL, NULL);
    expect(blk, MiB, 64 * 1024, 0xab);
    fill(blk, 0, 512, 0x11);
    blk_unref(blk);
    b2 = read_file(path);
    for (int i = 2048; i < 2560; i++) {
        g_assert_cmpint(b2->data[i], ==, 0xff);
    }
    g_assert_cmpint(b2->len, ==, b->len);
}

static int64_t file_length(const char *name)
{
    g_autofree char *path = path_of(name);
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_size;
}

/*
 * New blocks go into space reserved behind the last block (one flush per
 * reservation); closing, or reopening read-only, gives QEMU's layout back
 * (2048 + 2 * (512 + 2 MiB) + 512 bytes for two blocks).
 */
static void test_dynamic_reserve(void)
{
    int64_t qemu_len = 2048 + 2 * (512 + 2 * MiB) + 512;
    uint64_t perm, shared;
    BlockBackend *blk;

    g_assert_cmpint(create("res.vhd", NULL, NULL, 64 * MiB, NULL), ==, 0);
    blk = open_img("res.vhd", BDRV_O_RDWR, NULL, NULL);
    fill(blk, 0, 4096, 0x11);
    fill(blk, 10 * MiB, 4096, 0x22);
    g_assert_cmpint(file_length("res.vhd"), >, qemu_len);

    /* As qemu-io's "reopen -r": the user drops its write permission. */
    blk_get_perm(blk, &perm, &shared);
    g_assert_cmpint(blk_set_perm(blk, perm & ~BLK_PERM_WRITE, shared,
                                 &error_abort), ==, 0);
    g_assert_cmpint(bdrv_reopen_set_read_only(blk_bs(blk), true,
                                              &error_abort), ==, 0);
    g_assert_cmpint(file_length("res.vhd"), ==, qemu_len);
    expect(blk, 10 * MiB, 4096, 0x22);
    g_assert_cmpint(bdrv_reopen_set_read_only(blk_bs(blk), false,
                                              &error_abort), ==, 0);
    g_assert_cmpint(blk_set_perm(blk, perm, shared, &error_abort), ==, 0);
    fill(blk, 20 * MiB, 4096, 0x33);
    g_assert_cmpint(file_length("res.vhd"), >, qemu_len + 512 + 2 * MiB);
    blk_unref(blk);
    g_assert_cmpint(file_length("res.vhd"), ==, qemu_len + 512 + 2 * MiB);

    blk = open_img("res.vhd", 0, NULL, NULL);
    expect(blk, 0, 4096, 0x11);
    expect(blk, 10 * MiB, 4096, 0x22);
    expect(blk, 20 * MiB, 4096, 0x33);
    expect(blk, 4096, 10 * MiB - 4096, 0);
    blk_unref(blk);
}

/* The creator application and force_size_calc decide the size. */
static void test_size_rules(void)
{
    static const struct {
        const char *app;
        bool max_chs;
        const char *calc;
        int64_t size;
    } rules[] = {
        /* 10M: CHS product 10514432, current_size patched to 10 MiB. */
        { "qemu", false, NULL, 10514432 },
        { "vpc ", false, NULL, 10514432 },
        { "vs  ", false, NULL, 10514432 },
        { "vbox", false, NULL, 10514432 },
        { "xyz1", false, NULL, 10514432 },
        { "qem2", false, NULL, 10 * MiB },
        { "win ", false, NULL, 10 * MiB },
        { "d2v ", false, NULL, 10 * MiB },
        { "d2v\0", false, NULL, 10514432 },
        { "CTXS", false, NULL, 10 * MiB },
        { "tap\0", false, NULL, 10 * MiB },
        { "qemu", true, NULL, 10 * MiB },
        { "qemu", false, "current_size", 10 * MiB },
        { "win ", false, "chs", 10514432 },
        { "win ", true, "chs", 10 * MiB },
    };
    g_autofree char *path = path_of("rules.vhd");
    g_autoptr(GByteArray) orig = NULL;
    char *msg = NULL;
    QDict *opts;

    g_assert_cmpint(create("rules.vhd", NULL, NULL, 10 * MiB, NULL), ==, 0);
    orig = read_file(path);
    for (int i = 0; i < ARRAY_SIZE(rules); i++) {
        g_autoptr(GByteArray) b = g_byte_array_sized_new(orig->len);
        BlockBackend *blk;

        g_byte_array_append(b, orig->data, orig->len);

        memcpy(b->data + 28, rules[i].app, 4);
        stq_be_p(b->data + 48, 10 * MiB);
        if (rules[i].max_chs) {
            stl_be_p(b->data + 56, 0xffff10ff);
        }
        fix_footer(b, 0);
        write_file(path, b);

        opts = qdict_new();
        if (rules[i].calc) {
            qdict_put_str(opts, "force_size_calc", rules[i].calc);
        }
        blk = open_img("rules.vhd", 0, opts, NULL);
        g_assert_cmpint(blk_getlength(blk), ==, rules[i].size);
        blk_unref(blk);
    }

    opts = qdict_new();
    qdict_put_str(opts, "force_size_calc", "foo");
    g_assert_null(open_img("rules.vhd", 0, opts, &msg));
    g_assert_cmpstr(msg, ==, "Invalid size calculation mode: 'foo'");
    g_free(msg);
}

/* Corrupt headers: QEMU 7.2's messages (see formats.md). */
static void test_open_errors(void)
{
    static const struct {
        size_t off;
        uint32_t value;         /* big-endian 32-bit store */
        bool fix_footer;
        const char *msg;
    } cases[] = {
        { 100, 1, false, "Incorrect header checksum" },
        { 0, 0x78000000, false, "invalid VPC image" },
        { 512, 0x78000000, false, "Invalid header magic" },
        { 512 + 32, 3000, false, "Invalid block size 3000" },
        { 512 + 32, 256, false, "Invalid block size 256" },
        { 512 + 28, 1, false, "Page table too small" },
        { 512 + 28, 0x40000000, false,
          "Max Table Entries too large (1073741824)" },
        { 1536, 0x7fffff00, false, "block-vpc: free_data_block_offset "
          "points after the end of file. The image has been truncated." },
        /* Hardening beyond QEMU, which reads the header as data. */
        { 1536, 0, false, "Block 0 (offset 0x0) overlaps the image metadata" },
        { 1536, 3, false,
          "Block 0 (offset 0x600) overlaps the image metadata" },
    };
    g_autofree char *path = path_of("bad.vhd");
    g_autoptr(GByteArray) good = NULL;
    BlockBackend *blk;

    g_assert_cmpint(create("bad.vhd", NULL, NULL, 64 * MiB, NULL), ==, 0);
    blk = open_img("bad.vhd", BDRV_O_RDWR, NULL, NULL);
    fill(blk, 0, 3 * MiB, 0x11);
    blk_unref(blk);
    good = read_file(path);

    for (int i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autoptr(GByteArray) b = g_byte_array_sized_new(good->len);
        char *msg = NULL;

        g_byte_array_append(b, good->data, good->len);
        stl_be_p(b->data + cases[i].off, cases[i].value);
        write_file(path, b);
        g_assert_null(open_img("bad.vhd", 0, NULL, &msg));
        g_assert_cmpstr(msg, ==, cases[i].msg);
        g_free(msg);
    }

    /* Small files. */
    {
        g_autoptr(GByteArray) b = g_byte_array_new();
        char *msg = NULL;

        write_file(path, b);
        g_assert_null(open_img("bad.vhd", 0, NULL, &msg));
        g_assert_cmpstr(msg, ==, "File too small for a VHD header");
        g_free(msg);
    }
}

/* ---- Differencing images ---- */

/* Bit of sector s in a bitmap, per the spec: most significant first. */
static bool spec_bit(const uint8_t *bitmap, int s)
{
    return bitmap[s / 8] & (0x80 >> (s % 8));
}

static char *utf16le_to_utf8(const uint8_t *p, size_t len)
{
    g_autofree gunichar2 *u = g_new(gunichar2, len / 2 + 1);

    for (size_t i = 0; i < len / 2; i++) {
        u[i] = lduw_le_p(p + 2 * i);
    }
    return g_utf16_to_utf8(u, len / 2, NULL, NULL, NULL);
}

static void make_parent(const char *name)
{
    BlockBackend *blk;

    g_assert_cmpint(create(name, NULL, NULL, 16 * MiB, NULL), ==, 0);
    blk = open_img(name, BDRV_O_RDWR, NULL, NULL);
    fill(blk, 0, 4 * MiB, 0x11);
    fill(blk, 8 * MiB, MiB, 0x12);
    blk_unref(blk);
}

static void test_diff_create(void)
{
    g_autofree char *ppath = path_of("parent.vhd");
    g_autofree char *cpath = path_of("child.vhd");
    g_autofree char *abs_parent = NULL;
    g_autofree char *w2ku = NULL;
    g_autofree char *w2ru = NULL;
    g_autoptr(GByteArray) p = NULL;
    g_autoptr(GByteArray) c = NULL;
    const uint8_t *h;
    BlockBackend *blk;
    int64_t parent_len;

    make_parent("parent.vhd");
    blk = open_img("parent.vhd", 0, NULL, NULL);
    parent_len = blk_getlength(blk);
    blk_unref(blk);
    g_assert_cmpint(create("child.vhd", NULL, "parent.vhd", UINT64_MAX,
                           NULL), ==, 0);
    p = read_file(ppath);
    c = read_file(cpath);

    /* Footer: type 4, the parent's size and geometry. */
    check_footer(c->data, "qemu", ldq_be_p(p->data + 48),
                 ldl_be_p(p->data + 56), 4, 512);
    g_assert_cmpmem(c->data, 512, c->data + c->len - 512, 512);

    /* Dynamic header: parent UUID and timestamp, UTF-16BE parent name. */
    h = c->data + 512;
    g_assert_cmpmem(h + 40, 16, p->data + 68, 16);
    g_assert_cmphex(ldl_be_p(h + 56), ==, ldl_be_p(p->data + 24));
    for (int i = 0; i < 10; i++) {
        g_assert_cmpint(lduw_be_p(h + 64 + 2 * i), ==, "parent.vhd"[i]);
    }
    g_assert_cmpint(lduw_be_p(h + 64 + 20), ==, 0);
    g_assert_cmphex(ldl_be_p(h + 36), ==, spec_checksum(h, 1024, 36));

    /* Locators W2ku and W2ru, UTF-16LE, data in sectors after the BAT. */
    g_assert_cmpmem(h + 576, 4, "W2ku", 4);
    g_assert_cmpmem(h + 600, 4, "W2ru", 4);
    g_assert_cmpint(ldq_be_p(h + 576 + 16), ==, 2048);
    abs_parent = realpath(ppath, NULL);
    w2ku = utf16le_to_utf8(c->data + 2048, ldl_be_p(h + 576 + 8));
    g_strdelimit(w2ku, "\\", '/');
    g_assert_cmpstr(w2ku, ==, abs_parent);
    g_assert_cmpint(ldl_be_p(h + 576 + 4), ==,
                    DIV_ROUND_UP(ldl_be_p(h + 576 + 8), 512));
    w2ru = utf16le_to_utf8(c->data + ldq_be_p(h + 600 + 16),
                           ldl_be_p(h + 600 + 8));
    g_assert_cmpstr(w2ru, ==, ".\\parent.vhd");

    /* It reads as its parent. */
    blk = open_img("child.vhd", 0, NULL, NULL);
    g_assert_cmpint(blk_getlength(blk), ==, parent_len);
    expect(blk, 0, 4 * MiB, 0x11);
    expect(blk, 4 * MiB, 4 * MiB, 0);
    expect(blk, 8 * MiB, MiB, 0x12);
    g_assert_cmpstr(blk_bs(blk)->backing_file, ==, "parent.vhd");
    g_assert_cmpstr(blk_bs(blk)->backing_format, ==, "vpc");
    blk_unref(blk);
}

static void test_diff_read_write(void)
{
    g_autofree char *cpath = path_of("child.vhd");
    g_autoptr(GByteArray) c = NULL;
    BlockBackend *blk;
    int64_t pnum, map;
    const uint8_t *bm;
    uint32_t bat0;

    make_parent("parent.vhd");
    g_assert_cmpint(create("child.vhd", NULL, "parent.vhd", UINT64_MAX,
                           NULL), ==, 0);
    blk = open_img("child.vhd", BDRV_O_RDWR, NULL, NULL);
    fill(blk, 4096, 8192, 0x22);
    /* Partial sector: the rest of the sector comes from the parent. */
    fill(blk, 20000, 100, 0x23);
    /* Beyond the parent's data: parent zeroes around it. */
    fill(blk, 5 * MiB + 512, 512, 0x24);

    expect(blk, 0, 4096, 0x11);
    expect(blk, 4096, 8192, 0x22);
    expect(blk, 12288, 20000 - 12288, 0x11);
    expect(blk, 20000, 100, 0x23);
    expect(blk, 20100, 4 * MiB - 20100, 0x11);
    expect(blk, 5 * MiB, 512, 0);
    expect(blk, 5 * MiB + 512, 512, 0x24);
    expect(blk, 5 * MiB + 1024, MiB, 0);

    /* Block status: DATA where the bitmap is set, else ask the parent. */
    g_assert_cmpint(bdrv_block_status(blk_bs(blk), 0, 64 * 1024, &pnum,
                                      NULL, NULL), ==, 0);
    g_assert_cmpint(pnum, ==, 4096);
    g_assert_cmpint(bdrv_block_status(blk_bs(blk), 4096, 64 * 1024, &pnum,
                                      &map, NULL), ==,
                    BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID |
                    BDRV_BLOCK_ALLOCATED);
    g_assert_cmpint(pnum, ==, 8192);
    g_assert_cmpint(bdrv_is_allocated_above(blk_bs(blk), NULL, false, 0,
                                            4096, &pnum), ==, 2);
    blk_unref(blk);

    /* On disk: block 0 allocated after the locators, bits per sector. */
    c = read_file(cpath);
    bat0 = ldl_be_p(c->data + 1536);
    g_assert_cmpint(bat0, !=, 0xffffffff);
    g_assert_cmpint(bat0 * 512ULL, >=, 2048 + 1024);
    bm = c->data + bat0 * 512ULL;
    for (int s = 0; s < 4096; s++) {
        bool set = (s >= 8 && s < 24) || s == 39;

        g_assert_cmpint(spec_bit(bm, s), ==, set);
    }
    g_assert_cmpint(c->data[bat0 * 512ULL + 512 + 4096], ==, 0x22);
    /* Block 2 (4 MiB..6 MiB): only sector 2049 of it. */
    bm = c->data + ldl_be_p(c->data + 1536 + 8) * 512ULL;
    for (int s = 0; s < 4096; s++) {
        g_assert_cmpint(spec_bit(bm, s), ==, s == 2049);
    }
}

typedef struct AioWrite {
    int *pending;
    int ret;
} AioWrite;

static void aio_write_done(void *opaque, int ret)
{
    AioWrite *w = opaque;

    w->ret = ret;
    (*w->pending)--;
}

/* Many writes to one new block: every bit reaches the file. */
static void test_diff_concurrent_bitmap(void)
{
    enum { N = 64 };
    g_autofree char *cpath = path_of("child.vhd");
    g_autoptr(GByteArray) c = NULL;
    g_autofree uint8_t *buf = g_malloc(512);
    QEMUIOVector qiov[N];
    AioWrite w[N];
    BlockBackend *blk;
    int pending = N;
    const uint8_t *bm;

    make_parent("parent.vhd");
    g_assert_cmpint(create("child.vhd", NULL, "parent.vhd", UINT64_MAX,
                           NULL), ==, 0);
    blk = open_img("child.vhd", BDRV_O_RDWR, NULL, NULL);
    memset(buf, 0x77, 512);
    for (int i = 0; i < N; i++) {
        qemu_iovec_init_buf(&qiov[i], buf, 512);
        w[i] = (AioWrite) { .pending = &pending, .ret = -EINPROGRESS };
        /* Every third sector of block 1, in a scattered order. */
        blk_aio_pwritev(blk, 2 * MiB + ((i * 37) % N) * 3 * 512, &qiov[i], 0,
                        aio_write_done, &w[i]);
    }
    while (pending) {
        aio_poll(qemu_get_aio_context(), true);
    }
    for (int i = 0; i < N; i++) {
        g_assert_cmpint(w[i].ret, ==, 0);
    }
    for (int i = 0; i < N; i++) {
        expect(blk, 2 * MiB + i * 3 * 512, 512, 0x77);
        expect(blk, 2 * MiB + i * 3 * 512 + 512, 1024, 0x11);
    }
    blk_unref(blk);

    c = read_file(cpath);
    bm = c->data + ldl_be_p(c->data + 1536 + 4) * 512ULL;
    for (int s = 0; s < 4096; s++) {
        g_assert_cmpint(spec_bit(bm, s), ==, s % 3 == 0 && s < 3 * N);
    }
}

static void test_diff_errors(void)
{
    g_autofree char *ppath = path_of("parent.vhd");
    g_autofree char *cpath = path_of("child.vhd");
    g_autofree char *opath = path_of("other.vhd");
    g_autofree char *expected = NULL;
    char *msg = NULL;
    char uuid_want[37], uuid_have[37];
    g_autoptr(GByteArray) p = NULL;
    g_autoptr(GByteArray) c = NULL;
    g_autoptr(GByteArray) o = NULL;
    QDict *opts;
    BlockBackend *blk;

    make_parent("parent.vhd");
    g_assert_cmpint(create("child.vhd", NULL, "parent.vhd", UINT64_MAX,
                           NULL), ==, 0);
    p = read_file(ppath);
    c = read_file(cpath);

    /* Only vpc parents. */
    {
        g_autofree char *path = path_of("c2.vhd");
        Error *err = NULL;

        bdrv_img_create(path, "vpc", ppath, "raw", NULL, UINT64_MAX, 0, true,
                        &err);
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "Invalid backing file format: raw. Must be vpc");
        error_free(err);
    }

    /* Another image in the parent's place: the UUIDs disagree. */
    g_assert_cmpint(create("other.vhd", NULL, NULL, 16 * MiB, NULL), ==, 0);
    o = read_file(opath);
    write_file(ppath, o);
    g_assert_null(open_img("child.vhd", 0, NULL, &msg));
    uuid_unparse(c->data + 512 + 40, uuid_want);
    uuid_unparse(o->data + 68, uuid_have);
    expected = g_strdup_printf("Could not open backing file: '%s' is not the "
                               "parent of '%s' (UUID %s, expected %s)",
                               ppath, cpath, uuid_have, uuid_want);
    g_assert_cmpstr(msg, ==, expected);
    g_free(msg);

    /* Explicit backing options override the locators and the check. */
    opts = qdict_new();
    qdict_put_str(opts, "backing.driver", "vpc");
    qdict_put_str(opts, "backing.file.filename", ppath);
    blk = open_img("child.vhd", 0, opts, NULL);
    blk_unref(blk);

    /* Missing parent. */
    unlink(ppath);
    g_assert_null(open_img("child.vhd", 0, NULL, &msg));
    g_free(expected);
    expected = g_strdup_printf("Could not open backing file: Could not open "
                               "'%s': No such file or directory", ppath);
    g_assert_cmpstr(msg, ==, expected);
    g_free(msg);

    /* Without backing file (qemu-img info): opens, names the parent. */
    blk = blk_new_open(cpath, NULL, NULL, BDRV_O_NO_BACKING, &error_abort);
    g_assert_cmpstr(blk_bs(blk)->backing_file, ==, "parent.vhd");
    blk_unref(blk);

    /* A child in the parent's place: it names itself, a loop. */
    write_file(ppath, c);
    g_assert_null(open_img("parent.vhd", 0, NULL, &msg));
    g_free(expected);
    expected = g_strdup_printf("Could not open backing file: Parent chain "
                               "loop: '%s' and its descendant '%s' have the "
                               "same UUID", ppath, ppath);
    g_assert_cmpstr(msg, ==, expected);
    g_free(msg);
    write_file(ppath, p);
}

/* A chain longer than the limit (64 differencing images) is refused. */
static void test_diff_depth(void)
{
    char *msg = NULL;
    BlockBackend *blk;

    g_assert_cmpint(create("l0.vhd", NULL, NULL, MiB, NULL), ==, 0);
    for (int i = 1; i <= 65; i++) {
        g_autofree char *name = g_strdup_printf("l%d.vhd", i);
        g_autofree char *base = g_strdup_printf("l%d.vhd", i - 1);

        g_assert_cmpint(create(name, NULL, base, UINT64_MAX, NULL), ==, 0);
    }
    blk = open_img("l64.vhd", 0, NULL, NULL);
    blk_unref(blk);
    g_assert_null(open_img("l65.vhd", 0, NULL, &msg));
    g_assert_nonnull(strstr(msg, "is too long (more than 64 differencing "
                            "images)"));
    g_free(msg);
}

/* Nothing is written to an image opened read-only. */
static void test_readonly(void)
{
    g_autofree char *cpath = path_of("child.vhd");
    g_autoptr(GByteArray) before = NULL;
    g_autoptr(GByteArray) after = NULL;
    BlockBackend *blk;
    int64_t pnum;

    make_parent("parent.vhd");
    g_assert_cmpint(create("child.vhd", NULL, "parent.vhd", UINT64_MAX,
                           NULL), ==, 0);
    blk = open_img("child.vhd", BDRV_O_RDWR, NULL, NULL);
    fill(blk, 4096, 4096, 0x31);
    blk_unref(blk);

    before = read_file(cpath);
    blk = open_img("child.vhd", 0, NULL, NULL);
    expect(blk, 4096, 4096, 0x31);
    expect(blk, 0, 4096, 0x11);
    bdrv_block_status_above(blk_bs(blk), NULL, 0, 16 * MiB, &pnum, NULL,
                            NULL);
    blk_unref(blk);
    after = read_file(cpath);
    g_assert_cmpint(before->len, ==, after->len);
    g_assert_cmpmem(before->data, before->len, after->data, after->len);
}

/*
 * The fuzz corpus through open and read (the crash cases stay covered
 * without clang), read-only: no file may change.  Differencing images
 * get a null-co parent.
 */
static void test_corpus(void)
{
    const char *dir = g_getenv("QBLOCK_VPC_CORPUS");
    g_autoptr(GDir) d = NULL;
    BlockDriverState *null_bs;
    QDict *null_opts = qdict_new();
    const char *name;
    int n = 0;

    qdict_put_str(null_opts, "driver", "null-co");
    qdict_put_str(null_opts, "node-name", "corpus-parent");
    qdict_put_bool(null_opts, "read-zeroes", true);
    null_bs = bdrv_open(NULL, NULL, null_opts, 0, &error_abort);

    if (!dir) {
        dir = CORPUS_DIR;
    }
    d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree uint8_t *buf = g_malloc(64 * 1024);
        g_autoptr(GByteArray) before = read_file(path);
        g_autoptr(GByteArray) after = NULL;
        QDict *opts = qdict_new();
        Error *err = NULL;
        BlockBackend *blk;
        int64_t len;

        qdict_put_str(opts, "driver", "vpc");
        qdict_put_str(opts, "file.driver", "file");
        qdict_put_str(opts, "file.filename", path);
        qdict_put_str(opts, "backing", "corpus-parent");
        blk = blk_new_open(NULL, NULL, opts, 0, &err);
        n++;
        if (blk) {
            len = MIN(blk_getlength(blk), 64 * MiB);
            for (int64_t off = 0; off < len; off += 64 * 1024) {
                int64_t pnum;

                blk_pread(blk, off, MIN(64 * 1024, len - off), buf, 0);
                bdrv_block_status_above(blk_bs(blk), NULL, off, len - off,
                                        &pnum, NULL, NULL);
            }
            blk_unref(blk);
        } else {
            g_test_message("%s: %s", name, error_get_pretty(err));
            error_free(err);
        }
        after = read_file(path);
        g_assert_cmpmem(before->data, before->len, after->data, after->len);
    }
    bdrv_unref(null_bs);
    g_assert_cmpint(n, >, 0);
}

int main(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    dir = test_tmp_dir("QBLOCK_TEST_VPC_DIR", "test-vpc-XXXXXX");
    tmp_dir = dir;

    g_test_add_func("/vpc/geometry", test_geometry);
    g_test_add_func("/vpc/create/errors", test_create_errors);
    g_test_add_func("/vpc/create/dynamic", test_create_dynamic);
    g_test_add_func("/vpc/create/fixed", test_create_fixed);
    g_test_add_func("/vpc/create/force-size", test_create_force_size);
    g_test_add_func("/vpc/dynamic/allocation", test_dynamic_allocation);
    g_test_add_func("/vpc/dynamic/reserve", test_dynamic_reserve);
    g_test_add_func("/vpc/size-rules", test_size_rules);
    g_test_add_func("/vpc/open-errors", test_open_errors);
    g_test_add_func("/vpc/diff/create", test_diff_create);
    g_test_add_func("/vpc/diff/read-write", test_diff_read_write);
    g_test_add_func("/vpc/diff/concurrent-bitmap",
                    test_diff_concurrent_bitmap);
    g_test_add_func("/vpc/diff/errors", test_diff_errors);
    g_test_add_func("/vpc/diff/depth", test_diff_depth);
    g_test_add_func("/vpc/readonly", test_readonly);
    g_test_add_func("/vpc/corpus", test_corpus);

    ret = g_test_run();
    bdrv_close_all();
    test_remove_tree(dir);
    return ret;
}
