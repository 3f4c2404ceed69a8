// The state of the test Kubernetes API server: objects per resource type,
// one global resourceVersion (like etcd's revision), a bounded event history
// per type (like the apiserver's watch cache), consistent lists at a past
// resourceVersion, and the open watches fed from it. Thread-safe: the HTTP
// side reads it and the test scripts it from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kube_api_objects.h"
#include "kube_api_selector.h"
#include "result.h"

namespace sluice::testing {

enum class WatchEventType : uint8_t { kAdded, kModified, kDeleted, kBookmark, kError };
std::string_view watch_event_name(WatchEventType t);

// A failure answered as a Kubernetes Status.
struct KubeFailure {
  int code = 500;
  std::string reason;   // "Expired", "BadRequest", "Timeout"...
  std::string message;
  std::string details;         // JSON object or empty
  std::string continue_token;  // an expired continue: the token that goes on inconsistently
  std::string status_json() const { return kube_status_json(code, reason, message, details, continue_token); }
};

// Which objects of a type a list or watch sees.
struct KubeFilter {
  std::string ns;  // empty: every namespace
  LabelSelector labels;
  FieldSelector fields;
  bool matches(const StoredObject& o) const {
    return (ns.empty() || o.ns == ns) && labels.matches(o.labels) && fields.matches(o.fields);
  }
};

// One event waiting in a watch's queue; the connection formats it.
struct WatchItem {
  WatchEventType type;
  uint64_t rv = 0;                            // sent as the object's resourceVersion
  std::shared_ptr<const StoredObject> obj;    // ADDED, MODIFIED, DELETED
  bool initial_events_end = false;            // BOOKMARK after sendInitialEvents
  std::string error;                          // ERROR: the Status JSON
};

// An open watch, shared by the store (which fills it, under its own lock)
// and the connection that drains it.
class KubeWatch {
 public:
  // The queue's bound: a watcher that falls this far behind is ended, as the
  // apiserver closes unresponsive watchers, and resumes from its last version.
  static constexpr size_t kMaxBacklogBytes = size_t{512} << 20;

  KubeWatch(KubeFilter filter, bool bookmarks, std::function<void()> wake)
      : filter_(std::move(filter)), bookmarks_(bookmarks), wake_(std::move(wake)) {}

  const KubeFilter& filter() const { return filter_; }
  bool bookmarks() const { return bookmarks_; }

  // Appends items (one batch becomes one write) and wakes the connection.
  void push(std::vector<WatchItem> items);
  // Ends the stream cleanly (after what is queued) or abruptly (dropped:
  // the connection closes without the terminating chunk).
  void end(bool abrupt);

  struct Drained {
    std::vector<WatchItem> items;
    bool ended = false;
    bool abrupt = false;
  };
  Drained drain(size_t max_items);

 private:
  const KubeFilter filter_;
  const bool bookmarks_;
  const std::function<void()> wake_;
  std::mutex mutex_;
  std::deque<WatchItem> queue_;
  size_t bytes_ = 0;
  bool ended_ = false;
  bool abrupt_ = false;
};

struct KubeListRequest {
  std::string resource_version;        // the query parameter ("" when absent)
  std::string resource_version_match;  // "", "Exact", "NotOlderThan"
  std::string continue_token;
  size_t limit = 0;                    // 0: everything
  KubeFilter filter;
};

struct KubeListResult {
  uint64_t rv = 0;
  std::vector<std::shared_ptr<const StoredObject>> items;
  std::string continue_token;  // empty on the last page
};

struct KubeWatchRequest {
  std::string resource_version;
  std::string resource_version_match;
  bool send_initial_events = false;
};

class KubeStore {
 public:
  KubeStore(std::vector<KubeResourceType> types, size_t history_limit);

  const std::vector<KubeResourceType>& types() const { return types_; }

  // Creates or replaces each object, in order, one resourceVersion each.
  // Watchers get the events of one call in one batch. Returns the new
  // resourceVersion.
  uint64_t apply(std::vector<ObjectDraft> drafts);
  // Deletes the named objects (absent ones are skipped); returns the new
  // resourceVersion and how many existed.
  std::pair<uint64_t, size_t> remove(const std::vector<std::pair<const KubeResourceType*, std::string>>& keys);

  uint64_t resource_version() const;
  size_t count(const KubeResourceType* type) const;
  std::shared_ptr<const StoredObject> get(const KubeResourceType* type, const std::string& key) const;

  // Drops every retained event: a watch or list at an older version gets
  // 410 Expired, as after an etcd compaction.
  void compact();
  // Sends a BOOKMARK at the current version to every watch that asked for them.
  void bookmark();
  // Ends every watch without the terminating chunk; returns how many.
  size_t drop_watches();
  size_t open_watches() const;

  // The page, or the failure to answer with (410 for a compacted version
  // or continue token, 504 for a version from the future, 400).
  std::variant<KubeListResult, KubeFailure> list_page(const KubeResourceType* type, const KubeListRequest& req) const;
  // Registers the watch after queueing what it replays: synthetic ADDED
  // events for an unset or "0" version (and sendInitialEvents), or the
  // history after the version given; an expired version queues the ERROR
  // event and ends the watch instead.
  std::optional<KubeFailure> start_watch(const KubeResourceType* type, const KubeWatchRequest& req,
                                         const std::shared_ptr<KubeWatch>& watch);
  void stop_watch(const KubeResourceType* type, const std::shared_ptr<KubeWatch>& watch);

 private:
  struct HistoryEvent {
    uint64_t rv;
    WatchEventType type;
    std::shared_ptr<const StoredObject> obj;   // the new state; for DELETED the last one
    std::shared_ptr<const StoredObject> prev;  // the state before, or null
  };
  struct Resource {
    std::map<std::string, std::shared_ptr<const StoredObject>, std::less<>> objects;
    std::deque<HistoryEvent> history;
    uint64_t compacted_rv = 0;  // every event after this one is in history
    std::vector<std::shared_ptr<KubeWatch>> watches;
  };

  Resource& resource(const KubeResourceType* type) { return resources_[type - types_.data()]; }
  const Resource& resource(const KubeResourceType* type) const { return resources_[type - types_.data()]; }
  void record(Resource& r, HistoryEvent ev, std::map<KubeWatch*, std::vector<WatchItem>>& batches);
  static std::optional<WatchItem> event_for(const KubeWatch& w, const HistoryEvent& ev);

  const std::vector<KubeResourceType> types_;
  const size_t history_limit_;
  mutable std::mutex mutex_;
  uint64_t rv_ = 1;
  std::vector<Resource> resources_;
};

}  // namespace sluice::testing
