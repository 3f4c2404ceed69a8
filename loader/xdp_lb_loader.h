// RAII owner of the XDP load balancer (bpf/xdp_lb.bpf.c) and its reverse NAT
// (bpf/tc_nat.bpf.c): open, size, load with pinned-map reuse, attach XDP to
// the external interface (native mode, else generic) and TC to its egress,
// typed handles over the maps, detach.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "consts.h"
#include "map_handle.h"
#include "result.h"
#include "xdp_lb_types.h"
#include "xdp_stat_reasons.h"

struct xdp_lb_bpf;
struct tc_nat_bpf;

// Summing per-CPU counters (PerCpuArrayHandle::sum) needs +=.
inline sl_xvip_counters& operator+=(sl_xvip_counters& a, const sl_xvip_counters& b) {
  a.packets += b.packets;
  a.bytes += b.bytes;
  a.new_flows += b.new_flows;
  a.icmp += b.icmp;
  for (unsigned i = 0; i < SL_XDROP_SLOTS; ++i) a.drops[i] += b.drops[i];
  return a;
}

namespace sluice {

// The BPF test-run benchmark knobs (bpf/xdp_lb.bpf.c). Never set outside
// benchmarks. NoCtLookup: every packet takes the new-flow path. NoFlowCache:
// a tracked packet always goes to the conntrack (the flow cache's miss path).
inline constexpr uint32_t kXdpBenchNoCtLookup = 0x1;
inline constexpr uint32_t kXdpBenchNoFlowCache = 0x2;

struct XdpLbOptions {
  std::string pin_dir = SL_DEFAULT_PIN_DIR;
  uint32_t max_vips = SL_XDP_DEFAULT_MAX_VIPS;
  uint32_t ct_entries = SL_XDP_DEFAULT_CT_ENTRIES;
  uint32_t src_ranges = SL_XDP_DEFAULT_SRC_RANGES;
  uint32_t bench_flags = 0;
  // The XDP forward path: after DNAT, look the backend up in the FIB and
  // XDP_REDIRECT to the egress device if set_tx_devices() listed it (a
  // device that takes XDP frames, e.g. a routed veth whose peer has an XDP
  // program or GRO); any other device gets the packet through the stack
  // as before. Nothing is listed until set_tx_devices(). Off: always the
  // stack (no FIB lookup). See docs/xdp-lb.md.
  bool redirect = true;
};

struct XdpLbMaps {
  MapHandle<sl_xvip_key, sl_xvip> vips;
  MapHandle<uint32_t, uint32_t> maglev;  // VIP id -> inner table (fd on update, id on lookup)
  MapHandle<sl_xct_key, sl_xct> ct;
  MapHandle<sl_xct_key, sl_xct> nat;
  MapHandle<sl_xsrc_key, uint32_t> src_ranges;
  PerCpuArrayHandle<sl_xvip_counters> vip_counters;
  PerCpuArrayHandle<uint64_t> stats;
  MapHandle<uint32_t, sl_xvip_gen> vip_gens;  // VIP id -> generation (struct sl_xvip_gen)
  MapHandle<uint32_t, uint64_t> vip_filter;   // prefilter word index -> 64 bits
};

enum class XdpMode { kNone, kNative, kGeneric };
const char* xdp_mode_name(XdpMode m);

class XdpLb {
 public:
  // Opens and loads both programs. Maps already pinned under options.pin_dir
  // are reused (the conntrack survives a restart); the rest are created and
  // pinned there.
  static Result<std::unique_ptr<XdpLb>> load(const XdpLbOptions& options);

  // Leaves attached programs in place: the data path outlives the daemon,
  // like the socket load balancer's pinned links. detach() removes them.
  ~XdpLb();
  XdpLb(const XdpLb&) = delete;
  XdpLb& operator=(const XdpLb&) = delete;

  // Attaches XDP to ifindex, replacing a program already there (a restarted
  // daemon takes over). Native (driver) mode first, generic (skb) mode when
  // the driver has none, unless force_generic. Returns the mode in use.
  Result<XdpMode> attach_xdp(int ifindex, bool force_generic = false);
  // Attaches the reverse NAT to TC egress of ifindex (clsact, created if
  // missing), replacing an earlier sluice filter.
  Status attach_tc(int ifindex);
  // Detaches what attach_xdp/attach_tc attached. Maps stay pinned.
  Status detach();
  // Removes a sluice XDP program and TC filter from ifindex, whoever attached
  // them (cleanup after a daemon that is gone).
  static Status detach_interface(int ifindex);

  // Makes `ifindexes` the egress devices the forward path redirects to
  // (sl_xtx), replacing the previous set: removals first, then additions.
  // List only devices that take XDP frames (see xdp_features.h).
  Status set_tx_devices(const std::vector<int>& ifindexes);
  const std::vector<int>& tx_devices() const { return tx_devices_; }

  int xdp_prog_fd() const;
  int tc_prog_fd() const;
  XdpMode mode() const { return mode_; }
  const XdpLbMaps& maps() const { return maps_; }
  XdpLbMaps& maps() { return maps_; }
  const std::string& pin_dir() const { return pin_dir_; }
  bool reused_maps() const { return reused_maps_; }

  // Removes the XDP maps pinned under pin_dir (other pins stay).
  static Status remove_pins(const std::string& pin_dir);
  static const std::vector<std::string>& pinned_map_names();

 private:
  XdpLb() = default;

  xdp_lb_bpf* xdp_ = nullptr;
  tc_nat_bpf* tc_ = nullptr;
  XdpLbMaps maps_;
  std::string pin_dir_;
  bool reused_maps_ = false;
  XdpMode mode_ = XdpMode::kNone;
  int xdp_ifindex_ = 0;
  int tc_ifindex_ = 0;
  std::vector<int> tx_devices_;  // sorted, what sl_xtx holds
};

}  // namespace sluice
