/*
 * qemu-io's commands: the command table, the dispatcher and the commands.
 *
 * Every text, check and check order here is QEMU 7.2's (see
 * docs/qemu-io.rst): scripts and iotests golden files compare qemu-io's
 * output byte for byte, including which stream a line goes to.  Results,
 * statistics and most command errors go to stdout through stdio; the
 * dispatcher's errors, getopt's complaints and error_report() messages go
 * to stderr.
 */
#include "qemu/osdep.h"

#include <signal.h>

#include "block/block-backend.h"
#include "block/block_int.h"
#include "block/qapi.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "qemu/timer.h"
#include "qemu-io.h"

/* Offset of I/O buffers from an aligned address with -m. */
#define MISALIGN_OFFSET 16

bool qemuio_misalign;

/* Sorted by name, as "help" lists them. */
static const cmdinfo_t *cmdtab[32];
static int ncmds;

static int compare_cmdname(const void *a, const void *b)
{
    const cmdinfo_t *const *ca = a;
    const cmdinfo_t *const *cb = b;

    return strcmp((*ca)->name, (*cb)->name);
}

void qemuio_add_command(const cmdinfo_t *ci)
{
    /* A command that takes permissions needs an image to take them on. */
    assert(!ci->perm || !(ci->flags & (CMD_FLAG_GLOBAL | CMD_NOFILE_OK)));
    assert(ncmds < ARRAY_SIZE(cmdtab));
    cmdtab[ncmds++] = ci;
    qsort(cmdtab, ncmds, sizeof(cmdtab[0]), compare_cmdname);
}

void qemuio_command_usage(const cmdinfo_t *ci)
{
    printf("%s %s -- %s\n", ci->name, ci->args, ci->oneline);
}

static const cmdinfo_t *find_command(const char *cmd)
{
    int i;

    for (i = 0; i < ncmds; i++) {
        if (!strcmp(cmdtab[i]->name, cmd) ||
            (cmdtab[i]->altname && !strcmp(cmdtab[i]->altname, cmd))) {
            return cmdtab[i];
        }
    }
    return NULL;
}

void qemuio_complete_command(const char *input,
                             void (*fn)(const char *cmd, void *opaque),
                             void *opaque)
{
    size_t len = strlen(input);
    int i;

    for (i = 0; i < ncmds; i++) {
        if (!strncmp(input, cmdtab[i]->name, len)) {
            fn(cmdtab[i]->name, opaque);
        }
    }
}

/*
 * Restart getopt(3) for a new argument vector.  glibc re-initialises
 * (and so permutes options and positional arguments again) for optind 0.
 */
static void reset_getopt(void)
{
    optind = 0;
}

/*
 * The checks that come before the command's own parsing: an image is
 * open if needed, the word count is in range and the extra permissions
 * the command needs are granted.  Permissions once taken are kept.
 */
static int run_command(BlockBackend *blk, const cmdinfo_t *ct, int argc,
                       char **argv)
{
    const char *cmd = argv[0];
    int nargs = argc - 1;

    if (!(ct->flags & (CMD_FLAG_GLOBAL | CMD_NOFILE_OK)) && !blk) {
        fprintf(stderr, "no file open, try 'help open'\n");
        return -EINVAL;
    }

    if (nargs < ct->argmin || (ct->argmax != -1 && nargs > ct->argmax)) {
        if (ct->argmax == -1) {
            fprintf(stderr, "bad argument count %d to %s, expected at least "
                    "%d arguments\n", nargs, cmd, ct->argmin);
        } else if (ct->argmin == ct->argmax) {
            fprintf(stderr, "bad argument count %d to %s, expected %d "
                    "arguments\n", nargs, cmd, ct->argmin);
        } else {
            fprintf(stderr, "bad argument count %d to %s, expected between "
                    "%d and %d arguments\n", nargs, cmd, ct->argmin,
                    ct->argmax);
        }
        return -EINVAL;
    }

    if (ct->perm && blk_is_available(blk)) {
        uint64_t perm, shared;

        blk_get_perm(blk, &perm, &shared);
        if (ct->perm & ~perm) {
            Error *err = NULL;
            int ret = blk_set_perm(blk, perm | ct->perm, shared, &err);

            if (ret < 0) {
                error_report_err(err);
                return ret;
            }
        }
    }

    reset_getopt();
    return ct->cfunc(blk, argc, argv);
}

/*
 * Split line in place on single spaces; empty words (from runs of spaces)
 * are dropped.  Tabs and quotes are ordinary characters.
 */
static char **split_words(char *line, int *count)
{
    GPtrArray *words = g_ptr_array_new();
    char *p;

    while ((p = qemu_strsep(&line, " "))) {
        if (*p) {
            g_ptr_array_add(words, p);
        }
    }
    *count = words->len;
    g_ptr_array_add(words, NULL);
    return (char **)g_ptr_array_free(words, false);
}

int qemuio_command(BlockBackend *blk, const char *cmd)
{
    g_autofree char *input = g_strdup(cmd);
    g_autofree char **argv = NULL;
    const cmdinfo_t *ct;
    int argc;

    argv = split_words(input, &argc);
    if (!argc) {
        return 0;
    }
    ct = find_command(argv[0]);
    if (!ct) {
        fprintf(stderr, "command \"%s\" not found\n", argv[0]);
        return -EINVAL;
    }
    return run_command(blk, ct, argc, argv);
}

/* ---- Number parsing and formatting ---- */

/* A size or offset (qemu_strtosz syntax), or -EINVAL / -ERANGE. */
static int64_t cvtnum(const char *s)
{
    uint64_t value;
    int err = qemu_strtosz(s, NULL, &value);

    if (err < 0) {
        return err;
    }
    if (value > INT64_MAX) {
        return -ERANGE;
    }
    return value;
}

static void print_cvtnum_err(int64_t rc, const char *arg)
{
    switch (rc) {
    case -EINVAL:
        printf("Parsing error: non-numeric argument,"
               " or extraneous/unrecognized suffix -- %s\n", arg);
        break;
    case -ERANGE:
        printf("Parsing error: argument too large -- %s\n", arg);
        break;
    default:
        printf("Parsing error: %s\n", arg);
    }
}

/* cvtnum() of a command's argument, with QEMU's message if it is invalid. */
static int64_t cvtnum_arg(const char *arg)
{
    int64_t value = cvtnum(arg);

    if (value < 0) {
        print_cvtnum_err(value, arg);
    }
    return value;
}

/*
 * The "off len" arguments at argv.  Unless uncapped, len may not exceed
 * BDRV_REQUEST_MAX_BYTES; cap_hint says how to lift the cap in the message.
 */
static int parse_off_len(char **argv, int64_t *offset, int64_t *len,
                         bool uncapped, const char *cap_hint)
{
    int64_t off = cvtnum_arg(argv[0]);
    int64_t n;

    if (off < 0) {
        return off;
    }
    n = cvtnum_arg(argv[1]);
    if (n < 0) {
        return n;
    }
    if (!uncapped && n > BDRV_REQUEST_MAX_BYTES) {
        printf("length cannot exceed %" PRIu64 "%s, given %s\n",
               (uint64_t)BDRV_REQUEST_MAX_BYTES, cap_hint, argv[1]);
        return -EINVAL;
    }
    *offset = off;
    *len = n;
    return 0;
}

/*
 * A byte value for -P: strtol base 0 (so decimal, 0x hex and 0 octal),
 * 0..255, nothing after it.  -1 (and a message) if invalid.
 */
