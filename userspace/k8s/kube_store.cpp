#include "kube_store.h"

#include <algorithm>
#include <set>

#include "object_reader.h"

namespace sluice::kube {

KubeStore::KubeStore(std::vector<ResourceType> types)
    : types_(std::move(types)), objects_(types_.size()), synced_(types_.size(), false) {}

KubeStore::Object KubeStore::convert(const ResourceType& t, const config::JsonView& object, std::string& key) {
  auto out = std::make_shared<config::FileResources>();
  static const config::ObjectOrigin kOrigin{kApiSourceName, nullptr, 0};
  config::ObjectReader<config::JsonView> reader(kOrigin, out->resources, out->diagnostics);
  reader.read_as(object, t.api_version(), t.kind);
  const config::JsonView md = object["metadata"];
  const std::string name = md["name"].str();
  const std::string ns = md["namespace"].str();
  key = name.empty() ? "" : ns.empty() ? name : ns + "/" + name;
  return out;
}

bool KubeStore::upsert(size_t type, const std::string& key, Object object) {
  std::lock_guard lock(mu_);
  objects_[type][key] = std::move(object);
  return true;
}

bool KubeStore::remove(size_t type, const std::string& key) {
  std::lock_guard lock(mu_);
  return objects_[type].erase(key) > 0;
}

std::vector<std::string> KubeStore::replace(size_t type, Objects objects) {
  std::lock_guard lock(mu_);
  std::vector<std::string> gone;
  for (const auto& [key, _] : objects_[type]) {
    if (!objects.count(key)) gone.push_back(key);
  }
  objects_[type] = std::move(objects);
  return gone;
}

void KubeStore::set_synced(size_t type) {
  std::lock_guard lock(mu_);
  synced_[type] = true;
}

bool KubeStore::synced() const {
  std::lock_guard lock(mu_);
  return std::all_of(synced_.begin(), synced_.end(), [](bool s) { return s; });
}

size_t KubeStore::size(size_t type) const {
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

config::LoadResult KubeStore::load() const {
  config::LoadResult out;
  std::lock_guard lock(mu_);
  // Gateway credentials: the Secrets worth keeping ("name" or "namespace/name").
  std::set<std::string> credentials;
  for (size_t t = 0; t < types_.size(); ++t) {
    if (types_[t].kind != "Gateway") continue;
    for (const auto& [_, object] : objects_[t]) {
      for (const auto& gw : object->resources.gateways) {
        for (const auto& server : gw->spec.servers()) {
          if (!server.tls().credential_name().empty()) credentials.insert(server.tls().credential_name());
        }
      }
    }
  }
  size_t total = 0;
  for (const auto& objects : objects_) total += objects.size();
  out.files.reserve(total);
  out.file_resources.reserve(total);
  for (size_t t = 0; t < types_.size(); ++t) {
    const bool secrets = types_[t].kind == "Secret";
    for (const auto& [key, object] : objects_[t]) {
      if (secrets) {
        const std::string name = key.substr(key.find('/') + 1);
        if (!credentials.count(name) && !credentials.count(key)) continue;
      }
      out.files.push_back(types_[t].plural + "/" + key);
      out.file_resources.push_back(object);
      out.resources.append(object->resources);
      out.diagnostics.insert(out.diagnostics.end(), object->diagnostics.begin(), object->diagnostics.end());
    }
  }
  config::ResourceSet& rs = out.resources;
  istio_order(rs.virtual_services), istio_order(rs.destination_rules), istio_order(rs.service_entries);
  istio_order(rs.gateways), istio_order(rs.sidecars), istio_order(rs.authorization_policies);
  return out;
}

}  // namespace sluice::kube
