// sluice-bench-bpf-stats: how much CPU time the BPF programs behind some
// pinned links spend while one command runs.
//
//   sluice-bench-bpf-stats --link PINNED_LINK [--link ...] -- CMD [ARGS...]
//
// Turns on the kernel's BPF run-time accounting (BPF_ENABLE_STATS) for the
// duration of CMD only: the accounting is reference counted and goes off again
// when this process exits and its stats fd closes. It is system wide while on
// and adds two clock reads per program run, so use it to split costs, not for
// headline latencies. CMD's stdout/stderr pass through; afterwards one line
// per program goes to stdout:
//   bpf: prog=<name> id=<id> runs=<delta run_cnt> run_time_ns=<delta> ns_per_run=<x>
// Exit status: CMD's, or 1 if a link or program cannot be read.
//
// Raw bpf(2) through the kernel UAPI header; no libbpf.
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

long sys_bpf(int cmd, bpf_attr& attr) {
  return syscall(__NR_bpf, cmd, &attr, sizeof(attr));
}

struct Prog {
  std::string link;
  int fd = -1;
  uint32_t id = 0;
  std::string name;
  uint64_t runs = 0;
  uint64_t ns = 0;
};

int obj_get(const std::string& path) {
  bpf_attr a{};
  a.pathname = reinterpret_cast<uintptr_t>(path.c_str());
  return static_cast<int>(sys_bpf(BPF_OBJ_GET, a));
}

template <class Info>
bool info_by_fd(int fd, Info& info) {
  info = {};
  bpf_attr a{};
  a.info.bpf_fd = static_cast<uint32_t>(fd);
  a.info.info_len = sizeof(info);
  a.info.info = reinterpret_cast<uintptr_t>(&info);
  return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, a) == 0;
}

bool open_prog(Prog& p) {
  int link_fd = obj_get(p.link);
  if (link_fd < 0) {
    std::fprintf(stderr, "sluice-bench-bpf-stats: %s: %s\n", p.link.c_str(), std::strerror(errno));
    return false;
  }
  bpf_link_info li;
  bool ok = info_by_fd(link_fd, li);
  close(link_fd);
  if (!ok) {
    std::fprintf(stderr, "sluice-bench-bpf-stats: link info of %s: %s\n", p.link.c_str(),
                 std::strerror(errno));
    return false;
  }
  bpf_attr a{};
  a.prog_id = li.prog_id;
  p.fd = static_cast<int>(sys_bpf(BPF_PROG_GET_FD_BY_ID, a));
  if (p.fd < 0) {
    std::fprintf(stderr, "sluice-bench-bpf-stats: prog %u: %s\n", li.prog_id, std::strerror(errno));
    return false;
  }
  p.id = li.prog_id;
  return true;
}

bool read_prog(Prog& p) {
  bpf_prog_info pi;
  if (!info_by_fd(p.fd, pi)) return false;
  p.name.assign(pi.name, strnlen(pi.name, sizeof(pi.name)));
  p.runs = pi.run_cnt;
  p.ns = pi.run_time_ns;
  return true;
}

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: sluice-bench-bpf-stats --link PINNED_LINK [--link ...] -- CMD [ARGS...]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Prog> progs;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--link" && i + 1 < argc) {
      Prog p;
      p.link = argv[++i];
      progs.push_back(p);
      continue;
    }
    usage();
  }
  if (progs.empty() || i >= argc) usage();

  for (Prog& p : progs) {
    if (!open_prog(p) || !read_prog(p)) return 1;
  }
  bpf_attr a{};
  a.enable_stats.type = BPF_STATS_RUN_TIME;
  int stats_fd = static_cast<int>(sys_bpf(BPF_ENABLE_STATS, a));
  if (stats_fd < 0) {
    std::fprintf(stderr, "sluice-bench-bpf-stats: BPF_ENABLE_STATS: %s\n", std::strerror(errno));
    return 1;
  }
  std::vector<Prog> before = progs;
  for (Prog& p : before) {
    if (!read_prog(p)) return 1;
  }

  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    close(stats_fd);  // only the parent's fd keeps the accounting on
    for (Prog& p : progs) close(p.fd);
    execvp(argv[i], argv + i);
    std::fprintf(stderr, "sluice-bench-bpf-stats: exec %s: %s\n", argv[i], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      std::perror("waitpid");
      return 1;
    }
  }
  int rc = 0;
  for (size_t k = 0; k < progs.size(); ++k) {
    Prog after = progs[k];
    if (!read_prog(after)) {
      rc = 1;
      continue;
    }
    uint64_t runs = after.runs - before[k].runs;
    uint64_t ns = after.ns - before[k].ns;
    std::printf("bpf: prog=%s id=%u runs=%llu run_time_ns=%llu ns_per_run=%.1f\n", after.name.c_str(),
                after.id, static_cast<unsigned long long>(runs), static_cast<unsigned long long>(ns),
                runs ? static_cast<double>(ns) / static_cast<double>(runs) : 0.0);
  }
  close(stats_fd);
  if (rc) return rc;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
