
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_SAS_H_INCLUDED_
#define _NGX_IOTHUB_SAS_H_INCLUDED_


/*
 * SAS tokens, connection strings and identity rules of Azure IoT Hub
 * (auth.md, sections 2-5).
 *
 * Pure C: libc and OpenSSL only, no nginx headers, no global mutable
 * state, nothing allocated.  Every function writes only into buffers the
 * caller passes; strings written are always NUL-terminated on success.
 */


#include <stddef.h>
#include <stdint.h>


#define NGX_IOTHUB_SAS_PREFIX        "SharedAccessSignature "

/* longest sr and se accepted as sent (sr still URL-encoded) */
#define NGX_IOTHUB_SAS_SR_MAX        3072
#define NGX_IOTHUB_SAS_SE_MAX        20

/* se above this is rejected: seconds, not milliseconds (auth.md 3.1) */
#define NGX_IOTHUB_SAS_EXPIRY_MAX    100000000000LL

#define NGX_IOTHUB_ID_MAX            128
#define NGX_IOTHUB_KEY_MIN           16
#define NGX_IOTHUB_KEY_MAX           64

/* a generated key: 32 random bytes, 44 base64 characters and a NUL */
#define NGX_IOTHUB_KEY_GENERATED_LEN 44


/* same layout as ngx_str_t */
typedef struct {
    size_t                 len;
    const unsigned char   *data;
} ngx_iothub_span_t;


typedef enum {
    NGX_IOTHUB_SAS_OK = 0,
    NGX_IOTHUB_SAS_MALFORMED,
    NGX_IOTHUB_SAS_EXPIRED,
    NGX_IOTHUB_SAS_BAD_SIGNATURE,
    NGX_IOTHUB_SAS_BAD_KEY,
    NGX_IOTHUB_SAS_NOT_COVERED
} ngx_iothub_sas_rc_e;


typedef struct {
    ngx_iothub_span_t      sr;
    ngx_iothub_span_t      sig;
    ngx_iothub_span_t      se;
    ngx_iothub_span_t      skn;
    long long              expiry;
    char                   policy[129];
    char                   host[256];
    char                   path[512];
    char                   device_id[129];
    char                   module_id[129];
} ngx_iothub_sas_token_t;


typedef enum {
    NGX_IOTHUB_CONNSTR_OK = 0,
    NGX_IOTHUB_CONNSTR_MALFORMED,
    NGX_IOTHUB_CONNSTR_MISSING_HOST,
    NGX_IOTHUB_CONNSTR_NO_CREDENTIAL,
    NGX_IOTHUB_CONNSTR_TOO_LONG
} ngx_iothub_connstr_rc_e;


typedef struct {
    char                   host_name[256];
    char                   device_id[129];
    char                   module_id[129];
    char                   key_name[129];
    char                   key[128];
    char                   signature[1024];
    char                   gateway_host_name[256];
    int                    x509;
} ngx_iothub_connstr_t;


/*
 * Parses "SharedAccessSignature sr=..&sig=..&se=..[&skn=..]": the prefix is
 * literal (one space), fields are "&"-separated "name=value" pairs split on
 * the first "=", in any order; unknown fields are ignored.  MALFORMED when
 * the prefix is wrong, a pair has no "=" or is empty, sr, sig or se is
 * missing, empty or repeated, skn is empty or repeated, sr or se is longer
 * than NGX_IOTHUB_SAS_SR_MAX or NGX_IOTHUB_SAS_SE_MAX, se is not decimal
 * digits or exceeds NGX_IOTHUB_SAS_EXPIRY_MAX, an escape is bad, a decoded
 * value holds a NUL or does not fit its buffer.
 *
 * The decoded sr is "[scheme://]host[/path]": a scheme ("sb://" of Event
 * Hubs audiences) is dropped, one trailing "/" is dropped, and a path with
 * an empty, "." or ".." segment is MALFORMED.  A path starting with
 * /devices/<id> sets device_id, followed by /modules/<mid> also module_id
 * (the words "devices" and "modules" in any case); ids must pass
 * ngx_iothub_id_valid() or the token is MALFORMED.
 *
 * The spans point into text, which must outlive the token; t is fully
 * overwritten.  The signature is not checked here.
 */
ngx_iothub_sas_rc_e ngx_iothub_sas_parse(ngx_iothub_sas_token_t *t,
    const unsigned char *text, size_t len);

/*
 * HMAC-SHA256 over sr as sent, "\n", se as sent, keyed with the base64
 * decoded key_b64, compared in constant time with the URL-decoded and
 * base64-decoded sig.  BAD_KEY when key_b64 is not valid base64, is empty
 * or decodes to more than 256 bytes; BAD_SIGNATURE on any sig mismatch,
 * including a sig that does not decode to 32 bytes.
 */
ngx_iothub_sas_rc_e ngx_iothub_sas_verify(const ngx_iothub_sas_token_t *t,
    const char *key_b64, size_t key_len);

/*
 * As ngx_iothub_sas_verify(), with key used as raw bytes: the Event
 * Hubs-compatible endpoint signs with the key string itself (auth.md 3.2).
 * BAD_KEY when key_len is 0.
 */
ngx_iothub_sas_rc_e ngx_iothub_sas_verify_raw(const ngx_iothub_sas_token_t *t,
    const unsigned char *key, size_t key_len);

/*
 * mac gets the 32 bytes of HMAC-SHA256(key, msg); 0, or -1 when OpenSSL
 * fails.  Not for threads: it keeps one digest context for the process.
 */
