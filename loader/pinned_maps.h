// Opens the maps a running (or exited) sluice pinned, without loading any
// program: what admin tools use to read and edit the tables.
#pragma once

#include <string>
#include <vector>

#include "result.h"
#include "sock_lb_loader.h"

namespace sluice {

class PinnedSockLbMaps {
 public:
  static Result<PinnedSockLbMaps> open(const std::string& pin_dir);

  PinnedSockLbMaps(PinnedSockLbMaps&& other) noexcept;
  PinnedSockLbMaps& operator=(PinnedSockLbMaps&&) = delete;
  PinnedSockLbMaps(const PinnedSockLbMaps&) = delete;
  ~PinnedSockLbMaps();

  const SockLbMaps& maps() const { return maps_; }

 private:
  PinnedSockLbMaps() = default;
  std::vector<int> fds_;
  SockLbMaps maps_;
};

}  // namespace sluice
