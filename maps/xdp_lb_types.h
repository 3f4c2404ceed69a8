/* Map key and value types of the XDP L4 load balancer (bpf/xdp_lb.bpf.c) and
 * its reverse NAT (bpf/tc_nat.bpf.c). Plain C with explicit padding; layout
 * is checked in maps/abi_check.cpp. Addresses and ports are in network byte
 * order, as they appear in the packet. */
#ifndef SLUICE_MAPS_XDP_LB_TYPES_H
#define SLUICE_MAPS_XDP_LB_TYPES_H

#include <linux/types.h>

/* Default capacities; the loader may resize them before load. */
#define SL_XDP_DEFAULT_MAX_VIPS 4096u
#define SL_XDP_DEFAULT_CT_ENTRIES 262144u
#define SL_XDP_DEFAULT_SRC_RANGES 16384u
/* Egress devices the XDP forward path may redirect to (sl_xtx). */
#define SL_XDP_TX_DEVICES 1024u

/* The VIP prefilter (sl_xvip_filt): a bitmap of 2^18 bits in 64-bit words,
 * one bit per hash of a VIP key (lb4_vip_filter_bit). */
#define SL_XVIP_FILTER_BITS_LOG2 18u
#define SL_XVIP_FILTER_WORDS (1u << (SL_XVIP_FILTER_BITS_LOG2 - 6))

/* Slots of the per-CPU flow cache (sl_xflows) in front of the conntrack. */
#define SL_XDP_FLOW_CACHE_SLOTS_LOG2 14u
#define SL_XDP_FLOW_CACHE_SLOTS (1u << SL_XDP_FLOW_CACHE_SLOTS_LOG2)

/* sl_xvip.flags */
#define SL_XVIP_F_LOCAL 0x01      /* externalTrafficPolicy: Local; the table holds local backends only */
#define SL_XVIP_F_SRC_RANGES 0x02 /* loadBalancerSourceRanges set: sources outside are dropped */

/* sl_xbackend.flags */
#define SL_XBE_F_LOCAL 0x01 /* the backend runs on this node */

/* A LoadBalancer ingress IP or external IP with one service port. */
struct sl_xvip_key {
	__be32 addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

struct sl_xvip {
	__u32 id;            /* index into sl_xmaglev, sl_xvip_cnt and the source-range trie */
	__u32 maglev_size;   /* entries of the VIP's Maglev table (prime); 0: no backends */
	__u16 backend_count; /* distinct backends in the table, for dumps */
	__u8 flags;          /* SL_XVIP_F_* */
	__u8 pad;
	__u32 revision;      /* bumped by userspace on every change, for dumps */
};

/* One Maglev table entry: the backend itself, so a new flow costs one array
 * lookup after the VIP's table is found. */
struct sl_xbackend {
	__be32 addr;
	__be16 port;
	__u8 flags; /* SL_XBE_F_* */
	__u8 pad;
};

/* A flow's 5-tuple as it appears on the wire. Forward entries (sl_xct) are
 * keyed client -> VIP; reverse entries (sl_xnat) backend -> client. */
struct sl_xct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* sl_xct: the backend of a tracked flow, and its VIP's generation
 * (sl_xvip_gen.gen) when the flow was last admitted. sl_xnat: the VIP to put
 * back as the source of a reply (gen unused, 0). */
struct sl_xct {
	__be32 addr;
	__be16 port;
	__u16 pad;
	__u32 vip_id;
	__u32 gen;
};

/* sl_xvip_gen, indexed by VIP id; written by userspace after the last map
 * write of every VIP change. A conntrack entry whose gen differs is admitted
 * again (VIP lookup, source ranges) before it is used; one made before
 * `since` belongs to an earlier VIP of the same id (or a removed one) and is
 * replaced. Both come from one counter that only grows, across restarts. */
struct sl_xvip_gen {
	__u32 gen;   /* bumped on every change and on removal */
	__u32 since; /* gen at which the id got its current VIP, or was freed */
};

/* Source-range trie key: the VIP id is always matched in full, so
 * prefixlen = 32 + the range's prefix length. */
struct sl_xsrc_key {
	__u32 prefixlen;
	__u32 vip_id; /* host order; only ever compared whole */
	__be32 addr;
};

/* Per-VIP drop reasons, counted in sl_xvip_counters.drops; each entry of
 * SL_XDROP_LIST is the enumerator and its printed name. */
#define SL_XDROP_LIST(X) \
	X(SL_XDROP_SRC_RANGE, "src_range")       /* source outside loadBalancerSourceRanges */ \
	X(SL_XDROP_NO_BACKEND, "no_backend")     /* no (local) backend */

enum sl_xdrop {
#define SL_ENUM_ENTRY(id, name) id,
	SL_XDROP_LIST(SL_ENUM_ENTRY)
#undef SL_ENUM_ENTRY
	SL_XDROP__COUNT
};
#define SL_XDROP_SLOTS 4u

/* Per-VIP counters, one per CPU (BPF_MAP_TYPE_PERCPU_ARRAY indexed by id). */
struct sl_xvip_counters {
	__u64 packets;   /* forwarded to a backend */
	__u64 bytes;     /* IP bytes of those packets */
	__u64 new_flows; /* flows that got a backend from the Maglev table */
	__u64 icmp;      /* ICMP errors translated for this VIP's flows */
	__u64 drops[SL_XDROP_SLOTS];
};

#endif
