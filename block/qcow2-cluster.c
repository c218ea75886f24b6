/*
 * qcow2 guest-to-host mapping: the L1 table and the L2 tables it points
 * to, cluster allocation for writes (with copy-on-write of the parts of a
 * new cluster that the write does not cover), compressed clusters, zero
 * clusters and discard.
 *
 * Everything here runs with s->lock held; perform_cow drops it while the
 * copy-on-write data moves.  L2 tables are accessed in slices of
 * s->l2_slice_size entries through s->l2_table_cache.
 *
 * Metadata is written in an order that keeps the image consistent after a
 * crash: a newly allocated cluster's refcount reaches the disk before any
 * L1/L2 entry that points at it, and data (with its COW) before the L2
 * entry that makes it visible.
 */
#include "qemu/osdep.h"
#include "qemu/units.h"
#include "block/qcow2.h"

/* Does the entry own a host cluster (or compressed bytes)? */
static bool cluster_is_allocated(QCow2ClusterType type)
{
    return type == QCOW2_CLUSTER_COMPRESSED ||
           type == QCOW2_CLUSTER_NORMAL ||
           type == QCOW2_CLUSTER_ZERO_ALLOC;
}

/* ---- The L1 table ---- */

int qcow2_grow_l1_table(BlockDriverState *bs, uint64_t min_size,
                        bool exact_size)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t new_l1_size;
    size_t new_l1_bytes;
    int64_t new_l1_offset;
    uint64_t old_l1_offset;
    int old_l1_size;
    uint64_t *new_l1_table;
    uint8_t header_fields[12];
    int ret;
    int i;

    if (min_size <= s->l1_size) {
        return 0;
    }

    /* Keep the size computations below within int */
    if (min_size > INT_MAX / L1E_SIZE) {
        return -EFBIG;
    }

    if (exact_size) {
        new_l1_size = min_size;
    } else {
        /* Grow by half each time so that sequential writes amortise */
        new_l1_size = s->l1_size ? s->l1_size : 1;
        while (min_size > new_l1_size) {
            new_l1_size = DIV_ROUND_UP(new_l1_size * 3, 2);
        }
    }

    G_STATIC_ASSERT(QCOW_MAX_L1_SIZE <= INT_MAX);
    if (new_l1_size > QCOW_MAX_L1_SIZE / L1E_SIZE) {
        return -EFBIG;
    }

    new_l1_bytes = new_l1_size * L1E_SIZE;
    new_l1_table = qemu_try_blockalign(bs->file->bs,
                                       ROUND_UP(new_l1_bytes, 512));
    if (new_l1_table == NULL) {
        return -ENOMEM;
    }
    memset(new_l1_table, 0, ROUND_UP(new_l1_bytes, 512));
    if (s->l1_size) {
        memcpy(new_l1_table, s->l1_table, s->l1_size * L1E_SIZE);
    }

    /* The new table goes to fresh clusters; the header switches over last */
    BLKDBG_EVENT(bs->file, BLKDBG_L1_GROW_ALLOC_TABLE);
    new_l1_offset = qcow2_alloc_clusters(bs, new_l1_bytes);
    if (new_l1_offset < 0) {
        qemu_vfree(new_l1_table);
        return new_l1_offset;
    }

    /* Its refcount must be on disk before the header points at it */
    ret = qcow2_cache_flush(bs, s->refcount_block_cache);
    if (ret < 0) {
        goto fail;
    }

    ret = qcow2_pre_write_overlap_check(bs, 0, new_l1_offset, new_l1_bytes,
                                        false);
    if (ret < 0) {
        goto fail;
    }

    BLKDBG_EVENT(bs->file, BLKDBG_L1_GROW_WRITE_TABLE);
    for (i = 0; i < s->l1_size; i++) {
        new_l1_table[i] = cpu_to_be64(new_l1_table[i]);
    }
    ret = bdrv_pwrite_sync(bs->file, new_l1_offset, new_l1_bytes,
                           new_l1_table, 0);
    for (i = 0; i < s->l1_size; i++) {
        new_l1_table[i] = be64_to_cpu(new_l1_table[i]);
    }
    if (ret < 0) {
        goto fail;
    }

    /* l1_size and l1_table_offset are adjacent in the header */
    BLKDBG_EVENT(bs->file, BLKDBG_L1_GROW_ACTIVATE_TABLE);
    G_STATIC_ASSERT(offsetof(QCowHeader, l1_table_offset) ==
                    offsetof(QCowHeader, l1_size) + 4);
    stl_be_p(header_fields, new_l1_size);
    stq_be_p(header_fields + 4, new_l1_offset);
    ret = bdrv_pwrite_sync(bs->file, offsetof(QCowHeader, l1_size),
                           sizeof(header_fields), header_fields, 0);
    if (ret < 0) {
        goto fail;
    }

    qemu_vfree(s->l1_table);
    old_l1_offset = s->l1_table_offset;
    old_l1_size = s->l1_size;
    s->l1_table = new_l1_table;
    s->l1_table_offset = new_l1_offset;
    s->l1_size = new_l1_size;
    qcow2_free_clusters(bs, old_l1_offset, old_l1_size * L1E_SIZE,
                        QCOW2_DISCARD_OTHER);
    return 0;

fail:
    qemu_vfree(new_l1_table);
    qcow2_free_clusters(bs, new_l1_offset, new_l1_bytes, QCOW2_DISCARD_OTHER);
    return ret;
}

/*
 * Drop the L1 entries from max_size on (truncate): they are zeroed on disk
 * first, then the L2 tables they pointed to are freed.  The L1 table keeps
 * its size.
 */
int qcow2_shrink_l1_table(BlockDriverState *bs, uint64_t max_size)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;
    int i;

    if (max_size >= s->l1_size) {
        return 0;
    }

    BLKDBG_EVENT(bs->file, BLKDBG_L1_SHRINK_WRITE_TABLE);
    ret = bdrv_pwrite_zeroes(bs->file,
                             s->l1_table_offset + max_size * L1E_SIZE,
                             (s->l1_size - max_size) * L1E_SIZE, 0);
    if (ret < 0) {
        goto fail;
    }

    ret = bdrv_flush(bs->file->bs);
    if (ret < 0) {
        goto fail;
    }

    BLKDBG_EVENT(bs->file, BLKDBG_L1_SHRINK_FREE_L2_CLUSTERS);
    for (i = s->l1_size - 1; i >= (int)max_size; i--) {
        uint64_t l2_offset = s->l1_table[i] & L1E_OFFSET_MASK;

        if (l2_offset == 0) {
            continue;
        }
        qcow2_free_clusters(bs, l2_offset, s->cluster_size,
                            QCOW2_DISCARD_ALWAYS);
        s->l1_table[i] = 0;
    }
    return 0;

