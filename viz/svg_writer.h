// A tiny streaming XML/SVG builder.
//
// Elements are opened and closed in order; attribute values and text are
// escaped (& < > " '), so any user string (schedule names, titles, meta values)
// can go in safely. Numbers are printed compactly with at most two decimals so
// files with tens of thousands of boxes stay small. The writer checks nesting:
// close() on an empty stack or str() with open elements throws std::logic_error
// (a programming error, not bad input).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pipekit {

std::string xml_escape(std::string_view text);
// "12", "12.5", "12.25": at most two decimals, no trailing zeros, no "-0".
std::string svg_num(double v);

struct SvgAttr {
  std::string name, value;
  SvgAttr(std::string n, std::string v) : name(std::move(n)), value(std::move(v)) {}
  SvgAttr(std::string n, const char* v) : name(std::move(n)), value(v) {}
  SvgAttr(std::string n, double v) : name(std::move(n)), value(svg_num(v)) {}
  SvgAttr(std::string n, int v) : name(std::move(n)), value(std::to_string(v)) {}
};
using SvgAttrs = std::vector<SvgAttr>;

class SvgWriter {
 public:
  void open(std::string_view tag, const SvgAttrs& attrs = {});
  void close();
  // An element with no children: <rect .../>.
  void leaf(std::string_view tag, const SvgAttrs& attrs = {});
  // An element holding only escaped text: <text ...>t</text>.
  void text_element(std::string_view tag, const SvgAttrs& attrs, std::string_view text);
  void text(std::string_view t);      // escaped text inside the open element
  void raw(std::string_view markup);  // trusted markup (CSS, nested SVG)
  std::size_t depth() const { return stack_.size(); }
  const std::string& str() const;

 private:
  void start_tag(std::string_view tag, const SvgAttrs& attrs);
  std::string out_;
  std::vector<std::string> stack_;
};

}  // namespace pipekit
