
/*
 * nginx-iothub http module: the REST service API's routes and its
 * authorization decision.  Pure C (libc and ngx_iothub_sas.c, no nginx
 * headers) so that unit tests and fuzzers link it alone; the module's
 * handler (ngx_http_iothub_module.c) feeds it the request and maps its
 * answers to responses.
 */


#ifndef _NGX_IOTHUB_HTTP_ROUTE_H_INCLUDED_
#define _NGX_IOTHUB_HTTP_ROUTE_H_INCLUDED_


#include <stddef.h>

#include "ngx_iothub_sas.h"


/* no route has more segments than this */
#define NGX_IOTHUB_HTTP_MAX_SEGMENTS     6

/* a request path longer than this is cut before the sr check */
#define NGX_IOTHUB_HTTP_PATH_MAX         511


/* request methods, as bits of a route's allowed set */
#define NGX_IOTHUB_HTTP_GET              0x01
#define NGX_IOTHUB_HTTP_PUT              0x02
#define NGX_IOTHUB_HTTP_POST             0x04
#define NGX_IOTHUB_HTTP_DELETE           0x08
#define NGX_IOTHUB_HTTP_PATCH            0x10
#define NGX_IOTHUB_HTTP_OTHER            0x20

/* a policy's rights; the same bits as NGX_IOTHUB_RIGHT_* of ngx_iothub.h */
#define NGX_IOTHUB_HTTP_REGISTRY_READ    0x01
#define NGX_IOTHUB_HTTP_REGISTRY_WRITE   0x02
#define NGX_IOTHUB_HTTP_SERVICE_CONNECT  0x04
#define NGX_IOTHUB_HTTP_DEVICE_CONNECT   0x08

/*
 * not a policy's right: a device route, authenticated with the
 * credentials of the device (or module) its path names (SAS token of the
 * identity or of a policy with device_connect, or a client certificate)
 */
#define NGX_IOTHUB_HTTP_DEVICE           0x100


typedef enum {
    NGX_IOTHUB_HTTP_ROUTE_DEVICES = 0,    /* /devices */
    NGX_IOTHUB_HTTP_ROUTE_DEVICE,         /* /devices/{id} */
    NGX_IOTHUB_HTTP_ROUTE_C2D_SEND,       /* /devices/{id}/messages/... */
    NGX_IOTHUB_HTTP_ROUTE_C2D_PURGE,      /* /devices/{id}/commands */
    NGX_IOTHUB_HTTP_ROUTE_MODULES,        /* /devices/{id}/modules */
    NGX_IOTHUB_HTTP_ROUTE_MODULE,         /* /devices/{id}/modules/{mid} */
    NGX_IOTHUB_HTTP_ROUTE_TWIN,           /* /twins/{id}[/modules/{mid}] */
    NGX_IOTHUB_HTTP_ROUTE_METHOD,         /* the twin's path + /methods */
    NGX_IOTHUB_HTTP_ROUTE_STATISTICS,     /* /statistics/devices */
    NGX_IOTHUB_HTTP_ROUTE_FEEDBACK,       /* /messages/serviceBound/feedback */
    NGX_IOTHUB_HTTP_ROUTE_FEEDBACK_LOCK,  /* + /{lockToken}[/abandon] */
    NGX_IOTHUB_HTTP_ROUTE_JOB,            /* /jobs/v2/{id}[/cancel] */
    NGX_IOTHUB_HTTP_ROUTE_JOBS_QUERY,     /* /jobs/v2/query */
    NGX_IOTHUB_HTTP_ROUTE_D2C,            /* /devices/{id}[/modules/{mid}]
                                             /messages/events, device */
    NGX_IOTHUB_HTTP_ROUTE_C2D_RECEIVE,    /* GET /devices/{id}/messages/
                                             deviceBound, device */
    NGX_IOTHUB_HTTP_ROUTE_C2D_SETTLE,     /* + /{lockToken}[/abandon] */
    NGX_IOTHUB_HTTP_ROUTE_FILES,          /* POST /devices/{id}/files */
    NGX_IOTHUB_HTTP_ROUTE_FILES_NOTIFY,   /* + /notifications[/{cid}] */
    NGX_IOTHUB_HTTP_ROUTE_QUERY,          /* /devices/query */
    NGX_IOTHUB_HTTP_ROUTE_EH_GROUPS,      /* /eventHubEndpoints/events/
                                             consumerGroups */
    NGX_IOTHUB_HTTP_ROUTE_EH_GROUP,       /* + /{name} */
    NGX_IOTHUB_HTTP_ROUTE_BULKJOB_CREATE, /* POST /jobs/create */
    NGX_IOTHUB_HTTP_ROUTE_BULKJOBS,       /* GET /jobs */
    NGX_IOTHUB_HTTP_ROUTE_BULKJOB,        /* /jobs/{id} */
    NGX_IOTHUB_HTTP_ROUTE_COUNT
} ngx_iothub_http_route_e;


