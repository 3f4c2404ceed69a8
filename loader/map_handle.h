// Typed access to a BPF map by fd. The handle does not own the fd: the
// skeleton (or an adopted pin) does.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

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

  // For a map of maps (V is the inner map's fd on update): fills a new BPF
  // array named inner_name with `items` and stores it under key. The outer
  // update is the atomic switch: lookups see the old table or the complete
  // new one, never a half-written one.
  template <class Item>
  Status install_array(const K& key, const std::vector<Item>& items, const char* inner_name) {
    if (items.empty()) return make_error(-EINVAL, std::string("empty ") + inner_name);
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
    int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, inner_name, sizeof(uint32_t), sizeof(Item),
                               static_cast<uint32_t>(items.size()), &opts);
    if (inner < 0) return make_error(-errno, std::string("create ") + inner_name);
    std::vector<uint32_t> keys(items.size());
    for (uint32_t i = 0; i < keys.size(); ++i) keys[i] = i;
    uint32_t count = static_cast<uint32_t>(items.size());
    int err = bpf_map_update_batch(inner, keys.data(), items.data(), &count, nullptr) == 0 ? 0 : -errno;
    const V fd = static_cast<V>(inner);
    if (err == 0) err = bpf_map_update_elem(fd_, &key, &fd, BPF_ANY) == 0 ? 0 : -errno;
    ::close(inner);
    if (err) return make_error(err, "install " + std::string(inner_name) + " in " + name_);
    return {};
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

  // Sets every CPU's value of index to V{}.
  Status reset(unsigned index) {
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return make_error(cpus, "count CPUs");
    std::vector<V> zero(static_cast<size_t>(cpus));
    if (bpf_map_update_elem(fd_, &index, zero.data(), BPF_ANY) != 0) return make_error(-errno, "reset " + name_);
    return {};
  }

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

// A per-CPU hash map: each key holds one V per possible CPU, which the
// reader combines.
template <class K, class V>
class PerCpuHashHandle {
 public:
  PerCpuHashHandle() = default;
  PerCpuHashHandle(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  int fd() const { return fd_; }

  // Calls fn(key, values) for every entry, values holding one V per CPU.
  // As with any BPF hash walk, entries added or evicted meanwhile may or
  // may not be seen.
  template <class Fn>
  void for_each(Fn&& fn) const {
    if (fd_ < 0) return;
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return;
    std::vector<V> values(static_cast<size_t>(cpus));
    K key{};
    K next{};
    const K* prev = nullptr;
    while (bpf_map_get_next_key(fd_, prev, &next) == 0) {
      if (bpf_map_lookup_elem(fd_, &next, values.data()) == 0) fn(next, static_cast<const std::vector<V>&>(values));
      key = next;
      prev = &key;
    }
  }

 private:
  int fd_ = -1;
  std::string name_;
};

}  // namespace sluice