int ngx_iothub_hmac_sha256(const unsigned char *key, size_t key_len,
    const unsigned char *msg, size_t len, unsigned char *mac);

/* EXPIRED when t->expiry <= now (seconds since the epoch), else OK */
ngx_iothub_sas_rc_e ngx_iothub_sas_check_expiry(
    const ngx_iothub_sas_token_t *t, long long now);

/*
 * OK when the token's sr covers the resource host + path, else
 * NOT_COVERED.  host is compared ASCII case-insensitively.  path is the
 * decoded, normalized request path ("" or "/" is the hub itself); it is
 * covered when it starts with every segment of t->path ("/devices/a"
 * covers "/devices/a/modules/m", not "/devices/ab").  Segments compare
 * case-sensitively except the fixed words: "devices" as first segment and
 * "modules" as third segment after "devices".  NULL host or path is
 * NOT_COVERED.
 */
ngx_iothub_sas_rc_e ngx_iothub_sas_covers(const ngx_iothub_sas_token_t *t,
    const char *host, const char *path);

/* a constant lower-case description of rc for logs, e.g. "expired" */
const char *ngx_iothub_sas_strerror(ngx_iothub_sas_rc_e rc);

/*
 * Makes a token for the resource "host[/path]" (not encoded) signed with
 * the base64 key_b64 at expiry: sr and skn are encoded as
 * ngx_iothub_url_encode() does, skn is left out when NULL.  Writes the
 * NUL-terminated token into out and returns its length, or -1 when the
 * key is bad, the resource is empty or too long, expiry is out of
 * 0..NGX_IOTHUB_SAS_EXPIRY_MAX, or out is too small.
 */
int ngx_iothub_sas_make(char *out, size_t size, const char *resource,
    const char *key_b64, const char *skn, long long expiry);

/*
 * Parses a connection string "Key=value;Key=value": each pair is split on
 * the first "=", keys are case-sensitive, empty pairs (";;", a trailing
 * ";") are skipped, unknown keys are ignored.  Recognized keys: HostName,
 * DeviceId, ModuleId, SharedAccessKeyName, SharedAccessKey,
 * SharedAccessSignature, GatewayHostName, x509 ("true" or "false", any
 * case).
 *
 * MALFORMED: a pair without "=" or with an empty key, a recognized key
 * repeated, a NUL in text, ModuleId without DeviceId, a bad x509 value, or
 * more than one of SharedAccessKey, SharedAccessSignature, x509=true.
 * TOO_LONG: a value does not fit its field.  MISSING_HOST: no or empty
 * HostName.  NO_CREDENTIAL: none of a non-empty SharedAccessKey, a
 * non-empty SharedAccessSignature, x509=true.  cs is fully overwritten;
 * values are copied verbatim (not decoded, not validated).
 */
ngx_iothub_connstr_rc_e ngx_iothub_connstr_parse(ngx_iothub_connstr_t *cs,
    const char *text, size_t len);

/* 1 when b64 is canonical standard base64 of 16..64 bytes, else 0 */
int ngx_iothub_key_valid(const char *b64, size_t len);

/*
 * Writes base64 of 32 bytes from RAND_bytes() into out (size >= 45, see
 * NGX_IOTHUB_KEY_GENERATED_LEN).  Returns 0, or -1 when out is too small
 * or the generator fails.
 */
int ngx_iothub_key_generate(char *out, size_t size);

/*
 * Device and module id rule: 1..128 of ASCII letters, digits and
 * - . + % _ # * ? ! ( ) , = @ $ ' :   Returns 1 or 0.
 */
int ngx_iothub_id_valid(const unsigned char *id, size_t len);

/* X.509 thumbprint: exactly 40 or 64 hex digits, either case; 1 or 0 */
int ngx_iothub_thumbprint_valid(const char *s, size_t len);

/*
 * A decimal number as nginx's ngx_atoi() reads one on 64 bits: 1 or more
 * ASCII digits only (leading zeros allowed), at most INT64_MAX.  0, or -1.
 */
int ngx_iothub_decimal_parse(const unsigned char *p, size_t len,
    uint64_t *n);

/*
 * Percent-decoding; "+" stays "+" (sr is not form-encoded).  Writes the
 * NUL-terminated result into out and returns its length, or -1 on a bad or
 * truncated escape or when out is too small.  A decoded NUL is written as
 * is; callers wanting C strings compare the result with strlen().
 */
int ngx_iothub_url_decode(char *out, size_t size, const unsigned char *in,
    size_t len);

/*
 * Percent-encoding as encodeURIComponent: all but ASCII letters, digits
 * and - _ . ! ~ * ' ( ) become %XX with upper-case hex.  Writes the
 * NUL-terminated result into out; returns its length or -1 when out is too
 * small.
 */
int ngx_iothub_url_encode(char *out, size_t size, const unsigned char *in,
    size_t len);

/*
 * Standard base64 with padding.  encode writes a NUL-terminated string
 * (size >= 4 * ((len + 2) / 3) + 1).  decode accepts only canonical input:
 * length a multiple of 4, "=" only as final padding, unused bits zero, no
 * white space.  Both return the output length or -1.
 */
int ngx_iothub_base64_encode(char *out, size_t size, const unsigned char *in,
    size_t len);
int ngx_iothub_base64_decode(unsigned char *out, size_t size, const char *in,
    size_t len);


#endif /* _NGX_IOTHUB_SAS_H_INCLUDED_ */