static int parse_pattern(const char *arg)
{
    char *end;
    long pattern = strtol(arg, &end, 0);

    if (pattern < 0 || pattern > UCHAR_MAX || *end) {
        printf("%s is not a valid pattern byte\n", arg);
        return -1;
    }
    return pattern;
}

/*
 * value with a binary unit and three decimals ("1.500 MiB"), or "%f
 * bytes" below 1 KiB; a ".000..." tail is dropped ("1 KiB", "512 bytes").
 */
static void cvtstr(double value, char *str, size_t size)
{
    static const struct {
        double scale;
        const char *unit;
    } units[] = {
        { 0x1p60, " EiB" }, { 0x1p50, " PiB" }, { 0x1p40, " TiB" },
        { 0x1p30, " GiB" }, { 0x1p20, " MiB" }, { 0x1p10, " KiB" },
    };
    const char *unit = " bytes";
    char *zeroes;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(units); i++) {
        if (value >= units[i].scale) {
            break;
        }
    }
    if (i < ARRAY_SIZE(units)) {
        snprintf(str, size, "%.3f", value / units[i].scale);
        unit = units[i].unit;
    } else {
        snprintf(str, size, "%f", value);
    }
    zeroes = strstr(str, ".000");
    if (zeroes) {
        *zeroes = '\0';
    }
    g_strlcat(str, unit, size);
}

static struct timespec clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

/*
 * end - start.  Never zero, so that rates stay finite numbers the iotests
 * filter recognises.
 */
static struct timespec tsub(struct timespec end, struct timespec start)
{
    struct timespec d = {
        .tv_sec = end.tv_sec - start.tv_sec,
        .tv_nsec = end.tv_nsec - start.tv_nsec,
    };

    if (d.tv_nsec < 0) {
        d.tv_sec--;
        d.tv_nsec += NANOSECONDS_PER_SECOND;
    }
    if (d.tv_sec < 0 || (d.tv_sec == 0 && d.tv_nsec == 0)) {
        d.tv_sec = 0;
        d.tv_nsec = 1;
    }
    return d;
}

static double tdiv(double value, struct timespec tv)
{
    return value / (tv.tv_sec + tv.tv_nsec / 1e9);
}

/* "00.02 sec" below a second, else (or if fixed) "H:MM:SS.ss". */
static void timestr(struct timespec tv, char *str, size_t size, bool fixed)
{
    double secs = tv.tv_sec % 60 + tv.tv_nsec / 1e9;

    if (fixed || tv.tv_sec) {
        snprintf(str, size, "%u:%02u:%05.2f", (unsigned)(tv.tv_sec / 3600),
                 (unsigned)(tv.tv_sec % 3600 / 60), secs);
    } else {
        snprintf(str, size, "%05.2f sec", secs);
    }
}

/* Options most I/O commands share. */
typedef struct IoFlags {
    bool Cflag;     /* -C: statistics as one parsable line */
    bool qflag;     /* -q: neither statistics nor dump */
    bool vflag;     /* -v: hex dump of the data read */
    bool Pflag;     /* -P given */
    int pattern;    /* the -P byte: expected by reads, written by writes */
} IoFlags;

/* -C, -P, -q or -v into f; -EINVAL (with a message) for a bad -P byte. */
static int parse_io_flag(int c, IoFlags *f)
{
    switch (c) {
    case 'C':
        f->Cflag = true;
        break;
    case 'P':
        f->Pflag = true;
        f->pattern = parse_pattern(optarg);
        if (f->pattern < 0) {
            return -EINVAL;
        }
        break;
    case 'q':
        f->qflag = true;
        break;
    case 'v':
        f->vflag = true;
        break;
    default:
        g_assert_not_reached();
    }
    return 0;
}

/*
 * The statistics of one finished request of count bytes, unless -q
 * (-C: one parsable line).
 */
static void print_report(const char *op, const IoFlags *f, struct timespec t,
                         int64_t offset, int64_t count)
{
    char ts[64], s1[64], s2[64];

    if (f->qflag) {
        return;
    }
    timestr(t, ts, sizeof(ts), f->Cflag);
    if (f->Cflag) {
        /* bytes,ops,time,bytes/sec,ops/sec */
        printf("%" PRId64 ",1,%s,%.3f,%.3f\n", count, ts, tdiv(count, t),
               tdiv(1, t));
        return;
    }
    cvtstr(count, s1, sizeof(s1));
    cvtstr(tdiv(count, t), s2, sizeof(s2));
    printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n",
           op, count, count, offset);
    printf("%s, 1 ops; %s (%s/sec and %.4f ops/sec)\n", s1, ts, s2,
           tdiv(1, t));
}

/* Rows of 16 bytes: offset, hex bytes, then letters/digits or '.'. */
static void dump_buffer(const void *buffer, int64_t offset, int64_t len)
{
    static const char hexdigits[] = "0123456789abcdef";
    const uint8_t *p = buffer;
    int64_t i;

    for (i = 0; i < len; i += 16) {
        int n = MIN(16, len - i);
        char hex[16 * 3 + 1], text[16 + 1];
        int j;

        for (j = 0; j < n; j++) {
            uint8_t b = p[i + j];

            hex[j * 3] = hexdigits[b >> 4];
            hex[j * 3 + 1] = hexdigits[b & 0xf];
            hex[j * 3 + 2] = ' ';
            text[j] = g_ascii_isalnum(b) ? b : '.';
        }
        hex[n * 3] = '\0';
        text[n] = '\0';
        printf("%08" PRIx64 ":  %s %s\n", offset + i, hex, text);
    }
}

/* ---- I/O buffers ---- */

static void *qemu_io_alloc(BlockBackend *blk, size_t len, int pattern)
{
    uint8_t *buf;

    if (qemuio_misalign) {
        len += MISALIGN_OFFSET;
    }
    buf = blk_blockalign(blk, len);
    memset(buf, pattern, len);
    return qemuio_misalign ? buf + MISALIGN_OFFSET : buf;
}

static void qemu_io_free(void *p)
{
    if (p && qemuio_misalign) {
        p = (uint8_t *)p - MISALIGN_OFFSET;
    }
    qemu_vfree(p);
}

/*
 * A buffer of len bytes filled with the contents of file_name, repeated
 * as often as needed.  NULL (and a message on stderr) if the file cannot
 * be read or is empty.
 */
static void *qemu_io_alloc_from_file(BlockBackend *blk, size_t len,
                                     const char *file_name)
{
    FILE *f = fopen(file_name, "r");
    uint8_t *buf;
    size_t pattern_len, done;

    if (!f) {
        perror(file_name);
        return NULL;
    }
    buf = qemu_io_alloc(blk, len, 0);
    pattern_len = fread(buf, 1, len, f);
    if (ferror(f)) {
        perror(file_name);
        goto fail;
    }
    if (pattern_len == 0) {
        fprintf(stderr, "%s: file is empty\n", file_name);
        goto fail;
    }
    fclose(f);

    for (done = pattern_len; done < len; done += pattern_len) {
        memcpy(buf + done, buf, MIN(pattern_len, len - done));
    }
    return buf;

fail:
    fclose(f);
    qemu_io_free(buf);
    return NULL;
}

/*
 * The "off len [len..]" of the vectored commands, argc (at least 2) words
 * at argv: *offset, and one buffer holding every length (each and their
 * sum at most BDRV_REQUEST_MAX_BYTES), filled with pattern, with qiov
 * describing one element per length.  NULL, with a message, on a bad
 * number.
 */
