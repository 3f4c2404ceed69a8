// The objects of the test Kubernetes API server: the resource types it
// serves, objects as it stores them (JSON text ready to send), and the
// parsing of YAML or JSON input (single objects, multi-document YAML, JSON
// arrays, and Lists such as kubectl's "List" or an API "ServiceList") into
// objects.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kube_api_selector.h"
#include "result.h"

namespace sluice::testing {

// One resource type, as discovery describes it. The table is data: any type
// can be served by adding a row.
struct KubeResourceType {
  std::string group;                  // "" for the core group (paths under /api)
  std::vector<std::string> versions;  // served versions; the first is the preferred one
  std::string plural;                 // path segment: "services"
  std::string kind;                   // "Service"
  bool namespaced = true;
  // Field labels for fieldSelector besides metadata.name (and
  // metadata.namespace on namespaced types): "spec.nodeName", "type".
  std::vector<std::string> field_labels;

  std::string api_version(std::string_view version) const {
    return group.empty() ? std::string(version) : group + "/" + std::string(version);
  }
  std::string list_kind() const { return kind + "List"; }
  std::string singular() const;  // lower-case kind
  std::vector<std::string> selectable_fields() const;
};

// Core (services, pods, namespaces, secrets, nodes, configmaps),
// discovery.k8s.io endpointslices, networking.istio.io (v1, v1beta1,
// v1alpha3) virtualservices, destinationrules, serviceentries, gateways,
// sidecars, and security.istio.io (v1, v1beta1) authorizationpolicies and
// peerauthentications.
std::vector<KubeResourceType> default_kube_resource_types();

// An object as stored: immutable once published, shared by the current
// state, the event history, watch queues and list responses in flight.
struct StoredObject {
  const KubeResourceType* type = nullptr;
  std::string ns;   // empty for cluster-scoped types
  std::string name;
  std::string key;  // "ns/name", or "name": the order of lists, as etcd's keys
  std::string uid;
  std::string created;  // creationTimestamp, RFC 3339
  uint64_t rv = 0;
  // The object without kind and apiVersion, as list items are sent:
  // {"metadata":{"name":...,"resourceVersion":"12",...},"spec":...}
  std::string json;
  size_t rv_pos = 0;  // where the digits of metadata.resourceVersion are in json
  size_t rv_len = 0;
  KubeLabels labels;  // sorted
  KubeLabels fields;  // field label -> value, sorted

  // Appends {"kind":K,"apiVersion":AV,...} with metadata.resourceVersion
  // replaced by rv (a deleted object is sent with the deletion's version).
  void append_full(std::string& out, std::string_view api_version, uint64_t as_rv) const;
};

// An object parsed from input and not yet stored: the store assigns the
// resource version and, when absent, the uid and creationTimestamp.
struct ObjectDraft {
  const KubeResourceType* type = nullptr;
  std::string ns, name, uid, created;
  std::string meta_rest;  // ,"labels":{...} ...: metadata members but the five above
  std::string body_rest;  // ,"spec":{...} ...: members but kind, apiVersion, metadata
  KubeLabels labels;
  KubeLabels fields;

  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
  // The stored object at version rv; moves the draft's parts into it.
  std::shared_ptr<StoredObject> publish(uint64_t rv) &&;
};

// Parses YAML or JSON text (the first non-blank character '{' or '[' means
// JSON) into objects of the given types. Items of a typed List
// ("ServiceList") without kind/apiVersion take the List's. Namespaced
// objects without a namespace go to "default"; generateName is honoured.
Result<std::vector<ObjectDraft>> parse_kube_objects(std::string_view text,
                                                    const std::vector<KubeResourceType>& types);

// YAML documents converted to one JSON array, typed as Kubernetes reads YAML
// (plain scalars: null, booleans, JSON numbers; anything else a string).
Result<std::string> yaml_to_json_array(std::string_view yaml);

// A Kubernetes Status object for a failure:
// {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":...,"reason":...,"details":...,"code":N}
// details_json, when given, is a JSON object; continue_token goes into metadata.
std::string kube_status_json(int code, std::string_view reason, std::string_view message,
                             std::string_view details_json = {}, std::string_view continue_token = {});

// The time now as RFC 3339 in UTC, seconds precision ("2024-05-01T12:00:00Z").
std::string rfc3339_now();
std::string random_uid();  // a version 4 UUID

std::string base64_encode(std::string_view bytes, bool url = false);
Result<std::string> base64_decode(std::string_view text);  // standard or URL alphabet, padding optional

}  // namespace sluice::testing
