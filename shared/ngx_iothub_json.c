
/*
 * nginx-iothub: small JSON helpers over yajl; see ngx_iothub_json.h.
 */


#include <string.h>

#include "ngx_iothub_json.h"


static yajl_gen_status ngx_iothub_json_gen_object(yajl_gen g, yajl_val v);
static yajl_gen_status ngx_iothub_json_gen_array(yajl_gen g, yajl_val v);


int
ngx_iothub_json_too_deep(const char *json, size_t len, unsigned max)
{
    unsigned     depth;
    int          in_string;
    const char  *p, *last;

    depth = 0;
    in_string = 0;
    last = json + len;

    for (p = json; p < last; p++) {
        if (in_string) {
            if (*p == '\\') {
                p++;

            } else if (*p == '"') {
                in_string = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            in_string = 1;
            break;

        case '{':
        case '[':
            if (++depth > max) {
                return 1;
            }

            break;

        case '}':
        case ']':
            depth -= depth ? 1 : 0;
            break;
        }
    }

    return 0;
}


yajl_gen_status
ngx_iothub_json_gen_value(yajl_gen g, yajl_val v)
{
    const char  *s;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return yajl_gen_null(g);
    }

    if (YAJL_IS_STRING(v)) {
        s = YAJL_GET_STRING(v);
        return yajl_gen_string(g, (const unsigned char *) s, strlen(s));
    }

    if (YAJL_IS_NUMBER(v)) {
        s = YAJL_GET_NUMBER(v);
        return yajl_gen_number(g, s, strlen(s));
    }

    if (YAJL_IS_TRUE(v)) {
        return yajl_gen_bool(g, 1);
    }

    if (YAJL_IS_FALSE(v)) {
        return yajl_gen_bool(g, 0);
    }

    if (YAJL_IS_OBJECT(v)) {
        return ngx_iothub_json_gen_object(g, v);
    }

    return ngx_iothub_json_gen_array(g, v);
}


static yajl_gen_status
ngx_iothub_json_gen_object(yajl_gen g, yajl_val v)
{
    size_t           i;
    const char      *key;
    yajl_gen_status  st;

    st = yajl_gen_map_open(g);

    for (i = 0; st == yajl_gen_status_ok && i < v->u.object.len; i++) {
        key = v->u.object.keys[i];
        st = yajl_gen_string(g, (const unsigned char *) key, strlen(key));

        if (st == yajl_gen_status_ok) {
            st = ngx_iothub_json_gen_value(g, v->u.object.values[i]);
        }
    }

    return st == yajl_gen_status_ok ? yajl_gen_map_close(g) : st;
}


static yajl_gen_status
ngx_iothub_json_gen_array(yajl_gen g, yajl_val v)
{
    size_t           i;
    yajl_gen_status  st;

    st = yajl_gen_array_open(g);

    for (i = 0; st == yajl_gen_status_ok && i < v->u.array.len; i++) {
        st = ngx_iothub_json_gen_value(g, v->u.array.values[i]);
    }

    return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;
}