static void *parse_vectored(BlockBackend *blk, char **argv, int argc,
                            int64_t *offset, QEMUIOVector *qiov, int pattern)
{
    int nr_iov = argc - 1;
    g_autofree size_t *sizes = g_new0(size_t, nr_iov);
    size_t count = 0;
    uint8_t *buf, *p;
    int i;

    *offset = cvtnum_arg(argv[0]);
    if (*offset < 0) {
        return NULL;
    }
    argv++;
    for (i = 0; i < nr_iov; i++) {
        int64_t len = cvtnum_arg(argv[i]);

        if (len < 0) {
            return NULL;
        }
        if (len > BDRV_REQUEST_MAX_BYTES) {
            printf("Argument '%s' exceeds maximum size %" PRIu64 "\n",
                   argv[i], (uint64_t)BDRV_REQUEST_MAX_BYTES);
            return NULL;
        }
        if (count > BDRV_REQUEST_MAX_BYTES - len) {
            printf("The total number of bytes exceed the maximum size %"
                   PRIu64 "\n", (uint64_t)BDRV_REQUEST_MAX_BYTES);
            return NULL;
        }
        sizes[i] = len;
        count += len;
    }

    qemu_iovec_init(qiov, nr_iov);
    buf = p = qemu_io_alloc(blk, count, pattern);
    for (i = 0; i < nr_iov; i++) {
        qemu_iovec_add(qiov, p, sizes[i]);
        p += sizes[i];
    }
    return buf;
}

/* Does buf hold len bytes of pattern? */
static bool buffer_has_pattern(const uint8_t *buf, int pattern, size_t len)
{
    /* All bytes equal the first one iff buf equals itself shifted by one */
    return !len || (buf[0] == pattern && !memcmp(buf, buf + 1, len - 1));
}

/*
 * What read, readv and aio_read print for the count bytes read into buf:
 * a -P mismatch in the len bytes from buf + skip, then unless -q the -v
 * dump and the statistics.  -EINVAL on a mismatch, which still shows them.
 */
static int report_read(const IoFlags *f, const uint8_t *buf, int64_t offset,
                       int64_t count, int64_t skip, int64_t len,
                       struct timespec t)
{
    int ret = 0;

    if (f->Pflag && !buffer_has_pattern(buf + skip, f->pattern, len)) {
        printf("Pattern verification failed at offset %" PRId64 ", %"
               PRId64 " bytes\n", offset + skip, len);
        ret = -EINVAL;
    }
    if (!f->qflag && f->vflag) {
        dump_buffer(buf, offset, count);
    }
    print_report("read", f, t, offset, count);
    return ret;
}

/* For -b and -c: both numbers must be multiples of 512. */
static bool check_sector_aligned(int64_t offset, int64_t count)
{
    if (!QEMU_IS_ALIGNED(offset, BDRV_SECTOR_SIZE)) {
        printf("%" PRId64 " is not a sector-aligned value for 'offset'\n",
               offset);
        return false;
    }
    if (!QEMU_IS_ALIGNED(count, BDRV_SECTOR_SIZE)) {
        printf("%" PRId64 " is not a sector-aligned value for 'count'\n",
               count);
        return false;
    }
    return true;
}

/* ---- read ---- */

static const cmdinfo_t read_cmd;

static int read_f(BlockBackend *blk, int argc, char **argv)
{
    bool sflag = false, lflag = false, bflag = false;
    int64_t pattern_offset = 0, pattern_count = 0;
    IoFlags f = { 0 };
    struct timespec t1, t2;
    int64_t offset, count;
    uint8_t *buf;
    int c, ret;

    while ((c = getopt(argc, argv, "bCl:pP:qs:v")) != -1) {
        switch (c) {
        case 'b':
            bflag = true;
            break;
        case 'C':
        case 'P':
        case 'q':
        case 'v':
            if (parse_io_flag(c, &f) < 0) {
                return -EINVAL;
            }
            break;
        case 'l':
            lflag = true;
            pattern_count = cvtnum_arg(optarg);
            if (pattern_count < 0) {
                return pattern_count;
            }
            break;
        case 'p':
            /* accepted for compatibility; does nothing */
            break;
        case 's':
            sflag = true;
            pattern_offset = cvtnum_arg(optarg);
            if (pattern_offset < 0) {
                return pattern_offset;
            }
            break;
        default:
            qemuio_command_usage(&read_cmd);
            return -EINVAL;
        }
    }

    if (optind != argc - 2) {
        qemuio_command_usage(&read_cmd);
        return -EINVAL;
    }

    ret = parse_off_len(&argv[optind], &offset, &count, false, "");
    if (ret < 0) {
        return ret;
    }

    if (!f.Pflag && (lflag || sflag)) {
        qemuio_command_usage(&read_cmd);
        return -EINVAL;
    }
    if (!lflag) {
        pattern_count = count - pattern_offset;
    }
    if (pattern_count < 0 || pattern_count + pattern_offset > count) {
        printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }
    if (bflag && !check_sector_aligned(offset, count)) {
        return -EINVAL;
    }

    buf = qemu_io_alloc(blk, count, 0xab);
    t1 = clock_now();
    if (bflag) {
        ret = blk_load_vmstate(blk, buf, offset, count);
    } else {
        ret = blk_pread(blk, offset, count, buf, 0);
    }
    t2 = clock_now();
    if (ret < 0) {
        printf("read failed: %s\n", strerror(-ret));
    } else {
        ret = report_read(&f, buf, offset, count, pattern_offset,
                          pattern_count, tsub(t2, t1));
    }
    qemu_io_free(buf);
    return ret;
}

static const cmdinfo_t read_cmd = {
    .name       = "read",
    .altname    = "r",
    .cfunc      = read_f,
    .argmin     = 2,
    .argmax     = -1,
    .args       = "[-abCqv] [-P pattern [-s off] [-l len]] off len",
    .oneline    = "reads a number of bytes at a specified offset",
    .help       =
"\n"
" reads a range of bytes from the given offset\n"
"\n"
" Example:\n"
" 'read -v 512 1k' - dumps 1 kilobyte read from 512 bytes into the file\n"
"\n"
" Reads a segment of the currently open file, optionally dumping it to the\n"
" standard output stream (with -v option) for subsequent inspection.\n"
" -b, -- read from the VM state rather than the virtual disk\n"
" -C, -- report statistics in a machine parsable format\n"
" -l, -- length for pattern verification (only with -P)\n"
" -p, -- ignored for backwards compatibility\n"
" -P, -- use a pattern to verify read data\n"
" -q, -- quiet mode, do not show I/O statistics\n"
" -s, -- start offset for pattern verification (only with -P)\n"
" -v, -- dump buffer to standard output\n"
"\n",
};

/* ---- readv ---- */

static const cmdinfo_t readv_cmd;

static int readv_f(BlockBackend *blk, int argc, char **argv)
{
    IoFlags f = { 0 };
    struct timespec t1, t2;
    QEMUIOVector qiov;
    int64_t offset;
    uint8_t *buf;
    int c, ret;

    while ((c = getopt(argc, argv, "CP:qv")) != -1) {
        if (c == '?') {
            qemuio_command_usage(&readv_cmd);
            return -EINVAL;
        }
        if (parse_io_flag(c, &f) < 0) {
            return -EINVAL;
        }
    }

    if (optind > argc - 2) {
        qemuio_command_usage(&readv_cmd);
        return -EINVAL;
    }

    buf = parse_vectored(blk, &argv[optind], argc - optind, &offset, &qiov,
                         0xab);
    if (!buf) {
        return -EINVAL;
    }

    t1 = clock_now();
    ret = blk_preadv(blk, offset, qiov.size, &qiov, 0);
    t2 = clock_now();
    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
    } else {
        ret = report_read(&f, buf, offset, qiov.size, 0, qiov.size,
                          tsub(t2, t1));
    }
    qemu_iovec_destroy(&qiov);
    qemu_io_free(buf);
    return ret;
}

