
/*
 * nginx-iothub: typed decoders of the Redis replies the hub reads (pure C:
 * hiredis and libc, no nginx header), so that every reply is checked in
 * one place that unit tests and a fuzzer reach alone.
 *
 * A decoder takes the reply a link handler got (NULL when Redis was
 * unreachable, the command timed out or the link was lost) and answers an
 * ngx_iothub_reply_rc_e: OK with its output filled, or why not.  An error
 * reply is named by its first word, the error code Redis and the Lua
 * scripts put there ("NOT_FOUND", "NOSCRIPT No matching script ...").
 * Decoders only read the reply; the spans they fill point into it and are
 * valid until the reply is freed (when the link handler returns).
 */


#ifndef _NGX_IOTHUB_REPLY_H_INCLUDED_
#define _NGX_IOTHUB_REPLY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "ngx_iothub_identity.h"
#include "ngx_iothub_twin.h"


/* application properties of one C2D message kept; the rest are dropped */
#define NGX_IOTHUB_REPLY_C2D_MAX_APP   64

/* decimal digits of a C2D message number and of a SCAN cursor */
#define NGX_IOTHUB_REPLY_NUMBER_MAX    20

/* bytes of a stream entry id ("<ms>-<seq>") */
#define NGX_IOTHUB_REPLY_EH_ID_MAX     47

/* properties of one partition event kept; the rest are dropped */
#define NGX_IOTHUB_REPLY_EH_MAX_PROPS  128


typedef enum {
    NGX_IOTHUB_REPLY_OK = 0,            /* decoded */
    NGX_IOTHUB_REPLY_NIL,               /* nothing there (see each) */
    NGX_IOTHUB_REPLY_LOST,              /* no reply: Redis down, timeout */
    NGX_IOTHUB_REPLY_MALFORMED,         /* not the shape expected */
    NGX_IOTHUB_REPLY_NO_MEMORY,

    /* error replies: the codes of the scripts and of Redis */
    NGX_IOTHUB_REPLY_ERROR,             /* any other error reply */
    NGX_IOTHUB_REPLY_NOT_FOUND,
    NGX_IOTHUB_REPLY_NO_DEVICE,
    NGX_IOTHUB_REPLY_DISABLED,
    NGX_IOTHUB_REPLY_EXISTS,
    NGX_IOTHUB_REPLY_ETAG_MISMATCH,
    NGX_IOTHUB_REPLY_CONFLICT,
    NGX_IOTHUB_REPLY_FULL,
    NGX_IOTHUB_REPLY_LOCK_LOST,
    NGX_IOTHUB_REPLY_EXPIRED,
    NGX_IOTHUB_REPLY_NOSCRIPT
} ngx_iothub_reply_rc_e;


typedef struct {
    const unsigned char            *data;
    size_t                          len;
} ngx_iothub_reply_str_t;


/* session_connect.lua's answer */
typedef struct {
    uint64_t                        features;    /* NGX_IOTHUB_FEATURE_* */
    unsigned                        present:1;   /* a session was kept */
} ngx_iothub_reply_connect_t;


/*
 * c2d_receive.lua's answer: the message hash (redis-schema.md) with "n",
 * its number.  Absent fields are empty.
 */
typedef struct {
    ngx_iothub_reply_str_t          n;
    ngx_iothub_reply_str_t          message_id;
    ngx_iothub_reply_str_t          correlation_id;
    ngx_iothub_reply_str_t          user_id;
    ngx_iothub_reply_str_t          content_type;
    ngx_iothub_reply_str_t          content_encoding;
    ngx_iothub_reply_str_t          expiry;      /* absolute-expiry-time */
    ngx_iothub_reply_str_t          ack;
    ngx_iothub_reply_str_t          delivery_count;  /* "dc" */
    ngx_iothub_reply_str_t          enqueued;        /* ISO 8601 */
    ngx_iothub_reply_str_t          body;
    size_t                          napp;
    size_t                          app_dropped; /* past the bound */
    ngx_iothub_reply_str_t          app_name[NGX_IOTHUB_REPLY_C2D_MAX_APP];
    ngx_iothub_reply_str_t          app_value[NGX_IOTHUB_REPLY_C2D_MAX_APP];
} ngx_iothub_reply_c2d_t;


