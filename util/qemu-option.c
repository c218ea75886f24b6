/*
 * QemuOpts option lists.
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/option.h"
#include "qemu/qdict.h"

/* ---- value parsing ---- */

const char *get_opt_value(const char *p, char **value)
{
    GString *out = g_string_new(NULL);

    for (;;) {
        const char *comma = strchrnul(p, ',');

        g_string_append_len(out, p, comma - p);
        if (comma[0] != ',' || comma[1] != ',') {
            *value = g_string_free(out, false);
            return comma;
        }
        /* ",," stands for one literal comma. */
        g_string_append_c(out, ',');
        p = comma + 2;
    }
}

bool has_help_option(const char *param)
{
    const char *p = param;

    while (*p) {
        g_autofree char *value = NULL;

        p = get_opt_value(p, &value);
        if (*p) {
            p++;
        }
        if (is_help_option(value)) {
            return true;
        }
    }
    return false;
}

bool qapi_bool_parse(const char *name, const char *value, bool *obj,
                     Error **errp)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };

    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (!strcmp(value, yes[i])) {
            *obj = true;
            return true;
        }
        if (!strcmp(value, no[i])) {
            *obj = false;
            return true;
        }
    }
    error_setg(errp, "Parameter '%s' expects 'on' or 'off'", name);
    return false;
}

static bool parse_option_number(const char *name, const char *value,
                                uint64_t *ret, Error **errp)
{
    uint64_t number;
    int err = qemu_strtou64(value, NULL, 0, &number);

    if (err == -ERANGE) {
        error_setg(errp, "Value '%s' is too large for parameter '%s'",
                   value, name);
        return false;
    }
    if (err) {
        error_setg(errp, "Parameter '%s' expects a number", name);
        return false;
    }
    *ret = number;
    return true;
}

bool parse_option_size(const char *name, const char *value,
                       uint64_t *ret, Error **errp)
{
    uint64_t size;
    int err = qemu_strtosz(value, NULL, &size);

    if (err == -ERANGE) {
        error_setg(errp, "Value '%s' is out of range for parameter '%s'",
                   value, name);
        return false;
    }
    if (err) {
        error_setg(errp, "Parameter '%s' expects a non-negative number "
                   "below 2^64", name);
        error_append_hint(errp, "Optional suffix k, M, G, T, P or E means"
                          " kilo-, mega-, giga-, tera-, peta-\n"
                          "and exabytes, respectively.\n");
        return false;
    }
    *ret = size;
    return true;
}

/* ---- descriptions ---- */

static bool opts_accepts_any(const QemuOptDesc *desc)
{
    return desc[0].name == NULL;
}

static const QemuOptDesc *find_desc_by_name(const QemuOptDesc *desc,
                                            const char *name)
{
    for (; desc->name; desc++) {
        if (!strcmp(desc->name, name)) {
            return desc;
        }
    }
    return NULL;
}

static const char *find_default_by_name(QemuOpts *opts, const char *name)
{
    const QemuOptDesc *desc = find_desc_by_name(opts->list->desc, name);

    return desc ? desc->def_value_str : NULL;
}

/* Parse opt->str according to opt->desc into opt->value. */
static bool qemu_opt_parse(QemuOpt *opt, Error **errp)
{
    if (!opt->desc) {
        return true;
    }
    switch (opt->desc->type) {
    case QEMU_OPT_STRING:
        return true;
    case QEMU_OPT_BOOL:
        return qapi_bool_parse(opt->name, opt->str, &opt->value.boolean,
                               errp);
    case QEMU_OPT_NUMBER:
        return parse_option_number(opt->name, opt->str, &opt->value.uint,
                                   errp);
    case QEMU_OPT_SIZE:
        return parse_option_size(opt->name, opt->str, &opt->value.uint,
                                 errp);
    }
    g_assert_not_reached();
}

/* ---- single options ---- */

static void qemu_opt_del(QemuOpt *opt)
{
    QTAILQ_REMOVE(&opt->opts->head, opt, next);
    g_free(opt->name);
    g_free(opt->str);
    g_free(opt);
}

