// The one list of what sluice parses but does not act on. Every Istio field
// parses (a config written for Istio loads), so that nobody believes a
// setting is in force when it is not, each use of a listed field, kind or
// mode gets a warning:
//   "not implemented by sluice; ignored"  the field changes nothing here;
//   "parsed, not enforced by sluice"      a policy (authorization, egress
//                                         mode) that sluice will enforce, but
//                                         does not yet: traffic flows as if
//                                         it were absent.
// A feature that lands removes its entry; docs/config.md lists the entries.
#pragma once

#include <google/protobuf/message.h>

#include <span>
#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "resource_set.h"

namespace sluice::config {

enum class Support {
  kIgnored,      // not implemented by sluice; ignored
  kNotEnforced,  // parsed, not enforced by sluice
};

struct UnimplementedField {
  // The protobuf message, relative to sluice.istio ("networking.TrafficPolicy").
  std::string_view message;
  // The field in it, as a path of proto field names ("tls", "headers.response");
  // empty: the whole resource, when `message` is a kind's spec.
  std::string_view field;
  // An enum value the field must have (its name); empty: any use of the field.
  std::string_view value;
  Support support;
  // What happens instead, or why; appended to the warning.
  std::string_view note;
};

// The table.
std::span<const UnimplementedField> unimplemented_fields();

// "not implemented by sluice; ignored" or "parsed, not enforced by sluice".
std::string_view support_phrase(Support s);

// Appends a warning (file, line, resource, field path) for each entry of the
// table that `spec`, the spec of the resource `meta`, uses.
void check_unimplemented(const google::protobuf::Message& spec, const Source& source, const Meta& meta,
                         std::vector<Diagnostic>& out);

}  // namespace sluice::config
