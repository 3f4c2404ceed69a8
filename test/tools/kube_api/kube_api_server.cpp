#include "kube_api_server.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>
#include <tuple>

#include "json_writer.h"
#include "kube_api_certs.h"
#include "kube_api_routes.h"
#include "kube_api_store.h"
#include "listen_socket.h"

namespace sluice::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Request = http::request<http::string_body>;

namespace {

// Bodies up to this size go out with Content-Length; larger lists are
// chunked, as Go's net/http does once a handler outgrows its buffer.
constexpr size_t kPlainBodyBytes = 64 * 1024;
constexpr size_t kListChunkBytes = 256 * 1024;
constexpr size_t kWatchDrainItems = 1024;

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }
auto redirect(beast::error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

struct Connection {
  Connection(tcp::socket socket, ssl::context& tls) : stream(std::move(socket), tls) {}
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream); }
  // Abrupt: no TLS close_notify, no terminating chunk.
  void close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
  }
};

// Reading the next request while a watch streams: it notices a client that
// hangs up, and keeps what a client sends next for the following request.
struct ReadAhead {
  bool done = false;
  beast::error_code ec;
};

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string quoted_yaml(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Status write_file_atomic(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return make_error(-EIO, "kube-api: write " + tmp);
  }
  ::chmod(tmp.c_str(), mode);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return make_error(-errno, "kube-api: rename " + path);
  return {};
}

}  // namespace

struct KubeApiServer::Impl {
  // Declared before ioc: coroutine frames destroyed with the io_context
  // still reach them.
  KubeApiOptions options;
  std::string dir;
  bool own_dir = false;
  KubeApiPki pki;
  KubeStore store;
  ssl::context tls{ssl::context::tls_server};
  std::set<Connection*> connections;  // io thread only
  uint64_t accept_epoch = 0;          // io thread only: a new listener retires the old accept loop
  std::atomic<bool> running{false};
  std::atomic<uint16_t> port{0};

  mutable std::mutex mutex;  // guards what follows, read by the io thread and scripted from others
  std::string token;
  std::string old_token;
  Clock::time_point old_token_until;
  std::set<std::string, std::less<>> forbidden;
  size_t watch_chunk_bytes = 0;
  size_t max_page = 0;
  bool down = false;
  bool client_files = false;
  std::map<std::string, uint64_t, std::less<>> counts;
  std::map<int, uint64_t> statuses;

  asio::io_context ioc{1};
  // Keeps the thread serving while down, with nothing else to wait for.
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer up_timer{ioc};
  asio::steady_timer bookmark_timer{ioc};
  std::thread thread;

  Impl(KubeApiOptions o) : options(std::move(o)), store(options.resources, options.history_limit) {}