fail:
    /*
     * The on-disk entries may be partly zeroed: forget the L2 tables in
     * memory too rather than keep using entries that may be gone.
     */
    memset(s->l1_table + max_size, 0, (s->l1_size - max_size) * L1E_SIZE);
    return ret;
}

/*
 * Write the L1 entry l1_index to disk, together with its neighbours in the
 * smallest block the file can write (its request alignment, at most one
 * cluster).
 */
int qcow2_write_l1_entry(BlockDriverState *bs, int l1_index)
{
    BDRVQcow2State *s = bs->opaque;
    int bufsize = MAX(L1E_SIZE,
                      MIN(bs->file->bs->bl.request_alignment,
                          s->cluster_size));
    int nentries = bufsize / L1E_SIZE;
    int l1_start = QEMU_ALIGN_DOWN(l1_index, nentries);
    g_autofree uint64_t *buf = g_try_malloc0(bufsize);
    int i;
    int ret;

    if (buf == NULL) {
        return -ENOMEM;
    }

    for (i = 0; i < MIN(nentries, s->l1_size - l1_start); i++) {
        buf[i] = cpu_to_be64(s->l1_table[l1_start + i]);
    }

    ret = qcow2_pre_write_overlap_check(bs, QCOW2_OL_ACTIVE_L1,
                                        s->l1_table_offset +
                                        L1E_SIZE * l1_start,
                                        bufsize, false);
    if (ret < 0) {
        return ret;
    }

    BLKDBG_EVENT(bs->file, BLKDBG_L1_UPDATE);
    return bdrv_pwrite_sync(bs->file,
                            s->l1_table_offset + L1E_SIZE * l1_start,
                            bufsize, buf, 0);
}

/* ---- L2 tables ---- */

/*
 * Get the cached slice of the L2 table at l2_offset that holds the entry
 * for guest offset.
 */
static int l2_load(BlockDriverState *bs, uint64_t offset, uint64_t l2_offset,
                   uint64_t **l2_slice)
{
    BDRVQcow2State *s = bs->opaque;
    int first_in_slice = offset_to_l2_index(s, offset) -
                         offset_to_l2_slice_index(s, offset);

    BLKDBG_EVENT(bs->file, BLKDBG_L2_LOAD);
    return qcow2_cache_get(bs, s->l2_table_cache,
                           l2_offset + first_in_slice * L2E_SIZE_NORMAL,
                           (void **)l2_slice);
}

/*
 * Give L1 entry l1_index a new L2 table of its own: empty, or a copy of
 * the table it shares (an L1 entry without COPIED).  The caller drops the
 * reference to the old table.
 */
static int l2_allocate(BlockDriverState *bs, int l1_index)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old_l1_entry = s->l1_table[l1_index];
    uint64_t old_l2_offset = old_l1_entry & L1E_OFFSET_MASK;
    size_t slice_bytes = s->l2_slice_size * L2E_SIZE_NORMAL;
    int n_slices = s->cluster_size / slice_bytes;
    uint64_t *l2_slice = NULL;
    int64_t l2_offset;
    int slice;
    int ret;

    l2_offset = qcow2_alloc_clusters(bs, s->l2_size * L2E_SIZE_NORMAL);
    if (l2_offset < 0) {
        return l2_offset;
    }
    assert((l2_offset & L1E_OFFSET_MASK) == l2_offset);

    /* Cluster 0 holds the header: getting it means the refcounts are bad */
    if (l2_offset == 0) {
        qcow2_signal_corruption(bs, true, -1, -1, "Preventing invalid "
                                "allocation of L2 table at offset 0");
        ret = -EIO;
        goto fail;
    }

    ret = qcow2_cache_flush(bs, s->refcount_block_cache);
    if (ret < 0) {
        goto fail;
    }

    for (slice = 0; slice < n_slices; slice++) {
        uint64_t slice_offset = l2_offset + slice * slice_bytes;

        ret = qcow2_cache_get_empty(bs, s->l2_table_cache, slice_offset,
                                    (void **)&l2_slice);
        if (ret < 0) {
            goto fail;
        }

        if (old_l2_offset == 0) {
            memset(l2_slice, 0, slice_bytes);
        } else {
            uint64_t *old_slice;

            BLKDBG_EVENT(bs->file, BLKDBG_L2_ALLOC_COW_READ);
            ret = qcow2_cache_get(bs, s->l2_table_cache,
                                  old_l2_offset + slice * slice_bytes,
                                  (void **)&old_slice);
            if (ret < 0) {
                goto fail;
            }
            memcpy(l2_slice, old_slice, slice_bytes);
            qcow2_cache_put(s->l2_table_cache, (void **)&old_slice);
        }

        BLKDBG_EVENT(bs->file, BLKDBG_L2_ALLOC_WRITE);
        qcow2_cache_entry_mark_dirty(s->l2_table_cache, l2_slice);
        qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);
    }

    /* The table is complete on disk before the L1 entry points at it */
    ret = qcow2_cache_flush(bs, s->l2_table_cache);
    if (ret < 0) {
        goto fail;
    }

    s->l1_table[l1_index] = l2_offset | QCOW_OFLAG_COPIED;
    ret = qcow2_write_l1_entry(bs, l1_index);
    if (ret < 0) {
        goto fail;
    }
    return 0;

fail:
    if (l2_slice != NULL) {
        qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);
    }
    s->l1_table[l1_index] = old_l1_entry;
    if (l2_offset > 0) {
        qcow2_free_clusters(bs, l2_offset, s->l2_size * L2E_SIZE_NORMAL,
                            QCOW2_DISCARD_ALWAYS);
    }
    return ret;
}

/*
 * Get the L2 slice (and the index into it) for guest offset, ready to be
 * modified: the L1 table grows if needed and an L2 table shared with a
 * snapshot (or missing) is replaced by a private one first.
 */
