/*
 * blkdebug: a filter that injects errors and stops requests on cue.
 *
 * The node sits on one child, "image", and passes data through.  Drivers
 * and the core announce what they are doing with BLKDBG_EVENT; blkdebug
 * matches each event against its rules:
 *  - inject-error rules arm an error for later I/O through this node;
 *  - set-state rules move a small state machine that gates the others;
 *  - suspend rules (qemu-io "break") stop the request that raised the
 *    event until it is resumed.
 * Rules come from an ini-style config file and/or from the options
 * inject-error.N.* and set-state.N.*.  The node also lets tests impose
 * request limits (align, max-transfer, ...) to exercise the core's
 * splitting and padding code, and asserts that the core honoured them.
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/host-utils.h"
#include "qemu/option.h"
#include "block/block_int.h"

/* The kinds of I/O an inject-error rule can target (its "iotype"). */
typedef enum BlkdebugIOType {
    BLKDEBUG_IO_TYPE_READ,
    BLKDEBUG_IO_TYPE_WRITE,
    BLKDEBUG_IO_TYPE_WRITE_ZEROES,
    BLKDEBUG_IO_TYPE_DISCARD,
    BLKDEBUG_IO_TYPE_FLUSH,
    BLKDEBUG_IO_TYPE_BLOCK_STATUS,
    BLKDEBUG_IO_TYPE__MAX,
} BlkdebugIOType;

static const char *const blkdebug_io_type_names[BLKDEBUG_IO_TYPE__MAX] = {
    [BLKDEBUG_IO_TYPE_READ]         = "read",
    [BLKDEBUG_IO_TYPE_WRITE]        = "write",
    [BLKDEBUG_IO_TYPE_WRITE_ZEROES] = "write-zeroes",
    [BLKDEBUG_IO_TYPE_DISCARD]      = "discard",
    [BLKDEBUG_IO_TYPE_FLUSH]        = "flush",
    [BLKDEBUG_IO_TYPE_BLOCK_STATUS] = "block-status",
};

static const QEnumLookup blkdebug_io_type_lookup = {
    .array = blkdebug_io_type_names,
    .size = BLKDEBUG_IO_TYPE__MAX,
};

/* Without "iotype" a rule hits everything except block status queries. */
#define BLKDEBUG_IO_TYPE_DEFAULT_MASK \
    (BIT_ULL(BLKDEBUG_IO_TYPE_READ) | BIT_ULL(BLKDEBUG_IO_TYPE_WRITE) | \
     BIT_ULL(BLKDEBUG_IO_TYPE_WRITE_ZEROES) | \
     BIT_ULL(BLKDEBUG_IO_TYPE_DISCARD) | BIT_ULL(BLKDEBUG_IO_TYPE_FLUSH))

/* Names of the permissions take-child-perms / unshare-child-perms accept. */
static const char *const blkdebug_perm_names[] = {
    "consistent-read",  /* BLK_PERM_CONSISTENT_READ */
    "write",            /* BLK_PERM_WRITE */
    "write-unchanged",  /* BLK_PERM_WRITE_UNCHANGED */
    "resize",           /* BLK_PERM_RESIZE */
};

typedef enum BlkdebugAction {
    ACTION_INJECT_ERROR,
    ACTION_SET_STATE,
    ACTION_SUSPEND,
    ACTION__MAX,
} BlkdebugAction;

typedef struct BlkdebugRule {
    BlkdebugEvent event;
    BlkdebugAction action;
    int state;                      /* fires only in this state; 0: any */
    union {
        struct {
            uint64_t iotype_mask;   /* BIT_ULL(BlkdebugIOType) */
            int error;              /* positive errno; 0: no error */
            bool immediately;       /* fail without yielding first */
            bool once;              /* delete the rule after one hit */
            int64_t offset;         /* byte that must be touched; -1: any */
        } inject;
        struct {
            int new_state;
        } set_state;
        struct {
            char *tag;
        } suspend;
    } options;
    QLIST_ENTRY(BlkdebugRule) next;             /* in rules[event] */
    QSIMPLEQ_ENTRY(BlkdebugRule) active_next;   /* in active_rules */
} BlkdebugRule;

typedef struct BlkdebugSuspendedReq {
    Coroutine *co;
    char *tag;
    QLIST_ENTRY(BlkdebugSuspendedReq) next;
} BlkdebugSuspendedReq;

typedef struct BDRVBlkdebugState {
    int state;                      /* current state, starts at 1 */

    /* Limits imposed on the core (0: not set). */
    uint64_t align;
    uint64_t max_transfer;
    uint64_t opt_write_zero;
    uint64_t max_write_zero;
    uint64_t opt_discard;
    uint64_t max_discard;

    /* Extra permissions taken on / withheld from the child. */
    uint64_t take_child_perms;
    uint64_t unshare_child_perms;

    char *config_file;              /* for the blkdebug:CONFIG:IMAGE name */

    /*
     * Rules per event, newest first.  active_rules holds the inject-error
     * rules armed by the last event that had any.
     */
    QLIST_HEAD(, BlkdebugRule) rules[BLKDBG__MAX];
    QSIMPLEQ_HEAD(, BlkdebugRule) active_rules;
    /* Requests stopped at a breakpoint, most recent first. */
    QLIST_HEAD(, BlkdebugSuspendedReq) suspended_reqs;
    /* Protects the three lists and state. */
    QemuMutex lock;
} BDRVBlkdebugState;

