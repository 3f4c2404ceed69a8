// sluicectl's tables for people, made from the admin API's JSON (the same
// JSON `--json` prints as it is): `routes`, `endpoints` and `status`.
#pragma once

#include <string>
#include <string_view>

#include "result.h"

namespace sluice {

// Each returns the table, or an error naming what the JSON lacked.
Result<std::string> routes_table(std::string_view routes_json);
Result<std::string> endpoints_table(std::string_view endpoints_json);
// `sluicectl top`: per service, requests per second, the share of errors
// and the p99 latency over the `seconds` between two /stats/services
// answers; busiest first.
Result<std::string> top_table(std::string_view before_json, std::string_view after_json, double seconds);
// /config's JSON as "key: value" lines: version, source, reloads, rejected
// resources, the last reload's size and time, and each error and warning.
Result<std::string> config_status_text(std::string_view config_json);

}  // namespace sluice
