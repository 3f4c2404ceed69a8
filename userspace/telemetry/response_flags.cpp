#include "response_flags.h"

#include <array>

namespace sluice::telemetry {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(ResponseFlag::kCount)> kNames = {
    "LH", "UH", "UT",   "LR",   "UF", "UC",  "UO", "NR",  "DI",   "FI",   "RL", "UAEX", "RLSE", "DC",
    "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "RBAC",
};

}  // namespace

std::string_view response_flag_name(ResponseFlag f) {
  const auto i = static_cast<size_t>(f);
  return i < kNames.size() ? kNames[i] : "?";
}

std::string ResponseFlags::str() const {
  if (bits_ == 0) return "-";
  std::string out;
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (!(bits_ & (uint32_t{1} << i))) continue;
    if (!out.empty()) out += ',';
    out += kNames[i];
  }
  return out;
}

}  // namespace sluice::telemetry
