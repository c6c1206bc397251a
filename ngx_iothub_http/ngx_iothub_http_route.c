
/*
 * nginx-iothub http module: routes and authorization of the REST service
 * API; see ngx_iothub_http_route.h.
 */


#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "ngx_iothub_http_route.h"


/* a route's rights when it takes the registry's: read for GET, else write */
#define NGX_IOTHUB_HTTP_REGISTRY  0


typedef struct {
    /* literal words; NULL stands for an id */
    const char                  *seg[NGX_IOTHUB_HTTP_MAX_SEGMENTS];
    size_t                       nseg;
    unsigned                     methods;
    unsigned                     rights;
    ngx_iothub_http_route_e      route;
} ngx_iothub_http_pattern_t;


static int ngx_iothub_http_pattern_fits(const ngx_iothub_http_pattern_t *pt,
    const ngx_iothub_http_path_t *p);
static int ngx_iothub_http_word_is(const ngx_iothub_span_t *s,
    const char *word);
static int ngx_iothub_http_signed(const ngx_iothub_sas_token_t *t,
    const ngx_iothub_http_policy_t *policy);


static const ngx_iothub_http_pattern_t  ngx_iothub_http_patterns[] = {

    { { "devices" }, 1,
      NGX_IOTHUB_HTTP_GET|NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_REGISTRY,
      NGX_IOTHUB_HTTP_ROUTE_DEVICES },

    /* before /devices/{id}: other methods fall through to a device "query" */
    { { "devices", "query" }, 2,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_REGISTRY_READ,
      NGX_IOTHUB_HTTP_ROUTE_QUERY },

    { { "devices", NULL }, 2,
      NGX_IOTHUB_HTTP_GET|NGX_IOTHUB_HTTP_PUT|NGX_IOTHUB_HTTP_DELETE,
      NGX_IOTHUB_HTTP_REGISTRY,
      NGX_IOTHUB_HTTP_ROUTE_DEVICE },

    { { "devices", NULL, "messages", "devicebound" }, 4,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_C2D_SEND },

    { { "devices", NULL, "commands" }, 3,
      NGX_IOTHUB_HTTP_DELETE, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_C2D_PURGE },

    { { "devices", NULL, "modules" }, 3,
      NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_REGISTRY_READ,
      NGX_IOTHUB_HTTP_ROUTE_MODULES },

    { { "devices", NULL, "modules", NULL }, 4,
      NGX_IOTHUB_HTTP_GET|NGX_IOTHUB_HTTP_PUT|NGX_IOTHUB_HTTP_DELETE,
      NGX_IOTHUB_HTTP_REGISTRY,
      NGX_IOTHUB_HTTP_ROUTE_MODULE },

    { { "twins", NULL }, 2,
      NGX_IOTHUB_HTTP_GET|NGX_IOTHUB_HTTP_PATCH|NGX_IOTHUB_HTTP_PUT,
      NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_TWIN },

    { { "twins", NULL, "modules", NULL }, 4,
      NGX_IOTHUB_HTTP_GET|NGX_IOTHUB_HTTP_PATCH|NGX_IOTHUB_HTTP_PUT,
      NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_TWIN },

    { { "twins", NULL, "methods" }, 3,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_METHOD },

    { { "twins", NULL, "modules", NULL, "methods" }, 5,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_METHOD },

    /*
     * import/export jobs (rest.md 11): an import needs registry_write too,
     * which the route checks once it has read the body's type; jobs v2
     * (/jobs/v2/...) have more segments
     */

    { { "jobs", "create" }, 2,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_REGISTRY_READ,
      NGX_IOTHUB_HTTP_ROUTE_BULKJOB_CREATE },

    { { "jobs" }, 1,
      NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_REGISTRY_READ,
      NGX_IOTHUB_HTTP_ROUTE_BULKJOBS },

    { { "jobs", NULL }, 2,
      NGX_IOTHUB_HTTP_GET|NGX_IOTHUB_HTTP_DELETE, NGX_IOTHUB_HTTP_REGISTRY,
      NGX_IOTHUB_HTTP_ROUTE_BULKJOB },

    { { "statistics", "devices" }, 2,
      NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_REGISTRY_READ,
      NGX_IOTHUB_HTTP_ROUTE_STATISTICS },

    { { "statistics", "service" }, 2,
      NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_REGISTRY_READ,
      NGX_IOTHUB_HTTP_ROUTE_STATISTICS },

    { { "messages", "serviceBound", "feedback" }, 3,
      NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_FEEDBACK },

    { { "messages", "serviceBound", "feedback", NULL }, 4,
      NGX_IOTHUB_HTTP_DELETE, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_FEEDBACK_LOCK },

    { { "messages", "serviceBound", "feedback", NULL, "abandon" }, 5,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_FEEDBACK_LOCK },

    /* before /jobs/v2/{id}: "query" is not a job's id for GET */

    { { "jobs", "v2", "query" }, 3,
      NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_JOBS_QUERY },

    { { "jobs", "v2", NULL }, 3,
      NGX_IOTHUB_HTTP_GET|NGX_IOTHUB_HTTP_PUT,
      NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_JOB },

    { { "jobs", "v2", NULL, "cancel" }, 4,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_JOB },

    /* the device-facing routes (rest.md 14) */

    { { "devices", NULL, "messages", "events" }, 4,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_DEVICE,
      NGX_IOTHUB_HTTP_ROUTE_D2C },

    { { "devices", NULL, "modules", NULL, "messages", "events" }, 6,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_DEVICE,
      NGX_IOTHUB_HTTP_ROUTE_D2C },

    /* the same path as C2D_SEND: the method tells them apart */
    { { "devices", NULL, "messages", "devicebound" }, 4,
      NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_DEVICE,
      NGX_IOTHUB_HTTP_ROUTE_C2D_RECEIVE },

    { { "devices", NULL, "messages", "devicebound", NULL }, 5,
      NGX_IOTHUB_HTTP_DELETE, NGX_IOTHUB_HTTP_DEVICE,
      NGX_IOTHUB_HTTP_ROUTE_C2D_SETTLE },

    { { "devices", NULL, "messages", "devicebound", NULL, "abandon" }, 6,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_DEVICE,
      NGX_IOTHUB_HTTP_ROUTE_C2D_SETTLE },

    /* file upload (rest.md 14.4): the correlation in the body or path */

    { { "devices", NULL, "files" }, 3,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_DEVICE,
      NGX_IOTHUB_HTTP_ROUTE_FILES },

    { { "devices", NULL, "files", "notifications" }, 4,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_DEVICE,
      NGX_IOTHUB_HTTP_ROUTE_FILES_NOTIFY },

    { { "devices", NULL, "files", "notifications", NULL }, 5,
      NGX_IOTHUB_HTTP_POST, NGX_IOTHUB_HTTP_DEVICE,
      NGX_IOTHUB_HTTP_ROUTE_FILES_NOTIFY },

    /* ours (docs/rest-extensions.md) */

    { { "eventHubEndpoints", "events", "consumerGroups" }, 3,
      NGX_IOTHUB_HTTP_GET, NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_EH_GROUPS },

    { { "eventHubEndpoints", "events", "consumerGroups", NULL }, 4,
      NGX_IOTHUB_HTTP_GET|NGX_IOTHUB_HTTP_PUT|NGX_IOTHUB_HTTP_DELETE,
      NGX_IOTHUB_HTTP_SERVICE_CONNECT,
      NGX_IOTHUB_HTTP_ROUTE_EH_GROUP }
};


