#include "unimplemented_fields.h"

#include <google/protobuf/descriptor.h>

#include "resource_checker.h"

namespace sluice::config {

namespace pb = google::protobuf;

namespace {

constexpr Support kIgnored = Support::kIgnored;
constexpr Support kNotEnforced = Support::kNotEnforced;

// Keep it sorted by kind, then by message.
constexpr UnimplementedField kTable[] = {
    // VirtualService
    {"networking.VirtualService", "export_to", "", kIgnored, "the routes are visible in every namespace"},
    {"networking.HTTPRoute", "name", "", kIgnored, "route names do not reach stats or access logs"},
    {"networking.HTTPRoute", "delegate", "", kIgnored, "delegate VirtualServices are not merged; the route matches nothing"},
    {"networking.HTTPRoute", "cors_policy", "", kIgnored, "no CORS headers are added and preflights are forwarded"},
    {"networking.HTTPRoute", "mirror_percent", "", kIgnored, "use mirrorPercentage; the mirror gets 100%"},
    {"networking.HTTPMatchRequest", "name", "", kIgnored, ""},
    {"networking.HTTPMatchRequest", "stat_prefix", "", kIgnored, ""},
    {"networking.HTTPRouteDestination", "headers.response", "", kIgnored,
     "response headers are changed at the route level only"},
    {"networking.HTTPRetry", "retry_remote_localities", "", kIgnored, ""},
    {"networking.HTTPRetry", "retry_ignore_previous_hosts", "", kIgnored, "a retry always prefers another host"},
    {"networking.HTTPRetry", "backoff", "", kIgnored, "the base interval stays 25ms"},
    {"networking.HTTPFaultInjection.Delay", "percent", "", kIgnored, "use percentage; without it the delay never fires"},
    {"networking.HTTPRedirect", "derive_port", "", kIgnored, "the port of the request's authority is kept"},
    {"networking.HTTPBody", "bytes", "", kIgnored, "the response has no body"},
    // DestinationRule
    {"networking.DestinationRule", "export_to", "", kIgnored, "the rule is visible in every namespace"},
    {"networking.DestinationRule", "workload_selector", "", kIgnored, "the rule applies to every client"},
    {"networking.ClientTLSSettings", "mode", "ISTIO_MUTUAL", kIgnored,
     "sluice has no workload certificates; connections to the upstream stay plain TCP"},
    {"networking.ClientTLSSettings", "credential_name", "", kIgnored,
     "use caCertificates, clientCertificate and privateKey files"},
    {"networking.ClientTLSSettings", "ca_crl", "", kIgnored, "no revocation list is checked"},
    {"networking.TrafficPolicy", "tunnel", "", kIgnored, ""},
    {"networking.TrafficPolicy", "proxy_protocol", "", kIgnored, "no PROXY header is sent"},
    {"networking.TrafficPolicy", "retry_budget", "", kIgnored, ""},
    {"networking.LoadBalancerSettings", "locality_lb_setting", "", kIgnored, "endpoints are picked regardless of locality"},
    {"networking.LoadBalancerSettings", "warmup", "", kIgnored, "new endpoints get their full share at once"},
    {"networking.LoadBalancerSettings", "warmup_duration_secs", "", kIgnored, "new endpoints get their full share at once"},
    {"networking.LoadBalancerSettings.ConsistentHashLB.HTTPCookie", "attributes", "", kIgnored, ""},
    {"networking.ConnectionPoolSettings.TCPSettings", "tcp_keepalive", "", kIgnored, ""},
    {"networking.ConnectionPoolSettings.TCPSettings", "max_connection_duration", "", kIgnored, ""},
    {"networking.ConnectionPoolSettings.HTTPSettings", "use_client_protocol", "", kIgnored, ""},
    {"networking.ConnectionPoolSettings.HTTPSettings", "max_concurrent_streams", "", kIgnored, ""},
    {"networking.ConnectionPoolSettings.HTTPSettings", "http2_keep_alive", "", kIgnored, ""},
    {"networking.OutlierDetection", "consecutive_errors", "", kIgnored, "use consecutive5xxErrors or consecutiveGatewayErrors"},
    {"networking.OutlierDetection", "split_external_local_origin_errors", "", kIgnored, ""},
    {"networking.OutlierDetection", "consecutive_local_origin_failures", "", kIgnored, ""},
    // ServiceEntry
    {"networking.ServiceEntry", "resolution", "DYNAMIC_DNS", kIgnored, "hosts are not resolved; the entry has no endpoints"},
    {"networking.ServiceEntry", "location", "", kIgnored, ""},
    {"networking.ServiceEntry", "export_to", "", kIgnored, "the entry is visible in every namespace"},
    {"networking.ServiceEntry", "subject_alt_names", "", kIgnored, ""},
    {"networking.ServiceEntry", "workload_selector", "", kIgnored, "the entry has no endpoints"},
    {"networking.WorkloadEntry", "locality", "", kIgnored, ""},
    {"networking.WorkloadEntry", "network", "", kIgnored, ""},
    {"networking.WorkloadEntry", "service_account", "", kIgnored, ""},
    // Gateway
    {"networking.Server", "bind", "", kIgnored, "the server listens on every address"},
    {"networking.Server", "default_endpoint", "", kIgnored, ""},
    {"networking.Server", "name", "", kIgnored, ""},
    {"networking.ServerTLSSettings", "mode", "ISTIO_MUTUAL", kIgnored, "sluice has no workload certificates"},
    {"networking.ServerTLSSettings", "mode", "AUTO_PASSTHROUGH", kIgnored, ""},
    {"networking.ServerTLSSettings", "mode", "OPTIONAL_MUTUAL", kIgnored, "served as SIMPLE: client certificates are not asked for"},
    {"networking.ServerTLSSettings", "server_certificate", "", kIgnored, "use credentialName"},
    {"networking.ServerTLSSettings", "private_key", "", kIgnored, "use credentialName"},
    {"networking.ServerTLSSettings", "ca_certificates", "", kIgnored, "use credentialName"},
    {"networking.ServerTLSSettings", "ca_crl", "", kIgnored, ""},
    {"networking.ServerTLSSettings", "credential_names", "", kIgnored, "use credentialName"},
    {"networking.ServerTLSSettings", "tls_certificates", "", kIgnored, "use credentialName"},
    {"networking.ServerTLSSettings", "ca_cert_credential_name", "", kIgnored, ""},
    {"networking.ServerTLSSettings", "subject_alt_names", "", kIgnored, ""},
    {"networking.ServerTLSSettings", "verify_certificate_spki", "", kIgnored, ""},
    {"networking.ServerTLSSettings", "verify_certificate_hash", "", kIgnored, ""},
    {"networking.ServerTLSSettings", "cipher_suites", "", kIgnored, "OpenSSL's defaults are used"},
    // Sidecar
    {"networking.Sidecar", "workload_selector", "", kIgnored, ""},
    {"networking.Sidecar", "ingress", "", kIgnored, ""},
    {"networking.Sidecar", "egress", "", kIgnored, "every workload reaches every service"},
    {"networking.Sidecar", "inbound_connection_pool", "", kIgnored, ""},
    {"networking.OutboundTrafficPolicy", "egress_proxy", "", kIgnored, ""},
    // AuthorizationPolicy
    // AuthorizationPolicy: enforced by sluiced's proxy (docs/security.md)
    {"security.AuthorizationPolicy", "action", "CUSTOM", kNotEnforced,
     "no external authorizer is called; requests are decided as if the policy were absent"},
    {"security.Source", "trust_domains", "", kIgnored, "identities are in the one trust domain, cluster.local"},
    {"security.Source", "not_trust_domains", "", kIgnored, "identities are in the one trust domain, cluster.local"},
};

constexpr std::string_view kPackage = "sluice.istio.";

std::string_view relative_name(const pb::Descriptor* d) {
  std::string_view name = d->full_name();
  if (name.starts_with(kPackage)) name.remove_prefix(kPackage.size());
  return name;
}

std::string warning_text(const UnimplementedField& e) {
  std::string s(support_phrase(e.support));
  if (!e.note.empty()) s += ": " + std::string(e.note);
  return s;
}

class Walker {
 public:
  Walker(const Source& source, const Meta& meta, std::vector<Diagnostic>& out) : checker_(source, meta, out) {}