static const cmdinfo_t readv_cmd = {
    .name       = "readv",
    .cfunc      = readv_f,
    .argmin     = 2,
    .argmax     = -1,
    .args       = "[-Cqv] [-P pattern] off len [len..]",
    .oneline    = "reads a number of bytes at a specified offset",
    .help       =
"\n"
" reads a range of bytes from the given offset into multiple buffers\n"
"\n"
" Example:\n"
" 'readv -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the"
" file\n"
"\n"
" Reads a segment of the currently open file, optionally dumping it to the\n"
" standard output stream (with -v option) for subsequent inspection.\n"
" Uses multiple iovec buffers if more than one byte range is specified.\n"
" -C, -- report statistics in a machine parsable format\n"
" -P, -- use a pattern to verify read data\n"
" -v, -- dump buffer to standard output\n"
" -q, -- quiet mode, do not show I/O statistics\n"
"\n",
};

/* ---- write ---- */

static const cmdinfo_t write_cmd;

static int write_f(BlockBackend *blk, int argc, char **argv)
{
    bool bflag = false, zflag = false, cflag = false, sflag = false;
    IoFlags f = { .pattern = 0xcd };
    BdrvRequestFlags flags = 0;
    const char *file_name = NULL;
    struct timespec t1, t2;
    int64_t offset, count;
    uint8_t *buf = NULL;
    int c, ret;

    while ((c = getopt(argc, argv, "bcCfnpP:qs:uz")) != -1) {
        switch (c) {
        case 'b':
            bflag = true;
            break;
        case 'c':
            cflag = true;
            break;
        case 'C':
        case 'P':
        case 'q':
            if (parse_io_flag(c, &f) < 0) {
                return -EINVAL;
            }
            break;
        case 'f':
            flags |= BDRV_REQ_FUA;
            break;
        case 'n':
            flags |= BDRV_REQ_NO_FALLBACK;
            break;
        case 'p':
            /* accepted for compatibility; does nothing */
            break;
        case 's':
            sflag = true;
            file_name = optarg;
            break;
        case 'u':
            flags |= BDRV_REQ_MAY_UNMAP;
            break;
        case 'z':
            zflag = true;
            break;
        default:
            qemuio_command_usage(&write_cmd);
            return -EINVAL;
        }
    }

    if (optind != argc - 2) {
        qemuio_command_usage(&write_cmd);
        return -EINVAL;
    }
    if (bflag && zflag) {
        printf("-b and -z cannot be specified at the same time\n");
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_FUA) && (bflag || cflag)) {
        printf("-f and -b or -c cannot be specified at the same time\n");
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_NO_FALLBACK) && !zflag) {
        printf("-n requires -z to be specified\n");
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_MAY_UNMAP) && !zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if (zflag + f.Pflag + sflag > 1) {
        printf("Only one of -z, -P, and -s "
               "can be specified at the same time\n");
        return -EINVAL;
    }

    ret = parse_off_len(&argv[optind], &offset, &count,
                        flags & BDRV_REQ_NO_FALLBACK, " without -n");
    if (ret < 0) {
        return ret;
    }
    if ((bflag || cflag) && !check_sector_aligned(offset, count)) {
        return -EINVAL;
    }

    if (sflag) {
        buf = qemu_io_alloc_from_file(blk, count, file_name);
        if (!buf) {
            return -EINVAL;
        }
    } else if (!zflag) {
        buf = qemu_io_alloc(blk, count, f.pattern);
    }

    t1 = clock_now();
    if (bflag) {
        ret = blk_save_vmstate(blk, buf, offset, count);
    } else if (zflag) {
        ret = blk_pwrite_zeroes(blk, offset, count, flags);
    } else if (cflag) {
        ret = blk_pwrite_compressed(blk, offset, count, buf);
    } else {
        ret = blk_pwrite(blk, offset, count, buf, flags);
    }
    t2 = clock_now();
    if (ret < 0) {
        printf("write failed: %s\n", strerror(-ret));
    } else {
        print_report("wrote", &f, tsub(t2, t1), offset, count);
        ret = 0;
    }
    qemu_io_free(buf);
    return ret;
}

static const cmdinfo_t write_cmd = {
    .name       = "write",
    .altname    = "w",
    .cfunc      = write_f,
    .perm       = BLK_PERM_WRITE,
    .argmin     = 2,
    .argmax     = -1,
    .args       = "[-bcCfnquz] [-P pattern | -s source_file] off len",
    .oneline    = "writes a number of bytes at a specified offset",
    .help       =
"\n"
" writes a range of bytes from the given offset\n"
"\n"
" Example:\n"
" 'write 512 1k' - writes 1 kilobyte at 512 bytes into the open file\n"
"\n"
" Writes into a segment of the currently open file, using a buffer\n"
" filled with a set pattern (0xcdcdcdcd).\n"
" -b, -- write to the VM state rather than the virtual disk\n"
" -c, -- write compressed data with blk_write_compressed\n"
" -f, -- use Force Unit Access semantics\n"
" -n, -- with -z, don't allow slow fallback\n"
" -p, -- ignored for backwards compatibility\n"
" -P, -- use different pattern to fill file\n"
" -s, -- use a pattern file to fill the write buffer\n"
" -C, -- report statistics in a machine parsable format\n"
" -q, -- quiet mode, do not show I/O statistics\n"
" -u, -- with -z, allow unmapping\n"
" -z, -- write zeroes using blk_co_pwrite_zeroes\n"
"\n",
};

/* ---- writev ---- */

static const cmdinfo_t writev_cmd;

static int writev_f(BlockBackend *blk, int argc, char **argv)
{
    IoFlags f = { .pattern = 0xcd };
    BdrvRequestFlags flags = 0;
    struct timespec t1, t2;
    QEMUIOVector qiov;
    int64_t offset;
    uint8_t *buf;
    int c, ret;

    while ((c = getopt(argc, argv, "CfqP:")) != -1) {
        switch (c) {
        case 'C':
        case 'P':
        case 'q':
            if (parse_io_flag(c, &f) < 0) {
                return -EINVAL;
            }
            break;
        case 'f':
            flags |= BDRV_REQ_FUA;
            break;
        default:
            qemuio_command_usage(&writev_cmd);
            return -EINVAL;
        }
    }

    if (optind > argc - 2) {
        qemuio_command_usage(&writev_cmd);
        return -EINVAL;
    }

    buf = parse_vectored(blk, &argv[optind], argc - optind, &offset, &qiov,
                         f.pattern);
    if (!buf) {
        return -EINVAL;
    }

    t1 = clock_now();
    ret = blk_pwritev(blk, offset, qiov.size, &qiov, flags);
    t2 = clock_now();
    if (ret < 0) {
        printf("writev failed: %s\n", strerror(-ret));
    } else {
        print_report("wrote", &f, tsub(t2, t1), offset, qiov.size);
        ret = 0;
    }
    qemu_iovec_destroy(&qiov);
    qemu_io_free(buf);
    return ret;
}

