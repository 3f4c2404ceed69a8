#include "object_reader.h"

#include <algorithm>

namespace sluice::config {

// sluice.io/socket-redirect (kSocketRedirectAnnotation) and any later sluice.io/ key.
bool kept_annotation(std::string_view key) { return key.starts_with("sluice.io/"); }

namespace {

// What every kind sheds: the metadata but kept annotations, apiVersion, kind.
template <class Object>
void shed_common(Object& o) {
  k8s::ObjectMeta kept;
  for (const auto& [key, value] : o.metadata().annotations()) {
    if (kept_annotation(key)) (*kept.mutable_annotations())[key] = value;
  }
  o.clear_metadata();
  if (!kept.annotations().empty()) *o.mutable_metadata() = std::move(kept);
  o.clear_api_version();
  o.clear_kind();
}

// A copy holds only the set fields, each in storage of its own size.
template <class Object>
void compact(Object& o) {
  Object fresh;
  fresh.CopyFrom(o);
  o.Swap(&fresh);
}

}  // namespace

void keep_only_read_fields(k8s::Service& o) { shed_common(o), compact(o); }
void keep_only_read_fields(k8s::EndpointSlice& o) { shed_common(o), compact(o); }
void keep_only_read_fields(k8s::Secret& o) { shed_common(o), compact(o); }
void keep_only_read_fields(k8s::Namespace& o) { shed_common(o), compact(o); }

void keep_only_read_fields(k8s::Pod& o) {
  shed_common(o);
  for (auto& c : *o.mutable_spec()->mutable_containers()) {
    c.clear_name(), c.clear_image();
    // targetPort by name looks up named container ports only.
    auto* ports = c.mutable_ports();
    ports->erase(std::remove_if(ports->begin(), ports->end(), [](const k8s::ContainerPort& p) { return p.name().empty(); }),
                 ports->end());
  }
  auto* spec_containers = o.mutable_spec()->mutable_containers();
  spec_containers->erase(
      std::remove_if(spec_containers->begin(), spec_containers->end(), [](const k8s::Container& c) { return c.ports().empty(); }),
      spec_containers->end());
  k8s::PodStatus* status = o.mutable_status();
  if (status->pod_ip().empty() && !status->pod_ips().empty()) status->set_pod_ip(status->pod_ips(0).ip());
  if (status->pod_ips_size() == 1 && status->pod_ips(0).ip() == status->pod_ip()) status->clear_pod_ips();
  if (status->host_ips_size() == 1 && status->host_ips(0).ip() == status->host_ip()) status->clear_host_ips();
  auto* conditions = status->mutable_conditions();
  conditions->erase(std::remove_if(conditions->begin(), conditions->end(),
                                   [](const k8s::PodCondition& c) { return c.type() != "Ready"; }),
                    conditions->end());
  compact(o);
}

}  // namespace sluice::config
