
/*
 * nginx-iothub: device-to-cloud messages; see ngx_iothub_d2c.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_d2c.h"
#include "ngx_iothub_d2c_pack.h"
#include "ngx_iothub_lua.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_resp.h"


/*
 * Messages are appended in batches: those of one event-loop turn for the
 * same partition go in one d2c_append.lua call at the end of the turn
 * (a posted event), as one stream entry of packed messages
 * (ngx_iothub_d2c_pack.h) whose id carries the sequence number of the
 * last.  A batch holds the packed messages after room for the RESP
 * headers of the script's last two arguments (the count and the
 * messages), and the calls to answer.
 */
#define NGX_IOTHUB_D2C_BATCH_MAX    64
#define NGX_IOTHUB_D2C_BATCH_BYTES  (1024 * 1024)
#define NGX_IOTHUB_D2C_HEADROOM     64          /* two RESP headers */
#define NGX_IOTHUB_D2C_TAILROOM     2           /* the last "\r\n" */


typedef struct {
    ngx_iothub_hub_t          *hub;
    ngx_uint_t                 partition;
    ngx_uint_t                 n;
    u_char                    *buf;
    size_t                     len;         /* headroom and messages */
    size_t                     size;
    ngx_iothub_redis_call_t   *calls[NGX_IOTHUB_D2C_BATCH_MAX];
} ngx_iothub_d2c_batch_t;


/* a batch on its way: whom to answer, and its arguments (the command's) */
typedef struct {
    u_char                    *buf;
    ngx_uint_t                 n;
    ngx_iothub_redis_call_t   *calls[];
} ngx_iothub_d2c_sent_t;


static ngx_int_t ngx_iothub_message_fields(ngx_iothub_args_t *args,
    ngx_iothub_message_t *msg, const char *body, size_t body_len);
static ngx_int_t ngx_iothub_d2c_fields(ngx_iothub_args_t *args,
    ngx_iothub_sender_t *sender, ngx_iothub_message_t *msg);
static ngx_iothub_d2c_batch_t *ngx_iothub_d2c_batch(ngx_iothub_hub_t *hub,
    ngx_uint_t partition);
static ngx_iothub_redis_call_t *ngx_iothub_d2c_batch_add(
    ngx_iothub_d2c_batch_t *batch, ngx_iothub_args_t *args,
    ngx_iothub_redis_handler_pt handler, void *data);
static ngx_int_t ngx_iothub_d2c_reserve(ngx_iothub_d2c_batch_t *batch,
    size_t len);
static void ngx_iothub_d2c_flush(ngx_event_t *ev);
static ngx_int_t ngx_iothub_d2c_flush_batch(ngx_iothub_d2c_batch_t *batch);
static void ngx_iothub_d2c_stored(void *data, redisReply *reply);
static void ngx_iothub_d2c_stamp(ngx_iothub_args_t *args, const char *code,
    ngx_str_t *value);
static ngx_str_t *ngx_iothub_d2c_enqueued_time(void);


/* the worker's batches, one per hub and partition */
static ngx_iothub_d2c_batch_t  **ngx_iothub_d2c_batches;
static ngx_uint_t                ngx_iothub_d2c_nbatches;
static ngx_event_t               ngx_iothub_d2c_flush_event;


ngx_int_t
ngx_iothub_message_add(ngx_iothub_message_t *msg, const char *prefixed_name,
    size_t name_len, u_char *value, size_t len)
{
    if (msg->n == NGX_IOTHUB_D2C_MAX_PROPERTIES) {
        return NGX_ERROR;
    }

    msg->name[msg->n].data = (u_char *) prefixed_name;
    msg->name[msg->n].len = name_len;
    msg->value[msg->n].data = value;
    msg->value[msg->n].len = len;
    msg->n++;

    return NGX_OK;
}


ngx_int_t
ngx_iothub_message_args(ngx_iothub_args_t *args, ngx_iothub_message_t *msg)
{
    return ngx_iothub_message_fields(args, msg, "body", 4);
}


/* the properties, then the body under the name given */

