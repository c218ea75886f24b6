/*
 * Unit tests for util/qemu-option.c.
 *
 * Expected messages and output were observed with QEMU 7.2.22 (Debian
 * 1:7.2+dfsg-7+deb12u18), mostly through
 *   qemu-img create -f qcow2 -o <options> a.qcow2 1M
 * which parses with qemu_opts_do_parse() and prints the result with
 * qemu_opts_print(opts, " ") after "Formatting 'a.qcow2', fmt=qcow2 ",
 * and through
 *   qemu-io -c 'open -o <options> y.raw'
 * which uses qemu_opts_parse_noisily() on an accept-anything list with
 * merge_lists set.  Observations are quoted in comments.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/option.h"
#include "qemu/qdict.h"
#include "qemu/units.h"
#include "test-helpers.h"

/*
 * The qcow2 creation options in the order QEMU 7.2 prints them (the order
 * seen in "Formatting ..." lines), with its defaults and help texts.
 */
static QemuOptsList qcow2_like = {
    .name = "qcow2-like",
    .head = QTAILQ_HEAD_INITIALIZER(qcow2_like.head),
    .desc = {
        { .name = "encrypt.cipher-alg", .type = QEMU_OPT_STRING,
          .help = "Name of encryption cipher algorithm" },
        { .name = "cluster_size", .type = QEMU_OPT_SIZE,
          .help = "qcow2 cluster size", .def_value_str = "65536" },
        { .name = "extended_l2", .type = QEMU_OPT_BOOL,
          .help = "Extended L2 tables", .def_value_str = "off" },
        { .name = "preallocation", .type = QEMU_OPT_STRING,
          .help = "Preallocation mode (allowed values: off, metadata, "
                  "falloc, full)" },
        { .name = "compression_type", .type = QEMU_OPT_STRING,
          .help = "Compression method used for image cluster compression",
          .def_value_str = "zlib" },
        { .name = "size", .type = QEMU_OPT_SIZE,
          .help = "Virtual disk size" },
        { .name = "compat", .type = QEMU_OPT_STRING,
          .help = "Compatibility level (v2 [0.10] or v3 [1.1])" },
        { .name = "backing_file", .type = QEMU_OPT_STRING,
          .help = "File name of a base image" },
        { .name = "backing_fmt", .type = QEMU_OPT_STRING,
          .help = "Image format of the base image" },
        { .name = "lazy_refcounts", .type = QEMU_OPT_BOOL,
          .help = "Postpone refcount updates", .def_value_str = "off" },
        { .name = "refcount_bits", .type = QEMU_OPT_NUMBER,
          .help = "Width of a reference count entry in bits",
          .def_value_str = "16" },
        { /* end */ }
    },
};

/* raw's own creation options and those file-posix adds (qemu-img). */
static QemuOptsList raw_create = {
    .name = "raw-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(raw_create.head),
    .desc = {
        { .name = "size", .type = QEMU_OPT_SIZE,
          .help = "Virtual disk size" },
        { /* end */ }
    },
};

static QemuOptsList file_create = {
    .name = "file-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(file_create.head),
    .desc = {
        { .name = "size", .type = QEMU_OPT_SIZE,
          .help = "Virtual disk size (file)" },
        { .name = "nocow", .type = QEMU_OPT_BOOL,
          .help = "Turn off copy-on-write (valid only on btrfs)" },
        { .name = "preallocation", .type = QEMU_OPT_STRING,
          .help = "Preallocation mode (allowed values: off, falloc, full)" },
        { .name = "extent_size_hint", .type = QEMU_OPT_SIZE,
          .help = "Extent size hint for the image file, 0 to disable" },
        { /* end */ }
    },
};

/* Like qemu-io's list for "open -o". */
static QemuOptsList any_opts = {
    .name = "any",
    .merge_lists = true,
    .head = QTAILQ_HEAD_INITIALIZER(any_opts.head),
    .desc = { { /* end */ } },
};

/* A list with ids and an implied first option. */
static QemuOptsList dev_opts = {
    .name = "dev",
    .implied_opt_name = "driver",
    .head = QTAILQ_HEAD_INITIALIZER(dev_opts.head),
    .desc = {
        { .name = "driver", .type = QEMU_OPT_STRING },
        { .name = "flag", .type = QEMU_OPT_BOOL },
        { .name = "num", .type = QEMU_OPT_NUMBER, .def_value_str = "0x20" },
        { .name = "sz", .type = QEMU_OPT_SIZE, .def_value_str = "1k" },
        { .name = "str", .type = QEMU_OPT_STRING, .def_value_str = "dflt" },
        { .name = "b", .type = QEMU_OPT_BOOL, .def_value_str = "on" },
        { /* end */ }
    },
};

static void print_opts_cb(void *opaque)
{
    qemu_opts_print(opaque, " ");
}

/*
 * As qemu-img create does: size set first, then the -o string parsed;
 * returns the printed option line (NULL on a parse error, with *errp).
 */
static char *create_line(const char *options, Error **errp)
{
    QemuOpts *opts = qemu_opts_create(&qcow2_like, NULL, 0, &error_abort);
    char *out = NULL;

    qemu_opt_set_number(opts, "size", MiB, &error_abort);
    if (qemu_opts_do_parse(opts, options, NULL, errp)) {
        out = test_capture_stdout(print_opts_cb, opts);
    }
    qemu_opts_del(opts);
    return out;
}

