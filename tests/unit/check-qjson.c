/*
 * JSON parser and writer.
 *
 * Expected texts come from QEMU 7.2:
 *  - error messages from "qemu-img info 'json:TEXT'", which prints
 *    "Could not open 'json:TEXT': Could not parse the JSON options: MSG";
 *  - formatting from qemu-storage-daemon's QMP monitor, which echoes the
 *    "id" of a request ({"execute": "query-version", "id": TEXT}) by
 *    formatting the value its parser built, and from qemu-img's
 *    --output=json (pretty form, and string escaping of file names).
 */
#include "qemu/osdep.h"
#include <math.h>
#include "qemu/json.h"
#include "qemu/error.h"

static QObject *parse_ok(const char *text)
{
    Error *err = NULL;
    QObject *obj = qobject_from_json(text, &err);

    if (!obj) {
        g_test_message("unexpected error for '%s': %s", text,
                       error_get_pretty(err));
    }
    g_assert_null(err);
    g_assert_nonnull(obj);
    return obj;
}

static char *to_json(const QObject *obj)
{
    return g_string_free(qobject_to_json(obj), false);
}

/* ---- parsing values ---- */

static void test_parse_keywords(void)
{
    g_autoptr(QObject) t = parse_ok("true");
    g_autoptr(QObject) f = parse_ok(" false ");
    g_autoptr(QObject) n = parse_ok("\n\r\tnull");

    g_assert_true(qbool_get_bool(qobject_to(QBool, t)));
    g_assert_false(qbool_get_bool(qobject_to(QBool, f)));
    g_assert_cmpint(qobject_type(n), ==, QTYPE_QNULL);
}

static void test_parse_numbers(void)
{
    static const struct {
        const char *text;
        QNumKind kind;
        int64_t i64;
        uint64_t u64;
        double dbl;
    } cases[] = {
        { "0", QNUM_I64, .i64 = 0 },
        { "-0", QNUM_I64, .i64 = 0 },
        { "42", QNUM_I64, .i64 = 42 },
        { "-42", QNUM_I64, .i64 = -42 },
        { "9223372036854775807", QNUM_I64, .i64 = INT64_MAX },
        { "-9223372036854775808", QNUM_I64, .i64 = INT64_MIN },
        /* too big for int64: uint64 */
        { "9223372036854775808", QNUM_U64, .u64 = 9223372036854775808ULL },
        { "18446744073709551615", QNUM_U64, .u64 = UINT64_MAX },
        /* too big for both, or too small for int64: double */
        { "18446744073709551616", QNUM_DOUBLE, .dbl = 18446744073709551616.0 },
        { "-9223372036854775809", QNUM_DOUBLE, .dbl = -9223372036854775809.0 },
        /* a fraction or an exponent always means double */
        { "1.5", QNUM_DOUBLE, .dbl = 1.5 },
        { "1E2", QNUM_DOUBLE, .dbl = 100.0 },
        { "1e+2", QNUM_DOUBLE, .dbl = 100.0 },
        { "-0.5e-3", QNUM_DOUBLE, .dbl = -0.0005 },
        { "0.0", QNUM_DOUBLE, .dbl = 0.0 },
        { "1.5E+3", QNUM_DOUBLE, .dbl = 1500.0 },
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autoptr(QObject) obj = parse_ok(cases[i].text);
        QNum *qn = qobject_to(QNum, obj);

        g_assert_nonnull(qn);
        g_assert_cmpint(qn->kind, ==, cases[i].kind);
        switch (cases[i].kind) {
        case QNUM_I64:
            g_assert_cmpint(qn->u.i64, ==, cases[i].i64);
            break;
        case QNUM_U64:
            g_assert_cmpuint(qn->u.u64, ==, cases[i].u64);
            break;
        case QNUM_DOUBLE:
            g_assert_cmpfloat(qn->u.dbl, ==, cases[i].dbl);
            break;
        }
    }

    /* overflow gives infinity, which QEMU then prints as "inf" */
    {
        g_autoptr(QObject) obj = parse_ok("1e400");
        g_autofree char *text = to_json(obj);

        g_assert_true(isinf(qnum_get_double(qobject_to(QNum, obj))));
        g_assert_cmpstr(text, ==, "inf");
    }
}

