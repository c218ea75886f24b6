/*
 * Write threshold (block-core.md §7, test-write-threshold): a write below
 * the threshold leaves it armed; a write crossing it fires once, which
 * disarms it (resets it to 0); 0 means disabled.
 */
#include "qemu/osdep.h"
#include "block/write-threshold.h"

#define THRESHOLD (4 * 1024 * 1024)

static void test_threshold_not_set(void)
{
    BlockDriverState bs = { 0 };

    g_assert_cmpuint(bdrv_write_threshold_get(&bs), ==, 0);
    /* Disabled: no write can fire it. */
    bdrv_write_threshold_check_write(&bs, INT64_MAX / 2, 4096);
    g_assert_cmpuint(bdrv_write_threshold_get(&bs), ==, 0);
}

static void test_threshold_set_get(void)
{
    BlockDriverState bs = { 0 };

    bdrv_write_threshold_set(&bs, THRESHOLD);
    g_assert_cmpuint(bdrv_write_threshold_get(&bs), ==, THRESHOLD);
}

static void test_threshold_not_trigger(void)
{
    BlockDriverState bs = { 0 };

    bdrv_write_threshold_set(&bs, THRESHOLD);
    bdrv_write_threshold_check_write(&bs, 1024, 1024);
    /* Ending exactly at the threshold does not cross it. */
    bdrv_write_threshold_check_write(&bs, THRESHOLD - 1024, 1024);
    g_assert_cmpuint(bdrv_write_threshold_get(&bs), ==, THRESHOLD);
}

static void test_threshold_trigger(void)
{
    BlockDriverState bs = { 0 };

    bdrv_write_threshold_set(&bs, THRESHOLD);
    bdrv_write_threshold_check_write(&bs, THRESHOLD - 1024, 2 * 1024);
    g_assert_cmpuint(bdrv_write_threshold_get(&bs), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/write-threshold/not-set-on-init", test_threshold_not_set);
    g_test_add_func("/write-threshold/set-get", test_threshold_set_get);
    g_test_add_func("/write-threshold/not-trigger", test_threshold_not_trigger);
    g_test_add_func("/write-threshold/trigger", test_threshold_trigger);
    return g_test_run();
}
