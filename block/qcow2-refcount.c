/*
 * qcow2 refcounts: the refcount table and blocks, cluster allocation and
 * freeing, metadata overlap checks, and the refcount part of check/repair.
 *
 * Every host cluster in use has a refcount >= 1, metadata included: the
 * refcount blocks count themselves.  Clusters are allocated first-fit,
 * scanning upwards from s->free_cluster_index; freeing a cluster moves the
 * index back.  The allocation order is QEMU 7.2's so that the same
 * operations produce byte-identical images.
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/host-utils.h"
#include "block/qcow2.h"

static int update_refcount(BlockDriverState *bs, int64_t offset,
                           int64_t length, uint64_t addend, bool decrease,
                           enum qcow2_discard_type type);
static int64_t alloc_clusters_noref(BlockDriverState *bs, uint64_t size,
                                    uint64_t max);

/* ---- Refcount entry packing ---- */

/*
 * Widths below a byte pack several entries per byte, the entry with the
 * lowest index in the lowest-order bits; 16, 32 and 64 bit entries are
 * big-endian.
 */
static uint64_t get_refcount_ro0(const void *refcount_array, uint64_t index)
{
    const uint8_t *a = refcount_array;

    return (a[index / 8] >> (index % 8)) & 0x1;
}

static void set_refcount_ro0(void *refcount_array, uint64_t index,
                             uint64_t value)
{
    uint8_t *a = refcount_array;

    assert(!(value >> 1));
    a[index / 8] &= ~(0x1 << (index % 8));
    a[index / 8] |= value << (index % 8);
}

static uint64_t get_refcount_ro1(const void *refcount_array, uint64_t index)
{
    const uint8_t *a = refcount_array;

    return (a[index / 4] >> (2 * (index % 4))) & 0x3;
}

static void set_refcount_ro1(void *refcount_array, uint64_t index,
                             uint64_t value)
{
    uint8_t *a = refcount_array;

    assert(!(value >> 2));
    a[index / 4] &= ~(0x3 << (2 * (index % 4)));
    a[index / 4] |= value << (2 * (index % 4));
}

static uint64_t get_refcount_ro2(const void *refcount_array, uint64_t index)
{
    const uint8_t *a = refcount_array;

    return (a[index / 2] >> (4 * (index % 2))) & 0xf;
}

static void set_refcount_ro2(void *refcount_array, uint64_t index,
                             uint64_t value)
{
    uint8_t *a = refcount_array;

    assert(!(value >> 4));
    a[index / 2] &= ~(0xf << (4 * (index % 2)));
    a[index / 2] |= value << (4 * (index % 2));
}

static uint64_t get_refcount_ro3(const void *refcount_array, uint64_t index)
{
    return ((const uint8_t *)refcount_array)[index];
}

static void set_refcount_ro3(void *refcount_array, uint64_t index,
                             uint64_t value)
{
    assert(!(value >> 8));
    ((uint8_t *)refcount_array)[index] = value;
}

static uint64_t get_refcount_ro4(const void *refcount_array, uint64_t index)
{
    return be16_to_cpu(((const uint16_t *)refcount_array)[index]);
}

static void set_refcount_ro4(void *refcount_array, uint64_t index,
                             uint64_t value)
{
    assert(!(value >> 16));
    ((uint16_t *)refcount_array)[index] = cpu_to_be16(value);
}

static uint64_t get_refcount_ro5(const void *refcount_array, uint64_t index)
{
    return be32_to_cpu(((const uint32_t *)refcount_array)[index]);
}

static void set_refcount_ro5(void *refcount_array, uint64_t index,
                             uint64_t value)
{
    assert(!(value >> 32));
    ((uint32_t *)refcount_array)[index] = cpu_to_be32(value);
}

static uint64_t get_refcount_ro6(const void *refcount_array, uint64_t index)
{
    return be64_to_cpu(((const uint64_t *)refcount_array)[index]);
}

static void set_refcount_ro6(void *refcount_array, uint64_t index,
                             uint64_t value)
{
    ((uint64_t *)refcount_array)[index] = cpu_to_be64(value);
}

static Qcow2GetRefcountFunc *const get_refcount_funcs[] = {
    get_refcount_ro0, get_refcount_ro1, get_refcount_ro2, get_refcount_ro3,
    get_refcount_ro4, get_refcount_ro5, get_refcount_ro6,
};

static Qcow2SetRefcountFunc *const set_refcount_funcs[] = {
    set_refcount_ro0, set_refcount_ro1, set_refcount_ro2, set_refcount_ro3,
    set_refcount_ro4, set_refcount_ro5, set_refcount_ro6,
};

Qcow2GetRefcountFunc *qcow2_get_refcount_func(int refcount_order)
{
    assert(refcount_order >= 0 && refcount_order <= 6);
    return get_refcount_funcs[refcount_order];
}

Qcow2SetRefcountFunc *qcow2_set_refcount_func(int refcount_order)
{
    assert(refcount_order >= 0 && refcount_order <= 6);
    return set_refcount_funcs[refcount_order];
}

/* ---- The refcount table ---- */

static void update_max_refcount_table_index(BDRVQcow2State *s)
{
    unsigned i = s->refcount_table_size;

    /* Index 0 even when the table is empty: the overlap checks start there */
    while (i > 1 && !(s->refcount_table[i - 1] & REFT_OFFSET_MASK)) {
        i--;
    }
    s->max_refcount_table_index = i ? i - 1 : 0;
}

/*
 * Load the refcount table.  The caller (open) has validated its offset and
 * size and set refcount_order; entries are checked when used and by check.
 */
int qcow2_refcount_init(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    size_t table_bytes;
    int ret;

    s->get_refcount = qcow2_get_refcount_func(s->refcount_order);
    s->set_refcount = qcow2_set_refcount_func(s->refcount_order);

    assert(s->refcount_table_size <= INT_MAX / REFTABLE_ENTRY_SIZE);
    table_bytes = s->refcount_table_size * REFTABLE_ENTRY_SIZE;
    s->refcount_table = g_try_malloc(table_bytes);
    s->max_refcount_table_index = 0;
    if (s->refcount_table_size == 0) {
        return 0;
    }
    if (!s->refcount_table) {
        return -ENOMEM;
    }

    BLKDBG_EVENT(bs->file, BLKDBG_REFTABLE_LOAD);
    ret = bdrv_pread(bs->file, s->refcount_table_offset, table_bytes,
                     s->refcount_table, 0);
    if (ret < 0) {
        g_free(s->refcount_table);
        s->refcount_table = NULL;
        return ret;
    }
    for (uint32_t i = 0; i < s->refcount_table_size; i++) {
        s->refcount_table[i] = be64_to_cpu(s->refcount_table[i]);
    }
    update_max_refcount_table_index(s);
    return 0;
}

void qcow2_refcount_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    g_free(s->refcount_table);
    s->refcount_table = NULL;
}

static inline uint64_t offset_to_reftable_index(BDRVQcow2State *s,
                                                uint64_t offset)
{
    return offset >> (s->refcount_block_bits + s->cluster_bits);
}

/* Do host offsets a and b have their refcounts in the same block? */
static bool in_same_refcount_block(BDRVQcow2State *s, uint64_t a, uint64_t b)
{
    return offset_to_reftable_index(s, a) == offset_to_reftable_index(s, b);
}

static int load_refcount_block(BlockDriverState *bs, int64_t offset,
                               void **refcount_block)
{
    BDRVQcow2State *s = bs->opaque;

    BLKDBG_EVENT(bs->file, BLKDBG_REFBLOCK_LOAD);
    return qcow2_cache_get(bs, s->refcount_block_cache, offset,
                           refcount_block);
}

int qcow2_get_refcount(BlockDriverState *bs, int64_t cluster_index,
                       uint64_t *refcount)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t table_index = cluster_index >> s->refcount_block_bits;
    uint64_t block_offset;
    void *block;
    int ret;

    /* Clusters past the structures have no refcount block: they are free */
    if (table_index >= s->refcount_table_size) {
        *refcount = 0;
        return 0;
    }
    block_offset = s->refcount_table[table_index] & REFT_OFFSET_MASK;
    if (!block_offset) {
        *refcount = 0;
        return 0;
    }
    if (offset_into_cluster(s, block_offset)) {
        qcow2_signal_corruption(bs, true, -1, -1, "Refblock offset %#" PRIx64
                                " unaligned (reftable index: %#" PRIx64 ")",
                                block_offset, table_index);
        return -EIO;
    }

    ret = load_refcount_block(bs, block_offset, &block);
    if (ret < 0) {
        return ret;
    }
    *refcount = s->get_refcount(block,
                                cluster_index & (s->refcount_block_size - 1));
    qcow2_cache_put(s->refcount_block_cache, &block);
    return 0;
}

/* ---- Growing the refcount structures ---- */

int64_t qcow2_refcount_metadata_size(int64_t clusters, size_t cluster_size,
                                     int refcount_order,
                                     bool generous_increase,
                                     uint64_t *refblock_count)
{
    int64_t entries_per_block = cluster_size * 8 >> refcount_order;
    int64_t blocks_per_table_cluster = cluster_size / REFTABLE_ENTRY_SIZE;
    int64_t blocks = 0;
    int64_t table = 0;
    int64_t total = 0;
    int64_t prev;

    /*
     * The metadata must count itself, so iterate until the number of
     * clusters (data + refblocks + reftable) stops changing.  The generous
     * variant then adds half the reftable's size once, for growth.
     */
    do {
        prev = total;
        blocks = DIV_ROUND_UP(clusters + table + blocks, entries_per_block);
        table = DIV_ROUND_UP(blocks, blocks_per_table_cluster);
        total = clusters + blocks + table;
        if (total == prev && generous_increase) {
            generous_increase = false;
            clusters += DIV_ROUND_UP(table, 2);
            total = 0;
        }
    } while (total != prev);

    if (refblock_count) {
        *refblock_count = blocks;
    }
    return (blocks + table) * cluster_size;
}

/*
 * Create a new refcount table, and the refcount blocks missing from it,
 * at start_offset (the first free cluster past the end of everything),
 * covering the image plus additional_clusters plus the new structures
 * themselves.  new_refblock_offset, if not 0, is a refblock the caller has
 * allocated for reftable index new_refblock_index and not yet hooked up.
 * The header is switched to the new table and the old one freed.
 * Returns the end offset of the new structures, or -errno.
 */
