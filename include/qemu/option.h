/*
 * QemuOpts: typed "key=value,key2=value2" option lists, with QEMU 7.2's
 * API, parsing rules and messages.
 *
 * A QemuOptsList describes the accepted options (an array of QemuOptDesc
 * ended by an entry with a NULL name; no entries at all means "accept
 * anything, untyped").  It holds a list of QemuOpts, each a set of parsed
 * QemuOpt values.  The same name may be set several times: getters see
 * the last value.
 *
 * Lists are usually static:
 *
 *     static QemuOptsList foo_opts = {
 *         .name = "foo",
 *         .head = QTAILQ_HEAD_INITIALIZER(foo_opts.head),
 *         .desc = {
 *             { .name = "size", .type = QEMU_OPT_SIZE, .help = "..." },
 *             { }
 *         },
 *     };
 */
#ifndef QEMU_OPTION_H
#define QEMU_OPTION_H

#include "qemu/queue.h"

typedef struct QDict QDict;

enum QemuOptType {
    QEMU_OPT_STRING = 0,    /* taken as is */
    QEMU_OPT_BOOL,          /* on/yes/true/y or off/no/false/n */
    QEMU_OPT_NUMBER,        /* qemu_strtou64 base 0 (so 0x.., 0..) */
    QEMU_OPT_SIZE,          /* qemu_strtosz: 1.5k, 4M, 0x1000 ... */
};

typedef struct QemuOptDesc {
    const char *name;
    enum QemuOptType type;
    const char *help;
    /* Value reported by the getters (and printed) while the option is unset. */
    const char *def_value_str;
} QemuOptDesc;

typedef struct QemuOpt QemuOpt;
typedef struct QemuOpts QemuOpts;

typedef struct QemuOptsList {
    const char *name;
    /* Name given to a leading value without "name=" (permit_abbrev). */
    const char *implied_opt_name;
    /* At most one QemuOpts, without id, that every parse adds to. */
    bool merge_lists;
    QTAILQ_HEAD(, QemuOpts) head;
    QemuOptDesc desc[];
} QemuOptsList;

/* One option value.  Treat as private outside util/qemu-option.c. */
struct QemuOpt {
    char *name;
    char *str;                  /* the value as given */
    const QemuOptDesc *desc;    /* NULL in accept-anything lists */
    union {
        bool boolean;
        uint64_t uint;          /* QEMU_OPT_NUMBER and QEMU_OPT_SIZE */
    } value;
    QemuOpts *opts;
    QTAILQ_ENTRY(QemuOpt) next;
};

/* One set of options.  Treat as private outside util/qemu-option.c. */
struct QemuOpts {
    char *id;
    QemuOptsList *list;
    QTAILQ_HEAD(, QemuOpt) head;
    QTAILQ_ENTRY(QemuOpts) next;
};

/* "help" or "?" */
static inline bool is_help_option(const char *s)
{
    return !strcmp(s, "?") || !strcmp(s, "help");
}

/* True if some comma-separated element of param is a help option. */
bool has_help_option(const char *param);

/*
 * Copy the value starting at p up to the next single ',' into a new
 * string *value, turning ",," into ','.  Returns the position of that
 * ',' (or of the terminating NUL).
 */
const char *get_opt_value(const char *p, char **value);

/* Value parsers with QEMU's messages ("Parameter '%s' expects ..."). */
bool qapi_bool_parse(const char *name, const char *value, bool *obj,
                     Error **errp);
bool parse_option_size(const char *name, const char *value,
                       uint64_t *ret, Error **errp);

/* ---- single options ---- */

/* Last value set for name, else the default, else NULL. */
const char *qemu_opt_get(QemuOpts *opts, const char *name);
/* Same, as a new string; all values of name are then removed. */
char *qemu_opt_get_del(QemuOpts *opts, const char *name);
QemuOpt *qemu_opt_find(QemuOpts *opts, const char *name);
/* True if an option named "help" or "?" was given. */
bool qemu_opt_has_help_opt(QemuOpts *opts);

/*
 * Typed getters: the last value, else the description's default, else
 * defval.  The option must be described with the matching type.  The
 * _del variants also remove every value of name.
 */
bool qemu_opt_get_bool(QemuOpts *opts, const char *name, bool defval);
uint64_t qemu_opt_get_number(QemuOpts *opts, const char *name,
                             uint64_t defval);
uint64_t qemu_opt_get_size(QemuOpts *opts, const char *name,
                           uint64_t defval);
bool qemu_opt_get_bool_del(QemuOpts *opts, const char *name, bool defval);
uint64_t qemu_opt_get_number_del(QemuOpts *opts, const char *name,
                                 uint64_t defval);
uint64_t qemu_opt_get_size_del(QemuOpts *opts, const char *name,
                               uint64_t defval);

/* Remove the last value of name (accept-anything lists only); -1 if none. */
int qemu_opt_unset(QemuOpts *opts, const char *name);

/*
 * Add a value; it is parsed according to the description.  Errors:
 * "Invalid parameter '%s'" for an undescribed name, or the type's error.
 */
bool qemu_opt_set(QemuOpts *opts, const char *name, const char *value,
                  Error **errp);
