// The discrete-event simulator against closed-form results for equal stages.
#include <doctest/doctest.h>

#include "core/error.h"
#include "core/formats.h"
#include "tests/support/sim_test_support.h"

using namespace pipekit;
using pipekit::test::make_schedule;
using pipekit::test::run_synthetic;

TEST_CASE("gpipe and 1f1b: step (m+p-1)(F+B), bubble (p-1)/(m+p-1), lowered or not") {
  for (std::string kind : {"gpipe", "1f1b"})
    for (int p : {1, 2, 4, 8})
      for (int m : {1, 3, 8, 16}) {
        CAPTURE(kind);
        CAPTURE(p);
        CAPTURE(m);
        Schedule s = make_schedule(kind, p, m);
        for (bool lower : {false, true}) {
          SimulationResult r = run_synthetic(lower ? lower_schedule(s) : s, 1.0, 2.0);
          CHECK(r.metrics.step_time_ms == doctest::Approx((m + p - 1) * 3.0));
          CHECK(r.metrics.bubble_fraction == doctest::Approx(double(p - 1) / (m + p - 1)));
          for (const auto& rk : r.metrics.ranks) {
            CHECK(rk.busy_ms == doctest::Approx(3.0 * m));
            CHECK(rk.bubble_fraction == doctest::Approx(double(p - 1) / (m + p - 1)));
          }
        }
      }
}

TEST_CASE("interleaved: bubble (p-1)/(v m + p-1)") {
  struct Case {
    int p, m, v;
  };
  for (Case c : {Case{2, 4, 2}, Case{4, 8, 2}, Case{4, 8, 3}, Case{3, 6, 4}}) {
    CAPTURE(c.p);
    CAPTURE(c.m);
    CAPTURE(c.v);
    Schedule s = make_schedule("interleaved", c.p, c.m, c.v);
    SimulationResult r = run_synthetic(s, 1.0, 2.0);
    CHECK(r.metrics.bubble_fraction == doctest::Approx(double(c.p - 1) / (c.v * c.m + c.p - 1)));
    CHECK(r.metrics.step_time_ms == doctest::Approx(3.0 * c.m + 3.0 * (c.p - 1) / c.v));
    SimulationResult lowered = run_synthetic(lower_schedule(s), 1.0, 2.0);
    CHECK(lowered.metrics.step_time_ms == doctest::Approx(r.metrics.step_time_ms));
  }
}

TEST_CASE("1f1b keeps at most p-s micro-batches in flight on stage s, gpipe keeps m") {
  const int p = 4, m = 8;
  SimulationResult one = run_synthetic(make_schedule("1f1b", p, m), 1.0, 2.0);
  SimulationResult gp = run_synthetic(make_schedule("gpipe", p, m), 1.0, 2.0);
  for (int s = 0; s < p; ++s) {
    CHECK(one.metrics.ranks[s].peak_inflight_microbatches == p - s);
    CHECK(gp.metrics.ranks[s].peak_inflight_microbatches == m);
  }
}

TEST_CASE("zb-h1: step m(F+I+W) + (p-1)(F+I-W) with F = I = W") {
  for (int p : {2, 4})
    for (int m : {4, 8, 12}) {
      CAPTURE(p);
      CAPTURE(m);
      // F = 1, B = 2 of which W = 1, so I = 1.
      SimulationResult r = run_synthetic(make_schedule("zb-h1", p, m), 1.0, 2.0, 1.0);
      CHECK(r.metrics.step_time_ms == doctest::Approx(m * 3.0 + (p - 1) * 1.0));
    }
}

TEST_CASE("pipedream and 2bw: steady-state time per minibatch is the slowest stage's") {
  const int p = 4;
  for (std::string kind : {"pipedream", "2bw"}) {
    CAPTURE(kind);
    const int m = kind == "2bw" ? 4 : 1;
    Schedule s = make_schedule(kind, p, m, 1, Recompute::never, 24);
    StageCosts c = synthetic_stage_costs(p, 1, 1.0, 2.0);
    c.stages[2].forward_ms = 1.5;  // the slowest stage: F + B = 4.5 ms
    c.stages[2].backward_ms = 3.0;
    SimOptions opt;
    opt.microbatches_per_minibatch = m;
    SimulationResult r = simulate(s, c, free_cluster(p), opt);
    CHECK(r.metrics.asynchronous);
    CHECK(r.metrics.minibatches == 24);
    CHECK(r.metrics.time_per_minibatch_ms == doctest::Approx(4.5 * m));
    CHECK(r.metrics.throughput_samples_per_s == doctest::Approx(m * 1000.0 / (4.5 * m)));
    // Backwards use the weights of their forward: versions recorded on compute events.
    bool versions = false;
    for (const auto& e : r.timeline.events)
      if (e.stream == Stream::compute && e.action.type == ActionType::B && e.weight_version > 0)
        versions = true;
    CHECK(versions);
  }
}

