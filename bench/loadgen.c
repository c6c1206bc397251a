
/*
 * loadgen: a load generator for nginx-iothub's MQTT endpoint and, as the
 * peer, any MQTT 3.1.1 broker (Mosquitto).  One process (or a few forked
 * ones), epoll, non-blocking sockets, OpenSSL client connections, MQTT
 * frames written by hand.
 *
 *   loadgen pub      N publishers, QoS 0/1, W messages in flight each;
 *                    messages/s and PUBACK latency p50/p99; for fault
 *                    runs (bench/fault.sh) lost connections reconnect
 *                    and every acknowledged message is listed
 *   loadgen connect  a connect storm: TLS + CONNECT + CONNACK + DISCONNECT
 *                    per connection (--tls-only: bare TLS handshakes)
 *   loadgen idle     hold N connected devices with keep-alive pings; prints
 *                    READY when all are connected, holds until -d seconds
 *                    passed or SIGTERM
 *   loadgen rtt      cloud-to-device and direct-method round trips: the
 *                    device on one node, the caller (HTTPS, or MQTT for the
 *                    peer) on another
 *   loadgen http     N devices posting telemetry over HTTPS (POST
 *                    /devices/{id}/messages/events, HTTP/1.1 keep-alive,
 *                    one request in flight each); 204s/s and their latency
 *
 * Every target must be a loopback address (127.0.0.0/8 or ::1).  Every run
 * is bounded in connections, messages and time.  "loadgen --help" lists the
 * options.  Results are printed as one "RESULT key=value ..." line for
 * scripts, after a human-readable summary.
 */


#define _GNU_SOURCE

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ws_client.h"
#include "bench_common.h"


#define API_VERSION        "2021-04-12"

#define MAX_CONNS          100000
#define MAX_DURATION       600.0
#define MAX_WINDOW         1024
#define MAX_PAYLOAD        (256 * 1024)
#define MAX_PROCS          16
#define MAX_TARGETS        4
#define MAX_ROUNDS         1000000
#define OUT_CHUNK          (64 * 1024)
#define ROUND_TIMEOUT_US   5000000
#define RECONNECT_US       200000
#define TAG_LEN            16
#define WS_PATH            "/$iothub/websocket"
#define WS_FRAME_MAX       (1024 * 1024)
#define HTTP_STATUS_MAX    600


/* ---- what a process measured; children send it to the parent ---- */

typedef struct {
    uint64_t        started;        /* connections attempted */
    uint64_t        connected;      /* reached the ready state */
    uint64_t        failed;         /* refused, timed out or reset */
    uint64_t        dropped;        /* closed by the server while held */
    uint64_t        ops;            /* counted operations in the window */
    uint64_t        total;          /* operations of the whole run */
    uint64_t        sent;           /* messages sent in the window */
    uint64_t        errors;         /* protocol surprises */
    uint64_t        late;           /* connect storm: starts behind rate */
    double          window;         /* seconds counted */
    double          cpu;            /* CPU seconds of this process ... */
    double          cpu_wall;       /* ... over these seconds (from go) */
    double          connect_time;   /* seconds until all were connected */
    hist_t          lat;            /* ack / connect / C2D delivery */
    hist_t          lat2;           /* method round trip */
    hist_t          lat3;           /* method delivery to the device */
    hist_t          lat4;           /* C2D send answered (HTTP 204/PUBACK) */
    uint32_t        status[HTTP_STATUS_MAX];    /* http: other answers */
} stats_t;

enum { MSG_READY = 1, MSG_FINAL = 2 };

typedef struct {
    int             type;
    stats_t         st;
} msg_t;


/* ---- options ---- */

enum { MODE_PUB = 1, MODE_CONNECT, MODE_IDLE, MODE_RTT, MODE_HTTP };

static struct {
    int             mode;
    addr_t          target;         /* MQTT: this process's node */
    addr_t          targets[MAX_TARGETS];   /* -t once or more: nodes */
    int             ntargets;
    addr_t          caller;         /* rtt: the caller's node */
    int             tls;
    int             caller_tls;
    int             caller_mqtt;    /* rtt peer: caller is an MQTT client */
    const char     *sni;
    const char     *ca;
    const char     *hub;
    const char     *prefix;
    int             first;
    int             devices;
    unsigned char   key[128];
    size_t          key_len;
    int             have_key;
    unsigned char   skey[128];      /* rtt: the service policy's key */
    size_t          skey_len;
    const char     *policy;
    int             anon;
    int             n;
    int             qos;
    int             window;
    int             size;
    double          duration;
    double          warmup;
    double          rate;
    int             concurrency;
    int             tls_only;
    int             keepalive;
    int             clean;
    int             procs;
    int             src_ips;
    int             subscribe;
    int             rounds;
    int             warm_rounds;
    double          gap_ms;
    double          timeout;
    int             quiet;
    int             reconnect;      /* pub: reopen lost connections */
    int             ws;             /* MQTT over WebSocket (subprotocol mqtt) */
    const char     *acked;          /* pub: list acknowledged tags here */
    int             stamp;          /* pub: the send time in the payload */
} O;


/* ---- connections ---- */

enum { R_DEVICE = 0, R_CALLER_MQTT, R_CALLER_HTTP };

enum {
    S_FREE = 0,
    S_TCP,          /* connect() in progress */
    S_TLS,          /* handshake */
    S_CONNACK,      /* CONNECT sent */
    S_SUBACK,       /* SUBSCRIBE sent */
    S_TICKET,       /* --tls-only: handshake done, taking the tickets */
    S_UPGRADE,      /* --ws: the WebSocket upgrade request sent */
    S_READY
};

typedef struct {
    int             fd;
    uint32_t        gen;
    int             state;
    int             role;
    int             dev;
    int             tls;
    SSL            *ssl;
    uint32_t        events;
    uint64_t        t0;
    uint64_t        last_tx;
    uint64_t        req_at;         /* http: the request in flight sent */

    unsigned char  *in;
    size_t          ilen;
    size_t          isize;
    unsigned char  *out;
    size_t          olen;
    size_t          osize;

    /* --ws: out[0..ws_framed) is framed; in[ilen..ilen+ws_raw) is not */
    int             ws;
    size_t          ws_framed;
    size_t          ws_raw;

    /* publishing: one PUBLISH template, the packet id patched in */
    unsigned char  *pkt;
    int             pkt_dev;
    size_t          pkt_len;
    size_t          pid_off;
    unsigned        next_pid;
    unsigned        pid_cycle;
    int             inflight;
    uint64_t       *sent_at;
    uint16_t       *slot_pid;
    uint64_t       *slot_tag;       /* --acked: the message in the slot */
    int             closing;
} conn_t;


static int            ep = -1;
static conn_t        *C;
static int            ncap;
static slots_t        slots;
static SSL_CTX       *ssl_ctx;
static stats_t        ST;
static uint64_t       now;
static int            ready;        /* connections in S_READY */
static int            inprogress;   /* connections not yet ready */

/* parent/child plumbing */
static int            is_child;
static int            to_parent = -1;
static int            from_parent = -1;
static int            child_no;

/* phases */
enum { P_CONNECT = 0, P_WAIT_GO, P_MEASURE, P_DRAIN, P_END };
static int            phase;
static uint64_t       t_go, t_warm, t_end, t_phase;
static double         cpu_go;

/* the range of devices of this process */
static int            dev_first, dev_count, conn_target;
static double         my_rate;
static uint64_t       offered;      /* connect storm: starts due so far */
static int            my_concurrency;

static unsigned char  payload[MAX_PAYLOAD];

/* pub --acked: messages carry a run-unique tag; the acknowledged listed */
static FILE          *acked_fp;
static uint64_t       next_tag;

/* pub --reconnect: devices whose connection was lost, reopened when due */
static int           *reopen_dev;
static uint64_t      *reopen_at;
static int            nreopen;


/* ---- SAS tokens (auth.md 3) ---- */

static void
device_id(char *buf, size_t size, int dev)
{
    snprintf(buf, size, "%s%d", O.prefix, O.first + dev);
}


/* ---- MQTT 3.1.1 frames ---- */

static size_t
put_varint(unsigned char *p, size_t v)
{
    size_t  n = 0;

    do {
        unsigned char  b = v & 0x7f;

        v >>= 7;
        p[n++] = v ? (b | 0x80) : b;
    } while (v);

    return n;
}


static unsigned char *
put_str(unsigned char *p, const char *s, size_t len)
{
    *p++ = (unsigned char) (len >> 8);
    *p++ = (unsigned char) len;
    memcpy(p, s, len);

    return p + len;
}


static unsigned char *out_reserve(conn_t *c, size_t len);


static void
mqtt_connect(conn_t *c)
{
    char            id[96], user[256], pass[1024], resource[256];
    size_t          idl, ul, pl, rl;
    unsigned char  *p, flags;

    device_id(id, sizeof(id), c->dev);

    if (c->role == R_CALLER_MQTT) {
        /* the peer's caller: a client id no device has */
        strcat(id, "-caller");
    }

    snprintf(user, sizeof(user), "%s/%s/?api-version=" API_VERSION,
             O.hub, id);

    pass[0] = '\0';

    if (!O.anon && c->role == R_DEVICE) {
        snprintf(resource, sizeof(resource), "%s/devices/%s", O.hub, id);
        if (sas_token(pass, sizeof(pass), resource, O.key, O.key_len, NULL)
            != 0)
        {
            die("HMAC failed");
        }
    }

    idl = strlen(id);
    ul = strlen(user);
    pl = strlen(pass);

    flags = 0x80 | (pl ? 0x40 : 0) | (O.clean ? 0x02 : 0);
    rl = 10 + 2 + idl + 2 + ul + (pl ? 2 + pl : 0);

    p = out_reserve(c, 5 + rl);
    *p++ = 0x10;
    p += put_varint(p, rl);
    p = put_str(p, "MQTT", 4);
    *p++ = 4;
    *p++ = flags;
    *p++ = (unsigned char) (O.keepalive >> 8);
    *p++ = (unsigned char) O.keepalive;
    p = put_str(p, id, idl);
    p = put_str(p, user, ul);

    if (pl) {
        p = put_str(p, pass, pl);
    }

    c->olen = p - c->out;
}


static void
mqtt_subscribe(conn_t *c, const char **filters, const int *qos, int n)
{
    int             i;
    size_t          rl;
    unsigned char  *p, *start;

    rl = 2;
    for (i = 0; i < n; i++) {
        rl += 2 + strlen(filters[i]) + 1;
    }

    start = out_reserve(c, 5 + rl);
    p = start;
    *p++ = 0x82;
    p += put_varint(p, rl);
    *p++ = 0;
    *p++ = 1;

    for (i = 0; i < n; i++) {
        p = put_str(p, filters[i], strlen(filters[i]));
        *p++ = (unsigned char) qos[i];
    }

    c->olen -= (5 + rl) - (size_t) (p - start);
}


static void
mqtt_publish(conn_t *c, const char *topic, const unsigned char *data,
    size_t len, int qos, unsigned pid)
{
    size_t          tl, rl;
    unsigned char  *p, *start;

    tl = strlen(topic);
    rl = 2 + tl + (qos ? 2 : 0) + len;

    start = out_reserve(c, 5 + rl);
    p = start;
    *p++ = 0x30 | (unsigned char) (qos << 1);
    p += put_varint(p, rl);
    p = put_str(p, topic, tl);

    if (qos) {
        *p++ = (unsigned char) (pid >> 8);
        *p++ = (unsigned char) pid;
    }

    memcpy(p, data, len);
    p += len;

    c->olen -= (5 + rl) - (size_t) (p - start);
}


