
/*
 * nginx-iothub: jobs v2 (rest.md 10), the pure part: the job request's
 * parser, the job record as Redis holds it (its decoder and its JSON),
 * the per-device record's JSON, and the "deviceId = 'x'" / "deviceId IN
 * [...]" conditions a job can run without scanning the registry.
 *
 * Pure C: libc, yajl and hiredis' reply type only, no nginx headers.
 */


#ifndef _NGX_IOTHUB_JOB_CODEC_H_INCLUDED_
#define _NGX_IOTHUB_JOB_CODEC_H_INCLUDED_


#include <stddef.h>

#include <hiredis/hiredis.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_iothub_reply.h"


/* the longest job request body read (the query condition counts most) */
#define NGX_IOTHUB_JOB_REQUEST_MAX     65536

/* rest.md 9: the longest query text; a condition is one */
#define NGX_IOTHUB_JOB_CONDITION_MAX   8192

/* what "maxExecutionTimeInSeconds" defaults to (the Node SDK's) */
#define NGX_IOTHUB_JOB_MAX_EXECUTION   3600

/* a method's timeouts when the request gives none (rest.md 8) */
#define NGX_IOTHUB_JOB_RESPONSE_TIMEOUT  30
#define NGX_IOTHUB_JOB_CONNECT_TIMEOUT   0


typedef enum {
    NGX_IOTHUB_JOB_OK = 0,
    NGX_IOTHUB_JOB_BAD_JSON,           /* 400 IotHubFormatError */
    NGX_IOTHUB_JOB_INVALID,            /* 400 ArgumentInvalid: err */
    NGX_IOTHUB_JOB_NO_MEMORY
} ngx_iothub_job_rc_e;


typedef enum {
    NGX_IOTHUB_JOB_TWIN = 0,           /* scheduleUpdateTwin */
    NGX_IOTHUB_JOB_METHOD              /* scheduleDeviceMethod */
} ngx_iothub_job_type_e;


/* a direct method's call as a job holds it */
typedef struct {
    char                          *name;
    char                          *payload;      /* JSON text */
    long long                      response_timeout;   /* seconds */
    long long                      connect_timeout;    /* seconds */
} ngx_iothub_job_method_t;


/*
 * A checked job request.  Strings are malloc()ed and NUL-terminated,
 * freed by ngx_iothub_job_request_free().  spec is the text a job record
 * keeps in its "spec" field: the twin patch, or the method call as
 * {"methodName","payload","responseTimeoutInSeconds",
 * "connectTimeoutInSeconds"}.
 */
typedef struct {
    char                          *job_id;
    ngx_iothub_job_type_e          type;
    char                          *condition;
    char                          *spec;
    long long                      start_ms;     /* -1: now */
    long long                      max_execution;     /* seconds */
} ngx_iothub_job_request_t;


/*
 * Parses a PUT /jobs/v2/{id} body (json, len bytes, no NUL needed).
 * path_id is the id of the path: a body "jobId" must equal it.  Checks:
 * type, a non-empty queryCondition of at most 8192 bytes, updateTwin an
 * object (its tags and desired patch are checked when applied) or
 * cloudToDeviceMethod with a methodName and timeouts in 0..300 (response)
 * and 0..300 (connect), startTime ISO 8601 when given (null: now),
 * maxExecutionTimeInSeconds a positive integer when given.  On anything
 * but OK err (errlen bytes) says why and req holds no allocation.
 */
ngx_iothub_job_rc_e ngx_iothub_job_request_parse(const char *json,
    size_t len, const char *path_id, size_t path_id_len,
    ngx_iothub_job_request_t *req, char *err, size_t errlen);

void ngx_iothub_job_request_free(ngx_iothub_job_request_t *req);

/*
 * Reads a method job's spec (the text of ngx_iothub_job_request_t.spec)
 * into m; its strings are malloc()ed, freed by
 * ngx_iothub_job_method_free().  OK, BAD_JSON, INVALID or NO_MEMORY.
 */
ngx_iothub_job_rc_e ngx_iothub_job_method_parse(const char *spec,
    size_t len, ngx_iothub_job_method_t *m, char *err, size_t errlen);

void ngx_iothub_job_method_free(ngx_iothub_job_method_t *m);

/* "scheduleUpdateTwin" / "scheduleDeviceMethod" */
const char *ngx_iothub_job_type_name(ngx_iothub_job_type_e type);

/*
 * Milliseconds since the epoch of an ISO 8601 UTC time
 * ("2024-01-02T10:11:12Z", with up to 9 fractional digits, "Z" or
 * "+00:00"), or -1 when text is not one.
 */
long long ngx_iothub_job_parse_time(const char *text, size_t len);

/* The time of ms since the epoch as "2024-01-02T10:11:12.123Z" (buf 32) */
void ngx_iothub_job_format_time(long long ms, char *buf);


/*
 * The fields of a job record (redis-schema.md, job hash), in the order of
 * ngx_iothub_job_field_names.
 */