static void test_parse_strings(void)
{
    static const struct {
        const char *text;
        const char *value;
    } cases[] = {
        { "\"\"", "" },
        { "''", "" },
        { "\"abc\"", "abc" },
        { "'abc'", "abc" },
        /* QEMU extension: single quotes, and \' in either kind */
        { "'say \"hi\"'", "say \"hi\"" },
        { "\"it's\"", "it's" },
        { "'it\\'s'", "it's" },
        { "\"\\'\"", "'" },
        { "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t" },
        { "\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac" },
        { "\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80" },
        { "\"\\uDBFF\\uDFFD\"", "\xf4\x8f\xbf\xbd" },
        { "\"\\uFFFD\"", "\xef\xbf\xbd" },
        /* NUL is stored as modified UTF-8 */
        { "\"a\\u0000b\"", "a\xc0\x80" "b" },
        { "\"a\xc0\x80" "b\"", "a\xc0\x80" "b" },
        /* raw UTF-8 and DEL pass unchanged */
        { "\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\x7f\"",
          "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\x7f" },
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autoptr(QObject) obj = parse_ok(cases[i].text);

        g_assert_cmpstr(qobject_get_try_str(obj), ==, cases[i].value);
    }
}

static void test_parse_containers(void)
{
    g_autoptr(QObject) obj = parse_ok(
        "{\"a\": [1, \"two\", {\"b\": null}, []], 'c': {}, \"d\": true}");
    QDict *d = qobject_to(QDict, obj);
    QList *l;
    const QListEntry *e;

    g_assert_nonnull(d);
    g_assert_cmpuint(qdict_size(d), ==, 3);
    g_assert_cmpuint(qdict_size(qdict_get_qdict(d, "c")), ==, 0);
    g_assert_true(qdict_get_bool(d, "d"));
    l = qdict_get_qlist(d, "a");
    g_assert_cmpuint(qlist_size(l), ==, 4);
    e = qlist_first(l);
    g_assert_cmpint(qnum_get_int(qobject_to(QNum, qlist_entry_obj(e))), ==, 1);
    e = qlist_next(e);
    g_assert_cmpstr(qobject_get_try_str(qlist_entry_obj(e)), ==, "two");
    e = qlist_next(e);
    g_assert_true(qdict_haskey(qobject_to(QDict, qlist_entry_obj(e)), "b"));
    e = qlist_next(e);
    g_assert_true(qlist_empty(qobject_to(QList, qlist_entry_obj(e))));
}

static void test_parse_nesting(void)
{
    /* QEMU accepts 1024 levels and rejects 1025 (measured with json:) */
    int depth;

    for (depth = 1023; depth <= 1025; depth++) {
        g_autofree char *open = g_strnfill(depth, '[');
        g_autofree char *close = g_strnfill(depth, ']');
        g_autofree char *text = g_strconcat(open, close, NULL);
        Error *err = NULL;
        QObject *obj = qobject_from_json(text, &err);

        if (depth <= 1024) {
            g_assert_nonnull(obj);
            g_assert_null(err);
        } else {
            g_assert_null(obj);
            g_assert_cmpstr(error_get_pretty(err), ==,
                            "JSON nesting depth limit exceeded");
            error_free(err);
        }
        qobject_unref(obj);
    }
}

static void test_parse_token_limits(void)
{
    /*
     * qemu-storage-daemon rejected a request of 2097155 tokens with this
     * message and accepted one of 2097154: the value is a list of n
     * integers, 2n + 1 tokens.
     */
    static const struct {
        int n;
        bool ok;
    } cases[] = {
        { 1048576, true },      /* 2097153 tokens */
        { 1048577, false },     /* 2097155 tokens */
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        GString *text = g_string_new("[");
        Error *err = NULL;
        QObject *obj;
        int k;

        for (k = 0; k < cases[i].n; k++) {
            g_string_append(text, k ? ",0" : "0");
        }
        g_string_append_c(text, ']');
        obj = qobject_from_json(text->str, &err);
        if (cases[i].ok) {
            g_assert_nonnull(obj);
            g_assert_cmpuint(qlist_size(qobject_to(QList, obj)), ==,
                             cases[i].n);
        } else {
            g_assert_cmpstr(error_get_pretty(err), ==,
                            "JSON token count limit exceeded");
            error_free(err);
        }
        qobject_unref(obj);
        g_string_free(text, true);
    }
}

