#pragma once

#include <string_view>

namespace sluice {

// The name of a reason of enum sl_reason (maps/stat_reasons.h).
std::string_view stat_reason_name(unsigned reason);

}  // namespace sluice
