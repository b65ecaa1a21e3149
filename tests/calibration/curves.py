"""The report's training curves (issue 16): SCST's epochs continue after
XE's instead of being drawn over them — for vtag pipeline's two logs of a
model (M-xe.log.jsonl with the XE epochs, M.log.jsonl with SCST's, both
counted from 1), for one log whose SCST epochs restart at 1, and for one
whose epochs already continue (left as they are) — with a line marking where
SCST starts. Reads the report's SVG point titles ("NAME · PHASE: epoch X, Y").
usage: curves.py VTAG WORKDIR"""
import json
import os
import re
import shutil
import subprocess
import sys

VTAG, W = sys.argv[1], sys.argv[2]
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
os.chdir(W)
fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


def write(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


def log(path, phases):
    write(path, [{"epoch": ep, "phase": ph, "loss": 1.0 / (i + 1), "val_cider_d": 0.1 * (i + 1)}
                 for i, (ep, ph) in enumerate(phases)])


write("labels.jsonl", [{"video": "t1", "class1": "G", "class2": "g", "tags": ["a"], "split": "train"},
                       {"video": "v1", "class1": "G", "class2": "g", "tags": ["a"], "split": "test"}])
write("fc.jsonl", [{"video": "v1", "class1": "G", "class2": "g",
                    "tags": [{"label": "G", "frames": 1, "score": 0.9}], "labels": [{"label": "G", "frames": 1, "score": 0.9}]}])
log("fc-xe.log.jsonl", [(1, "xe"), (2, "xe"), (3, "xe")])
log("fc.log.jsonl", [(1, "scst"), (2, "scst")])
log("att.log.jsonl", [(1, "xe"), (2, "xe"), (1, "scst"), (2, "scst")])
log("td.log.jsonl", [(1, "xe"), (2, "xe"), (3, "scst"), (4, "scst")])
p = subprocess.run([VTAG, "eval", "--labels", "labels.jsonl", "--tags", "fc.jsonl", "--report", "r.html",
                    "--sample-videos", "0", "--train-log", "fc-xe.log.jsonl", "--train-log", "fc.log.jsonl",
                    "--train-log", "att.log.jsonl", "--train-log", "td.log.jsonl"],
                   capture_output=True, text=True, timeout=300)
check(p.returncode == 0, "eval --report exits 0 (%d: %s)" % (p.returncode, p.stderr.strip()))
html = open("r.html", encoding="utf-8").read() if p.returncode == 0 else ""
m = re.search(r'<svg id="c-curve-cider".*?</svg>', html, re.S)
svg = m.group(0) if m else ""


def epochs(series):
    return sorted(float(x) for x in re.findall(r"<title>%s: epoch ([0-9.]+)," % re.escape(series), svg))


check(epochs("fc-xe · XE") == [1, 2, 3], "fc-xe: XE epochs 1..3 (%s)" % epochs("fc-xe · XE"))
check(epochs("fc · SCST") == [4, 5], "fc (SCST log of pipeline): epochs 1, 2 drawn at 4, 5 (%s)" % epochs("fc · SCST"))
# within one log the SCST line starts at the last XE point (2), so the two lines join
check(epochs("att · XE") == [1, 2] and epochs("att · SCST") == [2, 3, 4],
      "one log restarting at 1: SCST at 3, 4 (%s)" % epochs("att · SCST"))
check(epochs("td · SCST") == [2, 3, 4], "one log already continuing: left at 3, 4 (%s)" % epochs("td · SCST"))
marks = re.findall(r'<line class="scst-start" x1="([0-9.]+)"', svg)
check(len(marks) == 2, "SCST's start marked once per distinct epoch (3.5 and 2.5): %d lines" % len(marks))
check(svg.count("SCST →") == len(marks), "each mark labelled")
print("%d failed" % len(fails))
sys.exit(1 if fails else 0)
