// The cost-aware zero-bubble family: zb-auto, zb-interleaved, dualpipev, and
// zb-h1/zb-h2/zbv given a cost hint. Checked with the real simulator: under
// unequal costs a cost-aware order is never slower than the unit-cost order,
// and the memory cap holds both in the order and in simulated memory.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>

#include "core/error.h"
#include "passes/lowering.h"
#include "passes/schedule_validator.h"
#include "planner/schedule_costs.h"
#include "planner/schedule_generator.h"
#include "planner/schedules/zero_bubble_search.h"
#include "simulator/simulator.h"
#include "tests/support/make_schedule.h"

using namespace pipekit;

namespace {

Schedule generate(const std::string& kind, int p, int m, int v, const ScheduleCostHint& hint = {}) {
  ScheduleSpec spec;
  spec.kind = kind;
  spec.microbatches = m;
  spec.virtual_stages = v;
  spec.cost_hint = hint;
  return generate_schedule(spec, p);
}

// Per-stage costs drawn around an F:I:W ratio, each stage scaled by up to
// `spread` (unequal stages), as StageCosts for the simulator and as the hint.
struct Drawn {
  StageCosts costs;
  ScheduleCostHint hint;
};

Drawn draw(std::mt19937& rng, int stages, double f, double i, double w, double spread,
           std::int64_t saved_bytes = 0) {
  std::uniform_real_distribution<double> scale(1.0, spread);
  Drawn d;
  for (int s = 0; s < stages; ++s) {
    StageCost c;
    const double k = scale(rng);
    c.forward_ms = f * k * scale(rng);
    c.input_grad_ms = i * k * scale(rng);
    c.weight_grad_ms = w * k * scale(rng);
    c.backward_ms = c.input_grad_ms + c.weight_grad_ms;
    c.recompute_ms = c.forward_ms;
    c.saved_bytes = saved_bytes;
    d.costs.stages.push_back(c);
    d.hint.forward_ms.push_back(c.forward_ms);
    d.hint.input_grad_ms.push_back(c.input_grad_ms);
    d.hint.weight_grad_ms.push_back(c.weight_grad_ms);
  }
  d.costs.measured_split = true;
  return d;
}

double step_ms(const Schedule& s, const StageCosts& c) {
  SimOptions o;
  o.record_timeline = false;
  return simulate(s, c, free_cluster(s.num_ranks), o).metrics.step_time_ms;
}

void expect_valid(const Schedule& s) {
  auto bad = validate_schedule(s);
  REQUIRE_MESSAGE(bad.empty(), format_violations(bad));
  Schedule low = lower_schedule(s);
  auto bad_low = validate_schedule(low);
  REQUIRE_MESSAGE(bad_low.empty(), format_violations(bad_low));
  const auto fifo = fifo_order_mismatches(low);
  CHECK_MESSAGE(fifo.empty(), (fifo.empty() ? std::string() : fifo[0]));
  // Every stage: m F, m I, m W.
  for (int st = 0; st < s.num_stages; ++st) {
    int f = 0, i = 0, w = 0;
    for (const Action& a : s.actions[s.stage_to_rank[st]])
      if (a.stage == st) {
        f += a.type == ActionType::F;
        i += a.type == ActionType::I;
        w += a.type == ActionType::W;
      }
    CHECK(f == s.num_microbatches);
    CHECK(i == s.num_microbatches);
    CHECK(w == s.num_microbatches);
  }
}

struct Ratio {
  double f, i, w;
};
const Ratio kRatios[] = {{1, 1, 1}, {1, 1, 2}, {1, 2, 1}, {2, 1, 1}, {1, 1, 4}, {1, 3, 0.5}, {1, 0.5, 3}};

}  // namespace

