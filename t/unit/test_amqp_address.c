
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of ngx_iothub_amqp/ngx_iothub_amqp_address.c: link addresses
 * and CBS audiences as the SDKs send them (amqp.md 1.3, 3, 4).
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_amqp_address.h"


typedef struct {
    const char              *name;
    const char              *in;
    int                      rc;
    ngx_iothub_amqp_addr_e   kind;
    const char              *device;
    const char              *module;
} addr_case_t;


static const addr_case_t  addr_cases[] = {
    { "node telemetry", "/devices/dev1/messages/events", 0,
      NGX_IOTHUB_AMQP_ADDR_TELEMETRY, "dev1", "" },
    { "C SDK form", "amqps://hub.example.com/devices/dev1/messages/events",
      0, NGX_IOTHUB_AMQP_ADDR_TELEMETRY, "dev1", "" },
    { "with port", "amqps://hub:5671/devices/d/messages/events", 0,
      NGX_IOTHUB_AMQP_ADDR_TELEMETRY, "d", "" },
    { "no leading slash", "devices/dev1/messages/events", 0,
      NGX_IOTHUB_AMQP_ADDR_TELEMETRY, "dev1", "" },
    { "module telemetry", "/devices/d1/modules/m1/messages/events", 0,
      NGX_IOTHUB_AMQP_ADDR_TELEMETRY, "d1", "m1" },
    { "c2d lower", "/devices/dev1/messages/devicebound", 0,
      NGX_IOTHUB_AMQP_ADDR_C2D, "dev1", "" },
    { "c2d camel", "/devices/dev1/messages/deviceBound", 0,
      NGX_IOTHUB_AMQP_ADDR_C2D, "dev1", "" },
    { "words any case", "/DEVICES/dev1/Messages/EVENTS", 0,
      NGX_IOTHUB_AMQP_ADDR_TELEMETRY, "dev1", "" },
    { "ids exact", "/devices/Dev1/messages/events", 0,
      NGX_IOTHUB_AMQP_ADDR_TELEMETRY, "Dev1", "" },
    { "encoded id", "/devices/a%20b%2Fc/messages/events", 0,
      NGX_IOTHUB_AMQP_ADDR_TELEMETRY, "a b/c", "" },
    { "twin", "/devices/dev1/twin", 0, NGX_IOTHUB_AMQP_ADDR_TWIN, "dev1",
      "" },
    { "methods", "/devices/d/modules/m/methods/devicebound", 0,
      NGX_IOTHUB_AMQP_ADDR_METHODS, "d", "m" },
    { "cbs", "$cbs", 0, NGX_IOTHUB_AMQP_ADDR_CBS, "", "" },
    { "cbs with slash", "/$cbs", 0, NGX_IOTHUB_AMQP_ADDR_CBS, "", "" },
    { "unknown tail", "/devices/dev1/messages", 0,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "dev1", "" },
    { "service c2d", "/messages/devicebound", 0,
      NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D, "", "" },
    { "service c2d, camel", "messages/deviceBound", 0,
      NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D, "", "" },
    { "service c2d, scheme", "amqps://hub:5671/messages/devicebound", 0,
      NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D, "", "" },
    { "feedback", "/messages/serviceBound/feedback", 0,
      NGX_IOTHUB_AMQP_ADDR_FEEDBACK, "", "" },
    { "feedback, lower", "/messages/servicebound/FEEDBACK", 0,
      NGX_IOTHUB_AMQP_ADDR_FEEDBACK, "", "" },
    { "file notifications", "/messages/serviceBound/filenotifications", 0,
      NGX_IOTHUB_AMQP_ADDR_FILE_NOTIFICATIONS, "", "" },
    { "file notifications, docs", "/messages/servicebound/"
      "fileuploadnotifications", 0, NGX_IOTHUB_AMQP_ADDR_FILE_NOTIFICATIONS,
      "", "" },
    { "file notifications, too long", "/messages/serviceBound/"
      "filenotifications/x", 0, NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "service, too long", "/messages/devicebound/x", 0,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "empty", "", 0, NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "empty segment", "/devices//messages/events", 0,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "trailing slash", "/devices/d/messages/events/", 0,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "bad escape", "/devices/a%2/messages/events", -1,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "bad hex", "/devices/a%zz/messages/events", -1,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "NUL in id", "/devices/a%00/messages/events", -1,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "too many segments", "/a/b/c/d/e/f/g/h/i", 0,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
};


static const addr_case_t  audience_cases[] = {
    { "node device", "localhost%2Fdevices%2Fdev1", 0,
      NGX_IOTHUB_AMQP_ADDR_IDENTITY, "dev1", "" },
    { "node module", "localhost%2Fdevices%2Fd%2Fmodules%2Fm", 0,
      NGX_IOTHUB_AMQP_ADDR_IDENTITY, "d", "m" },
    { "C SDK plain", "hub.example.com/devices/dev1", 0,
      NGX_IOTHUB_AMQP_ADDR_IDENTITY, "dev1", "" },
    { "with scheme", "amqps://hub/devices/dev1/modules/m1", 0,
      NGX_IOTHUB_AMQP_ADDR_IDENTITY, "dev1", "m1" },
    { "lower-case escapes", "hub%2fdevices%2fdev1", 0,
      NGX_IOTHUB_AMQP_ADDR_IDENTITY, "dev1", "" },
    { "the hub (service)", "localhost", 0, NGX_IOTHUB_AMQP_ADDR_UNKNOWN,
      "", "" },
    { "event hubs", "sb%3A%2F%2Fh%2Fhub%2FConsumerGroups%2F%24default", 0,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "", "" },
    { "device link address", "hub/devices/dev1/messages/events", 0,
      NGX_IOTHUB_AMQP_ADDR_UNKNOWN, "dev1", "" },
    { "bad escape", "hub%2Fdevices%2", -1, NGX_IOTHUB_AMQP_ADDR_UNKNOWN,
      "", "" },
};


typedef struct {
    const char              *name;
    const char              *in;
    int                      rc;
    const char              *host;
    const char              *path;
} scope_case_t;


static const scope_case_t  scope_cases[] = {
    { "node service", "localhost", 0, "localhost", "" },
    { "trailing slash", "hub.example.com/", 0, "hub.example.com", "" },
    { "a path", "hub/messages/serviceBound", 0, "hub",
      "/messages/serviceBound" },
    { "encoded whole", "hub%2Fmessages%2Fdevicebound", 0, "hub",
      "/messages/devicebound" },
    { "encoded segment", "hub/a%20b/c/", 0, "hub", "/a b/c" },
    { "scheme", "sb://hub/entity/$management", 0, "hub",
      "/entity/$management" },
    { "amqps scheme, port", "amqps://hub:5671", 0, "hub:5671", "" },
    { "empty", "", -1, NULL, NULL },
    { "no host", "/messages/devicebound", -1, NULL, NULL },
    { "empty segment", "hub//x", -1, NULL, NULL },
    { "bad escape", "hub%2", -1, NULL, NULL },
    { "NUL", "hub/a%00", -1, NULL, NULL },
};


typedef struct {
    const char              *name;
    const char              *scope;
    const char              *path;
    int                      covers;
} covers_case_t;


static const covers_case_t  covers_cases[] = {
    { "the hub", "", "/messages/devicebound", 1 },
    { "same", "/messages/devicebound", "/messages/devicebound", 1 },
    { "prefix", "/messages", "/messages/serviceBound/feedback", 1 },
    { "words any case", "/MESSAGES/servicebound",
      "/messages/serviceBound/feedback", 1 },
    { "not by segment", "/messages/device", "/messages/devicebound", 0 },
    { "other", "/messages/serviceBound", "/messages/devicebound", 0 },
    { "longer", "/messages/devicebound/x", "/messages/devicebound", 0 },
};


/* SASL PLAIN user names: the hub's name is checked below */
static const addr_case_t  plain_cases[] = {
    { "device", "dev1@sas.myhub", 0, NGX_IOTHUB_AMQP_ADDR_IDENTITY,
      "dev1", "" },
    { "module", "d1/modules/m1@sas.myhub", 0,
      NGX_IOTHUB_AMQP_ADDR_IDENTITY, "d1", "m1" },
    { "policy", "iothubowner@sas.root.myhub", 0,
      NGX_IOTHUB_AMQP_ADDR_POLICY, "iothubowner", "" },
    { "words any case", "service@SAS.Root.myhub", 0,
      NGX_IOTHUB_AMQP_ADDR_POLICY, "service", "" },
    { "@ in a device id", "a@b@sas.myhub", 0,
      NGX_IOTHUB_AMQP_ADDR_IDENTITY, "a@b", "" },
    { "no escapes", "a%20b@sas.myhub", 0, NGX_IOTHUB_AMQP_ADDR_IDENTITY,
      "a%20b", "" },
    { "no @sas.", "dev1@myhub", -1, 0, "", "" },
    { "no device", "@sas.myhub", -1, 0, "", "" },
    { "no hub", "dev1@sas.", -1, 0, "", "" },
    { "no root hub", "p@sas.root.", -1, 0, "", "" },
    { "empty module", "d/modules/@sas.h", -1, 0, "", "" },
    { "empty device", "/modules/m@sas.h", -1, 0, "", "" },
    { "slash in device", "a/b@sas.h", -1, 0, "", "" },
    { "slash in policy", "a/b@sas.root.h", -1, 0, "", "" },
    { "slash in module", "d/modules/a/b@sas.h", -1, 0, "", "" },
};


static void
check(const addr_case_t *c, int rc, ngx_iothub_amqp_addr_t *a)
{
    assert_int_equal(rc, c->rc);

    if (rc != 0) {
        return;
    }

    assert_int_equal(a->kind, c->kind);

    if (c->kind != NGX_IOTHUB_AMQP_ADDR_UNKNOWN) {
        assert_string_equal(a->device, c->device);
        assert_int_equal(a->device_len, strlen(c->device));
        assert_string_equal(a->module, c->module);
        assert_int_equal(a->module_len, strlen(c->module));
    }
}


static void
test_addr(void **state)
{
    const addr_case_t       *c = *state;
    ngx_iothub_amqp_addr_t   a;

    check(c, ngx_iothub_amqp_addr_parse((const unsigned char *) c->in,
                                        strlen(c->in), &a), &a);
}


static void
test_audience(void **state)
{
    const addr_case_t       *c = *state;
    ngx_iothub_amqp_addr_t   a;

    check(c, ngx_iothub_amqp_audience_parse((const unsigned char *) c->in,
                                            strlen(c->in), &a), &a);
}


static void
test_plain(void **state)
{
    const addr_case_t       *c = *state;
    char                     hub[16];
    ngx_iothub_amqp_addr_t   a;
    int                      rc;

    rc = ngx_iothub_amqp_plain_user((const unsigned char *) c->in,
                                    strlen(c->in), &a, hub, sizeof(hub));
    check(c, rc, &a);

    if (rc == 0) {
        assert_string_equal(hub, c->in[strlen(c->in) - 1] == 'b' ? "myhub"
                                                                 : "h");
    }
}


static void
test_plain_limits(void **state)
{
    char                     buf[400], hub[4];
    ngx_iothub_amqp_addr_t   a;

    (void) state;

    assert_int_equal(ngx_iothub_amqp_plain_user(
                         (const unsigned char *) "d@sas.abcd", 10, &a, hub,
                         sizeof(hub)), -1);
    assert_int_equal(ngx_iothub_amqp_plain_user(
                         (const unsigned char *) "d@sas.abc", 9, &a, hub,
                         sizeof(hub)), 0);
    assert_int_equal(ngx_iothub_amqp_plain_user(
                         (const unsigned char *) "d\0x@sas.abc", 11, &a, hub,
                         sizeof(hub)), -1);
    assert_int_equal(ngx_iothub_amqp_plain_user(
                         (const unsigned char *) "d@sas.a\0c", 9, &a, hub,
                         sizeof(hub)), -1);

    /* 128 characters fit, 129 do not */

    memset(buf, 'a', 129);
    memcpy(buf + 128, "@sas.h", 6);
    assert_int_equal(ngx_iothub_amqp_plain_user((unsigned char *) buf, 134,
                                                &a, hub, sizeof(hub)), 0);
    assert_int_equal(a.device_len, 128);

    memset(buf, 'a', 129);
    memcpy(buf + 129, "@sas.h", 6);
    assert_int_equal(ngx_iothub_amqp_plain_user((unsigned char *) buf, 135,
                                                &a, hub, sizeof(hub)), -1);
}


static void
test_scope(void **state)
{
    const scope_case_t  *c = *state;

    int   rc;
    char  host[256], path[256];

    rc = ngx_iothub_amqp_audience_scope((const unsigned char *) c->in,
                                        strlen(c->in), host, sizeof(host),
                                        path, sizeof(path));
    assert_int_equal(rc, c->rc);

    if (rc == 0) {
        assert_string_equal(host, c->host);
        assert_string_equal(path, c->path);
    }
}


static void
test_covers(void **state)
{
    const covers_case_t  *c = *state;

    assert_int_equal(ngx_iothub_amqp_scope_covers(c->scope, c->path),
                     c->covers);
}


static void
test_scope_fits(void **state)
{
    char  host[4], path[8];

    (void) state;

    assert_int_equal(ngx_iothub_amqp_audience_scope(
                         (const unsigned char *) "abc/defghij", 11, host,
                         sizeof(host), path, sizeof(path)), -1);
    assert_int_equal(ngx_iothub_amqp_audience_scope(
                         (const unsigned char *) "abc/defghi", 10, host,
                         sizeof(host), path, sizeof(path)), 0);
    assert_string_equal(path, "/defghi");
    assert_int_equal(ngx_iothub_amqp_audience_scope(
                         (const unsigned char *) "abcd", 4, host,
                         sizeof(host), path, sizeof(path)), -1);
}


static void
test_long_id(void **state)
{
    char                     buf[400];
    ngx_iothub_amqp_addr_t   a;

    (void) state;

    /* 128 characters fit, 129 do not */

    memcpy(buf, "/devices/", 9);
    memset(buf + 9, 'a', 128);
    memcpy(buf + 137, "/messages/events", 16);
    assert_int_equal(ngx_iothub_amqp_addr_parse((unsigned char *) buf, 153,
                                                &a), 0);
    assert_int_equal(a.device_len, 128);

    memset(buf + 9, 'a', 129);
    memcpy(buf + 138, "/messages/events", 16);
    assert_int_equal(ngx_iothub_amqp_addr_parse((unsigned char *) buf, 154,
                                                &a), -1);
}


typedef struct {
    const char  *name;
    const char  *in;
    int          rc;
    unsigned     management;
    const char  *path;
    const char  *group;
    const char  *partition;
} eh_addr_case_t;


static const eh_addr_case_t  eh_addr_cases[] = {
    { "management", "$management", 0, 1, "/hub/$management", NULL, NULL },
    { "partition", "hub/ConsumerGroups/$Default/Partitions/3", 0, 0,
      "/hub/ConsumerGroups/$Default/Partitions/3", "$Default", "3" },
    { "leading slash", "/hub/ConsumerGroups/g1/Partitions/0", 0, 0,
      "/hub/ConsumerGroups/g1/Partitions/0", "g1", "0" },
    { "with scheme, words any case",
      "amqps://h:5671/HUB/consumergroups/g/PARTITIONS/1", 0, 0,
      "/HUB/consumergroups/g/PARTITIONS/1", "g", "1" },
    { "scheme without path", "sb://host", -1, 0, NULL, NULL, NULL },
    { "another hub", "/hub2/ConsumerGroups/g/Partitions/0", -1, 0, NULL,
      NULL, NULL },
    { "too short", "/hub/ConsumerGroups/g/Partitions", -1, 0, NULL, NULL,
      NULL },
    { "too long", "/hub/ConsumerGroups/g/Partitions/0/x", -1, 0, NULL, NULL,
      NULL },
    { "management, any case", "$Management", -1, 0, NULL, NULL, NULL },
    { "empty", "", -1, 0, NULL, NULL, NULL },
};


static const eh_addr_case_t  eh_audience_cases[] = {
    { "entity", "sb://h.example.net/hub", 0, 0, "/hub", NULL, NULL },
    { "partition", "sb://h/HUB/ConsumerGroups/g/Partitions/1", 0, 0,
      "/HUB/ConsumerGroups/g/Partitions/1", NULL, NULL },
    { "scheme any case", "SB://h/hub/$management", 0, 0,
      "/hub/$management", NULL, NULL },
    { "amqps", "amqps://h/hub", -1, 0, NULL, NULL, NULL },
    { "no path", "sb://h", -1, 0, NULL, NULL, NULL },
    { "another entity", "sb://h/hubs", -1, 0, NULL, NULL, NULL },
};


static void
test_eh_addr(void **state)
{
    ngx_iothub_amqp_eh_addr_t  a;
    const eh_addr_case_t      *c = *state;

    assert_int_equal(ngx_iothub_amqp_eh_addr_parse(c->in, "hub", 3, &a),
                     c->rc);

    if (c->rc != 0) {
        return;
    }

    assert_int_equal(a.management, c->management);
    assert_int_equal(a.path_len, strlen(c->path));
    assert_memory_equal(a.path, c->path, a.path_len);

    if (c->management) {
        return;
    }

    assert_int_equal(a.group_len, strlen(c->group));
    assert_memory_equal(a.group, c->group, a.group_len);
    assert_int_equal(a.partition_len, strlen(c->partition));
    assert_memory_equal(a.partition, c->partition, a.partition_len);
}


static void
test_eh_audience(void **state)
{
    char                   path[NGX_IOTHUB_AMQP_EH_PATH_MAX];
    const eh_addr_case_t  *c = *state;

    assert_int_equal(ngx_iothub_amqp_eh_audience_path(
                         (const unsigned char *) c->in, strlen(c->in), "hub",
                         3, path),
                     c->rc);

    if (c->rc == 0) {
        assert_string_equal(path, c->path);
    }
}


/* paths up to NGX_IOTHUB_AMQP_EH_PATH_MAX - 1 bytes with the '/' */

static void
test_eh_limits(void **state)
{
    char                       buf[1024], path[NGX_IOTHUB_AMQP_EH_PATH_MAX];
    size_t                     len;
    ngx_iothub_amqp_eh_addr_t  a;

    (void) state;

    /* "hub/ConsumerGroups/<g>/Partitions/0": 32 bytes besides the group */
    len = NGX_IOTHUB_AMQP_EH_PATH_MAX - 2 - 32;
    strcpy(buf, "hub/ConsumerGroups/");
    memset(buf + 19, 'g', len);
    strcpy(buf + 19 + len, "/Partitions/0");

    assert_int_equal(ngx_iothub_amqp_eh_addr_parse(buf, "hub", 3, &a), 0);
    assert_int_equal(a.path_len, NGX_IOTHUB_AMQP_EH_PATH_MAX - 1);

    memmove(buf + 20, buf + 19, strlen(buf + 19) + 1);
    assert_int_equal(ngx_iothub_amqp_eh_addr_parse(buf, "hub", 3, &a), -1);

    /* an audience path with its NUL fills path */
    strcpy(buf, "sb://h/hub/");
    len = NGX_IOTHUB_AMQP_EH_PATH_MAX - 1 - 5;
    memset(buf + 11, 'x', len);

    assert_int_equal(ngx_iothub_amqp_eh_audience_path(
                         (unsigned char *) buf, 11 + len, "hub", 3, path),
                     0);
    assert_int_equal(strlen(path), NGX_IOTHUB_AMQP_EH_PATH_MAX - 1);

    buf[11 + len] = 'x';
    assert_int_equal(ngx_iothub_amqp_eh_audience_path(
                         (unsigned char *) buf, 12 + len, "hub", 3, path),
                     -1);
}


/* a method answer's correlation id as text */

static void
test_uuid_text(void **state)
{
    unsigned char  uuid[16];

    static const unsigned char  want[16] = {
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10
    };

    (void) state;

    assert_int_equal(ngx_iothub_amqp_uuid_text_parse(
                         "01234567-89ab-cdef-fedc-ba9876543210", 36, uuid),
                     0);
    assert_memory_equal(uuid, want, 16);

    assert_int_equal(ngx_iothub_amqp_uuid_text_parse(
                         "01234567-89AB-CDEF-FEDC-BA9876543210", 36, uuid),
                     0);
    assert_memory_equal(uuid, want, 16);

    /* a dash misplaced, a digit not hex, a length off by one */
    assert_int_equal(ngx_iothub_amqp_uuid_text_parse(
                         "0123456-789ab-cdef-fedc-ba9876543210", 36, uuid),
                     -1);
    assert_int_equal(ngx_iothub_amqp_uuid_text_parse(
                         "01234567-89ab-cdef-fedc-ba987654321g", 36, uuid),
                     -1);
    assert_int_equal(ngx_iothub_amqp_uuid_text_parse(
                         "01234567-89ab-cdef-fedc-ba9876543210", 35, uuid),
                     -1);
    assert_int_equal(ngx_iothub_amqp_uuid_text_parse(
                         "0123456789abcdeffedcba98765432100000", 36, uuid),
                     -1);
}


int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("amqp address", test_addr, addr_cases),
        TABLE("amqp audience", test_audience, audience_cases),
        TABLE("amqp audience scope", test_scope, scope_cases),
        TABLE("amqp scope covers", test_covers, covers_cases),
        TABLE("amqp SASL PLAIN user", test_plain, plain_cases),
        TABLE("event hubs address", test_eh_addr, eh_addr_cases),
        TABLE("event hubs audience", test_eh_audience, eh_audience_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_long_id),
        cmocka_unit_test(test_scope_fits),
        cmocka_unit_test(test_plain_limits),
        cmocka_unit_test(test_eh_limits),
        cmocka_unit_test(test_uuid_text),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("amqp address misc", misc, NULL,
                                          NULL);

    return failed != 0;
}
