// The Prometheus exposition formats, written by hand: the text format 0.0.4
// that every Prometheus scrapes, and OpenMetrics 1.0 for a scraper whose
// Accept header asks for it. sluice links no client library: prometheus-cpp
// is not packaged by Debian (the build links only Debian's archives), and
// what sluice needs of one is this writer; the recording side is its own,
// per worker and lock-free (request_metrics.h). docs/observability.md.
//
// The writer checks nothing of a family's samples; callers write each family
// whole, in one go, as both formats require.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::telemetry {

enum class ExpositionFormat { kText004, kOpenMetrics };

// OpenMetrics when `accept` names application/openmetrics-text, else text.
ExpositionFormat format_for_accept(std::string_view accept);
// The Content-Type of a response in `f`.
std::string_view content_type(ExpositionFormat f);

// A label value with backslash, double quote and newline escaped (both formats).
void append_escaped_label_value(std::string& out, std::string_view value);

using Label = std::pair<std::string_view, std::string_view>;

class ExpositionWriter {
 public:
  explicit ExpositionWriter(ExpositionFormat f) : format_(f) {}

  ExpositionFormat format() const { return format_; }

  // A family's HELP and TYPE lines. A counter's `name` is without `_total`:
  // the text format names the family with it, OpenMetrics without.
  void counter(std::string_view name, std::string_view help);
  void gauge(std::string_view name, std::string_view help);
  void histogram(std::string_view name, std::string_view help);

  // One sample. `labels` is pre-rendered `a="x",b="y"` (label_text), so a
  // series' labels are rendered once and reused by its families.
  void sample(std::string_view name, std::string_view suffix, std::string_view labels, double value);
  void sample(std::string_view name, std::string_view suffix, std::string_view labels, uint64_t value);
  // A counter's sample: name_total.
  void counter_sample(std::string_view name, std::string_view labels, uint64_t value) {
    sample(name, "_total", labels, value);
  }
  // A histogram's samples: _bucket per bound (cumulative) with le="+Inf"
  // last, _sum and _count. `counts` holds per-bucket (not cumulative)
  // counts, one more than `bounds`: the last is above every bound.
  void histogram_samples(std::string_view name, std::string_view labels, std::span<const double> bounds,
                         std::span<const uint64_t> counts, double sum);

  // Renders labels as `a="x",b="y"`, values escaped.
  static std::string label_text(std::initializer_list<Label> labels);
  static void append_label(std::string& out, std::string_view name, std::string_view value);

  // The exposition; OpenMetrics ends with "# EOF".
  std::string finish() &&;

 private:
  void family(std::string_view name, std::string_view suffix, std::string_view type, std::string_view help);

  ExpositionFormat format_;
  std::string out_;
};

// A number as both formats print it: integers plainly, others shortest
// round-trip, infinities as +Inf/-Inf.
void append_number(std::string& out, double v);

}  // namespace sluice::telemetry
