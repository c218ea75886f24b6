/*
 * --object for the tools: parsing QEMU 7.2's "--object" argument (keyval
 * syntax or a JSON object), with its messages, and the one object type the
 * tools need, "secret".
 */
#include "qemu/osdep.h"

#include "crypto/secret.h"
#include "qemu/error.h"
#include "qemu/json.h"
#include "qemu/option.h"
#include "qom/object_interfaces.h"

typedef struct Secret {
    uint8_t *data;
    size_t len;
} Secret;

/* id -> Secret, for the lifetime of the program */
static GHashTable *secrets;

static void secret_free(gpointer p)
{
    Secret *s = p;

    g_free(s->data);
    g_free(s);
}

/* ---- keyval: "type,key=value,key.sub=value" ---- */

/* A key is non-empty dot-separated words of letters, digits, '-', '_'. */
static bool keyval_key_valid(const char *key, size_t len)
{
    bool word_start = true;
    size_t i;

    for (i = 0; i < len; i++) {
        if (key[i] == '.') {
            if (word_start) {
                return false;
            }
            word_start = true;
        } else if (g_ascii_isalnum(key[i]) || key[i] == '-' ||
                   key[i] == '_') {
            word_start = false;
        } else {
            return false;
        }
    }
    return !word_start;
}

/*
 * Parse params into a QDict of strings.  A first element without '='
 * is the value of "qom-type"; a later "help" or "?" sets *help.  Keys
 * with dots become (empty) nested dicts: no secret property takes one,
 * so all they can do is be reported as unexpected.  Later values
 * replace earlier ones, as in QEMU.
 */
static QDict *keyval_parse(const char *params, bool *help, Error **errp)
{
    g_autoptr(QDict) args = qdict_new();
    const char *s = params;
    bool first = true;

    *help = false;
    while (*s) {
        size_t len = strcspn(s, "=,");
        g_autofree char *key = NULL;
        char *value;

        if (first && s[len] != '=') {
            /* QEMU: an implied value ends at the first ',' (no ",,") */
            value = g_strndup(s, len);
            s += len;
            qdict_put_str(args, "qom-type", value);
            g_free(value);
        } else if (s[len] != '=') {
            key = g_strndup(s, len);
            if (!is_help_option(key)) {
                if (!keyval_key_valid(key, len)) {
                    error_setg(errp, "Invalid parameter '%s'", key);
                } else {
                    error_setg(errp, "Expected '=' after parameter '%s'",
                               key);
                }
                return NULL;
            }
            *help = true;
            s += len;
        } else {
            key = g_strndup(s, len);
            if (!keyval_key_valid(key, len)) {
                error_setg(errp, "Invalid parameter '%s'", key);
                return NULL;
            }
            s = get_opt_value(s + len + 1, &value);
            if (strchr(key, '.')) {
                *strchr(key, '.') = '\0';
                qdict_put(args, key, qdict_new());
            } else {
                qdict_put_str(args, key, value);
            }
            g_free(value);
        }
        first = false;
        if (*s == ',') {
            s++;
        }
    }
    return g_steal_pointer(&args);
}

/* ---- the secret type ---- */

static const char *const secret_props[] = {
    "data", "file", "format", "iv", "keyid",
};

/* "--object help" lists the types, "--object secret,help" the properties */
static void print_help(bool types)
{
    size_t i;

    if (types) {
        printf("List of user creatable objects:\n  secret\n");
        return;
    }
    printf("secret options:\n");
    for (i = 0; i < ARRAY_SIZE(secret_props); i++) {
        printf("  %s=<%s>\n", secret_props[i],
               strcmp(secret_props[i], "format") ? "string"
                                                 : "QCryptoSecretFormat");
    }
}

/* Identifiers: a letter, then letters, digits, '-', '.' or '_'. */
static bool id_wellformed(const char *id)
{
    size_t i;

    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (i = 1; id[i]; i++) {
        if (!g_ascii_isalnum(id[i]) && !strchr("-._", id[i])) {
            return false;
        }
    }
    return true;
}

