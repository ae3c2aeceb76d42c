// Static memory terms and their use by the simulator.
#include <doctest/doctest.h>

#include "simulator/memory_model.h"
#include "tests/support/sim_test_support.h"

using namespace pipekit;
using pipekit::test::make_schedule;

TEST_CASE("optimizer state: adam 2x parameters, momentum 1x, sgd none") {
  CHECK(optimizer_state_bytes(Optimizer::adam, 1000) == 2000);
  CHECK(optimizer_state_bytes(Optimizer::momentum, 1000) == 1000);
  CHECK(optimizer_state_bytes(Optimizer::sgd, 1000) == 0);
  Optimizer o{};
  CHECK(optimizer_from_string("sgd", o));
  CHECK(o == Optimizer::sgd);
  CHECK_FALSE(optimizer_from_string("lion", o));
}

TEST_CASE("weight versions: flush 1, pipedream p-s, 2bw 2") {
  CHECK(weight_versions("1f1b", 0, 4) == 1);
  CHECK(weight_versions("gpipe", 3, 4) == 1);
  for (int s = 0; s < 4; ++s) CHECK(weight_versions("pipedream", s, 4) == 4 - s);
  CHECK(weight_versions("2bw", 0, 4) == 2);
}

TEST_CASE("simulated memory: weights x versions, gradients, adam state, activations") {
  const int p = 4;
  const std::int64_t params = 1'000'000, saved = 10'000;
  StageCosts c = synthetic_stage_costs(p, 1, 1.0, 2.0, -1, 0, saved, params);
  SimOptions opt;
  opt.optimizer = Optimizer::adam;
  SimulationResult pd =
      simulate(make_schedule("pipedream", p, 1, 1, Recompute::never, 8), c, free_cluster(p), opt);
  SimulationResult fl = simulate(make_schedule("1f1b", p, 8), c, free_cluster(p), opt);
  for (int s = 0; s < p; ++s) {
    const auto& m = pd.metrics.ranks[s].peak_memory;
    CHECK(m.weights == params * (p - s));
    CHECK(m.gradients == params);
    CHECK(m.optimizer == 2 * params);
    CHECK(m.activations == saved * (p - s));
    const auto& f = fl.metrics.ranks[s].peak_memory;
    CHECK(f.weights == params);
    CHECK(f.activations == saved * (p - s));
    CHECK(fl.metrics.ranks[s].peak_memory_bytes == params * 4 + saved * (p - s));
    CHECK(fl.metrics.ranks[s].peak_term == "optimizer");
  }
  opt.optimizer = Optimizer::sgd;
  SimulationResult sgd = simulate(make_schedule("1f1b", p, 8), c, free_cluster(p), opt);
  CHECK(sgd.metrics.ranks[0].peak_memory.optimizer == 0);
}

TEST_CASE("device memory limit: fits_memory follows the peak") {
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1, 0, 100, 1000);
  Cluster small = flat_cluster(2, 0, 0, 4000);  // 1000 w + 1000 g + 2000 adam = 4000 before activations
  SimulationResult r = simulate(make_schedule("1f1b", 2, 4), c, small);
  CHECK_FALSE(r.metrics.fits_memory);
  Cluster big = flat_cluster(2, 0, 0, 5000);
  CHECK(simulate(make_schedule("1f1b", 2, 4), c, big).metrics.fits_memory);
}

TEST_CASE("memory samples follow each rank's activations up and back down") {
  const int p = 3, m = 6;
  StageCosts c = synthetic_stage_costs(p, 1, 1.0, 2.0, -1, 500, 1000, 10);
  SimulationResult r = simulate(make_schedule("1f1b", p, m), c, flat_cluster(p, 1e6, 0));
  for (int rank = 0; rank < p; ++rank) {
    std::vector<MemorySample> mine;
    for (const auto& s : r.timeline.memory)
      if (s.rank == rank) mine.push_back(s);
    REQUIRE(mine.size() > 2);
    CHECK(mine.front().time_ms == 0);
    CHECK(mine.front().activations == 0);
    CHECK(mine.back().activations == 0);  // every forward's activations freed by its backward
    CHECK(mine.back().buffers == 0);      // every transfer finished
    std::int64_t peak_act = 0;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      if (i) CHECK(mine[i].time_ms >= mine[i - 1].time_ms);
      CHECK(mine[i].weights == 10);
      CHECK(mine[i].optimizer == 20);
      peak_act = std::max(peak_act, mine[i].activations);
    }
    CHECK(peak_act == 1000 * (p - rank));
  }
}

