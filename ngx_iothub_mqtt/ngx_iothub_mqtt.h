
/*
 * nginx-iothub: the MQTT device endpoint, shared declarations of the
 * stream module's files.
 */


#ifndef _NGX_IOTHUB_MQTT_H_INCLUDED_
#define _NGX_IOTHUB_MQTT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub.h"
#include "ngx_iothub_d2c.h"
#include "ngx_iothub_engine_io.h"
#include "ngx_iothub_session.h"
#include "ngx_iothub_twin_service.h"
#include "ngx_iothub_mqtt_parse.h"
#include "ngx_iothub_mqtt_topic.h"


/* IoT Hub never waits longer than 1767 s for a packet (mqtt.md 10) */
#define NGX_IOTHUB_MQTT_MAX_IDLE        1767000

#define NGX_IOTHUB_MQTT_IN_SMALL        1024
#define NGX_IOTHUB_MQTT_MAX_INFLIGHT    64
#define NGX_IOTHUB_MQTT_MAX_TWIN_OPS    16
#define NGX_IOTHUB_MQTT_RID_LEN         128


typedef struct {
    ngx_iothub_hub_t               *hub;
    size_t                          max_packet_size;
    size_t                          send_limit;
    ngx_msec_t                      connect_timeout;
} ngx_stream_iothub_mqtt_srv_conf_t;


typedef enum {
    NGX_IOTHUB_MQTT_WAIT_CONNECT = 0,
    NGX_IOTHUB_MQTT_AUTHENTICATING,
    NGX_IOTHUB_MQTT_CONNECTED,
    NGX_IOTHUB_MQTT_CLOSING
} ngx_iothub_mqtt_state_e;


typedef struct ngx_iothub_mqtt_ctx_s  ngx_iothub_mqtt_ctx_t;


/*
 * What the packets mean, for the engine (ngx_iothub_mqtt_handler.c), which
 * calls no file above it by name: start sets up a new connection's
 * session, closed runs once from the close path, the others get a decoded
 * packet (NGX_OK, or NGX_ERROR/NGX_DONE once the session closed).  The
 * table is ngx_iothub_mqtt_packets, of ngx_iothub_mqtt_session.c.
 */
typedef struct {
    void                          (*start)(ngx_iothub_mqtt_ctx_t *ctx);
    ngx_int_t                     (*connect)(ngx_iothub_mqtt_ctx_t *ctx,
                                      ngx_iothub_mqtt_connect_t *connect);
    ngx_int_t                     (*publish)(ngx_iothub_mqtt_ctx_t *ctx,
                                      ngx_iothub_mqtt_publish_t *pub);
    ngx_int_t                     (*puback)(ngx_iothub_mqtt_ctx_t *ctx,
                                      ngx_iothub_mqtt_ack_t *ack);
    ngx_int_t                     (*subscribe)(ngx_iothub_mqtt_ctx_t *ctx,
                                      ngx_iothub_mqtt_subscribe_t *sub);
    ngx_int_t                     (*unsubscribe)(ngx_iothub_mqtt_ctx_t *ctx,
                                      ngx_iothub_mqtt_subscribe_t *sub);
    void                          (*closed)(ngx_iothub_mqtt_ctx_t *ctx);
} ngx_iothub_mqtt_packets_t;


struct ngx_iothub_mqtt_ctx_s {
    ngx_connection_t               *connection;
    ngx_iothub_engine_io_t         *transport; /* carries the bytes */
    ngx_iothub_mqtt_packets_t      *packets;
    void                           *transport_data;
    ngx_stream_iothub_mqtt_srv_conf_t *conf;
    ngx_iothub_hub_t               *hub;
    ngx_iothub_mqtt_state_e         state;

    /* input: packets are parsed in place, the buffer grows as needed */
    u_char                         *in;
    size_t                          in_len;
    size_t                          in_size;

    /* output not yet sent */
    u_char                         *out;
    size_t                          out_len;
    size_t                          out_size;

    ngx_uint_t                      inflight;    /* telemetry being stored */
    ngx_queue_t                     twin_ops;    /* ngx_iothub_mqtt_twin_t */
    ngx_uint_t                      ntwin_ops;

    ngx_event_t                     keepalive;
    ngx_msec_t                      keepalive_time;
    ngx_msec_t                      last_read;   /* of the latest bytes */

