/*
 * Unit tests for util/iov.c: plain iovec helpers and QEMUIOVector.
 *
 * Expected values are computed independently from a flat reference buffer
 * that mirrors the vector byte for byte.
 */
#include "qemu/osdep.h"
#include <sys/socket.h>
#include "qemu/iov.h"

/* A vector of random element sizes (some zero) over one flat buffer. */
typedef struct {
    struct iovec *iov;
    unsigned int cnt;
    unsigned char *flat;    /* backing store, elements are consecutive */
    size_t size;
} TestVec;

static void tvec_init(TestVec *v, unsigned int cnt, size_t max_elem)
{
    size_t off = 0;

    v->iov = g_new(struct iovec, cnt);
    v->cnt = cnt;
    v->size = 0;
    for (unsigned int i = 0; i < cnt; i++) {
        /* One in five elements is empty to exercise skipping. */
        v->iov[i].iov_len = g_test_rand_int_range(0, 5) ?
                            g_test_rand_int_range(1, max_elem + 1) : 0;
        v->size += v->iov[i].iov_len;
    }
    v->flat = g_malloc0(v->size + 1);
    for (unsigned int i = 0; i < cnt; i++) {
        v->iov[i].iov_base = v->flat + off;
        off += v->iov[i].iov_len;
    }
}

static void tvec_free(TestVec *v)
{
    g_free(v->iov);
    g_free(v->flat);
}

static void fill_pattern(unsigned char *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (unsigned char)(i * 7 + seed);
    }
}

static void test_size(void)
{
    char a[3], b[5];
    struct iovec iov[] = { { a, 3 }, { NULL, 0 }, { b, 5 } };

    g_assert_cmpuint(iov_size(iov, 0), ==, 0);
    g_assert_cmpuint(iov_size(iov, 3), ==, 8);
}

/* iov_from_buf / iov_to_buf / iov_memset at every offset and length. */
static void test_to_from_buf(void)
{
    for (int round = 0; round < 8; round++) {
        TestVec v;
        g_autofree unsigned char *ref = NULL;
        g_autofree unsigned char *in = NULL;
        g_autofree unsigned char *out = NULL;

        tvec_init(&v, g_test_rand_int_range(1, 8), 9);
        ref = g_malloc(v.size + 8);
        in = g_malloc(v.size + 8);
        out = g_malloc(v.size + 8);

        for (size_t off = 0; off <= v.size + 1; off++) {
            for (size_t len = 0; len <= v.size + 2; len++) {
                size_t expect = off >= v.size ? 0 : MIN(len, v.size - off);
                size_t n;

                /* from_buf writes exactly the in-range part. */
                fill_pattern(v.flat, v.size, 1);
                memcpy(ref, v.flat, v.size);
                fill_pattern(in, len, 100 + off);
                n = iov_from_buf(v.iov, v.cnt, off, in, len);
                g_assert_cmpuint(n, ==, expect);
                memcpy(ref + MIN(off, v.size), in, expect);
                g_assert(memcmp(v.flat, ref, v.size) == 0);

                /* to_buf reads exactly the in-range part. */
                memset(out, 0xee, v.size + 8);
                n = iov_to_buf(v.iov, v.cnt, off, out, len);
                g_assert_cmpuint(n, ==, expect);
                g_assert(memcmp(out, v.flat + MIN(off, v.size), expect) == 0);
                for (size_t i = expect; i < v.size + 8; i++) {
                    g_assert_cmpuint(out[i], ==, 0xee);
                }

                /* memset fills exactly the in-range part. */
                memcpy(ref, v.flat, v.size);
                n = iov_memset(v.iov, v.cnt, off, 0x5a, len);
                g_assert_cmpuint(n, ==, expect);
                memset(ref + MIN(off, v.size), 0x5a, expect);
                g_assert(memcmp(v.flat, ref, v.size) == 0);
            }
        }
        tvec_free(&v);
    }
}

