
/*
 * nginx-iothub http module: the request headers of a cloud-to-device
 * send; see ngx_iothub_http_c2d_headers.h.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ngx_iothub_http_c2d_headers.h"


/* a broken-down UTC time, as a date's fields are read */
typedef struct {
    int                          year;
    int                          mon;        /* 1..12 */
    int                          mday;
    int                          hour;
    int                          min;
    int                          sec;
} ngx_iothub_http_tm_t;


static ngx_iothub_c2d_headers_rc_e ngx_iothub_c2d_property(
    ngx_iothub_c2d_headers_t *h, const char *field, const unsigned char *name,
    size_t name_len, const unsigned char *value, size_t value_len);
static const char *ngx_iothub_c2d_ack(const unsigned char *p, size_t len);
static int ngx_iothub_http_date_form(const unsigned char *p, size_t len,
    const char *form, ngx_iothub_http_tm_t *tm);
static size_t ngx_iothub_http_date_field(const unsigned char *p, size_t len,
    char conv, ngx_iothub_http_tm_t *tm);
static size_t ngx_iothub_http_date_digits(const unsigned char *p, size_t len,
    size_t n, int *v);
static size_t ngx_iothub_http_date_name(const unsigned char *p, size_t len,
    const char *const *names, size_t n, int *v);
static int ngx_iothub_http_date_valid(const ngx_iothub_http_tm_t *tm);
static int64_t ngx_iothub_http_date_days(int year, int mon, int mday);


static const ngx_iothub_prop_header_t  ngx_iothub_c2d_system[] = {
    { "iothub-messageid", "p:message-id" },
    { "iothub-correlationid", "p:correlation-id" },
    { "iothub-userid", "p:user-id" },
    { "iothub-contenttype", "p:content-type" },
    { "iothub-contentencoding", "p:content-encoding" },
    { NULL, NULL }
};


static const char *const  ngx_iothub_c2d_acks[] = {
    "none", "positive", "negative", "full", NULL
};


/* strptime-like forms of RFC 9110 5.6.7, the preferred one first */
static const char *const  ngx_iothub_http_date_forms[] = {
    "%a, %d %b %Y %H:%M:%S GMT",
    "%A, %d-%b-%y %H:%M:%S GMT",
    "%a %b %e %H:%M:%S %Y",
    NULL
};


static const char *const  ngx_iothub_http_wkday[] = {
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"
};


static const char *const  ngx_iothub_http_weekday[] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    "Sunday"
};


static const char *const  ngx_iothub_http_month[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
    "Nov", "Dec"
};


void
ngx_iothub_c2d_headers_init(ngx_iothub_c2d_headers_t *h)
{
    memset(h, 0, sizeof(ngx_iothub_c2d_headers_t));
}


ngx_iothub_c2d_headers_rc_e
ngx_iothub_c2d_headers_add(ngx_iothub_c2d_headers_t *h,
    const unsigned char *name, size_t name_len, const unsigned char *value,
    size_t value_len)
{
    size_t       app;
    const char  *field;

    app = ngx_iothub_prop_app_header(name, name_len);

    if (app) {
        return ngx_iothub_c2d_property(h, "u:", name + app, name_len - app,
                                       value, value_len);
    }

    if (ngx_iothub_prop_name_is(name, name_len, "iothub-ack")) {
        h->ack_text = value;
        h->ack_len = value_len;
        return NGX_IOTHUB_C2D_HEADERS_OK;
    }

    if (ngx_iothub_prop_name_is(name, name_len, "iothub-expiry")) {
        h->expiry_text = value;
        h->expiry_len = value_len;
        return NGX_IOTHUB_C2D_HEADERS_OK;
    }

    field = ngx_iothub_prop_system(ngx_iothub_c2d_system, name, name_len);
    if (field != NULL) {
        return ngx_iothub_c2d_property(h, field, NULL, 0, value, value_len);
    }

    return NGX_IOTHUB_C2D_HEADERS_OK;
}


static ngx_iothub_c2d_headers_rc_e
ngx_iothub_c2d_property(ngx_iothub_c2d_headers_t *h, const char *field,
    const unsigned char *name, size_t name_len, const unsigned char *value,
    size_t value_len)
{
    if (ngx_iothub_prop_add(h->prop, &h->n, NGX_IOTHUB_C2D_HEADERS_MAX,
                            field, name, name_len, value, value_len)
        != 0)
    {
        return NGX_IOTHUB_C2D_HEADERS_TOO_MANY;
    }

    return NGX_IOTHUB_C2D_HEADERS_OK;
}


