/*
 * vpc: differencing VHD images (type 4), which QEMU 7.2 does not support.
 *
 * A differencing image is laid out like a dynamic one, but its sector
 * bitmaps matter: a set bit means the sector is stored in this file, a
 * clear bit (or a block missing from the BAT) means "read the parent".
 * The parent is named by the dynamic header: its footer UUID, its file
 * name (UTF-16BE) and up to eight parent locators (the path in one of
 * several encodings, stored in the file, usually right after the BAT).
 *
 * The parent is opened by the block layer as this node's backing file:
 * open picks the locator whose path exists and records it in
 * bs->backing_file (format "vpc"); the parent's own open then checks that
 * it is the image the child asks for (vpc_check_as_parent).
 *
 * Bitmaps are read on first use and kept in a bounded cache.  Reads and
 * block status walk runs of equal bits and merge them into as few
 * requests as possible.  Writes allocate blocks with an all-zero bitmap,
 * write the data, then set the bits they covered with one bitmap write
 * per block and request.
 */
#include "qemu/osdep.h"
#include <uuid/uuid.h>
#include "qemu/cutils.h"
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qemu/host-utils.h"
#include "block/block_int.h"
#include "block/vpc.h"

/* Longest locator we read: 32K UTF-16 units, Windows' longest path. */
#define VPC_MAX_LOCATOR_LEN     (64 * 1024)
/* Most differencing images above a base image. */
#define VPC_MAX_CHAIN_DEPTH     64
/* Memory for cached sector bitmaps (512 bytes map 2 MiB of data). */
#define VPC_BITMAP_CACHE_BYTES  (16 * 1024 * 1024)

/* ---- Parent locators ---- */

/* Where a locator's path comes from, in the order we try them. */
typedef enum VPCCandidateKind {
    VPC_CAND_RELATIVE,          /* W2ru, Wi2r: relative to the child */
    VPC_CAND_ABSOLUTE,          /* W2ku, Wi2k, MacX */
    VPC_CAND_NAME,              /* the parent name, next to the child */
    VPC_CAND__MAX,
} VPCCandidateKind;

static const char *vpc_platform_name(uint32_t platform, char buf[5])
{
    for (int i = 0; i < 4; i++) {
        uint8_t c = platform >> (24 - 8 * i);

        buf[i] = g_ascii_isprint(c) ? c : '?';
    }
    buf[4] = '\0';
    return buf;
}

/*
 * Bytes reserved for a locator's data.  The spec counts data_space in
 * sectors, but some Windows versions store bytes; a sector count of 512
 * or more (256 KiB for one path) is taken as a byte count.
 */
static int64_t vpc_locator_space(const VHDParentLocator *l)
{
    int64_t space = l->data_space < 512 ? (int64_t)l->data_space * 512
                                        : l->data_space;

    return MAX(space, ROUND_UP((int64_t)l->data_length, BDRV_SECTOR_SIZE));
}

/* UTF-16LE bytes to UTF-8, NUL padding removed; NULL if invalid. */
static char *vpc_utf16le_to_utf8(const uint8_t *buf, size_t len)
{
    g_autofree gunichar2 *units = NULL;
    size_t n = len / 2;

    if (len % 2) {
        return NULL;
    }
    units = g_new(gunichar2, n + 1);
    for (size_t i = 0; i < n; i++) {
        units[i] = lduw_le_p(buf + 2 * i);
    }
    while (n > 0 && units[n - 1] == 0) {
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        if (units[i] == 0) {
            return NULL;
        }
    }
    return g_utf16_to_utf8(units, n, NULL, NULL, NULL);
}

/* ANSI (Wi2k, Wi2r) bytes to UTF-8: UTF-8 if valid, else Windows-1252. */
static char *vpc_ansi_to_utf8(const uint8_t *buf, size_t len)
{
    while (len > 0 && buf[len - 1] == 0) {
        len--;
    }
    if (memchr(buf, 0, len)) {
        return NULL;
    }
    if (g_utf8_validate((const char *)buf, len, NULL)) {
        return g_strndup((const char *)buf, len);
    }
    return g_convert((const char *)buf, len, "UTF-8", "CP1252", NULL, NULL,
                     NULL);
}