static void
mqtt_small(conn_t *c, unsigned char type, unsigned pid, int with_pid)
{
    unsigned char  *p;

    p = out_reserve(c, with_pid ? 4 : 2);
    p[0] = type;
    p[1] = with_pid ? 2 : 0;

    if (with_pid) {
        p[2] = (unsigned char) (pid >> 8);
        p[3] = (unsigned char) pid;
    }
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


static conn_t *
conn_open(int role, int dev, const addr_t *a, int tls)
{
    int                  fd, one;
    conn_t              *c;
    struct sockaddr_in   src;

    c = &C[slot_take(&slots)];

    fd = tcp_socket(a->ss.ss_family, " (raise ulimit -n or use --procs)");

    if (O.src_ips > 1 && a->ss.ss_family == AF_INET) {
        /* spread over 127.0.1.x: more ephemeral ports for storms */
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000101u + (uint32_t) (dev % O.src_ips));
        one = 1;
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                          sizeof(one));

        if (bind(fd, (struct sockaddr *) &src, sizeof(src)) != 0) {
            die("bind: %s", strerror(errno));
        }
    }

    tcp_connect(fd, a);

    c->fd = fd;
    c->gen++;
    c->state = S_TCP;
    c->role = role;
    c->dev = dev;
    c->tls = tls;
    c->ssl = NULL;
    c->t0 = now;
    c->last_tx = now;
    c->ilen = 0;
    c->olen = 0;
    c->ws = O.ws && role == R_DEVICE;
    c->ws_framed = 0;
    c->ws_raw = 0;
    c->inflight = 0;
    c->closing = 0;
    c->events = EPOLLIN | EPOLLOUT;
    epoll_set(ep, EPOLL_CTL_ADD, fd, c->events, slot_data(c - C, c->gen));

    ST.started++;
    inprogress++;

    return c;
}


static void on_closed(conn_t *c, int by_peer, const char *why);


/* frees the slot; "why" NULL: an orderly close of ours */

static void
conn_close(conn_t *c, int by_peer, const char *why)
{
    int  was_ready;

    if (c->state == S_FREE) {
        return;
    }

    was_ready = (c->state == S_READY);

    if (was_ready) {
        ready--;

    } else {
        inprogress--;
    }

    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }

    close(c->fd);
    c->fd = -1;
    c->state = S_FREE;
    c->gen++;

    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->isize = c->osize = 0;
    c->ilen = c->olen = 0;
    c->ws_framed = c->ws_raw = 0;

    if (c->slot_pid) {
        /* what was in flight is not acknowledged: forgotten */
        memset(c->slot_pid, 0, sizeof(uint16_t) * (size_t) O.window);
    }

    c->inflight = 0;
    slot_put(&slots, (int) (c - C));

    on_closed(c, !was_ready, why);
}


static unsigned char *
out_reserve(conn_t *c, size_t len)
{
    size_t          size;
    unsigned char  *p;

    if (c->olen + len > c->osize) {
        size = c->osize ? c->osize : 512;

        while (size < c->olen + len) {
            size *= 2;
        }

        p = realloc(c->out, size);
        if (p == NULL) {
            die("out of memory");
        }

        c->out = p;
        c->osize = size;
    }

    p = c->out + c->olen;
    c->olen += len;
    c->last_tx = now;

    return p;
}


/* --ws: what the MQTT code queued since the last flush, as one frame */

static void
ws_frame_pending(conn_t *c)
{
    size_t          len, hlen;
    unsigned char   mask[4], *p;
    static uint32_t seed = 2463534242u;

    if (c->state == S_UPGRADE || c->olen == c->ws_framed) {
        return;
    }

    len = c->olen - c->ws_framed;
    hlen = len < 126 ? 6 : (len < 65536 ? 8 : 14);

    /* masks need not be secret here, only present: xorshift */
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    memcpy(mask, &seed, 4);

    (void) out_reserve(c, hlen);
    p = c->out + c->ws_framed;
    memmove(p + hlen, p, len);
    (void) ws_frame_header(p, WS_OP_BINARY, len, mask);
    ws_mask(p + hlen, len, mask);
    c->ws_framed = c->olen;
}


/* 0 sent or waiting, -1 closed */

static int
conn_flush(conn_t *c)
{
    int      n, e;
    size_t   off;

    if (c->ws) {
        ws_frame_pending(c);
    }

    off = 0;

    while (off < c->olen) {
        if (c->tls) {
            ERR_clear_error();
            n = SSL_write(c->ssl, c->out + off, (int) (c->olen - off));

            if (n <= 0) {
                e = SSL_get_error(c->ssl, n);

                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    break;
                }

                conn_close(c, 1, "TLS write failed");
                return -1;
            }

        } else {
            n = (int) send(c->fd, c->out + off, c->olen - off, MSG_NOSIGNAL);

            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    break;
                }

                conn_close(c, 1, "write failed");
                return -1;
            }
        }

        off += (size_t) n;
    }

    if (off) {
        c->olen -= off;
        c->ws_framed -= off;
        memmove(c->out, c->out + off, c->olen);
    }

    if (c->olen == 0 && c->osize > OUT_CHUNK * 2) {
        free(c->out);
        c->out = NULL;
        c->osize = 0;
    }

    set_events(c, EPOLLIN | (c->olen ? EPOLLOUT : 0));

    return 0;
}


/* ---- what the modes do with packets ---- */

static void pub_fill(conn_t *c);
static void pub_start(conn_t *c);
static void pub_acked(conn_t *c, unsigned pid);
static void became_ready(conn_t *c);
static void rtt_device_publish(conn_t *c, const char *topic, size_t tl,
    const unsigned char *data, size_t len);
static void rtt_caller_publish(conn_t *c, const char *topic, size_t tl,
    const unsigned char *data, size_t len);
static void rtt_caller_puback(conn_t *c, unsigned pid);
static int http_input(conn_t *c);
static void http_d2c_answered(conn_t *c, int status);
static void http_d2c_send(conn_t *c);


static const char *
connack_text(int rc)
{
    static const char  *t[] = {
        "accepted", "unacceptable protocol version", "identifier rejected",
        "server unavailable", "bad user name or password", "not authorized"
    };

    return rc >= 0 && rc <= 5 ? t[rc] : "unknown return code";
}


/* 0 handled, -1 the connection closed */

static int
mqtt_packet(conn_t *c, unsigned char h, unsigned char *p, size_t len)
{
    int     qos;
    char    why[80];
    size_t  tl, off;

    switch (h >> 4) {

    case 2:     /* CONNACK */
        if (len != 2 || c->state != S_CONNACK) {
            conn_close(c, 1, "unexpected CONNACK");
            return -1;
        }

        if (p[1] != 0) {
            snprintf(why, sizeof(why), "CONNACK %d (%s)", p[1],
                     connack_text(p[1]));
            conn_close(c, 1, why);
            return -1;
        }

        became_ready(c);
        return c->state == S_FREE ? -1 : 0;

    case 3:     /* PUBLISH */
        qos = (h >> 1) & 3;

        if (len < 2) {
            ST.errors++;
            return 0;
        }

        tl = ((size_t) p[0] << 8) | p[1];
        off = 2 + tl + (qos ? 2 : 0);

        if (off > len) {
            ST.errors++;
            return 0;
        }

        if (qos == 1) {
            mqtt_small(c, 0x40, ((unsigned) p[2 + tl] << 8) | p[3 + tl], 1);
        }

        if (c->role == R_DEVICE) {
            rtt_device_publish(c, (char *) p + 2, tl, p + off, len - off);

        } else {
            rtt_caller_publish(c, (char *) p + 2, tl, p + off, len - off);
        }

        return 0;

    case 4:     /* PUBACK */
        if (len < 2) {
            ST.errors++;
            return 0;
        }

        if (c->role == R_CALLER_MQTT) {
            rtt_caller_puback(c, ((unsigned) p[0] << 8) | p[1]);

        } else {
            pub_acked(c, ((unsigned) p[0] << 8) | p[1]);
        }

        return 0;

    case 9:     /* SUBACK */
        for (off = 2; off < len; off++) {
            if (p[off] == 0x80) {
                conn_close(c, 1, "SUBSCRIBE refused");
                return -1;
            }
        }

        if (c->state == S_SUBACK) {
            c->state = S_READY;
            inprogress--;
            ready++;
            became_ready(c);
        }

        return c->state == S_FREE ? -1 : 0;

    case 13:    /* PINGRESP */
        return 0;

    default:
        ST.errors++;
        return 0;
    }
}


static int
mqtt_input(conn_t *c)
{
    size_t          off, rl, i, mul;
    unsigned char  *p;

    off = 0;

    while (c->ilen - off >= 2) {
        p = c->in + off;
        rl = 0;
        mul = 1;

        for (i = 1; i < 5; i++) {
            if (off + i >= c->ilen) {
                goto more;
            }

            rl += (p[i] & 0x7f) * mul;
            mul <<= 7;

            if (!(p[i] & 0x80)) {
                break;
            }
        }

        if (i == 5) {
            conn_close(c, 1, "bad remaining length");
            return -1;
        }

        if (c->ilen - off < i + 1 + rl) {
            break;
        }

        if (mqtt_packet(c, p[0], p + i + 1, rl) != 0) {
            return -1;
        }

        off += i + 1 + rl;
    }

more:

    if (off) {
        c->ilen -= off;
        memmove(c->in, c->in + off, c->ilen + c->ws_raw);
    }

    return 0;
}


/* --ws: a server frame's payload; 0 or -1 (closed) */

static int
ws_payload(conn_t *c, const ws_frame_t *f, size_t at)
{
    size_t          len, hlen;
    unsigned char   mask[4] = { 0, 0, 0, 0 }, *p;

    len = (size_t) f->payload_len;

    switch (f->opcode) {

    case WS_OP_BINARY:
    case WS_OP_CONTINUATION:
        memmove(c->in + c->ilen, c->in + at, len);
        c->ilen += len;
        return 0;

    case WS_OP_PING:
        if (len > 125) {
            conn_close(c, 1, "WebSocket ping over 125 bytes");
            return -1;
        }

        /* a zero mask: the pong carries the ping's bytes unchanged */
        ws_frame_pending(c);
        p = out_reserve(c, 6 + len);
        hlen = ws_frame_header(p, WS_OP_PONG, len, mask);
        memcpy(p + hlen, c->in + at, len);
        c->ws_framed = c->olen;
        return 0;

    case WS_OP_PONG:
        return 0;

    case WS_OP_CLOSE:
        conn_close(c, 1, "WebSocket closed by the server");
        return -1;

    default:
        conn_close(c, 1, "unexpected WebSocket frame");
        return -1;
    }
}


/* --ws: decode the complete frames of in[ilen..ilen+ws_raw) in place */

