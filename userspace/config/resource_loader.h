// Reads multi-document YAML (the shape `kubectl get -o yaml` prints, List
// objects included) from files and directories into a ResourceSet.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "diagnostic.h"
#include "resource_set.h"

namespace sluice::config {

struct FileResources;

// What changed since a source's previous load, when the source knows it (the
// Kubernetes store does): each object that changed, before and after (none
// when absent). A patched build consumes it instead of comparing every file,
// so its work follows the change, not the cluster. Valid only on top of the
// build of generation `since`.
struct SourceDelta {
  uint64_t since = 0;
  uint64_t generation = 0;
  std::vector<std::pair<AnyResource, AnyResource>> changes;
};

struct LoadResult {
  ResourceSet resources;
  std::vector<Diagnostic> diagnostics;
  std::vector<std::string> files;  // what was read, in order
  // What each of `files` held (same order); empty for load_yaml_text.
  std::vector<std::shared_ptr<const FileResources>> file_resources;
  size_t files_parsed = 0;         // the rest came from the cache
  size_t documents_parsed = 0;     // in those files; the rest were unchanged
  std::optional<SourceDelta> delta;  // from sources that track changes (then files are empty)
};

// One document (or a few) of a file, parsed once and shared. A changed file
// reuses the pieces whose text did not change.
struct ParsedChunk {
  std::shared_ptr<const std::string> text;
  int line_offset = 0;  // lines of the file before it
  ResourceSet resources;
  std::vector<Diagnostic> diagnostics;  // lines are the file's
  bool syntax_error = false;
};

// What one file held, parsed once and shared.
struct FileResources {
  ResourceSet resources;
  std::vector<Diagnostic> diagnostics;
  std::vector<std::shared_ptr<const ParsedChunk>> chunks;
};

// Parsed files by path, reused while the file is unchanged (same device,
// inode, size, mtime and ctime), so a reload parses only what changed.
//
// File timestamps are coarse (a kernel tick, up to 10 ms): a same-size
// rewrite in place within the tick of the read would look unchanged. As git
// does for its index, an entry whose file was modified within
// kTimestampSlack of reading it is not trusted, and the file is read again
// (its unchanged documents are still reused) until it has been stable for
// longer than that.
class ResourceCache {
 public:
  struct Identity {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const Identity&) const = default;
  };
  static constexpr int64_t kTimestampSlackNs = 20'000'000;

  // The entry for path if the file is the same and was already old when it
  // was read.
  std::shared_ptr<const FileResources> find(const std::string& path, const Identity& id) const;
  // What the file held when last read, whatever its identity now: a
  // changed file reuses its unchanged documents.
  std::shared_ptr<const FileResources> previous(const std::string& path) const;
  // read_ns: the CLOCK_REALTIME time, in ns, just before the file was stat()ed.
  void store(const std::string& path, const Identity& id, int64_t read_ns, std::shared_ptr<const FileResources> r);
  // Drops entries for files not in `present`.
  void retain(const std::vector<std::string>& present);

 private:
  struct Entry {
    Identity id;
    int64_t read_ns = 0;
    std::shared_ptr<const FileResources> resources;
  };
  std::map<std::string, Entry> entries_;
};

// paths: files or directories. A directory is read recursively; names that
// start with '.' are skipped, which also skips the `..data` and timestamped
// directories of a mounted ConfigMap while its top-level symlinks are read.
LoadResult load_resources(const std::vector<std::string>& paths, ResourceCache* cache = nullptr);

// One YAML text, as if read from a file called `name` whose first
// line_offset lines came before it (tests use the whole-file form).
void load_yaml_text(const std::string& text, const std::string& name, LoadResult& into, int line_offset = 0);

}  // namespace sluice::config
