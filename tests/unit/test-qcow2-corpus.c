/*
 * The qcow2 fuzz corpus (tests/fuzz/corpus-qcow2) through the fuzz
 * target's own code (tests/fuzz/fuzz-qcow2.c, linked in), so that the
 * seeds and the regression inputs of fixed crashes run without clang.
 * Each input is opened read-write, written, grown and checked; the
 * sanitizers, valgrind and assertions are the judges.  QBLOCK_QCOW2_CORPUS
 * names another directory (e.g. a build-fuzz/fuzz/corpus-qcow2).
 */
#include "qemu/osdep.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void test_corpus(void)
{
    const char *dir = g_getenv("QBLOCK_QCOW2_CORPUS");
    g_autoptr(GDir) d = NULL;
    const char *name;
    int n = 0;

    if (!dir) {
        dir = CORPUS_DIR;
    }
    d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *data = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(path, &data, &len, NULL));
        g_test_message("%s", name);
        g_assert_cmpint(LLVMFuzzerTestOneInput((const uint8_t *)data, len),
                        ==, 0);
        n++;
    }
    g_assert_cmpint(n, >, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    LLVMFuzzerInitialize(&argc, &argv);
    g_test_add_func("/qcow2/corpus", test_corpus);
    return g_test_run();
}