/* String member name of args, or NULL if absent or (with errp set) bad. */
static const char *member_str(QDict *args, const char *name, bool required,
                              Error **errp)
{
    QObject *obj = qdict_get(args, name);

    /* "name.x=..." made a dict: QEMU skips it and reports it as left over */
    if (!obj || qobject_type(obj) == QTYPE_QDICT) {
        if (required) {
            error_setg(errp, "Parameter '%s' is missing", name);
        }
        return NULL;
    }
    if (qobject_type(obj) != QTYPE_QSTRING) {
        error_setg(errp, "Invalid parameter type for '%s', expected: string",
                   name);
        return NULL;
    }
    return qstring_get_str(qobject_to(QString, obj));
}

static bool base64_valid(const char *s, size_t len)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789+/=\n") == len;
}

/* The secret's bytes from data or file, decoded as format says. */
static Secret *secret_load(const char *id, const char *data,
                           const char *file,
                           const char *format, const char *keyid,
                           const char *iv, Error **errp)
{
    g_autofree char *raw = NULL;
    gsize len;
    Secret *s;

    if (data && file) {
        error_setg(errp, "'file' and 'data' are mutually exclusive");
        return NULL;
    }
    if (file) {
        g_autoptr(GError) gerr = NULL;

        if (!g_file_get_contents(file, &raw, &len, &gerr)) {
            error_setg(errp, "Unable to read %s: %s", file, gerr->message);
            return NULL;
        }
    } else if (data) {
        raw = g_strdup(data);
        len = strlen(data);
    } else {
        error_setg(errp, "Either 'file' or 'data' must be provided");
        return NULL;
    }

    if (keyid) {
        g_autofree uint8_t *key = NULL;
        size_t keylen;

        /* QEMU registers the object first: it finds itself, empty */
        if (!strcmp(keyid, id)) {
            error_setg(errp, "Secret with id '%s' has no data", id);
            return NULL;
        }
        if (qcrypto_secret_lookup(keyid, &key, &keylen, errp) < 0) {
            return NULL;
        }
        if (keylen != 32) {
            error_setg(errp, "Key should be 32 bytes in length");
            return NULL;
        }
        if (!iv) {
            error_setg(errp, "IV is required to decrypt secret");
            return NULL;
        }
        /* qblock links no cipher library */
        error_setg(errp, "Decrypting secrets with 'keyid' is not supported");
        return NULL;
    }

    s = g_new0(Secret, 1);
    if (format && !strcmp(format, "base64")) {
        if (!base64_valid(raw, len)) {
            error_setg(errp, "Base64 data contains invalid characters");
            g_free(s);
            return NULL;
        }
        s->data = g_base64_decode(raw, &s->len);
        /* g_base64_decode returns NULL for empty output */
        if (!s->data) {
            s->data = g_malloc0(1);
        }
    } else {
        s->data = (uint8_t *)g_steal_pointer(&raw);
        s->len = len;
    }
    return s;
}

/*
 * Create the object args describes, or with help (or type "help") print
 * what was asked for and set *helped.  False with errp set on error.
 */
