// Hands each snapshot in force to the parts that follow the config outside
// the request path (XDP VIPs, gateway listeners), in the order they
// subscribed. The kernel's L4 tables are brought along by ConfigSync itself,
// since their outcome is part of the reload's status; the proxy reads the
// current snapshot on its own (ProxyOptions::snapshot).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "mesh_snapshot.h"

namespace sluice::daemon {

class SnapshotFanout {
 public:
  using Subscriber = std::function<void(const config::MeshSnapshot&)>;

  void subscribe(std::string name, Subscriber fn) { subscribers_.push_back({std::move(name), std::move(fn)}); }

  // Subscribers are idempotent: the same snapshot may come again (after a
  // rejected reload, the one still in force).
  void publish(const config::SnapshotPtr& snap) const {
    if (!snap) return;
    for (const auto& s : subscribers_) s.fn(*snap);
  }

 private:
  struct Entry {
    std::string name;
    Subscriber fn;
  };
  std::vector<Entry> subscribers_;
};

}  // namespace sluice::daemon
