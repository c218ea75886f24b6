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

int qcow2_update_cluster_refcount(BlockDriverState *bs, int64_t cluster_index,
                                  uint64_t addend, bool decrease,
                                  enum qcow2_discard_type type)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = update_refcount(bs, cluster_index << s->cluster_bits, 1, addend,
                              decrease, type);

    return ret < 0 ? ret : 0;
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
        /* No room for another reference: start a new cluster */
        if (refcount == s->refcount_max) {
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
                                "offset %#" PRIx64 ", reftable index %" PRIu64
                                ", block offset %#" PRIx64 ", refcount %#"
                                PRIx64, covering,
                                offset_to_reftable_index(s,
                                                         discard_block_offs),
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
        /* Validated when the snapshot table was read */
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