static void qemu_opt_del_all(QemuOpts *opts, const char *name)
{
    QemuOpt *opt, *next;

    QTAILQ_FOREACH_SAFE(opt, &opts->head, next, next) {
        if (!strcmp(opt->name, name)) {
            qemu_opt_del(opt);
        }
    }
}

QemuOpt *qemu_opt_find(QemuOpts *opts, const char *name)
{
    QemuOpt *opt;

    /* The last value given wins. */
    QTAILQ_FOREACH_REVERSE(opt, &opts->head, next) {
        if (!strcmp(opt->name, name)) {
            return opt;
        }
    }
    return NULL;
}

const char *qemu_opt_get(QemuOpts *opts, const char *name)
{
    QemuOpt *opt;

    if (!opts) {
        return NULL;
    }
    opt = qemu_opt_find(opts, name);
    return opt ? opt->str : find_default_by_name(opts, name);
}

char *qemu_opt_get_del(QemuOpts *opts, const char *name)
{
    QemuOpt *opt;
    char *str;

    if (!opts) {
        return NULL;
    }
    opt = qemu_opt_find(opts, name);
    if (!opt) {
        return g_strdup(find_default_by_name(opts, name));
    }
    str = opt->str;
    opt->str = NULL;
    qemu_opt_del_all(opts, name);
    return str;
}

bool qemu_opt_has_help_opt(QemuOpts *opts)
{
    QemuOpt *opt;

    QTAILQ_FOREACH(opt, &opts->head, next) {
        if (is_help_option(opt->name)) {
            return true;
        }
    }
    return false;
}

/*
 * Common part of the typed getters: the last value of name parsed as
 * type, else its default, else defval.
 */
static uint64_t opt_get_typed(QemuOpts *opts, const char *name,
                              enum QemuOptType type, uint64_t defval,
                              bool del)
{
    QemuOpt *opt;
    const char *def;
    uint64_t ret = defval;
    bool b;

    if (!opts) {
        return defval;
    }
    opt = qemu_opt_find(opts, name);
    if (!opt) {
        /* Defaults are part of the program: they must parse. */
        def = find_default_by_name(opts, name);
        if (!def) {
            return defval;
        }
        switch (type) {
        case QEMU_OPT_BOOL:
            qapi_bool_parse(name, def, &b, &error_abort);
            return b;
        case QEMU_OPT_NUMBER:
            parse_option_number(name, def, &ret, &error_abort);
            return ret;
        case QEMU_OPT_SIZE:
            parse_option_size(name, def, &ret, &error_abort);
            return ret;
        case QEMU_OPT_STRING:
            break;
        }
        g_assert_not_reached();
    }
    assert(opt->desc && opt->desc->type == type);
    ret = type == QEMU_OPT_BOOL ? opt->value.boolean : opt->value.uint;
    if (del) {
        qemu_opt_del_all(opts, name);
    }
    return ret;
}

bool qemu_opt_get_bool(QemuOpts *opts, const char *name, bool defval)
{
    return opt_get_typed(opts, name, QEMU_OPT_BOOL, defval, false);
}

uint64_t qemu_opt_get_number(QemuOpts *opts, const char *name,
                             uint64_t defval)
{
    return opt_get_typed(opts, name, QEMU_OPT_NUMBER, defval, false);
}

uint64_t qemu_opt_get_size(QemuOpts *opts, const char *name,
                           uint64_t defval)
{
    return opt_get_typed(opts, name, QEMU_OPT_SIZE, defval, false);
}

bool qemu_opt_get_bool_del(QemuOpts *opts, const char *name, bool defval)
{
    return opt_get_typed(opts, name, QEMU_OPT_BOOL, defval, true);
}

uint64_t qemu_opt_get_number_del(QemuOpts *opts, const char *name,
                                 uint64_t defval)
{
    return opt_get_typed(opts, name, QEMU_OPT_NUMBER, defval, true);
}

