
/*
 * Copyright (C) nginx-iothub authors
 */


#ifndef _NGX_IOTHUB_PROPS_H_INCLUDED_
#define _NGX_IOTHUB_PROPS_H_INCLUDED_


/*
 * Message property rules shared by every device protocol.  Pure C: libc
 * only, no nginx headers.
 */


#include <stddef.h>


/*
 * Nonzero when a device may not set the application property "name" (len
 * bytes) itself: the hub writes these (messaging.md 2; mqtt.md 2, 4):
 *
 *     iothub-*          the stamps (iothub-connection-device-id, ...), the
 *                       will marker iothub-MessageType, and the app-property
 *                       forms of system properties (iothub-creation-time-utc,
 *                       iothub-outputname, iothub-interface-id), which a
 *                       device sets through its protocol's system properties
 *                       ($.ctime, $.on, $.ifid on MQTT), not as bare names
 *     mqtt-retain       the RETAIN flag of an MQTT PUBLISH
 *     x-opt-retain      its older name
 *
 * Names compare without regard to case, as routing queries do.  A device's
 * reserved property is dropped from its message; the rest is stored.
 */
int ngx_iothub_app_property_reserved(const unsigned char *name, size_t len);



/*
 * A property as a protocol's headers give it: field is the stored name of
 * a system property ("p:message-id", "a:dt-subject", ...) or "u:" for an
 * application property whose name follows.  The strings point into the
 * caller's input.
 */
typedef struct {
    const char                  *field;
    const unsigned char         *name;
    size_t                       name_len;
    const unsigned char         *value;
    size_t                       value_len;
} ngx_iothub_prop_t;


/* a header that carries a system property, and the property's field */
typedef struct {
    const char                  *header;
    const char                  *field;
} ngx_iothub_prop_header_t;


/*
 * The length of the prefix "iothub-app-" (any case) when name (len bytes)
 * is the header of an application property, iothub-app-<name> with a
 * name; else 0.
 */
size_t ngx_iothub_prop_app_header(const unsigned char *name, size_t len);

/* Nonzero when name (len bytes) is header, without regard to case. */
int ngx_iothub_prop_name_is(const unsigned char *name, size_t len,
    const char *header);

/*
 * The field of the header "name" in table (ended by a NULL header), or
 * NULL when it is none of them.
 */
const char *ngx_iothub_prop_system(const ngx_iothub_prop_header_t *table,
    const unsigned char *name, size_t len);

/* Appends a property to props[*n]: 0, or -1 when *n is max already. */
int ngx_iothub_prop_add(ngx_iothub_prop_t *props, size_t *n, size_t max,
    const char *field, const unsigned char *name, size_t name_len,
    const unsigned char *value, size_t value_len);


#endif /* _NGX_IOTHUB_PROPS_H_INCLUDED_ */
