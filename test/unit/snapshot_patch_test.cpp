// Incremental reloads: a changed file re-parses only its changed documents,
// and a change of Kubernetes objects patches the last snapshot. Whatever the
// path, the snapshot must equal a full build of the same files.
#include "snapshot_patch.h"

#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "l4_view.h"
#include "service_text.h"
#include "temp_dir.h"
#include "yaml_chunks.h"

using namespace sluice;
using namespace sluice::config;
namespace fs = std::filesystem;

namespace {

class ConfigDir {
 public:
  // Written aside and renamed in, as kubectl cp and ConfigMaps do: a new
  // inode, so the loader's cache never mistakes it for the old file.
  void write(const std::string& name, const std::string& text) {
    const fs::path tmp = dir_.path() / ("." + name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, dir_.path() / name);
  }
  void remove(const std::string& name) { fs::remove(dir_.path() / name); }
  std::string path() const { return dir_.path().string(); }

 private:
  sluice::test::TempDir dir_{"sluice_patch"};
};

std::string service(int i, int port = 80) {
  return "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-" + std::to_string(i) +
         ", namespace: shop}\nspec:\n  clusterIP: 10.96.1." + std::to_string(i) + "\n  selector: {app: svc-" +
         std::to_string(i) + "}\n  ports: [{name: http, port: " + std::to_string(port) + ", targetPort: 8080}]\n";
}

std::string slice(int svc, const std::string& suffix, const std::vector<int>& hosts) {
  std::string s = "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\naddressType: IPv4\nmetadata: {name: svc-" +
                  std::to_string(svc) + "-" + suffix + ", namespace: shop, labels: {kubernetes.io/service-name: svc-" +
                  std::to_string(svc) + "}}\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n";
  for (int h : hosts) s += "- addresses: [\"10.200." + std::to_string(svc) + "." + std::to_string(h) + "\"]\n";
  return s;
}

std::string pod(const std::string& name, const std::string& app, int host) {
  return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: shop, labels: {app: " + app +
         "}}\nstatus: {phase: Running, podIP: 10.200.99." + std::to_string(host) + "}\n";
}

// Everything a snapshot says about services and routes, and the kernel's
// view of it (l4), as text.
std::string describe(const MeshSnapshot& s, const L4ServiceMap& l4) {
  std::ostringstream out;
  for (const auto& [fqdn, svc] : s.services) {
    out << fqdn << " vip=" << svc->vip << " se=" << svc->from_service_entry << " subsets=" << svc->subsets.size();
    for (const ServicePort& p : svc->ports) {
      out << " | " << p.name << ":" << p.port << " " << protocol_name(p.protocol) << " lb="
          << static_cast<int>(p.policy.load_balancer.kind);
      for (const Endpoint& e : p.endpoints) out << " " << e.ip << ":" << e.port << "/" << e.pod << "/" << e.label_map().size();
    }
    out << "\n";
  }
  for (const auto& [key, spec] : l4) out << format_service(*spec) << "\n";
  for (const auto& [host, routes] : s.mesh_routes) out << "route " << host << " " << routes.http.size() << "\n";
  std::multiset<std::string> warnings;
  for (const Diagnostic& d : s.warnings) warnings.insert(d.to_string());
  for (const std::string& w : warnings) out << "warning " << w << "\n";
  return out.str();
}

BuildResult full_build(const std::string& dir) { return build_snapshot(load_resources({dir}), 1); }

}  // namespace

TEST(YamlChunks, CutsBeforeEachDocumentMarker) {
  const std::string text = "# head\n---\na: 1\n---  # two\nb: |\n  ---\n---\n---x: 3\nc: 4\n";
  auto pieces = split_yaml_documents(text);
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(pieces[0].text, "# head\n");
  EXPECT_EQ(pieces[0].line_offset, 0);
  EXPECT_EQ(pieces[1].text, "---\na: 1\n");
  EXPECT_EQ(pieces[1].line_offset, 1);
  EXPECT_EQ(pieces[2].text, "---  # two\nb: |\n  ---\n");  // an indented "---" is content
  EXPECT_EQ(pieces[2].line_offset, 3);
  EXPECT_EQ(pieces[3].text, "---\n---x: 3\nc: 4\n");       // "---x" is not a marker
  EXPECT_EQ(pieces[3].line_offset, 6);
  std::string joined;
  for (const auto& p : pieces) joined += p.text;
  EXPECT_EQ(joined, text);
}

TEST(YamlChunks, DirectivesKeepTheStreamWhole) {
  const std::string text = "%YAML 1.2\n---\na: 1\n---\nb: 2\n";
  auto pieces = split_yaml_documents(text);
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].text, text);
  EXPECT_EQ(split_yaml_documents("").size(), 1u);
  EXPECT_EQ(split_yaml_documents("a: 1").front().text, "a: 1");
}

