// The precision a model trains in, and what it costs in memory per parameter:
// the one place that says so (docs/formats.md has the table).
//
//   fp32  weights, gradients and optimizer state in fp32.
//   bf16, fp16  mixed precision as Megatron-LM runs it: working weights and
//         activations (and the tensors sent between stages) in the low
//         precision; fp32 master weights, which the optimizer updates and from
//         which the working weights are copied after every step; gradients
//         accumulated across micro-batches in fp32 (each backward's
//         low-precision gradients are added into an fp32 buffer and freed, so
//         summing many micro-batches loses nothing to the low precision);
//         optimizer state (Adam's two moments) in fp32.
// Bytes per parameter with Adam: fp32 4 + 4 + 8 = 16; bf16/fp16 2 (working) +
// 4 (master) + 6 (fp32 accumulator, and the low-precision gradient a backward
// produces before it is folded in) + 8 = 20. Mixed precision halves
// activations and messages, not the weights' memory.
#pragma once

#include <cstdint>
#include <string>

#include "core/optimizer.h"

namespace pipekit {

enum class Precision { fp32, bf16, fp16 };

std::string to_string(Precision p);
// "fp32", "bf16", "fp16" (also "float32", "bfloat16", "float16"); false otherwise.
bool precision_from_string(const std::string& s, Precision& out);
// As precision_from_string, or InputError(source) naming the choices.
Precision parse_precision(const std::string& s, const std::string& source);

// Bytes of one element of the working weights and activations.
int element_bytes(Precision p);
bool mixed(Precision p);  // bf16 or fp16: fp32 master weights beside the working ones

// Memory one parameter costs, by term (bytes).
struct ParameterBytes {
  double weights = 0;    // one working copy (a schedule may keep several versions)
  double master = 0;     // fp32 master copy (mixed precision)
  double gradients = 0;  // accumulated gradient, plus the working-precision one of a backward in progress
  double optimizer = 0;  // optimizer state
  double total() const { return weights + master + gradients + optimizer; }
};
ParameterBytes bytes_per_parameter(Precision p, Optimizer o);

// The planners count a stage's static memory as its working weight bytes x
// (2 + factor); this factor makes that equal bytes_per_parameter's total:
// fp32 with Adam 2, mixed precision with Adam 8.
double static_memory_factor(Precision p, Optimizer o);

// Parameters in `param_bytes` bytes of weights stored in `stored_in`.
double parameter_count(std::int64_t param_bytes, Precision stored_in);

}  // namespace pipekit
