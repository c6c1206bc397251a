
/*
 * nginx-iothub: the consumer groups of the built-in endpoint over REST,
 * our extension (docs/rest-extensions.md; IoT Hub manages them through
 * Azure Resource Manager):
 *   GET    /eventHubEndpoints/events/consumerGroups          the list
 *   GET    /eventHubEndpoints/events/consumerGroups/{name}   one
 *   PUT    /eventHubEndpoints/events/consumerGroups/{name}   create
 *   DELETE /eventHubEndpoints/events/consumerGroups/{name}   delete
 * $Default and the configured groups (consumer_group) are listed and read
 * but neither created nor deleted here; the others live in Redis.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_iothub_module.h"
#include "ngx_iothub_eventhub.h"


#define NGX_HTTP_IOTHUB_EH_GROUP_TYPE \
    "Microsoft.Devices/IotHubs/EventHubEndpoints/ConsumerGroups"


typedef struct {
    ngx_iothub_eh_groups_op_t      op;
    ngx_str_t                      name;     /* GET of one: the name */
} ngx_http_iothub_eh_t;


static ngx_http_iothub_eh_t *ngx_http_iothub_eh_op(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx, ngx_iothub_eh_groups_pt handler);
static ngx_int_t ngx_http_iothub_eh_configured(ngx_http_request_t *r,
    ngx_str_t *name);
static void ngx_http_iothub_eh_listed(ngx_iothub_eh_groups_op_t *op);
static void ngx_http_iothub_eh_found(ngx_iothub_eh_groups_op_t *op);
static void ngx_http_iothub_eh_created(ngx_iothub_eh_groups_op_t *op);
static void ngx_http_iothub_eh_deleted(ngx_iothub_eh_groups_op_t *op);
static ngx_int_t ngx_http_iothub_eh_failed(ngx_http_request_t *r,
    ngx_iothub_eh_groups_op_t *op);
static void ngx_http_iothub_eh_gen(yajl_gen g, u_char *name, size_t len,
    ngx_iothub_reply_eh_group_t *runtime);
static void ngx_http_iothub_eh_cleanup(void *data);