/* "file://[localhost]/path" (UTF-8, percent-escaped) to a path. */
static char *vpc_macx_to_path(const uint8_t *buf, size_t len)
{
    g_autofree char *url = NULL;
    const char *rest;

    while (len > 0 && buf[len - 1] == 0) {
        len--;
    }
    if (memchr(buf, 0, len) ||
        !g_utf8_validate((const char *)buf, len, NULL)) {
        return NULL;
    }
    url = g_strndup((const char *)buf, len);
    if (!strstart(url, "file://", &rest)) {
        return NULL;
    }
    strstart(rest, "localhost", &rest);
    return g_uri_unescape_string(rest, NULL);
}

/*
 * A Windows path as a host path: backslashes become slashes, and "./"
 * prefixes go.  *usable is false for drive-letter and UNC paths, which
 * cannot name a file here, and for "proto:" prefixes, which a Windows
 * file name cannot hold and which would make the block layer open
 * something else than a file.
 */
static char *vpc_windows_path(const char *path, bool *usable)
{
    g_autofree char *p = g_strdup(path);
    const char *q;

    for (char *c = p; *c; c++) {
        if (*c == '\\') {
            *c = '/';
        }
    }
    *usable = !(g_ascii_isalpha(p[0]) && p[1] == ':') &&
              !(p[0] == '/' && p[1] == '/') && !path_has_protocol(p);
    q = p;
    while (q[0] == '.' && q[1] == '/') {
        q += 2;
    }
    return g_strdup(q);
}

/* The last component of a Windows or POSIX path. */
static char *vpc_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *bslash = strrchr(path, '\\');
    const char *base = MAX(slash, bslash);

    return g_strdup(base ? base + 1 : path);
}

/*
 * Check locator i, record its data extent, and add the path it names to
 * cands[kind] (the first of a kind wins).
 */
static int vpc_read_locator(BlockDriverState *bs, int i, int64_t file_length,
                            char *cands[VPC_CAND__MAX], Error **errp)
{
    BDRVVPCState *s = bs->opaque;
    const VHDParentLocator *l = &s->dyn_header.loc[i];
    g_autofree uint8_t *data = NULL;
    g_autofree char *text = NULL;
    char name[5];
    VPCCandidateKind kind;
    bool usable = true;
    char *path;
    int ret;

    if (l->data_length > VPC_MAX_LOCATOR_LEN) {
        error_setg(errp, "Parent locator %d (%s) is too long (%" PRIu32
                   " bytes)", i, vpc_platform_name(l->platform, name),
                   l->data_length);
        return -EINVAL;
    }
    if (l->data_offset > file_length ||
        l->data_length > file_length - l->data_offset ||
        (l->data_length && l->data_offset < VHD_FOOTER_SIZE)) {
        error_setg(errp, "Parent locator %d (%s) lies outside the image "
                   "file", i, vpc_platform_name(l->platform, name));
        return -EINVAL;
    }
    s->host_loc_start[i] = l->data_offset;
    s->host_loc_end[i] = MIN(l->data_offset + vpc_locator_space(l),
                             file_length);

    switch (l->platform) {
    case VHD_PLATFORM_W2RU:
    case VHD_PLATFORM_WI2R:
        kind = VPC_CAND_RELATIVE;
        break;
    case VHD_PLATFORM_W2KU:
    case VHD_PLATFORM_WI2K:
    case VHD_PLATFORM_MACX:
        kind = VPC_CAND_ABSOLUTE;
        break;
    default:
        /* "Mac " holds an alias record; other codes are unknown to us. */
        return 0;
    }

    data = g_malloc(l->data_length + 1);
    ret = bdrv_pread(bs->file, l->data_offset, l->data_length, data, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read parent locator %d", i);
        return ret;
    }

    switch (l->platform) {
    case VHD_PLATFORM_W2RU:
    case VHD_PLATFORM_W2KU:
        text = vpc_utf16le_to_utf8(data, l->data_length);
        break;
    case VHD_PLATFORM_WI2R:
    case VHD_PLATFORM_WI2K:
        text = vpc_ansi_to_utf8(data, l->data_length);
        break;
    default:
        text = vpc_macx_to_path(data, l->data_length);
        break;
    }
    if (!text || !text[0]) {
        error_setg(errp, "Parent locator %d (%s) does not hold a valid path",
                   i, vpc_platform_name(l->platform, name));
        return -EINVAL;
    }

    if (l->platform == VHD_PLATFORM_MACX) {
        path = g_steal_pointer(&text);
        usable = path[0] == '/';
    } else {
        path = vpc_windows_path(text, &usable);
        if (kind == VPC_CAND_ABSOLUTE) {
            usable = usable && path[0] == '/';
        }
    }
    if (usable && !cands[kind]) {
        cands[kind] = path;
    } else {
        g_free(path);
    }
    return 0;
}