ngx_iothub_http_route_rc_e
ngx_iothub_http_path_split(ngx_iothub_http_path_t *p,
    const unsigned char *path, size_t len)
{
    const unsigned char  *pos, *last, *start;

    memset(p, 0, sizeof(ngx_iothub_http_path_t));

    pos = path;
    last = path + len;

    while (pos < last) {
        while (pos < last && *pos == '/') {
            pos++;
        }

        start = pos;

        while (pos < last && *pos != '/') {
            pos++;
        }

        if (pos == start) {
            break;
        }

        if (p->nseg == NGX_IOTHUB_HTTP_MAX_SEGMENTS) {
            return NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND;
        }

        p->seg[p->nseg].data = start;
        p->seg[p->nseg].len = pos - start;
        p->nseg++;
    }

    return NGX_IOTHUB_HTTP_ROUTE_OK;
}


ngx_iothub_http_route_rc_e
ngx_iothub_http_route_match(const ngx_iothub_http_path_t *p, unsigned method,
    ngx_iothub_http_match_t *m)
{
    size_t                            i, n;
    ngx_iothub_http_route_rc_e        rc;
    const ngx_iothub_http_pattern_t  *pt;

    rc = NGX_IOTHUB_HTTP_ROUTE_NOT_FOUND;
    n = sizeof(ngx_iothub_http_patterns) / sizeof(ngx_iothub_http_patterns[0]);

    for (i = 0; i < n; i++) {
        pt = &ngx_iothub_http_patterns[i];

        if (!ngx_iothub_http_pattern_fits(pt, p)) {
            continue;
        }

        if ((pt->methods & method) == 0) {
            rc = NGX_IOTHUB_HTTP_ROUTE_NOT_ALLOWED;
            continue;
        }

        memset(m, 0, sizeof(ngx_iothub_http_match_t));

        m->route = pt->route;
        m->rights = pt->rights;

        if (m->rights == NGX_IOTHUB_HTTP_REGISTRY) {
            m->rights = (method == NGX_IOTHUB_HTTP_GET)
                        ? NGX_IOTHUB_HTTP_REGISTRY_READ
                        : NGX_IOTHUB_HTTP_REGISTRY_WRITE;
        }

        /* every id of a pattern is the device's, then the module's */

        if (pt->nseg > 1 && pt->seg[1] == NULL) {
            m->device_id = p->seg[1];
        }

        if (pt->nseg > 3 && pt->seg[3] == NULL) {
            m->module_id = p->seg[3];
        }

        return NGX_IOTHUB_HTTP_ROUTE_OK;
    }

    return rc;
}