TEST_CASE(
    "zb-auto, zb-interleaved, dualpipev: valid, deadlock-free, FIFO-ordered, exact counts (p 1..8, m <= "
    "32)") {
  std::mt19937 rng(7);
  int checked = 0;
  for (int p = 1; p <= 8; ++p)
    for (int m = 1; m <= 32; m += (m < 8 ? 1 : 3)) {
      CAPTURE(p);
      CAPTURE(m);
      const Drawn d1 = draw(rng, p, 1, 1, 2, 3), d2 = draw(rng, 2 * p, 1, 2, 1, 3),
                  d3 = draw(rng, 3 * p, 2, 1, 1, 2);
      for (const ScheduleCostHint& h : {ScheduleCostHint{}, d1.hint})
        expect_valid(generate("zb-auto", p, m, 1, h));
      for (const ScheduleCostHint& h : {ScheduleCostHint{}, d2.hint}) {
        if (m >= p) expect_valid(generate("zb-interleaved", p, m, 2, h));
        if (m >= 2 * p) expect_valid(generate("dualpipev", p, m, 2, h));
      }
      if (m >= p)
        for (const ScheduleCostHint& h : {ScheduleCostHint{}, d3.hint})
          expect_valid(generate("zb-interleaved", p, m, 3, h));
      ++checked;
    }
  CHECK(checked > 100);
}

TEST_CASE("with equal costs zb-h1 and zb-h2 keep their unit-cost orders, zbv is never slower") {
  for (int p = 1; p <= 6; ++p)
    for (int m = 1; m <= 12; ++m) {
      CAPTURE(p);
      CAPTURE(m);
      for (auto [kind, v] : {std::pair{"zb-h1", 1}, std::pair{"zb-h2", 1}, std::pair{"zbv", 2}}) {
        CAPTURE(kind);
        ScheduleCostHint equal;
        equal.forward_ms.assign(p * v, 2.0);
        equal.input_grad_ms.assign(p * v, 2.0);
        equal.weight_grad_ms.assign(p * v, 2.0);
        const Schedule with = generate(kind, p, m, v, equal), without = generate(kind, p, m, v);
        if (v == 1) {
          CHECK(with.actions == without.actions);
        } else {
          // zbv with a hint also tries reserving both chunks' slots, which is
          // sometimes faster: never slower.
          CHECK(replay_makespan(with, equal) <= replay_makespan(without, equal));
          CHECK(max_pending_backward(with, 0) <= 2 * p);
        }
      }
    }
}

TEST_CASE("cost sweep: a cost-aware order is never slower in simulation than the unit-cost order") {
  std::mt19937 rng(2024);
  int cases = 0, auto_beats_h1 = 0;
  for (int p = 2; p <= 8; ++p)
    for (int m : {p / 2 + 1, p, 2 * p, 3 * p + 1, 32}) {
      if (m > 32 || m < 1) continue;
      for (const Ratio& q : kRatios)
        for (double spread : {1.0, 2.5}) {
          CAPTURE(p);
          CAPTURE(m);
          CAPTURE(q.f);
          CAPTURE(q.i);
          CAPTURE(q.w);
          CAPTURE(spread);
          const Drawn d = draw(rng, p, q.f, q.i, q.w, spread);
          const double h1_unit = step_ms(generate("zb-h1", p, m, 1), d.costs);
          const double h1_cost = step_ms(generate("zb-h1", p, m, 1, d.hint), d.costs);
          const double auto_unit = step_ms(generate("zb-auto", p, m, 1), d.costs);
          const double auto_cost = step_ms(generate("zb-auto", p, m, 1, d.hint), d.costs);
          const double h2_unit = step_ms(generate("zb-h2", p, m, 1), d.costs);
          const double h2_cost = step_ms(generate("zb-h2", p, m, 1, d.hint), d.costs);
          const double eps = 1e-9 * h1_unit;
          CHECK(h1_cost <= h1_unit + eps);
          CHECK(h2_cost <= h2_unit + eps);
          CHECK(auto_cost <= auto_unit + eps);
          CHECK(auto_cost <= h1_unit + eps);  // zb-h1's limits are among zb-auto's candidates
          CHECK(auto_cost <= h1_cost + eps);
          if (auto_cost < h1_unit - 1e-6 * h1_unit) ++auto_beats_h1;

          const Drawn d2 = draw(rng, 2 * p, q.f, q.i, q.w, spread);
          CHECK(step_ms(generate("zbv", p, m, 2, d2.hint), d2.costs) <=
                step_ms(generate("zbv", p, m, 2), d2.costs) + eps * 2);
          if (m >= p)
            CHECK(step_ms(generate("zb-interleaved", p, m, 2, d2.hint), d2.costs) <=
                  step_ms(generate("zb-interleaved", p, m, 2), d2.costs) + eps * 2);
          ++cases;
        }
    }
  CHECK(cases > 300);
  // The search is not idle: with unequal costs it finds faster orders than zb-h1's.
  CHECK(auto_beats_h1 > cases / 10);
}

