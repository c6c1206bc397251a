
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_X509_H_INCLUDED_
#define _NGX_IOTHUB_X509_H_INCLUDED_


/*
 * X.509 device authentication (auth.md 5), protocol-neutral.
 *
 * ngx_iothub_x509.c is pure C (libc and OpenSSL, no nginx headers): it
 * reads the facts of a client certificate and decides whether they
 * authenticate an identity.  ngx_iothub_x509_peer.c is the nginx glue that
 * takes the certificate from a TLS connection.
 */


#include <stddef.h>

#include <openssl/x509.h>

#include "ngx_iothub_identity.h"


typedef struct {
    char                       sha1[41];      /* upper-case hex */
    char                       sha256[65];
    /*
     * The subject's common name, whole, as UTF-8 (it may hold a NUL byte:
     * compare with cn_len); OPENSSL_malloc()ed, NULL when there is none,
     * more than one, or it could not be converted (or memory ran out).
     */
    unsigned char             *cn;
    size_t                     cn_len;
    unsigned                   cn_count;      /* common names in the subject */
    unsigned                   verified:1;    /* chain to a trusted CA */
    unsigned                   current:1;     /* within its validity */
} ngx_iothub_x509_t;


/*
 * Fills x (zeroed first) with the facts of cert: thumbprints, the common
 * name, validity at the current time; "verified" is the TLS layer's chain
 * verdict.  The caller keeps cert; x->cn is freed by ngx_iothub_x509_free().
 */
void ngx_iothub_x509_inspect(ngx_iothub_x509_t *x, X509 *cert,
    int verified);

void ngx_iothub_x509_free(ngx_iothub_x509_t *x);

/*
 * NULL when the certificate authenticates the identity: selfSigned by
 * thumbprint (SHA-1 or SHA-256, any case), certificateAuthority by a
 * verified chain and a common name equal to the id (the module id for
 * modules, else the device id); else the reason, for the log.  A subject
 * with more than one common name, or one holding a NUL byte, is refused
 * for either type.
 */
const char *ngx_iothub_x509_authorize(const ngx_iothub_x509_t *x,
    const ngx_iothub_identity_t *id);


#if (defined _NGX_CORE_H_INCLUDED_)

/*
 * NGX_OK with the facts of the connection's client certificate (x->cn is
 * freed with pool, which must not outlive x: the connection's pool for a
 * session of the connection, the request's for an HTTP request),
 * NGX_DECLINED when there is none, NGX_ERROR when out of memory.
 */
ngx_int_t ngx_iothub_x509_peer(ngx_connection_t *c, ngx_pool_t *pool,
    ngx_iothub_x509_t *x);

/*
 * Once the connection's TLS handshake is done: drops the connection's own
 * copies of the CA names its context asks client certificates of (idle
 * memory; OpenSSL then answers with the context's lists).
 */
void ngx_iothub_x509_release_ca_names(ngx_connection_t *c);

#endif


#endif /* _NGX_IOTHUB_X509_H_INCLUDED_ */
