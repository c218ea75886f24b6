/*
 * qcow2 internal snapshots: reading the snapshot table, and listing it
 * (qemu-img info).  Creating, applying and deleting snapshots is not
 * implemented yet; images that have some open, and writes copy clusters
 * shared with them.
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "block/qcow2.h"

void qcow2_free_snapshots(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    /* The list ends at the first entry without an id (see below). */
    for (QCowSnapshot *sn = s->snapshots; sn && sn->id_str; sn++) {
        g_free(sn->id_str);
        g_free(sn->name);
    }
    g_free(s->snapshots);
    s->snapshots = NULL;
}

/* Read a string of size bytes at *offset into a new NUL-terminated buffer */
static int read_snapshot_string(BlockDriverState *bs, uint64_t *offset,
                                size_t size, char **str)
{
    *str = g_malloc0(size + 1);
    *offset += size;
    return bdrv_pread(bs->file, *offset - size, size, *str, 0);
}

int qcow2_read_snapshots(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t offset = s->snapshots_offset;
    int ret;

    qcow2_free_snapshots(bs);
    /*
     * One spare zeroed entry ends the list, so that it can still be freed
     * when check later drops snapshots from nb_snapshots.
     */
    s->snapshots = g_new0(QCowSnapshot, s->nb_snapshots + 1);

    for (unsigned i = 0; i < s->nb_snapshots; i++) {
        QCowSnapshot *sn = &s->snapshots[i];
        QCowSnapshotExtraData extra = { 0 };
        QCowSnapshotHeader h;
        size_t extra_len;

        offset = ROUND_UP(offset, 8);
        ret = bdrv_pread(bs->file, offset, sizeof(h), &h, 0);
        if (ret < 0) {
            goto read_failed;
        }
        offset += sizeof(h);

        sn->l1_table_offset = be64_to_cpu(h.l1_table_offset);
        sn->l1_size = be32_to_cpu(h.l1_size);
        sn->date_sec = be32_to_cpu(h.date_sec);
        sn->date_nsec = be32_to_cpu(h.date_nsec);
        sn->vm_clock_nsec = be64_to_cpu(h.vm_clock_nsec);
        sn->vm_state_size = be32_to_cpu(h.vm_state_size);

        h.extra_data_size = be32_to_cpu(h.extra_data_size);
        if (h.extra_data_size > QCOW_MAX_SNAPSHOT_EXTRA_DATA) {
            error_setg(errp, "Too much extra metadata in snapshot table "
                       "entry %u", i);
            error_append_hint(errp, "You can force-remove this extra "
                              "metadata with qemu-img check -r all\n");
            ret = -EFBIG;
            goto fail;
        }
        extra_len = MIN(h.extra_data_size, sizeof(extra));
        ret = bdrv_pread(bs->file, offset, extra_len, &extra, 0);
        if (ret < 0) {
            goto read_failed;
        }
        offset += h.extra_data_size;
        /* Fields the writer did not store keep their older meaning. */
        if (extra_len >= sizeof(extra.vm_state_size_large)) {
            sn->vm_state_size = be64_to_cpu(extra.vm_state_size_large);
        }
        sn->icount = extra_len == sizeof(extra) ? be64_to_cpu(extra.icount)
                                                : -1ULL;

        ret = read_snapshot_string(bs, &offset, be16_to_cpu(h.id_str_size),
                                   &sn->id_str);
        if (ret < 0) {
            goto read_failed;
        }
        ret = read_snapshot_string(bs, &offset, be16_to_cpu(h.name_size),
                                   &sn->name);
        if (ret < 0) {
            goto read_failed;
        }

        if (offset - s->snapshots_offset > QCOW_MAX_SNAPSHOTS_SIZE) {
            error_setg(errp, "Snapshot table is too big");
            error_append_hint(errp, "You can force-remove all %u overhanging "
                              "snapshots with qemu-img check -r all\n",
                              s->nb_snapshots - i);
            ret = -EFBIG;
            goto fail;
        }
    }
    s->snapshots_size = offset - s->snapshots_offset;
    return 0;

read_failed:
    error_setg_errno(errp, -ret, "Failed to read snapshot table");
fail:
    qcow2_free_snapshots(bs);
    return ret;
}

int qcow2_snapshot_list(BlockDriverState *bs, QEMUSnapshotInfo **psn_tab)
{
    BDRVQcow2State *s = bs->opaque;
    QEMUSnapshotInfo *sn_tab;

    if (!s->nb_snapshots) {
        *psn_tab = NULL;
        return 0;
    }
    sn_tab = g_new0(QEMUSnapshotInfo, s->nb_snapshots);
    for (unsigned i = 0; i < s->nb_snapshots; i++) {
        const QCowSnapshot *sn = &s->snapshots[i];
        QEMUSnapshotInfo *info = &sn_tab[i];

        pstrcpy(info->id_str, sizeof(info->id_str), sn->id_str);
        pstrcpy(info->name, sizeof(info->name), sn->name);
        info->vm_state_size = sn->vm_state_size;
        info->date_sec = sn->date_sec;
        info->date_nsec = sn->date_nsec;
        info->vm_clock_nsec = sn->vm_clock_nsec;
        info->icount = sn->icount;
    }
    *psn_tab = sn_tab;
    return s->nb_snapshots;
}
