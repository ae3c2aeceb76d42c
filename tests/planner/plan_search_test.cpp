// The simulation-scored search over pipeline configurations.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <set>

#include "core/schedule_traits.h"

#include "planner/plan_search.h"
#include "planner/schedule_generator.h"
#include "tests/support/planner_test_support.h"

using namespace pipekit;

TEST_CASE("search ranks simulated configurations, fitting and fastest per micro-batch first") {
  Profile p = test::chain_profile({4, 4, 4, 4, 4, 4, 4, 4}, 1000, 1000, 1000);
  for (auto& l : p.layers) l.backward_ms = 8;
  SearchOptions o;
  o.cluster = flat_cluster(4, 1e9);
  SearchResult r = search_plans(p, o);
  REQUIRE(r.ranked.size() > 10);
  for (std::size_t i = 1; i < r.ranked.size(); ++i) {
    const auto& a = r.ranked[i - 1];
    const auto& b = r.ranked[i];
    if (a.fits_memory == b.fits_memory)
      CHECK(a.time_per_minibatch_ms / a.plan.schedule.microbatches <=
            b.time_per_minibatch_ms / b.plan.schedule.microbatches + 1e-9);
  }
  const SearchCandidate& best = r.ranked.front();
  CHECK(best.fits_memory);
  // Every candidate covers all 8 layers on all 4 devices.
  for (const auto& c : r.ranked) {
    std::size_t layers = 0;
    std::set<int> ranks;
    for (const auto& s : c.plan.stages) {
      layers += s.layers.size();
      ranks.insert(s.ranks.begin(), s.ranks.end());
    }
    CHECK(layers == 8);
    CHECK(ranks.size() == 4);
  }
  CHECK(best.plan.predicted.count("time_per_minibatch_s") == 1);
}

TEST_CASE("search narrowed to one schedule and micro-batch count") {
  Profile p = test::chain_profile({1, 2, 3, 4});
  p.microbatch_size = 2;  // two replicas split each micro-batch
  SearchOptions o;
  o.cluster = flat_cluster(2, 0);
  o.schedules = {"1f1b"};
  o.microbatches = {4};
  o.recompute = {Recompute::never};
  o.prune = false;  // both depths simulated, not only the winner
  SearchResult r = search_plans(p, o);
  REQUIRE(r.ranked.size() == 2);  // depth 1 (2 replicas) and depth 2
  for (const auto& c : r.ranked) {
    CHECK(c.plan.schedule.kind == "1f1b");
    CHECK(c.plan.schedule.microbatches == 4);
  }
  // Free links, no parameters: 2 replicas of the whole model halve every
  // micro-batch (5 ms each, 20 ms), the best 2-stage split [1,2,3 | 4] takes
  // (4 + 1) x 6 = 30 ms of fill, steady state and drain.
  CHECK(r.ranked.front().plan.stages.size() == 1);
}

TEST_CASE("search proposes only replication the executor runs") {
  Profile p = test::chain_profile({1, 2, 3, 4});
  SearchOptions o;
  o.cluster = flat_cluster(3, 0);
  o.recompute = {Recompute::never};
  o.prune = false;
  for (int b : {1, 3}) {
    p.microbatch_size = b;
    const SearchResult r = search_plans(p, o);
    REQUIRE(!r.ranked.empty());
    bool replicated_flush = false;
    for (const auto& c : r.ranked) {
      const int replicas = c.plan.stages.front().replicas;
      if (replicas <= 1) continue;
      const ScheduleTraits& t = schedule_traits(c.plan.schedule.kind);
      if (!t.asynchronous()) {
        // A flush schedule splits each micro-batch among the replicas; where
        // the profile's size does not divide, the micro-batch is d of them
        // (Megatron's data parallelism: m/d micro-batches per replica).
        const int size = c.plan.microbatch_size;
        CHECK(size % replicas == 0);
        if (b % replicas != 0) CHECK(size == b * replicas);
        replicated_flush = true;
      } else if (c.plan.schedule.kind == "pipedream") {
        CHECK(c.plan.schedule.microbatches % replicas == 0);  // as many micro-batches to each replica
      }
    }
    CHECK(replicated_flush);
  }
}

