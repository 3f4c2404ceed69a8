#include "pin_dir.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace sluice {

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Status ensure_bpffs_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(-ec.value(), "create pin directory " + dir);
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) return make_error(-errno, "statfs " + dir);
  if (fs.f_type != BPF_FS_MAGIC) {
    return make_error(-EINVAL, "pin directory " + dir + " is not on bpffs (mount -t bpf bpf /sys/fs/bpf)");
  }
  return {};
}

Status remove_tree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return make_error(-ec.value(), "remove " + dir);
  return {};
}

Result<PinDirLock> PinDirLock::take(const std::string& dir, Mode mode) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(-errno, "open pin directory " + dir);
  if (::flock(fd, (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return make_error(-err, mode == Mode::kShared
                                  ? "pin directory " + dir + " is locked by sluicectl"
                                  : "a running sluiced owns pin directory " + dir +
                                        " (stop it first, or pass --force to act anyway)");
    }
    return make_error(-err, "lock pin directory " + dir);
  }
  return PinDirLock(fd);
}

PinDirLock& PinDirLock::operator=(PinDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

PinDirLock::~PinDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor drops the lock
}

}  // namespace sluice