int64_t qcow2_refcount_area(BlockDriverState *bs, uint64_t start_offset,
                            uint64_t additional_clusters, bool exact_size,
                            int new_refblock_index,
                            uint64_t new_refblock_offset)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t nb_refblocks64;
    int nb_refblocks;
    int first_area_index;
    uint64_t table_entries;
    uint64_t table_clusters;
    uint64_t new_blocks = 0;
    uint64_t table_offset, end_offset, block_offset;
    uint64_t old_table_offset, old_table_size;
    g_autofree uint64_t *new_table = NULL;
    struct QEMU_PACKED {
        uint64_t reftable_offset;
        uint32_t reftable_clusters;
    } hdr;
    int ret;

    assert(!offset_into_cluster(s, start_offset));

    qcow2_refcount_metadata_size(start_offset / s->cluster_size +
                                 additional_clusters, s->cluster_size,
                                 s->refcount_order, !exact_size,
                                 &nb_refblocks64);
    if (nb_refblocks64 > QCOW_MAX_REFTABLE_SIZE) {
        return -EFBIG;
    }
    nb_refblocks = nb_refblocks64;

    /* The reftable entry of the refblock covering start_offset */
    first_area_index = (start_offset / s->cluster_size) /
                       s->refcount_block_size;

    /* Leave room for half as many refblocks again unless exact */
    table_entries = nb_refblocks;
    if (!exact_size) {
        table_entries += DIV_ROUND_UP(nb_refblocks, 2);
    }
    /* The header counts the table in clusters */
    table_entries = ROUND_UP(table_entries,
                             s->cluster_size / REFTABLE_ENTRY_SIZE);
    table_clusters = table_entries * REFTABLE_ENTRY_SIZE / s->cluster_size;
    if (table_entries > QCOW_MAX_REFTABLE_SIZE) {
        return -EFBIG;
    }
    assert(table_entries > 0);

    new_table = g_try_new0(uint64_t, table_entries);
    if (!new_table) {
        return -ENOMEM;
    }
    /*
     * Keep the existing refblocks.  When the new table is smaller (only
     * ever possible with exact_size), the caller guarantees that nothing
     * past start_offset is in use, so the refblocks cut off are unused.
     */
    if (s->refcount_table_size) {
        memcpy(new_table, s->refcount_table,
               MIN(table_entries, s->max_refcount_table_index + 1) *
               REFTABLE_ENTRY_SIZE);
    }
    if (new_refblock_offset) {
        assert(new_refblock_index < nb_refblocks);
        new_table[new_refblock_index] = new_refblock_offset;
    }

    /* New refblocks go at start_offset, the table right after them */
    for (int i = first_area_index; i < nb_refblocks; i++) {
        if (!new_table[i]) {
            new_blocks++;
        }
    }
    table_offset = start_offset + new_blocks * s->cluster_size;
    end_offset = table_offset + table_clusters * s->cluster_size;

    /*
     * Create the missing refblocks and give every cluster of the new
     * structures a refcount of 1.
     */
    block_offset = start_offset;
    for (int i = first_area_index; i < nb_refblocks; i++) {
        uint64_t covered_start = (uint64_t)i * s->refcount_block_size *
                                 s->cluster_size;
        void *block;

        if (new_table[i]) {
            ret = qcow2_cache_get(bs, s->refcount_block_cache, new_table[i],
                                  &block);
            if (ret < 0) {
                return ret;
            }
        } else {
            ret = qcow2_cache_get_empty(bs, s->refcount_block_cache,
                                        block_offset, &block);
            if (ret < 0) {
                return ret;
            }
            memset(block, 0, s->cluster_size);
            qcow2_cache_entry_mark_dirty(s->refcount_block_cache, block);
            new_table[i] = block_offset;
            block_offset += s->cluster_size;
        }

        if (covered_start < end_offset) {
            uint64_t j = 0;
            uint64_t end_index;

            if (covered_start < start_offset) {
                assert(i == first_area_index);
                j = (start_offset - covered_start) / s->cluster_size;
            }
            end_index = MIN((end_offset - covered_start) / s->cluster_size,
                            (uint64_t)s->refcount_block_size);
            for (; j < end_index; j++) {
                /* The caller promised that this area is free */
                assert(s->get_refcount(block, j) == 0);
                s->set_refcount(block, j, 1);
            }
            qcow2_cache_entry_mark_dirty(s->refcount_block_cache, block);
        }
        qcow2_cache_put(s->refcount_block_cache, &block);
    }
    assert(block_offset == table_offset);

    /* Refblocks first, then the table, then the header points to it */
    BLKDBG_EVENT(bs->file, BLKDBG_REFBLOCK_ALLOC_WRITE_BLOCKS);
    ret = qcow2_cache_flush(bs, s->refcount_block_cache);
    if (ret < 0) {
        return ret;
    }

    for (uint64_t i = 0; i < table_entries; i++) {
        new_table[i] = cpu_to_be64(new_table[i]);
    }
    BLKDBG_EVENT(bs->file, BLKDBG_REFBLOCK_ALLOC_WRITE_TABLE);
    ret = bdrv_pwrite_sync(bs->file, table_offset,
                           table_entries * REFTABLE_ENTRY_SIZE, new_table, 0);
    for (uint64_t i = 0; i < table_entries; i++) {
        new_table[i] = be64_to_cpu(new_table[i]);
    }
    if (ret < 0) {
        return ret;
    }

    hdr.reftable_offset = cpu_to_be64(table_offset);
    hdr.reftable_clusters = cpu_to_be32(table_clusters);
    BLKDBG_EVENT(bs->file, BLKDBG_REFBLOCK_ALLOC_SWITCH_TABLE);
    ret = bdrv_pwrite_sync(bs->file,
                           offsetof(QCowHeader, refcount_table_offset),
                           sizeof(hdr), &hdr, 0);
    if (ret < 0) {
        return ret;
    }

    old_table_offset = s->refcount_table_offset;
    old_table_size = s->refcount_table_size;
    g_free(s->refcount_table);
    s->refcount_table = g_steal_pointer(&new_table);
    s->refcount_table_size = table_entries;
    s->refcount_table_offset = table_offset;
    update_max_refcount_table_index(s);

    qcow2_free_clusters(bs, old_table_offset,
                        old_table_size * REFTABLE_ENTRY_SIZE,
                        QCOW2_DISCARD_OTHER);
    return end_offset;
}

/*
 * Get the refcount block for cluster_index into *refcount_block, creating
 * it if there is none.  Returns 0 when the block already existed; after
 * creating one (which may take the clusters the caller was about to use,
 * and may move the refcount table) returns -EAGAIN with *refcount_block
 * set or NULL, and the caller must search for free clusters again.
 */
static int alloc_refcount_block(BlockDriverState *bs, int64_t cluster_index,
                                void **refcount_block)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t table_index = cluster_index >> s->refcount_block_bits;
    uint64_t blocks_used;
    int64_t new_block;
    int64_t ret;

    BLKDBG_EVENT(bs->file, BLKDBG_REFBLOCK_ALLOC);

    if (table_index < s->refcount_table_size) {
        uint64_t offset = s->refcount_table[table_index] & REFT_OFFSET_MASK;

        if (offset) {
            if (offset_into_cluster(s, offset)) {
                qcow2_signal_corruption(bs, true, -1, -1, "Refblock offset %#"
                                        PRIx64 " unaligned (reftable index: "
                                        "%#" PRIx64 ")", offset, table_index);
                return -EIO;
            }
            return load_refcount_block(bs, offset, refcount_block);
        }
    }

    /*
     * A new refblock is needed.  Pending L2 updates go to disk before the
     * refcount structures change shape, which keeps the on-disk order
     * safe whatever happens next.
     */
    *refcount_block = NULL;
    ret = qcow2_cache_flush(bs, s->l2_table_cache);
    if (ret < 0) {
        return ret;
    }

    new_block = alloc_clusters_noref(bs, s->cluster_size, INT64_MAX);
    if (new_block < 0) {
        return new_block;
    }
    assert((new_block & REFT_OFFSET_MASK) == new_block);
    if (new_block == 0) {
        qcow2_signal_corruption(bs, true, -1, -1, "Preventing invalid "
                                "allocation of refcount block at offset 0");
        return -EIO;
    }

    if (in_same_refcount_block(s, new_block,
                               cluster_index << s->cluster_bits)) {
        /* The new block covers itself: count it in the block directly */
        ret = qcow2_cache_get_empty(bs, s->refcount_block_cache, new_block,
                                    refcount_block);
        if (ret < 0) {
            goto fail;
        }
        memset(*refcount_block, 0, s->cluster_size);
        s->set_refcount(*refcount_block,
                        (new_block >> s->cluster_bits) &
                        (s->refcount_block_size - 1), 1);
    } else {
        /*
         * Another refblock counts it.  That one may have to be created
         * too, but it will cover itself, so the recursion is shallow.
         */
        ret = update_refcount(bs, new_block, s->cluster_size, 1, false,
                              QCOW2_DISCARD_NEVER);
        if (ret < 0) {
            goto fail;
        }
        ret = qcow2_cache_flush(bs, s->refcount_block_cache);
        if (ret < 0) {
            goto fail;
        }
        /* Only now: update_refcount used the cache itself */
        ret = qcow2_cache_get_empty(bs, s->refcount_block_cache, new_block,
                                    refcount_block);
        if (ret < 0) {
            goto fail;
        }
        memset(*refcount_block, 0, s->cluster_size);
    }

    /* The block must be on disk before the table points to it */
    BLKDBG_EVENT(bs->file, BLKDBG_REFBLOCK_ALLOC_WRITE);
    qcow2_cache_entry_mark_dirty(s->refcount_block_cache, *refcount_block);
    ret = qcow2_cache_flush(bs, s->refcount_block_cache);
    if (ret < 0) {
        goto fail;
    }

    if (table_index < s->refcount_table_size) {
        uint64_t entry = cpu_to_be64(new_block);

        /* The table has room: hook the block up */
        BLKDBG_EVENT(bs->file, BLKDBG_REFBLOCK_ALLOC_HOOKUP);
        ret = bdrv_pwrite_sync(bs->file, s->refcount_table_offset +
                               table_index * REFTABLE_ENTRY_SIZE,
                               sizeof(entry), &entry, 0);
        if (ret < 0) {
            goto fail;
        }
        s->refcount_table[table_index] = new_block;
        /* The table may have holes, so this is not always an increase */
        s->max_refcount_table_index = MAX(s->max_refcount_table_index,
                                          table_index);
        return -EAGAIN;
    }

    qcow2_cache_put(s->refcount_block_cache, refcount_block);

    /*
     * The table is too small.  Build a bigger one, with refblocks for
     * itself, past everything the refcounts cover so far: past
     * cluster_index (nothing from there on has refcounts yet) and past
     * new_block, which becomes the refblock of table_index.
     */
    BLKDBG_EVENT(bs->file, BLKDBG_REFTABLE_GROW);
    blocks_used = DIV_ROUND_UP(MAX(cluster_index + 1,
                                   (new_block >> s->cluster_bits) + 1),
                               s->refcount_block_size);
    ret = qcow2_refcount_area(bs, blocks_used * s->refcount_block_size *
                              s->cluster_size, 0, false, table_index,
                              new_block);
    if (ret < 0) {
        return ret;
    }
    ret = load_refcount_block(bs, new_block, refcount_block);
    if (ret < 0) {
        return ret;
    }
    /* The new structures may sit where the caller meant to allocate */
    return -EAGAIN;

