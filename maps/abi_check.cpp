// Compile-time checks of the layout of every struct shared by the BPF
// programs and userspace. A change here is an ABI change: pinned maps from an
// older sluiced would no longer match, so the loader refuses to reuse them.
#include <cstddef>

#include "consts.h"
#include "sock_lb_types.h"
#include "sock_redir_types.h"
#include "stat_reasons.h"

#define SL_CHECK_SIZE(type, size) static_assert(sizeof(type) == (size), #type " size")
#define SL_CHECK_OFF(type, field, off) \
  static_assert(offsetof(type, field) == (off), #type "." #field " offset")

SL_CHECK_SIZE(struct sl_svc_key, 8);
SL_CHECK_OFF(struct sl_svc_key, vip, 0);
SL_CHECK_OFF(struct sl_svc_key, port, 4);
SL_CHECK_OFF(struct sl_svc_key, proto, 6);

SL_CHECK_SIZE(struct sl_svc, 16);
SL_CHECK_OFF(struct sl_svc, slot_count, 0);
SL_CHECK_OFF(struct sl_svc, algo, 2);
SL_CHECK_OFF(struct sl_svc, flags, 3);
SL_CHECK_OFF(struct sl_svc, max_conns, 4);
SL_CHECK_OFF(struct sl_svc, maglev_size, 8);
SL_CHECK_OFF(struct sl_svc, revision, 12);

SL_CHECK_SIZE(struct sl_slot_key, 12);
SL_CHECK_OFF(struct sl_slot_key, slot, 8);

SL_CHECK_SIZE(struct sl_backend_key, 12);
SL_CHECK_OFF(struct sl_backend_key, index, 8);

SL_CHECK_SIZE(struct sl_backend, 12);
SL_CHECK_OFF(struct sl_backend, addr, 0);
SL_CHECK_OFF(struct sl_backend, port, 4);
SL_CHECK_OFF(struct sl_backend, flags, 6);
SL_CHECK_OFF(struct sl_backend, weight, 8);

SL_CHECK_SIZE(struct sl_svc_counters, 32);
SL_CHECK_OFF(struct sl_svc_counters, active, 0);
SL_CHECK_OFF(struct sl_svc_counters, refused, 16);
SL_CHECK_OFF(struct sl_svc_counters, rr_next, 24);

SL_CHECK_SIZE(struct sl_backend_counters, 16);

SL_CHECK_SIZE(struct sl_sock_state, 24);
SL_CHECK_OFF(struct sl_sock_state, be_addr, 8);
SL_CHECK_OFF(struct sl_sock_state, be_port, 12);
SL_CHECK_OFF(struct sl_sock_state, be_index, 16);
SL_CHECK_OFF(struct sl_sock_state, flags, 20);

SL_CHECK_SIZE(struct sl_udp_nat_key, 16);
SL_CHECK_OFF(struct sl_udp_nat_key, addr, 8);
SL_CHECK_OFF(struct sl_udp_nat_key, dir, 14);
SL_CHECK_SIZE(struct sl_udp_nat, 16);

SL_CHECK_SIZE(struct sl_edge_key, 16);
SL_CHECK_OFF(struct sl_edge_key, svc, 8);
SL_CHECK_SIZE(struct sl_edge_counters, 32);
SL_CHECK_OFF(struct sl_edge_counters, bytes_from_backend, 24);
SL_CHECK_SIZE(struct sl_egress_key, 8);
SL_CHECK_OFF(struct sl_egress_key, addr, 4);
SL_CHECK_SIZE(struct sl_pol_rule_key, 12);
SL_CHECK_OFF(struct sl_pol_rule_key, port, 8);
SL_CHECK_SIZE(struct sl_svc_rtt, 8 * (SL_RTT_BUCKETS + 3));
SL_CHECK_OFF(struct sl_svc_rtt, retransmitting, 8 * (SL_RTT_BUCKETS + 2));
SL_CHECK_SIZE(struct sl_conn_bucket, 32);
SL_CHECK_OFF(struct sl_conn_bucket, max_tokens, 24);
SL_CHECK_SIZE(struct sl_orig_dst_key, 8);
SL_CHECK_OFF(struct sl_orig_dst_key, proxy_port, 6);
SL_CHECK_SIZE(struct sl_orig_dst, 16);
SL_CHECK_OFF(struct sl_orig_dst, cookie, 8);
// A sockmap value is 4 or 8 bytes; 8 lets userspace read the cookie back.
SL_CHECK_SIZE(struct sl_proxy_listener, 8);

static_assert(SL_R__COUNT <= SL_STATS_SLOTS, "every reason has a slot in sl_stats");
static_assert(SL_MAX_SLOTS * SL_SLOT_BANKS <= 0xffffffffu / 2, "slot index fits");

// XDP load balancer (bpf/xdp_lb.bpf.c, bpf/tc_nat.bpf.c).
#include "xdp_lb_types.h"
#include "xdp_stat_reasons.h"

SL_CHECK_SIZE(struct sl_xvip_key, 8);
SL_CHECK_OFF(struct sl_xvip_key, port, 4);
SL_CHECK_OFF(struct sl_xvip_key, proto, 6);
SL_CHECK_SIZE(struct sl_xvip, 16);
SL_CHECK_OFF(struct sl_xvip, maglev_size, 4);
SL_CHECK_OFF(struct sl_xvip, backend_count, 8);
SL_CHECK_OFF(struct sl_xvip, flags, 10);
SL_CHECK_OFF(struct sl_xvip, revision, 12);
SL_CHECK_SIZE(struct sl_xbackend, 8);
SL_CHECK_OFF(struct sl_xbackend, port, 4);
SL_CHECK_OFF(struct sl_xbackend, flags, 6);
SL_CHECK_SIZE(struct sl_xct_key, 16);
SL_CHECK_OFF(struct sl_xct_key, daddr, 4);
SL_CHECK_OFF(struct sl_xct_key, sport, 8);
SL_CHECK_OFF(struct sl_xct_key, dport, 10);
SL_CHECK_OFF(struct sl_xct_key, proto, 12);
SL_CHECK_SIZE(struct sl_xct, 16);
SL_CHECK_OFF(struct sl_xct, port, 4);
SL_CHECK_OFF(struct sl_xct, vip_id, 8);
SL_CHECK_OFF(struct sl_xct, gen, 12);
SL_CHECK_SIZE(struct sl_xvip_gen, 8);
SL_CHECK_OFF(struct sl_xvip_gen, since, 4);
static_assert(SL_XVIP_FILTER_WORDS * 64u == (1u << SL_XVIP_FILTER_BITS_LOG2), "prefilter words hold its bits");
SL_CHECK_SIZE(struct sl_xsrc_key, 12);
SL_CHECK_OFF(struct sl_xsrc_key, vip_id, 4);
SL_CHECK_OFF(struct sl_xsrc_key, addr, 8);
SL_CHECK_SIZE(struct sl_xvip_counters, 64);
SL_CHECK_OFF(struct sl_xvip_counters, drops, 32);
static_assert(SL_XDROP__COUNT <= SL_XDROP_SLOTS, "per-VIP drop slots");
static_assert(SL_XR__COUNT < 64, "sl_xstats is sized by SL_XR__COUNT");

// sock_redir
SL_CHECK_SIZE(struct sl_redir_key, 16);
SL_CHECK_OFF(struct sl_redir_key, remote_ip, 4);
SL_CHECK_OFF(struct sl_redir_key, local_port, 8);
SL_CHECK_OFF(struct sl_redir_key, remote_port, 12);
SL_CHECK_SIZE(struct sl_redir_sk, 8);
static_assert(SL_RS__COUNT == 14, "sl_redir_stats holds SL_RS__COUNT counters per CPU");
static_assert((SL_MARK_NO_REDIR & 0x5c1u) == 0, "the no-redirect mark bit is clear of the proxy bypass mark");

// The reason, counter and mode lists (maps/reason_names.h): each enumerator's
// value is its place in its list, so the name table indexed by value is the
// list itself, and no two entries share a name.
#include <string_view>

#include "reason_names.h"

namespace sl_abi_names {

struct Entry {
  long value;
  std::string_view name;
};
#define SL_ABI_ENTRY(id, name) Entry{static_cast<long>(id), name},

template <size_t N>
constexpr bool values_in_order(const Entry (&list)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (list[i].value != static_cast<long>(i)) return false;
  }
  return true;
}

template <size_t N>
constexpr bool names_unique_and_set(const Entry (&list)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (list[i].name.empty()) return false;
    for (size_t j = i + 1; j < N; ++j) {
      if (list[i].name == list[j].name) return false;
    }
  }
  return true;
}

#define SL_ABI_CHECK_LIST(list, count)                                            \
  namespace list##_check {                                                        \
  constexpr Entry kList[] = {list(SL_ABI_ENTRY)};                                 \
  static_assert(sizeof(kList) / sizeof(kList[0]) == (count), #list " count");     \
  static_assert(values_in_order(kList), #list ": values must be 0, 1, 2, ...");   \
  static_assert(names_unique_and_set(kList), #list ": names must be set, unique"); \
  }

SL_ABI_CHECK_LIST(SL_REASON_LIST, SL_R__COUNT)
SL_ABI_CHECK_LIST(SL_XREASON_LIST, SL_XR__COUNT)
SL_ABI_CHECK_LIST(SL_XDROP_LIST, SL_XDROP__COUNT)
SL_ABI_CHECK_LIST(SL_REDIR_STAT_LIST, SL_RS__COUNT)
SL_ABI_CHECK_LIST(SL_REDIR_MODE_LIST, 4)

#undef SL_ABI_CHECK_LIST
#undef SL_ABI_ENTRY

}  // namespace sl_abi_names
