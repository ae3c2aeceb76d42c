// Simulator throughput: simulated actions per second on one core, for large
// generated schedules (generation is outside the timed loop). Target: >= 5 M
// actions/s, 1F1B p=64 m=1024 and interleaved p=128 v=4 m=2048 well under 1 s.
#include <benchmark/benchmark.h>

#include "passes/lowering.h"
#include "planner/schedule_generator.h"
#include "simulator/shared_device.h"
#include "simulator/simulator.h"

namespace {

using namespace pipekit;

Schedule make(const std::string& kind, int p, int m, int v, bool lowered) {
  ScheduleSpec spec;
  spec.kind = kind;
  spec.microbatches = m;
  spec.virtual_stages = v;
  Schedule s = generate_schedule(spec, p);
  return lowered ? lower_schedule(s) : s;
}

// Equal stages (F 1 ms, B 2 ms per rank) with sizes for the memory terms.
StageCosts bench_costs(int p, int v) {
  return synthetic_stage_costs(p, v, 1.0, 2.0, -1, 1 << 20, 1 << 22, 1 << 24);
}

void run(benchmark::State& state, const std::string& kind, int p, int m, int v, bool lowered, bool timeline) {
  Schedule s = make(kind, p, m, v, lowered);
  const StageCosts c = bench_costs(p, v);
  const Cluster cl = flat_cluster(p, 25e9, 5e-6);
  SimOptions opt;
  opt.record_timeline = timeline;
  for (auto _ : state) {
    SimulationResult r = simulate(s, c, cl, opt);
    benchmark::DoNotOptimize(r.metrics.step_time_ms);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(s.action_count()));
  state.counters["actions"] = static_cast<double>(s.action_count());
}

void BM_1F1B_p64_m1024(benchmark::State& st) {
  run(st, "1f1b", 64, 1024, 1, false, false);
}
void BM_1F1B_p64_m1024_lowered(benchmark::State& st) {
  run(st, "1f1b", 64, 1024, 1, true, false);
}
void BM_1F1B_p64_m1024_timeline(benchmark::State& st) {
  run(st, "1f1b", 64, 1024, 1, true, true);
}
void BM_Interleaved_p128_v4_m2048(benchmark::State& st) {
  run(st, "interleaved", 128, 2048, 4, false, false);
}
void BM_Interleaved_p128_v4_m2048_lowered(benchmark::State& st) {
  run(st, "interleaved", 128, 2048, 4, true, false);
}
void BM_ZBH1_p32_m512_lowered(benchmark::State& st) {
  run(st, "zb-h1", 32, 512, 1, true, false);
}
// Linearity: the same schedule kind at growing micro-batch counts.
void BM_1F1B_p16_scaling(benchmark::State& st) {
  run(st, "1f1b", 16, static_cast<int>(st.range(0)), 1, true, false);
}

// Shared device (simulator/shared_device.h): the fixed point re-simulates
// until the step settles; the rounds it took are a counter.
void shared(benchmark::State& state, const std::string& kind, int p, int m, int v, double capacity) {
  Schedule s = make(kind, p, m, v, true);
  const StageCosts c = bench_costs(p, v);
  const Cluster cl = flat_cluster(p, 25e9, 5e-6);
  SimOptions opt;
  opt.record_timeline = false;
  SharedDevice d;
  for (int r = 0; r < p; ++r) d.ranks.push_back(r);
  d.capacity = capacity;
  int rounds = 0;
  for (auto _ : state) {
    SharedSimulation r = simulate_shared(s, c, cl, opt, {d});
    rounds = r.rounds;
    benchmark::DoNotOptimize(r.result.metrics.step_time_ms);
  }
  state.counters["rounds"] = rounds;
  state.counters["actions"] = static_cast<double>(s.action_count());
}

void BM_Shared_1F1B_p4_m64_cap1(benchmark::State& st) {
  shared(st, "1f1b", 4, 64, 1, 1.0);
}
void BM_Shared_Interleaved_p8_v2_m64_cap2(benchmark::State& st) {
  shared(st, "interleaved", 8, 64, 2, 2.0);
}
void BM_Shared_1F1B_p64_m1024_cap1(benchmark::State& st) {
  shared(st, "1f1b", 64, 1024, 1, 1.0);
}

BENCHMARK(BM_Shared_1F1B_p4_m64_cap1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Shared_Interleaved_p8_v2_m64_cap2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Shared_1F1B_p64_m1024_cap1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_1F1B_p64_m1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_1F1B_p64_m1024_lowered)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_1F1B_p64_m1024_timeline)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Interleaved_p128_v4_m2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Interleaved_p128_v4_m2048_lowered)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ZBH1_p32_m512_lowered)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_1F1B_p16_scaling)->RangeMultiplier(4)->Range(64, 16384)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
