
/*
 * nginx-iothub: identities in: the registry's JSON bodies (device, module,
 * bulk) parsed and checked; see ngx_iothub_identity.h.  The way out (JSON,
 * Redis fields) is ngx_iothub_identity_out.c.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "ngx_iothub_sas.h"
#include "ngx_iothub_identity.h"


/* what is being parsed: a mask in the key table */
#define NGX_IOTHUB_KIND_DEVICE       0x01
#define NGX_IOTHUB_KIND_MODULE       0x02
#define NGX_IOTHUB_KIND_BULK         0x04
#define NGX_IOTHUB_KIND_DEV_BULK     (NGX_IOTHUB_KIND_DEVICE                 \
                                      |NGX_IOTHUB_KIND_BULK)
#define NGX_IOTHUB_KIND_ANY          0x07

/* open containers: the bulk array, an entry, authentication, symmetricKey */
#define NGX_IOTHUB_DEPTH_MAX         4

/* from ngx_iothub_identity_open(): not a callback's result (0 or 1) */
#define NGX_IOTHUB_IDENTITY_GO_ON    -1

#define ngx_iothub_member(m)                                                 \
    offsetof(ngx_iothub_identity_t, m),                                      \
    sizeof(((ngx_iothub_identity_t *) 0)->m)

#define ngx_iothub_literal(dst, s)   memcpy(dst, s, sizeof(s))
#define ngx_iothub_word(words, s, len)                                       \
    ngx_iothub_identity_word(words, sizeof(words) / sizeof(words[0]), s, len)


/* the container a parsed value is in */
typedef enum {
    NGX_IOTHUB_LEVEL_TOP = 0,
    NGX_IOTHUB_LEVEL_ARRAY,
    NGX_IOTHUB_LEVEL_ROOT,
    NGX_IOTHUB_LEVEL_AUTH,
    NGX_IOTHUB_LEVEL_SYMKEY,
    NGX_IOTHUB_LEVEL_X509,
    NGX_IOTHUB_LEVEL_CAPS
} ngx_iothub_level_e;


/* the JSON type a key's value must have */
typedef enum {
    NGX_IOTHUB_VALUE_STRING,
    NGX_IOTHUB_VALUE_BOOL,
    NGX_IOTHUB_VALUE_OBJECT,
    NGX_IOTHUB_VALUE_SCOPES
} ngx_iothub_value_e;


/* how a string value is checked and where it goes */
typedef enum {
    NGX_IOTHUB_CHECK_LENGTH,
    NGX_IOTHUB_CHECK_ID,
    NGX_IOTHUB_CHECK_KEY,
    NGX_IOTHUB_CHECK_THUMBPRINT,
    NGX_IOTHUB_CHECK_STATUS,
    NGX_IOTHUB_CHECK_TYPE,
    NGX_IOTHUB_CHECK_MODE,
    NGX_IOTHUB_CHECK_ETAG
} ngx_iothub_check_e;


typedef struct {
    const char                       *name;
    const char                       *path;     /* for messages */
    ngx_iothub_level_e                level;    /* container of the key */
    unsigned                          kinds;
    ngx_iothub_value_e                value;
    ngx_iothub_level_e                child;    /* entered by an object */
    ngx_iothub_check_e                check;
    size_t                            offset;   /* in the identity */
    size_t                            size;     /* 0: not a member */
} ngx_iothub_identity_key_t;


typedef struct {
    ngx_iothub_identity_t            *id;
    ngx_iothub_bulk_entry_t          *entry;    /* bulk: entry being read */
    ngx_iothub_bulk_entry_t          *entries;
    const ngx_iothub_identity_key_t  *key;      /* NULL: value ignored */
    yajl_gen                          scopes;   /* parentScopes being read */
    char                             *err;
    size_t                            errlen;
    size_t                            nentries;
    size_t                            nalloc;
    ngx_iothub_identity_rc_e          rc;
    unsigned                          kind;
    unsigned                          skip;     /* depth in ignored value */
    unsigned                          depth;
    ngx_iothub_level_e                levels[NGX_IOTHUB_DEPTH_MAX];
    unsigned                          type_set:1;
    unsigned                          mode_set:1;
} ngx_iothub_identity_ctx_t;


static ngx_iothub_identity_rc_e ngx_iothub_identity_run(
    ngx_iothub_identity_ctx_t *ctx, const char *json, size_t len);
static void ngx_iothub_identity_syntax(ngx_iothub_identity_ctx_t *ctx,
    yajl_handle h, const char *json, size_t len);
static int ngx_iothub_identity_fail(ngx_iothub_identity_ctx_t *ctx,
    ngx_iothub_identity_rc_e rc, const char *fmt, ...);
static int ngx_iothub_identity_misplaced(ngx_iothub_identity_ctx_t *ctx);
static int ngx_iothub_identity_wrong_type(ngx_iothub_identity_ctx_t *ctx,
    const ngx_iothub_identity_key_t *k);
