#include "dns_resolver.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace sluice::policy {

namespace {

std::once_flag g_ares_init;

}  // namespace

Result<std::unique_ptr<DnsResolver>> DnsResolver::start(const std::string& server) {
  std::call_once(g_ares_init, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  std::unique_ptr<DnsResolver> r(new DnsResolver());
  ares_options opts{};
  opts.timeout = 2000;  // ms per try
  opts.tries = 2;
  if (int rc = ares_init_options(&r->channel_, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES); rc != ARES_SUCCESS) {
    return make_error(-EINVAL, std::string("c-ares init: ") + ares_strerror(rc));
  }
  if (!server.empty()) {
    if (int rc = ares_set_servers_ports_csv(r->channel_, server.c_str()); rc != ARES_SUCCESS) {
      return make_error(-EINVAL, "--dns-server " + server + ": " + ares_strerror(rc));
    }
  }
  return r;
}

DnsResolver::~DnsResolver() {
  // Cancels what is in flight: each callback runs once more, with
  // ARES_EDESTRUCTION, and frees its Pending.
  if (channel_) ares_destroy(channel_);
}

void DnsResolver::want(const std::set<std::string>& hosts) {
  for (auto it = answers_.begin(); it != answers_.end();) {
    if (!hosts.contains(it->first) && !it->second.in_flight) {
      changed_ = changed_ || !it->second.addresses.empty();
      it = answers_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& h : hosts) answers_.try_emplace(h);
}

void DnsResolver::ask(const std::string& host) {
  answers_[host].in_flight = true;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_INET;
  hints.ai_flags = ARES_AI_NOSORT;
  ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &DnsResolver::on_answer, new Pending{this, host});
}

void DnsResolver::on_answer(void* arg, int status, int, ares_addrinfo* result) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(arg));
  if (status == ARES_EDESTRUCTION) return;  // the resolver is going away
  DnsResolver& self = *p->self;
  auto it = self.answers_.find(p->host);
  if (it == self.answers_.end()) {
    if (result) ares_freeaddrinfo(result);
    return;
  }
  Answer& a = it->second;
  a.in_flight = false;
  const auto now = Clock::now();
  if (status != ARES_SUCCESS || !result) {
    a.error = ares_strerror(status);
    a.refresh = now + kRetry;
    if (result) ares_freeaddrinfo(result);
    return;
  }
  std::vector<uint32_t> addresses;
  int ttl = static_cast<int>(kMaxRefresh.count());
  for (ares_addrinfo_node* n = result->nodes; n; n = n->ai_next) {
    if (n->ai_family != AF_INET || !n->ai_addr) continue;
    addresses.push_back(ntohl(reinterpret_cast<const sockaddr_in*>(n->ai_addr)->sin_addr.s_addr));
    ttl = std::min(ttl, n->ai_ttl);
  }
  ares_freeaddrinfo(result);
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  a.error.clear();
  a.refresh = now + std::clamp(std::chrono::seconds(ttl), kMinRefresh, kMaxRefresh);
  if (addresses != a.addresses) {
    a.addresses = std::move(addresses);
    self.changed_ = true;
  }
}

bool DnsResolver::poll(Clock::time_point now) {
  for (auto& [host, a] : answers_) {
    if (!a.in_flight && a.refresh <= now) ask(host);
  }
  // Whatever is readable or writable now, and the timeouts that are due.
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  const int mask = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
  pollfd fds[ARES_GETSOCK_MAXNUM];
  int n = 0;
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    short events = 0;
    if (ARES_GETSOCK_READABLE(mask, i)) events |= POLLIN;
    if (ARES_GETSOCK_WRITABLE(mask, i)) events |= POLLOUT;
    if (events) fds[n++] = {socks[i], events, 0};
  }
  if (n > 0 && ::poll(fds, static_cast<nfds_t>(n), 0) > 0) {
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      ares_process_fd(channel_, (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
                      (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
  const bool out = changed_;
  changed_ = false;
  return out;
}

}  // namespace sluice::policy