static void test_copy(void)
{
    TestVec v;
    struct iovec dst[16];

    tvec_init(&v, 10, 7);
    fill_pattern(v.flat, v.size, 3);
    for (size_t off = 0; off <= v.size; off++) {
        for (size_t len = 0; len <= v.size - off + 1; len++) {
            size_t expect = MIN(len, v.size - off);
            g_autofree unsigned char *out = g_malloc(expect + 1);
            unsigned n = iov_copy(dst, ARRAY_SIZE(dst), v.iov, v.cnt,
                                  off, len);

            /* The copy describes exactly the requested bytes, no empties. */
            g_assert_cmpuint(iov_size(dst, n), ==, expect);
            for (unsigned i = 0; i < n; i++) {
                g_assert_cmpuint(dst[i].iov_len, >, 0);
            }
            g_assert_cmpuint(iov_to_buf(dst, n, 0, out, expect), ==, expect);
            g_assert(memcmp(out, v.flat + off, expect) == 0);
        }
    }
    /* A short destination array truncates. */
    g_assert_cmpuint(iov_copy(dst, 1, v.iov, v.cnt, 0, v.size), <=, 1);
    tvec_free(&v);
}

typedef struct {
    int fd;
    TestVec *v;
    size_t off, len;
    ssize_t ret;
} SendJob;

static gpointer send_thread(gpointer opaque)
{
    SendJob *job = opaque;

    job->ret = iov_send(job->fd, job->v->iov, job->v->cnt, job->off,
                        job->len);
    /* Signal EOF so the receiver can also see a short final read. */
    shutdown(job->fd, SHUT_WR);
    return NULL;
}

/*
 * Send [off, off + len) of one vector through a socket pair with a tiny
 * buffer (forcing partial transfers) and receive it into a range of
 * another vector with a different layout.
 */
static void test_send_recv(void)
{
    for (int round = 0; round < 40; round++) {
        TestVec sv, rv;
        int sv_fds[2], bufsz = 1024;
        size_t soff, slen, roff;
        SendJob job;
        GThread *th;
        g_autofree unsigned char *before = NULL;
        ssize_t got;

        tvec_init(&sv, g_test_rand_int_range(1, 40), 3000);
        tvec_init(&rv, g_test_rand_int_range(1, 40), 3000);
        fill_pattern(sv.flat, sv.size, round);
        fill_pattern(rv.flat, rv.size, 200 + round);
        before = g_memdup2(rv.flat, rv.size + 1);

        soff = g_test_rand_int_range(0, sv.size + 1);
        roff = g_test_rand_int_range(0, rv.size + 1);
        /* The receiver must take everything or the sender would block. */
        slen = g_test_rand_int_range(0, MIN(sv.size - soff, rv.size - roff)
                                        + 1);

        g_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv_fds) == 0);
        setsockopt(sv_fds[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
        setsockopt(sv_fds[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));

        job = (SendJob) { .fd = sv_fds[0], .v = &sv, .off = soff,
                          .len = slen };
        th = g_thread_new("send", send_thread, &job);
        /* Ask for more than is sent: recv stops at EOF. */
        got = iov_recv(sv_fds[1], rv.iov, rv.cnt, roff, rv.size - roff);
        g_thread_join(th);

        g_assert_cmpint(job.ret, ==, (ssize_t)slen);
        g_assert_cmpint(got, ==, (ssize_t)slen);
        g_assert(memcmp(rv.flat + roff, sv.flat + soff, got) == 0);
        /* Nothing outside the received range changed. */
        g_assert(memcmp(rv.flat, before, roff) == 0);
        g_assert(memcmp(rv.flat + roff + got, before + roff + got,
                        rv.size - roff - got) == 0);

        close(sv_fds[0]);
        close(sv_fds[1]);
        tvec_free(&sv);
        tvec_free(&rv);
    }
}

static void test_send_recv_zero_and_error(void)
{
    char buf[4] = "abc";
    struct iovec iov = { buf, sizeof(buf) };

    /* Zero bytes: no syscall, so even a bad fd succeeds. */
    g_assert_cmpint(iov_send(-1, &iov, 1, 0, 0), ==, 0);
    errno = 0;
    g_assert_cmpint(iov_send(-1, &iov, 1, 0, 4), ==, -1);
    g_assert_cmpint(errno, ==, EBADF);
}

