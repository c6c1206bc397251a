
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: the words of the import/export jobs (rest.md 11): the
 * body of POST /jobs/create, a blob container URI with its SAS as the
 * hub's blob store reads it, and the JSON lines of an export or import
 * blob (one export/import device object a line, rest.md 5).  Pure C
 * (libc, yajl, ngx_iothub_identity.c, the twin engine,
 * ngx_iothub_blob_sas.c); unit-tested and fuzzed.
 */


#ifndef _NGX_IOTHUB_BULKJOB_LINES_H_INCLUDED_
#define _NGX_IOTHUB_BULKJOB_LINES_H_INCLUDED_


#include <stddef.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub_identity.h"
#include "ngx_iothub_twin.h"
#include "ngx_iothub_blob_sas.h"


#define NGX_IOTHUB_BULKJOB_URI_MAX       2048
#define NGX_IOTHUB_BULKJOB_DEFAULT_BLOB  "devices.txt"
#define NGX_IOTHUB_BULKJOB_ERRORS_BLOB   "importErrors.log"

/* the longest line of an import blob */
#define NGX_IOTHUB_BULKJOB_LINE_MAX      (64 * 1024)


typedef enum {
    NGX_IOTHUB_BULKJOB_EXPORT = 1,
    NGX_IOTHUB_BULKJOB_IMPORT
} ngx_iothub_bulkjob_type_e;


/* POST /jobs/create's body, every string NUL-terminated */
typedef struct {
    ngx_iothub_bulkjob_type_e  type;
    char                       input_uri[NGX_IOTHUB_BULKJOB_URI_MAX + 1];
    char                       output_uri[NGX_IOTHUB_BULKJOB_URI_MAX + 1];
    char                       input_blob[NGX_IOTHUB_BLOB_NAME_MAX + 1];
    char                       output_blob[NGX_IOTHUB_BLOB_NAME_MAX + 1];
    int                        exclude_keys;
} ngx_iothub_bulkjob_request_t;


typedef enum {
    NGX_IOTHUB_BULKJOB_URI_OK = 0,
    NGX_IOTHUB_BULKJOB_URI_MALFORMED,
    NGX_IOTHUB_BULKJOB_URI_OTHER_HOST    /* not the hub's blob endpoint */
} ngx_iothub_bulkjob_uri_rc_e;


/* a container URI of the hub's store: spans into the URI */
typedef struct {
    ngx_iothub_span_t          container;
    ngx_iothub_span_t          query;       /* without "?"; may be empty */
} ngx_iothub_bulkjob_uri_t;


/*
 * Reads the body of POST /jobs/create into req (fully overwritten): type
 * ("export" or "import", any case), outputBlobContainerUri (required),
 * inputBlobContainerUri (required for an import), inputBlobName and
 * outputBlobName (default NGX_IOTHUB_BULKJOB_DEFAULT_BLOB),
 * excludeKeysInExport (a boolean, or "true"/"false");
 * storageAuthenticationType must be absent or "keyBased"; other keys are
 * ignored.  Returns 0, or -1 with a message in err (errlen bytes).
 */
int ngx_iothub_bulkjob_request_parse(ngx_iothub_bulkjob_request_t *req,
    const char *json, size_t len, char *err, size_t errlen);

/*
 * A container URI, "https://<cs->host>/<container>[/][?<query>]" (scheme
 * and host in any case): OTHER_HOST when it names another store,
 * MALFORMED when it is not such a URI or the container is not 3..63 of
 * a-z, 0-9 and "-".
 */
ngx_iothub_bulkjob_uri_rc_e ngx_iothub_bulkjob_uri_parse(
    ngx_iothub_bulkjob_uri_t *u, const char *uri, size_t len,
    const ngx_iothub_blob_connstr_t *cs);

/*
 * The blob store's own SAS check (ngx_iothub_blob_sas_check()) of the
 * URI's query for the blob of its container with permission 'r' or 'w'
 * at now.
 */
ngx_iothub_blob_rc_e ngx_iothub_bulkjob_uri_allows(
    const ngx_iothub_bulkjob_uri_t *u, const ngx_iothub_blob_connstr_t *cs,
    const char *blob, char permission, long long now);

/*
 * One export line's object (without the new line) into g, which must be
 * ready for a value: id, moduleId and managedBy (modules), eTag, status
 * and statusReason (devices), authentication (keys null when
 * exclude_keys), then, when twin is not NULL, the identity's twin
 * (ngx_iothub_twin_export_members(): twinETag, tags, properties with
 * desired and reported), then for devices capabilities, deviceScope,
 * parentScopes.  Returns yajl_gen_status_ok, the first yajl error, or -1
 * when the twin's stored texts are unreadable.
 */
int ngx_iothub_bulkjob_line_gen(yajl_gen g, const ngx_iothub_identity_t *id,
    const ngx_iothub_twin_t *twin, int exclude_keys);

/*
 * One import line: an export/import device object, read as an entry of
 * a bulk registry request (ngx_iothub_bulk_parse(), the same checks) with
 * importMode "update" (create or update) when the line has none.  White
 * space around the object is allowed.  On OK *e is set; else err holds
 * the reason.
 */
ngx_iothub_identity_rc_e ngx_iothub_bulkjob_line_parse(
    ngx_iothub_bulk_entry_t *e, const char *line, size_t len, char *err,
    size_t errlen);

/*
 * The twin part of an import line (rest.md 5): 1 when its object has
 * "tags" or "properties"."desired" (not null), else 0, also for a line
 * that is not a JSON object.  twin_etag (size bytes) receives "twinETag"
 * when it is a string that fits, else "".  The line itself is then the
 * body of a service twin PUT: ngx_iothub_twin_service_replace() takes
 * "tags" and "properties.desired" ("$metadata" and "$version" of an
 * export dropped) and ignores the other members.
 */
int ngx_iothub_bulkjob_line_twin(const char *line, size_t len,
    char *twin_etag, size_t size);

/* the operation name of an import mode, as the bulk response writes it */
const char *ngx_iothub_bulkjob_mode_name(ngx_iothub_import_mode_e mode);


#endif /* _NGX_IOTHUB_BULKJOB_LINES_H_INCLUDED_ */