  // Runs f on the io thread and waits for it (directly when already there,
  // or when the thread is gone).
  template <class F>
  void on_io(F&& f) {
    if (!running || ioc.get_executor().running_in_this_thread()) {
      f();
      return;
    }
    std::promise<void> done;
    asio::post(ioc, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  void count(std::string_view verb, std::string_view path) {
    std::string key(verb);
    key += ' ';
    key += path;
    std::lock_guard lock(mutex);
    ++counts[key];
  }
  void count_status(int status) {
    std::lock_guard lock(mutex);
    ++statuses[status];
  }

  Status listen();
  asio::awaitable<void> accept_loop(uint64_t epoch);
  asio::awaitable<void> serve(std::shared_ptr<Connection> c);
  asio::awaitable<bool> handle(std::shared_ptr<Connection> c, const Request& req);
  asio::awaitable<bool> send(Connection& c, const Request& req, int status, std::string body,
                             std::string_view content_type = "application/json");
  asio::awaitable<bool> send_failure(Connection& c, const Request& req, const KubeFailure& f) {
    co_return co_await send(c, req, f.code, f.status_json());
  }
  // Sends the header of a 200 response whose JSON body follows in chunks.
  asio::awaitable<beast::error_code> start_chunked(Connection& c, const Request& req);
  asio::awaitable<bool> serve_list(Connection& c, const Request& req, const KubeRoute& route, const KubeQuery& q,
                                   KubeFilter filter);
  asio::awaitable<bool> serve_watch(std::shared_ptr<Connection> c, const Request& req, const KubeRoute& route,
                                    const KubeQuery& q, KubeFilter filter);
  asio::awaitable<void> bookmark_loop();
  bool authenticated(Connection& c, const Request& req);
  void close_everything();
  void come_up_on_io();
  std::string kubeconfig_locked() const;
  Status write_client_files_locked();
};

Status KubeApiServer::Impl::listen() {
  acceptor = tcp::acceptor(ioc);
  const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
  if (Status s = listen_reuseport(acceptor, endpoint, "kube-api: listen on 127.0.0.1:" + std::to_string(port)); !s) {
    return s;
  }
  beast::error_code ec;
  port = acceptor.local_endpoint(ec).port();
  asio::co_spawn(ioc, accept_loop(++accept_epoch), asio::detached);
  return {};
}

asio::awaitable<void> KubeApiServer::Impl::accept_loop(uint64_t epoch) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(redirect(ec));
    if (epoch != accept_epoch) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      asio::steady_timer pause(ioc, std::chrono::milliseconds(50));  // out of descriptors: do not spin
      co_await pause.async_wait(redirect(ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(ioc, serve(std::make_shared<Connection>(std::move(socket), tls)), asio::detached);
  }
}

asio::awaitable<void> KubeApiServer::Impl::serve(std::shared_ptr<Connection> c) {
  connections.insert(c.get());
  struct Forget {
    std::set<Connection*>& set;
    Connection* c;
    ~Forget() { set.erase(c); }
  } forget{connections, c.get()};

  beast::error_code ec;
  c->lowest().expires_after(kHandshakeTimeout);
  co_await c->stream.async_handshake(ssl::stream_base::server, redirect(ec));
  if (ec) co_return;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    c->lowest().expires_after(kIdleTimeout);
    co_await http::async_read(c->stream, c->buffer, parser, redirect(ec));
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        Request bad;
        bad.version(11);
        bad.keep_alive(false);
        const int code = ec == http::error::header_limit ? 431 : ec == http::error::body_limit ? 413 : 400;
        count("other", "(unparsed)");
        co_await send(*c, bad, code, kube_status_json(code, code == 400 ? "BadRequest" : "RequestEntityTooLarge", ec.message()));
      }
      break;
    }
    const Request req = parser.release();
    const bool keep = co_await handle(c, req);
    if (!keep || !req.keep_alive()) break;
  }
  c->lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  c->lowest().socket().close(ec);
}

asio::awaitable<bool> KubeApiServer::Impl::send(Connection& c, const Request& req, int status, std::string body,
                                                std::string_view content_type) {
  http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
  res.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  res.set(http::field::cache_control, "no-cache, private");
  res.body() = std::move(body);
  res.prepare_payload();
  res.keep_alive(req.keep_alive());
  count_status(status);
  beast::error_code ec;
  c.lowest().expires_after(kWriteTimeout);
  co_await http::async_write(c.stream, res, redirect(ec));
  co_return !ec && req.keep_alive();
}

asio::awaitable<beast::error_code> KubeApiServer::Impl::start_chunked(Connection& c, const Request& req) {
  http::response<http::empty_body> res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-cache, private");
  res.chunked(true);
  res.keep_alive(req.keep_alive());
  http::response_serializer<http::empty_body> sr{res};
  count_status(200);
  beast::error_code ec;
  co_await http::async_write_header(c.stream, sr, redirect(ec));
  co_return ec;
}

bool KubeApiServer::Impl::authenticated(Connection& c, const Request& req) {
  // x509 first, as the apiserver's union authenticator: a verified client
  // certificate is a user whatever the header says.
  SSL* ssl = c.stream.native_handle();
  if (SSL_get0_peer_certificate(ssl) != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) return true;
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view value = sv(it->value());
  if (value.size() < 7 || (value.substr(0, 7) != "Bearer " && value.substr(0, 7) != "bearer ")) return false;
  value.remove_prefix(7);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  std::lock_guard lock(mutex);
  if (!value.empty() && value == token) return true;
  return !old_token.empty() && value == old_token && Clock::now() < old_token_until;
}

