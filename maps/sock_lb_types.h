/* Map key and value types of the socket load balancer (bpf/sock_lb.bpf.c).
 * Plain C with explicit padding; layout is checked in maps/abi_check.cpp. */
#ifndef SLUICE_MAPS_SOCK_LB_TYPES_H
#define SLUICE_MAPS_SOCK_LB_TYPES_H

#include <linux/types.h>

#include "consts.h"

/* Load-balancing algorithm of a service (DestinationRule loadBalancer). */
enum sl_lb_algo {
	SL_LB_RANDOM = 0,
	SL_LB_ROUND_ROBIN = 1,
	SL_LB_LEAST_REQUEST = 2,   /* power of two choices over active connections */
	SL_LB_CONSISTENT_HASH = 3, /* Maglev over the client's network namespace */
	SL_LB__COUNT
};

/* sl_svc.flags */
#define SL_SVC_F_BANK1 0x01 /* slots of bank 1 are the live ones */
#define SL_SVC_F_L7 0x02    /* HTTP port: connects go to the node proxy while it is up */
#define SL_SVC_F_NO_REDIR 0x04 /* opted out of socket redirection (sock_redir) */
#define SL_SVC_F_FAIL_CLOSED 0x08 /* with L7: refused, not balanced at L4, while the proxy is away */

/* sl_backend.flags */
#define SL_BE_F_EJECTED 0x01 /* outlier detection: no new connections */

/* A service port: (VIP, port, L4 protocol). Also the key of every
 * per-service map, so no service id has to be allocated. */
