/*
 * Unit tests for the blkdebug filter (block/blkdebug.c).
 *
 * Most checks mirror a qemu-io run against QEMU 7.2, quoted in the
 * comments; "cfg" is then a config file with the contents shown and "x" a
 * 1 MiB raw image.  The graph under test is the one those runs use:
 * raw -> blkdebug -> file, where raw raises read_aio / write_aio.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "test-helpers.h"

#define IMG_SIZE (1024 * 1024)

/* The directory is shared with g_test_trap_subprocess children. */
#define TEST_DIR_ENV "QBLOCK_TEST_BLKDEBUG_DIR"

static char *tmp_dir;
static char *img_path;
static char *cfg_path;

static uint8_t pattern_byte(int64_t off)
{
    return (uint8_t)(off * 11 + off / 4096);
}

static void make_image(void)
{
    g_autofree uint8_t *buf = g_malloc(IMG_SIZE);

    for (int64_t i = 0; i < IMG_SIZE; i++) {
        buf[i] = pattern_byte(i);
    }
    g_assert_true(g_file_set_contents(img_path, (char *)buf, IMG_SIZE, NULL));
}

static void check_pattern(const uint8_t *buf, int64_t off, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != pattern_byte(off + i)) {
            g_error("byte at %" PRId64 ": %#x, expected %#x",
                    off + (int64_t)i, buf[i], pattern_byte(off + i));
        }
    }
}

static void write_config(const char *text)
{
    g_assert_true(g_file_set_contents(cfg_path, text, -1, NULL));
}

/*
 * Options for raw over blkdebug over the image, with the config file if
 * cfg is non-NULL and extra "key", "value" pairs (NULL-terminated).
 */
static QDict *G_GNUC_NULL_TERMINATED bd_options(const char *cfg, ...)
{
    QDict *opts = qdict_new();
    const char *key;
    va_list ap;

    qdict_put_str(opts, "driver", "raw");
    qdict_put_str(opts, "file.driver", "blkdebug");
    qdict_put_str(opts, "file.image.driver", "file");
    qdict_put_str(opts, "file.image.filename", img_path);
    if (cfg) {
        write_config(cfg);
        qdict_put_str(opts, "file.config", cfg_path);
    }
    va_start(ap, cfg);
    while ((key = va_arg(ap, const char *))) {
        qdict_put_str(opts, key, va_arg(ap, const char *));
    }
    va_end(ap);
    return opts;
}

/*
 * As qemu-io -t writeback opens images: discards passed down (its default
 * discard=unmap), write cache on (no FUA flush after each write).
 */
static BlockBackend *bd_open(QDict *opts)
{
    BlockBackend *blk = blk_new_open(NULL, NULL, opts,
                                     BDRV_O_RDWR | BDRV_O_UNMAP,
                                     &error_abort);

    blk_set_enable_write_cache(blk, true);
    return blk;
}

