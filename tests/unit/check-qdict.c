/*
 * QObject family: QDict (including QEMU's iteration order), QList, QNum,
 * QString, QBool, QNull, reference counting and qobject_is_equal.
 *
 * The expected iteration orders are golden data taken from QEMU 7.2's own
 * output (each with the command that printed it): QEMU prints its QDicts
 * in iteration order, so these pin down the hash, the bucket count and the
 * head-of-bucket insertion.
 */
#include "qemu/osdep.h"
#include <math.h>
#include "qemu/qdict.h"

/* Iteration order of d must be exactly keys (NULL-terminated). */
static void assert_order(const QDict *d, const char *const *keys)
{
    const QDictEntry *e;
    size_t i = 0;

    for (e = qdict_first(d); e; e = qdict_next(d, e), i++) {
        g_assert_nonnull(keys[i]);
        g_assert_cmpstr(qdict_entry_key(e), ==, keys[i]);
    }
    g_assert_null(keys[i]);
    g_assert_cmpuint(qdict_size(d), ==, i);
}

/* A dict with keys inserted in the given order (values 0, 1, ...). */
static QDict *dict_of(const char *const *keys)
{
    QDict *d = qdict_new();
    int i;

    for (i = 0; keys[i]; i++) {
        qdict_put_int(d, keys[i], i);
    }
    return d;
}

/* ---- QDict basics ---- */

static void test_qdict_put_get(void)
{
    g_autoptr(QDict) d = qdict_new();

    g_assert_cmpuint(qdict_size(d), ==, 0);
    g_assert_null(qdict_first(d));

    qdict_put_int(d, "int", -42);
    qdict_put_bool(d, "bool", true);
    qdict_put_str(d, "str", "hello");
    qdict_put_null(d, "null");
    qdict_put(d, "dict", qdict_new());
    qdict_put(d, "list", qlist_new());
    qdict_put(d, "double", qnum_from_double(0.5));
    g_assert_cmpuint(qdict_size(d), ==, 7);

    g_assert_cmpint(qdict_get_int(d, "int"), ==, -42);
    g_assert_true(qdict_get_bool(d, "bool"));
    g_assert_cmpstr(qdict_get_str(d, "str"), ==, "hello");
    g_assert_cmpint(qobject_type(qdict_get(d, "null")), ==, QTYPE_QNULL);
    g_assert_nonnull(qdict_get_qdict(d, "dict"));
    g_assert_nonnull(qdict_get_qlist(d, "list"));
    g_assert_cmpfloat(qdict_get_double(d, "double"), ==, 0.5);
    g_assert_cmpfloat(qdict_get_double(d, "int"), ==, -42.0);
    g_assert_true(qdict_haskey(d, "str"));
    g_assert_false(qdict_haskey(d, "nope"));
    g_assert_null(qdict_get(d, "nope"));

    /* wrong type or absent: NULL / default */
    g_assert_null(qdict_get_qdict(d, "list"));
    g_assert_null(qdict_get_qlist(d, "dict"));
    g_assert_null(qdict_get_try_str(d, "int"));
    g_assert_null(qdict_get_try_str(d, "nope"));
    g_assert_cmpstr(qdict_get_try_str(d, "str"), ==, "hello");
    g_assert_cmpint(qdict_get_try_int(d, "str", 7), ==, 7);
    g_assert_cmpint(qdict_get_try_int(d, "nope", 7), ==, 7);
    g_assert_cmpint(qdict_get_try_int(d, "double", 7), ==, 7);
    g_assert_cmpint(qdict_get_try_int(d, "int", 7), ==, -42);
    g_assert_true(qdict_get_try_bool(d, "nope", true));
    g_assert_true(qdict_get_try_bool(d, "int", true));
    g_assert_true(qdict_get_try_bool(d, "bool", false));
    /* unlike QEMU, the plain getters do not crash on a bad key */
    g_assert_cmpint(qdict_get_int(d, "nope"), ==, 0);
    g_assert_null(qdict_get_str(d, "int"));
    g_assert_false(qdict_get_bool(d, "str"));
    g_assert_cmpfloat(qdict_get_double(d, "str"), ==, 0.0);

    /* keys are copied */
    {
        char key[] = "copied";

        qdict_put_int(d, key, 1);
        key[0] = 'x';
        g_assert_true(qdict_haskey(d, "copied"));
    }
}

