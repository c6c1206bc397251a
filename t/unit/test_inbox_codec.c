
/*
 * Unit tests of shared/ngx_iothub_inbox_codec.c: the words of the
 * messages a worker's inbox channel carries (kick, desired, c2d).  Every
 * case is also parsed from a buffer of its exact size, so that a read
 * past the end shows under a sanitizer.  "make unit" builds and runs them.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_table.h"

#include "ngx_iothub_inbox_codec.h"


typedef enum {
    KICK = 0,
    DESIRED,
    C2D,
    EH_STOLEN
} kind_e;


typedef struct {
    const char   *name;
    const char   *text;
    const char   *word;
    const char   *rest;
} split_case_t;


/* len 0: strlen(text) */
typedef struct {
    const char   *name;
    const char   *text;
    size_t        len;
    int           ok;
    uint64_t      n;
} number_case_t;


typedef struct {
    const char   *name;
    kind_e        kind;
    const char   *payload;
    int           ok;
    uint64_t      session;
    uint64_t      version;
    unsigned      removed;
    const char   *rest;
} payload_case_t;


static unsigned char *exact_copy(const char *text, size_t *len);
static int parse(kind_e kind, const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m);


static const split_case_t  split_cases[] = {
    { "split: type and payload", "kick 7 replaced", "kick", "7 replaced" },
    { "split: no space", "c2d", "c2d", "" },
    { "split: trailing space", "c2d ", "c2d", "" },
    { "split: leading space", " 7", "", "7" },
    { "split: two spaces", "a  b", "a", " b" },
    { "split: empty", "", "", "" },
};


static const number_case_t  number_cases[] = {
    { "number: one digit", "0", 0, 0, 0 },
    { "number: several", "42", 0, 0, 42 },
    { "number: leading zeros", "007", 0, 0, 7 },
    { "number: nineteen digits", "9999999999999999999", 0, 0,
      9999999999999999999ULL },
    { "number: twenty digits", "10000000000000000000", 0, -1, 0 },
    { "number: empty", "", 0, -1, 0 },
    { "number: sign", "-1", 0, -1, 0 },
    { "number: plus", "+1", 0, -1, 0 },
    { "number: trailing letter", "12a", 0, -1, 0 },
    { "number: space", "1 2", 0, -1, 0 },
    { "number: NUL inside", "1\0002", 3, -1, 0 },
};


static const payload_case_t  payload_cases[] = {
    { "kick: replaced", KICK, "7 replaced", 0, 7, 0, 0, "replaced" },
    { "kick: removed", KICK, "7 removed", 0, 7, 0, 1, "removed" },
    { "kick: no reason", KICK, "7", 0, 7, 0, 0, "" },
    { "kick: removed is a whole word", KICK, "7 removedx", 0, 7, 0, 0,
      "removedx" },
    { "kick: removed is case-sensitive", KICK, "7 Removed", 0, 7, 0, 0,
      "Removed" },
    { "kick: no session", KICK, " removed", -1, 0, 0, 0, NULL },
    { "kick: session not a number", KICK, "x removed", -1, 0, 0, 0, NULL },
    { "kick: empty", KICK, "", -1, 0, 0, 0, NULL },

    { "desired: a patch", DESIRED, "3 12 {\"a\":1}", 0, 3, 12, 0,
      "{\"a\":1}" },
    { "desired: a patch with spaces", DESIRED, "3 12 {\"a\": 1, \"b\": 2}",
      0, 3, 12, 0, "{\"a\": 1, \"b\": 2}" },
    { "desired: an empty patch", DESIRED, "3 12 ", 0, 3, 12, 0, "" },
    { "desired: no patch", DESIRED, "3 12", -1, 0, 0, 0, NULL },
    { "desired: no version", DESIRED, "3", -1, 0, 0, 0, NULL },
    { "desired: empty version", DESIRED, "3  {}", -1, 0, 0, 0, NULL },
    { "desired: version not a number", DESIRED, "3 v1 {}", -1, 0, 0, 0,
      NULL },
    { "desired: session not a number", DESIRED, "s 1 {}", -1, 0, 0, 0,
      NULL },
    { "desired: version past nineteen digits", DESIRED,
      "3 10000000000000000000 {}", -1, 0, 0, 0, NULL },
    { "desired: empty", DESIRED, "", -1, 0, 0, 0, NULL },

    { "c2d: a session", C2D, "42", 0, 42, 0, 0, "" },
    { "c2d: trailing words", C2D, "42 x", -1, 0, 0, 0, NULL },
    { "c2d: trailing space", C2D, "42 ", -1, 0, 0, 0, NULL },
    { "c2d: empty", C2D, "", -1, 0, 0, 0, NULL },
    { "eh-stolen: claim and epoch", EH_STOLEN, "7 12", 0, 7, 12, 0, "" },
    { "eh-stolen: epoch 0", EH_STOLEN, "3 0", 0, 3, 0, 0, "" },
    { "eh-stolen: no epoch", EH_STOLEN, "7", -1, 0, 0, 0, NULL },
    { "eh-stolen: negative epoch", EH_STOLEN, "7 -1", -1, 0, 0, 0, NULL },
    { "eh-stolen: trailing words", EH_STOLEN, "7 1 x", -1, 0, 0, 0, NULL },
    { "eh-stolen: empty claim", EH_STOLEN, " 1", -1, 0, 0, 0, NULL },
};