TEST_CASE(
    "the search splits under the memory a replica holds: whole-model replicas win once their share fits") {
  // 4 equal layers, 4 devices, 1f1b: one replica per device of the whole
  // model has no bubble, but one whole micro-batch of its activations (400)
  // does not fit 250; split 4 ways (100) it does. A split checked against
  // unreplicated activations never tries it.
  Profile p = test::chain_profile({1, 1, 1, 1}, 0, 0, 100);
  for (auto& l : p.layers) l.backward_ms = 2;
  p.microbatch_size = 4;
  SearchOptions o;
  o.cluster = flat_cluster(4, 0);
  o.cluster.device_memory_bytes = 250;
  o.schedules = {"1f1b"};
  o.microbatches = {8};
  o.recompute = {Recompute::never};
  const SearchResult r = search_plans(p, o);
  REQUIRE(!r.ranked.empty());
  const SearchCandidate& best = r.ranked.front();
  CHECK(best.fits_memory);
  CHECK(best.plan.stages.size() == 1);
  CHECK(best.plan.stages[0].replicas == 4);
  CHECK(best.peak_memory_bytes <= 250);
}

TEST_CASE(
    "search on one shared processor: no faster than its capacity allows, unchanged when it is a device "
    "each") {
  Profile p = test::chain_profile({4, 4, 4, 4, 4, 4, 4, 4});
  for (auto& l : p.layers) l.backward_ms = 8;
  SearchOptions o;
  o.cluster = flat_cluster(4, 0);
  o.schedules = {"1f1b", "gpipe"};
  o.microbatches = {8};
  o.recompute = {Recompute::never};
  const SearchResult dedicated = search_plans(p, o);
  // Capacity 4 for 4 processes: nothing is shared, nothing changes.
  o.shared_capacity = 4;
  const SearchResult roomy = search_plans(p, o);
  REQUIRE(!roomy.ranked.empty());
  CHECK(roomy.ranked.front().time_per_sample_ms ==
        doctest::Approx(dedicated.ranked.front().time_per_sample_ms));
  // Capacity 1: all processes together compute no faster than one device,
  // 8 x (4 + 8) ms per micro-batch of the whole model, whatever the plan.
  o.shared_capacity = 1;
  o.prune = false;
  const SearchResult one = search_plans(p, o);
  REQUIRE(!one.ranked.empty());
  // (the shared-device fixed point stops within 1e-4 of the step time)
  for (const auto& c : one.ranked) CHECK(c.time_per_minibatch_ms >= 8 * 96.0 * (1 - 1e-3));
  CHECK(one.ranked.front().time_per_sample_ms > 1.5 * dedicated.ranked.front().time_per_sample_ms);
}

TEST_CASE("straight search never replicates, and equal times go to the smaller memory") {
  Profile p = test::chain_profile({4, 4, 4, 4, 4, 4, 4, 4}, 1000, 1000, 1000);
  SearchOptions o;
  o.cluster = flat_cluster(4, 1e9);
  o.straight = true;
  SearchResult r = search_plans(p, o);
  REQUIRE(!r.ranked.empty());
  for (std::size_t i = 0; i < r.ranked.size(); ++i) {
    const auto& c = r.ranked[i];
    CHECK(c.plan.stages.size() == static_cast<std::size_t>(4 * c.plan.schedule.virtual_stages));
    for (const auto& s : c.plan.stages) CHECK(s.replicas == 1);
    if (i == 0) continue;
    const auto& prev = r.ranked[i - 1];
    const double ta = prev.time_per_minibatch_ms / prev.plan.schedule.microbatches;
    const double tb = c.time_per_minibatch_ms / c.plan.schedule.microbatches;
    if (prev.fits_memory == c.fits_memory && std::abs(ta - tb) <= 1e-9 * std::max(ta, tb))
      CHECK(prev.peak_memory_bytes <= c.peak_memory_bytes);
  }
  // One device: no chunked schedules, whose chunks would all sit on the one rank.
  o.cluster = flat_cluster(1, 1e9);
  for (const auto& c : search_plans(p, o).ranked) CHECK(c.plan.schedule.virtual_stages == 1);
}

TEST_CASE("every generated schedule of the traits table is searched, asynchronous ones included") {
  Profile p = test::chain_profile({4, 4, 4, 4, 4, 4, 4, 4}, 1000, 1000, 1000);
  for (auto& l : p.layers) l.backward_ms = 8;
  SearchOptions o;
  o.cluster = flat_cluster(4, 1e9);
  o.microbatches = {4, 8};
  o.prune = false;
  SearchResult r = search_plans(p, o);
  std::set<std::string> seen;
  for (const auto& c : r.ranked) seen.insert(c.plan.schedule.kind);
  for (const ScheduleTraits& t : schedule_table())
    if (t.generated() && t.id != ScheduleKind::naive)
      CHECK_MESSAGE(seen.count(std::string(t.name)) == 1, t.name);
}

