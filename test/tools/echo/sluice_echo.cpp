// sluice-echo: an HTTP/1.1 and WebSocket echo backend for tests, benchmarks
// and the demo (see echo_server.h for the per-request controls).
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <unistd.h>

#include <cstdio>

#include "echo_server.h"
#include "stop_signals.h"

int main(int argc, char** argv) {
  sluice::EchoOptions o;
  CLI::App app{
      "sluice-echo: an HTTP/1.1 and WebSocket echo backend for tests, benchmarks and the demo"};
  app.add_option("--listen", o.listen, "address:port to listen on; port 0 picks one")
      ->capture_default_str();
  app.add_option("--name", o.name, "pod name in x-echo-pod (default: $POD_NAME, else the hostname)")
      ->envname("POD_NAME");
  app.add_option("--version", o.version, "version in x-echo-version (default: $VERSION, else v1)")
      ->envname("VERSION");
  app.add_option("--threads", o.threads, "worker threads, each with its own SO_REUSEPORT listener")
      ->check(CLI::Range(1u, sluice::EchoServer::kMaxThreads))
      ->capture_default_str();
  app.add_option("--delay-ms", o.delay_ms, "delay before every response")
      ->check(CLI::Range(0u, sluice::EchoServer::kMaxDelayMs))
      ->capture_default_str();
  app.add_option("--status", o.status,
                 "status of every response (default 200); with --fail-percent, of the failed ones "
                 "(default 503)")
      ->check(CLI::Range(200u, 599u));
  app.add_option("--fail-percent", o.fail_percent,
                 "share of requests, 0 to 100, answered with --status")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  app.add_option("--close-after", o.close_after,
                 "close each connection after this many responses (0: never)")
      ->capture_default_str();
  app.add_option("--call", o.calls,
                 "http://host[:port][/path] of a service to call before answering (repeatable); "
                 "x-echo-chain says who answered down the line");
  app.add_flag("--log", o.log, "one line per request on stderr");
  app.add_option("--seed", o.seed, "random seed for --fail-percent (0: random)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.name.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) o.name = host;
  }

  const sigset_t stop_signals = sluice::tools::block_stop_signals();

  auto server = sluice::EchoServer::start(o);
  if (!server) {
    std::fprintf(stderr, "sluice-echo: %s\n", server.error().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "sluice-echo: %s listening on %s (port %u), %u thread(s)\n", o.name.c_str(),
               o.listen.c_str(), (*server)->port(), o.threads);

  const int signal = sluice::tools::wait_for_stop_signal(stop_signals);
  (*server)->stop();
  std::fprintf(stderr, "sluice-echo: stopped on signal %d after %llu requests\n", signal,
               static_cast<unsigned long long>((*server)->requests()));
  return 0;
}
