
/*
 * amqp_loadgen: a load generator for nginx-iothub's AMQP device endpoint
 * (amqp.md 1-5).  One process, epoll, non-blocking sockets, OpenSSL
 * client connections; Qpid Proton-C's connection driver does the AMQP
 * framing and codec on plain bytes, as on the server side, so no Proton
 * thread, proactor or Proton SSL layer is involved.
 *
 *   amqp_loadgen pub   N devices send telemetry on
 *                      /devices/{id}/messages/events, W unsettled
 *                      messages in flight each; accepted dispositions per
 *                      second and their latency p50/p99
 *   amqp_loadgen idle  N devices authenticate (CBS put-token), attach the
 *                      telemetry sender (and with --c2d the C2D
 *                      receiver), then hold; prints READY when all are up
 *                      and holds until -d seconds passed or SIGTERM
 *
 * Each device authenticates with a $cbs put-token carrying its own SAS
 * token (auth.md 3), over SASL ANONYMOUS (--sasl) or no SASL (the plain
 * AMQP header, as the Node SDK).  One connection per device, or with
 * --per-conn M, M devices multiplexed on a connection (a field gateway):
 * one session, one $cbs link pair, links of each device.
 *
 * Every target must be a loopback address.  Every run is bounded in
 * connections, messages and time.  Results: a readable summary, then one
 * "RESULT key=value ..." line with the keys of bench/loadgen.
 */


#define _GNU_SOURCE

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_common.h"
#include "bench_amqp.h"

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>


#define MAX_CONNS          19000        /* the open files of one process */
#define MAX_PER_CONN       100          /* iothub_amqp_max_identities */
#define MAX_DURATION       600.0
#define MAX_WINDOW         1024
#define MAX_PAYLOAD        (256 * 1024)
#define C2D_CREDIT         10


/* ---- options ---- */

enum { MODE_PUB = 1, MODE_IDLE };

static struct {
    int                      mode;
    addr_t                   target;
    int                      tls;
    int                      sasl;
    const char              *sni;
    const char              *ca;
    const char              *hub;
    const char              *prefix;
    int                      first;
    unsigned char            key[128];
    size_t                   key_len;
    int                      n;
    int                      per_conn;
    int                      window;
    int                      size;
    int                      c2d;
    double                   duration;
    double                   warmup;
    int                      concurrency;
    double                   timeout;
    int                      quiet;
} O;


/* ---- connections and their devices ---- */

enum {
    S_FREE = 0,
    S_TCP,          /* connect() in progress */
    S_TLS,          /* handshake */
    S_AMQP,         /* open, put-tokens, attaches */
    S_READY         /* every device's links are attached */
};

enum {
    D_TOKEN = 0,    /* put-token sent or to send */
    D_ATTACH,       /* the token was taken: links attaching */
    D_READY,
    D_FAILED
};

typedef struct conn_s  conn_t;

typedef struct {
    conn_t         *conn;
    int             dev;
    int             state;
    int             token_sent;
    pn_link_t      *tx;
    pn_link_t      *c2d;
    int             inflight;
    uint64_t        tag;
} device_t;

struct conn_s {
    int                      fd;
    uint32_t                 gen;
    int                      state;
    SSL                     *ssl;
    uint32_t                 events;
    uint64_t                 t0;
    int                      closing;

    pn_connection_driver_t   drv;
    int                      drv_ready;
    pn_session_t            *ssn;
    pn_link_t               *cbs_tx;
    pn_link_t               *cbs_rx;

    device_t                *devs;
    int                      ndev;
    int                      nready;

    /* the telemetry message, encoded once per connection */
    char                    *msg;
    size_t                   msg_len;
};


/* what the run measured */
static struct {
    uint64_t        started;        /* connections attempted */
    uint64_t        connected;      /* devices ready */
    uint64_t        conns_ready;    /* connections with all devices ready */
    uint64_t        failed;         /* devices that never got ready */
    uint64_t        dropped;        /* devices lost while held */
    uint64_t        ops;            /* accepted in the window */
    uint64_t        total;          /* accepted in the whole run */
    uint64_t        rejected;       /* any other outcome */
    uint64_t        errors;         /* protocol surprises */
    double          window;
    double          cpu;
    double          cpu_wall;
    double          connect_time;
    hist_t          lat;
} ST;


static int            ep = -1;
static conn_t        *C;
static int            ncap;
static slots_t        slots;
static SSL_CTX       *ssl_ctx;
static uint64_t       now;
static int            inprogress;
static int            opened;       /* connections opened so far */
static int            nconns;       /* connections to open */

enum { P_CONNECT = 0, P_MEASURE, P_DRAIN, P_END };
static int            phase;
static uint64_t       t_go, t_warm, t_end, t_phase;
static double         cpu_go;

static unsigned char  payload[MAX_PAYLOAD];


/* ---- SAS tokens (auth.md 3), as bench/loadgen makes them ---- */

