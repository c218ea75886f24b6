/*
 * Modified UTF-8 decoding and encoding.
 */
#include "qemu/osdep.h"
#include "qemu/unicode.h"

static bool is_valid_codepoint(int cp)
{
    if (cp < 0 || cp > 0x10FFFF) {
        return false;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        return false;   /* surrogates only exist in UTF-16 */
    }
    /* noncharacters: U+FDD0..U+FDEF and the last two of every plane */
    if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) {
        return false;
    }
    return true;
}

int mod_utf8_codepoint(const char *s, size_t n, char **end)
{
    /* smallest code point that needs a sequence of 2, 3, ... 6 bytes */
    static const int32_t min_cp[7] = {
        0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000
    };
    const unsigned char *p = (const unsigned char *)s;
    size_t len, i;
    int32_t cp;

    if (n == 0 || *p == 0) {
        *end = (char *)s;
        return -1;
    }
    if (*p < 0x80) {
        *end = (char *)s + 1;
        return *p;
    }
    if (*p < 0xC0 || *p >= 0xFE) {
        /* stray continuation byte, or a byte UTF-8 never uses */
        *end = (char *)s + 1;
        return -1;
    }
    if (*p < 0xE0) {
        len = 2;
    } else if (*p < 0xF0) {
        len = 3;
    } else if (*p < 0xF8) {
        len = 4;
    } else if (*p < 0xFC) {
        len = 5;
    } else {
        len = 6;
    }
    cp = *p & (0x7F >> len);
    for (i = 1; i < len; i++) {
        if (i >= n || (p[i] & 0xC0) != 0x80) {
            *end = (char *)s + i;
            return -1;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *end = (char *)s + len;

    if (cp < min_cp[len]) {
        /* overlong; 0xC0 0x80 is modified UTF-8's spelling of U+0000 */
        return len == 2 && cp == 0 ? 0 : -1;
    }
    return is_valid_codepoint(cp) ? cp : -1;
}

ssize_t mod_utf8_encode(char buf[], size_t bufsz, int codepoint)
{
    unsigned char *p = (unsigned char *)buf;

    assert(bufsz >= 5);
    if (!is_valid_codepoint(codepoint)) {
        return -1;
    }
    if (codepoint > 0 && codepoint < 0x80) {
        p[0] = codepoint;
        p[1] = 0;
        return 1;
    }
    if (codepoint < 0x800) {
        p[0] = 0xC0 | (codepoint >> 6);
        p[1] = 0x80 | (codepoint & 0x3F);
        p[2] = 0;
        return 2;
    }
    if (codepoint < 0x10000) {
        p[0] = 0xE0 | (codepoint >> 12);
        p[1] = 0x80 | ((codepoint >> 6) & 0x3F);
        p[2] = 0x80 | (codepoint & 0x3F);
        p[3] = 0;
        return 3;
    }
    p[0] = 0xF0 | (codepoint >> 18);
    p[1] = 0x80 | ((codepoint >> 12) & 0x3F);
    p[2] = 0x80 | ((codepoint >> 6) & 0x3F);
    p[3] = 0x80 | (codepoint & 0x3F);
    p[4] = 0;
    return 4;
}