uint64_t qemu_opt_get_size_del(QemuOpts *opts, const char *name,
                               uint64_t defval)
{
    return opt_get_typed(opts, name, QEMU_OPT_SIZE, defval, true);
}

int qemu_opt_unset(QemuOpts *opts, const char *name)
{
    QemuOpt *opt = qemu_opt_find(opts, name);

    assert(opts_accepts_any(opts->list->desc));
    if (!opt) {
        return -1;
    }
    qemu_opt_del(opt);
    return 0;
}

/* Append a value (taking ownership of name and value), unchecked. */
static QemuOpt *opt_create(QemuOpts *opts, char *name, char *value)
{
    QemuOpt *opt = g_new0(QemuOpt, 1);

    opt->name = name;
    opt->str = value;
    opt->opts = opts;
    QTAILQ_INSERT_TAIL(&opts->head, opt, next);
    return opt;
}

/* Look up the description of a new value and parse it. */
static bool opt_validate(QemuOpt *opt, Error **errp)
{
    const QemuOptDesc *list_desc = opt->opts->list->desc;

    opt->desc = find_desc_by_name(list_desc, opt->name);
    if (!opt->desc && !opts_accepts_any(list_desc)) {
        error_setg(errp, "Invalid parameter '%s'", opt->name);
        return false;
    }
    return qemu_opt_parse(opt, errp);
}

bool qemu_opt_set(QemuOpts *opts, const char *name, const char *value,
                  Error **errp)
{
    QemuOpt *opt = opt_create(opts, g_strdup(name), g_strdup(value));

    if (!opt_validate(opt, errp)) {
        qemu_opt_del(opt);
        return false;
    }
    return true;
}

/* Append an already-parsed value; the type is not checked. */
static QemuOpt *opt_set_parsed(QemuOpts *opts, const char *name,
                               char *str, Error **errp)
{
    const QemuOptDesc *desc = find_desc_by_name(opts->list->desc, name);
    QemuOpt *opt;

    if (!desc && !opts_accepts_any(opts->list->desc)) {
        error_setg(errp, "Invalid parameter '%s'", name);
        g_free(str);
        return NULL;
    }
    opt = opt_create(opts, g_strdup(name), str);
    opt->desc = desc;
    return opt;
}

bool qemu_opt_set_bool(QemuOpts *opts, const char *name, bool val,
                       Error **errp)
{
    QemuOpt *opt = opt_set_parsed(opts, name, g_strdup(val ? "on" : "off"),
                                  errp);

    if (!opt) {
        return false;
    }
    opt->value.boolean = val;
    return true;
}

bool qemu_opt_set_number(QemuOpts *opts, const char *name, int64_t val,
                         Error **errp)
{
    QemuOpt *opt = opt_set_parsed(opts, name,
                                  g_strdup_printf("%" PRId64, val), errp);

    if (!opt) {
        return false;
    }
    opt->value.uint = val;
    return true;
}

int qemu_opt_foreach(QemuOpts *opts, qemu_opt_loopfunc func, void *opaque,
                     Error **errp)
{
    QemuOpt *opt;
    int rc;

    QTAILQ_FOREACH(opt, &opts->head, next) {
        rc = func(opaque, opt->name, opt->str, errp);
        if (rc) {
            return rc;
        }
        assert(!errp || !*errp);
    }
    return 0;
}

/* First value of name at or after opt. */
static QemuOpt *opt_find_from(QemuOpt *opt, const char *name)
{
    while (opt && strcmp(opt->name, name)) {
        opt = QTAILQ_NEXT(opt, next);
    }
    return opt;
}

void qemu_opt_iter_init(QemuOptsIter *iter, QemuOpts *opts,
                        const char *name)
{
    iter->opts = opts;
    iter->name = name;
    iter->opt = opt_find_from(QTAILQ_FIRST(&opts->head), name);
}

const char *qemu_opt_iter_next(QemuOptsIter *iter)
{
    QemuOpt *opt = iter->opt;

    if (!opt) {
        return NULL;
    }
    iter->opt = opt_find_from(QTAILQ_NEXT(opt, next), iter->name);
    return opt->str;
}

