// Versioned JSON forms of the shared vocabulary ("format": "pipekit-<kind>/1"),
// and file helpers. Every reader validates what it read and throws InputError
// naming the file, the JSON path and the problem; it never returns a half-read
// value. Formats are documented in docs/formats.md.
#pragma once

#include <string>
#include <string_view>

#include "core/cluster.h"
#include "core/plan.h"
#include "core/profile.h"
#include "core/schedule.h"
#include "core/timeline.h"

namespace pipekit {

std::string profile_to_json(const Profile& p);
Profile profile_from_json(std::string_view text, const std::string& source);

std::string cluster_to_json(const Cluster& c);
Cluster cluster_from_json(std::string_view text, const std::string& source);

std::string plan_to_json(const Plan& p);
Plan plan_from_json(std::string_view text, const std::string& source);

std::string schedule_to_json(const Schedule& s);
Schedule schedule_from_json(std::string_view text, const std::string& source);

std::string timeline_to_json(const Timeline& t);
Timeline timeline_from_json(std::string_view text, const std::string& source);

// Whole-file helpers. read_text_file throws InputError when the file cannot be
// read; write_text_file writes to a temporary file and renames it into place.
std::string read_text_file(const std::string& path);
void write_text_file(const std::string& path, std::string_view content);

}  // namespace pipekit
