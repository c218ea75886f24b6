/*
 * The "file" protocol driver: an image stored in a regular POSIX file.
 *
 * Data I/O goes through one of three engines chosen by the "aio" option:
 * the thread pool (threads, the default: blocking syscalls in worker
 * threads), Linux kernel AIO (native, needs O_DIRECT) or io_uring.  The
 * other operations (flush, discard, write zeroes, truncate) always use the
 * thread pool, except that io_uring also flushes.
 *
 * Images are protected against concurrent use by other processes with
 * advisory byte-range locks (see the "Image locking" section).
 */
#include "qemu/osdep.h"
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include "block/block_int.h"
#include "block/raw-aio.h"
#include "qemu/atomic.h"
#include "qemu/cutils.h"
#include "qemu/error.h"
#include "qemu/option.h"
#include "qemu/thread-pool.h"
#include "qemu/units.h"

/* Largest logical block size we expect; the O_DIRECT probing limit. */
#define MAX_BLOCKSIZE 4096

/*
 * Image locking.  Byte RAW_LOCK_PERM_BASE + i of the image file carries a
 * shared lock while this open holds permission bit i (BLK_PERM_*), byte
 * RAW_LOCK_SHARED_BASE + i while it does not share bit i with others.  A
 * new user checks that nobody else locked the "not shared" byte of a
 * permission it wants, nor the "held" byte of one it refuses to share.
 * Open file description (OFD) locks are used where the kernel has them:
 * unlike classic POSIX locks they belong to the open file rather than to
 * the process, so two opens in one process see each other, and closing an
 * unrelated descriptor of the same file does not drop them.
 */
#define RAW_LOCK_PERM_BASE   100
#define RAW_LOCK_SHARED_BASE 200
#define BLK_PERM_BITS        4

#ifndef NFS_SUPER_MAGIC
#define NFS_SUPER_MAGIC 0x6969
#endif

/* Which bytes an open file description currently holds locks on. */
typedef struct RawLockState {
    bool ofd;                   /* OFD lock commands, else POSIX ones */
    uint64_t locked_perm;
    uint64_t locked_shared_perm;
} RawLockState;

typedef struct BDRVRawState {
    int fd;
    int open_flags;             /* O_* flags fd was opened with */

    /* O_DIRECT constraints of fd (1 and 1 without O_DIRECT). */
    bool needs_alignment;
    size_t buf_align;

    /* aio= engines; the engine state is shared per AioContext. */
    bool use_linux_aio;
    bool use_linux_io_uring;
    LinuxAioState *laio;
#ifdef CONFIG_LINUX_IO_URING
    LuringState *luring;
#endif
    uint64_t aio_max_batch;

    /* Image locking. */
    bool use_lock;
    RawLockState lock;
    uint64_t perm;              /* committed permissions */
    uint64_t shared_perm;
    /*
     * A permission change that needs another access mode (auto-read-only
     * gaining a writer, or a reopen changing cache.direct) opens a new
     * descriptor in check_perm; set_perm swaps it in, abort closes it.
     */
    int perm_change_fd;
    int perm_change_flags;
    size_t perm_change_buf_align;
    uint32_t perm_change_request_alignment;
    BDRVReopenState *reopen_state;

    /*
     * What the file system turned out to support; cleared by worker
     * threads when a call reports it unsupported (hence atomics).
     */
    bool has_discard;
    bool has_write_zeroes;
    bool has_fallocate;
    /* preadv2(RWF_NOWAIT) may serve cached reads without the pool. */
    bool nowait_reads;

    /*
     * errno of a failed fdatasync on a page-cache descriptor.  The kernel
     * may have dropped the dirty pages and the next fdatasync would
     * "succeed" without writing them, so every later flush fails too.
     */
    int page_cache_inconsistent;

    bool drop_cache;
    bool check_cache_dropped;
} BDRVRawState;

typedef struct BDRVRawReopenState {
    bool drop_cache;
    bool check_cache_dropped;
} BDRVRawReopenState;

/* A request for a worker thread. */
typedef struct RawPosixAIOData {
    BlockDriverState *bs;       /* NULL while creating an image */
    BDRVRawState *s;            /* likewise */
    int aio_fildes;
    int aio_type;
    off_t aio_offset;
    uint64_t aio_nbytes;
    union {
        struct {
            struct iovec *iov;
            int niov;
        } io;
        struct {
            PreallocMode prealloc;
            Error **errp;
        } truncate;
    };
} RawPosixAIOData;

static QemuOptsList raw_runtime_opts = {
    .name = "raw",
    .head = QTAILQ_HEAD_INITIALIZER(raw_runtime_opts.head),
    .desc = {
        {
            .name = "filename",
            .type = QEMU_OPT_STRING,
            .help = "File name of the image",
        },
        {
            .name = "aio",
            .type = QEMU_OPT_STRING,
            .help = "host AIO implementation (threads, native, io_uring)",
        },
        {
            .name = "aio-max-batch",
            .type = QEMU_OPT_NUMBER,
            .help = "AIO max batch size (0 = auto handled by AIO backend, "
                    "default: 0)",
        },
        {
            .name = "locking",
            .type = QEMU_OPT_STRING,
            .help = "file locking mode (on/off/auto, default: auto)",
        },
        {
            .name = "drop-cache",
            .type = QEMU_OPT_BOOL,
            .help = "invalidate page cache during live migration "
                    "(default: on)",
        },
        {
            .name = "x-check-cache-dropped",
            .type = QEMU_OPT_BOOL,
            .help = "check that page cache was dropped on live migration "
                    "(default: off)",
        },
        { /* end of list */ }
    },
};

static const char *const mutable_opts[] = { "x-check-cache-dropped", NULL };

/* ENODEV & co. all mean "this file system can't". */
static int translate_err(int err)
{
    if (err == -ENODEV || err == -ENOSYS || err == -EOPNOTSUPP ||
        err == -ENOTTY) {
        err = -ENOTSUP;
    }
    return err;
}

static int do_fallocate(int fd, int mode, off_t offset, off_t len)
{
    do {
        if (fallocate(fd, mode, offset, len) == 0) {
            return 0;
        }
    } while (errno == EINTR);
    return translate_err(-errno);
}

static int coroutine_fn raw_co_pool_submit(BlockDriverState *bs,
                                           ThreadPoolFunc *func,
                                           void *arg)
{
    AioContext *ctx = bs ? bdrv_get_aio_context(bs)
                         : qemu_get_current_aio_context();

    return thread_pool_submit_co(aio_get_thread_pool(ctx), func, arg);
}

/* ---- Image locking ---- */

static int raw_lock_cmd(const RawLockState *ls, bool test)
{
    if (ls->ofd) {
        return test ? F_OFD_GETLK : F_OFD_SETLK;
    }
    return test ? F_GETLK : F_SETLK;
}

/* Take (F_RDLCK) or drop (F_UNLCK) the lock on one byte. */
static int raw_lock_byte(const RawLockState *ls, int fd, int off, short type)
{
    struct flock fl = {
        .l_whence = SEEK_SET,
        .l_start = off,
        .l_len = 1,
        .l_type = type,
    };

    if (fcntl(fd, raw_lock_cmd(ls, false), &fl) == -1) {
        return -errno;
    }
    return 0;
}

/* -EAGAIN if another open file description holds a lock on byte off. */
static int raw_lock_byte_test(const RawLockState *ls, int fd, int off)
{
    struct flock fl = {
        .l_whence = SEEK_SET,
        .l_start = off,
        .l_len = 1,
        .l_type = F_WRLCK,
    };

    if (fcntl(fd, raw_lock_cmd(ls, true), &fl) == -1) {
        return -errno;
    }
    return fl.l_type == F_UNLCK ? 0 : -EAGAIN;
}

