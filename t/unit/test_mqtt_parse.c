
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of ngx_iothub_mqtt/ngx_iothub_mqtt_parse.c, the MQTT 3.1.1
 * codec.  Every table row is a named cmocka test and names the clause of
 * the MQTT 3.1.1 standard (section or conformance statement) or of the
 * reference it checks.  Every decoder case is fed to the framer whole, one
 * byte at a time, and followed by another packet.  Build and run from the
 * repository root:
 *
 *     cc -std=gnu99 -Wall -Wextra -Wpointer-arith -Werror \
 *         -Ingx_iothub_mqtt t/unit/test_mqtt_parse.c \
 *         ngx_iothub_mqtt/ngx_iothub_mqtt_parse.c -lcmocka -o /tmp/t1
 *     /tmp/t1
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

#include "ngx_iothub_mqtt_parse.h"


/* a byte string literal as pointer and length */
#define B(s)       (const u_char *) (s), sizeof(s) - 1

#define X25        "xxxxxxxxxxxxxxxxxxxxxxxxx"
#define X125       X25 X25 X25 X25 X25
#define P50        "pppppppppppppppppppppppppppppppppppppppppppppppppp"
#define P200       P50 P50 P50 P50

#define SUMMARY_MAX  1024



/*
 * A client packet: what the framer and ngx_iothub_mqtt_parse() make of
 * it, and for OK and BAD_LEVEL the decoded packet as summary() prints it.
 */
typedef struct {
    const char              *name;
    const u_char            *bytes;
    size_t                   len;
    ngx_iothub_mqtt_rc_e     rc;
    const char              *summary;
} decode_case_t;


/* the framer alone: avail bytes offered (len when 0), the max argument */
typedef struct {
    const char              *name;
    const u_char            *bytes;
    size_t                   len;
    size_t                   avail;
    size_t                   max;
    ngx_iothub_mqtt_rc_e     rc;
    size_t                   packet_len;   /* f.len, when not 0 */
} frame_case_t;


typedef struct {
    const char              *name;
    const u_char            *bytes;
    size_t                   len;
    int                      valid;
} utf8_case_t;


/* expected NULL: nothing may be written */
typedef struct {
    const char              *name;
    int                      session_present;
    u_int                    code;
    size_t                   size;
    const u_char            *expected;
    size_t                   expected_len;
} connack_case_t;


typedef struct {
    const char              *name;
    const char              *topic;
    u_int                    qos;
    u_int                    dup;
    u_int                    retain;
    u_int                    packet_id;
    const u_char            *payload;
    size_t                   payload_len;
    size_t                   size;         /* of the buffer, 512 when 0 */
    const u_char            *expected;
    size_t                   expected_len;
} publish_case_t;


typedef struct {
    const char              *name;
    u_int                    type;         /* PUBACK or UNSUBACK */
    u_int                    packet_id;
    size_t                   size;
    const u_char            *expected;
    size_t                   expected_len;
} ack_case_t;


typedef struct {
    const char              *name;
    u_int                    packet_id;
    const u_char            *codes;
    size_t                   n;
    size_t                   size;
    const u_char            *expected;
    size_t                   expected_len;
} suback_case_t;


static void test_decode(void **state);
static void test_frame(void **state);
static void test_utf8(void **state);
static void test_connack(void **state);
static void test_publish(void **state);
static void test_ack(void **state);
static void test_suback(void **state);
static void test_stream(void **state);
static void test_round_trip(void **state);
static void test_sizes(void **state);
static void test_subscribe_walk(void **state);
static void test_pingresp(void **state);
static void test_strerror(void **state);
static void check_whole(const decode_case_t *c);
static void check_bytewise(const decode_case_t *c);
static void check_pipelined(const decode_case_t *c);
static void summary(char *out, const ngx_iothub_mqtt_packet_t *pkt);
static void summary_connect(char *out, const ngx_iothub_mqtt_connect_t *c);
static void summary_subscribe(char *out,
    const ngx_iothub_mqtt_subscribe_t *s);
static void append(char *out, const char *fmt, ...);
static void append_str(char *out, const ngx_iothub_mqtt_str_t *s);
static void check_bytes(const u_char *buf, size_t n, const u_char *expected,
    size_t expected_len);


