// An "external client" of a simulated node: a netns <prefix>-ext joined to
// the node netns by a veth pair (ext0 on the node, eth0 in the client), each
// end with an address in one /24 and no other route. NodeSim's teardown
// removes it with the node (its name has the run's prefix).
#pragma once

#include <string>

#include "node_sim.h"

namespace sluice::test {

struct ExternalLink {
  std::string ns;         // <prefix>-ext
  std::string node_ip;    // on ext0, in the node netns
  std::string client_ip;  // on eth0, in the client netns
};

// Creates the client netns and the veth pair, up. Throws on failure.
ExternalLink add_external_client(NodeSim& node, const std::string& node_ip = "10.111.250.1",
                                 const std::string& client_ip = "10.111.250.2");

// Runs a shell command; returns its exit status (output discarded).
int run_quietly(const std::string& cmd);

// Runs a shell command; returns its stdout, and its exit status in *status.
std::string run_capture(const std::string& cmd, int* status = nullptr);

}  // namespace sluice::test