/*
 * Parsing scratch space for the two rule sections.  The lists only hold
 * QemuOpts while blkdebug_read_config runs, which empties them again.
 */
static QemuOptsList inject_error_opts = {
    .name = "inject-error",
    .head = QTAILQ_HEAD_INITIALIZER(inject_error_opts.head),
    .desc = {
        { .name = "event",       .type = QEMU_OPT_STRING },
        { .name = "state",       .type = QEMU_OPT_NUMBER },
        { .name = "iotype",      .type = QEMU_OPT_STRING },
        { .name = "errno",       .type = QEMU_OPT_NUMBER },
        { .name = "sector",      .type = QEMU_OPT_NUMBER },
        { .name = "once",        .type = QEMU_OPT_BOOL },
        { .name = "immediately", .type = QEMU_OPT_BOOL },
        { /* end of list */ }
    },
};

static QemuOptsList set_state_opts = {
    .name = "set-state",
    .head = QTAILQ_HEAD_INITIALIZER(set_state_opts.head),
    .desc = {
        { .name = "event",     .type = QEMU_OPT_STRING },
        { .name = "state",     .type = QEMU_OPT_NUMBER },
        { .name = "new_state", .type = QEMU_OPT_NUMBER },
        { /* end of list */ }
    },
};

static QemuOptsList *const blkdebug_config_groups[] = {
    &inject_error_opts,
    &set_state_opts,
    NULL
};

static QemuOptsList blkdebug_runtime_opts = {
    .name = "blkdebug",
    .head = QTAILQ_HEAD_INITIALIZER(blkdebug_runtime_opts.head),
    .desc = {
        {
            .name = "config",
            .type = QEMU_OPT_STRING,
            .help = "Path to the configuration file",
        },
        {
            .name = "x-image",
            .type = QEMU_OPT_STRING,
            .help = "[internal use only, will be removed]",
        },
        {
            .name = "align",
            .type = QEMU_OPT_SIZE,
            .help = "Required alignment in bytes",
        },
        {
            .name = "max-transfer",
            .type = QEMU_OPT_SIZE,
            .help = "Maximum transfer size in bytes",
        },
        {
            .name = "opt-write-zero",
            .type = QEMU_OPT_SIZE,
            .help = "Optimum write zero alignment in bytes",
        },
        {
            .name = "max-write-zero",
            .type = QEMU_OPT_SIZE,
            .help = "Maximum write zero size in bytes",
        },
        {
            .name = "opt-discard",
            .type = QEMU_OPT_SIZE,
            .help = "Optimum discard alignment in bytes",
        },
        {
            .name = "max-discard",
            .type = QEMU_OPT_SIZE,
            .help = "Maximum discard size in bytes",
        },
        { /* end of list */ }
    },
};

static const char *const blkdebug_strong_runtime_opts[] = {
    "config",
    "inject-error.",
    "set-state.",
    "align",
    "max-transfer",
    "opt-write-zero",
    "max-write-zero",
    "opt-discard",
    "max-discard",
    NULL
};

/* ---- Rules ---- */

/* Unlink and free a rule (lock held, or node not yet/no longer in use). */
static void remove_rule(BlkdebugRule *rule)
{
    if (rule->action == ACTION_SUSPEND) {
        g_free(rule->options.suspend.tag);
    }
    QLIST_REMOVE(rule, next);
    g_free(rule);
}

static void blkdebug_free_rules(BDRVBlkdebugState *s)
{
    for (int i = 0; i < BLKDBG__MAX; i++) {
        BlkdebugRule *rule, *next;

        QLIST_FOREACH_SAFE(rule, &s->rules[i], next, next) {
            remove_rule(rule);
        }
    }
    QSIMPLEQ_INIT(&s->active_rules);
}

static void add_rule(BDRVBlkdebugState *s, BlkdebugRule *rule)
{
    qemu_mutex_lock(&s->lock);
    QLIST_INSERT_HEAD(&s->rules[rule->event], rule, next);
    qemu_mutex_unlock(&s->lock);
}

/* Turn one parsed [inject-error] or [set-state] section into a rule. */
static int add_rule_from_opts(BDRVBlkdebugState *s, BlkdebugAction action,
                              QemuOpts *opts, Error **errp)
{
    const char *event_name = qemu_opt_get(opts, "event");
    BlkdebugRule *rule;
    int event;

    if (!event_name) {
        error_setg(errp, "Missing event name for rule");
        return -EINVAL;
    }
    event = qapi_enum_parse(&BlkdebugEvent_lookup, event_name, -1, errp);
    if (event < 0) {
        return -EINVAL;
    }

    rule = g_new0(BlkdebugRule, 1);
    rule->event = event;
    rule->action = action;
    rule->state = qemu_opt_get_number(opts, "state", 0);

    if (action == ACTION_INJECT_ERROR) {
        Error *local_err = NULL;
        int64_t sector = qemu_opt_get_number(opts, "sector", -1);
        int iotype;

        rule->options.inject.error = qemu_opt_get_number(opts, "errno", EIO);
        rule->options.inject.once = qemu_opt_get_bool(opts, "once", false);
        rule->options.inject.immediately =
            qemu_opt_get_bool(opts, "immediately", false);
        /* Unsigned product: a huge sector must not overflow into UB. */
        rule->options.inject.offset = sector == -1 ? -1 :
            (int64_t)((uint64_t)sector * BDRV_SECTOR_SIZE);

        iotype = qapi_enum_parse(&blkdebug_io_type_lookup,
                                 qemu_opt_get(opts, "iotype"),
                                 BLKDEBUG_IO_TYPE__MAX, &local_err);
        if (local_err) {
            error_propagate(errp, local_err);
            g_free(rule);
            return -EINVAL;
        }
        rule->options.inject.iotype_mask = iotype == BLKDEBUG_IO_TYPE__MAX ?
            BLKDEBUG_IO_TYPE_DEFAULT_MASK : BIT_ULL(iotype);
    } else {
        rule->options.set_state.new_state =
            qemu_opt_get_number(opts, "new_state", 0);
    }

    add_rule(s, rule);
    return 0;
}

