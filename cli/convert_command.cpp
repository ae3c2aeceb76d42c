// pipekit convert IN OUT: a PipeDream graph.txt (or a pipekit profile) to pipekit JSON.
#include <fmt/format.h>

#include "cli/command.h"
#include "core/formats.h"
#include "profiles/pipedream_graph.h"

namespace pipekit::cli {
namespace {

struct ConvertOptions {
  std::string in, out, model;
};

void add_convert(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  auto* cmd = app.add_subcommand("convert", "Convert a PipeDream graph.txt profile to pipekit JSON");
  cmd->add_option("in", o->in, "Input profile (PipeDream graph.txt or pipekit JSON)")->required();
  cmd->add_option("out", o->out, "Output pipekit profile JSON")->required();
  cmd->add_option("--model", o->model, "Model name to record (default: the input's directory name)");
  cmd->callback([o] {
    Profile p = load_profile(o->in);
    if (!o->model.empty()) p.model = o->model;
    write_text_file(o->out, profile_to_json(p));
    fmt::print("wrote {} ({} layers, {})\n", o->out, p.layers.size(), p.is_chain() ? "chain" : "DAG");
  });
}

CommandRegistration reg(11, add_convert);

}  // namespace
}  // namespace pipekit::cli