/* Four elements of 4, 0, 8, 4 bytes over a 16-byte buffer. */
static char disc_buf[16];
static void disc_init(struct iovec *iov)
{
    iov[0] = (struct iovec) { disc_buf, 4 };
    iov[1] = (struct iovec) { disc_buf + 4, 0 };
    iov[2] = (struct iovec) { disc_buf + 4, 8 };
    iov[3] = (struct iovec) { disc_buf + 12, 4 };
}

static void test_discard_front(void)
{
    struct iovec arr[4], *iov;
    unsigned int cnt;

    /* Zero bytes: nothing dropped (a leading non-empty element stays). */
    disc_init(arr);
    iov = arr;
    cnt = 4;
    g_assert_cmpuint(iov_discard_front(&iov, &cnt, 0), ==, 0);
    g_assert(iov == arr);
    g_assert_cmpuint(cnt, ==, 4);

    /* Exactly the first element: it and the empty one after it go. */
    disc_init(arr);
    iov = arr;
    cnt = 4;
    g_assert_cmpuint(iov_discard_front(&iov, &cnt, 4), ==, 4);
    g_assert(iov == &arr[2]);
    g_assert_cmpuint(cnt, ==, 2);
    g_assert(iov[0].iov_base == disc_buf + 4);
    g_assert_cmpuint(iov[0].iov_len, ==, 8);

    /* Inside an element: it is trimmed in place. */
    disc_init(arr);
    iov = arr;
    cnt = 4;
    g_assert_cmpuint(iov_discard_front(&iov, &cnt, 7), ==, 7);
    g_assert(iov == &arr[2]);
    g_assert_cmpuint(cnt, ==, 2);
    g_assert(iov[0].iov_base == disc_buf + 7);
    g_assert_cmpuint(iov[0].iov_len, ==, 5);
    g_assert_cmpuint(iov_size(iov, cnt), ==, 9);

    /* Whole vector, and more than the vector: everything goes. */
    disc_init(arr);
    iov = arr;
    cnt = 4;
    g_assert_cmpuint(iov_discard_front(&iov, &cnt, 16), ==, 16);
    g_assert_cmpuint(cnt, ==, 0);
    g_assert(iov == &arr[4]);
    disc_init(arr);
    iov = arr;
    cnt = 4;
    g_assert_cmpuint(iov_discard_front(&iov, &cnt, 100), ==, 16);
    g_assert_cmpuint(cnt, ==, 0);

    /* Empty vector. */
    iov = arr;
    cnt = 0;
    g_assert_cmpuint(iov_discard_front(&iov, &cnt, 5), ==, 0);
    g_assert(iov == arr);
}

static void test_discard_back(void)
{
    struct iovec arr[4];
    unsigned int cnt;

    disc_init(arr);
    cnt = 4;
    g_assert_cmpuint(iov_discard_back(arr, &cnt, 0), ==, 0);
    g_assert_cmpuint(cnt, ==, 4);

    /* Exactly the last element. */
    disc_init(arr);
    cnt = 4;
    g_assert_cmpuint(iov_discard_back(arr, &cnt, 4), ==, 4);
    g_assert_cmpuint(cnt, ==, 3);
    g_assert_cmpuint(arr[2].iov_len, ==, 8);

    /* Inside the 8-byte element. */
    disc_init(arr);
    cnt = 4;
    g_assert_cmpuint(iov_discard_back(arr, &cnt, 10), ==, 10);
    g_assert_cmpuint(cnt, ==, 3);
    g_assert_cmpuint(arr[2].iov_len, ==, 2);
    g_assert_cmpuint(iov_size(arr, cnt), ==, 6);

    /* Through the 8-byte element: the empty one goes with it. */
    disc_init(arr);
    cnt = 4;
    g_assert_cmpuint(iov_discard_back(arr, &cnt, 12), ==, 12);
    g_assert_cmpuint(cnt, ==, 1);
    g_assert_cmpuint(arr[0].iov_len, ==, 4);

    disc_init(arr);
    cnt = 4;
    g_assert_cmpuint(iov_discard_back(arr, &cnt, 16), ==, 16);
    g_assert_cmpuint(cnt, ==, 0);
    disc_init(arr);
    cnt = 4;
    g_assert_cmpuint(iov_discard_back(arr, &cnt, 17), ==, 16);
    g_assert_cmpuint(cnt, ==, 0);

    cnt = 0;
    g_assert_cmpuint(iov_discard_back(arr, &cnt, 5), ==, 0);
}

