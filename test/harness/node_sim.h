// NodeSim: one simulated node (node netns + bridge, pod netns, test cgroup,
// bpffs pin dir) per instance, built and destroyed by scripts/node_sim.sh.
// See that script's header for the layout. Needs root.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "privileged.h"

namespace sluice::test {

// Moves the calling thread into /run/netns/<ns>; throws std::system_error.
void enter_netns(const std::string& ns);

class NodeSim {
 public:
  // Brings the node up; throws std::runtime_error (with the script's output)
  // after cleaning up if that fails.
  explicit NodeSim(int npods);
  // Stops spawned processes, leaves the cgroup, tears everything down. Never throws.
  ~NodeSim();

  NodeSim(const NodeSim&) = delete;
  NodeSim& operator=(const NodeSim&) = delete;

  // scripts/node_sim.sh, e.g. for `node_sim.sh exec <prefix> p1 <cmd...>`.
  static std::string script_path();

  const std::string& prefix() const { return prefix_; }
  int pod_count() const { return npods_; }
  std::string node_ns() const;
  std::string pod_ns(int i) const;  // pods are 1-based: 1..pod_count()
  std::string cgroup_path() const;  // <cgroup2 root>/<prefix>
  std::string pin_dir() const;      // /sys/fs/bpf/<prefix>
  std::string node_ip() const;      // 10.200.0.1
  std::string pod_ip(int i) const;  // 10.200.1.<i>
  uint32_t node_ip_u32() const;     // host byte order
  uint32_t pod_ip_u32(int i) const;  // host byte order

  // Moves this whole process into the test cgroup, so sockets it creates from
  // now on are subject to programs attached there. Undone by leave_cgroup() or
  // the destructor (before the cgroup is removed).
  void join_cgroup();
  void leave_cgroup();

  // Runs fn on a fresh thread inside netns ns and returns its result or
  // rethrows its exception. Only the helper thread switches netns; sockets
  // created there stay in ns for their whole life, whichever thread uses them.
  template <class F>
  auto in_netns(const std::string& ns, F&& fn) -> std::invoke_result_t<F&>;
  template <class F>
  decltype(auto) in_pod(int i, F&& fn) {
    return in_netns(pod_ns(i), std::forward<F>(fn));
  }
  template <class F>
  decltype(auto) in_node(F&& fn) {
    return in_netns(node_ns(), std::forward<F>(fn));
  }

  // Blocking, close-on-exec sockets owned by the caller. Their cgroup is the
  // process's cgroup at creation time (see join_cgroup()).
  int tcp_socket_in_pod(int i);
  int udp_socket_in_pod(int i);
  // An AF_INET6 socket with IPV6_V6ONLY off, which dials IPv4 through
  // v4-mapped addresses (::ffff:a.b.c.d), as gRPC's C core and Java do.
  int dual_stack_socket_in_pod(int i, int type);

  // Starts argv (PATH is searched) in the test cgroup and netns ns, stdout and
  // stderr appended to log_path if given. Throws if it cannot be started.
  pid_t spawn(const std::string& ns, const std::vector<std::string>& argv,
              const std::string& log_path = "");
  // SIGTERM, up to `grace` (2 s unless told), then SIGKILL; always reaps.
  // Only for spawn()ed pids.
  void stop(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(2));

 private:
  std::string prefix_;
  int npods_;
  std::string cgroup_root_;
  std::string original_cgroup_;  // set while joined
  std::vector<pid_t> children_;
};

template <class F>
auto NodeSim::in_netns(const std::string& ns, F&& fn) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  // A throwaway thread: a thread that has switched netns must never be reused
  // by unrelated code, and a promise carries both results and exceptions back.
  std::promise<R> result;
  std::thread worker([&] {
    try {
      enter_netns(ns);
      if constexpr (std::is_void_v<R>) {
        std::invoke(fn);
        result.set_value();
      } else {
        result.set_value(std::invoke(fn));
      }
    } catch (...) {
      result.set_exception(std::current_exception());
    }
  });
  worker.join();
  return result.get_future().get();
}

// Fixture: a fresh node per test. Override pod_count() for a different size.
class NodeTest : public ::testing::Test {
 protected:
  virtual int pod_count() const { return 3; }
  void SetUp() override;
  void TearDown() override { node_.reset(); }

  std::unique_ptr<NodeSim> node_;
};

}  // namespace sluice::test
