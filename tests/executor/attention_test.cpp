// The GPT blocks' attention: LibTorch's fused kernel (2.x) and the written-out
// form agree; on a LibTorch without the fused kernel, the case is skipped.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include "executor/master_weights.h"
#include "executor/model_layers.h"
#include "tests/support/skip.h"

using namespace pipekit;

TEST_CASE("fused and written-out causal attention agree in fp32 and bf16") {
  if (!fused_attention_available())
    PIPEKIT_SKIP("this LibTorch has no fused scaled_dot_product_attention (1.x)");
  torch::manual_seed(3);
  auto q = torch::randn({2, 4, 16, 8}), k = torch::randn({2, 4, 16, 8}), v = torch::randn({2, 4, 16, 8});
  auto fused = causal_attention(q, k, v, true), plain = causal_attention(q, k, v, false);
  DOCTEST_CHECK((fused - plain).abs().max().item<double>() < 1e-5);
  auto qb = q.to(torch::kBFloat16), kb = k.to(torch::kBFloat16), vb = v.to(torch::kBFloat16);
  auto fb = causal_attention(qb, kb, vb, true).to(torch::kFloat);
  DOCTEST_CHECK((fb - plain).abs().max().item<double>() < 5e-2);
}

TEST_CASE("on CUDA, the fused kernels agree with the written-out form in bf16 and fp16") {
  if (!fused_attention_available())
    PIPEKIT_SKIP("this LibTorch has no fused scaled_dot_product_attention (1.x)");
  if (!torch::cuda::is_available()) PIPEKIT_SKIP("no CUDA device");
  torch::manual_seed(5);
  // A head size and length the flash and memory-efficient kernels accept.
  auto q = torch::randn({2, 4, 128, 64}), k = torch::randn({2, 4, 128, 64}),
       v = torch::randn({2, 4, 128, 64});
  auto plain = causal_attention(q, k, v, false);
  for (auto dtype : {torch::kBFloat16, torch::kHalf}) {
    auto to = [&](const torch::Tensor& t) { return t.to(torch::kCUDA, dtype); };
    auto fused = causal_attention(to(q), to(k), to(v), true).to(torch::kCPU, torch::kFloat);
    CAPTURE(dtype);
    DOCTEST_CHECK((fused - plain).abs().max().item<double>() < 5e-2);
  }
}

TEST_CASE("the written-out attention is causal: a position never sees a later one") {
  torch::manual_seed(4);
  auto q = torch::randn({1, 1, 6, 4}), k = torch::randn({1, 1, 6, 4}), v = torch::randn({1, 1, 6, 4});
  auto y = causal_attention(q, k, v, false);
  // Changing the last position's key and value leaves the earlier outputs alone.
  k[0][0][5] += 10;
  v[0][0][5] += 10;
  auto y2 = causal_attention(q, k, v, false);
  DOCTEST_CHECK((y.narrow(2, 0, 5) - y2.narrow(2, 0, 5)).abs().max().item<double>() == 0.0);
  DOCTEST_CHECK((y.narrow(2, 5, 1) - y2.narrow(2, 5, 1)).abs().max().item<double>() > 0.0);
}

TEST_CASE("master weights sum many small bf16 gradients in fp32, where bf16 alone would lose them") {
  auto p = torch::zeros({1}, torch::TensorOptions().dtype(torch::kBFloat16)).requires_grad_(true);
  std::vector<torch::Tensor> params = {p};
  MasterWeights master(params);
  // 1 + 256 x 2^-9: bf16 (8 bits of mantissa) rounds each addition away; fp32 keeps them.
  for (int i = 0; i < 257; ++i) {
    params[0].mutable_grad() = torch::full({1}, i == 0 ? 1.0 : 1.0 / 512, torch::kBFloat16);
    master.fold(params, true);
    DOCTEST_CHECK(!params[0].grad().defined());  // freed after each fold
  }
  DOCTEST_CHECK(master.grad(0).item<double>() == doctest::Approx(1.5).epsilon(1e-6));
  // Starting a new sum overwrites; a parameter no backward reached is zeroed.
  master.begin_accumulation();
  master.zero_missing();
  DOCTEST_CHECK(master.grad(0).item<double>() == 0.0);
  master.tensors()[0].detach().fill_(0.25);
  master.copy_to(params);
  DOCTEST_CHECK(params[0].item<double>() == 0.25);
  DOCTEST_CHECK((params[0].scalar_type() == torch::kBFloat16));
}
