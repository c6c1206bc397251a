
/*
 * nginx-iothub: identities out: the registry's JSON (GET, lists, bulk
 * results) and the fields of an identity's Redis hash; see
 * ngx_iothub_identity.h.  Pure C: libc and yajl.
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "ngx_iothub_identity.h"


#define ngx_iothub_member(m)                                                 \
    offsetof(ngx_iothub_identity_t, m),                                      \
    sizeof(((ngx_iothub_identity_t *) 0)->m)


/* JSON output: one entry per key of an object */
typedef enum {
    NGX_IOTHUB_OUT_STRING,
    NGX_IOTHUB_OUT_NULLABLE,                    /* "" is null */
    NGX_IOTHUB_OUT_KEY,                         /* null unless sas */
    NGX_IOTHUB_OUT_THUMBPRINT,                  /* null unless selfSigned */
    NGX_IOTHUB_OUT_C2D,
    NGX_IOTHUB_OUT_EDGE,
    NGX_IOTHUB_OUT_SCOPES,
    NGX_IOTHUB_OUT_OBJECT
} ngx_iothub_out_e;


typedef struct ngx_iothub_identity_out_s  ngx_iothub_identity_out_t;

struct ngx_iothub_identity_out_s {
    const char                       *name;
    ngx_iothub_out_e                  kind;
    size_t                            offset;
    size_t                            size;
    const ngx_iothub_identity_out_t  *object;
};


typedef struct {
    yajl_gen                          g;        /* NULL: only check */
    unsigned                          depth;
    unsigned                          seen;
    yajl_gen_status                   rc;
} ngx_iothub_scopes_ctx_t;


typedef struct {
    const char                       *name;
    size_t                            offset;
    size_t                            size;     /* 0: iotEdge */
} ngx_iothub_identity_field_t;


static yajl_gen_status ngx_iothub_identity_gen_object(
    const ngx_iothub_identity_t *id, yajl_gen g,
    const ngx_iothub_identity_out_t *out);
static yajl_gen_status ngx_iothub_identity_gen_value(
    const ngx_iothub_identity_t *id, yajl_gen g,
    const ngx_iothub_identity_out_t *o);
static yajl_gen_status ngx_iothub_identity_gen_string(yajl_gen g,
    const char *s, size_t size, int nullable);
static yajl_gen_status ngx_iothub_identity_gen_scopes(
    const ngx_iothub_identity_t *id, yajl_gen g);
static int ngx_iothub_scopes_walk(ngx_iothub_scopes_ctx_t *sc,
    const char *text, size_t len);
static int ngx_iothub_scopes_reject(void *data);
static int ngx_iothub_scopes_boolean(void *data, int b);
static int ngx_iothub_scopes_number(void *data, const char *s, size_t len);
static int ngx_iothub_scopes_string(void *data, const unsigned char *s,
    size_t len);
static int ngx_iothub_scopes_start_array(void *data);
static int ngx_iothub_scopes_end_array(void *data);


static const ngx_iothub_identity_out_t  ngx_iothub_identity_symkey_out[] = {
    { "primaryKey", NGX_IOTHUB_OUT_KEY, ngx_iothub_member(primary_key), NULL },
    { "secondaryKey", NGX_IOTHUB_OUT_KEY, ngx_iothub_member(secondary_key),
      NULL },
    { NULL, 0, 0, 0, NULL }
};


static const ngx_iothub_identity_out_t  ngx_iothub_identity_x509_out[] = {
    { "primaryThumbprint", NGX_IOTHUB_OUT_THUMBPRINT,
      ngx_iothub_member(primary_thumbprint), NULL },
    { "secondaryThumbprint", NGX_IOTHUB_OUT_THUMBPRINT,
      ngx_iothub_member(secondary_thumbprint), NULL },
    { NULL, 0, 0, 0, NULL }
};


static const ngx_iothub_identity_out_t  ngx_iothub_identity_auth_out[] = {
    { "symmetricKey", NGX_IOTHUB_OUT_OBJECT, 0, 0,
      ngx_iothub_identity_symkey_out },
    { "x509Thumbprint", NGX_IOTHUB_OUT_OBJECT, 0, 0,
      ngx_iothub_identity_x509_out },
    { "type", NGX_IOTHUB_OUT_STRING, ngx_iothub_member(auth_type), NULL },
    { NULL, 0, 0, 0, NULL }
};


