// How ranks exchange tensors: the choice the runtime makes from every rank's
// device (gpu_transport.h). Runs on any build; the NCCL branch is taken only
// where pipekit was built with NCCL.
#include <doctest/doctest.h>

#include "executor/gpu_transport.h"

using namespace pipekit;

TEST_CASE("transport: CPU ranks use Gloo, ranks sharing a GPU stage through host memory") {
  CHECK(choose_transport({-1, -1, -1}) == Transport::gloo);
  CHECK(choose_transport({0, 0}) == Transport::gloo_host_staged);     // NCCL refuses two ranks on one device
  CHECK(choose_transport({0, -1}) == Transport::gloo_host_staged);    // a CPU rank cannot join NCCL
  CHECK(choose_transport({0, 1, 1}) == Transport::gloo_host_staged);  // one shared GPU is enough to fall back
}

TEST_CASE("transport: ranks on distinct GPUs use NCCL exactly when it was built in") {
  const Transport t = choose_transport({0, 1, 2, 3});
  CHECK(t == (PIPEKIT_TORCH_NCCL ? Transport::nccl : Transport::gloo_host_staged));
}

TEST_CASE("transport: the description names every rank's device and why Gloo was kept") {
  const std::string d = describe_transport(Transport::gloo_host_staged, {"cuda:0 on a", "cuda:0 on a"});
  CHECK(d.find("gloo (host-staged CUDA tensors)") != std::string::npos);
  CHECK(d.find("rank 1: cuda:0 on a") != std::string::npos);
  CHECK(d.find(PIPEKIT_TORCH_NCCL ? "ranks share a GPU" : "built without NCCL") != std::string::npos);
  CHECK(describe_transport(Transport::gloo, {"cpu"}) == "transport gloo; rank 0: cpu");
}
