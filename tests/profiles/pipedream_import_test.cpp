#include <doctest/doctest.h>

#include <filesystem>

#include "core/error.h"
#include "core/formats.h"
#include "core/layer_graph.h"
#include "profiles/pipedream_graph.h"

using namespace pipekit;

namespace {
std::string graph_path(const std::string& model) {
  return std::string(PIPEKIT_PIPEDREAM_DIR) + "/" + model + "/graph.txt";
}
const char* kModels[] = {"alexnet",      "densenet121",   "gnmt",          "gnmt_large", "inception_v3",
                         "nasnetalarge", "nasnetamobile", "resnet101",     "resnet18",   "resnet50",
                         "resnext101",   "resnext50",     "squeezenet1_0", "vgg16"};
}  // namespace

TEST_CASE("vgg16 imports with PipeDream's totals") {
  Profile p = load_profile(graph_path("vgg16"));
  ProfileTotals t = totals(p);
  CHECK(p.model == "vgg16");
  CHECK(t.layers == 40);  // the Input node is not a model layer
  CHECK(t.forward_ms == doctest::Approx(233.90).epsilon(1e-4));
  CHECK(t.backward_ms == doctest::Approx(438.63).epsilon(1e-4));
  CHECK(static_cast<double>(t.param_count) / 1e6 == doctest::Approx(138.4).epsilon(5e-4));
  CHECK(static_cast<double>(t.param_bytes) / 1e6 == doctest::Approx(553.4).epsilon(5e-4));
  CHECK(p.microbatch_size == 128);
  CHECK(p.input_bytes > 0);
  // Layers are in topological order: every edge goes forward.
  for (auto [a, b] : p.edges) CHECK(a < b);
  CHECK(p.layers.front().kind == "Conv2d");
  CHECK(p.layers.back().kind == "Linear");
}

TEST_CASE("all 14 shipped PipeDream graphs import, and converted JSON equals the import") {
  for (const char* model : kModels) {
    CAPTURE(model);
    Profile p = load_profile(graph_path(model));
    CHECK(p.layers.size() > 10);
    CHECK(totals(p).forward_ms > 0);
    CHECK_FALSE(find_cycle(build_layer_dag(p)).has_value());
    // The shipped converted profile is exactly what the importer produces today.
    std::string shipped = std::string(PIPEKIT_SOURCE_DIR) + "/profiles/pipedream/" + model + ".json";
    REQUIRE(std::filesystem::exists(shipped));
    CHECK(read_text_file(shipped) == profile_to_json(p));
    Profile back = profile_from_json(profile_to_json(p), "x.json");
    CHECK(back.layers.size() == p.layers.size());
    CHECK(back.edges == p.edges);
  }
}

TEST_CASE("multi-output activation sizes are summed") {
  Profile p = load_profile(graph_path("gnmt"));
  bool found = false;
  for (const auto& l : p.layers)
    if (l.kind == "LSTM" && l.output_bytes == 6291456 + 131072 + 131072) found = true;
  CHECK(found);
}

TEST_CASE("bad graph.txt input names the line") {
  auto import = [](const std::string& text) { return import_pipedream_graph(text, "g.txt", "m"); };
  const std::string node1 =
      "node1 -- Input -- forward_compute_time=0.0, backward_compute_time=0.0, activation_size=10.0, "
      "parameter_size=0.0\n";
  const std::string node2 =
      "node2 -- Linear(2, 2) -- forward_compute_time=1.0, backward_compute_time=2.0, activation_size=8.0, "
      "parameter_size=24.0\n";
  CHECK(import(node1 + node2 + "\tnode1 -- node2\n").layers.size() == 1);
  CHECK_THROWS_WITH_AS(import(""), doctest::Contains("no nodes"), InputError);
  CHECK_THROWS_WITH_AS(import(node1 + "node2 -- Linear\n"),
                       doctest::Contains("g.txt: line 2: expected 'nodeN"), InputError);
  CHECK_THROWS_WITH_AS(import(node1 + "node2 -- L -- forward_compute_time=x, backward_compute_time=2.0, "
                                      "activation_size=8.0, parameter_size=24.0\n"),
                       doctest::Contains("forward_compute_time='x' is not a number"), InputError);
  CHECK_THROWS_WITH_AS(import(node1 + "node2 -- L -- forward_compute_time=-1, backward_compute_time=2.0, "
                                      "activation_size=8.0, parameter_size=24.0\n"),
                       doctest::Contains("line 2"), InputError);
  CHECK_THROWS_WITH_AS(
      import(node1 + "node2 -- L -- forward_compute_time=1, activation_size=8.0, parameter_size=24.0\n"),
      doctest::Contains("has no backward_compute_time"), InputError);
  CHECK_THROWS_WITH_AS(import(node1 + node2 + "\tnode1 -- node9\n"),
                       doctest::Contains("line 3: edge node1 -- node9 names unknown node 'node9'"),
                       InputError);
  CHECK_THROWS_WITH_AS(import(node1 + node2 + node2), doctest::Contains("defined twice"), InputError);
  const std::string node3 =
      "node3 -- ReLU -- forward_compute_time=1.0, backward_compute_time=2.0, activation_size=[8.0; 4.0], "
      "parameter_size=0.0\n";
  CHECK(import(node2 + node3 + "\tnode2 -- node3\n").layers[1].output_bytes == 12);
  CHECK_THROWS_WITH_AS(import(node2 + node3 + "\tnode2 -- node3\n\tnode3 -- node2\n"),
                       doctest::Contains("cycle"), InputError);
  CHECK_THROWS_WITH_AS(import(node2 + "node3 -- R -- forward_compute_time=1.0, backward_compute_time=2.0, "
                                      "activation_size=[8.0; 4.0, parameter_size=0.0\n"),
                       doctest::Contains("line 2"), InputError);
}

TEST_CASE("bytes that are not UTF-8 survive conversion to JSON (found by fuzzing)") {
  const std::string text =
      "node2 -- Lin\xff\xfe -- forward_compute_time=1.0, backward_compute_time=2.0, activation_size=8.0, "
      "parameter_size=4.0\n";
  Profile p = import_pipedream_graph(text, "g.txt", "m");
  std::string json = profile_to_json(p);  // used to throw nlohmann's type_error 316
  Profile back = profile_from_json(json, "x.json");
  CHECK(back.layers.size() == 1);
  CHECK(back.layers[0].forward_ms == doctest::Approx(1.0));
}
