#include "object_reader.h"

namespace sluice::config {

// sluice.io/socket-redirect (kSocketRedirectAnnotation) and any later sluice.io/ key.
bool kept_annotation(std::string_view key) { return key.starts_with("sluice.io/"); }

}  // namespace sluice::config