static ngx_iothub_level_e ngx_iothub_identity_level(
    ngx_iothub_identity_ctx_t *ctx);
static int ngx_iothub_identity_push(ngx_iothub_identity_ctx_t *ctx,
    ngx_iothub_level_e level);
static int ngx_iothub_identity_caseeq(const char *name,
    const unsigned char *s, size_t len);
static int ngx_iothub_identity_word(const char *const *words, size_t n,
    const unsigned char *s, size_t len);
static const ngx_iothub_identity_key_t *ngx_iothub_identity_scalar_key(
    ngx_iothub_identity_ctx_t *ctx, int is_string, const unsigned char *s,
    size_t len);

static int ngx_iothub_identity_null(void *data);
static int ngx_iothub_identity_boolean(void *data, int b);
static int ngx_iothub_identity_number(void *data, const char *s, size_t len);
static int ngx_iothub_identity_string(void *data, const unsigned char *s,
    size_t len);
static int ngx_iothub_identity_open(ngx_iothub_identity_ctx_t *ctx);
static int ngx_iothub_identity_take_key(ngx_iothub_identity_ctx_t *ctx,
    ngx_iothub_value_e value, const ngx_iothub_identity_key_t **key);
static int ngx_iothub_identity_start_map(void *data);
static int ngx_iothub_identity_map_key(void *data, const unsigned char *s,
    size_t len);
static int ngx_iothub_identity_end_map(void *data);
static int ngx_iothub_identity_start_array(void *data);
static int ngx_iothub_identity_end_array(void *data);

static int ngx_iothub_identity_set_string(ngx_iothub_identity_ctx_t *ctx,
    const ngx_iothub_identity_key_t *k, const unsigned char *s, size_t len);
static int ngx_iothub_identity_set_word(ngx_iothub_identity_ctx_t *ctx,
    const ngx_iothub_identity_key_t *k, const unsigned char *s, size_t len);
static int ngx_iothub_identity_check(ngx_iothub_identity_ctx_t *ctx,
    const ngx_iothub_identity_key_t *k, const unsigned char *s, size_t len);
static int ngx_iothub_identity_scopes_end(ngx_iothub_identity_ctx_t *ctx);
static int ngx_iothub_identity_begin_entry(ngx_iothub_identity_ctx_t *ctx);
static int ngx_iothub_identity_finish(ngx_iothub_identity_ctx_t *ctx);
static int ngx_iothub_identity_finish_entry(ngx_iothub_identity_ctx_t *ctx);


static const char *const  ngx_iothub_identity_statuses[] = {
    "enabled", "disabled"
};

static const char *const  ngx_iothub_identity_types[] = {
    "sas", "selfSigned", "certificateAuthority", "none"
};

/* in the order of ngx_iothub_import_mode_e */
static const char *const  ngx_iothub_identity_modes[] = {
    "create", "update", "updateIfMatchETag", "delete", "deleteIfMatchETag",
    "updateTwin", "updateTwinIfMatchETag"
};


