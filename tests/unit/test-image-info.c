/*
 * block/qapi.c against QEMU 7.2's qemu-img info: for each image in
 * data/image-info/ (see generate.sh there), QEMU's JSON output is read
 * back into an ImageInfo, which must print as QEMU printed it, both as
 * JSON (member order included) and in the human format (format-specific
 * part included).
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/json.h"
#include "qemu/timer.h"
#include "block/qapi.h"
#include "test-helpers.h"

/* The ImageInfo that QEMU serialised as json. */
static ImageInfo *image_info_from_json(QDict *json)
{
    ImageInfo *info = g_new0(ImageInfo, 1);
    QList *snapshots;
    QDict *spec;

    info->filename = g_strdup(qdict_get_str(json, "filename"));
    info->format = g_strdup(qdict_get_str(json, "format"));
    info->virtual_size = qdict_get_int(json, "virtual-size");
    if (qdict_haskey(json, "dirty-flag")) {
        info->has_dirty_flag = true;
        info->dirty_flag = qdict_get_bool(json, "dirty-flag");
    }
    if (qdict_haskey(json, "actual-size")) {
        info->has_actual_size = true;
        info->actual_size = qdict_get_int(json, "actual-size");
    }
    if (qdict_haskey(json, "cluster-size")) {
        info->has_cluster_size = true;
        info->cluster_size = qdict_get_int(json, "cluster-size");
    }
    if (qdict_haskey(json, "encrypted")) {
        info->has_encrypted = true;
        info->encrypted = qdict_get_bool(json, "encrypted");
    }
    info->backing_filename =
        g_strdup(qdict_get_try_str(json, "backing-filename"));
    info->full_backing_filename =
        g_strdup(qdict_get_try_str(json, "full-backing-filename"));
    info->backing_filename_format =
        g_strdup(qdict_get_try_str(json, "backing-filename-format"));

    snapshots = qdict_get_qlist(json, "snapshots");
    if (snapshots) {
        const QListEntry *e;

        info->snapshots = g_new0(QEMUSnapshotInfo, qlist_size(snapshots));
        QLIST_FOREACH_ENTRY(snapshots, e) {
            QDict *d = qobject_to(QDict, qlist_entry_obj(e));
            QEMUSnapshotInfo *sn = &info->snapshots[info->nb_snapshots++];

            pstrcpy(sn->id_str, sizeof(sn->id_str), qdict_get_str(d, "id"));
            pstrcpy(sn->name, sizeof(sn->name), qdict_get_str(d, "name"));
            sn->vm_state_size = qdict_get_int(d, "vm-state-size");
            sn->date_sec = qdict_get_int(d, "date-sec");
            sn->date_nsec = qdict_get_int(d, "date-nsec");
            sn->vm_clock_nsec = qdict_get_int(d, "vm-clock-sec") *
                                NANOSECONDS_PER_SECOND +
                                qdict_get_int(d, "vm-clock-nsec");
            sn->icount = qdict_haskey(d, "icount") ?
                         qdict_get_int(d, "icount") : -1ULL;
        }
    }

    spec = qdict_get_qdict(json, "format-specific");
    if (spec) {
        info->format_specific = g_new0(ImageInfoSpecific, 1);
        info->format_specific->type = g_strdup(qdict_get_str(spec, "type"));
        info->format_specific->data = qdict_get_qdict(spec, "data");
        qobject_ref(info->format_specific->data);
    }
    return info;
}

static void dump_info(void *info)
{
    bdrv_image_info_dump(info);
}

static void test_image(gconstpointer opaque)
{
    const char *name = opaque;
    g_autofree char *json_text = test_read_data("image-info", name, ".json");
    g_autofree char *human_text = test_read_data("image-info", name, ".txt");
    g_autoptr(QObject) json = qobject_from_json(json_text, &error_abort);
    g_autoptr(ImageInfo) info = image_info_from_json(qobject_to(QDict, json));
    g_autoptr(QDict) dict = image_info_to_qdict(info);
    GString *ours = qobject_to_json_pretty(QOBJECT(dict), true);
    g_autofree char *ours_human = NULL;

    g_string_append_c(ours, '\n');
    g_assert_cmpstr(ours->str, ==, json_text);
    g_string_free(ours, true);

    ours_human = test_capture_stdout(dump_info, info);
    g_assert_cmpstr(ours_human, ==, human_text);
}

/* The format-specific part alone, as qemu-io's info prints it. */
static void dump_specific(void *opaque)
{
    ImageInfo *info = opaque;

    bdrv_image_info_specific_dump(info->format_specific, NULL, stdout);
}

static void test_specific_only(void)
{
    g_autofree char *json_text = test_read_data("image-info", "qcow2-bitmaps",
                                                ".json");
    g_autofree char *human_text = test_read_data("image-info", "qcow2-bitmaps",
                                                 ".txt");
    g_autoptr(QObject) json = qobject_from_json(json_text, &error_abort);
    g_autoptr(ImageInfo) info = image_info_from_json(qobject_to(QDict, json));
    g_autofree char *ours = test_capture_stdout(dump_specific, info);
    const char *expected = strstr(human_text,
                                  "Format specific information:\n");

    g_assert_nonnull(expected);
    expected += strlen("Format specific information:\n");
    g_assert_cmpstr(ours, ==, expected);
}

int main(int argc, char **argv)
{
    static const char *const images[] = {
        "raw", "null-co", "qcow2-bitmaps", "qcow2-backing", "qcow2-luks",
        "qcow2-snapshots", "vmdk-extents",
    };

    /* Snapshot dates print in local time; the goldens were made in UTC. */
    g_setenv("TZ", "UTC", true);
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(images); i++) {
        g_autofree char *path = g_strdup_printf("/image-info/%s", images[i]);

        g_test_add_data_func(path, images[i], test_image);
    }
    g_test_add_func("/image-info/specific-only", test_specific_only);
    return g_test_run();
}