/* ---- option sets ---- */

QemuOpts *qemu_opts_find(QemuOptsList *list, const char *id)
{
    QemuOpts *opts;

    QTAILQ_FOREACH(opts, &list->head, next) {
        if (!opts->id ? !id : id && !strcmp(opts->id, id)) {
            return opts;
        }
    }
    return NULL;
}

/* A letter, then letters, digits, '-', '.' and '_'. */
static bool id_wellformed(const char *id)
{
    if (!qemu_isalpha(id[0])) {
        return false;
    }
    for (int i = 1; id[i]; i++) {
        if (!qemu_isalnum(id[i]) && !strchr("-._", id[i])) {
            return false;
        }
    }
    return true;
}

QemuOpts *qemu_opts_create(QemuOptsList *list, const char *id,
                           int fail_if_exists, Error **errp)
{
    QemuOpts *opts;

    if (list->merge_lists) {
        if (id) {
            error_setg(errp, "Invalid parameter '%s'", "id");
            return NULL;
        }
        opts = qemu_opts_find(list, NULL);
        if (opts) {
            return opts;
        }
    } else if (id) {
        if (!id_wellformed(id)) {
            error_setg(errp, "Parameter '%s' expects %s", "id",
                       "an identifier");
            error_append_hint(errp, "Identifiers consist of letters, "
                              "digits, '-', '.', '_', starting with a "
                              "letter.\n");
            return NULL;
        }
        opts = qemu_opts_find(list, id);
        if (opts) {
            if (fail_if_exists) {
                error_setg(errp, "Duplicate ID '%s' for %s", id, list->name);
                return NULL;
            }
            return opts;
        }
    }

    opts = g_new0(QemuOpts, 1);
    opts->id = g_strdup(id);
    opts->list = list;
    QTAILQ_INIT(&opts->head);
    QTAILQ_INSERT_TAIL(&list->head, opts, next);
    return opts;
}

void qemu_opts_reset(QemuOptsList *list)
{
    QemuOpts *opts, *next;

    QTAILQ_FOREACH_SAFE(opts, &list->head, next, next) {
        qemu_opts_del(opts);
    }
}

const char *qemu_opts_id(QemuOpts *opts)
{
    return opts->id;
}

void qemu_opts_set_id(QemuOpts *opts, char *id)
{
    g_free(opts->id);
    opts->id = id;
}

void qemu_opts_del(QemuOpts *opts)
{
    QemuOpt *opt;

    if (!opts) {
        return;
    }
    while ((opt = QTAILQ_FIRST(&opts->head))) {
        qemu_opt_del(opt);
    }
    QTAILQ_REMOVE(&opts->list->head, opts, next);
    g_free(opts->id);
    g_free(opts);
}

bool qemu_opts_validate(QemuOpts *opts, const QemuOptDesc *desc,
                        Error **errp)
{
    QemuOpt *opt;

    assert(opts_accepts_any(opts->list->desc));

    QTAILQ_FOREACH(opt, &opts->head, next) {
        opt->desc = find_desc_by_name(desc, opt->name);
        if (!opt->desc) {
            error_setg(errp, "Invalid parameter '%s'", opt->name);
            return false;
        }
        if (!qemu_opt_parse(opt, errp)) {
            return false;
        }
    }
    return true;
}

/* ---- parsing ---- */

/*
 * Split the element at params into *name and *value (both new strings)
 * and return the start of the next element.  Sets *is_help for a bare
 * "help" or "?".
 */
