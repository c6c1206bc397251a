
/*
 * Copyright (C) nginx-iothub authors
 */


#include <stddef.h>
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
