#include "kube_source.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace sluice::kube {

namespace asio = boost::asio;

KubeSource::KubeSource(KubeSourceOptions options, std::function<void()> on_change)
    : server_(options.access.server),
      debounce_(options.debounce),
      on_change_(std::move(on_change)),
      store_(options.types, options.node_name),
      tokens_(options.access),
      debounce_timer_(std::in_place, *ioc_) {}

Result<std::unique_ptr<KubeSource>> KubeSource::start(KubeSourceOptions options, std::function<void()> on_change) {
  auto tls = make_tls_context(options.access);
  if (!tls) return tls.error();
  std::unique_ptr<KubeSource> s(new KubeSource(options, std::move(on_change)));
  for (size_t t = 0; t < options.types.size(); ++t) {
    s->reflectors_.push_back(std::make_unique<Reflector>(*s->ioc_, *tls, options.access, s->tokens_, s->store_, t,
                                                         options.reflector, [raw = s.get()] { raw->changed(); }));
  }
  for (auto& r : s->reflectors_) asio::co_spawn(*s->ioc_, r->run(), asio::detached);
  s->thread_ = std::thread([raw = s.get()] {
    try {
      raw->ioc_->run();
    } catch (const std::exception& e) {
      // Nothing in the client throws by design; if something does, the last
      // state stays in force and the log says why updates stopped.
      spdlog::error("kubernetes client stopped: {}", e.what());
    }
  });
  spdlog::info("kubernetes: watching {} resource types at {}", options.types.size(), options.access.server);
  return s;
}

KubeSource::~KubeSource() { stop(); }

void KubeSource::stop() {
  if (!thread_.joinable()) return;
  for (auto& r : reflectors_) r->stop();
  ioc_->stop();
  thread_.join();
  for (auto& r : reflectors_) r->close();
  debounce_timer_.reset();
  ioc_.reset();
}

void KubeSource::changed() {
  if (debounce_pending_ || !store_.synced()) return;
  debounce_pending_ = true;
  debounce_timer_->expires_after(debounce_);
  debounce_timer_->async_wait([this](const boost::system::error_code&) {
    debounce_pending_ = false;
    on_change_();
  });
}

bool KubeSource::wait_synced(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!synced() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return synced();
}

std::vector<ReflectorStatus> KubeSource::status() const {
  std::vector<ReflectorStatus> out;
  for (const auto& r : reflectors_) out.push_back(r->status());
  return out;
}

}  // namespace sluice::kube
