// Processor sharing among ranks on one device (simulator/shared_device.h).
#include <doctest/doctest.h>

#include "core/schedule_traits.h"

#include "core/error.h"
#include "simulator/shared_device.h"
#include "simulator/steady_window.h"
#include "tests/support/sim_test_support.h"

using namespace pipekit;
using pipekit::test::make_schedule;

namespace {

SharedSimulation shared(const Schedule& s, double f, double b, std::vector<SharedDevice> d) {
  StageCosts c = synthetic_stage_costs(s.num_ranks, s.num_stages / s.num_ranks, f, b, -1);
  SimOptions opt;
  opt.record_timeline = false;
  return simulate_shared(s, c, free_cluster(s.num_ranks), opt, d);
}

}  // namespace

TEST_CASE("shared device: enough capacity changes nothing") {
  Schedule s = lower_schedule(make_schedule("1f1b", 4, 8));
  SharedSimulation r = shared(s, 1.0, 2.0, {{{0, 1, 2, 3}, 4.0}});
  CHECK(r.converged);
  CHECK(r.rounds == 1);
  CHECK(r.result.metrics.step_time_ms == doctest::Approx((8 + 4 - 1) * 3.0));
  CHECK(r.dedicated_step_ms == r.result.metrics.step_time_ms);
}

TEST_CASE("shared device: capacity 1 turns a pipeline into the serial sum of its work") {
  // While anyone computes, the device does one rank's worth of work; gpipe on
  // 2 ranks never leaves it idle, so the step is all the work there is.
  const int m = 16;
  Schedule s = lower_schedule(make_schedule("gpipe", 2, m));
  SharedSimulation r = shared(s, 1.0, 2.0, {{{0, 1}, 1.0}});
  CHECK(r.converged);
  const double work = 2 * m * 3.0;
  CHECK(r.dedicated_step_ms == doctest::Approx((m + 1) * 3.0));
  CHECK(r.result.metrics.step_time_ms == doctest::Approx(work).epsilon(0.01));
  // Busy time is what each rank saw: its work stretched by the sharing.
  CHECK(r.result.metrics.ranks[0].busy_ms > m * 3.0 * 1.4);
}

TEST_CASE("shared device: partial capacity lands between dedicated and serial") {
  Schedule s = lower_schedule(make_schedule("1f1b", 2, 8));
  const double dedicated = shared(s, 1.0, 2.0, {}).result.metrics.step_time_ms;
  const double serial = shared(s, 1.0, 2.0, {{{0, 1}, 1.0}}).result.metrics.step_time_ms;
  const double half = shared(s, 1.0, 2.0, {{{0, 1}, 1.5}}).result.metrics.step_time_ms;
  CHECK(dedicated < half);
  CHECK(half < serial);
  CHECK(serial == doctest::Approx(2 * 8 * 3.0).epsilon(0.01));
}

TEST_CASE("shared device: ranks outside a group keep their own speed") {
  // Ranks 0 and 1 share, 2 and 3 have their own devices: 2 and 3 never slow.
  Schedule s = lower_schedule(make_schedule("gpipe", 4, 8));
  SharedSimulation r = shared(s, 1.0, 2.0, {{{0, 1}, 1.0}});
  CHECK(r.converged);
  CHECK(r.result.metrics.ranks[2].busy_ms == doctest::Approx(8 * 3.0));
  CHECK(r.result.metrics.ranks[3].busy_ms == doctest::Approx(8 * 3.0));
  CHECK(r.result.metrics.ranks[0].busy_ms > 8 * 3.0);
}

TEST_CASE("shared device: bad groups are InputErrors") {
  Schedule s = lower_schedule(make_schedule("1f1b", 2, 4));
  CHECK_THROWS_AS(shared(s, 1, 2, {{{0, 1}, 0.0}}), InputError);
  CHECK_THROWS_AS(shared(s, 1, 2, {{{0, 2}, 1.0}}), InputError);
  CHECK_THROWS_AS(shared(s, 1, 2, {{{0}, 1.0}, {{0, 1}, 1.0}}), InputError);
}

