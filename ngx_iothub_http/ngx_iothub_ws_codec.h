
/*
 * nginx-iothub: the WebSocket protocol (RFC 6455) as a server speaks it,
 * pure (no nginx headers) so that unit tests and fuzzers link it alone:
 * the opening handshake's accept key and subprotocol list, a streaming
 * frame decoder that unmasks data in place, and the frames a server sends
 * (unmasked).
 */


#ifndef _NGX_IOTHUB_WS_CODEC_H_INCLUDED_
#define _NGX_IOTHUB_WS_CODEC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_IOTHUB_WS_OP_CONT          0x0
#define NGX_IOTHUB_WS_OP_TEXT          0x1
#define NGX_IOTHUB_WS_OP_BINARY        0x2
#define NGX_IOTHUB_WS_OP_CLOSE         0x8
#define NGX_IOTHUB_WS_OP_PING          0x9
#define NGX_IOTHUB_WS_OP_PONG          0xa

/* status codes of close frames (RFC 6455 7.4.1) */
#define NGX_IOTHUB_WS_NORMAL           1000
#define NGX_IOTHUB_WS_GOING_AWAY       1001
#define NGX_IOTHUB_WS_PROTOCOL_ERROR   1002
#define NGX_IOTHUB_WS_UNSUPPORTED      1003
#define NGX_IOTHUB_WS_NO_STATUS        1005    /* never sent */
#define NGX_IOTHUB_WS_BAD_DATA         1007
#define NGX_IOTHUB_WS_TOO_BIG          1009
#define NGX_IOTHUB_WS_INTERNAL_ERROR   1011

#define NGX_IOTHUB_WS_KEY_LEN          24      /* base64 of 16 bytes */
#define NGX_IOTHUB_WS_ACCEPT_LEN       28      /* base64 of a SHA-1 */
#define NGX_IOTHUB_WS_CONTROL_MAX      125
#define NGX_IOTHUB_WS_HEADER_MAX       14      /* a client's, with mask */
#define NGX_IOTHUB_WS_SERVER_HEADER_MAX 10     /* ours, unmasked */
/* a close frame: header, code and a reason of at most 123 bytes */
#define NGX_IOTHUB_WS_CLOSE_FRAME_MAX  (2 + NGX_IOTHUB_WS_CONTROL_MAX)


typedef enum {
    NGX_IOTHUB_WS_AGAIN = 0,      /* input used up; data so far produced */
    NGX_IOTHUB_WS_PING,           /* a ping ended: d->control holds it */
    NGX_IOTHUB_WS_PONG,           /* a pong ended */
    NGX_IOTHUB_WS_CLOSE,          /* a close ended: d->code, d->reason */
    NGX_IOTHUB_WS_ERROR           /* d->code to close with, d->error */
} ngx_iothub_ws_rc_e;


typedef struct {
    /* set by the caller: the largest data frame accepted (0: any) */
    uint64_t               max_frame;

    /* the frame being read */
    unsigned char          header[NGX_IOTHUB_WS_HEADER_MAX];
    size_t                 header_len;
    unsigned               in_payload:1;
    unsigned               fin:1;
    unsigned               in_message:1;   /* continuations expected */
    unsigned               closed:1;       /* a close frame or error seen */
    unsigned               opcode:4;
    unsigned               mask_pos:2;
    unsigned char          mask[4];
    uint64_t               left;           /* payload bytes still to come */

    /* a control frame's payload, unmasked */
    unsigned char          control[NGX_IOTHUB_WS_CONTROL_MAX];
    size_t                 control_len;

    /* CLOSE: the peer's code (1005 when it sent none) and reason */
    unsigned               code;
    const unsigned char   *reason;         /* into control */
    size_t                 reason_len;

    /* ERROR: what the peer did wrong, for the log */
    const char            *error;
} ngx_iothub_ws_decoder_t;


/*
 * Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2): key must
 * be the base64 of 16 bytes (surrounding blanks are the caller's to strip).
 * Writes NGX_IOTHUB_WS_ACCEPT_LEN bytes; returns 0, or -1 for a bad key.
 */
int ngx_iothub_ws_accept(const unsigned char *key, size_t len,
    unsigned char *accept);

/*
 * The next token of a comma-separated header value such as
 * Sec-WebSocket-Protocol or Connection, from *pos up to last: returns 1
 * and the token (blanks stripped), 0 when none is left, -1 when the list
 * holds something that is not a token (RFC 7230 3.2.6).  Empty elements
 * are skipped.
 */
int ngx_iothub_ws_next_token(const unsigned char **pos,
    const unsigned char *last, const unsigned char **token, size_t *len);

/* 1 when the list holds name (compared case-insensitively), else 0 */
int ngx_iothub_ws_list_has(const unsigned char *value, size_t len,
    const char *name);

/* Zeroes a decoder; max_frame limits data frames (0: no limit). */
void ngx_iothub_ws_decoder_init(ngx_iothub_ws_decoder_t *d,
    uint64_t max_frame);

/*
 * Decodes client frames from in (len bytes): the unmasked payload of
 * binary frames (and their continuations) goes to out, which may be in
 * itself (decoding never writes past what it has read).  Stops at the end
 * of the input (AGAIN), after a control frame (PING, PONG, CLOSE), or at
 * a protocol error (ERROR, with the close code).  *used is the input
 * consumed, *produced the data written.  After CLOSE or ERROR the decoder
 * takes nothing more (AGAIN, nothing used).
 */
ngx_iothub_ws_rc_e ngx_iothub_ws_decode(ngx_iothub_ws_decoder_t *d,
    const unsigned char *in, size_t len, unsigned char *out, size_t *used,
    size_t *produced);

/*
 * A server frame's header (FIN set, no mask) for a payload of len bytes:
 * writes 2, 4 or 10 bytes into buf (NGX_IOTHUB_WS_SERVER_HEADER_MAX) and
 * returns how many.
 */
size_t ngx_iothub_ws_frame_header(unsigned char *buf, unsigned opcode,
    uint64_t len);

/*
 * A whole close frame with code and reason (cut to 123 bytes) into buf
 * (NGX_IOTHUB_WS_CLOSE_FRAME_MAX); returns its length.  Code 1005 (none)
 * sends an empty close frame.
 */
size_t ngx_iothub_ws_close_frame(unsigned char *buf, unsigned code,
    const char *reason);

/* A whole pong frame echoing a ping's payload; returns its length. */
size_t ngx_iothub_ws_pong_frame(unsigned char *buf, const unsigned char *data,
    size_t len);

/* The text of a close code, for logs. */
const char *ngx_iothub_ws_code_text(unsigned code);


#endif /* _NGX_IOTHUB_WS_CODEC_H_INCLUDED_ */
