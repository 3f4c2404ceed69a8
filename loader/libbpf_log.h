// Captures libbpf's messages (including the verifier log it prints when a
// program is rejected) while a load runs, so they can go into an Error
// instead of stderr.
#pragma once

#include <string>

#include "result.h"

namespace sluice {

class LibbpfLogCapture {
 public:
  LibbpfLogCapture();
  ~LibbpfLogCapture();
  LibbpfLogCapture(const LibbpfLogCapture&) = delete;
  LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

  // Everything libbpf printed since construction, trimmed to the last
  // kMaxLogBytes so a huge verifier log stays readable.
  std::string text() const;

  // `e` with the captured text as its verifier log.
  Error with(Error e) const {
    e.verifier_log = text();
    return e;
  }

  static constexpr size_t kMaxLogBytes = 64 * 1024;
};

}  // namespace sluice
