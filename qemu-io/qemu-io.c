/*
 * qemu-io: exercise a block device from the command line.
 *
 * Options, start-up, the -c list and the interactive loop, with QEMU
 * 7.2's behaviour and texts (docs/qemu-io.rst).  The commands live in
 * qemu-io-cmds.c.
 *
 * Output discipline: stdout is written through stdio only and flushed when
 * a prompt is shown, before sigraise and at exit, never otherwise;
 * stderr is unbuffered.  In a pipe every stderr line of a run therefore
 * comes before the buffered stdout, which golden files record.
 */
#include "qemu/osdep.h"

#include <getopt.h>
#include <signal.h>

#ifdef CONFIG_LIBEDIT
#include <editline/readline.h>
#endif

#include "block/block-backend.h"
#include "block/block_int.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "qom/object_interfaces.h"
#include "trace/control.h"
#include "qemu-io.h"

/* fgets buffer for commands from a pipe or file: longer lines split */
#define MAXREADLINESZ 1024

static BlockBackend *qemuio_blk;
static bool quit_qemu_io;
/* --image-opts: image names are key=value option strings */
static bool imageOpts;

/* The -c strings, in order (pointers into argv). */
static GPtrArray *cmdline;

/* Options of the image named on the command line (--image-opts). */
static QemuOptsList file_opts = {
    .name = "file",
    .implied_opt_name = "file",
    .head = QTAILQ_HEAD_INITIALIZER(file_opts.head),
    .desc = {
        /* no elements => accept any params */
        { /* end of list */ }
    },
};

/* The -o options (and --image-opts path) of one open command, merged. */
static QemuOptsList empty_opts = {
    .name = "drive",
    .merge_lists = true,
    .head = QTAILQ_HEAD_INITIALIZER(empty_opts.head),
    .desc = {
        /* no elements => accept any params */
        { /* end of list */ }
    },
};

/*
 * Open the image name (or the one opts describe, for name NULL) as the
 * current one; takes ownership of opts.  Returns 0, or 1 after printing
 * why not.
 */
static int openfile(const char *name, int flags, bool writethrough,
                    bool force_share, QDict *opts)
{
    Error *err = NULL;

    if (qemuio_blk) {
        error_report("file open already, try 'help close'");
        qobject_unref(opts);
        return 1;
    }

    if (force_share) {
        if (!opts) {
            opts = qdict_new();
        }
        if (qdict_haskey(opts, BDRV_OPT_FORCE_SHARE) &&
            strcmp(qdict_get_str(opts, BDRV_OPT_FORCE_SHARE), "on")) {
            error_report("-U conflicts with image options");
            qobject_unref(opts);
            return 1;
        }
        qdict_put_str(opts, BDRV_OPT_FORCE_SHARE, "on");
    }

    qemuio_blk = blk_new_open(name, NULL, opts, flags, &err);
    if (!qemuio_blk) {
        error_reportf_err(err, "can't open%s%s: ", name ? " device " : "",
                          name ?: "");
        return 1;
    }
    blk_set_enable_write_cache(qemuio_blk, !writethrough);
    return 0;
}

/* ---- open, close, quit ---- */

static const cmdinfo_t open_cmd;

/*
 * open's options: updates *flags, *writethrough and *force_share and
 * collects the -o options (and with --image-opts the image's) in
 * empty_opts, which the caller resets.  optind is left at the path.
 */