TEST_CASE("transfers: a 2-stage naive pipeline pays latency + bytes/bandwidth each way") {
  Schedule s = make_schedule("naive", 2, 1);
  StageCosts c = synthetic_stage_costs(2, 1, 3.0, 5.0, -1, 4'000'000);
  const double bw = 1e9, lat = 0.0005;            // 1 GB/s, 0.5 ms
  const double t_ms = (lat + 4e6 / bw) * 1000.0;  // 4.5 ms
  for (bool lower : {false, true}) {
    SimulationResult r = simulate(lower ? lower_schedule(s) : s, c, flat_cluster(2, bw, lat));
    CHECK(r.metrics.step_time_ms == doctest::Approx(2 * (3.0 + 5.0) + 2 * t_ms));
    int sends = 0;
    for (const auto& e : r.timeline.events)
      if (e.stream == Stream::send) {
        ++sends;
        CHECK(e.bytes == 4'000'000);
        CHECK(e.end_ms - e.start_ms == doctest::Approx(t_ms));
      }
    CHECK(sends == 2);
    // The receiving rank holds the transfer buffer while it is in flight.
    CHECK(r.metrics.ranks[1].peak_memory.buffers == 4'000'000);
  }
}

TEST_CASE("message overhead: each remote message costs its producer and its consumer o") {
  // 3 stages on 3 ranks, gpipe, m micro-batches: the middle rank receives and
  // sends in both directions (4 messages per micro-batch), the ends 2.
  const int m = 4;
  const double o = 0.25;
  for (bool lower : {false, true}) {
    Schedule s = make_schedule("gpipe", 3, m);
    if (lower) s = lower_schedule(s);
    SimOptions opt;
    const SimulationResult base = run_synthetic(s, 1.0, 2.0, -1, opt);
    opt.message_overhead_ms = o;
    const SimulationResult r = run_synthetic(s, 1.0, 2.0, -1, opt);
    CHECK(r.metrics.ranks[0].busy_ms == doctest::Approx(base.metrics.ranks[0].busy_ms + 2 * m * o));
    CHECK(r.metrics.ranks[1].busy_ms == doctest::Approx(base.metrics.ranks[1].busy_ms + 4 * m * o));
    CHECK(r.metrics.ranks[2].busy_ms == doctest::Approx(base.metrics.ranks[2].busy_ms + 2 * m * o));
    // The middle rank (F 1 + 2o, B 2 + 2o) paces both phases; the ends add one
    // F and one B each (one message each: 1 + o, 2 + o).
    CHECK(r.metrics.step_time_ms ==
          doctest::Approx(2 * (1 + o) + m * (1 + 2 * o) + 2 * (2 + o) + m * (2 + 2 * o)));
  }
  // Stages on one rank exchange nothing.
  Schedule one = make_schedule("gpipe", 1, m);
  SimOptions opt;
  opt.message_overhead_ms = o;
  CHECK(run_synthetic(one, 1.0, 2.0, -1, opt).metrics.step_time_ms == doctest::Approx(m * 3.0));
}

TEST_CASE("transfers overlap compute, one link direction carries one transfer at a time") {
  // gpipe p=2, m=3 with a transfer (4 ms) longer than the forward (1 ms): the
  // sends queue on the link, so stage 1's forwards start 4 ms apart.
  Schedule s = make_schedule("gpipe", 2, 3);
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1, 4'000'000);
  SimulationResult r = simulate(s, c, flat_cluster(2, 1e9, 0));
  std::vector<double> f_starts;
  for (const auto& e : r.timeline.events)
    if (e.rank == 1 && e.stream == Stream::compute && e.action.type == ActionType::F)
      f_starts.push_back(e.start_ms);
  REQUIRE(f_starts.size() == 3);
  CHECK(f_starts[0] == doctest::Approx(5.0));
  CHECK(f_starts[1] == doctest::Approx(9.0));
  CHECK(f_starts[2] == doctest::Approx(13.0));
  // Rank 0 kept computing while its first send was in flight.
  CHECK(r.metrics.ranks[0].span_ms > 0);
}