fail:
    if (*refcount_block) {
        qcow2_cache_put(s->refcount_block_cache, refcount_block);
    }
    return ret;
}

/* ---- Discards of freed clusters ---- */

/* Queue [offset, offset + length) for discarding, merging adjacent ranges */
static void update_refcount_discard(BlockDriverState *bs, uint64_t offset,
                                    uint64_t length)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DiscardRegion *d, *p, *next;

    QTAILQ_FOREACH(d, &s->discards, next) {
        uint64_t start = MIN(offset, d->offset);
        uint64_t end = MAX(offset + length, d->offset + d->bytes);

        if (end - start <= length + d->bytes) {
            /* Touching, never overlapping: freed clusters are free once */
            assert(end - start == length + d->bytes);
            d->offset = start;
            d->bytes = end - start;
            goto merge;
        }
    }

    d = g_new(Qcow2DiscardRegion, 1);
    d->offset = offset;
    d->bytes = length;
    QTAILQ_INSERT_TAIL(&s->discards, d, next);

merge:
    /* d may now touch other queued ranges */
    QTAILQ_FOREACH_SAFE(p, &s->discards, next, next) {
        if (p == d || p->offset > d->offset + d->bytes ||
            d->offset > p->offset + p->bytes) {
            continue;
        }
        assert(p->offset == d->offset + d->bytes ||
               d->offset == p->offset + p->bytes);
        QTAILQ_REMOVE(&s->discards, p, next);
        d->offset = MIN(d->offset, p->offset);
        d->bytes += p->bytes;
        g_free(p);
    }
}

/*
 * Pass the queued discards to bs->file, unless the operation that freed
 * the clusters failed (ret < 0); empty the queue in both cases.
 */
void qcow2_process_discards(BlockDriverState *bs, int ret)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DiscardRegion *d, *next;

    QTAILQ_FOREACH_SAFE(d, &s->discards, next, next) {
        QTAILQ_REMOVE(&s->discards, d, next);
        if (ret >= 0) {
            /* Discarding is advisory: a failure changes nothing */
            bdrv_pdiscard(bs->file, d->offset, d->bytes);
        }
        g_free(d);
    }
}

/* ---- Updating refcounts ---- */

/*
 * Add addend to (or with decrease, subtract it from) the refcount of every
 * cluster that [offset, offset + length) touches, creating refcount blocks
 * as needed.  On failure, including -EAGAIN after a refblock was created,
 * the clusters updated so far are restored.
 */
static int update_refcount(BlockDriverState *bs, int64_t offset,
                           int64_t length, uint64_t addend, bool decrease,
                           enum qcow2_discard_type type)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t start, last, cluster_offset;
    int64_t old_table_index = -1;
    void *block = NULL;
    int ret = 0;

    if (length < 0) {
        return -EINVAL;
    } else if (length == 0) {
        return 0;
    }

    if (decrease) {
        /* A freed cluster must not be reused before its L2 entry is gone */
        qcow2_cache_set_dependency(bs, s->refcount_block_cache,
                                   s->l2_table_cache);
    }

    start = start_of_cluster(s, offset);
    last = start_of_cluster(s, offset + length - 1);
    for (cluster_offset = start; cluster_offset <= last;
         cluster_offset += s->cluster_size) {
        int64_t cluster_index = cluster_offset >> s->cluster_bits;
        int64_t table_index = cluster_index >> s->refcount_block_bits;
        uint64_t block_index;
        uint64_t refcount;

        if (table_index != old_table_index) {
            if (block) {
                qcow2_cache_put(s->refcount_block_cache, &block);
            }
            ret = alloc_refcount_block(bs, cluster_index, &block);
            if (ret == -EAGAIN &&
                s->free_cluster_index > (uint64_t)(start >> s->cluster_bits)) {
                /* The caller searches again: try these clusters first */
                s->free_cluster_index = start >> s->cluster_bits;
            }
            if (ret < 0) {
                goto fail;
            }
        }
        old_table_index = table_index;

        qcow2_cache_entry_mark_dirty(s->refcount_block_cache, block);

        block_index = cluster_index & (s->refcount_block_size - 1);
        refcount = s->get_refcount(block, block_index);
        if (decrease ? refcount < addend
                     : (refcount + addend < refcount ||
                        refcount + addend > s->refcount_max)) {
            ret = -EINVAL;
            goto fail;
        }
        refcount = decrease ? refcount - addend : refcount + addend;
        if (refcount == 0 && cluster_index < s->free_cluster_index) {
            s->free_cluster_index = cluster_index;
        }
        s->set_refcount(block, block_index, refcount);

        if (refcount == 0) {
            void *table;

            /* Tables cached for the freed cluster are stale now */
            table = qcow2_cache_is_table_offset(s->refcount_block_cache,
                                                cluster_offset);
            if (table) {
                qcow2_cache_put(s->refcount_block_cache, &block);
                old_table_index = -1;
                qcow2_cache_discard(s->refcount_block_cache, table);
            }
            table = qcow2_cache_is_table_offset(s->l2_table_cache,
                                                cluster_offset);
            if (table) {
                qcow2_cache_discard(s->l2_table_cache, table);
            }
            if (s->discard_passthrough[type]) {
                update_refcount_discard(bs, cluster_offset, s->cluster_size);
            }
            if (s->free_byte_offset &&
                start_of_cluster(s, s->free_byte_offset) == cluster_offset) {
                s->free_byte_cluster_freed = true;
            }
        }
    }
    ret = 0;

fail:
    if (!s->cache_discards) {
        qcow2_process_discards(bs, ret);
    }
    if (block) {
        qcow2_cache_put(s->refcount_block_cache, &block);
    }
    if (ret < 0) {
        /* Best effort: undo what was done (ENOSPC may well succeed) */
        update_refcount(bs, offset, cluster_offset - offset, addend,
                        !decrease, QCOW2_DISCARD_NEVER);
    }
    return ret;
}

/* ---- Allocation ---- */

/*
 * Find size bytes of free clusters, first fit from free_cluster_index,
 * without taking a reference.  Returns the host offset, or -EFBIG if the
 * range would end past max.
 */
static int64_t alloc_clusters_noref(BlockDriverState *bs, uint64_t size,
                                    uint64_t max)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t nb_clusters = size_to_clusters(s, size);
    uint64_t found = 0;

    /* Clusters still queued for discard must not be handed out */
    if (s->cache_discards) {
        qcow2_process_discards(bs, 0);
    }

    while (found < nb_clusters) {
        uint64_t refcount;
        int ret = qcow2_get_refcount(bs, s->free_cluster_index++, &refcount);

        if (ret < 0) {
            return ret;
        }
        found = refcount ? 0 : found + 1;
    }

    if (s->free_cluster_index > 0 &&
        s->free_cluster_index - 1 > (max >> s->cluster_bits)) {
        return -EFBIG;
    }
    return (s->free_cluster_index - nb_clusters) << s->cluster_bits;
}

int64_t qcow2_alloc_clusters(BlockDriverState *bs, uint64_t size)
{
    int64_t offset;
    int ret;

    BLKDBG_EVENT(bs->file, BLKDBG_CLUSTER_ALLOC);
    do {
        offset = alloc_clusters_noref(bs, size, QCOW_MAX_CLUSTER_OFFSET);
        if (offset < 0) {
            return offset;
        }
        ret = update_refcount(bs, offset, size, 1, false,
                              QCOW2_DISCARD_NEVER);
    } while (ret == -EAGAIN);

    return ret < 0 ? ret : offset;
}

/*
 * Allocate up to nb_clusters clusters starting exactly at offset: as many
 * as are free there in a row.  Returns their number, or -errno.
 */
int64_t qcow2_alloc_clusters_at(BlockDriverState *bs, uint64_t offset,
                                int64_t nb_clusters)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t i;
    int ret;

    assert(nb_clusters >= 0);
    if (nb_clusters == 0) {
        return 0;
    }

    do {
        uint64_t cluster_index = offset >> s->cluster_bits;

        for (i = 0; i < nb_clusters; i++) {
            uint64_t refcount;

            ret = qcow2_get_refcount(bs, cluster_index + i, &refcount);
            if (ret < 0) {
                return ret;
            }
            if (refcount != 0) {
                break;
            }
        }
        ret = update_refcount(bs, offset, i << s->cluster_bits, 1, false,
                              QCOW2_DISCARD_NEVER);
    } while (ret == -EAGAIN);

    return ret < 0 ? ret : i;
}

/*
 * Allocate size bytes for compressed data.  Compressed clusters share
 * host clusters: s->free_byte_offset is where the last one ended, and each
 * host cluster touched gets one reference per compressed cluster in it.
 */
int64_t qcow2_alloc_bytes(BlockDriverState *bs, int size)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t offset = s->free_byte_offset;
    size_t free_in_cluster;
    int ret;

    BLKDBG_EVENT(bs->file, BLKDBG_CLUSTER_ALLOC_BYTES);
    assert(size > 0 && size <= s->cluster_size);
    assert(!offset || offset_into_cluster(s, offset));

    if (offset) {
        uint64_t refcount;

        ret = qcow2_get_refcount(bs, offset >> s->cluster_bits, &refcount);
        if (ret < 0) {
            return ret;
        }
        /*
         * Start a new cluster when this one has no room for another
         * reference, or was freed and has been reused since.  (QEMU 7.2
         * appends to a reused cluster too, over its new owner's data.)
         */
        if (refcount == s->refcount_max ||
            (s->free_byte_cluster_freed && refcount != 0)) {
            offset = 0;
        }
    }

    free_in_cluster = s->cluster_size - offset_into_cluster(s, offset);
    do {
        if (!offset || free_in_cluster < size) {
            int64_t new_cluster = alloc_clusters_noref(
                bs, s->cluster_size,
                MIN(s->cluster_offset_mask, QCOW_MAX_CLUSTER_OFFSET));

            if (new_cluster < 0) {
                return new_cluster;
            }
            if (new_cluster == 0) {
                qcow2_signal_corruption(bs, true, -1, -1, "Preventing invalid "
                                        "allocation of compressed cluster at "
                                        "offset 0");
                return -EIO;
            }
            if (offset && ROUND_UP(offset, s->cluster_size) == new_cluster) {
                /* The next cluster is free: continue into it */
                free_in_cluster += s->cluster_size;
            } else {
                offset = new_cluster;
                free_in_cluster = s->cluster_size;
            }
        }

        assert(offset);
        ret = update_refcount(bs, offset, size, 1, false,
                              QCOW2_DISCARD_NEVER);
        if (ret < 0) {
            offset = 0;
        }
    } while (ret == -EAGAIN);
    if (ret < 0) {
        return ret;
    }

    /* The L2 entry must not reach the disk before the new refcount */
    qcow2_cache_set_dependency(bs, s->l2_table_cache,
                               s->refcount_block_cache);

    s->free_byte_offset = offset + size;
    s->free_byte_cluster_freed = false;
    if (!offset_into_cluster(s, s->free_byte_offset)) {
        s->free_byte_offset = 0;
    }
    return offset;
}

