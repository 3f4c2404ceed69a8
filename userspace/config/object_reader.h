// Reads Kubernetes-shaped objects (apiVersion, kind, metadata, spec) into a
// ResourceSet: the kinds sluice knows, by API group and version, each
// converted to its protobuf type by tree_to_proto.h. The same reader serves
// YAML files (YamlView) and the Kubernetes API's JSON (JsonView).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "resource_set.h"
#include "tree_to_proto.h"

namespace sluice::config {

// Only annotations sluice reads are kept: the API server's objects carry
// large ones (kubectl's last-applied-configuration) that a node does not need.
bool kept_annotation(std::string_view key);

// Shrinks a converted object to the fields sluice reads, in freshly sized
// storage. Name, namespace, labels and creation time are in Meta by then;
// of the rest of the metadata only kept annotations stay. apiVersion and kind
// are known from the list the object is in. A Pod keeps its IPs, phase,
// node, service account and named container ports.
// Clearing alone would not do: protobuf keeps a cleared string's storage and
// a cleared map's table, so the trimmed object is copied into a new one.
void keep_only_read_fields(k8s::Service& o);
void keep_only_read_fields(k8s::Pod& o);
void keep_only_read_fields(k8s::EndpointSlice& o);
void keep_only_read_fields(k8s::Secret& o);
void keep_only_read_fields(k8s::Namespace& o);

template <class Node>
class ObjectReader {
 public:
  ObjectReader(std::shared_ptr<const SourceText> origin, ResourceSet& into, std::vector<Diagnostic>& diagnostics)
      : origin_(std::move(origin)), into_(into), sink_(diagnostics) {}

  // doc: a resource, or a List of them; index: its document in the stream.
  void read(const Node& doc, size_t index = 0, const std::string& base = "") {
    document_ = index;
    base_ = base;
    if (doc.is_null()) return;
    sink_.set_context(origin_->file, "");
    if (!doc.is_map()) {
      sink_.error(doc.line(), "", "expected a Kubernetes object (a map with apiVersion and kind)");
      return;
    }
    const std::string kind = doc["kind"].str();
    if (kind == "List" || kind.ends_with("List")) {
      const Node items = doc["items"];
      for_each_item(items, [&](size_t i, const Node& item) {
        read(item, index, (base.empty() ? "" : base + ".") + "items[" + std::to_string(i) + "]");
      });
      if (!items.is_sequence() && !items.is_null()) sink_.error(items.line(), "items", "expected a list");
      return;
    }
    read_as(doc, doc["apiVersion"].str(), kind);
  }

  // An object whose apiVersion and kind are known from elsewhere: the items
  // of an API list carry neither.
  void read_as(const Node& doc, const std::string& api_version, const std::string& kind) {
    if (kind.empty() || api_version.empty()) {
      sink_.set_context(origin_->file, "");
      sink_.error(doc.line(), kind.empty() ? "kind" : "apiVersion", "missing");
      return;
    }
    const size_t slash = api_version.find('/');
    const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    const std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
    ResourceSet& rs = into_;
    auto unsupported_version = [&](const char* want) {
      sink_.set_context(origin_->file, id_of(doc, kind));
      sink_.error(doc["apiVersion"].line(), "apiVersion", "unsupported version '" + api_version + "' (want " + want + ")");
    };
    if (group == "networking.istio.io") {
      if (version != "v1" && version != "v1beta1" && version != "v1alpha3") {
        return unsupported_version("v1, v1beta1 or v1alpha3");
      }
      if (kind == "VirtualService") return istio(doc, kind, rs.virtual_services);
      if (kind == "DestinationRule") return istio(doc, kind, rs.destination_rules);
      if (kind == "ServiceEntry") return istio(doc, kind, rs.service_entries);
      if (kind == "Gateway") return istio(doc, kind, rs.gateways);
      if (kind == "Sidecar") return istio(doc, kind, rs.sidecars);
      if (kind == "EnvoyFilter") return istio(doc, kind, rs.envoy_filters);
    } else if (group == "security.istio.io") {
      if (version != "v1" && version != "v1beta1") return unsupported_version("v1 or v1beta1");
      if (kind == "AuthorizationPolicy") return istio(doc, kind, rs.authorization_policies);
    } else if (group == "sluice.io") {
      if (version != "v1alpha1") return unsupported_version("v1alpha1");
      if (kind == "RateLimitPolicy") return istio(doc, kind, rs.rate_limit_policies);
    } else if (group.empty() && version == "v1") {
      if (kind == "Service") return k8s(doc, kind, rs.services);
      if (kind == "Pod") return k8s(doc, kind, rs.pods);
      if (kind == "Secret") return k8s(doc, kind, rs.secrets);
      if (kind == "Namespace") return k8s(doc, kind, rs.namespaces);
    } else if (group == "discovery.k8s.io") {
      if (version != "v1") return unsupported_version("v1");
      if (kind == "EndpointSlice") return k8s(doc, kind, rs.endpoint_slices);
    }
    sink_.set_context(origin_->file, id_of(doc, kind));
    sink_.warning(doc.line(), "", "kind " + api_version + " " + kind + " is not used by sluice; ignored");
  }