/* A conflict (EAGAIN/EACCES) is reported without the errno text. */
static void G_GNUC_PRINTF(3, 4)
raw_lock_error_setg(Error **errp, int err, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    if (err == -EAGAIN || err == -EACCES) {
        error_setg(errp, "%s", msg);
    } else {
        error_setg_errno(errp, -err, "%s", msg);
    }
}

/* raw_apply_lock_bytes() on the bytes from base, locked as *locked says. */
static int raw_apply_lock_range(const RawLockState *ls, int fd, int base,
                                uint64_t want, uint64_t *locked, bool unlock,
                                Error **errp)
{
    for (int i = 0; i < BLK_PERM_BITS; i++) {
        uint64_t bit = 1ULL << i;
        int off = base + i;
        int ret;

        if ((want & bit) && !(*locked & bit)) {
            ret = raw_lock_byte(ls, fd, off, F_RDLCK);
            if (ret) {
                raw_lock_error_setg(errp, ret, "Failed to lock byte %d", off);
                return ret;
            }
            *locked |= bit;
        } else if (unlock && (*locked & bit) && !(want & bit)) {
            ret = raw_lock_byte(ls, fd, off, F_UNLCK);
            if (ret) {
                error_setg_errno(errp, -ret, "Failed to unlock byte %d", off);
                return ret;
            }
            *locked &= ~bit;
        }
    }
    return 0;
}

/*
 * Lock the bytes of perm_lock_bits and shared_perm_lock_bits (the
 * permissions held / not shared) that are not locked yet; with unlock,
 * also release those locked but no longer wanted.
 */
static int raw_apply_lock_bytes(RawLockState *ls, int fd,
                                uint64_t perm_lock_bits,
                                uint64_t shared_perm_lock_bits,
                                bool unlock, Error **errp)
{
    int ret = raw_apply_lock_range(ls, fd, RAW_LOCK_PERM_BASE,
                                   perm_lock_bits, &ls->locked_perm, unlock,
                                   errp);

    if (ret) {
        return ret;
    }
    return raw_apply_lock_range(ls, fd, RAW_LOCK_SHARED_BASE,
                                shared_perm_lock_bits,
                                &ls->locked_shared_perm, unlock, errp);
}

/* raw_check_lock_bytes() on the bytes from base; what is for the message. */
static int raw_test_lock_range(const RawLockState *ls, int fd, int base,
                               uint64_t bits, const char *what, Error **errp)
{
    for (int i = 0; i < BLK_PERM_BITS; i++) {
        uint64_t bit = 1ULL << i;
        int ret;

        if (!(bits & bit)) {
            continue;
        }
        ret = raw_lock_byte_test(ls, fd, base + i);
        if (ret) {
            g_autofree char *name = bdrv_perm_names(bit);

            raw_lock_error_setg(errp, ret, "Failed to get %s\"%s\" lock",
                                what, name);
            return ret;
        }
    }
    return 0;
}

/*
 * Does anybody else's lock forbid using perm while sharing only shared?
 * A permission we want must not be in anyone's "not shared" bytes, and one
 * we don't share must not be in anyone's "held" bytes.
 */
static int raw_check_lock_bytes(const RawLockState *ls, int fd,
                                uint64_t perm, uint64_t shared, Error **errp)
{
    int ret = raw_test_lock_range(ls, fd, RAW_LOCK_SHARED_BASE, perm, "",
                                  errp);

    if (ret) {
        return ret;
    }
    return raw_test_lock_range(ls, fd, RAW_LOCK_PERM_BASE, ~shared,
                               "shared ", errp);
}

/* Can fd use OFD locks?  (Only old kernels or odd file systems say no.) */
static bool raw_has_ofd_lock(int fd)
{
    struct flock fl = {
        .l_whence = SEEK_SET,
        .l_start = 0,
        .l_len = 0,
        .l_type = F_WRLCK,
    };

    return fcntl(fd, F_OFD_GETLK, &fl) == 0 || errno != EINVAL;
}

typedef enum {
    RAW_PL_PREPARE,
    RAW_PL_COMMIT,
    RAW_PL_ABORT,
} RawPermLockOp;

static int raw_handle_perm_lock(BlockDriverState *bs, RawPermLockOp op,
                                uint64_t new_perm, uint64_t new_shared,
                                Error **errp)
{
    BDRVRawState *s = bs->opaque;
    Error *local_err = NULL;
    int ret = 0;

    if (!s->use_lock || (bs->open_flags & BDRV_O_INACTIVE)) {
        return 0;
    }

    switch (op) {
    case RAW_PL_PREPARE:
        /* Only loosening: nothing to check, and unlocking can't conflict. */
        if ((s->perm | new_perm) == s->perm &&
            (s->shared_perm & new_shared) == s->shared_perm) {
            return 0;
        }
        ret = raw_apply_lock_bytes(&s->lock, s->fd, s->perm | new_perm,
                                   ~s->shared_perm | ~new_shared, false,
                                   errp);
        if (!ret) {
            ret = raw_check_lock_bytes(&s->lock, s->fd, new_perm, new_shared,
                                       errp);
            if (!ret) {
                return 0;
            }
            error_append_hint(errp,
                              "Is another process using the image [%s]?\n",
                              bs->filename);
        }
        /* Undo what the preparation locked. */
        /* fall through */
    case RAW_PL_ABORT:
        raw_apply_lock_bytes(&s->lock, s->fd, s->perm, ~s->shared_perm, true,
                             &local_err);
        break;
    case RAW_PL_COMMIT:
        raw_apply_lock_bytes(&s->lock, s->fd, new_perm, ~new_shared, true,
                             &local_err);
        break;
    }
    if (local_err) {
        /* Only unlocking was left to do; that failing is odd, not fatal. */
        warn_report_err(local_err);
    }
    return ret;
}

/* ---- Opening ---- */

/* O_* access flags for BDRV_O_* flags and the permissions in use. */
static int raw_parse_flags(int bdrv_flags, bool has_writers)
{
    bool read_write;
    int open_flags;

    if (bdrv_flags & BDRV_O_AUTO_RDONLY) {
        /* Read-only until somebody actually needs to write. */
        read_write = has_writers;
    } else {
        read_write = bdrv_flags & BDRV_O_RDWR;
    }

    open_flags = read_write ? O_RDWR : O_RDONLY;
    if (bdrv_flags & BDRV_O_NOCACHE) {
        open_flags |= O_DIRECT;
    }
    return open_flags;
}

/* NFS accepts byte-aligned O_DIRECT requests; local file systems don't. */
static bool dio_byte_aligned(int fd)
{
    struct statfs buf;

    return fstatfs(fd, &buf) == 0 && buf.f_type == NFS_SUPER_MAGIC;
}

/* Does an O_DIRECT read of len bytes into buf at offset 0 work? */
static bool raw_is_io_aligned(int fd, void *buf, size_t len)
{
    ssize_t ret = pread(fd, buf, len, 0);

    if (ret >= 0) {
        return true;
    }
    /*
     * Only EINVAL says "misaligned"; any other failure is not about
     * alignment, so the caller had better not settle on a bigger value.
     */
    return errno != EINVAL;
}

/*
 * Find the request and memory alignment O_DIRECT needs on fd: the
 * device's logical block size if it tells, XFS's minimum direct I/O size,
 * else the smallest of 1, 512, 1k, 2k, 4k that trial reads accept.
 */
