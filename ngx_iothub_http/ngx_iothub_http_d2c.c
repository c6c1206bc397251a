
/*
 * nginx-iothub http module: a device's telemetry over HTTPS; see
 * ngx_iothub_http_d2c.h.
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_tree.h>

#include "ngx_iothub_http_d2c.h"
#include "ngx_iothub_props.h"


struct ngx_iothub_http_d2c_batch_s {
    yajl_val                     tree;
};


static ngx_iothub_http_d2c_rc_e ngx_iothub_http_d2c_add(
    ngx_iothub_http_d2c_msg_t *m, const char *field,
    const unsigned char *name, size_t name_len, const unsigned char *value,
    size_t value_len);
static ngx_iothub_http_d2c_rc_e ngx_iothub_http_d2c_element(yajl_val v,
    ngx_iothub_http_d2c_msg_t *m);
static ngx_iothub_http_d2c_rc_e ngx_iothub_http_d2c_properties(yajl_val v,
    ngx_iothub_http_d2c_msg_t *m);
static yajl_val ngx_iothub_http_d2c_member(yajl_val obj, const char *key);


/* the system properties a device sets (rest.md 14.1, messaging.md 1) */
static const ngx_iothub_prop_header_t  ngx_iothub_http_d2c_system[] = {
    { "iothub-messageid", "p:message-id" },
    { "iothub-correlationid", "p:correlation-id" },
    { "iothub-userid", "p:user-id" },
    { "iothub-contenttype", "p:content-type" },
    { "iothub-contentencoding", "p:content-encoding" },
    { "iothub-expiry", "p:absolute-expiry-time" },
    { "iothub-creation-time-utc", "u:iothub-creation-time-utc" },
    { "iothub-interface-id", "u:iothub-interface-id" },
    { "dt-subject", "a:dt-subject" },
    { NULL, NULL }
};


void
ngx_iothub_http_d2c_init(ngx_iothub_http_d2c_msg_t *m)
{
    memset(m, 0, sizeof(ngx_iothub_http_d2c_msg_t));
    m->base64 = 1;
}


ngx_iothub_http_d2c_rc_e
ngx_iothub_http_d2c_header(ngx_iothub_http_d2c_msg_t *m,
    const unsigned char *name, size_t name_len, const unsigned char *value,
    size_t value_len)
{
    size_t       app;
    const char  *field;

    app = ngx_iothub_prop_app_header(name, name_len);

    if (app) {
        name += app;
        name_len -= app;

        if (ngx_iothub_app_property_reserved(name, name_len)) {
            /* the hub's own names: dropped, as over MQTT */
            return NGX_IOTHUB_HTTP_D2C_OK;
        }

        return ngx_iothub_http_d2c_add(m, "u:", name, name_len, value,
                                       value_len);
    }

    field = ngx_iothub_prop_system(ngx_iothub_http_d2c_system, name,
                                   name_len);
    if (field != NULL) {
        return ngx_iothub_http_d2c_add(m, field, NULL, 0, value, value_len);
    }

    return NGX_IOTHUB_HTTP_D2C_OK;
}


static ngx_iothub_http_d2c_rc_e
ngx_iothub_http_d2c_add(ngx_iothub_http_d2c_msg_t *m, const char *field,
    const unsigned char *name, size_t name_len, const unsigned char *value,
    size_t value_len)
{
    if (ngx_iothub_prop_add(m->prop, &m->n, NGX_IOTHUB_HTTP_D2C_MAX_PROPS,
                            field, name, name_len, value, value_len)
        != 0)
    {
        return NGX_IOTHUB_HTTP_D2C_TOO_MANY_PROPS;
    }

    return NGX_IOTHUB_HTTP_D2C_OK;
}


ngx_iothub_http_d2c_rc_e
ngx_iothub_http_d2c_batch_parse(const char *json,
    ngx_iothub_http_d2c_batch_t **b, size_t *n, char *err, size_t size)
{
    size_t                        i;
    yajl_val                      tree;
    ngx_iothub_http_d2c_rc_e      rc;
    ngx_iothub_http_d2c_msg_t     m;
    ngx_iothub_http_d2c_batch_t  *batch;

    tree = yajl_tree_parse(json, err, size);
    if (tree == NULL) {
        return NGX_IOTHUB_HTTP_D2C_BAD_JSON;
    }

    rc = NGX_IOTHUB_HTTP_D2C_OK;

    if (!YAJL_IS_ARRAY(tree)) {
        rc = NGX_IOTHUB_HTTP_D2C_NOT_ARRAY;

    } else if (tree->u.array.len == 0) {
        rc = NGX_IOTHUB_HTTP_D2C_EMPTY;

    } else if (tree->u.array.len > NGX_IOTHUB_HTTP_D2C_BATCH_MAX) {
        rc = NGX_IOTHUB_HTTP_D2C_TOO_MANY;
    }

    /* every message is checked first: a batch is stored whole or not */

    for (i = 0; rc == NGX_IOTHUB_HTTP_D2C_OK && i < tree->u.array.len; i++) {
        rc = ngx_iothub_http_d2c_element(tree->u.array.values[i], &m);
    }

    batch = NULL;

    if (rc == NGX_IOTHUB_HTTP_D2C_OK) {
        batch = malloc(sizeof(ngx_iothub_http_d2c_batch_t));
        if (batch == NULL) {
            rc = NGX_IOTHUB_HTTP_D2C_NO_MEMORY;
        }
    }

    if (rc != NGX_IOTHUB_HTTP_D2C_OK) {
        yajl_tree_free(tree);
        return rc;
    }

    batch->tree = tree;

    *b = batch;
    *n = tree->u.array.len;

    return NGX_IOTHUB_HTTP_D2C_OK;
}