static const ngx_iothub_identity_key_t  ngx_iothub_identity_keys[] = {

    { "deviceId", "deviceId", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_DEVICE|NGX_IOTHUB_KIND_MODULE, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_ID, ngx_iothub_member(device_id) },

    { "id", "id", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_BULK, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_ID, ngx_iothub_member(device_id) },

    { "moduleId", "moduleId", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_MODULE|NGX_IOTHUB_KIND_BULK, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_ID, ngx_iothub_member(module_id) },

    { "eTag", "eTag", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_BULK, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_ETAG, 0, 0 },

    { "importMode", "importMode", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_BULK, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_MODE, 0, 0 },

    { "status", "status", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_DEV_BULK, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_STATUS, ngx_iothub_member(status) },

    { "statusReason", "statusReason", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_DEV_BULK, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_LENGTH, ngx_iothub_member(status_reason) },

    { "managedBy", "managedBy", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_MODULE, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_LENGTH, ngx_iothub_member(managed_by) },

    { "deviceScope", "deviceScope", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_DEV_BULK, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_LENGTH, ngx_iothub_member(device_scope) },

    { "parentScopes", "parentScopes", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_DEV_BULK, NGX_IOTHUB_VALUE_SCOPES,
      0, NGX_IOTHUB_CHECK_LENGTH, ngx_iothub_member(parent_scopes) },

    { "authentication", "authentication", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_ANY, NGX_IOTHUB_VALUE_OBJECT,
      NGX_IOTHUB_LEVEL_AUTH, NGX_IOTHUB_CHECK_LENGTH, 0, 0 },

    { "capabilities", "capabilities", NGX_IOTHUB_LEVEL_ROOT,
      NGX_IOTHUB_KIND_DEV_BULK, NGX_IOTHUB_VALUE_OBJECT,
      NGX_IOTHUB_LEVEL_CAPS, NGX_IOTHUB_CHECK_LENGTH, 0, 0 },

    { "type", "authentication.type", NGX_IOTHUB_LEVEL_AUTH,
      NGX_IOTHUB_KIND_ANY, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_TYPE, ngx_iothub_member(auth_type) },

    { "symmetricKey", "authentication.symmetricKey", NGX_IOTHUB_LEVEL_AUTH,
      NGX_IOTHUB_KIND_ANY, NGX_IOTHUB_VALUE_OBJECT,
      NGX_IOTHUB_LEVEL_SYMKEY, NGX_IOTHUB_CHECK_LENGTH, 0, 0 },

    { "x509Thumbprint", "authentication.x509Thumbprint",
      NGX_IOTHUB_LEVEL_AUTH, NGX_IOTHUB_KIND_ANY, NGX_IOTHUB_VALUE_OBJECT,
      NGX_IOTHUB_LEVEL_X509, NGX_IOTHUB_CHECK_LENGTH, 0, 0 },

    { "primaryKey", "authentication.symmetricKey.primaryKey",
      NGX_IOTHUB_LEVEL_SYMKEY, NGX_IOTHUB_KIND_ANY, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_KEY, ngx_iothub_member(primary_key) },

    { "secondaryKey", "authentication.symmetricKey.secondaryKey",
      NGX_IOTHUB_LEVEL_SYMKEY, NGX_IOTHUB_KIND_ANY, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_KEY, ngx_iothub_member(secondary_key) },

    { "primaryThumbprint", "authentication.x509Thumbprint.primaryThumbprint",
      NGX_IOTHUB_LEVEL_X509, NGX_IOTHUB_KIND_ANY, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_THUMBPRINT, ngx_iothub_member(primary_thumbprint) },

    { "secondaryThumbprint",
      "authentication.x509Thumbprint.secondaryThumbprint",
      NGX_IOTHUB_LEVEL_X509, NGX_IOTHUB_KIND_ANY, NGX_IOTHUB_VALUE_STRING,
      0, NGX_IOTHUB_CHECK_THUMBPRINT,
      ngx_iothub_member(secondary_thumbprint) },

    { "iotEdge", "capabilities.iotEdge", NGX_IOTHUB_LEVEL_CAPS,
      NGX_IOTHUB_KIND_DEV_BULK, NGX_IOTHUB_VALUE_BOOL,
      0, NGX_IOTHUB_CHECK_LENGTH, ngx_iothub_member(iot_edge) },

    { NULL, NULL, 0, 0, 0, 0, 0, 0, 0 }
};


static const yajl_callbacks  ngx_iothub_identity_callbacks = {
    ngx_iothub_identity_null,
    ngx_iothub_identity_boolean,
    NULL,
    NULL,
    ngx_iothub_identity_number,
    ngx_iothub_identity_string,
    ngx_iothub_identity_start_map,
    ngx_iothub_identity_map_key,
    ngx_iothub_identity_end_map,
    ngx_iothub_identity_start_array,
    ngx_iothub_identity_end_array
};


void
ngx_iothub_identity_init(ngx_iothub_identity_t *id)
{
    memset(id, 0, sizeof(ngx_iothub_identity_t));

    ngx_iothub_literal(id->status, "enabled");
    ngx_iothub_literal(id->status_updated_time, NGX_IOTHUB_IDENTITY_NEVER);
    ngx_iothub_literal(id->connection_state, "Disconnected");
    ngx_iothub_literal(id->connection_state_updated_time,
                       NGX_IOTHUB_IDENTITY_NEVER);
    ngx_iothub_literal(id->last_activity_time, NGX_IOTHUB_IDENTITY_NEVER);
    ngx_iothub_literal(id->auth_type, "sas");
    ngx_iothub_literal(id->parent_scopes, "[]");
}


ngx_iothub_identity_rc_e
ngx_iothub_identity_parse(ngx_iothub_identity_t *id, const char *json,
    size_t len, int is_module, char *err, size_t errlen)
{
    ngx_iothub_identity_ctx_t  ctx;

    ngx_iothub_identity_init(id);

    memset(&ctx, 0, sizeof(ngx_iothub_identity_ctx_t));

    ctx.id = id;
    ctx.kind = is_module ? NGX_IOTHUB_KIND_MODULE : NGX_IOTHUB_KIND_DEVICE;
    ctx.err = err;
    ctx.errlen = errlen;

    return ngx_iothub_identity_run(&ctx, json, len);
}


ngx_iothub_identity_rc_e
ngx_iothub_bulk_parse(const char *json, size_t len,
    ngx_iothub_bulk_entry_t **entries, size_t *n, char *err, size_t errlen)
{
    ngx_iothub_identity_rc_e   rc;
    ngx_iothub_identity_ctx_t  ctx;

    *entries = NULL;
    *n = 0;

    memset(&ctx, 0, sizeof(ngx_iothub_identity_ctx_t));

    ctx.kind = NGX_IOTHUB_KIND_BULK;
    ctx.err = err;
    ctx.errlen = errlen;

    rc = ngx_iothub_identity_run(&ctx, json, len);

    if (rc == NGX_IOTHUB_IDENTITY_OK && ctx.nentries == 0) {
        (void) ngx_iothub_identity_fail(&ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "the array has no entries");
        rc = ctx.rc;
    }

    if (rc != NGX_IOTHUB_IDENTITY_OK) {
        free(ctx.entries);
        return rc;
    }

    *entries = ctx.entries;
    *n = ctx.nentries;

    return NGX_IOTHUB_IDENTITY_OK;
}