TEST_CASE("the memory cap holds: pending backward passes in the order and the simulator's peak") {
  std::mt19937 rng(99);
  const std::int64_t saved = 1'000'000;
  for (int p = 1; p <= 8; ++p)
    for (int m : {1, p, 2 * p + 1, 32}) {
      for (const Ratio& q : {kRatios[1], kRatios[4], kRatios[5]}) {
        CAPTURE(p);
        CAPTURE(m);
        for (auto [kind, v] :
             {std::pair{"zb-auto", 1}, std::pair{"zb-h1", 1}, std::pair{"zb-h2", 1}, std::pair{"zbv", 2},
              std::pair{"zb-interleaved", 2}, std::pair{"zb-interleaved", 3}}) {
          CAPTURE(kind);
          const bool looped = std::string(kind) == "zb-interleaved";
          if (looped && m < p) continue;
          Drawn d = draw(rng, p * v, q.f, q.i, q.w, 2.0, saved);
          std::uniform_int_distribution<int> pick(v, std::max(v, 2 * p));
          // zb-interleaved keeps interleaved 1F1B's forwards: a cap from its own in-flight up.
          const Schedule own = looped ? generate(kind, p, m, v) : Schedule{};
          std::uniform_int_distribution<int> extra(0, p);
          for (int r = 0; r < p; ++r)
            d.hint.max_pending_backward.push_back(looped ? max_pending_backward(own, r) + extra(rng)
                                                         : pick(rng));
          const Schedule s = generate(kind, p, m, v, d.hint);
          expect_valid(s);
          SimOptions o;
          o.record_timeline = false;
          const SimulationResult res = simulate(s, d.costs, free_cluster(p), o);
          for (int r = 0; r < p; ++r) {
            CAPTURE(r);
            CHECK(max_pending_backward(s, r) <= d.hint.max_pending_backward[r]);
            // No weights, buffers or workspace: the peak is the activations held.
            CHECK(res.metrics.ranks[r].peak_memory_bytes <= saved * d.hint.max_pending_backward[r]);
          }
        }
      }
    }
}

TEST_CASE(
    "default memory: zb-auto at most 1F1B's peak, zb-interleaved interleaved 1F1B's, dualpipev exactly 2p + "
    "1 chunks") {
  for (int p = 1; p <= 8; ++p)
    for (int m = 1; m <= 32; m += 3) {
      CAPTURE(p);
      CAPTURE(m);
      const Schedule a = generate("zb-auto", p, m, 1);
      for (int r = 0; r < p; ++r) CHECK(max_pending_backward(a, r) <= std::min(p, m));
      if (m >= p)
        for (int v : {2, 3}) {
          const Schedule z = generate("zb-interleaved", p, m, v),
                         i = test::make_schedule("interleaved", p, m, v);
          for (int r = 0; r < p; ++r) {
            // Interleaved 1F1B's own in-flight count: deferring W costs no memory.
            CHECK(max_pending_backward(z, r) == max_pending_backward(i, r));
            CHECK(max_pending_backward(z, r) <= std::min(2 * (p - r - 1) + (v - 1) * p + 1, v * m));
          }
        }
      if (m >= 2 * p) {
        const Schedule d = generate("dualpipev", p, m, 2);
        for (int r = 0; r < p; ++r) CHECK(max_pending_backward(d, r) == 2 * p + 1);
      }
    }
}

