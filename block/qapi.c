/*
 * Image information: gathering ImageInfo from a node and printing it the
 * way QEMU 7.2's qemu-img and qemu-io do.
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/timer.h"
#include "block/block_int.h"
#include "block/qapi.h"

void qapi_free_ImageInfo(ImageInfo *info)
{
    if (!info) {
        return;
    }
    g_free(info->filename);
    g_free(info->format);
    g_free(info->backing_filename);
    g_free(info->full_backing_filename);
    g_free(info->backing_filename_format);
    g_free(info->snapshots);
    qapi_free_ImageInfoSpecific(info->format_specific);
    g_free(info);
}

void bdrv_query_image_info(BlockDriverState *bs, ImageInfo **p_info,
                           Error **errp)
{
    g_autoptr(ImageInfo) info = NULL;
    BlockDriverInfo bdi;
    Error *local_err = NULL;
    int64_t size;
    int ret;

    *p_info = NULL;

    size = bdrv_getlength(bs);
    if (size < 0) {
        error_setg_errno(errp, -size, "Can't get image size '%s'",
                         bs->exact_filename);
        return;
    }

    bdrv_refresh_filename(bs);

    info = g_new0(ImageInfo, 1);
    info->filename = g_strdup(bs->filename);
    info->format = g_strdup(bdrv_get_format_name(bs));
    info->virtual_size = size;
    info->actual_size = bdrv_get_allocated_file_size(bs);
    info->has_actual_size = info->actual_size >= 0;
    if (bs->encrypted) {
        info->has_encrypted = true;
        info->encrypted = true;
    }

    /* Drivers without get_info report neither cluster size nor dirtiness. */
    if (bdrv_get_info(bs, &bdi) >= 0) {
        if (bdi.cluster_size) {
            info->has_cluster_size = true;
            info->cluster_size = bdi.cluster_size;
        }
        info->has_dirty_flag = true;
        info->dirty_flag = bdi.is_dirty;
    }

    /* Nodes that keep no snapshots simply list none. */
    ret = bdrv_snapshot_list(bs, &info->snapshots);
    if (ret < 0 && ret != -ENOTSUP && ret != -ENOMEDIUM) {
        error_setg_errno(errp, -ret, "Can't get snapshot list");
        return;
    }
    info->nb_snapshots = MAX(ret, 0);

    info->format_specific = bdrv_get_specific_info(bs, &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return;
    }

    if (bs->backing_file[0]) {
        info->backing_filename = g_strdup(bs->backing_file);
        /*
         * Report the resolved name whenever there is one, even when it
         * equals the recorded one: that they match is information too.
         */
        info->full_backing_filename = bdrv_get_full_backing_filename(bs,
                                                                     NULL);
        if (bs->backing_format[0]) {
            info->backing_filename_format = g_strdup(bs->backing_format);
        }
    }

    *p_info = g_steal_pointer(&info);
}

/* ---- QDict form (what QEMU's QAPI output visitor produces) ---- */

QDict *image_info_specific_to_qdict(const ImageInfoSpecific *info_spec)
{
    QDict *dict = qdict_new();

    qdict_put_str(dict, "type", info_spec->type);
    if (info_spec->data) {
        qobject_ref(info_spec->data);
        qdict_put_obj(dict, "data", QOBJECT(info_spec->data));
    } else {
        qdict_put_obj(dict, "data", QOBJECT(qdict_new()));
    }
    return dict;
}

/* QEMU's SnapshotInfo */
static QDict *snapshot_info_to_qdict(const QEMUSnapshotInfo *sn)
{
    QDict *dict = qdict_new();

    qdict_put_str(dict, "id", sn->id_str);
    qdict_put_str(dict, "name", sn->name);
    qdict_put_int(dict, "vm-state-size", sn->vm_state_size);
    qdict_put_int(dict, "date-sec", sn->date_sec);
    qdict_put_int(dict, "date-nsec", sn->date_nsec);
    qdict_put_int(dict, "vm-clock-sec",
                  sn->vm_clock_nsec / NANOSECONDS_PER_SECOND);
    qdict_put_int(dict, "vm-clock-nsec",
                  sn->vm_clock_nsec % NANOSECONDS_PER_SECOND);
    if (sn->icount != -1ULL) {
        qdict_put_int(dict, "icount", sn->icount);
    }
    return dict;
}

