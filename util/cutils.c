/*
 * String and number helpers with QEMU 7.2's accept/reject rules.
 */
#include "qemu/osdep.h"
#include <math.h>
#include "qemu/cutils.h"
#include "qemu/error.h"

/* ---- integers and doubles ---- */

static void check_base(int base)
{
    assert((unsigned)base <= 36 && base != 1);
}

/*
 * Common tail of the strto* wrappers: ep is where libc stopped, err its
 * errno.  Turns "nothing parsed" and (without endptr) "something left"
 * into -EINVAL.
 */
static int strtox_finish(const char *nptr, const char *ep,
                         const char **endptr, int err)
{
    if (endptr) {
        *endptr = ep;
    }
    if (ep == nptr && err == 0) {
        return -EINVAL;
    }
    if (!endptr && *ep) {
        return -EINVAL;
    }
    return -err;
}

/* NULL input: -EINVAL with *endptr = NULL. */
static int strtox_null(const char **endptr)
{
    if (endptr) {
        *endptr = NULL;
    }
    return -EINVAL;
}

/* True if libc parsed a number that was written with a minus sign. */
static bool parsed_negative(const char *nptr, const char *ep)
{
    while (nptr < ep && qemu_isspace(*nptr)) {
        nptr++;
    }
    return nptr < ep && *nptr == '-';
}

int qemu_strtoi(const char *nptr, const char **endptr, int base,
                int *result)
{
    char *ep;
    long long v;
    int err;

    check_base(base);
    if (!nptr) {
        return strtox_null(endptr);
    }
    errno = 0;
    v = strtoll(nptr, &ep, base);
    err = errno;
    if (v > INT_MAX) {
        *result = INT_MAX;
        err = ERANGE;
    } else if (v < INT_MIN) {
        *result = INT_MIN;
        err = ERANGE;
    } else {
        *result = v;
    }
    return strtox_finish(nptr, ep, endptr, err);
}

int qemu_strtoui(const char *nptr, const char **endptr, int base,
                 unsigned int *result)
{
    char *ep;
    unsigned long long v;
    int err;

    check_base(base);
    if (!nptr) {
        return strtox_null(endptr);
    }
    errno = 0;
    v = strtoull(nptr, &ep, base);
    err = errno;
    if (err == ERANGE) {
        *result = UINT_MAX;
    } else if (parsed_negative(nptr, ep) ? -v > UINT_MAX : v > UINT_MAX) {
        /* The magnitude must fit in 32 bits, whatever the sign. */
        *result = UINT_MAX;
        err = ERANGE;
    } else {
        /* A negative value wraps modulo 2^32 like a 32-bit strtoul. */
        *result = (unsigned int)v;
    }
    return strtox_finish(nptr, ep, endptr, err);
}

int qemu_strtol(const char *nptr, const char **endptr, int base,
                long *result)
{
    char *ep;

    check_base(base);
    if (!nptr) {
        return strtox_null(endptr);
    }
    errno = 0;
    *result = strtol(nptr, &ep, base);
    return strtox_finish(nptr, ep, endptr, errno);
}

int qemu_strtoul(const char *nptr, const char **endptr, int base,
                 unsigned long *result)
{
    char *ep;

    check_base(base);
    if (!nptr) {
        return strtox_null(endptr);
    }
    errno = 0;
    *result = strtoul(nptr, &ep, base);
    return strtox_finish(nptr, ep, endptr, errno);
}

int qemu_strtoi64(const char *nptr, const char **endptr, int base,
                  int64_t *result)
{
    char *ep;

    QEMU_BUILD_BUG_ON(sizeof(long long) != sizeof(int64_t));
    check_base(base);
    if (!nptr) {
        return strtox_null(endptr);
    }
    errno = 0;
    *result = strtoll(nptr, &ep, base);
    return strtox_finish(nptr, ep, endptr, errno);
}

int qemu_strtou64(const char *nptr, const char **endptr, int base,
                  uint64_t *result)
{
    char *ep;

    QEMU_BUILD_BUG_ON(sizeof(unsigned long long) != sizeof(uint64_t));
    check_base(base);
    if (!nptr) {
        return strtox_null(endptr);
    }
    errno = 0;
    *result = strtoull(nptr, &ep, base);
    return strtox_finish(nptr, ep, endptr, errno);
}

