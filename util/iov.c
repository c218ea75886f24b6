/*
 * Scatter/gather vectors: helpers on plain iovec arrays and QEMUIOVector.
 */
#include "qemu/osdep.h"
#include <sys/socket.h>
#include "qemu/iov.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* ---- plain iovec arrays ---- */

size_t iov_size(const struct iovec *iov, unsigned int iov_cnt)
{
    size_t len = 0;

    for (unsigned int i = 0; i < iov_cnt; i++) {
        len += iov[i].iov_len;
    }
    return len;
}

/*
 * Walk [offset, offset + bytes) of iov and call fn on each contiguous
 * piece with its position in the flat range; returns the bytes visited.
 */
typedef void IOVPieceFn(void *base, size_t len, size_t done, void *opaque);

static size_t iov_for_each(const struct iovec *iov, unsigned int iov_cnt,
                           size_t offset, size_t bytes,
                           IOVPieceFn *fn, void *opaque)
{
    size_t done = 0;

    for (unsigned int i = 0; i < iov_cnt && done < bytes; i++) {
        size_t len = iov[i].iov_len;

        if (offset >= len) {
            offset -= len;
            continue;
        }
        len = MIN(len - offset, bytes - done);
        fn((char *)iov[i].iov_base + offset, len, done, opaque);
        done += len;
        offset = 0;
    }
    return done;
}

static void piece_from_buf(void *base, size_t len, size_t done, void *opaque)
{
    memcpy(base, (const char *)opaque + done, len);
}

static void piece_to_buf(void *base, size_t len, size_t done, void *opaque)
{
    memcpy((char *)opaque + done, base, len);
}

static void piece_memset(void *base, size_t len, size_t done, void *opaque)
{
    memset(base, *(int *)opaque, len);
}

size_t iov_from_buf(const struct iovec *iov, unsigned int iov_cnt,
                    size_t offset, const void *buf, size_t bytes)
{
    /* Fast path: the common single-element, in-range copy. */
    if (iov_cnt && offset <= iov[0].iov_len &&
        bytes <= iov[0].iov_len - offset) {
        memcpy((char *)iov[0].iov_base + offset, buf, bytes);
        return bytes;
    }
    return iov_for_each(iov, iov_cnt, offset, bytes, piece_from_buf,
                        (void *)buf);
}

size_t iov_to_buf(const struct iovec *iov, unsigned int iov_cnt,
                  size_t offset, void *buf, size_t bytes)
{
    if (iov_cnt && offset <= iov[0].iov_len &&
        bytes <= iov[0].iov_len - offset) {
        memcpy(buf, (char *)iov[0].iov_base + offset, bytes);
        return bytes;
    }
    return iov_for_each(iov, iov_cnt, offset, bytes, piece_to_buf, buf);
}

size_t iov_memset(const struct iovec *iov, unsigned int iov_cnt,
                  size_t offset, int fillc, size_t bytes)
{
    return iov_for_each(iov, iov_cnt, offset, bytes, piece_memset, &fillc);
}

unsigned iov_copy(struct iovec *dst_iov, unsigned int dst_iov_cnt,
                  const struct iovec *iov, unsigned int iov_cnt,
                  size_t offset, size_t bytes)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < iov_cnt && n < dst_iov_cnt && bytes; i++) {
        size_t len = iov[i].iov_len;

        if (offset >= len) {
            offset -= len;
            continue;
        }
        len = MIN(len - offset, bytes);
        dst_iov[n].iov_base = (char *)iov[i].iov_base + offset;
        dst_iov[n].iov_len = len;
        n++;
        bytes -= len;
        offset = 0;
    }
    return n;
}

/* One sendmsg/recvmsg call, retried on EINTR. */
static ssize_t do_send_recv(int sockfd, struct iovec *iov, unsigned iov_cnt,
                            bool do_send)
{
    struct msghdr msg = {
        .msg_iov = iov,
        .msg_iovlen = MIN(iov_cnt, IOV_MAX),
    };
    ssize_t ret;

    do {
        ret = do_send ? sendmsg(sockfd, &msg, 0) : recvmsg(sockfd, &msg, 0);
    } while (ret < 0 && errno == EINTR);
    return ret;
}

