/*
 * Block-layer QDict helpers: defaults, flatten, array split/entries, join,
 * extract_subqdict, crumple and rename_keys, with QEMU 7.2's semantics and
 * error messages.
 */
#include "qemu/osdep.h"
#include "qemu/qdict.h"
#include "qemu/json.h"
#include "qemu/error.h"

static QDict *dict_from_json(const char *text)
{
    QObject *obj = qobject_from_json(text, &error_abort);
    QDict *d = qobject_to(QDict, obj);

    g_assert_nonnull(d);
    return d;
}

static QObject *obj_from_json(const char *text)
{
    return qobject_from_json(text, &error_abort);
}

static void assert_equal_json(const QObject *obj, const char *text)
{
    g_autoptr(QObject) expected = obj_from_json(text);

    if (!qobject_is_equal(obj, expected)) {
        g_autoptr(GString) got = qobject_to_json(obj);

        g_test_message("got %s, expected %s", got->str, text);
    }
    g_assert_true(qobject_is_equal(obj, expected));
}

/* ---- defaults ---- */

static void test_defaults(void)
{
    g_autoptr(QDict) dict = qdict_new();
    g_autoptr(QDict) copy = qdict_new();

    qdict_set_default_str(dict, "foo", "abc");
    qdict_set_default_str(dict, "foo", "def");
    g_assert_cmpstr(qdict_get_str(dict, "foo"), ==, "abc");
    qdict_set_default_str(dict, "bar", "ghi");

    /* copies a key the destination lacks, keeps one it has */
    qdict_copy_default(copy, dict, "foo");
    g_assert_cmpstr(qdict_get_str(copy, "foo"), ==, "abc");
    qdict_set_default_str(copy, "bar", "xyz");
    qdict_copy_default(copy, dict, "bar");
    g_assert_cmpstr(qdict_get_str(copy, "bar"), ==, "xyz");
    /* nothing to copy */
    qdict_copy_default(copy, dict, "missing");
    g_assert_false(qdict_haskey(copy, "missing"));
    g_assert_cmpuint(qdict_size(copy), ==, 2);
}

/* ---- flatten ---- */

static void test_flatten(void)
{
    /*
     * Lists become indexed keys; empty dicts and lists are kept as values
     * (QEMU 7.2's qemu-img info 'json:{..., "foo":{}}' reports the unknown
     * option 'foo', as it does for "foo":[]).
     */
    g_autoptr(QDict) dict = dict_from_json(
        "{\"e\": [42, [23, 66, {\"a\": 0, \"b\": 1}]],"
        " \"f\": {\"c\": 2, \"d\": 3}, \"g\": 4,"
        " \"y\": [{}], \"z\": {\"a\": []}, \"empty\": {}}");

    qdict_flatten(dict);
    assert_equal_json(QOBJECT(dict),
        "{\"e.0\": 42, \"e.1.0\": 23, \"e.1.1\": 66, \"e.1.2.a\": 0,"
        " \"e.1.2.b\": 1, \"f.c\": 2, \"f.d\": 3, \"g\": 4,"
        " \"y.0\": {}, \"z.a\": [], \"empty\": {}}");
    g_assert_cmpuint(qdict_size(dict), ==, 11);

    /* flattening a flat dict changes nothing */
    {
        g_autoptr(QDict) flat = qdict_clone_shallow(dict);

        qdict_flatten(flat);
        g_assert_true(qobject_is_equal(QOBJECT(flat), QOBJECT(dict)));
    }
}

static void test_flatten_json_options(void)
{
    /* the options of a json: filename, as bdrv_open flattens them */
    g_autoptr(QDict) dict = dict_from_json(
        "{\"driver\": \"qcow2\", \"file\": {\"driver\": \"blkdebug\","
        " \"image\": {\"driver\": \"file\", \"filename\": \"x.qcow2\"},"
        " \"set-state\": [{\"state\": 1, \"event\": \"read_aio\"}]},"
        " \"foo\": {\"bar\": [1, {\"z\": 2}]}}");

    qdict_flatten(dict);
    assert_equal_json(QOBJECT(dict),
        "{\"driver\": \"qcow2\", \"file.driver\": \"blkdebug\","
        " \"file.image.driver\": \"file\","
        " \"file.image.filename\": \"x.qcow2\","
        " \"file.set-state.0.state\": 1,"
        " \"file.set-state.0.event\": \"read_aio\","
        " \"foo.bar.0\": 1, \"foo.bar.1.z\": 2}");
}

