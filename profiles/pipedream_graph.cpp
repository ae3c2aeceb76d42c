#include "profiles/pipedream_graph.h"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "core/formats.h"

namespace pipekit {
namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\r')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
  return v;
}

struct RawNode {
  std::string id, description;
  double fwd = 0, bwd = 0, act = 0, params = 0;
  int stage_id = -1;
  int line = 0;
  bool input = false;
};

// Batch sizes PipeDream's profiles were taken at (from the data set's README).
int known_batch_size(const std::string& model) {
  static const std::map<std::string, int> sizes = {
      {"vgg16", 128}, {"resnet50", 128}, {"alexnet", 256}, {"resnet101", 64}, {"densenet121", 64}};
  auto it = sizes.find(model);
  return it == sizes.end() ? 0 : it->second;
}

class LineParser {
 public:
  LineParser(const std::string& source, int line) : source_(source), line_(line) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(source_, fmt::format("line {}", line_), what);
  }
  double number(std::string_view text, std::string_view field) const {
    text = trim(text);
    double v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || !std::isfinite(v))
      fail(fmt::format("{}='{}' is not a number", field, text));
    if (v < 0) fail(fmt::format("{} is {}; it must be >= 0", field, v));
    return v;
  }
  // activation_size may be a list "[a; b; c]" for multi-output nodes: its size is the sum.
  double size_value(std::string_view text, std::string_view field) const {
    text = trim(text);
    if (text.empty() || text.front() != '[') return number(text, field);
    if (text.back() != ']') fail(fmt::format("{} list is not closed with ']'", field));
    text = text.substr(1, text.size() - 2);
    double sum = 0;
    std::size_t p = 0;
    while (p <= text.size()) {
      std::size_t e = text.find(';', p);
      if (e == std::string_view::npos) e = text.size();
      sum += number(text.substr(p, e - p), field);
      p = e + 1;
    }
    return sum;
  }

 private:
  const std::string& source_;
  int line_;
};

RawNode parse_node_line(std::string_view line, const std::string& source, int line_no) {
  LineParser lp(source, line_no);
  RawNode n;
  n.line = line_no;
  std::size_t first = line.find(" -- ");
  std::size_t costs = line.find(" -- forward_compute_time=");
  if (first == std::string_view::npos || costs == std::string_view::npos || costs < first)
    lp.fail(
        "expected 'nodeN -- description -- forward_compute_time=F, backward_compute_time=B, "
        "activation_size=A, parameter_size=P'");
  n.id = std::string(trim(line.substr(0, first)));
  n.description = std::string(trim(line.substr(first + 4, costs > first + 4 ? costs - first - 4 : 0)));
  if (n.id.empty()) lp.fail("node has an empty name");
  n.input = n.description.rfind("Input", 0) == 0;
  std::string_view rest = line.substr(costs + 4);
  if (auto st = rest.find(" -- stage_id="); st != std::string_view::npos) {
    n.stage_id = static_cast<int>(lp.number(rest.substr(st + 13), "stage_id"));
    rest = rest.substr(0, st);
  }
  bool seen[4] = {false, false, false, false};
  std::size_t p = 0;
  // Fields are separated by ", " but a list value uses ';', so plain splitting on ',' is safe.
  while (p < rest.size()) {
    std::size_t e = rest.find(',', p);
    if (e == std::string_view::npos) e = rest.size();
    std::string_view field = trim(rest.substr(p, e - p));
    p = e + 1;
    if (field.empty()) continue;
    auto eq = field.find('=');
    if (eq == std::string_view::npos) lp.fail(fmt::format("'{}' is not key=value", field));
    std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
    if (key == "forward_compute_time")
      n.fwd = lp.number(value, key), seen[0] = true;
    else if (key == "backward_compute_time")
      n.bwd = lp.number(value, key), seen[1] = true;
    else if (key == "activation_size")
      n.act = lp.size_value(value, key), seen[2] = true;
    else if (key == "parameter_size")
      n.params = lp.size_value(value, key), seen[3] = true;
    else
      lp.fail(fmt::format("unknown field '{}'", key));
  }
  const char* names[4] = {"forward_compute_time", "backward_compute_time", "activation_size",
                          "parameter_size"};
  for (int i = 0; i < 4; ++i)
    if (!seen[i]) lp.fail(fmt::format("node {} has no {}", n.id, names[i]));
  return n;
}

// Number in "node123", for a stable order; nodes without one sort after, by appearance.
long node_number(const std::string& id) {
  std::size_t i = id.size();
  while (i > 0 && id[i - 1] >= '0' && id[i - 1] <= '9') --i;
  if (i == id.size() || id.size() - i > 9) return 1L << 40;
  return std::stol(id.substr(i));
}

}  // namespace

bool looks_like_pipedream_graph(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c != '{';
  }
  return false;
}

