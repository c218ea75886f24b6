/*
 * qemu-img: create, inspect, check, map and benchmark disk images.
 *
 * Command lines, output and exit codes follow QEMU 7.2's qemu-img, so
 * that scripts written for it (qemu-iotests included) run unchanged.
 * Where QEMU 7.2 misbehaves (a crash or a hang) we do the sensible thing
 * instead; such places say so in a comment.
 */
#include "qemu/osdep.h"

#include <getopt.h>
#include <sys/time.h>

#include "config-host.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/json.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "qom/object_interfaces.h"
#include "trace/control.h"
#include "block/block_int.h"
#include "block/block-backend.h"
#include "block/qapi.h"

#define QEMU_IMG_VERSION "qemu-img version " QEMU_VERSION \
    " (qblock " QBLOCK_VERSION ")\n" \
    "Copyright (c) 2026 the qblock developers\n"

#define BDRV_DEFAULT_CACHE "writeback"

/* Long options without a short form. */
enum {
    OPTION_OUTPUT = 256,
    OPTION_BACKING_CHAIN,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
    OPTION_PATTERN,
    OPTION_FLUSH_INTERVAL,
    OPTION_NO_DRAIN,
};

typedef enum OutputFormat {
    OFORMAT_JSON,
    OFORMAT_HUMAN,
} OutputFormat;

typedef struct ImgCmd {
    const char *name;
    /* NULL: not implemented yet; reported as an unknown command. */
    int (*handler)(int argc, char **argv);
    const char *syntax;
} ImgCmd;

static const ImgCmd img_cmds[];

/* ---- Messages and help ---- */

static void G_NORETURN G_GNUC_PRINTF(1, 2) error_exit(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);

    error_printf("Try '%s --help' for more information\n",
                 error_get_progname());
    exit(EXIT_FAILURE);
}

static void format_print(void *opaque, const char *name)
{
    printf(" %s", name);
}

static void G_NORETURN help(void)
{
    static const char header[] =
        "usage: qemu-img [standard options] command [command options]\n"
        "QEMU disk image utility\n"
        "\n"
        "    '-h', '--help'       display this help and exit\n"
        "    '-V', '--version'    output version information and exit\n"
        "    '-T', '--trace'     "
        " [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
        "                         specify tracing options\n"
        "\n"
        "Command syntax:\n";
    static const char parameters[] =
        "\n"
        "Command parameters:\n"
        "  'filename' is a disk image filename\n"
        "  'objectdef' is a QEMU user creatable object definition. See the"
        " qemu(1)\n"
        "    manual page for a description of the object properties. The most"
        " common\n"
        "    object type is a 'secret', which is used to supply passwords"
        " and/or\n"
        "    encryption keys.\n"
        "  'fmt' is the disk image format. It is guessed automatically in most"
        " cases\n"
        "  'cache' is the cache mode used to write the output disk image, the"
        " valid\n"
        "    options are: 'none', 'writeback' (default, except for convert),"
        " 'writethrough',\n"
        "    'directsync' and 'unsafe' (default for convert)\n"
        "  'src_cache' is the cache mode used to read input disk images, the"
        " valid\n"
        "    options are the same as for the 'cache' option\n"
        "  'size' is the disk image size in bytes. Optional suffixes\n"
        "    'k' or 'K' (kilobyte, 1024), 'M' (megabyte, 1024k), 'G'"
        " (gigabyte, 1024M),\n"
        "    'T' (terabyte, 1024G), 'P' (petabyte, 1024T) and 'E' (exabyte,"
        " 1024P)  are\n"
        "    supported. 'b' is ignored.\n"
        "  'output_filename' is the destination disk image filename\n"
        "  'output_fmt' is the destination format\n"
        "  'options' is a comma separated list of format specific options in"
        " a\n"
        "    name=value format. Use -o help for an overview of the options"
        " supported by\n"
        "    the used format\n"
        "  'snapshot_param' is param used for internal snapshot, format\n"
        "    is 'snapshot.id=[ID],snapshot.name=[NAME]', or\n"
        "    '[ID_OR_NAME]'\n"
        "  '-c' indicates that target image must be compressed (qcow format"
        " only)\n"
        "  '-u' allows unsafe backing chains. For rebasing, it is assumed that"
        " old and\n"
        "       new backing file match exactly. The image doesn't need a"
        " working\n"
        "       backing file before rebasing in this case (useful for renaming"
        " the\n"
        "       backing file). For image creation, allow creating without"
        " attempting\n"
        "       to open the backing file.\n"
        "  '-h' with or without a command shows this help and lists the"
        " supported formats\n"
        "  '-p' show progress of command (only certain commands)\n"
        "  '-q' use Quiet mode - do not print any output (except errors)\n"
        "  '-S' indicates the consecutive number of bytes (defaults to 4k)"
        " that must\n"
        "       contain only zeros for qemu-img to create a sparse image"
        " during\n"
        "       conversion. If the number of bytes is 0, the source will not"
        " be scanned for\n"
        "       unallocated or zero sectors, and the destination image will"
        " always be\n"
        "       fully allocated\n"
        "  '--output' takes the format in which the output must be done (human"
        " or json)\n"
        "  '-n' skips the target volume creation (useful if the volume is"
        " created\n"
        "       prior to running qemu-img)\n"
        "\n"
        "Parameters to bitmap subcommand:\n"
        "  'bitmap' is the name of the bitmap to manipulate, through one or"
        " more\n"
        "       actions from '--add', '--remove', '--clear', '--enable',"
        " '--disable',\n"
        "       or '--merge source'\n"
        "  '-g granularity' sets the granularity for '--add' actions\n"
        "  '-b source' and '-F src_fmt' tell '--merge' actions to find the"
        " source\n"
        "       bitmaps from an alternative file\n"
        "\n"
        "Parameters to check subcommand:\n"
        "  '-r' tries to repair any inconsistencies that are found during the"
        " check.\n"
        "       '-r leaks' repairs only cluster leaks, whereas '-r all' fixes"
        " all\n"
        "       kinds of errors, with a higher risk of choosing the wrong fix"
        " or\n"
        "       hiding corruption that has already occurred.\n"
        "\n"
        "Parameters to convert subcommand:\n"
        "  '--bitmaps' copies all top-level persistent bitmaps to destination\n"
        "  '-m' specifies how many coroutines work in parallel during the"
        " convert\n"
        "       process (defaults to 8)\n"
        "  '-W' allow to write to the target out of order rather than"
        " sequential\n"
        "\n"
        "Parameters to snapshot subcommand:\n"
        "  'snapshot' is the name of the snapshot to create, apply or delete\n"
        "  '-a' applies a snapshot (revert disk to saved state)\n"
        "  '-c' creates a snapshot\n"
        "  '-d' deletes a snapshot\n"
        "  '-l' lists all snapshots in the given image\n"
        "\n"
        "Parameters to compare subcommand:\n"
        "  '-f' first image format\n"
        "  '-F' second image format\n"
        "  '-s' run in Strict mode - fail on different image size or sector"
        " allocation\n"
        "\n"
        "Parameters to dd subcommand:\n"
        "  'bs=BYTES' read and write up to BYTES bytes at a time (default:"
        " 512)\n"
        "  'count=N' copy only N input blocks\n"
        "  'if=FILE' read from FILE\n"
        "  'of=FILE' write to FILE\n"
        "  'skip=N' skip N bs-sized blocks at the start of input\n";
    const ImgCmd *cmd;

    printf("%s%s", QEMU_IMG_VERSION, header);
    for (cmd = img_cmds; cmd->name; cmd++) {
        printf("  %s\n", cmd->syntax);
    }
    printf("%s\nSupported formats:", parameters);
    bdrv_iterate_format(format_print, NULL, false);
    printf("\n\n"
           "See <https://qemu.org/contribute/report-a-bug> for how to "
           "report bugs.\n"
           "More information on the QEMU project at <https://qemu.org>.\n");
    exit(EXIT_SUCCESS);
}

