
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_MQTT_PARSE_H_INCLUDED_
#define _NGX_IOTHUB_MQTT_PARSE_H_INCLUDED_


/*
 * MQTT 3.1.1 codec (OASIS standard of 29 October 2014) for the server side
 * of the IoT Hub device surface (mqtt.md).
 *
 * Pure C: libc only, no nginx headers, no global mutable state, nothing
 * allocated.  ngx_iothub_mqtt_frame() finds packet boundaries in the
 * caller's input buffer; the decoders take one complete packet and fill
 * structs whose strings point into the packet bytes, so the packet must
 * outlive them.  The encoders write into caller buffers.
 */


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


/* control packet types, MQTT 2.2.1 */
#define NGX_IOTHUB_MQTT_CONNECT          1
#define NGX_IOTHUB_MQTT_CONNACK          2
#define NGX_IOTHUB_MQTT_PUBLISH          3
#define NGX_IOTHUB_MQTT_PUBACK           4
#define NGX_IOTHUB_MQTT_PUBREC           5
#define NGX_IOTHUB_MQTT_PUBREL           6
#define NGX_IOTHUB_MQTT_PUBCOMP          7
#define NGX_IOTHUB_MQTT_SUBSCRIBE        8
#define NGX_IOTHUB_MQTT_SUBACK           9
#define NGX_IOTHUB_MQTT_UNSUBSCRIBE      10
#define NGX_IOTHUB_MQTT_UNSUBACK         11
#define NGX_IOTHUB_MQTT_PINGREQ          12
#define NGX_IOTHUB_MQTT_PINGRESP         13
#define NGX_IOTHUB_MQTT_DISCONNECT       14

/* one type byte and up to four remaining length bytes, MQTT 2.2.3 */
#define NGX_IOTHUB_MQTT_HEADER_MAX       5
#define NGX_IOTHUB_MQTT_REMAINING_MAX    268435455

/* sizes of the fixed-size packets the server sends */
#define NGX_IOTHUB_MQTT_CONNACK_LEN      4
#define NGX_IOTHUB_MQTT_PUBACK_LEN       4
#define NGX_IOTHUB_MQTT_UNSUBACK_LEN     4
#define NGX_IOTHUB_MQTT_PINGRESP_LEN     2

/* CONNACK return codes, MQTT 3.2.2.3 and mqtt.md 2 */
#define NGX_IOTHUB_MQTT_ACCEPTED         0
#define NGX_IOTHUB_MQTT_REFUSED_VERSION  1
#define NGX_IOTHUB_MQTT_REFUSED_ID       2
#define NGX_IOTHUB_MQTT_REFUSED_SERVER   3
#define NGX_IOTHUB_MQTT_REFUSED_LOGIN    4
#define NGX_IOTHUB_MQTT_REFUSED_AUTH     5

/* SUBACK return code of a refused filter, MQTT 3.9.3 */
#define NGX_IOTHUB_MQTT_SUBACK_FAILURE   0x80


/* same layout as ngx_str_t */
typedef struct {
    size_t                 len;
    const u_char          *data;
} ngx_iothub_mqtt_str_t;


/*
 * Every error ends the network connection (MQTT 4.8) except BAD_LEVEL,
 * which is answered with CONNACK NGX_IOTHUB_MQTT_REFUSED_VERSION first
 * (MQTT-3.1.2-2).
 */
typedef enum {
    NGX_IOTHUB_MQTT_OK = 0,
    NGX_IOTHUB_MQTT_AGAIN,             /* the packet is not complete yet */
    NGX_IOTHUB_MQTT_MALFORMED,         /* lengths or fields do not add up */
    NGX_IOTHUB_MQTT_TOO_LARGE,         /* over the caller's maximum */
    NGX_IOTHUB_MQTT_BAD_TYPE,          /* reserved or unexpected type */
    NGX_IOTHUB_MQTT_BAD_FLAGS,         /* fixed header flags, MQTT-2.2.2-2 */
    NGX_IOTHUB_MQTT_BAD_PROTOCOL,      /* protocol name not MQTT/MQIsdp */
    NGX_IOTHUB_MQTT_BAD_LEVEL,         /* MQIsdp, or level other than 4 */
    NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS, /* MQTT-3.1.2-3, -11..-15, -22 */
    NGX_IOTHUB_MQTT_BAD_UTF8,          /* MQTT-1.5.3-1, -2 */
    NGX_IOTHUB_MQTT_BAD_QOS,           /* QoS 3 or reserved bits set */
    NGX_IOTHUB_MQTT_BAD_TOPIC,         /* empty, or wildcard in a name */
    NGX_IOTHUB_MQTT_BAD_PACKET_ID,     /* zero, MQTT-2.3.1-1 */
    NGX_IOTHUB_MQTT_NO_TOPICS          /* MQTT-3.8.3-3, MQTT-3.10.3-2 */
} ngx_iothub_mqtt_rc_e;


