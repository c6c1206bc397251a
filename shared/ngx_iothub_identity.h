
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_IDENTITY_H_INCLUDED_
#define _NGX_IOTHUB_IDENTITY_H_INCLUDED_


/*
 * Identity registry records (docs: shared/reference/rest.md, sections 3-5;
 * auth.md, sections 4-5): the device and module JSON of the REST API, a
 * fixed-size C struct, and the fields of the Redis hash that stores it.
 *
 * Pure C: libc and yajl 2.1 only, no nginx headers, no global mutable
 * state.  Nothing is logged; errors are returned with a message written
 * into a caller's buffer.
 */


#include <stddef.h>

#include <yajl/yajl_gen.h>


#define NGX_IOTHUB_IDENTITY_NEVER    "0001-01-01T00:00:00Z"

/* the longest model id recorded (a DTMI is far shorter in practice) */
#define NGX_IOTHUB_MODEL_ID_MAX      256

/* entries of one bulk registry request (rest.md 5) */
#define NGX_IOTHUB_BULK_MAX          100


typedef struct {
    char                       device_id[129];
    char                       module_id[129];   /* "" for a device */
    char                       generation_id[32];
    char                       etag[64];
    char                       status[16];       /* enabled | disabled */
    char                       status_reason[129];             /* "" = null */
    char                       status_updated_time[40];
    char                       connection_state[16];
    char                       connection_state_updated_time[40];
    char                       last_activity_time[40];
    /* sas | selfSigned | certificateAuthority | none */
    char                       auth_type[24];
    char                       primary_key[128];
    char                       secondary_key[128];
    char                       primary_thumbprint[72];         /* "" = null */
    char                       secondary_thumbprint[72];       /* "" = null */
    char                       managed_by[64];   /* modules; "" = null */
    char                       device_scope[256];              /* "" = null */
    char                       parent_scopes[1024];  /* JSON array text */
    /* the IoT Plug and Play model its last connection announced; "" none */
    char                       model_id[NGX_IOTHUB_MODEL_ID_MAX + 1];
    int                        iot_edge;
    long                       c2d_count;        /* filled by the caller */
} ngx_iothub_identity_t;


typedef enum {
    NGX_IOTHUB_IDENTITY_OK = 0,
    NGX_IOTHUB_IDENTITY_BAD_JSON,      /* 400006 IotHubFormatError */
    NGX_IOTHUB_IDENTITY_INVALID,       /* 400004 ArgumentInvalid */
    NGX_IOTHUB_IDENTITY_TOO_MANY,      /* 413002 TooManyDevices, as 400 */
    NGX_IOTHUB_IDENTITY_DUPLICATE,     /* 400011 DeviceDefinedMultipleTimes */
    NGX_IOTHUB_IDENTITY_NO_MEMORY      /* malloc() failed: 500 */
} ngx_iothub_identity_rc_e;


typedef enum {
    NGX_IOTHUB_IMPORT_CREATE,
    NGX_IOTHUB_IMPORT_UPDATE,
    NGX_IOTHUB_IMPORT_UPDATE_IF_MATCH_ETAG,
    NGX_IOTHUB_IMPORT_DELETE,
    NGX_IOTHUB_IMPORT_DELETE_IF_MATCH_ETAG,
    NGX_IOTHUB_IMPORT_UPDATE_TWIN,
    NGX_IOTHUB_IMPORT_UPDATE_TWIN_IF_MATCH_ETAG
} ngx_iothub_import_mode_e;


typedef struct {
    ngx_iothub_identity_t      identity;
    ngx_iothub_import_mode_e   mode;
    char                       etag[64];         /* "eTag", "" when absent */
} ngx_iothub_bulk_entry_t;


/*
 * Sets the defaults of a new identity: every string empty except status
 * "enabled", connectionState "Disconnected", the three times
 * NGX_IOTHUB_IDENTITY_NEVER, authentication type "sas" and parentScopes
 * "[]"; iot_edge and c2d_count 0.
 */
void ngx_iothub_identity_init(ngx_iothub_identity_t *id);

