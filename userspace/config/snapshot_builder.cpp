#include "snapshot_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>

#include "admission.h"
#include "snapshot_patch.h"
#include "validate.h"

namespace sluice::config {

namespace net = istio::networking;

std::string_view protocol_name(Protocol p) {
  switch (p) {
    case Protocol::kHttp: return "HTTP";
    case Protocol::kHttp2: return "HTTP2";
    case Protocol::kGrpc: return "GRPC";
    case Protocol::kTcp: return "TCP";
    case Protocol::kTls: return "TLS";
    case Protocol::kHttps: return "HTTPS";
    case Protocol::kUdp: return "UDP";
    case Protocol::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

bool is_http(Protocol p) { return p == Protocol::kHttp || p == Protocol::kHttp2 || p == Protocol::kGrpc; }

const Service* MeshSnapshot::find_service(const std::string& fqdn) const {
  const auto* s = services.get(fqdn);
  return s ? s->get() : nullptr;
}

const k8s::Secret* MeshSnapshot::find_secret(const std::string& ns, const std::string& name) const {
  for (const auto& s : resources.secrets) {
    if (s->meta.ns == ns && s->meta.name == name) return &s->object;
  }
  return nullptr;
}

std::string kubernetes_fqdn(const Meta& svc, const std::string& domain) {
  return svc.name + "." + svc.ns + ".svc." + domain;
}

std::string resolve_host(const std::string& host, const std::string& ns, const std::string& domain) {
  if (host == "*" || host.find('.') != std::string::npos) return host;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return host;
  return host + "." + ns + ".svc." + domain;
}

std::string resolve_gateway_name(const std::string& gw, const std::string& vs_namespace) {
  if (gw == "mesh") return gw;
  const size_t slash = gw.find('/');
  if (slash == std::string::npos) {
    const size_t dot = gw.find('.');
    if (dot == std::string::npos) return vs_namespace + "/" + gw;
    const size_t next = gw.find('.', dot + 1);
    return gw.substr(dot + 1, next == std::string::npos ? std::string::npos : next - dot - 1) + "/" + gw.substr(0, dot);
  }
  if (gw.compare(0, slash, ".") == 0) return vs_namespace + "/" + gw.substr(slash + 1);
  return gw;
}

Protocol select_protocol(const std::string& app_protocol, const std::string& port_name,
                         const std::string& l4_protocol) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  if (lower(l4_protocol) == "udp") return Protocol::kUdp;
  auto by_name = [](const std::string& p) -> std::optional<Protocol> {
    if (p == "http") return Protocol::kHttp;
    if (p == "http2" || p == "h2c") return Protocol::kHttp2;
    if (p == "grpc" || p == "grpc-web") return Protocol::kGrpc;
    if (p == "https") return Protocol::kHttps;
    if (p == "tls") return Protocol::kTls;
    if (p == "tcp" || p == "mongo" || p == "mysql" || p == "redis") return Protocol::kTcp;
    return std::nullopt;
  };
  if (!app_protocol.empty()) {
    std::string ap = lower(app_protocol);
    if (ap.starts_with("kubernetes.io/")) ap = ap.substr(14);
    if (ap == "h2c") return Protocol::kHttp2;
    if (auto p = by_name(ap)) return *p;
  }
  const std::string name = lower(port_name);
  if (name == "grpc-web" || name.starts_with("grpc-web-")) return Protocol::kGrpc;
  if (auto p = by_name(name.substr(0, name.find('-')))) return *p;
  return Protocol::kTcp;
}

namespace {

class Builder {
 public:
  Builder(MeshSnapshot& snap, std::vector<Diagnostic>& warnings, ServiceInputs& inputs, BuildMemo* memo)
      : snap_(snap), sink_(warnings), inputs_(inputs), memo_(memo) {}

  void run() {
    index_inputs();
    add_kubernetes_services();
    add_service_entries();
    resolve_routes();
    warn_tls_origination();
    if (memo_) memo_->services = std::move(next_memo_);
  }

 private:
  void index_inputs() {
    for (const auto& r : snap_.resources.endpoint_slices) inputs_.add(r);
    for (const auto& r : snap_.resources.pods) inputs_.add(r);
    for (const auto& r : snap_.resources.services) inputs_.add(r);
    // The DestinationRule of each host: the first one wins, as in Istio.
    for (const auto& r : snap_.resources.destination_rules) {
      const std::string host = resolve_host(r->spec.host(), r->meta.ns, snap_.domain);
      if (!inputs_.add_rule(host, r)) {
        sink_.set_context(r->source.file(), r->meta.id());
        sink_.warning(r->source.line_of("spec.host"), "spec.host",
                      "another DestinationRule for " + host + " came first; this one is ignored");
      }
    }
    // Mesh VirtualServices with tcp or tls routes: the TCP ports they take go
    // to the daemon (the first VirtualService of a host wins, as in
    // resolve_routes).
    for (const auto& r : snap_.resources.virtual_services) {
      const auto& vs = r->spec;
      if (vs.tcp().empty() && vs.tls().empty()) continue;
      const bool mesh = vs.gateways().empty() ||
                        std::any_of(vs.gateways().begin(), vs.gateways().end(), [](const std::string& g) { return g == "mesh"; });
      if (!mesh) continue;
      for (const std::string& host : vs.hosts()) inputs_.add_l4_routes(resolve_host(host, r->meta.ns, snap_.domain), r);
    }
  }

  // A Kubernetes Service is rebuilt only when one of its inputs changed:
  // the Service, its EndpointSlices or selected Pods, or its
  // DestinationRule. Unchanged files keep their resource objects, so
  // pointer equality is change detection.
  void add_kubernetes_services() {
    for (const auto& r : snap_.resources.services) {
      const std::string fqdn = kubernetes_fqdn(r->meta, snap_.domain);
      const ServiceInputs::Sources sources = inputs_.sources_of(*r, fqdn);
      std::shared_ptr<const Service> svc;
      if (memo_) {
        std::vector<std::shared_ptr<const void>> identity = sources.identity(r);
        auto it = memo_->services.find(fqdn);
        if (it != memo_->services.end() && it->second.same_inputs(identity)) svc = it->second.service;
        if (!svc) svc = ServiceInputs::build(*r, fqdn, sources);
        next_memo_[fqdn] = {std::move(identity), svc};
      } else {
        svc = ServiceInputs::build(*r, fqdn, sources);
      }
      snap_.services.insert(fqdn, std::move(svc));
    }
  }

  void add_service_entries() {
    for (const auto& r : snap_.resources.service_entries) {
      const net::ServiceEntry& se = r->spec;
      for (const std::string& host : se.hosts()) {
        if (snap_.services.contains(host)) {
          sink_.set_context(r->source.file(), r->meta.id());
          sink_.warning(r->source.line_of("spec.hosts"), "spec.hosts",
                        "host " + host + " is already defined by another service; ignored");
          continue;
        }
        auto s = std::make_shared<Service>();
        s->fqdn = host;
        s->name = r->meta.name;
        s->ns = r->meta.ns;
        s->from_service_entry = true;
        if (se.addresses_size() > 0) s->vip = ipv4_of(se.addresses(0));
        const bool dns = se.resolution() == net::ServiceEntry::DNS || se.resolution() == net::ServiceEntry::DNS_ROUND_ROBIN;
        if (dns && !host.starts_with("*")) s->dns_addresses = resolved(host);
        for (const auto& sp : se.ports()) {
          ServicePort port;
          port.name = sp.name();
          port.port = static_cast<uint16_t>(sp.number());
          port.l4_proto = l4_proto_of(sp.protocol());
          port.protocol = select_protocol("", sp.protocol().empty() ? sp.name() : sp.protocol(), sp.protocol());
          if (se.resolution() == net::ServiceEntry::STATIC || dns) {
            for (const auto& we : se.endpoints()) {
              Endpoint e;
              auto named = we.ports().find(sp.name());
              e.port = static_cast<uint16_t>(named != we.ports().end() ? named->second
                                             : sp.target_port()      ? sp.target_port()
                                                                     : sp.number());
              e.labels = std::make_shared<const Labels>(we.labels().begin(), we.labels().end());
              e.weight = we.weight() ? we.weight() : 1;
              // Under DNS an endpoint's address may be a name: one endpoint
              // per address it resolves to.
              const uint32_t ip = ipv4_of(we.address());
              for (uint32_t a : ip || !dns ? std::vector<uint32_t>{ip} : resolved(we.address())) {
                e.ip = a;
                if (e.ip) port.endpoints.push_back(e);
              }
            }
            // Without endpoints, Istio's DNS entries reach the host itself.
            if (dns && se.endpoints().empty()) {
              for (uint32_t a : s->dns_addresses) {
                Endpoint e;
                e.ip = a;
                e.port = static_cast<uint16_t>(sp.target_port() ? sp.target_port() : sp.number());
                port.endpoints.push_back(std::move(e));
              }
            }
          }
          s->ports.push_back(std::move(port));
        }
        apply_destination_rule(*s, inputs_.rule_for(host).get());
        const auto l4_routes = inputs_.l4_routes_for(host);
        mark_daemon_ports(*s, l4_routes ? &l4_routes->spec : nullptr);
        snap_.services.insert_or_assign(host, std::move(s));
      }
    }
  }

  // What the daemon's resolver last said `name` resolves to; empty until it answers.
  std::vector<uint32_t> resolved(const std::string& name) const {
    const ResolvedHosts* hosts = snap_.resources.resolved_hosts.get();
    if (!hosts) return {};
    auto it = hosts->find(name);
    return it == hosts->end() ? std::vector<uint32_t>{} : it->second;
  }

  static int64_t to_ms(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1000000; }

  std::vector<RouteDestination> destinations(const auto& routes, const std::string& ns) const {
    std::vector<RouteDestination> out;
    for (const auto& r : routes) {
      const auto& d = r.destination();
      out.push_back({resolve_host(d.host(), ns, snap_.domain), d.subset(), d.has_port() ? d.port().number() : 0,
                     routes.size() == 1 && r.weight() == 0 ? 100 : r.weight()});
    }
    return out;
  }

  // Istio: no `retries` means 2 attempts on the default conditions; an empty
  // retryOn keeps the default conditions; a route with a fault gets neither
  // retries nor a timeout.
  static void resolve_timeouts(const net::HTTPRoute& r, HttpRoute& out) {
    if (r.has_fault()) {
      out.retries.attempts = 0;
      return;
    }
    if (r.has_timeout()) out.timeout_ms = to_ms(r.timeout());
    if (r.has_retries()) {
      out.retries.attempts = static_cast<uint32_t>(std::max(0, r.retries().attempts()));
      if (r.retries().has_per_try_timeout()) out.retries.per_try_timeout_ms = to_ms(r.retries().per_try_timeout());
      if (!r.retries().retry_on().empty()) out.retries.retry_on = r.retries().retry_on();
    }
  }

  void resolve_routes() {
    for (const auto& r : snap_.resources.virtual_services) {
      const net::VirtualService& vs = r->spec;
      const std::string id = r->meta.ns + "/" + r->meta.name;
      HostRoutes routes;
      for (const auto& h : vs.http()) {
        HttpRoute route{id, &h, destinations(h.route(), r->meta.ns)};
        resolve_timeouts(h, route);
        routes.http.push_back(std::move(route));
      }
      for (const auto& t : vs.tcp()) routes.tcp.push_back({id, &t, destinations(t.route(), r->meta.ns)});
      for (const auto& t : vs.tls()) routes.tls.push_back({id, &t, destinations(t.route(), r->meta.ns)});

      std::vector<RouteTable*> tables;
      if (vs.gateways().empty()) tables.push_back(&snap_.mesh_routes);
      for (const std::string& gw : vs.gateways()) {
        const std::string name = resolve_gateway_name(gw, r->meta.ns);
        tables.push_back(name == "mesh" ? &snap_.mesh_routes : &snap_.gateway_routes[name]);
      }
      for (const std::string& host : vs.hosts()) {
        const std::string fqdn = resolve_host(host, r->meta.ns, snap_.domain);
        for (RouteTable* table : tables) {
          if (!table->emplace(fqdn, routes).second) {
            sink_.set_context(r->source.file(), r->meta.id());
            sink_.warning(r->source.line_of("spec.hosts"), "spec.hosts",
                          "host " + fqdn + " already has routes from an earlier VirtualService; this one is ignored for it");
          }
        }
      }
    }
  }

  // TLS origination is the HTTP upstreams' (HTTP/1.1, and HTTP/2 with ALPN
  // h2; docs/egress.md): say so where a DestinationRule asks for it on a
  // port that will not get it, rather than let a user believe such traffic
  // is encrypted.
  void warn_tls_origination() {
    for (const auto& r : snap_.resources.destination_rules) {
      const Service* s = snap_.find_service(resolve_host(r->spec.host(), r->meta.ns, snap_.domain));
      if (!s) continue;
      for (const ServicePort& p : s->ports) {
        if (is_http(p.protocol)) continue;
        bool tls = p.policy.tls.originates();
        for (const Subset& sub : s->subsets) tls = tls || resolve_policy(s->policy, sub.policy, p.port).tls.originates();
        if (!tls) continue;
        sink_.set_context(r->source.file(), r->meta.id());
        sink_.warning(r->source.line_of("spec.trafficPolicy"), "spec.trafficPolicy",
                      "tls on port " + std::to_string(p.port) + " of " + s->fqdn + " (" +
                          std::string(protocol_name(p.protocol)) +
                          "): TLS origination is not supported on non-HTTP ports; its connections are not encrypted by sluice");
      }
    }
  }

  MeshSnapshot& snap_;
  DiagnosticSink sink_;
  ServiceInputs& inputs_;
  BuildMemo* memo_;
  std::unordered_map<std::string, BuildMemo::Entry> next_memo_;
};

}  // namespace

bool BuildMemo::Entry::same_inputs(const std::vector<std::shared_ptr<const void>>& other) const {
  if (inputs.size() != other.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].get() != other[i].get()) return false;
  }
  return true;
}

