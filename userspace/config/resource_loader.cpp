#include "resource_loader.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <set>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "object_reader.h"
#include "yaml_chunks.h"
#include "yaml_to_proto.h"

namespace sluice::config {

namespace fs = std::filesystem;

namespace {

// Follows path from node; returns the line of the deepest node reached. A
// map key may itself contain dots (labels), so the longest matching key wins.
int walk_line(YamlView node, std::string_view path, int line) {
  while (!path.empty()) {
    if (path.front() == '.') path.remove_prefix(1);
    if (!path.empty() && path.front() == '[') {
      size_t close = path.find(']');
      if (close == std::string_view::npos) return line;
      size_t i = std::strtoul(std::string(path.substr(1, close - 1)).c_str(), nullptr, 10);
      node = node.item(i);
      if (!node.defined()) return line;
      line = node.line();
      path.remove_prefix(close + 1);
      continue;
    }
    size_t best = std::string_view::npos, best_len = 0;
    for (size_t i = 0; i < node.size() && node.is_map(); ++i) {
      std::string_view k = node.key(i).scalar();
      if (k.size() <= best_len || !path.starts_with(k)) continue;
      // Only then is path[k.size()] inside path.
      const bool boundary = path.size() == k.size() || path[k.size()] == '.' || path[k.size()] == '[';
      if (boundary) {
        best = i;
        best_len = k.size();
      }
    }
    if (best == std::string_view::npos) return line;
    line = node.key(best).line();
    node = node.value(best);
    path.remove_prefix(best_len);
  }
  return line;
}

}  // namespace

std::string_view kind_name(std::string_view kind) {
  static constexpr std::string_view kKinds[] = {"VirtualService", "DestinationRule", "ServiceEntry", "Gateway",
                                                "Sidecar",        "EnvoyFilter",         "AuthorizationPolicy",
                                                "RateLimitPolicy",
                                                "Service",        "Pod",                 "EndpointSlice",
                                                "Secret",         "Namespace"};
  for (std::string_view k : kKinds) {
    if (k == kind) return k;
  }
  return {};
}

const std::string& Source::file() const {
  static const std::string kNone;
  return from ? from->file : kNone;
}

int Source::line_of(const std::string& path) const {
  if (!from || !from->text) return line;
  YamlStream stream(*from->text);
  if (document >= stream.size()) return line;
  YamlView root = stream.root(document);
  const int line_offset = from->line_offset;
  const int own = line - line_offset;  // lines below count within text
  const int at = walk_line(root, base, own);
  return line_offset + (base.empty() ? walk_line(root, path, own) : walk_line(root, base + "." + path, at));
}

namespace {

bool is_config_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

void collect_files(const fs::path& path, std::vector<std::string>& out, std::vector<Diagnostic>& diags) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.path().filename().string().starts_with(".")) continue;
      entries.push_back(e.path());
    }
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) {
      if (fs::is_directory(e, ec)) {
        collect_files(e, out, diags);
      } else if (is_config_file(e)) {
        out.push_back(e.string());
      }
    }
    return;
  }
  if (!fs::exists(path, ec)) {
    diags.push_back({Severity::kError, path.string(), 0, "", "", "no such file or directory"});
    return;
  }
  out.push_back(path.string());
}

}  // namespace

void ResourceSet::append(const ResourceSet& o) {
  auto add = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
  add(virtual_services, o.virtual_services);
  add(destination_rules, o.destination_rules);
  add(service_entries, o.service_entries);
  add(gateways, o.gateways);
  add(sidecars, o.sidecars);
  add(envoy_filters, o.envoy_filters);
  add(authorization_policies, o.authorization_policies);
  add(rate_limit_policies, o.rate_limit_policies);
  add(services, o.services);
  add(pods, o.pods);
  add(endpoint_slices, o.endpoint_slices);
  add(secrets, o.secrets);
  add(namespaces, o.namespaces);
}

void ResourceSet::add(const AnyResource& r) {
  for_each_list([&](auto& list) {
    using Ptr = typename std::decay_t<decltype(list)>::value_type;
    if (const Ptr* p = std::get_if<Ptr>(&r)) list.push_back(*p);
  });
}