static const cmdinfo_t writev_cmd = {
    .name       = "writev",
    .cfunc      = writev_f,
    .perm       = BLK_PERM_WRITE,
    .argmin     = 2,
    .argmax     = -1,
    .args       = "[-Cfq] [-P pattern] off len [len..]",
    .oneline    = "writes a number of bytes at a specified offset",
    .help       =
"\n"
" writes a range of bytes from the given offset source from multiple"
" buffers\n"
"\n"
" Example:\n"
" 'writev 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open file\n"
"\n"
" Writes into a segment of the currently open file, using a buffer\n"
" filled with a set pattern (0xcdcdcdcd).\n"
" -P, -- use different pattern to fill file\n"
" -C, -- report statistics in a machine parsable format\n"
" -f, -- use Force Unit Access semantics\n"
" -q, -- quiet mode, do not show I/O statistics\n"
"\n",
};

/* ---- aio_read, aio_write, aio_flush ---- */

/* One submitted request; freed by its completion callback. */
typedef struct AioRequest {
    QEMUIOVector qiov;      /* unused for -z */
    uint8_t *buf;
    int64_t offset;
    int64_t bytes;
    IoFlags f;
    struct timespec t1;
} AioRequest;

static void aio_request_free(AioRequest *req)
{
    if (req->buf) {
        qemu_io_free(req->buf);
        qemu_iovec_destroy(&req->qiov);
    }
    g_free(req);
}

/*
 * Completion of aio_read.  Failures and mismatches are only reported:
 * the command itself succeeded when it was submitted.
 */
static void aio_read_done(void *opaque, int ret)
{
    AioRequest *req = opaque;
    struct timespec t2 = clock_now();

    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
    } else {
        report_read(&req->f, req->buf, req->offset, req->bytes, 0,
                    req->bytes, tsub(t2, req->t1));
    }
    aio_request_free(req);
}

static void aio_write_done(void *opaque, int ret)
{
    AioRequest *req = opaque;
    struct timespec t2 = clock_now();

    if (ret < 0) {
        printf("aio_write failed: %s\n", strerror(-ret));
    } else {
        print_report("wrote", &req->f, tsub(t2, req->t1), req->offset,
                     req->bytes);
    }
    aio_request_free(req);
}

static const cmdinfo_t aio_read_cmd;

static int aio_read_f(BlockBackend *blk, int argc, char **argv)
{
    g_autofree AioRequest *req = g_new0(AioRequest, 1);
    AioRequest *submitted;
    int c;

    while ((c = getopt(argc, argv, "CP:iqv")) != -1) {
        switch (c) {
        case 'C':
        case 'P':
        case 'q':
        case 'v':
            if (parse_io_flag(c, &req->f) < 0) {
                return -EINVAL;
            }
            break;
        case 'i':
            /* only exercises I/O accounting, which qblock does not keep */
            printf("injecting invalid read request\n");
            return 0;
        default:
            qemuio_command_usage(&aio_read_cmd);
            return -EINVAL;
        }
    }

    if (optind > argc - 2) {
        qemuio_command_usage(&aio_read_cmd);
        return -EINVAL;
    }

    req->buf = parse_vectored(blk, &argv[optind], argc - optind, &req->offset,
                              &req->qiov, 0xab);
    if (!req->buf) {
        return -EINVAL;
    }
    req->bytes = req->qiov.size;
    req->t1 = clock_now();
    submitted = g_steal_pointer(&req);
    blk_aio_preadv(blk, submitted->offset, &submitted->qiov, 0,
                   aio_read_done, submitted);
    return 0;
}

static const cmdinfo_t aio_read_cmd = {
    .name       = "aio_read",
    .cfunc      = aio_read_f,
    .argmin     = 2,
    .argmax     = -1,
    .args       = "[-Ciqv] [-P pattern] off len [len..]",
    .oneline    = "asynchronously reads a number of bytes",
    .help       =
"\n"
" asynchronously reads a range of bytes from the given offset\n"
"\n"
" Example:\n"
" 'aio_read -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the"
" file\n"
"\n"
" Reads a segment of the currently open file, optionally dumping it to the\n"
" standard output stream (with -v option) for subsequent inspection.\n"
" The read is performed asynchronously and the aio_flush command must be\n"
" used to ensure all outstanding aio requests have been completed.\n"
" Note that due to its asynchronous nature, this command will be\n"
" considered successful once the request is submitted, independently\n"
" of potential I/O errors or pattern mismatches.\n"
" -C, -- report statistics in a machine parsable format\n"
" -P, -- use a pattern to verify read data\n"
" -i, -- treat request as invalid, for exercising stats\n"
" -v, -- dump buffer to standard output\n"
" -q, -- quiet mode, do not show I/O statistics\n"
"\n",
};

static const cmdinfo_t aio_write_cmd;

static int aio_write_f(BlockBackend *blk, int argc, char **argv)
{
    g_autofree AioRequest *req = g_new0(AioRequest, 1);
    AioRequest *submitted;
    BdrvRequestFlags flags = 0;
    bool zflag = false;
    int c;

    req->f.pattern = 0xcd;
    while ((c = getopt(argc, argv, "CfiqP:uz")) != -1) {
        switch (c) {
        case 'C':
        case 'P':
        case 'q':
            if (parse_io_flag(c, &req->f) < 0) {
                return -EINVAL;
            }
            break;
        case 'f':
            flags |= BDRV_REQ_FUA;
            break;
        case 'u':
            flags |= BDRV_REQ_MAY_UNMAP;
            break;
        case 'i':
            printf("injecting invalid write request\n");
            return 0;
        case 'z':
            zflag = true;
            break;
        default:
            qemuio_command_usage(&aio_write_cmd);
            return -EINVAL;
        }
    }

    if (optind > argc - 2) {
        qemuio_command_usage(&aio_write_cmd);
        return -EINVAL;
    }
    if (zflag && optind != argc - 2) {
        printf("-z supports only a single length parameter\n");
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_MAY_UNMAP) && !zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }

    /*
     * QEMU 7.2 never rejects -P together with -z (its check looks at a
     * flag -P does not set); scripts may rely on that.
     */
    if (zflag) {
        req->offset = cvtnum_arg(argv[optind]);
        if (req->offset < 0) {
            return req->offset;
        }
        req->bytes = cvtnum_arg(argv[optind + 1]);
        if (req->bytes < 0) {
            return req->bytes;
        }
        req->t1 = clock_now();
        submitted = g_steal_pointer(&req);
        blk_aio_pwrite_zeroes(blk, submitted->offset, submitted->bytes,
                              flags, aio_write_done, submitted);
        return 0;
    }

    req->buf = parse_vectored(blk, &argv[optind], argc - optind, &req->offset,
                              &req->qiov, req->f.pattern);
    if (!req->buf) {
        return -EINVAL;
    }
    req->bytes = req->qiov.size;
    req->t1 = clock_now();
    submitted = g_steal_pointer(&req);
    blk_aio_pwritev(blk, submitted->offset, &submitted->qiov, flags,
                    aio_write_done, submitted);
    return 0;
}