static void test_clone_flatten(void)
{
    /* flattening a shallow clone must leave the original's values alone */
    g_autoptr(QDict) dict1 = dict_from_json("{\"a\": 0, \"b\": {\"c\": 1}}");
    g_autoptr(QDict) dict2 = qdict_clone_shallow(dict1);
    g_autoptr(QDict) nested_copy = NULL;

    nested_copy = qdict_clone_shallow(qdict_get_qdict(dict1, "b"));
    qdict_flatten(dict2);

    assert_equal_json(QOBJECT(dict1), "{\"a\": 0, \"b\": {\"c\": 1}}");
    assert_equal_json(QOBJECT(dict2), "{\"a\": 0, \"b.c\": 1}");
    g_assert_true(qobject_is_equal(QOBJECT(qdict_get_qdict(dict1, "b")),
                                   QOBJECT(nested_copy)));
}

static void test_flatten_key_collision(void)
{
    /* a flattened key replaces an existing one of the same name */
    g_autoptr(QDict) dict = dict_from_json("{\"a\": {\"b\": 1}, \"a.b\": 2}");

    qdict_flatten(dict);
    g_assert_cmpuint(qdict_size(dict), ==, 1);
    g_assert_true(qdict_haskey(dict, "a.b"));
}

/* ---- extract_subqdict ---- */

static void test_extract_subqdict(void)
{
    g_autoptr(QDict) src = dict_from_json(
        "{\"file.driver\": \"file\", \"file.filename\": \"x\","
        " \"filex\": 1, \"driver\": \"raw\", \"file.\": 2}");
    g_autoptr(QDict) sub = NULL;

    qdict_extract_subqdict(src, &sub, "file.");
    assert_equal_json(QOBJECT(sub),
                      "{\"driver\": \"file\", \"filename\": \"x\", \"\": 2}");
    assert_equal_json(QOBJECT(src), "{\"filex\": 1, \"driver\": \"raw\"}");

    /* with dst NULL the entries are just dropped */
    qdict_extract_subqdict(src, NULL, "file");
    assert_equal_json(QOBJECT(src), "{\"driver\": \"raw\"}");
}

/* ---- array split / entries ---- */

static void test_array_split(void)
{
    g_autoptr(QDict) src = dict_from_json(
        "{\"0.foo\": 42, \"0.bar\": 23, \"1.x\": 0, \"4.y\": 1,"
        " \"o.o\": 7, \"2\": 66}");
    g_autoptr(QList) list = NULL;

    /* elements 0 and 1 are dicts, 2 a scalar, 3 missing: stop there */
    qdict_array_split(src, &list);
    assert_equal_json(QOBJECT(list),
                      "[{\"foo\": 42, \"bar\": 23}, {\"x\": 0}, 66]");
    assert_equal_json(QOBJECT(src), "{\"4.y\": 1, \"o.o\": 7}");
}

static void test_array_split_scalars(void)
{
    g_autoptr(QDict) src = dict_from_json(
        "{\"0\": 42, \"1\": 23, \"2\": 66, \"4\": 1}");
    g_autoptr(QList) list = NULL;

    qdict_array_split(src, &list);
    assert_equal_json(QOBJECT(list), "[42, 23, 66]");
    assert_equal_json(QOBJECT(src), "{\"4\": 1}");
}

static void test_array_split_both_forms(void)
{
    /* "1" and "1.a" both present: the array ends before index 1 */
    g_autoptr(QDict) src = dict_from_json(
        "{\"0\": \"zero\", \"1\": \"one\", \"1.a\": 2, \"2\": 3}");
    g_autoptr(QList) list = NULL;

    qdict_array_split(src, &list);
    assert_equal_json(QOBJECT(list), "[\"zero\"]");
    assert_equal_json(QOBJECT(src), "{\"1\": \"one\", \"1.a\": 2, \"2\": 3}");
}

