// libFuzzer targets for every reader of user input. Built once per reader with
// -DPIPEKIT_FUZZ_READER=<n>. Contract under test: a reader either returns a value
// that survives a write/read round trip unchanged, or throws InputError. Any other
// exception, crash, hang or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "checkpoint/manifest.h"
#include "core/error.h"
#include "core/formats.h"
#include "profiles/pipedream_graph.h"

using namespace pipekit;

namespace {
[[noreturn]] void fail(const char* why) {
  __builtin_printf("round trip broken: %s\n", why);
  std::abort();
}

void fuzz_one(std::string_view text) {
#if PIPEKIT_FUZZ_READER == 0
  Profile p = profile_from_json(text, "fuzz");
  if (profile_to_json(profile_from_json(profile_to_json(p), "rt")) != profile_to_json(p)) fail("profile");
#elif PIPEKIT_FUZZ_READER == 1
  Profile p = import_pipedream_graph(text, "fuzz", "m");
  if (profile_from_json(profile_to_json(p), "rt").layers.size() != p.layers.size()) fail("graph");
#elif PIPEKIT_FUZZ_READER == 2
  Plan p = plan_from_json(text, "fuzz");
  if (plan_to_json(plan_from_json(plan_to_json(p), "rt")) != plan_to_json(p)) fail("plan");
#elif PIPEKIT_FUZZ_READER == 3
  Cluster c = cluster_from_json(text, "fuzz");
  if (cluster_to_json(cluster_from_json(cluster_to_json(c), "rt")) != cluster_to_json(c)) fail("cluster");
#elif PIPEKIT_FUZZ_READER == 4
  Schedule s = parse_schedule_text(text, "fuzz");
  if (parse_schedule_text(format_schedule_text(s), "rt").actions != s.actions) fail("schedule text");
#elif PIPEKIT_FUZZ_READER == 5
  Schedule s = parse_schedule_csv(text, "fuzz");
  if (parse_schedule_csv(format_schedule_csv(s), "rt").actions != s.actions) fail("schedule csv");
#elif PIPEKIT_FUZZ_READER == 6
  Schedule s = schedule_from_json(text, "fuzz");
  if (schedule_from_json(schedule_to_json(s), "rt").actions != s.actions) fail("schedule json");
#elif PIPEKIT_FUZZ_READER == 7
  Timeline t = timeline_from_json(text, "fuzz");
  if (timeline_to_json(timeline_from_json(timeline_to_json(t), "rt")) != timeline_to_json(t))
    fail("timeline");
#elif PIPEKIT_FUZZ_READER == 8
  CheckpointManifest m = manifest_from_json(text, "fuzz");
  if (manifest_to_json(manifest_from_json(manifest_to_json(m), "rt")) != manifest_to_json(m))
    fail("checkpoint manifest");
#else
#error unknown reader
#endif
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    fuzz_one(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const InputError&) {
    // Expected for bad input.
  }
  return 0;
}
