// The Kubernetes API as sluiced's config source (config/config_source.h):
// one reflector (reflector.h) per watched type, all on one client thread,
// feeding one store (kube_store.h). The daemon reloads when told to, from
// load(), the same way it reloads from files.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "cluster_access.h"
#include "config_source.h"
#include "kube_store.h"
#include "reflector.h"
#include "result.h"

namespace sluice::kube {

struct KubeSourceOptions {
  ClusterAccess access;
  ReflectorOptions reflector;
  // Changes are gathered this long before the daemon is told: a burst of
  // events (a rollout, a relist) is one reload.
  std::chrono::milliseconds debounce{100};
  std::vector<ResourceType> types = watched_types();
  std::string node_name;  // this node's: its Pods are counted apart (/kubernetes)
};

class KubeSource : public config::ConfigSource {
 public:
  // Starts listing and watching at once. on_change runs on the client's
  // thread once every type has been listed, and after changes from then on.
  static Result<std::unique_ptr<KubeSource>> start(KubeSourceOptions options, std::function<void()> on_change);
  ~KubeSource() override;

  config::LoadResult load() override { return store_.load(); }
  std::string describe() const override { return "kubernetes: " + server_; }

  // Every type has been listed once (a config from a partial list would
  // take away what the missing types hold).
  bool synced() const { return store_.synced(); }
  // Waits for synced(), at most timeout; returns synced().
  bool wait_synced(std::chrono::milliseconds timeout) const;
  std::vector<ReflectorStatus> status() const;
  NodePods node_pods() const { return store_.node_pods(); }
  // Joins the client thread. Idempotent.
  void stop();

 private:
  KubeSource(KubeSourceOptions options, std::function<void()> on_change);
  void changed();  // on the client thread

  const std::string server_;
  const std::chrono::milliseconds debounce_;
  const std::function<void()> on_change_;
  mutable KubeStore store_;  // its readers lock; const here means "does not change the source"
  TokenSource tokens_;
  // stop() tears these down in order: connections, then the timer and the
  // io_context (which destroys the suspended coroutines), while the
  // reflectors they refer to still exist.
  std::vector<std::unique_ptr<Reflector>> reflectors_;
  std::unique_ptr<boost::asio::io_context> ioc_ = std::make_unique<boost::asio::io_context>();
  std::optional<boost::asio::steady_timer> debounce_timer_;
  bool debounce_pending_ = false;
  std::thread thread_;
};

}  // namespace sluice::kube