TEST_CASE("recompute: less activation memory, step longer by the recompute on the critical path") {
  const int p = 4, m = 8;
  StageCosts c = synthetic_stage_costs(p, 1, 1.0, 2.0, -1, /*activation*/ 100, /*saved*/ 1000, 0);
  SimulationResult plain = simulate(make_schedule("gpipe", p, m), c, free_cluster(p));
  SimulationResult rc = simulate(make_schedule("gpipe", p, m, 1, Recompute::always), c, free_cluster(p));
  CHECK(plain.metrics.ranks[0].peak_memory.activations == m * 1000);
  CHECK(rc.metrics.ranks[0].peak_memory.activations == m * 100 + 1000);
  // The last stage recomputes each micro-batch right before its backward: m F more.
  CHECK(rc.metrics.step_time_ms == doctest::Approx(plain.metrics.step_time_ms + m * 1.0));
  // The recompute events are there and cost a forward.
  int recomputes = 0;
  for (const auto& e : rc.timeline.events)
    if (e.action.type == ActionType::R) {
      ++recomputes;
      CHECK(e.end_ms - e.start_ms == doctest::Approx(1.0));
    }
  CHECK(recomputes == p * m);
}

TEST_CASE("a deadlocked schedule is reported with every rank's blocked action") {
  Schedule s;
  s.kind = "custom";
  s.actions = {{{0, ActionType::F, 0}, {0, ActionType::B, 0}},
               {{1, ActionType::B, 0}, {1, ActionType::F, 0}}};
  infer_schedule_shape(s, "test");
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0);
  try {
    simulate(s, c, free_cluster(2));
    FAIL("expected a deadlock error");
  } catch (const InputError& e) {
    std::string msg = e.what();
    CHECK(msg.find("deadlock") != std::string::npos);
    CHECK(msg.find("rank 0: blocked at action #1 0B0") != std::string::npos);
    CHECK(msg.find("1B0 (rank 1)") != std::string::npos);
    CHECK(msg.find("rank 1: blocked at action #0 1B0") != std::string::npos);
    CHECK(msg.find("1F0") != std::string::npos);
  }
}

TEST_CASE("a lowered schedule missing its send deadlocks, naming the receive it waits on") {
  Schedule s = lower_schedule(make_schedule("1f1b", 2, 2));
  // Drop rank 0's first SEND_F: rank 1 can never run 1F0.
  auto& r0 = s.actions[0];
  for (std::size_t i = 0; i < r0.size(); ++i)
    if (r0[i].type == ActionType::SEND_F) {
      r0.erase(r0.begin() + static_cast<long>(i));
      break;
    }
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0);
  try {
    simulate(s, c, free_cluster(2));
    FAIL("expected a deadlock error");
  } catch (const InputError& e) {
    std::string msg = e.what();
    CHECK(msg.find("rank 1: blocked at action") != std::string::npos);
    CHECK(msg.find("1F0") != std::string::npos);
    CHECK(msg.find("0SEND_F0 (rank 0), which has not run") != std::string::npos);
    CHECK(msg.find("rank 0: blocked at action") != std::string::npos);
  }
}

TEST_CASE("bad schedules are input errors, not crashes") {
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0);
  Schedule dup;
  dup.actions = {{{0, ActionType::F, 0}, {0, ActionType::F, 0}}, {}};
  dup.num_stages = 1;
  CHECK_THROWS_AS(simulate(dup, c, free_cluster(2)), InputError);
  Schedule two_ranks;
  two_ranks.actions = {{{0, ActionType::F, 0}}, {{0, ActionType::B, 0}}};
  CHECK_THROWS_AS(simulate(two_ranks, c, free_cluster(2)), InputError);
  Schedule too_many = make_schedule("1f1b", 4, 2);
  CHECK_THROWS_AS(simulate(too_many, c, free_cluster(4)), InputError);  // costs for 2 stages only
  Schedule empty;
  CHECK_THROWS_AS(simulate(empty, c, free_cluster(1)), InputError);
}

TEST_CASE("the timeline is valid and survives JSON") {
  Schedule s = lower_schedule(make_schedule("interleaved", 2, 4, 2));
  StageCosts c = synthetic_stage_costs(2, 2, 1.0, 2.0, -1, 1000, 500, 4000);
  SimulationResult r = simulate(s, c, flat_cluster(2, 1e6, 1e-4));
  validate(r.timeline, "sim");
  Timeline back = timeline_from_json(timeline_to_json(r.timeline), "json");
  CHECK(back.events.size() == r.timeline.events.size());
  CHECK(back.step_time_ms == doctest::Approx(r.metrics.step_time_ms));
  CHECK(back.memory.size() == r.timeline.memory.size());
  // Without a timeline the metrics are identical.
  SimOptions quick;
  quick.record_timeline = false;
  SimulationResult q = simulate(s, c, flat_cluster(2, 1e6, 1e-4), quick);
  CHECK(q.timeline.events.empty());
  CHECK(q.metrics.step_time_ms == r.metrics.step_time_ms);
  CHECK(q.metrics.ranks[0].peak_memory_bytes == r.metrics.ranks[0].peak_memory_bytes);
}

