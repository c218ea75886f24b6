/*
 * bdrv_open: probing, json: filenames, option inheritance, leftover
 * options, node names, backing files and the names refresh_filename
 * generates.
 *
 * Expected strings are QEMU 7.2's; the command that shows each one is
 * quoted beside the check (run in /tmp with x.raw a 1 MiB raw file).
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "test-helpers.h"

static char *tmp_dir;

/* ---- Test format drivers ---- */

static int fmt_open(BlockDriverState *bs, QDict *options, int flags,
                    Error **errp)
{
    return bdrv_open_file_child(NULL, options, "file", bs, errp);
}

static int64_t fmt_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(bs->file->bs);
}

static int fmt_reopen_prepare(BDRVReopenState *state,
                              BlockReopenQueue *queue, Error **errp)
{
    return 0;
}

/* Formats recognised by a 4-byte magic, with a fixed probe score. */
#define PROBE_DRIVER(name_, magic_, score_)                               \
    static int probe_##name_(const uint8_t *buf, int buf_size,           \
                             const char *filename)                       \
    {                                                                     \
        return buf_size >= 4 && !memcmp(buf, magic_, 4) ? score_ : 0;     \
    }                                                                     \
    static BlockDriver drv_##name_ = {                                    \
        .format_name         = #name_,                                    \
        .is_format           = true,                                      \
        .bdrv_probe          = probe_##name_,                             \
        .bdrv_open           = fmt_open,                                  \
        .bdrv_getlength      = fmt_getlength,                             \
        .bdrv_child_perm     = bdrv_default_perms,                        \
        .bdrv_reopen_prepare = fmt_reopen_prepare,                        \
    }

PROBE_DRIVER(probe_high, "HI!!", 90);
PROBE_DRIVER(probe_low, "HI!!", 10);
PROBE_DRIVER(probe_tie_a, "TIE!", 50);
PROBE_DRIVER(probe_tie_b, "TIE!", 50);

/*
 * "testcow": a 512-byte header ("TCOW", then the backing file name at 8
 * and its format at 256) in front of nothing; only open matters here.
 */
#define TCOW_HDR 512

static int tcow_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    return buf_size >= 4 && !memcmp(buf, "TCOW", 4) ? 100 : 0;
}

static int tcow_open(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp)
{
    char hdr[TCOW_HDR];
    int ret;

    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_pread(bs->file, 0, sizeof(hdr), hdr, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read header");
        return ret;
    }
    if (memcmp(hdr, "TCOW", 4)) {
        error_setg(errp, "Not a testcow image");
        return -EINVAL;
    }
    hdr[TCOW_HDR - 1] = '\0';
    pstrcpy(bs->backing_file, sizeof(bs->backing_file), hdr + 8);
    pstrcpy(bs->backing_format, sizeof(bs->backing_format), hdr + 256);
    pstrcpy(bs->auto_backing_file, sizeof(bs->auto_backing_file),
            bs->backing_file);
    return 0;
}

static BlockDriver drv_testcow = {
    .format_name         = "testcow",
    .is_format           = true,
    .supports_backing    = true,
    .bdrv_probe          = tcow_probe,
    .bdrv_open           = tcow_open,
    .bdrv_getlength      = fmt_getlength,
    .bdrv_child_perm     = bdrv_default_perms,
    .bdrv_reopen_prepare = fmt_reopen_prepare,
};

/* ---- Helpers ---- */

static char *tmp_path(const char *name)
{
    return g_build_filename(tmp_dir, name, NULL);
}

static void write_file(const char *path, const void *data, size_t len)
{
    g_assert_true(g_file_set_contents(path, data, len, NULL));
}

static void write_tcow(const char *path, const char *backing,
                       const char *backing_fmt)
{
    char hdr[TCOW_HDR] = "TCOW";

    int fd;

    pstrcpy(hdr + 8, 248, backing);
    pstrcpy(hdr + 256, 16, backing_fmt);
    /* In place, not by rename: an open node must see the new header. */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, hdr, sizeof(hdr)), ==, sizeof(hdr));
    close(fd);
}

static int count_nodes(void)
{
    int n = 0;

    for (BlockDriverState *bs = bdrv_next_all_states(NULL); bs;
         bs = bdrv_next_all_states(bs)) {
        n++;
    }
    return n;
}

/* Open, expect failure, compare the message; no node may be left over. */
static void check_open_error(const char *filename, QDict *options, int flags,
                             const char *expected)
{
    int nodes = count_nodes();
    Error *err = NULL;
    BlockDriverState *bs = bdrv_open(filename, NULL, options, flags, &err);

    g_assert_null(bs);
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free_or_abort(&err);
    g_assert_cmpint(count_nodes(), ==, nodes);
}

/* The name "qemu-img info" shows: refreshed bs->filename. */
static void check_name(const char *filename, QDict *options,
                       const char *expected)
{
    BlockDriverState *bs = bdrv_open(filename, NULL, options, 0,
                                     &error_abort);

    bdrv_refresh_filename(bs);
    g_assert_cmpstr(bs->filename, ==, expected);
    bdrv_unref(bs);
}

/* ---- Probing ---- */

static void check_probe(const char *content, size_t len,
                        const char *expected_fmt)
{
    g_autofree char *path = tmp_path("probe.img");
    BlockDriverState *bs;

    write_file(path, content, len);
    bs = bdrv_open(path, NULL, NULL, 0, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, expected_fmt);
    g_assert_true(bs->probed);
    bdrv_unref(bs);
    unlink(path);
}

