
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_x509.c: the facts of a client
 * certificate and the X.509 authorization decision (auth.md 5; issue 8,
 * defect 8).  The certificates are made here with OpenSSL: EC P-256 keys,
 * subjects with any common names (a NUL byte, two names, a BMPString, a
 * name longer than any id), validity in the past.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "unit_table.h"

#include "ngx_iothub_x509.h"


#define CN_MAX  4
#define LONG_ID                                                               \
    "0123456789012345678901234567890123456789012345678901234567890123"        \
    "0123456789012345678901234567890123456789012345678901234567890123"


typedef enum {
    TP_NONE = 0,         /* no thumbprint registered */
    TP_SHA1,             /* the certificate's SHA-1, as computed */
    TP_SHA1_LOWER,
    TP_SHA256,
    TP_SECONDARY,        /* SHA-1 as the secondary thumbprint */
    TP_OTHER             /* another certificate's */
} thumbprint_e;


typedef struct {
    const char            *value;
    size_t                 len;          /* 0: strlen(value) */
    int                    bmp;          /* a BMPString, else UTF8String */
} cn_t;


typedef struct {
    const char            *name;
    cn_t                   cn[CN_MAX];   /* ends at value NULL */
    int                    expired;
    int                    verified;
    const char            *auth_type;
    const char            *device_id;
    const char            *module_id;
    thumbprint_e           thumbprint;
    const char            *why;          /* NULL: authorized */
} x509_case_t;


static X509 *make_cert(EVP_PKEY *key, const cn_t *cn, int expired);
static void add_bmp_cn(X509_NAME *name, const char *value, size_t len);
static void lower(char *s);
static void test_authorize(void **state);
static void test_inspect(void **state);


static const x509_case_t  x509_cases[] = {

    /* selfSigned: the thumbprint decides (auth.md 5) */

    { "selfSigned, SHA-1 thumbprint", { { "dev1", 0, 0 } }, 0, 0,
      "selfSigned", "dev1", "", TP_SHA1, NULL },
    { "selfSigned, thumbprint in lower case", { { "dev1", 0, 0 } }, 0, 0,
      "selfSigned", "dev1", "", TP_SHA1_LOWER, NULL },
    { "selfSigned, SHA-256 thumbprint", { { "dev1", 0, 0 } }, 0, 0,
      "selfSigned", "dev1", "", TP_SHA256, NULL },
    { "selfSigned, secondary thumbprint", { { "dev1", 0, 0 } }, 0, 0,
      "selfSigned", "dev1", "", TP_SECONDARY, NULL },
    { "selfSigned, the CN need not be the id", { { "other", 0, 0 } }, 0, 0,
      "selfSigned", "dev1", "", TP_SHA1, NULL },
    { "selfSigned, another certificate's thumbprint", { { "dev1", 0, 0 } },
      0, 0, "selfSigned", "dev1", "", TP_OTHER,
      "the client certificate's thumbprint is not registered" },
    { "selfSigned, no thumbprint registered", { { "dev1", 0, 0 } }, 0, 0,
      "selfSigned", "dev1", "", TP_NONE,
      "the client certificate's thumbprint is not registered" },
    { "selfSigned, expired", { { "dev1", 0, 0 } }, 1, 0, "selfSigned",
      "dev1", "", TP_SHA1,
      "the client certificate is expired or not yet valid" },
    { "selfSigned, a NUL byte in the CN", { { "dev1\0evil", 9, 0 } }, 0, 0,
      "selfSigned", "dev1", "", TP_SHA1,
      "the client certificate's common name holds a NUL byte" },
    { "selfSigned, two CNs", { { "dev1", 0, 0 }, { "dev2", 0, 0 } }, 0, 0,
      "selfSigned", "dev1", "", TP_SHA1,
      "the client certificate's subject has more than one common name" },

    /* certificateAuthority: a verified chain and CN == id */

    { "CA, CN is the device id", { { "dev1", 0, 0 } }, 0, 1,
      "certificateAuthority", "dev1", "", TP_NONE, NULL },
    { "CA, CN of another device", { { "dev2", 0, 0 } }, 0, 1,
      "certificateAuthority", "dev1", "", TP_NONE,
      "the client certificate's common name is not the identity's id" },
    { "CA, CN differs in case", { { "DEV1", 0, 0 } }, 0, 1,
      "certificateAuthority", "dev1", "", TP_NONE,
      "the client certificate's common name is not the identity's id" },
    { "CA, CN a prefix of the id", { { "dev", 0, 0 } }, 0, 1,
      "certificateAuthority", "dev1", "", TP_NONE,
      "the client certificate's common name is not the identity's id" },
    { "CA, chain not verified", { { "dev1", 0, 0 } }, 0, 0,
      "certificateAuthority", "dev1", "", TP_NONE,
      "the client certificate does not chain to a trusted CA" },
    { "CA, expired", { { "dev1", 0, 0 } }, 1, 1, "certificateAuthority",
      "dev1", "", TP_NONE,
      "the client certificate is expired or not yet valid" },
    { "CA, no CN", { { NULL, 0, 0 } }, 0, 1, "certificateAuthority", "dev1",
      "", TP_NONE, "the client certificate has no common name" },
    { "CA, CN with a NUL byte after the device id",
      { { "dev1\0evil", 9, 0 } }, 0, 1, "certificateAuthority", "dev1", "",
      TP_NONE, "the client certificate's common name holds a NUL byte" },
    { "CA, CN of the id then a NUL byte", { { "dev1\0", 5, 0 } }, 0, 1,
      "certificateAuthority", "dev1", "", TP_NONE,
      "the client certificate's common name holds a NUL byte" },
    { "CA, the id's CN first of two", { { "dev1", 0, 0 }, { "x", 0, 0 } },
      0, 1, "certificateAuthority", "dev1", "", TP_NONE,
      "the client certificate's subject has more than one common name" },
    { "CA, the id's CN second of two", { { "x", 0, 0 }, { "dev1", 0, 0 } },
      0, 1, "certificateAuthority", "dev1", "", TP_NONE,
      "the client certificate's subject has more than one common name" },
    { "CA, a 128-byte id", { { LONG_ID, 0, 0 } }, 0, 1,
      "certificateAuthority", LONG_ID, "", TP_NONE, NULL },
    { "CA, a CN longer than the 128-byte id it starts with",
      { { LONG_ID "x", 0, 0 } }, 0, 1, "certificateAuthority", LONG_ID, "",
      TP_NONE,
      "the client certificate's common name is not the identity's id" },
    { "CA, CN as a BMPString", { { "dev1", 0, 1 } },
      0, 1, "certificateAuthority", "dev1", "", TP_NONE, NULL },
    { "CA, CN as UTF-8 beyond ASCII", { { "d\xc3\xa9v", 0, 0 } }, 0, 1,
      "certificateAuthority", "d\xc3\xa9v", "", TP_NONE, NULL },

    /* modules: CN == module id (auth.md 5) */

    { "CA module, CN is the module id", { { "m1", 0, 0 } }, 0, 1,
      "certificateAuthority", "dev1", "m1", TP_NONE, NULL },
    { "CA module, CN is the device id", { { "dev1", 0, 0 } }, 0, 1,
      "certificateAuthority", "dev1", "m1", TP_NONE,
      "the client certificate's common name is not the identity's id" },

    /* other types */

    { "sas identity", { { "dev1", 0, 0 } }, 0, 1, "sas", "dev1", "",
      TP_SHA1, "the identity does not authenticate with certificates" },
    { "none identity", { { "dev1", 0, 0 } }, 0, 1, "none", "dev1", "",
      TP_SHA1, "the identity does not authenticate with certificates" },
};