/* ---- Configuration ---- */

static QemuOptsList *find_config_group(const char *group, Error **errp)
{
    for (int i = 0; blkdebug_config_groups[i]; i++) {
        if (!strcmp(blkdebug_config_groups[i]->name, group)) {
            return blkdebug_config_groups[i];
        }
    }
    error_setg(errp, "There is no option group '%s'", group);
    return NULL;
}

/* Record one finished section of the config file. */
static bool config_add_section(const char *group, QDict *section,
                               Error **errp)
{
    QemuOptsList *list = find_config_group(group, errp);

    return list && qemu_opts_from_qdict(list, section, errp);
}

/*
 * Parse the config file into the rule lists.  The grammar is QEMU's
 * -readconfig format, quirks included, because existing test configs rely
 * on it:
 *   - lines are read in chunks of up to 1023 bytes; empty lines (just
 *     "\n") and lines starting with '#' are skipped;
 *   - "[group]" or '[group "id"]' starts a section; a section is checked
 *     only when the next one starts or the file ends;
 *   - 'key = "value"' adds an option; an unquoted or otherwise malformed
 *     line yields its first word as a key with an empty value (and so
 *     "Invalid parameter ..."); a blank line with spaces is a parse error.
 */
static int blkdebug_parse_config_file(FILE *f, Error **errp)
{
    char line[1024], group[64] = "", prev_group[64] = "";
    char key[64], value[1024];
    QDict *section = NULL;
    int ret = -EINVAL;

    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '\n' || line[0] == '#') {
            continue;
        }
        if (line[0] == '[') {
            QDict *prev = section;

            if (sscanf(line, "[%63s \"%63[^\"]\"]", group, value) == 2) {
                section = qdict_new();
                qdict_put_str(section, "id", value);
            } else if (sscanf(line, "[%63[^]]]", group) == 1) {
                section = qdict_new();
            }
            if (section != prev) {
                if (prev) {
                    bool ok = config_add_section(prev_group, prev, errp);

                    qobject_unref(prev);
                    if (!ok) {
                        goto out;
                    }
                }
                pstrcpy(prev_group, sizeof(prev_group), group);
                continue;
            }
        }

        value[0] = '\0';
        if (sscanf(line, " %63s = \"%1023[^\"]\"", key, value) == 2 ||
            sscanf(line, " %63s = \"\"", key) == 1) {
            if (!section) {
                error_setg(errp, "no group defined");
                goto out;
            }
            qdict_put_str(section, key, value);
            continue;
        }
        error_setg(errp, "parse error");
        goto out;
    }
    if (ferror(f)) {
        error_setg_errno(errp, errno, "Cannot read config file");
        goto out;
    }

    /*
     * QEMU names the last section after the group buffer, which a
     * malformed "[...]" line may have overwritten since; keep that.
     */
    if (section && !config_add_section(group, section, errp)) {
        goto out;
    }
    ret = 0;

out:
    qobject_unref(section);
    return ret;
}

/*
 * Parse the "<group>.*" options: either one section ("inject-error.event")
 * or a list of them ("inject-error.0.event", "inject-error.1.event", ...).
 */
static bool blkdebug_parse_group_options(QDict *options, QemuOptsList *list,
                                         Error **errp)
{
    g_autofree char *prefix = g_strdup_printf("%s.", list->name);
    g_autoptr(QDict) subqdict = NULL;
    g_autoptr(QList) sections = NULL;
    const QListEntry *entry;
    QemuOpts *opts;
    size_t orig_size, unused_size;
    unsigned int index = 0;

    qdict_extract_subqdict(options, &subqdict, prefix);
    orig_size = qdict_size(subqdict);
    if (!orig_size) {
        return true;
    }

    opts = qemu_opts_create(list, NULL, 0, errp);
    if (!opts) {
        return false;
    }
    if (!qemu_opts_absorb_qdict(opts, subqdict, errp)) {
        return false;
    }

    unused_size = qdict_size(subqdict);
    if (!unused_size) {
        return true;
    }
    if (unused_size < orig_size) {
        error_setg(errp, "Unknown option '%s' for [%s]",
                   qdict_entry_key(qdict_first(subqdict)), list->name);
        return false;
    }

    /* Nothing was a plain option: this is an enumerated list. */
    qemu_opts_del(opts);
    qdict_array_split(subqdict, &sections);
    if (qdict_size(subqdict)) {
        error_setg(errp, "Unused option '%s' for [%s]",
                   qdict_entry_key(qdict_first(subqdict)), list->name);
        return false;
    }

    QLIST_FOREACH_ENTRY(sections, entry) {
        QDict *section = qobject_to(QDict, qlist_entry_obj(entry));
        g_autofree char *id = NULL;

        if (!section) {
            error_setg(errp, "[%s] section (index %u) does not consist of "
                       "keys", list->name, index);
            return false;
        }

        id = g_strdup_printf("%s.%u", list->name, index++);
        opts = qemu_opts_create(list, id, 1, errp);
        if (!opts) {
            return false;
        }
        if (!qemu_opts_absorb_qdict(opts, section, errp)) {
            qemu_opts_del(opts);
            return false;
        }
        if (qdict_size(section)) {
            error_setg(errp, "[%s] section doesn't support the option '%s'",
                       list->name, qdict_entry_key(qdict_first(section)));
            qemu_opts_del(opts);
            return false;
        }
    }
    return true;
}