static void test_qdict_try_int_limits(void)
{
    g_autoptr(QDict) d = qdict_new();

    qdict_put(d, "max", qnum_from_uint(INT64_MAX));
    qdict_put(d, "big", qnum_from_uint((uint64_t)INT64_MAX + 1));
    qdict_put(d, "min", qnum_from_int(INT64_MIN));
    g_assert_cmpint(qdict_get_try_int(d, "max", 0), ==, INT64_MAX);
    g_assert_cmpint(qdict_get_try_int(d, "big", 5), ==, 5);
    g_assert_cmpint(qdict_get_try_int(d, "min", 0), ==, INT64_MIN);
}

static void test_qdict_replace_keeps_position(void)
{
    /* "a", "rb" and "rr" share a bucket (see the collision test) */
    static const char *const keys[] = { "a", "rb", "rr", "zz", NULL };
    static const char *const order[] = { "rr", "rb", "a", "zz", NULL };
    g_autoptr(QDict) d = dict_of(keys);

    assert_order(d, order);
    /* replacing a value leaves the entry where it was */
    qdict_put_str(d, "rb", "new");
    qdict_put_str(d, "a", "new");
    assert_order(d, order);
    g_assert_cmpstr(qdict_get_str(d, "rb"), ==, "new");
    g_assert_cmpuint(qdict_size(d), ==, 4);

    /* deleting and re-adding moves it to the head of its bucket */
    qdict_del(d, "a");
    qdict_put_int(d, "a", 1);
    {
        static const char *const moved[] = { "a", "rr", "rb", "zz", NULL };

        assert_order(d, moved);
    }
}

static void test_qdict_del(void)
{
    static const char *const keys[] = { "a", "rb", "rr", "b", NULL };
    g_autoptr(QDict) d = dict_of(keys);

    qdict_del(d, "missing");
    g_assert_cmpuint(qdict_size(d), ==, 4);
    qdict_del(d, "rb");
    g_assert_false(qdict_haskey(d, "rb"));
    g_assert_true(qdict_haskey(d, "a"));
    g_assert_true(qdict_haskey(d, "rr"));
    g_assert_cmpuint(qdict_size(d), ==, 3);
    {
        static const char *const order[] = { "rr", "a", "b", NULL };

        assert_order(d, order);
    }
    qdict_del(d, "rr");
    qdict_del(d, "a");
    qdict_del(d, "b");
    g_assert_cmpuint(qdict_size(d), ==, 0);
    g_assert_null(qdict_first(d));
}

static void test_qdict_del_while_iterating(void)
{
    g_autoptr(QDict) d = qdict_new();
    const QDictEntry *e, *next;
    int i, seen = 0;

    for (i = 0; i < 100; i++) {
        g_autofree char *key = g_strdup_printf("k%d", i);

        qdict_put_int(d, key, i);
    }
    for (e = qdict_first(d); e; e = next) {
        next = qdict_next(d, e);
        if (qdict_get_int(d, qdict_entry_key(e)) % 2) {
            qdict_del(d, qdict_entry_key(e));
        }
        seen++;
    }
    g_assert_cmpint(seen, ==, 100);
    g_assert_cmpuint(qdict_size(d), ==, 50);
}

static void test_qdict_refcount(void)
{
    QDict *d = qdict_new();
    QString *s = qstring_from_str("shared");
    QDict *inner = qdict_new();

    qdict_put(d, "s1", qobject_ref(s));
    qdict_put(d, "s2", qobject_ref(s));
    g_assert_cmpuint(s->base.refcnt, ==, 3);
    qdict_put(d, "inner", inner);
    qdict_put(inner, "s3", qobject_ref(s));
    g_assert_cmpuint(s->base.refcnt, ==, 4);

    /* replacement drops the old value's reference */
    qdict_put_int(d, "s1", 1);
    g_assert_cmpuint(s->base.refcnt, ==, 3);
    qdict_del(d, "s2");
    g_assert_cmpuint(s->base.refcnt, ==, 2);

    qobject_ref(d);
    qobject_unref(d);
    g_assert_cmpuint(d->base.refcnt, ==, 1);
    /* freeing the dict frees inner, which drops its reference */
    qobject_unref(d);
    g_assert_cmpuint(s->base.refcnt, ==, 1);
    qobject_unref(s);

    /* NULL is accepted */
    qobject_unref((QDict *)NULL);
    g_assert_null(qobject_ref((QDict *)NULL));
}

