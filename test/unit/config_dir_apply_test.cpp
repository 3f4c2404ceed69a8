// `sluicectl apply -f` and `delete -f` with a config directory: one file per
// object, written whole, invalid objects refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config_dir_apply.h"
#include "resource_loader.h"
#include "temp_dir.h"
#include "validation_text.h"

using namespace sluice::config;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

using sluice::test::all;

constexpr const char* kDestinationRule = R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
)";

constexpr const char* kVirtualService = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
)";

TEST(ConfigDirApply, OneFilePerObjectAndALaterApplyReplaces) {
  sluice::test::TempDir in, dir;
  std::ofstream(in.path() / "dr.yaml") << kDestinationRule;
  // A VirtualService before its DestinationRule exists is fine: a reference
  // is not an error.
  std::ofstream(in.path() / "vs.yaml") << kVirtualService;
  ApplyReport r = apply_to_config_dir({(in.path() / "vs.yaml").string()}, dir.path().string());
  EXPECT_EQ(r.failed, 0u) << all(r.diagnostics);
  ASSERT_EQ(r.lines, std::vector<std::string>{"virtualservice.networking.istio.io/reviews created"});
  r = apply_to_config_dir({(in.path() / "dr.yaml").string()}, dir.path().string());
  ASSERT_EQ(r.lines, std::vector<std::string>{"destinationrule.networking.istio.io/reviews created"});
  EXPECT_EQ(listing(dir.path()),
            (std::vector<std::string>{"destinationrule-default-reviews.yaml", "virtualservice-default-reviews.yaml"}));

  // The same object again: unchanged; a changed one replaces the file.
  r = apply_to_config_dir({(in.path() / "vs.yaml").string()}, dir.path().string());
  EXPECT_EQ(r.lines, std::vector<std::string>{"virtualservice.networking.istio.io/reviews unchanged"});
  std::string changed = kVirtualService;
  changed.replace(changed.find("subset: v1"), 10, "subset: v2");
  std::ofstream(in.path() / "vs.yaml") << changed;
  r = apply_to_config_dir({(in.path() / "vs.yaml").string()}, dir.path().string());
  EXPECT_EQ(r.lines, std::vector<std::string>{"virtualservice.networking.istio.io/reviews configured"});
  EXPECT_NE(read(dir.path() / "virtualservice-default-reviews.yaml").find("subset: v2"), std::string::npos);
  EXPECT_EQ(listing(dir.path()).size(), 2u);  // no temporary file left

  // What was written is what the daemon reads.
  LoadResult loaded = load_resources({dir.path().string()});
  EXPECT_FALSE(has_errors(loaded.diagnostics)) << all(loaded.diagnostics);
  ASSERT_EQ(loaded.resources.virtual_services.size(), 1u);
  EXPECT_EQ(loaded.resources.virtual_services[0]->spec.http(0).route(0).destination().subset(), "v2");
  EXPECT_EQ(loaded.resources.destination_rules[0]->meta.ns, "default");
}

TEST(ConfigDirApply, AnInvalidObjectIsRefusedAndTheOthersApply) {
  sluice::test::TempDir in, dir;
  std::ofstream(in.path() / "list.yaml") << R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: ratings, namespace: shop}
  spec:
    clusterIP: 10.96.0.20
    ports: [{name: http, port: 9080, targetPort: "9080"}]
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: broken, namespace: shop}
  spec:
    hosts: [ratings]
    http:
    - route: [{destination: {host: ratings}}]
      timeout: 0s
)";
  ApplyReport r = apply_to_config_dir({(in.path() / "list.yaml").string()}, dir.path().string());
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.lines, std::vector<std::string>{"service/ratings created"});
  EXPECT_NE(all(r.diagnostics).find("list.yaml:17: VirtualService shop/broken: spec.http[0].timeout: duration must be "
                                    "greater than 1ms"),
            std::string::npos)
      << all(r.diagnostics);
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"service-shop-ratings.yaml"});
  // The quoted targetPort stays a string, the port a number.
  const std::string text = read(dir.path() / "service-shop-ratings.yaml");
  EXPECT_NE(text.find("targetPort: \"9080\""), std::string::npos) << text;
  EXPECT_NE(text.find("port: 9080"), std::string::npos) << text;
}

TEST(ConfigDirApply, DeleteRemovesTheObjectsFiles) {
  sluice::test::TempDir in, dir;
  std::ofstream(in.path() / "both.yaml") << kDestinationRule << "---\n" << kVirtualService;
  ApplyReport r = apply_to_config_dir({(in.path() / "both.yaml").string()}, dir.path().string());
  ASSERT_EQ(r.lines.size(), 2u) << all(r.diagnostics);
  std::ofstream(in.path() / "vs.yaml") << kVirtualService;
  r = delete_from_config_dir({(in.path() / "vs.yaml").string()}, dir.path().string());
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.lines, std::vector<std::string>{"virtualservice.networking.istio.io/reviews deleted"});
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"destinationrule-default-reviews.yaml"});
  // Deleting it again: not found.
  r = delete_from_config_dir({(in.path() / "vs.yaml").string()}, dir.path().string());
  EXPECT_EQ(r.failed, 1u);
  EXPECT_NE(all(r.diagnostics).find("VirtualService default/reviews: not found"), std::string::npos) << all(r.diagnostics);
}

TEST(ConfigDirApply, ObjectFileNames) {
  EXPECT_EQ(object_file_name("VirtualService", "default", "reviews"), "virtualservice-default-reviews.yaml");
  EXPECT_EQ(object_file_name("Service", "shop", "web.v2"), "service-shop-web.v2.yaml");
}

}  // namespace