asio::awaitable<bool> KubeApiServer::Impl::handle(std::shared_ptr<Connection> c, const Request& req) {
  const std::string_view target = sv(req.target());
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const KubeRoute route = route_kube_path(path, store.types());
  auto query = KubeQuery::parse(q == std::string_view::npos ? std::string_view{} : target.substr(q + 1));

  bool watch = false;
  if (query && route.kind == KubeRoute::Kind::kCollection) {
    if (auto w = query->get("watch")) watch = parse_go_bool(*w).value_or(false);
  }
  switch (route.kind) {
    case KubeRoute::Kind::kHealth: count("health", path); break;
    case KubeRoute::Kind::kCollection: count(watch ? "watch" : "list", path); break;
    case KubeRoute::Kind::kObject: count("get", path); break;
    case KubeRoute::Kind::kNotFound: count("other", path); break;
    default: count("discovery", path); break;
  }

  if (route.kind == KubeRoute::Kind::kHealth) co_return co_await send(*c, req, 200, "ok", "text/plain; charset=utf-8");
  if (!authenticated(*c, req)) co_return co_await send(*c, req, 401, kube_status_json(401, "Unauthorized", "Unauthorized"));
  if (req.method() != http::verb::get) {
    co_return co_await send(*c, req, 405,
                            kube_status_json(405, "MethodNotAllowed",
                                             "the test API server serves reads only (get, list, watch); script "
                                             "changes through its C++ API or control port"));
  }
  if (!query) co_return co_await send(*c, req, 400, kube_status_json(400, "BadRequest", query.error().message));

  switch (route.kind) {
    case KubeRoute::Kind::kNotFound:
      co_return co_await send(*c, req, 404,
                              kube_status_json(404, "NotFound", "the server could not find the requested resource", "{}"));
    case KubeRoute::Kind::kVersion: co_return co_await send(*c, req, 200, version_info_json());
    case KubeRoute::Kind::kApiVersions: co_return co_await send(*c, req, 200, discovery_api_versions(port));
    case KubeRoute::Kind::kGroupList: co_return co_await send(*c, req, 200, discovery_group_list(store.types()));
    case KubeRoute::Kind::kGroup: co_return co_await send(*c, req, 200, discovery_group(store.types(), route.group));
    case KubeRoute::Kind::kResourceList:
      co_return co_await send(*c, req, 200, discovery_resource_list(store.types(), route.group, route.version));
    default: break;
  }

  const KubeResourceType& type = *route.type;
  const char* verb = route.kind == KubeRoute::Kind::kObject ? "get" : watch ? "watch" : "list";
  bool is_forbidden = false;
  {
    std::lock_guard lock(mutex);
    is_forbidden = forbidden.count(type.plural) != 0;
  }
  if (is_forbidden) {
    JsonWriter details;
    details.begin_object();
    if (!route.name.empty()) details.key("name").value(route.name);
    if (!type.group.empty()) details.key("group").value(type.group);
    details.key("kind").value(type.plural);
    details.end_object();
    std::string message = type.plural + (route.name.empty() ? "" : " \"" + route.name + "\"") +
                          " is forbidden: User \"" + options.user + "\" cannot " + verb + " resource \"" +
                          type.plural + "\" in API group \"" + type.group + "\"" +
                          (route.ns.empty() ? " at the cluster scope" : " in the namespace \"" + route.ns + "\"");
    co_return co_await send(*c, req, 403, kube_status_json(403, "Forbidden", message, details.str()));
  }

  if (route.kind == KubeRoute::Kind::kObject) {
    auto obj = store.get(route.type, route.ns.empty() ? route.name : route.ns + "/" + route.name);
    if (!obj) {
      JsonWriter details;
      details.begin_object().key("name").value(route.name);
      if (!type.group.empty()) details.key("group").value(type.group);
      details.key("kind").value(type.plural).end_object();
      co_return co_await send(*c, req, 404,
                              kube_status_json(404, "NotFound", type.plural + " \"" + route.name + "\" not found",
                                               details.str()));
    }
    std::string body;
    obj->append_full(body, type.api_version(route.version), obj->rv);
    co_return co_await send(*c, req, 200, std::move(body));
  }

  KubeFilter filter;
  filter.ns = route.ns;
  auto labels = LabelSelector::parse(query->value("labelSelector"));
  if (!labels) co_return co_await send(*c, req, 400, kube_status_json(400, "BadRequest", labels.error().message));
  auto fields = FieldSelector::parse(query->value("fieldSelector"), type.selectable_fields());
  if (!fields) co_return co_await send(*c, req, 400, kube_status_json(400, "BadRequest", fields.error().message));
  filter.labels = std::move(*labels);
  filter.fields = std::move(*fields);
  if (auto w = query->get("watch"); w && !parse_go_bool(*w)) {
    co_return co_await send(*c, req, 400, kube_status_json(400, "BadRequest", "invalid watch parameter \"" + std::string(*w) + "\""));
  }
  if (watch) co_return co_await serve_watch(c, req, route, *query, std::move(filter));
  co_return co_await serve_list(*c, req, route, *query, std::move(filter));
}

