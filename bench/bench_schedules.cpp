// Generation, lowering and validation cost of large schedules: all three are
// meant to be linear in the number of actions.
#include <benchmark/benchmark.h>

#include "passes/lowering.h"
#include "passes/schedule_validator.h"
#include "planner/schedule_generator.h"

namespace {

pipekit::ScheduleSpec spec(const char* kind, int m, int v) {
  pipekit::ScheduleSpec s;
  s.kind = kind;
  s.microbatches = m;
  s.virtual_stages = v;
  return s;
}

void BM_Generate1F1B(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(pipekit::generate_schedule(spec("1f1b", 1024, 1), 64));
}
BENCHMARK(BM_Generate1F1B)->Unit(benchmark::kMillisecond);

void BM_GenerateInterleaved(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(pipekit::generate_schedule(spec("interleaved", 2048, 4), 128));
}
BENCHMARK(BM_GenerateInterleaved)->Unit(benchmark::kMillisecond);

void BM_GenerateZbv(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(pipekit::generate_schedule(spec("zbv", 1024, 2), 64));
}
BENCHMARK(BM_GenerateZbv)->Unit(benchmark::kMillisecond);

void BM_GenerateZbH1(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(pipekit::generate_schedule(spec("zb-h1", 1024, 1), 64));
}
BENCHMARK(BM_GenerateZbH1)->Unit(benchmark::kMillisecond);

// zb-auto searches about ten per-rank limits, each list-scheduled twice and
// replayed: bounded, so p = 16, m = 64 stays in milliseconds.
void BM_GenerateZbAutoUnequalCosts(benchmark::State& st) {
  const int p = 16;
  pipekit::ScheduleSpec s = spec("zb-auto", 64, 1);
  for (int k = 0; k < p; ++k) {
    s.cost_hint.forward_ms.push_back(1.0 + 0.25 * (k % 3));
    s.cost_hint.input_grad_ms.push_back(1.0 + 0.5 * (k % 2));
    s.cost_hint.weight_grad_ms.push_back(0.5 + 0.75 * (k % 4));
  }
  for (auto _ : st) benchmark::DoNotOptimize(pipekit::generate_schedule(s, p));
}
BENCHMARK(BM_GenerateZbAutoUnequalCosts)->Unit(benchmark::kMillisecond);

void BM_LowerInterleaved(benchmark::State& st) {
  auto s = pipekit::generate_schedule(spec("interleaved", 2048, 4), 128);
  for (auto _ : st) benchmark::DoNotOptimize(pipekit::lower_schedule(s));
}
BENCHMARK(BM_LowerInterleaved)->Unit(benchmark::kMillisecond);

void BM_ValidateLoweredInterleaved(benchmark::State& st) {
  auto s = pipekit::lower_schedule(pipekit::generate_schedule(spec("interleaved", 2048, 4), 128));
  for (auto _ : st) benchmark::DoNotOptimize(pipekit::validate_schedule(s));
}
BENCHMARK(BM_ValidateLoweredInterleaved)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
