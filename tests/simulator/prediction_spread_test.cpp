// The overhead model's pieces (per-byte message cost, late receives) and the
// Monte Carlo spread, against hand-worked pipelines; the calibration format.
#include <doctest/doctest.h>

#include <algorithm>

#include "core/error.h"
#include "simulator/calibrated_model.h"
#include "simulator/prediction_spread.h"
#include "simulator/run_calibration_json.h"
#include "simulator/steady_window.h"
#include "tests/support/sim_test_support.h"

using namespace pipekit;
using pipekit::test::make_schedule;
using pipekit::test::run_synthetic;

TEST_CASE("message overhead per byte: each end is charged for its own message's size") {
  // 2 stages, gpipe: rank 0 sends activations of output_bytes[0] and receives
  // their gradients (same size); a per-byte rate adds bytes * rate per end.
  const int m = 3;
  Schedule s = lower_schedule(make_schedule("gpipe", 2, m));
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1, 1000);
  SimOptions opt;
  const double base = simulate(s, c, free_cluster(2), opt).metrics.ranks[0].busy_ms;
  opt.message_overhead_per_byte_ms = 1e-4;  // 0.1 ms per 1000-byte end
  const SimulationResult r = simulate(s, c, free_cluster(2), opt);
  CHECK(r.metrics.ranks[0].busy_ms == doctest::Approx(base + 2 * m * 0.1));
  CHECK(r.metrics.ranks[1].busy_ms == doctest::Approx(base + 2 * m * 0.1));
  c.stages[0].output_bytes = 3000;  // three times the bytes: three times the charge
  CHECK(simulate(s, c, free_cluster(2), opt).metrics.ranks[0].busy_ms == doctest::Approx(base + 2 * m * 0.3));
}

TEST_CASE("late receive: a message sent early still costs its receiver the wait once it waits") {
  // 1f1b on 2 ranks, F = 1, B = 2, free links. Rank 1's forward of micro-batch
  // 1 needs an activation rank 0 sent at t = 2, but rank 1 only reaches it after
  // B0 (t = 4): with no asynchronous progress it starts at 4 + wait, not 4.
  const double wait = 0.5;
  for (bool lower : {false, true}) {
    CAPTURE(lower);
    Schedule s = make_schedule("1f1b", 2, 4);
    if (lower) s = lower_schedule(s);
    SimOptions opt;
    opt.record_timeline = true;
    const SimulationResult free = run_synthetic(s, 1.0, 2.0, -1, opt);
    opt.receive_wait_ms = wait;
    const SimulationResult late = run_synthetic(s, 1.0, 2.0, -1, opt);
    auto start = [](const SimulationResult& r, int rank, const char* action) {
      for (const auto& e : r.timeline.events)
        if (e.rank == rank && e.stream == Stream::compute && to_string(e.action) == action) return e.start_ms;
      return -1.0;
    };
    CHECK(start(free, 1, "1F1") == doctest::Approx(4.0));
    CHECK(start(late, 1, "1F1") >= doctest::Approx(start(late, 1, "1B0") + 2.0 + wait));
    // Every one of the 2 (m) cross-rank waits on the critical path adds up: the step grows.
    CHECK(late.metrics.step_time_ms > free.metrics.step_time_ms + wait);
    // Busy time does not change: waiting is idle time.
    CHECK(late.metrics.ranks[1].busy_ms == doctest::Approx(free.metrics.ranks[1].busy_ms));
  }
}