static void test_probe(void)
{
    char buf[1024] = { 0 };

    /* Highest score wins, wherever the driver is in the list. */
    memcpy(buf, "HI!!", 4);
    check_probe(buf, sizeof(buf), "probe_high");

    /* Equal scores: the most recently registered driver. */
    memcpy(buf, "TIE!", 4);
    check_probe(buf, sizeof(buf), "probe_tie_b");

    /* raw takes anything (score 1)... */
    memcpy(buf, "none", 4);
    check_probe(buf, sizeof(buf), "raw");
    /* ...and short and empty files are raw too. */
    check_probe("TI", 2, "raw");
    check_probe("", 0, "raw");

    /* A format from the header, and an explicit driver is not probed. */
    {
        g_autofree char *path = tmp_path("t.tcow");
        BlockDriverState *bs;

        write_tcow(path, "", "");
        bs = bdrv_open(path, NULL, test_opts("driver=testcow"), 0,
                       &error_abort);
        g_assert_false(bs->probed);
        g_assert_cmpstr(bdrv_get_format_name(bs), ==, "testcow");
        g_assert_cmpstr(bdrv_get_format_name(bs->file->bs), ==, "file");
        bdrv_unref(bs);
        unlink(path);
    }

    /* A probe buffer for the whole registry. */
    memcpy(buf, "TCOW", 4);
    g_assert_true(bdrv_probe_all((uint8_t *)buf, 512, "x") == &drv_testcow);
}

/* ---- json: ---- */

static void test_json(void)
{
    BlockDriverState *bs;

    /* qemu-img info 'json:{"driver":"null-co","size":1024}' */
    bs = bdrv_open("json:{\"driver\":\"null-co\",\"size\":1024}", NULL, NULL,
                   0, &error_abort);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1024);
    bdrv_refresh_filename(bs);
    g_assert_cmpstr(bs->filename, ==,
                    "json:{\"driver\": \"null-co\", \"size\": 1024}");
    bdrv_unref(bs);

    /* Options given directly beat those in the filename. */
    bs = bdrv_open("json:{\"driver\":\"null-co\",\"size\":1024}", NULL,
                   test_opts("size=2048"), 0, &error_abort);
    g_assert_cmpint(bdrv_getlength(bs), ==, 2048);
    bdrv_unref(bs);

    /* Nested objects become dotted options. */
    bs = bdrv_open("json:{\"driver\":\"raw\",\"file\":{\"driver\":\"null-co\","
                   "\"size\":4096}}", NULL, NULL, 0, &error_abort);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4096);
    g_assert_cmpstr(bdrv_get_format_name(bs->file->bs), ==, "null-co");
    bdrv_unref(bs);

    /* qemu-io 'json:{' */
    check_open_error("json:{", NULL, 0, "Could not parse the JSON options: "
                     "JSON parse error, premature EOI");
    /* qemu-io 'json:{"driver":"null-co","size":1024,}' */
    check_open_error("json:{\"driver\":\"null-co\",\"size\":1024,}", NULL, 0,
                     "Could not parse the JSON options: JSON parse error, "
                     "expecting value");
    /* qemu-io 'json:[1]' */
    check_open_error("json:[1]", NULL, 0, "Invalid JSON object given");
}

/* ---- Generic errors ---- */

static void test_open_errors(void)
{
    g_autofree char *raw = tmp_path("x.raw");

    write_file(raw, "", 0);

    /* qemu-io nope:foo */
    check_open_error("nope:foo", NULL, 0, "Unknown protocol 'nope'");
    check_open_error(NULL, test_opts("driver=nope"), 0,
                     "Unknown driver 'nope'");
    /* qemu-io --image-opts driver=raw,file.driver=nope */
    check_open_error(NULL, test_opts("driver=raw,file.driver=nope"), 0,
                     "Unknown driver 'nope'");
    check_open_error(NULL, NULL, 0, "Must specify either driver or file");
    /*
     * qemu-io --image-opts
     *     driver=raw,file.driver=file,file.filename=missing.raw
     */
    {
        g_autofree char *missing = tmp_path("missing.raw");
        g_autofree char *o = g_strdup_printf("driver=raw,file.driver=file,"
                                             "file.filename=%s", missing);
        g_autofree char *expected = g_strdup_printf(
            "Could not open '%s': No such file or directory", missing);

        check_open_error(NULL, test_opts(o), BDRV_O_RDWR, expected);
    }
    /* qemu-io -c 'open -o file.filename=/tmp/x.raw /tmp/x.raw' */
    check_open_error(raw, test_opts("file.filename=x"), 0,
                     "Can't specify 'file' and 'filename' options at the "
                     "same time");
    /* qemu-io -c 'open -o driver=raw' */
    check_open_error(NULL, test_opts("driver=raw"), 0,
                     "A block device must be specified for \"file\"");
    /* qemu-io -c 'open -o driver=file' */
    check_open_error(NULL, test_opts("driver=file"), 0,
                     "The 'file' block driver requires a file name");
    /* qemu-io -c 'open -o driver=raw,file.driver=null-co,force-share=on' */
    check_open_error(NULL, test_opts("driver=raw,file.driver=null-co,"
                                     "force-share=on"), BDRV_O_RDWR,
                     "force-share=on can only be used with read-only "
                     "images");
    /* qemu-io -c 'open -C -r -o driver=raw,file.driver=null-co' */
    check_open_error(NULL, test_opts("driver=raw,file.driver=null-co"),
                     BDRV_O_COPY_ON_READ,
                     "Can't use copy-on-read on read-only device");
    /* qemu-io -c 'open -o driver=null-co,detect-zeroes=foo' */
    check_open_error(NULL, test_opts("driver=null-co,detect-zeroes=foo"), 0,
                     "invalid parameter value: foo");
    /* qemu-io -c 'open -o driver=null-co,discard=foo' */
    check_open_error(NULL, test_opts("driver=null-co,discard=foo"), 0,
                     "Invalid discard option");
    check_open_error(NULL, test_opts("driver=null-co,detect-zeroes=unmap,"
                                     "discard=off"), 0,
                     "setting detect-zeroes to unmap is not allowed without "
                     "setting discard operation to unmap");
    check_open_error(NULL, test_opts("driver=null-co,read-only=maybe"), 0,
                     "Parameter 'read-only' expects 'on' or 'off'");

    unlink(raw);
}