/* ---- parse errors ---- */

static void test_parse_errors(void)
{
    /*
     * Each text was given to QEMU 7.2 as qemu-img info 'json:TEXT'; the
     * expected message is what followed "Could not parse the JSON
     * options: ", except for duplicate keys, which qemu-img reports only
     * through the QMP monitor (same parser).
     */
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        /* no value, too many values */
        { "", "Expecting a JSON value" },
        { "   ", "Expecting a JSON value" },
        { "{\"a\":1} x", "Expecting at most one JSON value" },
        { "{\"a\":1}}", "Expecting at most one JSON value" },
        { "{\"a\":1} {", "Expecting at most one JSON value" },
        { "{\"a\":1},", "Expecting at most one JSON value" },
        { "{\"a\":1}]", "Expecting at most one JSON value" },
        { "{\"a\":1}:", "Expecting at most one JSON value" },
        { "{\"a\": 1}  @", "Expecting at most one JSON value" },
        { "\"abc\"x", "Expecting at most one JSON value" },
        { "{\"driver\":\"raw\"}\xff", "Expecting at most one JSON value" },
        /* "0e5" is 0 followed by the keyword e5 */
        { "0e5", "Expecting at most one JSON value" },
        { "0E5", "Expecting at most one JSON value" },
        /* parser errors */
        { "{", "JSON parse error, premature EOI" },
        { "{\"a\"", "JSON parse error, premature EOI" },
        { "{\"a\":", "JSON parse error, premature EOI" },
        { "{\"a\":1", "JSON parse error, premature EOI" },
        { "{\"a\":1,\"a\"", "JSON parse error, premature EOI" },
        { "[1,", "JSON parse error, premature EOI" },
        { "{\"a\":}", "JSON parse error, expecting value" },
        { "{\"a\":1,}", "JSON parse error, expecting value" },
        { "{,}", "JSON parse error, expecting value" },
        { "{\"a\":1,,}", "JSON parse error, expecting value" },
        { "{\"a\": [1,]}", "JSON parse error, expecting value" },
        { "{\"a\":[}", "JSON parse error, expecting value" },
        { "{\"a\":1,\"a\":}", "JSON parse error, expecting value" },
        { "]", "JSON parse error, expecting value" },
        { "}", "JSON parse error, expecting value" },
        { "{\"a\" 1}", "JSON parse error, missing : in object pair" },
        { "{\"a\"}", "JSON parse error, missing : in object pair" },
        { "{\"a\":1,\"a\"}", "JSON parse error, missing : in object pair" },
        { "{\"a\" 1", "JSON parse error, missing : in object pair" },
        { "{1:2}", "JSON parse error, key is not a string in object" },
        { "{1:2", "JSON parse error, key is not a string in object" },
        { "{[1]:2}", "JSON parse error, key is not a string in object" },
        { "{\"a\":[1 2]}", "JSON parse error, expected separator in list" },
        { "[1}", "JSON parse error, expected separator in list" },
        { "[1 2", "JSON parse error, expected separator in list" },
        { "{\"a\":[1,2}", "JSON parse error, expected separator in list" },
        { "[0e5]", "JSON parse error, expected separator in list" },
        { "[0x]", "JSON parse error, expected separator in list" },
        { "{\"a\":1 \"b\":2}", "JSON parse error, expected separator in dict" },
        { "{\"a\":1]", "JSON parse error, expected separator in dict" },
        { "{\"a\":[1,2]]", "JSON parse error, expected separator in dict" },
        { "{\"a\":1e+5x}", "JSON parse error, expected separator in dict" },
        { "{\"a\":null1}", "JSON parse error, expected separator in dict" },
        { "{\"a\":1true}", "JSON parse error, expected separator in dict" },
        { "{\"a\":\"x\"y}", "JSON parse error, expected separator in dict" },
        { "{\"a\":0x10}", "JSON parse error, expected separator in dict" },
        { "{\"a\":1,\"a\":2}", "JSON parse error, duplicate key" },
        { "{\"a\":{\"b\":1,\"b\":2}}", "JSON parse error, duplicate key" },
        { "{\"a\":tru}", "JSON parse error, invalid keyword 'tru'" },
        { "{\"a\":tru", "JSON parse error, invalid keyword 'tru'" },
        { "{\"a\":truex}", "JSON parse error, invalid keyword 'truex'" },
        { "nul", "JSON parse error, invalid keyword 'nul'" },
        { "{ x", "JSON parse error, invalid keyword 'x'" },
        { "x y", "JSON parse error, invalid keyword 'x'" },
        { "x {\"a\":1}", "JSON parse error, invalid keyword 'x'" },
        { "a%", "JSON parse error, invalid keyword 'a'" },
        /* string contents */
        { "{\"a\":\"\\x\"}",
          "JSON parse error, invalid escape sequence in string" },
        { "{\"a\":\"\\U0041\"}",
          "JSON parse error, invalid escape sequence in string" },
        { "{\"a\":\"\\\xc3\xa9\"}",
          "JSON parse error, invalid escape sequence in string" },
        { "{\"a\":\"\\u12\"}",
          "JSON parse error, \\u12\" is not a valid Unicode character" },
        { "{\"a\":\"\\u123\"}",
          "JSON parse error, \\u123\" is not a valid Unicode character" },
        { "{\"a\":\"\\u00\"}",
          "JSON parse error, \\u00\" is not a valid Unicode character" },
        { "{\"a\":\"\\uzzzz\"}",
          "JSON parse error, \\uzzzz is not a valid Unicode character" },
        { "{\"a\":\"\\ud800\"}",
          "JSON parse error, \\ud800 is not a valid Unicode character" },
        { "{\"a\":\"\\ud800x\"}",
          "JSON parse error, \\ud800 is not a valid Unicode character" },
        { "{\"a\":\"\\ud800\\u0041\"}",
          "JSON parse error, \\ud800 is not a valid Unicode character" },
        { "{\"a\":\"\\ud83d\\ude0\"}",
          "JSON parse error, \\ud83d is not a valid Unicode character" },
        { "{\"a\":\"\\ud83d\\u\"}",
          "JSON parse error, \\ud83d is not a valid Unicode character" },
        { "{\"a\":\"\\udc00\"}",
          "JSON parse error, \\udc00 is not a valid Unicode character" },
        { "{\"a\":\"\\uFFFE\"}",
          "JSON parse error, \\uFFFE is not a valid Unicode character" },
        { "{\"a\":\"\\uFDD0\"}",
          "JSON parse error, \\uFDD0 is not a valid Unicode character" },
        { "{\"a\":\"\\uD83F\\uDFFE\"}",
          "JSON parse error, \\uD83F\\uDFFE is not a valid Unicode "
          "character" },
        { "{\"a\":\"\\uDBFF\\uDFFF\"}",
          "JSON parse error, \\uDBFF\\uDFFF is not a valid Unicode "
          "character" },
        { "{\"a\":\"\\uD83D\\uDE00\\uD83F\\uDFFFx\"}",
          "JSON parse error, \\uD83F\\uDFFF is not a valid Unicode "
          "character" },
        { "{\"a\":\"x\x80\"}",
          "JSON parse error, invalid UTF-8 sequence in string" },
        { "{\"a\":\"x\xc2\"}",
          "JSON parse error, invalid UTF-8 sequence in string" },
        { "{\"a\":\"x\xf8\"}",
          "JSON parse error, invalid UTF-8 sequence in string" },
        { "{\"a\":\"x\xfd\"}",
          "JSON parse error, invalid UTF-8 sequence in string" },
        { "{\"a\":\"x\xed\xa0\x80y\"}",
          "JSON parse error, invalid UTF-8 sequence in string" },
        { "{\"a\":\"x\xef\xbf\xbe\"}",
          "JSON parse error, invalid UTF-8 sequence in string" },
        { "{\"a\":\"\xf0\x9f\xbf\xbf\"}",
          "JSON parse error, invalid UTF-8 sequence in string" },
        /* characters the lexer cannot take: "stray" plus the token */
        { "\"abc", "JSON parse error, stray '\"abc'" },
        { "{\"a\":\"\\u12", "JSON parse error, stray '\"\\u12'" },
        { "{\"a\":\"\\ud83d", "JSON parse error, stray '\"\\ud83d'" },
        { "{\"a\":\"\\ud83d\\\"}", "JSON parse error, stray '\"\\ud83d\\\"}'" },
        { "{\"a\":\"\\", "JSON parse error, stray '\"\\'" },
        { "{\"a\":'x", "JSON parse error, stray ''x'" },
        { "{\"a\":'\\'}", "JSON parse error, stray ''\\'}'" },
        { "{\"a\":\"x\ty\"}", "JSON parse error, stray '\"x\t'" },
        { "{\"a\":\"x\x01y\"}", "JSON parse error, stray '\"x\x01'" },
        { "{\"a\":\"x\xfe\"}", "JSON parse error, stray '\"x\xfe'" },
        { "{\"a\":\"x\xffy\"}", "JSON parse error, stray '\"x\xff'" },
        { "{\"a\":\"\\\t\"}", "JSON parse error, stray '\"\\\t'" },
        { "{\"a\":\"\\\xfe\"}", "JSON parse error, stray '\"\\\xfe'" },
        { "{\"a\":01}", "JSON parse error, stray '01'" },
        { "{\"a\":-}", "JSON parse error, stray '-}'" },
        { "{\"a\":-a}", "JSON parse error, stray '-a'" },
        { "{\"a\":1.}", "JSON parse error, stray '1.}'" },
        { "{\"a\":1e}", "JSON parse error, stray '1e}'" },
        { "{\"a\":1e+}", "JSON parse error, stray '1e+}'" },
        { "{\"a\": 1.5e, \"b\": 1}}}", "JSON parse error, stray '1.5e,'" },
        { "[0.]", "JSON parse error, stray '0.]'" },
        { "{\"a\": 01, \"b\": 1}", "JSON parse error, stray '01'" },
        { "{\"a\":.5}", "JSON parse error, stray '.'" },
        { "{\"a\":+1}", "JSON parse error, stray '+'" },
        { "{\"a\": X}", "JSON parse error, stray 'X'" },
        { "{\"a\": True}", "JSON parse error, stray 'T'" },
        { "{\"a\": nulL}", "JSON parse error, stray 'L'" },
        { "{\"a\": _}", "JSON parse error, stray '_'" },
        { "{\"a\": @@ 1}", "JSON parse error, stray '@'" },
        { "{\"a\":\x01}", "JSON parse error, stray '\x01'" },
        { "{\"a\":\xc3\xa9}", "JSON parse error, stray '\xc3'" },
        { "\xff{\"driver\":\"raw\"}", "JSON parse error, stray '\xff'" },
        { "\v{}", "JSON parse error, stray '\v'" },
        { "\f{}", "JSON parse error, stray '\f'" },
        { "%", "JSON parse error, stray '%'" },
        { "-", "JSON parse error, stray '-'" },
        { "1.", "JSON parse error, stray '1.'" },
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        Error *err = NULL;
        QObject *obj = qobject_from_json(cases[i].text, &err);

        if (obj || !err || strcmp(error_get_pretty(err), cases[i].msg)) {
            g_test_message("input '%s': got %s", cases[i].text,
                           obj ? "a value" : error_get_pretty(err));
        }
        g_assert_null(obj);
        g_assert_nonnull(err);
        g_assert_cmpstr(error_get_pretty(err), ==, cases[i].msg);
        error_free(err);
    }
}

