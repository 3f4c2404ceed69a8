// Label and field selectors as the Kubernetes API parses them from the
// labelSelector and fieldSelector query parameters
// (k8s.io/apimachinery/pkg/labels and .../fields):
//   labels: "a=b", "a==b", "a!=b", "a in (x,y)", "a notin (x,y)", "a", "!a",
//           requirements joined by commas (all must hold);
//   fields: "f=v", "f==v", "f!=v" joined by commas, over the field labels a
//           resource type supports (metadata.name, metadata.namespace and a
//           few per type, such as spec.nodeName on pods or type on secrets).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.h"

namespace sluice::testing {

// Sorted by key, as a stored object keeps its labels and field values.
using KubeLabels = std::vector<std::pair<std::string, std::string>>;

// The value of `key` in sorted pairs, or nullptr.
const std::string* find_label(const KubeLabels& pairs, std::string_view key);

class LabelSelector {
 public:
  // An empty text selects everything. The error message is the API's wording
  // ("unable to parse requirement: ...") for a 400 Status.
  static Result<LabelSelector> parse(std::string_view text);
  bool matches(const KubeLabels& labels) const;
  bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  // `supported` lists the field labels the resource type knows; any other
  // gives the API's error "field label not supported: X".
  static Result<FieldSelector> parse(std::string_view text, const std::vector<std::string>& supported);
  bool matches(const KubeLabels& fields) const;  // fields: label -> value, sorted
  bool empty() const { return terms_.empty(); }

 private:
  struct Term {
    std::string field;
    std::string value;
    bool equals;
  };
  std::vector<Term> terms_;
};

}  // namespace sluice::testing