QDict *image_info_to_qdict(const ImageInfo *info)
{
    QDict *dict = qdict_new();

    /* Keys go in in QAPI schema order; QDict decides the printed order. */
    qdict_put_str(dict, "filename", info->filename);
    qdict_put_str(dict, "format", info->format);
    if (info->has_dirty_flag) {
        qdict_put_bool(dict, "dirty-flag", info->dirty_flag);
    }
    if (info->has_actual_size) {
        qdict_put_int(dict, "actual-size", info->actual_size);
    }
    qdict_put_int(dict, "virtual-size", info->virtual_size);
    if (info->has_cluster_size) {
        qdict_put_int(dict, "cluster-size", info->cluster_size);
    }
    if (info->has_encrypted) {
        qdict_put_bool(dict, "encrypted", info->encrypted);
    }
    if (info->backing_filename) {
        qdict_put_str(dict, "backing-filename", info->backing_filename);
    }
    if (info->full_backing_filename) {
        qdict_put_str(dict, "full-backing-filename",
                      info->full_backing_filename);
    }
    if (info->backing_filename_format) {
        qdict_put_str(dict, "backing-filename-format",
                      info->backing_filename_format);
    }
    if (info->nb_snapshots) {
        QList *list = qlist_new();

        for (int i = 0; i < info->nb_snapshots; i++) {
            qlist_append_obj(list, QOBJECT(snapshot_info_to_qdict(
                                               &info->snapshots[i])));
        }
        qdict_put_obj(dict, "snapshots", QOBJECT(list));
    }
    if (info->format_specific) {
        qdict_put_obj(dict, "format-specific",
                      QOBJECT(image_info_specific_to_qdict(
                                  info->format_specific)));
    }
    return dict;
}

/* ---- Human form ---- */

