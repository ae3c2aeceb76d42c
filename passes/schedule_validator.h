// Schedule validation: every rule a schedule must obey to be run, checked
// without timings, reporting every violation rather than the first.
//
// Checks: each action's stage is in range and lives on the rank whose list
// holds it (stage_to_rank); micro-batches are in range; every stage runs F of
// every micro-batch exactly once and exactly one backward (a B, or an I and a
// W); F precedes the backward of the same micro-batch, I precedes W; an R is
// immediately followed by the B or I of the same stage and micro-batch. In a
// lowered schedule (one with SEND/RECV) every cross-rank edge has exactly one
// SEND on the producer's rank after its producer and one RECV on the consumer's
// rank before its consumer, and no SEND/RECV joins stages on the same rank.
// Cross-rank order is checked by a dependency replay: every rank executes its
// list in order; F(s,mb) waits for F(s-1,mb), B/I(s,mb) for B/I(s+1,mb), or for
// the SEND of that result when the producer is on another rank of a lowered
// schedule. Sends and receives are only posted and never block (the executor
// waits for a receive where its result is used). If ranks remain blocked, there is one
// "deadlock" violation per unfinished rank naming its blocked action, what it
// waits for and where that is. Dependencies on actions missing from the
// schedule count as met (they are reported as missing instead).
// Linear in actions + stages * micro-batches.
#pragma once

#include <string>
#include <vector>

#include "core/action.h"
#include "core/schedule.h"

namespace pipekit {

struct ScheduleViolation {
  int rank = -1;      // rank whose list holds (or should hold) the action; -1: whole schedule
  int position = -1;  // index in that rank's list; -1 when the action is missing
  Action action;
  std::string message;
};

std::vector<ScheduleViolation> validate_schedule(const Schedule& s);

// Channels without tags (NCCL point-to-point) deliver in posting order. For
// each sending rank, receiving rank and direction (activations downstream,
// gradients upstream), the sender's SEND order and the receiver's RECV order
// must then name the same (stage, micro-batch) sequence, or a receive gets
// another micro-batch's tensor. Returns one line per channel whose orders
// differ, naming the first difference; empty when a FIFO transport is safe.
// Only meaningful for a valid lowered schedule.
std::vector<std::string> fifo_order_mismatches(const Schedule& lowered);

// One line per violation: "rank 1, position 7, 1F3: ..." ("rank 1, missing, 1W3: ...").
std::string format_violations(const std::vector<ScheduleViolation>& v);

}  // namespace pipekit
