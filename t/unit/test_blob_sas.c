
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * Unit tests of shared/ngx_iothub_blob_sas.c: the storage connection
 * string, the blob service SAS (checked against signatures made by
 * @azure/storage-blob's generateBlobSASQueryParameters for versions
 * 2018-03-28 and 2019-02-02; its 12.8.0 signs later versions without
 * the encryption scope, so it is no witness for them), times, blob
 * paths, block ids, correlation ids and the Put Block List XML.
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

#include "ngx_iothub_blob_sas.h"


#define KEY        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define CONNSTR    "DefaultEndpointsProtocol=https;AccountName=acct;" \
                   "AccountKey=" KEY
#define EXPIRY     1700000000LL     /* 2023-11-14T22:13:20Z */
#define SE         "se=2023-11-14T22%3A13%3A20Z"

/* made by @azure/storage-blob for uploads/dev1/dir/file.txt, sp rw */
#define SAS_2019   "sv=2019-02-02&" SE "&sr=b&sp=rw&sig=8r1lVgJLhd7AuCbu5W" \
                   "udjpm2av0jSQqc0CWnVqj5eTo%3D"
#define SAS_2018   "sv=2018-03-28&" SE "&sr=b&sp=rw&sig=EUk%2FeqPM%2FCJq8L" \
                   "oEA8glgEEsj54DDbEio4Mqy63Bkbw%3D"
/* the container uploads, sp r, st 2023-07-22T04:26:40Z (1690000000) */
#define SAS_CONT   "sv=2019-02-02&st=2023-07-22T04%3A26%3A40Z&" SE          \
                   "&sr=c&sp=r&sig=k58Gtc3ZErmPnoEnwTQ%2F3cSWHvNHX92BdLAe4" \
                   "uR3rVE%3D"


typedef struct {
    const char              *name;
    const char              *query;
    const char              *blob;
    char                     permission;
    long long                now;
    ngx_iothub_blob_rc_e     rc;
} sas_case_t;


typedef struct {
    const char              *name;
    const char              *text;
    ngx_iothub_blob_rc_e     rc;
    const char              *host;
    const char              *path;
} connstr_case_t;


typedef struct {
    const char              *name;
    const char              *path;
    int                      rc;
    const char              *container;
    const char              *blob;
} path_case_t;


typedef struct {
    const char              *name;
    const char              *xml;
    int                      rc;
    size_t                   n;
    const char              *first;
} list_case_t;


