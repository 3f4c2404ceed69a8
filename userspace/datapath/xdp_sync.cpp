#include "xdp_sync.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>

#include "endpoint_key.h"
#include "maglev.h"

namespace sluice {

sl_xvip_key xdp_key(uint32_t addr, uint16_t port, uint8_t proto) {
  sl_xvip_key k{};
  k.addr = htonl(addr);
  k.port = htons(port);
  k.proto = proto;
  return k;
}

std::vector<sl_xbackend> xdp_maglev_table(const XdpVipSpec& vip) {
  std::vector<const XdpBackendSpec*> eligible;
  for (const XdpBackendSpec& b : vip.backends) {
    if (b.weight == 0 || (vip.local_only && !b.local)) continue;
    eligible.push_back(&b);
  }
  if (eligible.empty()) return {};
  uint32_t size = vip.maglev_size;
  if (!is_prime(size) || size < eligible.size()) size = SL_MAGLEV_DEFAULT_SIZE;
  std::vector<MaglevEntry> entries;
  entries.reserve(eligible.size());
  for (uint32_t i = 0; i < eligible.size(); ++i) {
    const XdpBackendSpec& b = *eligible[i];
    entries.push_back({endpoint_key(b.addr, b.port), b.weight, i});
  }
  std::vector<uint32_t> slots = build_maglev_table(entries, size);
  std::vector<sl_xbackend> table(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    const XdpBackendSpec& b = *eligible[slots[i]];
    table[i].addr = htonl(b.addr);
    table[i].port = htons(b.port);
    table[i].flags = b.local ? SL_XBE_F_LOCAL : 0;
  }
  return table;
}

XdpDiff diff_xdp(const XdpVipMap& before, const XdpVipMap& after) {
  XdpDiff d;
  for (const auto& [key, spec] : after) {
    auto it = before.find(key);
    if (it == before.end() || !(it->second == spec)) d.upserts.push_back(spec);
  }
  for (const auto& [key, spec] : before) {
    if (!after.count(key)) d.removals.push_back(key);
  }
  return d;
}

namespace {

sl_xsrc_key src_key(uint32_t id, const XdpSourceRange& r) {
  sl_xsrc_key k{};
  k.prefixlen = 32u + r.len;
  k.vip_id = id;
  k.addr = htonl(r.addr);
  return k;
}

}  // namespace

XdpSync::XdpSync(XdpTables& tables, uint32_t max_vips) : tables_(tables), max_vips_(max_vips) {
  // Adopt what a previous daemon left: same ids, and a placeholder spec that
  // differs from any real one, so the first apply rewrites or removes it.
  std::map<uint32_t, XdpVipKey> by_id;
  const std::vector<sl_xvip_gen> gens = tables_.vip_gens();
  for (const sl_xvip_gen& g : gens) revision_ = std::max({revision_, g.gen, g.since});
  for (const auto& [k, v] : tables_.vips()) {
    XdpVipSpec s;
    s.addr = ntohl(k.addr);
    s.port = ntohs(k.port);
    s.proto = k.proto;
    s.maglev_size = 0;
    s.service = "(adopted)";
    ids_[xdp_vip_key(s)] = v.id;
    used_ids_.insert(v.id);
    by_id[v.id] = xdp_vip_key(s);
    current_[xdp_vip_key(s)] = s;
    revision_ = std::max(revision_, v.revision);
    since_[v.id] = v.id < gens.size() ? gens[v.id].since : 0;
    (void)filter_.add(k);
  }
  // Rewritten whole: maps pinned by an older daemon may lack the prefilter.
  for (const auto& [index, bits] : filter_.words()) (void)tables_.put_filter_word({index, bits});
  for (const sl_xsrc_key& k : tables_.src_ranges()) {
    auto it = by_id.find(k.vip_id);
    if (it == by_id.end()) {
      (void)tables_.erase_src_range(k);  // an orphan of a VIP that is gone
      continue;
    }
    current_[it->second].source_ranges.push_back({ntohl(k.addr), static_cast<uint8_t>(k.prefixlen - 32)});
  }
}

std::optional<uint32_t> XdpSync::id_of(const XdpVipKey& key) const {
  auto it = ids_.find(key);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

Status XdpSync::set_ranges(uint32_t id, const std::vector<XdpSourceRange>& want,
                           const std::vector<XdpSourceRange>& have) {
  for (const XdpSourceRange& r : want) {
    if (std::find(have.begin(), have.end(), r) != have.end()) continue;
    if (Status s = tables_.put_src_range(src_key(id, r)); !s) return s;
  }
  return {};
}

Status XdpSync::write_filter(const std::optional<XdpFilterWord>& word) {
  return word ? tables_.put_filter_word(*word) : Status{};
}

Status XdpSync::upsert(const XdpVipSpec& spec) {
  const XdpVipKey key = xdp_vip_key(spec);
  auto cur = current_.find(key);
  const bool is_new = cur == current_.end();
  uint32_t id;
  if (auto known = id_of(key)) {
    id = *known;
  } else {
    id = 0;
    while (used_ids_.count(id)) ++id;
    if (id >= max_vips_) return make_error(-ENOSPC, "XDP VIP table full (" + std::to_string(max_vips_) + ")");
    if (Status s = tables_.reset_counters(id); !s) return s;
    ids_[key] = id;
    used_ids_.insert(id);
  }
  const std::vector<XdpSourceRange> have = is_new ? std::vector<XdpSourceRange>{} : cur->second.source_ranges;
  const sl_xvip_key k = xdp_key(spec.addr, spec.port, spec.proto);
  if (Status s = write_filter(filter_.add(k)); !s) return s;

  // Ranges before the VIP entry that turns the check on; stale ones after.
  if (Status s = set_ranges(id, spec.source_ranges, have); !s) return s;
  const std::vector<sl_xbackend> table = xdp_maglev_table(spec);
  if (!table.empty()) {
    if (Status s = tables_.put_maglev(id, table); !s) return s;
  }
  std::set<std::pair<uint32_t, uint16_t>> distinct;
  for (const sl_xbackend& b : table) distinct.insert({b.addr, b.port});
  sl_xvip v{};
  v.id = id;
  v.maglev_size = static_cast<uint32_t>(table.size());
  v.backend_count = static_cast<uint16_t>(std::min<size_t>(distinct.size(), 0xffff));
  v.flags = (spec.local_only ? SL_XVIP_F_LOCAL : 0) | (spec.source_ranges.empty() ? 0 : SL_XVIP_F_SRC_RANGES);
  v.revision = ++revision_;
  if (Status s = tables_.put_vip(k, v); !s) return s;
  if (table.empty()) {
    if (Status s = tables_.erase_maglev(id); !s) return s;
  }
  for (const XdpSourceRange& r : have) {
    if (std::find(spec.source_ranges.begin(), spec.source_ranges.end(), r) != spec.source_ranges.end()) continue;
    if (Status s = tables_.erase_src_range(src_key(id, r)); !s) return s;
  }
  // Last: tracked flows are admitted again against what was written above.
  const uint32_t since = since_.try_emplace(id, v.revision).first->second;
  if (Status s = tables_.put_vip_gen(id, {v.revision, since}); !s) return s;
  current_[key] = spec;
  return {};
}

Status XdpSync::remove(const XdpVipKey& key) {
  auto id = id_of(key);
  auto cur = current_.find(key);
  const sl_xvip_key k = xdp_key(std::get<0>(key), std::get<1>(key), std::get<2>(key));
  if (Status s = tables_.erase_vip(k); !s) return s;
  if (id) {
    if (Status s = tables_.erase_maglev(*id); !s) return s;
    if (cur != current_.end()) {
      for (const XdpSourceRange& r : cur->second.source_ranges) {
        if (Status s = tables_.erase_src_range(src_key(*id, r)); !s) return s;
      }
    }
    // The id's entries are now older than any VIP that gets it next.
    const uint32_t freed = ++revision_;
    if (Status s = tables_.put_vip_gen(*id, {freed, freed}); !s) return s;
    since_.erase(*id);
    used_ids_.erase(*id);
    ids_.erase(key);
  }
  if (Status s = write_filter(filter_.remove(k)); !s) return s;
  current_.erase(key);
  return {};
}

Status XdpSync::apply(const XdpVipMap& next) {
  const XdpDiff d = diff_xdp(current_, next);
  Status first;
  auto note = [&](Status s) {
    if (!s && first.ok()) first = s;
  };
  // Removals first: an address that moved between services frees its key.
  for (const XdpVipKey& k : d.removals) note(remove(k));
  for (const XdpVipSpec& s : d.upserts) note(upsert(s));
  return first;
}

}  // namespace sluice
