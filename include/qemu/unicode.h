/*
 * Modified UTF-8 (UTF-8 in which U+0000 is written as the overlong pair
 * 0xC0 0x80, so strings never contain a NUL byte), as QEMU's JSON code
 * stores and prints strings.
 */
#ifndef QEMU_UNICODE_H
#define QEMU_UNICODE_H

/*
 * Decode the code point starting at s, looking at no more than n bytes.
 * *end is set past the bytes consumed: one sequence as far as its lead
 * byte announces and continuation bytes follow (so an invalid sequence is
 * consumed as a unit), nothing at a NUL byte or when n is 0.
 * Returns the code point, or -1 if the sequence is incomplete, overlong
 * (other than 0xC0 0x80), a surrogate, a noncharacter or above U+10FFFF.
 */
int mod_utf8_codepoint(const char *s, size_t n, char **end);

/*
 * Write codepoint to buf (bufsz >= 5) in modified UTF-8, NUL-terminated.
 * Returns the number of bytes (without the NUL), or -1 if codepoint is
 * not valid (see mod_utf8_codepoint).
 */
ssize_t mod_utf8_encode(char buf[], size_t bufsz, int codepoint);

#endif
