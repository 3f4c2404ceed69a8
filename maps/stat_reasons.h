/* Every verdict of the kernel programs is counted under one of these reasons
 * in the per-CPU array sl_stats. Userspace prints them by name, so keep
 * sl_reason_name() in loader/stat_names.cpp in step with this enum. */
#ifndef SLUICE_MAPS_STAT_REASONS_H
#define SLUICE_MAPS_STAT_REASONS_H

enum sl_reason {
	SL_R_CONNECT_PASS_UNKNOWN = 0, /* destination is not a service: untouched */
	SL_R_CONNECT_BALANCED,         /* connect rewritten to a backend */
	SL_R_CONNECT_CB_REFUSED,       /* service at maxConnections: connect refused */
	SL_R_CONNECT_NO_BACKEND,       /* service has no backends: connect refused */
	SL_R_CONNECT_PANIC,            /* every backend ejected: used them all anyway */
	SL_R_CONNECT_MAP_ERROR,        /* a slot or backend entry was missing */
	SL_R_SENDMSG_PASS_UNKNOWN,
	SL_R_SENDMSG_BALANCED,
	SL_R_SENDMSG_STICKY,           /* UDP datagram reused the socket's earlier backend */
	SL_R_SENDMSG_NO_BACKEND,
	SL_R_RECVMSG_REVERSED,         /* UDP reply source rewritten to the VIP */
	SL_R_RECVMSG_PASS,
	SL_R_GETPEER_REVERSED,         /* getpeername shows the VIP */
	SL_R_GETPEER_PASS,
	SL_R_SOCKOPS_COUNTED,          /* established connection counted */
	SL_R_SOCKOPS_RELEASED,         /* closed connection released its counts */
	SL_R_SOCKOPS_FLOOR,            /* a release found a counter already at zero */
	SL_R_SOCK_STORAGE_FULL,        /* socket state could not be stored */
	SL_R_CONNECT_REDIRECTED,       /* HTTP port: sent to the node proxy */
	SL_R_CONNECT_PROXY_DOWN,       /* HTTP port, proxy heartbeat stale: balanced at L4 */
	SL_R_CONNECT_BYPASS,           /* the proxy's own socket: not redirected */
	SL_R_ORIG_DST_RECORDED,        /* sockops stored a redirected connection's destination */
	SL_R__COUNT
};

#endif
