
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_TWIN_H_INCLUDED_
#define _NGX_IOTHUB_TWIN_H_INCLUDED_


/*
 * The twin engine (docs: shared/reference/messaging.md 7, mqtt.md 6-7,
 * rest.md 7, amqp.md 7): the stored state of one device or module twin,
 * patch validation, JSON merge patch (RFC 7396) with $metadata upkeep, the
 * device, notification and service views, and the twin ETag.
 *
 * Pure C: libc and yajl 2.1 only, no nginx headers, no global mutable
 * state, nothing is logged.  Errors come back as an ngx_iothub_twin_rc_e
 * and a NUL-terminated message in a caller's buffer (err, errlen bytes,
 * errlen may be 0) that names the offending property.
 *
 * Operations change a twin all or nothing: on any result but OK the twin
 * is left as it was.  The caller reads the Redis hash, applies one
 * operation, and writes the fields back only if "version" is unchanged
 * (optimistic concurrency), retrying from the read otherwise.  "now" is
 * the caller's time for metadata, ISO 8601 UTC with 7 fractional digits
 * ("2024-01-02T10:11:12.1234567Z"), never NULL for an operation; it is
 * copied as a JSON string.
 *
 * Number fidelity: numbers keep their original text (1.0, 1e3, big
 * integers); strings keep their value exactly (escapes are written back
 * in yajl_gen's canonical form).  Objects keep their member order; of
 * duplicate keys in one object the last one wins.
 *
 * Metadata: desired and reported each have a tree that mirrors the
 * section: every object and every leaf (a scalar or an array) has
 * "$lastUpdated", desired nodes also "$lastUpdatedVersion".  Tags keep no
 * metadata (the service view shows none).  The sections' "$version" is
 * not stored in the texts but in desired_version and reported_version.
 */


#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>


/* messaging.md 7.3 */
#define NGX_IOTHUB_TWIN_KEY_MAX        1024    /* bytes of a key */
#define NGX_IOTHUB_TWIN_STRING_MAX     4096    /* bytes of a string value */
#define NGX_IOTHUB_TWIN_DEPTH_MAX      10      /* levels of objects */
#define NGX_IOTHUB_TWIN_TAGS_MAX       8192    /* computed size of tags */
#define NGX_IOTHUB_TWIN_SECTION_MAX    32768   /* desired, reported */
#define NGX_IOTHUB_TWIN_INT_MIN        (-4503599627370496LL)
#define NGX_IOTHUB_TWIN_INT_MAX        4503599627370495LL

/* open objects and arrays in any JSON text read, a guard for recursion */
#define NGX_IOTHUB_TWIN_NEST_MAX       64

/* "AAAAAAAAAAM=": base64 of 8 bytes */
#define NGX_IOTHUB_TWIN_ETAG_LEN       12

#define NGX_IOTHUB_TWIN_NFIELDS        8

/* scratch for ngx_iothub_twin_fields(): three decimal int64 texts */
#define NGX_IOTHUB_TWIN_SCRATCH        (3 * 24)


typedef enum {
    NGX_IOTHUB_TWIN_OK = 0,
    NGX_IOTHUB_TWIN_BAD_JSON,      /* 400006 IotHubFormatError */
    NGX_IOTHUB_TWIN_INVALID,       /* 400004 ArgumentInvalid: name, type */
    NGX_IOTHUB_TWIN_TOO_DEEP,      /* 400004: more than 10 object levels */
    NGX_IOTHUB_TWIN_TOO_LARGE,     /* 400004: section over its size */
    NGX_IOTHUB_TWIN_CORRUPT,       /* stored state unreadable: 500001 */
    NGX_IOTHUB_TWIN_GEN_ERROR,     /* the caller's yajl_gen refused: 500 */
    NGX_IOTHUB_TWIN_NO_MEMORY      /* malloc() failed: 500001 */
} ngx_iothub_twin_rc_e;


typedef enum {
    NGX_IOTHUB_TWIN_TAGS = 0,
    NGX_IOTHUB_TWIN_DESIRED,
    NGX_IOTHUB_TWIN_REPORTED
} ngx_iothub_twin_section_e;


/*
 * What the Redis hash of a twin holds.  The five texts are malloc()ed,
 * NUL-terminated compact JSON objects owned by the struct and freed by
 * ngx_iothub_twin_free().  Versions start at 1; "version" changes on every
 * twin change, the section versions on every change of their section.
 */
typedef struct {
    char                      *tags;
    char                      *desired;
    char                      *reported;
    char                      *desired_meta;
    char                      *reported_meta;
    int64_t                    version;
    int64_t                    desired_version;
    int64_t                    reported_version;
} ngx_iothub_twin_t;


