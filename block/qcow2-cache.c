/*
 * qcow2 metadata caches: a fixed number of table-sized buffers (L2 slices
 * or refcount blocks) with least-recently-used replacement.
 *
 * A table is identified by its host offset in bs->file (metadata never
 * lives in an external data file).  Callers hold a reference between get
 * and put; only unreferenced entries can be evicted.  Dirty entries are
 * written back on eviction and on flush, after the cache this one depends
 * on (set_dependency) has been written, or after a flush of bs->file
 * (depends_on_flush), so that on-disk metadata is always ordered safely.
 *
 * Offset 0 marks a free entry: cluster 0 always holds the header, so no
 * table can live there.
 */
#include "qemu/osdep.h"
#include <sys/mman.h>
#include "qemu/host-utils.h"
#include "block/qcow2.h"

typedef struct Qcow2CachedTable {
    int64_t offset;                     /* 0: entry unused */
    uint64_t lru_counter;               /* c->lru_counter at the last put */
    int ref;                            /* gets not yet put */
    bool dirty;
} Qcow2CachedTable;

struct Qcow2Cache {
    Qcow2CachedTable *entries;
    void *table_array;                  /* size tables of table_size bytes */
    struct Qcow2Cache *depends;         /* written before our entries */
    int size;
    int table_size;
    bool depends_on_flush;              /* bs->file flushed before writes */
    uint64_t lru_counter;
    uint64_t cache_clean_lru_counter;   /* lru_counter at the last clean */
};

static inline void *qcow2_cache_get_table_addr(Qcow2Cache *c, int i)
{
    return (uint8_t *)c->table_array + (size_t)i * c->table_size;
}

static inline int qcow2_cache_get_table_idx(Qcow2Cache *c, void *table)
{
    ptrdiff_t off = (uint8_t *)table - (uint8_t *)c->table_array;
    int idx = off / c->table_size;

    assert(idx >= 0 && idx < c->size && off % c->table_size == 0);
    return idx;
}

static const char *qcow2_cache_get_name(BDRVQcow2State *s, Qcow2Cache *c)
{
    if (c == s->refcount_block_cache) {
        return "refcount block";
    } else if (c == s->l2_table_cache) {
        return "L2 table";
    }
    /* Only the bitmap code would create a third cache. */
    return "bitmap";
}

/* Give the memory of entries [i, i + num) back to the system. */
static void qcow2_cache_table_release(Qcow2Cache *c, int i, int num)
{
    size_t page = qemu_real_host_page_size();
    uintptr_t start = (uintptr_t)qcow2_cache_get_table_addr(c, i);
    uintptr_t end = start + (size_t)num * c->table_size;
    uintptr_t first = ROUND_UP(start, page);
    uintptr_t last = ROUND_DOWN(end, page);

    if (last > first) {
        madvise((void *)first, last - first, MADV_DONTNEED);
    }
}

static bool can_clean_entry(Qcow2Cache *c, int i)
{
    Qcow2CachedTable *t = &c->entries[i];

    return t->ref == 0 && !t->dirty && t->offset != 0 &&
           t->lru_counter <= c->cache_clean_lru_counter;
}

/*
 * Drop the clean, unreferenced entries that were not used since the last
 * call (the periodic cache-clean-interval timer).
 */
void qcow2_cache_clean_unused(Qcow2Cache *c)
{
    int i = 0;

    while (i < c->size) {
        int to_clean = 0;

        /* Release runs of cleanable entries in one go. */
        while (i < c->size && can_clean_entry(c, i)) {
            c->entries[i].offset = 0;
            c->entries[i].lru_counter = 0;
            i++;
            to_clean++;
        }
        if (to_clean > 0) {
            qcow2_cache_table_release(c, i - to_clean, to_clean);
        } else {
            i++;
        }
    }
    c->cache_clean_lru_counter = c->lru_counter;
}

Qcow2Cache *qcow2_cache_create(BlockDriverState *bs, int num_tables,
                               unsigned table_size)
{
    Qcow2Cache *c;

    assert(num_tables > 0);
    assert(is_power_of_2(table_size));
    assert(table_size >= (1 << MIN_CLUSTER_BITS) / 64);
    assert(table_size <= (1 << MAX_CLUSTER_BITS));

    c = g_new0(Qcow2Cache, 1);
    c->size = num_tables;
    c->table_size = table_size;
    c->entries = g_try_new0(Qcow2CachedTable, num_tables);
    c->table_array = qemu_try_blockalign(bs->file->bs,
                                         (size_t)num_tables * table_size);
    if (!c->entries || !c->table_array) {
        qemu_vfree(c->table_array);
        g_free(c->entries);
        g_free(c);
        return NULL;
    }
    return c;
}

