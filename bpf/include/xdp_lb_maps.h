/* Map definitions of bpf/xdp_lb.bpf.c. BPF only. Sizes are defaults; the
 * loader resizes them before load. Every map is pinned by name. */
#ifndef SLUICE_BPF_XDP_LB_MAPS_H
#define SLUICE_BPF_XDP_LB_MAPS_H

#include "xdp_nat_maps.h"
#include "consts.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_XDP_DEFAULT_MAX_VIPS);
	__type(key, struct sl_xvip_key);
	__type(value, struct sl_xvip);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xvips SEC(".maps");

/* Inner template: userspace creates one array per VIP, sized to its prime
 * table, fills it, then swaps it in with one outer update. */
struct sl_xmaglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAGLEV_DEFAULT_SIZE);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	/* struct sl_xbackend; declared by size because libbpf 1.1 cannot size
	 * a struct value of an inner map template after `bpftool gen object`. */
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_XDP_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sl_xmaglev_table);
} sl_xmaglev SEC(".maps");

/* Conntrack: client -> VIP 5-tuple to the flow's backend. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_XDP_DEFAULT_CT_ENTRIES);
	__type(key, struct sl_xct_key);
	__type(value, struct sl_xct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_XDP_DEFAULT_SRC_RANGES);
	__type(key, struct sl_xsrc_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xsrc SEC(".maps");

#endif