/* The string form becomes "on"/"off" and "%" PRId64 respectively. */
bool qemu_opt_set_bool(QemuOpts *opts, const char *name, bool val,
                       Error **errp);
bool qemu_opt_set_number(QemuOpts *opts, const char *name, int64_t val,
                         Error **errp);

/* Call func on each value in order; stops at (and returns) a non-zero. */
typedef int (*qemu_opt_loopfunc)(void *opaque, const char *name,
                                 const char *value, Error **errp);
int qemu_opt_foreach(QemuOpts *opts, qemu_opt_loopfunc func, void *opaque,
                     Error **errp);

/* Iterate over the values of one name, oldest first. */
typedef struct {
    QemuOpts *opts;
    QemuOpt *opt;
    const char *name;
} QemuOptsIter;

void qemu_opt_iter_init(QemuOptsIter *iter, QemuOpts *opts,
                        const char *name);
const char *qemu_opt_iter_next(QemuOptsIter *iter);

/* ---- option sets ---- */

/* The QemuOpts with this id (NULL: the one without id), or NULL. */
QemuOpts *qemu_opts_find(QemuOptsList *list, const char *id);
/*
 * New QemuOpts in list.  A malformed id is an error, as is an existing id
 * when fail_if_exists (otherwise that QemuOpts is returned).  For
 * merge_lists lists an id is an error and the existing set is returned.
 */
QemuOpts *qemu_opts_create(QemuOptsList *list, const char *id,
                           int fail_if_exists, Error **errp);
/* Delete every QemuOpts of list. */
void qemu_opts_reset(QemuOptsList *list);
const char *qemu_opts_id(QemuOpts *opts);
/* Takes ownership of id. */
void qemu_opts_set_id(QemuOpts *opts, char *id);
void qemu_opts_del(QemuOpts *opts);

/*
 * Parse and type-check each value of an accept-anything QemuOpts against
 * desc.
 */
bool qemu_opts_validate(QemuOpts *opts, const QemuOptDesc *desc,
                        Error **errp);

/*
 * Parse "name=value,..." into opts.  ",," is a literal comma in a value.
 * An element without '=' is the value of firstname if it comes first
 * (firstname non-NULL), else a boolean flag: "foo" is foo=on, "nofoo" is
 * foo=off.  "id=..." elements are skipped here.  On error the values
 * parsed so far stay in opts.
 */
bool qemu_opts_do_parse(QemuOpts *opts, const char *params,
                        const char *firstname, Error **errp);
/*
 * Parse params into a new QemuOpts of list, whose id comes from an
 * "id=..." element.  permit_abbrev allows the list's implied_opt_name.
 */
QemuOpts *qemu_opts_parse(QemuOptsList *list, const char *params,
                          bool permit_abbrev, Error **errp);
/*
 * The same for command lines: short-form booleans warn that they are
 * deprecated, "help"/"?" prints the list's help (qemu_opts_print_help)
 * and other errors are reported; returns NULL in both cases.
 */
QemuOpts *qemu_opts_parse_noisily(QemuOptsList *list, const char *params,
                                  bool permit_abbrev);

/*
 * QDict conversions.  Strings are taken as is, numbers formatted, booleans
 * become "on"/"off"; other types are ignored.
 */
QemuOpts *qemu_opts_from_qdict(QemuOptsList *list, const QDict *qdict,
                               Error **errp);
/*
 * Move the entries of qdict that opts's list describes (all of them for
 * an accept-anything list) into opts.  On error the entry that failed and
 * those not yet visited stay in qdict.
 */
bool qemu_opts_absorb_qdict(QemuOpts *opts, QDict *qdict, Error **errp);
/*
 * Put opts's values as strings into qdict (a new one if NULL), plus "id";
 * with list, only names it describes; with del, remove them from opts.
 */
QDict *qemu_opts_to_qdict_filtered(QemuOpts *opts, QDict *qdict,
                                   QemuOptsList *list, bool del);
QDict *qemu_opts_to_qdict(QemuOpts *opts, QDict *qdict);

typedef int (*qemu_opts_loopfunc)(void *opaque, QemuOpts *opts,
                                  Error **errp);
int qemu_opts_foreach(QemuOptsList *list, qemu_opts_loopfunc func,
                      void *opaque, Error **errp);

/*
 * Print to stdout, separated by sep: "id=..." first if set, then every
 * described option that is set or has a default, in description order
 * (strings with ',' doubled, set numbers and sizes as parsed numbers,
 * everything else as given).  Without descriptions, every value in order.
 */
void qemu_opts_print(QemuOpts *opts, const char *sep);
/*
 * Print "  name=<type>  - help" lines to stdout, sorted, with an
 * "<list name> options:" caption if print_caption.
 */
void qemu_opts_print_help(QemuOptsList *list, bool print_caption);

/*
 * Return dst (NULL or a list made by this function, possibly moved) with
 * the descriptions of list appended; names dst already has are skipped.
 * Free the result with qemu_opts_free.
 */
QemuOptsList *qemu_opts_append(QemuOptsList *dst, QemuOptsList *list);
void qemu_opts_free(QemuOptsList *list);

#endif