Profile import_pipedream_graph(std::string_view text, const std::string& source,
                               const std::string& model_name) {
  std::vector<RawNode> nodes;
  std::unordered_map<std::string, int> index;
  std::vector<std::pair<int, int>> raw_edges;
  std::vector<int> edge_lines;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (trim(line).empty()) continue;
    if (line.front() == '\t' || line.front() == ' ') {
      std::string_view e = trim(line);
      auto sep = e.find(" -- ");
      if (sep == std::string_view::npos)
        throw InputError(source, fmt::format("line {}", line_no), "edge line must be 'nodeA -- nodeB'");
      std::string a(trim(e.substr(0, sep))), b(trim(e.substr(sep + 4)));
      auto ia = index.find(a), ib = index.find(b);
      if (ia == index.end() || ib == index.end())
        throw InputError(source, fmt::format("line {}", line_no),
                         fmt::format("edge {} -- {} names unknown node '{}'; nodes must be listed "
                                     "before edges",
                                     a, b, ia == index.end() ? a : b));
      raw_edges.emplace_back(ia->second, ib->second);
      edge_lines.push_back(line_no);
      continue;
    }
    if (!raw_edges.empty())
      throw InputError(source, fmt::format("line {}", line_no),
                       "node line after edge lines; graph.txt lists all nodes first");
    RawNode n = parse_node_line(line, source, line_no);
    if (index.count(n.id))
      throw InputError(
          source, fmt::format("line {}", line_no),
          fmt::format("node {} is defined twice (first on line {})", n.id, nodes[index[n.id]].line));
    index[n.id] = static_cast<int>(nodes.size());
    nodes.push_back(std::move(n));
  }
  if (nodes.empty()) throw InputError(source, "", "no nodes found; is this a PipeDream graph.txt?");

  // Topological order over model nodes (Kahn), ties by node number, so that a chain
  // comes out in order and reimporting is deterministic.
  const int n = static_cast<int>(nodes.size());
  std::vector<std::vector<int>> out(n);
  std::vector<int> indeg(n, 0);
  Profile p;
  p.model = model_name;
  for (std::size_t e = 0; e < raw_edges.size(); ++e) {
    auto [a, b] = raw_edges[e];
    if (a == b)
      throw InputError(source, fmt::format("line {}", edge_lines[e]),
                       fmt::format("node {} feeds itself", nodes[a].id));
    if (nodes[b].input)
      throw InputError(source, fmt::format("line {}", edge_lines[e]),
                       fmt::format("edge into input node {}", nodes[b].id));
    if (nodes[a].input) continue;
    out[a].push_back(b);
    ++indeg[b];
  }
  using Key = std::pair<long, int>;
  std::priority_queue<Key, std::vector<Key>, std::greater<>> ready;
  int model_nodes = 0;
  for (int i = 0; i < n; ++i) {
    if (nodes[i].input) {
      p.input_bytes += static_cast<std::int64_t>(std::llround(nodes[i].act));
      continue;
    }
    ++model_nodes;
    if (indeg[i] == 0) ready.push({node_number(nodes[i].id) * 4096 + i % 4096, i});
  }
  std::vector<int> layer_of(n, -1);
  while (!ready.empty()) {
    int v = ready.top().second;
    ready.pop();
    layer_of[v] = static_cast<int>(p.layers.size());
    const RawNode& r = nodes[v];
    Layer l;
    l.name = r.id;
    l.description = r.description;
    l.kind = r.description.substr(0, r.description.find('('));
    l.forward_ms = r.fwd;
    l.backward_ms = r.bwd;
    l.param_bytes = static_cast<std::int64_t>(std::llround(r.params));
    l.output_bytes = static_cast<std::int64_t>(std::llround(r.act));
    l.saved_bytes = l.output_bytes;
    p.layers.push_back(std::move(l));
    for (int w : out[v])
      if (--indeg[w] == 0) ready.push({node_number(nodes[w].id) * 4096 + w % 4096, w});
  }
  if (static_cast<int>(p.layers.size()) != model_nodes) {
    for (int i = 0; i < n; ++i)
      if (!nodes[i].input && layer_of[i] == -1)
        throw InputError(
            source, fmt::format("line {}", nodes[i].line),
            fmt::format("the graph has a cycle through node {}; a model must be a DAG", nodes[i].id));
  }
  for (auto [a, b] : raw_edges)
    if (!nodes[a].input) p.edges.emplace_back(layer_of[a], layer_of[b]);
  std::sort(p.edges.begin(), p.edges.end());
  p.edges.erase(std::unique(p.edges.begin(), p.edges.end()), p.edges.end());
  if (p.is_chain()) p.edges.clear();
  p.device = "gpu";
  p.microbatch_size = known_batch_size(model_name);
  p.meta["source"] = "PipeDream profiler graph.txt (github.com/msr-fiddle/pipedream, MIT licence)";
  p.meta["times"] = "milliseconds per minibatch";
  validate(p, source);
  return p;
}

Profile load_profile(const std::string& path) {
  std::string text = read_text_file(path);
  if (looks_like_pipedream_graph(text)) {
    std::filesystem::path fp(path);
    std::string model = fp.parent_path().filename().string();
    if (model.empty() || model == ".") model = fp.stem().string();
    return import_pipedream_graph(text, path, model);
  }
  return profile_from_json(text, path);
}

}  // namespace pipekit