/* Random discards followed by undo restore the array contents exactly. */
static void test_discard_undo(void)
{
    for (int round = 0; round < 200; round++) {
        TestVec v;
        g_autofree struct iovec *orig = NULL;
        struct iovec *iov;
        unsigned int cnt;
        IOVDiscardUndo undo;
        size_t bytes, n;

        tvec_init(&v, g_test_rand_int_range(1, 6), 6);
        orig = g_memdup2(v.iov, v.cnt * sizeof(*v.iov));
        bytes = g_test_rand_int_range(0, v.size + 3);

        iov = v.iov;
        cnt = v.cnt;
        n = iov_discard_front_undoable(&iov, &cnt, bytes, &undo);
        g_assert_cmpuint(n, ==, MIN(bytes, v.size));
        g_assert_cmpuint(iov_size(iov, cnt), ==, v.size - n);
        iov_discard_undo(&undo);
        g_assert(memcmp(v.iov, orig, v.cnt * sizeof(*v.iov)) == 0);

        cnt = v.cnt;
        n = iov_discard_back_undoable(v.iov, &cnt, bytes, &undo);
        g_assert_cmpuint(n, ==, MIN(bytes, v.size));
        g_assert_cmpuint(iov_size(v.iov, cnt), ==, v.size - n);
        iov_discard_undo(&undo);
        g_assert(memcmp(v.iov, orig, v.cnt * sizeof(*v.iov)) == 0);

        tvec_free(&v);
    }
}

static void test_buffer_is_zero(void)
{
    enum { MAX = 300 };
    g_autofree unsigned char *mem = g_malloc0(MAX + 64);

    /* Every alignment, every length, a single set byte at every spot. */
    for (size_t align = 0; align < 17; align++) {
        unsigned char *buf = mem + align;

        for (size_t len = 0; len <= MAX; len++) {
            g_assert_true(buffer_is_zero(buf, len));
            for (size_t i = 0; i < len; i++) {
                buf[i] = 0x10;
                g_assert_false(buffer_is_zero(buf, len));
                buf[i] = 0;
            }
            /* Non-zero bytes just outside the range do not count. */
            if (align) {
                buf[-1] = 1;
            }
            buf[len] = 1;
            g_assert_true(buffer_is_zero(buf, len));
            buf[len] = 0;
            if (align) {
                buf[-1] = 0;
            }
        }
    }
}