static void test_qdict_clone_shallow(void)
{
    static const char *const keys[] = { "a", "rb", "rr", "b", NULL };
    g_autoptr(QDict) d = dict_of(keys);
    g_autoptr(QDict) clone = NULL;
    QDict *inner = qdict_new();

    qdict_put(d, "inner", inner);
    clone = qdict_clone_shallow(d);
    g_assert_true(qobject_is_equal(QOBJECT(d), QOBJECT(clone)));
    /* shallow: the same inner dict, now referenced twice */
    g_assert_true(qdict_get_qdict(clone, "inner") == inner);
    g_assert_cmpuint(inner->base.refcnt, ==, 2);

    /*
     * QEMU copies by inserting in iteration order, so keys sharing a
     * bucket come out reversed: {rr, rb, a} becomes {a, rb, rr}.
     */
    {
        static const char *const order[] = { "inner", "rr", "rb", "a", "b",
                                             NULL };
        static const char *const cloned[] = { "inner", "a", "rb", "rr", "b",
                                              NULL };

        assert_order(d, order);
        assert_order(clone, cloned);
    }
}

/* ---- QDict iteration order, golden data from QEMU 7.2 ---- */

static void check_golden(const char *const *keys, const char *const *order)
{
    g_autoptr(QDict) d = dict_of(keys);

    assert_order(d, order);
}

/*
 * None of the key sets in this function has two keys in one bucket, so
 * the insertion order does not matter: we insert alphabetically.
 */
static void test_order_qemu_img(void)
{
    /* qemu-img info --output=json x.raw  (a 1 MiB raw file) */
    static const char *const raw_keys[] = {
        "actual-size", "dirty-flag", "filename", "format", "virtual-size",
        NULL
    };
    static const char *const raw_order[] = {
        "virtual-size", "filename", "format", "actual-size", "dirty-flag",
        NULL
    };
    /*
     * qemu-img info --output=json b.qcow2 (qcow2 with one snapshot and one
     * bitmap added with qemu-img bitmap --add --disable), top level
     */
    static const char *const qcow2_keys[] = {
        "actual-size", "cluster-size", "dirty-flag", "filename", "format",
        "format-specific", "snapshots", "virtual-size", NULL
    };
    static const char *const qcow2_order[] = {
        "snapshots", "virtual-size", "filename", "cluster-size", "format",
        "actual-size", "format-specific", "dirty-flag", NULL
    };
    /* ... its "format-specific"."data" */
    static const char *const data_keys[] = {
        "bitmaps", "compat", "compression-type", "corrupt", "extended-l2",
        "lazy-refcounts", "refcount-bits", NULL
    };
    static const char *const data_order[] = {
        "compat", "compression-type", "lazy-refcounts", "bitmaps",
        "refcount-bits", "corrupt", "extended-l2", NULL
    };
    /* ... a "snapshots" element */
    static const char *const snap_keys[] = {
        "date-nsec", "date-sec", "icount", "id", "name", "vm-clock-nsec",
        "vm-clock-sec", "vm-state-size", NULL
    };
    static const char *const snap_order[] = {
        "icount", "vm-clock-nsec", "name", "date-sec", "date-nsec",
        "vm-clock-sec", "id", "vm-state-size", NULL
    };
    /* ... a "bitmaps" element */
    static const char *const bitmap_keys[] = {
        "flags", "granularity", "name", NULL
    };
    static const char *const bitmap_order[] = {
        "flags", "name", "granularity", NULL
    };
    /*
     * qemu-img info --backing-chain --output=json top.qcow2 (qcow2 overlay
     * made with -b x.qcow2 -F qcow2), the overlay's object
     */
    static const char *const overlay_keys[] = {
        "actual-size", "backing-filename", "backing-filename-format",
        "cluster-size", "dirty-flag", "filename", "format",
        "format-specific", "full-backing-filename", "virtual-size", NULL
    };
    static const char *const overlay_order[] = {
        "backing-filename-format", "virtual-size", "filename",
        "cluster-size", "format", "actual-size", "format-specific",
        "full-backing-filename", "backing-filename", "dirty-flag", NULL
    };
    /* qemu-img check --output=json x.qcow2 */
    static const char *const check_keys[] = {
        "check-errors", "filename", "format", "image-end-offset",
        "total-clusters", NULL
    };
    static const char *const check_order[] = {
        "image-end-offset", "total-clusters", "check-errors", "filename",
        "format", NULL
    };
    /* qemu-img measure --output=json -O qcow2 x.raw */
    static const char *const measure_keys[] = {
        "fully-allocated", "required", NULL
    };
    static const char *const measure_order[] = {
        "required", "fully-allocated", NULL
    };

    check_golden(raw_keys, raw_order);
    check_golden(qcow2_keys, qcow2_order);
    check_golden(data_keys, data_order);
    check_golden(snap_keys, snap_order);
    check_golden(bitmap_keys, bitmap_order);
    check_golden(overlay_keys, overlay_order);
    check_golden(check_keys, check_order);
    check_golden(measure_keys, measure_order);
}

