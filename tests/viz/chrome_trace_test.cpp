#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/test_timelines.h"
#include "viz/chrome_trace.h"

using namespace pipekit;
using nlohmann::json;

TEST_SUITE_BEGIN("viz");

namespace {

// Checks that X slices on each (pid, tid) nest or are disjoint (1 ns slack for
// printing); returns the number of X slices checked.
int check_nesting(const json& events) {
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;
  int n = 0;
  for (const auto& e : events) {
    if (e["ph"] != "X") continue;
    CHECK(e["dur"].get<double>() >= 0);
    double ts = e["ts"].get<double>();
    tracks[{e["pid"].get<int>(), e["tid"].get<int>()}].push_back({ts, ts + e["dur"].get<double>()});
    ++n;
  }
  const double eps = 1e-3;
  for (auto& [key, v] : tracks) {
    std::sort(v.begin(), v.end(),
              [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
    std::vector<double> open;
    for (auto& [s, e] : v) {
      while (!open.empty() && open.back() <= s + eps) open.pop_back();
      if (!open.empty())
        CHECK_MESSAGE(e <= open.back() + eps,
                      "partial overlap on pid " << key.first << " tid " << key.second);
      open.push_back(e);
    }
  }
  return n;
}

}  // namespace

TEST_CASE("Perfetto trace - slices and thread names and flows and counters and bubbles") {
  Timeline t = test::make_test_timeline({});
  json j = json::parse(render_chrome_trace(t));
  const json& ev = j["traceEvents"];
  REQUIRE(ev.is_array());
  CHECK(check_nesting(ev) > static_cast<int>(t.events.size()));  // events plus bubbles

  std::set<std::string> procs;
  std::map<int, std::set<std::string>> threads;
  int x = 0, bubbles = 0, counters = 0;
  std::map<long, int> flow_s, flow_f;
  for (const auto& e : ev) {
    std::string ph = e["ph"];
    if (ph == "M" && e["name"] == "process_name") procs.insert(e["args"]["name"].get<std::string>());
    if (ph == "M" && e["name"] == "thread_name")
      threads[e["pid"]].insert(e["args"]["name"].get<std::string>());
    if (ph == "X" && e["name"] == "bubble")
      ++bubbles;
    else if (ph == "X")
      ++x;
    if (ph == "C") {
      ++counters;
      CHECK(e["args"].contains("activations"));
    }
    if (ph == "s") flow_s[e["id"].get<long>()]++;
    if (ph == "f") {
      flow_f[e["id"].get<long>()]++;
      CHECK(e["bp"] == "e");
    }
  }
  CHECK(procs == std::set<std::string>{"rank 0", "rank 1", "rank 2", "rank 3"});
  for (int r = 0; r < 4; ++r) CHECK(threads[r] == std::set<std::string>{"compute", "send", "recv"});
  CHECK(x == static_cast<int>(t.events.size()));
  CHECK(bubbles > 0);
  CHECK(counters == static_cast<int>(t.memory.size()));
  // Every send has exactly one matching receive: 3 links x 8 micro-batches x (F + B).
  CHECK(flow_s.size() == 48);
  CHECK(flow_s == flow_f);

  // The first X event is 0F0 with the real duration in microseconds.
  bool found = false;
  for (const auto& e : ev)
    if (e["ph"] == "X" && e["name"] == "0F0") {
      CHECK(e["dur"].get<double>() == doctest::Approx(1000));
      CHECK(e["ts"].get<double>() == doctest::Approx(0));
      found = true;
    }
  CHECK(found);
}

TEST_CASE("Perfetto trace - flows join SEND_F to RECV_F of the next stage on the right ranks") {
  Timeline t = test::make_test_timeline({});
  json j = json::parse(render_chrome_trace(t));
  std::map<long, json> s, f;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "s") s[e["id"].get<long>()] = e;
    if (e["ph"] == "f") f[e["id"].get<long>()] = e;
  }
  for (auto& [id, e] : s) {
    int from = e["pid"], to = f[id]["pid"];
    CHECK(std::abs(from - to) == 1);
    CHECK(e["tid"] == 1);      // send thread
    CHECK(f[id]["tid"] == 2);  // recv thread
    std::string name = e["name"];
    if (name.rfind("act", 0) == 0)
      CHECK(to == from + 1);
    else
      CHECK(to == from - 1);
  }
}

TEST_CASE("Perfetto trace - partially overlapping events on one stream go to an extra thread") {
  Timeline t;
  t.num_ranks = 1;
  t.step_time_ms = 10;
  auto add = [&](double a, double b, int mb) {
    TimelineEvent e;
    e.action = {0, ActionType::F, mb};
    e.start_ms = a;
    e.end_ms = b;
    t.events.push_back(e);
  };
  add(0, 4, 0);
  add(2, 6, 1);    // overlaps 0F0 partially
  add(2.5, 3, 2);  // nests inside 0F1
  add(4, 5, 3);    // after 0F0 ends: back on the main thread
  json j = json::parse(render_chrome_trace(t));
  check_nesting(j["traceEvents"]);
  std::map<std::string, int> tid;
  bool extra_named = false;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "X") tid[e["name"]] = e["tid"];
    if (e["ph"] == "M" && e["name"] == "thread_name" && e["args"]["name"] == "compute #2") extra_named = true;
  }
  CHECK(tid["0F0"] == 0);
  CHECK(tid["0F1"] != 0);
  CHECK(tid["0F3"] == 0);
  CHECK(extra_named);
}

TEST_SUITE_END();