/* Open, expect failure, compare the message. */
static void bd_open_fails(QDict *opts, const char *msg)
{
    Error *err = NULL;

    g_assert_null(blk_new_open(NULL, NULL, opts, BDRV_O_RDWR, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static int bd_read(BlockBackend *blk, int64_t off, int64_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);
    int ret = blk_pread(blk, off, len, buf, 0);

    if (ret == 0) {
        check_pattern(buf, off, len);
    }
    return ret;
}

static int bd_write(BlockBackend *blk, int64_t off, int64_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    for (int64_t i = 0; i < len; i++) {
        buf[i] = pattern_byte(off + i);
    }
    return blk_pwrite(blk, off, len, buf, 0);
}

/* The blkdebug node under the raw node. */
static BlockDriverState *bd_node(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk)->file->bs;

    g_assert_cmpstr(bs->drv->format_name, ==, "blkdebug");
    return bs;
}

/* The name qemu-img info prints, which it refreshes first. */
static const char *image_name(BlockDriverState *bs)
{
    bdrv_refresh_filename(bs);
    return bs->filename;
}

/* ---- Rules ---- */

static void test_config_file(void)
{
    BlockBackend *blk;

    /*
     * [inject-error] event = "read_aio"
     * qemu-io -f raw -c 'write 0 512' -c 'read 0 512' -c 'write 0 512'
     * -> the first write works; the read arms the rule, which then fails
     * every read and write (the default iotypes).
     */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n", NULL));
    g_assert_cmpint(bd_write(blk, 0, 512), ==, 0);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(bd_write(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /*
     * Comments, blank lines, spaces around '=' and text after the value
     * are accepted; a repeated key keeps the last value (event =
     * "write_aio" never fires on reads).
     */
    blk = bd_open(bd_options("# comment\n\n[inject-error]\n"
                             "  event   =   \"read_aio\"  trailing\n"
                             "errno = \"28\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -ENOSPC);
    blk_unref(blk);
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "event = \"write_aio\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    blk_unref(blk);

    /* A last line without newline and a group with an id both work. */
    blk = bd_open(bd_options("[inject-error \"r1\"]\nevent = \"read_aio\"",
                             NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /* errno = "1": "read failed: Operation not permitted" */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"1\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EPERM);
    blk_unref(blk);
}

static void test_config_errors(void)
{
    static const struct {
        const char *cfg, *msg;
    } cases[] = {
        { "[inject-error]\n", "Missing event name for rule" },
        { "[inject-error]\nstate = \"1\"\n", "Missing event name for rule" },
        { "[inject-error]\nevent = \"foo\"\n",
          "invalid parameter value: foo" },
        { "[inject-error]\nevent = \"\"\n", "invalid parameter value: " },
        { "[inject-error]\nevent = \"read_aio\"\niotype = \"bar\"\n",
          "invalid parameter value: bar" },
        { "[inject-error]\nevent = \"read_aio\"\niotype = \"\"\n",
          "invalid parameter value: " },
        { "[inject-error]\nevent = \"none\"\nfoo = \"1\"\n",
          "Invalid parameter 'foo'" },
        { "[foo]\nevent = \"none\"\n", "There is no option group 'foo'" },
        { "event = \"none\"\n", "no group defined" },
        { "  [inject-error]\nevent = \"read_aio\"\n", "no group defined" },
        { "[inject-error]\nevent=none\n", "Invalid parameter 'event=none'" },
        { "[inject-error]\nevent = \"none\"\nstate=\"1\"\n",
          "Invalid parameter 'state=\"1\"'" },
        { "[inject-error]\nevent = \"none\"\nerrno = \"abc\"\n",
          "Parameter 'errno' expects a number" },
        { "[set-state]\nevent = \"none\"\nnew_state = \"x\"\n",
          "Parameter 'new_state' expects a number" },
        { "[inject-error]\nevent = \"read_aio\"\n   \n", "parse error" },
        { "[inject-error]\nevent = \"read_aio\"\n\t\n", "parse error" },
        /* Sections are checked when the next one starts. */
        { "[inject-error]\nevent = \"read_aio\"\n[inject-error]\n",
          "Missing event name for rule" },
        { "[inject-error]\n#event = \"read_aio\"\n",
          "Missing event name for rule" },
        /* "[name" without ']' takes the newline into the group name. */
        { "[inject-error]\nevent = \"read_aio\"\n[set-state\n",
          "There is no option group 'set-state\n'" },
        /* A malformed header still overwrites the group name at EOF. */
        { "[inject-error]\nevent = \"read_aio\"\n[]\n",
          "There is no option group ']'" },
        { "[inject-error]\nevent = \"read_aio\"\n[xyz \"a\n",
          "There is no option group 'xyz'" },
        { "[inject-error \"a\"]\nevent = \"read_aio\"\n"
          "[inject-error \"a\"]\nevent = \"read_aio\"\n",
          "Duplicate ID 'a' for inject-error" },
        { "[inject-error \"1a\"]\nevent = \"read_aio\"\n",
          "Parameter 'id' expects an identifier" },
    };

    /* qemu-io -c 'read 0 512' blkdebug:cfg:x, with cfg as shown. */
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        bd_open_fails(bd_options(cases[i].cfg, NULL), cases[i].msg);
    }

    /* qemu-io -c 'read 0 512' blkdebug:nonexist:x */
    {
        QDict *opts = bd_options(NULL, "file.config", "/nonexistent/cfg",
                                 NULL);

        bd_open_fails(opts, "Could not read blkdebug config file: No such "
                      "file or directory");
    }
}

static void test_filename_syntax(void)
{
    g_autofree char *name = NULL;
    g_autofree char *bad = NULL;
    Error *err = NULL;
    BlockBackend *blk;
    QDict *opts;

    write_config("[inject-error]\nevent = \"read_aio\"\nerrno = \"28\"\n");
    name = g_strdup_printf("blkdebug:%s:%s", cfg_path, img_path);
    opts = qdict_new();
    qdict_put_str(opts, "driver", "raw");
    blk = blk_new_open(name, NULL, opts, BDRV_O_RDWR, &error_abort);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -ENOSPC);
    /* qemu-img info -f raw blkdebug:cfg:x -> "image: blkdebug:cfg:x" */
    g_assert_cmpstr(image_name(blk_bs(blk)), ==, name);
    blk_unref(blk);

    /* qemu-img info blkdebug::x -> "image: blkdebug::x" */
    g_free(name);
    name = g_strdup_printf("blkdebug::%s", img_path);
    opts = qdict_new();
    qdict_put_str(opts, "driver", "raw");
    blk = blk_new_open(name, NULL, opts, BDRV_O_RDWR, &error_abort);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    g_assert_cmpstr(image_name(blk_bs(blk)), ==, name);
    g_assert_cmpstr(image_name(bd_node(blk)), ==, name);
    blk_unref(blk);

    /* qemu-io -c 'read 0 512' blkdebug:nonexist */
    bad = g_strdup_printf("blkdebug:%s", img_path);
    opts = qdict_new();
    qdict_put_str(opts, "driver", "raw");
    g_assert_null(blk_new_open(bad, NULL, opts, 0, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "blkdebug requires both config file and image path");
    error_free(err);
}

static void test_json_names(void)
{
    g_autofree char *expected = NULL;
    BlockBackend *blk;

    /*
     * qemu-img info --image-opts driver=raw,file.driver=blkdebug,
     *     file.image.filename=x,file.align=4096
     * image: json:{"driver": "raw", "file": {"image": {"driver": "file",
     *     "filename": "x"}, "driver": "blkdebug", "align": "4096"}}
     */
    blk = bd_open(bd_options(NULL, "file.align", "4096", NULL));
    expected = g_strdup_printf("json:{\"driver\": \"raw\", \"file\": "
                               "{\"image\": {\"driver\": \"file\", "
                               "\"filename\": \"%s\"}, \"driver\": "
                               "\"blkdebug\", \"align\": \"4096\"}}",
                               img_path);
    g_assert_cmpstr(image_name(blk_bs(blk)), ==, expected);
    blk_unref(blk);

    /* take-child-perms is not part of the identity: blkdebug::x */
    blk = bd_open(bd_options(NULL, "file.take-child-perms.0", "resize",
                             NULL));
    g_free(expected);
    expected = g_strdup_printf("blkdebug::%s", img_path);
    g_assert_cmpstr(image_name(blk_bs(blk)), ==, expected);
    blk_unref(blk);

    /* ... file.image.driver=file,file.image.filename=x,file.config=cfg */
    blk = bd_open(bd_options("", NULL));
    g_free(expected);
    expected = g_strdup_printf("blkdebug:%s:%s", cfg_path, img_path);
    g_assert_cmpstr(image_name(blk_bs(blk)), ==, expected);
    blk_unref(blk);

    /*
     * ... file.inject-error.0.event=l2_load
     * image: json:{"driver": "raw", "file": {"image": {"driver": "file",
     *     "filename": "x"}, "driver": "blkdebug",
     *     "inject-error.0.event": "l2_load"}}
     */
    blk = bd_open(bd_options(NULL, "file.inject-error.0.event", "l2_load",
                             NULL));
    g_free(expected);
    expected = g_strdup_printf("json:{\"driver\": \"raw\", \"file\": "
                               "{\"image\": {\"driver\": \"file\", "
                               "\"filename\": \"%s\"}, \"driver\": "
                               "\"blkdebug\", \"inject-error.0.event\": "
                               "\"l2_load\"}}", img_path);
    g_assert_cmpstr(image_name(blk_bs(blk)), ==, expected);
    blk_unref(blk);
}

static void test_rule_order(void)
{
    BlockBackend *blk;

    /*
     * Two rules on one event: the one defined first wins.
     * cfg: [inject-error] read_aio errno 5, [inject-error] read_aio errno 28
     * qemu-io -f raw -c 'read 0 512' blkdebug:cfg:x
     *   -> read failed: Input/output error
     */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"5\"\n"
                             "[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"28\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /* Same with once = "on" on the first: EIO, then ENOSPC, ENOSPC. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"5\"\nonce = \"on\"\n"
                             "[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"28\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -ENOSPC);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -ENOSPC);
    blk_unref(blk);

    /* once = "yes" is a valid boolean too. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "once = \"yes\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    blk_unref(blk);
}

static void test_sector_match(void)
{
    BlockBackend *blk;

    /*
     * cfg: read_aio errno 5 sector 1; read_aio errno 28 sector 2
     * 'read 0 512' ok, 'read 512 512' EIO, 'read 1024 512' ENOSPC,
     * 'read 0 1536' EIO
     */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"5\"\nsector = \"1\"\n"
                             "[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"28\"\nsector = \"2\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    g_assert_cmpint(bd_read(blk, 512, 512), ==, -EIO);
    g_assert_cmpint(bd_read(blk, 1024, 512), ==, -ENOSPC);
    g_assert_cmpint(bd_read(blk, 0, 1536), ==, -EIO);
    blk_unref(blk);

    /* sector 0: 'read 1 1' succeeds (byte 0 is not touched), as does 512 */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "sector = \"0\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 1, 1), ==, 0);
    g_assert_cmpint(bd_read(blk, 512, 512), ==, 0);
    g_assert_cmpint(bd_read(blk, 0, 1), ==, -EIO);
    blk_unref(blk);

    /* A negative sector other than -1 never matches (sector "-5"). */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "sector = \"-5\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 4096), ==, 0);
    blk_unref(blk);
}

static void test_states(void)
{
    BlockBackend *blk;

    /*
     * cfg: inject read_aio state 2; set-state read_aio 1->2; 2->3
     * 4 x 'read 0 512': ok, EIO, EIO, EIO.  All rules of one event see
     * the old state, and the armed rule stays armed in state 3.
     */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"5\"\nstate = \"2\"\n"
                             "[set-state]\nevent = \"read_aio\"\n"
                             "state = \"1\"\nnew_state = \"2\"\n"
                             "[set-state]\nevent = \"read_aio\"\n"
                             "state = \"2\"\nnew_state = \"3\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /*
     * "none" fires exactly once, at the end of open: with set-state
     * none 1->2 and none 2->3, a read_aio rule for state 2 fires.
     */
    blk = bd_open(bd_options("[set-state]\nevent = \"none\"\nstate = \"1\"\n"
                             "new_state = \"2\"\n"
                             "[set-state]\nevent = \"none\"\nstate = \"2\"\n"
                             "new_state = \"3\"\n"
                             "[inject-error]\nevent = \"read_aio\"\n"
                             "state = \"2\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /* Rules on "none" are armed from the start; errno 0 arms no error. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    blk_unref(blk);
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n"
                             "errno = \"0\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    blk_unref(blk);
}

static void test_iotypes(void)
{
    BlockBackend *blk;
    int64_t pnum;

    /* Armed by a read, hits writes: read ok, write EIO, write EIO. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "iotype = \"write\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    g_assert_cmpint(bd_write(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(bd_write(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /* Armed by a write, for reads: read ok, write ok, read EIO. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"write_aio\"\n"
                             "iotype = \"read\"\n", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    g_assert_cmpint(bd_write(blk, 0, 512), ==, 0);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /*
     * iotype flush (qemu-io -t writeback): nothing written, flush ok;
     * after a write the flush fails.
     */
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n"
                             "iotype = \"flush\"\n", NULL));
    g_assert_cmpint(blk_flush(blk), ==, 0);
    g_assert_cmpint(bd_write(blk, 0, 512), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, -EIO);
    blk_unref(blk);

    /*
     * iotype block-status: 'alloc 0 512' fails, reads do not.  Default
     * rules do not cover block status.
     */
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n"
                             "iotype = \"block-status\"\n", NULL));
    g_assert_cmpint(bdrv_is_allocated_above(blk_bs(blk), NULL, false, 0, 512,
                                            &pnum), ==, -EIO);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    blk_unref(blk);
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n", NULL));
    g_assert_cmpint(bdrv_is_allocated_above(blk_bs(blk), NULL, false, 0, 512,
                                            &pnum), >=, 0);
    blk_unref(blk);

    /* iotype discard: 'discard 0 512' fails, 'write -z 0 512' works. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n"
                             "iotype = \"discard\"\n", NULL));
    g_assert_cmpint(blk_pdiscard(blk, 0, 512), ==, -EIO);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, 0), ==, 0);
    blk_unref(blk);
    make_image();

    /* iotype write-zeroes: discard ok, 'write -z' fails, 'write' ok. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n"
                             "iotype = \"write-zeroes\"\n", NULL));
    g_assert_cmpint(blk_pdiscard(blk, 0, 512), ==, 0);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 1, 0), ==, -EIO);
    g_assert_cmpint(bd_write(blk, 0, 512), ==, 0);
    blk_unref(blk);
    make_image();
}

/* ---- Options instead of a config file ---- */

static void test_inline_rules(void)
{
    BlockBackend *blk;

    /*
     * json:{"driver":"raw","file":{"driver":"blkdebug","image":{...},
     *   "inject-error":[{"event":"read_aio","errno":28,"once":true}]}}
     * -> read failed: No space left on device; then the rule is gone.
     */
    blk = bd_open(bd_options(NULL, "file.inject-error.0.event", "read_aio",
                             "file.inject-error.0.errno", "28",
                             "file.inject-error.0.once", "on", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -ENOSPC);
    g_assert_cmpint(bd_read(blk, 0, 512), ==, 0);
    blk_unref(blk);

    /*
     * --image-opts ...,file.set-state.0.event=none,
     *   file.set-state.0.new_state=5,file.inject-error.0.event=read_aio,
     *   file.inject-error.0.state=5 -> read failed: Input/output error
     */
    blk = bd_open(bd_options(NULL, "file.set-state.0.event", "none",
                             "file.set-state.0.new_state", "5",
                             "file.inject-error.0.event", "read_aio",
                             "file.inject-error.0.state", "5", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /* A single unnumbered section: file.inject-error.event=read_aio */
    blk = bd_open(bd_options(NULL, "file.inject-error.event", "read_aio",
                             NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EIO);
    blk_unref(blk);

    /* Config file and options together: the file's rules come first. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "errno = \"1\"\n",
                             "file.inject-error.0.event", "read_aio",
                             "file.inject-error.0.errno", "28", NULL));
    g_assert_cmpint(bd_read(blk, 0, 512), ==, -EPERM);
    blk_unref(blk);
}

static void test_inline_errors(void)
{
    /* qemu-img info --image-opts driver=raw,file.driver=blkdebug,... */
    bd_open_fails(bd_options(NULL, "file.inject-error.0.event", "l2_load",
                             "file.inject-error.foo", "1", NULL),
                  "Unused option 'foo' for [inject-error]");
    bd_open_fails(bd_options(NULL, "file.inject-error.0.event", "l2_load",
                             "file.inject-error.2.event", "l2_load", NULL),
                  "Unused option '2.event' for [inject-error]");
    bd_open_fails(bd_options(NULL, "file.inject-error.0.event", "l2_load",
                             "file.inject-error.0.foo", "1", NULL),
                  "[inject-error] section doesn't support the option 'foo'");
    bd_open_fails(bd_options(NULL, "file.inject-error.0", "l2_load", NULL),
                  "[inject-error] section (index 0) does not consist of keys");
    bd_open_fails(bd_options(NULL, "file.inject-error.event", "l2_load",
                             "file.inject-error.foo", "1", NULL),
                  "Unknown option 'foo' for [inject-error]");
    bd_open_fails(bd_options(NULL, "file.inject-error.0.event", "read_aio",
                             "file.inject-error.0.errno", "x", NULL),
                  "Parameter 'errno' expects a number");
    bd_open_fails(bd_options(NULL, "file.set-state.0.state", "1", NULL),
                  "Missing event name for rule");
}

static void test_perm_options(void)
{
    BlockBackend *blk;
    BdrvChild *image;

    /* The BlockBackend does not ask for RESIZE; blkdebug still takes it. */
    blk = bd_open(bd_options(NULL, "file.take-child-perms.0", "resize",
                             "file.unshare-child-perms.0", "write", NULL));
    image = bd_node(blk)->file;
    g_assert_cmpstr(image->name, ==, "image");
    g_assert_true(image->perm & BLK_PERM_RESIZE);
    g_assert_false(image->shared_perm & BLK_PERM_WRITE);
    blk_unref(blk);

    /* Without them the filter passes its parents' needs through. */
    blk = blk_new_open(NULL, NULL, bd_options(NULL, NULL), BDRV_O_RDWR,
                       &error_abort);
    image = bd_node(blk)->file;
    g_assert_false(image->perm & BLK_PERM_RESIZE);
    g_assert_true(image->shared_perm & BLK_PERM_WRITE);
    g_assert_cmpuint(image->role, ==,
                     BDRV_CHILD_FILTERED | BDRV_CHILD_PRIMARY);
    blk_unref(blk);

    /* qemu-img info --image-opts driver=raw,file.driver=blkdebug,... */
    bd_open_fails(bd_options(NULL, "file.take-child-perms.0", "write",
                             "file.take-child-perms.1", "foo", NULL),
                  "Parameter 'null' does not accept value 'foo'");
    bd_open_fails(bd_options(NULL, "file.take-child-perms.0",
                             "consistent-read",
                             "file.take-child-perms.1", "write-unchanged",
                             "file.take-child-perms.2", "resize",
                             "file.take-child-perms.3", "graph-mod", NULL),
                  "Parameter 'null' does not accept value 'graph-mod'");
    bd_open_fails(bd_options(NULL, "file.unshare-child-perms.0", "bar", NULL),
                  "Parameter 'null' does not accept value 'bar'");
    bd_open_fails(bd_options(NULL, "file.take-child-perms.a", "write", NULL),
                  "Invalid parameter type for '<anonymous>', expected: "
                  "array");
    bd_open_fails(bd_options(NULL, "file.take-child-perms.0.x", "write",
                             NULL),
                  "Invalid parameter type for '[0]', expected: string");
    bd_open_fails(bd_options(NULL, "file.take-child-perms.0", "write",
                             "file.take-child-perms.01", "resize", NULL),
                  "Missing list index 1");
    /* A plain key is not the list: the core rejects it. */
    bd_open_fails(bd_options(NULL, "file.take-child-perms", "foo", NULL),
                  "Block protocol 'blkdebug' doesn't support the option "
                  "'take-child-perms'");
}

/* ---- Limits ---- */

static void test_limits(void)
{
    BlockBackend *blk;
    BlockDriverState *bs;
    uint8_t buf[8192], file_buf[8192];

    blk = bd_open(bd_options(NULL, "file.align", "4096",
                             "file.max-transfer", "65536",
                             "file.opt-write-zero", "8192",
                             "file.max-write-zero", "65536",
                             "file.opt-discard", "8192",
                             "file.max-discard", "65536", NULL));
    bs = bd_node(blk);
    g_assert_cmpuint(bs->bl.request_alignment, ==, 4096);
    g_assert_cmpuint(bs->bl.max_transfer, ==, 65536);
    g_assert_cmpuint(bs->bl.pwrite_zeroes_alignment, ==, 8192);
    g_assert_cmpint(bs->bl.max_pwrite_zeroes, ==, 65536);
    g_assert_cmpuint(bs->bl.pdiscard_alignment, ==, 8192);
    g_assert_cmpint(bs->bl.max_pdiscard, ==, 65536);

    /*
     * The driver asserts that what reaches it respects the limits; these
     * requests need padding, splitting and the write-zeroes fallback.
     */
    g_assert_cmpint(bd_read(blk, 100, 300000), ==, 0);
    memset(buf, 0xee, sizeof(buf));
    g_assert_cmpint(blk_pwrite(blk, 512, 512, buf, 0), ==, 0);
    test_file_pread(img_path, 0, file_buf, 4096);
    check_pattern(file_buf, 0, 512);
    g_assert_cmpmem(file_buf + 512, 512, buf, 512);
    check_pattern(file_buf + 1024, 1024, 3072);

    g_assert_cmpint(blk_pwrite_zeroes(blk, 4096 - 100, 200000, 0), ==, 0);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 300000, 4096, 0), ==, 0);
    test_file_pread(img_path, 4096 - 200, file_buf, 300);
    check_pattern(file_buf, 4096 - 200, 100);
    g_assert_true(buffer_is_zero(file_buf + 100, 200));
    test_file_pread(img_path, 300000, file_buf, 4096);
    g_assert_true(buffer_is_zero(file_buf, 4096));

    g_assert_cmpint(blk_pdiscard(blk, 512, 300000), ==, 0);
    g_assert_cmpint(blk_pdiscard(blk, 0, 512), ==, 0);
    blk_unref(blk);
    make_image();

    /*
     * align alone: a 512-byte discard is below the alignment and dropped
     * (QEMU 7.2 dies with SIGFPE here: qemu-io -c 'discard 0 512'
     * --image-opts driver=raw,file.driver=blkdebug,file.image.filename=x,
     * file.align=4096).  'discard 0 4096' reaches the driver.
     */
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n"
                             "iotype = \"discard\"\n",
                             "file.align", "4096", NULL));
    g_assert_cmpint(blk_pdiscard(blk, 0, 512), ==, 0);
    g_assert_cmpint(blk_pdiscard(blk, 0, 4096), ==, -EIO);
    blk_unref(blk);

    /*
     * opt-write-zero=4096 with write-zeroes errors armed: 'write -z 0 4096'
     * fails, 'write -z 0 512' goes through the fallback and succeeds.
     */
    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n"
                             "iotype = \"write-zeroes\"\n",
                             "file.opt-write-zero", "4096", NULL));
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 4096, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, 0), ==, 0);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 4096, 8192, 0), ==, -EIO);
    blk_unref(blk);
    make_image();

    /* With the file's alignment of 1, max-transfer=1000 is fine. */
    blk = bd_open(bd_options(NULL, "file.max-transfer", "1000", NULL));
    g_assert_cmpuint(bd_node(blk)->bl.max_transfer, ==, 1000);
    g_assert_cmpint(bd_read(blk, 3, 5000), ==, 0);
    blk_unref(blk);
}

