"""vtag eval's calibration from the command line (issue 16): the table's ECE
and P@0.9 columns, the line under the table per run, --high-score, the JSON
fields (ece, reliability, high_score, high_n, high_right), and exit 1 with
one line naming the files, nothing written, when a tags file holds none of
the split's videos or the split has no video.
usage: cli.py VTAG WORKDIR"""
import json
import os
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


def run(*args):
    p = subprocess.run([VTAG, "eval"] + list(args), capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def write(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def lab(video, c1, c2, tags, split):
    return {"video": video, "class1": c1, "class2": c2, "tags": tags, "split": split}


# training labels: G g1 a S s1 c (6); 2 test videos -> 12 label-video pairs
write("labels.jsonl", [lab("t1", "G", "g1", ["a"], "train"), lab("t2", "S", "s1", ["c"], "train"),
                       lab("v1", "G", "g1", ["a"], "test"), lab("v2", "S", "s1", ["c"], "test")])


def tag(video, labels):
    ls = [{"label": l, "frames": 1, "score": s} for l, s in labels]
    return {"video": video, "class1": labels[0][0], "class2": labels[1][0], "tags": ls[:2], "labels": ls}


# v1: G .95 right, g1 .92 right, S .91 wrong; v2: S .6 right, G .3 wrong
write("fc.jsonl", [tag("v1", [("G", 0.95), ("g1", 0.92), ("S", 0.91)]), tag("v2", [("S", 0.6), ("G", 0.3)])])
rc, out, err = run("--labels", "labels.jsonl", "--tags", "fc.jsonl")
check(rc == 0, "eval exits 0 (%d: %s)" % (rc, err.strip()))
head = [l for l in out.splitlines() if l.startswith("run ")]
check(bool(head) and "ECE" in head[0] and "P@0.9" in head[0], "table has ECE and P@0.9 columns")
row = [l for l in out.splitlines() if l.startswith("fc ")]
check(bool(row) and "0.67/3" in row[0], "fc row shows P@0.9 as fraction/count: %s" % row)
line = "fc: labels scored >= 0.90 are right 66.7% of the time (3 of 12 label-video pairs); ECE "
check(line in out, "calibration line under the table")
check("; unknown 0 of 2 videos" in out, "the line counts the unknown videos")
# a run that calls v2 "unknown" (no tags): counted in the line and the JSON
un = tag("v2", [("S", 0.2), ("G", 0.1)])
un.update({"unknown": True, "tags": []})
write("unk.jsonl", [tag("v1", [("G", 0.95), ("g1", 0.92), ("S", 0.91)]), un])
rc, out, err = run("--labels", "labels.jsonl", "--tags", "unk.jsonl")
check(rc == 0 and "unk: labels scored >= 0.90" in out and "; unknown 1 of 2 videos" in out, "unknown 1 of 2: " + out[-300:])
rc, out, err = run("--labels", "labels.jsonl", "--tags", "unk.jsonl", "--json")
check(rc == 0 and json.loads(out)["runs"][0]["scores"]["unknown"] == 1, "JSON unknown 1")
rc, out, err = run("--labels", "labels.jsonl", "--tags", "fc.jsonl", "--high-score", "0.92")
check(rc == 0 and "fc: labels scored >= 0.92 are right 100.0% of the time (2 of 12" in out, "--high-score 0.92")
rc, out, err = run("--labels", "labels.jsonl", "--tags", "fc.jsonl", "--high-score", "0.915")
check(rc == 0 and "fc: labels scored >= 0.915 are right 100.0% of the time (2 of 12" in out and "P@0.915" in out,
      "--high-score 0.915 printed as given")
rc, out, err = run("--labels", "labels.jsonl", "--tags", "fc.jsonl", "--high-score", "1.5")
check(rc == 2 and "--high-score" in err, "--high-score 1.5 is a usage error (%d)" % rc)
rc, out, err = run("--labels", "labels.jsonl", "--tags", "fc.jsonl", "--json")
check(rc == 0, "--json exits 0")
d = json.loads(out) if rc == 0 else {}
s = d.get("runs", [{}])[0].get("scores", {})
check(d.get("high_score") == 0.9, "JSON high_score")
check(s.get("high_n") == 3 and abs(s.get("high_right", 0) - 2 / 3) < 1e-9, "JSON high_n, high_right")
rel = s.get("reliability", [])
check(len(rel) == 10 and sum(b["n"] for b in rel) == 12 and rel[9]["n"] == 3 and rel[2]["score"] is None,
      "JSON reliability: 10 bins, 12 pairs, empty bin null")
# ECE recomputed from the bins themselves
ece = sum(b["n"] / 12 * abs(b["right"] - b["score"]) for b in rel if b["n"])
check(abs(s.get("ece", -1) - ece) < 1e-9, "JSON ece is the bins' weighted gap")

# a tags file with none of the test videos: exit 1, one line naming both files, no report
write("other.jsonl", [tag("t1", [("G", 0.9), ("g1", 0.5)]), tag("x", [("G", 0.9), ("g1", 0.5)]),
                      tag("y", [("G", 0.9), ("g1", 0.5)])])
rc, out, err = run("--labels", "labels.jsonl", "--tags", "other.jsonl", "--report", "r.html")
check(rc == 1 and err.strip().endswith("none of the 3 videos in other.jsonl is a test video of labels.jsonl")
      and len(err.strip().splitlines()) == 1, "no labelled video: exit 1, one line (%d: %s)" % (rc, err.strip()))
check(out == "" and not os.path.exists("r.html"), "nothing written")
# the same beside a good run
rc, out, err = run("--labels", "labels.jsonl", "--tags", "fc.jsonl", "--tags", "other.jsonl")
check(rc == 1 and "other.jsonl" in err and out == "", "one run without labelled videos fails the whole eval")
# the baseline file is named too
write("base.jsonl", [{"video": "zz", "labels": [{"label": "G", "score": 0.7}], "frames": 1}])
rc, out, err = run("--labels", "labels.jsonl", "--baseline", "base.jsonl")
check(rc == 1 and "none of the 1 videos in base.jsonl is a test video of labels.jsonl" in err,
      "baseline without labelled videos (%d: %s)" % (rc, err.strip()))
# an empty tags file
open("empty.jsonl", "w").close()
rc, out, err = run("--labels", "labels.jsonl", "--tags", "empty.jsonl")
check(rc == 1 and err.strip().endswith("eval: empty.jsonl holds no video (2 test videos in labels.jsonl)") and out == "",
      "empty tags file: exit 1 (%d: %s)" % (rc, err.strip()))
# a split with no video
rc, out, err = run("--labels", "labels.jsonl", "--tags", "fc.jsonl", "--split", "val")
check(rc == 1 and "labels.jsonl: no val video to evaluate" in err and out == "",
      "split without videos: exit 1 (%d: %s)" % (rc, err.strip()))
print("%d failed" % len(fails))
sys.exit(1 if fails else 0)
