#include "pinned_maps.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>

namespace sluice {

Result<PinnedSockLbMaps> PinnedSockLbMaps::open(const std::string& pin_dir) {
  PinnedSockLbMaps p;
  auto get = [&](const char* name, int& fd) -> Status {
    std::string path = pin_dir + "/" + name;
    fd = bpf_obj_get(path.c_str());
    if (fd < 0) return make_error(-errno, "open pinned map " + path + " (is sluice loaded?)");
    p.fds_.push_back(fd);
    return {};
  };
  int services, slots, backends, svc_cnt, be_cnt, maglev, udp_nat, stats, orig_dst;
  for (auto [name, fd] : {std::pair{"sl_services", &services}, {"sl_slots", &slots},
                          {"sl_backends", &backends}, {"sl_svc_cnt", &svc_cnt},
                          {"sl_be_cnt", &be_cnt}, {"sl_maglev", &maglev},
                          {"sl_udp_nat", &udp_nat}, {"sl_stats", &stats},
                          {"sl_orig_dst", &orig_dst}}) {
    if (Status s = get(name, *fd); !s) return s.error();
  }
  p.maps_ = SockLbMaps{{services, "sl_services"}, {slots, "sl_slots"},
                       {backends, "sl_backends"}, {svc_cnt, "sl_svc_cnt"},
                       {be_cnt, "sl_be_cnt"},     {maglev, "sl_maglev"},
                       {udp_nat, "sl_udp_nat"},   {stats, "sl_stats"},
                       {orig_dst, "sl_orig_dst"},
                       // The proxy's listener slot is the running daemon's and
                       // never pinned (sock_lb_types.h): nothing to open.
                       {-1, "sl_proxy_lsn"},
                       {-1, "sl_egress"},
                       {-1, "sl_edge_cnt"},
                       {-1, "sl_pol_src"},
                       {-1, "sl_pol_dst"},
                       {-1, "sl_pol_rule"},
                       {-1, "sl_conn_rate"},
                       {-1, "sl_pol_peer"},
                       {-1, "sl_svc_rtt"}};
  return p;
}

PinnedSockLbMaps::PinnedSockLbMaps(PinnedSockLbMaps&& other) noexcept
    : fds_(std::move(other.fds_)), maps_(other.maps_) {
  other.fds_.clear();
}

PinnedSockLbMaps::~PinnedSockLbMaps() {
  for (int fd : fds_) ::close(fd);
}

}  // namespace sluice
