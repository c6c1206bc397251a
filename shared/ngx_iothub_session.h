
/*
 * nginx-iothub: device sessions, one layer for every protocol.
 *
 * A device session has the same life whatever carries it: authenticate
 * (SAS device, module or policy token; X.509), become the identity's one
 * session (an older one on any node and any protocol is kicked), receive
 * what the hub sends it (kick, desired patch, method request,
 * cloud-to-device message), and end.  This layer owns every Redis key and
 * script of that life; a protocol module supplies a hook table
 * (ngx_iothub_session_protocol_t, in the spirit of nginx mail's
 * ngx_mail_protocol_t) and calls the functions below.  No protocol module
 * sees a Redis reply.
 */


#ifndef _NGX_IOTHUB_SESSION_H_INCLUDED_
#define _NGX_IOTHUB_SESSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_d2c.h"
#include "ngx_iothub_features.h"
#include "ngx_iothub_registry.h"
#include "ngx_iothub_x509.h"


#define NGX_IOTHUB_SESSION_TOKEN_MAX     1024   /* a SAS token, bytes */
#define NGX_IOTHUB_SESSION_MAX_METHODS   32     /* unanswered requests */
#define NGX_IOTHUB_C2D_MAX_APP_PROPS     NGX_IOTHUB_D2C_MAX_PROPERTIES


typedef struct ngx_iothub_session_s  ngx_iothub_session_t;


/* how a connect or a request ended; the protocol maps it to its codes */
typedef enum {
    NGX_IOTHUB_SESSION_OK = 0,
    NGX_IOTHUB_SESSION_PENDING,         /* the hook "connected" will tell */
    NGX_IOTHUB_SESSION_BAD_CREDENTIALS, /* malformed token (MQTT 4) */
    NGX_IOTHUB_SESSION_NOT_AUTHORIZED,  /* refused identity (MQTT 5) */
    NGX_IOTHUB_SESSION_UNAVAILABLE,     /* the hub's store is down (3) */
    NGX_IOTHUB_SESSION_ERROR            /* out of memory */
} ngx_iothub_session_rc_e;


typedef enum {
    NGX_IOTHUB_KICK_REPLACED = 0,       /* a newer connection took over */
    NGX_IOTHUB_KICK_REMOVED,            /* identity deleted or disabled */
    NGX_IOTHUB_KICK_EXPIRED             /* the SAS token expired */
} ngx_iothub_kick_e;


typedef enum {
    NGX_IOTHUB_C2D_COMPLETE = 0,        /* removed, feedback Success */
    NGX_IOTHUB_C2D_ABANDON,             /* due again, one more delivery */
    NGX_IOTHUB_C2D_REJECT,              /* dead-lettered, feedback Rejected */
    NGX_IOTHUB_C2D_RELEASE              /* due again, as an expired lock */
} ngx_iothub_c2d_settle_e;


/* a cloud-to-device message as delivered; valid during the hook only */
typedef struct {
    ngx_str_t                       message_id;
    ngx_str_t                       correlation_id;
    ngx_str_t                       user_id;
    ngx_str_t                       content_type;
    ngx_str_t                       content_encoding;
    ngx_str_t                       expiry;      /* absolute-expiry-time */
    ngx_str_t                       ack;         /* none, positive, ... */
    ngx_str_t                       to;          /* /devices/{d}/messages/
                                                    deviceBound */
    ngx_str_t                       sequence_number; /* the queue's n */
    ngx_str_t                       delivery_count;  /* abandons so far */
    ngx_str_t                       enqueued;        /* ISO 8601 */
    ngx_uint_t                      napp;
    ngx_str_t                       app_name[NGX_IOTHUB_C2D_MAX_APP_PROPS];
    ngx_str_t                       app_value[NGX_IOTHUB_C2D_MAX_APP_PROPS];
    ngx_str_t                       body;
} ngx_iothub_c2d_message_t;


/* a direct method request for the session; valid during the hook only */
typedef struct {
    ngx_str_t                       rid;
    ngx_str_t                       name;
    ngx_str_t                       payload;
} ngx_iothub_session_method_t;


/*
 * What a protocol supplies.  Hooks run from the event loop, never from
 * inside a call of the protocol into this layer, and may close the
 * session (ngx_iothub_session_close() from the hook is allowed).
 *   connected  the outcome of a PENDING ngx_iothub_session_connect(): OK
 *              (present: a persistent session was restored, with
 *              s->features) or a refusal (s->why says why)
 *   kick       the session must end
 *   desired    a desired-properties patch (DESIRED subscribed)
 *   method     a method request (METHODS subscribed); answer with
 *              ngx_iothub_session_method_answer()
 *   c2d        the next cloud-to-device message (C2D subscribed):
 *              NGX_OK sent (settle it later), NGX_DECLINED not sent (its
 *              lock expires), NGX_ERROR the session closed
 */