int qemu_strtod(const char *nptr, const char **endptr, double *result)
{
    char *ep;

    if (!nptr) {
        return strtox_null(endptr);
    }
    errno = 0;
    *result = strtod(nptr, &ep);
    return strtox_finish(nptr, ep, endptr, errno);
}

int qemu_strtod_finite(const char *nptr, const char **endptr,
                       double *result)
{
    double v;
    int ret = qemu_strtod(nptr, endptr, &v);

    if (ret == 0 && !isfinite(v)) {
        if (endptr) {
            *endptr = nptr;
        }
        return -EINVAL;
    }
    if (ret != -EINVAL) {
        *result = v;
    }
    return ret;
}

int parse_uint(const char *s, unsigned long long *value, char **endptr,
               int base)
{
    char *ep = (char *)s;
    unsigned long long v = 0;
    int ret = 0;

    check_base(base);
    if (!s) {
        ret = -EINVAL;
        goto out;
    }
    errno = 0;
    v = strtoull(s, &ep, base);
    if (errno) {
        ret = -errno;
    } else if (ep == s) {
        ret = -EINVAL;
    } else if (parsed_negative(s, ep)) {
        /* strtoull would have wrapped it: not an unsigned number. */
        v = 0;
        ret = -ERANGE;
    }
out:
    *value = v;
    *endptr = ep;
    return ret;
}

int parse_uint_full(const char *s, unsigned long long *value, int base)
{
    char *ep;
    int ret = parse_uint(s, value, &ep, base);

    if (ret < 0) {
        return ret;
    }
    if (*ep) {
        *value = 0;
        return -EINVAL;
    }
    return 0;
}

/* ---- sizes ---- */

/* Multiplier of a size suffix, 0 if c is not one. */
static uint64_t suffix_mul(char c, uint64_t unit)
{
    static const char suffixes[] = "BKMGTPE";
    const char *s = c ? strchr(suffixes, qemu_toupper(c)) : NULL;
    uint64_t mul = 1;

    if (!s) {
        return 0;
    }
    for (const char *i = suffixes; i < s; i++) {
        mul *= unit;
    }
    return mul;
}

/*
 * Fraction text starting at '.': on success *fracp is the fraction as a
 * 0.64 fixed-point number and the return value points after it.  Returns
 * NULL for an exponent, which makes the whole input invalid.
 */
static const char *parse_fraction(const char *dot, uint64_t *fracp)
{
    const char *ep;
    double f;
    int ret = qemu_strtod_finite(dot, &ep, &f);

    *fracp = 0;
    if (ret == -EINVAL) {
        /* No digits after the dot ("1.k"): just skip it. */
        return dot + 1;
    }
    if (memchr(dot, 'e', ep - dot) || memchr(dot, 'E', ep - dot)) {
        return NULL;
    }
    if (ret == 0) {
        /*
         * f * 2^64 is exact; f may have been rounded up to 1.0 from
         * .999..., which saturates just below one.
         */
        *fracp = f < 1.0 ? (uint64_t)(f * 0x1p64) : UINT64_MAX;
    }
    /* ret == -ERANGE is underflow: the fraction is as good as zero. */
    return ep;
}