ssize_t iov_send_recv(int sockfd, const struct iovec *iov, unsigned iov_cnt,
                      size_t offset, size_t bytes, bool do_send)
{
    g_autofree struct iovec *local = NULL;
    struct iovec *cur;
    unsigned int cnt;
    size_t total = 0;

    if (bytes == 0) {
        return 0;
    }
    /*
     * Work on a private copy of the requested range so that partial
     * transfers can simply drop what has been moved from its front.
     */
    local = g_new(struct iovec, iov_cnt);
    cnt = iov_copy(local, iov_cnt, iov, iov_cnt, offset, bytes);
    cur = local;

    while (cnt > 0) {
        ssize_t ret = do_send_recv(sockfd, cur, cnt, do_send);

        if (ret < 0) {
            /* Report partial progress of a non-blocking socket. */
            if (errno == EAGAIN && total > 0) {
                return total;
            }
            return -1;
        }
        if (ret == 0 && !do_send) {
            /* Orderly shutdown by the peer. */
            break;
        }
        total += ret;
        iov_discard_front(&cur, &cnt, ret);
    }
    return total;
}

size_t iov_discard_front_undoable(struct iovec **iov, unsigned int *iov_cnt,
                                  size_t bytes, IOVDiscardUndo *undo)
{
    struct iovec *cur = *iov;
    size_t total = 0;

    if (undo) {
        undo->modified_iov = NULL;
    }
    /* Whole elements that fit in what is left go; the next one shrinks. */
    while (*iov_cnt > 0) {
        if (cur->iov_len > bytes) {
            if (undo) {
                undo->modified_iov = cur;
                undo->orig = *cur;
            }
            cur->iov_base = (char *)cur->iov_base + bytes;
            cur->iov_len -= bytes;
            total += bytes;
            break;
        }
        bytes -= cur->iov_len;
        total += cur->iov_len;
        cur++;
        (*iov_cnt)--;
    }
    *iov = cur;
    return total;
}

size_t iov_discard_back_undoable(struct iovec *iov, unsigned int *iov_cnt,
                                 size_t bytes, IOVDiscardUndo *undo)
{
    size_t total = 0;

    if (undo) {
        undo->modified_iov = NULL;
    }
    while (*iov_cnt > 0) {
        struct iovec *cur = &iov[*iov_cnt - 1];

        if (cur->iov_len > bytes) {
            if (undo) {
                undo->modified_iov = cur;
                undo->orig = *cur;
            }
            cur->iov_len -= bytes;
            total += bytes;
            break;
        }
        bytes -= cur->iov_len;
        total += cur->iov_len;
        (*iov_cnt)--;
    }
    return total;
}

size_t iov_discard_front(struct iovec **iov, unsigned int *iov_cnt,
                         size_t bytes)
{
    return iov_discard_front_undoable(iov, iov_cnt, bytes, NULL);
}

size_t iov_discard_back(struct iovec *iov, unsigned int *iov_cnt,
                        size_t bytes)
{
    return iov_discard_back_undoable(iov, iov_cnt, bytes, NULL);
}

void iov_discard_undo(IOVDiscardUndo *undo)
{
    /* Only the one partially trimmed element needs restoring. */
    if (undo->modified_iov) {
        *undo->modified_iov = undo->orig;
    }
}

/* ---- zero detection ---- */

/*
 * 16-byte vectors: SSE2 on x86-64, NEON on aarch64, scalar pairs
 * elsewhere; the compiler picks the instructions.
 */
typedef uint64_t ZeroVec __attribute__((vector_size(16), aligned(16)));

static bool words_are_zero(const unsigned char *p, size_t len)
{
    uint64_t acc = 0;

    /* len is a multiple of 8 here; unaligned loads through memcpy. */
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        acc |= w;
    }
    return acc == 0;
}

static bool vec_is_zero(const unsigned char *buf, size_t len)
{
    const unsigned char *end = buf + len;
    const unsigned char *p = QEMU_ALIGN_PTR_UP(buf, sizeof(ZeroVec));
    const unsigned char *vend = end - ((uintptr_t)end % sizeof(ZeroVec));
    uint64_t head[2], tail[2];

    /* Unaligned head and tail: one (overlapping) 16-byte load each. */
    memcpy(head, buf, 16);
    memcpy(tail, end - 16, 16);
    if (head[0] | head[1] | tail[0] | tail[1]) {
        return false;
    }
    /* Aligned middle, four vectors per iteration with one test each. */
    while (vend - p >= 4 * (ptrdiff_t)sizeof(ZeroVec)) {
        const ZeroVec *v = (const ZeroVec *)p;
        ZeroVec t = v[0] | v[1] | v[2] | v[3];

        if (t[0] | t[1]) {
            return false;
        }
        p += 4 * sizeof(ZeroVec);
    }
    while (p < vend) {
        ZeroVec t = *(const ZeroVec *)p;

        if (t[0] | t[1]) {
            return false;
        }
        p += sizeof(ZeroVec);
    }
    return true;
}

