#include "viz/svg_writer.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace pipekit {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters are not allowed in XML 1.0; drop them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

std::string svg_num(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0" || s.empty()) s = "0";
  return s;
}

void SvgWriter::start_tag(std::string_view tag, const SvgAttrs& attrs) {
  out_ += '<';
  out_ += tag;
  for (const auto& a : attrs) {
    out_ += ' ';
    out_ += a.name;
    out_ += "=\"";
    out_ += xml_escape(a.value);
    out_ += '"';
  }
}

void SvgWriter::open(std::string_view tag, const SvgAttrs& attrs) {
  start_tag(tag, attrs);
  out_ += ">";
  stack_.emplace_back(tag);
}

void SvgWriter::close() {
  if (stack_.empty()) throw std::logic_error("SvgWriter::close with no open element");
  out_ += "</";
  out_ += stack_.back();
  out_ += ">\n";
  stack_.pop_back();
}

void SvgWriter::leaf(std::string_view tag, const SvgAttrs& attrs) {
  start_tag(tag, attrs);
  out_ += "/>";
}

void SvgWriter::text_element(std::string_view tag, const SvgAttrs& attrs, std::string_view text) {
  start_tag(tag, attrs);
  out_ += '>';
  out_ += xml_escape(text);
  out_ += "</";
  out_ += tag;
  out_ += '>';
}

void SvgWriter::text(std::string_view t) {
  out_ += xml_escape(t);
}

void SvgWriter::raw(std::string_view markup) {
  out_ += markup;
}

const std::string& SvgWriter::str() const {
  if (!stack_.empty()) throw std::logic_error("SvgWriter::str with open element <" + stack_.back() + ">");
  return out_;
}

}  // namespace pipekit
