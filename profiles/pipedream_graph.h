// Importer for PipeDream's profiler output, graph.txt (msr-fiddle/pipedream).
//
// Node lines: "nodeN -- <description> -- forward_compute_time=F, backward_compute_time=B,
// activation_size=A, parameter_size=P[ -- stage_id=K]"; edge lines: "\tnodeA -- nodeB".
// Nodes whose description starts with "Input" are data loading: they are left out
// of the layers, their output becomes the profile's input_bytes, and their edges
// are dropped. Layers come out in a topological order (ties broken by node number);
// a graph that is a simple chain gets no edges. PipeDream does not separate saved
// from output activations, so saved_bytes = output_bytes. Times are per minibatch.
// The original node names are kept as layer names, so plans can be compared with
// PipeDream's. Errors throw InputError naming the file and line.
#pragma once

#include <string>
#include <string_view>

#include "core/profile.h"

namespace pipekit {

Profile import_pipedream_graph(std::string_view text, const std::string& source,
                               const std::string& model_name);

// True when `text` looks like a graph.txt rather than JSON (first non-blank char is not '{').
bool looks_like_pipedream_graph(std::string_view text);

// Reads a profile from a file: pipekit JSON, or a PipeDream graph.txt (the model
// is named after the file's directory).
Profile load_profile(const std::string& path);

}  // namespace pipekit
