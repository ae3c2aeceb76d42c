// Throughput of `pipekit run`: one process with one intra-op thread against a
// 2-rank 1F1B pipeline (one thread per rank) on the same model and batch.
// Both run the same number of steps; the first step (allocation, Adam state)
// is left out of the mean.
//
//   bench_executor_pipeline [MODEL] [STEPS] [extra pipekit run flags...]
//   default: gpt2-small --seq 32 --batch 8 --microbatches 8, 4 steps
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

double mean_samples_per_s(const std::string& metrics) {
  std::ifstream in(metrics);
  std::string line;
  double sum = 0;
  int n = 0, step = 0;
  while (std::getline(in, line)) {
    if (++step == 1) continue;
    sum += nlohmann::json::parse(line).at("samples_per_s").get<double>();
    ++n;
  }
  return n ? sum / n : 0;
}

double run(const std::string& args, const std::string& metrics) {
  std::string cmd =
      std::string(PIPEKIT_BINARY) + " run --quiet --threads 1 --metrics " + metrics + " " + args;
  std::printf("$ %s\n", cmd.c_str());
  std::fflush(stdout);
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "bench: command failed\n");
    std::exit(1);
  }
  return mean_samples_per_s(metrics);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model = argc > 1 ? argv[1] : "gpt2-small";
  const std::string steps = argc > 2 ? argv[2] : "4";
  std::string extra = " --seq 32 --batch 8";
  for (int i = 3; i < argc; ++i) extra += std::string(" ") + argv[i];
  const std::string common =
      "--model " + model + " --steps " + steps + " --microbatches 8 --data random" + extra;
  const std::string dir = "/tmp/pipekit-bench-" + std::to_string(getpid());
  std::system(("mkdir -p " + dir).c_str());
  const double one = run(common + " --stages 1 --schedule 1f1b", dir + "/one.jsonl");
  const double two = run(common + " --stages 2 --schedule 1f1b --nproc 2", dir + "/two.jsonl");
  std::system(("rm -rf " + dir).c_str());
  std::printf("\n%-34s %12s\n", "configuration", "samples/s");
  std::printf("%-34s %12.2f\n", "1 process, 1 thread", one);
  std::printf("%-34s %12.2f\n", "2 ranks 1F1B, 1 thread each", two);
  std::printf("speed-up %.2fx (ideal 2x minus the bubble (p-1)/(m+p-1) and transfers)\n",
              one > 0 ? two / one : 0);
  return 0;
}