static int
ws_unframe(conn_t *c)
{
    int          r;
    size_t       end, at;
    ws_frame_t   f;

    end = c->ilen + c->ws_raw;
    at = c->ilen;

    for ( ;; ) {
        r = ws_frame_parse(c->in + at, end - at, &f);

        if (r == 0) {
            break;
        }

        if (r < 0 || f.payload_len > WS_FRAME_MAX) {
            conn_close(c, 1, "bad WebSocket frame");
            return -1;
        }

        if (end - at - f.header_len < f.payload_len) {
            break;
        }

        if (ws_payload(c, &f, at + f.header_len) != 0) {
            return -1;
        }

        at += f.header_len + (size_t) f.payload_len;
    }

    c->ws_raw = end - at;
    memmove(c->in + c->ilen, c->in + at, c->ws_raw);

    return 0;
}


/* --ws: the answer to the upgrade, then MQTT in frames */

static int
ws_input(conn_t *c)
{
    int     r;
    size_t  hlen;

    if (c->state == S_UPGRADE) {
        r = ws_upgrade_response(c->in, c->ilen, &hlen);

        if (r == 0) {
            return 0;
        }

        if (r < 0) {
            conn_close(c, 1, "WebSocket upgrade refused");
            return -1;
        }

        c->ws_raw = c->ilen - hlen;
        memmove(c->in, c->in + hlen, c->ws_raw);
        c->ilen = 0;

        mqtt_connect(c);
        c->state = S_CONNACK;
    }

    if (ws_unframe(c) != 0) {
        return -1;
    }

    return mqtt_input(c);
}


static int
conn_input(conn_t *c)
{
    if (c->ws) {
        return ws_input(c);
    }

    return c->role == R_CALLER_HTTP ? http_input(c) : mqtt_input(c);
}


/* 0 or -1 (closed) */

static int
conn_read(conn_t *c)
{
    int            e;
    size_t         used;
    ssize_t        n;
    unsigned char *p;

    for ( ;; ) {
        used = c->ilen + c->ws_raw;

        if (c->isize - used < 2048) {
            c->isize = c->isize ? c->isize * 2 : 4096;
            p = realloc(c->in, c->isize);
            if (p == NULL) {
                die("out of memory");
            }

            c->in = p;
        }

        if (c->tls) {
            ERR_clear_error();
            n = SSL_read(c->ssl, c->in + used, (int) (c->isize - used - 1));

            if (n <= 0) {
                e = SSL_get_error(c->ssl, (int) n);

                if (e == SSL_ERROR_WANT_READ) {
                    break;
                }

                if (e == SSL_ERROR_WANT_WRITE) {
                    set_events(c, EPOLLIN | EPOLLOUT);
                    break;
                }

                conn_close(c, 1, e == SSL_ERROR_ZERO_RETURN
                                 ? "closed by the server"
                                 : "TLS read failed or connection reset");
                return -1;
            }

        } else {
            n = recv(c->fd, c->in + used, c->isize - used - 1, 0);

            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                break;
            }

            if (n <= 0) {
                conn_close(c, 1, n == 0 ? "closed by the server"
                                        : "connection reset");
                return -1;
            }
        }

        if (c->ws && c->state != S_UPGRADE) {
            c->ws_raw += (size_t) n;
        } else {
            c->ilen += (size_t) n;
        }

        c->in[c->ilen + c->ws_raw] = '\0';     /* header parsing stops here */

        if (conn_input(c) != 0) {
            return -1;
        }

        /* input that was shrunk back: keep idle connections small */
        if (c->ilen + c->ws_raw == 0 && c->isize > 16384) {
            free(c->in);
            c->in = NULL;
            c->isize = 0;
        }
    }

    return 0;
}


static void transport_ready(conn_t *c);


static void
ticket_done(conn_t *c)
{
    c->state = S_READY;
    inprogress--;
    ready++;
    conn_close(c, 0, NULL);
}


/* S_TICKET: post-handshake records arrived (or not yet) */

static void
ticket_read(conn_t *c)
{
    int            n, e;
    unsigned char  b[256];

    ERR_clear_error();
    n = SSL_read(c->ssl, b, sizeof(b));

    if (n > 0) {
        ticket_done(c);
        return;
    }

    e = SSL_get_error(c->ssl, n);

    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        && BIO_number_read(SSL_get_rbio(c->ssl)) == (uint64_t) c->pid_off)
    {
        return;     /* nothing yet */
    }

    ticket_done(c);
}


static void
handshake(conn_t *c)
{
    uint32_t  events;

    switch (tls_handshake(c->ssl, &events)) {

    case 1:
        transport_ready(c);
        break;

    case 0:
        set_events(c, events);
        break;

    default:
        conn_close(c, 1, "TLS handshake failed");
    }
}


static void
on_event(conn_t *c, uint32_t events)
{
    int  err;

    if (c->state == S_TCP) {
        err = socket_error(c->fd);

        if (err) {
            conn_close(c, 1, strerror(err));
            return;
        }

        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }

        if (!c->tls) {
            set_events(c, EPOLLIN);
            transport_ready(c);
            return;
        }

        c->ssl = tls_client(ssl_ctx, c->fd, O.sni, O.ca != NULL);
        c->state = S_TLS;
    }

    if (c->state == S_TLS) {
        handshake(c);
        return;
    }

    if (c->state == S_TICKET) {
        ticket_read(c);
        return;
    }

    if ((events & EPOLLOUT) && conn_flush(c) != 0) {
        return;
    }

    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conn_read(c) != 0) {
        return;
    }

    if (O.mode == MODE_PUB && O.qos == 0 && phase == P_MEASURE
        && c->state == S_READY)
    {
        int  k;

        /* QoS 0: write until the socket is full, woken when it drains */
        for (k = 0; k < 16 && now < t_end; k++) {
            pub_fill(c);

            if (conn_flush(c) != 0) {
                return;
            }

            if (c->olen) {
                break;
            }
        }

        if (now < t_end) {
            set_events(c, EPOLLIN | EPOLLOUT);
        }

        return;
    }

    if (c->state != S_FREE) {
        (void) conn_flush(c);
    }
}


/* ---- the modes ---- */

static const char  *sub_filters[3];
static int          sub_qos[3];
static char         sub_buf[3][160];
static int          nsub;


static void
device_subscriptions(conn_t *c)
{
    char  id[96];

    device_id(id, sizeof(id), c->dev);
    nsub = 0;

    if (O.mode == MODE_RTT && O.caller_mqtt) {
        /* the peer: plain topics a broker accepts from any client */
        if (c->role == R_DEVICE) {
            snprintf(sub_buf[0], sizeof(sub_buf[0]), "bench/%s/c2d", id);
            snprintf(sub_buf[1], sizeof(sub_buf[1]), "bench/%s/mreq/#", id);
            sub_qos[0] = 1;
            sub_qos[1] = 0;
            nsub = 2;

        } else {
            snprintf(sub_buf[0], sizeof(sub_buf[0]), "bench/%s/mres/#", id);
            sub_qos[0] = 0;
            nsub = 1;
        }

    } else {
        /* what the SDKs subscribe to (mqtt.md 3) */
        snprintf(sub_buf[0], sizeof(sub_buf[0]),
                 "devices/%s/messages/devicebound/#", id);
        snprintf(sub_buf[1], sizeof(sub_buf[1]), "$iothub/methods/POST/#");
        snprintf(sub_buf[2], sizeof(sub_buf[2]), "$iothub/twin/res/#");
        sub_qos[0] = 1;
        sub_qos[1] = 0;
        sub_qos[2] = 0;
        nsub = O.mode == MODE_RTT ? 2 : 3;
    }

    sub_filters[0] = sub_buf[0];
    sub_filters[1] = sub_buf[1];
    sub_filters[2] = sub_buf[2];

    mqtt_subscribe(c, sub_filters, sub_qos, nsub);
}


/* --ws: the upgrade request goes out as it is, unframed */

static void
ws_upgrade(conn_t *c)
{
    size_t  len;
    char    req[512];

    len = ws_upgrade_request(req, sizeof(req), O.sni, WS_PATH, "mqtt");
    if (len == 0) {
        die("cannot build the WebSocket upgrade request");
    }

    memcpy(out_reserve(c, len), req, len);
    c->ws_framed = c->olen;
    c->state = S_UPGRADE;
    (void) conn_flush(c);
}


/* the TCP/TLS connection is up */

static void
transport_ready(conn_t *c)
{
    if (O.mode == MODE_CONNECT && O.tls_only) {
        ST.total++;

        if (phase == P_MEASURE && now >= t_warm && now <= t_end) {
            ST.ops++;
            h_add(&ST.lat, now - c->t0);
        }

        /*
         * TLS 1.3 servers send their session tickets after the handshake:
         * take them before closing, as any client that stays does, or the
         * server's ticket write fails cheaply and flatters the baseline
         */
        c->state = S_TICKET;
        c->t0 = now;
        c->pid_off = (size_t) BIO_number_read(SSL_get_rbio(c->ssl));
        set_events(c, EPOLLIN);

        if (SSL_version(c->ssl) != TLS1_3_VERSION) {
            ticket_done(c);
        }

        return;
    }

    set_events(c, EPOLLIN);

    if (c->role == R_CALLER_HTTP) {
        c->state = S_READY;
        inprogress--;
        ready++;
        became_ready(c);
        return;
    }

    if (c->ws) {
        ws_upgrade(c);
        return;
    }

    mqtt_connect(c);
    c->state = S_CONNACK;
    (void) conn_flush(c);
}


/* CONNACK 0 (state S_CONNACK), SUBACK (now S_READY) or HTTP up */

static void
became_ready(conn_t *c)
{
    if (c->state == S_CONNACK) {
        if (O.mode == MODE_CONNECT) {
            ST.total++;

            if (phase == P_MEASURE && now >= t_warm && now <= t_end) {
                ST.ops++;
                h_add(&ST.lat, now - c->t0);
            }

            /* DISCONNECT, then close: the server sees a clean end */
            mqtt_small(c, 0xe0, 0, 0);
            c->state = S_READY;
            inprogress--;
            ready++;

            if (conn_flush(c) == 0) {
                conn_close(c, 0, NULL);
            }

            return;
        }

        if ((O.mode == MODE_IDLE && O.subscribe) || O.mode == MODE_RTT) {
            device_subscriptions(c);
            c->state = S_SUBACK;
            return;
        }

        c->state = S_READY;
        inprogress--;
        ready++;

        if (O.mode == MODE_PUB && phase == P_MEASURE) {
            /* a reconnected publisher: back to its window */
            pub_start(c);
        }
    }

    if (O.mode == MODE_HTTP && phase == P_MEASURE) {
        /* a device connected again after a keep-alive connection ended */
        http_d2c_send(c);
    }

    ST.connected++;
}


static void
on_closed(conn_t *c, int failed, const char *why)
{
    static int  reported;

    if (why == NULL) {
        return;
    }

    if (failed) {
        ST.failed++;

    } else {
        ST.dropped++;
    }

    if (O.reconnect && c->role == R_DEVICE && phase == P_MEASURE
        && now < t_end)
    {
        reopen_dev[nreopen] = c->dev;
        reopen_at[nreopen] = now + RECONNECT_US;
        nreopen++;
    }

    if (reported++ < 5 && !O.quiet) {
        char  id[96];

        device_id(id, sizeof(id), c->dev);
        fprintf(stderr, "loadgen: %s: %s\n", id, why);
    }
}


/* -- pub -- */

