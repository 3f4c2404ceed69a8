/* Map definitions of bpf/sock_redir.bpf.c. BPF only. Pinned by name under
 * the loader's pin directory, next to sock_lb's maps. */
#ifndef SLUICE_BPF_SOCK_REDIR_MAPS_H
#define SLUICE_BPF_SOCK_REDIR_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "sock_redir_types.h"
#include "sock_state_map.h"

/* Local sockets, keyed by their own 4-tuple. The kernel removes a socket
 * when it closes. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SL_REDIR_DEFAULT_SOCKHASH_ENTRIES);
	__type(key, struct sl_redir_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_sockhash SEC(".maps");

/* Proxy mode: the node proxy's sockets, which only receive redirected
 * bytes. No program is attached to this map, so the proxy's own sends keep
 * the plain TCP path (and its peers' splice readers see them). */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SL_REDIR_DEFAULT_SOCKHASH_ENTRIES);
	__type(key, struct sl_redir_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_proxyhash SEC(".maps");

/* Connections whose active side was inserted, keyed as the passive side
 * will see itself; the passive side follows the active side's decision. LRU,
 * because a peer that is not local never comes to claim its entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_REDIR_DEFAULT_SOCKHASH_ENTRIES);
	__type(key, struct sl_redir_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_redir_pend SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sl_redir_sk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_redir_sk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_RS__COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_redir_stats SEC(".maps");

static __always_inline void redir_count(__u32 stat, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&sl_redir_stats, &stat);
	if (v)
		*v += n;
}

#endif
