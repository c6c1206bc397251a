
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * nginx-iothub: an Event Hubs reader's selector filter expression
 * (amqp.md 10.3), read without nginx: the AMQP attach hands its text here.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ngx_iothub_sas.h"
#include "ngx_iothub_eh_filter.h"


static int ngx_iothub_eh_filter_name_is(const unsigned char *name,
    size_t len, const char *word);


int
ngx_iothub_eh_filter_parse(const unsigned char *text, size_t len,
    ngx_iothub_eh_from_e *from, int64_t *n)
{
    size_t                name_len;
    uint64_t              v;
    unsigned              inclusive, negative;
    const unsigned char  *p, *last, *name, *value;

    static const char  prefix[] = "amqp.annotation.";

    p = text;
    last = text + len;

    while (p < last && *p == ' ') {
        p++;
    }

    if ((size_t) (last - p) < sizeof(prefix) - 1
        || strncasecmp((const char *) p, prefix, sizeof(prefix) - 1) != 0)
    {
        return -1;
    }

    p += sizeof(prefix) - 1;
    name = p;

    while (p < last && *p != ' ' && *p != '>') {
        p++;
    }

    name_len = p - name;

    while (p < last && *p == ' ') {
        p++;
    }

    if (p == last || *p++ != '>') {
        return -1;
    }

    inclusive = 0;

    if (p < last && *p == '=') {
        inclusive = 1;
        p++;
    }

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    if (last - p >= 2 && *p == '\'' && last[-1] == '\'') {
        p++;
        last--;
    }

    value = p;

    if (ngx_iothub_eh_filter_name_is(name, name_len, "x-opt-offset")
        && last - value == 7 && memcmp(value, "@latest", 7) == 0)
    {
        *from = NGX_IOTHUB_EH_LATEST;
        return 0;
    }

    negative = (value < last && *value == '-');

    if (ngx_iothub_decimal_parse(value + negative, last - value - negative,
                                 &v)
        != 0)
    {
        return -1;
    }

    if (negative) {
        /* -1: before the first event */
        *from = NGX_IOTHUB_EH_START;
        return 0;
    }

    if (ngx_iothub_eh_filter_name_is(name, name_len, "x-opt-offset")
        || ngx_iothub_eh_filter_name_is(name, name_len,
                                        "x-opt-sequence-number"))
    {
        *from = NGX_IOTHUB_EH_SEQUENCE;

    } else if (ngx_iothub_eh_filter_name_is(name, name_len,
                                            "x-opt-enqueued-time"))
    {
        *from = NGX_IOTHUB_EH_TIME;

    } else {
        return -1;
    }

    if (!inclusive && v == (uint64_t) INT64_MAX) {
        /* nothing comes after the largest sequence number or time */
        return -1;
    }

    *n = (int64_t) (inclusive ? v : v + 1);

    return 0;
}


/* the annotation's name, without regard to case */

static int
ngx_iothub_eh_filter_name_is(const unsigned char *name, size_t len,
    const char *word)
{
    return len == strlen(word)
           && strncasecmp((const char *) name, word, len) == 0;
}
