// SPDX-License-Identifier: GPL-2.0
/* XDP L4 load balancing of LoadBalancer ingress IPs and externalIPs on the
 * node's external interface. A packet to a VIP:port gets its flow's backend
 * from the conntrack, or for a new flow from the VIP's Maglev table keyed on
 * the 5-tuple hash; it is then DNATed (destination address and port, IP and
 * L4 checksums updated incrementally), then forwarded here (FIB lookup,
 * XDP_REDIRECT) if its egress device is listed in sl_xtx as taking XDP
 * frames, or else passed to the stack, which routes it to the pod. Replies
 * are reverse-NATed by bpf/tc_nat.bpf.c on the same interface's egress.
 * Everything else passes untouched. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_lb_maps.h"
#include "xdp_lb_logic.h"

char LICENSE[] SEC("license") = "GPL";

_Static_assert(sizeof(struct sl_xbackend) == sizeof(__u64), "Maglev entry size");

/* Benchmark knobs, set by the loader before load (0 in production, where the
 * verifier prunes the branches), so a BPF_PROG_TEST_RUN repeat loop measures
 * one path: NO_CT_LOOKUP sends every packet down the new-flow path (Maglev
 * pick, conntrack insert), NO_FLOW_CACHE every tracked packet to the
 * conntrack. */
#define SL_XDP_BENCH_NO_CT_LOOKUP 0x1
#define SL_XDP_BENCH_NO_FLOW_CACHE 0x2
const volatile __u32 sl_xdp_bench_flags = 0;

/* Loader option redirect (on by default): forward DNATed packets in XDP to
 * the egress devices listed in sl_xtx, the stack for the rest. */
const volatile __u8 sl_xdp_fib_redirect = 0;

/* How many devices sl_xtx holds, written by userspace after the map: with
 * none (a bridge node, say) the FIB lookup is skipped altogether. */
volatile __u32 sl_xtx_listed = 0;

#define SL_AF_INET 2
static __always_inline int lb4_verdict(__u32 reason, int action)
{
	lb4_xcount(reason);
	return action;
}

static __always_inline struct sl_xvip_counters *lb4_vip_counters(__u32 id)
{
	return bpf_map_lookup_elem(&sl_xvip_cnt, &id);
}

static __always_inline int lb4_drop(struct sl_xvip_counters *c, __u32 drop, __u32 reason)
{
	if (c && drop < SL_XDROP_SLOTS)
		c->drops[drop] += 1;
	return lb4_verdict(reason, XDP_DROP);
}

/* Source-range check: the LPM trie holds (vip id, range) pairs. */
static __always_inline int lb4_source_allowed(__u32 vip_id, __be32 saddr)
{
	struct sl_xsrc_key k = { .prefixlen = 64, .vip_id = vip_id, .addr = saddr };

	return bpf_map_lookup_elem(&sl_xsrc, &k) != NULL;
}

/* The backend of a new flow: the VIP's Maglev table at the flow hash. */
static __always_inline struct sl_xbackend *lb4_maglev_pick(const struct sl_xvip *vip, __u32 hash)
{
	__u32 id = vip->id;
	void *table = bpf_map_lookup_elem(&sl_xmaglev, &id);
	__u32 slot;

	if (!table)
		return NULL;
	slot = lb4_maglev_index(hash, 0, vip->maglev_size);
	return (struct sl_xbackend *)bpf_map_lookup_elem(table, &slot);
}

static __always_inline int lb4_track(const struct sl_xct_key *fwd, const struct sl_xbackend *be,
				     const struct sl_xvip_key *vk, __u32 vip_id, __u32 gen)
{
	struct sl_xct ct = { .addr = be->addr, .port = be->port, .vip_id = vip_id, .gen = gen };
	struct sl_xct_key rev = {
		.saddr = be->addr, .daddr = fwd->saddr,
		.sport = be->port, .dport = fwd->sport, .proto = fwd->proto,
	};
	struct sl_xct nat = { .addr = vk->addr, .port = vk->port, .vip_id = vip_id };

	/* Reverse first: a reply must never find a forward entry without it. */
	if (bpf_map_update_elem(&sl_xnat, &rev, &nat, BPF_ANY))
		return -1;
	if (bpf_map_update_elem(&sl_xct, fwd, &ct, BPF_ANY))
		return -1;
	return 0;
}

/* Whether a VIP key may exist: its prefilter bit is set. */
static __always_inline int lb4_vip_maybe(__be32 daddr, __be16 dport, __u8 proto)
{
	__u32 bit = lb4_vip_filter_bit(daddr, dport, proto);
	__u32 word = bit / 64;
	__u64 *bits = bpf_map_lookup_elem(&sl_xvip_filt, &word);

	return bits && ((*bits >> (bit % 64)) & 1);
}

