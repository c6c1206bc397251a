
/*
 * Unit tests of shared/ngx_iothub_reply.c: the typed decoders of the Redis
 * replies the hub reads.  Each reply is written in RESP, as Redis sends
 * it, and parsed by hiredis's redisReader fed one byte at a time, as the
 * link (shared/ngx_iothub_redis.c) may get it.  "make unit" builds and
 * runs them.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_d2c_pack.h"
#include "ngx_iothub_reply.h"


#define MAX_FIELDS  32


typedef struct {
    const char              *name;
    const char              *resp;
    ngx_iothub_reply_rc_e    rc;
} check_case_t;


typedef struct {
    const char              *name;
    const char              *resp;
    ngx_iothub_reply_rc_e    rc;
    uint64_t                 features;
    unsigned                 present;
} connect_case_t;


/* resp NULL: the reply is the hash of "fields" (NULL-terminated) */
typedef struct {
    const char              *name;
    const char              *resp;
    const char              *fields[MAX_FIELDS];
    ngx_iothub_reply_rc_e    rc;
    const char              *n;
    const char              *body;
    const char              *ack;
    const char              *message_id;
    const char              *expiry;
    size_t                   napp;
    const char              *app_name;         /* the first one */
    const char              *app_value;
} c2d_case_t;


typedef struct {
    const char              *name;
    const char              *resp;
    const char              *fields[MAX_FIELDS];
    ngx_iothub_reply_rc_e    rc;
    const char              *device_id;
    const char              *status;
    const char              *primary_key;
} identity_case_t;


typedef struct {
    const char              *name;
    const char              *resp;
    ngx_iothub_reply_rc_e    rc;
    const char              *cursor;
    size_t                   nkeys;
    const char              *last_key;
} scan_case_t;


typedef struct {
    const char              *name;
    const char              *resp;
    ngx_iothub_reply_rc_e    rc;
    ngx_iothub_reply_push_e  kind;
    const char              *channel;
    const char              *payload;
} push_case_t;


typedef struct {
    const char              *name;
    const char              *resp;
    ngx_iothub_reply_rc_e    rc;
    const char              *id;
} eh_seek_case_t;


typedef struct {
    const char              *name;
    const char              *resp;
    ngx_iothub_reply_rc_e    rc;
    const char              *first;
    const char              *last;
    long long                entries;
} eh_partition_case_t;


/* HGETALL of the consumer groups, group "at" read; or eh_group.lua's */
typedef struct {
    const char              *name;
    const char              *resp;
    int                      op;        /* eh_group.lua's answer */
    ngx_iothub_reply_rc_e    rc;
    size_t                   at;
    const char              *group;
    const char              *created;
    long long                done;
} eh_group_case_t;


/* an eh_read.lua answer; entry "at" decoded: rc, then its fields */
typedef struct {
    const char                  *name;
    const char                  *resp;
    ngx_iothub_reply_rc_e        rc;        /* of the batch */
    size_t                       n;
    size_t                       at;
    ngx_iothub_reply_rc_e        entry_rc;
    const char                  *id;
    const char                  *body;      /* NULL: none */
    size_t                       nprops;
    ngx_iothub_reply_eh_prop_e   kind;      /* of the last property */
    const char                  *prop_name;
    const char                  *prop_value;
} eh_read_case_t;


static void test_records(void **state);
static void test_eh_packed(void **state);
static void test_eh_packed_malformed(void **state);
static void test_eh_packed_names(void **state);
static size_t packed_entry(char *resp, const char *n,
    const unsigned char *m, size_t len);
static ngx_iothub_reply_rc_e first_message(const redisReply *r, size_t i,
    ngx_iothub_reply_eh_event_t *ev);
static redisReply *reply_of(const char *resp, size_t len);
static redisReply *reply_of_str(const char *resp);
static redisReply *reply_of_hash(const char *const *fields);
static char *resp_hash(const char *const *fields, size_t *len);
static void assert_span(ngx_iothub_reply_str_t *s, const char *expected);


static const check_case_t  check_cases[] = {
    { "check: NOT_FOUND", "-NOT_FOUND\r\n", NGX_IOTHUB_REPLY_NOT_FOUND },
    { "check: NO_DEVICE", "-NO_DEVICE\r\n", NGX_IOTHUB_REPLY_NO_DEVICE },
    { "check: DISABLED", "-DISABLED\r\n", NGX_IOTHUB_REPLY_DISABLED },
    { "check: EXISTS", "-EXISTS\r\n", NGX_IOTHUB_REPLY_EXISTS },
    { "check: ETAG_MISMATCH", "-ETAG_MISMATCH\r\n",
      NGX_IOTHUB_REPLY_ETAG_MISMATCH },
    { "check: CONFLICT", "-CONFLICT\r\n", NGX_IOTHUB_REPLY_CONFLICT },
    { "check: FULL", "-FULL\r\n", NGX_IOTHUB_REPLY_FULL },
    { "check: LOCK_LOST", "-LOCK_LOST\r\n", NGX_IOTHUB_REPLY_LOCK_LOST },
    { "check: NOSCRIPT with Redis's text",
      "-NOSCRIPT No matching script. Please use EVAL.\r\n",
      NGX_IOTHUB_REPLY_NOSCRIPT },
    { "check: the code is the first word", "-FULL of text\r\n",
      NGX_IOTHUB_REPLY_FULL },
    { "check: a longer word is another code", "-NOT_FOUNDS\r\n",
      NGX_IOTHUB_REPLY_ERROR },
    { "check: a prefix is another code", "-NOT_FOUN\r\n",
      NGX_IOTHUB_REPLY_ERROR },
    { "check: codes are case-sensitive", "-not_found\r\n",
      NGX_IOTHUB_REPLY_ERROR },
    { "check: a Lua runtime error", "-ERR Error running script\r\n",
      NGX_IOTHUB_REPLY_ERROR },
    { "check: an empty error", "-\r\n", NGX_IOTHUB_REPLY_ERROR },
    { "check: an error starting with a space", "- FULL\r\n",
      NGX_IOTHUB_REPLY_ERROR },
    { "check: integer", ":0\r\n", NGX_IOTHUB_REPLY_OK },
    { "check: status", "+OK\r\n", NGX_IOTHUB_REPLY_OK },
    { "check: nil", "$-1\r\n", NGX_IOTHUB_REPLY_OK },
    { "check: nil array", "*-1\r\n", NGX_IOTHUB_REPLY_OK },
    { "check: array holding an error", "*1\r\n-FULL\r\n",
      NGX_IOTHUB_REPLY_OK },
};


