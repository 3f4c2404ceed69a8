// Durations as Istio YAML writes them: Go-style "1.5s", "250ms", "5m",
// "1h30m" (Istio accepts these, not only protobuf's seconds form).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::config {

// Nanoseconds, or nullopt if text is not a valid non-negative duration.
std::optional<int64_t> parse_duration_ns(std::string_view text);

}  // namespace sluice::config