/*
 * A failed read-modify-write read fails the write, which writes nothing.
 * QEMU 7.2 ignores that error and writes the widened range anyway, with
 * whatever the bounce buffer held (docs/internals.rst):
 *   qemu-io -c 'write 100 512' 'json:{"driver":"blkdebug","align":4096,
 *     "inject-error.0.event":"none","inject-error.0.iotype":"read",
 *     "inject-error.0.sector":"0","image":{...x...}}'
 * says "wrote 512/512 bytes at offset 100" there.
 */
static void test_rmw_read_error(void)
{
    BlockBackend *blk;
    uint8_t buf[512], file_buf[8192];

    blk = bd_open(bd_options("[inject-error]\nevent = \"none\"\n"
                             "iotype = \"read\"\nsector = \"0\"\n",
                             "file.align", "4096", NULL));
    memset(buf, 0xee, sizeof(buf));
    g_assert_cmpint(blk_pwrite(blk, 100, sizeof(buf), buf, 0), ==, -EIO);
    test_file_pread(img_path, 0, file_buf, 4096);
    check_pattern(file_buf, 0, 4096);

    /* The block after it reads fine, so its RMW write goes through. */
    g_assert_cmpint(blk_pwrite(blk, 4196, sizeof(buf), buf, 0), ==, 0);
    test_file_pread(img_path, 4096, file_buf, 4096);
    check_pattern(file_buf, 4096, 100);
    g_assert_cmpmem(file_buf + 100, sizeof(buf), buf, sizeof(buf));
    check_pattern(file_buf + 612, 4096 + 612, 4096 - 612);
    blk_unref(blk);
    make_image();
}

