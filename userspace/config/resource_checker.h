// What the one-resource checks (resource_checks.h) share: the diagnostic
// sink of one resource, which finds each field's line, and the checks of
// small values that every kind repeats (ports, durations, regexes,
// percentages, hosts, header names).
#pragma once

#include <string>
#include <vector>

#include "diagnostic.h"
#include "istio_syntax.h"
#include "networking.pb.h"
#include "resource_set.h"

namespace sluice::config {

// "path[i]"
std::string idx(const std::string& path, int i);

class ResourceChecker {
 public:
  ResourceChecker(const Source& src, const Meta& meta, std::vector<Diagnostic>& out);

  const Meta& meta() const { return meta_; }
  const Source& source() const { return src_; }

  void error(const std::string& path, std::string message);
  void warning(const std::string& path, std::string message);
  // A warning about a reference to another resource, with Istio's code.
  void finding(const std::string& path, std::string code, std::string message);
  // Reports `problem` as an error at path when there is one.
  void error_if(const std::string& path, const Problem& problem);

  // 1-65535.
  void port(const std::string& path, uint64_t number);
  // Istio's validatePercentage: 0, or in [0.0001, 100].
  void percent(const std::string& path, const istio::networking::Percent& p);
  // agent.ValidateDuration.
  void duration(const std::string& path, const google::protobuf::Duration& d);
  // RE2 syntax, at most 1024 characters (Envoy's program-size limit as Istio
  // approximates it).
  void regex(const std::string& path, const std::string& pattern);
  // validateStringMatch: no empty prefix (unless allowed) or regex, a valid
  // regex. uri allows an empty prefix; the other matches do not.
  void string_match(const std::string& path, const istio::networking::StringMatch& m, bool allow_empty_prefix = false);
  // labels.Instance.Validate.
  void labels(const std::string& path, const google::protobuf::Map<std::string, std::string>& labels);
  // The labels of a workload selector: no empty key, no wildcard.
  void selector_labels(const std::string& path, const google::protobuf::Map<std::string, std::string>& labels);
  // An IP or CIDR (agent.ValidateIPSubnet).
  void ip_subnet(const std::string& path, const std::string& s);
  // validateExportTo.
  void export_to(const std::string& path, const google::protobuf::RepeatedPtrField<std::string>& export_to,
                 bool service_entry, bool selector_rule);
  // Header names and values of header operations (HTTP route and
  // destination `headers`).
  void header_operations(const std::string& path, const istio::networking::Headers& headers);

 private:
  const Source& src_;
  const Meta& meta_;
  DiagnosticSink sink_;
};

}  // namespace sluice::config
