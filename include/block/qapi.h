/*
 * Human-readable rendering of image information shared by qemu-img info
 * and qemu-io's info command.
 */
#ifndef BLOCK_QAPI_H
#define BLOCK_QAPI_H

#include "block/block.h"

/*
 * Print the format-specific data of info_spec to f the way QEMU 7.2 does
 * after "Format specific information:": one "key: value" line per member,
 * in QDict iteration order, with '-' in keys shown as ' '; the top level
 * is indented by 4 spaces and each nested dict or list by 4 more; list
 * items are shown as "[N]:".  Nested composites start on the next line.
 * prefix, if not NULL, is printed first (e.g. the header line).
 */
void bdrv_image_info_specific_dump(ImageInfoSpecific *info_spec,
                                   const char *prefix, FILE *f);

#endif