/*
 * The parent name field (UTF-16BE, host order once loaded), base name;
 * NULL if there is none, or none that can be a file name.
 */
static char *vpc_parent_name(BDRVVPCState *s)
{
    uint16_t units[ARRAY_SIZE(s->dyn_header.parent_name)];
    size_t n = 0;
    g_autofree char *name = NULL;
    g_autofree char *base = NULL;

    memcpy(units, s->dyn_header.parent_name, sizeof(units));

    while (n < ARRAY_SIZE(units) && units[n]) {
        n++;
    }
    if (!n) {
        return NULL;
    }
    name = g_utf16_to_utf8(units, n, NULL, NULL, NULL);
    if (!name) {
        return NULL;
    }
    base = vpc_base_name(name);
    return path_has_protocol(base) ? NULL : g_steal_pointer(&base);
}

/* Does the candidate name an existing file, seen from bs? */
static bool vpc_candidate_exists(BlockDriverState *bs, const char *cand)
{
    g_autofree char *full = NULL;

    full = bdrv_get_full_backing_filename_from_filename(bs->filename, cand,
                                                        NULL);
    return full && !path_has_protocol(full) && access(full, F_OK) == 0;
}

/* Did the user name the backing node explicitly? */
static bool vpc_has_backing_options(QDict *options)
{
    for (const QDictEntry *e = qdict_first(options); e;
         e = qdict_next(options, e)) {
        const char *key = qdict_entry_key(e);

        if (!strcmp(key, "backing") || strstart(key, "backing.", NULL)) {
            return true;
        }
    }
    return false;
}

static VPCBitmapCache *vpc_bitmap_cache_new(BDRVVPCState *s);

int vpc_diff_open(BlockDriverState *bs, QDict *options, int64_t file_length,
                  Error **errp)
{
    BDRVVPCState *s = bs->opaque;
    char *cands[VPC_CAND__MAX] = { NULL };
    const char *chosen = NULL;
    bool explicit_backing = vpc_has_backing_options(options);
    int ret = 0;

    for (int i = 0; i < VHD_MAX_LOCATORS; i++) {
        if (s->dyn_header.loc[i].platform == VHD_PLATFORM_NONE) {
            continue;
        }
        ret = vpc_read_locator(bs, i, file_length, cands, errp);
        if (ret < 0) {
            goto out;
        }
    }
    cands[VPC_CAND_NAME] = vpc_parent_name(s);

    /* The first candidate that exists, else the first one at all. */
    for (int k = 0; k < VPC_CAND__MAX && !chosen; k++) {
        if (cands[k] && vpc_candidate_exists(bs, cands[k])) {
            chosen = cands[k];
        }
    }
    for (int k = 0; k < VPC_CAND__MAX && !chosen; k++) {
        chosen = cands[k];
    }
    if (!chosen && !explicit_backing) {
        error_setg(errp, "No parent locator found in differencing image");
        ret = -EINVAL;
        goto out;
    }
    if (chosen) {
        pstrcpy(bs->backing_file, sizeof(bs->backing_file), chosen);
        pstrcpy(bs->auto_backing_file, sizeof(bs->auto_backing_file),
                chosen);
        pstrcpy(bs->backing_format, sizeof(bs->backing_format), "vpc");
    }

    s->check_parent = !explicit_backing;
    s->bitmaps = vpc_bitmap_cache_new(s);

out:
    for (int k = 0; k < VPC_CAND__MAX; k++) {
        g_free(cands[k]);
    }
    return ret;
}

