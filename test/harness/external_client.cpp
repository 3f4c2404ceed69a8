#include "external_client.h"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sluice::test {

int run_quietly(const std::string& cmd) {
  const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string run_capture(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    if (status) *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

ExternalLink add_external_client(NodeSim& node, const std::string& node_ip, const std::string& client_ip) {
  ExternalLink link{node.prefix() + "-ext", node_ip, client_ip};
  const std::string n = node.node_ns(), e = link.ns;
  const std::vector<std::string> steps = {
      "ip netns add " + e,
      "ip -n " + e + " link set lo up",
      "ip -n " + n + " link add ext0 type veth peer name eth0 netns " + e,
      "ip -n " + n + " addr add " + node_ip + "/24 dev ext0",
      "ip -n " + n + " link set ext0 up",
      "ip -n " + e + " addr add " + client_ip + "/24 dev eth0",
      "ip -n " + e + " link set eth0 up",
  };
  for (const std::string& s : steps) {
    if (run_quietly(s) != 0) throw std::runtime_error("external client: " + s);
  }
  for (int i = 0; i < 100; ++i) {
    if (run_quietly("ip -n " + e + " link show eth0 | grep -q LOWER_UP") == 0) return link;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("external client: eth0 of " + e + " has no carrier");
}

}  // namespace sluice::test
