// Bubble formulas under equal costs, checked with the local in-order replay of
// schedule_test_support.h (zero communication time).
#include <doctest/doctest.h>

#include "tests/support/schedule_test_support.h"

using namespace pipekit;
using pipekit::test::Costs;
using pipekit::test::make_schedule;
using pipekit::test::replay;

TEST_CASE("gpipe and 1f1b: step = (m + p - 1)(F + B)") {
  for (int p = 1; p <= 8; ++p)
    for (int m = 1; m <= 16; ++m) {
      CAPTURE(p);
      CAPTURE(m);
      Costs c{3, 5};  // F = 3, B = 5
      CHECK(replay(make_schedule("gpipe", p, m), c).makespan == (m + p - 1) * 8);
      CHECK(replay(make_schedule("1f1b", p, m), c).makespan == (m + p - 1) * 8);
    }
  CHECK(replay(make_schedule("naive", 5, 1), Costs{3, 5}).makespan == 5 * 8);
}

TEST_CASE("zb-h1: step = m(F+I+W) + (p-1)(F+I-W) with F = I = W, m >= p") {
  for (int p = 1; p <= 8; ++p)
    for (int m = p; m <= 16; ++m) {
      CAPTURE(p);
      CAPTURE(m);
      Costs c;
      c.f = c.i = c.w = 2;
      auto r = replay(make_schedule("zb-h1", p, m), c);
      CHECK(r.makespan == m * 6 + (p - 1) * 2);
      // A third of 1F1B's bubble (p-1)(F+I+W).
      CHECK((r.makespan - m * 6) * 3 == (p - 1) * 6);
    }
}

TEST_CASE("zb-h1 matches the paper's bubble (p-1)(F+I-W) for any costs with W <= F") {
  const int costs[][3] = {{2, 2, 1}, {2, 1, 1}, {1, 2, 1}, {3, 2, 1}, {2, 3, 2}, {1, 1, 2}, {1, 2, 2}};
  for (const auto& c : costs)
    for (int p = 2; p <= 8; ++p)
      for (int m = p; m <= 16; ++m) {
        CAPTURE(c[0]);
        CAPTURE(c[1]);
        CAPTURE(c[2]);
        CAPTURE(p);
        CAPTURE(m);
        Costs k;
        k.f = c[0];
        k.i = c[1];
        k.w = c[2];
        auto r = replay(make_schedule("zb-h1", p, m), k);
        long long formula = 1LL * m * (c[0] + c[1] + c[2]) + 1LL * (p - 1) * (c[0] + c[1] - c[2]);
        if (c[2] <= c[0])
          CHECK(r.makespan == formula);
        else  // the order is built for W <= F; a slower W costs at most (p-1)(W-F) more
          CHECK(r.makespan <= formula + 1LL * (p - 1) * (c[2] - c[0]));
      }
}

TEST_CASE("zb-h2: no idle inside any rank's span once m >= 2p - 1") {
  for (int p = 1; p <= 8; ++p)
    for (int m = p; m <= 18; ++m) {
      CAPTURE(p);
      CAPTURE(m);
      Costs c;
      c.f = c.i = c.w = 1;
      auto r = replay(make_schedule("zb-h2", p, m), c);
      CHECK(r.makespan == 3 * m + p - 1);  // the last rank still starts p-1 slots late
      if (m >= 2 * p - 1)
        for (int k = 0; k < p; ++k) CHECK(r.span_idle(k) == 0);
      // zb-h1 leaves rank 0 idle for (p-1) slots inside its span instead.
      if (p > 1) CHECK(replay(make_schedule("zb-h1", p, m), c).span_idle(0) == p - 1);
    }
}

TEST_CASE("zbv: within two chunk slots of the flushed lower bound 6m + p - 1") {
  for (int p = 1; p <= 8; ++p)
    for (int m = 2 * p; m <= 4 * p; ++m) {
      CAPTURE(p);
      CAPTURE(m);
      Costs c;
      c.f = c.i = c.w = 1;  // per chunk: half a stage of a 2p-chunk model
      auto r = replay(make_schedule("zbv", p, m, 2), c);
      CHECK(r.makespan >= 6 * m + p - 1);
      CHECK(r.makespan <= 6 * m + p + 1);
      if (p <= 4 || p == 6) CHECK(r.makespan == 6 * m + p - 1);
    }
  Costs c;
  c.f = c.i = c.w = 1;
  CHECK(replay(make_schedule("zbv", 4, 8, 2), c).makespan == 6 * 8 + 3);
  CHECK(replay(make_schedule("zbv", 8, 32, 2), c).makespan == 6 * 32 + 7);
}

TEST_CASE("interleaved: bubble (p-1)/(v m + p - 1) of the step with per-chunk costs F/v, B/v") {
  for (int p = 1; p <= 8; ++p)
    for (int v = 1; v <= 4; ++v)
      for (int m = p; m <= 16; m += p) {
        CAPTURE(p);
        CAPTURE(v);
        CAPTURE(m);
        // Per chunk F = 1, B = 2: a whole stage costs F = v, B = 2v.
        auto r = replay(make_schedule("interleaved", p, m, v), Costs{1, 2});
        long long step = r.makespan, ideal = 3LL * v * m;
        CHECK(step == 3LL * (v * m + p - 1));
        // bubble / step == (p-1) / (v m + p - 1)
        CHECK((step - ideal) * (v * m + p - 1) == (p - 1) * step);
      }
}

TEST_CASE("interleaved with p not dividing m stays close to the formula") {
  for (int p = 2; p <= 8; ++p)
    for (int v = 2; v <= 4; ++v)
      for (int m = p + 1; m <= 16; ++m) {
        if (m % p == 0) continue;
        CAPTURE(p);
        CAPTURE(v);
        CAPTURE(m);
        auto r = replay(make_schedule("interleaved", p, m, v), Costs{1, 2});
        CHECK(r.makespan >= 3LL * (v * m + p - 1));
        // Never worse than plain 1F1B on the same model.
        CHECK(r.makespan <= 3LL * v * (m + p - 1));
      }
}