/* SCAN's answer: the next cursor and a page of keys */
typedef struct {
    ngx_iothub_reply_str_t          cursor;
    size_t                          nkeys;
    const redisReply               *keys;
} ngx_iothub_reply_scan_t;


typedef enum {
    NGX_IOTHUB_REPLY_PUSH_MESSAGE = 0,  /* channel, payload */
    NGX_IOTHUB_REPLY_PUSH_SUBSCRIBE     /* a subscription confirmed */
} ngx_iothub_reply_push_e;


/* what a subscriber link is sent without asking */
typedef struct {
    ngx_iothub_reply_push_e         kind;
    ngx_iothub_reply_str_t          channel;     /* messages only */
    ngx_iothub_reply_str_t          payload;     /* messages only */
} ngx_iothub_reply_push_t;


/*
 * Any reply: LOST for none, the code of an error reply, else OK (the
 * scripts whose success needs no reading).
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_check(const redisReply *r);

/* An array of *n strings, else MALFORMED (or LOST, or an error's code). */
ngx_iothub_reply_rc_e ngx_iothub_reply_strings(const redisReply *r,
    size_t *n);

/* The text of an error reply, for a log; empty for anything else. */
void ngx_iothub_reply_error_text(const redisReply *r,
    ngx_iothub_reply_str_t *text);

/* An integer reply. */
ngx_iothub_reply_rc_e ngx_iothub_reply_integer(const redisReply *r,
    long long *n);

/* An array of exactly two integers (eh_claim.lua). */
ngx_iothub_reply_rc_e ngx_iothub_reply_integer_pair(const redisReply *r,
    long long *a, long long *b);

/* An array of exactly n integers, into v (registry_stats.lua). */
ngx_iothub_reply_rc_e ngx_iothub_reply_integers(const redisReply *r,
    long long *v, size_t n);

/* A bulk string (XADD's entry id); NIL for a nil reply. */
ngx_iothub_reply_rc_e ngx_iothub_reply_bulk(const redisReply *r,
    ngx_iothub_reply_str_t *s);

/* A status reply ("+OK" of SET ... NX); NIL for a nil reply. */
ngx_iothub_reply_rc_e ngx_iothub_reply_status(const redisReply *r,
    ngx_iothub_reply_str_t *s);

/*
 * session_connect.lua: { subscriptions >= 0, present 0 or 1 }, or the
 * errors NOT_FOUND (no identity) and DISABLED.
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_connect(const redisReply *r,
    ngx_iothub_reply_connect_t *c);

/*
 * c2d_receive.lua: NIL when no message is due, else the message hash as
 * field, value, ... (every element a string): "n" (a decimal of 1 to
 * NGX_IOTHUB_REPLY_NUMBER_MAX digits, required), "body", "ack",
 * "p:<system property>" and "u:<application property>" (in hash order,
 * at most NGX_IOTHUB_REPLY_C2D_MAX_APP; the rest counted in app_dropped);
 * other fields are ignored, and a repeated field keeps its last value.
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_c2d(const redisReply *r,
    ngx_iothub_reply_c2d_t *m);

/*
 * An identity hash (HGETALL): OK, or NIL for an empty hash (no such
 * identity).  On both, id was reset with ngx_iothub_identity_init() and
 * the fields set with ngx_iothub_identity_set_field(); on any other answer
 * id is left as it was.
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_identity(const redisReply *r,
    ngx_iothub_identity_t *id);

/*
 * identity_get.lua: { identity hash, queue length } into id and *count
 * (as ngx_iothub_reply_identity(); *count on OK only).
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_identity_get(const redisReply *r,
    ngx_iothub_identity_t *id, long long *count);

/*
 * device_list.lua and module_list.lua: an array of *n identity hashes,
 * each then read with ngx_iothub_reply_list_identity() (i < *n).
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_list(const redisReply *r, size_t *n);
void ngx_iothub_reply_list_identity(const redisReply *r, size_t i,
    ngx_iothub_identity_t *id);

/*
 * twin_read.lua: { twin hash, identity hash, queue length }, or the error
 * NOT_FOUND.  The twin's fields go into t (fresh from
 * ngx_iothub_twin_init()) with ngx_iothub_twin_set_field(): a CORRUPT
 * field gives MALFORMED, and t is then partly set.  id (reset first) and
 * *count are set on OK only.
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_twin_read(const redisReply *r,
    ngx_iothub_twin_t *t, ngx_iothub_identity_t *id, long long *count);

/*
 * query_scan.lua: { last device id read ("" at the end), { twin hash,
 * identity hash, queue length }, ... }.  *next is the device id, *n the
 * number of twins; each is then read with ngx_iothub_reply_query_twin()
 * (i < *n), which answers as ngx_iothub_reply_twin_read().
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_query_chunk(const redisReply *r,
    ngx_iothub_reply_str_t *next, size_t *n);
ngx_iothub_reply_rc_e ngx_iothub_reply_query_twin(const redisReply *r,
    size_t i, ngx_iothub_twin_t *t, ngx_iothub_identity_t *id,
    long long *count);

/*
 * A record of a service-bound stream (feedback, messaging.md 3.5; file
 * notifications, messaging.md 4): its fields named by a table, in the
 * order the JSON of the record lists them; "number" ones are written as
 * JSON numbers.  Absent fields are empty.
 */
