#include "sock_lb_loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "libbpf_log.h"
#include "pin_dir.h"
#include "sock_lb.skel.h"

namespace sluice {
namespace {

Error with_log(Error e, const LibbpfLogCapture& log) {
  e.verifier_log = log.text();
  return e;
}

// The cgroup id a pinned cgroup link is attached to, or 0.
uint64_t link_cgroup_id(bpf_link* link) {
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) != 0) return 0;
  return info.cgroup.cgroup_id;
}

}  // namespace

Result<std::unique_ptr<SockLb>> SockLb::load(const SockLbOptions& options) {
  if (Status s = ensure_bpffs_dir(options.pin_dir); !s) return s.error();

  LibbpfLogCapture log;
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = options.pin_dir.c_str());
  std::unique_ptr<SockLb> self(new SockLb());
  self->pin_dir_ = options.pin_dir;
  self->skel_ = sock_lb_bpf__open_opts(&open_opts);
  if (!self->skel_) return with_log(make_error(-errno, "open sock_lb BPF object"), log);

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

  self->reused_maps_ = path_exists(options.pin_dir + "/sl_services");
  if (int err = sock_lb_bpf__load(self->skel_); err) {
    return with_log(make_error(err, "load sock_lb BPF programs (pin dir " + options.pin_dir +
                                        "; a pinned map of another size or layout cannot be reused)"),
                    log);
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
      {bpf_map__fd(m->sl_node), "sl_node"},
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

Status SockLb::attach(const CgroupTarget& target) {
  auto cg = CgroupDir::open(target);
  if (!cg) return cg.error();
  if (!links_.empty()) return make_error(-EALREADY, "sock_lb is already attached");
  if (Status s = ensure_bpffs_dir(link_dir()); !s) return s;

  LibbpfLogCapture log;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel_->obj) {
    std::string pin = link_dir() + "/" + bpf_program__name(prog);
    bpf_link* link = nullptr;
    if (path_exists(pin)) {
      link = bpf_link__open(pin.c_str());
      if (!link) return with_log(make_error(-errno, "open pinned link " + pin), log);
      if (uint64_t id = link_cgroup_id(link); id != cg->id()) {
        bpf_link__destroy(link);
        return make_error(-EEXIST, "pinned link " + pin + " belongs to cgroup id " +
                                       std::to_string(id) + ", not " + cg->path() +
                                       "; detach it first (sluiced --cleanup)");
      }
      if (int err = bpf_link__update_program(link, prog); err) {
        bpf_link__destroy(link);
        return with_log(make_error(err, "switch pinned link " + pin + " to the new program"), log);
      }
      ++adopted_links_;
    } else {
      link = bpf_program__attach_cgroup(prog, cg->fd());
      if (!link) {
        return with_log(make_error(-errno, std::string("attach ") + bpf_program__name(prog) +
                                               " to " + cg->path()),
                        log);
      }
      if (int err = bpf_link__pin(link, pin.c_str()); err) {
        bpf_link__destroy(link);
        return with_log(make_error(err, "pin link " + pin), log);
      }
    }
    links_.push_back(link);
  }
  return {};
}

Status SockLb::detach() {
  Status result;
  for (bpf_link* link : links_) {
    if (const char* pin = bpf_link__pin_path(link)) {
      std::string path = pin;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT && result.ok()) {
        result = make_error(-errno, "unpin " + path);
      }
    }
    if (int err = bpf_link__detach(link); err && result.ok()) {
      result = make_error(err, "detach link");
    }
    bpf_link__destroy(link);
  }
  links_.clear();
  return result;
}

Status SockLb::remove_pins(const std::string& pin_dir) { return remove_tree(pin_dir); }

}  // namespace sluice
