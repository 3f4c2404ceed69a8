/* Every verdict of bpf/xdp_lb.bpf.c and bpf/tc_nat.bpf.c is counted under one
 * of these reasons in the per-CPU array sl_xstats. Each entry of
 * SL_XREASON_LIST is the enumerator and the name userspace prints for it
 * (maps/reason_names.h). Add new reasons at the end: the order is the index. */
#ifndef SLUICE_MAPS_XDP_STAT_REASONS_H
#define SLUICE_MAPS_XDP_STAT_REASONS_H

#define SL_XREASON_LIST(X) \
	X(SL_XR_PASS_NOT_IPV4, "pass_not_ipv4")           /* not an IPv4 frame: untouched */ \
	X(SL_XR_PASS_NOT_VIP, "pass_not_vip")             /* IPv4 but not a VIP:port: untouched */ \
	X(SL_XR_PASS_FRAGMENT, "pass_fragment")           /* IP fragment: left to the stack */ \
	X(SL_XR_PASS_IP_OPTIONS, "pass_ip_options")       /* IP header with options: left to the stack */ \
	X(SL_XR_PASS_MALFORMED, "pass_malformed")         /* truncated or invalid header: the stack drops it */ \
	X(SL_XR_PASS_OTHER_PROTO, "pass_other_proto")     /* neither TCP, UDP nor ICMP */ \
	X(SL_XR_DNAT_NEW, "dnat_new")                     /* new flow: Maglev pick, tracked, rewritten */ \
	X(SL_XR_DNAT_TRACKED, "dnat_tracked")             /* tracked flow: rewritten to its backend */ \
	X(SL_XR_DROP_SRC_RANGE, "drop_src_range")         /* source outside loadBalancerSourceRanges */ \
	X(SL_XR_DROP_NO_BACKEND, "drop_no_backend")       /* VIP without (local) backends */ \
	X(SL_XR_CT_FULL, "ct_full")                       /* conntrack insert failed: balanced, not tracked */ \
	X(SL_XR_ICMP_TRANSLATED, "icmp_translated")       /* ICMP error about a tracked flow: sent on to its backend */ \
	X(SL_XR_ICMP_PASS, "icmp_pass")                   /* ICMP that is not about a tracked flow */ \
	X(SL_XR_TC_REVERSED, "tc_reversed")               /* reply source rewritten from backend to VIP */ \
	X(SL_XR_TC_PASS, "tc_pass")                       /* egress packet that is not a reply of a tracked flow */ \
	X(SL_XR_TC_MALFORMED, "tc_malformed")             /* egress packet too short to parse */ \
	X(SL_XR_TC_ICMP_REVERSED, "tc_icmp_reversed")     /* ICMP error from the backend side rewritten to the VIP */ \
	X(SL_XR_FIB_REDIRECT, "fib_redirect")             /* XDP forward: FIB answer, egress device listed in sl_xtx, redirected */ \
	X(SL_XR_FIB_PASS, "fib_pass")                     /* XDP forward: FIB gave no direct answer, passed to the stack */ \
	X(SL_XR_CT_READMITTED, "ct_readmitted")           /* tracked flow whose VIP changed since: admitted again, kept its backend */ \
	X(SL_XR_TX_UNLISTED, "tx_unlisted")               /* XDP forward: egress device not in sl_xtx (may not take XDP frames): stack */

enum sl_xreason {
#define SL_ENUM_ENTRY(id, name) id,
	SL_XREASON_LIST(SL_ENUM_ENTRY)
#undef SL_ENUM_ENTRY
	SL_XR__COUNT
};

#endif