/*
 * getopt_long() as every option loop here uses it: a missing argument, an
 * unknown option and -h end the program, so the loops see only real
 * options.
 */
static int img_getopt(int argc, char **argv, const char *shortopts,
                      const struct option *longopts)
{
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);

    switch (c) {
    case ':':
        error_exit("missing argument for option '%s'", argv[optind - 1]);
    case '?':
        error_exit("unrecognized option '%s'", argv[optind - 1]);
    case 'h':
        help();
    }
    return c;
}

/* printf unless -q was given. */
static void G_GNUC_PRINTF(2, 3) qprintf(bool quiet, const char *fmt, ...)
{
    va_list ap;

    if (!quiet) {
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
    }
}

/* ---- Argument parsing helpers ---- */

/*
 * A size argument (suffixes k..E) between min and max; prints QEMU's
 * two-line explanation and returns -errno when it is not one.
 */
static int64_t cvtnum_full(const char *name, const char *value, int64_t min,
                           int64_t max)
{
    uint64_t res;
    int err;

    err = qemu_strtosz(value, NULL, &res);
    if (err < 0 && err != -ERANGE) {
        error_report("Invalid %s specified. You may use "
                     "k, M, G, T, P or E suffixes for", name);
        error_report("kilobytes, megabytes, gigabytes, terabytes, "
                     "petabytes and exabytes.");
        return err;
    }
    if (err == -ERANGE || res > max || res < min) {
        error_report("Invalid %s specified. Must be between %" PRId64
                     " and %" PRId64 ".", name, min, max);
        return -ERANGE;
    }
    return res;
}

static int64_t cvtnum(const char *name, const char *value)
{
    return cvtnum_full(name, value, 0, INT64_MAX);
}

/*
 * -o arguments are joined with ','.  An argument that is empty, starts
 * with ',' or ends in an odd number of ',' (a dangling escape) would
 * change the meaning of the join and is refused.
 */
static bool is_valid_option_list(const char *optarg)
{
    size_t len = strlen(optarg);
    size_t commas = 0;

    if (!optarg[0] || optarg[0] == ',') {
        return false;
    }
    while (commas < len && optarg[len - 1 - commas] == ',') {
        commas++;
    }
    return commas % 2 == 0;
}

static int accumulate_options(char **options, const char *optarg)
{
    char *joined;

    if (!is_valid_option_list(optarg)) {
        error_report("Invalid option list: %s", optarg);
        return -1;
    }
    if (!*options) {
        *options = g_strdup(optarg);
    } else {
        joined = g_strdup_printf("%s,%s", *options, optarg);
        g_free(*options);
        *options = joined;
    }
    return 0;
}

static int parse_output_format(const char *output, OutputFormat *format)
{
    if (!output || !strcmp(output, "human")) {
        *format = OFORMAT_HUMAN;
    } else if (!strcmp(output, "json")) {
        *format = OFORMAT_JSON;
    } else {
        error_report("--output must be used with human or json as argument.");
        return -1;
    }
    return 0;
}

/* ---- Opening images ---- */

/* --image-opts: the argument is an option list; a bare value is "file". */
static QemuOptsList qemu_source_opts = {
    .name = "source",
    .implied_opt_name = "file",
    .head = QTAILQ_HEAD_INITIALIZER(qemu_source_opts.head),
    .desc = {
        { /* accept anything */ }
    },
};

