#include "cli_tables.h"

#include <algorithm>
#include <vector>

#include "histogram_quantile.h"
#include "json_view.h"

#include <cstdio>
#include <map>

namespace sluice {

namespace {

using config::JsonDocument;
using config::JsonView;

// Columns padded to their widest cell; the last one is not padded.
std::string render(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out.append(width[i] - r[i].size() + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

Result<JsonView> parse(JsonDocument& doc, std::string_view json, const char* what) {
  std::string error;
  if (!doc.parse(json, &error)) return make_error(-EINVAL, std::string(what) + ": " + error);
  return doc.root();
}

std::string destinations_text(const JsonView& ds) {
  std::string out;
  config::for_each_item(ds, [&](size_t, const JsonView& d) {
    if (!out.empty()) out += ", ";
    out += d["host"].str();
    if (!d["subset"].str().empty()) out += "/" + d["subset"].str();
    if (d["port"].str() != "0") out += ":" + d["port"].str();
    if (ds.size() > 1) out += " " + d["weight"].str() + "%";
  });
  return out;
}

// A match's JSON flattened to words: {"headers":{"end-user":{"exact":"jason"}}}
// reads "headers end-user exact jason".
void flatten(const JsonView& v, std::string& out) {
  if (v.is_scalar()) {
    out += " " + v.str();
  } else if (v.is_map()) {
    config::for_each_entry(v, [&](std::string_view key, int, const JsonView& x) {
      out += " " + std::string(key);
      flatten(x, out);
    });
  } else {
    config::for_each_item(v, [&](size_t, const JsonView& x) { flatten(x, out); });
  }
}

// Each match's words; matches (ORed) are separated by " | ".
std::string match_text(const JsonView& matches) {
  std::string out;
  config::for_each_item(matches, [&](size_t, const JsonView& m) {
    std::string one;
    flatten(m, one);
    if (!out.empty()) out += " | ";
    out += one.empty() ? "*" : one.substr(1);
  });
  return out.empty() ? "*" : out;
}

}  // namespace

Result<std::string> routes_table(std::string_view json) {
  JsonDocument doc;
  auto root = parse(doc, json, "/routes");
  if (!root) return root.error();
  std::vector<std::vector<std::string>> rows = {{"TABLE", "HOST", "KIND", "MATCH", "DESTINATIONS", "TIMEOUT", "RETRIES", "EXTRA", "VIRTUALSERVICE"}};
  config::for_each_item((*root)["hosts"], [&](size_t, const JsonView& h) {
    const JsonView r = h["routes"];
    const std::string table = h["table"].str(), host = r["host"].str();
    config::for_each_item(r["http"], [&](size_t, const JsonView& x) {
      std::string extra;
      for (const char* k : {"fault", "mirror", "redirect", "direct_response"}) {
        if (x[k].defined()) extra += (extra.empty() ? "" : ",") + std::string(k);
      }
      const std::string timeout = x["timeout_ms"].str() == "0" ? "-" : x["timeout_ms"].str() + "ms";
      const JsonView retries = x["retries"];
      rows.push_back({table, host, "http", match_text(x["match"]), destinations_text(x["destinations"]), timeout,
                      retries["attempts"].str() == "0" ? "none" : retries["attempts"].str() + "x " + retries["retry_on"].str(),
                      extra.empty() ? "-" : extra,
                      x["virtual_service"].str()});
    });
    for (const char* kind : {"tls", "tcp"}) {
      config::for_each_item(r[kind], [&](size_t, const JsonView& x) {
        rows.push_back({table, host, kind, x["match"].defined() ? match_text(x["match"]) : "*",
                        destinations_text(x["destinations"]), "-", "-", "-", x["virtual_service"].str()});
      });
    }
  });
  return render(rows);
}

Result<std::string> endpoints_table(std::string_view json) {
  JsonDocument doc;
  auto root = parse(doc, json, "/endpoints");
  if (!root) return root.error();
  std::vector<std::vector<std::string>> rows = {
      {"SERVICE", "VIP", "PORT", "PROTOCOL", "VIA", "KERNEL active/total/refused", "ENDPOINT", "POD", "VERSION", "WEIGHT"}};
  config::for_each_item((*root)["services"], [&](size_t, const JsonView& s) {
    config::for_each_item(s["ports"], [&](size_t, const JsonView& p) {
      const JsonView k = p["kernel"];
      const std::string kernel =
          k.defined() ? k["active"].str() + "/" + k["total"].str() + "/" + k["refused"].str() : "-";
      std::vector<std::string> head = {s["service"].str(), s["vip"].str().empty() ? "-" : s["vip"].str(),
                                       p["port"].str(), p["protocol"].str(),
                                       p["via_proxy"].as_bool().value_or(false) ? "proxy" : "kernel", kernel};
      if (p["endpoints"].size() == 0) {
        auto row = head;
        row.insert(row.end(), {"(none)", "", "", ""});
        rows.push_back(row);
      }
      config::for_each_item(p["endpoints"], [&](size_t i, const JsonView& e) {
        std::vector<std::string> row = i == 0 ? head : std::vector<std::string>(head.size(), "");
        row.insert(row.end(), {e["address"].str(), e["pod"].str().empty() ? "-" : e["pod"].str(),
                               e["version"].str().empty() ? "-" : e["version"].str(), e["weight"].str()});
        rows.push_back(row);
      });
    });
  });
  return render(rows);
}

namespace {

struct ServiceSample {
  uint64_t requests = 0, errors = 0;
  std::vector<uint64_t> buckets;
};

std::map<std::string, ServiceSample> service_samples(const JsonView& root) {
  std::map<std::string, ServiceSample> out;
  config::for_each_item(root["services"], [&](size_t, const JsonView& s) {
    ServiceSample& x = out[s["service"].str()];
    x.requests = static_cast<uint64_t>(s["requests"].as_int().value_or(0));
    x.errors = static_cast<uint64_t>(s["errors"].as_int().value_or(0));
    config::for_each_item(s["duration_ms"], [&](size_t, const JsonView& c) {
      x.buckets.push_back(static_cast<uint64_t>(c.as_int().value_or(0)));
    });
  });
  return out;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

Result<std::string> top_table(std::string_view before_json, std::string_view after_json, double seconds) {
  JsonDocument a, b;
  auto before = parse(a, before_json, "/stats/services");
  if (!before) return before.error();
  auto after = parse(b, after_json, "/stats/services");
  if (!after) return after.error();
  std::vector<double> bounds;
  config::for_each_item((*after)["bounds_ms"], [&](size_t, const JsonView& v) { bounds.push_back(v.as_double().value_or(0)); });
  const auto old = service_samples(*before);
  struct Row {
    std::string service;
    double rps, errors, p99;
    uint64_t total;
  };
  std::vector<Row> rows;
  for (const auto& [name, now] : service_samples(*after)) {
    const auto it = old.find(name);
    const ServiceSample zero;
    const ServiceSample& was = it == old.end() ? zero : it->second;
    // A restarted daemon counts from zero: take its counts as they are.
    const bool reset = now.requests < was.requests;
    const uint64_t n = reset ? now.requests : now.requests - was.requests;
    const uint64_t e = reset ? now.errors : now.errors - was.errors;
    std::vector<uint64_t> delta(now.buckets.size());
    for (size_t i = 0; i < delta.size(); ++i) {
      const uint64_t w = !reset && i < was.buckets.size() ? was.buckets[i] : 0;
      delta[i] = now.buckets[i] >= w ? now.buckets[i] - w : now.buckets[i];
    }
    rows.push_back({name, seconds > 0 ? static_cast<double>(n) / seconds : 0, n ? 100.0 * static_cast<double>(e) / static_cast<double>(n) : 0,
                    telemetry::histogram_quantile(0.99, bounds, delta), now.requests});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
    return x.rps != y.rps ? x.rps > y.rps : x.service < y.service;
  });
  std::vector<std::vector<std::string>> table = {{"SERVICE", "REQ/S", "ERRORS", "P99", "TOTAL"}};
  for (const Row& r : rows) {
    table.push_back({r.service, fixed(r.rps, 1), fixed(r.errors, 1) + "%", r.rps > 0 ? fixed(r.p99, 1) + "ms" : "-",
                     std::to_string(r.total)});
  }
  return render(table);
}

Result<std::string> config_status_text(std::string_view json) {
  JsonDocument doc;
  auto root = parse(doc, json, "/config");
  if (!root) return root.error();
  const JsonView c = *root;
  const JsonView sync = c["last_sync"];
  std::string out;
  out += "config version: " + c["version"].str() + " (" + c["source"].str() + ")\n";
  out += "reloads: " + c["reloads"].str() + ", rejected resources: " + c["rejected"].str() +
         ", kernel sync failures: " + c["sync_failures"].str() + "\n";
  out += "kernel L4 services: " + c["l4_services"].str() + "\n";
  if (sync.defined()) {
    out += "last reload: " + sync["reload_ms"].str() + " ms (" + sync["files_parsed"].str() + " file(s) parsed, " +
           sync["upserts"].str() + " upsert(s), " + sync["removals"].str() + " removal(s))\n";
  }
  if (!c["last_error"].is_null()) out += "last error: " + c["last_error"].str() + "\n";
  for (const char* list : {"errors", "warnings"}) {
    config::for_each_item(c[list], [&](size_t, const JsonView& e) {
      out += std::string(list == std::string("errors") ? "error: " : "warning: ") + (e.is_scalar() ? e.str() : e["message"].str()) + "\n";
    });
  }
  return out;
}

}  // namespace sluice