void ResourceSet::remove_unordered(const AnyResource& r) {
  for_each_list([&](auto& list) {
    using Ptr = typename std::decay_t<decltype(list)>::value_type;
    const Ptr* p = std::get_if<Ptr>(&r);
    if (!p) return;
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i] == *p) {
        list[i] = std::move(list.back());
        list.pop_back();
        return;
      }
    }
  });
}

AnyResource ResourceSet::first() const {
  AnyResource out;
  for_each_list([&](const auto& list) {
    if (!list.empty() && std::holds_alternative<std::monostate>(out)) out = list.front();
  });
  return out;
}

std::shared_ptr<const FileResources> ResourceCache::find(const std::string& path, const Identity& id) const {
  auto it = entries_.find(path);
  if (it == entries_.end() || !(it->second.id == id)) return nullptr;
  const int64_t trusted_before = it->second.read_ns - kTimestampSlackNs;
  if (id.mtime_ns >= trusted_before || id.ctime_ns >= trusted_before) return nullptr;  // racily clean
  return it->second.resources;
}

std::shared_ptr<const FileResources> ResourceCache::previous(const std::string& path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : it->second.resources;
}

void ResourceCache::store(const std::string& path, const Identity& id, int64_t read_ns,
                          std::shared_ptr<const FileResources> r) {
  entries_[path] = {id, read_ns, std::move(r)};
}

void ResourceCache::retain(const std::vector<std::string>& present) {
  std::set<std::string> keep(present.begin(), present.end());
  std::erase_if(entries_, [&](const auto& e) { return !keep.count(e.first); });
}

namespace {

// Reads the resources of text into `into`; false on a YAML syntax error.
bool read_yaml(std::shared_ptr<const std::string> text, const std::string& name, LoadResult& into, int line_offset) {
  const size_t first_diagnostic = into.diagnostics.size();
  YamlStream stream(*text);
  const bool parsed = stream.error().empty();
  if (!parsed) {
    into.diagnostics.push_back({Severity::kError, name, stream.error_line(), "", "", "invalid YAML: " + stream.error()});
  } else {
    auto origin = std::make_shared<const SourceText>(SourceText{name, text, line_offset});
    ObjectReader<YamlView> reader(origin, into.resources, into.diagnostics);
    for (size_t i = 0; i < stream.size(); ++i) reader.read(stream.root(i), i);
  }
  // Diagnostics carry the lines of the text; make them the file's.
  for (size_t i = first_diagnostic; i < into.diagnostics.size(); ++i) {
    if (into.diagnostics[i].line > 0) into.diagnostics[i].line += line_offset;
  }
  return parsed;
}

}  // namespace

void load_yaml_text(const std::string& text, const std::string& name, LoadResult& into, int line_offset) {
  // Nothing from a text with a syntax error is used: half a file could
  // silently drop the resources after the error.
  LoadResult one;
  if (!read_yaml(std::make_shared<const std::string>(text), name, one, line_offset)) one.resources = {};
  into.resources.append(one.resources);
  into.diagnostics.insert(into.diagnostics.end(), one.diagnostics.begin(), one.diagnostics.end());
}