static const sas_case_t  sas_cases[] = {
    { "2019-02-02", SAS_2019, "dev1/dir/file.txt", 'w', EXPIRY - 1,
      NGX_IOTHUB_BLOB_OK },
    { "2018-03-28", SAS_2018, "dev1/dir/file.txt", 'r', EXPIRY - 1,
      NGX_IOTHUB_BLOB_OK },
    { "comp and blockid too", "comp=block&blockid=AAAA&" SAS_2019,
      "dev1/dir/file.txt", 'w', EXPIRY - 1, NGX_IOTHUB_BLOB_OK },
    { "container sas", SAS_CONT, "any/blob", 'r', EXPIRY - 1,
      NGX_IOTHUB_BLOB_OK },
    { "container sas before st", SAS_CONT, "any/blob", 'r', 1689999999,
      NGX_IOTHUB_BLOB_EXPIRED },
    { "container sas write", SAS_CONT, "any/blob", 'w', EXPIRY - 1,
      NGX_IOTHUB_BLOB_NO_PERMISSION },
    { "expired", SAS_2019, "dev1/dir/file.txt", 'w', EXPIRY,
      NGX_IOTHUB_BLOB_EXPIRED },
    { "another blob", SAS_2019, "dev1/dir/other.txt", 'w', EXPIRY - 1,
      NGX_IOTHUB_BLOB_BAD_SIGNATURE },
    { "sp changed", "sv=2019-02-02&" SE "&sr=b&sp=rwd&sig=8r1lVgJLhd7AuCbu"
      "5Wudjpm2av0jSQqc0CWnVqj5eTo%3D", "dev1/dir/file.txt", 'w',
      EXPIRY - 1, NGX_IOTHUB_BLOB_BAD_SIGNATURE },
    { "sig short", "sv=2019-02-02&" SE "&sr=b&sp=rw&sig=AAAA",
      "dev1/dir/file.txt", 'w', EXPIRY - 1, NGX_IOTHUB_BLOB_BAD_SIGNATURE },
    { "no sig", "sv=2019-02-02&" SE "&sr=b&sp=rw", "dev1/dir/file.txt", 'w',
      EXPIRY - 1, NGX_IOTHUB_BLOB_NO_SAS },
    { "no query", "", "dev1/dir/file.txt", 'r', 0, NGX_IOTHUB_BLOB_NO_SAS },
    { "sr twice", "sr=b&" SAS_2019, "dev1/dir/file.txt", 'w', EXPIRY - 1,
      NGX_IOTHUB_BLOB_MALFORMED },
    { "sr unknown", "sv=2019-02-02&" SE "&sr=x&sp=rw&sig=8r1lVgJLhd7AuCbu5"
      "Wudjpm2av0jSQqc0CWnVqj5eTo%3D", "dev1/dir/file.txt", 'w', EXPIRY - 1,
      NGX_IOTHUB_BLOB_MALFORMED },
    { "bad escape", "sv=2019-02-02&se=%zz&sr=b&sp=rw&sig=8r1lVgJLhd7AuCbu5"
      "Wudjpm2av0jSQqc0CWnVqj5eTo%3D", "dev1/dir/file.txt", 'w', EXPIRY - 1,
      NGX_IOTHUB_BLOB_MALFORMED },
};


static const connstr_case_t  connstr_cases[] = {
    { "azure", CONNSTR ";EndpointSuffix=core.windows.net",
      NGX_IOTHUB_BLOB_OK, "acct.blob.core.windows.net", "" },
    { "default suffix", CONNSTR, NGX_IOTHUB_BLOB_OK,
      "acct.blob.core.windows.net", "" },
    { "blob endpoint", CONNSTR ";BlobEndpoint=https://localhost:8443/acct/",
      NGX_IOTHUB_BLOB_OK, "localhost:8443/acct", "/acct" },
    { "blob endpoint host", CONNSTR ";BlobEndpoint=https://blobs.example",
      NGX_IOTHUB_BLOB_OK, "blobs.example", "" },
    { "http endpoint", CONNSTR ";BlobEndpoint=http://localhost/acct",
      NGX_IOTHUB_BLOB_MALFORMED, NULL, NULL },
    { "no key", "AccountName=acct", NGX_IOTHUB_BLOB_MALFORMED, NULL, NULL },
    { "bad key", "AccountName=acct;AccountKey=abc",
      NGX_IOTHUB_BLOB_MALFORMED, NULL, NULL },
    { "no name", "AccountKey=" KEY, NGX_IOTHUB_BLOB_MALFORMED, NULL, NULL },
    { "twice", CONNSTR ";AccountName=b", NGX_IOTHUB_BLOB_MALFORMED, NULL,
      NULL },
    { "part without =", CONNSTR ";junk", NGX_IOTHUB_BLOB_MALFORMED, NULL,
      NULL },
};


static const path_case_t  path_cases[] = {
    { "plain", "/uploads/dev1/a.txt", 0, "uploads", "dev1/a.txt" },
    { "deep", "/up-1/a/b/c", 0, "up-1", "a/b/c" },
    { "dot dot", "/uploads/dev1/../x", -1, NULL, NULL },
    { "dot", "/uploads/./x", -1, NULL, NULL },
    { "empty segment", "/uploads/a//b", -1, NULL, NULL },
    { "trailing slash", "/uploads/a/", -1, NULL, NULL },
    { "no blob", "/uploads/", -1, NULL, NULL },
    { "container only", "/uploads", -1, NULL, NULL },
    { "upper case container", "/Uploads/a", -1, NULL, NULL },
    { "short container", "/up/a", -1, NULL, NULL },
    { "dot container", "/.blocks/a", -1, NULL, NULL },
    { "backslash", "/uploads/a\\b", -1, NULL, NULL },
};


