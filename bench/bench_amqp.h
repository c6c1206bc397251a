
/*
 * bench_amqp: what the AMQP clients of bench/ (amqp_loadgen, eh_consumer)
 * share on top of Qpid Proton-C.
 */


#ifndef BENCH_AMQP_H
#define BENCH_AMQP_H


#include <stdint.h>

#include <proton/message.h>


/*
 * A CBS put-token request (amqp.md, auth.md 3): to "$cbs", answers to
 * "cbs", message-id the ulong id (the answer's correlation-id), the
 * SAS token for resource in its body; the caller frees it with
 * pn_message_free().  Dies when out of memory.
 */
pn_message_t *cbs_put_token(uint64_t id, const char *resource,
    const char *token);


#endif /* BENCH_AMQP_H */