TEST_CASE("every generated schedule runs, lowered and unlowered agree, with transfers") {
  struct Case {
    std::string kind;
    int m, v;
  };
  for (const Case& c :
       {Case{"naive", 1, 1}, Case{"gpipe", 8, 1}, Case{"1f1b", 8, 1}, Case{"interleaved", 8, 2},
        Case{"pipedream", 4, 1}, Case{"2bw", 4, 1}, Case{"zb-h1", 8, 1}, Case{"zb-h2", 8, 1},
        Case{"zbv", 8, 2}, Case{"zb-auto", 8, 1}, Case{"zb-interleaved", 8, 2}, Case{"dualpipev", 8, 2}}) {
    CAPTURE(c.kind);
    Schedule s = make_schedule(c.kind, 4, c.m, c.v, Recompute::never, 4);
    StageCosts costs = synthetic_stage_costs(4, c.v, 1.0, 2.0, 1.0, 300'000, 1'000'000, 0);
    Cluster cl = flat_cluster(4, 1e9, 1e-4);
    SimulationResult a = simulate(s, costs, cl);
    SimulationResult b = simulate(lower_schedule(s), costs, cl);
    CHECK(a.metrics.step_time_ms == doctest::Approx(b.metrics.step_time_ms));
    CHECK(a.metrics.time_per_minibatch_ms == doctest::Approx(b.metrics.time_per_minibatch_ms));
    for (int r = 0; r < 4; ++r) {
      CHECK(a.metrics.ranks[r].peak_memory_bytes == b.metrics.ranks[r].peak_memory_bytes);
      // Busy time is exactly the rank's compute: m (F + B) per rank for equal stages.
      const int mbs = s.num_microbatches;
      CHECK(a.metrics.ranks[r].busy_ms == doctest::Approx(3.0 * mbs));
    }
    // Transfers make the step longer than the same schedule on free links.
    SimulationResult free = simulate(s, costs, free_cluster(4));
    CHECK(a.metrics.step_time_ms > free.metrics.step_time_ms);
  }
}

TEST_CASE("pipedream: switching weight versions costs a parameter copy where versions differ") {
  Schedule s = make_schedule("pipedream", 2, 4, 1, Recompute::never, 4);
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1);
  for (auto& st : c.stages) st.param_bytes = 1000000;  // 1 ms at 1 GB/s
  SimOptions free_copy;
  SimOptions paid = free_copy;
  paid.weight_copy_bytes_per_s = 1e9;
  const auto a = simulate(s, c, free_cluster(2), free_copy);
  const auto b = simulate(s, c, free_cluster(2), paid);
  // Each rank pays one copy per change of version between consecutive
  // compute actions of its stage (versions as the free run recorded them).
  for (int r = 0; r < 2; ++r) {
    int switches = 0, loaded = 0;
    for (const auto& e : a.timeline.events)
      if (e.rank == r && e.stream == Stream::compute && is_compute(e.action.type) && e.weight_version >= 0) {
        if (e.weight_version != loaded) ++switches;
        loaded = e.weight_version;
      }
    CAPTURE(r);
    CHECK(switches > 0);
    CHECK(b.metrics.ranks[r].busy_ms == doctest::Approx(a.metrics.ranks[r].busy_ms + switches * 1.0));
  }
  // Stage 0 keeps two versions in flight and alternates between them (F on
  // the newest, B on its forward's), so it switches more than the last stage.
  CHECK(b.metrics.ranks[0].busy_ms - a.metrics.ranks[0].busy_ms >
        b.metrics.ranks[1].busy_ms - a.metrics.ranks[1].busy_ms);
  CHECK(b.metrics.step_time_ms > a.metrics.step_time_ms);
  // Flush schedules never switch versions.
  Schedule f = make_schedule("1f1b", 2, 4);
  CHECK(simulate(f, c, free_cluster(2), paid).metrics.step_time_ms ==
        simulate(f, c, free_cluster(2), free_copy).metrics.step_time_ms);
}

TEST_CASE("a stage's own optimizer step cost replaces the common one") {
  Schedule s = make_schedule("1f1b", 2, 4);
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1);
  SimOptions o;
  o.step_ms = 5.0;
  c.stages[1].step_ms = 2.0;  // stage 0 keeps the common 5 ms
  const auto r = simulate(s, c, free_cluster(2), o);
  int steps = 0;
  for (const auto& e : r.timeline.events)
    if (e.action.type == ActionType::STEP) {
      ++steps;
      CHECK(e.end_ms - e.start_ms == doctest::Approx(e.rank == 0 ? 5.0 : 2.0));
    }
  CHECK(steps == 2);
  CHECK(r.metrics.ranks[0].busy_ms == doctest::Approx(4 * 3.0 + 5.0));
  CHECK(r.metrics.ranks[1].busy_ms == doctest::Approx(4 * 3.0 + 2.0));
}
