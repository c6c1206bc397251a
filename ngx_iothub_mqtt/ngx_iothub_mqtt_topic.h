
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_MQTT_TOPIC_H_INCLUDED_
#define _NGX_IOTHUB_MQTT_TOPIC_H_INCLUDED_


/*
 * IoT Hub names on MQTT: the CONNECT user name, the topics a device
 * publishes to, property bags, the topics the hub publishes to, and the
 * subscription filters a device may use (mqtt.md sections 2-8, auth.md
 * 6.1).
 *
 * Pure C: libc only, no nginx headers, no global mutable state, nothing
 * allocated.  Parsers return spans into the caller's text, raw (not
 * percent-decoded) unless a comment says otherwise.  Builders follow
 * snprintf(): they return the length of the whole result and write at
 * most size bytes of it, without a NUL; the result is complete when the
 * returned length is <= size.  buf may be NULL with size 0 to measure.
 * Only the header ngx_iothub_mqtt_parse.h is shared with the codec, for
 * ngx_iothub_mqtt_str_t; ngx_iothub_mqtt_topic.c links on its own.
 */


#include <stddef.h>
#include <sys/types.h>

#include "ngx_iothub_mqtt_parse.h"
#include "ngx_iothub_features.h"




typedef enum {
    NGX_IOTHUB_MQTT_TOPIC_OK = 0,
    NGX_IOTHUB_MQTT_TOPIC_MALFORMED,   /* grammar */
    NGX_IOTHUB_MQTT_TOPIC_BAD_ESCAPE,  /* "%" without two hex digits */
    NGX_IOTHUB_MQTT_TOPIC_BAD_UTF8,    /* decoded text not UTF-8, or NUL */
    NGX_IOTHUB_MQTT_TOPIC_TOO_MANY,    /* more pairs than the array holds */
    NGX_IOTHUB_MQTT_TOPIC_NO_SPACE     /* output buffer too small */
} ngx_iothub_mqtt_topic_rc_e;


/* what a device PUBLISH topic is, mqtt.md 3 */
typedef enum {
    NGX_IOTHUB_MQTT_PUB_UNKNOWN = 0,
    NGX_IOTHUB_MQTT_PUB_TELEMETRY,     /* device or module telemetry */
    NGX_IOTHUB_MQTT_PUB_TWIN_GET,
    NGX_IOTHUB_MQTT_PUB_TWIN_REPORTED,
    NGX_IOTHUB_MQTT_PUB_METHOD_RES
} ngx_iothub_mqtt_pub_e;


/* property names, mqtt.md 4; APP is an application property */
typedef enum {
    NGX_IOTHUB_MQTT_PROP_APP = 0,
    NGX_IOTHUB_MQTT_PROP_MID,          /* $.mid   message-id */
    NGX_IOTHUB_MQTT_PROP_CID,          /* $.cid   correlation-id */
    NGX_IOTHUB_MQTT_PROP_UID,          /* $.uid   user-id */
    NGX_IOTHUB_MQTT_PROP_TO,           /* $.to    to */
    NGX_IOTHUB_MQTT_PROP_CT,           /* $.ct    content-type */
    NGX_IOTHUB_MQTT_PROP_CE,           /* $.ce    content-encoding */
    NGX_IOTHUB_MQTT_PROP_EXP,          /* $.exp   absolute-expiry-time */
    NGX_IOTHUB_MQTT_PROP_ON,           /* $.on    iothub-outputname */
    NGX_IOTHUB_MQTT_PROP_IFID,         /* $.ifid  iothub-interface-id */
    NGX_IOTHUB_MQTT_PROP_SUB,          /* $.sub   dt-subject */
    NGX_IOTHUB_MQTT_PROP_CTIME,        /* $.ctime iothub-creation-time-utc */
    NGX_IOTHUB_MQTT_PROP_DIAGID,       /* $.diagid */
    NGX_IOTHUB_MQTT_PROP_DIAGCTX,      /* $.diagctx */
    NGX_IOTHUB_MQTT_PROP_CDID,         /* $.cdid  connection device id */
    NGX_IOTHUB_MQTT_PROP_CMID,         /* $.cmid  connection module id */
    NGX_IOTHUB_MQTT_PROP_SYS_OTHER     /* another name starting "$." */
} ngx_iothub_mqtt_prop_e;


