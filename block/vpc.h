/*
 * vpc (VHD, Virtual PC / Hyper-V virtual hard disk): on-disk layout and the
 * state shared by block/vpc.c (fixed and dynamic images, creation, the
 * driver table) and block/vpc-diff.c (differencing images: parent
 * locators, sector bitmaps, the parent chain).
 *
 * Layout of an image (all integers big-endian):
 *   fixed:        guest data, then the footer
 *   dynamic:      footer copy, dynamic header, BAT, blocks..., footer
 *   differencing: as dynamic, plus parent locator data (usually right after
 *                 the BAT) naming the parent image
 * A block is a sector bitmap (one bit per 512-byte sector, most
 * significant bit first, padded to whole sectors) followed by block_size
 * bytes of data.  The BAT holds the sector number of each block's bitmap,
 * or VHD_BAT_UNUSED.
 */
#ifndef BLOCK_VPC_H
#define BLOCK_VPC_H

#include "block/block_int.h"

/* ---- On-disk structures ---- */

#define VHD_FOOTER_SIZE         512
#define VHD_DYN_HEADER_SIZE     1024
#define VHD_MAX_LOCATORS        8

/* Footer (and its copy at offset 0 in dynamic/differencing images). */
typedef struct QEMU_PACKED VHDFooter {
    char creator[8];            /* cookie "conectix" */
    uint32_t features;          /* bit 1 (0x2) always set; 0x1: temporary */
    uint32_t version;           /* format version, 0x00010000 */
    uint64_t data_offset;       /* dynamic header offset; ~0 when fixed */
    uint32_t timestamp;         /* seconds since 2000-01-01 00:00:00 UTC */
    char creator_app[4];        /* "qemu", "qem2", "vpc ", "win ", ... */
    uint16_t major;             /* creator version, major */
    uint16_t minor;             /* creator version, minor */
    char creator_os[4];         /* "Wi2k", "Mac " */
    uint64_t orig_size;         /* virtual size at creation, bytes */
    uint64_t current_size;      /* virtual size, bytes */
    uint16_t cyls;              /* CHS geometry: cylinders */
    uint8_t heads;              /* CHS geometry: heads */
    uint8_t secs_per_cyl;       /* CHS geometry: sectors per track */
    uint32_t type;              /* VHD_FIXED, VHD_DYNAMIC, VHD_DIFFERENCING */
    uint32_t checksum;          /* ~(byte sum of the footer, this zeroed) */
    uint8_t uuid[16];           /* identity; a child names its parent's */
    uint8_t in_saved_state;     /* 1 while a VM is suspended on it */
    uint8_t reserved[427];      /* zero */
} VHDFooter;
G_STATIC_ASSERT(sizeof(VHDFooter) == VHD_FOOTER_SIZE);

/* Parent locator entry of the dynamic header (24 bytes). */
typedef struct QEMU_PACKED VHDParentLocator {
    uint32_t platform;          /* code, 4 ASCII characters: 'W2ku', ... */
    /* reserved space: sectors per the spec, bytes in some Windows files */
    uint32_t data_space;
    uint32_t data_length;       /* bytes of locator data */
    uint32_t reserved;          /* zero */
    uint64_t data_offset;       /* absolute file offset of the data */
} VHDParentLocator;
G_STATIC_ASSERT(sizeof(VHDParentLocator) == 24);

/* Dynamic disk header, at footer.data_offset (usually 512). */
typedef struct QEMU_PACKED VHDDynHeader {
    char magic[8];              /* cookie "cxsparse" */
    uint64_t data_offset;       /* unused, ~0 */
    uint64_t table_offset;      /* BAT offset, bytes */
    uint32_t version;           /* header version, 0x00010000 */
    uint32_t max_table_entries; /* BAT entries */
    uint32_t block_size;        /* data bytes per block, a power of two */
    uint32_t checksum;          /* as the footer's, over these 1024 bytes */
    uint8_t parent_uuid[16];    /* differencing: the parent footer's uuid */
    uint32_t parent_timestamp;  /* differencing: the parent's timestamp */
    uint32_t reserved;          /* zero */
    /* differencing: parent file name, UTF-16BE (host order once loaded) */
    uint16_t parent_name[256];
    VHDParentLocator loc[VHD_MAX_LOCATORS];
    uint8_t reserved2[256];     /* zero */
} VHDDynHeader;
G_STATIC_ASSERT(sizeof(VHDDynHeader) == VHD_DYN_HEADER_SIZE);

