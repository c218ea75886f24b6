/* Byte order conversion and unaligned loads/stores. */
#ifndef QEMU_BSWAP_H
#define QEMU_BSWAP_H

#define QB_CONV(bits, end, END)                                             \
    static inline uint##bits##_t end##bits##_to_cpu(uint##bits##_t v)      \
    {                                                                       \
        return GUINT##bits##_FROM_##END(v);                                 \
    }                                                                       \
    static inline uint##bits##_t cpu_to_##end##bits(uint##bits##_t v)      \
    {                                                                       \
        return GUINT##bits##_TO_##END(v);                                   \
    }
QB_CONV(16, be, BE)
QB_CONV(32, be, BE)
QB_CONV(64, be, BE)
QB_CONV(16, le, LE)
QB_CONV(32, le, LE)
QB_CONV(64, le, LE)
#undef QB_CONV

#define QB_LDST(name, type, conv_in, conv_out)                              \
    static inline type ld##name##_p(const void *p)                          \
    {                                                                       \
        type v;                                                             \
        memcpy(&v, p, sizeof(v));                                           \
        return conv_in(v);                                                  \
    }                                                                       \
    static inline void st##name##_p(void *p, type v)                        \
    {                                                                       \
        v = conv_out(v);                                                    \
        memcpy(p, &v, sizeof(v));                                           \
    }
QB_LDST(uw_be, uint16_t, be16_to_cpu, cpu_to_be16)
QB_LDST(l_be, uint32_t, be32_to_cpu, cpu_to_be32)
QB_LDST(q_be, uint64_t, be64_to_cpu, cpu_to_be64)
QB_LDST(uw_le, uint16_t, le16_to_cpu, cpu_to_le16)
QB_LDST(l_le, uint32_t, le32_to_cpu, cpu_to_le32)
QB_LDST(q_le, uint64_t, le64_to_cpu, cpu_to_le64)
#undef QB_LDST

/* st*_he_p-style aliases used by QEMU code for the 16-bit stores. */
#define stw_be_p stuw_be_p
#define stw_le_p stuw_le_p

#endif