static const ngx_iothub_identity_out_t  ngx_iothub_identity_caps_out[] = {
    { "iotEdge", NGX_IOTHUB_OUT_EDGE, ngx_iothub_member(iot_edge), NULL },
    { NULL, 0, 0, 0, NULL }
};


/* rest.md 3 */
static const ngx_iothub_identity_out_t  ngx_iothub_identity_device_out[] = {
    { "deviceId", NGX_IOTHUB_OUT_STRING, ngx_iothub_member(device_id),
      NULL },
    { "generationId", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(generation_id), NULL },
    { "etag", NGX_IOTHUB_OUT_STRING, ngx_iothub_member(etag), NULL },
    { "connectionState", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(connection_state), NULL },
    { "status", NGX_IOTHUB_OUT_STRING, ngx_iothub_member(status), NULL },
    { "statusReason", NGX_IOTHUB_OUT_NULLABLE,
      ngx_iothub_member(status_reason), NULL },
    { "connectionStateUpdatedTime", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(connection_state_updated_time), NULL },
    { "statusUpdatedTime", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(status_updated_time), NULL },
    { "lastActivityTime", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(last_activity_time), NULL },
    { "cloudToDeviceMessageCount", NGX_IOTHUB_OUT_C2D,
      ngx_iothub_member(c2d_count), NULL },
    { "authentication", NGX_IOTHUB_OUT_OBJECT, 0, 0,
      ngx_iothub_identity_auth_out },
    { "capabilities", NGX_IOTHUB_OUT_OBJECT, 0, 0,
      ngx_iothub_identity_caps_out },
    { "deviceScope", NGX_IOTHUB_OUT_NULLABLE,
      ngx_iothub_member(device_scope), NULL },
    { "parentScopes", NGX_IOTHUB_OUT_SCOPES,
      ngx_iothub_member(parent_scopes), NULL },
    { NULL, 0, 0, 0, NULL }
};


/* rest.md 4 */
static const ngx_iothub_identity_out_t  ngx_iothub_identity_module_out[] = {
    { "moduleId", NGX_IOTHUB_OUT_STRING, ngx_iothub_member(module_id),
      NULL },
    { "deviceId", NGX_IOTHUB_OUT_STRING, ngx_iothub_member(device_id),
      NULL },
    { "managedBy", NGX_IOTHUB_OUT_NULLABLE, ngx_iothub_member(managed_by),
      NULL },
    { "generationId", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(generation_id), NULL },
    { "etag", NGX_IOTHUB_OUT_STRING, ngx_iothub_member(etag), NULL },
    { "connectionState", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(connection_state), NULL },
    { "connectionStateUpdatedTime", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(connection_state_updated_time), NULL },
    { "lastActivityTime", NGX_IOTHUB_OUT_STRING,
      ngx_iothub_member(last_activity_time), NULL },
    { "cloudToDeviceMessageCount", NGX_IOTHUB_OUT_C2D,
      ngx_iothub_member(c2d_count), NULL },
    { "authentication", NGX_IOTHUB_OUT_OBJECT, 0, 0,
      ngx_iothub_identity_auth_out },
    { NULL, 0, 0, 0, NULL }
};


static const yajl_callbacks  ngx_iothub_scopes_callbacks = {
    ngx_iothub_scopes_reject,
    ngx_iothub_scopes_boolean,
    NULL,
    NULL,
    ngx_iothub_scopes_number,
    ngx_iothub_scopes_string,
    ngx_iothub_scopes_reject,
    NULL,
    NULL,
    ngx_iothub_scopes_start_array,
    ngx_iothub_scopes_end_array
};


/* the Redis hash, documented in ngx_iothub_identity.h */
static const ngx_iothub_identity_field_t
    ngx_iothub_identity_fields_map[NGX_IOTHUB_IDENTITY_NFIELDS] =
{
    { "deviceId", ngx_iothub_member(device_id) },
    { "moduleId", ngx_iothub_member(module_id) },
    { "generationId", ngx_iothub_member(generation_id) },
    { "etag", ngx_iothub_member(etag) },
    { "status", ngx_iothub_member(status) },
    { "statusReason", ngx_iothub_member(status_reason) },
    { "statusUpdatedTime", ngx_iothub_member(status_updated_time) },
    { "connectionState", ngx_iothub_member(connection_state) },
    { "connectionStateUpdatedTime",
      ngx_iothub_member(connection_state_updated_time) },
    { "lastActivityTime", ngx_iothub_member(last_activity_time) },
    { "authType", ngx_iothub_member(auth_type) },
    { "primaryKey", ngx_iothub_member(primary_key) },
    { "secondaryKey", ngx_iothub_member(secondary_key) },
    { "primaryThumbprint", ngx_iothub_member(primary_thumbprint) },
    { "secondaryThumbprint", ngx_iothub_member(secondary_thumbprint) },
    { "managedBy", ngx_iothub_member(managed_by) },
    { "deviceScope", ngx_iothub_member(device_scope) },
    { "parentScopes", ngx_iothub_member(parent_scopes) },
    { "modelId", ngx_iothub_member(model_id) },
    { "iotEdge", offsetof(ngx_iothub_identity_t, iot_edge), 0 }
};


