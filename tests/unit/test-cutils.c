/*
 * Unit tests for util/cutils.c.
 *
 * Size parsing expectations were observed with QEMU 7.2.22 (Debian
 * qemu-utils 1:7.2+dfsg-7+deb12u18):
 *   qemu-io -f raw -c "alloc 0 <arg>" big.raw          (64 GiB sparse file)
 *     prints "<n>/<n> bytes allocated ..." (the parsed value, capped at the
 *     image size), "Parsing error: non-numeric argument, or
 *     extraneous/unrecognized suffix" (-EINVAL) or "Parsing error: argument
 *     too large" (-ERANGE or > INT64_MAX);
 *   qemu-img create -f qcow2 t.qcow2 <arg>
 *     prints "Formatting ..., size=<n>" for any value up to INT64_MAX,
 *     "Invalid image size specified. You may use k, M, G, ..." (-EINVAL)
 *     or "... Must be between 0 and 9223372036854775807." (-ERANGE or
 *     above INT64_MAX).
 * Those tools call qemu_strtosz() with endptr NULL.  The observed value is
 * quoted in a comment as "io:" (qemu-io) or "img:" (qemu-img).
 */
#include "qemu/osdep.h"
#include <math.h>
#include "qemu/cutils.h"
#include "qemu/units.h"

#define SZ_UNTOUCHED UINT64_C(0xdeadbeefdeadbeef)

/* qemu_strtosz(s, NULL, ...) gives ret and (on success) val. */
static void check_sz(const char *s, int ret, uint64_t val)
{
    uint64_t res = SZ_UNTOUCHED;
    int r = qemu_strtosz(s, NULL, &res);

    if (r != ret) {
        g_test_message("qemu_strtosz(\"%s\") = %d, expected %d", s, r, ret);
    }
    g_assert_cmpint(r, ==, ret);
    g_assert_cmpuint(res, ==, ret ? SZ_UNTOUCHED : val);
}

/* With endptr: ret, val and the number of characters consumed. */
static void check_sz_end(const char *s, int ret, uint64_t val,
                         size_t consumed)
{
    uint64_t res = SZ_UNTOUCHED;
    const char *end = NULL;
    int r = qemu_strtosz(s, &end, &res);

    g_assert_cmpint(r, ==, ret);
    g_assert_cmpuint(res, ==, ret ? SZ_UNTOUCHED : val);
    g_assert(end == s + consumed);
}

static void test_strtosz_plain(void)
{
    check_sz("0", 0, 0);
    check_sz("00", 0, 0);                   /* io: 0/0 */
    check_sz("12345", 0, 12345);
    check_sz("08", 0, 8);                   /* io: 8/8, no octal */
    check_sz("010", 0, 10);                 /* io: 10/10 */
    check_sz("00000000000000000000001k", 0, 1024);  /* io: 1024/1024 */
    check_sz("+5", 0, 5);                   /* io: 5/5 */
    check_sz(" 5", 0, 5);                   /* io: 5/5 */
    check_sz("\t5", 0, 5);                  /* img: size=5 */
    check_sz("9223372036854775807", 0, INT64_MAX);  /* io: accepted */
    check_sz("18446744073709551615", 0, UINT64_MAX); /* img: Must be ... */
}

static void test_strtosz_suffixes(void)
{
    check_sz("1b", 0, 1);
    check_sz("1B", 0, 1);
    check_sz("1k", 0, KiB);
    check_sz("1K", 0, KiB);
    check_sz("1m", 0, MiB);
    check_sz("1M", 0, MiB);
    check_sz("1g", 0, GiB);
    check_sz("1G", 0, GiB);
    check_sz("1t", 0, TiB);
    check_sz("1T", 0, TiB);
    check_sz("1p", 0, PiB);
    check_sz("1P", 0, PiB);
    check_sz("1e", 0, EiB);                 /* io: "1e" means 1 EiB */
    check_sz("1E", 0, EiB);
    check_sz("15E", 0, 15 * (uint64_t)EiB);
    check_sz("8E", 0, 8 * (uint64_t)EiB);   /* io: too large (> INT64_MAX) */
    check_sz("16E", -ERANGE, 0);            /* io: too large (overflow) */
    check_sz("1kB", -EINVAL, 0);            /* io: non-numeric */
    check_sz("1KiB", -EINVAL, 0);
    check_sz("1K1", -EINVAL, 0);            /* io: non-numeric */
    check_sz("1x", -EINVAL, 0);             /* img: Invalid */
    check_sz("1 k", -EINVAL, 0);            /* img: Invalid */
    check_sz("1_000", -EINVAL, 0);          /* io: non-numeric */
    check_sz("0b11", -EINVAL, 0);           /* io: non-numeric */
    check_sz("16Ex", -EINVAL, 0);           /* io: non-numeric, not range */
}