static const cmdinfo_t aio_write_cmd = {
    .name       = "aio_write",
    .cfunc      = aio_write_f,
    .perm       = BLK_PERM_WRITE,
    .argmin     = 2,
    .argmax     = -1,
    .args       = "[-Cfiquz] [-P pattern] off len [len..]",
    .oneline    = "asynchronously writes a number of bytes",
    .help       =
"\n"
" asynchronously writes a range of bytes from the given offset source\n"
" from multiple buffers\n"
"\n"
" Example:\n"
" 'aio_write 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open"
" file\n"
"\n"
" Writes into a segment of the currently open file, using a buffer\n"
" filled with a set pattern (0xcdcdcdcd).\n"
" The write is performed asynchronously and the aio_flush command must be\n"
" used to ensure all outstanding aio requests have been completed.\n"
" Note that due to its asynchronous nature, this command will be\n"
" considered successful once the request is submitted, independently\n"
" of potential I/O errors or pattern mismatches.\n"
" -P, -- use different pattern to fill file\n"
" -C, -- report statistics in a machine parsable format\n"
" -f, -- use Force Unit Access semantics\n"
" -i, -- treat request as invalid, for exercising stats\n"
" -q, -- quiet mode, do not show I/O statistics\n"
" -u, -- with -z, allow unmapping\n"
" -z, -- write zeroes using blk_aio_pwrite_zeroes\n"
"\n",
};

static int aio_flush_f(BlockBackend *blk, int argc, char **argv)
{
    blk_drain_all();
    return 0;
}

static const cmdinfo_t aio_flush_cmd = {
    .name       = "aio_flush",
    .cfunc      = aio_flush_f,
    .oneline    = "completes all outstanding aio requests",
};

/* ---- flush, truncate, length, info ---- */

static int flush_f(BlockBackend *blk, int argc, char **argv)
{
    return blk_flush(blk);
}

static const cmdinfo_t flush_cmd = {
    .name       = "flush",
    .altname    = "f",
    .cfunc      = flush_f,
    .oneline    = "flush all in-core file state to disk",
};

static const cmdinfo_t truncate_cmd;

static int truncate_f(BlockBackend *blk, int argc, char **argv)
{
    PreallocMode prealloc = PREALLOC_MODE_OFF;
    Error *err = NULL;
    int64_t offset;
    int c, ret;

    while ((c = getopt(argc, argv, "m:")) != -1) {
        switch (c) {
        case 'm':
            prealloc = qapi_enum_parse(&PreallocMode_lookup, optarg,
                                       PREALLOC_MODE__MAX, NULL);
            if (prealloc == PREALLOC_MODE__MAX) {
                error_report("Invalid preallocation mode '%s'", optarg);
                return -EINVAL;
            }
            break;
        default:
            qemuio_command_usage(&truncate_cmd);
            return -EINVAL;
        }
    }

    /* QEMU crashes here; printing the usage is what it meant to do */
    if (optind >= argc) {
        qemuio_command_usage(&truncate_cmd);
        return -EINVAL;
    }

    offset = cvtnum(argv[optind]);
    if (offset < 0) {
        /* QEMU 7.2 names argv[1] here whatever the option layout */
        print_cvtnum_err(offset, argv[1]);
        return offset;
    }

    /* A debugging tool should rather fail than silently round sizes. */
    ret = blk_truncate(blk, offset, true, prealloc, 0, &err);
    if (ret < 0) {
        error_report_err(err);
        return ret;
    }
    return 0;
}

static const cmdinfo_t truncate_cmd = {
    .name       = "truncate",
    .altname    = "t",
    .cfunc      = truncate_f,
    .perm       = BLK_PERM_WRITE | BLK_PERM_RESIZE,
    .argmin     = 1,
    .argmax     = 3,
    .args       = "[-m prealloc_mode] off",
    .oneline    = "truncates the current file at the given offset",
};

static int length_f(BlockBackend *blk, int argc, char **argv)
{
    int64_t size = blk_getlength(blk);
    char s1[64];

    if (size < 0) {
        printf("getlength: %s\n", strerror(-size));
        return size;
    }
    cvtstr(size, s1, sizeof(s1));
    printf("%s\n", s1);
    return 0;
}

static const cmdinfo_t length_cmd = {
    .name       = "length",
    .altname    = "l",
    .cfunc      = length_f,
    .oneline    = "gets the length of the current file",
};

static int info_f(BlockBackend *blk, int argc, char **argv)
{
    BlockDriverState *bs = blk_bs(blk);
    g_autoptr(ImageInfoSpecific) spec_info = NULL;
    BlockDriverInfo bdi;
    Error *err = NULL;
    char s1[64], s2[64];
    int ret;

    if (bs->drv && bs->drv->format_name) {
        printf("format name: %s\n", bs->drv->format_name);
    }
    if (bs->drv && bs->drv->protocol_name) {
        printf("format name: %s\n", bs->drv->protocol_name);
    }

    /* A driver without information fails the command silently. */
    ret = bdrv_get_info(bs, &bdi);
    if (ret) {
        return ret;
    }
    cvtstr(bdi.cluster_size, s1, sizeof(s1));
    cvtstr(bdi.vm_state_offset, s2, sizeof(s2));
    printf("cluster size: %s\n", s1);
    printf("vm state offset: %s\n", s2);

    spec_info = bdrv_get_specific_info(bs, &err);
    if (err) {
        error_report_err(err);
        return -EIO;
    }
    if (spec_info) {
        bdrv_image_info_specific_dump(spec_info,
                                      "Format specific information:\n",
                                      stdout);
    }
    return 0;
}

static const cmdinfo_t info_cmd = {
    .name       = "info",
    .altname    = "i",
    .cfunc      = info_f,
    .oneline    = "prints information about the current file",
};

/* ---- discard, alloc, map ---- */

static const cmdinfo_t discard_cmd;

static int discard_f(BlockBackend *blk, int argc, char **argv)
{
    IoFlags f = { 0 };
    struct timespec t1, t2;
    int64_t offset, bytes;
    int c, ret;

    while ((c = getopt(argc, argv, "Cq")) != -1) {
        if (c == '?') {
            qemuio_command_usage(&discard_cmd);
            return -EINVAL;
        }
        parse_io_flag(c, &f);
    }

    if (optind != argc - 2) {
        qemuio_command_usage(&discard_cmd);
        return -EINVAL;
    }

    ret = parse_off_len(&argv[optind], &offset, &bytes, false, "");
    if (ret < 0) {
        return ret;
    }

    t1 = clock_now();
    ret = blk_pdiscard(blk, offset, bytes);
    t2 = clock_now();
    if (ret < 0) {
        printf("discard failed: %s\n", strerror(-ret));
        return ret;
    }
    print_report("discard", &f, tsub(t2, t1), offset, bytes);
    return 0;
}

static const cmdinfo_t discard_cmd = {
    .name       = "discard",
    .altname    = "d",
    .cfunc      = discard_f,
    .perm       = BLK_PERM_WRITE,
    .argmin     = 2,
    .argmax     = -1,
    .args       = "[-Cq] off len",
    .oneline    = "discards a number of bytes at a specified offset",
    .help       =
"\n"
" discards a range of bytes from the given offset\n"
"\n"
" Example:\n"
" 'discard 512 1k' - discards 1 kilobyte from 512 bytes into the file\n"
"\n"
" Discards a segment of the currently open file.\n"
" -C, -- report statistics in a machine parsable format\n"
" -q, -- quiet mode, do not show I/O statistics\n"
"\n",
};