int
ngx_iothub_identity_gen(const ngx_iothub_identity_t *id, yajl_gen g)
{
    if (id->module_id[0] != '\0') {
        return ngx_iothub_identity_gen_object(id, g,
                                              ngx_iothub_identity_module_out);
    }

    return ngx_iothub_identity_gen_object(id, g,
                                          ngx_iothub_identity_device_out);
}


static yajl_gen_status
ngx_iothub_identity_gen_object(const ngx_iothub_identity_t *id, yajl_gen g,
    const ngx_iothub_identity_out_t *out)
{
    yajl_gen_status                   rc;
    const ngx_iothub_identity_out_t  *o;

    rc = yajl_gen_map_open(g);
    if (rc != yajl_gen_status_ok) {
        return rc;
    }

    for (o = out; o->name != NULL; o++) {
        rc = yajl_gen_string(g, (const unsigned char *) o->name,
                             strlen(o->name));
        if (rc != yajl_gen_status_ok) {
            return rc;
        }

        rc = ngx_iothub_identity_gen_value(id, g, o);
        if (rc != yajl_gen_status_ok) {
            return rc;
        }
    }

    return yajl_gen_map_close(g);
}


static yajl_gen_status
ngx_iothub_identity_gen_value(const ngx_iothub_identity_t *id, yajl_gen g,
    const ngx_iothub_identity_out_t *o)
{
    const char  *p;

    p = (const char *) id + o->offset;

    switch (o->kind) {

    case NGX_IOTHUB_OUT_STRING:
        return ngx_iothub_identity_gen_string(g, p, o->size, 0);

    case NGX_IOTHUB_OUT_NULLABLE:
        return ngx_iothub_identity_gen_string(g, p, o->size, 1);

    case NGX_IOTHUB_OUT_KEY:
        if (strcmp(id->auth_type, "sas") != 0) {
            return yajl_gen_null(g);
        }

        return ngx_iothub_identity_gen_string(g, p, o->size, 1);

    case NGX_IOTHUB_OUT_THUMBPRINT:
        if (strcmp(id->auth_type, "selfSigned") != 0) {
            return yajl_gen_null(g);
        }

        return ngx_iothub_identity_gen_string(g, p, o->size, 1);

    case NGX_IOTHUB_OUT_C2D:
        return yajl_gen_integer(g, id->c2d_count);

    case NGX_IOTHUB_OUT_EDGE:
        return yajl_gen_bool(g, id->iot_edge != 0);

    case NGX_IOTHUB_OUT_SCOPES:
        return ngx_iothub_identity_gen_scopes(id, g);

    default: /* NGX_IOTHUB_OUT_OBJECT */
        return ngx_iothub_identity_gen_object(id, g, o->object);
    }
}


static yajl_gen_status
ngx_iothub_identity_gen_string(yajl_gen g, const char *s, size_t size,
    int nullable)
{
    size_t  len;

    /* members are NUL-terminated, unless a caller filled one by hand */
    len = strnlen(s, size);

    if (len == 0 && nullable) {
        return yajl_gen_null(g);
    }

    return yajl_gen_string(g, (const unsigned char *) s, len);
}


/*
 * parent_scopes is JSON text; it is walked twice, first to check that it
 * is an array of strings, then to copy it into g.  Anything else (text
 * from an older writer, a truncated field) becomes [].
 */