static void raw_probe_alignment(int fd, bool needs_alignment,
                                uint32_t *request_alignment,
                                size_t *buf_align, Error **errp)
{
    struct xfs_dioattr {
        uint32_t d_mem;
        uint32_t d_miniosz;
        uint32_t d_maxiosz;
    } da;
    const size_t max_align = MAX(MAX_BLOCKSIZE, qemu_real_host_page_size());
    static const size_t alignments[] = { 1, 512, 1024, 2048, 4096 };
    int sector_size;

    if (!needs_alignment) {
        *request_alignment = 1;
        *buf_align = 1;
        return;
    }

    *request_alignment = 0;
    *buf_align = 0;

    if (ioctl(fd, BLKSSZGET, &sector_size) >= 0 && sector_size > 0) {
        *request_alignment = sector_size;
    }
    /* XFS_IOC_DIOINFO, defined here to avoid the xfsprogs headers. */
    if (ioctl(fd, _IOR('X', 30, struct xfs_dioattr), &da) >= 0) {
        *request_alignment = da.d_miniosz;
    }

    if (!*request_alignment) {
        g_autoptr(void) buf = qemu_memalign(max_align, max_align);

        for (size_t i = 0; i < ARRAY_SIZE(alignments); i++) {
            if (raw_is_io_aligned(fd, buf, alignments[i])) {
                /*
                 * 1 working means the read did not reach the device (an
                 * empty file): settle on the safe maximum.
                 */
                *request_alignment = alignments[i] != 1 ? alignments[i]
                                                        : max_align;
                break;
            }
        }
    }

    if (!*buf_align) {
        g_autoptr(void) buf = qemu_memalign(max_align, 2 * max_align);

        for (size_t i = 0; i < ARRAY_SIZE(alignments); i++) {
            if (raw_is_io_aligned(fd, (char *)buf + alignments[i],
                                  max_align)) {
                *buf_align = alignments[i] != 1 ? alignments[i]
                                                : *request_alignment;
                break;
            }
        }
    }

    if (!*buf_align || !*request_alignment) {
        error_setg(errp, "Could not find working O_DIRECT alignment");
        error_append_hint(errp, "Try cache.direct=off\n");
    }
}

static bool raw_fd_needs_alignment(int fd, int open_flags)
{
    return (open_flags & O_DIRECT) && !dio_byte_aligned(fd);
}

static void raw_close(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;

    if (s->perm_change_fd >= 0) {
        qemu_close(s->perm_change_fd);
        s->perm_change_fd = -1;
    }
    if (s->fd >= 0) {
        /* Closing drops this descriptor's image locks. */
        qemu_close(s->fd);
        s->fd = -1;
    }
    if (s->laio) {
        laio_put(s->laio);
        s->laio = NULL;
    }
#ifdef CONFIG_LINUX_IO_URING
    if (s->luring) {
        luring_put(s->luring);
        s->luring = NULL;
    }
#endif
}

static int raw_open(BlockDriverState *bs, QDict *options, int flags,
                    Error **errp)
{
    ERRP_GUARD();
    BDRVRawState *s = bs->opaque;
    QemuOpts *opts;
    const char *filename = NULL;
    BlockdevAioOptions aio, aio_default;
    OnOffAuto locking;
    struct stat st;
    int ret;

    s->fd = -1;
    s->perm_change_fd = -1;

    opts = qemu_opts_create(&raw_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        ret = -EINVAL;
        goto fail;
    }

    filename = qemu_opt_get(opts, "filename");
    if (!filename) {
        error_setg(errp, "The '%s' block driver requires a file name",
                   bs->drv->format_name);
        ret = -EINVAL;
        goto fail;
    }

    if (flags & BDRV_O_NATIVE_AIO) {
        aio_default = BLOCKDEV_AIO_OPTIONS_NATIVE;
#ifdef CONFIG_LINUX_IO_URING
    } else if (flags & BDRV_O_IO_URING) {
        aio_default = BLOCKDEV_AIO_OPTIONS_IO_URING;
#endif
    } else {
        aio_default = BLOCKDEV_AIO_OPTIONS_THREADS;
    }
    aio = qapi_enum_parse(&BlockdevAioOptions_lookup,
                          qemu_opt_get(opts, "aio"), aio_default, errp);
    if (*errp) {
        ret = -EINVAL;
        goto fail;
    }
    s->use_linux_aio = aio == BLOCKDEV_AIO_OPTIONS_NATIVE;
    s->use_linux_io_uring = aio == BLOCKDEV_AIO_OPTIONS_IO_URING;
    s->aio_max_batch = qemu_opt_get_number(opts, "aio-max-batch", 0);

    locking = qapi_enum_parse(&OnOffAuto_lookup,
                              qemu_opt_get(opts, "locking"),
                              ON_OFF_AUTO_AUTO, errp);
    if (*errp) {
        ret = -EINVAL;
        goto fail;
    }

    s->drop_cache = qemu_opt_get_bool(opts, "drop-cache", true);
    s->check_cache_dropped = qemu_opt_get_bool(opts, "x-check-cache-dropped",
                                               false);

    s->open_flags = raw_parse_flags(flags, false);
    s->fd = qemu_open(filename, s->open_flags, errp);
    if (s->fd < 0) {
        ret = s->fd == -EROFS ? -EACCES : s->fd;
        s->fd = -1;
        goto fail;
    }

    s->lock.ofd = raw_has_ofd_lock(s->fd);
    switch (locking) {
    case ON_OFF_AUTO_ON:
        s->use_lock = true;
        if (!s->lock.ofd) {
            warn_report("File lock requested but OFD locking syscall is "
                        "unavailable, falling back to POSIX file locks");
            error_printf("Due to the implementation, locks can be lost "
                         "unexpectedly.\n");
        }
        break;
    case ON_OFF_AUTO_OFF:
        s->use_lock = false;
        break;
    default:
        s->use_lock = s->lock.ofd;
        break;
    }
    s->perm = 0;
    s->shared_perm = BLK_PERM_ALL;

    if (s->use_linux_aio) {
        if (!(s->open_flags & O_DIRECT)) {
            error_setg(errp, "aio=native was specified, but it requires "
                       "cache.direct=on, which was not specified.");
            ret = -EINVAL;
            goto fail;
        }
        s->laio = laio_get(bdrv_get_aio_context(bs), errp);
        if (!s->laio) {
            error_prepend(errp, "Unable to use native AIO: ");
            ret = -EINVAL;
            goto fail;
        }
    }
    if (s->use_linux_io_uring) {
#ifdef CONFIG_LINUX_IO_URING
        s->luring = luring_get(bdrv_get_aio_context(bs), errp);
        if (!s->luring) {
            error_prepend(errp, "Unable to use io_uring: ");
            ret = -EINVAL;
            goto fail;
        }
#else
        /* QEMU builds without io_uring don't know the enum value. */
        error_setg(errp, "invalid parameter value: io_uring");
        ret = -EINVAL;
        goto fail;
#endif
    }

    if (fstat(s->fd, &st) < 0) {
        ret = -errno;
        error_setg_errno(errp, errno, "Could not stat file");
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        error_setg(errp, "'%s' driver requires '%s' to be a regular file",
                   bs->drv->format_name, bs->filename);
        ret = -EINVAL;
        goto fail;
    }

    s->has_discard = true;
    s->has_write_zeroes = true;
    s->has_fallocate = true;
    s->nowait_reads = true;

    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP | BDRV_REQ_NO_FALLBACK;
    /* Growing a regular file exposes zeroes. */
    bs->supported_truncate_flags = BDRV_REQ_ZERO_WRITE;
    ret = 0;

fail:
    if (ret < 0) {
        raw_close(bs);
    }
    if (filename && (flags & BDRV_O_TEMPORARY)) {
        unlink(filename);
    }
    qemu_opts_del(opts);
    return ret;
}