/*
 * Identity fields of the service view (rest.md 7), all NUL-terminated and
 * only read.  NULL selects the default given; for the thumbprints NULL or
 * "" is JSON null.  A module twin is one whose module_id is not NULL and
 * not "": it gets "moduleId" and loses the device-only "status" and
 * "capabilities".
 */
typedef struct {
    const char                *device_id;
    const char                *module_id;
    const char                *etag;             /* NULL: from version */
    const char                *device_etag;      /* "" */
    const char                *status;           /* "enabled" */
    const char                *status_update_time;   /* 0001-01-01... */
    const char                *connection_state;     /* "Disconnected" */
    const char                *last_activity_time;   /* 0001-01-01... */
    const char                *auth_type;        /* "sas" */
    const char                *primary_thumbprint;
    const char                *secondary_thumbprint;
    const char                *model_id;         /* "" */
    long long                  c2d_count;
    int                        iot_edge;
} ngx_iothub_twin_identity_t;


/*
 * Makes t the empty twin of a new identity: tags, desired and reported
 * "{}", all versions 1.  With now (an ISO 8601 time, e.g.
 * "2024-01-02T10:11:12.1234567Z") the metadata roots are
 * {"$lastUpdated":now}, without (NULL) they are "{}".  On NO_MEMORY t
 * holds no allocation.  The previous content of t is not freed.
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_init(ngx_iothub_twin_t *t,
    const char *now);

/* Frees the texts of t and sets them to NULL; t itself is the caller's. */
void ngx_iothub_twin_free(ngx_iothub_twin_t *t);


/*
 * The Redis hash fields of a twin, in this order:
 *
 *     tags              tags
 *     desired           desired
 *     desiredMeta       desired_meta
 *     reported          reported
 *     reportedMeta      reported_meta
 *     version           version, decimal
 *     desiredVersion    desired_version, decimal
 *     reportedVersion   reported_version, decimal
 *
 * Fills names[i], values[i] and lens[i] (arrays of at least
 * NGX_IOTHUB_TWIN_NFIELDS entries); the versions are written into scratch
 * (NGX_IOTHUB_TWIN_SCRATCH bytes).  Values point into t or scratch and are
 * valid while both are unchanged.  Returns NGX_IOTHUB_TWIN_NFIELDS.
 */
int ngx_iothub_twin_fields(const ngx_iothub_twin_t *t, const char **names,
    const char **values, size_t *lens, char *scratch);

