#include "config_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>

namespace sluice::config {

namespace fs = std::filesystem;

namespace {

// IN_CLOSE_WRITE rather than IN_MODIFY: one event per write, not per write(2).
// IN_ATTRIB: a chmod can make an unreadable file readable.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO |
                                IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB |
                                IN_ONLYDIR;

// The symlink kubelet swaps to update a mounted ConfigMap.
constexpr const char* kConfigMapDataLink = "..data";

// The loader skips names that start with '.', so in a watched tree their
// events cannot change the config: editor swap files, and a ConfigMap's
// timestamped directories, which it reads only through `..data`.
bool is_hidden(const std::string& name) { return name.starts_with('.'); }

}  // namespace

Result<std::unique_ptr<ConfigWatcher>> ConfigWatcher::start(std::vector<std::string> paths,
                                                            std::chrono::milliseconds debounce,
                                                            std::function<void()> on_change) {
  int inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) return make_error(-errno, "config watcher: inotify_init1");
  int stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd < 0) {
    int err = errno;
    close(inotify_fd);
    return make_error(-err, "config watcher: eventfd");
  }
  // From here the destructor owns the descriptors.
  std::unique_ptr<ConfigWatcher> w(
      new ConfigWatcher(inotify_fd, stop_fd, debounce, std::move(on_change)));
  for (const auto& path : paths) {
    std::error_code ec;
    Status s = fs::is_directory(path, ec) ? w->add_tree(path) : w->add_file(path);
    if (!s) return s.error();
  }
  w->thread_ = std::thread(&ConfigWatcher::run, w.get());
  return w;
}

ConfigWatcher::ConfigWatcher(int inotify_fd, int stop_fd, std::chrono::milliseconds debounce,
                             std::function<void()> on_change)
    : inotify_fd_(inotify_fd),
      stop_fd_(stop_fd),
      debounce_(debounce),
      on_change_(std::move(on_change)) {}

ConfigWatcher::~ConfigWatcher() {
  stop();
  close(inotify_fd_);
  close(stop_fd_);
}

void ConfigWatcher::stop() {
  std::lock_guard lock(stop_mutex_);
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of counter overflow.
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof one);
  thread_.join();
}

Status ConfigWatcher::add_watch(const std::string& dir, bool tree,
                                std::initializer_list<std::string> names) {
  int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kWatchMask);
  if (wd < 0) return make_error(-errno, "config watcher: watch " + dir);
  // The same directory (inode) yields the same descriptor: merge, and take
  // the newest path in case it was moved.
  Watch& w = watches_[wd];
  w.dir = dir;
  w.tree = w.tree || tree;
  w.names.insert(names);
  return {};
}

Status ConfigWatcher::add_file(const std::string& path) {
  fs::path p(path);
  std::string name = p.filename().string();
  if (name.empty()) return make_error(-ENOTDIR, "config watcher: " + path + " is not a directory");
  std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  return add_watch(dir, false, {name, kConfigMapDataLink});
}

Status ConfigWatcher::add_tree(const std::string& dir) {
  if (Status s = add_watch(dir, true, {}); !s) return s;
  // Symlinked directories are not followed: that avoids loops, and in a
  // ConfigMap `..data` points at a sibling that is watched anyway.
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_symlink(type_ec) || !it->is_directory(type_ec) || is_hidden(it->path().filename().string())) continue;
    Status s = add_tree(it->path().string());
    // A subdirectory deleted while we scan is no error.
    if (!s && s.error().code != -ENOENT) return s;
  }
  return {};
}

bool ConfigWatcher::drain_events() {
  alignas(inotify_event) char buf[16 * 1024];
  bool changed = false;
  for (;;) {
    ssize_t n = read(inotify_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return changed;  // EAGAIN: the queue is empty
    for (char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      changed |= handle_event(*ev);
      p += sizeof(inotify_event) + ev->len;
    }
  }
}

bool ConfigWatcher::handle_event(const inotify_event& ev) {
  if (ev.mask & IN_Q_OVERFLOW) {
    // Events were lost, perhaps creations of directories: rescan every tree.
    std::vector<std::string> trees;
    for (const auto& [wd, w] : watches_) {
      if (w.tree) trees.push_back(w.dir);
    }
    for (const auto& dir : trees) (void)add_tree(dir);
    return true;
  }
  auto it = watches_.find(ev.wd);
  if (it == watches_.end()) return false;
  if (ev.mask & IN_IGNORED) {  // the directory is gone; its parent reported that
    watches_.erase(it);
    return false;
  }
  if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) return true;
  const Watch& w = it->second;
  std::string name = ev.len ? ev.name : "";
  if (name == kConfigMapDataLink && (ev.mask & (IN_MOVED_TO | IN_CREATE))) swapped_ = true;
  if (!w.tree) return w.names.contains(name);
  if (name != kConfigMapDataLink && is_hidden(name)) return false;
  if ((ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO))) {
    // Best effort: it may be gone already, or the watch limit reached.
    (void)add_tree(w.dir + "/" + name);
  }
  return true;
}

void ConfigWatcher::run() {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> due;  // when the current burst is over
  for (;;) {
    int timeout_ms = -1;
    if (due) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*due - Clock::now()).count();
      timeout_ms = left > 0 ? static_cast<int>(left) : 0;
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (fds[0].revents & POLLIN) {
      swapped_ = false;
      // A ConfigMap swap is atomic: the whole new version is in place.
      if (drain_events()) due = swapped_ ? Clock::now() : Clock::now() + debounce_;
    }
    if (due && Clock::now() >= *due) {
      due.reset();
      // A failed reload must not stop later ones.
      try {
        on_change_();
      } catch (...) {
      }
    }
  }
}

}  // namespace sluice::config
