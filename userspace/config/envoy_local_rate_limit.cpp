#include "envoy_local_rate_limit.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>

#include "duration.h"

namespace sluice::config {

namespace {

using google::protobuf::Value;
using Filter = istio::networking::EnvoyFilter;

// A field by its proto name or its JSON (lowerCamelCase) name: Envoy reads
// either, so Istio's users write either.
const Value* field(const Value* v, const std::string& name) {
  if (!v || !v->has_struct_value()) return nullptr;
  const auto& fields = v->struct_value().fields();
  if (auto it = fields.find(name); it != fields.end()) return &it->second;
  std::string camel;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '_' && i + 1 < name.size()) {
      camel += static_cast<char>(std::toupper(static_cast<unsigned char>(name[++i])));
    } else {
      camel += name[i];
    }
  }
  auto it = fields.find(camel);
  return it == fields.end() ? nullptr : &it->second;
}

std::string text(const Value* v) {
  if (!v) return "";
  if (v->has_string_value()) return v->string_value();
  if (v->has_number_value()) {
    const double d = v->number_value();
    if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    return std::to_string(d);
  }
  if (v->has_bool_value()) return v->bool_value() ? "true" : "false";
  return "";
}

// An unsigned integer written as a number or a string ("4"): protobuf's JSON
// mapping allows both for uint32.
template <class T>
std::optional<T> parse_whole(std::string_view t) {
  T out = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return out;
}

std::optional<uint32_t> whole(const Value* v) { return parse_whole<uint32_t>(text(v)); }

// envoy.type.v3.FractionalPercent {numerator, denominator: HUNDRED |
// TEN_THOUSAND | MILLION}, in runtime_fractional_percent.default_value.
std::optional<double> fraction(const Value* runtime, std::string& problem) {
  const Value* fp = field(runtime, "default_value");
  if (!fp) return 0.0;
  const auto numerator = whole(field(fp, "numerator"));
  const std::string denominator = text(field(fp, "denominator"));
  double scale = 100;
  if (denominator == "TEN_THOUSAND") {
    scale = 10000;
  } else if (denominator == "MILLION") {
    scale = 1000000;
  } else if (!denominator.empty() && denominator != "HUNDRED") {
    problem = "denominator must be HUNDRED, TEN_THOUSAND or MILLION, found \"" + denominator + "\"";
    return std::nullopt;
  }
  return std::min(1.0, static_cast<double>(numerator.value_or(0)) / scale);
}

// A LocalRateLimit message: the typed_config itself, or its TypedStruct's value.
const Value* local_rate_limit_config(const Value* typed) {
  const std::string type = text(field(typed, "@type"));
  if (type.ends_with("envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit")) return typed;
  if (type.ends_with("udpa.type.v1.TypedStruct") || type.ends_with("xds.type.v3.TypedStruct")) {
    if (text(field(typed, "type_url")).ends_with("envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit")) {
      return field(typed, "value");
    }
  }
  return nullptr;
}

// The bucket and the rest of a LocalRateLimit; false (with a problem) when
// something in it is invalid; false without one when it has no bucket.
bool read_config(const Value* cfg, const std::string& path, EnvoyLocalRateLimit& out, EnvoyFilterReading& r) {
  const Value* bucket = field(cfg, "token_bucket");
  if (!bucket) return false;
  const auto max_tokens = whole(field(bucket, "max_tokens"));
  if (!max_tokens || *max_tokens == 0) {
    r.errors.push_back({path + ".token_bucket.max_tokens", "max_tokens must be a whole number greater than 0"});
    return false;
  }
  out.max_tokens = *max_tokens;
  if (const Value* per_fill = field(bucket, "tokens_per_fill")) {
    const auto n = whole(per_fill);
    if (!n || *n == 0) {
      r.errors.push_back({path + ".token_bucket.tokens_per_fill", "tokens_per_fill must be greater than 0"});
      return false;
    }
    out.tokens_per_fill = *n;
  }
  const auto ns = parse_duration_ns(text(field(bucket, "fill_interval")));
  if (!ns || *ns < 50'000'000) {
    // Envoy's own floor for a local bucket.
    r.errors.push_back({path + ".token_bucket.fill_interval", "fill_interval must be a duration of at least 50ms"});
    return false;
  }
  out.fill_interval = std::chrono::milliseconds(*ns / 1'000'000);
  for (const char* key : {"filter_enabled", "filter_enforced"}) {
    std::string problem;
    const auto f = fraction(field(cfg, key), problem);
    if (!f) {
      r.errors.push_back({path + "." + key, problem});
      return false;
    }
    (std::string(key) == "filter_enabled" ? out.enabled : out.enforced) = *f;
  }
  if (const Value* headers = field(cfg, "response_headers_to_add"); headers && headers->has_list_value()) {
    for (const Value& h : headers->list_value().values()) {
      const Value* header = field(&h, "header");
      const std::string key = text(field(header, "key"));
      if (!key.empty()) out.response_headers.emplace_back(key, text(field(header, "value")));
    }
  }
  return true;
}

