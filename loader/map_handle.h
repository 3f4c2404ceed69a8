// Typed access to a BPF map by fd. The handle does not own the fd: the
// skeleton (or an adopted pin) does.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "result.h"

namespace sluice {

template <class K, class V>
class MapHandle {
 public:
  MapHandle() = default;
  MapHandle(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

  std::optional<V> lookup(const K& key) const {
    V value{};
    if (bpf_map_lookup_elem(fd_, &key, &value) != 0) return std::nullopt;
    return value;
  }

  Status update(const K& key, const V& value, unsigned long long flags = BPF_ANY) {
    if (bpf_map_update_elem(fd_, &key, &value, flags) != 0) {
      return make_error(-errno, "update " + name_);
    }
    return {};
  }

  // Removing an absent key is not an error: deletes are idempotent.
  Status erase(const K& key) {
    if (bpf_map_delete_elem(fd_, &key) != 0 && errno != ENOENT) {
      return make_error(-errno, "delete from " + name_);
    }
    return {};
  }

  // Calls fn(key, value) for every entry. Entries added or removed while the
  // walk runs may or may not be seen, as with any BPF hash walk.
  template <class Fn>
  void for_each(Fn&& fn) const {
    K key{};
    K next{};
    const K* prev = nullptr;
    while (bpf_map_get_next_key(fd_, prev, &next) == 0) {
      V value{};
      if (bpf_map_lookup_elem(fd_, &next, &value) == 0) fn(next, value);
      key = next;
      prev = &key;
    }
  }

  std::vector<K> keys() const {
    std::vector<K> out;
    for_each([&](const K& k, const V&) { out.push_back(k); });
    return out;
  }

 private:
  int fd_ = -1;
  std::string name_;
};

// A per-CPU array of V: one value per possible CPU for each index.
template <class V>
class PerCpuArrayHandle {
 public:
  PerCpuArrayHandle() = default;
  PerCpuArrayHandle(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  int fd() const { return fd_; }

  // The values of index summed over CPUs.
  V sum(unsigned index) const {
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return V{};
    std::vector<V> values(static_cast<size_t>(cpus));
    if (bpf_map_lookup_elem(fd_, &index, values.data()) != 0) return V{};
    V total{};
    for (const V& v : values) total += v;
    return total;
  }

 private:
  int fd_ = -1;
  std::string name_;
};

}  // namespace sluice
