
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_props.c: the application properties a
 * device may not set itself (messaging.md 2, mqtt.md 2 and 4; issue 8,
 * defect 6), the iothub-app- header prefix, the system header lookup and
 * the property append of the HTTPS headers.
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


typedef struct {
    const char            *name;
    const char            *header;
    size_t                 prefix;       /* what app_header() answers */
} app_case_t;


static void test_app_header(void **state);
static void test_system_and_add(void **state);


static const app_case_t  app_cases[] = {
    { "an application property", "iothub-app-alert", 11 },
    { "any case", "IoTHub-App-Alert", 11 },
    { "a one-byte name", "iothub-app-x", 11 },
    { "the bare prefix names nothing", "iothub-app-", 0 },
    { "shorter than the prefix", "iothub-ap", 0 },
    { "a system property", "iothub-messageid", 0 },
    { "the prefix inside the name", "x-iothub-app-y", 0 },
    { "empty", "", 0 },
};


static void
test_app_header(void **state)
{
    const app_case_t  *tc = *state;

    assert_int_equal(ngx_iothub_prop_app_header(
                         (const unsigned char *) tc->header,
                         strlen(tc->header)),
                     tc->prefix);
}


/* one case: the name cmocka shows */
static const struct {
    const char            *name;
} helper_cases[] = {
    { "system header lookup and append" },
};


static const ngx_iothub_prop_header_t  test_system[] = {
    { "iothub-messageid", "p:message-id" },
    { "dt-subject", "a:dt-subject" },
    { NULL, NULL }
};


static void
test_system_and_add(void **state)
{
    size_t             n;
    ngx_iothub_prop_t  props[2];

    (void) state;

    assert_string_equal(ngx_iothub_prop_system(test_system,
                            (const unsigned char *) "IOTHUB-MessageId", 16),
                        "p:message-id");
    assert_null(ngx_iothub_prop_system(test_system,
                    (const unsigned char *) "iothub-messageid2", 17));
    assert_null(ngx_iothub_prop_system(test_system,
                    (const unsigned char *) "dt-subjec", 9));

    n = 0;
    assert_int_equal(ngx_iothub_prop_add(props, &n, 2, "u:",
                         (const unsigned char *) "a", 1,
                         (const unsigned char *) "1", 1), 0);
    assert_int_equal(ngx_iothub_prop_add(props, &n, 2, "p:message-id", NULL,
                         0, (const unsigned char *) "m", 1), 0);
    assert_int_equal(ngx_iothub_prop_add(props, &n, 2, "u:",
                         (const unsigned char *) "b", 1,
                         (const unsigned char *) "2", 1), -1);
    assert_int_equal(n, 2);
    assert_string_equal(props[1].field, "p:message-id");
    assert_int_equal(props[0].name_len, 1);
}


int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("reserved application properties", test_reserved,
              reserved_cases),
        TABLE("application property headers", test_app_header, app_cases),
        TABLE("property helpers", test_system_and_add, helper_cases),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    return failed != 0;
}