static void raw_parse_filename(const char *filename, QDict *options,
                               Error **errp)
{
    bdrv_parse_filename_strip_prefix(filename, "file:", options);
}

static void raw_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    uint32_t request_alignment;
    size_t buf_align;

    s->needs_alignment = raw_fd_needs_alignment(s->fd, s->open_flags);
    raw_probe_alignment(s->fd, s->needs_alignment, &request_alignment,
                        &buf_align, errp);
    if (request_alignment) {
        bs->bl.request_alignment = request_alignment;
    }
    if (buf_align) {
        s->buf_align = buf_align;
    }
    bs->bl.min_mem_alignment = s->buf_align;
    bs->bl.opt_mem_alignment = MAX(s->buf_align, qemu_real_host_page_size());
}

/* ---- Permissions: access mode and locks ---- */

/*
 * The descriptor to use for flags and perm: s->fd if its mode fits,
 * else a new one (returned; the caller owns it).  -errno on failure.
 */
static int raw_reconfigure_getfd(BlockDriverState *bs, int flags,
                                 int *open_flags, uint64_t perm,
                                 Error **errp)
{
    BDRVRawState *s = bs->opaque;
    bool has_writers = perm & (BLK_PERM_WRITE | BLK_PERM_WRITE_UNCHANGED |
                               BLK_PERM_RESIZE);

    *open_flags = raw_parse_flags(flags, has_writers);
    if (*open_flags == s->open_flags) {
        return s->fd;
    }
    return qemu_open(bs->filename, *open_flags, errp);
}

static void raw_discard_perm_change_fd(BDRVRawState *s)
{
    if (s->perm_change_fd >= 0) {
        qemu_close(s->perm_change_fd);
    }
    s->perm_change_fd = -1;
}

static int raw_check_perm(BlockDriverState *bs, uint64_t perm,
                          uint64_t shared, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    int input_flags = s->reopen_state ? s->reopen_state->flags
                                      : bs->open_flags;
    int open_flags;
    int ret;

    raw_discard_perm_change_fd(s);

    ret = raw_reconfigure_getfd(bs, input_flags, &open_flags, perm, errp);
    if (ret < 0) {
        return ret;
    }
    if (ret != s->fd) {
        Error *local_err = NULL;

        s->perm_change_fd = ret;
        s->perm_change_flags = open_flags;
        /* Fail now, not after commit, if O_DIRECT can't work. */
        raw_probe_alignment(ret, raw_fd_needs_alignment(ret, open_flags),
                            &s->perm_change_request_alignment,
                            &s->perm_change_buf_align, &local_err);
        if (local_err) {
            error_propagate(errp, local_err);
            raw_discard_perm_change_fd(s);
            return -EINVAL;
        }
    }

    /*
     * Locks stay on the old descriptor until set_perm: they cover both
     * the old and the new permissions meanwhile.
     */
    ret = raw_handle_perm_lock(bs, RAW_PL_PREPARE, perm, shared, errp);
    if (ret < 0) {
        raw_discard_perm_change_fd(s);
    }
    return ret;
}

static void raw_set_perm(BlockDriverState *bs, uint64_t perm, uint64_t shared)
{
    BDRVRawState *s = bs->opaque;
    int old_fd = -1;

    if (s->perm_change_fd >= 0 && s->perm_change_fd != s->fd) {
        old_fd = s->fd;
        s->fd = s->perm_change_fd;
        s->open_flags = s->perm_change_flags;
        s->needs_alignment = raw_fd_needs_alignment(s->fd, s->open_flags);
        s->buf_align = s->perm_change_buf_align;
        bs->bl.request_alignment = s->perm_change_request_alignment;
        bs->bl.min_mem_alignment = s->buf_align;
        bs->bl.opt_mem_alignment = MAX(s->buf_align,
                                       qemu_real_host_page_size());
        /* The new descriptor holds no locks yet. */
        s->lock.locked_perm = 0;
        s->lock.locked_shared_perm = 0;
    }
    s->perm_change_fd = -1;

    /*
     * Lock on the new descriptor before the old one (and its locks) goes:
     * both are shared locks, they don't conflict with each other.
     */
    raw_handle_perm_lock(bs, RAW_PL_COMMIT, perm, shared, NULL);
    s->perm = perm;
    s->shared_perm = shared;

    if (old_fd >= 0) {
        qemu_close(old_fd);
    }
}

static void raw_abort_perm_update(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;

    raw_discard_perm_change_fd(s);
    raw_handle_perm_lock(bs, RAW_PL_ABORT, 0, 0, NULL);
}

/* ---- Reopen ---- */

static int raw_reopen_prepare(BDRVReopenState *state,
                              BlockReopenQueue *queue, Error **errp)
{
    BDRVRawState *s = state->bs->opaque;
    BDRVRawReopenState *rs;
    QemuOpts *opts;
    int ret = 0;

    rs = g_new0(BDRVRawReopenState, 1);
    state->opaque = rs;

    opts = qemu_opts_create(&raw_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, state->options, errp)) {
        ret = -EINVAL;
        goto out;
    }

    rs->drop_cache = qemu_opt_get_bool_del(opts, "drop-cache", true);
    rs->check_cache_dropped =
        qemu_opt_get_bool_del(opts, "x-check-cache-dropped", false);

    /*
     * The other options can't change: hand them back so that the generic
     * code compares them with the old values and complains.
     */
    qemu_opts_to_qdict(opts, state->options);

    /*
     * A different access mode (read-only, cache.direct) needs a new
     * descriptor; check_perm opens it, once the new permissions are known.
     */
    s->reopen_state = state;

out:
    qemu_opts_del(opts);
    return ret;
}

static void raw_reopen_commit(BDRVReopenState *state)
{
    BDRVRawReopenState *rs = state->opaque;
    BDRVRawState *s = state->bs->opaque;

    s->drop_cache = rs->drop_cache;
    s->check_cache_dropped = rs->check_cache_dropped;
    g_free(state->opaque);
    state->opaque = NULL;
    s->reopen_state = NULL;
}

static void raw_reopen_abort(BDRVReopenState *state)
{
    BDRVRawState *s = state->bs->opaque;

    g_free(state->opaque);
    state->opaque = NULL;
    if (s->reopen_state == state) {
        s->reopen_state = NULL;
    }
}

/* ---- Worker functions (run in the thread pool) ---- */

/* Transfer through one buffer; returns the bytes done or -errno. */
static ssize_t handle_aiocb_rw_linear(RawPosixAIOData *aiocb, char *buf)
{
    bool is_write = aiocb->aio_type & QEMU_AIO_WRITE;
    uint64_t done = 0;

    while (done < aiocb->aio_nbytes) {
        ssize_t len;

        if (is_write) {
            len = pwrite(aiocb->aio_fildes, buf + done,
                         aiocb->aio_nbytes - done, aiocb->aio_offset + done);
        } else {
            len = pread(aiocb->aio_fildes, buf + done,
                        aiocb->aio_nbytes - done, aiocb->aio_offset + done);
        }
        if (len == -1 && errno == EINTR) {
            continue;
        }
        if (len == -1 && errno == EINVAL && !is_write && done > 0 &&
            aiocb->s && (aiocb->s->open_flags & O_DIRECT)) {
            /* O_DIRECT reads fail with EINVAL at the end of the file. */
            break;
        }
        if (len == -1) {
            return -errno;
        }
        if (len == 0) {
            break;
        }
        done += len;
    }
    return done;
}

