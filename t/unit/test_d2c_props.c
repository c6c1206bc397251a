
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_props.c: the application properties a
 * device may not set itself (messaging.md 2, mqtt.md 2 and 4; issue 8,
 * defect 6).
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_props.h"


typedef struct {
    const char            *name;
    const char            *prop;
    size_t                 len;          /* 0: strlen(prop) */
    int                    reserved;
} reserved_case_t;


static void test_reserved(void **state);


static const reserved_case_t  reserved_cases[] = {
    { "messaging.md 2 stamp: connection device id",
      "iothub-connection-device-id", 0, 1 },
    { "messaging.md 2 stamp: module id", "iothub-connection-module-id", 0, 1 },
    { "messaging.md 2 stamp: auth method", "iothub-connection-auth-method", 0,
      1 },
    { "messaging.md 2 stamp: enqueued time", "iothub-enqueuedtime", 0, 1 },
    { "messaging.md 2 stamp: message source", "iothub-message-source", 0, 1 },
    { "mqtt.md 2 will marker", "iothub-MessageType", 0, 1 },
    { "will marker, other case", "IOTHUB-MESSAGETYPE", 0, 1 },
    { "mqtt.md 4 $.ctime's app-property form", "iothub-creation-time-utc", 0,
      1 },
    { "mqtt.md 4 $.on's app-property form", "iothub-outputname", 0, 1 },
    { "mqtt.md 4 $.ifid's app-property form", "iothub-interface-id", 0, 1 },
    { "C2D ack mode", "iothub-ack", 0, 1 },
    { "the bare prefix", "iothub-", 0, 1 },
    { "mqtt.md 4 retain flag", "mqtt-retain", 0, 1 },
    { "retain flag, other case", "MQTT-Retain", 0, 1 },
    { "retain flag, older name", "x-opt-retain", 0, 1 },
    { "an application property", "alert", 0, 0 },
    { "empty name", "", 0, 0 },
    { "no dash", "iothub", 0, 0 },
    { "prefix inside the name", "my-iothub-x", 0, 0 },
    { "underscore, not dash", "iothub_connection", 0, 0 },
    { "longer than mqtt-retain", "mqtt-retained", 0, 0 },
    { "shorter than mqtt-retain", "mqtt-retai", 0, 0 },
    { "other mqtt- names", "mqtt-qos", 0, 0 },
    { "dt-subject is the device's ($.sub)", "dt-subject", 0, 0 },
    { "length bounds the name", "iothub-x", 6, 0 },
    { "NUL inside: the length counts", "mqtt-retain\0x", 13, 0 },
};


static void
test_reserved(void **state)
{
    size_t                  len;
    const reserved_case_t  *tc = *state;

    len = tc->len ? tc->len : strlen(tc->prop);

    assert_int_equal(ngx_iothub_app_property_reserved(
                         (const unsigned char *) tc->prop, len) != 0,
                     tc->reserved);
}


int
main(void)
{
    static const table_t  tables[] = {
        TABLE("reserved application properties", test_reserved,
              reserved_cases),
    };

    return run_table(&tables[0]) != 0;
}
