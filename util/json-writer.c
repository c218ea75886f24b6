/*
 * QObject to JSON text, byte for byte as QEMU 7.2 writes it.
 *
 * Compact form: {"a": 1, "b": [true, null]} -- ": " after keys, ", "
 * between members.  Pretty form: every member on its own line, indented
 * by four spaces per level, closing bracket on its own line at the
 * parent's indentation, also when the container is empty ("[\n    ]").
 *
 * Strings are printed as ASCII: '"', '\\' and the control characters
 * \b \f \n \r \t get their short escapes, other characters below 0x20 and
 * 0x7F become \u00XX, everything above 0x7F \uXXXX (upper-case hex,
 * surrogate pairs above U+FFFF), and each invalid UTF-8 sequence \uFFFD.
 * The overlong 0xC0 0x80 is modified UTF-8's U+0000 and prints \u0000.
 */
#include "qemu/osdep.h"
#include "qemu/json.h"
#include "qemu/unicode.h"

static void json_quote_str(GString *out, const char *str)
{
    const char *p = str;
    char *end;
    int cp;

    g_string_append_c(out, '"');
    while (*p) {
        cp = mod_utf8_codepoint(p, 6, &end);
        p = end;
        switch (cp) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\b':
            g_string_append(out, "\\b");
            break;
        case '\f':
            g_string_append(out, "\\f");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (cp < 0) {
                cp = 0xFFFD;
            }
            if (cp >= 0x20 && cp < 0x7F) {
                g_string_append_c(out, cp);
            } else if (cp < 0x10000) {
                g_string_append_printf(out, "\\u%04X", cp);
            } else {
                cp -= 0x10000;
                g_string_append_printf(out, "\\u%04X\\u%04X",
                                       0xD800 | (cp >> 10),
                                       0xDC00 | (cp & 0x3FF));
            }
        }
    }
    g_string_append_c(out, '"');
}

/* Before a member: the separator from the previous one and the indent. */
static void json_member_start(GString *out, bool first, bool pretty,
                              int level)
{
    if (!first) {
        g_string_append_c(out, ',');
    }
    if (pretty) {
        g_string_append_printf(out, "\n%*s", 4 * level, "");
    } else if (!first) {
        g_string_append_c(out, ' ');
    }
}

static void json_container_end(GString *out, char bracket, bool pretty,
                               int level)
{
    if (pretty) {
        g_string_append_printf(out, "\n%*s", 4 * level, "");
    }
    g_string_append_c(out, bracket);
}

static void json_emit(GString *out, const QObject *obj, bool pretty,
                      int level)
{
    switch (qobject_type(obj)) {
    case QTYPE_QNULL:
        g_string_append(out, "null");
        break;
    case QTYPE_QBOOL:
        g_string_append(out, qbool_get_bool(qobject_to(QBool, obj))
                        ? "true" : "false");
        break;
    case QTYPE_QNUM: {
        g_autofree char *num = qnum_to_string(qobject_to(QNum, obj));

        g_string_append(out, num);
        break;
    }
    case QTYPE_QSTRING:
        json_quote_str(out, qstring_get_str(qobject_to(QString, obj)));
        break;
    case QTYPE_QDICT: {
        const QDict *dict = qobject_to(QDict, obj);
        const QDictEntry *entry;
        bool first = true;

        g_string_append_c(out, '{');
        for (entry = qdict_first(dict); entry;
             entry = qdict_next(dict, entry)) {
            json_member_start(out, first, pretty, level + 1);
            first = false;
            json_quote_str(out, qdict_entry_key(entry));
            g_string_append(out, ": ");
            json_emit(out, qdict_entry_value(entry), pretty, level + 1);
        }
        json_container_end(out, '}', pretty, level);
        break;
    }
    case QTYPE_QLIST: {
        const QList *list = qobject_to(QList, obj);
        const QListEntry *entry;

        g_string_append_c(out, '[');
        QLIST_FOREACH_ENTRY(list, entry) {
            json_member_start(out, entry == qlist_first(list), pretty,
                              level + 1);
            json_emit(out, qlist_entry_obj(entry), pretty, level + 1);
        }
        json_container_end(out, ']', pretty, level);
        break;
    }
    default:
        g_assert_not_reached();
    }
}

GString *qobject_to_json_pretty(const QObject *obj, bool pretty)
{
    GString *out = g_string_new(NULL);

    json_emit(out, obj, pretty, 0);
    return out;
}

GString *qobject_to_json(const QObject *obj)
{
    return qobject_to_json_pretty(obj, false);
}
