
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_identity.c: device and module JSON
 * (rest.md 3-4, auth.md 4-5), the Redis hash mapping and bulk registry
 * requests (rest.md 5).  Every table row is one named cmocka test.
 *
 *   cc -Wall -Wextra -Werror -Ishared t/unit/test_identity.c \
 *       shared/ngx_iothub_identity.c shared/ngx_iothub_sas.c \
 *       -lcmocka -lyajl -lcrypto
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <yajl/yajl_gen.h>

#include "ngx_iothub_identity.h"


#define countof(a)  (sizeof(a) / sizeof((a)[0]))

/* base64 of 32, 16, 8, 15 and 65 bytes (auth.md 4: 16..64 accepted) */
#define KEY32   "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define KEY32B  "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define KEY16   "AQIDBAUGBwgJCgsMDQ4PEA=="
#define KEY8    "AQIDBAUGBwg="
#define KEY15   "AQIDBAUGBwgJCgsMDQ4P"
#define KEY65   "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMk" \
                "JSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEE="

/* SHA-1 and SHA-256 thumbprints (auth.md 5) */
#define TP40    "0123456789ABCDEF0123456789ABCDEF01234567"
#define TP40B   "89abcdef0123456789abcdef0123456789abcdef"
#define TP64    "0123456789abcdef0123456789abcdef" \
                "0123456789abcdef0123456789abcdef"

#define NEVER   NGX_IOTHUB_IDENTITY_NEVER

#define NODE_MODES  "["                                                   \
    "{\"id\":\"a\",\"importMode\":\"create\"},"                             \
    "{\"id\":\"b\",\"importMode\":\"Update\",\"twinETag\":\"x\","            \
    "\"tags\":{\"t\":[1,2]},\"properties\":{\"desired\":{}}},"               \
    "{\"id\":\"c\",\"eTag\":\"MQ==\",\"importMode\":\"UpdateIfMatchETag\"}," \
    "{\"id\":\"d\",\"importMode\":\"Delete\"},"                             \
    "{\"id\":\"e\",\"eTag\":\"Mg==\",\"importMode\":\"DeleteIfMatchETag\"}," \
    "{\"id\":\"f\",\"importMode\":\"updatetwin\"},"                         \
    "{\"id\":\"g\",\"importMode\":\"UPDATETWINIFMATCHETAG\"}]"

#define X10     "xxxxxxxxxx"
#define X100    X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define ID128   X100 X10 X10 "xxxxxxxx"
#define ID129   ID128 "x"


typedef struct {
    const char                *name;
    int                        is_module;
    const char                *json;
    ngx_iothub_identity_rc_e   rc;
    /* OK: "field=value" of the Redis mapping; error: part of err */
    const char                *expect[10];
} parse_case_t;


typedef struct {
    const char                *name;
    const char                *json;     /* NULL: built by the test */
    ngx_iothub_identity_rc_e   rc;
    size_t                     n;
    const char                *err;      /* part of err, or NULL */
} bulk_case_t;


