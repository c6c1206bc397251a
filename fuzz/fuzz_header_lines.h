
/*
 * The fuzz targets of request headers read their input as header lines:
 * "name:value" a line ('\n'), a line without ':' being a name alone.
 * Included by the targets (each is built alone with the pure sources).
 */


#ifndef _FUZZ_HEADER_LINES_H_INCLUDED_
#define _FUZZ_HEADER_LINES_H_INCLUDED_


#include <stddef.h>
#include <string.h>


typedef struct {
    const unsigned char  *name;
    size_t                name_len;
    const unsigned char  *value;
    size_t                value_len;
} fuzz_header_t;


/* The next line of [*pos, last) into h: 1, or 0 at the end. */

static int
fuzz_header_line(const unsigned char **pos, const unsigned char *last,
    fuzz_header_t *h)
{
    const unsigned char  *line, *colon, *nl;

    line = *pos;

    if (line >= last) {
        return 0;
    }

    nl = memchr(line, '\n', last - line);
    if (nl == NULL) {
        nl = last;
    }

    colon = memchr(line, ':', nl - line);
    if (colon == NULL) {
        colon = nl;
    }

    h->name = line;
    h->name_len = colon - line;
    h->value = (colon < nl) ? colon + 1 : nl;
    h->value_len = (colon < nl) ? (size_t) (nl - colon - 1) : 0;

    *pos = nl + 1;

    return 1;
}


#endif /* _FUZZ_HEADER_LINES_H_INCLUDED_ */
