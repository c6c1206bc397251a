
/*
 * amqp_memory: the heap Qpid Proton-C holds per server-side AMQP
 * connection, set up as ngx_iothub_amqp_start() sets up its driver, with
 * what an idle device has open: a session (incoming capacity as the
 * module sets it), the $cbs link pair, a telemetry sender and a C2D
 * receiver.  K client/server driver pairs run in this process, bytes
 * copied between them; then the clients go, and mallinfo2() tells what
 * the servers still hold.  No network, no nginx: the Proton share of
 * bench/run-amqp-idle.sh's figure.
 *
 *   amqp_memory [K]        K pairs (default 1000, at most 100000)
 */


#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>


/* as the module: 2 x (256 KB + 64 KB) */
#define SESSION_CAPACITY  (2 * (256 * 1024 + 64 * 1024))


static void
pump(pn_connection_driver_t *from, pn_connection_driver_t *to)
{
    size_t        k;
    pn_bytes_t    wb;
    pn_rwbytes_t  rb;

    for ( ;; ) {
        wb = pn_connection_driver_write_buffer(from);
        rb = pn_connection_driver_read_buffer(to);

        if (wb.size == 0 || rb.size == 0) {
            break;
        }

        k = wb.size < rb.size ? wb.size : rb.size;
        memcpy(rb.start, wb.start, k);
        pn_connection_driver_read_done(to, k);
        pn_connection_driver_write_done(from, k);
    }
}


/* what the module's engine does with the client's frames */

static void
server_events(pn_connection_driver_t *d)
{
    pn_link_t   *l;
    pn_event_t  *ev;

    while ((ev = pn_connection_driver_next_event(d)) != NULL) {
        switch (pn_event_type(ev)) {

        case PN_CONNECTION_REMOTE_OPEN:
            pn_connection_open(pn_event_connection(ev));
            break;

        case PN_SESSION_REMOTE_OPEN:
            pn_session_set_incoming_capacity(pn_event_session(ev),
                                             SESSION_CAPACITY);
            pn_session_open(pn_event_session(ev));
            break;

        case PN_LINK_REMOTE_OPEN:
            l = pn_event_link(ev);
            pn_terminus_copy(pn_link_source(l), pn_link_remote_source(l));
            pn_terminus_copy(pn_link_target(l), pn_link_remote_target(l));

            if (pn_link_is_receiver(l)) {
                pn_link_set_max_message_size(l, 256 * 1024);
            }

            pn_link_open(l);

            if (pn_link_is_receiver(l)) {
                pn_link_flow(l, 64);
            }

            break;

        default:
            break;
        }
    }
}


static void
server_init(pn_connection_driver_t *d)
{
    pn_transport_t  *t;

    if (pn_connection_driver_init(d, NULL, NULL) != 0) {
        fprintf(stderr, "amqp_memory: pn_connection_driver_init failed\n");
        exit(2);
    }

    t = d->transport;
    pn_transport_set_server(t);
    pn_transport_set_max_frame(t, 65536);
    pn_transport_set_channel_max(t, 255);
    pn_transport_set_idle_timeout(t, 240000);
    pn_transport_require_auth(t, false);
    pn_sasl_set_allow_insecure_mechs(pn_sasl(t), true);
    pn_connection_set_container(d->connection, "nginx-iothub");
}


static pn_link_t *
link_open(pn_session_t *ssn, int sender, const char *name, const char *addr,
    int credit)
{
    pn_link_t  *l;

    l = sender ? pn_sender(ssn, name) : pn_receiver(ssn, name);
    pn_terminus_set_address(sender ? pn_link_target(l) : pn_link_source(l),
                            addr);
    pn_link_open(l);

    if (credit) {
        pn_link_flow(l, credit);
    }

    return l;
}


static void
client_init(pn_connection_driver_t *d)
{
    pn_session_t  *ssn;

    if (pn_connection_driver_init(d, NULL, NULL) != 0) {
        fprintf(stderr, "amqp_memory: pn_connection_driver_init failed\n");
        exit(2);
    }

    pn_connection_set_hostname(d->connection, "localhost");
    pn_connection_open(d->connection);
    ssn = pn_session(d->connection);
    pn_session_open(ssn);

    (void) link_open(ssn, 1, "cbs-sender", "$cbs", 0);
    (void) link_open(ssn, 0, "cbs-receiver", "$cbs", 1);
    (void) link_open(ssn, 1, "telemetry-dev1",
                     "/devices/dev1/messages/events", 0);
    (void) link_open(ssn, 0, "c2d-dev1",
                     "/devices/dev1/messages/devicebound", 10);
}


static double
kb_each(size_t after, size_t before, int k)
{
    return ((double) after - (double) before) / k / 1024;
}


int
main(int argc, char **argv)
{
    int                      k, i, r, up;
    struct mallinfo2         m0, m1, m2;
    pn_connection_driver_t  *s, *c;

    k = argc > 1 ? atoi(argv[1]) : 1000;
    if (k < 1 || k > 100000) {
        fprintf(stderr, "usage: amqp_memory [K], K from 1 to 100000\n");
        return 2;
    }

    s = calloc((size_t) k, sizeof(pn_connection_driver_t));
    c = calloc((size_t) k, sizeof(pn_connection_driver_t));
    if (s == NULL || c == NULL) {
        return 2;
    }

    m0 = mallinfo2();

    for (i = 0; i < k; i++) {
        server_init(&s[i]);
    }

    m1 = mallinfo2();

    for (i = 0; i < k; i++) {
        client_init(&c[i]);

        for (r = 0; r < 6; r++) {
            while (pn_connection_driver_next_event(&c[i]) != NULL) {
                /* the client only opens */
            }

            pump(&c[i], &s[i]);
            server_events(&s[i]);
            pump(&s[i], &c[i]);
        }
    }

    for (i = 0; i < k; i++) {
        pn_connection_driver_destroy(&c[i]);
    }

    m2 = mallinfo2();

    up = 0;
    for (i = 0; i < k; i++) {
        up += pn_connection_state(s[i].connection)
              == (PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE);
    }

    printf("%d server-side Proton connections (%d open)\n", k, up);
    printf("  after pn_connection_driver_init:          %.1f KB each\n",
           kb_each(m1.uordblks, m0.uordblks, k));
    printf("  with a session and 4 links (idle device): %.1f KB each\n",
           kb_each(m2.uordblks, m0.uordblks, k));
    printf("RESULT init_kb=%.2f idle_kb=%.2f\n",
           kb_each(m1.uordblks, m0.uordblks, k),
           kb_each(m2.uordblks, m0.uordblks, k));

    return up == k ? 0 : 1;
}
