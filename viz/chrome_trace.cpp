#include "viz/chrome_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "viz/action_style.h"
#include "viz/timeline_summary.h"

namespace pipekit {
namespace {

using json = nlohmann::ordered_json;

// Integer nanoseconds, so nesting decisions are exact and survive printing.
std::int64_t to_ns(double ms) {
  return std::llround(ms * 1e6);
}
double ns_to_us(std::int64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

int base_tid(Stream s) {
  return static_cast<int>(s);
}

struct Placed {
  std::size_t index;
  std::int64_t start, end;
  int tid;
};

// Assigns each event of one (rank, stream) a thread on which all slices nest.
// Lane k keeps a stack of open slices; an event fits a lane when, after
// closing slices that ended before it starts, it lies inside the top one.
void assign_threads(std::vector<Placed>& ev, int base, std::map<int, int>& extra_names_for_base) {
  std::stable_sort(ev.begin(), ev.end(), [](const Placed& a, const Placed& b) {
    return a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  std::vector<std::vector<std::int64_t>> lanes;  // stack of open ends per lane
  for (auto& p : ev) {
    std::size_t k = 0;
    for (; k < lanes.size(); ++k) {
      auto& st = lanes[k];
      while (!st.empty() && st.back() <= p.start) st.pop_back();
      if (st.empty() || p.end <= st.back()) break;
    }
    if (k == lanes.size()) lanes.emplace_back();
    lanes[k].push_back(p.end);
    p.tid = k == 0 ? base : 100 + base * 10 + static_cast<int>(k);
    if (k > 0) extra_names_for_base[p.tid] = static_cast<int>(k);
  }
}

}  // namespace

std::string render_chrome_trace(const Timeline& t) {
  json events = json::array();
  const int ranks = std::max(t.num_ranks, 0);
  TimelineSummary sum = summarize(t);

  // Metadata: names and order of processes and threads.
  for (int r = 0; r < ranks; ++r) {
    events.push_back({{"ph", "M"},
                      {"name", "process_name"},
                      {"pid", r},
                      {"tid", 0},
                      {"args", {{"name", fmt::format("rank {}", r)}}}});
    events.push_back(
        {{"ph", "M"}, {"name", "process_sort_index"}, {"pid", r}, {"tid", 0}, {"args", {{"sort_index", r}}}});
    for (Stream s : {Stream::compute, Stream::send, Stream::recv}) {
      events.push_back({{"ph", "M"},
                        {"name", "thread_name"},
                        {"pid", r},
                        {"tid", base_tid(s)},
                        {"args", {{"name", std::string(to_string(s))}}}});
      events.push_back({{"ph", "M"},
                        {"name", "thread_sort_index"},
                        {"pid", r},
                        {"tid", base_tid(s)},
                        {"args", {{"sort_index", base_tid(s)}}}});
    }
  }

  // Place every event on a thread where slices nest.
  std::vector<int> tid_of(t.events.size(), 0);
  std::map<std::pair<int, int>, std::vector<Placed>> groups;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    if (e.rank < 0 || e.rank >= ranks) continue;
    groups[{e.rank, base_tid(e.stream)}].push_back(
        {i, to_ns(e.start_ms), std::max(to_ns(e.start_ms), to_ns(e.end_ms)), 0});
  }
  for (auto& [key, ev] : groups) {
    std::map<int, int> extra;
    assign_threads(ev, key.second, extra);
    for (const auto& p : ev) tid_of[p.index] = p.tid;
    for (auto [tid, k] : extra) {
      events.push_back(
          {{"ph", "M"},
           {"name", "thread_name"},
           {"pid", key.first},
           {"tid", tid},
           {"args", {{"name", fmt::format("{} #{}", to_string(static_cast<Stream>(key.second)), k + 1)}}}});
      events.push_back({{"ph", "M"},
                        {"name", "thread_sort_index"},
                        {"pid", key.first},
                        {"tid", tid},
                        {"args", {{"sort_index", tid}}}});
    }
  }

  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    if (e.rank < 0 || e.rank >= ranks) continue;
    std::int64_t s = to_ns(e.start_ms), d = std::max<std::int64_t>(0, to_ns(e.end_ms) - s);
    json args = {{"stage", e.action.stage}, {"microbatch", e.action.microbatch}};
    if (e.peer >= 0) args["peer"] = e.peer;
    if (e.bytes > 0) args["bytes"] = e.bytes;
    if (e.weight_version >= 0) args["weight_version"] = e.weight_version;
    events.push_back({{"ph", "X"},
                      {"name", to_string(e.action)},
                      {"cat", std::string(to_string(e.action.type))},
                      {"pid", e.rank},
                      {"tid", tid_of[i]},
                      {"ts", ns_to_us(s)},
                      {"dur", ns_to_us(d)},
                      {"args", args}});
  }

  // Bubbles: idle gaps of the compute stream, on the compute thread.
  for (const auto& rs : sum.ranks)
    for (const auto& g : rs.bubbles) {
      std::int64_t s = to_ns(g.start), d = to_ns(g.end) - s;
      if (d <= 0) continue;
      events.push_back({{"ph", "X"},
                        {"name", "bubble"},
                        {"cat", "bubble"},
                        {"pid", rs.rank},
                        {"tid", 0},
                        {"ts", ns_to_us(s)},
                        {"dur", ns_to_us(d)},
                        {"cname", "terrible"}});
    }

  // Flows from each send to its receive. Key: (forward?, receiving stage, micro-batch).
  std::map<std::tuple<bool, int, int>, std::vector<std::size_t>> recvs;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    if (e.rank < 0 || e.rank >= ranks) continue;
    if (e.action.type == ActionType::RECV_F || e.action.type == ActionType::RECV_B)
      recvs[{e.action.type == ActionType::RECV_F, e.action.stage, e.action.microbatch}].push_back(i);
  }
  for (auto& [k, v] : recvs)
    std::stable_sort(v.begin(), v.end(), [&](std::size_t x, std::size_t y) {
      return t.events[x].start_ms < t.events[y].start_ms;
    });
  std::vector<std::size_t> sends;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    if (e.rank >= 0 && e.rank < ranks &&
        (e.action.type == ActionType::SEND_F || e.action.type == ActionType::SEND_B))
      sends.push_back(i);
  }
  std::stable_sort(sends.begin(), sends.end(),
                   [&](std::size_t x, std::size_t y) { return t.events[x].start_ms < t.events[y].start_ms; });
  std::vector<bool> used(t.events.size(), false);
  int flow_id = 1;
  for (std::size_t si : sends) {
    const auto& s = t.events[si];
    bool fwd = s.action.type == ActionType::SEND_F;
    auto it = recvs.find({fwd, s.action.stage + (fwd ? 1 : -1), s.action.microbatch});
    if (it == recvs.end()) continue;
    for (std::size_t ri : it->second) {
      const auto& r = t.events[ri];
      if (used[ri] || (s.peer >= 0 && r.rank != s.peer) || (r.peer >= 0 && r.peer != s.rank)) continue;
      used[ri] = true;
      std::string name = fmt::format("{}{}", fwd ? "act " : "grad ", s.action.microbatch);
      std::int64_t s0 = to_ns(s.start_ms), r0 = to_ns(r.start_ms);
      events.push_back({{"ph", "s"},
                        {"id", flow_id},
                        {"name", name},
                        {"cat", "flow"},
                        {"pid", s.rank},
                        {"tid", tid_of[si]},
                        {"ts", ns_to_us(s0)}});
      events.push_back({{"ph", "f"},
                        {"bp", "e"},
                        {"id", flow_id},
                        {"name", name},
                        {"cat", "flow"},
                        {"pid", r.rank},
                        {"tid", tid_of[ri]},
                        {"ts", ns_to_us(r0)}});
      ++flow_id;
      break;
    }
  }

