/*
 * UTF-8 validation. Pure.
 */
#ifndef CHAT_UTF8_H
#define CHAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when len bytes at p are valid UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF). */
bool utf8_is_valid(const unsigned char *p, size_t len);

#endif