static void test_limit_errors(void)
{
    static const struct {
        const char *key1, *val1, *key2, *val2, *msg;
    } cases[] = {
        /* qemu-io -c 'read 0 512' 'json:{"driver":"blkdebug","align":3,..}' */
        { "file.align", "3", NULL, NULL,
          "Cannot meet constraints with align 3" },
        { "file.align", "2147483648", NULL, NULL,
          "Cannot meet constraints with align 2147483648" },
        /* qemu-io --image-opts driver=blkdebug,image.filename=x,... */
        { "file.align", "4096", "file.max-transfer", "512",
          "Cannot meet constraints with max-transfer 512" },
        { "file.max-transfer", "2147483648", NULL, NULL,
          "Cannot meet constraints with max-transfer 2147483648" },
        { "file.opt-write-zero", "4096", "file.max-write-zero", "1024",
          "Cannot meet constraints with max-write-zero 1024" },
        { "file.opt-discard", "1024", "file.max-discard", "1536",
          "Cannot meet constraints with max-discard 1536" },
        { "file.align", "512", "file.opt-write-zero", "100",
          "Cannot meet constraints with opt-write-zero 100" },
        { "file.align", "512", "file.opt-discard", "3",
          "Cannot meet constraints with opt-discard 3" },
        { "file.align", "abc", NULL, NULL,
          "Parameter 'align' expects a non-negative number below 2^64" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        bd_open_fails(bd_options(NULL, cases[i].key1, cases[i].val1,
                                 cases[i].key2, cases[i].val2, NULL),
                      cases[i].msg);
    }
}

/* ---- Deferred vs immediate errors ---- */

typedef struct ReadCo {
    BlockBackend *blk;
    int ret;
    bool done;
} ReadCo;

static void coroutine_fn read_co_entry(void *opaque)
{
    ReadCo *r = opaque;
    uint8_t buf[512];

    r->ret = blk_co_pread(r->blk, 0, sizeof(buf), buf, 0);
    r->done = true;
}

static void test_immediately(void)
{
    BlockBackend *blk;
    ReadCo r = { 0 };

    /* Default: the error comes back after one trip through the loop. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n", NULL));
    r.blk = blk;
    qemu_coroutine_enter(qemu_coroutine_create(read_co_entry, &r));
    g_assert_false(r.done);
    while (!r.done) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_cmpint(r.ret, ==, -EIO);
    blk_unref(blk);

    /* immediately = "on": the request fails without yielding. */
    blk = bd_open(bd_options("[inject-error]\nevent = \"read_aio\"\n"
                             "immediately = \"on\"\n", NULL));
    r = (ReadCo) { .blk = blk };
    qemu_coroutine_enter(qemu_coroutine_create(read_co_entry, &r));
    g_assert_true(r.done);
    g_assert_cmpint(r.ret, ==, -EIO);
    blk_unref(blk);
}

/* ---- Breakpoints ---- */

typedef struct AioReq {
    const char *name;
    QEMUIOVector qiov;
    uint8_t buf[512];
    int ret;
    bool done;
} AioReq;

static void aio_req_cb(void *opaque, int ret)
{
    AioReq *req = opaque;

    req->ret = ret;
    req->done = true;
    printf("done %s\n", req->name);
}

static void aio_write_req(BlockBackend *blk, AioReq *req, const char *name,
                          int64_t offset)
{
    req->name = name;
    req->done = false;
    memset(req->buf, 0x42, sizeof(req->buf));
    qemu_iovec_init_buf(&req->qiov, req->buf, sizeof(req->buf));
    blk_aio_pwritev(blk, offset, &req->qiov, 0, aio_req_cb, req);
}

static void poll_until_done(AioReq *req)
{
    while (!req->done) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_cmpint(req->ret, ==, 0);
}

static void breakpoint_flow(void)
{
    BlockBackend *blk = bd_open(bd_options(NULL, NULL));
    BlockDriverState *bs = blk_bs(blk);
    AioReq a, b;

    /* qemu-io 'break foo B': Could not set breakpoint: No such file ... */
    g_assert_cmpint(bdrv_debug_breakpoint(bs, "foo", "B"), ==, -ENOENT);
    g_assert_cmpint(bdrv_debug_resume(bs, "A"), ==, -ENOENT);
    g_assert_cmpint(bdrv_debug_remove_breakpoint(bs, "A"), ==, -ENOENT);

    /*
     * qemu-io -f raw -c 'break write_aio A' -c 'aio_write -P 1 0 512'
     *   -c 'break write_aio A' -c 'aio_write -P 2 512 512' -c 'resume A'
     *   -c 'sleep 200' -c 'resume A' -c 'aio_flush' blkdebug::x
     * Both stop; the first resume continues the later request (offset
     * 512 completes first).
     */
    g_assert_cmpint(bdrv_debug_breakpoint(bs, "write_aio", "A"), ==, 0);
    g_assert_false(bdrv_debug_is_suspended(bs, "A"));
    aio_write_req(blk, &a, "a", 0);
    g_assert_true(bdrv_debug_is_suspended(bs, "A"));
    g_assert_cmpint(bdrv_debug_breakpoint(bs, "write_aio", "A"), ==, 0);
    aio_write_req(blk, &b, "b", 512);
    g_assert_cmpint(bdrv_debug_resume(bs, "A"), ==, 0);
    poll_until_done(&b);
    g_assert_false(a.done);
    g_assert_true(bdrv_debug_is_suspended(bs, "A"));
    g_assert_false(bdrv_debug_is_suspended(bs, "B"));
    g_assert_cmpint(bdrv_debug_resume(bs, "A"), ==, 0);
    poll_until_done(&a);
    g_assert_cmpint(bdrv_debug_resume(bs, "A"), ==, -ENOENT);

    /*
     * ... -c 'remove_break A' -c 'aio_flush' instead: both requests are
     * resumed, yet the command reports "Could not remove breakpoint A: No
     * such file or directory" since no breakpoint was left to remove.
     */
    g_assert_cmpint(bdrv_debug_breakpoint(bs, "write_aio", "A"), ==, 0);
    aio_write_req(blk, &a, "a", 0);
    g_assert_cmpint(bdrv_debug_breakpoint(bs, "write_aio", "A"), ==, 0);
    aio_write_req(blk, &b, "b", 512);
    g_assert_cmpint(bdrv_debug_remove_breakpoint(bs, "A"), ==, -ENOENT);
    poll_until_done(&a);
    poll_until_done(&b);
    g_assert_false(bdrv_debug_is_suspended(bs, "A"));

    /*
     * Two breakpoints on one event stop the same request twice
     * (qemu-io: two 'break write_aio A', one 'aio_write', two 'resume A').
     */
    g_assert_cmpint(bdrv_debug_breakpoint(bs, "write_aio", "A"), ==, 0);
    g_assert_cmpint(bdrv_debug_breakpoint(bs, "write_aio", "A"), ==, 0);
    aio_write_req(blk, &a, "a", 0);
    g_assert_cmpint(bdrv_debug_resume(bs, "A"), ==, 0);
    g_assert_false(a.done);
    g_assert_true(bdrv_debug_is_suspended(bs, "A"));
    g_assert_cmpint(bdrv_debug_resume(bs, "A"), ==, 0);
    poll_until_done(&a);

    /* A breakpoint that never fired is removed with success. */
    g_assert_cmpint(bdrv_debug_breakpoint(bs, "read_aio", "C"), ==, 0);
    g_assert_cmpint(bdrv_debug_remove_breakpoint(bs, "C"), ==, 0);
    g_assert_cmpint(bdrv_debug_remove_breakpoint(bs, "C"), ==, -ENOENT);
    g_assert_cmpint(bd_read(blk, 4096, 512), ==, 0);
    blk_unref(blk);
    fflush(stdout);
}

static void test_breakpoints(void)
{
    if (g_test_subprocess()) {
        breakpoint_flow();
        return;
    }

    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    /* blkdebug's lines go to stdout, interleaved with the completions. */
    g_test_trap_assert_stdout(
        "blkdebug: Suspended request 'A'\n"
        "blkdebug: Suspended request 'A'\n"
        "blkdebug: Resuming request 'A'\n"
        "done b\n"
        "blkdebug: Resuming request 'A'\n"
        "done a\n"
        "blkdebug: Suspended request 'A'\n"
        "blkdebug: Suspended request 'A'\n"
        "blkdebug: Resuming request 'A'\n"
        "blkdebug: Resuming request 'A'\n"
        "done *\n"
        "done *\n"
        "blkdebug: Suspended request 'A'\n"
        "blkdebug: Suspended request 'A'\n"
        "blkdebug: Resuming request 'A'\n"
        "blkdebug: Resuming request 'A'\n"
        "done a\n");
    /* The child wrote to the shared image. */
    make_image();
}

/* Breakpoints without blkdebug in the chain are not supported. */
static void test_breakpoints_unsupported(void)
{
    QDict *opts = qdict_new();
    BlockBackend *blk;

    qdict_put_str(opts, "driver", "raw");
    qdict_put_str(opts, "file.driver", "file");
    qdict_put_str(opts, "file.filename", img_path);
    blk = blk_new_open(NULL, NULL, opts, 0, &error_abort);
    /* qemu-io -c 'break write_aio A' x: "... Operation not supported" */
    g_assert_cmpint(bdrv_debug_breakpoint(blk_bs(blk), "write_aio", "A"), ==,
                    -ENOTSUP);
    g_assert_cmpint(bdrv_debug_resume(blk_bs(blk), "A"), ==, -ENOTSUP);
    blk_unref(blk);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    tmp_dir = test_tmp_dir(TEST_DIR_ENV, "test-blkdebug-XXXXXX");
    img_path = g_build_filename(tmp_dir, "image.raw", NULL);
    cfg_path = g_build_filename(tmp_dir, "blkdebug.cfg", NULL);
    make_image();

    g_test_add_func("/blkdebug/config-file", test_config_file);
    g_test_add_func("/blkdebug/config-errors", test_config_errors);
    g_test_add_func("/blkdebug/filename-syntax", test_filename_syntax);
    g_test_add_func("/blkdebug/json-names", test_json_names);
    g_test_add_func("/blkdebug/rule-order", test_rule_order);
    g_test_add_func("/blkdebug/sector-match", test_sector_match);
    g_test_add_func("/blkdebug/states", test_states);
    g_test_add_func("/blkdebug/iotypes", test_iotypes);
    g_test_add_func("/blkdebug/inline-rules", test_inline_rules);
    g_test_add_func("/blkdebug/inline-errors", test_inline_errors);
    g_test_add_func("/blkdebug/perm-options", test_perm_options);
    g_test_add_func("/blkdebug/limits", test_limits);
    g_test_add_func("/blkdebug/limit-errors", test_limit_errors);
    g_test_add_func("/blkdebug/rmw-read-error", test_rmw_read_error);
    g_test_add_func("/blkdebug/immediately", test_immediately);
    g_test_add_func("/blkdebug/breakpoints", test_breakpoints);
    g_test_add_func("/blkdebug/breakpoints-unsupported",
                    test_breakpoints_unsupported);

    ret = g_test_run();

    if (!g_test_subprocess()) {
        test_remove_tree(tmp_dir);
    }
    g_free(img_path);
    g_free(cfg_path);
    g_free(tmp_dir);
    return ret;
}
