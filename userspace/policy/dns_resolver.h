// The addresses of ServiceEntry hosts with `resolution: DNS` (or
// DNS_ROUND_ROBIN), kept fresh by their records' TTLs (docs/egress.md,
// "DNS"). c-ares (Debian's libc-ares) asks; nothing blocks: poll() is called
// from the daemon's main loop, sends what is due, reads what has arrived,
// and says whether any host's addresses changed.
//
// A host is asked again when its shortest TTL runs out (at least every
// kMinRefresh, at most every kMaxRefresh). An answer that fails keeps the
// addresses known before (a resolver hiccup must not cut the traffic off)
// and is asked again in kRetry.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "result.h"

struct ares_channeldata;
struct ares_addrinfo;

namespace sluice::policy {

class DnsResolver {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kMinRefresh{1};
  static constexpr std::chrono::seconds kMaxRefresh{300};
  static constexpr std::chrono::seconds kRetry{5};

  // server: "IP" or "IP:port" to ask; empty: the system's (/etc/resolv.conf).
  static Result<std::unique_ptr<DnsResolver>> start(const std::string& server);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // The hosts to keep resolved; the others are forgotten.
  void want(const std::set<std::string>& hosts);
  // Sends the questions that are due and handles the answers that arrived;
  // true when some host's addresses changed since the last call.
  bool poll(Clock::time_point now);

  struct Answer {
    std::vector<uint32_t> addresses;  // host order, sorted
    Clock::time_point refresh{};      // when to ask again
    bool in_flight = false;
    std::string error;                // the last failure, while it lasts
  };
  const std::map<std::string, Answer>& answers() const { return answers_; }

 private:
  DnsResolver() = default;
  static void on_answer(void* arg, int status, int timeouts, ::ares_addrinfo* result);
  void ask(const std::string& host);

  ares_channeldata* channel_ = nullptr;
  std::map<std::string, Answer> answers_;
  bool changed_ = false;
  // on_answer's view of which host a callback is for.
  struct Pending {
    DnsResolver* self;
    std::string host;
  };
};

}  // namespace sluice::policy