bool buffer_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;

    if (len == 0) {
        return true;
    }
    /* Most non-zero buffers differ at the start: check it cheaply first. */
    if (p[0] || p[len - 1]) {
        return false;
    }
    if (len >= 64) {
        return vec_is_zero(p, len);
    }
    if (len >= 8) {
        uint64_t last;

        memcpy(&last, p + len - 8, 8);
        return last == 0 && words_are_zero(p, len & ~(size_t)7);
    }
    for (size_t i = 1; i + 1 < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

/* ---- QEMUIOVector ---- */

void qemu_iovec_init(QEMUIOVector *qiov, int alloc_hint)
{
    qiov->iov = g_new(struct iovec, alloc_hint);
    qiov->niov = 0;
    qiov->nalloc = alloc_hint;
    qiov->size = 0;
}

void qemu_iovec_init_external(QEMUIOVector *qiov, struct iovec *iov,
                              int niov)
{
    qiov->iov = iov;
    qiov->niov = niov;
    qiov->nalloc = -1;
    qiov->size = iov_size(iov, niov);
}

/*
 * Locate [offset, offset + len) (len > 0) of qiov: returns the first
 * element touched, with the bytes to skip in it and the bytes to cut from
 * the last one, and the number of elements touched.
 */
static struct iovec *qiov_slice(QEMUIOVector *qiov, size_t offset, size_t len,
                                size_t *head, size_t *tail, int *niov)
{
    struct iovec *iov = qiov->iov;
    int first, last;
    size_t end;

    assert(offset <= qiov->size && len <= qiov->size - offset);
    assert(len > 0);

    for (first = 0; offset >= iov[first].iov_len; first++) {
        offset -= iov[first].iov_len;
    }
    *head = offset;
    /* end is relative to the start of element "first". */
    end = offset + len;
    for (last = first; end > iov[last].iov_len; last++) {
        end -= iov[last].iov_len;
    }
    *tail = iov[last].iov_len - end;
    *niov = last - first + 1;
    return &iov[first];
}

int qemu_iovec_subvec_niov(QEMUIOVector *qiov, size_t offset, size_t len)
{
    size_t head, tail;
    int niov;

    if (len == 0) {
        return 0;
    }
    qiov_slice(qiov, offset, len, &head, &tail, &niov);
    return niov;
}

int qemu_iovec_init_extended(QEMUIOVector *qiov,
                             void *head_buf, size_t head_len,
                             QEMUIOVector *mid_qiov, size_t mid_offset,
                             size_t mid_len,
                             void *tail_buf, size_t tail_len)
{
    struct iovec *mid = NULL, *p;
    size_t mid_head = 0, mid_tail = 0;
    int mid_niov = 0, total;

    if (mid_len > SIZE_MAX - head_len ||
        tail_len > SIZE_MAX - head_len - mid_len) {
        return -EINVAL;
    }
    if (mid_len) {
        mid = qiov_slice(mid_qiov, mid_offset, mid_len,
                         &mid_head, &mid_tail, &mid_niov);
    }
    total = (head_len != 0) + mid_niov + (tail_len != 0);
    if (total > IOV_MAX) {
        return -EINVAL;
    }

    if (total == 1) {
        /* A single piece needs no allocation. */
        qemu_iovec_init_buf(qiov, NULL, 0);
        p = &qiov->local_iov;
    } else {
        qiov->iov = p = g_new(struct iovec, total);
        qiov->niov = qiov->nalloc = total;
    }

    if (head_len) {
        *p++ = (struct iovec) { .iov_base = head_buf, .iov_len = head_len };
    }
    if (mid_niov) {
        memcpy(p, mid, mid_niov * sizeof(*p));
        p[0].iov_base = (char *)p[0].iov_base + mid_head;
        p[0].iov_len -= mid_head;
        p[mid_niov - 1].iov_len -= mid_tail;
        p += mid_niov;
    }
    if (tail_len) {
        *p = (struct iovec) { .iov_base = tail_buf, .iov_len = tail_len };
    }
    qiov->size = head_len + mid_len + tail_len;
    return 0;
}

void qemu_iovec_init_slice(QEMUIOVector *qiov, QEMUIOVector *source,
                           size_t offset, size_t len)
{
    int ret = qemu_iovec_init_extended(qiov, NULL, 0, source, offset, len,
                                       NULL, 0);

    /* A slice never has more elements than its source. */
    assert(ret == 0);
}

void qemu_iovec_add(QEMUIOVector *qiov, void *base, size_t len)
{
    assert(qiov->nalloc != -1);

    if (qiov->niov == qiov->nalloc) {
        qiov->nalloc = 2 * qiov->nalloc + 1;
        qiov->iov = g_renew(struct iovec, qiov->iov, qiov->nalloc);
    }
    qiov->iov[qiov->niov].iov_base = base;
    qiov->iov[qiov->niov].iov_len = len;
    qiov->niov++;
    qiov->size += len;
}

size_t qemu_iovec_concat_iov(QEMUIOVector *dst, struct iovec *src_iov,
                             unsigned int src_cnt, size_t soffset,
                             size_t sbytes)
{
    size_t done = 0;

    for (unsigned int i = 0; i < src_cnt && done < sbytes; i++) {
        size_t len = src_iov[i].iov_len;

        if (soffset >= len) {
            soffset -= len;
            continue;
        }
        len = MIN(len - soffset, sbytes - done);
        qemu_iovec_add(dst, (char *)src_iov[i].iov_base + soffset, len);
        done += len;
        soffset = 0;
    }
    assert(soffset == 0 || sbytes == 0);
    return done;
}

void qemu_iovec_concat(QEMUIOVector *dst, QEMUIOVector *src, size_t soffset,
                       size_t sbytes)
{
    qemu_iovec_concat_iov(dst, src->iov, src->niov, soffset, sbytes);
}

bool qemu_iovec_is_zero(QEMUIOVector *qiov, size_t offset, size_t bytes)
{
    assert(offset <= qiov->size && bytes <= qiov->size - offset);

    for (int i = 0; i < qiov->niov && bytes; i++) {
        size_t len = qiov->iov[i].iov_len;

        if (offset >= len) {
            offset -= len;
            continue;
        }
        len = MIN(len - offset, bytes);
        if (!buffer_is_zero((char *)qiov->iov[i].iov_base + offset, len)) {
            return false;
        }
        bytes -= len;
        offset = 0;
    }
    return true;
}

void qemu_iovec_destroy(QEMUIOVector *qiov)
{
    if (qiov->nalloc != -1) {
        g_free(qiov->iov);
    }
    memset(qiov, 0, sizeof(*qiov));
}

void qemu_iovec_reset(QEMUIOVector *qiov)
{
    assert(qiov->nalloc != -1);

    qiov->niov = 0;
    qiov->size = 0;
}

size_t qemu_iovec_to_buf(QEMUIOVector *qiov, size_t offset, void *buf,
                         size_t bytes)
{
    return iov_to_buf(qiov->iov, qiov->niov, offset, buf, bytes);
}

size_t qemu_iovec_from_buf(QEMUIOVector *qiov, size_t offset,
                           const void *buf, size_t bytes)
{
    return iov_from_buf(qiov->iov, qiov->niov, offset, buf, bytes);
}

size_t qemu_iovec_memset(QEMUIOVector *qiov, size_t offset, int fillc,
                         size_t bytes)
{
    return iov_memset(qiov->iov, qiov->niov, offset, fillc, bytes);
}

ssize_t qemu_iovec_compare(QEMUIOVector *a, QEMUIOVector *b)
{
    int ia = 0, ib = 0;
    size_t oa = 0, ob = 0, pos = 0;

    /* Compare as flat byte streams; the element layouts may differ. */
    for (;;) {
        size_t n, i;
        const unsigned char *pa, *pb;

        while (ia < a->niov && oa == a->iov[ia].iov_len) {
            ia++;
            oa = 0;
        }
        while (ib < b->niov && ob == b->iov[ib].iov_len) {
            ib++;
            ob = 0;
        }
        if (ia == a->niov || ib == b->niov) {
            /* One ran out: equal only if both did. */
            return (ia == a->niov && ib == b->niov) ? -1 : (ssize_t)pos;
        }
        n = MIN(a->iov[ia].iov_len - oa, b->iov[ib].iov_len - ob);
        pa = (const unsigned char *)a->iov[ia].iov_base + oa;
        pb = (const unsigned char *)b->iov[ib].iov_base + ob;
        if (memcmp(pa, pb, n)) {
            for (i = 0; pa[i] == pb[i]; i++) {
                /* find the first differing byte */
            }
            return pos + i;
        }
        oa += n;
        ob += n;
        pos += n;
    }
}

void qemu_iovec_clone(QEMUIOVector *dest, const QEMUIOVector *src, void *buf)
{
    size_t offset = 0;

    qemu_iovec_init(dest, src->niov);
    for (int i = 0; i < src->niov; i++) {
        qemu_iovec_add(dest, (char *)buf + offset, src->iov[i].iov_len);
        offset += src->iov[i].iov_len;
    }
}

void qemu_iovec_discard_back(QEMUIOVector *qiov, size_t bytes)
{
    unsigned int niov = qiov->niov;

    assert(qiov->size >= bytes);
    iov_discard_back(qiov->iov, &niov, bytes);
    qiov->niov = niov;
    qiov->size -= bytes;
}