static ngx_int_t
ngx_iothub_message_fields(ngx_iothub_args_t *args, ngx_iothub_message_t *msg,
    const char *body, size_t body_len)
{
    ngx_uint_t  i;

    for (i = 0; i < msg->n; i++) {
        ngx_iothub_args_add(args, (char *) msg->name[i].data,
                            msg->name[i].len);
        ngx_iothub_args_add(args, (char *) msg->value[i].data,
                            msg->value[i].len);
    }

    ngx_iothub_args_add(args, body, body_len);

    /* the vector stays spoiled once full: the last add tells for all */
    return ngx_iothub_args_add(args, (char *) msg->body.data, msg->body.len);
}


/* FNV-1a: stable across nodes, versions and restarts */

ngx_uint_t
ngx_iothub_d2c_partition(ngx_iothub_hub_t *hub, ngx_str_t *id)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < id->len; i++) {
        h ^= id->data[i];
        h *= 16777619u;
    }

    return h % hub->partitions;
}


u_char *
ngx_iothub_d2c_key(u_char *buf, ngx_iothub_hub_t *hub, ngx_uint_t partition,
    const char *kind)
{
    return ngx_snprintf(buf, NGX_IOTHUB_D2C_KEY_LEN, "%V%s:%ui",
                        &hub->prefix, kind, partition);
}


ngx_iothub_redis_call_t *
ngx_iothub_d2c_send(ngx_iothub_hub_t *hub, ngx_iothub_sender_t *sender,
    ngx_iothub_message_t *msg, ngx_iothub_redis_handler_pt handler,
    void *data)
{
    ngx_iothub_args_t        args;
    ngx_iothub_d2c_batch_t  *batch;

    if (ngx_iothub_d2c_fields(&args, sender, msg) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "iothub: too many arguments for a telemetry message");
        return NULL;
    }

    batch = ngx_iothub_d2c_batch(hub,
                                 ngx_iothub_d2c_partition(hub,
                                                         &sender->device_id));
    if (batch == NULL) {
        return NULL;
    }

    return ngx_iothub_d2c_batch_add(batch, &args, handler, data);
}


/* the stamps of the hub, then the message's own fields */

static ngx_int_t
ngx_iothub_d2c_fields(ngx_iothub_args_t *args, ngx_iothub_sender_t *sender,
    ngx_iothub_message_t *msg)
{
    ngx_uint_t  scope;

    args->n = 0;

    /* the names the hub stamps, packed as one byte each */

    ngx_iothub_d2c_stamp(args, NGX_IOTHUB_D2C_PACK_DEVICE_ID,
                         &sender->device_id);

    if (sender->module_id.len) {
        ngx_iothub_d2c_stamp(args, NGX_IOTHUB_D2C_PACK_MODULE_ID,
                             &sender->module_id);
    }

    ngx_iothub_d2c_stamp(args, NGX_IOTHUB_D2C_PACK_GENERATION_ID,
                         &sender->generation_id);

    scope = sender->policy ? 2 : (sender->module_id.len ? 1 : 0);

    ngx_iothub_args_add(args, NGX_IOTHUB_D2C_PACK_AUTH_METHOD, 1);
    ngx_iothub_args_add(args,
                        ngx_iothub_d2c_pack_auth_method(scope, sender->x509),
                        1);

    ngx_iothub_d2c_stamp(args, NGX_IOTHUB_D2C_PACK_ENQUEUED_TIME,
                         ngx_iothub_d2c_enqueued_time());

    ngx_iothub_args_add(args, NGX_IOTHUB_D2C_PACK_MESSAGE_SOURCE, 1);
    ngx_iothub_args_add_str(args, "Telemetry");

    if (sender->model_id.len) {
        ngx_iothub_d2c_stamp(args, NGX_IOTHUB_D2C_PACK_DATA_SCHEMA,
                             &sender->model_id);
    }

    return ngx_iothub_message_fields(args, msg, NGX_IOTHUB_D2C_PACK_BODY, 1);
}


/* the message's part of its partition's d2c_append.lua call */

