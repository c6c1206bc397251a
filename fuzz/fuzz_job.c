
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for shared/ngx_iothub_job_codec.c, the jobs v2 request
 * parser and the condition reader.  The first byte picks what the rest is:
 *
 *   0  a PUT /jobs/v2/j1 body: an accepted request's spec reads back (a
 *      method job's with ngx_iothub_job_method_parse()) and the job JSON
 *      of a record holding it renders;
 *   1  a queryCondition: ids it names are sorted, distinct and valid ids;
 *   2  a time: an accepted one formats and parses back to itself.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishared \
 *       fuzz/fuzz_job.c shared/ngx_iothub_job_codec.c \
 *       shared/ngx_iothub_json.c shared/ngx_iothub_reply.c \
 *       shared/ngx_iothub_sas.c ... -lyajl -lhiredis -lcrypto -o fuzz_job
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_iothub_job_codec.h"
#include "ngx_iothub_sas.h"


static void fuzz_request(const char *p, size_t len);
static void fuzz_condition(const char *p, size_t len);
static void fuzz_time(const char *p, size_t len);
static void fuzz_set(ngx_iothub_job_record_t *rec, ngx_iothub_job_field_e f,
    const char *value);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }

    switch (data[0] % 3) {

    case 0:
        fuzz_request((const char *) data + 1, size - 1);
        break;

    case 1:
        fuzz_condition((const char *) data + 1, size - 1);
        break;

    default:
        fuzz_time((const char *) data + 1, size - 1);
    }

    return 0;
}


static void
fuzz_request(const char *p, size_t len)
{
    char                      err[256];
    yajl_gen                  g;
    ngx_iothub_job_method_t   m;
    ngx_iothub_job_record_t   rec;
    ngx_iothub_job_request_t  req;

    if (ngx_iothub_job_request_parse(p, len, "j1", 2, &req, err, sizeof(err))
        != NGX_IOTHUB_JOB_OK)
    {
        if (req.job_id != NULL || req.spec != NULL || req.condition != NULL) {
            abort();
        }

        return;
    }

    if (req.type == NGX_IOTHUB_JOB_METHOD) {
        if (ngx_iothub_job_method_parse(req.spec, strlen(req.spec), &m, err,
                                        sizeof(err))
            != NGX_IOTHUB_JOB_OK)
        {
            abort();
        }

        ngx_iothub_job_method_free(&m);
    }

    memset(&rec, 0, sizeof(rec));
    fuzz_set(&rec, NGX_IOTHUB_JOB_F_JOB_ID, req.job_id);
    fuzz_set(&rec, NGX_IOTHUB_JOB_F_TYPE, ngx_iothub_job_type_name(req.type));
    fuzz_set(&rec, NGX_IOTHUB_JOB_F_CONDITION, req.condition);
    fuzz_set(&rec, NGX_IOTHUB_JOB_F_SPEC, req.spec);
    fuzz_set(&rec, NGX_IOTHUB_JOB_F_STATUS, "queued");

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        abort();
    }

    if (ngx_iothub_job_emit(g, &rec) != NGX_IOTHUB_JOB_OK) {
        abort();
    }

    yajl_gen_free(g);
    ngx_iothub_job_request_free(&req);
}


static void
fuzz_set(ngx_iothub_job_record_t *rec, ngx_iothub_job_field_e f,
    const char *value)
{
    rec->value[f].data = (const unsigned char *) value;
    rec->value[f].len = strlen(value);
}


static void
fuzz_condition(const char *p, size_t len)
{
    char    **ids;
    size_t    i, n;

    if (!ngx_iothub_job_condition_ids(p, len, &ids, &n)) {
        if (ids != NULL || n != 0) {
            abort();
        }

        return;
    }

    if (n == 0) {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (!ngx_iothub_id_valid((const unsigned char *) ids[i],
                                 strlen(ids[i]))
            || (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0))
        {
            abort();
        }
    }

    ngx_iothub_job_ids_free(ids, n);
}


static void
fuzz_time(const char *p, size_t len)
{
    char       buf[32];
    long long  ms;

    ms = ngx_iothub_job_parse_time(p, len);

    if (ms < 0) {
        return;
    }

    ngx_iothub_job_format_time(ms, buf);

    if (ngx_iothub_job_parse_time(buf, strlen(buf)) != ms) {
        abort();
    }
}
