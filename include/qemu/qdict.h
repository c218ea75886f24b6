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

/*
 * Every QObject type starts with a QObjectBase_ named base, QObject itself
 * included, so that QOBJECT() works on all of them (as in QEMU).
 */
typedef struct QObjectBase_ {
    QType type;
    size_t refcnt;
} QObjectBase_;

typedef struct QObject {
    QObjectBase_ base;
} QObject;

typedef struct QNull { QObjectBase_ base; } QNull;
typedef struct QBool { QObjectBase_ base; bool value; } QBool;
typedef struct QString { QObjectBase_ base; char *string; } QString;

typedef enum { QNUM_I64, QNUM_U64, QNUM_DOUBLE } QNumKind;
typedef struct QNum {
    QObjectBase_ base;
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
    QObjectBase_ base;
    QTAILQ_HEAD(, QListEntry) head;
} QList;

#define QDICT_BUCKET_MAX 512

typedef struct QDictEntry {
    char *key;
    QObject *value;
    QLIST_ENTRY(QDictEntry) next;
} QDictEntry;

typedef struct QDict {
    QObjectBase_ base;
    size_t size;
    QLIST_HEAD(, QDictEntry) table[QDICT_BUCKET_MAX];
} QDict;

/* ---- QObject ---- */

/* Upcast any QObject type (or QObject itself) to QObject *; NULL stays. */
#define QOBJECT(obj) ({ typeof(obj) o_ = (obj); \
                        o_ ? container_of(&o_->base, QObject, base) : NULL; })

void qobject_ref_impl(QObject *obj);
void qobject_unref_impl(QObject *obj);
/* Take/drop a reference on any QObject subtype (NULL is fine). */
#define qobject_ref(obj) ({ typeof(obj) r_ = (obj); \
                            qobject_ref_impl(QOBJECT(r_)); r_; })
#define qobject_unref(obj) qobject_unref_impl(QOBJECT(obj))

static inline QType qobject_type(const QObject *obj)
{
    return obj->base.type;
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
    return (obj && obj->base.type == type) ? (QObject *)obj : NULL;
}

/*
 * Deep equality, as QEMU defines it: two NULLs are equal; integers compare
 * by value whether stored signed or unsigned (a negative integer never
 * equals an unsigned one); a double never equals an integer; dicts are
 * equal when they hold the same keys with equal values, in any order.
 */
bool qobject_is_equal(const QObject *x, const QObject *y);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QObject, qobject_unref_impl)

/* ---- scalars ---- */

QNull *qnull(void);
QBool *qbool_from_bool(bool value);
bool qbool_get_bool(const QBool *qb);

QString *qstring_new(void);
QString *qstring_from_str(const char *str);
/* The bytes str[start, end): end is exclusive. */
QString *qstring_from_substr(const char *str, size_t start, size_t end);
/* Takes ownership of gstr (and frees the GString wrapper). */
QString *qstring_from_gstring(GString *gstr);
const char *qstring_get_str(const QString *qstring);
/* The string if obj is a QString, else NULL. */
const char *qobject_get_try_str(const QObject *obj);

/*
 * A QNum holds an int64_t, a uint64_t (used only for values above
 * INT64_MAX by the JSON parser, but any value may be stored) or a double.
 */
QNum *qnum_from_int(int64_t value);
QNum *qnum_from_uint(uint64_t value);
QNum *qnum_from_double(double value);
/* False for a double, or an unsigned value above INT64_MAX. */
bool qnum_get_try_int(const QNum *qn, int64_t *val);
/* As qnum_get_try_int, but aborts where that fails. */
int64_t qnum_get_int(const QNum *qn);
/* False for a double, or a negative signed value. */
bool qnum_get_try_uint(const QNum *qn, uint64_t *val);
uint64_t qnum_get_uint(const QNum *qn);
/* Any kind, converted to double. */
double qnum_get_double(QNum *qn);
/*
 * The number as JSON prints it: integers in decimal, doubles with "%.17g"
 * (so 1.0 prints as "1" and 0.1 as "0.10000000000000001").  g_free it.
 */
char *qnum_to_string(QNum *qn);

/* ---- QList ---- */

QList *qlist_new(void);
/* Shallow copy: the new list holds new references to the same elements. */
QList *qlist_copy(QList *src);
/* Takes ownership of obj. */
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

