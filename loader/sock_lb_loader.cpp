#include "sock_lb_loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "cgroup_links.h"
#include "counter_pins.h"
#include "libbpf_log.h"
#include "netns_link.h"
#include "pin_dir.h"
#include "sock_lb.skel.h"

namespace sluice {
int policy_denial_errno() {
  static const int err =
      libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_set_retval, nullptr) == 1 ? EACCES : EPERM;
  return err;
}

Result<std::unique_ptr<SockLb>> SockLb::load(const SockLbOptions& options) {
  if (Status s = ensure_bpffs_dir(options.pin_dir); !s) return s.error();

  LibbpfLogCapture log;
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = options.pin_dir.c_str());
  std::unique_ptr<SockLb> self(new SockLb());
  self->pin_dir_ = options.pin_dir;
  self->skel_ = sock_lb_bpf__open_opts(&open_opts);
  if (!self->skel_) return log.with(make_error(-errno, "open sock_lb BPF object"));
  for (const bpf_map* counters : {self->skel_->maps.sl_stats, self->skel_->maps.sl_svc_rtt, self->skel_->maps.sl_edge_cnt}) {
    if (auto dropped = unpin_reshaped_counters(counters, options.pin_dir); !dropped) return dropped.error();
  }

  auto* m = &self->skel_->maps;
  struct Size {
    bpf_map* map;
    uint32_t entries;
  };
  for (const Size& s : {Size{m->sl_services, options.max_services},
                        Size{m->sl_svc_cnt, options.max_services},
                        Size{m->sl_slots, options.max_slot_entries},
                        Size{m->sl_backends, options.max_backends},
                        Size{m->sl_be_cnt, options.max_backends},
                        Size{m->sl_udp_nat, options.udp_nat_entries},
                        Size{m->sl_maglev, options.max_maglev_services},
                        Size{m->sl_orig_dst, options.orig_dst_entries}}) {
    if (int err = bpf_map__set_max_entries(s.map, s.entries); err) {
      return make_error(err, std::string("size map ") + bpf_map__name(s.map));
    }
  }

  self->skel_->rodata->sl_proxy_ip = htonl(options.proxy_ip);
  self->skel_->rodata->sl_proxy_port = htons(options.proxy_port);
  self->skel_->rodata->sl_bypass_mark = options.bypass_mark;
  self->skel_->rodata->sl_policy_errno = options.policy_eacces && policy_denial_errno() == EACCES ? 1 : 0;
  self->spread_ = options.proxy_port != 0 && options.proxy_spread_count != 0;
  if (self->spread_) {
    if (uint32_t{options.proxy_spread_first} + options.proxy_spread_count > 65536 || options.proxy_spread_first == 0) {
      return make_error(-EINVAL, "proxy spread ports " + std::to_string(options.proxy_spread_first) + "+" +
                                     std::to_string(options.proxy_spread_count) + " are not a port range");
    }
    self->skel_->rodata->sl_proxy_spread_first = options.proxy_spread_first;
    self->skel_->rodata->sl_proxy_spread_count = options.proxy_spread_count;
  } else {
    // Not loaded at all: an sk_lookup program needs a kernel that has them.
    bpf_program__set_autoload(self->skel_->progs.sl_proxy_spread, false);
  }

  self->reused_maps_ = path_exists(options.pin_dir + "/sl_services");
  if (int err = sock_lb_bpf__load(self->skel_); err) {
    return log.with(make_error(err, "load sock_lb BPF programs (pin dir " + options.pin_dir +
                                        "; a pinned map of another size or layout cannot be reused)"));
  }

  self->maps_ = SockLbMaps{
      {bpf_map__fd(m->sl_services), "sl_services"},
      {bpf_map__fd(m->sl_slots), "sl_slots"},
      {bpf_map__fd(m->sl_backends), "sl_backends"},
      {bpf_map__fd(m->sl_svc_cnt), "sl_svc_cnt"},
      {bpf_map__fd(m->sl_be_cnt), "sl_be_cnt"},
      {bpf_map__fd(m->sl_maglev), "sl_maglev"},
      {bpf_map__fd(m->sl_udp_nat), "sl_udp_nat"},
      {bpf_map__fd(m->sl_stats), "sl_stats"},
      {bpf_map__fd(m->sl_orig_dst), "sl_orig_dst"},
      {bpf_map__fd(m->sl_proxy_lsn), "sl_proxy_lsn"},
      {bpf_map__fd(m->sl_egress), "sl_egress"},
      {bpf_map__fd(m->sl_edge_cnt), "sl_edge_cnt"},
      {bpf_map__fd(m->sl_pol_src), "sl_pol_src"},
      {bpf_map__fd(m->sl_pol_dst), "sl_pol_dst"},
      {bpf_map__fd(m->sl_pol_rule), "sl_pol_rule"},
      {bpf_map__fd(m->sl_conn_rate), "sl_conn_rate"},
      {bpf_map__fd(m->sl_pol_peer), "sl_pol_peer"},
      {bpf_map__fd(m->sl_svc_rtt), "sl_svc_rtt"},
  };
  return self;
}

