#include "executor/corun_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "executor/batch_source.h"
#include "executor/compute_threads.h"
#include "executor/host_memory.h"
#include "executor/master_weights.h"
#include "executor/model_layers.h"

namespace pipekit {
namespace {

using Clock = std::chrono::steady_clock;

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

struct Worker {
  pid_t pid = -1;
  int to = -1, from = -1;  // its stdin, its stdout
  std::string buffered;
};

Worker spawn(const CorunOptions& o, int index) {
  std::vector<std::string> args = {"/proc/self/exe",
                                   "corun",
                                   "--child",
                                   "--model",
                                   o.model.name,
                                   "--layers",
                                   join(o.worker_layers.at(index)),
                                   "--microbatch",
                                   std::to_string(o.microbatch),
                                   "--seq",
                                   std::to_string(o.seq),
                                   "--device",
                                   o.device,
                                   "--threads",
                                   std::to_string(o.threads),
                                   "--window",
                                   fmt::format("{}", o.window_s),
                                   "--seed",
                                   std::to_string(o.seed),
                                   "--gpu",
                                   std::to_string(o.gpu),
                                   "--work",
                                   o.work,
                                   "--precision",
                                   to_string(o.precision),
                                   "--optimizer",
                                   to_string(o.optimizer)};
  if (o.model.kind == ModelKind::gpt) {
    args.insert(args.end(), {"--vocab", std::to_string(o.model.vocab)});
  }
  if (o.model.input() == InputKind::tensors) {
    std::string shape;
    for (auto d : o.model.sample_shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    args.insert(args.end(), {"--input-shape", shape, "--input-dtype", o.model.sample_dtype});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string th = std::to_string(o.threads);
  // Close-on-exec: a later worker must not inherit an earlier one's pipe ends.
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]})
      if (fd >= 0) close(fd);
    throw std::runtime_error("corun: cannot create pipes");
  }
  std::fflush(stdout);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) close(fd);
    throw std::runtime_error("corun: fork failed");
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    close(in_pipe[1]);
    close(out_pipe[0]);
    setenv("OMP_NUM_THREADS", th.c_str(), 1);
    setenv("OPENBLAS_NUM_THREADS", th.c_str(), 1);
    setenv("MKL_NUM_THREADS", th.c_str(), 1);
    execv(argv[0], argv.data());
    static const char msg[] = "pipekit corun: cannot start a worker (exec of /proc/self/exe failed)\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(127);
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  return Worker{pid, in_pipe[1], out_pipe[0], ""};
}

// The next line a worker prints, or an error naming it after `timeout_s`.
std::string read_line(Worker& w, int index, double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    if (auto nl = w.buffered.find('\n'); nl != std::string::npos) {
      std::string line = w.buffered.substr(0, nl);
      w.buffered.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0)
      throw std::runtime_error(fmt::format("corun: worker {} did not answer in {} s", index, timeout_s));
    pollfd p{w.from, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::min<long long>(left, 60000))) <= 0) continue;
    char buf[256];
    const ssize_t n = read(w.from, buf, sizeof buf);
    if (n <= 0)
      throw std::runtime_error(fmt::format("corun: worker {} ended early (see its error above)", index));
    w.buffered.append(buf, static_cast<std::size_t>(n));
  }
}

void finish(std::vector<Worker>& ws, bool kill_them) {
  for (auto& w : ws) {
    if (w.pid <= 0) continue;
    if (kill_them) kill(w.pid, SIGKILL);
    int status = 0;
    waitpid(w.pid, &status, 0);
    close(w.to);
    close(w.from);
    w.pid = -1;
  }
}

// A worker's answer: "rate R noise n1 n2 ...", the noise factors optional.
struct WorkerRate {
  double rate = 0;
  std::vector<double> noise;
};

WorkerRate parse_rate(const std::string& line) {
  WorkerRate out;
  std::istringstream in(line.substr(5));
  in >> out.rate;
  std::string word;
  if (in >> word && word == "noise")
    for (double x; in >> x;) out.noise.push_back(x);
  return out;
}

// Starts the given workers, waits until all are warm, starts them together,
// and returns their rates.
std::vector<WorkerRate> round(const CorunOptions& o, const std::vector<int>& which) {
  std::vector<Worker> ws;
  try {
    for (int i : which) ws.push_back(spawn(o, i));
    for (std::size_t k = 0; k < ws.size(); ++k)
      if (read_line(ws[k], which[k], o.timeout_s) != "ready")
        throw std::runtime_error(fmt::format("corun: worker {} said something unexpected", which[k]));
    for (auto& w : ws)
      if (write(w.to, "go\n", 3) != 3) throw std::runtime_error("corun: cannot signal a worker");
    std::vector<WorkerRate> rates;
    for (std::size_t k = 0; k < ws.size(); ++k) {
      const std::string line = read_line(ws[k], which[k], o.timeout_s + o.window_s);
      if (line.rfind("rate ", 0) != 0)
        throw std::runtime_error(
            fmt::format("corun: worker {} printed '{}' instead of its rate", which[k], line));
      rates.push_back(parse_rate(line));
    }
    finish(ws, false);
    return rates;
  } catch (...) {
    finish(ws, true);
    throw;
  }
}

}  // namespace

