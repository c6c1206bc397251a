
/*
 * Copyright (C) nginx-iothub authors
 */


#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ngx_iothub_x509.h"


static void ngx_iothub_x509_hex(char *out, X509 *cert, const EVP_MD *md);
static void ngx_iothub_x509_cn(ngx_iothub_x509_t *x, X509 *cert);
static const char *ngx_iothub_x509_cn_check(const ngx_iothub_x509_t *x);
static int ngx_iothub_x509_thumbprint_match(const ngx_iothub_x509_t *x,
    const ngx_iothub_identity_t *id);


void
ngx_iothub_x509_inspect(ngx_iothub_x509_t *x, X509 *cert, int verified)
{
    memset(x, 0, sizeof(ngx_iothub_x509_t));

    ngx_iothub_x509_hex(x->sha1, cert, EVP_sha1());
    ngx_iothub_x509_hex(x->sha256, cert, EVP_sha256());

    x->current = X509_cmp_current_time(X509_get0_notBefore(cert)) < 0
                 && X509_cmp_current_time(X509_get0_notAfter(cert)) > 0;

    x->verified = verified != 0;

    ngx_iothub_x509_cn(x, cert);
}


void
ngx_iothub_x509_free(ngx_iothub_x509_t *x)
{
    if (x->cn != NULL) {
        OPENSSL_free(x->cn);
        x->cn = NULL;
        x->cn_len = 0;
    }
}


static void
ngx_iothub_x509_hex(char *out, X509 *cert, const EVP_MD *md)
{
    unsigned int   n, i;
    unsigned char  digest[EVP_MAX_MD_SIZE];

    static const char  hex[] = "0123456789ABCDEF";

    out[0] = '\0';

    if (X509_digest(cert, md, digest, &n) != 1) {
        return;
    }

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }

    out[2 * n] = '\0';
}


/*
 * Counts the subject's common names and converts the only one to UTF-8,
 * whole: a name cut to a buffer could equal another identity's id.
 */

static void
ngx_iothub_x509_cn(ngx_iothub_x509_t *x, X509 *cert)
{
    int               i, n, only;
    X509_NAME        *name;
    ASN1_STRING      *data;
    unsigned char    *utf8;

    name = X509_get_subject_name(cert);
    if (name == NULL) {
        return;
    }

    only = -1;

    for (i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
         i >= 0;
         i = X509_NAME_get_index_by_NID(name, NID_commonName, i))
    {
        only = i;
        x->cn_count++;
    }

    if (x->cn_count != 1) {
        return;
    }

    data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, only));

    utf8 = NULL;
    n = ASN1_STRING_to_UTF8(&utf8, data);

    if (n < 0) {
        /* a bad encoding (or no memory): cn stays NULL and is refused */
        ERR_clear_error();
        return;
    }

    x->cn = utf8;
    x->cn_len = n;
}


const char *
ngx_iothub_x509_authorize(const ngx_iothub_x509_t *x,
    const ngx_iothub_identity_t *id)
{
    size_t       len;
    const char  *name, *why;

    if (!x->current) {
        return "the client certificate is expired or not yet valid";
    }

    why = ngx_iothub_x509_cn_check(x);
    if (why != NULL) {
        return why;
    }

    if (strcmp(id->auth_type, "selfSigned") == 0) {
        if (ngx_iothub_x509_thumbprint_match(x, id)) {
            return NULL;
        }

        return "the client certificate's thumbprint is not registered";
    }

    if (strcmp(id->auth_type, "certificateAuthority") == 0) {
        if (!x->verified) {
            return "the client certificate does not chain to a trusted CA";
        }

        if (x->cn == NULL) {
            return "the client certificate has no common name";
        }

        /* auth.md 5: CN == module id for a module, else the device id */
        name = id->module_id[0] ? id->module_id : id->device_id;
        len = strlen(name);

        if (x->cn_len != len || memcmp(x->cn, name, len) != 0) {
            return "the client certificate's common name is not the "
                   "identity's id";
        }

        return NULL;
    }

    return "the identity does not authenticate with certificates";
}


static const char *
ngx_iothub_x509_cn_check(const ngx_iothub_x509_t *x)
{
    if (x->cn_count > 1) {
        return "the client certificate's subject has more than one "
               "common name";
    }

    if (x->cn_count == 1 && x->cn == NULL) {
        return "the client certificate's common name is not a valid string";
    }

    if (x->cn != NULL && memchr(x->cn, '\0', x->cn_len) != NULL) {
        return "the client certificate's common name holds a NUL byte";
    }

    return NULL;
}


static int
ngx_iothub_x509_thumbprint_match(const ngx_iothub_x509_t *x,
    const ngx_iothub_identity_t *id)
{
    size_t       i;
    const char  *tp[2];

    tp[0] = id->primary_thumbprint;
    tp[1] = id->secondary_thumbprint;

    for (i = 0; i < 2; i++) {
        if (tp[i][0] == '\0') {
            continue;
        }

        if ((x->sha1[0] != '\0' && strcasecmp(tp[i], x->sha1) == 0)
            || (x->sha256[0] != '\0' && strcasecmp(tp[i], x->sha256) == 0))
        {
            return 1;
        }
    }

    return 0;
}