asio::awaitable<bool> KubeApiServer::Impl::serve_list(Connection& c, const Request& req, const KubeRoute& route,
                                                      const KubeQuery& q, KubeFilter filter) {
  KubeListRequest lr;
  lr.resource_version = q.value("resourceVersion");
  lr.resource_version_match = q.value("resourceVersionMatch");
  lr.continue_token = q.value("continue");
  lr.filter = std::move(filter);
  if (auto limit = q.get("limit"); limit && !limit->empty()) {
    auto n = parse_u64(*limit);
    if (!n) co_return co_await send(c, req, 400, kube_status_json(400, "BadRequest", "invalid limit \"" + std::string(*limit) + "\""));
    lr.limit = *n;
  }
  if (!lr.resource_version_match.empty() && lr.resource_version_match != "Exact" &&
      lr.resource_version_match != "NotOlderThan") {
    co_return co_await send(c, req, 400, kube_status_json(400, "BadRequest", "invalid resourceVersionMatch \"" + lr.resource_version_match + "\""));
  }
  if (!lr.continue_token.empty() && !lr.resource_version.empty() && lr.resource_version != "0") {
    co_return co_await send(c, req, 400,
                            kube_status_json(400, "BadRequest", "specifying resource version is not allowed when using continue"));
  }
  {
    std::lock_guard lock(mutex);
    if (max_page != 0 && lr.limit != 0) lr.limit = std::min(lr.limit, max_page);
  }
  auto page = store.list_page(route.type, lr);
  if (auto* f = std::get_if<KubeFailure>(&page)) co_return co_await send_failure(c, req, *f);
  const KubeListResult& list = std::get<KubeListResult>(page);

  std::string head = "{\"kind\":\"" + route.type->list_kind() + "\",\"apiVersion\":\"" +
                     route.type->api_version(route.version) + "\",\"metadata\":{\"resourceVersion\":\"" +
                     std::to_string(list.rv) + "\"";
  if (!list.continue_token.empty()) head += ",\"continue\":\"" + list.continue_token + "\"";
  head += "},\"items\":[";
  size_t total = head.size() + 2;
  for (const auto& item : list.items) total += item->json.size() + 1;

  auto append_items = [&](std::string& out, size_t& next, size_t budget) {
    for (; next < list.items.size() && out.size() < budget; ++next) {
      if (next != 0) out += ',';
      out += list.items[next]->json;
    }
    if (next == list.items.size()) out += "]}";
  };
  size_t next = 0;
  if (total <= kPlainBodyBytes) {
    std::string body = std::move(head);
    append_items(body, next, SIZE_MAX);
    co_return co_await send(c, req, 200, std::move(body));
  }

  c.lowest().expires_after(kWriteTimeout);
  beast::error_code ec = co_await start_chunked(c, req);
  std::string chunk = std::move(head);
  chunk.reserve(kListChunkBytes + 64 * 1024);
  bool last = false;
  while (!ec && !last) {
    append_items(chunk, next, kListChunkBytes);
    last = next == list.items.size();
    c.lowest().expires_after(kWriteTimeout);
    co_await asio::async_write(c.stream, http::make_chunk(asio::buffer(chunk)), redirect(ec));
    chunk.clear();
  }
  if (!ec) co_await asio::async_write(c.stream, http::make_chunk_last(), redirect(ec));
  co_return !ec && req.keep_alive();
}

namespace {

void format_watch_item(std::string& out, const WatchItem& item, const KubeResourceType& type,
                       std::string_view api_version) {
  out += "{\"type\":\"";
  out += watch_event_name(item.type);
  out += "\",\"object\":";
  switch (item.type) {
    case WatchEventType::kError: out += item.error; break;
    case WatchEventType::kBookmark:
      // Only the version is set, as the API sends it; the annotation marks
      // the end of a streaming list's initial events.
      out += "{\"kind\":\"" + type.kind + "\",\"apiVersion\":\"" + std::string(api_version) +
             "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(item.rv) + "\"";
      if (item.initial_events_end) out += ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}";
      out += "}}";
      break;
    default: item.obj->append_full(out, api_version, item.rv); break;
  }
  out += "}\n";
}

asio::awaitable<void> read_ahead(std::shared_ptr<Connection> c, std::shared_ptr<ReadAhead> state,
                                 std::shared_ptr<asio::steady_timer> wake) {
  beast::error_code ec;
  const size_t n = co_await c->stream.async_read_some(c->buffer.prepare(4096), redirect(ec));
  c->buffer.commit(n);
  state->done = true;
  state->ec = ec;
  wake->cancel();
}

}  // namespace