TEST_CASE("shared device: the fixed point is found for every schedule kind") {
  for (const auto& kind : schedule_kinds()) {
    for (double cap : {1.0, 1.5}) {
      const int v = schedule_traits(kind).search_chunks;
      const int mini = kind == "pipedream" || kind == "2bw" ? 3 : 1;
      const int m = kind == "naive" ? 1 : 8;
      Schedule s = lower_schedule(make_schedule(kind, 2, m, v, Recompute::never, mini));
      CAPTURE(kind);
      CAPTURE(cap);
      SharedSimulation r = shared(s, 1.0, 2.0, {{{0, 1}, cap}});
      CHECK(r.converged);
      CHECK(r.result.metrics.step_time_ms >= r.dedicated_step_ms - 1e-9);
      // Never faster than the device can do the work (the ranks' busy time
      // with a device each, at `cap` ranks' worth per unit of time).
      StageCosts c = synthetic_stage_costs(2, v, 1.0, 2.0, -1);
      SimOptions o;
      o.record_timeline = false;
      double work = 0;
      for (const auto& rk : simulate(s, c, free_cluster(2), o).metrics.ranks) work += rk.busy_ms;
      CHECK(r.result.metrics.step_time_ms >= 0.99 * work / cap);
    }
  }
}

TEST_CASE("shared device: a lower step capacity slows only the optimizer steps") {
  // pipedream steps after every backward: with STEPs costed, a memory-bound
  // step capacity below the compute capacity lengthens the stream; 0 means
  // "as capacity" and changes nothing.
  Schedule s = lower_schedule(make_schedule("pipedream", 2, 4, 1, Recompute::never, 4));
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1);
  SimOptions opt;
  opt.record_timeline = false;
  opt.step_ms = 1.5;
  const double same =
      simulate_shared(s, c, free_cluster(2), opt, {{{0, 1}, 2.0}}).result.metrics.step_time_ms;
  const double zero =
      simulate_shared(s, c, free_cluster(2), opt, {{{0, 1}, 2.0, 0.0}}).result.metrics.step_time_ms;
  const double low =
      simulate_shared(s, c, free_cluster(2), opt, {{{0, 1}, 2.0, 1.0}}).result.metrics.step_time_ms;
  CHECK(zero == doctest::Approx(same));
  CHECK(low > same * 1.02);
  // Not slower than if everything ran at capacity 1.
  const double all_low =
      simulate_shared(s, c, free_cluster(2), opt, {{{0, 1}, 1.0, 1.0}}).result.metrics.step_time_ms;
  CHECK(low <= all_low * (1 + 1e-9));
  CHECK_THROWS_AS(simulate_shared(s, c, free_cluster(2), opt, {{{0, 1}, 2.0, -1.0}}), InputError);
}

TEST_CASE("shared device: each compute event keeps its work apart from the time it waited for a core") {
  // gpipe on 2 ranks with capacity 1: the events last longer than their work,
  // and the work is the stage's cost (forward 1, backward 2) whatever the stretch.
  const int m = 8;
  Schedule s = lower_schedule(make_schedule("gpipe", 2, m));
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1);
  SharedSimulation r = simulate_shared(s, c, free_cluster(2), SimOptions{}, {{{0, 1}, 1.0}});
  double work = 0, span = 0;
  for (const auto& e : r.result.timeline.events) {
    if (e.stream != Stream::compute || e.action.type == ActionType::STEP) continue;
    CHECK(e.work_ms == doctest::Approx(e.action.type == ActionType::F ? 1.0 : 2.0));
    CHECK(e.end_ms - e.start_ms >= e.work_ms - 1e-9);
    work += e.work_ms;
    span += e.end_ms - e.start_ms;
  }
  CHECK(work == doctest::Approx(2 * m * 3.0));
  CHECK(span > work * 1.2);  // the ranks computed at once for part of the step
  // The window sums both, per rank.
  const SteadyWindow w = timeline_window(r.result.timeline, 0);
  CHECK(w.work_ms[0] + w.work_ms[1] == doctest::Approx(work));
  CHECK(w.busy_ms[0] + w.busy_ms[1] == doctest::Approx(span));
  // Without sharing, work and span agree.
  SharedSimulation d = simulate_shared(s, c, free_cluster(2), SimOptions{}, {});
  for (const auto& e : d.result.timeline.events)
    if (e.stream == Stream::compute) CHECK(e.end_ms - e.start_ms == doctest::Approx(e.work_ms));
}

TEST_CASE("steady window: work is counted in proportion for a cut event and unknown when any lacks it") {
  Timeline t;
  t.num_ranks = 1;
  t.step_time_ms = 10;
  TimelineEvent a;
  a.stream = Stream::compute;
  a.start_ms = 0;
  a.end_ms = 4;
  a.work_ms = 2;  // half of its span waited for a core
  t.events.push_back(a);
  const SteadyWindow w = timeline_window(t, 2);  // cuts the event in half
  CHECK(w.busy_ms[0] == doctest::Approx(2));
  CHECK(w.work_ms[0] == doctest::Approx(1));
  TimelineEvent b = a;
  b.start_ms = 5;
  b.end_ms = 6;
  b.work_ms = -1;  // not measured
  t.events.push_back(b);
  CHECK(timeline_window(t, 0).work_ms[0] == -1);
}