static const list_case_t  list_cases[] = {
    { "sdk", "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
      "<BlockList><Latest>AAAA</Latest><Latest>AAAB</Latest></BlockList>",
      0, 2, "AAAA" },
    { "spaces and kinds", "  <BlockList>\n <Committed> AAAA </Committed>\n"
      "<Uncommitted>AAAB</Uncommitted></BlockList>\n", 0, 2, "AAAA" },
    { "empty", "<BlockList></BlockList>", 0, 0, NULL },
    { "unknown element", "<BlockList><Block>AAAA</Block></BlockList>", -1,
      0, NULL },
    { "mismatched close", "<BlockList><Latest>AAAA</Committed></BlockList>",
      -1, 0, NULL },
    { "not base64", "<BlockList><Latest>A*AA</Latest></BlockList>", -1, 0,
      NULL },
    { "escaped", "<BlockList><Latest>AA%41</Latest></BlockList>", -1, 0,
      NULL },
    { "unclosed", "<BlockList><Latest>AAAA</Latest>", -1, 0, NULL },
    { "trailing junk", "<BlockList></BlockList>x", -1, 0, NULL },
    { "too many", "<BlockList><Latest>AAAA</Latest><Latest>AAAA</Latest>"
      "<Latest>AAAA</Latest><Latest>AAAA</Latest><Latest>AAAA</Latest>"
      "</BlockList>", -1, 0, NULL },
    { "unclosed prolog", "<?xml <BlockList></BlockList>", -1, 0, NULL },
};


static void
test_sas(void **state)
{
    const sas_case_t          *c;
    ngx_iothub_blob_query_t    q;
    ngx_iothub_blob_access_t   a;
    ngx_iothub_blob_connstr_t  cs;
    ngx_iothub_blob_rc_e       rc;

    c = *state;

    assert_int_equal(ngx_iothub_blob_connstr_parse(&cs,
                         (const unsigned char *) CONNSTR, strlen(CONNSTR)),
                     NGX_IOTHUB_BLOB_OK);

    memset(&a, 0, sizeof(a));
    a.account = cs.account;
    a.key = cs.key;
    a.key_len = cs.key_len;
    a.container = (const unsigned char *) "uploads";
    a.container_len = 7;
    a.blob = (const unsigned char *) c->blob;
    a.blob_len = strlen(c->blob);
    a.permission = c->permission;
    a.now = c->now;

    rc = ngx_iothub_blob_query_parse(&q, (const unsigned char *) c->query,
                                     strlen(c->query));
    if (rc == NGX_IOTHUB_BLOB_OK) {
        rc = ngx_iothub_blob_sas_check(&q, &a);
    }

    assert_int_equal(rc, c->rc);
    assert_non_null(ngx_iothub_blob_strerror(rc));
}


static void
test_connstr(void **state)
{
    const connstr_case_t       *c;
    ngx_iothub_blob_connstr_t   cs;

    c = *state;

    assert_int_equal(ngx_iothub_blob_connstr_parse(&cs,
                         (const unsigned char *) c->text, strlen(c->text)),
                     c->rc);

    if (c->rc == NGX_IOTHUB_BLOB_OK) {
        assert_string_equal(cs.account, "acct");
        assert_int_equal(cs.key_len, 32);
        assert_string_equal(cs.host, c->host);
        assert_string_equal(cs.path, c->path);
    }
}


static void
test_path(void **state)
{
    const path_case_t  *c;
    ngx_iothub_span_t   container, blob;

    c = *state;

    assert_int_equal(ngx_iothub_blob_path_parse(
                         (const unsigned char *) c->path, strlen(c->path),
                         &container, &blob),
                     c->rc);

    if (c->rc == 0) {
        assert_int_equal(container.len, strlen(c->container));
        assert_memory_equal(container.data, c->container, container.len);
        assert_int_equal(blob.len, strlen(c->blob));
        assert_memory_equal(blob.data, c->blob, blob.len);
    }
}


