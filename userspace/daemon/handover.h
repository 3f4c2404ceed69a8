// Hitless upgrade (docs/operations.md "Upgrades"): a running sluiced hands
// its listening sockets to a successor started beside it on the same node
// (DaemonSet maxSurge: 1, maxUnavailable: 0). The sockets pass as file
// descriptors (SCM_RIGHTS) over a unix socket named after the pin directory,
// so the kernel objects, their accept queues and their place in the
// sl_proxy_lsn sockmap never go away: there is no moment without a listener.
//
// The exchange, on one connection:
//   predecessor -> successor   "sluice-handover 1 mesh=<port>:<n> admin=<0|1> gateway=<port>:<n>,... metrics=<0|1>\n"
//                              with the descriptors in that order (SCM_RIGHTS);
//                              "metrics=" (the --metrics-port listener) came
//                              later: a header without it means none
//   successor -> predecessor   "listening\n" once its workers accept on them
//   predecessor -> successor   "draining\n" once it stopped answering hand-overs
// A successor that hangs up before "listening" leaves the predecessor as it
// was: it never stopped accepting.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "result.h"

namespace sluice::daemon {

// Listening sockets by port. The descriptors are owned by whoever holds the
// struct (close_all closes what was not taken).
struct HandedListeners {
  uint16_t mesh_port = 0;
  std::vector<int> mesh;  // one per proxy worker, SO_REUSEPORT on mesh_port
  int admin = -1;
  std::map<uint16_t, std::vector<int>> gateway;  // per gateway port, one per worker
  int metrics = -1;  // the Prometheus listener (--metrics-port)

  void close_all();
  size_t count() const;
};

// The header line of the exchange, and back (pure: test/unit/handover_test.cpp).
std::string handover_header(const HandedListeners& l);
// Fills the ports and the counts of `out` (descriptors -1); false if malformed.
bool parse_handover_header(const std::string& line, HandedListeners& out);

// The abstract unix socket name of the sluiced that owns `pin_dir`: abstract,
// so a kill -9 leaves no file behind, and bpffs (where the pins live) takes
// no socket files anyway.
std::string handover_socket_name(const std::string& pin_dir);

// The successor's side.
class HandoverClient {
 public:
  // Asks the sluiced running on `pin_dir` for its listeners. nullopt when
  // none answers (the first start, or after a crash): start from scratch.
  static Result<std::optional<std::unique_ptr<HandoverClient>>> connect(const std::string& pin_dir);
  ~HandoverClient();
  HandoverClient(const HandoverClient&) = delete;
  HandoverClient& operator=(const HandoverClient&) = delete;

  HandedListeners& listeners() { return listeners_; }
  // Our workers accept on the sockets: the predecessor drains. Waits (at most
  // `limit`) until it no longer answers hand-overs, so that ours can take
  // the name.
  Status listening(std::chrono::milliseconds limit);

 private:
  explicit HandoverClient(int fd) : fd_(fd) {}
  int fd_;
  HandedListeners listeners_;
};

// The predecessor's side: a thread answering successors one at a time.
class HandoverServer {
 public:
  struct Callbacks {
    // The descriptors to send (the server's own, not duplicated: the
    // kernel duplicates them into the successor).
    std::function<HandedListeners()> listeners;
    // The descriptors are on their way: from here on the successor may put
    // the proxy's listener in the sockmap its programs read.
    std::function<void()> handing_over;
    // The successor's workers accept on them: time to drain.
    std::function<void()> handed_over;
    // The successor hung up before it listened: carry on as before.
    std::function<void()> aborted;
  };
  // Fails with EADDRINUSE while another sluiced on `pin_dir` answers.
  static Result<std::unique_ptr<HandoverServer>> start(const std::string& pin_dir, Callbacks callbacks);
  ~HandoverServer();
  HandoverServer(const HandoverServer&) = delete;
  HandoverServer& operator=(const HandoverServer&) = delete;
  void stop();  // idempotent

 private:
  HandoverServer(int fd, Callbacks callbacks);
  void serve();
  bool serve_one(int conn);
  void release_name();

  int fd_;
  Callbacks cb_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> conn_{-1};
  std::thread thread_;
};

}  // namespace sluice::daemon
