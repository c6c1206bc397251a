
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_sas.c: SAS tokens, connection strings,
 * keys, ids and thumbprints (auth.md sections 2-5).  Every table row is a
 * named cmocka test.  Build and run from the repository root:
 *
 *     cc -Wall -Wextra -Werror -Ishared t/unit/test_sas.c \
 *         shared/ngx_iothub_sas.c -lcmocka -lcrypto -o /tmp/test_sas
 *     /tmp/test_sas
 *
 * or "make -f t/unit/Makefile.sas test".
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "unit_table.h"

#include "ngx_iothub_sas.h"


/* auth.md 3.2 worked example: base64 of "0123456789abcdef0123456789abcdef" */
#define KEY        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define KEY2       "YW5vdGhlci1rZXktb2YtMzItYnl0ZXMtbG9uZyEhISE="
#define HUB        "myhub.example.com"
#define EXPIRY     1700000000LL

#define PREFIX     "SharedAccessSignature "
#define SR_DEV1    "sr=myhub.example.com%2Fdevices%2Fdev1"
#define SIG_DEV1   "sig=x59qEYvWOPCM%2F1RF5WJEUtJ%2B70PVYp13Pi6uMS1oI38%3D"
#define SR_HUB     "sr=myhub.example.com"
#define SIG_HUB    "sig=Mb7%2BgReZMfPINAAgHTWGHOpA2CS8UgkuJdnMnLjP67s%3D"
#define SE         "se=1700000000"
#define SKN        "skn=iothubowner"

#define TOKEN_DEV1 PREFIX SR_DEV1 "&" SIG_DEV1 "&" SE
#define TOKEN_HUB  PREFIX SR_HUB "&" SIG_HUB "&" SKN "&" SE

/* sig of sr "myhub.example.com%2fdevices%2fdev1" (lower-case hex) */
#define SIG_DEV1_LC "sig=1DAiyRboDURqG3oZI2gu5hQrEmHUwuJkuIT9QT2fm%2BE%3D"

#define SR_MOD1    "sr=myhub.example.com%2Fdevices%2Fdev1%2Fmodules%2Fmod1"
#define SIG_MOD1   "sig=dzxwGmfUv%2BGZsI%2FvO3ZplVilo1ycMZ0mfYfY9nSikN8%3D"

/* Event Hubs audience, URL-encoded as the EH SDK sends it */
#define EH_PATH    "/myhub/ConsumerGroups/$default/Partitions/0"
#define EH_AUD     "sb%3A%2F%2Fmyhub.example.com%2Fmyhub%2FConsumerGroups" \
                   "%2F%24default%2FPartitions%2F0"
#define SR_EH      "sr=" EH_AUD
#define SIG_EH_RAW "sig=wbNsNAbPFdphiKw1a5TEWespQqU0VBOF9r5bF1dP%2B1s%3D"
#define SIG_EH_B64 "sig=6n71W87vDTqNu4xMnOHXFhn74%2BK7ntRpcRACm8tHJxI%3D"

#define ID32       "abcdefghijklmnopqrstuvwxyz012345"
#define ID128      ID32 ID32 ID32 ID32
#define STR31      "0123456789abcdefghijklmnopqrstu"
#define HOST255    ID128 ID32 ID32 ID32 STR31
#define HEX40      "0123456789abcdefABCDEF0123456789abcdefAB"
#define HEX64      HEX40 "0123456789abcdef01234567"

#define B64_15     "AAECAwQFBgcICQoLDA0O"
#define B64_16     "AAECAwQFBgcICQoLDA0ODw=="
#define B64_17     "AAECAwQFBgcICQoLDA0ODxA="
#define B64_36     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj"
#define B64_64     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUm" \
                   "JygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
#define B64_65     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUm" \
                   "JygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A="

#define str_or_empty(s)  ((s) != NULL ? (s) : "")



typedef struct {
    const char            *name;
    const char            *text;
    ngx_iothub_sas_rc_e    parse;
    ngx_iothub_sas_rc_e    verify;      /* with KEY, when parse is OK */
    long long              expiry;
    const char            *host;
    const char            *path;
    const char            *device;
    const char            *module;
    const char            *policy;
} token_case_t;


typedef struct {
    const char            *name;
    const char            *text;
    const char            *key;
    int                    raw;         /* ngx_iothub_sas_verify_raw() */
    ngx_iothub_sas_rc_e    rc;
} verify_case_t;


typedef struct {
    const char            *name;
    long long              expiry;
    long long              now;
    ngx_iothub_sas_rc_e    rc;
} expiry_case_t;


typedef struct {
    const char            *name;
    const char            *sr;          /* as sent */
    const char            *host;
    const char            *path;
    ngx_iothub_sas_rc_e    rc;
} covers_case_t;


typedef struct {
    const char            *name;
    const char            *resource;
    const char            *key;
    const char            *skn;
    long long              expiry;
    size_t                 size;        /* of out, 1024 when 0 */
    int                    ok;
    const char            *text;        /* exact output, when not NULL */
    const char            *path;
    const char            *device;
    const char            *module;
} make_case_t;


typedef struct {
    const char                *name;
    const char                *text;
    size_t                     len;     /* strlen(text) when 0 */
    ngx_iothub_connstr_rc_e    rc;
    const char                *host;
    const char                *device;
    const char                *module;
    const char                *key_name;
    const char                *key;
    const char                *signature;
    const char                *gateway;
    int                        x509;
} connstr_case_t;


typedef struct {
    const char            *name;
    const char            *text;
    int                    ok;
    size_t                 len;         /* strlen(text) when 0 */
} valid_case_t;


typedef struct {
    const char            *name;
    const char            *id;
    size_t                 len;         /* strlen(id) when 0 */
    size_t                 repeat;      /* id is "a" * repeat when not 0 */
    int                    ok;
} id_case_t;


typedef struct {
    const char            *name;
    const char            *in;
    size_t                 size;        /* of out, 64 when 0 */
    int                    rc;
    const char            *out;
} url_case_t;


typedef struct {
    const char            *name;
    const char            *plain;
    const char            *b64;
} b64_case_t;


static void test_token(void **state);
static void test_verify(void **state);
static void test_expiry(void **state);
static void test_covers(void **state);
static void test_make(void **state);
static void test_connstr(void **state);
static void test_key_valid(void **state);
static void test_id(void **state);
static void test_thumbprint(void **state);
static void test_url_decode(void **state);
static void test_url_encode(void **state);
static void test_base64(void **state);
static void test_base64_bad(void **state);
static void test_orders_device(void **state);
static void test_orders_policy(void **state);
static void test_prefixes(void **state);
static void test_limits(void **state);
static void test_id_bytes(void **state);
static void test_base64_round_trip(void **state);
static void test_key_generate(void **state);
static void test_strerror(void **state);
static void test_hmac_rfc4231(void **state);
static void test_hmac_openssl(void **state);
static void permute(const char **fields, size_t n, size_t k,
    ngx_iothub_sas_rc_e verify, size_t *count);
static void check_parse_verify(const char *text, ngx_iothub_sas_rc_e expect);
static ngx_iothub_sas_rc_e parse_filled(ngx_iothub_sas_token_t *t,
    const char *head, int fill, size_t n);


