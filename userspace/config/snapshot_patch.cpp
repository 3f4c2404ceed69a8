#include "snapshot_patch.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "admission.h"
#include "label_selector.h"

namespace sluice::config {

namespace {

template <class T>
using Refs = SharedList<T>;

// The resources that left and arrived between two versions of the files.
struct Delta {
  Refs<K8sResource<k8s::Service>> services_gone, services_new;
  Refs<K8sResource<k8s::EndpointSlice>> slices_gone, slices_new;
  Refs<K8sResource<k8s::Pod>> pods_gone, pods_new;
  bool other_kinds = false;  // an Istio resource, a Secret or a Namespace changed

  template <class T>
  static void compare(const Refs<T>& before, const Refs<T>& after, Refs<T>& gone, Refs<T>& arrived) {
    std::unordered_set<const T*> old_set, new_set;
    for (const auto& r : before) old_set.insert(r.get());
    for (const auto& r : after) new_set.insert(r.get());
    for (const auto& r : before) {
      if (!new_set.count(r.get())) gone.push_back(r);
    }
    for (const auto& r : after) {
      if (!old_set.count(r.get())) arrived.push_back(r);
    }
  }

  // Same objects in the same order (order decides which of two rules wins).
  template <class T>
  static bool same(const Refs<T>& before, const Refs<T>& after) {
    if (before.size() != after.size()) return false;
    for (size_t i = 0; i < before.size(); ++i) {
      if (before[i] != after[i]) return false;
    }
    return true;
  }

  void add_file(const ResourceSet& before, const ResourceSet& after) {
    compare(before.services, after.services, services_gone, services_new);
    compare(before.endpoint_slices, after.endpoint_slices, slices_gone, slices_new);
    compare(before.pods, after.pods, pods_gone, pods_new);
    other_kinds = other_kinds || !same(before.virtual_services, after.virtual_services) ||
                  !same(before.destination_rules, after.destination_rules) ||
                  !same(before.service_entries, after.service_entries) || !same(before.gateways, after.gateways) ||
                  !same(before.sidecars, after.sidecars) || !same(before.envoy_filters, after.envoy_filters) ||
                  !same(before.authorization_policies, after.authorization_policies) ||
                  !same(before.rate_limit_policies, after.rate_limit_policies) ||
                  !same(before.secrets, after.secrets) || !same(before.namespaces, after.namespaces);
  }
};

Delta delta_of(const LoadResult& loaded, const BuildMemo& memo) {
  Delta d;
  static const ResourceSet kNone;
  if (loaded.delta) {
    for (const auto& [before, after] : loaded.delta->changes) {
      ResourceSet was, is;
      was.add(before), is.add(after);
      d.add_file(was, is);
      if (d.other_kinds) break;
    }
    return d;
  }
  std::unordered_set<std::string_view> present;
  for (size_t i = 0; i < loaded.files.size() && !d.other_kinds; ++i) {
    present.insert(loaded.files[i]);
    auto it = memo.base_files.find(loaded.files[i]);
    const FileResources* before = it == memo.base_files.end() ? nullptr : it->second.get();
    if (before == loaded.file_resources[i].get()) continue;
    d.add_file(before ? before->resources : kNone, loaded.file_resources[i]->resources);
  }
  for (const auto& [path, before] : memo.base_files) {
    if (!present.count(path)) d.add_file(before->resources, kNone);
  }
  return d;
}

template <class T>
uint64_t id_of(const T& r) {
  return ValidationMemo::IdHash()({r->meta.kind, r->meta.ns, r->meta.name});
}

// Resource identities stay unique: false if an arriving one is taken.
template <class T>
bool update_ids(ValidationMemo& v, const Refs<T>& gone, const Refs<T>& arrived) {
  for (const auto& r : gone) {
    auto it = v.ids.find(id_of(r));
    if (it != v.ids.end() && --it->second == 0) v.ids.erase(it);
  }
  for (const auto& r : arrived) {
    if (++v.ids[id_of(r)] > 1) return false;
  }
  return true;
}

class Patcher {
 public:
  Patcher(LoadResult& loaded, BuildMemo& memo, const MeshSnapshot& base)
      : loaded_(loaded), memo_(memo), base_(base) {}

