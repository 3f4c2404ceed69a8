// Per-resource admission: an invalid resource is rejected alone, and
// everything else applies.
//
// A Kubernetes API watch delivers resources one at a time and in any order,
// and Istio admits each on its own; so does sluice, for the config directory
// too. When a resource is rejected (it does not parse, or a check of the
// resource alone fails), its last good version stays in force if there is
// one, else it is absent. Only a file that is not valid YAML is rejected
// whole: the resources it held before stay in force. A later object with the
// kind, namespace and name of an earlier one replaces it, as `kubectl apply`
// of the files in order would.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "diagnostic.h"
#include "resource_set.h"

namespace sluice::config {

// What the errors among diags reject: resources (by Meta::id()), and files
// that did not parse or could not be read (errors that name no resource).
struct Rejections {
  std::set<std::string> resources;
  std::set<std::string> files;
  bool empty() const { return resources.empty() && files.empty(); }
};
Rejections rejections_of(const std::vector<Diagnostic>& diags);

// Keeps the last of each kind/namespace/name; a warning names each object
// replaced. Returns true if any was.
bool replace_duplicates(ResourceSet& rs, std::vector<Diagnostic>& out);

// Removes the rejected resources from rs and puts back, from last_good (the
// resources in force; may be null), the version of each rejected resource
// and every resource of a rejected file, with a warning saying so.
void keep_last_good(ResourceSet& rs, const Rejections& rejected, const ResourceSet* last_good,
                    std::vector<Diagnostic>& out);

}  // namespace sluice::config
