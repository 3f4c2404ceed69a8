#include "kube_api_store.h"

#include <simdjson.h>

#include <charconv>

#include "json_writer.h"

namespace sluice::testing {

namespace {

std::optional<uint64_t> parse_rv(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

KubeFailure failure(int code, std::string reason, std::string message) {
  return KubeFailure{code, std::move(reason), std::move(message), {}, {}};
}

KubeFailure too_large(uint64_t asked, uint64_t current) {
  KubeFailure f = failure(504, "Timeout", "Too large resource version: " + std::to_string(asked) +
                                              ", current: " + std::to_string(current));
  f.details = R"({"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1})";
  return f;
}

// The API's continue token: base64url of {"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"},
// rv -1 meaning "go on from the latest state" (after an expired token).
std::string encode_continue(int64_t rv, std::string_view last_key) {
  JsonWriter w;
  w.begin_object();
  w.key("v").value("meta.k8s.io/v1");
  w.key("rv").value(rv);
  w.key("start").value(std::string(last_key) + '\0');
  w.end_object();
  return base64_encode(w.str(), /*url=*/true);
}

struct ContinueToken {
  int64_t rv;
  std::string start;
};

std::optional<ContinueToken> decode_continue(std::string_view token) {
  auto json = base64_decode(token);
  if (!json) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(*json)).get(doc) != simdjson::SUCCESS) return std::nullopt;
  std::string_view v, start;
  int64_t rv = 0;
  if (doc["v"].get_string().get(v) != simdjson::SUCCESS || v != "meta.k8s.io/v1" ||
      doc["rv"].get_int64().get(rv) != simdjson::SUCCESS || doc["start"].get_string().get(start) != simdjson::SUCCESS ||
      (rv < 1 && rv != -1)) {
    return std::nullopt;
  }
  return ContinueToken{rv, std::string(start)};
}

size_t item_bytes(const WatchItem& item) { return 64 + (item.obj ? item.obj->json.size() : item.error.size()); }

}  // namespace

std::string_view watch_event_name(WatchEventType t) {
  switch (t) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
    case WatchEventType::kBookmark: return "BOOKMARK";
    case WatchEventType::kError: return "ERROR";
  }
  return "ERROR";
}

void KubeWatch::push(std::vector<WatchItem> items) {
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    for (WatchItem& item : items) {
      bytes_ += item_bytes(item);
      queue_.push_back(std::move(item));
    }
    if (bytes_ > kMaxBacklogBytes) {
      queue_.clear();
      bytes_ = 0;
      ended_ = true;
    }
  }
  wake_();
}

void KubeWatch::end(bool abrupt) {
  {
    std::lock_guard lock(mutex_);
    if (ended_ && !abrupt) return;
    ended_ = true;
    abrupt_ = abrupt_ || abrupt;
  }
  wake_();
}

