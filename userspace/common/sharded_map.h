// An ordered map split into a fixed number of shards by key hash, each
// shard shared between copies until one of them writes to it. Copying the
// map copies a vector of shard pointers, and changing one key copies one
// shard: a snapshot of 10k services that differs from the previous one in a
// single service costs a few dozen entries, not 10k.
//
// Iteration goes shard by shard, each in key order: deterministic for one
// binary, but not sorted overall. Not thread-safe for writers; copies may be
// read from any thread once no one writes to them.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace sluice {

template <class K, class V, class Hash = std::hash<K>, size_t kShards = 256>
class ShardedMap {
 public:
  using Shard = std::map<K, V>;
  static constexpr size_t shard_count = kShards;

  ShardedMap() : shards_(kShards) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  static size_t shard_of(const K& key) { return Hash{}(key) % kShards; }

  const V* get(const K& key) const {
    const auto& s = shards_[shard_of(key)];
    if (!s) return nullptr;
    auto it = s->find(key);
    return it == s->end() ? nullptr : &it->second;
  }
  bool contains(const K& key) const { return get(key) != nullptr; }

  // False (and no change) if the key is there already.
  bool insert(const K& key, V value) {
    auto [it, added] = writable(shard_of(key)).try_emplace(key, std::move(value));
    size_ += added;
    return added;
  }
  void insert_or_assign(const K& key, V value) {
    auto [it, added] = writable(shard_of(key)).insert_or_assign(key, std::move(value));
    size_ += added;
  }
  bool erase(const K& key) {
    const size_t i = shard_of(key);
    if (!shards_[i] || !shards_[i]->count(key)) return false;
    writable(i).erase(key);
    --size_;
    return true;
  }

  // Null for a shard that never held anything. Two maps that share a shard
  // pointer hold the same entries there.
  const Shard* shard(size_t i) const { return shards_[i].get(); }

  class const_iterator {
   public:
    using value_type = typename Shard::value_type;
    const value_type& operator*() const { return *it_; }
    const value_type* operator->() const { return &*it_; }
    const_iterator& operator++() {
      ++it_;
      settle();
      return *this;
    }
    bool operator==(const const_iterator& o) const { return shard_ == o.shard_ && (shard_ == kShards || it_ == o.it_); }

   private:
    friend class ShardedMap;
    const_iterator(const ShardedMap* m, size_t shard) : m_(m), shard_(shard) {
      if (shard_ < kShards && m_->shards_[shard_]) it_ = m_->shards_[shard_]->begin();
      settle();
    }
    // Moves past the end of empty or finished shards.
    void settle() {
      while (shard_ < kShards && (!m_->shards_[shard_] || it_ == m_->shards_[shard_]->end())) {
        if (++shard_ < kShards && m_->shards_[shard_]) it_ = m_->shards_[shard_]->begin();
      }
    }
    const ShardedMap* m_;
    size_t shard_;
    typename Shard::const_iterator it_{};
  };
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, kShards); }

 private:
  // Copy on write: a shard another map still holds is copied first.
  Shard& writable(size_t i) {
    auto& s = shards_[i];
    if (!s) {
      s = std::make_shared<Shard>();
    } else if (s.use_count() > 1) {
      s = std::make_shared<Shard>(*s);
    }
    return *s;
  }

  std::vector<std::shared_ptr<Shard>> shards_;
  size_t size_ = 0;
};

}  // namespace sluice