TEST_CASE("spread: no samples gives the simulation itself, samples give ordered, seeded percentiles") {
  Schedule s = lower_schedule(make_schedule("1f1b", 3, 6));
  StageCosts c = synthetic_stage_costs(3, 1, 1.0, 2.0);
  const Cluster cl = free_cluster(3);
  SimOptions opt;
  const double step = simulate(s, c, cl, opt).metrics.step_time_ms;
  SpreadInputs none;
  none.draws = 5;
  const StepSpread flat = predict_spread(s, c, cl, opt, {}, none);
  CHECK(flat.p10_ms == doctest::Approx(step));
  CHECK(flat.p90_ms == doctest::Approx(step));

  SpreadInputs in;
  in.compute_noise = {0.8, 1.0, 1.0, 1.2, 1.5};
  in.delay_ms = {0.0, 0.1, 0.3};
  in.receive_wait_ms = {0.0, 0.2};
  in.draws = 100;
  in.seed = 7;
  const StepSpread a = predict_spread(s, c, cl, opt, {}, in);
  CHECK(a.steps_ms.size() == 100);
  CHECK(std::is_sorted(a.steps_ms.begin(), a.steps_ms.end()));
  CHECK(a.p10_ms <= a.p50_ms);
  CHECK(a.p50_ms <= a.p90_ms);
  CHECK(a.p10_ms < a.p90_ms);  // the draws really vary the step
  const StepSpread again = predict_spread(s, c, cl, opt, {}, in);
  CHECK(again.steps_ms == a.steps_ms);  // same seed, same draws
  in.seed = 8;
  CHECK(predict_spread(s, c, cl, opt, {}, in).steps_ms != a.steps_ms);
  // Noise rescaled to mean 1: doubling every factor changes nothing.
  SpreadInputs doubled = in;
  doubled.seed = 7;
  for (double& x : doubled.compute_noise) x *= 2;
  CHECK(predict_spread(s, c, cl, opt, {}, doubled).steps_ms == a.steps_ms);
  // A wider noise distribution gives a wider band.
  SpreadInputs wide = in;
  wide.seed = 7;
  wide.compute_noise = {0.4, 1.0, 1.0, 1.6, 2.5};
  const StepSpread w = predict_spread(s, c, cl, opt, {}, wide);
  CHECK(w.p90_ms - w.p10_ms > a.p90_ms - a.p10_ms);

  SpreadInputs bad = in;
  bad.delay_ms = {-1.0};
  CHECK_THROWS_AS(predict_spread(s, c, cl, opt, {}, bad), InputError);
  bad = in;
  bad.draws = 0;
  CHECK_THROWS_AS(predict_spread(s, c, cl, opt, {}, bad), InputError);
}

TEST_CASE("speed factor: window means of a speed series, their median, over the series' mean") {
  // 10 samples of 10 ms: a slow state (2) for 30 ms among fast ones (1); mean 1.3.
  const std::vector<double> series = {1, 1, 2, 2, 2, 1, 1, 1, 1, 1};
  // One 30 ms window on the slow state: 2 / 1.3; on a fast one: 1 / 1.3.
  CHECK(speed_factor(series, 10, 30, 1, 2) == doctest::Approx(2 / 1.3));
  CHECK(speed_factor(series, 10, 30, 1, 5) == doctest::Approx(1 / 1.3));
  // Circular: from sample 9 the window takes samples 9, 0, 1.
  CHECK(speed_factor(series, 10, 30, 1, 9) == doctest::Approx(1 / 1.3));
  // Three windows of 10 ms from sample 3: 2, 2, 1 -> median 2.
  CHECK(speed_factor(series, 10, 10, 3, 3) == doctest::Approx(2 / 1.3));
  // Two windows: the median of an even count is the middle pair's mean.
  CHECK(speed_factor(series, 10, 10, 2, 4) == doctest::Approx(1.5 / 1.3));
  // A window as long as the series (or longer) averages every state: factor 1 from any start.
  for (std::size_t start : {0u, 3u, 7u})
    CHECK(speed_factor(series, 10, 100, 1, start) == doctest::Approx(1.0));
  // Shorter than a sample: one sample.
  CHECK(speed_factor(series, 10, 1, 1, 4) == doctest::Approx(2 / 1.3));
  CHECK_THROWS_AS(speed_factor({}, 10, 10, 1, 0), InputError);
  CHECK_THROWS_AS(speed_factor(series, 0, 10, 1, 0), InputError);
}

