#include "service_writer.h"

#include <arpa/inet.h>

#include <cerrno>
#include <set>

#include "endpoint_key.h"
#include "lb_select.h"
#include "maglev.h"
#include "slot_builder.h"

namespace sluice {

sl_svc_key service_key(uint32_t vip, uint16_t port, uint8_t proto) {
  sl_svc_key k{};
  k.vip = htonl(vip);
  k.port = htons(port);
  k.proto = proto;
  return k;
}

namespace {

uint32_t live_bank(const sl_svc& svc) { return (svc.flags & SL_SVC_F_BANK1) ? 1 : 0; }

sl_slot_key slot_key(const sl_svc_key& svc, uint32_t bank, uint32_t index) {
  sl_slot_key k{};
  k.svc = svc;
  k.slot = lb4_bank_slot(bank, index, SL_MAX_SLOTS);
  return k;
}

sl_backend_key backend_key(const sl_svc_key& svc, uint32_t index) {
  sl_backend_key k{};
  k.svc = svc;
  k.index = index;
  return k;
}

sl_backend to_kernel(const BackendSpec& b) {
  sl_backend v{};
  v.addr = htonl(b.addr);
  v.port = htons(b.port);
  v.flags = b.ejected ? SL_BE_F_EJECTED : 0;
  v.weight = b.weight;
  return v;
}

BackendSpec from_kernel(const sl_backend& v) {
  return BackendSpec{ntohl(v.addr), ntohs(v.port), v.weight, (v.flags & SL_BE_F_EJECTED) != 0};
}

bool same_backend(const sl_backend& a, const sl_backend& b) {
  return a.addr == b.addr && a.port == b.port && a.flags == b.flags && a.weight == b.weight;
}

}  // namespace

std::string check_service_spec(const ServiceSpec& spec) {
  if (spec.proto != 6 && spec.proto != 17) return "protocol must be TCP or UDP";
  if (spec.algo >= SL_LB__COUNT) return "unknown load-balancing algorithm";
  if (spec.backends.size() > SL_MAX_SLOTS) {
    return "more than " + std::to_string(SL_MAX_SLOTS) + " backends";
  }
  if (spec.algo == SL_LB_CONSISTENT_HASH) {
    if (!is_prime(spec.maglev_size)) return "Maglev table size must be prime";
    if (spec.maglev_size < spec.backends.size()) return "Maglev table smaller than the backend set";
  }
  for (size_t i = 0; i < spec.backends.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (spec.backends[i].same_endpoint(spec.backends[j])) return "duplicate backend";
    }
  }
  return {};
}

std::map<uint32_t, sl_backend> live_backends(const DatapathMaps& maps, const sl_svc_key& key,
                                             const sl_svc& svc) {
  std::map<uint32_t, sl_backend> out;
  uint32_t bank = live_bank(svc);
  for (uint32_t i = 0; i < svc.slot_count && i < SL_MAX_SLOTS; ++i) {
    auto index = maps.get_slot(slot_key(key, bank, i));
    if (!index || out.count(*index)) continue;
    if (auto be = maps.get_backend(backend_key(key, *index))) out.emplace(*index, *be);
  }
  return out;
}

