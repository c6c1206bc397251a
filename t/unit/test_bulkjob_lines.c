
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_bulkjob_lines.c: the body of POST
 * /jobs/create, container URIs of the hub's blob store and their SAS
 * (a signature made with Python's hmac over the 2019-02-02 string to
 * sign of a container), and the JSON lines of export and import, with
 * and without the twin, including an export line read back as an import
 * line and its twin part applied as the import applies it.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include <yajl/yajl_tree.h>

#include "ngx_iothub_bulkjob_lines.h"


#define KEY        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define CONNSTR    "DefaultEndpointsProtocol=https;AccountName=acct;" \
                   "AccountKey=" KEY ";BlobEndpoint=https://localhost/acct"
#define EXPIRY     1700000000LL     /* 2023-11-14T22:13:20Z */
#define SAS        "sv=2019-02-02&sr=c&sig=Gmd7TWJESoR5SIhbMUmScAtJ4Zt0fxquy" \
                   "qvnSfFj7HI%3D&se=2023-11-14T22%3A13%3A20Z&sp=rwl"
#define DKEY       "UNErOFobWTTkV9ElWooEWBh/W/n4C6wwRyWQIyQAVeU="


/* --- POST /jobs/create ---------------------------------------------------- */

typedef struct {
    const char                 *name;
    const char                 *json;
    int                         rc;
    ngx_iothub_bulkjob_type_e   type;
    const char                 *output_blob;
    int                         exclude_keys;
    const char                 *err;          /* a part of the message */
} request_case_t;


static const request_case_t  request_cases[] = {
    { "the Node SDK's export",
      "{\"type\":\"export\",\"outputBlobContainerUri\":\"https://h/c\","
      "\"excludeKeysInExport\":false}",
      0, NGX_IOTHUB_BULKJOB_EXPORT, "devices.txt", 0, NULL },
    { "the Node SDK's import",
      "{\"type\":\"import\",\"inputBlobContainerUri\":\"https://h/i\","
      "\"outputBlobContainerUri\":\"https://h/o\"}",
      0, NGX_IOTHUB_BULKJOB_IMPORT, "devices.txt", 0, NULL },
    { "type in any case, names, keys excluded as a string",
      "{\"type\":\"EXPORT\",\"outputBlobContainerUri\":\"https://h/c\","
      "\"outputBlobName\":\"x/y.txt\",\"excludeKeysInExport\":\"true\","
      "\"storageAuthenticationType\":\"keyBased\",\"other\":[1]}",
      0, NGX_IOTHUB_BULKJOB_EXPORT, "x/y.txt", 1, NULL },
    { "no type", "{\"outputBlobContainerUri\":\"https://h/c\"}",
      -1, 0, NULL, 0, "type is required" },
    { "unknown type", "{\"type\":\"copy\",\"outputBlobContainerUri\":\"a\"}",
      -1, 0, NULL, 0, "export or import" },
    { "import without input",
      "{\"type\":\"import\",\"outputBlobContainerUri\":\"https://h/o\"}",
      -1, 0, NULL, 0, "inputBlobContainerUri is required" },
    { "no output", "{\"type\":\"export\"}",
      -1, 0, NULL, 0, "outputBlobContainerUri is required" },
    { "a number for a URI",
      "{\"type\":\"export\",\"outputBlobContainerUri\":5}",
      -1, 0, NULL, 0, "must be a string" },
    { "identityBased",
      "{\"type\":\"export\",\"outputBlobContainerUri\":\"https://h/c\","
      "\"storageAuthenticationType\":\"identityBased\"}",
      -1, 0, NULL, 0, "not supported" },
    { "excludeKeysInExport a number",
      "{\"type\":\"export\",\"outputBlobContainerUri\":\"https://h/c\","
      "\"excludeKeysInExport\":1}",
      -1, 0, NULL, 0, "boolean" },
    { "not an object", "[]", -1, 0, NULL, 0, "not a JSON object" },
    { "not JSON", "{", -1, 0, NULL, 0, "not a JSON object" },
};