static int open_parse_args(int argc, char **argv, int *flags,
                           bool *writethrough, bool *force_share)
{
    bool readonly = false;
    int c;

    while ((c = getopt(argc, argv, "snCro:ki:t:d:U")) != -1) {
        switch (c) {
        case 's':
            *flags |= BDRV_O_SNAPSHOT;
            break;
        case 'n':
            *flags |= BDRV_O_NOCACHE;
            *writethrough = false;
            break;
        case 'C':
            *flags |= BDRV_O_COPY_ON_READ;
            break;
        case 'r':
            readonly = true;
            break;
        case 'k':
            *flags |= BDRV_O_NATIVE_AIO;
            break;
        case 't':
            if (bdrv_parse_cache_mode(optarg, flags, writethrough) < 0) {
                error_report("Invalid cache option: %s", optarg);
                return -EINVAL;
            }
            break;
        case 'd':
            if (bdrv_parse_discard_flags(optarg, flags) < 0) {
                error_report("Invalid discard option: %s", optarg);
                return -EINVAL;
            }
            break;
        case 'i':
            if (bdrv_parse_aio(optarg, flags) < 0) {
                error_report("Invalid aio option: %s", optarg);
                return -EINVAL;
            }
            break;
        case 'o':
            if (imageOpts) {
                printf("--image-opts and 'open -o' are mutually exclusive\n");
                return -EINVAL;
            }
            if (!qemu_opts_parse_noisily(&empty_opts, optarg, false)) {
                return -EINVAL;
            }
            break;
        case 'U':
            *force_share = true;
            break;
        default:
            qemuio_command_usage(&open_cmd);
            return -EINVAL;
        }
    }

    if (!readonly) {
        *flags |= BDRV_O_RDWR;
    }

    if (imageOpts && optind == argc - 1) {
        if (!qemu_opts_parse_noisily(&empty_opts, argv[optind], false)) {
            return -EINVAL;
        }
        optind++;
    }
    return 0;
}

static int open_f(BlockBackend *blk, int argc, char **argv)
{
    int flags = BDRV_O_UNMAP;
    bool writethrough = true, force_share = false;
    QemuOpts *qopts;
    QDict *opts;
    int ret;

    ret = open_parse_args(argc, argv, &flags, &writethrough, &force_share);
    if (ret < 0) {
        qemu_opts_reset(&empty_opts);
        return ret;
    }
    qopts = qemu_opts_find(&empty_opts, NULL);
    opts = qopts ? qemu_opts_to_qdict(qopts, NULL) : NULL;
    qemu_opts_reset(&empty_opts);

    if (optind == argc - 1) {
        ret = openfile(argv[optind], flags, writethrough, force_share, opts);
    } else if (optind == argc) {
        ret = openfile(NULL, flags, writethrough, force_share, opts);
    } else {
        qobject_unref(opts);
        qemuio_command_usage(&open_cmd);
        return -EINVAL;
    }
    return ret ? -EINVAL : 0;
}

static const cmdinfo_t open_cmd = {
    .name       = "open",
    .altname    = "o",
    .cfunc      = open_f,
    .argmin     = 1,
    .argmax     = -1,
    .flags      = CMD_NOFILE_OK,
    .args       = "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]",
    .oneline    = "open the file specified by path",
    .help       =
"\n"
" opens a new file in the requested mode\n"
"\n"
" Example:\n"
" 'open -n -o driver=raw /tmp/data' - opens raw data file read-write,"
" uncached\n"
"\n"
" Opens a file for subsequent use by all of the other qemu-io commands.\n"
" -r, -- open file read-only\n"
" -s, -- use snapshot file\n"
" -C, -- use copy-on-read\n"
" -n, -- disable host cache, short for -t none\n"
" -U, -- force shared permissions\n"
" -k, -- use kernel AIO implementation (Linux only, prefer use of -i)\n"
" -i, -- use AIO mode (threads, native or io_uring)\n"
" -t, -- use the given cache mode for the image\n"
" -d, -- use the given discard mode for the image\n"
" -o, -- options to be given to the block driver\n",
};

static int close_f(BlockBackend *blk, int argc, char **argv)
{
    blk_unref(qemuio_blk);
    qemuio_blk = NULL;
    return 0;
}

static const cmdinfo_t close_cmd = {
    .name       = "close",
    .altname    = "c",
    .cfunc      = close_f,
    .oneline    = "close the current open file",
};

