
/*
 * nginx-iothub: which transfers are the C SDK's batches (amqp.md 5).
 * Proton 0.37 reads a transfer's message-format and drops it, so the
 * engine follows the frames itself (ngx_iothub_amqp_scan(), pure) on the
 * plain bytes it hands Proton: each client sender's attach gives its
 * (channel, handle) and name, each transfer of message-format 0x80013700
 * its (channel, handle) and delivery-tag.  A link's name and a delivery's
 * tag are what Proton shows of both, so the telemetry code asks here
 * whether a delivery it reads is a batch.  Nothing is allocated until a
 * client attaches a sender; the bookkeeping of batches only once one
 * came.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iothub_amqp.h"


#define NGX_IOTHUB_AMQP_SENDERS_MAX  1024   /* links a client sends on */
#define NGX_IOTHUB_AMQP_BATCHES_MAX  256    /* batches not yet read */


struct ngx_iothub_amqp_sender_s {
    uint64_t                        name_hash;
    uint32_t                        handle;
    uint16_t                        channel;
};


struct ngx_iothub_amqp_batch_tag_s {
    uint64_t                        name_hash;
    size_t                          tag_len;
    u_char                          tag[NGX_IOTHUB_AMQP_TAG_MAX];
};


static void ngx_iothub_amqp_frame(void *data, ngx_iothub_amqp_frame_t *f);
static void ngx_iothub_amqp_sender_attached(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_frame_t *f);
static void ngx_iothub_amqp_batch_seen(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_frame_t *f);
static void *ngx_iothub_amqp_grow(ngx_iothub_amqp_ctx_t *ctx, void *a,
    ngx_uint_t *nalloc, size_t size, ngx_uint_t max);


/* n bytes the engine hands Proton */

void
ngx_iothub_amqp_formats_scan(ngx_iothub_amqp_ctx_t *ctx, u_char *p, size_t n)
{
    ngx_iothub_amqp_scan(&ctx->scan, p, n, ngx_iothub_amqp_frame, ctx);
}


/* 1 when d is a transfer of a batch (its record goes), else 0 */

ngx_uint_t
ngx_iothub_amqp_formats_batch(ngx_iothub_amqp_ctx_t *ctx, pn_link_t *link,
    pn_delivery_t *d)
{
    uint64_t                      hash;
    ngx_uint_t                    i;
    const char                   *name;
    pn_delivery_tag_t             tag;
    ngx_iothub_amqp_batch_tag_t  *b;

    if (ctx->nbatches == 0) {
        return 0;
    }

    name = pn_link_name(link);
    hash = ngx_iothub_amqp_name_hash((u_char *) name, ngx_strlen(name));
    tag = pn_delivery_tag(d);

    for (i = 0; i < ctx->nbatches; i++) {
        b = &ctx->batches[i];

        if (b->name_hash == hash && b->tag_len == tag.size
            && ngx_memcmp(b->tag, tag.start, tag.size) == 0)
        {
            *b = ctx->batches[--ctx->nbatches];
            return 1;
        }
    }

    return 0;
}


void
ngx_iothub_amqp_formats_free(ngx_iothub_amqp_ctx_t *ctx)
{
    if (ctx->senders) {
        ngx_free(ctx->senders);
        ctx->senders = NULL;
    }

    if (ctx->batches) {
        ngx_free(ctx->batches);
        ctx->batches = NULL;
    }

    ctx->nsenders = 0;
    ctx->nbatches = 0;
}


static void
ngx_iothub_amqp_frame(void *data, ngx_iothub_amqp_frame_t *f)
{
    ngx_iothub_amqp_ctx_t *ctx = data;

    if (f->kind == NGX_IOTHUB_AMQP_FRAME_ATTACH) {
        if (!f->receiver) {
            ngx_iothub_amqp_sender_attached(ctx, f);
        }

        return;
    }

    if (f->has_format && f->format == NGX_IOTHUB_AMQP_BATCH_FORMAT
        && f->tag_len)
    {
        ngx_iothub_amqp_batch_seen(ctx, f);
    }
}


