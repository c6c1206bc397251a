
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for shared/ngx_iothub_blob_sas.c: the input is fed as
 * a storage connection string, a request query checked as a service SAS,
 * a blob path, a block id, a time and a Put Block List body.  Every input
 * is copied into a buffer of its exact size so that ASan sees a read past
 * the end; properties that must hold end the run with a trap.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_blob_sas.h"


#define FUZZ_KEY     "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define FUZZ_IDS     8

#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_query(const unsigned char *in, size_t size);
static void fuzz_block_list(const unsigned char *in, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                       name[NGX_IOTHUB_BLOB_BLOCK_NAME_LEN + 1];
    char                       path[NGX_IOTHUB_BLOB_NAME_MAX + 1];
    char                       cid[NGX_IOTHUB_BLOB_CORRELATION_MAX + 1];
    unsigned char             *in;
    ngx_iothub_span_t          container, blob;
    ngx_iothub_blob_connstr_t  cs;

    in = malloc(size ? size : 1);
    if (in == NULL) {
        return 0;
    }

    memcpy(in, data, size);

    if (ngx_iothub_blob_connstr_parse(&cs, in, size) == NGX_IOTHUB_BLOB_OK) {
        fuzz_assert(cs.key_len >= 16 && cs.key_len <= sizeof(cs.key));
        fuzz_assert(strlen(cs.host) > 0);
    }

    fuzz_query(in, size);

    if (ngx_iothub_blob_path_parse(in, size, &container, &blob) == 0) {
        fuzz_assert(container.data + container.len < blob.data);
        fuzz_assert(blob.data + blob.len == in + size);
        fuzz_assert(memchr(blob.data, '\0', blob.len) == NULL);
    }

    if (ngx_iothub_blob_block_name(name, sizeof(name), in, size) >= 0) {
        fuzz_assert(strlen(name) % 2 == 0);
    }

    (void) ngx_iothub_blob_time_parse(in, size);

    if (ngx_iothub_blob_correlation_parse(in, size, path, sizeof(path)) > 0) {
        fuzz_assert(ngx_iothub_blob_correlation_make(cid, sizeof(cid),
                        "0123456789abcdef0123456789abcdef",
                        (unsigned char *) path, strlen(path)) > 0);
    }

    fuzz_block_list(in, size);

    free(in);

    return 0;
}


static void
fuzz_query(const unsigned char *in, size_t size)
{
    char                       token[NGX_IOTHUB_BLOB_SAS_TOKEN_MAX];
    ngx_iothub_blob_query_t    q;
    ngx_iothub_blob_access_t   a;
    ngx_iothub_blob_connstr_t  cs;

    static const char  connstr[] = "AccountName=acct;AccountKey=" FUZZ_KEY;

    fuzz_assert(ngx_iothub_blob_connstr_parse(&cs,
                    (const unsigned char *) connstr, sizeof(connstr) - 1)
                == NGX_IOTHUB_BLOB_OK);

    if (ngx_iothub_blob_query_parse(&q, in, size) != NGX_IOTHUB_BLOB_OK) {
        return;
    }

    memset(&a, 0, sizeof(a));
    a.account = cs.account;
    a.key = cs.key;
    a.key_len = cs.key_len;
    a.container = (const unsigned char *) "uploads";
    a.container_len = 7;
    a.blob = in;
    a.blob_len = size > NGX_IOTHUB_BLOB_NAME_MAX ? NGX_IOTHUB_BLOB_NAME_MAX
                                                 : size;
    a.permission = 'w';
    a.now = 1700000000;

    /* a random query is never signed */
    fuzz_assert(ngx_iothub_blob_sas_check(&q, &a) != NGX_IOTHUB_BLOB_OK
                || size > 60);

    if (size <= 128 && memchr(in, '\0', size) == NULL) {
        char  blob[129];

        memcpy(blob, in, size);
        blob[size] = '\0';

        if (ngx_iothub_blob_sas_make(token, sizeof(token), &cs, "uploads",
                                     blob, 1700003600) > 0)
        {
            a.blob = (const unsigned char *) blob;
            a.blob_len = size;

            fuzz_assert(ngx_iothub_blob_query_parse(&q,
                            (const unsigned char *) token + 1,
                            strlen(token) - 1) == NGX_IOTHUB_BLOB_OK);
            fuzz_assert(ngx_iothub_blob_sas_check(&q, &a)
                        == NGX_IOTHUB_BLOB_OK);
        }
    }
}


static void
fuzz_block_list(const unsigned char *in, size_t size)
{
    size_t             i, n;
    ngx_iothub_span_t  ids[FUZZ_IDS];

    if (ngx_iothub_blob_block_list_parse(in, size, ids, FUZZ_IDS, &n) != 0) {
        return;
    }

    fuzz_assert(n <= FUZZ_IDS);

    for (i = 0; i < n; i++) {
        fuzz_assert(ids[i].data >= in && ids[i].data + ids[i].len <= in + size);
    }
}
