#include "xdp_lb_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "libbpf_log.h"
#include "pin_dir.h"
#include "tc_nat.skel.h"
#include "xdp_lb.skel.h"

namespace sluice {
namespace {

// One TC filter slot per interface is sluice's.
constexpr uint32_t kTcHandle = 0x51;
constexpr uint32_t kTcPriority = 0x51;

}  // namespace

const char* xdp_mode_name(XdpMode m) {
  switch (m) {
    case XdpMode::kNative: return "native";
    case XdpMode::kGeneric: return "generic";
    case XdpMode::kNone: return "none";
  }
  return "none";
}

const std::vector<std::string>& XdpLb::pinned_map_names() {
  static const std::vector<std::string> names = {"sl_xvips", "sl_xmaglev",  "sl_xct",      "sl_xnat",
                                                 "sl_xsrc",  "sl_xvip_cnt", "sl_xstats",   "sl_xvip_gen",
                                                 "sl_xvip_filt"};
  return names;
}

Result<std::unique_ptr<XdpLb>> XdpLb::load(const XdpLbOptions& options) {
  if (Status s = ensure_bpffs_dir(options.pin_dir); !s) return s.error();

  LibbpfLogCapture log;
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = options.pin_dir.c_str());
  std::unique_ptr<XdpLb> self(new XdpLb());
  self->pin_dir_ = options.pin_dir;
  self->xdp_ = xdp_lb_bpf__open_opts(&open_opts);
  if (!self->xdp_) return log.with(make_error(-errno, "open xdp_lb BPF object"));
  self->tc_ = tc_nat_bpf__open_opts(&open_opts);
  if (!self->tc_) return log.with(make_error(-errno, "open tc_nat BPF object"));

  auto* m = &self->xdp_->maps;
  auto* t = &self->tc_->maps;
  struct Size {
    bpf_map* map;
    uint32_t entries;
  };
  for (const Size& s : {Size{m->sl_xvips, options.max_vips}, Size{m->sl_xmaglev, options.max_vips},
                        Size{m->sl_xvip_cnt, options.max_vips}, Size{t->sl_xvip_cnt, options.max_vips},
                        Size{m->sl_xvip_gen, options.max_vips},
                        Size{m->sl_xct, options.ct_entries}, Size{m->sl_xnat, options.ct_entries},
                        Size{t->sl_xnat, options.ct_entries}, Size{m->sl_xsrc, options.src_ranges}}) {
    if (int err = bpf_map__set_max_entries(s.map, s.entries); err) {
      return make_error(err, std::string("size map ") + bpf_map__name(s.map));
    }
  }
  self->xdp_->rodata->sl_xdp_bench_flags = options.bench_flags;
  self->xdp_->rodata->sl_xdp_fib_redirect = options.redirect ? 1 : 0;

  self->reused_maps_ = path_exists(options.pin_dir + "/sl_xvips");
  const std::string hint = " (pin dir " + options.pin_dir +
                           "; a pinned map of another size or layout cannot be reused)";
  // XDP first: it creates and pins the shared maps that tc_nat then reuses.
  if (int err = xdp_lb_bpf__load(self->xdp_); err) {
    return log.with(make_error(err, "load xdp_lb BPF program" + hint));
  }
  if (int err = tc_nat_bpf__load(self->tc_); err) {
    return log.with(make_error(err, "load tc_nat BPF program" + hint));
  }

  self->maps_ = XdpLbMaps{
      {bpf_map__fd(m->sl_xvips), "sl_xvips"},   {bpf_map__fd(m->sl_xmaglev), "sl_xmaglev"},
      {bpf_map__fd(m->sl_xct), "sl_xct"},       {bpf_map__fd(m->sl_xnat), "sl_xnat"},
      {bpf_map__fd(m->sl_xsrc), "sl_xsrc"},     {bpf_map__fd(m->sl_xvip_cnt), "sl_xvip_cnt"},
      {bpf_map__fd(m->sl_xstats), "sl_xstats"}, {bpf_map__fd(m->sl_xvip_gen), "sl_xvip_gen"},
      {bpf_map__fd(m->sl_xvip_filt), "sl_xvip_filt"},
  };
  return self;
}

XdpLb::~XdpLb() {
  if (tc_) tc_nat_bpf__destroy(tc_);
  if (xdp_) xdp_lb_bpf__destroy(xdp_);
}