/* footer.type */
enum {
    VHD_FIXED           = 2,
    VHD_DYNAMIC         = 3,
    VHD_DIFFERENCING    = 4,
};

/* A BAT entry of a block that has no storage. */
#define VHD_BAT_UNUSED          0xffffffffU

/* Parent locator platform codes (the four characters, big-endian). */
#define VHD_PLATFORM(a, b, c, d) \
    (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VHD_PLATFORM_NONE       0
#define VHD_PLATFORM_WI2R       VHD_PLATFORM('W', 'i', '2', 'r')
#define VHD_PLATFORM_WI2K       VHD_PLATFORM('W', 'i', '2', 'k')
#define VHD_PLATFORM_W2RU       VHD_PLATFORM('W', '2', 'r', 'u')
#define VHD_PLATFORM_W2KU       VHD_PLATFORM('W', '2', 'k', 'u')
#define VHD_PLATFORM_MAC        VHD_PLATFORM('M', 'a', 'c', ' ')
#define VHD_PLATFORM_MACX       VHD_PLATFORM('M', 'a', 'c', 'X')

/* Footer timestamps count from 2000-01-01 00:00:00 UTC. */
#define VHD_TIMESTAMP_BASE      946684800

/* Largest CHS geometry (cylinders x heads x sectors per track). */
#define VHD_CHS_MAX_C           65535LL
#define VHD_CHS_MAX_H           16
#define VHD_CHS_MAX_S           255
#define VHD_MAX_GEOMETRY        (VHD_CHS_MAX_C * VHD_CHS_MAX_H * VHD_CHS_MAX_S)
/* Largest virtual size QEMU accepts: 2040 GiB. */
#define VHD_MAX_SECTORS         0xff000000LL

/*
 * Space reserved at a time for new blocks, with one flush (the footer
 * moves behind it; closing the image gives it back).
 */
#define VPC_RESERVE_BYTES       (128 * 1024 * 1024)

/* Block size of images we create. */
#define VHD_DEFAULT_BLOCK_SIZE  (2 * 1024 * 1024)

/* Runtime option: how the virtual size is derived from the footer. */
#define VPC_OPT_SIZE_CALC       "force_size_calc"

/* ---- Driver state ---- */

typedef struct VPCBitmapCache VPCBitmapCache;

typedef struct BDRVVPCState {
    /*
     * Guards the BAT, free_offset, the allocation state and the bitmap
     * cache.  Never held across data I/O; held across metadata I/O only
     * where noted.
     */
    CoMutex lock;

    /* The footer as on disk (rewritten at the end after each new block). */
    uint8_t footer_buf[VHD_FOOTER_SIZE];
    VHDFooter footer;               /* the same, parsed */
    uint32_t disk_type;             /* VHD_FIXED/DYNAMIC/DIFFERENCING */
    /* Guest offset == file offset (type fixed, whatever the layout). */
    bool io_fixed;

    /* force_size_calc: CHS or current_size regardless of creator_app. */
    bool force_use_chs;
    bool force_use_sz;

    /* Sparse images (dynamic and differencing). */
    uint64_t host_bat_offset;       /* BAT position in the file */
    uint32_t max_table_entries;
    uint32_t *bat;                  /* in host order */
    uint32_t block_size;            /* data bytes per block */
    uint32_t bitmap_size;           /* bitmap bytes before each block */
    /* Where the next block goes: after every block and all metadata. */
    int64_t host_free_offset;
    /*
     * [host_free_offset, host_ready_end) lies inside the file, its size
     * is stable on disk and it reads as zeroes: blocks placed there need
     * no flush before their BAT entry (see vpc_co_alloc_block).  The
     * footer sits at host_footer_offset, host_ready_end or, when nothing
     * was reserved, host_free_offset.
     */
    int64_t host_ready_end;
    int64_t host_footer_offset;
    /* End of the header, BAT and locators: blocks may not start before. */
    int64_t host_meta_end;

    /* One allocation at a time. */
    bool allocating;
    CoQueue alloc_queue;
    /* A reservation (vpc_co_reserve) is in flight; others wait here. */
    bool reserving;
    CoQueue reserve_queue;

    /*
     * Dynamic images: blocks whose bitmap is known to be all ones (QEMU
     * sets every bit of a block before its first write; see vpc.c).
     */
    uint8_t *bitmap_full;

    /* Differencing images. */
    VHDDynHeader dyn_header;        /* parent UUID, name and locators */
    VPCBitmapCache *bitmaps;        /* sector bitmaps read so far */
    /* Open of the parent pending: it must carry dyn_header.parent_uuid. */
    bool check_parent;
    /*
     * Extent of each parent locator's data in the file (start == end:
     * none).  Blocks may not overlap them and are never allocated there.
     */
    int64_t host_loc_start[VHD_MAX_LOCATORS];
    int64_t host_loc_end[VHD_MAX_LOCATORS];
} BDRVVPCState;

/* Is bs a vpc node (so that its opaque is a BDRVVPCState)? */
bool vpc_is_vpc_node(BlockDriverState *bs);

/* Byte offset of block index's bitmap in the file. */
static inline int64_t vpc_host_bitmap_offset(BDRVVPCState *s, uint32_t index)
{
    return (int64_t)s->bat[index] * BDRV_SECTOR_SIZE;
}

/* Byte offset in the file of byte in_block of block index's data. */
static inline int64_t vpc_host_data_offset(BDRVVPCState *s, uint32_t index,
                                           int64_t in_block)
{
    return vpc_host_bitmap_offset(s, index) + s->bitmap_size + in_block;
}

/* ---- Shared by vpc.c and vpc-diff.c ---- */

/*
 * The part of a request that lies in one block: n bytes from in_block in
 * block index, at qiov_offset in qiov.  Called with s->lock held; may
 * drop it for I/O.
 */
typedef int coroutine_fn VPCBlockFunc(BlockDriverState *bs, uint32_t index,
                                      int64_t in_block, int64_t n,
                                      QEMUIOVector *qiov, size_t qiov_offset);

/*
 * Read or write bytes of the file at host_offset, from or to qiov at
 * qiov_offset.  Called and returns with s->lock held; drops it for the
 * I/O.
 */
int coroutine_fn vpc_co_data_io(BlockDriverState *bs, bool write,
                                int64_t host_offset, int64_t bytes,
                                QEMUIOVector *qiov, size_t qiov_offset);

/*
 * Give block index storage (bitmap all zero if zero_bitmap, else all
 * ones): bitmap and new footer, a flush, then the BAT entry.  Called and
 * returns with s->lock held; drops it for the I/O.  Returns 0 also when
 * another request allocated the block meanwhile.
 */
int coroutine_fn vpc_co_alloc_block(BlockDriverState *bs, uint32_t index,
                                    bool zero_bitmap);

/*
 * vpc-diff.c: open-time parsing of the parent fields of a differencing
 * image (locators checked against file_length, the parent chosen and
 * recorded in bs->backing_file).  Before the BAT is loaded.
 */
int vpc_diff_open(BlockDriverState *bs, QDict *options, int64_t file_length,
                  Error **errp);
/*
 * vpc-diff.c: when bs is being opened as the parent of a differencing
 * node, check that it is the parent that node names and that the chain
 * neither loops nor grows too long.
 */
int vpc_check_as_parent(BlockDriverState *bs, Error **errp);
void vpc_diff_close(BlockDriverState *bs);
/* vpc-diff.c: a block was just allocated with an all-zero bitmap. */
void vpc_diff_new_block(BDRVVPCState *s, uint32_t index);

int coroutine_fn vpc_diff_co_preadv(BlockDriverState *bs, int64_t offset,
                                    int64_t bytes, QEMUIOVector *qiov,
                                    size_t qiov_offset);
/* A VPCBlockFunc: write to one block of a differencing image. */
int coroutine_fn vpc_diff_co_write_block(BlockDriverState *bs, uint32_t index,
                                         int64_t in_block, int64_t n,
                                         QEMUIOVector *qiov,
                                         size_t qiov_offset);
int coroutine_fn vpc_diff_co_block_status(BlockDriverState *bs,
                                          int64_t offset, int64_t bytes,
                                          int64_t *pnum, int64_t *map,
                                          BlockDriverState **file);

/*
 * vpc-diff.c: fill the parent fields of a new differencing image's
 * header (parent UUID, timestamp, name and the W2ku/W2ru locators placed
 * from *host_offset on, which is advanced past their data) and return the
 * locator data to write in *loc_data (caller frees).
 */
int vpc_diff_create_header(const char *filename, const char *parent_path,
                           const VHDFooter *parent_footer,
                           VHDDynHeader *h, int64_t *host_offset,
                           uint8_t **loc_data, size_t *loc_data_len,
                           Error **errp);

#endif