ngx_iothub_http_d2c_rc_e
ngx_iothub_http_d2c_batch_message(ngx_iothub_http_d2c_batch_t *b, size_t i,
    ngx_iothub_http_d2c_msg_t *m)
{
    return ngx_iothub_http_d2c_element(b->tree->u.array.values[i], m);
}


void
ngx_iothub_http_d2c_batch_free(ngx_iothub_http_d2c_batch_t *b)
{
    yajl_tree_free(b->tree);
    free(b);
}


/* {"body":"...","base64Encoded":false,"properties":{"k":"v",...}} */

static ngx_iothub_http_d2c_rc_e
ngx_iothub_http_d2c_element(yajl_val v, ngx_iothub_http_d2c_msg_t *m)
{
    yajl_val  body, flag, props;

    ngx_iothub_http_d2c_init(m);

    if (!YAJL_IS_OBJECT(v)) {
        return NGX_IOTHUB_HTTP_D2C_NOT_ARRAY;
    }

    body = ngx_iothub_http_d2c_member(v, "body");
    if (body == NULL || !YAJL_IS_STRING(body)) {
        return NGX_IOTHUB_HTTP_D2C_BAD_BODY;
    }

    m->body = (const unsigned char *) body->u.string;
    m->body_len = strlen(body->u.string);

    flag = ngx_iothub_http_d2c_member(v, "base64Encoded");

    if (flag != NULL) {
        if (!YAJL_IS_TRUE(flag) && !YAJL_IS_FALSE(flag)) {
            return NGX_IOTHUB_HTTP_D2C_BAD_FLAG;
        }

        m->base64 = YAJL_IS_TRUE(flag);
    }

    props = ngx_iothub_http_d2c_member(v, "properties");

    if (props == NULL || YAJL_IS_NULL(props)) {
        return NGX_IOTHUB_HTTP_D2C_OK;
    }

    return ngx_iothub_http_d2c_properties(props, m);
}


static ngx_iothub_http_d2c_rc_e
ngx_iothub_http_d2c_properties(yajl_val v, ngx_iothub_http_d2c_msg_t *m)
{
    size_t                     i;
    yajl_val                   value;
    const char                *name;
    ngx_iothub_http_d2c_rc_e   rc;

    if (!YAJL_IS_OBJECT(v)) {
        return NGX_IOTHUB_HTTP_D2C_BAD_PROPERTIES;
    }

    for (i = 0; i < v->u.object.len; i++) {
        name = v->u.object.keys[i];
        value = v->u.object.values[i];

        if (!YAJL_IS_STRING(value)) {
            return NGX_IOTHUB_HTTP_D2C_BAD_PROPERTIES;
        }

        rc = ngx_iothub_http_d2c_header(m, (const unsigned char *) name,
                                        strlen(name),
                                        (const unsigned char *)
                                            value->u.string,
                                        strlen(value->u.string));
        if (rc != NGX_IOTHUB_HTTP_D2C_OK) {
            return rc;
        }
    }

    return NGX_IOTHUB_HTTP_D2C_OK;
}


/* the first member named key (yajl keeps duplicates in order) */

static yajl_val
ngx_iothub_http_d2c_member(yajl_val obj, const char *key)
{
    size_t  i;

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


const char *
ngx_iothub_http_d2c_strerror(ngx_iothub_http_d2c_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_HTTP_D2C_OK:
        return "ok";

    case NGX_IOTHUB_HTTP_D2C_TOO_MANY_PROPS:
        return "a message has too many properties";

    case NGX_IOTHUB_HTTP_D2C_BAD_JSON:
        return "the batch is not valid JSON";

    case NGX_IOTHUB_HTTP_D2C_NOT_ARRAY:
        return "the batch is not a JSON array of objects";

    case NGX_IOTHUB_HTTP_D2C_EMPTY:
        return "the batch is empty";

    case NGX_IOTHUB_HTTP_D2C_TOO_MANY:
        return "the batch has too many messages";

    case NGX_IOTHUB_HTTP_D2C_BAD_BODY:
        return "a batch message has no string \"body\"";

    case NGX_IOTHUB_HTTP_D2C_BAD_PROPERTIES:
        return "a batch message's \"properties\" is not an object of "
               "strings";

    case NGX_IOTHUB_HTTP_D2C_BAD_FLAG:
        return "a batch message's \"base64Encoded\" is not a boolean";

    default: /* NGX_IOTHUB_HTTP_D2C_NO_MEMORY */
        return "out of memory";
    }
}