int vpc_check_as_parent(BlockDriverState *bs, Error **errp)
{
    BDRVVPCState *s = bs->opaque;
    BlockDriverState *child = bs->inherits_from;
    BDRVVPCState *cs;
    char want[37], have[37];
    int depth = 0;

    if (!vpc_is_vpc_node(child)) {
        return 0;
    }
    cs = child->opaque;
    if (cs->disk_type != VHD_DIFFERENCING || child->backing) {
        return 0;
    }

    for (BlockDriverState *a = child; a; a = a->inherits_from) {
        BDRVVPCState *as;

        if (!vpc_is_vpc_node(a)) {
            continue;
        }
        as = a->opaque;
        if (!memcmp(as->footer.uuid, s->footer.uuid, 16)) {
            error_setg(errp, "Parent chain loop: '%s' and its descendant "
                       "'%s' have the same UUID", bs->filename, a->filename);
            return -ELOOP;
        }
        if (++depth > VPC_MAX_CHAIN_DEPTH) {
            error_setg(errp, "Parent chain of '%s' is too long (more than "
                       "%d differencing images)", a->filename,
                       VPC_MAX_CHAIN_DEPTH);
            return -ELOOP;
        }
    }

    if (!cs->check_parent) {
        return 0;
    }
    if (memcmp(cs->dyn_header.parent_uuid, s->footer.uuid, 16)) {
        uuid_unparse(cs->dyn_header.parent_uuid, want);
        uuid_unparse(s->footer.uuid, have);
        error_setg(errp, "'%s' is not the parent of '%s' (UUID %s, "
                   "expected %s)", bs->filename, child->filename, have, want);
        return -EINVAL;
    }
    cs->check_parent = false;
    return 0;
}

/* ---- The sector bitmap cache ---- */

typedef struct VPCBitmap {
    uint32_t index;             /* block number */
    uint8_t *bits;              /* bitmap_size bytes, MSB first */
    int pins;                   /* users; no eviction while > 0 */
    bool loading;               /* being read from the file */
    bool dead;                  /* failed to load: freed by the last user */
    int load_ret;
    bool writing;               /* a write-back is in flight */
    uint64_t gen_set;           /* bumped when bits are set */
    uint64_t gen_written;       /* the generation stable in the file */
    /* Bitmap sectors changed since the last write-back: [dirty_lo, hi). */
    uint32_t dirty_lo, dirty_hi;
    CoQueue wait;               /* for loading or writing to finish */
    QTAILQ_ENTRY(VPCBitmap) lru;
} VPCBitmap;

struct VPCBitmapCache {
    GHashTable *map;            /* block number -> VPCBitmap */
    QTAILQ_HEAD(, VPCBitmap) lru;   /* least recently used first */
    unsigned int count;
    unsigned int max;
};

static VPCBitmapCache *vpc_bitmap_cache_new(BDRVVPCState *s)
{
    VPCBitmapCache *c = g_new0(VPCBitmapCache, 1);

    c->map = g_hash_table_new(g_direct_hash, g_direct_equal);
    QTAILQ_INIT(&c->lru);
    c->max = MAX(VPC_BITMAP_CACHE_BYTES / s->bitmap_size, 16);
    return c;
}

static void vpc_bitmap_free(VPCBitmap *e)
{
    g_free(e->bits);
    g_free(e);
}

static bool vpc_bitmap_idle(VPCBitmap *e)
{
    return !e->pins && !e->loading && !e->writing &&
           e->gen_written == e->gen_set;
}

static void vpc_bitmap_remove(VPCBitmapCache *c, VPCBitmap *e)
{
    g_hash_table_remove(c->map, GUINT_TO_POINTER(e->index));
    QTAILQ_REMOVE(&c->lru, e, lru);
    c->count--;
}

static void vpc_bitmap_evict(VPCBitmapCache *c)
{
    VPCBitmap *e, *next;

    QTAILQ_FOREACH_SAFE(e, &c->lru, lru, next) {
        if (c->count <= c->max) {
            break;
        }
        if (vpc_bitmap_idle(e)) {
            vpc_bitmap_remove(c, e);
            vpc_bitmap_free(e);
        }
    }
}

static VPCBitmap *vpc_bitmap_insert(BDRVVPCState *s, uint32_t index)
{
    VPCBitmapCache *c = s->bitmaps;
    VPCBitmap *e = g_new0(VPCBitmap, 1);

    e->index = index;
    e->bits = g_malloc0(s->bitmap_size);
    qemu_co_queue_init(&e->wait);
    g_hash_table_insert(c->map, GUINT_TO_POINTER(index), e);
    QTAILQ_INSERT_TAIL(&c->lru, e, lru);
    c->count++;
    return e;
}

