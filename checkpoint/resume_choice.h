// Which checkpoint `--resume` continues from, decided in the launching process
// before any rank starts.
//
// The newest checkpoint is the one D/latest names (the highest step, when
// D/latest is missing). It is checked whole: its manifest readable, made by a
// run this one can continue (`compatible`), every file present with its size
// and XXH3-64. When it fails, --resume takes the newest older checkpoint that
// passes and the choice lists what it passed over and why, for the console and
// the metrics; `exact` (--resume-exact) refuses instead. When none passes:
// InputError naming each checkpoint and why (exit 2).
//
// Checkpoints newer than D/latest were not confirmed as latest (a run stopped
// while writing or verifying them, or the user set latest back): they are not
// used, and the choice notes them.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/manifest.h"

namespace pipekit {

struct PassedOver {
  std::string dir;
  std::string why;
};

struct ResumeChoice {
  int step = 0;
  std::string dir;
  std::vector<PassedOver> passed_over;  // newest first
  std::vector<std::string> notes;       // what else the user should know

  bool fell_back() const { return !passed_over.empty(); }
  // The form pipekit's launcher hands its ranks (PIPEKIT_RESUME_CHOICE), so
  // that they do not read every byte again.
  std::string to_json() const;
  static ResumeChoice from_json(std::string_view text, const std::string& source);
};

// "" when this run can continue from a checkpoint with manifest `m`, else why not.
using ResumeCompatibility = std::function<std::string(const CheckpointManifest& m)>;

ResumeChoice choose_resume_checkpoint(const std::string& root, const ResumeCompatibility& compatible,
                                      bool exact);

}  // namespace pipekit
