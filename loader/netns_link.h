// A program attached to a network namespace (sk_lookup) through a link
// pinned under a directory, so that a restarted daemon adopts it
// (BPF_LINK_UPDATE to its newly loaded program) and the hook never goes
// empty, as cgroup_links.h does for cgroup programs.
#pragma once

#include <string>

#include "result.h"

struct bpf_program;
struct bpf_link;

namespace sluice {

// Attaches `prog` to the network namespace at `netns_path` (a
// /proc/<pid>/ns/net or /var/run/netns/<name> file), one link pinned as
// <link_dir>/<program name>. A pinned link of that name is adopted if it
// belongs to the same namespace, and is an error otherwise. *adopted says
// which happened.
Result<bpf_link*> attach_to_netns(bpf_program* prog, const std::string& netns_path, const std::string& link_dir,
                                  bool* adopted);

// Unpins <link_dir>/<program name> if it is there: the program detaches
// once no one else holds the link. For a hook a new configuration no
// longer uses.
Status unpin_netns_link(bpf_program* prog, const std::string& link_dir);

}  // namespace sluice
