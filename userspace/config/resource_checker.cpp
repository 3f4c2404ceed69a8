#include "resource_checker.h"

#include <re2/re2.h>

#include <map>
#include <set>
#include <strings.h>

namespace sluice::config {

namespace net = istio::networking;

namespace {

// Envoy's limit on a regex's program, approximated by its length (Istio's
// validateStringRegexp).
constexpr size_t kMaxRegexLength = 1024;

bool is_internal_header(const std::string& name) { return name.starts_with(":") || strcasecmp(name.c_str(), "host") == 0; }
bool is_authority_header(const std::string& name) {
  return strcasecmp(name.c_str(), ":authority") == 0 || strcasecmp(name.c_str(), "host") == 0;
}

// ValidateHTTPHeaderValue without Envoy's %VARIABLE% syntax check: no
// control characters but tab.
bool header_value_ok(const std::string& v) {
  for (unsigned char c : v) {
    if ((c <= 0x08) || (c >= 0x0a && c <= 0x1f) || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string idx(const std::string& path, int i) { return path + "[" + std::to_string(i) + "]"; }

ResourceChecker::ResourceChecker(const Source& src, const Meta& meta, std::vector<Diagnostic>& out)
    : src_(src), meta_(meta), sink_(out) {
  sink_.set_context(src.file(), meta.id());
}

void ResourceChecker::error(const std::string& path, std::string message) {
  sink_.error(src_.line_of(path), path, std::move(message));
}

void ResourceChecker::warning(const std::string& path, std::string message) {
  sink_.warning(src_.line_of(path), path, std::move(message));
}

void ResourceChecker::finding(const std::string& path, std::string code, std::string message) {
  sink_.warning(src_.line_of(path), path, std::move(message), std::move(code));
}

void ResourceChecker::error_if(const std::string& path, const Problem& problem) {
  if (problem) error(path, *problem);
}

void ResourceChecker::port(const std::string& path, uint64_t number) {
  if (number < 1 || number > 65535) error(path, "port " + std::to_string(number) + " out of range 1-65535");
}

void ResourceChecker::percent(const std::string& path, const net::Percent& p) {
  const double v = p.value();
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) {
    error(path, "percentage " + std::to_string(v) + " is neither 0.0, nor in range [0.0001, 100.0]");
  }
}

void ResourceChecker::duration(const std::string& path, const google::protobuf::Duration& d) {
  error_if(path, check_duration(d));
}

void ResourceChecker::regex(const std::string& path, const std::string& pattern) {
  if (pattern.size() > kMaxRegexLength) {
    error(path, "regex is too large, max length allowed is 1024");
    return;
  }
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok()) error(path, "invalid RE2 regex '" + pattern + "': " + re.error());
}

void ResourceChecker::string_match(const std::string& path, const net::StringMatch& m, bool allow_empty_prefix) {
  switch (m.match_type_case()) {
    case net::StringMatch::kPrefix:
      if (m.prefix().empty() && !allow_empty_prefix) error(path + ".prefix", "prefix string match should not be empty");
      break;
    case net::StringMatch::kRegex:
      if (m.regex().empty()) {
        error(path + ".regex", "regex string match should not be empty");
      } else {
        regex(path + ".regex", m.regex());
      }
      break;
    default:
      break;
  }
}

void ResourceChecker::labels(const std::string& path, const google::protobuf::Map<std::string, std::string>& labels) {
  error_if(path, check_labels(labels));
}

void ResourceChecker::selector_labels(const std::string& path,
                                      const google::protobuf::Map<std::string, std::string>& labels) {
  const std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  for (const auto& [k, v] : sorted) {
    if (k.empty()) error(path, "empty key is not supported in selector: \"=" + v + "\"");
    if (k.find('*') != std::string::npos || v.find('*') != std::string::npos) {
      error(path, "wildcard is not supported in selector: \"" + k + "=" + v + "\"");
    }
  }
}

void ResourceChecker::ip_subnet(const std::string& path, const std::string& s) { error_if(path, check_ip_subnet(s)); }

void ResourceChecker::export_to(const std::string& path, const google::protobuf::RepeatedPtrField<std::string>& export_to,
                                bool service_entry, bool selector_rule) {
  if (export_to.empty()) return;
  std::set<std::string> seen;
  for (int i = 0; i < export_to.size(); ++i) {
    const std::string& e = export_to[i];
    const std::string key = e == "." ? meta_.ns : e;
    const std::string p = idx(path, i);
    if (seen.count(key)) {
      error(p, key != e ? "duplicate entries in exportTo: . and current namespace " + meta_.ns
                        : "duplicate entries in exportTo for entry " + e);
    } else if ((service_entry && e == "~") || key == "*" || is_dns1123_label(key)) {
      seen.insert(key);
    } else {
      error(p, "only .,*, or a valid DNS 1123 label is allowed as exportTo entry");
    }
  }
  if (selector_rule && !seen.empty()) {
    if (!seen.count(meta_.ns)) {
      error(path, "destination rule with workload selector cannot have exportTo beyond current namespace");
    } else if (seen.size() > 1) {
      error(path, "destination rule with workload selector cannot have multiple entries in exportTo");
    }
  }
  if (seen.count("*") && export_to.size() > 1) {
    error(path, "cannot have both public (*) and non-public exportTo values for a resource");
  }
  if (seen.count("~") && export_to.size() > 1) error(path, "cannot export service entry to no one (~) and someone");
}

void ResourceChecker::header_operations(const std::string& path, const net::Headers& headers) {
  // Request headers may set the authority (checked against rewrite.authority
  // by the route); the response's, and removals, may not touch Host.
  auto names = [&](const std::string& p, const auto& map, bool request) {
    for (const auto& [name, value] : map) {
      const std::string np = p + "." + name;
      if (name.empty()) {
        error(p, "header name cannot be empty");
      } else if (request ? (is_internal_header(name) && !is_authority_header(name)) : name.starts_with(":")) {
        error(np, "invalid header \"" + name + "\": header cannot have \":\" prefix");
      } else if (!request && strcasecmp(name.c_str(), "host") == 0) {
        error(np, "invalid header \"" + name + "\": cannot set Host header");
      }
      if (!header_value_ok(value)) error(np, "header value configuration " + value + " is invalid");
    }
  };
  auto removals = [&](const std::string& p, const auto& list) {
    for (int i = 0; i < list.size(); ++i) {
      const std::string& name = list[i];
      if (name.empty()) {
        error(idx(p, i), "header name cannot be empty");
      } else if (strcasecmp(name.c_str(), "host") == 0) {
        error(idx(p, i), "invalid header \"" + name + "\": cannot set Host header");
      } else if (name.starts_with(":")) {
        error(idx(p, i), "invalid header \"" + name + "\": header cannot have \":\" prefix");
      }
    }
  };
  if (headers.has_request()) {
    names(path + ".request.add", headers.request().add(), true);
    names(path + ".request.set", headers.request().set(), true);
    removals(path + ".request.remove", headers.request().remove());
  }
  if (headers.has_response()) {
    names(path + ".response.add", headers.response().add(), false);
    names(path + ".response.set", headers.response().set(), false);
    removals(path + ".response.remove", headers.response().remove());
  }
}

}  // namespace sluice::config
