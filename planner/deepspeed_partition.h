// DeepSpeed's PipelineModule partition methods (deepspeed.runtime.pipe.module,
// deepspeed.runtime.utils), for comparison with pipekit's planners.
//
// "uniform": balance the number of layers (partition_uniform: floor(n/p) each,
//   the first n mod p stages one more; with n <= p, one layer each, then empty).
// "parameters": balance parameter bytes; "type:REGEX": balance the number of
//   layers whose kind or name matches REGEX (ECMAScript, case-insensitive, a
//   search not a full match). Both use partition_balanced: the split into p
//   contiguous parts minimising (largest part - smallest part), ties to the
//   latest boundary, as DeepSpeed's dynamic program does.
// Result: p + 1 boundaries, parts[s]..parts[s+1]-1 are stage s's layers (a stage
// may be empty when layers < stages). Bad method names or regexes throw
// InputError (source "--method").
#pragma once

#include <string>
#include <vector>

#include "core/profile.h"

namespace pipekit {

std::vector<int> deepspeed_partition_uniform(int num_items, int num_parts);
std::vector<int> deepspeed_partition_balanced(const std::vector<double>& weights, int num_parts);

// method: "uniform", "parameters" or "type:REGEX".
std::vector<int> deepspeed_partition(const Profile& p, const std::string& method, int num_stages);

}  // namespace pipekit
