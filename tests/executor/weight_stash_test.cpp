// Weight stashing (executor/weight_stash.h) and the fault hooks' positions
// (executor/fault_injection.h), without processes. LibTorch's logging defines
// its own CHECK, so doctest's is spelled DOCTEST_CHECK here.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <map>
#include <string>

#include "executor/fault_injection.h"
#include "executor/weight_stash.h"

using namespace pipekit;

namespace {

struct Stage {
  std::vector<torch::Tensor> params = {torch::zeros({3}, torch::requires_grad())};
  WeightStash stash;
  std::unique_ptr<torch::optim::SGD> opt;
  Stage(WeightUpdate rule, int minibatch) : stash(params, rule, minibatch) {
    opt = std::make_unique<torch::optim::SGD>(stash.master(), torch::optim::SGDOptions(1.0));
  }
  // A backward whose gradient is `g` everywhere, then the update.
  void update(double g) {
    params[0].mutable_grad() = torch::full({3}, g);
    stash.update(params, *opt);
  }
};

}  // namespace

TEST_CASE("pipedream: a forward takes the newest weights, its backward the same ones, old versions go") {
  Stage s(WeightUpdate::every_microbatch, 4);
  DOCTEST_CHECK(s.stash.begin_forward(0) == 0);
  DOCTEST_CHECK(s.stash.begin_forward(1) == 0);
  s.update(1.0);  // master 0 - 1 = -1: version 1
  DOCTEST_CHECK(s.stash.updates() == 1);
  DOCTEST_CHECK(s.stash.begin_forward(2) == 1);
  DOCTEST_CHECK(s.stash.versions().size() == 2);  // 0 is still used by micro-batches 0 and 1
  // Loading a version copies it in without touching autograd's version counter.
  const auto counter = s.params[0]._version();
  s.stash.load(s.params, 0);
  DOCTEST_CHECK(s.params[0].sum().item<double>() == 0.0);
  s.stash.load(s.params, 1);
  DOCTEST_CHECK(s.params[0].sum().item<double>() == -3.0);
  DOCTEST_CHECK(s.params[0]._version() == counter);
  s.stash.end_backward(0);
  s.stash.end_backward(1);
  s.update(1.0);  // version 2; nothing in flight uses 0 any more
  DOCTEST_CHECK(s.stash.versions().count(0) == 0);
  DOCTEST_CHECK(s.stash.version_of(2) == 1);
  DOCTEST_CHECK(s.stash.max_versions() == 2);
  s.stash.load_newest(s.params);
  DOCTEST_CHECK(s.params[0].sum().item<double>() == -6.0);
}

TEST_CASE("2bw: minibatch t computes with the weights after t-1 updates, a version ahead is refused") {
  Stage s(WeightUpdate::delayed_minibatch, 2);
  DOCTEST_CHECK(s.stash.begin_forward(0) == 0);  // minibatch 0
  DOCTEST_CHECK(s.stash.begin_forward(3) == 0);  // minibatch 1 still uses W(0)
  DOCTEST_CHECK_THROWS_WITH_AS(s.stash.begin_forward(4), doctest::Contains("does not exist yet"),
                               std::runtime_error);
  s.update(1.0);
  DOCTEST_CHECK(s.stash.begin_forward(4) == 1);  // minibatch 2: W(1)
}

TEST_CASE("the kill hook's position: halfway through step K, or between minibatch ends of a stream") {
  FaultInjection f;
  DOCTEST_CHECK(f.kill_position(0, 0, 100, {}) == FaultInjection::npos);  // no hook set
  f.kill_rank = 1;
  f.kill_at_step = 2;
  DOCTEST_CHECK(f.kill_position(0, 1, 100, {}) == FaultInjection::npos);  // another rank
  DOCTEST_CHECK(f.kill_position(1, 0, 100, {}) == FaultInjection::npos);  // step 1
  DOCTEST_CHECK(f.kill_position(1, 1, 100, {}) == 50);                    // step 2, halfway
  const std::map<std::size_t, int> ends = {{30, 1}, {60, 2}, {90, 3}};
  DOCTEST_CHECK(f.kill_position(1, 0, 100, ends) == 45);  // between the ends of minibatches 1 and 2
}