static void
test_request(void **state)
{
    const request_case_t *c = *state;

    char                           err[256];
    ngx_iothub_bulkjob_request_t  *req;

    req = malloc(sizeof(ngx_iothub_bulkjob_request_t));
    assert_non_null(req);

    assert_int_equal(ngx_iothub_bulkjob_request_parse(req, c->json,
                                                      strlen(c->json), err,
                                                      sizeof(err)), c->rc);

    if (c->rc == 0) {
        assert_int_equal(req->type, c->type);
        assert_string_equal(req->output_blob, c->output_blob);
        assert_string_equal(req->input_blob, "devices.txt");
        assert_int_equal(req->exclude_keys, c->exclude_keys);

    } else {
        assert_non_null(strstr(err, c->err));
    }

    free(req);
}


/* --- container URIs and their SAS ----------------------------------------- */

typedef struct {
    const char                   *name;
    const char                   *uri;
    ngx_iothub_bulkjob_uri_rc_e   rc;
    const char                   *container;
    const char                   *query;
} uri_case_t;


static const uri_case_t  uri_cases[] = {
    { "a container with a SAS", "https://localhost/acct/jobs?" SAS,
      NGX_IOTHUB_BULKJOB_URI_OK, "jobs", SAS },
    { "scheme and host in any case, a trailing slash",
      "HTTPS://LocalHost/acct/jobs/?a=b", NGX_IOTHUB_BULKJOB_URI_OK, "jobs",
      "a=b" },
    { "no query", "https://localhost/acct/jobs", NGX_IOTHUB_BULKJOB_URI_OK,
      "jobs", "" },
    { "another host", "https://acct.blob.core.windows.net/jobs?x",
      NGX_IOTHUB_BULKJOB_URI_OTHER_HOST, NULL, NULL },
    { "another path", "https://localhost/other/jobs",
      NGX_IOTHUB_BULKJOB_URI_OTHER_HOST, NULL, NULL },
    { "a longer host", "https://localhost.evil/acct/jobs",
      NGX_IOTHUB_BULKJOB_URI_OTHER_HOST, NULL, NULL },
    { "http", "http://localhost/acct/jobs", NGX_IOTHUB_BULKJOB_URI_MALFORMED,
      NULL, NULL },
    { "a blob's URI", "https://localhost/acct/jobs/devices.txt",
      NGX_IOTHUB_BULKJOB_URI_MALFORMED, NULL, NULL },
    { "upper-case container", "https://localhost/acct/Jobs",
      NGX_IOTHUB_BULKJOB_URI_MALFORMED, NULL, NULL },
    { "short container", "https://localhost/acct/ab",
      NGX_IOTHUB_BULKJOB_URI_MALFORMED, NULL, NULL },
    { "no container", "https://localhost/acct/",
      NGX_IOTHUB_BULKJOB_URI_MALFORMED, NULL, NULL },
    { "a dot-dot container", "https://localhost/acct/../x",
      NGX_IOTHUB_BULKJOB_URI_MALFORMED, NULL, NULL },
};


static void
test_uri(void **state)
{
    const uri_case_t *c = *state;

    ngx_iothub_blob_connstr_t  cs;
    ngx_iothub_bulkjob_uri_t   u;

    assert_int_equal(ngx_iothub_blob_connstr_parse(&cs,
                         (const unsigned char *) CONNSTR, strlen(CONNSTR)),
                     NGX_IOTHUB_BLOB_OK);

    assert_int_equal(ngx_iothub_bulkjob_uri_parse(&u, c->uri, strlen(c->uri),
                                                  &cs), c->rc);

    if (c->rc == NGX_IOTHUB_BULKJOB_URI_OK) {
        assert_int_equal(u.container.len, strlen(c->container));
        assert_memory_equal(u.container.data, c->container,
                            u.container.len);
        assert_int_equal(u.query.len, strlen(c->query));
        assert_memory_equal(u.query.data, c->query, u.query.len);
    }
}