struct sl_svc_key {
	__be32 vip;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

struct sl_svc {
	__u16 slot_count;   /* live slots in the active bank */
	__u8 algo;          /* enum sl_lb_algo */
	__u8 flags;         /* SL_SVC_F_* */
	__u32 max_conns;    /* connectionPool.tcp.maxConnections; SL_UNLIMITED */
	__u32 maglev_size;  /* entries of the service's Maglev table, 0 if none */
	__u32 revision;     /* bumped by userspace on every change, for dumps */
};

/* slot = bank * SL_MAX_SLOTS + index; the value is a backend index. */
struct sl_slot_key {
	struct sl_svc_key svc;
	__u32 slot;
};

/* A backend of one service. Backends are per service so that ejection and
 * connection counts are per cluster, as in Envoy. */
struct sl_backend_key {
	struct sl_svc_key svc;
	__u32 index;
};

struct sl_backend {
	__be32 addr;
	__be16 port;
	__u8 flags;  /* SL_BE_F_* */
	__u8 pad;
	__u32 weight;
};

/* Counters written by the kernel (atomics) and read by userspace. */
struct sl_svc_counters {
	__u64 active;   /* established, not yet closed */
	__u64 total;    /* ever established */
	__u64 refused;  /* refused by the circuit breaker */
	__u64 rr_next;  /* round-robin cursor */
};

struct sl_backend_counters {
	__u64 active;
	__u64 total;
};

/* sl_sock_state.flags */
#define SL_SOCK_F_COUNTED 0x01    /* counted by sockops, release on close */
#define SL_SOCK_F_REDIRECTED 0x02 /* sent to the node proxy; svc is the original destination */
#define SL_SOCK_F_NO_REDIR 0x04   /* its service opted out of socket redirection */

/* Per-socket state (BPF_MAP_TYPE_SK_STORAGE) of a balanced connected socket.
 * Freed with the socket, so it cannot leak. */
struct sl_sock_state {
	struct sl_svc_key svc; /* the VIP the caller asked for */
	__be32 be_addr;        /* the backend it was given */
	__be16 be_port;
	__u16 pad;
	__u32 be_index;
	__u32 flags;           /* SL_SOCK_F_* */
};

/* Unconnected UDP: dir 0 maps (socket, VIP) to the chosen backend, so a
 * socket's datagrams stick to one backend; dir 1 maps (socket, backend) back
 * to the VIP for recvmsg. */
#define SL_UDP_DIR_FWD 0
#define SL_UDP_DIR_REV 1
struct sl_udp_nat_key {
	__u64 cookie;
	__be32 addr;
	__be16 port;
	__u8 dir;
	__u8 pad;
};

struct sl_udp_nat {
	__be32 addr;
	__be16 port;
	__u16 pad;
	__u32 be_index;
	__u32 pad2;
};

/* Istio's TCP metrics (istio_tcp_*), counted by sockops for connections
 * the kernel balanced (those sent to the proxy have request metrics): per
 * client address, chosen backend and service. The map is a per-CPU LRU: no
 * atomics on the hot path, and an edge evicted under pressure starts again
 * from zero, which Prometheus reads as a counter reset. */
struct sl_edge_key {
	__be32 src_ip; /* the client's (pod's) address */
	__be32 dst_ip; /* the backend connect4 chose */
	struct sl_svc_key svc;
};

struct sl_edge_counters {
	__u64 opened;
	__u64 closed;
	__u64 bytes_to_backend;   /* the client socket's bytes_acked, at close */
	__u64 bytes_from_backend; /* its bytes_received, at close */
};

/* The kernel's view of a service's network, for sluice_tcp_rtt_* and
 * sluice_tcp_retransmits_total: sockops adds each balanced TCP connection
 * when it closes, by destination service (sl_svc_rtt, created on first
 * close), and each of the node proxy's upstream connections by endpoint. One sample per connection: its smoothed RTT (tcp_sock's srtt_us)
 * at close, in the buckets of bpf/include/tcp_rtt.h; and the segments it
 * retransmitted over its life. Atomic adds: one writer per close, not per
 * packet, so no per-CPU copies of a 20-counter value are worth their memory. */
/* sl_svc_rtt's key for a connection the node proxy made to a pod (its
 * upstream sockets carry no service state): the pod's address and port,
 * with this protocol value, which no service key has. sluiced attributes
 * it to the services that have that endpoint. */
#define SL_RTT_PROTO_ENDPOINT 0xfe

struct sl_svc_rtt {
	__u64 buckets[SL_RTT_BUCKETS]; /* closed connections per RTT bucket (not cumulative) */
	__u64 rtt_us_sum;               /* of the samples, for the histogram's _sum */
	__u64 retransmits;              /* segments (total_retrans) */
	__u64 retransmitting;           /* connections with at least one */
};

/* Egress control (Istio's outboundTrafficPolicy), a longest-prefix-match
 * table of destination ranges. Empty under ALLOW_ANY. Under REGISTRY_ONLY it
 * holds 0.0.0.0/0 with SL_EGRESS_DENY and every known range (the cluster's
 * pods and services, the node, ServiceEntry addresses and endpoints) with
 * SL_EGRESS_ALLOW, so one lookup answers: the longest match wins, and no
 * match (an empty table, e.g. before the first config) lets the connect pass. */
struct sl_egress_key {
	__u32 prefixlen; /* LPM trie keys start with the prefix length */
	__be32 addr;
};

#define SL_EGRESS_ALLOW 1
#define SL_EGRESS_DENY 2

/* L4 authorization: the AuthorizationPolicies whose rules need only L4
 * facts (source identity, namespace, address; destination port), compiled
 * by sluiced into three tables that connect4 reads (bpf/include/l4_policy.h
 * has the verdict logic; docs/security.md the semantics).
 *
 * sl_pol_src: the calling pod, by its network namespace cookie (a connecting
 * socket has no source address yet) -> its source id (1..). A namespace that
 * is not there is SL_POL_SRC_UNKNOWN: a source with no identity.
 * sl_pol_dst: a destination pod's address -> the id of its policy set (pods
 * that the same policies select share one). Absent: no L4 policy.
 * sl_pol_rule: (set, source, destination port) -> SL_POL_ALLOW or _DENY, for
 * every port the set's policies name, and for SL_POL_PORT_OTHER, which
 * answers for the ports they do not name. */
struct sl_pol_rule_key {
	__u32 set;
	__u32 src;
	__u16 port; /* host order; SL_POL_PORT_OTHER: any port not listed */
	__u16 pad;
};

/* The L4 connection-rate limit of a source (RateLimitPolicy
 * connectionBucket), by source id: Envoy's token bucket, kept by connect4
 * without a lock. sluiced writes the shape and a full bucket; the kernel
 * refills it once per fill interval (the first connect of a new interval
 * wins the compare-and-swap on epoch and adds tokens_per_fill for each
 * interval missed) and takes a token per TCP connect. bpf/include/conn_rate.h
 * has the arithmetic. */
struct sl_conn_bucket {
	__s64 tokens;      /* may dip below zero under a burst: refused connects */
	__u64 epoch;       /* CLOCK_MONOTONIC ns / interval_ns of the last fill */
	__u64 interval_ns;
	__u32 max_tokens;
	__u32 tokens_per_fill;
};

/* sl_pol_peer: on the destination's node, the source of an arriving
 * connection by its address -> source id, for the connections that passed
 * no sluice connect4 (from outside the cluster, a node without sluice, a
 * hostNetwork process). SL_POL_SRC_TRUSTED: a node's address, whose
 * connections sluice on that node already checked (its proxy dials from it). */
#define SL_POL_SRC_TRUSTED 0xffffffffu

#define SL_POL_SRC_UNKNOWN 0u
#define SL_POL_PORT_OTHER 0u
#define SL_POL_ALLOW 1u
#define SL_POL_DENY 2u

/* The original destination of a connection redirected to the node proxy,
 * keyed by the client's address as the proxy sees it (the peer of the
 * accepted socket) and the proxy port it reached: connect4 spreads
 * connections over several proxy ports, so one client port can be in use
 * toward two of them at once. Written by sockops when the connection is
 * established, removed when it closes. */
struct sl_orig_dst_key {
	__be32 client_ip;
	__be16 client_port;
	__be16 proxy_port;
};

struct sl_orig_dst {
	struct sl_svc_key svc; /* VIP, port, protocol the client asked for */
	__u64 cookie;          /* the client socket's cookie */
};

/* sl_proxy_lsn, a one-slot sockmap: the node proxy's listening socket while
 * the proxy takes new connections. connect4 redirects HTTP ports only while
 * the slot holds a listening socket. The kernel empties the slot itself when
 * that socket closes, so a proxy that exits or dies (kill -9, OOM) sends HTTP
 * ports back to L4 balancing at once, with no timer; a draining proxy empties
 * it first. The value is the socket's fd on update and its cookie
 * (SO_COOKIE) on lookup from userspace. */
#define SL_PROXY_LISTENER_KEY 0u
struct sl_proxy_listener {
	__u64 sock; /* fd on update, socket cookie on lookup */
};

#endif