static void test_order_json_filenames(void)
{
    /*
     * qemu-img info --image-opts driver=raw,file.filename=/tmp/qo/x.raw,\
     * size=512 prints
     * image: json:{"driver": "raw", "size": "512", "file": {"driver":
     * "file", "filename": "/tmp/qo/x.raw"}}
     */
    static const char *const raw_keys[] = { "file", "driver", "size", NULL };
    static const char *const raw_order[] = { "driver", "size", "file", NULL };
    static const char *const file_keys[] = { "filename", "driver", NULL };
    static const char *const file_order[] = { "driver", "filename", NULL };
    /*
     * qemu-img info 'json:{"driver":"raw","offset":512,"size":1024,
     * "file":{"driver":"file","filename":"/tmp/qo/x.raw"}}' prints
     * image: json:{"offset": 512, "driver": "raw", "size": 1024, "file": ...
     */
    static const char *const offset_keys[] = {
        "driver", "file", "offset", "size", NULL
    };
    static const char *const offset_order[] = {
        "offset", "driver", "size", "file", NULL
    };
    /*
     * qemu-img info --image-opts driver=qcow2,file.driver=blkdebug,\
     * file.image.filename=/tmp/qo/x.qcow2,file.set-state.0.state=1,\
     * file.set-state.0.event=read_aio,file.set-state.0.new_state=2 prints
     * image: json:{"driver": "qcow2", "file": {"set-state.0.event":
     * "read_aio", "image": {"driver": "file", "filename": "/tmp/qo/x.qcow2"},
     * "driver": "blkdebug", "set-state.0.new_state": "2",
     * "set-state.0.state": "1"}}
     */
    static const char *const blkdebug_keys[] = {
        "driver", "image", "set-state.0.event", "set-state.0.new_state",
        "set-state.0.state", NULL
    };
    static const char *const blkdebug_order[] = {
        "set-state.0.event", "image", "driver", "set-state.0.new_state",
        "set-state.0.state", NULL
    };
    /*
     * qemu-img info 'json:{"driver":"qcow2","file":{"driver":"blkdebug",
     * "image":{"driver":"file","filename":"/tmp/qo/x.qcow2"},"align":4096}}'
     * prints ... "file": {"image": {...}, "driver": "blkdebug",
     * "align": 4096}}
     */
    static const char *const align_keys[] = {
        "align", "driver", "image", NULL
    };
    static const char *const align_order[] = {
        "image", "driver", "align", NULL
    };

    check_golden(raw_keys, raw_order);
    check_golden(file_keys, file_order);
    check_golden(offset_keys, offset_order);
    check_golden(blkdebug_keys, blkdebug_order);
    check_golden(align_keys, align_order);
}

