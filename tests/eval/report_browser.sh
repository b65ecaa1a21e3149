#!/bin/bash
# The HTML report in headless Chromium: a small rendered corpus, simulated
# runs (make_runs.py), `vtag eval --report`, then Chromium's DOM dump and a
# screenshot. Asserts: no console message and no script error (a hook in the
# page counts them into data-js-errors; a page with a planted error must be
# caught), every table and chart is on the page with content, the sample
# frames are embedded PNGs, and the screenshot is not blank.
# usage: report_browser.sh VTAG WORKDIR     (runs as root in CI: --no-sandbox)
set -euo pipefail
VTAG=$1
W=$2
HERE=$(cd "$(dirname "$0")" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PY=/usr/bin/python3
if [ ! -x "$CHROMIUM" ]; then
  echo "FAIL: $CHROMIUM not installed (make deps installs Debian's chromium)"
  exit 1
fi
rm -rf "$W" && mkdir -p "$W"
"$VTAG" synth --out "$W/corpus" --videos 16 --seed 3 --quiet
$PY "$HERE/make_runs.py" "$W/corpus/labels.jsonl" "$W/runs" --seed 3
"$VTAG" eval --labels "$W/corpus/labels.jsonl" --tags "fc-xe=$W/runs/fc-xe.jsonl" --tags "fc=$W/runs/fc.jsonl" \
  --tags "att2in=$W/runs/att2in.jsonl" --baseline "$W/runs/baseline.jsonl" \
  --train-log "$W/runs/fc.log.jsonl" --train-log "$W/runs/att2in.log.jsonl" \
  --report "$W/report.html" --title "vtag report test" --json > "$W/eval.json"
test -s "$W/report.html"
ls "$W"/report.html.tmp.* 2>/dev/null && { echo "FAIL: temporary file left behind"; exit 1; }

chrome() { # chrome OUT_STDOUT ERR ARGS...
  local out=$1 err=$2
  shift 2
  timeout 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions \
    --user-data-dir="$W/profile" --enable-logging=stderr --v=0 --hide-scrollbars "$@" >"$out" 2>"$err"
}

# The hook's verdict is written by the page's last script: plant the error before it.
$PY - "$W/report.html" "$W/broken.html" <<'PYEOF'
import sys
src = open(sys.argv[1], encoding="utf-8").read()
i = src.rindex("<script>(function(){var d=document.getElementById('js-errors')")
open(sys.argv[2], "w", encoding="utf-8").write(src[:i] + "<script>window.notDefinedAnywhere();</script>" + src[i:])
PYEOF
chrome "$W/dom.html" "$W/dom.err" --dump-dom "file://$W/report.html"
chrome "$W/broken_dom.html" "$W/broken.err" --dump-dom "file://$W/broken.html"
chrome /dev/null "$W/shot.err" --screenshot="$W/shot.png" --window-size=1280,2400 "file://$W/report.html"

$PY - "$W" <<'PYEOF'
import json, re, struct, sys, zlib
W = sys.argv[1]
fails = []
def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)

def console_lines(path):
    # Chromium prints page console messages and uncaught exceptions as CONSOLE lines;
    # GPU, dbus and sandbox warnings are other lines and do not count.
    return [l for l in open(path, errors="replace") if "CONSOLE" in l or "Uncaught" in l]

ev = json.load(open(W + "/eval.json"))
check([r["name"] for r in ev["runs"]] == ["fc-xe", "fc", "att2in", "baseline"], "--json lists the four runs")

dom = open(W + "/dom.html", encoding="utf-8").read()
check(console_lines(W + "/dom.err") == [], "no console message: %s" % console_lines(W + "/dom.err")[:3])
check('data-js-ok="1"' in dom, "the page's script ran to its end")
check('data-js-errors="0"' in dom, "no script error caught by the page's hook")
for tid in ["t-overall", "t-calibration", "t-scst", "t-headtail", "t-classes", "t-tags", "t-videos"]:
    m = re.search(r'<table id="%s"[^>]*>.*?<tbody>(.*?)</tbody>' % tid, dom, re.S)
    rows = len(re.findall(r"<tr", m.group(1))) if m else 0
    check(rows >= 1, "table #%s has rows (%d)" % (tid, rows))