static int quit_f(BlockBackend *blk, int argc, char **argv)
{
    quit_qemu_io = true;
    return 0;
}

static const cmdinfo_t quit_cmd = {
    .name       = "quit",
    .altname    = "q",
    .cfunc      = quit_f,
    .argmin     = -1,
    .argmax     = -1,
    .flags      = CMD_FLAG_GLOBAL,
    .oneline    = "exit the program",
};

/* ---- Input ---- */

static const char *get_prompt(void)
{
    static char prompt[FILENAME_MAX + 3];

    if (!prompt[0]) {
        snprintf(prompt, sizeof(prompt), "%s> ", error_get_progname());
    }
    return prompt;
}

/* stdin has data (or EOF): the loop may read a line now. */
static void prep_fetchline(void *opaque)
{
    bool *fetchable = opaque;

    qemu_set_fd_handler(STDIN_FILENO, NULL, NULL, NULL);
    *fetchable = true;
}

/* One line from a pipe or file, without its '\n'; NULL at EOF. */
static char *fetchline(void)
{
    char *line = g_malloc(MAXREADLINESZ);
    size_t len;

    if (!fgets(line, MAXREADLINESZ, stdin)) {
        g_free(line);
        return NULL;
    }
    len = strlen(line);
    if (len && line[len - 1] == '\n') {
        line[len - 1] = '\0';
    }
    return line;
}

/*
 * Commands from a pipe or file.  The prompt is printed and stdout flushed
 * before each line is read, so a reader that waits for "qemu-io> " sees
 * the complete output of the previous command.  The main loop runs while
 * waiting: aio completions print as they come.
 */
static int command_loop_stdio(void)
{
    bool fetchable = false, prompted = false;
    int last_error = 0;

    while (!quit_qemu_io) {
        g_autofree char *input = NULL;
        int ret;

        if (!prompted) {
            printf("%s", get_prompt());
            fflush(stdout);
            qemu_set_fd_handler(STDIN_FILENO, prep_fetchline, NULL,
                                &fetchable);
            prompted = true;
        }

        main_loop_wait(false);
        if (!fetchable) {
            continue;
        }

        input = fetchline();
        if (!input) {
            break;
        }
        ret = qemuio_command(qemuio_blk, input);
        if (ret < 0) {
            last_error = ret;
        }
        prompted = false;
        fetchable = false;
    }
    qemu_set_fd_handler(STDIN_FILENO, NULL, NULL, NULL);
    return last_error;
}

#ifdef CONFIG_LIBEDIT
/* State between libedit's callbacks and the terminal loop. */
static struct {
    char *line;         /* a complete line, owned */
    bool have_line;     /* line is valid (NULL: EOF) */
} edit;

static void edit_line_cb(char *line)
{
    edit.line = line;
    edit.have_line = true;
    /* No new prompt until the command has run and printed its output. */
    rl_callback_handler_remove();
    qemu_set_fd_handler(STDIN_FILENO, NULL, NULL, NULL);
}

static void edit_read_char(void *opaque)
{
    rl_callback_read_char();
}

/* TAB completion of the first word: the command names. */
static void add_completion(const char *cmd, void *opaque)
{
    g_ptr_array_add(opaque, g_strdup(cmd));
}

static char *complete_command_name(const char *text, int state)
{
    static GPtrArray *matches;
    static guint next;

    if (!state) {
        if (matches) {
            g_ptr_array_free(matches, true);
        }
        matches = g_ptr_array_new_with_free_func(g_free);
        qemuio_complete_command(text, add_completion, matches);
        next = 0;
    }
    if (next < matches->len) {
        /* libedit frees what we return */
        return strdup(g_ptr_array_index(matches, next++));
    }
    g_ptr_array_free(matches, true);
    matches = NULL;
    return NULL;
}

static char **edit_complete(const char *text, int start, int end)
{
    /* Arguments are not completed, not even as file names. */
    rl_attempted_completion_over = 1;
    if (start != 0) {
        return NULL;
    }
    return rl_completion_matches(text, complete_command_name);
}

