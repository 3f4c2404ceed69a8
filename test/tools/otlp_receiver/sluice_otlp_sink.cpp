// sluice-otlp-sink: the benchmark's OTLP/HTTP receiver (bench/l7.sh). It
// accepts and counts spans on 127.0.0.1:PORT until SIGINT/SIGTERM, then
// prints "spans=N posts=M bad=K".
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "otlp_receiver.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: sluice-otlp-sink PORT\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the receiver's thread starts
  sluice::OtlpReceiver sink(static_cast<uint16_t>(std::atoi(argv[1])), false);
  int sig = 0;
  sigwait(&set, &sig);
  std::printf("spans=%llu posts=%llu bad=%llu\n", static_cast<unsigned long long>(sink.span_count()),
              static_cast<unsigned long long>(sink.posts()), static_cast<unsigned long long>(sink.bad_posts()));
  return 0;
}
