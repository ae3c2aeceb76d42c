// A test case that cannot run here (something the machine lacks) says so and
// is counted as skipped, not passed: CTest marks a test whose output holds
// "pipekit-test-skipped:" as skipped (tests/CMakeLists.txt).
#pragma once

#include <cstdio>

// Prints the reason and leaves the test case.
#define PIPEKIT_SKIP(reason)                             \
  do {                                                   \
    std::printf("pipekit-test-skipped: %s\n", (reason)); \
    std::fflush(stdout);                                 \
    return;                                              \
  } while (0)
