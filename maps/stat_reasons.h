/* Every verdict of the kernel programs is counted under one of these reasons
 * in the per-CPU array sl_stats. Each entry of SL_REASON_LIST is the
 * enumerator and the name userspace prints for it (maps/reason_names.h), so
 * the two cannot drift. Add new reasons at the end: the order is the index. */
#ifndef SLUICE_MAPS_STAT_REASONS_H
#define SLUICE_MAPS_STAT_REASONS_H

#define SL_REASON_LIST(X) \
	X(SL_R_CONNECT_PASS_UNKNOWN, "connect_pass_unknown")     /* destination is not a service: untouched */ \
	X(SL_R_CONNECT_BALANCED, "connect_balanced")             /* connect rewritten to a backend */ \
	X(SL_R_CONNECT_CB_REFUSED, "connect_cb_refused")         /* service at maxConnections: connect refused */ \
	X(SL_R_CONNECT_NO_BACKEND, "connect_no_backend")         /* service has no backends: connect refused */ \
	X(SL_R_CONNECT_PANIC, "connect_panic")                   /* every backend ejected: used them all anyway */ \
	X(SL_R_CONNECT_MAP_ERROR, "connect_map_error")           /* a slot or backend entry was missing */ \
	X(SL_R_SENDMSG_PASS_UNKNOWN, "sendmsg_pass_unknown") \
	X(SL_R_SENDMSG_BALANCED, "sendmsg_balanced") \
	X(SL_R_SENDMSG_STICKY, "sendmsg_sticky")                 /* UDP datagram reused the socket's earlier backend */ \
	X(SL_R_SENDMSG_NO_BACKEND, "sendmsg_no_backend") \
	X(SL_R_RECVMSG_REVERSED, "recvmsg_reversed")             /* UDP reply source rewritten to the VIP */ \
	X(SL_R_RECVMSG_PASS, "recvmsg_pass") \
	X(SL_R_GETPEER_REVERSED, "getpeer_reversed")             /* getpeername shows the VIP */ \
	X(SL_R_GETPEER_PASS, "getpeer_pass") \
	X(SL_R_SOCKOPS_COUNTED, "sockops_counted")               /* established connection counted */ \
	X(SL_R_SOCKOPS_RELEASED, "sockops_released")             /* closed connection released its counts */ \
	X(SL_R_SOCKOPS_FLOOR, "sockops_floor")                   /* a release found a counter already at zero */ \
	X(SL_R_SOCK_STORAGE_FULL, "sock_storage_full")           /* socket state could not be stored */ \
	X(SL_R_CONNECT_REDIRECTED, "connect_redirected")         /* HTTP port: sent to the node proxy */ \
	X(SL_R_CONNECT_PROXY_DOWN, "connect_proxy_down")         /* HTTP port, no proxy listener in sl_proxy_lsn: balanced at L4 */ \
	X(SL_R_CONNECT_BYPASS, "connect_bypass")                 /* the proxy's own socket: not redirected */ \
	X(SL_R_ORIG_DST_RECORDED, "orig_dst_recorded")           /* sockops stored a redirected connection's destination */ \
	X(SL_R_SPREAD_ASSIGNED, "spread_assigned")               /* a connection to a spread proxy port went to the proxy's listener */ \
	X(SL_R_SPREAD_NO_PROXY, "spread_no_proxy")               /* a spread proxy port was dialled with no listener in sl_proxy_lsn */ \
	X(SL_R_SPREAD_ASSIGN_FAILED, "spread_assign_failed")     /* the kernel refused the proxy's listener for a spread port */ \
	X(SL_R_CONNECT_FAIL_CLOSED, "connect_fail_closed")       /* HTTP port guarded by policies, no proxy: connect refused */ \
	X(SL_R_CONNECT_EGRESS_BLOCKED, "connect_egress_blocked") /* REGISTRY_ONLY: destination in no known range: connect refused */ \
	X(SL_R_CONNECT_POLICY_DENIED, "connect_policy_denied")   /* an L4 AuthorizationPolicy refused the connect */ \
	X(SL_R_CONNECT_RATE_LIMITED, "connect_rate_limited")     /* the source's connection bucket was empty: connect refused */ \
	X(SL_R_INGRESS_POLICY_DENIED, "ingress_policy_denied")   /* destination side: a SYN the destination's L4 policies refuse, dropped */

enum sl_reason {
#define SL_ENUM_ENTRY(id, name) id,
	SL_REASON_LIST(SL_ENUM_ENTRY)
#undef SL_ENUM_ENTRY
	SL_R__COUNT
};

#endif