static void test_array_entries(void)
{
    g_autoptr(QDict) dict = qdict_new();
    g_autoptr(QDict) top = qdict_new();

    g_assert_cmpint(qdict_array_entries(dict, "foo."), ==, 0);

    /* keys outside the prefix do not matter */
    qdict_put_int(dict, "bar", 0);
    qdict_put_int(dict, "baz.0", 0);
    g_assert_cmpint(qdict_array_entries(dict, "foo."), ==, 0);

    /* a gap at 0 */
    qdict_put_int(dict, "foo.1", 0);
    g_assert_cmpint(qdict_array_entries(dict, "foo."), ==, -EINVAL);
    qdict_put_int(dict, "foo.0", 0);
    g_assert_cmpint(qdict_array_entries(dict, "foo."), ==, 2);

    /* a non-index key under the prefix */
    qdict_put_int(dict, "foo.bar", 0);
    g_assert_cmpint(qdict_array_entries(dict, "foo."), ==, -EINVAL);
    qdict_del(dict, "foo.bar");

    /* an element that is a dict counts once */
    qdict_put_int(dict, "foo.2.a", 0);
    qdict_put_int(dict, "foo.2.b", 0);
    qdict_put_int(dict, "foo.2.c", 0);
    g_assert_cmpint(qdict_array_entries(dict, "foo."), ==, 3);

    /* an element in both forms */
    qdict_put_int(dict, "foo.2", 0);
    g_assert_cmpint(qdict_array_entries(dict, "foo."), ==, -EINVAL);
    qdict_del(dict, "foo.2");

    /* with an empty prefix every key must be an element */
    g_assert_cmpint(qdict_array_entries(dict, ""), ==, -EINVAL);

    qdict_put_int(top, "1", 0);
    g_assert_cmpint(qdict_array_entries(top, ""), ==, -EINVAL);
    qdict_put_int(top, "0", 0);
    g_assert_cmpint(qdict_array_entries(top, ""), ==, 2);
    qdict_put_int(top, "bar", 0);
    g_assert_cmpint(qdict_array_entries(top, ""), ==, -EINVAL);
    qdict_del(top, "bar");
    qdict_put_int(top, "2.a", 0);
    qdict_put_int(top, "2.b", 0);
    qdict_put_int(top, "2.c", 0);
    g_assert_cmpint(qdict_array_entries(top, ""), ==, 3);
    /* "01" is not index 1 */
    qdict_put_int(top, "01", 0);
    g_assert_cmpint(qdict_array_entries(top, ""), ==, -EINVAL);
}

/* ---- join ---- */

static void test_join(void)
{
    int overwrite;

    for (overwrite = 0; overwrite <= 1; overwrite++) {
        g_autoptr(QDict) dest = qdict_new();
        g_autoptr(QDict) src = qdict_new();

        /* empty into empty */
        qdict_join(dest, src, overwrite);
        g_assert_cmpuint(qdict_size(dest), ==, 0);
        g_assert_cmpuint(qdict_size(src), ==, 0);

        /* moves new keys */
        qdict_put_int(src, "foo", 42);
        qdict_join(dest, src, overwrite);
        g_assert_cmpuint(qdict_size(src), ==, 0);
        g_assert_cmpint(qdict_get_int(dest, "foo"), ==, 42);

        /* a clashing key moves only when overwriting */
        qdict_put_int(src, "foo", 23);
        qdict_put_int(src, "bar", 66);
        qdict_join(dest, src, overwrite);
        g_assert_cmpint(qdict_get_int(dest, "bar"), ==, 66);
        g_assert_false(qdict_haskey(src, "bar"));
        if (overwrite) {
            g_assert_cmpint(qdict_get_int(dest, "foo"), ==, 23);
            g_assert_cmpuint(qdict_size(src), ==, 0);
        } else {
            g_assert_cmpint(qdict_get_int(dest, "foo"), ==, 42);
            g_assert_cmpint(qdict_get_int(src, "foo"), ==, 23);
            g_assert_cmpuint(qdict_size(src), ==, 1);
        }
        g_assert_cmpuint(qdict_size(dest), ==, 2);
    }
}

static void test_join_order(void)
{
    /*
     * Entries move in src's iteration order and are inserted at the head
     * of their bucket, so keys sharing a bucket ("a", "rb", "rr"; QEMU
     * iterates them as rr, rb, a when inserted as a, rb, rr) reverse.
     */
    g_autoptr(QDict) dest = qdict_new();
    g_autoptr(QDict) src = qdict_new();
    const QDictEntry *e;
    const char *order[3];
    int i = 0;

    qdict_put_int(src, "a", 1);
    qdict_put_int(src, "rb", 2);
    qdict_put_int(src, "rr", 3);
    qdict_join(dest, src, false);
    for (e = qdict_first(dest); e; e = qdict_next(dest, e)) {
        g_assert_cmpint(i, <, 3);
        order[i++] = qdict_entry_key(e);
    }
    g_assert_cmpint(i, ==, 3);
    g_assert_cmpstr(order[0], ==, "a");
    g_assert_cmpstr(order[1], ==, "rb");
    g_assert_cmpstr(order[2], ==, "rr");
}