typedef struct BlkdebugAddRuleData {
    BDRVBlkdebugState *s;
    BlkdebugAction action;
} BlkdebugAddRuleData;

static int add_rule_cb(void *opaque, QemuOpts *opts, Error **errp)
{
    BlkdebugAddRuleData *d = opaque;

    return add_rule_from_opts(d->s, d->action, opts, errp);
}

/*
 * Collect the rules: first every section of the config file (if any),
 * then those given as options; inject-error rules are created before
 * set-state rules.
 */
static int blkdebug_read_config(BDRVBlkdebugState *s, const char *filename,
                                QDict *options, Error **errp)
{
    BlkdebugAddRuleData d = { .s = s };
    int ret;

    if (filename) {
        FILE *f = fopen(filename, "r");

        if (!f) {
            ret = -errno;
            error_setg_errno(errp, errno,
                             "Could not read blkdebug config file");
            return ret;
        }
        ret = blkdebug_parse_config_file(f, errp);
        fclose(f);
        if (ret < 0) {
            goto out;
        }
    }

    ret = -EINVAL;
    for (int i = 0; blkdebug_config_groups[i]; i++) {
        if (!blkdebug_parse_group_options(options, blkdebug_config_groups[i],
                                          errp)) {
            goto out;
        }
    }

    d.action = ACTION_INJECT_ERROR;
    if (qemu_opts_foreach(&inject_error_opts, add_rule_cb, &d, errp)) {
        goto out;
    }
    d.action = ACTION_SET_STATE;
    if (qemu_opts_foreach(&set_state_opts, add_rule_cb, &d, errp)) {
        goto out;
    }
    ret = 0;

out:
    qemu_opts_reset(&inject_error_opts);
    qemu_opts_reset(&set_state_opts);
    return ret;
}

/*
 * Parse a list of permission names from the "<prefix>N" options into
 * BLK_PERM_* bits.  Error texts are those of QEMU's QAPI visitor, which
 * reads this option there.
 */
static int blkdebug_parse_perm_list(uint64_t *dest, QDict *options,
                                    const char *prefix, Error **errp)
{
    g_autoptr(QDict) subqdict = NULL;
    g_autoptr(QObject) crumpled = NULL;
    const QListEntry *entry;
    QList *list;
    int index = 0;

    *dest = 0;

    qdict_extract_subqdict(options, &subqdict, prefix);
    if (!qdict_size(subqdict)) {
        return 0;
    }

    crumpled = qdict_crumple(subqdict, errp);
    if (!crumpled) {
        return -EINVAL;
    }
    list = qobject_to(QList, crumpled);
    if (!list) {
        error_setg(errp, "Invalid parameter type for '<anonymous>', "
                   "expected: array");
        return -EINVAL;
    }

    QLIST_FOREACH_ENTRY(list, entry) {
        QString *name = qobject_to(QString, qlist_entry_obj(entry));
        size_t i;

        if (!name) {
            error_setg(errp, "Invalid parameter type for '[%d]', "
                       "expected: string", index);
            return -EINVAL;
        }
        for (i = 0; i < ARRAY_SIZE(blkdebug_perm_names); i++) {
            if (!strcmp(qstring_get_str(name), blkdebug_perm_names[i])) {
                break;
            }
        }
        if (i == ARRAY_SIZE(blkdebug_perm_names)) {
            error_setg(errp, "Parameter 'null' does not accept value '%s'",
                       qstring_get_str(name));
            return -EINVAL;
        }
        *dest |= BIT_ULL(i);
        index++;
    }
    return 0;
}

/* ---- Open and close ---- */

static void blkdebug_parse_filename(const char *filename, QDict *options,
                                    Error **errp)
{
    const char *colon;

    /*
     * Without the prefix the whole name is the image and every other
     * setting must come as options.
     */
    if (!strstart(filename, "blkdebug:", &filename)) {
        qdict_put_str(options, "x-image", filename);
        return;
    }

    /* "blkdebug:CONFIG:IMAGE", CONFIG possibly empty. */
    colon = strchr(filename, ':');
    if (!colon) {
        error_setg(errp, "blkdebug requires both config file and image path");
        return;
    }
    if (colon != filename) {
        qdict_put(options, "config",
                  qstring_from_substr(filename, 0, colon - filename));
    }
    qdict_put_str(options, "x-image", colon + 1);
}

/*
 * A limit is usable if it is below INT_MAX and a multiple of the
 * granularity it has to respect.
 */
static bool blkdebug_check_limit(uint64_t value, uint64_t granularity,
                                 const char *name, Error **errp)
{
    if (value && (value >= INT_MAX || !QEMU_IS_ALIGNED(value, granularity))) {
        error_setg(errp, "Cannot meet constraints with %s %" PRIu64,
                   name, value);
        return false;
    }
    return true;
}

