
/*
 * nginx-iothub: packed messages of a stream entry; see
 * ngx_iothub_d2c_pack.h.
 */


#include <string.h>

#include "ngx_iothub_d2c_pack.h"


size_t
ngx_iothub_d2c_pack_size(const ngx_iothub_args_t *args)
{
    int     i;
    size_t  size;

    size = NGX_IOTHUB_D2C_PACK_COUNT_LEN;

    for (i = 0; i < args->n; i++) {
        size += NGX_IOTHUB_D2C_PACK_LENGTH_LEN + args->lens[i] + 1;
    }

    return size;
}


unsigned char *
ngx_iothub_d2c_pack(unsigned char *p, const ngx_iothub_args_t *args)
{
    int     i;
    size_t  len, fields;

    fields = (size_t) args->n / 2;

    *p++ = (unsigned char) (fields >> 8);
    *p++ = (unsigned char) fields;

    for (i = 0; i < args->n; i++) {
        len = args->lens[i];

        *p++ = (unsigned char) (len >> 24);
        *p++ = (unsigned char) (len >> 16);
        *p++ = (unsigned char) (len >> 8);
        *p++ = (unsigned char) len;

        memcpy(p, args->argv[i], len);
        p += len;
        *p++ = '\0';
    }

    return p;
}


typedef struct {
    const char  *text;
    size_t       len;
} ngx_iothub_d2c_text_t;


#define ngx_iothub_d2c_text(s)  { s, sizeof(s) - 1 }

/* by code - 1 */
#define NGX_IOTHUB_D2C_NAMES  8

static const ngx_iothub_d2c_text_t
    ngx_iothub_d2c_names[NGX_IOTHUB_D2C_NAMES] =
{
    ngx_iothub_d2c_text("a:iothub-connection-device-id"),
    ngx_iothub_d2c_text("a:iothub-connection-module-id"),
    ngx_iothub_d2c_text("a:iothub-connection-auth-generation-id"),
    ngx_iothub_d2c_text("a:iothub-connection-auth-method"),
    ngx_iothub_d2c_text("a:iothub-enqueuedtime"),
    ngx_iothub_d2c_text("a:iothub-message-source"),
    ngx_iothub_d2c_text("a:dt-dataschema"),
    ngx_iothub_d2c_text("body"),
};


#define ngx_iothub_d2c_auth_json(scope, type)                                \
    ngx_iothub_d2c_text("{\"scope\":\"" scope "\",\"type\":\"" type "\","  \
                        "\"issuer\":\"iothub\",\"acceptingIpFilterRule\":null}")

/* by the value's byte: scope * 2 + x509 */
static const ngx_iothub_d2c_text_t
    ngx_iothub_d2c_auth_methods[NGX_IOTHUB_D2C_PACK_AUTH_METHODS] =
{
    ngx_iothub_d2c_auth_json("device", "sas"),
    ngx_iothub_d2c_auth_json("device", "x509Certificate"),
    ngx_iothub_d2c_auth_json("module", "sas"),
    ngx_iothub_d2c_auth_json("module", "x509Certificate"),
    ngx_iothub_d2c_auth_json("hub", "sas"),
    ngx_iothub_d2c_auth_json("hub", "x509Certificate"),
};

/* the values themselves: one byte each, NUL-ended */
static const char  ngx_iothub_d2c_auth_codes[] = "\0\0\1\0\2\0\3\0\4\0\5";


const char *
ngx_iothub_d2c_pack_auth_method(unsigned scope, unsigned x509)
{
    return &ngx_iothub_d2c_auth_codes[(scope * 2 + (x509 ? 1 : 0)) * 2];
}


int
ngx_iothub_d2c_unpack_name(const unsigned char **name, size_t *name_len,
    const unsigned char **value, size_t *value_len)
{
    size_t                        code;
    const ngx_iothub_d2c_text_t  *t;

    if (*name_len != 1 || (*name)[0] >= 0x20) {
        return 0;
    }

    code = (*name)[0];

    if (code == 0 || code > NGX_IOTHUB_D2C_NAMES) {
        return -1;
    }

    t = &ngx_iothub_d2c_names[code - 1];
    *name = (const unsigned char *) t->text;
    *name_len = t->len;

    if (code != (unsigned char) NGX_IOTHUB_D2C_PACK_AUTH_METHOD[0]) {
        return 0;
    }

    if (*value_len != 1 || (*value)[0] >= NGX_IOTHUB_D2C_PACK_AUTH_METHODS) {
        return -1;
    }

    t = &ngx_iothub_d2c_auth_methods[(*value)[0]];
    *value = (const unsigned char *) t->text;
    *value_len = t->len;

    return 0;
}
