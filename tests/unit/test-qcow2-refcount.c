/*
 * qcow2 refcount entry packing (refcount_order 0..6) against the layout of
 * docs/interop/qcow2.txt: entries narrower than a byte fill each byte from
 * its lowest-order bits up, wider ones are big-endian.  QEMU 7.2's
 * `qemu-img create -o refcount_bits=N` gives the first refcount block of a
 * 1M image (clusters 0-3 in use) as 0f / 55 / 11 11 / 01 01 01 01 /
 * 00 01 00 01 ... for N = 1, 2, 4, 8, 16, which the first case repeats.
 */
#include "qemu/osdep.h"
#include "block/qcow2.h"

typedef struct PackCase {
    int order;
    int nb_values;
    uint64_t values[6];             /* for indexes 0.. */
    int nb_bytes;
    uint8_t bytes[16];              /* the array they give */
} PackCase;

static const PackCase cases[] = {
    /* Four clusters with refcount 1, as in a fresh image */
    { 0, 4, { 1, 1, 1, 1 }, 1, { 0x0f } },
    { 1, 4, { 1, 1, 1, 1 }, 1, { 0x55 } },
    { 2, 4, { 1, 1, 1, 1 }, 2, { 0x11, 0x11 } },
    { 3, 4, { 1, 1, 1, 1 }, 4, { 1, 1, 1, 1 } },
    { 4, 4, { 1, 1, 1, 1 }, 8, { 0, 1, 0, 1, 0, 1, 0, 1 } },
    /* Mixed values, crossing into the next byte */
    { 0, 6, { 1, 0, 0, 1, 0, 0 }, 1, { 0x09 } },
    { 1, 5, { 1, 2, 3, 0, 2 }, 2, { 0x39, 0x02 } },
    { 2, 3, { 0xa, 0x5, 0xf }, 2, { 0x5a, 0x0f } },
    { 3, 2, { 0x12, 0xff }, 2, { 0x12, 0xff } },
    { 4, 2, { 0x1234, 0xabcd }, 4, { 0x12, 0x34, 0xab, 0xcd } },
    { 5, 2, { 0x01020304, 0xfffffffe }, 8,
      { 0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xfe } },
    { 6, 2, { 0x0102030405060708ULL, UINT64_MAX }, 16,
      { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
};

static void test_pack(void)
{
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        const PackCase *pc = &cases[c];
        Qcow2GetRefcountFunc *get = qcow2_get_refcount_func(pc->order);
        Qcow2SetRefcountFunc *set = qcow2_set_refcount_func(pc->order);
        uint8_t array[32];

        /* Bytes past the entries set must stay untouched */
        memset(array, 0, sizeof(array));
        for (int i = 0; i < pc->nb_values; i++) {
            set(array, i, pc->values[i]);
        }
        g_assert_cmpmem(array, pc->nb_bytes, pc->bytes, pc->nb_bytes);
        for (size_t i = pc->nb_bytes; i < sizeof(array); i++) {
            g_assert_cmpint(array[i], ==, 0);
        }
        for (int i = 0; i < pc->nb_values; i++) {
            g_assert_cmpuint(get(array, i), ==, pc->values[i]);
        }
    }
}

/* Setting an entry clears its old bits and leaves its neighbours alone. */
static void test_overwrite(void)
{
    for (int order = 0; order <= 6; order++) {
        Qcow2GetRefcountFunc *get = qcow2_get_refcount_func(order);
        Qcow2SetRefcountFunc *set = qcow2_set_refcount_func(order);
        uint64_t max = order == 6 ? UINT64_MAX : (1ULL << (1 << order)) - 1;
        uint8_t array[16 * 8];

        memset(array, 0xff, sizeof(array));
        for (int i = 0; i < 16; i++) {
            g_assert_cmpuint(get(array, i), ==, max);
        }
        set(array, 5, 0);
        for (int i = 0; i < 16; i++) {
            g_assert_cmpuint(get(array, i), ==, i == 5 ? 0 : max);
        }
        set(array, 5, 1);
        set(array, 6, 0);
        g_assert_cmpuint(get(array, 4), ==, max);
        g_assert_cmpuint(get(array, 5), ==, 1);
        g_assert_cmpuint(get(array, 6), ==, 0);
        g_assert_cmpuint(get(array, 7), ==, max);
    }
    /* The bit positions of entry 5 for each sub-byte width */
    {
        uint8_t a[4] = { 0 };

        qcow2_set_refcount_func(0)(a, 5, 1);
        g_assert_cmpint(a[0], ==, 0x20);
        memset(a, 0, sizeof(a));
        qcow2_set_refcount_func(1)(a, 5, 3);
        g_assert_cmpint(a[1], ==, 0x0c);
        memset(a, 0, sizeof(a));
        qcow2_set_refcount_func(2)(a, 5, 9);
        g_assert_cmpint(a[2], ==, 0x90);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qcow2-refcount/pack", test_pack);
    g_test_add_func("/qcow2-refcount/overwrite", test_overwrite);
    return g_test_run();
}