typedef struct {
    u_int                  type;
    u_int                  flags;        /* low nibble of the first byte */
    size_t                 header_len;   /* 2..5 */
    size_t                 remaining;
    size_t                 len;          /* header_len + remaining */
} ngx_iothub_mqtt_frame_t;


typedef struct {
    ngx_iothub_mqtt_str_t  protocol;     /* "MQTT" or "MQIsdp" */
    u_int                  level;
    u_int                  keep_alive;   /* seconds */
    unsigned               clean_session:1;
    unsigned               will:1;
    unsigned               will_qos:2;
    unsigned               will_retain:1;
    unsigned               has_username:1;
    unsigned               has_password:1;
    ngx_iothub_mqtt_str_t  client_id;    /* may be empty, MQTT-3.1.3-6 */
    ngx_iothub_mqtt_str_t  will_topic;
    ngx_iothub_mqtt_str_t  will_message;
    ngx_iothub_mqtt_str_t  username;
    ngx_iothub_mqtt_str_t  password;     /* binary */
} ngx_iothub_mqtt_connect_t;


typedef struct {
    unsigned               dup:1;
    unsigned               qos:2;
    unsigned               retain:1;
    u_int                  packet_id;    /* 0 with QoS 0 */
    ngx_iothub_mqtt_str_t  topic;
    ngx_iothub_mqtt_str_t  payload;      /* may be empty */
} ngx_iothub_mqtt_publish_t;


/* PUBACK, PUBREC, PUBREL, PUBCOMP */
typedef struct {
    u_int                  type;
    u_int                  packet_id;
} ngx_iothub_mqtt_ack_t;


/* SUBSCRIBE and UNSUBSCRIBE; walk with ngx_iothub_mqtt_subscribe_next() */
typedef struct {
    u_int                  type;
    u_int                  packet_id;
    size_t                 count;        /* >= 1 */
    ngx_iothub_mqtt_str_t  entries;      /* raw payload after packet id */
} ngx_iothub_mqtt_subscribe_t;


typedef struct {
    u_int                            type;
    union {
        ngx_iothub_mqtt_connect_t    connect;
        ngx_iothub_mqtt_publish_t    publish;
        ngx_iothub_mqtt_ack_t        ack;
        ngx_iothub_mqtt_subscribe_t  subscribe;
    } u;
} ngx_iothub_mqtt_packet_t;


/*
 * Finds the first packet in [p, p + len).  Returns OK when the whole
 * packet is there (f->len is its length; bytes past it belong to the next
 * packet), AGAIN when more bytes are needed, else an error.  Stateless:
 * call it again with the same p and a larger len; the fixed header is
 * rescanned, at most 5 bytes.  f is zeroed, then filled as soon as the
 * fixed header is complete, also on AGAIN (f->len tells how much to wait
 * for).
 *
 * Errors, detected as early as the bytes allow: BAD_TYPE for the reserved
 * types 0 and 15; BAD_FLAGS for fixed header flags other than MQTT 2.2.2
 * lists, BAD_QOS for PUBLISH with QoS 3 (MQTT-3.3.1-4); MALFORMED for a
 * remaining length needing a fifth byte, or a wrong remaining length in a
 * fixed-size packet (acks 2, PINGREQ, PINGRESP, DISCONNECT 0, CONNACK 2);
 * TOO_LARGE when max is not 0 and the whole packet would exceed max bytes.
 */
ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_frame(const u_char *p, size_t len,
    size_t max, ngx_iothub_mqtt_frame_t *f);

/*
 * Decodes one complete packet a client sends (CONNECT, PUBLISH, PUBACK,
 * PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT);
 * len must be exactly the packet length ngx_iothub_mqtt_frame() gave,
 * else MALFORMED.  pkt->type is set whenever len > 0; server-to-client
 * types give BAD_TYPE.  Calls the decoders below; the state machine
 * decides which types are legal in which state.
 */
ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_parse(const u_char *p, size_t len,
    ngx_iothub_mqtt_packet_t *pkt);

/*
 * CONNECT, MQTT 3.1.  BAD_PROTOCOL: name not "MQTT" or "MQIsdp" (close,
 * MQTT-3.1.2-1).  BAD_LEVEL: "MQIsdp" (3.1) or a level other than 4;
 * c->protocol and c->level are set and nothing after them is read.
 * BAD_CONNECT_FLAGS: reserved flag set (MQTT-3.1.2-3), will QoS or retain
 * without will flag or will QoS 3 (MQTT-3.1.2-11..-15), password without
 * user name (MQTT-3.1.2-22).  BAD_UTF8 for client id, will topic or user
 * name; BAD_TOPIC for an empty will topic or one with wildcards.  Bytes
 * after the last field present are MALFORMED.  An empty client id is
 * decoded as such; refusing it (CONNACK 2) is the caller's job.
 */
ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_parse_connect(const u_char *p,
    size_t len, ngx_iothub_mqtt_connect_t *c);

