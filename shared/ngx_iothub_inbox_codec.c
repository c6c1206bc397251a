
/*
 * nginx-iothub: the words of inbox messages (pure C).
 */


#include <string.h>

#include "ngx_iothub_inbox_codec.h"


void
ngx_iothub_inbox_split(const unsigned char *p, size_t len,
    ngx_iothub_inbox_str_t *word, ngx_iothub_inbox_str_t *rest)
{
    const unsigned char  *sp;

    sp = memchr(p, ' ', len);

    word->data = p;
    word->len = sp ? (size_t) (sp - p) : len;

    rest->data = sp ? sp + 1 : p + len;
    rest->len = sp ? len - word->len - 1 : 0;
}


int
ngx_iothub_inbox_number(ngx_iothub_inbox_str_t *s, uint64_t *n)
{
    size_t  i;

    if (s->len == 0 || s->len > 19) {
        return -1;
    }

    *n = 0;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9') {
            return -1;
        }

        *n = *n * 10 + (s->data[i] - '0');
    }

    return 0;
}


int
ngx_iothub_inbox_parse_kick(const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m)
{
    ngx_iothub_inbox_str_t  word, reason;

    ngx_iothub_inbox_split(p, len, &word, &reason);

    if (ngx_iothub_inbox_number(&word, &m->session) != 0) {
        return -1;
    }

    m->removed = (reason.len == 7
                  && memcmp(reason.data, "removed", 7) == 0);
    m->rest = reason;

    return 0;
}


int
ngx_iothub_inbox_parse_desired(const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m)
{
    ngx_iothub_inbox_str_t  word, rest;

    ngx_iothub_inbox_split(p, len, &word, &rest);

    if (ngx_iothub_inbox_number(&word, &m->session) != 0
        || rest.len == 0)
    {
        return -1;
    }

    ngx_iothub_inbox_split(rest.data, rest.len, &word, &m->rest);

    if (ngx_iothub_inbox_number(&word, &m->version) != 0
        || word.len == rest.len)
    {
        /* no space after the version: no patch */
        return -1;
    }

    return 0;
}


int
ngx_iothub_inbox_parse_c2d(const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m)
{
    ngx_iothub_inbox_str_t  word;

    word.data = p;
    word.len = len;
    m->rest.data = p + len;
    m->rest.len = 0;

    return ngx_iothub_inbox_number(&word, &m->session);
}


int
ngx_iothub_inbox_parse_eh_stolen(const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m)
{
    ngx_iothub_inbox_str_t  claim, epoch;

    ngx_iothub_inbox_split(p, len, &claim, &epoch);

    if (ngx_iothub_inbox_number(&claim, &m->session) != 0
        || ngx_iothub_inbox_number(&epoch, &m->version) != 0)
    {
        return -1;
    }

    m->rest.data = p + len;
    m->rest.len = 0;

    return 0;
}
