// Local launcher for `pipekit run --nproc N`: starts N ranks of this node as
// copies of the running pipekit binary (same arguments), with the environment
// torchrun would give them (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
// GROUP_RANK, MASTER_ADDR, MASTER_PORT) plus one intra-op thread per rank
// (OMP/OpenBLAS/MKL_NUM_THREADS) and PIPEKIT_LAUNCHED=1.
//
// It watches the children: when one exits non-zero or dies from a signal, it
// stops the others and returns non-zero, naming the rank. Children die with
// the launcher (PR_SET_PDEATHSIG). No LibTorch here.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pipekit {

struct LaunchOptions {
  int nproc = 1;
  int nnodes = 1, node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // 0: pick a free local port (single node only)
  int threads = 1;
  // Set in every rank's environment besides torchrun's (name, value).
  std::vector<std::pair<std::string, std::string>> env;
};

// True in a process started by launch_ranks().
bool launched_by_pipekit();

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_local_port();

// Returns 0 when every local rank exited 0; else 2 when a failing rank exited
// with 2 (it named something the user must fix, such as a checkpoint it could
// not write; the others' failures follow from it), or the first failing
// rank's exit status (1 when it died from a signal).
int launch_ranks(const LaunchOptions& o);

}  // namespace pipekit