 private:
  // Meta::id() of an object not read yet, so its diagnostics name it alike.
  static std::string id_of(const Node& doc, const std::string& kind) {
    const std::string ns = doc["metadata"]["namespace"].str();
    return kind + " " + (ns.empty() ? "default" : ns) + "/" + doc["metadata"]["name"].str();
  }

  bool read_meta(const Node& doc, const std::string& kind, Meta& meta, Source& source) {
    source.from = origin_;
    source.line = doc.line() + origin_->line_offset;
    source.document = static_cast<uint32_t>(document_);
    source.base = base_;
    meta.kind = kind_name(kind);
    const Node md = doc["metadata"];
    if (md.is_map()) {
      meta.name = md["name"].str();
      meta.ns = md["namespace"].str();
      meta.created = md["creationTimestamp"].str();
      for_each_entry(md["labels"], [&](std::string_view k, int, const Node& v) { meta.labels[std::string(k)] = v.str(); });
    }
    if (meta.ns.empty() && kind != "Namespace") meta.ns = "default";  // Namespaces are cluster-scoped
    sink_.set_context(origin_->file, meta.id());
    if (meta.name.empty()) {
      sink_.error(doc.line(), "metadata.name", "missing");
      return false;
    }
    return true;
  }

  template <class Spec>
  void istio(const Node& doc, const std::string& kind, SharedList<IstioResource<Spec>>& out) {
    IstioResource<Spec> r;
    if (!read_meta(doc, kind, r.meta, r.source)) return;
    bool ok = true;
    for_each_entry(doc, [&](std::string_view key, int key_line, const Node&) {
      if (key != "apiVersion" && key != "kind" && key != "metadata" && key != "spec" && key != "status") {
        sink_.error(key_line, std::string(key), "unknown field");
        ok = false;
      }
    });
    const Node spec = doc["spec"];
    if (!spec.defined()) {
      sink_.error(doc.line(), "spec", "missing");
      return;
    }
    ok = tree_to_proto(spec, r.spec, "spec", {.reject_unknown_fields = true}, sink_) && ok;
    if (ok) out.push_back(std::make_shared<const IstioResource<Spec>>(std::move(r)));
  }

  template <class Object>
  void k8s(const Node& doc, const std::string& kind, SharedList<K8sResource<Object>>& out) {
    K8sResource<Object> r;
    if (!read_meta(doc, kind, r.meta, r.source)) return;
    if (!tree_to_proto(doc, r.object, "", {.reject_unknown_fields = false}, sink_)) return;
    // Memory: at 100k Pods every field counts (docs/kubernetes.md).
    keep_only_read_fields(r.object);
    std::string().swap(r.meta.created);  // only Istio kinds are ordered by age
    out.push_back(std::make_shared<const K8sResource<Object>>(std::move(r)));
  }

  const std::shared_ptr<const SourceText> origin_;
  ResourceSet& into_;
  DiagnosticSink sink_;
  size_t document_ = 0;
  std::string base_;
};

}  // namespace sluice::config