TEST_CASE("the profile's optimizer step is charged per update: pipedream pays it per micro-batch") {
  Profile p = test::chain_profile({4, 4, 4, 4, 4, 4, 4, 4}, 1000000, 1000, 1000);
  for (auto& l : p.layers) l.backward_ms = 8;
  SearchOptions o;
  o.cluster = flat_cluster(4, 1e9);
  o.straight = true;
  o.schedules = {"pipedream", "1f1b"};
  o.microbatches = {8};
  o.recompute = {Recompute::never};
  o.prune = false;
  auto time_of = [&](const Profile& prof, const std::string& kind) {
    for (const auto& c : search_plans(prof, o).ranked)
      if (c.plan.schedule.kind == kind && c.plan.stages.size() == 4) return c.time_per_minibatch_ms;
    FAIL("no 4-stage " << kind << " plan");
    return 0.0;
  };
  // Free steps: the stream has no flush, so pipedream wins.
  const double pd0 = time_of(p, "pipedream"), fb0 = time_of(p, "1f1b");
  CHECK(pd0 < fb0);
  // 6 ms per layer, 12 ms per 2-layer stage: 1F1B pays it once per minibatch
  // (less than its 72 ms bubble), pipedream after each of its 8 micro-batches,
  // and loses.
  Profile stepped = p;
  stepped.optimizer = "adam";
  for (auto& l : stepped.layers) l.step_ms = 6.0;
  const double pd1 = time_of(stepped, "pipedream"), fb1 = time_of(stepped, "1f1b");
  CHECK(fb1 - fb0 == doctest::Approx(12.0).epsilon(0.05));
  CHECK(pd1 - pd0 >= 0.9 * 8 * 12.0);
  CHECK(fb1 < pd1);
  CHECK(search_plans(stepped, o).ranked.front().plan.schedule.kind == "1f1b");
  // Weight stashing's copies (2 MB per stage at 1 GB/s: 2 ms) cost pipedream
  // more still, and a flush schedule nothing.
  stepped.weight_copy_bytes_per_s = 1e9;
  CHECK(time_of(stepped, "pipedream") > pd1 + 8 * 2.0 * 0.9);
  CHECK(time_of(stepped, "1f1b") == doctest::Approx(fb1));
}

TEST_CASE("a micro-batch count outside p, 2p, 4p wins when memory caps GPipe's micro-batches in flight") {
  // GPipe holds every micro-batch's activations: 2 MB per micro-batch per
  // stage, a limit of 7 MB allows 3. More micro-batches shrink the bubble, so
  // the largest count that fits, 3, wins; the old default (2, 4, 8) had no 3.
  Profile p = test::chain_profile({1, 1, 1, 1}, 0, 1000, 1'000'000);
  for (auto& l : p.layers) l.backward_ms = 2;
  SearchOptions o;
  o.cluster = flat_cluster(2, 0);
  o.cluster.device_memory_bytes = 7'000'000;
  o.schedules = {"gpipe"};
  o.recompute = {Recompute::never};
  o.straight = true;
  SearchResult r = search_plans(p, o);
  REQUIRE(!r.ranked.empty());
  const SearchCandidate& best = r.ranked.front();
  CHECK(best.fits_memory);
  CHECK(best.plan.schedule.microbatches == 3);
}

TEST_CASE("more than two chunks per rank win for interleaved when the bubble dominates") {
  Profile p = test::chain_profile(std::vector<double>(12, 1.0));
  for (auto& l : p.layers) l.backward_ms = 2;
  SearchOptions o;
  o.cluster = flat_cluster(2, 0);
  o.schedules = {"interleaved"};
  o.microbatches = {2};
  o.recompute = {Recompute::never};
  o.straight = true;
  o.prune = false;
  SearchResult r = search_plans(p, o);
  std::set<int> chunks;
  for (const auto& c : r.ranked) chunks.insert(c.plan.schedule.virtual_stages);
  CHECK(chunks == std::set<int>{2, 3, 4});
  CHECK(r.ranked.front().plan.schedule.virtual_stages >= 3);
  // max_virtual_stages caps it.
  o.max_virtual_stages = 2;
  for (const auto& c : search_plans(p, o).ranked) CHECK(c.plan.schedule.virtual_stages == 2);
}

