#include "config_dir_apply.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "resource_loader.h"
#include "validate.h"
#include "yaml_document.h"

namespace sluice::config {

namespace {

struct Object {
  std::string api_version, kind, ns, name;
  std::string text;  // the object alone, as YAML
  int line = 0;
  std::string id() const { return kind + " " + ns + "/" + name; }
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// kubectl's name of an object: "virtualservice.networking.istio.io/reviews",
// "service/reviews".
std::string kubectl_name(const Object& o) {
  const size_t slash = o.api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : "." + o.api_version.substr(0, slash);
  return lower(o.kind) + group + "/" + o.name;
}

bool read_file(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return true;
}

void collect(const YamlView& node, std::vector<Object>& out) {
  if (!node.is_map()) return;  // the loader reports what is not an object
  const std::string kind = node["kind"].str();
  if (kind == "List" || kind.ends_with("List")) {
    const YamlView items = node["items"];
    for (size_t i = 0; i < items.size(); ++i) collect(items.item(i), out);
    return;
  }
  Object o;
  o.api_version = node["apiVersion"].str();
  o.kind = kind;
  o.name = node["metadata"]["name"].str();
  o.ns = node["metadata"]["namespace"].str();
  if (o.ns.empty()) o.ns = "default";
  o.text = node.emit();
  o.line = node.line();
  out.push_back(std::move(o));
}

// The objects of one file; false (with a diagnostic) if it cannot be read
// or is not YAML.
bool read_objects(const std::string& file, std::string& text, std::vector<Object>& out, ApplyReport& report) {
  if (!read_file(file, text)) {
    report.diagnostics.push_back({Severity::kError, file, 0, "", "", "cannot read file"});
    return false;
  }
  YamlStream stream(text);
  if (!stream.error().empty()) {
    report.diagnostics.push_back({Severity::kError, file, stream.error_line(), "", "", "invalid YAML: " + stream.error()});
    return false;
  }
  for (size_t i = 0; i < stream.size(); ++i) collect(stream.root(i), out);
  return true;
}

// Writes `text` to `path` through a hidden temporary file and a rename.
bool write_atomically(const std::string& dir, const std::string& path, const std::string& text, std::string& error) {
  std::string tmp = dir + "/.sluice-apply-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    error = "cannot create a file in " + dir + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  // The same permissions as a file written by hand (mkstemp makes it 0600).
  const bool ok = done == text.size() && ::fchmod(fd, 0644) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

// Calls f(file, text, objects, report) for each file that reads as YAML.
template <class F>
ApplyReport each_file(const std::vector<std::string>& files, F&& f) {
  ApplyReport report;
  for (const std::string& file : files) {
    std::string text;
    std::vector<Object> objects;
    if (read_objects(file, text, objects, report)) {
      f(file, text, objects, report);
    } else {
      ++report.failed;
    }
  }
  return report;
}

// The errors that the checks of one resource found for object o.
bool refused(const Object& o, const std::vector<Diagnostic>& diags) {
  const std::string id = o.id();
  const std::string short_id = o.kind + " " + o.name;  // an unsupported apiVersion is reported so
  for (const Diagnostic& d : diags) {
    if (d.severity == Severity::kError && (d.resource == id || d.resource == short_id)) return true;
  }
  return false;
}

}  // namespace

std::string object_file_name(const std::string& kind, const std::string& ns, const std::string& name) {
  return lower(kind) + "-" + ns + "-" + name + ".yaml";
}

ApplyReport apply_to_config_dir(const std::vector<std::string>& files, const std::string& dir) {
  return each_file(files, [&](const std::string& file, const std::string& text, const std::vector<Object>& objects,
                              ApplyReport& report) {
    // The objects are checked where they stand in the file, so that a
    // diagnostic points at the file's own lines.
    LoadResult loaded;
    load_yaml_text(text, file, loaded);
    std::vector<Diagnostic> diags = std::move(loaded.diagnostics);
    validate_resources(loaded.resources, diags);
    report.diagnostics.insert(report.diagnostics.end(), diags.begin(), diags.end());
    for (const Object& o : objects) {
      if (o.name.empty() || o.kind.empty() || refused(o, diags)) {
        ++report.failed;
        continue;
      }
      const std::string path = dir + "/" + object_file_name(o.kind, o.ns, o.name);
      std::string before;
      const bool existed = read_file(path, before);
      if (existed && before == o.text) {
        report.lines.push_back(kubectl_name(o) + " unchanged");
        continue;
      }
      std::string error;
      if (!write_atomically(dir, path, o.text, error)) {
        report.diagnostics.push_back({Severity::kError, file, o.line, o.id(), "", error});
        ++report.failed;
        continue;
      }
      report.lines.push_back(kubectl_name(o) + (existed ? " configured" : " created"));
    }
  });
}

ApplyReport delete_from_config_dir(const std::vector<std::string>& files, const std::string& dir) {
  return each_file(files, [&](const std::string& file, const std::string&, const std::vector<Object>& objects,
                              ApplyReport& report) {
    for (const Object& o : objects) {
      if (o.name.empty()) {
        report.diagnostics.push_back({Severity::kError, file, o.line, o.id(), "metadata.name", "missing"});
        ++report.failed;
        continue;
      }
      const std::string path = dir + "/" + object_file_name(o.kind, o.ns, o.name);
      if (::unlink(path.c_str()) == 0) {
        report.lines.push_back(kubectl_name(o) + " deleted");
        continue;
      }
      const std::string why = errno == ENOENT ? "not found: no " + path : "cannot remove " + path + ": " + std::strerror(errno);
      report.diagnostics.push_back({Severity::kError, file, o.line, o.id(), "", why});
      ++report.failed;
    }
  });
}

}  // namespace sluice::config
