#include "admin_views.h"

#include <arpa/inet.h>
#include <net/if.h>

#include "json_writer.h"
#include "l4_sync.h"
#include "reason_names.h"
#include "service_text.h"
#include "service_writer.h"

namespace sluice {

std::string config_status_json(const config::ReloadStatus& s, const L4SyncStatus& k) {
  JsonWriter w;
  w.begin_object();
  w.key("version").value(s.version);
  w.key("source").value(s.source);
  w.key("reloads").value(s.reloads);
  w.key("rejected").value(s.rejected);
  w.key("sync_failures").value(k.sync_failures);
  w.key("l4_services").value(static_cast<uint64_t>(k.l4_services));
  w.key("last_sync").begin_object();
  w.key("upserts").value(static_cast<uint64_t>(k.last_sync.upserts));
  w.key("removals").value(static_cast<uint64_t>(k.last_sync.removals));
  w.key("failures").value(static_cast<uint64_t>(k.last_sync.failures));
  w.key("load_ms").value(s.last_load_ms);
  w.key("build_ms").value(s.last_build_ms);
  w.key("sync_ms").value(k.last_sync_ms);
  w.key("reload_ms").value(s.last_reload_ms);
  w.key("release_ms").value(s.last_release_ms);
  w.key("files_parsed").value(static_cast<uint64_t>(s.last_files_parsed));
  w.key("documents_parsed").value(static_cast<uint64_t>(s.last_documents_parsed));
  w.key("patched").value(s.last_patched);
  w.end_object();
  w.key("last_error");
  if (s.last_errors.empty()) {
    w.null();
  } else {
    w.value(s.last_errors.front());
  }
  w.key("errors").begin_array();
  for (const std::string& e : s.last_errors) w.value(e);
  w.end_array();
  w.key("warnings").begin_array();
  for (const std::string& e : s.warnings) w.value(e);
  w.end_array();
  w.end_object();
  return w.str();
}

std::string kube_status_json(bool synced, const std::vector<kube::ReflectorStatus>& types, const kube::NodePods& node) {
  JsonWriter w;
  w.begin_object();
  w.key("synced").value(synced);
  w.key("node").begin_object();
  w.key("name").value(node.node_name);
  w.key("pods").value(static_cast<uint64_t>(node.pods));
  w.end_object();
  w.key("types").begin_array();
  for (const kube::ReflectorStatus& t : types) {
    w.begin_object();
    w.key("type").value(t.type);
    w.key("synced").value(t.synced).key("absent").value(t.absent);
    w.key("objects").value(static_cast<uint64_t>(t.objects));
    w.key("resource_version").value(t.resource_version);
    w.key("lists").value(t.lists);
    w.key("watches").value(t.watches);
    w.key("events").value(t.events);
    w.key("relists_after_gone").value(t.relists_gone);
    w.key("failures").value(t.failures);
    w.key("last_error").value(t.last_error);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.str();
}

std::string kernel_maps_json(const DatapathMaps& maps, const PerCpuArrayHandle<uint64_t>& stats) {
  JsonWriter w;
  w.begin_object();
  w.key("services").begin_array();
  for (const auto& [key, shared] : read_l4(maps)) {
    const ServiceSpec& spec = *shared;
    const sl_svc_key k = service_key(spec);
    const auto svc = maps.get_service(k);
    const auto counters = maps.get_service_counters(k).value_or(sl_svc_counters{});
    w.begin_object();
    w.key("vip").value(format_ip(spec.vip));
    w.key("port").value(uint64_t{spec.port});
    w.key("protocol").value(spec.proto == 17 ? "UDP" : "TCP");
    w.key("algorithm").value(algo_name(spec.algo));
    w.key("max_connections").value(uint64_t{spec.max_conns});
    w.key("revision").value(uint64_t{svc ? svc->revision : 0});
    w.key("active").value(counters.active);
    w.key("total").value(counters.total);
    w.key("refused").value(counters.refused);
    w.key("backends").begin_array();
    if (svc) {
      for (const auto& [index, be] : live_backends(maps, k, *svc)) {
        const auto bc = maps.get_backend_counters({k, index}).value_or(sl_backend_counters{});
        w.begin_object();
        w.key("address").value(format_ip(ntohl(be.addr)));
        w.key("port").value(uint64_t{ntohs(be.port)});
        w.key("weight").value(uint64_t{be.weight});
        w.key("ejected").value((be.flags & SL_BE_F_EJECTED) != 0);
        w.key("active").value(bc.active);
        w.key("total").value(bc.total);
        w.end_object();
      }
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key("verdicts").begin_object();
  for (unsigned r = 0; r < SL_R__COUNT; ++r) w.key(sl_reason_name(r)).value(stats.sum(r));
  w.end_object();
  w.end_object();
  return w.str();
}

std::string socket_redirect_json(const SockRedir& redir) {
  JsonWriter w;
  w.begin_object();
  w.key("mode").value(sl_redir_mode_name(redir.mode()));
  w.key("sockhash").begin_object();
  auto fill = redir.sockhash_fill();
  w.key("fill").value(uint64_t{fill ? *fill : 0});
  w.key("capacity").value(uint64_t{redir.sockhash_capacity()});
  w.end_object();
  w.key("counters").begin_object();
  if (auto stats = redir.stats()) {
    for (unsigned i = 0; i < SL_RS__COUNT; ++i) w.key(sl_redir_stat_name(i)).value((*stats)[i]);
  }
  w.end_object();
  w.end_object();
  return std::move(w).str();
}

std::string xdp_json(const XdpDaemon& xdp) {
  const XdpLbMaps& maps = xdp.maps();
  JsonWriter w;
  w.begin_object();
  w.key("iface").value(xdp.iface());
  w.key("mode").value(xdp_mode_name(xdp.mode()));
  w.key("redirect").value(xdp.redirect());
  w.key("tx_devices").begin_array();
  for (int ifindex : xdp.tx_devices()) {
    char name[IF_NAMESIZE] = {};
    w.value(if_indextoname(static_cast<unsigned>(ifindex), name) ? std::string(name) : std::to_string(ifindex));
  }
  w.end_array();
  w.key("stats").begin_object();
  for (unsigned r = 0; r < SL_XR__COUNT; ++r) w.key(sl_xreason_name(r)).value(maps.stats.sum(r));
  w.end_object();
  w.key("vips").begin_array();
  for (const auto& [key, spec] : xdp.vips().current()) {
    const auto id = xdp.vips().id_of(key);
    if (!id) continue;
    const sl_xvip_counters c = maps.vip_counters.sum(*id);
    w.begin_object();
    w.key("vip").value(format_ip(spec.addr) + ":" + std::to_string(spec.port) + (spec.proto == 17 ? "/udp" : "/tcp"));
    w.key("service").value(spec.service);
    w.key("backends").value(static_cast<uint64_t>(spec.backends.size()));
    w.key("local_only").value(spec.local_only);
    w.key("packets").value(c.packets);
    w.key("bytes").value(c.bytes);
    w.key("new_flows").value(c.new_flows);
    w.key("icmp").value(c.icmp);
    w.key("drops").begin_object();
    for (unsigned d = 0; d < SL_XDROP__COUNT; ++d) w.key(sl_xdrop_name(d)).value(c.drops[d]);
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return std::move(w).str();
}

}  // namespace sluice
