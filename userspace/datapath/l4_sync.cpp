#include "l4_sync.h"

#include <algorithm>

#include "service_writer.h"

namespace sluice {

namespace {

bool same_backends_in_order(const ServiceSpec& a, const ServiceSpec& b) {
  for (size_t i = 0; i < a.backends.size(); ++i) {
    const BackendSpec& x = a.backends[i];
    const BackendSpec& y = b.backends[i];
    if (x.addr != y.addr || x.port != y.port || x.weight != y.weight) return false;
  }
  return true;
}

void sort_backends(ServiceSpec& s) {
  std::sort(s.backends.begin(), s.backends.end(), [](const BackendSpec& a, const BackendSpec& b) {
    return std::tie(a.addr, a.port) < std::tie(b.addr, b.port);
  });
}

// Both views normally keep backends sorted, so the copy-and-sort path is
// only taken when they really differ or come unsorted.
bool same_config(const ServiceSpec& a, const ServiceSpec& b) {
  if (a.algo != b.algo || a.max_conns != b.max_conns || a.l7 != b.l7 || a.socket_redirect != b.socket_redirect || a.backends.size() != b.backends.size()) {
    return false;
  }
  if (a.algo == SL_LB_CONSISTENT_HASH && a.maglev_size != b.maglev_size) return false;
  if (same_backends_in_order(a, b)) return true;
  ServiceSpec x = a, y = b;
  sort_backends(x);
  sort_backends(y);
  return same_backends_in_order(x, y);
}

}  // namespace

// Shard by shard: a shard both views share is unchanged, the others are
// walked in key order together. A spec shared by both is unchanged.
L4Diff diff_l4(const L4ServiceMap& before, const L4ServiceMap& after) {
  L4Diff d;
  static const L4ServiceMap::Shard kEmpty;
  for (size_t i = 0; i < L4ServiceMap::shard_count; ++i) {
    if (before.shard(i) == after.shard(i)) continue;
    const auto& bs = before.shard(i) ? *before.shard(i) : kEmpty;
    const auto& as = after.shard(i) ? *after.shard(i) : kEmpty;
    auto b = bs.begin();
    auto a = as.begin();
    while (a != as.end() || b != bs.end()) {
      if (b == bs.end() || (a != as.end() && a->first < b->first)) {
        d.upserts.push_back(*a->second);
        ++a;
      } else if (a == as.end() || b->first < a->first) {
        d.removals.push_back(b->first);
        ++b;
      } else {
        if (a->second != b->second && !same_config(*b->second, *a->second)) d.upserts.push_back(*a->second);
        ++a;
        ++b;
      }
    }
  }
  return d;
}

L4ServiceMap read_l4(const DatapathMaps& maps) {
  L4ServiceMap out;
  for (const sl_svc_key& k : maps.service_keys()) {
    if (auto spec = read_service(maps, k)) {
      sort_backends(*spec);
      const L4Key key = l4_key(*spec);
      out.insert(key, std::make_shared<const ServiceSpec>(std::move(*spec)));
    }
  }
  return out;
}

Status apply_l4_diff(DatapathMaps& maps, const L4Diff& diff, SyncStats* stats) {
  ServiceWriter writer(maps);
  Status first;
  SyncStats local;
  auto note = [&](Status s) {
    if (s.ok()) return;
    ++local.failures;
    if (first.ok()) first = s;
  };
  for (const L4Key& key : diff.removals) {
    note(writer.remove(service_key(std::get<0>(key), std::get<1>(key), std::get<2>(key))));
    ++local.removals;
  }
  for (const ServiceSpec& spec : diff.upserts) {
    note(writer.apply(spec));
    ++local.upserts;
  }
  if (stats) *stats = local;
  return first;
}

}  // namespace sluice