  // False: a full build is needed.
  bool run(MeshSnapshot& snap) {
    delta_ = delta_of(loaded_, memo_);
    if (delta_.other_kinds || touches_rejected()) return false;
    // From here the memo is being changed: until this build is accepted, the
    // next one must be a full build.
    memo_.base.reset();
    ValidationMemo& v = memo_.validation;
    if (!update_ids(v, delta_.services_gone, delta_.services_new) ||
        !update_ids(v, delta_.slices_gone, delta_.slices_new) || !update_ids(v, delta_.pods_gone, delta_.pods_new)) {
      return false;  // a duplicate: the full build reports it
    }
    for (const auto& r : delta_.services_gone) {
      if (!forget_checked(r)) return false;
      memo_.inputs.remove(r);
    }
    for (const auto& r : delta_.slices_gone) memo_.inputs.remove(r);
    for (const auto& r : delta_.pods_gone) memo_.inputs.remove(r);
    for (const auto& r : delta_.slices_new) memo_.inputs.add(r);
    for (const auto& r : delta_.pods_new) memo_.inputs.add(r);
    for (const auto& r : delta_.services_new) memo_.inputs.add(r);

    snap.domain = base_.domain;
    snap.services = base_.services;
    snap.mesh_routes = base_.mesh_routes;
    snap.gateway_routes = base_.gateway_routes;
    for (const auto& r : delta_.services_new) {
      if (!check_alone(snap, r)) return false;
    }
    std::unordered_set<std::string> entry_hosts;
    for (const auto& r : loaded_.resources.service_entries) entry_hosts.insert(r->spec.hosts().begin(), r->spec.hosts().end());
    for (const std::string& key : touched_services()) {
      if (!rebuild(snap, key, entry_hosts)) return false;
    }
    return true;
  }

 private:
  // A gone Service whose own checks said something takes its diagnostic
  // with it: only a full build can drop it.
  bool forget_checked(const std::shared_ptr<const K8sResource<k8s::Service>>& r) {
    auto it = memo_.validation.local.find(r.get());
    if (it == memo_.validation.local.end() || !it->second.second.empty()) return false;
    memo_.validation.local.erase(it);
    return true;
  }

  // An arriving Service with anything to say about itself is left to the
  // full build, which puts the diagnostic in its place.
  bool check_alone(const MeshSnapshot& snap, const std::shared_ptr<const K8sResource<k8s::Service>>& r) {
    if (!check_service_alone(snap, *r).empty()) return false;
    memo_.validation.local.emplace(r.get(), std::make_pair(std::shared_ptr<const void>(r), std::vector<Diagnostic>{}));
    return true;
  }

  // Services ("namespace/name") whose inputs changed.
  std::unordered_set<std::string> touched_services() const {
    std::unordered_set<std::string> out;
    for (const auto* list : {&delta_.services_gone, &delta_.services_new}) {
      for (const auto& r : *list) out.insert(ServiceInputs::key(r->meta.ns, r->meta.name));
    }
    for (const auto* list : {&delta_.slices_gone, &delta_.slices_new}) {
      for (const auto& r : *list) {
        if (std::string owner = ServiceInputs::slice_owner(r->meta); !owner.empty()) out.insert(std::move(owner));
      }
    }
    // Pods count for the services whose selector picks them, before or after.
    std::unordered_map<std::string_view, std::vector<const Meta*>> pods_by_ns;
    for (const auto* list : {&delta_.pods_gone, &delta_.pods_new}) {
      for (const auto& r : *list) pods_by_ns[r->meta.ns].push_back(&r->meta);
    }
    if (pods_by_ns.empty()) return out;
    for (const auto& r : loaded_.resources.services) {
      const auto& selector = r->object.spec().selector();
      auto it = pods_by_ns.find(r->meta.ns);
      if (selector.empty() || it == pods_by_ns.end()) continue;
      for (const Meta* pod : it->second) {
        if (selector_matches(selector, pod->labels)) out.insert(ServiceInputs::key(r->meta.ns, r->meta.name));
      }
    }
    return out;
  }

