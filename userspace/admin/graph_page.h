// The service graph, in the spirit of Kiali's, served by the admin API:
// /graph is one self-contained page (HTML, CSS and script compiled into the
// daemon: no CDN, nothing fetched at build time) that polls /stats/graph,
// /routes and /clusters and draws workloads and services as nodes and the
// traffic between them as edges with requests per second, error share and
// p99, the kernel's median RTT per service, plus its L4-only edges, faults, mirrors, ejections and
// circuit-breaker overflows. docs/observability.md.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "request_metrics.h"

namespace sluice {

// /stats/graph: request edges (the proxy's) and TCP edges (the kernel's),
// each with its totals so far, which the page turns into rates; and the
// kernel's median RTT per destination service, which it shows on services.
std::string graph_json(const std::vector<telemetry::EdgeTotals>& http, const std::vector<telemetry::EdgeTotals>& tcp,
                       const std::map<std::string, double>& rtt_ms_by_service = {});

std::string_view graph_page_html();

}  // namespace sluice