static void
pub_prepare(conn_t *c)
{
    char    id[96], topic[160];
    size_t  tl, rl;

    /* a slot that served another device gets that device's topic */
    free(c->pkt);
    free(c->sent_at);
    free(c->slot_pid);
    free(c->slot_tag);
    c->sent_at = NULL;
    c->slot_pid = NULL;
    c->slot_tag = NULL;
    c->pkt_dev = c->dev;

    device_id(id, sizeof(id), c->dev);
    snprintf(topic, sizeof(topic), "devices/%s/messages/events/", id);

    tl = strlen(topic);
    rl = 2 + tl + (O.qos ? 2 : 0) + (size_t) O.size;

    c->pkt = xalloc(5 + rl);
    c->pkt[0] = 0x30 | (unsigned char) (O.qos << 1);
    c->pkt_len = 1 + put_varint(c->pkt + 1, rl);
    (void) put_str(c->pkt + c->pkt_len, topic, tl);
    c->pkt_len += 2 + tl;
    c->pid_off = c->pkt_len;
    c->pkt_len += O.qos ? 2 : 0;
    memcpy(c->pkt + c->pkt_len, payload, (size_t) O.size);
    c->pkt_len += (size_t) O.size;

    if (O.qos) {
        c->sent_at = xalloc(sizeof(uint64_t) * (size_t) O.window);
        c->slot_pid = xalloc(sizeof(uint16_t) * (size_t) O.window);
        c->slot_tag = xalloc(sizeof(uint64_t) * (size_t) O.window);
        /* W consecutive ids map to W distinct slots, across the wrap */
        c->pid_cycle = (65535 / (unsigned) O.window) * (unsigned) O.window;
        c->next_pid = 1;
    }
}


static void
pub_tag(unsigned char *p, uint64_t tag)
{
    int  i;

    for (i = TAG_LEN - 1; i >= 0; i--) {
        p[i] = (unsigned char) "0123456789abcdef"[tag & 0xf];
        tag >>= 4;
    }
}


/* --stamp: 16 decimal digits, microseconds since the epoch (wall clock) */

static void
pub_stamp(unsigned char *p)
{
    int       i;
    uint64_t  us;

    us = clock_us(CLOCK_REALTIME);

    for (i = 15; i >= 0; i--) {
        p[i] = (unsigned char) ('0' + us % 10);
        us /= 10;
    }
}


static void
pub_one(conn_t *c)
{
    unsigned        pid, slot;
    unsigned char  *p;

    p = out_reserve(c, c->pkt_len);
    memcpy(p, c->pkt, c->pkt_len);

    if (O.qos) {
        pid = c->next_pid;
        c->next_pid = pid % c->pid_cycle + 1;
        slot = (pid - 1) % (unsigned) O.window;

        p[c->pid_off] = (unsigned char) (pid >> 8);
        p[c->pid_off + 1] = (unsigned char) pid;

        if (c->slot_pid[slot]) {
            ST.errors++;    /* an id still unacknowledged: out of order */
        }

        c->slot_pid[slot] = (uint16_t) pid;
        c->sent_at[slot] = now;
        c->inflight++;

        if (acked_fp) {
            /* the payload starts with '{' and the tag, in hex */
            c->slot_tag[slot] = ++next_tag;
            pub_tag(p + c->pid_off + 2 + 1, next_tag);
        }
    }

    if (O.stamp) {
        /* the payload starts with '{' and the time */
        pub_stamp(p + c->pid_off + (O.qos ? 2 : 0) + 1);
    }

    if (now >= t_warm && now <= t_end) {
        ST.sent++;
    }
}


/* QoS 0: keep the socket's buffer full */

static void
pub_fill(conn_t *c)
{
    int  i;

    if (now >= t_end) {
        return;
    }

    for (i = 0; i < 64 && c->olen < OUT_CHUNK; i++) {
        pub_one(c);
    }

}


static void
pub_acked(conn_t *c, unsigned pid)
{
    unsigned  slot;

    if (O.mode != MODE_PUB || !O.qos || pid == 0) {
        ST.errors++;
        return;
    }

    slot = (pid - 1) % (unsigned) O.window;

    if (c->slot_pid[slot] != pid) {
        ST.errors++;
        return;
    }

    c->slot_pid[slot] = 0;
    c->inflight--;
    ST.total++;

    if (acked_fp) {
        fprintf(acked_fp, "%0*" PRIx64 "\n", TAG_LEN, c->slot_tag[slot]);
    }

    if (now >= t_warm && now <= t_end) {
        ST.ops++;
        h_add(&ST.lat, now - c->sent_at[slot]);
    }

    if (phase == P_MEASURE && now < t_end) {
        pub_one(c);
    }
}


/* -- http: device telemetry over HTTPS -- */

/*
 * The request of c's device, made once per device and sent as it is: what
 * the SDKs' Http transport sends, a SAS token valid an hour in the
 * Authorization header, an application property, --size bytes of body.
 */

static void
http_d2c_prepare(conn_t *c)
{
    int     n;
    char    id[96], resource[256], token[1024], head[2048];

    free(c->pkt);
    c->pkt_dev = c->dev;

    device_id(id, sizeof(id), c->dev);
    snprintf(resource, sizeof(resource), "%s/devices/%s", O.hub, id);

    if (sas_token(token, sizeof(token), resource, O.key, O.key_len, NULL)
        != 0)
    {
        die("HMAC failed");
    }

    n = snprintf(head, sizeof(head),
                 "POST /devices/%s/messages/events?api-version=" API_VERSION
                 " HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "Authorization: %s\r\n"
                 "iothub-app-bench: load\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %d\r\n\r\n",
                 id, O.hub, token, O.size);

    if (n < 0 || (size_t) n >= sizeof(head)) {
        die("the HTTP request head of %s is too long", id);
    }

    c->pkt = xalloc((size_t) n + (size_t) O.size);
    memcpy(c->pkt, head, (size_t) n);
    memcpy(c->pkt + n, payload, (size_t) O.size);
    c->pkt_len = (size_t) n + (size_t) O.size;
}


static void
http_d2c_send(conn_t *c)
{
    if (now >= t_end || c->inflight) {
        return;
    }

    memcpy(out_reserve(c, c->pkt_len), c->pkt, c->pkt_len);
    c->req_at = now;
    c->inflight = 1;

    if (now >= t_warm && now <= t_end) {
        ST.sent++;
    }

    (void) conn_flush(c);
}


/* a response: 204 is a stored message, anything else counted by status */

static void
http_d2c_answered(conn_t *c, int status)
{
    if (!c->inflight) {
        ST.errors++;
        return;
    }

    c->inflight = 0;

    if (status == 204) {
        ST.total++;

        if (now >= t_warm && now <= t_end) {
            ST.ops++;
            h_add(&ST.lat, now - c->req_at);
        }

    } else {
        ST.errors++;
        ST.status[status > 0 && status < HTTP_STATUS_MAX ? status : 0]++;
    }

    if (phase == P_MEASURE) {
        http_d2c_send(c);
    }
}


/*
 * The server ended a keep-alive connection (keepalive_requests): the
 * device connects again at once, as an SDK would, and goes on.
 */

static void
http_d2c_reopen(int dev)
{
    conn_t  *c;

    if (phase != P_MEASURE || now >= t_end) {
        return;
    }

    c = conn_open(R_CALLER_HTTP, dev, &O.target, O.tls);

    if (c->pkt == NULL || c->pkt_dev != c->dev) {
        http_d2c_prepare(c);
    }
}


/* -- rtt -- */

static struct {
    conn_t         *dev;
    conn_t         *caller;
    int             kind;           /* 0 C2D, 1 method */
    int             busy;
    int             got_dev;
    int             got_answer;
    unsigned        seq;
    unsigned        done;
    unsigned        pid;
    uint64_t        t0;
    uint64_t        t_dev;
    uint64_t        t_answer;
    uint64_t        next;
    char            token[1024];
} R;


static void
rtt_round_done(void)
{
    int  counted;

    counted = R.done >= (unsigned) O.warm_rounds;

    if (counted) {
        if (R.kind == 0) {
            h_add(&ST.lat, R.t_dev - R.t0);
            h_add(&ST.lat4, R.t_answer - R.t0);

        } else {
            h_add(&ST.lat2, R.t_answer - R.t0);
            h_add(&ST.lat3, R.t_dev - R.t0);
        }

        ST.ops++;
    }

    R.done++;
    R.busy = 0;
    R.next = now + (uint64_t) (O.gap_ms * 1000);
}


static unsigned
seq_of(const unsigned char *data, size_t len, const char *marker)
{
    size_t  ml, i;

    ml = strlen(marker);

    for (i = 0; i + ml < len; i++) {
        if (memcmp(data + i, marker, ml) == 0) {
            return (unsigned) strtoul((const char *) data + i + ml, NULL, 10);
        }
    }

    return 0;
}


static void
rtt_device_publish(conn_t *c, const char *topic, size_t tl,
    const unsigned char *data, size_t len)
{
    char          t[512], rid[160], id[96];
    unsigned      seq;
    const char   *r;
    size_t        n;

    if (O.mode != MODE_RTT || tl >= sizeof(t)) {
        ST.errors++;
        return;
    }

    memcpy(t, topic, tl);
    t[tl] = '\0';

    if (strstr(t, "/messages/devicebound/") || strstr(t, "/c2d")) {
        seq = seq_of(data, len, "seq=");

        if (R.busy && R.kind == 0 && seq == R.seq && !R.got_dev) {
            R.got_dev = 1;
            R.t_dev = now;

            if (R.got_answer) {
                rtt_round_done();
            }

        } else {
            ST.errors++;
        }

        return;
    }

    /* a method request: answer at once */
    seq = seq_of(data, len, "\"seq\":");

    if (O.caller_mqtt) {
        r = strstr(t, "/mreq/");
        if (r == NULL) {
            ST.errors++;
            return;
        }

        device_id(id, sizeof(id), c->dev);
        snprintf(rid, sizeof(rid), "bench/%s/mres/%s", id, r + 6);

    } else {
        r = strstr(t, "$rid=");
        if (r == NULL) {
            ST.errors++;
            return;
        }

        snprintf(rid, sizeof(rid), "$iothub/methods/res/200/?$rid=%s", r + 5);
    }

    if (R.busy && R.kind == 1 && seq == R.seq && !R.got_dev) {
        R.got_dev = 1;
        R.t_dev = now;

    } else {
        ST.errors++;
    }

    n = (size_t) snprintf(t, sizeof(t), "{\"seq\":%u,\"ok\":true}", seq);
    mqtt_publish(c, rid, (unsigned char *) t, n, 0, 0);
}


static void
rtt_caller_publish(conn_t *c, const char *topic, size_t tl,
    const unsigned char *data, size_t len)
{
    unsigned  seq;

    seq = seq_of(data, len, "\"seq\":");

    if (R.busy && R.kind == 1 && seq == R.seq && !R.got_answer) {
        R.got_answer = 1;
        R.t_answer = now;

        if (!R.got_dev) {
            ST.errors++;
        }

        rtt_round_done();
        return;
    }

    ST.errors++;
}


static void
rtt_caller_puback(conn_t *c, unsigned pid)
{
    if (R.busy && R.kind == 0 && pid == R.pid && !R.got_answer) {
        R.got_answer = 1;
        R.t_answer = now;

        if (R.got_dev) {
            rtt_round_done();
        }

        return;
    }

    ST.errors++;
}