static ngx_iothub_identity_rc_e
ngx_iothub_identity_run(ngx_iothub_identity_ctx_t *ctx, const char *json,
    size_t len)
{
    yajl_status  st;
    yajl_handle  h;

    if (ctx->errlen != 0) {
        ctx->err[0] = '\0';
    }

    if (json == NULL) {
        json = "";
        len = 0;
    }

    h = yajl_alloc(&ngx_iothub_identity_callbacks, NULL, ctx);
    if (h == NULL) {
        (void) ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_NO_MEMORY,
                                        "out of memory");
        return ctx->rc;
    }

    st = yajl_parse(h, (const unsigned char *) json, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    if (st != yajl_status_ok && ctx->rc == NGX_IOTHUB_IDENTITY_OK) {
        ngx_iothub_identity_syntax(ctx, h, json, len);
    }

    yajl_free(h);

    if (ctx->scopes != NULL) {
        yajl_gen_free(ctx->scopes);
        ctx->scopes = NULL;
    }

    return ctx->rc;
}


static void
ngx_iothub_identity_syntax(ngx_iothub_identity_ctx_t *ctx, yajl_handle h,
    const char *json, size_t len)
{
    size_t          n;
    unsigned char  *msg;

    msg = yajl_get_error(h, 0, (const unsigned char *) json, len);

    if (msg == NULL) {
        (void) ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_BAD_JSON,
                                        "malformed JSON");
        return;
    }

    /* yajl ends its message with a new line */
    n = strlen((char *) msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        n--;
    }

    (void) ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_BAD_JSON,
                                    "malformed JSON: %.*s", (int) n, msg);

    yajl_free_error(h, msg);
}


/* records the first error; returns 0 to make yajl stop */

static int
ngx_iothub_identity_fail(ngx_iothub_identity_ctx_t *ctx,
    ngx_iothub_identity_rc_e rc, const char *fmt, ...)
{
    int      n;
    size_t   off;
    va_list  args;

    if (ctx->rc != NGX_IOTHUB_IDENTITY_OK) {
        return 0;
    }

    ctx->rc = rc;

    if (ctx->errlen == 0) {
        return 0;
    }

    off = 0;

    if (ctx->entry != NULL && rc != NGX_IOTHUB_IDENTITY_DUPLICATE) {
        n = snprintf(ctx->err, ctx->errlen, "entry %zu: ",
                     (size_t) (ctx->entry - ctx->entries));

        if (n < 0 || (size_t) n >= ctx->errlen) {
            return 0;
        }

        off = n;
    }

    va_start(args, fmt);
    (void) vsnprintf(ctx->err + off, ctx->errlen - off, fmt, args);
    va_end(args);

    return 0;
}


static int
ngx_iothub_identity_misplaced(ngx_iothub_identity_ctx_t *ctx)
{
    if (ngx_iothub_identity_level(ctx) == NGX_IOTHUB_LEVEL_ARRAY) {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "entry %zu: not a JSON object",
                                        ctx->nentries);
    }

    if (ctx->kind == NGX_IOTHUB_KIND_BULK) {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "the body is not a JSON array");
    }

    return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                    "the body is not a JSON object");
}


static int
ngx_iothub_identity_wrong_type(ngx_iothub_identity_ctx_t *ctx,
    const ngx_iothub_identity_key_t *k)
{
    const char  *what;

    switch (k->value) {

    case NGX_IOTHUB_VALUE_STRING:
        what = "a string";
        break;

    case NGX_IOTHUB_VALUE_BOOL:
        what = "a boolean";
        break;

    case NGX_IOTHUB_VALUE_OBJECT:
        what = "an object";
        break;

    default: /* NGX_IOTHUB_VALUE_SCOPES */
        what = "an array of strings";
        break;
    }

    return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                    "%s must be %s or null", k->path, what);
}


static ngx_iothub_level_e
ngx_iothub_identity_level(ngx_iothub_identity_ctx_t *ctx)
{
    if (ctx->depth == 0) {
        return NGX_IOTHUB_LEVEL_TOP;
    }

    return ctx->levels[ctx->depth - 1];
}


static int
ngx_iothub_identity_push(ngx_iothub_identity_ctx_t *ctx,
    ngx_iothub_level_e level)
{
    if (ctx->depth == NGX_IOTHUB_DEPTH_MAX) {
        /* the key table nests no deeper; cannot happen */
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "nested too deeply");
    }

    ctx->levels[ctx->depth++] = level;

    return 1;
}


/* ASCII case-insensitive, independent of the locale */