static void test_strtosz_fractions(void)
{
    check_sz("1.5k", 0, 1536);              /* io: 1536/1536 */
    check_sz("1.5K", 0, 1536);              /* io: 1536/1536 */
    check_sz("0.5k", 0, 512);               /* io: 512/512 */
    check_sz("12.345M", 0, 12944671);       /* img: size=12944671 */
    check_sz("1.k", 0, 1024);               /* io: 1024/1024 */
    check_sz("1.1k", 0, 1126);              /* io: 1126/1126 (102.4) */
    check_sz("0.0005k", 0, 1);              /* io: 1/1 (0.512 rounds up) */
    check_sz("2.5m", 0, 5 * MiB / 2);       /* io: 2621440 */
    check_sz("1.5P", 0, 1688849860263936);  /* img: size=1688849860263936 */
    check_sz("1.5E", 0, 1729382256910270464);   /* img */
    check_sz("1.0", 0, 1);                  /* io: 1/1, zero fraction */
    check_sz("1.", 0, 1);                   /* io: 1/1 */
    check_sz("1.0b", 0, 1);                 /* img: size=1 */
    check_sz("1.5", -EINVAL, 0);            /* io: non-numeric */
    check_sz("1.5b", -EINVAL, 0);           /* io: non-numeric */
    check_sz("0.4b", -EINVAL, 0);           /* img: Invalid */
    check_sz("0.75", -EINVAL, 0);           /* io: non-numeric */
    check_sz(".5k", -EINVAL, 0);            /* io: non-numeric */
    check_sz(".", -EINVAL, 0);              /* io: non-numeric */
    check_sz(".k", -EINVAL, 0);             /* io: non-numeric */
    check_sz("1.5.5k", -EINVAL, 0);         /* img: Invalid */
    check_sz("1.0.k", -EINVAL, 0);          /* io: non-numeric */
    check_sz("1,5k", -EINVAL, 0);           /* img: Invalid */
    check_sz("1.-5k", -EINVAL, 0);          /* img: Invalid */
    check_sz("1.+5k", -EINVAL, 0);          /* img: Invalid */
    check_sz("1.5kk", -EINVAL, 0);          /* img: Invalid */

    /* Exponents are refused, but 'e' after a fraction is the suffix. */
    check_sz("1e1", -EINVAL, 0);            /* io: non-numeric */
    check_sz("1.e1", -EINVAL, 0);           /* io: non-numeric */
    check_sz("1.5e1k", -EINVAL, 0);         /* io: non-numeric */
    check_sz("1.0e0", -EINVAL, 0);          /* img: Invalid */
    check_sz("1.5ek", -EINVAL, 0);          /* img: Invalid */
    check_sz("1.e", 0, EiB);                /* img: size=1152921504606846976 */
    check_sz("1.0e", 0, EiB);               /* img: same */
    check_sz("1.5e", 0, EiB + EiB / 2);     /* img: size=1729382256910270464 */
    check_sz("inf", -EINVAL, 0);            /* img: Invalid */
    check_sz("nan", -EINVAL, 0);            /* img: Invalid */

    /* The fraction is taken in 64 fractional bits. */
    check_sz("1.00000000000000000001", 0, 1);   /* io: 1/1 (< 2^-64) */
    check_sz("1.00000000000000000003", 0, 1);   /* img: size=1 */
    check_sz("1.00000000000000000006", -EINVAL, 0); /* img: Invalid */
    check_sz("1.0000000000000000001", -EINVAL, 0);  /* img: Invalid */
    check_sz("1.0000000000000000001k", 0, KiB);     /* io: 1024/1024 */
    check_sz("0.00000000000000000001k", 0, 0);      /* io: 0/0 */
    check_sz("0.00000000000000000001E", 0, 0);      /* img: size=0 */
    check_sz("7.99999999999999E", 0, 9223372036854764288ULL); /* img */
}

/*
 * Where QEMU 7.2 misbehaves, we deliberately differ (see
 * docs/internals.rst, "Options and number parsing"):
 *  - a fraction that rounds to 1.0 as a double ("1.99999999999999999")
 *    overflows a double-to-integer conversion in QEMU and counts as
 *    zero: img: "1.99999999999999999" = 1, "1.999999999999999999k" = 1024,
 *    "7.99999999999999999E" = 7 EiB.  We treat it as just below one.
 *  - an underflowing fraction ("1.<330 zeros>1k") makes QEMU skip the
 *    character after it (io: 1, losing the 'k'; without a suffix it reads
 *    past the string).  We treat it as zero.
 */
