#include "checkpoint/resume_choice.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "checkpoint/catalog.h"
#include "checkpoint/checkpoint_check.h"
#include "core/error.h"
#include "core/json_node.h"

namespace pipekit {
namespace fs = std::filesystem;
namespace {

// Why the checkpoint in `dir` cannot be resumed from, "" when it can: the
// cheap checks (manifest, sizes, compatibility) before every byte is read.
std::string unusable(const std::string& dir, const ResumeCompatibility& compatible) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "it does not exist";
  CheckpointCheck quick = check_checkpoint(dir, CheckDepth::sizes);
  if (!quick.intact()) return quick.summary();
  if (std::string why = compatible(*quick.manifest); !why.empty()) return why;
  CheckpointCheck full = check_checkpoint(dir, CheckDepth::checksums);
  return full.intact() ? "" : full.summary();
}

}  // namespace

std::string ResumeChoice::to_json() const {
  nlohmann::ordered_json j;
  j["step"] = step;
  j["dir"] = dir;
  auto& p = j["passed_over"] = nlohmann::ordered_json::array();
  for (const auto& o : passed_over) p.push_back({{"dir", o.dir}, {"why", o.why}});
  j["notes"] = notes;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ResumeChoice ResumeChoice::from_json(std::string_view text, const std::string& source) {
  nlohmann::json j = parse_json_text(text, source);
  JsonNode root(j, "$", source);
  root.only_keys({"step", "dir", "passed_over", "notes"});
  ResumeChoice c;
  c.step = root.at("step").int32();
  c.dir = root.at("dir").string();
  JsonNode passed = root.at("passed_over");
  for (std::size_t i = 0; i < passed.size(); ++i)
    c.passed_over.push_back({passed.item(i).at("dir").string(), passed.item(i).at("why").string()});
  JsonNode notes = root.at("notes");
  for (std::size_t i = 0; i < notes.size(); ++i) c.notes.push_back(notes.item(i).string());
  return c;
}

ResumeChoice choose_resume_checkpoint(const std::string& root, const ResumeCompatibility& compatible,
                                      bool exact) {
  const char* flag = exact ? "--resume-exact" : "--resume";
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw InputError(flag, root,
                     "no complete checkpoint here (no such directory); run without --resume first");
  const std::vector<CheckpointEntry> all = list_checkpoints(root);
  if (all.empty())
    throw InputError(flag, root,
                     "no complete checkpoint here (no step-K directories); run without --resume first");
  ResumeChoice choice;
  std::vector<std::string> candidates;
  const std::optional<int> latest = read_latest(root);
  if (latest) {
    const std::string named = checkpoint_path(root, *latest);
    if (std::none_of(all.begin(), all.end(), [&](const auto& e) { return e.step == *latest; }))
      candidates.push_back(named);
    for (const auto& e : all) {
      if (e.step <= *latest) {
        candidates.push_back(e.dir);
        continue;
      }
      const bool complete = fs::exists(manifest_path(e.dir), ec);
      choice.notes.push_back(fmt::format(
          "{} is newer than {}/latest (step {}){}: not used (a run advances latest only once a checkpoint "
          "is verified)",
          e.dir, root, *latest, complete ? "" : " and incomplete (its write was interrupted)"));
    }
  } else {
    choice.notes.push_back(
        fmt::format("{}/latest is missing or unreadable: taking the newest checkpoint by its step", root));
    for (const auto& e : all) candidates.push_back(e.dir);
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string why = unusable(candidates[i], compatible);
    if (why.empty()) {
      choice.dir = candidates[i];
      choice.step = checkpoint_step_of(candidates[i]).value_or(0);
      return choice;
    }
    if (exact && i == 0)
      throw InputError(flag, candidates[i],
                       fmt::format("{}; not falling back to an older checkpoint (--resume would take the "
                                   "newest intact one; `pipekit checkpoint list {}` shows them)",
                                   why, root));
    choice.passed_over.push_back({candidates[i], why});
  }
  std::string each;
  for (const auto& p : choice.passed_over) each += fmt::format("\n  {}: {}", p.dir, p.why);
  for (const auto& n : choice.notes) each += "\n  (" + n + ")";
  throw InputError(flag, root, "no checkpoint here can be resumed from:" + each);
}

}  // namespace pipekit
