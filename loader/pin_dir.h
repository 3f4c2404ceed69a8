// Pin directories live on bpffs. These helpers create and remove them.
#pragma once

#include <string>

#include "result.h"

namespace sluice {

// mkdir -p of dir, which must be on a bpf file system.
Status ensure_bpffs_dir(const std::string& dir);

// Removes dir and everything under it (unpinning what is pinned there).
Status remove_tree(const std::string& dir);

bool path_exists(const std::string& path);

// Who owns a pin directory. A running sluiced holds a shared flock on the
// directory itself for its whole life (bpffs holds no regular files, but
// any inode can be flocked); a successor during an upgrade holds one too.
// sluicectl attach and cleanup, which would take over or destroy a daemon's
// state, need it exclusively, so they fail while a daemon runs.
class PinDirLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Never blocks: EWOULDBLOCK means the other kind is held.
  static Result<PinDirLock> take(const std::string& dir, Mode mode);

  PinDirLock(PinDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  PinDirLock& operator=(PinDirLock&& other) noexcept;
  ~PinDirLock();

 private:
  explicit PinDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace sluice