/* One row of the snapshot table (the header when sn is NULL), no newline. */
static void snapshot_dump(const QEMUSnapshotInfo *sn)
{
    g_autoptr(GDateTime) date = NULL;
    g_autofree char *date_buf = NULL;
    g_autofree char *size_buf = NULL;
    g_autofree char *icount_buf = NULL;
    g_autofree char *clock_buf = NULL;
    uint64_t secs;

    if (!sn) {
        printf("%-10s%-17s%8s%20s%13s%11s",
               "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
        return;
    }
    date = g_date_time_new_from_unix_local(sn->date_sec);
    date_buf = g_date_time_format(date, "%Y-%m-%d %H:%M:%S");
    size_buf = size_to_str(sn->vm_state_size);
    icount_buf = sn->icount == -1ULL ? g_strdup("")
                                     : g_strdup_printf("%" PRId64,
                                                       (int64_t)sn->icount);
    secs = sn->vm_clock_nsec / NANOSECONDS_PER_SECOND;
    clock_buf = g_strdup_printf("%02d:%02d:%02d.%03d", (int)(secs / 3600),
                                (int)(secs / 60 % 60), (int)(secs % 60),
                                (int)(sn->vm_clock_nsec / 1000000 % 1000));
    printf("%-9s %-16s %8s%20s%13s%11s", sn->id_str, sn->name, size_buf,
           date_buf, clock_buf, icount_buf);
}

void bdrv_image_info_dump(ImageInfo *info)
{
    g_autofree char *size_buf = size_to_str(info->virtual_size);

    printf("image: %s\n"
           "file format: %s\n"
           "virtual size: %s (%" PRId64 " bytes)\n",
           info->filename, info->format, size_buf, info->virtual_size);
    if (info->has_actual_size) {
        g_autofree char *dsize_buf = size_to_str(info->actual_size);

        printf("disk size: %s\n", dsize_buf);
    } else {
        printf("disk size: unavailable\n");
    }
    if (info->has_encrypted && info->encrypted) {
        printf("encrypted: yes\n");
    }
    if (info->has_cluster_size) {
        printf("cluster_size: %" PRId64 "\n", info->cluster_size);
    }
    if (info->has_dirty_flag && info->dirty_flag) {
        printf("cleanly shut down: no\n");
    }
    if (info->backing_filename) {
        printf("backing file: %s", info->backing_filename);
        if (!info->full_backing_filename) {
            printf(" (cannot determine actual path)");
        } else if (strcmp(info->backing_filename,
                          info->full_backing_filename)) {
            printf(" (actual path: %s)", info->full_backing_filename);
        }
        printf("\n");
        if (info->backing_filename_format) {
            printf("backing file format: %s\n",
                   info->backing_filename_format);
        }
    }
    if (info->nb_snapshots) {
        printf("Snapshot list:\n");
        snapshot_dump(NULL);
        printf("\n");
        for (int i = 0; i < info->nb_snapshots; i++) {
            snapshot_dump(&info->snapshots[i]);
            printf("\n");
        }
    }
    if (info->format_specific) {
        bdrv_image_info_specific_dump(info->format_specific,
                                      "Format specific information:\n",
                                      stdout);
    }
}

/* ---- Check results ---- */

static void put_int_if_set(QDict *dict, const char *key, int64_t value)
{
    if (value) {
        qdict_put_int(dict, key, value);
    }
}

QDict *image_check_to_qdict(const ImageCheck *check)
{
    QDict *dict = qdict_new();

    /* QAPI schema order; the optional members only when non-zero. */
    qdict_put_str(dict, "filename", check->filename);
    qdict_put_str(dict, "format", check->format);
    qdict_put_int(dict, "check-errors", check->check_errors);
    put_int_if_set(dict, "image-end-offset", check->image_end_offset);
    put_int_if_set(dict, "corruptions", check->corruptions);
    put_int_if_set(dict, "leaks", check->leaks);
    put_int_if_set(dict, "corruptions-fixed", check->corruptions_fixed);
    put_int_if_set(dict, "leaks-fixed", check->leaks_fixed);
    put_int_if_set(dict, "total-clusters", check->total_clusters);
    put_int_if_set(dict, "allocated-clusters", check->allocated_clusters);
    put_int_if_set(dict, "fragmented-clusters", check->fragmented_clusters);
    put_int_if_set(dict, "compressed-clusters", check->compressed_clusters);
    return dict;
}

void bdrv_image_check_dump(const ImageCheck *check)
{
    if (!(check->corruptions || check->leaks || check->check_errors)) {
        printf("No errors were found on the image.\n");
    } else {
        if (check->corruptions) {
            printf("\n%" PRId64 " errors were found on the image.\n"
                   "Data may be corrupted, or further writes to the image "
                   "may corrupt it.\n", check->corruptions);
        }
        if (check->leaks) {
            printf("\n%" PRId64 " leaked clusters were found on the image.\n"
                   "This means waste of disk space, but no harm to data.\n",
                   check->leaks);
        }
        if (check->check_errors) {
            printf("\n%" PRId64 " internal errors have occurred during the "
                   "check.\n", check->check_errors);
        }
    }

    /* Statistics only from drivers that count clusters. */
    if (check->total_clusters && check->allocated_clusters) {
        printf("%" PRId64 "/%" PRId64 " = %0.2f%% allocated, "
               "%0.2f%% fragmented, %0.2f%% compressed clusters\n",
               check->allocated_clusters, check->total_clusters,
               check->allocated_clusters * 100.0 / check->total_clusters,
               check->fragmented_clusters * 100.0 /
               check->allocated_clusters,
               check->compressed_clusters * 100.0 /
               check->allocated_clusters);
    }

    if (check->image_end_offset) {
        printf("Image end offset: %" PRId64 "\n", check->image_end_offset);
    }
}
