
/*
 * eh_consumer: one Event Hubs consumer of nginx-iothub's built-in endpoint
 * (amqp.md 10) for bench/run-eventhub.sh.  One AMQP connection (Qpid
 * Proton's proactor with its own TLS layer, SASL ANONYMOUS), a CBS
 * put-token for the entity signed with the policy key's text (auth.md
 * 3.2), then a receiver on every partition of a consumer group from
 * "@latest", each with a credit window refilled as events come, settled
 * on arrival as the SDKs do.
 *
 * Events whose body starts with '{' and 16 digits (bench/loadgen pub
 * --stamp: the device's send time, microseconds since the epoch) give the
 * device-to-consumer latency.  After the warm-up it counts for -d seconds
 * and prints a summary, then one "RESULT key=value ..." line.
 *
 * Loopback targets only; the run is bounded in time.
 */


#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/ssl.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include "bench_common.h"
#include "bench_amqp.h"


#define MAX_PARTITIONS  32
#define MAX_DURATION    600.0
#define MAX_MESSAGE     (256 * 1024)
#define SELECTOR        0x0000468C00000004ULL


static struct {
    const char     *target;         /* 127.0.0.1:5671 */
    const char     *host;           /* the hub's host name (localhost) */
    const char     *hub;            /* the entity: the hub's name */
    const char     *group;
    const char     *policy;
    const char     *key;            /* the policy key's text */
    int             partitions;
    int             credit;
    int             plain;          /* no TLS */
    int             from_start;     /* "-1" instead of "@latest" */
    uint64_t        stop_after;     /* events in all, then report; 0 never */
    double          warmup;
    double          duration;
} O = {
    "127.0.0.1:5671", "localhost", NULL, "$Default", "service", NULL, 4,
    300, 0, 0, 0, 1.0, 10.0
};


static struct {
    pn_proactor_t  *proactor;
    pn_link_t      *cbs_tx;
    pn_link_t      *cbs_rx;
    pn_link_t      *rx[MAX_PARTITIONS];
    int             attached;
    int             token_sent;
    int             phase;          /* 0 setting up, 1 warm-up, 2 measure */
    uint64_t        t_measure;
    uint64_t        events;         /* measured */
    uint64_t        stamped;
    uint64_t        all;            /* every event */
    hist_t          lat;
    char           *buf;
} S;


static addr_t          target;


static void report(void);


static void
put_token(void)
{
    char            resource[512], token[1024];
    size_t          len;
    pn_message_t   *m;

    snprintf(resource, sizeof(resource), "sb://%s/%s", O.host, O.hub);

    if (sas_token(token, sizeof(token), resource,
                  (const unsigned char *) O.key, strlen(O.key), O.policy)
        != 0)
    {
        die("HMAC failed");
    }

    m = cbs_put_token(1, resource, token);

    len = MAX_MESSAGE;
    if (pn_message_encode(m, S.buf, &len) != 0) {
        die("cannot encode the put-token");
    }

    pn_message_free(m);

    (void) pn_delivery(S.cbs_tx, pn_dtag("t", 1));
    (void) pn_link_send(S.cbs_tx, S.buf, len);
    (void) pn_link_advance(S.cbs_tx);
}


/* a receiver on partition p from "@latest" (or its start) */