static void
test_uri_sas(void **state)
{
    const char                *uri;
    ngx_iothub_bulkjob_uri_t   u;
    ngx_iothub_blob_connstr_t  cs;

    (void) state;

    assert_int_equal(ngx_iothub_blob_connstr_parse(&cs,
                         (const unsigned char *) CONNSTR, strlen(CONNSTR)),
                     NGX_IOTHUB_BLOB_OK);

    uri = "https://localhost/acct/jobs?" SAS;
    assert_int_equal(ngx_iothub_bulkjob_uri_parse(&u, uri, strlen(uri), &cs),
                     NGX_IOTHUB_BULKJOB_URI_OK);

    assert_int_equal(ngx_iothub_bulkjob_uri_allows(&u, &cs, "devices.txt",
                                                   'w', EXPIRY - 1),
                     NGX_IOTHUB_BLOB_OK);
    assert_int_equal(ngx_iothub_bulkjob_uri_allows(&u, &cs, "a/b.txt", 'r',
                                                   EXPIRY - 1),
                     NGX_IOTHUB_BLOB_OK);
    assert_int_equal(ngx_iothub_bulkjob_uri_allows(&u, &cs, "devices.txt",
                                                   'w', EXPIRY),
                     NGX_IOTHUB_BLOB_EXPIRED);

    /* the same SAS names another container */
    uri = "https://localhost/acct/jobs2?" SAS;
    assert_int_equal(ngx_iothub_bulkjob_uri_parse(&u, uri, strlen(uri), &cs),
                     NGX_IOTHUB_BULKJOB_URI_OK);
    assert_int_equal(ngx_iothub_bulkjob_uri_allows(&u, &cs, "devices.txt",
                                                   'w', EXPIRY - 1),
                     NGX_IOTHUB_BLOB_BAD_SIGNATURE);

    uri = "https://localhost/acct/jobs";
    assert_int_equal(ngx_iothub_bulkjob_uri_parse(&u, uri, strlen(uri), &cs),
                     NGX_IOTHUB_BULKJOB_URI_OK);
    assert_int_equal(ngx_iothub_bulkjob_uri_allows(&u, &cs, "devices.txt",
                                                   'r', EXPIRY - 1),
                     NGX_IOTHUB_BLOB_NO_SAS);
}


/* --- export lines --------------------------------------------------------- */

static char *
gen_line(const ngx_iothub_identity_t *id, const ngx_iothub_twin_t *twin,
    int exclude_keys)
{
    char                 *s;
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    assert_non_null(g);
    assert_int_equal(ngx_iothub_bulkjob_line_gen(g, id, twin, exclude_keys),
                     yajl_gen_status_ok);
    yajl_gen_get_buf(g, &buf, &len);
    s = strndup((const char *) buf, len);
    yajl_gen_free(g);

    return s;
}


static void
test_export_line(void **state)
{
    char                   *s;
    ngx_iothub_identity_t   id;

    (void) state;

    ngx_iothub_identity_init(&id);
    strcpy(id.device_id, "dev1");
    strcpy(id.etag, "MQ==");
    strcpy(id.status, "disabled");
    strcpy(id.primary_key, DKEY);
    strcpy(id.secondary_key, DKEY);
    strcpy(id.parent_scopes, "[\"ms-azure-iot-edge://e-1\",5]");

    s = gen_line(&id, NULL, 0);
    assert_string_equal(s,
        "{\"id\":\"dev1\",\"eTag\":\"MQ==\",\"status\":\"disabled\","
        "\"statusReason\":null,\"authentication\":{\"symmetricKey\":"
        "{\"primaryKey\":\"" DKEY "\",\"secondaryKey\":\"" DKEY "\"},"
        "\"x509Thumbprint\":{\"primaryThumbprint\":null,"
        "\"secondaryThumbprint\":null},\"type\":\"sas\"},"
        "\"capabilities\":{\"iotEdge\":false},\"deviceScope\":null,"
        "\"parentScopes\":[\"ms-azure-iot-edge://e-1\"]}");
    free(s);

    s = gen_line(&id, NULL, 1);
    assert_non_null(strstr(s, "{\"primaryKey\":null,\"secondaryKey\":null}"));
    free(s);

    strcpy(id.module_id, "m1");
    strcpy(id.managed_by, "iotEdge");
    s = gen_line(&id, NULL, 0);
    assert_non_null(strstr(s, "\"id\":\"dev1\",\"moduleId\":\"m1\","
                              "\"managedBy\":\"iotEdge\""));
    assert_null(strstr(s, "status"));
    free(s);
}


/*
 * A twin as the twin service leaves it after a service PATCH of tags and
 * desired (version 2) and a device's reported patch (version 3).
 */

#define NOW1  "2024-01-02T10:11:12.1234567Z"
#define NOW2  "2024-01-02T10:11:13.1234567Z"