/* Keys nobody consumed: the first in QDict order is reported. */
static void test_leftover_options(void)
{
    /* qemu-io -c 'open -o driver=null-co,foo=1,bar=2,baz=3' */
    check_open_error(NULL, test_opts("driver=null-co,foo=1,bar=2,baz=3"), 0,
                     "Block protocol 'null-co' doesn't support the option "
                     "'bar'");
    /* qemu-io -c 'open -o driver=null-co,zzz=1,aaa=2' */
    check_open_error(NULL, test_opts("driver=null-co,zzz=1,aaa=2"), 0,
                     "Block protocol 'null-co' doesn't support the option "
                     "'aaa'");
    /* qemu-io --image-opts driver=raw,file.driver=null-co,file.bogus=1 */
    check_open_error(NULL, test_opts("driver=raw,file.driver=null-co,"
                                     "file.bogus=1"), 0,
                     "Block protocol 'null-co' doesn't support the option "
                     "'bogus'");
    /* qemu-io -c 'open -o driver=raw,file.driver=null-co,foo=bar' */
    check_open_error(NULL, test_opts("driver=raw,file.driver=null-co,"
                                     "foo=bar"), 0,
                     "Block format 'raw' does not support the option 'foo'");
    /*
     * qemu-io -r -c
     *     'open -r -o driver=raw,file.driver=null-co,copy-on-read=on'
     */
    check_open_error(NULL, test_opts("driver=raw,file.driver=null-co,"
                                     "copy-on-read=on"), 0,
                     "Block format 'raw' does not support the option "
                     "'copy-on-read'");
}

/* ---- Node names ---- */

static void test_node_names(void)
{
    BlockDriverState *a, *b;
    GRegex *auto_name = g_regex_new("^#block[0-9]+[0-9][0-9]$", 0, 0, NULL);

    /* qemu-io -c 'open -o driver=null-co,node-name=1x' etc. */
    check_open_error(NULL, test_opts("driver=null-co,node-name=1x"), 0,
                     "Invalid node-name: '1x'");
    check_open_error(NULL, test_opts("driver=null-co,node-name="), 0,
                     "Invalid node-name: ''");
    check_open_error(NULL, test_opts("driver=null-co,node-name=a#b"), 0,
                     "Invalid node-name: 'a#b'");
    check_open_error(NULL, test_opts("driver=null-co,node-name="
                                     "abcdefghijabcdefghijabcdefghij12"), 0,
                     "Node name too long");

    a = bdrv_open(NULL, NULL, test_opts("driver=null-co,node-name="
                                        "abcdefghijabcdefghijabcdefghij1"), 0,
                  &error_abort);
    g_assert_true(bdrv_find_node("abcdefghijabcdefghijabcdefghij1") == a);
    check_open_error(NULL, test_opts("driver=null-co,node-name="
                                     "abcdefghijabcdefghijabcdefghij1"), 0,
                     "Duplicate nodes with node-name="
                     "'abcdefghijabcdefghijabcdefghij1'");
    bdrv_unref(a);
    g_assert_null(bdrv_find_node("abcdefghijabcdefghijabcdefghij1"));

    /* Automatic names: "#block" + counter + two random digits. */
    a = bdrv_open("null-co://", NULL, NULL, 0, &error_abort);
    b = bdrv_open("null-co://", NULL, NULL, 0, &error_abort);
    g_assert_true(g_regex_match(auto_name, a->node_name, 0, NULL));
    g_assert_true(g_regex_match(auto_name, b->node_name, 0, NULL));
    g_assert_cmpstr(a->node_name, !=, b->node_name);
    g_assert_true(bdrv_find_node(a->node_name) == a);
    bdrv_unref(a);
    bdrv_unref(b);
    g_regex_unref(auto_name);
}

static void test_reference(void)
{
    BlockDriverState *bs = bdrv_open(NULL, NULL,
                                     test_opts("driver=null-co,"
                                               "node-name=ref"), 0,
                                     &error_abort);
    BlockDriverState *again;

    again = bdrv_open(NULL, "ref", NULL, 0, &error_abort);
    g_assert_true(again == bs);
    g_assert_cmpint(bs->refcnt, ==, 2);
    bdrv_unref(again);

    {
        Error *err = NULL;

        g_assert_null(bdrv_open(NULL, "ref", test_opts("size=1"), 0, &err));
        g_assert_cmpstr(error_get_pretty(err), ==, "Cannot reference an "
                        "existing block device with additional options or "
                        "a new filename");
        error_free_or_abort(&err);

        g_assert_null(bdrv_open("null-co://", "ref", NULL, 0, &err));
        g_assert_cmpstr(error_get_pretty(err), ==, "Cannot reference an "
                        "existing block device with additional options or "
                        "a new filename");
        error_free_or_abort(&err);
        g_assert_null(bdrv_open(NULL, "nope", NULL, 0, &err));
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "Cannot find device='nope' nor node-name='nope'");
        error_free_or_abort(&err);
    }

    /* A child given by reference: raw's file is the existing node. */
    again = bdrv_open(NULL, NULL, test_opts("driver=raw,file=ref"), 0,
                      &error_abort);
    g_assert_true(again->file->bs == bs);
    g_assert_null(bs->inherits_from);
    bdrv_unref(again);
    g_assert_cmpint(bs->refcnt, ==, 1);
    bdrv_unref(bs);
}

/* ---- Option inheritance ---- */