    /* the device session: identity, presence, deliveries */
    ngx_iothub_session_t            session;
    ngx_str_t                       client_id;
    ngx_iothub_mqtt_str_t           device;      /* sender's ids, for */
    ngx_iothub_mqtt_str_t           module;      /* the topic helpers */
    ngx_uint_t                      next_packet_id;
    ngx_uint_t                      c2d_packet_id;  /* of the C2D in flight */

    unsigned                        disconnected:1;  /* DISCONNECT seen */

    /* the will: telemetry sent when the connection drops (mqtt.md 2) */
    u_char                         *will;
    size_t                          will_topic_len;
    size_t                          will_len;
};


extern ngx_module_t  ngx_stream_iothub_mqtt_module;


/* a twin request of the device, answered on $iothub/twin/res/ */
typedef struct {
    ngx_queue_t                     queue;
    ngx_iothub_mqtt_ctx_t          *ctx;
    ngx_iothub_twin_op_t            op;
    size_t                          rid_len;
    u_char                          rid[NGX_IOTHUB_MQTT_RID_LEN];
} ngx_iothub_mqtt_twin_t;


/* ngx_stream_iothub_mqtt_module.c: the stream transport */
void ngx_iothub_mqtt_init_session(ngx_stream_session_t *s);

/* ngx_iothub_mqtt_ws.c: the engine over WebSocket, registered as "mqtt" */
ngx_int_t ngx_iothub_mqtt_ws_init_module(ngx_cycle_t *cycle);

/* ngx_iothub_mqtt_handler.c: the engine: framing, output, close */
ngx_int_t ngx_iothub_mqtt_start(ngx_iothub_mqtt_ctx_t *ctx);
ngx_int_t ngx_iothub_mqtt_input(ngx_iothub_mqtt_ctx_t *ctx, u_char *data,
    size_t len);
ngx_int_t ngx_iothub_mqtt_read(ngx_iothub_mqtt_ctx_t *ctx);
ngx_int_t ngx_iothub_mqtt_send(ngx_iothub_mqtt_ctx_t *ctx, u_char *data,
    size_t len, ngx_uint_t droppable);
ngx_int_t ngx_iothub_mqtt_send_publish(ngx_iothub_mqtt_ctx_t *ctx,
    u_char *topic, size_t topic_len, u_char *payload, size_t len,
    ngx_uint_t qos, ngx_uint_t packet_id);
u_char *ngx_iothub_mqtt_reserve(ngx_iothub_mqtt_ctx_t *ctx, size_t len);
ngx_int_t ngx_iothub_mqtt_flush(ngx_iothub_mqtt_ctx_t *ctx);
void ngx_iothub_mqtt_close(ngx_iothub_mqtt_ctx_t *ctx, const char *why);
ngx_uint_t ngx_iothub_mqtt_blocked(ngx_iothub_mqtt_ctx_t *ctx);
void ngx_iothub_mqtt_unblock(ngx_iothub_mqtt_ctx_t *ctx);

/* ngx_iothub_mqtt_session.c: what each packet means to IoT Hub */
extern ngx_iothub_mqtt_packets_t  ngx_iothub_mqtt_packets;

/* ngx_iothub_mqtt_twin.c: twin requests and desired notifications */
ngx_int_t ngx_iothub_mqtt_twin_request(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t);
void ngx_iothub_mqtt_twin_cancel(ngx_iothub_mqtt_ctx_t *ctx);
void ngx_iothub_mqtt_desired(ngx_iothub_session_t *s, ngx_int_t version,
    ngx_str_t *patch);

/* ngx_iothub_mqtt_c2d.c: cloud-to-device delivery */
ngx_int_t ngx_iothub_mqtt_c2d_deliver(ngx_iothub_session_t *s,
    ngx_iothub_c2d_message_t *msg);
ngx_int_t ngx_iothub_mqtt_puback(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_ack_t *ack);

/* ngx_iothub_mqtt_method.c: direct methods */
void ngx_iothub_mqtt_method(ngx_iothub_session_t *s,
    ngx_iothub_session_method_t *m);
ngx_int_t ngx_iothub_mqtt_method_response(ngx_iothub_mqtt_ctx_t *ctx,
    ngx_iothub_mqtt_publish_t *pub, ngx_iothub_mqtt_pub_t *t);


#endif /* _NGX_IOTHUB_MQTT_H_INCLUDED_ */