/*
 * Sets one field read back from Redis: name (nlen bytes, case-sensitive)
 * and value (vlen bytes, no NUL needed) are copied.  Start from
 * ngx_iothub_twin_init() so that fields missing in Redis keep their empty
 * defaults.  Unknown names are ignored.  Texts are checked when used
 * (CORRUPT then); a text holding a NUL byte, or a version that is not a
 * decimal in 1..2^62, gives CORRUPT here (the field is left as it was).
 * Returns OK, CORRUPT or NO_MEMORY.
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_set_field(ngx_iothub_twin_t *t,
    const char *name, size_t nlen, const char *value, size_t vlen);


/*
 * Checks a patch of one section (json, len bytes) without applying it:
 * JSON and UTF-8, a top-level object, keys (at most 1024 bytes, no C0 or
 * C1 control character nor DEL, no '.', '$' or space), at most 10 levels
 * of objects below the section (arrays add no level, objects inside them
 * do), string values at most 4096 bytes, integers within
 * NGX_IOTHUB_TWIN_INT_MIN..MAX (numbers with a fraction or an exponent are
 * not range-checked), arrays allowed.  For DESIRED the read-only members
 * "$metadata" and "$version" of the top level are ignored, as in a twin
 * a client read and sends back.  Sizes are checked when a patch is
 * applied, on the result.  Returns OK, BAD_JSON, INVALID, TOO_DEEP or
 * NO_MEMORY.
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_validate(const char *json, size_t len,
    ngx_iothub_twin_section_e section, char *err, size_t errlen);


/*
 * Device reported patch (MQTT $iothub/twin/PATCH/properties/reported/,
 * AMQP PATCH /properties/reported): json is a JSON merge patch of the
 * reported section, checked as ngx_iothub_twin_validate() does.  It is
 * merged (objects recursively, scalars and arrays replace, null deletes,
 * deleting a missing key is a no-op) and every object and leaf it names,
 * and the section root, gets "$lastUpdated": now in reported_meta;
 * deleted keys lose their metadata.  The result must not exceed 32 KB as
 * messaging.md 7.3 computes it: key bytes, string bytes without control
 * characters, 8 per number, 4 per boolean or null, objects and arrays the
 * sum of their contents.  Then reported_version and version grow by 1
 * (also for a patch that changes nothing).
 *
 * Returns OK, BAD_JSON, INVALID, TOO_DEEP, TOO_LARGE, CORRUPT (stored
 * reported or reported_meta unreadable) or NO_MEMORY.
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_patch_reported(ngx_iothub_twin_t *t,
    const char *json, size_t len, const char *now, char *err,
    size_t errlen);

/*
 * Service PATCH /twins/{id} (rest.md 7): json is
 * {"tags":{...},"properties":{"desired":{...},"reported":{}}}; other
 * members (deviceId, etag, status, ...) are ignored, a null member counts
 * as absent.  "properties.reported" must be absent, null or {} (else
 * INVALID).  tags and desired are merged as ngx_iothub_twin_patch_reported()
 * merges reported, with the 8 KB limit for tags, and desired metadata also
 * gets "$lastUpdatedVersion": the new desired version.  desired_version
 * grows by 1 when desired is given (an object, even empty); version grows
 * by 1 always.
 *
 * *notify (may be NULL to ignore) receives the desired patch devices are
 * to be sent, without "$version" (see ngx_iothub_twin_notification()), as
 * a malloc()ed string the caller frees, or NULL when desired was not
 * given.  It is the patch as applied, nulls included.
 *
 * Returns as ngx_iothub_twin_patch_reported(); CORRUPT also for tags and
 * desired texts.
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_service_patch(ngx_iothub_twin_t *t,
    const char *json, size_t len, const char *now, char **notify,
    char *err, size_t errlen);

/*
 * Service PUT /twins/{id} (replace): the body has the shape of a service
 * PATCH; tags and desired are replaced entirely by "tags" and
 * "properties.desired" (absent or null: {}; null members are dropped) and
 * desired metadata is rebuilt with now and the new desired version for
 * every node.  "properties.reported" is ignored (it is read-only, as in a
 * twin read and sent back).  desired_version and version grow by 1.
 * *notify receives the whole new desired section.  Returns as
 * ngx_iothub_twin_service_patch().
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_service_replace(ngx_iothub_twin_t *t,
    const char *json, size_t len, const char *now, char **notify,
    char *err, size_t errlen);


/*
 * The device view (MQTT GET response body, AMQP GET body, mqtt.md 6):
 * {"desired":{...,"$version":d},"reported":{...,"$version":r}}, no
 * metadata.  *out is a malloc()ed NUL-terminated string the caller frees.
 * Returns OK, CORRUPT or NO_MEMORY.
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_device_view(const ngx_iothub_twin_t *t,
    char **out, char *err, size_t errlen);

/*
 * The desired notification body (mqtt.md 7, amqp.md 7.3): the members of
 * the patch object (json, len bytes, e.g. a *notify text) followed by
 * "$version": version.  *out is malloc()ed, the caller frees it.  Returns
 * OK, BAD_JSON, INVALID (not an object) or NO_MEMORY.
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_notification(const char *json,
    size_t len, int64_t version, char **out, char *err, size_t errlen);

/*
 * Emits the service view of a twin (rest.md 7) as one complete object
 * into g: deviceId, moduleId (modules), etag, deviceEtag, status
 * (devices), statusUpdateTime, connectionState, lastActivityTime,
 * cloudToDeviceMessageCount, authenticationType, x509Thumbprint, modelId,
 * version, tags, properties (desired and reported with their "$metadata"
 * and "$version") and capabilities (devices).  Returns OK, CORRUPT,
 * GEN_ERROR (g refused a call: its state is then undefined) or NO_MEMORY.
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_service_view(const ngx_iothub_twin_t *t,
    const ngx_iothub_twin_identity_t *id, yajl_gen g, char *err,
    size_t errlen);


/*
 * The twin members of an export/import device object (rest.md 5) into g,
 * which must be inside an object where a key is due: "twinETag" (the
 * ETag of version), "tags" and "properties" with "desired" and
 * "reported" as the service view has them ("$metadata", "$version").
 * Returns as ngx_iothub_twin_service_view().
 */
ngx_iothub_twin_rc_e ngx_iothub_twin_export_members(
    const ngx_iothub_twin_t *t, yajl_gen g, char *err, size_t errlen);


/*
 * The twin ETag: base64 of the 8-byte big-endian version, e.g. 3 gives
 * "AAAAAAAAAAM=".  buf holds at least NGX_IOTHUB_TWIN_ETAG_LEN + 1 bytes
 * and receives a NUL-terminated string.
 */
void ngx_iothub_twin_etag(int64_t version, char *buf);


#endif /* _NGX_IOTHUB_TWIN_H_INCLUDED_ */