/* blk_new_open() with qemu-img's error prefix; takes options. */
static BlockBackend *img_open_blk(const char *filename, const char *name,
                                  QDict *options, int flags,
                                  bool writethrough)
{
    Error *local_err = NULL;
    BlockBackend *blk;

    blk = blk_new_open(filename, NULL, options, flags, &local_err);
    if (!blk) {
        error_reportf_err(local_err, "Could not open '%s': ", name);
        return NULL;
    }
    blk_set_enable_write_cache(blk, !writethrough);
    return blk;
}

static BlockBackend *img_open_opts(const char *optstr, QemuOpts *opts,
                                   int flags, bool writethrough,
                                   bool force_share)
{
    QDict *options = qemu_opts_to_qdict(opts, NULL);

    if (force_share) {
        if (qdict_haskey(options, BDRV_OPT_FORCE_SHARE) &&
            strcmp(qdict_get_str(options, BDRV_OPT_FORCE_SHARE), "on")) {
            error_report("--force-share/-U conflicts with image options");
            qobject_unref(options);
            return NULL;
        }
        qdict_put_str(options, BDRV_OPT_FORCE_SHARE, "on");
    }
    return img_open_blk(NULL, optstr, options, flags, writethrough);
}

static BlockBackend *img_open_file(const char *filename, const char *fmt,
                                   int flags, bool writethrough,
                                   bool force_share)
{
    QDict *options = qdict_new();

    if (fmt) {
        qdict_put_str(options, "driver", fmt);
    }
    if (force_share) {
        qdict_put_bool(options, BDRV_OPT_FORCE_SHARE, true);
    }
    return img_open_blk(filename, filename, options, flags, writethrough);
}

/* How info, check, map and bench are told to open their one image. */
typedef struct ImgSource {
    const char *fmt;        /* -f: the driver, or NULL to probe */
    bool image_opts;        /* --image-opts: the name is an option list */
    bool force_share;       /* -U */
} ImgSource;

/* -f, -U, --object or --image-opts, which those subcommands share. */
static void parse_source_opt(int c, ImgSource *src)
{
    switch (c) {
    case 'f':
        src->fmt = optarg;
        break;
    case 'U':
        src->force_share = true;
        break;
    case OPTION_OBJECT:
        user_creatable_process_cmdline(optarg);
        break;
    case OPTION_IMAGE_OPTS:
        src->image_opts = true;
        break;
    default:
        g_assert_not_reached();
    }
}

/* The image file name, which must be the last and only argument left. */
static const char *img_filename(int argc, char **argv)
{
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    return argv[optind];
}

/* Open filename as src says; errors are printed. */
static BlockBackend *img_open(const ImgSource *src, const char *filename,
                              int flags, bool writethrough)
{
    const char *fmt = src->fmt;
    bool force_share = src->force_share;
    BlockBackend *blk;
    QemuOpts *opts;

    if (!src->image_opts) {
        return img_open_file(filename, fmt, flags, writethrough, force_share);
    }
    if (fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return NULL;
    }
    opts = qemu_opts_parse_noisily(&qemu_source_opts, filename, true);
    if (!opts) {
        return NULL;
    }
    blk = img_open_opts(filename, opts, flags, writethrough, force_share);
    qemu_opts_del(opts);
    return blk;
}

/* ---- create ---- */

/* -o help: the creation options of fmt (and of filename's protocol). */
static int print_block_option_help(const char *filename, const char *fmt)
{
    QemuOptsList *create_opts = NULL;
    BlockDriver *drv, *proto_drv;
    Error *local_err = NULL;

    drv = bdrv_find_format(fmt);
    if (!drv) {
        error_report("Unknown file format '%s'", fmt);
        return 1;
    }
    if (!drv->create_opts) {
        error_report("Format driver '%s' does not support image creation",
                     fmt);
        return 1;
    }
    create_opts = qemu_opts_append(create_opts, drv->create_opts);

    if (filename) {
        proto_drv = bdrv_find_protocol(filename, true, &local_err);
        if (!proto_drv) {
            error_report_err(local_err);
            qemu_opts_free(create_opts);
            return 1;
        }
        if (!proto_drv->create_opts) {
            error_report("Protocol driver '%s' does not support image "
                         "creation", proto_drv->format_name);
            qemu_opts_free(create_opts);
            return 1;
        }
        create_opts = qemu_opts_append(create_opts, proto_drv->create_opts);
        printf("Supported options:\n");
    } else {
        printf("Supported %s options:\n", fmt);
    }
    qemu_opts_print_help(create_opts, false);
    qemu_opts_free(create_opts);

    if (!filename) {
        printf("\n"
               "The protocol level may support further options.\n"
               "Specify the target filename to include those options.\n");
    }
    return 0;
}

static int img_create(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, 0, 'h'},
        {"object", required_argument, 0, OPTION_OBJECT},
        {0, 0, 0, 0}
    };
    g_autofree char *options = NULL;
    const char *fmt = "raw";
    const char *base_fmt = NULL;
    const char *base_filename = NULL;
    const char *filename;
    uint64_t img_size = UINT64_MAX;
    Error *local_err = NULL;
    bool quiet = false;
    int flags = 0;
    int c;

    while ((c = img_getopt(argc, argv, ":F:b:f:ho:qu", long_options)) != -1) {
        switch (c) {
        case 'F':
            base_fmt = optarg;
            break;
        case 'b':
            base_filename = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'o':
            if (accumulate_options(&options, optarg) < 0) {
                return 1;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 'u':
            flags |= BDRV_O_NO_BACKING;
            break;
        case OPTION_OBJECT:
            user_creatable_process_cmdline(optarg);
            break;
        }
    }

    filename = optind < argc ? argv[optind] : NULL;
    if (options && has_help_option(options)) {
        return print_block_option_help(filename, fmt);
    }
    if (!filename) {
        error_exit("Expecting image file name");
    }
    optind++;

    if (optind < argc) {
        int64_t sval = cvtnum("image size", argv[optind++]);

        if (sval < 0) {
            return 1;
        }
        img_size = sval;
    }
    if (optind != argc) {
        error_exit("Unexpected argument: %s", argv[optind]);
    }

    bdrv_img_create(filename, fmt, base_filename, base_fmt, options,
                    img_size, flags, quiet, &local_err);
    if (local_err) {
        error_reportf_err(local_err, "%s: ", filename);
        return 1;
    }
    return 0;
}

