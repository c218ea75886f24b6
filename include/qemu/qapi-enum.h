/* String <-> enum tables for the option enums QEMU defines in QAPI. */
#ifndef QEMU_QAPI_ENUM_H
#define QEMU_QAPI_ENUM_H

typedef struct QEnumLookup {
    const char *const *array;
    int size;
} QEnumLookup;

/* The name of val (asserts it is in range). */
const char *qapi_enum_lookup(const QEnumLookup *lookup, int val);
/*
 * The value named buf; def if buf is NULL.  Unknown names fail with
 * "invalid parameter value: %s" (QEMU's text).
 */
int qapi_enum_parse(const QEnumLookup *lookup, const char *buf, int def,
                    Error **errp);

#endif