static void test_order_collisions(void)
{
    /*
     * QMP's reply to query-version (qemu-storage-daemon 7.2):
     * {"return": {"qemu": {"micro": 22, "minor": 2, "major": 7}, ...
     * QAPI fills VersionTriple in declaration order major, minor, micro;
     * "minor" and "micro" share a bucket, and the later insertion comes
     * first.
     */
    static const char *const version_keys[] = {
        "major", "minor", "micro", NULL
    };
    static const char *const version_order[] = {
        "micro", "minor", "major", NULL
    };
    /*
     * The request {"execute": "query-version", "id": X} makes QMP echo X
     * as the parser built it, i.e. keys inserted in text order:
     * id {"a":1,"rb":2,"rr":3} is echoed as {"rr": 3, "rb": 2, "a": 1},
     * id {"rr":1,"a":2,"rb":3} as {"rb": 3, "a": 2, "rr": 1}.
     */
    static const char *const abc_keys[] = { "a", "rb", "rr", NULL };
    static const char *const abc_order[] = { "rr", "rb", "a", NULL };
    static const char *const rab_keys[] = { "rr", "a", "rb", NULL };
    static const char *const rab_order[] = { "rb", "a", "rr", NULL };
    /*
     * id {"b":1,"x":2,"sb":3,"y":4,"sr":5,"c":6,"tr":7,"tb":8} is echoed as
     * {"x": 2, "y": 4, "sr": 5, "sb": 3, "b": 1, "tb": 8, "tr": 7, "c": 6}
     */
    static const char *const mixed_keys[] = {
        "b", "x", "sb", "y", "sr", "c", "tr", "tb", NULL
    };
    static const char *const mixed_order[] = {
        "x", "y", "sr", "sb", "b", "tb", "tr", "c", NULL
    };
    /*
     * id {"zeta":1,"alpha":2,"beta":3,"gamma":4,"delta":5,"epsilon":6} is
     * echoed as {"beta": 3, "zeta": 1, "epsilon": 6, "gamma": 4,
     * "delta": 5, "alpha": 2}
     */
    static const char *const greek_keys[] = {
        "zeta", "alpha", "beta", "gamma", "delta", "epsilon", NULL
    };
    static const char *const greek_order[] = {
        "beta", "zeta", "epsilon", "gamma", "delta", "alpha", NULL
    };
    /*
     * Block options as QMP echoes them: id {"driver":"qcow2","file":{...},
     * "backing":null,"read-only":true,"cache":{...},"node-name":"n0",
     * "discard":"unmap","auto-read-only":false,"force-share":false,
     * "detect-zeroes":"off"} comes back with this key order
     */
    static const char *const opts_keys[] = {
        "driver", "file", "backing", "read-only", "cache", "node-name",
        "discard", "auto-read-only", "force-share", "detect-zeroes", NULL
    };
    static const char *const opts_order[] = {
        "detect-zeroes", "backing", "node-name", "driver", "auto-read-only",
        "read-only", "cache", "discard", "force-share", "file", NULL
    };
    /* ... and its "cache": {"direct": false, "no-flush": false} */
    static const char *const cache_keys[] = { "direct", "no-flush", NULL };
    static const char *const cache_order[] = { "no-flush", "direct", NULL };

    check_golden(version_keys, version_order);
    check_golden(abc_keys, abc_order);
    check_golden(rab_keys, rab_order);
    check_golden(mixed_keys, mixed_order);
    check_golden(greek_keys, greek_order);
    check_golden(opts_keys, opts_order);
    check_golden(cache_keys, cache_order);
}

static void test_order_non_ascii(void)
{
    /*
     * QMP echo of id {"é":0,"ü":0,"ñ":0,"ß":0,"日本":0,"x€y":0,"a":0,"b":0,
     * "c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"zz":0} (UTF-8 keys):
     * {"d": 0, "\u00E9": 0, "\u00FC": 0, "e": 0, "\u65E5\u672C": 0,
     * "\u00DF": 0, "a": 0, "f": 0, "zz": 0, "b": 0, "\u00F1": 0, "g": 0,
     * "c": 0, "h": 0, "x\u20ACy": 0}
     * which shows that QEMU hashes bytes >= 0x80 as unsigned.
     */
    static const char *const keys[] = {
        "\u00e9", "\u00fc", "\u00f1", "\u00df", "\u65e5\u672c",
        "x\u20acy", "a", "b", "c", "d", "e", "f", "g", "h", "zz", NULL
    };
    static const char *const order[] = {
        "d", "\u00e9", "\u00fc", "e", "\u65e5\u672c", "\u00df", "a", "f",
        "zz", "b", "\u00f1", "g", "c", "h", "x\u20acy", NULL
    };

    check_golden(keys, order);
}

