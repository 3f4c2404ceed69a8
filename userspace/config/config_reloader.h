// The reload step of the config: load from the source (for files, only
// those that changed), build or patch the snapshot, and publish it with one
// atomic pointer swap. Each resource is admitted on its own (admission.h):
// a bad one is rejected alone and its last good version stays in force.
// What follows a new snapshot (kernel tables, XDP, listeners) is the daemon's.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <memory>

#include <map>

#include "config_source.h"
#include "mesh_snapshot.h"
#include "snapshot_builder.h"

namespace sluice::config {

struct ReloadStatus {
  uint64_t version = 0;           // of the snapshot in force; 0 before the first good one
  uint64_t reloads = 0;           // attempts
  uint64_t rejected = 0;          // reloads that rejected at least one resource
  std::string source;             // ConfigSource::describe()
  std::vector<std::string> last_errors;  // of the resources rejected by the snapshot in force
  std::map<std::string, size_t> rejected_by_kind;  // the same errors by the resource's kind ("file" if none)
  std::vector<std::string> warnings;     // of the snapshot in force
  double last_load_ms = 0;        // read and parse changed files
  double last_build_ms = 0;       // build and validate the snapshot
  double last_reload_ms = 0;      // the whole reload (in the daemon: up to the kernel write)
  double last_release_ms = 0;     // in the daemon: freeing the snapshot replaced, after the kernel write
  size_t last_files_parsed = 0;   // files that changed since the reload before
  size_t last_documents_parsed = 0;  // YAML documents in them that changed
  bool last_patched = false;      // the snapshot was patched, not built again (snapshot_patch.h)
};

class ConfigReloader {
 public:
  explicit ConfigReloader(std::unique_ptr<ConfigSource> source) : source_(std::move(source)) {}
  explicit ConfigReloader(std::vector<std::string> paths)
      : ConfigReloader(std::make_unique<FileSource>(std::move(paths))) {}

  // One reload. Returns true if a new snapshot is in force. One caller at a
  // time; status() belongs to that caller too.
  bool reload();

  ConfigSource& source() { return *source_; }

  // The DNS answers the next builds use (ResolvedHosts); the caller reloads.
  void set_resolved_hosts(std::shared_ptr<const ResolvedHosts> hosts) { resolved_hosts_ = std::move(hosts); }

  // Lock-free for readers on the request path, from any thread.
  SnapshotPtr current() const { return current_.load(std::memory_order_acquire); }

  const ReloadStatus& status() const { return status_; }

 private:
  std::unique_ptr<ConfigSource> source_;
  std::atomic<SnapshotPtr> current_;
  std::shared_ptr<const ResolvedHosts> resolved_hosts_;
  BuildMemo memo_;       // the last build: what a patch starts from, services reused
  uint64_t next_version_ = 1;
  ReloadStatus status_;
};

}  // namespace sluice::config
