// RAII owner of the socket redirection programs (bpf/sock_redir.bpf.c): the
// sockops program on the cgroup (a pinned link, adopted across restarts)
// and the sk_msg program on the sockhash. Shares sl_sock_state with sock_lb
// through the pin directory.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cgroup.h"
#include "consts.h"
#include "map_handle.h"
#include "result.h"
#include "sock_redir_types.h"

struct sock_redir_bpf;
struct bpf_link;

namespace sluice {

struct SockRedirOptions {
  std::string pin_dir = SL_DEFAULT_PIN_DIR;
  sl_redir_mode mode = SL_REDIR_AUTO;
  // Local addresses (host order): the node's pod network, and the node's own
  // address, where the proxy listens.
  uint32_t local_net = 0;
  uint8_t local_prefix_len = 32;
  uint32_t node_ip = 0;
  // The proxy's SO_MARK on its upstream sockets (proxy mode; 0: none).
  uint32_t proxy_mark = 0;
  uint32_t bulk_bytes = SL_REDIR_DEFAULT_BULK_BYTES;
  uint32_t sockhash_entries = SL_REDIR_DEFAULT_SOCKHASH_ENTRIES;
};

// sl_redir_stats summed over CPUs, by enum sl_redir_stat.
using RedirStats = std::array<uint64_t, SL_RS__COUNT>;

class SockRedir {
 public:
  static Result<std::unique_ptr<SockRedir>> load(const SockRedirOptions& options);

  ~SockRedir();
  SockRedir(const SockRedir&) = delete;
  SockRedir& operator=(const SockRedir&) = delete;

  // Attaches sk_msg to the sockhash, then sockops to the cgroup.
  Status attach(const CgroupTarget& target);
  // Detaches both; sockets already in the sockhash keep their redirection
  // until they close, unless the sockhash is unpinned and freed too.
  Status detach();

  sl_redir_mode mode() const { return mode_; }
  Result<RedirStats> stats() const;
  // Sockets in the sockhashes now (walks the keys of both).
  Result<uint32_t> sockhash_fill() const;
  uint32_t sockhash_capacity() const { return capacity_; }

  // Turns redirection off for a node that had it: detaches and unpins the
  // sockops link and unpins the redirection maps. Once the sockhash is
  // freed, its sockets go back to the plain stack. Nothing pinned: no-op.
  static Status remove_pins(const std::string& pin_dir);

 private:
  SockRedir() = default;

  sock_redir_bpf* skel_ = nullptr;
  std::vector<bpf_link*> links_;
  bool msg_attached_ = false;
  std::string pin_dir_;
  sl_redir_mode mode_ = SL_REDIR_OFF;
  uint32_t capacity_ = 0;
};

}  // namespace sluice
