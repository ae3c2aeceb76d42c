// Human-readable sizes, both ways.
//
// parse_bytes accepts plain numbers ("80000000000", "8e10") and suffixes
// K/M/G/T (powers of 1000) or Ki/Mi/Gi/Ti (powers of 1024), optionally followed
// by "B" and, for rates, "/s": "16GiB", "1.5GB", "25GB/s". Returns nullopt on
// anything else, negative or non-finite values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pipekit {

std::optional<double> parse_bytes(std::string_view text);
// The whole of `text` as a plain finite number >= 0 ("12", "3.5", "1e-3");
// nullopt on anything else (empty, trailing characters, "nan", "inf", < 0).
std::optional<double> parse_number(std::string_view text);
std::string format_bytes(double bytes);  // "553.4 MB", "1.50 GiB" style: decimal units
std::string format_ms(double ms);        // "233.90 ms", "1.25 s"

}  // namespace pipekit
