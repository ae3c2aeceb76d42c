// Bring your own model and data: TorchScript Sequentials fed tensors from a
// torch.save file, trained with the loss the targets imply (or --loss), a
// tuple of tensors between stages, profiled, planned and run on 2 or 3 ranks
// with --verify against one-process training; and every bad input stopped
// before any rank starts with exit 2 naming the file, the layer and the fix.
// The models and data are made here with Debian's python3-torch
// (examples/*/make.py and small scripts); without it the cases are skipped.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/python_torch.h"
#include "tests/support/run_command.h"
#include "tests/support/skip.h"

using pipekit::test::CommandResult;
using pipekit::test::pipekit_cmd;
using pipekit::test::python_with_torch;
using pipekit::test::run_command;
using pipekit::test::TempDir;
using pipekit::test::write_file;

namespace {

const char* const kNoTorch = "no python3 with torch (apt-get install python3-torch)";

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

CommandResult pk(const std::string& args) {
  return run_command(pipekit_cmd(args));
}

CommandResult python(const std::string& py, const std::string& script_or_args) {
  return run_command(py + " " + script_or_args);
}

// Makes an example's model.pt and data.pt in dir.
bool make_example(const std::string& py, const std::string& name, const TempDir& dir) {
  CommandResult r =
      python(py, std::string(PIPEKIT_SOURCE_DIR) + "/examples/" + name + "/make.py " + dir.path());
  INFO(r.out << r.err);
  return r.status == 0;
}

// Runs a Python script in dir (its directory as argv[1]) that begins with
// the imports every script here uses and a fixed seed.
bool make_files(const std::string& py, const TempDir& dir, const std::string& body) {
  write_file(dir.file("make.py"),
             "import sys, torch\nfrom torch import nn\nd = sys.argv[1]\ntorch.manual_seed(0)\n" + body);
  CommandResult r = python(py, dir.file("make.py") + " " + dir.path());
  INFO(r.out << r.err);
  return r.status == 0;
}

// Profile, plan and run with --verify on 2 ranks, as the user guide's
// "Your own model" does.
void profile_plan_verify(const TempDir& dir, const std::string& schedule) {
  const std::string model = "--model script:" + dir.file("model.pt") + " --data " + dir.file("data.pt");
  CommandResult prof =
      pk("profile " + model + " --microbatch 4 --repeat 2 --quiet --out " + dir.file("p.json"));
  INFO(prof.out << prof.err);
  REQUIRE(prof.status == 0);
  CommandResult plan = pk("plan --profile " + dir.file("p.json") + " --devices 2 --schedule " + schedule +
                          " --microbatches 4 --out " + dir.file("plan.json"));
  INFO(plan.out << plan.err);
  REQUIRE(plan.status == 0);
  CommandResult run =
      pk("run --timeout 60 --plan " + dir.file("plan.json") + " --data " + dir.file("data.pt") +
         " --nproc 2 --batch 16 --steps 3 --verify --metrics " + dir.file("m.jsonl"));
  INFO(run.out << run.err);
  REQUIRE(run.status == 0);
  CHECK(has(run.out, "verify: pipeline equals one-process training"));
  CHECK(has(run.out, "data: " + dir.file("data.pt") + " (256 samples"));
}

}  // namespace

TEST_CASE("a CNN classifier on images from a .pt file: profile, plan, run --verify on 2 ranks") {
  const std::string py = python_with_torch();
  if (py.empty()) PIPEKIT_SKIP(kNoTorch);
  TempDir dir;
  REQUIRE(make_example(py, "cnn-classifier", dir));
  profile_plan_verify(dir, "1f1b");
  // The profile measured the images' pipeline: 7 layers, input bytes of 4
  // images of 3x16x16 float32.
  const std::string p = pipekit::test::slurp(dir.file("p.json"));
  CHECK(has(p, "\"input_bytes\": 12288"));
}

TEST_CASE("an MLP regression with float targets trains with mse and equals one-process training") {
  const std::string py = python_with_torch();
  if (py.empty()) PIPEKIT_SKIP(kNoTorch);
  TempDir dir;
  REQUIRE(make_example(py, "mlp-regression", dir));
  profile_plan_verify(dir, "gpipe");
  // cross_entropy on float targets is refused, naming the data and the fix.
  CommandResult ce = pk("run --model script:" + dir.file("model.pt") + " --data " + dir.file("data.pt") +
                        " --loss cross_entropy --nproc 2 --steps 1");
  INFO(ce.out << ce.err);
  CHECK(ce.status == 2);
  CHECK(has(ce.err, "cross_entropy takes class ids, these are floats"));
  CHECK(has(ce.err, "--loss mse"));
}