static int
ngx_iothub_http_pattern_fits(const ngx_iothub_http_pattern_t *pt,
    const ngx_iothub_http_path_t *p)
{
    size_t  i;

    if (pt->nseg != p->nseg) {
        return 0;
    }

    for (i = 0; i < pt->nseg; i++) {
        if (pt->seg[i] != NULL
            && !ngx_iothub_http_word_is(&p->seg[i], pt->seg[i]))
        {
            return 0;
        }
    }

    return 1;
}


/* words compare without regard to case (ASCII: nginx keeps the C locale) */

static int
ngx_iothub_http_word_is(const ngx_iothub_span_t *s, const char *word)
{
    return s->len == strlen(word)
           && strncasecmp((const char *) s->data, word, s->len) == 0;
}


ngx_iothub_http_auth_rc_e
ngx_iothub_http_authorize(const ngx_iothub_sas_token_t *t,
    const ngx_iothub_http_policy_t *policies, size_t n,
    const ngx_iothub_http_access_t *a, size_t *policy)
{
    size_t                           i, len;
    char                             path[NGX_IOTHUB_HTTP_PATH_MAX + 1];
    const ngx_iothub_http_policy_t  *pl;

    if (t->policy[0] == '\0') {
        return NGX_IOTHUB_HTTP_AUTH_DEVICE_TOKEN;
    }

    len = strlen(t->policy);
    pl = NULL;

    for (i = 0; i < n; i++) {
        if (policies[i].name.len == len
            && memcmp(policies[i].name.data, t->policy, len) == 0)
        {
            pl = &policies[i];
            break;
        }
    }

    if (pl == NULL) {
        /* as long as a bad signature takes: the first policy's check */
        if (n != 0) {
            (void) ngx_iothub_http_signed(t, &policies[0]);
        }

        return NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY;
    }

    if (!ngx_iothub_http_signed(t, pl)) {
        return NGX_IOTHUB_HTTP_AUTH_BAD_SIGNATURE;
    }

    if (ngx_iothub_sas_check_expiry(t, a->now) != NGX_IOTHUB_SAS_OK) {
        return NGX_IOTHUB_HTTP_AUTH_EXPIRED;
    }

    /* ngx_iothub_sas_covers() takes a C string: a NUL ends the path there */

    len = (a->path_len < sizeof(path)) ? a->path_len : sizeof(path) - 1;
    memcpy(path, a->path, len);
    path[len] = '\0';

    if (ngx_iothub_sas_covers(t, a->host, path) != NGX_IOTHUB_SAS_OK) {
        return NGX_IOTHUB_HTTP_AUTH_NOT_COVERED;
    }

    if ((pl->rights & a->rights) == 0) {
        return NGX_IOTHUB_HTTP_AUTH_NO_RIGHT;
    }

    if (policy != NULL) {
        *policy = pl - policies;
    }

    return NGX_IOTHUB_HTTP_AUTH_OK;
}