#define LB4_FORWARD -1

/* Whether a conntrack value (in the map or cached) carries its VIP's
 * current generation, i.e. the flow's admission still holds. */
static __always_inline int lb4_gen_current(const struct sl_xct *ct)
{
	struct sl_xvip_gen *g = bpf_map_lookup_elem(&sl_xvip_gen, &ct->vip_id);

	return g && g->gen == ct->gen;
}

/* Whether a conntrack entry belongs to the VIP that has its id now (made
 * since the id got it), so not to a removed one. Weaker than
 * lb4_gen_current: the VIP may have changed since, without a new admission. */
static __always_inline int lb4_ct_of_live_vip(const struct sl_xct *ct)
{
	struct sl_xvip_gen *g = bpf_map_lookup_elem(&sl_xvip_gen, &ct->vip_id);

	return g && lb4_gen_not_before(ct->gen, g->since);
}

/* Keys are compared as 4-byte words: stack accesses must be aligned, and
 * the key is only 4-byte aligned on the stack. */
static __always_inline int lb4_same_flow(const struct sl_xct_key *a, const struct sl_xct_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* A packet the conntrack fast path did not settle: no entry, or one stamped
 * with an older generation of its VIP. The VIP and its source ranges are
 * checked as for a new flow; an entry of the VIP's current incarnation then
 * keeps its backend (and is stamped again), anything else gets the Maglev
 * pick and a new entry. Returns LB4_FORWARD with *pick set, or the verdict. */
static __always_inline int lb4_admit(const struct sl_xct_key *fk, struct sl_xct *ct, struct sl_xct *pick)
{
	struct sl_xvip_key vk = { .addr = fk->daddr, .port = fk->dport, .proto = fk->proto };
	struct sl_xvip_counters *cnt;
	struct sl_xvip_gen gen = {};
	struct sl_xvip_gen *g;
	struct sl_xbackend *be;
	struct sl_xvip *vip;
	__u32 id;

	vip = bpf_map_lookup_elem(&sl_xvips, &vk);
	if (!vip)
		return lb4_verdict(SL_XR_PASS_NOT_VIP, XDP_PASS);
	id = vip->id;
	/* Read before the checks: userspace bumps it after its last write, so
	 * a stamp taken here is stale if the ranges change under this packet. */
	g = bpf_map_lookup_elem(&sl_xvip_gen, &id);
	if (g)
		gen = *g;
	cnt = lb4_vip_counters(id);
	if ((vip->flags & SL_XVIP_F_SRC_RANGES) && !lb4_source_allowed(id, fk->saddr))
		return lb4_drop(cnt, SL_XDROP_SRC_RANGE, SL_XR_DROP_SRC_RANGE);
	pick->vip_id = id;
	pick->gen = gen.gen;
	if (ct && ct->vip_id == id && lb4_gen_not_before(ct->gen, gen.since)) {
		ct->gen = gen.gen;
		pick->addr = ct->addr;
		pick->port = ct->port;
		lb4_xcount(SL_XR_CT_READMITTED);
		return LB4_FORWARD;
	}
	be = lb4_maglev_pick(vip, lb4_flow_hash(fk->saddr, fk->daddr, fk->sport, fk->dport, fk->proto));
	if (!be)
		return lb4_drop(cnt, SL_XDROP_NO_BACKEND, SL_XR_DROP_NO_BACKEND);
	pick->addr = be->addr;
	pick->port = be->port;
	if (lb4_track(fk, be, &vk, id, gen.gen))
		lb4_xcount(SL_XR_CT_FULL);
	if (cnt)
		cnt->new_flows += 1;
	lb4_xcount(SL_XR_DNAT_NEW);
	return LB4_FORWARD;
}

/* A packet the flow cache did not settle: the prefilter, then the
 * conntrack, then admission. */
static __always_inline int lb4_find_flow(const struct sl_xct_key *fk, struct sl_xct *pick)
{
	struct sl_xct *ct = NULL;

	if (!lb4_vip_maybe(fk->daddr, fk->dport, fk->proto))
		return lb4_verdict(SL_XR_PASS_NOT_VIP, XDP_PASS);
	if (!(sl_xdp_bench_flags & SL_XDP_BENCH_NO_CT_LOOKUP))
		ct = bpf_map_lookup_elem(&sl_xct, fk);
	if (ct && lb4_gen_current(ct)) {
		*pick = *ct;
		lb4_xcount(SL_XR_DNAT_TRACKED);
		return LB4_FORWARD;
	}
	return lb4_admit(fk, ct, pick);
}

/* The stack's forwarding, done here: FIB lookup from the ingress device,
 * TTL decrement, MAC rewrite, redirect through sl_xtx. Whatever the FIB
 * cannot answer directly (no neighbour yet, local delivery, forwarding off)
 * and every egress device userspace has not listed as taking XDP frames
 * goes to the stack as usual, so no frame is redirected where it would be
 * lost. */
static __always_inline int lb4_fib_forward(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct bpf_fib_lookup p = {};
	__u16 old_word, new_word;
	long rc;

	if ((void *)(ip + 1) > end || ip->ttl <= 1)
		return lb4_verdict(SL_XR_FIB_PASS, XDP_PASS);
	p.family = SL_AF_INET;
	p.tos = ip->tos;
	p.l4_protocol = ip->protocol;
	p.tot_len = bpf_ntohs(ip->tot_len);
	p.ipv4_src = ip->saddr;
	p.ipv4_dst = ip->daddr;
	p.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &p, sizeof(p), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return lb4_verdict(SL_XR_FIB_PASS, XDP_PASS);

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip = data + sizeof(*eth);
	if ((void *)(ip + 1) > end)
		return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);
	/* Decided before the packet is touched: an unlisted device gets the
	 * fallback action (the low bits of the flags), XDP_PASS, and the
	 * stack sees the packet with its own MACs and TTL. */
	if (bpf_redirect_map(&sl_xtx, p.ifindex, XDP_PASS) != XDP_REDIRECT)
		return lb4_verdict(SL_XR_TX_UNLISTED, XDP_PASS);
	/* TTL shares a 16-bit word with the protocol: load the word once,
	 * before the store, for the checksum update (see kernel-notes). */
	__builtin_memcpy(&old_word, &ip->ttl, sizeof(old_word));
	ip->ttl -= 1;
	__builtin_memcpy(&new_word, &ip->ttl, sizeof(new_word));
	ip->check = lb4_csum_replace2(ip->check, old_word, new_word);
	__builtin_memcpy(eth->h_dest, p.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, p.smac, ETH_ALEN);
	lb4_xcount(SL_XR_FIB_REDIRECT);
	return XDP_REDIRECT;
}

