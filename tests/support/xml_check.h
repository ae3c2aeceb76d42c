// A minimal XML well-formedness checker and element list for the SVG tests:
// tags must nest and match, attributes must be quoted and unique, entities must
// be the five predefined ones or numeric, no raw '<' or '&' in text. parse_xml
// returns the elements in document order (with parent links and their direct
// text) or throws std::runtime_error saying where the document is broken.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pipekit::test {

struct XmlElement {
  std::string tag;
  std::map<std::string, std::string> attrs;  // values unescaped
  std::string text;                          // direct text, unescaped
  int parent = -1;
  std::vector<int> children;
  std::string attr(const std::string& k) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? std::string() : it->second;
  }
  bool has_class(const std::string& c) const;
};

std::vector<XmlElement> parse_xml(const std::string& doc);

// Elements with this tag (and, when non-empty, this class).
std::vector<const XmlElement*> find_all(const std::vector<XmlElement>& els, const std::string& tag,
                                        const std::string& cls = "");

}  // namespace pipekit::test