/* ---- QNum ---- */

static void test_qnum(void)
{
    g_autoptr(QNum) i = qnum_from_int(-5);
    g_autoptr(QNum) u = qnum_from_uint(UINT64_MAX);
    g_autoptr(QNum) umid = qnum_from_uint(42);
    g_autoptr(QNum) d = qnum_from_double(1.5);
    int64_t i64;
    uint64_t u64;

    g_assert_true(qnum_get_try_int(i, &i64));
    g_assert_cmpint(i64, ==, -5);
    g_assert_false(qnum_get_try_uint(i, &u64));
    g_assert_cmpfloat(qnum_get_double(i), ==, -5.0);

    /* uint64 above INT64_MAX does not fit int64 */
    g_assert_false(qnum_get_try_int(u, &i64));
    g_assert_true(qnum_get_try_uint(u, &u64));
    g_assert_cmpuint(u64, ==, UINT64_MAX);
    g_assert_cmpuint(qnum_get_uint(u), ==, UINT64_MAX);
    g_assert_cmpfloat(qnum_get_double(u), ==, 18446744073709551615.0);

    g_assert_cmpint(qnum_get_int(umid), ==, 42);
    g_assert_cmpuint(qnum_get_uint(umid), ==, 42);

    /* doubles are never integers */
    g_assert_false(qnum_get_try_int(d, &i64));
    g_assert_false(qnum_get_try_uint(d, &u64));
    g_assert_cmpfloat(qnum_get_double(d), ==, 1.5);
}

static void test_qnum_to_string(void)
{
    /*
     * Formats as QEMU 7.2 prints numbers (QMP echo through
     * qemu-storage-daemon): doubles use %.17g.
     */
    static const struct {
        double value;
        const char *text;
    } doubles[] = {
        { 1.5, "1.5" },
        { 0.1, "0.10000000000000001" },
        { 100.0, "100" },
        { -0.0, "-0" },
        { 1e300, "1.0000000000000001e+300" },
        { 1e-7, "9.9999999999999995e-08" },
        { 3.14159265358979, "3.14159265358979" },
    };
    size_t k;

    for (k = 0; k < ARRAY_SIZE(doubles); k++) {
        g_autoptr(QNum) n = qnum_from_double(doubles[k].value);
        g_autofree char *s = qnum_to_string(n);

        g_assert_cmpstr(s, ==, doubles[k].text);
    }
    {
        g_autoptr(QNum) a = qnum_from_int(INT64_MIN);
        g_autoptr(QNum) b = qnum_from_uint(UINT64_MAX);
        g_autofree char *sa = qnum_to_string(a);
        g_autofree char *sb = qnum_to_string(b);

        g_assert_cmpstr(sa, ==, "-9223372036854775808");
        g_assert_cmpstr(sb, ==, "18446744073709551615");
    }
}

/* ---- qobject_is_equal ---- */

static bool equal(QObject *a, QObject *b)
{
    bool r = qobject_is_equal(a, b);

    /* symmetric, always */
    g_assert_true(r == qobject_is_equal(b, a));
    qobject_unref(a);
    qobject_unref(b);
    return r;
}

