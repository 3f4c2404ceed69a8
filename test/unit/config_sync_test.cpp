// The reload step against in-memory kernel tables: publish, diff, apply, and
// a bad config that changes nothing.
#include "config_sync.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "memory_datapath_maps.h"

using namespace sluice;
using namespace sluice::config;
using namespace sluice::daemon;

namespace {

constexpr const char* kService = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
)";

std::string pod(int i) {
  return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-" + std::to_string(i) +
         ", namespace: default, labels: {app: web}}\nstatus: {phase: Running, podIP: 10.200.1." +
         std::to_string(i) + "}\n";
}

class ConfigSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-sync-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  std::filesystem::path dir_;
  MemoryDatapathMaps maps_;
};

}  // namespace

TEST_F(ConfigSyncTest, GoodConfigIsPublishedAndSynced) {
  write("web.yaml", std::string(kService) + pod(1) + pod(2));
  ConfigSync sync({dir_.string()}, maps_);
  ASSERT_TRUE(sync.reload());
  ASSERT_TRUE(sync.current());
  EXPECT_EQ(sync.current()->version, 1u);
  EXPECT_EQ(maps_.service_keys().size(), 1u);
  EXPECT_EQ(maps_.backend_count(), 2u);
  EXPECT_EQ(sync.status().last_sync.upserts, 1u);
}

TEST_F(ConfigSyncTest, ABadResourceIsRejectedAloneAndTheKernelKeepsItsState) {
  write("web.yaml", std::string(kService) + pod(1));
  ConfigSync sync({dir_.string()}, maps_);
  ASSERT_TRUE(sync.reload());
  maps_.clear_ops();

  write("web.yaml", std::string(kService) + pod(1) + "---\nkind: VirtualService\napiVersion: networking.istio.io/v1\n"
                    "metadata: {name: bad}\nspec: {hosts: [web], http: [{route: [{destination: {host: web}, weight: -1}, "
                    "{destination: {host: web}}]}]}\n");
  ASSERT_TRUE(sync.reload());
  EXPECT_TRUE(sync.current()->mesh_routes.empty()) << "the invalid VirtualService is not admitted";
  EXPECT_TRUE(maps_.ops().empty()) << "nothing the kernel holds changed";
  ConfigStatus st = sync.status();
  EXPECT_EQ(st.version, 2u);
  EXPECT_EQ(st.rejected, 1u);
  ASSERT_FALSE(st.last_errors.empty());
  EXPECT_NE(st.last_errors[0].find("web.yaml:"), std::string::npos);
  EXPECT_NE(st.last_errors[0].find("weight -1 < 0"), std::string::npos);

  write("web.yaml", std::string(kService) + pod(1) + pod(3));
  ASSERT_TRUE(sync.reload());
  EXPECT_EQ(sync.current()->version, 3u);
  EXPECT_TRUE(sync.status().last_errors.empty());
}

TEST_F(ConfigSyncTest, UnchangedServicesAreNotRewritten) {
  write("web.yaml", std::string(kService) + pod(1));
  write("api.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  clusterIP: 10.96.0.11\n"
                    "  ports: [{name: http, port: 80}]\n  selector: {app: api}\n");
  ConfigSync sync({dir_.string()}, maps_);
  ASSERT_TRUE(sync.reload());
  maps_.clear_ops();
  write("web.yaml", std::string(kService) + pod(1) + pod(2));
  ASSERT_TRUE(sync.reload());
  EXPECT_EQ(sync.status().last_sync.upserts, 1u);
  EXPECT_EQ(std::count(maps_.ops().begin(), maps_.ops().end(), "put_service"), 1);
}

TEST_F(ConfigSyncTest, RestartAdoptsKernelStateWithoutRewriting) {
  write("web.yaml", std::string(kService) + pod(1) + pod(2));
  {
    ConfigSync first({dir_.string()}, maps_);
    ASSERT_TRUE(first.reload());
  }
  maps_.clear_ops();
  ConfigSync second({dir_.string()}, maps_);
  second.adopt_kernel_state();
  ASSERT_TRUE(second.reload());
  EXPECT_TRUE(maps_.ops().empty());
}

TEST_F(ConfigSyncTest, DeletedServiceIsRemovedFromTheKernel) {
  write("web.yaml", std::string(kService) + pod(1));
  ConfigSync sync({dir_.string()}, maps_);
  ASSERT_TRUE(sync.reload());
  std::filesystem::remove(dir_ / "web.yaml");
  ASSERT_TRUE(sync.reload());
  EXPECT_TRUE(maps_.service_keys().empty());
  EXPECT_EQ(sync.status().last_sync.removals, 1u);
}

TEST_F(ConfigSyncTest, OnlyChangedFilesAreParsedAgain) {
  write("web.yaml", std::string(kService) + pod(1));
  write("other.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  clusterIP: 10.96.0.11\n"
                      "  ports: [{name: http, port: 80}]\n  selector: {app: api}\n");
  // Files written within the timestamp slack of a read are read again (see
  // ResourceCache): let these age past it first.
  std::this_thread::sleep_for(std::chrono::nanoseconds(2 * ResourceCache::kTimestampSlackNs));
  ConfigSync sync({dir_.string()}, maps_);
  ASSERT_TRUE(sync.reload());
  EXPECT_EQ(sync.status().last_files_parsed, 2u);
  write("web.yaml", std::string(kService) + pod(1) + pod(2));
  ASSERT_TRUE(sync.reload());
  EXPECT_EQ(sync.status().last_files_parsed, 1u);
  EXPECT_EQ(sync.status().last_documents_parsed, 1u) << "the Service document is unchanged";
  EXPECT_TRUE(sync.status().last_patched);
  EXPECT_EQ(maps_.backend_count(), 2u);
}
