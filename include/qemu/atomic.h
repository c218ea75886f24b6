/*
 * Atomic operations on top of the GCC __atomic builtins (sequentially
 * consistent unless the name says otherwise).
 */
#ifndef QEMU_ATOMIC_H
#define QEMU_ATOMIC_H

#define barrier() __asm__ __volatile__("" ::: "memory")

#define smp_mb()      __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_mb_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_mb_release() __atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_rmb()     smp_mb_acquire()
#define smp_wmb()     smp_mb_release()

#define qatomic_read(ptr)        __atomic_load_n(ptr, __ATOMIC_RELAXED)
#define qatomic_set(ptr, i)      __atomic_store_n(ptr, i, __ATOMIC_RELAXED)
#define qatomic_load_acquire(ptr) __atomic_load_n(ptr, __ATOMIC_ACQUIRE)
#define qatomic_store_release(ptr, i) __atomic_store_n(ptr, i, __ATOMIC_RELEASE)
#define qatomic_mb_read(ptr)     __atomic_load_n(ptr, __ATOMIC_SEQ_CST)
#define qatomic_mb_set(ptr, i)   __atomic_store_n(ptr, i, __ATOMIC_SEQ_CST)

#define qatomic_xchg(ptr, i)     __atomic_exchange_n(ptr, i, __ATOMIC_SEQ_CST)

/* Returns the old value; the swap happened iff it equals old. */
#define qatomic_cmpxchg(ptr, old, new) ({                                    \
    typeof(*(ptr)) qa_old_ = (old);                                          \
    __atomic_compare_exchange_n(ptr, &qa_old_, new, false,                   \
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);         \
    qa_old_;                                                                 \
})

#define qatomic_fetch_inc(ptr)   __atomic_fetch_add(ptr, 1, __ATOMIC_SEQ_CST)
#define qatomic_fetch_dec(ptr)   __atomic_fetch_sub(ptr, 1, __ATOMIC_SEQ_CST)
#define qatomic_fetch_add(ptr, n) __atomic_fetch_add(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_sub(ptr, n) __atomic_fetch_sub(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_and(ptr, n) __atomic_fetch_and(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_or(ptr, n) __atomic_fetch_or(ptr, n, __ATOMIC_SEQ_CST)

#define qatomic_inc_fetch(ptr)   __atomic_add_fetch(ptr, 1, __ATOMIC_SEQ_CST)
#define qatomic_dec_fetch(ptr)   __atomic_sub_fetch(ptr, 1, __ATOMIC_SEQ_CST)

#define qatomic_inc(ptr)  ((void)__atomic_fetch_add(ptr, 1, __ATOMIC_SEQ_CST))
#define qatomic_dec(ptr)  ((void)__atomic_fetch_sub(ptr, 1, __ATOMIC_SEQ_CST))
#define qatomic_add(ptr, n) ((void)__atomic_fetch_add(ptr, n, __ATOMIC_SEQ_CST))
#define qatomic_sub(ptr, n) ((void)__atomic_fetch_sub(ptr, n, __ATOMIC_SEQ_CST))
#define qatomic_and(ptr, n) ((void)__atomic_fetch_and(ptr, n, __ATOMIC_SEQ_CST))
#define qatomic_or(ptr, n)  ((void)__atomic_fetch_or(ptr, n, __ATOMIC_SEQ_CST))

#endif