/*
 * Commands from a terminal, with line editing, history and completion.
 * As in QEMU, end-of-file (Ctrl-D) prints a newline and ends the loop.
 */
static int command_loop_tty(void)
{
    int last_error = 0;

    rl_readline_name = error_get_progname();
    rl_attempted_completion_function = edit_complete;
    while (!quit_qemu_io) {
        int ret;

        edit.have_line = false;
        fflush(stdout);
        rl_callback_handler_install(get_prompt(), edit_line_cb);
        qemu_set_fd_handler(STDIN_FILENO, edit_read_char, NULL, NULL);
        while (!edit.have_line) {
            main_loop_wait(false);
        }
        if (!edit.line) {
            printf("\n");
            break;
        }
        if (edit.line[0]) {
            add_history(edit.line);
        }
        ret = qemuio_command(qemuio_blk, edit.line);
        free(edit.line);
        edit.line = NULL;
        if (ret < 0) {
            last_error = ret;
        }
    }
    clear_history();
    return last_error;
}
#endif

/* Run the -c list, or else commands from stdin; the last failure, or 0. */
static int command_loop(void)
{
    int last_error = 0;
    guint i;

    if (cmdline) {
        for (i = 0; !quit_qemu_io && i < cmdline->len; i++) {
            int ret = qemuio_command(qemuio_blk, cmdline->pdata[i]);

            if (ret < 0) {
                last_error = ret;
            }
        }
        return last_error;
    }
#ifdef CONFIG_LIBEDIT
    if (isatty(STDIN_FILENO)) {
        return command_loop_tty();
    }
#endif
    return command_loop_stdio();
}

/* ---- Options ---- */

static void usage(const char *name)
{
    printf(
"Usage: %s [OPTIONS]... [-c STRING]... [file]\n"
"QEMU Disk exerciser\n"
"\n"
"  --object OBJECTDEF   define an object such as 'secret' for\n"
"                       passwords and/or encryption keys\n"
"  --image-opts         treat file as option string\n"
"  -c, --cmd STRING     execute command with its arguments\n"
"                       from the given string\n"
"  -f, --format FMT     specifies the block driver to use\n"
"  -r, --read-only      export read-only\n"
"  -s, --snapshot       use snapshot file\n"
"  -n, --nocache        disable host cache, short for -t none\n"
"  -C, --copy-on-read   enable copy-on-read\n"
"  -m, --misalign       misalign allocations for O_DIRECT\n"
"  -k, --native-aio     use kernel AIO implementation\n"
"                       (Linux only, prefer use of -i)\n"
"  -i, --aio=MODE       use AIO mode (threads, native or io_uring)\n"
"  -t, --cache=MODE     use the given cache mode for the image\n"
"  -d, --discard=MODE   use the given discard mode for the image\n"
"  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                       specify tracing options\n"
"                       see qemu-img(1) man page for full description\n"
"  -U, --force-share    force shared permissions\n"
"  -h, --help           display this help and exit\n"
"  -V, --version        output version information and exit\n"
"\n"
"See '%s -c help' for information on available commands.\n"
"\n"
"See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
"More information on the QEMU project at <https://qemu.org>.\n",
           name, name);
}

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS = 257,
};