/* ---- writer ---- */

/* text parses, and prints compactly as expected (QMP echo of text) */
static void check_echo(const char *text, const char *expected)
{
    g_autoptr(QObject) obj = parse_ok(text);
    g_autofree char *out = to_json(obj);

    g_assert_cmpstr(out, ==, expected);
}

static void test_format_compact(void)
{
    check_echo("[1,2,{\"a\":{}},[]]", "[1, 2, {\"a\": {}}, []]");
    check_echo("{\"zeta\":1,\"alpha\":2,\"beta\":3,\"gamma\":4,\"delta\":5,"
               "\"epsilon\":6}",
               "{\"beta\": 3, \"zeta\": 1, \"epsilon\": 6, \"gamma\": 4, "
               "\"delta\": 5, \"alpha\": 2}");
    check_echo("{}", "{}");
    check_echo("[]", "[]");
    check_echo("[true,false,null]", "[true, false, null]");
    check_echo("'sq\"x'", "\"sq\\\"x\"");
}

static void test_format_numbers(void)
{
    check_echo("[1.5, 0.1, -0.0, 1e300, 1e-7, 123456789012345678901234, "
               "18446744073709551615, -9223372036854775808, "
               "-9223372036854775809, 100.0, 1E2, 3.14159265358979]",
               "[1.5, 0.10000000000000001, -0, 1.0000000000000001e+300, "
               "9.9999999999999995e-08, 1.2345678901234569e+23, "
               "18446744073709551615, -9223372036854775808, "
               "-9.2233720368547758e+18, 100, 100, 3.14159265358979]");
    check_echo("[1.0, -1, 9223372036854775807, 9223372036854775808, "
               "18446744073709551616, -0, 0.0, 1e400]",
               "[1, -1, 9223372036854775807, 9223372036854775808, "
               "1.8446744073709552e+19, 0, 0, inf]");
}

