
/*
 * nginx-iothub: the built-in endpoint's partitions for Event Hubs
 * consumers; see ngx_iothub_eventhub.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_d2c.h"
#include "ngx_iothub_eventhub.h"
#include "ngx_iothub_lua.h"


static ngx_int_t ngx_iothub_eh_script(ngx_iothub_eh_op_t *op,
    ngx_uint_t script, const char *second_key, ngx_iothub_args_t *args,
    ngx_iothub_redis_handler_pt handler);
static void ngx_iothub_eh_sought(void *data, redisReply *reply);
static ngx_uint_t ngx_iothub_eh_start(ngx_iothub_eh_op_t *op, u_char *after,
    size_t len, ngx_uint_t count);
static void ngx_iothub_eh_read_done(void *data, redisReply *reply);
static ngx_int_t ngx_iothub_eh_open(ngx_iothub_eh_op_t *op);
static void ngx_iothub_eh_partition_done(void *data, redisReply *reply);
static void ngx_iothub_eh_done(ngx_iothub_eh_op_t *op,
    ngx_iothub_reply_rc_e rc);
static void ngx_iothub_eh_appended(u_char *payload, size_t len);


static ngx_uint_t *ngx_iothub_eh_tally(ngx_iothub_hub_t *hub,
    ngx_uint_t partition);


/* per partition read in the worker: how many "d2c" notifications came */
typedef struct {
    ngx_iothub_hub_t          *hub;
    ngx_uint_t                 partition;
    ngx_uint_t                 appended;
} ngx_iothub_eh_tally_t;


static ngx_queue_t   ngx_iothub_eh_waiters;
static ngx_uint_t    ngx_iothub_eh_waiters_init;
static ngx_array_t  *ngx_iothub_eh_tallies;


