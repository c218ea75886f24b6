/*
 * Helpers shared by the unit tests.  They need only the util layer, so
 * every test program links them; failures abort the test (g_assert).
 */
#ifndef TEST_HELPERS_H
#define TEST_HELPERS_H

#include "qemu/qdict.h"

/* QDict of "key=value,key=value" with string values, as -o gives them. */
QDict *test_opts(const char *list);

/* What fn(opaque) writes to stdout. */
char *test_capture_stdout(void (*fn)(void *), void *opaque);

/* The contents of data/<subdir>/<name><ext> in the source tree. */
char *test_read_data(const char *subdir, const char *name, const char *ext);

/*
 * A new scratch directory named after tmpl, or in a g_test_trap_subprocess
 * child the parent's, which env passes on.
 */
char *test_tmp_dir(const char *env, const char *tmpl);

/* Remove dir and everything in it (best effort). */
void test_remove_tree(const char *dir);

/* Create (or empty) dir/name with size bytes; returns its path. */
char *test_new_file(const char *dir, const char *name, int64_t size);

/* pread/pwrite exactly len bytes of the file at path. */
void test_file_pread(const char *path, int64_t off, void *buf, size_t len);
void test_file_pwrite(const char *path, int64_t off, const void *buf,
                      size_t len);

#endif
