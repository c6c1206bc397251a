
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of ngx_iothub_mqtt/ngx_iothub_mqtt_topic.c: the CONNECT user
 * name, device topics, property bags, hub topics and subscription
 * filters.  Every table row is a named cmocka test and names the section
 * of the reference (mqtt.md, auth.md, sdk-traffic.md) or the MQTT 3.1.1
 * clause it checks; examples are copied from the reference.  Build and
 * run from the repository root:
 *
 *     cc -std=gnu99 -Wall -Wextra -Wpointer-arith -Werror \
 *         -Ingx_iothub_mqtt t/unit/test_mqtt_topic.c \
 *         ngx_iothub_mqtt/ngx_iothub_mqtt_topic.c -lcmocka -o /tmp/t2
 *     /tmp/t2
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

#include "ngx_iothub_mqtt_topic.h"


#define OUT_MAX      2048

/* sdk-traffic.md 2 and mqtt.md 5 */
#define UA_NODE      "azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20"   \
                     "Debian%2012%3B%20x64)"
#define UA_C         "iothubclient%2F1.x.x%20(native%3B%20Linux%3B%20"      \
                     "x86_64)"
#define DEV_NODE     "acc-5ff7087a-mqtt-16"
#define MID_HUB      "84c08717-2be1-404c-9e5d-62f4565ca58b"
#define BAG_HUB      "%24.mid=" MID_HUB "&%24.to=%2Fdevices%2Fdev1%2F"       \
                     "messages%2FdeviceBound&iothub-ack=full"
#define BAG_C2D      "%24.mid=capture-c2d-1&%24.cid=capture-corr&%24.to="    \
                     "%2Fdevices%2Fdev1%2Fmessages%2Fdevicebound&color=blue"  \
                     "&a%20b=c%26d"
#define BAG_D2C      "%24.mid=m-42&%24.cid=corr-1&%24.ct=application%2Fjson" \
                     "&%24.ce=utf-8&alert=high&sp%20ace%26amp%3Dx="          \
                     "v%2Fa%20l%3Fu%23e"
#define BAG_MQTT4    "%24.mid=m-42&%24.ct=application%2Fjson&%24.ce=utf-8"   \
                     "&alert=high"
#define UUID         "0f8fad5b-d9cb-469f-a165-70867728950e"


#define NPROPS(a)    (sizeof(a) / sizeof(a[0]))

