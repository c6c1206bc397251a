
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for shared/ngx_iothub_twin.c.  The first byte picks an
 * operation; the rest is split at the first 0xff byte (never part of
 * UTF-8 JSON) into a stored section text and a patch or body.  Besides
 * memory errors it checks properties:
 *
 *   - a merge patch is idempotent: applying an accepted patch again
 *     gives the same sections (and, for reported, the same metadata);
 *   - an accepted operation leaves a twin whose views render, and on an
 *     empty twin a section that passes ngx_iothub_twin_validate();
 *   - a refused operation leaves the twin unchanged;
 *   - a PUT notifies exactly the new desired section, and every notified
 *     patch renders as a notification.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishared \
 *       fuzz/fuzz_twin.c shared/ngx_iothub_twin.c \
 *       shared/ngx_iothub_twin_json.c shared/ngx_iothub_twin_view.c \
 *       -lyajl -o fuzz_twin
 *   ./fuzz_twin -max_total_time=60 corpus/
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub_twin.h"


#define FUZZ_NOW  "2024-01-02T10:11:12.1234567Z"

#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        __builtin_trap();                                                    \
    }


typedef struct {
    const char         *stored;   /* NULL: the empty twin */
    size_t              stored_len;
    const char         *json;
    size_t              len;
} fuzz_input_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_twin(ngx_iothub_twin_t *t, const fuzz_input_t *in,
    const char *field);
static void fuzz_copy(ngx_iothub_twin_t *dst, const ngx_iothub_twin_t *src);
static int fuzz_same(const ngx_iothub_twin_t *a, const ngx_iothub_twin_t *b);
static void fuzz_views(const ngx_iothub_twin_t *t, int must);
static void fuzz_reported(const fuzz_input_t *in);
static void fuzz_service(const fuzz_input_t *in, int replace);
static void fuzz_stored(const fuzz_input_t *in);


/* a stored text with a NUL is refused (CORRUPT) and the field kept */
static void
fuzz_twin(ngx_iothub_twin_t *t, const fuzz_input_t *in, const char *field)
{
    ngx_iothub_twin_rc_e  rc;

    fuzz_check(ngx_iothub_twin_init(t, FUZZ_NOW) == NGX_IOTHUB_TWIN_OK);

    if (in->stored != NULL) {
        rc = ngx_iothub_twin_set_field(t, field, strlen(field), in->stored,
                                       in->stored_len);
        fuzz_check(rc == NGX_IOTHUB_TWIN_OK
                   || (rc == NGX_IOTHUB_TWIN_CORRUPT
                       && memchr(in->stored, 0, in->stored_len) != NULL));
    }
}


static void
fuzz_copy(ngx_iothub_twin_t *dst, const ngx_iothub_twin_t *src)
{
    int          i, n;
    char         scratch[NGX_IOTHUB_TWIN_SCRATCH];
    size_t       lens[NGX_IOTHUB_TWIN_NFIELDS];
    const char  *names[NGX_IOTHUB_TWIN_NFIELDS];
    const char  *values[NGX_IOTHUB_TWIN_NFIELDS];

    fuzz_check(ngx_iothub_twin_init(dst, NULL) == NGX_IOTHUB_TWIN_OK);

    n = ngx_iothub_twin_fields(src, names, values, lens, scratch);

    for (i = 0; i < n; i++) {
        fuzz_check(ngx_iothub_twin_set_field(dst, names[i], strlen(names[i]),
                                             values[i], lens[i])
                   == NGX_IOTHUB_TWIN_OK);
    }
}


static int
fuzz_same(const ngx_iothub_twin_t *a, const ngx_iothub_twin_t *b)
{
    return strcmp(a->tags, b->tags) == 0
           && strcmp(a->desired, b->desired) == 0
           && strcmp(a->reported, b->reported) == 0
           && strcmp(a->desired_meta, b->desired_meta) == 0
           && strcmp(a->reported_meta, b->reported_meta) == 0
           && a->version == b->version
           && a->desired_version == b->desired_version
           && a->reported_version == b->reported_version;
}


/* must: the twin came out of an accepted operation on valid state */
static void
fuzz_views(const ngx_iothub_twin_t *t, int must)
{
    char                        *out, err[128];
    yajl_gen                     g;
    ngx_iothub_twin_rc_e         rc;
    ngx_iothub_twin_identity_t   id;

    rc = ngx_iothub_twin_device_view(t, &out, err, sizeof(err));
    fuzz_check(!must || rc == NGX_IOTHUB_TWIN_OK);
    fuzz_check((rc == NGX_IOTHUB_TWIN_OK) == (out != NULL));
    free(out);

    memset(&id, 0, sizeof(id));
    id.device_id = "d";
    id.module_id = (t->version & 1) ? "m" : NULL;

    g = yajl_gen_alloc(NULL);
    fuzz_check(g != NULL);

    rc = ngx_iothub_twin_service_view(t, &id, g, err, sizeof(err));
    fuzz_check(!must || rc == NGX_IOTHUB_TWIN_OK);

    yajl_gen_free(g);
}