Status XdpLb::set_tx_devices(const std::vector<int>& ifindexes) {
  std::vector<int> want(ifindexes);
  std::sort(want.begin(), want.end());
  want.erase(std::unique(want.begin(), want.end()), want.end());
  if (want.size() > SL_XDP_TX_DEVICES) return make_error(-E2BIG, "more egress devices than sl_xtx holds");
  const int fd = bpf_map__fd(xdp_->maps.sl_xtx);
  std::vector<int> kept;
  for (int ifindex : tx_devices_) {
    if (std::binary_search(want.begin(), want.end(), ifindex)) {
      kept.push_back(ifindex);
      continue;
    }
    const uint32_t key = static_cast<uint32_t>(ifindex);
    if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
      tx_devices_ = kept;
      return make_error(-errno, "remove ifindex " + std::to_string(ifindex) + " from sl_xtx");
    }
  }
  tx_devices_ = kept;
  // The count only gates the FIB lookup; with no device left it stops now.
  xdp_->bss->sl_xtx_listed = static_cast<uint32_t>(tx_devices_.size());
  Status result;
  for (int ifindex : want) {
    if (std::binary_search(tx_devices_.begin(), tx_devices_.end(), ifindex)) continue;
    const uint32_t key = static_cast<uint32_t>(ifindex), value = key;
    // The kernel refuses a device that is gone since; the others still go in.
    if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) {
      if (result.ok()) result = make_error(-errno, "add ifindex " + std::to_string(ifindex) + " to sl_xtx");
      continue;
    }
    tx_devices_.insert(std::upper_bound(tx_devices_.begin(), tx_devices_.end(), ifindex), ifindex);
  }
  xdp_->bss->sl_xtx_listed = static_cast<uint32_t>(tx_devices_.size());
  return result;
}

int XdpLb::xdp_prog_fd() const { return bpf_program__fd(xdp_->progs.sl_xdp_lb); }
int XdpLb::tc_prog_fd() const { return bpf_program__fd(tc_->progs.sl_tc_nat); }

Result<XdpMode> XdpLb::attach_xdp(int ifindex, bool force_generic) {
  if (ifindex <= 0) return make_error(-EINVAL, "attach XDP: bad ifindex");
  int native_err = 0;
  if (!force_generic) {
    native_err = bpf_xdp_attach(ifindex, xdp_prog_fd(), XDP_FLAGS_DRV_MODE, nullptr);
    if (native_err == 0) {
      mode_ = XdpMode::kNative;
      xdp_ifindex_ = ifindex;
      return mode_;
    }
  }
  if (int err = bpf_xdp_attach(ifindex, xdp_prog_fd(), XDP_FLAGS_SKB_MODE, nullptr); err) {
    return make_error(err, "attach XDP to ifindex " + std::to_string(ifindex) +
                               " (native mode: " + std::to_string(native_err) + ")");
  }
  mode_ = XdpMode::kGeneric;
  xdp_ifindex_ = ifindex;
  return mode_;
}

Status XdpLb::attach_tc(int ifindex) {
  if (ifindex <= 0) return make_error(-EINVAL, "attach TC: bad ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
  if (int err = bpf_tc_hook_create(&hook); err && err != -EEXIST) {
    return make_error(err, "create clsact on ifindex " + std::to_string(ifindex));
  }
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = tc_prog_fd(), .flags = BPF_TC_F_REPLACE,
              .handle = kTcHandle, .priority = kTcPriority);
  if (int err = bpf_tc_attach(&hook, &opts); err) {
    return make_error(err, "attach tc_nat to egress of ifindex " + std::to_string(ifindex));
  }
  tc_ifindex_ = ifindex;
  return {};
}

namespace {

Status detach_xdp(int ifindex) {
  // Whichever mode it was attached in: a detach of the other mode is a no-op.
  int err_drv = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, nullptr);
  int err_skb = bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, nullptr);
  if (err_drv && err_skb && err_skb != -ENODEV) {
    return make_error(err_skb, "detach XDP from ifindex " + std::to_string(ifindex));
  }
  return {};
}

Status detach_tc(int ifindex) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  int err = bpf_tc_detach(&hook, &opts);
  if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL) {
    return make_error(err, "detach tc_nat from ifindex " + std::to_string(ifindex));
  }
  return {};
}

}  // namespace

Status XdpLb::detach() {
  Status result;
  if (xdp_ifindex_) {
    if (Status s = detach_xdp(xdp_ifindex_); !s) result = s;
    xdp_ifindex_ = 0;
    mode_ = XdpMode::kNone;
  }
  if (tc_ifindex_) {
    if (Status s = detach_tc(tc_ifindex_); !s && result.ok()) result = s;
    tc_ifindex_ = 0;
  }
  return result;
}

Status XdpLb::detach_interface(int ifindex) {
  Status a = detach_xdp(ifindex);
  Status b = detach_tc(ifindex);
  return a.ok() ? b : a;
}

Status XdpLb::remove_pins(const std::string& pin_dir) {
  for (const std::string& name : pinned_map_names()) {
    const std::string path = pin_dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return make_error(-errno, "unpin " + path);
  }
  return {};
}

}  // namespace sluice