int qcow2_cache_destroy(Qcow2Cache *c)
{
    for (int i = 0; i < c->size; i++) {
        assert(c->entries[i].ref == 0);
    }
    qemu_vfree(c->table_array);
    g_free(c->entries);
    g_free(c);
    return 0;
}

static int qcow2_cache_flush_dependency(BlockDriverState *bs, Qcow2Cache *c)
{
    int ret = qcow2_cache_flush(bs, c->depends);

    if (ret < 0) {
        return ret;
    }
    c->depends = NULL;
    c->depends_on_flush = false;
    return 0;
}

/* Write entry i back if it is dirty, after what it depends on. */
static int qcow2_cache_entry_flush(BlockDriverState *bs, Qcow2Cache *c, int i)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;
    int ign;

    if (!c->entries[i].dirty || !c->entries[i].offset) {
        return 0;
    }

    if (c->depends) {
        ret = qcow2_cache_flush_dependency(bs, c);
    } else if (c->depends_on_flush) {
        ret = bdrv_flush(bs->file->bs);
        if (ret >= 0) {
            c->depends_on_flush = false;
        }
    }
    if (ret < 0) {
        return ret;
    }

    if (c == s->refcount_block_cache) {
        ign = QCOW2_OL_REFCOUNT_BLOCK;
    } else if (c == s->l2_table_cache) {
        ign = QCOW2_OL_ACTIVE_L2;
    } else {
        ign = 0;
    }
    ret = qcow2_pre_write_overlap_check(bs, ign, c->entries[i].offset,
                                        c->table_size, false);
    if (ret < 0) {
        return ret;
    }

    if (c == s->refcount_block_cache) {
        BLKDBG_EVENT(bs->file, BLKDBG_REFBLOCK_UPDATE_PART);
    } else if (c == s->l2_table_cache) {
        BLKDBG_EVENT(bs->file, BLKDBG_L2_UPDATE);
    }
    ret = bdrv_pwrite(bs->file, c->entries[i].offset, c->table_size,
                      qcow2_cache_get_table_addr(c, i), 0);
    if (ret < 0) {
        return ret;
    }
    c->entries[i].dirty = false;
    return 0;
}

/*
 * Write every dirty entry.  Keeps going after an error so that as much as
 * possible reaches the disk; returns the first error, preferring one that
 * is not -ENOSPC (the more interesting one to report).
 */
int qcow2_cache_write(BlockDriverState *bs, Qcow2Cache *c)
{
    int result = 0;

    for (int i = 0; i < c->size; i++) {
        int ret = qcow2_cache_entry_flush(bs, c, i);

        if (ret < 0 && result != -ENOSPC) {
            result = ret;
        }
    }
    return result;
}

int qcow2_cache_flush(BlockDriverState *bs, Qcow2Cache *c)
{
    int result = qcow2_cache_write(bs, c);

    if (result == 0) {
        int ret = bdrv_flush(bs->file->bs);

        if (ret < 0) {
            result = ret;
        }
    }
    return result;
}

int qcow2_cache_set_dependency(BlockDriverState *bs, Qcow2Cache *c,
                               Qcow2Cache *dependency)
{
    int ret;

    /* Chains are not followed: write what dependency waits for now. */
    if (dependency->depends) {
        ret = qcow2_cache_flush_dependency(bs, dependency);
        if (ret < 0) {
            return ret;
        }
    }
    if (c->depends && c->depends != dependency) {
        ret = qcow2_cache_flush_dependency(bs, c);
        if (ret < 0) {
            return ret;
        }
    }
    c->depends = dependency;
    return 0;
}

void qcow2_cache_depends_on_flush(Qcow2Cache *c)
{
    c->depends_on_flush = true;
}