void qcow2_free_clusters(BlockDriverState *bs, int64_t offset, int64_t size,
                         enum qcow2_discard_type type)
{
    int ret;

    BLKDBG_EVENT(bs->file, BLKDBG_CLUSTER_FREE);
    ret = update_refcount(bs, offset, size, 1, true, type);
    if (ret < 0) {
        /* The clusters leak; check -r leaks can recover them */
        fprintf(stderr, "qcow2_free_clusters failed: %s\n", strerror(-ret));
    }
}

/* Drop the reference an L2 entry holds, whatever kind of entry it is. */
void qcow2_free_any_cluster(BlockDriverState *bs, uint64_t l2_entry,
                            enum qcow2_discard_type type)
{
    BDRVQcow2State *s = bs->opaque;
    QCow2ClusterType ctype = qcow2_get_cluster_type(bs, l2_entry);
    uint64_t host = l2_entry & L2E_OFFSET_MASK;

    if (has_data_file(bs)) {
        /* Data clusters of a data file have no refcounts */
        if (s->discard_passthrough[type] &&
            (ctype == QCOW2_CLUSTER_NORMAL ||
             ctype == QCOW2_CLUSTER_ZERO_ALLOC)) {
            bdrv_pdiscard(s->data_file, host, s->cluster_size);
        }
        return;
    }

    switch (ctype) {
    case QCOW2_CLUSTER_COMPRESSED: {
        uint64_t coffset;
        int csize;

        qcow2_parse_compressed_l2_entry(bs, l2_entry, &coffset, &csize);
        qcow2_free_clusters(bs, coffset, csize, type);
        break;
    }
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        if (offset_into_cluster(s, host)) {
            qcow2_signal_corruption(bs, false, -1, -1, "Cannot free unaligned "
                                    "cluster %#" PRIx64, host);
        } else {
            qcow2_free_clusters(bs, host, s->cluster_size, type);
        }
        break;
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_UNALLOCATED:
        break;
    }
}

/* ---- Writing the caches ---- */