static int
ngx_iothub_identity_caseeq(const char *name, const unsigned char *s,
    size_t len)
{
    size_t         i;
    unsigned char  a, b;

    for (i = 0; i < len; i++) {
        a = (unsigned char) name[i];
        b = s[i];

        if (a == '\0') {
            return 0;
        }

        if (a >= 'A' && a <= 'Z') {
            a |= 0x20;
        }

        if (b >= 'A' && b <= 'Z') {
            b |= 0x20;
        }

        if (a != b) {
            return 0;
        }
    }

    return name[len] == '\0';
}


static int
ngx_iothub_identity_word(const char *const *words, size_t n,
    const unsigned char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (ngx_iothub_identity_caseeq(words[i], s, len)) {
            return (int) i;
        }
    }

    return -1;
}


/*
 * Common start of every scalar callback.  Returns the key whose value the
 * scalar is, or NULL when the value is ignored, was consumed as an element
 * of parentScopes, or is an error (then ctx->rc is set).
 */

static const ngx_iothub_identity_key_t *
ngx_iothub_identity_scalar_key(ngx_iothub_identity_ctx_t *ctx,
    int is_string, const unsigned char *s, size_t len)
{
    const ngx_iothub_identity_key_t  *k;

    if (ctx->skip) {
        return NULL;
    }

    if (ctx->scopes != NULL) {
        if (!is_string) {
            (void) ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                           "parentScopes must be an array "
                                           "of strings or null");

        } else if (yajl_gen_string(ctx->scopes, s, len)
                   != yajl_gen_status_ok)
        {
            (void) ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                           "parentScopes is not valid");
        }

        return NULL;
    }

    if (ngx_iothub_identity_level(ctx) < NGX_IOTHUB_LEVEL_ROOT) {
        (void) ngx_iothub_identity_misplaced(ctx);
        return NULL;
    }

    k = ctx->key;
    ctx->key = NULL;

    return k;
}


static int
ngx_iothub_identity_null(void *data)
{
    char                             *p;
    ngx_iothub_identity_ctx_t        *ctx;
    const ngx_iothub_identity_key_t  *k;

    ctx = data;

    k = ngx_iothub_identity_scalar_key(ctx, 0, NULL, 0);
    if (k == NULL) {
        return ctx->rc == NGX_IOTHUB_IDENTITY_OK;
    }

    /* null is the same as absent: back to the default */

    p = (char *) ctx->id + k->offset;

    switch (k->check) {

    case NGX_IOTHUB_CHECK_STATUS:
        ngx_iothub_literal(ctx->id->status, "enabled");
        break;

    case NGX_IOTHUB_CHECK_TYPE:
        ctx->type_set = 0;
        break;

    case NGX_IOTHUB_CHECK_MODE:
        ctx->mode_set = 0;
        break;

    case NGX_IOTHUB_CHECK_ETAG:
        ctx->entry->etag[0] = '\0';
        break;

    default:
        if (k->value == NGX_IOTHUB_VALUE_SCOPES) {
            ngx_iothub_literal(ctx->id->parent_scopes, "[]");

        } else if (k->value == NGX_IOTHUB_VALUE_BOOL) {
            ctx->id->iot_edge = 0;

        } else if (k->size != 0) {
            p[0] = '\0';
        }
    }

    return 1;
}


static int
ngx_iothub_identity_boolean(void *data, int b)
{
    ngx_iothub_identity_ctx_t        *ctx;
    const ngx_iothub_identity_key_t  *k;

    ctx = data;

    k = ngx_iothub_identity_scalar_key(ctx, 0, NULL, 0);
    if (k == NULL) {
        return ctx->rc == NGX_IOTHUB_IDENTITY_OK;
    }

    if (k->value != NGX_IOTHUB_VALUE_BOOL) {
        return ngx_iothub_identity_wrong_type(ctx, k);
    }

    /* capabilities.iotEdge is the only boolean */
    ctx->id->iot_edge = b ? 1 : 0;

    return 1;
}


static int
ngx_iothub_identity_number(void *data, const char *s, size_t len)
{
    ngx_iothub_identity_ctx_t        *ctx;
    const ngx_iothub_identity_key_t  *k;

    (void) s;
    (void) len;

    ctx = data;

    k = ngx_iothub_identity_scalar_key(ctx, 0, NULL, 0);
    if (k == NULL) {
        return ctx->rc == NGX_IOTHUB_IDENTITY_OK;
    }

    /* no settable field is a number */
    return ngx_iothub_identity_wrong_type(ctx, k);
}


static int
ngx_iothub_identity_string(void *data, const unsigned char *s, size_t len)
{
    ngx_iothub_identity_ctx_t        *ctx;
    const ngx_iothub_identity_key_t  *k;

    ctx = data;

    k = ngx_iothub_identity_scalar_key(ctx, 1, s, len);
    if (k == NULL) {
        return ctx->rc == NGX_IOTHUB_IDENTITY_OK;
    }

    if (k->value != NGX_IOTHUB_VALUE_STRING) {
        return ngx_iothub_identity_wrong_type(ctx, k);
    }

    return ngx_iothub_identity_set_string(ctx, k, s, len);
}


