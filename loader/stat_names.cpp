#include "stat_names.h"

#include <array>

#include "stat_reasons.h"

namespace sluice {

std::string_view stat_reason_name(unsigned reason) {
  static constexpr std::array<std::string_view, SL_R__COUNT> kNames = {
      "connect_pass_unknown", "connect_balanced",   "connect_cb_refused",
      "connect_no_backend",   "connect_panic",      "connect_map_error",
      "sendmsg_pass_unknown", "sendmsg_balanced",   "sendmsg_sticky",
      "sendmsg_no_backend",   "recvmsg_reversed",   "recvmsg_pass",
      "getpeer_reversed",     "getpeer_pass",       "sockops_counted",
      "sockops_released",     "sockops_floor",      "sock_storage_full",
      "connect_redirected",   "connect_proxy_down", "connect_bypass",
      "orig_dst_recorded",
  };
  static_assert(kNames.size() == SL_R__COUNT);
  return reason < kNames.size() ? kNames[reason] : "unknown";
}

}  // namespace sluice
