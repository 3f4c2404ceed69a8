#include "mesh_views.h"

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>

#include "ip_text.h"
#include "json_writer.h"

namespace sluice {

namespace {

// A route's protobuf parts (matches, fault, mirror) in Istio's own JSON
// form: protobuf's printer uses the field names of the YAML.
void proto_value(JsonWriter& w, const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  if (!google::protobuf::util::MessageToJsonString(m, &out, opts).ok()) out = "null";
  w.raw(out);
}

void destinations(JsonWriter& w, const std::vector<config::RouteDestination>& ds) {
  w.key("destinations").begin_array();
  for (const auto& d : ds) {
    w.begin_object().key("host").value(d.host).key("subset").value(d.subset).key("port").value(uint64_t{d.port});
    w.key("weight").value(int64_t{d.weight}).end_object();
  }
  w.end_array();
}

void host_routes(JsonWriter& w, const std::string& host, const config::HostRoutes& r) {
  w.begin_object().key("host").value(host);
  w.key("http").begin_array();
  for (const auto& h : r.http) {
    w.begin_object().key("virtual_service").value(h.virtual_service);
    w.key("match").begin_array();
    if (h.spec) {
      for (const auto& m : h.spec->match()) proto_value(w, m);
    }
    w.end_array();
    destinations(w, h.destinations);
    w.key("timeout_ms").value(h.timeout_ms);
    w.key("retries").begin_object().key("attempts").value(uint64_t{h.retries.attempts});
    w.key("per_try_timeout_ms").value(h.retries.per_try_timeout_ms).key("retry_on").value(h.retries.retry_on).end_object();
    if (h.spec && h.spec->has_fault()) proto_value(w.key("fault"), h.spec->fault());
    if (h.spec && h.spec->has_mirror()) proto_value(w.key("mirror"), h.spec->mirror());
    if (h.spec && h.spec->has_redirect()) proto_value(w.key("redirect"), h.spec->redirect());
    if (h.spec && h.spec->has_direct_response()) proto_value(w.key("direct_response"), h.spec->direct_response());
    w.end_object();
  }
  w.end_array();
  w.key("tcp").begin_array();
  for (const auto& t : r.tcp) {
    w.begin_object().key("virtual_service").value(t.virtual_service);
    destinations(w, t.destinations);
    w.end_object();
  }
  w.end_array();
  w.key("tls").begin_array();
  for (const auto& t : r.tls) {
    w.begin_object().key("virtual_service").value(t.virtual_service);
    w.key("match").begin_array();
    if (t.spec) {
      for (const auto& m : t.spec->match()) proto_value(w, m);
    }
    w.end_array();
    destinations(w, t.destinations);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

void table(JsonWriter& w, const std::string& name, const config::RouteTable& t, std::string_view host) {
  for (const auto& [h, routes] : t) {
    if (!host.empty() && h.find(host) == std::string::npos) continue;
    w.begin_object().key("table").value(name);
    w.key("routes");
    host_routes(w, h, routes);
    w.end_object();
  }
}

}  // namespace

std::string routes_json(const config::MeshSnapshot& snap, std::string_view host) {
  JsonWriter w;
  w.begin_object().key("version").value(snap.version).key("hosts").begin_array();
  table(w, "mesh", snap.mesh_routes, host);
  for (const auto& [gateway, t] : snap.gateway_routes) table(w, "gateway:" + gateway, t, host);
  w.end_array().end_object();
  return std::move(w).str();
}

std::string endpoints_json(const config::MeshSnapshot& snap, const DatapathMaps& maps, std::string_view service) {
  // Sorted by FQDN, so the output is stable.
  std::map<std::string, const config::Service*> sorted;
  for (const auto& [fqdn, svc] : snap.services) {
    if (service.empty() || fqdn.find(service) != std::string::npos) sorted.emplace(fqdn, svc.get());
  }
  JsonWriter w;
  w.begin_object().key("version").value(snap.version).key("services").begin_array();
  for (const auto& [fqdn, svc] : sorted) {
    w.begin_object().key("service").value(fqdn).key("vip").value(svc->vip ? format_ip(svc->vip) : "");
    w.key("ports").begin_array();
    for (const auto& p : svc->ports) {
      w.begin_object().key("port").value(uint64_t{p.port}).key("name").value(p.name);
      w.key("protocol").value(config::protocol_name(p.protocol)).key("via_proxy").value(p.via_daemon);
      if (svc->vip) {
        sl_svc_key k{};
        k.vip = htonl(svc->vip);
        k.port = htons(p.port);
        k.proto = p.l4_proto;
        if (auto c = maps.get_service_counters(k)) {
          w.key("kernel").begin_object().key("active").value(c->active).key("total").value(c->total);
          w.key("refused").value(c->refused).end_object();
        }
      }
      w.key("endpoints").begin_array();
      for (const auto& e : p.endpoints) {
        w.begin_object().key("address").value(format_endpoint(e.ip, e.port)).key("pod").value(e.pod);
        w.key("weight").value(uint64_t{e.weight});
        const auto& labels = e.label_map();
        auto version = labels.find("version");
        w.key("version").value(version == labels.end() ? std::string() : version->second);
        w.key("node").value(e.node_name).end_object();
      }
      w.end_array().end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().end_object();
  return std::move(w).str();
}

}  // namespace sluice