typedef enum {
    NGX_IOTHUB_JOB_F_JOB_ID = 0,
    NGX_IOTHUB_JOB_F_TYPE,
    NGX_IOTHUB_JOB_F_CONDITION,
    NGX_IOTHUB_JOB_F_SPEC,
    NGX_IOTHUB_JOB_F_STATUS,
    NGX_IOTHUB_JOB_F_CREATED,
    NGX_IOTHUB_JOB_F_START,
    NGX_IOTHUB_JOB_F_END,
    NGX_IOTHUB_JOB_F_MAX_EXECUTION,
    NGX_IOTHUB_JOB_F_FAILURE,
    NGX_IOTHUB_JOB_F_STATUS_MESSAGE,
    NGX_IOTHUB_JOB_F_DEVICES,
    NGX_IOTHUB_JOB_F_FAILED,
    NGX_IOTHUB_JOB_F_SUCCEEDED,
    NGX_IOTHUB_JOB_F_RUNNING,
    NGX_IOTHUB_JOB_F_START_MS,
    NGX_IOTHUB_JOB_F_DEADLINE_MS,
    NGX_IOTHUB_JOB_F_CURSOR,
    NGX_IOTHUB_JOB_F_OWNER,
    NGX_IOTHUB_JOB_F_COUNTED,
    NGX_IOTHUB_JOB_NFIELDS
} ngx_iothub_job_field_e;

extern const char  *ngx_iothub_job_field_names[];


/* a decoded job record: spans into the reply, len 0 when absent */
typedef struct {
    ngx_iothub_reply_str_t         value[NGX_IOTHUB_JOB_NFIELDS];
} ngx_iothub_job_record_t;


/*
 * A job hash (HGETALL, or a script's copy of it: field, value, ...).
 * NIL for an empty array (no such job); MALFORMED when it lacks jobId,
 * type or status.
 */
ngx_iothub_reply_rc_e ngx_iothub_job_reply_record(const redisReply *r,
    ngx_iothub_job_record_t *rec);

/*
 * job_list.lua's answer { next, hash, hash, ... }: *next is the offset to
 * continue from (0: no more), *n the number of hashes; read each with
 * ngx_iothub_job_reply_list_record().
 */
ngx_iothub_reply_rc_e ngx_iothub_job_reply_list(const redisReply *r,
    long long *next, size_t *n);
ngx_iothub_reply_rc_e ngx_iothub_job_reply_list_record(const redisReply *r,
    size_t i, ngx_iothub_job_record_t *rec);

/*
 * A list of device ids (ZRANGEBYLEX): *n of them; read each with
 * ngx_iothub_job_reply_id().  MALFORMED unless every element is a
 * string.
 */
ngx_iothub_reply_rc_e ngx_iothub_job_reply_ids(const redisReply *r,
    size_t *n);
void ngx_iothub_job_reply_id(const redisReply *r, size_t i,
    ngx_iothub_reply_str_t *id);

/*
 * query_jobs.lua's answer { next, record, record, ... }: next is the last
 * device id read ("" at the end of the walk), *n the number of records;
 * read each (JSON text) with ngx_iothub_job_reply_row().  MALFORMED
 * unless every element is a string.
 */
ngx_iothub_reply_rc_e ngx_iothub_job_reply_rows(const redisReply *r,
    ngx_iothub_reply_str_t *next, size_t *n);
void ngx_iothub_job_reply_row(const redisReply *r, size_t i,
    ngx_iothub_reply_str_t *json);

/*
 * Emits the job JSON the service API answers (rest.md 10) into g: jobId,
 * type, queryCondition, createdTime, startTime, endTime,
 * maxExecutionTimeInSeconds, status, failureReason, statusMessage,
 * updateTwin or cloudToDeviceMethod, deviceJobStatistics.  OK, BAD_JSON
 * (a stored spec that does not parse) or NO_MEMORY (g refused).
 */
ngx_iothub_job_rc_e ngx_iothub_job_emit(yajl_gen g,
    const ngx_iothub_job_record_t *rec);

/*
 * The job's pendingCount: deviceCount less succeeded, failed and running,
 * at least 0; 0 for a completed job.
 */
long long ngx_iothub_job_pending(const ngx_iothub_job_record_t *rec);


/* what a device's part of a job came to */
typedef struct {
    const char                    *device_id;
    const char                    *job_id;
    ngx_iothub_job_type_e          type;
    int                            succeeded;
    const char                    *start;        /* ISO 8601 times */
    const char                    *end;
    const char                    *created;

    /* method jobs that got an answer */
    int                            answered;
    long long                      method_status;
    const char                    *method_payload;    /* JSON text */

    /* failures */
    const char                    *error_code;
    const char                    *error_description;
} ngx_iothub_job_device_t;

/*
 * The record of devices.jobs (rest.md 10): deviceId, jobId, jobType,
 * status ("completed" or "failed"), startTimeUtc, endTimeUtc,
 * createdDateTimeUtc, lastUpdatedDateTimeUtc, outcome
 * {deviceMethodResponse {status, payload}} and error {code,
 * description}.  *out is malloc()ed (NUL-terminated), the caller frees
 * it.  A method payload that is not JSON is emitted as a string.
 */
ngx_iothub_job_rc_e ngx_iothub_job_device_json(
    const ngx_iothub_job_device_t *d, char **out);


/*
 * When the condition (len bytes) is exactly "deviceId = '<id>'" or
 * "deviceId IN ['<id>', ...]" (either quote, any case of deviceId, an
 * optional "devices." before it), *ids receives the ids sorted and
 * without duplicates (malloc()ed, freed with ngx_iothub_job_ids_free())
 * and *n their number; returns 1.  0 for any other condition (or out of
 * memory): the job then reads the registry and evaluates the condition.
 */
int ngx_iothub_job_condition_ids(const char *cond, size_t len, char ***ids,
    size_t *n);

void ngx_iothub_job_ids_free(char **ids, size_t n);


#endif /* _NGX_IOTHUB_JOB_CODEC_H_INCLUDED_ */
