
/*
 * nginx-iothub: gives a worker's free heap pages back to the system
 * (the memory_trim directive).
 *
 * A TLS handshake allocates more than its connection keeps afterwards;
 * what it frees lies between the allocations of idle connections, stays
 * resident, and malloc never returns it: only the top of the heap shrinks
 * by itself.  After connections came or went, a timer calls glibc's
 * malloc_trim(0), which returns every whole free page of the heap
 * (docs/performance.md, "Idle density").
 *
 * "Came or went" is read from two counters at each tick: the worker's free
 * connections, and the connections nginx accepted (all workers; nginx
 * counts them when built with the stub status module, as Debian's is).
 * The free count alone misses churn that ends where it began: a tick
 * between two rounds of devices that each connected and left sees the
 * count of the tick before, while the rounds left their handshakes' heap
 * behind.  A connection closed since the last tick was either open then
 * (the free count moved, unless another one opened: then one was
 * accepted) or opened after it (one was accepted).
 *
 * Each tick first drops the identity cache's expired entries: those of
 * devices that connected once and left lie all over the heap, a page held
 * by each, and nothing else would free them while no device looks them up
 * (ngx_iothub_idcache_expire).  A tick that dropped some trims too.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iothub.h"
#include "ngx_iothub_idcache.h"

#if (NGX_LINUX && defined(__GLIBC__))
#include <malloc.h>
#define NGX_IOTHUB_HAVE_MALLOC_TRIM  1
#endif


#if (NGX_IOTHUB_HAVE_MALLOC_TRIM)

static void ngx_iothub_memtrim_handler(ngx_event_t *ev);
static size_t ngx_iothub_memtrim_rss(void);


typedef struct {
    ngx_event_t  event;
    ngx_msec_t   interval;
    ngx_uint_t   free_n;       /* free connections at the last tick */
    ngx_uint_t   accepted;     /* connections accepted by then */
} ngx_iothub_memtrim_t;


static ngx_uint_t ngx_iothub_memtrim_churned(ngx_iothub_memtrim_t *mt);
static ngx_uint_t ngx_iothub_memtrim_accepted(void);


static ngx_iothub_memtrim_t  *ngx_iothub_memtrim;

#endif


/* in a worker: every interval, trim if the connections changed */

void
ngx_iothub_memtrim_start(ngx_msec_t interval, ngx_log_t *log)
{
#if (NGX_IOTHUB_HAVE_MALLOC_TRIM)

    ngx_iothub_memtrim_t  *mt;

    if (interval == 0) {
        return;
    }

    mt = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_iothub_memtrim_t));
    if (mt == NULL) {
        return;
    }

    mt->interval = interval;
    (void) ngx_iothub_memtrim_churned(mt);

    mt->event.handler = ngx_iothub_memtrim_handler;
    mt->event.data = mt;
    mt->event.log = log;
    mt->event.cancelable = 1;

    ngx_add_timer(&mt->event, interval);

    ngx_iothub_memtrim = mt;

#endif
}


void
ngx_iothub_memtrim_stop(void)
{
#if (NGX_IOTHUB_HAVE_MALLOC_TRIM)

    if (ngx_iothub_memtrim && ngx_iothub_memtrim->event.timer_set) {
        ngx_del_timer(&ngx_iothub_memtrim->event);
    }

    ngx_iothub_memtrim = NULL;

#endif
}


#if (NGX_IOTHUB_HAVE_MALLOC_TRIM)

static void
ngx_iothub_memtrim_handler(ngx_event_t *ev)
{
    ngx_iothub_memtrim_t *mt = ev->data;

    size_t      before;
    ngx_uint_t  expired;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    expired = ngx_iothub_idcache_expire();

    if (ngx_iothub_memtrim_churned(mt) || expired) {
        before = ngx_iothub_memtrim_rss();

        (void) malloc_trim(0);

        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "iothub: heap trimmed, resident %uzK, was %uzK, "
                      "%ui expired identities dropped",
                      ngx_iothub_memtrim_rss(), before, expired);
    }

    ngx_add_timer(ev, mt->interval);
}


/* whether connections came or went since the last call; notes the counts */

static ngx_uint_t
ngx_iothub_memtrim_churned(ngx_iothub_memtrim_t *mt)
{
    ngx_uint_t  free_n, accepted, churned;

    free_n = ngx_cycle->free_connection_n;
    accepted = ngx_iothub_memtrim_accepted();

    churned = (free_n != mt->free_n || accepted != mt->accepted);

    mt->free_n = free_n;
    mt->accepted = accepted;

    return churned;
}


/* connections accepted by every worker so far, 0 if nginx does not count */

static ngx_uint_t
ngx_iothub_memtrim_accepted(void)
{
#if (NGX_STAT_STUB)
    return (ngx_uint_t) *ngx_stat_accepted;
#else
    return 0;
#endif
}


/* the worker's resident set in KB, 0 if unknown */

static size_t
ngx_iothub_memtrim_rss(void)
{
    int        fd;
    u_char    *p, *last;
    ssize_t    n;
    size_t     pages;
    u_char     buf[128];

    fd = open("/proc/self/statm", O_RDONLY);
    if (fd == -1) {
        return 0;
    }

    n = read(fd, buf, sizeof(buf) - 1);
    (void) close(fd);

    if (n <= 0) {
        return 0;
    }

    /* "size resident shared ...": the second field, in pages */

    last = buf + n;
    p = ngx_strlchr(buf, last, ' ');
    if (p == NULL) {
        return 0;
    }

    pages = 0;

    for (p++; p < last && *p >= '0' && *p <= '9'; p++) {
        pages = pages * 10 + (*p - '0');
    }

    return pages * (ngx_pagesize / 1024);
}

#endif