static void
device_sas_token(char *out, size_t size, const char *resource)
{
    if (sas_token(out, size, resource, O.key, O.key_len, NULL) != 0) {
        die("HMAC failed");
    }
}


static void
device_id(char *buf, size_t size, int dev)
{
    snprintf(buf, size, "%s%d", O.prefix, O.first + dev);
}


/* ---- AMQP messages ---- */

/* encodes m into a malloc()ed buffer */

static char *
encode(pn_message_t *m, size_t *len)
{
    ssize_t       n;
    pn_rwbytes_t  buf;

    buf.start = NULL;
    buf.size = 0;

    n = pn_message_encode2(m, &buf);
    if (n < 0) {
        die("pn_message_encode2: %zd", n);
    }

    *len = (size_t) n;

    return buf.start;
}


/* the telemetry: one data section with the payload, as the SDKs send it */

static void
telemetry_encode(conn_t *c)
{
    pn_data_t     *body;
    pn_message_t  *m;

    m = pn_message();
    if (m == NULL) {
        die("out of memory");
    }

    pn_message_set_inferred(m, true);
    body = pn_message_body(m);
    pn_data_put_binary(body, pn_bytes((size_t) O.size, (char *) payload));

    free(c->msg);
    c->msg = encode(m, &c->msg_len);

    pn_message_free(m);
}


static void
put_token(device_t *d)
{
    char           id[96], resource[256], token[1024];
    size_t         len;
    char          *buf;
    pn_message_t  *m;
    uint64_t       tag;

    device_id(id, sizeof(id), d->dev);
    snprintf(resource, sizeof(resource), "%s/devices/%s", O.hub, id);
    device_sas_token(token, sizeof(token), resource);

    /* the answer's correlation-id and the delivery tag name the device
     * on this connection */
    tag = (uint64_t) (d - d->conn->devs);
    m = cbs_put_token(tag, resource, token);

    buf = encode(m, &len);
    pn_message_free(m);

    (void) pn_delivery(d->conn->cbs_tx, pn_dtag((char *) &tag, sizeof(tag)));
    (void) pn_link_send(d->conn->cbs_tx, buf, len);
    (void) pn_link_advance(d->conn->cbs_tx);

    free(buf);
    d->token_sent = 1;
}


static void
attach_device(device_t *d)
{
    char        id[96], addr[160], name[160];
    pn_link_t  *l;

    device_id(id, sizeof(id), d->dev);

    snprintf(name, sizeof(name), "telemetry-%s", id);
    snprintf(addr, sizeof(addr), "/devices/%s/messages/events", id);
    l = pn_sender(d->conn->ssn, name);
    pn_terminus_set_address(pn_link_target(l), addr);
    pn_terminus_set_address(pn_link_source(l), name);
    pn_link_set_snd_settle_mode(l, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(l, PN_RCV_FIRST);
    pn_link_set_context(l, d);
    pn_link_open(l);
    d->tx = l;

    if (O.c2d) {
        snprintf(name, sizeof(name), "c2d-%s", id);
        snprintf(addr, sizeof(addr), "/devices/%s/messages/devicebound", id);
        l = pn_receiver(d->conn->ssn, name);
        pn_terminus_set_address(pn_link_source(l), addr);
        pn_terminus_set_address(pn_link_target(l), name);
        pn_link_set_rcv_settle_mode(l, PN_RCV_FIRST);
        pn_link_set_context(l, d);
        pn_link_open(l);
        pn_link_flow(l, C2D_CREDIT);
        d->c2d = l;
    }

    d->state = D_ATTACH;
}


/* ---- connection slots: epoll data is slot | generation << 32 ---- */

static void
pool_init(int cap)
{
    int  i;

    ncap = cap;
    C = slots_init(&slots, cap, sizeof(conn_t));

    for (i = 0; i < cap; i++) {
        C[i].fd = -1;
    }
}


static void
set_events(conn_t *c, uint32_t events)
{
    if (events == c->events) {
        return;
    }

    epoll_set(ep, EPOLL_CTL_MOD, c->fd, events, slot_data(c - C, c->gen));
    c->events = events;
}


static void
conn_open(int first_dev, int ndev)
{
    int      fd, i;
    conn_t  *c;

    fd = tcp_socket(O.target.ss.ss_family, "");
    tcp_connect(fd, &O.target);

    c = &C[slot_take(&slots)];
    c->fd = fd;
    c->gen++;
    c->state = S_TCP;
    c->ssl = NULL;
    c->t0 = now;
    c->closing = 0;
    c->drv_ready = 0;
    c->nready = 0;
    c->ndev = ndev;
    c->devs = xalloc(sizeof(device_t) * (size_t) ndev);

    for (i = 0; i < ndev; i++) {
        c->devs[i].conn = c;
        c->devs[i].dev = first_dev + i;
    }

    c->events = EPOLLIN | EPOLLOUT;
    epoll_set(ep, EPOLL_CTL_ADD, fd, c->events, slot_data(c - C, c->gen));

    ST.started++;
    inprogress++;
}


/* frees the slot; "why" NULL: an orderly close of ours */

static void
conn_close(conn_t *c, const char *why)
{
    int          i, ready;
    static int   reported;

    if (c->state == S_FREE) {
        return;
    }

    ready = (c->state == S_READY);

    if (!ready) {
        inprogress--;
    }

    if (why) {
        for (i = 0; i < c->ndev; i++) {
            if (c->devs[i].state == D_READY) {
                ST.dropped++;

            } else if (c->devs[i].state != D_FAILED) {
                ST.failed++;
            }
        }

        if (reported++ < 5 && !O.quiet) {
            char  id[96];

            device_id(id, sizeof(id), c->devs[0].dev);
            fprintf(stderr, "amqp_loadgen: connection of %s%s: %s\n", id,
                    c->ndev > 1 ? " (and more)" : "", why);
        }
    }

    if (c->drv_ready) {
        pn_connection_driver_destroy(&c->drv);
        c->drv_ready = 0;
    }

    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }

    close(c->fd);
    c->fd = -1;
    c->state = S_FREE;
    c->gen++;

    free(c->devs);
    c->devs = NULL;
    free(c->msg);
    c->msg = NULL;

    slot_put(&slots, (int) (c - C));
}


