#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace sluice {
namespace {

std::mutex g_mu;
std::string g_log;
int g_depth = 0;
libbpf_print_fn_t g_previous = nullptr;

int capture_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[4096];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n <= 0) return n;
  std::lock_guard lock(g_mu);
  g_log.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
  if (g_log.size() > 4 * LibbpfLogCapture::kMaxLogBytes) {
    g_log.erase(0, g_log.size() - LibbpfLogCapture::kMaxLogBytes);
  }
  return n;
}

}  // namespace

LibbpfLogCapture::LibbpfLogCapture() {
  std::lock_guard lock(g_mu);
  if (g_depth++ == 0) {
    g_log.clear();
    g_previous = libbpf_set_print(capture_print);
  }
}

LibbpfLogCapture::~LibbpfLogCapture() {
  std::lock_guard lock(g_mu);
  if (--g_depth == 0) libbpf_set_print(g_previous);
}

std::string LibbpfLogCapture::text() const {
  std::lock_guard lock(g_mu);
  if (g_log.size() <= kMaxLogBytes) return g_log;
  return g_log.substr(g_log.size() - kMaxLogBytes);
}

}  // namespace sluice