static void
ngx_iothub_amqp_sender_attached(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_frame_t *f)
{
    ngx_uint_t                 i;
    ngx_iothub_amqp_sender_t  *s;

    /*
     * a link attached (again) under this name: batches left of an earlier
     * one (a transfer that came while it closed) must not match the new
     * link's tags, which start over
     */

    for (i = 0; i < ctx->nbatches; /* void */) {
        if (ctx->batches[i].name_hash == f->name_hash) {
            ctx->batches[i] = ctx->batches[--ctx->nbatches];
            continue;
        }

        i++;
    }

    /* a handle used again (after a detach) names another link */

    for (i = 0; i < ctx->nsenders; i++) {
        s = &ctx->senders[i];

        if (s->channel == f->channel && s->handle == f->handle) {
            s->name_hash = f->name_hash;
            return;
        }
    }

    if (ctx->nsenders == ctx->senders_alloc) {
        s = ngx_iothub_amqp_grow(ctx, ctx->senders, &ctx->senders_alloc,
                                 sizeof(ngx_iothub_amqp_sender_t),
                                 NGX_IOTHUB_AMQP_SENDERS_MAX);
        if (s == NULL) {
            return;
        }

        ctx->senders = s;
    }

    s = &ctx->senders[ctx->nsenders++];

    s->name_hash = f->name_hash;
    s->handle = f->handle;
    s->channel = f->channel;
}


static void
ngx_iothub_amqp_batch_seen(ngx_iothub_amqp_ctx_t *ctx,
    ngx_iothub_amqp_frame_t *f)
{
    ngx_uint_t                    i;
    ngx_iothub_amqp_sender_t     *s;
    ngx_iothub_amqp_batch_tag_t  *b;

    for (i = 0; i < ctx->nsenders; i++) {
        s = &ctx->senders[i];

        if (s->channel == f->channel && s->handle == f->handle) {
            break;
        }
    }

    if (i == ctx->nsenders) {
        return;
    }

    /* the later frames of a transfer may repeat its tag and format */

    for (i = 0; i < ctx->nbatches; i++) {
        b = &ctx->batches[i];

        if (b->name_hash == s->name_hash && b->tag_len == f->tag_len
            && ngx_memcmp(b->tag, f->tag, f->tag_len) == 0)
        {
            return;
        }
    }

    if (ctx->nbatches == ctx->batches_alloc) {
        b = ngx_iothub_amqp_grow(ctx, ctx->batches, &ctx->batches_alloc,
                                 sizeof(ngx_iothub_amqp_batch_tag_t),
                                 NGX_IOTHUB_AMQP_BATCHES_MAX);
        if (b == NULL) {
            ngx_log_error(NGX_LOG_INFO, ctx->connection->log, 0,
                          "iothub amqp: too many batches not yet read, "
                          "one is read as a single message");
            return;
        }

        ctx->batches = b;
    }

    b = &ctx->batches[ctx->nbatches++];

    b->name_hash = s->name_hash;
    b->tag_len = f->tag_len;
    ngx_memcpy(b->tag, f->tag, f->tag_len);
}


/* an array twice as large (at first 4), up to max elements; NULL: no */

static void *
ngx_iothub_amqp_grow(ngx_iothub_amqp_ctx_t *ctx, void *a, ngx_uint_t *nalloc,
    size_t size, ngx_uint_t max)
{
    void        *p;
    ngx_uint_t   n;

    n = *nalloc ? *nalloc * 2 : 4;

    if (n > max) {
        return NULL;
    }

    p = ngx_alloc(n * size, ctx->connection->log);
    if (p == NULL) {
        return NULL;
    }

    if (a) {
        ngx_memcpy(p, a, *nalloc * size);
        ngx_free(a);
    }

    *nalloc = n;

    return p;
}