static X509 *
make_cert(EVP_PKEY *key, const cn_t *cn, int expired)
{
    int         i, rc;
    size_t      len;
    X509       *cert;
    X509_NAME  *name;

    cert = X509_new();
    assert_non_null(cert);

    assert_int_equal(X509_set_version(cert, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(cert), 1), 1);

    if (expired) {
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert),
                                        -3 * 86400));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), -86400));

    } else {
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), -60));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), 86400));
    }

    name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               (const unsigned char *) "nginx-iothub", -1, -1,
                               0);

    for (i = 0; i < CN_MAX && cn[i].value != NULL; i++) {
        len = cn[i].len ? cn[i].len : strlen(cn[i].value);

        if (cn[i].bmp) {
            add_bmp_cn(name, cn[i].value, len);
            continue;
        }

        /* an explicit length: a NUL byte goes in as it is */
        rc = X509_NAME_add_entry_by_NID(name, NID_commonName,
                                        V_ASN1_UTF8STRING,
                                        (const unsigned char *) cn[i].value,
                                        len, -1, 0);
        assert_int_equal(rc, 1);
    }

    assert_int_equal(X509_set_issuer_name(cert, name), 1);
    assert_int_equal(X509_set_pubkey(cert, key), 1);
    assert_true(X509_sign(cert, key, EVP_sha256()) > 0);

    return cert;
}


static void
add_bmp_cn(X509_NAME *name, const char *value, size_t len)
{
    ASN1_STRING      *s;
    X509_NAME_ENTRY  *e;

    s = NULL;
    assert_true(ASN1_mbstring_copy(&s, (const unsigned char *) value, len,
                                   MBSTRING_ASC, B_ASN1_BMPSTRING)
                > 0);

    e = X509_NAME_ENTRY_create_by_NID(NULL, NID_commonName, V_ASN1_BMPSTRING,
                                      ASN1_STRING_get0_data(s),
                                      ASN1_STRING_length(s));
    assert_non_null(e);
    assert_int_equal(X509_NAME_add_entry(name, e, -1, 0), 1);

    X509_NAME_ENTRY_free(e);
    ASN1_STRING_free(s);
}


