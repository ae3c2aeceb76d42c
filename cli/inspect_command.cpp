// pipekit inspect FILE [--json] [--summary]: what a profile holds.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/text_table.h"
#include "core/layer_graph.h"
#include "core/units.h"
#include "profiles/pipedream_graph.h"

namespace pipekit::cli {
namespace {

struct InspectOptions {
  std::string file;
  bool json = false;
  bool summary = false;
};

void run_inspect(const InspectOptions& o) {
  Profile p = load_profile(o.file);
  ProfileTotals t = totals(p);
  DagFacts f = dag_facts(build_layer_dag(p));
  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = p.model;
    j["device"] = p.device;
    j["microbatch_size"] = p.microbatch_size;
    j["layers"] = t.layers;
    j["forward_ms"] = t.forward_ms;
    j["backward_ms"] = t.backward_ms;
    j["param_bytes"] = t.param_bytes;
    j["param_count"] = t.param_count;
    j["output_bytes"] = t.output_bytes;
    j["saved_bytes"] = t.saved_bytes;
    j["workspace_bytes"] = t.workspace_bytes;
    j["input_bytes"] = p.input_bytes;
    j["chain"] = f.chain;
    j["edges"] = f.edges;
    j["branching_layers"] = f.branching_layers;
    j["max_fan_out"] = f.max_fan_out;
    j["max_fan_in"] = f.max_fan_in;
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  fmt::print("model {}  ({} layers, device {}, dtype {}, micro-batch {})\n", p.model, t.layers, p.device,
             p.dtype, p.microbatch_size ? std::to_string(p.microbatch_size) : "unknown");
  if (!o.summary) {
    TextTable table({"#", "name", "kind", "fwd ms", "bwd ms", "params", "output", "saved"}, 3);
    for (std::size_t i = 0; i < p.layers.size(); ++i) {
      const Layer& l = p.layers[i];
      table.add({std::to_string(i), l.name, l.kind.substr(0, 24), fmt::format("{:.3f}", l.forward_ms),
                 fmt::format("{:.3f}", l.backward_ms), format_bytes(static_cast<double>(l.param_bytes)),
                 format_bytes(static_cast<double>(l.output_bytes)),
                 format_bytes(static_cast<double>(l.saved_bytes))});
    }
    table.add_rule();
    table.add({"", "total", "", fmt::format("{:.2f}", t.forward_ms), fmt::format("{:.2f}", t.backward_ms),
               format_bytes(static_cast<double>(t.param_bytes)),
               format_bytes(static_cast<double>(t.output_bytes)),
               format_bytes(static_cast<double>(t.saved_bytes))});
    fmt::print("{}", table.str());
  }
  fmt::print("forward {:.2f} ms, backward {:.2f} ms per micro-batch\n", t.forward_ms, t.backward_ms);
  fmt::print("parameters {:.1f} M ({} at {})\n", static_cast<double>(t.param_count) / 1e6,
             format_bytes(static_cast<double>(t.param_bytes)), p.dtype);
  fmt::print("activations: {} output, {} saved until backward\n",
             format_bytes(static_cast<double>(t.output_bytes)),
             format_bytes(static_cast<double>(t.saved_bytes)));
  if (f.chain)
    fmt::print("graph: a chain of {} layers\n", t.layers);
  else
    fmt::print(
        "graph: branching DAG, {} edges, {} layers with several consumers, {} sources, {} sinks, "
        "widest fan-out {}, fan-in {}\n",
        f.edges, f.branching_layers, f.sources, f.sinks, f.max_fan_out, f.max_fan_in);
}

void add_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect", "Show a profile: layer table, totals, graph shape");
  cmd->add_option("file", o->file, "Profile: pipekit JSON or PipeDream graph.txt")->required();
  cmd->add_flag("--json", o->json, "Print totals as JSON (times in ms, sizes in bytes) instead of tables");
  cmd->add_flag("--summary", o->summary, "Skip the per-layer table");
  cmd->callback([o] { run_inspect(*o); });
}

CommandRegistration reg(10, add_inspect);

}  // namespace
}  // namespace pipekit::cli