TEST_CASE("per-stage recomputation: only the stage whose activations do not fit recomputes") {
  // 1F1B on 2 ranks: stage 0 holds 2 micro-batches, stage 1 one. With 2 MB
  // per micro-batch per stage and a 2.9 MB limit nothing fits without
  // recomputation; recomputing stage 0 alone fits and costs less than
  // recomputing both.
  Profile p = test::chain_profile({1, 1, 1, 1}, 0, 1000, 1'000'000);
  for (auto& l : p.layers) l.backward_ms = 2;
  SearchOptions o;
  o.cluster = flat_cluster(2, 0);
  o.cluster.device_memory_bytes = 2'900'000;
  o.schedules = {"1f1b"};
  o.microbatches = {4};
  o.straight = true;
  o.prune = false;
  SearchResult r = search_plans(p, o);
  REQUIRE(!r.ranked.empty());
  const SearchCandidate& best = r.ranked.front();
  CHECK(best.fits_memory);
  CHECK(best.plan.schedule.recompute_stages == std::vector<bool>{true, false});
  CHECK(best.recompute_ms == doctest::Approx(4 * 2.0));  // 4 micro-batches x stage 0's forward
  bool always_seen = false;
  for (const auto& c : r.ranked)
    if (c.plan.schedule.recompute == Recompute::always) {
      always_seen = true;
      CHECK(c.time_per_sample_ms > best.time_per_sample_ms);
    }
  CHECK(always_seen);
  // The generated schedule recomputes stage 0 only.
  Schedule s = generate_schedule(best.plan.schedule, 2);
  for (const auto& list : s.actions)
    for (const Action& a : list)
      if (a.type == ActionType::R) CHECK(a.stage == 0);
}

TEST_CASE("an interpolated micro-batch size wins: per-sample overhead falls, memory caps the size") {
  // Each layer costs 1 ms + 1 ms per sample forward (twice that backward):
  // larger micro-batches amortise the fixed part. Activations are 1 MB per
  // sample per layer; 2.5 MB per device allows 2 samples on a 1-layer stage.
  auto at = [](int b) {
    Profile p = test::chain_profile({1.0 + b, 1.0 + b}, 0, 1000 * b, 1'000'000LL * b);
    for (auto& l : p.layers) l.backward_ms = 2 * l.forward_ms;
    p.microbatch_size = b;
    return p;
  };
  SearchOptions o;
  o.cluster = flat_cluster(2, 0);
  o.cluster.device_memory_bytes = 2'500'000;
  o.schedules = {"1f1b"};
  o.microbatches = {1};
  o.recompute = {Recompute::never};
  o.selective_recompute = false;
  o.straight = true;
  o.microbatch_sizes = {1, 2, 3, 4};
  SearchResult r = search_plans(std::vector<Profile>{at(1), at(4)}, o);
  REQUIRE(!r.ranked.empty());
  CHECK(r.ranked.front().fits_memory);
  CHECK(r.ranked.front().plan.microbatch_size == 2);
  // With a global batch, m follows the size: 12 samples are 6 micro-batches of 2.
  o.global_batch = 12;
  o.microbatches.clear();
  SearchResult g = search_plans(std::vector<Profile>{at(1), at(4)}, o);
  for (const auto& c : g.ranked) CHECK(c.plan.schedule.microbatches * c.plan.microbatch_size == 12);
}

TEST_CASE("pruning by the lower bound changes no answer") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 4; ++trial) {
    Profile p = test::random_chain(rng, 10);
    SearchOptions o;
    o.cluster = flat_cluster(4, 1e10);
    o.cluster.device_memory_bytes = 3'000'000'000;
    o.microbatches = {1, 3, 4, 6, 8};
    o.prune = false;
    SearchResult full = search_plans(p, o);
    o.prune = true;
    SearchResult fast = search_plans(p, o);
    REQUIRE(!full.ranked.empty());
    REQUIRE(!fast.ranked.empty());
    CHECK(fast.pruned > 0);
    const auto& a = full.ranked.front();
    const auto& b = fast.ranked.front();
    CHECK(a.fits_memory == b.fits_memory);
    CHECK(a.time_per_sample_ms == doctest::Approx(b.time_per_sample_ms).epsilon(1e-12));
    CHECK(a.plan.schedule.kind == b.plan.schedule.kind);
    CHECK(a.plan.schedule.microbatches == b.plan.schedule.microbatches);
    CHECK(a.plan.schedule.virtual_stages == b.plan.schedule.virtual_stages);
    CHECK(a.plan.stages.size() == b.plan.stages.size());
    // Every candidate either way is at least its lower bound.
    for (const auto& c : full.ranked)
      if (!schedule_traits(c.plan.schedule.kind).asynchronous())
        CHECK(c.time_per_sample_ms >= c.lower_bound_ms * (1 - 1e-9));
  }
}