  // Memory counters, in MB per term, so Perfetto stacks them per rank.
  for (const auto& m : t.memory) {
    if (m.rank < 0 || m.rank >= ranks) continue;
    events.push_back({{"ph", "C"},
                      {"name", "memory MB"},
                      {"pid", m.rank},
                      {"ts", ns_to_us(to_ns(m.time_ms))},
                      {"args",
                       {{"weights", m.weights / 1e6},
                        {"master", m.master / 1e6},
                        {"gradients", m.gradients / 1e6},
                        {"optimizer", m.optimizer / 1e6},
                        {"activations", m.activations / 1e6},
                        {"buffers", m.buffers / 1e6}}}});
  }

  json root;
  root["traceEvents"] = std::move(events);
  root["displayTimeUnit"] = "ms";
  json meta = {{"schedule", t.schedule},
               {"source", t.source},
               {"num_ranks", t.num_ranks},
               {"num_microbatches", t.num_microbatches},
               {"virtual_stages", t.virtual_stages},
               {"step_time_ms", t.step_time_ms},
               {"bubble_fraction", sum.bubble_fraction}};
  for (const auto& [k, v] : t.meta) meta["meta." + k] = v;
  root["otherData"] = meta;
  return root.dump() + "\n";
}

}  // namespace pipekit