static const decode_case_t  decode_cases[] = {

    { "3.1 sdk-traffic 2: Node CONNECT, clean 0, keep-alive 180",
      B("\x10\x88\x02" "\x00\x04" "MQTT" "\x04\xc0\x00\xb4" "\x00\x14" "acc-5"
        "ff7087a-mqtt-16" "\x00\x8f" "localhost/acc-5ff7087a-mqtt-16/?api-ver"
        "sion=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4%20(node%2"
        "0v20.20.2%3B%20Debian%2012%3B%20x64)" "\x00\x55" "SharedAccessSignat"
        "ure sr=localhost%2Fdevices%2Fcap-mqtt-dev&sig=1Ppi%3D&se=1795680052"),
      NGX_IOTHUB_MQTT_OK,
      "CONNECT MQTT/4 clean=0 ka=180 id=acc-5ff7087a-mqtt-16 user=localhost/a"
      "cc-5ff7087a-mqtt-16/?api-version=2021-04-12&DeviceClientType=azure-iot"
      "-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64) pass=Sh"
      "aredAccessSignature sr=localhost%2Fdevices%2Fcap-mqtt-dev&sig=1Ppi%3D&"
      "se=1795680052" },
    { "3.1.2.4 clean session 1, no user name (X.509, auth.md 5)",
      B("\x10\x10" "\x00\x04" "MQTT" "\x04\x02\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_OK,
      "CONNECT MQTT/4 clean=1 ka=60 id=dev1" },
    { "3.1.2.5 will flag, will QoS 1, will retain (mqtt.md 2)",
      B("\x10\x34" "\x00\x04" "MQTT" "\x04\x2e\x00\x3c" "\x00\x04" "dev1"
        "\x00\x1d" "devices/dev1/messages/events/" "\x00\x03" "bye"),
      NGX_IOTHUB_MQTT_OK,
      "CONNECT MQTT/4 clean=1 ka=60 id=dev1 will=devices/dev1/messages/events"
      "/:bye q1 r1" },
    { "3.1.2.10 keep alive 65535, user name without password (MQTT-3.1.2-19)",
      B("\x10\x19" "\x00\x04" "MQTT" "\x04\x80\xff\xff" "\x00\x04" "dev1"
        "\x00\x07" "h/dev1/"),
      NGX_IOTHUB_MQTT_OK,
      "CONNECT MQTT/4 clean=0 ka=65535 id=dev1 user=h/dev1/" },
    { "MQTT-3.1.3-6 zero-length client id decodes (refusal is the caller's)",
      B("\x10\x0c" "\x00\x04" "MQTT" "\x04\x02\x00\x3c" "\x00\x00"),
      NGX_IOTHUB_MQTT_OK,
      "CONNECT MQTT/4 clean=1 ka=60 id=" },
    { "MQTT-1.5.3-3 BOM in client id is kept, not skipped",
      B("\x10\x12" "\x00\x04" "MQTT" "\x04\x02\x00\x3c" "\x00\x06" "\xef\xbb"
        "\xbf" "dev"),
      NGX_IOTHUB_MQTT_OK,
      "CONNECT MQTT/4 clean=1 ka=60 id=\\xef\\xbb\\xbfdev" },
    { "3.1.3.5 password is binary data, not UTF-8",
      B("\x10\x18" "\x00\x04" "MQTT" "\x04\xc2\x00\x3c" "\x00\x04" "dev1"
        "\x00\x01" "u" "\x00\x03" "\xff\x00\x01"),
      NGX_IOTHUB_MQTT_OK,
      "CONNECT MQTT/4 clean=1 ka=60 id=dev1 user=u pass=\\xff\\x00\\x01" },
    { "MQTT-3.1.2-2 MQIsdp level 3 gets CONNACK 1",
      B("\x10\x12" "\x00\x06" "MQIsdp" "\x03\x02\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_BAD_LEVEL,
      "CONNECT MQIsdp/3" },
    { "MQTT-3.1.2-2 MQTT level 5 gets CONNACK 1",
      B("\x10\x11" "\x00\x04" "MQTT" "\x05\x02\x00\x3c" "\x00\x04" "dev1"
        "\x00"),
      NGX_IOTHUB_MQTT_BAD_LEVEL,
      "CONNECT MQTT/5" },
    { "MQTT-3.1.2-2 MQTT level 3 gets CONNACK 1",
      B("\x10\x10" "\x00\x04" "MQTT" "\x03\x02\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_BAD_LEVEL,
      "CONNECT MQTT/3" },
    { "MQTT-3.1.2-1 protocol name \"mqtt\" closes",
      B("\x10\x10" "\x00\x04" "mqtt" "\x04\x02\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_BAD_PROTOCOL, NULL },
    { "MQTT-3.1.2-3 reserved connect flag set",
      B("\x10\x10" "\x00\x04" "MQTT" "\x04\x03\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS, NULL },
    { "MQTT-3.1.2-22 password flag without user name flag",
      B("\x10\x13" "\x00\x04" "MQTT" "\x04\x42\x00\x3c" "\x00\x04" "dev1"
        "\x00\x01" "x"),
      NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS, NULL },
    { "MQTT-3.1.2-13 will QoS 1 without will flag",
      B("\x10\x10" "\x00\x04" "MQTT" "\x04\x0a\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS, NULL },
    { "MQTT-3.1.2-15 will retain without will flag",
      B("\x10\x10" "\x00\x04" "MQTT" "\x04\x22\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS, NULL },
    { "MQTT-3.1.2-14 will QoS 3",
      B("\x10\x16" "\x00\x04" "MQTT" "\x04\x1e\x00\x3c" "\x00\x04" "dev1"
        "\x00\x01" "t" "\x00\x01" "m"),
      NGX_IOTHUB_MQTT_BAD_CONNECT_FLAGS, NULL },
    { "MQTT-1.5.3-1 overlong encoding in client id",
      B("\x10\x0e" "\x00\x04" "MQTT" "\x04\x02\x00\x3c" "\x00\x02" "\xc0\xaf"),
      NGX_IOTHUB_MQTT_BAD_UTF8, NULL },
    { "MQTT-1.5.3-1 surrogate U+D800 in user name",
      B("\x10\x15" "\x00\x04" "MQTT" "\x04\x82\x00\x3c" "\x00\x04" "dev1"
        "\x00\x03" "\xed\xa0\x80"),
      NGX_IOTHUB_MQTT_BAD_UTF8, NULL },
    { "MQTT-1.5.3-2 U+0000 in user name",
      B("\x10\x15" "\x00\x04" "MQTT" "\x04\x82\x00\x3c" "\x00\x04" "dev1"
        "\x00\x03" "a\x00" "b"),
      NGX_IOTHUB_MQTT_BAD_UTF8, NULL },
    { "MQTT-3.3.2-2 will topic with a wildcard",
      B("\x10\x1e" "\x00\x04" "MQTT" "\x04\x06\x00\x3c" "\x00\x04" "dev1"
        "\x00\x09" "devices/#" "\x00\x01" "m"),
      NGX_IOTHUB_MQTT_BAD_TOPIC, NULL },
    { "MQTT-4.7.3-1 empty will topic",
      B("\x10\x15" "\x00\x04" "MQTT" "\x04\x06\x00\x3c" "\x00\x04" "dev1"
        "\x00\x00" "\x00\x01" "m"),
      NGX_IOTHUB_MQTT_BAD_TOPIC, NULL },
    { "3.1.3 bytes after the last field",
      B("\x10\x11" "\x00\x04" "MQTT" "\x04\x02\x00\x3c" "\x00\x04" "dev1"
        "\x00"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.1.3.4 user name flag set, field missing",
      B("\x10\x10" "\x00\x04" "MQTT" "\x04\x82\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.1.2.1 protocol name longer than the packet",
      B("\x10\x04" "\x00\x10\x4d\x51"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.1.2.10 packet ends inside keep alive",
      B("\x10\x09" "\x00\x04" "MQTT" "\x04\x02\x00"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "MQTT-2.2.2-2 CONNECT fixed header flags 0001",
      B("\x11\x10" "\x00\x04" "MQTT" "\x04\x02\x00\x3c" "\x00\x04" "dev1"),
      NGX_IOTHUB_MQTT_BAD_FLAGS, NULL },
    { "3.3 mqtt.md 4 telemetry example, QoS 1",
      B("\x32\x6c" "\x00\x5b" "devices/dev1/messages/events/%24.mid=m-42&%24."
        "ct=application%2Fjson&%24.ce=utf-8&alert=high" "\x00\x01" "{\x22temp"
        "\x22:21.5}"),
      NGX_IOTHUB_MQTT_OK,
      "PUBLISH q1 d0 r0 id=1 devices/dev1/messages/events/%24.mid=m-42&%24.ct"
      "=application%2Fjson&%24.ce=utf-8&alert=high {\"temp\":21.5}" },
    { "3.3 messaging.md 2 zero-length payload, QoS 0",
      B("\x30\x1f" "\x00\x1d" "devices/dev1/messages/events/"),
      NGX_IOTHUB_MQTT_OK,
      "PUBLISH q0 d0 r0 devices/dev1/messages/events/ " },
    { "3.3 sdk-traffic 2 twin GET with a single space body",
      B("\x30\x1b" "\x00\x18" "$iothub/twin/GET/?$rid=1" " "),
      NGX_IOTHUB_MQTT_OK,
      "PUBLISH q0 d0 r0 $iothub/twin/GET/?$rid=1  " },
    { "3.3.1.1 DUP with QoS 1 (redelivery)",
      B("\x3a\x08" "\x00\x03" "a/b" "\x00\x07" "x"),
      NGX_IOTHUB_MQTT_OK,
      "PUBLISH q1 d1 r0 id=7 a/b x" },
    { "3.3.1.3 RETAIN set (forwarded with mqtt-retain, mqtt.md 4)",
      B("\x33\x08" "\x00\x03" "a/b" "\xff\xff" "x"),
      NGX_IOTHUB_MQTT_OK,
      "PUBLISH q1 d0 r1 id=65535 a/b x" },
    { "3.3.1.2 QoS 2 decodes (the hub closes, mqtt.md 4)",
      B("\x34\x05" "\x00\x01" "a" "\x00\x02"),
      NGX_IOTHUB_MQTT_OK,
      "PUBLISH q2 d0 r0 id=2 a " },
    { "2.2.3 two-byte remaining length, 200-byte payload",
      B("\x30\xcb\x01" "\x00\x01" "t" P200),
      NGX_IOTHUB_MQTT_OK,
      "PUBLISH q0 d0 r0 t " P200 },
    { "MQTT-1.5.3 four-byte UTF-8 U+2A6D4 in topic (1.5.3.1 example)",
      B("\x30\x07" "\x00\x05" "A\xf0\xaa\x9b\x94"),
      NGX_IOTHUB_MQTT_OK,
      "PUBLISH q0 d0 r0 A\\xf0\\xaa\\x9b\\x94 " },
    { "MQTT-3.3.1-4 QoS 3",
      B("\x36\x03" "\x00\x01" "a"),
      NGX_IOTHUB_MQTT_BAD_QOS, NULL },
    { "MQTT-3.3.1-2 DUP with QoS 0",
      B("\x38\x03" "\x00\x01" "a"),
      NGX_IOTHUB_MQTT_BAD_FLAGS, NULL },
    { "MQTT-3.3.2-2 \"+\" in a topic name",
      B("\x30\x1c" "\x00\x1a" "devices/+/messages/events/"),
      NGX_IOTHUB_MQTT_BAD_TOPIC, NULL },
    { "MQTT-3.3.2-2 \"#\" in a topic name",
      B("\x30\x10" "\x00\x0e" "devices/dev1/#"),
      NGX_IOTHUB_MQTT_BAD_TOPIC, NULL },
    { "MQTT-4.7.3-1 empty topic name",
      B("\x30\x03" "\x00\x00" "x"),
      NGX_IOTHUB_MQTT_BAD_TOPIC, NULL },
    { "MQTT-4.7.3-2 U+0000 in a topic name",
      B("\x30\x05" "\x00\x03" "a\x00" "b"),
      NGX_IOTHUB_MQTT_BAD_UTF8, NULL },
    { "MQTT-1.5.3-1 overlong \"/\" in a topic name",
      B("\x30\x06" "\x00\x04" "a\xc0\xaf" "b"),
      NGX_IOTHUB_MQTT_BAD_UTF8, NULL },
    { "MQTT-2.3.1-1 packet id 0 with QoS 1",
      B("\x32\x06" "\x00\x01" "a" "\x00\x00" "x"),
      NGX_IOTHUB_MQTT_BAD_PACKET_ID, NULL },
    { "3.3.2.1 topic length past the packet",
      B("\x30\x05" "\x00\x09\x61\x62\x63"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.3.2.2 QoS 1 without packet id",
      B("\x32\x06" "\x00\x03" "abc" "\x01"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.3.2 empty body",
      B("\x30\x00"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.4 PUBACK",
      B("\x40\x02" "\x00\x01"),
      NGX_IOTHUB_MQTT_OK,
      "PUBACK 1" },
    { "3.5 PUBREC",
      B("\x50\x02" "\x12\x34"),
      NGX_IOTHUB_MQTT_OK,
      "PUBREC 4660" },
    { "3.6.1 PUBREL flags 0010",
      B("\x62\x02" "\x00\x02"),
      NGX_IOTHUB_MQTT_OK,
      "PUBREL 2" },
    { "3.7 PUBCOMP",
      B("\x70\x02" "\xff\xff"),
      NGX_IOTHUB_MQTT_OK,
      "PUBCOMP 65535" },
    { "MQTT-3.6.1-1 PUBREL flags 0000",
      B("\x60\x02" "\x00\x02"),
      NGX_IOTHUB_MQTT_BAD_FLAGS, NULL },
    { "MQTT-2.2.2-2 PUBACK flags 0010",
      B("\x42\x02" "\x00\x02"),
      NGX_IOTHUB_MQTT_BAD_FLAGS, NULL },
    { "MQTT-2.3.1-1 PUBACK packet id 0",
      B("\x40\x02" "\x00\x00"),
      NGX_IOTHUB_MQTT_BAD_PACKET_ID, NULL },
    { "3.4.2 PUBACK remaining length 3",
      B("\x40\x03" "\x00\x01\x00"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.4.2 PUBACK remaining length 1",
      B("\x40\x01" "\x01"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.8 mqtt.md 3 C SDK: one SUBSCRIBE with four filters",
      B("\x82\x80\x01" "\x00\x01" "\x00\x23" "devices/dev1/messages/devicebou"
        "nd/#" "\x01" "\x00\x12" "$iothub/twin/res/#" "\x00" "\x00\x27" "$iot"
        "hub/twin/PATCH/properties/desired/#" "\x00" "\x00\x16" "$iothub/meth"
        "ods/POST/#" "\x00"),
      NGX_IOTHUB_MQTT_OK,
      "SUBSCRIBE 1 devices/dev1/messages/devicebound/#:1 $iothub/twin/res/#:0"
      " $iothub/twin/PATCH/properties/desired/#:0 $iothub/methods/POST/#:0" },
    { "3.8.3.1 QoS 2 requested decodes (granted 1, mqtt.md 3)",
      B("\x82\x1b" "\x00\x09" "\x00\x16" "$iothub/methods/POST/#" "\x02"),
      NGX_IOTHUB_MQTT_OK,
      "SUBSCRIBE 9 $iothub/methods/POST/#:2" },
    { "4.7.1 misplaced wildcard is left to ngx_iothub_mqtt_filter_valid()",
      B("\x82\x0b" "\x00\x03" "\x00\x06" "sport+" "\x00"),
      NGX_IOTHUB_MQTT_OK,
      "SUBSCRIBE 3 sport+:0" },
    { "MQTT-3.8.1-1 SUBSCRIBE flags 0000",
      B("\x80\x28" "\x00\x01" "\x00\x23" "devices/dev1/messages/devicebound/#"
        "\x01"),
      NGX_IOTHUB_MQTT_BAD_FLAGS, NULL },
    { "MQTT-3.8.3-3 SUBSCRIBE without filters",
      B("\x82\x02" "\x00\x01"),
      NGX_IOTHUB_MQTT_NO_TOPICS, NULL },
    { "MQTT-3-8.3-4 requested QoS with reserved bits",
      B("\x82\x06" "\x00\x01" "\x00\x01" "a" "\x04"),
      NGX_IOTHUB_MQTT_BAD_QOS, NULL },
    { "3.8.3.1 requested QoS 3",
      B("\x82\x0a" "\x00\x01" "\x00\x01" "a" "\x01" "\x00\x01" "b" "\x03"),
      NGX_IOTHUB_MQTT_BAD_QOS, NULL },
    { "MQTT-4.7.3-1 empty topic filter",
      B("\x82\x05" "\x00\x01" "\x00\x00" "\x00"),
      NGX_IOTHUB_MQTT_BAD_TOPIC, NULL },
    { "MQTT-1.5.3-1 topic filter not UTF-8",
      B("\x82\x06" "\x00\x01" "\x00\x01" "\xff" "\x00"),
      NGX_IOTHUB_MQTT_BAD_UTF8, NULL },
    { "MQTT-2.3.1-1 SUBSCRIBE packet id 0",
      B("\x82\x06" "\x00\x00" "\x00\x01" "a" "\x00"),
      NGX_IOTHUB_MQTT_BAD_PACKET_ID, NULL },
    { "3.8.3 requested QoS byte missing",
      B("\x82\x05" "\x00\x01" "\x00\x01" "a"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.8.2 packet id cut short",
      B("\x82\x01" "\x00"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.10 Node UNSUBSCRIBE (mqtt.md 3)",
      B("\xa2\x3f" "\x00\x02" "\x00\x23" "devices/dev1/messages/devicebound/#"
        "\x00\x16" "$iothub/methods/POST/#"),
      NGX_IOTHUB_MQTT_OK,
      "UNSUBSCRIBE 2 devices/dev1/messages/devicebound/# $iothub/methods/POST"
      "/#" },
    { "MQTT-3.10.1-1 UNSUBSCRIBE flags 0000",
      B("\xa0\x05" "\x00\x02" "\x00\x01" "a"),
      NGX_IOTHUB_MQTT_BAD_FLAGS, NULL },
    { "MQTT-3.10.3-2 UNSUBSCRIBE without filters",
      B("\xa2\x02" "\x00\x02"),
      NGX_IOTHUB_MQTT_NO_TOPICS, NULL },
    { "3.10.3 filter length past the packet",
      B("\xa2\x06" "\x00\x02\x00\x05\x61\x62"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.12 PINGREQ",
      B("\xc0\x00"),
      NGX_IOTHUB_MQTT_OK,
      "PINGREQ" },
    { "3.14 DISCONNECT",
      B("\xe0\x00"),
      NGX_IOTHUB_MQTT_OK,
      "DISCONNECT" },
    { "2.2.3 remaining length 0 in two bytes is accepted",
      B("\xc0\x80\x00"),
      NGX_IOTHUB_MQTT_OK,
      "PINGREQ" },
    { "3.12 PINGREQ with a body byte",
      B("\xc0\x01\x00"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "MQTT-2.2.2-2 PINGREQ flags 0001",
      B("\xc1\x00"),
      NGX_IOTHUB_MQTT_BAD_FLAGS, NULL },
    { "MQTT-3.14.1-1 DISCONNECT flags 0010",
      B("\xe2\x00"),
      NGX_IOTHUB_MQTT_BAD_FLAGS, NULL },
    { "3.14 DISCONNECT with a body byte",
      B("\xe0\x01\x00"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
    { "3.2 CONNACK sent by a client",
      B("\x20\x02\x00\x00"),
      NGX_IOTHUB_MQTT_BAD_TYPE, NULL },
    { "3.9 SUBACK sent by a client",
      B("\x90\x03\x00\x01\x00"),
      NGX_IOTHUB_MQTT_BAD_TYPE, NULL },
    { "3.11 UNSUBACK sent by a client",
      B("\xb0\x02\x00\x01"),
      NGX_IOTHUB_MQTT_BAD_TYPE, NULL },
    { "3.13 PINGRESP sent by a client",
      B("\xd0\x00"),
      NGX_IOTHUB_MQTT_BAD_TYPE, NULL },
    { "2.2.1 reserved type 0",
      B("\x00\x00"),
      NGX_IOTHUB_MQTT_BAD_TYPE, NULL },
    { "2.2.1 reserved type 15",
      B("\xf0\x00"),
      NGX_IOTHUB_MQTT_BAD_TYPE, NULL },
    { "2.2.3 remaining length needs a fifth byte",
      B("\x30\xff\xff\xff\xff\x01"),
      NGX_IOTHUB_MQTT_MALFORMED, NULL },
};


static const frame_case_t  frame_cases[] = {

    /* MQTT 2.2.3 remaining length */

    { "2.2.3 empty buffer", B(""), 0, 0, NGX_IOTHUB_MQTT_AGAIN, 0 },
    { "2.2.3 first byte only", B("\x30"), 0, 0, NGX_IOTHUB_MQTT_AGAIN, 0 },
    { "2.2.3 remaining length 128 (0x80 0x01): header gives the length",
      B("\x30\x80\x01"), 0, 0, NGX_IOTHUB_MQTT_AGAIN, 131 },
    { "2.2.3 largest remaining length 268435455 (0xff 0xff 0xff 0x7f)",
      B("\x30\xff\xff\xff\x7f"), 0, 0, NGX_IOTHUB_MQTT_AGAIN, 268435460 },
    { "2.2.3 remaining length 2097152 in four bytes",
      B("\x30\x80\x80\x80\x01"), 0, 0, NGX_IOTHUB_MQTT_AGAIN, 2097157 },
    { "2.2.3 continuation bit on the fourth length byte",
      B("\x30\x80\x80\x80\x80"), 0, 0, NGX_IOTHUB_MQTT_MALFORMED, 0 },
    { "2.2.3 three length bytes so far, still incomplete",
      B("\x30\x80\x80\x80"), 0, 0, NGX_IOTHUB_MQTT_AGAIN, 0 },

    /* iothub_mqtt_max_packet_size, STYLE 7 */

    { "max packet size: a packet of exactly max bytes",
      B("\x30\x08" "\x00\x01" "a" "hello"), 0, 10, NGX_IOTHUB_MQTT_OK, 10 },
    { "max packet size: one byte over, known from the header",
      B("\x30\x08" "\x00\x01" "a" "hello"), 2, 9, NGX_IOTHUB_MQTT_TOO_LARGE,
      0 },
    { "max packet size: 256k refused before the body arrives",
      B("\x30\xff\xff\x0f"), 0, 262144, NGX_IOTHUB_MQTT_TOO_LARGE, 0 },
    { "max packet size: 262144 bytes with a 4-byte header is allowed",
      B("\x30\xfc\xff\x0f"), 0, 262144, NGX_IOTHUB_MQTT_AGAIN, 262144 },

    /* MQTT 2.2.2 and fixed-size packets, judged as early as possible */

    { "MQTT-2.2.2-2 SUBSCRIBE flags 0000 refused on the first byte",
      B("\x80"), 0, 0, NGX_IOTHUB_MQTT_BAD_FLAGS, 0 },
    { "MQTT-2.2.2-2 SUBSCRIBE flags 0010 wait for the length",
      B("\x82"), 0, 0, NGX_IOTHUB_MQTT_AGAIN, 0 },
    { "MQTT-3.3.1-4 PUBLISH QoS 3 refused on the first byte",
      B("\x36"), 0, 0, NGX_IOTHUB_MQTT_BAD_QOS, 0 },
    { "2.2.1 reserved type 15 refused on the first byte",
      B("\xf0"), 0, 0, NGX_IOTHUB_MQTT_BAD_TYPE, 0 },
    { "3.4.1 PUBACK remaining length 3 refused before the body",
      B("\x40\x03"), 0, 0, NGX_IOTHUB_MQTT_MALFORMED, 0 },
    { "3.12.1 PINGREQ remaining length 1 refused before the body",
      B("\xc0\x01"), 0, 0, NGX_IOTHUB_MQTT_MALFORMED, 0 },

    /* the caller's buffer holds more than one packet */

    { "two PINGREQ in one buffer: the first is 2 bytes",
      B("\xc0\x00\xc0\x00"), 0, 0, NGX_IOTHUB_MQTT_OK, 2 },
    { "PUBACK followed by half a PUBLISH",
      B("\x40\x02\x00\x01\x30\x05"), 0, 0, NGX_IOTHUB_MQTT_OK, 4 },
};


static const utf8_case_t  utf8_cases[] = {
    { "1.5.3 ASCII", B("devices/dev1"), 1 },
    { "1.5.3 empty string", B(""), 1 },
    { "1.5.3.1 example: A U+2A6D4", B("A\xf0\xaa\x9b\x94"), 1 },
    { "MQTT-1.5.3-3 BOM U+FEFF is a valid character", B("\xef\xbb\xbf"), 1 },
    { "1.5.3 U+0001 is allowed (only SHOULD NOT)", B("a\x01"), 1 },
    { "1.5.3 non-character U+FFFF is allowed (only SHOULD NOT)",
      B("\xef\xbf\xbf"), 1 },
    { "1.5.3 U+007F..U+07FF boundaries", B("\x7f\xc2\x80\xdf\xbf"), 1 },
    { "1.5.3 U+0800 and U+10FFFF", B("\xe0\xa0\x80\xf4\x8f\xbf\xbf"), 1 },
    { "MQTT-1.5.3-2 U+0000", B("a\x00"), 0 },
    { "MQTT-1.5.3-1 surrogate U+D800", B("\xed\xa0\x80"), 0 },
    { "MQTT-1.5.3-1 surrogate U+DFFF", B("\xed\xbf\xbf"), 0 },
    { "MQTT-1.5.3-1 overlong U+0000 (C0 80)", B("\xc0\x80"), 0 },
    { "MQTT-1.5.3-1 overlong \"/\" in three bytes", B("\xe0\x80\xaf"), 0 },
    { "MQTT-1.5.3-1 overlong \"/\" in four bytes", B("\xf0\x80\x80\xaf"), 0 },
    { "MQTT-1.5.3-1 above U+10FFFF", B("\xf4\x90\x80\x80"), 0 },
    { "MQTT-1.5.3-1 lead byte F5", B("\xf5\x80\x80\x80"), 0 },
    { "MQTT-1.5.3-1 lone continuation byte", B("a\x80"), 0 },
    { "MQTT-1.5.3-1 sequence cut by the end", B("\xe2\x82"), 0 },
    { "MQTT-1.5.3-1 sequence cut by ASCII", B("\xe2\x82" "a"), 0 },
    { "MQTT-1.5.3-1 byte FF", B("\xff"), 0 },
};


static const connack_case_t  connack_cases[] = {
    { "3.2 accepted, no stored session", 0, 0, 4, B("\x20\x02\x00\x00") },
    { "3.2.2.2 mqtt.md 9: accepted, stored session resumed", 1, 0, 4,
      B("\x20\x02\x01\x00") },
    { "MQTT-3.2.2-4 session present is 0 with a refusal", 1, 5, 4,
      B("\x20\x02\x00\x05") },
    { "MQTT-3.1.2-2 code 1 for an unsupported level", 0, 1, 4,
      B("\x20\x02\x00\x01") },
    { "3.2.2.3 mqtt.md 2 code 4 bad user name or password", 0, 4, 4,
      B("\x20\x02\x00\x04") },
    { "3.2.2.3 code 6 is reserved", 0, 6, 4, NULL, 0 },
    { "buffer of 3 bytes", 0, 0, 3, NULL, 0 },
};


static const publish_case_t  publish_cases[] = {
    { "3.3 sdk-traffic 2 C2D delivery, QoS 1",
      "devices/dev1/messages/devicebound/%24.mid=capture-c2d-1&%24.cid=captur"
      "e-corr&%24.to=%2Fdevices%2Fdev1%2Fmessages%2Fdevicebound&color=blue&a%"
      "20b=c%26d",
      1, 0, 0, 1, B("hi"), 0,
      B("\x32\x9b\x01" "\x00\x95" "devices/dev1/messages/devicebound/%24.mid="
        "capture-c2d-1&%24.cid=capture-corr&%24.to=%2Fdevices%2Fdev1%2Fmessag"
        "es%2Fdevicebound&color=blue&a%20b=c%26d" "\x00\x01" "hi") },
    { "3.3 mqtt.md 7 twin response, QoS 0, empty payload",
      "$iothub/twin/res/204/?$rid=1&$version=2",
      0, 0, 0, 0, B(""), 0,
      B("\x30\x29" "\x00\x27" "$iothub/twin/res/204/?$rid=1&$version=2") },
    { "3.3 sdk-traffic 2 method request, QoS 0",
      "$iothub/methods/POST/echo/?$rid=capture-rid-1",
      0, 0, 0, 0, B("{\"n\":42}"), 0,
      B("\x30\x37" "\x00\x2d" "$iothub/methods/POST/echo/?$rid=capture-rid-1"
        "{\x22n\x22:42}") },
    { "3.3.1.1 DUP on a QoS 1 redelivery",
      "a/b",
      1, 1, 0, 4660, B("x"), 0,
      B("\x3a\x08" "\x00\x03" "a/b" "\x12\x34" "x") },
    { "3.3.1.3 RETAIN and QoS 2",
      "a",
      2, 0, 1, 2, B(""), 0,
      B("\x35\x05" "\x00\x01" "a" "\x00\x02") },
    { "2.2.3 remaining length 128 takes two bytes",
      "t",
      0, 0, 0, 0, B(X125), 0,
      B("\x30\x80\x01" "\x00\x01" "t" X125) },
    { "buffer exactly the packet size",
      "a",
      1, 0, 0, 1, B("xy"), 9,
      B("\x32\x07" "\x00\x01" "a" "\x00\x01" "xy") },
    { "buffer one byte short",
      "a",
      1, 0, 0, 1, B("xy"), 8,
      NULL, 0 },
    { "MQTT-3.3.1-2 DUP with QoS 0 is not encoded",
      "a",
      0, 1, 0, 0, B(""), 0,
      NULL, 0 },
    { "MQTT-2.3.1-1 QoS 1 with packet id 0 is not encoded",
      "a",
      1, 0, 0, 0, B(""), 0,
      NULL, 0 },
    { "MQTT-3.3.1-4 QoS 3 is not encoded",
      "a",
      3, 0, 0, 1, B(""), 0,
      NULL, 0 },
    { "MQTT-4.7.3-1 empty topic is not encoded",
      "",
      0, 0, 0, 0, B("x"), 0,
      NULL, 0 },
};


static const ack_case_t  ack_cases[] = {
    { "3.4 PUBACK", NGX_IOTHUB_MQTT_PUBACK, 1, 4, B("\x40\x02\x00\x01") },
    { "3.4 PUBACK id 0x1234", NGX_IOTHUB_MQTT_PUBACK, 0x1234, 4,
      B("\x40\x02\x12\x34") },
    { "3.4 PUBACK id 65535", NGX_IOTHUB_MQTT_PUBACK, 65535, 4,
      B("\x40\x02\xff\xff") },
    { "3.11 UNSUBACK", NGX_IOTHUB_MQTT_UNSUBACK, 2, 4,
      B("\xb0\x02\x00\x02") },
    { "MQTT-2.3.1-1 PUBACK id 0 is not encoded", NGX_IOTHUB_MQTT_PUBACK, 0,
      4, NULL, 0 },
    { "2.3.1 PUBACK id 65536 is not encoded", NGX_IOTHUB_MQTT_PUBACK,
      65536, 4, NULL, 0 },
    { "UNSUBACK into 3 bytes", NGX_IOTHUB_MQTT_UNSUBACK, 2, 3, NULL, 0 },
};


static const suback_case_t  suback_cases[] = {
    { "3.9 mqtt.md 3 one code per filter of the C SDK's SUBSCRIBE", 1,
      B("\x01\x00\x00\x00"), 8, B("\x90\x06\x00\x01\x01\x00\x00\x00") },
    { "3.9 mqtt.md 3 requested QoS 2 granted 1", 9, B("\x01"), 5,
      B("\x90\x03\x00\x09\x01") },
    { "3.9.3 mqtt.md 3 failure 0x80 for a refused filter", 3,
      B("\x80\x01"), 6, B("\x90\x04\x00\x03\x80\x01") },
    { "MQTT-3.9.3-2 code 3 is not encoded", 1, B("\x03"), 8, NULL, 0 },
    { "3.9.3 no codes", 1, B(""), 8, NULL, 0 },
    { "MQTT-2.3.1-1 packet id 0", 0, B("\x00"), 8, NULL, 0 },
    { "buffer one byte short", 1, B("\x00\x01"), 5, NULL, 0 },
};


static void
test_decode(void **state)
{
    const decode_case_t  *c;

    c = *state;

    check_whole(c);
    check_bytewise(c);
    check_pipelined(c);
}


/* the framer finds the packet whole, the decoder answers c->rc */
static void
check_whole(const decode_case_t *c)
{
    char                      text[SUMMARY_MAX];
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_packet_t  pkt;

    rc = ngx_iothub_mqtt_frame(c->bytes, c->len, 0, &f);

    if (rc != NGX_IOTHUB_MQTT_OK) {
        assert_int_equal(rc, c->rc);
        assert_null(c->summary);
        return;
    }

    assert_int_equal(f.len, c->len);
    assert_int_equal(f.type, c->bytes[0] >> 4);

    rc = ngx_iothub_mqtt_parse(c->bytes, c->len, &pkt);
    assert_int_equal(rc, c->rc);
    assert_int_equal(pkt.type, c->bytes[0] >> 4);

    if (c->summary != NULL) {
        summary(text, &pkt);
        assert_string_equal(text, c->summary);
    }

    if (rc == NGX_IOTHUB_MQTT_OK) {
        /* only the exact packet length is a packet */
        rc = ngx_iothub_mqtt_parse(c->bytes, c->len - 1, &pkt);
        assert_int_not_equal(rc, NGX_IOTHUB_MQTT_OK);
    }
}


/* the same verdict when the bytes arrive one at a time */
static void
check_bytewise(const decode_case_t *c)
{
    size_t                    i;
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_packet_t  pkt;

    rc = NGX_IOTHUB_MQTT_AGAIN;

    for (i = 0; i <= c->len; i++) {
        rc = ngx_iothub_mqtt_frame(c->bytes, i, 0, &f);

        if (rc != NGX_IOTHUB_MQTT_AGAIN) {
            break;
        }
    }

    if (i < c->len) {
        /* an error found before the packet is complete */
        assert_int_not_equal(rc, NGX_IOTHUB_MQTT_OK);
        assert_int_equal(rc, c->rc);
        return;
    }

    assert_int_equal(i, c->len);

    if (rc == NGX_IOTHUB_MQTT_OK) {
        assert_int_equal(f.len, c->len);
        rc = ngx_iothub_mqtt_parse(c->bytes, f.len, &pkt);
    }

    assert_int_equal(rc, c->rc);
}


/* followed by a PINGREQ in the same buffer */
static void
check_pipelined(const decode_case_t *c)
{
    u_char                   *buf;
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_packet_t  pkt;

    buf = malloc(c->len + 2);
    assert_non_null(buf);

    memcpy(buf, c->bytes, c->len);
    buf[c->len] = 0xc0;
    buf[c->len + 1] = 0x00;

    rc = ngx_iothub_mqtt_frame(buf, c->len + 2, 0, &f);

    if (rc == NGX_IOTHUB_MQTT_OK) {
        assert_int_equal(f.len, c->len);
        assert_int_equal(ngx_iothub_mqtt_parse(buf, f.len, &pkt), c->rc);

        /* a decoder given more than one packet refuses it */
        assert_int_not_equal(ngx_iothub_mqtt_parse(buf, c->len + 2, &pkt),
                             NGX_IOTHUB_MQTT_OK);

        rc = ngx_iothub_mqtt_frame(buf + f.len, 2, 0, &f);
        assert_int_equal(rc, NGX_IOTHUB_MQTT_OK);
        assert_int_equal(f.type, NGX_IOTHUB_MQTT_PINGREQ);

    } else if (c->len > 1) {
        assert_int_equal(rc, c->rc);
    }

    free(buf);
}


static void
test_frame(void **state)
{
    size_t                    avail;
    const frame_case_t       *c;
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;

    c = *state;
    avail = (c->avail != 0) ? c->avail : c->len;

    rc = ngx_iothub_mqtt_frame(c->bytes, avail, c->max, &f);
    assert_int_equal(rc, c->rc);

    if (c->packet_len != 0) {
        assert_int_equal(f.len, c->packet_len);
        assert_int_equal(f.type, c->bytes[0] >> 4);
        assert_int_equal(f.flags, c->bytes[0] & 0x0f);
        assert_int_equal(f.header_len + f.remaining, f.len);
    }

    if (rc != NGX_IOTHUB_MQTT_OK && rc != NGX_IOTHUB_MQTT_AGAIN) {
        assert_int_equal(f.len, 0);
    }
}


static void
test_utf8(void **state)
{
    const utf8_case_t  *c;

    c = *state;

    assert_int_equal(ngx_iothub_mqtt_utf8_valid(c->bytes, c->len), c->valid);
}


static void
test_connack(void **state)
{
    size_t                 n;
    u_char                 buf[16];
    const connack_case_t  *c;

    c = *state;

    memset(buf, 0xee, sizeof(buf));

    n = ngx_iothub_mqtt_write_connack(buf, c->size, c->session_present,
                                      c->code);

    check_bytes(buf, n, c->expected, c->expected_len);
}


static void
test_publish(void **state)
{
    size_t                     n, size;
    u_char                     buf[512];
    const publish_case_t      *c;
    ngx_iothub_mqtt_publish_t  pub;

    c = *state;

    memset(&pub, 0, sizeof(ngx_iothub_mqtt_publish_t));
    pub.topic.data = (const u_char *) c->topic;
    pub.topic.len = strlen(c->topic);
    pub.qos = c->qos;
    pub.dup = c->dup;
    pub.retain = c->retain;
    pub.packet_id = c->packet_id;
    pub.payload.data = c->payload;
    pub.payload.len = c->payload_len;

    size = (c->size != 0) ? c->size : sizeof(buf);
    memset(buf, 0xee, sizeof(buf));

    n = ngx_iothub_mqtt_write_publish(buf, size, &pub);
    check_bytes(buf, n, c->expected, c->expected_len);

    if (c->expected == NULL) {
        /* invalid arguments have no size; a small buffer does not matter */
        assert_int_equal(ngx_iothub_mqtt_publish_size(&pub) == 0,
                         c->size == 0);
        return;
    }

    assert_int_equal(ngx_iothub_mqtt_publish_size(&pub), c->expected_len);

    /* the header-only variant is the same bytes minus the payload */
    memset(buf, 0xee, sizeof(buf));
    n = ngx_iothub_mqtt_write_publish_header(buf, size, &pub);

    assert_int_equal(n, c->expected_len - c->payload_len);
    assert_int_equal(ngx_iothub_mqtt_publish_header_size(&pub), n);
    assert_memory_equal(buf, c->expected, n);
    assert_int_equal(buf[n], 0xee);
}


static void
test_ack(void **state)
{
    size_t             n;
    u_char             buf[16];
    const ack_case_t  *c;

    c = *state;

    memset(buf, 0xee, sizeof(buf));

    if (c->type == NGX_IOTHUB_MQTT_PUBACK) {
        n = ngx_iothub_mqtt_write_puback(buf, c->size, c->packet_id);

    } else {
        n = ngx_iothub_mqtt_write_unsuback(buf, c->size, c->packet_id);
    }

    check_bytes(buf, n, c->expected, c->expected_len);
}


static void
test_suback(void **state)
{
    size_t                n;
    u_char                buf[16];
    const suback_case_t  *c;

    c = *state;

    memset(buf, 0xee, sizeof(buf));

    n = ngx_iothub_mqtt_write_suback(buf, c->size, c->packet_id, c->codes,
                                     c->n);

    check_bytes(buf, n, c->expected, c->expected_len);

    if (c->expected != NULL) {
        assert_int_equal(ngx_iothub_mqtt_suback_size(c->n), n);
    }
}


/*
 * STYLE 7: a fixed input buffer, bytes arriving one at a time, compacted
 * after each packet; every decodable case of the table goes through it.
 */
static void
test_stream(void **state)
{
    size_t                    i, j, used, fed, total, packets, expected;
    u_char                   *stream, in[512];
    ngx_iothub_mqtt_rc_e      rc;
    ngx_iothub_mqtt_frame_t   f;
    ngx_iothub_mqtt_packet_t  pkt;

    (void) state;

    total = 0;
    expected = 0;

    for (i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
        if (decode_cases[i].rc == NGX_IOTHUB_MQTT_OK) {
            total += decode_cases[i].len;
            expected++;
        }
    }

    stream = malloc(total);
    assert_non_null(stream);

    for (i = 0, j = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]);
         i++)
    {
        if (decode_cases[i].rc == NGX_IOTHUB_MQTT_OK) {
            memcpy(stream + j, decode_cases[i].bytes, decode_cases[i].len);
            j += decode_cases[i].len;
        }
    }

    used = 0;
    packets = 0;

    for (fed = 0; fed < total; fed++) {
        in[used++] = stream[fed];

        rc = ngx_iothub_mqtt_frame(in, used, sizeof(in), &f);
        if (rc == NGX_IOTHUB_MQTT_AGAIN) {
            continue;
        }

        assert_int_equal(rc, NGX_IOTHUB_MQTT_OK);
        assert_int_equal(ngx_iothub_mqtt_parse(in, f.len, &pkt),
                         NGX_IOTHUB_MQTT_OK);

        memmove(in, in + f.len, used - f.len);
        used -= f.len;
        packets++;
    }

    assert_int_equal(used, 0);
    assert_int_equal(packets, expected);

    free(stream);
}


/* what the encoder writes, the decoder reads back unchanged */
static void
test_round_trip(void **state)
{
    size_t                     i, n;
    u_char                     buf[256];
    ngx_iothub_mqtt_publish_t  pub, out;

    static const u_int  qos[] = { 0, 1, 2, 1 };

    (void) state;

    for (i = 0; i < sizeof(qos) / sizeof(qos[0]); i++) {
        memset(&pub, 0, sizeof(ngx_iothub_mqtt_publish_t));
        pub.topic.data = (const u_char *) "devices/dev1/messages/devicebound/";
        pub.topic.len = i * 10 + 1;
        pub.qos = qos[i];
        pub.dup = (i == 3);
        pub.retain = (i == 2);
        pub.packet_id = (qos[i] != 0) ? 0x100 * i + 1 : 0;
        pub.payload.data = (const u_char *) X125;
        pub.payload.len = i * 40;

        n = ngx_iothub_mqtt_write_publish(buf, sizeof(buf), &pub);
        assert_int_not_equal(n, 0);

        assert_int_equal(ngx_iothub_mqtt_parse_publish(buf, n, &out),
                         NGX_IOTHUB_MQTT_OK);

        assert_int_equal(out.qos, pub.qos);
        assert_int_equal(out.dup, pub.dup);
        assert_int_equal(out.retain, pub.retain);
        assert_int_equal(out.packet_id, pub.packet_id);
        assert_int_equal(out.topic.len, pub.topic.len);
        assert_memory_equal(out.topic.data, pub.topic.data, pub.topic.len);
        assert_int_equal(out.payload.len, pub.payload.len);
        assert_memory_equal(out.payload.data, pub.payload.data,
                            pub.payload.len);
    }
}


/* sizes at the limits of MQTT 2.2.3 and 1.5.3, nothing written */
static void
test_sizes(void **state)
{
    ngx_iothub_mqtt_publish_t  pub;

    (void) state;

    memset(&pub, 0, sizeof(ngx_iothub_mqtt_publish_t));
    pub.topic.data = (const u_char *) "t";
    pub.topic.len = 1;
    pub.payload.data = (const u_char *) "";

    /* 2 + 1 + payload is the remaining length */
    pub.payload.len = NGX_IOTHUB_MQTT_REMAINING_MAX - 3;
    assert_int_equal(ngx_iothub_mqtt_publish_size(&pub),
                     1 + 4 + NGX_IOTHUB_MQTT_REMAINING_MAX);
    assert_int_equal(ngx_iothub_mqtt_publish_header_size(&pub), 1 + 4 + 3);

    pub.payload.len++;
    assert_int_equal(ngx_iothub_mqtt_publish_size(&pub), 0);
    assert_int_equal(ngx_iothub_mqtt_publish_header_size(&pub), 0);

    /* a 65535-byte topic fits a UTF-8 string, 65536 does not */
    pub.payload.len = 0;
    pub.topic.len = 65535;
    assert_int_equal(ngx_iothub_mqtt_publish_size(&pub), 1 + 3 + 65537);

    pub.topic.len = 65536;
    assert_int_equal(ngx_iothub_mqtt_publish_size(&pub), 0);

    assert_int_equal(ngx_iothub_mqtt_suback_size(1), 5);
    assert_int_equal(ngx_iothub_mqtt_suback_size(125), 129);
    assert_int_equal(ngx_iothub_mqtt_suback_size(126), 131);
    assert_int_equal(ngx_iothub_mqtt_suback_size(0), 0);
}


static void
test_subscribe_walk(void **state)
{
    u_int                        qos;
    size_t                       pos;
    ngx_iothub_mqtt_str_t        filter;
    ngx_iothub_mqtt_subscribe_t  s;

    static const u_char  sub[] =
        "\x82\x0c" "\x00\x05" "\x00\x03" "a/#" "\x01" "\x00\x01" "b" "\x02";
    static const u_char  unsub[] = "\xa2\x07" "\x00\x06" "\x00\x03" "a/#";

    (void) state;

    assert_int_equal(ngx_iothub_mqtt_parse_subscribe(sub, sizeof(sub) - 1,
                                                     &s),
                     NGX_IOTHUB_MQTT_OK);
    assert_int_equal(s.type, NGX_IOTHUB_MQTT_SUBSCRIBE);
    assert_int_equal(s.packet_id, 5);
    assert_int_equal(s.count, 2);

    pos = 0;
    assert_int_equal(ngx_iothub_mqtt_subscribe_next(&s, &pos, &filter, &qos),
                     1);
    assert_int_equal(filter.len, 3);
    assert_memory_equal(filter.data, "a/#", 3);
    assert_int_equal(qos, 1);

    assert_int_equal(ngx_iothub_mqtt_subscribe_next(&s, &pos, &filter, NULL),
                     1);
    assert_int_equal(filter.len, 1);
    assert_int_equal(ngx_iothub_mqtt_subscribe_next(&s, &pos, &filter, &qos),
                     0);
    assert_int_equal(ngx_iothub_mqtt_subscribe_next(&s, &pos, &filter, &qos),
                     0);

    assert_int_equal(ngx_iothub_mqtt_parse_subscribe(unsub,
                                                     sizeof(unsub) - 1, &s),
                     NGX_IOTHUB_MQTT_OK);
    assert_int_equal(s.type, NGX_IOTHUB_MQTT_UNSUBSCRIBE);

    pos = 0;
    qos = 9;
    assert_int_equal(ngx_iothub_mqtt_subscribe_next(&s, &pos, &filter, &qos),
                     1);
    assert_int_equal(qos, 0);
    assert_int_equal(ngx_iothub_mqtt_subscribe_next(&s, &pos, &filter, &qos),
                     0);

    /* the per-type decoders refuse other types */
    assert_int_equal(ngx_iothub_mqtt_parse_subscribe(B("\xc0\x00"), &s),
                     NGX_IOTHUB_MQTT_BAD_TYPE);
}


static void
test_pingresp(void **state)
{
    u_char  buf[4];

    (void) state;

    memset(buf, 0xee, sizeof(buf));

    assert_int_equal(ngx_iothub_mqtt_write_pingresp(buf, 2), 2);
    assert_memory_equal(buf, "\xd0\x00\xee", 3);
    assert_int_equal(ngx_iothub_mqtt_write_pingresp(buf, 1), 0);
}


static void
test_strerror(void **state)
{
    int          i, j;
    const char  *a, *b;

    (void) state;

    for (i = NGX_IOTHUB_MQTT_OK; i <= NGX_IOTHUB_MQTT_NO_TOPICS; i++) {
        a = ngx_iothub_mqtt_strerror((ngx_iothub_mqtt_rc_e) i);
        assert_non_null(a);
        assert_true(strlen(a) > 0);

        for (j = NGX_IOTHUB_MQTT_OK; j < i; j++) {
            b = ngx_iothub_mqtt_strerror((ngx_iothub_mqtt_rc_e) j);
            assert_string_not_equal(a, b);
        }
    }
}


static void
summary(char *out, const ngx_iothub_mqtt_packet_t *pkt)
{
    static const char  *names[] = {
        "RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
        "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE",
        "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "RESERVED"
    };

    out[0] = '\0';

    switch (pkt->type) {

    case NGX_IOTHUB_MQTT_CONNECT:
        summary_connect(out, &pkt->u.connect);
        return;

    case NGX_IOTHUB_MQTT_PUBLISH:
        append(out, "PUBLISH q%u d%u r%u", pkt->u.publish.qos,
               pkt->u.publish.dup, pkt->u.publish.retain);

        if (pkt->u.publish.qos != 0) {
            append(out, " id=%u", pkt->u.publish.packet_id);
        }

        append(out, " ");
        append_str(out, &pkt->u.publish.topic);
        append(out, " ");
        append_str(out, &pkt->u.publish.payload);
        return;

    case NGX_IOTHUB_MQTT_PUBACK:
    case NGX_IOTHUB_MQTT_PUBREC:
    case NGX_IOTHUB_MQTT_PUBREL:
    case NGX_IOTHUB_MQTT_PUBCOMP:
        append(out, "%s %u", names[pkt->u.ack.type], pkt->u.ack.packet_id);
        return;

    case NGX_IOTHUB_MQTT_SUBSCRIBE:
    case NGX_IOTHUB_MQTT_UNSUBSCRIBE:
        summary_subscribe(out, &pkt->u.subscribe);
        return;

    default:
        append(out, "%s", names[pkt->type & 0x0f]);
        return;
    }
}


static void
summary_connect(char *out, const ngx_iothub_mqtt_connect_t *c)
{
    append(out, "CONNECT ");
    append_str(out, &c->protocol);
    append(out, "/%u", c->level);

    if (c->level != 4) {
        return;
    }

    append(out, " clean=%u ka=%u id=", c->clean_session, c->keep_alive);
    append_str(out, &c->client_id);

    if (c->will) {
        append(out, " will=");
        append_str(out, &c->will_topic);
        append(out, ":");
        append_str(out, &c->will_message);
        append(out, " q%u r%u", c->will_qos, c->will_retain);
    }

    if (c->has_username) {
        append(out, " user=");
        append_str(out, &c->username);
    }

    if (c->has_password) {
        append(out, " pass=");
        append_str(out, &c->password);
    }
}


static void
summary_subscribe(char *out, const ngx_iothub_mqtt_subscribe_t *s)
{
    u_int                  qos;
    size_t                 pos, n;
    ngx_iothub_mqtt_str_t  filter;

    append(out, "%s %u",
           (s->type == NGX_IOTHUB_MQTT_SUBSCRIBE) ? "SUBSCRIBE"
                                                  : "UNSUBSCRIBE",
           s->packet_id);

    pos = 0;
    n = 0;

    while (ngx_iothub_mqtt_subscribe_next(s, &pos, &filter, &qos)) {
        append(out, " ");
        append_str(out, &filter);

        if (s->type == NGX_IOTHUB_MQTT_SUBSCRIBE) {
            append(out, ":%u", qos);
        }

        n++;
    }

    assert_int_equal(n, s->count);
}


static void
append(char *out, const char *fmt, ...)
{
    size_t   len;
    va_list  args;

    len = strlen(out);

    va_start(args, fmt);
    vsnprintf(out + len, SUMMARY_MAX - len, fmt, args);
    va_end(args);
}


/* bytes outside printable ASCII as \xNN */
static void
append_str(char *out, const ngx_iothub_mqtt_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] >= 0x20 && s->data[i] < 0x7f) {
            append(out, "%c", s->data[i]);

        } else {
            append(out, "\\x%02x", s->data[i]);
        }
    }
}


/* n bytes written equal expected; nothing written when expected is NULL */
static void
check_bytes(const u_char *buf, size_t n, const u_char *expected,
    size_t expected_len)
{
    if (expected == NULL) {
        assert_int_equal(n, 0);
        assert_int_equal(buf[0], 0xee);
        return;
    }

    assert_int_equal(n, expected_len);
    assert_memory_equal(buf, expected, n);
}


int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("mqtt decode", test_decode, decode_cases),
        TABLE("mqtt frame", test_frame, frame_cases),
        TABLE("mqtt utf-8", test_utf8, utf8_cases),
        TABLE("mqtt connack", test_connack, connack_cases),
        TABLE("mqtt publish encode", test_publish, publish_cases),
        TABLE("mqtt ack encode", test_ack, ack_cases),
        TABLE("mqtt suback encode", test_suback, suback_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_subscribe_walk),
        cmocka_unit_test(test_pingresp),
        cmocka_unit_test(test_strerror),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("mqtt misc", misc, NULL, NULL);

    return failed != 0;
}
