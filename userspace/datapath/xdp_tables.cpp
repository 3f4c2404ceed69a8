#include "xdp_tables.h"

#include <arpa/inet.h>

namespace sluice {

KernelXdpTables::KernelXdpTables(const XdpLbMaps& maps) : m_(maps) {}

std::optional<sl_xvip> KernelXdpTables::get_vip(const sl_xvip_key& key) const { return m_.vips.lookup(key); }

Status KernelXdpTables::put_vip(const sl_xvip_key& key, const sl_xvip& value) { return m_.vips.update(key, value); }

Status KernelXdpTables::erase_vip(const sl_xvip_key& key) { return m_.vips.erase(key); }

std::vector<std::pair<sl_xvip_key, sl_xvip>> KernelXdpTables::vips() const {
  std::vector<std::pair<sl_xvip_key, sl_xvip>> out;
  m_.vips.for_each([&](const sl_xvip_key& k, const sl_xvip& v) { out.emplace_back(k, v); });
  return out;
}

Status KernelXdpTables::put_maglev(uint32_t vip_id, const std::vector<sl_xbackend>& table) {
  return m_.maglev.install_array(vip_id, table, "sl_xmaglev_tbl");
}

// An array of maps deletes by index; an empty slot is ENOENT, no error.
Status KernelXdpTables::erase_maglev(uint32_t vip_id) { return m_.maglev.erase(vip_id); }

Status KernelXdpTables::put_src_range(const sl_xsrc_key& key) { return m_.src_ranges.update(key, 1); }

Status KernelXdpTables::erase_src_range(const sl_xsrc_key& key) { return m_.src_ranges.erase(key); }

std::vector<sl_xsrc_key> KernelXdpTables::src_ranges() const { return m_.src_ranges.keys(); }

Status KernelXdpTables::reset_counters(uint32_t vip_id) { return m_.vip_counters.reset(vip_id); }

Status KernelXdpTables::put_vip_gen(uint32_t vip_id, const sl_xvip_gen& gen) { return m_.vip_gens.update(vip_id, gen); }

std::vector<sl_xvip_gen> KernelXdpTables::vip_gens() const {
  std::vector<sl_xvip_gen> out;
  m_.vip_gens.for_each([&](uint32_t id, const sl_xvip_gen& g) {
    if (id >= out.size()) out.resize(id + 1);
    out[id] = g;
  });
  return out;
}

Status KernelXdpTables::put_filter_word(const XdpFilterWord& word) { return m_.vip_filter.update(word.index, word.bits); }

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

Status MemoryXdpTables::put_vip_gen(uint32_t vip_id, const sl_xvip_gen& gen) {
  ops_.push_back("put_gen " + std::to_string(vip_id) + " gen=" + std::to_string(gen.gen) +
                 " since=" + std::to_string(gen.since));
  gens_[vip_id] = gen;
  return {};
}

std::vector<sl_xvip_gen> MemoryXdpTables::vip_gens() const {
  std::vector<sl_xvip_gen> out(gens_.empty() ? 0 : gens_.rbegin()->first + 1);
  for (const auto& [id, g] : gens_) out[id] = g;
  return out;
}

Status MemoryXdpTables::put_filter_word(const XdpFilterWord& word) {
  ops_.push_back("put_filter " + std::to_string(word.index));
  filter_[word.index] = word.bits;
  return {};
}

uint64_t MemoryXdpTables::filter_word(uint32_t index) const {
  auto it = filter_.find(index);
  return it == filter_.end() ? 0 : it->second;
}

const std::vector<sl_xbackend>* MemoryXdpTables::maglev(uint32_t vip_id) const {
  auto it = maglev_.find(vip_id);
  return it == maglev_.end() ? nullptr : &it->second;
}

}  // namespace sluice