static int get_cluster_table(BlockDriverState *bs, uint64_t offset,
                             uint64_t **new_l2_slice, int *new_l2_index)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_index = offset_to_l1_index(s, offset);
    uint64_t l2_offset;
    int ret;

    if (l1_index >= s->l1_size) {
        ret = qcow2_grow_l1_table(bs, l1_index + 1, false);
        if (ret < 0) {
            return ret;
        }
    }
    assert(l1_index < s->l1_size);

    l2_offset = s->l1_table[l1_index] & L1E_OFFSET_MASK;
    if (offset_into_cluster(s, l2_offset)) {
        qcow2_signal_corruption(bs, true, -1, -1, "L2 table offset %#" PRIx64
                                " unaligned (L1 index: %#" PRIx64 ")",
                                l2_offset, l1_index);
        return -EIO;
    }

    /*
     * Offset 0 means no L2 table, whatever the flags say (the reads agree);
     * loading "it" would hit the cache's assertion (QEMU 7.2 aborts there).
     */
    if (!(s->l1_table[l1_index] & QCOW_OFLAG_COPIED) || !l2_offset) {
        ret = l2_allocate(bs, l1_index);
        if (ret < 0) {
            return ret;
        }
        if (l2_offset) {
            qcow2_free_clusters(bs, l2_offset, s->l2_size * L2E_SIZE_NORMAL,
                                QCOW2_DISCARD_OTHER);
        }
        l2_offset = s->l1_table[l1_index] & L1E_OFFSET_MASK;
        assert(offset_into_cluster(s, l2_offset) == 0);
    }

    ret = l2_load(bs, offset, l2_offset, new_l2_slice);
    if (ret < 0) {
        return ret;
    }
    *new_l2_index = offset_to_l2_slice_index(s, offset);
    return 0;
}

/* ---- Lookup ---- */

/*
 * How many of the nb_clusters entries from l2_index on can be reported as
 * one run: the same type and, for clusters with data, consecutive host
 * offsets.  Compressed clusters always come one at a time.
 */
static int count_contiguous_clusters(BlockDriverState *bs, int nb_clusters,
                                     uint64_t *l2_slice, int l2_index)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t first = get_l2_entry(l2_slice, l2_index);
    QCow2ClusterType type = qcow2_get_cluster_type(bs, first);
    bool check_offset = type == QCOW2_CLUSTER_NORMAL ||
                        type == QCOW2_CLUSTER_ZERO_ALLOC;
    uint64_t expected_offset = first & L2E_OFFSET_MASK;
    int i;

    if (type == QCOW2_CLUSTER_COMPRESSED) {
        return 1;
    }

    for (i = 1; i < nb_clusters; i++) {
        uint64_t l2_entry = get_l2_entry(l2_slice, l2_index + i);

        if (qcow2_get_cluster_type(bs, l2_entry) != type) {
            break;
        }
        if (check_offset) {
            expected_offset += s->cluster_size;
            if ((l2_entry & L2E_OFFSET_MASK) != expected_offset) {
                break;
            }
        }
    }
    return i;
}

int qcow2_get_host_offset(BlockDriverState *bs, uint64_t offset,
                          unsigned int *bytes, uint64_t *host_offset,
                          QCow2ClusterType *type)
{
    BDRVQcow2State *s = bs->opaque;
    unsigned int offset_in_cluster = offset_into_cluster(s, offset);
    uint64_t bytes_needed = (uint64_t)*bytes + offset_in_cluster;
    uint64_t bytes_available;
    uint64_t l1_index, l2_offset, l2_entry;
    uint64_t *l2_slice = NULL;
    QCow2ClusterType t;
    unsigned int l2_index;
    uint64_t nb_clusters;
    int ret;

    /* A run ends at the end of the L2 slice holding its first entry */
    bytes_available = (uint64_t)(s->l2_slice_size -
                                 offset_to_l2_slice_index(s, offset))
                      << s->cluster_bits;
    if (bytes_needed > bytes_available) {
        bytes_needed = bytes_available;
    }

    *host_offset = 0;

    l1_index = offset_to_l1_index(s, offset);
    if (l1_index >= s->l1_size) {
        t = QCOW2_CLUSTER_UNALLOCATED;
        goto out;
    }

    l2_offset = s->l1_table[l1_index] & L1E_OFFSET_MASK;
    if (!l2_offset) {
        t = QCOW2_CLUSTER_UNALLOCATED;
        goto out;
    }

    if (offset_into_cluster(s, l2_offset)) {
        qcow2_signal_corruption(bs, true, -1, -1, "L2 table offset %#" PRIx64
                                " unaligned (L1 index: %#" PRIx64 ")",
                                l2_offset, l1_index);
        return -EIO;
    }

    ret = l2_load(bs, offset, l2_offset, &l2_slice);
    if (ret < 0) {
        return ret;
    }

    l2_index = offset_to_l2_slice_index(s, offset);
    l2_entry = get_l2_entry(l2_slice, l2_index);
    nb_clusters = size_to_clusters(s, bytes_needed);
    assert(nb_clusters <= INT_MAX);

    t = qcow2_get_cluster_type(bs, l2_entry);
    if (s->qcow_version < 3 && (t == QCOW2_CLUSTER_ZERO_PLAIN ||
                                t == QCOW2_CLUSTER_ZERO_ALLOC)) {
        qcow2_signal_corruption(bs, true, -1, -1, "Zero cluster entry found"
                                " in pre-v3 image (L2 offset: %#" PRIx64
                                ", L2 index: %#x)", l2_offset, l2_index);
        ret = -EIO;
        goto fail;
    }

    switch (t) {
    case QCOW2_CLUSTER_COMPRESSED:
        *host_offset = l2_entry;
        break;
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_UNALLOCATED:
        break;
    case QCOW2_CLUSTER_ZERO_ALLOC:
    case QCOW2_CLUSTER_NORMAL: {
        uint64_t host_cluster = l2_entry & L2E_OFFSET_MASK;

        if (offset_into_cluster(s, host_cluster)) {
            qcow2_signal_corruption(bs, true, -1, -1,
                                    "Cluster allocation offset %#"
                                    PRIx64 " unaligned (L2 offset: %#" PRIx64
                                    ", L2 index: %#x)", host_cluster,
                                    l2_offset, l2_index);
            ret = -EIO;
            goto fail;
        }
        *host_offset = host_cluster + offset_in_cluster;
        break;
    }
    default:
        g_assert_not_reached();
    }

    bytes_available = (uint64_t)count_contiguous_clusters(bs, nb_clusters,
                                                          l2_slice, l2_index)
                      << s->cluster_bits;
    qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);

out:
    if (bytes_available > bytes_needed) {
        bytes_available = bytes_needed;
    }
    assert(bytes_available - offset_in_cluster <= UINT_MAX);
    *bytes = bytes_available - offset_in_cluster;
    *type = t;
    return 0;