/*
 * One property.  Parsed: key and value are percent-decoded, the key
 * includes its "$." prefix.  value.data == NULL is a name without "="
 * (a null value); "name=" is an empty string.
 */
typedef struct {
    ngx_iothub_mqtt_prop_e  sys;
    ngx_iothub_mqtt_str_t   key;
    ngx_iothub_mqtt_str_t   value;
} ngx_iothub_mqtt_prop_t;


/* all spans raw, len 0 when absent */
typedef struct {
    ngx_iothub_mqtt_str_t   host;
    ngx_iothub_mqtt_str_t   device_id;
    ngx_iothub_mqtt_str_t   module_id;
    ngx_iothub_mqtt_str_t   query;        /* after "?", or from api-version= */
    ngx_iothub_mqtt_str_t   api_version;
    ngx_iothub_mqtt_str_t   client_type;  /* DeviceClientType */
    ngx_iothub_mqtt_str_t   model_id;     /* model-id */
} ngx_iothub_mqtt_username_t;


/* a device PUBLISH topic; spans raw, len 0 when absent */
typedef struct {
    ngx_iothub_mqtt_pub_e   kind;
    ngx_iothub_mqtt_str_t   device_id;    /* telemetry */
    ngx_iothub_mqtt_str_t   module_id;    /* module telemetry */
    ngx_iothub_mqtt_str_t   props;        /* telemetry property bag */
    ngx_iothub_mqtt_str_t   rid;          /* twin and method response */
    ngx_iothub_mqtt_str_t   version;      /* twin reported, "$version" */
    int                     status;       /* method response */
} ngx_iothub_mqtt_pub_t;


/*
 * The CONNECT user name (mqtt.md 2, auth.md 6.1), leniently: the path
 * "<host>/<deviceId>[/<moduleId>]" ends at a segment starting with "?"
 * (the query follows the "?") or with "api-version=" (the query starts
 * there, the old form), or at the end ("host/dev1", very old docs); one
 * trailing empty segment is allowed.  The query's pairs api-version,
 * DeviceClientType and model-id (names ASCII case-insensitive, first one
 * wins) are kept raw; model-id arrives unencoded from Node.  MALFORMED:
 * fewer than two or more than three path segments, or an empty one.  u is
 * fully overwritten.
 */
ngx_iothub_mqtt_topic_rc_e ngx_iothub_mqtt_parse_username(const u_char *p,
    size_t len, ngx_iothub_mqtt_username_t *u);

/*
 * Classifies a topic a device published to (mqtt.md 3, 4, 6-8):
 *   devices/{d}/messages/events[/<bag>[/]]
 *   devices/{d}/modules/{m}/messages/events[/<bag>[/]]
 *   $iothub/twin/GET/?$rid={rid}
 *   $iothub/twin/PATCH/properties/reported/?$rid={rid}[&$version={v}]
 *   $iothub/methods/res/{status}/?$rid={rid}
 * One "/" after the bag is dropped (Node's sendOutputEvent).  The twin and
 * method topics need a "$rid" pair (name percent-decoded, value raw, may
 * be empty); status is an optional "-" and 1..9 digits.  Anything else,
 * including an empty id, is UNKNOWN.  Ownership is not checked: see
 * ngx_iothub_mqtt_pub_owned().  t is fully overwritten; returns t->kind.
 */
ngx_iothub_mqtt_pub_e ngx_iothub_mqtt_pub_parse(const u_char *topic,
    size_t len, ngx_iothub_mqtt_pub_t *t);