videos = len(re.findall(r"<tr", re.search(r'<table id="t-videos".*?<tbody>(.*?)</tbody>', dom, re.S).group(1)))
check(videos == ev["videos"], "one row per evaluated video (%d)" % videos)
for cid, shape in [("c-runs", "rect"), ("c-cider", "rect"), ("c-scst-cider", "rect"), ("c-classes", "rect"),
                   ("c-curve-cider", "polyline"), ("c-curve-loss", "polyline")]:
    m = re.search(r'<svg id="%s".*?</svg>' % cid, dom, re.S)
    n = len(re.findall("<" + shape, m.group(0))) if m else 0
    check(n >= 2, "chart #%s drawn (%d %s)" % (cid, n, shape))
# issue 16: the reliability chart (bins as sized points, the diagonal, the histogram, ECE in the legend),
# the per-tag table (one row per training label) and SCST's start marked on the training curves
m = re.search(r'<svg id="c-reliability".*?</svg>', dom, re.S)
rel = m.group(0) if m else ""
check(len(re.findall(r'<circle class="rb"', rel)) >= 4 and 'class="diag"' in rel and
      len(re.findall(r'<rect class="rh"', rel)) == 10 * len(ev["runs"]) and rel.count("(ECE 0.") == len(ev["runs"]),
      "reliability chart: points, diagonal, histogram, ECE per run")
m = re.search(r'<table id="t-tags"[^>]*>.*?<tbody>(.*?)</tbody>', dom, re.S)
check(m is not None and len(re.findall(r"<tr", m.group(1))) >= 4, "per-tag table has a row per label")
check(all(("%s P" % r["name"]) in dom and ("%s F1" % r["name"]) in dom for r in ev["runs"]), "per-tag table: P, F1 per run")
m = re.search(r'<svg id="c-curve-cider".*?</svg>', dom, re.S)
check(m is not None and 'class="scst-start"' in m.group(0), "training curves mark where SCST starts")
imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', dom)
check(len(imgs) >= 4, "sample frames embedded as PNG (%d)" % len(imgs))
import base64
check(all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in imgs), "embedded frames are PNG files")
check(not re.search(r'(src|href)="(https?:)?//', dom), "no external resource")

bdom = open(W + "/broken_dom.html", encoding="utf-8").read()
check('data-js-errors="1"' in bdom, "a planted script error is caught by the hook")
check(len(console_lines(W + "/broken.err")) >= 1, "a planted script error shows as a CONSOLE line")

def png_pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows

w, h, bpp, rows = png_pixels(W + "/shot.png")
lum = [sum(r[x:x + 3]) / 3 for r in rows[::8] for x in range(0, w * bpp, 8 * bpp)]
mean = sum(lum) / len(lum)
var = sum((v - mean) ** 2 for v in lum) / len(lum)
colours = {r[x:x + 3] for r in rows[::4] for x in range(0, w * bpp, 4 * bpp)}
blue = sum(1 for r in rows[::2] for x in range(0, w * bpp, 2 * bpp) if abs(r[x] - 0x4e) < 12 and abs(r[x + 1] - 0x79) < 12 and abs(r[x + 2] - 0xa7) < 12)
check((w, h) == (1280, 2400), "screenshot size %dx%d" % (w, h))
check(var > 100, "screenshot is not blank (luminance variance %.0f)" % var)
check(len(colours) > 200, "screenshot has many colours (%d)" % len(colours))
check(blue > 100, "the charts' first colour is on screen (%d samples)" % blue)
print("%d checks failed" % len(fails))
sys.exit(1 if fails else 0)
PYEOF