static int alloc_f(BlockBackend *blk, int argc, char **argv)
{
    BlockDriverState *bs = blk_bs(blk);
    int64_t offset, start, remaining, count, num, sum_alloc = 0;
    char s1[64];
    int ret;

    start = offset = cvtnum_arg(argv[1]);
    if (offset < 0) {
        return offset;
    }
    if (argc == 3) {
        count = cvtnum_arg(argv[2]);
        if (count < 0) {
            return count;
        }
    } else {
        count = BDRV_SECTOR_SIZE;
    }

    /* The walk stops at the end of the image; count is cut there. */
    remaining = count;
    while (remaining) {
        ret = bdrv_is_allocated(bs, offset, remaining, &num);
        if (ret < 0) {
            printf("is_allocated failed: %s\n", strerror(-ret));
            return ret;
        }
        offset += num;
        remaining -= num;
        if (ret) {
            sum_alloc += num;
        }
        if (num == 0) {
            count -= remaining;
            remaining = 0;
        }
    }

    cvtstr(start, s1, sizeof(s1));
    printf("%" PRId64 "/%" PRId64 " bytes allocated at offset %s\n",
           sum_alloc, count, s1);
    return 0;
}

static const cmdinfo_t alloc_cmd = {
    .name       = "alloc",
    .altname    = "a",
    .argmin     = 1,
    .argmax     = 2,
    .cfunc      = alloc_f,
    .args       = "offset [count]",
    .oneline    = "checks if offset is allocated in the file",
};

/*
 * Allocation status (of the top layer) at offset and the length *pnum of
 * the run with that status, merged over as many queries as it takes.
 */
static int map_is_allocated(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, int64_t *pnum)
{
    int64_t num;
    int ret, firstret;

    ret = bdrv_is_allocated(bs, offset, bytes, &num);
    if (ret < 0) {
        return ret;
    }
    firstret = ret;
    *pnum = num;

    while (bytes > 0 && ret == firstret) {
        offset += num;
        bytes -= num;
        ret = bdrv_is_allocated(bs, offset, bytes, &num);
        if (ret != firstret || !num) {
            break;
        }
        *pnum += num;
    }
    return firstret;
}

static int map_f(BlockBackend *blk, int argc, char **argv)
{
    int64_t offset = 0, bytes, num;
    char s1[64], s2[64];
    int ret;

    bytes = blk_getlength(blk);
    if (bytes < 0) {
        error_report("Failed to query image length: %s", strerror(-bytes));
        return bytes;
    }

    while (bytes) {
        ret = map_is_allocated(blk_bs(blk), offset, bytes, &num);
        if (ret < 0) {
            error_report("Failed to get allocation status: %s",
                         strerror(-ret));
            return ret;
        }
        if (!num) {
            error_report("Unexpected end of image");
            return -EIO;
        }

        cvtstr(num, s1, sizeof(s1));
        cvtstr(offset, s2, sizeof(s2));
        printf("%s (0x%" PRIx64 ") bytes %s at offset %s (0x%" PRIx64 ")\n",
               s1, num, ret ? "    allocated" : "not allocated", s2, offset);
        offset += num;
        bytes -= num;
    }
    return 0;
}

static const cmdinfo_t map_cmd = {
    .name       = "map",
    .argmin     = 0,
    .argmax     = 0,
    .cfunc      = map_f,
    .args       = "",
    .oneline    = "prints the allocated areas of a file",
};

/* ---- reopen ---- */

static const cmdinfo_t reopen_cmd;

/* The -o options of one reopen command, merged. */
static QemuOptsList reopen_opts = {
    .name = "reopen",
    .merge_lists = true,
    .head = QTAILQ_HEAD_INITIALIZER(reopen_opts.head),
    .desc = {
        /* no elements => accept any params */
        { /* end of list */ }
    },
};

/*
 * reopen's arguments: updates *flags and *writethrough, and returns the -o
 * options (merged in reopen_opts, which the caller resets), NULL on errors.
 */
static QDict *reopen_parse_args(int argc, char **argv, int *flags,
                                bool *writethrough, bool *has_rw_option,
                                bool *has_cache_option)
{
    QemuOpts *qopts;
    int c;

    while ((c = getopt(argc, argv, "c:o:rw")) != -1) {
        switch (c) {
        case 'c':
            if (bdrv_parse_cache_mode(optarg, flags, writethrough) < 0) {
                error_report("Invalid cache option: %s", optarg);
                return NULL;
            }
            *has_cache_option = true;
            break;
        case 'o':
            if (!qemu_opts_parse_noisily(&reopen_opts, optarg, false)) {
                return NULL;
            }
            break;
        case 'r':
        case 'w':
            if (*has_rw_option) {
                error_report("Only one -r/-w option may be given");
                return NULL;
            }
            if (c == 'r') {
                *flags &= ~BDRV_O_RDWR;
            } else {
                *flags |= BDRV_O_RDWR;
            }
            *has_rw_option = true;
            break;
        default:
            qemuio_command_usage(&reopen_cmd);
            return NULL;
        }
    }
    if (optind != argc) {
        qemuio_command_usage(&reopen_cmd);
        return NULL;
    }
    qopts = qemu_opts_find(&reopen_opts, NULL);
    return qopts ? qemu_opts_to_qdict(qopts, NULL) : qdict_new();
}

static int reopen_f(BlockBackend *blk, int argc, char **argv)
{
    BlockDriverState *bs = blk_bs(blk);
    bool writethrough = !blk_enable_write_cache(blk);
    bool has_rw_option = false, has_cache_option = false;
    int flags = bs->open_flags;
    Error *err = NULL;
    QDict *opts;

    opts = reopen_parse_args(argc, argv, &flags, &writethrough,
                             &has_rw_option, &has_cache_option);
    qemu_opts_reset(&reopen_opts);
    if (!opts) {
        return -EINVAL;
    }

    /* Give up the write permission before the node becomes read-only. */
    if (!(flags & BDRV_O_RDWR)) {
        uint64_t perm, shared;

        bdrv_drain(bs);
        blk_get_perm(blk, &perm, &shared);
        blk_set_perm(blk, perm & ~(BLK_PERM_WRITE | BLK_PERM_WRITE_UNCHANGED),
                     shared, &error_abort);
    }

    if (qdict_haskey(opts, BDRV_OPT_READ_ONLY)) {
        if (has_rw_option) {
            error_report("Cannot set both -r/-w and '" BDRV_OPT_READ_ONLY "'");
            qobject_unref(opts);
            return -EINVAL;
        }
    } else {
        qdict_put_bool(opts, BDRV_OPT_READ_ONLY, !(flags & BDRV_O_RDWR));
    }

    if (qdict_haskey(opts, BDRV_OPT_CACHE_DIRECT) ||
        qdict_haskey(opts, BDRV_OPT_CACHE_NO_FLUSH)) {
        if (has_cache_option) {
            error_report("Cannot set both -c and the cache options");
            qobject_unref(opts);
            return -EINVAL;
        }
    } else {
        qdict_put_bool(opts, BDRV_OPT_CACHE_DIRECT, flags & BDRV_O_NOCACHE);
        qdict_put_bool(opts, BDRV_OPT_CACHE_NO_FLUSH,
                       flags & BDRV_O_NO_FLUSH);
    }

    if (bdrv_reopen(bs, opts, true, &err) < 0) {
        error_report_err(err);
        return -EINVAL;
    }
    blk_set_enable_write_cache(blk, !writethrough);
    return 0;
}

static const cmdinfo_t reopen_cmd = {
    .name       = "reopen",
    .argmin     = 0,
    .argmax     = -1,
    .cfunc      = reopen_f,
    .args       = "[(-r|-w)] [-c cache] [-o options]",
    .oneline    = "reopens an image with new options",
    .help       =
"\n"
" Changes the open options of an already opened image\n"
"\n"
" Example:\n"
" 'reopen -o lazy-refcounts=on' - activates lazy refcount writeback on a"
" qcow2 image\n"
"\n"
" -r, -- Reopen the image read-only\n"
" -w, -- Reopen the image read-write\n"
" -c, -- Change the cache mode to the given value\n"
" -o, -- Changes block driver options (cf. 'open' command)\n"
"\n",
};