#define S(s)         { sizeof(s) - 1, (const u_char *) (s) }
#define PROP(sys, k, v)                                                       \
    { NGX_IOTHUB_MQTT_PROP_##sys, S(k), S(v) }
#define PROP_NULL(sys, k)                                                     \
    { NGX_IOTHUB_MQTT_PROP_##sys, S(k), { 0, NULL } }


/* expected: "host|device|module|api-version|client type|model id" */
typedef struct {
    const char                  *name;
    const char                  *text;
    ngx_iothub_mqtt_topic_rc_e   rc;
    const char                  *expected;
} username_case_t;


/*
 * expected: "kind device module props rid version status", absent spans
 * as "-"; the identity: device, and module or NULL, for owned
 */
typedef struct {
    const char                  *name;
    const char                  *topic;
    const char                  *expected;
    const char                  *device;
    const char                  *module;
    int                          owned;
} pub_case_t;


/*
 * expected: "sys:key=value" per property joined with "|", "sys:key" for a
 * null value; max 16 and a buffer of the bag's length unless set
 */
typedef struct {
    const char                  *name;
    const char                  *bag;
    ngx_iothub_mqtt_topic_rc_e   rc;
    const char                  *expected;
    size_t                       max;
    size_t                       size;
} props_case_t;


typedef struct {
    const char                  *name;
    const ngx_iothub_mqtt_prop_t *props;
    size_t                       n;
    const char                  *expected;
} encode_case_t;


typedef enum {
    BUILD_C2D = 0,
    BUILD_INPUT,
    BUILD_TWIN_RES,
    BUILD_DESIRED,
    BUILD_METHOD
} build_e;


typedef struct {
    const char                  *name;
    build_e                      kind;
    const char                  *a;        /* device, method name */
    const char                  *b;        /* module, rid */
    const char                  *c;        /* input name */
    u_int                        status;
    long long                    version;
    const ngx_iothub_mqtt_prop_t *props;
    size_t                       n;
    const char                  *expected;
} build_case_t;


typedef struct {
    const char                  *name;
    const char                  *filter;
    int                          valid;
} filter_case_t;


typedef struct {
    const char                  *name;
    const char                  *filter;
    const char                  *topic;
    int                          match;
} match_case_t;


typedef struct {
    const char                  *name;
    const char                  *filter;
    const char                  *device;
    const char                  *module;
    u_int                        feature;
} feature_case_t;


/* decode: rc and result; encode and id: result */
typedef struct {
    const char                  *name;
    const char                  *in;
    ngx_iothub_mqtt_topic_rc_e   rc;
    const char                  *out;
} pct_case_t;


typedef struct {
    const char                  *name;
    const char                  *seg;
    const char                  *id;
    int                          match;
} id_case_t;


static void test_username(void **state);
static void test_pub(void **state);
static void test_props(void **state);
static void test_encode(void **state);
static void test_build(void **state);
static void test_filter_valid(void **state);
static void test_filter_match(void **state);
static void test_feature(void **state);
static void test_pct_decode(void **state);
static void test_pct_encode(void **state);
static void test_id_encode(void **state);
static void test_id_match(void **state);
static void test_props_round_trip(void **state);
static void test_feed_bag(void **state);
static void test_truncation(void **state);
static void test_prop_names(void **state);
static void test_strerror(void **state);
static size_t build(u_char *buf, size_t size, const build_case_t *c);
static void render_pub(char *out, const ngx_iothub_mqtt_pub_t *t);
static void render_props(char *out, const ngx_iothub_mqtt_prop_t *props,
    size_t n);
static void append(char *out, const char *fmt, ...);
static void append_str(char *out, const ngx_iothub_mqtt_str_t *s);
static ngx_iothub_mqtt_str_t str(const char *s);


static const char  *prop_short[] = {
    "app", "mid", "cid", "uid", "to", "ct", "ce", "exp", "on", "ifid",
    "sub", "ctime", "diagid", "diagctx", "cdid", "cmid", "other"
};


static const username_case_t  username_cases[] = {

    /* sdk-traffic.md 2, auth.md 6.1, mqtt.md 2 */

    { "sdk-traffic 2 Node device",
      "localhost/" DEV_NODE "/?api-version=2021-04-12&DeviceClientType="
      UA_NODE,
      NGX_IOTHUB_MQTT_TOPIC_OK,
      "localhost|" DEV_NODE "||2021-04-12|" UA_NODE "|" },
    { "sdk-traffic 2 Node module",
      "localhost/dev1/mod1/?api-version=2021-04-12&DeviceClientType="
      UA_NODE,
      NGX_IOTHUB_MQTT_TOPIC_OK,
      "localhost|dev1|mod1|2021-04-12|" UA_NODE "|" },
    { "auth.md 6.1 Node appends model-id unencoded",
      "h.example.com/dev1/?api-version=2021-04-12&DeviceClientType=x"
      "&model-id=dtmi:com:example:Thermostat;1",
      NGX_IOTHUB_MQTT_TOPIC_OK,
      "h.example.com|dev1||2021-04-12|x|dtmi:com:example:Thermostat;1" },
    { "auth.md 6.1 C SDK, model-id URL-encoded, kept raw",
      "host/dev1/?api-version=2020-09-30&DeviceClientType=" UA_C
      "&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1",
      NGX_IOTHUB_MQTT_TOPIC_OK,
      "host|dev1||2020-09-30|" UA_C
      "|dtmi%3Acom%3Aexample%3AThermostat%3B1" },
    { "auth.md 6.1 old SDKs: api-version= as a segment, no \"?\"",
      "host/dev1/api-version=2016-11-14&DeviceClientType=" UA_C,
      NGX_IOTHUB_MQTT_TOPIC_OK,
      "host|dev1||2016-11-14|" UA_C "|" },
    { "auth.md 6.1 old form for a module",
      "host/dev1/mod1/api-version=2018-06-30",
      NGX_IOTHUB_MQTT_TOPIC_OK, "host|dev1|mod1|2018-06-30||" },
    { "auth.md 6.1 very old docs: host/dev1",
      "host/dev1", NGX_IOTHUB_MQTT_TOPIC_OK, "host|dev1||||" },
    { "auth.md 6.1 trailing empty segment",
      "host/dev1/", NGX_IOTHUB_MQTT_TOPIC_OK, "host|dev1||||" },
    { "auth.md 6.1 module with trailing empty segment",
      "host/dev1/mod1/", NGX_IOTHUB_MQTT_TOPIC_OK, "host|dev1|mod1|||" },
    { "auth.md 6.1 empty query",
      "host/dev1/?", NGX_IOTHUB_MQTT_TOPIC_OK, "host|dev1||||" },
    { "query names case-insensitive, the first one wins",
      "host/dev1/?API-Version=1&api-version=2&deviceclienttype=ua",
      NGX_IOTHUB_MQTT_TOPIC_OK, "host|dev1||1|ua|" },
    { "bare names and unknown pairs in the query are skipped",
      "host/dev1/?flag&x=y&&api-version=1&",
      NGX_IOTHUB_MQTT_TOPIC_OK, "host|dev1||1||" },
    { "auth.md 4 id characters: \"?\" inside a segment is part of the id",
      "host/d?ev:1/?api-version=1",
      NGX_IOTHUB_MQTT_TOPIC_OK, "host|d?ev:1||1||" },

    { "auth.md 6.1 empty user name", "", NGX_IOTHUB_MQTT_TOPIC_MALFORMED,
      NULL },
    { "auth.md 6.1 host only", "host", NGX_IOTHUB_MQTT_TOPIC_MALFORMED,
      NULL },
    { "auth.md 6.1 host and an empty segment", "host/",
      NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL },
    { "auth.md 6.1 no device before the query", "host/?api-version=1",
      NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL },
    { "auth.md 6.1 empty host", "/dev1/?api-version=1",
      NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL },
    { "auth.md 6.1 empty segment inside", "host//dev1",
      NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL },
    { "auth.md 6.1 two trailing empty segments", "host/dev1//",
      NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL },
    { "auth.md 6.1 four path segments", "host/dev1/mod1/x/?api-version=1",
      NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL },
    { "auth.md 6.1 query only", "?api-version=1",
      NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL },
};


static const pub_case_t  pub_cases[] = {

    /* mqtt.md 4 telemetry */

    { "mqtt.md 4 telemetry example",
      "devices/dev1/messages/events/" BAG_MQTT4,
      "telemetry dev1 - " BAG_MQTT4 " - - 0", "dev1", NULL, 1 },
    { "sdk-traffic 2 Node telemetry with an encoded app key",
      "devices/" DEV_NODE "/messages/events/" BAG_D2C,
      "telemetry " DEV_NODE " - " BAG_D2C " - - 0", DEV_NODE, NULL, 1 },
    { "mqtt.md 4 no properties: the prefix ends with \"/\"",
      "devices/dev1/messages/events/",
      "telemetry dev1 - (empty) - - 0", "dev1", NULL, 1 },
    { "mqtt.md 4 old form without the final \"/\"",
      "devices/dev1/messages/events",
      "telemetry dev1 - (empty) - - 0", "dev1", NULL, 1 },
    { "mqtt.md 4 Node sendOutputEvent: one \"/\" after the bag dropped",
      "devices/dev1/modules/mod1/messages/events/%24.on=out1&a=b/",
      "telemetry dev1 mod1 %24.on=out1&a=b - - 0", "dev1", "mod1", 1 },
    { "mqtt.md 4 only one trailing \"/\" is dropped",
      "devices/dev1/messages/events/a=b//",
      "telemetry dev1 - a=b/ - - 0", "dev1", NULL, 1 },
    { "mqtt.md 3 module telemetry without properties",
      "devices/dev1/modules/mod1/messages/events/",
      "telemetry dev1 mod1 (empty) - - 0", "dev1", "mod1", 1 },
    { "mqtt.md 3 Python percent-encodes ids",
      "devices/dev%231/messages/events/",
      "telemetry dev%231 - (empty) - - 0", "dev#1", NULL, 1 },

    /* ownership, mqtt.md 3 and 11 */

    { "mqtt.md 11 another device's telemetry topic",
      "devices/dev2/messages/events/",
      "telemetry dev2 - (empty) - - 0", "dev1", NULL, 0 },
    { "mqtt.md 3 a device may not use a module topic",
      "devices/dev1/modules/mod1/messages/events/",
      "telemetry dev1 mod1 (empty) - - 0", "dev1", NULL, 0 },
    { "mqtt.md 3 a module may not use the device topic",
      "devices/dev1/messages/events/",
      "telemetry dev1 - (empty) - - 0", "dev1", "mod1", 0 },
    { "mqtt.md 3 a module may not use a sibling's topic",
      "devices/dev1/modules/mod2/messages/events/",
      "telemetry dev1 mod2 (empty) - - 0", "dev1", "mod1", 0 },

    /* mqtt.md 6-8 twin and methods */

    { "sdk-traffic 2 twin GET, Node uuid rid",
      "$iothub/twin/GET/?$rid=" UUID,
      "twin-get - - - " UUID " - 0", "dev1", NULL, 1 },
    { "mqtt.md 6 twin GET, C decimal rid, from a module",
      "$iothub/twin/GET/?$rid=17",
      "twin-get - - - 17 - 0", "dev1", "mod1", 1 },
    { "sdk-traffic 2 twin PATCH reported",
      "$iothub/twin/PATCH/properties/reported/?$rid=" UUID,
      "twin-reported - - - " UUID " - 0", "dev1", NULL, 1 },
    { "mqtt.md 7 twin PATCH reported with $version",
      "$iothub/twin/PATCH/properties/reported/?$rid=9&$version=7",
      "twin-reported - - - 9 7 0", "dev1", NULL, 1 },
    { "mqtt.md 7 $version before $rid",
      "$iothub/twin/PATCH/properties/reported/?$version=7&$rid=9",
      "twin-reported - - - 9 7 0", "dev1", NULL, 1 },
    { "mqtt.md 3 pair names percent-decoded: %24rid",
      "$iothub/twin/GET/?%24rid=5",
      "twin-get - - - 5 - 0", "dev1", NULL, 1 },
    { "mqtt.md 6 rid is opaque and kept raw",
      "$iothub/twin/GET/?$rid=a%2Fb",
      "twin-get - - - a%2Fb - 0", "dev1", NULL, 1 },
    { "mqtt.md 6 empty rid",
      "$iothub/twin/GET/?$rid=",
      "twin-get - - - (empty) - 0", "dev1", NULL, 1 },
    { "sdk-traffic 2 method response 201",
      "$iothub/methods/res/201/?$rid=capture-rid-1",
      "method-res - - - capture-rid-1 - 201", "dev1", NULL, 1 },
    { "mqtt.md 8 method status is any integer",
      "$iothub/methods/res/-1/?$rid=1",
      "method-res - - - 1 - -1", "dev1", NULL, 1 },

    /* mqtt.md 3: anything else is unknown and closes the connection */

    { "mqtt.md 3 devices may not publish to devicebound",
      "devices/dev1/messages/devicebound/x", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 3 empty device id", "devices//messages/events/", "unknown",
      "dev1", NULL, 0 },
    { "mqtt.md 3 empty module id",
      "devices/dev1/modules//messages/events/", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 4 events prefix followed by text",
      "devices/dev1/messages/eventsX", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 4 device id only", "devices/dev1", "unknown", "dev1", NULL,
      0 },
    { "mqtt.md 6 twin GET without a query", "$iothub/twin/GET/", "unknown",
      "dev1", NULL, 0 },
    { "mqtt.md 6 twin GET without $rid", "$iothub/twin/GET/?rid=1",
      "unknown", "dev1", NULL, 0 },
    { "mqtt.md 6 $rid without \"=\"", "$iothub/twin/GET/?$rid", "unknown",
      "dev1", NULL, 0 },
    { "mqtt.md 6 twin GET without the \"/\" before \"?\"",
      "$iothub/twin/GET?$rid=1", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 6 text between GET/ and the query",
      "$iothub/twin/GET/x?$rid=1", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 7 devices may not publish desired patches",
      "$iothub/twin/PATCH/properties/desired/?$rid=1", "unknown", "dev1",
      NULL, 0 },
    { "mqtt.md 8 devices may not publish method requests",
      "$iothub/methods/POST/echo/?$rid=1", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 8 method status not a number",
      "$iothub/methods/res/ok/?$rid=1", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 8 method status of 10 digits",
      "$iothub/methods/res/2000000000/?$rid=1", "unknown", "dev1", NULL,
      0 },
    { "mqtt.md 8 method status without \"/?\"",
      "$iothub/methods/res/200?$rid=1", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 8 method response without $rid",
      "$iothub/methods/res/200/?", "unknown", "dev1", NULL, 0 },
    { "mqtt.md 3 topic names are case-sensitive",
      "Devices/dev1/messages/events/", "unknown", "dev1", NULL, 0 },
};


static const props_case_t  props_cases[] = {

    /* mqtt.md 4 and 5, sdk-traffic.md 2 */

    { "mqtt.md 4 telemetry example", BAG_MQTT4, NGX_IOTHUB_MQTT_TOPIC_OK,
      "mid:$.mid=m-42|ct:$.ct=application/json|ce:$.ce=utf-8"
      "|app:alert=high", 0, 0 },
    { "sdk-traffic 2 Node telemetry, app key \"sp ace&amp=x\"", BAG_D2C,
      NGX_IOTHUB_MQTT_TOPIC_OK,
      "mid:$.mid=m-42|cid:$.cid=corr-1|ct:$.ct=application/json"
      "|ce:$.ce=utf-8|app:alert=high|app:sp ace&amp=x=v/a l?u#e", 0, 0 },
    { "sdk-traffic 2 C2D delivery bag", BAG_C2D, NGX_IOTHUB_MQTT_TOPIC_OK,
      "mid:$.mid=capture-c2d-1|cid:$.cid=capture-corr"
      "|to:$.to=/devices/dev1/messages/devicebound|app:color=blue"
      "|app:a b=c&d", 0, 0 },
    { "mqtt.md 5 hub trace C2D bag", BAG_HUB, NGX_IOTHUB_MQTT_TOPIC_OK,
      "mid:$.mid=" MID_HUB "|to:$.to=/devices/dev1/messages/deviceBound"
      "|app:iothub-ack=full", 0, 0 },
    { "mqtt.md 4 system names sent literally", "$.ct=text%2Fplain&$.mid=1",
      NGX_IOTHUB_MQTT_TOPIC_OK, "ct:$.ct=text/plain|mid:$.mid=1", 0, 0 },
    { "mqtt.md 4 every system property",
      "$.uid=u&$.to=t&$.exp=2024-01-01T00%3A00%3A00Z&$.ifid=i&%24.on=o"
      "&%24.sub=c&%24.ctime=t0&%24.diagid=d&%24.diagctx=x&%24.cdid=d1"
      "&%24.cmid=m1",
      NGX_IOTHUB_MQTT_TOPIC_OK,
      "uid:$.uid=u|to:$.to=t|exp:$.exp=2024-01-01T00:00:00Z|ifid:$.ifid=i"
      "|on:$.on=o|sub:$.sub=c|ctime:$.ctime=t0|diagid:$.diagid=d"
      "|diagctx:$.diagctx=x|cdid:$.cdid=d1|cmid:$.cmid=m1", 0, 0 },
    { "mqtt.md 4 unknown \"$.\" name, \"$\" without \".\"",
      "%24.foo=1&$x=2&%24mid=3", NGX_IOTHUB_MQTT_TOPIC_OK,
      "other:$.foo=1|app:$x=2|app:$mid=3", 0, 0 },
    { "mqtt.md 4 system names are case-sensitive", "%24.MID=1",
      NGX_IOTHUB_MQTT_TOPIC_OK, "other:$.MID=1", 0, 0 },
    { "mqtt.md 4 name without \"=\" is null, \"name=\" empty",
      "flag&x=&%24.cid", NGX_IOTHUB_MQTT_TOPIC_OK,
      "app:flag|app:x=|cid:$.cid", 0, 0 },
    { "mqtt.md 4 \"+\" stays \"+\"", "a=1+2&b%2B=%20",
      NGX_IOTHUB_MQTT_TOPIC_OK, "app:a=1+2|app:b+= ", 0, 0 },
    { "mqtt.md 4 value split on the first \"=\"", "a=b=c",
      NGX_IOTHUB_MQTT_TOPIC_OK, "app:a=b=c", 0, 0 },
    { "mqtt.md 4 lower-case hex", "k=%2f%c3%a9", NGX_IOTHUB_MQTT_TOPIC_OK,
      "app:k=/\xc3\xa9", 0, 0 },
    { "mqtt.md 4 duplicates kept in order", "a=1&a=2",
      NGX_IOTHUB_MQTT_TOPIC_OK, "app:a=1|app:a=2", 0, 0 },
    { "mqtt.md 4 empty pairs skipped", "&&a=1&", NGX_IOTHUB_MQTT_TOPIC_OK,
      "app:a=1", 0, 0 },
    { "mqtt.md 4 the bag may be empty", "", NGX_IOTHUB_MQTT_TOPIC_OK, "",
      0, 0 },
    { "exactly max pairs", "a&b", NGX_IOTHUB_MQTT_TOPIC_OK, "app:a|app:b",
      2, 0 },

    { "mqtt.md 4 empty name", "=v", NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL,
      0, 0 },
    { "mqtt.md 4 empty name after a pair", "a=1&=",
      NGX_IOTHUB_MQTT_TOPIC_MALFORMED, NULL, 0, 0 },
    { "mqtt.md 4 escape cut by the end", "a=%2",
      NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE, NULL, 0, 0 },
    { "mqtt.md 4 escape cut by \"&\"", "a=%2&b",
      NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE, NULL, 0, 0 },
    { "mqtt.md 4 escape with non-hex digits", "a=%zz",
      NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE, NULL, 0, 0 },
    { "mqtt.md 4 bare \"%\" in a name", "a%=1",
      NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE, NULL, 0, 0 },
    { "MQTT-1.5.3-2 decoded NUL", "a=%00", NGX_IOTHUB_MQTT_TOPIC_BAD_UTF8,
      NULL, 0, 0 },
    { "MQTT-1.5.3-1 decoded byte FF", "a=%FF",
      NGX_IOTHUB_MQTT_TOPIC_BAD_UTF8, NULL, 0, 0 },
    { "MQTT-1.5.3-1 decoded surrogate in a name", "%ED%A0%80=1",
      NGX_IOTHUB_MQTT_TOPIC_BAD_UTF8, NULL, 0, 0 },
    { "more pairs than the array holds", "a&b&c",
      NGX_IOTHUB_MQTT_TOPIC_TOO_MANY, NULL, 2, 0 },
    { "buffer smaller than the decoded text", "abc=def",
      NGX_IOTHUB_MQTT_TOPIC_NO_SPACE, NULL, 0, 5 },
};


static const ngx_iothub_mqtt_prop_t  props_hub[] = {
    PROP(MID, "", MID_HUB),
    PROP(TO, "", "/devices/dev1/messages/deviceBound"),
    PROP(APP, "iothub-ack", "full"),
};

static const ngx_iothub_mqtt_prop_t  props_c2d[] = {
    PROP(MID, "$.mid", "capture-c2d-1"),
    PROP(CID, "$.cid", "capture-corr"),
    PROP(TO, "$.to", "/devices/dev1/messages/devicebound"),
    PROP(APP, "color", "blue"),
    PROP(APP, "a b", "c&d"),
};

static const ngx_iothub_mqtt_prop_t  props_null[] = {
    PROP_NULL(APP, "nullkey"),
    PROP(APP, "empty", ""),
    PROP_NULL(CT, "$.ct"),
};

static const ngx_iothub_mqtt_prop_t  props_reserved[] = {
    PROP(CT, "$.ct", "application/json; charset=utf-8"),
    PROP(EXP, "$.exp", "2024-01-01T00:00:00.000Z"),
    PROP(APP, "k&=/%", "v&=/%#+? "),
    PROP(APP, "keep", "-_.!~*'()"),
    PROP(APP, "caf\xc3\xa9", "\xe2\x82\xac"),
    PROP(SYS_OTHER, "$.foo", "1"),
    PROP(CDID, "", "dev1"),
    PROP(CMID, "", "mod1"),
};

static const ngx_iothub_mqtt_prop_t  props_on[] = {
    PROP(CDID, "", "dev1"),
    PROP(CMID, "", "mod1"),
    PROP(ON, "", "out1"),
};


static const encode_case_t  encode_cases[] = {
    { "mqtt.md 5 hub trace order and encoding", props_hub,
      NPROPS(props_hub), BAG_HUB },
    { "sdk-traffic 2 C2D delivery as the Node SDK saw it", props_c2d,
      NPROPS(props_c2d), BAG_C2D },
    { "mqtt.md 5 null value: bare name; empty string: \"name=\"",
      props_null, NPROPS(props_null), "nullkey&empty=&%24.ct" },
    { "mqtt.md 5 no \"/\", \"&\", \"=\" left in names and values",
      props_reserved, NPROPS(props_reserved),
      "%24.ct=application%2Fjson%3B%20charset%3Dutf-8"
      "&%24.exp=2024-01-01T00%3A00%3A00.000Z"
      "&k%26%3D%2F%25=v%26%3D%2F%25%23%2B%3F%20"
      "&keep=-_.!~*'()&caf%C3%A9=%E2%82%AC&%24.foo=1"
      "&%24.cdid=dev1&%24.cmid=mod1" },
    { "mqtt.md 5 empty bag", props_hub, 0, "" },
};


static const build_case_t  build_cases[] = {

    /* mqtt.md 5 */

    { "mqtt.md 5 C2D delivery topic, hub trace", BUILD_C2D, "dev1", NULL,
      NULL, 0, 0, props_hub, NPROPS(props_hub),
      "devices/dev1/messages/devicebound/" BAG_HUB },
    { "mqtt.md 5 empty bag: topic ends with devicebound/", BUILD_C2D,
      "dev1", NULL, NULL, 0, 0, NULL, 0,
      "devices/dev1/messages/devicebound/" },
    { "MQTT-3.3.2-2 \"#\" and \"+\" of an id are encoded", BUILD_C2D,
      "d#1+x", NULL, NULL, 0, 0, NULL, 0,
      "devices/d%231%2Bx/messages/devicebound/" },
    { "auth.md 4 other id characters are kept", BUILD_C2D,
      "a-.%_*?!(),=@$':1", NULL, NULL, 0, 0, NULL, 0,
      "devices/a-.%_*?!(),=@$':1/messages/devicebound/" },
    { "mqtt.md 5 module input delivery", BUILD_INPUT, "dev1", "mod1",
      "in put/1", 0, 0, props_on, NPROPS(props_on),
      "devices/dev1/modules/mod1/inputs/in%20put%2F1/"
      "%24.cdid=dev1&%24.cmid=mod1&%24.on=out1" },

    /* mqtt.md 6-8, sdk-traffic.md 2 */

    { "sdk-traffic 2 twin GET response", BUILD_TWIN_RES, NULL, UUID, NULL,
      200, -1, NULL, 0, "$iothub/twin/res/200/?$rid=" UUID },
    { "sdk-traffic 2 reported PATCH response with $version",
      BUILD_TWIN_RES, NULL, UUID, NULL, 204, 2, NULL, 0,
      "$iothub/twin/res/204/?$rid=" UUID "&$version=2" },
    { "mqtt.md 7 error response without $version", BUILD_TWIN_RES, NULL,
      "17", NULL, 400, -1, NULL, 0, "$iothub/twin/res/400/?$rid=17" },
    { "mqtt.md 6 rid echoed exactly as sent", BUILD_TWIN_RES, NULL,
      "a%2Fb", NULL, 429, -1, NULL, 0, "$iothub/twin/res/429/?$rid=a%2Fb" },
    { "mqtt.md 7 version 0 is written", BUILD_TWIN_RES, NULL, "1", NULL,
      204, 0, NULL, 0, "$iothub/twin/res/204/?$rid=1&$version=0" },
    { "sdk-traffic 2 desired patch", BUILD_DESIRED, NULL, NULL, NULL, 0, 2,
      NULL, 0, "$iothub/twin/PATCH/properties/desired/?$version=2" },
    { "mqtt.md 7 large desired version", BUILD_DESIRED, NULL, NULL, NULL,
      0, 9223372036854775807LL, NULL, 0,
      "$iothub/twin/PATCH/properties/desired/?$version="
      "9223372036854775807" },
    { "sdk-traffic 2 method request", BUILD_METHOD, "echo",
      "capture-rid-1", NULL, 0, 0, NULL, 0,
      "$iothub/methods/POST/echo/?$rid=capture-rid-1" },
    { "mqtt.md 8 method name percent-encoded", BUILD_METHOD, "set/level 2",
      "r&1", NULL, 0, 0, NULL, 0,
      "$iothub/methods/POST/set%2Flevel%202/?$rid=r%261" },
};


static const filter_case_t  filter_cases[] = {

    /* MQTT 4.7.1 examples */

    { "4.7.1.2 sport/tennis/player1/#", "sport/tennis/player1/#", 1 },
    { "4.7.1.2 sport/#", "sport/#", 1 },
    { "4.7.1.2 # alone", "#", 1 },
    { "MQTT-4.7.1-2 sport/tennis#", "sport/tennis#", 0 },
    { "MQTT-4.7.1-2 sport/tennis/#/ranking", "sport/tennis/#/ranking", 0 },
    { "MQTT-4.7.1-2 ##", "##", 0 },
    { "4.7.1.3 + alone", "+", 1 },
    { "4.7.1.3 +/tennis/#", "+/tennis/#", 1 },
    { "MQTT-4.7.1-3 sport+", "sport+", 0 },
    { "MQTT-4.7.1-3 a/+b", "a/+b", 0 },
    { "MQTT-4.7.1-3 ++", "++", 0 },
    { "4.7.1.3 sport/+/player1", "sport/+/player1", 1 },
    { "4.7.1.3 /+", "/+", 1 },
    { "4.7.1.3 +/+", "+/+", 1 },
    { "MQTT-4.7.3-1 empty filter", "", 0 },
    { "4.7.3 a single /", "/", 1 },
    { "4.7.3 empty level", "a//b", 1 },
    { "mqtt.md 3 $iothub/twin/res/#", "$iothub/twin/res/#", 1 },
};


static const match_case_t  match_cases[] = {

    /* MQTT 4.7.1.2, 4.7.1.3, 4.7.2 examples */

    { "4.7.1.2 # matches the parent", "sport/tennis/player1/#",
      "sport/tennis/player1", 1 },
    { "4.7.1.2 # one level below", "sport/tennis/player1/#",
      "sport/tennis/player1/ranking", 1 },
    { "4.7.1.2 # two levels below", "sport/tennis/player1/#",
      "sport/tennis/player1/score/wimbledon", 1 },
    { "4.7.1.2 sport/# matches sport", "sport/#", "sport", 1 },
    { "4.7.1.2 # matches everything", "#", "sport/tennis", 1 },
    { "4.7.1.3 + one level", "sport/tennis/+", "sport/tennis/player1", 1 },
    { "4.7.1.3 + not two levels", "sport/tennis/+",
      "sport/tennis/player1/ranking", 0 },
    { "4.7.1.3 sport/+ not sport", "sport/+", "sport", 0 },
    { "4.7.1.3 sport/+ matches sport/", "sport/+", "sport/", 1 },
    { "4.7.1.3 +/+ matches /finance", "+/+", "/finance", 1 },
    { "4.7.1.3 /+ matches /finance", "/+", "/finance", 1 },
    { "4.7.1.3 + not /finance", "+", "/finance", 0 },
    { "4.7.1.3 + matches an empty level", "a/+/c", "a//c", 1 },
    { "MQTT-4.7.2-1 # not $SYS", "#", "$SYS/monitor/Clients", 0 },
    { "MQTT-4.7.2-1 + not $SYS", "+/monitor/Clients",
      "$SYS/monitor/Clients", 0 },
    { "4.7.2 $SYS/# matches $SYS", "$SYS/#", "$SYS/monitor/Clients", 1 },
    { "4.7.2 $SYS/monitor/+", "$SYS/monitor/+", "$SYS/monitor/Clients",
      1 },
    { "4.7.3 case-sensitive", "ACCOUNTS", "Accounts", 0 },
    { "4.7.3 a/ is not a", "a/", "a", 0 },
    { "4.7.3 a is not a/", "a", "a/", 0 },
    { "4.7.3 longer level", "ab", "abc", 0 },

    /* mqtt.md 3, sdk-traffic.md 2 */

    { "sdk-traffic 2 twin response", "$iothub/twin/res/#",
      "$iothub/twin/res/200/?$rid=" UUID, 1 },
    { "sdk-traffic 2 desired patch", "$iothub/twin/PATCH/properties/desired/#",
      "$iothub/twin/PATCH/properties/desired/?$version=2", 1 },
    { "sdk-traffic 2 method request", "$iothub/methods/POST/#",
      "$iothub/methods/POST/echo/?$rid=capture-rid-1", 1 },
    { "mqtt.md 5 C2D with properties", "devices/dev1/messages/devicebound/#",
      "devices/dev1/messages/devicebound/" BAG_HUB, 1 },
    { "mqtt.md 5 C2D with an empty bag",
      "devices/dev1/messages/devicebound/#",
      "devices/dev1/messages/devicebound/", 1 },
    { "mqtt.md 5 module inputs, C SDK filter", "devices/dev1/modules/m1/#",
      "devices/dev1/modules/m1/inputs/in1/%24.cdid=d", 1 },
    { "mqtt.md 3 twin response is not a method", "$iothub/methods/POST/#",
      "$iothub/twin/res/200/?$rid=1", 0 },
};


static const feature_case_t  feature_cases[] = {

    /* mqtt.md 3 for a device */

    { "mqtt.md 5 C2D", "devices/dev1/messages/devicebound/#", "dev1", NULL,
      NGX_IOTHUB_FEATURE_C2D },
    { "mqtt.md 6 twin responses", "$iothub/twin/res/#", "dev1", NULL,
      NGX_IOTHUB_FEATURE_TWIN_RES },
    { "mqtt.md 7 desired notifications",
      "$iothub/twin/PATCH/properties/desired/#", "dev1", NULL,
      NGX_IOTHUB_FEATURE_DESIRED },
    { "mqtt.md 8 method requests", "$iothub/methods/POST/#", "dev1", NULL,
      NGX_IOTHUB_FEATURE_METHODS },
    { "mqtt.md 3 Python encodes the id: devices/dev%231/...",
      "devices/dev%231/messages/devicebound/#", "dev#1", NULL,
      NGX_IOTHUB_FEATURE_C2D },
    { "mqtt.md 3 another device's C2D", "devices/dev2/messages/devicebound/#",
      "dev1", NULL, 0 },
    { "mqtt.md 3 \"#\" alone", "#", "dev1", NULL, 0 },
    { "mqtt.md 3 \"+\" for the device id", "devices/+/messages/devicebound/#",
      "dev1", NULL, 0 },
    { "mqtt.md 3 trailing \"+\" instead of \"#\"",
      "devices/dev1/messages/devicebound/+", "dev1", NULL, 0 },
    { "mqtt.md 3 no wildcard", "devices/dev1/messages/devicebound",
      "dev1", NULL, 0 },
    { "mqtt.md 3 twin responses with \"+\"", "$iothub/twin/res/+", "dev1",
      NULL, 0 },
    { "mqtt.md 3 all of $iothub", "$iothub/#", "dev1", NULL, 0 },
    { "mqtt.md 3 devices have no module inputs",
      "devices/dev1/modules/mod1/inputs/#", "dev1", NULL, 0 },
    { "mqtt.md 3 telemetry is not a subscription",
      "devices/dev1/messages/events/#", "dev1", NULL, 0 },
    { "MQTT-4.7.1-3 invalid filter", "$iothub/twin/res/#+", "dev1", NULL,
      0 },

    /* mqtt.md 3 for a module */

    { "mqtt.md 3 module inputs, Node and Python",
      "devices/dev1/modules/mod1/inputs/#", "dev1", "mod1",
      NGX_IOTHUB_FEATURE_INPUTS },
    { "mqtt.md 3 module inputs, C SDK and docs",
      "devices/dev1/modules/mod1/#", "dev1", "mod1",
      NGX_IOTHUB_FEATURE_INPUTS },
    { "mqtt.md 3 module twin responses", "$iothub/twin/res/#", "dev1",
      "mod1", NGX_IOTHUB_FEATURE_TWIN_RES },
    { "mqtt.md 3 module method requests", "$iothub/methods/POST/#", "dev1",
      "mod1", NGX_IOTHUB_FEATURE_METHODS },
    { "mqtt.md 3 modules get no C2D",
      "devices/dev1/messages/devicebound/#", "dev1", "mod1", 0 },
    { "mqtt.md 3 a sibling module's inputs",
      "devices/dev1/modules/mod2/inputs/#", "dev1", "mod1", 0 },
    { "mqtt.md 3 one input only", "devices/dev1/modules/mod1/inputs/in1/#",
      "dev1", "mod1", 0 },
};


static const pct_case_t  pct_decode_cases[] = {
    { "mqtt.md 5 %2F", "%2Fdevices%2Fdev1", NGX_IOTHUB_MQTT_TOPIC_OK,
      "/devices/dev1" },
    { "mqtt.md 4 lower-case hex", "%2f%3a", NGX_IOTHUB_MQTT_TOPIC_OK,
      "/:" },
    { "mqtt.md 4 \"+\" stays \"+\"", "a+b", NGX_IOTHUB_MQTT_TOPIC_OK,
      "a+b" },
    { "empty", "", NGX_IOTHUB_MQTT_TOPIC_OK, "" },
    { "bare \"%\"", "%", NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE, NULL },
    { "one hex digit", "a%4", NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE, NULL },
    { "non-hex digit", "%g0", NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE, NULL },
    { "second digit not hex", "%0x", NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE,
      NULL },
};


static const pct_case_t  pct_encode_cases[] = {
    { "mqtt.md 5 $.to value", "/devices/dev1/messages/deviceBound",
      NGX_IOTHUB_MQTT_TOPIC_OK, "%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound" },
    { "mqtt.md 5 \"&\", \"=\", \" \"", "a b&c=d", NGX_IOTHUB_MQTT_TOPIC_OK,
      "a%20b%26c%3Dd" },
    { "encodeURIComponent keeps -_.!~*'()", "-_.!~*'()Az09",
      NGX_IOTHUB_MQTT_TOPIC_OK, "-_.!~*'()Az09" },
    { "\"$\", \"+\", \"%\", \"#\", \"?\"", "$+%#?", NGX_IOTHUB_MQTT_TOPIC_OK,
      "%24%2B%25%23%3F" },
    { "UTF-8 bytes", "\xc3\xa9", NGX_IOTHUB_MQTT_TOPIC_OK, "%C3%A9" },
    { "empty", "", NGX_IOTHUB_MQTT_TOPIC_OK, "" },
};


static const pct_case_t  id_encode_cases[] = {
    { "plain id", "dev1", NGX_IOTHUB_MQTT_TOPIC_OK, "dev1" },
    { "MQTT-3.3.2-2 wildcards", "d#+", NGX_IOTHUB_MQTT_TOPIC_OK,
      "d%23%2B" },
    { "\"/\", space and control bytes", "a/ \x01", NGX_IOTHUB_MQTT_TOPIC_OK,
      "a%2F%20%01" },
    { "auth.md 4 id punctuation kept", "-.+%_*?!(),=@$':",
      NGX_IOTHUB_MQTT_TOPIC_OK, "-.%2B%_*?!(),=@$':" },
    { "\"%\" encoded where it would read as an escape", "a#%41%4%",
      NGX_IOTHUB_MQTT_TOPIC_OK, "a%23%2541%4%" },
};


static const id_case_t  id_cases[] = {
    { "mqtt.md 3 same id", "dev1", "dev1", 1 },
    { "mqtt.md 3 Python quote(safe=\"\")", "dev%231", "dev#1", 1 },
    { "mqtt.md 3 every byte encoded", "%64%65%76", "dev", 1 },
    { "mqtt.md 3 raw \"%\" of an id", "a%b", "a%b", 1 },
    { "mqtt.md 3 encoded \"%\" of an id", "a%25b", "a%b", 1 },
    { "mqtt.md 3 other id", "dev1", "dev2", 0 },
    { "mqtt.md 3 prefix", "dev", "dev1", 0 },
    { "mqtt.md 3 longer", "dev12", "dev1", 0 },
    { "mqtt.md 3 \"%\" without two hex digits", "dev%2", "dev", 0 },
    { "mqtt.md 3 \"%\" without two hex digits stands for itself",
      "a%2%41", "a%2A", 1 },
    { "mqtt.md 3 encoded \"+\" next to a raw \"%\"", "%2B%_", "+%_", 1 },
    { "mqtt.md 3 case-sensitive", "Dev1", "dev1", 0 },
};


static void
test_username(void **state)
{
    char                        out[OUT_MAX];
    const username_case_t      *c;
    ngx_iothub_mqtt_username_t  u;

    c = *state;

    assert_int_equal(ngx_iothub_mqtt_parse_username(
                         (const u_char *) c->text, strlen(c->text), &u),
                     c->rc);

    if (c->expected == NULL) {
        return;
    }

    out[0] = '\0';
    append_str(out, &u.host);
    append(out, "|");
    append_str(out, &u.device_id);
    append(out, "|");
    append_str(out, &u.module_id);
    append(out, "|");
    append_str(out, &u.api_version);
    append(out, "|");
    append_str(out, &u.client_type);
    append(out, "|");
    append_str(out, &u.model_id);

    assert_string_equal(out, c->expected);
}


static void
test_pub(void **state)
{
    char                   out[OUT_MAX];
    const pub_case_t       *c;
    ngx_iothub_mqtt_str_t   device, module, *mp;
    ngx_iothub_mqtt_pub_t   t;

    c = *state;

    ngx_iothub_mqtt_pub_parse((const u_char *) c->topic, strlen(c->topic),
                              &t);

    render_pub(out, &t);
    assert_string_equal(out, c->expected);

    device = str(c->device);
    module = str(c->module);

    mp = (c->module != NULL) ? &module : NULL;

    assert_int_equal(ngx_iothub_mqtt_pub_owned(&t, &device, mp), c->owned);
}


static void
test_props(void **state)
{
    char                        out[OUT_MAX];
    u_char                     *buf;
    size_t                      n, max, size, len;
    const props_case_t         *c;
    ngx_iothub_mqtt_prop_t      props[16];
    ngx_iothub_mqtt_topic_rc_e  rc;

    c = *state;

    len = strlen(c->bag);
    max = (c->max != 0) ? c->max : 16;
    size = (c->size != 0) ? c->size : len;

    /* exactly len bytes, so ASan sees any write past the promise */
    buf = malloc(size + 1);
    assert_non_null(buf);

    rc = ngx_iothub_mqtt_props_parse((const u_char *) c->bag, len, props,
                                     max, &n, buf, size);
    assert_int_equal(rc, c->rc);

    if (c->expected != NULL) {
        render_props(out, props, n);
        assert_string_equal(out, c->expected);
    }

    free(buf);
}


static void
test_encode(void **state)
{
    u_char               buf[OUT_MAX];
    size_t               n;
    const encode_case_t *c;

    c = *state;

    n = ngx_iothub_mqtt_props_encode(buf, sizeof(buf), c->props, c->n);

    assert_int_equal(n, strlen(c->expected));
    assert_memory_equal(buf, c->expected, n);
    assert_int_equal(ngx_iothub_mqtt_props_encode(NULL, 0, c->props, c->n),
                     n);
}


static void
test_build(void **state)
{
    u_char               buf[OUT_MAX];
    size_t               n;
    const build_case_t  *c;

    c = *state;

    n = build(buf, sizeof(buf), c);

    assert_int_equal(n, strlen(c->expected));
    assert_memory_equal(buf, c->expected, n);

    /* measuring gives the same length */
    assert_int_equal(build(NULL, 0, c), n);
}


static size_t
build(u_char *buf, size_t size, const build_case_t *c)
{
    ngx_iothub_mqtt_str_t  a, b, in;

    a = str(c->a);
    b = str(c->b);
    in = str(c->c);

    switch (c->kind) {

    case BUILD_C2D:
        return ngx_iothub_mqtt_c2d_topic(buf, size, &a, c->props, c->n);

    case BUILD_INPUT:
        return ngx_iothub_mqtt_input_topic(buf, size, &a, &b, &in, c->props,
                                           c->n);

    case BUILD_TWIN_RES:
        return ngx_iothub_mqtt_twin_res_topic(buf, size, c->status, &b,
                                              c->version);

    case BUILD_DESIRED:
        return ngx_iothub_mqtt_twin_desired_topic(buf, size, c->version);

    default:
        return ngx_iothub_mqtt_method_topic(buf, size, &a, &b);
    }
}


static void
test_filter_valid(void **state)
{
    const filter_case_t  *c;

    c = *state;

    assert_int_equal(ngx_iothub_mqtt_filter_valid((const u_char *) c->filter,
                                                  strlen(c->filter)),
                     c->valid);
}


static void
test_filter_match(void **state)
{
    const match_case_t  *c;

    c = *state;

    assert_true(ngx_iothub_mqtt_filter_valid((const u_char *) c->filter,
                                             strlen(c->filter)));

    assert_int_equal(ngx_iothub_mqtt_filter_match((const u_char *) c->filter,
                                                  strlen(c->filter),
                                                  (const u_char *) c->topic,
                                                  strlen(c->topic)),
                     c->match);
}


static void
test_feature(void **state)
{
    const feature_case_t   *c;
    ngx_iothub_mqtt_str_t   device, module;

    c = *state;

    device = str(c->device);
    module = str(c->module);

    assert_int_equal(ngx_iothub_mqtt_filter_feature(
                         (const u_char *) c->filter, strlen(c->filter),
                         &device, (c->module != NULL) ? &module : NULL),
                     c->feature);
}


static void
test_pct_decode(void **state)
{
    u_char                      buf[OUT_MAX];
    size_t                      n;
    const pct_case_t           *c;
    ngx_iothub_mqtt_topic_rc_e  rc;

    c = *state;

    rc = ngx_iothub_mqtt_pct_decode(buf, sizeof(buf), (const u_char *) c->in,
                                    strlen(c->in), &n);
    assert_int_equal(rc, c->rc);

    if (c->out != NULL) {
        assert_int_equal(n, strlen(c->out));
        assert_memory_equal(buf, c->out, n);

        if (n != 0) {
            rc = ngx_iothub_mqtt_pct_decode(buf, n - 1,
                                            (const u_char *) c->in,
                                            strlen(c->in), &n);
            assert_int_equal(rc, NGX_IOTHUB_MQTT_TOPIC_NO_SPACE);
        }
    }
}


static void
test_pct_encode(void **state)
{
    u_char             buf[OUT_MAX];
    size_t             n;
    const pct_case_t  *c;

    c = *state;

    n = ngx_iothub_mqtt_pct_encode(buf, sizeof(buf), (const u_char *) c->in,
                                   strlen(c->in));

    assert_int_equal(n, strlen(c->out));
    assert_memory_equal(buf, c->out, n);
}


static void
test_id_encode(void **state)
{
    u_char             buf[OUT_MAX];
    size_t             n;
    const pct_case_t  *c;

    c = *state;

    n = ngx_iothub_mqtt_id_encode(buf, sizeof(buf), (const u_char *) c->in,
                                  strlen(c->in));

    assert_int_equal(n, strlen(c->out));
    assert_memory_equal(buf, c->out, n);

    /* a hub topic segment always names the id again */
    assert_true(ngx_iothub_mqtt_id_match(buf, n, (const u_char *) c->in,
                                         strlen(c->in)));
}


static void
test_id_match(void **state)
{
    const id_case_t  *c;

    c = *state;

    assert_int_equal(ngx_iothub_mqtt_id_match((const u_char *) c->seg,
                                              strlen(c->seg),
                                              (const u_char *) c->id,
                                              strlen(c->id)),
                     c->match);
}


/* every encode case parses back to its properties */
static void
test_props_round_trip(void **state)
{
    char                    a[OUT_MAX], b[OUT_MAX];
    u_char                  bag[OUT_MAX], buf[OUT_MAX];
    size_t                  i, j, len, n;
    const char             *name;
    const encode_case_t    *c;
    ngx_iothub_mqtt_prop_t  props[16], want[16];

    (void) state;

    for (i = 0; i < sizeof(encode_cases) / sizeof(encode_cases[0]); i++) {
        c = &encode_cases[i];

        len = ngx_iothub_mqtt_props_encode(bag, sizeof(bag), c->props, c->n);

        assert_int_equal(ngx_iothub_mqtt_props_parse(bag, len, props, 16, &n,
                                                     buf, sizeof(buf)),
                         NGX_IOTHUB_MQTT_TOPIC_OK);
        assert_int_equal(n, c->n);

        /* known system properties come back under their own names */
        for (j = 0; j < c->n; j++) {
            want[j] = c->props[j];
            name = ngx_iothub_mqtt_prop_name(want[j].sys);

            if (name != NULL) {
                want[j].key = str(name);
            }
        }

        render_props(a, props, n);
        render_props(b, want, c->n);
        assert_string_equal(a, b);
    }
}


/* a telemetry topic's bag, as the glue would take it to the parser */
static void
test_feed_bag(void **state)
{
    char                    out[OUT_MAX];
    u_char                  buf[OUT_MAX];
    size_t                  n;
    ngx_iothub_mqtt_pub_t   t;
    ngx_iothub_mqtt_prop_t  props[16];

    static const char  topic[] =
        "devices/dev1/modules/mod1/messages/events/%24.on=out1&a=b/";

    (void) state;

    assert_int_equal(ngx_iothub_mqtt_pub_parse((const u_char *) topic,
                                               sizeof(topic) - 1, &t),
                     NGX_IOTHUB_MQTT_PUB_TELEMETRY);

    assert_int_equal(ngx_iothub_mqtt_props_parse(t.props.data, t.props.len,
                                                 props, 16, &n, buf,
                                                 sizeof(buf)),
                     NGX_IOTHUB_MQTT_TOPIC_OK);

    render_props(out, props, n);
    assert_string_equal(out, "on:$.on=out1|app:a=b");
}


/* snprintf() semantics: the full length, at most size bytes written */
static void
test_truncation(void **state)
{
    u_char                 buf[16];
    size_t                 n;
    ngx_iothub_mqtt_str_t  rid, dev;

    (void) state;

    rid = str("abc");
    dev = str("dev1");

    memset(buf, 0xee, sizeof(buf));
    n = ngx_iothub_mqtt_twin_res_topic(buf, 10, 200, &rid, -1);

    assert_int_equal(n, sizeof("$iothub/twin/res/200/?$rid=abc") - 1);
    assert_memory_equal(buf, "$iothub/tw", 10);
    assert_int_equal(buf[10], 0xee);

    memset(buf, 0xee, sizeof(buf));
    n = ngx_iothub_mqtt_c2d_topic(buf, 0, &dev, NULL, 0);

    assert_int_equal(n, sizeof("devices/dev1/messages/devicebound/") - 1);
    assert_int_equal(buf[0], 0xee);

    n = ngx_iothub_mqtt_pct_encode(buf, 2, (const u_char *) "/", 1);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "%2", 2);
    assert_int_equal(buf[2], 0xee);
}


static void
test_prop_names(void **state)
{
    int          i;
    const char  *name;

    (void) state;

    assert_null(ngx_iothub_mqtt_prop_name(NGX_IOTHUB_MQTT_PROP_APP));
    assert_null(ngx_iothub_mqtt_prop_name(NGX_IOTHUB_MQTT_PROP_SYS_OTHER));

    for (i = NGX_IOTHUB_MQTT_PROP_MID; i < NGX_IOTHUB_MQTT_PROP_SYS_OTHER;
         i++)
    {
        name = ngx_iothub_mqtt_prop_name((ngx_iothub_mqtt_prop_e) i);
        assert_non_null(name);
        assert_int_equal(ngx_iothub_mqtt_prop_classify((const u_char *) name,
                                                       strlen(name)),
                         i);
    }

    assert_int_equal(ngx_iothub_mqtt_prop_classify((const u_char *) "$.", 2),
                     NGX_IOTHUB_MQTT_PROP_SYS_OTHER);
    assert_int_equal(ngx_iothub_mqtt_prop_classify((const u_char *) "$", 1),
                     NGX_IOTHUB_MQTT_PROP_APP);
}


static void
test_strerror(void **state)
{
    int          i, j;
    const char  *a, *b;

    (void) state;

    for (i = NGX_IOTHUB_MQTT_TOPIC_OK; i <= NGX_IOTHUB_MQTT_TOPIC_NO_SPACE;
         i++)
    {
        a = ngx_iothub_mqtt_topic_strerror((ngx_iothub_mqtt_topic_rc_e) i);
        assert_non_null(a);

        for (j = NGX_IOTHUB_MQTT_TOPIC_OK; j < i; j++) {
            b = ngx_iothub_mqtt_topic_strerror(
                                            (ngx_iothub_mqtt_topic_rc_e) j);
            assert_string_not_equal(a, b);
        }
    }
}


static void
render_pub(char *out, const ngx_iothub_mqtt_pub_t *t)
{
    size_t                        i;
    const ngx_iothub_mqtt_str_t  *s[5];

    static const char  *kinds[] = {
        "unknown", "telemetry", "twin-get", "twin-reported", "method-res"
    };

    out[0] = '\0';
    append(out, "%s", kinds[t->kind]);

    if (t->kind == NGX_IOTHUB_MQTT_PUB_UNKNOWN) {
        return;
    }

    s[0] = &t->device_id;
    s[1] = &t->module_id;
    s[2] = &t->props;
    s[3] = &t->rid;
    s[4] = &t->version;

    for (i = 0; i < 5; i++) {
        if (s[i]->data == NULL) {
            append(out, " -");

        } else if (s[i]->len == 0) {
            append(out, " (empty)");

        } else {
            append(out, " ");
            append_str(out, s[i]);
        }
    }

    append(out, " %d", t->status);
}


static void
render_props(char *out, const ngx_iothub_mqtt_prop_t *props, size_t n)
{
    size_t  i;

    out[0] = '\0';

    for (i = 0; i < n; i++) {
        append(out, "%s%s:", (i != 0) ? "|" : "", prop_short[props[i].sys]);
        append_str(out, &props[i].key);

        if (props[i].value.data != NULL) {
            append(out, "=");
            append_str(out, &props[i].value);
        }
    }
}


static void
append(char *out, const char *fmt, ...)
{
    size_t   len;
    va_list  args;

    len = strlen(out);

    va_start(args, fmt);
    vsnprintf(out + len, OUT_MAX - len, fmt, args);
    va_end(args);
}


static void
append_str(char *out, const ngx_iothub_mqtt_str_t *s)
{
    size_t  len;

    len = strlen(out);

    if (s->len == 0 || len + s->len >= OUT_MAX) {
        return;
    }

    memcpy(out + len, s->data, s->len);
    out[len + s->len] = '\0';
}


/* a span of a C string; NULL gives an empty span */
static ngx_iothub_mqtt_str_t
str(const char *s)
{
    ngx_iothub_mqtt_str_t  v;

    v.data = (const u_char *) s;
    v.len = (s != NULL) ? strlen(s) : 0;

    return v;
}


int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("mqtt user name", test_username, username_cases),
        TABLE("mqtt publish topic", test_pub, pub_cases),
        TABLE("mqtt property bag", test_props, props_cases),
        TABLE("mqtt property bag encode", test_encode, encode_cases),
        TABLE("mqtt hub topics", test_build, build_cases),
        TABLE("mqtt filter valid", test_filter_valid, filter_cases),
        TABLE("mqtt filter match", test_filter_match, match_cases),
        TABLE("mqtt filter feature", test_feature, feature_cases),
        TABLE("percent decode", test_pct_decode, pct_decode_cases),
        TABLE("percent encode", test_pct_encode, pct_encode_cases),
        TABLE("id encode", test_id_encode, id_encode_cases),
        TABLE("id match", test_id_match, id_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_props_round_trip),
        cmocka_unit_test(test_feed_bag),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_prop_names),
        cmocka_unit_test(test_strerror),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("mqtt topic misc", misc, NULL,
                                          NULL);

    return failed != 0;
}
