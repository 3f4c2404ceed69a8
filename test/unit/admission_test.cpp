// Per-resource admission (config/admission.h): an invalid resource is
// rejected alone, its last good version stays in force, everything else
// applies; a file that is not YAML keeps what it held; a later object
// replaces an earlier one with the same kind/namespace/name.
#include <gtest/gtest.h>

#include <fstream>

#include "config_reloader.h"
#include "temp_dir.h"

using namespace sluice;
using namespace sluice::config;

namespace {

void write(const std::filesystem::path& p, const std::string& text) {
  // A new inode each time, so the reload's cache sees the change at once.
  std::ofstream(p.string() + ".tmp") << text;
  std::filesystem::rename(p.string() + ".tmp", p);
}

// weight: the route's one destination's (-1: unset); a negative one fails
// validation, a timeout that is not a duration fails conversion.
std::string vs(const std::string& name, const std::string& host, const std::string& timeout, int weight = -1) {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: " + name +
         ", namespace: default}\nspec:\n  hosts: [" + host + "]\n  http:\n  - route:\n    - destination: {host: " +
         host + "}\n" + (weight == -1 ? "" : "      weight: " + std::to_string(weight) + "\n") + "    timeout: " + timeout +
         "\n";
}

const HttpRoute* route_of(const MeshSnapshot& s, const std::string& fqdn) {
  auto it = s.mesh_routes.find(fqdn);
  return it == s.mesh_routes.end() || it->second.http.empty() ? nullptr : &it->second.http[0];
}

bool has(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST(Admission, AnInvalidResourceIsRejectedAloneAndKeepsItsLastGoodVersion) {
  test::TempDir dir("sluice_admit");
  write(dir.path() / "a.yaml", vs("a", "a.example.com", "1s"));
  write(dir.path() / "b.yaml", vs("b", "b.example.com", "1s"));
  ConfigReloader reloader({dir.path().string()});
  ASSERT_TRUE(reloader.reload());
  ASSERT_TRUE(reloader.status().last_errors.empty());

  // In the same reload: a breaks (a negative weight), b changes for the good.
  write(dir.path() / "a.yaml", vs("a", "a.example.com", "1s", -5));
  write(dir.path() / "b.yaml", vs("b", "b.example.com", "2s"));
  ASSERT_TRUE(reloader.reload());
  const SnapshotPtr snap = reloader.current();
  const HttpRoute* a = route_of(*snap, "a.example.com");
  const HttpRoute* b = route_of(*snap, "b.example.com");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->timeout_ms, 1000) << "a stays in its last good version";
  EXPECT_EQ(b->timeout_ms, 2000) << "b's change applies";
  const ReloadStatus& st = reloader.status();
  ASSERT_FALSE(st.last_errors.empty());
  EXPECT_TRUE(has(st.last_errors, "VirtualService default/a")) << ::testing::PrintToString(st.last_errors);
  EXPECT_TRUE(has(st.warnings, "rejected; its last good version stays in force")) << ::testing::PrintToString(st.warnings) << ::testing::PrintToString(st.last_errors);
  EXPECT_EQ(snap->rejections.size(), st.last_errors.size());

  // A version that does not even convert keeps the last good one too.
  write(dir.path() / "a.yaml", vs("a", "a.example.com", "forever"));
  ASSERT_TRUE(reloader.reload());
  EXPECT_EQ(route_of(*reloader.current(), "a.example.com")->timeout_ms, 1000);
  EXPECT_TRUE(has(reloader.status().last_errors, "VirtualService default/a: spec.http[0].timeout: invalid duration"));

  // Fixed: the new version applies and the rejection is gone.
  write(dir.path() / "a.yaml", vs("a", "a.example.com", "3s"));
  ASSERT_TRUE(reloader.reload());
  EXPECT_EQ(route_of(*reloader.current(), "a.example.com")->timeout_ms, 3000);
  EXPECT_TRUE(reloader.status().last_errors.empty());
}

TEST(Admission, ANewInvalidResourceIsAbsentAndTheRestApplies) {
  test::TempDir dir("sluice_admit");
  write(dir.path() / "all.yaml", vs("good", "good.example.com", "1s") + "---\n" +
                                     vs("bad", "bad.example.com", "forever"));
  ConfigReloader reloader({dir.path().string()});
  ASSERT_TRUE(reloader.reload());
  EXPECT_TRUE(route_of(*reloader.current(), "good.example.com"));
  EXPECT_FALSE(route_of(*reloader.current(), "bad.example.com"));
  EXPECT_TRUE(has(reloader.status().last_errors, "VirtualService default/bad: spec.http[0].timeout: invalid duration"))
      << reloader.status().last_errors.front();
  // For sluice_config_rejected_resources_by_kind: one VirtualService.
  const std::map<std::string, size_t> by_kind{{"VirtualService", 1}};
  EXPECT_EQ(reloader.status().rejected_by_kind, by_kind);
}

TEST(Admission, AFileThatIsNotYamlKeepsWhatItHeld) {
  test::TempDir dir("sluice_admit");
  write(dir.path() / "a.yaml", vs("a", "a.example.com", "1s"));
  write(dir.path() / "b.yaml", vs("b", "b.example.com", "1s"));
  ConfigReloader reloader({dir.path().string()});
  ASSERT_TRUE(reloader.reload());
  write(dir.path() / "a.yaml", "spec: [unclosed\n");
  write(dir.path() / "b.yaml", vs("b", "b.example.com", "2s"));
  ASSERT_TRUE(reloader.reload());
  ASSERT_TRUE(route_of(*reloader.current(), "a.example.com")) << "the file's resources stay in force";
  EXPECT_EQ(route_of(*reloader.current(), "b.example.com")->timeout_ms, 2000);
  EXPECT_TRUE(has(reloader.status().last_errors, "invalid YAML"));
}

TEST(Admission, ALaterObjectReplacesAnEarlierOneLikeKubectlApply) {
  test::TempDir dir("sluice_admit");
  write(dir.path() / "1-first.yaml", vs("same", "x.example.com", "1s"));
  write(dir.path() / "2-second.yaml", vs("same", "x.example.com", "2s"));
  ConfigReloader reloader({dir.path().string()});
  ASSERT_TRUE(reloader.reload());
  EXPECT_TRUE(reloader.status().last_errors.empty()) << reloader.status().last_errors.front();
  EXPECT_EQ(route_of(*reloader.current(), "x.example.com")->timeout_ms, 2000);
  EXPECT_TRUE(has(reloader.status().warnings, "replaced by the later definition at"));
}

TEST(Admission, WithoutALastGoodVersionARejectedResourceIsSimplyAbsent) {
  LoadResult loaded;
  load_yaml_text(vs("bad", "bad.example.com", "1s", -5), "t.yaml", loaded);
  BuildResult r = build_snapshot(std::move(loaded), 1);
  ASSERT_TRUE(r.snapshot);
  EXPECT_TRUE(has_errors(r.diagnostics));
  EXPECT_TRUE(r.snapshot->mesh_routes.empty());
}