ngx_int_t
ngx_http_iothub_route_eh_groups(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_http_iothub_eh_t  *eh;

    eh = ngx_http_iothub_eh_op(r, ctx, ngx_http_iothub_eh_listed);
    if (eh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iothub_started(r, ngx_iothub_eh_groups_list(&eh->op));
}


ngx_int_t
ngx_http_iothub_route_eh_group(ngx_http_request_t *r,
    ngx_http_iothub_ctx_t *ctx)
{
    ngx_str_t             *name;
    ngx_http_iothub_eh_t  *eh;

    name = &ctx->seg[3];

    if (ngx_iothub_eh_consumer_group_find(ctx->hub, name->data, name->len)
        == NGX_OK)
    {
        if (r->method == NGX_HTTP_DELETE) {
            return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                         "ArgumentInvalid",
                                         "consumer group \"%V\" is "
                                         "configured, not created at run "
                                         "time: it cannot be deleted",
                                         name);
        }

        return ngx_http_iothub_eh_configured(r, name);
    }

    if (!ngx_iothub_eh_group_name_valid(name)) {
        return ngx_http_iothub_error(r, NGX_HTTP_BAD_REQUEST,
                                     "ArgumentInvalid",
                                     "invalid consumer group name: 1 to 50 "
                                     "letters, digits, \".\", \"_\" or "
                                     "\"-\", starting with a letter or a "
                                     "digit");
    }

    switch (r->method) {

    case NGX_HTTP_PUT:
        eh = ngx_http_iothub_eh_op(r, ctx, ngx_http_iothub_eh_created);
        return eh ? ngx_http_iothub_started(r,
                        ngx_iothub_eh_groups_create(&eh->op, name))
                  : NGX_HTTP_INTERNAL_SERVER_ERROR;

    case NGX_HTTP_DELETE:
        eh = ngx_http_iothub_eh_op(r, ctx, ngx_http_iothub_eh_deleted);
        return eh ? ngx_http_iothub_started(r,
                        ngx_iothub_eh_groups_delete(&eh->op, name))
                  : NGX_HTTP_INTERNAL_SERVER_ERROR;

    default: /* GET */
        eh = ngx_http_iothub_eh_op(r, ctx, ngx_http_iothub_eh_found);
        if (eh == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        eh->name = *name;
        return ngx_http_iothub_started(r, ngx_iothub_eh_groups_list(&eh->op));
    }
}


/* an operation on the groups, cancelled if the request ends first */

static ngx_http_iothub_eh_t *
ngx_http_iothub_eh_op(ngx_http_request_t *r, ngx_http_iothub_ctx_t *ctx,
    ngx_iothub_eh_groups_pt handler)
{
    ngx_http_iothub_eh_t  *eh;

    eh = ngx_http_iothub_op_alloc(r, sizeof(ngx_http_iothub_eh_t),
                                  ngx_http_iothub_eh_cleanup);
    if (eh == NULL) {
        return NULL;
    }

    eh->op.hub = ctx->hub;
    eh->op.handler = handler;
    eh->op.data = r;

    return eh;
}


/* PUT or GET of $Default or a configured group: 200 with it */

static ngx_int_t
ngx_http_iothub_eh_configured(ngx_http_request_t *r, ngx_str_t *name)
{
    yajl_gen  g;

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_iothub_eh_gen(g, name->data, name->len, NULL);

    return ngx_http_iothub_send_json(r, NGX_HTTP_OK, g, NULL);
}


/* {"value": [$Default, the configured groups, the run-time ones]} */

static void
ngx_http_iothub_eh_listed(ngx_iothub_eh_groups_op_t *op)
{
    ngx_http_request_t *r = op->data;

    yajl_gen                      g;
    ngx_str_t                    *group;
    ngx_uint_t                    i;
    ngx_iothub_reply_eh_group_t   rg;

    if (op->result != NGX_IOTHUB_REPLY_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_eh_failed(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_iothub_gen_str(g, "value");
    yajl_gen_array_open(g);

    ngx_http_iothub_eh_gen(g, (u_char *) "$Default", 8, NULL);

    group = op->hub->consumer_groups ? op->hub->consumer_groups->elts : NULL;

    for (i = 0; i < ngx_iothub_eh_groups_configured(op->hub); i++) {
        ngx_http_iothub_eh_gen(g, group[i].data, group[i].len, NULL);
    }

    for (i = 0; i < op->ngroups; i++) {
        if (ngx_iothub_eh_groups_item(op, i, &rg) == NGX_OK) {
            ngx_http_iothub_eh_gen(g, (u_char *) rg.name.data, rg.name.len,
                                   &rg);
        }
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    ngx_http_iothub_finish(r, ngx_http_iothub_send_json(r, NGX_HTTP_OK, g,
                                                        NULL));
}


static void
ngx_http_iothub_eh_found(ngx_iothub_eh_groups_op_t *op)
{
    ngx_http_request_t *r = op->data;

    yajl_gen                      g;
    ngx_uint_t                    i;
    ngx_http_iothub_eh_t         *eh;
    ngx_iothub_reply_eh_group_t   rg;

    eh = (ngx_http_iothub_eh_t *) op;

    if (op->result != NGX_IOTHUB_REPLY_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_eh_failed(r, op));
        return;
    }

    for (i = 0; i < op->ngroups; i++) {
        if (ngx_iothub_eh_groups_item(op, i, &rg) != NGX_OK
            || rg.name.len != eh->name.len
            || ngx_strncasecmp((u_char *) rg.name.data, eh->name.data,
                               eh->name.len) != 0)
        {
            continue;
        }

        g = ngx_http_iothub_json_gen(r);
        if (g == NULL) {
            ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_iothub_eh_gen(g, (u_char *) rg.name.data, rg.name.len, &rg);
        ngx_http_iothub_finish(r, ngx_http_iothub_send_json(r, NGX_HTTP_OK,
                                                            g, NULL));
        return;
    }

    ngx_http_iothub_finish(r, ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND,
                                  "IotHubNotFound",
                                  "no consumer group \"%V\"", &eh->name));
}


/* 201 with the new group, 200 with the one that existed */

static void
ngx_http_iothub_eh_created(ngx_iothub_eh_groups_op_t *op)
{
    ngx_http_request_t *r = op->data;

    yajl_gen  g;

    if (op->result != NGX_IOTHUB_REPLY_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_eh_failed(r, op));
        return;
    }

    g = ngx_http_iothub_json_gen(r);
    if (g == NULL) {
        ngx_http_iothub_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_iothub_eh_gen(g, (u_char *) op->group.name.data,
                           op->group.name.len, &op->group);

    ngx_http_iothub_finish(r, ngx_http_iothub_send_json(r,
                                  op->done ? NGX_HTTP_CREATED : NGX_HTTP_OK,
                                  g, NULL));
}


static void
ngx_http_iothub_eh_deleted(ngx_iothub_eh_groups_op_t *op)
{
    ngx_http_request_t *r = op->data;

    if (op->result != NGX_IOTHUB_REPLY_OK) {
        ngx_http_iothub_finish(r, ngx_http_iothub_eh_failed(r, op));
        return;
    }

    if (!op->done) {
        ngx_http_iothub_finish(r, ngx_http_iothub_error(r, NGX_HTTP_NOT_FOUND,
                                      "IotHubNotFound",
                                      "no such consumer group"));
        return;
    }

    ngx_http_iothub_finish(r, ngx_http_iothub_send_empty(r,
                                                         NGX_HTTP_NO_CONTENT));
}


static ngx_int_t
ngx_http_iothub_eh_failed(ngx_http_request_t *r,
    ngx_iothub_eh_groups_op_t *op)
{
    switch (op->result) {

    case NGX_IOTHUB_REPLY_LOST:
        return ngx_http_iothub_unavailable(r);

    case NGX_IOTHUB_REPLY_FULL:
        return ngx_http_iothub_error(r, NGX_HTTP_FORBIDDEN,
                                     "IotHubQuotaExceeded",
                                     "a hub has at most %d consumer groups "
                                     "besides $Default",
                                     NGX_IOTHUB_EH_CONSUMER_GROUPS);

    default:
        return ngx_http_iothub_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "ServerError", "internal error");
    }
}


/*
 * {"name": ..., "type": ..., "properties": {"created": <ISO 8601 or null>,
 * "source": "configuration" | "runtime"}}
 */

static void
ngx_http_iothub_eh_gen(yajl_gen g, u_char *name, size_t len,
    ngx_iothub_reply_eh_group_t *runtime)
{
    yajl_gen_map_open(g);
    ngx_http_iothub_gen_str(g, "name");
    yajl_gen_string(g, name, len);
    ngx_http_iothub_gen_str(g, "type");
    ngx_http_iothub_gen_str(g, NGX_HTTP_IOTHUB_EH_GROUP_TYPE);
    ngx_http_iothub_gen_str(g, "properties");
    yajl_gen_map_open(g);
    ngx_http_iothub_gen_str(g, "created");

    if (runtime) {
        yajl_gen_string(g, runtime->created.data, runtime->created.len);

    } else {
        yajl_gen_null(g);
    }

    ngx_http_iothub_gen_str(g, "source");
    ngx_http_iothub_gen_str(g, runtime ? "runtime" : "configuration");
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}


static void
ngx_http_iothub_eh_cleanup(void *data)
{
    ngx_http_iothub_eh_t *eh = data;

    ngx_iothub_eh_groups_cancel(&eh->op);
}