/*
 * Parses the body of a device PUT (is_module 0) or a module PUT into id,
 * which is first reset with ngx_iothub_identity_init().  json is
 * len-delimited (no NUL needed) and is only read.  Key names compare ASCII
 * case-insensitively, as the hub's deserializer does.
 *
 * Only client-settable fields are read: deviceId and moduleId (modules),
 * status and statusReason (devices), authentication, capabilities.iotEdge,
 * deviceScope and parentScopes (devices), managedBy (modules).  Read-only
 * and unknown fields are ignored whatever their type; null equals absent.
 *
 * Checks: ids, when present, pass ngx_iothub_id_valid() (comparing them
 * with the path is the caller's job; absent ids stay ""); status is
 * enabled or disabled in any case, stored lower-case; statusReason at most
 * 128 bytes; authentication.type is one of the four types in any case,
 * stored in canonical spelling, and defaults to selfSigned when a primary
 * thumbprint is given, else to sas; non-empty symmetric keys pass
 * ngx_iothub_key_valid() ("", null or absent keys stay "" for the caller
 * to generate); non-empty thumbprints pass ngx_iothub_thumbprint_valid();
 * selfSigned needs a primary thumbprint; capabilities.iotEdge is a
 * boolean; parentScopes is an array of strings.  Keys are cleared unless
 * the type is sas, thumbprints unless it is selfSigned.  Strings holding a
 * NUL are invalid.
 *
 * Returns OK, BAD_JSON (not JSON, or not UTF-8), INVALID (not an object,
 * a wrong type or value), or NO_MEMORY.  On error a NUL-terminated message
 * naming the field is written into err (errlen bytes, may be 0) and id is
 * left in an unspecified but valid state.
 */
ngx_iothub_identity_rc_e ngx_iothub_identity_parse(ngx_iothub_identity_t *id,
    const char *json, size_t len, int is_module, char *err, size_t errlen);

/*
 * Emits the module JSON when id->module_id is not empty, else the device
 * JSON (rest.md 3 and 4), as one complete value into g.  Empty optional
 * strings are emitted as null; symmetric keys are null unless the type is
 * sas, thumbprints are null unless it is selfSigned, and parent_scopes
 * text that is not an array of strings is emitted as [].  Returns
 * yajl_gen_status_ok or the first yajl error.
 */
int ngx_iothub_identity_gen(const ngx_iothub_identity_t *id, yajl_gen g);


/*
 * The Redis hash of an identity, one field per member (c2d_count is not
 * stored; it is the length of the C2D queue):
 *
 *     deviceId                    device_id
 *     moduleId                    module_id
 *     generationId                generation_id
 *     etag                        etag
 *     status                      status
 *     statusReason                status_reason
 *     statusUpdatedTime           status_updated_time
 *     connectionState             connection_state
 *     connectionStateUpdatedTime  connection_state_updated_time
 *     lastActivityTime            last_activity_time
 *     authType                    auth_type
 *     primaryKey                  primary_key
 *     secondaryKey                secondary_key
 *     primaryThumbprint           primary_thumbprint
 *     secondaryThumbprint         secondary_thumbprint
 *     managedBy                   managed_by
 *     deviceScope                 device_scope
 *     parentScopes                parent_scopes
 *     modelId                     model_id (written by session_connect.lua)
 *     iotEdge                     iot_edge as "0" or "1"
 */
#define NGX_IOTHUB_IDENTITY_NFIELDS  20

/*
 * Fills names[i], values[i] and lens[i] for every stored field, in the
 * order above; the arrays hold at least NGX_IOTHUB_IDENTITY_NFIELDS
 * entries.  Names are constants, values point into id (or to constants)
 * and are valid while id is.  Returns NGX_IOTHUB_IDENTITY_NFIELDS.
 */
int ngx_iothub_identity_fields(const ngx_iothub_identity_t *id,
    const char **names, const char **values, size_t *lens);

/*
 * Sets the field called name (nlen bytes, case-sensitive) from value (vlen
 * bytes, no NUL needed), as read back from Redis.  Unknown names are
 * ignored; a value longer than the member is truncated to fit.  iotEdge is
 * 1 only for "1".
 */
void ngx_iothub_identity_set_field(ngx_iothub_identity_t *id,
    const char *name, size_t nlen, const char *value, size_t vlen);


/*
 * Parses the body of a bulk registry request (POST /devices, rest.md 5):
 * an array of 1..NGX_IOTHUB_BULK_MAX export/import entries.  Each entry is
 * read as a device body (same checks and defaults) with these keys: id
 * (required, the device id), moduleId, eTag, importMode (required, one of
 * the seven modes in any case), status, statusReason, authentication,
 * capabilities, deviceScope, parentScopes; twinETag, tags, properties and
 * unknown keys are ignored.
 *
 * On OK, *entries is a malloc()ed array of *n entries that the caller
 * frees with free().  On any other result *entries is NULL, *n is 0 and
 * err holds a message (prefixed "entry N: " for a bad entry, counted from
 * 0).  Returns BAD_JSON, INVALID (not an array, empty array, an entry that
 * is not an object, a bad field, missing id or importMode, bad
 * importMode), TOO_MANY (more than NGX_IOTHUB_BULK_MAX entries), DUPLICATE
 * (two entries with the same id and moduleId; err then starts with
 * "DeviceDefinedMultipleTimes") or NO_MEMORY.
 */
ngx_iothub_identity_rc_e ngx_iothub_bulk_parse(const char *json, size_t len,
    ngx_iothub_bulk_entry_t **entries, size_t *n, char *err, size_t errlen);


#endif /* _NGX_IOTHUB_IDENTITY_H_INCLUDED_ */
