#include "netns_link.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "libbpf_log.h"
#include "link_info.h"
#include "pin_dir.h"

namespace sluice {
Result<bpf_link*> attach_to_netns(bpf_program* prog, const std::string& netns_path, const std::string& link_dir,
                                  bool* adopted) {
  if (Status s = ensure_bpffs_dir(link_dir); !s) return s.error();
  LibbpfLogCapture log;
  const int ns = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) return make_error(-errno, "open " + netns_path);
  struct stat st {};
  const int stat_rc = ::fstat(ns, &st);
  const int stat_errno = errno;
  const std::string pin = link_dir + "/" + bpf_program__name(prog);
  bpf_link* link = nullptr;
  *adopted = false;
  if (stat_rc != 0) {
    ::close(ns);
    return make_error(-stat_errno, "stat " + netns_path);
  }
  if (path_exists(pin)) {
    ::close(ns);
    link = bpf_link__open(pin.c_str());
    if (!link) return log.with(make_error(-errno, "open pinned link " + pin));
    if (uint64_t ino = link_info_of(link).netns.netns_ino; ino != st.st_ino) {
      bpf_link__destroy(link);
      return make_error(-EEXIST, "pinned link " + pin + " belongs to network namespace inode " + std::to_string(ino) +
                                     ", not " + netns_path + " (" + std::to_string(st.st_ino) +
                                     "); detach it first (sluiced --cleanup)");
    }
    if (int err = bpf_link__update_program(link, prog); err) {
      bpf_link__destroy(link);
      return log.with(make_error(err, "switch pinned link " + pin + " to the new program"));
    }
    *adopted = true;
    return link;
  }
  link = bpf_program__attach_netns(prog, ns);
  const int attach_errno = errno;
  ::close(ns);  // the link holds the namespace
  if (!link) {
    return log.with(make_error(-attach_errno, std::string("attach ") + bpf_program__name(prog) + " to " + netns_path));
  }
  if (int err = bpf_link__pin(link, pin.c_str()); err) {
    bpf_link__destroy(link);
    return log.with(make_error(err, "pin link " + pin));
  }
  return link;
}

Status unpin_netns_link(bpf_program* prog, const std::string& link_dir) {
  const std::string pin = link_dir + "/" + bpf_program__name(prog);
  if (::unlink(pin.c_str()) != 0 && errno != ENOENT) return make_error(-errno, "unpin " + pin);
  return {};
}

}  // namespace sluice