ngx_iothub_c2d_headers_rc_e
ngx_iothub_c2d_headers_check(ngx_iothub_c2d_headers_t *h, size_t body_len)
{
    int64_t  t;

    h->ack = ngx_iothub_c2d_ack(h->ack_text, h->ack_len);
    if (h->ack == NULL) {
        return NGX_IOTHUB_C2D_HEADERS_BAD_ACK;
    }

    h->expiry = 0;

    if (h->expiry_len != 0) {
        if (ngx_iothub_http_date_parse(h->expiry_text, h->expiry_len, &t)
            != 0)
        {
            return NGX_IOTHUB_C2D_HEADERS_BAD_EXPIRY;
        }

        h->expiry = (uint64_t) t * 1000;
    }

    if (body_len > NGX_IOTHUB_C2D_HEADERS_BODY_MAX) {
        return NGX_IOTHUB_C2D_HEADERS_TOO_LARGE;
    }

    return NGX_IOTHUB_C2D_HEADERS_OK;
}


/* the feedback mode's constant name, or NULL when it is none of them */

static const char *
ngx_iothub_c2d_ack(const unsigned char *p, size_t len)
{
    const char *const  *ack;

    if (len == 0) {
        return ngx_iothub_c2d_acks[0];
    }

    for (ack = ngx_iothub_c2d_acks; *ack != NULL; ack++) {
        if (len == strlen(*ack) && memcmp(p, *ack, len) == 0) {
            return *ack;
        }
    }

    return NULL;
}


int
ngx_iothub_http_date_parse(const unsigned char *p, size_t len, int64_t *t)
{
    const char *const     *form;
    ngx_iothub_http_tm_t   tm;

    for (form = ngx_iothub_http_date_forms; *form != NULL; form++) {
        memset(&tm, 0, sizeof(ngx_iothub_http_tm_t));

        if (ngx_iothub_http_date_form(p, len, *form, &tm) != 0) {
            continue;
        }

        if (!ngx_iothub_http_date_valid(&tm)) {
            return -1;
        }

        *t = ngx_iothub_http_date_days(tm.year, tm.mon, tm.mday) * 86400
             + tm.hour * 3600 + tm.min * 60 + tm.sec;

        return 0;
    }

    return -1;
}


/* 0 when all of p reads as form, a "%" conversion per field */

static int
ngx_iothub_http_date_form(const unsigned char *p, size_t len,
    const char *form, ngx_iothub_http_tm_t *tm)
{
    size_t  n;

    for ( /* void */ ; *form != '\0'; form++) {

        if (*form == '%') {
            form++;

            n = ngx_iothub_http_date_field(p, len, *form, tm);
            if (n == 0) {
                return -1;
            }

        } else {
            if (len == 0 || *p != (unsigned char) *form) {
                return -1;
            }

            n = 1;
        }

        p += n;
        len -= n;
    }

    return (len == 0) ? 0 : -1;
}


/* the bytes one conversion read, or 0 */

static size_t
ngx_iothub_http_date_field(const unsigned char *p, size_t len, char conv,
    ngx_iothub_http_tm_t *tm)
{
    int     wday;
    size_t  n;

    switch (conv) {

    case 'a':
        return ngx_iothub_http_date_name(p, len, ngx_iothub_http_wkday, 7,
                                         &wday);

    case 'A':
        return ngx_iothub_http_date_name(p, len, ngx_iothub_http_weekday, 7,
                                         &wday);

    case 'b':
        n = ngx_iothub_http_date_name(p, len, ngx_iothub_http_month, 12,
                                      &tm->mon);
        tm->mon++;
        return n;

    case 'd':
        return ngx_iothub_http_date_digits(p, len, 2, &tm->mday);

    case 'e':
        /* asctime pads a one-digit day with a space */
        if (len != 0 && *p == ' ') {
            n = ngx_iothub_http_date_digits(p + 1, len - 1, 1, &tm->mday);
            return (n == 0) ? 0 : n + 1;
        }

        return ngx_iothub_http_date_digits(p, len, 2, &tm->mday);

    case 'Y':
        return ngx_iothub_http_date_digits(p, len, 4, &tm->year);

    case 'y':
        n = ngx_iothub_http_date_digits(p, len, 2, &tm->year);
        tm->year += (tm->year < 70) ? 2000 : 1900;
        return n;

    case 'H':
        return ngx_iothub_http_date_digits(p, len, 2, &tm->hour);

    case 'M':
        return ngx_iothub_http_date_digits(p, len, 2, &tm->min);

    default: /* 'S' */
        return ngx_iothub_http_date_digits(p, len, 2, &tm->sec);
    }
}


