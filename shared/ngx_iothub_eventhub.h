
/*
 * nginx-iothub: reading the built-in endpoint's partitions (the device-to-
 * cloud streams) for Event Hubs consumers, protocol-neutral: consumer
 * groups, where a reader starts, its reads, partition facts, and the
 * per-worker wait for a partition's next event (no polling: the append
 * tells the waiting workers through their inboxes).
 */


#ifndef _NGX_IOTHUB_EVENTHUB_H_INCLUDED_
#define _NGX_IOTHUB_EVENTHUB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_reply.h"
#include "ngx_iothub_eh_filter.h"


#define NGX_IOTHUB_EH_CONSUMER_GROUPS  20      /* besides $Default */
#define NGX_IOTHUB_EH_ID_LEN           48      /* "<ms>-<seq>" and NUL */
#define NGX_IOTHUB_EH_GROUP_LEN        50      /* a consumer group's name */


typedef struct ngx_iothub_eh_waiter_s  ngx_iothub_eh_waiter_t;

typedef void (*ngx_iothub_eh_wake_pt)(ngx_iothub_eh_waiter_t *w);

typedef struct ngx_iothub_eh_op_s  ngx_iothub_eh_op_t;

typedef void (*ngx_iothub_eh_handler_pt)(ngx_iothub_eh_op_t *op);


/* a reader waiting for a partition's next event */
struct ngx_iothub_eh_waiter_s {
    ngx_queue_t                queue;
    ngx_iothub_hub_t          *hub;
    ngx_uint_t                 partition;
    ngx_iothub_eh_wake_pt      wake;
    void                      *data;
    unsigned                   waiting:1;
};


/*
 * "consumer_group <name>;" in a hub block: names 1-50 letters, digits,
 * ".", "_" and "-", starting with a letter or digit, compared without
 * regard to case; $Default always exists.
 */