/* rtt: a response of the caller's node, the round's answer */

static void
rtt_http_answer(int status, char *body, size_t clen)
{
    if (R.busy && !R.got_answer) {
        if ((R.kind == 0 && status == 204)
            || (R.kind == 1 && status == 200
                && memmem(body, clen, "\"status\":200", 12)
                && seq_of((unsigned char *) body, clen, "\"seq\":")
                   == R.seq))
        {
            R.got_answer = 1;
            R.t_answer = now;

            if (R.kind == 1 && !R.got_dev) {
                ST.errors++;
            }

            if (R.got_dev || R.kind == 1) {
                rtt_round_done();
            }

        } else {
            if (!O.quiet) {
                fprintf(stderr, "loadgen: round %u: HTTP %d %.*s\n",
                        R.seq, status, (int) (clen > 200 ? 200 : clen),
                        body);
            }

            ST.errors++;
            R.busy = 0;
            R.next = now + 100000;
        }

    } else {
        ST.errors++;
    }
}


/* 0, -1 closed; parses as many responses as are complete */

static int
http_input(conn_t *c)
{
    int             status, chunked, close_it;
    char           *hdr_end, *line, *eol, *body;
    size_t          hlen, clen, total;
    long            v;

    for ( ;; ) {
        if (c->ilen == 0) {
            return 0;
        }

        hdr_end = memmem(c->in, c->ilen, "\r\n\r\n", 4);
        if (hdr_end == NULL) {
            return 0;
        }

        hlen = (size_t) (hdr_end - (char *) c->in) + 4;

        if (c->ilen < 12 || memcmp(c->in, "HTTP/1.", 7) != 0) {
            conn_close(c, 1, "bad HTTP response");
            return -1;
        }

        status = atoi((char *) c->in + 9);
        clen = 0;
        chunked = 0;
        close_it = 0;

        for (line = memchr(c->in, '\n', hlen); line && line < hdr_end;
             line = eol)
        {
            line++;
            eol = memchr(line, '\n', (size_t) (hdr_end + 2 - line));

            if (strncasecmp(line, "content-length:", 15) == 0) {
                v = strtol(line + 15, NULL, 10);
                clen = v > 0 ? (size_t) v : 0;

            } else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
                chunked = 1;

            } else if (strncasecmp(line, "connection:", 11) == 0
                       && strcasestr(line, "close")
                       && (eol == NULL || strcasestr(line, "close") < eol))
            {
                close_it = 1;
            }
        }

        body = (char *) c->in + hlen;

        if (chunked) {
            char  *end;

            end = memmem(body, c->ilen - hlen, "\r\n0\r\n\r\n", 7);
            if (end == NULL) {
                if (c->ilen - hlen >= 5 && memcmp(body, "0\r\n\r\n", 5) == 0) {
                    end = body - 2;

                } else {
                    return 0;
                }
            }

            total = (size_t) (end + 7 - (char *) c->in);
            clen = total - hlen;

        } else {
            total = hlen + clen;
            if (c->ilen < total) {
                return 0;
            }
        }

        if (O.mode == MODE_HTTP) {
            http_d2c_answered(c, status);

        } else {
            rtt_http_answer(status, body, clen);
        }

        c->ilen -= total;
        memmove(c->in, c->in + total, c->ilen);
        c->in[c->ilen] = '\0';

        if (close_it) {
            int  dev = c->dev;

            conn_close(c, 0, NULL);

            if (O.mode == MODE_HTTP) {
                http_d2c_reopen(dev);
            }

            return -1;
        }
    }
}


static void
rtt_start_round(void)
{
    int             n;
    char            id[96], topic[200], body[512];
    size_t          blen;
    unsigned char  *p;
    conn_t         *c;

    c = R.caller;
    R.kind = (int) (R.done & 1);
    R.seq++;
    R.busy = 1;
    R.got_dev = 0;
    R.got_answer = 0;
    R.t0 = now;

    device_id(id, sizeof(id), 0);

    if (R.kind == 0) {
        /* a C2D message of --size bytes (at most 500) naming its round */
        blen = (size_t) O.size < sizeof(body) - 12 ? (size_t) O.size
                                                   : sizeof(body) - 12;
        memcpy(body, payload, blen);
        n = snprintf(body, sizeof(body), "seq=%u;", R.seq);
        body[n] = ' ';

        if (blen < (size_t) n + 1) {
            blen = (size_t) n + 1;
        }

    } else {
        blen = (size_t) snprintf(body, sizeof(body),
                                 "{\"methodName\":\"bench\",\"payload\":"
                                 "{\"seq\":%u},\"responseTimeoutInSeconds\":5,"
                                 "\"connectTimeoutInSeconds\":0}", R.seq);
    }

    if (O.caller_mqtt) {
        if (R.kind == 0) {
            snprintf(topic, sizeof(topic), "bench/%s/c2d", id);
            R.pid = R.seq % 65535 + 1;
            mqtt_publish(c, topic, (unsigned char *) body, blen, 1, R.pid);

        } else {
            snprintf(topic, sizeof(topic), "bench/%s/mreq/%u", id, R.seq);
            blen = (size_t) snprintf(body, sizeof(body), "{\"seq\":%u}",
                                     R.seq);
            mqtt_publish(c, topic, (unsigned char *) body, blen, 0, 0);
        }

    } else {
        char  head[2048];

        n = snprintf(head, sizeof(head),
                     "POST /%s/%s/%s?api-version=" API_VERSION " HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Authorization: %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     R.kind == 0 ? "devices" : "twins", id,
                     R.kind == 0 ? "messages/devicebound" : "methods",
                     O.hub, R.token,
                     R.kind == 0 ? "application/octet-stream"
                                 : "application/json",
                     blen);

        p = out_reserve(c, (size_t) n + blen);
        memcpy(p, head, (size_t) n);
        memcpy(p + n, body, blen);
    }

    (void) conn_flush(c);
}


static void
rtt_tick(void)
{
    char  resource[256];

    if (R.caller == NULL || R.caller->state == S_FREE) {
        if (R.busy) {
            /* the answer is lost with the connection */
            ST.errors++;
            R.busy = 0;
        }

        R.caller = conn_open(O.caller_mqtt ? R_CALLER_MQTT : R_CALLER_HTTP,
                             0, &O.caller, O.caller_tls);

        if (!O.caller_mqtt && R.token[0] == '\0') {
            snprintf(resource, sizeof(resource), "%s", O.hub);
            if (sas_token(R.token, sizeof(R.token), resource, O.skey,
                          O.skey_len, O.policy) != 0)
            {
                die("HMAC failed");
            }
        }
    }

    if (phase != P_MEASURE) {
        return;
    }

    if (R.busy) {
        if (now - R.t0 > ROUND_TIMEOUT_US) {
            if (!O.quiet) {
                fprintf(stderr, "loadgen: round %u (%s) timed out: device "
                        "%s, answer %s\n", R.seq,
                        R.kind ? "method" : "C2D", R.got_dev ? "yes" : "no",
                        R.got_answer ? "yes" : "no");
            }

            ST.errors++;
            R.busy = 0;
            R.done++;
        }

        return;
    }

    if (R.done >= (unsigned) (O.rounds + O.warm_rounds) || now >= t_end) {
        phase = P_DRAIN;
        t_phase = now;
        return;
    }

    if (now >= R.next && R.caller->state == S_READY
        && R.dev && R.dev->state == S_READY)
    {
        rtt_start_round();
    }
}


/* ---- the process's run ---- */

static void
send_parent(int type)
{
    msg_t          m;
    size_t         off;
    ssize_t        n;
    const char    *p;

    m.type = type;
    m.st = ST;
    p = (const char *) &m;

    for (off = 0; off < sizeof(m); off += (size_t) n) {
        n = write(to_parent, p + off, sizeof(m) - off);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                n = 0;
                continue;
            }

            _exit(3);
        }
    }
}


static void
go(void)
{
    phase = P_MEASURE;
    t_go = now;
    t_warm = t_go + (uint64_t) (O.warmup * 1e6);
    t_end = t_warm + (uint64_t) (O.duration * 1e6);
    cpu_go = cpu_seconds();

    if ((O.mode == MODE_PUB || O.mode == MODE_IDLE || O.mode == MODE_HTTP)
        && ready == 0)
    {
        /* nothing connected: nothing to measure */
        t_warm = t_end = t_go;
    }

    if (O.mode == MODE_RTT) {
        /* rounds, not time, bound it: warm rounds are not counted */
        t_warm = t_go;
        t_end = t_go + (uint64_t) (O.duration * 1e6);
    }

    if (O.mode == MODE_PUB) {
        int  i;

        for (i = 0; i < ncap; i++) {
            conn_t  *c = &C[i];

            if (c->state == S_READY) {
                pub_start(c);
            }
        }
    }

    if (O.mode == MODE_HTTP) {
        int  i;

        for (i = 0; i < ncap; i++) {
            if (C[i].state == S_READY) {
                http_d2c_send(&C[i]);
            }
        }
    }
}


/* pub: fill the window of a ready publisher */

static void
pub_start(conn_t *c)
{
    int  w;

    if (now >= t_end) {
        return;
    }

    if (O.qos == 0) {
        pub_fill(c);

    } else {
        for (w = 0; w < O.window; w++) {
            pub_one(c);
        }
    }

    (void) conn_flush(c);
}


/* pub --reconnect: reopen the lost connections that are due */

static void
pub_reopen(void)
{
    int      i, j;
    conn_t  *c;

    for (i = 0, j = 0; i < nreopen; i++) {
        if (reopen_at[i] > now || slots.nfree == 0) {
            reopen_dev[j] = reopen_dev[i];
            reopen_at[j] = reopen_at[i];
            j++;
            continue;
        }

        c = conn_open(R_DEVICE, reopen_dev[i], &O.target, O.tls);

        if (c->pkt == NULL || c->pkt_dev != c->dev) {
            pub_prepare(c);
        }
    }

    nreopen = j;
}


static void
connected_all(void)
{
    ST.connect_time = (double) (now - t_phase) / 1e6;

    if (is_child) {
        send_parent(MSG_READY);
        phase = P_WAIT_GO;
        return;
    }

    printf("READY conns=%d failed=%" PRIu64 " connect_s=%.2f\n",
           ready, ST.failed, ST.connect_time);
    fflush(stdout);
    go();
}


