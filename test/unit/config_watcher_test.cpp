#include "config_watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "temp_dir.h"

namespace sluice::config {
namespace {

namespace fs = std::filesystem;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kDebounce = 100ms;
constexpr auto kWait = 2s;  // generous: CI machines stall

using TempDir = sluice::test::TempDir;

void write_file(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

// A mounted ConfigMap holding mesh.yaml: mesh.yaml -> ..data/mesh.yaml,
// ..data -> ..v1.
void make_config_map(const fs::path& root) {
  fs::create_directory(root / "..v1");
  write_file(root / "..v1" / "mesh.yaml", "version: 1\n");
  fs::create_directory_symlink("..v1", root / "..data");
  fs::create_symlink("..data/mesh.yaml", root / "mesh.yaml");
}

// Kubelet's update: a new version directory, then ..data renamed over.
void swap_config_map(const fs::path& root, const std::string& version) {
  fs::create_directory(root / version);
  write_file(root / version / "mesh.yaml", "version: 2\n");
  fs::create_directory_symlink(version, root / "..data_tmp");
  fs::rename(root / "..data_tmp", root / "..data");
}

// Counts on_change calls and lets the test wait for them.
class Counter {
 public:
  std::function<void()> callback() {
    return [this] {
      std::lock_guard lock(mu_);
      ++count_;
      cv_.notify_all();
    };
  }

  // Waits for at least n calls; then, so that a second, spurious call would
  // be seen, waits a few debounce periods more and returns the final count.
  int settle(int n = 1) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kWait, [&] { return count_ >= n; });
    lock.unlock();
    std::this_thread::sleep_for(kDebounce * 4);
    lock.lock();
    return count_;
  }

  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

std::unique_ptr<ConfigWatcher> watch(const std::vector<std::string>& paths, Counter& counter) {
  auto w = ConfigWatcher::start(paths, kDebounce, counter.callback());
  if (!w) ADD_FAILURE() << w.error().to_string();
  return w ? std::move(*w) : nullptr;
}

TEST(ConfigWatcher, WritingAFileInTheDirectoryCallsOnce) {
  TempDir dir;
  Counter counter;
  auto w = watch({dir.path()}, counter);
  ASSERT_TRUE(w);
  write_file(dir.path() / "mesh.yaml", "a: 1\n");
  EXPECT_EQ(counter.settle(), 1);
}

TEST(ConfigWatcher, ABurstOfWritesIsOneCall) {
  TempDir dir;
  Counter counter;
  auto w = watch({dir.path()}, counter);
  ASSERT_TRUE(w);
  for (int i = 0; i < 20; ++i)
    write_file(dir.path() / ("f" + std::to_string(i % 3) + ".yaml"), std::to_string(i));
  EXPECT_EQ(counter.settle(), 1);

  // A later, separate change is a separate call.
  write_file(dir.path() / "f0.yaml", "again");
  EXPECT_EQ(counter.settle(2), 2);
}

// What kubelet does to a mounted ConfigMap (atomic_writer.go), step by step.
TEST(ConfigWatcher, ConfigMapDataSymlinkSwapIsOneCall) {
  TempDir dir;
  const fs::path& root = dir.path();
  const std::string old_ts = "..2026_11_24_10_00_00.000000001";
  const std::string new_ts = "..2026_11_24_10_05_00.000000002";
  fs::create_directory(root / old_ts);
  write_file(root / old_ts / "mesh.yaml", "version: 1\n");
  write_file(root / old_ts / "services.yaml", "version: 1\n");
  fs::create_directory_symlink(old_ts, root / "..data");
  fs::create_symlink("..data/mesh.yaml", root / "mesh.yaml");
  fs::create_symlink("..data/services.yaml", root / "services.yaml");

  Counter counter;
  auto w = watch({root}, counter);
  ASSERT_TRUE(w);

  fs::create_directory(root / new_ts);
  write_file(root / new_ts / "mesh.yaml", "version: 2\n");
  write_file(root / new_ts / "services.yaml", "version: 2\n");
  fs::create_directory_symlink(new_ts, root / "..data_tmp");
  fs::rename(root / "..data_tmp", root / "..data");  // IN_MOVED_TO ..data
  fs::remove_all(root / old_ts);

  EXPECT_EQ(counter.settle(), 1);
  std::ifstream in(root / "mesh.yaml");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "version: 2");
}

TEST(ConfigWatcher, ConfigMapSwapIsSeenThroughAWatchedFileSymlink) {
  TempDir dir;
  const fs::path& root = dir.path();
  make_config_map(root);

  Counter counter;
  auto w = watch({(root / "mesh.yaml").string()}, counter);
  ASSERT_TRUE(w);

  // The watched name itself never changes; only ..data does.
  swap_config_map(root, "..v2");
  fs::remove_all(root / "..v1");
  EXPECT_EQ(counter.settle(), 1);
}

// The swap is atomic, so it is not debounced: with a debounce of an hour,
// the swap still reloads, and a plain write still waits.
TEST(ConfigWatcher, ConfigMapSwapSkipsTheDebounce) {
  TempDir dir;
  const fs::path& root = dir.path();
  make_config_map(root);

  Counter counter;
  auto w = ConfigWatcher::start({root.string()}, std::chrono::hours(1), counter.callback());
  ASSERT_TRUE(w) << w.error().to_string();

  write_file(root / "other.yaml", "x");  // debounced for an hour
  swap_config_map(root, "..v2");
  EXPECT_EQ(counter.settle(), 1);
}

TEST(ConfigWatcher, NewSubdirectoriesAreWatchedToo) {
  TempDir dir;
  Counter counter;
  auto w = watch({dir.path()}, counter);
  ASSERT_TRUE(w);

  fs::create_directories(dir.path() / "team-a" / "prod");
  write_file(dir.path() / "team-a" / "prod" / "vs.yaml", "x");
  EXPECT_EQ(counter.settle(), 1);

  // Written well after the directory appeared: only its own watch sees this.
  write_file(dir.path() / "team-a" / "prod" / "vs.yaml", "y");
  EXPECT_EQ(counter.settle(2), 2);
}

TEST(ConfigWatcher, ExistingSubdirectoriesAreWatched) {
  TempDir dir;
  fs::create_directories(dir.path() / "a" / "b");
  Counter counter;
  auto w = watch({dir.path()}, counter);
  ASSERT_TRUE(w);
  write_file(dir.path() / "a" / "b" / "deep.yaml", "x");
  EXPECT_EQ(counter.settle(), 1);
}

TEST(ConfigWatcher, AWatchedFileReplacedByRenameCalls) {
  TempDir dir;
  fs::path file = dir.path() / "mesh.yaml";
  write_file(file, "v1");
  Counter counter;
  auto w = watch({file.string()}, counter);
  ASSERT_TRUE(w);

  // The editor / `kubectl cp` way: write elsewhere, rename over.
  write_file(dir.path() / ".mesh.yaml.swp", "v2");
  fs::rename(dir.path() / ".mesh.yaml.swp", file);
  EXPECT_EQ(counter.settle(), 1);

  // An in-place write counts too.
  write_file(file, "v3");
  EXPECT_EQ(counter.settle(2), 2);
}

TEST(ConfigWatcher, SiblingsOfAWatchedFileAreIgnored) {
  TempDir dir;
  fs::path file = dir.path() / "mesh.yaml";
  write_file(file, "v1");
  Counter counter;
  auto w = watch({file.string()}, counter);
  ASSERT_TRUE(w);
  write_file(dir.path() / "other.yaml", "x");
  fs::create_directory(dir.path() / "sub");
  std::this_thread::sleep_for(kDebounce * 4);
  EXPECT_EQ(counter.count(), 0);
}

TEST(ConfigWatcher, AWatchedFileMayNotExistYet) {
  TempDir dir;
  Counter counter;
  auto w = watch({(dir.path() / "later.yaml").string()}, counter);
  ASSERT_TRUE(w);
  write_file(dir.path() / "later.yaml", "x");
  EXPECT_EQ(counter.settle(), 1);
}

TEST(ConfigWatcher, MissingParentDirectoryIsAnError) {
  TempDir dir;
  auto w = ConfigWatcher::start({(dir.path() / "no" / "such.yaml").string()}, kDebounce, [] {});
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, -ENOENT);
  EXPECT_NE(w.error().message.find(dir.path().string()), std::string::npos) << w.error().message;
}

TEST(ConfigWatcher, StopReturnsPromptlyAndDropsAPendingChange) {
  TempDir dir;
  Counter counter;
  auto w = ConfigWatcher::start({dir.path()}, 10s, counter.callback());
  ASSERT_TRUE(w) << w.error().to_string();
  write_file(dir.path() / "mesh.yaml", "x");
  std::this_thread::sleep_for(50ms);  // the event is read; on_change is 10 s away

  auto begin = Clock::now();
  (*w)->stop();
  EXPECT_LT(Clock::now() - begin, 500ms);
  (*w)->stop();  // idempotent
  EXPECT_EQ(counter.count(), 0);
}

TEST(ConfigWatcher, DestructorStopsAnIdleWatcher) {
  TempDir dir;
  auto begin = Clock::now();
  {
    Counter counter;
    auto w = watch({dir.path()}, counter);
    ASSERT_TRUE(w);
  }
  EXPECT_LT(Clock::now() - begin, 500ms);
}

}  // namespace
}  // namespace sluice::config
