#include "kube_api_objects.h"

#include <openssl/evp.h>
#include <simdjson.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <random>

#include "json_writer.h"
#include "yaml_document.h"

namespace sluice::testing {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Metadata members the store writes itself, in the API's order.
constexpr std::string_view kOwnMetadata[] = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"};

bool own_metadata(std::string_view key) {
  return std::find(std::begin(kOwnMetadata), std::end(kOwnMetadata), key) != std::end(kOwnMetadata);
}

// Appends ,"key":<value> with the value minified.
void append_member(std::string& out, std::string_view key, element value) {
  out += ',';
  out += JsonWriter::escape(key);
  out += ':';
  out += simdjson::minify(value);
}

// A field label's value as fieldSelector compares it: strings as they are,
// other scalars as their JSON text.
std::optional<std::string> field_text(element root, std::string_view dotted) {
  element e = root;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    std::string_view part = dotted.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!e.is_object() || e.get_object().at_key(part).get(e) != simdjson::SUCCESS) return std::nullopt;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  if (e.is_object() || e.is_array()) return std::nullopt;
  return simdjson::minify(e);
}

struct Lookup {
  const std::vector<KubeResourceType>& types;
  const KubeResourceType* find(std::string_view api_version, std::string_view kind) const {
    const size_t slash = api_version.find('/');
    std::string_view group = slash == std::string_view::npos ? std::string_view{} : api_version.substr(0, slash);
    std::string_view version = slash == std::string_view::npos ? api_version : api_version.substr(slash + 1);
    for (const KubeResourceType& t : types) {
      if (t.kind == kind && t.group == group &&
          std::find(t.versions.begin(), t.versions.end(), version) != t.versions.end()) {
        return &t;
      }
    }
    return nullptr;
  }
};

std::string random_suffix(std::mt19937_64& rng) {
  // The alphabet of the API's generateName (no vowels, no look-alikes).
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i) s += kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return s;
}

Result<ObjectDraft> draft_of(element obj, std::string_view api_version, std::string_view kind, const Lookup& lookup,
                             size_t index, std::mt19937_64& rng) {
  const std::string where = "object " + std::to_string(index + 1);
  ObjectDraft d;
  d.type = lookup.find(api_version, kind);
  if (!d.type) {
    return make_error(-EINVAL, where + ": no resource type serves apiVersion \"" + std::string(api_version) +
                                   "\" kind \"" + std::string(kind) + "\"");
  }
  object members;
  if (obj.get_object().get(members) != simdjson::SUCCESS) return make_error(-EINVAL, where + ": not a JSON object");
  element meta;
  if (members.at_key("metadata").get(meta) != simdjson::SUCCESS || !meta.is_object()) {
    return make_error(-EINVAL, where + ": metadata must be an object");
  }
  std::string generate_name;
  for (auto [key, value] : meta.get_object()) {
    std::string_view s;
    const bool is_string = value.get_string().get(s) == simdjson::SUCCESS;
    if (own_metadata(key) || key == "generateName") {
      if (!is_string && !value.is_null()) return make_error(-EINVAL, where + ": metadata." + std::string(key) + " must be a string");
      if (key == "name") d.name = s;
      if (key == "namespace") d.ns = s;
      if (key == "uid") d.uid = s;
      if (key == "creationTimestamp") d.created = s;
      if (key == "generateName") {
        generate_name = s;
        append_member(d.meta_rest, key, value);
      }
      continue;  // resourceVersion: the store's
    }
    if (key == "labels") {
      if (!value.is_object()) return make_error(-EINVAL, where + ": metadata.labels must be a map of strings");
      for (auto [lk, lv] : value.get_object()) {
        std::string_view v;
        if (lv.get_string().get(v) != simdjson::SUCCESS) {
          return make_error(-EINVAL, where + ": label " + std::string(lk) + " must be a string");
        }
        d.labels.emplace_back(std::string(lk), std::string(v));
      }
      std::sort(d.labels.begin(), d.labels.end());
    }
    append_member(d.meta_rest, key, value);
  }
  if (d.name.empty() && !generate_name.empty()) d.name = generate_name + random_suffix(rng);
  if (d.name.empty()) return make_error(-EINVAL, where + " (" + std::string(kind) + "): metadata.name is required");
  if (d.name.find('/') != std::string::npos || d.ns.find('/') != std::string::npos) {
    return make_error(-EINVAL, where + ": a name or namespace may not contain '/'");
  }
  if (!d.type->namespaced) {
    d.ns.clear();
  } else if (d.ns.empty()) {
    d.ns = "default";
  }
  for (auto [key, value] : members) {
    if (key == "kind" || key == "apiVersion" || key == "metadata") continue;
    append_member(d.body_rest, key, value);
  }
  d.fields.emplace_back("metadata.name", d.name);
  if (d.type->namespaced) d.fields.emplace_back("metadata.namespace", d.ns);
  for (const std::string& f : d.type->field_labels) {
    if (auto v = field_text(obj, f)) d.fields.emplace_back(f, std::move(*v));
  }
  std::sort(d.fields.begin(), d.fields.end());
  return d;
}

