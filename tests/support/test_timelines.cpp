#include "tests/support/test_timelines.h"

#include <algorithm>

namespace pipekit::test {

Timeline make_test_timeline(const TestTimelineOptions& o) {
  Timeline t;
  t.schedule = o.schedule;
  t.num_ranks = o.ranks;
  t.num_microbatches = o.microbatches;
  t.virtual_stages = o.virtual_stages;
  t.num_stages = o.ranks * o.virtual_stages;
  t.device_memory_bytes = o.device_memory;
  const int p = o.ranks, m = o.microbatches;
  auto stage = [&](int r, int k) { return r + p * (k % o.virtual_stages); };
  auto add = [&](int r, Stream s, ActionType ty, int st, int mb, double a, double b, int peer) {
    TimelineEvent e;
    e.rank = r;
    e.stream = s;
    e.action = {st, ty, mb};
    e.start_ms = a;
    e.end_ms = b;
    e.peer = peer;
    if (peer >= 0) e.bytes = 4'000'000;
    t.events.push_back(e);
  };
  const double f = o.fwd, b = o.bwd, c = o.comm ? o.comm_ms : 0;
  for (int r = 0; r < p; ++r)
    for (int k = 0; k < m; ++k) {
      double s = r * (f + c) + k * f;
      add(r, Stream::compute, ActionType::F, stage(r, k), k, s, s + f, -1);
      if (o.comm && r + 1 < p) {
        add(r, Stream::send, ActionType::SEND_F, stage(r, k), k, s + f, s + f + c, r + 1);
        add(r + 1, Stream::recv, ActionType::RECV_F, stage(r, k) + 1, k, s + f, s + f + c, r);
      }
    }
  const double t0 = (p - 1) * (f + c) + m * f;
  std::vector<double> bend(p, 0), first_b_end(p, 0);
  for (int j = 0; j < p; ++j) {
    int r = p - 1 - j;
    for (int k = 0; k < m; ++k) {
      double s = t0 + j * (b + c) + k * b;
      add(r, Stream::compute, ActionType::B, stage(r, k), k, s, s + b, -1);
      if (k == 0) first_b_end[r] = s + b;
      bend[r] = s + b;
      if (o.comm && r > 0) {
        add(r, Stream::send, ActionType::SEND_B, stage(r, k), k, s + b, s + b + c, r - 1);
        add(r - 1, Stream::recv, ActionType::RECV_B, stage(r, k) - 1, k, s + b, s + b + c, r);
      }
    }
  }
  double end = 0;
  for (int r = 0; r < p; ++r) {
    add(r, Stream::compute, ActionType::STEP, stage(r, 0), -1, bend[r], bend[r] + o.step, -1);
    end = std::max(end, bend[r] + o.step);
  }
  t.step_time_ms = end;
  if (o.memory) {
    const std::int64_t w = 100'000'000, act = 20'000'000;
    for (int r = 0; r < p; ++r) {
      MemorySample ms;
      ms.rank = r;
      ms.weights = w;
      ms.optimizer = 2 * w;
      ms.buffers = 5'000'000;
      for (int k = 0; k <= m; ++k) {  // activations grow with each forward
        ms.time_ms = k == 0 ? 0 : r * (f + c) + (k - 1) * f;
        ms.activations = k == 0 ? 0 : k * act;
        t.memory.push_back(ms);
      }
      for (int k = 0; k < m; ++k) {  // and shrink after each backward; gradients appear
        ms.time_ms = t0 + (p - 1 - r) * (b + c) + (k + 1) * b;
        ms.activations = (m - k - 1) * act;
        ms.gradients = w;
        t.memory.push_back(ms);
      }
    }
  }
  t.meta["samples_per_step"] = std::to_string(m * 4);
  return t;
}

}  // namespace pipekit::test
