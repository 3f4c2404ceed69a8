// The XDP load balancer's tables as an interface: the kernel implementation
// writes the pinned maps of bpf/xdp_lb.bpf.c, the in-memory one lets
// unprivileged unit tests check what would be written, and in what order.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "result.h"
#include "xdp_lb_loader.h"
#include "xdp_lb_types.h"
#include "xdp_vip_filter.h"

namespace sluice {

class XdpTables {
 public:
  virtual ~XdpTables() = default;

  virtual std::optional<sl_xvip> get_vip(const sl_xvip_key& key) const = 0;
  virtual Status put_vip(const sl_xvip_key& key, const sl_xvip& value) = 0;
  virtual Status erase_vip(const sl_xvip_key& key) = 0;
  virtual std::vector<std::pair<sl_xvip_key, sl_xvip>> vips() const = 0;

  // Replaces a VIP's Maglev table in one atomic switch.
  virtual Status put_maglev(uint32_t vip_id, const std::vector<sl_xbackend>& table) = 0;
  virtual Status erase_maglev(uint32_t vip_id) = 0;

  virtual Status put_src_range(const sl_xsrc_key& key) = 0;
  virtual Status erase_src_range(const sl_xsrc_key& key) = 0;
  virtual std::vector<sl_xsrc_key> src_ranges() const = 0;

  // A VIP id's counters start from zero when the id is given to a new VIP.
  virtual Status reset_counters(uint32_t vip_id) = 0;

  // The generation conntrack entries of the VIP id are checked against.
  virtual Status put_vip_gen(uint32_t vip_id, const sl_xvip_gen& gen) = 0;
  // Every id's generation, indexed by id (ids never written are zero).
  virtual std::vector<sl_xvip_gen> vip_gens() const = 0;

  virtual Status put_filter_word(const XdpFilterWord& word) = 0;
};

class KernelXdpTables final : public XdpTables {
 public:
  explicit KernelXdpTables(const XdpLbMaps& maps);

  std::optional<sl_xvip> get_vip(const sl_xvip_key& key) const override;
  Status put_vip(const sl_xvip_key& key, const sl_xvip& value) override;
  Status erase_vip(const sl_xvip_key& key) override;
  std::vector<std::pair<sl_xvip_key, sl_xvip>> vips() const override;
  Status put_maglev(uint32_t vip_id, const std::vector<sl_xbackend>& table) override;
  Status erase_maglev(uint32_t vip_id) override;
  Status put_src_range(const sl_xsrc_key& key) override;
  Status erase_src_range(const sl_xsrc_key& key) override;
  std::vector<sl_xsrc_key> src_ranges() const override;
  Status reset_counters(uint32_t vip_id) override;
  Status put_vip_gen(uint32_t vip_id, const sl_xvip_gen& gen) override;
  std::vector<sl_xvip_gen> vip_gens() const override;
  Status put_filter_word(const XdpFilterWord& word) override;

 private:
  XdpLbMaps m_;  // handles: the loader owns the maps
};

class MemoryXdpTables final : public XdpTables {
 public:
  std::optional<sl_xvip> get_vip(const sl_xvip_key& key) const override;
  Status put_vip(const sl_xvip_key& key, const sl_xvip& value) override;
  Status erase_vip(const sl_xvip_key& key) override;
  std::vector<std::pair<sl_xvip_key, sl_xvip>> vips() const override;
  Status put_maglev(uint32_t vip_id, const std::vector<sl_xbackend>& table) override;
  Status erase_maglev(uint32_t vip_id) override;
  Status put_src_range(const sl_xsrc_key& key) override;
  Status erase_src_range(const sl_xsrc_key& key) override;
  std::vector<sl_xsrc_key> src_ranges() const override;
  Status reset_counters(uint32_t vip_id) override;
  Status put_vip_gen(uint32_t vip_id, const sl_xvip_gen& gen) override;
  std::vector<sl_xvip_gen> vip_gens() const override;
  Status put_filter_word(const XdpFilterWord& word) override;

  // Inspection for tests: "put_vip 10.96.0.10:80/6", "put_maglev 3", ...
  const std::vector<std::string>& ops() const { return ops_; }
  void clear_ops() { ops_.clear(); }
  const std::vector<sl_xbackend>* maglev(uint32_t vip_id) const;
  uint64_t filter_word(uint32_t index) const;

 private:
  std::map<uint64_t, std::pair<sl_xvip_key, sl_xvip>> vips_;  // by packed key
  std::map<uint32_t, std::vector<sl_xbackend>> maglev_;
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, sl_xsrc_key> src_;
  std::map<uint32_t, sl_xvip_gen> gens_;
  std::map<uint32_t, uint64_t> filter_;
  std::vector<std::string> ops_;
};

}  // namespace sluice
