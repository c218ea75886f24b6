/*
 * -T/--trace option handling with QEMU 7.2's syntax and messages, over an
 * empty set of trace events.
 */
#include "qemu/osdep.h"

#include "qemu/error.h"
#include "qemu/option.h"
#include "trace/control.h"

static QemuOptsList trace_opts = {
    .name = "trace",
    .implied_opt_name = "enable",
    .head = QTAILQ_HEAD_INITIALIZER(trace_opts.head),
    .desc = {
        { .name = "enable", .type = QEMU_OPT_STRING },
        { .name = "events", .type = QEMU_OPT_STRING },
        { .name = "file", .type = QEMU_OPT_STRING },
        { }
    },
};

/* The last file= given, until trace_init_file(). */
static char *trace_file_name;

/*
 * Enable (or, with a leading '-', disable) the events matching line.  A
 * name without '*' that matches nothing is warned about; where is the
 * events file and line it came from (NULL on the command line).  Returns
 * true for "help": the caller lists the events (none) and exits.
 */
static bool trace_enable_events(const char *line, const char *where)
{
    const char *name = line[0] == '-' ? line + 1 : line;

    if (is_help_option(line)) {
        return true;
    }
    if (strchr(name, '*')) {
        return false;
    }
    if (where) {
        fprintf(stderr, "%s:%s: warning: trace event '%s' does not exist\n",
                error_get_progname(), where, name);
    } else {
        warn_report("trace event '%s' does not exist", name);
    }
    return false;
}

/*
 * One event name or pattern per line; empty lines and '#' comments skip.
 * Returns true if a line asked for help.
 */
static bool trace_init_events(const char *fname)
{
    g_autofree char *line = NULL;
    size_t size = 0;
    ssize_t len;
    FILE *fp;
    int lineno = 0;
    bool help = false;

    fp = fopen(fname, "r");
    if (!fp) {
        fprintf(stderr, "%s:%s: %s\n", error_get_progname(), fname,
                strerror(errno));
        exit(1);
    }
    while (!help && (len = getline(&line, &size, fp)) != -1) {
        g_autofree char *where = NULL;

        lineno++;
        if (len > 0 && line[len - 1] == '\n') {
            line[len - 1] = '\0';
        }
        if (line[0] == '\0' || line[0] == '#') {
            continue;
        }
        where = g_strdup_printf("%s:%d", fname, lineno);
        help = trace_enable_events(line, where);
    }
    fclose(fp);
    return help;
}

void trace_opt_parse(const char *optarg)
{
    QemuOpts *opts = qemu_opts_parse_noisily(&trace_opts, optarg, true);
    const char *value;
    bool help = false;

    if (!opts) {
        exit(1);
    }
    value = qemu_opt_get(opts, "enable");
    if (value) {
        help = trace_enable_events(value, NULL);
    }
    value = qemu_opt_get(opts, "events");
    if (!help && value) {
        help = trace_init_events(value);
    }
    value = qemu_opt_get(opts, "file");
    if (value) {
        g_free(trace_file_name);
        trace_file_name = g_strdup(value);
    }
    qemu_opts_del(opts);
    if (help) {
        /* the list of events is empty */
        g_free(trace_file_name);
        exit(0);
    }
}

void trace_init_file(void)
{
    g_autofree char *name = g_steal_pointer(&trace_file_name);
    FILE *f;

    if (!name) {
        return;
    }
    f = fopen(name, "w");
    if (!f) {
        error_report("Error opening logfile %s: %s", name, strerror(errno));
        exit(1);
    }
    fclose(f);
}
