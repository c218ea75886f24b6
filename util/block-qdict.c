/*
 * QDict helpers of the block layer: options arrive both nested (JSON,
 * blockdev) and flat with dotted keys ("file.filename", "extents.0"), and
 * these convert between the two and carve out a child's options.
 *
 * Several of them insert into a dict while walking another, so the
 * resulting key order (visible in json: filenames and error messages)
 * depends on doing the same insertions in the same order as QEMU; the
 * comments say where that matters.
 */
#include "qemu/osdep.h"
#include "qemu/qdict.h"
#include "qemu/error.h"

void qdict_copy_default(QDict *dst, QDict *src, const char *key)
{
    QObject *value;

    if (qdict_haskey(dst, key)) {
        return;
    }
    value = qdict_get(src, key);
    if (value) {
        qdict_put_obj(dst, key, qobject_ref(value));
    }
}

void qdict_set_default_str(QDict *dst, const char *key, const char *val)
{
    if (!qdict_haskey(dst, key)) {
        qdict_put_str(dst, key, val);
    }
}

/* A dict or list that flattening descends into (empty ones stay values). */
static bool is_nonempty_container(const QObject *obj)
{
    const QDict *dict = qobject_to(QDict, obj);
    const QList *list = qobject_to(QList, obj);

    return (dict && qdict_size(dict)) || (list && !qlist_empty(list));
}

/* Put value's leaves into target under name, depth first. */
static void flatten_value(QObject *value, QDict *target, const char *name)
{
    const QDict *dict = qobject_to(QDict, value);
    const QList *list = qobject_to(QList, value);

    if (!is_nonempty_container(value)) {
        qdict_put_obj(target, name, qobject_ref(value));
    } else if (dict) {
        const QDictEntry *entry;

        for (entry = qdict_first(dict); entry;
             entry = qdict_next(dict, entry)) {
            g_autofree char *key = g_strdup_printf("%s.%s", name,
                                                   qdict_entry_key(entry));

            flatten_value(qdict_entry_value(entry), target, key);
        }
    } else {
        const QListEntry *entry;
        unsigned i = 0;

        QLIST_FOREACH_ENTRY(list, entry) {
            g_autofree char *key = g_strdup_printf("%s.%u", name, i++);

            flatten_value(qlist_entry_obj(entry), target, key);
        }
    }
}

void qdict_flatten(QDict *qdict)
{
    const QDictEntry *entry, *next;

    /*
     * The leaves go into qdict itself while we walk it.  Their values are
     * never non-empty containers, so meeting them later is harmless; and
     * the container's own entry goes only after its leaves are in, which
     * fixes the order of keys sharing a bucket.
     */
    for (entry = qdict_first(qdict); entry; entry = next) {
        QObject *value = qdict_entry_value(entry);

        next = qdict_next(qdict, entry);
        if (is_nonempty_container(value)) {
            g_autofree char *key = g_strdup(qdict_entry_key(entry));

            flatten_value(value, qdict, key);
            qdict_del(qdict, key);
        }
    }
}

void qdict_extract_subqdict(QDict *src, QDict **dst, const char *start)
{
    const QDictEntry *entry, *next;
    size_t len = strlen(start);

    if (dst) {
        *dst = qdict_new();
    }
    for (entry = qdict_first(src); entry; entry = next) {
        const char *key = qdict_entry_key(entry);

        next = qdict_next(src, entry);
        if (!strncmp(key, start, len)) {
            if (dst) {
                qdict_put_obj(*dst, key + len,
                              qobject_ref(qdict_entry_value(entry)));
            }
            qdict_del(src, key);
        }
    }
}

static size_t count_prefixed(const QDict *src, const char *prefix)
{
    const QDictEntry *entry;
    size_t len = strlen(prefix);
    size_t count = 0;

    for (entry = qdict_first(src); entry; entry = qdict_next(src, entry)) {
        if (!strncmp(qdict_entry_key(entry), prefix, len)) {
            count++;
        }
    }
    return count;
}