static void
test_block_list(void **state)
{
    size_t              n;
    const list_case_t  *c;
    ngx_iothub_span_t   ids[4];

    c = *state;

    assert_int_equal(ngx_iothub_blob_block_list_parse(
                         (const unsigned char *) c->xml, strlen(c->xml),
                         ids, 4, &n),
                     c->rc);

    if (c->rc == 0) {
        assert_int_equal(n, c->n);

        if (c->first) {
            assert_int_equal(ids[0].len, strlen(c->first));
            assert_memory_equal(ids[0].data, c->first, ids[0].len);
        }
    }
}


/* the hub's own SAS passes the check it will meet at the store */

static void
test_make_round_trip(void **state)
{
    int                        n;
    char                       out[NGX_IOTHUB_BLOB_SAS_TOKEN_MAX];
    ngx_iothub_blob_query_t    q;
    ngx_iothub_blob_access_t   a;
    ngx_iothub_blob_connstr_t  cs;

    (void) state;

    assert_int_equal(ngx_iothub_blob_connstr_parse(&cs,
                         (const unsigned char *) CONNSTR, strlen(CONNSTR)),
                     NGX_IOTHUB_BLOB_OK);

    n = ngx_iothub_blob_sas_make(out, sizeof(out), &cs, "uploads",
                                 "dev1/dir/file.txt", EXPIRY);

    /* the same words as the SDK's, in the hub's order */
    assert_string_equal(out, "?sv=2019-02-02&sr=b&sig=8r1lVgJLhd7AuCbu5Wudjp"
                             "m2av0jSQqc0CWnVqj5eTo%3D&se=2023-11-14T22%3A13"
                             "%3A20Z&sp=rw");
    assert_int_equal(n, strlen(out));

    memset(&a, 0, sizeof(a));
    a.account = cs.account;
    a.key = cs.key;
    a.key_len = cs.key_len;
    a.container = (const unsigned char *) "uploads";
    a.container_len = 7;
    a.blob = (const unsigned char *) "dev1/dir/file.txt";
    a.blob_len = 17;
    a.permission = 'r';
    a.now = EXPIRY - 3600;

    assert_int_equal(ngx_iothub_blob_query_parse(&q,
                         (const unsigned char *) out + 1, n - 1),
                     NGX_IOTHUB_BLOB_OK);
    assert_int_equal(ngx_iothub_blob_sas_check(&q, &a), NGX_IOTHUB_BLOB_OK);

    assert_int_equal(ngx_iothub_blob_sas_make(out, 20, &cs, "uploads", "b",
                                              EXPIRY), -1);
}


static void
test_times(void **state)
{
    char  buf[32];

    (void) state;

    assert_true(ngx_iothub_blob_time_parse((const unsigned char *)
                    "2023-11-14T22:13:20Z", 20) == EXPIRY);
    assert_true(ngx_iothub_blob_time_parse((const unsigned char *)
                    "2023-11-14T22:13:20.1234567Z", 28) == EXPIRY);
    assert_true(ngx_iothub_blob_time_parse((const unsigned char *)
                    "2023-11-14T22:13Z", 17) == EXPIRY - 20);
    assert_true(ngx_iothub_blob_time_parse((const unsigned char *)
                    "2023-11-14", 10) == EXPIRY - 80000);
    assert_true(ngx_iothub_blob_time_parse((const unsigned char *)
                    "2024-02-29T00:00:00Z", 20) == 1709164800LL);
    assert_true(ngx_iothub_blob_time_parse((const unsigned char *)
                    "2023-13-14T22:13:20Z", 20) == -1);
    assert_true(ngx_iothub_blob_time_parse((const unsigned char *)
                    "2023-11-14T22:13:20.Z", 21) == -1);
    assert_true(ngx_iothub_blob_time_parse((const unsigned char *)
                    "2023-11-14X22", 13) == -1);
    assert_true(ngx_iothub_blob_time_parse((const unsigned char *) "", 0)
                == -1);

    assert_int_equal(ngx_iothub_blob_time_format(buf, sizeof(buf), EXPIRY),
                     20);
    assert_string_equal(buf, "2023-11-14T22:13:20Z");
    assert_int_equal(ngx_iothub_blob_time_format(buf, sizeof(buf),
                                                 1709164800LL), 20);
    assert_string_equal(buf, "2024-02-29T00:00:00Z");
    assert_int_equal(ngx_iothub_blob_time_format(buf, 20, EXPIRY), -1);
}


