// The service graph, in the spirit of Kiali's, served by the admin API:
// /graph is one self-contained page (HTML, CSS and script compiled into the
// daemon: no CDN, nothing fetched at build time) that polls /stats/graph,
// /routes and /clusters and draws workloads and services as nodes and the
// traffic between them as edges with requests per second, error share and
// p99, plus the kernel's L4-only edges, faults, mirrors, ejections and
// circuit-breaker overflows. docs/observability.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "request_metrics.h"

namespace sluice {

// /stats/graph: request edges (the proxy's) and TCP edges (the kernel's),
// each with its totals so far; the page turns two of them into rates.
std::string graph_json(const std::vector<telemetry::EdgeTotals>& http, const std::vector<telemetry::EdgeTotals>& tcp);

std::string_view graph_page_html();

}  // namespace sluice
