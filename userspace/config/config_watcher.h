// Tells the daemon when its configuration files changed, so it can reload.
//
// A directory is watched recursively. A file is watched through its parent
// directory, filtered by name, because editors and `kubectl cp` replace a file
// by renaming a new one over it, which an inotify watch on the file itself
// would not follow.
//
// A mounted ConfigMap is a directory of symlinks `foo.yaml -> ..data/foo.yaml`
// with `..data -> ..<timestamp>`. Kubelet updates it by writing a new
// timestamped directory and renaming a `..data_tmp` symlink over `..data`, so
// the names the user cares about never change; the rename of `..data` is the
// event that matters, for a watched directory and for a watched file in it.
//
// Events are debounced: on_change runs once, `debounce` after the last event
// of a burst, so one editor save or one `cp` of many files is one reload.
// The `..data` swap is the exception: it is atomic, the complete new version
// is in place when it happens, so it reloads at once. In a watched directory,
// other names that start with '.' (which the loader skips) are not watched.
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "result.h"

struct inotify_event;  // <sys/inotify.h>

namespace sluice::config {

class ConfigWatcher {
 public:
  // paths: directories or files. A file need not exist yet, but its parent
  // directory must. on_change runs on the watcher's thread; it should not
  // throw (an exception is swallowed so the watcher keeps running).
  static Result<std::unique_ptr<ConfigWatcher>> start(std::vector<std::string> paths,
                                                      std::chrono::milliseconds debounce,
                                                      std::function<void()> on_change);

  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Joins the thread; a pending debounced change is dropped. Idempotent.
  // Must not be called from on_change.
  void stop();

 private:
  struct Watch {
    std::string dir;
    bool tree = false;            // a watched directory: every entry counts, subdirectories too
    std::set<std::string> names;  // otherwise, the entries that count (watched files)
  };

  ConfigWatcher(int inotify_fd, int stop_fd, std::chrono::milliseconds debounce,
                std::function<void()> on_change);

  Status add_file(const std::string& path);
  Status add_tree(const std::string& dir);
  // Adds or extends the watch on dir.
  Status add_watch(const std::string& dir, bool tree, std::initializer_list<std::string> names);
  // Reads every queued event; true if the configuration may have changed.
  bool drain_events();
  bool handle_event(const ::inotify_event& ev);
  void run();

  const int inotify_fd_;
  const int stop_fd_;  // an eventfd: written by stop() to wake poll()
  const std::chrono::milliseconds debounce_;
  const std::function<void()> on_change_;
  std::map<int, Watch> watches_;  // by watch descriptor; only the thread touches it after start
  bool swapped_ = false;          // the events being drained include a `..data` swap
  std::mutex stop_mutex_;
  std::thread thread_;
};

}  // namespace sluice::config