typedef enum {
    NGX_IOTHUB_HTTP_ROUTE_OK = 0,
    NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND,      /* 404 IotHubNotFound */
    NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED     /* 405 MethodNotAllowed */
} ngx_iothub_http_route_rc_e;


/* a path split at "/", empty segments dropped; spans point into the path */
typedef struct {
    ngx_iothub_span_t          seg[NGX_IOTHUB_HTTP_MAX_SEGMENTS];
    size_t                     nseg;
} ngx_iothub_http_path_t;


typedef struct {
    ngx_iothub_http_route_e    route;
    unsigned                   rights;     /* the one right it needs */

    /* the ids the pattern captured (len 0 when it has none), not checked */
    ngx_iothub_span_t          device_id;
    ngx_iothub_span_t          module_id;
} ngx_iothub_http_match_t;


typedef enum {
    NGX_IOTHUB_HTTP_AUTH_OK = 0,
    NGX_IOTHUB_HTTP_AUTH_DEVICE_TOKEN,    /* no skn: a device's token */
    NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY,
    NGX_IOTHUB_HTTP_AUTH_BAD_SIGNATURE,
    NGX_IOTHUB_HTTP_AUTH_EXPIRED,
    NGX_IOTHUB_HTTP_AUTH_NOT_COVERED,     /* sr does not cover the path */
    NGX_IOTHUB_HTTP_AUTH_NO_RIGHT
} ngx_iothub_http_auth_rc_e;


/* one of the hub's shared access policies, as plain strings */
typedef struct {
    ngx_iothub_span_t          name;
    ngx_iothub_span_t          primary_key;     /* base64 */
    ngx_iothub_span_t          secondary_key;   /* len 0 when none */
    unsigned                   rights;
} ngx_iothub_http_policy_t;


/* what a request asks of the policies */
typedef struct {
    const char                *host;        /* the hub's host name */
    const unsigned char       *path;        /* the decoded request path */
    size_t                     path_len;
    long long                  now;         /* seconds since the epoch */
    unsigned                   rights;      /* ngx_iothub_http_match_t's */
} ngx_iothub_http_access_t;


/*
 * Splits the decoded path at "/" into p, dropping empty segments, so
 * "//devices/a/" is "devices", "a".  NOT_FOUND when it has more than
 * NGX_IOTHUB_HTTP_MAX_SEGMENTS segments.  p is fully overwritten.
 */
ngx_iothub_http_route_rc_e ngx_iothub_http_path_split(
    ngx_iothub_http_path_t *p, const unsigned char *path, size_t len);

/*
 * Finds the route for a split path and a method (one of the
 * NGX_IOTHUB_HTTP_ methods).  The words of a pattern compare without
 * regard to case; an id matches any segment.  NOT_FOUND: no pattern has
 * this path; NOT_ALLOWED: one has, not with this method.  m is written
 * only on OK.
 */
ngx_iothub_http_route_rc_e ngx_iothub_http_route_match(
    const ngx_iothub_http_path_t *p, unsigned method,
    ngx_iothub_http_match_t *m);

/*
 * The service API's authorization (auth.md 3.3): t must name a policy
 * (skn) of policies[0..n-1] and be signed with its primary or secondary
 * key, not be expired at a->now, its sr must cover a->host and a->path
 * (cut at NGX_IOTHUB_HTTP_PATH_MAX bytes), and the policy must hold one of
 * a->rights.  The checks run in this order; the first that fails is the
 * answer.  An unknown policy costs a signature check as a bad signature
 * does.  On OK *policy (when not NULL) is the policy's index.
 */
ngx_iothub_http_auth_rc_e ngx_iothub_http_authorize(
    const ngx_iothub_sas_token_t *t, const ngx_iothub_http_policy_t *policies,
    size_t n, const ngx_iothub_http_access_t *a, size_t *policy);

/* the reason for a log line, e.g. "expired SAS token" */
const char *ngx_iothub_http_auth_reason(ngx_iothub_http_auth_rc_e rc);

/*
 * The reason told to the caller: an unknown policy and a bad signature
 * read alike, so that without a key nothing is learnt about policy names.
 */
const char *ngx_iothub_http_auth_answer(ngx_iothub_http_auth_rc_e rc);


/*
 * The etag an If-Match value names: a weak "W/" prefix and one pair of
 * surrounding double quotes dropped; *etag points into p.
 */
void ngx_iothub_http_if_match(const unsigned char *p, size_t len,
    ngx_iothub_span_t *etag);


#endif /* _NGX_IOTHUB_HTTP_ROUTE_H_INCLUDED_ */