/* ---- AMQP over the connection ---- */

static void amqp_start(conn_t *c);
static void amqp_events(conn_t *c);
static int amqp_flush(conn_t *c);
static void send_more(device_t *d);


static void
conn_ready(conn_t *c)
{
    c->state = S_READY;
    inprogress--;
    ST.conns_ready++;

    if (phase == P_MEASURE && O.mode == MODE_PUB) {
        int  i;

        for (i = 0; i < c->ndev; i++) {
            send_more(&c->devs[i]);
        }
    }
}


static void
device_ready(device_t *d)
{
    if (d->state != D_ATTACH) {
        return;
    }

    if (pn_link_state(d->tx) != (PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE)) {
        return;
    }

    if (d->c2d
        && pn_link_state(d->c2d) != (PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE))
    {
        return;
    }

    d->state = D_READY;
    d->conn->nready++;
    ST.connected++;

    if (d->conn->nready == d->conn->ndev) {
        conn_ready(d->conn);
    }
}


static void
device_failed(device_t *d, const char *why)
{
    static int  reported;

    if (d->state == D_READY) {
        ST.dropped++;

    } else if (d->state != D_FAILED) {
        ST.failed++;
    }

    d->state = D_FAILED;

    if (reported++ < 5 && !O.quiet) {
        char  id[96];

        device_id(id, sizeof(id), d->dev);
        fprintf(stderr, "amqp_loadgen: %s: %s\n", id, why);
    }
}


/* put-tokens wait for the $cbs sender's credit */

static void
send_tokens(conn_t *c)
{
    int  i;

    for (i = 0; i < c->ndev && pn_link_credit(c->cbs_tx) > 0; i++) {
        if (c->devs[i].state == D_TOKEN && !c->devs[i].token_sent) {
            put_token(&c->devs[i]);
        }
    }
}


/* the value of an application property, NULL data if absent */

static int
app_int(pn_message_t *m, const char *name, int *out)
{
    pn_data_t   *p;
    pn_bytes_t   k;
    size_t       len;

    len = strlen(name);
    p = pn_message_properties(m);
    pn_data_rewind(p);

    if (!pn_data_next(p) || pn_data_type(p) != PN_MAP) {
        return -1;
    }

    pn_data_enter(p);

    while (pn_data_next(p)) {
        if (pn_data_type(p) == PN_STRING || pn_data_type(p) == PN_SYMBOL) {
            k = pn_data_type(p) == PN_STRING ? pn_data_get_string(p)
                                             : pn_data_get_symbol(p);

            if (!pn_data_next(p)) {
                break;
            }

            if (k.size == len && memcmp(k.start, name, len) == 0
                && pn_data_type(p) == PN_INT)
            {
                *out = pn_data_get_int(p);
                return 0;
            }

        } else if (!pn_data_next(p)) {
            break;
        }
    }

    return -1;
}


/* a put-token answer on the $cbs receiver */