void vpc_diff_new_block(BDRVVPCState *s, uint32_t index)
{
    VPCBitmap *e = g_hash_table_lookup(s->bitmaps->map,
                                       GUINT_TO_POINTER(index));

    if (e) {
        /* Only unallocated blocks are new; nothing can be cached. */
        assert(vpc_bitmap_idle(e));
        memset(e->bits, 0, s->bitmap_size);
    } else {
        vpc_bitmap_insert(s, index);
        vpc_bitmap_evict(s->bitmaps);
    }
}

static void vpc_bitmap_put(BDRVVPCState *s, VPCBitmap *e)
{
    assert(e->pins > 0);
    if (--e->pins == 0 && e->dead) {
        vpc_bitmap_free(e);
    }
}

/*
 * The bitmap of allocated block index, pinned (release it with
 * vpc_bitmap_put).  Called with s->lock held; drops it to read.
 */
static int coroutine_fn vpc_co_bitmap_get(BlockDriverState *bs,
                                          uint32_t index, VPCBitmap **out)
{
    BDRVVPCState *s = bs->opaque;
    VPCBitmapCache *c = s->bitmaps;
    VPCBitmap *e = g_hash_table_lookup(c->map, GUINT_TO_POINTER(index));
    int ret;

    if (e) {
        e->pins++;
        while (e->loading) {
            qemu_co_queue_wait(&e->wait, &s->lock);
        }
        if (e->dead) {
            ret = e->load_ret;
            vpc_bitmap_put(s, e);
            return ret;
        }
        QTAILQ_REMOVE(&c->lru, e, lru);
        QTAILQ_INSERT_TAIL(&c->lru, e, lru);
        *out = e;
        return 0;
    }

    e = vpc_bitmap_insert(s, index);
    e->pins = 1;
    e->loading = true;
    vpc_bitmap_evict(c);

    qemu_co_mutex_unlock(&s->lock);
    ret = bdrv_co_pread(bs->file, vpc_host_bitmap_offset(s, index),
                        s->bitmap_size, e->bits, 0);
    qemu_co_mutex_lock(&s->lock);

    e->loading = false;
    qemu_co_queue_restart_all(&e->wait);
    if (ret < 0) {
        /* Waiters see dead; new lookups try again. */
        e->dead = true;
        e->load_ret = ret;
        vpc_bitmap_remove(c, e);
        vpc_bitmap_put(s, e);
        return ret;
    }
    *out = e;
    return 0;
}

static inline bool vpc_bit(const uint8_t *bits, uint32_t i)
{
    return bits[i / 8] & (0x80 >> (i % 8));
}

/*
 * The number of sectors from first on (at most max) whose bits equal
 * that of first, which *set receives.
 */
static uint32_t vpc_bitmap_run(const uint8_t *bits, uint32_t first,
                               uint32_t max, bool *set)
{
    uint32_t i = first, end = first + max;
    bool v = vpc_bit(bits, first);
    uint8_t same = v ? 0xff : 0x00;

    *set = v;
    while (i < end) {
        if (i % 8 == 0 && end - i >= 8) {
            if (bits[i / 8] == same) {
                i += 8;
                continue;
            }
        }
        if (vpc_bit(bits, i) != v) {
            break;
        }
        i++;
    }
    return i - first;
}

/* Set the bits of [first, first + count) sectors; true if any changed. */
static bool vpc_bitmap_set_range(VPCBitmap *e, uint32_t first,
                                 uint32_t count)
{
    bool changed = false;

    for (uint32_t i = first; i < first + count; ) {
        uint8_t *byte = &e->bits[i / 8];

        if (i % 8 == 0 && first + count - i >= 8) {
            changed |= *byte != 0xff;
            *byte = 0xff;
            i += 8;
        } else {
            uint8_t bit = 0x80 >> (i % 8);

            changed |= !(*byte & bit);
            *byte |= bit;
            i++;
        }
    }
    return changed;
}

/* Bitmap sectors [lo, hi) of e need writing back. */
static void vpc_bitmap_add_dirty(VPCBitmap *e, uint32_t lo, uint32_t hi)
{
    if (e->dirty_lo == e->dirty_hi) {
        e->dirty_lo = lo;
        e->dirty_hi = hi;
    } else {
        e->dirty_lo = MIN(e->dirty_lo, lo);
        e->dirty_hi = MAX(e->dirty_hi, hi);
    }
}

