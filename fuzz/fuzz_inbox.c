
/*
 * libFuzzer target for shared/ngx_iothub_inbox_codec.c: the input is an
 * inbox message as any publisher on the worker's channel may send it,
 * split into its type and payload, and the payload is parsed as a kick, a
 * desired patch and a C2D notification.  What parses must lie within the
 * input and say what the input says.  Every input is copied into a buffer
 * of its exact size so that ASan sees a read past the end.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_inbox_codec.h"


#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_split(const unsigned char *p, size_t len);
static void fuzz_number(const unsigned char *p, size_t len);
static void fuzz_kick(const unsigned char *p, size_t len);
static void fuzz_desired(const unsigned char *p, size_t len);
static void fuzz_c2d(const unsigned char *p, size_t len);
static void fuzz_eh_stolen(const unsigned char *p, size_t len);
static int fuzz_in(const ngx_iothub_inbox_str_t *s, const unsigned char *p,
    size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char           *copy;
    ngx_iothub_inbox_str_t   type, payload;

    copy = malloc(size != 0 ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    fuzz_split(copy, size);
    fuzz_number(copy, size);

    /* as the inbox dispatches: by the first word */

    ngx_iothub_inbox_split(copy, size, &type, &payload);

    fuzz_kick(payload.data, payload.len);
    fuzz_desired(payload.data, payload.len);
    fuzz_c2d(payload.data, payload.len);
    fuzz_eh_stolen(payload.data, payload.len);

    fuzz_kick(copy, size);
    fuzz_desired(copy, size);
    fuzz_c2d(copy, size);
    fuzz_eh_stolen(copy, size);

    free(copy);

    return 0;
}


static void
fuzz_split(const unsigned char *p, size_t len)
{
    ngx_iothub_inbox_str_t  word, rest;

    ngx_iothub_inbox_split(p, len, &word, &rest);

    fuzz_assert(fuzz_in(&word, p, len) && fuzz_in(&rest, p, len));
    fuzz_assert(word.data == p);
    fuzz_assert(memchr(word.data, ' ', word.len) == NULL);

    if (word.len == len) {
        /* no space: no rest */
        fuzz_assert(rest.len == 0);

    } else {
        fuzz_assert(p[word.len] == ' ');
        fuzz_assert(rest.data == p + word.len + 1);
        fuzz_assert(word.len + 1 + rest.len == len);
    }
}


/* a number parses back to its own digits, leading zeros aside */

static void
fuzz_number(const unsigned char *p, size_t len)
{
    int                     n;
    char                    buf[24];
    size_t                  skip;
    uint64_t                v;
    ngx_iothub_inbox_str_t  s;

    s.data = p;
    s.len = len;

    if (ngx_iothub_inbox_number(&s, &v) != 0) {
        return;
    }

    fuzz_assert(len >= 1 && len <= 19);

    for (skip = 0; skip + 1 < len && p[skip] == '0'; skip++) {
        /* void */
    }

    n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);

    fuzz_assert(n > 0 && (size_t) n == len - skip);
    fuzz_assert(memcmp(buf, p + skip, len - skip) == 0);
}


static void
fuzz_kick(const unsigned char *p, size_t len)
{
    ngx_iothub_inbox_msg_t  m;

    if (ngx_iothub_inbox_parse_kick(p, len, &m) != 0) {
        return;
    }

    fuzz_assert(fuzz_in(&m.rest, p, len));
    fuzz_assert(!m.removed
                || (m.rest.len == 7 && memcmp(m.rest.data, "removed", 7)
                                       == 0));
}


static void
fuzz_desired(const unsigned char *p, size_t len)
{
    ngx_iothub_inbox_msg_t  m;

    if (ngx_iothub_inbox_parse_desired(p, len, &m) != 0) {
        return;
    }

    /* "<session> <version> <patch>": two spaces at least */
    fuzz_assert(fuzz_in(&m.rest, p, len));
    fuzz_assert(m.rest.data >= p + 4 && m.rest.data[-1] == ' ');
    fuzz_assert(m.rest.data + m.rest.len == p + len);
}


static void
fuzz_c2d(const unsigned char *p, size_t len)
{
    ngx_iothub_inbox_msg_t  m;

    if (ngx_iothub_inbox_parse_c2d(p, len, &m) != 0) {
        return;
    }

    fuzz_assert(len >= 1 && len <= 19);
    fuzz_assert(m.rest.len == 0);
}


/* two numbers and one space between them, nothing else */

static void
fuzz_eh_stolen(const unsigned char *p, size_t len)
{
    ngx_iothub_inbox_msg_t  m;

    if (ngx_iothub_inbox_parse_eh_stolen(p, len, &m) != 0) {
        return;
    }

    fuzz_assert(len >= 3 && len <= 39);
    fuzz_assert(memchr(p, ' ', len) != NULL);
    fuzz_assert(m.rest.len == 0);
}


static int
fuzz_in(const ngx_iothub_inbox_str_t *s, const unsigned char *p, size_t len)
{
    return s->data >= p && s->data + s->len <= p + len;
}