fail:
    qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);
    return ret;
}

void qcow2_parse_compressed_l2_entry(BlockDriverState *bs, uint64_t l2_entry,
                                     uint64_t *coffset, int *csize)
{
    BDRVQcow2State *s = bs->opaque;
    int nb_csectors;

    assert(l2_entry & QCOW_OFLAG_COMPRESSED);

    /*
     * The size field counts the 512-byte sectors touched beyond the first;
     * the data starts anywhere in the first one.
     */
    *coffset = l2_entry & s->cluster_offset_mask;
    nb_csectors = ((l2_entry >> s->csize_shift) & s->csize_mask) + 1;
    *csize = nb_csectors * QCOW2_COMPRESSED_SECTOR_SIZE -
             (*coffset & (QCOW2_COMPRESSED_SECTOR_SIZE - 1));
}

/* ---- Allocation for writes ---- */

/*
 * Must a write to a cluster with this L2 entry go to a new cluster?  Only
 * clusters that are ours alone (COPIED) and hold data or preallocated
 * zeroes can be overwritten in place.
 */
static bool cluster_needs_new_alloc(BlockDriverState *bs, uint64_t l2_entry)
{
    switch (qcow2_get_cluster_type(bs, l2_entry)) {
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return !(l2_entry & QCOW_OFLAG_COPIED);
    case QCOW2_CLUSTER_UNALLOCATED:
    case QCOW2_CLUSTER_COMPRESSED:
    case QCOW2_CLUSTER_ZERO_PLAIN:
        return true;
    default:
        g_assert_not_reached();
    }
}

/*
 * Count the entries from l2_index on (at most nb_clusters) that one write
 * can handle together: all needing a new allocation (new_alloc), or all
 * writable in place at consecutive host offsets.
 */
static int count_single_write_clusters(BlockDriverState *bs, int nb_clusters,
                                       uint64_t *l2_slice, int l2_index,
                                       bool new_alloc)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t expected_offset = get_l2_entry(l2_slice, l2_index) &
                               L2E_OFFSET_MASK;
    int i;

    for (i = 0; i < nb_clusters; i++) {
        uint64_t l2_entry = get_l2_entry(l2_slice, l2_index + i);

        if (cluster_needs_new_alloc(bs, l2_entry) != new_alloc) {
            break;
        }
        if (!new_alloc) {
            if ((l2_entry & L2E_OFFSET_MASK) != expected_offset) {
                break;
            }
            expected_offset += s->cluster_size;
        }
    }
    return i;
}

/*
 * Record the allocation of the clusters at host_cluster_offset for the
 * guest range [guest_offset, guest_offset + bytes) in a new QCowL2Meta
 * (prepended to *m), with the head and tail that copy-on-write must fill.
 * keep_old: the clusters are already in the L2 table and written in
 * place; only preallocated zero clusters among them need an L2 update (and
 * COW), so when they all hold data nothing is recorded.
 */
static void calculate_l2_meta(BlockDriverState *bs,
                             uint64_t host_cluster_offset,
                             uint64_t guest_offset, unsigned bytes,
                             uint64_t *l2_slice, QCowL2Meta **m,
                             bool keep_old)
{
    BDRVQcow2State *s = bs->opaque;
    int l2_index = offset_to_l2_slice_index(s, guest_offset);
    unsigned cow_start_to = offset_into_cluster(s, guest_offset);
    unsigned cow_end_from = cow_start_to + bytes;
    unsigned nb_clusters = size_to_clusters(s, cow_end_from);
    unsigned cow_start_from, cow_end_to;
    QCow2ClusterType first_type, last_type;
    QCowL2Meta *old_m = *m;
    unsigned i;

    assert(nb_clusters <= s->l2_slice_size - l2_index);

    if (keep_old) {
        bool all_data = true;

        for (i = 0; i < nb_clusters; i++) {
            uint64_t l2_entry = get_l2_entry(l2_slice, l2_index + i);

            if (qcow2_get_cluster_type(bs, l2_entry) != QCOW2_CLUSTER_NORMAL) {
                all_data = false;
                break;
            }
        }
        if (all_data) {
            return;
        }
    }

    first_type = qcow2_get_cluster_type(bs, get_l2_entry(l2_slice, l2_index));
    last_type = qcow2_get_cluster_type(
        bs, get_l2_entry(l2_slice, l2_index + nb_clusters - 1));

    /*
     * A new cluster gets its whole content: what the write does not cover
     * is copied from the current guest view.  A cluster kept in place only
     * needs that when it was a zero cluster.
     */
    if (keep_old && first_type == QCOW2_CLUSTER_NORMAL) {
        cow_start_from = cow_start_to;
    } else {
        cow_start_from = 0;
    }
    if (keep_old && last_type == QCOW2_CLUSTER_NORMAL) {
        cow_end_to = cow_end_from;
    } else {
        cow_end_to = ROUND_UP(cow_end_from, s->cluster_size);
    }

    *m = g_new0(QCowL2Meta, 1);
    **m = (QCowL2Meta) {
        .next = old_m,
        .alloc_offset = host_cluster_offset,
        .offset = start_of_cluster(s, guest_offset),
        .nb_clusters = nb_clusters,
        .keep_old_clusters = keep_old,
        .cow_start = {
            .offset = cow_start_from,
            .nb_bytes = cow_start_to - cow_start_from,
        },
        .cow_end = {
            .offset = cow_end_from,
            .nb_bytes = cow_end_to - cow_end_from,
        },
    };
    qemu_co_queue_init(&(*m)->dependent_requests);
    QLIST_INSERT_HEAD(&s->cluster_allocs, *m, next_in_flight);
}

/*
 * Serialise against allocations in flight: a request must not touch the
 * clusters (or the COW areas) of another one until its L2 update is done.
 * Shortens *cur_bytes to stop before the first conflict; if the conflict
 * is at the start, waits for it and returns -EAGAIN (the caller starts
 * over), unless this request already made allocations (*m): then
 * *cur_bytes becomes 0 and the caller writes what it has first.
 */
