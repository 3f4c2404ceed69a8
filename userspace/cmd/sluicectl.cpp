// sluicectl: the admin tool: validates config like istioctl, reads a running
// sluiced's status, and loads, attaches and edits the kernel tables by hand.
// Argument parsing and calls into the layers below; nothing else.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <optional>
#include <iostream>

#include "analyze.h"
#include "cli_tables.h"
#include "config_dir_apply.h"
#include "diagnostic.h"
#include "kernel_datapath_maps.h"
#include "pinned_maps.h"
#include "pin_dir.h"
#include "service_lines.h"
#include "service_text.h"
#include "service_writer.h"
#include "status_report.h"
#include "sock_lb_loader.h"
#include "table_dump.h"

namespace {

using namespace sluice;

int fail(const std::string& what) {
  std::cerr << "sluicectl: " << what << '\n';
  return 1;
}

template <class Fn>
int with_tables(const std::string& pin_dir, Fn&& fn) {
  auto pins = PinnedSockLbMaps::open(pin_dir);
  if (!pins) return fail(pins.error().to_string());
  KernelDatapathMaps maps(pins->maps());
  return fn(maps, pins->maps());
}

int apply_lines(DatapathMaps& maps, std::istream& in, const std::string& source) {
  return apply_service_lines(maps, in, source, std::cerr) ? 1 : 0;
}

// Like `istioctl validate -f`: each resource on its own, one line per
// problem on stdout, a summary on stderr; exit 1 only for errors.
int validate(const std::vector<std::string>& paths) {
  const std::vector<config::Diagnostic> diags = config::validate_files(paths);
  size_t errors = 0;
  for (const config::Diagnostic& d : diags) {
    std::cout << d.to_string() << '\n';
    errors += d.severity == config::Severity::kError;
  }
  std::cerr << "sluicectl validate: " << errors << " error(s), " << diags.size() - errors << " warning(s)\n";
  return errors ? 1 : 0;
}

// Like `istioctl analyze`: validate, plus the findings across resources,
// with Istio's message codes; exit 1 when a line is at Error level.
int analyze(const std::vector<std::string>& paths) {
  const std::vector<config::Diagnostic> diags = config::analyze_files(paths);
  size_t errors = 0;
  for (const config::Diagnostic& d : diags) {
    std::cout << config::format_analysis(d) << '\n';
    errors += config::analysis_level(d) == "Error";
  }
  if (diags.empty()) {
    std::cerr << "\u2714 No validation issues found.\n";
  } else {
    std::cerr << "sluicectl analyze: " << errors << " error(s), " << diags.size() - errors << " warning(s)\n";
  }
  return errors ? 1 : 0;
}

// kubectl apply/delete -f into a config directory: kubectl's lines on
// stdout, problems on stderr; exit 1 if any object failed.
int config_dir(bool apply, const std::vector<std::string>& files, const std::string& dir) {
  const config::ApplyReport r = apply ? config::apply_to_config_dir(files, dir) : config::delete_from_config_dir(files, dir);
  for (const config::Diagnostic& d : r.diagnostics) std::cerr << d.to_string() << '\n';
  for (const std::string& line : r.lines) std::cout << line << '\n';
  return r.failed ? 1 : 0;
}

constexpr int kUsageExit = 2;

// Reads the daemon's admin API: readiness, the config status, and the socket
// redirection and XDP views when those run, as JSON.
int status(const std::string& admin, bool json) {
  auto report = read_status(admin);
  if (!report) return fail(report.error().to_string());
  std::cout << "ready: " << (report->ready ? "yes" : "no") << '\n';
  auto text = json ? Result<std::string>(report->config) : config_status_text(report->config);
  if (!text) return fail(text.error().to_string());
  if (json) {
    std::cout << "config: " << *text << '\n';
  } else {
    std::cout << *text;
  }
  for (const auto& [name, view] : report->views) std::cout << name << ": " << view << '\n';
  return report->ready ? 0 : 1;
}

// top: requests per second, error share and p99 per service, from two
// /stats/services answers `interval` apart, refreshed until Ctrl-C (or
// `iterations` tables).
int top(const std::string& admin, std::chrono::milliseconds interval, unsigned iterations) {
  auto before = read_admin_view(admin, "/stats/services");
  if (!before) return fail(before.error().to_string());
  auto taken = std::chrono::steady_clock::now();
  const bool terminal = isatty(STDOUT_FILENO) && iterations != 1;
  for (unsigned n = 0; iterations == 0 || n < iterations; ++n) {
    std::this_thread::sleep_for(interval);
    auto after = read_admin_view(admin, "/stats/services");
    if (!after) return fail(after.error().to_string());
    const auto now = std::chrono::steady_clock::now();
    auto table = top_table(*before, *after, std::chrono::duration<double>(now - taken).count());
    if (!table) return fail(table.error().to_string());
    if (terminal) std::cout << "\x1b[H\x1b[2J";  // home and clear, like top(1)
    std::cout << "sluiced at " << admin << ", last " << std::chrono::duration<double>(now - taken).count() << " s:\n"
              << *table << std::flush;
    before = std::move(after);
    taken = now;
  }
  return 0;
}

// routes and endpoints: one admin view, as a table or (--json) as it is.
int show_view(const std::string& admin, const std::string& target, bool json,
              Result<std::string> (*table)(std::string_view)) {
  auto body = read_admin_view(admin, target);
  if (!body) return fail(body.error().to_string());
  if (json) {
    std::cout << *body << '\n';
    return 0;
  }
  auto text = table(*body);
  if (!text) return fail(text.error().to_string());
  std::cout << *text;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluicectl: inspect and edit sluice's kernel tables"};
  app.require_subcommand(1);
  std::string pin_dir = SL_DEFAULT_PIN_DIR;
  app.add_option("--pin-dir", pin_dir, "bpffs directory holding sluice's pinned maps and links")
      ->capture_default_str();

  std::string cgroup;
  bool allow_root = false;
  auto* attach = app.add_subcommand("attach", "load the socket load balancer and attach it to a cgroup");
  attach->add_option("--cgroup", cgroup, "cgroup v2 directory")->required();
  attach->add_flag("--allow-root-cgroup", allow_root, "permit a cgroup v2 mount root (a whole node)");
  bool force = false;
  attach->add_flag("--force", force, "even if a running sluiced owns the pin directory (it loses its hooks)");

  app.add_subcommand("detach", "detach the programs (maps stay pinned)");
  auto* cleanup = app.add_subcommand("cleanup", "remove every pinned map and link under the pin directory");
  cleanup->add_flag("--force", force, "even if a running sluiced owns the pin directory (it stops balancing)");

  auto* svc = app.add_subcommand("svc", "edit services");
  svc->require_subcommand(1);
  std::vector<std::string> words;
  auto* add = svc->add_subcommand("add", "add or replace a service: VIP:port[/tcp|udp] [algo=..] [max_conns=N] [maglev=P] ip:port[@w]...");
  add->add_option("service", words)->required();
  std::string file;
  auto* apply = svc->add_subcommand("apply", "add or replace the services listed in a file, one per line");
  apply->add_option("-f,--file", file, "file of service lines ('-' for stdin)")->required();
  std::string address;
  auto* del = svc->add_subcommand("del", "delete a service");
  del->add_option("service", address, "VIP:port[/tcp|udp]")->required();

  auto* backend = app.add_subcommand("backend", "edit one backend of a service");
  backend->require_subcommand(1);
  std::string endpoint;
  auto* eject = backend->add_subcommand("eject", "stop new connections to a backend");
  auto* restore = backend->add_subcommand("restore", "take a backend back into rotation");
  for (auto* c : {eject, restore}) {
    c->add_option("service", address, "VIP:port[/tcp|udp]")->required();
    c->add_option("backend", endpoint, "ip:port")->required();
  }

  app.add_subcommand("dump", "print services, counters and verdict statistics");

  std::vector<std::string> validate_paths;
  auto* validate_cmd = app.add_subcommand(
      "validate", "check each resource of Istio and Kubernetes YAML files or directories on its own, like istioctl validate "
                  "(exit 0 clean, 1 errors, 2 usage)");
  validate_cmd->add_option("paths", validate_paths, "files or directories")->required();

  std::vector<std::string> analyze_paths;
  auto* analyze_cmd = app.add_subcommand(
      "analyze", "check Istio and Kubernetes YAML across resources, like istioctl analyze (exit 1 on Error findings)");
  analyze_cmd->add_option("paths", analyze_paths, "files or directories")->required();

  std::vector<std::string> object_files;
  std::string config_dir_path;
  auto* apply_cmd = app.add_subcommand("apply", "write each object of the files to the config directory, like kubectl apply");
  auto* delete_cmd = app.add_subcommand("delete", "remove each object of the files from the config directory, like kubectl delete");
  for (auto* c : {apply_cmd, delete_cmd}) {
    c->add_option("-f,--filename", object_files, "YAML files of objects")->required();
    c->add_option("--dir", config_dir_path, "the config directory sluiced reads")->required();
  }

  std::string admin_endpoint = "127.0.0.1:15000";
  bool json = false;
  std::string filter;
  auto* status_cmd = app.add_subcommand("status", "show the running sluiced's readiness, config status, socket redirection and XDP counters");
  auto* routes_cmd = app.add_subcommand("routes", "show the VirtualService routes in force per host (mesh and gateways), as the proxy matches them");
  routes_cmd->add_option("host", filter, "only hosts containing this");
  auto* endpoints_cmd = app.add_subcommand("endpoints", "show each service port's endpoints and the kernel's connection counters");
  endpoints_cmd->add_option("service", filter, "only services containing this");
  auto* top_cmd = app.add_subcommand("top", "live requests per second, error share and p99 per service, refreshed (Ctrl-C stops)");
  unsigned interval_ms = 2000, iterations = 0;
  top_cmd->add_option("--interval-ms", interval_ms, "time between refreshes")->check(CLI::Range(100u, 3600000u))->capture_default_str();
  top_cmd->add_option("--iterations", iterations, "stop after this many tables (0: never)")->capture_default_str();
  top_cmd->add_option("--admin", admin_endpoint, "sluiced admin API address")->capture_default_str();
  for (auto* c : {status_cmd, routes_cmd, endpoints_cmd}) {
    c->add_option("--admin", admin_endpoint, "sluiced admin API address")->capture_default_str();
    c->add_flag("--json", json, "the admin API's JSON as it is, for machines");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsageExit;
  }

  if (validate_cmd->parsed()) return validate(validate_paths);
  if (analyze_cmd->parsed()) return analyze(analyze_paths);
  if (apply_cmd->parsed() || delete_cmd->parsed()) return config_dir(apply_cmd->parsed(), object_files, config_dir_path);
  if (status_cmd->parsed()) return status(admin_endpoint, json);
  if (top_cmd->parsed()) return top(admin_endpoint, std::chrono::milliseconds(interval_ms), iterations);
  if (routes_cmd->parsed()) {
    return show_view(admin_endpoint, "/routes" + (filter.empty() ? "" : "?host=" + filter), json, routes_table);
  }
  if (endpoints_cmd->parsed()) {
    return show_view(admin_endpoint, "/endpoints" + (filter.empty() ? "" : "?service=" + filter), json, endpoints_table);
  }

  // attach and cleanup would take over or destroy a running daemon's state:
  // they hold the pin directory exclusively, which fails while one runs.
  std::optional<PinDirLock> owner;
  if ((attach->parsed() || cleanup->parsed()) && !force && path_exists(pin_dir)) {
    auto lock = PinDirLock::take(pin_dir, PinDirLock::Mode::kExclusive);
    if (!lock) return fail(lock.error().to_string());
    owner.emplace(std::move(*lock));
  }
  if (attach->parsed()) {
    auto lb = SockLb::load(SockLbOptions{.pin_dir = pin_dir});
    if (!lb) return fail(lb.error().to_string());
    if (Status s = (*lb)->attach({cgroup, allow_root}); !s) return fail(s.error().to_string());
    std::cout << "attached to " << cgroup << " (pins in " << pin_dir << ", "
              << ((*lb)->reused_maps() ? "maps reused" : "maps created") << ")\n";
    return 0;
  }
  if (app.got_subcommand("detach")) {
    if (Status s = remove_tree(pin_dir + "/links"); !s) return fail(s.error().to_string());
    return 0;
  }
  if (cleanup->parsed()) {
    if (Status s = SockLb::remove_pins(pin_dir); !s) return fail(s.error().to_string());
    return 0;
  }
  if (add->parsed()) {
    std::string line;
    for (const std::string& w : words) line += w + ' ';
    std::istringstream in(line);
    return with_tables(pin_dir, [&](DatapathMaps& maps, const SockLbMaps&) {
      return apply_lines(maps, in, "service");
    });
  }
  if (apply->parsed()) {
    std::ifstream f;
    if (file != "-") {
      f.open(file);
      if (!f) return fail("cannot read " + file);
    }
    std::istream& in = file == "-" ? std::cin : f;
    return with_tables(pin_dir, [&](DatapathMaps& maps, const SockLbMaps&) {
      return apply_lines(maps, in, file);
    });
  }
  if (del->parsed()) {
    auto spec = parse_service_address(address);
    if (!spec) return fail(spec.error().to_string());
    return with_tables(pin_dir, [&](DatapathMaps& maps, const SockLbMaps&) {
      Status s = ServiceWriter(maps).remove(service_key(*spec));
      return s ? 0 : fail(s.error().to_string());
    });
  }
  if (eject->parsed() || restore->parsed()) {
    auto spec = parse_service_address(address);
    uint32_t addr = 0;
    uint16_t port = 0;
    if (!spec) return fail(spec.error().to_string());
    if (!parse_ip_port(endpoint, addr, port)) return fail("expected backend ip:port: " + endpoint);
    return with_tables(pin_dir, [&](DatapathMaps& maps, const SockLbMaps&) {
      Status s = ServiceWriter(maps).set_ejected(service_key(*spec), addr, port, eject->parsed());
      return s ? 0 : fail(s.error().to_string());
    });
  }
  if (app.got_subcommand("dump")) {
    return with_tables(pin_dir, [&](DatapathMaps& maps, const SockLbMaps& raw) {
      std::cout << "services:\n" << dump_services(maps) << "verdicts:\n" << dump_stats(raw.stats);
      return 0;
    });
  }
  return 0;
}