typedef struct {
    ngx_str_t                       name;
    void                          (*connected)(ngx_iothub_session_t *s,
                                               ngx_iothub_session_rc_e rc,
                                               ngx_uint_t present);
    void                          (*kick)(ngx_iothub_session_t *s,
                                          ngx_iothub_kick_e why);
    void                          (*desired)(ngx_iothub_session_t *s,
                                             ngx_int_t version,
                                             ngx_str_t *patch);
    void                          (*method)(ngx_iothub_session_t *s,
                                            ngx_iothub_session_method_t *m);
    ngx_int_t                     (*c2d)(ngx_iothub_session_t *s,
                                         ngx_iothub_c2d_message_t *msg);
} ngx_iothub_session_protocol_t;


/* what a device presents when it connects */
typedef struct {
    ngx_str_t                       device_id;
    ngx_str_t                       module_id;   /* empty for devices */
    ngx_str_t                       model_id;    /* empty when none */
    ngx_str_t                       token;       /* SAS; empty: X.509 */
    ngx_connection_t               *connection;  /* its TLS state */
    unsigned                        clean:1;     /* no persistent session */
} ngx_iothub_credentials_t;


/* a pending Redis call of the session; see ngx_iothub_session.c */
typedef struct ngx_iothub_session_call_s  ngx_iothub_session_call_t;


/*
 * What only authentication needs (the identity record, the token, the
 * client certificate's facts), in a pool of its own that goes once the
 * session is authenticated: an idle session keeps none of it.
 */
typedef struct {
    ngx_pool_t                     *pool;
    ngx_iothub_registry_op_t        op;
    ngx_iothub_identity_t          *identity;
    ngx_str_t                       token;
    ngx_iothub_x509_t               cert;
} ngx_iothub_session_auth_t;


struct ngx_iothub_session_s {
    ngx_iothub_session_protocol_t  *protocol;
    void                           *data;        /* the protocol's ctx */
    ngx_log_t                      *log;
    ngx_pool_t                     *pool;        /* the connection's */
    ngx_iothub_hub_t               *hub;

    ngx_iothub_sender_t             sender;      /* ids, from pool */
    ngx_uint_t                      no;          /* in this worker */
    ngx_rbtree_node_t               node;
    ngx_uint_t                      features;    /* NGX_IOTHUB_FEATURE_* */
    ngx_queue_t                     calls;       /* pending Redis calls */
    ngx_queue_t                     methods;     /* unanswered requests */
    ngx_uint_t                      nmethods;
    const char                     *why;         /* of a refusal */

    /* the protocol's completion handlers (one function each) */
    void                          (*subscribed)(ngx_iothub_session_t *s,
                                                void *arg);
    void                          (*stored)(ngx_iothub_session_t *s,
                                            ngx_int_t rc, ngx_uint_t arg);
    void                          (*c2d_fetched)(ngx_iothub_session_t *s,
                                       ngx_int_t rc,
                                       ngx_iothub_c2d_message_t *msg);
    void                          (*c2d_settled)(ngx_iothub_session_t *s,
                                                 ngx_int_t rc);

    ngx_event_t                     expiry;      /* of the SAS token */
    long long                       token_expiry;
    time_t                          activity_saved;

    /* what authentication needs, freed once it is done (idle memory) */
    ngx_iothub_session_auth_t      *auth;

    /* the cloud-to-device message in flight: one at a time */
    ngx_event_t                     c2d_timer;   /* lock, or retry */
    ngx_uint_t                      c2d_count;
    size_t                          c2d_n_len;
    size_t                          c2d_lock_len;
    u_char                          c2d_n[NGX_INT64_LEN];
    u_char                          c2d_lock[64];

    unsigned                        c2d_busy:1;  /* asked or in flight */
    unsigned                        c2d_sent:1;  /* in flight */
    unsigned                        c2d_again:1; /* ask again after */
    unsigned                        clean:1;
    unsigned                        registered:1;
    unsigned                        connected:1;
    unsigned                        closed:1;
    unsigned                        policy_token:1;
    unsigned                        x509:1;
    unsigned                        verify_only:1;
};


/*
 * Registers the inbox message types of device sessions (kick, desired,
 * method, c2d); the core module calls it once at configuration.
 */
ngx_int_t ngx_iothub_session_conf_init(ngx_conf_t *cf);

/* Sets up s for a connection; pool and log are the connection's. */
void ngx_iothub_session_init(ngx_iothub_session_t *s, ngx_iothub_hub_t *hub,
    ngx_iothub_session_protocol_t *protocol, void *data, ngx_log_t *log,
    ngx_pool_t *pool);

/*
 * Authenticates cred (copied) and makes s the identity's session.
 * Returns PENDING (the hook "connected" tells the outcome) or a refusal
 * decided at once (s->why says why; the hook is not called).
 */
ngx_iothub_session_rc_e ngx_iothub_session_connect(ngx_iothub_session_t *s,
    ngx_iothub_credentials_t *cred);

/*
 * Authenticates cred (copied) as ngx_iothub_session_connect() does, but
 * does not make s the identity's session (no presence, no takeover, no
 * inbox): for protocols whose every request carries credentials (HTTPS).
 * Returns OK (decided at once, from the worker's identity cache), PENDING
 * (the hook "connected" tells the outcome, present 0) or a refusal (s->why
 * says why).  Once OK, s->sender is the authenticated sender: telemetry
 * (ngx_iothub_session_telemetry()) may be sent; close s when done.
 */
