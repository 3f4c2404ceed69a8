#include "buffered_line_writer.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace sluice::telemetry {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  Pipe() { EXPECT_EQ(::pipe2(fd, O_CLOEXEC), 0); }
  ~Pipe() {
    ::close(fd[0]);
    if (fd[1] >= 0) ::close(fd[1]);
  }
  // What arrives within `limit`, until `want` bytes came.
  std::string read(size_t want, std::chrono::milliseconds limit) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd[0], POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::read(fd[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  int fd[2] = {-1, -1};
};

TEST(BufferedLineWriter, LinesArriveWholeAndInOrderWithinTheInterval) {
  Pipe p;
  BufferedLineWriter w(p.fd[1], 50ms);
  std::string want;
  for (int i = 0; i < 100; ++i) {
    const std::string line = "{\"n\":" + std::to_string(i) + "}";
    w.write_line(line);
    want += line + "\n";
  }
  EXPECT_EQ(p.read(want.size(), 5s), want);
  EXPECT_EQ(w.dropped(), 0u);
}

TEST(BufferedLineWriter, LinesLongerThanAnAtomicPipeWriteArriveWhole) {
  Pipe p;
  BufferedLineWriter w(p.fd[1], 20ms);
  const std::string lines[] = {std::string(3000, 'a'), std::string(3000, 'b'), std::string(10000, 'c'), "d"};
  std::string want;
  for (const std::string& l : lines) {
    w.write_line(l);
    want += l + "\n";
  }
  EXPECT_EQ(p.read(want.size(), 5s), want);
}

TEST(BufferedLineWriter, PendingLinesAreWrittenWhenItStops) {
  Pipe p;
  {
    BufferedLineWriter w(p.fd[1], 10s);  // the interval never passes here
    w.write_line("last words");
  }
  EXPECT_EQ(p.read(11, 1s), "last words\n");
}

TEST(BufferedLineWriter, AReaderThatStopsReadingNeverBlocksTheWriterAndDropsAreCounted) {
  Pipe p;
  ASSERT_EQ(::fcntl(p.fd[1], F_SETFL, O_NONBLOCK), 0);  // as a full pipe to a stalled log reader
  const std::string line(1000, 'x');
  const size_t lines = 2 * BufferedLineWriter::kMaxPendingBytes / line.size();
  {
    BufferedLineWriter w(p.fd[1], 0ms);
    // Twice the pending limit goes in (a blocked writer would hang here),
    // and what did not fit is counted.
    for (size_t i = 0; i < lines; ++i) w.write_line(line);
    EXPECT_GT(w.dropped(), 0u);
  }  // the stalled descriptor counts as failed after 5 s, and the writer stops
}

}  // namespace
}  // namespace sluice::telemetry