static void test_inherit(void)
{
    BlockDriverState *bs, *file;

    /* Cache and read-only settings flow down to the protocol node. */
    bs = bdrv_open(NULL, NULL, test_opts("driver=raw,file.driver=null-co,"
                                         "cache.no-flush=on,read-only=on"),
                   BDRV_O_RDWR, &error_abort);
    file = bs->file->bs;
    g_assert_true(bs->open_flags & BDRV_O_NO_FLUSH);
    g_assert_true(file->open_flags & BDRV_O_NO_FLUSH);
    g_assert_false(file->open_flags & BDRV_O_RDWR);
    g_assert_true(file->open_flags & BDRV_O_PROTOCOL);
    g_assert_true(file->inherits_from == bs);
    g_assert_cmpstr(qdict_get_try_str(file->options, "discard"), ==,
                    "unmap");
    g_assert_true(file->open_flags & BDRV_O_UNMAP);
    g_assert_cmpstr(qdict_get_try_str(file->options, "read-only"), ==, "on");
    /* Inherited values are not explicit. */
    g_assert_false(qdict_haskey(file->explicit_options, "read-only"));
    /* The parent no longer lists its child's options. */
    g_assert_false(qdict_haskey(bs->options, "file.driver"));
    g_assert_false(qdict_haskey(bs->options, "file"));
    bdrv_unref(bs);

    /* An explicit child option wins over the inherited one. */
    bs = bdrv_open(NULL, NULL, test_opts("driver=raw,file.driver=null-co,"
                                         "cache.no-flush=on,"
                                         "file.cache.no-flush=off"),
                   BDRV_O_RDWR, &error_abort);
    g_assert_true(bs->open_flags & BDRV_O_NO_FLUSH);
    g_assert_false(bs->file->bs->open_flags & BDRV_O_NO_FLUSH);
    g_assert_true(bs->file->bs->open_flags & BDRV_O_RDWR);
    bdrv_unref(bs);

    /* Top-level only flags stay at the top. */
    bs = bdrv_open(NULL, NULL, test_opts("driver=raw,file.driver=null-co"),
                   BDRV_O_RDWR | BDRV_O_COPY_ON_READ, &error_abort);
    g_assert_true(bs->open_flags & BDRV_O_COPY_ON_READ);
    g_assert_cmpint(bs->copy_on_read, ==, 1);
    g_assert_false(bs->file->bs->open_flags & BDRV_O_COPY_ON_READ);
    bdrv_unref(bs);
}

/* ---- Backing files ---- */

static void test_backing_relative(void)
{
    g_autofree char *sub = tmp_path("sub");
    g_autofree char *top = g_build_filename(sub, "top.tcow", NULL);
    g_autofree char *base = g_build_filename(sub, "base.raw", NULL);
    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *expected = NULL;
    char data[4096] = { 0 };
    BlockDriverState *bs;

    g_assert_cmpint(g_mkdir_with_parents(sub, 0700), ==, 0);
    write_tcow(top, "base.raw", "raw");
    write_file(base, data, sizeof(data));

    /* Relative to the overlay's directory, not to the working directory. */
    g_assert_cmpint(chdir("/"), ==, 0);
    bs = bdrv_open(top, NULL, NULL, BDRV_O_RDWR, &error_abort);
    g_assert_nonnull(bs->backing);
    g_assert_cmpstr(bs->backing->bs->filename, ==, base);
    g_assert_cmpstr(bdrv_get_format_name(bs->backing->bs), ==, "raw");
    g_assert_false(bs->backing->bs->probed);
    /* Backing files are read-only, whatever the overlay is. */
    g_assert_true(bdrv_is_read_only(bs->backing->bs));
    g_assert_true(bdrv_is_writable(bs));
    g_assert_true(bs->backing->bs->inherits_from == bs);
    g_assert_cmpstr(qdict_get_try_str(bs->backing->bs->options,
                                      "auto-read-only"), ==, "off");
    /* The header's backing file: the name stays a plain one. */
    g_assert_cmpstr(bs->auto_backing_file, ==, base);
    bdrv_refresh_filename(bs);
    g_assert_cmpstr(bs->filename, ==, top);
    g_assert_cmpint(bdrv_has_zero_init(bs), ==, 0);
    bdrv_unref(bs);

    /* A relative overlay name: the backing file is relative to it. */
    g_assert_cmpint(chdir(tmp_dir), ==, 0);
    bs = bdrv_open("sub/top.tcow", NULL, NULL, 0, &error_abort);
    g_assert_cmpstr(bs->backing->bs->filename, ==, "sub/base.raw");
    {
        g_autofree char *full = bdrv_get_full_backing_filename(bs,
                                                               &error_abort);
        g_assert_cmpstr(full, ==, "sub/base.raw");
    }
    bdrv_unref(bs);

    /* backing: null suppresses it; the name must then say so. */
    {
        QDict *o = qdict_new();

        qdict_put_null(o, "backing");
        bs = bdrv_open(top, NULL, o, 0, &error_abort);
        g_assert_null(bs->backing);
        bdrv_refresh_filename(bs);
        g_assert_true(strstr(bs->filename, "\"backing\": null"));
        bdrv_unref(bs);
    }

    /* A missing backing file. */
    write_tcow(top, "missing.raw", "raw");
    expected = g_strdup_printf("Could not open backing file: Could not open "
                               "'%s/missing.raw': No such file or directory",
                               sub);
    check_open_error(top, NULL, 0, expected);

    /* Relative names need a directory to be relative to. */
    {
        Error *err = NULL;

        g_assert_null(bdrv_get_full_backing_filename_from_filename(
                          "json:{}", "b.img", &err));
        g_assert_cmpstr(error_get_pretty(err), ==, "Cannot use relative "
                        "backing file names for 'json:{}'");
        error_free_or_abort(&err);
    }

    g_assert_cmpint(chdir(cwd), ==, 0);
    unlink(top);
    unlink(base);
    rmdir(sub);
}

/*
 * A node whose file and backing share one protocol node: QEMU 7.2,
 *   qemu-io -c 'open -o driver=qcow2,node-name=top,file.driver=file,
 *       file.filename=/tmp/b.qcow2,file.node-name=f,backing.driver=qcow2,
 *       backing.node-name=base,backing.file=f'
 * fails with the text below; nothing may be left behind.
 */
