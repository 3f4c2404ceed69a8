#include "cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sluice {

bool is_cgroup2_root(const std::string& path) {
  char resolved[PATH_MAX];
  if (!realpath(path.c_str(), resolved)) return false;
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string dev, mnt, type;
    fields >> dev >> mnt >> type;
    if (type == "cgroup2" && mnt == resolved) return true;
  }
  return false;
}

Result<CgroupDir> CgroupDir::open(const CgroupTarget& target) {
  if (target.path.empty()) {
    return make_error(-EINVAL, "no cgroup path given: sluice never guesses one");
  }
  struct statfs fs {};
  if (statfs(target.path.c_str(), &fs) != 0) {
    return make_error(-errno, "cgroup " + target.path);
  }
  if (fs.f_type != CGROUP2_SUPER_MAGIC) {
    return make_error(-EINVAL, "cgroup " + target.path + " is not on a cgroup v2 file system");
  }
  if (!target.allow_root && is_cgroup2_root(target.path)) {
    return make_error(-EPERM, "cgroup " + target.path +
                                  " is a cgroup v2 root; attaching there affects the whole "
                                  "machine and needs an explicit opt-in");
  }
  int fd = ::open(target.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(-errno, "open cgroup " + target.path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = -errno;
    ::close(fd);
    return make_error(err, "stat cgroup " + target.path);
  }
  return CgroupDir(fd, static_cast<uint64_t>(st.st_ino), target.path);
}

CgroupDir::CgroupDir(CgroupDir&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), id_(other.id_), path_(std::move(other.path_)) {}

CgroupDir& CgroupDir::operator=(CgroupDir&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    id_ = other.id_;
    path_ = std::move(other.path_);
  }
  return *this;
}

CgroupDir::~CgroupDir() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace sluice