static bool object_add(QDict *args, bool help, bool *helped, Error **errp)
{
    static const char *const known[] = {
        "qom-type", "id", "format", "keyid", "iv", "data", "file",
    };
    const char *type, *id, *format;
    const char *keyid = NULL, *iv = NULL, *data = NULL, *file = NULL;
    const QDictEntry *e;
    Error *local_err = NULL;
    Secret *s;
    size_t i;

    type = member_str(args, "qom-type", true, errp);
    if (!type) {
        return false;
    }
    /* QEMU lists the types for help on a type it does not know, too. */
    if (is_help_option(type) || (help && strcmp(type, "secret"))) {
        print_help(true);
        *helped = true;
        return true;
    }
    if (strcmp(type, "secret")) {
        error_setg(errp, "Parameter 'qom-type' does not accept value '%s'",
                   type);
        return false;
    }
    if (help) {
        print_help(false);
        *helped = true;
        return true;
    }

    id = member_str(args, "id", true, errp);
    if (!id) {
        return false;
    }
    if (!id_wellformed(id)) {
        error_setg(errp, "Parameter 'id' expects an identifier");
        error_append_hint(errp, "Identifiers consist of letters, digits, "
                          "'-', '.', '_', starting with a letter.\n");
        return false;
    }

    /* Members in QEMU's visiting order, then anything left over. */
    format = member_str(args, "format", false, &local_err);
    if (!local_err && format && strcmp(format, "raw") &&
        strcmp(format, "base64")) {
        error_setg(&local_err,
                   "Parameter 'format' does not accept value '%s'", format);
    }
    if (!local_err) {
        keyid = member_str(args, "keyid", false, &local_err);
    }
    if (!local_err) {
        iv = member_str(args, "iv", false, &local_err);
    }
    if (!local_err) {
        data = member_str(args, "data", false, &local_err);
    }
    if (!local_err) {
        file = member_str(args, "file", false, &local_err);
    }
    if (local_err) {
        error_propagate(errp, local_err);
        return false;
    }
    for (e = qdict_first(args); e; e = qdict_next(args, e)) {
        for (i = 0; i < ARRAY_SIZE(known); i++) {
            if (!strcmp(qdict_entry_key(e), known[i])) {
                break;
            }
        }
        if (i == ARRAY_SIZE(known)) {
            error_setg(errp, "Parameter '%s' is unexpected",
                       qdict_entry_key(e));
            return false;
        }
        if (qobject_type(qdict_entry_value(e)) == QTYPE_QDICT) {
            error_setg(errp, "Parameters '%s.*' are unexpected",
                       qdict_entry_key(e));
            return false;
        }
    }

    if (secrets && g_hash_table_contains(secrets, id)) {
        error_setg(errp, "attempt to add duplicate property '%s' to object "
                   "(type 'container')", id);
        return false;
    }
    s = secret_load(id, data, file, format, keyid, iv, errp);
    if (!s) {
        return false;
    }
    if (!secrets) {
        secrets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        secret_free);
    }
    g_hash_table_insert(secrets, g_strdup(id), s);
    return true;
}

void user_creatable_process_cmdline(const char *cmdline)
{
    QDict *args;
    Error *err = NULL;
    bool help = false, helped = false, ok;

    if (cmdline[0] == '{') {
        QObject *obj = qobject_from_json(cmdline, &err);

        if (obj && qobject_type(obj) != QTYPE_QDICT) {
            qobject_unref(obj);
            obj = NULL;
            error_setg(&err, "JSON argument must be an object");
        }
        args = obj ? qobject_to(QDict, obj) : NULL;
    } else {
        args = keyval_parse(cmdline, &help, &err);
    }
    ok = args && object_add(args, help, &helped, &err);
    qobject_unref(args);
    if (!ok) {
        error_report_err(err);
        exit(1);
    }
    if (helped) {
        exit(0);
    }
}

void user_creatable_cleanup(void)
{
    if (secrets) {
        g_hash_table_destroy(secrets);
        secrets = NULL;
    }
}

int qcrypto_secret_lookup(const char *secretid, uint8_t **data,
                          size_t *datalen, Error **errp)
{
    Secret *s = secrets ? g_hash_table_lookup(secrets, secretid) : NULL;

    if (!s) {
        error_setg(errp, "No secret with id '%s'", secretid);
        return -1;
    }
    *data = g_malloc(s->len + 1);
    memcpy(*data, s->data, s->len);
    (*data)[s->len] = '\0';
    *datalen = s->len;
    return 0;
}

char *qcrypto_secret_lookup_as_utf8(const char *secretid, Error **errp)
{
    uint8_t *data;
    size_t len;

    if (qcrypto_secret_lookup(secretid, &data, &len, errp) < 0) {
        return NULL;
    }
    if (!g_utf8_validate((const char *)data, len, NULL)) {
        error_setg(errp, "Data from secret %s is not valid UTF-8", secretid);
        g_free(data);
        return NULL;
    }
    return (char *)data;
}

char *qcrypto_secret_lookup_as_base64(const char *secretid, Error **errp)
{
    g_autofree uint8_t *data = NULL;
    size_t len;

    if (qcrypto_secret_lookup(secretid, &data, &len, errp) < 0) {
        return NULL;
    }
    return g_base64_encode(data, len);
}
