// Counts the bytes of CPU tensor memory a rank holds, by wrapping LibTorch's
// CPU allocator: every tensor allocation adds its size, every free subtracts it.
//
// The runtime reads it at the start of a step (weights, gradients, optimizer
// state are all that is live then) and tracks the peak during the step; the
// difference is the step's activation memory: stage inputs and outputs kept per
// micro-batch, tensors autograd saved for backward, received buffers and
// temporaries. install() is idempotent and must run before tensors are made.
//
// On a GPU rank, use_cuda(device) switches the three readings to the CUDA
// caching allocator's statistics of that device (bytes handed to tensors, not
// the allocator's reserved pool), so the same runtime code measures either.
#pragma once

#include <cstdint>

namespace pipekit::memory_meter {

void install();
std::int64_t live_bytes();
std::int64_t peak_bytes();  // since the last reset_peak()
void reset_peak();          // peak := live
void use_cuda(int device);  // only in builds with CUDA LibTorch (PIPEKIT_TORCH_CUDA)

}  // namespace pipekit::memory_meter