std::string_view string_at(element obj, std::string_view key) {
  std::string_view s;
  if (obj.is_object() && obj.get_object().at_key(key).get_string().get(s) == simdjson::SUCCESS) return s;
  return {};
}

// An object, or a List whose items are objects (typed Lists lend their kind).
Status collect(element e, const Lookup& lookup, std::mt19937_64& rng, std::vector<ObjectDraft>& out) {
  if (!e.is_object()) return make_error(-EINVAL, "object " + std::to_string(out.size() + 1) + ": not a JSON object");
  std::string_view api_version = string_at(e, "apiVersion");
  std::string_view kind = string_at(e, "kind");
  element items;
  if (kind.size() >= 4 && kind.substr(kind.size() - 4) == "List" &&
      e.get_object().at_key("items").get(items) == simdjson::SUCCESS) {
    if (!items.is_array()) return make_error(-EINVAL, std::string(kind) + ": items must be a list");
    const std::string_view item_kind = kind == "List" ? std::string_view{} : kind.substr(0, kind.size() - 4);
    for (element item : items.get_array()) {
      std::string_view ik = string_at(item, "kind");
      std::string_view iv = string_at(item, "apiVersion");
      if (ik.empty() && item_kind.empty()) {
        return make_error(-EINVAL, "object " + std::to_string(out.size() + 1) + ": item of a List without kind");
      }
      if (!item.is_object()) return make_error(-EINVAL, "object " + std::to_string(out.size() + 1) + ": not a JSON object");
      auto d = draft_of(item, iv.empty() ? api_version : iv, ik.empty() ? item_kind : ik, lookup, out.size(), rng);
      if (!d) return d.error();
      out.push_back(std::move(*d));
    }
    return {};
  }
  if (kind.empty() || api_version.empty()) {
    return make_error(-EINVAL, "object " + std::to_string(out.size() + 1) + ": apiVersion and kind are required");
  }
  auto d = draft_of(e, api_version, kind, lookup, out.size(), rng);
  if (!d) return d.error();
  out.push_back(std::move(*d));
  return {};
}

bool json_number(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

void yaml_value(const config::YamlView& v, JsonWriter& w, int depth) {
  if (depth > 200) {  // libyaml nests as deep as the input; JSON parsers do not
    w.null();
    return;
  }
  if (v.is_map()) {
    w.begin_object();
    for (size_t i = 0; i < v.size(); ++i) {
      w.key(v.key(i).scalar());
      yaml_value(v.value(i), w, depth + 1);
    }
    w.end_object();
  } else if (v.is_sequence()) {
    w.begin_array();
    for (size_t i = 0; i < v.size(); ++i) yaml_value(v.item(i), w, depth + 1);
    w.end_array();
  } else if (v.is_null()) {
    w.null();
  } else if (v.plain()) {
    const std::string_view s = v.scalar();
    if (s == "true" || s == "True" || s == "TRUE") {
      w.value(true);
    } else if (s == "false" || s == "False" || s == "FALSE") {
      w.value(false);
    } else if (json_number(s)) {
      w.raw(s);
    } else {
      w.value(s);
    }
  } else {
    w.value(v.scalar());
  }
}

}  // namespace

