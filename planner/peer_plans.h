// The plans other pipeline systems make by default, built for a pipekit
// profile so that pipekit's simulator can score them next to the search's
// (bench/plan_quality.sh). Every peer uses the same micro-batch size (the
// profile's) and the same global batch; pipeline depth p and data-parallel
// width d = devices / p as the peer's constraints allow. With d > 1 each
// replica pipelines m/d micro-batches of the profile's size, as the peers do:
// in pipekit's terms m/d micro-batches of d times the size, each split among
// the d replicas of every stage (what `run --plan` executes); a profile with
// no recorded size keeps m whole micro-batches dealt to the replicas. "Blocks" are the layers of
// kind TransformerBlock (every layer when a model has none); other layers sit
// with their neighbouring block (before the first: the first stage, after the
// last: the last stage, even when it holds no block).
//
//   megatron: Megatron-LM without --num-layers-per-virtual-pipeline-stage:
//     equal blocks per stage (num_layers must divide by
//     --pipeline-model-parallel-size, so p is the largest divisor of the device
//     count that divides the block count), embedding on the first stage,
//     head on the last, the 1F1B schedule (forward_backward_pipelining_without_interleaving).
//   megatron-interleaved: the same with 2 model chunks per rank (layers per
//     virtual stage = blocks / 2p; needs blocks divisible by 2p), the
//     interleaved 1F1B schedule.
//   deepspeed: PipelineModule(partition_method="parameters"), its default:
//     stages balanced by parameter count (planner/deepspeed_partition.h); p =
//     devices when the model has that many layers, else the largest divisor
//     that it has; TrainSchedule, a 1F1B schedule.
//   torchtitan: its default pipeline_parallel_schedule "1F1B", one stage per
//     rank, the split of generate_llm_fqn_per_model_part: blocks + 2
//     "effective layers" (embedding and output weigh one layer each:
//     pipeline_parallel_first/last_stage_less_layers = 1) divided evenly, the
//     first (total mod stages) stages one more; non-LLM models: every layer
//     one unit, no weights. p as for deepspeed.
//   torchtitan-interleaved: "Interleaved1F1B", 2 stages per rank (torchtitan's
//     default for multi-stage schedules), same split over 2p stages.
//   torchtitan-zbv: "ZBVZeroBubble", 2 stages per rank in a V (pipekit's zbv).
// Recomputation: none, as the peers default to; peer_plan leaves it to the
// caller to retry with full recomputation when the plan does not fit.
// Throws InputError (source "--peer") for unknown names and for models the
// peer's rule cannot split (e.g. megatron-interleaved with an odd split).
#pragma once

#include <string>
#include <vector>

#include "core/plan.h"
#include "core/profile.h"

namespace pipekit {

const std::vector<std::string>& peer_names();

// microbatches: per minibatch (global batch / micro-batch size).
Plan peer_plan(const Profile& profile, const std::string& peer, const Cluster& cluster, int microbatches,
               Precision precision);

}  // namespace pipekit