namespace {

// One full build of rs: the registry, the routes, and the checks. Returns
// the snapshot; diagnostics go to out.
std::shared_ptr<MeshSnapshot> build_once(const ResourceSet& rs, uint64_t version, BuildMemo* memo,
                                         std::vector<Diagnostic>& build_warnings, std::vector<Diagnostic>& out) {
  auto snap = std::make_shared<MeshSnapshot>();
  snap->version = version;
  snap->resources = rs;
  ServiceInputs scratch;
  if (memo) {
    memo->base.reset();
    memo->inputs = {};
  }
  build_warnings.clear();
  Builder builder(*snap, build_warnings, memo ? memo->inputs : scratch, memo);
  builder.run();
  out.insert(out.end(), build_warnings.begin(), build_warnings.end());
  validate_snapshot(*snap, out, memo ? &memo->validation : nullptr);
  return snap;
}

}  // namespace

std::vector<std::string> error_texts(std::span<const Diagnostic> diags) {
  std::vector<std::string> out;
  for (const Diagnostic& d : diags) {
    if (d.severity == Severity::kError) out.push_back(d.to_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

BuildResult build_snapshot(LoadResult loaded, uint64_t version, BuildMemo* memo) {
  if (memo) {
    if (std::optional<BuildResult> patched = patch_snapshot(loaded, version, *memo)) return std::move(*patched);
  }
  BuildResult result;
  result.diagnostics = std::move(loaded.diagnostics);
  const size_t from_load = result.diagnostics.size();
  const SnapshotPtr last_good = memo ? memo->in_force : nullptr;
  const ResourceSet* good = last_good ? &last_good->resources : nullptr;

  // Admission (admission.h): duplicates, then what failed to load.
  ResourceSet rs = std::move(loaded.resources);
  const bool replaced = replace_duplicates(rs, result.diagnostics);
  Rejections rejected = rejections_of(result.diagnostics);
  keep_last_good(rs, rejected, good, result.diagnostics);

  // Then what the checks reject: build, drop what has errors (its last good
  // version back in), and build again. A last good version that fails too
  // (a check that changed under it) is dropped in the last round.
  constexpr int kRounds = 3;
  std::shared_ptr<MeshSnapshot> snap;
  std::vector<Diagnostic> build_warnings;
  std::vector<Diagnostic> rejected_errors;  // of resources dropped in earlier rounds
  for (int round = 0;; ++round) {
    std::vector<Diagnostic> found;
    snap = build_once(rs, version, memo, build_warnings, found);
    Rejections now = rejections_of(found);
    if (now.empty() || round == kRounds - 1) {
      if (!now.empty()) {
        // Cannot happen unless checks disagree between rounds: drop the rest.
        keep_last_good(rs, now, nullptr, result.diagnostics);
        rejected_errors.insert(rejected_errors.end(), found.begin(), found.end());
        found.clear();
        snap = build_once(rs, version, memo, build_warnings, found);
      }
      result.diagnostics.insert(result.diagnostics.end(), rejected_errors.begin(), rejected_errors.end());
      if (memo) memo->admission_diagnostics.assign(result.diagnostics.begin() + from_load, result.diagnostics.end());
      result.diagnostics.insert(result.diagnostics.end(), found.begin(), found.end());
      break;
    }
    for (const Diagnostic& d : found) {
      if (d.severity == Severity::kError) rejected_errors.push_back(d);
    }
    rejected.resources.insert(now.resources.begin(), now.resources.end());
    keep_last_good(rs, now, round == 0 ? good : nullptr, result.diagnostics);
  }
  for (const Diagnostic& d : result.diagnostics) {
    (d.severity == Severity::kError ? snap->rejections : snap->warnings).push_back(d);
  }
  if (memo) {
    memo->in_force = snap;
    // A patch starts from what the source holds, with the rejections of
    // single resources standing (snapshot_patch.h). A file rejected whole
    // or a duplicate replaced makes the next build a full one.
    if ((!loaded.file_resources.empty() || loaded.delta) && rejected.files.empty() && !replaced) {
      memo->base = snap;
      memo->base_rejected = rejected.resources;
      memo->base_load_errors = error_texts({result.diagnostics.begin(), result.diagnostics.begin() + from_load});
      memo->base_generation = loaded.delta ? loaded.delta->generation : 0;
      memo->base_files.clear();
      for (size_t i = 0; i < loaded.files.size(); ++i) memo->base_files.emplace(loaded.files[i], loaded.file_resources[i]);
      memo->build_warnings = std::move(build_warnings);
    }
  }
  result.snapshot = std::move(snap);
  return result;
}

BuildResult load_snapshot(const std::vector<std::string>& paths, uint64_t version, ResourceCache* cache) {
  return build_snapshot(load_resources(paths, cache), version);
}

}  // namespace sluice::config
