// Uses pipekit as an installed library: load a profile and report its totals.
#include <cstdio>

#include "core/profile.h"
#include "profiles/pipedream_graph.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pipekit::Profile p = pipekit::load_profile(argv[1]);
  pipekit::ProfileTotals t = pipekit::totals(p);
  std::printf("layers %d forward %.2f ms\n", t.layers, t.forward_ms);
  std::printf("consumer ok\n");
  return 0;
}
