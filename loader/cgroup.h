// Resolving the cgroup v2 directory that programs attach to. Attaching to a
// cgroup2 mount root affects every process on the machine, so it needs an
// explicit opt-in (the DaemonSet passes it; tests never do).
#pragma once

#include <cstdint>
#include <string>

#include "result.h"

namespace sluice {

struct CgroupTarget {
  std::string path;
  bool allow_root = false;
};

// An open cgroup directory. Owns the fd.
class CgroupDir {
 public:
  static Result<CgroupDir> open(const CgroupTarget& target);

  CgroupDir(CgroupDir&& other) noexcept;
  CgroupDir& operator=(CgroupDir&& other) noexcept;
  CgroupDir(const CgroupDir&) = delete;
  ~CgroupDir();

  int fd() const { return fd_; }
  uint64_t id() const { return id_; }  // cgroup v2 id: the directory's inode
  const std::string& path() const { return path_; }

 private:
  CgroupDir(int fd, uint64_t id, std::string path) : fd_(fd), id_(id), path_(std::move(path)) {}
  int fd_ = -1;
  uint64_t id_ = 0;
  std::string path_;
};

// True when path is the root of a cgroup2 mount.
bool is_cgroup2_root(const std::string& path);

}  // namespace sluice
