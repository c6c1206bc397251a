
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: the Azure Blob Storage words the hub speaks for file
 * upload (rest.md 14.4): the storage connection string, the service SAS
 * of a blob (sv, sr, sp, se, sig: HMAC-SHA256 with the account key over
 * the string to sign of the SAS version), a request's query, the block
 * list XML of Put Block List, block ids and blob paths.  Pure C (libc,
 * OpenSSL, ngx_iothub_sas.c); unit-tested and fuzzed.
 */


#ifndef _NGX_IOTHUB_BLOB_SAS_H_INCLUDED_
#define _NGX_IOTHUB_BLOB_SAS_H_INCLUDED_


#include <stddef.h>

#include "ngx_iothub_sas.h"


/* the SAS version the hub issues (with signedResource, snapshot time) */
#define NGX_IOTHUB_BLOB_SAS_VERSION     "2019-02-02"

#define NGX_IOTHUB_BLOB_ACCOUNT_MAX     64
#define NGX_IOTHUB_BLOB_HOST_MAX        256
#define NGX_IOTHUB_BLOB_CONTAINER_MIN   3
#define NGX_IOTHUB_BLOB_CONTAINER_MAX   63
#define NGX_IOTHUB_BLOB_NAME_MAX        1024
#define NGX_IOTHUB_BLOB_KEY_MAX         128       /* decoded account key */
#define NGX_IOTHUB_BLOB_BLOCK_ID_MAX    64        /* decoded block id */
#define NGX_IOTHUB_BLOB_BLOCK_NAME_LEN  (2 * NGX_IOTHUB_BLOB_BLOCK_ID_MAX)

/* "?sv=...&sr=b&sig=<url-encoded 44>&se=<url-encoded time>&sp=rw" */
#define NGX_IOTHUB_BLOB_SAS_TOKEN_MAX   160


/* the query fields that enter the signature, in their string's order */
typedef enum {
    NGX_IOTHUB_BLOB_Q_SP = 0,
    NGX_IOTHUB_BLOB_Q_ST,
    NGX_IOTHUB_BLOB_Q_SE,
    NGX_IOTHUB_BLOB_Q_SI,
    NGX_IOTHUB_BLOB_Q_SIP,
    NGX_IOTHUB_BLOB_Q_SPR,
    NGX_IOTHUB_BLOB_Q_SV,
    NGX_IOTHUB_BLOB_Q_SR,
    NGX_IOTHUB_BLOB_Q_SNAPSHOT,
    NGX_IOTHUB_BLOB_Q_SES,
    NGX_IOTHUB_BLOB_Q_RSCC,
    NGX_IOTHUB_BLOB_Q_RSCD,
    NGX_IOTHUB_BLOB_Q_RSCE,
    NGX_IOTHUB_BLOB_Q_RSCL,
    NGX_IOTHUB_BLOB_Q_RSCT,
    NGX_IOTHUB_BLOB_Q_SIG,
    NGX_IOTHUB_BLOB_Q_COMP,
    NGX_IOTHUB_BLOB_Q_BLOCKID,
    NGX_IOTHUB_BLOB_Q_COUNT
} ngx_iothub_blob_q_e;


typedef enum {
    NGX_IOTHUB_BLOB_OK = 0,
    NGX_IOTHUB_BLOB_MALFORMED,        /* repeated or undecodable field */
    NGX_IOTHUB_BLOB_NO_SAS,           /* sig, sv, sr, sp or se missing */
    NGX_IOTHUB_BLOB_BAD_SIGNATURE,    /* also: signed for another blob */
    NGX_IOTHUB_BLOB_EXPIRED,          /* past se, or before st */
    NGX_IOTHUB_BLOB_NO_PERMISSION     /* sp lacks what the request does */
} ngx_iothub_blob_rc_e;


/* a request's query: each field as sent (percent-encoded), len 0: absent */
typedef struct {
    ngx_iothub_span_t          f[NGX_IOTHUB_BLOB_Q_COUNT];
} ngx_iothub_blob_query_t;


/* what a request asks of a SAS; container and blob are decoded */
typedef struct {
    const char                *account;
    const unsigned char       *key;         /* the decoded account key */
    size_t                     key_len;
    const unsigned char       *container;
    size_t                     container_len;
    const unsigned char       *blob;
    size_t                     blob_len;
    char                       permission;  /* 'r' or 'w' */
    long long                  now;         /* seconds since the epoch */
} ngx_iothub_blob_access_t;


/* a storage connection string (DefaultEndpointsProtocol=...;...) */
typedef struct {
    char                       account[NGX_IOTHUB_BLOB_ACCOUNT_MAX + 1];
    unsigned char              key[NGX_IOTHUB_BLOB_KEY_MAX];
    size_t                     key_len;
    /* the hostName of an upload: "acct.blob.core.windows.net", or a
     * BlobEndpoint without its scheme, "localhost:8443/acct" */
    char                       host[NGX_IOTHUB_BLOB_HOST_MAX + 1];
    /* the BlobEndpoint's path, "/acct", or "" */
    char                       path[NGX_IOTHUB_BLOB_HOST_MAX + 1];
} ngx_iothub_blob_connstr_t;