TEST_CASE("the executor-order replay: micro-batches kept per schedule, workspace and the step's transient") {
  const std::int64_t saved = 1000, workspace = 70, transient = 5000;
  // One rank: no messages, so the peak is what the order keeps.
  StageCosts c = synthetic_stage_costs(1, 1, 1.0, 2.0, -1, 0, saved, 0);
  c.stages[0].workspace_bytes = workspace;
  CHECK(executor_order_peaks(make_schedule("gpipe", 1, 4), c, {}) ==
        std::vector<std::int64_t>{4 * saved + workspace});
  CHECK(executor_order_peaks(make_schedule("1f1b", 1, 4), c, {}) ==
        std::vector<std::int64_t>{saved + workspace});
  // The optimizer's transient bytes at STEP, on top of what is still held (nothing).
  CHECK(executor_order_peaks(make_schedule("1f1b", 1, 4), c, {transient}) ==
        std::vector<std::int64_t>{transient});
  // Recomputation: a forward under no_grad keeps nothing of its own (its
  // input is the previous stage's output or a receive buffer, counted
  // there); R brings one micro-batch's saved bytes back at a time.
  const auto rc = executor_order_peaks(make_schedule("gpipe", 1, 4, 1, Recompute::always), c, {});
  CHECK(rc[0] == saved + workspace);
}

TEST_CASE("received inputs count as saved, and asynchronous ranks add their stashed versions") {
  const std::int64_t params = 500;
  StageCosts c = synthetic_stage_costs(4, 1, 1.0, 2.0, -1, 0, 100, params);
  for (auto& st : c.stages) st.input_bytes = 7;
  Schedule pd = make_schedule("pipedream", 4, 1, 1, Recompute::never, 8);
  StageCosts counted = c;
  count_received_inputs(pd, counted);
  CHECK(counted.stages[0].saved_bytes == 100);  // the first stage receives nothing
  for (int s = 1; s < 4; ++s) CHECK(counted.stages[s].saved_bytes == 107);
  const auto extra = extra_version_bytes(pd, c);
  for (int r = 0; r < 4; ++r) CHECK(extra[r] == (3 - r) * params);
  for (std::int64_t e : extra_version_bytes(make_schedule("1f1b", 4, 8), c)) CHECK(e == 0);
}

TEST_CASE("mixed precision: working weights, fp32 master and gradients, fp32 moments per parameter") {
  const std::int64_t working = 2'000'000;  // one bf16 copy: a million parameters
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1, 0, 0, working);
  SimOptions opt;
  opt.optimizer = Optimizer::adam;
  opt.precision = Precision::bf16;
  SimulationResult r = simulate(make_schedule("1f1b", 2, 4), c, free_cluster(2), opt);
  const auto& m = r.metrics.ranks[0].peak_memory;
  CHECK(m.weights == working);        // 2 B
  CHECK(m.master == 2 * working);     // 4 B
  CHECK(m.gradients == 3 * working);  // 4 B fp32 sum + 2 B of a backward in progress
  CHECK(m.optimizer == 4 * working);  // 8 B
  CHECK(m.total() == 10 * working);   // 20 B per parameter
  // The same parameters in fp32: 16 B each, no master copy.
  opt.precision = Precision::fp32;
  StageCosts f = synthetic_stage_costs(2, 1, 1.0, 2.0, -1, 0, 0, 2 * working);
  const auto& fm =
      simulate(make_schedule("1f1b", 2, 4), f, free_cluster(2), opt).metrics.ranks[0].peak_memory;
  CHECK(fm.master == 0);
  CHECK(fm.total() == 8 * working);
}