static void
patched_twin(ngx_iothub_twin_t *t)
{
    char         err[256];
    const char  *patch = "{\"tags\":{\"site\":\"lab\",\"floor\":2},"
                         "\"properties\":{\"desired\":{\"interval\":30,"
                         "\"mode\":{\"a\":\"eco\"}}}}";
    const char  *reported = "{\"fw\":\"1.2\"}";

    assert_int_equal(ngx_iothub_twin_init(t, NULL), NGX_IOTHUB_TWIN_OK);
    assert_int_equal(ngx_iothub_twin_service_patch(t, patch, strlen(patch),
                                                   NOW1, NULL, err,
                                                   sizeof(err)),
                     NGX_IOTHUB_TWIN_OK);
    assert_int_equal(ngx_iothub_twin_patch_reported(t, reported,
                                                    strlen(reported), NOW2,
                                                    err, sizeof(err)),
                     NGX_IOTHUB_TWIN_OK);
    assert_int_equal(t->version, 3);
}


static yajl_val
tree_get(yajl_val root, const char *a, const char *b, const char *c)
{
    const char  *path[4] = { a, b, c, NULL };

    return yajl_tree_get(root, path, yajl_t_any);
}


/* the twin's members follow the authentication: twinETag, tags, properties */

static void
test_export_line_twin(void **state)
{
    char                   *s;
    yajl_val                root, v;
    ngx_iothub_twin_t       t;
    ngx_iothub_identity_t   id;

    (void) state;

    ngx_iothub_identity_init(&id);
    strcpy(id.device_id, "dev1");
    strcpy(id.etag, "MQ==");
    patched_twin(&t);

    s = gen_line(&id, &t, 0);
    assert_non_null(strstr(s, "\"type\":\"sas\"},\"twinETag\":"
                              "\"AAAAAAAAAAM=\",\"tags\":{\"site\":\"lab\","
                              "\"floor\":2},\"properties\":{\"desired\":"
                              "{\"interval\":30,\"mode\":{\"a\":\"eco\"},"
                              "\"$metadata\":{\"$lastUpdated\":\"" NOW1
                              "\",\"$lastUpdatedVersion\":2,"));
    assert_non_null(strstr(s, "\"reported\":{\"fw\":\"1.2\",\"$metadata\":"
                              "{\"$lastUpdated\":\"" NOW2 "\","));
    assert_non_null(strstr(s, "\"$version\":2}},\"capabilities\":"
                              "{\"iotEdge\":false},"));

    root = yajl_tree_parse(s, NULL, 0);
    assert_non_null(root);
    v = tree_get(root, "properties", "desired", "$version");
    assert_true(YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) == 2);
    v = tree_get(root, "properties", "reported", "$version");
    assert_true(YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) == 2);
    yajl_tree_free(root);
    free(s);

    /* a module: its twin, no capabilities */

    strcpy(id.module_id, "m1");
    s = gen_line(&id, &t, 1);
    assert_non_null(strstr(s, "\"moduleId\":\"m1\""));
    assert_non_null(strstr(s, "\"twinETag\":\"AAAAAAAAAAM=\""));
    assert_null(strstr(s, "capabilities"));
    free(s);

    ngx_iothub_twin_free(&t);
}


/* stored texts that are not JSON: -1, not a line */

static void
test_export_line_corrupt_twin(void **state)
{
    yajl_gen                g;
    ngx_iothub_twin_t       t;
    ngx_iothub_identity_t   id;

    (void) state;

    ngx_iothub_identity_init(&id);
    strcpy(id.device_id, "dev1");
    assert_int_equal(ngx_iothub_twin_init(&t, NULL), NGX_IOTHUB_TWIN_OK);
    free(t.tags);
    t.tags = strdup("{\"a\":");
    assert_non_null(t.tags);

    g = yajl_gen_alloc(NULL);
    assert_non_null(g);
    assert_int_equal(ngx_iothub_bulkjob_line_gen(g, &id, &t, 0), -1);
    yajl_gen_free(g);
    ngx_iothub_twin_free(&t);
}


/* --- import lines --------------------------------------------------------- */

typedef struct {
    const char                 *name;
    const char                 *line;
    ngx_iothub_identity_rc_e    rc;
    const char                 *device_id;
    ngx_iothub_import_mode_e    mode;
} line_case_t;