TEST_CASE("spread: the machine's speed widens the band for short steps, not for long ones") {
  Schedule s = lower_schedule(make_schedule("1f1b", 2, 4));
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0);
  const Cluster cl = free_cluster(2);
  SimOptions opt;
  const double step = simulate(s, c, cl, opt).metrics.step_time_ms;
  // Speed states of 5 samples (5 ms each): fast (1) and slow (1.6) alternating.
  std::vector<double> series;
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 5; ++i) series.push_back(k % 2 ? 1.6 : 1.0);
  SpreadInputs in;
  in.draws = 200;
  in.seed = 3;
  in.speed_series = {series};
  in.speed_sample_ms = {5.0};
  in.speed_window_ms = step;  // a step shorter than a state: it lands in one
  const StepSpread short_steps = predict_spread(s, c, cl, opt, {}, in);
  // Factors 1/1.3 and 1.6/1.3, and blends at state edges: every step scales by one of them.
  CHECK(short_steps.p10_ms < 0.9 * step);  // each rank draws its own: both fast in a quarter of the draws
  CHECK(short_steps.p90_ms > 1.15 * step);
  CHECK(short_steps.speed_p10 < 0.85);
  CHECK(short_steps.speed_p90 > 1.15);
  CHECK(predict_spread(s, c, cl, opt, {}, in).steps_ms == short_steps.steps_ms);  // seeded
  // The median of many consecutive steps, or one long window, averages the states out.
  in.speed_windows = 1;
  in.speed_window_ms = 200;  // the whole series
  const StepSpread long_window = predict_spread(s, c, cl, opt, {}, in);
  CHECK(long_window.p10_ms == doctest::Approx(step));
  CHECK(long_window.p90_ms == doctest::Approx(step));
  // No window: no speed draws.
  in.speed_window_ms = 0;
  CHECK(predict_spread(s, c, cl, opt, {}, in).p90_ms == doctest::Approx(step));
  // A series without its sample time is an error.
  in.speed_window_ms = step;
  in.speed_sample_ms.clear();
  CHECK_THROWS_AS(predict_spread(s, c, cl, opt, {}, in), InputError);
}

TEST_CASE("percentile: nearest rank") {
  const std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(percentile(v, 0.1) == 1);
  CHECK(percentile(v, 0.5) == 5);
  CHECK(percentile(v, 0.9) == 9);
  CHECK(percentile({}, 0.5) == 0);
}

