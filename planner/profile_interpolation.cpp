#include "planner/profile_interpolation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace pipekit {
namespace {

void check_same_model(const std::vector<const Profile*>& ps) {
  const Profile& a = *ps.front();
  for (const Profile* p : ps) {
    if (p->microbatch_size <= 0)
      throw InputError("--profile", p->model,
                       "a profile without a micro-batch size cannot be interpolated; record microbatch_size");
    if (p->layers.size() != a.layers.size())
      throw InputError("--profile", p->model,
                       fmt::format("{} layers at micro-batch size {} but {} at size {}: not one model",
                                   p->layers.size(), p->microbatch_size, a.layers.size(), a.microbatch_size));
    for (std::size_t i = 0; i < a.layers.size(); ++i)
      if (p->layers[i].name != a.layers[i].name)
        throw InputError(
            "--profile", p->model,
            fmt::format("layer {} is '{}' at micro-batch size {} but '{}' at size {}", i, p->layers[i].name,
                        p->microbatch_size, a.layers[i].name, a.microbatch_size));
  }
  for (std::size_t i = 1; i < ps.size(); ++i)
    if (ps[i]->microbatch_size == ps[i - 1]->microbatch_size)
      throw InputError(
          "--profile", a.model,
          fmt::format("two profiles at micro-batch size {}; give one per size", ps[i]->microbatch_size));
}

double line(double x1, double x2, double t) {
  return std::max(0.0, x1 + (x2 - x1) * t);
}

std::int64_t line_bytes(std::int64_t x1, std::int64_t x2, double t) {
  return static_cast<std::int64_t>(std::llround(line(static_cast<double>(x1), static_cast<double>(x2), t)));
}

}  // namespace

Profile interpolate_profile(const std::vector<Profile>& measured, int b) {
  if (measured.empty()) throw InputError("--profile", "", "no profile given");
  if (b < 1)
    throw InputError("--microbatch-sizes", "", fmt::format("micro-batch size {} is not positive", b));
  std::vector<const Profile*> ps;
  for (const Profile& p : measured) ps.push_back(&p);
  std::sort(ps.begin(), ps.end(),
            [](const Profile* x, const Profile* y) { return x->microbatch_size < y->microbatch_size; });
  if (ps.size() == 1) {
    if (ps[0]->microbatch_size == b || ps[0]->microbatch_size == 0) return *ps[0];
    throw InputError("--profile", ps[0]->model,
                     fmt::format("measured only at micro-batch size {}; size {} needs a second profile",
                                 ps[0]->microbatch_size, b));
  }
  check_same_model(ps);
  for (const Profile* p : ps)
    if (p->microbatch_size == b) return *p;
  // The two nearest: the bracketing pair inside the range, the end pair outside.
  std::size_t hi = 1;
  while (hi + 1 < ps.size() && ps[hi]->microbatch_size < b) ++hi;
  const Profile& p1 = *ps[hi - 1];
  const Profile& p2 = *ps[hi];
  const double t = static_cast<double>(b - p1.microbatch_size) / (p2.microbatch_size - p1.microbatch_size);
  const Profile& nearest = std::abs(b - p1.microbatch_size) <= std::abs(b - p2.microbatch_size) ? p1 : p2;

  Profile out = nearest;
  out.microbatch_size = b;
  out.input_bytes = line_bytes(p1.input_bytes, p2.input_bytes, t);
  out.meta["interpolated_from"] =
      fmt::format("micro-batch sizes {} and {}", p1.microbatch_size, p2.microbatch_size);
  for (std::size_t i = 0; i < out.layers.size(); ++i) {
    const Layer& a = p1.layers[i];
    const Layer& c = p2.layers[i];
    Layer& l = out.layers[i];
    l.forward_ms = line(a.forward_ms, c.forward_ms, t);
    l.backward_ms = line(a.backward_ms, c.backward_ms, t);
    if (a.input_grad_ms && c.input_grad_ms && a.weight_grad_ms && c.weight_grad_ms) {
      l.input_grad_ms = std::min(l.backward_ms, line(*a.input_grad_ms, *c.input_grad_ms, t));
      l.weight_grad_ms = line(*a.weight_grad_ms, *c.weight_grad_ms, t);
    } else {
      l.input_grad_ms.reset();
      l.weight_grad_ms.reset();
    }
    l.output_bytes = line_bytes(a.output_bytes, c.output_bytes, t);
    l.saved_bytes = line_bytes(a.saved_bytes, c.saved_bytes, t);
    l.workspace_bytes = line_bytes(a.workspace_bytes, c.workspace_bytes, t);
  }
  return out;
}

}  // namespace pipekit
