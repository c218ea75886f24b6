/*
 * bdrv_image_info_specific_dump(): the "Format specific information"
 * block of qemu-img info and qemu-io info.
 *
 * The data QDicts are filled in the order QEMU's QAPI visitor fills them
 * (member declaration order); the expected texts are QEMU 7.2's qemu-io
 * output for such images, so they also pin down the QDict iteration order
 * the dump walks in.
 */
#include "qemu/osdep.h"

#include "block/qapi.h"

/* The dump of data (type "t") with prefix, as a string. */
static char *dump(QDict *data, const char *prefix)
{
    ImageInfoSpecific info = { .type = (char *)"t", .data = data };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    g_assert_nonnull(f);
    bdrv_image_info_specific_dump(&info, prefix, f);
    fclose(f);
    return buf;
}

static QDict *qcow2_bitmap(const char *name, int64_t granularity,
                           const char *const *flags)
{
    QDict *bm = qdict_new();
    QList *fl = qlist_new();

    qdict_put_str(bm, "name", name);
    qdict_put_int(bm, "granularity", granularity);
    for (; *flags; flags++) {
        qlist_append_str(fl, *flags);
    }
    qdict_put(bm, "flags", fl);
    return bm;
}

static void test_qcow2_with_bitmaps(void)
{
    static const char *const flags0[] = { "in-use", "auto", NULL };
    static const char *const flags1[] = { "in-use", NULL };
    g_autoptr(QDict) data = qdict_new();
    g_autofree char *out = NULL;
    QList *bitmaps = qlist_new();

    qdict_put_str(data, "compat", "1.1");
    qdict_put_bool(data, "extended-l2", false);
    qdict_put_bool(data, "lazy-refcounts", false);
    qdict_put_bool(data, "corrupt", false);
    qdict_put_int(data, "refcount-bits", 16);
    qlist_append(bitmaps, qcow2_bitmap("bm0", 65536, flags0));
    qlist_append(bitmaps, qcow2_bitmap("bm1", 131072, flags1));
    qdict_put(data, "bitmaps", bitmaps);
    qdict_put_str(data, "compression-type", "zlib");

    out = dump(data, "Format specific information:\n");
    g_assert_cmpstr(out, ==,
                    "Format specific information:\n"
                    "    compat: 1.1\n"
                    "    compression type: zlib\n"
                    "    lazy refcounts: false\n"
                    "    bitmaps:\n"
                    "        [0]:\n"
                    "            flags:\n"
                    "                [0]: in-use\n"
                    "                [1]: auto\n"
                    "            name: bm0\n"
                    "            granularity: 65536\n"
                    "        [1]:\n"
                    "            flags:\n"
                    "                [0]: in-use\n"
                    "            name: bm1\n"
                    "            granularity: 131072\n"
                    "    refcount bits: 16\n"
                    "    corrupt: false\n"
                    "    extended l2: false\n");
}

static void test_qcow2_data_file(void)
{
    g_autoptr(QDict) data = qdict_new();
    g_autofree char *out = NULL;

    qdict_put_str(data, "compat", "1.1");
    qdict_put_str(data, "data-file", "b.data");
    qdict_put_bool(data, "data-file-raw", false);
    qdict_put_bool(data, "extended-l2", true);
    qdict_put_bool(data, "lazy-refcounts", false);
    qdict_put_bool(data, "corrupt", false);
    qdict_put_int(data, "refcount-bits", 16);
    qdict_put_str(data, "compression-type", "zlib");

    out = dump(data, NULL);
    g_assert_cmpstr(out, ==,
                    "    compat: 1.1\n"
                    "    compression type: zlib\n"
                    "    lazy refcounts: false\n"
                    "    refcount bits: 16\n"
                    "    data file: b.data\n"
                    "    data file raw: false\n"
                    "    corrupt: false\n"
                    "    extended l2: true\n");
}

static void test_qcow2_compat010(void)
{
    g_autoptr(QDict) data = qdict_new();
    g_autofree char *out = NULL;

    qdict_put_str(data, "compat", "0.10");
    qdict_put_int(data, "refcount-bits", 16);
    qdict_put_str(data, "compression-type", "zlib");

    out = dump(data, NULL);
    g_assert_cmpstr(out, ==,
                    "    compat: 0.10\n"
                    "    compression type: zlib\n"
                    "    refcount bits: 16\n");
}

/* A list of dicts, an empty string value (the line keeps its space). */
static void test_vmdk(void)
{
    g_autoptr(QDict) data = qdict_new();
    g_autofree char *out = NULL;
    QList *extents = qlist_new();
    QDict *extent = qdict_new();

    qdict_put_str(data, "create-type", "monolithicSparse");
    qdict_put_int(data, "cid", 2457462303LL);
    qdict_put_int(data, "parent-cid", 4294967295LL);
    qdict_put_str(extent, "filename", "a.vmdk");
    qdict_put_str(extent, "format", "");
    qdict_put_int(extent, "virtual-size", 1048576);
    qdict_put_int(extent, "cluster-size", 65536);
    qlist_append(extents, extent);
    qdict_put(data, "extents", extents);

    out = dump(data, "Format specific information:\n");
    g_assert_cmpstr(out, ==,
                    "Format specific information:\n"
                    "    cid: 2457462303\n"
                    "    parent cid: 4294967295\n"
                    "    create type: monolithicSparse\n"
                    "    extents:\n"
                    "        [0]:\n"
                    "            virtual size: 1048576\n"
                    "            filename: a.vmdk\n"
                    "            cluster size: 65536\n"
                    "            format: \n");
}

/*
 * Nested dicts, lists of scalars and of lists.  One member per dict, so
 * that the expected text does not depend on the iteration order.
 */
static void test_nesting(void)
{
    g_autoptr(QDict) data = qdict_new();
    g_autoptr(QDict) data2 = qdict_new();
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;
    QDict *inner = qdict_new();
    QList *outer = qlist_new();
    QList *nested = qlist_new();

    qdict_put_int(inner, "a-b-c", -5);
    qdict_put(data, "x-y", inner);
    out = dump(data, NULL);
    g_assert_cmpstr(out, ==,
                    "    x y:\n"
                    "        a b c: -5\n");

    qlist_append_int(nested, 7);
    qlist_append(outer, nested);
    qlist_append_bool(outer, true);
    qlist_append_str(outer, "s-t");
    qdict_put(data2, "y", outer);
    out2 = dump(data2, NULL);
    g_assert_cmpstr(out2, ==,
                    "    y:\n"
                    "        [0]:\n"
                    "            [0]: 7\n"
                    "        [1]: true\n"
                    "        [2]: s-t\n");
}

static void test_empty(void)
{
    g_autoptr(QDict) data = qdict_new();
    g_autofree char *out = dump(data, "Format specific information:\n");

    g_assert_cmpstr(out, ==, "Format specific information:\n");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qapi-dump/qcow2-bitmaps", test_qcow2_with_bitmaps);
    g_test_add_func("/qapi-dump/qcow2-data-file", test_qcow2_data_file);
    g_test_add_func("/qapi-dump/qcow2-compat010", test_qcow2_compat010);
    g_test_add_func("/qapi-dump/vmdk", test_vmdk);
    g_test_add_func("/qapi-dump/nesting", test_nesting);
    g_test_add_func("/qapi-dump/empty", test_empty);
    return g_test_run();
}
