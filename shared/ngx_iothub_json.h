
/*
 * nginx-iothub: small JSON helpers over yajl shared by the modules.
 */


#ifndef _NGX_IOTHUB_JSON_H_INCLUDED_
#define _NGX_IOTHUB_JSON_H_INCLUDED_


#include <stddef.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>


/*
 * Emits a parsed value (NULL: JSON null) into g; numbers keep their text.
 * Recursive: bound the nesting of the input before parsing it.
 */
yajl_gen_status ngx_iothub_json_gen_value(yajl_gen g, yajl_val v);

/*
 * 1 when JSON text nests objects and arrays (outside strings) deeper than
 * max, else 0: the bound to check before yajl_tree_parse().
 */
int ngx_iothub_json_too_deep(const char *json, size_t len, unsigned max);


#endif /* _NGX_IOTHUB_JSON_H_INCLUDED_ */
