#include "kube_api_routes.h"

#include <algorithm>
#include <cerrno>

#include "json_writer.h"

namespace sluice::testing {

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool serves(const std::vector<KubeResourceType>& types, std::string_view group, std::string_view version) {
  return std::any_of(types.begin(), types.end(), [&](const KubeResourceType& t) {
    return t.group == group && std::find(t.versions.begin(), t.versions.end(), version) != t.versions.end();
  });
}

const KubeResourceType* find_type(const std::vector<KubeResourceType>& types, std::string_view group,
                                  std::string_view version, std::string_view plural) {
  for (const KubeResourceType& t : types) {
    if (t.group == group && t.plural == plural &&
        std::find(t.versions.begin(), t.versions.end(), version) != t.versions.end()) {
      return &t;
    }
  }
  return nullptr;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
      if (lo < 0) return make_error(-EINVAL, "invalid URL escape \"" + std::string(s.substr(i, 3)) + "\"");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The versions of a group in table order, preferred (first served) first.
std::vector<std::string> group_versions(const std::vector<KubeResourceType>& types, std::string_view group) {
  std::vector<std::string> out;
  for (const KubeResourceType& t : types) {
    if (t.group != group) continue;
    for (const std::string& v : t.versions) {
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
  }
  return out;
}

void write_group(JsonWriter& w, const std::vector<KubeResourceType>& types, std::string_view group) {
  const std::vector<std::string> versions = group_versions(types, group);
  w.key("name").value(group);
  w.key("versions").begin_array();
  for (const std::string& v : versions) {
    w.begin_object().key("groupVersion").value(std::string(group) + "/" + v).key("version").value(v).end_object();
  }
  w.end_array();
  w.key("preferredVersion").begin_object();
  w.key("groupVersion").value(std::string(group) + "/" + versions.front()).key("version").value(versions.front());
  w.end_object();
}

}  // namespace

KubeRoute route_kube_path(std::string_view path, const std::vector<KubeResourceType>& types) {
  KubeRoute r;
  if (path == "/healthz" || path == "/livez" || path == "/readyz") {
    r.kind = KubeRoute::Kind::kHealth;
    return r;
  }
  if (path == "/version" || path == "/version/") {
    r.kind = KubeRoute::Kind::kVersion;
    return r;
  }
  const std::vector<std::string_view> seg = segments(path);
  if (seg.empty()) return r;
  size_t rest = 0;
  if (seg[0] == "api") {
    if (seg.size() == 1) {
      r.kind = KubeRoute::Kind::kApiVersions;
      return r;
    }
    r.version = seg[1];
    rest = 2;
  } else if (seg[0] == "apis") {
    if (seg.size() == 1) {
      r.kind = KubeRoute::Kind::kGroupList;
      return r;
    }
    r.group = seg[1];
    if (seg.size() == 2) {
      if (!group_versions(types, r.group).empty()) r.kind = KubeRoute::Kind::kGroup;
      return r;
    }
    r.version = seg[2];
    rest = 3;
  } else {
    return r;
  }
  if (!serves(types, r.group, r.version)) return r;
  const size_t n = seg.size() - rest;
  if (n == 0) {
    r.kind = KubeRoute::Kind::kResourceList;
    return r;
  }
  auto s = [&](size_t i) { return seg[rest + i]; };
  if (n >= 3 && s(0) == "namespaces") {
    // .../namespaces/{ns}/{plural}[/{name}]
    if (n > 4) return r;
    r.type = find_type(types, r.group, r.version, s(2));
    if (!r.type || !r.type->namespaced) return r;
    r.ns = s(1);
    if (n == 4) r.name = s(3);
    r.kind = n == 4 ? KubeRoute::Kind::kObject : KubeRoute::Kind::kCollection;
    return r;
  }
  if (n > 2) return r;
  r.type = find_type(types, r.group, r.version, s(0));
  if (!r.type) return r;
  if (n == 2) {
    if (r.type->namespaced) return r;  // a namespaced object is read under its namespace
    r.name = s(1);
    r.kind = KubeRoute::Kind::kObject;
  } else {
    r.kind = KubeRoute::Kind::kCollection;
  }
  return r;
}

Result<KubeQuery> KubeQuery::parse(std::string_view query) {
  KubeQuery q;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto name = unescape(pair.substr(0, eq));
    auto value = unescape(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!name) return name.error();
    if (!value) return value.error();
    q.params_.emplace_back(std::move(*name), std::move(*value));
  }
  return q;
}

std::optional<std::string_view> KubeQuery::get(std::string_view name) const {
  for (const auto& [k, v] : params_) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<bool> parse_go_bool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") return false;
  return std::nullopt;
}

std::string discovery_api_versions(uint16_t port) {
  JsonWriter w;
  w.begin_object();
  w.key("kind").value("APIVersions");
  w.key("versions").begin_array().value("v1").end_array();
  w.key("serverAddressByClientCIDRs").begin_array().begin_object();
  w.key("clientCIDR").value("0.0.0.0/0");
  w.key("serverAddress").value("127.0.0.1:" + std::to_string(port));
  w.end_object().end_array();
  w.end_object();
  return std::move(w).str();
}

std::string discovery_group_list(const std::vector<KubeResourceType>& types) {
  std::vector<std::string_view> groups;
  for (const KubeResourceType& t : types) {
    if (!t.group.empty() && std::find(groups.begin(), groups.end(), t.group) == groups.end()) groups.push_back(t.group);
  }
  JsonWriter w;
  w.begin_object();
  w.key("kind").value("APIGroupList");
  w.key("apiVersion").value("v1");
  w.key("groups").begin_array();
  for (std::string_view g : groups) {
    w.begin_object();
    write_group(w, types, g);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return std::move(w).str();
}

std::string discovery_group(const std::vector<KubeResourceType>& types, std::string_view group) {
  JsonWriter w;
  w.begin_object();
  w.key("kind").value("APIGroup");
  w.key("apiVersion").value("v1");
  write_group(w, types, group);
  w.end_object();
  return std::move(w).str();
}

std::string discovery_resource_list(const std::vector<KubeResourceType>& types, std::string_view group,
                                    std::string_view version) {
  JsonWriter w;
  w.begin_object();
  w.key("kind").value("APIResourceList");
  w.key("apiVersion").value("v1");
  w.key("groupVersion").value(group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version));
  w.key("resources").begin_array();
  for (const KubeResourceType& t : types) {
    if (t.group != group || std::find(t.versions.begin(), t.versions.end(), version) == t.versions.end()) continue;
    w.begin_object();
    w.key("name").value(t.plural);
    w.key("singularName").value(t.singular());
    w.key("namespaced").value(t.namespaced);
    w.key("kind").value(t.kind);
    w.key("verbs").begin_array().value("get").value("list").value("watch").end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return std::move(w).str();
}

std::string version_info_json() {
  JsonWriter w;
  w.begin_object();
  w.key("major").value("1");
  w.key("minor").value("30");
  w.key("gitVersion").value("v1.30.0-sluice-test");
  w.key("gitCommit").value("0000000000000000000000000000000000000000");
  w.key("gitTreeState").value("clean");
  w.key("buildDate").value("2024-04-17T00:00:00Z");
  w.key("goVersion").value("go1.22.2");
  w.key("compiler").value("gc");
  w.key("platform").value("linux/amd64");
  w.end_object();
  return std::move(w).str();
}

}  // namespace sluice::testing