static void test_format_string_escapes(void)
{
    check_echo("\"a\\tb\\u0001\\u007f\\u00e9\\ud83d\\ude00\"",
               "\"a\\tb\\u0001\\u007F\\u00E9\\uD83D\\uDE00\"");
    check_echo("\"\\/ \\\" \\\\ \\b \\f \\n \\r \\u0000 \\u001f \\u0020 "
               "< > & ' ~\"",
               "\"/ \\\" \\\\ \\b \\f \\n \\r \\u0000 \\u001F   "
               "< > & ' ~\"");
    check_echo("\"a\xc0\x80" "b\"", "\"a\\u0000b\"");
    check_echo("\"\\u0000x\\u00E9\"", "\"\\u0000x\\u00E9\"");
}

static void test_format_invalid_utf8(void)
{
    /*
     * Strings the parser never produces, but file names can hold: these
     * are file names whose "filename" qemu-img info --output=json
     * printed as shown.
     */
    static const struct {
        const char *raw;
        const char *json;
    } cases[] = {
        { "a\xff" "b", "\"a\\uFFFDb\"" },
        { "c\xc3", "\"c\\uFFFD\"" },
        { "d\xc0\x80" "e", "\"d\\u0000e\"" },
        { "f\xed\xa0\x80g", "\"f\\uFFFDg\"" },
        { "h\xf4\x90\x80\x80i", "\"h\\uFFFDi\"" },
        { "j\xe2\x82k", "\"j\\uFFFDk\"" },
        { "l\x7f\x01m", "\"l\\u007F\\u0001m\"" },
        { "n\xf0\x9f\x98\x80o", "\"n\\uD83D\\uDE00o\"" },
        { "p\xc1\xbfq", "\"p\\uFFFDq\"" },
        { "r\xe0\x80\xafs", "\"r\\uFFFDs\"" },
        { "t\xef\xbf\xbeu", "\"t\\uFFFDu\"" },
        { "A\xc3\x41" "B", "\"A\\uFFFDAB\"" },
        { "C\x80\x80" "D", "\"C\\uFFFD\\uFFFDD\"" },
        { "E\xef\xb7\x90" "F", "\"E\\uFFFDF\"" },
        { "G\xef\xb7\xafH", "\"G\\uFFFDH\"" },
        { "I\xf0\x9f\xbf\xbfJ", "\"I\\uFFFDJ\"" },
        { "K\xf4\x8f\xbf\xbfL", "\"K\\uFFFDL\"" },
        { "M\xf8\x88\x80\x80\x80N", "\"M\\uFFFDN\"" },
        { "O\xfc\x84\x80\x80\x80\x80P", "\"O\\uFFFDP\"" },
        { "Q\xfe\x80R", "\"Q\\uFFFD\\uFFFDR\"" },
        { "S\xf0\x9f\x98T", "\"S\\uFFFDT\"" },
        { "U\xe0\xa0\x80V", "\"U\\u0800V\"" },
        { "W\xf4\x8f\xbf\xbdX", "\"W\\uDBFF\\uDFFDX\"" },
        { "Y\xef\xbf\xbdZ", "\"Y\\uFFFDZ\"" },
        { "a\xef\xb7\x8f" "b", "\"a\\uFDCFb\"" },
        { "c\xc0\x81" "d", "\"c\\uFFFDd\"" },
        { "e\xe0\x80\x80" "f", "\"e\\uFFFDf\"" },
        { "g\xfb\xbf\xbf\xbf\xbfh", "\"g\\uFFFDh\"" },
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autoptr(QString) s = qstring_from_str(cases[i].raw);
        g_autofree char *out = to_json(QOBJECT(s));

        g_assert_cmpstr(out, ==, cases[i].json);
    }
}