/* ---- info ---- */

/*
 * ImageInfo of filename and, with chain, of each backing file in turn.
 * Only the top image takes fmt and image_opts; the others are opened by
 * the names and formats their overlays record.  NULL after printing an
 * error.
 */
static GPtrArray *collect_image_info_list(const ImgSource *top,
                                          const char *filename, bool chain)
{
    ImgSource src = *top;
    g_autoptr(GPtrArray) list =
        g_ptr_array_new_with_free_func((GDestroyNotify)qapi_free_ImageInfo);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal,
                                                       g_free, NULL);

    while (filename) {
        Error *err = NULL;
        BlockBackend *blk;
        ImageInfo *info;

        if (g_hash_table_contains(seen, filename)) {
            error_report("Backing file '%s' creates an infinite loop.",
                         filename);
            return NULL;
        }
        g_hash_table_add(seen, g_strdup(filename));

        blk = img_open(&src, filename, BDRV_O_NO_BACKING | BDRV_O_NO_IO,
                       false);
        if (!blk) {
            return NULL;
        }
        bdrv_query_image_info(blk_bs(blk), &info, &err);
        blk_unref(blk);
        if (err) {
            error_report_err(err);
            return NULL;
        }
        g_ptr_array_add(list, info);

        filename = src.fmt = NULL;
        src.image_opts = false;
        if (chain) {
            if (info->full_backing_filename) {
                filename = info->full_backing_filename;
            } else if (info->backing_filename) {
                error_report("Could not determine absolute backing filename,"
                             " but backing filename '%s' present",
                             info->backing_filename);
                return NULL;
            }
            src.fmt = info->backing_filename_format;
        }
    }
    return g_steal_pointer(&list);
}

static void print_json(QObject *obj)
{
    GString *str = qobject_to_json_pretty(obj, true);

    printf("%s\n", str->str);
    g_string_free(str, true);
}

static int img_info(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, 0, 'h'},
        {"format", required_argument, 0, 'f'},
        {"output", required_argument, 0, OPTION_OUTPUT},
        {"backing-chain", no_argument, 0, OPTION_BACKING_CHAIN},
        {"object", required_argument, 0, OPTION_OBJECT},
        {"image-opts", no_argument, 0, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, 0, 'U'},
        {0, 0, 0, 0}
    };
    OutputFormat output_format;
    const char *output = NULL, *filename;
    ImgSource src = { 0 };
    bool chain = false;
    GPtrArray *list;
    int c;

    while ((c = img_getopt(argc, argv, ":f:hU", long_options)) != -1) {
        switch (c) {
        case OPTION_OUTPUT:
            output = optarg;
            break;
        case OPTION_BACKING_CHAIN:
            chain = true;
            break;
        default:
            parse_source_opt(c, &src);
            break;
        }
    }
    filename = img_filename(argc, argv);

    if (parse_output_format(output, &output_format) < 0) {
        return 1;
    }

    list = collect_image_info_list(&src, filename, chain);
    if (!list) {
        return 1;
    }

    if (output_format == OFORMAT_HUMAN) {
        for (guint i = 0; i < list->len; i++) {
            if (i) {
                printf("\n");
            }
            bdrv_image_info_dump(g_ptr_array_index(list, i));
        }
    } else if (chain) {
        g_autoptr(QList) qlist = qlist_new();

        for (guint i = 0; i < list->len; i++) {
            qlist_append_obj(qlist, QOBJECT(image_info_to_qdict(
                                        g_ptr_array_index(list, i))));
        }
        print_json(QOBJECT(qlist));
    } else {
        g_autoptr(QDict) dict =
            image_info_to_qdict(g_ptr_array_index(list, 0));

        print_json(QOBJECT(dict));
    }
    g_ptr_array_free(list, true);
    return 0;
}

/* ---- check ---- */

static int collect_image_check(BlockDriverState *bs, ImageCheck *check,
                               const char *filename, BdrvCheckMode fix)
{
    BdrvCheckResult result;
    int ret;

    ret = bdrv_check(bs, &result, fix);
    if (ret < 0) {
        return ret;
    }

    g_free(check->filename);
    *check = (ImageCheck) {
        .filename            = g_strdup(filename),
        .format              = bdrv_get_format_name(bs),
        .check_errors        = result.check_errors,
        .image_end_offset    = result.image_end_offset,
        .corruptions         = result.corruptions,
        .leaks               = result.leaks,
        .corruptions_fixed   = result.corruptions_fixed,
        .leaks_fixed         = result.leaks_fixed,
        .total_clusters      = result.bfi.total_clusters,
        .allocated_clusters  = result.bfi.allocated_clusters,
        .fragmented_clusters = result.bfi.fragmented_clusters,
        .compressed_clusters = result.bfi.compressed_clusters,
    };
    return 0;
}

static void dump_json_image_check(const ImageCheck *check, bool quiet)
{
    g_autoptr(QDict) dict = image_check_to_qdict(check);

    if (!quiet) {
        print_json(QOBJECT(dict));
    }
}