static int blkdebug_open(BlockDriverState *bs, QDict *options, int flags,
                         Error **errp)
{
    BDRVBlkdebugState *s = bs->opaque;
    QemuOpts *opts;
    uint64_t align;
    int ret;

    qemu_mutex_init(&s->lock);
    QSIMPLEQ_INIT(&s->active_rules);

    opts = qemu_opts_create(&blkdebug_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        ret = -EINVAL;
        goto out;
    }

    s->config_file = g_strdup(qemu_opt_get(opts, "config"));
    ret = blkdebug_read_config(s, s->config_file, options, errp);
    if (ret < 0) {
        goto out;
    }

    s->state = 1;

    /* The permission modifiers must be known when the child is attached. */
    ret = blkdebug_parse_perm_list(&s->take_child_perms, options,
                                   "take-child-perms.", errp);
    if (ret < 0) {
        goto out;
    }
    ret = blkdebug_parse_perm_list(&s->unshare_child_perms, options,
                                   "unshare-child-perms.", errp);
    if (ret < 0) {
        goto out;
    }

    ret = bdrv_open_file_child(qemu_opt_get(opts, "x-image"), options,
                               "image", bs, errp);
    if (ret < 0) {
        goto out;
    }

    bs->supported_write_flags = BDRV_REQ_WRITE_UNCHANGED |
        (BDRV_REQ_FUA & bs->file->bs->supported_write_flags);
    bs->supported_zero_flags = BDRV_REQ_WRITE_UNCHANGED |
        ((BDRV_REQ_FUA | BDRV_REQ_MAY_UNMAP | BDRV_REQ_NO_FALLBACK) &
         bs->file->bs->supported_zero_flags);

    ret = -EINVAL;
    s->align = qemu_opt_get_size(opts, "align", 0);
    if (s->align && (s->align >= INT_MAX || !is_power_of_2(s->align))) {
        error_setg(errp, "Cannot meet constraints with align %" PRIu64,
                   s->align);
        goto out;
    }
    align = MAX(s->align, bs->file->bs->bl.request_alignment);

    s->max_transfer = qemu_opt_get_size(opts, "max-transfer", 0);
    s->opt_write_zero = qemu_opt_get_size(opts, "opt-write-zero", 0);
    s->max_write_zero = qemu_opt_get_size(opts, "max-write-zero", 0);
    s->opt_discard = qemu_opt_get_size(opts, "opt-discard", 0);
    s->max_discard = qemu_opt_get_size(opts, "max-discard", 0);
    if (!blkdebug_check_limit(s->max_transfer, align, "max-transfer",
                              errp) ||
        !blkdebug_check_limit(s->opt_write_zero, align, "opt-write-zero",
                              errp) ||
        !blkdebug_check_limit(s->max_write_zero,
                              MAX(s->opt_write_zero, align),
                              "max-write-zero", errp) ||
        !blkdebug_check_limit(s->opt_discard, align, "opt-discard", errp) ||
        !blkdebug_check_limit(s->max_discard, MAX(s->opt_discard, align),
                              "max-discard", errp)) {
        goto out;
    }

    bdrv_debug_event(bs, BLKDBG_NONE);
    ret = 0;

out:
    if (ret < 0) {
        /* The core does not call close after a failed open. */
        blkdebug_free_rules(s);
        g_free(s->config_file);
        s->config_file = NULL;
        qemu_mutex_destroy(&s->lock);
    }
    qemu_opts_del(opts);
    return ret;
}

static void blkdebug_close(BlockDriverState *bs)
{
    BDRVBlkdebugState *s = bs->opaque;
    BlkdebugSuspendedReq *r, *next;

    blkdebug_free_rules(s);
    /* Draining before close resumed nobody; only the records remain. */
    QLIST_FOREACH_SAFE(r, &s->suspended_reqs, next, next) {
        QLIST_REMOVE(r, next);
        g_free(r->tag);
        g_free(r);
    }
    g_free(s->config_file);
    qemu_mutex_destroy(&s->lock);
}

static int blkdebug_reopen_prepare(BDRVReopenState *state,
                                   BlockReopenQueue *queue, Error **errp)
{
    /* Nothing can change; the core rejects changed options. */
    return 0;
}

static void blkdebug_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVBlkdebugState *s = bs->opaque;

    if (s->align) {
        bs->bl.request_alignment = s->align;
    }
    if (s->max_transfer) {
        bs->bl.max_transfer = s->max_transfer;
    }
    if (s->opt_write_zero) {
        bs->bl.pwrite_zeroes_alignment = s->opt_write_zero;
    }
    if (s->max_write_zero) {
        bs->bl.max_pwrite_zeroes = s->max_write_zero;
    }
    if (s->opt_discard) {
        bs->bl.pdiscard_alignment = s->opt_discard;
    }
    if (s->max_discard) {
        bs->bl.max_pdiscard = s->max_discard;
    }
}

static void blkdebug_child_perm(BlockDriverState *bs, BdrvChild *c,
                                BdrvChildRole role,
                                BlockReopenQueue *reopen_queue,
                                uint64_t perm, uint64_t shared,
                                uint64_t *nperm, uint64_t *nshared)
{
    BDRVBlkdebugState *s = bs->opaque;

    bdrv_default_perms(bs, c, role, reopen_queue, perm, shared,
                       nperm, nshared);
    *nperm |= s->take_child_perms;
    *nshared &= ~s->unshare_child_perms;
}

