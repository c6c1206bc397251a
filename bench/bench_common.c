
/*
 * bench_common: see bench_common.h.
 */


#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bench_common.h"


volatile sig_atomic_t  stop_flag;

static const char     *program = "bench";


void
bench_program(const char *name)
{
    program = name;
}


void
die(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "%s: ", program);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(2);
}


uint64_t
clock_us(clockid_t clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


uint64_t
now_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}


double
cpu_seconds(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);

    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}


void *
xalloc(size_t n)
{
    void  *p;

    p = calloc(1, n);
    if (p == NULL) {
        die("out of memory");
    }

    return p;
}


static void
parse_addr(addr_t *a, const char *host, const char *port_text)
{
    long                  port;
    char                 *end;
    struct sockaddr_in   *sin;
    struct sockaddr_in6  *sin6;

    port = strtol(port_text, &end, 10);
    if (*end || port < 1 || port > 65535) {
        die("bad port \"%s\"", port_text);
    }

    memset(a, 0, sizeof(addr_t));

    if (strcmp(host, "localhost") == 0) {
        host = "127.0.0.1";
    }

    sin = (struct sockaddr_in *) &a->ss;
    sin6 = (struct sockaddr_in6 *) &a->ss;

    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) {
            die("refusing target %s: not in 127.0.0.0/8 (loopback only)",
                host);
        }

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        a->len = sizeof(struct sockaddr_in);

    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
            die("refusing target %s: not ::1 (loopback only)", host);
        }

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        a->len = sizeof(struct sockaddr_in6);

    } else {
        die("refusing target \"%s\": give a loopback address "
            "(127.0.0.0/8 or ::1), names are not resolved", host);
    }

    snprintf(a->text, sizeof(a->text), "%s%s%s:%ld",
             a->ss.ss_family == AF_INET6 ? "[" : "", host,
             a->ss.ss_family == AF_INET6 ? "]" : "", port);
}


void
parse_target(addr_t *a, const char *text)
{
    char         host[64];
    const char  *colon;
    size_t       n;

    if (text[0] == '[') {
        colon = strstr(text, "]:");
        if (colon == NULL || (size_t) (colon - text - 1) >= sizeof(host)) {
            die("bad target \"%s\"", text);
        }

        n = colon - text - 1;
        memcpy(host, text + 1, n);
        host[n] = '\0';
        parse_addr(a, host, colon + 2);
        return;
    }

    colon = strrchr(text, ':');
    if (colon == NULL) {
        parse_addr(a, "127.0.0.1", text);
        return;
    }

    n = colon - text;
    if (n >= sizeof(host)) {
        die("bad target \"%s\"", text);
    }

    memcpy(host, text, n);
    host[n] = '\0';
    parse_addr(a, host, colon + 1);
}


static void
on_signal(int sig)
{
    (void) sig;
    stop_flag = 1;
}


static void
on_alarm(int sig)
{
    static const char  m[] = ": hard time limit reached\n";

    (void) sig;
    (void) write(2, program, strlen(program));
    (void) write(2, m, sizeof(m) - 1);
    _exit(4);
}


void
bench_signals(double budget)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    alarm((unsigned) budget + 1);
}


void
raise_nofile(int need, const char *hint)
{
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }

    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }

    if ((rlim_t) need <= rl.rlim_cur) {
        return;
    }

    /* try for more: needs CAP_SYS_RESOURCE */
    rl.rlim_cur = rl.rlim_max = (rlim_t) need;

    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        (void) getrlimit(RLIMIT_NOFILE, &rl);
        die("%d connections per process need %d file descriptors; the "
            "limit is %lu%s", need - 64, need, (unsigned long) rl.rlim_cur,
            hint);
    }
}


SSL_CTX *
bench_ssl_ctx(const char *ca, int idle)
{
    SSL_CTX  *ctx;

    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        die("SSL_CTX_new failed");
    }

    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);

    /* every handshake is a full one, as for a fleet of new connections */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                          | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    /* one read() for many small records (a PUBACK is a record of its own
     * with some brokers), not two per record */
    SSL_CTX_set_read_ahead(ctx, 1);

    if (idle) {
        /* thousands of idle connections: no buffers while idle */
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    }

    if (ca == NULL) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }

    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        die("cannot load CA file %s", ca);
    }

    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

    return ctx;
}


void *
slots_init(slots_t *s, int cap, size_t size)
{
    int  i;

    s->free = xalloc(sizeof(int) * (size_t) cap);
    s->nfree = 0;

    for (i = cap - 1; i >= 0; i--) {
        s->free[s->nfree++] = i;
    }

    return xalloc(size * (size_t) cap);
}


int
slot_take(slots_t *s)
{
    if (s->nfree == 0) {
        die("no free connection slot");
    }

    return s->free[--s->nfree];
}


void
slot_put(slots_t *s, int slot)
{
    s->free[s->nfree++] = slot;
}


uint64_t
slot_data(int slot, uint32_t gen)
{
    return (uint64_t) slot | ((uint64_t) gen << 32);
}


int
epoll_new(void)
{
    int  ep;

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        die("epoll_create1: %s", strerror(errno));
    }

    return ep;
}


void
epoll_set(int ep, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event  ev;

    ev.events = events;
    ev.data.u64 = data;

    if (epoll_ctl(ep, op, fd, &ev) != 0) {
        die("epoll_ctl: %s", strerror(errno));
    }
}


int
tcp_socket(int family, const char *hint)
{
    int  fd, one;

    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket: %s%s", strerror(errno), hint);
    }

    one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    return fd;
}


