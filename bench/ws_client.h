/*
 * The client side of RFC 6455 for the load generators: the upgrade
 * request, masked frames out, unmasked frames in. Pure C, no I/O.
 */

#ifndef WS_CLIENT_H
#define WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONTINUATION  0x0
#define WS_OP_TEXT          0x1
#define WS_OP_BINARY        0x2
#define WS_OP_CLOSE         0x8
#define WS_OP_PING          0x9
#define WS_OP_PONG          0xa

#define WS_HEADER_MAX       14      /* 2 + 8 (length) + 4 (mask) */

typedef struct {
    int             fin;
    int             opcode;
    size_t          header_len;
    uint64_t        payload_len;
} ws_frame_t;

/* the GET request; returns its length, 0 if it does not fit */
size_t ws_upgrade_request(char *out, size_t size, const char *host,
    const char *path, const char *protocol);

/* 1: a "101" whose headers end within in[0..len), *hlen set; 0: more
 * bytes needed; -1: any other answer */
int ws_upgrade_response(const unsigned char *in, size_t len, size_t *hlen);

/* writes the header of a masked frame of len bytes, returns its length */
size_t ws_frame_header(unsigned char *out, int opcode, uint64_t len,
    const unsigned char mask[4]);

void ws_mask(unsigned char *p, size_t len, const unsigned char mask[4]);

/* a server frame at in[0..len): 1 header read (payload may still be
 * incomplete), 0 more bytes needed, -1 not a valid server frame */
int ws_frame_parse(const unsigned char *in, size_t len, ws_frame_t *f);

#endif /* WS_CLIENT_H */