/*
 * PUBLISH, MQTT 3.3.  BAD_QOS for QoS 3; BAD_FLAGS for DUP with QoS 0
 * (MQTT-3.3.1-2); BAD_UTF8 or BAD_TOPIC for a topic name that is not
 * UTF-8 without NUL, is empty or holds "+" or "#" (MQTT-3.3.2-2,
 * MQTT-4.7.3-1); BAD_PACKET_ID for id 0 with QoS 1 or 2.
 */
ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_parse_publish(const u_char *p,
    size_t len, ngx_iothub_mqtt_publish_t *pub);

/* PUBACK, PUBREC, PUBREL (flags 0010), PUBCOMP; MQTT 3.4-3.7 */
ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_parse_ack(const u_char *p, size_t len,
    ngx_iothub_mqtt_ack_t *ack);

/*
 * SUBSCRIBE (MQTT 3.8) or UNSUBSCRIBE (MQTT 3.10), flags 0010.  Checks
 * every entry: a filter is a non-empty UTF-8 string (BAD_TOPIC, BAD_UTF8),
 * a requested QoS byte is 0..2 with the reserved bits 0 (BAD_QOS,
 * MQTT-3-8.3-4); no entry is NO_TOPICS.  Wildcard placement is not
 * checked here: see ngx_iothub_mqtt_filter_valid(), so the caller can
 * choose between SUBACK 0x80 and closing.
 */
ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_parse_subscribe(const u_char *p,
    size_t len, ngx_iothub_mqtt_subscribe_t *s);

/*
 * Walks the entries of a decoded SUBSCRIBE or UNSUBSCRIBE: *pos starts at
 * 0.  Returns 1 and sets filter (and *qos, if qos is not NULL; 0 for
 * UNSUBSCRIBE) for the next entry, 0 after the last.
 */
int ngx_iothub_mqtt_subscribe_next(const ngx_iothub_mqtt_subscribe_t *s,
    size_t *pos, ngx_iothub_mqtt_str_t *filter, u_int *qos);

/* PINGREQ or DISCONNECT: only the type and remaining length 0 */
ngx_iothub_mqtt_rc_e ngx_iothub_mqtt_parse_empty(const u_char *p,
    size_t len, u_int *type);

/*
 * Well-formed UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF) without U+0000, as MQTT 1.5.3 requires; 1 or 0.
 */
int ngx_iothub_mqtt_utf8_valid(const u_char *p, size_t len);

/*
 * Encoders.  Each returns the number of bytes written, or 0 when the
 * arguments are invalid or the packet does not fit into size bytes (then
 * nothing is written).
 */

/* session_present is sent only with code NGX_IOTHUB_MQTT_ACCEPTED */
size_t ngx_iothub_mqtt_write_connack(u_char *buf, size_t size,
    int session_present, u_int code);

/*
 * PUBLISH from pub: topic 1..65535 bytes, qos 0..2, dup only with QoS 1
 * or 2, packet_id not 0 with QoS 1 or 2.  The topic is copied as is.
 */
size_t ngx_iothub_mqtt_write_publish(u_char *buf, size_t size,
    const ngx_iothub_mqtt_publish_t *pub);

/*
 * The same PUBLISH without its payload bytes: the remaining length counts
 * pub->payload.len, so the payload (pub->payload.data may be NULL) must be
 * sent right after from another buffer.
 */
size_t ngx_iothub_mqtt_write_publish_header(u_char *buf, size_t size,
    const ngx_iothub_mqtt_publish_t *pub);

/* whole packet and header-only sizes of that PUBLISH, 0 when invalid */
size_t ngx_iothub_mqtt_publish_size(const ngx_iothub_mqtt_publish_t *pub);
size_t ngx_iothub_mqtt_publish_header_size(
    const ngx_iothub_mqtt_publish_t *pub);

/* packet_id must not be 0 */
size_t ngx_iothub_mqtt_write_puback(u_char *buf, size_t size,
    u_int packet_id);
size_t ngx_iothub_mqtt_write_unsuback(u_char *buf, size_t size,
    u_int packet_id);

/* one code per filter: 0, 1, 2 or NGX_IOTHUB_MQTT_SUBACK_FAILURE; n >= 1 */
size_t ngx_iothub_mqtt_write_suback(u_char *buf, size_t size,
    u_int packet_id, const u_char *codes, size_t n);
size_t ngx_iothub_mqtt_suback_size(size_t n);

size_t ngx_iothub_mqtt_write_pingresp(u_char *buf, size_t size);

/* a constant lower-case description of rc for logs */
const char *ngx_iothub_mqtt_strerror(ngx_iothub_mqtt_rc_e rc);


#endif /* _NGX_IOTHUB_MQTT_PARSE_H_INCLUDED_ */
