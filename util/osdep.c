/*
 * Host helpers: aligned memory, open wrappers, clocks.
 */
#include "qemu/osdep.h"
#include "qemu/error.h"

void *qemu_try_memalign(size_t alignment, size_t size)
{
    void *ptr;

    if (alignment < sizeof(void *)) {
        alignment = sizeof(void *);
    }
    assert((alignment & (alignment - 1)) == 0);
    /* posix_memalign(0) may return NULL; callers expect a real pointer. */
    if (posix_memalign(&ptr, alignment, size ? size : 1)) {
        return NULL;
    }
    return ptr;
}

void *qemu_memalign(size_t alignment, size_t size)
{
    void *ptr = qemu_try_memalign(alignment, size);

    if (!ptr) {
        g_error("qemu_memalign: cannot allocate %zu bytes", size);
    }
    return ptr;
}

void qemu_vfree(void *ptr)
{
    free(ptr);
}

uintptr_t qemu_real_host_page_size(void)
{
    static uintptr_t page_size;

    if (!page_size) {
        page_size = sysconf(_SC_PAGESIZE);
    }
    return page_size;
}

static int open_common(const char *name, int flags, mode_t mode,
                       bool create, Error **errp)
{
    int fd;

    do {
        fd = open(name, flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);

    if (fd < 0) {
        int err = errno;
        if (err == EINVAL && (flags & O_DIRECT)) {
            error_setg(errp, "Could not %s '%s': filesystem does not support "
                       "O_DIRECT", create ? "create" : "open", name);
        } else {
            error_setg_errno(errp, err, "Could not %s '%s'",
                             create ? "create" : "open", name);
        }
        return -err;
    }
    return fd;
}

int qemu_open(const char *name, int flags, Error **errp)
{
    assert(!(flags & O_CREAT));
    return open_common(name, flags, 0, false, errp);
}

int qemu_create(const char *name, int flags, mode_t mode, Error **errp)
{
    assert(!(flags & O_CREAT));
    return open_common(name, flags | O_CREAT, mode, true, errp);
}

int qemu_close(int fd)
{
    return close(fd);
}

int64_t get_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t get_clock_realtime(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