static void test_format_pretty(void)
{
    /*
     * qemu-img info --output=json b.qcow2 for a 1 MiB qcow2 image with one
     * internal snapshot (qemu-img snapshot -c snap1) and one disabled
     * bitmap (qemu-img bitmap --add --disable b.qcow2 bm0); qemu-img adds
     * the final newline.  Note the empty "flags" list.
     */
    static const char expected[] =
        "{\n"
        "    \"snapshots\": [\n"
        "        {\n"
        "            \"icount\": 0,\n"
        "            \"vm-clock-nsec\": 0,\n"
        "            \"name\": \"snap1\",\n"
        "            \"date-sec\": 1795237727,\n"
        "            \"date-nsec\": 898751000,\n"
        "            \"vm-clock-sec\": 0,\n"
        "            \"id\": \"1\",\n"
        "            \"vm-state-size\": 0\n"
        "        }\n"
        "    ],\n"
        "    \"virtual-size\": 1048576,\n"
        "    \"filename\": \"b.qcow2\",\n"
        "    \"cluster-size\": 65536,\n"
        "    \"format\": \"qcow2\",\n"
        "    \"actual-size\": 229376,\n"
        "    \"format-specific\": {\n"
        "        \"type\": \"qcow2\",\n"
        "        \"data\": {\n"
        "            \"compat\": \"1.1\",\n"
        "            \"compression-type\": \"zlib\",\n"
        "            \"lazy-refcounts\": false,\n"
        "            \"bitmaps\": [\n"
        "                {\n"
        "                    \"flags\": [\n"
        "                    ],\n"
        "                    \"name\": \"bm0\",\n"
        "                    \"granularity\": 65536\n"
        "                }\n"
        "            ],\n"
        "            \"refcount-bits\": 16,\n"
        "            \"corrupt\": false,\n"
        "            \"extended-l2\": false\n"
        "        }\n"
        "    },\n"
        "    \"dirty-flag\": false\n"
        "}";
    g_autoptr(QDict) top = qdict_new();
    QDict *snap = qdict_new(), *spec = qdict_new(), *data = qdict_new();
    QDict *bitmap = qdict_new();
    QList *snaps = qlist_new(), *bitmaps = qlist_new();
    g_autoptr(GString) out = NULL;

    /* no two keys of one dict share a bucket: insertion order is free */
    qdict_put_int(snap, "date-nsec", 898751000);
    qdict_put_int(snap, "date-sec", 1795237727);
    qdict_put_int(snap, "icount", 0);
    qdict_put_str(snap, "id", "1");
    qdict_put_str(snap, "name", "snap1");
    qdict_put_int(snap, "vm-clock-nsec", 0);
    qdict_put_int(snap, "vm-clock-sec", 0);
    qdict_put_int(snap, "vm-state-size", 0);
    qlist_append(snaps, snap);
    qdict_put(bitmap, "flags", qlist_new());
    qdict_put_int(bitmap, "granularity", 65536);
    qdict_put_str(bitmap, "name", "bm0");
    qlist_append(bitmaps, bitmap);
    qdict_put(data, "bitmaps", bitmaps);
    qdict_put_str(data, "compat", "1.1");
    qdict_put_str(data, "compression-type", "zlib");
    qdict_put_bool(data, "corrupt", false);
    qdict_put_bool(data, "extended-l2", false);
    qdict_put_bool(data, "lazy-refcounts", false);
    qdict_put_int(data, "refcount-bits", 16);
    qdict_put(spec, "data", data);
    qdict_put_str(spec, "type", "qcow2");
    qdict_put_int(top, "actual-size", 229376);
    qdict_put_int(top, "cluster-size", 65536);
    qdict_put_bool(top, "dirty-flag", false);
    qdict_put_str(top, "filename", "b.qcow2");
    qdict_put_str(top, "format", "qcow2");
    qdict_put(top, "format-specific", spec);
    qdict_put(top, "snapshots", snaps);
    qdict_put_int(top, "virtual-size", 1048576);

    out = qobject_to_json_pretty(QOBJECT(top), true);
    g_assert_cmpstr(out->str, ==, expected);

    /* the parser reads it back to an equal value */
    {
        g_autoptr(QObject) back = parse_ok(expected);

        g_assert_true(qobject_is_equal(back, QOBJECT(top)));
    }
}