static const parse_case_t  parse_cases[] = {

    /* rest.md 3 and auth.md 4: Node SDK create, keys to be generated */
    { "device: Node SDK create with empty keys", 0,
      "{\"deviceId\":\"d1\",\"authentication\":{\"type\":\"sas\","
      "\"symmetricKey\":{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "deviceId=d1", "moduleId=", "authType=sas", "primaryKey=",
        "secondaryKey=", "status=enabled", "connectionState=Disconnected",
        "statusUpdatedTime=" NEVER, "parentScopes=[]", "iotEdge=0" } },

    { "device: explicit keys", 0,
      "{\"deviceId\":\"d1\",\"authentication\":{\"symmetricKey\":"
      "{\"primaryKey\":\"" KEY32 "\",\"secondaryKey\":\"" KEY16 "\"},"
      "\"type\":\"sas\"}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "primaryKey=" KEY32, "secondaryKey=" KEY16, "authType=sas" } },

    { "device: keys null and no type: sas, keys generated later", 0,
      "{\"deviceId\":\"d1\",\"authentication\":{\"symmetricKey\":"
      "{\"primaryKey\":null,\"secondaryKey\":null},\"x509Thumbprint\":"
      "{\"primaryThumbprint\":null,\"secondaryThumbprint\":null}}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "authType=sas", "primaryKey=", "primaryThumbprint=" } },

    /* auth.md 5 */
    { "device: x509 selfSigned", 0,
      "{\"deviceId\":\"d1\",\"authentication\":{\"x509Thumbprint\":"
      "{\"primaryThumbprint\":\"" TP40 "\",\"secondaryThumbprint\":\""
      TP40B "\"},\"type\":\"selfSigned\"}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "authType=selfSigned", "primaryThumbprint=" TP40,
        "secondaryThumbprint=" TP40B, "primaryKey=", "secondaryKey=" } },

    { "device: thumbprint without type implies selfSigned", 0,
      "{\"deviceId\":\"d1\",\"authentication\":{\"x509Thumbprint\":"
      "{\"primaryThumbprint\":\"" TP64 "\"}}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "authType=selfSigned", "primaryThumbprint=" TP64,
        "secondaryThumbprint=" } },

    { "device: type in any case, keys of selfSigned dropped", 0,
      "{\"deviceId\":\"d1\",\"authentication\":{\"type\":\"SELFSIGNED\","
      "\"symmetricKey\":{\"primaryKey\":\"" KEY32 "\"},"
      "\"x509Thumbprint\":{\"primaryThumbprint\":\"" TP40 "\"}}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "authType=selfSigned", "primaryKey=", "primaryThumbprint=" TP40 } },

    { "device: certificateAuthority", 0,
      "{\"deviceId\":\"d1\",\"authentication\":"
      "{\"type\":\"certificateAuthority\",\"symmetricKey\":"
      "{\"primaryKey\":\"\",\"secondaryKey\":\"\"},\"x509Thumbprint\":"
      "{\"primaryThumbprint\":\"" TP40 "\",\"secondaryThumbprint\":null}}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "authType=certificateAuthority", "primaryKey=",
        "primaryThumbprint=", "secondaryThumbprint=" } },

    { "device: type none, any case", 0,
      "{\"deviceId\":\"d1\",\"authentication\":{\"type\":\"None\"}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "authType=none" } },

    { "device: status, reason, Edge capability and scopes", 0,
      "{\"deviceId\":\"edge1\",\"status\":\"Disabled\",\"statusReason\":"
      "\"maintenance \\\"A\\\"\",\"capabilities\":{\"iotEdge\":true},"
      "\"deviceScope\":\"ms-azure-iot-edge://edge1-1\",\"parentScopes\":"
      "[\"ms-azure-iot-edge://p-2\",\"a\\\"b\"]}",
      NGX_IOTHUB_IDENTITY_OK,
      { "status=disabled", "statusReason=maintenance \"A\"", "iotEdge=1",
        "deviceScope=ms-azure-iot-edge://edge1-1",
        "parentScopes=[\"ms-azure-iot-edge://p-2\",\"a\\\"b\"]" } },

    { "device: null is absent", 0,
      "{\"deviceId\":\"d1\",\"status\":null,\"statusReason\":null,"
      "\"authentication\":null,\"capabilities\":{\"iotEdge\":null},"
      "\"deviceScope\":null,\"parentScopes\":null}",
      NGX_IOTHUB_IDENTITY_OK,
      { "status=enabled", "statusReason=", "authType=sas", "iotEdge=0",
        "deviceScope=", "parentScopes=[]" } },

    /* rest.md 3: unknown and read-only fields are ignored, any type */
    { "device: unknown and read-only fields ignored", 0,
      "{\"deviceId\":\"d1\",\"connectionString\":\"HostName=h;DeviceId=d1\","
      "\"etag\":5,\"generationId\":{\"a\":[1,{\"b\":null}]},"
      "\"connectionState\":\"Connected\",\"lastActivityTime\":[true],"
      "\"cloudToDeviceMessageCount\":\"x\",\"moduleId\":\"ignored\","
      "\"managedBy\":7,\"authentication\":{\"extra\":{\"type\":5},"
      "\"symmetricKey\":{\"tertiaryKey\":[]},\"type\":\"sas\"},"
      "\"capabilities\":{\"other\":1}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "deviceId=d1", "etag=", "generationId=", "moduleId=",
        "managedBy=", "connectionState=Disconnected",
        "lastActivityTime=" NEVER } },

    { "device: key names in any case", 0,
      "{\"DeviceId\":\"d1\",\"STATUS\":\"disabled\",\"Authentication\":"
      "{\"Type\":\"sas\",\"SymmetricKey\":{\"PrimaryKey\":\"" KEY32 "\"}}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "deviceId=d1", "status=disabled", "primaryKey=" KEY32 } },

    { "device: empty object, id left to the caller", 0, "{}",
      NGX_IOTHUB_IDENTITY_OK,
      { "deviceId=", "authType=sas" } },

    { "device: id of 128 characters", 0,
      "{\"deviceId\":\"" ID128 "\"}",
      NGX_IOTHUB_IDENTITY_OK,
      { "deviceId=" ID128 } },

    { "device: statusReason of 128 bytes", 0,
      "{\"statusReason\":\"" ID128 "\"}",
      NGX_IOTHUB_IDENTITY_OK,
      { "statusReason=" ID128 } },

    /* malformed JSON: 400006 IotHubFormatError */
    { "bad json: empty body", 0, "",
      NGX_IOTHUB_IDENTITY_BAD_JSON, { "malformed JSON" } },
    { "bad json: truncated", 0, "{\"deviceId\":\"d1\"",
      NGX_IOTHUB_IDENTITY_BAD_JSON, { "malformed JSON" } },
    { "bad json: missing value", 0, "{\"deviceId\":}",
      NGX_IOTHUB_IDENTITY_BAD_JSON, { "malformed JSON" } },
    { "bad json: trailing garbage", 0, "{} x",
      NGX_IOTHUB_IDENTITY_BAD_JSON, { "malformed JSON" } },
    { "bad json: two values", 0, "{}{}",
      NGX_IOTHUB_IDENTITY_BAD_JSON, { "malformed JSON" } },
    { "bad json: comment", 0, "{/* c */}",
      NGX_IOTHUB_IDENTITY_BAD_JSON, { "malformed JSON" } },
    { "bad json: invalid UTF-8", 0, "{\"statusReason\":\"\xc3\x28\"}",
      NGX_IOTHUB_IDENTITY_BAD_JSON, { "malformed JSON" } },
    { "bad json: single quotes", 0, "{'deviceId':'d1'}",
      NGX_IOTHUB_IDENTITY_BAD_JSON, { "malformed JSON" } },

    /* wrong shapes and values: 400004 ArgumentInvalid */
    { "invalid: body is an array", 0, "[{\"deviceId\":\"d1\"}]",
      NGX_IOTHUB_IDENTITY_INVALID, { "not a JSON object" } },
    { "invalid: body is a number", 0, "5",
      NGX_IOTHUB_IDENTITY_INVALID, { "not a JSON object" } },
    { "invalid: status 5", 0, "{\"deviceId\":\"d1\",\"status\":5}",
      NGX_IOTHUB_IDENTITY_INVALID, { "status must be a string" } },
    { "invalid: status paused", 0, "{\"status\":\"paused\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "status must be" } },
    { "invalid: status object", 0, "{\"status\":{}}",
      NGX_IOTHUB_IDENTITY_INVALID, { "status must be a string" } },
    { "invalid: key not base64", 0,
      "{\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"not base64!\""
      "}}}",
      NGX_IOTHUB_IDENTITY_INVALID,
      { "authentication.symmetricKey.primaryKey" } },
    { "invalid: short key, 8 bytes", 0,
      "{\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"" KEY32 "\","
      "\"secondaryKey\":\"" KEY8 "\"}}}",
      NGX_IOTHUB_IDENTITY_INVALID,
      { "authentication.symmetricKey.secondaryKey is not base64" } },
    { "invalid: key of 15 bytes", 0,
      "{\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"" KEY15 "\"}}"
      "}",
      NGX_IOTHUB_IDENTITY_INVALID, { "primaryKey" } },
    { "invalid: key of 65 bytes", 0,
      "{\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"" KEY65 "\"}}"
      "}",
      NGX_IOTHUB_IDENTITY_INVALID, { "primaryKey" } },
    { "invalid: key is a number", 0,
      "{\"authentication\":{\"symmetricKey\":{\"primaryKey\":12}}}",
      NGX_IOTHUB_IDENTITY_INVALID, { "primaryKey must be a string" } },
    { "invalid: symmetricKey is a string", 0,
      "{\"authentication\":{\"symmetricKey\":\"" KEY32 "\"}}",
      NGX_IOTHUB_IDENTITY_INVALID, { "symmetricKey must be an object" } },
    { "invalid: authentication is an array", 0,
      "{\"authentication\":[]}",
      NGX_IOTHUB_IDENTITY_INVALID, { "authentication must be an object" } },
    { "invalid: unknown authentication type", 0,
      "{\"authentication\":{\"type\":\"x509\"}}",
      NGX_IOTHUB_IDENTITY_INVALID, { "authentication.type" } },
    { "invalid: selfSigned without thumbprint", 0,
      "{\"authentication\":{\"type\":\"selfSigned\",\"x509Thumbprint\":"
      "{\"secondaryThumbprint\":\"" TP40 "\"}}}",
      NGX_IOTHUB_IDENTITY_INVALID, { "primaryThumbprint is required" } },
    { "invalid: thumbprint of 39 digits", 0,
      "{\"authentication\":{\"x509Thumbprint\":{\"primaryThumbprint\":"
      "\"0123456789ABCDEF0123456789ABCDEF0123456\"}}}",
      NGX_IOTHUB_IDENTITY_INVALID, { "primaryThumbprint is not 40" } },
    { "invalid: thumbprint with colons", 0,
      "{\"authentication\":{\"type\":\"selfSigned\",\"x509Thumbprint\":{"
      "\"primaryThumbprint\":\"" TP40 "\",\"secondaryThumbprint\":"
      "\"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67\"}}}",
      NGX_IOTHUB_IDENTITY_INVALID, { "secondaryThumbprint" } },
    { "invalid: deviceId with a slash", 0, "{\"deviceId\":\"a/b\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "deviceId is not a valid id" } },
    { "invalid: deviceId empty", 0, "{\"deviceId\":\"\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "deviceId is not a valid id" } },
    { "invalid: deviceId of 129 characters", 0,
      "{\"deviceId\":\"" ID129 "\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "deviceId is not a valid id" } },
    { "invalid: deviceId is a number", 0, "{\"deviceId\":1}",
      NGX_IOTHUB_IDENTITY_INVALID, { "deviceId must be a string" } },
    { "invalid: statusReason of 129 bytes", 0,
      "{\"statusReason\":\"" ID129 "\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "statusReason is longer than 128" } },
    { "invalid: NUL inside a string", 0,
      "{\"statusReason\":\"a\\u0000b\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "statusReason must not contain NUL" } },
    { "invalid: iotEdge is a string", 0,
      "{\"capabilities\":{\"iotEdge\":\"true\"}}",
      NGX_IOTHUB_IDENTITY_INVALID, { "capabilities.iotEdge must be a bool" } },
    { "invalid: parentScopes of numbers", 0, "{\"parentScopes\":[1]}",
      NGX_IOTHUB_IDENTITY_INVALID, { "parentScopes must be an array" } },
    { "invalid: parentScopes nested", 0, "{\"parentScopes\":[[\"a\"]]}",
      NGX_IOTHUB_IDENTITY_INVALID, { "parentScopes must be an array" } },
    { "invalid: parentScopes is a string", 0, "{\"parentScopes\":\"a\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "parentScopes must be an array" } },

    /* rest.md 4: modules */
    { "module: create", 1,
      "{\"moduleId\":\"m1\",\"deviceId\":\"d1\",\"managedBy\":\"iotEdge\","
      "\"authentication\":{\"type\":\"sas\",\"symmetricKey\":"
      "{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}}",
      NGX_IOTHUB_IDENTITY_OK,
      { "moduleId=m1", "deviceId=d1", "managedBy=iotEdge", "authType=sas" } },

    { "module: status and capabilities are not module fields", 1,
      "{\"moduleId\":\"m1\",\"status\":\"paused\",\"capabilities\":5,"
      "\"deviceScope\":[]}",
      NGX_IOTHUB_IDENTITY_OK,
      { "moduleId=m1", "status=enabled", "deviceScope=", "iotEdge=0" } },

    { "module: invalid moduleId", 1, "{\"moduleId\":\"m 1\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "moduleId is not a valid id" } },

    { "module: managedBy too long", 1,
      "{\"moduleId\":\"m1\",\"managedBy\":\"" X100 "\"}",
      NGX_IOTHUB_IDENTITY_INVALID, { "managedBy is longer than 63" } },
};


static const bulk_case_t  bulk_cases[] = {

    { "bulk: rest.md example", "["
      "{\"id\":\"dev1\",\"importMode\":\"create\",\"status\":\"enabled\","
      "\"authentication\":{\"type\":\"sas\",\"symmetricKey\":"
      "{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}},"
      "{\"id\":\"dev2\",\"eTag\":\"MTk1NjQ2OTk4\",\"importMode\":"
      "\"UpdateIfMatchETag\",\"status\":\"disabled\"}]",
      NGX_IOTHUB_IDENTITY_OK, 2, NULL },

    /* rest.md 5: the Node SDK capitalizes all but create */
    { "bulk: Node SDK mixed-case modes", NODE_MODES,
      NGX_IOTHUB_IDENTITY_OK, 7, NULL },

    { "bulk: module entries beside their device", "["
      "{\"id\":\"d1\",\"importMode\":\"create\"},"
      "{\"id\":\"d1\",\"moduleId\":\"m1\",\"importMode\":\"create\"},"
      "{\"id\":\"d1\",\"moduleId\":\"m2\",\"importMode\":\"create\"}]",
      NGX_IOTHUB_IDENTITY_OK, 3, NULL },

    { "bulk: 100 entries", NULL, NGX_IOTHUB_IDENTITY_OK, 100, NULL },

    { "bulk: 101 entries", NULL, NGX_IOTHUB_IDENTITY_TOO_MANY, 0,
      "at most 100" },

    { "bulk: duplicate device", "["
      "{\"id\":\"d1\",\"importMode\":\"create\"},"
      "{\"id\":\"d2\",\"importMode\":\"create\"},"
      "{\"id\":\"d1\",\"importMode\":\"delete\"}]",
      NGX_IOTHUB_IDENTITY_DUPLICATE, 0, "DeviceDefinedMultipleTimes" },

    { "bulk: duplicate module", "["
      "{\"id\":\"d1\",\"moduleId\":\"m1\",\"importMode\":\"create\"},"
      "{\"id\":\"d1\",\"moduleId\":\"m1\",\"importMode\":\"update\"}]",
      NGX_IOTHUB_IDENTITY_DUPLICATE, 0, "DeviceDefinedMultipleTimes" },

    { "bulk: not an array (object)", "{\"id\":\"d1\"}",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "not a JSON array" },

    { "bulk: not an array (string)", "\"d1\"",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "not a JSON array" },

    { "bulk: empty array", "[]",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "no entries" },

    { "bulk: entry not an object", "[{\"id\":\"d1\",\"importMode\":"
      "\"create\"},5]",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "entry 1: not a JSON object" },

    { "bulk: entry is an array", "[[]]",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "entry 0: not a JSON object" },

    { "bulk: missing id", "[{\"importMode\":\"create\"}]",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "entry 0: id is required" },

    { "bulk: invalid id", "[{\"id\":\"a b\",\"importMode\":\"create\"}]",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "entry 0: id is not a valid id" },

    { "bulk: missing importMode", "[{\"id\":\"d1\"}]",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "importMode is required" },

    { "bulk: bad importMode", "[{\"id\":\"d1\",\"importMode\":\"upsert\"}]",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "importMode must be" },

    { "bulk: bad key in the second entry", "["
      "{\"id\":\"d1\",\"importMode\":\"create\"},"
      "{\"id\":\"d2\",\"importMode\":\"create\",\"authentication\":"
      "{\"symmetricKey\":{\"primaryKey\":\"" KEY8 "\"}}}]",
      NGX_IOTHUB_IDENTITY_INVALID, 0, "entry 1: authentication." },

    { "bulk: malformed JSON", "[{\"id\":\"d1\",\"importMode\":\"create\"}",
      NGX_IOTHUB_IDENTITY_BAD_JSON, 0, "malformed JSON" },
};


static const char *const  field_names[NGX_IOTHUB_IDENTITY_NFIELDS] = {
    "deviceId", "moduleId", "generationId", "etag", "status", "statusReason",
    "statusUpdatedTime", "connectionState", "connectionStateUpdatedTime",
    "lastActivityTime", "authType", "primaryKey", "secondaryKey",
    "primaryThumbprint", "secondaryThumbprint", "managedBy", "deviceScope",
    "parentScopes", "modelId", "iotEdge"
};


/* a device as stored in Redis: field, value pairs */
static const char *const  stored_device[] = {
    "deviceId", "dev1",
    "generationId", "638401234567890123",
    "etag", "MTk1NjQ2OTk4",
    "status", "disabled",
    "statusReason", "maintenance",
    "statusUpdatedTime", "2024-01-02T10:00:00Z",
    "connectionState", "Connected",
    "connectionStateUpdatedTime", "2024-01-02T10:11:12.1234567Z",
    "lastActivityTime", "2024-01-02T10:11:13Z",
    "authType", "sas",
    "primaryKey", KEY32,
    "secondaryKey", KEY32B,
    "deviceScope", "ms-azure-iot-edge://edge1-638401234567890123",
    "parentScopes", "[\"ms-azure-iot-edge://edge1-638401234567890123\"]",
    "iotEdge", "1",
    NULL
};


/* the same device as GET /devices/dev1 returns it (rest.md 3) */
static const char  stored_device_json[] =
    "{\"deviceId\":\"dev1\",\"generationId\":\"638401234567890123\","
    "\"etag\":\"MTk1NjQ2OTk4\",\"connectionState\":\"Connected\","
    "\"status\":\"disabled\",\"statusReason\":\"maintenance\","
    "\"connectionStateUpdatedTime\":\"2024-01-02T10:11:12.1234567Z\","
    "\"statusUpdatedTime\":\"2024-01-02T10:00:00Z\","
    "\"lastActivityTime\":\"2024-01-02T10:11:13Z\","
    "\"cloudToDeviceMessageCount\":3,"
    "\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"" KEY32 "\","
    "\"secondaryKey\":\"" KEY32B "\"},\"x509Thumbprint\":"
    "{\"primaryThumbprint\":null,\"secondaryThumbprint\":null},"
    "\"type\":\"sas\"},\"capabilities\":{\"iotEdge\":true},"
    "\"deviceScope\":\"ms-azure-iot-edge://edge1-638401234567890123\","
    "\"parentScopes\":[\"ms-azure-iot-edge://edge1-638401234567890123\"]}";


static const char *const  stored_module[] = {
    "deviceId", "d1",
    "moduleId", "$edgeAgent",
    "managedBy", "iotEdge",
    "generationId", "638401234567890124",
    "etag", "MQ==",
    "authType", "selfSigned",
    "primaryThumbprint", TP40,
    "secondaryThumbprint", TP64,
    NULL
};


static const char  stored_module_json[] =
    "{\"moduleId\":\"$edgeAgent\",\"deviceId\":\"d1\","
    "\"managedBy\":\"iotEdge\",\"generationId\":\"638401234567890124\","
    "\"etag\":\"MQ==\",\"connectionState\":\"Disconnected\","
    "\"connectionStateUpdatedTime\":\"" NEVER "\","
    "\"lastActivityTime\":\"" NEVER "\",\"cloudToDeviceMessageCount\":0,"
    "\"authentication\":{\"symmetricKey\":{\"primaryKey\":null,"
    "\"secondaryKey\":null},\"x509Thumbprint\":{\"primaryThumbprint\":\""
    TP40 "\",\"secondaryThumbprint\":\"" TP64 "\"},"
    "\"type\":\"selfSigned\"}}";


static const char *const  stored_ca_device[] = {
    "deviceId", "ca1",
    "authType", "certificateAuthority",
    "primaryKey", KEY32,
    "primaryThumbprint", TP40,
    NULL
};


/* stored keys and thumbprints of other types are not shown */
static const char  stored_ca_device_json[] =
    "{\"deviceId\":\"ca1\",\"generationId\":\"\",\"etag\":\"\","
    "\"connectionState\":\"Disconnected\",\"status\":\"enabled\","
    "\"statusReason\":null,\"connectionStateUpdatedTime\":\"" NEVER "\","
    "\"statusUpdatedTime\":\"" NEVER "\",\"lastActivityTime\":\"" NEVER "\","
    "\"cloudToDeviceMessageCount\":0,\"authentication\":{\"symmetricKey\":"
    "{\"primaryKey\":null,\"secondaryKey\":null},\"x509Thumbprint\":"
    "{\"primaryThumbprint\":null,\"secondaryThumbprint\":null},"
    "\"type\":\"certificateAuthority\"},\"capabilities\":"
    "{\"iotEdge\":false},\"deviceScope\":null,\"parentScopes\":[]}";


static void
field_value(const ngx_iothub_identity_t *id, const char *name, char *out,
    size_t size)
{
    int          i, n;
    size_t       lens[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char  *names[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char  *values[NGX_IOTHUB_IDENTITY_NFIELDS];

    n = ngx_iothub_identity_fields(id, names, values, lens);

    for (i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            assert_true(lens[i] < size);
            memcpy(out, values[i], lens[i]);
            out[lens[i]] = '\0';
            return;
        }
    }

    fail_msg("no field \"%s\"", name);
}


static void
expect_fields(const char *test, const ngx_iothub_identity_t *id,
    const char *const *expect, size_t n)
{
    char         name[64], value[1024];
    size_t       i;
    const char  *eq;

    for (i = 0; i < n && expect[i] != NULL; i++) {
        eq = strchr(expect[i], '=');
        assert_non_null(eq);
        assert_true((size_t) (eq - expect[i]) < sizeof(name));

        memcpy(name, expect[i], eq - expect[i]);
        name[eq - expect[i]] = '\0';

        field_value(id, name, value, sizeof(value));

        if (strcmp(value, eq + 1) != 0) {
            fail_msg("%s: %s is \"%s\", expected \"%s\"", test, name, value,
                     eq + 1);
        }
    }
}


static void
load(ngx_iothub_identity_t *id, const char *const *pairs)
{
    ngx_iothub_identity_init(id);

    for ( /* void */ ; *pairs != NULL; pairs += 2) {
        ngx_iothub_identity_set_field(id, pairs[0], strlen(pairs[0]),
                                      pairs[1], strlen(pairs[1]));
    }
}


/* what the registry keeps from the stored record on an update */

static void
keep_server_fields(ngx_iothub_identity_t *dst,
    const ngx_iothub_identity_t *src)
{
    memcpy(dst->generation_id, src->generation_id,
           sizeof(dst->generation_id));
    memcpy(dst->etag, src->etag, sizeof(dst->etag));
    memcpy(dst->status_updated_time, src->status_updated_time,
           sizeof(dst->status_updated_time));
    memcpy(dst->connection_state, src->connection_state,
           sizeof(dst->connection_state));
    memcpy(dst->connection_state_updated_time,
           src->connection_state_updated_time,
           sizeof(dst->connection_state_updated_time));
    memcpy(dst->last_activity_time, src->last_activity_time,
           sizeof(dst->last_activity_time));
    dst->c2d_count = src->c2d_count;
}


static void
gen_text(const ngx_iothub_identity_t *id, char *out, size_t size)
{
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    assert_non_null(g);

    assert_int_equal(ngx_iothub_identity_gen(id, g), yajl_gen_status_ok);
    assert_int_equal(yajl_gen_get_buf(g, &buf, &len), yajl_gen_status_ok);
    assert_true(len < size);

    memcpy(out, buf, len);
    out[len] = '\0';

    yajl_gen_free(g);
}


/* the body is copied without a NUL: the parser must respect len */

static ngx_iothub_identity_rc_e
parse_exact(ngx_iothub_identity_t *id, const char *json, int is_module,
    char *err, size_t errlen)
{
    char                      *copy;
    size_t                     len;
    ngx_iothub_identity_rc_e   rc;

    len = strlen(json);
    copy = test_malloc(len + 1);
    memcpy(copy, json, len);
    copy[len] = '}';

    rc = ngx_iothub_identity_parse(id, copy, len, is_module, err, errlen);

    test_free(copy);

    return rc;
}


static void
test_parse_case(void **state)
{
    char                      err[256];
    const parse_case_t       *c;
    ngx_iothub_identity_t     id;
    ngx_iothub_identity_rc_e  rc;

    c = *state;

    memset(err, 'z', sizeof(err));

    rc = parse_exact(&id, c->json, c->is_module, err, sizeof(err));

    if (rc != c->rc) {
        fail_msg("%s: rc %d, expected %d (%s)", c->name, (int) rc,
                 (int) c->rc, err);
    }

    if (c->rc == NGX_IOTHUB_IDENTITY_OK) {
        assert_string_equal(err, "");
        expect_fields(c->name, &id, c->expect, countof(c->expect));
        return;
    }

    if (strstr(err, c->expect[0]) == NULL) {
        fail_msg("%s: error \"%s\" lacks \"%s\"", c->name, err, c->expect[0]);
    }
}


static void
test_parse_err_buffers(void **state)
{
    char                   err[8];
    ngx_iothub_identity_t  id;

    (void) state;

    /* no buffer, a short one: still the right result, still terminated */
    assert_int_equal(ngx_iothub_identity_parse(&id, "{\"status\":1}", 12, 0,
                                               NULL, 0),
                     NGX_IOTHUB_IDENTITY_INVALID);

    assert_int_equal(ngx_iothub_identity_parse(&id, "{\"status\":1}", 12, 0,
                                               err, sizeof(err)),
                     NGX_IOTHUB_IDENTITY_INVALID);
    assert_int_equal(strlen(err), sizeof(err) - 1);

    assert_int_equal(ngx_iothub_identity_parse(&id, NULL, 0, 0, err,
                                               sizeof(err)),
                     NGX_IOTHUB_IDENTITY_BAD_JSON);
}


static void
test_init_defaults(void **state)
{
    ngx_iothub_identity_t  id;

    (void) state;

    memset(&id, 'z', sizeof(id));
    ngx_iothub_identity_init(&id);

    assert_string_equal(id.device_id, "");
    assert_string_equal(id.module_id, "");
    assert_string_equal(id.status, "enabled");
    assert_string_equal(id.connection_state, "Disconnected");
    assert_string_equal(id.status_updated_time, NEVER);
    assert_string_equal(id.connection_state_updated_time, NEVER);
    assert_string_equal(id.last_activity_time, NEVER);
    assert_string_equal(id.auth_type, "sas");
    assert_string_equal(id.parent_scopes, "[]");
    assert_int_equal(id.iot_edge, 0);
    assert_int_equal(id.c2d_count, 0);
}


static void
test_gen_device_shape(void **state)
{
    char                   out[4096];
    ngx_iothub_identity_t  id;

    (void) state;

    load(&id, stored_device);
    id.c2d_count = 3;

    gen_text(&id, out, sizeof(out));
    assert_string_equal(out, stored_device_json);
}


static void
test_gen_module_shape(void **state)
{
    char                   out[4096];
    ngx_iothub_identity_t  id;

    (void) state;

    load(&id, stored_module);

    gen_text(&id, out, sizeof(out));
    assert_string_equal(out, stored_module_json);
}


static void
test_gen_non_sas_nulls(void **state)
{
    char                   out[4096];
    ngx_iothub_identity_t  id;

    (void) state;

    load(&id, stored_ca_device);

    gen_text(&id, out, sizeof(out));
    assert_string_equal(out, stored_ca_device_json);
}


static void
test_gen_bad_scopes(void **state)
{
    char                   out[4096];
    size_t                 i;
    ngx_iothub_identity_t  id;

    static const char *const  bad[] = {
        "", "[", "[1]", "{}", "\"a\"", "[[\"a\"]]", "[\"a\"] [\"b\"]", "null",
        "[\"a\",{}]"
    };

    (void) state;

    for (i = 0; i < countof(bad); i++) {
        load(&id, stored_ca_device);
        ngx_iothub_identity_set_field(&id, "parentScopes", 12, bad[i],
                                      strlen(bad[i]));

        gen_text(&id, out, sizeof(out));

        if (strstr(out, "\"parentScopes\":[]}") == NULL) {
            fail_msg("parentScopes \"%s\" gave %s", bad[i], out);
        }
    }
}


static void
test_gen_error(void **state)
{
    yajl_gen               g;
    ngx_iothub_identity_t  id;

    (void) state;

    /* a generator that already holds a complete value refuses more */
    g = yajl_gen_alloc(NULL);
    assert_non_null(g);
    assert_int_equal(yajl_gen_null(g), yajl_gen_status_ok);

    ngx_iothub_identity_init(&id);
    assert_int_not_equal(ngx_iothub_identity_gen(&id, g), yajl_gen_status_ok);

    yajl_gen_free(g);
}


/* update round trip: GET body -> PUT body parsed -> same GET body */

static void
test_round_trip_get_body(void **state)
{
    char                   out[4096], err[256];
    ngx_iothub_identity_t  stored, id;

    (void) state;

    load(&stored, stored_device);
    stored.c2d_count = 3;

    assert_int_equal(ngx_iothub_identity_parse(&id, stored_device_json,
                                               strlen(stored_device_json), 0,
                                               err, sizeof(err)),
                     NGX_IOTHUB_IDENTITY_OK);

    keep_server_fields(&id, &stored);

    gen_text(&id, out, sizeof(out));
    assert_string_equal(out, stored_device_json);
}


static void
test_round_trip_gen_parse_gen(void **state)
{
    char                        a[4096], b[4096], err[256];
    size_t                      i;
    ngx_iothub_identity_t       stored, id;
    const char *const          *s;

    static const char *const  *const  records[] = {
        stored_device, stored_module, stored_ca_device
    };

    (void) state;

    for (i = 0; i < countof(records); i++) {
        s = records[i];
        load(&stored, s);
        gen_text(&stored, a, sizeof(a));

        assert_int_equal(ngx_iothub_identity_parse(&id, a, strlen(a),
                                                   stored.module_id[0] != 0,
                                                   err, sizeof(err)),
                         NGX_IOTHUB_IDENTITY_OK);

        keep_server_fields(&id, &stored);
        gen_text(&id, b, sizeof(b));
        assert_string_equal(a, b);
    }
}


static void
test_fields_names(void **state)
{
    int                    i, n;
    size_t                 lens[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char            *names[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char            *values[NGX_IOTHUB_IDENTITY_NFIELDS];
    ngx_iothub_identity_t  id;

    (void) state;

    ngx_iothub_identity_init(&id);
    n = ngx_iothub_identity_fields(&id, names, values, lens);

    assert_int_equal(n, NGX_IOTHUB_IDENTITY_NFIELDS);

    for (i = 0; i < n; i++) {
        assert_string_equal(names[i], field_names[i]);
        assert_int_equal(lens[i], strlen(values[i]));
    }
}


/* fields() -> HSET -> HGETALL -> set_field() gives the same identity */

static void
test_fields_round_trip(void **state)
{
    int                    i, n;
    char                   a[4096], b[4096];
    size_t                 lens[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char            *names[NGX_IOTHUB_IDENTITY_NFIELDS];
    const char            *values[NGX_IOTHUB_IDENTITY_NFIELDS];
    ngx_iothub_identity_t  src, dst;

    (void) state;

    load(&src, stored_device);
    ngx_iothub_identity_set_field(&src, "moduleId", 8, "m1", 2);
    ngx_iothub_identity_set_field(&src, "managedBy", 9, "iotEdge", 7);
    ngx_iothub_identity_set_field(&src, "primaryThumbprint", 17, TP40, 40);
    ngx_iothub_identity_set_field(&src, "secondaryThumbprint", 19, TP64, 64);

    n = ngx_iothub_identity_fields(&src, names, values, lens);

    /* the values as a Redis reply would hold them: not NUL-terminated */
    memset(&dst, 'z', sizeof(dst));
    ngx_iothub_identity_init(&dst);

    for (i = 0; i < n; i++) {
        ngx_iothub_identity_set_field(&dst, names[i], strlen(names[i]),
                                      values[i], lens[i]);
    }

    for (i = 0; i < n; i++) {
        field_value(&dst, names[i], a, sizeof(a));
        assert_memory_equal(a, values[i], lens[i]);
        assert_int_equal(strlen(a), lens[i]);
    }

    assert_int_equal(dst.iot_edge, 1);

    gen_text(&src, a, sizeof(a));
    gen_text(&dst, b, sizeof(b));
    assert_string_equal(a, b);
}


static void
test_set_field_edges(void **state)
{
    char                   big[2048];
    ngx_iothub_identity_t  id;

    (void) state;

    ngx_iothub_identity_init(&id);

    /* name is len-delimited */
    ngx_iothub_identity_set_field(&id, "statusReasonXYZ", 12, "r", 1);
    assert_string_equal(id.status_reason, "r");

    /* unknown and prefix names are ignored */
    ngx_iothub_identity_set_field(&id, "status", 5, "disabled", 8);
    ngx_iothub_identity_set_field(&id, "cloudToDeviceMessageCount", 25,
                                  "7", 1);
    ngx_iothub_identity_set_field(&id, "", 0, "x", 1);
    assert_string_equal(id.status, "enabled");
    assert_int_equal(id.c2d_count, 0);

    /* overlong values are truncated to the member */
    memset(big, 'k', sizeof(big));
    ngx_iothub_identity_set_field(&id, "status", 6, big, sizeof(big));
    assert_int_equal(strlen(id.status), sizeof(id.status) - 1);

    ngx_iothub_identity_set_field(&id, "parentScopes", 12, big, sizeof(big));
    assert_int_equal(strlen(id.parent_scopes), sizeof(id.parent_scopes) - 1);

    ngx_iothub_identity_set_field(&id, "etag", 4, "", 0);
    assert_string_equal(id.etag, "");

    /* iotEdge: "1" only */
    ngx_iothub_identity_set_field(&id, "iotEdge", 7, "1", 1);
    assert_int_equal(id.iot_edge, 1);
    ngx_iothub_identity_set_field(&id, "iotEdge", 7, "true", 4);
    assert_int_equal(id.iot_edge, 0);
    ngx_iothub_identity_set_field(&id, "iotEdge", 7, "1", 1);
    ngx_iothub_identity_set_field(&id, "iotEdge", 7, "0", 1);
    assert_int_equal(id.iot_edge, 0);
}


static char *
bulk_build(const bulk_case_t *c)
{
    char    *p, *json;
    size_t   i, n, size;

    if (c->json != NULL) {
        json = test_malloc(strlen(c->json) + 1);
        strcpy(json, c->json);
        return json;
    }

    n = (c->rc == NGX_IOTHUB_IDENTITY_TOO_MANY) ? 101 : c->n;
    size = n * 64 + 2;
    json = test_malloc(size);
    p = json;

    *p++ = '[';

    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s{\"id\":\"dev%zu\",\"importMode\":\"create\"}",
                     i ? "," : "", i);
    }

    strcpy(p, "]");

    return json;
}


static void
test_bulk_case(void **state)
{
    char                      err[256], *json;
    size_t                    n;
    const bulk_case_t        *c;
    ngx_iothub_bulk_entry_t  *entries;
    ngx_iothub_identity_rc_e  rc;

    c = *state;
    json = bulk_build(c);

    entries = (void *) 1;
    n = 99;

    rc = ngx_iothub_bulk_parse(json, strlen(json), &entries, &n, err,
                               sizeof(err));
    test_free(json);

    if (rc != c->rc) {
        fail_msg("%s: rc %d, expected %d (%s)", c->name, (int) rc,
                 (int) c->rc, err);
    }

    if (c->err != NULL && strstr(err, c->err) == NULL) {
        fail_msg("%s: error \"%s\" lacks \"%s\"", c->name, err, c->err);
    }

    if (rc != NGX_IOTHUB_IDENTITY_OK) {
        assert_null(entries);
        assert_int_equal(n, 0);
        return;
    }

    assert_string_equal(err, "");
    assert_non_null(entries);
    assert_int_equal(n, c->n);

    free(entries);
}


static void
test_bulk_node_modes(void **state)
{
    char                      err[256];
    size_t                    i, n;
    ngx_iothub_bulk_entry_t  *e;

    static const ngx_iothub_import_mode_e  modes[] = {
        NGX_IOTHUB_IMPORT_CREATE,
        NGX_IOTHUB_IMPORT_UPDATE,
        NGX_IOTHUB_IMPORT_UPDATE_IF_MATCH_ETAG,
        NGX_IOTHUB_IMPORT_DELETE,
        NGX_IOTHUB_IMPORT_DELETE_IF_MATCH_ETAG,
        NGX_IOTHUB_IMPORT_UPDATE_TWIN,
        NGX_IOTHUB_IMPORT_UPDATE_TWIN_IF_MATCH_ETAG
    };

    (void) state;

    assert_int_equal(ngx_iothub_bulk_parse(NODE_MODES, strlen(NODE_MODES),
                                           &e, &n, err, sizeof(err)),
                     NGX_IOTHUB_IDENTITY_OK);

    assert_int_equal(n, countof(modes));

    for (i = 0; i < n; i++) {
        assert_int_equal(e[i].mode, modes[i]);
        assert_int_equal(e[i].identity.device_id[0], 'a' + (char) i);
        assert_string_equal(e[i].identity.module_id, "");
        assert_string_equal(e[i].identity.auth_type, "sas");
    }

    assert_string_equal(e[2].etag, "MQ==");
    assert_string_equal(e[4].etag, "Mg==");
    assert_string_equal(e[0].etag, "");

    free(e);
}


static void
test_bulk_fields(void **state)
{
    size_t                    n;
    char                      err[256];
    ngx_iothub_bulk_entry_t  *e;

    static const char  json[] = "["
        "{\"id\":\"d1\",\"moduleId\":\"m1\",\"importMode\":\"create\","
        "\"authentication\":{\"x509Thumbprint\":{\"primaryThumbprint\":\""
        TP40 "\"}},\"eTag\":null},"
        "{\"ID\":\"d2\",\"importmode\":\"update\",\"status\":\"DISABLED\","
        "\"statusReason\":\"r\",\"capabilities\":{\"iotEdge\":true},"
        "\"deviceScope\":\"s\",\"parentScopes\":[\"p\"],\"etag\":\"E\","
        "\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"" KEY32 "\""
        "}}}]";

    (void) state;

    assert_int_equal(ngx_iothub_bulk_parse(json, sizeof(json) - 1, &e, &n,
                                           err, sizeof(err)),
                     NGX_IOTHUB_IDENTITY_OK);
    assert_int_equal(n, 2);

    assert_string_equal(e[0].identity.device_id, "d1");
    assert_string_equal(e[0].identity.module_id, "m1");
    assert_string_equal(e[0].identity.auth_type, "selfSigned");
    assert_string_equal(e[0].identity.primary_thumbprint, TP40);
    assert_string_equal(e[0].etag, "");

    assert_string_equal(e[1].identity.device_id, "d2");
    assert_int_equal(e[1].mode, NGX_IOTHUB_IMPORT_UPDATE);
    assert_string_equal(e[1].identity.status, "disabled");
    assert_string_equal(e[1].identity.status_reason, "r");
    assert_int_equal(e[1].identity.iot_edge, 1);
    assert_string_equal(e[1].identity.device_scope, "s");
    assert_string_equal(e[1].identity.parent_scopes, "[\"p\"]");
    assert_string_equal(e[1].identity.primary_key, KEY32);
    assert_string_equal(e[1].identity.auth_type, "sas");
    /* "eTag" compares in any case, so "etag" is the entry's eTag */
    assert_string_equal(e[1].etag, "E");

    free(e);
}


static int
run_table(const char *group, const void *table, size_t n, size_t size,
    CMUnitTestFunction fn)
{
    int                 rc;
    size_t              i;
    struct CMUnitTest  *tests;

    tests = calloc(n, sizeof(struct CMUnitTest));
    if (tests == NULL) {
        return 1;
    }

    for (i = 0; i < n; i++) {
        /* each row begins with its name */
        tests[i].name = *(const char *const *) ((const char *) table
                                                + i * size);
        tests[i].test_func = fn;
        tests[i].initial_state = (void *) ((const char *) table + i * size);
    }

    rc = _cmocka_run_group_tests(group, tests, n, NULL, NULL);

    free(tests);

    return rc;
}


int
main(void)
{
    int  rc;

    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_parse_err_buffers),
        cmocka_unit_test(test_gen_device_shape),
        cmocka_unit_test(test_gen_module_shape),
        cmocka_unit_test(test_gen_non_sas_nulls),
        cmocka_unit_test(test_gen_bad_scopes),
        cmocka_unit_test(test_gen_error),
        cmocka_unit_test(test_round_trip_get_body),
        cmocka_unit_test(test_round_trip_gen_parse_gen),
        cmocka_unit_test(test_fields_names),
        cmocka_unit_test(test_fields_round_trip),
        cmocka_unit_test(test_set_field_edges),
        cmocka_unit_test(test_bulk_node_modes),
        cmocka_unit_test(test_bulk_fields),
    };

    rc = run_table("identity parse", parse_cases, countof(parse_cases),
                   sizeof(parse_case_t), test_parse_case);

    rc |= run_table("identity bulk", bulk_cases, countof(bulk_cases),
                    sizeof(bulk_case_t), test_bulk_case);

    rc |= cmocka_run_group_tests_name("identity", tests, NULL, NULL);

    return rc != 0;
}