static yajl_gen_status
ngx_iothub_identity_gen_scopes(const ngx_iothub_identity_t *id, yajl_gen g)
{
    size_t                   len;
    yajl_gen_status          rc;
    ngx_iothub_scopes_ctx_t  sc;

    len = strnlen(id->parent_scopes, sizeof(id->parent_scopes));

    memset(&sc, 0, sizeof(ngx_iothub_scopes_ctx_t));

    if (ngx_iothub_scopes_walk(&sc, id->parent_scopes, len) != 0) {
        rc = yajl_gen_array_open(g);
        if (rc != yajl_gen_status_ok) {
            return rc;
        }

        return yajl_gen_array_close(g);
    }

    memset(&sc, 0, sizeof(ngx_iothub_scopes_ctx_t));
    sc.g = g;

    if (ngx_iothub_scopes_walk(&sc, id->parent_scopes, len) != 0
        && sc.rc == yajl_gen_status_ok)
    {
        /* out of memory in yajl */
        return yajl_gen_in_error_state;
    }

    return sc.rc;
}


static int
ngx_iothub_scopes_walk(ngx_iothub_scopes_ctx_t *sc, const char *text,
    size_t len)
{
    yajl_status  st;
    yajl_handle  h;

    h = yajl_alloc(&ngx_iothub_scopes_callbacks, NULL, sc);
    if (h == NULL) {
        return -1;
    }

    st = yajl_parse(h, (const unsigned char *) text, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (st != yajl_status_ok || !sc->seen || sc->depth != 0) {
        return -1;
    }

    return 0;
}


static int
ngx_iothub_scopes_reject(void *data)
{
    (void) data;

    return 0;
}


static int
ngx_iothub_scopes_boolean(void *data, int b)
{
    (void) data;
    (void) b;

    return 0;
}


static int
ngx_iothub_scopes_number(void *data, const char *s, size_t len)
{
    (void) data;
    (void) s;
    (void) len;

    return 0;
}


static int
ngx_iothub_scopes_string(void *data, const unsigned char *s, size_t len)
{
    ngx_iothub_scopes_ctx_t  *sc;

    sc = data;

    if (sc->depth != 1) {
        return 0;
    }

    if (sc->g != NULL) {
        sc->rc = yajl_gen_string(sc->g, s, len);
    }

    return sc->rc == yajl_gen_status_ok;
}


static int
ngx_iothub_scopes_start_array(void *data)
{
    ngx_iothub_scopes_ctx_t  *sc;

    sc = data;

    if (sc->depth != 0) {
        return 0;
    }

    sc->depth = 1;
    sc->seen = 1;

    if (sc->g != NULL) {
        sc->rc = yajl_gen_array_open(sc->g);
    }

    return sc->rc == yajl_gen_status_ok;
}


static int
ngx_iothub_scopes_end_array(void *data)
{
    ngx_iothub_scopes_ctx_t  *sc;

    sc = data;

    sc->depth = 0;

    if (sc->g != NULL) {
        sc->rc = yajl_gen_array_close(sc->g);
    }

    return sc->rc == yajl_gen_status_ok;
}


int
ngx_iothub_identity_fields(const ngx_iothub_identity_t *id,
    const char **names, const char **values, size_t *lens)
{
    int                                 i;
    const ngx_iothub_identity_field_t  *f;

    for (i = 0; i < NGX_IOTHUB_IDENTITY_NFIELDS; i++) {
        f = &ngx_iothub_identity_fields_map[i];

        names[i] = f->name;

        if (f->size == 0) {
            values[i] = id->iot_edge ? "1" : "0";
            lens[i] = 1;
            continue;
        }

        values[i] = (const char *) id + f->offset;
        lens[i] = strnlen(values[i], f->size);
    }

    return NGX_IOTHUB_IDENTITY_NFIELDS;
}


void
ngx_iothub_identity_set_field(ngx_iothub_identity_t *id, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
    int                                 i;
    char                               *p;
    const ngx_iothub_identity_field_t  *f;

    for (i = 0; i < NGX_IOTHUB_IDENTITY_NFIELDS; i++) {
        f = &ngx_iothub_identity_fields_map[i];

        if (strlen(f->name) == nlen && memcmp(f->name, name, nlen) == 0) {
            break;
        }
    }

    if (i == NGX_IOTHUB_IDENTITY_NFIELDS) {
        return;
    }

    if (f->size == 0) {
        id->iot_edge = (vlen == 1 && value[0] == '1');
        return;
    }

    if (vlen >= f->size) {
        vlen = f->size - 1;
    }

    p = (char *) id + f->offset;

    memcpy(p, value, vlen);
    p[vlen] = '\0';
}
