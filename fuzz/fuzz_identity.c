
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for shared/ngx_iothub_identity.c: every input is fed
 * to the device, module and bulk parsers.  Besides memory errors it
 * checks two properties: an accepted device or module (with its ids) is
 * emitted, parsed again and emitted again unchanged, and it survives the
 * trip through its Redis fields.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishared \
 *       fuzz/fuzz_identity.c shared/ngx_iothub_identity.c \
 *       shared/ngx_iothub_identity_out.c \
 *       shared/ngx_iothub_sas.c -lyajl -lcrypto -o fuzz_identity
 *   ./fuzz_identity -max_total_time=60 corpus/
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub_identity.h"


#define FUZZ_JSON_MAX  8192


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static size_t fuzz_gen(const ngx_iothub_identity_t *id, char *out);
static void fuzz_round_trip(const ngx_iothub_identity_t *id, int is_module);
static void fuzz_fields(const ngx_iothub_identity_t *id);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                    i, n;
    char                      err[128];
    ngx_iothub_identity_t     id;
    ngx_iothub_bulk_entry_t  *entries;

    if (ngx_iothub_identity_parse(&id, (const char *) data, size, 0, err,
                                  sizeof(err))
        == NGX_IOTHUB_IDENTITY_OK)
    {
        fuzz_round_trip(&id, 0);
        fuzz_fields(&id);
    }

    if (ngx_iothub_identity_parse(&id, (const char *) data, size, 1, err,
                                  sizeof(err))
        == NGX_IOTHUB_IDENTITY_OK)
    {
        fuzz_round_trip(&id, 1);
        fuzz_fields(&id);
    }

    if (ngx_iothub_bulk_parse((const char *) data, size, &entries, &n, err,
                              sizeof(err))
        == NGX_IOTHUB_IDENTITY_OK)
    {
        if (n == 0 || n > NGX_IOTHUB_BULK_MAX || entries == NULL) {
            abort();
        }

        for (i = 0; i < n; i++) {
            if (entries[i].identity.device_id[0] == '\0') {
                abort();
            }

            fuzz_fields(&entries[i].identity);
        }

        free(entries);

    } else if (entries != NULL || n != 0) {
        abort();
    }

    return 0;
}


static size_t
fuzz_gen(const ngx_iothub_identity_t *id, char *out)
{
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        abort();
    }

    if (ngx_iothub_identity_gen(id, g) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok
        || len >= FUZZ_JSON_MAX)
    {
        abort();
    }

    memcpy(out, buf, len);
    out[len] = '\0';

    yajl_gen_free(g);

    return len;
}


static void
fuzz_round_trip(const ngx_iothub_identity_t *id, int is_module)
{
    size_t                 len;
    char                   err[128];
    ngx_iothub_identity_t  again;

    static char            a[FUZZ_JSON_MAX], b[FUZZ_JSON_MAX];

    /* absent ids are filled from the path by the caller */
    if (id->device_id[0] == '\0' || (is_module && id->module_id[0] == '\0')) {
        return;
    }

    len = fuzz_gen(id, a);

    if (ngx_iothub_identity_parse(&again, a, len, is_module, err,
                                  sizeof(err))
        != NGX_IOTHUB_IDENTITY_OK)
    {
        abort();
    }

    (void) fuzz_gen(&again, b);

    if (strcmp(a, b) != 0) {
        abort();
    }
}


static void
fuzz_fields(const ngx_iothub_identity_t *id)
{
    int                    i, n;
    size_t                 lens[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char            *names[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char            *values[NGX_IOTHUB_IDENTITY_NFIELDS];
    ngx_iothub_identity_t  copy;

    static char            a[FUZZ_JSON_MAX], b[FUZZ_JSON_MAX];

    n = ngx_iothub_identity_fields(id, names, values, lens);

    ngx_iothub_identity_init(&copy);

    for (i = 0; i < n; i++) {
        ngx_iothub_identity_set_field(&copy, names[i], strlen(names[i]),
                                      values[i], lens[i]);
    }

    copy.c2d_count = id->c2d_count;

    (void) fuzz_gen(id, a);
    (void) fuzz_gen(&copy, b);

    if (strcmp(a, b) != 0) {
        abort();
    }
}
