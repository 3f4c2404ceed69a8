// SPDX-License-Identifier: GPL-2.0
/* Reverse NAT of the XDP load balancer's replies, on TC egress of the node's
 * external interface: every reply a backend pod sends to an external client
 * is routed out of that interface, whichever pod and bridge port it came
 * from. A reply of a tracked flow (backend -> client) gets the VIP back as
 * its source address and port, so the client sees the address it talked to.
 *
 * TCP/UDP checksums are updated with bpf_l4_csum_replace, which knows how
 * the skb's checksum is held: a CHECKSUM_PARTIAL reply from a local pod
 * carries only the pseudo-header sum in its checksum field, and the helper
 * updates that (and leaves the port change to the final checksum pass). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_nat_maps.h"
#include "xdp_lb_logic.h"

char LICENSE[] SEC("license") = "GPL";

#define SL_ETH_LEN sizeof(struct ethhdr)
#define SL_IP_OFF(field) (SL_ETH_LEN + offsetof(struct iphdr, field))
#define SL_L4_OFF (SL_ETH_LEN + sizeof(struct iphdr))

/* Forces data/data_end to be loaded again from the context: clang may
 * otherwise reuse a value from the caller through a 32-bit move, which turns
 * the verifier's packet pointer into a plain scalar. */
#define lb4_reload_barrier() asm volatile("" ::: "memory")


static __always_inline int lb4_tc_verdict(__u32 reason)
{
	lb4_xcount(reason);
	return TC_ACT_OK;
}

/* Everything this program reads lies within the first `need` bytes; pull
 * them into the linear area when they are not there yet. Only a failed
 * bounds check gets here, and the caller re-reads data/data_end after. */
static __always_inline int lb4_tc_pull(struct __sk_buff *skb, __u32 need)
{
	if (skb->len < need)
		return -1;
	return bpf_skb_pull_data(skb, need);
}

/* The packet's data and end, with its first `need` bytes linear; -1 when the
 * packet is shorter. */
static __always_inline int lb4_tc_linear(struct __sk_buff *skb, __u32 need, void **data, void **end)
{
	*data = (void *)(long)skb->data;
	*end = (void *)(long)skb->data_end;
	if (*data + need <= *end)
		return 0;
	if (lb4_tc_pull(skb, need))
		return -1;
	*data = (void *)(long)skb->data;
	*end = (void *)(long)skb->data_end;
	return 0;
}

static __always_inline int lb4_tc_l4(struct __sk_buff *skb, __u8 proto)
{
	const __u32 need = SL_L4_OFF + (proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr));
	const __u32 csum_off = SL_L4_OFF + (proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
								  : offsetof(struct udphdr, check));
	struct sl_xct_key rk = { .proto = proto };
	struct lb4_ports *ports;
	struct sl_xct *nat;
	struct iphdr *ip;
	void *data, *end;

	lb4_reload_barrier();
	if (lb4_tc_linear(skb, need, &data, &end))
		return lb4_tc_verdict(SL_XR_TC_MALFORMED);
	ip = data + SL_ETH_LEN;
	ports = data + SL_L4_OFF;
	if ((void *)(ip + 1) > end || (void *)(ports + 1) > end)
		return lb4_tc_verdict(SL_XR_TC_MALFORMED);
	rk.saddr = ip->saddr;
	rk.daddr = ip->daddr;
	rk.sport = ports->src;
	rk.dport = ports->dst;

	nat = bpf_map_lookup_elem(&sl_xnat, &rk);
	if (!nat)
		return lb4_tc_verdict(SL_XR_TC_PASS);

	__be32 vip_addr = nat->addr;
	__be16 vip_port = nat->port;
	__u64 mangled0 = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	bpf_l4_csum_replace(skb, csum_off, rk.saddr, vip_addr, BPF_F_PSEUDO_HDR | mangled0 | sizeof(__be32));
	bpf_l4_csum_replace(skb, csum_off, rk.sport, vip_port, mangled0 | sizeof(__be16));
	bpf_l3_csum_replace(skb, SL_IP_OFF(check), rk.saddr, vip_addr, sizeof(__be32));
	bpf_skb_store_bytes(skb, SL_IP_OFF(saddr), &vip_addr, sizeof(vip_addr), 0);
	bpf_skb_store_bytes(skb, SL_L4_OFF + offsetof(struct lb4_ports, src), &vip_port, sizeof(vip_port), 0);
	return lb4_tc_verdict(SL_XR_TC_REVERSED);
}