static void test_backing_conflict(void)
{
    g_autofree char *top = tmp_path("c.tcow");
    g_autofree char *o = g_strdup_printf("driver=testcow,node-name=top,"
                                         "file.driver=file,file.filename=%s,"
                                         "file.node-name=f,"
                                         "backing.driver=testcow,"
                                         "backing.node-name=base,"
                                         "backing.file=f", top);

    write_tcow(top, "", "");
    check_open_error(NULL, test_opts(o), BDRV_O_RDWR,
                     "Could not open backing file: Permission conflict on "
                     "node 'f': permissions 'write, resize' are both "
                     "required by node 'top' (uses node 'f' as 'file' "
                     "child) and unshared by node 'base' (uses node 'f' as "
                     "'file' child).");
    g_assert_null(bdrv_find_node("f"));
    g_assert_null(bdrv_find_node("top"));
    g_assert_null(bdrv_find_node("base"));
    unlink(top);
}

/* ---- Failed opens leave an existing child as it was ---- */

/* What a failed open that referenced bs must leave unchanged. */
typedef struct NodeState {
    int nodes;
    int refcnt;
    int parents;
    int open_flags;
    uint64_t perm;
    uint64_t shared;
} NodeState;

static NodeState node_state(BlockDriverState *bs)
{
    NodeState st = {
        .nodes = count_nodes(),
        .refcnt = bs->refcnt,
        .open_flags = bs->open_flags,
    };
    BdrvChild *c;

    QLIST_FOREACH(c, &bs->parents, next_parent) {
        st.parents++;
    }
    bdrv_get_cumulative_perm(bs, &st.perm, &st.shared);
    return st;
}

static void check_node_state(BlockDriverState *bs, const NodeState *before)
{
    NodeState now = node_state(bs);

    g_assert_cmpint(now.nodes, ==, before->nodes);
    g_assert_cmpint(now.refcnt, ==, before->refcnt);
    g_assert_cmpint(now.parents, ==, before->parents);
    g_assert_cmphex(now.open_flags, ==, before->open_flags);
    g_assert_cmphex(now.perm, ==, before->perm);
    g_assert_cmphex(now.shared, ==, before->shared);
}

typedef struct OpenFailure {
    const char *filename;
    const char *options;
    const char *expected;
} OpenFailure;

/* Opens over "base" that fail before the driver has anything to check. */
static const OpenFailure simple_failures[] = {
    /* qemu-io --image-opts driver=nope,... */
    { NULL, "driver=nope,file=base", "Unknown driver 'nope'" },
    /* qemu-io --image-opts driver=raw,...,bogus=1 */
    { NULL, "driver=raw,file=base,bogus=1",
      "Block format 'raw' does not support the option 'bogus'" },
    { "json:{\"driver\":\"raw\",\"file\":\"base\",\"bogus\":1}", NULL,
      "Block format 'raw' does not support the option 'bogus'" },
    { NULL, "driver=raw,file=base,file.bogus=1",
      "Cannot reference an existing block device with additional options "
      "or a new filename" },
    /* qemu-io 'json:{"driver":"raw","file":{...}' */
    { "json:{\"driver\":\"raw\",\"file\":\"base\"", NULL,
      "Could not parse the JSON options: JSON parse error, premature EOI" },
    /* The driver's own open: 'json:{"driver":"raw",...,"offset":...}' */
    { NULL, "driver=raw,file=base,offset=1048576",
      "Offset (1048576) cannot be greater than size of the containing file "
      "(512)" },
};

/*
 * "base" is a file node read by a BlockBackend that lets others do
 * anything but write.  Each open below takes base as its "file" child
 * (by reference) and fails, at a different point of the open; base must
 * come out with the same parents, references and permissions, and still
 * work.  Texts: QEMU 7.2's, from the commands quoted (with base's place
 * taken by file.driver=file,file.filename=x.raw).
 */