/*
 * What opening an object or an array starts with: inside a skipped value
 * it nests one deeper; inside parentScopes it is an error.
 * NGX_IOTHUB_IDENTITY_GO_ON: the caller goes on, else its result.
 */

static int
ngx_iothub_identity_open(ngx_iothub_identity_ctx_t *ctx)
{
    if (ctx->skip) {
        ctx->skip++;
        return 1;
    }

    if (ctx->scopes != NULL) {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "parentScopes must be an array of "
                                        "strings or null");
    }

    return NGX_IOTHUB_IDENTITY_GO_ON;
}


/*
 * The key an object or array of the given value type belongs to into
 * *key: NGX_IOTHUB_IDENTITY_GO_ON, else the callback's result (an unknown
 * or read-only field is skipped, a key of another type fails).
 */

static int
ngx_iothub_identity_take_key(ngx_iothub_identity_ctx_t *ctx,
    ngx_iothub_value_e value, const ngx_iothub_identity_key_t **key)
{
    const ngx_iothub_identity_key_t  *k;

    k = ctx->key;
    ctx->key = NULL;
    *key = k;

    if (k == NULL) {
        ctx->skip = 1;
        return 1;
    }

    if (k->value != value) {
        return ngx_iothub_identity_wrong_type(ctx, k);
    }

    return NGX_IOTHUB_IDENTITY_GO_ON;
}


static int
ngx_iothub_identity_start_map(void *data)
{
    int                               rc;
    ngx_iothub_identity_ctx_t        *ctx;
    const ngx_iothub_identity_key_t  *k;

    ctx = data;

    rc = ngx_iothub_identity_open(ctx);
    if (rc != NGX_IOTHUB_IDENTITY_GO_ON) {
        return rc;
    }

    switch (ngx_iothub_identity_level(ctx)) {

    case NGX_IOTHUB_LEVEL_TOP:
        if (ctx->kind == NGX_IOTHUB_KIND_BULK) {
            return ngx_iothub_identity_misplaced(ctx);
        }

        return ngx_iothub_identity_push(ctx, NGX_IOTHUB_LEVEL_ROOT);

    case NGX_IOTHUB_LEVEL_ARRAY:
        if (!ngx_iothub_identity_begin_entry(ctx)) {
            return 0;
        }

        return ngx_iothub_identity_push(ctx, NGX_IOTHUB_LEVEL_ROOT);

    default:
        break;
    }

    rc = ngx_iothub_identity_take_key(ctx, NGX_IOTHUB_VALUE_OBJECT, &k);
    if (rc != NGX_IOTHUB_IDENTITY_GO_ON) {
        return rc;
    }

    return ngx_iothub_identity_push(ctx, k->child);
}


static int
ngx_iothub_identity_map_key(void *data, const unsigned char *s, size_t len)
{
    ngx_iothub_level_e                level;
    ngx_iothub_identity_ctx_t        *ctx;
    const ngx_iothub_identity_key_t  *k;

    ctx = data;

    if (ctx->skip) {
        return 1;
    }

    level = ngx_iothub_identity_level(ctx);
    ctx->key = NULL;

    for (k = ngx_iothub_identity_keys; k->name != NULL; k++) {
        if (k->level == level
            && (k->kinds & ctx->kind)
            && ngx_iothub_identity_caseeq(k->name, s, len))
        {
            ctx->key = k;
            break;
        }
    }

    return 1;
}


static int
ngx_iothub_identity_end_map(void *data)
{
    ngx_iothub_level_e          level;
    ngx_iothub_identity_ctx_t  *ctx;

    ctx = data;

    if (ctx->skip) {
        ctx->skip--;
        return 1;
    }

    level = ngx_iothub_identity_level(ctx);
    ctx->depth--;
    ctx->key = NULL;

    if (level == NGX_IOTHUB_LEVEL_ROOT) {
        return ngx_iothub_identity_finish(ctx);
    }

    return 1;
}


static int
ngx_iothub_identity_start_array(void *data)
{
    int                               rc;
    ngx_iothub_identity_ctx_t        *ctx;
    const ngx_iothub_identity_key_t  *k;

    ctx = data;

    rc = ngx_iothub_identity_open(ctx);
    if (rc != NGX_IOTHUB_IDENTITY_GO_ON) {
        return rc;
    }

    switch (ngx_iothub_identity_level(ctx)) {

    case NGX_IOTHUB_LEVEL_TOP:
        if (ctx->kind != NGX_IOTHUB_KIND_BULK) {
            return ngx_iothub_identity_misplaced(ctx);
        }

        return ngx_iothub_identity_push(ctx, NGX_IOTHUB_LEVEL_ARRAY);

    case NGX_IOTHUB_LEVEL_ARRAY:
        return ngx_iothub_identity_misplaced(ctx);

    default:
        break;
    }

    rc = ngx_iothub_identity_take_key(ctx, NGX_IOTHUB_VALUE_SCOPES, &k);
    if (rc != NGX_IOTHUB_IDENTITY_GO_ON) {
        return rc;
    }

    /* the elements are copied through a generator, which escapes them */

    ctx->scopes = yajl_gen_alloc(NULL);

    if (ctx->scopes == NULL
        || yajl_gen_array_open(ctx->scopes) != yajl_gen_status_ok)
    {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_NO_MEMORY,
                                        "out of memory");
    }

    return 1;
}