namespace {

std::shared_ptr<const ParsedChunk> parse_chunk(const YamlChunk& piece, const std::string& file) {
  auto out = std::make_shared<ParsedChunk>();
  out->text = std::make_shared<const std::string>(piece.text);
  out->line_offset = piece.line_offset;
  LoadResult one;
  out->syntax_error = !read_yaml(out->text, file, one, piece.line_offset);
  out->resources = std::move(one.resources);
  out->diagnostics = std::move(one.diagnostics);
  return out;
}

// The same document at another place in the file: the same resources with
// their lines moved.
std::shared_ptr<const ParsedChunk> moved_chunk(const ParsedChunk& from, int line_offset) {
  auto out = std::make_shared<ParsedChunk>(from);
  const int delta = line_offset - from.line_offset;
  out->line_offset = line_offset;
  std::map<const SourceText*, std::shared_ptr<const SourceText>> moved;  // one per text, shared again
  out->resources.for_each_list([&](auto& list) {
    for (auto& r : list) {
      auto copy = std::make_shared<std::remove_cvref_t<decltype(*r)>>(*r);
      auto& from = moved[r->source.from.get()];
      if (!from) {
        auto text = std::make_shared<SourceText>(*r->source.from);
        text->line_offset += delta;
        from = std::move(text);
      }
      copy->source.from = from;
      copy->source.line += delta;
      r = std::move(copy);
    }
  });
  for (Diagnostic& d : out->diagnostics) {
    if (d.line > 0) d.line += delta;
  }
  return out;
}

// Parses file, taking unchanged documents from what it held before.
std::shared_ptr<const FileResources> parse_file(const std::string& file, const FileResources* before,
                                                size_t& documents_parsed) {
  auto out = std::make_shared<FileResources>();
  std::ifstream in(file);
  if (!in) {
    out->diagnostics.push_back({Severity::kError, file, 0, "", "", "cannot read file"});
    return out;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  std::unordered_map<std::string_view, const std::shared_ptr<const ParsedChunk>*> known;
  if (before) {
    for (const auto& c : before->chunks) known.emplace(*c->text, &c);
  }
  for (const YamlChunk& piece : split_yaml_documents(text)) {
    std::shared_ptr<const ParsedChunk> chunk;
    if (auto it = known.find(piece.text); it != known.end()) {
      const auto& old = *it->second;
      chunk = old->line_offset == piece.line_offset ? old : moved_chunk(*old, piece.line_offset);
    } else {
      chunk = parse_chunk(piece, file);
      ++documents_parsed;
    }
    out->chunks.push_back(std::move(chunk));
  }
  for (const auto& c : out->chunks) {
    if (c->syntax_error) {
      // Nothing from a file with a syntax error is used: half a file could
      // silently drop the resources after the error.
      out->diagnostics = c->diagnostics;
      return out;
    }
  }
  for (const auto& c : out->chunks) {
    out->resources.append(c->resources);
    out->diagnostics.insert(out->diagnostics.end(), c->diagnostics.begin(), c->diagnostics.end());
  }
  return out;
}

}  // namespace

LoadResult load_resources(const std::vector<std::string>& paths, ResourceCache* cache) {
  LoadResult result;
  for (const std::string& p : paths) collect_files(p, result.files, result.diagnostics);

  // Find what the cache already has; parse the rest on all cores.
  const int64_t read_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  const size_t n = result.files.size();
  std::vector<ResourceCache::Identity> ids(n);
  std::vector<std::shared_ptr<const FileResources>> parsed(n);
  std::vector<std::shared_ptr<const FileResources>> before(n);
  std::vector<size_t> todo;
  for (size_t i = 0; i < n; ++i) {
    struct stat st {};
    if (::stat(result.files[i].c_str(), &st) == 0) {
      ids[i] = {st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size),
                st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
    }
    if (cache) parsed[i] = cache->find(result.files[i], ids[i]);
    if (parsed[i]) continue;
    if (cache) before[i] = cache->previous(result.files[i]);
    todo.push_back(i);
  }
  std::atomic<size_t> next{0};
  std::atomic<size_t> documents{0};
  auto worker = [&] {
    size_t mine = 0;
    for (size_t k; (k = next.fetch_add(1)) < todo.size();) {
      parsed[todo[k]] = parse_file(result.files[todo[k]], before[todo[k]].get(), mine);
    }
    documents += mine;
  };
  const size_t threads = std::min<size_t>(todo.size(), std::max(1u, std::min(4u, std::thread::hardware_concurrency())));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();

  result.files_parsed = todo.size();
  result.documents_parsed = documents;
  result.file_resources = parsed;
  std::vector<bool> fresh(n);
  for (size_t i : todo) fresh[i] = true;
  for (size_t i = 0; i < n; ++i) {
    if (cache && fresh[i]) cache->store(result.files[i], ids[i], read_ns, parsed[i]);
    result.resources.append(parsed[i]->resources);
    result.diagnostics.insert(result.diagnostics.end(), parsed[i]->diagnostics.begin(), parsed[i]->diagnostics.end());
  }
  if (cache) cache->retain(result.files);
  return result;
}

}  // namespace sluice::config
