
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for shared/ngx_iothub_bulkjob_lines.c: every input is
 * fed, copied into a buffer of its exact size so that ASan sees a read
 * past the end, as an import line, as the body of POST /jobs/create and
 * as a container URI with its SAS.  Properties that must hold end the
 * run with a trap: an accepted import line names a device, and its
 * identity written as an export line reads back as the same identity; a
 * line whose twin part the twin engine takes as a service PUT, written
 * with that twin, gives the same tags and desired when applied again.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub_bulkjob_lines.h"


#define FUZZ_CONNSTR  "DefaultEndpointsProtocol=https;AccountName=acct;"     \
                      "AccountKey=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk" \
                      "ZWY=;BlobEndpoint=https://localhost/acct"

#define fuzz_assert(e)  if (!(e)) __builtin_trap()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_line(const char *s, size_t size);
static void fuzz_twin(const char *s, size_t size,
    const ngx_iothub_identity_t *id);
static void fuzz_uri(const char *s, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                          *s, err[128];
    ngx_iothub_bulkjob_request_t  *req;

    s = malloc(size ? size : 1);
    req = malloc(sizeof(ngx_iothub_bulkjob_request_t));

    if (s == NULL || req == NULL) {
        free(s);
        free(req);
        return 0;
    }

    memcpy(s, data, size);

    fuzz_line(s, size);
    fuzz_uri(s, size);

    if (ngx_iothub_bulkjob_request_parse(req, s, size, err, sizeof(err))
        == 0)
    {
        fuzz_assert(req->type == NGX_IOTHUB_BULKJOB_EXPORT
                    || req->type == NGX_IOTHUB_BULKJOB_IMPORT);
        fuzz_assert(req->output_uri[0] != '\0');
        fuzz_assert(req->output_blob[0] != '\0');
    }

    free(req);
    free(s);

    return 0;
}


static void
fuzz_line(const char *s, size_t size)
{
    char                     err[128];
    size_t                   len;
    yajl_gen                 g;
    const unsigned char     *buf;
    ngx_iothub_bulk_entry_t  e, again;

    if (ngx_iothub_bulkjob_line_parse(&e, s, size, err, sizeof(err))
        != NGX_IOTHUB_IDENTITY_OK)
    {
        return;
    }

    fuzz_assert(e.identity.device_id[0] != '\0');
    fuzz_assert(e.mode <= NGX_IOTHUB_IMPORT_UPDATE_TWIN_IF_MATCH_ETAG);

    /* an export line of the identity is an import line of it */

    strcpy(e.identity.etag, e.etag);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return;
    }

    fuzz_assert(ngx_iothub_bulkjob_line_gen(g, &e.identity, NULL, 0)
                == yajl_gen_status_ok);
    yajl_gen_get_buf(g, &buf, &len);

    fuzz_assert(ngx_iothub_bulkjob_line_parse(&again, (const char *) buf, len,
                                              err, sizeof(err))
                == NGX_IOTHUB_IDENTITY_OK);
    fuzz_assert(strcmp(again.identity.device_id, e.identity.device_id) == 0);
    fuzz_assert(strcmp(again.identity.module_id, e.identity.module_id) == 0);
    fuzz_assert(strcmp(again.identity.primary_key, e.identity.primary_key)
                == 0);

    yajl_gen_free(g);

    fuzz_twin(s, size, &e.identity);
}


static void
fuzz_twin(const char *s, size_t size, const ngx_iothub_identity_t *id)
{
    int                   twin;
    char                  err[128], etag[64];
    size_t                len;
    yajl_gen              g;
    ngx_iothub_twin_t     t, again;
    const unsigned char  *buf;

    static const char  now[] = "2024-01-02T10:11:12.1234567Z";

    twin = ngx_iothub_bulkjob_line_twin(s, size, etag, sizeof(etag));
    fuzz_assert(strlen(etag) < sizeof(etag));

    if (!twin || ngx_iothub_twin_init(&t, NULL) != NGX_IOTHUB_TWIN_OK) {
        return;
    }

    if (ngx_iothub_twin_service_replace(&t, s, size, now, NULL, err,
                                        sizeof(err))
        != NGX_IOTHUB_TWIN_OK
        || ngx_iothub_twin_init(&again, NULL) != NGX_IOTHUB_TWIN_OK)
    {
        ngx_iothub_twin_free(&t);
        return;
    }

    g = yajl_gen_alloc(NULL);

    if (g != NULL) {
        fuzz_assert(ngx_iothub_bulkjob_line_gen(g, id, &t, 0)
                    == yajl_gen_status_ok);
        yajl_gen_get_buf(g, &buf, &len);

        fuzz_assert(ngx_iothub_bulkjob_line_twin((const char *) buf, len,
                                                 etag, sizeof(etag))
                    == 1);
        fuzz_assert(ngx_iothub_twin_service_replace(&again,
                                                    (const char *) buf, len,
                                                    now, NULL, err,
                                                    sizeof(err))
                    == NGX_IOTHUB_TWIN_OK);
        fuzz_assert(strcmp(again.tags, t.tags) == 0);
        fuzz_assert(strcmp(again.desired, t.desired) == 0);

        yajl_gen_free(g);
    }

    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&again);
}


static void
fuzz_uri(const char *s, size_t size)
{
    ngx_iothub_bulkjob_uri_t   u;
    ngx_iothub_blob_connstr_t  cs;

    if (ngx_iothub_blob_connstr_parse(&cs, (const unsigned char *)
                                      FUZZ_CONNSTR, sizeof(FUZZ_CONNSTR) - 1)
        != NGX_IOTHUB_BLOB_OK)
    {
        __builtin_trap();
    }

    if (ngx_iothub_bulkjob_uri_parse(&u, s, size, &cs)
        != NGX_IOTHUB_BULKJOB_URI_OK)
    {
        return;
    }

    fuzz_assert(u.container.len >= NGX_IOTHUB_BLOB_CONTAINER_MIN
                && u.container.len <= NGX_IOTHUB_BLOB_CONTAINER_MAX);
    fuzz_assert(u.query.len < size);

    (void) ngx_iothub_bulkjob_uri_allows(&u, &cs, "devices.txt", 'w', 0);
}