static void test_strtosz_qemu_bugs(void)
{
    g_autofree char *tiny_k = g_strdup_printf("1.%0330d1k", 0);
    g_autofree char *tiny = g_strdup_printf("1.%0330d1", 0);

    check_sz("1.99999999999999999", -EINVAL, 0);
    check_sz("1.999999999999999999k", 0, 2 * KiB);
    check_sz("7.99999999999999999E", 0, 8 * (uint64_t)EiB);
    check_sz("15.99999999999999999E", -ERANGE, 0);  /* img: out of range */
    check_sz(tiny_k, 0, KiB);
    check_sz(tiny, 0, 1);
}

static void test_strtosz_hex(void)
{
    check_sz("0x10", 0, 16);
    check_sz("0X10", 0, 16);                /* io: 16/16 */
    check_sz("0x1e", 0, 30);                /* io: 30/30: 'e' is a digit */
    check_sz("0x1E", 0, 30);                /* io: 30/30 */
    check_sz("0x1b", 0, 27);                /* io: 27/27 */
    check_sz("0x7fffffffffffffff", 0, INT64_MAX);   /* img */
    check_sz("0xffffffffffffffff", 0, UINT64_MAX);
    check_sz("0x10000000000000000", -ERANGE, 0);    /* io: too large */
    check_sz("0x10000000000000000k", -EINVAL, 0);   /* io: non-numeric */
    check_sz("0x", -EINVAL, 0);             /* io: non-numeric */
    check_sz("0xg", -EINVAL, 0);            /* io: non-numeric */
    check_sz("0xk", -EINVAL, 0);            /* img: Invalid */
    check_sz("0x1.8", -EINVAL, 0);          /* io: non-numeric */
    check_sz("0x10.5", -EINVAL, 0);         /* io: non-numeric */
    check_sz("0x10.k", -EINVAL, 0);         /* io: non-numeric */
    check_sz("00x10", -EINVAL, 0);
}