static int coroutine_fn handle_dependencies(BlockDriverState *bs,
                                            uint64_t guest_offset,
                                            uint64_t *cur_bytes,
                                            QCowL2Meta **m)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t start = guest_offset;
    uint64_t bytes = *cur_bytes;
    QCowL2Meta *old_alloc;

    QLIST_FOREACH(old_alloc, &s->cluster_allocs, next_in_flight) {
        uint64_t end = start + bytes;
        uint64_t old_start = start_of_cluster(s, l2meta_cow_start(old_alloc));
        uint64_t old_end = ROUND_UP(l2meta_cow_end(old_alloc),
                                    s->cluster_size);

        if (end <= old_start || start >= old_end) {
            continue;
        }

        /* Same clusters, kept in place, but the COW areas do not meet */
        if (old_alloc->keep_old_clusters &&
            (end <= l2meta_cow_start(old_alloc) ||
             start >= l2meta_cow_end(old_alloc))) {
            continue;
        }

        bytes = start < old_start ? old_start - start : 0;

        if (bytes == 0 && *m) {
            *cur_bytes = 0;
            return 0;
        }
        if (bytes == 0) {
            qemu_co_queue_wait(&old_alloc->dependent_requests, &s->lock);
            return -EAGAIN;
        }
    }

    *cur_bytes = bytes;
    return 0;
}

/*
 * The clusters a write to guest [guest_offset, guest_offset + bytes) deals
 * with in one go: up to the end of the L2 slice, at most one request's
 * worth.  Gets that slice ready to be modified.
 */
static int get_write_range(BlockDriverState *bs, uint64_t guest_offset,
                           uint64_t bytes, uint64_t *nb_clusters,
                           uint64_t **l2_slice, int *l2_index)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t n = size_to_clusters(s, offset_into_cluster(s, guest_offset) +
                                     bytes);

    n = MIN(n, s->l2_slice_size - offset_to_l2_slice_index(s, guest_offset));
    *nb_clusters = MIN(n, BDRV_REQUEST_MAX_BYTES >> s->cluster_bits);
    return get_cluster_table(bs, guest_offset, l2_slice, l2_index);
}

/*
 * Use the clusters at guest_offset that can be written in place (COPIED).
 * *host_offset: INV_OFFSET, or the host offset the run must continue at.
 * Returns 1 with *host_offset and *bytes set to the run found, 0 if the
 * first cluster needs an allocation (or is not at *host_offset: then
 * *bytes is 0), or -errno.
 */
static int coroutine_fn handle_copied(BlockDriverState *bs,
                                      uint64_t guest_offset,
                                      uint64_t *host_offset, uint64_t *bytes,
                                      QCowL2Meta **m)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t nb_clusters;
    uint64_t *l2_slice;
    uint64_t l2_entry, cluster_offset;
    int l2_index;
    int keep_clusters;
    int ret;

    assert(*host_offset == INV_OFFSET ||
           offset_into_cluster(s, guest_offset) ==
           offset_into_cluster(s, *host_offset));

    ret = get_write_range(bs, guest_offset, *bytes, &nb_clusters, &l2_slice,
                          &l2_index);
    if (ret < 0) {
        return ret;
    }

    l2_entry = get_l2_entry(l2_slice, l2_index);
    cluster_offset = l2_entry & L2E_OFFSET_MASK;

    if (cluster_needs_new_alloc(bs, l2_entry)) {
        ret = 0;
        goto out;
    }

    if (offset_into_cluster(s, cluster_offset)) {
        qcow2_signal_corruption(bs, true, -1, -1, "%s cluster offset %#"
                                PRIx64 " unaligned (guest offset: %#" PRIx64
                                ")", l2_entry & QCOW_OFLAG_ZERO ?
                                "Preallocated zero" : "Data",
                                cluster_offset, guest_offset);
        ret = -EIO;
        goto out;
    }

    if (*host_offset != INV_OFFSET && cluster_offset != *host_offset) {
        *bytes = 0;
        ret = 0;
        goto out;
    }

    keep_clusters = count_single_write_clusters(bs, nb_clusters, l2_slice,
                                                l2_index, false);
    assert(keep_clusters <= nb_clusters);
    *bytes = MIN(*bytes, (uint64_t)keep_clusters * s->cluster_size -
                         offset_into_cluster(s, guest_offset));
    assert(*bytes != 0);

    calculate_l2_meta(bs, cluster_offset, guest_offset, *bytes, l2_slice, m,
                      true);
    ret = 1;

out:
    qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);
    /* Only a run that was found may constrain handle_alloc() */
    if (ret > 0) {
        *host_offset = cluster_offset + offset_into_cluster(s, guest_offset);
    }
    return ret;
}

/*
 * Allocate *nb_clusters new host clusters: anywhere (first fit) if
 * *host_offset is INV_OFFSET, else right there, as many as are free
 * (*nb_clusters shrinks, possibly to 0).
 */
static int coroutine_fn do_alloc_cluster_offset(BlockDriverState *bs,
                                                uint64_t *host_offset,
                                                uint64_t *nb_clusters)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t ret;

    if (*host_offset == INV_OFFSET) {
        ret = qcow2_alloc_clusters(bs, *nb_clusters * s->cluster_size);
        if (ret < 0) {
            return ret;
        }
        *host_offset = ret;
        return 0;
    }

    ret = qcow2_alloc_clusters_at(bs, *host_offset, *nb_clusters);
    if (ret < 0) {
        return ret;
    }
    *nb_clusters = ret;
    return 0;
}

/*
 * Allocate new clusters for the start of guest_offset..+*bytes, as many
 * consecutive ones as need it (in one L2 slice), at *host_offset if that
 * is not INV_OFFSET.  Returns 1 with *host_offset and *bytes set to what
 * was allocated, 0 if nothing could be allocated at *host_offset (*bytes
 * is 0), or -errno.
 */