SockLb::~SockLb() {
  // Closing our link fds does not detach pinned links: the data path keeps
  // running without us.
  for (bpf_link* link : links_) bpf_link__destroy(link);
  if (skel_) sock_lb_bpf__destroy(skel_);
}

std::string SockLb::link_dir() const { return pin_dir_ + "/links"; }

Status SockLb::attach(const CgroupTarget& target, const std::string& netns) {
  auto cg = CgroupDir::open(target);
  if (!cg) return cg.error();
  if (!links_.empty()) return make_error(-EALREADY, "sock_lb is already attached");
  auto adopted = attach_cgroup_programs(skel_->obj, *cg, link_dir(), links_);
  if (!adopted) return adopted.error();
  adopted_links_ = *adopted;
  if (!spread_) return unpin_netns_link(skel_->progs.sl_proxy_spread, link_dir());  // one an earlier run left
  bool adopted_spread = false;
  auto link = attach_to_netns(skel_->progs.sl_proxy_spread, netns, link_dir(), &adopted_spread);
  if (!link) return link.error();
  links_.push_back(*link);
  adopted_links_ += adopted_spread ? 1 : 0;
  return {};
}

Status SockLb::detach() { return detach_links(links_); }

std::vector<MapFill> SockLb::map_fills() const {
  const SockLbMaps& m = maps_;
  std::vector<MapFill> out;
  for (const auto& [fd, name] : std::initializer_list<std::pair<int, const char*>>{
           {m.services.fd(), "sl_services"},
           {m.slots.fd(), "sl_slots"},
           {m.backends.fd(), "sl_backends"},
           {m.svc_counters.fd(), "sl_svc_cnt"},
           {m.backend_counters.fd(), "sl_be_cnt"},
           {m.maglev.fd(), "sl_maglev"},
           {m.udp_nat.fd(), "sl_udp_nat"},
           {m.orig_dst.fd(), "sl_orig_dst"},
           {m.egress.fd(), "sl_egress"},
           {m.edges.fd(), "sl_edge_cnt"},
           {m.policy_sources.fd(), "sl_pol_src"},
           {m.policy_dests.fd(), "sl_pol_dst"},
           {m.policy_rules.fd(), "sl_pol_rule"},
           {m.conn_rate.fd(), "sl_conn_rate"},
           {m.policy_peers.fd(), "sl_pol_peer"},
           {m.rtt.fd(), "sl_svc_rtt"}}) {
    if (auto fill = map_fill(fd, name)) out.push_back(std::move(*fill));
  }
  return out;
}

Status SockLb::remove_pins(const std::string& pin_dir) { return remove_tree(pin_dir); }

}  // namespace sluice
