// Base64 text (Kubernetes Secret data, kubeconfig *-data fields) to bytes,
// with OpenSSL's decoder. Line breaks and spaces in the text are ignored.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// nullopt if the text is not base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace sluice