void qdict_array_split(QDict *src, QList **dst)
{
    unsigned i;

    *dst = qlist_new();
    for (i = 0; i < UINT_MAX; i++) {
        g_autofree char *index = g_strdup_printf("%u", i);
        g_autofree char *prefix = g_strdup_printf("%u.", i);
        QObject *scalar = qdict_get(src, index);
        bool has_subdict = count_prefixed(src, prefix) > 0;

        /* element i is either "i" or "i.*"; neither or both ends the list */
        if (!scalar == !has_subdict) {
            break;
        }
        if (has_subdict) {
            QDict *subdict;

            qdict_extract_subqdict(src, &subdict, prefix);
            qlist_append(*dst, subdict);
        } else {
            qlist_append_obj(*dst, qobject_ref(scalar));
            qdict_del(src, index);
        }
    }
}

int qdict_array_entries(QDict *src, const char *subqdict)
{
    size_t sublen = strlen(subqdict);
    const QDictEntry *entry;
    size_t covered = 0;
    unsigned i;

    assert(!sublen || subqdict[sublen - 1] == '.');

    for (i = 0; i < INT_MAX; i++) {
        g_autofree char *index = g_strdup_printf("%s%u", subqdict, i);
        g_autofree char *prefix = g_strdup_printf("%s.", index);
        size_t members = count_prefixed(src, prefix);
        bool scalar = qdict_haskey(src, index);

        if (scalar && members) {
            return -EINVAL;
        }
        if (!scalar && !members) {
            break;
        }
        covered += scalar ? 1 : members;
    }

    /* every key under the prefix must belong to one of those elements */
    for (entry = qdict_first(src); entry; entry = qdict_next(src, entry)) {
        if (strncmp(qdict_entry_key(entry), subqdict, sublen)) {
            covered++;
        }
    }
    return covered == qdict_size(src) ? (int)i : -EINVAL;
}

void qdict_join(QDict *dest, QDict *src, bool overwrite)
{
    const QDictEntry *entry, *next;

    for (entry = qdict_first(src); entry; entry = next) {
        const char *key = qdict_entry_key(entry);

        next = qdict_next(src, entry);
        if (overwrite || !qdict_haskey(dest, key)) {
            qdict_put_obj(dest, key, qobject_ref(qdict_entry_value(entry)));
            qdict_del(src, key);
        }
    }
}

bool qdict_rename_keys(QDict *qdict, const QDictRenames *renames,
                       Error **errp)
{
    for (; renames->from; renames++) {
        QObject *value = qdict_get(qdict, renames->from);

        if (!value) {
            continue;
        }
        if (qdict_haskey(qdict, renames->to)) {
            error_setg(errp, "'%s' and its alias '%s' can't be used at the "
                       "same time", renames->to, renames->from);
            return false;
        }
        qdict_put_obj(qdict, renames->to, qobject_ref(value));
        qdict_del(qdict, renames->from);
    }
    return true;
}

/*
 * Split a flat key at its first separator: "a.b.c" gives prefix "a" and
 * suffix "b.c" (left escaped, to be split again); ".." stands for a
 * literal dot, so "a..b.c" gives prefix "a.b".  *suffix is NULL if there
 * is no separator.  Returns the unescaped prefix (g_free it).
 */
static char *split_flat_key(const char *key, const char **suffix)
{
    GString *prefix = g_string_new(NULL);
    const char *p = key;

    *suffix = NULL;
    for (; *p; p++) {
        if (*p == '.') {
            if (p[1] != '.') {
                *suffix = p + 1;
                break;
            }
            p++;
        }
        g_string_append_c(prefix, *p);
    }
    return g_string_free(prefix, false);
}

/* Whether key is a list index: an integer as strtoll reads it. */
static bool key_to_index(const char *key, int64_t *index)
{
    char *end;

    errno = 0;
    *index = strtoll(key, &end, 10);
    return end != key && !*end && !errno;
}

