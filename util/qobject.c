/*
 * QObject core: reference counting, type dispatch, deep equality, and the
 * two trivial types QNull and QBool.
 */
#include "qemu/osdep.h"
#include "qemu/qdict.h"
#include "qobject-internal.h"

/*
 * The one QNull.  Its count starts at 1 and is never dropped by us, so it
 * is never freed; qnull() hands out references to it.
 */
static QNull qnull_singleton = {
    .base = { .type = QTYPE_QNULL, .refcnt = 1 },
};

QNull *qnull(void)
{
    return qobject_ref(&qnull_singleton);
}

QBool *qbool_from_bool(bool value)
{
    QBool *qb = g_new(QBool, 1);

    qb->base.type = QTYPE_QBOOL;
    qb->base.refcnt = 1;
    qb->value = value;
    return qb;
}

bool qbool_get_bool(const QBool *qb)
{
    return qb->value;
}

void qobject_ref_impl(QObject *obj)
{
    if (obj) {
        obj->base.refcnt++;
    }
}

static void qobject_destroy(QObject *obj)
{
    switch (qobject_type(obj)) {
    case QTYPE_QNUM:
        qnum_destroy_obj(obj);
        break;
    case QTYPE_QSTRING:
        qstring_destroy_obj(obj);
        break;
    case QTYPE_QDICT:
        qdict_destroy_obj(obj);
        break;
    case QTYPE_QLIST:
        qlist_destroy_obj(obj);
        break;
    case QTYPE_QBOOL:
        g_free(container_of(obj, QBool, base));
        break;
    case QTYPE_QNULL:   /* the singleton's count never reaches zero */
    default:
        g_assert_not_reached();
    }
}

void qobject_unref_impl(QObject *obj)
{
    if (!obj) {
        return;
    }
    assert(obj->base.refcnt > 0);
    if (--obj->base.refcnt == 0) {
        qobject_destroy(obj);
    }
}

bool qobject_is_equal(const QObject *x, const QObject *y)
{
    if (x == y) {
        return true;
    }
    if (!x || !y || qobject_type(x) != qobject_type(y)) {
        return false;
    }

    switch (qobject_type(x)) {
    case QTYPE_QNULL:
        return true;
    case QTYPE_QBOOL:
        return container_of(x, QBool, base)->value ==
               container_of(y, QBool, base)->value;
    case QTYPE_QSTRING:
        return !strcmp(qstring_get_str(container_of(x, QString, base)),
                       qstring_get_str(container_of(y, QString, base)));
    case QTYPE_QNUM:
        return qnum_is_equal(x, y);
    case QTYPE_QLIST:
        return qlist_is_equal(x, y);
    case QTYPE_QDICT:
        return qdict_is_equal(x, y);
    default:
        g_assert_not_reached();
    }
}