KubeWatch::Drained KubeWatch::drain(size_t max_items) {
  std::lock_guard lock(mutex_);
  Drained d;
  d.abrupt = abrupt_;
  if (abrupt_) return d;
  while (!queue_.empty() && d.items.size() < max_items) {
    bytes_ -= item_bytes(queue_.front());
    d.items.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  d.ended = ended_ && queue_.empty();
  return d;
}

KubeStore::KubeStore(std::vector<KubeResourceType> types, size_t history_limit)
    : types_(std::move(types)), history_limit_(history_limit == 0 ? 1 : history_limit), resources_(types_.size()) {
  for (Resource& r : resources_) r.compacted_rv = rv_;
}

std::optional<WatchItem> KubeStore::event_for(const KubeWatch& w, const HistoryEvent& ev) {
  const bool now = ev.type != WatchEventType::kDeleted && w.filter().matches(*ev.obj);
  const bool before = ev.prev && w.filter().matches(*ev.prev);
  // Moving into or out of a selector is an ADDED or DELETED for that watch,
  // as the apiserver's watch cache filters.
  if (now) return WatchItem{before ? WatchEventType::kModified : WatchEventType::kAdded, ev.rv, ev.obj, false, {}};
  if (before) return WatchItem{WatchEventType::kDeleted, ev.rv, ev.prev, false, {}};
  return std::nullopt;
}

void KubeStore::record(Resource& r, HistoryEvent ev, std::map<KubeWatch*, std::vector<WatchItem>>& batches) {
  for (const auto& w : r.watches) {
    if (auto item = event_for(*w, ev)) batches[w.get()].push_back(std::move(*item));
  }
  r.history.push_back(std::move(ev));
  while (r.history.size() > history_limit_) {
    r.compacted_rv = r.history.front().rv;
    r.history.pop_front();
  }
}

uint64_t KubeStore::apply(std::vector<ObjectDraft> drafts) {
  const std::string now = rfc3339_now();
  std::lock_guard lock(mutex_);
  std::map<KubeWatch*, std::vector<WatchItem>> batches;
  for (ObjectDraft& d : drafts) {
    Resource& r = resource(d.type);
    const std::string key = d.key();
    auto it = r.objects.find(key);
    std::shared_ptr<const StoredObject> prev = it == r.objects.end() ? nullptr : it->second;
    if (d.uid.empty()) d.uid = prev ? prev->uid : random_uid();
    if (d.created.empty()) d.created = prev ? prev->created : now;
    std::shared_ptr<const StoredObject> obj = std::move(d).publish(++rv_);
    if (prev) {
      it->second = obj;
    } else {
      r.objects.emplace_hint(it, key, obj);
    }
    record(r, {rv_, prev ? WatchEventType::kModified : WatchEventType::kAdded, obj, prev}, batches);
  }
  for (auto& [w, items] : batches) w->push(std::move(items));
  return rv_;
}

std::pair<uint64_t, size_t> KubeStore::remove(const std::vector<std::pair<const KubeResourceType*, std::string>>& keys) {
  std::lock_guard lock(mutex_);
  std::map<KubeWatch*, std::vector<WatchItem>> batches;
  size_t removed = 0;
  for (const auto& [type, key] : keys) {
    Resource& r = resource(type);
    auto it = r.objects.find(key);
    if (it == r.objects.end()) continue;
    std::shared_ptr<const StoredObject> last = it->second;
    r.objects.erase(it);
    ++removed;
    record(r, {++rv_, WatchEventType::kDeleted, last, last}, batches);
  }
  for (auto& [w, items] : batches) w->push(std::move(items));
  return {rv_, removed};
}

uint64_t KubeStore::resource_version() const {
  std::lock_guard lock(mutex_);
  return rv_;
}

size_t KubeStore::count(const KubeResourceType* type) const {
  std::lock_guard lock(mutex_);
  return resource(type).objects.size();
}

std::shared_ptr<const StoredObject> KubeStore::get(const KubeResourceType* type, const std::string& key) const {
  std::lock_guard lock(mutex_);
  const Resource& r = resource(type);
  auto it = r.objects.find(key);
  return it == r.objects.end() ? nullptr : it->second;
}

void KubeStore::compact() {
  std::lock_guard lock(mutex_);
  for (Resource& r : resources_) {
    r.history.clear();
    r.compacted_rv = rv_;
  }
}

void KubeStore::bookmark() {
  std::lock_guard lock(mutex_);
  for (Resource& r : resources_) {
    for (const auto& w : r.watches) {
      if (w->bookmarks()) w->push({WatchItem{WatchEventType::kBookmark, rv_, nullptr, false, {}}});
    }
  }
}

size_t KubeStore::drop_watches() {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (Resource& r : resources_) {
    for (const auto& w : r.watches) w->end(/*abrupt=*/true);
    n += r.watches.size();
    r.watches.clear();
  }
  return n;
}

size_t KubeStore::open_watches() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const Resource& r : resources_) n += r.watches.size();
  return n;
}

