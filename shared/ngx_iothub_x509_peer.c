
/*
 * Copyright (C) nginx-iothub authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_iothub_x509.h"


#if (NGX_SSL)

static void ngx_iothub_x509_cleanup(void *data);


ngx_int_t
ngx_iothub_x509_peer(ngx_connection_t *c, ngx_pool_t *pool,
    ngx_iothub_x509_t *x)
{
    X509                *cert;
    ngx_int_t            verified;
    ngx_pool_cleanup_t  *cln;

    ngx_memzero(x, sizeof(ngx_iothub_x509_t));

    if (c->ssl == NULL) {
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        return NGX_DECLINED;
    }

    verified = SSL_get_verify_result(c->ssl->connection) == X509_V_OK;

    ngx_iothub_x509_inspect(x, cert, verified);

    X509_free(cert);

    cln->handler = ngx_iothub_x509_cleanup;
    cln->data = x;

    return NGX_OK;
}


static void
ngx_iothub_x509_cleanup(void *data)
{
    ngx_iothub_x509_t  *x = data;

    ngx_iothub_x509_free(x);
}


/*
 * SSL_new() copies its context's CA name lists (ssl_client_certificate's
 * subjects, sent in a CertificateRequest) into every connection, name by
 * name; only a handshake reads them.  Without its own lists a connection
 * answers SSL_get_client_CA_list() and SSL_get0_CA_list() with the
 * context's, the same names.
 */

void
ngx_iothub_x509_release_ca_names(ngx_connection_t *c)
{
    if (c->ssl == NULL || !SSL_is_init_finished(c->ssl->connection)) {
        return;
    }

    SSL_set_client_CA_list(c->ssl->connection, NULL);
    SSL_set0_CA_list(c->ssl->connection, NULL);
}

#else

ngx_int_t
ngx_iothub_x509_peer(ngx_connection_t *c, ngx_pool_t *pool,
    ngx_iothub_x509_t *x)
{
    return NGX_DECLINED;
}


void
ngx_iothub_x509_release_ca_names(ngx_connection_t *c)
{
}

#endif
