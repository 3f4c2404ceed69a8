#include "config_dump.h"

#include <google/protobuf/util/json_util.h>

#include "json_writer.h"

namespace sluice {

namespace {

template <class List>
void dump_list(JsonWriter& w, const List& list, std::string_view kind) {
  for (const auto& r : list) {
    if (!kind.empty() && r->meta.kind != kind) continue;
    std::string spec;
    google::protobuf::util::JsonPrintOptions opts;
    if (!google::protobuf::util::MessageToJsonString(r->spec, &spec, opts).ok()) spec = "null";
    w.begin_object().key("kind").value(r->meta.kind).key("namespace").value(r->meta.ns).key("name").value(r->meta.name);
    w.key("source").value(r->source.file()).key("line").value(int64_t{r->source.line});
    w.key("spec").raw(spec).end_object();
  }
}

void diagnostics(JsonWriter& w, const char* key, const std::vector<config::Diagnostic>& list) {
  w.key(key).begin_array();
  for (const auto& d : list) w.value(d.to_string());
  w.end_array();
}

}  // namespace

std::string config_dump_json(const config::MeshSnapshot& snap, std::string_view kind) {
  const config::ResourceSet& rs = snap.resources;
  JsonWriter w;
  w.begin_object().key("version").value(snap.version).key("domain").value(snap.domain);
  w.key("resources").begin_array();
  dump_list(w, rs.virtual_services, kind);
  dump_list(w, rs.destination_rules, kind);
  dump_list(w, rs.service_entries, kind);
  dump_list(w, rs.gateways, kind);
  dump_list(w, rs.sidecars, kind);
  dump_list(w, rs.envoy_filters, kind);
  dump_list(w, rs.authorization_policies, kind);
  dump_list(w, rs.rate_limit_policies, kind);
  w.end_array();
  w.key("kubernetes").begin_object();
  w.key("services").value(uint64_t{rs.services.size()}).key("pods").value(uint64_t{rs.pods.size()});
  w.key("endpoint_slices").value(uint64_t{rs.endpoint_slices.size()}).key("namespaces").value(uint64_t{rs.namespaces.size()});
  w.key("secrets").value(uint64_t{rs.secrets.size()}).end_object();
  diagnostics(w, "rejected", snap.rejections);
  diagnostics(w, "warnings", snap.warnings);
  w.end_object();
  return std::move(w).str();
}

}  // namespace sluice