/* the token is signed with the policy's primary or secondary key */

static int
ngx_iothub_http_signed(const ngx_iothub_sas_token_t *t,
    const ngx_iothub_http_policy_t *policy)
{
    if (ngx_iothub_sas_verify(t, (const char *) policy->primary_key.data,
                              policy->primary_key.len)
        == NGX_IOTHUB_SAS_OK)
    {
        return 1;
    }

    return policy->secondary_key.len != 0
           && ngx_iothub_sas_verify(t,
                                    (const char *) policy->secondary_key.data,
                                    policy->secondary_key.len)
              == NGX_IOTHUB_SAS_OK;
}


const char *
ngx_iothub_http_auth_reason(ngx_iothub_http_auth_rc_e rc)
{
    switch (rc) {

    case NGX_IOTHUB_HTTP_AUTH_OK:
        return "authorized";

    case NGX_IOTHUB_HTTP_AUTH_DEVICE_TOKEN:
        return "a device token cannot call the service API";

    case NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY:
        return "unknown policy";

    case NGX_IOTHUB_HTTP_AUTH_BAD_SIGNATURE:
        return "bad signature";

    case NGX_IOTHUB_HTTP_AUTH_EXPIRED:
        return "expired SAS token";

    case NGX_IOTHUB_HTTP_AUTH_NOT_COVERED:
        return "the token's resource does not cover the request";

    default: /* NGX_IOTHUB_HTTP_AUTH_NO_RIGHT */
        return "the policy lacks the right for this operation";
    }
}


const char *
ngx_iothub_http_auth_answer(ngx_iothub_http_auth_rc_e rc)
{
    if (rc == NGX_IOTHUB_HTTP_AUTH_UNKNOWN_POLICY
        || rc == NGX_IOTHUB_HTTP_AUTH_BAD_SIGNATURE)
    {
        return "the policy or the signature is not valid";
    }

    return ngx_iothub_http_auth_reason(rc);
}


void
ngx_iothub_http_if_match(const unsigned char *p, size_t len,
    ngx_iothub_span_t *etag)
{
    const unsigned char  *last;

    last = p + len;

    if (last - p >= 2 && p[0] == 'W' && p[1] == '/') {
        p += 2;
    }

    if (last - p >= 2 && *p == '"' && *(last - 1) == '"') {
        p++;
        last--;
    }

    etag->data = p;
    etag->len = last - p;
}