asio::awaitable<bool> KubeApiServer::Impl::serve_watch(std::shared_ptr<Connection> c, const Request& req,
                                                       const KubeRoute& route, const KubeQuery& q, KubeFilter filter) {
  KubeWatchRequest wr;
  wr.resource_version = q.value("resourceVersion");
  wr.resource_version_match = q.value("resourceVersionMatch");
  bool bookmarks = false;
  std::optional<uint64_t> timeout_seconds;
  for (auto [name, target] : {std::pair<const char*, bool*>{"allowWatchBookmarks", &bookmarks},
                              std::pair<const char*, bool*>{"sendInitialEvents", &wr.send_initial_events}}) {
    if (auto v = q.get(name); v && !v->empty()) {
      auto b = parse_go_bool(*v);
      if (!b) co_return co_await send(*c, req, 400, kube_status_json(400, "BadRequest", std::string("invalid ") + name + " \"" + std::string(*v) + "\""));
      *target = *b;
    }
  }
  if (auto v = q.get("timeoutSeconds"); v && !v->empty()) {
    timeout_seconds = parse_u64(*v);
    if (!timeout_seconds) co_return co_await send(*c, req, 400, kube_status_json(400, "BadRequest", "invalid timeoutSeconds \"" + std::string(*v) + "\""));
    if (*timeout_seconds == 0) timeout_seconds.reset();  // 0: the server's default, as the apiserver reads it
    if (timeout_seconds) timeout_seconds = std::min<uint64_t>(*timeout_seconds, 10ull * 365 * 24 * 3600);  // no clock overflow
  }
  // ListOptions validation, with the apiserver's wording.
  std::string invalid;
  if (wr.send_initial_events && wr.resource_version_match != "NotOlderThan") {
    invalid = "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan";
  } else if (wr.send_initial_events && !bookmarks) {
    invalid = "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true";
  } else if (!wr.send_initial_events && !wr.resource_version_match.empty()) {
    invalid = "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided";
  }
  if (!invalid.empty()) {
    co_return co_await send(*c, req, 422,
                            kube_status_json(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: " + invalid,
                                             R"({"group":"meta.k8s.io","kind":"ListOptions"})"));
  }

  auto wake_timer = std::make_shared<asio::steady_timer>(ioc);
  std::weak_ptr<asio::steady_timer> weak = wake_timer;
  auto watch = std::make_shared<KubeWatch>(std::move(filter), bookmarks, [weak, ex = ioc.get_executor()] {
    asio::post(ex, [weak] {
      if (auto t = weak.lock()) t->cancel();
    });
  });
  if (auto f = store.start_watch(route.type, wr, watch)) co_return co_await send_failure(*c, req, *f);
  const KubeResourceType& type = *route.type;
  const std::string api_version = type.api_version(route.version);

  c->lowest().expires_never();  // a watch is quiet for as long as nothing changes
  beast::error_code ec = co_await start_chunked(*c, req);

  auto ahead = std::make_shared<ReadAhead>();
  if (c->buffer.size() > 0) {
    ahead->done = true;  // a pipelined request is already here
  } else {
    asio::co_spawn(ioc, read_ahead(c, ahead, wake_timer), asio::detached);
  }
  std::optional<Clock::time_point> deadline;
  if (timeout_seconds) {
    deadline = Clock::now() + std::chrono::seconds(*timeout_seconds);
  } else if (options.default_watch_timeout.count() > 0) {
    deadline = Clock::now() + options.default_watch_timeout;
  }

  bool clean_end = false;
  std::string batch;
  while (!ec) {
    KubeWatch::Drained d = watch->drain(kWatchDrainItems);
    if (d.abrupt) break;
    if (!d.items.empty()) {
      batch.clear();
      for (const WatchItem& item : d.items) format_watch_item(batch, item, type, api_version);
      size_t piece = 0;
      {
        std::lock_guard lock(mutex);
        piece = watch_chunk_bytes;
      }
      if (piece == 0) piece = batch.size();
      for (size_t at = 0; at < batch.size() && !ec; at += piece) {
        const size_t n = std::min(piece, batch.size() - at);
        co_await asio::async_write(c->stream, http::make_chunk(asio::buffer(batch.data() + at, n)), redirect(ec));
      }
      continue;
    }
    if (d.ended || (deadline && Clock::now() >= *deadline)) {
      clean_end = true;
      break;
    }
    if (ahead->done && ahead->ec) break;  // the client hung up
    wake_timer->expires_at(deadline.value_or(Clock::time_point::max()));
    beast::error_code wait_ec;
    co_await wake_timer->async_wait(redirect(wait_ec));
  }
  store.stop_watch(route.type, watch);
  if (!clean_end || ec) {
    c->close();
    co_return false;
  }
  co_await asio::async_write(c->stream, http::make_chunk_last(), redirect(ec));
  if (ec || !req.keep_alive()) co_return false;
  // Keep-alive: the next request is what the read-ahead gets (or its end).
  const Clock::time_point idle_end = Clock::now() + kIdleTimeout;
  while (!ahead->done && Clock::now() < idle_end) {
    wake_timer->expires_at(idle_end);
    beast::error_code wait_ec;
    co_await wake_timer->async_wait(redirect(wait_ec));
  }
  if (!ahead->done) {
    c->close();
    co_return false;
  }
  co_return !ahead->ec;
}

