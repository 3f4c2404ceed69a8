// The objects read from the Kubernetes API, converted to sluice's types as
// they arrive, by type and namespace/name. Reflectors (reflector.h) write
// it from the client's thread; the reload step reads it (load()) from the
// daemon's. Each object is kept as the resources and diagnostics of one
// "file" named after it, so the reload's patch path (config/snapshot_patch.h)
// sees which objects changed exactly as it sees changed files.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "json_view.h"
#include "resource_loader.h"
#include "resource_types.h"

namespace sluice::kube {

// The name objects from the API carry as their "file" in diagnostics.
inline constexpr const char* kApiSourceName = "kubernetes";

class KubeStore {
 public:
  using Object = std::shared_ptr<const config::FileResources>;
  using Objects = std::map<std::string, Object>;  // by "namespace/name"

  explicit KubeStore(std::vector<ResourceType> types);

  // Converts one API object of type t: a list item or a watch event's
  // object. key gets "namespace/name" ("name" for cluster-scoped kinds);
  // empty if the object has no name.
  static Object convert(const ResourceType& t, const config::JsonView& object, std::string& key);

  // Each returns true if anything changed.
  bool upsert(size_t type, const std::string& key, Object object);
  bool remove(size_t type, const std::string& key);
  // A relist: the objects of a type are now exactly these. Returns the keys
  // of those that disappeared.
  std::vector<std::string> replace(size_t type, Objects objects);
  void set_synced(size_t type);

  // Every type has been listed once.
  bool synced() const;
  size_t size(size_t type) const;
  const std::vector<ResourceType>& types() const { return types_; }

  // Everything, as one load. Istio resources are in Istio's order of
  // precedence (oldest first); of the TLS Secrets, only those a Gateway
  // names are in it.
  config::LoadResult load() const;

 private:
  const std::vector<ResourceType> types_;
  mutable std::mutex mu_;
  std::vector<Objects> objects_;  // by type index
  std::vector<bool> synced_;
};

}  // namespace sluice::kube