/*
 * Mark [first, first + count) sectors of block e as stored here and make
 * that stable in the file before returning.  Concurrent requests on the
 * same block share write-backs: each waits until a write-back that
 * includes its bits has completed.
 */
static int coroutine_fn vpc_co_bitmap_set(BlockDriverState *bs, VPCBitmap *e,
                                          uint32_t first, uint32_t count)
{
    BDRVVPCState *s = bs->opaque;
    uint32_t lo = first / (BDRV_SECTOR_SIZE * 8);
    uint32_t hi = DIV_ROUND_UP(first + count, BDRV_SECTOR_SIZE * 8);
    uint64_t mine;
    int ret;

    if (vpc_bitmap_set_range(e, first, count)) {
        vpc_bitmap_add_dirty(e, lo, hi);
        e->gen_set++;
    }
    mine = e->gen_set;

    while (e->gen_written < mine) {
        g_autofree uint8_t *buf = NULL;
        uint64_t gen;
        uint32_t wlo, whi;
        size_t len;

        if (e->writing) {
            qemu_co_queue_wait(&e->wait, &s->lock);
            continue;
        }

        e->writing = true;
        gen = e->gen_set;
        wlo = e->dirty_lo;
        whi = e->dirty_hi;
        e->dirty_lo = e->dirty_hi = 0;
        len = (size_t)(whi - wlo) * BDRV_SECTOR_SIZE;
        buf = g_memdup2(e->bits + (size_t)wlo * BDRV_SECTOR_SIZE, len);

        qemu_co_mutex_unlock(&s->lock);
        ret = bdrv_co_pwrite(bs->file,
                             vpc_host_bitmap_offset(s, e->index) +
                             (int64_t)wlo * BDRV_SECTOR_SIZE, len, buf, 0);
        qemu_co_mutex_lock(&s->lock);

        e->writing = false;
        qemu_co_queue_restart_all(&e->wait);
        if (ret < 0) {
            /* Still dirty: the next writer tries again. */
            vpc_bitmap_add_dirty(e, wlo, whi);
            return ret;
        }
        e->gen_written = gen;
    }
    return 0;
}

void vpc_diff_close(BlockDriverState *bs)
{
    BDRVVPCState *s = bs->opaque;
    VPCBitmap *e, *next;

    if (!s->bitmaps) {
        return;
    }
    QTAILQ_FOREACH_SAFE(e, &s->bitmaps->lru, lru, next) {
        assert(!e->pins);
        vpc_bitmap_free(e);
    }
    g_hash_table_destroy(s->bitmaps->map);
    g_free(s->bitmaps);
    s->bitmaps = NULL;
}

/* ---- I/O ---- */

/* Where a run of guest sectors is read from. */
typedef struct VPCRun {
    int64_t bytes;              /* length of the run */
    bool in_file;               /* stored in this image ... */
    int64_t host_offset;        /* ... here; else in the parent */
} VPCRun;

/*
 * The run starting at offset (at most bytes long, within one block).
 * Called with s->lock held; may drop it to load a bitmap.
 */
static int coroutine_fn vpc_co_find_run(BlockDriverState *bs, int64_t offset,
                                        int64_t bytes, VPCRun *run)
{
    BDRVVPCState *s = bs->opaque;
    uint32_t index = offset / s->block_size;
    int64_t in_block = offset % s->block_size;
    int64_t n = MIN(bytes, s->block_size - in_block);
    VPCBitmap *e;
    uint32_t count;
    int ret;

    assert(index < s->max_table_entries);
    if (s->bat[index] == VHD_BAT_UNUSED) {
        run->bytes = n;
        run->in_file = false;
        return 0;
    }

    ret = vpc_co_bitmap_get(bs, index, &e);
    if (ret < 0) {
        return ret;
    }
    count = vpc_bitmap_run(e->bits, in_block / BDRV_SECTOR_SIZE,
                           n / BDRV_SECTOR_SIZE, &run->in_file);
    vpc_bitmap_put(s, e);

    run->bytes = (int64_t)count * BDRV_SECTOR_SIZE;
    run->host_offset = vpc_host_data_offset(s, index, in_block);
    return 0;
}

/*
 * The longest run from offset: one run stored here (blocks are never
 * contiguous in the file), or any number of runs in the parent.
 */
