
/*
 * bench_common: what the load generators and the Event Hubs consumer
 * share: errors and clocks, loopback-only targets, the process set-up
 * (signals, the hard time limit, file descriptors, the TLS client
 * context, the payload), the connections of the epoll loops of loadgen
 * and amqp_loadgen (slots, sockets, TLS handshakes), the latency
 * histogram (log-linear buckets of microseconds, about 3% wide) and SAS
 * tokens (auth.md 3).
 */


#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H


#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/ssl.h>


/* ---- errors, clocks, memory ---- */

/* the program's name in die() and the time limit's message; set it first */
void bench_program(const char *name);

/* "<program>: <message>" on stderr, then exit(2) */
void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* microseconds of clock (CLOCK_MONOTONIC, CLOCK_REALTIME) */
uint64_t clock_us(clockid_t clock);

/* the monotonic clock in microseconds */
uint64_t now_us(void);

/* user + system CPU seconds of this process so far */
double cpu_seconds(void);

/* n zeroed bytes from calloc(); dies when out of memory */
void *xalloc(size_t n);


/* ---- targets: loopback only ---- */

typedef struct {
    struct sockaddr_storage  ss;
    socklen_t                len;
    char                     text[80];      /* "127.0.0.1:8883", "[::1]:.." */
} addr_t;

/*
 * "host:port", "[v6]:port" or "port" (127.0.0.1) into a; host is an
 * address in 127.0.0.0/8, ::1 or "localhost", never resolved: dies
 * otherwise.
 */
void parse_target(addr_t *a, const char *text);


/* ---- the process ---- */

/* set by SIGINT and SIGTERM once bench_signals() installed them */
extern volatile sig_atomic_t  stop_flag;

/*
 * SIGPIPE ignored, SIGINT and SIGTERM set stop_flag, and the hard bound:
 * after budget seconds SIGALRM ends the process (status 4) with a message.
 */
void bench_signals(double budget);

/*
 * At least need file descriptors (the soft limit raised to the hard one,
 * then beyond with CAP_SYS_RESOURCE); dies with hint when it cannot.
 */
void raise_nofile(int need, const char *hint);

/*
 * The TLS client context of the load generators: TLS 1.2+, full handshakes
 * (no session cache, no tickets), read-ahead; idle: buffers released
 * while idle; ca: verify the server against that file, else no checks.
 */
SSL_CTX *bench_ssl_ctx(const char *ca, int idle);

/*
 * The payload of every load generator (the same bytes for MQTT and AMQP):
 * size bytes of text, a JSON-looking '{' ... '}' over the first len.
 */
void bench_payload(unsigned char *p, size_t size, int len);


/* ---- connections: slots, non-blocking sockets, epoll, TLS ---- */

/* the free slots of a connection table, a stack */
typedef struct {
    int            *free;
    int             nfree;
} slots_t;

/*
 * A table of cap zeroed elements of size bytes (calloc), all of them in
 * the free stack of s, slot 0 on top.
 */
void *slots_init(slots_t *s, int cap, size_t size);

/* the slot on top of the free stack; dies when none is free */
int slot_take(slots_t *s);

void slot_put(slots_t *s, int slot);

/* the epoll data of a connection: its slot | its generation << 32 */
uint64_t slot_data(int slot, uint32_t gen);

/* a new epoll instance; dies when it cannot */
int epoll_new(void);

/* epoll_ctl() op (ADD, MOD) of fd for events with data; dies on failure */
void epoll_set(int ep, int op, int fd, uint32_t events, uint64_t data);

/*
 * A non-blocking TCP socket (close-on-exec, TCP_NODELAY) of the address
 * family; dies with hint after the error when it cannot.
 */
int tcp_socket(int family, const char *hint);

/* starts connecting fd to a; dies unless that is under way */
void tcp_connect(int fd, const addr_t *a);

/* the error of a connecting socket (SO_ERROR), 0 when it connected */
int socket_error(int fd);

/*
 * The TLS client of fd from ctx: the server name sni (NULL: none), and
 * with check_host the certificate must name it; dies when out of memory.
 */
SSL *tls_client(SSL_CTX *ctx, int fd, const char *sni, int check_host);

/*
 * A step of the client handshake: 1 done, 0 to be called again when
 * *events (EPOLLIN, or EPOLLIN | EPOLLOUT) come, -1 failed.
 */
int tls_handshake(SSL *ssl, uint32_t *events);


/* ---- latency histograms ---- */


#define H_BITS  5
#define H_SUB   (1 << H_BITS)
#define H_N     (64 * H_SUB)

typedef struct {
    uint64_t        n;
    uint64_t        max;
    uint64_t        b[H_N];
} hist_t;


void h_add(hist_t *h, uint64_t v);
void h_merge(hist_t *d, const hist_t *s);

/* the p-quantile (0 < p <= 1), 0 without samples */
uint64_t h_pct(const hist_t *h, double p);

/* "  name  n=.. p50=.. p90=.. p99=.. max=.." in milliseconds on stdout */
void h_print(const char *name, const hist_t *h);


/* ---- SAS tokens ---- */

/* base64 into out (size bytes): the length, 0 when invalid or too long */
size_t b64_decode(unsigned char *out, size_t size, const char *in);

void url_encode(char *out, size_t size, const char *in);

/*
 * "SharedAccessSignature sr=...&sig=...&se=...[&skn=...]" for resource,
 * valid one hour, signed with key (the decoded bytes of a device or hub
 * key, or an Event Hubs key's text); 0, or -1 when HMAC failed.
 */
int sas_token(char *out, size_t size, const char *resource,
    const unsigned char *key, size_t key_len, const char *skn);


#endif /* BENCH_COMMON_H */
