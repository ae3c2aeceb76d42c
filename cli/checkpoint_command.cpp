// pipekit checkpoint verify DIR | list DIR: what a `--checkpoint-dir` holds,
// which checkpoints are intact, and what each was made by (step, model,
// schedule, topology, precision). Reads only manifests and checksums
// (checkpoint/), so it runs in the light pipekit executable, without LibTorch.
//
// verify exits 0 when every complete checkpoint is intact and D/latest names
// an intact one, 1 when something is damaged (each problem named), 2 when DIR
// is not a checkpoint directory. Incomplete checkpoints (interrupted writes,
// which --resume never uses) are reported without failing.
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "checkpoint/catalog.h"
#include "checkpoint/checkpoint_check.h"
#include "cli/command.h"
#include "cli/text_table.h"
#include "core/error.h"
#include "core/units.h"

namespace pipekit::cli {
namespace {

namespace fs = std::filesystem;

struct CheckpointOptions {
  std::string dir;
  bool quick = false;  // list: sizes only
};

// DIR is one checkpoint (not a directory of them).
bool is_single_checkpoint(const std::string& dir) {
  std::error_code ec;
  return fs::exists(manifest_path(dir), ec) || checkpoint_step_of(dir).has_value();
}

std::string value_or_dash(const nlohmann::ordered_json& run, const char* key) {
  if (!run.contains(key)) return "-";
  const auto& v = run.at(key);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// "2 stages, 2 ranks" and replicas per pipeline rank when recorded.
std::string topology(const nlohmann::ordered_json& run) {
  std::string t =
      fmt::format("{} stages, {} ranks", value_or_dash(run, "stages"), value_or_dash(run, "ranks"));
  if (run.contains("replicas")) t += ", replicas " + run.at("replicas").dump();
  return t;
}

std::vector<CheckpointCheck> check_all(const std::string& dir, CheckDepth depth) {
  std::vector<CheckpointCheck> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError(dir, "", fs::exists(dir, ec) ? "is not a directory" : "no such directory");
  if (is_single_checkpoint(dir)) {
    out.push_back(check_checkpoint(dir, depth));
    return out;
  }
  const auto entries = list_checkpoints(dir);
  if (entries.empty())
    throw InputError(dir, "", "no checkpoints here (no step-K directories); is this a --checkpoint-dir?");
  for (const auto& e : entries) out.push_back(check_checkpoint(e.dir, depth));
  return out;
}

void print_problems(const CheckpointCheck& c) {
  for (const auto& p : c.problems) fmt::print("  {}: {}\n", c.dir, p);
}

void run_list(const CheckpointOptions& o) {
  const auto checks = check_all(o.dir, o.quick ? CheckDepth::sizes : CheckDepth::checksums);
  const bool root = !is_single_checkpoint(o.dir);
  const int latest = root ? read_latest(o.dir).value_or(-1) : -1;  // -1: none
  if (root)
    fmt::print("{}: {} checkpoint(s), latest {}\n", o.dir, checks.size(),
               latest > 0 ? fmt::format("step {}", latest) : "missing");
  TextTable table({"step", "state", "model", "schedule", "topology", "precision", "files", "size", ""}, 6);
  for (const auto& c : checks) {
    std::string state = to_string(c.state);
    if (o.quick && c.intact()) state = "sizes ok";
    std::vector<std::string> row = {std::to_string(c.step), state};
    if (c.manifest) {
      const auto& run = c.manifest->run;
      row.insert(row.end(), {value_or_dash(run, "model"), value_or_dash(run, "schedule"), topology(run),
                             value_or_dash(run, "precision"), std::to_string(c.manifest->files.size()),
                             format_bytes(static_cast<double>(c.bytes))});
    } else {
      row.insert(row.end(), {"-", "-", "-", "-", "-", "-"});
    }
    row.push_back(latest == c.step ? "<- latest" : "");
    table.add(row);
  }
  fmt::print("{}", table.str());
  for (const auto& c : checks) print_problems(c);
}

void run_verify(const CheckpointOptions& o) {
  const auto checks = check_all(o.dir, CheckDepth::checksums);
  bool ok = true;
  for (const auto& c : checks) {
    if (c.intact()) {
      const auto& run = c.manifest->run;
      fmt::print("{}: intact: step {}, {} files, {}; {} {}, {}\n", c.dir, c.manifest->step,
                 c.manifest->files.size(), format_bytes(static_cast<double>(c.bytes)),
                 value_or_dash(run, "model"), value_or_dash(run, "schedule"), topology(run));
      continue;
    }
    fmt::print("{}: {}{}\n", c.dir, to_string(c.state),
               c.state == CheckpointState::incomplete ? " (--resume never uses it)" : "");
    if (c.state == CheckpointState::damaged) {
      ok = false;
      print_problems(c);
    }
  }
  if (!is_single_checkpoint(o.dir)) {
    const std::optional<int> latest = read_latest(o.dir);
    const CheckpointCheck* named = nullptr;
    for (const auto& c : checks)
      if (latest.value_or(-1) == c.step) named = &c;
    if (!latest)
      fmt::print("{}/latest: missing; --resume takes the newest intact checkpoint by its step\n", o.dir);
    else if (!named || !named->intact()) {
      ok = false;
      fmt::print("{}/latest: names step {}, which is {}; --resume would fall back to an older checkpoint\n",
                 o.dir, *latest, named ? to_string(named->state) : "missing");
    } else {
      fmt::print("{}/latest: step {}\n", o.dir, *latest);
    }
  }
  exit_status() = ok ? 0 : 1;
}

void add_checkpoint(CLI::App& app) {
  auto o = std::make_shared<CheckpointOptions>();
  auto* cmd =
      app.add_subcommand("checkpoint", "Verify or list the checkpoints of `pipekit run --checkpoint-dir`");
  cmd->require_subcommand(1);
  auto* verify = cmd->add_subcommand(
      "verify",
      "Check every checkpoint in DIR (or the one checkpoint DIR) against its manifest: files, sizes, "
      "checksums; exit 1 when one is damaged");
  verify->add_option("dir", o->dir, "A --checkpoint-dir, or one checkpoint in it (DIR/step-K)")->required();
  verify->callback([o] { run_verify(*o); });
  auto* list = cmd->add_subcommand(
      "list",
      "What DIR holds: each checkpoint's step, state (intact, damaged, incomplete), model, schedule, "
      "topology, precision and size");
  list->add_option("dir", o->dir, "A --checkpoint-dir")->required();
  list->add_flag("--quick", o->quick, "Check sizes only, not checksums (reads no file data)");
  list->callback([o] { run_list(*o); });
}

CommandRegistration reg(61, add_checkpoint);

}  // namespace
}  // namespace pipekit::cli