std::variant<KubeListResult, KubeFailure> KubeStore::list_page(const KubeResourceType* type,
                                                               const KubeListRequest& req) const {
  std::lock_guard lock(mutex_);
  const Resource& r = resource(type);
  uint64_t at = rv_;
  std::string start;
  if (!req.continue_token.empty()) {
    auto token = decode_continue(req.continue_token);
    if (!token) return failure(400, "BadRequest", "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
    start = token->start;
    if (token->rv != -1) {
      at = static_cast<uint64_t>(token->rv);
      if (at < r.compacted_rv || at > rv_) {
        KubeFailure f = failure(410, "Expired",
                                "The provided continue parameter is too old to display a consistent list result. You "
                                "can start a new list without the continue parameter, or use the continue token in "
                                "this response to retrieve the remainder of the results. Continuing with the provided "
                                "token results in an inconsistent list - objects that were created, modified, or "
                                "deleted between the time the first chunk was returned and now may show up in the list.");
        f.continue_token = base64_encode(
            std::string(R"({"v":"meta.k8s.io/v1","rv":-1,"start":)") + JsonWriter::escape(start) + "}", true);
        return f;
      }
    }
  } else if (!req.resource_version.empty()) {
    auto asked = parse_rv(req.resource_version);
    if (!asked) return failure(400, "BadRequest", "invalid resource version \"" + req.resource_version + "\"");
    if (*asked > rv_) return too_large(*asked, rv_);
    if (req.resource_version_match == "Exact") {
      if (*asked == 0) return failure(400, "BadRequest", "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"");
      if (*asked < r.compacted_rv) {
        return failure(410, "Expired", "The resourceVersion for the provided list is too old.");
      }
      at = *asked;
    }
  } else if (!req.resource_version_match.empty()) {
    return failure(400, "BadRequest", "resourceVersionMatch is forbidden unless resourceVersion is provided");
  }

  // The state at `at`: the current objects, with every key the history
  // changed after `at` put back as it was then (null: absent then).
  std::map<std::string_view, std::shared_ptr<const StoredObject>> then;
  if (at < rv_) {
    for (auto ev = r.history.rbegin(); ev != r.history.rend() && ev->rv > at; ++ev) {
      then[ev->obj->key] = ev->type == WatchEventType::kAdded ? nullptr : ev->prev;
    }
  }

  KubeListResult out;
  out.rv = at;
  auto cur = r.objects.lower_bound(start);
  auto old = then.lower_bound(start);
  std::string_view last;
  while (cur != r.objects.end() || old != then.end()) {
    std::shared_ptr<const StoredObject> obj;
    std::string_view key;
    if (old == then.end() || (cur != r.objects.end() && cur->first < old->first)) {
      key = cur->first;
      obj = cur->second;
      ++cur;
    } else {
      key = old->first;
      obj = old->second;
      if (cur != r.objects.end() && cur->first == old->first) ++cur;
      ++old;
    }
    if (!obj || !req.filter.matches(*obj)) continue;
    if (req.limit != 0 && out.items.size() == req.limit) {
      out.continue_token = encode_continue(static_cast<int64_t>(at), last);
      break;
    }
    last = key;
    out.items.push_back(std::move(obj));
  }
  return out;
}

std::optional<KubeFailure> KubeStore::start_watch(const KubeResourceType* type, const KubeWatchRequest& req,
                                                  const std::shared_ptr<KubeWatch>& watch) {
  std::optional<uint64_t> from;
  if (!req.resource_version.empty() && req.resource_version != "0") {
    from = parse_rv(req.resource_version);
    if (!from) return failure(400, "BadRequest", "invalid resource version \"" + req.resource_version + "\"");
  }
  std::lock_guard lock(mutex_);
  Resource& r = resource(type);
  std::vector<WatchItem> items;
  if (!from || req.send_initial_events) {
    // "Get State and Start at Most Recent" (unset), "Start at Any" ("0") and
    // streaming lists: synthetic ADDED events for the state, then changes.
    for (const auto& [key, obj] : r.objects) {
      if (watch->filter().matches(*obj)) items.push_back({WatchEventType::kAdded, obj->rv, obj, false, {}});
    }
    if (req.send_initial_events && watch->bookmarks()) items.push_back({WatchEventType::kBookmark, rv_, nullptr, true, {}});
  } else if (*from < r.compacted_rv) {
    // The apiserver answers 200 and a single ERROR event, then ends the stream.
    KubeFailure f = failure(410, "Expired", "too old resource version: " + std::to_string(*from) + " (" +
                                                std::to_string(r.compacted_rv) + ")");
    items.push_back({WatchEventType::kError, 0, nullptr, false, f.status_json()});
    watch->push(std::move(items));
    watch->end(false);
    return std::nullopt;
  } else {
    for (const HistoryEvent& ev : r.history) {
      if (ev.rv <= *from) continue;
      if (auto item = event_for(*watch, ev)) items.push_back(std::move(*item));
    }
  }
  watch->push(std::move(items));
  r.watches.push_back(watch);
  return std::nullopt;
}

void KubeStore::stop_watch(const KubeResourceType* type, const std::shared_ptr<KubeWatch>& watch) {
  std::lock_guard lock(mutex_);
  auto& ws = resource(type).watches;
  ws.erase(std::remove(ws.begin(), ws.end(), watch), ws.end());
}

}  // namespace sluice::testing