static void
attach(pn_session_t *ssn, int p)
{
    char        name[32], address[512];
    const char *expr = O.from_start
                       ? "amqp.annotation.x-opt-offset > '-1'"
                       : "amqp.annotation.x-opt-offset > '@latest'";
    pn_data_t  *f;
    pn_link_t  *l;

    snprintf(name, sizeof(name), "p%d", p);
    snprintf(address, sizeof(address), "%s/ConsumerGroups/%s/Partitions/%d",
             O.hub, O.group, p);

    l = pn_receiver(ssn, name);
    pn_terminus_set_address(pn_link_source(l), address);
    pn_link_set_snd_settle_mode(l, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(l, PN_RCV_FIRST);

    f = pn_terminus_filter(pn_link_source(l));
    pn_data_put_map(f);
    pn_data_enter(f);
    pn_data_put_symbol(f, pn_bytes(33, "apache.org:selector-filter:string"));
    pn_data_put_described(f);
    pn_data_enter(f);
    pn_data_put_ulong(f, SELECTOR);
    pn_data_put_string(f, pn_bytes(strlen(expr), expr));
    pn_data_exit(f);
    pn_data_exit(f);

    pn_link_open(l);
    pn_link_flow(l, O.credit);
    S.rx[p] = l;
}


static int
cbs_status(pn_delivery_t *d)
{
    int            status;
    ssize_t        n;
    pn_data_t     *props;
    pn_bytes_t     key;
    pn_message_t  *m;

    n = pn_link_recv(pn_delivery_link(d), S.buf, MAX_MESSAGE);
    m = pn_message();
    status = -1;

    if (n > 0 && pn_message_decode(m, S.buf, (size_t) n) == 0) {
        props = pn_message_properties(m);
        pn_data_rewind(props);

        if (pn_data_next(props) && pn_data_type(props) == PN_MAP) {
            pn_data_enter(props);

            while (pn_data_next(props)) {
                key = (pn_data_type(props) == PN_STRING)
                      ? pn_data_get_string(props) : pn_bytes(0, NULL);

                if (!pn_data_next(props)) {
                    break;
                }

                if (key.size == 11 && memcmp(key.start, "status-code", 11) == 0
                    && pn_data_type(props) == PN_INT)
                {
                    status = pn_data_get_int(props);
                }
            }
        }
    }

    pn_message_free(m);

    return status;
}


/* an event: counted, and its latency when it carries a send time */

static void
event(pn_delivery_t *d)
{
    int            i;
    ssize_t        n;
    uint64_t       sent, t;
    pn_data_t     *body;
    pn_bytes_t     b;
    pn_message_t  *m;

    n = pn_link_recv(pn_delivery_link(d), S.buf, MAX_MESSAGE);
    S.all++;

    if (S.phase != 2 || n <= 0) {
        return;
    }

    S.events++;

    m = pn_message();

    if (pn_message_decode(m, S.buf, (size_t) n) == 0) {
        body = pn_message_body(m);
        pn_data_rewind(body);

        if (pn_data_next(body) && pn_data_type(body) == PN_BINARY) {
            b = pn_data_get_binary(body);
            sent = 0;

            for (i = 1; b.size >= 17 && b.start[0] == '{' && i <= 16; i++) {
                if (b.start[i] < '0' || b.start[i] > '9') {
                    sent = 0;
                    break;
                }

                sent = sent * 10 + (uint64_t) (b.start[i] - '0');
            }

            t = clock_us(CLOCK_REALTIME);

            if (sent && t >= sent) {
                h_add(&S.lat, t - sent);
                S.stamped++;
            }
        }
    }

    pn_message_free(m);
}


static void
delivery(pn_delivery_t *d)
{
    pn_link_t  *l;

    if (!pn_delivery_readable(d) || pn_delivery_partial(d)) {
        return;
    }

    l = pn_delivery_link(d);

    if (l == S.cbs_rx) {
        if (cbs_status(d) != 200) {
            die("put-token refused");
        }

        pn_delivery_settle(d);
        return;
    }

    event(d);
    pn_delivery_settle(d);

    if (O.stop_after && S.all == O.stop_after) {
        report();
        exit(0);
    }

    /* keep the window full */
    if (pn_link_credit(l) < O.credit / 2) {
        pn_link_flow(l, O.credit - pn_link_credit(l));
    }
}


static void
report(void)
{
    double  secs;

    secs = (double) (clock_us(CLOCK_MONOTONIC) - S.t_measure) / 1e6;

    printf("eh_consumer: %d partitions, group %s, %.1f s measured\n",
           O.partitions, O.group, secs);
    printf("  events          %" PRIu64 " (%.0f/s), %" PRIu64
           " with a send time\n", S.events, (double) S.events / secs,
           S.stamped);
    printf("  device->consumer latency  p50 %.2f ms  p99 %.2f ms  "
           "max %.2f ms\n", h_pct(&S.lat, 0.50) / 1000.0,
           h_pct(&S.lat, 0.99) / 1000.0, S.lat.max / 1000.0);
    printf("RESULT all=%" PRIu64 " events=%" PRIu64 " rate=%.0f p50_us=%" PRIu64
           " p99_us=%" PRIu64 " stamped=%" PRIu64 "\n", S.all, S.events,
           (double) S.events / secs, h_pct(&S.lat, 0.50),
           h_pct(&S.lat, 0.99), S.stamped);
    fflush(stdout);
}


/* the proactor's timeout: the warm-up ends, then the measure */

static int
timeout(void)
{
    if (S.phase == 1) {
        S.phase = 2;
        S.t_measure = clock_us(CLOCK_MONOTONIC);
        pn_proactor_set_timeout(S.proactor,
                                (pn_millis_t) (O.duration * 1000));
        return 0;
    }

    if (S.phase == 2) {
        report();
        return 1;
    }

    die("not set up in time (%d of %d receivers attached)", S.attached,
        O.partitions);
    return 1;
}


static int
handle(pn_event_t *e)
{
    int              p;
    pn_link_t       *l;
    pn_session_t    *ssn;
    pn_condition_t  *cond;

    switch (pn_event_type(e)) {

    case PN_LINK_FLOW:
        l = pn_event_link(e);

        if (l == S.cbs_tx && pn_link_credit(l) > 0 && !S.token_sent) {
            S.token_sent = 1;
            put_token();
        }

        break;

    case PN_DELIVERY:
        if (pn_link_is_sender(pn_event_link(e))) {
            /* the put-token's outcome: its answer comes on cbs-rx */
            pn_delivery_settle(pn_event_delivery(e));
            break;
        }

        l = pn_event_link(e);

        if (l == S.cbs_rx && S.rx[0] == NULL) {
            delivery(pn_event_delivery(e));
            ssn = pn_link_session(l);

            for (p = 0; p < O.partitions; p++) {
                attach(ssn, p);
            }

            break;
        }

        delivery(pn_event_delivery(e));
        break;

    case PN_LINK_REMOTE_OPEN:
        l = pn_event_link(e);

        if (pn_link_is_receiver(l) && l != S.cbs_rx
            && ++S.attached == O.partitions)
        {
            /* every receiver is in: the warm-up starts */
            S.phase = 1;
            pn_proactor_set_timeout(S.proactor,
                                    (pn_millis_t) (O.warmup * 1000));
            printf("READY\n");
            fflush(stdout);
        }

        break;

    case PN_LINK_REMOTE_CLOSE:
        cond = pn_link_remote_condition(pn_event_link(e));
        die("link %s detached: %s %s", pn_link_name(pn_event_link(e)),
            pn_condition_get_name(cond) ? pn_condition_get_name(cond) : "",
            pn_condition_get_description(cond)
            ? pn_condition_get_description(cond) : "");
        break;

    case PN_TRANSPORT_CLOSED:
        cond = pn_transport_condition(pn_event_transport(e));
        die("connection closed: %s %s",
            pn_condition_get_name(cond) ? pn_condition_get_name(cond) : "",
            pn_condition_get_description(cond)
            ? pn_condition_get_description(cond) : "");
        break;

    case PN_PROACTOR_TIMEOUT:
        return timeout();

    default:
        break;
    }

    return 0;
}


/* the connection, its session and the $cbs link pair */

static pn_connection_t *
connection(void)
{
    pn_session_t     *ssn;
    pn_connection_t  *c;

    c = pn_connection();
    pn_connection_set_container(c, "eh_consumer");
    pn_connection_set_hostname(c, O.host);
    pn_connection_open(c);

    ssn = pn_session(c);
    pn_session_open(ssn);

    S.cbs_tx = pn_sender(ssn, "cbs-tx");
    pn_terminus_set_address(pn_link_target(S.cbs_tx), "$cbs");
    pn_link_open(S.cbs_tx);

    S.cbs_rx = pn_receiver(ssn, "cbs-rx");
    pn_terminus_set_address(pn_link_source(S.cbs_rx), "$cbs");
    pn_terminus_set_address(pn_link_target(S.cbs_rx), "cbs");
    pn_link_open(S.cbs_rx);
    pn_link_flow(S.cbs_rx, 1);

    return c;
}


static void
usage(void)
{
    fprintf(stderr,
"usage: eh_consumer --hub NAME --key KEY [options]\n"
"  -t, --target ADDR:PORT   the AMQP endpoint, loopback (127.0.0.1:5671)\n"
"      --host NAME          the hub's host name (localhost)\n"
"      --hub NAME           the hub's name: the Event Hubs entity\n"
"      --policy NAME        a policy with service_connect (service)\n"
"      --key KEY            its key, as configured (base64 text)\n"
"      --group NAME         consumer group ($Default)\n"
"      --partitions N       partitions to read, 0..N-1 (4)\n"
"      --credit N           credit window per receiver (300)\n"
"      --plain              no TLS\n"
"      --from-start         from each partition's start, not @latest\n"
"      --events N           report and stop after N events in all\n"
"  -w, --warmup S           seconds before counting (1)\n"
"  -d, --duration S         seconds counted (10)\n");
    exit(2);
}


static void
options(int argc, char **argv)
{
    int  o;

    static const struct option  longs[] = {
        { "target", 1, NULL, 't' }, { "host", 1, NULL, 'H' },
        { "hub", 1, NULL, 'n' }, { "policy", 1, NULL, 'p' },
        { "key", 1, NULL, 'k' }, { "group", 1, NULL, 'g' },
        { "partitions", 1, NULL, 'P' }, { "credit", 1, NULL, 'c' },
        { "plain", 0, NULL, 'x' }, { "warmup", 1, NULL, 'w' },
        { "duration", 1, NULL, 'd' }, { "help", 0, NULL, 'h' },
        { "from-start", 0, NULL, 's' }, { "events", 1, NULL, 'e' },
        { NULL, 0, NULL, 0 }
    };

    while ((o = getopt_long(argc, argv, "t:w:d:h", longs, NULL)) != -1) {
        switch (o) {
        case 't': O.target = optarg; break;
        case 'H': O.host = optarg; break;
        case 'n': O.hub = optarg; break;
        case 'p': O.policy = optarg; break;
        case 'k': O.key = optarg; break;
        case 'g': O.group = optarg; break;
        case 'P': O.partitions = atoi(optarg); break;
        case 'c': O.credit = atoi(optarg); break;
        case 'x': O.plain = 1; break;
        case 's': O.from_start = 1; break;
        case 'e': O.stop_after = strtoull(optarg, NULL, 10); break;
        case 'w': O.warmup = atof(optarg); break;
        case 'd': O.duration = atof(optarg); break;
        default: usage();
        }
    }

    if (O.hub == NULL || O.key == NULL) {
        usage();
    }

    if (O.partitions < 1 || O.partitions > MAX_PARTITIONS
        || O.credit < 1 || O.credit > 10000
        || O.warmup < 0 || O.duration <= 0
        || O.warmup + O.duration > MAX_DURATION)
    {
        die("partitions 1-%d, credit 1-10000, at most %.0f s in all",
            MAX_PARTITIONS, MAX_DURATION);
    }

    parse_target(&target, O.target);
}


int
main(int argc, char **argv)
{
    int                 done;
    pn_event_t         *e;
    pn_transport_t     *t;
    pn_ssl_domain_t    *domain;
    pn_event_batch_t   *batch;

    bench_program("eh_consumer");
    options(argc, argv);

    S.buf = xalloc(MAX_MESSAGE);

    S.proactor = pn_proactor();
    t = pn_transport();

    pn_sasl_allowed_mechs(pn_sasl(t), "ANONYMOUS");

    if (!O.plain) {
        domain = pn_ssl_domain(PN_SSL_MODE_CLIENT);
        if (domain == NULL
            || pn_ssl_domain_set_peer_authentication(domain,
                                                     PN_SSL_ANONYMOUS_PEER,
                                                     NULL) != 0
            || pn_ssl_init(pn_ssl(t), domain, NULL) != 0)
        {
            die("cannot set up TLS");
        }

        (void) pn_ssl_set_peer_hostname(pn_ssl(t), O.host);
        pn_ssl_domain_free(domain);
    }

    /* bounded: set up within 30 s */
    pn_proactor_set_timeout(S.proactor, 30000);
    pn_proactor_connect2(S.proactor, connection(), t, target.text);

    for (done = 0; !done; ) {
        batch = pn_proactor_wait(S.proactor);

        while (!done && (e = pn_event_batch_next(batch)) != NULL) {
            done = handle(e);
        }

        pn_proactor_done(S.proactor, batch);
    }

    return 0;
}
