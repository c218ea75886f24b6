/*
 * QString: an immutable NUL-terminated byte string.
 */
#include "qemu/osdep.h"
#include "qemu/qdict.h"
#include "qobject-internal.h"

static QString *qstring_wrap(char *str)
{
    QString *qs = g_new(QString, 1);

    qs->base.type = QTYPE_QSTRING;
    qs->base.refcnt = 1;
    qs->string = str;
    return qs;
}

QString *qstring_new(void)
{
    return qstring_wrap(g_strdup(""));
}

QString *qstring_from_str(const char *str)
{
    return qstring_wrap(g_strdup(str));
}

QString *qstring_from_substr(const char *str, size_t start, size_t end)
{
    assert(start <= end);
    return qstring_wrap(g_strndup(str + start, end - start));
}

QString *qstring_from_gstring(GString *gstr)
{
    return qstring_wrap(g_string_free(gstr, false));
}

const char *qstring_get_str(const QString *qstring)
{
    return qstring->string;
}

const char *qobject_get_try_str(const QObject *obj)
{
    QString *qs = qobject_to(QString, obj);

    return qs ? qs->string : NULL;
}

void qstring_destroy_obj(QObject *obj)
{
    QString *qs = container_of(obj, QString, base);

    g_free(qs->string);
    g_free(qs);
}
