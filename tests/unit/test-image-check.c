/*
 * The check report of block/qapi.c against QEMU 7.2's qemu-img check:
 * for each case in data/image-check/ (see generate.sh there), QEMU's JSON
 * is read back into an ImageCheck, which must print as QEMU printed it,
 * as JSON (member order included) and as the human report.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"
#include "qemu/json.h"
#include "block/qapi.h"
#include "test-helpers.h"

static void dump_check(void *check)
{
    bdrv_image_check_dump(check);
}

static void test_check(gconstpointer opaque)
{
    const char *name = opaque;
    g_autofree char *json_text = test_read_data("image-check", name, ".json");
    g_autofree char *human_text = test_read_data("image-check", name, ".txt");
    g_autoptr(QObject) obj = qobject_from_json(json_text, &error_abort);
    QDict *json = qobject_to(QDict, obj);
    g_autofree char *filename = g_strdup(qdict_get_str(json, "filename"));
    g_autofree char *ours_human = NULL;
    g_autoptr(QDict) dict = NULL;
    const char *expected_human;
    ImageCheck check = {
        .filename = filename,
        .format = qdict_get_str(json, "format"),
        .check_errors = qdict_get_int(json, "check-errors"),
        .image_end_offset = qdict_get_try_int(json, "image-end-offset", 0),
        .corruptions = qdict_get_try_int(json, "corruptions", 0),
        .leaks = qdict_get_try_int(json, "leaks", 0),
        .corruptions_fixed = qdict_get_try_int(json, "corruptions-fixed", 0),
        .leaks_fixed = qdict_get_try_int(json, "leaks-fixed", 0),
        .total_clusters = qdict_get_try_int(json, "total-clusters", 0),
        .allocated_clusters = qdict_get_try_int(json, "allocated-clusters",
                                                0),
        .fragmented_clusters = qdict_get_try_int(json, "fragmented-clusters",
                                                 0),
        .compressed_clusters = qdict_get_try_int(json, "compressed-clusters",
                                                 0),
    };
    GString *ours;

    dict = image_check_to_qdict(&check);
    ours = qobject_to_json_pretty(QOBJECT(dict), true);
    g_string_append_c(ours, '\n');
    g_assert_cmpstr(ours->str, ==, json_text);
    g_string_free(ours, true);

    /*
     * After a repair qemu-img itself prints what was repaired, then the
     * report of the second check.
     */
    expected_human = strstr(human_text, "Double checking the fixed image "
                                        "now...\n");
    if (expected_human) {
        expected_human = strchr(expected_human, '\n') + 1;
    } else {
        expected_human = human_text;
    }
    ours_human = test_capture_stdout(dump_check, &check);
    g_assert_cmpstr(ours_human, ==, expected_human);
}

int main(int argc, char **argv)
{
    static const char *const cases[] = {
        "leaks", "leaks-repaired", "corrupt", "corrupt-repaired", "stats",
    };

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/image-check/%s", cases[i]);

        g_test_add_data_func(path, cases[i], test_check);
    }
    return g_test_run();
}