static int
ngx_iothub_identity_end_array(void *data)
{
    ngx_iothub_identity_ctx_t  *ctx;

    ctx = data;

    if (ctx->skip) {
        ctx->skip--;
        return 1;
    }

    if (ctx->scopes != NULL) {
        return ngx_iothub_identity_scopes_end(ctx);
    }

    /* the bulk array */
    ctx->depth--;

    return 1;
}


static int
ngx_iothub_identity_scopes_end(ngx_iothub_identity_ctx_t *ctx)
{
    size_t                len;
    const unsigned char  *buf;

    if (yajl_gen_array_close(ctx->scopes) != yajl_gen_status_ok
        || yajl_gen_get_buf(ctx->scopes, &buf, &len) != yajl_gen_status_ok)
    {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_NO_MEMORY,
                                        "out of memory");
    }

    if (len >= sizeof(ctx->id->parent_scopes)) {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "parentScopes is longer than %zu "
                                        "bytes",
                                        sizeof(ctx->id->parent_scopes) - 1);
    }

    memcpy(ctx->id->parent_scopes, buf, len);
    ctx->id->parent_scopes[len] = '\0';

    yajl_gen_free(ctx->scopes);
    ctx->scopes = NULL;

    return 1;
}


static int
ngx_iothub_identity_set_string(ngx_iothub_identity_ctx_t *ctx,
    const ngx_iothub_identity_key_t *k, const unsigned char *s, size_t len)
{
    char  *p;

    if (memchr(s, '\0', len) != NULL) {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "%s must not contain NUL", k->path);
    }

    switch (k->check) {

    case NGX_IOTHUB_CHECK_STATUS:
    case NGX_IOTHUB_CHECK_TYPE:
    case NGX_IOTHUB_CHECK_MODE:
        return ngx_iothub_identity_set_word(ctx, k, s, len);

    case NGX_IOTHUB_CHECK_ETAG:
        if (len >= sizeof(ctx->entry->etag)) {
            return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                            "eTag is longer than %zu bytes",
                                            sizeof(ctx->entry->etag) - 1);
        }

        memcpy(ctx->entry->etag, s, len);
        ctx->entry->etag[len] = '\0';
        return 1;

    default:
        break;
    }

    if (!ngx_iothub_identity_check(ctx, k, s, len)) {
        return 0;
    }

    p = (char *) ctx->id + k->offset;

    memcpy(p, s, len);
    p[len] = '\0';

    return 1;
}


/* status, authentication.type, importMode: stored in canonical spelling */

static int
ngx_iothub_identity_set_word(ngx_iothub_identity_ctx_t *ctx,
    const ngx_iothub_identity_key_t *k, const unsigned char *s, size_t len)
{
    int          i;
    const char  *w;

    switch (k->check) {

    case NGX_IOTHUB_CHECK_STATUS:
        i = ngx_iothub_word(ngx_iothub_identity_statuses, s, len);
        if (i < 0) {
            return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                            "status must be \"enabled\" or "
                                            "\"disabled\"");
        }

        w = ngx_iothub_identity_statuses[i];
        strcpy(ctx->id->status, w);
        return 1;

    case NGX_IOTHUB_CHECK_TYPE:
        i = ngx_iothub_word(ngx_iothub_identity_types, s, len);
        if (i < 0) {
            return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                            "authentication.type must be "
                                            "sas, selfSigned, "
                                            "certificateAuthority or none");
        }

        w = ngx_iothub_identity_types[i];
        strcpy(ctx->id->auth_type, w);
        ctx->type_set = 1;
        return 1;

    default: /* NGX_IOTHUB_CHECK_MODE */
        i = ngx_iothub_word(ngx_iothub_identity_modes, s, len);
        if (i < 0) {
            return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                            "importMode must be create, "
                                            "update, updateIfMatchETag, "
                                            "delete, deleteIfMatchETag, "
                                            "updateTwin or "
                                            "updateTwinIfMatchETag");
        }

        ctx->entry->mode = (ngx_iothub_import_mode_e) i;
        ctx->mode_set = 1;
        return 1;
    }
}


