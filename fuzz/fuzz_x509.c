
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for shared/ngx_iothub_x509.c: what a device's client
 * certificate says (thumbprints, the subject's common names) and the
 * authorization decision on it (auth.md 5).  The first byte picks the
 * input's form:
 *
 *   - odd: the rest is a DER certificate as a peer sends it;
 *   - even: the rest builds a subject: up to 4 common names, each a type
 *     byte (UTF8String, BMPString, UniversalString, T61String,
 *     PrintableString, IA5String) and a length byte, then its bytes; what
 *     is left is an identity's device id (cut at '\n', then a module id).
 *
 * Besides memory errors it checks properties: a common name exists only
 * when the subject has exactly one; the thumbprints are upper-case hex of
 * the right length or empty; a certificate is never authorized for an
 * identity that does not use certificates, nor for a certificateAuthority
 * identity whose id differs from the common name, nor when its common name
 * holds a NUL byte.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishared \
 *       fuzz/fuzz_x509.c shared/ngx_iothub_x509.c -lcrypto -o fuzz_x509
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "ngx_iothub_x509.h"


#define fuzz_assert(expr)  if (!(expr)) abort()

#define FUZZ_CN_MAX  4


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const int  fuzz_cn_types[] = {
    V_ASN1_UTF8STRING, V_ASN1_BMPSTRING, V_ASN1_UNIVERSALSTRING,
    V_ASN1_T61STRING, V_ASN1_PRINTABLESTRING, V_ASN1_IA5STRING
};


/* a certificate (not signed: nothing here checks a signature) */

static X509 *
fuzz_build(const uint8_t **pos, const uint8_t *last)
{
    int              type;
    size_t           len, i, n;
    X509            *cert;
    X509_NAME       *name;
    const uint8_t   *p;

    p = *pos;

    cert = X509_new();
    if (cert == NULL) {
        return NULL;
    }

    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);

    name = X509_get_subject_name(cert);
    n = (p < last) ? *p++ % (FUZZ_CN_MAX + 1) : 0;

    for (i = 0; i < n && last - p >= 2; i++) {
        type = fuzz_cn_types[p[0] % (sizeof(fuzz_cn_types) / sizeof(int))];
        len = p[1];
        p += 2;

        if (len > (size_t) (last - p)) {
            len = last - p;
        }

        /* the bytes as they are, valid for their type or not */
        (void) X509_NAME_add_entry_by_NID(name, NID_commonName, type,
                                          (unsigned char *) p, (int) len,
                                          -1, 0);
        p += len;
    }

    *pos = p;

    return cert;
}


static void
fuzz_identity(ngx_iothub_identity_t *id, const uint8_t *p,
    const uint8_t *last, const char *auth_type, const char *thumbprint)
{
    size_t          len;
    const uint8_t  *nl;

    memset(id, 0, sizeof(ngx_iothub_identity_t));

    strncpy(id->auth_type, auth_type, sizeof(id->auth_type) - 1);
    strncpy(id->primary_thumbprint, thumbprint,
            sizeof(id->primary_thumbprint) - 1);

    nl = memchr(p, '\n', last - p);
    len = (nl ? nl : last) - p;

    if (len > sizeof(id->device_id) - 1) {
        len = sizeof(id->device_id) - 1;
    }

    memcpy(id->device_id, p, len);

    if (nl != NULL) {
        len = last - nl - 1;

        if (len > sizeof(id->module_id) - 1) {
            len = sizeof(id->module_id) - 1;
        }

        memcpy(id->module_id, nl + 1, len);
    }
}


static void
fuzz_check_hex(const char *s, size_t len)
{
    size_t  i;

    if (s[0] == '\0') {
        return;
    }

    fuzz_assert(strlen(s) == len);

    for (i = 0; i < len; i++) {
        fuzz_assert((s[i] >= '0' && s[i] <= '9')
                    || (s[i] >= 'A' && s[i] <= 'F'));
    }
}


static void
fuzz_check_authorize(const ngx_iothub_x509_t *x, const uint8_t *p,
    const uint8_t *last)
{
    size_t                 len;
    const char            *why, *name;
    ngx_iothub_identity_t  id;

    fuzz_identity(&id, p, last, "sas", x->sha1);
    fuzz_assert(ngx_iothub_x509_authorize(x, &id) != NULL);

    fuzz_identity(&id, p, last, "selfSigned", x->sha256);
    why = ngx_iothub_x509_authorize(x, &id);

    if (why == NULL) {
        fuzz_assert(x->current && x->cn_count <= 1);
        fuzz_assert(x->cn == NULL || memchr(x->cn, '\0', x->cn_len) == NULL);
    }

    fuzz_identity(&id, p, last, "certificateAuthority", "");
    why = ngx_iothub_x509_authorize(x, &id);

    if (why == NULL) {
        name = id.module_id[0] ? id.module_id : id.device_id;
        len = strlen(name);

        fuzz_assert(x->verified && x->cn != NULL && x->cn_count == 1);
        fuzz_assert(x->cn_len == len && memcmp(x->cn, name, len) == 0);
        fuzz_assert(memchr(x->cn, '\0', x->cn_len) == NULL);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   der;
    X509                 *cert;
    const uint8_t        *p, *last;
    ngx_iothub_x509_t     x;
    const unsigned char  *in;

    if (size < 1) {
        return 0;
    }

    der = data[0] & 1;
    p = data + 1;
    last = data + size;

    if (der) {
        in = p;
        cert = d2i_X509(NULL, &in, (long) (last - p));
        p = in;

    } else {
        cert = fuzz_build(&p, last);
    }

    if (cert == NULL) {
        return 0;
    }

    ngx_iothub_x509_inspect(&x, cert, data[0] & 2);

    fuzz_check_hex(x.sha1, 40);
    fuzz_check_hex(x.sha256, 64);
    fuzz_assert(x.cn == NULL || x.cn_count == 1);
    fuzz_assert(x.cn != NULL || x.cn_len == 0);

    fuzz_check_authorize(&x, p, last);

    ngx_iothub_x509_free(&x);
    fuzz_assert(x.cn == NULL);

    X509_free(cert);

    return 0;
}