TEST(IncrementalLoad, ParsesOnlyTheChangedDocument) {
  ConfigDir dir;
  std::string text;
  for (int i = 0; i < 20; ++i) text += slice(i, "a", {1, 2});
  dir.write("slices.yaml", text);
  ResourceCache cache;
  LoadResult first = load_resources({dir.path()}, &cache);
  EXPECT_EQ(first.documents_parsed, 20u);

  std::string changed;
  for (int i = 0; i < 20; ++i) changed += slice(i, "a", i == 7 ? std::vector<int>{1, 3} : std::vector<int>{1, 2});
  dir.write("slices.yaml", changed);
  LoadResult second = load_resources({dir.path()}, &cache);
  EXPECT_EQ(second.files_parsed, 1u);
  EXPECT_EQ(second.documents_parsed, 1u);
  ASSERT_EQ(second.resources.endpoint_slices.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    const bool same = second.resources.endpoint_slices[i] == first.resources.endpoint_slices[i];
    EXPECT_EQ(same, i != 7) << "slice " << i;
  }
}

// Timestamps can have a coarse tick (older kernels: a jiffy): a same-size
// rewrite in place right after a read can keep the file's identity. The
// cache does not trust an entry whose file changed within the slack of the
// read, and trusts it once the file is older than that.
TEST(IncrementalLoad, AFileChangedRightBeforeItsReadIsNotTrusted) {
  ResourceCache cache;
  auto parsed = std::make_shared<const FileResources>();
  const int64_t read_ns = 1'800'000'000'000'000'000;
  const int64_t slack = ResourceCache::kTimestampSlackNs;
  ResourceCache::Identity racy{1, 2, 3, read_ns - slack / 2, read_ns - slack / 2};
  cache.store("racy.yaml", racy, read_ns, parsed);
  EXPECT_EQ(cache.find("racy.yaml", racy), nullptr) << "written in the tick of the read";
  EXPECT_EQ(cache.previous("racy.yaml"), parsed) << "its documents are still reused";

  ResourceCache::Identity settled{1, 2, 3, read_ns - 2 * slack, read_ns - 2 * slack};
  cache.store("settled.yaml", settled, read_ns, parsed);
  EXPECT_EQ(cache.find("settled.yaml", settled), parsed);
  ResourceCache::Identity touched = settled;
  touched.ctime_ns = read_ns;  // a chmod, or a copy that kept the mtime
  EXPECT_EQ(cache.find("settled.yaml", touched), nullptr);
}

