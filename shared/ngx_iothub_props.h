
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


#endif /* _NGX_IOTHUB_PROPS_H_INCLUDED_ */
