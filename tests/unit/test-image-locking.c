/*
 * Image locking of the file driver (block/file-posix.c).
 *
 * QEMU's scheme (block-core.md 1.4): byte 100+i of the image is locked
 * while an open holds permission bit i, byte 200+i while it does not share
 * bit i.  The tests look at the locks from outside, with F_OFD_GETLK on a
 * descriptor of their own, and check them against that rule; the
 * cross-process tests use QEMU 7.2's qemu-io as the other party.
 */
#include "qemu/osdep.h"
#include <signal.h>
#include <sys/wait.h>
#include "block/block_int.h"
#include "block/block-backend.h"
#include "qemu/error.h"
#include "qemu/main-loop.h"
#include "test-helpers.h"

#define QEMU_IO "/usr/bin/qemu-io"
#define QEMU_IMG "/usr/bin/qemu-img"

static char *tmp_dir;

/* Is byte off of path locked by some open file description? */
static bool byte_locked(const char *path, int off)
{
    struct flock fl = {
        .l_whence = SEEK_SET,
        .l_start = off,
        .l_len = 1,
        .l_type = F_WRLCK,
    };
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(fcntl(fd, F_OFD_GETLK, &fl), ==, 0);
    close(fd);
    return fl.l_type != F_UNLCK;
}

/* Locked bytes must be exactly 100+i for held, 200+i for unshared bits. */
static void check_locked_bytes(const char *path, uint64_t held,
                               uint64_t unshared)
{
    for (int i = 0; i < 4; i++) {
        g_assert_cmpint(byte_locked(path, 100 + i), ==, !!(held & (1 << i)));
        g_assert_cmpint(byte_locked(path, 200 + i), ==,
                        !!(unshared & (1 << i)));
    }
}

/* No lock at all anywhere in the file. */
static void check_unlocked(const char *path)
{
    struct flock fl = {
        .l_whence = SEEK_SET,
        .l_start = 0,
        .l_len = 0,
        .l_type = F_WRLCK,
    };
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(fcntl(fd, F_OFD_GETLK, &fl), ==, 0);
    g_assert_cmpint(fl.l_type, ==, F_UNLCK);
    close(fd);
}

/* What error_report_err prints for err (which it frees). */
static char *report_text(Error *err)
{
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    char *text;
    size_t len;

    g_assert_nonnull(f);
    fflush(stderr);
    dup2(fileno(f), STDERR_FILENO);
    error_report_err(err);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    len = ftell(f);
    text = g_malloc0(len + 1);
    rewind(f);
    g_assert_cmpint(fread(text, 1, len, f), ==, len);
    fclose(f);
    return text;
}

/* A BlockBackend on a file node with exactly these permissions. */
static BlockBackend *open_image(const char *path, uint64_t perm,
                                uint64_t shared, Error **errp)
{
    QDict *options = qdict_new();
    BlockBackend *blk;
    bool rw = perm & (BLK_PERM_WRITE | BLK_PERM_WRITE_UNCHANGED |
                      BLK_PERM_RESIZE);

    qdict_put_str(options, "driver", "file");
    qdict_put_str(options, "filename", path);
    blk = blk_new_open(NULL, NULL, options, rw ? BDRV_O_RDWR : 0, errp);
    if (blk && blk_set_perm(blk, perm, shared, errp) < 0) {
        blk_unref(blk);
        blk = NULL;
    }
    return blk;
}

static void check_perm(BlockBackend *blk, uint64_t perm, uint64_t shared)
{
    uint64_t p, s;

    blk_get_perm(blk, &p, &s);
    g_assert_cmphex(p, ==, perm);
    g_assert_cmphex(s, ==, shared);
}

static void test_basic(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "basic.img", 1024 * 1024);
    const uint64_t perm = BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE;
    BlockBackend *blk1, *blk2, *blk3;
    Error *err = NULL;

    /* A file nobody opened carries no locks. */
    check_unlocked(path);

    blk1 = open_image(path, perm, BLK_PERM_ALL, &error_abort);
    check_locked_bytes(path, perm, 0);

    /* Compatible: everything is shared.  The extra bit adds its byte. */
    blk2 = open_image(path, perm | BLK_PERM_RESIZE, BLK_PERM_ALL,
                      &error_abort);
    check_locked_bytes(path, perm | BLK_PERM_RESIZE, 0);

    /* Unsharing what the others hold fails, and locks nothing new. */
    blk3 = open_image(path, perm, BLK_PERM_WRITE_UNCHANGED, &err);
    g_assert_null(blk3);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Failed to get shared \"consistent read\" lock");
    error_free_or_abort(&err);
    check_locked_bytes(path, perm | BLK_PERM_RESIZE, 0);

    /* Closing blk2 drops only the byte that only it held. */
    blk_unref(blk2);
    check_locked_bytes(path, perm, 0);

    blk_unref(blk1);
    check_unlocked(path);

    /* Now unused: exclusive use works and shows in the unshared bytes. */
    blk3 = open_image(path, BLK_PERM_ALL, BLK_PERM_WRITE_UNCHANGED,
                      &error_abort);
    check_locked_bytes(path, BLK_PERM_ALL,
                       BLK_PERM_ALL & ~BLK_PERM_WRITE_UNCHANGED);
    blk_unref(blk3);
    check_unlocked(path);
    unlink(path);
}