static void
tick(void)
{
    int              i, scan;
    conn_t          *c;
    static uint64_t  last_scan;

    scan = now - last_scan >= 50000;
    if (scan) {
        last_scan = now;
    }

    /* connections that take too long */
    if (inprogress && scan) {
        for (i = 0; i < ncap; i++) {
            c = &C[i];

            if (c->state == S_TICKET && now - c->t0 > 100000) {
                ticket_done(c);     /* a server that sends no tickets */

            } else if (c->state != S_FREE && c->state != S_READY
                       && now - c->t0 > (uint64_t) (O.timeout * 1e6))
            {
                conn_close(c, 1, "timed out");
            }
        }
    }

    switch (O.mode) {

    case MODE_CONNECT:
        if (phase == P_CONNECT) {
            connected_all();
            break;
        }

        if (phase != P_MEASURE) {
            break;
        }

        if (now >= t_end || offered >= (uint64_t) conn_target) {
            phase = P_DRAIN;
            t_phase = now;
            break;
        }

        if (my_rate > 0) {
            uint64_t  due;

            due = (uint64_t) ((double) (now - t_go) / 1e6 * my_rate);

            while (offered < due && offered < (uint64_t) conn_target) {
                if (inprogress >= my_concurrency) {
                    /* what cannot start is skipped: the rate is an offer */
                    ST.late += due - offered;
                    offered = due;
                    break;
                }

                (void) conn_open(R_DEVICE,
                                 dev_first
                                 + (int) (offered % (uint64_t) dev_count),
                                 &O.target, O.tls);
                offered++;
            }

        } else {
            while (inprogress < my_concurrency
                   && offered < (uint64_t) conn_target)
            {
                (void) conn_open(R_DEVICE,
                                 dev_first
                                 + (int) (offered % (uint64_t) dev_count),
                                 &O.target, O.tls);
                offered++;
            }
        }

        break;

    case MODE_PUB:
    case MODE_IDLE:
    case MODE_HTTP:
        if (phase == P_CONNECT) {
            while ((int) ST.started < conn_target
                   && inprogress < my_concurrency)
            {
                c = conn_open(O.mode == MODE_HTTP ? R_CALLER_HTTP : R_DEVICE,
                              dev_first + (int) ST.started, &O.target,
                              O.tls);

                if (O.mode == MODE_PUB && (c->pkt == NULL
                                           || c->pkt_dev != c->dev))
                {
                    pub_prepare(c);

                } else if (O.mode == MODE_HTTP) {
                    http_d2c_prepare(c);
                }
            }

            if ((int) ST.started == conn_target && inprogress == 0) {
                connected_all();
            }

            if (now - t_phase > (uint64_t) (O.timeout * 3e6 + 60e6)) {
                die("connections not all up after %.0f s",
                    (double) (now - t_phase) / 1e6);
            }

            break;
        }

        if (O.mode == MODE_IDLE) {
            /* keep-alive: a PINGREQ after half the interval of silence */
            if (scan && (phase == P_MEASURE || phase == P_WAIT_GO)) {
                uint64_t  half = (uint64_t) O.keepalive * 500000;

                for (i = 0; i < ncap; i++) {
                    c = &C[i];

                    if (c->state == S_READY && now - c->last_tx >= half) {
                        mqtt_small(c, 0xc0, 0, 0);
                        (void) conn_flush(c);
                    }
                }
            }

            if (phase == P_MEASURE && (now >= t_end || stop_flag)) {
                phase = P_DRAIN;
                t_phase = now;
            }

            break;
        }

        if (phase == P_MEASURE && nreopen && now < t_end) {
            pub_reopen();
        }

        if (phase == P_MEASURE && now >= t_end) {
            phase = P_DRAIN;
            t_phase = now;
        }

        break;

    case MODE_RTT:
        if (phase == P_CONNECT) {
            if (R.dev == NULL) {
                R.dev = conn_open(R_DEVICE, 0, &O.target, O.tls);
            }

            rtt_tick();

            if (R.dev->state == S_READY && R.caller->state == S_READY) {
                connected_all();
            }

            if (R.dev->state == S_FREE) {
                die("the device could not connect");
            }

            if (now - t_phase > (uint64_t) (O.timeout * 1e6)) {
                die("the device and the caller not both connected after "
                    "%.0f s", O.timeout);
            }

            break;
        }

        if (R.dev->state == S_FREE) {
            die("the device's connection was lost");
        }

        rtt_tick();
        break;
    }

    if (phase == P_DRAIN) {
        int  pending = 0;

        if ((O.mode == MODE_PUB && O.qos) || O.mode == MODE_HTTP) {
            for (i = 0; i < ncap; i++) {
                if (C[i].state == S_READY) {
                    pending += C[i].inflight;
                }
            }
        }

        if (O.mode == MODE_CONNECT) {
            pending = inprogress;
        }

        if (pending == 0 || now - t_phase > 5000000) {
            if (pending) {
                ST.errors += (uint64_t) pending;
            }

            phase = P_END;
        }
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

        if (c->state == S_READY && c->role != R_CALLER_HTTP) {
            mqtt_small(c, 0xe0, 0, 0);

            if (conn_flush(c) != 0) {
                continue;
            }
        }

        conn_close(c, 0, NULL);
    }
}


static void
run(void)
{
    int                 i, n, timeout_ms;
    uint64_t            last_tick;
    conn_t             *c;
    struct epoll_event  evs[512];

    ep = epoll_new();

    if (from_parent >= 0) {
        struct epoll_event  ev;

        ev.events = EPOLLIN;
        ev.data.u64 = UINT64_MAX;
        (void) epoll_ctl(ep, EPOLL_CTL_ADD, from_parent, &ev);
    }

    now = now_us();
    t_phase = now;
    last_tick = 0;
    phase = P_CONNECT;

    for ( ;; ) {
        timeout_ms = (O.mode == MODE_CONNECT || O.mode == MODE_RTT) ? 1 : 10;
        n = epoll_wait(ep, evs, 512, timeout_ms);

        if (n < 0 && errno != EINTR) {
            die("epoll_wait: %s", strerror(errno));
        }

        now = now_us();

        for (i = 0; i < n; i++) {
            uint64_t  d = evs[i].data.u64;

            if (d == UINT64_MAX) {
                char  b;

                if (read(from_parent, &b, 1) == 1 && b == 'G'
                    && phase == P_WAIT_GO)
                {
                    go();

                } else if (phase != P_WAIT_GO) {
                    stop_flag = 1;
                }

                continue;
            }

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

        if (stop_flag && phase <= P_WAIT_GO) {
            phase = P_END;
        }

        if (stop_flag && phase == P_MEASURE && now < t_end) {
            t_end = now;
        }

        if (phase == P_END) {
            break;
        }
    }

    ST.window = O.mode == MODE_RTT
                ? (double) (now - t_go) / 1e6
                : (double) (t_end < now ? t_end - t_warm
                                        : now > t_warm ? now - t_warm : 0)
                  / 1e6;
    ST.cpu = cpu_seconds() - cpu_go;
    ST.cpu_wall = (double) (now - t_go) / 1e6;

    disconnect_all();
}


/* ---- the report ---- */

/* "127.0.0.1:8883", or the nodes "127.0.0.1:28850 + 127.0.0.1:28852" */

static const char *
targets_text(void)
{
    int          i;
    size_t       n;
    static char  buf[MAX_TARGETS * 84];

    n = 0;

    for (i = 0; i < O.ntargets; i++) {
        n += snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " + " : "",
                      O.targets[i].text);
    }

    return buf;
}


/* http: the answers other than 204, by status (0: unreadable) */

static void
http_statuses(const stats_t *s, const char *lead, const char *each,
    const char *end)
{
    int  i, any;

    any = 0;

    for (i = 0; i < HTTP_STATUS_MAX; i++) {
        if (s->status[i] == 0) {
            continue;
        }

        if (!any) {
            printf("%s", lead);
            any = 1;
        }

        printf(each, i, s->status[i]);
    }

    if (any) {
        printf("%s", end);
    }
}


static void
report(const stats_t *s, int procs)
{
    double  rate, cpu_pct;

    rate = s->window > 0 ? (double) s->ops / s->window : 0;
    cpu_pct = s->cpu_wall > 0 ? 100.0 * s->cpu / s->cpu_wall : 0;

    switch (O.mode) {

    case MODE_PUB:
        printf("pub: %d publishers to %s (%s), QoS %d, window %d, "
               "%d-byte payload, %.1f s measured\n", O.n, targets_text(),
               O.tls ? "TLS" : "plain", O.qos, O.window, O.size, s->window);

        if (O.qos) {
            printf("  %.0f msg/s acknowledged (%" PRIu64 " messages)\n", rate,
                   s->ops);
            printf("  %" PRIu64 " PUBACKs in all (warm-up and drain too)\n",
                   s->total);
            h_print("PUBACK latency", &s->lat);

        } else {
            rate = s->window > 0 ? (double) s->sent / s->window : 0;
            printf("  %.0f msg/s written (QoS 0: no acknowledgement)\n",
                   rate);
        }

        break;

    case MODE_HTTP:
        printf("http: %d devices to %s (%s), one request in flight each, "
               "%d-byte body, %.1f s measured\n", O.n, targets_text(),
               O.tls ? "HTTPS" : "HTTP", O.size, s->window);
        printf("  %.0f msg/s answered 204 (%" PRIu64 " messages)\n", rate,
               s->ops);
        h_print("204 latency", &s->lat);
        http_statuses(s, "  other answers:", " %d x%u", "\n");
        break;

    case MODE_CONNECT:
        printf("connect: %s to %s, %s, %.1f s measured\n",
               O.tls_only ? "bare TLS handshakes" : "TLS + MQTT CONNECT",
               targets_text(),
               O.rate > 0 ? "rate-driven" : "as fast as possible",
               s->window);
        printf("  %.0f connections/s (%" PRIu64 " in the window)\n", rate,
               s->ops);
        h_print("connect latency", &s->lat);
        break;

    case MODE_IDLE:
        printf("idle: %" PRIu64 " devices held on %s, connected in %.2f s\n",
               s->connected, targets_text(), s->connect_time);
        break;

    case MODE_RTT:
        printf("rtt: device on %s, caller on %s (%s), %" PRIu64
               " rounds counted\n", O.target.text, O.caller.text,
               O.caller_mqtt ? "MQTT" : O.caller_tls ? "HTTPS" : "HTTP",
               s->ops);
        h_print("C2D delivery", &s->lat);
        h_print("C2D send answered", &s->lat4);
        h_print("method delivery", &s->lat3);
        h_print("method round trip", &s->lat2);
        break;
    }

    printf("  connections: %" PRIu64 " started, %" PRIu64 " failed, %" PRIu64
           " dropped; %" PRIu64 " protocol errors; loadgen CPU %.0f%% of "
           "one core (%d process%s)\n", s->started, s->failed, s->dropped,
           s->errors, cpu_pct, procs, procs > 1 ? "es" : "");

    printf("RESULT mode=%s conns=%d connected=%" PRIu64 " failed=%" PRIu64
           " dropped=%" PRIu64 " errors=%" PRIu64 " window_s=%.3f"
           " cpu_pct=%.1f total=%" PRIu64,
           O.mode == MODE_PUB ? "pub" : O.mode == MODE_CONNECT ? "connect"
           : O.mode == MODE_IDLE ? "idle" : O.mode == MODE_HTTP ? "http"
           : "rtt",
           O.n, s->connected, s->failed, s->dropped, s->errors, s->window,
           cpu_pct, s->total);

    switch (O.mode) {

    case MODE_PUB:
        printf(" qos=%d window=%d size=%d msgs=%" PRIu64 " rate=%.1f"
               " p50_us=%" PRIu64 " p99_us=%" PRIu64 " pubacks=%" PRIu64,
               O.qos, O.window, O.size, O.qos ? s->ops : s->sent,
               O.qos ? rate : (s->window > 0 ? s->sent / s->window : 0),
               h_pct(&s->lat, 0.5), h_pct(&s->lat, 0.99),
               O.qos ? s->total : 0);
        break;

    case MODE_HTTP:
        printf(" size=%d msgs=%" PRIu64 " rate=%.1f p50_us=%" PRIu64
               " p99_us=%" PRIu64, O.size, s->ops, rate, h_pct(&s->lat, 0.5),
               h_pct(&s->lat, 0.99));
        http_statuses(s, " status=", "%d:%u,", "");
        break;

    case MODE_CONNECT:
        printf(" tls_only=%d done=%" PRIu64 " rate=%.1f late=%" PRIu64
               " p50_us=%" PRIu64 " p99_us=%" PRIu64,
               O.tls_only, s->ops, rate, s->late, h_pct(&s->lat, 0.5),
               h_pct(&s->lat, 0.99));
        break;

    case MODE_IDLE:
        printf(" connect_s=%.2f", s->connect_time);
        break;

    case MODE_RTT:
        printf(" rounds=%" PRIu64 " c2d_p50_us=%" PRIu64 " c2d_p99_us=%"
               PRIu64 " c2d_ack_p50_us=%" PRIu64 " c2d_ack_p99_us=%" PRIu64
               " method_p50_us=%" PRIu64 " method_p99_us=%" PRIu64
               " mdeliv_p50_us=%" PRIu64 " mdeliv_p99_us=%" PRIu64,
               s->ops, h_pct(&s->lat, 0.5), h_pct(&s->lat, 0.99),
               h_pct(&s->lat4, 0.5), h_pct(&s->lat4, 0.99),
               h_pct(&s->lat2, 0.5), h_pct(&s->lat2, 0.99),
               h_pct(&s->lat3, 0.5), h_pct(&s->lat3, 0.99));
        break;
    }

    printf("\n");
    fflush(stdout);
}


