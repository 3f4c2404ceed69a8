// SPDX-License-Identifier: GPL-2.0
/* The packet generator of bench/xdp_lb.sh, run with BPF_PROG_TEST_RUN in
 * live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES): each frame is written from
 * the template below and redirected out of the generator's veth, so it
 * reaches the node as an XDP frame in a page with full headroom, as from a
 * NIC driver, not as an AF_PACKET skb that the veth must copy first. Pages
 * are recycled with whatever the node wrote into them (DNAT, TTL, MACs), so
 * every header byte is written again for each frame. Bench only. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_lb_logic.h"

char LICENSE[] SEC("license") = "GPL";

#define GEN_HDR_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))

/* Set by the tool before load: the Ethernet + IPv4 + UDP header of the
 * first flow (source port base_sport), the egress ifindex, the flow count.
 * The header is in .data, not rodata: a const array read through a
 * non-volatile pointer would be folded to its zero initializer. */
__u8 gen_hdr[GEN_HDR_LEN] = { 1 };
const volatile __u32 gen_ifindex = 0;
const volatile __u32 gen_flows = 1;
const volatile __u16 gen_base_sport = 0; /* host order */

__u64 gen_seq = 0;

SEC("xdp")
int sl_xdp_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *udp = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	__u16 sport, old_sport;

	if (data + GEN_HDR_LEN > end)
		return XDP_ABORTED;
	__builtin_memcpy(data, gen_hdr, GEN_HDR_LEN);
	sport = bpf_htons(gen_base_sport + (__u16)(gen_seq++ % gen_flows));
	old_sport = udp->source;
	udp->source = sport;
	udp->check = lb4_csum_replace2(udp->check, old_sport, sport);
	if (!udp->check)
		udp->check = 0xffff;
	return bpf_redirect(gen_ifindex, 0);
}