static void
cbs_answer(conn_t *c, pn_delivery_t *dl)
{
    int            status;
    char           buf[4096], why[64];
    ssize_t        n;
    pn_atom_t      cid;
    device_t      *d;
    pn_message_t  *m;

    n = pn_link_recv(c->cbs_rx, buf, sizeof(buf));
    (void) pn_link_advance(c->cbs_rx);
    pn_delivery_update(dl, PN_ACCEPTED);
    pn_delivery_settle(dl);
    pn_link_flow(c->cbs_rx, 1);

    m = pn_message();
    if (m == NULL) {
        die("out of memory");
    }

    if (n < 0 || pn_message_decode(m, buf, (size_t) n) != 0) {
        ST.errors++;
        pn_message_free(m);
        return;
    }

    cid = pn_message_get_correlation_id(m);

    if (cid.type != PN_ULONG || cid.u.as_ulong >= (uint64_t) c->ndev) {
        ST.errors++;
        pn_message_free(m);
        return;
    }

    d = &c->devs[cid.u.as_ulong];

    if (app_int(m, "status-code", &status) != 0) {
        status = -1;
    }

    pn_message_free(m);

    if (d->state != D_TOKEN) {
        ST.errors++;
        return;
    }

    if (status != 200) {
        snprintf(why, sizeof(why), "put-token answered %d", status);
        device_failed(d, why);
        conn_close(c, "a device was refused");
        return;
    }

    attach_device(d);
}


/* a disposition of a telemetry message */

static void
telemetry_outcome(device_t *d, pn_delivery_t *dl)
{
    uint64_t  sent;

    if (!pn_delivery_settled(dl) && !pn_delivery_updated(dl)) {
        return;
    }

    sent = (uint64_t) (uintptr_t) pn_delivery_get_context(dl);

    if (pn_delivery_remote_state(dl) == PN_ACCEPTED) {
        ST.total++;

        if (now >= t_warm && now <= t_end && phase == P_MEASURE) {
            ST.ops++;
            h_add(&ST.lat, now - sent);
        }

    } else {
        ST.rejected++;
    }

    pn_delivery_settle(dl);
    d->inflight--;

    send_more(d);
}


static void
send_one(device_t *d)
{
    pn_delivery_t  *dl;

    d->tag++;
    dl = pn_delivery(d->tx, pn_dtag((char *) &d->tag, sizeof(d->tag)));
    pn_delivery_set_context(dl, (void *) (uintptr_t) now);
    (void) pn_link_send(d->tx, d->conn->msg, d->conn->msg_len);
    (void) pn_link_advance(d->tx);
    d->inflight++;
}


/* the window of a device, within the link's credit */

static void
send_more(device_t *d)
{
    if (O.mode != MODE_PUB || phase != P_MEASURE || now >= t_end
        || d->state != D_READY)
    {
        return;
    }

    while (d->inflight < O.window && pn_link_credit(d->tx) > 0) {
        send_one(d);
    }
}


static void
on_amqp_event(conn_t *c, pn_event_t *ev)
{
    device_t       *d;
    pn_link_t      *l;
    pn_delivery_t  *dl;
    pn_condition_t *cond;
    char            why[256];

    switch (pn_event_type(ev)) {

    case PN_LINK_REMOTE_OPEN:
        l = pn_event_link(ev);
        d = pn_link_get_context(l);

        if (d == NULL) {
            break;
        }

        /* a refusal is an attach with a null terminus, then a detach */
        if (pn_terminus_get_type(pn_link_is_sender(l)
                                 ? pn_link_remote_target(l)
                                 : pn_link_remote_source(l))
            == PN_UNSPECIFIED)
        {
            break;
        }

        device_ready(d);
        break;

    case PN_LINK_FLOW:
        l = pn_event_link(ev);

        if (l == c->cbs_tx) {
            send_tokens(c);
            break;
        }

        d = pn_link_get_context(l);

        if (d && l == d->tx) {
            send_more(d);
        }

        break;

    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        l = pn_event_link(ev);
        cond = pn_link_remote_condition(l);
        snprintf(why, sizeof(why), "link %s detached: %s %s",
                 pn_link_name(l),
                 pn_condition_get_name(cond) ? pn_condition_get_name(cond)
                                             : "",
                 pn_condition_get_description(cond)
                 ? pn_condition_get_description(cond) : "");

        d = pn_link_get_context(l);

        if (d) {
            device_failed(d, why);

        } else {
            ST.errors++;
        }

        if (!c->closing) {
            conn_close(c, why);
        }

        return;

    case PN_DELIVERY:
        dl = pn_event_delivery(ev);
        l = pn_delivery_link(dl);

        if (l == c->cbs_tx) {
            if (pn_delivery_settled(dl) || pn_delivery_updated(dl)) {
                if (pn_delivery_remote_state(dl) != PN_ACCEPTED) {
                    ST.errors++;
                }

                pn_delivery_settle(dl);
            }

            break;
        }

        if (l == c->cbs_rx) {
            if (pn_delivery_readable(dl) && !pn_delivery_partial(dl)) {
                cbs_answer(c, dl);
            }

            break;
        }

        d = pn_link_get_context(l);

        if (d == NULL) {
            break;
        }

        if (l == d->tx) {
            telemetry_outcome(d, dl);

        } else if (pn_delivery_readable(dl) && !pn_delivery_partial(dl)) {
            /* a C2D message: not expected here; completed */
            (void) pn_link_advance(l);
            pn_delivery_update(dl, PN_ACCEPTED);
            pn_delivery_settle(dl);
            pn_link_flow(l, 1);
        }

        break;

    case PN_TRANSPORT_CLOSED:
        if (!c->closing) {
            cond = pn_transport_condition(c->drv.transport);
            snprintf(why, sizeof(why), "connection closed: %s %s",
                     pn_condition_get_name(cond)
                     ? pn_condition_get_name(cond) : "",
                     pn_condition_get_description(cond)
                     ? pn_condition_get_description(cond) : "");
            conn_close(c, why);
        }

        return;

    default:
        break;
    }
}