static int img_check(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, 0, 'h'},
        {"format", required_argument, 0, 'f'},
        {"repair", required_argument, 0, 'r'},
        {"output", required_argument, 0, OPTION_OUTPUT},
        {"object", required_argument, 0, OPTION_OBJECT},
        {"image-opts", no_argument, 0, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, 0, 'U'},
        {0, 0, 0, 0}
    };
    OutputFormat output_format;
    const char *output = NULL, *filename;
    const char *cache = BDRV_DEFAULT_CACHE;
    ImgSource src = { 0 };
    bool quiet = false, writethrough;
    ImageCheck check = { 0 };
    BdrvCheckMode fix = 0;
    int flags = BDRV_O_CHECK;
    BlockBackend *blk;
    int c, ret;

    while ((c = img_getopt(argc, argv, ":hf:r:T:qU", long_options)) != -1) {
        switch (c) {
        case 'r':
            flags |= BDRV_O_RDWR;
            if (!strcmp(optarg, "leaks")) {
                fix = BDRV_FIX_LEAKS;
            } else if (!strcmp(optarg, "all")) {
                fix = BDRV_FIX_LEAKS | BDRV_FIX_ERRORS;
            } else {
                error_exit("Unknown option value for -r "
                           "(expecting 'leaks' or 'all'): %s", optarg);
            }
            break;
        case OPTION_OUTPUT:
            output = optarg;
            break;
        case 'T':
            cache = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            parse_source_opt(c, &src);
            break;
        }
    }
    filename = img_filename(argc, argv);

    if (parse_output_format(output, &output_format) < 0) {
        return 1;
    }
    if (bdrv_parse_cache_mode(cache, &flags, &writethrough) < 0) {
        error_report("Invalid source cache option: %s", cache);
        return 1;
    }

    blk = img_open(&src, filename, flags, writethrough);
    if (!blk) {
        return 1;
    }

    ret = collect_image_check(blk_bs(blk), &check, filename, fix);
    if (ret == -ENOTSUP) {
        error_report("This image format does not support checks");
        ret = 63;
        goto out;
    }

    if (check.corruptions_fixed || check.leaks_fixed) {
        int64_t corruptions_fixed = check.corruptions_fixed;
        int64_t leaks_fixed = check.leaks_fixed;

        if (output_format == OFORMAT_HUMAN) {
            qprintf(quiet,
                    "The following inconsistencies were found and repaired:"
                    "\n\n"
                    "    %" PRId64 " leaked clusters\n"
                    "    %" PRId64 " corruptions\n\n"
                    "Double checking the fixed image now...\n",
                    leaks_fixed, corruptions_fixed);
        }

        /* Report the state after repair, plus what was repaired. */
        ret = collect_image_check(blk_bs(blk), &check, filename, 0);
        check.corruptions_fixed = corruptions_fixed;
        check.leaks_fixed = leaks_fixed;
    }

    if (!ret) {
        if (output_format == OFORMAT_HUMAN) {
            if (!quiet) {
                bdrv_image_check_dump(&check);
            }
        } else {
            dump_json_image_check(&check, quiet);
        }
    }

    if (ret || check.check_errors) {
        if (ret) {
            error_report("Check failed: %s", strerror(-ret));
        } else {
            error_report("Check failed");
        }
        ret = 1;
    } else if (check.corruptions) {
        ret = 2;
    } else if (check.leaks) {
        ret = 3;
    }

out:
    g_free(check.filename);
    blk_unref(blk);
    return ret;
}

/* ---- map ---- */

/* QEMU's MapEntry: one run of the image with the same status. */
typedef struct MapEntry {
    int64_t start;
    int64_t length;
    bool data;
    bool zero;
    int64_t depth;
    bool present;
    bool has_offset;
    int64_t offset;
    const char *filename;   /* NULL if absent; owned by the node */
} MapEntry;

/*
 * Status of [offset, offset + bytes) as seen from bs: the first layer of
 * the backing chain (filters skipped) that has the data or zeroes
 * decides, and depth counts the layers looked through.
 */
static int get_block_status(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, MapEntry *e)
{
    BlockDriverState *file = NULL;
    int64_t depth = 0;
    int64_t map = 0;
    int ret;

    for (;;) {
        bs = bdrv_skip_filters(bs);
        ret = bdrv_block_status(bs, offset, bytes, &bytes, &map, &file);
        if (ret < 0) {
            return ret;
        }
        assert(bytes);
        if (ret & (BDRV_BLOCK_ZERO | BDRV_BLOCK_DATA)) {
            break;
        }
        bs = bdrv_cow_bs(bs);
        if (!bs) {
            ret = 0;
            break;
        }
        depth++;
    }

    *e = (MapEntry) {
        .start = offset,
        .length = bytes,
        .data = ret & BDRV_BLOCK_DATA,
        .zero = ret & BDRV_BLOCK_ZERO,
        .depth = depth,
        .present = ret & BDRV_BLOCK_ALLOCATED,
        .has_offset = ret & BDRV_BLOCK_OFFSET_VALID,
        .offset = map,
    };
    if (file && e->has_offset) {
        bdrv_refresh_filename(file);
        e->filename = file->filename;
    }
    return 0;
}

static bool entry_mergeable(const MapEntry *curr, const MapEntry *next)
{
    if (!curr->length) {
        return false;
    }
    if (curr->zero != next->zero || curr->data != next->data ||
        curr->depth != next->depth || curr->present != next->present ||
        !curr->filename != !next->filename ||
        curr->has_offset != next->has_offset) {
        return false;
    }
    if (curr->filename && strcmp(curr->filename, next->filename)) {
        return false;
    }
    if (curr->has_offset && curr->offset + curr->length != next->offset) {
        return false;
    }
    return true;
}

