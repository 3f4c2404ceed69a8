#include "feature_probe.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>

#include "libbpf_log.h"
#include "sock_lb.skel.h"
#include "sock_redir.skel.h"
#include "sock_redir_types.h"
#include "tc_nat.skel.h"
#include "xdp_features.h"
#include "xdp_lb.skel.h"

namespace sluice {
namespace {

using Kind = KernelNeed::Kind;

// Versions are the upstream release that brought each piece (the kernel's
// bpf-helpers documentation and the commits docs/kernels.md cites).
const std::map<std::string_view, std::vector<KernelNeed>>& needs_table() {
  static const std::map<std::string_view, std::vector<KernelNeed>> table = {
      {kFeatureSocketLb,
       {
           {Kind::kLanguage, 0, 0, "global data (.rodata settings)", "5.2"},
           {Kind::kLanguage, 0, 0, "attach points cgroup/recvmsg4 (5.2) and cgroup/getpeername4", "5.8"},
           {Kind::kLanguage, 0, 0, "atomic fetch-and-add and compare-and-exchange (clang -mcpu=v3)", "5.12"},
           {Kind::kProgType, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, 0, "program type cgroup/sock_addr (connect4)", "4.17"},
           {Kind::kProgType, BPF_PROG_TYPE_SOCK_OPS, 0, "program type sockops", "4.13"},
           {Kind::kMapType, 0, BPF_MAP_TYPE_SK_STORAGE, "map type sk_storage", "5.2"},
           {Kind::kMapType, 0, BPF_MAP_TYPE_HASH_OF_MAPS, "map type hash_of_maps", "4.12"},
           {Kind::kMapType, 0, BPF_MAP_TYPE_LRU_HASH, "map type lru_hash", "4.10"},
           {Kind::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_sk_storage_get,
            "helper bpf_sk_storage_get in cgroup/sock_addr programs", "5.3"},
           {Kind::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_netns_cookie,
            "helper bpf_get_netns_cookie in cgroup/sock_addr programs", "5.7"},
           {Kind::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_socket_cookie,
            "helper bpf_get_socket_cookie in cgroup/sock_addr programs", "5.0"},
           {Kind::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_for_each_map_elem,
            "helper bpf_for_each_map_elem in cgroup/sock_addr programs", "5.13"},
           {Kind::kHelper, BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_sk_storage_get,
            "helper bpf_sk_storage_get in sockops programs", "5.3"},
           {Kind::kHelper, BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_sock_ops_cb_flags_set,
            "helper bpf_sock_ops_cb_flags_set", "4.16"},
       }},
      {kFeatureL7Redirect,
       {
           {Kind::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_sk_storage_get,
            "helper bpf_sk_storage_get in cgroup/sock_addr programs", "5.3"},
           {Kind::kMapType, 0, BPF_MAP_TYPE_SOCKMAP, "map type sockmap", "4.14"},
           {Kind::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_sk_release,
            "helper bpf_sk_release in cgroup/sock_addr programs", "5.2"},
           {Kind::kLanguage, 0, 0, "bpf_map_lookup_elem on a sockmap returning the socket (the proxy's listener)",
            "5.10"},
           {Kind::kHelper, BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_get_socket_cookie,
            "helper bpf_get_socket_cookie in sockops programs", "5.0"},
       }},
      {kFeatureSockmap,
       {
           {Kind::kLanguage, 0, 0, "global data (.rodata settings)", "5.2"},
           {Kind::kProgType, BPF_PROG_TYPE_SK_MSG, 0, "program type sk_msg", "4.17"},
           {Kind::kMapType, 0, BPF_MAP_TYPE_SOCKHASH, "map type sockhash", "4.18"},
           {Kind::kHelper, BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_sock_hash_update, "helper bpf_sock_hash_update", "4.18"},
           {Kind::kHelper, BPF_PROG_TYPE_SK_MSG, BPF_FUNC_msg_redirect_hash, "helper bpf_msg_redirect_hash", "4.18"},
           {Kind::kHelper, BPF_PROG_TYPE_SK_MSG, BPF_FUNC_sk_storage_get,
            "helper bpf_sk_storage_get in sk_msg programs", "5.8"},
       }},
      {kFeatureXdp,
       {
           {Kind::kLanguage, 0, 0, "32-bit jumps (clang -mcpu=v3)", "5.1"},
           {Kind::kLanguage, 0, 0, "global data (.rodata settings, .bss)", "5.2"},
           {Kind::kProgType, BPF_PROG_TYPE_XDP, 0, "program type xdp", "4.8"},
           {Kind::kProgType, BPF_PROG_TYPE_SCHED_CLS, 0, "program type tc (sched_cls)", "4.1"},
           {Kind::kMapType, 0, BPF_MAP_TYPE_ARRAY_OF_MAPS, "map type array_of_maps", "4.12"},
           {Kind::kMapType, 0, BPF_MAP_TYPE_LPM_TRIE, "map type lpm_trie", "4.11"},
           {Kind::kMapType, 0, BPF_MAP_TYPE_LRU_HASH, "map type lru_hash", "4.10"},
           {Kind::kHelper, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_l4_csum_replace, "helper bpf_l4_csum_replace", "4.1"},
           {Kind::kHelper, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_skb_pull_data, "helper bpf_skb_pull_data", "4.9"},
       }},
      {kFeatureXdpForward,
       {
           {Kind::kMapType, 0, BPF_MAP_TYPE_DEVMAP_HASH, "map type devmap_hash", "5.4"},
           {Kind::kHelper, BPF_PROG_TYPE_XDP, BPF_FUNC_fib_lookup, "helper bpf_fib_lookup in xdp programs", "4.18"},
           {Kind::kHelper, BPF_PROG_TYPE_XDP, BPF_FUNC_redirect_map, "helper bpf_redirect_map in xdp programs", "4.14"},
           {Kind::kNetdevFamily, 0, 0, "the netdev netlink family's xdp-features (which devices take redirected frames)",
            "6.3"},
       }},
  };
  return table;
}

}  // namespace

int probe_kernel_need(const KernelNeed& n) {
  switch (n.kind) {
    case Kind::kProgType:
      return libbpf_probe_bpf_prog_type(static_cast<bpf_prog_type>(n.prog_type), nullptr);
    case Kind::kMapType:
      return libbpf_probe_bpf_map_type(static_cast<bpf_map_type>(n.id), nullptr);
    case Kind::kHelper:
      return libbpf_probe_bpf_helper(static_cast<bpf_prog_type>(n.prog_type), static_cast<bpf_func_id>(n.id), nullptr);
    case Kind::kNetdevFamily: {
      auto present = netdev_xdp_features_supported();
      return present ? (*present ? 1 : 0) : -1;
    }
    case Kind::kLanguage:
      return -1;
  }
  return -1;
}


// The verifier's line is the last one before its "processed N insns"
// summary; libbpf names the program on its own lines.
std::string explain_refusal(const std::string& log) {
  std::string prog, reason;
  size_t pos = 0;
  std::string last;
  while (pos < log.size()) {
    size_t end = log.find('\n', pos);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(pos, end - pos);
    pos = end + 1;
    if (const auto p = line.find("prog '"); p != std::string::npos && prog.empty()) {
      const auto q = line.find('\'', p + 6);
      if (q != std::string::npos) prog = line.substr(p + 6, q - p - 6);
    }
    if (line.rfind("processed ", 0) == 0 || line.find("-- END PROG LOAD LOG --") != std::string::npos) {
      if (reason.empty()) reason = last;
      continue;
    }
    if (!line.empty() && line.rfind("libbpf:", 0) != 0 && line.find("-- BEGIN PROG LOAD LOG --") == std::string::npos) {
      last = line;
    }
  }
  if (reason.empty()) reason = last;
  std::string out = "the kernel refused";
  if (!prog.empty()) out += " " + prog;
  if (!reason.empty()) out += ": " + reason;
  return out;
}

namespace {

// The first piece of the feature the kernel lacks, as "needs X (Linux V)".
std::string missing_piece(std::string_view feature) {
  for (const KernelNeed& n : kernel_needs(feature)) {
    if (probe_kernel_need(n) == 0) {  // <0: the probe failed, nothing to blame
      return "needs " + std::string(n.what) + " (Linux " + std::string(n.since) + ")";
    }
  }
  return {};
}

constexpr uint32_t kTrialEntries = 64;

// Maps of a trial load: never pinned (nothing of a running sluiced is reused
// or touched) and small (the load is about the programs).
void prepare_trial_maps(bpf_object* obj) {
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    if (bpf_map__is_internal(m)) continue;
    (void)bpf_map__set_pin_path(m, nullptr);
    // sk_storage maps must say 0; sl_walk's size is the walk's length.
    const bpf_map_type type = bpf_map__type(m);
    if (type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_SOCKHASH ||
        type == BPF_MAP_TYPE_HASH_OF_MAPS || type == BPF_MAP_TYPE_LPM_TRIE) {
      (void)bpf_map__set_max_entries(m, std::min<uint32_t>(bpf_map__max_entries(m), kTrialEntries));
    }
  }
}

// Opens, configures and loads one skeleton, then frees it. Returns an empty
// string when the kernel took it, else the reason.
template <class Skel>
std::string trial_load(Skel* (*open)(), int (*load)(Skel*), void (*destroy)(Skel*), bpf_object* Skel::*obj,
                       const std::function<void(Skel*)>& configure) {
  LibbpfLogCapture log;
  Skel* s = open();
  if (s == nullptr) return "cannot open the BPF object: " + std::string(strerror(errno));
  prepare_trial_maps(s->*obj);
  configure(s);
  const int err = load(s);
  destroy(s);
  if (err == 0) return {};
  return explain_refusal(log.text());
}

std::string load_sock_lb(bool proxy) {
  return trial_load<sock_lb_bpf>(sock_lb_bpf__open, sock_lb_bpf__load, sock_lb_bpf__destroy, &sock_lb_bpf::obj,
                                 [proxy](sock_lb_bpf* s) {
                                   // A zero port would let the verifier drop the redirect path unseen.
                                   s->rodata->sl_proxy_ip = proxy ? htonl(0x7f000001) : 0;
                                   s->rodata->sl_proxy_port = proxy ? htons(15001) : 0;
                                   s->rodata->sl_bypass_mark = proxy ? 1 : 0;
                                 });
}

std::string load_sock_redir(uint32_t mode) {
  return trial_load<sock_redir_bpf>(sock_redir_bpf__open, sock_redir_bpf__load, sock_redir_bpf__destroy,
                                    &sock_redir_bpf::obj, [mode](sock_redir_bpf* s) {
                                      s->rodata->sl_redir_mode = mode;
                                      s->rodata->sl_node_ip = htonl(0x0ac80001);
                                      s->rodata->sl_proxy_mark = 1;
                                    });
}

std::string load_xdp_lb(bool redirect) {
  return trial_load<xdp_lb_bpf>(xdp_lb_bpf__open, xdp_lb_bpf__load, xdp_lb_bpf__destroy, &xdp_lb_bpf::obj,
                                [redirect](xdp_lb_bpf* s) { s->rodata->sl_xdp_fib_redirect = redirect ? 1 : 0; });
}

std::string load_tc_nat() {
  return trial_load<tc_nat_bpf>(tc_nat_bpf__open, tc_nat_bpf__load, tc_nat_bpf__destroy, &tc_nat_bpf::obj,
                                [](tc_nat_bpf*) {});
}

// A feature from its trial loads: on when all loaded, else off with the
// missing piece (or the first refusal).
KernelFeature decide(std::string_view name, const std::vector<std::string>& refusals, std::string on_detail) {
  KernelFeature f{std::string(name), true, std::move(on_detail)};
  for (const std::string& r : refusals) {
    if (r.empty()) continue;
    f.on = false;
    const std::string missing = missing_piece(name);
    f.detail = missing.empty() ? r : missing + "; " + r;
    break;
  }
  return f;
}

std::string kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "unknown";
}

}  // namespace

