/* Types of the socket redirection fast path (bpf/sock_redir.bpf.c): sockops
 * puts local TCP sockets in a SOCKHASH, and sk_msg moves the bytes a socket
 * sends straight into its local peer's receive queue. Plain C; layout is
 * checked in maps/abi_check.cpp. */
#ifndef SLUICE_MAPS_SOCK_REDIR_TYPES_H
#define SLUICE_MAPS_SOCK_REDIR_TYPES_H

#include <linux/types.h>

/* The per-node setting (rodata sl_redir_mode), as X(enumerator, printed
 * name); the values are the order, 0 to 3. SL_REDIR_PROXY redirects only the
 * bytes that the node proxy receives: a pod's request to it, a local
 * backend's reply to it. */
#define SL_REDIR_MODE_LIST(X) \
	X(SL_REDIR_OFF, "off")     /* nothing is inserted: every byte takes the stack */ \
	X(SL_REDIR_ON, "on")       /* every local connection is redirected */ \
	X(SL_REDIR_AUTO, "auto")   /* redirected unless it sends a bulk-sized message */ \
	X(SL_REDIR_PROXY, "proxy") /* only bytes that the node proxy receives */

enum sl_redir_mode {
#define SL_ENUM_ENTRY(id, name) id,
	SL_REDIR_MODE_LIST(SL_ENUM_ENTRY)
#undef SL_ENUM_ENTRY
};

/* sl_redir_pend values: which sockhash the passive side goes into. */
#define SL_REDIR_PEND_SENDER 1u /* sl_sockhash: its sends run sk_msg */
#define SL_REDIR_PEND_PROXY 2u  /* sl_proxyhash: the proxy's side, a receiver only */

/* A socket as it sees itself. The peer of (l, r) is the socket keyed (r, l). */
struct sl_redir_key {
	__be32 local_ip;
	__be32 remote_ip;
	__u32 local_port;  /* host order */
	__u32 remote_port; /* host order */
};

/* sl_redir_sk.flags: per-socket state, freed with the socket. */
#define SL_REDIR_SK_F_INSERTED 0x01 /* in the sockhash (counted out at close) */
#define SL_REDIR_SK_F_BULK 0x02     /* auto: moved to the stack for good */

struct sl_redir_sk {
	__u32 flags;
	__u32 pad;
};

/* sl_redir_stats: per-CPU counters, indexed by these; each entry of
 * SL_REDIR_STAT_LIST is the enumerator and its printed name. */
#define SL_REDIR_STAT_LIST(X) \
	X(SL_RS_INSERTED, "inserted")                     /* socket put in the sockhash */ \
	X(SL_RS_REMOVED, "removed")                       /* an inserted socket closed (the kernel unhashes it) */ \
	X(SL_RS_FULL, "full")                             /* sockhash full: the connection stays on the stack */ \
	X(SL_RS_INSERT_ERROR, "insert_error")             /* any other insert failure: stays on the stack */ \
	X(SL_RS_NOT_LOCAL, "not_local")                   /* an end is not on this node: not inserted */ \
	X(SL_RS_OPTED_OUT, "opted_out")                   /* its service opted out: not inserted */ \
	X(SL_RS_NOT_SERVICE, "not_service")               /* not a connection to a service or from the proxy */ \
	X(SL_RS_MSG_REDIRECTED, "msg_redirected")         /* sendmsg delivered to the peer socket directly */ \
	X(SL_RS_BYTES_REDIRECTED, "bytes_redirected") \
	X(SL_RS_MSG_MISS, "msg_miss")                     /* no local peer in the sockhash: sent by the stack */ \
	X(SL_RS_BYTES_MISS, "bytes_miss") \
	X(SL_RS_MSG_BULK, "msg_bulk")                     /* auto: sent by the stack because the socket moves bulk */ \
	X(SL_RS_BYTES_BULK, "bytes_bulk") \
	X(SL_RS_NOT_PROXY, "not_proxy")                   /* proxy mode: neither end is the node proxy */

enum sl_redir_stat {
#define SL_ENUM_ENTRY(id, name) id,
	SL_REDIR_STAT_LIST(SL_ENUM_ENTRY)
#undef SL_ENUM_ENTRY
	SL_RS__COUNT
};

/* auto: a socket that sends a message of at least sl_bulk_bytes is moving
 * bulk data and goes back to the stack; 0 (the default) never does, because
 * bulk transfers ran faster redirected on the nodes measured so far
 * (docs/sockmap.md, bench/sockmap.sh). */
#define SL_REDIR_DEFAULT_BULK_BYTES 0u
#define SL_REDIR_DEFAULT_SOCKHASH_ENTRIES 65536u

#endif
