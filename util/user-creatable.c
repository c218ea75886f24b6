/*
 * --object: the "secret" type of QEMU 7.2 (crypto/secret.c), with the
 * parsing rules of its "keyval" syntax and the messages of its QAPI
 * visitor, which scripts see when they get an --object wrong.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/option.h"
#include "qemu/queue.h"
#include "qom/object_interfaces.h"
#include "crypto/secret.h"

typedef struct Secret {
    char *id;
    uint8_t *data;          /* NULL until the object is complete */
    size_t len;
    QTAILQ_ENTRY(Secret) next;
} Secret;

static QTAILQ_HEAD(, Secret) secrets = QTAILQ_HEAD_INITIALIZER(secrets);

/* ---- keyval parsing ---- */

typedef struct KeyVal {
    char *key;
    char *value;
} KeyVal;

static void keyval_free(gpointer p)
{
    KeyVal *kv = p;

    g_free(kv->key);
    g_free(kv->value);
    g_free(kv);
}

/* Length of the QAPI name at s: a letter, then letters, digits, - and _. */
static size_t qapi_name_len(const char *s, const char *end)
{
    const char *p = s;

    if (p == end || !g_ascii_isalpha(*p)) {
        return 0;
    }
    while (p < end && (g_ascii_isalnum(*p) || *p == '-' || *p == '_')) {
        p++;
    }
    return p - s;
}

/* Key fragments separated by '.', each a name (or an index after one). */
static bool keyval_key_valid(const char *key, size_t len)
{
    const char *end = key + len;
    const char *s = key;

    for (;;) {
        size_t n = qapi_name_len(s, end);

        if (!n && s != key) {
            while (s + n < end && g_ascii_isdigit(s[n])) {
                n++;
            }
        }
        if (!n || (s + n < end && s[n] != '.')) {
            return false;
        }
        s += n;
        if (s == end) {
            return true;
        }
        s++;
    }
}

static bool is_help_word(const char *s, size_t len)
{
    return (len == 4 && !strncmp(s, "help", 4)) || (len == 1 && *s == '?');
}

/*
 * Split "type,key=value,..." into KeyVal entries.  The first element may
 * omit "qom-type=" (its value then ends at the first comma); elsewhere
 * ",," stands for a comma in a value.  "help" or "?" as an element sets
 * *help.
 */
static GPtrArray *keyval_parse(const char *params, bool *help, Error **errp)
{
    g_autoptr(GPtrArray) kvs = g_ptr_array_new_with_free_func(keyval_free);
    const char *s = params;
    bool first = true;

    *help = false;
    while (*s) {
        size_t len = strcspn(s, "=,");
        GString *val;
        KeyVal *kv;

        if (len && s[len] != '=') {
            if (is_help_word(s, len)) {
                *help = true;
                s += len;
                s += *s == ',';
                first = false;
                continue;
            }
            if (first) {
                kv = g_new0(KeyVal, 1);
                kv->key = g_strdup("qom-type");
                kv->value = g_strndup(s, len);
                g_ptr_array_add(kvs, kv);
                s += len;
                s += *s == ',';
                first = false;
                continue;
            }
        }
        if (!keyval_key_valid(s, len)) {
            error_setg(errp, "Invalid parameter '%.*s'", (int)len, s);
            return NULL;
        }
        if (s[len] != '=') {
            error_setg(errp, "Expected '=' after parameter '%.*s'",
                       (int)len, s);
            return NULL;
        }

        kv = g_new0(KeyVal, 1);
        kv->key = g_strndup(s, len);
        g_ptr_array_add(kvs, kv);
        s += len + 1;

        val = g_string_new(NULL);
        while (*s) {
            if (*s == ',') {
                s++;
                if (*s != ',') {
                    break;
                }
            }
            g_string_append_c(val, *s++);
        }
        kv->value = g_string_free(val, false);
        first = false;
    }
    return g_steal_pointer(&kvs);
}

