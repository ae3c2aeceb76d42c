#include "planner/antichain_dag.h"

#include <algorithm>
#include <bit>
#include <map>
#include <unordered_map>

namespace pipekit {
namespace {

using Bits = std::vector<std::uint64_t>;

bool test(const Bits& b, int i) {
  return (b[static_cast<std::size_t>(i) >> 6] >> (i & 63)) & 1u;
}
void set(Bits& b, int i) {
  b[static_cast<std::size_t>(i) >> 6] |= std::uint64_t{1} << (i & 63);
}

struct KeyHash {
  std::size_t operator()(const std::vector<int>& v) const {
    std::size_t h = v.size();
    for (int x : v) h = h * 1000003u ^ static_cast<std::size_t>(x);
    return h;
  }
};

// The kept layers as a compact DAG in profile (topological) order.
struct Dag {
  std::vector<int> layer;                 // compact -> profile index
  std::vector<std::vector<int>> out, in;  // compact indices
  std::vector<Bits> pred, succ;           // transitive, excluding self
  int words = 0;
};

Dag compact_dag(const Profile& p, const std::vector<bool>& dropped) {
  Dag d;
  const int n = static_cast<int>(p.layers.size());
  std::vector<int> compact(n, -1);
  for (int i = 0; i < n; ++i)
    if (!dropped[i]) {
      compact[i] = static_cast<int>(d.layer.size());
      d.layer.push_back(i);
    }
  const int k = static_cast<int>(d.layer.size());
  d.out.assign(k, {});
  d.in.assign(k, {});
  if (p.edges.empty()) {
    for (int i = 0; i + 1 < k; ++i) {
      d.out[i].push_back(i + 1);
      d.in[i + 1].push_back(i);
    }
  } else {
    for (auto [a, b] : p.edges)
      if (compact[a] >= 0 && compact[b] >= 0) {
        d.out[compact[a]].push_back(compact[b]);
        d.in[compact[b]].push_back(compact[a]);
      }
  }
  d.words = (k + 63) / 64;
  d.pred.assign(k, Bits(d.words, 0));
  d.succ.assign(k, Bits(d.words, 0));
  for (int v = 0; v < k; ++v)
    for (int u : d.in[v]) {
      for (int w = 0; w < d.words; ++w) d.pred[v][w] |= d.pred[u][w];
      set(d.pred[v], u);
    }
  for (int v = k - 1; v >= 0; --v)
    for (int u : d.out[v]) {
      for (int w = 0; w < d.words; ++w) d.succ[v][w] |= d.succ[u][w];
      set(d.succ[v], u);
    }
  return d;
}

// PipeDream's antichain enumeration (graph.py: augment_antichain,
// deaugment_augmented_antichain, next_antichains, antichain_dag), on bitsets.
class AntichainEnumerator {
 public:
  explicit AntichainEnumerator(const Dag& d) : d_(d) {}

  const std::vector<int>& augment(const std::vector<int>& a) {
    auto it = augmented_.find(a);
    if (it != augmented_.end()) return it->second;
    std::vector<int> result;
    std::vector<char> extra(d_.layer.size(), 0);
    for (int x : a) {
      const Bits& px = d_.pred[x];
      for (int w = 0; w < d_.words; ++w)
        for (std::uint64_t bits = px[w]; bits; bits &= bits - 1) {
          int p = w * 64 + std::countr_zero(bits);
          if (extra[p]) continue;
          for (int v : d_.out[p])
            if (v != x && !test(px, v)) {
              extra[p] = 1;
              break;
            }
        }
    }
    for (std::size_t i = 0; i < extra.size(); ++i)
      if (extra[i]) result.push_back(static_cast<int>(i));
    for (int x : a) result.push_back(x);
    std::sort(result.begin(), result.end());
    result.erase(std::unique(result.begin(), result.end()), result.end());
    return augmented_.emplace(a, std::move(result)).first->second;
  }

