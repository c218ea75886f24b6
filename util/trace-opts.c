/*
 * -T/--trace for the tools, with QEMU 7.2's syntax and diagnostics.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/option.h"
#include "qemu/trace-opts.h"

static QemuOptsList trace_opts = {
    .name = "trace",
    .implied_opt_name = "enable",
    .head = QTAILQ_HEAD_INITIALIZER(trace_opts.head),
    .desc = {
        { .name = "enable", .type = QEMU_OPT_STRING },
        { .name = "events", .type = QEMU_OPT_STRING },
        { .name = "file", .type = QEMU_OPT_STRING },
        { /* end of list */ }
    },
};

/*
 * Enable (or, with a leading '-', disable) the events matching pattern.
 * There are none: a '*' pattern silently matches nothing, a plain name
 * gets QEMU's warning, located at file:line when it came from a file.
 */
static void trace_enable_events(const char *pattern, const char *file,
                                int line)
{
    if (is_help_option(pattern)) {
        /* The event list would go to stdout; it is empty. */
        exit(0);
    }
    if (pattern[0] == '-') {
        pattern++;
    }
    if (strchr(pattern, '*')) {
        return;
    }
    if (file) {
        fprintf(stderr, "%s:%s:%d: warning: trace event '%s' does not exist\n",
                error_get_progname(), file, line, pattern);
    } else {
        warn_report("trace event '%s' does not exist", pattern);
    }
}

/* One pattern per line; empty lines and '#' comments are skipped. */
static void trace_init_events(const char *fname)
{
    g_autofree char *line_buf = g_malloc(1024);
    int line = 0;
    FILE *fp;

    fp = fopen(fname, "r");
    if (!fp) {
        fprintf(stderr, "%s:%s: %s\n", error_get_progname(), fname,
                strerror(errno));
        exit(1);
    }
    while (fgets(line_buf, 1024, fp)) {
        line++;
        /*
         * QEMU drops the last character of every line, so a last line
         * without a newline loses a real character; strip only '\n'.
         */
        line_buf[strcspn(line_buf, "\n")] = '\0';
        if (!line_buf[0] || line_buf[0] == '#') {
            continue;
        }
        trace_enable_events(line_buf, fname, line);
    }
    if (fclose(fp) != 0) {
        fprintf(stderr, "%s:%s: %s\n", error_get_progname(), fname,
                strerror(errno));
        exit(1);
    }
}

void trace_opt_parse(const char *optarg)
{
    QemuOpts *opts = qemu_opts_parse_noisily(&trace_opts, optarg, true);
    const char *value;

    if (!opts) {
        exit(1);
    }
    value = qemu_opt_get(opts, "enable");
    if (value) {
        trace_enable_events(value, NULL, 0);
    }
    value = qemu_opt_get(opts, "events");
    if (value) {
        trace_init_events(value);
    }
    /* "file" names the trace log; with no trace points it stays unused. */
    qemu_opts_del(opts);
}