/* The last value given for key (later settings override earlier ones). */
static const char *keyval_get(GPtrArray *kvs, const char *key)
{
    for (guint i = kvs->len; i > 0; i--) {
        KeyVal *kv = g_ptr_array_index(kvs, i - 1);

        if (!strcmp(kv->key, key)) {
            return kv->value;
        }
    }
    return NULL;
}

/* ---- secrets ---- */

static const char *const secret_props[] = {
    "data", "file", "format", "iv", "keyid", NULL
};

static Secret *secret_find(const char *id)
{
    Secret *s;

    QTAILQ_FOREACH(s, &secrets, next) {
        if (!strcmp(s->id, id)) {
            return s;
        }
    }
    return NULL;
}

int qcrypto_secret_lookup(const char *secretid, uint8_t **data,
                          size_t *datalen, Error **errp)
{
    Secret *s = secret_find(secretid);

    if (!s) {
        error_setg(errp, "No secret with id '%s'", secretid);
        return -1;
    }
    if (!s->data) {
        error_setg(errp, "Secret with id '%s' has no data", secretid);
        return -1;
    }
    /* One spare NUL so that text secrets can be used as strings. */
    *data = g_malloc0(s->len + 1);
    memcpy(*data, s->data, s->len);
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
    if (!g_utf8_validate((char *)data, len, NULL)) {
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

static uint8_t *base64_decode(const char *in, size_t in_len, size_t *out_len,
                              Error **errp)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    g_autofree char *copy = g_strndup(in, in_len);

    if (strlen(copy) != in_len) {
        error_setg(errp, "Base64 data contains embedded NUL characters");
        return NULL;
    }
    if (strspn(copy, alphabet) != in_len) {
        error_setg(errp, "Base64 data contains invalid characters");
        return NULL;
    }
    if (!in_len) {
        *out_len = 0;
        return g_malloc0(1);
    }
    return g_base64_decode(copy, out_len);
}

/* Load the secret's bytes from data= or file= and decode them. */
static bool secret_complete(Secret *secret, GPtrArray *kvs, Error **errp)
{
    const char *data = keyval_get(kvs, "data");
    const char *file = keyval_get(kvs, "file");
    const char *format = keyval_get(kvs, "format");
    const char *keyid = keyval_get(kvs, "keyid");
    g_autofree uint8_t *input = NULL;
    size_t input_len;

    if (data && file) {
        error_setg(errp, "'file' and 'data' are mutually exclusive");
        return false;
    }
    if (file) {
        g_autoptr(GError) gerr = NULL;
        gchar *contents;
        gsize len;

        if (!g_file_get_contents(file, &contents, &len, &gerr)) {
            error_setg(errp, "Unable to read %s: %s", file, gerr->message);
            return false;
        }
        input = (uint8_t *)contents;
        input_len = len;
    } else if (data) {
        input = (uint8_t *)g_strdup(data);
        input_len = strlen(data);
    } else {
        error_setg(errp, "Either 'file' or 'data' must be provided");
        return false;
    }

    if (keyid) {
        g_autofree uint8_t *key = NULL;
        size_t key_len;

        if (qcrypto_secret_lookup(keyid, &key, &key_len, errp) < 0) {
            return false;
        }
        /* QEMU decrypts with AES-256-CBC; no cipher library is linked. */
        error_setg(errp, "Decrypting secret '%s' with key '%s' is not "
                   "supported", secret->id, keyid);
        return false;
    }

    if (format && !strcmp(format, "base64")) {
        secret->data = base64_decode((char *)input, input_len, &secret->len,
                                     errp);
        return secret->data != NULL;
    }
    secret->data = g_steal_pointer(&input);
    secret->len = input_len;
    return true;
}

static bool id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (int i = 1; id[i]; i++) {
        if (!g_ascii_isalnum(id[i]) && !strchr("-._", id[i])) {
            return false;
        }
    }
    return true;
}

