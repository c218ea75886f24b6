/* JSON parsing and formatting of QObjects. */
#ifndef QEMU_JSON_H
#define QEMU_JSON_H

#include "qemu/qdict.h"

/*
 * Parse one JSON value (QEMU's dialect: also accepts single-quoted
 * strings).  Errors are reported with QEMU's texts.
 */
QObject *qobject_from_json(const char *string, Error **errp);

/* Compact JSON: {"a": 1, "b": [1, 2]} with QEMU's spacing. */
GString *qobject_to_json(const QObject *obj);
/* With pretty, one member per line, indented by 4 spaces per level. */
GString *qobject_to_json_pretty(const QObject *obj, bool pretty);

#endif