static void
test_split(void **state)
{
    const split_case_t *c = *state;

    size_t                   len;
    unsigned char           *p;
    ngx_iothub_inbox_str_t   word, rest;

    p = exact_copy(c->text, &len);

    ngx_iothub_inbox_split(p, len, &word, &rest);

    assert_ptr_equal(word.data, p);
    assert_int_equal(word.len, strlen(c->word));
    assert_memory_equal(word.data, c->word, word.len);
    assert_int_equal(rest.len, strlen(c->rest));
    assert_memory_equal(rest.data, c->rest, rest.len);
    assert_true(rest.data >= p && rest.data + rest.len <= p + len);

    free(p);
}


static void
test_number(void **state)
{
    const number_case_t *c = *state;

    size_t                  len;
    uint64_t                n;
    ngx_iothub_inbox_str_t  s;

    len = c->len ? c->len : strlen(c->text);

    s.data = (const unsigned char *) c->text;
    s.len = len;

    assert_int_equal(ngx_iothub_inbox_number(&s, &n), c->ok);

    if (c->ok == 0) {
        assert_true(n == c->n);
    }
}


static void
test_payload(void **state)
{
    const payload_case_t *c = *state;

    size_t                   len;
    unsigned char           *p;
    ngx_iothub_inbox_msg_t   m;

    p = exact_copy(c->payload, &len);

    assert_int_equal(parse(c->kind, p, len, &m), c->ok);

    if (c->ok == 0) {
        assert_true(m.session == c->session);

        if (c->kind == DESIRED || c->kind == EH_STOLEN) {
            assert_true(m.version == c->version);
        }

        if (c->kind == KICK) {
            assert_int_equal(m.removed, c->removed);
        }

        assert_int_equal(m.rest.len, strlen(c->rest));
        assert_memory_equal(m.rest.data, c->rest, m.rest.len);
        assert_true(m.rest.data >= p && m.rest.data + m.rest.len <= p + len);
    }

    free(p);
}


/* the text without its NUL, in a buffer of exactly its size */

static unsigned char *
exact_copy(const char *text, size_t *len)
{
    unsigned char  *p;

    *len = strlen(text);

    p = malloc(*len ? *len : 1);
    assert_non_null(p);

    memcpy(p, text, *len);

    return p;
}


static int
parse(kind_e kind, const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m)
{
    switch (kind) {

    case KICK:
        return ngx_iothub_inbox_parse_kick(p, len, m);

    case DESIRED:
        return ngx_iothub_inbox_parse_desired(p, len, m);

    case EH_STOLEN:
        return ngx_iothub_inbox_parse_eh_stolen(p, len, m);

    default:
        return ngx_iothub_inbox_parse_c2d(p, len, m);
    }
}


int
main(void)
{
    int     failed;
    size_t  i;

    static const table_t  tables[] = {
        TABLE("splitting", test_split, split_cases),
        TABLE("numbers", test_number, number_cases),
        TABLE("payloads", test_payload, payload_cases),
    };

    failed = 0;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        failed += run_table(&tables[i]);
    }

    return failed ? 1 : 0;
}
