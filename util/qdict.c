/*
 * QDict: string-keyed dictionary of QObjects.
 *
 * The iteration order is observable (json: filenames, qemu-img's JSON
 * output, which unknown option an error names), so the table reproduces
 * QEMU's exactly: QDICT_BUCKET_MAX buckets indexed by the tdb/gdbm string
 * hash, new keys pushed at the head of their bucket's list, replacement
 * of a value leaving its entry where it is, and iteration by bucket index
 * and then list order.
 */
#include "qemu/osdep.h"
#include "qemu/qdict.h"
#include "qobject-internal.h"

static unsigned qdict_bucket(const char *key)
{
    const unsigned char *p = (const unsigned char *)key;
    uint32_t value = 0x238F13AF * (uint32_t)strlen(key);
    unsigned i;

    /* bytes count as unsigned: keys with bytes >= 0x80 hash as in QEMU */
    for (i = 0; p[i]; i++) {
        value += (uint32_t)p[i] << (i * 5 % 24);
    }
    return (1103515243 * value + 12345) % QDICT_BUCKET_MAX;
}

QDict *qdict_new(void)
{
    QDict *qdict = g_new0(QDict, 1);

    qdict->base.type = QTYPE_QDICT;
    qdict->base.refcnt = 1;
    return qdict;
}

size_t qdict_size(const QDict *qdict)
{
    return qdict->size;
}

static QDictEntry *qdict_find(const QDict *qdict, const char *key,
                              unsigned bucket)
{
    QDictEntry *entry;

    QLIST_FOREACH(entry, &qdict->table[bucket], next) {
        if (!strcmp(entry->key, key)) {
            return entry;
        }
    }
    return NULL;
}

void qdict_put_obj(QDict *qdict, const char *key, QObject *value)
{
    unsigned bucket = qdict_bucket(key);
    QDictEntry *entry = qdict_find(qdict, key, bucket);

    if (entry) {
        qobject_unref(entry->value);
        entry->value = value;
        return;
    }
    entry = g_new(QDictEntry, 1);
    entry->key = g_strdup(key);
    entry->value = value;
    QLIST_INSERT_HEAD(&qdict->table[bucket], entry, next);
    qdict->size++;
}

void qdict_put_int(QDict *qdict, const char *key, int64_t value)
{
    qdict_put(qdict, key, qnum_from_int(value));
}

void qdict_put_bool(QDict *qdict, const char *key, bool value)
{
    qdict_put(qdict, key, qbool_from_bool(value));
}

void qdict_put_str(QDict *qdict, const char *key, const char *value)
{
    qdict_put(qdict, key, qstring_from_str(value));
}

void qdict_put_null(QDict *qdict, const char *key)
{
    qdict_put(qdict, key, qnull());
}

static void qdict_entry_free(QDictEntry *entry)
{
    qobject_unref(entry->value);
    g_free(entry->key);
    g_free(entry);
}

void qdict_del(QDict *qdict, const char *key)
{
    QDictEntry *entry = qdict_find(qdict, key, qdict_bucket(key));

    if (entry) {
        QLIST_REMOVE(entry, next);
        qdict_entry_free(entry);
        qdict->size--;
    }
}

int qdict_haskey(const QDict *qdict, const char *key)
{
    return qdict_find(qdict, key, qdict_bucket(key)) != NULL;
}

QObject *qdict_get(const QDict *qdict, const char *key)
{
    QDictEntry *entry = qdict_find(qdict, key, qdict_bucket(key));

    return entry ? entry->value : NULL;
}

int64_t qdict_get_int(const QDict *qdict, const char *key)
{
    return qdict_get_try_int(qdict, key, 0);
}

double qdict_get_double(const QDict *qdict, const char *key)
{
    QNum *qn = qobject_to(QNum, qdict_get(qdict, key));

    return qn ? qnum_get_double(qn) : 0.0;
}

bool qdict_get_bool(const QDict *qdict, const char *key)
{
    return qdict_get_try_bool(qdict, key, false);
}

QList *qdict_get_qlist(const QDict *qdict, const char *key)
{
    return qobject_to(QList, qdict_get(qdict, key));
}

QDict *qdict_get_qdict(const QDict *qdict, const char *key)
{
    return qobject_to(QDict, qdict_get(qdict, key));
}

const char *qdict_get_str(const QDict *qdict, const char *key)
{
    return qdict_get_try_str(qdict, key);
}

int64_t qdict_get_try_int(const QDict *qdict, const char *key,
                          int64_t def_value)
{
    QNum *qn = qobject_to(QNum, qdict_get(qdict, key));
    int64_t val;

    if (!qn || !qnum_get_try_int(qn, &val)) {
        return def_value;
    }
    return val;
}

bool qdict_get_try_bool(const QDict *qdict, const char *key, bool def_value)
{
    QBool *qb = qobject_to(QBool, qdict_get(qdict, key));

    return qb ? qbool_get_bool(qb) : def_value;
}

const char *qdict_get_try_str(const QDict *qdict, const char *key)
{
    return qobject_get_try_str(qdict_get(qdict, key));
}

static const QDictEntry *qdict_first_from(const QDict *qdict,
                                          unsigned bucket)
{
    for (; bucket < QDICT_BUCKET_MAX; bucket++) {
        if (!QLIST_EMPTY(&qdict->table[bucket])) {
            return QLIST_FIRST(&qdict->table[bucket]);
        }
    }
    return NULL;
}

const QDictEntry *qdict_first(const QDict *qdict)
{
    return qdict_first_from(qdict, 0);
}

const QDictEntry *qdict_next(const QDict *qdict, const QDictEntry *entry)
{
    const QDictEntry *next = QLIST_NEXT(entry, next);

    return next ? next : qdict_first_from(qdict, qdict_bucket(entry->key) + 1);
}

QDict *qdict_clone_shallow(const QDict *src)
{
    QDict *dst = qdict_new();
    const QDictEntry *entry;

    for (entry = qdict_first(src); entry; entry = qdict_next(src, entry)) {
        qdict_put_obj(dst, entry->key, qobject_ref(entry->value));
    }
    return dst;
}

bool qdict_is_equal(const QObject *x, const QObject *y)
{
    const QDict *a = container_of(x, QDict, base);
    const QDict *b = container_of(y, QDict, base);
    const QDictEntry *entry;

    if (a->size != b->size) {
        return false;
    }
    for (entry = qdict_first(a); entry; entry = qdict_next(a, entry)) {
        if (!qobject_is_equal(entry->value, qdict_get(b, entry->key))) {
            return false;
        }
    }
    return true;
}

void qdict_destroy_obj(QObject *obj)
{
    QDict *qdict = container_of(obj, QDict, base);
    QDictEntry *entry, *tmp;
    unsigned i;

    for (i = 0; i < QDICT_BUCKET_MAX; i++) {
        QLIST_FOREACH_SAFE(entry, &qdict->table[i], next, tmp) {
            QLIST_REMOVE(entry, next);
            qdict_entry_free(entry);
        }
    }
    g_free(qdict);
}