static ngx_iothub_redis_call_t *
ngx_iothub_d2c_batch_add(ngx_iothub_d2c_batch_t *batch,
    ngx_iothub_args_t *args, ngx_iothub_redis_handler_pt handler, void *data)
{
    size_t                    len;
    ngx_iothub_redis_call_t  *call;

    len = ngx_iothub_d2c_pack_size(args);

    if ((batch->n == NGX_IOTHUB_D2C_BATCH_MAX
         || (batch->n && batch->len + len > NGX_IOTHUB_D2C_BATCH_BYTES))
        && ngx_iothub_d2c_flush_batch(batch) != NGX_OK)
    {
        /* the batch's messages are answered at the end of the turn */
        return NULL;
    }

    if (ngx_iothub_d2c_reserve(batch, len) != NGX_OK) {
        return NULL;
    }

    call = ngx_iothub_redis_call_detached(ngx_iothub_redis_link(), handler,
                                          data);
    if (call == NULL) {
        return NULL;
    }

    batch->len = ngx_iothub_d2c_pack(batch->buf + batch->len, args)
                 - batch->buf;
    batch->calls[batch->n++] = call;

    if (!ngx_iothub_d2c_flush_event.posted) {
        ngx_iothub_d2c_flush_event.handler = ngx_iothub_d2c_flush;
        ngx_iothub_d2c_flush_event.log = ngx_cycle->log;
        ngx_post_event(&ngx_iothub_d2c_flush_event, &ngx_posted_events);
    }

    return call;
}


/* the open batch of a partition, empty or not */

static ngx_iothub_d2c_batch_t *
ngx_iothub_d2c_batch(ngx_iothub_hub_t *hub, ngx_uint_t partition)
{
    ngx_uint_t               i;
    ngx_iothub_d2c_batch_t  *b, **grown;

    for (i = 0; i < ngx_iothub_d2c_nbatches; i++) {
        b = ngx_iothub_d2c_batches[i];

        if (b->hub == hub && b->partition == partition) {
            return b;
        }
    }

    /* at most hubs x partitions of them, kept for the worker's life */

    grown = ngx_alloc((ngx_iothub_d2c_nbatches + 1) * sizeof(b),
                      ngx_cycle->log);
    if (grown == NULL) {
        return NULL;
    }

    b = ngx_calloc(sizeof(ngx_iothub_d2c_batch_t), ngx_cycle->log);
    if (b == NULL) {
        ngx_free(grown);
        return NULL;
    }

    b->hub = hub;
    b->partition = partition;

    if (ngx_iothub_d2c_nbatches) {
        ngx_memcpy(grown, ngx_iothub_d2c_batches,
                   ngx_iothub_d2c_nbatches * sizeof(b));
        ngx_free(ngx_iothub_d2c_batches);
    }

    grown[ngx_iothub_d2c_nbatches++] = b;
    ngx_iothub_d2c_batches = grown;

    return b;
}


