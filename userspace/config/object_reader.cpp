#include "object_reader.h"

#include <algorithm>

#include "ip_text.h"

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

template <class Addresses>
void prefer_ipv4(std::string& primary, const Addresses& all) {
  auto is_v4 = [](const std::string& a) {
    uint32_t addr = 0;
    return parse_ipv4(a, addr);
  };
  if (is_v4(primary)) return;
  for (const auto& a : all) {
    if (is_v4(a.ip())) {
      primary = a.ip();
      return;
    }
  }
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
  // sluice balances IPv4: a dual-stack pod whose primary address is IPv6
  // keeps its IPv4 one instead, and the lists go.
  prefer_ipv4(*status->mutable_pod_ip(), status->pod_ips());
  prefer_ipv4(*status->mutable_host_ip(), status->host_ips());
  status->clear_pod_ips();
  status->clear_host_ips();
  // Pods count as endpoints by their phase (and, in a cluster, by their
  // EndpointSlice's conditions): a Pod's own conditions are not read.
  status->clear_conditions();
  compact(o);
}

}  // namespace sluice::config