TEST(IncrementalLoad, MovedDocumentsKeepTheirLines) {
  ConfigDir dir;
  const std::string vs =
      "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: shop}\n"
      "spec:\n  hosts: [svc-1]\n  http:\n  - route:\n    - destination: {host: nowhere}\n";
  dir.write("all.yaml", service(1) + vs);
  ResourceCache cache;
  LoadResult first = load_resources({dir.path()}, &cache);
  BuildResult a = build_snapshot(std::move(first), 1);
  ASSERT_TRUE(a.snapshot);
  ASSERT_EQ(a.snapshot->warnings.size(), 1u);
  EXPECT_EQ(a.snapshot->warnings[0].line, 17);  // "destination: {host: nowhere}"

  // Five more lines in the Service move the VirtualService down.
  std::string grown = service(1);
  grown.insert(grown.find("spec:"), "  labels:\n    a: b\n    c: d\n");
  grown.replace(grown.find("metadata: {name: svc-1, namespace: shop}"), 40, "metadata:\n  name: svc-1\n  namespace: shop");
  dir.write("all.yaml", grown + vs);
  LoadResult second = load_resources({dir.path()}, &cache);
  EXPECT_EQ(second.documents_parsed, 1u) << "the VirtualService only moved";
  BuildResult b = build_snapshot(std::move(second), 2);
  ASSERT_TRUE(b.snapshot) << (b.diagnostics.empty() ? "" : b.diagnostics[0].to_string());
  ASSERT_EQ(b.snapshot->warnings.size(), 1u);
  EXPECT_EQ(b.snapshot->warnings[0].line, 22);
  EXPECT_EQ(b.snapshot->resources.virtual_services[0]->source.line, 15);

  BuildResult fresh = full_build(dir.path());
  ASSERT_TRUE(fresh.snapshot);
  EXPECT_EQ(fresh.snapshot->warnings[0].line, 22);
}

TEST(IncrementalLoad, ASyntaxErrorInOneDocumentDropsTheFile) {
  ConfigDir dir;
  dir.write("svc.yaml", service(1) + service(2) + service(3));
  ResourceCache cache;
  ASSERT_EQ(load_resources({dir.path()}, &cache).resources.services.size(), 3u);
  dir.write("svc.yaml", service(1) + service(2) + "---\nkind: [unclosed\n" + service(3));
  LoadResult broken = load_resources({dir.path()}, &cache);
  EXPECT_TRUE(broken.resources.services.empty());
  ASSERT_EQ(broken.diagnostics.size(), 1u);
  EXPECT_NE(broken.diagnostics[0].message.find("invalid YAML"), std::string::npos);
  EXPECT_EQ(broken.diagnostics[0].line, 19) << broken.diagnostics[0].to_string();
  LoadResult whole = load_resources({dir.path()});
  ASSERT_EQ(whole.diagnostics.size(), 1u);
  EXPECT_EQ(whole.diagnostics[0].line, broken.diagnostics[0].line);
}

// Random churn of Services, EndpointSlices and Pods, with now and then an
// Istio change: after every reload the memo's snapshot must equal a full
// build, and most reloads must have been patches.
TEST(SnapshotPatch, RandomChurnMatchesAFullBuild) {
  ConfigDir dir;
  std::mt19937 rng(7);
  constexpr int kServices = 24;
  std::map<int, int> service_port;                       // present services
  std::map<std::pair<int, std::string>, std::vector<int>> slices;  // (svc, suffix) -> hosts
  std::map<std::string, std::string> pods;               // name -> app
  for (int i = 0; i < kServices; ++i) {
    if (i % 4 != 3) service_port[i] = 80;
    if (i % 3 != 2) slices[{i, "a"}] = {1, 2};
  }
  for (int i = 0; i < 6; ++i) pods["p" + std::to_string(i)] = "svc-" + std::to_string(2 + 3 * (i % 3));
  std::string rules =
      "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr, namespace: shop}\n"
      "spec:\n  host: svc-1\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n  subsets: [{name: v1, labels: {v: '1'}}]\n"
      "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: shop}\n"
      "spec:\n  hosts: [svc-1]\n  http: [{route: [{destination: {host: svc-1, subset: v1}}]}]\n";

  auto write_all = [&] {
    std::string svc_files[2], slice_files[3], pod_file;
    for (const auto& [i, port] : service_port) svc_files[i % 2] += service(i, port);
    for (const auto& [key, hosts] : slices) slice_files[key.first % 3] += slice(key.first, key.second, hosts);
    for (const auto& [name, app] : pods) pod_file += pod(name, app, 1 + static_cast<int>(name.back() - '0'));
    for (int f = 0; f < 2; ++f) dir.write("svc-" + std::to_string(f) + ".yaml", svc_files[f]);
    for (int f = 0; f < 3; ++f) dir.write("slices-" + std::to_string(f) + ".yaml", slice_files[f]);
    dir.write("pods.yaml", pod_file);
    dir.write("rules.yaml", rules);
  };

  ResourceCache cache;
  BuildMemo memo;
  L4ViewBuilder l4;  // the datapath's view, kept incrementally like the daemon's
  write_all();
  BuildResult first = build_snapshot(load_resources({dir.path()}, &cache), 1, &memo);
  ASSERT_TRUE(first.snapshot);
  l4.update(*first.snapshot);
  int patched = 0;
  for (int step = 0; step < 120; ++step) {
    const int svc = static_cast<int>(rng() % kServices);
    switch (rng() % 8) {
      case 0: slices[{svc, "a"}] = {static_cast<int>(rng() % 50), static_cast<int>(rng() % 50)}; break;
      case 1: slices.erase({svc, "a"}); break;
      case 2: slices[{svc, "b"}] = {static_cast<int>(100 + rng() % 50)}; break;
      case 3:
        if (service_port.count(svc)) {
          service_port.erase(svc);
        } else {
          service_port[svc] = 80;
        }
        break;
      case 4: service_port[svc] = 80 + static_cast<int>(rng() % 3); break;
      case 5: pods["p" + std::to_string(rng() % 8)] = "svc-" + std::to_string(svc); break;
      case 6: pods.erase("p" + std::to_string(rng() % 8)); break;
      case 7:
        if (step % 5 == 0) rules += "\n";  // an Istio file changes: a full build
        break;
    }
    write_all();
    BuildResult got = build_snapshot(load_resources({dir.path()}, &cache), 2 + step, &memo);
    BuildResult want = full_build(dir.path());
    ASSERT_EQ(static_cast<bool>(got.snapshot), static_cast<bool>(want.snapshot)) << "step " << step;
    if (!want.snapshot) continue;
    patched += got.patched;
    ASSERT_EQ(describe(*got.snapshot, l4.update(*got.snapshot)), describe(*want.snapshot, build_l4_view(*want.snapshot)))
        << "step " << step << (got.patched ? " (patched)" : "");
  }
  EXPECT_GT(patched, 60);
}