static void test_qiov_basic(void)
{
    QEMUIOVector qiov;
    char a[4] = "abcd", b[3] = "xyz";
    char out[8] = { 0 };

    qemu_iovec_init(&qiov, 0);
    g_assert_cmpint(qiov.niov, ==, 0);
    g_assert_cmpuint(qiov.size, ==, 0);
    /* Growth beyond the hint. */
    for (int i = 0; i < 10; i++) {
        qemu_iovec_add(&qiov, i % 2 ? b : a, i % 2 ? 3 : 4);
    }
    g_assert_cmpint(qiov.niov, ==, 10);
    g_assert_cmpuint(qiov.size, ==, 35);
    g_assert_cmpuint(qemu_iovec_to_buf(&qiov, 2, out, 7), ==, 7);
    g_assert(memcmp(out, "cdxyzab", 7) == 0);

    qemu_iovec_reset(&qiov);
    g_assert_cmpint(qiov.niov, ==, 0);
    g_assert_cmpuint(qiov.size, ==, 0);
    qemu_iovec_add(&qiov, b, 3);
    g_assert_cmpuint(qiov.size, ==, 3);
    qemu_iovec_destroy(&qiov);
    g_assert(qiov.iov == NULL);

    /* Single-buffer form needs no destroy and reports its buffer. */
    {
        QEMUIOVector q2 = QEMU_IOVEC_INIT_BUF(q2, a, sizeof(a));

        g_assert_cmpint(q2.niov, ==, 1);
        g_assert_cmpuint(q2.size, ==, 4);
        g_assert(qemu_iovec_buf(&q2) == a);
        g_assert(q2.iov == &q2.local_iov);
        qemu_iovec_init_buf(&q2, b, 3);
        g_assert(qemu_iovec_buf(&q2) == b);
        g_assert_cmpuint(q2.size, ==, 3);
        qemu_iovec_destroy(&q2);
    }

    /* External arrays are not copied and not freed. */
    {
        struct iovec ext[2] = { { a, 4 }, { b, 3 } };

        qemu_iovec_init_external(&qiov, ext, 2);
        g_assert(qiov.iov == ext);
        g_assert_cmpint(qiov.nalloc, ==, -1);
        g_assert_cmpuint(qiov.size, ==, 7);
        qemu_iovec_memset(&qiov, 3, '-', 2);
        g_assert(memcmp(a, "abc-", 4) == 0);
        g_assert(memcmp(b, "-yz", 3) == 0);
        g_assert_cmpuint(qemu_iovec_from_buf(&qiov, 3, "DX", 2), ==, 2);
        g_assert(memcmp(a, "abcD", 4) == 0);
        g_assert(memcmp(b, "Xyz", 3) == 0);
        qemu_iovec_destroy(&qiov);
    }
}

static void test_qiov_concat(void)
{
    TestVec v;
    QEMUIOVector src, dst;

    tvec_init(&v, 8, 5);
    fill_pattern(v.flat, v.size, 9);
    qemu_iovec_init_external(&src, v.iov, v.cnt);
    for (size_t off = 0; off <= v.size; off++) {
        for (size_t len = 0; len <= v.size - off; len++) {
            g_autofree unsigned char *out = g_malloc(len + 1);
            char pre = 'p';

            /* Appends after what dst already holds. */
            qemu_iovec_init(&dst, 1);
            qemu_iovec_add(&dst, &pre, 1);
            qemu_iovec_concat(&dst, &src, off, len);
            g_assert_cmpuint(dst.size, ==, len + 1);
            g_assert_cmpuint(qemu_iovec_to_buf(&dst, 1, out, len), ==, len);
            g_assert(memcmp(out, v.flat + off, len) == 0);
            qemu_iovec_destroy(&dst);

            qemu_iovec_init(&dst, 0);
            g_assert_cmpuint(qemu_iovec_concat_iov(&dst, v.iov, v.cnt, off,
                                                   len), ==, len);
            g_assert_cmpuint(dst.size, ==, len);
            qemu_iovec_destroy(&dst);
        }
    }
    tvec_free(&v);
}