Status ServiceWriter::apply(const ServiceSpec& spec) {
  if (std::string why = check_service_spec(spec); !why.empty()) {
    return make_error(-EINVAL, "service: " + why);
  }
  const sl_svc_key key = service_key(spec);
  const std::optional<sl_svc> old = maps_.get_service(key);
  std::map<uint32_t, sl_backend> previous = old ? live_backends(maps_, key, *old) : std::map<uint32_t, sl_backend>{};

  // Keep the index of every endpoint that stays; give new ones free indices.
  std::set<uint32_t> taken;
  std::vector<std::pair<uint32_t, const BackendSpec*>> assigned;
  std::vector<const BackendSpec*> fresh;
  for (const BackendSpec& b : spec.backends) {
    if (b.weight == 0) continue;
    sl_backend want = to_kernel(b);
    bool kept = false;
    for (const auto& [index, have] : previous) {
      if (have.addr == want.addr && have.port == want.port) {
        assigned.emplace_back(index, &b);
        taken.insert(index);
        kept = true;
        break;
      }
    }
    if (!kept) fresh.push_back(&b);
  }
  uint32_t next_free = 0;
  for (const BackendSpec* b : fresh) {
    while (taken.count(next_free) || previous.count(next_free)) ++next_free;
    assigned.emplace_back(next_free, b);
    taken.insert(next_free);
  }

  // 1. backends. An ejection mark is runtime state owned by outlier
  // detection, not config: a config update keeps it.
  for (const auto& [index, b] : assigned) {
    sl_backend want = to_kernel(*b);
    auto have = previous.find(index);
    if (have != previous.end()) want.flags |= have->second.flags & SL_BE_F_EJECTED;
    if (have == previous.end() || !same_backend(have->second, want)) {
      if (Status s = maps_.put_backend(backend_key(key, index), want); !s) return s;
    }
  }

  // 2. slots, into the bank the live entry does not read
  std::vector<SlotWeight> weights;
  std::vector<MaglevEntry> maglev_entries;
  for (const auto& [index, b] : assigned) {
    weights.push_back({index, b->weight});
    maglev_entries.push_back({endpoint_key(b->addr, b->port), b->weight, index});
  }
  const std::vector<uint32_t> slots = build_slots(weights, SL_MAX_SLOTS);
  const uint32_t bank = old ? 1 - live_bank(*old) : 0;
  for (uint32_t i = 0; i < slots.size(); ++i) {
    if (Status s = maps_.put_slot(slot_key(key, bank, i), slots[i]); !s) return s;
  }

  // 3. Maglev table
  const bool hashed = spec.algo == SL_LB_CONSISTENT_HASH && !maglev_entries.empty();
  if (hashed) {
    if (Status s = maps_.put_maglev(key, build_maglev_table(maglev_entries, spec.maglev_size)); !s) {
      return s;
    }
  }

  // 4. flip
  sl_svc value{};
  value.slot_count = static_cast<uint16_t>(slots.size());
  value.algo = static_cast<uint8_t>(spec.algo);
  value.flags = static_cast<uint8_t>((bank ? SL_SVC_F_BANK1 : 0) | (spec.l7 ? SL_SVC_F_L7 : 0) |
                                     (spec.socket_redirect ? 0 : SL_SVC_F_NO_REDIR) |
                                     (spec.fail_closed ? SL_SVC_F_FAIL_CLOSED : 0));
  value.max_conns = spec.max_conns;
  value.maglev_size = hashed ? spec.maglev_size : 0;
  value.revision = old ? old->revision + 1 : 1;
  if (Status s = maps_.put_service(key, value); !s) return s;

  // 5. what is gone
  if (old && old->maglev_size && !hashed) {
    if (Status s = maps_.erase_maglev(key); !s) return s;
  }
  for (const auto& [index, b] : previous) {
    if (taken.count(index)) continue;
    if (Status s = maps_.erase_backend(backend_key(key, index)); !s) return s;
    if (Status s = maps_.erase_backend_counters(backend_key(key, index)); !s) return s;
  }
  return {};
}

Status ServiceWriter::remove(const sl_svc_key& key) {
  const std::optional<sl_svc> old = maps_.get_service(key);
  if (!old) return {};
  const std::map<uint32_t, sl_backend> previous = live_backends(maps_, key, *old);
  if (Status s = maps_.erase_service(key); !s) return s;
  // Each bank was always written from index 0, so its entries are contiguous.
  for (uint32_t bank = 0; bank < SL_SLOT_BANKS; ++bank) {
    for (uint32_t i = 0; i < SL_MAX_SLOTS && maps_.get_slot(slot_key(key, bank, i)); ++i) {
      if (Status s = maps_.erase_slot(slot_key(key, bank, i)); !s) return s;
    }
  }
  if (old->maglev_size) {
    if (Status s = maps_.erase_maglev(key); !s) return s;
  }
  for (const auto& [index, b] : previous) {
    if (Status s = maps_.erase_backend(backend_key(key, index)); !s) return s;
    if (Status s = maps_.erase_backend_counters(backend_key(key, index)); !s) return s;
  }
  return maps_.erase_service_counters(key);
}

Status ServiceWriter::set_ejected(const sl_svc_key& key, uint32_t addr, uint16_t port, bool ejected) {
  const std::optional<sl_svc> svc = maps_.get_service(key);
  if (!svc) return make_error(-ENOENT, "no such service");
  for (auto [index, be] : live_backends(maps_, key, *svc)) {
    if (be.addr != htonl(addr) || be.port != htons(port)) continue;
    be.flags = ejected ? (be.flags | SL_BE_F_EJECTED) : (be.flags & ~SL_BE_F_EJECTED);
    return maps_.put_backend(backend_key(key, index), be);
  }
  return make_error(-ENOENT, "no such backend in the service");
}

std::optional<ServiceSpec> read_service(const DatapathMaps& maps, const sl_svc_key& key) {
  const std::optional<sl_svc> svc = maps.get_service(key);
  if (!svc) return std::nullopt;
  ServiceSpec spec;
  spec.vip = ntohl(key.vip);
  spec.port = ntohs(key.port);
  spec.proto = key.proto;
  spec.algo = static_cast<sl_lb_algo>(svc->algo);
  spec.max_conns = svc->max_conns;
  spec.maglev_size = svc->maglev_size ? svc->maglev_size : SL_MAGLEV_DEFAULT_SIZE;
  spec.l7 = (svc->flags & SL_SVC_F_L7) != 0;
  spec.fail_closed = (svc->flags & SL_SVC_F_FAIL_CLOSED) != 0;
  spec.socket_redirect = (svc->flags & SL_SVC_F_NO_REDIR) == 0;
  for (const auto& [index, be] : live_backends(maps, key, *svc)) spec.backends.push_back(from_kernel(be));
  return spec;
}

}  // namespace sluice