static int coroutine_fn handle_alloc(BlockDriverState *bs,
                                     uint64_t guest_offset,
                                     uint64_t *host_offset, uint64_t *bytes,
                                     QCowL2Meta **m)
{
    BDRVQcow2State *s = bs->opaque;
    unsigned in_cluster = offset_into_cluster(s, guest_offset);
    uint64_t alloc_cluster_offset;
    uint64_t nb_clusters;
    uint64_t requested_bytes, avail_bytes, nb_bytes;
    uint64_t *l2_slice;
    int l2_index;
    int ret;

    assert(*bytes > 0);

    ret = get_write_range(bs, guest_offset, *bytes, &nb_clusters, &l2_slice,
                          &l2_index);
    if (ret < 0) {
        return ret;
    }

    nb_clusters = count_single_write_clusters(bs, nb_clusters, l2_slice,
                                              l2_index, true);
    /* handle_copied() found nothing writable in place here */
    assert(nb_clusters > 0);

    alloc_cluster_offset = *host_offset == INV_OFFSET ? INV_OFFSET :
                           start_of_cluster(s, *host_offset);
    ret = do_alloc_cluster_offset(bs, &alloc_cluster_offset, &nb_clusters);
    if (ret < 0) {
        goto out;
    }

    /* The contiguous run cannot be extended */
    if (nb_clusters == 0) {
        *bytes = 0;
        ret = 0;
        goto out;
    }
    assert(alloc_cluster_offset != INV_OFFSET);

    /*
     * requested_bytes: from the first new cluster to the end of the
     * request; avail_bytes: the new clusters; nb_bytes: what of them the
     * data covers (COW at the end excluded).
     */
    requested_bytes = *bytes + in_cluster;
    avail_bytes = nb_clusters << s->cluster_bits;
    nb_bytes = MIN(requested_bytes, avail_bytes);

    *host_offset = alloc_cluster_offset + in_cluster;
    *bytes = MIN(*bytes, nb_bytes - in_cluster);
    assert(*bytes != 0);

    calculate_l2_meta(bs, alloc_cluster_offset, guest_offset, *bytes,
                      l2_slice, m, false);
    ret = 1;

out:
    qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);
    return ret;
}

int coroutine_fn qcow2_alloc_host_offset(BlockDriverState *bs,
                                         uint64_t offset,
                                         unsigned int *bytes,
                                         uint64_t *host_offset,
                                         QCowL2Meta **m)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t start, remaining;
    uint64_t cluster_offset;
    uint64_t cur_bytes;
    int ret;

again:
    start = offset;
    remaining = *bytes;
    cluster_offset = INV_OFFSET;
    *host_offset = INV_OFFSET;
    cur_bytes = 0;
    *m = NULL;

    /*
     * Gather one contiguous host run: clusters writable in place first,
     * then new allocations that continue right after them.
     */
    while (true) {
        if (*host_offset == INV_OFFSET && cluster_offset != INV_OFFSET) {
            *host_offset = cluster_offset;
        }

        assert(remaining >= cur_bytes);
        start += cur_bytes;
        remaining -= cur_bytes;
        if (cluster_offset != INV_OFFSET) {
            cluster_offset += cur_bytes;
        }

        if (remaining == 0) {
            break;
        }
        cur_bytes = remaining;

        /* 1. Wait for, or stop before, overlapping allocations in flight */
        ret = handle_dependencies(bs, start, &cur_bytes, m);
        if (ret == -EAGAIN) {
            /* We only wait while we hold no allocation of our own */
            assert(*m == NULL);
            goto again;
        } else if (ret < 0) {
            return ret;
        } else if (cur_bytes == 0) {
            break;
        }

        /* 2. Clusters that can be overwritten in place */
        ret = handle_copied(bs, start, &cluster_offset, &cur_bytes, m);
        if (ret < 0) {
            return ret;
        } else if (ret) {
            continue;
        } else if (cur_bytes == 0) {
            break;
        }

        /* 3. New clusters, contiguous with what we have */
        ret = handle_alloc(bs, start, &cluster_offset, &cur_bytes, m);
        if (ret < 0) {
            return ret;
        } else if (ret) {
            continue;
        } else {
            assert(cur_bytes == 0);
            break;
        }
    }

    *bytes -= remaining;
    assert(*bytes > 0);
    assert(*host_offset != INV_OFFSET);
    assert(offset_into_cluster(s, *host_offset) ==
           offset_into_cluster(s, offset));
    return 0;
}

/* Read guest data of the area being copied, through the qcow2 read path */
static int coroutine_fn do_perform_cow_read(BlockDriverState *bs,
                                            uint64_t src_cluster_offset,
                                            unsigned offset_in_cluster,
                                            QEMUIOVector *qiov)
{
    if (qiov->size == 0) {
        return 0;
    }

    BLKDBG_EVENT(bs->file, BLKDBG_COW_READ);
    if (!bs->drv) {
        return -ENOMEDIUM;
    }

    /*
     * Call the driver directly: going through bdrv_co_preadv() would wait
     * for the serialising write request that we are part of.
     */
    return bs->drv->bdrv_co_preadv_part(bs,
                                        src_cluster_offset + offset_in_cluster,
                                        qiov->size, qiov, 0, 0);
}

static int coroutine_fn do_perform_cow_write(BlockDriverState *bs,
                                             uint64_t cluster_offset,
                                             unsigned offset_in_cluster,
                                             QEMUIOVector *qiov)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (qiov->size == 0) {
        return 0;
    }

    ret = qcow2_pre_write_overlap_check(bs, 0,
                                        cluster_offset + offset_in_cluster,
                                        qiov->size, true);
    if (ret < 0) {
        return ret;
    }

    BLKDBG_EVENT(bs->file, BLKDBG_COW_WRITE);
    return bdrv_co_pwritev(s->data_file, cluster_offset + offset_in_cluster,
                           qiov->size, qiov, 0);
}

/*
 * Fill the head and tail of m's new clusters from the current guest view.
 * If the guest data of the write is attached (m->data_qiov), it goes out
 * in the same write as the COW regions.
 */
