/*
 * QObject: reference-counted dynamically typed values (null, number, bool,
 * string, dict, list), as used for block-layer options and JSON.
 *
 * QDict iteration order equals QEMU 7.2's (it is visible in json: filenames,
 * in qemu-img's JSON output and in "unknown option" messages): 512 hash
 * buckets, a tdb-style string hash, new keys inserted at the head of their
 * bucket, iteration by bucket index and then bucket order.
 */
#ifndef QEMU_QDICT_H
#define QEMU_QDICT_H

#include "qemu/queue.h"

typedef enum QType {
    QTYPE_NONE,
    QTYPE_QNULL,
    QTYPE_QNUM,
    QTYPE_QSTRING,
    QTYPE_QDICT,
    QTYPE_QLIST,
    QTYPE_QBOOL,
    QTYPE__MAX,
} QType;

typedef struct QObject {
    QType type;
    size_t refcnt;
} QObject;

typedef struct QNull { QObject base; } QNull;
typedef struct QBool { QObject base; bool value; } QBool;
typedef struct QString { QObject base; char *string; } QString;

typedef enum { QNUM_I64, QNUM_U64, QNUM_DOUBLE } QNumKind;
typedef struct QNum {
    QObject base;
    QNumKind kind;
    union {
        int64_t i64;
        uint64_t u64;
        double dbl;
    } u;
} QNum;

typedef struct QListEntry {
    QObject *value;
    QTAILQ_ENTRY(QListEntry) next;
} QListEntry;

typedef struct QList {
    QObject base;
    QTAILQ_HEAD(, QListEntry) head;
} QList;

#define QDICT_BUCKET_MAX 512

typedef struct QDictEntry {
    char *key;
    QObject *value;
    QLIST_ENTRY(QDictEntry) next;
} QDictEntry;

typedef struct QDict {
    QObject base;
    size_t size;
    QLIST_HEAD(, QDictEntry) table[QDICT_BUCKET_MAX];
} QDict;

/* ---- QObject ---- */

#define QOBJECT(obj) ({ typeof(obj) o_ = (obj); o_ ? &o_->base : NULL; })

void qobject_ref_impl(QObject *obj);
void qobject_unref_impl(QObject *obj);
/* Take/drop a reference on any QObject subtype (NULL is fine). */
#define qobject_ref(obj) ({ typeof(obj) r_ = (obj); \
                            qobject_ref_impl(QOBJECT(r_)); r_; })
#define qobject_unref(obj) qobject_unref_impl(QOBJECT(obj))

static inline QType qobject_type(const QObject *obj)
{
    return obj->type;
}

