#include "pin_dir.h"

#include <linux/magic.h>
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

}  // namespace sluice