static size_t
ngx_iothub_http_date_digits(const unsigned char *p, size_t len, size_t n,
    int *v)
{
    size_t  i;

    if (len < n) {
        return 0;
    }

    *v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }

        *v = *v * 10 + (p[i] - '0');
    }

    return n;
}


/* a name of the list, its index in *v */

static size_t
ngx_iothub_http_date_name(const unsigned char *p, size_t len,
    const char *const *names, size_t n, int *v)
{
    size_t  i, l;

    for (i = 0; i < n; i++) {
        l = strlen(names[i]);

        if (len >= l && memcmp(p, names[i], l) == 0) {
            *v = (int) i;
            return l;
        }
    }

    return 0;
}


static int
ngx_iothub_http_date_valid(const ngx_iothub_http_tm_t *tm)
{
    int                leap;
    static const int   mdays[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    leap = (tm->year % 4 == 0 && tm->year % 100 != 0) || tm->year % 400 == 0;

    return tm->year >= 1970
           && tm->mday >= 1
           && tm->mday <= mdays[tm->mon - 1] + (tm->mon == 2 && leap)
           && tm->hour <= 23 && tm->min <= 59 && tm->sec <= 59;
}


/*
 * Days from 1970-01-01 to a date of the Gregorian calendar: years are
 * counted from March, so that a leap day ends its year, and 719468 is the
 * day number of 1970-01-01 counted so.
 */

static int64_t
ngx_iothub_http_date_days(int year, int mon, int mday)
{
    int64_t  y;

    y = (mon <= 2) ? year - 1 : year;
    mon = (mon <= 2) ? mon + 9 : mon - 3;

    return 365 * y + y / 4 - y / 100 + y / 400 + (153 * mon + 2) / 5
           + mday - 1 - 719468;
}


void
ngx_iothub_c2d_lock_write(unsigned char *buf, uint64_t random)
{
    static const char  hex[] = "0123456789abcdef";

    size_t  i;

    /* 14 random hex digits and the version and variant marks of a v4 GUID */

    for (i = 0; i < NGX_IOTHUB_C2D_LOCK_LEN; i++) {
        switch (i) {

        case 8:
        case 13:
        case 18:
            buf[i] = '-';
            break;

        case 14:
            buf[i] = '4';
            break;

        case 19:
            buf[i] = '8';
            break;

        default:
            buf[i] = hex[random & 0xf];
            random >>= 4;
        }
    }
}


int
ngx_iothub_c2d_token_write(unsigned char *buf, const unsigned char *lock,
    uint64_t n)
{
    static const char  hex[] = "0123456789abcdef";

    size_t  i;

    if (n > NGX_IOTHUB_C2D_TOKEN_MAX_N) {
        return -1;
    }

    memcpy(buf, lock, NGX_IOTHUB_C2D_LOCK_LEN);
    buf[NGX_IOTHUB_C2D_LOCK_LEN] = '-';

    for (i = NGX_IOTHUB_C2D_TOKEN_LEN; i > NGX_IOTHUB_C2D_LOCK_LEN + 1; i--) {
        buf[i - 1] = hex[n & 0xf];
        n >>= 4;
    }

    return 0;
}


int
ngx_iothub_c2d_token_parse(const unsigned char *p, size_t len, uint64_t *n)
{
    size_t    i;
    uint64_t  v;
    int       d;

    if (len != NGX_IOTHUB_C2D_TOKEN_LEN) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return -1;
            }

            continue;
        }

        if (p[i] >= '0' && p[i] <= '9') {
            d = p[i] - '0';

        } else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f') {
            d = (p[i] | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        if (i > NGX_IOTHUB_C2D_LOCK_LEN) {
            v = (v << 4) | (uint64_t) d;
        }
    }

    if (v == 0) {
        /* message numbers start at 1 */
        return -1;
    }

    *n = v;

    return 0;
}


int
ngx_iothub_c2d_query_reject(const unsigned char *args, size_t len)
{
    const unsigned char  *p, *last, *end, *eq;

    p = args;
    last = args + len;

    while (p < last) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        eq = memchr(p, '=', end - p);

        if (ngx_iothub_prop_name_is(p, (eq ? eq : end) - p, "reject")
            && (eq == NULL || eq + 1 == end
                || ngx_iothub_prop_name_is(eq + 1, end - eq - 1, "true")))
        {
            return 1;
        }

        p = end + 1;
    }

    return 0;
}


int
ngx_iothub_http_header_name_ok(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((p[i] >= '0' && p[i] <= '9') || ((p[i] | 0x20) >= 'a'
                                              && (p[i] | 0x20) <= 'z'))
        {
            continue;
        }

        if (p[i] == 0 || strchr("!#$%&'*+-.^_`|~", p[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}


int
ngx_iothub_http_header_value_ok(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}
