#!/usr/bin/env bash
# The fidelity grid's machinery on a small subset (issue 18): every cell runs,
# its table row says what its --compare JSON says, a layout with more stages
# than layers is marked n/a without running, and the summary counts the cells.
# A correctness check of the script, not a timing threshold.
#   fidelity_grid_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
SRC=$2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
OUT=$OUT ROWS=2 SEQS=32 SCHEDULES="1f1b interleaved" RANKS="2 4" GPT2=0 STEPS=3 \
  bash "$SRC/bench/fidelity_grid.sh" "$BUILD" >"$OUT/table.md"
cat "$OUT/table.md"
fail() { echo "FAIL: $*" >&2; exit 1; }
grep -q '^| model | rows x seq | schedule | ranks | predicted ms' "$OUT/table.md" || fail "no header"
grep -q '^| gpt-tiny | 2 x 32 | interleaved | 4 | n/a: 8 stages > 6 layers' "$OUT/table.md" || fail "no n/a row"
[ ! -f "$OUT/gpt-tiny-2-32-interleaved-4.json" ] || fail "the n/a cell ran"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = [l for l in open(out + "/table.md") if l.startswith("| gpt-tiny") and "n/a" not in l]
assert len(rows) == 3, rows
for l in rows:
    c = [x.strip() for x in l.split("|")[1:-1]]
    assert not c[4].startswith("failed"), l
    d = json.load(open("%s/gpt-tiny-2-32-%s-%s.json" % (out, c[2], c[3])))
    assert abs(float(c[4]) - d["predicted_step_ms"]) < 0.051, (c, d["predicted_step_ms"])
    assert abs(float(c[6]) - d["measured_step_ms"]) < 0.051, (c, d["measured_step_ms"])
    assert abs(float(c[7].rstrip("%")) - 100 * d["step_time_error"]) < 0.051, c
    lo, hi = (float(x) for x in c[5].split("-"))
    assert lo <= d["predicted_step_p50_ms"] + 0.051 and d["predicted_step_p50_ms"] <= hi + 0.051, c
    assert (c[8] == "yes") == bool(d["measured_in_band"]), c
    assert (c[8] == "yes") == (lo - 0.051 <= d["measured_step_ms"] <= hi + 0.051), c
    busy = max(abs(r["busy_error"]) for r in d["per_rank"])
    assert abs(float(c[9].rstrip("%")) - 100 * busy) < 0.051, c
    assert len(d["per_rank"]) == int(c[3]), c
PY
grep -q '^3 cells: median |step error|' "$OUT/table.md" || fail "summary does not count the 3 cells"
echo "fidelity grid machinery: ok"
