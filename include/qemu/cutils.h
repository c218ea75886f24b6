/*
 * String and number helpers, with QEMU 7.2's parsing rules.
 *
 * Number parsers return 0 on success or a negative errno:
 *  -EINVAL  no number at all, or (when endptr is NULL) anything but the
 *           number in the string; a NULL nptr is also -EINVAL;
 *  -ERANGE  out of range: the result is clamped to the nearest limit.
 * With endptr non-NULL, parsing stops after the number and *endptr points
 * at the first unparsed character (at nptr when nothing was parsed).
 * Leading whitespace and a sign are accepted as by strtol(3).  The result
 * is also stored when the only complaint is trailing garbage.
 */
#ifndef QEMU_CUTILS_H
#define QEMU_CUTILS_H

#include "qemu/ctype.h"

int qemu_strtoi(const char *nptr, const char **endptr, int base,
                int *result);
/* Negative input wraps as with a 32-bit strtoul ("-1" is UINT_MAX). */
int qemu_strtoui(const char *nptr, const char **endptr, int base,
                 unsigned int *result);
int qemu_strtol(const char *nptr, const char **endptr, int base,
                long *result);
/* Negative input wraps modulo 2^64 as with strtoul(3). */
int qemu_strtoul(const char *nptr, const char **endptr, int base,
                 unsigned long *result);
int qemu_strtoi64(const char *nptr, const char **endptr, int base,
                  int64_t *result);
int qemu_strtou64(const char *nptr, const char **endptr, int base,
                  uint64_t *result);
/* -ERANGE on overflow (±HUGE_VAL) and underflow, as strtod(3) reports. */
int qemu_strtod(const char *nptr, const char **endptr, double *result);
/* Like qemu_strtod, but infinity and NaN are -EINVAL (result untouched). */
int qemu_strtod_finite(const char *nptr, const char **endptr,
                       double *result);

/*
 * Unsigned integer without sign: a leading '-' gives -ERANGE and 0;
 * overflow gives -ERANGE and ULLONG_MAX; no digits -EINVAL.  *endptr is
 * always set.  parse_uint_full also rejects trailing characters.
 */
int parse_uint(const char *s, unsigned long long *value, char **endptr,
               int base);
int parse_uint_full(const char *s, unsigned long long *value, int base);

/*
 * Sizes: a decimal number, optionally with a fraction, and one optional
 * suffix (case-insensitive) B, K, M, G, T, P or E; without a suffix the
 * number is bytes (qemu_strtosz, qemu_strtosz_metric) or MiB
 * (qemu_strtosz_MiB).  K = 1024 (1000 for qemu_strtosz_metric) and so on.
 *  - Fractions need a multiplier above 1 ("1.5k"), unless the fraction is
 *    zero ("1.0", "1."); the result is exact and rounded half up.
 *  - "0x..." is hexadecimal, never with a fraction; a suffix after it is
 *    accepted with the warning "Using a multiplier suffix on hex numbers
 *    is deprecated: <nptr>".  There is no octal: "010" is 10.
 *  - Any '-' is -EINVAL; exponents ("1e3", "1.5e1k") are -EINVAL.
 *  - More than UINT64_MAX is -ERANGE.
 * On failure *result is untouched.
 */
int qemu_strtosz(const char *nptr, const char **end, uint64_t *result);
int qemu_strtosz_MiB(const char *nptr, const char **end, uint64_t *result);
int qemu_strtosz_metric(const char *nptr, const char **end,
                        uint64_t *result);

/*
 * 1 if str starts with val (case-insensitively for stristart), setting
 * *ptr (if ptr is non-NULL) to the rest of str; 0 otherwise.
 */
int strstart(const char *str, const char *val, const char **ptr);
int stristart(const char *str, const char *val, const char **ptr);

/* Copy/append with truncation; buf is always NUL-terminated. */
void pstrcpy(char *buf, int buf_size, const char *str);
char *pstrcat(char *buf, int buf_size, const char *s);
/* Copy str into buf (not NUL-terminated), padding the rest with pad. */
void strpadcpy(char *buf, int buf_size, const char *str, char pad);

/* strnlen with an int bound. */
int qemu_strnlen(const char *s, int max_len);
/* strsep(3). */
char *qemu_strsep(char **input, const char *delim);

/*
 * Human-readable size with three significant digits and a binary unit,
 * switching to the next unit from 1000 on: "0 B", "1.5 KiB",
 * "0.977 KiB" (1000 bytes), "1e+03 KiB" (999.5 KiB).  Free with g_free.
 */
char *size_to_str(uint64_t val);
/* Frequency the same way with decimal units: "1.5 GHz". */
char *freq_to_str(uint64_t freq_hz);

/* True if len bytes at buf are all zero (in util/iov.c; also in iov.h). */
bool buffer_is_zero(const void *buf, size_t len);

#endif
