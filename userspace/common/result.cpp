#include "result.h"

#include <cstring>

namespace sluice {

Error make_error(int code, std::string message) {
  return Error{code, std::move(message), {}};
}

std::string Error::to_string() const {
  std::string s = message;
  if (code != 0) {
    s += ": ";
    s += std::strerror(code < 0 ? -code : code);
    s += " (" + std::to_string(code) + ")";
  }
  if (!verifier_log.empty()) {
    s += "\nverifier log:\n" + verifier_log;
  }
  return s;
}

}  // namespace sluice