asio::awaitable<void> KubeApiServer::Impl::bookmark_loop() {
  for (;;) {
    bookmark_timer.expires_after(options.bookmark_interval);
    beast::error_code ec;
    co_await bookmark_timer.async_wait(redirect(ec));
    if (ec) co_return;
    store.bookmark();
  }
}

void KubeApiServer::Impl::close_everything() {
  ++accept_epoch;
  beast::error_code ec;
  acceptor.close(ec);
  store.drop_watches();
  for (Connection* c : connections) c->close();
}

void KubeApiServer::Impl::come_up_on_io() {
  {
    std::lock_guard lock(mutex);
    if (!down) return;
  }
  if (Status s = listen(); !s) {
    // The port may linger for a moment: try again shortly.
    up_timer.expires_after(std::chrono::milliseconds(100));
    up_timer.async_wait([this](beast::error_code ec) {
      if (!ec) come_up_on_io();
    });
    return;
  }
  std::lock_guard lock(mutex);
  down = false;
}

std::string KubeApiServer::Impl::kubeconfig_locked() const {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: sluice-test\n"
         "  cluster:\n"
         "    server: https://127.0.0.1:" + std::to_string(port) + "\n"
         "    certificate-authority-data: " + base64_encode(pki.ca_pem) + "\n"
         "contexts:\n"
         "- name: sluice-test\n"
         "  context:\n"
         "    cluster: sluice-test\n"
         "    namespace: default\n"
         "    user: sluiced\n"
         "current-context: sluice-test\n"
         "preferences: {}\n"
         "users:\n"
         "- name: sluiced\n"
         "  user:\n"
         "    token: " + quoted_yaml(token) + "\n";
}

Status KubeApiServer::Impl::write_client_files_locked() {
  const std::string sa = dir + "/serviceaccount";
  std::error_code fs_ec;
  std::filesystem::create_directories(sa, fs_ec);
  if (fs_ec) return make_error(-fs_ec.value(), "kube-api: mkdir " + sa + ": " + fs_ec.message());
  const std::string kubeconfig = kubeconfig_locked();
  for (const auto& [path, text, mode] : {std::tuple<std::string, std::string, mode_t>{dir + "/token", token, 0600},
                                         {sa + "/token", token, 0600},
                                         {sa + "/ca.crt", pki.ca_pem, 0644},
                                         {sa + "/namespace", "sluice-system", 0644},
                                         {dir + "/kubeconfig", kubeconfig, 0600}}) {
    if (Status s = write_file_atomic(path, text, mode); !s) return s;
  }
  return {};
}

