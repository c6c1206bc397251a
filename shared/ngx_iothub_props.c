
/*
 * Copyright (C) nginx-iothub authors
 */


#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "ngx_iothub_props.h"


#define ngx_iothub_props_is(name, len, s)                                    \
    ((len) == sizeof(s) - 1                                                   \
     && strncasecmp((const char *) (name), s, sizeof(s) - 1) == 0)

#define ngx_iothub_props_starts(name, len, s)                                \
    ((len) >= sizeof(s) - 1                                                   \
     && strncasecmp((const char *) (name), s, sizeof(s) - 1) == 0)


int
ngx_iothub_app_property_reserved(const unsigned char *name, size_t len)
{
    return ngx_iothub_props_starts(name, len, "iothub-")
           || ngx_iothub_props_is(name, len, "mqtt-retain")
           || ngx_iothub_props_is(name, len, "x-opt-retain");
}


size_t
ngx_iothub_prop_app_header(const unsigned char *name, size_t len)
{
    return (len > sizeof("iothub-app-") - 1
            && ngx_iothub_props_starts(name, len, "iothub-app-"))
           ? sizeof("iothub-app-") - 1 : 0;
}


int
ngx_iothub_prop_name_is(const unsigned char *name, size_t len,
    const char *header)
{
    return len == strlen(header)
           && strncasecmp((const char *) name, header, len) == 0;
}


const char *
ngx_iothub_prop_system(const ngx_iothub_prop_header_t *table,
    const unsigned char *name, size_t len)
{
    for ( /* void */ ; table->header != NULL; table++) {
        if (ngx_iothub_prop_name_is(name, len, table->header)) {
            return table->field;
        }
    }

    return NULL;
}


int
ngx_iothub_prop_add(ngx_iothub_prop_t *props, size_t *n, size_t max,
    const char *field, const unsigned char *name, size_t name_len,
    const unsigned char *value, size_t value_len)
{
    ngx_iothub_prop_t  *p;

    if (*n == max) {
        return -1;
    }

    p = &props[(*n)++];

    p->field = field;
    p->name = name;
    p->name_len = name_len;
    p->value = value;
    p->value_len = value_len;

    return 0;
}
