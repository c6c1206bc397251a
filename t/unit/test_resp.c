
/*
 * Unit tests of shared/ngx_iothub_resp.c, the RESP writer: its bytes are
 * those of hiredis's redisFormatCommandArgv (which it replaces), its size
 * is exact, and hiredis's reader reads back what it wrote.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "ngx_iothub_resp.h"


#define MAX_ARGS  16


typedef struct {
    int          argc;
    const char  *argv[MAX_ARGS];
    size_t       lens[MAX_ARGS];
} cmd_t;


static char  big[100001];


static void
cmd_add(cmd_t *cmd, const char *s, size_t len)
{
    cmd->argv[cmd->argc] = s;
    cmd->lens[cmd->argc] = len;
    cmd->argc++;
}


/* the writer's bytes against hiredis's, and the size against both */

static void
same_as_hiredis(cmd_t *cmd)
{
    int      len;
    char    *ours, *end, *theirs;
    size_t   size;

    size = ngx_iothub_resp_size(cmd->argc, cmd->lens);

    ours = malloc(size + 1);
    assert_non_null(ours);
    ours[size] = '#';

    end = ngx_iothub_resp_write(ours, cmd->argc, cmd->argv, cmd->lens);
    assert_ptr_equal(end, ours + size);
    assert_int_equal(ours[size], '#');

    len = redisFormatCommandArgv(&theirs, cmd->argc, cmd->argv, cmd->lens);
    assert_int_equal(len, (int) size);
    assert_memory_equal(ours, theirs, size);

    redisFreeCommand(theirs);
    free(ours);
}


static void
test_like_hiredis(void **state)
{
    cmd_t  cmd;

    (void) state;

    memset(big, 'b', sizeof(big));

    cmd.argc = 0;
    cmd_add(&cmd, "PING", 4);
    same_as_hiredis(&cmd);

    /* empty arguments, binary bytes, CRLF inside, lengths at a new digit */
    cmd.argc = 0;
    cmd_add(&cmd, "XADD", 4);
    cmd_add(&cmd, "", 0);
    cmd_add(&cmd, "a\r\nb\0c", 6);
    cmd_add(&cmd, big, 9);
    cmd_add(&cmd, big, 10);
    cmd_add(&cmd, big, 99);
    cmd_add(&cmd, big, 100);
    cmd_add(&cmd, big, 9999);
    cmd_add(&cmd, big, 10000);
    cmd_add(&cmd, big, 100001);
    same_as_hiredis(&cmd);

    /* ten arguments or more: a two-digit array header */
    cmd.argc = 0;

    while (cmd.argc < 12) {
        cmd_add(&cmd, "field", 5);
    }

    same_as_hiredis(&cmd);
}


/* the parts, as the EVALSHA writer uses them, read back by hiredis */

static void
test_parts_read_back(void **state)
{
    char          buf[512], *p;
    void         *r;
    redisReply   *reply;
    redisReader  *reader;
    const char   *argv[2] = { "k", "" };
    size_t        lens[2] = { 1, 0 };

    (void) state;

    p = ngx_iothub_resp_array(buf, 5);
    p = ngx_iothub_resp_bulk(p, "EVALSHA", 7);
    p = ngx_iothub_resp_bulk(p, "0123456789", 10);
    p = ngx_iothub_resp_bulk(p, "1", 1);
    assert_int_equal(ngx_iothub_resp_args_size(2, lens),
                     sizeof("$1\r\nk\r\n$0\r\n\r\n") - 1);
    p = ngx_iothub_resp_args(p, 2, argv, lens);

    assert_int_equal(ngx_iothub_resp_array_size(5), 4);
    assert_int_equal(ngx_iothub_resp_bulk_size(10), 17);

    reader = redisReaderCreate();
    assert_non_null(reader);
    assert_int_equal(redisReaderFeed(reader, buf, p - buf), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_OK);

    reply = r;
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
    assert_int_equal(reply->elements, 5);
    assert_string_equal(reply->element[0]->str, "EVALSHA");
    assert_string_equal(reply->element[1]->str, "0123456789");
    assert_string_equal(reply->element[3]->str, "k");
    assert_int_equal(reply->element[4]->len, 0);

    /* nothing left over */
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_OK);
    assert_null(r);

    freeReplyObject(reply);
    redisReaderFree(reader);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_like_hiredis),
        cmocka_unit_test(test_parts_read_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
