
/*
 * bench_common: what the load generators and the Event Hubs consumer
 * share: the latency histogram (log-linear buckets of microseconds, about
 * 3% wide) and SAS tokens (auth.md 3).
 */


#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H


#include <stddef.h>
#include <stdint.h>


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