/* Downcast: qobject_to(QDict, obj) is NULL unless obj is a QDict. */
#define qobject_to(type, obj) \
    ((type *)qobject_check_type(obj, qtype_of_##type))
#define qtype_of_QNull QTYPE_QNULL
#define qtype_of_QNum QTYPE_QNUM
#define qtype_of_QString QTYPE_QSTRING
#define qtype_of_QDict QTYPE_QDICT
#define qtype_of_QList QTYPE_QLIST
#define qtype_of_QBool QTYPE_QBOOL
static inline QObject *qobject_check_type(const QObject *obj, QType type)
{
    return (obj && obj->type == type) ? (QObject *)obj : NULL;
}

/* Deep equality (numbers compare by value across kinds). */
bool qobject_is_equal(const QObject *x, const QObject *y);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QObject, qobject_unref_impl)

/* ---- scalars ---- */

QNull *qnull(void);
QBool *qbool_from_bool(bool value);
bool qbool_get_bool(const QBool *qb);

QString *qstring_new(void);
QString *qstring_from_str(const char *str);
QString *qstring_from_substr(const char *str, size_t start, size_t end);
/* Takes ownership of str. */
QString *qstring_from_gstring(GString *gstr);
const char *qstring_get_str(const QString *qstring);

QNum *qnum_from_int(int64_t value);
QNum *qnum_from_uint(uint64_t value);
QNum *qnum_from_double(double value);
bool qnum_get_try_int(const QNum *qn, int64_t *val);
int64_t qnum_get_int(const QNum *qn);
bool qnum_get_try_uint(const QNum *qn, uint64_t *val);
uint64_t qnum_get_uint(const QNum *qn);
double qnum_get_double(QNum *qn);
/* The number formatted as JSON prints it. */
char *qnum_to_string(QNum *qn);

/* ---- QList ---- */

QList *qlist_new(void);
QList *qlist_copy(QList *src);
/* Takes ownership of value. */
void qlist_append_obj(QList *qlist, QObject *obj);
#define qlist_append(qlist, obj) qlist_append_obj(qlist, QOBJECT(obj))
void qlist_append_int(QList *qlist, int64_t value);
void qlist_append_bool(QList *qlist, bool value);
void qlist_append_str(QList *qlist, const char *value);
void qlist_append_null(QList *qlist);
/* Remove and return the first element (caller owns it); NULL if empty. */
QObject *qlist_pop(QList *qlist);
QObject *qlist_peek(QList *qlist);
bool qlist_empty(const QList *qlist);
size_t qlist_size(const QList *qlist);

static inline const QListEntry *qlist_first(const QList *qlist)
{
    return QTAILQ_FIRST(&qlist->head);
}
static inline const QListEntry *qlist_next(const QListEntry *entry)
{
    return QTAILQ_NEXT(entry, next);
}
static inline QObject *qlist_entry_obj(const QListEntry *entry)
{
    return entry->value;
}
#define QLIST_FOREACH_ENTRY(qlist, var) \
    for ((var) = qlist_first((qlist)); (var); (var) = qlist_next((var)))

/* ---- QDict ---- */

QDict *qdict_new(void);
size_t qdict_size(const QDict *qdict);
/* Insert or replace; takes ownership of value. */
void qdict_put_obj(QDict *qdict, const char *key, QObject *value);
#define qdict_put(qdict, key, obj) qdict_put_obj(qdict, key, QOBJECT(obj))
void qdict_put_int(QDict *qdict, const char *key, int64_t value);
void qdict_put_bool(QDict *qdict, const char *key, bool value);
void qdict_put_str(QDict *qdict, const char *key, const char *value);
void qdict_put_null(QDict *qdict, const char *key);
void qdict_del(QDict *qdict, const char *key);
int qdict_haskey(const QDict *qdict, const char *key);

/* Borrowed references; NULL/0/false when absent or of another type. */
QObject *qdict_get(const QDict *qdict, const char *key);
int64_t qdict_get_int(const QDict *qdict, const char *key);
bool qdict_get_bool(const QDict *qdict, const char *key);
QList *qdict_get_qlist(const QDict *qdict, const char *key);
QDict *qdict_get_qdict(const QDict *qdict, const char *key);
const char *qdict_get_str(const QDict *qdict, const char *key);
int64_t qdict_get_try_int(const QDict *qdict, const char *key,
                          int64_t def_value);
bool qdict_get_try_bool(const QDict *qdict, const char *key, bool def_value);
const char *qdict_get_try_str(const QDict *qdict, const char *key);

/* Iteration in QEMU's order. */
const QDictEntry *qdict_first(const QDict *qdict);
const QDictEntry *qdict_next(const QDict *qdict, const QDictEntry *entry);
static inline const char *qdict_entry_key(const QDictEntry *entry)
{
    return entry->key;
}
static inline QObject *qdict_entry_value(const QDictEntry *entry)
{
    return entry->value;
}

QDict *qdict_clone_shallow(const QDict *src);
/* Copy key from src to dst if dst lacks it. */
void qdict_copy_default(QDict *dst, QDict *src, const char *key);
void qdict_set_default_str(QDict *dst, const char *key, const char *val);

/* ---- Block-layer helpers for dotted option keys ---- */

/*
 * Move every entry of src into dest; with overwrite false, keys already in
 * dest stay in src.
 */
void qdict_join(QDict *dest, QDict *src, bool overwrite);
/* Move "start.X" entries of src into a new dict as "X". */
void qdict_extract_subqdict(QDict *src, QDict **dst, const char *start);
/* Split "N.X" entries (N = 0, 1, ...) into a list of dicts. */
void qdict_array_split(QDict *src, QList **dst);
/* Number of "subqdict.N" entries, or -errno if the keys are malformed. */
int qdict_array_entries(QDict *src, const char *subqdict);
/* {"a": {"b": 1}} -> {"a.b": 1}; lists become "a.0", "a.1", ... */
void qdict_flatten(QDict *qdict);
/* Inverse of qdict_flatten; errp on conflicting or malformed keys. */
QObject *qdict_crumple(const QDict *src, Error **errp);

typedef struct QDictRenames {
    const char *from;
    const char *to;
} QDictRenames;
/* Rename keys; fails if a target key already exists. */
bool qdict_rename_keys(QDict *qdict, const QDictRenames *renames,
                       Error **errp);

static inline void qdict_unref_(QDict *d) { qobject_unref(d); }
static inline void qlist_unref_(QList *l) { qobject_unref(l); }
static inline void qstring_unref_(QString *s) { qobject_unref(s); }
static inline void qnum_unref_(QNum *n) { qobject_unref(n); }
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QDict, qdict_unref_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QList, qlist_unref_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QString, qstring_unref_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QNum, qnum_unref_)

#endif