/* TCP or UDP, possibly to a VIP. A tracked flow costs the flow cache slot
 * and array reads (generation, counters); a cache miss adds the prefilter
 * bit and the conntrack lookup; only other packets look the VIP up. */
static __always_inline int lb4_xdp_l4(struct xdp_md *ctx, __u8 proto)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	const __u32 l4_off = sizeof(struct ethhdr) + sizeof(struct iphdr);
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct sl_xflow_slot *slot = NULL;
	struct sl_xvip_counters *cnt;
	struct sl_xct pick = {};
	struct lb4_ports *ports;
	__u32 csum_off;
	__u16 *csum;
	int verdict;

	/* The whole L4 header must be there: a truncated one is not ours. */
	if (proto == IPPROTO_TCP) {
		if (data + l4_off + sizeof(struct tcphdr) > end)
			return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);
		csum_off = l4_off + offsetof(struct tcphdr, check);
	} else {
		if (data + l4_off + sizeof(struct udphdr) > end)
			return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);
		csum_off = l4_off + offsetof(struct udphdr, check);
	}
	ports = data + l4_off;
	if ((void *)(ports + 1) > end || (void *)(ip + 1) > end)
		return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);

	struct sl_xct_key fk = {
		.saddr = ip->saddr, .daddr = ip->daddr,
		.sport = ports->src, .dport = ports->dst, .proto = proto,
	};

	if (!(sl_xdp_bench_flags & (SL_XDP_BENCH_NO_CT_LOOKUP | SL_XDP_BENCH_NO_FLOW_CACHE))) {
		__u32 i = lb4_flow_slot_index(fk.saddr, fk.daddr, fk.sport, fk.dport, proto);

		slot = bpf_map_lookup_elem(&sl_xflows, &i);
	}
	if (slot && lb4_same_flow(&slot->key, &fk) && lb4_gen_current(&slot->ct)) {
		pick = slot->ct;
		lb4_xcount(SL_XR_DNAT_TRACKED);
	} else {
		verdict = lb4_find_flow(&fk, &pick);
		if (verdict != LB4_FORWARD)
			return verdict;
		if (slot) {
			slot->key = fk;
			slot->ct = pick;
		}
	}

	/* Map helpers may have been called: re-derive and re-check every packet
	 * pointer right before its access (see docs/xdp-lb.md). */
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	ip = data + sizeof(struct ethhdr);
	ports = data + l4_off;
	csum = data + csum_off;
	if ((void *)(ip + 1) > end || (void *)(ports + 1) > end || (void *)(csum + 1) > end)
		return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);

	__be32 old_addr = ip->daddr;
	__be16 old_port = ports->dst;

	cnt = lb4_vip_counters(pick.vip_id);
	if (cnt) {
		cnt->packets += 1;
		cnt->bytes += bpf_ntohs(ip->tot_len);
	}
	ip->check = lb4_csum_replace4(ip->check, old_addr, pick.addr);
	ip->daddr = pick.addr;
	if (proto == IPPROTO_TCP)
		*csum = lb4_tcp_csum_replace(*csum, old_addr, pick.addr, old_port, pick.port);
	else
		*csum = lb4_udp_csum_replace(*csum, old_addr, pick.addr, old_port, pick.port);
	ports->dst = pick.port;
	if (sl_xdp_fib_redirect && sl_xtx_listed)
		return lb4_fib_forward(ctx);
	return XDP_PASS;
}