  std::vector<int> deaugment(const std::vector<int>& x) const {
    std::vector<int> out;
    for (int a : x) {
      bool has_successor_inside = false;
      for (int b : x)
        if (test(d_.succ[a], b)) {
          has_successor_inside = true;
          break;
        }
      if (!has_successor_inside) out.push_back(a);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  std::vector<std::vector<int>> next(const std::vector<int>& a) {
    std::vector<std::vector<int>> result;
    const std::vector<int> aug = augment(a);
    for (int u : aug)
      for (int v : d_.out[u]) {
        if (std::binary_search(a.begin(), a.end(), v)) continue;
        bool ok = true;
        for (int y : aug)
          if (test(d_.succ[v], y)) {
            ok = false;
            break;
          }
        if (!ok) continue;
        std::vector<int> replaced = aug;
        for (int& y : replaced)
          if (y == u) y = v;
        result.push_back(deaugment(replaced));
      }
    return result;
  }

 private:
  const Dag& d_;
  std::unordered_map<std::vector<int>, std::vector<int>, KeyHash> augmented_;
};

void fill_sums(const Profile& p, const Dag& d, DpStates& s, const std::vector<int>& boundary_nodes,
               const Bits& covered_compact) {
  double c = 0, act = 0, saved = 0, par = 0, out = 0;
  Bits covered(static_cast<std::size_t>((p.layers.size() + 63) / 64), 0);
  for (int w = 0; w < d.words; ++w)
    for (std::uint64_t bits = covered_compact[w]; bits; bits &= bits - 1) {
      int v = w * 64 + std::countr_zero(bits);
      const Layer& l = p.layers[d.layer[v]];
      c += (l.forward_ms + l.backward_ms) / 1000.0;
      act += static_cast<double>(l.output_bytes);
      saved += static_cast<double>(l.saved_bytes);
      par += static_cast<double>(l.param_bytes);
      set(covered, d.layer[v]);
    }
  for (int v : boundary_nodes) out += static_cast<double>(p.layers[d.layer[v]].output_bytes);
  s.compute_s.push_back(c);
  s.activation_bytes.push_back(act);
  s.saved_bytes.push_back(saved);
  s.param_bytes.push_back(par);
  s.output_bytes.push_back(out);
  s.covered.push_back(std::move(covered));
}

// Prefix states (chain, or cut vertices of a DAG): cumulative sums in one pass.
DpStates prefix_states(const Profile& p, const Dag& d, const std::vector<int>& cut_positions,
                       DpStates::Kind kind) {
  DpStates s;
  s.kind = kind;
  s.num_layers = static_cast<int>(p.layers.size());
  const std::size_t words = (p.layers.size() + 63) / 64;
  Bits covered(words, 0);
  double c = 0, act = 0, saved = 0, par = 0;
  int next = 0;
  for (int cut : cut_positions) {
    for (; next <= cut; ++next) {
      const Layer& l = p.layers[d.layer[next]];
      c += (l.forward_ms + l.backward_ms) / 1000.0;
      act += static_cast<double>(l.output_bytes);
      saved += static_cast<double>(l.saved_bytes);
      par += static_cast<double>(l.param_bytes);
      set(covered, d.layer[next]);
    }
    s.compute_s.push_back(c);
    s.activation_bytes.push_back(act);
    s.saved_bytes.push_back(saved);
    s.param_bytes.push_back(par);
    // A final pseudo-cut after several sinks sends nothing on.
    const bool real_cut = cut + 1 == static_cast<int>(d.layer.size()) || d.out[cut].size() > 0;
    s.output_bytes.push_back(real_cut ? static_cast<double>(p.layers[d.layer[cut]].output_bytes) : 0.0);
    s.covered.push_back(covered);
  }
  s.preds.resize(cut_positions.size());
  for (std::size_t j = 0; j < cut_positions.size(); ++j)
    for (std::size_t k = 0; k < j; ++k) s.preds[j].push_back(static_cast<int>(k));
  s.is_chain_order = true;
  return s;
}

std::vector<int> cut_vertices(const Dag& d) {
  const int k = static_cast<int>(d.layer.size());
  std::vector<int> cuts;
  int reach = 0;  // furthest consumer of any layer before position t
  for (int t = 0; t < k; ++t) {
    int ancestors = 0;
    for (auto w : d.pred[t]) ancestors += std::popcount(w);
    if (reach <= t && ancestors == t) cuts.push_back(t);
    for (int v : d.out[t]) reach = std::max(reach, v);
  }
  if (cuts.empty() || cuts.back() != k - 1) cuts.push_back(k - 1);  // several sinks: one last state
  return cuts;
}

}  // namespace

std::string to_string(DpStates::Kind k) {
  switch (k) {
    case DpStates::Kind::chain:
      return "chain";
    case DpStates::Kind::antichain:
      return "antichain DAG";
    case DpStates::Kind::condensed:
      return "chain of blocks at cut vertices";
  }
  return "?";
}

std::vector<int> DpStates::layers_between(int before, int last) const {
  std::vector<int> out;
  for (int i = 0; i < num_layers; ++i) {
    const bool in_last = test(covered[last], i);
    const bool in_before = before >= 0 && test(covered[before], i);
    if (in_last && !in_before) out.push_back(i);
  }
  return out;
}

std::vector<bool> pipedream_dropped_layers(const Profile& p) {
  std::vector<bool> has_consumer(p.layers.size(), false);
  for (auto [a, b] : p.edges) has_consumer[a] = true;
  std::vector<bool> dropped(p.layers.size(), false);
  if (p.edges.empty()) return dropped;  // a chain: PipeDream keeps the single sink
  for (std::size_t i = 0; i < p.layers.size(); ++i) {
    const Layer& l = p.layers[i];
    if (!has_consumer[i] &&
        (l.description.rfind("__getitem__", 0) == 0 || l.kind.rfind("__getitem__", 0) == 0))
      dropped[i] = true;
  }
  if (std::all_of(dropped.begin(), dropped.end(), [](bool b) { return b; }))
    dropped.assign(dropped.size(), false);
  return dropped;
}

DpStates build_dp_states(const Profile& p, const std::vector<bool>& dropped, int max_states) {
  const Dag d = compact_dag(p, dropped);
  const int k = static_cast<int>(d.layer.size());
  bool chain = true;
  for (int v = 0; v + 1 < k && chain; ++v) chain = d.out[v].size() == 1 && d.out[v][0] == v + 1;
  for (int v = 0; v < k && chain; ++v) chain = d.in[v].size() == (v == 0 ? 0u : 1u);
  if (chain) {
    std::vector<int> all(k);
    for (int i = 0; i < k; ++i) all[i] = i;
    return prefix_states(p, d, all, DpStates::Kind::chain);
  }

  // PipeDream's breadth-first enumeration from the first source.
  AntichainEnumerator e(d);
  int source = 0;
  while (source < k && !d.in[source].empty()) ++source;
  std::map<std::vector<int>, int> id;
  std::vector<std::vector<int>> antichains;
  std::vector<std::vector<int>> state_out;  // edges in insertion order
  std::vector<int> insertion;               // node insertion order of PipeDream's Graph
  std::vector<char> inserted;
  auto intern = [&](const std::vector<int>& a) {
    auto [it, fresh] = id.emplace(a, static_cast<int>(antichains.size()));
    if (fresh) {
      antichains.push_back(a);
      state_out.emplace_back();
      inserted.push_back(0);
    }
    return it->second;
  };
  auto insert_node = [&](int s) {
    if (!inserted[s]) {
      inserted[s] = 1;
      insertion.push_back(s);
    }
  };
  std::vector<std::vector<int>> queue{{source}};
  intern(queue[0]);
  std::vector<char> processed(1, 0);
  bool exploded = false;
  for (std::size_t q = 0; q < queue.size() && !exploded; ++q) {
    const std::vector<int> a = queue[q];
    const int from = id.at(a);
    if (processed[from]) continue;
    processed[from] = 1;
    for (auto& n : e.next(a)) {
      const int to = intern(n);
      if (static_cast<int>(antichains.size()) > max_states) {
        exploded = true;
        break;
      }
      processed.resize(antichains.size(), 0);
      insert_node(from);
      insert_node(to);
      state_out[from].push_back(to);
      queue.push_back(std::move(n));
    }
  }
  if (exploded) return prefix_states(p, d, cut_vertices(d), DpStates::Kind::condensed);
  if (insertion.empty()) insertion.push_back(0);

  // PipeDream's topological sort: depth-first from each node in insertion order,
  // children in edge order, a node prepended when finished.
  const int S = static_cast<int>(antichains.size());
  std::vector<char> mark(S, 0);
  std::vector<int> finished;
  for (int root : insertion) {
    if (mark[root]) continue;
    std::vector<std::pair<int, std::size_t>> stack{{root, 0}};
    mark[root] = 1;
    while (!stack.empty()) {
      auto& [v, i] = stack.back();
      if (i < state_out[v].size()) {
        int w = state_out[v][i++];
        if (!mark[w]) {
          mark[w] = 1;
          stack.push_back({w, 0});
        }
      } else {
        finished.push_back(v);
        stack.pop_back();
      }
    }
  }
  std::vector<int> order(finished.rbegin(), finished.rend());
  std::vector<int> index(S, -1);
  for (int i = 0; i < S; ++i) index[order[i]] = i;

  DpStates s;
  s.kind = DpStates::Kind::antichain;
  s.num_layers = static_cast<int>(p.layers.size());
  for (int st : order) {
    const std::vector<int>& aug = e.augment(antichains[st]);
    Bits covered(d.words, 0);
    for (int x : aug) {
      for (int w = 0; w < d.words; ++w) covered[w] |= d.pred[x][w];
      set(covered, x);
    }
    fill_sums(p, d, s, aug, covered);
  }
  // Transitive predecessors in the state DAG, over topological indices.
  const int words = (S + 63) / 64;
  std::vector<Bits> pred(S, Bits(words, 0));
  std::vector<std::vector<int>> in(S);
  for (int v = 0; v < S; ++v)
    for (int w : state_out[v]) in[index[w]].push_back(index[v]);
  s.preds.resize(S);
  for (int j = 0; j < S; ++j) {
    for (int u : in[j]) {
      for (int w = 0; w < words; ++w) pred[j][w] |= pred[u][w];
      set(pred[j], u);
    }
    for (int w = 0; w < words; ++w)
      for (std::uint64_t bits = pred[j][w]; bits; bits &= bits - 1)
        s.preds[j].push_back(w * 64 + std::countr_zero(bits));
    if (static_cast<int>(s.preds[j].size()) != j) s.is_chain_order = false;
  }
  return s;
}

}  // namespace pipekit
