// How full a BPF map is, for sluice_bpf_map_entries/_capacity: a table that
// fills up makes the kernel refuse new services, policies or edges, and the
// operator should see it coming (docs/observability.md).
#pragma once

#include <cstdint>
#include <string>

#include "result.h"

namespace sluice {

struct MapFill {
  std::string name;
  uint32_t entries = 0;
  uint32_t capacity = 0;  // max_entries
};

// Entries are counted by walking the keys (one syscall each, no values
// read); the capacity comes from the kernel's map info. For hash, LRU and
// LPM-trie maps: an array is always full.
Result<MapFill> map_fill(int fd, std::string name);

}  // namespace sluice