/* Slices, extended vectors and subvec_niov against the flat reference. */
static void test_qiov_slice_extended(void)
{
    TestVec v;
    QEMUIOVector src;
    char head[3] = "HHH", tail[2] = "TT";

    tvec_init(&v, 7, 6);
    fill_pattern(v.flat, v.size, 5);
    qemu_iovec_init_external(&src, v.iov, v.cnt);

    for (size_t off = 0; off <= v.size; off++) {
        for (size_t len = 0; len <= v.size - off; len++) {
            QEMUIOVector q;
            size_t total = 3 + len + 2;
            g_autofree unsigned char *out = g_malloc(total);
            int elems = 0;

            /* Independent count of the elements overlapping the range. */
            for (unsigned i = 0, pos = 0; i < v.cnt; i++) {
                size_t s = pos, e = pos + v.iov[i].iov_len;

                pos = e;
                if (len && s < off + len && e > off) {
                    elems++;
                }
            }
            g_assert_cmpint(qemu_iovec_subvec_niov(&src, off, len), ==,
                            elems);

            qemu_iovec_init_slice(&q, &src, off, len);
            g_assert_cmpuint(q.size, ==, len);
            g_assert_cmpint(q.niov, ==, elems);
            g_assert_cmpuint(qemu_iovec_to_buf(&q, 0, out, len), ==, len);
            g_assert(memcmp(out, v.flat + off, len) == 0);
            /* A slice is a view: writes reach the source. */
            if (len) {
                qemu_iovec_memset(&q, 0, 0xff, 1);
                g_assert_cmpuint(v.flat[off], ==, 0xff);
                fill_pattern(v.flat, v.size, 5);
            }
            qemu_iovec_destroy(&q);

            g_assert_cmpint(qemu_iovec_init_extended(&q, head, 3, &src, off,
                                                     len, tail, 2), ==, 0);
            g_assert_cmpuint(q.size, ==, total);
            g_assert_cmpint(q.niov, ==, elems + 2);
            g_assert_cmpuint(qemu_iovec_to_buf(&q, 0, out, total), ==, total);
            g_assert(memcmp(out, "HHH", 3) == 0);
            g_assert(memcmp(out + 3, v.flat + off, len) == 0);
            g_assert(memcmp(out + 3 + len, "TT", 2) == 0);
            qemu_iovec_destroy(&q);

            /* Head only / tail only. */
            g_assert_cmpint(qemu_iovec_init_extended(&q, head, 3, &src, off,
                                                     len, NULL, 0), ==, 0);
            g_assert_cmpint(q.niov, ==, elems + 1);
            g_assert_cmpuint(q.size, ==, 3 + len);
            qemu_iovec_destroy(&q);
            g_assert_cmpint(qemu_iovec_init_extended(&q, NULL, 0, &src, off,
                                                     len, tail, 2), ==, 0);
            g_assert_cmpint(q.niov, ==, elems + 1);
            g_assert_cmpuint(qemu_iovec_to_buf(&q, len, out, 2), ==, 2);
            g_assert(memcmp(out, "TT", 2) == 0);
            qemu_iovec_destroy(&q);
        }
    }
    tvec_free(&v);
}

static void test_qiov_extended_limits(void)
{
    QEMUIOVector src, q;
    g_autofree struct iovec *many = g_new(struct iovec, IOV_MAX);
    char byte = 0;

    for (int i = 0; i < IOV_MAX; i++) {
        many[i] = (struct iovec) { &byte, 1 };
    }
    qemu_iovec_init_external(&src, many, IOV_MAX);
    /* IOV_MAX entries are fine; one more is refused. */
    g_assert_cmpint(qemu_iovec_init_extended(&q, NULL, 0, &src, 0, IOV_MAX,
                                             NULL, 0), ==, 0);
    g_assert_cmpint(q.niov, ==, IOV_MAX);
    qemu_iovec_destroy(&q);
    g_assert_cmpint(qemu_iovec_init_extended(&q, &byte, 1, &src, 0, IOV_MAX,
                                             NULL, 0), ==, -EINVAL);
    /* Lengths that overflow size_t are refused. */
    g_assert_cmpint(qemu_iovec_init_extended(&q, &byte, SIZE_MAX, &src, 0, 1,
                                             NULL, 0), ==, -EINVAL);
    /* Only a head: the single-element form, nothing to free. */
    g_assert_cmpint(qemu_iovec_init_extended(&q, &byte, 1, &src, 0, 0,
                                             NULL, 0), ==, 0);
    g_assert_cmpint(q.niov, ==, 1);
    g_assert(q.iov == &q.local_iov);
    qemu_iovec_destroy(&q);
}

static void test_qiov_is_zero(void)
{
    TestVec v;
    QEMUIOVector q;

    tvec_init(&v, 9, 7);
    qemu_iovec_init_external(&q, v.iov, v.cnt);
    for (size_t pos = 0; pos < v.size; pos++) {
        v.flat[pos] = 1;
        for (size_t off = 0; off <= v.size; off++) {
            for (size_t len = 0; len <= v.size - off; len++) {
                bool expect = !(pos >= off && pos < off + len);

                g_assert_cmpint(qemu_iovec_is_zero(&q, off, len), ==, expect);
            }
        }
        v.flat[pos] = 0;
    }
    tvec_free(&v);
}