  // Replaces one Kubernetes Service in the registry.
  bool rebuild(MeshSnapshot& snap, const std::string& key, const std::unordered_set<std::string>& entry_hosts) {
    const auto ref = memo_.inputs.service(key);
    const size_t slash = key.find('/');
    const Meta where{"Service", key.substr(slash + 1), key.substr(0, slash), {}};
    const std::string fqdn = kubernetes_fqdn(where, snap.domain);
    // A ServiceEntry for the same host yields to the Service: which one
    // holds it is the full build's call.
    if (entry_hosts.count(fqdn)) return false;
    snap.services.erase(fqdn);
    if (!ref) {
      memo_.services.erase(fqdn);
      return true;
    }
    const ServiceInputs::Sources sources = memo_.inputs.sources_of(*ref, fqdn);
    std::vector<std::shared_ptr<const void>> inputs = sources.identity(ref);
    std::shared_ptr<const Service> svc = ServiceInputs::build(*ref, fqdn, sources);
    memo_.services[fqdn] = {std::move(inputs), svc};
    snap.services.insert(fqdn, std::move(svc));
    return true;
  }

  // A change to a rejected resource is admission's to judge again.
  bool touches_rejected() const {
    if (memo_.base_rejected.empty()) return false;
    auto any = [&](const auto& list) {
      return std::any_of(list.begin(), list.end(), [&](const auto& r) { return memo_.base_rejected.count(r->meta.id()); });
    };
    return any(delta_.services_gone) || any(delta_.services_new) || any(delta_.slices_gone) ||
           any(delta_.slices_new) || any(delta_.pods_gone) || any(delta_.pods_new);
  }

  LoadResult& loaded_;
  BuildMemo& memo_;
  const MeshSnapshot& base_;
  Delta delta_;
};

}  // namespace

std::optional<BuildResult> patch_snapshot(LoadResult& loaded, uint64_t version, BuildMemo& memo) {
  // The source's own errors (objects that did not convert) must be those
  // of the base: each is a rejection standing there.
  if (!memo.base || error_texts(loaded.diagnostics) != memo.base_load_errors) return std::nullopt;
  // New DNS answers change ServiceEntries, which only a full build makes.
  if (loaded.resources.resolved_hosts != memo.base->resources.resolved_hosts) return std::nullopt;
  if (loaded.delta ? loaded.delta->since != memo.base_generation
                   : loaded.file_resources.size() != loaded.files.size()) {
    return std::nullopt;  // a delta on top of another build, or files without what they held
  }
  const SnapshotPtr base = memo.base;
  auto snap = std::make_shared<MeshSnapshot>();
  snap->version = version;
  if (!Patcher(loaded, memo, *base).run(*snap)) return std::nullopt;

  BuildResult result;
  result.patched = true;
  snap->resources = std::move(loaded.resources);
  // The rejections standing in base stand here too (the change does not
  // touch them): the source's versions out, base's last good ones in. The
  // source's set is kept until the patch is accepted, for a full build.
  std::optional<ResourceSet> as_loaded;
  if (!memo.base_rejected.empty()) {
    as_loaded = snap->resources;
    std::vector<Diagnostic> said_at_base;  // memo.admission_diagnostics has them
    keep_last_good(snap->resources, {memo.base_rejected, {}}, &base->resources, said_at_base);
  }
  std::vector<Diagnostic> found = memo.build_warnings;
  validate_references(*snap, found);
  const auto& local = memo.validation.local_diagnostics;
  found.insert(found.end(), local.begin(), local.end());
  if (has_errors(found)) {
    // Admission is the full build's: give the resources back to it. The
    // memo stays without a base.
    loaded.resources = as_loaded ? std::move(*as_loaded) : std::move(snap->resources);
    return std::nullopt;
  }
  result.diagnostics = loaded.diagnostics;
  result.diagnostics.insert(result.diagnostics.end(), memo.admission_diagnostics.begin(),
                            memo.admission_diagnostics.end());
  result.diagnostics.insert(result.diagnostics.end(), found.begin(), found.end());
  for (const Diagnostic& d : result.diagnostics) {
    (d.severity == Severity::kError ? snap->rejections : snap->warnings).push_back(d);
  }
  memo.base = snap;
  memo.in_force = snap;
  memo.base_generation = loaded.delta ? loaded.delta->generation : 0;
  memo.base_files.clear();
  for (size_t i = 0; i < loaded.files.size(); ++i) memo.base_files.emplace(loaded.files[i], loaded.file_resources[i]);
  result.snapshot = std::move(snap);
  return result;
}

}  // namespace sluice::config
