#include "executor/rank_runtime.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <csignal>
#include <cstdio>
#include <stdexcept>

#include "core/error.h"
#include "core/timeline_meta.h"
#include "executor/compute_threads.h"
#include "executor/host_memory.h"
#include "executor/memory_meter.h"
#include "executor/thread_cpu.h"
#include "passes/round_robin.h"
#include "simulator/memory_model.h"

namespace pipekit {
namespace {

// c10 errors carry a C++ backtrace the user does not need.
std::string short_what(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

}  // namespace

std::int64_t RankRunner::optimizer_state_bytes_of(const LocalStage& s) const {
  return static_cast<std::int64_t>(parameter_count(param_bytes(s), c_.precision) *
                                   bytes_per_parameter(c_.precision, c_.optimizer).optimizer);
}

RankRunner::RankRunner(const RunConfig& c, const RankIdentity& id)
    : c_(c),
      id_(id),
      layout_(c.replica_counts()),
      prank_(layout_.group_of(id.rank)),
      net_(c, id, layout_),
      timeline_(id.rank),
      report_(c, id.rank),
      data_(c.model, c.data, c.batch, c.seq, c.minibatch_mbs, c.seed, /*load_now=*/false),
      scaler_(LossScaler::parse(c.loss_scaling, c.loss_scale_init, c.loss_scale_window, "--loss-scale")),
      loss_(LossFunction::parse(c.loss, "--loss")) {}

LocalStage& RankRunner::local(int stage) {
  for (auto& s : stages_)
    if (s.stage == stage) return s;
  throw std::runtime_error(
      fmt::format("rank {} runs an action of stage {}, which the schedule places on rank {}", id_.rank, stage,
                  c_.schedule.stage_to_rank.at(stage)));
}

void RankRunner::build() {
  const Schedule& sch = c_.schedule;
  num_stages_ = sch.num_stages;
  const std::int64_t mb_rows =
      c_.batch / c_.minibatch_mbs / (c_.async ? 1 : net_.my_replicas());  // this replica's
  const auto layer_shapes = layer_output_shapes(c_.model, mb_rows, c_.seq, c_.seed);
  for (int s = 0; s < num_stages_; ++s) {
    if (sch.stage_to_rank[s] != prank_) continue;
    LocalStage st;
    st.stage = s;
    st.first = s == 0;
    st.last = s == num_stages_ - 1;
    for (const Action& a : sch.actions[prank_])
      if (a.stage == s && a.type == ActionType::R) st.recompute = true;
    const auto& layers = c_.stage_layers[s];
    st.layers = build_layers(c_.model, layers, c_.seed);
    // Before the optimizer exists: its state follows the weights. Built in
    // fp32 (the same draws as fp32 training), then cast to the working precision.
    move_layers(st.layers, net_.device());
    st.async = c_.async;
    st.mixed = mixed(c_.precision);
    if (st.mixed) cast_layers(st.layers, working_dtype(c_.precision));
    for (auto& l : st.layers) {
      for (auto& p : l.params) {
        if (l.tied_weight.defined() && p.unsafeGetTensorImpl() == l.tied_weight.unsafeGetTensorImpl())
          (l.tied_slot ? st.tied_head_index : st.tied_embed_index) = static_cast<int>(st.params.size());
        st.params.push_back(p);
      }
      if (l.tied_weight.defined()) (l.tied_slot ? st.tied_head : st.tied_embed) = l.tied_weight;
    }
    if (st.async)
      st.stash = WeightStash(st.params, c_.traits->update, c_.minibatch_mbs);
    else if (st.mixed)
      st.master = MasterWeights(st.params);
    st.opt = make_optimizer(c_.optimizer, st.optimized(), c_.lr);
    if (!st.first) st.in_shape = layer_shapes.at(layers.front() - 1);
    st.out_shape = layer_shapes.at(layers.back());
    stages_.push_back(std::move(st));
  }
}

// An asynchronous schedule is one stream covering all minibatches. A rank has
// finished minibatch K where its cut after K lies, and writes the checkpoint
// of K there. Replicas deal micro-batch g to replica g mod r; a pipedream
// STEP goes to the replica whose B it follows, a 2bw STEP (one per minibatch) to all.
void RankRunner::plan_stream() {
  if (!c_.async) return;
  const auto& mine = c_.schedule.actions.at(prank_);
  if (net_.my_replicas() > 1)
    owners_ =
        round_robin_owners(mine, net_.my_replicas(), c_.traits->update == WeightUpdate::every_microbatch);
  const auto ends = minibatch_ends(c_.schedule, prank_, c_.minibatch_mbs);
  for (std::size_t k = 1; k <= ends.size(); ++k) {
    done_at_[ends[k - 1]] = static_cast<int>(k);
    if (static_cast<int>(k) > c_.start_step && c_.checkpoint_after(static_cast<int>(k)))
      save_at_[ends[k - 1]] = static_cast<int>(k);
  }
}

void RankRunner::resume() {
  if (c_.start_step == 0) return;
  if (c_.async) {
    resume_cut_ = my_cut(c_.start_step);
    load_stream_checkpoint(c_.start_step, resume_cut_);
    begin_ = resume_cut_.position;
  } else {
    load_checkpoint(c_.start_step);
  }
  if (id_.rank == 0)
    std::printf("resumed from %s after step %d\n", c_.resume_choice.dir.c_str(), c_.start_step);
}

// An asynchronous stream allocates the optimizer's state and new weight
// versions at its first STEPs, inside the measured stream (flush schedules
// have a whole step to warm up). Give the heap those pages first: per stage,
// the optimizer's state plus the versions the stage keeps. Called after the
// gradients exist, so they do not take these pages.
void RankRunner::prefault_stream_memory() {
  // Per working byte: the optimizer's state, and the versions kept.
  const ParameterBytes per = bytes_per_parameter(c_.precision, c_.optimizer);
  const double state = per.optimizer / per.weights;
  std::int64_t bytes = 0;
  const int replicas = c_.replica_counts().at(prank_);
  for (auto& s : stages_) {
    // On the host only blocks the heap serves can be paged in ahead; larger
    // ones are fresh mappings whenever they are allocated.
    std::int64_t per_copy = 0;
    for (const auto& p : s.params)
      if (net_.cuda() || heap_serves(tensor_bytes(p))) per_copy += tensor_bytes(p);
    bytes += static_cast<std::int64_t>(per_copy *
                                       (state + weight_versions(*c_.traits, s.stage, num_stages_, replicas)));
  }
  if (net_.cuda())  // the caching allocator keeps the freed block and splits it later
    torch::empty({bytes}, torch::TensorOptions().dtype(torch::kUInt8).device(net_.device()));
  else
    prefault_host_memory(bytes);
}

void RankRunner::begin_pass(int step) {
  kill_at_ = c_.faults.kill_position(id_.rank, step, c_.schedule.actions.at(prank_).size(), done_at_);
  if (!c_.async) mb_loss_.clear();  // a resumed stream keeps the losses its checkpoint held
  tied_done_ = false;
  overflow_.reset();
  for (auto& s : stages_) {
    s.opt->zero_grad();
    if (s.mixed && !s.async) s.master.begin_accumulation();
    // Asynchronous: gradients exist before the stream starts, so the step's
    // memory delta is activations and weight versions only.
    if (c_.async)
      for (std::size_t i = 0; i < s.params.size(); ++i) {
        if (!s.mixed) s.params[i].mutable_grad() = torch::zeros_like(s.params[i]);
        s.stash.master()[i].mutable_grad() = torch::zeros_like(s.stash.master()[i]);
      }
  }
  // Once, before the stream (an asynchronous run makes one pass); a resumed
  // stream got its optimizer state and weight versions from the checkpoint.
  if (c_.async && c_.start_step == 0) prefault_stream_memory();
  net_.world().barrier()->wait(net_.timeout());
  // Sampled before the clock starts: reading them costs time and pages.
  step_faults_ = minor_page_faults();
  step_other_cpu_.reset();
  if (c_.threads == 1 && !net_.cuda()) step_other_cpu_ = other_threads_cpu_ns();
  const int passes = c_.async ? 1 : c_.steps;
  timeline_.begin_step(!c_.timeline_path.empty() && step == passes - 1, net_.device(), c_.threads <= 1);
  timeline_.sample_memory(stages_);
  if (c_.async && c_.start_step > 0) resume_stream(resume_cut_);
}

// Which ranks an action that failed was exchanging with.
std::string RankRunner::failure_peer(const Action& a) const {
  const bool down = a.type == ActionType::RECV_B || a.type == ActionType::SEND_F || a.type == ActionType::B ||
                    a.type == ActionType::I;
  const bool up = a.type == ActionType::RECV_F || a.type == ActionType::SEND_B || a.type == ActionType::F;
  if (!down && !up) return "";
  const int other = a.stage + (down ? 1 : -1);
  if (other < 0 || other >= num_stages_ || is_local(other)) return "";
  std::vector<int> ranks;
  for (const RowPart& part : net_.exchange(other, a.microbatch)) ranks.push_back(part.rank);
  return ranks.size() == 1 ? fmt::format(", exchanging with rank {}", ranks[0])
                           : fmt::format(", exchanging with ranks {}", fmt::join(ranks, ", "));
}

void RankRunner::run_action(std::size_t i, int step, int finished) {
  if (i == kill_at_) {
    std::fprintf(stderr, "pipekit: rank %d killing itself mid-step %d (PIPEKIT_KILL_RANK)\n", id_.rank,
                 finished + 1);
    std::fflush(stderr);
    raise(SIGKILL);
  }
  const Action& a = c_.schedule.actions[prank_][i];
  try {
    if (runs_here(i)) execute(a, step);
  } catch (const std::exception& e) {
    // Gloo/store failures: say where, and which rank we were waiting on.
    throw std::runtime_error(fmt::format("rank {}: {} of step {} failed{} (last completed step {}): {}",
                                         id_.rank, to_string(a), finished + 1, failure_peer(a), finished,
                                         short_what(e)));
  }
}

void RankRunner::run_actions(int step) {
  const auto& mine = c_.schedule.actions.at(prank_);
  int finished = c_.async ? c_.start_step : step;  // steps (minibatches) this rank has finished
  for (std::size_t i = begin_; i < mine.size(); ++i) {
    run_action(i, step, finished);
    if (auto it = done_at_.find(i + 1); it != done_at_.end() && it->second < c_.steps) {
      finished = it->second;
      report_.write_progress(finished);
    }
    if (auto it = save_at_.find(i + 1); it != save_at_.end()) try {
        save_stream_checkpoint(it->second);
      } catch (const InputError&) {
        throw;  // names the file and the system's error already (exit 2)
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("rank {}: writing the checkpoint after step {} failed: {}",
                                             id_.rank, it->second, short_what(e)));
      }
  }
}

void RankRunner::end_pass(int step) {
  net_.end_step(timeline_);
  for (auto& s : stages_)
    if (!s.input.empty() || !s.grad_in.empty() || !s.out_grad.empty())
      throw std::runtime_error(fmt::format(
          "rank {}: the step ended with micro-batches of stage {} left without backward", id_.rank, s.stage));
  report_.write_progress(c_.async ? c_.steps : step + 1);
  const double step_ms = timeline_.now_ms();
  RankTimeline::StepRecord rec;
  rec.page_faults = minor_page_faults() - step_faults_;
  if (step_other_cpu_)
    if (auto now = other_threads_cpu_ns()) rec.other_threads_cpu_ms = cpu_ms_since(*step_other_cpu_, *now);
  timeline_.end_step(step_ms);
  rec.peak_activation_bytes = timeline_.peak_bytes();
  // The optimizer's state appears at the first STEP of the one stream (a
  // resumed stream loaded it before it started).
  if (c_.async && c_.start_step == 0)
    for (auto& s : stages_) rec.peak_activation_bytes -= optimizer_state_bytes_of(s);
  if (c_.predict_memory) report_.compare_memory(step, rec.peak_activation_bytes, stages_, net_, layout_);
  timeline_.sample_memory(stages_);
  const bool has_last = is_local(num_stages_ - 1);
  std::vector<double> losses = has_last ? report_.step_losses(mb_loss_) : std::vector<double>{};
  if (has_last) report_.publish_losses(step, losses, net_);
  if (timeline_.recording()) {
    rec.device_key = net_.device_key();
    rec.clock_id = net_.clock_id();
    gather_timeline(rec);
  }
  if (!c_.async && c_.checkpoint_after(step + 1)) save_checkpoint(step + 1);
  report_.print_weights_kept(stages_);
  StepOutcome outcome;
  outcome.scaled = scaler_.active();
  outcome.loss_scale = scaler_.scale();
  if (overflow_) {
    outcome.skipped = *overflow_;
    if (outcome.skipped) outcome.overflow_rank = overflow_rank_;
    scaler_.record(*overflow_);  // every rank: the same decision, the same new scale
    outcome.next_loss_scale = scaler_.scale();
  }
  if (id_.rank != 0) return;
  if (!has_last) losses = report_.fetch_losses(step, net_);
  // Rank 0 measures the step from its barrier to the end of its own work,
  // and the loss arrives only after the last stage finished.
  report_.print_step(step, losses, timeline_.now_ms(), rec.peak_activation_bytes, outcome);
}

void RankRunner::gather_timeline(const RankTimeline::StepRecord& rec) {
  Timeline frame;
  frame.schedule = c_.schedule.kind;
  frame.num_ranks = id_.world_size;  // replicas are ranks of their own
  frame.num_stages = c_.schedule.num_stages;
  frame.num_microbatches = c_.schedule.num_microbatches;
  frame.virtual_stages = std::max(1, c_.schedule.virtual_stages());
  Timeline run;
  set_meta(run, RunMeta::model, c_.model.name);
  set_meta(run, RunMeta::method,
           net_.cuda()
               ? "activation bytes = CUDA caching allocator's allocated bytes minus those at step start; "
                 "compute actions end with a device synchronize"
               : "activation bytes = live CPU tensor bytes minus those live at step start (counting "
                 "allocator)");
  set_meta(run, RunMeta::device, c_.device);
  set_meta(run, RunMeta::transport, to_string(net_.kind()));
  timeline_.gather(net_.store(), id_.world_size, frame, rec, run.meta, c_.timeline_path);
}

void RankRunner::execute(const Action& a, int step) {
  switch (a.type) {
    case ActionType::F:
      forward(local(a.stage), a.microbatch, step);
      break;
    case ActionType::R:
      recompute(local(a.stage), a.microbatch, step);
      break;
    case ActionType::B:
      backward(local(a.stage), a.microbatch);
      break;
    case ActionType::I:
      input_grad(local(a.stage), a.microbatch);
      break;
    case ActionType::W:
      weight_grad(local(a.stage), a.microbatch);
      break;
    case ActionType::SEND_F: {
      if (is_local(a.stage + 1)) break;  // same rank: handed over directly
      auto& s = local(a.stage);
      net_.post_send(a, s.output.at(a.microbatch), a.stage + 1, net_.tag(a.stage, a.microbatch, 0),
                     timeline_);
      if (s.recompute) s.output.erase(a.microbatch);  // the send holds it until done; R rebuilds it
      break;
    }
    case ActionType::SEND_B: {
      if (is_local(a.stage - 1)) break;
      auto& s = local(a.stage);
      torch::Tensor g = s.grad_in.at(a.microbatch);
      s.grad_in.erase(a.microbatch);
      net_.post_send(a, g, a.stage - 1, net_.tag(a.stage - 1, a.microbatch, 1), timeline_);
      break;
    }
    case ActionType::RECV_F:
      if (is_local(a.stage - 1)) break;
      net_.post_recv(a, local(a.stage).in_shape, a.stage - 1, net_.tag(a.stage - 1, a.microbatch, 0),
                     timeline_);
      break;
    case ActionType::RECV_B:
      if (is_local(a.stage + 1)) break;
      net_.post_recv(a, local(a.stage).out_shape, a.stage + 1, net_.tag(a.stage, a.microbatch, 1), timeline_);
      break;
    case ActionType::STEP:
      step_stage(local(a.stage), a, step);
      break;
    default:
      throw std::runtime_error(fmt::format("the executor does not run {} actions yet", to_string(a.type)));
  }
  net_.poll_sends(timeline_);
}

int RankRunner::run() {
  if (c_.faults.fails(id_.rank)) {
    std::fprintf(stderr, "pipekit: rank %d failing on purpose (PIPEKIT_FAIL_RANK)\n", id_.rank);
    return 7;
  }
  net_.connect();
  build();
  plan_stream();
  report_.open();
  resume();
  const int passes = c_.async ? 1 : c_.steps;
  for (int step = c_.async ? 0 : c_.start_step; step < passes; ++step) {
    begin_pass(step);
    run_actions(step);
    end_pass(step);
  }
  report_.print_done();
  if (c_.async)  // the layers end with the newest weights
    for (auto& s : stages_) s.stash.load_newest(s.params);
  int status = c_.verify ? verify() : 0;
  net_.world().barrier()->wait(net_.timeout());  // keep the store (rank 0) up until everyone is done
  return status;
}

int run_rank(const RunConfig& c, const RankIdentity& id) {
  // A file size limit (ulimit -f) makes write() fail with EFBIG, which the
  // checkpoint writer reports with the file's name, instead of killing the rank.
  std::signal(SIGXFSZ, SIG_IGN);
  memory_meter::install();
  set_compute_threads(c.threads);
  keep_host_memory();
  RankRunner r(c, id);
  return r.run();
}

}  // namespace pipekit
