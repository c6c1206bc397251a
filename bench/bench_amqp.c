
/*
 * bench_amqp: see bench_amqp.h.
 */


#include <string.h>

#include <proton/codec.h>

#include "bench_common.h"
#include "bench_amqp.h"


pn_message_t *
cbs_put_token(uint64_t id, const char *resource, const char *token)
{
    pn_data_t     *props;
    pn_message_t  *m;

    m = pn_message();
    if (m == NULL) {
        die("out of memory");
    }

    /* message-id: a ulong, as uAMQP */
    (void) pn_message_set_id(m, (pn_atom_t) { .type = PN_ULONG,
                                              .u.as_ulong = id });
    (void) pn_message_set_address(m, "$cbs");
    (void) pn_message_set_reply_to(m, "cbs");

    props = pn_message_properties(m);
    pn_data_put_map(props);
    pn_data_enter(props);
    pn_data_put_string(props, pn_bytes(9, "operation"));
    pn_data_put_string(props, pn_bytes(9, "put-token"));
    pn_data_put_string(props, pn_bytes(4, "type"));
    pn_data_put_string(props, pn_bytes(31, "servicebus.windows.net:sastoken"));
    pn_data_put_string(props, pn_bytes(4, "name"));
    pn_data_put_string(props, pn_bytes(strlen(resource), resource));
    pn_data_exit(props);

    pn_data_put_string(pn_message_body(m), pn_bytes(strlen(token), token));

    return m;
}