CorunResult measure_corun(const CorunOptions& o) {
  // A worker that dies after "ready" must be an error, not a SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  const int k = static_cast<int>(o.worker_layers.size());
  if (k < 1) throw std::runtime_error("corun: no workers");
  CorunResult r;
  // Each worker alone before and after the together window, its rate the
  // mean of both: this machine's speed drifts over seconds, and an alone
  // rate caught in one slow state reads as sharing that gains more compute
  // than the cores have.
  std::vector<WorkerRate> alone, after;
  for (int i = 0; i < k; ++i) alone.push_back(round(o, {i}).front());
  std::vector<int> all(k);
  for (int i = 0; i < k; ++i) all[i] = i;
  const std::vector<WorkerRate> together = k == 1 ? alone : round(o, all);
  if (k > 1)
    for (int i = 0; i < k; ++i) after.push_back(round(o, {i}).front());
  auto keep_series = [&](const WorkerRate& w) {
    if (w.noise.empty()) return;
    r.alone_series.push_back(w.noise);
    r.alone_sample_s.push_back(o.window_s / static_cast<double>(w.noise.size()));
  };
  for (int i = 0; i < k; ++i) {
    r.alone_per_s.push_back(after.empty() ? alone[i].rate : 0.5 * (alone[i].rate + after[i].rate));
    keep_series(alone[i]);
    if (!after.empty()) keep_series(after[i]);
  }
  for (const auto& w : together) {
    r.together_per_s.push_back(w.rate);
    r.together_noise.insert(r.together_noise.end(), w.noise.begin(), w.noise.end());
  }
  r.capacity = 0;
  for (int i = 0; i < k; ++i) r.capacity += r.together_per_s[i] / std::max(1e-12, r.alone_per_s[i]);
  // Workers on the CPU get no more than the cores they may run on.
  r.measured_capacity = r.capacity;
  if (o.device == "cpu") {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
      r.capacity = std::min(r.capacity, static_cast<double>(CPU_COUNT(&set)));
  }
  return r;
}

int corun_worker(const CorunOptions& o) {
  set_compute_threads(o.threads);
  keep_host_memory();
  const bool cuda = o.device == "cuda";
  const torch::Device dev =
      cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(o.gpu)) : torch::Device(torch::kCPU);
  const std::vector<int>& ids = o.worker_layers.at(0);
  auto layers = build_layers(o.model, ids, o.seed);
  move_layers(layers, dev);
  const torch::ScalarType dt = working_dtype(o.precision);
  if (mixed(o.precision)) cast_layers(layers, dt);
  // The input a rank sees: a micro-batch for the first layer, else an
  // activation of the boundary's shape (whose gradient it computes, as B does).
  torch::Tensor input;
  if (ids.front() == 0 && o.model.input() == InputKind::tensors) {
    input = working_input(random_input(o.model, o.microbatch, o.seq, o.seed).to(dev), dt);
  } else if (ids.front() == 0) {
    BatchSource data(o.model, "random", o.microbatch, o.seq, 1, o.seed);
    input = working_input(input_tensor(data.get(0, 0)).to(dev), dt);
  } else {
    auto shapes = layer_output_shapes(o.model, o.microbatch, o.seq, o.seed);
    input = torch::randn(shapes.at(ids.front() - 1)).to(dev).to(dt).requires_grad_(true);
  }
  auto iteration = [&] {
    torch::Tensor out = forward_layers(layers, input);
    out.to(torch::kFloat).mean().backward();
    if (cuda) torch::cuda::synchronize(o.gpu);
  };
  for (int i = 0; i < 2; ++i) iteration();
  // The optimizer step as a rank takes it: every parameter has its gradient.
  std::unique_ptr<torch::optim::Optimizer> opt;
  std::vector<torch::Tensor> params;
  MasterWeights master;  // mixed precision: the step updates fp32 masters, then copies them back
  if (o.work == "step") {
    for (auto& l : layers)
      for (auto& p : l.params) params.push_back(p);
    if (mixed(o.precision)) {
      master = MasterWeights(params);
      for (auto& m : master.tensors()) m.mutable_grad() = torch::zeros_like(m);
    }
    opt = make_optimizer(o.optimizer, mixed(o.precision) ? master.tensors() : params, 1e-6);
    opt->step();  // lazily created state (Adam's moments) outside the window
  }
  auto work = [&] {
    if (!opt) return iteration();
    opt->step();
    if (!master.empty()) master.copy_to(params);
    if (cuda) torch::cuda::synchronize(o.gpu);
  };
  std::printf("ready\n");
  std::fflush(stdout);
  std::string go;
  if (!std::getline(std::cin, go)) return 1;
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration<double>(o.window_s);
  long n = 0;
  std::vector<double> times;
  for (auto t = t0; t < end;) {
    work();
    const auto now = Clock::now();
    times.push_back(std::chrono::duration<double>(now - t).count());
    t = now;
    ++n;
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  // Each iteration over the median, evenly thinned to 400 (one line stays short).
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 1 : std::max(1e-12, sorted[sorted.size() / 2]);
  std::string noise;
  const std::size_t stride = std::max<std::size_t>(1, times.size() / 400);
  for (std::size_t i = 0; i < times.size(); i += stride) noise += fmt::format(" {:.4f}", times[i] / median);
  std::printf("rate %.9g noise%s\n", n / s, noise.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace pipekit
