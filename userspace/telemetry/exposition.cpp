#include "exposition.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace sluice::telemetry {

ExpositionFormat format_for_accept(std::string_view accept) {
  return accept.find("application/openmetrics-text") != std::string_view::npos ? ExpositionFormat::kOpenMetrics
                                                                               : ExpositionFormat::kText004;
}

std::string_view content_type(ExpositionFormat f) {
  return f == ExpositionFormat::kOpenMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                             : "text/plain; version=0.0.4; charset=utf-8";
}

void append_escaped_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

namespace {

// HELP text: the text format escapes backslash and newline; OpenMetrics
// also the double quote.
void append_escaped_help(std::string& out, std::string_view help, ExpositionFormat f) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && f == ExpositionFormat::kOpenMetrics) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

void append_number(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    if (v < 0) out += '-';
    append_uint(out, static_cast<uint64_t>(std::fabs(v)));
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void ExpositionWriter::family(std::string_view name, std::string_view suffix, std::string_view type,
                              std::string_view help) {
  // The text format names a counter family by its sample name (with
  // _total); OpenMetrics by the bare name. HELP before TYPE in both.
  out_ += "# HELP ";
  out_ += name;
  if (format_ == ExpositionFormat::kText004) out_ += suffix;
  out_ += ' ';
  append_escaped_help(out_, help, format_);
  out_ += "\n# TYPE ";
  out_ += name;
  if (format_ == ExpositionFormat::kText004) out_ += suffix;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void ExpositionWriter::counter(std::string_view name, std::string_view help) { family(name, "_total", "counter", help); }
void ExpositionWriter::gauge(std::string_view name, std::string_view help) { family(name, "", "gauge", help); }
void ExpositionWriter::histogram(std::string_view name, std::string_view help) {
  family(name, "", "histogram", help);
}

namespace {

void append_sample_head(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels) {
  out += name;
  out += suffix;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
}

}  // namespace

void ExpositionWriter::sample(std::string_view name, std::string_view suffix, std::string_view labels, double value) {
  append_sample_head(out_, name, suffix, labels);
  append_number(out_, value);
  out_ += '\n';
}

void ExpositionWriter::sample(std::string_view name, std::string_view suffix, std::string_view labels,
                              uint64_t value) {
  append_sample_head(out_, name, suffix, labels);
  append_uint(out_, value);
  out_ += '\n';
}

void ExpositionWriter::histogram_samples(std::string_view name, std::string_view labels,
                                         std::span<const double> bounds, std::span<const uint64_t> counts,
                                         double sum) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += i < counts.size() ? counts[i] : 0;
    out_ += name;
    out_ += "_bucket{";
    if (!labels.empty()) {
      out_ += labels;
      out_ += ',';
    }
    out_ += "le=\"";
    if (i == bounds.size()) {
      out_ += "+Inf";
    } else {
      const size_t at = out_.size();
      append_number(out_, bounds[i]);
      // OpenMetrics wants le in its canonical float form: 1.0, not 1.
      if (format_ == ExpositionFormat::kOpenMetrics && out_.find_first_of(".e", at) == std::string::npos) {
        out_ += ".0";
      }
    }
    out_ += "\"} ";
    append_uint(out_, cumulative);
    out_ += '\n';
  }
  sample(name, "_sum", labels, sum);
  sample(name, "_count", labels, cumulative);
}

void ExpositionWriter::append_label(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += ',';
  out += name;
  out += "=\"";
  append_escaped_label_value(out, value);
  out += '"';
}

std::string ExpositionWriter::label_text(std::initializer_list<Label> labels) {
  std::string out;
  for (const auto& [name, value] : labels) append_label(out, name, value);
  return out;
}

std::string ExpositionWriter::finish() && {
  if (format_ == ExpositionFormat::kOpenMetrics) out_ += "# EOF\n";
  return std::move(out_);
}

}  // namespace sluice::telemetry