/* ---- crumple ---- */

static void test_crumple_recursive(void)
{
    g_autoptr(QDict) src = dict_from_json(
        "{\"vnc.listen.addr\": \"127.0.0.1\","
        " \"vnc.listen.port\": \"5901\","
        " \"vnc.acl.rules.0.match\": \"fred\","
        " \"vnc.acl.rules.0.policy\": \"allow\","
        " \"vnc.acl.rules.1.match\": \"bob\","
        " \"vnc.acl.rules.1.policy\": \"deny\","
        " \"vnc.acl.default\": \"deny\","
        " \"vnc.acl..name\": \"acl0\","
        " \"vnc.acl.rule..name\": \"acl1\","
        " \"a..b.c\": 1, \"x\": [], \"y\": {}}");
    g_autoptr(QDict) before = qdict_clone_shallow(src);
    g_autoptr(QObject) dst = qdict_crumple(src, &error_abort);

    /* ".." is a literal dot, in the prefix it is split from */
    assert_equal_json(dst,
        "{\"vnc\": {\"listen\": {\"addr\": \"127.0.0.1\", \"port\": \"5901\"},"
        "           \"acl\": {\"rules\": [{\"match\": \"fred\","
        "                                 \"policy\": \"allow\"},"
        "                                {\"match\": \"bob\","
        "                                 \"policy\": \"deny\"}],"
        "                     \"default\": \"deny\","
        "                     \"rule.name\": \"acl1\"},"
        "           \"acl.name\": \"acl0\"},"
        " \"a.b\": {\"c\": 1}, \"x\": [], \"y\": {}}");
    /* the source is not modified */
    g_assert_true(qobject_is_equal(QOBJECT(src), QOBJECT(before)));
}

static void test_crumple_empty(void)
{
    g_autoptr(QDict) src = qdict_new();
    g_autoptr(QObject) dst = qdict_crumple(src, &error_abort);

    g_assert_nonnull(qobject_to(QDict, dst));
    g_assert_cmpuint(qdict_size(qobject_to(QDict, dst)), ==, 0);
}

static void test_crumple_list(void)
{
    g_autoptr(QDict) src = dict_from_json(
        "{\"1\": \"b\", \"0\": \"a\", \"2.x\": 1, \"2.y.0\": true}");
    g_autoptr(QObject) dst = qdict_crumple(src, &error_abort);

    /* a top level of indices gives a list */
    assert_equal_json(dst, "[\"a\", \"b\", {\"x\": 1, \"y\": [true]}]");
}

