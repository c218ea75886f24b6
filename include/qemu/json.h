/*
 * JSON parsing and formatting of QObjects, with QEMU 7.2's dialect, error
 * messages and output format (see docs/internals.rst, "Options and QObjects").
 */
#ifndef QEMU_JSON_H
#define QEMU_JSON_H

#include "qemu/qdict.h"

/*
 * Parse exactly one JSON value (QEMU's dialect: strings may also be
 * single-quoted).  Returns a new reference, or NULL with errp set to
 * QEMU's message, e.g. "JSON parse error, expecting value", "Expecting a
 * JSON value" (empty input) or "Expecting at most one JSON value".
 */
QObject *qobject_from_json(const char *string, Error **errp);

/* Compact JSON: {"a": 1, "b": [1, 2]} with QEMU's spacing. */
GString *qobject_to_json(const QObject *obj);
/*
 * With pretty, one member per line, indented by 4 spaces per level, as
 * qemu-img --output=json prints (without a final newline); else as
 * qobject_to_json.
 */
GString *qobject_to_json_pretty(const QObject *obj, bool pretty);

#endif
