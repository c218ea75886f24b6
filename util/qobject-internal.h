/*
 * Hooks between the QObject core (qobject.c) and the per-type files.
 */
#ifndef QOBJECT_INTERNAL_H
#define QOBJECT_INTERNAL_H

#include "qemu/qdict.h"

/* Free the object's storage; called when its count drops to zero. */
void qnum_destroy_obj(QObject *obj);
void qstring_destroy_obj(QObject *obj);
void qlist_destroy_obj(QObject *obj);
void qdict_destroy_obj(QObject *obj);

/* Deep equality of two objects already known to be of the type. */
bool qnum_is_equal(const QObject *x, const QObject *y);
bool qlist_is_equal(const QObject *x, const QObject *y);
bool qdict_is_equal(const QObject *x, const QObject *y);

#endif