static int64_t blkdebug_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(bs->file->bs);
}

static void blkdebug_refresh_filename(BlockDriverState *bs)
{
    BDRVBlkdebugState *s = bs->opaque;
    const QDictEntry *e;
    int ret;

    if (!bs->file->bs->exact_filename[0]) {
        return;
    }

    /*
     * "blkdebug:CONFIG:IMAGE" can carry only the config file and the
     * image's name; anything else that matters needs a json: name.
     */
    for (e = qdict_first(bs->full_open_options); e;
         e = qdict_next(bs->full_open_options, e)) {
        const char *key = qdict_entry_key(e);

        if (strcmp(key, "config") && strcmp(key, "image") &&
            strcmp(key, "x-image") && strcmp(key, "driver")) {
            return;
        }
    }

    ret = snprintf(bs->exact_filename, sizeof(bs->exact_filename),
                   "blkdebug:%s:%s", s->config_file ?: "",
                   bs->file->bs->exact_filename);
    if (ret >= sizeof(bs->exact_filename)) {
        /* A truncated name would open something else: report none. */
        bs->exact_filename[0] = '\0';
    }
}

/* ---- I/O ---- */

/*
 * Fail the request if an armed rule matches it.  A rule matches if it
 * covers iotype and either any offset or a byte inside [offset, offset +
 * bytes).  Unless the rule says "immediately", the failure is delivered
 * after one trip through the event loop, like real asynchronous I/O.
 */
static int coroutine_fn blkdebug_co_inject(BlockDriverState *bs,
                                           uint64_t offset, uint64_t bytes,
                                           BlkdebugIOType iotype)
{
    BDRVBlkdebugState *s = bs->opaque;
    BlkdebugRule *rule;
    bool immediately;
    int error;

    qemu_mutex_lock(&s->lock);
    QSIMPLEQ_FOREACH(rule, &s->active_rules, active_next) {
        uint64_t inject_offset = rule->options.inject.offset;

        if ((inject_offset == (uint64_t)-1 ||
             (bytes && inject_offset >= offset &&
              inject_offset < offset + bytes)) &&
            (rule->options.inject.iotype_mask & BIT_ULL(iotype))) {
            break;
        }
    }

    if (!rule || !rule->options.inject.error) {
        qemu_mutex_unlock(&s->lock);
        return 0;
    }

    immediately = rule->options.inject.immediately;
    error = rule->options.inject.error;
    if (rule->options.inject.once) {
        QSIMPLEQ_REMOVE(&s->active_rules, rule, BlkdebugRule, active_next);
        remove_rule(rule);
    }
    qemu_mutex_unlock(&s->lock);

    if (!immediately) {
        aio_co_schedule(qemu_get_current_aio_context(),
                        qemu_coroutine_self());
        qemu_coroutine_yield();
    }
    return -error;
}

static int coroutine_fn blkdebug_co_preadv_part(BlockDriverState *bs,
                                                int64_t offset, int64_t bytes,
                                                QEMUIOVector *qiov,
                                                size_t qiov_offset,
                                                BdrvRequestFlags flags)
{
    int err;

    assert(QEMU_IS_ALIGNED(offset, bs->bl.request_alignment));
    assert(QEMU_IS_ALIGNED(bytes, bs->bl.request_alignment));
    if (bs->bl.max_transfer) {
        assert(bytes <= bs->bl.max_transfer);
    }

    err = blkdebug_co_inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_READ);
    if (err) {
        return err;
    }
    return bdrv_co_preadv_part(bs->file, offset, bytes, qiov, qiov_offset,
                               flags);
}

static int coroutine_fn blkdebug_co_pwritev_part(BlockDriverState *bs,
                                                 int64_t offset,
                                                 int64_t bytes,
                                                 QEMUIOVector *qiov,
                                                 size_t qiov_offset,
                                                 BdrvRequestFlags flags)
{
    int err;

    assert(QEMU_IS_ALIGNED(offset, bs->bl.request_alignment));
    assert(QEMU_IS_ALIGNED(bytes, bs->bl.request_alignment));
    if (bs->bl.max_transfer) {
        assert(bytes <= bs->bl.max_transfer);
    }

    err = blkdebug_co_inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_WRITE);
    if (err) {
        return err;
    }
    return bdrv_co_pwritev_part(bs->file, offset, bytes, qiov, qiov_offset,
                                flags);
}

static int coroutine_fn blkdebug_co_flush(BlockDriverState *bs)
{
    int err = blkdebug_co_inject(bs, 0, 0, BLKDEBUG_IO_TYPE_FLUSH);

    if (err) {
        return err;
    }
    return bdrv_co_flush(bs->file->bs);
}

/*
 * A piece smaller than the granularity must not straddle a boundary: the
 * core splits at boundaries, so at most one end may be unaligned.  A
 * granularity of 0 (no opt-discard) imposes nothing; QEMU 7.2 divides by
 * it and dies with SIGFPE on a small discard with align set.
 */
static bool blkdebug_small_piece_ok(int64_t offset, int64_t bytes,
                                    uint64_t align)
{
    if (!align) {
        return true;
    }
    return QEMU_IS_ALIGNED(offset, align) ||
           QEMU_IS_ALIGNED(offset + bytes, align) ||
           DIV_ROUND_UP(offset, align) == DIV_ROUND_UP(offset + bytes, align);
}

