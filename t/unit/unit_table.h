
/*
 * nginx-iothub unit tests: table-driven cmocka groups.  Each case struct
 * starts with its name; a table names the group, the test function run on
 * every case (its state is the case) and the cases.
 */


#ifndef _UNIT_TABLE_H_INCLUDED_
#define _UNIT_TABLE_H_INCLUDED_


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>


#define TABLE(group, fn, cases)                                               \
    { group, fn, cases, sizeof(cases[0]), sizeof(cases) / sizeof(cases[0]) }


typedef struct {
    const char            *group;
    CMUnitTestFunction     test;
    const void            *cases;
    size_t                 size;
    size_t                 n;
} table_t;


/* runs one table as a cmocka group; returns the number of failures */

static int
run_table(const table_t *tb)
{
    int                 failed;
    size_t              i;
    const char         *p;
    struct CMUnitTest  *tests;

    tests = calloc(tb->n, sizeof(struct CMUnitTest));
    if (tests == NULL) {
        return 1;
    }

    for (i = 0; i < tb->n; i++) {
        p = (const char *) tb->cases + i * tb->size;

        tests[i].name = *(const char * const *) p;
        tests[i].test_func = tb->test;
        tests[i].initial_state = (void *) p;
    }

    failed = _cmocka_run_group_tests(tb->group, tests, tb->n, NULL, NULL);

    free(tests);

    return failed;
}


#endif /* _UNIT_TABLE_H_INCLUDED_ */