static const char *get_opt_name_value(const char *params,
                                      const char *firstname,
                                      bool warn_on_flag, bool *is_help,
                                      char **name, char **value)
{
    size_t len = strcspn(params, "=,");
    const char *p;

    *is_help = false;
    if (params[len] == '=') {
        *name = g_strndup(params, len);
        p = get_opt_value(params + len + 1, value);
    } else if (firstname) {
        /* A leading bare value belongs to the implied option. */
        *name = g_strdup(firstname);
        p = get_opt_value(params, value);
    } else {
        /* A bare name is a boolean flag: "foo" on, "nofoo" off. */
        bool negated = strncmp(params, "no", 2) == 0 && len >= 2;

        *name = g_strndup(params + (negated ? 2 : 0), len - (negated ? 2 : 0));
        *value = g_strdup(negated ? "off" : "on");
        *is_help = !negated && is_help_option(*name);
        if (warn_on_flag && !*is_help) {
            warn_report("short-form boolean option '%s%s' deprecated",
                        negated ? "no" : "", *name);
            error_printf("Please use %s=%s instead\n", *name, *value);
        }
        p = params + len;
    }
    assert(*p == '\0' || *p == ',');
    return *p ? p + 1 : p;
}

static bool opts_do_parse(QemuOpts *opts, const char *params,
                          const char *firstname, bool warn_on_flag,
                          bool *help_wanted, Error **errp)
{
    const char *p = params;

    while (*p) {
        g_autofree char *name = NULL;
        g_autofree char *value = NULL;
        bool is_help;
        QemuOpt *opt;

        p = get_opt_name_value(p, firstname, warn_on_flag, &is_help,
                               &name, &value);
        firstname = NULL;
        if (is_help && help_wanted) {
            *help_wanted = true;
            return false;
        }
        if (!strcmp(name, "id")) {
            /* Taken care of by whoever created opts. */
            continue;
        }
        opt = opt_create(opts, g_steal_pointer(&name),
                         g_steal_pointer(&value));
        if (!opt_validate(opt, errp)) {
            qemu_opt_del(opt);
            return false;
        }
    }
    return true;
}

bool qemu_opts_do_parse(QemuOpts *opts, const char *params,
                        const char *firstname, Error **errp)
{
    return opts_do_parse(opts, params, firstname, false, NULL, errp);
}

/* The value of the first "id=..." element, or NULL. */
static char *opts_parse_id(const char *params)
{
    const char *p = params;

    while (*p) {
        g_autofree char *name = NULL;
        g_autofree char *value = NULL;
        bool is_help;

        p = get_opt_name_value(p, NULL, false, &is_help, &name, &value);
        if (!strcmp(name, "id")) {
            return g_steal_pointer(&value);
        }
    }
    return NULL;
}

static QemuOpts *opts_parse(QemuOptsList *list, const char *params,
                            bool permit_abbrev, bool warn_on_flag,
                            bool *help_wanted, Error **errp)
{
    g_autofree char *id = opts_parse_id(params);
    const char *firstname;
    QemuOpts *opts;

    assert(!permit_abbrev || list->implied_opt_name);
    firstname = permit_abbrev ? list->implied_opt_name : NULL;

    opts = qemu_opts_create(list, id, !list->merge_lists, errp);
    if (!opts) {
        return NULL;
    }
    if (!opts_do_parse(opts, params, firstname, warn_on_flag, help_wanted,
                       errp)) {
        qemu_opts_del(opts);
        return NULL;
    }
    return opts;
}

QemuOpts *qemu_opts_parse(QemuOptsList *list, const char *params,
                          bool permit_abbrev, Error **errp)
{
    return opts_parse(list, params, permit_abbrev, false, NULL, errp);
}

QemuOpts *qemu_opts_parse_noisily(QemuOptsList *list, const char *params,
                                  bool permit_abbrev)
{
    Error *err = NULL;
    bool help_wanted = false;
    QemuOpts *opts;

    /*
     * Lists that accept anything keep "help" as an ordinary option for
     * the caller to look at (qemu_opt_has_help_opt).
     */
    opts = opts_parse(list, params, permit_abbrev, true,
                      opts_accepts_any(list->desc) ? NULL : &help_wanted,
                      &err);
    if (!opts) {
        if (help_wanted) {
            qemu_opts_print_help(list, true);
        } else {
            error_report_err(err);
        }
    }
    return opts;
}

/* ---- QDict ---- */

