#include "cgroup_links.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>

#include "libbpf_log.h"
#include "link_info.h"
#include "pin_dir.h"

namespace sluice {
namespace {

bool attaches_to_cgroup(const bpf_program* prog) {
  switch (bpf_program__type(prog)) {
    case BPF_PROG_TYPE_SOCK_OPS:
    case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
    case BPF_PROG_TYPE_CGROUP_SOCK:
    case BPF_PROG_TYPE_CGROUP_SKB:
    case BPF_PROG_TYPE_CGROUP_SOCKOPT:
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<int> attach_cgroup_programs(bpf_object* obj, const CgroupDir& cg, const std::string& link_dir,
                                   std::vector<bpf_link*>& links) {
  if (Status s = ensure_bpffs_dir(link_dir); !s) return s.error();
  LibbpfLogCapture log;
  int adopted = 0;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    if (!attaches_to_cgroup(prog)) continue;
    const std::string pin = link_dir + "/" + bpf_program__name(prog);
    bpf_link* link = nullptr;
    if (path_exists(pin)) {
      link = bpf_link__open(pin.c_str());
      if (!link) return log.with(make_error(-errno, "open pinned link " + pin));
      if (uint64_t id = link_info_of(link).cgroup.cgroup_id; id != cg.id()) {
        bpf_link__destroy(link);
        return make_error(-EEXIST, "pinned link " + pin + " belongs to cgroup id " + std::to_string(id) + ", not " +
                                       cg.path() + "; detach it first (sluiced --cleanup)");
      }
      if (int err = bpf_link__update_program(link, prog); err) {
        bpf_link__destroy(link);
        return log.with(make_error(err, "switch pinned link " + pin + " to the new program"));
      }
      ++adopted;
    } else {
      link = bpf_program__attach_cgroup(prog, cg.fd());
      if (!link) return log.with(make_error(-errno, std::string("attach ") + bpf_program__name(prog) + " to " + cg.path()));
      if (int err = bpf_link__pin(link, pin.c_str()); err) {
        bpf_link__destroy(link);
        return log.with(make_error(err, "pin link " + pin));
      }
    }
    links.push_back(link);
  }
  return adopted;
}

Status detach_links(std::vector<bpf_link*>& links) {
  Status result;
  for (bpf_link* link : links) {
    if (const char* pin = bpf_link__pin_path(link)) {
      std::string path = pin;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT && result.ok()) {
        result = make_error(-errno, "unpin " + path);
      }
    }
    if (int err = bpf_link__detach(link); err && result.ok()) result = make_error(err, "detach link");
    bpf_link__destroy(link);
  }
  links.clear();
  return result;
}

}  // namespace sluice