  void walk(const pb::Message& m, const std::string& path) {
    const pb::Descriptor* d = m.GetDescriptor();
    const pb::Reflection* r = m.GetReflection();
    const std::string_view name = relative_name(d);
    for (const UnimplementedField& e : kTable) {
      if (e.message == name && !e.field.empty()) entry(m, path, e);
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || f->is_map() || listed(name, f->name())) continue;
      const std::string fp = path + "." + f->json_name();
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(m, f); ++k) walk(r->GetRepeatedMessage(m, f, k), idx(fp, k));
      } else if (r->HasField(m, f)) {
        walk(r->GetMessage(m, f), fp);
      }
    }
  }

 private:
  // A field listed without a value is not looked into: one warning covers it.
  static bool listed(std::string_view message, std::string_view field) {
    for (const UnimplementedField& e : kTable) {
      if (e.message == message && e.field == field && e.value.empty()) return true;
    }
    return false;
  }

  // Follows e.field ("a.b") from m through singular messages.
  void entry(const pb::Message& m, const std::string& path, const UnimplementedField& e) {
    const pb::Message* at = &m;
    std::string p = path;
    std::string_view rest = e.field;
    while (true) {
      const size_t dot = rest.find('.');
      const pb::FieldDescriptor* f = at->GetDescriptor()->FindFieldByName(std::string(rest.substr(0, dot)));
      if (!f) return;  // a table entry that names no field: caught by the unit test
      const pb::Reflection* r = at->GetReflection();
      p += "." + f->json_name();
      if (dot != std::string_view::npos) {
        if (f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || !r->HasField(*at, f)) return;
        at = &r->GetMessage(*at, f);
        rest.remove_prefix(dot + 1);
        continue;
      }
      if (!e.value.empty()) {
        // An enum's zero value is also what an absent field means.
        if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_ENUM || f->is_repeated()) return;
        if (r->GetEnum(*at, f)->name() == e.value) checker_.warning(p, warning_text(e));
        return;
      }
      const bool used = f->is_repeated() ? r->FieldSize(*at, f) > 0 : r->HasField(*at, f);
      if (used) checker_.warning(p, warning_text(e));
      return;
    }
  }

  ResourceChecker checker_;
};

}  // namespace

std::span<const UnimplementedField> unimplemented_fields() { return kTable; }

std::string_view support_phrase(Support s) {
  return s == Support::kIgnored ? "not implemented by sluice; ignored" : "parsed, not enforced by sluice";
}

void check_unimplemented(const pb::Message& spec, const Source& source, const Meta& meta, std::vector<Diagnostic>& out) {
  const std::string_view name = relative_name(spec.GetDescriptor());
  for (const UnimplementedField& e : kTable) {
    if (e.message == name && e.field.empty()) {
      DiagnosticSink sink(out);
      sink.set_context(source.file(), meta.id());
      sink.warning(source.line, "", warning_text(e));
    }
  }
  Walker(source, meta, out).walk(spec, "spec");
}

}  // namespace sluice::config
