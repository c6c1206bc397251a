
/*
 * nginx-iothub: the words of inbox messages (pure C, no nginx headers).
 * A message is "<type> <payload>"; the payloads of device sessions start
 * with the session number:
 *   kick <session> replaced|removed
 *   desired <session> <version> <patch>
 *   c2d <session>
 *   method <session> <rid> <name> <payload>  (ngx_iothub_method.h)
 *   eh-stolen <claim> <epoch>  (an Event Hubs receiver's claim on a
 *       partition went to a receiver of that epoch, ngx_iothub_eventhub.h)
 */


#ifndef _NGX_IOTHUB_INBOX_CODEC_H_INCLUDED_
#define _NGX_IOTHUB_INBOX_CODEC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_IOTHUB_INBOX_PREFIX  "iothub:inbox:"


typedef struct {
    const unsigned char            *data;
    size_t                          len;
} ngx_iothub_inbox_str_t;


typedef struct {
    uint64_t                        session;
    uint64_t                        version;     /* desired; eh-stolen:
                                                    the epoch */
    unsigned                        removed:1;   /* kick */
    ngx_iothub_inbox_str_t          rest;        /* desired: the patch */
} ngx_iothub_inbox_msg_t;


/*
 * Splits p into the word before the first space and the rest after it
 * (empty without a space).
 */
void ngx_iothub_inbox_split(const unsigned char *p, size_t len,
    ngx_iothub_inbox_str_t *word, ngx_iothub_inbox_str_t *rest);

/* A decimal number of 1 to 19 digits; 0 on success, -1 if it is not. */
int ngx_iothub_inbox_number(ngx_iothub_inbox_str_t *s, uint64_t *n);

/* The payloads of kick, desired and c2d; 0 on success, -1 malformed. */
int ngx_iothub_inbox_parse_kick(const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m);
int ngx_iothub_inbox_parse_desired(const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m);
int ngx_iothub_inbox_parse_c2d(const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m);

/* eh-stolen: the claim number in session, the epoch in version */
int ngx_iothub_inbox_parse_eh_stolen(const unsigned char *p, size_t len,
    ngx_iothub_inbox_msg_t *m);


#endif /* _NGX_IOTHUB_INBOX_CODEC_H_INCLUDED_ */