Result<std::unique_ptr<KubeApiServer>> KubeApiServer::start(KubeApiOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& s = *impl;
  s.token = s.options.token;
  s.port = s.options.port;
  if (s.options.dir.empty()) {
    char tmpl[] = "/tmp/sluice-kube-api.XXXXXX";
    if (!mkdtemp(tmpl)) return make_error(-errno, "kube-api: mkdtemp");
    s.dir = tmpl;
    s.own_dir = true;
  } else {
    s.dir = s.options.dir;
    std::error_code fs_ec;
    std::filesystem::create_directories(s.dir, fs_ec);
    if (fs_ec) return make_error(-fs_ec.value(), "kube-api: mkdir " + s.dir + ": " + fs_ec.message());
  }
  auto pki = make_kube_api_pki(s.dir);
  if (!pki) return pki.error();
  s.pki = std::move(*pki);

  beast::error_code ec;
  s.tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  s.tls.use_certificate_chain(asio::buffer(s.pki.cert_pem), ec);
  if (!ec) s.tls.use_private_key(asio::buffer(s.pki.key_pem), ssl::context::pem, ec);
  if (!ec) s.tls.add_certificate_authority(asio::buffer(s.pki.ca_pem), ec);
  if (ec) return make_error(-EPROTO, "kube-api: TLS context: " + ec.message());
  // Ask for a client certificate, and refuse only one that does not verify:
  // the apiserver's "verify if given".
  s.tls.set_verify_mode(ssl::verify_peer);
  static const unsigned char kSessionContext[] = "sluice-kube-api";
  SSL_CTX_set_session_id_context(s.tls.native_handle(), kSessionContext, sizeof kSessionContext - 1);
  // Only HTTP/1.1 is spoken: pick it when a client offers ALPN.
  SSL_CTX_set_alpn_select_cb(
      s.tls.native_handle(),
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen, void*) {
        static const unsigned char kHttp11[] = "\x08http/1.1";
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
          return SSL_TLSEXT_ERR_NOACK;
        }
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);

  if (Status st = s.listen(); !st) return st.error();
  if (s.options.bookmark_interval.count() > 0) asio::co_spawn(s.ioc, s.bookmark_loop(), asio::detached);
  s.running = true;
  s.thread = std::thread([&ioc = s.ioc] { ioc.run(); });
  pthread_setname_np(s.thread.native_handle(), "kube-api");
  return std::unique_ptr<KubeApiServer>(new KubeApiServer(std::move(impl)));
}

KubeApiServer::KubeApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KubeApiServer::~KubeApiServer() { stop(); }

void KubeApiServer::stop() {
  Impl& s = *impl_;
  if (!s.running) return;
  s.on_io([&] {
    s.close_everything();
    s.up_timer.cancel();
    s.bookmark_timer.cancel();
  });
  s.ioc.stop();
  s.thread.join();
  s.running = false;
  if (s.own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(s.dir, ec);
  }
}

uint16_t KubeApiServer::port() const { return impl_->port; }
std::string KubeApiServer::url() const { return "https://127.0.0.1:" + std::to_string(impl_->port); }
const std::string& KubeApiServer::dir() const { return impl_->dir; }
std::string KubeApiServer::ca_path() const { return impl_->dir + "/ca.pem"; }
const std::string& KubeApiServer::ca_pem() const { return impl_->pki.ca_pem; }

std::string KubeApiServer::token() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->token;
}

std::string KubeApiServer::kubeconfig() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->kubeconfig_locked();
}

Status KubeApiServer::write_client_files() {
  std::lock_guard lock(impl_->mutex);
  impl_->client_files = true;
  return impl_->write_client_files_locked();
}

Result<std::pair<std::string, std::string>> KubeApiServer::client_certificate(const std::string& user,
                                                                              const std::string& group) const {
  return issue_client_cert(impl_->pki, user, group);
}

Result<uint64_t> KubeApiServer::apply(std::string_view text) {
  auto drafts = parse_kube_objects(text, impl_->store.types());
  if (!drafts) return drafts.error();
  return impl_->store.apply(std::move(*drafts));
}

Result<uint64_t> KubeApiServer::remove(std::string_view text) {
  auto drafts = parse_kube_objects(text, impl_->store.types());
  if (!drafts) return drafts.error();
  std::vector<std::pair<const KubeResourceType*, std::string>> keys;
  keys.reserve(drafts->size());
  for (const ObjectDraft& d : *drafts) keys.emplace_back(d.type, d.key());
  return impl_->store.remove(keys).first;
}

namespace {
const KubeResourceType* type_by_plural(const std::vector<KubeResourceType>& types, std::string_view plural) {
  for (const KubeResourceType& t : types) {
    if (t.plural == plural) return &t;
  }
  return nullptr;
}
}  // namespace

Result<uint64_t> KubeApiServer::remove(std::string_view plural, std::string_view ns, std::string_view name) {
  const KubeResourceType* type = type_by_plural(impl_->store.types(), plural);
  if (!type) return make_error(-EINVAL, "kube-api: no resource \"" + std::string(plural) + "\"");
  std::string key = type->namespaced ? std::string(ns.empty() ? "default" : ns) + "/" + std::string(name) : std::string(name);
  auto [rv, removed] = impl_->store.remove({{type, key}});
  if (removed == 0) return make_error(-ENOENT, "kube-api: " + std::string(plural) + " \"" + key + "\" not found");
  return rv;
}

uint64_t KubeApiServer::resource_version() const { return impl_->store.resource_version(); }

