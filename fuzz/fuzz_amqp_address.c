
/*
 * Copyright (C) nginx-iothub authors
 */


/*
 * libFuzzer target for ngx_iothub_amqp/ngx_iothub_amqp_address.c: the
 * input is a link address, a CBS audience and a SASL PLAIN user name at
 * once, for IoT Hub and for Event Hubs (of a hub named "hub"), and a UUID
 * as text.  Besides memory
 * errors it checks that decoded ids are NUL-terminated, of the reported
 * length, at most 128 bytes and free of NUL; that an identity has a
 * device id; that an audience's scope is a host and a path of its
 * buffers, the path empty or starting with '/' and covering itself; and
 * that parsing is deterministic.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_iothub_amqp \
 *       fuzz/fuzz_amqp_address.c ngx_iothub_amqp/ngx_iothub_amqp_address.c \
 *       -o fuzz_amqp_address
 */


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ngx_iothub_amqp_address.h"


#define fuzz_assert(expr)  if (!(expr)) abort()


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_check(int rc, ngx_iothub_amqp_addr_t *a)
{
    if (rc != 0) {
        fuzz_assert(rc == -1);
        return;
    }

    fuzz_assert(a->device_len <= NGX_IOTHUB_AMQP_ID_MAX);
    fuzz_assert(a->module_len <= NGX_IOTHUB_AMQP_ID_MAX);
    fuzz_assert(strlen(a->device) == a->device_len);
    fuzz_assert(strlen(a->module) == a->module_len);

    if (a->kind != NGX_IOTHUB_AMQP_ADDR_UNKNOWN
        && a->kind != NGX_IOTHUB_AMQP_ADDR_CBS
        && a->kind != NGX_IOTHUB_AMQP_ADDR_SERVICE_C2D
        && a->kind != NGX_IOTHUB_AMQP_ADDR_FEEDBACK)
    {
        fuzz_assert(a->device_len > 0);
    }
}


static void
fuzz_scope(const uint8_t *data, size_t size)
{
    char  host[64], path[64];

    if (ngx_iothub_amqp_audience_scope(data, size, host, sizeof(host), path,
                                       sizeof(path))
        != 0)
    {
        return;
    }

    fuzz_assert(strlen(host) > 0 && strlen(host) < sizeof(host));
    fuzz_assert(strlen(path) < sizeof(path));
    fuzz_assert(path[0] == '\0' || path[0] == '/');
    fuzz_assert(ngx_iothub_amqp_scope_covers(path, path) == 1);
    fuzz_assert(ngx_iothub_amqp_scope_covers("", path) == 1);
}


static void
fuzz_plain(const uint8_t *data, size_t size)
{
    char                    hub[64];
    ngx_iothub_amqp_addr_t  a;

    if (ngx_iothub_amqp_plain_user(data, size, &a, hub, sizeof(hub)) != 0) {
        return;
    }

    fuzz_check(0, &a);
    fuzz_assert(a.kind == NGX_IOTHUB_AMQP_ADDR_IDENTITY
                || a.kind == NGX_IOTHUB_AMQP_ADDR_POLICY);
    fuzz_assert(strlen(hub) > 0 && strlen(hub) < sizeof(hub));
    fuzz_assert(strchr(a.device, '/') == NULL);
    fuzz_assert(strchr(a.module, '/') == NULL);
    fuzz_assert(a.kind == NGX_IOTHUB_AMQP_ADDR_IDENTITY
                || a.module_len == 0);
}


/* the hub "hub" (any case in the input): Event Hubs names */

static void
fuzz_eventhub(const uint8_t *data, size_t size)
{
    char                       *addr, path[NGX_IOTHUB_AMQP_EH_PATH_MAX];
    ngx_iothub_amqp_eh_addr_t   a;

    if (ngx_iothub_amqp_eh_audience_path(data, size, "hub", 3, path) == 0) {
        fuzz_assert(path[0] == '/' && strlen(path) < sizeof(path));
        fuzz_assert(strncasecmp(path + 1, "hub", 3) == 0);
        fuzz_assert(path[4] == '\0' || path[4] == '/');
    }

    /* a link address is a C string: up to the first NUL */
    addr = malloc(size + 1);
    if (addr == NULL) {
        return;
    }

    memcpy(addr, data, size);
    addr[size] = '\0';

    if (ngx_iothub_amqp_eh_addr_parse(addr, "hub", 3, &a) == 0) {
        fuzz_assert(a.path_len >= 1 && a.path_len < sizeof(a.path));
        fuzz_assert(a.path[0] == '/');

        if (a.management) {
            fuzz_assert(a.path_len == 16
                        && memcmp(a.path, "/hub/$management", 16) == 0);

        } else {
            fuzz_assert(a.group >= addr && a.partition >= addr);
            fuzz_assert(a.group + a.group_len <= addr + strlen(addr));
            fuzz_assert(a.partition + a.partition_len
                        == addr + strlen(addr));
            fuzz_assert(memchr(a.group, '/', a.group_len) == NULL);
            fuzz_assert(memchr(a.partition, '/', a.partition_len) == NULL);
        }
    }

    free(addr);
}


/* a UUID read from text prints back as the same text, case aside */

static void
fuzz_uuid_text(const uint8_t *data, size_t size)
{
    char           text[37];
    size_t         i;
    unsigned char  uuid[16];

    if (ngx_iothub_amqp_uuid_text_parse((const char *) data, size, uuid)
        != 0)
    {
        return;
    }

    fuzz_assert(size == 36);

    snprintf(text, sizeof(text),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6],
             uuid[7], uuid[8], uuid[9], uuid[10], uuid[11], uuid[12],
             uuid[13], uuid[14], uuid[15]);

    for (i = 0; i < 36; i++) {
        fuzz_assert(text[i] == (char) (data[i] >= 'A' ? data[i] | 0x20
                                                      : data[i]));
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     rc, rc2;
    ngx_iothub_amqp_addr_t  a, b;

    rc = ngx_iothub_amqp_addr_parse(data, size, &a);
    fuzz_check(rc, &a);
    fuzz_assert(a.kind != NGX_IOTHUB_AMQP_ADDR_IDENTITY);

    rc2 = ngx_iothub_amqp_addr_parse(data, size, &b);
    fuzz_assert(rc == rc2 && memcmp(&a, &b, sizeof(a)) == 0);

    rc = ngx_iothub_amqp_audience_parse(data, size, &a);
    fuzz_check(rc, &a);
    fuzz_assert(a.kind == NGX_IOTHUB_AMQP_ADDR_IDENTITY
                || a.kind == NGX_IOTHUB_AMQP_ADDR_UNKNOWN);

    fuzz_scope(data, size);

    fuzz_plain(data, size);

    fuzz_eventhub(data, size);

    fuzz_uuid_text(data, size);

    return 0;
}
