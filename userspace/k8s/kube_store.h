// The objects read from the Kubernetes API, converted to sluice's types as
// they arrive, by type and namespace/name. Reflectors (reflector.h) write
// it from the client's thread; the reload step reads it (load()) from the
// daemon's. Each object is kept as its one resource (config::AnyResource)
// and the diagnostics of its conversion. The store keeps the whole ResourceSet assembled as objects
// come and go, and notes which objects changed since the last load: load()
// hands that over as a SourceDelta, so a reload's patch
// (config/snapshot_patch.h) works on the change alone, not on the cluster.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "json_view.h"
#include "reflector_status.h"
#include "resource_loader.h"
#include "resource_types.h"

namespace sluice::kube {

// The name objects from the API carry as their "file" in diagnostics.
inline constexpr const char* kApiSourceName = "kubernetes";

class KubeStore {
 public:
  // What one API object became.
  struct Object {
    config::AnyResource resource;                 // none if it did not convert
    std::vector<config::Diagnostic> diagnostics;  // of its conversion
  };
  // By "namespace/name". A hash node is the smallest at 100k Pods, and a
  // list's map becomes the store's as it is (no second allocation per
  // object, which would leave the first ones as holes in the heap).
  using Objects = std::unordered_map<std::string, Object>;

  // node_name: this node's, whose Pods the store counts apart.
  explicit KubeStore(std::vector<ResourceType> types, std::string node_name = "");

  // Converts one API object of type t: a list item or a watch event's
  // object. key gets "namespace/name" ("name" for cluster-scoped kinds);
  // empty if the object has no name.
  static Object convert(const ResourceType& t, const config::JsonView& object, std::string& key);

  // An object added or replaced, or removed (absent: nothing happens).
  void upsert(size_t type, const std::string& key, Object object);
  void remove(size_t type, const std::string& key);
  // A relist: the objects of a type are now exactly these. Returns the keys
  // of those that disappeared.
  std::vector<std::string> replace(size_t type, Objects objects);
  void set_synced(size_t type);

  // Every type has been listed once.
  bool synced();
  size_t size(size_t type);
  NodePods node_pods();
  const std::vector<ResourceType>& types() const { return types_; }

  // Everything, as one load. Istio resources are in Istio's order of
  // precedence (oldest first); of the TLS Secrets, only those a Gateway
  // names are in it.
  config::LoadResult load();

 private:
  using Key = std::pair<size_t, std::string>;  // type, namespace/name
  // Under mu_: records that an object's resource was replaced (none:
  // absent) in the assembled set and the change since the last load; and
  // takes its diagnostics (null: gone) into with_diagnostics_.
  void record(size_t type, const std::string& key, const config::AnyResource& was, const config::AnyResource& is);
  void take_diagnostics(size_t type, const std::string& key, Object* object);

  const std::vector<ResourceType> types_;
  std::mutex mu_;
  std::vector<Objects> objects_;  // by type index; diagnostics moved out to with_diagnostics_
  std::vector<bool> synced_;
  config::ResourceSet assembled_;  // every object's resources but Secrets (filtered at load)
  std::map<Key, config::AnyResource> pending_;  // changed since the last load: the resource as it was then
  std::map<Key, std::vector<config::Diagnostic>> with_diagnostics_;
  uint64_t generation_ = 0;  // of the last load
  const std::string node_name_;
  size_t node_pods_ = 0;  // Pods whose spec.nodeName is node_name_
};

}  // namespace sluice::kube