static void test_failure_keeps_child(void)
{
    g_autofree char *path = tmp_path("keep.tcow");
    g_autofree char *missing = tmp_path("missing.raw");
    g_autofree char *expected = NULL;
    g_autofree char *o = g_strdup_printf("driver=file,filename=%s,"
                                         "node-name=base", path);
    BlockDriverState *base, *top;
    BlockBackend *user;
    NodeState before;
    uint8_t buf[512];

    write_tcow(path, "", "");
    base = bdrv_open(NULL, NULL, test_opts(o), BDRV_O_RDWR, &error_abort);
    user = blk_new(qemu_get_aio_context(), BLK_PERM_CONSISTENT_READ,
                   BLK_PERM_ALL & ~BLK_PERM_WRITE);
    blk_insert_bs(user, base, &error_abort);
    before = node_state(base);

    for (size_t i = 0; i < ARRAY_SIZE(simple_failures); i++) {
        const OpenFailure *f = &simple_failures[i];

        check_open_error(f->filename, f->options ? test_opts(f->options) : NULL,
                         0, f->expected);
        check_node_state(base, &before);
    }

    /* Opened, then its backing file is missing. */
    write_tcow(path, "missing.raw", "raw");
    expected = g_strdup_printf("Could not open backing file: Could not open "
                               "'%s': No such file or directory", missing);
    check_open_error(NULL, test_opts("driver=testcow,file=base"), 0,
                     expected);
    check_node_state(base, &before);
    write_tcow(path, "", "");

    /* A writer over base: user does not share writes. */
    check_open_error(NULL, test_opts("driver=testcow,node-name=top,"
                                     "file=base"), BDRV_O_RDWR,
                     "Permission conflict on node 'base': permissions "
                     "'write' are both required by node 'top' "
                     "(uses node 'base' as 'file' child) and unshared by "
                     "an unnamed block device (uses node 'base' as 'root' "
                     "child).");
    check_node_state(base, &before);

    /* base still works, and a good open over it still succeeds. */
    g_assert_cmpint(blk_pread(user, 0, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpmem(buf, 4, "TCOW", 4);
    top = bdrv_open(NULL, NULL, test_opts("driver=testcow,file=base"), 0,
                    &error_abort);
    g_assert_true(top->file->bs == base);
    bdrv_unref(top);
    check_node_state(base, &before);

    blk_unref(user);
    bdrv_unref(base);
    unlink(path);
}

/* ---- Names from refresh_filename ---- */

static void test_refresh_filename(void)
{
    g_autofree char *raw = tmp_path("x.raw");
    g_autofree char *expected = NULL;
    g_autofree char *o = NULL;
    char data[4096] = { 0 };

    write_file(raw, data, sizeof(data));

    /* qemu-img info --image-opts driver=null-co */
    check_name(NULL, test_opts("driver=null-co"), "null-co://");
    /* qemu-img info --image-opts driver=null-co,latency-ns=100 */
    check_name(NULL, test_opts("driver=null-co,latency-ns=100"), "null-co://");
    /* qemu-img info --image-opts driver=null-aio */
    check_name(NULL, test_opts("driver=null-aio"), "null-aio://");
    /* qemu-img info --image-opts driver=null-co,size=1024 */
    check_name(NULL, test_opts("driver=null-co,size=1024"),
               "json:{\"driver\": \"null-co\", \"size\": \"1024\"}");
    /* qemu-img info --image-opts driver=null-co,read-zeroes=on */
    check_name(NULL, test_opts("driver=null-co,read-zeroes=on"),
               "json:{\"read-zeroes\": \"on\", \"driver\": \"null-co\"}");
    /*
     * qemu-img info --image-opts
     *     driver=null-co,read-zeroes=on,size=4096,latency-ns=5
     */
    check_name(NULL, test_opts("driver=null-co,read-zeroes=on,size=4096,"
                               "latency-ns=5"),
               "json:{\"read-zeroes\": \"on\", \"driver\": \"null-co\", "
               "\"size\": \"4096\"}");
    /* qemu-img info --image-opts driver=null-aio,size=4096,read-zeroes=off */
    check_name(NULL, test_opts("driver=null-aio,size=4096,read-zeroes=off"),
               "json:{\"read-zeroes\": \"off\", \"driver\": \"null-aio\", "
               "\"size\": \"4096\"}");
    /* qemu-img info --image-opts driver=raw,file.driver=null-co */
    check_name(NULL, test_opts("driver=raw,file.driver=null-co"), "null-co://");
    /*
     * qemu-img info --image-opts
     *     driver=raw,file.driver=null-co,file.size=4096
     */
    check_name(NULL, test_opts("driver=raw,file.driver=null-co,file.size=4096"),
               "json:{\"driver\": \"raw\", \"file\": {\"driver\": "
               "\"null-co\", \"size\": \"4096\"}}");
    /*
     * qemu-img info -f raw 'json:{"driver":"raw","file":{"driver":"null-co",
     *     "size":4096},"offset":0}'
     */
    check_name("json:{\"driver\":\"raw\",\"file\":{\"driver\":\"null-co\","
               "\"size\":4096},\"offset\":0}", NULL,
               "json:{\"offset\": 0, \"driver\": \"raw\", \"file\": "
               "{\"driver\": \"null-co\", \"size\": 4096}}");

    /* qemu-img info --image-opts driver=file,filename=/tmp/x.raw */
    o = g_strdup_printf("driver=file,filename=%s", raw);
    check_name(NULL, test_opts(o), raw);
    g_free(o);
    /* qemu-img info /tmp/x.raw (probed raw over file) */
    check_name(raw, NULL, raw);
    /*
     * qemu-img info --image-opts driver=raw,file.filename=/tmp/x.raw,
     *     offset=512
     */
    o = g_strdup_printf("driver=raw,file.filename=%s,offset=512", raw);
    expected = g_strdup_printf("json:{\"offset\": \"512\", \"driver\": "
                               "\"raw\", \"file\": {\"driver\": \"file\", "
                               "\"filename\": \"%s\"}}", raw);
    check_name(NULL, test_opts(o), expected);
    g_free(o);
    g_free(expected);

    /* qemu-img info --image-opts driver=blkdebug,image.driver=null-co */
    check_name(NULL, test_opts("driver=blkdebug,image.driver=null-co"),
               "blkdebug::null-co://");
    /*
     * qemu-img info --image-opts
     *     driver=blkdebug,image.driver=null-co,align=4096
     */
    check_name(NULL, test_opts("driver=blkdebug,image.driver=null-co,"
                               "align=4096"),
               "json:{\"image\": {\"driver\": \"null-co\"}, \"driver\": "
               "\"blkdebug\", \"align\": \"4096\"}");
    /*
     * qemu-img info --image-opts
     *     driver=raw,file.driver=blkdebug,file.image.driver=null-co
     */
    check_name(NULL, test_opts("driver=raw,file.driver=blkdebug,"
                               "file.image.driver=null-co"),
               "blkdebug::null-co://");
    /*
     * qemu-img info --image-opts driver=raw,file.driver=blkdebug,
     *     file.image.driver=file,file.image.filename=/tmp/x.raw,
     *     file.align=4096
     */
    o = g_strdup_printf("driver=raw,file.driver=blkdebug,"
                        "file.image.driver=file,file.image.filename=%s,"
                        "file.align=4096", raw);
    expected = g_strdup_printf("json:{\"driver\": \"raw\", \"file\": "
                               "{\"image\": {\"driver\": \"file\", "
                               "\"filename\": \"%s\"}, \"driver\": "
                               "\"blkdebug\", \"align\": \"4096\"}}", raw);
    check_name(NULL, test_opts(o), expected);

    unlink(raw);
}

/* ---- Misc ---- */

static void iterate_cb(void *opaque, const char *name)
{
    g_ptr_array_add(opaque, g_strdup(name));
}

static void test_registry(void)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    Error *err = NULL;

    bdrv_iterate_format(iterate_cb, names, false);
    for (guint i = 1; i < names->len; i++) {
        g_assert_cmpint(strcmp(g_ptr_array_index(names, i - 1),
                               g_ptr_array_index(names, i)), <, 0);
    }
    g_assert_true(bdrv_find_format("null-co") != NULL);
    g_assert_null(bdrv_find_format("nope"));

    g_assert_true(bdrv_find_protocol("/x/y:z", true, &error_abort) ==
                  &bdrv_file);
    g_assert_true(bdrv_find_protocol("null-co://", false, &error_abort) ==
                  &bdrv_file);
    g_assert_cmpstr(bdrv_find_protocol("null-aio://", true,
                                       &error_abort)->format_name, ==,
                    "null-aio");
    g_assert_null(bdrv_find_protocol("nope:x", true, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Unknown protocol 'nope'");
    error_free_or_abort(&err);
}

static void test_paths(void)
{
    g_autofree char *a = path_combine("/a/b/c.img", "d.img");
    g_autofree char *b = path_combine("c.img", "d.img");
    g_autofree char *c = path_combine("/a/b/c.img", "/abs");
    g_autofree char *d = path_combine("nbd:host:x", "y");
    g_autofree char *e = path_combine("proto:/dir/f", "g");
    g_autofree char *f = path_combine("/a/b/", "");
    QDict *o = qdict_new();

    g_assert_cmpstr(a, ==, "/a/b/d.img");
    g_assert_cmpstr(b, ==, "d.img");
    g_assert_cmpstr(c, ==, "/abs");
    g_assert_cmpstr(d, ==, "nbd:y");
    g_assert_cmpstr(e, ==, "proto:/dir/g");
    g_assert_cmpstr(f, ==, "/a/b/");

    g_assert_true(path_has_protocol("a:b"));
    g_assert_false(path_has_protocol("/a:b"));
    g_assert_false(path_has_protocol("a/b:c"));
    g_assert_true(path_is_absolute("/x"));
    g_assert_false(path_is_absolute("x"));

    /* "file:a:b" names the file "a:b", kept from looking like a protocol. */
    bdrv_parse_filename_strip_prefix("file:a:b", "file:", o);
    g_assert_cmpstr(qdict_get_str(o, "filename"), ==, "./a:b");
    bdrv_parse_filename_strip_prefix("file:/x", "file:", o);
    g_assert_cmpstr(qdict_get_str(o, "filename"), ==, "/x");
    qobject_unref(o);
}

static void test_parse_modes(void)
{
    int flags = BDRV_O_RDWR;
    bool wt;

    g_assert_cmpint(bdrv_parse_cache_mode("none", &flags, &wt), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR | BDRV_O_NOCACHE);
    g_assert_false(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("directsync", &flags, &wt), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR | BDRV_O_NOCACHE);
    g_assert_true(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("unsafe", &flags, &wt), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR | BDRV_O_NO_FLUSH);
    g_assert_false(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("writethrough", &flags, &wt), ==,
                    0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR);
    g_assert_true(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("writeback", &flags, &wt), ==, 0);
    g_assert_false(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("bogus", &flags, &wt), ==, -1);

    flags = 0;
    g_assert_cmpint(bdrv_parse_aio("native", &flags), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_NATIVE_AIO);
    g_assert_cmpint(bdrv_parse_aio("threads", &flags), ==, 0);
    g_assert_cmpint(bdrv_parse_aio("bogus", &flags), ==, -EINVAL);

    flags = 0;
    g_assert_cmpint(bdrv_parse_discard_flags("unmap", &flags), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_UNMAP);
    g_assert_cmpint(bdrv_parse_discard_flags("ignore", &flags), ==, 0);
    g_assert_cmpint(flags, ==, 0);
    g_assert_cmpint(bdrv_parse_discard_flags("x", &flags), ==, -1);
}

static void test_queries(void)
{
    BlockDriverState *bs;
    BlockDriverInfo bdi;

    /* A 1000-byte protocol node is 1024 bytes long (whole sectors). */
    bs = bdrv_open(NULL, NULL, test_opts("driver=null-co,size=1000"), 0,
                   &error_abort);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1024);
    g_assert_cmpint(bdrv_nb_sectors(bs), ==, 2);
    g_assert_cmpint(bdrv_get_info(bs, &bdi), ==, -ENOTSUP);
    g_assert_cmpint(bdrv_has_zero_init(bs), ==, 0);
    g_assert_cmpint(bdrv_get_allocated_file_size(bs), ==, 0);
    g_assert_null(bdrv_get_specific_info(bs, &error_abort));
    g_assert_true(bdrv_is_read_only(bs));
    g_assert_false(bdrv_is_writable(bs));
    g_assert_true(bdrv_is_inserted(bs));
    g_assert_cmpint(bdrv_change_backing_file(bs, "x", NULL, true), ==,
                    -EINVAL);
    g_assert_cmpint(bdrv_change_backing_file(bs, NULL, "raw", false), ==,
                    -EINVAL);
    g_assert_cmpint(bdrv_change_backing_file(bs, "x", "raw", false), ==,
                    -ENOTSUP);
    g_assert_cmpint(bdrv_apply_auto_read_only(bs, NULL, &error_abort), ==,
                    0);
    g_assert_cmpuint(bdrv_opt_mem_align(bs), ==, qemu_real_host_page_size());
    g_assert_cmpuint(bdrv_min_mem_align(bs), ==, 512);
    bdrv_unref(bs);

    /* Read-write without auto-read-only cannot degrade. */
    bs = bdrv_open(NULL, NULL, test_opts("driver=null-co"), BDRV_O_RDWR,
                   &error_abort);
    {
        Error *err = NULL;

        g_assert_cmpint(bdrv_apply_auto_read_only(bs, NULL, &err), ==,
                        -EACCES);
        g_assert_cmpstr(error_get_pretty(err), ==, "Image is read-only");
        error_free_or_abort(&err);
    }
    bdrv_unref(bs);

    bs = bdrv_open(NULL, NULL, test_opts("driver=null-co,auto-read-only=on"),
                   BDRV_O_RDWR, &error_abort);
    g_assert_cmpint(bdrv_apply_auto_read_only(bs, "x", &error_abort), ==, 0);
    g_assert_true(bdrv_is_read_only(bs));
    bdrv_unref(bs);
}

/* bdrv_first/bdrv_next visit each BlockBackend's root node once. */
static void test_iterate_nodes(void)
{
    BlockBackend *b1 = blk_new_open("null-co://", NULL, NULL, 0,
                                    &error_abort);
    BlockBackend *b2 = blk_new(qemu_get_aio_context(), 0, BLK_PERM_ALL);
    BlockBackend *b3 = blk_new(qemu_get_aio_context(), 0, BLK_PERM_ALL);
    BdrvNextIterator it;
    BlockDriverState *bs;
    int n = 0;

    blk_insert_bs(b2, blk_bs(b1), &error_abort);
    for (bs = bdrv_first(&it); bs; bs = bdrv_next(&it)) {
        g_assert_true(bs == blk_bs(b1));
        n++;
    }
    g_assert_cmpint(n, ==, 1);

    /* Leaving early: the iterator's references are dropped. */
    bs = bdrv_first(&it);
    g_assert_cmpint(bs->refcnt, ==, 3);
    bdrv_next_cleanup(&it);
    g_assert_cmpint(bs->refcnt, ==, 2);

    blk_unref(b3);
    blk_unref(b2);
    blk_unref(b1);
}

/* Enum spellings as QEMU's QAPI schema has them. */
static void test_qapi_enums(void)
{
    Error *err = NULL;

    g_assert_cmpstr(PreallocMode_str(PREALLOC_MODE_OFF), ==, "off");
    g_assert_cmpstr(PreallocMode_str(PREALLOC_MODE_METADATA), ==,
                    "metadata");
    g_assert_cmpstr(PreallocMode_str(PREALLOC_MODE_FALLOC), ==, "falloc");
    g_assert_cmpstr(PreallocMode_str(PREALLOC_MODE_FULL), ==, "full");
    g_assert_cmpint(qapi_enum_parse(&BlockdevDetectZeroesOptions_lookup,
                                    "unmap", -1, &error_abort), ==,
                    BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP);
    g_assert_cmpint(qapi_enum_parse(&BlockdevAioOptions_lookup, "io_uring",
                                    -1, &error_abort), ==,
                    BLOCKDEV_AIO_OPTIONS_IO_URING);
    g_assert_cmpint(qapi_enum_parse(&OnOffAuto_lookup, "auto", -1,
                                    &error_abort), ==, ON_OFF_AUTO_AUTO);
    g_assert_cmpint(qapi_enum_parse(&OnOffAuto_lookup, "maybe", -1, &err),
                    ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "invalid parameter value: maybe");
    error_free_or_abort(&err);

    g_assert_cmpint(BlkdebugEvent_lookup.size, ==, 48);
    g_assert_cmpstr(BlkdebugEvent_str(BLKDBG_L1_UPDATE), ==, "l1_update");
    g_assert_cmpstr(BlkdebugEvent_str(BLKDBG_REFBLOCK_ALLOC_SWITCH_TABLE), ==,
                    "refblock_alloc_switch_table");
    g_assert_cmpstr(BlkdebugEvent_str(BLKDBG_PWRITEV_RMW_AFTER_TAIL), ==,
                    "pwritev_rmw_after_tail");
    g_assert_cmpstr(BlkdebugEvent_str(BLKDBG_CLUSTER_ALLOC_SPACE), ==,
                    "cluster_alloc_space");
    g_assert_cmpstr(BlkdebugEvent_str(BLKDBG_NONE), ==, "none");
    for (int i = 0; i < BlkdebugEvent_lookup.size; i++) {
        g_assert_nonnull(BlkdebugEvent_lookup.array[i]);
    }

    qapi_free_ImageInfoSpecific(NULL);
    {
        ImageInfoSpecific *info = g_new0(ImageInfoSpecific, 1);

        info->type = g_strdup("qcow2");
        info->data = qdict_new();
        qapi_free_ImageInfoSpecific(info);
    }
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    /* Registration order matters for ties: tie_b is registered last. */
    bdrv_register(&drv_probe_high);
    bdrv_register(&drv_probe_low);
    bdrv_register(&drv_probe_tie_a);
    bdrv_register(&drv_probe_tie_b);
    bdrv_register(&drv_testcow);

    tmp_dir = test_tmp_dir("QBLOCK_TEST_BLOCK_OPEN_DIR",
                           "test-block-open-XXXXXX");

    g_test_add_func("/block-open/probe", test_probe);
    g_test_add_func("/block-open/json", test_json);
    g_test_add_func("/block-open/errors", test_open_errors);
    g_test_add_func("/block-open/leftover-options", test_leftover_options);
    g_test_add_func("/block-open/node-names", test_node_names);
    g_test_add_func("/block-open/reference", test_reference);
    g_test_add_func("/block-open/inherit", test_inherit);
    g_test_add_func("/block-open/backing-relative", test_backing_relative);
    g_test_add_func("/block-open/backing-conflict", test_backing_conflict);
    g_test_add_func("/block-open/failure-keeps-child",
                    test_failure_keeps_child);
    g_test_add_func("/block-open/refresh-filename", test_refresh_filename);
    g_test_add_func("/block-open/registry", test_registry);
    g_test_add_func("/block-open/paths", test_paths);
    g_test_add_func("/block-open/parse-modes", test_parse_modes);
    g_test_add_func("/block-open/queries", test_queries);
    g_test_add_func("/block-open/iterate-nodes", test_iterate_nodes);
    g_test_add_func("/block-open/qapi-enums", test_qapi_enums);

    ret = g_test_run();
    test_remove_tree(tmp_dir);
    g_free(tmp_dir);
    return ret;
}