static int coroutine_fn blkdebug_co_pwrite_zeroes(BlockDriverState *bs,
                                                  int64_t offset,
                                                  int64_t bytes,
                                                  BdrvRequestFlags flags)
{
    uint32_t align = MAX(bs->bl.request_alignment,
                         bs->bl.pwrite_zeroes_alignment);
    int err;

    /*
     * Refuse pieces below the preferred granularity so that the core's
     * fallback (writing a zeroed buffer) gets exercised.
     */
    if (bytes < align) {
        assert(blkdebug_small_piece_ok(offset, bytes, align));
        return -ENOTSUP;
    }
    assert(QEMU_IS_ALIGNED(offset, align));
    assert(QEMU_IS_ALIGNED(bytes, align));
    if (bs->bl.max_pwrite_zeroes) {
        assert(bytes <= bs->bl.max_pwrite_zeroes);
    }

    err = blkdebug_co_inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_WRITE_ZEROES);
    if (err) {
        return err;
    }
    return bdrv_co_pwrite_zeroes(bs->file, offset, bytes, flags);
}

static int coroutine_fn blkdebug_co_pdiscard(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes)
{
    uint32_t align = bs->bl.pdiscard_alignment;
    int err;

    /* Discard is advisory: drop pieces below the request alignment. */
    if (bytes < bs->bl.request_alignment) {
        assert(blkdebug_small_piece_ok(offset, bytes, align));
        return -ENOTSUP;
    }
    assert(QEMU_IS_ALIGNED(offset, bs->bl.request_alignment));
    assert(QEMU_IS_ALIGNED(bytes, bs->bl.request_alignment));
    if (align && bytes >= align) {
        assert(QEMU_IS_ALIGNED(offset, align));
        assert(QEMU_IS_ALIGNED(bytes, align));
    }
    if (bs->bl.max_pdiscard) {
        assert(bytes <= bs->bl.max_pdiscard);
    }

    err = blkdebug_co_inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_DISCARD);
    if (err) {
        return err;
    }
    return bdrv_co_pdiscard(bs->file, offset, bytes);
}

static int coroutine_fn blkdebug_co_block_status(BlockDriverState *bs,
                                                 bool want_zero,
                                                 int64_t offset,
                                                 int64_t bytes,
                                                 int64_t *pnum,
                                                 int64_t *map,
                                                 BlockDriverState **file)
{
    int err;

    assert(QEMU_IS_ALIGNED(offset | bytes, bs->bl.request_alignment));

    err = blkdebug_co_inject(bs, offset, bytes, BLKDEBUG_IO_TYPE_BLOCK_STATUS);
    if (err) {
        return err;
    }

    *pnum = bytes;
    *map = offset;
    *file = bs->file->bs;
    return BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
}

/* ---- Events and breakpoints ---- */

/* Stop the running request at rule (lock held); it yields later. */
static void suspend_request(BDRVBlkdebugState *s, BlkdebugRule *rule)
{
    BlkdebugSuspendedReq *r = g_new(BlkdebugSuspendedReq, 1);

    r->co = qemu_coroutine_self();
    r->tag = g_strdup(rule->options.suspend.tag);
    remove_rule(rule);
    QLIST_INSERT_HEAD(&s->suspended_reqs, r, next);

    printf("blkdebug: Suspended request '%s'\n", r->tag);
}

/*
 * Apply rule for the current event (lock held).  action_count counts the
 * rules of each kind applied so far for this event.
 */
static void process_rule(BDRVBlkdebugState *s, BlkdebugRule *rule,
                         int *action_count, int *new_state)
{
    if (rule->state && rule->state != s->state) {
        return;
    }

    switch (rule->action) {
    case ACTION_INJECT_ERROR:
        /* The first inject rule of an event replaces the armed set. */
        if (action_count[ACTION_INJECT_ERROR]++ == 0) {
            QSIMPLEQ_INIT(&s->active_rules);
        }
        QSIMPLEQ_INSERT_HEAD(&s->active_rules, rule, active_next);
        break;

    case ACTION_SET_STATE:
        action_count[ACTION_SET_STATE]++;
        *new_state = rule->options.set_state.new_state;
        break;

    case ACTION_SUSPEND:
        /*
         * Only a coroutine can be stopped and resumed; an event raised
         * outside one leaves the breakpoint armed for the next request.
         */
        if (qemu_in_coroutine()) {
            action_count[ACTION_SUSPEND]++;
            suspend_request(s, rule);
        }
        break;

    default:
        g_assert_not_reached();
    }
}

static void blkdebug_debug_event(BlockDriverState *bs, BlkdebugEvent event)
{
    BDRVBlkdebugState *s = bs->opaque;
    int action_count[ACTION__MAX] = { 0 };
    BlkdebugRule *rule, *next;
    int new_state;

    assert((int)event >= 0 && event < BLKDBG__MAX);

    qemu_mutex_lock(&s->lock);
    /* Every rule sees the state the event started in. */
    new_state = s->state;
    QLIST_FOREACH_SAFE(rule, &s->rules[event], next, next) {
        process_rule(s, rule, action_count, &new_state);
    }
    s->state = new_state;
    qemu_mutex_unlock(&s->lock);

    /* One resume per breakpoint that stopped us. */
    while (action_count[ACTION_SUSPEND] > 0) {
        qemu_coroutine_yield();
        action_count[ACTION_SUSPEND]--;
    }
}

