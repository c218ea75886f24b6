/* Bit-twiddling helpers. */
#ifndef QEMU_HOST_UTILS_H
#define QEMU_HOST_UTILS_H

static inline int clz32(uint32_t v) { return v ? __builtin_clz(v) : 32; }
static inline int clz64(uint64_t v) { return v ? __builtin_clzll(v) : 64; }
static inline int ctz32(uint32_t v) { return v ? __builtin_ctz(v) : 32; }
static inline int ctz64(uint64_t v) { return v ? __builtin_ctzll(v) : 64; }
static inline int ctpop64(uint64_t v) { return __builtin_popcountll(v); }

static inline bool is_power_of_2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* Largest power of two <= v (0 for 0). */
static inline uint64_t pow2floor(uint64_t v)
{
    return v ? UINT64_C(1) << (63 - clz64(v)) : 0;
}

/* Smallest power of two >= v (1 for 0; 0 when it does not fit). */
static inline uint64_t pow2ceil(uint64_t v)
{
    if (v <= 1) {
        return 1;
    }
    int n = clz64(v - 1);
    return n ? UINT64_C(1) << (64 - n) : 0;
}

#endif
