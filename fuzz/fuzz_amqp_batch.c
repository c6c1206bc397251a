
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for ngx_iothub_amqp/ngx_iothub_amqp_batch.c: the input
 * is a batch's body and a connection's byte stream at once.  Besides
 * memory errors it checks that every data section lies inside the input
 * and the cursor moves forward, and that the frame scanner reports the
 * same frames whether the stream comes whole or in two parts.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_iothub_amqp \
 *       fuzz/fuzz_amqp_batch.c ngx_iothub_amqp/ngx_iothub_amqp_batch.c \
 *       -o fuzz_amqp_batch
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_amqp_batch.h"


#define fuzz_assert(expr)  if (!(expr)) abort()


typedef struct {
    size_t      n;
    uint64_t    sum;
} fuzz_seen_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_frame(void *data, ngx_iothub_amqp_frame_t *f)
{
    size_t        i;
    fuzz_seen_t  *s = data;

    fuzz_assert(f->kind == NGX_IOTHUB_AMQP_FRAME_ATTACH
                || f->kind == NGX_IOTHUB_AMQP_FRAME_TRANSFER);
    fuzz_assert(f->tag_len <= NGX_IOTHUB_AMQP_TAG_MAX);

    s->n++;
    s->sum = s->sum * 31 + f->kind + f->channel + f->handle + f->name_hash
             + f->receiver + f->has_format + f->format + f->tag_len;

    for (i = 0; i < f->tag_len; i++) {
        s->sum = s->sum * 31 + f->tag[i];
    }
}


static void
fuzz_sections(const uint8_t *data, size_t size)
{
    int                   rc;
    size_t                len;
    const unsigned char  *p, *prev, *section;

    p = data;

    for ( ;; ) {
        prev = p;
        rc = ngx_iothub_amqp_batch_next(&p, data + size, &section, &len);

        if (rc != 1) {
            fuzz_assert(rc == 0 || rc == -1);
            fuzz_assert(rc == -1 || p == data + size);
            return;
        }

        fuzz_assert(p > prev && p <= data + size);
        fuzz_assert(section >= data && section + len <= p);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                  cut;
    fuzz_seen_t             whole, split;
    ngx_iothub_amqp_scan_t  scan;

    fuzz_sections(data, size);

    memset(&whole, 0, sizeof(whole));
    memset(&scan, 0, sizeof(scan));
    ngx_iothub_amqp_scan(&scan, data, size, fuzz_frame, &whole);

    cut = size ? data[0] % (size + 1) : 0;

    memset(&split, 0, sizeof(split));
    memset(&scan, 0, sizeof(scan));
    ngx_iothub_amqp_scan(&scan, data, cut, fuzz_frame, &split);
    ngx_iothub_amqp_scan(&scan, data + cut, size - cut, fuzz_frame, &split);

    fuzz_assert(whole.n == split.n && whole.sum == split.sum);

    return 0;
}