/* Set the QDict entry key=obj in opts; other types than scalars are ignored. */
static bool opts_set_from_qobject(QemuOpts *opts, const char *key,
                                  QObject *obj, Error **errp)
{
    g_autofree char *tmp = NULL;
    const char *value;

    if (!strcmp(key, "id")) {
        return true;
    }
    switch (qobject_type(obj)) {
    case QTYPE_QSTRING:
        value = qstring_get_str(qobject_to(QString, obj));
        break;
    case QTYPE_QNUM:
        tmp = qnum_to_string(qobject_to(QNum, obj));
        value = tmp;
        break;
    case QTYPE_QBOOL:
        value = qbool_get_bool(qobject_to(QBool, obj)) ? "on" : "off";
        break;
    default:
        return true;
    }
    return qemu_opt_set(opts, key, value, errp);
}

QemuOpts *qemu_opts_from_qdict(QemuOptsList *list, const QDict *qdict,
                               Error **errp)
{
    const QDictEntry *entry;
    QemuOpts *opts;

    opts = qemu_opts_create(list, qdict_get_try_str(qdict, "id"), 1, errp);
    if (!opts) {
        return NULL;
    }
    for (entry = qdict_first(qdict); entry;
         entry = qdict_next(qdict, entry)) {
        if (!opts_set_from_qobject(opts, qdict_entry_key(entry),
                                   qdict_entry_value(entry), errp)) {
            qemu_opts_del(opts);
            return NULL;
        }
    }
    return opts;
}

bool qemu_opts_absorb_qdict(QemuOpts *opts, QDict *qdict, Error **errp)
{
    const QDictEntry *entry = qdict_first(qdict);

    while (entry) {
        /* Find the successor before entry goes away. */
        const QDictEntry *next = qdict_next(qdict, entry);
        const char *key = qdict_entry_key(entry);

        if (opts_accepts_any(opts->list->desc) ||
            find_desc_by_name(opts->list->desc, key)) {
            if (!opts_set_from_qobject(opts, key, qdict_entry_value(entry),
                                       errp)) {
                return false;
            }
            qdict_del(qdict, key);
        }
        entry = next;
    }
    return true;
}

QDict *qemu_opts_to_qdict_filtered(QemuOpts *opts, QDict *qdict,
                                   QemuOptsList *list, bool del)
{
    QemuOpt *opt, *next;

    if (!qdict) {
        qdict = qdict_new();
    }
    if (opts->id) {
        qdict_put_str(qdict, "id", opts->id);
    }
    QTAILQ_FOREACH_SAFE(opt, &opts->head, next, next) {
        if (list && !find_desc_by_name(list->desc, opt->name)) {
            continue;
        }
        qdict_put_str(qdict, opt->name, opt->str);
        if (del) {
            qemu_opt_del(opt);
        }
    }
    return qdict;
}

QDict *qemu_opts_to_qdict(QemuOpts *opts, QDict *qdict)
{
    return qemu_opts_to_qdict_filtered(opts, qdict, NULL, false);
}

int qemu_opts_foreach(QemuOptsList *list, qemu_opts_loopfunc func,
                      void *opaque, Error **errp)
{
    QemuOpts *opts, *next;
    int rc;

    QTAILQ_FOREACH_SAFE(opts, &list->head, next, next) {
        rc = func(opaque, opts, errp);
        if (rc) {
            return rc;
        }
        assert(!errp || !*errp);
    }
    return 0;
}

/* ---- printing ---- */

/* A value as qemu_opts_do_parse would read it back: commas doubled. */
static void print_escaped(const char *value)
{
    for (const char *c = value; *c; c++) {
        if (*c == ',') {
            putchar(',');
        }
        putchar(*c);
    }
}