/*
 * 1 when the identity (module NULL or empty for a device) may publish to
 * t: twin and method topics always, telemetry when the ids match (see
 * ngx_iothub_mqtt_id_match()) and a device uses the device form, a module
 * the module form; 0 otherwise, and for UNKNOWN.
 */
int ngx_iothub_mqtt_pub_owned(const ngx_iothub_mqtt_pub_t *t,
    const ngx_iothub_mqtt_str_t *device, const ngx_iothub_mqtt_str_t *module);

/*
 * Parses a property bag "k=v&k&k=" (mqtt.md 4): names and values are
 * percent-decoded ("+" stays "+") into buf, which needs at most len
 * bytes, and classified; empty pairs ("&&", a trailing "&") are skipped.
 * Fills props[0 .. *n - 1] in order, duplicates kept.  MALFORMED: "=v"
 * (empty name); BAD_ESCAPE; BAD_UTF8: a decoded name or value that is not
 * UTF-8 or holds a NUL; TOO_MANY: more than max pairs; NO_SPACE: buf too
 * small.  The props point into buf.
 */
ngx_iothub_mqtt_topic_rc_e ngx_iothub_mqtt_props_parse(const u_char *bag,
    size_t len, ngx_iothub_mqtt_prop_t *props, size_t max, size_t *n,
    u_char *buf, size_t size);

/* the system property of a decoded name: "$.mid" is MID, "x" is APP */
ngx_iothub_mqtt_prop_e ngx_iothub_mqtt_prop_classify(const u_char *key,
    size_t len);

/* the name of a system property, "$.mid"; NULL for APP and SYS_OTHER */
const char *ngx_iothub_mqtt_prop_name(ngx_iothub_mqtt_prop_e sys);

/*
 * Encodes a property bag for the device (mqtt.md 5): a known system
 * property is named "%24.<x>" whatever its key, other names and all
 * values are percent-encoded as ngx_iothub_mqtt_pct_encode() does (no "/",
 * "&", "=" left), value.data == NULL writes the bare name.  Pairs in the
 * given order; the hub sends %24.mid, %24.to, %24.ce or %24.ct, then
 * application properties such as iothub-ack.
 */
size_t ngx_iothub_mqtt_props_encode(u_char *buf, size_t size,
    const ngx_iothub_mqtt_prop_t *props, size_t n);

/*
 * "devices/{d}/messages/devicebound/<bag>", the C2D delivery topic
 * (mqtt.md 5); the bag may be empty.  {d} is written as
 * ngx_iothub_mqtt_id_encode() does.
 */
size_t ngx_iothub_mqtt_c2d_topic(u_char *buf, size_t size,
    const ngx_iothub_mqtt_str_t *device, const ngx_iothub_mqtt_prop_t *props,
    size_t n);

/*
 * "devices/{d}/modules/{m}/inputs/{input}/<bag>", module input delivery
 * (mqtt.md 5, Edge-like routing only); the input name is percent-encoded,
 * the bag should carry %24.cdid and %24.cmid of the sender.
 */
size_t ngx_iothub_mqtt_input_topic(u_char *buf, size_t size,
    const ngx_iothub_mqtt_str_t *device, const ngx_iothub_mqtt_str_t *module,
    const ngx_iothub_mqtt_str_t *input, const ngx_iothub_mqtt_prop_t *props,
    size_t n);

/*
 * "$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]" (mqtt.md 6, 7):
 * rid is echoed exactly as the device sent it (raw), version < 0 leaves
 * "$version" out.
 */
size_t ngx_iothub_mqtt_twin_res_topic(u_char *buf, size_t size,
    u_int status, const ngx_iothub_mqtt_str_t *rid, long long version);

/* "$iothub/twin/PATCH/properties/desired/?$version={v}" (mqtt.md 7) */
size_t ngx_iothub_mqtt_twin_desired_topic(u_char *buf, size_t size,
    long long version);

