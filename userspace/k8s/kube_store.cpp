#include "kube_store.h"

#include <algorithm>
#include <set>

#include "object_reader.h"

namespace sluice::kube {

KubeStore::KubeStore(std::vector<ResourceType> types, std::string node_name)
    : types_(std::move(types)), objects_(types_.size()), synced_(types_.size(), false), node_name_(std::move(node_name)) {}

KubeStore::Object KubeStore::convert(const ResourceType& t, const config::JsonView& object, std::string& key) {
  Object out;
  config::ResourceSet read;
  static const auto kOrigin = std::make_shared<const config::SourceText>(config::SourceText{kApiSourceName, nullptr, 0});
  config::ObjectReader<config::JsonView> reader(kOrigin, read, out.diagnostics);
  reader.read_as(object, t.api_version(), t.kind);
  out.resource = read.first();
  const config::JsonView md = object["metadata"];
  const std::string name = md["name"].str();
  const std::string ns = md["namespace"].str();
  key = name.empty() ? "" : ns.empty() ? name : ns + "/" + name;
  return out;
}

void KubeStore::record(size_t type, const std::string& key, const config::AnyResource& was,
                       const config::AnyResource& is) {
  if (was == is) return;
  using PodPtr = std::shared_ptr<const config::K8sResource<k8s::Pod>>;
  auto on_this_node = [&](const config::AnyResource& r) {
    const PodPtr* pod = std::get_if<PodPtr>(&r);
    return !node_name_.empty() && pod && (*pod)->object.spec().node_name() == node_name_;
  };
  node_pods_ += on_this_node(is);
  node_pods_ -= on_this_node(was);
  if (types_[type].kind != "Secret") {  // Secrets are chosen at load
    assembled_.remove_unordered(was);
    assembled_.add(is);
  }
  pending_.try_emplace(Key{type, key}, was);  // the first change since the load keeps what the load saw
}

void KubeStore::take_diagnostics(size_t type, const std::string& key, Object* object) {
  Key k{type, key};
  if (object && !object->diagnostics.empty()) {
    with_diagnostics_[k] = std::move(object->diagnostics);
    object->diagnostics = {};
  } else {
    with_diagnostics_.erase(k);
  }
}

void KubeStore::upsert(size_t type, const std::string& key, Object object) {
  std::lock_guard lock(mu_);
  take_diagnostics(type, key, &object);
  Object& slot = objects_[type][key];
  const config::AnyResource was = std::exchange(slot.resource, std::move(object.resource));
  record(type, key, was, slot.resource);
}

void KubeStore::remove(size_t type, const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = objects_[type].find(key);
  if (it == objects_[type].end()) return;
  const config::AnyResource was = std::move(it->second.resource);
  objects_[type].erase(it);
  take_diagnostics(type, key, nullptr);
  record(type, key, was, {});
}

std::vector<std::string> KubeStore::replace(size_t type, Objects objects) {
  std::lock_guard lock(mu_);
  Objects& current = objects_[type];
  std::vector<std::string> gone;
  for (const auto& [key, before] : current) {
    if (objects.count(key)) continue;
    gone.push_back(key);
    take_diagnostics(type, key, nullptr);
    record(type, key, before.resource, {});
  }
  for (auto& [key, after] : objects) {
    auto it = current.find(key);
    take_diagnostics(type, key, &after);
    record(type, key, it == current.end() ? config::AnyResource() : it->second.resource, after.resource);
  }
  current = std::move(objects);
  return gone;
}

NodePods KubeStore::node_pods() {
  std::lock_guard lock(mu_);
  return {node_name_, node_pods_};
}

void KubeStore::set_synced(size_t type) {
  std::lock_guard lock(mu_);
  synced_[type] = true;
}

bool KubeStore::synced() {
  std::lock_guard lock(mu_);
  return std::all_of(synced_.begin(), synced_.end(), [](bool s) { return s; });
}

size_t KubeStore::size(size_t type) {
  std::lock_guard lock(mu_);
  return objects_[type].size();
}

namespace {

// Istio resolves conflicts between resources by age: the oldest wins, then
// by namespace and name.
template <class List>
void istio_order(List& list) {
  std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
    return std::tie(a->meta.created, a->meta.ns, a->meta.name) < std::tie(b->meta.created, b->meta.ns, b->meta.name);
  });
}

}  // namespace

config::LoadResult KubeStore::load() {
  config::LoadResult out;
  std::lock_guard lock(mu_);
  out.resources = assembled_;
  // Gateway credentials: the Secrets worth keeping ("name" or "namespace/name").
  std::set<std::string> credentials;
  for (const auto& gw : assembled_.gateways) {
    for (const auto& server : gw->spec.servers()) {
      if (!server.tls().credential_name().empty()) credentials.insert(server.tls().credential_name());
    }
  }
  for (size_t t = 0; t < types_.size(); ++t) {
    if (types_[t].kind != "Secret") continue;
    for (const auto& [key, object] : objects_[t]) {
      const std::string name = key.substr(key.find('/') + 1);
      if (credentials.count(name) || credentials.count(key)) out.resources.add(object.resource);
    }
  }
  for (const auto& [_, diagnostics] : with_diagnostics_) {
    out.diagnostics.insert(out.diagnostics.end(), diagnostics.begin(), diagnostics.end());
  }
  config::ResourceSet& rs = out.resources;
  istio_order(rs.virtual_services), istio_order(rs.destination_rules), istio_order(rs.service_entries);
  istio_order(rs.gateways), istio_order(rs.sidecars), istio_order(rs.authorization_policies);

  config::SourceDelta delta;
  delta.since = generation_;
  delta.generation = ++generation_;
  delta.changes.reserve(pending_.size());
  for (const auto& [k, before] : pending_) {
    auto it = objects_[k.first].find(k.second);
    delta.changes.emplace_back(before, it == objects_[k.first].end() ? config::AnyResource() : it->second.resource);
  }
  pending_.clear();
  out.delta = std::move(delta);
  return out;
}

}  // namespace sluice::kube
