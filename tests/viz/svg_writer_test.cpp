#include <doctest/doctest.h>

#include <stdexcept>

#include "tests/support/xml_check.h"
#include "viz/chart_scale.h"
#include "viz/svg_writer.h"

using namespace pipekit;

TEST_SUITE_BEGIN("viz");

TEST_CASE("xml_escape escapes markup characters and drops control characters") {
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(xml_escape(std::string("x\x01y")) == "xy");
}

TEST_CASE("svg_num prints at most two decimals") {
  CHECK(svg_num(12) == "12");
  CHECK(svg_num(12.5) == "12.5");
  CHECK(svg_num(1.23456) == "1.23");
  CHECK(svg_num(-0.001) == "0");
}

TEST_CASE("SvgWriter output is well-formed with hostile strings and checks nesting") {
  SvgWriter w;
  w.open("svg", {{"xmlns", "http://www.w3.org/2000/svg"}, {"data-x", "\"<&>'"}});
  w.text_element("text", {{"x", 1.5}}, "</svg><script>alert(1)</script>&");
  w.leaf("rect", {{"width", 3}});
  w.close();
  auto els = test::parse_xml(w.str());
  REQUIRE(els.size() == 3);
  CHECK(els[0].attr("data-x") == "\"<&>'");
  CHECK(els[1].text == "</svg><script>alert(1)</script>&");
  SvgWriter bad;
  bad.open("g");
  CHECK_THROWS_AS(bad.str(), std::logic_error);
  bad.close();
  CHECK_THROWS_AS(bad.close(), std::logic_error);
}

TEST_CASE("the XML checker rejects broken documents") {
  CHECK_THROWS(test::parse_xml("<a><b></a></b>"));
  CHECK_THROWS(test::parse_xml("<a x=1/>"));
  CHECK_THROWS(test::parse_xml("<a>&bogus;</a>"));
  CHECK_THROWS(test::parse_xml("<a>"));
  CHECK_NOTHROW(test::parse_xml("<?xml version=\"1.0\"?>\n<a><b c=\"&amp;\"/>t</a>\n"));
}

TEST_CASE("nice ticks use 1 or 2 or 2.5 or 5 times a power of ten") {
  CHECK(nice_ticks(10, 5) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(nice_ticks(7.3, 4) == std::vector<double>{0, 2, 4, 6});
  CHECK(nice_ticks(7.3, 4, true).back() == doctest::Approx(8));
  CHECK(nice_step(0.9, 4) == doctest::Approx(0.25));
  CHECK(nice_step(1300, 5) == doctest::Approx(500));
  CHECK(tick_label(2.5, 2.5) == "2.5");
  CHECK(tick_label(400, 200) == "400");
}

TEST_SUITE_END();