static void
amqp_start(conn_t *c)
{
    pn_connection_t  *conn;
    pn_transport_t   *t;

    if (pn_connection_driver_init(&c->drv, NULL, NULL) != 0) {
        die("pn_connection_driver_init failed");
    }

    c->drv_ready = 1;
    conn = c->drv.connection;
    t = c->drv.transport;

    if (O.sasl) {
        pn_sasl_allowed_mechs(pn_sasl(t), "ANONYMOUS");
    }

    pn_connection_set_container(conn, "amqp-loadgen");
    pn_connection_set_hostname(conn, O.hub);
    pn_connection_open(conn);

    c->ssn = pn_session(conn);
    pn_session_open(c->ssn);

    c->cbs_tx = pn_sender(c->ssn, "cbs-sender");
    pn_terminus_set_address(pn_link_target(c->cbs_tx), "$cbs");
    pn_terminus_set_address(pn_link_source(c->cbs_tx), "cbs");
    pn_link_open(c->cbs_tx);

    c->cbs_rx = pn_receiver(c->ssn, "cbs-receiver");
    pn_terminus_set_address(pn_link_source(c->cbs_rx), "$cbs");
    pn_terminus_set_address(pn_link_target(c->cbs_rx), "cbs");
    pn_link_open(c->cbs_rx);
    pn_link_flow(c->cbs_rx, c->ndev < 8 ? c->ndev : 8);

    if (O.mode == MODE_PUB) {
        telemetry_encode(c);
    }

    c->state = S_AMQP;
    (void) pn_transport_tick(t, (int64_t) (now / 1000));
}


/* Proton's events, then its output; 0, or -1 when the connection closed */

static void
amqp_events(conn_t *c)
{
    pn_event_t  *ev;

    while (c->state != S_FREE
           && (ev = pn_connection_driver_next_event(&c->drv)) != NULL)
    {
        on_amqp_event(c, ev);
    }
}


static int
amqp_flush(conn_t *c)
{
    int         n, e;
    pn_bytes_t  wb;

    if (c->state == S_FREE) {
        return -1;
    }

    for ( ;; ) {
        wb = pn_connection_driver_write_buffer(&c->drv);
        if (wb.size == 0) {
            break;
        }

        ERR_clear_error();
        n = SSL_write(c->ssl, wb.start, (int) wb.size);

        if (n <= 0) {
            e = SSL_get_error(c->ssl, n);

            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                set_events(c, EPOLLIN | EPOLLOUT);
                return 0;
            }

            conn_close(c, "TLS write failed");
            return -1;
        }

        pn_connection_driver_write_done(&c->drv, (size_t) n);
    }

    set_events(c, EPOLLIN);

    return 0;
}


static int
amqp_read(conn_t *c)
{
    int           n, e;
    pn_rwbytes_t  rb;

    for ( ;; ) {
        rb = pn_connection_driver_read_buffer(&c->drv);

        if (rb.size == 0) {
            /* Proton holds enough: its events first */
            amqp_events(c);

            if (c->state == S_FREE) {
                return -1;
            }

            rb = pn_connection_driver_read_buffer(&c->drv);
            if (rb.size == 0) {
                break;
            }
        }

        ERR_clear_error();
        n = SSL_read(c->ssl, rb.start, (int) rb.size);

        if (n <= 0) {
            e = SSL_get_error(c->ssl, n);

            if (e == SSL_ERROR_WANT_READ) {
                break;
            }

            if (e == SSL_ERROR_WANT_WRITE) {
                set_events(c, EPOLLIN | EPOLLOUT);
                break;
            }

            conn_close(c, e == SSL_ERROR_ZERO_RETURN
                          ? "closed by the server"
                          : "TLS read failed or connection reset");
            return -1;
        }

        pn_connection_driver_read_done(&c->drv, (size_t) n);
    }

    return 0;
}


static void
handshake(conn_t *c)
{
    uint32_t  events;

    switch (tls_handshake(c->ssl, &events)) {

    case 1:
        set_events(c, EPOLLIN);
        amqp_start(c);
        amqp_events(c);
        (void) amqp_flush(c);
        break;

    case 0:
        set_events(c, events);
        break;

    default:
        conn_close(c, "TLS handshake failed");
    }
}