/* Write everything back and forget all entries (none may be in use). */
int qcow2_cache_empty(BlockDriverState *bs, Qcow2Cache *c)
{
    int ret = qcow2_cache_flush(bs, c);

    if (ret < 0) {
        return ret;
    }
    for (int i = 0; i < c->size; i++) {
        assert(c->entries[i].ref == 0);
        c->entries[i].offset = 0;
        c->entries[i].lru_counter = 0;
    }
    qcow2_cache_table_release(c, 0, c->size);
    c->lru_counter = 0;
    return 0;
}

static int qcow2_cache_do_get(BlockDriverState *bs, Qcow2Cache *c,
                              uint64_t offset, void **table,
                              bool read_from_disk)
{
    BDRVQcow2State *s = bs->opaque;
    int lookup_index;
    int min_lru_index = -1;
    uint64_t min_lru_counter = UINT64_MAX;
    int i;
    int ret;

    assert(offset != 0);
    if (!QEMU_IS_ALIGNED(offset, c->table_size)) {
        qcow2_signal_corruption(bs, true, -1, -1, "Cannot get entry from %s "
                                "cache: offset %#" PRIx64 " is unaligned",
                                qcow2_cache_get_name(s, c), offset);
        return -EIO;
    }

    /*
     * Look for the table, starting at a position derived from its offset
     * so that lookups of spread-out tables end quickly; remember the least
     * recently used free entry on the way.
     */
    i = lookup_index = (offset / c->table_size * 4) % c->size;
    do {
        const Qcow2CachedTable *t = &c->entries[i];

        if (t->offset == offset) {
            goto found;
        }
        if (t->ref == 0 && t->lru_counter < min_lru_counter) {
            min_lru_counter = t->lru_counter;
            min_lru_index = i;
        }
        if (++i == c->size) {
            i = 0;
        }
    } while (i != lookup_index);

    if (min_lru_index == -1) {
        /* Every entry is referenced: callers hold too many at once. */
        abort();
    }

    /* Evict the least recently used entry. */
    i = min_lru_index;
    ret = qcow2_cache_entry_flush(bs, c, i);
    if (ret < 0) {
        return ret;
    }

    c->entries[i].offset = 0;
    if (read_from_disk) {
        if (c == s->l2_table_cache) {
            BLKDBG_EVENT(bs->file, BLKDBG_L2_LOAD);
        }
        ret = bdrv_pread(bs->file, offset, c->table_size,
                         qcow2_cache_get_table_addr(c, i), 0);
        if (ret < 0) {
            return ret;
        }
    }
    c->entries[i].offset = offset;

found:
    c->entries[i].ref++;
    *table = qcow2_cache_get_table_addr(c, i);
    return 0;
}

int qcow2_cache_get(BlockDriverState *bs, Qcow2Cache *c, uint64_t offset,
                    void **table)
{
    return qcow2_cache_do_get(bs, c, offset, table, true);
}

/* Like qcow2_cache_get for a table the caller fills entirely itself. */
int qcow2_cache_get_empty(BlockDriverState *bs, Qcow2Cache *c,
                          uint64_t offset, void **table)
{
    return qcow2_cache_do_get(bs, c, offset, table, false);
}

void qcow2_cache_put(Qcow2Cache *c, void **table)
{
    int i = qcow2_cache_get_table_idx(c, *table);

    c->entries[i].ref--;
    *table = NULL;
    if (c->entries[i].ref == 0) {
        c->entries[i].lru_counter = ++c->lru_counter;
    }
    assert(c->entries[i].ref >= 0);
}

void qcow2_cache_entry_mark_dirty(Qcow2Cache *c, void *table)
{
    int i = qcow2_cache_get_table_idx(c, table);

    assert(c->entries[i].offset != 0);
    c->entries[i].dirty = true;
}

/* The cached copy of the table at offset, or NULL if it is not cached. */
void *qcow2_cache_is_table_offset(Qcow2Cache *c, uint64_t offset)
{
    for (int i = 0; i < c->size; i++) {
        if (c->entries[i].offset == offset) {
            return qcow2_cache_get_table_addr(c, i);
        }
    }
    return NULL;
}

/* Forget an unreferenced entry without writing it (its cluster is freed). */
void qcow2_cache_discard(Qcow2Cache *c, void *table)
{
    int i = qcow2_cache_get_table_idx(c, table);

    assert(c->entries[i].ref == 0);
    c->entries[i].offset = 0;
    c->entries[i].lru_counter = 0;
    c->entries[i].dirty = false;
    qcow2_cache_table_release(c, i, 1);
}
