// A plain-text table for terminal output: left-aligned first column(s) as
// marked, numbers right-aligned, columns sized to their widest cell.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace pipekit::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header, int left_columns = 1)
      : header_(std::move(header)), left_(left_columns) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void add_rule() { rows_.push_back({}); }

  std::string str() const {
    std::vector<std::size_t> w(header_.size(), 0);
    auto widen = [&](const std::vector<std::string>& r) {
      for (std::size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    };
    widen(header_);
    for (const auto& r : rows_) widen(r);
    std::size_t total = 0;
    for (auto x : w) total += x + 2;
    std::string out;
    auto line = [&](const std::vector<std::string>& r) {
      std::string s;
      for (std::size_t i = 0; i < w.size(); ++i) {
        const std::string cell = i < r.size() ? r[i] : "";
        std::string pad(w[i] - cell.size(), ' ');
        s += static_cast<int>(i) < left_ ? cell + pad : pad + cell;
        if (i + 1 < w.size()) s += "  ";
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out += s + "\n";
    };
    line(header_);
    out += std::string(total > 2 ? total - 2 : 0, '-') + "\n";
    for (const auto& r : rows_) {
      if (r.empty())
        out += std::string(total > 2 ? total - 2 : 0, '-') + "\n";
      else
        line(r);
    }
    return out;
  }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  int left_;
};

}  // namespace pipekit::cli