#define NGX_IOTHUB_REPLY_RECORD_FIELDS_MAX  12

typedef struct {
    const char                     *name;
    unsigned                        number:1;
} ngx_iothub_reply_field_name_t;

typedef struct {
    ngx_iothub_reply_str_t          value[NGX_IOTHUB_REPLY_RECORD_FIELDS_MAX];
} ngx_iothub_reply_record_t;

#define NGX_IOTHUB_REPLY_FEEDBACK_FIELDS           6
#define NGX_IOTHUB_REPLY_FILENOTIFICATION_FIELDS   6
#define NGX_IOTHUB_REPLY_BULKJOB_FIELDS            12

extern const ngx_iothub_reply_field_name_t  ngx_iothub_reply_feedback_names[];
extern const ngx_iothub_reply_field_name_t
    ngx_iothub_reply_filenotification_names[];
/* an import/export job's hash (bulkjob_*.lua), in ngx_iothub_bulkjob.h's
 * order */
extern const ngx_iothub_reply_field_name_t  ngx_iothub_reply_bulkjob_names[];


/*
 * sbstream_receive.lua and bulkjob_*.lua: { { id, { field, value, ... } },
 * ... } of *n
 * records (0: none due), each then read with ngx_iothub_reply_record()
 * (i < *n) by the names of its stream (at most
 * NGX_IOTHUB_REPLY_RECORD_FIELDS_MAX are read).
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_records(const redisReply *r,
    size_t *n);
void ngx_iothub_reply_record(const redisReply *r, size_t i,
    const ngx_iothub_reply_field_name_t *names, size_t nnames,
    ngx_iothub_reply_record_t *rec);

/*
 * SCAN: { cursor (a decimal of 1 to NGX_IOTHUB_REPLY_NUMBER_MAX digits),
 * [ key, ... ] (every key a string) }; ngx_iothub_reply_scan_key() reads
 * key i < nkeys.
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_scan(const redisReply *r,
    ngx_iothub_reply_scan_t *scan);
void ngx_iothub_reply_scan_key(const ngx_iothub_reply_scan_t *scan,
    size_t i, ngx_iothub_reply_str_t *key);

/*
 * A subscriber link's push: [ "message", channel, payload ] (both
 * strings) or [ "subscribe", channel, count ].  MALFORMED: not a push,
 * the reply answers a call.
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_push(const redisReply *r,
    ngx_iothub_reply_push_t *push);


/* the kind of a partition event's property: its field's prefix */
typedef enum {
    NGX_IOTHUB_REPLY_EH_ANNOTATION = 0,  /* "a:" message annotation */
    NGX_IOTHUB_REPLY_EH_SYSTEM,          /* "p:" AMQP message property */
    NGX_IOTHUB_REPLY_EH_APPLICATION      /* "u:" application property */
} ngx_iothub_reply_eh_prop_e;


typedef struct {
    ngx_iothub_reply_eh_prop_e      kind;
    ngx_iothub_reply_str_t          name;        /* without the prefix */
    ngx_iothub_reply_str_t          value;
} ngx_iothub_reply_eh_prop_t;


/*
 * A partition's stream entry (redis-schema.md): its id, "body" (empty,
 * has_body 0, when absent) and its properties in field order.
 */