/* ---- blkdebug breakpoints ---- */

static int break_f(BlockBackend *blk, int argc, char **argv)
{
    int ret = bdrv_debug_breakpoint(blk_bs(blk), argv[1], argv[2]);

    if (ret < 0) {
        printf("Could not set breakpoint: %s\n", strerror(-ret));
        return ret;
    }
    return 0;
}

static const cmdinfo_t break_cmd = {
    .name       = "break",
    .argmin     = 2,
    .argmax     = 2,
    .cfunc      = break_f,
    .args       = "event tag",
    .oneline    = "sets a breakpoint on event and tags the stopped "
                  "request as tag",
};

static int remove_break_f(BlockBackend *blk, int argc, char **argv)
{
    int ret = bdrv_debug_remove_breakpoint(blk_bs(blk), argv[1]);

    if (ret < 0) {
        printf("Could not remove breakpoint %s: %s\n", argv[1],
               strerror(-ret));
        return ret;
    }
    return 0;
}

static const cmdinfo_t remove_break_cmd = {
    .name       = "remove_break",
    .argmin     = 1,
    .argmax     = 1,
    .cfunc      = remove_break_f,
    .args       = "tag",
    .oneline    = "remove a breakpoint by tag",
};

static int resume_f(BlockBackend *blk, int argc, char **argv)
{
    int ret = bdrv_debug_resume(blk_bs(blk), argv[1]);

    if (ret < 0) {
        printf("Could not resume request: %s\n", strerror(-ret));
        return ret;
    }
    return 0;
}

static const cmdinfo_t resume_cmd = {
    .name       = "resume",
    .argmin     = 1,
    .argmax     = 1,
    .cfunc      = resume_f,
    .args       = "tag",
    .oneline    = "resumes the request tagged as tag",
};

static int wait_break_f(BlockBackend *blk, int argc, char **argv)
{
    BlockDriverState *bs = blk_bs(blk);

    while (!bdrv_debug_is_suspended(bs, argv[1])) {
        /*
         * With nothing in flight no request can ever reach the breakpoint
         * (QEMU 7.2 waits forever here).
         */
        if (!qatomic_read(&bs->in_flight)) {
            printf("Could not wait for breakpoint %s: no request in flight\n",
                   argv[1]);
            return -ENOENT;
        }
        aio_poll(blk_get_aio_context(blk), true);
    }
    return 0;
}

static const cmdinfo_t wait_break_cmd = {
    .name       = "wait_break",
    .argmin     = 1,
    .argmax     = 1,
    .cfunc      = wait_break_f,
    .args       = "tag",
    .oneline    = "waits for the suspension of a request",
};

/* ---- abort, sigraise, sleep ---- */

static int abort_f(BlockBackend *blk, int argc, char **argv)
{
    /* buffered stdout is lost, as in a real crash */
    abort();
}

static const cmdinfo_t abort_cmd = {
    .name       = "abort",
    .cfunc      = abort_f,
    .flags      = CMD_NOFILE_OK,
    .oneline    = "simulate a program crash using abort(3)",
};

static int sigraise_f(BlockBackend *blk, int argc, char **argv)
{
    int64_t sig = cvtnum_arg(argv[1]);

    if (sig < 0) {
        return sig;
    }
    if (sig > NSIG) {
        printf("signal argument '%s' is too large to be a valid signal\n",
               argv[1]);
        return -EINVAL;
    }

    /* raise() need not flush stdio; what was printed so far must show */
    fflush(stdout);
    fflush(stderr);
    raise(sig);
    return 0;
}

static const cmdinfo_t sigraise_cmd = {
    .name       = "sigraise",
    .cfunc      = sigraise_f,
    .argmin     = 1,
    .argmax     = 1,
    .flags      = CMD_NOFILE_OK,
    .args       = "signal",
    .oneline    = "raises a signal",
    .help       =
"\n"
" raises the given signal\n"
"\n"
" Example:\n"
" 'sigraise 15' - raises SIGTERM\n"
"\n"
" Invokes raise(signal), where \"signal\" is the mandatory integer argument\n"
" given to sigraise.\n"
"\n",
};

static void sleep_cb(void *opaque)
{
    bool *expired = opaque;

    *expired = true;
}

static int sleep_f(BlockBackend *blk, int argc, char **argv)
{
    bool expired = false;
    QEMUTimer *timer;
    char *end;
    long ms;

    ms = strtol(argv[1], &end, 0);
    if (ms < 0 || *end) {
        printf("%s is not a valid number\n", argv[1]);
        return -EINVAL;
    }

    /* The main loop runs meanwhile: aio completions print as they come. */
    timer = aio_timer_new(qemu_get_aio_context(), QEMU_CLOCK_HOST, SCALE_NS,
                          sleep_cb, &expired);
    timer_mod(timer, qemu_clock_get_ns(QEMU_CLOCK_HOST) +
                     MIN(ms, INT64_MAX / 2 / SCALE_MS) * SCALE_MS);
    while (!expired) {
        main_loop_wait(false);
    }
    timer_free(timer);
    return 0;
}

static const cmdinfo_t sleep_cmd = {
    .name       = "sleep",
    .argmin     = 1,
    .argmax     = 1,
    .cfunc      = sleep_f,
    .flags      = CMD_NOFILE_OK,
    .oneline    = "waits for the given value in milliseconds",
};

/* ---- help ---- */

/* "<as typed> [<args> ]-- <oneline>" */
static void help_oneline(const char *cmd, const cmdinfo_t *ct)
{
    printf("%s ", cmd);
    if (ct->args) {
        printf("%s ", ct->args);
    }
    printf("-- %s\n", ct->oneline);
}

static int help_f(BlockBackend *blk, int argc, char **argv)
{
    const cmdinfo_t *ct;
    int i;

    if (argc < 2) {
        for (i = 0; i < ncmds; i++) {
            help_oneline(cmdtab[i]->name, cmdtab[i]);
        }
        printf("\nUse 'help commandname' for extended help.\n");
        return 0;
    }

    ct = find_command(argv[1]);
    if (!ct) {
        printf("command %s not found\n", argv[1]);
        return -EINVAL;
    }
    help_oneline(argv[1], ct);
    if (ct->help) {
        fputs(ct->help, stdout);
    }
    return 0;
}

static const cmdinfo_t help_cmd = {
    .name       = "help",
    .altname    = "?",
    .cfunc      = help_f,
    .argmin     = 0,
    .argmax     = 1,
    .flags      = CMD_FLAG_GLOBAL,
    .args       = "[command]",
    .oneline    = "help for one or all commands",
};

void qemuio_init_commands(void)
{
    static const cmdinfo_t *const cmds[] = {
        &read_cmd, &readv_cmd, &write_cmd, &writev_cmd, &aio_read_cmd,
        &aio_write_cmd, &aio_flush_cmd, &flush_cmd, &truncate_cmd,
        &length_cmd, &info_cmd, &discard_cmd, &alloc_cmd, &map_cmd,
        &reopen_cmd, &break_cmd, &remove_break_cmd, &resume_cmd,
        &wait_break_cmd, &abort_cmd, &sleep_cmd, &sigraise_cmd, &help_cmd,
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cmds); i++) {
        qemuio_add_command(cmds[i]);
    }
}
