#include "maglev.h"

#include <algorithm>

#include "lb_select.h"

namespace sluice {

namespace {

// Two independent hashes of the identity give each backend its permutation:
// position(j) = (offset + j * skip) mod size. skip is never 0, and size is
// prime, so the permutation visits every position.
struct Permutation {
  uint64_t offset;
  uint64_t skip;
  uint64_t next = 0;
  uint64_t credit = 0;
};

constexpr uint64_t kOffsetSalt = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSkipSalt = 0xc2b2ae3d27d4eb4fULL;

}  // namespace

std::vector<uint32_t> build_maglev_table(const std::vector<MaglevEntry>& entries, uint32_t size) {
  if (entries.empty() || size == 0) return {};
  constexpr uint32_t kEmpty = 0xffffffffu;
  std::vector<uint32_t> table(size, kEmpty);
  std::vector<Permutation> perms;
  perms.reserve(entries.size());
  uint32_t max_weight = 0;
  for (const MaglevEntry& e : entries) {
    perms.push_back({lb4_hash64(e.identity ^ kOffsetSalt) % size,
                     size > 1 ? lb4_hash64(e.identity ^ kSkipSalt) % (size - 1) + 1 : 1});
    max_weight = std::max(max_weight, e.weight);
  }
  if (max_weight == 0) return {};

  // Every round, each backend earns its weight in credit and claims one
  // position per max_weight of credit: the heaviest backend claims one per
  // round, a backend of half its weight one every other round.
  uint32_t filled = 0;
  while (filled < size) {
    for (size_t i = 0; i < entries.size() && filled < size; ++i) {
      Permutation& p = perms[i];
      p.credit += entries[i].weight;
      if (p.credit < max_weight) continue;
      p.credit -= max_weight;
      uint64_t pos = (p.offset + p.next * p.skip) % size;
      while (table[pos] != kEmpty) {
        ++p.next;
        pos = (p.offset + p.next * p.skip) % size;
      }
      table[pos] = entries[i].value;
      ++p.next;
      ++filled;
    }
  }
  return table;
}

}  // namespace sluice