/* Transfer a vector, continuing after partial transfers. */
static ssize_t handle_aiocb_rw_vector(RawPosixAIOData *aiocb)
{
    bool is_write = aiocb->aio_type & QEMU_AIO_WRITE;
    struct iovec *iov = aiocb->io.iov;
    unsigned int niov = aiocb->io.niov;
    g_autofree struct iovec *copy = NULL;
    uint64_t done = 0;

    while (done < aiocb->aio_nbytes) {
        ssize_t len;

        if (is_write) {
            len = pwritev(aiocb->aio_fildes, iov, niov,
                          aiocb->aio_offset + done);
        } else {
            len = preadv(aiocb->aio_fildes, iov, niov,
                         aiocb->aio_offset + done);
        }
        if (len == -1 && errno == EINTR) {
            continue;
        }
        if (len == -1) {
            return -errno;
        }
        if (len == 0) {
            break;
        }
        done += len;
        if (done < aiocb->aio_nbytes) {
            /* Partial: skip what is done, in a copy of the caller's iov. */
            if (!copy) {
                copy = g_memdup2(iov, niov * sizeof(*iov));
                iov = copy;
            }
            iov_discard_front(&iov, &niov, len);
        }
    }
    return done;
}

static int handle_aiocb_rw(void *opaque)
{
    RawPosixAIOData *aiocb = opaque;
    ssize_t nbytes;

    if (!(aiocb->aio_type & QEMU_AIO_MISALIGNED)) {
        if (aiocb->io.niov == 1) {
            nbytes = handle_aiocb_rw_linear(aiocb, aiocb->io.iov->iov_base);
        } else {
            nbytes = handle_aiocb_rw_vector(aiocb);
        }
    } else {
        /* O_DIRECT with unsuitable buffers: bounce through aligned memory. */
        char *buf = qemu_try_blockalign(aiocb->bs, aiocb->aio_nbytes);

        if (!buf) {
            return -ENOMEM;
        }
        if (aiocb->aio_type & QEMU_AIO_WRITE) {
            iov_to_buf(aiocb->io.iov, aiocb->io.niov, 0, buf,
                       aiocb->aio_nbytes);
        }
        nbytes = handle_aiocb_rw_linear(aiocb, buf);
        if (!(aiocb->aio_type & QEMU_AIO_WRITE) && nbytes > 0) {
            iov_from_buf(aiocb->io.iov, aiocb->io.niov, 0, buf, nbytes);
        }
        qemu_vfree(buf);
    }

    if (nbytes < 0) {
        return nbytes;
    }
    if ((uint64_t)nbytes < aiocb->aio_nbytes) {
        if (aiocb->aio_type & QEMU_AIO_WRITE) {
            return -EINVAL;
        }
        /* Reading beyond the end of the file gives zeroes. */
        iov_memset(aiocb->io.iov, aiocb->io.niov, nbytes, 0,
                   aiocb->aio_nbytes - nbytes);
    }
    return 0;
}

static int handle_aiocb_flush(void *opaque)
{
    RawPosixAIOData *aiocb = opaque;
    BDRVRawState *s = aiocb->s;
    int err = qatomic_read(&s->page_cache_inconsistent);

    if (err) {
        return -err;
    }
    if (fdatasync(aiocb->aio_fildes) == 0) {
        return 0;
    }
    err = errno;
    /*
     * Linux marks the failed pages clean: a later fdatasync would succeed
     * without writing them, so fail every later flush.  O_DIRECT writes
     * bypass the page cache and don't have this problem.
     */
    if (!(s->open_flags & O_DIRECT)) {
        qatomic_set(&s->page_cache_inconsistent, err);
    }
    return -err;
}

static int handle_aiocb_discard(void *opaque)
{
    RawPosixAIOData *aiocb = opaque;
    BDRVRawState *s = aiocb->s;
    int ret;

    if (!qatomic_read(&s->has_discard)) {
        return -ENOTSUP;
    }
    ret = do_fallocate(aiocb->aio_fildes,
                       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                       aiocb->aio_offset, aiocb->aio_nbytes);
    if (ret == -ENOTSUP) {
        qatomic_set(&s->has_discard, false);
    }
    return ret;
}

static int handle_aiocb_write_zeroes(void *opaque)
{
    RawPosixAIOData *aiocb = opaque;
    BDRVRawState *s = aiocb->s;
    int fd = aiocb->aio_fildes;
    off_t len;
    int ret;

    if (qatomic_read(&s->has_write_zeroes)) {
        ret = do_fallocate(fd, FALLOC_FL_ZERO_RANGE, aiocb->aio_offset,
                           aiocb->aio_nbytes);
        if (ret == -ENOTSUP) {
            qatomic_set(&s->has_write_zeroes, false);
        } else if (ret != -EINVAL) {
            return ret;
        }
        /*
         * Some file systems refuse unaligned ranges with EINVAL although
         * they should not; try the other ways then.
         */
    }

    if (qatomic_read(&s->has_discard) && qatomic_read(&s->has_fallocate)) {
        ret = do_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                           aiocb->aio_offset, aiocb->aio_nbytes);
        if (ret == 0) {
            /* Reallocate, so that later writes can't fail with ENOSPC. */
            ret = do_fallocate(fd, 0, aiocb->aio_offset, aiocb->aio_nbytes);
            if (ret != -ENOTSUP) {
                return ret;
            }
            qatomic_set(&s->has_fallocate, false);
        } else if (ret == -ENOTSUP) {
            qatomic_set(&s->has_discard, false);
        } else if (ret != -EINVAL) {
            return ret;
        }
    }

    /* Last resort: beyond the end of the file, allocating is zeroing. */
    len = lseek(fd, 0, SEEK_END);
    if (qatomic_read(&s->has_fallocate) && len >= 0 &&
        aiocb->aio_offset >= len) {
        ret = do_fallocate(fd, 0, aiocb->aio_offset, aiocb->aio_nbytes);
        if (ret != -ENOTSUP) {
            return ret;
        }
        qatomic_set(&s->has_fallocate, false);
    }

    /* The block layer writes a zeroed buffer instead. */
    return -ENOTSUP;
}

static int handle_aiocb_write_zeroes_unmap(void *opaque)
{
    RawPosixAIOData *aiocb = opaque;
    int ret;

    /* A punched hole reads as zeroes and frees the space. */
    ret = do_fallocate(aiocb->aio_fildes,
                       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                       aiocb->aio_offset, aiocb->aio_nbytes);
    switch (ret) {
    case -ENOTSUP:
    case -EINVAL:
    case -EBUSY:
        return handle_aiocb_write_zeroes(aiocb);
    default:
        return ret;
    }
}

/* Write zeroes to the first block so that alignment probing reads data. */
static int allocate_first_block(int fd, size_t max_size)
{
    size_t write_size = max_size < MAX_BLOCKSIZE ? BDRV_SECTOR_SIZE
                                                 : MAX_BLOCKSIZE;
    size_t max_align = MAX(MAX_BLOCKSIZE, qemu_real_host_page_size());
    g_autoptr(void) buf = qemu_memalign(max_align, write_size);
    ssize_t n;

    memset(buf, 0, write_size);
    do {
        n = pwrite(fd, buf, write_size, 0);
    } while (n == -1 && errno == EINTR);

    return n == -1 ? -errno : 0;
}

/*
 * A descriptor without O_DIRECT for fd's file, for writes that can't
 * meet O_DIRECT's alignment (QEMU 7.2 fails full preallocation of
 * O_DIRECT images with EINVAL); fd itself if it has no O_DIRECT or the
 * reopen fails.  The caller closes a descriptor other than fd.
 */
static int raw_open_buffered(int fd)
{
    g_autofree char *path = NULL;
    int flags = fcntl(fd, F_GETFL);
    int wfd;

    if (flags < 0 || !(flags & O_DIRECT)) {
        return fd;
    }
    path = g_strdup_printf("/proc/self/fd/%d", fd);
    wfd = open(path, O_WRONLY | O_CLOEXEC);
    return wfd < 0 ? fd : wfd;
}

