/*
 * Scatter/gather vectors.  QEMUIOVector is the request payload of the block
 * layer; the iov_* helpers work on plain struct iovec arrays.
 */
#ifndef QEMU_IOV_H
#define QEMU_IOV_H

/* ---- plain iovec arrays ---- */

size_t iov_size(const struct iovec *iov, unsigned int iov_cnt);

/*
 * Copy between a buffer and the vector starting at byte offset; returns the
 * number of bytes copied (short if the vector ends first).
 */
size_t iov_from_buf(const struct iovec *iov, unsigned int iov_cnt,
                    size_t offset, const void *buf, size_t bytes);
size_t iov_to_buf(const struct iovec *iov, unsigned int iov_cnt,
                  size_t offset, void *buf, size_t bytes);
size_t iov_memset(const struct iovec *iov, unsigned int iov_cnt,
                  size_t offset, int fillc, size_t bytes);

/*
 * Fill dst_iov with the part of iov at [offset, offset + bytes); returns
 * the number of entries used (at most dst_iov_cnt).
 */
unsigned iov_copy(struct iovec *dst_iov, unsigned int dst_iov_cnt,
                  const struct iovec *iov, unsigned int iov_cnt,
                  size_t offset, size_t bytes);

/*
 * Send or receive bytes at offset over a socket; loops over partial
 * transfers.  Returns bytes moved or -1 with errno set.
 */
ssize_t iov_send_recv(int sockfd, const struct iovec *iov, unsigned iov_cnt,
                      size_t offset, size_t bytes, bool do_send);
#define iov_recv(sockfd, iov, iov_cnt, offset, bytes) \
    iov_send_recv(sockfd, iov, iov_cnt, offset, bytes, false)
#define iov_send(sockfd, iov, iov_cnt, offset, bytes) \
    iov_send_recv(sockfd, iov, iov_cnt, offset, bytes, true)

/*
 * Drop bytes from the front/back of an array in place, adjusting *iov and
 * *iov_cnt; returns the number of bytes dropped.
 */
size_t iov_discard_front(struct iovec **iov, unsigned int *iov_cnt,
                         size_t bytes);
size_t iov_discard_back(struct iovec *iov, unsigned int *iov_cnt,
                        size_t bytes);

/* Records what a discard changed so that iov_discard_undo can revert it. */
typedef struct {
    struct iovec *modified_iov;
    struct iovec orig;
} IOVDiscardUndo;

size_t iov_discard_front_undoable(struct iovec **iov, unsigned int *iov_cnt,
                                  size_t bytes, IOVDiscardUndo *undo);
size_t iov_discard_back_undoable(struct iovec *iov, unsigned int *iov_cnt,
                                 size_t bytes, IOVDiscardUndo *undo);
void iov_discard_undo(IOVDiscardUndo *undo);

/* True if len bytes at buf are all zero. */
bool buffer_is_zero(const void *buf, size_t len);

/* ---- QEMUIOVector ---- */

typedef struct QEMUIOVector {
    struct iovec *iov;
    int niov;
    /* Allocated entries of iov, or -1 when iov is not owned by us. */
    int nalloc;
    /* Storage for the single-buffer form (qemu_iovec_init_buf). */
    struct iovec local_iov;
    /* Total bytes. */
    size_t size;
} QEMUIOVector;

#define QEMU_IOVEC_INIT_BUF(self, buf, len)              \
{                                                        \
    .iov = &(self).local_iov,                            \
    .niov = 1,                                           \
    .nalloc = -1,                                        \
    .local_iov = { .iov_base = (void *)(buf), .iov_len = (len) }, \
    .size = (len),                                       \
}

/* Empty owned vector with room for alloc_hint entries. */
void qemu_iovec_init(QEMUIOVector *qiov, int alloc_hint);
/* Wrap a caller-owned iovec array (not copied, not freed). */
void qemu_iovec_init_external(QEMUIOVector *qiov, struct iovec *iov,
                              int niov);
/* Single buffer, no allocation. */
static inline void qemu_iovec_init_buf(QEMUIOVector *qiov, void *buf,
                                       size_t len)
{
    *qiov = (QEMUIOVector) QEMU_IOVEC_INIT_BUF(*qiov, buf, len);
}
/* The buffer of a single-buffer vector. */
static inline void *qemu_iovec_buf(QEMUIOVector *qiov)
{
    assert(qiov->nalloc == -1 && qiov->niov == 1);
    return qiov->local_iov.iov_base;
}

/*
 * qiov = [head_buf][mid_qiov slice at mid_offset, mid_len][tail_buf], with
 * head/tail optional (len 0).  Returns 0 or -EINVAL if more than IOV_MAX
 * entries would be needed.
 */
int qemu_iovec_init_extended(QEMUIOVector *qiov,
                             void *head_buf, size_t head_len,
                             QEMUIOVector *mid_qiov, size_t mid_offset,
                             size_t mid_len,
                             void *tail_buf, size_t tail_len);
/* A view of source's bytes [offset, offset + len). */
void qemu_iovec_init_slice(QEMUIOVector *qiov, QEMUIOVector *source,
                           size_t offset, size_t len);
/* Number of entries covering [offset, offset + len) of qiov. */
int qemu_iovec_subvec_niov(QEMUIOVector *qiov, size_t offset, size_t len);

void qemu_iovec_add(QEMUIOVector *qiov, void *base, size_t len);
/* Append the [soffset, soffset + sbytes) part of src to dst. */
void qemu_iovec_concat(QEMUIOVector *dst, QEMUIOVector *src, size_t soffset,
                       size_t sbytes);
size_t qemu_iovec_concat_iov(QEMUIOVector *dst, struct iovec *src_iov,
                             unsigned int src_cnt, size_t soffset,
                             size_t sbytes);
bool qemu_iovec_is_zero(QEMUIOVector *qiov, size_t qiov_offset, size_t bytes);
void qemu_iovec_destroy(QEMUIOVector *qiov);
/* Drop all entries, keeping the allocation. */
void qemu_iovec_reset(QEMUIOVector *qiov);
size_t qemu_iovec_to_buf(QEMUIOVector *qiov, size_t offset, void *buf,
                         size_t bytes);
size_t qemu_iovec_from_buf(QEMUIOVector *qiov, size_t offset,
                           const void *buf, size_t bytes);
size_t qemu_iovec_memset(QEMUIOVector *qiov, size_t offset, int fillc,
                         size_t bytes);
/* Offset of the first differing byte, or -1 if equal. */
ssize_t qemu_iovec_compare(QEMUIOVector *a, QEMUIOVector *b);
/* dest = src's layout over the flat buffer buf (size src->size). */
void qemu_iovec_clone(QEMUIOVector *dest, const QEMUIOVector *src, void *buf);
void qemu_iovec_discard_back(QEMUIOVector *qiov, size_t bytes);

#endif