/* An ICMP error about a packet the client sent to a backend (port
 * unreachable from a UDP backend, or fragmentation needed on the way to the
 * pod): the quoted header reads client -> backend. Put the VIP back in the
 * quote, and as the outer source when the backend itself sent the error, so
 * the client's stack matches it to its socket. */
static __always_inline int lb4_tc_icmp(struct __sk_buff *skb)
{
	const __u32 icmp_off = SL_L4_OFF;
	const __u32 in_ip_off = icmp_off + sizeof(struct lb4_icmphdr);
	const __u32 in_l4_off = in_ip_off + sizeof(struct iphdr);
	const __u32 need = in_l4_off + sizeof(struct lb4_ports);
	struct iphdr *ip, *in_ip;
	struct lb4_icmphdr *icmp;
	struct lb4_ports *in_ports;
	void *data, *end;

	lb4_reload_barrier();
	if (lb4_tc_linear(skb, need, &data, &end))
		return lb4_tc_verdict(SL_XR_TC_PASS);
	ip = data + SL_ETH_LEN;
	icmp = data + icmp_off;
	in_ip = data + in_ip_off;
	in_ports = data + in_l4_off;
	if ((void *)(ip + 1) > end || (void *)(icmp + 1) > end || (void *)(in_ip + 1) > end ||
	    (void *)(in_ports + 1) > end)
		return lb4_tc_verdict(SL_XR_TC_MALFORMED);
	if (icmp->type != SL_ICMP_DEST_UNREACH || in_ip->ihl != 5 ||
	    (in_ip->protocol != IPPROTO_TCP && in_ip->protocol != IPPROTO_UDP))
		return lb4_tc_verdict(SL_XR_TC_PASS);

	struct sl_xct_key rk = {
		.saddr = in_ip->daddr, .daddr = in_ip->saddr,
		.sport = in_ports->dst, .dport = in_ports->src, .proto = in_ip->protocol,
	};
	struct sl_xct *nat = bpf_map_lookup_elem(&sl_xnat, &rk);

	if (!nat)
		return lb4_tc_verdict(SL_XR_TC_PASS);

	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	ip = data + SL_ETH_LEN;
	icmp = data + icmp_off;
	in_ip = data + in_ip_off;
	in_ports = data + in_l4_off;
	if ((void *)(ip + 1) > end || (void *)(icmp + 1) > end || (void *)(in_ip + 1) > end ||
	    (void *)(in_ports + 1) > end)
		return lb4_tc_verdict(SL_XR_TC_MALFORMED);

	__be32 be_addr = rk.saddr;
	__be32 vip_addr = nat->addr;
	__be16 be_port = rk.sport;
	__be16 vip_port = nat->port;
	lb4_icmp_rewrite_quote(&icmp->checksum, &in_ip->check, &in_ip->daddr, &in_ports->dst, be_addr, vip_addr,
			       be_port, vip_port);
	if (ip->saddr == be_addr) {
		ip->check = lb4_csum_replace4(ip->check, be_addr, vip_addr);
		ip->saddr = vip_addr;
	}
	return lb4_tc_verdict(SL_XR_TC_ICMP_REVERSED);
}

SEC("tc")
int sl_tc_nat(struct __sk_buff *skb)
{
	struct iphdr *ip;
	void *data, *end;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (lb4_tc_linear(skb, SL_L4_OFF, &data, &end))
		return lb4_tc_verdict(SL_XR_TC_MALFORMED);
	ip = data + SL_ETH_LEN;
	if ((void *)(ip + 1) > end)
		return lb4_tc_verdict(SL_XR_TC_MALFORMED);
	/* Replies of tracked flows never carry options; fragments of them are
	 * left alone (their source stays the backend's). */
	if (ip->version != 4 || ip->ihl != 5 || (ip->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET)))
		return lb4_tc_verdict(SL_XR_TC_PASS);

	switch (ip->protocol) {
	case IPPROTO_TCP:
		return lb4_tc_l4(skb, IPPROTO_TCP);
	case IPPROTO_UDP:
		return lb4_tc_l4(skb, IPPROTO_UDP);
	case IPPROTO_ICMP:
		return lb4_tc_icmp(skb);
	default:
		return lb4_tc_verdict(SL_XR_TC_PASS);
	}
}
