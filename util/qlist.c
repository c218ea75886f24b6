/*
 * QList: an ordered sequence of QObjects.
 */
#include "qemu/osdep.h"
#include "qemu/qdict.h"
#include "qobject-internal.h"

QList *qlist_new(void)
{
    QList *qlist = g_new(QList, 1);

    qlist->base.type = QTYPE_QLIST;
    qlist->base.refcnt = 1;
    QTAILQ_INIT(&qlist->head);
    return qlist;
}

QList *qlist_copy(QList *src)
{
    QList *dst = qlist_new();
    const QListEntry *entry;

    QLIST_FOREACH_ENTRY(src, entry) {
        qlist_append_obj(dst, qobject_ref(qlist_entry_obj(entry)));
    }
    return dst;
}

void qlist_append_obj(QList *qlist, QObject *obj)
{
    QListEntry *entry = g_new(QListEntry, 1);

    entry->value = obj;
    QTAILQ_INSERT_TAIL(&qlist->head, entry, next);
}

void qlist_append_int(QList *qlist, int64_t value)
{
    qlist_append(qlist, qnum_from_int(value));
}

void qlist_append_bool(QList *qlist, bool value)
{
    qlist_append(qlist, qbool_from_bool(value));
}

void qlist_append_str(QList *qlist, const char *value)
{
    qlist_append(qlist, qstring_from_str(value));
}

void qlist_append_null(QList *qlist)
{
    qlist_append(qlist, qnull());
}

QObject *qlist_pop(QList *qlist)
{
    QListEntry *entry;
    QObject *obj;

    if (!qlist || QTAILQ_EMPTY(&qlist->head)) {
        return NULL;
    }
    entry = QTAILQ_FIRST(&qlist->head);
    QTAILQ_REMOVE(&qlist->head, entry, next);
    obj = entry->value;
    g_free(entry);
    return obj;
}

QObject *qlist_peek(QList *qlist)
{
    if (!qlist || QTAILQ_EMPTY(&qlist->head)) {
        return NULL;
    }
    return QTAILQ_FIRST(&qlist->head)->value;
}

bool qlist_empty(const QList *qlist)
{
    return QTAILQ_EMPTY(&qlist->head);
}

size_t qlist_size(const QList *qlist)
{
    const QListEntry *entry;
    size_t count = 0;

    QLIST_FOREACH_ENTRY(qlist, entry) {
        count++;
    }
    return count;
}

bool qlist_is_equal(const QObject *x, const QObject *y)
{
    const QList *a = container_of(x, QList, base);
    const QList *b = container_of(y, QList, base);
    const QListEntry *ea = qlist_first(a);
    const QListEntry *eb = qlist_first(b);

    while (ea && eb) {
        if (!qobject_is_equal(qlist_entry_obj(ea), qlist_entry_obj(eb))) {
            return false;
        }
        ea = qlist_next(ea);
        eb = qlist_next(eb);
    }
    return !ea && !eb;
}

void qlist_destroy_obj(QObject *obj)
{
    QList *qlist = container_of(obj, QList, base);
    QListEntry *entry, *tmp;

    QTAILQ_FOREACH_SAFE(entry, &qlist->head, next, tmp) {
        QTAILQ_REMOVE(&qlist->head, entry, next);
        qobject_unref(entry->value);
        g_free(entry);
    }
    g_free(qlist);
}