static bool is_secret_prop(const char *name, size_t len)
{
    for (int i = 0; secret_props[i]; i++) {
        if (strlen(secret_props[i]) == len &&
            !strncmp(secret_props[i], name, len)) {
            return true;
        }
    }
    return false;
}

/* The checks QEMU's visitor makes, in its order; then creation. */
static bool secret_add(GPtrArray *kvs, const char *id, Error **errp)
{
    const char *format = keyval_get(kvs, "format");
    Secret *secret;

    if (format && strcmp(format, "raw") && strcmp(format, "base64")) {
        error_setg(errp, "Parameter 'format' does not accept value '%s'",
                   format);
        return false;
    }
    for (guint i = 0; i < kvs->len; i++) {
        KeyVal *kv = g_ptr_array_index(kvs, i);
        size_t len = strcspn(kv->key, ".");

        if (!strcmp(kv->key, "qom-type") || !strcmp(kv->key, "id")) {
            continue;
        }
        if (kv->key[len] == '.' && is_secret_prop(kv->key, len)) {
            error_setg(errp, "Parameters '%.*s.*' are unexpected", (int)len,
                       kv->key);
            return false;
        }
        if (!is_secret_prop(kv->key, len) || kv->key[len]) {
            error_setg(errp, "Parameter '%.*s' is unexpected", (int)len,
                       kv->key);
            return false;
        }
    }

    if (!id_wellformed(id)) {
        error_setg(errp, "Parameter 'id' expects an identifier");
        error_append_hint(errp, "Identifiers consist of letters, digits, "
                          "'-', '.', '_', starting with a letter.\n");
        return false;
    }
    if (secret_find(id)) {
        error_setg(errp, "attempt to add duplicate property '%s' to object "
                   "(type 'container')", id);
        return false;
    }

    /* Registered first, as in QEMU: keyid= may then find itself. */
    secret = g_new0(Secret, 1);
    secret->id = g_strdup(id);
    QTAILQ_INSERT_TAIL(&secrets, secret, next);
    if (!secret_complete(secret, kvs, errp)) {
        QTAILQ_REMOVE(&secrets, secret, next);
        g_free(secret->id);
        g_free(secret);
        return false;
    }
    return true;
}

static void print_help(const char *type)
{
    if (type && !strcmp(type, "secret")) {
        printf("secret options:\n"
               "  data=<string>\n"
               "  file=<string>\n"
               "  format=<QCryptoSecretFormat>\n"
               "  iv=<string>\n"
               "  keyid=<string>\n");
    } else {
        printf("List of user creatable objects:\n"
               "  secret\n");
    }
}

void user_creatable_process_cmdline(const char *cmdline)
{
    g_autoptr(GPtrArray) kvs = NULL;
    Error *err = NULL;
    const char *type, *id;
    bool help;

    kvs = keyval_parse(cmdline, &help, &err);
    if (!kvs) {
        error_report_err(err);
        exit(1);
    }
    type = keyval_get(kvs, "qom-type");
    if (help) {
        print_help(type);
        exit(0);
    }

    if (!type) {
        error_setg(&err, "Parameter 'qom-type' is missing");
    } else if (strcmp(type, "secret")) {
        error_setg(&err, "Parameter 'qom-type' does not accept value '%s'",
                   type);
    } else if (!(id = keyval_get(kvs, "id"))) {
        error_setg(&err, "Parameter 'id' is missing");
    } else {
        secret_add(kvs, id, &err);
    }
    if (err) {
        error_report_err(err);
        exit(1);
    }
}

void user_creatable_cleanup(void)
{
    Secret *s, *next;

    QTAILQ_FOREACH_SAFE(s, &secrets, next, next) {
        QTAILQ_REMOVE(&secrets, s, next);
        g_free(s->id);
        g_free(s->data);
        g_free(s);
    }
}