void
tcp_connect(int fd, const addr_t *a)
{
    if (connect(fd, (const struct sockaddr *) &a->ss, a->len) != 0
        && errno != EINPROGRESS)
    {
        die("connect %s: %s", a->text, strerror(errno));
    }
}


int
socket_error(int fd)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(err);
    (void) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);

    return err;
}


SSL *
tls_client(SSL_CTX *ctx, int fd, const char *sni, int check_host)
{
    SSL  *ssl;

    ssl = SSL_new(ctx);
    if (ssl == NULL) {
        die("SSL_new failed");
    }

    SSL_set_fd(ssl, fd);
    SSL_set_connect_state(ssl);

    if (sni) {
        SSL_set_tlsext_host_name(ssl, sni);

        if (check_host) {
            SSL_set1_host(ssl, sni);
        }
    }

    return ssl;
}


int
tls_handshake(SSL *ssl, uint32_t *events)
{
    int  r, e;

    ERR_clear_error();
    r = SSL_connect(ssl);

    if (r == 1) {
        return 1;
    }

    e = SSL_get_error(ssl, r);

    if (e == SSL_ERROR_WANT_READ) {
        *events = EPOLLIN;
        return 0;
    }

    if (e == SSL_ERROR_WANT_WRITE) {
        *events = EPOLLIN | EPOLLOUT;
        return 0;
    }

    return -1;
}


void
bench_payload(unsigned char *p, size_t size, int len)
{
    size_t  i;

    for (i = 0; i < size; i++) {
        p[i] = (unsigned char) "abcdefghijklmnopqrstuvwxyz012345"[i % 32];
    }

    if (len >= 2) {
        p[0] = '{';
        p[len - 1] = '}';
    }
}


static int
h_index(uint64_t v)
{
    int  e;

    if (v < 2 * H_SUB) {
        return (int) v;
    }

    e = 63 - __builtin_clzll(v);

    return (e - H_BITS + 1) * H_SUB + (int) ((v >> (e - H_BITS)) & (H_SUB - 1));
}


static uint64_t
h_value(int i)
{
    int       e;
    uint64_t  low, width;

    if (i < 2 * H_SUB) {
        return (uint64_t) i;
    }

    e = i / H_SUB + H_BITS - 1;
    width = (uint64_t) 1 << (e - H_BITS);
    low = (uint64_t) (H_SUB + i % H_SUB) << (e - H_BITS);

    return low + width / 2;
}


void
h_add(hist_t *h, uint64_t v)
{
    h->b[h_index(v)]++;
    h->n++;

    if (v > h->max) {
        h->max = v;
    }
}


void
h_merge(hist_t *d, const hist_t *s)
{
    int  i;

    for (i = 0; i < H_N; i++) {
        d->b[i] += s->b[i];
    }

    d->n += s->n;

    if (s->max > d->max) {
        d->max = s->max;
    }
}


/* the p-quantile (0 < p <= 1), 0 without samples */

uint64_t
h_pct(const hist_t *h, double p)
{
    int       i;
    uint64_t  rank, seen;

    if (h->n == 0) {
        return 0;
    }

    rank = (uint64_t) (p * (double) h->n + 0.5);
    if (rank < 1) {
        rank = 1;
    }

    seen = 0;

    for (i = 0; i < H_N; i++) {
        seen += h->b[i];

        if (seen >= rank) {
            return h_value(i) < h->max ? h_value(i) : h->max;
        }
    }

    return h->max;
}


void
h_print(const char *name, const hist_t *h)
{
    printf("  %-22s n=%" PRIu64 " p50=%.3f ms p90=%.3f ms p99=%.3f ms "
           "max=%.3f ms\n", name, h->n, h_pct(h, 0.5) / 1e3,
           h_pct(h, 0.9) / 1e3, h_pct(h, 0.99) / 1e3, h->max / 1e3);
}


size_t
b64_decode(unsigned char *out, size_t size, const char *in)
{
    int     n;
    size_t  len, pad;

    len = strlen(in);
    if (len == 0 || len % 4 || (len / 4) * 3 > size) {
        return 0;
    }

    n = EVP_DecodeBlock(out, (const unsigned char *) in, (int) len);
    if (n < 0) {
        return 0;
    }

    pad = 0;
    while (len && in[len - 1] == '=') {
        pad++;
        len--;
    }

    return (size_t) n - pad;
}


void
url_encode(char *out, size_t size, const char *in)
{
    size_t      o;
    const char  *hex = "0123456789ABCDEF";

    for (o = 0; *in && o + 4 < size; in++) {
        unsigned char  ch = (unsigned char) *in;

        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out[o++] = (char) ch;

        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }

    out[o] = '\0';
}


int
sas_token(char *out, size_t size, const char *resource,
    const unsigned char *key, size_t key_len, const char *skn)
{
    int            n;
    char           sr[512], se[32], sts[600], sig[64], sig_enc[128];
    unsigned int   mac_len;
    unsigned char  mac[EVP_MAX_MD_SIZE];

    url_encode(sr, sizeof(sr), resource);
    snprintf(se, sizeof(se), "%ld", (long) time(NULL) + 3600);
    n = snprintf(sts, sizeof(sts), "%s\n%s", sr, se);

    if (HMAC(EVP_sha256(), key, (int) key_len, (unsigned char *) sts,
             (size_t) n, mac, &mac_len) == NULL)
    {
        return -1;
    }

    EVP_EncodeBlock((unsigned char *) sig, mac, (int) mac_len);
    url_encode(sig_enc, sizeof(sig_enc), sig);

    snprintf(out, size, "SharedAccessSignature sr=%s&sig=%s&se=%s%s%s",
             sr, sig_enc, se, skn ? "&skn=" : "", skn ? skn : "");

    return 0;
}