TEST_CASE("dualpipev: the published phases on p = 2, m = 4") {
  CHECK(format_schedule_text(generate("dualpipev", 2, 4, 2)) ==
        // rank 0: 2 F chunk 0; 1 x {F0, F1}; 1 x {I1 (deferred), W-step, F1}; 1 x {F0 B1 F1 B0};
        // 1 x {B1, F1, B0}; 1 x {B1, B0 deferred}; 1 x {W-step, I0 deferred}; 1 W-step.
        "rank 0: 0F0 0F1 0F2 3F0 3I0 3W0 3F1 0F3 3I1 3W1 3F2 0I0 0W0 3I2 3W2 3F3 0I1 0W1 3I3 3W3 0I2 0W2 0I3 "
        "0W3 0STEP 3STEP\n"
        // rank 1: 2 x {F0, F1}; 2 x {F0 B1 F1 B0}; 2 x {B1, B0}, W deferred from the second's B1.
        "rank 1: 1F0 2F0 1F1 2F1 1F2 2I0 2W0 2F2 1I0 1W0 1F3 2I1 2W1 2F3 1I1 1W1 2I2 2W2 1I2 1W2 2I3 1I3 "
        "2W3 1W3 1STEP 2STEP\n");
}

TEST_CASE("impossible parameters are InputErrors that say what to pass") {
  auto error_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const InputError& e) {
      return std::string(e.source()) + ": " + e.what();
    }
    return "";
  };
  std::string d = error_of([] { generate("dualpipev", 4, 7, 2); });
  CHECK(d.find("--microbatches") == 0);
  CHECK(d.find("at least 2p = 8 micro-batches") != std::string::npos);
  CHECK(d.find("--microbatches 8") != std::string::npos);
  CHECK(error_of([] { generate("dualpipev", 4, 8, 1); }).find("--virtual 2") != std::string::npos);
  CHECK(error_of([] { generate("zb-interleaved", 4, 8, 1); }).find("--virtual 2") != std::string::npos);
  CHECK(error_of([] { generate("zb-auto", 4, 8, 2); }).find("--virtual") == 0);
  CHECK(error_of([] { generate("zb-interleaved", 4, 3, 2); }).find("--microbatches 4") != std::string::npos);
  ScheduleCostHint tight;
  tight.max_pending_backward = {1, 1, 1, 1};
  CHECK(error_of([&] { generate("zb-interleaved", 4, 8, 2, tight); }).find("--memory") == 0);
  CHECK(error_of([&] { generate("dualpipev", 4, 8, 2, tight); }).find("zb-interleaved or zb-auto") !=
        std::string::npos);
  ScheduleCostHint short_costs;
  short_costs.forward_ms = {1, 1};
  short_costs.input_grad_ms = {1, 1};
  short_costs.weight_grad_ms = {1, 1};
  CHECK(error_of([&] { generate("zb-auto", 4, 8, 1, short_costs); }).find("forward_ms") != std::string::npos);
}