static int coroutine_fn vpc_co_find_merged_run(BlockDriverState *bs,
                                               int64_t offset, int64_t bytes,
                                               VPCRun *run)
{
    int ret = vpc_co_find_run(bs, offset, bytes, run);

    while (ret >= 0 && !run->in_file && run->bytes < bytes) {
        VPCRun next;

        ret = vpc_co_find_run(bs, offset + run->bytes, bytes - run->bytes,
                              &next);
        if (ret < 0 || next.in_file) {
            break;
        }
        run->bytes += next.bytes;
    }
    return ret;
}

int coroutine_fn vpc_diff_co_preadv(BlockDriverState *bs, int64_t offset,
                                    int64_t bytes, QEMUIOVector *qiov,
                                    size_t qiov_offset)
{
    BDRVVPCState *s = bs->opaque;
    int ret = 0;

    qemu_co_mutex_lock(&s->lock);
    while (bytes > 0) {
        VPCRun run;

        ret = vpc_co_find_merged_run(bs, offset, bytes, &run);
        if (ret < 0) {
            break;
        }

        qemu_co_mutex_unlock(&s->lock);
        if (run.in_file) {
            ret = bdrv_co_preadv_part(bs->file, run.host_offset, run.bytes,
                                      qiov, qiov_offset, 0);
        } else if (bs->backing) {
            ret = bdrv_co_preadv_part(bs->backing, offset, run.bytes, qiov,
                                      qiov_offset, 0);
        } else {
            qemu_iovec_memset(qiov, qiov_offset, 0, run.bytes);
        }
        qemu_co_mutex_lock(&s->lock);
        if (ret < 0) {
            break;
        }
        offset += run.bytes;
        bytes -= run.bytes;
        qiov_offset += run.bytes;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

int coroutine_fn vpc_diff_co_write_block(BlockDriverState *bs, uint32_t index,
                                         int64_t in_block, int64_t n,
                                         QEMUIOVector *qiov,
                                         size_t qiov_offset)
{
    BDRVVPCState *s = bs->opaque;
    VPCBitmap *e;
    int ret;

    if (s->bat[index] == VHD_BAT_UNUSED) {
        ret = vpc_co_alloc_block(bs, index, true);
        if (ret < 0) {
            return ret;
        }
    }
    ret = vpc_co_bitmap_get(bs, index, &e);
    if (ret < 0) {
        return ret;
    }

    ret = vpc_co_data_io(bs, true, vpc_host_data_offset(s, index, in_block),
                         n, qiov, qiov_offset);

    /* The data first: a set bit must never expose stale sectors. */
    if (ret >= 0) {
        ret = vpc_co_bitmap_set(bs, e, in_block / BDRV_SECTOR_SIZE,
                                n / BDRV_SECTOR_SIZE);
    }
    vpc_bitmap_put(s, e);
    return ret;
}

/* Sectors stored here are DATA; the rest is the parent's business (0). */
int coroutine_fn vpc_diff_co_block_status(BlockDriverState *bs,
                                          int64_t offset, int64_t bytes,
                                          int64_t *pnum, int64_t *map,
                                          BlockDriverState **file)
{
    BDRVVPCState *s = bs->opaque;
    VPCRun run;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vpc_co_find_merged_run(bs, offset, bytes, &run);
    qemu_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        return ret;
    }

    *pnum = run.bytes;
    if (!run.in_file) {
        return 0;
    }
    *map = run.host_offset;
    *file = bs->file->bs;
    return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
}

/* ---- Creation ---- */

/* path relative to the directory dir (both absolute and canonical). */
static char *vpc_relative_path(const char *dir, const char *path)
{
    g_auto(GStrv) d = g_strsplit(dir, "/", -1);
    g_auto(GStrv) p = g_strsplit(path, "/", -1);
    GString *out = g_string_new(NULL);
    int i = 0;

    while (d[i] && p[i] && !strcmp(d[i], p[i])) {
        i++;
    }
    for (int j = i; d[j]; j++) {
        if (d[j][0]) {
            g_string_append(out, "../");
        }
    }
    for (int j = i; p[j]; j++) {
        g_string_append(out, p[j]);
        if (p[j + 1]) {
            g_string_append_c(out, '/');
        }
    }
    return g_string_free(out, false);
}

/* UTF-8 path to UTF-16LE with Windows separators; NULL if invalid. */
static uint8_t *vpc_path_to_utf16le(const char *path, size_t *len)
{
    g_autofree gunichar2 *units = NULL;
    glong n;
    uint8_t *out;

    units = g_utf8_to_utf16(path, -1, NULL, &n, NULL);
    if (!units) {
        return NULL;
    }
    out = g_malloc(2 * n + 1);
    for (glong i = 0; i < n; i++) {
        stw_le_p(out + 2 * i, units[i] == '/' ? '\\' : units[i]);
    }
    *len = 2 * n;
    return out;
}

int vpc_diff_create_header(const char *filename, const char *parent_path,
                           const VHDFooter *parent_footer,
                           VHDDynHeader *h, int64_t *host_offset,
                           uint8_t **loc_data, size_t *loc_data_len,
                           Error **errp)
{
    g_autofree char *full = NULL;
    g_autofree char *abs_parent = NULL;
    g_autofree char *child_dir = NULL;
    g_autofree char *abs_dir = NULL;
    g_autofree char *rel = NULL;
    g_autofree char *rel_win = NULL;
    g_autofree char *base = NULL;
    g_autofree gunichar2 *name = NULL;
    g_autofree uint8_t *w2ku = NULL;
    g_autofree uint8_t *w2ru = NULL;
    size_t w2ku_len, w2ru_len, w2ku_space, w2ru_space;
    glong name_len;

    full = bdrv_get_full_backing_filename_from_filename(filename,
                                                        parent_path, errp);
    if (!full) {
        return -EINVAL;
    }
    if (path_has_protocol(full)) {
        error_setg(errp, "The parent of a differencing image must be given "
                   "as a file name");
        return -EINVAL;
    }
    abs_parent = realpath(full, NULL);
    if (!abs_parent) {
        error_setg_errno(errp, errno, "Could not resolve '%s'", full);
        return -errno;
    }
    child_dir = g_path_get_dirname(filename);
    abs_dir = realpath(child_dir, NULL);
    if (!abs_dir) {
        error_setg_errno(errp, errno, "Could not resolve '%s'", child_dir);
        return -errno;
    }

    /* As given if relative (qemu-img's meaning), else computed. */
    rel = path_is_absolute(parent_path) ?
          vpc_relative_path(abs_dir, abs_parent) : g_strdup(parent_path);
    rel_win = (g_str_has_prefix(rel, "./") || g_str_has_prefix(rel, "../")) ?
              g_strdup(rel) : g_strconcat("./", rel, NULL);

    base = g_path_get_basename(abs_parent);
    name = g_utf8_to_utf16(base, -1, NULL, &name_len, NULL);
    w2ku = vpc_path_to_utf16le(abs_parent, &w2ku_len);
    w2ru = vpc_path_to_utf16le(rel_win, &w2ru_len);
    if (!name || !w2ku || !w2ru) {
        error_setg(errp, "The parent file name is not valid UTF-8");
        return -EINVAL;
    }
    if (name_len > ARRAY_SIZE(h->parent_name)) {
        error_setg(errp, "The parent file name is too long (%ld characters, "
                   "the limit is %zu)", name_len,
                   ARRAY_SIZE(h->parent_name));
        return -EINVAL;
    }

    memcpy(h->parent_uuid, parent_footer->uuid, 16);
    h->parent_timestamp = parent_footer->timestamp;
    memcpy(h->parent_name, name, name_len * sizeof(gunichar2));

    w2ku_space = ROUND_UP(w2ku_len, BDRV_SECTOR_SIZE);
    w2ru_space = ROUND_UP(w2ru_len, BDRV_SECTOR_SIZE);
    h->loc[0] = (VHDParentLocator) {
        .platform = VHD_PLATFORM_W2KU,
        .data_space = w2ku_space / BDRV_SECTOR_SIZE,
        .data_length = w2ku_len,
        .data_offset = *host_offset,
    };
    h->loc[1] = (VHDParentLocator) {
        .platform = VHD_PLATFORM_W2RU,
        .data_space = w2ru_space / BDRV_SECTOR_SIZE,
        .data_length = w2ru_len,
        .data_offset = *host_offset + w2ku_space,
    };

    *loc_data_len = w2ku_space + w2ru_space;
    *loc_data = g_malloc0(*loc_data_len);
    memcpy(*loc_data, w2ku, w2ku_len);
    memcpy(*loc_data + w2ku_space, w2ru, w2ru_len);
    *host_offset += *loc_data_len;
    return 0;
}