typedef struct {
    ngx_iothub_reply_str_t          id;
    ngx_iothub_reply_str_t          body;
    unsigned                        has_body:1;
    size_t                          nprops;
    size_t                          props_dropped; /* past the bound */
    ngx_iothub_reply_eh_prop_t      prop[NGX_IOTHUB_REPLY_EH_MAX_PROPS];
} ngx_iothub_reply_eh_event_t;


/* eh_partition.lua's answer */
typedef struct {
    ngx_iothub_reply_str_t          first;       /* entry id or empty */
    ngx_iothub_reply_str_t          last;        /* entry id or empty */
    long long                       entries;
} ngx_iothub_reply_eh_partition_t;


/*
 * eh_seek.lua: the entry id before a reader's first event, a string of at
 * most NGX_IOTHUB_REPLY_EH_ID_MAX bytes; NIL for a nil reply.
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_eh_seek(const redisReply *r,
    ngx_iothub_reply_str_t *id);

/*
 * eh_read.lua: an array of *n stream entries (0: none after the id
 * asked), each then read with ngx_iothub_reply_eh_event() (i < *n).
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_eh_read(const redisReply *r,
    size_t *n);

/*
 * Entry i of an eh_read.lua (or XRANGE) answer: { id (1 to
 * NGX_IOTHUB_REPLY_EH_ID_MAX bytes), { field, value, ... } }, else
 * MALFORMED.  An entry of d2c_append.lua has fields "n" (count, >= 1) and
 * "m" (packed messages, ngx_iothub_d2c_pack.h); an entry without "m" (as
 * the hub wrote them before it packed messages) is one message, its own
 * fields.  Its messages are then read in order with
 * ngx_iothub_reply_eh_message().
 */
typedef struct {
    ngx_iothub_reply_str_t          id;
    long long                       count;
    long long                       read;        /* messages read so far */
    const redisReply               *fields;      /* unpacked: the entry's */
    const unsigned char            *next;        /* packed: not read yet */
    const unsigned char            *end;
} ngx_iothub_reply_eh_entry_t;

ngx_iothub_reply_rc_e ngx_iothub_reply_eh_entry(const redisReply *r,
    size_t i, ngx_iothub_reply_eh_entry_t *e);

/*
 * The entry's next message into ev (its id is the entry's): OK; NIL once
 * all e->count were read; MALFORMED when the packed bytes end early or a
 * length runs past them.  Of the fields, pairs with a field "x:" with no
 * name and those of other prefixes are skipped (and, unpacked, pairs
 * whose value is not a string, and an odd last field); properties past
 * NGX_IOTHUB_REPLY_EH_MAX_PROPS are counted in props_dropped.  Every span
 * is followed by a NUL.
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_eh_message(
    ngx_iothub_reply_eh_entry_t *e, ngx_iothub_reply_eh_event_t *ev);

/*
 * A consumer group created at run time: the value "<created> <name>" of
 * its field in the hub's hash of groups (the created time is ISO 8601
 * text; the name 1 to NGX_IOTHUB_REPLY_EH_GROUP_MAX bytes, as created).
 */
#define NGX_IOTHUB_REPLY_EH_GROUP_MAX  50

typedef struct {
    ngx_iothub_reply_str_t          name;
    ngx_iothub_reply_str_t          created;
} ngx_iothub_reply_eh_group_t;

/* HGETALL of the groups: *n of them, each read with _eh_group() */
ngx_iothub_reply_rc_e ngx_iothub_reply_eh_groups(const redisReply *r,
    size_t *n);
ngx_iothub_reply_rc_e ngx_iothub_reply_eh_group(const redisReply *r,
    size_t i, ngx_iothub_reply_eh_group_t *g);

/*
 * eh_group.lua: { 1 or 0 (created or deleted, or not), the group's value
 * or "" }: g is filled when the value is not empty (else its spans are
 * empty).
 */
ngx_iothub_reply_rc_e ngx_iothub_reply_eh_group_op(const redisReply *r,
    long long *done, ngx_iothub_reply_eh_group_t *g);

/* eh_partition.lua: { first id or "", last id or "", entries } */
ngx_iothub_reply_rc_e ngx_iothub_reply_eh_partition(const redisReply *r,
    ngx_iothub_reply_eh_partition_t *p);


#endif /* _NGX_IOTHUB_REPLY_H_INCLUDED_ */