/*
 * "$iothub/methods/POST/{name}/?$rid={rid}" (mqtt.md 8); name and rid are
 * plain and written percent-encoded.
 */
size_t ngx_iothub_mqtt_method_topic(u_char *buf, size_t size,
    const ngx_iothub_mqtt_str_t *name, const ngx_iothub_mqtt_str_t *rid);

/*
 * MQTT 4.7.1: 1 when f is a valid topic filter: not empty, "#" only as
 * the whole last level, "+" only as a whole level; 0 otherwise.
 */
int ngx_iothub_mqtt_filter_valid(const u_char *f, size_t len);

/*
 * 1 when the topic name matches the valid filter f (MQTT 4.7): "+" one
 * level, "#" the parent level and any below ("a/#" matches "a"), and a
 * filter starting with a wildcard matches no topic starting with "$"
 * (MQTT-4.7.2-1).
 */
int ngx_iothub_mqtt_filter_match(const u_char *f, size_t flen,
    const u_char *topic, size_t tlen);

/*
 * Which NGX_IOTHUB_FEATURE_* the filter f enables for the identity
 * (module NULL or empty for a device), 0 when the device may not
 * subscribe to it (mqtt.md 3): exactly
 *   devices/{d}/messages/devicebound/#                 C2D, devices only
 *   devices/{d}/modules/{m}/inputs/# and .../{m}/#     INPUTS, modules only
 *   $iothub/twin/res/#                                 TWIN_RES
 *   $iothub/twin/PATCH/properties/desired/#            DESIRED
 *   $iothub/methods/POST/#                             METHODS
 * with ids compared by ngx_iothub_mqtt_id_match().  The same answer serves
 * UNSUBSCRIBE.
 */
u_int ngx_iothub_mqtt_filter_feature(const u_char *f, size_t len,
    const ngx_iothub_mqtt_str_t *device, const ngx_iothub_mqtt_str_t *module);

/*
 * 1 when the topic segment seg names the plain id: equal as is, or equal
 * after percent-decoding (Python quotes ids with quote(safe="")), where a
 * "%" not followed by two hex digits stands for itself (ids may hold "%",
 * see ngx_iothub_mqtt_id_encode()); else 0.
 */
int ngx_iothub_mqtt_id_match(const u_char *seg, size_t seg_len,
    const u_char *id, size_t id_len);

/*
 * An id as a hub-to-device topic segment: "/", "+", "#" (not allowed in a
 * topic name, MQTT-3.3.2-2), bytes outside 0x21..0x7e and a "%" followed
 * by two hex digits are percent-encoded, the rest is kept as is, so for
 * the usual ids the topic matches the filter the device subscribed with
 * literally, and ngx_iothub_mqtt_id_match() always recognizes the result.
 */
size_t ngx_iothub_mqtt_id_encode(u_char *buf, size_t size, const u_char *id,
    size_t len);

/*
 * Percent-encoding as encodeURIComponent: all but ASCII letters, digits
 * and - _ . ! ~ * ' ( ) become %XX, upper-case hex.
 */
size_t ngx_iothub_mqtt_pct_encode(u_char *buf, size_t size,
    const u_char *src, size_t len);

/*
 * Percent-decoding ("+" stays "+") of src into buf (size >= len always
 * suffices); *n is the decoded length.  BAD_ESCAPE or NO_SPACE.
 */
ngx_iothub_mqtt_topic_rc_e ngx_iothub_mqtt_pct_decode(u_char *buf,
    size_t size, const u_char *src, size_t len, size_t *n);

/* a constant lower-case description of rc for logs */
const char *ngx_iothub_mqtt_topic_strerror(ngx_iothub_mqtt_topic_rc_e rc);


#endif /* _NGX_IOTHUB_MQTT_TOPIC_H_INCLUDED_ */