const std::vector<KernelNeed>& kernel_needs(std::string_view feature) {
  static const std::vector<KernelNeed> none;
  const auto& table = needs_table();
  auto it = table.find(feature);
  return it == table.end() ? none : it->second;
}

const KernelFeature* KernelFeatures::find(std::string_view name) const {
  for (const KernelFeature& f : features) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool KernelFeatures::on(std::string_view name) const {
  const KernelFeature* f = find(name);
  return f != nullptr && f->on;
}

std::vector<std::string> KernelFeatures::lines() const {
  std::vector<std::string> out;
  for (const KernelFeature& f : features) {
    out.push_back(f.name + ": " + (f.on ? "on" : "off") + (f.detail.empty() ? "" : " (" + f.detail + ")"));
  }
  return out;
}

void KernelFeatures::write_json_fields(JsonWriter& w) const {
  w.key("kernel").value(kernel);
  w.key("features").begin_array();
  for (const KernelFeature& f : features) {
    w.begin_object().key("name").value(f.name).key("on").value(f.on).key("detail").value(f.detail).end_object();
  }
  w.end_array();
}

std::string KernelFeatures::to_json() const {
  JsonWriter w;
  w.begin_object();
  write_json_fields(w);
  w.end_object();
  return std::move(w).str();
}

KernelFeatures probe_kernel_features() {
  KernelFeatures out;
  out.kernel = kernel_release();

  const std::string lb = load_sock_lb(false);
  out.features.push_back(decide(kFeatureSocketLb, {lb},
                                "sock_lb loaded: cgroup connect4/6, sendmsg4, recvmsg4/6, getpeername4/6, sockops"));
  // The redirect lives in the same object: only worth a second load when the
  // first one went through.
  out.features.push_back(lb.empty() ? decide(kFeatureL7Redirect, {load_sock_lb(true)},
                                             "sock_lb loaded with the node proxy redirect")
                                    : KernelFeature{std::string(kFeatureL7Redirect), false,
                                                    "needs socket-lb, which is off"});
  out.features.push_back(decide(kFeatureSockmap, {load_sock_redir(SL_REDIR_AUTO), load_sock_redir(SL_REDIR_PROXY)},
                                "sock_redir loaded: sockops + sk_msg over a sockhash"));
  const std::string xdp = load_xdp_lb(false);
  out.features.push_back(decide(kFeatureXdp, {xdp, load_tc_nat()}, "xdp_lb and tc_nat loaded"));

  KernelFeature fwd{std::string(kFeatureXdpForward), false, {}};
  if (!xdp.empty()) {
    fwd.detail = "needs xdp, which is off";
  } else {
    fwd = decide(kFeatureXdpForward, {load_xdp_lb(true)}, "xdp_lb loaded with FIB lookup and redirect");
    auto netdev = netdev_xdp_features_supported();
    if (fwd.on && !(netdev && *netdev)) {
      // The program loads, but without xdp-features no device can be known
      // to take redirected frames: the forward path stays inert and the
      // stack forwards.
      fwd.on = false;
      fwd.detail = netdev ? "needs the netdev netlink family's xdp-features (Linux 6.3); the stack forwards instead"
                          : "cannot read xdp-features: " + netdev.error().to_string();
    }
  }
  out.features.push_back(std::move(fwd));
  return out;
}

Status require_kernel_features(const KernelFeatures& features, const std::vector<std::string_view>& required) {
  for (std::string_view name : required) {
    const KernelFeature* f = features.find(name);
    if (f != nullptr && f->on) continue;
    std::string msg = "kernel " + features.kernel + " cannot run " + std::string(name);
    if (f != nullptr && !f->detail.empty()) msg += ": " + f->detail;
    msg += " (kernel floors per feature: docs/kernels.md)";
    return make_error(0, std::move(msg));
  }
  return {};
}

}  // namespace sluice
