/* Maps shared by bpf/xdp_lb.bpf.c and bpf/tc_nat.bpf.c. BPF only. Both
 * objects pin them by name under the loader's pin directory: the XDP object
 * creates them, the TC object then reuses the pins, so both see one table. */
#ifndef SLUICE_BPF_XDP_NAT_MAPS_H
#define SLUICE_BPF_XDP_NAT_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdp_lb_types.h"
#include "xdp_stat_reasons.h"

/* Reverse NAT: (backend, client) -> VIP, written by XDP for each new flow. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_XDP_DEFAULT_CT_ENTRIES);
	__type(key, struct sl_xct_key);
	__type(value, struct sl_xct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_XR__COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xstats SEC(".maps");

/* Per-VIP counters, indexed by sl_xvip.id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_XDP_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct sl_xvip_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xvip_cnt SEC(".maps");

static __always_inline void lb4_xcount(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&sl_xstats, &reason);

	if (v)
		*v += 1;
}

#endif