static void test_format_pretty_small(void)
{
    /*
     * qemu-img info --backing-chain --output=json prints a top-level list
     * of objects in this layout ("[\n    {\n        ...\n    },\n    {").
     * An empty dict follows the same rule as the empty list above (not
     * observed directly: no qemu-img 7.2 output contains one).
     */
    g_autoptr(QObject) obj = parse_ok("[{\"format\": \"raw\"}, {}, 1]");
    g_autoptr(GString) pretty = qobject_to_json_pretty(obj, true);
    g_autoptr(GString) compact = qobject_to_json_pretty(obj, false);

    g_assert_cmpstr(pretty->str, ==,
                    "[\n"
                    "    {\n"
                    "        \"format\": \"raw\"\n"
                    "    },\n"
                    "    {\n"
                    "    },\n"
                    "    1\n"
                    "]");
    g_assert_cmpstr(compact->str, ==, "[{\"format\": \"raw\"}, {}, 1]");

    /* scalars print the same either way */
    {
        g_autoptr(QObject) s = parse_ok("\"x\"");
        g_autoptr(GString) p = qobject_to_json_pretty(s, true);

        g_assert_cmpstr(p->str, ==, "\"x\"");
    }
}

static void test_round_trip(void)
{
    static const char *const texts[] = {
        ("{\"driver\": \"qcow2\", \"file\": {\"driver\": \"file\", "
         "\"filename\": \"/tmp/a b\\\"c\"}, \"backing\": null}"),
        "[[], {}, [[[1]]], -1, 18446744073709551615, 0.25, \"\\u00e9\"]",
        "\"\\uD83D\\uDE00\\u0000\\n\"",
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(texts); i++) {
        g_autoptr(QObject) a = parse_ok(texts[i]);
        g_autofree char *ta = to_json(a);
        g_autoptr(QObject) b = parse_ok(ta);
        g_autoptr(GString) tp = qobject_to_json_pretty(a, true);
        g_autoptr(QObject) c = parse_ok(tp->str);

        g_assert_true(qobject_is_equal(a, b));
        g_assert_true(qobject_is_equal(a, c));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/qjson/parse/keywords", test_parse_keywords);
    g_test_add_func("/qjson/parse/numbers", test_parse_numbers);
    g_test_add_func("/qjson/parse/strings", test_parse_strings);
    g_test_add_func("/qjson/parse/containers", test_parse_containers);
    g_test_add_func("/qjson/parse/nesting", test_parse_nesting);
    g_test_add_func("/qjson/parse/token-limits", test_parse_token_limits);
    g_test_add_func("/qjson/parse/errors", test_parse_errors);
    g_test_add_func("/qjson/format/compact", test_format_compact);
    g_test_add_func("/qjson/format/numbers", test_format_numbers);
    g_test_add_func("/qjson/format/string-escapes",
                    test_format_string_escapes);
    g_test_add_func("/qjson/format/invalid-utf8", test_format_invalid_utf8);
    g_test_add_func("/qjson/format/pretty", test_format_pretty);
    g_test_add_func("/qjson/format/pretty-small", test_format_pretty_small);
    g_test_add_func("/qjson/round-trip", test_round_trip);

    return g_test_run();
}
