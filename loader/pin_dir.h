// Pin directories live on bpffs. These helpers create and remove them.
#pragma once

#include <string>

#include "result.h"

namespace sluice {

// mkdir -p of dir, which must be on a bpf file system.
Status ensure_bpffs_dir(const std::string& dir);

// Removes dir and everything under it (unpinning what is pinned there).
Status remove_tree(const std::string& dir);

bool path_exists(const std::string& path);

}  // namespace sluice
