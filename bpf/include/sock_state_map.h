/* sl_sock_state: per-socket state that connect4 (sock_lb) writes and the
 * sockops programs of sock_lb and sock_redir read. Both objects declare it
 * from here and pin it by name, so the second one loaded reuses the first's
 * map. BPF only. */
#ifndef SLUICE_BPF_SOCK_STATE_MAP_H
#define SLUICE_BPF_SOCK_STATE_MAP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sock_lb_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sl_sock_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_sock_state SEC(".maps");

#endif