TEST_CASE("a tuple (hidden state, skip connection) crosses stages and a scripted loss is used") {
  const std::string py = python_with_torch();
  if (py.empty()) PIPEKIT_SKIP(kNoTorch);
  TempDir dir;
  REQUIRE(make_files(py, dir, R"(class Split(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(16, 32)
    def forward(self, x):
        return (torch.tanh(self.l(x)), x)
class Merge(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(32, 16)
    def forward(self, h, skip):
        return torch.tanh(self.l(h)) + skip
class Loss(nn.Module):
    def forward(self, out, target):
        return ((out - target) ** 2).mean() * 0.5
torch.jit.script(Split()).save(d + '/split.pt')
torch.jit.script(Merge()).save(d + '/merge.pt')
torch.jit.script(nn.Linear(16, 4)).save(d + '/head.pt')
torch.jit.script(Loss()).save(d + '/loss.pt')
torch.save((torch.randn(64, 16), torch.randn(64, 4)), d + '/data.pt')
)"));
  const std::string model =
      "--model script:" + dir.file("split.pt") + "," + dir.file("merge.pt") + "," + dir.file("head.pt");
  // Three ranks: the tuple of layer 0 is one message from rank 0 to rank 1.
  CommandResult run = pk("run --timeout 60 " + model + " --data " + dir.file("data.pt") +
                         " --loss script:" + dir.file("loss.pt") +
                         " --schedule 1f1b --microbatches 2 --batch 8 --nproc 3 --steps 3 " +
                         "--verify --metrics " + dir.file("m.jsonl"));
  INFO(run.out << run.err);
  REQUIRE(run.status == 0);
  CHECK(has(run.out, "stage 1 on rank 1: layers 1..1"));
  CHECK(has(run.out, "verify: pipeline equals one-process training"));
  // The profiler counts both elements: 4 rows x (32 + 16) float32.
  CommandResult prof = pk("profile " + model + " --data " + dir.file("data.pt") +
                          " --microbatch 4 --repeat 2 " + "--quiet --out " + dir.file("p.json"));
  INFO(prof.out << prof.err);
  REQUIRE(prof.status == 0);
  CHECK(has(pipekit::test::slurp(dir.file("p.json")), "\"output_bytes\": 768"));
}

TEST_CASE(
    "a model with BatchNorm loads (the probe leaves its statistics alone) and equals one-process training") {
  const std::string py = python_with_torch();
  if (py.empty()) PIPEKIT_SKIP(kNoTorch);
  TempDir dir;
  REQUIRE(make_files(py, dir,
                     R"(m = nn.Sequential(nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU()),
                  nn.Sequential(nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU()), nn.Linear(32, 4))
torch.jit.script(m).save(d + '/model.pt')
torch.save((torch.randn(64, 16), torch.randint(0, 4, (64,))), d + '/data.pt')
)"));
  CommandResult run =
      pk("run --timeout 60 --model script:" + dir.file("model.pt") + " --data " + dir.file("data.pt") +
         " --schedule 1f1b --microbatches 2 --batch 8 --nproc 2 --steps 3 --verify");
  INFO(run.out << run.err);
  REQUIRE(run.status == 0);
  CHECK(has(run.out, "verify: pipeline equals one-process training"));
}

TEST_CASE("profile makes random inputs from --input-shape when there is no data") {
  const std::string py = python_with_torch();
  if (py.empty()) PIPEKIT_SKIP(kNoTorch);
  TempDir dir;
  REQUIRE(make_example(py, "cnn-classifier", dir));
  const std::string model =
      "profile --model script:" + dir.file("model.pt") + " --microbatch 2 --repeat 2 --quiet ";
  CommandResult ok = pk(model + "--input-shape 3,16,16 --out " + dir.file("p.json"));
  INFO(ok.out << ok.err);
  CHECK(ok.status == 0);
  CHECK(has(pipekit::test::slurp(dir.file("p.json")), "\"input_bytes\": 6144"));  // 2 x 3x16x16 x 4 B
  // Without an input shape the model is fed token ids, and says what to do.
  CommandResult tokens = pk(model + "--out " + dir.file("q.json"));
  CHECK(tokens.status == 2);
  CHECK(has(tokens.err, "layer 0 (Sequential)"));
  CHECK(has(tokens.err, "--input-shape"));
  CHECK(!has(tokens.err, "Traceback"));
  CommandResult bad = pk(model + "--input-shape 3,x --out " + dir.file("q.json"));
  CHECK(bad.status == 2);
  CHECK(has(bad.err, "--input-shape"));
}

TEST_CASE("bad models and data stop before any rank starts, naming the file, the layer and the fix") {
  const std::string py = python_with_torch();
  if (py.empty()) PIPEKIT_SKIP(kNoTorch);
  TempDir dir;
  REQUIRE(make_files(
      py, dir,
      R"(torch.jit.script(nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(64, 8))).save(d + '/mismatch.pt')
torch.jit.script(nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 4))).save(d + '/ok.pt')
torch.jit.script(nn.Linear(16, 4)).save(d + '/flat.pt')
class Ids(nn.Module):
    def forward(self, x):
        return (x, x.long())
torch.jit.script(Ids()).save(d + '/ids.pt')
class Count(nn.Module):
    def forward(self, x):
        return [x, x]
torch.jit.script(Count()).save(d + '/list.pt')
torch.save((torch.randn(64, 16), torch.randint(0, 4, (64,))), d + '/cls.pt')
# class ids 0..3 but one 8, in the last sample: the whole file is checked, not the first micro-batch
ids = torch.randint(0, 4, (64,))
ids[63] = 8
torch.save((torch.randn(64, 16), ids), d + '/big_ids.pt')
torch.save((torch.randn(64, 16), torch.randn(64)), d + '/mse_shape.pt')
torch.save((torch.randn(4, 16), torch.randint(0, 4, (4,))), d + '/few.pt')
torch.save({'a': 1}, d + '/notensors.pt')
torch.save((torch.randn(64, 16), [1, 2]), d + '/list_targets.pt')
)"));
  write_file(dir.file("garbage.pt"), "not a zip");
  struct Case {
    const char* what;
    std::string args;
    std::vector<std::string> says;
  };
  const auto f = [&](const char* n) { return dir.file(n); };
  const std::vector<Case> cases = {
      {"shapes between layers",
       "script:" + f("mismatch.pt") + " --data " + f("cls.pt"),
       {f("mismatch.pt"), "layer 2 (Linear)", "layer 1 (ReLU)", "[1, 32]", "mat1 and mat2 shapes"}},
      {"class ids beyond the output",
       "script:" + f("ok.pt") + " --data " + f("big_ids.pt"),
       {f("big_ids.pt"), "class ids run 0..8", "scores 4 classes"}},
      {"mse targets of another shape",
       "script:" + f("ok.pt") + " --data " + f("mse_shape.pt"),
       {f("mse_shape.pt"), "mse needs targets of the output's shape"}},
      {"fewer samples than a step",
       "script:" + f("ok.pt") + " --data " + f("few.pt"),
       {f("few.pt"), "4 samples, fewer than one step's batch of 8"}},
      {"a .pt that is not tensors",
       "script:" + f("ok.pt") + " --data " + f("notensors.pt"),
       {f("notensors.pt"), "torch.save((inputs, targets)"}},
      {"targets that are not a tensor",
       "script:" + f("ok.pt") + " --data " + f("list_targets.pt"),
       {f("list_targets.pt"), "targets", "not a tensor"}},
      {"a file torch.save did not write",
       "script:" + f("ok.pt") + " --data " + f("garbage.pt"),
       {f("garbage.pt"), "not a file torch.save wrote"}},
      {"a module without children",
       "script:" + f("flat.pt") + " --data " + f("cls.pt"),
       {f("flat.pt"), "no children", "nn.Sequential"}},
      {"a tuple holding integers",
       "script:" + f("ids.pt") + "," + f("ok.pt") + " --data " + f("cls.pt"),
       {f("ids.pt"), "layer 0 (ids)", "floating-point tensors"}},
      {"a layer returning a list",
       "script:" + f("list.pt") + "," + f("ok.pt") + " --data " + f("cls.pt"),
       {f("list.pt"), "layer 0 (list)", "not a tensor or a tuple"}},
      {"an unknown loss",
       "script:" + f("ok.pt") + " --data " + f("cls.pt") + " --loss huber",
       {"--loss", "cross_entropy, mse or script:FILE"}},
      {"tensors for a built-in model", "gpt-tiny --data " + f("cls.pt"), {"--data", "TorchScript"}},
  };
  for (const auto& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    CommandResult r =
        pk("run --timeout 60 --model " + c.args + " --microbatches 2 --batch 8 --nproc 2 --steps 1");
    INFO(r.out << r.err);
    CHECK(r.status == 2);
    for (const auto& s : c.says) CHECK(has(r.err, s));
    CHECK(!has(r.err, "Traceback"));
    CHECK(!has(r.err, "frame #"));
    CHECK(!has(r.out, "step 1/"));  // no rank started
  }
}