static void
on_event(conn_t *c, uint32_t events)
{
    int  err;

    if (c->state == S_TCP) {
        err = socket_error(c->fd);

        if (err) {
            conn_close(c, strerror(err));
            return;
        }

        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }

        c->ssl = tls_client(ssl_ctx, c->fd, O.sni, O.ca != NULL);
        c->state = S_TLS;
    }

    if (c->state == S_TLS) {
        handshake(c);
        return;
    }

    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && amqp_read(c) != 0) {
        return;
    }

    amqp_events(c);
    (void) amqp_flush(c);
}


/* ---- the run ---- */

static void
go(void)
{
    int  i, k;

    phase = P_MEASURE;
    t_go = now;
    t_warm = t_go + (uint64_t) (O.warmup * 1e6);
    t_end = t_warm + (uint64_t) (O.duration * 1e6);
    cpu_go = cpu_seconds();

    if (ST.connected == 0) {
        t_warm = t_end = t_go;
    }

    if (O.mode != MODE_PUB) {
        return;
    }

    for (i = 0; i < ncap; i++) {
        if (C[i].state != S_READY) {
            continue;
        }

        for (k = 0; k < C[i].ndev; k++) {
            send_more(&C[i].devs[k]);
        }

        (void) amqp_flush(&C[i]);
    }
}


static void
connected_all(void)
{
    ST.connect_time = (double) (now - t_phase) / 1e6;

    printf("READY conns=%" PRIu64 " connections=%" PRIu64 " failed=%" PRIu64
           " connect_s=%.2f\n", ST.connected, ST.conns_ready, ST.failed,
           ST.connect_time);
    fflush(stdout);
    go();
}


/* Proton's clock: idle timeouts, empty frames as keep-alive */

static void
tick_all(void)
{
    int      i;
    conn_t  *c;

    for (i = 0; i < ncap; i++) {
        c = &C[i];

        if (c->state == S_AMQP || c->state == S_READY) {
            (void) pn_transport_tick(c->drv.transport, (int64_t) (now / 1000));
            amqp_events(c);
            (void) amqp_flush(c);
        }
    }
}


static void
tick(void)
{
    int              i, per, pending;
    conn_t          *c;
    static uint64_t  last_scan, last_clock;

    if (now - last_clock >= 1000000) {
        last_clock = now;
        tick_all();
    }

    if (inprogress && now - last_scan >= 50000) {
        last_scan = now;

        for (i = 0; i < ncap; i++) {
            c = &C[i];

            if (c->state != S_FREE && c->state != S_READY
                && now - c->t0 > (uint64_t) (O.timeout * 1e6))
            {
                conn_close(c, "timed out");
            }
        }
    }

    switch (phase) {

    case P_CONNECT:
        while (opened < nconns && inprogress < O.concurrency) {
            per = O.n - opened * O.per_conn;
            per = per < O.per_conn ? per : O.per_conn;
            conn_open(opened * O.per_conn, per);
            opened++;
        }

        if (opened == nconns && inprogress == 0) {
            connected_all();
        }

        if (now - t_phase > (uint64_t) (O.timeout * 3e6 + 60e6)) {
            die("connections not all up after %.0f s",
                (double) (now - t_phase) / 1e6);
        }

        break;

    case P_MEASURE:
        if (now >= t_end || stop_flag) {
            if (stop_flag && t_end > now) {
                t_end = now;
            }

            phase = P_DRAIN;
            t_phase = now;
        }

        break;

    case P_DRAIN:
        pending = 0;

        for (i = 0; i < ncap; i++) {
            if (C[i].state == S_READY) {
                int  k;

                for (k = 0; k < C[i].ndev; k++) {
                    pending += C[i].devs[k].inflight;
                }
            }
        }

        if (pending == 0 || now - t_phase > 5000000) {
            ST.errors += (uint64_t) pending;
            phase = P_END;
        }

        break;
    }
}


static void
disconnect_all(void)
{
    int      i;
    conn_t  *c;

    for (i = 0; i < ncap; i++) {
        c = &C[i];

        if (c->state == S_FREE) {
            continue;
        }

        if (c->drv_ready && c->state >= S_AMQP) {
            /* a clean end: close, then what that wrote */
            c->closing = 1;
            pn_connection_close(c->drv.connection);
            amqp_events(c);

            if (amqp_flush(c) != 0) {
                continue;
            }
        }

        conn_close(c, NULL);
    }
}