int qcow2_write_caches(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    ret = qcow2_cache_write(bs, s->l2_table_cache);
    if (ret < 0) {
        return ret;
    }
    /* With lazy refcounts (dirty bit set), refcounts are written later */
    if (qcow2_need_accurate_refcounts(s)) {
        ret = qcow2_cache_write(bs, s->refcount_block_cache);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

int qcow2_flush_caches(BlockDriverState *bs)
{
    int ret = qcow2_write_caches(bs);

    if (ret < 0) {
        return ret;
    }
    return bdrv_flush(bs->file->bs);
}

/* ---- Shrinking ---- */

/*
 * The index of the last cluster in use among the first size bytes of the
 * host file, or -errno.
 */
int64_t qcow2_get_last_cluster(BlockDriverState *bs, int64_t size)
{
    BDRVQcow2State *s = bs->opaque;

    for (int64_t i = size_to_clusters(s, size) - 1; i >= 0; i--) {
        uint64_t refcount;
        int ret = qcow2_get_refcount(bs, i, &refcount);

        if (ret < 0) {
            fprintf(stderr, "Can't get refcount for cluster %" PRId64 ": %s\n",
                    i, strerror(-ret));
            return ret;
        }
        if (refcount > 0) {
            return i;
        }
    }
    qcow2_signal_corruption(bs, true, -1, -1,
                            "There are no references in the refcount table.");
    return -EIO;
}

/* The refblock covering host offset, or -EIO (corruption) if none does. */
static int64_t get_refblock_offset(BlockDriverState *bs, uint64_t offset)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t index = offset_to_reftable_index(s, offset);
    int64_t block = 0;

    if (index < s->refcount_table_size) {
        block = s->refcount_table[index] & REFT_OFFSET_MASK;
    }
    if (!block) {
        qcow2_signal_corruption(bs, true, -1, -1, "Refblock at %#" PRIx64
                                " is not covered by the refcount structures",
                                offset);
        return -EIO;
    }
    return block;
}

/* Drop the reference of an unused refblock (whose table entry is gone). */
static int qcow2_discard_refcount_block(BlockDriverState *bs,
                                        uint64_t discard_block_offs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cluster_index = discard_block_offs >> s->cluster_bits;
    uint64_t block_index = cluster_index & (s->refcount_block_size - 1);
    int64_t covering;
    uint64_t refcount;
    void *block;
    int ret;

    covering = get_refblock_offset(bs, discard_block_offs);
    if (covering < 0) {
        return covering;
    }
    assert(discard_block_offs != 0);

    ret = qcow2_cache_get(bs, s->refcount_block_cache, covering, &block);
    if (ret < 0) {
        return ret;
    }
    refcount = s->get_refcount(block, block_index);
    if (refcount != 1) {
        qcow2_signal_corruption(bs, true, -1, -1, "Invalid refcount: refblock "
                                "offset %#" PRIx64 ", reftable index %u"
                                ", block offset %#" PRIx64 ", refcount %#"
                                PRIx64, covering,
                                (unsigned)offset_to_reftable_index(
                                    s, discard_block_offs),
                                discard_block_offs, refcount);
        qcow2_cache_put(s->refcount_block_cache, &block);
        return -EINVAL;
    }
    s->set_refcount(block, block_index, 0);
    qcow2_cache_entry_mark_dirty(s->refcount_block_cache, block);
    qcow2_cache_put(s->refcount_block_cache, &block);

    if (cluster_index < s->free_cluster_index) {
        s->free_cluster_index = cluster_index;
    }
    block = qcow2_cache_is_table_offset(s->refcount_block_cache,
                                        discard_block_offs);
    if (block) {
        qcow2_cache_discard(s->refcount_block_cache, block);
    }
    update_refcount_discard(bs, discard_block_offs, s->cluster_size);
    return 0;
}

/*
 * After a shrink: drop the refblocks that count nothing but (possibly)
 * themselves from the refcount table and free them.
 */
int qcow2_shrink_reftable(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint64_t *new_table =
        g_new(uint64_t, s->refcount_table_size);
    int ret;

    for (uint32_t i = 0; i < s->refcount_table_size; i++) {
        uint64_t block_offset = s->refcount_table[i] & REFT_OFFSET_MASK;
        void *block;
        bool unused;

        if (!block_offset) {
            new_table[i] = 0;
            continue;
        }
        ret = qcow2_cache_get(bs, s->refcount_block_cache, block_offset,
                              &block);
        if (ret < 0) {
            return ret;
        }
        if (offset_to_reftable_index(s, block_offset) == i) {
            /* The block counts itself: ignore that one reference */
            uint64_t self = (block_offset >> s->cluster_bits) &
                            (s->refcount_block_size - 1);
            uint64_t refcount = s->get_refcount(block, self);

            s->set_refcount(block, self, 0);
            unused = buffer_is_zero(block, s->cluster_size);
            s->set_refcount(block, self, refcount);
        } else {
            unused = buffer_is_zero(block, s->cluster_size);
        }
        qcow2_cache_put(s->refcount_block_cache, &block);

        new_table[i] = unused ? 0 : cpu_to_be64(s->refcount_table[i]);
    }

    ret = bdrv_pwrite_sync(bs->file, s->refcount_table_offset,
                           s->refcount_table_size * REFTABLE_ENTRY_SIZE,
                           new_table, 0);
    /*
     * Even if the write failed, the table on disk may be partly new:
     * forget the dropped blocks in memory too, so they are never used.
     */
    for (uint32_t i = 0; i < s->refcount_table_size; i++) {
        if (s->refcount_table[i] && !new_table[i]) {
            if (ret == 0) {
                ret = qcow2_discard_refcount_block(
                    bs, s->refcount_table[i] & REFT_OFFSET_MASK);
            }
            s->refcount_table[i] = 0;
        }
    }
    update_max_refcount_table_index(s);

    if (!s->cache_discards) {
        qcow2_process_discards(bs, ret);
    }
    return ret;
}

/*
 * Does the image look metadata-preallocated: clearly more clusters in use
 * than the host file really allocates?  1 if so, 0 if not, or -errno.
 */
int coroutine_fn qcow2_detect_metadata_preallocation(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t file_length, real_allocation, real_clusters, threshold;
    int64_t nb_clusters, in_use = 0;

    qemu_co_mutex_assert_locked(&s->lock);

    file_length = bdrv_getlength(bs->file->bs);
    if (file_length < 0) {
        return file_length;
    }
    real_allocation = bdrv_get_allocated_file_size(bs->file->bs);
    if (real_allocation < 0) {
        return real_allocation;
    }

    nb_clusters = size_to_clusters(s, file_length);
    for (int64_t i = 0; i < nb_clusters; i++) {
        uint64_t refcount;
        int ret = qcow2_get_refcount(bs, i, &refcount);

        if (ret < 0) {
            return ret;
        }
        in_use += refcount != 0;
    }

    real_clusters = real_allocation / s->cluster_size;
    threshold = MAX(real_clusters * 10 / 9, real_clusters + 2);
    return in_use >= threshold;
}

/* ---- Metadata overlap checks ---- */

static bool overlaps(uint64_t a_offset, uint64_t a_size, uint64_t b_offset,
                     uint64_t b_size)
{
    return a_size && b_size && a_offset < b_offset + b_size &&
           b_offset < a_offset + a_size;
}

/* Does [offset, offset + size) hit an inactive (snapshot) L2 table? */
static int check_inactive_l2_overlap(BlockDriverState *bs, int64_t offset,
                                     int64_t size)
{
    BDRVQcow2State *s = bs->opaque;

    for (unsigned i = 0; i < s->nb_snapshots; i++) {
        uint64_t l1_offset = s->snapshots[i].l1_table_offset;
        uint32_t l1_size = s->snapshots[i].l1_size;
        g_autofree uint64_t *l1 = NULL;
        int ret;

        if (!l1_size) {
            continue;
        }
        /* Not validated at open (as in QEMU): check before reading it */
        ret = qcow2_validate_table(bs, l1_offset, l1_size, L1E_SIZE,
                                   QCOW_MAX_L1_SIZE, "", NULL);
        if (ret < 0) {
            return ret;
        }
        l1 = g_try_new(uint64_t, l1_size);
        if (!l1) {
            return -ENOMEM;
        }
        ret = bdrv_pread(bs->file, l1_offset, l1_size * L1E_SIZE, l1, 0);
        if (ret < 0) {
            return ret;
        }
        for (uint32_t j = 0; j < l1_size; j++) {
            uint64_t l2 = be64_to_cpu(l1[j]) & L1E_OFFSET_MASK;

            if (l2 && overlaps(offset, size, l2, s->cluster_size)) {
                return QCOW2_OL_INACTIVE_L2;
            }
        }
    }
    return 0;
}

int qcow2_check_metadata_overlap(BlockDriverState *bs, int ign,
                                 int64_t offset, int64_t size)
{
    BDRVQcow2State *s = bs->opaque;
    int chk = s->overlap_check & ~ign;

    if (!size) {
        return 0;
    }
    if ((chk & QCOW2_OL_MAIN_HEADER) && offset < s->cluster_size) {
        return QCOW2_OL_MAIN_HEADER;
    }

    /* Metadata is allocated in whole clusters: compare whole clusters */
    size = ROUND_UP(offset_into_cluster(s, offset) + size, s->cluster_size);
    offset = start_of_cluster(s, offset);

    if ((chk & QCOW2_OL_ACTIVE_L1) &&
        overlaps(offset, size, s->l1_table_offset,
                 (uint64_t)s->l1_size * L1E_SIZE)) {
        return QCOW2_OL_ACTIVE_L1;
    }
    if ((chk & QCOW2_OL_REFCOUNT_TABLE) &&
        overlaps(offset, size, s->refcount_table_offset,
                 (uint64_t)s->refcount_table_size * REFTABLE_ENTRY_SIZE)) {
        return QCOW2_OL_REFCOUNT_TABLE;
    }
    if ((chk & QCOW2_OL_SNAPSHOT_TABLE) &&
        overlaps(offset, size, s->snapshots_offset, s->snapshots_size)) {
        return QCOW2_OL_SNAPSHOT_TABLE;
    }
    if ((chk & QCOW2_OL_INACTIVE_L1) && s->snapshots) {
        for (unsigned i = 0; i < s->nb_snapshots; i++) {
            if (overlaps(offset, size, s->snapshots[i].l1_table_offset,
                         (uint64_t)s->snapshots[i].l1_size * L1E_SIZE)) {
                return QCOW2_OL_INACTIVE_L1;
            }
        }
    }
    if ((chk & QCOW2_OL_ACTIVE_L2) && s->l1_table) {
        for (int i = 0; i < s->l1_size; i++) {
            uint64_t l2 = s->l1_table[i] & L1E_OFFSET_MASK;

            if (l2 && overlaps(offset, size, l2, s->cluster_size)) {
                return QCOW2_OL_ACTIVE_L2;
            }
        }
    }
    if ((chk & QCOW2_OL_REFCOUNT_BLOCK) && s->refcount_table) {
        /* Nothing is used past max_refcount_table_index */
        for (uint32_t i = 0; i <= s->max_refcount_table_index &&
                             i < s->refcount_table_size; i++) {
            uint64_t block = s->refcount_table[i] & REFT_OFFSET_MASK;

            if (block && overlaps(offset, size, block, s->cluster_size)) {
                return QCOW2_OL_REFCOUNT_BLOCK;
            }
        }
    }
    if ((chk & QCOW2_OL_INACTIVE_L2) && s->snapshots) {
        int ret = check_inactive_l2_overlap(bs, offset, size);

        if (ret) {
            return ret;
        }
    }
    /* Persistent bitmaps are not supported: no bitmap directory to hit */
    return 0;
}

static const char *const metadata_ol_names[] = {
    "qcow2_header",
    "active L1 table",
    "active L2 table",
    "refcount table",
    "refcount block",
    "snapshot table",
    "inactive L1 table",
    "inactive L2 table",
    "bitmap directory",
};
/* Indexed by bit number */
G_STATIC_ASSERT(QCOW2_OL_BITMAP_DIRECTORY ==
                1 << (ARRAY_SIZE(metadata_ol_names) - 1));

int qcow2_pre_write_overlap_check(BlockDriverState *bs, int ign,
                                  int64_t offset, int64_t size,
                                  bool data_file)
{
    int ret;

    /* An external data file holds no metadata */
    if (data_file && has_data_file(bs)) {
        return 0;
    }
    ret = qcow2_check_metadata_overlap(bs, ign, offset, size);
    if (ret <= 0) {
        return ret;
    }
    qcow2_signal_corruption(bs, true, offset, size, "Preventing invalid write "
                            "on metadata (overlaps with %s)",
                            metadata_ol_names[ctz32(ret)]);
    return -EIO;
}

/* ---- Check and repair ---- */

/*
 * The check builds an in-memory refcount table (IMRT): one refcount entry
 * of the image's width per host cluster, counting every reference found by
 * walking the metadata, and compares it with the refcounts on disk.  The
 * array is sized in whole clusters so that a rebuild can write slices of it
 * to disk as refcount blocks.
 */

/* Count the bfi (fragmentation) statistics while walking */
#define CHECK_FRAG_INFO 0x2

static int64_t refcount_array_byte_size(BDRVQcow2State *s, uint64_t entries)
{
    /* Offsets are 64-bit and clusters at least 512 bytes: no overflow */
    assert(entries < (UINT64_C(1) << (64 - 9)));
    return DIV_ROUND_UP(entries << s->refcount_order, 8);
}

/* Resize the IMRT to new_size entries; the new part reads as zeroes. */
static int realloc_refcount_array(BDRVQcow2State *s, void **array,
                                  int64_t *size, int64_t new_size)
{
    int64_t old_bytes = size_to_clusters(s, refcount_array_byte_size(s, *size))
                        * s->cluster_size;
    int64_t new_bytes = size_to_clusters(s, refcount_array_byte_size(
                                             s, new_size)) * s->cluster_size;
    void *new_array;

    if (new_bytes == old_bytes) {
        *size = new_size;
        return 0;
    }
    assert(new_bytes > 0);
    if ((uint64_t)new_bytes > SIZE_MAX) {
        return -ENOMEM;
    }
    new_array = g_try_realloc(*array, new_bytes);
    if (!new_array) {
        return -ENOMEM;
    }
    if (new_bytes > old_bytes) {
        memset((uint8_t *)new_array + old_bytes, 0, new_bytes - old_bytes);
    }
    *array = new_array;
    *size = new_size;
    return 0;
}

/*
 * Count one reference to every cluster of [offset, offset + size) in the
 * IMRT, growing it as needed.  Only errors of the check itself are
 * returned; corruptions are counted in res.
 */
static int inc_refcounts_imrt(BlockDriverState *bs, BdrvCheckResult *res,
                              void **refcount_table,
                              int64_t *refcount_table_size,
                              int64_t offset, int64_t size)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t start, last, cluster_offset;
    int64_t file_len;
    int ret;

    if (size <= 0) {
        return 0;
    }

    file_len = bdrv_getlength(bs->file->bs);
    if (file_len < 0) {
        return file_len;
    }
    /* The last cluster may be partly past the end, but not a whole one */
    if (offset + size - file_len >= s->cluster_size) {
        fprintf(stderr, "ERROR: counting reference for region exceeding the "
                "end of the file by one cluster or more: offset 0x%" PRIx64
                " size 0x%" PRIx64 "\n", offset, size);
        res->corruptions++;
        return 0;
    }

    start = start_of_cluster(s, offset);
    last = start_of_cluster(s, offset + size - 1);
    for (cluster_offset = start; cluster_offset <= last;
         cluster_offset += s->cluster_size) {
        int64_t k = cluster_offset >> s->cluster_bits;
        uint64_t refcount;

        if (k >= *refcount_table_size) {
            ret = realloc_refcount_array(s, refcount_table,
                                         refcount_table_size, k + 1);
            if (ret < 0) {
                res->check_errors++;
                return ret;
            }
        }
        refcount = s->get_refcount(*refcount_table, k);
        if (refcount == s->refcount_max) {
            fprintf(stderr, "ERROR: overflow cluster offset=0x%" PRIx64 "\n",
                    cluster_offset);
            fprintf(stderr, "Use qemu-img amend to increase the refcount entry "
                    "width or qemu-img convert to create a clean copy if the "
                    "image cannot be opened for writing\n");
            res->corruptions++;
            continue;
        }
        s->set_refcount(*refcount_table, k, refcount + 1);
    }
    return 0;
}

/*
 * Repair an L2 entry that points at an unaligned offset but holds no data
 * (a preallocated zero cluster): it becomes a plain zero cluster.  Returns
 * 1 if the entry was rewritten, 0 if writing it failed, or -errno if the
 * overlap check refused (the L2 table must not be checked further).
 */
static int fix_unaligned_zero_alloc(BlockDriverState *bs,
                                    BdrvCheckResult *res, uint64_t *l2_table,
                                    int64_t l2_offset, int i, bool active)
{
    uint64_t entry_offset = l2_offset + (uint64_t)i * L2E_SIZE_NORMAL;
    int ign = active ? QCOW2_OL_ACTIVE_L2 : QCOW2_OL_INACTIVE_L2;
    int ret;

    set_l2_entry(l2_table, i, QCOW_OFLAG_ZERO);
    ret = qcow2_pre_write_overlap_check(bs, ign, entry_offset,
                                        L2E_SIZE_NORMAL, false);
    if (ret < 0) {
        fprintf(stderr, "ERROR: Overlap check failed\n");
        res->check_errors++;
        return ret;
    }
    ret = bdrv_pwrite_sync(bs->file, entry_offset, L2E_SIZE_NORMAL,
                           &l2_table[i], 0);
    if (ret < 0) {
        fprintf(stderr, "ERROR: Failed to overwrite L2 table entry: %s\n",
                strerror(-ret));
        res->check_errors++;
        return 0;
    }
    res->corruptions--;
    res->corruptions_fixed++;
    return 1;
}