static void
fuzz_reported(const fuzz_input_t *in)
{
    char                  err[256];
    ngx_iothub_twin_t     t, before, again;
    ngx_iothub_twin_rc_e  rc;

    fuzz_twin(&t, in, "reported");
    fuzz_copy(&before, &t);

    rc = ngx_iothub_twin_patch_reported(&t, in->json, in->len, FUZZ_NOW, err,
                                        sizeof(err));

    if (rc != NGX_IOTHUB_TWIN_OK) {
        fuzz_check(fuzz_same(&t, &before));
        goto done;
    }

    fuzz_check(t.reported_version == before.reported_version + 1);
    fuzz_check(t.version == before.version + 1);
    fuzz_views(&t, 1);

    if (in->stored == NULL) {
        fuzz_check(ngx_iothub_twin_validate(t.reported, strlen(t.reported),
                                            NGX_IOTHUB_TWIN_REPORTED, err,
                                            sizeof(err))
                   == NGX_IOTHUB_TWIN_OK);
    }

    fuzz_copy(&again, &t);
    fuzz_check(ngx_iothub_twin_patch_reported(&again, in->json, in->len,
                                              FUZZ_NOW, err, sizeof(err))
               == NGX_IOTHUB_TWIN_OK);
    fuzz_check(strcmp(again.reported, t.reported) == 0);
    fuzz_check(strcmp(again.reported_meta, t.reported_meta) == 0);
    ngx_iothub_twin_free(&again);

done:

    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&before);
}


static void
fuzz_service(const fuzz_input_t *in, int replace)
{
    char                  err[256], *notify, *out;
    ngx_iothub_twin_t     t, before, again;
    ngx_iothub_twin_rc_e  rc;

    fuzz_twin(&t, in, replace ? "tags" : "desired");
    fuzz_copy(&before, &t);

    rc = replace
         ? ngx_iothub_twin_service_replace(&t, in->json, in->len, FUZZ_NOW,
                                           &notify, err, sizeof(err))
         : ngx_iothub_twin_service_patch(&t, in->json, in->len, FUZZ_NOW,
                                         &notify, err, sizeof(err));

    if (rc != NGX_IOTHUB_TWIN_OK) {
        fuzz_check(notify == NULL);
        fuzz_check(fuzz_same(&t, &before));
        goto done;
    }

    fuzz_check(t.version == before.version + 1);
    fuzz_check((notify != NULL)
               == (t.desired_version == before.desired_version + 1));
    fuzz_check(replace == 0 || strcmp(notify, t.desired) == 0);

    /* a stored desired the PATCH did not touch may be unreadable */
    fuzz_views(&t, replace || in->stored == NULL || notify != NULL);

    if (notify != NULL) {
        fuzz_check(ngx_iothub_twin_notification(notify, strlen(notify),
                                                t.desired_version, &out,
                                                err, sizeof(err))
                   == NGX_IOTHUB_TWIN_OK);
        free(out);
        free(notify);
    }

    fuzz_copy(&again, &t);
    rc = replace
         ? ngx_iothub_twin_service_replace(&again, in->json, in->len,
                                           FUZZ_NOW, NULL, err, sizeof(err))
         : ngx_iothub_twin_service_patch(&again, in->json, in->len,
                                         FUZZ_NOW, NULL, err, sizeof(err));
    fuzz_check(rc == NGX_IOTHUB_TWIN_OK);
    fuzz_check(strcmp(again.tags, t.tags) == 0);
    fuzz_check(strcmp(again.desired, t.desired) == 0);
    ngx_iothub_twin_free(&again);

done:

    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&before);
}


/* arbitrary stored texts: views and operations must fail cleanly */
static void
fuzz_stored(const fuzz_input_t *in)
{
    int                  i;
    char                 err[128], *out;
    ngx_iothub_twin_t    t;

    static const char  *fields[] = {
        "tags", "desired", "desiredMeta", "reported", "reportedMeta"
    };

    fuzz_check(ngx_iothub_twin_init(&t, NULL) == NGX_IOTHUB_TWIN_OK);

    for (i = 0; i < 5; i++) {
        if (in->len > 0 && (in->json[0] & (1 << i))) {
            (void) ngx_iothub_twin_set_field(&t, fields[i],
                                             strlen(fields[i]), in->json + 1,
                                             in->len - 1);
        }
    }

    fuzz_views(&t, 0);

    (void) ngx_iothub_twin_notification(in->json, in->len, 7, &out, err,
                                        sizeof(err));
    free(out);

    for (i = 0; i < 3; i++) {
        (void) ngx_iothub_twin_validate(in->json, in->len,
                                        (ngx_iothub_twin_section_e) i, err,
                                        sizeof(err));
    }

    ngx_iothub_twin_free(&t);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t  *sep;
    fuzz_input_t    in;

    if (size == 0) {
        return 0;
    }

    memset(&in, 0, sizeof(in));
    in.json = (const char *) data + 1;
    in.len = size - 1;

    sep = memchr(in.json, 0xff, in.len);

    if (sep != NULL) {
        in.stored = in.json;
        in.stored_len = (const char *) sep - in.json;
        in.len -= in.stored_len + 1;
        in.json = (const char *) sep + 1;
    }

    switch (data[0] % 4) {

    case 0:
        fuzz_reported(&in);
        break;

    case 1:
        fuzz_service(&in, 0);
        break;

    case 2:
        fuzz_service(&in, 1);
        break;

    default:
        fuzz_stored(&in);
        break;
    }

    return 0;
}
