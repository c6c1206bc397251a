
/*
 * nginx-iothub: X.509 device authentication (auth.md 5) from the client
 * certificate nginx's TLS layer received, protocol-neutral.
 */


#ifndef _NGX_IOTHUB_X509_H_INCLUDED_
#define _NGX_IOTHUB_X509_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub_identity.h"


typedef struct {
    char                       sha1[41];      /* upper-case hex */
    char                       sha256[65];
    char                       cn[129];       /* subject common name */
    unsigned                   verified:1;    /* chain to a trusted CA */
    unsigned                   current:1;     /* within its validity */
} ngx_iothub_x509_t;


/* NGX_OK with the certificate's facts, NGX_DECLINED when there is none. */
ngx_int_t ngx_iothub_x509_peer(ngx_connection_t *c, ngx_iothub_x509_t *x);

/*
 * NULL when the certificate authenticates the identity: selfSigned by
 * thumbprint (SHA-1 or SHA-256, any case), certificateAuthority by a
 * verified chain and the common name (the module id for modules, else the
 * device id); else the reason, for the log.
 */
const char *ngx_iothub_x509_authorize(ngx_iothub_x509_t *x,
    ngx_iothub_identity_t *id);


#endif /* _NGX_IOTHUB_X509_H_INCLUDED_ */