/* Count the references of one L2 table (active, or of a snapshot). */
static int check_refcounts_l2(BlockDriverState *bs, BdrvCheckResult *res,
                              void **refcount_table,
                              int64_t *refcount_table_size, int64_t l2_offset,
                              int flags, BdrvCheckMode fix, bool active)
{
    BDRVQcow2State *s = bs->opaque;
    size_t l2_bytes = s->l2_size * L2E_SIZE_NORMAL;
    g_autofree uint64_t *l2_table = g_malloc(l2_bytes);
    uint64_t next_contiguous_offset = 0;
    int ret;

    ret = bdrv_pread(bs->file, l2_offset, l2_bytes, l2_table, 0);
    if (ret < 0) {
        fprintf(stderr, "ERROR: I/O error in check_refcounts_l2\n");
        res->check_errors++;
        return ret;
    }

    for (int i = 0; i < s->l2_size; i++) {
        uint64_t l2_entry = get_l2_entry(l2_table, i);
        QCow2ClusterType type = qcow2_get_cluster_type(bs, l2_entry);
        uint64_t offset = l2_entry & L2E_OFFSET_MASK;

        if (type != QCOW2_CLUSTER_COMPRESSED &&
            (l2_entry & L2E_STD_RESERVED_MASK)) {
            fprintf(stderr, "ERROR found l2 entry with reserved bits set: %"
                    PRIx64 "\n", l2_entry);
            res->corruptions++;
        }

        switch (type) {
        case QCOW2_CLUSTER_COMPRESSED: {
            uint64_t coffset;
            int csize;

            if (l2_entry & QCOW_OFLAG_COPIED) {
                fprintf(stderr, "ERROR: coffset=0x%" PRIx64 ": copied flag "
                        "must never be set for compressed clusters\n",
                        l2_entry & s->cluster_offset_mask);
                l2_entry &= ~QCOW_OFLAG_COPIED;
                res->corruptions++;
            }
            if (has_data_file(bs)) {
                fprintf(stderr, "ERROR compressed cluster %d with data file, "
                        "entry=0x%" PRIx64 "\n", i, l2_entry);
                res->corruptions++;
                break;
            }

            qcow2_parse_compressed_l2_entry(bs, l2_entry, &coffset, &csize);
            ret = inc_refcounts_imrt(bs, res, refcount_table,
                                     refcount_table_size, coffset, csize);
            if (ret < 0) {
                return ret;
            }
            if (flags & CHECK_FRAG_INFO) {
                /*
                 * Compressed clusters count as fragmented: neighbours
                 * share sectors that have to be read again.
                 */
                res->bfi.allocated_clusters++;
                res->bfi.compressed_clusters++;
                res->bfi.fragmented_clusters++;
            }
            break;
        }

        case QCOW2_CLUSTER_ZERO_ALLOC:
        case QCOW2_CLUSTER_NORMAL:
            if (offset_into_cluster(s, offset)) {
                res->corruptions++;
                if (l2_entry & QCOW_OFLAG_ZERO) {
                    fprintf(stderr, "%s offset=%" PRIx64 ": Preallocated "
                            "cluster is not properly aligned; L2 entry "
                            "corrupted.\n",
                            fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR",
                            offset);
                    if (fix & BDRV_FIX_ERRORS) {
                        ret = fix_unaligned_zero_alloc(bs, res, l2_table,
                                                       l2_offset, i, active);
                        if (ret < 0) {
                            return ret;
                        }
                        if (ret > 0) {
                            /* No cluster is referenced any more */
                            continue;
                        }
                    }
                } else {
                    fprintf(stderr, "ERROR offset=%" PRIx64 ": Data cluster "
                            "is not properly aligned; L2 entry corrupted.\n",
                            offset);
                }
            }

            if (flags & CHECK_FRAG_INFO) {
                res->bfi.allocated_clusters++;
                if (next_contiguous_offset &&
                    offset != next_contiguous_offset) {
                    res->bfi.fragmented_clusters++;
                }
                next_contiguous_offset = offset + s->cluster_size;
            }

            if (!has_data_file(bs)) {
                ret = inc_refcounts_imrt(bs, res, refcount_table,
                                         refcount_table_size, offset,
                                         s->cluster_size);
                if (ret < 0) {
                    return ret;
                }
            }
            break;

        case QCOW2_CLUSTER_ZERO_PLAIN:
        case QCOW2_CLUSTER_UNALLOCATED:
            break;
        }
    }
    return 0;
}

