/*
 * Helpers shared by the unit tests (test-helpers.h).
 */
#include "qemu/osdep.h"
#include "test-helpers.h"

QDict *test_opts(const char *list)
{
    QDict *d = qdict_new();
    g_auto(GStrv) items = g_strsplit(list, ",", -1);

    for (char **p = items; *p && **p; p++) {
        char *eq = strchr(*p, '=');

        g_assert_nonnull(eq);
        *eq = '\0';
        qdict_put_str(d, *p, eq + 1);
    }
    return d;
}

char *test_capture_stdout(void (*fn)(void *), void *opaque)
{
    g_autofree char *path = NULL;
    g_autoptr(GError) err = NULL;
    char *contents;
    int saved, fd;

    fd = g_file_open_tmp("qblock-test-stdout-XXXXXX", &path, &err);
    g_assert_no_error(err);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    g_assert_cmpint(dup2(fd, STDOUT_FILENO), ==, STDOUT_FILENO);
    close(fd);

    fn(opaque);

    fflush(stdout);
    g_assert_cmpint(dup2(saved, STDOUT_FILENO), ==, STDOUT_FILENO);
    close(saved);
    g_assert_true(g_file_get_contents(path, &contents, NULL, &err));
    unlink(path);
    return contents;
}

char *test_read_data(const char *subdir, const char *name, const char *ext)
{
    g_autofree char *base = g_strconcat(name, ext, NULL);
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data",
                                                  subdir, base, NULL);
    g_autoptr(GError) err = NULL;
    char *contents;

    if (!g_file_get_contents(path, &contents, NULL, &err)) {
        g_error("%s", err->message);
    }
    return contents;
}

char *test_tmp_dir(const char *env, const char *tmpl)
{
    g_autoptr(GError) err = NULL;
    char *dir;

    if (g_test_subprocess()) {
        dir = g_strdup(g_getenv(env));
        g_assert_nonnull(dir);
        return dir;
    }
    dir = g_dir_make_tmp(tmpl, &err);
    g_assert_no_error(err);
    g_setenv(env, dir, true);
    return dir;
}

void test_remove_tree(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d) {
        return;
    }
    while ((name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            test_remove_tree(p);
        } else {
            unlink(p);
        }
    }
    rmdir(dir);
}

char *test_new_file(const char *dir, const char *name, int64_t size)
{
    char *path = g_build_filename(dir, name, NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

void test_file_pread(const char *path, int64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, off), ==, len);
    close(fd);
}

void test_file_pwrite(const char *path, int64_t off, const void *buf,
                      size_t len)
{
    int fd = open(path, O_WRONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, buf, len, off), ==, len);
    close(fd);
}