size_t KubeApiServer::count(std::string_view plural) const {
  const KubeResourceType* type = type_by_plural(impl_->store.types(), plural);
  return type ? impl_->store.count(type) : 0;
}

std::optional<std::string> KubeApiServer::get(std::string_view plural, std::string_view ns, std::string_view name) const {
  const KubeResourceType* type = type_by_plural(impl_->store.types(), plural);
  if (!type) return std::nullopt;
  std::string key = type->namespaced ? std::string(ns.empty() ? "default" : ns) + "/" + std::string(name) : std::string(name);
  auto obj = impl_->store.get(type, key);
  if (!obj) return std::nullopt;
  std::string out;
  obj->append_full(out, type->api_version(type->versions.front()), obj->rv);
  return out;
}

void KubeApiServer::compact() { impl_->store.compact(); }
void KubeApiServer::bookmark() { impl_->store.bookmark(); }
size_t KubeApiServer::drop_watches() { return impl_->store.drop_watches(); }
size_t KubeApiServer::open_watches() const { return impl_->store.open_watches(); }

void KubeApiServer::set_watch_chunk_bytes(size_t n) {
  std::lock_guard lock(impl_->mutex);
  impl_->watch_chunk_bytes = n;
}

void KubeApiServer::set_max_page_size(size_t n) {
  std::lock_guard lock(impl_->mutex);
  impl_->max_page = n;
}

void KubeApiServer::go_down(std::chrono::milliseconds duration) {
  Impl& s = *impl_;
  s.on_io([&] {
    {
      std::lock_guard lock(s.mutex);
      s.down = true;
    }
    s.close_everything();
    s.up_timer.cancel();
    if (duration.count() > 0) {
      s.up_timer.expires_after(duration);
      s.up_timer.async_wait([&s](beast::error_code ec) {
        if (!ec) s.come_up_on_io();
      });
    }
  });
}

void KubeApiServer::come_up() {
  Impl& s = *impl_;
  s.on_io([&] {
    s.up_timer.cancel();
    s.come_up_on_io();
  });
}

bool KubeApiServer::is_down() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->down;
}

void KubeApiServer::set_token(std::string token, std::chrono::seconds grace) {
  std::lock_guard lock(impl_->mutex);
  Impl& s = *impl_;
  if (grace.count() > 0) {
    s.old_token = s.token;
    s.old_token_until = Clock::now() + grace;
  } else {
    s.old_token.clear();
  }
  s.token = std::move(token);
  if (s.client_files) (void)s.write_client_files_locked();
}

void KubeApiServer::forbid(std::string_view plural, bool forbidden) {
  std::lock_guard lock(impl_->mutex);
  if (forbidden) {
    impl_->forbidden.emplace(plural);
  } else if (auto it = impl_->forbidden.find(plural); it != impl_->forbidden.end()) {
    impl_->forbidden.erase(it);
  }
}

uint64_t KubeApiServer::requests(std::string_view verb, std::string_view path) const {
  std::string key(verb);
  key += ' ';
  key += path;
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->counts.find(key);
  return it == impl_->counts.end() ? 0 : it->second;
}

std::map<std::string, uint64_t> KubeApiServer::request_counts() const {
  std::lock_guard lock(impl_->mutex);
  return {impl_->counts.begin(), impl_->counts.end()};
}

uint64_t KubeApiServer::responses(int status) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->statuses.find(status);
  return it == impl_->statuses.end() ? 0 : it->second;
}

void KubeApiServer::reset_counts() {
  std::lock_guard lock(impl_->mutex);
  impl_->counts.clear();
  impl_->statuses.clear();
}

std::string KubeApiServer::stats_json() const {
  const Impl& s = *impl_;
  JsonWriter w;
  w.begin_object();
  w.key("resourceVersion").value(std::to_string(s.store.resource_version()));
  w.key("openWatches").value(static_cast<uint64_t>(s.store.open_watches()));
  w.key("objects").begin_object();
  for (const KubeResourceType& t : s.store.types()) w.key(t.plural).value(static_cast<uint64_t>(s.store.count(&t)));
  w.end_object();
  std::lock_guard lock(s.mutex);
  w.key("port").value(s.port.load());
  w.key("down").value(s.down);
  w.key("requests").begin_object();
  for (const auto& [k, n] : s.counts) w.key(k).value(n);
  w.end_object();
  w.key("responses").begin_object();
  for (const auto& [code, n] : s.statuses) w.key(std::to_string(code)).value(n);
  w.end_object();
  w.end_object();
  return std::move(w).str();
}

}  // namespace sluice::testing
