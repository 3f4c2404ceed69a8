#include "gateway_servers.h"

#include <algorithm>
#include <cctype>

#include "label_selector.h"

namespace sluice::config {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// How well `pattern` matches `host`: 0 no match; longer patterns score
// higher, and an exact name beats any wildcard.
size_t match_score(std::string_view pattern, std::string_view host) {
  if (pattern == "*") return 1;
  if (pattern.starts_with("*.")) {
    const std::string_view suffix = pattern.substr(1);  // ".example.com"
    return host.size() > suffix.size() && host.ends_with(suffix) ? pattern.size() : 0;
  }
  return pattern == host ? 1000 + pattern.size() : 0;
}

size_t server_score(const GatewayServer& s, std::string_view host) {
  size_t best = 0;
  for (const std::string& p : s.dns_names) best = std::max(best, match_score(p, host));
  return best;
}

}  // namespace

std::string host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return lower(host.substr(0, close == std::string_view::npos ? host.size() : close + 1));
  }
  const size_t colon = host.rfind(':');
  return lower(colon == std::string_view::npos ? host : host.substr(0, colon));
}

std::map<uint16_t, std::vector<GatewayServer>> select_gateway_servers(const MeshSnapshot& snapshot,
                                                                      const std::map<std::string, std::string>& labels) {
  std::map<uint16_t, std::vector<GatewayServer>> out;
  for (const auto& r : snapshot.resources.gateways) {
    if (!selector_matches(r->spec.selector(), labels)) continue;
    for (const auto& s : r->spec.servers()) {
      GatewayServer g;
      g.gateway = r->meta.ns + "/" + r->meta.name;
      g.ns = r->meta.ns;
      g.port = static_cast<uint16_t>(s.port().number());
      g.protocol = s.port().protocol();
      for (char& c : g.protocol) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (const std::string& h : s.hosts()) {
        const size_t slash = h.find('/');
        g.dns_names.push_back(lower(slash == std::string::npos ? h : h.substr(slash + 1)));
        std::string ns = slash == std::string::npos ? "*" : h.substr(0, slash);
        if (ns == ".") ns = r->meta.ns;  // "./host": the Gateway's own namespace
        g.host_namespaces.push_back(std::move(ns));
      }
      if (s.has_tls()) {
        const auto& tls = s.tls();
        g.https_redirect = tls.https_redirect();
        using Mode = istio::networking::ServerTLSSettings;
        // PASSTHROUGH is also the mode's zero value: a server that names a
        // credential without a mode keeps being served as SIMPLE.
        const bool credential = !tls.credential_name().empty() || !tls.server_certificate().empty();
        if ((g.protocol == "HTTPS" || g.protocol == "TLS") && tls.mode() == Mode::PASSTHROUGH && !credential) {
          g.tls = GatewayTls::kPassthrough;
        } else if (g.protocol == "HTTPS") {
          g.tls = tls.mode() == Mode::MUTUAL ? GatewayTls::kMutual : GatewayTls::kSimple;
        }
        g.credential_name = tls.credential_name();
        g.min_protocol = Mode::TLSProtocol_Name(tls.min_protocol_version());
        g.max_protocol = Mode::TLSProtocol_Name(tls.max_protocol_version());
      }
      // Istio gives a server that terminates TLS with a credentialName that
      // names no Secret no listener at all (analyze reports it, IST0101).
      if ((g.tls == GatewayTls::kSimple || g.tls == GatewayTls::kMutual) && !g.credential_name.empty() &&
          !snapshot.find_secret(g.ns, g.credential_name)) {
        continue;
      }
      out[g.port].push_back(std::move(g));
    }
  }
  return out;
}

bool gateway_server_matches(const GatewayServer& server, std::string_view host) {
  return server_score(server, lower(host)) > 0;
}

bool gateway_server_allows(const GatewayServer& server, std::string_view host, std::string_view vs_namespace) {
  const std::string h = lower(host);
  for (size_t i = 0; i < server.dns_names.size(); ++i) {
    if (match_score(server.dns_names[i], h) == 0) continue;
    const std::string& ns = server.host_namespaces[i];
    if (ns == "*" || ns == vs_namespace) return true;
  }
  return false;
}

const GatewayServer* find_gateway_server(const std::vector<GatewayServer>& servers, std::string_view host,
                                         ServerKind kind) {
  const std::string h = lower(host);
  const GatewayServer* best = nullptr;
  size_t best_score = 0;
  for (const GatewayServer& s : servers) {
    const ServerKind is = s.tls == GatewayTls::kNone          ? ServerKind::kPlain
                          : s.tls == GatewayTls::kPassthrough ? ServerKind::kPassthrough
                                                              : ServerKind::kTls;
    if (is != kind) continue;
    const size_t score = server_score(s, h);
    if (score > best_score) {
      best = &s;
      best_score = score;
    }
  }
  return best;
}

}  // namespace sluice::config