/* Print e; next (the entry after it, or NULL) may be adjusted. */
static int dump_map_entry(OutputFormat output_format, MapEntry *e,
                          MapEntry *next)
{
    if (output_format == OFORMAT_HUMAN) {
        if (e->data && !e->has_offset) {
            error_report("File contains external, encrypted or compressed "
                         "clusters.");
            return -1;
        }
        if (e->data && !e->zero) {
            printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n",
                   e->start, e->length, e->has_offset ? e->offset : 0,
                   e->filename ? e->filename : "");
        }
        /*
         * The table does not tell zeroes from holes: treat every run
         * without plain data alike so that they merge.
         */
        if (next && (!next->data || next->zero)) {
            next->data = false;
            next->zero = true;
        }
        return 0;
    }

    printf("{ \"start\": %" PRId64 ", \"length\": %" PRId64 ", "
           "\"depth\": %" PRId64 ", \"present\": %s, \"zero\": %s, "
           "\"data\": %s", e->start, e->length, e->depth,
           e->present ? "true" : "false", e->zero ? "true" : "false",
           e->data ? "true" : "false");
    if (e->has_offset) {
        printf(", \"offset\": %" PRId64, e->offset);
    }
    putchar('}');
    if (next) {
        puts(",");
    }
    return 0;
}

static int img_map(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, 0, 'h'},
        {"format", required_argument, 0, 'f'},
        {"output", required_argument, 0, OPTION_OUTPUT},
        {"object", required_argument, 0, OPTION_OBJECT},
        {"image-opts", no_argument, 0, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, 0, 'U'},
        {"start-offset", required_argument, 0, 's'},
        {"max-length", required_argument, 0, 'l'},
        {0, 0, 0, 0}
    };
    OutputFormat output_format;
    const char *output = NULL, *filename;
    ImgSource src = { 0 };
    int64_t start_offset = 0, max_length = -1, length;
    MapEntry curr = { .length = 0 }, next;
    BlockBackend *blk;
    int c, ret = 0;

    while ((c = img_getopt(argc, argv, ":f:s:l:hU", long_options)) != -1) {
        switch (c) {
        case OPTION_OUTPUT:
            output = optarg;
            break;
        case 's':
            start_offset = cvtnum("start offset", optarg);
            if (start_offset < 0) {
                return 1;
            }
            break;
        case 'l':
            max_length = cvtnum("max length", optarg);
            if (max_length < 0) {
                return 1;
            }
            break;
        default:
            parse_source_opt(c, &src);
            break;
        }
    }
    filename = img_filename(argc, argv);

    if (parse_output_format(output, &output_format) < 0) {
        return 1;
    }

    blk = img_open(&src, filename, 0, false);
    if (!blk) {
        return 1;
    }

    if (output_format == OFORMAT_HUMAN) {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    } else {
        putchar('[');
    }

    length = blk_getlength(blk);
    if (length < 0) {
        error_report("Failed to get size for '%s'", filename);
        ret = -1;
        goto out;
    }
    if (max_length != -1) {
        length = MIN(start_offset + max_length, length);
    }

    curr.start = start_offset;
    while (curr.start + curr.length < length) {
        int64_t offset = curr.start + curr.length;
        /* Ask for at most 1 GiB at a time, as QEMU does. */
        int64_t n = MIN(INT64_C(1) << 30, length - offset);

        ret = get_block_status(blk_bs(blk), offset, n, &next);
        if (ret < 0) {
            error_report("Could not read file metadata: %s", strerror(-ret));
            goto out;
        }

        if (entry_mergeable(&curr, &next)) {
            curr.length += next.length;
            continue;
        }
        if (curr.length > 0) {
            ret = dump_map_entry(output_format, &curr, &next);
            if (ret < 0) {
                goto out;
            }
        }
        curr = next;
    }

    ret = dump_map_entry(output_format, &curr, NULL);
    if (output_format == OFORMAT_JSON) {
        puts("]");
    }

out:
    blk_unref(blk);
    return ret < 0;
}

/* ---- bench ---- */

typedef struct BenchData {
    BlockBackend *blk;
    uint64_t image_size;
    bool write;
    int bufsize;
    int step;
    int nrreq;              /* queue depth */
    int n;                  /* requests still to complete */
    int flush_interval;
    bool drain_on_flush;
    uint8_t *buf;
    QEMUIOVector *qiov;     /* one per queue slot */
    int next_slot;

    int in_flight;
    bool in_flush;
    uint64_t offset;
} BenchData;

static void bench_undrained_flush_cb(void *opaque, int ret)
{
    if (ret < 0) {
        error_report("Failed flush request: %s", strerror(-ret));
        exit(EXIT_FAILURE);
    }
}

/*
 * Completion of a request (or the kick-off with ret 0): account for it,
 * flush every flush_interval requests, and keep nrreq requests queued.
 */
static void bench_cb(void *opaque, int ret)
{
    BenchData *b = opaque;
    BlockAIOCB *acb;

    if (ret < 0) {
        error_report("Failed request: %s", strerror(-ret));
        exit(EXIT_FAILURE);
    }

    if (b->in_flush) {
        /* A draining flush finished: the queue is empty, refill it. */
        assert(b->in_flight == 0);
        b->in_flush = false;
    } else if (b->in_flight > 0) {
        int remaining = b->n - b->in_flight;

        b->n--;
        b->in_flight--;

        if (b->flush_interval && remaining % b->flush_interval == 0) {
            if (!b->in_flight || !b->drain_on_flush) {
                BlockCompletionFunc *cb;

                if (b->drain_on_flush) {
                    b->in_flush = true;
                    cb = bench_cb;
                } else {
                    cb = bench_undrained_flush_cb;
                }
                acb = blk_aio_flush(b->blk, cb, b);
                if (!acb) {
                    error_report("Failed to issue flush request");
                    exit(EXIT_FAILURE);
                }
            }
            if (b->drain_on_flush) {
                return;
            }
        }
    }

    while (b->n > b->in_flight && b->in_flight < b->nrreq) {
        int64_t offset = b->offset;
        QEMUIOVector *qiov = &b->qiov[b->next_slot];

        b->next_slot = (b->next_slot + 1) % b->nrreq;
        /*
         * Count the request and advance the offset before submitting: the
         * submission may complete requests and re-enter this function.
         */
        b->in_flight++;
        b->offset += b->step;
        /* QEMU divides by zero here for an empty image. */
        if (b->image_size) {
            b->offset %= b->image_size;
        }
        if (b->write) {
            acb = blk_aio_pwritev(b->blk, offset, qiov, 0, bench_cb, b);
        } else {
            acb = blk_aio_preadv(b->blk, offset, qiov, 0, bench_cb, b);
        }
        if (!acb) {
            error_report("Failed to issue request");
            exit(EXIT_FAILURE);
        }
    }
}

