// What a request to the test Kubernetes API server asks for: its path
// resolved against the resource table, its query string decoded as Go's
// net/url does, and the discovery documents (/api, /apis, ...) built from the
// table. No I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube_api_objects.h"
#include "result.h"

namespace sluice::testing {

struct KubeRoute {
  enum class Kind {
    kNotFound,
    kHealth,         // /healthz, /livez, /readyz
    kVersion,        // /version
    kApiVersions,    // /api
    kGroupList,      // /apis
    kGroup,          // /apis/{group}
    kResourceList,   // /api/v1, /apis/{group}/{version}
    kCollection,     // .../{plural}, .../namespaces/{ns}/{plural}
    kObject,         // .../{plural}/{name}, .../namespaces/{ns}/{plural}/{name}
  };
  Kind kind = Kind::kNotFound;
  const KubeResourceType* type = nullptr;
  std::string group, version, ns, name;
};

KubeRoute route_kube_path(std::string_view path, const std::vector<KubeResourceType>& types);

// A query string: names and values percent-decoded ('+' is a space); the
// first occurrence of a name wins, as url.Values.Get.
class KubeQuery {
 public:
  static Result<KubeQuery> parse(std::string_view query);
  std::optional<std::string_view> get(std::string_view name) const;
  std::string value(std::string_view name) const { return std::string(get(name).value_or("")); }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False.
std::optional<bool> parse_go_bool(std::string_view s);

std::string discovery_api_versions(uint16_t port);
std::string discovery_group_list(const std::vector<KubeResourceType>& types);
std::string discovery_group(const std::vector<KubeResourceType>& types, std::string_view group);
std::string discovery_resource_list(const std::vector<KubeResourceType>& types, std::string_view group,
                                    std::string_view version);
std::string version_info_json();

}  // namespace sluice::testing