static void test_qiov_compare_clone(void)
{
    TestVec v;
    QEMUIOVector a, b, c;
    g_autofree unsigned char *buf = NULL;

    tvec_init(&v, 6, 9);
    fill_pattern(v.flat, v.size, 11);
    qemu_iovec_init_external(&a, v.iov, v.cnt);

    /* clone: same layout over a flat buffer */
    buf = g_malloc(v.size);
    qemu_iovec_clone(&b, &a, buf);
    g_assert_cmpint(b.niov, ==, a.niov);
    g_assert_cmpuint(b.size, ==, a.size);
    for (int i = 0; i < a.niov; i++) {
        g_assert_cmpuint(b.iov[i].iov_len, ==, a.iov[i].iov_len);
    }
    qemu_iovec_from_buf(&b, 0, v.flat, v.size);
    g_assert(memcmp(buf, v.flat, v.size) == 0);
    g_assert_cmpint(qemu_iovec_compare(&a, &b), ==, -1);

    /* A different layout over equal bytes compares equal too. */
    qemu_iovec_init_buf(&c, buf, v.size);
    g_assert_cmpint(qemu_iovec_compare(&a, &c), ==, -1);

    for (size_t pos = 0; pos < v.size; pos++) {
        buf[pos] ^= 0x80;
        g_assert_cmpint(qemu_iovec_compare(&a, &b), ==, (ssize_t)pos);
        g_assert_cmpint(qemu_iovec_compare(&c, &a), ==, (ssize_t)pos);
        buf[pos] ^= 0x80;
    }
    qemu_iovec_destroy(&b);
    tvec_free(&v);
}

static void test_qiov_discard_back(void)
{
    char buf[10];
    QEMUIOVector q;

    qemu_iovec_init(&q, 3);
    qemu_iovec_add(&q, buf, 4);
    qemu_iovec_add(&q, buf + 4, 3);
    qemu_iovec_add(&q, buf + 7, 3);
    qemu_iovec_discard_back(&q, 0);
    g_assert_cmpint(q.niov, ==, 3);
    g_assert_cmpuint(q.size, ==, 10);
    qemu_iovec_discard_back(&q, 4);
    g_assert_cmpint(q.niov, ==, 2);
    g_assert_cmpuint(q.size, ==, 6);
    g_assert_cmpuint(q.iov[1].iov_len, ==, 2);
    qemu_iovec_discard_back(&q, 6);
    g_assert_cmpint(q.niov, ==, 0);
    g_assert_cmpuint(q.size, ==, 0);
    qemu_iovec_destroy(&q);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/iov/size", test_size);
    g_test_add_func("/iov/to-from-buf", test_to_from_buf);
    g_test_add_func("/iov/copy", test_copy);
    g_test_add_func("/iov/send-recv", test_send_recv);
    g_test_add_func("/iov/send-recv-zero-error", test_send_recv_zero_and_error);
    g_test_add_func("/iov/discard-front", test_discard_front);
    g_test_add_func("/iov/discard-back", test_discard_back);
    g_test_add_func("/iov/discard-undo", test_discard_undo);
    g_test_add_func("/iov/buffer-is-zero", test_buffer_is_zero);
    g_test_add_func("/iov/qiov/basic", test_qiov_basic);
    g_test_add_func("/iov/qiov/concat", test_qiov_concat);
    g_test_add_func("/iov/qiov/slice-extended", test_qiov_slice_extended);
    g_test_add_func("/iov/qiov/extended-limits", test_qiov_extended_limits);
    g_test_add_func("/iov/qiov/is-zero", test_qiov_is_zero);
    g_test_add_func("/iov/qiov/compare-clone", test_qiov_compare_clone);
    g_test_add_func("/iov/qiov/discard-back", test_qiov_discard_back);
    return g_test_run();
}