static int blkdebug_debug_breakpoint(BlockDriverState *bs, const char *event,
                                     const char *tag)
{
    BDRVBlkdebugState *s = bs->opaque;
    BlkdebugRule *rule;
    int ev = qapi_enum_parse(&BlkdebugEvent_lookup, event, -1, NULL);

    if (ev < 0) {
        return -ENOENT;
    }

    rule = g_new0(BlkdebugRule, 1);
    rule->event = ev;
    rule->action = ACTION_SUSPEND;
    rule->state = 0;
    rule->options.suspend.tag = g_strdup(tag);
    add_rule(s, rule);
    return 0;
}

/*
 * Resume the most recently suspended request with tag, or with all, every
 * such request.  Called with the lock held; drops it while the request
 * runs, since that may raise new events.
 */
static int resume_req_by_tag(BDRVBlkdebugState *s, const char *tag, bool all)
{
    BlkdebugSuspendedReq *r;

retry:
    /*
     * A resumed request may change the list; start over after each one
     * rather than keep a cursor into it.
     */
    QLIST_FOREACH(r, &s->suspended_reqs, next) {
        if (!strcmp(r->tag, tag)) {
            Coroutine *co = r->co;

            printf("blkdebug: Resuming request '%s'\n", r->tag);
            QLIST_REMOVE(r, next);
            g_free(r->tag);
            g_free(r);

            qemu_mutex_unlock(&s->lock);
            qemu_coroutine_enter(co);
            qemu_mutex_lock(&s->lock);

            if (all) {
                goto retry;
            }
            return 0;
        }
    }
    return -ENOENT;
}

static int blkdebug_debug_resume(BlockDriverState *bs, const char *tag)
{
    BDRVBlkdebugState *s = bs->opaque;
    int ret;

    qemu_mutex_lock(&s->lock);
    ret = resume_req_by_tag(s, tag, false);
    qemu_mutex_unlock(&s->lock);
    return ret;
}

static int blkdebug_debug_remove_breakpoint(BlockDriverState *bs,
                                            const char *tag)
{
    BDRVBlkdebugState *s = bs->opaque;
    int ret = -ENOENT;

    qemu_mutex_lock(&s->lock);
    for (int i = 0; i < BLKDBG__MAX; i++) {
        BlkdebugRule *rule, *next;

        QLIST_FOREACH_SAFE(rule, &s->rules[i], next, next) {
            if (rule->action == ACTION_SUSPEND &&
                !strcmp(rule->options.suspend.tag, tag)) {
                remove_rule(rule);
                ret = 0;
            }
        }
    }
    /*
     * Resuming "all" always ends in a search that finds nothing, so, as in
     * QEMU 7.2 (and visible to qemu-io scripts), only a removed rule makes
     * this succeed.
     */
    resume_req_by_tag(s, tag, true);
    qemu_mutex_unlock(&s->lock);
    return ret;
}

static bool blkdebug_debug_is_suspended(BlockDriverState *bs, const char *tag)
{
    BDRVBlkdebugState *s = bs->opaque;
    BlkdebugSuspendedReq *r;
    bool found = false;

    qemu_mutex_lock(&s->lock);
    QLIST_FOREACH(r, &s->suspended_reqs, next) {
        if (!strcmp(r->tag, tag)) {
            found = true;
            break;
        }
    }
    qemu_mutex_unlock(&s->lock);
    return found;
}

static BlockDriver bdrv_blkdebug = {
    .format_name                    = "blkdebug",
    .protocol_name                  = "blkdebug",
    .instance_size                  = sizeof(BDRVBlkdebugState),
    .is_filter                      = true,
    .strong_runtime_opts            = blkdebug_strong_runtime_opts,

    .bdrv_parse_filename            = blkdebug_parse_filename,
    .bdrv_file_open                 = blkdebug_open,
    .bdrv_close                     = blkdebug_close,
    .bdrv_reopen_prepare            = blkdebug_reopen_prepare,
    .bdrv_child_perm                = blkdebug_child_perm,
    .bdrv_refresh_filename          = blkdebug_refresh_filename,
    .bdrv_refresh_limits            = blkdebug_refresh_limits,
    .bdrv_getlength                 = blkdebug_getlength,

    .bdrv_co_preadv_part            = blkdebug_co_preadv_part,
    .bdrv_co_pwritev_part           = blkdebug_co_pwritev_part,
    .bdrv_co_flush_to_disk          = blkdebug_co_flush,
    .bdrv_co_pwrite_zeroes          = blkdebug_co_pwrite_zeroes,
    .bdrv_co_pdiscard               = blkdebug_co_pdiscard,
    .bdrv_co_block_status           = blkdebug_co_block_status,

    .bdrv_debug_event               = blkdebug_debug_event,
    .bdrv_debug_breakpoint          = blkdebug_debug_breakpoint,
    .bdrv_debug_remove_breakpoint   = blkdebug_debug_remove_breakpoint,
    .bdrv_debug_resume              = blkdebug_debug_resume,
    .bdrv_debug_is_suspended        = blkdebug_debug_is_suspended,
};

static void bdrv_blkdebug_init(void)
{
    bdrv_register(&bdrv_blkdebug);
}

block_init(bdrv_blkdebug_init);