/* Count the references of an L1 table and everything under it. */
static int check_refcounts_l1(BlockDriverState *bs, BdrvCheckResult *res,
                              void **refcount_table,
                              int64_t *refcount_table_size,
                              int64_t l1_table_offset, int l1_size,
                              int flags, BdrvCheckMode fix, bool active)
{
    BDRVQcow2State *s = bs->opaque;
    size_t l1_bytes = (size_t)l1_size * L1E_SIZE;
    g_autofree uint64_t *l1_table = NULL;
    int ret;

    if (!l1_size) {
        return 0;
    }

    ret = inc_refcounts_imrt(bs, res, refcount_table, refcount_table_size,
                             l1_table_offset, l1_bytes);
    if (ret < 0) {
        return ret;
    }

    l1_table = g_try_malloc(l1_bytes);
    if (!l1_table) {
        res->check_errors++;
        return -ENOMEM;
    }
    ret = bdrv_pread(bs->file, l1_table_offset, l1_bytes, l1_table, 0);
    if (ret < 0) {
        fprintf(stderr, "ERROR: I/O error in check_refcounts_l1\n");
        res->check_errors++;
        return ret;
    }

    for (int i = 0; i < l1_size; i++) {
        uint64_t l1_entry = be64_to_cpu(l1_table[i]);
        uint64_t l2_offset = l1_entry & L1E_OFFSET_MASK;

        if (!l1_entry) {
            continue;
        }
        if (l1_entry & L1E_RESERVED_MASK) {
            fprintf(stderr, "ERROR found L1 entry with reserved bits set: %"
                    PRIx64 "\n", l1_entry);
            res->corruptions++;
        }

        ret = inc_refcounts_imrt(bs, res, refcount_table, refcount_table_size,
                                 l2_offset, s->cluster_size);
        if (ret < 0) {
            return ret;
        }
        if (offset_into_cluster(s, l2_offset)) {
            fprintf(stderr, "ERROR l2_offset=%" PRIx64 ": Table is not "
                    "cluster aligned; L1 entry corrupted\n", l2_offset);
            res->corruptions++;
        }

        ret = check_refcounts_l2(bs, res, refcount_table, refcount_table_size,
                                 l2_offset, flags, fix, active);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * Check that COPIED is set in exactly the L1 and L2 entries whose cluster
 * has a refcount of 1, and repair it if allowed.  Runs after the refcounts
 * were compared (and possibly repaired).
 */
static int check_oflag_copied(BlockDriverState *bs, BdrvCheckResult *res,
                              BdrvCheckMode fix)
{
    BDRVQcow2State *s = bs->opaque;
    g_autoptr(void) l2_buf = qemu_blockalign(bs, s->cluster_size);
    uint64_t *l2_table = l2_buf;
    uint64_t refcount;
    bool repair;
    int ret;

    if (fix & BDRV_FIX_ERRORS) {
        repair = true;
    } else if (fix & BDRV_FIX_LEAKS) {
        /* Only when the refcounts are known to be right */
        repair = !res->check_errors && !res->corruptions && !res->leaks;
    } else {
        repair = false;
    }

    for (int i = 0; i < s->l1_size; i++) {
        uint64_t l1_entry = s->l1_table[i];
        uint64_t l2_offset = l1_entry & L1E_OFFSET_MASK;
        int l2_dirty = 0;

        if (!l2_offset) {
            continue;
        }

        ret = qcow2_get_refcount(bs, l2_offset >> s->cluster_bits,
                                 &refcount);
        if (ret < 0) {
            /* Already reported by the refcount comparison */
            continue;
        }
        if ((refcount == 1) != !!(l1_entry & QCOW_OFLAG_COPIED)) {
            res->corruptions++;
            fprintf(stderr, "%s OFLAG_COPIED L2 cluster: l1_index=%d "
                    "l1_entry=%" PRIx64 " refcount=%" PRIu64 "\n",
                    repair ? "Repairing" : "ERROR", i, l1_entry, refcount);
            if (repair) {
                s->l1_table[i] = refcount == 1
                                 ? l1_entry | QCOW_OFLAG_COPIED
                                 : l1_entry & ~QCOW_OFLAG_COPIED;
                ret = qcow2_write_l1_entry(bs, i);
                if (ret < 0) {
                    res->check_errors++;
                    return ret;
                }
                res->corruptions--;
                res->corruptions_fixed++;
            }
        }

        ret = bdrv_pread(bs->file, l2_offset, s->l2_size * L2E_SIZE_NORMAL,
                         l2_table, 0);
        if (ret < 0) {
            fprintf(stderr, "ERROR: Could not read L2 table: %s\n",
                    strerror(-ret));
            res->check_errors++;
            return ret;
        }

        for (int j = 0; j < s->l2_size; j++) {
            uint64_t l2_entry = get_l2_entry(l2_table, j);
            QCow2ClusterType type = qcow2_get_cluster_type(bs, l2_entry);

            if (type != QCOW2_CLUSTER_NORMAL &&
                type != QCOW2_CLUSTER_ZERO_ALLOC) {
                continue;
            }
            if (has_data_file(bs)) {
                refcount = 1;
            } else {
                ret = qcow2_get_refcount(bs, (l2_entry & L2E_OFFSET_MASK) >>
                                         s->cluster_bits, &refcount);
                if (ret < 0) {
                    continue;
                }
            }
            if ((refcount == 1) != !!(l2_entry & QCOW_OFLAG_COPIED)) {
                res->corruptions++;
                fprintf(stderr, "%s OFLAG_COPIED data cluster: l2_entry=%"
                        PRIx64 " refcount=%" PRIu64 "\n",
                        repair ? "Repairing" : "ERROR", l2_entry, refcount);
                if (repair) {
                    set_l2_entry(l2_table, j, refcount == 1
                                 ? l2_entry | QCOW_OFLAG_COPIED
                                 : l2_entry & ~QCOW_OFLAG_COPIED);
                    l2_dirty++;
                }
            }
        }

        if (l2_dirty > 0) {
            ret = qcow2_pre_write_overlap_check(bs, QCOW2_OL_ACTIVE_L2,
                                                l2_offset, s->cluster_size,
                                                false);
            if (ret < 0) {
                fprintf(stderr, "ERROR: Could not write L2 table; metadata "
                        "overlap check failed: %s\n", strerror(-ret));
                res->check_errors++;
                return ret;
            }
            ret = bdrv_pwrite(bs->file, l2_offset, s->cluster_size, l2_table,
                              0);
            if (ret < 0) {
                fprintf(stderr, "ERROR: Could not write L2 table: %s\n",
                        strerror(-ret));
                res->check_errors++;
                return ret;
            }
            res->corruptions -= l2_dirty;
            res->corruptions_fixed += l2_dirty;
        }
    }
    return 0;
}

/*
 * Repair a refblock that lies past the end of the file by growing the file
 * over it: the refblock then reads as zeroes, and the comparison repairs
 * the refcounts it should hold.  If the file cannot grow, *rebuild is set.
 * Returns -errno only for errors that end the check.
 */
static int grow_file_for_refblock(BlockDriverState *bs, BdrvCheckResult *res,
                                  void **refcount_table, int64_t *nb_clusters,
                                  uint64_t offset, bool *rebuild)
{
    BDRVQcow2State *s = bs->opaque;
    Error *local_err = NULL;
    int64_t size;
    int ret;

    if (offset > INT64_MAX - s->cluster_size) {
        ret = -EINVAL;
        goto resize_fail;
    }
    ret = bdrv_truncate(bs->file, offset + s->cluster_size, false,
                        PREALLOC_MODE_OFF, 0, &local_err);
    if (ret < 0) {
        error_report_err(local_err);
        goto resize_fail;
    }
    size = bdrv_getlength(bs->file->bs);
    if (size < 0) {
        ret = size;
        goto resize_fail;
    }
    assert(size_to_clusters(s, size) >= *nb_clusters);
    ret = realloc_refcount_array(s, refcount_table, nb_clusters,
                                 size_to_clusters(s, size));
    if (ret < 0) {
        res->check_errors++;
        return ret;
    }
    if ((offset >> s->cluster_bits) >= *nb_clusters) {
        ret = -EINVAL;
        goto resize_fail;
    }

    res->corruptions--;
    res->corruptions_fixed++;
    /* Freshly allocated and zeroed: its refcount is exactly 1 now */
    return inc_refcounts_imrt(bs, res, refcount_table, nb_clusters, offset,
                              s->cluster_size);

resize_fail:
    *rebuild = true;
    fprintf(stderr, "ERROR could not resize image: %s\n", strerror(-ret));
    return 0;
}

/*
 * Count the refcount blocks themselves, checking the refcount table on the
 * way.  A refblock past the end of the file is repaired (with -r all) by
 * growing the file; anything else wrong sets *rebuild.
 */
static int check_refblocks(BlockDriverState *bs, BdrvCheckResult *res,
                           BdrvCheckMode fix, bool *rebuild,
                           void **refcount_table, int64_t *nb_clusters)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    for (int64_t i = 0; i < s->refcount_table_size; i++) {
        uint64_t offset = s->refcount_table[i] & REFT_OFFSET_MASK;
        uint64_t cluster = offset >> s->cluster_bits;

        if (s->refcount_table[i] & REFT_RESERVED_MASK) {
            fprintf(stderr, "ERROR refcount table entry %" PRId64 " has "
                    "reserved bits set\n", i);
            res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (offset_into_cluster(s, offset)) {
            fprintf(stderr, "ERROR refcount block %" PRId64 " is not cluster "
                    "aligned; refcount table entry corrupted\n", i);
            res->corruptions++;
            *rebuild = true;
            continue;
        }

        if (cluster >= *nb_clusters) {
            res->corruptions++;
            fprintf(stderr, "%s refcount block %" PRId64 " is outside image\n",
                    fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR", i);
            if (fix & BDRV_FIX_ERRORS) {
                ret = grow_file_for_refblock(bs, res, refcount_table,
                                             nb_clusters, offset, rebuild);
                if (ret < 0) {
                    return ret;
                }
            }
            continue;
        }

        if (offset) {
            uint64_t refcount;

            ret = inc_refcounts_imrt(bs, res, refcount_table, nb_clusters,
                                     offset, s->cluster_size);
            if (ret < 0) {
                return ret;
            }
            refcount = s->get_refcount(*refcount_table, cluster);
            if (refcount != 1) {
                fprintf(stderr, "ERROR refcount block %" PRId64 " refcount=%"
                        PRIu64 "\n", i, refcount);
                res->corruptions++;
                *rebuild = true;
            }
        }
    }
    return 0;
}

/* Build the IMRT: count every reference the metadata holds. */
static int calculate_refcounts(BlockDriverState *bs, BdrvCheckResult *res,
                               BdrvCheckMode fix, bool *rebuild,
                               void **refcount_table, int64_t *nb_clusters)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (!*refcount_table) {
        int64_t old_size = 0;

        ret = realloc_refcount_array(s, refcount_table, &old_size,
                                     *nb_clusters);
        if (ret < 0) {
            res->check_errors++;
            return ret;
        }
    }

    /* The header cluster */
    ret = inc_refcounts_imrt(bs, res, refcount_table, nb_clusters, 0,
                             s->cluster_size);
    if (ret < 0) {
        return ret;
    }

    /* The active L1 table and its L2 tables and data */
    ret = check_refcounts_l1(bs, res, refcount_table, nb_clusters,
                             s->l1_table_offset, s->l1_size, CHECK_FRAG_INFO,
                             fix, true);
    if (ret < 0) {
        return ret;
    }

    /* Snapshots: their L1 tables, and the snapshot table itself */
    if (has_data_file(bs) && s->nb_snapshots) {
        fprintf(stderr, "ERROR %d snapshots in image with data file\n",
                s->nb_snapshots);
        res->corruptions++;
    }
    for (unsigned i = 0; i < s->nb_snapshots; i++) {
        QCowSnapshot *sn = &s->snapshots[i];

        if (offset_into_cluster(s, sn->l1_table_offset)) {
            fprintf(stderr, "ERROR snapshot %s (%s) l1_offset=%#" PRIx64 ": "
                    "L1 table is not cluster aligned; snapshot table entry "
                    "corrupted\n", sn->id_str, sn->name, sn->l1_table_offset);
            res->corruptions++;
            continue;
        }
        if (sn->l1_size > QCOW_MAX_L1_SIZE / L1E_SIZE) {
            fprintf(stderr, "ERROR snapshot %s (%s) l1_size=%#" PRIx32 ": "
                    "L1 table is too large; snapshot table entry corrupted\n",
                    sn->id_str, sn->name, sn->l1_size);
            res->corruptions++;
            continue;
        }
        ret = check_refcounts_l1(bs, res, refcount_table, nb_clusters,
                                 sn->l1_table_offset, sn->l1_size, 0, fix,
                                 false);
        if (ret < 0) {
            return ret;
        }
    }
    ret = inc_refcounts_imrt(bs, res, refcount_table, nb_clusters,
                             s->snapshots_offset, s->snapshots_size);
    if (ret < 0) {
        return ret;
    }

    /* The refcount table; the blocks are counted by check_refblocks */
    ret = inc_refcounts_imrt(bs, res, refcount_table, nb_clusters,
                             s->refcount_table_offset,
                             s->refcount_table_size * REFTABLE_ENTRY_SIZE);
    if (ret < 0) {
        return ret;
    }

    return check_refblocks(bs, res, fix, rebuild, refcount_table,
                           nb_clusters);
}

/*
 * Compare the refcounts on disk with the IMRT, repairing what fix allows:
 * leaks (refcount too high) with BDRV_FIX_LEAKS, refcounts too low with
 * BDRV_FIX_ERRORS.  A cluster in use without any refcount (no refblock)
 * cannot be repaired here: *rebuild is set instead.  *highest_cluster is
 * the last cluster in use either way.
 */
static void compare_refcounts(BlockDriverState *bs, BdrvCheckResult *res,
                              BdrvCheckMode fix, bool *rebuild,
                              int64_t *highest_cluster,
                              void *refcount_table, int64_t nb_clusters)
{
    BDRVQcow2State *s = bs->opaque;

    *highest_cluster = 0;
    for (int64_t i = 0; i < nb_clusters; i++) {
        uint64_t on_disk, counted;
        int *num_fixed = NULL;
        int ret;

        ret = qcow2_get_refcount(bs, i, &on_disk);
        if (ret < 0) {
            fprintf(stderr, "Can't get refcount for cluster %" PRId64 ": %s\n",
                    i, strerror(-ret));
            res->check_errors++;
            continue;
        }
        counted = s->get_refcount(refcount_table, i);

        if (on_disk > 0 || counted > 0) {
            *highest_cluster = i;
        }
        if (on_disk == counted) {
            continue;
        }

        if (on_disk == 0) {
            *rebuild = true;
        } else if (on_disk > counted && (fix & BDRV_FIX_LEAKS)) {
            num_fixed = &res->leaks_fixed;
        } else if (on_disk < counted && (fix & BDRV_FIX_ERRORS)) {
            num_fixed = &res->corruptions_fixed;
        }

        fprintf(stderr, "%s cluster %" PRId64 " refcount=%" PRIu64
                " reference=%" PRIu64 "\n",
                num_fixed ? "Repairing" :
                on_disk < counted ? "ERROR" : "Leaked",
                i, on_disk, counted);

        if (num_fixed) {
            ret = update_refcount(bs, i << s->cluster_bits, 1,
                                  refcount_diff(on_disk, counted),
                                  on_disk > counted, QCOW2_DISCARD_ALWAYS);
            if (ret >= 0) {
                (*num_fixed)++;
                continue;
            }
        }

        if (on_disk < counted) {
            res->corruptions++;
        } else {
            res->leaks++;
        }
    }
}

/*
 * Allocate cluster_count contiguous clusters in the IMRT only (refcount
 * 1), first fit from *first_free_cluster, growing the array past the end
 * of the image if needed.  *first_free_cluster moves to the first free
 * cluster seen.  Returns the host offset, or -errno.
 */
static int64_t alloc_clusters_imrt(BlockDriverState *bs, int cluster_count,
                                   void **refcount_table,
                                   int64_t *imrt_nb_clusters,
                                   int64_t *first_free_cluster)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t cluster = *first_free_cluster;
    bool first_gap = true;
    int run = 0;
    int ret;

    for (; cluster < *imrt_nb_clusters && run < cluster_count; cluster++) {
        if (s->get_refcount(*refcount_table, cluster)) {
            run = 0;
            continue;
        }
        run++;
        if (first_gap) {
            *first_free_cluster = cluster;
            first_gap = false;
        }
    }

    /* The run found so far ends at the image end: extend it */
    if (run < cluster_count) {
        ret = realloc_refcount_array(s, refcount_table, imrt_nb_clusters,
                                     cluster + cluster_count - run);
        if (ret < 0) {
            return ret;
        }
    }

    cluster -= run;
    for (int i = 0; i < cluster_count; i++) {
        s->set_refcount(*refcount_table, cluster + i, 1);
    }
    return cluster << s->cluster_bits;
}

/*
 * Write a refblock for every refblock-sized range of [first_cluster,
 * end_cluster) that has clusters in use, allocating it in the IMRT if the
 * new reftable (*on_disk_reftable) has none yet.  A refblock's contents
 * are simply its slice of the IMRT.  Returns 1 if the reftable had to
 * grow, 0 if not, or -errno.
 */
static int rebuild_refcounts_write_refblocks(
    BlockDriverState *bs, void **refcount_table, int64_t *nb_clusters,
    int64_t first_cluster, int64_t end_cluster, uint64_t **on_disk_reftable,
    uint32_t *on_disk_reftable_entries, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t first_free_cluster = 0;
    bool reftable_grown = false;
    int ret;

    for (int64_t cluster = first_cluster; cluster < end_cluster; cluster++) {
        int64_t refblock_index, refblock_start, refblock_offset;

        if (!s->get_refcount(*refcount_table, cluster)) {
            continue;
        }

        refblock_index = cluster >> s->refcount_block_bits;
        refblock_start = refblock_index << s->refcount_block_bits;

        if (*on_disk_reftable_entries > refblock_index &&
            (*on_disk_reftable)[refblock_index]) {
            /* Allocated by an earlier pass */
            refblock_offset = (*on_disk_reftable)[refblock_index];
        } else {
            /* Not inside a refblock that is already written */
            first_free_cluster = MAX(first_free_cluster, refblock_start);
            refblock_offset = alloc_clusters_imrt(bs, 1, refcount_table,
                                                  nb_clusters,
                                                  &first_free_cluster);
            if (refblock_offset < 0) {
                error_setg_errno(errp, -refblock_offset,
                                 "ERROR allocating refblock");
                return refblock_offset;
            }
            /* The refblock counting the new one must be written too */
            end_cluster = MAX(end_cluster,
                              refblock_offset / s->cluster_size + 1);

            if (*on_disk_reftable_entries <= refblock_index) {
                uint32_t old_entries = *on_disk_reftable_entries;
                uint32_t entries =
                    ROUND_UP((refblock_index + 1) * REFTABLE_ENTRY_SIZE,
                             s->cluster_size) / REFTABLE_ENTRY_SIZE;
                uint64_t *table = g_try_realloc(*on_disk_reftable,
                                                entries *
                                                REFTABLE_ENTRY_SIZE);

                if (!table) {
                    error_setg(errp, "ERROR allocating reftable memory");
                    return -ENOMEM;
                }
                memset(table + old_entries, 0,
                       (entries - old_entries) * REFTABLE_ENTRY_SIZE);
                *on_disk_reftable = table;
                *on_disk_reftable_entries = entries;
                reftable_grown = true;
            }
            (*on_disk_reftable)[refblock_index] = refblock_offset;
        }

        ret = qcow2_pre_write_overlap_check(bs, 0, refblock_offset,
                                            s->cluster_size, false);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "ERROR writing refblock");
            return ret;
        }
        /* The IMRT is a whole number of clusters: the slice is complete */
        ret = bdrv_pwrite(bs->file, refblock_offset, s->cluster_size,
                          (uint8_t *)*refcount_table +
                          refblock_index * s->cluster_size, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "ERROR writing refblock");
            return ret;
        }

        /* Done with this refblock's range */
        cluster = refblock_start + s->refcount_block_size - 1;
    }
    return reftable_grown;
}

