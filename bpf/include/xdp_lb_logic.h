/* Pure logic of the XDP load balancer: incremental Internet checksums
 * (RFC 1624) and the flow hash that keys the Maglev table. No maps and no
 * helpers, so it compiles into the BPF programs and into the GoogleTest
 * tests, which check it against checksums computed from scratch. */
#ifndef SLUICE_BPF_XDP_LB_LOGIC_H
#define SLUICE_BPF_XDP_LB_LOGIC_H

#include <linux/types.h>

#include "lb_select.h"
#include "xdp_lb_types.h"

/* Fold a 32-bit one's complement sum to 16 bits. */
static __always_inline __u16 lb4_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). The sum is byte-order
 * independent, so the fields are used exactly as they sit in the packet. */
static __always_inline __u16 lb4_csum_replace2(__u16 check, __u16 from, __u16 to)
{
	__u32 s = (__u16)~check;

	s += (__u16)~from;
	s += to;
	return (__u16)~lb4_csum_fold(s);
}

static __always_inline __u16 lb4_csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u32 s = (__u16)~check;

	s += (__u16)~(from >> 16);
	s += (__u16)~(from & 0xffff);
	s += to >> 16;
	s += to & 0xffff;
	return (__u16)~lb4_csum_fold(s);
}

/* A UDP checksum of 0 means "none" (RFC 768) and must stay 0; a computed 0
 * is sent as 0xffff. */
static __always_inline __u16 lb4_udp_csum_replace(__u16 check, __u32 from_addr, __u32 to_addr,
						  __u16 from_port, __u16 to_port)
{
	if (!check)
		return 0;
	check = lb4_csum_replace4(check, from_addr, to_addr);
	check = lb4_csum_replace2(check, from_port, to_port);
	return check ? check : 0xffff;
}

/* An ICMP error quotes the header of the packet it is about. Rewrites one
 * address and one port of that quote from `from` to `to`, with the quoted IP
 * checksum and the ICMP checksum, which covers the quote (and has no pseudo
 * header), so every changed quoted field is accounted for. The pointers are
 * into the packet, bounds-checked by the caller. */
static __always_inline void lb4_icmp_rewrite_quote(__u16 *icmp_check, __u16 *quoted_ip_check, __u32 *quoted_addr,
						   __u16 *quoted_port, __u32 from_addr, __u32 to_addr,
						   __u16 from_port, __u16 to_port)
{
	__u16 old_in_check = *quoted_ip_check;
	__u16 new_in_check = lb4_csum_replace4(old_in_check, from_addr, to_addr);
	__u16 check = *icmp_check;

	check = lb4_csum_replace4(check, from_addr, to_addr);
	check = lb4_csum_replace2(check, old_in_check, new_in_check);
	check = lb4_csum_replace2(check, from_port, to_port);
	*quoted_addr = to_addr;
	*quoted_ip_check = new_in_check;
	*quoted_port = to_port;
	*icmp_check = check;
}

static __always_inline __u16 lb4_tcp_csum_replace(__u16 check, __u32 from_addr, __u32 to_addr,
						  __u16 from_port, __u16 to_port)
{
	check = lb4_csum_replace4(check, from_addr, to_addr);
	return lb4_csum_replace2(check, from_port, to_port);
}

/* The flow's 5-tuple hashed for the Maglev lookup. Every field goes through
 * the mixer, so flows that differ only in the source port spread too. */
static __always_inline __u32 lb4_flow_hash(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport,
					   __u8 proto)
{
	__u64 a = ((__u64)saddr << 32) | daddr;
	__u64 b = ((__u64)sport << 32) | ((__u64)dport << 16) | proto;

	return lb4_hash64(a ^ ((__u64)lb4_hash64(b) << 32 | lb4_hash64(~b)));
}

/* The VIP prefilter's bit for a VIP key, fields in network order as in the
 * packet (and in struct sl_xvip_key). A full mixer: VIP addresses that differ
 * only in their last octet must not crowd into a few bits. */
static __always_inline __u32 lb4_vip_filter_bit(__u32 addr, __u16 port, __u8 proto)
{
	__u64 k = ((__u64)addr << 32) | ((__u64)port << 16) | proto;

	return lb4_hash64(k) >> (32 - SL_XVIP_FILTER_BITS_LOG2);
}

/* A flow's slot in the per-CPU flow cache: one multiply, the top bits. The
 * client's address and port sit low in the word, so they reach every bit
 * of the slot index; a cache only needs a fair spread, not a strong hash. */
static __always_inline __u32 lb4_flow_slot_index(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport,
						 __u8 proto)
{
	__u64 k = ((__u64)daddr << 32 | saddr) ^ ((__u64)dport << 48) ^ ((__u64)proto << 40) ^ ((__u64)sport << 8);

	return (__u32)((k * 0x9e3779b97f4a7c15ULL) >> (64 - SL_XDP_FLOW_CACHE_SLOTS_LOG2));
}

/* Whether a conntrack entry stamped with generation `gen` was made on or
 * after `since` (wrap-safe). */
static __always_inline int lb4_gen_not_before(__u32 gen, __u32 since)
{
	return (__s32)(gen - since) >= 0;
}

#define SL_IP_MF 0x2000
#define SL_IP_OFFSET 0x1fff

/* linux/icmp.h pulls in libc's socket headers, which do not build for BPF. */
#define SL_ICMP_DEST_UNREACH 3
struct lb4_icmphdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u32 rest;
};

struct lb4_ports {
	__be16 src;
	__be16 dst;
};

#endif
