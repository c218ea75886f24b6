/*
 * The human-readable dump of ImageInfoSpecific.data, shared by qemu-img
 * info and qemu-io info (their golden outputs depend on every space).
 */
#include "qemu/osdep.h"

#include "block/qapi.h"

#define DUMP_INDENT 4

static void dump_value(FILE *f, int level, QObject *obj);

static bool is_composite(QObject *obj)
{
    QType type = qobject_type(obj);

    return type == QTYPE_QDICT || type == QTYPE_QLIST;
}

/*
 * One member: its label, then the value on the same line for scalars or
 * on the following lines, one level deeper, for dicts and lists.
 */
static void dump_member(FILE *f, int level, const char *label, QObject *obj)
{
    bool composite = is_composite(obj);

    fprintf(f, "%*s%s:%c", level * DUMP_INDENT, "", label,
            composite ? '\n' : ' ');
    dump_value(f, level + 1, obj);
    if (!composite) {
        fputc('\n', f);
    }
}

static void dump_dict(FILE *f, int level, const QDict *dict)
{
    const QDictEntry *e;

    for (e = qdict_first(dict); e; e = qdict_next(dict, e)) {
        g_autofree char *label = g_strdup(qdict_entry_key(e));

        /* QAPI member names use dashes; the human form shows spaces */
        g_strdelimit(label, "-", ' ');
        dump_member(f, level, label, qdict_entry_value(e));
    }
}

static void dump_list(FILE *f, int level, const QList *list)
{
    const QListEntry *e;
    int i = 0;

    for (e = qlist_first(list); e; e = qlist_next(e), i++) {
        g_autofree char *label = g_strdup_printf("[%d]", i);

        dump_member(f, level, label, qlist_entry_obj(e));
    }
}

static void dump_value(FILE *f, int level, QObject *obj)
{
    switch (qobject_type(obj)) {
    case QTYPE_QNUM: {
        g_autofree char *num = qnum_to_string(qobject_to(QNum, obj));

        fputs(num, f);
        break;
    }
    case QTYPE_QSTRING:
        fputs(qstring_get_str(qobject_to(QString, obj)), f);
        break;
    case QTYPE_QBOOL:
        fputs(qbool_get_bool(qobject_to(QBool, obj)) ? "true" : "false", f);
        break;
    case QTYPE_QDICT:
        dump_dict(f, level, qobject_to(QDict, obj));
        break;
    case QTYPE_QLIST:
        dump_list(f, level, qobject_to(QList, obj));
        break;
    default:
        /* QAPI types never contain null or anything else */
        g_assert_not_reached();
    }
}

void bdrv_image_info_specific_dump(ImageInfoSpecific *info_spec,
                                   const char *prefix, FILE *f)
{
    if (prefix) {
        fputs(prefix, f);
    }
    if (info_spec->data) {
        dump_dict(f, 1, info_spec->data);
    }
}