static int coroutine_fn perform_cow(BlockDriverState *bs, QCowL2Meta *m)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2COWRegion *start = &m->cow_start;
    Qcow2COWRegion *end = &m->cow_end;
    unsigned data_bytes = end->offset - (start->offset + start->nb_bytes);
    unsigned buffer_size;
    bool merge_reads;
    uint8_t *start_buffer, *end_buffer;
    QEMUIOVector qiov;
    int ret;

    assert(start->nb_bytes <= UINT_MAX - end->nb_bytes);
    assert(start->nb_bytes + end->nb_bytes <= UINT_MAX - data_bytes);
    assert(start->offset + start->nb_bytes <= end->offset);

    if ((start->nb_bytes == 0 && end->nb_bytes == 0) || m->skip_cow) {
        return 0;
    }

    /* Both regions with a small gap: one read covers them */
    merge_reads = start->nb_bytes && end->nb_bytes && data_bytes <= 16384;
    if (merge_reads) {
        buffer_size = start->nb_bytes + data_bytes + end->nb_bytes;
    } else {
        /* Two reads: keep the end region aligned in the buffer */
        size_t align = bdrv_opt_mem_align(bs);

        assert(align > 0 && align <= UINT_MAX);
        assert(QEMU_ALIGN_UP(start->nb_bytes, align) <=
               UINT_MAX - end->nb_bytes);
        buffer_size = QEMU_ALIGN_UP(start->nb_bytes, align) + end->nb_bytes;
    }

    start_buffer = qemu_try_blockalign(bs, buffer_size);
    if (start_buffer == NULL) {
        return -ENOMEM;
    }
    end_buffer = start_buffer + buffer_size - end->nb_bytes;

    qemu_iovec_init(&qiov, 2 + (m->data_qiov ?
                                qemu_iovec_subvec_niov(m->data_qiov,
                                                       m->data_qiov_offset,
                                                       data_bytes)
                                : 0));

    qemu_co_mutex_unlock(&s->lock);

    if (merge_reads) {
        qemu_iovec_add(&qiov, start_buffer, buffer_size);
        ret = do_perform_cow_read(bs, m->offset, start->offset, &qiov);
    } else {
        qemu_iovec_add(&qiov, start_buffer, start->nb_bytes);
        ret = do_perform_cow_read(bs, m->offset, start->offset, &qiov);
        if (ret < 0) {
            goto fail;
        }
        qemu_iovec_reset(&qiov);
        qemu_iovec_add(&qiov, end_buffer, end->nb_bytes);
        ret = do_perform_cow_read(bs, m->offset, end->offset, &qiov);
    }
    if (ret < 0) {
        goto fail;
    }

    if (m->data_qiov) {
        qemu_iovec_reset(&qiov);
        if (start->nb_bytes) {
            qemu_iovec_add(&qiov, start_buffer, start->nb_bytes);
        }
        qemu_iovec_concat(&qiov, m->data_qiov, m->data_qiov_offset,
                          data_bytes);
        if (end->nb_bytes) {
            qemu_iovec_add(&qiov, end_buffer, end->nb_bytes);
        }
        /* The guest write and the COW are one request on the file */
        BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
        ret = do_perform_cow_write(bs, m->alloc_offset, start->offset, &qiov);
    } else {
        qemu_iovec_reset(&qiov);
        qemu_iovec_add(&qiov, start_buffer, start->nb_bytes);
        ret = do_perform_cow_write(bs, m->alloc_offset, start->offset, &qiov);
        if (ret < 0) {
            goto fail;
        }
        qemu_iovec_reset(&qiov);
        qemu_iovec_add(&qiov, end_buffer, end->nb_bytes);
        ret = do_perform_cow_write(bs, m->alloc_offset, end->offset, &qiov);
    }

fail:
    qemu_co_mutex_lock(&s->lock);

    /*
     * The L2 update that follows must not reach the disk before the data
     * and COW written here do.
     */
    if (ret == 0) {
        qcow2_cache_depends_on_flush(s->l2_table_cache);
    }

    qemu_vfree(start_buffer);
    qemu_iovec_destroy(&qiov);
    return ret;
}

int coroutine_fn qcow2_alloc_cluster_link_l2(BlockDriverState *bs,
                                             QCowL2Meta *m)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint64_t *old_cluster = NULL;
    uint64_t *l2_slice;
    int l2_index;
    int i, j = 0;
    int ret;

    assert(m->nb_clusters > 0);

    old_cluster = g_try_new(uint64_t, m->nb_clusters);
    if (old_cluster == NULL) {
        return -ENOMEM;
    }

    ret = perform_cow(bs, m);
    if (ret < 0) {
        return ret;
    }

    if (s->use_lazy_refcounts) {
        qcow2_mark_dirty(bs);
    }
    /* New refcounts are on disk before the L2 entries pointing there */
    if (qcow2_need_accurate_refcounts(s)) {
        qcow2_cache_set_dependency(bs, s->l2_table_cache,
                                   s->refcount_block_cache);
    }

    ret = get_cluster_table(bs, m->offset, &l2_slice, &l2_index);
    if (ret < 0) {
        return ret;
    }
    qcow2_cache_entry_mark_dirty(s->l2_table_cache, l2_slice);

    assert(l2_index + m->nb_clusters <= s->l2_slice_size);
    assert(m->cow_end.offset + m->cow_end.nb_bytes <=
           (uint64_t)m->nb_clusters << s->cluster_bits);
    for (i = 0; i < m->nb_clusters; i++) {
        uint64_t offset = m->alloc_offset + ((uint64_t)i << s->cluster_bits);
        uint64_t old_entry = get_l2_entry(l2_slice, l2_index + i);

        /*
         * Concurrent writes to one unallocated cluster each allocate one:
         * the second to get here replaces the first's, which is freed.
         */
        if (old_entry != 0) {
            old_cluster[j++] = old_entry;
        }
        assert((offset & L2E_OFFSET_MASK) == offset);
        set_l2_entry(l2_slice, l2_index + i, offset | QCOW_OFLAG_COPIED);
    }
    qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);

    /*
     * Drop the clusters that were replaced (COW of shared or compressed
     * clusters).  Not discarded: the next allocation reuses them anyway.
     */
    if (!m->keep_old_clusters) {
        for (i = 0; i < j; i++) {
            qcow2_free_any_cluster(bs, old_cluster[i], QCOW2_DISCARD_NEVER);
        }
    }
    return 0;
}

void qcow2_alloc_cluster_abort(BlockDriverState *bs, QCowL2Meta *m)
{
    BDRVQcow2State *s = bs->opaque;

    if (!m->keep_old_clusters) {
        qcow2_free_clusters(bs, m->alloc_offset,
                            (uint64_t)m->nb_clusters << s->cluster_bits,
                            QCOW2_DISCARD_NEVER);
    }
}

/* ---- Compressed clusters ---- */

int coroutine_fn qcow2_alloc_compressed_cluster_offset(BlockDriverState *bs,
                                                       uint64_t offset,
                                                       int compressed_size,
                                                       uint64_t *host_offset)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t *l2_slice;
    int64_t cluster_offset;
    uint64_t l2_entry;
    int nb_csectors;
    int l2_index;
    int ret;

    ret = get_cluster_table(bs, offset, &l2_slice, &l2_index);
    if (ret < 0) {
        return ret;
    }

    /* A compressed write never replaces a cluster */
    if (get_l2_entry(l2_slice, l2_index) & L2E_OFFSET_MASK) {
        qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);
        return -EIO;
    }

    cluster_offset = qcow2_alloc_bytes(bs, compressed_size);
    if (cluster_offset < 0) {
        qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);
        return cluster_offset;
    }

    /* Sectors touched beyond the first one */
    nb_csectors = (cluster_offset + compressed_size - 1) /
                  QCOW2_COMPRESSED_SECTOR_SIZE -
                  cluster_offset / QCOW2_COMPRESSED_SECTOR_SIZE;
    assert((cluster_offset & s->cluster_offset_mask) == cluster_offset);
    assert((nb_csectors & s->csize_mask) == nb_csectors);

    /* Compressed clusters never carry COPIED */
    l2_entry = cluster_offset | QCOW_OFLAG_COMPRESSED |
               ((uint64_t)nb_csectors << s->csize_shift);

    BLKDBG_EVENT(bs->file, BLKDBG_L2_UPDATE_COMPRESSED);
    qcow2_cache_entry_mark_dirty(s->l2_table_cache, l2_slice);
    set_l2_entry(l2_slice, l2_index, l2_entry);
    qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);

    *host_offset = cluster_offset;
    return 0;
}