static int handle_aiocb_truncate(void *opaque)
{
    RawPosixAIOData *aiocb = opaque;
    int fd = aiocb->aio_fildes;
    int64_t offset = aiocb->aio_offset;
    PreallocMode prealloc = aiocb->truncate.prealloc;
    Error **errp = aiocb->truncate.errp;
    int64_t current_length;
    struct stat st;
    int result = 0;

    if (fstat(fd, &st) < 0) {
        result = -errno;
        error_setg_errno(errp, -result, "Could not stat file");
        return result;
    }

    current_length = st.st_size;
    if (current_length > offset && prealloc != PREALLOC_MODE_OFF) {
        error_setg(errp, "Cannot use preallocation for shrinking files");
        return -ENOTSUP;
    }

    switch (prealloc) {
    case PREALLOC_MODE_FALLOC:
        if (offset != current_length) {
            /* posix_fallocate returns the error instead of setting errno. */
            result = -posix_fallocate(fd, current_length,
                                      offset - current_length);
            if (result != 0) {
                error_setg_errno(errp, -result,
                                 "Could not preallocate new data");
            } else if (current_length == 0) {
                /*
                 * Reads from fallocated space never reach the disk, which
                 * would fool the alignment probing; give it data to read.
                 */
                allocate_first_block(fd, 1 << 30);
            }
        }
        break;
    case PREALLOC_MODE_FULL: {
        g_autofree char *buf = NULL;
        int64_t pos = current_length;
        int wfd;

        /* Telling the final size first helps the file system allocate. */
        if (ftruncate(fd, offset) != 0) {
            result = -errno;
            error_setg_errno(errp, -result, "Could not resize file");
            break;
        }
        wfd = raw_open_buffered(fd);
        buf = g_malloc0(64 * KiB);
        while (pos < offset) {
            ssize_t n = pwrite(wfd, buf, MIN(offset - pos, 64 * KiB), pos);

            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                result = -errno;
                error_setg_errno(errp, -result,
                                 "Could not write zeros for preallocation");
                break;
            }
            pos += n;
        }
        if (result == 0 && fsync(wfd) < 0) {
            result = -errno;
            error_setg_errno(errp, -result, "Could not flush file to disk");
        }
        if (wfd != fd) {
            close(wfd);
        }
        break;
    }
    case PREALLOC_MODE_OFF:
        if (ftruncate(fd, offset) != 0) {
            result = -errno;
            error_setg_errno(errp, -result, "Could not resize file");
        } else if (current_length == 0 && offset > current_length) {
            /* For the alignment probing, as above; failures don't matter. */
            allocate_first_block(fd, offset);
        }
        return result;
    default:
        error_setg(errp, "Unsupported preallocation mode: %s",
                   PreallocMode_str(prealloc));
        return -ENOTSUP;
    }

    if (result < 0 && ftruncate(fd, current_length) < 0) {
        error_report("Failed to restore old file length: %s",
                     strerror(errno));
    }
    return result;
}

/* ---- I/O ---- */

/* Are all buffers and lengths of qiov suitable for O_DIRECT? */
static bool raw_qiov_is_aligned(BDRVRawState *s, QEMUIOVector *qiov)
{
    for (int i = 0; i < qiov->niov; i++) {
        if ((uintptr_t)qiov->iov[i].iov_base % s->buf_align ||
            qiov->iov[i].iov_len % s->buf_align) {
            return false;
        }
    }
    return true;
}

/*
 * Serve a read from the page cache without a thread switch.  RWF_NOWAIT
 * makes preadv2 fail with EAGAIN instead of waiting for the disk, so this
 * never blocks the event loop on I/O.  Returns true if it read it all.
 */
static bool raw_try_nowait_read(BDRVRawState *s, uint64_t offset,
                                uint64_t bytes, QEMUIOVector *qiov)
{
    ssize_t n;

    if (!s->nowait_reads || (s->open_flags & O_DIRECT) ||
        qiov->niov > IOV_MAX) {
        return false;
    }
    n = preadv2(s->fd, qiov->iov, qiov->niov, offset, RWF_NOWAIT);
    if (n == (ssize_t)bytes) {
        return true;
    }
    if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
        s->nowait_reads = false;
    }
    /* Not cached, partly cached or at the end of the file: use the pool. */
    return false;
}

static int coroutine_fn raw_co_prw(BlockDriverState *bs, uint64_t offset,
                                   uint64_t bytes, QEMUIOVector *qiov,
                                   int type)
{
    BDRVRawState *s = bs->opaque;
    RawPosixAIOData acb;

    assert(qiov->size == bytes);

    if (s->needs_alignment && !raw_qiov_is_aligned(s, qiov)) {
        type |= QEMU_AIO_MISALIGNED;
#ifdef CONFIG_LINUX_IO_URING
    } else if (s->luring) {
        return luring_co_submit(bs, s->luring, s->fd, offset, qiov, type);
#endif
    } else if (s->laio) {
        return laio_co_submit(bs, s->laio, s->fd, offset, qiov, type,
                              s->aio_max_batch);
    } else if (type == QEMU_AIO_READ &&
               raw_try_nowait_read(s, offset, bytes, qiov)) {
        return 0;
    }

    acb = (RawPosixAIOData) {
        .bs = bs,
        .s = s,
        .aio_fildes = s->fd,
        .aio_type = type,
        .aio_offset = offset,
        .aio_nbytes = bytes,
        .io = {
            .iov = qiov->iov,
            .niov = qiov->niov,
        },
    };
    return raw_co_pool_submit(bs, handle_aiocb_rw, &acb);
}

static int coroutine_fn raw_co_preadv(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      BdrvRequestFlags flags)
{
    return raw_co_prw(bs, offset, bytes, qiov, QEMU_AIO_READ);
}

static int coroutine_fn raw_co_pwritev(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    return raw_co_prw(bs, offset, bytes, qiov, QEMU_AIO_WRITE);
}

static void raw_aio_plug(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;

    if (s->laio) {
        laio_io_plug(bs, s->laio);
    }
#ifdef CONFIG_LINUX_IO_URING
    if (s->luring) {
        luring_io_plug(bs, s->luring);
    }
#endif
}

static void raw_aio_unplug(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;

    if (s->laio) {
        laio_io_unplug(bs, s->laio, s->aio_max_batch);
    }
#ifdef CONFIG_LINUX_IO_URING
    if (s->luring) {
        luring_io_unplug(bs, s->luring);
    }
#endif
}

static int coroutine_fn raw_co_flush_to_disk(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    RawPosixAIOData acb = {
        .bs = bs,
        .s = s,
        .aio_fildes = s->fd,
        .aio_type = QEMU_AIO_FLUSH,
    };

#ifdef CONFIG_LINUX_IO_URING
    if (s->luring) {
        int ret = qatomic_read(&s->page_cache_inconsistent);

        if (ret) {
            return -ret;
        }
        ret = luring_co_submit(bs, s->luring, s->fd, 0, NULL, QEMU_AIO_FLUSH);
        if (ret < 0 && !(s->open_flags & O_DIRECT)) {
            qatomic_set(&s->page_cache_inconsistent, -ret);
        }
        return ret;
    }
#endif
    return raw_co_pool_submit(bs, handle_aiocb_flush, &acb);
}