TEST_CASE("calibration JSON: round trip, the --compare wrapper, and clear errors") {
  RunCalibration c;
  c.link_latency_s = 4e-5;
  c.link_bandwidth_bytes_per_s = 2e9;
  c.loaded_delay_s = 3e-4;
  c.end_cpu_fitted = true;
  c.end_cpu_base_s = 2e-5;
  c.end_cpu_per_byte_s = 1e-10;
  c.receive_wait_s = 4e-4;
  c.shared.push_back(SharedDevice{{0, 1}, 1.8, 1.1});
  c.delay_samples_s = {1e-4, 5e-4};
  c.receive_wait_samples_s = {3e-4};
  c.compute_noise = {0.9, 1.0, 1.3};
  c.speed_series = {{1.0, 1.4, 0.9}, {1.1}};
  c.speed_sample_ms = {12.5, 30.0};
  const std::string text = calibration_to_json(c);
  const RunCalibration back = calibration_from_json(text, "c.json");
  CHECK(back.link_latency_s == doctest::Approx(c.link_latency_s));
  CHECK(back.end_cpu_fitted);
  CHECK(back.end_cpu_per_byte_s == doctest::Approx(c.end_cpu_per_byte_s));
  CHECK(back.receive_wait_s == doctest::Approx(c.receive_wait_s));
  REQUIRE(back.shared.size() == 1);
  CHECK(back.shared[0].ranks == std::vector<int>{0, 1});
  CHECK(back.shared[0].capacity == doctest::Approx(1.8));
  CHECK(back.compute_noise == c.compute_noise);
  CHECK(back.delay_samples_s == c.delay_samples_s);
  CHECK(back.speed_series == c.speed_series);
  CHECK(back.speed_sample_ms == c.speed_sample_ms);
  // Inside a --compare result.
  const std::string wrapped =
      R"({"format": "pipekit-sim-vs-real/1", "calibration": {"model": )" + text + "}}";
  CHECK(calibration_from_json(wrapped, "r.json").receive_wait_s == doctest::Approx(c.receive_wait_s));
  // The model it makes: the loaded latency, the fitted line, the late wait.
  const CalibratedModel m = calibrated_model(back, 3);
  CHECK(m.cluster.num_devices() == 3);
  CHECK(m.message_overhead_ms == doctest::Approx(0.02));
  CHECK(m.message_overhead_per_byte_ms == doctest::Approx(1e-7));
  CHECK(m.receive_wait_ms == doctest::Approx(0.4));
  CHECK(m.draws.delay_ms.size() == 2);
  CHECK(m.draws.speed_series == c.speed_series);
  CHECK(m.draws.speed_sample_ms == c.speed_sample_ms);
  RunCalibration nccl = back;
  nccl.nccl = true;
  CHECK(calibrated_model(nccl, 2).receive_wait_ms == 0);

  auto fails = [](const std::string& t, const std::string& what) {
    try {
      calibration_from_json(t, "bad.json");
      FAIL("accepted: " << t);
    } catch (const InputError& e) {
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
  };
  fails(R"({"format": "pipekit-plan/1"})", "format");
  fails(R"({"format": "pipekit-sim-vs-real/1", "calibration": {}})", "calibration.model");
  fails(R"({"format": "pipekit-calibration/1", "shared": [{"ranks": [0], "capacity": 0}]})", "positive");
  fails(R"({"format": "pipekit-calibration/1", "compute_noise": [1, -2]})", ">= 0");
  fails(R"({"format": "pipekit-calibration/1", "speed_series": [{"sample_ms": 0, "relative_times": [1]}]})",
        "sample_ms");
  fails(R"({"format": "pipekit-calibration/1", "speed_series": [{"sample_ms": 5, "relative_times": []}]})",
        "at least one sample");
  fails(
      R"({"format": "pipekit-calibration/1", "speed_series": [{"sample_ms": 5, "relative_times": [1, 0]}]})",
      "positive");
  fails("{", "bad.json");
}

TEST_CASE("steady window: an asynchronous stream measured from a later micro-batch's first forward") {
  // pipedream on 2 ranks, 8 micro-batches (two minibatches of 4), F = 1, B = 2.
  const Schedule s = lower_schedule(make_schedule("pipedream", 2, 8));
  SimOptions opt;
  opt.record_timeline = true;
  opt.record_action_times = true;
  const SimulationResult r = run_synthetic(s, 1.0, 2.0, -1, opt);
  const std::optional<SteadyWindow> w = steady_window(r.timeline, 4);
  REQUIRE(w.has_value());
  double f4 = -1;
  for (const auto& e : r.timeline.events)
    if (e.stream == Stream::compute && e.action.stage == 0 && e.action.type == ActionType::F &&
        e.action.microbatch == 4)
      f4 = e.start_ms;
  CHECK(w->start_ms == doctest::Approx(f4));
  CHECK(w->length_ms == doctest::Approx(r.metrics.step_time_ms - f4));
  // The same window from the action times the spread uses.
  const std::optional<double> from_times = steady_window_ms(s, r, 4);
  REQUIRE(from_times.has_value());
  CHECK(*from_times == doctest::Approx(w->length_ms));
  // Busy inside the window: the compute of micro-batches 4..7 at least, never more than the window.
  for (int rank = 0; rank < 2; ++rank) {
    CHECK(w->busy_ms[rank] >= doctest::Approx(4 * 3.0));
    CHECK(w->busy_ms[rank] <= doctest::Approx(w->length_ms));
    CHECK(w->busy_ms[rank] < r.metrics.ranks[rank].busy_ms);
  }
  CHECK_FALSE(steady_window(r.timeline, 8).has_value());  // no such micro-batch
  CHECK_FALSE(steady_window_ms(s, r, 8).has_value());
  // The spread with no noise is the window, in every draw.
  SpreadInputs in;
  in.draws = 5;
  in.steady_from = 4;
  StageCosts c = synthetic_stage_costs(2, 1, 1.0, 2.0, -1);
  const StepSpread sp = predict_spread(s, c, free_cluster(2), SimOptions{}, {}, in);
  CHECK(sp.p10_ms == doctest::Approx(w->length_ms));
  CHECK(sp.p90_ms == doctest::Approx(w->length_ms));
  in.steady_from = 8;
  CHECK_THROWS_AS(predict_spread(s, c, free_cluster(2), SimOptions{}, {}, in), InputError);
}