std::string KubeResourceType::singular() const {
  std::string s = kind;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::vector<std::string> KubeResourceType::selectable_fields() const {
  std::vector<std::string> f{"metadata.name"};
  if (namespaced) f.emplace_back("metadata.namespace");
  f.insert(f.end(), field_labels.begin(), field_labels.end());
  return f;
}

std::vector<KubeResourceType> default_kube_resource_types() {
  const std::vector<std::string> core{"v1"};
  const std::vector<std::string> networking{"v1", "v1beta1", "v1alpha3"};
  const std::vector<std::string> security{"v1", "v1beta1"};
  return {
      {"", core, "services", "Service", true, {}},
      {"", core, "pods", "Pod", true, {"spec.nodeName", "spec.serviceAccountName", "status.phase", "status.podIP"}},
      {"", core, "namespaces", "Namespace", false, {"status.phase"}},
      {"", core, "secrets", "Secret", true, {"type"}},
      {"", core, "configmaps", "ConfigMap", true, {}},
      {"", core, "nodes", "Node", false, {"spec.unschedulable"}},
      {"discovery.k8s.io", {"v1"}, "endpointslices", "EndpointSlice", true, {}},
      {"networking.istio.io", networking, "virtualservices", "VirtualService", true, {}},
      {"networking.istio.io", networking, "destinationrules", "DestinationRule", true, {}},
      {"networking.istio.io", networking, "serviceentries", "ServiceEntry", true, {}},
      {"networking.istio.io", networking, "gateways", "Gateway", true, {}},
      {"networking.istio.io", networking, "sidecars", "Sidecar", true, {}},
      {"security.istio.io", security, "authorizationpolicies", "AuthorizationPolicy", true, {}},
      {"security.istio.io", security, "peerauthentications", "PeerAuthentication", true, {}},
  };
}

void StoredObject::append_full(std::string& out, std::string_view api_version, uint64_t as_rv) const {
  out += "{\"kind\":\"";
  out += type->kind;
  out += "\",\"apiVersion\":\"";
  out += api_version;
  out += "\",";
  out.append(json, 1, rv_pos - 1);
  out += std::to_string(as_rv);
  out.append(json, rv_pos + rv_len);
}

std::shared_ptr<StoredObject> ObjectDraft::publish(uint64_t rv) && {
  auto o = std::make_shared<StoredObject>();
  o->type = type;
  o->ns = ns;
  o->name = name;
  o->key = key();
  o->uid = uid;
  o->created = created;
  o->rv = rv;
  o->labels = std::move(labels);
  o->fields = std::move(fields);
  std::string& j = o->json;
  j.reserve(meta_rest.size() + body_rest.size() + name.size() + ns.size() + 160);
  j += "{\"metadata\":{\"name\":";
  j += JsonWriter::escape(name);
  if (!ns.empty()) {
    j += ",\"namespace\":";
    j += JsonWriter::escape(ns);
  }
  j += ",\"uid\":";
  j += JsonWriter::escape(uid);
  j += ",\"resourceVersion\":\"";
  o->rv_pos = j.size();
  j += std::to_string(rv);
  o->rv_len = j.size() - o->rv_pos;
  j += "\",\"creationTimestamp\":";
  j += JsonWriter::escape(created);
  j += meta_rest;
  j += '}';
  j += body_rest;
  j += '}';
  return o;
}

Result<std::string> yaml_to_json_array(std::string_view yaml) {
  config::YamlStream stream(yaml);
  if (!stream.error().empty()) {
    return make_error(-EINVAL, "YAML line " + std::to_string(stream.error_line()) + ": " + stream.error());
  }
  JsonWriter w;
  w.begin_array();
  for (size_t i = 0; i < stream.size(); ++i) {
    if (stream.root(i).is_null()) continue;  // "---" with nothing after it
    yaml_value(stream.root(i), w, 0);
  }
  w.end_array();
  return std::move(w).str();
}

Result<std::vector<ObjectDraft>> parse_kube_objects(std::string_view text, const std::vector<KubeResourceType>& types) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  std::string json;
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    json = text;
  } else {
    auto converted = yaml_to_json_array(text);
    if (!converted) return converted.error();
    json = std::move(*converted);
  }
  simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(simdjson::padded_string(json)).get(root); err != simdjson::SUCCESS) {
    return make_error(-EINVAL, std::string("JSON: ") + simdjson::error_message(err));
  }
  std::mt19937_64 rng{std::random_device{}()};
  const Lookup lookup{types};
  std::vector<ObjectDraft> out;
  if (root.is_array()) {
    for (element e : root.get_array()) {
      if (Status s = collect(e, lookup, rng, out); !s) return s.error();
    }
  } else if (Status s = collect(root, lookup, rng, out); !s) {
    return s.error();
  }
  return out;
}

std::string kube_status_json(int code, std::string_view reason, std::string_view message, std::string_view details_json,
                             std::string_view continue_token) {
  JsonWriter w;
  w.begin_object();
  w.key("kind").value("Status");
  w.key("apiVersion").value("v1");
  w.key("metadata").begin_object();
  if (!continue_token.empty()) w.key("continue").value(continue_token);
  w.end_object();
  w.key("status").value("Failure");
  w.key("message").value(message);
  w.key("reason").value(reason);
  if (!details_json.empty()) w.key("details").raw(details_json);
  w.key("code").value(code);
  w.end_object();
  return std::move(w).str();
}

std::string rfc3339_now() {
  const time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_uid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t hi = rng();
  const uint64_t lo = rng();
  unsigned char b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<unsigned char>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<unsigned char>(lo >> (56 - 8 * i));
  }
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += kHex[b[i] >> 4];
    s += kHex[b[i] & 0xf];
  }
  return s;
}

std::string base64_encode(std::string_view bytes, bool url) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  if (url) {  // RawURLEncoding, as the API's continue tokens
    while (!out.empty() && out.back() == '=') out.pop_back();
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string in(text);
  std::replace(in.begin(), in.end(), '-', '+');
  std::replace(in.begin(), in.end(), '_', '/');
  while (!in.empty() && in.back() == '=') in.pop_back();
  size_t padding = (4 - in.size() % 4) % 4;
  if (padding == 3) return make_error(-EINVAL, "invalid base64");
  in.append(padding, '=');
  std::string out(in.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return make_error(-EINVAL, "invalid base64");
  out.resize(static_cast<size_t>(n) - padding);  // EVP_DecodeBlock counts the padding as zero bytes
  return out;
}

}  // namespace sluice::testing
