
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_AMQP_ADDRESS_H_INCLUDED_
#define _NGX_IOTHUB_AMQP_ADDRESS_H_INCLUDED_


/*
 * IoT Hub's names on AMQP (amqp.md 1.3, 3, 4): link addresses and CBS
 * audiences, normalized: an "amqps://host[:port]" or "sb://host" prefix
 * goes, segments are percent-decoded, fixed words compare without regard
 * to case, ids exactly.
 *
 * Pure C: libc only, no nginx headers, nothing allocated; the decoded ids
 * are copied into the result.
 */


#include <stddef.h>


#define NGX_IOTHUB_AMQP_ID_MAX  128


typedef enum {
    NGX_IOTHUB_AMQP_ADDR_UNKNOWN = 0,
    NGX_IOTHUB_AMQP_ADDR_CBS,            /* $cbs */
    NGX_IOTHUB_AMQP_ADDR_IDENTITY,       /* /devices/{d}[/modules/{m}]:
                                            audiences only */
    NGX_IOTHUB_AMQP_ADDR_TELEMETRY,      /* .../messages/events */
    NGX_IOTHUB_AMQP_ADDR_C2D,            /* .../messages/devicebound */
    NGX_IOTHUB_AMQP_ADDR_TWIN,           /* .../twin */
    NGX_IOTHUB_AMQP_ADDR_METHODS,        /* .../methods/devicebound */
    NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D,    /* /messages/devicebound */
    NGX_IOTHUB_AMQP_ADDR_FEEDBACK,       /* /messages/serviceBound/feedback */
    NGX_IOTHUB_AMQP_ADDR_FILE_NOTIFICATIONS, /* .../filenotifications */
    NGX_IOTHUB_AMQP_ADDR_EVENTHUB,       /* $management, partitions:
                                            ngx_iothub_amqp_eventhub.c */
    NGX_IOTHUB_AMQP_ADDR_POLICY          /* a SASL PLAIN user name only:
                                            the policy's name in device */
} ngx_iothub_amqp_addr_e;


/* the service addresses, as scopes compare them */
#define NGX_IOTHUB_AMQP_SERVICE_C2D_PATH  "/messages/devicebound"
#define NGX_IOTHUB_AMQP_FEEDBACK_PATH     "/messages/serviceBound/feedback"
#define NGX_IOTHUB_AMQP_FILE_NOTIFICATIONS_PATH                              \
    "/messages/serviceBound/filenotifications"


typedef struct {
    ngx_iothub_amqp_addr_e    kind;
    size_t                    device_len;
    size_t                    module_len;      /* 0: a device */
    char                      device[NGX_IOTHUB_AMQP_ID_MAX + 1];
    char                      module[NGX_IOTHUB_AMQP_ID_MAX + 1];
} ngx_iothub_amqp_addr_t;


/*
 * What a link address names.  Returns 0 and fills a (kind UNKNOWN for an
 * address of no known form), or -1 for a malformed one (a bad escape, an
 * id too long or with a NUL).
 */
int ngx_iothub_amqp_addr_parse(const unsigned char *p, size_t len,
    ngx_iothub_amqp_addr_t *a);

/*
 * The identity a CBS audience names ("host/devices/d[/modules/m]", maybe
 * percent-encoded as a whole, maybe with a scheme).  Returns 0 with kind
 * IDENTITY, 0 with kind UNKNOWN for another audience (the hub itself, an
 * Event Hubs entity), -1 when malformed.  The host is not checked here:
 * the token's sr must cover the hub's name and the identity.
 */
int ngx_iothub_amqp_audience_parse(const unsigned char *p, size_t len,
    ngx_iothub_amqp_addr_t *a);

/*
 * The host and the path of a CBS audience that names no identity (the
 * hub, for a service's policy token: "host", "host/path", maybe encoded
 * as a whole, maybe with a scheme), for the claim's scope.  The host is
 * written NUL-terminated into host, the path (empty, or from its leading
 * '/', a trailing '/' dropped) into path.  Returns 0, or -1 when the
 * audience is malformed (a bad escape, a NUL, an empty host or segment)
 * or a part does not fit its buffer.
 */
int ngx_iothub_amqp_audience_scope(const unsigned char *p, size_t len,
    char *host, size_t host_size, char *path, size_t path_size);

/*
 * A SASL PLAIN user name (amqp.md 1.1): "<deviceId>@sas.<hub>",
 * "<deviceId>/modules/<moduleId>@sas.<hub>" (kind IDENTITY) or
 * "<policy>@sas.root.<hub>" (kind POLICY, the policy's name in device).
 * Ids are taken as written (no percent-decoding); the last "@sas." splits
 * (a device id may hold '@').  The hub's name is written NUL-terminated
 * into hub.  Returns 0, or -1 when the name has none of these forms, an
 * empty or too long part, or a NUL.
 */
int ngx_iothub_amqp_plain_user(const unsigned char *p, size_t len,
    ngx_iothub_amqp_addr_t *a, char *hub, size_t hub_size);

/*
 * 1 when the scope path (as ngx_iothub_amqp_audience_scope() writes it;
 * empty: the whole hub) covers path by whole segments ("/messages" covers
 * "/messages/devicebound", not "/messagesX"), words compared without
 * regard to case (amqp.md 1.3); else 0.
 */
int ngx_iothub_amqp_scope_covers(const char *scope, const char *path);


/* Event Hubs names (amqp.md 10.2, 10.3): the entity is the hub's name */

#define NGX_IOTHUB_AMQP_EH_PATH_MAX  512

typedef struct {
    unsigned                  management;      /* "$management" */
    size_t                    path_len;        /* "/<entity>/...", no NUL */
    char                      path[NGX_IOTHUB_AMQP_EH_PATH_MAX];
    const char               *group;           /* partitions: in the */
    size_t                    group_len;       /* address parsed */
    const char               *partition;
    size_t                    partition_len;
} ngx_iothub_amqp_eh_addr_t;

/*
 * A link address (a C string) to "$management" or to
 * "[scheme://host]/<entity>/ConsumerGroups/<group>/Partitions/<n>", the
 * entity and the words compared without regard to case: 0 and a filled
 * (the path as a token's sr must cover it), or -1 for another address or
 * a path of NGX_IOTHUB_AMQP_EH_PATH_MAX - 1 bytes or more.
 */
int ngx_iothub_amqp_eh_addr_parse(const char *addr, const char *hub,
    size_t hub_len, ngx_iothub_amqp_eh_addr_t *a);

/*
 * A CBS audience "sb://host/<entity>[/...]" for the hub's entity: 0 and
 * its path from the '/' after the host, NUL-terminated, in path (of
 * NGX_IOTHUB_AMQP_EH_PATH_MAX bytes); -1 for another audience or a path
 * too long.
 */
int ngx_iothub_amqp_eh_audience_path(const unsigned char *p, size_t len,
    const char *hub, size_t hub_len, char *path);


/*
 * A UUID as text, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in either case
 * (the correlation id of a method answer, which Node sends as a string):
 * 0 and its 16 bytes in uuid, else -1.
 */
int ngx_iothub_amqp_uuid_text_parse(const char *p, size_t len,
    unsigned char *uuid);


#endif /* _NGX_IOTHUB_AMQP_ADDRESS_H_INCLUDED_ */
