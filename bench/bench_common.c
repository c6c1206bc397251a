
/*
 * bench_common: see bench_common.h.
 */


#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bench_common.h"


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