/*
 * Borrowed references.  QEMU's qdict_get_int/_bool/_str/_double require
 * the key to exist with that type; ours return 0/false/NULL/0.0 instead of
 * crashing when it does not.  The _try_ variants return def_value (NULL for
 * strings) when the key is absent or of another type, and
 * qdict_get_try_int also when the number does not fit in int64_t.
 */
QObject *qdict_get(const QDict *qdict, const char *key);
int64_t qdict_get_int(const QDict *qdict, const char *key);
double qdict_get_double(const QDict *qdict, const char *key);
bool qdict_get_bool(const QDict *qdict, const char *key);
QList *qdict_get_qlist(const QDict *qdict, const char *key);
QDict *qdict_get_qdict(const QDict *qdict, const char *key);
const char *qdict_get_str(const QDict *qdict, const char *key);
int64_t qdict_get_try_int(const QDict *qdict, const char *key,
                          int64_t def_value);
bool qdict_get_try_bool(const QDict *qdict, const char *key, bool def_value);
const char *qdict_get_try_str(const QDict *qdict, const char *key);

/*
 * Iteration in QEMU's order.  The current entry may be deleted if the
 * next one was fetched first; entries inserted meanwhile may or may not
 * be visited (as in QEMU).
 */
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

/*
 * New dict with new references to src's values.  Like QEMU's it is built
 * by inserting src's entries in iteration order, so keys that share a
 * hash bucket come out in reverse order in the copy.
 */
QDict *qdict_clone_shallow(const QDict *src);
/* Copy key from src to dst if dst lacks it (and src has it). */
void qdict_copy_default(QDict *dst, QDict *src, const char *key);
/* Put key = val into dst unless dst already has key. */
void qdict_set_default_str(QDict *dst, const char *key, const char *val);

/* ---- Block-layer helpers for dotted option keys ---- */

/*
 * Move every entry of src into dest; with overwrite false, keys already in
 * dest stay in src (and dest keeps its value).
 */
void qdict_join(QDict *dest, QDict *src, bool overwrite);
/*
 * Remove every entry whose key starts with start (e.g. "file.") from src;
 * if dst is non-NULL, *dst becomes a new dict holding them with the prefix
 * stripped.
 */
void qdict_extract_subqdict(QDict *src, QDict **dst, const char *start);
/*
 * *dst becomes a new list built from src's entries "0", "1", ... (taken
 * as they are) or "0.*", "1.*", ... (extracted as dicts), stopping at the
 * first index that has neither form, or both.  Used entries leave src.
 */
void qdict_array_split(QDict *src, QList **dst);
/*
 * Number of array elements "<subqdict>N" / "<subqdict>N.*" (subqdict is
 * "" or ends in '.'), or -EINVAL if any key with that prefix is not part
 * of a contiguous array, or an index has both forms.
 */
int qdict_array_entries(QDict *src, const char *subqdict);
/*
 * {"a": {"b": 1}, "l": [2]} -> {"a.b": 1, "l.0": 2}, recursively.  Empty
 * dicts and lists stay as values ({"a": {}} is unchanged).
 */
void qdict_flatten(QDict *qdict);
/*
 * Inverse of qdict_flatten: split keys at '.' (".." is a literal dot) and
 * turn dicts whose keys are all integers 0..n-1 into lists.  Returns a new
 * QDict or QList, or NULL with errp set (QEMU's messages) when a value is
 * a non-empty dict/list, a key is both a scalar and a prefix, list and
 * non-list keys are mixed, or list indices have gaps.
 */
QObject *qdict_crumple(const QDict *src, Error **errp);

typedef struct QDictRenames {
    const char *from;
    const char *to;
} QDictRenames;
/*
 * Rename keys, in table order; the table ends with { NULL, NULL }.  Fails
 * with "'<to>' and its alias '<from>' can't be used at the same time" if
 * both keys are present (earlier renames stay done).
 */
bool qdict_rename_keys(QDict *qdict, const QDictRenames *renames,
                       Error **errp);

static inline void qnull_unref_(QNull *n) { qobject_unref(n); }
static inline void qbool_unref_(QBool *b) { qobject_unref(b); }
static inline void qdict_unref_(QDict *d) { qobject_unref(d); }
static inline void qlist_unref_(QList *l) { qobject_unref(l); }
static inline void qstring_unref_(QString *s) { qobject_unref(s); }
static inline void qnum_unref_(QNum *n) { qobject_unref(n); }
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QNull, qnull_unref_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QBool, qbool_unref_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QDict, qdict_unref_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QList, qlist_unref_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QString, qstring_unref_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QNum, qnum_unref_)

#endif