static const token_case_t  token_cases[] = {

    /* auth.md 3.2 worked examples and 3.1 field rules */

    { .name = "3.2 device dev1 worked example", .text = TOKEN_DEV1,
      .expiry = EXPIRY, .host = HUB, .path = "/devices/dev1",
      .device = "dev1" },
    { .name = "3.2 policy iothubowner worked example", .text = TOKEN_HUB,
      .expiry = EXPIRY, .host = HUB, .policy = "iothubowner" },
    { .name = "3.1 docs order sig, se, skn, sr",
      .text = PREFIX SIG_HUB "&" SE "&" SKN "&" SR_HUB,
      .expiry = EXPIRY, .host = HUB, .policy = "iothubowner" },
    { .name = "3.1 Event Hubs SDK order sr, sig, se, skn",
      .text = PREFIX SR_HUB "&" SIG_HUB "&" SE "&" SKN,
      .expiry = EXPIRY, .host = HUB, .policy = "iothubowner" },
    { .name = "3.1 unknown fields ignored",
      .text = PREFIX "foo=bar&" SR_DEV1 "&x=&" SIG_DEV1 "&" SE "&sR=1",
      .expiry = EXPIRY, .host = HUB, .path = "/devices/dev1",
      .device = "dev1" },
    { .name = "3.2 lower-case hex in sr is signed as sent",
      .text = PREFIX "sr=myhub.example.com%2fdevices%2fdev1&" SIG_DEV1_LC
              "&" SE,
      .expiry = EXPIRY, .host = HUB, .path = "/devices/dev1",
      .device = "dev1" },
    { .name = "3.2 lower-case sr is not re-encoded to verify",
      .text = PREFIX "sr=myhub.example.com%2fdevices%2fdev1&" SIG_DEV1
              "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices/dev1", .device = "dev1" },
    { .name = "3.2 Node escapes !() with lower-case hex",
      .text = PREFIX "sr=myhub.example.com%2Fdevices%2Fdev%281%29%21"
              "&sig=MRVlS6M2bHMO7UfLfV353f29sBe3Zgtj4uvaEOo4vZI%3D&" SE,
      .expiry = EXPIRY, .host = HUB, .path = "/devices/dev(1)!",
      .device = "dev(1)!" },
    { .name = "3.1 lower-case hex in sig",
      .text = PREFIX SR_DEV1
              "&sig=x59qEYvWOPCM%2f1RF5WJEUtJ%2b70PVYp13Pi6uMS1oI38%3d&" SE,
      .expiry = EXPIRY, .host = HUB, .path = "/devices/dev1",
      .device = "dev1" },
    { .name = "3.1 sig not URL-encoded, + kept",
      .text = PREFIX SR_DEV1
              "&sig=x59qEYvWOPCM/1RF5WJEUtJ+70PVYp13Pi6uMS1oI38=&" SE,
      .expiry = EXPIRY, .host = HUB, .path = "/devices/dev1",
      .device = "dev1" },
    { .name = "3.3 module token dev1/mod1",
      .text = PREFIX SR_MOD1 "&" SIG_MOD1 "&" SE,
      .expiry = EXPIRY, .host = HUB, .path = "/devices/dev1/modules/mod1",
      .device = "dev1", .module = "mod1" },
    { .name = "skn is URL-decoded",
      .text = PREFIX SR_HUB "&" SIG_HUB "&" SE "&skn=my%20policy%2Bx+y",
      .verify = NGX_IOTHUB_SAS_OK, .expiry = EXPIRY, .host = HUB,
      .policy = "my policy+x+y" },
    { .name = "skn of 128 characters",
      .text = PREFIX SR_HUB "&" SIG_HUB "&" SE "&skn=" ID128,
      .expiry = EXPIRY, .host = HUB, .policy = ID128 },

    /* signatures that must not verify */

    { .name = "forged sig, one character changed",
      .text = PREFIX SR_DEV1
              "&sig=x59qEYvWOPCN%2F1RF5WJEUtJ%2B70PVYp13Pi6uMS1oI38%3D&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY, .host = HUB,
      .path = "/devices/dev1", .device = "dev1" },
    { .name = "forged sig, non-canonical last character",
      .text = PREFIX SR_DEV1
              "&sig=x59qEYvWOPCM%2F1RF5WJEUtJ%2B70PVYp13Pi6uMS1oI39%3D&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY, .host = HUB,
      .path = "/devices/dev1", .device = "dev1" },
    { .name = "forged sig, truncated",
      .text = PREFIX SR_DEV1
              "&sig=x59qEYvWOPCM%2F1RF5WJEUtJ%2B70PVYp13Pi6uMS1oI38&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY, .host = HUB,
      .path = "/devices/dev1", .device = "dev1" },
    { .name = "forged sig, too long",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "AAAA&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY, .host = HUB,
      .path = "/devices/dev1", .device = "dev1" },
    { .name = "forged sig, bad escape",
      .text = PREFIX SR_DEV1 "&sig=%%%&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY, .host = HUB,
      .path = "/devices/dev1", .device = "dev1" },
    { .name = "forged sig, taken from another token",
      .text = PREFIX SR_DEV1 "&" SIG_HUB "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY, .host = HUB,
      .path = "/devices/dev1", .device = "dev1" },
    { .name = "se changed after signing",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=1700000001",
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY + 1,
      .host = HUB, .path = "/devices/dev1", .device = "dev1" },
    { .name = "se with a leading zero is signed as sent",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=01700000000",
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices/dev1", .device = "dev1" },
    { .name = "se with a leading zero, signed so",
      .text = PREFIX SR_DEV1
              "&sig=gHFFDaKEFGKrusqLMsIWMwe56RpqtTC6CMlquVSgaxA%3D"
              "&se=01700000000",
      .expiry = EXPIRY, .host = HUB, .path = "/devices/dev1",
      .device = "dev1" },
    { .name = "sr device id changed after signing",
      .text = PREFIX "sr=myhub.example.com%2Fdevices%2Fdev2&" SIG_DEV1
              "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY, .host = HUB,
      .path = "/devices/dev2", .device = "dev2" },
    { .name = "sr sent unencoded is a different signed string",
      .text = PREFIX "sr=myhub.example.com/devices/dev1&" SIG_DEV1 "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY, .host = HUB,
      .path = "/devices/dev1", .device = "dev1" },

    /* 3.1 format errors */

    { .name = "empty text", .text = "",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "prefix only", .text = PREFIX,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "prefix missing",
      .text = SR_DEV1 "&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "prefix without the space",
      .text = "SharedAccessSignature" SR_DEV1 "&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "prefix in lower case",
      .text = "sharedaccesssignature " SR_DEV1 "&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "prefix with two spaces",
      .text = PREFIX " " SR_DEV1 "&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "Bearer scheme", .text = "Bearer abc",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr missing", .text = PREFIX SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sig missing", .text = PREFIX SR_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se missing", .text = PREFIX SR_DEV1 "&" SIG_DEV1,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr empty", .text = PREFIX "sr=&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sig empty", .text = PREFIX SR_DEV1 "&sig=&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se empty", .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "skn empty", .text = TOKEN_DEV1 "&skn=",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "truncated to a field name", .text = TOKEN_DEV1 "&skn",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "truncated after &", .text = TOKEN_DEV1 "&",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "empty field between &&",
      .text = PREFIX SR_DEV1 "&&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "field with empty name", .text = TOKEN_DEV1 "&=x",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr repeated", .text = TOKEN_DEV1 "&" SR_HUB,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sig repeated", .text = TOKEN_DEV1 "&" SIG_HUB,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se repeated", .text = TOKEN_DEV1 "&se=1",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "skn repeated", .text = TOKEN_HUB "&" SKN,
      .parse = NGX_IOTHUB_SAS_MALFORMED },

    /* 3.1 se: integer seconds */

    { .name = "se in milliseconds",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=1700000000000",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se of exactly 1e11 is seconds",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=100000000000",
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = 100000000000LL,
      .host = HUB, .path = "/devices/dev1", .device = "dev1" },
    { .name = "se of 1e11 + 1",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=100000000001",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se of 0 parses (and is expired)",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=0",
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = 0,
      .host = HUB, .path = "/devices/dev1", .device = "dev1" },
    { .name = "se negative",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=-1700000000",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se with a plus sign",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=+1700000000",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se with a fraction",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=1700000000.5",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se in hex",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=0x6553f100",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se with a leading space",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se= 1700000000",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se with a trailing newline",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=1700000000\n",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se of 21 digits",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=000000000001700000000",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "se of 20 digits",
      .text = PREFIX SR_DEV1 "&" SIG_DEV1 "&se=00000000001700000000",
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices/dev1", .device = "dev1" },

    /* skn decoding */

    { .name = "skn bad escape", .text = TOKEN_DEV1 "&skn=%zz",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "skn truncated escape", .text = TOKEN_DEV1 "&skn=ab%2",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "skn decodes to a NUL", .text = TOKEN_DEV1 "&skn=a%00b",
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "skn of 129 characters", .text = TOKEN_DEV1 "&skn=" ID128 "x",
      .parse = NGX_IOTHUB_SAS_MALFORMED },

    /* 3.3 sr shapes */

    { .name = "sr bad escape",
      .text = PREFIX "sr=myhub%zz&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr truncated escape",
      .text = PREFIX "sr=myhub%2&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr decodes to a NUL",
      .text = PREFIX "sr=myhub%00.example.com&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr with empty host",
      .text = PREFIX "sr=%2Fdevices%2Fdev1&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr scheme with empty host",
      .text = PREFIX "sr=sb%3A%2F%2F%2Fx&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr with an empty segment",
      .text = PREFIX "sr=myhub%2Fdevices%2F%2Fdev1&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr with two trailing slashes",
      .text = PREFIX "sr=myhub%2Fdevices%2Fdev1%2F%2F&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr host and two slashes",
      .text = PREFIX "sr=myhub%2F%2F&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr with a .. segment",
      .text = PREFIX "sr=myhub%2Fdevices%2Fdev1%2F..%2Fdev2&" SIG_DEV1
              "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr with a . segment",
      .text = PREFIX "sr=myhub%2F.%2Fdevices%2Fdev1&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr device id with a space",
      .text = PREFIX "sr=myhub%2Fdevices%2Fdev%201&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr device id of 129 characters",
      .text = PREFIX "sr=myhub%2Fdevices%2F" ID128 "x&" SIG_DEV1 "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr module id with a space",
      .text = PREFIX "sr=myhub%2Fdevices%2Fd%2Fmodules%2Fm%20&" SIG_DEV1
              "&" SE,
      .parse = NGX_IOTHUB_SAS_MALFORMED },
    { .name = "sr device id of 128 characters",
      .text = PREFIX "sr=myhub%2Fdevices%2F" ID128 "&" SIG_DEV1 "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = "myhub", .path = "/devices/" ID128, .device = ID128 },
    { .name = "sr hub with a trailing slash",
      .text = PREFIX "sr=myhub.example.com%2F&" SIG_HUB "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB },
    { .name = "sr device with a trailing slash",
      .text = PREFIX "sr=myhub.example.com%2Fdevices%2Fdev1%2F&" SIG_DEV1
              "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices/dev1", .device = "dev1" },
    { .name = "sr /devices has no device id",
      .text = PREFIX "sr=myhub.example.com%2Fdevices&" SIG_HUB "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices" },
    { .name = "sr fixed words in any case",
      .text = PREFIX "sr=myhub.example.com%2FDevices%2Fd%2FMODULES%2Fm&"
              SIG_DEV1 "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/Devices/d/MODULES/m", .device = "d",
      .module = "m" },
    { .name = "sr deeper than the device keeps its id",
      .text = PREFIX "sr=myhub.example.com%2Fdevices%2Fd%2Fmessages%2Fevents&"
              SIG_DEV1 "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices/d/messages/events", .device = "d" },
    { .name = "sr /devices/d/modules has no module id",
      .text = PREFIX "sr=myhub.example.com%2Fdevices%2Fd%2Fmodules&"
              SIG_DEV1 "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices/d/modules", .device = "d" },
    { .name = "sr other path has no device id",
      .text = PREFIX "sr=myhub.example.com%2Ftwins%2Fd&" SIG_DEV1 "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/twins/d" },
    { .name = "sr device id keeps a literal +",
      .text = PREFIX "sr=myhub.example.com%2Fdevices%2Fa+b&" SIG_DEV1
              "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices/a+b", .device = "a+b" },
    { .name = "sr device id with an encoded %",
      .text = PREFIX "sr=myhub.example.com%2Fdevices%2Fa%25b&" SIG_DEV1
              "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB, .path = "/devices/a%b", .device = "a%b" },
    { .name = "sr host with a port",
      .text = PREFIX "sr=myhub.example.com%3A8443&" SIG_HUB "&" SE,
      .verify = NGX_IOTHUB_SAS_BAD_SIGNATURE, .expiry = EXPIRY,
      .host = HUB ":8443" },
    { .name = "3.3 sr Event Hubs audience drops sb://",
      .text = PREFIX SR_EH "&" SIG_EH_B64 "&" SE,
      .expiry = EXPIRY, .host = HUB, .path = EH_PATH },
};


static const verify_case_t  verify_cases[] = {
    { "3.2 device token, right key", TOKEN_DEV1, KEY, 0,
      NGX_IOTHUB_SAS_OK },
    { "3.2 device token, wrong key", TOKEN_DEV1, KEY2, 0,
      NGX_IOTHUB_SAS_BAD_SIGNATURE },
    { "3.2 policy token, wrong key", TOKEN_HUB, KEY2, 0,
      NGX_IOTHUB_SAS_BAD_SIGNATURE },
    { "3.2 device token, key used undecoded", TOKEN_DEV1, KEY, 1,
      NGX_IOTHUB_SAS_BAD_SIGNATURE },
    { "key not base64", TOKEN_DEV1, "not base64!", 0,
      NGX_IOTHUB_SAS_BAD_KEY },
    { "key empty", TOKEN_DEV1, "", 0, NGX_IOTHUB_SAS_BAD_KEY },
    { "raw key empty", TOKEN_DEV1, "", 1, NGX_IOTHUB_SAS_BAD_KEY },
    { "key without padding", TOKEN_DEV1,
      "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", 0,
      NGX_IOTHUB_SAS_BAD_KEY },
    { "key with a newline", TOKEN_DEV1, KEY "\n", 0,
      NGX_IOTHUB_SAS_BAD_KEY },
    { "key in base64url alphabet", TOKEN_DEV1, "ab-_", 0,
      NGX_IOTHUB_SAS_BAD_KEY },
    { "3.2 Event Hubs endpoint signs with the key string",
      PREFIX SR_EH "&" SIG_EH_RAW "&" SE, KEY, 1, NGX_IOTHUB_SAS_OK },
    { "3.2 Event Hubs sig fails with the decoded key",
      PREFIX SR_EH "&" SIG_EH_RAW "&" SE, KEY, 0,
      NGX_IOTHUB_SAS_BAD_SIGNATURE },
    { "3.2 decoded-key sig fails on Event Hubs",
      PREFIX SR_EH "&" SIG_EH_B64 "&" SE, KEY, 1,
      NGX_IOTHUB_SAS_BAD_SIGNATURE },
};


static const expiry_case_t  expiry_cases[] = {
    { "3.3 se one second ahead", EXPIRY, EXPIRY - 1, NGX_IOTHUB_SAS_OK },
    { "3.3 se equal to now", EXPIRY, EXPIRY, NGX_IOTHUB_SAS_EXPIRED },
    { "3.3 se one second behind", EXPIRY, EXPIRY + 1,
      NGX_IOTHUB_SAS_EXPIRED },
    { "se 0", 0, EXPIRY, NGX_IOTHUB_SAS_EXPIRED },
    { "se far ahead", 100000000000LL, EXPIRY, NGX_IOTHUB_SAS_OK },
};


static const covers_case_t  covers_cases[] = {

    /* device scope */
    { "device: itself", "h%2Fdevices%2Fa", "h", "/devices/a",
      NGX_IOTHUB_SAS_OK },
    { "device: its module", "h%2Fdevices%2Fa", "h", "/devices/a/modules/m",
      NGX_IOTHUB_SAS_OK },
    { "device: its telemetry", "h%2Fdevices%2Fa", "h",
      "/devices/a/messages/events", NGX_IOTHUB_SAS_OK },
    { "device: trailing slash", "h%2Fdevices%2Fa", "h", "/devices/a/",
      NGX_IOTHUB_SAS_OK },
    { "device: path without leading slash", "h%2Fdevices%2Fa", "h",
      "devices/a", NGX_IOTHUB_SAS_OK },
    { "device: not a longer id", "h%2Fdevices%2Fa", "h", "/devices/ab",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: not a shorter id", "h%2Fdevices%2Fab", "h", "/devices/a",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: not another device", "h%2Fdevices%2Fa", "h", "/devices/b",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: id is case-sensitive", "h%2Fdevices%2Fa", "h", "/devices/A",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: not the collection", "h%2Fdevices%2Fa", "h", "/devices",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: not the hub", "h%2Fdevices%2Fa", "h", "",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: not another resource", "h%2Fdevices%2Fa", "h", "/twins/a",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: empty segment", "h%2Fdevices%2Fa", "h", "/devices//a",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: word devices in any case", "h%2Fdevices%2Fa", "h",
      "/Devices/a", NGX_IOTHUB_SAS_OK },
    { "device: token word in any case", "h%2FDEVICES%2Fa", "h",
      "/devices/a/MODULES/m", NGX_IOTHUB_SAS_OK },
    { "device: id named devices stays case-sensitive",
      "h%2Fdevices%2Fdevices", "h", "/devices/Devices",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: host in any case", "h.Example.com%2Fdevices%2Fa",
      "H.EXAMPLE.COM", "/devices/a", NGX_IOTHUB_SAS_OK },
    { "device: not another host", "h%2Fdevices%2Fa", "h2", "/devices/a",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: not a host suffix", "h%2Fdevices%2Fa", "hh", "/devices/a",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: NULL host", "h%2Fdevices%2Fa", NULL, "/devices/a",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "device: NULL path", "h%2Fdevices%2Fa", "h", NULL,
      NGX_IOTHUB_SAS_NOT_COVERED },

    /* module scope */
    { "module: itself", "h%2Fdevices%2Fa%2Fmodules%2Fm", "h",
      "/devices/a/modules/m", NGX_IOTHUB_SAS_OK },
    { "module: below it", "h%2Fdevices%2Fa%2Fmodules%2Fm", "h",
      "/devices/a/modules/m/messages/events", NGX_IOTHUB_SAS_OK },
    { "module: word modules in any case", "h%2Fdevices%2Fa%2Fmodules%2Fm",
      "h", "/DEVICES/a/Modules/m", NGX_IOTHUB_SAS_OK },
    { "module: not its device", "h%2Fdevices%2Fa%2Fmodules%2Fm", "h",
      "/devices/a", NGX_IOTHUB_SAS_NOT_COVERED },
    { "module: not another module", "h%2Fdevices%2Fa%2Fmodules%2Fm", "h",
      "/devices/a/modules/m2", NGX_IOTHUB_SAS_NOT_COVERED },
    { "module: id is case-sensitive", "h%2Fdevices%2Fa%2Fmodules%2Fm", "h",
      "/devices/a/modules/M", NGX_IOTHUB_SAS_NOT_COVERED },
    { "module: not the same module of another device",
      "h%2Fdevices%2Fa%2Fmodules%2Fm", "h", "/devices/b/modules/m",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "module: not the modules collection",
      "h%2Fdevices%2Fa%2Fmodules%2Fm", "h", "/devices/a/modules",
      NGX_IOTHUB_SAS_NOT_COVERED },

    /* hub and collection scope */
    { "hub: itself", "h", "h", "", NGX_IOTHUB_SAS_OK },
    { "hub: slash", "h", "h", "/", NGX_IOTHUB_SAS_OK },
    { "hub: a device", "h", "h", "/devices/x", NGX_IOTHUB_SAS_OK },
    { "hub: a module", "h", "h", "/devices/x/modules/y", NGX_IOTHUB_SAS_OK },
    { "hub: any path", "h", "h", "/twins/x/methods", NGX_IOTHUB_SAS_OK },
    { "hub: not another hub", "h", "g", "", NGX_IOTHUB_SAS_NOT_COVERED },
    { "devices: a device", "h%2Fdevices", "h", "/devices/x",
      NGX_IOTHUB_SAS_OK },
    { "devices: itself", "h%2Fdevices", "h", "/devices",
      NGX_IOTHUB_SAS_OK },
    { "devices: not the hub", "h%2Fdevices", "h", "",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "devices: not twins", "h%2Fdevices", "h", "/twins/x",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "devices: not devicesx", "h%2Fdevices", "h", "/devicesx",
      NGX_IOTHUB_SAS_NOT_COVERED },
    { "twins: other words are case-sensitive", "h%2Ftwins", "h",
      "/TWINS/x", NGX_IOTHUB_SAS_NOT_COVERED },
    { "modules is fixed only under devices", "h%2Fx%2Fy%2Fmodules", "h",
      "/x/y/MODULES", NGX_IOTHUB_SAS_NOT_COVERED },
    { "Event Hubs audience covers its partition", EH_AUD, HUB,
      EH_PATH, NGX_IOTHUB_SAS_OK },
    { "Event Hubs audience, path case-sensitive", EH_AUD, HUB,
      "/myhub/consumergroups/$default/Partitions/0",
      NGX_IOTHUB_SAS_NOT_COVERED },
};


static const make_case_t  make_cases[] = {
    { .name = "3.2 device dev1 is the worked example byte for byte",
      .resource = HUB "/devices/dev1", .key = KEY, .expiry = EXPIRY,
      .ok = 1, .text = TOKEN_DEV1, .path = "/devices/dev1",
      .device = "dev1" },
    { .name = "3.2 policy iothubowner",
      .resource = HUB, .key = KEY, .skn = "iothubowner", .expiry = EXPIRY,
      .ok = 1, .text = PREFIX SR_HUB "&" SIG_HUB "&" SE "&" SKN },
    { .name = "module dev1/mod1",
      .resource = HUB "/devices/dev1/modules/mod1", .key = KEY,
      .expiry = EXPIRY, .ok = 1,
      .text = PREFIX SR_MOD1 "&" SIG_MOD1 "&" SE,
      .path = "/devices/dev1/modules/mod1", .device = "dev1",
      .module = "mod1" },
    { .name = "id with every id punctuation",
      .resource = HUB "/devices/-.+%_#*?!(),=@$':", .key = KEY2,
      .expiry = 1, .ok = 1, .path = "/devices/-.+%_#*?!(),=@$':",
      .device = "-.+%_#*?!(),=@$':" },
    { .name = "skn needing encoding",
      .resource = HUB "/devices", .key = KEY2, .skn = "a b&c=d",
      .expiry = 100000000000LL, .ok = 1, .path = "/devices" },
    { .name = "out of exactly the right size",
      .resource = HUB "/devices/dev1", .key = KEY, .expiry = EXPIRY,
      .size = sizeof(TOKEN_DEV1), .ok = 1, .text = TOKEN_DEV1,
      .path = "/devices/dev1", .device = "dev1" },
    { .name = "out one byte short", .resource = HUB "/devices/dev1",
      .key = KEY, .expiry = EXPIRY, .size = sizeof(TOKEN_DEV1) - 1 },
    { .name = "key not base64", .resource = HUB, .key = "***",
      .expiry = EXPIRY },
    { .name = "key empty", .resource = HUB, .key = "", .expiry = EXPIRY },
    { .name = "key NULL", .resource = HUB, .expiry = EXPIRY },
    { .name = "resource empty", .resource = "", .key = KEY,
      .expiry = EXPIRY },
    { .name = "resource NULL", .key = KEY, .expiry = EXPIRY },
    { .name = "skn empty", .resource = HUB, .key = KEY, .skn = "",
      .expiry = EXPIRY },
    { .name = "skn of 129 characters", .resource = HUB, .key = KEY,
      .skn = ID128 "x", .expiry = EXPIRY },
    { .name = "expiry negative", .resource = HUB, .key = KEY,
      .expiry = -1 },
    { .name = "expiry in milliseconds", .resource = HUB, .key = KEY,
      .expiry = 1700000000000LL },
};


static const connstr_case_t  connstr_cases[] = {
    { .name = "2 device with key",
      .text = "HostName=hub.example.com;DeviceId=dev1;SharedAccessKey=" KEY,
      .host = "hub.example.com", .device = "dev1", .key = KEY },
    { .name = "2 module with key",
      .text = "HostName=hub.example.com;DeviceId=dev1;ModuleId=mod1;"
              "SharedAccessKey=" KEY,
      .host = "hub.example.com", .device = "dev1", .module = "mod1",
      .key = KEY },
    { .name = "2 service policy",
      .text = "HostName=hub.example.com;SharedAccessKeyName=iothubowner;"
              "SharedAccessKey=" KEY,
      .host = "hub.example.com", .key_name = "iothubowner", .key = KEY },
    { .name = "2 device via policy key",
      .text = "HostName=h;DeviceId=d;SharedAccessKeyName=device;"
              "SharedAccessKey=" KEY,
      .host = "h", .device = "d", .key_name = "device", .key = KEY },
    { .name = "2 signature containing = and &",
      .text = "HostName=hub.example.com;DeviceId=dev1;"
              "SharedAccessSignature=" TOKEN_DEV1,
      .host = "hub.example.com", .device = "dev1",
      .signature = TOKEN_DEV1 },
    { .name = "2 x509=true",
      .text = "HostName=hub.example.com;DeviceId=dev1;x509=true",
      .host = "hub.example.com", .device = "dev1", .x509 = 1 },
    { .name = "2 x509=TRUE", .text = "HostName=h;DeviceId=d;x509=TRUE",
      .host = "h", .device = "d", .x509 = 1 },
    { .name = "2 x509=false with a key",
      .text = "HostName=h;DeviceId=d;x509=false;SharedAccessKey=k",
      .host = "h", .device = "d", .key = "k" },
    { .name = "2 gateway host name",
      .text = "HostName=h;DeviceId=d;SharedAccessKey=k;GatewayHostName=gw",
      .host = "h", .device = "d", .key = "k", .gateway = "gw" },
    { .name = "2 key value keeps its padding",
      .text = "SharedAccessKey=abc==;HostName=h",
      .host = "h", .key = "abc==" },
    { .name = "trailing and empty pairs skipped",
      .text = ";HostName=h;;x509=true;", .host = "h", .x509 = 1 },
    { .name = "unknown keys ignored",
      .text = "HostName=h;Foo=bar;x509=true;EntityPath=e",
      .host = "h", .x509 = 1 },
    { .name = "value with a space kept verbatim",
      .text = "HostName=h;DeviceId= d ;x509=true",
      .host = "h", .device = " d ", .x509 = 1 },
    { .name = "host of 255 characters",
      .text = "x509=true;HostName=" HOST255, .host = HOST255, .x509 = 1 },
    { .name = "key of 127 characters",
      .text = "HostName=h;SharedAccessKey=" ID32 ID32 ID32 STR31,
      .host = "h", .key = ID32 ID32 ID32 STR31 },

    { .name = "2 missing host",
      .text = "DeviceId=dev1;SharedAccessKey=" KEY,
      .rc = NGX_IOTHUB_CONNSTR_MISSING_HOST },
    { .name = "2 empty host",
      .text = "HostName=;DeviceId=dev1;SharedAccessKey=" KEY,
      .rc = NGX_IOTHUB_CONNSTR_MISSING_HOST },
    { .name = "2 keys are case-sensitive",
      .text = "hostname=h;DeviceId=dev1;SharedAccessKey=" KEY,
      .rc = NGX_IOTHUB_CONNSTR_MISSING_HOST },
    { .name = "2 Event Hubs string has no HostName",
      .text = "Endpoint=sb://h/;SharedAccessKeyName=iothubowner;"
              "SharedAccessKey=" KEY ";EntityPath=myhub",
      .rc = NGX_IOTHUB_CONNSTR_MISSING_HOST },
    { .name = "empty string", .text = "",
      .rc = NGX_IOTHUB_CONNSTR_MISSING_HOST },
    { .name = "2 no credential", .text = "HostName=h;DeviceId=dev1",
      .rc = NGX_IOTHUB_CONNSTR_NO_CREDENTIAL },
    { .name = "2 empty key is no credential",
      .text = "HostName=h;DeviceId=dev1;SharedAccessKey=",
      .rc = NGX_IOTHUB_CONNSTR_NO_CREDENTIAL },
    { .name = "2 x509=false is no credential",
      .text = "HostName=h;DeviceId=dev1;x509=false",
      .rc = NGX_IOTHUB_CONNSTR_NO_CREDENTIAL },
    { .name = "2 key name alone is no credential",
      .text = "HostName=h;SharedAccessKeyName=iothubowner",
      .rc = NGX_IOTHUB_CONNSTR_NO_CREDENTIAL },
    { .name = "2 key and signature",
      .text = "HostName=h;DeviceId=d;SharedAccessKey=k;"
              "SharedAccessSignature=s",
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "2 key and x509=true",
      .text = "HostName=h;DeviceId=d;SharedAccessKey=k;x509=true",
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "x509 neither true nor false",
      .text = "HostName=h;DeviceId=d;x509=yes",
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "module without device",
      .text = "HostName=h;ModuleId=m;SharedAccessKey=k",
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "pair without =", .text = "HostName=h;DeviceId;x509=true",
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "pair with empty key", .text = "HostName=h;=v;x509=true",
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "HostName repeated",
      .text = "HostName=h;HostName=g;x509=true",
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "SharedAccessKey repeated",
      .text = "HostName=h;SharedAccessKey=a;SharedAccessKey=b",
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "NUL inside the text",
      .text = "HostName=h\0;x509=true",
      .len = sizeof("HostName=h\0;x509=true") - 1,
      .rc = NGX_IOTHUB_CONNSTR_MALFORMED },
    { .name = "length bounds the text",
      .text = "HostName=h;x509=true;HostName=g", .len = 20,
      .host = "h", .x509 = 1 },
    { .name = "host of 256 characters",
      .text = "x509=true;HostName=" ID128 ID128,
      .rc = NGX_IOTHUB_CONNSTR_TOO_LONG },
    { .name = "key of 128 characters",
      .text = "HostName=h;SharedAccessKey=" ID128,
      .rc = NGX_IOTHUB_CONNSTR_TOO_LONG },
    { .name = "device id of 129 characters",
      .text = "HostName=h;x509=true;DeviceId=" ID128 "x",
      .rc = NGX_IOTHUB_CONNSTR_TOO_LONG },
};


static const valid_case_t  key_cases[] = {
    { "4 worked example key (32 bytes)", KEY, 1, 0 },
    { "4 16 bytes, lowest accepted", B64_16, 1, 0 },
    { "4 17 bytes", B64_17, 1, 0 },
    { "4 36 bytes", B64_36, 1, 0 },
    { "4 64 bytes, highest accepted", B64_64, 1, 0 },
    { "4 15 bytes", B64_15, 0, 0 },
    { "4 65 bytes", B64_65, 0, 0 },
    { "empty", "", 0, 0 },
    { "padding missing", "AAECAwQFBgcICQoLDA0ODw", 0, 0 },
    { "padding in the middle", "AAECAwQF=gcICQoLDA0ODw==", 0, 0 },
    { "non-canonical unused bits", "AAECAwQFBgcICQoLDA0ODx==", 0, 0 },
    { "base64url alphabet", "AAECAwQFBgcICQoLDA0O-_==", 0, 0 },
    { "white space", "AAECAwQFBgcI CQoLDA0ODw==", 0, 0 },
    { "trailing newline", B64_16 "\n", 0, 0 },
    { "three padding characters", "AAECAwQFBgcICQoLDA0OD===", 0, 0 },
};


static const valid_case_t  thumbprint_cases[] = {
    { "5 SHA-1, mixed case", HEX40, 1, 0 },
    { "5 SHA-1, upper case as the Node e2e tests",
      "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678", 1, 0 },
    { "5 SHA-256", HEX64, 1, 0 },
    { "39 digits", "0123456789abcdefABCDEF0123456789abcdefA", 0, 0 },
    { "41 digits", HEX40 "0", 0, 0 },
    { "63 digits", "0123456789abcdefABCDEF0123456789abcdefAB0123456789abcdef"
                   "0123456", 0, 0 },
    { "65 digits", HEX64 "0", 0, 0 },
    { "empty", "", 0, 0 },
    { "5 colons not stripped",
      "A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E", 0, 0 },
    { "not hex", "g123456789abcdefABCDEF0123456789abcdefAB", 0, 0 },
};


static const id_case_t  id_cases[] = {
    { .name = "plain id", .id = "dev1", .ok = 1 },
    { .name = "all punctuation", .id = "-.+%_#*?!(),=@$':", .ok = 1 },
    { .name = "one character", .id = "a", .ok = 1 },
    { .name = "128 characters", .repeat = 128, .ok = 1 },
    { .name = "129 characters", .repeat = 129 },
    { .name = "empty", .id = "" },
    { .name = "slash", .id = "a/b" },
    { .name = "space", .id = "a b" },
    { .name = "ampersand", .id = "a&b" },
    { .name = "semicolon", .id = "a;b" },
    { .name = "tilde", .id = "a~b" },
    { .name = "caret", .id = "a^b" },
    { .name = "backslash", .id = "a\\b" },
    { .name = "double quote", .id = "a\"b" },
    { .name = "non-ASCII", .id = "d\xc3\xa9v" },
    { .name = "NUL inside", .id = "ab\0c", .len = 4 },
};


static const url_case_t  url_decode_cases[] = {
    { .name = "upper-case escape", .in = "a%2Fb", .rc = 3, .out = "a/b" },
    { .name = "lower-case escape", .in = "a%2fb", .rc = 3, .out = "a/b" },
    { .name = "plus stays plus", .in = "a+b", .rc = 3, .out = "a+b" },
    { .name = "no escapes", .in = "abc", .rc = 3, .out = "abc" },
    { .name = "empty", .in = "", .rc = 0, .out = "" },
    { .name = "escaped percent", .in = "%25", .rc = 1, .out = "%" },
    { .name = "UTF-8", .in = "%C3%A9", .rc = 2, .out = "\xc3\xa9" },
    { .name = "NUL escape is written", .in = "a%00", .rc = 2, .out = "a" },
    { .name = "lone percent", .in = "%", .rc = -1 },
    { .name = "percent at the end", .in = "ab%", .rc = -1 },
    { .name = "one hex digit", .in = "ab%2", .rc = -1 },
    { .name = "non-hex digits", .in = "%zz", .rc = -1 },
    { .name = "second digit non-hex", .in = "%2g", .rc = -1 },
    { .name = "first digit non-hex", .in = "%g2", .rc = -1 },
    { .name = "sign is not hex", .in = "%+1", .rc = -1 },
    { .name = "exact fit", .in = "ab%2F", .size = 4, .rc = 3,
      .out = "ab/" },
    { .name = "no room for the NUL", .in = "ab%2F", .size = 3, .rc = -1 },
    { .name = "empty into one byte", .in = "", .size = 1, .rc = 0,
      .out = "" },
};


static const url_case_t  url_encode_cases[] = {
    { .name = "encodeURIComponent reserved",
      .in = "a b/c?d=e&f+g:h#i,j;k$l@m",
      .rc = 49, .out = "a%20b%2Fc%3Fd%3De%26f%2Bg%3Ah%23i%2Cj%3Bk%24l%40m" },
    { .name = "encodeURIComponent unreserved",
      .in = "AZaz09-_.!~*'()", .rc = 15, .out = "AZaz09-_.!~*'()" },
    { .name = "percent", .in = "%", .rc = 3, .out = "%25" },
    { .name = "UTF-8 in upper-case hex", .in = "\xc3\xa9", .rc = 6,
      .out = "%C3%A9" },
    { .name = "empty", .in = "", .rc = 0, .out = "" },
    { .name = "exact fit", .in = "a/", .size = 5, .rc = 4, .out = "a%2F" },
    { .name = "no room for an escape", .in = "a/", .size = 4, .rc = -1 },
};


/* RFC 4648 section 10 */
static const b64_case_t  b64_cases[] = {
    { "RFC 4648 empty", "", "" },
    { "RFC 4648 f", "f", "Zg==" },
    { "RFC 4648 fo", "fo", "Zm8=" },
    { "RFC 4648 foo", "foo", "Zm9v" },
    { "RFC 4648 foob", "foob", "Zm9vYg==" },
    { "RFC 4648 fooba", "fooba", "Zm9vYmE=" },
    { "RFC 4648 foobar", "foobar", "Zm9vYmFy" },
    { "3.2 worked example key", "0123456789abcdef0123456789abcdef", KEY },
    { "high bits", "\xff\xfe\xfd", "//79" },
};


static const valid_case_t  b64_bad_cases[] = {
    { "length 1", "Z", 0, 0 },
    { "length 3", "Zm8", 0, 0 },
    { "length 5", "Zm9vY", 0, 0 },
    { "padding only", "====", 0, 0 },
    { "three padding characters", "Z===", 0, 0 },
    { "padding then data", "Zg==Zm8=", 0, 0 },
    { "padding inside the quantum", "Zm=v", 0, 0 },
    { "non-zero bits under one pad", "Zm9=", 0, 0 },
    { "non-zero bits under two pads", "Zh==", 0, 0 },
    { "minus", "Zm-v", 0, 0 },
    { "underscore", "Zm_v", 0, 0 },
    { "space", "Zm v", 0, 0 },
    { "NUL", "Zm\0v", 0, 4 },
};


static void
test_token(void **state)
{
    size_t                  len;
    const token_case_t     *c;
    ngx_iothub_sas_rc_e     rc;
    const unsigned char    *text;
    ngx_iothub_sas_token_t  t;

    c = *state;
    text = (const unsigned char *) c->text;
    len = strlen(c->text);

    rc = ngx_iothub_sas_parse(&t, text, len);
    assert_int_equal(rc, c->parse);

    if (rc != NGX_IOTHUB_SAS_OK) {
        return;
    }

    assert_true(t.sr.data > text && t.sr.data + t.sr.len <= text + len);
    assert_true(t.sig.data > text && t.sig.data + t.sig.len <= text + len);
    assert_true(t.se.data > text && t.se.data + t.se.len <= text + len);
    assert_int_equal(t.skn.len == 0, c->policy == NULL);

    assert_true(t.expiry == c->expiry);
    assert_string_equal(t.host, str_or_empty(c->host));
    assert_string_equal(t.path, str_or_empty(c->path));
    assert_string_equal(t.device_id, str_or_empty(c->device));
    assert_string_equal(t.module_id, str_or_empty(c->module));
    assert_string_equal(t.policy, str_or_empty(c->policy));

    assert_int_equal(ngx_iothub_sas_verify(&t, KEY, strlen(KEY)), c->verify);
}


static void
test_verify(void **state)
{
    const verify_case_t    *c;
    ngx_iothub_sas_rc_e     rc;
    ngx_iothub_sas_token_t  t;

    c = *state;

    assert_int_equal(ngx_iothub_sas_parse(&t,
                                          (const unsigned char *) c->text,
                                          strlen(c->text)),
                     NGX_IOTHUB_SAS_OK);

    if (c->raw) {
        rc = ngx_iothub_sas_verify_raw(&t, (const unsigned char *) c->key,
                                       strlen(c->key));

    } else {
        rc = ngx_iothub_sas_verify(&t, c->key, strlen(c->key));
    }

    assert_int_equal(rc, c->rc);
}


static void
test_expiry(void **state)
{
    const expiry_case_t    *c;
    ngx_iothub_sas_token_t  t;

    c = *state;

    memset(&t, 0, sizeof(t));
    t.expiry = c->expiry;

    assert_int_equal(ngx_iothub_sas_check_expiry(&t, c->now), c->rc);
}


static void
test_covers(void **state)
{
    char                    text[512];
    const covers_case_t    *c;
    ngx_iothub_sas_token_t  t;

    c = *state;

    snprintf(text, sizeof(text), PREFIX "sr=%s&sig=x&se=1", c->sr);

    assert_int_equal(ngx_iothub_sas_parse(&t, (const unsigned char *) text,
                                          strlen(text)),
                     NGX_IOTHUB_SAS_OK);

    assert_int_equal(ngx_iothub_sas_covers(&t, c->host, c->path), c->rc);
}


static void
test_make(void **state)
{
    int                     n;
    char                    out[1024], host[256], *slash;
    size_t                  size;
    const make_case_t      *c;
    ngx_iothub_sas_token_t  t;

    c = *state;
    size = (c->size != 0) ? c->size : sizeof(out);

    n = ngx_iothub_sas_make(out, size, c->resource, c->key, c->skn,
                            c->expiry);

    if (!c->ok) {
        assert_int_equal(n, -1);
        return;
    }

    assert_int_equal(n, strlen(out));

    if (c->text != NULL) {
        assert_string_equal(out, c->text);
    }

    assert_int_equal(ngx_iothub_sas_parse(&t, (const unsigned char *) out,
                                          n),
                     NGX_IOTHUB_SAS_OK);
    assert_int_equal(ngx_iothub_sas_verify(&t, c->key, strlen(c->key)),
                     NGX_IOTHUB_SAS_OK);
    assert_true(t.expiry == c->expiry);

    snprintf(host, sizeof(host), "%s", c->resource);
    slash = strchr(host, '/');
    if (slash != NULL) {
        *slash = '\0';
    }

    assert_string_equal(t.host, host);
    assert_string_equal(t.path, str_or_empty(c->path));
    assert_string_equal(t.device_id, str_or_empty(c->device));
    assert_string_equal(t.module_id, str_or_empty(c->module));
    assert_string_equal(t.policy, str_or_empty(c->skn));

    assert_int_equal(ngx_iothub_sas_covers(&t, host, t.path),
                     NGX_IOTHUB_SAS_OK);
}


static void
test_connstr(void **state)
{
    size_t                   len;
    const connstr_case_t    *c;
    ngx_iothub_connstr_t     cs;
    ngx_iothub_connstr_rc_e  rc;

    c = *state;
    len = (c->len != 0) ? c->len : strlen(c->text);

    rc = ngx_iothub_connstr_parse(&cs, c->text, len);
    assert_int_equal(rc, c->rc);

    if (rc != NGX_IOTHUB_CONNSTR_OK) {
        return;
    }

    assert_string_equal(cs.host_name, str_or_empty(c->host));
    assert_string_equal(cs.device_id, str_or_empty(c->device));
    assert_string_equal(cs.module_id, str_or_empty(c->module));
    assert_string_equal(cs.key_name, str_or_empty(c->key_name));
    assert_string_equal(cs.key, str_or_empty(c->key));
    assert_string_equal(cs.signature, str_or_empty(c->signature));
    assert_string_equal(cs.gateway_host_name, str_or_empty(c->gateway));
    assert_int_equal(cs.x509, c->x509);
}


static void
test_key_valid(void **state)
{
    const valid_case_t  *c;

    c = *state;

    assert_int_equal(ngx_iothub_key_valid(c->text, strlen(c->text)), c->ok);
}


static void
test_id(void **state)
{
    char              buf[256];
    size_t            len;
    const id_case_t  *c;

    c = *state;

    if (c->repeat != 0) {
        memset(buf, 'a', c->repeat);
        len = c->repeat;

    } else {
        len = (c->len != 0) ? c->len : strlen(c->id);
        memcpy(buf, c->id, len);
    }

    assert_int_equal(ngx_iothub_id_valid((unsigned char *) buf, len), c->ok);
}


static void
test_thumbprint(void **state)
{
    const valid_case_t  *c;

    c = *state;

    assert_int_equal(ngx_iothub_thumbprint_valid(c->text, strlen(c->text)),
                     c->ok);
}


static void
test_url_decode(void **state)
{
    int                n;
    char               out[64];
    size_t             size;
    const url_case_t  *c;

    c = *state;
    size = (c->size != 0) ? c->size : sizeof(out);

    n = ngx_iothub_url_decode(out, size, (const unsigned char *) c->in,
                              strlen(c->in));
    assert_int_equal(n, c->rc);

    if (n >= 0) {
        assert_memory_equal(out, c->out, strlen(c->out));
        assert_int_equal(out[n], '\0');
    }
}


static void
test_url_encode(void **state)
{
    int                n;
    char               out[128];
    size_t             size;
    const url_case_t  *c;

    c = *state;
    size = (c->size != 0) ? c->size : sizeof(out);

    n = ngx_iothub_url_encode(out, size, (const unsigned char *) c->in,
                              strlen(c->in));
    assert_int_equal(n, c->rc);

    if (n >= 0) {
        assert_string_equal(out, c->out);
    }
}


static void
test_base64(void **state)
{
    int                n;
    char               enc[64];
    size_t             len;
    unsigned char      dec[64];
    const b64_case_t  *c;

    c = *state;
    len = strlen(c->plain);

    n = ngx_iothub_base64_encode(enc, sizeof(enc),
                                 (const unsigned char *) c->plain, len);
    assert_int_equal(n, strlen(c->b64));
    assert_string_equal(enc, c->b64);

    /* exact room, then one byte short */
    assert_int_equal(ngx_iothub_base64_encode(enc, n + 1,
                                              (const unsigned char *) c->plain,
                                              len),
                     n);
    assert_int_equal(ngx_iothub_base64_encode(enc, n,
                                              (const unsigned char *) c->plain,
                                              len),
                     -1);

    n = ngx_iothub_base64_decode(dec, sizeof(dec), c->b64, strlen(c->b64));
    assert_int_equal(n, len);
    assert_memory_equal(dec, c->plain, len);

    assert_int_equal(ngx_iothub_base64_decode(dec, len, c->b64,
                                              strlen(c->b64)),
                     (int) len);

    if (len != 0) {
        assert_int_equal(ngx_iothub_base64_decode(dec, len - 1, c->b64,
                                                  strlen(c->b64)),
                         -1);
    }
}


static void
test_base64_bad(void **state)
{
    size_t               len;
    unsigned char        dec[64];
    const valid_case_t  *c;

    c = *state;
    len = (c->len != 0) ? c->len : strlen(c->text);

    assert_int_equal(ngx_iothub_base64_decode(dec, sizeof(dec), c->text,
                                              len),
                     -1);
}


/* auth.md 3.1: every order of the fields, an unknown field anywhere */

static void
test_orders_device(void **state)
{
    size_t       count;
    const char  *fields[] = { SR_DEV1, SIG_DEV1, SE, "foo=bar" };

    (void) state;

    count = 0;
    permute(fields, 4, 0, NGX_IOTHUB_SAS_OK, &count);
    assert_int_equal(count, 24);
}


static void
test_orders_policy(void **state)
{
    size_t       count;
    const char  *fields[] = { SR_HUB, SIG_HUB, SE, SKN, "x=" };

    (void) state;

    count = 0;
    permute(fields, 5, 0, NGX_IOTHUB_SAS_OK, &count);
    assert_int_equal(count, 120);
}


static void
permute(const char **fields, size_t n, size_t k, ngx_iothub_sas_rc_e verify,
    size_t *count)
{
    char         text[512];
    size_t       i;
    const char  *tmp;

    if (k == n) {
        snprintf(text, sizeof(text), PREFIX "%s", fields[0]);

        for (i = 1; i < n; i++) {
            strcat(text, "&");
            strcat(text, fields[i]);
        }

        check_parse_verify(text, verify);
        (*count)++;
        return;
    }

    for (i = k; i < n; i++) {
        tmp = fields[k];
        fields[k] = fields[i];
        fields[i] = tmp;

        permute(fields, n, k + 1, verify, count);

        fields[i] = fields[k];
        fields[k] = tmp;
    }
}


static void
check_parse_verify(const char *text, ngx_iothub_sas_rc_e expect)
{
    ngx_iothub_sas_token_t  t;

    if (ngx_iothub_sas_parse(&t, (const unsigned char *) text, strlen(text))
        != NGX_IOTHUB_SAS_OK
        || ngx_iothub_sas_verify(&t, KEY, strlen(KEY)) != expect)
    {
        fail_msg("token \"%s\"", text);
    }
}


/*
 * Every prefix of the worked examples, in a buffer of exactly that size
 * (ASan catches a read past it): malformed, or parsed but not verified,
 * except the whole token.
 */

static void
test_prefixes(void **state)
{
    size_t                  i, j, len;
    const char             *tokens[] = { TOKEN_DEV1, TOKEN_HUB };
    unsigned char          *buf;
    ngx_iothub_sas_rc_e     rc;
    ngx_iothub_sas_token_t  t;

    (void) state;

    for (j = 0; j < 2; j++) {
        len = strlen(tokens[j]);

        for (i = 0; i <= len; i++) {
            buf = malloc(i + 1);
            assert_non_null(buf);
            memcpy(buf, tokens[j], i);

            rc = ngx_iothub_sas_parse(&t, buf, i);

            if (rc == NGX_IOTHUB_SAS_OK) {
                rc = ngx_iothub_sas_verify(&t, KEY, strlen(KEY));
            }

            free(buf);

            if ((i == len) != (rc == NGX_IOTHUB_SAS_OK)) {
                fail_msg("prefix %zu of \"%s\": rc %d", i, tokens[j], rc);
            }
        }
    }
}


/* the buffer limits: host 255, path 511, sr as sent */

static void
test_limits(void **state)
{
    ngx_iothub_sas_token_t  t;

    (void) state;

    assert_int_equal(parse_filled(&t, "", 'h', 255), NGX_IOTHUB_SAS_OK);
    assert_int_equal(strlen(t.host), 255);
    assert_int_equal(parse_filled(&t, "", 'h', 256),
                     NGX_IOTHUB_SAS_MALFORMED);

    /* "/" and 510 bytes, then 511 */
    assert_int_equal(parse_filled(&t, "h/", 'p', 510), NGX_IOTHUB_SAS_OK);
    assert_int_equal(strlen(t.path), 511);
    assert_int_equal(parse_filled(&t, "h/", 'p', 511),
                     NGX_IOTHUB_SAS_MALFORMED);

    /* a device id of 128 bytes fits in the path */
    assert_int_equal(parse_filled(&t, "h/devices/", 'd', 128),
                     NGX_IOTHUB_SAS_OK);
    assert_int_equal(strlen(t.device_id), 128);

    assert_int_equal(parse_filled(&t, "h", '+', NGX_IOTHUB_SAS_SR_MAX),
                     NGX_IOTHUB_SAS_MALFORMED);
}


/* parses a token whose sr is head and n times fill */

static ngx_iothub_sas_rc_e
parse_filled(ngx_iothub_sas_token_t *t, const char *head, int fill, size_t n)
{
    char                *text, *p;
    size_t               len;
    ngx_iothub_sas_rc_e  rc;

    len = sizeof(PREFIX "sr=") - 1 + strlen(head) + n
          + sizeof("&sig=x&se=1") - 1;

    text = malloc(len);
    if (text == NULL) {
        return -1;
    }

    p = text;
    memcpy(p, PREFIX "sr=", sizeof(PREFIX "sr=") - 1);
    p += sizeof(PREFIX "sr=") - 1;
    memcpy(p, head, strlen(head));
    p += strlen(head);
    memset(p, fill, n);
    p += n;
    memcpy(p, "&sig=x&se=1", sizeof("&sig=x&se=1") - 1);

    rc = ngx_iothub_sas_parse(t, (unsigned char *) text, len);

    free(text);

    return rc;
}


/* every byte alone against the id rule of the registry */

static void
test_id_bytes(void **state)
{
    int            ok;
    unsigned int   c;
    unsigned char  b;

    (void) state;

    for (c = 0; c < 256; c++) {
        b = (unsigned char) c;
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
             || (c >= '0' && c <= '9')
             || (c != 0 && strchr("-.+%_#*?!(),=@$':", c) != NULL);

        if (ngx_iothub_id_valid(&b, 1) != ok) {
            fail_msg("byte 0x%02x", c);
        }
    }
}


static void
test_base64_round_trip(void **state)
{
    int            n;
    char           enc[128];
    size_t         len, i;
    unsigned char  in[80], dec[80];

    (void) state;

    for (len = 0; len <= sizeof(in); len++) {
        for (i = 0; i < len; i++) {
            in[i] = (unsigned char) (i * 37 + len * 11);
        }

        n = ngx_iothub_base64_encode(enc, sizeof(enc), in, len);
        assert_int_equal(n, (len + 2) / 3 * 4);

        n = ngx_iothub_base64_decode(dec, sizeof(dec), enc, n);
        assert_int_equal(n, len);
        assert_memory_equal(dec, in, len);
    }
}


static void
test_key_generate(void **state)
{
    char  a[NGX_IOTHUB_KEY_GENERATED_LEN + 1];
    char  b[NGX_IOTHUB_KEY_GENERATED_LEN + 8];

    (void) state;

    assert_int_equal(ngx_iothub_key_generate(a, sizeof(a)), 0);
    assert_int_equal(strlen(a), NGX_IOTHUB_KEY_GENERATED_LEN);
    assert_true(ngx_iothub_key_valid(a, strlen(a)));

    assert_int_equal(ngx_iothub_key_generate(b, sizeof(b)), 0);
    assert_string_not_equal(a, b);

    assert_int_equal(ngx_iothub_key_generate(b,
                                             NGX_IOTHUB_KEY_GENERATED_LEN),
                     -1);
}


static void
test_strerror(void **state)
{
    (void) state;

    assert_string_equal(ngx_iothub_sas_strerror(NGX_IOTHUB_SAS_OK), "ok");
    assert_string_equal(ngx_iothub_sas_strerror(NGX_IOTHUB_SAS_EXPIRED),
                        "expired");
    assert_string_equal(ngx_iothub_sas_strerror(NGX_IOTHUB_SAS_NOT_COVERED),
                        "resource not covered");
    assert_string_equal(ngx_iothub_sas_strerror(
                            (ngx_iothub_sas_rc_e) 99),
                        "unknown");
}



/* ngx_iothub_hmac_sha256(): RFC 4231 test cases 1, 2 and 6 */

static void
test_hmac_rfc4231(void **state)
{
    unsigned char  key[131], mac[32];

    static const unsigned char  want1[32] = {
        0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53, 0x5c, 0xa8, 0xaf,
        0xce, 0xaf, 0x0b, 0xf1, 0x2b, 0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83,
        0x3d, 0xa7, 0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7
    };
    static const unsigned char  want2[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
        0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
        0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43
    };
    static const unsigned char  want6[32] = {
        0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26,
        0xaa, 0xcb, 0xf5, 0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28,
        0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f, 0x0e, 0xe3, 0x7f, 0x54
    };

    (void) state;

    memset(key, 0x0b, 20);
    assert_int_equal(ngx_iothub_hmac_sha256(key, 20,
                         (const unsigned char *) "Hi There", 8, mac), 0);
    assert_memory_equal(mac, want1, 32);

    assert_int_equal(ngx_iothub_hmac_sha256((const unsigned char *) "Jefe",
                         4, (const unsigned char *)
                         "what do ya want for nothing?", 28, mac), 0);
    assert_memory_equal(mac, want2, 32);

    /* a key longer than SHA-256's block is hashed first */
    memset(key, 0xaa, sizeof(key));
    assert_int_equal(ngx_iothub_hmac_sha256(key, sizeof(key),
                         (const unsigned char *) "Test Using Larger Than "
                         "Block-Size Key - Hash Key First", 54, mac), 0);
    assert_memory_equal(mac, want6, 32);
}


/* the same as OpenSSL's HMAC() for every key length around the block */

static void
test_hmac_openssl(void **state)
{
    size_t         key_len, len;
    unsigned int   want_len;
    unsigned char  key[130], msg[300], mac[32], want[EVP_MAX_MD_SIZE];

    (void) state;

    for (len = 0; len < sizeof(msg); len++) {
        msg[len] = (unsigned char) (len * 7 + 3);
    }

    for (key_len = 1; key_len <= sizeof(key); key_len++) {
        key[key_len - 1] = (unsigned char) (key_len * 13);

        for (len = 0; len <= sizeof(msg); len += 37) {
            assert_int_equal(ngx_iothub_hmac_sha256(key, key_len, msg, len,
                                                    mac), 0);
            assert_non_null(HMAC(EVP_sha256(), key, (int) key_len, msg, len,
                                 want, &want_len));
            assert_int_equal(want_len, 32);
            assert_memory_equal(mac, want, 32);
        }
    }
}

int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("sas token", test_token, token_cases),
        TABLE("sas verify", test_verify, verify_cases),
        TABLE("sas expiry", test_expiry, expiry_cases),
        TABLE("sas covers", test_covers, covers_cases),
        TABLE("sas make", test_make, make_cases),
        TABLE("connection string", test_connstr, connstr_cases),
        TABLE("key valid", test_key_valid, key_cases),
        TABLE("thumbprint", test_thumbprint, thumbprint_cases),
        TABLE("id valid", test_id, id_cases),
        TABLE("url decode", test_url_decode, url_decode_cases),
        TABLE("url encode", test_url_encode, url_encode_cases),
        TABLE("base64", test_base64, b64_cases),
        TABLE("base64 invalid", test_base64_bad, b64_bad_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_orders_device),
        cmocka_unit_test(test_orders_policy),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_id_bytes),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_key_generate),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_openssl),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("sas misc", misc, NULL, NULL);

    return failed != 0;
}