/*
 * Reads AccountName, AccountKey (base64, 16..128 bytes), and
 * BlobEndpoint ("https:" "//host[:port][/path]") or EndpointSuffix (default
 * core.windows.net); other keys are ignored.  MALFORMED when a part has
 * no "=", a needed key is missing, or a value does not fit.
 */
ngx_iothub_blob_rc_e ngx_iothub_blob_connstr_parse(
    ngx_iothub_blob_connstr_t *cs, const unsigned char *text, size_t len);

/*
 * Splits a query string (without "?") at "&"; the fields of
 * ngx_iothub_blob_q_e are kept as sent, others ignored.  MALFORMED when
 * one of ours comes twice.  q is fully overwritten.
 */
ngx_iothub_blob_rc_e ngx_iothub_blob_query_parse(ngx_iothub_blob_query_t *q,
    const unsigned char *args, size_t len);

/*
 * The service SAS check: the query must hold sig, sv, sr ("b" or "c"),
 * sp and se; sig must be the HMAC of the string to sign of version sv
 * for the canonical resource "/blob/<account>/<container>[/<blob>]";
 * se must be after a->now (st, when present, not after it) and sp must
 * hold a->permission ("w" is also granted by "c").  The checks run in
 * this order; the first that fails is the answer.
 */
ngx_iothub_blob_rc_e ngx_iothub_blob_sas_check(
    const ngx_iothub_blob_query_t *q, const ngx_iothub_blob_access_t *a);

/*
 * Makes the SAS of an upload, "?sv=...&sr=b&sig=...&se=...&sp=rw", for
 * /<account>/<container>/<blob> (blob not encoded) expiring at expiry.
 * Returns the NUL-terminated token's length, or -1 when out is too
 * small or a part is too long.
 */
int ngx_iothub_blob_sas_make(char *out, size_t size,
    const ngx_iothub_blob_connstr_t *cs, const char *container,
    const char *blob, long long expiry);

/*
 * ISO 8601 UTC time "YYYY-MM-DD[THH:MM[:SS[.fff]]][Z]" as seconds since
 * the epoch; -1 when malformed.
 */
long long ngx_iothub_blob_time_parse(const unsigned char *s, size_t len);

/*
 * Writes t as "YYYY-MM-DDTHH:MM:SSZ" with a NUL (size >= 21); returns
 * its length or -1.
 */
int ngx_iothub_blob_time_format(char *out, size_t size, long long t);

/*
 * A request path under the store, "/<container>/<blob>": container is
 * 3..63 of a-z 0-9 and "-"; blob 1..1024 bytes of segments that are not
 * empty, "." or "..", with no NUL or "\\".  Returns 0 and the spans
 * (pointing into path), or -1.
 */
int ngx_iothub_blob_path_parse(const unsigned char *path, size_t len,
    ngx_iothub_span_t *container, ngx_iothub_span_t *blob);

/*
 * A block id as sent (percent-encoded base64 of 1..64 bytes) as a file
 * name: the decoded bytes in lower-case hex, NUL-terminated (size >=
 * NGX_IOTHUB_BLOB_BLOCK_NAME_LEN + 1).  Returns its length or -1.
 */
int ngx_iothub_blob_block_name(char *out, size_t size,
    const unsigned char *id, size_t len);

/*
 * Put Block List's body: <?xml ...?><BlockList> then <Latest>,
 * <Committed> or <Uncommitted> elements holding base64 block ids, then
 * </BlockList>; white space between elements.  Each id's span (into xml)
 * goes into ids[0..max-1]; *n is their count.  -1 when malformed, an id
 * is not base64 of 1..64 bytes, or there are more than max.
 */
int ngx_iothub_blob_block_list_parse(const unsigned char *xml, size_t len,
    ngx_iothub_span_t *ids, size_t max, size_t *n);

/*
 * A file upload's correlation id: 32 hex digits (the nonce) then the
 * blob path in base64url without padding, so that the notification
 * names its blob without asking Redis first; Redis keeps the nonce.
 */
#define NGX_IOTHUB_BLOB_NONCE_LEN        32
#define NGX_IOTHUB_BLOB_CORRELATION_MAX                                       \
    (NGX_IOTHUB_BLOB_NONCE_LEN + 4 * ((NGX_IOTHUB_BLOB_NAME_MAX + 2) / 3))

/*
 * Writes nonce (32 hex digits) and the base64url of path (1..1024 bytes)
 * into out with a NUL; returns the length or -1.
 */
int ngx_iothub_blob_correlation_make(char *out, size_t size,
    const char *nonce, const unsigned char *path, size_t len);

/*
 * Reads a correlation id back: the path into out with a NUL (size >=
 * NGX_IOTHUB_BLOB_NAME_MAX + 1), the nonce is its first 32 bytes.
 * Returns the path's length or -1 when malformed.
 */
int ngx_iothub_blob_correlation_parse(const unsigned char *cid, size_t len,
    char *out, size_t size);

/* the reason of a failed check, for logs and the Storage error message */
const char *ngx_iothub_blob_strerror(ngx_iothub_blob_rc_e rc);


#endif /* _NGX_IOTHUB_BLOB_SAS_H_INCLUDED_ */
