
/*
 * nginx-iothub: what a device session subscribed to, whatever its
 * protocol.  The bits are stored in the presence hash ("features") and
 * tested by the Lua scripts that notify sessions: keep the values in step
 * with shared/lua (c2d_send, c2d_settle: 1; twin_write: 4;
 * method_invoke: 8).  Pure header: no nginx types.
 */


#ifndef _NGX_IOTHUB_FEATURES_H_INCLUDED_
#define _NGX_IOTHUB_FEATURES_H_INCLUDED_


#define NGX_IOTHUB_FEATURE_C2D       0x01    /* cloud-to-device messages */
#define NGX_IOTHUB_FEATURE_TWIN_RES  0x02    /* twin responses */
#define NGX_IOTHUB_FEATURE_DESIRED   0x04    /* desired notifications */
#define NGX_IOTHUB_FEATURE_METHODS   0x08    /* direct method requests */
#define NGX_IOTHUB_FEATURE_INPUTS    0x10    /* module input messages */


#endif /* _NGX_IOTHUB_FEATURES_H_INCLUDED_ */
