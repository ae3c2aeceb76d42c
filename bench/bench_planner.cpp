// Planner speed: PipeDream's dynamic program on PipeDream's own profiles (compare
// with optimizer_graph_hierarchical.py: ~0.2 s vgg16 on 16, ~9 s gnmt_large on 4,
// ~120 s resnet50 on 8x2), a 512-layer chain on 1,024 devices (8 x 128 and one
// flat level of 256 and of 1,024), and the exact straight partitioner.
#include <benchmark/benchmark.h>

#include <random>

#include "planner/deepspeed_partition.h"
#include "planner/pipedream_dp.h"
#include "planner/straight_partitioner.h"
#include "profiles/pipedream_graph.h"

using namespace pipekit;

namespace {

Profile pipedream_profile(const std::string& model) {
  return load_profile(std::string(PIPEKIT_SOURCE_DIR) + "/profiles/pipedream/graph/" + model + "/graph.txt");
}

Profile synthetic_chain(int n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> ms(1, 10);
  std::uniform_int_distribution<int> mb(1, 100);
  Profile p;
  p.model = "chain";
  for (int i = 0; i < n; ++i) {
    Layer l;
    l.name = "l" + std::to_string(i);
    l.forward_ms = ms(rng);
    l.backward_ms = 2 * l.forward_ms;
    l.param_bytes = mb(rng) * 1'000'000LL;
    l.output_bytes = mb(rng) * 500'000LL;
    l.saved_bytes = l.output_bytes;
    p.layers.push_back(l);
  }
  return p;
}

void run_dp(benchmark::State& state, const Profile& p, std::vector<int> machines, std::vector<double> bw,
            CostModel cm) {
  PipeDreamOptions o;
  o.machines = std::move(machines);
  o.bandwidths = std::move(bw);
  o.cost_model = cm;
  for (auto _ : state) {
    DpResult r = pipedream_partition(p, o);
    benchmark::DoNotOptimize(r.time_per_minibatch_s);
  }
}

void BM_Dp_Vgg16_4(benchmark::State& s) {
  run_dp(s, pipedream_profile("vgg16"), {4}, {1e9}, CostModel::pipedream);
}
void BM_Dp_Vgg16_16(benchmark::State& s) {
  run_dp(s, pipedream_profile("vgg16"), {16}, {1e9}, CostModel::pipedream);
}
void BM_Dp_GnmtLarge_4(benchmark::State& s) {
  run_dp(s, pipedream_profile("gnmt_large"), {4}, {1e9}, CostModel::pipedream);
}
void BM_Dp_Resnet50_8x2(benchmark::State& s) {
  run_dp(s, pipedream_profile("resnet50"), {8, 2}, {1e10, 1e9}, CostModel::pipedream);
}
void BM_Dp_InceptionV3_8(benchmark::State& s) {
  run_dp(s, pipedream_profile("inception_v3"), {8}, {1e9}, CostModel::pipedream);
}
void BM_Dp_Chain512_8x128(benchmark::State& s) {
  run_dp(s, synthetic_chain(512), {8, 128}, {25e9, 12.5e9}, CostModel::pipekit);
}
void BM_Dp_Chain512_64(benchmark::State& s) {
  run_dp(s, synthetic_chain(512), {64}, {12.5e9}, CostModel::pipekit);
}
void BM_Dp_Chain512_256(benchmark::State& s) {
  run_dp(s, synthetic_chain(512), {256}, {12.5e9}, CostModel::pipekit);
}
void BM_Dp_Chain512_1024(benchmark::State& s) {
  run_dp(s, synthetic_chain(512), {1024}, {12.5e9}, CostModel::pipekit);
}

void BM_Straight_Chain512_64(benchmark::State& state) {
  Profile p = synthetic_chain(512);
  StraightOptions o;
  o.stages = 64;
  o.schedule.microbatches = 128;
  o.bandwidth = 12.5e9;
  for (auto _ : state) benchmark::DoNotOptimize(straight_partition(p, o).max_stage_ms);
}

void BM_DeepSpeed_Parameters_Chain512_64(benchmark::State& state) {
  Profile p = synthetic_chain(512);
  for (auto _ : state) benchmark::DoNotOptimize(deepspeed_partition(p, "parameters", 64));
}

}  // namespace

BENCHMARK(BM_Dp_Vgg16_4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Dp_Vgg16_16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Dp_GnmtLarge_4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Dp_Resnet50_8x2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Dp_InceptionV3_8)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Dp_Chain512_64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Dp_Chain512_8x128)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Dp_Chain512_256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Dp_Chain512_1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Straight_Chain512_64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeepSpeed_Parameters_Chain512_64)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