static int do_strtosz(const char *nptr, const char **end,
                      char default_suffix, uint64_t unit, uint64_t *result)
{
    const char *p;
    uint64_t val, frac = 0, mul;
    bool hex = false;
    int ret;

    if (!nptr) {
        return strtox_null(end);
    }

    /* The integral part is decimal, whatever leading zeros it has. */
    ret = qemu_strtou64(nptr, &p, 10, &val);
    if (ret) {
        goto out;
    }
    if (memchr(nptr, '-', p - nptr)) {
        /* strtoull accepts negative numbers; sizes do not. */
        ret = -EINVAL;
        p = nptr;
        goto out;
    }

    if (val == 0 && (*p == 'x' || *p == 'X')) {
        ret = qemu_strtou64(nptr, &p, 16, &val);
        if (ret) {
            goto out;
        }
        if (*p == '.') {
            ret = -EINVAL;
            p = nptr;
            goto out;
        }
        hex = true;
    } else if (*p == '.') {
        p = parse_fraction(p, &frac);
        if (!p) {
            ret = -EINVAL;
            p = nptr;
            goto out;
        }
    }

    mul = suffix_mul(*p, unit);
    if (mul) {
        if (hex) {
            warn_report("Using a multiplier suffix on hex numbers "
                        "is deprecated: %s", nptr);
        }
        p++;
    } else {
        mul = suffix_mul(default_suffix, unit);
        assert(mul);
    }

    if (mul == 1) {
        /* A fraction of a byte makes no sense. */
        if (frac) {
            ret = -EINVAL;
            p = nptr;
            goto out;
        }
    } else {
        /* val.frac * mul in 128 bits, rounding the fraction half up. */
        unsigned __int128 frac_prod = (unsigned __int128)frac * mul;
        unsigned __int128 total = (unsigned __int128)val * mul +
                                  (uint64_t)(frac_prod >> 64) +
                                  ((uint64_t)frac_prod >> 63);

        if (total > UINT64_MAX) {
            ret = -ERANGE;
            goto out;
        }
        val = total;
    }

out:
    if (end) {
        *end = p;
    } else if (*p) {
        ret = -EINVAL;
    }
    if (ret == 0) {
        *result = val;
    }
    return ret;
}

int qemu_strtosz(const char *nptr, const char **end, uint64_t *result)
{
    return do_strtosz(nptr, end, 'B', 1024, result);
}

int qemu_strtosz_MiB(const char *nptr, const char **end, uint64_t *result)
{
    return do_strtosz(nptr, end, 'M', 1024, result);
}

int qemu_strtosz_metric(const char *nptr, const char **end,
                        uint64_t *result)
{
    return do_strtosz(nptr, end, 'B', 1000, result);
}

/* ---- strings ---- */

int strstart(const char *str, const char *val, const char **ptr)
{
    size_t n = strlen(val);

    if (strncmp(str, val, n) != 0) {
        return 0;
    }
    if (ptr) {
        *ptr = str + n;
    }
    return 1;
}

int stristart(const char *str, const char *val, const char **ptr)
{
    size_t n = strlen(val);

    for (size_t i = 0; i < n; i++) {
        if (qemu_toupper(str[i]) != qemu_toupper(val[i])) {
            return 0;
        }
    }
    if (ptr) {
        *ptr = str + n;
    }
    return 1;
}

void pstrcpy(char *buf, int buf_size, const char *str)
{
    int len;

    if (buf_size <= 0) {
        return;
    }
    len = qemu_strnlen(str, buf_size - 1);
    memcpy(buf, str, len);
    buf[len] = '\0';
}

char *pstrcat(char *buf, int buf_size, const char *s)
{
    int len = qemu_strnlen(buf, buf_size);

    if (len < buf_size) {
        pstrcpy(buf + len, buf_size - len, s);
    }
    return buf;
}

void strpadcpy(char *buf, int buf_size, const char *str, char pad)
{
    int len = qemu_strnlen(str, buf_size);

    memcpy(buf, str, len);
    memset(buf + len, pad, buf_size - len);
}

int qemu_strnlen(const char *s, int max_len)
{
    int i = 0;

    while (i < max_len && s[i]) {
        i++;
    }
    return i;
}

char *qemu_strsep(char **input, const char *delim)
{
    return strsep(input, delim);
}

char *size_to_str(uint64_t val)
{
    static const char *const units[] = {
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    };
    int exp, i;

    /*
     * Scaling by 1024/1000 before taking floor(log2) / 10 moves to the
     * next unit as soon as the number would print as 1000 or more.  This
     * is done in double precision on purpose: QEMU's output near the unit
     * boundaries depends on it.
     */
    frexp(val / (1000.0 / 1024.0), &exp);
    i = exp > 0 ? (exp - 1) / 10 : 0;
    return g_strdup_printf("%0.3g %sB",
                           (double)val / (double)(UINT64_C(1) << (10 * i)),
                           units[i]);
}

char *freq_to_str(uint64_t freq_hz)
{
    static const char *const units[] = { "", "K", "M", "G", "T", "P", "E" };
    double freq = freq_hz;
    size_t i = 0;

    while (freq >= 1000.0 && i + 1 < ARRAY_SIZE(units)) {
        freq /= 1000.0;
        i++;
    }
    return g_strdup_printf("%0.3g %sHz", freq, units[i]);
}