static void check_line(const char *options, const char *expected)
{
    g_autofree char *out = create_line(options, &error_abort);

    g_assert_cmpstr(out, ==, expected);
}

static void check_error(const char *options, const char *expected)
{
    Error *err = NULL;
    g_autofree char *out = create_line(options, &err);

    g_assert_null(out);
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free(err);
}

static void test_print_format(void)
{
    /* Formatting 'a.qcow2', fmt=qcow2 cluster_size=65536 extended_l2=off ... */
    check_line("", "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=16");
    check_line("cluster_size=4k,lazy_refcounts=on",
               "cluster_size=4096 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=on refcount_bits=16");
    /* Description order, not command-line order. */
    check_line("refcount_bits=16,preallocation=off,cluster_size=64k,"
               "compat=1.1,encrypt.cipher-alg=x",
               "encrypt.cipher-alg=x cluster_size=65536 extended_l2=off "
               "preallocation=off compression_type=zlib size=1048576 "
               "compat=1.1 lazy_refcounts=off refcount_bits=16");
    /* Strings are printed unquoted with commas doubled. */
    check_line("encrypt.cipher-alg=x,,y",
               "encrypt.cipher-alg=x,,y cluster_size=65536 extended_l2=off "
               "compression_type=zlib size=1048576 lazy_refcounts=off "
               "refcount_bits=16");
    check_line("compat=",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 compat= lazy_refcounts=off refcount_bits=16");
    /* Booleans as typed; numbers and sizes as parsed (signed!). */
    check_line("lazy_refcounts=yes",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=yes refcount_bits=16");
    check_line("lazy_refcounts=y",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=y refcount_bits=16");
    check_line("refcount_bits=-1",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=-1");
    check_line("refcount_bits=010",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=8");
    check_line("refcount_bits= 16",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=16");
    check_line("refcount_bits=0x10,cluster_size=0x1000",
               "cluster_size=4096 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=16");
    /* Repeated options: the last one counts. */
    check_line("cluster_size=4k,cluster_size=8k",
               "cluster_size=8192 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=16");
    /* Short-form booleans, silently with qemu_opts_do_parse. */
    check_line("lazy_refcounts",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=on refcount_bits=16");
    check_line("lazy_refcounts=on,nolazy_refcounts",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=16");
    /* "id" is skipped by qemu_opts_do_parse. */
    check_line("id=x",
               "cluster_size=65536 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=16");
    /* A trailing comma ends the list (qemu-img itself rejects it). */
    check_line("cluster_size=4k,",
               "cluster_size=4096 extended_l2=off compression_type=zlib "
               "size=1048576 lazy_refcounts=off refcount_bits=16");
}

static void test_print_other(void)
{
    QemuOpts *opts;
    g_autofree char *out1 = NULL;
    g_autofree char *out2 = NULL;
    g_autofree char *out3 = NULL;

    /* raw: "Formatting 'b.raw', fmt=raw size=1048576 nocow=off ..." */
    QemuOptsList *list = qemu_opts_append(NULL, &raw_create);

    list = qemu_opts_append(list, &file_create);
    opts = qemu_opts_create(list, NULL, 0, &error_abort);
    qemu_opt_set_number(opts, "size", MiB, &error_abort);
    qemu_opts_do_parse(opts, "preallocation=off,nocow=off,"
                       "extent_size_hint=1M", NULL, &error_abort);
    out1 = test_capture_stdout(print_opts_cb, opts);
    g_assert_cmpstr(out1, ==, "size=1048576 nocow=off preallocation=off "
                    "extent_size_hint=1048576");
    qemu_opts_del(opts);
    qemu_opts_free(list);

    /* The id comes first; unset options print their default as is. */
    opts = qemu_opts_create(&dev_opts, "d0", 1, &error_abort);
    qemu_opt_set(opts, "driver", "x", &error_abort);
    out3 = test_capture_stdout(print_opts_cb, opts);
    g_assert_cmpstr(out3, ==, "id=d0 driver=x num=0x20 sz=1k str=dflt b=on");
    qemu_opts_del(opts);

    /* Accept-anything lists print every value in order. */
    opts = qemu_opts_create(&any_opts, NULL, 0, &error_abort);
    qemu_opts_do_parse(opts, "b=x,,y,a=1,b=2", NULL, &error_abort);
    out2 = test_capture_stdout(print_opts_cb, opts);
    g_assert_cmpstr(out2, ==, "b=x,,y a=1 b=2");
    qemu_opts_del(opts);
}

static void print_help_cb(void *opaque)
{
    qemu_opts_print_help(opaque, false);
}

static void print_help_caption_cb(void *opaque)
{
    qemu_opts_print_help(opaque, true);
}

static void test_print_help(void)
{
    /* qemu-img create -f raw -o help x, after "Supported options:\n" */
    static const char raw_help[] =
        "  extent_size_hint=<size> - Extent size hint for the image file, "
        "0 to disable\n"
        "  nocow=<bool (on/off)>  - Turn off copy-on-write (valid only on "
        "btrfs)\n"
        "  preallocation=<str>    - Preallocation mode (allowed values: "
        "off, falloc, full)\n"
        "  size=<size>            - Virtual disk size\n";
    /* Part of qemu-img create -f qcow2 -o help x */
    static const char qcow2_help[] =
        "  backing_file=<str>     - File name of a base image\n"
        "  backing_fmt=<str>      - Image format of the base image\n"
        "  cluster_size=<size>    - qcow2 cluster size\n"
        "  compat=<str>           - Compatibility level (v2 [0.10] or v3 "
        "[1.1])\n"
        "  compression_type=<str> - Compression method used for image "
        "cluster compression\n"
        "  encrypt.cipher-alg=<str> - Name of encryption cipher algorithm\n"
        "  extended_l2=<bool (on/off)> - Extended L2 tables\n"
        "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n"
        "  preallocation=<str>    - Preallocation mode (allowed values: "
        "off, metadata, falloc, full)\n"
        "  refcount_bits=<num>    - Width of a reference count entry in "
        "bits\n"
        "  size=<size>            - Virtual disk size\n";
    QemuOptsList *list = qemu_opts_append(NULL, &raw_create);
    g_autofree char *raw_out = NULL;
    g_autofree char *qcow2_out = NULL;
    g_autofree char *cap_out = NULL;
    g_autofree char *empty_out = NULL;
    g_autofree char *nohelp_out = NULL;

    list = qemu_opts_append(list, &file_create);
    raw_out = test_capture_stdout(print_help_cb, list);
    g_assert_cmpstr(raw_out, ==, raw_help);
    qemu_opts_free(list);

    qcow2_out = test_capture_stdout(print_help_cb, &qcow2_like);
    g_assert_cmpstr(qcow2_out, ==, qcow2_help);

    cap_out = test_capture_stdout(print_help_caption_cb, &qcow2_like);
    g_assert_true(g_str_has_prefix(cap_out, "qcow2-like options:\n"));
    g_assert_cmpstr(cap_out + strlen("qcow2-like options:\n"), ==,
                    qcow2_help);

    empty_out = test_capture_stdout(print_help_caption_cb, &any_opts);
    g_assert_cmpstr(empty_out, ==, "There are no options for any.\n");

    /* Options without help get no padding; sorting is by whole line. */
    nohelp_out = test_capture_stdout(print_help_cb, &dev_opts);
    g_assert_cmpstr(nohelp_out, ==,
                    "  b=<bool (on/off)>\n"
                    "  driver=<str>\n"
                    "  flag=<bool (on/off)>\n"
                    "  num=<num>\n"
                    "  str=<str>\n"
                    "  sz=<size>\n");
}

static void test_type_errors(void)
{
    /* qemu-img: a.qcow2: <message> */
    check_error("lazy_refcounts=maybe",
                "Parameter 'lazy_refcounts' expects 'on' or 'off'");
    check_error("lazy_refcounts=ON",
                "Parameter 'lazy_refcounts' expects 'on' or 'off'");
    check_error("lazy_refcounts=",
                "Parameter 'lazy_refcounts' expects 'on' or 'off'");
    check_error("cluster_size=abc", "Parameter 'cluster_size' expects a "
                "non-negative number below 2^64");
    check_error("cluster_size=-1", "Parameter 'cluster_size' expects a "
                "non-negative number below 2^64");
    check_error("cluster_size=1.5", "Parameter 'cluster_size' expects a "
                "non-negative number below 2^64");
    check_error("cluster_size=", "Parameter 'cluster_size' expects a "
                "non-negative number below 2^64");
    /* ",," makes the value "4k,". */
    check_error("cluster_size=4k,,", "Parameter 'cluster_size' expects a "
                "non-negative number below 2^64");
    check_error("cluster_size=4k,,lazy_refcounts=on", "Parameter "
                "'cluster_size' expects a non-negative number below 2^64");
    check_error("cluster_size=16E", "Value '16E' is out of range for "
                "parameter 'cluster_size'");
    check_error("cluster_size=99999999999999999999", "Value "
                "'99999999999999999999' is out of range for parameter "
                "'cluster_size'");
    check_error("refcount_bits=abc",
                "Parameter 'refcount_bits' expects a number");
    check_error("refcount_bits=16x",
                "Parameter 'refcount_bits' expects a number");
    check_error("refcount_bits=",
                "Parameter 'refcount_bits' expects a number");
    check_error("refcount_bits=99999999999999999999", "Value "
                "'99999999999999999999' is too large for parameter "
                "'refcount_bits'");
    check_error("foo=1", "Invalid parameter 'foo'");
    check_error("foo", "Invalid parameter 'foo'");
    check_error("noo", "Invalid parameter 'o'");
    check_error("nolazy_refcounts=on",
                "Invalid parameter 'nolazy_refcounts'");
    check_error("=4k", "Invalid parameter ''");
    /* Without descriptions for help, "help" is a plain (unknown) flag. */
    check_error("help", "Invalid parameter 'help'");
}

/* The size error carries QEMU's two-line hint. */
static void test_size_hint(void)
{
    if (g_test_subprocess()) {
        Error *err = NULL;

        g_assert_null(create_line("cluster_size=abc", &err));
        error_report_err(err);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr(
        "*Parameter 'cluster_size' expects a non-negative number below 2^64\n"
        "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, "
        "tera-, peta-\nand exabytes, respectively.\n");
}

static void test_bool_values(void)
{
    static const char *const on[] = { "on", "yes", "true", "y" };
    static const char *const off[] = { "off", "no", "false", "n" };
    QemuOpts *opts = qemu_opts_create(&dev_opts, NULL, 0, &error_abort);

    for (size_t i = 0; i < ARRAY_SIZE(on); i++) {
        g_assert_true(qemu_opt_set(opts, "flag", on[i], &error_abort));
        g_assert_true(qemu_opt_get_bool(opts, "flag", false));
        g_assert_true(qemu_opt_set(opts, "flag", off[i], &error_abort));
        g_assert_false(qemu_opt_get_bool(opts, "flag", true));
    }
    /* Case matters: observed "lazy_refcounts=ON" is rejected. */
    g_assert_false(qemu_opt_set(opts, "flag", "ON", NULL));
    g_assert_false(qemu_opt_set(opts, "flag", "Yes", NULL));
    g_assert_false(qemu_opt_set(opts, "flag", "1", NULL));
    /* A failed set leaves nothing behind. */
    g_assert_false(qemu_opt_get_bool(opts, "flag", true));
    qemu_opts_del(opts);
}

static void test_escapes(void)
{
    char *value;
    const char *p;
    QemuOpts *opts;

    p = get_opt_value("a,,b,c", &value);
    g_assert_cmpstr(value, ==, "a,b");
    g_assert_cmpstr(p, ==, ",c");
    g_free(value);
    p = get_opt_value("a,,,,b", &value);
    g_assert_cmpstr(value, ==, "a,,b");
    g_assert_cmpstr(p, ==, "");
    g_free(value);
    p = get_opt_value(",,", &value);
    g_assert_cmpstr(value, ==, ",");
    g_assert_cmpstr(p, ==, "");
    g_free(value);
    p = get_opt_value("", &value);
    g_assert_cmpstr(value, ==, "");
    g_free(value);
    p = get_opt_value("a,,,b", &value);
    g_assert_cmpstr(value, ==, "a,");
    g_assert_cmpstr(p, ==, ",b");
    g_free(value);

    opts = qemu_opts_create(&any_opts, NULL, 0, &error_abort);
    g_assert_true(qemu_opts_do_parse(opts, "file=a,,b,,,x=,y=1,,", NULL,
                                     &error_abort));
    g_assert_cmpstr(qemu_opt_get(opts, "file"), ==, "a,b,");
    g_assert_cmpstr(qemu_opt_get(opts, "x"), ==, "");
    g_assert_cmpstr(qemu_opt_get(opts, "y"), ==, "1,");
    /* Names stop at '=' or ','; values may contain '='. */
    g_assert_true(qemu_opts_do_parse(opts, "k=a=b", NULL, &error_abort));
    g_assert_cmpstr(qemu_opt_get(opts, "k"), ==, "a=b");
    qemu_opts_del(opts);
}

static void test_help_options(void)
{
    QemuOpts *opts;

    g_assert_true(is_help_option("help"));
    g_assert_true(is_help_option("?"));
    g_assert_false(is_help_option("Help"));
    g_assert_false(is_help_option("help=on"));

    /* qemu-img: "help", "?", "cluster_size=4k,help", "size=1k,?" */
    g_assert_true(has_help_option("help"));
    g_assert_true(has_help_option("?"));
    g_assert_true(has_help_option("cluster_size=4k,help"));
    g_assert_true(has_help_option("size=1k,?"));
    g_assert_false(has_help_option(""));
    g_assert_false(has_help_option("a=help"));
    g_assert_false(has_help_option("help=on"));
    g_assert_false(has_help_option("a=1,,help"));
    g_assert_true(has_help_option("a=1,,,help"));

    /* qemu-io open -o help: an ordinary option in accept-anything lists. */
    opts = qemu_opts_parse(&any_opts, "driver=raw,help", false,
                           &error_abort);
    g_assert_true(qemu_opt_has_help_opt(opts));
    g_assert_cmpstr(qemu_opt_get(opts, "help"), ==, "on");
    qemu_opts_del(opts);
    opts = qemu_opts_parse(&any_opts, "?", false, &error_abort);
    g_assert_true(qemu_opt_has_help_opt(opts));
    qemu_opts_del(opts);
    opts = qemu_opts_parse(&any_opts, "driver=raw", false, &error_abort);
    g_assert_false(qemu_opt_has_help_opt(opts));
    qemu_opts_del(opts);
}

/* qemu_opts_parse_noisily: help text on stdout, errors on stderr. */
static void test_noisily_help(void)
{
    if (g_test_subprocess()) {
        g_assert_null(qemu_opts_parse_noisily(&dev_opts, "flag=on,help",
                                              false));
        g_assert_null(qemu_opts_parse_noisily(&dev_opts, "bogus=1", false));
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("dev options:\n  b=<bool (on/off)>\n"
                              "  driver=<str>\n*");
    g_test_trap_assert_stderr("*Invalid parameter 'bogus'\n");
}

/*
 * Observed with qemu-io -c 'open -o x y.raw' and friends (stderr):
 *   qemu-io: warning: short-form boolean option 'x' deprecated
 *   Please use x=on instead
 */
static void test_noisily_flags(void)
{
    if (g_test_subprocess()) {
        QemuOpts *opts;

        opts = qemu_opts_parse_noisily(&any_opts, "x", false);
        g_assert_cmpstr(qemu_opt_get(opts, "x"), ==, "on");
        qemu_opts_del(opts);
        opts = qemu_opts_parse_noisily(&any_opts, "nox", false);
        g_assert_cmpstr(qemu_opt_get(opts, "x"), ==, "off");
        qemu_opts_del(opts);
        opts = qemu_opts_parse_noisily(&any_opts,
                                       "driver=raw,noread-only", false);
        g_assert_cmpstr(qemu_opt_get(opts, "read-only"), ==, "off");
        qemu_opts_del(opts);
        /* No warning for help. */
        opts = qemu_opts_parse_noisily(&any_opts, "help", false);
        qemu_opts_del(opts);
        /* qemu-io: Invalid parameter 'id' (merge_lists) */
        g_assert_null(qemu_opts_parse_noisily(&any_opts, "driver=raw,id=foo",
                                              false));
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr(
        "*warning: short-form boolean option 'x' deprecated\n"
        "Please use x=on instead\n"
        "*warning: short-form boolean option 'nox' deprecated\n"
        "Please use x=off instead\n"
        "*warning: short-form boolean option 'noread-only' deprecated\n"
        "Please use read-only=off instead\n"
        "*Invalid parameter 'id'\n");
}

static void test_implied_and_ids(void)
{
    Error *err = NULL;
    QemuOpts *opts, *opts2;

    /* The first bare value names the implied option. */
    opts = qemu_opts_parse(&dev_opts, "virtio,flag,num=3", true,
                           &error_abort);
    g_assert_cmpstr(qemu_opt_get(opts, "driver"), ==, "virtio");
    g_assert_true(qemu_opt_get_bool(opts, "flag", false));
    g_assert_cmpuint(qemu_opt_get_number(opts, "num", 0), ==, 3);
    g_assert_null(qemu_opts_id(opts));
    qemu_opts_del(opts);
    /* ... also with an escaped comma in it ... */
    opts = qemu_opts_parse(&dev_opts, "a,,b", true, &error_abort);
    g_assert_cmpstr(qemu_opt_get(opts, "driver"), ==, "a,b");
    qemu_opts_del(opts);
    /* ... but only the first, and only with permit_abbrev. */
    g_assert_null(qemu_opts_parse(&dev_opts, "num=1,virtio", true, &err));
    error_free_or_abort(&err);
    g_assert_null(qemu_opts_parse(&dev_opts, "virtio", false, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'virtio'");
    error_free(err);
    err = NULL;
    g_assert_true(QTAILQ_EMPTY(&dev_opts.head));

    /* ids */
    opts = qemu_opts_parse(&dev_opts, "driver=x,id=dev0", false,
                           &error_abort);
    g_assert_cmpstr(qemu_opts_id(opts), ==, "dev0");
    g_assert_true(qemu_opts_find(&dev_opts, "dev0") == opts);
    g_assert_null(qemu_opts_find(&dev_opts, "dev1"));
    g_assert_null(qemu_opts_find(&dev_opts, NULL));
    g_assert_null(qemu_opt_get(opts, "id"));
    g_assert_null(qemu_opts_parse(&dev_opts, "id=dev0", false, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Duplicate ID 'dev0' for dev");
    error_free(err);
    err = NULL;
    g_assert_true(qemu_opts_create(&dev_opts, "dev0", 0, &error_abort) ==
                  opts);
    g_assert_null(qemu_opts_create(&dev_opts, "0dev", 1, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'id' expects an identifier");
    error_free(err);
    err = NULL;
    g_assert_null(qemu_opts_create(&dev_opts, "a b", 1, &err));
    error_free_or_abort(&err);
    opts2 = qemu_opts_create(&dev_opts, "A-1.b_c", 1, &error_abort);
    g_assert_true(qemu_opts_find(&dev_opts, "A-1.b_c") == opts2);
    qemu_opts_set_id(opts2, g_strdup("renamed"));
    g_assert_cmpstr(qemu_opts_id(opts2), ==, "renamed");
    qemu_opts_reset(&dev_opts);
    g_assert_true(QTAILQ_EMPTY(&dev_opts.head));

    /* merge_lists: one shared set, ids refused. */
    opts = qemu_opts_parse(&any_opts, "a=1", false, &error_abort);
    opts2 = qemu_opts_parse(&any_opts, "b=2", false, &error_abort);
    g_assert_true(opts == opts2);
    g_assert_cmpstr(qemu_opt_get(opts, "a"), ==, "1");
    g_assert_cmpstr(qemu_opt_get(opts, "b"), ==, "2");
    g_assert_null(qemu_opts_create(&any_opts, "x", 0, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'id'");
    error_free(err);
    qemu_opts_del(opts);
}

static void test_getters_defaults(void)
{
    QemuOpts *opts = qemu_opts_create(&dev_opts, NULL, 0, &error_abort);
    char *s;

    /* Unset: the description's default, parsed by type. */
    g_assert_cmpuint(qemu_opt_get_number(opts, "num", 7), ==, 32);
    g_assert_cmpuint(qemu_opt_get_size(opts, "sz", 7), ==, 1024);
    g_assert_true(qemu_opt_get_bool(opts, "b", false));
    g_assert_cmpstr(qemu_opt_get(opts, "str"), ==, "dflt");
    g_assert_cmpstr(qemu_opt_get(opts, "num"), ==, "0x20");
    /* No default: defval / NULL. */
    g_assert_true(qemu_opt_get_bool(opts, "flag", true));
    g_assert_false(qemu_opt_get_bool(opts, "flag", false));
    g_assert_null(qemu_opt_get(opts, "driver"));
    g_assert_null(qemu_opt_get(opts, "nonexistent"));
    g_assert_null(qemu_opt_find(opts, "num"));
    /* A NULL set gives defval. */
    g_assert_cmpuint(qemu_opt_get_number(NULL, "num", 7), ==, 7);
    g_assert_null(qemu_opt_get(NULL, "num"));

    g_assert_true(qemu_opts_do_parse(opts, "num=5,sz=1.5k,num=6,nob,sz=2M",
                                     NULL, &error_abort));
    g_assert_cmpuint(qemu_opt_get_number(opts, "num", 0), ==, 6);
    g_assert_cmpuint(qemu_opt_get_size(opts, "sz", 0), ==, 2 * MiB);
    g_assert_false(qemu_opt_get_bool(opts, "b", true));
    g_assert_cmpstr(qemu_opt_get(opts, "sz"), ==, "2M");
    g_assert_nonnull(qemu_opt_find(opts, "num"));

    /* _del: returns the last value and removes all of them. */
    g_assert_cmpuint(qemu_opt_get_number_del(opts, "num", 0), ==, 6);
    g_assert_null(qemu_opt_find(opts, "num"));
    g_assert_cmpuint(qemu_opt_get_number(opts, "num", 0), ==, 32);
    g_assert_cmpuint(qemu_opt_get_size_del(opts, "sz", 0), ==, 2 * MiB);
    g_assert_null(qemu_opt_find(opts, "sz"));
    g_assert_false(qemu_opt_get_bool_del(opts, "b", true));
    g_assert_true(qemu_opt_get_bool(opts, "b", false));
    /* Unset: _del gives the default and changes nothing. */
    g_assert_cmpuint(qemu_opt_get_size_del(opts, "sz", 0), ==, 1024);

    qemu_opt_set(opts, "driver", "one", &error_abort);
    qemu_opt_set(opts, "driver", "two", &error_abort);
    s = qemu_opt_get_del(opts, "driver");
    g_assert_cmpstr(s, ==, "two");
    g_free(s);
    g_assert_null(qemu_opt_find(opts, "driver"));
    s = qemu_opt_get_del(opts, "str");
    g_assert_cmpstr(s, ==, "dflt");
    g_free(s);
    g_assert_null(qemu_opt_get_del(opts, "driver"));

    /* set_bool / set_number store the canonical strings. */
    g_assert_true(qemu_opt_set_bool(opts, "flag", true, &error_abort));
    g_assert_cmpstr(qemu_opt_get(opts, "flag"), ==, "on");
    g_assert_true(qemu_opt_get_bool(opts, "flag", false));
    g_assert_true(qemu_opt_set_bool(opts, "flag", false, &error_abort));
    g_assert_cmpstr(qemu_opt_get(opts, "flag"), ==, "off");
    g_assert_true(qemu_opt_set_number(opts, "num", -5, &error_abort));
    g_assert_cmpstr(qemu_opt_get(opts, "num"), ==, "-5");
    g_assert_cmpuint(qemu_opt_get_number(opts, "num", 0), ==, (uint64_t)-5);
    g_assert_false(qemu_opt_set_bool(opts, "bogus", true, NULL));
    g_assert_false(qemu_opt_set_number(opts, "bogus", 1, NULL));
    g_assert_null(qemu_opt_find(opts, "bogus"));
    qemu_opts_del(opts);
}

static int count_cb(void *opaque, const char *name, const char *value,
                    Error **errp)
{
    GString *s = opaque;

    g_string_append_printf(s, "%s=%s;", name, value);
    return !strcmp(name, "stop") ? 42 : 0;
}

static int opts_count_cb(void *opaque, QemuOpts *opts, Error **errp)
{
    (*(int *)opaque)++;
    return 0;
}

static void test_iteration(void)
{
    QemuOpts *opts = qemu_opts_create(&any_opts, NULL, 0, &error_abort);
    g_autoptr(GString) s = g_string_new(NULL);
    QemuOptsIter iter;
    int n = 0;

    qemu_opts_do_parse(opts, "a=1,b=2,a=3,stop=x,a=4", NULL, &error_abort);
    g_assert_cmpint(qemu_opt_foreach(opts, count_cb, s, &error_abort), ==,
                    42);
    g_assert_cmpstr(s->str, ==, "a=1;b=2;a=3;stop=x;");

    qemu_opt_iter_init(&iter, opts, "a");
    g_assert_cmpstr(qemu_opt_iter_next(&iter), ==, "1");
    g_assert_cmpstr(qemu_opt_iter_next(&iter), ==, "3");
    g_assert_cmpstr(qemu_opt_iter_next(&iter), ==, "4");
    g_assert_null(qemu_opt_iter_next(&iter));
    qemu_opt_iter_init(&iter, opts, "none");
    g_assert_null(qemu_opt_iter_next(&iter));

    /* unset removes the last value only. */
    g_assert_cmpint(qemu_opt_unset(opts, "a"), ==, 0);
    g_assert_cmpstr(qemu_opt_get(opts, "a"), ==, "3");
    g_assert_cmpint(qemu_opt_unset(opts, "zzz"), ==, -1);

    g_assert_cmpint(qemu_opts_foreach(&any_opts, opts_count_cb, &n,
                                      &error_abort), ==, 0);
    g_assert_cmpint(n, ==, 1);
    qemu_opts_del(opts);
}

static void test_validate(void)
{
    static const QemuOptDesc desc[] = {
        { .name = "n", .type = QEMU_OPT_NUMBER },
        { .name = "s", .type = QEMU_OPT_SIZE },
        { .name = "b", .type = QEMU_OPT_BOOL },
        { }
    };
    Error *err = NULL;
    QemuOpts *opts = qemu_opts_create(&any_opts, NULL, 0, &error_abort);

    qemu_opts_do_parse(opts, "n=0x10,s=2k,b=yes", NULL, &error_abort);
    g_assert_true(qemu_opts_validate(opts, desc, &error_abort));
    /* Now typed. */
    g_assert_cmpuint(qemu_opt_get_number(opts, "n", 0), ==, 16);
    g_assert_cmpuint(qemu_opt_get_size(opts, "s", 0), ==, 2048);
    g_assert_true(qemu_opt_get_bool(opts, "b", false));

    qemu_opt_set(opts, "s", "2x", &error_abort);
    g_assert_false(qemu_opts_validate(opts, desc, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Parameter 's' expects a "
                    "non-negative number below 2^64");
    error_free(err);
    err = NULL;
    qemu_opt_unset(opts, "s");
    qemu_opt_set(opts, "q", "1", &error_abort);
    g_assert_false(qemu_opts_validate(opts, desc, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'q'");
    error_free(err);
    qemu_opts_del(opts);
}

static void test_append(void)
{
    QemuOptsList *list = qemu_opts_append(NULL, &raw_create);
    QemuOpts *opts;

    g_assert_null(list->name);
    g_assert_cmpstr(list->desc[0].name, ==, "size");
    g_assert_null(list->desc[1].name);
    /* Appending NULL changes nothing. */
    g_assert_true(qemu_opts_append(list, NULL) == list);

    list = qemu_opts_append(list, &file_create);
    /* Earlier lists keep their descriptions for shared names. */
    g_assert_cmpstr(list->desc[0].name, ==, "size");
    g_assert_cmpstr(list->desc[0].help, ==, "Virtual disk size");
    g_assert_cmpstr(list->desc[1].name, ==, "nocow");
    g_assert_cmpstr(list->desc[2].name, ==, "preallocation");
    g_assert_cmpstr(list->desc[3].name, ==, "extent_size_hint");
    g_assert_null(list->desc[4].name);

    /* The result is a working list. */
    opts = qemu_opts_create(list, NULL, 0, &error_abort);
    g_assert_true(qemu_opts_do_parse(opts, "size=1k,nocow=on", NULL,
                                     &error_abort));
    g_assert_cmpuint(qemu_opt_get_size(opts, "size", 0), ==, 1024);
    g_assert_true(qemu_opt_get_bool(opts, "nocow", false));
    qemu_opts_del(opts);

    /* Appending to a list in use keeps working after it may move. */
    opts = qemu_opts_create(list, NULL, 0, &error_abort);
    qemu_opts_del(opts);
    list = qemu_opts_append(list, &qcow2_like);
    g_assert_cmpstr(list->desc[4].name, ==, "encrypt.cipher-alg");
    opts = qemu_opts_create(list, NULL, 0, &error_abort);
    g_assert_cmpuint(qemu_opt_get_number(opts, "refcount_bits", 0), ==, 16);
    qemu_opts_del(opts);
    qemu_opts_free(list);
}

static void test_qdict_roundtrip(void)
{
    g_autoptr(QDict) in = qdict_new();
    g_autoptr(QDict) out = NULL;
    g_autoptr(QDict) sub = qdict_new();
    QemuOpts *opts;
    Error *err = NULL;

    /* Scalars become strings: numbers formatted, bools on/off. */
    qdict_put_str(in, "driver", "raw");
    qdict_put_int(in, "num", 12);
    qdict_put_bool(in, "flag", true);
    qdict_put_str(in, "sz", "2k");
    qdict_put_str(in, "id", "d1");
    opts = qemu_opts_from_qdict(&dev_opts, in, &error_abort);
    g_assert_cmpstr(qemu_opts_id(opts), ==, "d1");
    g_assert_cmpstr(qemu_opt_get(opts, "driver"), ==, "raw");
    g_assert_cmpuint(qemu_opt_get_number(opts, "num", 0), ==, 12);
    g_assert_cmpstr(qemu_opt_get(opts, "num"), ==, "12");
    g_assert_true(qemu_opt_get_bool(opts, "flag", false));
    g_assert_cmpstr(qemu_opt_get(opts, "flag"), ==, "on");
    g_assert_cmpuint(qemu_opt_get_size(opts, "sz", 0), ==, 2048);

    out = qemu_opts_to_qdict(opts, NULL);
    g_assert_cmpuint(qdict_size(out), ==, 5);
    g_assert_cmpstr(qdict_get_str(out, "id"), ==, "d1");
    g_assert_cmpstr(qdict_get_str(out, "driver"), ==, "raw");
    g_assert_cmpstr(qdict_get_str(out, "num"), ==, "12");
    g_assert_cmpstr(qdict_get_str(out, "flag"), ==, "on");
    g_assert_cmpstr(qdict_get_str(out, "sz"), ==, "2k");
    qemu_opts_del(opts);

    /* Errors: type and unknown names; nothing is left behind. */
    qdict_put_str(in, "flag", "maybe");
    g_assert_null(qemu_opts_from_qdict(&dev_opts, in, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'flag' expects 'on' or 'off'");
    error_free(err);
    err = NULL;
    g_assert_null(qemu_opts_find(&dev_opts, "d1"));
    qdict_del(in, "flag");
    qdict_put_str(in, "bogus", "1");
    g_assert_null(qemu_opts_from_qdict(&dev_opts, in, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'bogus'");
    error_free(err);
    g_assert_true(QTAILQ_EMPTY(&dev_opts.head));

    /* Non-scalar values are ignored. */
    qdict_del(in, "bogus");
    qdict_put(in, "str", qobject_ref(sub));
    opts = qemu_opts_from_qdict(&dev_opts, in, &error_abort);
    g_assert_null(qemu_opt_find(opts, "str"));
    qemu_opts_del(opts);
}

static void test_absorb_filtered(void)
{
    g_autoptr(QDict) d = qdict_new();
    g_autoptr(QDict) out = NULL;
    g_autoptr(QDict) out2 = NULL;
    Error *err = NULL;
    QemuOpts *opts = qemu_opts_create(&dev_opts, NULL, 0, &error_abort);
    QemuOpts *any;

    /* Only described keys move; the rest stay. */
    qdict_put_str(d, "driver", "qcow2");
    qdict_put_int(d, "num", 3);
    qdict_put_str(d, "file.filename", "x");
    qdict_put_bool(d, "b", false);
    g_assert_true(qemu_opts_absorb_qdict(opts, d, &error_abort));
    g_assert_cmpuint(qdict_size(d), ==, 1);
    g_assert_true(qdict_haskey(d, "file.filename"));
    g_assert_cmpstr(qemu_opt_get(opts, "driver"), ==, "qcow2");
    g_assert_cmpuint(qemu_opt_get_number(opts, "num", 0), ==, 3);
    g_assert_false(qemu_opt_get_bool(opts, "b", true));

    /* A bad value stops absorption and stays in the dict. */
    qdict_put_str(d, "flag", "xx");
    g_assert_false(qemu_opts_absorb_qdict(opts, d, &err));
    error_free_or_abort(&err);
    g_assert_true(qdict_haskey(d, "flag"));
    qdict_del(d, "flag");

    /* Accept-anything lists take everything. */
    any = qemu_opts_create(&any_opts, NULL, 0, &error_abort);
    g_assert_true(qemu_opts_absorb_qdict(any, d, &error_abort));
    g_assert_cmpuint(qdict_size(d), ==, 0);
    g_assert_cmpstr(qemu_opt_get(any, "file.filename"), ==, "x");
    qemu_opts_del(any);

    /* to_qdict_filtered: only described names, optionally removed. */
    qemu_opts_set_id(opts, g_strdup("i0"));
    qemu_opt_set(opts, "str", "s", &error_abort);
    out = qemu_opts_to_qdict_filtered(opts, NULL, &raw_create, false);
    g_assert_cmpuint(qdict_size(out), ==, 1);
    g_assert_cmpstr(qdict_get_str(out, "id"), ==, "i0");
    out2 = qdict_new();
    qdict_put_str(out2, "keep", "k");
    g_assert_true(qemu_opts_to_qdict_filtered(opts, out2, &dev_opts, true) ==
                  out2);
    g_assert_cmpstr(qdict_get_str(out2, "keep"), ==, "k");
    g_assert_cmpstr(qdict_get_str(out2, "driver"), ==, "qcow2");
    g_assert_cmpstr(qdict_get_str(out2, "num"), ==, "3");
    g_assert_cmpstr(qdict_get_str(out2, "b"), ==, "off");
    g_assert_cmpstr(qdict_get_str(out2, "str"), ==, "s");
    g_assert_null(QTAILQ_FIRST(&opts->head));
    qemu_opts_del(opts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu-opts/print-format", test_print_format);
    g_test_add_func("/qemu-opts/print-other", test_print_other);
    g_test_add_func("/qemu-opts/print-help", test_print_help);
    g_test_add_func("/qemu-opts/type-errors", test_type_errors);
    g_test_add_func("/qemu-opts/size-hint", test_size_hint);
    g_test_add_func("/qemu-opts/bool-values", test_bool_values);
    g_test_add_func("/qemu-opts/escapes", test_escapes);
    g_test_add_func("/qemu-opts/help-options", test_help_options);
    g_test_add_func("/qemu-opts/noisily-help", test_noisily_help);
    g_test_add_func("/qemu-opts/noisily-flags", test_noisily_flags);
    g_test_add_func("/qemu-opts/implied-and-ids", test_implied_and_ids);
    g_test_add_func("/qemu-opts/getters-defaults", test_getters_defaults);
    g_test_add_func("/qemu-opts/iteration", test_iteration);
    g_test_add_func("/qemu-opts/validate", test_validate);
    g_test_add_func("/qemu-opts/append", test_append);
    g_test_add_func("/qemu-opts/qdict-roundtrip", test_qdict_roundtrip);
    g_test_add_func("/qemu-opts/absorb-filtered", test_absorb_filtered);
    return g_test_run();
}
