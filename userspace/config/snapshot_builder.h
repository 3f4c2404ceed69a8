// Builds a MeshSnapshot from loaded resources: the service registry
// (Kubernetes Services with their Pods or EndpointSlices, and ServiceEntries),
// DestinationRule policies with defaults applied, and the routes. What the
// kernel makes of it is the datapath's business (l4_view.h, xdp_snapshot.h).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "diagnostic.h"
#include "mesh_snapshot.h"
#include "resource_loader.h"
#include "service_inputs.h"
#include "validate.h"

namespace sluice::config {

struct BuildResult {
  // What was admitted (admission.h): never null from build_snapshot. The
  // resources that errors name are not in it, or in their last good version.
  std::shared_ptr<MeshSnapshot> snapshot;
  std::vector<Diagnostic> diagnostics;     // errors and warnings, loading included
  bool patched = false;                    // the last snapshot patched, not built again
};

// What the last build made of each Kubernetes Service, and from which
// inputs, so the next build reuses a service whose inputs did not change.
// With `base`, it is also what a patched build starts from.
struct BuildMemo {
  struct Entry {
    // The resources it was built from. Owned, so that their addresses
    // cannot be reused by new resources while compared by identity.
    std::vector<std::shared_ptr<const void>> inputs;
    bool same_inputs(const std::vector<std::shared_ptr<const void>>& other) const;
    std::shared_ptr<const Service> service;
  };
  std::unordered_map<std::string, Entry> services;  // by FQDN
  ValidationMemo validation;

  // The snapshot in force: where rejected resources find their last good
  // version.
  SnapshotPtr in_force;
  // What a patch starts from: the last snapshot built from what the source
  // holds (no file rejected whole, no duplicate replaced), and what it was
  // built from; null otherwise, which makes the next build a full one.
  SnapshotPtr base;
  // The rejections standing in base, which a patch keeps as they are while
  // the change does not touch them (one invalid object must not make every
  // reload of a large cluster a full build): the ids rejected (their last
  // good versions, if any, are in base), the errors the source reported at
  // load (a patch needs the same ones), and what admission said.
  std::set<std::string> base_rejected;
  std::vector<std::string> base_load_errors;
  std::vector<Diagnostic> admission_diagnostics;
  std::map<std::string, std::shared_ptr<const FileResources>> base_files;  // by path
  uint64_t base_generation = 0;  // of the SourceDelta base was built from, for sources with deltas
  ServiceInputs inputs;                   // base's, indexed
  std::vector<Diagnostic> build_warnings;  // base's warnings from building (not loading or validating)
};

// Validates and builds, admitting each resource on its own (admission.h):
// with a memo, a rejected resource keeps the version of memo->in_force.
// With a memo whose base is set, a reload that changed
// only Kubernetes Services, EndpointSlices and Pods patches the base
// (snapshot_patch.h) instead of building everything again.
BuildResult build_snapshot(LoadResult loaded, uint64_t version, BuildMemo* memo = nullptr);

// The errors among diags, as text, sorted: a patch needs the same ones the
// source reported at its base.
std::vector<std::string> error_texts(std::span<const Diagnostic> diags);

// Load paths (through the cache, if given), then build.
BuildResult load_snapshot(const std::vector<std::string>& paths, uint64_t version,
                          ResourceCache* cache = nullptr);

// Istio's protocol selection: appProtocol first, then the port name's
// prefix before '-' (http, http2, grpc, grpc-web, https, tls, tcp, ...), then
// the L4 protocol. Unnamed TCP ports are plain TCP to sluice (no sniffing).
Protocol select_protocol(const std::string& app_protocol, const std::string& port_name,
                         const std::string& l4_protocol);

}  // namespace sluice::config