/*
 * Replace the refcount structures by new ones written from the IMRT, in
 * free space of it (the old structures are not freed: they show up as
 * leaks, which the caller repairs).
 */
static int rebuild_refcount_structure(BlockDriverState *bs,
                                      BdrvCheckResult *res,
                                      void **refcount_table,
                                      int64_t *nb_clusters, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t *on_disk_reftable = NULL;
    uint32_t on_disk_reftable_entries = 0;
    int64_t reftable_offset = -1;
    int64_t reftable_length = 0;
    int64_t reftable_clusters = 0;
    struct QEMU_PACKED {
        uint64_t reftable_offset;
        uint32_t reftable_clusters;
    } hdr;
    int grown;
    int ret;

    qcow2_cache_empty(bs, s->refcount_block_cache);

    /*
     * Write the refblocks, then find room for the reftable.  Allocating
     * the reftable changes the IMRT, so the refblocks covering it are
     * written again; if that made the reftable grow, it needs a new place,
     * and so on until it stops growing (each reftable cluster covers many
     * clusters, so this ends quickly).
     */
    grown = rebuild_refcounts_write_refblocks(bs, refcount_table,
                                              nb_clusters, 0, *nb_clusters,
                                              &on_disk_reftable,
                                              &on_disk_reftable_entries,
                                              errp);
    if (grown < 0) {
        res->check_errors++;
        ret = grown;
        goto fail;
    }
    /* There was no reftable before */
    assert(grown);

    do {
        int64_t first_free_cluster = 0;
        int64_t start;

        reftable_length = on_disk_reftable_entries * REFTABLE_ENTRY_SIZE;
        reftable_clusters = size_to_clusters(s, reftable_length);
        reftable_offset = alloc_clusters_imrt(bs, reftable_clusters,
                                              refcount_table, nb_clusters,
                                              &first_free_cluster);
        if (reftable_offset < 0) {
            error_setg_errno(errp, -reftable_offset,
                             "ERROR allocating reftable");
            res->check_errors++;
            ret = reftable_offset;
            goto fail;
        }

        assert(offset_into_cluster(s, reftable_offset) == 0);
        start = reftable_offset / s->cluster_size;
        grown = rebuild_refcounts_write_refblocks(bs, refcount_table,
                                                  nb_clusters, start,
                                                  start + reftable_clusters,
                                                  &on_disk_reftable,
                                                  &on_disk_reftable_entries,
                                                  errp);
        if (grown < 0) {
            res->check_errors++;
            ret = grown;
            goto fail;
        }
    } while (grown);

    for (uint32_t i = 0; i < on_disk_reftable_entries; i++) {
        on_disk_reftable[i] = cpu_to_be64(on_disk_reftable[i]);
    }
    ret = qcow2_pre_write_overlap_check(bs, 0, reftable_offset,
                                        reftable_length, false);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "ERROR writing reftable");
        goto fail;
    }
    assert(reftable_length < INT_MAX);
    ret = bdrv_pwrite(bs->file, reftable_offset, reftable_length,
                      on_disk_reftable, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "ERROR writing reftable");
        goto fail;
    }

    hdr.reftable_offset = cpu_to_be64(reftable_offset);
    hdr.reftable_clusters = cpu_to_be32(reftable_clusters);
    ret = bdrv_pwrite_sync(bs->file,
                           offsetof(QCowHeader, refcount_table_offset),
                           sizeof(hdr), &hdr, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "ERROR setting reftable");
        goto fail;
    }

    for (uint32_t i = 0; i < on_disk_reftable_entries; i++) {
        on_disk_reftable[i] = be64_to_cpu(on_disk_reftable[i]);
    }
    g_free(s->refcount_table);
    s->refcount_table = on_disk_reftable;
    s->refcount_table_offset = reftable_offset;
    s->refcount_table_size = on_disk_reftable_entries;
    update_max_refcount_table_index(s);
    return 0;

fail:
    g_free(on_disk_reftable);
    return ret;
}

/*
 * Check the refcounts of the whole image against the references its
 * metadata holds, and the COPIED flags; repair as fix allows.  The
 * messages are QEMU 7.2's, on stderr.
 */
int qcow2_check_refcounts(BlockDriverState *bs, BdrvCheckResult *res,
                          BdrvCheckMode fix)
{
    BDRVQcow2State *s = bs->opaque;
    BdrvCheckResult pre_compare_res;
    g_autofree void *refcount_table = NULL;
    int64_t size, highest_cluster, nb_clusters;
    bool rebuild = false;
    int ret;

    size = bdrv_getlength(bs->file->bs);
    if (size < 0) {
        res->check_errors++;
        return size;
    }
    nb_clusters = size_to_clusters(s, size);
    if (nb_clusters > INT_MAX) {
        res->check_errors++;
        return -EFBIG;
    }

    res->bfi.total_clusters =
        size_to_clusters(s, bs->total_sectors * BDRV_SECTOR_SIZE);

    ret = calculate_refcounts(bs, res, fix, &rebuild, &refcount_table,
                              &nb_clusters);
    if (ret < 0) {
        return ret;
    }

    /* Without a rebuild, a repair compares again from this state */
    pre_compare_res = *res;
    compare_refcounts(bs, res, 0, &rebuild, &highest_cluster, refcount_table,
                      nb_clusters);

    if (rebuild && (fix & BDRV_FIX_ERRORS)) {
        BdrvCheckResult old_res = *res;
        Error *local_err = NULL;
        int fresh_leaks = 0;

        fprintf(stderr, "Rebuilding refcount structure\n");
        ret = rebuild_refcount_structure(bs, res, &refcount_table,
                                         &nb_clusters, &local_err);
        if (ret < 0) {
            error_report_err(local_err);
            return ret;
        }

        res->corruptions = 0;
        res->leaks = 0;

        /* The structures moved: count the references again */
        rebuild = false;
        memset(refcount_table, 0, refcount_array_byte_size(s, nb_clusters));
        ret = calculate_refcounts(bs, res, 0, &rebuild, &refcount_table,
                                  &nb_clusters);
        if (ret < 0) {
            return ret;
        }

        if (fix & BDRV_FIX_LEAKS) {
            /*
             * The old structures are leaked now: free them.  Only leaks
             * the rebuild itself caused and could not free are reported.
             */
            BdrvCheckResult saved_res = *res;

            *res = (BdrvCheckResult){ 0 };
            compare_refcounts(bs, res, BDRV_FIX_LEAKS, &rebuild,
                              &highest_cluster, refcount_table, nb_clusters);
            if (rebuild) {
                fprintf(stderr, "ERROR rebuilt refcount structure is still "
                        "broken\n");
            }
            fresh_leaks = res->leaks;
            *res = saved_res;
        }

        if (res->corruptions < old_res.corruptions) {
            res->corruptions_fixed += old_res.corruptions - res->corruptions;
        }
        if (res->leaks < old_res.leaks) {
            res->leaks_fixed += old_res.leaks - res->leaks;
        }
        res->leaks += fresh_leaks;
    } else if (fix) {
        if (rebuild) {
            fprintf(stderr, "ERROR need to rebuild refcount structures\n");
            res->check_errors++;
            return -EIO;
        }
        if (res->leaks || res->corruptions) {
            *res = pre_compare_res;
            compare_refcounts(bs, res, fix, &rebuild, &highest_cluster,
                              refcount_table, nb_clusters);
        }
    }

    ret = check_oflag_copied(bs, res, fix);
    if (ret < 0) {
        return ret;
    }

    res->image_end_offset = (highest_cluster + 1) * s->cluster_size;
    return 0;
}