static void
merge(stats_t *d, const stats_t *s)
{
    int  i;

    d->started += s->started;
    d->connected += s->connected;
    d->failed += s->failed;
    d->dropped += s->dropped;
    d->ops += s->ops;
    d->total += s->total;
    d->sent += s->sent;
    d->errors += s->errors;
    d->late += s->late;
    d->cpu += s->cpu;

    if (s->window > d->window) {
        d->window = s->window;
    }

    if (s->cpu_wall > d->cpu_wall) {
        d->cpu_wall = s->cpu_wall;
    }

    if (s->connect_time > d->connect_time) {
        d->connect_time = s->connect_time;
    }

    h_merge(&d->lat, &s->lat);
    h_merge(&d->lat2, &s->lat2);
    h_merge(&d->lat3, &s->lat3);
    h_merge(&d->lat4, &s->lat4);

    for (i = 0; i < HTTP_STATUS_MAX; i++) {
        d->status[i] += s->status[i];
    }
}


/*
 * With several targets, a line per target after the RESULT line:
 * "TARGET addr=127.0.0.1:28850 total=.. ops=.. rate=.." (pub: messages
 * acknowledged in all, in the window, per second of the window).
 */

static void
report_targets(const stats_t *per, int n)
{
    int  i;

    for (i = 0; n > 1 && i < n; i++) {
        printf("TARGET addr=%s connected=%" PRIu64 " total=%" PRIu64
               " ops=%" PRIu64 " rate=%.1f\n", O.targets[i].text,
               per[i].connected, per[i].total, per[i].ops,
               per[i].window > 0 ? per[i].ops / per[i].window : 0);
    }

    fflush(stdout);
}


static int
read_msg(int fd, msg_t *m)
{
    size_t   off;
    ssize_t  n;

    for (off = 0; off < sizeof(msg_t); off += (size_t) n) {
        n = read(fd, (char *) m + off, sizeof(msg_t) - off);

        if (n < 0 && errno == EINTR) {
            if (stop_flag) {
                return -2;
            }

            n = 0;
            continue;
        }

        if (n <= 0) {
            return -1;
        }
    }

    return 0;
}


/* the share of process i of a total */

static int
share(int total, int i, int procs)
{
    return total / procs + (i < total % procs ? 1 : 0);
}


static int
share_first(int total, int i, int procs)
{
    int  k, first = 0;

    for (k = 0; k < i; k++) {
        first += share(total, k, procs);
    }

    return first;
}


static void
setup_process(int i, int procs)
{
    int  slots;

    child_no = i;

    /* process i connects to node i mod nodes */
    O.target = O.targets[i % O.ntargets];

    dev_first = share_first(O.devices, i, procs);
    dev_count = share(O.devices, i, procs);
    my_rate = O.rate / procs;
    my_concurrency = O.concurrency / procs;

    if (my_concurrency < 1) {
        my_concurrency = 1;
    }

    switch (O.mode) {
    case MODE_CONNECT:
        conn_target = share(O.n, i, procs);
        slots = my_concurrency + 16;
        break;
    case MODE_RTT:
        conn_target = 1;
        slots = 8;
        break;
    default:
        dev_first = share_first(O.n, i, procs);
        dev_count = share(O.n, i, procs);
        conn_target = dev_count;
        slots = conn_target;
        break;
    }

    pool_init(slots);

    if (O.reconnect) {
        /* a device is lost at most once at a time */
        reopen_dev = xalloc(sizeof(int) * (size_t) slots);
        reopen_at = xalloc(sizeof(uint64_t) * (size_t) slots);
    }
}


static void
usage(void)
{
    printf(
"usage: loadgen MODE [options]      (targets must be loopback addresses)\n"
"\n"
"modes:\n"
"  pub       -n publishers, --qos 0|1, --window W, --size B, -d seconds\n"
"  connect   a storm of -n connections at most (--rate R/s, or as fast as\n"
"            --concurrency allows); --tls-only: bare TLS handshakes\n"
"  idle      hold -n connected devices (keep-alive pings); prints READY,\n"
"            holds -d seconds or until SIGTERM/SIGINT\n"
"  rtt       C2D and method round trips: the device on -t, the caller on\n"
"            --caller (HTTPS, or MQTT with --caller-mqtt for the peer)\n"
"  http      -n devices posting telemetry over HTTPS (--plain: HTTP), POST\n"
"            /devices/{id}/messages/events, keep-alive, one request in\n"
"            flight each, --size B body, -d seconds; counts the 204s\n"
"\n"
"options:\n"
"  -t, --target ADDR:PORT   MQTT endpoint (default 127.0.0.1:8883); given\n"
"                           up to %d times (nodes of one hub), process i\n"
"                           of --procs connects to target i mod targets\n"
"      --plain              MQTT without TLS\n"
"      --sni NAME           TLS server name (default localhost)\n"
"      --ca FILE            verify the server against this CA\n"
"      --hub HOST           hub host name for user names and tokens\n"
"                           (default localhost)\n"
"      --prefix P           device ids are P<first+i> (default dev)\n"
"      --first N            first device number (default 1)\n"
"      --devices N          devices to cycle through (connect storm;\n"
"                           default: -n)\n"
"      --key B64            the devices' symmetric key (base64)\n"
"      --anon               no password (brokers with anonymous access)\n"
"      --ws                 MQTT over WebSocket: GET " WS_PATH "\n"
"                           on the target, subprotocol mqtt\n"
"  -n N                     connections (pub, idle) or at most N\n"
"                           connections (connect); at most %d\n"
"      --qos 0|1            (pub, default 1)\n"
"      --window W           messages in flight per publisher (default 16)\n"
"      --size BYTES         payload size (default 256)\n"
"  -d, --duration S         measured seconds (default 10, at most %.0f)\n"
"      --warmup S           seconds before counting (default 1)\n"
"      --rate R             connect: new connections per second (0: max)\n"
"  -c, --concurrency N      connections being set up at once (default 64)\n"
"      --tls-only           connect: TLS handshakes only, no MQTT\n"
"      --keepalive S        CONNECT keep-alive (default 60)\n"
"      --clean              clean session 1 (default 0, as the SDKs)\n"
"      --subscribe          idle: subscribe to C2D, methods, twin responses\n"
"      --procs P            split the connections over P processes\n"
"      --src-ips K          bind sources to 127.0.1.1..K (storms)\n"
"      --timeout S          per connection set-up (default 10)\n"
"      --reconnect          pub: reopen a lost connection (0.2 s later)\n"
"                           until the end, its window sent again\n"
"      --acked FILE         pub, QoS 1, one process: each payload starts\n"
"                           with '{' and a run-unique 16-digit hex tag;\n"
"                           FILE lists the tag of every PUBACK, a line each\n"
"      --stamp              pub: each payload starts with '{' and its send\n"
"                           time, 16 digits of microseconds since the epoch\n"
"                           (bench/eh_consumer reads it)\n"
"  rtt:\n"
"      --caller ADDR:PORT   the caller's node (HTTPS unless --caller-plain)\n"
"      --caller-plain       HTTP/MQTT to the caller's node without TLS\n"
"      --caller-mqtt        the caller is an MQTT client (the peer)\n"
"      --service-key B64    key of the service policy\n"
"      --policy NAME        policy name (default service)\n"
"      --rounds N           counted rounds, C2D and method alternating\n"
"                           (default 1000)\n"
"      --warm-rounds N      uncounted first rounds (default 20)\n"
"      --gap-ms MS          pause between rounds (default 1)\n"
"  -q, --quiet              no per-connection error lines\n",
        MAX_TARGETS, MAX_CONNS, MAX_DURATION);
}


/* -t: the first replaces the default, more are further nodes */

static void
add_target(const char *text)
{
    if (O.ntargets == MAX_TARGETS) {
        die("at most %d targets", MAX_TARGETS);
    }

    parse_target(&O.targets[O.ntargets++], text);
}


