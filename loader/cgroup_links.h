// Cgroup programs attached through links pinned under a directory, so that
// a restarted daemon adopts them (BPF_LINK_UPDATE to its newly loaded
// program) and the hook never goes empty. Shared by the loaders of
// sock_lb and sock_redir.
#pragma once

#include <string>
#include <vector>

#include "cgroup.h"
#include "result.h"

struct bpf_object;
struct bpf_link;

namespace sluice {

// Attaches every cgroup-attached program of `obj` (sockops and the
// cgroup/* hooks; sk_msg and the like are skipped) to the cgroup, one link
// per program pinned as <link_dir>/<program name>. A pinned link of the
// same name is adopted if it belongs to the same cgroup, and is an error
// otherwise. Appends the links to `links`; returns how many were adopted.
Result<int> attach_cgroup_programs(bpf_object* obj, const CgroupDir& cgroup, const std::string& link_dir,
                                   std::vector<bpf_link*>& links);

// Unpins and detaches the links, then frees them (links is emptied).
Status detach_links(std::vector<bpf_link*>& links);

}  // namespace sluice