static void
run(void)
{
    int                 i, n;
    uint64_t            last_tick;
    conn_t             *c;
    struct epoll_event  evs[512];

    ep = epoll_new();

    now = now_us();
    t_phase = now;
    last_tick = 0;
    phase = P_CONNECT;

    for ( ;; ) {
        n = epoll_wait(ep, evs, 512, 10);

        if (n < 0 && errno != EINTR) {
            die("epoll_wait: %s", strerror(errno));
        }

        now = now_us();

        for (i = 0; i < n; i++) {
            uint64_t  d = evs[i].data.u64;

            c = &C[(uint32_t) d];     /* slot_data() */

            if (c->state == S_FREE || c->gen != (uint32_t) (d >> 32)) {
                continue;
            }

            on_event(c, evs[i].events);
        }

        if (now - last_tick >= 1000 || n == 0) {
            last_tick = now;
            tick();
        }

        if (stop_flag && phase == P_CONNECT) {
            phase = P_END;
        }

        if (phase == P_END) {
            break;
        }
    }

    ST.window = (double) (t_end < now ? t_end - t_warm
                                      : now > t_warm ? now - t_warm : 0)
                / 1e6;
    ST.cpu = cpu_seconds() - cpu_go;
    ST.cpu_wall = (double) (now - t_go) / 1e6;

    disconnect_all();
}


static void
report(void)
{
    double  rate, cpu_pct;

    rate = ST.window > 0 ? (double) ST.ops / ST.window : 0;
    cpu_pct = ST.cpu_wall > 0 ? 100.0 * ST.cpu / ST.cpu_wall : 0;

    if (O.mode == MODE_PUB) {
        printf("pub: %d devices to %s (TLS, %s, %d per connection), window "
               "%d, %d-byte payload, %.1f s measured\n", O.n, O.target.text,
               O.sasl ? "SASL ANONYMOUS" : "no SASL", O.per_conn, O.window,
               O.size, ST.window);
        printf("  %.0f msg/s accepted (%" PRIu64 " messages)\n", rate,
               ST.ops);
        printf("  %" PRIu64 " accepted in all (warm-up and drain too), %"
               PRIu64 " other outcomes\n", ST.total, ST.rejected);
        h_print("accepted latency", &ST.lat);

    } else {
        printf("idle: %" PRIu64 " devices on %" PRIu64 " connections held "
               "on %s, connected in %.2f s\n", ST.connected, ST.conns_ready,
               O.target.text, ST.connect_time);
    }

    printf("  devices: %" PRIu64 " failed, %" PRIu64 " dropped; %" PRIu64
           " protocol errors; amqp_loadgen CPU %.0f%% of one core\n",
           ST.failed, ST.dropped, ST.errors, cpu_pct);

    printf("RESULT mode=%s conns=%d connected=%" PRIu64 " connections=%"
           PRIu64 " failed=%" PRIu64 " dropped=%" PRIu64 " errors=%" PRIu64
           " window_s=%.3f cpu_pct=%.1f total=%" PRIu64,
           O.mode == MODE_PUB ? "pub" : "idle", O.n, ST.connected,
           ST.conns_ready, ST.failed, ST.dropped, ST.errors + ST.rejected,
           ST.window, cpu_pct, ST.total);

    if (O.mode == MODE_PUB) {
        printf(" window=%d size=%d per_conn=%d msgs=%" PRIu64 " rate=%.1f"
               " p50_us=%" PRIu64 " p99_us=%" PRIu64 " rejected=%" PRIu64,
               O.window, O.size, O.per_conn, ST.ops, rate,
               h_pct(&ST.lat, 0.5), h_pct(&ST.lat, 0.99), ST.rejected);

    } else {
        printf(" connect_s=%.2f", ST.connect_time);
    }

    printf("\n");
    fflush(stdout);
}


static void
usage(void)
{
    printf(
"usage: amqp_loadgen pub|idle -t ADDR:PORT --key B64 [options]\n"
"  -t, --target ADDR:PORT   the hub's AMQP TLS listener (loopback only)\n"
"      --sasl               SASL ANONYMOUS first (default: the plain AMQP\n"
"                           header, no SASL, as the Node SDK)\n"
"      --sni NAME           TLS server name (default localhost)\n"
"      --ca FILE            verify the server against FILE (default: off)\n"
"      --hub HOST           the hub's host name (default localhost)\n"
"      --prefix P           device ids P<first>..  (default dev)\n"
"      --first K            the first device number (default 1)\n"
"      --key B64            the devices' symmetric key (base64)\n"
"  -n N                     devices (at most %d)\n"
"      --per-conn M         devices multiplexed on one connection, each\n"
"                           with its own put-token (default 1, at most %d)\n"
"      --window W           pub: unsettled messages per device (default 16)\n"
"      --size BYTES         pub: payload size (default 256)\n"
"      --c2d                also attach each device's C2D receiver\n"
"  -d, --duration S         measured (pub) or held (idle) seconds\n"
"                           (default 10, at most %.0f)\n"
"      --warmup S           pub: seconds before counting (default 1)\n"
"  -c, --concurrency N      connections being set up at once (default 64)\n"
"      --timeout S          per connection set-up (default 10)\n"
"  -q, --quiet              no per-connection error lines\n",
        MAX_CONNS, MAX_PER_CONN, MAX_DURATION);
}


