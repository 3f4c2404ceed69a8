#include "reflector.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/redirect_error.hpp>

#include <algorithm>

namespace sluice::kube {

namespace asio = boost::asio;

namespace {

// Percent-encodes a query value (continue tokens are base64 with '=' and '/').
std::string query_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// "403 Forbidden: secrets is forbidden: ..." from a reply and its Status body.
std::string describe_reply(const ApiReply& r) {
  config::JsonDocument doc;
  std::string message;
  if (doc.parse(r.body)) message = doc.root()["message"].str();
  return "HTTP " + std::to_string(r.status) + (message.empty() ? "" : ": " + message);
}

}  // namespace

Reflector::Reflector(asio::io_context& ioc, std::shared_ptr<asio::ssl::context> tls, const ClusterAccess& access,
                     TokenSource& tokens, KubeStore& store, size_t type, ReflectorOptions options,
                     std::function<void()> on_change)
    : ioc_(ioc),
      type_(store.types()[type]),
      index_(type),
      store_(store),
      tokens_(tokens),
      options_(options),
      on_change_(std::move(on_change)),
      conn_(ioc, std::move(tls), access, tokens),
      rng_(std::random_device{}()) {
  status_.type = type_.plural;
}

void Reflector::stop() { stopped_ = true; }

ReflectorStatus Reflector::status() const {
  std::lock_guard lock(status_mu_);
  ReflectorStatus s = status_;
  s.objects = store_.size(index_);
  return s;
}

void Reflector::fail(const std::string& what) {
  ++failures_in_a_row_;
  std::lock_guard lock(status_mu_);
  ++status_.failures;
  status_.last_error = what;
  // The first failure of a run is worth a warning; a server that stays away
  // is reported again only every so often.
  if (failures_in_a_row_ == 1 || failures_in_a_row_ % 20 == 0) {
    spdlog::warn("kubernetes: {}: {} (failure {} in a row; retrying)", type_.plural, what, failures_in_a_row_);
  }
}

void Reflector::note_success() {
  if (failures_in_a_row_ > 1) spdlog::info("kubernetes: {}: back after {} failures", type_.plural, failures_in_a_row_);
  failures_in_a_row_ = 0;
}

asio::awaitable<void> Reflector::backoff() {
  const unsigned n = std::min(failures_in_a_row_, 16u);
  const auto base = std::min<std::chrono::milliseconds>(options_.backoff_max, options_.backoff_initial * (1u << (n ? n - 1 : 0)));
  // Jitter in [0.5, 1.5): many nodes restarted by one API server outage do
  // not come back in step.
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  asio::steady_timer timer(ioc_, std::chrono::milliseconds(static_cast<int64_t>(base.count() * jitter(rng_))));
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> Reflector::run() {
  bool need_list = true;
  while (!stopped_) {
    if (need_list) {
      if (!co_await list()) {
        if (absent_) {
          asio::steady_timer timer(ioc_, options_.absent_recheck);
          boost::system::error_code ec;
          co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        } else {
          co_await backoff();
        }
        continue;
      }
      need_list = false;
    }
    const WatchEnd end = co_await watch();
    if (end == WatchEnd::kGone) {
      need_list = true;
      std::lock_guard lock(status_mu_);
      ++status_.relists_gone;
      spdlog::info("kubernetes: {}: resourceVersion {} is too old (410 Gone); listing again", type_.plural, rv_);
    } else if (end == WatchEnd::kFailed) {
      co_await backoff();
    }
  }
}

void Reflector::note_absent() {
  const std::vector<std::string> gone = store_.replace(index_, {});
  store_.set_synced(index_);
  if (!absent_) {
    spdlog::warn("kubernetes: the API server does not serve {} (404: is its CRD installed?); it counts as empty, "
                 "and is listed again every {} s", type_.path(), options_.absent_recheck.count() / 1000);
  }
  const bool changed = !absent_ || !gone.empty();
  absent_ = true;
  {
    std::lock_guard lock(status_mu_);
    status_.synced = true;
    status_.absent = true;
    status_.last_error = "not served (404)";
  }
  if (changed) on_change_();
}

asio::awaitable<bool> Reflector::list() {
  KubeStore::Objects objects;
  std::string cont, rv, error;
  for (;;) {
    std::string target = type_.path() + "?limit=" + std::to_string(options_.page_size);
    if (!type_.field_selector.empty()) target += "&fieldSelector=" + query_escape(type_.field_selector);
    if (!cont.empty()) target += "&continue=" + query_escape(cont);
    auto reply = co_await conn_.get(target, options_.request_timeout);
    if (stopped_) co_return false;
    if (!reply) {
      fail("list: " + reply.error().message);
      co_return false;
    }
    if (reply->status == 410 && !cont.empty()) {
      // The continue token expired between pages: the list starts again.
      objects.clear();
      cont.clear();
      continue;
    }
    if (reply->status == 404 && cont.empty()) {
      // The type is not served (an optional CRD, e.g. sluice.io's
      // RateLimitPolicy, or Istio's before Istio is installed): empty and
      // synced, so it holds nothing back; listed again later.
      note_absent();
      co_return false;
    }
    if (reply->status != 200) {
      if (reply->status == 401) tokens_.invalidate();
      fail("list: " + describe_reply(*reply));
      co_return false;
    }
    if (!doc_.parse(reply->body, &error)) {
      fail("list: " + error);
      co_return false;
    }
    const config::JsonView root = doc_.root();
    for_each_item(root["items"], [&](size_t, const config::JsonView& item) {
      std::string key;
      KubeStore::Object object = KubeStore::convert(type_, item, key);
      if (!key.empty()) objects[key] = std::move(object);
    });
    rv = root["metadata"]["resourceVersion"].str();
    cont = root["metadata"]["continue"].str();
    if (cont.empty()) break;
  }
  doc_.release();  // sized for a page; watch events are small
  const size_t count = objects.size();
  const std::vector<std::string> gone = store_.replace(index_, std::move(objects));
  if (!gone.empty()) {
    std::string some;
    for (size_t i = 0; i < gone.size() && i < 5; ++i) some += (i ? ", " : "") + gone[i];
    spdlog::info("kubernetes: {}: the list no longer has {} object(s) (deleted while not watched): {}{}", type_.plural,
                 gone.size(), some, gone.size() > 5 ? ", ..." : "");
  }
  store_.set_synced(index_);
  rv_ = rv;
  if (absent_) spdlog::info("kubernetes: {} is served now", type_.plural);
  absent_ = false;
  {
    std::lock_guard lock(status_mu_);
    ++status_.lists;
    status_.synced = true;
    status_.absent = false;
    status_.resource_version = rv;
  }
  spdlog::debug("kubernetes: {}: listed {} object(s) at resourceVersion {}", type_.plural, count, rv);
  note_success();
  on_change_();
  co_return true;
}

asio::awaitable<Reflector::WatchEnd> Reflector::watch() {
  std::uniform_int_distribution<int64_t> spread(0, options_.min_watch_timeout.count());
  const std::chrono::seconds timeout = options_.min_watch_timeout + std::chrono::seconds(spread(rng_));
  std::string target = type_.path() + "?watch=true&allowWatchBookmarks=true&resourceVersion=" + query_escape(rv_) +
                       "&timeoutSeconds=" + std::to_string(timeout.count());
  if (!type_.field_selector.empty()) target += "&fieldSelector=" + query_escape(type_.field_selector);
  {
    std::lock_guard lock(status_mu_);
    ++status_.watches;
  }
  WatchEnd end = WatchEnd::kTimeout;
  // The server ends the watch after `timeout`; nothing at all for 30 s
  // longer than that is a dead connection.
  auto reply = co_await conn_.stream_lines(target, timeout + std::chrono::seconds(30),
                                           [&](std::string_view line) { return on_event(line, end); });
  if (stopped_) co_return WatchEnd::kTimeout;
  if (!reply) {
    fail("watch: " + reply.error().message);
    co_return WatchEnd::kFailed;
  }
  if (reply->status == 410) co_return WatchEnd::kGone;
  if (reply->status != 200) {
    if (reply->status == 401) tokens_.invalidate();
    fail("watch: " + describe_reply(*reply));
    co_return WatchEnd::kFailed;
  }
  if (end == WatchEnd::kTimeout) note_success();
  {
    std::lock_guard lock(status_mu_);
    status_.resource_version = rv_;
  }
  co_return end;
}

bool Reflector::on_event(std::string_view line, WatchEnd& end) {
  std::string error;
  if (!doc_.parse(line, &error)) {
    fail("watch event: " + error);
    end = WatchEnd::kFailed;
    return false;
  }
  const config::JsonView root = doc_.root();
  const std::string type = root["type"].str();
  const config::JsonView object = root["object"];
  if (type == "ERROR") {
    // A Status: 410 when the resourceVersion was compacted away.
    if (object["code"].as_int().value_or(0) == 410) {
      end = WatchEnd::kGone;
    } else {
      fail("watch: error event: " + object["message"].str(object["reason"].str("no message")));
      end = WatchEnd::kFailed;
    }
    return false;
  }
  if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") {
    std::string key;
    KubeStore::Object converted = KubeStore::convert(type_, object, key);
    if (!key.empty()) {
      if (type == "DELETED") {
        store_.remove(index_, key);
      } else {
        store_.upsert(index_, key, std::move(converted));
      }
      on_change_();
    }
  } else if (type != "BOOKMARK") {
    fail("watch: unknown event type '" + type + "'");
    end = WatchEnd::kFailed;
    return false;
  }
  if (std::string rv = object["metadata"]["resourceVersion"].str(); !rv.empty()) rv_ = std::move(rv);
  std::lock_guard lock(status_mu_);
  ++status_.events;
  return !stopped_;
}

}  // namespace sluice::kube