static int
ngx_iothub_identity_check(ngx_iothub_identity_ctx_t *ctx,
    const ngx_iothub_identity_key_t *k, const unsigned char *s, size_t len)
{
    switch (k->check) {

    case NGX_IOTHUB_CHECK_ID:
        if (ngx_iothub_id_valid(s, len) && len < k->size) {
            return 1;
        }

        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "%s is not a valid id: 1 to 128 "
                                        "ASCII letters, digits or "
                                        "-.+%%_#*?!(),=@$':", k->path);

    case NGX_IOTHUB_CHECK_KEY:
        /* "" means "generate one" (auth.md 4) */
        if (len == 0
            || (ngx_iothub_key_valid((const char *) s, len) && len < k->size))
        {
            return 1;
        }

        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "%s is not base64 of 16 to 64 bytes",
                                        k->path);

    case NGX_IOTHUB_CHECK_THUMBPRINT:
        if (len == 0
            || (ngx_iothub_thumbprint_valid((const char *) s, len)
                && len < k->size))
        {
            return 1;
        }

        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "%s is not 40 or 64 hex digits",
                                        k->path);

    default: /* NGX_IOTHUB_CHECK_LENGTH */
        if (len < k->size) {
            return 1;
        }

        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "%s is longer than %zu bytes",
                                        k->path, k->size - 1);
    }
}


static int
ngx_iothub_identity_begin_entry(ngx_iothub_identity_ctx_t *ctx)
{
    size_t                    nalloc;
    ngx_iothub_bulk_entry_t  *entries;

    if (ctx->nentries == NGX_IOTHUB_BULK_MAX) {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_TOO_MANY,
                                        "TooManyDevices: at most %d "
                                        "entries in one request",
                                        NGX_IOTHUB_BULK_MAX);
    }

    if (ctx->nentries == ctx->nalloc) {
        nalloc = (ctx->nalloc == 0) ? 8 : ctx->nalloc * 2;

        if (nalloc > NGX_IOTHUB_BULK_MAX) {
            nalloc = NGX_IOTHUB_BULK_MAX;
        }

        entries = realloc(ctx->entries,
                          nalloc * sizeof(ngx_iothub_bulk_entry_t));
        if (entries == NULL) {
            return ngx_iothub_identity_fail(ctx,
                                            NGX_IOTHUB_IDENTITY_NO_MEMORY,
                                            "out of memory");
        }

        ctx->entries = entries;
        ctx->nalloc = nalloc;
    }

    ctx->entry = &ctx->entries[ctx->nentries++];

    ngx_iothub_identity_init(&ctx->entry->identity);
    ctx->entry->mode = NGX_IOTHUB_IMPORT_CREATE;
    ctx->entry->etag[0] = '\0';

    ctx->id = &ctx->entry->identity;
    ctx->type_set = 0;
    ctx->mode_set = 0;

    return 1;
}


/* the end of a device, module or bulk entry: cross-field rules */

static int
ngx_iothub_identity_finish(ngx_iothub_identity_ctx_t *ctx)
{
    ngx_iothub_identity_t  *id;

    id = ctx->id;

    /* as the Node service SDK does (auth.md 5) */
    if (!ctx->type_set) {
        if (id->primary_thumbprint[0] != '\0') {
            ngx_iothub_literal(id->auth_type, "selfSigned");

        } else {
            ngx_iothub_literal(id->auth_type, "sas");
        }
    }

    if (strcmp(id->auth_type, "selfSigned") == 0) {
        if (id->primary_thumbprint[0] == '\0') {
            return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                            "authentication.x509Thumbprint."
                                            "primaryThumbprint is required "
                                            "for selfSigned");
        }

    } else {
        id->primary_thumbprint[0] = '\0';
        id->secondary_thumbprint[0] = '\0';
    }

    if (strcmp(id->auth_type, "sas") != 0) {
        id->primary_key[0] = '\0';
        id->secondary_key[0] = '\0';
    }

    if (ctx->kind != NGX_IOTHUB_KIND_BULK) {
        return 1;
    }

    return ngx_iothub_identity_finish_entry(ctx);
}


static int
ngx_iothub_identity_finish_entry(ngx_iothub_identity_ctx_t *ctx)
{
    size_t                        i;
    const ngx_iothub_identity_t  *id, *prev;

    id = ctx->id;

    if (id->device_id[0] == '\0') {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "id is required");
    }

    if (!ctx->mode_set) {
        return ngx_iothub_identity_fail(ctx, NGX_IOTHUB_IDENTITY_INVALID,
                                        "importMode is required");
    }

    for (i = 0; i < ctx->nentries - 1; i++) {
        prev = &ctx->entries[i].identity;

        if (strcmp(prev->device_id, id->device_id) == 0
            && strcmp(prev->module_id, id->module_id) == 0)
        {
            return ngx_iothub_identity_fail(ctx,
                                            NGX_IOTHUB_IDENTITY_DUPLICATE,
                                            "DeviceDefinedMultipleTimes: "
                                            "entries %zu and %zu are both "
                                            "\"%s%s%s\"", i,
                                            ctx->nentries - 1, id->device_id,
                                            id->module_id[0] ? "/" : "",
                                            id->module_id);
        }
    }

    ctx->entry = NULL;

    return 1;
}