/*
 * A dict whose keys are all indices becomes a list.  Returns 1 for a list,
 * 0 for a dict, -1 with errp set for a mix or for gaps.
 */
static int crumple_is_list(const QDict *dict, Error **errp)
{
    const QDictEntry *entry;
    int is_list = -1;
    ssize_t count = 0;
    ssize_t max = -1;
    int64_t index;

    for (entry = qdict_first(dict); entry; entry = qdict_next(dict, entry)) {
        int is_index = key_to_index(qdict_entry_key(entry), &index);

        if (is_list < 0) {
            is_list = is_index;
        } else if (is_index != is_list) {
            error_setg(errp, "Cannot mix list and non-list keys");
            return -1;
        }
        if (is_index) {
            count++;
            max = MAX(max, index);
        }
    }
    /* an empty dict stays a dict; count 0 and max -1 pass the next test */
    if (count != max + 1) {
        error_setg(errp, "List indices are not contiguous, "
                   "saw %zd elements but %zd largest index", count, max);
        return -1;
    }
    return is_list > 0;
}

QObject *qdict_crumple(const QDict *src, Error **errp)
{
    g_autoptr(QDict) two_level = qdict_new();
    g_autoptr(QDict) multi_level = qdict_new();
    const QDictEntry *entry;
    QList *list;
    size_t i;
    int is_list;

    /* first split every key once: {"a.b.c": 1} -> {"a": {"b.c": 1}} */
    for (entry = qdict_first(src); entry; entry = qdict_next(src, entry)) {
        QObject *value = qdict_entry_value(entry);
        const char *suffix;
        g_autofree char *prefix = NULL;
        QObject *child;
        QDict *child_dict;

        if (is_nonempty_container(value)) {
            error_setg(errp, "Value %s is not flat", qdict_entry_key(entry));
            return NULL;
        }
        prefix = split_flat_key(qdict_entry_key(entry), &suffix);
        child = qdict_get(two_level, prefix);
        child_dict = qobject_to(QDict, child);
        if (child && (!child_dict || !suffix)) {
            error_setg(errp, "Cannot mix scalar and non-scalar keys");
            return NULL;
        }
        if (!suffix) {
            /*
             * An empty dict value may still gain members from later keys
             * ({"d": {}, "d.b": 1} gives {"d": {"b": 1}}, as in QEMU).
             * QEMU adds them to src's own empty dict; we take a fresh one
             * so that src stays untouched.
             */
            qdict_put_obj(two_level, prefix, qobject_to(QDict, value)
                          ? QOBJECT(qdict_new()) : qobject_ref(value));
            continue;
        }
        if (!child_dict) {
            child_dict = qdict_new();
            qdict_put(two_level, prefix, child_dict);
        }
        qdict_put_obj(child_dict, suffix, qobject_ref(value));
    }

    /* then crumple each second level recursively */
    for (entry = qdict_first(two_level); entry;
         entry = qdict_next(two_level, entry)) {
        QObject *value = qdict_entry_value(entry);

        if (is_nonempty_container(value)) {
            value = qdict_crumple(qobject_to(QDict, value), errp);
            if (!value) {
                return NULL;
            }
        } else {
            qobject_ref(value);
        }
        qdict_put_obj(multi_level, qdict_entry_key(entry), value);
    }

    is_list = crumple_is_list(multi_level, errp);
    if (is_list < 0) {
        return NULL;
    }
    if (!is_list) {
        return QOBJECT(g_steal_pointer(&multi_level));
    }

    list = qlist_new();
    for (i = 0; i < qdict_size(multi_level); i++) {
        g_autofree char *key = g_strdup_printf("%zu", i);
        QObject *value = qdict_get(multi_level, key);

        if (!value) {
            error_setg(errp, "Missing list index %zu", i);
            qobject_unref(list);
            return NULL;
        }
        qlist_append_obj(list, qobject_ref(value));
    }
    return QOBJECT(list);
}