TEST(SnapshotPatch, DeclinesIstioChangesAndReportsDuplicatesLikeAFullBuild) {
  ConfigDir dir;
  dir.write("a.yaml", service(1) + slice(1, "a", {1}));
  ResourceCache cache;
  BuildMemo memo;
  ASSERT_TRUE(build_snapshot(load_resources({dir.path()}, &cache), 1, &memo).snapshot);

  dir.write("a.yaml", service(1) + slice(1, "a", {2}));
  BuildResult endpoint = build_snapshot(load_resources({dir.path()}, &cache), 2, &memo);
  ASSERT_TRUE(endpoint.snapshot);
  EXPECT_TRUE(endpoint.patched);

  // The same Service in a second file replaces the first (as kubectl apply
  // of both would), with the full build's warning.
  dir.write("b.yaml", service(1));
  BuildResult dup = build_snapshot(load_resources({dir.path()}, &cache), 3, &memo);
  ASSERT_TRUE(dup.snapshot);
  EXPECT_FALSE(dup.patched);
  BuildResult want = full_build(dir.path());
  ASSERT_TRUE(want.snapshot);
  std::vector<std::string> got_errors, want_errors;
  for (const auto& d : dup.diagnostics) got_errors.push_back(d.to_string());
  for (const auto& d : want.diagnostics) want_errors.push_back(d.to_string());
  EXPECT_EQ(got_errors, want_errors);

  dir.remove("b.yaml");
  BuildResult fixed = build_snapshot(load_resources({dir.path()}, &cache), 4, &memo);
  ASSERT_TRUE(fixed.snapshot);
  EXPECT_FALSE(fixed.patched) << "after a rejected build the next one is full";

  dir.write("vs.yaml",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: shop}\n"
            "spec: {hosts: [svc-1], http: [{route: [{destination: {host: svc-1}}]}]}\n");
  BuildResult istio = build_snapshot(load_resources({dir.path()}, &cache), 5, &memo);
  ASSERT_TRUE(istio.snapshot);
  EXPECT_FALSE(istio.patched);
  EXPECT_EQ(istio.snapshot->mesh_routes.size(), 1u);
}