/* ---- Discard and zero clusters ---- */

/*
 * How an L2 entry changes: returns the new entry and sets *free_old when
 * the old entry's host cluster (or compressed bytes) must be freed.
 */
typedef uint64_t L2EntryRule(BlockDriverState *bs, uint64_t old_l2_entry,
                             int arg, bool *free_old);

/*
 * Discard: arg is full_discard.  A full discard empties the entry, so the
 * cluster reads from the backing file again.  Otherwise it must read as
 * zeroes, which takes the zero flag (v3) unless nothing shows through
 * anyway; v2 can only unmap.
 */
static uint64_t discard_rule(BlockDriverState *bs, uint64_t old_l2_entry,
                             int full_discard, bool *free_old)
{
    BDRVQcow2State *s = bs->opaque;
    QCow2ClusterType type = qcow2_get_cluster_type(bs, old_l2_entry);

    *free_old = true;
    if (full_discard) {
        return 0;
    }
    if (bs->backing || cluster_is_allocated(type)) {
        return s->qcow_version >= 3 ? QCOW_OFLAG_ZERO : 0;
    }
    return old_l2_entry;
}

/*
 * Zero (v3 zero flag): arg is the request flags.  With BDRV_REQ_MAY_UNMAP
 * the host cluster is freed; a compressed one always is (a zero cluster
 * cannot keep compressed data).
 */
static uint64_t zero_rule(BlockDriverState *bs, uint64_t old_l2_entry,
                          int flags, bool *free_old)
{
    QCow2ClusterType type = qcow2_get_cluster_type(bs, old_l2_entry);

    *free_old = type == QCOW2_CLUSTER_COMPRESSED ||
                ((flags & BDRV_REQ_MAY_UNMAP) && cluster_is_allocated(type));
    return (*free_old ? 0 : old_l2_entry) | QCOW_OFLAG_ZERO;
}

/*
 * Apply rule to nb_clusters entries from guest offset, at most up to the
 * end of its L2 slice; returns how many were handled, or -errno.
 */
static int update_in_l2_slice(BlockDriverState *bs, uint64_t offset,
                              uint64_t nb_clusters, L2EntryRule *rule,
                              int arg, enum qcow2_discard_type type)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t *l2_slice;
    int l2_index;
    int ret;
    int i;

    ret = get_cluster_table(bs, offset, &l2_slice, &l2_index);
    if (ret < 0) {
        return ret;
    }

    nb_clusters = MIN(nb_clusters, s->l2_slice_size - l2_index);
    assert(nb_clusters <= INT_MAX);

    for (i = 0; i < nb_clusters; i++) {
        uint64_t old_l2_entry = get_l2_entry(l2_slice, l2_index + i);
        bool free_old;
        uint64_t new_l2_entry = rule(bs, old_l2_entry, arg, &free_old);

        if (old_l2_entry == new_l2_entry) {
            continue;
        }

        /* The entry changes first, then the refcount */
        qcow2_cache_entry_mark_dirty(s->l2_table_cache, l2_slice);
        set_l2_entry(l2_slice, l2_index + i, new_l2_entry);
        if (free_old) {
            qcow2_free_any_cluster(bs, old_l2_entry, type);
        }
    }

    qcow2_cache_put(s->l2_table_cache, (void **)&l2_slice);
    return nb_clusters;
}

/*
 * Apply rule to the clusters of guest [offset, offset + bytes), slice by
 * slice.  The freed host ranges are collected and discarded in one go at
 * the end.
 */
static int update_l2_entries(BlockDriverState *bs, uint64_t offset,
                             uint64_t bytes, L2EntryRule *rule, int arg,
                             enum qcow2_discard_type type)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t nb_clusters = size_to_clusters(s, bytes);
    int64_t done;
    int ret = 0;

    s->cache_discards = true;
    while (nb_clusters > 0) {
        done = update_in_l2_slice(bs, offset, nb_clusters, rule, arg, type);
        if (done < 0) {
            ret = done;
            break;
        }
        nb_clusters -= done;
        offset += done * s->cluster_size;
    }
    s->cache_discards = false;
    qcow2_process_discards(bs, ret);
    return ret;
}

int qcow2_cluster_discard(BlockDriverState *bs, uint64_t offset,
                          uint64_t bytes, enum qcow2_discard_type type,
                          bool full_discard)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t end_offset = offset + bytes;

    /* Whole clusters only, but for a partial one at the end of the image */
    assert(QEMU_IS_ALIGNED(offset, s->cluster_size));
    assert(QEMU_IS_ALIGNED(end_offset, s->cluster_size) ||
           end_offset == bs->total_sectors << BDRV_SECTOR_BITS);

    return update_l2_entries(bs, offset, bytes, discard_rule, full_discard,
                             type);
}

int coroutine_fn qcow2_subcluster_zeroize(BlockDriverState *bs,
                                          uint64_t offset, uint64_t bytes,
                                          int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t end_offset = offset + bytes;

    /* Whole clusters only, but for a partial one at the end of the image */
    assert(QEMU_IS_ALIGNED(offset, s->cluster_size));
    assert(QEMU_IS_ALIGNED(end_offset, s->cluster_size) ||
           end_offset >= bs->total_sectors << BDRV_SECTOR_BITS);

    /*
     * v2 has no zero flag; without a backing file an unallocated cluster
     * reads as zeroes, so discarding does the job.
     */
    if (s->qcow_version < 3) {
        if (!bs->backing) {
            return qcow2_cluster_discard(bs, offset, bytes,
                                         QCOW2_DISCARD_REQUEST, false);
        }
        return -ENOTSUP;
    }

    return update_l2_entries(bs, offset, bytes, zero_rule, flags,
                             QCOW2_DISCARD_REQUEST);
}
