// kubectl's apply and delete for a config directory: one file per object,
// so that a later object with the same kind, namespace and name replaces
// the earlier one, and the daemon's directory watcher sees what kubectl's
// API server would hold.
//
//   DIR/<kind>-<namespace>-<name>.yaml   (kind in lower case)
//
// Files are written whole through a temporary file and a rename: the watcher
// never reads half an object. The temporary name starts with '.', which the
// loader skips. Objects in other files of the directory are not touched.
#pragma once

#include <string>
#include <vector>

#include "diagnostic.h"

namespace sluice::config {

struct ApplyReport {
  // kubectl's lines: "virtualservice.networking.istio.io/reviews created".
  std::vector<std::string> lines;
  // Why objects were refused (their errors, as `sluicectl validate` prints
  // them), and warnings about the ones written.
  std::vector<Diagnostic> diagnostics;
  size_t failed = 0;  // objects refused, unreadable or not found
};

// The file that holds an object: "<kind>-<namespace>-<name>.yaml".
std::string object_file_name(const std::string& kind, const std::string& ns, const std::string& name);

// Each object of `files` (documents, and the items of List objects) is
// checked on its own, as `sluicectl validate` does; a valid one is written
// to `dir`, an invalid one is refused and nothing is written for it.
ApplyReport apply_to_config_dir(const std::vector<std::string>& files, const std::string& dir);

// Removes the file of each object of `files` from `dir`; an object without
// one is reported as not found.
ApplyReport delete_from_config_dir(const std::vector<std::string>& files, const std::string& dir);

}  // namespace sluice::config