static ngx_int_t
ngx_iothub_d2c_reserve(ngx_iothub_d2c_batch_t *batch, size_t len)
{
    size_t   size;
    u_char  *p;

    if (batch->buf == NULL) {
        batch->len = NGX_IOTHUB_D2C_HEADROOM;
    }

    if (batch->len + len + NGX_IOTHUB_D2C_TAILROOM <= batch->size) {
        return NGX_OK;
    }

    size = ngx_max(batch->size * 2,
                   batch->len + len + NGX_IOTHUB_D2C_TAILROOM);
    size = ngx_max(size, 4096);

    p = ngx_alloc(size, ngx_cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (batch->buf) {
        ngx_memcpy(p, batch->buf, batch->len);
        ngx_free(batch->buf);
    }

    batch->buf = p;
    batch->size = size;

    return NGX_OK;
}


/* end of the event loop's turn: every partition's messages, one call each */

static void
ngx_iothub_d2c_flush(ngx_event_t *ev)
{
    ngx_uint_t               i, j;
    ngx_iothub_d2c_batch_t  *batch;

    for (i = 0; i < ngx_iothub_d2c_nbatches; i++) {
        batch = ngx_iothub_d2c_batches[i];

        if (batch->n == 0 || ngx_iothub_d2c_flush_batch(batch) == NGX_OK) {
            continue;
        }

        /* Redis went down since the messages came: each is told so */

        for (j = 0; j < batch->n; j++) {
            ngx_iothub_redis_answer(batch->calls[j], NULL);
        }

        batch->n = 0;
        batch->len = NGX_IOTHUB_D2C_HEADROOM;
    }
}


/* NGX_ERROR leaves the batch as it was: its calls are not answered */

static ngx_int_t
ngx_iothub_d2c_flush_batch(ngx_iothub_d2c_batch_t *batch)
{
    u_char                    key[3][NGX_IOTHUB_D2C_KEY_LEN];
    u_char                    minid[NGX_INT64_LEN + 3];
    u_char                    count[NGX_INT_T_LEN];
    u_char                   *tail;
    size_t                    count_len, packed;
    ngx_iothub_hub_t         *hub;
    ngx_iothub_args_t         args;
    ngx_iothub_d2c_sent_t    *sent;

    hub = batch->hub;
    args.n = 0;

    /* d2c_append.lua: KEYS the stream, its last id, its waiting inboxes */

    ngx_iothub_args_add(&args, (char *) key[0],
                        ngx_iothub_d2c_key(key[0], hub, batch->partition,
                                           "d2c")
                        - key[0]);
    ngx_iothub_args_add(&args, (char *) key[1],
                        ngx_iothub_d2c_key(key[1], hub, batch->partition,
                                           "d2c-last")
                        - key[1]);
    ngx_iothub_args_add(&args, (char *) key[2],
                        ngx_iothub_d2c_key(key[2], hub, batch->partition,
                                           "d2c-wait")
                        - key[2]);

    /* retention: entries older than the hub's retention go, lazily */
    ngx_iothub_args_add(&args, (char *) minid,
                       ngx_sprintf(minid, "%uL",
                                   (uint64_t) (ngx_time() - hub->retention)
                                   * 1000)
                       - minid);

    sent = ngx_alloc(sizeof(ngx_iothub_d2c_sent_t)
                     + batch->n * sizeof(ngx_iothub_redis_call_t *),
                     ngx_cycle->log);
    if (sent == NULL) {
        return NGX_ERROR;
    }

    sent->n = batch->n;
    ngx_memcpy(sent->calls, batch->calls,
               batch->n * sizeof(ngx_iothub_redis_call_t *));

    /* the count and the packed messages, their headers in the headroom */

    count_len = ngx_sprintf(count, "%ui", batch->n) - count;
    packed = batch->len - NGX_IOTHUB_D2C_HEADROOM;

    tail = batch->buf + NGX_IOTHUB_D2C_HEADROOM
           - ngx_iothub_resp_bulk_size(count_len)
           - (ngx_iothub_resp_bulk_size(packed) - packed - 2);

    ngx_iothub_resp_bulk_head(
        ngx_iothub_resp_bulk((char *) tail, (char *) count, count_len),
        packed);

    batch->buf[batch->len] = '\r';
    batch->buf[batch->len + 1] = '\n';

    if (ngx_iothub_redis_script_resp(ngx_iothub_redis_link(),
                                     NGX_IOTHUB_LUA_D2C_APPEND,
                                     ngx_iothub_d2c_stored, sent,
                                     3, args.n, args.argv, args.lens,
                                     2, tail,
                                     batch->buf + batch->len + 2 - tail)
        == NULL)
    {
        ngx_free(sent);
        return NGX_ERROR;
    }

    /* the arguments stay with the command (a NOSCRIPT answer sends them) */
    sent->buf = batch->buf;

    batch->buf = NULL;
    batch->size = 0;
    batch->n = 0;
    batch->len = 0;

    return NGX_OK;
}


/* d2c_append.lua's answer: the entry's id, or an error, for every message */

static void
ngx_iothub_d2c_stored(void *data, redisReply *reply)
{
    ngx_iothub_d2c_sent_t *sent = data;

    ngx_uint_t  i;

    for (i = 0; i < sent->n; i++) {
        ngx_iothub_redis_answer(sent->calls[i], reply);
    }

    ngx_free(sent->buf);
    ngx_free(sent);
}


static void
ngx_iothub_d2c_stamp(ngx_iothub_args_t *args, const char *code,
    ngx_str_t *value)
{
    ngx_iothub_args_add(args, code, 1);
    ngx_iothub_args_add(args, (char *) value->data, value->len);
}


/* "2024-01-02T03:04:05.678Z", made again only when the millisecond moved */

static ngx_str_t *
ngx_iothub_d2c_enqueued_time(void)
{
    ngx_tm_t     tm;
    ngx_time_t  *tp;

    static u_char      text[sizeof("2024-01-02T03:04:05.678Z")];
    static time_t      sec = -1;
    static ngx_uint_t  msec;
    static ngx_str_t   now = { 0, text };

    tp = ngx_timeofday();

    if (tp->sec == sec && tp->msec == msec) {
        return &now;
    }

    ngx_gmtime(tp->sec, &tm);

    now.len = ngx_sprintf(text, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                          tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                          tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                          tp->msec)
              - text;
    sec = tp->sec;
    msec = tp->msec;

    return &now;
}
