#!/usr/bin/env bash
# Browser test of the HTML report: renders a report with `pipekit viz`, loads it
# in headless Chromium and fails if the page's script did not finish (no
# body[data-ready="1"] / #pipekit-ready) or reported an error into
# #pipekit-errors, or Chromium logged an uncaught exception. A second page with
# a deliberate error must be caught, proving the check can fail.
#
# Usage: browser_check.sh PIPEKIT_BINARY OUTPUT_DIR
# Needs Chromium; without it the test FAILS (CI installs it: apt-get install -y chromium).
set -u
pipekit=${1:?usage: browser_check.sh PIPEKIT_BINARY OUTPUT_DIR}
out=${2:?usage: browser_check.sh PIPEKIT_BINARY OUTPUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "viz_browser_check: FAIL: $*" >&2; exit 1; }

browser=""
for c in chromium chromium-browser google-chrome-stable google-chrome; do
  if command -v "$c" >/dev/null 2>&1; then browser=$(command -v "$c"); break; fi
done
[ -n "$browser" ] || fail "no Chromium found. Install it with: apt-get install -y chromium (the CI install step does this)"

mkdir -p "$out" || fail "cannot create $out"
rm -f "$out"/*.html "$out"/*.log "$out"/*.png

fixture="$here/data/small_timeline.json"
"$pipekit" viz "$fixture" "$fixture" --html "$out/report.html" --title "browser check" >"$out/viz.log" 2>&1 \
  || fail "pipekit viz failed: $(cat "$out/viz.log")"

# load PAGE DOM_OUT LOG_OUT: dumps the DOM after scripts ran.
load() {
  local profile
  profile=$(mktemp -d)
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-extensions \
    --user-data-dir="$profile" --enable-logging=stderr --v=0 --dump-dom "file://$1" >"$2" 2>"$3"
  local rc=$?
  rm -rf "$profile"
  return $rc
}

# check DOM LOG: 0 when the page ran its script without errors.
check() {
  grep -q 'data-ready="1"' "$1" || { echo "script did not finish (no body data-ready)"; return 1; }
  grep -q 'id="pipekit-ready"' "$1" || { echo "no #pipekit-ready marker"; return 1; }
  grep -q '<pre id="pipekit-errors" hidden=""></pre>' "$1" || {
    echo "script errors: $(grep -o '<pre id="pipekit-errors"[^<]*' "$1")"; return 1; }
  if grep -E 'Uncaught|CONSOLE.*Error' "$2" >/dev/null; then
    echo "console errors: $(grep -E 'Uncaught|CONSOLE.*Error' "$2" | head -3)"; return 1
  fi
  return 0
}

load "$out/report.html" "$out/report.dom.html" "$out/report.chromium.log" \
  || fail "Chromium could not load the report (log: $out/report.chromium.log)"
msg=$(check "$out/report.dom.html" "$out/report.chromium.log") || fail "report.html: $msg"
grep -q '<svg' "$out/report.dom.html" || fail "report has no inline SVG after loading"

# Hovering a box fills the tooltip from its data-* attributes.
hover='<script>(function(){var b=document.querySelector("rect.ev-compute");'
hover+='var r=b.getBoundingClientRect();b.dispatchEvent(new MouseEvent("mousemove",{bubbles:true,clientX:r.left+1,clientY:r.top+1}));'
hover+='var t=document.getElementById("pk-tip");var o=document.createElement("pre");o.id="hover-result";'
hover+='o.textContent=t.style.display+"|"+t.textContent;document.body.appendChild(o);})();</script>'
awk -v s="$hover" '{ if (index($0, "</body>")) sub("</body>", s "</body>"); print }' "$out/report.html" >"$out/hover.html"
load "$out/hover.html" "$out/hover.dom.html" "$out/hover.chromium.log" || fail "Chromium could not load hover.html"
msg=$(check "$out/hover.dom.html" "$out/hover.chromium.log") || fail "hover.html: $msg"
grep -q "<pre id=\"hover-result\">block|action: 0F0" "$out/hover.dom.html" \
  || fail "hovering a box did not show its details: $(grep -o '<pre id="hover-result">[^<]*' "$out/hover.dom.html")"

# The check must notice a page whose script throws.
sed 's#</body>#<script>null.boom();</script></body>#' "$out/report.html" >"$out/broken.html"
load "$out/broken.html" "$out/broken.dom.html" "$out/broken.chromium.log" || fail "Chromium could not load broken.html"
if check "$out/broken.dom.html" "$out/broken.chromium.log" >/dev/null; then
  fail "a page with a script error passed the check; the check is broken"
fi
grep -q 'script error' "$out/broken.dom.html" || fail "window.onerror did not write the error into #pipekit-errors"

echo "viz_browser_check: OK: report loads in $(basename "$browser") with no script errors ($out/report.html)"
