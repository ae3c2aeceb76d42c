#include "viz/terminal_chart.h"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/units.h"

namespace pipekit {
namespace {

char letter(const Action& a) {
  char c = '?';
  switch (a.type) {
    case ActionType::F:
      c = 'F';
      break;
    case ActionType::B:
      c = 'B';
      break;
    case ActionType::I:
      c = 'I';
      break;
    case ActionType::W:
      c = 'W';
      break;
    case ActionType::R:
      c = 'R';
      break;
    case ActionType::STEP:
      return 'S';
    case ActionType::REDUCE_GRAD:
      return 'A';
    default:
      return '?';
  }
  return a.microbatch % 2 ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
}

}  // namespace

std::string render_terminal_chart(const Timeline& t, int width) {
  width = std::max(width, 20);
  const int ranks = std::max(t.num_ranks, 1);
  const std::string widest = fmt::format("r{} ", ranks - 1);
  const int label_w = static_cast<int>(widest.size());
  const int cols = std::max(10, width - label_w);
  double step = t.step_time_ms;
  for (const auto& e : t.events) step = std::max(step, e.end_ms);
  std::vector<std::string> rows(ranks, std::string(cols, '.'));
  if (step > 0) {
    const double k = cols / step;
    for (const auto& e : t.events) {
      if (e.stream != Stream::compute || e.rank < 0 || e.rank >= ranks || e.end_ms <= e.start_ms) continue;
      int c0 = std::clamp(static_cast<int>(std::floor(e.start_ms * k + 1e-9)), 0, cols - 1);
      int c1 = std::clamp(static_cast<int>(std::lround(e.end_ms * k)), c0 + 1, cols);
      const char ch = letter(e.action);
      std::string& row = rows[e.rank];
      std::fill(row.begin() + c0, row.begin() + c1, ch);
      if (e.action.microbatch >= 0) {
        std::string num = std::to_string(e.action.microbatch);
        if (static_cast<int>(num.size()) + 1 <= c1 - c0)
          std::copy(num.begin(), num.end(), row.begin() + c0 + 1);
      }
    }
  }
  std::string out;
  for (int r = 0; r < ranks; ++r) {
    std::string label = fmt::format("r{}", r);
    label.resize(label_w, ' ');
    out += label + rows[r] + '\n';
  }
  // Scale: a tick every ~10 columns, with the time at the first, middle and last.
  std::string ticks(cols, '-');
  for (int c = 0; c < cols; c += 10) ticks[c] = '+';
  ticks[cols - 1] = '+';
  out += std::string(label_w, ' ') + ticks + '\n';
  std::string scale(cols, ' ');
  auto put = [&](int at, const std::string& s) {
    at = std::clamp(at, 0, std::max(0, cols - static_cast<int>(s.size())));
    for (std::size_t i = 0; i < s.size() && at + static_cast<int>(i) < cols; ++i) scale[at + i] = s[i];
  };
  put(0, "0");
  const std::string mid = format_ms(step / 2), end = format_ms(step);
  put(cols / 2 - static_cast<int>(mid.size()) / 2, mid);
  put(cols - static_cast<int>(end.size()), end);
  while (!scale.empty() && scale.back() == ' ') scale.pop_back();
  out += std::string(label_w, ' ') + scale + '\n';
  out += fmt::format(
      "{}1 column = {}; F fwd, B bwd, I input grad, W weight grad, R recompute, S step,\n"
      "{}A all-reduce, . idle; odd micro-batches in lower case\n",
      std::string(label_w, ' '), format_ms(step / cols), std::string(label_w, ' '));
  return out;
}

}  // namespace pipekit