/* A conflicting second writer gets QEMU's message and hint. */
static void test_conflict_message(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "conflict.img", 65536);
    g_autofree char *hint = g_strdup_printf(
        "Failed to get \"write\" lock\n"
        "Is another process using the image [%s]?\n", path);
    g_autofree char *report = NULL;
    const uint64_t rw = BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE;
    BlockBackend *blk1, *blk2;
    Error *err = NULL;

    blk1 = open_image(path, rw, BLK_PERM_CONSISTENT_READ, &error_abort);
    check_locked_bytes(path, rw, BLK_PERM_ALL & ~BLK_PERM_CONSISTENT_READ);

    blk2 = open_image(path, rw, BLK_PERM_ALL, &err);
    g_assert_null(blk2);
    g_assert_cmpstr(error_get_pretty(err), ==, "Failed to get \"write\" lock");
    /* The hint follows the message when the error is reported. */
    report = report_text(err);
    err = NULL;
    g_assert_true(g_str_has_suffix(report, hint));

    /* A reader that shares reads but not writes, while blk1 writes. */
    blk2 = open_image(path, BLK_PERM_CONSISTENT_READ,
                      BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE_UNCHANGED,
                      &err);
    g_assert_null(blk2);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Failed to get shared \"write\" lock");
    error_free_or_abort(&err);

    /* qemu-io -c 'write 0 512' while blk1 is open: fails in the open. */
    blk2 = blk_new_open(path, NULL, test_opts("driver=file"), BDRV_O_RDWR,
                        &err);
    g_assert_null(blk2);
    g_assert_cmpstr(error_get_pretty(err), ==, "Failed to get \"write\" lock");
    error_free_or_abort(&err);

    /* The failures left blk1's locks and permissions as they were. */
    check_locked_bytes(path, rw, BLK_PERM_ALL & ~BLK_PERM_CONSISTENT_READ);
    check_perm(blk1, rw, BLK_PERM_CONSISTENT_READ);
    g_assert_null(QLIST_NEXT(QLIST_FIRST(&blk_bs(blk1)->parents),
                             next_parent));

    blk_unref(blk1);
    unlink(path);
}

/* A failed permission change leaves the lock bytes as they were. */
static void test_set_perm_abort(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "abort.img", 65536);
    const uint64_t perm = BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE;
    const uint64_t shared = BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE;
    BlockBackend *blk1, *blk2;

    blk1 = open_image(path, perm, shared, &error_abort);
    blk2 = open_image(path, perm, shared, &error_abort);
    check_locked_bytes(path, perm, ~shared & BLK_PERM_ALL);

    /* blk1 does not share RESIZE. */
    g_assert_cmpint(blk_set_perm(blk2, perm | BLK_PERM_RESIZE, shared, NULL),
                    <, 0);
    check_locked_bytes(path, perm, ~shared & BLK_PERM_ALL);
    check_perm(blk2, perm, shared);

    blk_unref(blk2);
    check_locked_bytes(path, perm, ~shared & BLK_PERM_ALL);
    blk_unref(blk1);
    check_unlocked(path);
    unlink(path);
}

/* locking=off takes no locks and ignores those of others. */
static void test_locking_off(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "off.img", 65536);
    BlockBackend *blk1, *blk2;
    QDict *options;

    blk1 = open_image(path, BLK_PERM_ALL, 0, &error_abort);

    options = qdict_new();
    qdict_put_str(options, "driver", "file");
    qdict_put_str(options, "filename", path);
    qdict_put_str(options, "locking", "off");
    blk2 = blk_new_open(NULL, NULL, options, BDRV_O_RDWR | BDRV_O_NO_SHARE,
                        &error_abort);
    blk_unref(blk1);
    check_unlocked(path);
    blk_unref(blk2);
    unlink(path);
}

/* ---- Against QEMU 7.2 in another process ---- */

static bool have_qemu(void)
{
    if (access(QEMU_IO, X_OK) == 0 && access(QEMU_IMG, X_OK) == 0) {
        return true;
    }
    /* The oracle is part of the test set-up: don't pass silently. */
    g_test_message("%s / %s missing (scripts/install-deps.sh installs them)",
                   QEMU_IO, QEMU_IMG);
    g_test_fail();
    return false;
}

