
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for shared/ngx_iothub_eh_filter.c: the input is the
 * selector filter expression an Event Hubs receiver attaches with
 * (amqp.md 10.3).  Besides memory errors and undefined behaviour (an
 * overflow of the start's sequence number or time) it checks that an
 * accepted expression names a known start, that a sequence number or time
 * is not negative, and that reading is deterministic.  The text is copied
 * into a buffer of its exact size: ASan sees a read past its end.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishared \
 *       fuzz/fuzz_eh_filter.c shared/ngx_iothub_eh_filter.c \
 *       -o fuzz_eh_filter
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_eh_filter.h"


#define fuzz_assert(expr)  if (!(expr)) abort()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                    rc, rc2;
    int64_t                n, n2;
    unsigned char         *copy;
    ngx_iothub_eh_from_e   from, from2;

    /* an exact-size copy: ASan sees any read past the text */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    from = NGX_IOTHUB_EH_START;
    n = 0;

    rc = ngx_iothub_eh_filter_parse(copy, size, &from, &n);

    fuzz_assert(rc == 0 || rc == -1);

    if (rc == 0) {
        fuzz_assert(from == NGX_IOTHUB_EH_START
                    || from == NGX_IOTHUB_EH_LATEST
                    || from == NGX_IOTHUB_EH_SEQUENCE
                    || from == NGX_IOTHUB_EH_TIME);

        if (from == NGX_IOTHUB_EH_SEQUENCE || from == NGX_IOTHUB_EH_TIME) {
            fuzz_assert(n >= 0);
        }
    }

    from2 = NGX_IOTHUB_EH_START;
    n2 = 0;

    rc2 = ngx_iothub_eh_filter_parse(copy, size, &from2, &n2);

    fuzz_assert(rc2 == rc);
    fuzz_assert(rc != 0 || (from2 == from && n2 == n));

    free(copy);

    return 0;
}