static const line_case_t  line_cases[] = {
    { "no importMode: update", "{\"id\":\"a\"}", NGX_IOTHUB_IDENTITY_OK, "a",
      NGX_IOTHUB_IMPORT_UPDATE },
    { "its own importMode", "{\"id\":\"a\",\"importMode\":\"Delete\"}",
      NGX_IOTHUB_IDENTITY_OK, "a", NGX_IOTHUB_IMPORT_DELETE },
    { "white space and CR", "  \t{ \"importMode\":\"create\", \"id\":\"b\" }"
      " \r", NGX_IOTHUB_IDENTITY_OK, "b", NGX_IOTHUB_IMPORT_CREATE },
    { "empty object", "{}", NGX_IOTHUB_IDENTITY_INVALID, NULL, 0 },
    { "empty object with space", "{ \t}", NGX_IOTHUB_IDENTITY_INVALID, NULL,
      0 },
    { "no id", "{\"status\":\"enabled\"}", NGX_IOTHUB_IDENTITY_INVALID, NULL,
      0 },
    { "two objects", "{\"id\":\"a\"},{\"id\":\"b\"}",
      NGX_IOTHUB_IDENTITY_INVALID, NULL, 0 },
    { "closing the array", "{\"id\":\"a\"}]", NGX_IOTHUB_IDENTITY_BAD_JSON,
      NULL, 0 },
    { "an array", "[{\"id\":\"a\"}]", NGX_IOTHUB_IDENTITY_BAD_JSON, NULL, 0 },
    { "not JSON", "id=a", NGX_IOTHUB_IDENTITY_BAD_JSON, NULL, 0 },
    { "empty", "", NGX_IOTHUB_IDENTITY_BAD_JSON, NULL, 0 },
    { "unknown importMode", "{\"id\":\"a\",\"importMode\":\"merge\"}",
      NGX_IOTHUB_IDENTITY_INVALID, NULL, 0 },
    { "null importMode", "{\"id\":\"a\",\"importMode\":null}",
      NGX_IOTHUB_IDENTITY_INVALID, NULL, 0 },
    { "a bad key", "{\"id\":\"a\",\"authentication\":{\"symmetricKey\":"
      "{\"primaryKey\":\"!\"}}}", NGX_IOTHUB_IDENTITY_INVALID, NULL, 0 },
};


static void
test_import_line(void **state)
{
    const line_case_t *c = *state;

    char                     err[256];
    ngx_iothub_bulk_entry_t  e;

    err[0] = '\0';

    assert_int_equal(ngx_iothub_bulkjob_line_parse(&e, c->line,
                                                   strlen(c->line), err,
                                                   sizeof(err)), c->rc);

    if (c->rc == NGX_IOTHUB_IDENTITY_OK) {
        assert_string_equal(e.identity.device_id, c->device_id);
        assert_int_equal(e.mode, c->mode);

    } else {
        assert_true(err[0] != '\0');
    }
}


/* --- the twin part of import lines --------------------------------------- */

typedef struct {
    const char                 *name;
    const char                 *line;
    int                         twin;
    const char                 *twin_etag;
} twin_case_t;


static const twin_case_t  twin_cases[] = {
    { "tags", "{\"id\":\"a\",\"tags\":{\"x\":1}}", 1, "" },
    { "empty tags", "{\"id\":\"a\",\"tags\":{}}", 1, "" },
    { "desired", "{\"id\":\"a\",\"properties\":{\"desired\":{}}}", 1,
      "" },
    { "reported only", "{\"id\":\"a\",\"properties\":{\"reported\":"
      "{\"x\":1}}}", 0, "" },
    { "null tags and desired", "{\"id\":\"a\",\"tags\":null,"
      "\"properties\":{\"desired\":null}}", 0, "" },
    { "identity only", "{\"id\":\"a\",\"status\":\"enabled\"}", 0, "" },
    { "twinETag", "{\"id\":\"a\",\"twinETag\":\"AAAAAAAAAAM=\","
      "\"tags\":{}}\r", 1, "AAAAAAAAAAM=" },
    { "twinETag alone", "{\"id\":\"a\",\"twinETag\":\"AAAAAAAAAAI=\"}", 0,
      "AAAAAAAAAAI=" },
    { "twinETag a number", "{\"id\":\"a\",\"twinETag\":5}", 0, "" },
    { "twinETag too long", "{\"id\":\"a\",\"twinETag\":\""
      "0123456789012345678901234567890123456789012345678901234567890123"
      "\"}", 0, "" },
    { "not JSON", "{\"tags\":{", 0, "" },
    { "an array", "[{\"tags\":{}}]", 0, "" },
};