char *ngx_iothub_eh_consumer_group(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* NGX_OK when the hub has the consumer group, else NGX_DECLINED */
ngx_int_t ngx_iothub_eh_consumer_group_find(ngx_iothub_hub_t *hub,
    u_char *name, size_t len);

/*
 * Registers the inbox messages "d2c <stream key>" and "eh-stolen <claim>
 * <epoch>" (configuration time).
 */
ngx_int_t ngx_iothub_eh_init_conf(ngx_conf_t *cf);

typedef enum {
    NGX_IOTHUB_EH_OK = 0,
    NGX_IOTHUB_EH_UNAVAILABLE,             /* no answer: Redis down */
    NGX_IOTHUB_EH_FAILED                   /* an unexpected answer */
} ngx_iothub_eh_result_e;


/*
 * A seek, a read or a partition's facts.  Owned by the caller, who sets
 * hub, partition, handler and data; call is set while one is pending.
 * The handler runs once per operation, with result and that operation's
 * outputs, and may free op.
 */
struct ngx_iothub_eh_op_s {
    ngx_iothub_hub_t              *hub;
    ngx_uint_t                     partition;
    ngx_iothub_eh_handler_pt       handler;
    void                          *data;

    ngx_iothub_eh_result_e         result;

    /* seek: the entry id before the reader's first event */
    u_char                         id[NGX_IOTHUB_EH_ID_LEN];
    size_t                         id_len;

    /* read: the events, one by one with ngx_iothub_eh_next() */
    ngx_uint_t                     nentries;
    ngx_uint_t                     asked;     /* entries */
    ngx_uint_t                     appended;  /* the partition's tally */
    unsigned                       at_end:1;  /* fewer entries than asked */

    /* partition: its sequence numbers and last enqueued time (ms) */
    int64_t                        begin;
    int64_t                        last_seq;  /* -1: none yet */
    int64_t                        last_ms;   /* 0: none yet */
    unsigned                       empty:1;

    ngx_iothub_redis_call_t       *call;
    const redisReply              *batch;    /* read, in the handler */

    /* read, in the handler: where ngx_iothub_eh_next() is */
    ngx_uint_t                     next_entry;
    ngx_iothub_reply_eh_entry_t    entry;
    unsigned                       entry_open:1;
    int64_t                        entry_ms;
    int64_t                        entry_seq;  /* of its next message */
    int64_t                        after_ms;   /* the read's start */
    int64_t                        after_seq;

    /* messages per entry in the reads so far (entries hold batches) */
    uint64_t                       seen_messages;
    uint64_t                       seen_entries;
};


/* an event of a read: its message and its sequence number and time */
typedef struct {
    int64_t                        seq;
    int64_t                        ms;
    ngx_iothub_reply_eh_event_t    message;
} ngx_iothub_eh_event_t;


/*
 * The entry id before a reader's first event (eh_seek.lua) into op->id.
 * n is the first sequence number or enqueued time (ms) wanted.
 * NGX_OK: started; NGX_DECLINED: Redis is down.
 */
ngx_int_t ngx_iothub_eh_seek(ngx_iothub_eh_op_t *op,
    ngx_iothub_eh_from_e from, int64_t n);

/*
 * About count events after the position "after" (eh_read.lua): the
 * handler reads them with ngx_iothub_eh_next().  A position is "<ms>-<seq>"
 * of the last event delivered (or what ngx_iothub_eh_seek() gave): entries
 * hold several events, and a reader may stop inside one.  When op->at_end
 * (the read reached the partition's end), the worker's inbox waits for
 * the partition's next append: call ngx_iothub_eh_wait().  NGX_OK:
 * started; NGX_DECLINED: Redis is down.
 */
ngx_int_t ngx_iothub_eh_read(ngx_iothub_eh_op_t *op, u_char *after,
    size_t len, ngx_uint_t count);

/*
 * The same read as a bare XRANGE, without the wait: for a reader behind
 * the end, which a script's copy of every entry into Lua and back cost
 * four times the XRANGE in Redis.  When it reaches the end, read again
 * with ngx_iothub_eh_read() before waiting.
 */
ngx_int_t ngx_iothub_eh_range(ngx_iothub_eh_op_t *op, u_char *after,
    size_t len, ngx_uint_t count);

/*
 * The read's next event, in its handler only (the spans point into the
 * answer): NGX_OK; NGX_DONE after the last; NGX_ERROR for an entry that
 * is not one.  Events up to the read's position are skipped.
 */
ngx_int_t ngx_iothub_eh_next(ngx_iothub_eh_op_t *op,
    ngx_iothub_eh_event_t *ev);

/*
 * The partition's facts (eh_partition.lua) into op->begin, last_seq,
 * last_ms and empty.  NGX_OK: started; NGX_DECLINED: Redis is down.
 */
ngx_int_t ngx_iothub_eh_partition(ngx_iothub_eh_op_t *op);

/* The handler will not run; safe when nothing is pending. */
void ngx_iothub_eh_cancel(ngx_iothub_eh_op_t *op);

/*
 * w->wake runs once when the partition got an entry; unwait cancels.
 * since is op->appended of the read that found the end: NGX_DECLINED,
 * without waiting, when the partition got an entry after that read was
 * sent (its notification may have come before the read's answer, on the
 * other link), so the caller reads again at once.
 */
ngx_int_t ngx_iothub_eh_wait(ngx_iothub_eh_waiter_t *w, ngx_uint_t since);
void ngx_iothub_eh_unwait(ngx_iothub_eh_waiter_t *w);

/* wakes every waiter of the worker (notifications may have been lost) */
void ngx_iothub_eh_wake_all(void);

/*
 * Epoch (owner level) receivers, across workers and nodes (amqp.md 10.3,
 * eh_claim.lua): every receiver of a consumer group's partition holds a
 * claim in Redis, renewed while it lives.  A claim with an epoch displaces
 * the claims whose epoch is not higher (and those without one); a claim is
 * refused while a higher epoch (any epoch, for a claim without one) holds
 * the partition.  The caller sets hub, group (any case, copied), partition,
 * epoch (-1: none), handler and data, then calls ngx_iothub_eh_claim().
 * The handler runs once with the claim's result (HELD, REFUSED, NO_GROUP or
 * UNAVAILABLE); while HELD it may run once more, with STOLEN, when a
 * receiver of epoch o->holder took the partition.  ngx_iothub_eh_unclaim()
 * ends it (the link went); the handler does not run after that.
 */

typedef struct ngx_iothub_eh_claim_s  ngx_iothub_eh_claim_t;

typedef void (*ngx_iothub_eh_claim_pt)(ngx_iothub_eh_claim_t *o);

typedef enum {
    NGX_IOTHUB_EH_HELD = 0,
    NGX_IOTHUB_EH_REFUSED,                  /* o->holder holds it */
    NGX_IOTHUB_EH_NO_GROUP,                 /* no such consumer group */
    NGX_IOTHUB_EH_CLAIM_UNAVAILABLE,        /* Redis down or failed */
    NGX_IOTHUB_EH_STOLEN                    /* o->holder took it */
} ngx_iothub_eh_claim_e;

struct ngx_iothub_eh_claim_s {
    ngx_iothub_hub_t              *hub;
    u_char                         group[NGX_IOTHUB_EH_GROUP_LEN];
    size_t                         group_len;
    ngx_uint_t                     partition;
    int64_t                        epoch;
    ngx_iothub_eh_claim_pt         handler;
    void                          *data;

    ngx_iothub_eh_claim_e          result;
    int64_t                        holder;    /* an epoch, -1: none */

    uint64_t                       number;    /* in the worker */
    ngx_queue_t                    queue;     /* the worker's claims */
    ngx_event_t                    renew;
    ngx_iothub_redis_call_t       *call;
    unsigned                       held:1;
    unsigned                       stolen:1;  /* told before the answer */
};

/* NGX_OK: started; NGX_DECLINED: Redis is down, the handler will not run */
ngx_int_t ngx_iothub_eh_claim(ngx_iothub_eh_claim_t *o);
void ngx_iothub_eh_unclaim(ngx_iothub_eh_claim_t *o);

/* the inbox handler of "eh-stolen <claim> <epoch>" */
void ngx_iothub_eh_claim_stolen(u_char *payload, size_t len);

/*
 * Consumer groups created at run time (the REST extension), kept in Redis
 * besides the configured ones: list, create, delete.  The caller sets hub,
 * handler and data; the handler runs once with result (and for a list,
 * ngroups groups read with ngx_iothub_eh_groups_item() in the handler; for
 * a create, created and group).
 */

typedef struct ngx_iothub_eh_groups_op_s  ngx_iothub_eh_groups_op_t;

typedef void (*ngx_iothub_eh_groups_pt)(ngx_iothub_eh_groups_op_t *op);

struct ngx_iothub_eh_groups_op_s {
    ngx_iothub_hub_t              *hub;
    ngx_iothub_eh_groups_pt        handler;
    void                          *data;

    ngx_iothub_reply_rc_e          result;    /* FULL: too many groups */
    ngx_uint_t                     ngroups;   /* list */
    unsigned                       done:1;    /* created, deleted */
    ngx_iothub_reply_eh_group_t    group;     /* create, in the handler */

    ngx_iothub_redis_call_t       *call;
    const redisReply              *reply;     /* in the handler */
};

/* NGX_OK: started; NGX_DECLINED: Redis is down */
ngx_int_t ngx_iothub_eh_groups_list(ngx_iothub_eh_groups_op_t *op);
ngx_int_t ngx_iothub_eh_groups_create(ngx_iothub_eh_groups_op_t *op,
    ngx_str_t *name);
ngx_int_t ngx_iothub_eh_groups_delete(ngx_iothub_eh_groups_op_t *op,
    ngx_str_t *name);
ngx_int_t ngx_iothub_eh_groups_item(ngx_iothub_eh_groups_op_t *op,
    ngx_uint_t i, ngx_iothub_reply_eh_group_t *g);
void ngx_iothub_eh_groups_cancel(ngx_iothub_eh_groups_op_t *op);

/* a valid consumer group name: 1-50 letters, digits, ".", "_", "-" */
ngx_int_t ngx_iothub_eh_group_name_valid(ngx_str_t *name);

/* "<prefix>eh-groups" into buf of NGX_IOTHUB_D2C_KEY_LEN bytes: its length */
size_t ngx_iothub_eh_groups_key(u_char *buf, ngx_iothub_hub_t *hub);

/* how many groups the hub has besides $Default, configured ones */
ngx_uint_t ngx_iothub_eh_groups_configured(ngx_iothub_hub_t *hub);

/* "<ms>-<seq>": the sequence number and the time, or NGX_ERROR */
ngx_int_t ngx_iothub_eh_id_parse(u_char *id, size_t len, int64_t *seq,
    int64_t *ms);


#endif /* _NGX_IOTHUB_EVENTHUB_H_INCLUDED_ */