static void test_is_equal(void)
{
    g_assert_true(qobject_is_equal(NULL, NULL));
    g_assert_false(equal(QOBJECT(qnull()), NULL));
    g_assert_true(equal(QOBJECT(qnull()), QOBJECT(qnull())));
    g_assert_true(equal(QOBJECT(qbool_from_bool(true)),
                        QOBJECT(qbool_from_bool(true))));
    g_assert_false(equal(QOBJECT(qbool_from_bool(true)),
                         QOBJECT(qbool_from_bool(false))));
    g_assert_true(equal(QOBJECT(qstring_from_str("x")),
                        QOBJECT(qstring_from_str("x"))));
    g_assert_false(equal(QOBJECT(qstring_from_str("x")),
                         QOBJECT(qstring_from_str("y"))));
    /* different types never compare equal */
    g_assert_false(equal(QOBJECT(qstring_from_str("1")),
                         QOBJECT(qnum_from_int(1))));
    g_assert_false(equal(QOBJECT(qdict_new()), QOBJECT(qlist_new())));

    /* QEMU's QNum rules */
    g_assert_true(equal(QOBJECT(qnum_from_int(5)),
                        QOBJECT(qnum_from_uint(5))));
    g_assert_false(equal(QOBJECT(qnum_from_int(-1)),
                         QOBJECT(qnum_from_uint(UINT64_MAX))));
    g_assert_true(equal(QOBJECT(qnum_from_uint(UINT64_MAX)),
                        QOBJECT(qnum_from_uint(UINT64_MAX))));
    g_assert_false(equal(QOBJECT(qnum_from_int(1)),
                         QOBJECT(qnum_from_double(1.0))));
    g_assert_false(equal(QOBJECT(qnum_from_uint(1)),
                         QOBJECT(qnum_from_double(1.0))));
    g_assert_true(equal(QOBJECT(qnum_from_double(0.0)),
                        QOBJECT(qnum_from_double(-0.0))));
    g_assert_false(equal(QOBJECT(qnum_from_double(NAN)),
                         QOBJECT(qnum_from_double(NAN))));

    /* lists: same elements in the same order */
    {
        QList *a = qlist_new(), *b = qlist_new(), *c = qlist_new();

        qlist_append_int(a, 1);
        qlist_append_str(a, "two");
        qlist_append_int(b, 1);
        qlist_append_str(b, "two");
        qlist_append_str(c, "two");
        qlist_append_int(c, 1);
        g_assert_true(qobject_is_equal(QOBJECT(a), QOBJECT(b)));
        g_assert_false(qobject_is_equal(QOBJECT(a), QOBJECT(c)));
        qlist_append_null(b);
        g_assert_false(equal(QOBJECT(a), QOBJECT(b)));
        qobject_unref(c);
    }

    /* dicts: same keys and values, order irrelevant */
    {
        QDict *a = qdict_new(), *b = qdict_new();
        QDict *na = qdict_new(), *nb = qdict_new();

        qdict_put_int(na, "x", 1);
        qdict_put(nb, "x", qnum_from_uint(1));
        qdict_put_str(a, "a", "1");
        qdict_put(a, "n", na);
        qdict_put(b, "n", nb);
        qdict_put_str(b, "a", "1");
        g_assert_true(qobject_is_equal(QOBJECT(a), QOBJECT(b)));
        qdict_put_null(a, "extra");
        g_assert_false(qobject_is_equal(QOBJECT(a), QOBJECT(b)));
        qdict_put_null(b, "other");
        g_assert_false(equal(QOBJECT(a), QOBJECT(b)));
    }
}

/* ---- QString, QBool, QNull ---- */

static void test_qstring(void)
{
    g_autoptr(QString) e = qstring_new();
    g_autoptr(QString) s = qstring_from_str("hello");
    g_autoptr(QString) sub = qstring_from_substr("abcdef", 1, 4);
    g_autoptr(QString) empty_sub = qstring_from_substr("abc", 2, 2);
    g_autoptr(QString) gs = NULL;
    GString *g = g_string_new("from ");

    g_string_append(g, "gstring");
    gs = qstring_from_gstring(g);
    g_assert_cmpstr(qstring_get_str(e), ==, "");
    g_assert_cmpstr(qstring_get_str(s), ==, "hello");
    g_assert_cmpstr(qstring_get_str(sub), ==, "bcd");
    g_assert_cmpstr(qstring_get_str(empty_sub), ==, "");
    g_assert_cmpstr(qstring_get_str(gs), ==, "from gstring");
    g_assert_cmpstr(qobject_get_try_str(QOBJECT(s)), ==, "hello");
    g_assert_null(qobject_get_try_str(NULL));
    {
        g_autoptr(QNum) n = qnum_from_int(1);

        g_assert_null(qobject_get_try_str(QOBJECT(n)));
    }
}