/* Start qemu-io keeping path open; returns once its locks are in place. */
static GPid start_qemu_io_holder(const char *fmt, const char *path)
{
    const char *argv[] = {
        QEMU_IO, "-f", fmt, "-c", "sleep 60000", path, NULL
    };
    g_autoptr(GError) gerr = NULL;
    GPid pid;

    g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL,
                                NULL, NULL, &pid, &gerr));
    g_assert_no_error(gerr);
    /* Byte 100: it holds "consistent read" once the open is done. */
    for (int i = 0; i < 1000 && !byte_locked(path, 100); i++) {
        g_usleep(10 * 1000);
    }
    g_assert_true(byte_locked(path, 100));
    return pid;
}

static void stop_qemu_io(GPid pid)
{
    int status;

    kill(pid, SIGTERM);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_spawn_close_pid(pid);
}

/* Run QEMU's qemu-io once; returns its exit status, stderr in *err. */
static int run_qemu_io(char **err, const char *opt, const char *path)
{
    const char *argv[] = {
        QEMU_IO, "-f", "raw", opt, "-c", "read 0 512", path, NULL
    };
    g_autoptr(GError) gerr = NULL;
    int status;

    if (!opt[0]) {
        memmove(&argv[3], &argv[4], sizeof(argv) - 4 * sizeof(argv[0]));
    }
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               err, &status, &gerr));
    g_assert_no_error(gerr);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* QEMU holds a qcow2 image open: our writer is refused with its message. */
static void test_qemu_holds(void)
{
    g_autofree char *path = g_build_filename(tmp_dir, "held.qcow2", NULL);
    const char *create[] = {
        QEMU_IMG, "create", "-q", "-f", "qcow2", path, "1M", NULL
    };
    g_autoptr(GError) gerr = NULL;
    Error *err = NULL;
    BlockBackend *blk;
    int status;
    GPid pid;

    if (!have_qemu()) {
        return;
    }
    g_assert_true(g_spawn_sync(NULL, (char **)create, NULL, 0, NULL, NULL,
                               NULL, NULL, &status, &gerr));
    g_assert_no_error(gerr);
    g_assert_cmpint(status, ==, 0);

    pid = start_qemu_io_holder("qcow2", path);

    /* qcow2 does not share "write" on its file (QEMU 7.2, iotest 153). */
    blk = open_image(path, BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                     BLK_PERM_ALL, &err);
    g_assert_null(blk);
    g_assert_cmpstr(error_get_pretty(err), ==, "Failed to get \"write\" lock");
    error_free_or_abort(&err);

    /* Readers that share writes are fine. */
    blk = open_image(path, BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL,
                     &error_abort);
    blk_unref(blk);

    /* A reader that won't share "write" conflicts with QEMU's writer. */
    blk = open_image(path, BLK_PERM_CONSISTENT_READ,
                     BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE_UNCHANGED,
                     &err);
    g_assert_null(blk);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Failed to get shared \"write\" lock");
    error_free_or_abort(&err);

    stop_qemu_io(pid);
    unlink(path);
}

/* We hold an image without sharing writes: QEMU's qemu-io is refused. */
static void test_we_hold(void)
{
    g_autofree char *path = test_new_file(tmp_dir, "ours.img", 65536);
    g_autofree char *expected = NULL;
    g_autofree char *err_text = NULL;
    BlockBackend *blk;

    if (!have_qemu()) {
        return;
    }
    blk = open_image(path, BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                     BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE_UNCHANGED,
                     &error_abort);

    expected = g_strdup_printf(
        "qemu-io: can't open device %s: Failed to get \"write\" lock\n"
        "Is another process using the image [%s]?\n", path, path);
    g_assert_cmpint(run_qemu_io(&err_text, "", path), ==, 1);
    g_assert_cmpstr(err_text, ==, expected);
    g_clear_pointer(&err_text, g_free);

    /* QEMU's reader shares writes and needs none: it gets in. */
    g_assert_cmpint(run_qemu_io(&err_text, "-r", path), ==, 0);
    g_assert_cmpstr(err_text, ==, "");

    blk_unref(blk);

    /* Released: QEMU's writer gets in too. */
    g_clear_pointer(&err_text, g_free);
    g_assert_cmpint(run_qemu_io(&err_text, "", path), ==, 0);
    unlink(path);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    bdrv_init();

    tmp_dir = test_tmp_dir("QBLOCK_TEST_IMAGE_LOCKING_DIR",
                           "test-image-locking-XXXXXX");

    g_test_add_func("/image-locking/basic", test_basic);
    g_test_add_func("/image-locking/conflict-message", test_conflict_message);
    g_test_add_func("/image-locking/set-perm-abort", test_set_perm_abort);
    g_test_add_func("/image-locking/locking-off", test_locking_off);
    g_test_add_func("/image-locking/qemu-holds", test_qemu_holds);
    g_test_add_func("/image-locking/we-hold", test_we_hold);
    ret = g_test_run();

    bdrv_close_all();
    test_remove_tree(tmp_dir);
    g_free(tmp_dir);
    return ret;
}
