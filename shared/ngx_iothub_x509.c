
/*
 * nginx-iothub: X.509 device authentication; see ngx_iothub_x509.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_iothub_x509.h"


#if (NGX_SSL)

static void ngx_iothub_x509_hex(char *out, X509 *cert, const EVP_MD *md);


ngx_int_t
ngx_iothub_x509_peer(ngx_connection_t *c, ngx_iothub_x509_t *x)
{
    X509  *cert;

    ngx_memzero(x, sizeof(ngx_iothub_x509_t));

    if (c->ssl == NULL) {
        return NGX_DECLINED;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        return NGX_DECLINED;
    }

    ngx_iothub_x509_hex(x->sha1, cert, EVP_sha1());
    ngx_iothub_x509_hex(x->sha256, cert, EVP_sha256());

    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
                                  NID_commonName, x->cn, sizeof(x->cn))
        < 0)
    {
        x->cn[0] = '\0';
    }

    x->current = X509_cmp_current_time(X509_get_notBefore(cert)) < 0
                 && X509_cmp_current_time(X509_get_notAfter(cert)) > 0;

    x->verified = SSL_get_verify_result(c->ssl->connection) == X509_V_OK;

    X509_free(cert);

    return NGX_OK;
}


static void
ngx_iothub_x509_hex(char *out, X509 *cert, const EVP_MD *md)
{
    u_char        *p;
    u_char         digest[EVP_MAX_MD_SIZE];
    unsigned int   n, i;

    out[0] = '\0';

    if (X509_digest(cert, md, digest, &n) != 1) {
        return;
    }

    p = (u_char *) out;

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "%02XD", (uint32_t) digest[i]);
    }

    *p = '\0';
}

#else

ngx_int_t
ngx_iothub_x509_peer(ngx_connection_t *c, ngx_iothub_x509_t *x)
{
    return NGX_DECLINED;
}

#endif


const char *
ngx_iothub_x509_authorize(ngx_iothub_x509_t *x, ngx_iothub_identity_t *id)
{
    const char  *name;

    if (!x->current) {
        return "the client certificate is expired or not yet valid";
    }

    if (ngx_strcmp(id->auth_type, "selfSigned") == 0) {
        if ((id->primary_thumbprint[0]
             && (ngx_strcasecmp((u_char *) id->primary_thumbprint,
                                (u_char *) x->sha1) == 0
                 || ngx_strcasecmp((u_char *) id->primary_thumbprint,
                                   (u_char *) x->sha256) == 0))
            || (id->secondary_thumbprint[0]
                && (ngx_strcasecmp((u_char *) id->secondary_thumbprint,
                                   (u_char *) x->sha1) == 0
                    || ngx_strcasecmp((u_char *) id->secondary_thumbprint,
                                      (u_char *) x->sha256) == 0)))
        {
            return NULL;
        }

        return "the client certificate's thumbprint is not registered";
    }

    if (ngx_strcmp(id->auth_type, "certificateAuthority") == 0) {
        if (!x->verified) {
            return "the client certificate does not chain to a trusted CA";
        }

        name = id->module_id[0] ? id->module_id : id->device_id;

        if (ngx_strcmp(x->cn, name) != 0) {
            return "the client certificate's common name is not the "
                   "identity's id";
        }

        return NULL;
    }

    return "the identity does not authenticate with certificates";
}