// "inbound|http|9080" -> 9080.
uint16_t inbound_port(const std::string& vhost) {
  const size_t bar = vhost.rfind('|');
  if (!vhost.starts_with("inbound|") || bar == std::string::npos) return 0;
  return parse_whole<uint16_t>(std::string_view(vhost).substr(bar + 1)).value_or(0);
}

}  // namespace

EnvoyFilterReading read_envoy_filter(const Filter& f) {
  EnvoyFilterReading r;
  for (int i = 0; i < f.config_patches_size(); ++i) {
    const auto& p = f.config_patches(i);
    const std::string path = "spec.configPatches[" + std::to_string(i) + "]";
    const Filter::PatchContext context = p.match().context();
    EnvoyLocalRateLimit limit;
    limit.path = path;
    limit.context = context;
    const Value* value = p.patch().has_value() ? &p.patch().value() : nullptr;
    bool pattern = false;
    if (p.apply_to() == Filter::HTTP_FILTER && text(field(value, "name")) == kLocalRateLimitFilter) {
      pattern = true;
      const Value* cfg = local_rate_limit_config(field(value, "typed_config"));
      if (!cfg) {
        r.errors.push_back({path + ".patch.value.typed_config",
                            "a local_ratelimit filter needs a LocalRateLimit typed_config (inline or in a TypedStruct)"});
        continue;
      }
      limit.port = static_cast<uint16_t>(p.match().listener().port_number());
      // No bucket at the filter: it only enables the filter for the
      // per-route buckets (an HTTP_ROUTE patch), as in Istio's task.
      if (!read_config(cfg, path + ".patch.value.typed_config", limit, r)) continue;
    } else if (p.apply_to() == Filter::HTTP_ROUTE) {
      const Value* per_filter = field(field(value, "typed_per_filter_config"), kLocalRateLimitFilter);
      if (per_filter) {
        pattern = true;
        const Value* cfg = local_rate_limit_config(per_filter);
        const std::string cfg_path = path + ".patch.value.typed_per_filter_config";
        if (!cfg) {
          r.errors.push_back({cfg_path, "needs a LocalRateLimit config (inline or in a TypedStruct)"});
          continue;
        }
        const auto& rc = p.match().route_configuration();
        limit.port = rc.port_number() ? static_cast<uint16_t>(rc.port_number()) : inbound_port(rc.vhost().name());
        if (!read_config(cfg, cfg_path, limit, r)) {
          if (!field(cfg, "token_bucket")) r.errors.push_back({cfg_path, "a per-route local rate limit needs a token_bucket"});
          continue;
        }
      }
    }
    if (!pattern) {
      r.unsupported.push_back({path, "EnvoyFilter patches are not applied (sluice runs no Envoy); only Envoy's local "
                                     "rate limit (" + std::string(kLocalRateLimitFilter) + ") is translated"});
      continue;
    }
    if (context == Filter::GATEWAY) {
      r.unsupported.push_back({path + ".match.context", "a local rate limit at the GATEWAY is not translated"});
      continue;
    }
    r.limits.push_back(std::move(limit));
  }
  return r;
}

}  // namespace sluice::config