char *
ngx_iothub_eh_consumer_group(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iothub_hub_t *hub = conf;

    ngx_str_t  *value, *group;

    value = cf->args->elts;

    if (!ngx_iothub_eh_group_name_valid(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid consumer group name \"%V\" in "
                           "\"consumer_group\" directive: 1 to 50 letters, "
                           "digits, \".\", \"_\" or \"-\", starting with a "
                           "letter or a digit", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_iothub_eh_consumer_group_find(hub, value[1].data, value[1].len)
        == NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate consumer group \"%V\" in "
                           "\"consumer_group\" directive", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (hub->consumer_groups == NULL) {
        hub->consumer_groups = ngx_array_create(cf->pool, 4,
                                                sizeof(ngx_str_t));
        if (hub->consumer_groups == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (hub->consumer_groups->nelts == NGX_IOTHUB_EH_CONSUMER_GROUPS) {
        return "is over the limit of 20 consumer groups per hub";
    }

    group = ngx_array_push(hub->consumer_groups);
    if (group == NULL) {
        return NGX_CONF_ERROR;
    }

    *group = value[1];

    return NGX_CONF_OK;
}


ngx_int_t
ngx_iothub_eh_group_name_valid(ngx_str_t *name)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 50) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            continue;
        }

        if (i == 0 || (c != '.' && c != '_' && c != '-')) {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_iothub_eh_consumer_group_find(ngx_iothub_hub_t *hub, u_char *name,
    size_t len)
{
    ngx_str_t   *group;
    ngx_uint_t   i;

    if (len == sizeof("$Default") - 1
        && ngx_strncasecmp(name, (u_char *) "$Default", len) == 0)
    {
        return NGX_OK;
    }

    if (hub->consumer_groups == NULL) {
        return NGX_DECLINED;
    }

    group = hub->consumer_groups->elts;

    for (i = 0; i < hub->consumer_groups->nelts; i++) {
        if (group[i].len == len
            && ngx_strncasecmp(group[i].data, name, len) == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_iothub_eh_init_conf(ngx_conf_t *cf)
{
    if (ngx_iothub_inbox_register(cf, "d2c", ngx_iothub_eh_appended)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iothub_inbox_register(cf, "eh-stolen",
                                     ngx_iothub_eh_claim_stolen);
}


ngx_int_t
ngx_iothub_eh_seek(ngx_iothub_eh_op_t *op, ngx_iothub_eh_from_e from,
    int64_t n)
{
    u_char             num[NGX_INT64_LEN + 1];
    ngx_iothub_args_t  args;

    static const char  *kinds[] = { "start", "latest", "seq", "time" };

    args.n = 0;
    ngx_iothub_args_add_str(&args, kinds[from]);
    ngx_iothub_args_add(&args, (char *) num, ngx_sprintf(num, "%L", n) - num);

    return ngx_iothub_eh_script(op, NGX_IOTHUB_LUA_EH_SEEK, "d2c-last", &args,
                                ngx_iothub_eh_sought);
}


static void
ngx_iothub_eh_sought(void *data, redisReply *reply)
{
    ngx_iothub_eh_op_t *op = data;

    ngx_iothub_reply_rc_e   rc;
    ngx_iothub_reply_str_t  id;

    op->call = NULL;

    rc = ngx_iothub_reply_eh_seek(reply, &id);

    if (rc == NGX_IOTHUB_REPLY_OK) {
        /* the decoder bounds id.len below NGX_IOTHUB_EH_ID_LEN */
        ngx_memcpy(op->id, id.data, id.len);
        op->id_len = id.len;
    }

    ngx_iothub_eh_done(op, rc);
}


ngx_int_t
ngx_iothub_eh_read(ngx_iothub_eh_op_t *op, u_char *after, size_t len,
    ngx_uint_t count)
{
    u_char             num[NGX_INT_T_LEN];
    ngx_str_t         *inbox;
    ngx_uint_t        *tally;
    ngx_iothub_args_t  args;

    inbox = ngx_iothub_inbox();

    tally = ngx_iothub_eh_tally(op->hub, op->partition);
    op->appended = tally ? *tally : 0;

    count = ngx_iothub_eh_start(op, after, len, count);

    args.n = 0;
    ngx_iothub_args_add(&args, (char *) after, len);
    ngx_iothub_args_add(&args, (char *) num,
                        ngx_sprintf(num, "%ui", count) - num);
    ngx_iothub_args_add(&args, (char *) inbox->data, inbox->len);

    return ngx_iothub_eh_script(op, NGX_IOTHUB_LUA_EH_READ, "d2c-wait", &args,
                                ngx_iothub_eh_read_done);
}


ngx_int_t
ngx_iothub_eh_range(ngx_iothub_eh_op_t *op, u_char *after, size_t len,
    ngx_uint_t count)
{
    u_char             key[NGX_IOTHUB_D2C_KEY_LEN];
    u_char             start[1 + NGX_IOTHUB_EH_ID_LEN];
    u_char             num[NGX_INT_T_LEN];
    ngx_iothub_args_t  args;

    if (len >= NGX_IOTHUB_EH_ID_LEN) {
        return NGX_DECLINED;
    }

    start[0] = '(';
    ngx_memcpy(start + 1, after, len);

    count = ngx_iothub_eh_start(op, after, len, count);

    args.n = 0;
    ngx_iothub_args_add(&args, "XRANGE", 6);
    ngx_iothub_args_add(&args, (char *) key,
                        ngx_iothub_d2c_key(key, op->hub, op->partition, "d2c")
                        - key);
    ngx_iothub_args_add(&args, (char *) start, 1 + len);
    ngx_iothub_args_add(&args, "+", 1);
    ngx_iothub_args_add(&args, "COUNT", 5);
    ngx_iothub_args_add(&args, (char *) num,
                        ngx_sprintf(num, "%ui", count) - num);

    if (!ngx_iothub_args_ok(&args)) {
        return NGX_DECLINED;
    }

    op->call = ngx_iothub_redis_command(ngx_iothub_redis_link(),
                                        ngx_iothub_eh_read_done, op, args.n,
                                        args.argv, args.lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


/*
 * A read's position, and the entries to ask for about count events: as
 * many as the entries of the reads so far held that many, and one more.
 */

static ngx_uint_t
ngx_iothub_eh_start(ngx_iothub_eh_op_t *op, u_char *after, size_t len,
    ngx_uint_t count)
{
    uint64_t  per_entry;

    if (ngx_iothub_eh_id_parse(after, len, &op->after_seq, &op->after_ms)
        != NGX_OK)
    {
        /* a time's position ("<ms>-<2^64 - 1>"): no entry has its ms */
        op->after_ms = -1;
    }

    per_entry = op->seen_entries ? op->seen_messages / op->seen_entries : 1;
    per_entry = ngx_max(per_entry, 1);

    op->asked = ngx_min(count, count / per_entry + 1);

    return op->asked;
}


static void
ngx_iothub_eh_read_done(void *data, redisReply *reply)
{
    ngx_iothub_eh_op_t *op = data;

    size_t                 n;
    ngx_iothub_reply_rc_e  rc;

    op->call = NULL;
    op->nentries = 0;
    op->next_entry = 0;
    op->entry_open = 0;

    rc = ngx_iothub_reply_eh_read(reply, &n);

    if (rc == NGX_IOTHUB_REPLY_OK) {
        op->nentries = n;
        op->at_end = (n < op->asked);
        op->batch = reply;
    }

    /* op->batch dangles after the handler, which may free op */

    ngx_iothub_eh_done(op, rc);
}


ngx_int_t
ngx_iothub_eh_next(ngx_iothub_eh_op_t *op, ngx_iothub_eh_event_t *ev)
{
    ngx_int_t              opened;
    ngx_iothub_reply_rc_e  rc;

    for ( ;; ) {
        if (!op->entry_open) {
            opened = ngx_iothub_eh_open(op);

            if (opened != NGX_OK) {
                return opened;
            }
        }

        rc = ngx_iothub_reply_eh_message(&op->entry, &ev->message);

        if (rc == NGX_IOTHUB_REPLY_NIL) {
            op->entry_open = 0;
            continue;
        }

        if (rc != NGX_IOTHUB_REPLY_OK) {
            return NGX_ERROR;
        }

        ev->seq = op->entry_seq++;
        ev->ms = op->entry_ms;

        if (ev->ms != op->after_ms || ev->seq > op->after_seq) {
            return NGX_OK;
        }
    }
}


/* the read's next entry: NGX_OK, NGX_DONE past the last, or NGX_ERROR */

static ngx_int_t
ngx_iothub_eh_open(ngx_iothub_eh_op_t *op)
{
    int64_t  last;

    if (op->next_entry == op->nentries) {
        return NGX_DONE;
    }

    if (ngx_iothub_reply_eh_entry(op->batch, op->next_entry++, &op->entry)
        != NGX_IOTHUB_REPLY_OK
        || ngx_iothub_eh_id_parse((u_char *) op->entry.id.data,
                                  op->entry.id.len, &last, &op->entry_ms)
           != NGX_OK
        || last + 1 < op->entry.count)
    {
        return NGX_ERROR;
    }

    op->entry_seq = last + 1 - op->entry.count;
    op->entry_open = 1;

    /* the recent entries count most */

    if (op->seen_entries == 1024) {
        op->seen_entries /= 2;
        op->seen_messages /= 2;
    }

    op->seen_messages += op->entry.count;
    op->seen_entries++;

    return NGX_OK;
}


ngx_int_t
ngx_iothub_eh_partition(ngx_iothub_eh_op_t *op)
{
    ngx_iothub_args_t  args;

    args.n = 0;

    return ngx_iothub_eh_script(op, NGX_IOTHUB_LUA_EH_PARTITION, "d2c-last",
                                &args, ngx_iothub_eh_partition_done);
}


/* the facts of { first id, last id, entries } (amqp.md 10.2) */

static void
ngx_iothub_eh_partition_done(void *data, redisReply *reply)
{
    ngx_iothub_eh_op_t *op = data;

    int64_t                          first_seq, ms;
    ngx_iothub_reply_rc_e            rc;
    ngx_iothub_reply_eh_partition_t  p;

    op->call = NULL;

    rc = ngx_iothub_reply_eh_partition(reply, &p);

    if (rc == NGX_IOTHUB_REPLY_OK) {
        op->empty = (p.entries == 0);

        if (p.last.len == 0
            || ngx_iothub_eh_id_parse((u_char *) p.last.data, p.last.len,
                                      &op->last_seq, &op->last_ms)
               != NGX_OK)
        {
            op->last_seq = -1;
            op->last_ms = 0;
        }

        op->begin = op->last_seq + 1;

        if (!op->empty
            && ngx_iothub_eh_id_parse((u_char *) p.first.data, p.first.len,
                                      &first_seq, &ms)
               == NGX_OK)
        {
            op->begin = first_seq;
        }
    }

    ngx_iothub_eh_done(op, rc);
}


static void
ngx_iothub_eh_done(ngx_iothub_eh_op_t *op, ngx_iothub_reply_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_REPLY_OK:
        op->result = NGX_IOTHUB_EH_OK;
        break;

    case NGX_IOTHUB_REPLY_LOST:
        op->result = NGX_IOTHUB_EH_UNAVAILABLE;
        break;

    default:
        op->result = NGX_IOTHUB_EH_FAILED;
        break;
    }

    op->handler(op);
}


void
ngx_iothub_eh_cancel(ngx_iothub_eh_op_t *op)
{
    if (op->call) {
        ngx_iothub_redis_cancel(op->call);
        op->call = NULL;
    }
}


/* KEYS the partition's stream and second_key, then args */

static ngx_int_t
ngx_iothub_eh_script(ngx_iothub_eh_op_t *op, ngx_uint_t script,
    const char *second_key, ngx_iothub_args_t *args,
    ngx_iothub_redis_handler_pt handler)
{
    int                i;
    u_char             key[2][NGX_IOTHUB_D2C_KEY_LEN];
    ngx_iothub_args_t  all;

    all.n = 0;

    ngx_iothub_args_add(&all, (char *) key[0],
                        ngx_iothub_d2c_key(key[0], op->hub, op->partition,
                                           "d2c")
                        - key[0]);
    ngx_iothub_args_add(&all, (char *) key[1],
                        ngx_iothub_d2c_key(key[1], op->hub, op->partition,
                                           second_key)
                        - key[1]);

    for (i = 0; i < args->n; i++) {
        ngx_iothub_args_add(&all, args->argv[i], args->lens[i]);
    }

    if (!ngx_iothub_args_ok(args) || !ngx_iothub_args_ok(&all)) {
        return NGX_DECLINED;
    }

    op->call = ngx_iothub_redis_script(ngx_iothub_redis_link(), script,
                                       handler, op, 2, all.n, all.argv,
                                       all.lens);

    return op->call ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_iothub_eh_wait(ngx_iothub_eh_waiter_t *w, ngx_uint_t since)
{
    ngx_uint_t  *tally;

    if (!ngx_iothub_eh_waiters_init) {
        ngx_queue_init(&ngx_iothub_eh_waiters);
        ngx_iothub_eh_waiters_init = 1;
    }

    if (w->waiting) {
        return NGX_OK;
    }

    tally = ngx_iothub_eh_tally(w->hub, w->partition);

    if (tally && *tally != since) {
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&ngx_iothub_eh_waiters, &w->queue);
    w->waiting = 1;

    return NGX_OK;
}


/* the partition's tally, added on first use; NULL without memory */

static ngx_uint_t *
ngx_iothub_eh_tally(ngx_iothub_hub_t *hub, ngx_uint_t partition)
{
    ngx_uint_t              i;
    ngx_iothub_eh_tally_t  *t;

    if (ngx_iothub_eh_tallies == NULL) {
        ngx_iothub_eh_tallies = ngx_array_create(ngx_cycle->pool, 8,
                                                 sizeof(ngx_iothub_eh_tally_t));
        if (ngx_iothub_eh_tallies == NULL) {
            return NULL;
        }
    }

    t = ngx_iothub_eh_tallies->elts;

    for (i = 0; i < ngx_iothub_eh_tallies->nelts; i++) {
        if (t[i].hub == hub && t[i].partition == partition) {
            return &t[i].appended;
        }
    }

    t = ngx_array_push(ngx_iothub_eh_tallies);
    if (t == NULL) {
        return NULL;
    }

    t->hub = hub;
    t->partition = partition;
    t->appended = 0;

    return &t->appended;
}


void
ngx_iothub_eh_unwait(ngx_iothub_eh_waiter_t *w)
{
    if (w->waiting) {
        ngx_queue_remove(&w->queue);
        w->waiting = 0;
    }
}


/* d2c_append.lua: "<stream key>" got an entry */

static void
ngx_iothub_eh_appended(u_char *payload, size_t len)
{
    u_char                   key[NGX_IOTHUB_D2C_KEY_LEN], *end;
    ngx_uint_t               i;
    ngx_queue_t              woken, *q, *next;
    ngx_iothub_eh_tally_t   *t;
    ngx_iothub_eh_waiter_t  *w;

    /* counted first: a read on its way must not wait for it */

    t = ngx_iothub_eh_tallies ? ngx_iothub_eh_tallies->elts : NULL;

    for (i = 0; t && i < ngx_iothub_eh_tallies->nelts; i++) {
        end = ngx_iothub_d2c_key(key, t[i].hub, t[i].partition, "d2c");

        if ((size_t) (end - key) == len && ngx_memcmp(key, payload, len) == 0)
        {
            t[i].appended++;
        }
    }

    if (!ngx_iothub_eh_waiters_init) {
        return;
    }

    /* first out of the list: a wake may wait again at once */

    ngx_queue_init(&woken);

    for (q = ngx_queue_head(&ngx_iothub_eh_waiters);
         q != ngx_queue_sentinel(&ngx_iothub_eh_waiters);
         q = next)
    {
        next = ngx_queue_next(q);
        w = ngx_queue_data(q, ngx_iothub_eh_waiter_t, queue);

        end = ngx_iothub_d2c_key(key, w->hub, w->partition, "d2c");

        if ((size_t) (end - key) == len && ngx_memcmp(key, payload, len) == 0)
        {
            ngx_queue_remove(q);
            ngx_queue_insert_tail(&woken, q);
        }
    }

    while (!ngx_queue_empty(&woken)) {
        q = ngx_queue_head(&woken);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_iothub_eh_waiter_t, queue);
        w->waiting = 0;
        w->wake(w);
    }
}


void
ngx_iothub_eh_wake_all(void)
{
    ngx_uint_t               i;
    ngx_queue_t             *q;
    ngx_iothub_eh_tally_t   *t;
    ngx_iothub_eh_waiter_t  *w;

    /* and reads on their way do not wait when they come back */

    t = ngx_iothub_eh_tallies ? ngx_iothub_eh_tallies->elts : NULL;

    for (i = 0; t && i < ngx_iothub_eh_tallies->nelts; i++) {
        t[i].appended++;
    }

    if (!ngx_iothub_eh_waiters_init) {
        return;
    }

    while (!ngx_queue_empty(&ngx_iothub_eh_waiters)) {
        q = ngx_queue_head(&ngx_iothub_eh_waiters);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_iothub_eh_waiter_t, queue);
        w->waiting = 0;
        w->wake(w);
    }
}


ngx_int_t
ngx_iothub_eh_id_parse(u_char *id, size_t len, int64_t *seq, int64_t *ms)
{
    u_char  *dash;

    dash = ngx_strlchr(id, id + len, '-');

    if (dash == NULL || dash == id || dash + 1 == id + len) {
        return NGX_ERROR;
    }

    *ms = ngx_atoof(id, dash - id);
    *seq = ngx_atoof(dash + 1, id + len - dash - 1);

    if (*ms == NGX_ERROR || *seq == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
