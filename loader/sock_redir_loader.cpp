#include "sock_redir_loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>

#include "cgroup_links.h"
#include "counter_pins.h"
#include "libbpf_log.h"
#include "map_fill.h"
#include "pin_dir.h"
#include "sock_redir.skel.h"

namespace sluice {
namespace {

RedirStats sum_stats(int fd) {
  PerCpuArrayHandle<uint64_t> stats(fd, "sl_redir_stats");
  RedirStats out{};
  for (unsigned i = 0; i < SL_RS__COUNT; ++i) out[i] = stats.sum(i);
  return out;
}

uint32_t count_keys(int fd) {
  auto fill = map_fill(fd, "sockhash");
  return fill ? fill->entries : 0;
}

}  // namespace

Result<std::unique_ptr<SockRedir>> SockRedir::load(const SockRedirOptions& options) {
  if (Status s = ensure_bpffs_dir(options.pin_dir); !s) return s.error();
  if (options.local_prefix_len > 32) return make_error(-EINVAL, "sock_redir: pod network prefix length over 32");
  LibbpfLogCapture log;
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = options.pin_dir.c_str());
  std::unique_ptr<SockRedir> self(new SockRedir());
  self->pin_dir_ = options.pin_dir;
  self->mode_ = options.mode;
  self->capacity_ = options.sockhash_entries;
  self->skel_ = sock_redir_bpf__open_opts(&open_opts);
  if (!self->skel_) return log.with(make_error(-errno, "open sock_redir BPF object"));
  if (auto dropped = unpin_reshaped_counters(self->skel_->maps.sl_redir_stats, options.pin_dir); !dropped) {
    return dropped.error();
  }
  for (bpf_map* m : {self->skel_->maps.sl_sockhash, self->skel_->maps.sl_proxyhash, self->skel_->maps.sl_redir_pend}) {
    if (int err = bpf_map__set_max_entries(m, options.sockhash_entries); err) {
      return make_error(err, std::string("size map ") + bpf_map__name(m));
    }
  }
  const uint32_t mask = options.local_prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - options.local_prefix_len);
  auto* ro = self->skel_->rodata;
  ro->sl_redir_mode = options.mode;
  ro->sl_local_net = htonl(options.local_net & mask);
  // No pod network given: only the node address counts as local.
  ro->sl_local_mask = options.local_net ? htonl(mask) : 0xffffffffu;
  ro->sl_node_ip = htonl(options.node_ip);
  ro->sl_bulk_bytes = options.bulk_bytes;
  ro->sl_proxy_mark = options.proxy_mark;
  if (int err = sock_redir_bpf__load(self->skel_); err) {
    return log.with(make_error(err, "load sock_redir BPF programs (pin dir " + options.pin_dir + ")"));
  }
  return self;
}

SockRedir::~SockRedir() {
  for (bpf_link* link : links_) bpf_link__destroy(link);
  if (skel_) sock_redir_bpf__destroy(skel_);
}

Status SockRedir::attach(const CgroupTarget& target) {
  auto cg = CgroupDir::open(target);
  if (!cg) return cg.error();
  if (!links_.empty()) return make_error(-EALREADY, "sock_redir is already attached");
  // The verdict program first: a socket inserted before it is attached
  // would not get it.
  LibbpfLogCapture log;
  if (bpf_prog_attach(bpf_program__fd(skel_->progs.sl_redir_msg), bpf_map__fd(skel_->maps.sl_sockhash),
                      BPF_SK_MSG_VERDICT, 0) != 0) {
    return log.with(make_error(-errno, "attach sk_msg to sl_sockhash"));
  }
  msg_attached_ = true;
  auto adopted = attach_cgroup_programs(skel_->obj, *cg, pin_dir_ + "/links", links_);
  if (!adopted) return adopted.error();
  return {};
}

Status SockRedir::detach() {
  Status result = detach_links(links_);
  if (msg_attached_) {
    if (bpf_prog_detach2(bpf_program__fd(skel_->progs.sl_redir_msg), bpf_map__fd(skel_->maps.sl_sockhash),
                         BPF_SK_MSG_VERDICT) != 0 &&
        result.ok()) {
      result = make_error(-errno, "detach sk_msg from sl_sockhash");
    }
    msg_attached_ = false;
  }
  return result;
}

Result<RedirStats> SockRedir::stats() const { return sum_stats(bpf_map__fd(skel_->maps.sl_redir_stats)); }

Result<uint32_t> SockRedir::sockhash_fill() const {
  return count_keys(bpf_map__fd(skel_->maps.sl_sockhash)) + count_keys(bpf_map__fd(skel_->maps.sl_proxyhash));
}

Status SockRedir::remove_pins(const std::string& pin_dir) {
  const std::string link_pin = pin_dir + "/links/sl_redir_sockops";
  if (path_exists(link_pin)) {
    bpf_link* link = bpf_link__open(link_pin.c_str());
    if (!link) return make_error(-errno, "open pinned link " + link_pin);
    std::vector<bpf_link*> links{link};
    if (Status s = detach_links(links); !s) return s;
  }
  for (const char* name : {"sl_sockhash", "sl_proxyhash", "sl_redir_pend", "sl_redir_sk", "sl_redir_stats"}) {
    const std::string path = pin_dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return make_error(-errno, "unpin " + path);
  }
  return {};
}

}  // namespace sluice