static void check_crumple_error(const char *json, const char *msg)
{
    g_autoptr(QDict) src = dict_from_json(json);
    Error *err = NULL;
    QObject *dst = qdict_crumple(src, &err);

    g_assert_null(dst);
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void test_crumple_empty_dict_value(void)
{
    /* an empty dict value merges with later dotted keys of its name */
    g_autoptr(QDict) src = qdict_new();
    g_autoptr(QObject) dst = NULL;
    QDict *empty = qdict_new();

    qdict_put(src, "d", empty);
    qdict_put_int(src, "d.b", 1);
    /* this works only because "d" comes first in iteration order */
    g_assert_cmpstr(qdict_entry_key(qdict_first(src)), ==, "d");
    dst = qdict_crumple(src, &error_abort);
    assert_equal_json(dst, "{\"d\": {\"b\": 1}}");
    g_assert_cmpuint(qdict_size(empty), ==, 0);

    /* with "a.b" first (as it is), "a" then clashes */
    check_crumple_error("{\"a\": {}, \"a.b\": 1}",
                        "Cannot mix scalar and non-scalar keys");
}

static void test_crumple_bad_input(void)
{
    /* QEMU's messages */
    check_crumple_error("{\"rule.0\": \"fred\", \"rule\": \"bob\"}",
                        "Cannot mix scalar and non-scalar keys");
    check_crumple_error("{\"rule\": \"bob\", \"rule.0\": \"fred\"}",
                        "Cannot mix scalar and non-scalar keys");
    check_crumple_error("{\"rule\": [], \"rule.0\": \"fred\"}",
                        "Cannot mix scalar and non-scalar keys");
    check_crumple_error("{\"rule.0\": \"fred\", \"rule.a\": \"allow\"}",
                        "Cannot mix list and non-list keys");
    check_crumple_error("{\"rule.0\": \"fred\", \"rule.2\": \"bob\"}",
                        "List indices are not contiguous, "
                        "saw 2 elements but 2 largest index");
    check_crumple_error("{\"rule.01\": \"fred\"}",
                        "List indices are not contiguous, "
                        "saw 1 elements but 1 largest index");
    check_crumple_error("{\"rule.-1\": \"fred\"}",
                        "List indices are not contiguous, "
                        "saw 1 elements but -1 largest index");
    /* "+1" and "1" both read as 1, leaving 0 missing */
    check_crumple_error("{\"rule.1\": \"fred\", \"rule.+1\": \"bob\"}",
                        "Missing list index 0");
    check_crumple_error("{\"a\": {\"b\": 1}}", "Value a is not flat");
    check_crumple_error("{\"x\": 1, \"a\": [1]}", "Value a is not flat");
}

/* ---- rename_keys ---- */

static void test_rename_keys(void)
{
    static const QDictRenames renames[] = {
        { "abc", "str1" },
        { "abcdef", "str2" },
        { "number", "int" },
        { "flag", "bool" },
        { "nothing", "none" },
        { NULL, NULL }
    };
    static const QDictRenames clash[] = {
        { "abc", "str1" },
        { NULL, NULL }
    };
    g_autoptr(QDict) dict = dict_from_json(
        "{\"abc\": \"foo\", \"abcdef\": \"bar\", \"number\": 42,"
        " \"flag\": true, \"nothing\": null}");
    Error *err = NULL;

    g_assert_true(qdict_rename_keys(dict, renames, &error_abort));
    assert_equal_json(QOBJECT(dict),
                      "{\"str1\": \"foo\", \"str2\": \"bar\", \"int\": 42,"
                      " \"bool\": true, \"none\": null}");

    /* keys that are absent are no error */
    g_assert_true(qdict_rename_keys(dict, renames, &error_abort));

    /*
     * Old and new name together.  QEMU 7.2 prints this message for
     * qemu-img create -f qcow2 -o encryption=on,encrypt.format=luks F 1M:
     * "'encrypt.format' and its alias 'encryption' can't be used at the
     * same time".
     */
    qdict_put_str(dict, "abc", "x");
    g_assert_false(qdict_rename_keys(dict, clash, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "'str1' and its alias 'abc' can't be used at the same "
                    "time");
    error_free(err);
    g_assert_cmpstr(qdict_get_str(dict, "abc"), ==, "x");
    g_assert_cmpstr(qdict_get_str(dict, "str1"), ==, "foo");

    /* an empty table changes nothing */
    {
        static const QDictRenames none[] = { { NULL, NULL } };

        g_assert_true(qdict_rename_keys(dict, none, &error_abort));
        g_assert_cmpuint(qdict_size(dict), ==, 6);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/block-qdict/defaults", test_defaults);
    g_test_add_func("/block-qdict/flatten", test_flatten);
    g_test_add_func("/block-qdict/flatten-json-options",
                    test_flatten_json_options);
    g_test_add_func("/block-qdict/clone-flatten", test_clone_flatten);
    g_test_add_func("/block-qdict/flatten-key-collision",
                    test_flatten_key_collision);
    g_test_add_func("/block-qdict/extract-subqdict", test_extract_subqdict);
    g_test_add_func("/block-qdict/array-split", test_array_split);
    g_test_add_func("/block-qdict/array-split-scalars",
                    test_array_split_scalars);
    g_test_add_func("/block-qdict/array-split-both-forms",
                    test_array_split_both_forms);
    g_test_add_func("/block-qdict/array-entries", test_array_entries);
    g_test_add_func("/block-qdict/join", test_join);
    g_test_add_func("/block-qdict/join-order", test_join_order);
    g_test_add_func("/block-qdict/crumple/recursive", test_crumple_recursive);
    g_test_add_func("/block-qdict/crumple/empty", test_crumple_empty);
    g_test_add_func("/block-qdict/crumple/list", test_crumple_list);
    g_test_add_func("/block-qdict/crumple/empty-dict-value",
                    test_crumple_empty_dict_value);
    g_test_add_func("/block-qdict/crumple/bad-input", test_crumple_bad_input);
    g_test_add_func("/block-qdict/rename-keys", test_rename_keys);

    return g_test_run();
}
