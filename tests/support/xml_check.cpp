#include "tests/support/xml_check.h"

#include <cctype>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace pipekit::test {

bool XmlElement::has_class(const std::string& c) const {
  std::istringstream in(attr("class"));
  std::string w;
  while (in >> w)
    if (w == c) return true;
  return false;
}

namespace {

[[noreturn]] void fail(std::size_t pos, const std::string& what) {
  throw std::runtime_error("XML not well-formed at byte " + std::to_string(pos) + ": " + what);
}

std::string unescape(const std::string& s, std::size_t base) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') fail(base + i, "raw '<' in text or attribute");
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    std::size_t semi = s.find(';', i);
    if (semi == std::string::npos) fail(base + i, "unterminated entity");
    std::string ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp")
      out += '&';
    else if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      long code = ent[1] == 'x' ? std::strtol(ent.c_str() + 2, nullptr, 16)
                                : std::strtol(ent.c_str() + 1, nullptr, 10);
      if (code <= 0) fail(base + i, "bad character reference &" + ent + ";");
      out += code < 128 ? static_cast<char>(code) : '?';
    } else
      fail(base + i, "unknown entity &" + ent + ";");
    i = semi;
  }
  return out;
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.';
}

}  // namespace

std::vector<XmlElement> parse_xml(const std::string& doc) {
  std::vector<XmlElement> els;
  std::vector<int> stack;
  std::size_t i = 0, n = doc.size();
  bool root_done = false;
  while (i < n) {
    if (doc[i] != '<') {
      std::size_t next = doc.find('<', i);
      if (next == std::string::npos) next = n;
      std::string text = unescape(doc.substr(i, next - i), i);
      if (stack.empty()) {
        for (char c : text)
          if (!std::isspace(static_cast<unsigned char>(c))) fail(i, "text outside the root element");
      } else {
        els[stack.back()].text += text;
      }
      i = next;
      continue;
    }
    if (doc.compare(i, 5, "<?xml") == 0) {
      if (!els.empty()) fail(i, "XML declaration not at start");
      std::size_t e = doc.find("?>", i);
      if (e == std::string::npos) fail(i, "unterminated declaration");
      i = e + 2;
      continue;
    }
    if (doc.compare(i, 4, "<!--") == 0) {
      std::size_t e = doc.find("-->", i);
      if (e == std::string::npos) fail(i, "unterminated comment");
      i = e + 3;
      continue;
    }
    if (doc.compare(i, 2, "</") == 0) {
      std::size_t e = doc.find('>', i);
      if (e == std::string::npos) fail(i, "unterminated end tag");
      std::string name = doc.substr(i + 2, e - i - 2);
      while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
      if (stack.empty() || els[stack.back()].tag != name)
        fail(i, "end tag </" + name + "> does not match " +
                    (stack.empty() ? "nothing" : "<" + els[stack.back()].tag + ">"));
      stack.pop_back();
      if (stack.empty()) root_done = true;
      i = e + 1;
      continue;
    }
    // Start tag.
    if (root_done) fail(i, "second root element");
    std::size_t j = i + 1;
    while (j < n && name_char(doc[j])) ++j;
    XmlElement el;
    el.tag = doc.substr(i + 1, j - i - 1);
    if (el.tag.empty()) fail(i, "empty tag name");
    bool self_close = false;
    for (;;) {
      while (j < n && std::isspace(static_cast<unsigned char>(doc[j]))) ++j;
      if (j >= n) fail(i, "unterminated start tag");
      if (doc[j] == '>') {
        ++j;
        break;
      }
      if (doc.compare(j, 2, "/>") == 0) {
        j += 2;
        self_close = true;
        break;
      }
      std::size_t k = j;
      while (k < n && name_char(doc[k])) ++k;
      if (k == j) fail(j, "bad attribute name");
      std::string an = doc.substr(j, k - j);
      if (k >= n || doc[k] != '=') fail(k, "attribute " + an + " without =\"value\"");
      ++k;
      if (k >= n || (doc[k] != '"' && doc[k] != '\'')) fail(k, "attribute " + an + " value not quoted");
      char q = doc[k];
      std::size_t e = doc.find(q, k + 1);
      if (e == std::string::npos) fail(k, "unterminated attribute value");
      if (el.attrs.count(an)) fail(j, "duplicate attribute " + an);
      el.attrs[an] = unescape(doc.substr(k + 1, e - k - 1), k + 1);
      j = e + 1;
    }
    int idx = static_cast<int>(els.size());
    el.parent = stack.empty() ? -1 : stack.back();
    if (el.parent >= 0) els[el.parent].children.push_back(idx);
    els.push_back(std::move(el));
    if (self_close) {
      if (stack.empty()) root_done = true;
    } else {
      stack.push_back(idx);
    }
    i = j;
  }
  if (!stack.empty()) fail(n, "unclosed <" + els[stack.back()].tag + ">");
  if (els.empty()) fail(0, "no root element");
  return els;
}

std::vector<const XmlElement*> find_all(const std::vector<XmlElement>& els, const std::string& tag,
                                        const std::string& cls) {
  std::vector<const XmlElement*> out;
  for (const auto& e : els)
    if (e.tag == tag && (cls.empty() || e.has_class(cls))) out.push_back(&e);
  return out;
}

}  // namespace pipekit::test