static const connect_case_t  connect_cases[] = {
    { "connect: subscriptions, session present", "*2\r\n:7\r\n:1\r\n",
      NGX_IOTHUB_REPLY_OK, 7, 1 },
    { "connect: clean session", "*2\r\n:0\r\n:0\r\n",
      NGX_IOTHUB_REPLY_OK, 0, 0 },
    { "connect: large feature bits", "*2\r\n:4294967296\r\n:0\r\n",
      NGX_IOTHUB_REPLY_OK, 4294967296ULL, 0 },
    { "connect: identity deleted meanwhile", "-NOT_FOUND\r\n",
      NGX_IOTHUB_REPLY_NOT_FOUND, 0, 0 },
    { "connect: identity disabled meanwhile", "-DISABLED\r\n",
      NGX_IOTHUB_REPLY_DISABLED, 0, 0 },
    { "connect: another error", "-ERR out of memory\r\n",
      NGX_IOTHUB_REPLY_ERROR, 0, 0 },
    { "connect: negative features", "*2\r\n:-1\r\n:0\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, 0 },
    { "connect: present neither 0 nor 1", "*2\r\n:1\r\n:2\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, 0 },
    { "connect: one element", "*1\r\n:1\r\n", NGX_IOTHUB_REPLY_MALFORMED,
      0, 0 },
    { "connect: three elements", "*3\r\n:1\r\n:1\r\n:1\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, 0 },
    { "connect: features as a string", "*2\r\n$1\r\n7\r\n:1\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, 0 },
    { "connect: present as nil", "*2\r\n:7\r\n$-1\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, 0 },
    { "connect: nil", "$-1\r\n", NGX_IOTHUB_REPLY_MALFORMED, 0, 0 },
    { "connect: integer", ":1\r\n", NGX_IOTHUB_REPLY_MALFORMED, 0, 0 },
};


static const c2d_case_t  c2d_cases[] = {
    { "c2d: every field", NULL,
      { "expiry", "1700000000000", "lockUntil", "1", "dc", "0",
        "ack", "full", "p:message-id", "m1", "p:correlation-id", "c1",
        "p:user-id", "u1", "p:content-type", "application/json",
        "p:content-encoding", "utf-8", "p:absolute-expiry-time",
        "2024-01-01T00:00:00Z", "u:color", "red", "body", "hello",
        "n", "42", NULL },
      NGX_IOTHUB_REPLY_OK, "42", "hello", "full", "m1",
      "2024-01-01T00:00:00Z", 1, "color", "red" },
    { "c2d: only a number", NULL, { "n", "1", NULL },
      NGX_IOTHUB_REPLY_OK, "1", "", "", "", "", 0, NULL, NULL },
    { "c2d: empty body and property values", NULL,
      { "body", "", "u:k", "", "p:message-id", "", "n", "7", NULL },
      NGX_IOTHUB_REPLY_OK, "7", "", "", "", "", 1, "k", "" },
    { "c2d: \"u:\" alone names no property", NULL,
      { "u:", "x", "n", "5", NULL },
      NGX_IOTHUB_REPLY_OK, "5", "", "", "", "", 0, NULL, NULL },
    { "c2d: unknown system properties are ignored", NULL,
      { "p:to", "/x", "p:", "y", "P:message-id", "z", "n", "5", NULL },
      NGX_IOTHUB_REPLY_OK, "5", "", "", "", "", 0, NULL, NULL },
    { "c2d: a repeated field keeps its last value", NULL,
      { "body", "a", "body", "b", "n", "1", "n", "2", NULL },
      NGX_IOTHUB_REPLY_OK, "2", "b", "", "", "", 0, NULL, NULL },
    { "c2d: twenty digits", NULL, { "n", "18446744073709551615", NULL },
      NGX_IOTHUB_REPLY_OK, "18446744073709551615", "", "", "", "", 0,
      NULL, NULL },
    { "c2d: none due", "$-1\r\n", { NULL }, NGX_IOTHUB_REPLY_NIL,
      NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL },
    { "c2d: no number", NULL, { "body", "x", NULL },
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0, NULL,
      NULL },
    { "c2d: empty number", NULL, { "n", "", NULL },
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0, NULL,
      NULL },
    { "c2d: signed number", NULL, { "n", "-1", NULL },
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0, NULL,
      NULL },
    { "c2d: number of 21 digits", NULL, { "n", "100000000000000000000",
      NULL }, NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0,
      NULL, NULL },
    { "c2d: empty hash", "*0\r\n", { NULL }, NGX_IOTHUB_REPLY_MALFORMED,
      NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL },
    { "c2d: odd element count", "*3\r\n$1\r\nn\r\n$1\r\n1\r\n$1\r\nx\r\n",
      { NULL }, NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, NULL, NULL, NULL,
      0, NULL, NULL },
    { "c2d: an integer value", "*2\r\n$1\r\nn\r\n:1\r\n", { NULL },
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0, NULL,
      NULL },
    { "c2d: a nested array", "*2\r\n$1\r\nn\r\n*1\r\n$1\r\n1\r\n", { NULL },
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0, NULL,
      NULL },
    { "c2d: an integer", ":1\r\n", { NULL }, NGX_IOTHUB_REPLY_MALFORMED,
      NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL },
    { "c2d: a script error", "-ERR Error running script\r\n", { NULL },
      NGX_IOTHUB_REPLY_ERROR, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL },
};


static const identity_case_t  identity_cases[] = {
    { "identity: a device", NULL,
      { "deviceId", "dev1", "status", "disabled", "authType", "sas",
        "primaryKey", "a2V5", "unknownField", "x", NULL },
      NGX_IOTHUB_REPLY_OK, "dev1", "disabled", "a2V5" },
    { "identity: no such identity", "*0\r\n", { NULL },
      NGX_IOTHUB_REPLY_NIL, "", "enabled", "" },
    { "identity: odd element count", "*1\r\n$8\r\ndeviceId\r\n", { NULL },
      NGX_IOTHUB_REPLY_MALFORMED, "", "enabled", "" },
    { "identity: a nil value", "*2\r\n$8\r\ndeviceId\r\n$-1\r\n", { NULL },
      NGX_IOTHUB_REPLY_MALFORMED, "", "enabled", "" },
    { "identity: not an array", "$4\r\ndev1\r\n", { NULL },
      NGX_IOTHUB_REPLY_MALFORMED, "", "enabled", "" },
    { "identity: nil", "$-1\r\n", { NULL }, NGX_IOTHUB_REPLY_MALFORMED, "",
      "enabled", "" },
    { "identity: an error", "-ERR wrong kind of value\r\n", { NULL },
      NGX_IOTHUB_REPLY_ERROR, "", "enabled", "" },
};


static const scan_case_t  scan_cases[] = {
    { "scan: a page", "*2\r\n$2\r\n17\r\n*2\r\n$1\r\na\r\n$2\r\nbc\r\n",
      NGX_IOTHUB_REPLY_OK, "17", 2, "bc" },
    { "scan: the last, empty page", "*2\r\n$1\r\n0\r\n*0\r\n",
      NGX_IOTHUB_REPLY_OK, "0", 0, NULL },
    { "scan: a cursor of 20 digits",
      "*2\r\n$20\r\n18446744073709551615\r\n*0\r\n",
      NGX_IOTHUB_REPLY_OK, "18446744073709551615", 0, NULL },
    { "scan: a cursor of 21 digits",
      "*2\r\n$21\r\n184467440737095516150\r\n*0\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, 0, NULL },
    { "scan: a cursor not a number", "*2\r\n$2\r\n1x\r\n*0\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, 0, NULL },
    { "scan: an empty cursor", "*2\r\n$0\r\n\r\n*0\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, 0, NULL },
    { "scan: an integer cursor", "*2\r\n:0\r\n*0\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, 0, NULL },
    { "scan: a key not a string", "*2\r\n$1\r\n0\r\n*1\r\n:1\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, 0, NULL },
    { "scan: keys not an array", "*2\r\n$1\r\n0\r\n$1\r\na\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, 0, NULL },
    { "scan: an error", "-ERR busy\r\n", NGX_IOTHUB_REPLY_ERROR, NULL, 0,
      NULL },
};


static const push_case_t  push_cases[] = {
    { "push: a message",
      "*3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$6\r\nc2d 42\r\n",
      NGX_IOTHUB_REPLY_OK, NGX_IOTHUB_REPLY_PUSH_MESSAGE, "chan", "c2d 42" },
    { "push: an empty payload", "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$0\r\n\r\n",
      NGX_IOTHUB_REPLY_OK, NGX_IOTHUB_REPLY_PUSH_MESSAGE, "c", "" },
    { "push: a subscription", "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
      NGX_IOTHUB_REPLY_OK, NGX_IOTHUB_REPLY_PUSH_SUBSCRIBE, "", "" },
    { "push: a message with an integer payload",
      "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n:1\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL },
    { "push: another kind", "*3\r\n$8\r\npmessage\r\n$1\r\nc\r\n$1\r\np\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL },
    { "push: kind is case-sensitive",
      "*3\r\n$7\r\nMESSAGE\r\n$1\r\nc\r\n$1\r\np\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL },
    { "push: two elements", "*2\r\n$7\r\nmessage\r\n$1\r\nc\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL },
    { "push: a call's answer", ":1\r\n", NGX_IOTHUB_REPLY_MALFORMED, 0, NULL,
      NULL },
    { "push: an error", "-ERR\r\n", NGX_IOTHUB_REPLY_MALFORMED, 0, NULL,
      NULL },
};


static const eh_seek_case_t  eh_seek_cases[] = {
    { "eh_seek: an id", "$5\r\n12-34\r\n", NGX_IOTHUB_REPLY_OK, "12-34" },
    { "eh_seek: 47 bytes",
      "$47\r\n12345678901234567890123-12345678901234567890123\r\n",
      NGX_IOTHUB_REPLY_OK,
      "12345678901234567890123-12345678901234567890123" },
    { "eh_seek: 48 bytes",
      "$48\r\n123456789012345678901234-12345678901234567890123\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL },
    { "eh_seek: nil", "$-1\r\n", NGX_IOTHUB_REPLY_NIL, NULL },
    { "eh_seek: an integer", ":0\r\n", NGX_IOTHUB_REPLY_MALFORMED, NULL },
    { "eh_seek: an error", "-ERR no stream\r\n", NGX_IOTHUB_REPLY_ERROR,
      NULL },
};


static const eh_partition_case_t  eh_partition_cases[] = {
    { "eh_partition: events",
      "*3\r\n$3\r\n1-0\r\n$3\r\n9-4\r\n:5\r\n",
      NGX_IOTHUB_REPLY_OK, "1-0", "9-4", 5 },
    { "eh_partition: never written", "*3\r\n$0\r\n\r\n$0\r\n\r\n:0\r\n",
      NGX_IOTHUB_REPLY_OK, "", "", 0 },
    { "eh_partition: two elements", "*2\r\n$0\r\n\r\n$0\r\n\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0 },
    { "eh_partition: a string count",
      "*3\r\n$0\r\n\r\n$0\r\n\r\n$1\r\n0\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0 },
    { "eh_partition: an integer id", "*3\r\n:1\r\n$0\r\n\r\n:0\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0 },
    { "eh_partition: an id of 48 bytes",
      "*3\r\n$0\r\n\r\n"
      "$48\r\n123456789012345678901234-12345678901234567890123\r\n:0\r\n",
      NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0 },
    { "eh_partition: an error", "-NOSCRIPT No matching script\r\n",
      NGX_IOTHUB_REPLY_NOSCRIPT, NULL, NULL, 0 },
};


static const eh_group_case_t  eh_group_cases[] = {
    { "eh_groups: two, the second",
      "*4\r\n$1\r\na\r\n$4\r\nT1 A\r\n$2\r\nbc\r\n$5\r\nT2 bC\r\n",
      0, NGX_IOTHUB_REPLY_OK, 1, "bC", "T2", 0 },
    { "eh_groups: none", "*0\r\n", 0, NGX_IOTHUB_REPLY_MALFORMED, 0, NULL,
      NULL, 0 },
    { "eh_groups: odd", "*1\r\n$1\r\na\r\n", 0,
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL, 0 },
    { "eh_groups: no space in the value",
      "*2\r\n$1\r\na\r\n$2\r\nT1\r\n", 0,
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL, 0 },
    { "eh_groups: an empty name", "*2\r\n$1\r\na\r\n$3\r\nT1 \r\n", 0,
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL, 0 },
    { "eh_groups: an integer", "*2\r\n$1\r\na\r\n:1\r\n", 0,
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL, 0 },
    { "eh_group.lua: created", "*2\r\n:1\r\n$4\r\nT1 A\r\n", 1,
      NGX_IOTHUB_REPLY_OK, 0, "A", "T1", 1 },
    { "eh_group.lua: deleted", "*2\r\n:1\r\n$0\r\n\r\n", 1,
      NGX_IOTHUB_REPLY_OK, 0, "", "", 1 },
    { "eh_group.lua: full", "-FULL too many consumer groups\r\n", 1,
      NGX_IOTHUB_REPLY_FULL, 0, NULL, NULL, 0 },
    { "eh_group.lua: a string flag", "*2\r\n$1\r\n1\r\n$0\r\n\r\n", 1,
      NGX_IOTHUB_REPLY_MALFORMED, 0, NULL, NULL, 0 },
};


static const eh_read_case_t  eh_read_cases[] = {
    { "eh_read: an event",
      "*1\r\n*2\r\n$3\r\n5-1\r\n*6\r\n"
      "$4\r\nbody\r\n$2\r\nhi\r\n"
      "$12\r\np:message-id\r\n$2\r\nm1\r\n"
      "$5\r\nu:app\r\n$1\r\nv\r\n",
      NGX_IOTHUB_REPLY_OK, 1, 0, NGX_IOTHUB_REPLY_OK, "5-1", "hi", 2,
      NGX_IOTHUB_REPLY_EH_APPLICATION, "app", "v" },
    { "eh_read: the second event, an annotation, no body",
      "*2\r\n*2\r\n$3\r\n5-1\r\n*0\r\n"
      "*2\r\n$3\r\n5-2\r\n*2\r\n"
      "$21\r\na:iothub-enqueuedtime\r\n$3\r\nnow\r\n",
      NGX_IOTHUB_REPLY_OK, 2, 1, NGX_IOTHUB_REPLY_OK, "5-2", NULL, 1,
      NGX_IOTHUB_REPLY_EH_ANNOTATION, "iothub-enqueuedtime", "now" },
    { "eh_read: fields skipped",
      "*1\r\n*2\r\n$3\r\n5-1\r\n*9\r\n"
      "$2\r\nu:\r\n$1\r\nx\r\n"
      "$3\r\nz:q\r\n$1\r\nx\r\n"
      "$3\r\nu:i\r\n:7\r\n"
      "$4\r\np:to\r\n$1\r\nd\r\n"
      "$3\r\nu:o\r\n",
      NGX_IOTHUB_REPLY_OK, 1, 0, NGX_IOTHUB_REPLY_OK, "5-1", NULL, 1,
      NGX_IOTHUB_REPLY_EH_SYSTEM, "to", "d" },
    { "eh_read: an entry not a pair",
      "*1\r\n*1\r\n$3\r\n5-1\r\n",
      NGX_IOTHUB_REPLY_OK, 1, 0, NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0,
      0, NULL, NULL },
    { "eh_read: an integer id",
      "*1\r\n*2\r\n:5\r\n*0\r\n",
      NGX_IOTHUB_REPLY_OK, 1, 0, NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0,
      0, NULL, NULL },
    { "eh_read: an empty id",
      "*1\r\n*2\r\n$0\r\n\r\n*0\r\n",
      NGX_IOTHUB_REPLY_OK, 1, 0, NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0,
      0, NULL, NULL },
    { "eh_read: fields not an array",
      "*1\r\n*2\r\n$3\r\n5-1\r\n$0\r\n\r\n",
      NGX_IOTHUB_REPLY_OK, 1, 0, NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0,
      0, NULL, NULL },
    { "eh_read: none, an entry past the batch", "*0\r\n",
      NGX_IOTHUB_REPLY_OK, 0, 0, NGX_IOTHUB_REPLY_MALFORMED, NULL, NULL, 0,
      0, NULL, NULL },
    { "eh_read: nil", "*-1\r\n", NGX_IOTHUB_REPLY_MALFORMED, 0, 0, 0, NULL,
      NULL, 0, 0, NULL, NULL },
    { "eh_read: an error", "-ERR\r\n", NGX_IOTHUB_REPLY_ERROR, 0, 0, 0,
      NULL, NULL, 0, 0, NULL, NULL },
};


static void
test_check(void **state)
{
    const check_case_t *c = *state;

    redisReply              *r;
    ngx_iothub_reply_str_t   text;

    r = reply_of_str(c->resp);

    assert_int_equal(ngx_iothub_reply_check(r), c->rc);

    /* an error's text is the whole line, for the log */

    ngx_iothub_reply_error_text(r, &text);

    if (c->resp[0] == '-') {
        assert_int_equal(text.len, strlen(c->resp) - 3);
        assert_memory_equal(text.data, c->resp + 1, text.len);

    } else {
        assert_int_equal(text.len, 0);
    }

    freeReplyObject(r);
}


static void
test_lost(void **state)
{
    long long                   n, m;
    ngx_iothub_twin_t           t;
    ngx_iothub_identity_t       id;
    ngx_iothub_reply_c2d_t      c2d;
    ngx_iothub_reply_str_t      s;
    ngx_iothub_reply_scan_t     scan;
    ngx_iothub_reply_push_t     push;
    ngx_iothub_reply_connect_t  conn;
    size_t                      len;

    (void) state;

    assert_int_equal(ngx_iothub_reply_check(NULL), NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_integer(NULL, &n),
                     NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_integer_pair(NULL, &n, &m),
                     NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_bulk(NULL, &s), NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_status(NULL, &s),
                     NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_connect(NULL, &conn),
                     NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_c2d(NULL, &c2d),
                     NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_identity(NULL, &id),
                     NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_identity_get(NULL, &id, &n),
                     NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_list(NULL, &len),
                     NGX_IOTHUB_REPLY_LOST);
    assert_int_equal(ngx_iothub_reply_scan(NULL, &scan),
                     NGX_IOTHUB_REPLY_LOST);

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), NGX_IOTHUB_TWIN_OK);
    assert_int_equal(ngx_iothub_reply_twin_read(NULL, &t, &id, &n),
                     NGX_IOTHUB_REPLY_LOST);
    ngx_iothub_twin_free(&t);

    /* a lost reply is no push: a call fails */
    assert_int_equal(ngx_iothub_reply_push(NULL, &push),
                     NGX_IOTHUB_REPLY_MALFORMED);

    ngx_iothub_reply_error_text(NULL, &s);
    assert_int_equal(s.len, 0);
}


static void
test_connect(void **state)
{
    const connect_case_t *c = *state;

    redisReply                  *r;
    ngx_iothub_reply_connect_t   conn;

    r = reply_of_str(c->resp);

    assert_int_equal(ngx_iothub_reply_connect(r, &conn), c->rc);

    if (c->rc == NGX_IOTHUB_REPLY_OK) {
        assert_true(conn.features == c->features);
        assert_int_equal(conn.present, c->present);
    }

    freeReplyObject(r);
}


static void
test_c2d(void **state)
{
    const c2d_case_t *c = *state;

    redisReply              *r;
    ngx_iothub_reply_c2d_t   m;

    r = c->resp ? reply_of_str(c->resp) : reply_of_hash(c->fields);

    assert_int_equal(ngx_iothub_reply_c2d(r, &m), c->rc);

    if (c->rc != NGX_IOTHUB_REPLY_OK) {
        freeReplyObject(r);
        return;
    }

    assert_span(&m.n, c->n);
    assert_span(&m.body, c->body);

    assert_span(&m.ack, c->ack);
    assert_span(&m.message_id, c->message_id);
    assert_span(&m.expiry, c->expiry);
    assert_int_equal(m.napp, c->napp);
    assert_int_equal(m.app_dropped, 0);

    if (c->napp) {
        assert_span(&m.app_name[0], c->app_name);
        assert_span(&m.app_value[0], c->app_value);
    }

    freeReplyObject(r);
}


/* a body is bytes: NUL and CRLF included */

static void
test_c2d_binary(void **state)
{
    static const char  resp[] = "*4\r\n$4\r\nbody\r\n$4\r\na\0\r\n\r\n"
                                "$1\r\nn\r\n$1\r\n3\r\n";

    redisReply              *r;
    ngx_iothub_reply_c2d_t   m;

    (void) state;

    r = reply_of(resp, sizeof(resp) - 1);

    assert_int_equal(ngx_iothub_reply_c2d(r, &m), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(m.body.len, 4);
    assert_memory_equal(m.body.data, "a\0\r\n", 4);
    assert_span(&m.n, "3");

    freeReplyObject(r);
}


/* properties past the bound are counted, not kept */

static void
test_c2d_bound(void **state)
{
    char                     names[NGX_IOTHUB_REPLY_C2D_MAX_APP + 2][8];
    size_t                   i, n;
    redisReply              *r;
    const char              *fields[2 * (NGX_IOTHUB_REPLY_C2D_MAX_APP + 2)
                                    + 3];
    ngx_iothub_reply_c2d_t   m;

    (void) state;

    n = 0;

    for (i = 0; i < NGX_IOTHUB_REPLY_C2D_MAX_APP + 2; i++) {
        snprintf(names[i], sizeof(names[i]), "u:%zu", i);
        fields[n++] = names[i];
        fields[n++] = "v";
    }

    fields[n++] = "n";
    fields[n++] = "9";
    fields[n] = NULL;

    r = reply_of_hash(fields);

    assert_int_equal(ngx_iothub_reply_c2d(r, &m), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(m.napp, NGX_IOTHUB_REPLY_C2D_MAX_APP);
    assert_int_equal(m.app_dropped, 2);
    assert_span(&m.app_name[0], "0");
    assert_span(&m.app_name[NGX_IOTHUB_REPLY_C2D_MAX_APP - 1], "63");
    assert_span(&m.n, "9");

    freeReplyObject(r);
}


static void
test_identity(void **state)
{
    const identity_case_t *c = *state;

    redisReply             *r;
    ngx_iothub_identity_t   id;

    r = c->resp ? reply_of_str(c->resp) : reply_of_hash(c->fields);

    memset(&id, 0x5a, sizeof(id));

    assert_int_equal(ngx_iothub_reply_identity(r, &id), c->rc);

    /* a hash resets id first; anything else leaves it alone */

    if (c->rc != NGX_IOTHUB_REPLY_OK && c->rc != NGX_IOTHUB_REPLY_NIL) {
        assert_int_equal((unsigned char) id.device_id[0], 0x5a);
        assert_int_equal(id.iot_edge, 0x5a5a5a5a);
        freeReplyObject(r);
        return;
    }

    assert_string_equal(id.device_id, c->device_id);
    assert_string_equal(id.status, c->status);
    assert_string_equal(id.primary_key, c->primary_key);

    freeReplyObject(r);
}


/* identity_get.lua: { hash, queue length } */

static void
test_identity_get(void **state)
{
    long long               count;
    redisReply             *r;
    ngx_iothub_identity_t   id;

    (void) state;

    count = -1;
    r = reply_of_str("*2\r\n*4\r\n$8\r\ndeviceId\r\n$2\r\nd1\r\n"
                     "$6\r\nstatus\r\n$7\r\nenabled\r\n:3\r\n");
    assert_int_equal(ngx_iothub_reply_identity_get(r, &id, &count),
                     NGX_IOTHUB_REPLY_OK);
    assert_string_equal(id.device_id, "d1");
    assert_true(count == 3);
    freeReplyObject(r);

    count = -1;
    r = reply_of_str("*2\r\n*0\r\n:0\r\n");
    assert_int_equal(ngx_iothub_reply_identity_get(r, &id, &count),
                     NGX_IOTHUB_REPLY_NIL);
    assert_true(count == -1);
    freeReplyObject(r);

    r = reply_of_str("*2\r\n*1\r\n$1\r\nx\r\n:0\r\n");
    assert_int_equal(ngx_iothub_reply_identity_get(r, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    /* an error inside the array is not the script's error */
    r = reply_of_str("*2\r\n-NOT_FOUND\r\n:0\r\n");
    assert_int_equal(ngx_iothub_reply_identity_get(r, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*2\r\n*0\r\n$1\r\n0\r\n");
    assert_int_equal(ngx_iothub_reply_identity_get(r, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*1\r\n*0\r\n");
    assert_int_equal(ngx_iothub_reply_identity_get(r, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);
}


/* device_list.lua, module_list.lua: an array of hashes */

static void
test_list(void **state)
{
    size_t                  n;
    redisReply             *r;
    ngx_iothub_identity_t   id;

    (void) state;

    r = reply_of_str("*2\r\n*2\r\n$8\r\ndeviceId\r\n$1\r\na\r\n"
                     "*4\r\n$8\r\ndeviceId\r\n$1\r\nb\r\n"
                     "$8\r\nmoduleId\r\n$1\r\nm\r\n");
    assert_int_equal(ngx_iothub_reply_list(r, &n), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(n, 2);
    ngx_iothub_reply_list_identity(r, 0, &id);
    assert_string_equal(id.device_id, "a");
    assert_string_equal(id.module_id, "");
    ngx_iothub_reply_list_identity(r, 1, &id);
    assert_string_equal(id.device_id, "b");
    assert_string_equal(id.module_id, "m");
    freeReplyObject(r);

    r = reply_of_str("*0\r\n");
    assert_int_equal(ngx_iothub_reply_list(r, &n), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(n, 0);
    freeReplyObject(r);

    r = reply_of_str("-NO_DEVICE\r\n");
    assert_int_equal(ngx_iothub_reply_list(r, &n),
                     NGX_IOTHUB_REPLY_NO_DEVICE);
    freeReplyObject(r);

    r = reply_of_str("*2\r\n*0\r\n:1\r\n");
    assert_int_equal(ngx_iothub_reply_list(r, &n),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*1\r\n*1\r\n$1\r\na\r\n");
    assert_int_equal(ngx_iothub_reply_list(r, &n),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("$-1\r\n");
    assert_int_equal(ngx_iothub_reply_list(r, &n),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);
}


/* twin_read.lua: { twin hash, identity hash, queue length } */

static void
test_twin_read(void **state)
{
    long long               count;
    redisReply             *r;
    ngx_iothub_twin_t       t;
    ngx_iothub_identity_t   id;

    (void) state;

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), NGX_IOTHUB_TWIN_OK);
    r = reply_of_str("*3\r\n*4\r\n$7\r\nversion\r\n$1\r\n5\r\n"
                     "$7\r\ndesired\r\n$7\r\n{\"a\":1}\r\n"
                     "*2\r\n$8\r\ndeviceId\r\n$2\r\nd1\r\n:2\r\n");
    assert_int_equal(ngx_iothub_reply_twin_read(r, &t, &id, &count),
                     NGX_IOTHUB_REPLY_OK);
    assert_true(t.version == 5);
    assert_string_equal(t.desired, "{\"a\":1}");
    assert_string_equal(id.device_id, "d1");
    assert_true(count == 2);
    freeReplyObject(r);
    ngx_iothub_twin_free(&t);

    /* a stored version that is no number: the twin is corrupt */
    assert_int_equal(ngx_iothub_twin_init(&t, NULL), NGX_IOTHUB_TWIN_OK);
    r = reply_of_str("*3\r\n*2\r\n$7\r\nversion\r\n$1\r\nx\r\n"
                     "*0\r\n:0\r\n");
    assert_int_equal(ngx_iothub_reply_twin_read(r, &t, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("-NOT_FOUND\r\n");
    assert_int_equal(ngx_iothub_reply_twin_read(r, &t, &id, &count),
                     NGX_IOTHUB_REPLY_NOT_FOUND);
    freeReplyObject(r);

    r = reply_of_str("*2\r\n*0\r\n*0\r\n");
    assert_int_equal(ngx_iothub_reply_twin_read(r, &t, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*3\r\n*0\r\n*0\r\n$1\r\n0\r\n");
    assert_int_equal(ngx_iothub_reply_twin_read(r, &t, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*3\r\n*1\r\n$7\r\nversion\r\n*0\r\n:0\r\n");
    assert_int_equal(ngx_iothub_reply_twin_read(r, &t, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    ngx_iothub_twin_free(&t);
}


/* query_scan.lua: { last device id read, { twin, identity, count }, ... } */

static void
test_query_chunk(void **state)
{
    size_t                  n;
    long long               count;
    redisReply             *r;
    ngx_iothub_twin_t       t;
    ngx_iothub_identity_t   id;
    ngx_iothub_reply_str_t  next;

    (void) state;

    r = reply_of_str("*3\r\n$2\r\nd9\r\n"
                     "*3\r\n*2\r\n$4\r\ntags\r\n$9\r\n{\"k\":\"v\"}\r\n"
                     "*2\r\n$8\r\ndeviceId\r\n$2\r\nd1\r\n:3\r\n"
                     "*3\r\n*0\r\n*4\r\n$8\r\ndeviceId\r\n$2\r\nd2\r\n"
                     "$8\r\nmoduleId\r\n$1\r\nm\r\n:0\r\n");
    assert_int_equal(ngx_iothub_reply_query_chunk(r, &next, &n),
                     NGX_IOTHUB_REPLY_OK);
    assert_span(&next, "d9");
    assert_int_equal(n, 2);

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), NGX_IOTHUB_TWIN_OK);
    assert_int_equal(ngx_iothub_reply_query_twin(r, 0, &t, &id, &count),
                     NGX_IOTHUB_REPLY_OK);
    assert_string_equal(t.tags, "{\"k\":\"v\"}");
    assert_string_equal(id.device_id, "d1");
    assert_true(count == 3);
    ngx_iothub_twin_free(&t);

    assert_int_equal(ngx_iothub_twin_init(&t, NULL), NGX_IOTHUB_TWIN_OK);
    assert_int_equal(ngx_iothub_reply_query_twin(r, 1, &t, &id, &count),
                     NGX_IOTHUB_REPLY_OK);
    assert_string_equal(id.module_id, "m");
    assert_true(count == 0);
    ngx_iothub_twin_free(&t);
    freeReplyObject(r);

    /* the end of the walk, no twins */
    r = reply_of_str("*1\r\n$0\r\n\r\n");
    assert_int_equal(ngx_iothub_reply_query_chunk(r, &next, &n),
                     NGX_IOTHUB_REPLY_OK);
    assert_int_equal(next.len, 0);
    assert_int_equal(n, 0);
    freeReplyObject(r);

    r = reply_of_str("*0\r\n");
    assert_int_equal(ngx_iothub_reply_query_chunk(r, &next, &n),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*1\r\n:1\r\n");
    assert_int_equal(ngx_iothub_reply_query_chunk(r, &next, &n),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    /* a twin that is no triple */
    r = reply_of_str("*2\r\n$0\r\n\r\n$1\r\nx\r\n");
    assert_int_equal(ngx_iothub_reply_query_chunk(r, &next, &n),
                     NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ngx_iothub_twin_init(&t, NULL), NGX_IOTHUB_TWIN_OK);
    assert_int_equal(ngx_iothub_reply_query_twin(r, 0, &t, &id, &count),
                     NGX_IOTHUB_REPLY_MALFORMED);
    ngx_iothub_twin_free(&t);
    freeReplyObject(r);

    assert_int_equal(ngx_iothub_reply_query_chunk(NULL, &next, &n),
                     NGX_IOTHUB_REPLY_LOST);
}


static void
test_scalars(void **state)
{
    long long                n, m, v[3];
    redisReply              *r;
    ngx_iothub_reply_str_t   s;

    (void) state;

    r = reply_of_str(":-42\r\n");
    assert_int_equal(ngx_iothub_reply_integer(r, &n), NGX_IOTHUB_REPLY_OK);
    assert_true(n == -42);
    assert_int_equal(ngx_iothub_reply_bulk(r, &s),
                     NGX_IOTHUB_REPLY_MALFORMED);
    assert_int_equal(ngx_iothub_reply_status(r, &s),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("-FULL\r\n");
    assert_int_equal(ngx_iothub_reply_integer(r, &n), NGX_IOTHUB_REPLY_FULL);
    freeReplyObject(r);

    r = reply_of_str("$1\r\n1\r\n");
    assert_int_equal(ngx_iothub_reply_integer(r, &n),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*2\r\n:10\r\n:3\r\n");
    assert_int_equal(ngx_iothub_reply_integer_pair(r, &n, &m),
                     NGX_IOTHUB_REPLY_OK);
    assert_true(n == 10 && m == 3);
    assert_int_equal(ngx_iothub_reply_integer(r, &n),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*2\r\n:10\r\n$1\r\n3\r\n");
    assert_int_equal(ngx_iothub_reply_integer_pair(r, &n, &m),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    /* registry_stats.lua: total, disabled, connected */
    r = reply_of_str("*3\r\n:10\r\n:3\r\n:7\r\n");
    assert_int_equal(ngx_iothub_reply_integers(r, v, 3), NGX_IOTHUB_REPLY_OK);
    assert_true(v[0] == 10 && v[1] == 3 && v[2] == 7);
    assert_int_equal(ngx_iothub_reply_integers(r, v, 2),
                     NGX_IOTHUB_REPLY_MALFORMED);
    assert_int_equal(ngx_iothub_reply_integer_pair(r, &n, &m),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("*3\r\n:10\r\n:3\r\n$1\r\n7\r\n");
    assert_int_equal(ngx_iothub_reply_integers(r, v, 3),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("-NOSCRIPT No matching script\r\n");
    assert_int_not_equal(ngx_iothub_reply_integers(r, v, 3),
                         NGX_IOTHUB_REPLY_OK);
    freeReplyObject(r);

    r = reply_of_str("$15\r\n1700000000000-0\r\n");
    assert_int_equal(ngx_iothub_reply_bulk(r, &s), NGX_IOTHUB_REPLY_OK);
    assert_span(&s, "1700000000000-0");
    freeReplyObject(r);

    r = reply_of_str("$-1\r\n");
    assert_int_equal(ngx_iothub_reply_bulk(r, &s), NGX_IOTHUB_REPLY_NIL);
    assert_int_equal(ngx_iothub_reply_status(r, &s), NGX_IOTHUB_REPLY_NIL);
    freeReplyObject(r);

    r = reply_of_str("+OK\r\n");
    assert_int_equal(ngx_iothub_reply_status(r, &s), NGX_IOTHUB_REPLY_OK);
    assert_span(&s, "OK");
    assert_int_equal(ngx_iothub_reply_bulk(r, &s),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    r = reply_of_str("$0\r\n\r\n");
    assert_int_equal(ngx_iothub_reply_bulk(r, &s), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(s.len, 0);
    freeReplyObject(r);
}


static void
test_scan(void **state)
{
    const scan_case_t *c = *state;

    redisReply               *r;
    ngx_iothub_reply_str_t    key;
    ngx_iothub_reply_scan_t   scan;

    r = reply_of_str(c->resp);

    assert_int_equal(ngx_iothub_reply_scan(r, &scan), c->rc);

    if (c->rc == NGX_IOTHUB_REPLY_OK) {
        assert_span(&scan.cursor, c->cursor);
        assert_int_equal(scan.nkeys, c->nkeys);

        if (c->nkeys) {
            ngx_iothub_reply_scan_key(&scan, c->nkeys - 1, &key);
            assert_span(&key, c->last_key);
        }
    }

    freeReplyObject(r);
}


static void
test_push(void **state)
{
    const push_case_t *c = *state;

    redisReply               *r;
    ngx_iothub_reply_push_t   push;

    r = reply_of_str(c->resp);

    assert_int_equal(ngx_iothub_reply_push(r, &push), c->rc);

    if (c->rc == NGX_IOTHUB_REPLY_OK) {
        assert_int_equal(push.kind, c->kind);
        assert_span(&push.channel, c->channel);
        assert_span(&push.payload, c->payload);
    }

    freeReplyObject(r);
}


static void
test_eh_seek(void **state)
{
    const eh_seek_case_t *c = *state;

    redisReply              *r;
    ngx_iothub_reply_str_t   id;

    r = reply_of_str(c->resp);

    assert_int_equal(ngx_iothub_reply_eh_seek(r, &id), c->rc);

    if (c->rc == NGX_IOTHUB_REPLY_OK) {
        assert_span(&id, c->id);
    }

    freeReplyObject(r);
}


static void
test_eh_partition(void **state)
{
    const eh_partition_case_t *c = *state;

    redisReply                       *r;
    ngx_iothub_reply_eh_partition_t   p;

    r = reply_of_str(c->resp);

    assert_int_equal(ngx_iothub_reply_eh_partition(r, &p), c->rc);

    if (c->rc == NGX_IOTHUB_REPLY_OK) {
        assert_span(&p.first, c->first);
        assert_span(&p.last, c->last);
        assert_int_equal(p.entries, c->entries);
    }

    freeReplyObject(r);
}


static void
test_eh_group(void **state)
{
    const eh_group_case_t *c = *state;

    size_t                        n;
    long long                     done;
    redisReply                   *r;
    ngx_iothub_reply_rc_e         rc;
    ngx_iothub_reply_eh_group_t   g;

    r = reply_of_str(c->resp);
    done = 0;

    if (c->op) {
        rc = ngx_iothub_reply_eh_group_op(r, &done, &g);

    } else {
        rc = ngx_iothub_reply_eh_groups(r, &n);

        if (rc == NGX_IOTHUB_REPLY_OK) {
            rc = ngx_iothub_reply_eh_group(r, c->at, &g);
        }
    }

    assert_int_equal(rc, c->rc);

    if (rc == NGX_IOTHUB_REPLY_OK) {
        assert_span(&g.name, c->group);
        assert_span(&g.created, c->created);
        assert_int_equal(done, c->done);
    }

    freeReplyObject(r);
}


static void
test_eh_read(void **state)
{
    const eh_read_case_t *c = *state;

    size_t                              n;
    redisReply                         *r;
    ngx_iothub_reply_eh_prop_t         *last;
    static ngx_iothub_reply_eh_event_t  ev;

    r = reply_of_str(c->resp);

    assert_int_equal(ngx_iothub_reply_eh_read(r, &n), c->rc);

    if (c->rc != NGX_IOTHUB_REPLY_OK) {
        freeReplyObject(r);
        return;
    }

    assert_int_equal(n, c->n);

    assert_int_equal(first_message(r, c->at, &ev), c->entry_rc);

    if (c->entry_rc == NGX_IOTHUB_REPLY_OK) {
        assert_span(&ev.id, c->id);
        assert_int_equal(ev.has_body, c->body != NULL);
        assert_span(&ev.body, c->body ? c->body : "");
        assert_int_equal(ev.nprops, c->nprops);
        assert_int_equal(ev.props_dropped, 0);

        /* the spans end with a NUL: proton reads some as C strings */
        assert_int_equal(ev.body.data[ev.body.len], '\0');

        if (c->nprops) {
            last = &ev.prop[c->nprops - 1];
            assert_int_equal(last->kind, c->kind);
            assert_span(&last->name, c->prop_name);
            assert_span(&last->value, c->prop_value);
            assert_int_equal(last->value.data[last->value.len], '\0');
        }
    }

    freeReplyObject(r);
}


/* properties past NGX_IOTHUB_REPLY_EH_MAX_PROPS are counted, not kept */

static void
test_eh_read_bound(void **state)
{
    char                               *resp, *p;
    size_t                              i, n, extra;
    redisReply                         *r;
    static ngx_iothub_reply_eh_event_t  ev;

    (void) state;

    extra = 3;
    n = NGX_IOTHUB_REPLY_EH_MAX_PROPS + extra;

    resp = malloc(64 + n * 40);
    assert_non_null(resp);

    p = resp + sprintf(resp, "*1\r\n*2\r\n$3\r\n7-9\r\n*%zu\r\n", n * 2);

    for (i = 0; i < n; i++) {
        p += sprintf(p, "$6\r\nu:%04zu\r\n$1\r\nv\r\n", i);
    }

    r = reply_of(resp, p - resp);
    free(resp);

    assert_int_equal(ngx_iothub_reply_eh_read(r, &n), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(first_message(r, 0, &ev),
                     NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ev.nprops, NGX_IOTHUB_REPLY_EH_MAX_PROPS);
    assert_int_equal(ev.props_dropped, extra);
    assert_span(&ev.prop[0].name, "0000");
    assert_span(&ev.prop[NGX_IOTHUB_REPLY_EH_MAX_PROPS - 1].name, "0127");

    freeReplyObject(r);
}


/*
 * sbstream_receive.lua's records, read by each stream's field table: the
 * fields land in the table's order, unknown ones are skipped, absent ones
 * empty; a record that is not { id, hash } is MALFORMED.
 */

static void
test_records(void **state)
{
    size_t                     n;
    redisReply                *r;
    ngx_iothub_reply_record_t  rec;

    (void) state;

    r = reply_of_str("*2\r\n"
                     "*2\r\n$3\r\n1-0\r\n*6\r\n"
                     "$8\r\nblobName\r\n$6\r\nd1/a.b\r\n"
                     "$5\r\nextra\r\n$1\r\nx\r\n"
                     "$15\r\nblobSizeInBytes\r\n$2\r\n42\r\n"
                     "*2\r\n$3\r\n2-0\r\n*2\r\n"
                     "$8\r\ndeviceId\r\n$2\r\nd2\r\n");

    assert_int_equal(ngx_iothub_reply_records(r, &n), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(n, 2);

    ngx_iothub_reply_record(r, 0, ngx_iothub_reply_filenotification_names,
                            NGX_IOTHUB_REPLY_FILENOTIFICATION_FIELDS, &rec);
    assert_span(&rec.value[2], "d1/a.b");
    assert_span(&rec.value[4], "42");
    assert_int_equal(rec.value[0].len, 0);
    assert_true(ngx_iothub_reply_filenotification_names[4].number);

    ngx_iothub_reply_record(r, 1, ngx_iothub_reply_feedback_names,
                            NGX_IOTHUB_REPLY_FEEDBACK_FIELDS, &rec);
    assert_span(&rec.value[4], "d2");

    freeReplyObject(r);

    r = reply_of_str("*1\r\n*2\r\n$3\r\n1-0\r\n$1\r\nx\r\n");
    assert_int_equal(ngx_iothub_reply_records(r, &n),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    /* an import/export job (bulkjob_*.lua): all 11 fields, last one too */

    r = reply_of_str("*1\r\n"
                     "*2\r\n$2\r\nj1\r\n*6\r\n"
                     "$4\r\ntype\r\n$6\r\nexport\r\n"
                     "$8\r\nprogress\r\n$2\r\n99\r\n"
                     "$14\r\noutputBlobName\r\n$3\r\na.b\r\n");
    assert_int_equal(ngx_iothub_reply_records(r, &n), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(n, 1);
    assert_true(NGX_IOTHUB_REPLY_BULKJOB_FIELDS
                <= NGX_IOTHUB_REPLY_RECORD_FIELDS_MAX);
    ngx_iothub_reply_record(r, 0, ngx_iothub_reply_bulkjob_names,
                            NGX_IOTHUB_REPLY_BULKJOB_FIELDS, &rec);
    assert_span(&rec.value[0], "export");
    assert_span(&rec.value[2], "99");
    assert_span(&rec.value[10], "a.b");
    assert_int_equal(rec.value[1].len, 0);
    freeReplyObject(r);

    r = reply_of_str("-FULL\r\n");
    assert_int_equal(ngx_iothub_reply_records(r, &n),
                     NGX_IOTHUB_REPLY_FULL);
    freeReplyObject(r);

    r = reply_of_str("-EXPIRED the upload's SAS expired\r\n");
    assert_int_equal(ngx_iothub_reply_integer(r, (long long *) &n),
                     NGX_IOTHUB_REPLY_EXPIRED);
    freeReplyObject(r);
}


/*
 * The reply of len bytes of RESP, fed one byte at a time: no reply may
 * come before the last byte, and nothing may follow it.
 */

static redisReply *
reply_of(const char *resp, size_t len)
{
    void         *reply;
    size_t        i;
    redisReader  *reader;

    reader = redisReaderCreate();
    assert_non_null(reader);

    reply = NULL;

    for (i = 0; i < len; i++) {
        assert_null(reply);
        assert_int_equal(redisReaderFeed(reader, resp + i, 1), REDIS_OK);
        assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    }

    assert_non_null(reply);

    redisReaderFree(reader);

    return reply;
}


static redisReply *
reply_of_str(const char *resp)
{
    return reply_of(resp, strlen(resp));
}


static redisReply *
reply_of_hash(const char *const *fields)
{
    char        *resp;
    size_t       len;
    redisReply  *r;

    resp = resp_hash(fields, &len);
    r = reply_of(resp, len);
    free(resp);

    return r;
}


/* an array of bulk strings, as HGETALL answers */

static char *
resp_hash(const char *const *fields, size_t *len)
{
    char    *resp, *p;
    size_t   n, size;

    size = 32;

    for (n = 0; fields[n]; n++) {
        size += strlen(fields[n]) + 32;
    }

    resp = malloc(size);
    assert_non_null(resp);

    p = resp + sprintf(resp, "*%zu\r\n", n);

    for (n = 0; fields[n]; n++) {
        p += sprintf(p, "$%zu\r\n%s\r\n", strlen(fields[n]), fields[n]);
    }

    *len = p - resp;

    return resp;
}


static void
assert_span(ngx_iothub_reply_str_t *s, const char *expected)
{
    assert_int_equal(s->len, strlen(expected));

    if (s->len) {
        assert_memory_equal(s->data, expected, s->len);
    }
}


/* the first message of entry i, as a reader gets it */

static ngx_iothub_reply_rc_e
first_message(const redisReply *r, size_t i, ngx_iothub_reply_eh_event_t *ev)
{
    ngx_iothub_reply_rc_e               rc;
    static ngx_iothub_reply_eh_entry_t  e;

    rc = ngx_iothub_reply_eh_entry(r, i, &e);

    return rc == NGX_IOTHUB_REPLY_OK ? ngx_iothub_reply_eh_message(&e, ev)
                                     : rc;
}


/*
 * An XRANGE answer of one entry "7-12" with fields n and m (the packed
 * bytes), written into resp; returns its length.
 */
static size_t
packed_entry(char *resp, const char *n, const unsigned char *m, size_t len)
{
    char  *p;

    p = resp + sprintf(resp, "*1\r\n*2\r\n$4\r\n7-12\r\n*4\r\n$1\r\nn\r\n"
                       "$%zu\r\n%s\r\n$1\r\nm\r\n$%zu\r\n",
                       strlen(n), n, len);
    memcpy(p, m, len);
    p += len;
    memcpy(p, "\r\n", 2);

    return p + 2 - resp;
}


/* three messages packed by the writer, read back in order */

static void
test_eh_packed(void **state)
{
    char                                resp[2048];
    size_t                              len;
    redisReply                         *r;
    unsigned char                       m[1024], *p;
    ngx_iothub_args_t                   a;
    static ngx_iothub_reply_eh_entry_t  e;
    static ngx_iothub_reply_eh_event_t  ev;

    (void) state;

    p = m;

    a.n = 0;
    ngx_iothub_args_add_str(&a, "a:iothub-connection-device-id");
    ngx_iothub_args_add_str(&a, "d1");
    ngx_iothub_args_add_str(&a, "body");
    ngx_iothub_args_add(&a, "x\0y", 3);
    assert_int_equal(ngx_iothub_d2c_pack_size(&a), 2 + 4 * (4 + 1) + 29 + 2
                                                   + 4 + 3);
    p = ngx_iothub_d2c_pack(p, &a);

    a.n = 0;
    ngx_iothub_args_add_str(&a, "u:k");
    ngx_iothub_args_add_str(&a, "");
    p = ngx_iothub_d2c_pack(p, &a);

    a.n = 0;
    p = ngx_iothub_d2c_pack(p, &a);

    len = packed_entry(resp, "3", m, p - m);
    r = reply_of(resp, len);

    assert_int_equal(ngx_iothub_reply_eh_entry(r, 0, &e), NGX_IOTHUB_REPLY_OK);
    assert_span(&e.id, "7-12");
    assert_int_equal(e.count, 3);

    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_OK);
    assert_span(&ev.id, "7-12");
    assert_int_equal(ev.nprops, 1);
    assert_int_equal(ev.prop[0].kind, NGX_IOTHUB_REPLY_EH_ANNOTATION);
    assert_span(&ev.prop[0].name, "iothub-connection-device-id");
    assert_span(&ev.prop[0].value, "d1");
    assert_int_equal(ev.prop[0].value.data[2], '\0');
    assert_int_equal(ev.has_body, 1);
    assert_int_equal(ev.body.len, 3);
    assert_memory_equal(ev.body.data, "x\0y", 3);
    assert_int_equal(ev.body.data[3], '\0');

    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ev.nprops, 1);
    assert_int_equal(ev.prop[0].kind, NGX_IOTHUB_REPLY_EH_APPLICATION);
    assert_span(&ev.prop[0].value, "");
    assert_int_equal(ev.has_body, 0);

    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ev.nprops, 0);

    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_NIL);
    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_NIL);

    freeReplyObject(r);
}


/* counts and bytes that do not agree, cut or unterminated strings */

static void
test_eh_packed_malformed(void **state)
{
    char                                resp[512];
    size_t                              i, len;
    redisReply                         *r;
    unsigned char                       m[256], *end;
    ngx_iothub_args_t                   a;
    static ngx_iothub_reply_eh_entry_t  e;
    static ngx_iothub_reply_eh_event_t  ev;

    static const char  *bad_counts[] = { "0", "-1", "x", "", "1234567890" };

    (void) state;

    a.n = 0;
    ngx_iothub_args_add_str(&a, "body");
    ngx_iothub_args_add_str(&a, "hello");
    end = ngx_iothub_d2c_pack(m, &a);

    for (i = 0; i < sizeof(bad_counts) / sizeof(bad_counts[0]); i++) {
        r = reply_of(resp, packed_entry(resp, bad_counts[i], m, end - m));
        assert_int_equal(ngx_iothub_reply_eh_entry(r, 0, &e),
                         NGX_IOTHUB_REPLY_MALFORMED);
        freeReplyObject(r);
    }

    /* two announced, one there */
    r = reply_of(resp, packed_entry(resp, "2", m, end - m));
    assert_int_equal(ngx_iothub_reply_eh_entry(r, 0, &e), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    /* every cut of the message */
    for (len = 0; len < (size_t) (end - m); len++) {
        r = reply_of(resp, packed_entry(resp, "1", m, len));
        assert_int_equal(ngx_iothub_reply_eh_entry(r, 0, &e),
                         NGX_IOTHUB_REPLY_OK);
        assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                         NGX_IOTHUB_REPLY_MALFORMED);
        freeReplyObject(r);
    }

    /* a string without its NUL, and a length past the end */
    m[2 + 4 + 4] = 'x';
    r = reply_of(resp, packed_entry(resp, "1", m, end - m));
    assert_int_equal(ngx_iothub_reply_eh_entry(r, 0, &e), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);

    m[2 + 4 + 4] = '\0';
    m[2] = 0xff;
    r = reply_of(resp, packed_entry(resp, "1", m, end - m));
    assert_int_equal(ngx_iothub_reply_eh_entry(r, 0, &e), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_MALFORMED);
    freeReplyObject(r);
}


/* the names packed as one byte and the auth method's value codes */

static void
test_eh_packed_names(void **state)
{
    char                                resp[1024];
    redisReply                         *r;
    unsigned char                       m[512], *end;
    ngx_iothub_args_t                   a;
    static ngx_iothub_reply_eh_entry_t  e;
    static ngx_iothub_reply_eh_event_t  ev;

    (void) state;

    a.n = 0;
    ngx_iothub_args_add(&a, NGX_IOTHUB_D2C_PACK_DEVICE_ID, 1);
    ngx_iothub_args_add_str(&a, "d1");
    ngx_iothub_args_add(&a, NGX_IOTHUB_D2C_PACK_AUTH_METHOD, 1);
    ngx_iothub_args_add(&a, ngx_iothub_d2c_pack_auth_method(1, 1), 1);
    ngx_iothub_args_add(&a, "\x1f", 1);                 /* unknown: skipped */
    ngx_iothub_args_add_str(&a, "x");
    ngx_iothub_args_add(&a, NGX_IOTHUB_D2C_PACK_AUTH_METHOD, 1);
    ngx_iothub_args_add(&a, "\x06", 1);                 /* no such method */
    ngx_iothub_args_add(&a, NGX_IOTHUB_D2C_PACK_BODY, 1);
    ngx_iothub_args_add_str(&a, "hi");
    end = ngx_iothub_d2c_pack(m, &a);

    r = reply_of(resp, packed_entry(resp, "1", m, end - m));

    assert_int_equal(ngx_iothub_reply_eh_entry(r, 0, &e), NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ngx_iothub_reply_eh_message(&e, &ev),
                     NGX_IOTHUB_REPLY_OK);
    assert_int_equal(ev.nprops, 2);
    assert_span(&ev.prop[0].name, "iothub-connection-device-id");
    assert_span(&ev.prop[0].value, "d1");
    assert_span(&ev.prop[1].name, "iothub-connection-auth-method");
    assert_span(&ev.prop[1].value,
                "{\"scope\":\"module\",\"type\":\"x509Certificate\","
                "\"issuer\":\"iothub\",\"acceptingIpFilterRule\":null}");
    assert_int_equal(ev.prop[1].value.data[ev.prop[1].value.len], '\0');
    assert_int_equal(ev.has_body, 1);
    assert_span(&ev.body, "hi");

    freeReplyObject(r);
}


int
main(void)
{
    int  failed;

    const struct CMUnitTest  shapes[] = {
        cmocka_unit_test(test_lost),
        cmocka_unit_test(test_c2d_binary),
        cmocka_unit_test(test_c2d_bound),
        cmocka_unit_test(test_identity_get),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_twin_read),
        cmocka_unit_test(test_query_chunk),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_eh_read_bound),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_eh_packed),
        cmocka_unit_test(test_eh_packed_malformed),
        cmocka_unit_test(test_eh_packed_names),
    };

    static const table_t  tables[] = {
        TABLE("error codes", test_check, check_cases),
        TABLE("session_connect.lua", test_connect, connect_cases),
        TABLE("c2d_receive.lua", test_c2d, c2d_cases),
        TABLE("identity hashes", test_identity, identity_cases),
        TABLE("SCAN", test_scan, scan_cases),
        TABLE("subscriber pushes", test_push, push_cases),
        TABLE("eh_seek.lua", test_eh_seek, eh_seek_cases),
        TABLE("eh_read.lua", test_eh_read, eh_read_cases),
        TABLE("eh_partition.lua", test_eh_partition, eh_partition_cases),
        TABLE("consumer groups", test_eh_group, eh_group_cases),
    };

    size_t  i;

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("reply shapes", shapes, NULL,
                                          NULL);

    return failed ? 1 : 0;
}