static int coroutine_fn raw_co_pdiscard(BlockDriverState *bs, int64_t offset,
                                        int64_t bytes)
{
    BDRVRawState *s = bs->opaque;
    RawPosixAIOData acb = {
        .bs = bs,
        .s = s,
        .aio_fildes = s->fd,
        .aio_type = QEMU_AIO_DISCARD,
        .aio_offset = offset,
        .aio_nbytes = bytes,
    };

    return raw_co_pool_submit(bs, handle_aiocb_discard, &acb);
}

static int coroutine_fn raw_co_pwrite_zeroes(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes,
                                             BdrvRequestFlags flags)
{
    BDRVRawState *s = bs->opaque;
    RawPosixAIOData acb = {
        .bs = bs,
        .s = s,
        .aio_fildes = s->fd,
        .aio_type = QEMU_AIO_WRITE_ZEROES,
        .aio_offset = offset,
        .aio_nbytes = bytes,
    };

    if (offset + bytes > bs->total_sectors * BDRV_SECTOR_SIZE) {
        BdrvTrackedRequest *req = bdrv_co_get_self_request(bs);

        /*
         * XFS loses writes submitted through AIO beyond the end of the
         * file while a concurrent fallocate() extends it.  Make this
         * zero write exclude everything from its start to "infinity".
         * Other file systems (remote ones, whose host we don't know)
         * get the same treatment.
         */
        if (req && req->type == BDRV_TRACKED_WRITE) {
            req->bytes = BDRV_MAX_LENGTH - req->offset;
            bdrv_make_request_serialising(req, bs->bl.request_alignment);
        }
    }

    if (flags & BDRV_REQ_NO_FALLBACK) {
        acb.aio_type |= QEMU_AIO_NO_FALLBACK;
    }
    if (flags & BDRV_REQ_MAY_UNMAP) {
        acb.aio_type |= QEMU_AIO_DISCARD;
        return raw_co_pool_submit(bs, handle_aiocb_write_zeroes_unmap,
                                  &acb);
    }
    return raw_co_pool_submit(bs, handle_aiocb_write_zeroes, &acb);
}

/*
 * Where do data and hole around start begin?  0 with *data and *hole
 * set (one of them equals start), -ENXIO past the last data, other
 * -errno when the file system can't tell.
 */
static int find_allocation(BDRVRawState *s, off_t start, off_t *data,
                           off_t *hole)
{
    off_t offs;

    offs = lseek(s->fd, start, SEEK_DATA);
    if (offs < 0) {
        return -errno;
    }
    if (offs < start) {
        return -EIO;            /* impossible answer */
    }
    if (offs > start) {
        *hole = start;
        *data = offs;
        return 0;
    }

    offs = lseek(s->fd, start, SEEK_HOLE);
    if (offs < 0) {
        return -errno;
    }
    if (offs < start) {
        return -EIO;
    }
    if (offs > start) {
        *data = start;
        *hole = offs;
        return 0;
    }
    /* Both at start: the file changed under us. */
    return -EBUSY;
}

static int coroutine_fn raw_co_block_status(BlockDriverState *bs,
                                            bool want_zero, int64_t offset,
                                            int64_t bytes, int64_t *pnum,
                                            int64_t *map,
                                            BlockDriverState **file)
{
    BDRVRawState *s = bs->opaque;
    off_t data = 0, hole = 0;
    int ret;

    *map = offset;
    *file = bs;

    if (!want_zero) {
        /* Allocation questions only: everything is allocated here. */
        *pnum = bytes;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }

    ret = find_allocation(s, offset, &data, &hole);
    if (ret == -ENXIO) {
        /* A hole up to the end of the file. */
        *pnum = bytes;
        ret = BDRV_BLOCK_ZERO;
    } else if (ret < 0) {
        /* No information: claim data, which is always safe. */
        *pnum = bytes;
        ret = BDRV_BLOCK_DATA;
    } else if (data == offset) {
        /*
         * Data up to the next hole; a file that ends in the middle of a
         * block counts the whole block (pnum must stay aligned).
         */
        *pnum = ROUND_UP(hole - offset, bs->bl.request_alignment);
        ret = BDRV_BLOCK_DATA;
    } else {
        *pnum = data - offset;
        ret = BDRV_BLOCK_ZERO;
    }
    return ret | BDRV_BLOCK_OFFSET_VALID;
}

static int coroutine_fn raw_co_regular_truncate(BlockDriverState *bs, int fd,
                                                int64_t offset,
                                                PreallocMode prealloc,
                                                Error **errp)
{
    RawPosixAIOData acb = {
        .bs = bs,
        .s = bs ? bs->opaque : NULL,
        .aio_fildes = fd,
        .aio_type = QEMU_AIO_TRUNCATE,
        .aio_offset = offset,
        .truncate = {
            .prealloc = prealloc,
            .errp = errp,
        },
    };

    return raw_co_pool_submit(bs, handle_aiocb_truncate, &acb);
}

static int coroutine_fn raw_co_truncate(BlockDriverState *bs, int64_t offset,
                                        bool exact, PreallocMode prealloc,
                                        BdrvRequestFlags flags, Error **errp)
{
    BDRVRawState *s = bs->opaque;

    /* Regular files always take the exact size. */
    return raw_co_regular_truncate(bs, s->fd, offset, prealloc, errp);
}

static int64_t raw_getlength(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    off_t size = lseek(s->fd, 0, SEEK_END);

    return size < 0 ? -errno : size;
}

static int64_t raw_get_allocated_file_size(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    struct stat st;

    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    return (int64_t)st.st_blocks * 512;
}

static int raw_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    /* Nothing to say beyond the zeroes the caller put there. */
    return 0;
}

/* ---- Page cache (incoming migration) ---- */

/* Fail if any page of the file is still cached. */
static void check_cache_dropped(BlockDriverState *bs, Error **errp)
{
    const size_t window_size = 128 * MiB;
    BDRVRawState *s = bs->opaque;
    size_t page_size = qemu_real_host_page_size();
    g_autofree unsigned char *vec =
        g_malloc(DIV_ROUND_UP(window_size, page_size));
    int64_t end = raw_getlength(bs);

    for (int64_t offset = 0; offset < end; offset += window_size) {
        size_t length = MIN(end - offset, (int64_t)window_size);
        void *window;
        int ret;

        window = mmap(NULL, length, PROT_NONE, MAP_PRIVATE, s->fd, offset);
        if (window == MAP_FAILED) {
            error_setg_errno(errp, errno, "mmap failed");
            return;
        }
        ret = mincore(window, length, vec);
        if (ret < 0) {
            error_setg_errno(errp, errno, "mincore failed");
        }
        munmap(window, length);
        if (ret < 0) {
            return;
        }
        for (size_t i = 0; i < DIV_ROUND_UP(length, page_size); i++) {
            if (vec[i] & 1) {
                error_setg(errp, "page cache still in use!");
                return;
            }
        }
    }
}

static void coroutine_fn raw_co_invalidate_cache(BlockDriverState *bs,
                                                 Error **errp)
{
    BDRVRawState *s = bs->opaque;
    int ret;

    if (!s->drop_cache || (s->open_flags & O_DIRECT)) {
        return;
    }

    /* Only clean pages can be dropped. */
    ret = bdrv_co_flush(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "flush failed");
        return;
    }
    ret = posix_fadvise(s->fd, 0, 0, POSIX_FADV_DONTNEED);
    if (ret != 0) {
        error_setg_errno(errp, ret, "fadvise failed");
        return;
    }
    if (s->check_cache_dropped) {
        check_cache_dropped(bs, errp);
    }
}

/* ---- Creation and deletion ---- */