static void
options(int argc, char **argv)
{
    int          ch;
    const char  *key = NULL, *skey = NULL, *caller = NULL;

    static struct option  longs[] = {
        { "target", 1, NULL, 't' }, { "plain", 0, NULL, 1 },
        { "sni", 1, NULL, 2 }, { "ca", 1, NULL, 3 }, { "hub", 1, NULL, 4 },
        { "prefix", 1, NULL, 5 }, { "first", 1, NULL, 6 },
        { "devices", 1, NULL, 7 }, { "key", 1, NULL, 8 },
        { "anon", 0, NULL, 9 }, { "qos", 1, NULL, 10 },
        { "window", 1, NULL, 11 }, { "size", 1, NULL, 12 },
        { "duration", 1, NULL, 'd' }, { "warmup", 1, NULL, 13 },
        { "rate", 1, NULL, 14 }, { "concurrency", 1, NULL, 'c' },
        { "tls-only", 0, NULL, 15 }, { "keepalive", 1, NULL, 16 },
        { "clean", 0, NULL, 17 }, { "subscribe", 0, NULL, 18 },
        { "procs", 1, NULL, 19 }, { "src-ips", 1, NULL, 20 },
        { "timeout", 1, NULL, 21 }, { "caller", 1, NULL, 22 },
        { "caller-plain", 0, NULL, 23 }, { "caller-mqtt", 0, NULL, 24 },
        { "service-key", 1, NULL, 25 }, { "policy", 1, NULL, 26 },
        { "rounds", 1, NULL, 27 }, { "warm-rounds", 1, NULL, 28 },
        { "gap-ms", 1, NULL, 29 }, { "quiet", 0, NULL, 'q' },
        { "reconnect", 0, NULL, 30 }, { "acked", 1, NULL, 31 },
        { "stamp", 0, NULL, 32 },
        { "ws", 0, NULL, 33 },
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
    } else if (strcmp(argv[1], "connect") == 0) {
        O.mode = MODE_CONNECT;
    } else if (strcmp(argv[1], "idle") == 0) {
        O.mode = MODE_IDLE;
    } else if (strcmp(argv[1], "rtt") == 0) {
        O.mode = MODE_RTT;
    } else if (strcmp(argv[1], "http") == 0) {
        O.mode = MODE_HTTP;
    } else {
        die("unknown mode \"%s\" (pub, connect, idle, rtt, http)", argv[1]);
    }

    O.tls = 1;
    O.caller_tls = 1;
    O.sni = "localhost";
    O.hub = "localhost";
    O.prefix = "dev";
    O.first = 1;
    O.policy = "service";
    O.n = 1;
    O.qos = 1;
    O.window = 16;
    O.size = 256;
    O.duration = 10;
    O.warmup = 1;
    O.concurrency = 64;
    O.keepalive = 60;
    O.procs = 1;
    O.src_ips = 1;
    O.rounds = 1000;
    O.warm_rounds = 20;
    O.gap_ms = 1;
    O.timeout = 10;
    parse_target(&O.targets[0], "127.0.0.1:8883");

    optind = 2;

    while ((ch = getopt_long(argc, argv, "t:n:d:c:qh", longs, NULL)) != -1) {
        switch (ch) {
        case 't': add_target(optarg); break;
        case 1: O.tls = 0; break;
        case 2: O.sni = optarg; break;
        case 3: O.ca = optarg; break;
        case 4: O.hub = optarg; break;
        case 5: O.prefix = optarg; break;
        case 6: O.first = atoi(optarg); break;
        case 7: O.devices = atoi(optarg); break;
        case 8: key = optarg; break;
        case 9: O.anon = 1; break;
        case 10: O.qos = atoi(optarg); break;
        case 11: O.window = atoi(optarg); break;
        case 12: O.size = atoi(optarg); break;
        case 'd': O.duration = atof(optarg); break;
        case 13: O.warmup = atof(optarg); break;
        case 14: O.rate = atof(optarg); break;
        case 'c': O.concurrency = atoi(optarg); break;
        case 15: O.tls_only = 1; break;
        case 16: O.keepalive = atoi(optarg); break;
        case 17: O.clean = 1; break;
        case 18: O.subscribe = 1; break;
        case 19: O.procs = atoi(optarg); break;
        case 20: O.src_ips = atoi(optarg); break;
        case 21: O.timeout = atof(optarg); break;
        case 22: caller = optarg; break;
        case 23: O.caller_tls = 0; break;
        case 24: O.caller_mqtt = 1; break;
        case 25: skey = optarg; break;
        case 26: O.policy = optarg; break;
        case 27: O.rounds = atoi(optarg); break;
        case 28: O.warm_rounds = atoi(optarg); break;
        case 29: O.gap_ms = atof(optarg); break;
        case 30: O.reconnect = 1; break;
        case 31: O.acked = optarg; break;
        case 32: O.stamp = 1; break;
        case 33: O.ws = 1; break;
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
    if (!(O.duration > 0 && O.duration <= MAX_DURATION)) {
        die("--duration must be over 0 and at most %.0f s", MAX_DURATION);
    }
    if (!(O.warmup >= 0 && O.warmup <= 60)) {
        die("--warmup must be 0 to 60 s");
    }
    if (O.qos < 0 || O.qos > 1) {
        die("--qos must be 0 or 1");
    }
    if (O.window < 1 || O.window > MAX_WINDOW) {
        die("--window must be 1 to %d", MAX_WINDOW);
    }
    if (O.size < 0 || O.size > MAX_PAYLOAD) {
        die("--size must be 0 to %d", MAX_PAYLOAD);
    }
    if (O.rate < 0 || O.rate > 1e6) {
        die("--rate must be 0 to 1000000");
    }
    if (O.concurrency < 1 || O.concurrency > 10000) {
        die("--concurrency must be 1 to 10000");
    }
    if (O.keepalive < 5 || O.keepalive > 1177) {
        die("--keepalive must be 5 to 1177 s");
    }
    if (O.procs < 1 || O.procs > MAX_PROCS) {
        die("--procs must be 1 to %d", MAX_PROCS);
    }
    if (O.src_ips < 1 || O.src_ips > 254) {
        die("--src-ips must be 1 to 254");
    }
    if (!(O.timeout >= 1 && O.timeout <= 60)) {
        die("--timeout must be 1 to 60 s");
    }
    if (O.rounds < 1 || O.rounds > MAX_ROUNDS || O.warm_rounds < 0
        || O.warm_rounds > 10000)
    {
        die("--rounds must be 1 to %d, --warm-rounds 0 to 10000", MAX_ROUNDS);
    }
    if (!(O.gap_ms >= 0 && O.gap_ms <= 1000)) {
        die("--gap-ms must be 0 to 1000");
    }

    if (O.devices == 0) {
        O.devices = O.n;
    }
    if (O.devices < 1 || O.devices > MAX_CONNS) {
        die("--devices must be 1 to %d", MAX_CONNS);
    }

    if (O.mode == MODE_CONNECT && O.devices < O.concurrency && !O.tls_only) {
        die("--devices (%d) must be at least --concurrency (%d): one "
            "connection per device at a time", O.devices, O.concurrency);
    }

    if (O.mode == MODE_RTT) {
        if (caller == NULL) {
            die("rtt needs --caller ADDR:PORT");
        }

        parse_target(&O.caller, caller);
        O.procs = 1;

        if (!O.caller_mqtt) {
            if (skey == NULL) {
                die("rtt needs --service-key (the %s policy's key)",
                    O.policy);
            }

            O.skey_len = b64_decode(O.skey, sizeof(O.skey), skey);
            if (O.skey_len == 0) {
                die("--service-key is not base64");
            }
        }
    }

    if (O.ntargets == 0) {
        O.ntargets = 1;
    }

    O.target = O.targets[0];

    if (O.ntargets > 1
        && (O.mode == MODE_RTT || O.procs % O.ntargets != 0))
    {
        die("%d targets: not for rtt, and --procs must be a multiple of "
            "them (process i connects to target i mod %d)", O.ntargets,
            O.ntargets);
    }

    if ((O.reconnect || O.acked) && O.mode != MODE_PUB) {
        die("--reconnect and --acked are for pub");
    }

    if (O.stamp && (O.mode != MODE_PUB || O.acked || O.size < 18)) {
        die("--stamp is for pub without --acked, with --size 18 or more");
    }

    if (O.acked && (O.qos != 1 || O.procs != 1 || O.size < TAG_LEN + 2)) {
        die("--acked needs --qos 1, one process and --size %d or more",
            TAG_LEN + 2);
    }

    if (key) {
        O.key_len = b64_decode(O.key, sizeof(O.key), key);
        if (O.key_len == 0) {
            die("--key is not base64");
        }

        O.have_key = 1;
    }

    if (O.mode == MODE_HTTP && (O.anon || O.ws)) {
        die("http: the devices send SAS tokens (--key), no --anon, no --ws");
    }

    if (!O.anon && !O.tls_only && !O.have_key) {
        die("give the devices' --key, or --anon for a broker");
    }
}


int
main(int argc, char **argv)
{
    int                 i, status, procs, per_proc;
    int                 up[MAX_PROCS], down[MAX_PROCS];
    pid_t               pids[MAX_PROCS];
    double              budget;
    stats_t             total, per_target[MAX_TARGETS];
    msg_t               m;

    bench_program("loadgen");
    options(argc, argv);

    /* a payload that looks like telemetry, the same for every target */
    bench_payload(payload, sizeof(payload), O.size);

    /* the hard bound: set-up, warm-up, measurement, drain */
    budget = O.timeout * 3 + 60 + O.warmup + O.duration + 10;
    bench_signals(budget);

    procs = O.procs;
    per_proc = (O.mode == MODE_CONNECT ? O.concurrency : O.n) / procs + 1;
    raise_nofile(per_proc + 64, ": use --procs to split them");

    ssl_ctx = bench_ssl_ctx(O.ca, O.mode == MODE_IDLE);

    if (procs == 1) {
        if (O.acked) {
            acked_fp = fopen(O.acked, "w");
            if (acked_fp == NULL) {
                die("cannot write %s: %s", O.acked, strerror(errno));
            }
        }

        setup_process(0, 1);
        run();

        if (acked_fp && fclose(acked_fp) != 0) {
            die("writing %s: %s", O.acked, strerror(errno));
        }

        report(&ST, 1);
        return ST.connected == 0 && !(O.mode == MODE_CONNECT) ? 1 : 0;
    }

    for (i = 0; i < procs; i++) {
        int  a[2], b[2];

        if (pipe(a) != 0 || pipe(b) != 0) {
            die("pipe: %s", strerror(errno));
        }

        fflush(stdout);
        pids[i] = fork();

        if (pids[i] < 0) {
            die("fork: %s", strerror(errno));
        }

        if (pids[i] == 0) {
            int  k;

            for (k = 0; k < i; k++) {
                close(up[k]);
                close(down[k]);
            }

            close(a[0]);
            close(b[1]);
            is_child = 1;
            alarm((unsigned) budget + 1);
            to_parent = a[1];
            from_parent = b[0];
            setup_process(i, procs);
            run();
            send_parent(MSG_FINAL);
            _exit(0);
        }

        close(a[1]);
        close(b[0]);
        up[i] = a[0];
        down[i] = b[1];
    }

    memset(&total, 0, sizeof(total));

    /* barrier: every child connected, then all start at once */
    for (i = 0; i < procs; i++) {
        int  rc;

        while ((rc = read_msg(up[i], &m)) == -2) {
            int  k;

            for (k = 0; k < procs; k++) {
                kill(pids[k], SIGTERM);
            }
            stop_flag = 0;
        }

        if (rc != 0 || m.type != MSG_READY) {
            die("process %d failed while connecting", i);
        }

        total.connected += m.st.connected;
        total.failed += m.st.failed;

        if (m.st.connect_time > total.connect_time) {
            total.connect_time = m.st.connect_time;
        }
    }

    printf("READY conns=%" PRIu64 " failed=%" PRIu64 " connect_s=%.2f\n",
           total.connected, total.failed, total.connect_time);
    fflush(stdout);

    for (i = 0; i < procs; i++) {
        if (write(down[i], "G", 1) != 1) {
            die("process %d is gone", i);
        }
    }

    memset(&total, 0, sizeof(total));
    memset(per_target, 0, sizeof(per_target));

    for (i = 0; i < procs; i++) {
        int  rc;

        while ((rc = read_msg(up[i], &m)) == -2) {
            int  k;

            /* SIGTERM or SIGINT to us: the children end their hold */
            for (k = 0; k < procs; k++) {
                if (write(down[k], "S", 1) != 1) {
                    /* gone already */
                }
            }
            stop_flag = 0;
        }

        if (rc != 0 || m.type != MSG_FINAL) {
            die("process %d ended without a result", i);
        }

        merge(&total, &m.st);
        merge(&per_target[i % O.ntargets], &m.st);
    }

    for (i = 0; i < procs; i++) {
        (void) waitpid(pids[i], &status, 0);
    }

    report(&total, procs);
    report_targets(per_target, O.ntargets);

    return total.connected == 0 && O.mode != MODE_CONNECT ? 1 : 0;
}