static void
options(int argc, char **argv)
{
    int          ch;
    const char  *key = NULL;

    static struct option  longs[] = {
        { "target", 1, NULL, 't' }, { "sasl", 0, NULL, 1 },
        { "sni", 1, NULL, 2 }, { "ca", 1, NULL, 3 }, { "hub", 1, NULL, 4 },
        { "prefix", 1, NULL, 5 }, { "first", 1, NULL, 6 },
        { "key", 1, NULL, 7 }, { "per-conn", 1, NULL, 8 },
        { "window", 1, NULL, 9 }, { "size", 1, NULL, 10 },
        { "c2d", 0, NULL, 11 }, { "duration", 1, NULL, 'd' },
        { "warmup", 1, NULL, 12 }, { "concurrency", 1, NULL, 'c' },
        { "timeout", 1, NULL, 13 }, { "quiet", 0, NULL, 'q' },
        { "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };

    if (argc < 2 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0)
    {
        usage();
        exit(argc < 2 ? 2 : 0);
    }

    if (strcmp(argv[1], "pub") == 0) {
        O.mode = MODE_PUB;
    } else if (strcmp(argv[1], "idle") == 0) {
        O.mode = MODE_IDLE;
    } else {
        die("unknown mode \"%s\" (pub, idle)", argv[1]);
    }

    O.tls = 1;
    O.sni = "localhost";
    O.hub = "localhost";
    O.prefix = "dev";
    O.first = 1;
    O.n = 1;
    O.per_conn = 1;
    O.window = 16;
    O.size = 256;
    O.duration = 10;
    O.warmup = 1;
    O.concurrency = 64;
    O.timeout = 10;
    parse_target(&O.target, "127.0.0.1:5671");

    optind = 2;

    while ((ch = getopt_long(argc, argv, "t:n:d:c:qh", longs, NULL)) != -1) {
        switch (ch) {
        case 't': parse_target(&O.target, optarg); break;
        case 1: O.sasl = 1; break;
        case 2: O.sni = optarg; break;
        case 3: O.ca = optarg; break;
        case 4: O.hub = optarg; break;
        case 5: O.prefix = optarg; break;
        case 6: O.first = atoi(optarg); break;
        case 7: key = optarg; break;
        case 8: O.per_conn = atoi(optarg); break;
        case 9: O.window = atoi(optarg); break;
        case 10: O.size = atoi(optarg); break;
        case 11: O.c2d = 1; break;
        case 'd': O.duration = atof(optarg); break;
        case 12: O.warmup = atof(optarg); break;
        case 'c': O.concurrency = atoi(optarg); break;
        case 13: O.timeout = atof(optarg); break;
        case 'n': O.n = atoi(optarg); break;
        case 'q': O.quiet = 1; break;
        case 'h': usage(); exit(0);
        default: usage(); exit(2);
        }
    }

    if (optind != argc) {
        die("unexpected argument \"%s\"", argv[optind]);
    }

    /* bounds: every run ends */
    if (O.n < 1 || O.n > MAX_CONNS) {
        die("-n must be 1 to %d", MAX_CONNS);
    }
    if (O.per_conn < 1 || O.per_conn > MAX_PER_CONN) {
        die("--per-conn must be 1 to %d", MAX_PER_CONN);
    }
    if (!(O.duration > 0 && O.duration <= MAX_DURATION)) {
        die("--duration must be over 0 and at most %.0f s", MAX_DURATION);
    }
    if (!(O.warmup >= 0 && O.warmup <= 60)) {
        die("--warmup must be 0 to 60 s");
    }
    if (O.window < 1 || O.window > MAX_WINDOW) {
        die("--window must be 1 to %d", MAX_WINDOW);
    }
    if (O.size < 0 || O.size > MAX_PAYLOAD) {
        die("--size must be 0 to %d", MAX_PAYLOAD);
    }
    if (O.concurrency < 1 || O.concurrency > 10000) {
        die("--concurrency must be 1 to 10000");
    }
    if (!(O.timeout >= 1 && O.timeout <= 60)) {
        die("--timeout must be 1 to 60 s");
    }

    if (key == NULL) {
        die("give the devices' --key");
    }

    O.key_len = b64_decode(O.key, sizeof(O.key), key);
    if (O.key_len == 0) {
        die("--key is not base64");
    }
}


int
main(int argc, char **argv)
{
    bench_program("amqp_loadgen");
    options(argc, argv);

    bench_payload(payload, sizeof(payload), O.size);

    /* the hard bound: set-up, warm-up, measurement, drain */
    bench_signals(O.timeout * 3 + 60 + O.warmup + O.duration + 10);

    nconns = (O.n + O.per_conn - 1) / O.per_conn;
    raise_nofile(nconns + 64, "");
    pool_init(nconns);

    ssl_ctx = bench_ssl_ctx(O.ca, O.mode == MODE_IDLE);

    run();
    report();

    return ST.connected == 0 ? 1 : 0;
}