static QemuOptsList raw_create_opts = {
    .name = "raw-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(raw_create_opts.head),
    .desc = {
        {
            .name = BLOCK_OPT_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Virtual disk size"
        },
        {
            .name = BLOCK_OPT_NOCOW,
            .type = QEMU_OPT_BOOL,
            .help = "Turn off copy-on-write (valid only on btrfs)"
        },
        {
            .name = BLOCK_OPT_PREALLOC,
            .type = QEMU_OPT_STRING,
            .help = "Preallocation mode (allowed values: off, falloc, full)"
        },
        {
            .name = BLOCK_OPT_EXTENT_SIZE_HINT,
            .type = QEMU_OPT_SIZE,
            .help = "Extent size hint for the image file, 0 to disable"
        },
        { /* end of list */ }
    }
};

/* Best effort: the hint only helps XFS against fragmentation. */
static void raw_set_extent_size_hint(int fd, uint64_t hint, bool explicit)
{
    struct fsxattr attr;
    int ret;

    ret = ioctl(fd, FS_IOC_FSGETXATTR, &attr);
    if (ret == 0) {
        attr.fsx_xflags |= FS_XFLAG_EXTSIZE;
        attr.fsx_extsize = hint;
        ret = ioctl(fd, FS_IOC_FSSETXATTR, &attr);
    }
    if (ret < 0 && explicit && hint) {
        warn_report("Failed to set extent size hint: %s", strerror(errno));
    }
}

static int coroutine_fn raw_co_create(const char *filename, int64_t size,
                                      PreallocMode prealloc, bool nocow,
                                      bool has_extent_size_hint,
                                      uint64_t extent_size_hint,
                                      Error **errp)
{
    /*
     * Writing and resizing need WRITE and RESIZE; nobody else may resize
     * while we promise a size.  (After we return, we can't keep them
     * from it any more.)
     */
    const uint64_t perm = BLK_PERM_WRITE | BLK_PERM_RESIZE;
    const uint64_t shared = BLK_PERM_ALL & ~BLK_PERM_RESIZE;
    RawLockState lock = { 0 };
    Error *local_err = NULL;
    int result;
    int fd;

    if (!has_extent_size_hint) {
        extent_size_hint = 1 * MiB;
    }
    if (extent_size_hint > UINT32_MAX) {
        error_setg(errp, "Extent size hint is too large");
        return -EINVAL;
    }

    fd = qemu_create(filename, O_RDWR, 0644, errp);
    if (fd < 0) {
        return fd;
    }

    lock.ofd = raw_has_ofd_lock(fd);
    result = raw_apply_lock_bytes(&lock, fd, perm, ~shared, false, errp);
    if (result < 0) {
        goto out_unlock;
    }
    result = raw_check_lock_bytes(&lock, fd, perm, shared, errp);
    if (result < 0) {
        error_append_hint(errp, "Is another process using the image [%s]?\n",
                          filename);
        goto out_unlock;
    }

    /* Start from an empty file. */
    result = raw_co_regular_truncate(NULL, fd, 0, PREALLOC_MODE_OFF, errp);
    if (result < 0) {
        goto out_unlock;
    }

    if (nocow) {
        int attr;

        /* An optimisation for btrfs; failure is fine. */
        if (ioctl(fd, FS_IOC_GETFLAGS, &attr) == 0) {
            attr |= FS_NOCOW_FL;
            ioctl(fd, FS_IOC_SETFLAGS, &attr);
        }
    }
    raw_set_extent_size_hint(fd, extent_size_hint, has_extent_size_hint);

    result = raw_co_regular_truncate(NULL, fd, size, prealloc, errp);

out_unlock:
    raw_apply_lock_bytes(&lock, fd, 0, 0, true, &local_err);
    if (local_err) {
        /* The image exists all the same. */
        warn_report_err(local_err);
    }
    if (qemu_close(fd) != 0 && result == 0) {
        result = -errno;
        error_setg_errno(errp, -result, "Could not close the new file");
    }
    return result;
}

static int coroutine_fn raw_co_create_opts(BlockDriver *drv,
                                           const char *filename,
                                           QemuOpts *opts, Error **errp)
{
    ERRP_GUARD();
    int64_t total_size;
    uint64_t extent_size_hint = 0;
    bool has_extent_size_hint = false;
    bool nocow;
    PreallocMode prealloc;
    g_autofree char *buf = NULL;

    strstart(filename, "file:", &filename);

    total_size = ROUND_UP(qemu_opt_get_size_del(opts, BLOCK_OPT_SIZE, 0),
                          BDRV_SECTOR_SIZE);
    if (qemu_opt_get(opts, BLOCK_OPT_EXTENT_SIZE_HINT)) {
        has_extent_size_hint = true;
        extent_size_hint = qemu_opt_get_size_del(opts,
                                                 BLOCK_OPT_EXTENT_SIZE_HINT,
                                                 -1);
    }
    nocow = qemu_opt_get_bool(opts, BLOCK_OPT_NOCOW, false);
    buf = qemu_opt_get_del(opts, BLOCK_OPT_PREALLOC);
    prealloc = qapi_enum_parse(&PreallocMode_lookup, buf, PREALLOC_MODE_OFF,
                               errp);
    if (*errp) {
        return -EINVAL;
    }

    return raw_co_create(filename, total_size, prealloc, nocow,
                         has_extent_size_hint, extent_size_hint, errp);
}

static int coroutine_fn raw_co_delete_file(BlockDriverState *bs,
                                           Error **errp)
{
    struct stat st;
    int ret;

    if (stat(bs->filename, &st) != 0 || !S_ISREG(st.st_mode)) {
        error_setg_errno(errp, ENOENT, "%s is not a regular file",
                         bs->filename);
        return -ENOENT;
    }

    ret = unlink(bs->filename);
    if (ret < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Error when deleting file %s",
                         bs->filename);
    }
    return ret;
}

BlockDriver bdrv_file = {
    .format_name                  = "file",
    .protocol_name                = "file",
    .instance_size                = sizeof(BDRVRawState),
    .bdrv_needs_filename          = true,
    .create_opts                  = &raw_create_opts,
    .mutable_opts                 = mutable_opts,

    .bdrv_parse_filename          = raw_parse_filename,
    .bdrv_file_open               = raw_open,
    .bdrv_close                   = raw_close,
    .bdrv_reopen_prepare          = raw_reopen_prepare,
    .bdrv_reopen_commit           = raw_reopen_commit,
    .bdrv_reopen_abort            = raw_reopen_abort,
    .bdrv_co_create_opts          = raw_co_create_opts,
    .bdrv_co_delete_file          = raw_co_delete_file,
    .bdrv_refresh_limits          = raw_refresh_limits,
    .bdrv_check_perm              = raw_check_perm,
    .bdrv_set_perm                = raw_set_perm,
    .bdrv_abort_perm_update       = raw_abort_perm_update,

    .bdrv_getlength               = raw_getlength,
    .bdrv_get_allocated_file_size = raw_get_allocated_file_size,
    .bdrv_get_info                = raw_get_info,
    .bdrv_has_zero_init           = bdrv_has_zero_init_1,
    .bdrv_co_invalidate_cache     = raw_co_invalidate_cache,

    .bdrv_co_preadv               = raw_co_preadv,
    .bdrv_co_pwritev              = raw_co_pwritev,
    .bdrv_co_pwrite_zeroes        = raw_co_pwrite_zeroes,
    .bdrv_co_pdiscard             = raw_co_pdiscard,
    .bdrv_co_block_status         = raw_co_block_status,
    .bdrv_co_flush_to_disk        = raw_co_flush_to_disk,
    .bdrv_co_truncate             = raw_co_truncate,
    .bdrv_io_plug                 = raw_aio_plug,
    .bdrv_io_unplug               = raw_aio_unplug,
};

static void bdrv_file_init(void)
{
    bdrv_register(&bdrv_file);
}

block_init(bdrv_file_init);
