#include "xdp_tables.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>

#include "xdp_lb_loader.h"

namespace sluice {

KernelXdpTables::KernelXdpTables(const XdpLbMaps& maps)
    : vips_fd_(maps.vips.fd()),
      maglev_fd_(maps.maglev.fd()),
      src_fd_(maps.src_ranges.fd()),
      cnt_fd_(maps.vip_counters.fd()) {}

std::optional<sl_xvip> KernelXdpTables::get_vip(const sl_xvip_key& key) const {
  sl_xvip v{};
  if (bpf_map_lookup_elem(vips_fd_, &key, &v) != 0) return std::nullopt;
  return v;
}

Status KernelXdpTables::put_vip(const sl_xvip_key& key, const sl_xvip& value) {
  if (bpf_map_update_elem(vips_fd_, &key, &value, BPF_ANY) != 0) return make_error(-errno, "update sl_xvips");
  return {};
}

Status KernelXdpTables::erase_vip(const sl_xvip_key& key) {
  if (bpf_map_delete_elem(vips_fd_, &key) != 0 && errno != ENOENT) return make_error(-errno, "delete from sl_xvips");
  return {};
}

std::vector<std::pair<sl_xvip_key, sl_xvip>> KernelXdpTables::vips() const {
  std::vector<std::pair<sl_xvip_key, sl_xvip>> out;
  MapHandle<sl_xvip_key, sl_xvip>(vips_fd_, "sl_xvips").for_each([&](const sl_xvip_key& k, const sl_xvip& v) {
    out.emplace_back(k, v);
  });
  return out;
}

Status KernelXdpTables::put_maglev(uint32_t vip_id, const std::vector<sl_xbackend>& table) {
  if (table.empty()) return make_error(-EINVAL, "empty Maglev table");
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
  int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_xmaglev_tbl", sizeof(uint32_t), sizeof(sl_xbackend),
                             static_cast<uint32_t>(table.size()), &opts);
  if (inner < 0) return make_error(-errno, "create XDP Maglev table");
  std::vector<uint32_t> keys(table.size());
  for (uint32_t i = 0; i < keys.size(); ++i) keys[i] = i;
  uint32_t count = static_cast<uint32_t>(table.size());
  int err = bpf_map_update_batch(inner, keys.data(), table.data(), &count, nullptr) == 0 ? 0 : -errno;
  if (err == 0) {
    // The outer update is the atomic switch: lookups see the old table or
    // the complete new one.
    err = bpf_map_update_elem(maglev_fd_, &vip_id, &inner, BPF_ANY) == 0 ? 0 : -errno;
  }
  ::close(inner);
  if (err) return make_error(err, "install XDP Maglev table");
  return {};
}

Status KernelXdpTables::erase_maglev(uint32_t vip_id) {
  // An array of maps deletes by index; an empty slot is ENOENT.
  if (bpf_map_delete_elem(maglev_fd_, &vip_id) != 0 && errno != ENOENT) {
    return make_error(-errno, "delete from sl_xmaglev");
  }
  return {};
}

Status KernelXdpTables::put_src_range(const sl_xsrc_key& key) {
  const uint32_t one = 1;
  if (bpf_map_update_elem(src_fd_, &key, &one, BPF_ANY) != 0) return make_error(-errno, "update sl_xsrc");
  return {};
}

Status KernelXdpTables::erase_src_range(const sl_xsrc_key& key) {
  if (bpf_map_delete_elem(src_fd_, &key) != 0 && errno != ENOENT) return make_error(-errno, "delete from sl_xsrc");
  return {};
}

std::vector<sl_xsrc_key> KernelXdpTables::src_ranges() const {
  return MapHandle<sl_xsrc_key, uint32_t>(src_fd_, "sl_xsrc").keys();
}

Status KernelXdpTables::reset_counters(uint32_t vip_id) {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error(cpus, "count CPUs");
  std::vector<sl_xvip_counters> zero(static_cast<size_t>(cpus));
  if (bpf_map_update_elem(cnt_fd_, &vip_id, zero.data(), BPF_ANY) != 0) {
    return make_error(-errno, "reset sl_xvip_cnt");
  }
  return {};
}

namespace {

uint64_t pack(const sl_xvip_key& k) {
  return (static_cast<uint64_t>(ntohl(k.addr)) << 24) | (static_cast<uint64_t>(ntohs(k.port)) << 8) | k.proto;
}

std::string key_text(const sl_xvip_key& k) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &k.addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(k.port)) + "/" + std::to_string(k.proto);
}

}  // namespace

std::optional<sl_xvip> MemoryXdpTables::get_vip(const sl_xvip_key& key) const {
  auto it = vips_.find(pack(key));
  if (it == vips_.end()) return std::nullopt;
  return it->second.second;
}

Status MemoryXdpTables::put_vip(const sl_xvip_key& key, const sl_xvip& value) {
  ops_.push_back("put_vip " + key_text(key) + " id=" + std::to_string(value.id));
  vips_[pack(key)] = {key, value};
  return {};
}

Status MemoryXdpTables::erase_vip(const sl_xvip_key& key) {
  ops_.push_back("erase_vip " + key_text(key));
  vips_.erase(pack(key));
  return {};
}

std::vector<std::pair<sl_xvip_key, sl_xvip>> MemoryXdpTables::vips() const {
  std::vector<std::pair<sl_xvip_key, sl_xvip>> out;
  for (const auto& [k, v] : vips_) out.push_back(v);
  return out;
}

Status MemoryXdpTables::put_maglev(uint32_t vip_id, const std::vector<sl_xbackend>& table) {
  if (table.empty()) return make_error(-EINVAL, "empty Maglev table");
  ops_.push_back("put_maglev " + std::to_string(vip_id));
  maglev_[vip_id] = table;
  return {};
}

Status MemoryXdpTables::erase_maglev(uint32_t vip_id) {
  ops_.push_back("erase_maglev " + std::to_string(vip_id));
  maglev_.erase(vip_id);
  return {};
}

Status MemoryXdpTables::put_src_range(const sl_xsrc_key& key) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &key.addr, buf, sizeof buf);
  ops_.push_back("put_src " + std::to_string(key.vip_id) + " " + buf + "/" + std::to_string(key.prefixlen - 32));
  src_[{key.vip_id, key.addr, key.prefixlen}] = key;
  return {};
}

Status MemoryXdpTables::erase_src_range(const sl_xsrc_key& key) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &key.addr, buf, sizeof buf);
  ops_.push_back("erase_src " + std::to_string(key.vip_id) + " " + buf + "/" + std::to_string(key.prefixlen - 32));
  src_.erase({key.vip_id, key.addr, key.prefixlen});
  return {};
}

std::vector<sl_xsrc_key> MemoryXdpTables::src_ranges() const {
  std::vector<sl_xsrc_key> out;
  for (const auto& [k, v] : src_) out.push_back(v);
  return out;
}

Status MemoryXdpTables::reset_counters(uint32_t vip_id) {
  ops_.push_back("reset_counters " + std::to_string(vip_id));
  return {};
}

const std::vector<sl_xbackend>* MemoryXdpTables::maglev(uint32_t vip_id) const {
  auto it = maglev_.find(vip_id);
  return it == maglev_.end() ? nullptr : &it->second;
}

}  // namespace sluice
