// What the running kernel can do for sluice, found by loading rather than by
// version string: each feature's real BPF objects are loaded (not attached,
// nothing pinned) with the settings that keep all of its code, and the kernel
// either accepts them or says why not. When a load fails, small libbpf probes
// (program type, map type, helper per program type) name the first missing
// piece and the release it arrived in; failing that, the verifier's own line
// is the reason. docs/kernels.md has the table behind it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "json_writer.h"
#include "result.h"

namespace sluice {

// Feature names, as logged and shown on /ready?details.
inline constexpr std::string_view kFeatureSocketLb = "socket-lb";      // cgroup connect/sendmsg/recvmsg/getpeername + sockops
inline constexpr std::string_view kFeatureL7Redirect = "l7-redirect";  // connect4 to the node proxy, original destination
inline constexpr std::string_view kFeatureSockmap = "sockmap";         // sockops + sk_msg over a sockhash
inline constexpr std::string_view kFeatureXdp = "xdp";                 // XDP load balancer + TC reverse NAT
inline constexpr std::string_view kFeatureXdpForward = "xdp-forward";  // FIB lookup + redirect, xdp-features (6.3)

struct KernelFeature {
  std::string name;
  bool on = false;
  // On: what loaded. Off: the missing piece and the release that brought it,
  // or the verifier's complaint.
  std::string detail;
};

struct KernelFeatures {
  std::string kernel;  // uname -r
  std::vector<KernelFeature> features;

  const KernelFeature* find(std::string_view name) const;
  bool on(std::string_view name) const;
  // "socket-lb: on (…)" / "sockmap: off (…)", one per feature.
  std::vector<std::string> lines() const;
  // {"kernel":"…","features":[{"name":"…","on":true,"detail":"…"},…]}
  std::string to_json() const;
  // The same two fields, into an object the caller has open.
  void write_json_fields(JsonWriter& w) const;
};

// What one feature needs from the kernel, for the reason given when its load
// fails. Exposed for the table test and docs/kernels.md.
struct KernelNeed {
  // kLanguage: what the object file itself uses (instructions, global
  // data, attach points); not probed on its own, the trial load covers it.
  enum class Kind { kProgType, kMapType, kHelper, kNetdevFamily, kLanguage } kind;
  int prog_type = 0;  // enum bpf_prog_type: the program type, or the helper's
  int id = 0;         // enum bpf_map_type or enum bpf_func_id
  std::string_view what;   // "helper bpf_loop in cgroup/sock_addr programs"
  std::string_view since;  // "5.17"
};
const std::vector<KernelNeed>& kernel_needs(std::string_view feature);
// 1 when the running kernel has it, 0 when not, <0 when the probe failed.
int probe_kernel_need(const KernelNeed& need);

// The reason in a libbpf log of a refused load: the program and the
// verifier's last line before its summary.
std::string explain_refusal(const std::string& libbpf_log);

// Probes every feature. Takes some tens of milliseconds (a few verifier runs).
KernelFeatures probe_kernel_features();

// Ok when every feature in `required` is on; otherwise an error that names
// the first one that is off and why, and points at docs/kernels.md.
Status require_kernel_features(const KernelFeatures& features, const std::vector<std::string_view>& required);

}  // namespace sluice