ngx_iothub_session_rc_e ngx_iothub_session_verify(ngx_iothub_session_t *s,
    ngx_iothub_credentials_t *cred);

/*
 * Records s->features as the session's subscriptions.  With a handler
 * (a protocol passes the same function every time), it runs once they
 * are stored (or the store failed); returns NGX_OK
 * then, NGX_DECLINED when Redis is down (no handler call: they hold on
 * this connection only), NGX_ERROR on memory failure.
 */
ngx_int_t ngx_iothub_session_subscribe(ngx_iothub_session_t *s,
    void (*handler)(ngx_iothub_session_t *s, void *arg), void *arg);

/*
 * Stores msg as the session's telemetry (copied at once).  The handler
 * (NULL: fire and forget) gets NGX_OK once Redis stored it, NGX_ERROR
 * when it did not.  Returns NGX_OK, NGX_DECLINED when Redis is down,
 * NGX_ERROR on memory failure.
 */
ngx_int_t ngx_iothub_session_telemetry(ngx_iothub_session_t *s,
    ngx_iothub_message_t *msg,
    void (*handler)(ngx_iothub_session_t *s, ngx_int_t rc, ngx_uint_t arg),
    ngx_uint_t arg);

/*
 * A new SAS token for a connected session (AMQP CBS renews tokens on the
 * connection it authenticated): checked as at connect, against the
 * identity read again; if good, the token's expiry becomes the session's.
 * Returns OK (renewed at once), PENDING (the outcome comes through the
 * hook "connected", as for a connect, with present 0) or a refusal (s->why
 * says why).  A refused renewal leaves the session as it was: the old
 * token still expires.  Not for X.509 sessions (NOT_AUTHORIZED).
 * ngx_iothub_session_renew.c.
 */
ngx_iothub_session_rc_e ngx_iothub_session_renew(ngx_iothub_session_t *s,
    ngx_str_t *token);

/* Notes device activity: lastActivityTime, at most once a minute. */
void ngx_iothub_session_activity(ngx_iothub_session_t *s);

/*
 * Asks for the next cloud-to-device message, if the session subscribed
 * and has none in flight (else once the current one is settled).
 */
void ngx_iothub_session_c2d_pull(ngx_iothub_session_t *s);

/* Settles the message in flight; the next one is asked for after. */
void ngx_iothub_session_c2d_settle(ngx_iothub_session_t *s,
    ngx_iothub_c2d_settle_e how);

/*
 * Cloud-to-device messages for a protocol without a lasting session
 * (HTTPS polling, rest.md 14.3), on a session of
 * ngx_iothub_session_verify(); the same queue, locks and delivery counts
 * as a subscribed session's.  ngx_iothub_session_c2d_fetch() locks the
 * identity's next due message with lock for the hub's c2d_lock_timeout:
 * the handler gets NGX_OK and msg (valid during the call;
 * msg->sequence_number names it for a settlement), NGX_DECLINED when none
 * is due, NGX_ERROR when the store failed.  ngx_iothub_session_c2d_settle_
 * lock() settles message n locked with lock (COMPLETE and REJECT write
 * feedback as the message's ack asks): the handler gets NGX_OK,
 * NGX_DECLINED when the lock is unknown or lost (re-locked after it
 * expired, settled already), NGX_ERROR when the store failed.  Both return
 * NGX_OK (started; a protocol passes the same handler every time),
 * NGX_DECLINED when Redis is down, NGX_ERROR on memory failure.
 */
ngx_int_t ngx_iothub_session_c2d_fetch(ngx_iothub_session_t *s,
    ngx_str_t *lock,
    void (*handler)(ngx_iothub_session_t *s, ngx_int_t rc,
                    ngx_iothub_c2d_message_t *msg));
ngx_int_t ngx_iothub_session_c2d_settle_lock(ngx_iothub_session_t *s,
    ngx_str_t *n, ngx_str_t *lock, ngx_iothub_c2d_settle_e how,
    void (*handler)(ngx_iothub_session_t *s, ngx_int_t rc));

/*
 * The device's answer to request rid: sent to the caller only if rid was
 * given to this session and not answered yet.  NGX_DECLINED: not ours.
 */
ngx_int_t ngx_iothub_session_method_answer(ngx_iothub_session_t *s,
    ngx_str_t *rid, ngx_int_t status, ngx_str_t *payload);

/*
 * Ends the session: releases a message in flight, ends the presence if
 * it is still this session's, cancels every pending call and timer.
 * Idempotent; no hook runs after it.
 */
void ngx_iothub_session_close(ngx_iothub_session_t *s);

/* Called when the subscriber link (re)subscribed: due messages are
 * asked for again, since notifications may have been missed. */
void ngx_iothub_session_resume_all(void);


#endif /* _NGX_IOTHUB_SESSION_H_INCLUDED_ */