void qemu_opts_print(QemuOpts *opts, const char *sep)
{
    const QemuOptDesc *desc = opts->list->desc;
    const char *s = "";
    QemuOpt *opt;

    if (opts->id) {
        /* Ids are well-formed, hence comma-free. */
        printf("id=%s", opts->id);
        s = sep;
    }

    if (opts_accepts_any(desc)) {
        QTAILQ_FOREACH(opt, &opts->head, next) {
            printf("%s%s=", s, opt->name);
            print_escaped(opt->str);
            s = sep;
        }
        return;
    }

    for (; desc->name; desc++) {
        const char *value;

        opt = qemu_opt_find(opts, desc->name);
        value = opt ? opt->str : desc->def_value_str;
        if (!value) {
            continue;
        }
        printf("%s%s=", s, desc->name);
        if (desc->type == QEMU_OPT_STRING) {
            print_escaped(value);
        } else if (opt && (desc->type == QEMU_OPT_SIZE ||
                           desc->type == QEMU_OPT_NUMBER)) {
            /* Signed on purpose: QEMU prints "refcount_bits=-1". */
            printf("%" PRId64, (int64_t)opt->value.uint);
        } else {
            fputs(value, stdout);
        }
        s = sep;
    }
}

static const char *opt_type_name(enum QemuOptType type)
{
    switch (type) {
    case QEMU_OPT_STRING:
        return "str";
    case QEMU_OPT_BOOL:
        return "bool (on/off)";
    case QEMU_OPT_NUMBER:
        return "num";
    case QEMU_OPT_SIZE:
        return "size";
    }
    g_assert_not_reached();
}

static gint compare_lines(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void qemu_opts_print_help(QemuOptsList *list, bool print_caption)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

    for (const QemuOptDesc *desc = list->desc; desc->name; desc++) {
        GString *line = g_string_new(NULL);

        g_string_append_printf(line, "  %s=<%s>", desc->name,
                               opt_type_name(desc->type));
        if (desc->help) {
            /* The help text starts in column 26 unless the name is long. */
            while (line->len < 24) {
                g_string_append_c(line, ' ');
            }
            g_string_append_printf(line, " - %s", desc->help);
        }
        g_ptr_array_add(lines, g_string_free(line, false));
    }
    /* QEMU sorts whole lines, not names ("a-b=" before "a="). */
    g_ptr_array_sort(lines, compare_lines);

    if (lines->len == 0) {
        if (list->name) {
            printf("There are no options for %s.\n", list->name);
        } else {
            printf("No options.\n");
        }
    } else if (print_caption) {
        if (list->name) {
            printf("%s options:\n", list->name);
        } else {
            printf("Options:\n");
        }
    }
    for (guint i = 0; i < lines->len; i++) {
        printf("%s\n", (char *)g_ptr_array_index(lines, i));
    }
}

/* ---- list building ---- */

static size_t count_opts_list(const QemuOptsList *list)
{
    size_t n = 0;

    if (list) {
        while (list->desc[n].name) {
            n++;
        }
    }
    return n;
}

QemuOptsList *qemu_opts_append(QemuOptsList *dst, QemuOptsList *list)
{
    size_t n, total;
    bool fresh = !dst;
    bool reinit_head;

    if (!list) {
        return dst;
    }
    /*
     * An empty head points into the struct itself, so it must be set up
     * again after the realloc may have moved the struct.
     */
    reinit_head = fresh || QTAILQ_EMPTY(&dst->head);

    n = count_opts_list(dst);
    total = n + count_opts_list(list);
    dst = g_realloc(dst, sizeof(QemuOptsList) +
                         (total + 1) * sizeof(QemuOptDesc));
    if (fresh) {
        dst->name = NULL;
        dst->implied_opt_name = NULL;
        dst->merge_lists = false;
    }
    if (reinit_head) {
        QTAILQ_INIT(&dst->head);
    }
    dst->desc[n].name = NULL;

    for (const QemuOptDesc *desc = list->desc; desc->name; desc++) {
        /* Earlier lists win for names they share. */
        if (!find_desc_by_name(dst->desc, desc->name)) {
            dst->desc[n++] = *desc;
            dst->desc[n].name = NULL;
        }
    }
    return dst;
}

void qemu_opts_free(QemuOptsList *list)
{
    g_free(list);
}
