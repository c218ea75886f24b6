/*
 * Common includes and small helpers that every qblock source file needs.
 * Include this first in every .c file.
 */
#ifndef QEMU_OSDEP_H
#define QEMU_OSDEP_H

#include "config-host.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

/* Annotations (no code generated): the function may yield. */
#define coroutine_fn
#define coroutine_mixed_fn

#define QEMU_PACKED __attribute__((packed))
#define QEMU_ALIGNED(x) __attribute__((aligned(x)))
#define QEMU_WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#define QEMU_NOINLINE __attribute__((noinline))
#define QEMU_ALWAYS_INLINE __attribute__((always_inline))
#define QEMU_SENTINEL __attribute__((sentinel))
#define G_NORETURN_FN __attribute__((noreturn))

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define QEMU_BUILD_BUG_ON(x) G_STATIC_ASSERT(!(x))

#ifndef container_of
#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#endif

#define typeof_field(type, field) typeof(((type *)0)->field)

/* Round down/up to a multiple of m; m need not be a power of two. */
#define QEMU_ALIGN_DOWN(n, m) ((n) / (m) * (m))
#define QEMU_ALIGN_UP(n, m) QEMU_ALIGN_DOWN((n) + (m) - 1, (m))
#define QEMU_IS_ALIGNED(n, m) (((n) % (m)) == 0)
#define QEMU_ALIGN_PTR_UP(p, n) \
    ((typeof(p))QEMU_ALIGN_UP((uintptr_t)(p), (n)))
#define QEMU_PTR_IS_ALIGNED(p, n) QEMU_IS_ALIGNED((uintptr_t)(p), (n))

/* Same for power-of-two d. */
#define ROUND_DOWN(n, d) ((n) & -(0 ? (n) : (d)))
#define ROUND_UP(n, d) ROUND_DOWN((n) + (d) - 1, (d))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))

/*
 * MIN and MAX evaluate each argument exactly once, like QEMU's (glib's
 * evaluate the result twice): arguments may have side effects or read a
 * clock.  Being statement expressions, they can't size arrays or
 * initialise statics.
 */
#undef MIN
#define MIN(a, b) ({                                                        \
    typeof(1 ? (a) : (b)) qemu_min_a_ = (a), qemu_min_b_ = (b);             \
    qemu_min_a_ < qemu_min_b_ ? qemu_min_a_ : qemu_min_b_;                  \
})
#undef MAX
#define MAX(a, b) ({                                                        \
    typeof(1 ? (a) : (b)) qemu_max_a_ = (a), qemu_max_b_ = (b);             \
    qemu_max_a_ > qemu_max_b_ ? qemu_max_a_ : qemu_max_b_;                  \
})

/* The smaller of a and b, where 0 means "no limit". */
#define MIN_NON_ZERO(a, b) \
    ((a) == 0 ? (b) : ((b) == 0 ? (a) : (MIN(a, b))))

#define BITS_PER_BYTE 8
#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))

typedef struct Error Error;

/* Aligned allocation (aborts / try_: NULL on failure); free: qemu_vfree. */
void *qemu_memalign(size_t alignment, size_t size);
void *qemu_try_memalign(size_t alignment, size_t size);
void qemu_vfree(void *ptr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(void, qemu_vfree)

uintptr_t qemu_real_host_page_size(void);

/*
 * open(2) wrappers with O_CLOEXEC.  Failures set
 * "Could not open '%s': %s" / "Could not create '%s': %s" and return -errno.
 */
int qemu_open(const char *name, int flags, Error **errp);
int qemu_create(const char *name, int flags, mode_t mode, Error **errp);
int qemu_close(int fd);

/* Monotonic clock in nanoseconds. */
int64_t get_clock(void);
/* Wall clock in nanoseconds since the epoch. */
int64_t get_clock_realtime(void);

#endif