/* An unsigned option value no larger than max; false if it is not one. */
static bool parse_ulong(const char *str, unsigned long max,
                        unsigned long *res)
{
    return qemu_strtoul(str, NULL, 0, res) == 0 && *res <= max;
}

static int img_bench(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, 0, 'h'},
        {"flush-interval", required_argument, 0, OPTION_FLUSH_INTERVAL},
        {"image-opts", no_argument, 0, OPTION_IMAGE_OPTS},
        {"pattern", required_argument, 0, OPTION_PATTERN},
        {"no-drain", no_argument, 0, OPTION_NO_DRAIN},
        {"force-share", no_argument, 0, 'U'},
        {0, 0, 0, 0}
    };
    const char *filename;
    ImgSource src = { 0 };
    bool is_write = false, drain_on_flush = true, writethrough = false;
    int count = 75000, depth = 64, pattern = 0, flush_interval = 0;
    int64_t offset = 0, image_size;
    size_t bufsize = 4096, step = 0;
    BlockBackend *blk = NULL;
    BenchData data = { 0 };
    struct timeval t1, t2;
    unsigned long res;
    int flags = 0;
    int c, ret = 0;

    while ((c = img_getopt(argc, argv, ":hc:d:f:ni:o:qs:S:t:wU",
                           long_options)) != -1) {
        switch (c) {
        case 'c':
            if (!parse_ulong(optarg, INT_MAX, &res)) {
                error_report("Invalid request count specified");
                return 1;
            }
            count = res;
            break;
        case 'd':
            /* QEMU 7.2 accepts 0 and then waits forever; refuse it. */
            if (!parse_ulong(optarg, INT_MAX, &res) || !res) {
                error_report("Invalid queue depth specified");
                return 1;
            }
            depth = res;
            break;
        case 'n':
            flags |= BDRV_O_NATIVE_AIO;
            break;
        case 'i':
            if (bdrv_parse_aio(optarg, &flags) < 0) {
                error_report("Invalid aio option: %s", optarg);
                return 1;
            }
            break;
        case 'o':
            offset = cvtnum("offset", optarg);
            if (offset < 0) {
                return 1;
            }
            break;
        case 'q':
            /* Accepted for symmetry; bench prints its report anyway. */
            break;
        case 's': {
            int64_t sval = cvtnum_full("buffer size", optarg, 0, INT_MAX);

            if (sval < 0) {
                return 1;
            }
            bufsize = sval;
            break;
        }
        case 'S': {
            int64_t sval = cvtnum_full("step_size", optarg, 0, INT_MAX);

            if (sval < 0) {
                return 1;
            }
            step = sval;
            break;
        }
        case 't':
            if (bdrv_parse_cache_mode(optarg, &flags, &writethrough) < 0) {
                error_report("Invalid cache mode");
                return 1;
            }
            break;
        case 'w':
            flags |= BDRV_O_RDWR;
            is_write = true;
            break;
        case OPTION_PATTERN:
            if (!parse_ulong(optarg, 0xff, &res)) {
                error_report("Invalid pattern byte specified");
                return 1;
            }
            pattern = res;
            break;
        case OPTION_FLUSH_INTERVAL:
            if (!parse_ulong(optarg, INT_MAX, &res)) {
                error_report("Invalid flush interval specified");
                return 1;
            }
            flush_interval = res;
            break;
        case OPTION_NO_DRAIN:
            drain_on_flush = false;
            break;
        default:
            parse_source_opt(c, &src);
            break;
        }
    }
    filename = img_filename(argc, argv);

    if (!is_write && flush_interval) {
        error_report("--flush-interval is only available in write tests");
        return 1;
    }
    if (flush_interval && flush_interval < depth) {
        error_report("Flush interval can't be smaller than depth");
        return 1;
    }

    blk = img_open(&src, filename, flags, writethrough);
    if (!blk) {
        return 1;
    }

    image_size = blk_getlength(blk);
    if (image_size < 0) {
        ret = image_size;
        goto out;
    }

    data = (BenchData) {
        .blk            = blk,
        .image_size     = image_size,
        .bufsize        = bufsize,
        .step           = step ?: bufsize,
        .nrreq          = depth,
        .n              = count,
        .offset         = offset,
        .write          = is_write,
        .flush_interval = flush_interval,
        .drain_on_flush = drain_on_flush,
    };
    printf("Sending %d %s requests, %d bytes each, %d in parallel "
           "(starting at offset %" PRId64 ", step size %d)\n",
           data.n, data.write ? "write" : "read", data.bufsize, data.nrreq,
           offset, data.step);
    if (flush_interval) {
        printf("Sending flush every %d requests\n", flush_interval);
    }

    /* One buffer per queue slot, so that concurrent reads do not share. */
    data.buf = blk_blockalign(blk, (size_t)data.nrreq * data.bufsize ?: 1);
    memset(data.buf, pattern, (size_t)data.nrreq * data.bufsize);
    data.qiov = g_new(QEMUIOVector, data.nrreq);
    for (int i = 0; i < data.nrreq; i++) {
        qemu_iovec_init(&data.qiov[i], 1);
        qemu_iovec_add(&data.qiov[i], data.buf + (size_t)i * data.bufsize,
                       data.bufsize);
    }

    gettimeofday(&t1, NULL);
    bench_cb(&data, 0);
    /*
     * Only block completions matter here: poll the node's context
     * directly rather than through a GLib main-loop iteration.
     */
    while (data.n > 0) {
        aio_poll(blk_get_aio_context(blk), true);
    }
    gettimeofday(&t2, NULL);

    printf("Run completed in %3.3f seconds.\n",
           (t2.tv_sec - t1.tv_sec) +
           ((double)(t2.tv_usec - t1.tv_usec) / 1000000));

