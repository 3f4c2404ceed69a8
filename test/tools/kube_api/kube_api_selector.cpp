#include "kube_api_selector.h"

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "trim.h"

namespace sluice::testing {

namespace {

// Splits on commas outside parentheses ("a in (x,y),b" is two requirements).
std::vector<std::string_view> split_requirements(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      out.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    } else if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      --depth;
    }
  }
  return out;
}

bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > 316) return false;  // prefix (253) + "/" + name (63)
  return std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

Error bad(std::string_view requirement, std::string_view why) {
  return make_error(-EINVAL, "unable to parse requirement: " + std::string(requirement) + ": " + std::string(why));
}

}  // namespace

const std::string* find_label(const KubeLabels& pairs, std::string_view key) {
  auto it = std::lower_bound(pairs.begin(), pairs.end(), key,
                             [](const auto& p, std::string_view k) { return p.first < k; });
  return it != pairs.end() && it->first == key ? &it->second : nullptr;
}

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  if (trim(text).empty()) return sel;
  for (std::string_view req : split_requirements(text)) {
    if (req.empty()) return bad(req, "empty requirement");
    Requirement r;
    if (req.front() == '!') {
      r.key = std::string(trim(req.substr(1)));
      r.op = Op::kDoesNotExist;
    } else if (size_t paren = req.find('('); paren != std::string_view::npos) {
      if (req.back() != ')') return bad(req, "expected ')'");
      std::string_view head = trim(req.substr(0, paren));
      size_t space = head.find_last_of(" \t");
      if (space == std::string_view::npos) return bad(req, "expected 'in' or 'notin'");
      std::string_view op = head.substr(space + 1);
      if (op == "in") {
        r.op = Op::kIn;
      } else if (op == "notin") {
        r.op = Op::kNotIn;
      } else {
        return bad(req, "expected 'in' or 'notin'");
      }
      r.key = std::string(trim(head.substr(0, space)));
      std::string_view list = req.substr(paren + 1, req.size() - paren - 2);
      size_t start = 0;
      for (size_t i = 0; i <= list.size(); ++i) {
        if (i == list.size() || list[i] == ',') {
          r.values.emplace_back(trim(list.substr(start, i - start)));
          start = i + 1;
        }
      }
      std::sort(r.values.begin(), r.values.end());
    } else if (size_t ne = req.find("!="); ne != std::string_view::npos) {
      r.key = std::string(trim(req.substr(0, ne)));
      r.op = Op::kNotEquals;
      r.values.emplace_back(trim(req.substr(ne + 2)));
    } else if (size_t eq = req.find('='); eq != std::string_view::npos) {
      r.key = std::string(trim(req.substr(0, eq)));
      r.op = Op::kEquals;
      std::string_view value = req.substr(eq + 1);
      if (!value.empty() && value.front() == '=') value.remove_prefix(1);
      r.values.emplace_back(trim(value));
    } else {
      r.key = std::string(req);
      r.op = Op::kExists;
    }
    if (!valid_key(r.key)) return bad(req, "invalid label key \"" + r.key + "\"");
    sel.requirements_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::matches(const KubeLabels& labels) const {
  for (const Requirement& r : requirements_) {
    const std::string* v = find_label(labels, r.key);
    bool in_set = v && std::binary_search(r.values.begin(), r.values.end(), *v);
    switch (r.op) {
      case Op::kEquals:
        if (!v || *v != r.values[0]) return false;
        break;
      case Op::kNotEquals:
        if (v && *v == r.values[0]) return false;
        break;
      case Op::kIn:
        if (!in_set) return false;
        break;
      case Op::kNotIn:
        if (in_set) return false;
        break;
      case Op::kExists:
        if (!v) return false;
        break;
      case Op::kDoesNotExist:
        if (v) return false;
        break;
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::parse(std::string_view text, const std::vector<std::string>& supported) {
  FieldSelector sel;
  if (trim(text).empty()) return sel;
  for (std::string_view term : split_requirements(text)) {
    Term t;
    size_t op = term.find("!=");
    size_t value_at = 0;
    if (op != std::string_view::npos) {
      t.equals = false;
      value_at = op + 2;
    } else if ((op = term.find('=')) != std::string_view::npos) {
      t.equals = true;
      value_at = op + (op + 1 < term.size() && term[op + 1] == '=' ? 2 : 1);
    } else {
      return make_error(-EINVAL, "invalid selector: '" + std::string(text) + "'; can't understand '" +
                                     std::string(term) + "'");
    }
    t.field = std::string(trim(term.substr(0, op)));
    t.value = std::string(trim(term.substr(value_at)));
    if (std::find(supported.begin(), supported.end(), t.field) == supported.end()) {
      return make_error(-EINVAL, "field label not supported: " + t.field);
    }
    sel.terms_.push_back(std::move(t));
  }
  return sel;
}

bool FieldSelector::matches(const KubeLabels& fields) const {
  for (const Term& t : terms_) {
    const std::string* v = find_label(fields, t.field);
    const bool equal = (v ? *v : std::string()) == t.value;
    if (equal != t.equals) return false;
  }
  return true;
}

}  // namespace sluice::testing