static void test_qbool_qnull(void)
{
    g_autoptr(QBool) t = qbool_from_bool(true);
    g_autoptr(QBool) f = qbool_from_bool(false);
    QNull *n1 = qnull();
    QNull *n2 = qnull();

    g_assert_true(qbool_get_bool(t));
    g_assert_false(qbool_get_bool(f));
    g_assert_cmpint(qobject_type(QOBJECT(t)), ==, QTYPE_QBOOL);
    /* one shared null */
    g_assert_true(n1 == n2);
    g_assert_cmpint(qobject_type(QOBJECT(n1)), ==, QTYPE_QNULL);
    g_assert_nonnull(qobject_to(QNull, QOBJECT(n1)));
    g_assert_null(qobject_to(QBool, QOBJECT(n1)));
    qobject_unref(n1);
    qobject_unref(n2);
}

/* ---- QList ---- */

static void test_qlist(void)
{
    g_autoptr(QList) l = qlist_new();
    g_autoptr(QList) copy = NULL;
    const QListEntry *e;
    QObject *o;
    int i = 0;

    g_assert_true(qlist_empty(l));
    g_assert_cmpuint(qlist_size(l), ==, 0);
    g_assert_null(qlist_peek(l));
    g_assert_null(qlist_pop(l));

    qlist_append_int(l, 0);
    qlist_append_bool(l, true);
    qlist_append_str(l, "two");
    qlist_append_null(l);
    qlist_append(l, qdict_new());
    g_assert_false(qlist_empty(l));
    g_assert_cmpuint(qlist_size(l), ==, 5);

    QLIST_FOREACH_ENTRY(l, e) {
        static const QType types[] = {
            QTYPE_QNUM, QTYPE_QBOOL, QTYPE_QSTRING, QTYPE_QNULL, QTYPE_QDICT
        };

        g_assert_cmpint(qobject_type(qlist_entry_obj(e)), ==, types[i++]);
    }

    /* a shallow copy shares the elements */
    copy = qlist_copy(l);
    g_assert_true(qobject_is_equal(QOBJECT(l), QOBJECT(copy)));
    g_assert_cmpuint(qlist_entry_obj(qlist_first(l))->base.refcnt, ==, 2);

    /* pop hands over the list's reference, first element first */
    g_assert_cmpint(qnum_get_int(qobject_to(QNum, qlist_peek(l))), ==, 0);
    o = qlist_pop(l);
    g_assert_cmpint(qnum_get_int(qobject_to(QNum, o)), ==, 0);
    g_assert_cmpuint(o->base.refcnt, ==, 2);
    qobject_unref(o);
    g_assert_cmpuint(qlist_size(l), ==, 4);
    g_assert_cmpuint(qlist_size(copy), ==, 5);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/qdict/put-get", test_qdict_put_get);
    g_test_add_func("/qdict/try-int-limits", test_qdict_try_int_limits);
    g_test_add_func("/qdict/replace-keeps-position",
                    test_qdict_replace_keeps_position);
    g_test_add_func("/qdict/del", test_qdict_del);
    g_test_add_func("/qdict/del-while-iterating",
                    test_qdict_del_while_iterating);
    g_test_add_func("/qdict/refcount", test_qdict_refcount);
    g_test_add_func("/qdict/clone-shallow", test_qdict_clone_shallow);
    g_test_add_func("/qdict/order/qemu-img", test_order_qemu_img);
    g_test_add_func("/qdict/order/json-filenames", test_order_json_filenames);
    g_test_add_func("/qdict/order/collisions", test_order_collisions);
    g_test_add_func("/qdict/order/non-ascii", test_order_non_ascii);
    g_test_add_func("/qnum/kinds", test_qnum);
    g_test_add_func("/qnum/to-string", test_qnum_to_string);
    g_test_add_func("/qobject/is-equal", test_is_equal);
    g_test_add_func("/qstring/basic", test_qstring);
    g_test_add_func("/qbool-qnull/basic", test_qbool_qnull);
    g_test_add_func("/qlist/basic", test_qlist);

    return g_test_run();
}
