/* Constants shared by the BPF programs and userspace. Plain C. */
#ifndef SLUICE_MAPS_CONSTS_H
#define SLUICE_MAPS_CONSTS_H

/* Backend slots per service and per bank. A service's slot array is
 * double-banked: userspace writes the inactive bank, then flips the service
 * entry, so a connect never sees a half-written backend set. */
#define SL_MAX_SLOTS 1024u
#define SL_SLOT_BANKS 2u

/* Default map capacities; the loader may resize them before load. */
#define SL_DEFAULT_MAX_SERVICES 131072u
#define SL_DEFAULT_MAX_BACKENDS 524288u
#define SL_DEFAULT_MAX_SLOT_ENTRIES 1048576u
#define SL_DEFAULT_UDP_NAT_ENTRIES 65536u

/* Maglev: a prime table size; 65537 is the usual choice (Envoy, Katran). */
#define SL_MAGLEV_DEFAULT_SIZE 65537u
/* How far a consistent-hash lookup walks the table past an ejected backend
 * before it falls back to panic mode. */
#define SL_MAGLEV_EJECT_PROBES 32u

#define SL_DEFAULT_ORIG_DST_ENTRIES 65536u
/* TCP metrics edges (sl_edge_cnt): client x backend x service, LRU. */
#define SL_DEFAULT_EDGE_ENTRIES 65536u
/* RTT per destination service (sl_svc_rtt): made on a service's first
 * closed connection, so memory follows the services that have traffic. */
#define SL_DEFAULT_RTT_SERVICES 16384u
/* Buckets of sl_svc_rtt: the bounds in bpf/include/tcp_rtt.h, plus one
 * above the last. */
#define SL_RTT_BUCKETS 16u
/* Egress ranges (sl_egress): ServiceEntry addresses and endpoints, plus a few cluster ranges. */
#define SL_DEFAULT_EGRESS_RANGES 16384u
/* L4 authorization (sl_pol_*): local pods' namespaces, policy-selected pods
 * of the cluster, and (set x source x port) verdicts. */
#define SL_DEFAULT_POLICY_SOURCES 16384u
#define SL_DEFAULT_POLICY_DESTS 131072u
#define SL_DEFAULT_POLICY_RULES 262144u
/* Connection-rate buckets (sl_conn_rate), one per limited local pod. */
#define SL_DEFAULT_CONN_RATE_SOURCES 16384u

/* Entries of the pinned per-CPU reason counters (sl_stats). Fixed, not the
 * reason count, so that a release adding reasons still reuses the map a
 * running sluiced pinned (a pinned map of another size cannot be reused). */
#define SL_STATS_SLOTS 64u

/* Istio's connection-pool limits default to 2^32-1, i.e. unlimited. */
#define SL_UNLIMITED 0xffffffffu

/* Added to the proxy's SO_MARK (next to its bypass mark) on upstream
 * sockets to a service that opted out of socket redirection. */
#define SL_MARK_NO_REDIR 0x10000u

/* Pin directory layout under the pin root (default /sys/fs/bpf/sluice). */
#define SL_DEFAULT_PIN_DIR "/sys/fs/bpf/sluice"

#endif
