// The service writer against in-memory tables: what it writes, and in which
// order, so the kernel never sees a half-written service.
#include "service_writer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "memory_datapath_maps.h"
#include "service_text.h"

using namespace sluice;

namespace {

ServiceSpec spec_of(const std::string& line) {
  auto s = parse_service_line(line);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
  return s.ok() ? *s : ServiceSpec{};
}

size_t index_of(const std::vector<std::string>& ops, const std::string& op, bool last = false) {
  auto it = last ? std::find(ops.rbegin(), ops.rend(), op).base() - 1 : std::find(ops.begin(), ops.end(), op);
  return static_cast<size_t>(it - ops.begin());
}

}  // namespace

TEST(ServiceWriter, CreatesServiceBackendsSlotsAndCounters) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  auto spec = spec_of("10.96.0.10:80/tcp algo=round_robin 10.200.1.1:8080 10.200.1.2:8080@2");
  ASSERT_TRUE(w.apply(spec).ok());
  auto key = service_key(spec);
  auto svc = maps.get_service(key);
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->slot_count, 3);
  EXPECT_EQ(svc->algo, SL_LB_ROUND_ROBIN);
  EXPECT_EQ(svc->max_conns, SL_UNLIMITED);
  EXPECT_EQ(maps.backend_count(), 2u);
  auto back = w.read(key);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->backends.size(), 2u);
}

TEST(ServiceWriter, FlipsTheServiceOnlyAfterSlotsAndBackends) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  ASSERT_TRUE(w.apply(spec_of("10.96.0.10:80 10.200.1.1:80 10.200.1.2:80")).ok());
  maps.clear_ops();
  ASSERT_TRUE(w.apply(spec_of("10.96.0.10:80 10.200.1.2:80 10.200.1.3:80")).ok());
  const auto& ops = maps.ops();
  size_t flip = index_of(ops, "put_service");
  ASSERT_LT(flip, ops.size());
  EXPECT_LT(index_of(ops, "put_slot", true), flip);
  EXPECT_LT(index_of(ops, "put_backend", true), flip);
  EXPECT_GT(index_of(ops, "erase_backend"), flip);  // the removed backend goes last
}

TEST(ServiceWriter, UpdateUsesTheOtherBankAndKeepsIndices) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  auto spec = spec_of("10.96.0.10:80 10.200.1.1:80 10.200.1.2:80");
  ASSERT_TRUE(w.apply(spec).ok());
  auto key = service_key(spec);
  auto first = *maps.get_service(key);
  sl_slot_key slot0{key, 0};
  uint32_t index_of_first = *maps.get_slot(slot0);

  ASSERT_TRUE(w.apply(spec_of("10.96.0.10:80 10.200.1.3:80 10.200.1.1:80")).ok());
  auto second = *maps.get_service(key);
  EXPECT_NE(first.flags & SL_SVC_F_BANK1, second.flags & SL_SVC_F_BANK1);
  EXPECT_EQ(second.revision, first.revision + 1);
  // 10.200.1.1 keeps its index; the new backend did not reuse 10.200.1.2's.
  auto back = w.read(key);
  ASSERT_EQ(back->backends.size(), 2u);
  sl_backend_key bk{key, index_of_first};
  ASSERT_TRUE(maps.get_backend(bk));
  EXPECT_EQ(maps.backend_count(), 2u);
}

TEST(ServiceWriter, ConsistentHashInstallsAndDropsMaglev) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  auto spec = spec_of("10.96.0.10:80 algo=consistent_hash maglev=251 10.200.1.1:80 10.200.1.2:80");
  ASSERT_TRUE(w.apply(spec).ok());
  auto key = service_key(spec);
  ASSERT_NE(maps.maglev(key), nullptr);
  EXPECT_EQ(maps.maglev(key)->size(), 251u);
  EXPECT_EQ(maps.get_service(key)->maglev_size, 251u);

  ASSERT_TRUE(w.apply(spec_of("10.96.0.10:80 algo=random 10.200.1.1:80 10.200.1.2:80")).ok());
  EXPECT_EQ(maps.maglev(key), nullptr);
  EXPECT_EQ(maps.get_service(key)->maglev_size, 0u);
}

TEST(ServiceWriter, RemoveClearsEverything) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  auto spec = spec_of("10.96.0.10:80 algo=consistent_hash maglev=251 10.200.1.1:80 10.200.1.2:80");
  ASSERT_TRUE(w.apply(spec).ok());
  ASSERT_TRUE(w.apply(spec_of("10.96.0.10:80 algo=consistent_hash maglev=251 10.200.1.1:80")).ok());
  auto key = service_key(spec);
  maps.set_service_counters(key, sl_svc_counters{3, 9, 0, 0});  // as the kernel would
  ASSERT_TRUE(w.remove(key).ok());
  EXPECT_FALSE(maps.get_service(key));
  EXPECT_EQ(maps.slot_count(), 0u);
  EXPECT_EQ(maps.backend_count(), 0u);
  EXPECT_EQ(maps.maglev(key), nullptr);
  EXPECT_FALSE(maps.get_service_counters(key));
  EXPECT_TRUE(w.remove(key).ok());  // idempotent
}

TEST(ServiceWriter, EjectAndRestoreOneBackend) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  auto spec = spec_of("10.96.0.10:80 10.200.1.1:80 10.200.1.2:80");
  ASSERT_TRUE(w.apply(spec).ok());
  auto key = service_key(spec);
  ASSERT_TRUE(w.set_ejected(key, spec.backends[1].addr, 80, true).ok());
  EXPECT_TRUE(w.read(key)->backends[1].ejected);
  EXPECT_FALSE(w.read(key)->backends[0].ejected);
  ASSERT_TRUE(w.set_ejected(key, spec.backends[1].addr, 80, false).ok());
  EXPECT_FALSE(w.read(key)->backends[1].ejected);
  EXPECT_FALSE(w.set_ejected(key, spec.backends[1].addr, 81, true).ok());
}

TEST(ServiceWriter, EmptyBackendSetKeepsTheServiceWithNoSlots) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  auto spec = spec_of("10.96.0.10:80 10.200.1.1:80");
  ASSERT_TRUE(w.apply(spec).ok());
  ASSERT_TRUE(w.apply(spec_of("10.96.0.10:80")).ok());
  EXPECT_EQ(maps.get_service(service_key(spec))->slot_count, 0);
  EXPECT_EQ(maps.backend_count(), 0u);
}

TEST(ServiceWriter, RejectsInvalidSpecs) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  EXPECT_FALSE(w.apply(spec_of("10.96.0.10:80 algo=consistent_hash maglev=1000 10.200.1.1:80")).ok());
  EXPECT_FALSE(w.apply(spec_of("10.96.0.10:80 10.200.1.1:80 10.200.1.1:80")).ok());
  EXPECT_TRUE(maps.service_keys().empty());
}

TEST(ServiceWriter, AConfigUpdateKeepsAnEjection) {
  MemoryDatapathMaps maps;
  ServiceWriter w(maps);
  auto spec = spec_of("10.96.0.10:80 10.200.1.1:80 10.200.1.2:80");
  ASSERT_TRUE(w.apply(spec).ok());
  ASSERT_TRUE(w.set_ejected(service_key(spec), spec.backends[0].addr, 80, true).ok());
  ASSERT_TRUE(w.apply(spec_of("10.96.0.10:80 algo=round_robin 10.200.1.1:80 10.200.1.2:80 10.200.1.3:80")).ok());
  EXPECT_TRUE(w.read(service_key(spec))->backends[0].ejected);
}