int main(int argc, char **argv)
{
    static const char sopt[] = "hVc:d:f:rsnCmki:t:T:U";
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "cmd", required_argument, NULL, 'c' },
        { "format", required_argument, NULL, 'f' },
        { "read-only", no_argument, NULL, 'r' },
        { "snapshot", no_argument, NULL, 's' },
        { "nocache", no_argument, NULL, 'n' },
        { "copy-on-read", no_argument, NULL, 'C' },
        { "misalign", no_argument, NULL, 'm' },
        { "native-aio", no_argument, NULL, 'k' },
        { "aio", required_argument, NULL, 'i' },
        { "discard", required_argument, NULL, 'd' },
        { "cache", required_argument, NULL, 't' },
        { "trace", required_argument, NULL, 'T' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    int flags = BDRV_O_UNMAP;
    bool readonly = false, writethrough = true, force_share = false;
    const char *format = NULL;
    QDict *opts = NULL;
    int c, ret;

    signal(SIGPIPE, SIG_IGN);
    error_init(argv[0]);
    bdrv_init();

    while ((c = getopt_long(argc, argv, sopt, lopt, NULL)) != -1) {
        switch (c) {
        case 's':
            flags |= BDRV_O_SNAPSHOT;
            break;
        case 'n':
            flags |= BDRV_O_NOCACHE;
            writethrough = false;
            break;
        case 'C':
            flags |= BDRV_O_COPY_ON_READ;
            break;
        case 'd':
            if (bdrv_parse_discard_flags(optarg, &flags) < 0) {
                error_report("Invalid discard option: %s", optarg);
                exit(1);
            }
            break;
        case 'f':
            format = optarg;
            break;
        case 'c':
            if (!cmdline) {
                cmdline = g_ptr_array_new();
            }
            g_ptr_array_add(cmdline, optarg);
            break;
        case 'r':
            readonly = true;
            break;
        case 'm':
            qemuio_misalign = true;
            break;
        case 'k':
            flags |= BDRV_O_NATIVE_AIO;
            break;
        case 'i':
            if (bdrv_parse_aio(optarg, &flags) < 0) {
                error_report("Invalid aio option: %s", optarg);
                exit(1);
            }
            break;
        case 't':
            if (bdrv_parse_cache_mode(optarg, &flags, &writethrough) < 0) {
                error_report("Invalid cache option: %s", optarg);
                exit(1);
            }
            break;
        case 'T':
            trace_opt_parse(optarg);
            break;
        case 'V':
            printf("%s version " QEMU_VERSION " (qblock " QBLOCK_VERSION
                   ")\nCopyright (c) 2026 the qblock developers\n",
                   error_get_progname());
            exit(0);
        case 'h':
            usage(error_get_progname());
            exit(0);
        case 'U':
            force_share = true;
            break;
        case OPTION_OBJECT:
            user_creatable_process_cmdline(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            imageOpts = true;
            break;
        default:
            usage(error_get_progname());
            exit(1);
        }
    }

    if (argc - optind > 1) {
        usage(error_get_progname());
        exit(1);
    }
    if (format && imageOpts) {
        error_report("--image-opts and -f are mutually exclusive");
        exit(1);
    }

    qemu_init_main_loop(&error_fatal);
    trace_init_file();

    qemuio_init_commands();
    qemuio_add_command(&quit_cmd);
    qemuio_add_command(&open_cmd);
    qemuio_add_command(&close_cmd);

    if (!readonly) {
        flags |= BDRV_O_RDWR;
    }

    if (argc - optind == 1) {
        if (imageOpts) {
            QemuOpts *qopts = qemu_opts_parse_noisily(&file_opts,
                                                      argv[optind], false);

            if (!qopts) {
                exit(1);
            }
            opts = qemu_opts_to_qdict(qopts, NULL);
            qemu_opts_del(qopts);
            if (openfile(NULL, flags, writethrough, force_share, opts)) {
                exit(1);
            }
        } else {
            if (format) {
                opts = qdict_new();
                qdict_put_str(opts, "driver", format);
            }
            if (openfile(argv[optind], flags, writethrough, force_share,
                         opts)) {
                exit(1);
            }
        }
    }

    ret = command_loop();

    /* Let outstanding aio requests complete (and print) before exit. */
    bdrv_drain_all();
    blk_unref(qemuio_blk);
    qemuio_blk = NULL;
    bdrv_close_all();

    if (cmdline) {
        g_ptr_array_free(cmdline, true);
    }
    user_creatable_cleanup();
    return ret < 0 ? 1 : 0;
}
