// The JSON bodies of the admin API's endpoints.
#pragma once

#include <string>

#include "config_reloader.h"
#include "datapath_maps.h"
#include "l4_table_sync.h"
#include "reflector_status.h"
#include "map_handle.h"
#include "sock_redir_loader.h"
#include "xdp_daemon.h"

namespace sluice {

// /config: the snapshot version in force, the last rejected attempt's
// errors, reload counters and the last sync's size and duration. Both halves
// are of the same reload (the daemon reads them together).
std::string config_status_json(const config::ReloadStatus& reload, const L4SyncStatus& kernel);

// /kubernetes: each watched type's list and watch state (kube/reflector.h).
std::string kube_status_json(bool synced, const std::vector<kube::ReflectorStatus>& types, const kube::NodePods& node);

// /maps: every kernel service with its backends (ejection marks included)
// and connection counters, plus the per-CPU verdict counters summed.
std::string kernel_maps_json(const DatapathMaps& maps, const PerCpuArrayHandle<uint64_t>& stats);

// /redirect: the socket redirection mode, the sockhash fill level and
// capacity, and its counters summed over CPUs.
std::string socket_redirect_json(const SockRedir& redir);

// /xdp: the interface and mode, the verdict counters, and each VIP with its
// service, backend count and packet, byte, flow and drop counters.
std::string xdp_json(const XdpDaemon& xdp);

}  // namespace sluice
