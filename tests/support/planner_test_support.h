// Small hand-made profiles for the planner tests.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "core/profile.h"

namespace pipekit::test {

// A chain whose layer i takes times_ms[i] (forward; backward 0).
inline Profile chain_profile(const std::vector<double>& times_ms, std::int64_t param_bytes = 0,
                             std::int64_t output_bytes = 0, std::int64_t saved_bytes = 0) {
  Profile p;
  p.model = "chain";
  for (std::size_t i = 0; i < times_ms.size(); ++i) {
    Layer l;
    l.name = "layer" + std::to_string(i);
    l.kind = "Linear";
    l.forward_ms = times_ms[i];
    l.param_bytes = param_bytes;
    l.output_bytes = output_bytes;
    l.saved_bytes = saved_bytes;
    p.layers.push_back(l);
  }
  return p;
}

inline Profile random_chain(std::mt19937& rng, int n) {
  std::uniform_real_distribution<double> ms(1, 100);
  std::uniform_int_distribution<std::int64_t> bytes(0, 200'000'000);
  Profile p;
  p.model = "random";
  for (int i = 0; i < n; ++i) {
    Layer l;
    l.name = "l" + std::to_string(i);
    l.forward_ms = ms(rng);
    l.backward_ms = 2 * l.forward_ms;
    l.param_bytes = bytes(rng);
    l.output_bytes = bytes(rng);
    l.saved_bytes = l.output_bytes;
    p.layers.push_back(l);
  }
  return p;
}

}  // namespace pipekit::test
