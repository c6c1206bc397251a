
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for ngx_iothub_http/ngx_iothub_http_paging.c: the input
 * is the decoded text of a query continuation token (x-ms-continuation,
 * rest.md 9), as a client may send any.  Besides memory errors it checks
 * that an accepted token has a count of at most INT64_MAX and valid ids of
 * at most 128 bytes (the module id may be empty), and that the text
 * written back from what was read ("%llu\n%s\n%s", as the handler writes
 * the next token) reads the same; and that ngx_iothub_decimal_parse()
 * takes the whole input only when it is digits of at most INT64_MAX.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishared \
 *       -Ingx_iothub_http fuzz/fuzz_paging.c \
 *       ngx_iothub_http/ngx_iothub_http_paging.c shared/ngx_iothub_sas.c \
 *       -lcrypto -o fuzz_paging
 */


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_sas.h"
#include "ngx_iothub_http_paging.h"


#define fuzz_assert(expr)  if (!(expr)) abort()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_check_decimal(const unsigned char *p, size_t len)
{
    size_t    i;
    uint64_t  n;

    if (ngx_iothub_decimal_parse(p, len, &n) != 0) {
        return;
    }

    fuzz_assert(len > 0 && n <= (uint64_t) INT64_MAX);

    for (i = 0; i < len; i++) {
        fuzz_assert(p[i] >= '0' && p[i] <= '9');
    }

    /* the same digits without leading zeros print as they are */
    while (len > 1 && *p == '0') {
        p++;
        len--;
    }

    if (len <= 20) {
        char  buf[32];

        fuzz_assert((size_t) snprintf(buf, sizeof(buf), "%llu",
                                      (unsigned long long) n) == len);
        fuzz_assert(memcmp(buf, p, len) == 0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  n;
    char                 text[NGX_IOTHUB_PAGING_TEXT_MAX + 1];
    unsigned char       *copy;
    ngx_iothub_paging_t  t, again;

    /* an exact-size copy: ASan sees any read past the text */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    fuzz_check_decimal(copy, size);

    if (ngx_iothub_paging_parse(copy, size, &t) != 0) {
        free(copy);
        return 0;
    }

    fuzz_assert(t.before <= (uint64_t) INT64_MAX);
    fuzz_assert(ngx_iothub_id_valid((unsigned char *) t.device_id,
                                    strlen(t.device_id)));
    fuzz_assert(t.module_id[0] == '\0'
                || ngx_iothub_id_valid((unsigned char *) t.module_id,
                                       strlen(t.module_id)));

    n = snprintf(text, sizeof(text), "%llu\n%s\n%s",
                 (unsigned long long) t.before, t.device_id, t.module_id);

    fuzz_assert(n > 0 && (size_t) n < sizeof(text));
    fuzz_assert(ngx_iothub_paging_parse((unsigned char *) text, n, &again)
                == 0);
    fuzz_assert(again.before == t.before);
    fuzz_assert(strcmp(again.device_id, t.device_id) == 0);
    fuzz_assert(strcmp(again.module_id, t.module_id) == 0);

    free(copy);

    return 0;
}
