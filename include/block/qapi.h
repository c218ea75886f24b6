/*
 * Image information for the tools: what "qemu-img info" and qemu-io's
 * "info" report about a node, in QEMU 7.2's shape (the QAPI ImageInfo
 * type) and with its two renderings, JSON (through a QDict) and human.
 */
#ifndef BLOCK_QAPI_H
#define BLOCK_QAPI_H

#include "block/block.h"

/*
 * QEMU's ImageInfo.  Optional members are absent when their has_* flag is
 * false or, for strings and pointers, when they are NULL.
 */
typedef struct ImageInfo {
    char *filename;
    char *format;
    bool has_dirty_flag;
    bool dirty_flag;
    bool has_actual_size;
    int64_t actual_size;
    int64_t virtual_size;
    bool has_cluster_size;
    int64_t cluster_size;
    bool has_encrypted;
    bool encrypted;
    char *backing_filename;
    char *full_backing_filename;
    char *backing_filename_format;
    int nb_snapshots;                   /* snapshots present when > 0 */
    QEMUSnapshotInfo *snapshots;
    ImageInfoSpecific *format_specific;
} ImageInfo;

void qapi_free_ImageInfo(ImageInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImageInfo, qapi_free_ImageInfo)

/*
 * Describe bs (a format or protocol node; the backing chain is not
 * followed).  On failure *p_info stays NULL and errp is set.
 */
void bdrv_query_image_info(BlockDriverState *bs, ImageInfo **p_info,
                           Error **errp);

/*
 * The QDict that QEMU's QAPI output visitor builds for info: members in
 * schema order, optional ones only when present.
 */
QDict *image_info_to_qdict(const ImageInfo *info);
/* The same for the format-specific part: {"type": ..., "data": ...}. */
QDict *image_info_specific_to_qdict(const ImageInfoSpecific *info_spec);

/* "image: ...", "file format: ...", ... on stdout, as qemu-img info. */
void bdrv_image_info_dump(ImageInfo *info);

/* QEMU's ImageCheck: what qemu-img check found; zero members are absent. */
typedef struct ImageCheck {
    char *filename;
    const char *format;
    int64_t check_errors;
    int64_t image_end_offset;
    int64_t corruptions;
    int64_t leaks;
    int64_t corruptions_fixed;
    int64_t leaks_fixed;
    int64_t total_clusters;
    int64_t allocated_clusters;
    int64_t fragmented_clusters;
    int64_t compressed_clusters;
} ImageCheck;

/* The QDict of QEMU's QAPI visitor (check-errors always present). */
QDict *image_check_to_qdict(const ImageCheck *check);
/* The human report of qemu-img check on stdout. */
void bdrv_image_check_dump(const ImageCheck *check);

/*
 * Print the format-specific data of info_spec to f the way QEMU 7.2 does
 * after "Format specific information:": one "key: value" line per member,
 * in QDict iteration order, with '-' in keys shown as ' '; the top level
 * is indented by 4 spaces and each nested dict or list by 4 more; list
 * items are shown as "[N]:".  Nested composites start on the next line.
 * prefix, if not NULL, is printed first (e.g. the header line).
 * (block/qapi-dump.c; shared by qemu-img info and qemu-io info.)
 */
void bdrv_image_info_specific_dump(ImageInfoSpecific *info_spec,
                                   const char *prefix, FILE *f);

#endif
