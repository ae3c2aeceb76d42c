// pipekit viz TIMELINE [TIMELINE2] [--svg F] [--memory-svg F] [--html F] [--trace F]
//             [--plan plan.json] [--title T] [--lanes]
// Pictures of a timeline: prints its summary and where each file went. With two
// timelines, --svg draws both on one time scale and the report compares them.
#include <fmt/format.h>

#include "cli/command.h"
#include "core/error.h"
#include "core/formats.h"
#include "viz/timeline_summary.h"
#include "viz/viz_outputs.h"

namespace pipekit::cli {
namespace {

struct VizOptions {
  std::string timeline, compare, plan;
  VizOutputs out;
};

void print_summary(const Timeline& t, const std::string& name) {
  TimelineSummary s = summarize(t);
  fmt::print("{}: {} {} on {} ranks, {} micro-batches, v={}: step {:.3f} ms, compute bubble {:.1f}%", name,
             t.source, t.schedule, t.num_ranks, t.num_microbatches, t.virtual_stages, s.step_time_ms,
             100.0 * s.bubble_fraction);
  if (s.peak_memory > 0) fmt::print(", peak memory {:.1f} MB", s.peak_memory / 1e6);
  fmt::print("\n");
}

void run_viz(const VizOptions& o) {
  Timeline t = timeline_from_json(read_text_file(o.timeline), o.timeline);
  std::optional<Timeline> cmp;
  if (!o.compare.empty()) cmp = timeline_from_json(read_text_file(o.compare), o.compare);
  std::optional<Plan> plan;
  if (!o.plan.empty()) plan = plan_from_json(read_text_file(o.plan), o.plan);
  print_summary(t, o.timeline);
  if (cmp) print_summary(*cmp, o.compare);
  if (!o.out.any()) {
    fmt::print("nothing written: pass --svg FILE, --memory-svg FILE, --html FILE or --trace FILE\n");
    return;
  }
  for (const auto& line : write_viz_outputs(o.out, t, plan ? &*plan : nullptr, cmp ? &*cmp : nullptr))
    fmt::print("wrote {}\n", line);
}

void add_viz(CLI::App& app) {
  auto o = std::make_shared<VizOptions>();
  auto* cmd =
      app.add_subcommand("viz", "Draw a timeline: SVG Gantt and memory charts, HTML report, Perfetto trace");
  cmd->add_option("timeline", o->timeline, "Timeline JSON (pipekit-timeline/1) from simulate or run")
      ->required();
  cmd->add_option("timeline2", o->compare,
                  "Second timeline to compare against (drawn on the same time scale)");
  cmd->add_option("--svg", o->out.svg, "Write the Gantt chart (comparison chart with two timelines) as SVG");
  cmd->add_option("--memory-svg", o->out.memory_svg, "Write memory over time per rank as SVG");
  cmd->add_option("--html", o->out.html, "Write a self-contained HTML report (no network needed)");
  cmd->add_option("--trace", o->out.trace, "Write a Perfetto / Chrome trace JSON (open in ui.perfetto.dev)");
  cmd->add_option("--plan", o->plan, "Plan JSON to show in the HTML report");
  cmd->add_option("--title", o->out.title, "Heading of the charts and report");
  cmd->add_flag("--lanes", o->out.lanes, "One Gantt lane per virtual stage (interleaved, zbv)");
  cmd->callback([o] { run_viz(*o); });
}

CommandRegistration reg(60, add_viz);

}  // namespace
}  // namespace pipekit::cli