static void
test_line_twin(void **state)
{
    const twin_case_t *c = *state;

    char  etag[64];

    strcpy(etag, "junk");

    assert_int_equal(ngx_iothub_bulkjob_line_twin(c->line, strlen(c->line),
                                                  etag, sizeof(etag)),
                     c->twin);
    assert_string_equal(etag, c->twin_etag);
}


/*
 * An exported line, applied to a new identity's twin as the import does
 * (a service PUT of the line), gives the same tags and desired; reported
 * stays the device's.
 */

static void
test_twin_round_trip(void **state)
{
    char                   err[256], etag[64], *s;
    ngx_iothub_twin_t      t, fresh;
    ngx_iothub_identity_t  id;

    (void) state;

    ngx_iothub_identity_init(&id);
    strcpy(id.device_id, "dev1");
    patched_twin(&t);

    s = gen_line(&id, &t, 0);
    assert_int_equal(ngx_iothub_bulkjob_line_twin(s, strlen(s), etag,
                                                  sizeof(etag)), 1);
    assert_string_equal(etag, "AAAAAAAAAAM=");

    assert_int_equal(ngx_iothub_twin_init(&fresh, NULL), NGX_IOTHUB_TWIN_OK);
    assert_int_equal(ngx_iothub_twin_service_replace(&fresh, s, strlen(s),
                                                     NOW2, NULL, err,
                                                     sizeof(err)),
                     NGX_IOTHUB_TWIN_OK);
    assert_string_equal(fresh.tags, t.tags);
    assert_string_equal(fresh.desired, t.desired);
    assert_string_equal(fresh.reported, "{}");

    free(s);
    ngx_iothub_twin_free(&t);
    ngx_iothub_twin_free(&fresh);
}


/* an export line is an import line: the same identity comes back */

static void
test_round_trip(void **state)
{
    char                     err[256], *s;
    ngx_iothub_identity_t    id;
    ngx_iothub_bulk_entry_t  e;

    (void) state;

    ngx_iothub_identity_init(&id);
    strcpy(id.device_id, "dev-9");
    strcpy(id.etag, "Mg==");
    strcpy(id.status_reason, "why");
    strcpy(id.primary_key, DKEY);
    strcpy(id.secondary_key, DKEY);
    id.iot_edge = 1;

    s = gen_line(&id, NULL, 0);

    assert_int_equal(ngx_iothub_bulkjob_line_parse(&e, s, strlen(s), err,
                                                   sizeof(err)),
                     NGX_IOTHUB_IDENTITY_OK);
    free(s);

    assert_string_equal(e.identity.device_id, "dev-9");
    assert_string_equal(e.etag, "Mg==");
    assert_string_equal(e.identity.status_reason, "why");
    assert_string_equal(e.identity.primary_key, DKEY);
    assert_string_equal(e.identity.secondary_key, DKEY);
    assert_int_equal(e.identity.iot_edge, 1);
    assert_int_equal(e.mode, NGX_IOTHUB_IMPORT_UPDATE);

    assert_string_equal(ngx_iothub_bulkjob_mode_name(e.mode), "update");
    assert_string_equal(ngx_iothub_bulkjob_mode_name(99), "unknown");
}


int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("jobs create", test_request, request_cases),
        TABLE("container uri", test_uri, uri_cases),
        TABLE("import line", test_import_line, line_cases),
        TABLE("import line twin", test_line_twin, twin_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_uri_sas),
        cmocka_unit_test(test_export_line),
        cmocka_unit_test(test_export_line_twin),
        cmocka_unit_test(test_export_line_corrupt_twin),
        cmocka_unit_test(test_twin_round_trip),
        cmocka_unit_test(test_round_trip),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("bulkjob misc", misc, NULL, NULL);

    return failed != 0;
}