TEST_CASE("schedule_cost_hint: times and messages from the costs, a byte limit as pending backward passes") {
  StageCosts c = synthetic_stage_costs(4, 1, 2.0, 6.0, 4.0, 1'000'000, 10'000'000, 0);
  Cluster cl = flat_cluster(4, 1e9, 1e-4);
  ScheduleCostHint h = schedule_cost_hint(c, "zb-auto", 4, cl);
  REQUIRE(h.forward_ms.size() == 4);
  CHECK(h.forward_ms[0] == doctest::Approx(2.0));
  CHECK(h.input_grad_ms[0] == doctest::Approx(2.0));
  CHECK(h.weight_grad_ms[0] == doctest::Approx(4.0));
  REQUIRE(h.message_ms.size() == 3);
  CHECK(h.message_ms[0] == doctest::Approx(1.1));  // 0.1 ms latency + 1 MB at 1 GB/s
  CHECK(h.max_pending_backward.empty());

  // No weights: 10 MB per pending forward, 2 MB of boundary buffers.
  CostHintOptions o;
  o.memory_limit_bytes = 37'000'000;
  ScheduleCostHint capped = schedule_cost_hint(c, "zb-auto", 4, cl, o);
  CHECK(capped.max_pending_backward == std::vector<int>{3, 3, 3, 3});
  // The V puts two stages on every rank: both chunks' weights count there.
  StageCosts v = synthetic_stage_costs(2, 2, 2.0, 6.0, 4.0, 0, 1'000'000, 1'000'000);
  o.memory_limit_bytes = 16'000'000;
  ScheduleCostHint vh = schedule_cost_hint(v, "zbv", 2, free_cluster(2), o);
  CHECK(vh.message_ms.empty());  // free links
  // Adam in fp32: weights + gradients + 2 moments = 4 x 1 MB per stage, 2 stages: 8 MB; 8 MB left
  // at 1 MB per pending chunk-forward.
  CHECK(vh.max_pending_backward == std::vector<int>{8, 8});

  // With the cap it derives, zb-auto's simulated peak stays under the limit.
  StageCosts big = synthetic_stage_costs(4, 1, 1.0, 4.0, 3.0, 0, 5'000'000, 2'000'000);
  CostHintOptions lim;
  lim.memory_limit_bytes = 20'000'000;
  ScheduleCostHint bh = schedule_cost_hint(big, "zb-auto", 4, free_cluster(4), lim);
  ScheduleSpec spec;
  spec.kind = "zb-auto";
  spec.microbatches = 16;
  spec.cost_hint = bh;
  Schedule s = generate_schedule(spec, 4);
  Cluster mem = free_cluster(4);
  mem.device_memory_bytes = lim.memory_limit_bytes;
  SimOptions so;
  so.record_timeline = false;
  const SimulationResult r = simulate(s, big, mem, so);
  CHECK(r.metrics.fits_memory);
  for (int k = 0; k < 4; ++k) CHECK(max_pending_backward(s, k) <= bh.max_pending_backward[k]);
}

TEST_CASE("with message times the cost-aware orders are still never slower (links that never queue)") {
  std::mt19937 rng(11);
  int cases = 0;
  for (int p = 2; p <= 8; p += 2)
    for (int m : {p, 2 * p, 24}) {
      for (const Ratio& q : kRatios) {
        CAPTURE(p);
        CAPTURE(m);
        for (auto [kind, v] : {std::pair{"zb-auto", 1}, std::pair{"zb-h1", 1}, std::pair{"zbv", 2},
                               std::pair{"zb-interleaved", 2}}) {
          CAPTURE(kind);
          const Drawn d = draw(rng, p * v, q.f, q.i, q.w, 2.0);
          double shortest = 1e9;
          for (const StageCost& c : d.costs.stages)
            shortest = std::min({shortest, c.forward_ms, c.input_grad_ms});
          // A message shorter than any F or I: sends on one link never overlap, so
          // the simulator's links time exactly what the hint says.
          const Cluster cl = flat_cluster(p, 0, 0.5 * shortest / 1000.0);
          const ScheduleCostHint h = schedule_cost_hint(d.costs, kind, p, cl);
          REQUIRE(h.message_ms.size() == static_cast<std::size_t>(p * v - 1));
          SimOptions o;
          o.record_timeline = false;
          const double with = simulate(generate(kind, p, m, v, h), d.costs, cl, o).metrics.step_time_ms;
          const double without = simulate(generate(kind, p, m, v), d.costs, cl, o).metrics.step_time_ms;
          CHECK(with <= without * (1 + 1e-9));
          ++cases;
        }
      }
    }
  CHECK(cases > 100);
}
