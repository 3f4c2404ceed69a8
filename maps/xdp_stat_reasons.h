/* Every verdict of bpf/xdp_lb.bpf.c and bpf/tc_nat.bpf.c is counted under one
 * of these reasons in the per-CPU array sl_xstats. Keep sl_xreason_name() in
 * loader/xdp_stat_names.cpp in step with this enum. */
#ifndef SLUICE_MAPS_XDP_STAT_REASONS_H
#define SLUICE_MAPS_XDP_STAT_REASONS_H

enum sl_xreason {
	SL_XR_PASS_NOT_IPV4 = 0,  /* not an IPv4 frame: untouched */
	SL_XR_PASS_NOT_VIP,       /* IPv4 but not a VIP:port: untouched */
	SL_XR_PASS_FRAGMENT,      /* IP fragment: left to the stack */
	SL_XR_PASS_IP_OPTIONS,    /* IP header with options: left to the stack */
	SL_XR_PASS_MALFORMED,     /* truncated or invalid header: the stack drops it */
	SL_XR_PASS_OTHER_PROTO,   /* neither TCP, UDP nor ICMP */
	SL_XR_DNAT_NEW,           /* new flow: Maglev pick, tracked, rewritten */
	SL_XR_DNAT_TRACKED,       /* tracked flow: rewritten to its backend */
	SL_XR_DROP_SRC_RANGE,     /* source outside loadBalancerSourceRanges */
	SL_XR_DROP_NO_BACKEND,    /* VIP without (local) backends */
	SL_XR_CT_FULL,            /* conntrack insert failed: balanced, not tracked */
	SL_XR_ICMP_TRANSLATED,    /* ICMP error about a tracked flow: sent on to its backend */
	SL_XR_ICMP_PASS,          /* ICMP that is not about a tracked flow */
	SL_XR_TC_REVERSED,        /* reply source rewritten from backend to VIP */
	SL_XR_TC_PASS,            /* egress packet that is not a reply of a tracked flow */
	SL_XR_TC_MALFORMED,       /* egress packet too short to parse */
	SL_XR_TC_ICMP_REVERSED,   /* ICMP error from the backend side rewritten to the VIP */
	SL_XR_FIB_REDIRECT,       /* XDP forward: FIB answer, egress device listed in sl_xtx, redirected */
	SL_XR_FIB_PASS,           /* XDP forward: FIB gave no direct answer, passed to the stack */
	SL_XR_CT_READMITTED,      /* tracked flow whose VIP changed since: admitted again, kept its backend */
	SL_XR_TX_UNLISTED,        /* XDP forward: egress device not in sl_xtx (may not take XDP frames): stack */
	SL_XR__COUNT
};

#endif