/* The deprecation warning goes to stderr even when parsing then fails. */
static void test_strtosz_hex_suffix(void)
{
    if (g_test_subprocess()) {
        check_sz("0x10M", 0, 16 * MiB);     /* io: 16777216 + warning */
        check_sz("0x1g", 0, GiB);           /* img: warning + 1073741824 */
        check_sz("0x10Mx", -EINVAL, 0);     /* io: warning + non-numeric */
        check_sz("0x1p3", -EINVAL, 0);      /* io: warning + non-numeric */
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr(
        "*warning: Using a multiplier suffix on hex numbers is deprecated: "
        "0x10M\n*deprecated: 0x1g\n*deprecated: 0x10Mx\n*deprecated: 0x1p3\n");
}

static void test_strtosz_sign_and_range(void)
{
    check_sz("-0", -EINVAL, 0);             /* io: non-numeric */
    check_sz("-1", -EINVAL, 0);             /* io: non-numeric */
    check_sz("-", -EINVAL, 0);              /* io: non-numeric */
    check_sz("+", -EINVAL, 0);              /* io: non-numeric */
    check_sz("", -EINVAL, 0);
    check_sz("abc", -EINVAL, 0);            /* io: non-numeric */
    check_sz("-0x10", -EINVAL, 0);
    check_sz("9223372036854775808", 0, (uint64_t)INT64_MAX + 1);
    check_sz("18446744073709551616", -ERANGE, 0);   /* img: out of range */
    check_sz("99999999999999999999", -ERANGE, 0);   /* io: too large */
    /* strtoull's overflow wins over the minus sign. */
    check_sz("-99999999999999999999", -ERANGE, 0);  /* io: too large */
    check_sz("99999999999999999999k", -EINVAL, 0);  /* io: non-numeric */
    check_sz("17179869184G", -ERANGE, 0);
    check_sz("17179869183G", 0, 17179869183ULL * GiB);
}

static void test_strtosz_endptr(void)
{
    /* With endptr, the parse stops where the size ends. */
    check_sz_end("12abc", 0, 12, 2);
    check_sz_end("1kB", 0, KiB, 2);
    check_sz_end("1.5k,x", 0, 1536, 4);
    check_sz_end("1.k", 0, KiB, 3);
    check_sz_end("1.", 0, 1, 2);
    check_sz_end("1.x", 0, 1, 2);
    check_sz_end("0x", 0, 0, 1);
    check_sz_end("0x10Q", 0, 16, 4);
    check_sz_end("1 k", 0, 1, 1);
    /* Rejected forms point endptr back at the start... */
    check_sz_end("-1", -EINVAL, 0, 0);
    check_sz_end("1.5", -EINVAL, 0, 0);
    check_sz_end("1.5e1k", -EINVAL, 0, 0);
    check_sz_end("0x1.8", -EINVAL, 0, 0);
    check_sz_end("abc", -EINVAL, 0, 0);
    check_sz_end("", -EINVAL, 0, 0);
    {
        const char *end = "x";
        uint64_t res = SZ_UNTOUCHED;

        g_assert_cmpint(qemu_strtosz(NULL, &end, &res), ==, -EINVAL);
        g_assert_null(end);
        g_assert_cmpint(qemu_strtosz(NULL, NULL, &res), ==, -EINVAL);
        g_assert_cmpuint(res, ==, SZ_UNTOUCHED);
    }
    /* ...while overflow leaves it after the number. */
    check_sz_end("16Ex", -ERANGE, 0, 3);
    check_sz_end("99999999999999999999k", -ERANGE, 0, 20);
}

static void test_strtosz_mib_metric(void)
{
    uint64_t res = 0;
    const char *end;

    /* No suffix means MiB; the usual suffixes still apply. */
    g_assert_cmpint(qemu_strtosz_MiB("12", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, 12 * MiB);
    g_assert_cmpint(qemu_strtosz_MiB("0.5", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, MiB / 2);
    g_assert_cmpint(qemu_strtosz_MiB("1k", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, KiB);
    g_assert_cmpint(qemu_strtosz_MiB("1b", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, 1);
    g_assert_cmpint(qemu_strtosz_MiB("1.5b", NULL, &res), ==, -EINVAL);
    g_assert_cmpint(qemu_strtosz_MiB("17592186044416", NULL, &res), ==,
                    -ERANGE);
    g_assert_cmpint(qemu_strtosz_MiB("12.345M,", &end, &res), ==, 0);
    g_assert_cmpuint(res, ==, 12944671);    /* 12.345 * 2^20 rounded */
    g_assert_cmpstr(end, ==, ",");

    /* Decimal multipliers, either case. */
    g_assert_cmpint(qemu_strtosz_metric("12345", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, 12345);
    g_assert_cmpint(qemu_strtosz_metric("1k", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, 1000);
    g_assert_cmpint(qemu_strtosz_metric("1K", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, 1000);
    g_assert_cmpint(qemu_strtosz_metric("12.345M", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, 12345000);
    g_assert_cmpint(qemu_strtosz_metric("1.5G", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, 1500000000);
    g_assert_cmpint(qemu_strtosz_metric("18E", NULL, &res), ==, 0);
    g_assert_cmpuint(res, ==, 18000000000000000000ULL);
    g_assert_cmpint(qemu_strtosz_metric("19E", NULL, &res), ==, -ERANGE);
}

/* ---- integer parsers ---- */

/*
 * The expectations follow strtol(3)/strtoul(3), which QEMU wraps: base 0
 * autodetects 0x and leading-0 octal, leading whitespace and a sign are
 * skipped, -EINVAL for nothing parsed or (without endptr) trailing text,
 * -ERANGE with the clamped value on overflow.
 */
static void test_strtoi(void)
{
    int res;
    const char *end;
    const char *s;

    s = "12345";
    res = 999;
    g_assert_cmpint(qemu_strtoi(s, &end, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, 12345);
    g_assert(end == s + 5);

    g_assert_cmpint(qemu_strtoi("0x1f", NULL, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, 31);
    g_assert_cmpint(qemu_strtoi("0x1f", NULL, 16, &res), ==, 0);
    g_assert_cmpint(res, ==, 31);
    g_assert_cmpint(qemu_strtoi("017", NULL, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, 15);
    g_assert_cmpint(qemu_strtoi("017", NULL, 10, &res), ==, 0);
    g_assert_cmpint(res, ==, 17);
    g_assert_cmpint(qemu_strtoi("z", NULL, 36, &res), ==, 0);
    g_assert_cmpint(res, ==, 35);
    g_assert_cmpint(qemu_strtoi("  \t -321", NULL, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, -321);
    g_assert_cmpint(qemu_strtoi("+7", NULL, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, 7);

    /* Empty and whitespace-only strings parse nothing. */
    s = "";
    g_assert_cmpint(qemu_strtoi(s, &end, 0, &res), ==, -EINVAL);
    g_assert_cmpint(res, ==, 0);
    g_assert(end == s);
    s = "  \t ";
    g_assert_cmpint(qemu_strtoi(s, &end, 0, &res), ==, -EINVAL);
    g_assert(end == s);
    s = "x";
    g_assert_cmpint(qemu_strtoi(s, NULL, 0, &res), ==, -EINVAL);
    g_assert_cmpint(qemu_strtoi(NULL, &end, 0, &res), ==, -EINVAL);
    g_assert_null(end);

    /* Trailing text: accepted with endptr, rejected without. */
    s = "123xxx";
    g_assert_cmpint(qemu_strtoi(s, &end, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, 123);
    g_assert_cmpstr(end, ==, "xxx");
    g_assert_cmpint(qemu_strtoi(s, NULL, 0, &res), ==, -EINVAL);
    g_assert_cmpint(qemu_strtoi("123 ", NULL, 0, &res), ==, -EINVAL);
    /* "0x" is the number 0 followed by "x". */
    g_assert_cmpint(qemu_strtoi("0x", &end, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, 0);
    g_assert_cmpstr(end, ==, "x");

    /* Limits. */
    g_assert_cmpint(qemu_strtoi("2147483647", NULL, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, INT_MAX);
    g_assert_cmpint(qemu_strtoi("-2147483648", NULL, 0, &res), ==, 0);
    g_assert_cmpint(res, ==, INT_MIN);
    g_assert_cmpint(qemu_strtoi("2147483648", NULL, 0, &res), ==, -ERANGE);
    g_assert_cmpint(res, ==, INT_MAX);
    g_assert_cmpint(qemu_strtoi("-2147483649", NULL, 0, &res), ==, -ERANGE);
    g_assert_cmpint(res, ==, INT_MIN);
    g_assert_cmpint(qemu_strtoi("99999999999999999999", &end, 0, &res), ==,
                    -ERANGE);
    g_assert_cmpint(res, ==, INT_MAX);
    g_assert_cmpstr(end, ==, "");
    g_assert_cmpint(qemu_strtoi("-99999999999999999999", NULL, 0, &res), ==,
                    -ERANGE);
    g_assert_cmpint(res, ==, INT_MIN);
}

static void test_strtoui(void)
{
    unsigned int res;
    const char *end;

    g_assert_cmpint(qemu_strtoui("4294967295", NULL, 0, &res), ==, 0);
    g_assert_cmpuint(res, ==, UINT_MAX);
    g_assert_cmpint(qemu_strtoui("0xffffffff", NULL, 0, &res), ==, 0);
    g_assert_cmpuint(res, ==, UINT_MAX);
    g_assert_cmpint(qemu_strtoui("4294967296", NULL, 0, &res), ==, -ERANGE);
    g_assert_cmpuint(res, ==, UINT_MAX);
    /* Negative numbers wrap like a 32-bit strtoul. */
    g_assert_cmpint(qemu_strtoui(" -321", NULL, 0, &res), ==, 0);
    g_assert_cmpuint(res, ==, (unsigned int)-321);
    g_assert_cmpint(qemu_strtoui("-1", NULL, 0, &res), ==, 0);
    g_assert_cmpuint(res, ==, UINT_MAX);
    g_assert_cmpint(qemu_strtoui("-4294967295", NULL, 0, &res), ==, 0);
    g_assert_cmpuint(res, ==, 1);
    g_assert_cmpint(qemu_strtoui("-0", NULL, 0, &res), ==, 0);
    g_assert_cmpuint(res, ==, 0);
    g_assert_cmpint(qemu_strtoui("-4294967296", NULL, 0, &res), ==, -ERANGE);
    g_assert_cmpuint(res, ==, UINT_MAX);
    g_assert_cmpint(qemu_strtoui("-99999999999999999999", NULL, 0, &res), ==,
                    -ERANGE);
    g_assert_cmpuint(res, ==, UINT_MAX);
    /* A 64-bit wrap is not a 32-bit number. */
    g_assert_cmpint(qemu_strtoui("0xffffffffffffffff", NULL, 0, &res), ==,
                    -ERANGE);
    g_assert_cmpuint(res, ==, UINT_MAX);

    g_assert_cmpint(qemu_strtoui("", &end, 0, &res), ==, -EINVAL);
    g_assert_cmpint(qemu_strtoui("12 ", NULL, 0, &res), ==, -EINVAL);
    g_assert_cmpint(qemu_strtoui("12 ", &end, 0, &res), ==, 0);
    g_assert_cmpuint(res, ==, 12);
    g_assert_cmpstr(end, ==, " ");
}

static void test_strtol_ul(void)
{
    long l;
    unsigned long ul;
    const char *end;

    g_assert_cmpint(qemu_strtol("9223372036854775807", NULL, 0, &l), ==, 0);
    g_assert_cmpint(l, ==, LONG_MAX);
    g_assert_cmpint(qemu_strtol("9223372036854775808", NULL, 0, &l), ==,
                    -ERANGE);
    g_assert_cmpint(l, ==, LONG_MAX);
    g_assert_cmpint(qemu_strtol("-9223372036854775809", NULL, 0, &l), ==,
                    -ERANGE);
    g_assert_cmpint(l, ==, LONG_MIN);
    g_assert_cmpint(qemu_strtol(" -0x10", NULL, 0, &l), ==, 0);
    g_assert_cmpint(l, ==, -16);
    g_assert_cmpint(qemu_strtol("08", NULL, 0, &l), ==, -EINVAL);
    g_assert_cmpint(qemu_strtol("08", &end, 0, &l), ==, 0);
    g_assert_cmpint(l, ==, 0);
    g_assert_cmpstr(end, ==, "8");
    g_assert_cmpint(qemu_strtol("", NULL, 0, &l), ==, -EINVAL);

    g_assert_cmpint(qemu_strtoul("18446744073709551615", NULL, 0, &ul), ==,
                    0);
    g_assert_cmpuint(ul, ==, ULONG_MAX);
    g_assert_cmpint(qemu_strtoul("18446744073709551616", NULL, 0, &ul), ==,
                    -ERANGE);
    g_assert_cmpuint(ul, ==, ULONG_MAX);
    g_assert_cmpint(qemu_strtoul("-1", NULL, 0, &ul), ==, 0);
    g_assert_cmpuint(ul, ==, ULONG_MAX);
    g_assert_cmpint(qemu_strtoul("-18446744073709551615", NULL, 0, &ul), ==,
                    0);
    g_assert_cmpuint(ul, ==, 1);
    g_assert_cmpint(qemu_strtoul("-18446744073709551616", NULL, 0, &ul), ==,
                    -ERANGE);
    g_assert_cmpuint(ul, ==, ULONG_MAX);
    g_assert_cmpint(qemu_strtoul("1x", NULL, 0, &ul), ==, -EINVAL);
}

static void test_strtoi64_u64(void)
{
    int64_t i;
    uint64_t u;
    const char *end;
    const char *s;

    g_assert_cmpint(qemu_strtoi64("-9223372036854775808", NULL, 0, &i), ==,
                    0);
    g_assert_cmpint(i, ==, INT64_MIN);
    g_assert_cmpint(qemu_strtoi64("9223372036854775808", NULL, 0, &i), ==,
                    -ERANGE);
    g_assert_cmpint(i, ==, INT64_MAX);
    g_assert_cmpint(qemu_strtoi64("-9223372036854775809", NULL, 0, &i), ==,
                    -ERANGE);
    g_assert_cmpint(i, ==, INT64_MIN);
    g_assert_cmpint(qemu_strtoi64("0x7fffffffffffffff", NULL, 16, &i), ==, 0);
    g_assert_cmpint(i, ==, INT64_MAX);
    s = " 12 ";
    g_assert_cmpint(qemu_strtoi64(s, &end, 10, &i), ==, 0);
    g_assert_cmpint(i, ==, 12);
    g_assert(end == s + 3);
    g_assert_cmpint(qemu_strtoi64(s, NULL, 10, &i), ==, -EINVAL);
    g_assert_cmpint(qemu_strtoi64(NULL, NULL, 10, &i), ==, -EINVAL);

    g_assert_cmpint(qemu_strtou64("18446744073709551615", NULL, 0, &u), ==,
                    0);
    g_assert_cmpuint(u, ==, UINT64_MAX);
    g_assert_cmpint(qemu_strtou64("18446744073709551616", NULL, 0, &u), ==,
                    -ERANGE);
    g_assert_cmpuint(u, ==, UINT64_MAX);
    g_assert_cmpint(qemu_strtou64("-1", NULL, 0, &u), ==, 0);
    g_assert_cmpuint(u, ==, UINT64_MAX);
    g_assert_cmpint(qemu_strtou64("-321", NULL, 0, &u), ==, 0);
    g_assert_cmpuint(u, ==, (uint64_t)-321);
    g_assert_cmpint(qemu_strtou64("-18446744073709551616", NULL, 0, &u), ==,
                    -ERANGE);
    g_assert_cmpuint(u, ==, UINT64_MAX);
    g_assert_cmpint(qemu_strtou64("0123", NULL, 0, &u), ==, 0);
    g_assert_cmpuint(u, ==, 83);
    g_assert_cmpint(qemu_strtou64("   ", NULL, 0, &u), ==, -EINVAL);
    g_assert_cmpint(qemu_strtou64("-", &end, 0, &u), ==, -EINVAL);
}

static void test_strtod(void)
{
    double d;
    const char *end;
    const char *s;

    g_assert_cmpint(qemu_strtod("1.5", NULL, &d), ==, 0);
    g_assert_cmpfloat(d, ==, 1.5);
    g_assert_cmpint(qemu_strtod(" -2e3", NULL, &d), ==, 0);
    g_assert_cmpfloat(d, ==, -2000.0);
    g_assert_cmpint(qemu_strtod("0x10", NULL, &d), ==, 0);
    g_assert_cmpfloat(d, ==, 16.0);
    g_assert_cmpint(qemu_strtod("1e999", NULL, &d), ==, -ERANGE);
    g_assert_cmpfloat(d, ==, HUGE_VAL);
    g_assert_cmpint(qemu_strtod("-1e999", NULL, &d), ==, -ERANGE);
    g_assert_cmpfloat(d, ==, -HUGE_VAL);
    g_assert_cmpint(qemu_strtod("1e-999", NULL, &d), ==, -ERANGE);
    g_assert_cmpfloat(d, ==, 0.0);
    g_assert_cmpint(qemu_strtod("inf", NULL, &d), ==, 0);
    g_assert_true(isinf(d));
    g_assert_cmpint(qemu_strtod("", NULL, &d), ==, -EINVAL);
    s = "1.5x";
    g_assert_cmpint(qemu_strtod(s, NULL, &d), ==, -EINVAL);
    g_assert_cmpint(qemu_strtod(s, &end, &d), ==, 0);
    g_assert(end == s + 3);

    /* _finite rejects inf/nan (leaving the result alone). */
    d = 42;
    s = "inf";
    g_assert_cmpint(qemu_strtod_finite(s, &end, &d), ==, -EINVAL);
    g_assert_cmpfloat(d, ==, 42);
    g_assert(end == s);
    g_assert_cmpint(qemu_strtod_finite("nan", NULL, &d), ==, -EINVAL);
    g_assert_cmpfloat(d, ==, 42);
    g_assert_cmpint(qemu_strtod_finite("1e999", NULL, &d), ==, -ERANGE);
    g_assert_cmpfloat(d, ==, HUGE_VAL);
    g_assert_cmpint(qemu_strtod_finite("0.25", NULL, &d), ==, 0);
    g_assert_cmpfloat(d, ==, 0.25);
}

static void test_parse_uint(void)
{
    unsigned long long v;
    char *end;
    const char *s;

    s = "123abc";
    g_assert_cmpint(parse_uint(s, &v, &end, 0), ==, 0);
    g_assert_cmpuint(v, ==, 123);
    g_assert(end == s + 3);
    g_assert_cmpint(parse_uint_full(s, &v, 0), ==, -EINVAL);
    g_assert_cmpuint(v, ==, 0);

    s = " -1";
    g_assert_cmpint(parse_uint(s, &v, &end, 0), ==, -ERANGE);
    g_assert_cmpuint(v, ==, 0);
    g_assert(end == s + 3);
    s = "-0";
    g_assert_cmpint(parse_uint(s, &v, &end, 0), ==, -ERANGE);
    s = "18446744073709551616";
    g_assert_cmpint(parse_uint(s, &v, &end, 0), ==, -ERANGE);
    g_assert_cmpuint(v, ==, ULLONG_MAX);
    s = "";
    g_assert_cmpint(parse_uint(s, &v, &end, 0), ==, -EINVAL);
    g_assert_cmpuint(v, ==, 0);
    g_assert(end == s);
    g_assert_cmpint(parse_uint(NULL, &v, &end, 0), ==, -EINVAL);
    g_assert_null(end);
    g_assert_cmpint(parse_uint_full("0x20", &v, 0), ==, 0);
    g_assert_cmpuint(v, ==, 32);
    g_assert_cmpint(parse_uint_full("020", &v, 0), ==, 0);
    g_assert_cmpuint(v, ==, 16);
    g_assert_cmpint(parse_uint_full(" 42", &v, 10), ==, 0);
    g_assert_cmpuint(v, ==, 42);
    g_assert_cmpint(parse_uint_full("42 ", &v, 10), ==, -EINVAL);
}

/* ---- strings ---- */

static void test_strings(void)
{
    const char *rest = NULL;
    char buf[8];
    char *input, *tok;
    g_autofree char *dup = g_strdup("a,b,,c");

    g_assert_cmpint(strstart("format=raw", "format=", &rest), ==, 1);
    g_assert_cmpstr(rest, ==, "raw");
    g_assert_cmpint(strstart("format=raw", "Format=", &rest), ==, 0);
    g_assert_cmpint(strstart("abc", "", NULL), ==, 1);
    g_assert_cmpint(strstart("ab", "abc", NULL), ==, 0);
    g_assert_cmpint(stristart("Format=raw", "fORMAT=", &rest), ==, 1);
    g_assert_cmpstr(rest, ==, "raw");
    g_assert_cmpint(stristart("ab", "abc", &rest), ==, 0);

    pstrcpy(buf, sizeof(buf), "0123456789");
    g_assert_cmpstr(buf, ==, "0123456");
    pstrcpy(buf, sizeof(buf), "ab");
    g_assert_cmpstr(buf, ==, "ab");
    pstrcat(buf, sizeof(buf), "cd");
    g_assert_cmpstr(buf, ==, "abcd");
    pstrcat(buf, sizeof(buf), "efghij");
    g_assert_cmpstr(buf, ==, "abcdefg");
    pstrcat(buf, sizeof(buf), "x");
    g_assert_cmpstr(buf, ==, "abcdefg");
    buf[0] = 'q';
    pstrcpy(buf, 0, "zz");
    g_assert_cmpint(buf[0], ==, 'q');

    strpadcpy(buf, sizeof(buf), "abc", ' ');
    g_assert(memcmp(buf, "abc     ", 8) == 0);
    strpadcpy(buf, sizeof(buf), "0123456789", ' ');
    g_assert(memcmp(buf, "01234567", 8) == 0);

    g_assert_cmpint(qemu_strnlen("hello", 3), ==, 3);
    g_assert_cmpint(qemu_strnlen("hi", 5), ==, 2);
    g_assert_cmpint(qemu_strnlen("", 5), ==, 0);

    input = dup;
    tok = qemu_strsep(&input, ",");
    g_assert_cmpstr(tok, ==, "a");
    tok = qemu_strsep(&input, ",");
    g_assert_cmpstr(tok, ==, "b");
    tok = qemu_strsep(&input, ",");
    g_assert_cmpstr(tok, ==, "");
    tok = qemu_strsep(&input, ",");
    g_assert_cmpstr(tok, ==, "c");
    g_assert_null(input);
}

static void check_size_to_str(uint64_t val, const char *expected)
{
    g_autofree char *s = size_to_str(val);

    g_assert_cmpstr(s, ==, expected);
}

static void test_size_to_str(void)
{
    /*
     * Observed as "virtual size: X (N bytes)" from qemu-img info on qcow2
     * images created with size N.
     */
    check_size_to_str(0, "0 B");
    check_size_to_str(512, "512 B");
    check_size_to_str(1024, "1 KiB");
    check_size_to_str(1536, "1.5 KiB");
    check_size_to_str(10240, "10 KiB");
    check_size_to_str(123904, "121 KiB");
    check_size_to_str(1022976, "999 KiB");
    check_size_to_str(1023488, "1e+03 KiB");
    check_size_to_str(1047552, "0.999 MiB");
    check_size_to_str(1048576, "1 MiB");
    check_size_to_str(100000256, "95.4 MiB");
    check_size_to_str(1073741824, "1 GiB");
    check_size_to_str(5000000000, "4.66 GiB");
    check_size_to_str(1099511627776, "1 TiB");
    /* Same rule at other spots: 1000 bytes is already KiB. */
    check_size_to_str(1, "1 B");
    check_size_to_str(999, "999 B");
    check_size_to_str(1000, "0.977 KiB");
    check_size_to_str(EiB, "1 EiB");
    check_size_to_str(UINT64_MAX, "16 EiB");
}

static void test_freq_to_str(void)
{
    g_autofree char *a = freq_to_str(999);
    g_autofree char *b = freq_to_str(1500000000);
    g_autofree char *c = freq_to_str(UINT64_MAX);

    g_assert_cmpstr(a, ==, "999 Hz");
    g_assert_cmpstr(b, ==, "1.5 GHz");
    g_assert_cmpstr(c, ==, "18.4 EHz");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cutils/strtosz/plain", test_strtosz_plain);
    g_test_add_func("/cutils/strtosz/suffixes", test_strtosz_suffixes);
    g_test_add_func("/cutils/strtosz/fractions", test_strtosz_fractions);
    g_test_add_func("/cutils/strtosz/qemu-bugs", test_strtosz_qemu_bugs);
    g_test_add_func("/cutils/strtosz/hex", test_strtosz_hex);
    g_test_add_func("/cutils/strtosz/hex-suffix", test_strtosz_hex_suffix);
    g_test_add_func("/cutils/strtosz/sign-range",
                    test_strtosz_sign_and_range);
    g_test_add_func("/cutils/strtosz/endptr", test_strtosz_endptr);
    g_test_add_func("/cutils/strtosz/mib-metric", test_strtosz_mib_metric);
    g_test_add_func("/cutils/strtoi", test_strtoi);
    g_test_add_func("/cutils/strtoui", test_strtoui);
    g_test_add_func("/cutils/strtol-ul", test_strtol_ul);
    g_test_add_func("/cutils/strtoi64-u64", test_strtoi64_u64);
    g_test_add_func("/cutils/strtod", test_strtod);
    g_test_add_func("/cutils/parse-uint", test_parse_uint);
    g_test_add_func("/cutils/strings", test_strings);
    g_test_add_func("/cutils/size-to-str", test_size_to_str);
    g_test_add_func("/cutils/freq-to-str", test_freq_to_str);
    return g_test_run();
}