static void
test_block_names(void **state)
{
    char  name[NGX_IOTHUB_BLOB_BLOCK_NAME_LEN + 1];

    (void) state;

    assert_int_equal(ngx_iothub_blob_block_name(name, sizeof(name),
                         (const unsigned char *) "AAEC", 4), 6);
    assert_string_equal(name, "000102");
    assert_int_equal(ngx_iothub_blob_block_name(name, sizeof(name),
                         (const unsigned char *) "AAE%3D", 6), 4);
    assert_string_equal(name, "0001");
    assert_int_equal(ngx_iothub_blob_block_name(name, sizeof(name),
                         (const unsigned char *) "", 0), -1);
    assert_int_equal(ngx_iothub_blob_block_name(name, sizeof(name),
                         (const unsigned char *) "A*AA", 4), -1);
    assert_int_equal(ngx_iothub_blob_block_name(name, 4,
                         (const unsigned char *) "AAEC", 4), -1);
}


static void
test_correlation(void **state)
{
    int   n;
    char  cid[NGX_IOTHUB_BLOB_CORRELATION_MAX + 1];
    char  path[NGX_IOTHUB_BLOB_NAME_MAX + 1];

    static const char  nonce[] = "0123456789abcdef0123456789abcdef";

    (void) state;

    /* "dev1/a?>" is "ZGV2MS9hPz4=" in base64: "/" never, no padding */
    n = ngx_iothub_blob_correlation_make(cid, sizeof(cid), nonce,
                                         (const unsigned char *) "dev1/a?>",
                                         8);
    assert_int_equal(n, 32 + 11);
    assert_string_equal(cid + 32, "ZGV2MS9hPz4");

    n = ngx_iothub_blob_correlation_parse((const unsigned char *) cid,
                                          strlen(cid), path, sizeof(path));
    assert_int_equal(n, 8);
    assert_string_equal(path, "dev1/a?>");

    /* "~~~" is "fn5+": base64url turns "+" into "-" */
    n = ngx_iothub_blob_correlation_make(cid, sizeof(cid), nonce,
                                         (const unsigned char *) "~~~", 3);
    assert_string_equal(cid + 32, "fn5-");
    assert_int_equal(ngx_iothub_blob_correlation_parse(
                         (const unsigned char *) cid, n, path, sizeof(path)),
                     3);

    cid[32 + 3] = '+';
    assert_int_equal(ngx_iothub_blob_correlation_parse(
                         (const unsigned char *) cid, n, path, sizeof(path)),
                     -1);
    assert_int_equal(ngx_iothub_blob_correlation_parse(
                         (const unsigned char *) nonce, 32, path,
                         sizeof(path)), -1);
    assert_int_equal(ngx_iothub_blob_correlation_parse(
                         (const unsigned char *) "0123456789ABCDEF0123456789"
                         "abcdefZGV2", 36, path, sizeof(path)), -1);
    assert_int_equal(ngx_iothub_blob_correlation_make(cid, sizeof(cid), "01",
                         (const unsigned char *) "a", 1), -1);
}


int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("blob sas", test_sas, sas_cases),
        TABLE("storage connection string", test_connstr, connstr_cases),
        TABLE("blob path", test_path, path_cases),
        TABLE("block list", test_block_list, list_cases),
    };

    static const struct CMUnitTest  misc[] = {
        cmocka_unit_test(test_make_round_trip),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_block_names),
        cmocka_unit_test(test_correlation),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    failed += cmocka_run_group_tests_name("blob misc", misc, NULL, NULL);

    return failed != 0;
}
