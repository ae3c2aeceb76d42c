// Writing checkpoint K, the parts that need no LibTorch:
//
//   begin_checkpoint   every rank, before it writes its files into D/step-K:
//                      a manifest left there by an earlier run (which got
//                      this far before being resumed from an older
//                      checkpoint) is removed, so that the directory cannot
//                      look complete while this run replaces its files.
//   commit_checkpoint  rank 0, once every rank has written its files
//                      (durable_file.h) and reported their names, sizes and
//                      digests: writes the manifest durably (the checkpoint is
//                      now complete), checks every file on disk against it,
//                      and only then advances D/latest and applies
//                      `--keep-checkpoints` (retention.h).
//
// Failures are InputErrors naming the path and the problem: the run stops
// (exit 2) rather than train on without checkpoints, and D/latest still names
// the previous checkpoint, which nothing here has touched.
#pragma once

#include <string>
#include <vector>

#include "checkpoint/manifest.h"
#include "checkpoint/write_point.h"

namespace pipekit {

void begin_checkpoint(const std::string& root, int step);

struct CommitResult {
  std::string dir;                   // D/step-K
  std::int64_t bytes = 0;            // all its files
  std::vector<std::string> deleted;  // by retention, oldest first
};
CommitResult commit_checkpoint(const std::string& root, const CheckpointManifest& m, int keep,
                               const WriteHook& at = {});

}  // namespace pipekit