/* An ICMP error sent to a VIP about a packet the VIP sent (a reply of a
 * tracked flow that was too big for a router on the way back): the quoted
 * header reads VIP:port -> client. Send it on to the flow's backend, with
 * the outer destination and the quoted source rewritten, so the backend's
 * stack lowers its path MTU. */
static __always_inline int lb4_xdp_icmp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	const __u32 icmp_off = sizeof(struct ethhdr) + sizeof(struct iphdr);
	const __u32 in_ip_off = icmp_off + sizeof(struct lb4_icmphdr);
	const __u32 in_l4_off = in_ip_off + sizeof(struct iphdr);
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct lb4_icmphdr *icmp = data + icmp_off;
	struct iphdr *in_ip = data + in_ip_off;
	struct lb4_ports *in_ports = data + in_l4_off;

	if ((void *)(icmp + 1) > end)
		return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);
	if (icmp->type != SL_ICMP_DEST_UNREACH)
		return lb4_verdict(SL_XR_ICMP_PASS, XDP_PASS);
	if ((void *)(in_ip + 1) > end || (void *)(in_ports + 1) > end || (void *)(ip + 1) > end)
		return lb4_verdict(SL_XR_ICMP_PASS, XDP_PASS);
	if (in_ip->ihl != 5 || in_ip->saddr != ip->daddr ||
	    (in_ip->protocol != IPPROTO_TCP && in_ip->protocol != IPPROTO_UDP))
		return lb4_verdict(SL_XR_ICMP_PASS, XDP_PASS);

	struct sl_xct_key fk = {
		.saddr = in_ip->daddr, .daddr = in_ip->saddr,
		.sport = in_ports->dst, .dport = in_ports->src, .proto = in_ip->protocol,
	};
	struct sl_xct *ct = bpf_map_lookup_elem(&sl_xct, &fk);

	if (!ct || !lb4_ct_of_live_vip(ct))
		return lb4_verdict(SL_XR_ICMP_PASS, XDP_PASS);
	__be32 be_addr = ct->addr;
	__be16 be_port = ct->port;
	struct sl_xvip_counters *cnt = lb4_vip_counters(ct->vip_id);

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	ip = data + sizeof(struct ethhdr);
	icmp = data + icmp_off;
	in_ip = data + in_ip_off;
	in_ports = data + in_l4_off;
	if ((void *)(ip + 1) > end || (void *)(icmp + 1) > end || (void *)(in_ip + 1) > end ||
	    (void *)(in_ports + 1) > end)
		return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);

	__be32 vip_addr = ip->daddr;

	lb4_icmp_rewrite_quote(&icmp->checksum, &in_ip->check, &in_ip->saddr, &in_ports->src, vip_addr, be_addr,
			       in_ports->src, be_port);
	ip->check = lb4_csum_replace4(ip->check, vip_addr, be_addr);
	ip->daddr = be_addr;
	if (cnt)
		cnt->icmp += 1;
	return lb4_verdict(SL_XR_ICMP_TRANSLATED, XDP_PASS);
}

SEC("xdp")
int sl_xdp_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(eth + 1) > end)
		return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return lb4_verdict(SL_XR_PASS_NOT_IPV4, XDP_PASS);
	if ((void *)(ip + 1) > end)
		return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);
	if (ip->version != 4 || ip->ihl < 5)
		return lb4_verdict(SL_XR_PASS_MALFORMED, XDP_PASS);
	if (ip->ihl != 5)
		return lb4_verdict(SL_XR_PASS_IP_OPTIONS, XDP_PASS);
	if (ip->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET))
		return lb4_verdict(SL_XR_PASS_FRAGMENT, XDP_PASS);

	switch (ip->protocol) {
	case IPPROTO_TCP:
		return lb4_xdp_l4(ctx, IPPROTO_TCP);
	case IPPROTO_UDP:
		return lb4_xdp_l4(ctx, IPPROTO_UDP);
	case IPPROTO_ICMP:
		return lb4_xdp_icmp(ctx);
	default:
		return lb4_verdict(SL_XR_PASS_OTHER_PROTO, XDP_PASS);
	}
}
