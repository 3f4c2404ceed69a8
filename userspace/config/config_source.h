// Where the daemon's resources come from: the config directory (files,
// here), or the Kubernetes API (k8s/kube_source.h). The reload step
// (config_reloader.h) is the same for both.
#pragma once

#include <string>
#include <vector>

#include "resource_loader.h"

namespace sluice::config {

class ConfigSource {
 public:
  virtual ~ConfigSource() = default;
  // Everything the source holds now, with the diagnostics of loading it.
  // One caller at a time.
  virtual LoadResult load() = 0;
  // For logs and /config: "files: /etc/sluice", "kubernetes: https://...".
  virtual std::string describe() const = 0;
};

// YAML files and directories, parsed through a cache so a reload reads only
// what changed.
class FileSource : public ConfigSource {
 public:
  explicit FileSource(std::vector<std::string> paths) : paths_(std::move(paths)) {}
  LoadResult load() override { return load_resources(paths_, &cache_); }
  std::string describe() const override;

 private:
  std::vector<std::string> paths_;
  ResourceCache cache_;
};

}  // namespace sluice::config
