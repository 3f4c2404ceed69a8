// sluice-kube-api: the test Kubernetes API server as a process, for e2e
// tests, benchmarks and manual runs (kube_api_server.h says what it serves,
// kube_api_control.h how to script it).
//
// Writes into --dir: ca.pem (and the rest of the test PKI), kubeconfig,
// token, serviceaccount/{token,ca.crt,namespace}, port, and control_port
// last, so a caller that sees control_port can use everything:
//   sluice-kube-api --dir /tmp/k --fixtures test/fixtures/k8s &
//   sluiced --kubeconfig /tmp/k/kubeconfig ...
//   curl -X POST --data-binary @svc.yaml http://127.0.0.1:$(cat /tmp/k/control_port)/apply
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kube_api_control.h"
#include "kube_api_server.h"
#include "stop_signals.h"

namespace {

namespace fs = std::filesystem;

// The files of a fixture argument: itself, or a directory's *.yaml, *.yml
// and *.json files below it, in name order.
std::vector<fs::path> fixture_files(const fs::path& arg) {
  if (!fs::is_directory(arg)) return {arg};
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(arg)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool write_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::testing::KubeApiOptions o;
  std::vector<std::string> fixtures;
  uint16_t control_port = 0;
  uint64_t bookmark_ms = 0;
  uint64_t watch_timeout_s = 0;
  CLI::App app{"sluice-kube-api: a test Kubernetes API server (HTTPS list/watch) with a control port"};
  app.add_option("--dir", o.dir, "state directory: PKI, kubeconfig, token, port, control_port")->required();
  app.add_option("--port", o.port, "HTTPS port on 127.0.0.1; 0 picks one")->capture_default_str();
  app.add_option("--control-port", control_port, "plain HTTP control port on 127.0.0.1; 0 picks one")
      ->capture_default_str();
  app.add_option("--token", o.token, "bearer token accepted")->capture_default_str();
  app.add_option("--fixtures", fixtures, "YAML/JSON files or directories of objects to load at start");
  app.add_option("--history", o.history_limit, "watch events kept per resource type")->capture_default_str();
  app.add_option("--bookmark-interval-ms", bookmark_ms, "periodic BOOKMARK events (0: only on /bookmark)")
      ->capture_default_str();
  app.add_option("--watch-timeout", watch_timeout_s, "end watches without timeoutSeconds after this many seconds (0: never)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  o.bookmark_interval = std::chrono::milliseconds(bookmark_ms);
  o.default_watch_timeout = std::chrono::seconds(watch_timeout_s);

  const sigset_t stop_signals = sluice::tools::block_stop_signals();

  auto server = sluice::testing::KubeApiServer::start(o);
  if (!server) {
    std::fprintf(stderr, "sluice-kube-api: %s\n", server.error().to_string().c_str());
    return 1;
  }
  size_t files = 0;
  for (const std::string& arg : fixtures) {
    std::error_code ec;
    if (!fs::exists(arg, ec)) {
      std::fprintf(stderr, "sluice-kube-api: fixtures: %s does not exist\n", arg.c_str());
      return 1;
    }
    for (const fs::path& file : fixture_files(arg)) {
      std::ifstream in(file);
      std::stringstream text;
      text << in.rdbuf();
      if (auto rv = (*server)->apply(text.str()); !rv) {
        std::fprintf(stderr, "sluice-kube-api: %s: %s\n", file.c_str(), rv.error().message.c_str());
        return 1;
      }
      ++files;
    }
  }
  if (auto s = (*server)->write_client_files(); !s) {
    std::fprintf(stderr, "sluice-kube-api: %s\n", s.error().to_string().c_str());
    return 1;
  }
  auto control = sluice::testing::KubeApiControl::start(**server, control_port);
  if (!control) {
    std::fprintf(stderr, "sluice-kube-api: %s\n", control.error().to_string().c_str());
    return 1;
  }
  const fs::path dir = (*server)->dir();
  if (!write_atomic(dir / "port", std::to_string((*server)->port())) ||
      !write_atomic(dir / "control_port", std::to_string((*control)->port()))) {
    std::fprintf(stderr, "sluice-kube-api: cannot write the port files in %s\n", dir.c_str());
    return 1;
  }
  std::fprintf(stderr,
               "sluice-kube-api: serving %s (resourceVersion %llu, %zu fixture file(s)); control on "
               "http://127.0.0.1:%u; kubeconfig %s\n",
               (*server)->url().c_str(), static_cast<unsigned long long>((*server)->resource_version()), files,
               (*control)->port(), (dir / "kubeconfig").c_str());

  const int signal = sluice::tools::wait_for_stop_signal(stop_signals);
  (*control)->stop();
  (*server)->stop();
  std::fprintf(stderr, "sluice-kube-api: stopped on signal %d\n", signal);
  return 0;
}