out:
    if (data.qiov) {
        for (int i = 0; i < data.nrreq; i++) {
            qemu_iovec_destroy(&data.qiov[i]);
        }
        g_free(data.qiov);
    }
    qemu_vfree(data.buf);
    blk_unref(blk);
    return ret ? 1 : 0;
}

/* ---- Dispatch ---- */

/* In QEMU 7.2's order, which is also the order of the help text. */
static const ImgCmd img_cmds[] = {
    { "amend", NULL,
      "amend [--object objectdef] [--image-opts] [-p] [-q] [-f fmt] [-t cache]"
      " [--force] -o options filename" },
    { "bench", img_bench,
      "bench [-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval]"
      " [-i aio] [-n] [--no-drain] [-o offset] [--pattern=pattern] [-q] [-s"
      " buffer_size] [-S step_size] [-t cache] [-w] [-U] filename" },
    { "bitmap", NULL,
      "bitmap (--merge SOURCE | --add | --remove | --clear | --enable |"
      " --disable)... [-b source_file [-F source_fmt]] [-g granularity]"
      " [--object objectdef] [--image-opts | -f fmt] filename bitmap" },
    { "check", img_check,
      "check [--object objectdef] [--image-opts] [-q] [-f fmt] [--output=ofmt]"
      " [-r [leaks | all]] [-T src_cache] [-U] filename" },
    { "commit", NULL,
      "commit [--object objectdef] [--image-opts] [-q] [-f fmt] [-t cache] [-b"
      " base] [-r rate_limit] [-d] [-p] filename" },
    { "compare", NULL,
      "compare [--object objectdef] [--image-opts] [-f fmt] [-F fmt] [-T"
      " src_cache] [-p] [-q] [-s] [-U] filename1 filename2" },
    { "convert", NULL,
      "convert [--object objectdef] [--image-opts] [--target-image-opts]"
      " [--target-is-zero] [--bitmaps] [-U] [-C] [-c] [-p] [-q] [-n] [-f fmt]"
      " [-t cache] [-T src_cache] [-O output_fmt] [-B backing_file [-F"
      " backing_fmt]] [-o options] [-l snapshot_param] [-S sparse_size] [-r"
      " rate_limit] [-m num_coroutines] [-W] [--salvage] filename [filename2"
      " [...]] output_filename" },
    { "create", img_create,
      "create [--object objectdef] [-q] [-f fmt] [-b backing_file [-F"
      " backing_fmt]] [-u] [-o options] filename [size]" },
    { "dd", NULL,
      "dd [--image-opts] [-U] [-f fmt] [-O output_fmt] [bs=block_size]"
      " [count=blocks] [skip=blocks] if=input of=output" },
    { "info", img_info,
      "info [--object objectdef] [--image-opts] [-f fmt] [--output=ofmt]"
      " [--backing-chain] [-U] filename" },
    { "map", img_map,
      "map [--object objectdef] [--image-opts] [-f fmt]"
      " [--start-offset=offset] [--max-length=len] [--output=ofmt] [-U]"
      " filename" },
    { "measure", NULL,
      "measure [--output=ofmt] [-O output_fmt] [-o options] [--size N |"
      " [--object objectdef] [--image-opts] [-f fmt] [-l snapshot_param]"
      " filename]" },
    { "snapshot", NULL,
      "snapshot [--object objectdef] [--image-opts] [-U] [-q] [-l | -a"
      " snapshot | -c snapshot | -d snapshot] filename" },
    { "rebase", NULL,
      "rebase [--object objectdef] [--image-opts] [-U] [-q] [-f fmt] [-t"
      " cache] [-T src_cache] [-p] [-u] -b backing_file [-F backing_fmt]"
      " filename" },
    { "resize", NULL,
      "resize [--object objectdef] [--image-opts] [-f fmt]"
      " [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size" },
    { NULL, NULL, NULL }
};

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {"trace", required_argument, NULL, 'T'},
        {0, 0, 0, 0}
    };
    const ImgCmd *cmd;
    const char *cmdname;
    Error *local_err = NULL;
    int c, ret;

    /* A reader that goes away (qemu-img map | head) is not an error. */
    signal(SIGPIPE, SIG_IGN);

    error_init(argv[0]);
    if (qemu_init_main_loop(&local_err) < 0) {
        error_report_err(local_err);
        exit(EXIT_FAILURE);
    }
    bdrv_init();

    if (argc < 2) {
        error_exit("Not enough arguments");
    }

    while ((c = img_getopt(argc, argv, "+:hVT:", long_options)) != -1) {
        switch (c) {
        case 'V':
            printf(QEMU_IMG_VERSION);
            return 0;
        case 'T':
            trace_opt_parse(optarg);
            break;
        }
    }

    if (optind >= argc) {
        return 0;
    }
    cmdname = argv[optind];
    trace_init_file();
    argc -= optind;
    argv += optind;
    /* Restart getopt for the command's own options. */
    optind = 0;

    for (cmd = img_cmds; cmd->name; cmd++) {
        if (cmd->handler && !strcmp(cmdname, cmd->name)) {
            ret = cmd->handler(argc, argv);
            user_creatable_cleanup();
            return ret;
        }
    }
    error_exit("Command not found: %s", cmdname);
}