static void
lower(char *s)
{
    for ( ; *s; s++) {
        if (*s >= 'A' && *s <= 'Z') {
            *s |= 0x20;
        }
    }
}


static void
test_authorize(void **state)
{
    X509                   *cert, *other;
    EVP_PKEY               *key;
    const char             *why;
    ngx_iothub_x509_t       x, o;
    ngx_iothub_identity_t   id;
    const x509_case_t      *tc = *state;

    static const cn_t       other_cn[] = { { "dev1", 0, 0 }, { NULL, 0, 0 } };

    key = EVP_EC_gen("P-256");
    assert_non_null(key);

    cert = make_cert(key, tc->cn, tc->expired);
    ngx_iothub_x509_inspect(&x, cert, tc->verified);

    memset(&id, 0, sizeof(id));
    strcpy(id.device_id, tc->device_id);
    strcpy(id.module_id, tc->module_id);
    strcpy(id.auth_type, tc->auth_type);

    switch (tc->thumbprint) {

    case TP_SHA1:
        strcpy(id.primary_thumbprint, x.sha1);
        break;

    case TP_SHA1_LOWER:
        strcpy(id.primary_thumbprint, x.sha1);
        lower(id.primary_thumbprint);
        break;

    case TP_SHA256:
        strcpy(id.primary_thumbprint, x.sha256);
        break;

    case TP_SECONDARY:
        strcpy(id.primary_thumbprint, "00");
        strcpy(id.secondary_thumbprint, x.sha1);
        break;

    case TP_OTHER:
        other = make_cert(key, other_cn, 0);
        ngx_iothub_x509_inspect(&o, other, 0);
        strcpy(id.primary_thumbprint, o.sha1);
        strcpy(id.secondary_thumbprint, o.sha256);
        ngx_iothub_x509_free(&o);
        X509_free(other);
        break;

    default:
        break;
    }

    why = ngx_iothub_x509_authorize(&x, &id);

    if (tc->why == NULL) {
        assert_null(why);

    } else {
        assert_non_null(why);
        assert_string_equal(why, tc->why);
    }

    ngx_iothub_x509_free(&x);
    assert_null(x.cn);

    X509_free(cert);
    EVP_PKEY_free(key);
}


/* the facts themselves: thumbprints as openssl x509 -fingerprint, the CN */

static void
test_inspect(void **state)
{
    X509               *cert;
    EVP_PKEY           *key;
    char                hex[2 * EVP_MAX_MD_SIZE + 1];
    unsigned int        n, i;
    unsigned char       md[EVP_MAX_MD_SIZE];
    ngx_iothub_x509_t   x;

    static const cn_t   cn[] = { { "dev\0x", 5, 0 }, { NULL, 0, 0 } };
    static const cn_t   two[] = { { "a", 0, 0 }, { "b", 0, 0 },
                                  { NULL, 0, 0 } };

    (void) state;

    key = EVP_EC_gen("P-256");
    assert_non_null(key);

    cert = make_cert(key, cn, 0);
    ngx_iothub_x509_inspect(&x, cert, 1);

    assert_int_equal(X509_digest(cert, EVP_sha1(), md, &n), 1);

    for (i = 0; i < n; i++) {
        sprintf(hex + 2 * i, "%02X", md[i]);
    }

    assert_string_equal(x.sha1, hex);

    assert_int_equal(X509_digest(cert, EVP_sha256(), md, &n), 1);

    for (i = 0; i < n; i++) {
        sprintf(hex + 2 * i, "%02X", md[i]);
    }

    assert_string_equal(x.sha256, hex);

    assert_int_equal(x.cn_count, 1);
    assert_int_equal(x.cn_len, 5);
    assert_memory_equal(x.cn, "dev\0x", 5);
    assert_true(x.verified);
    assert_true(x.current);

    ngx_iothub_x509_free(&x);
    X509_free(cert);

    cert = make_cert(key, two, 1);
    ngx_iothub_x509_inspect(&x, cert, 0);

    assert_int_equal(x.cn_count, 2);
    assert_null(x.cn);
    assert_false(x.verified);
    assert_false(x.current);

    ngx_iothub_x509_free(&x);
    X509_free(cert);
    EVP_PKEY_free(key);
}


int
main(void)
{
    int     failed;

    static const table_t  tables[] = {
        TABLE("x509 authorize", test_authorize, x509_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_inspect),
    };

    failed = run_table(&tables[0]);

    failed += cmocka_run_group_tests_name("x509 inspect", misc, NULL, NULL);

    return failed != 0;
}
