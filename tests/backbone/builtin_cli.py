#!/usr/bin/python3
"""vtag backbone train / predict and vtag features from the command line, on a small synth corpus:
the loss falls and the validation mAP beats chance clearly; the same seed gives the same file;
--resume after 2 of 3 epochs ends bit-identical to 3 straight epochs; predict's JSON lines; the
features file has one row per sampled frame with the labels' ids and vtag train reads it; bad input
(missing video, broken labels line, wrong backbone file) is one clear error line, exit 1, nothing
written; --skip-bad leaves the bad video out.
usage: builtin_cli.py VTAG WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
import safetensors_io  # noqa: E402

VTAG, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def run(*args, want=0):
    p = subprocess.run([VTAG] + [str(a) for a in args], capture_output=True, text=True)
    if p.returncode != want:
        print("exit %d (wanted %d): vtag %s\n%s" % (p.returncode, want, " ".join(map(str, args)), p.stderr[-3000:]),
              file=sys.stderr)
    check(p.returncode == want, "exit code of vtag %s" % " ".join(map(str, args)))
    return p


def epochs_of(stderr):
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{\"epoch\"")]


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
corpus = os.path.join(WORK, "corpus")
run("synth", "--out", corpus, "--videos", 48, "--seed", 7, "--quiet", "--threads", 2)
labels = os.path.join(corpus, "labels.jsonl")
entries = [json.loads(line) for line in open(labels)]
TRAIN = ["--labels", labels, "--size", 32, "--widths", "8,16,32", "--sample", "uniform:4", "--batch", 16,
         "--threads", 2, "--lr", 0.005]

# ---- training learns: loss falls, val mAP above chance ----
b1 = os.path.join(WORK, "b1.safetensors")
p = run("backbone", "train", *TRAIN, "--epochs", 8, "--seed", 3, "--out", b1)
ep = epochs_of(p.stderr)
check(len(ep) == 8, "8 epoch lines")
if len(ep) == 8:
    check(ep[-1]["loss"] < 0.6 * ep[0]["loss"], "loss falls: %.4f -> %.4f" % (ep[0]["loss"], ep[-1]["loss"]))
    vocab = set()
    for e in entries:
        if e.get("split", "train") == "train":
            vocab |= {e["class1"], e["class2"], *e["tags"]}
    val = [e for e in entries if e.get("split") == "val"]
    # chance: a random ranking's AP of a label is its prevalence among the val videos
    prev = []
    for lab in vocab:
        pos = sum(lab in (e["class1"], e["class2"], *e["tags"]) for e in val)
        if pos:
            prev.append(pos / len(val))
    chance = sum(prev) / len(prev)
    best = max(e["val_map"] for e in ep)
    print("builtin_cli: loss %.4f -> %.4f, best val mAP %.3f, chance %.3f (%d val videos)" %
          (ep[0]["loss"], ep[-1]["loss"], best, chance, len(val)))
    check(best > chance + 0.15, "val mAP %.3f beats chance %.3f by 0.15" % (best, chance))
    check(all(e["frames_per_s"] > 0 for e in ep), "frames_per_s")

# ---- reproducible and resumable ----
r1, r2, r3 = (os.path.join(WORK, n) for n in ("r1.safetensors", "r2.safetensors", "r3.safetensors"))
run("backbone", "train", *TRAIN, "--epochs", 3, "--seed", 5, "--out", r1)
run("backbone", "train", *TRAIN, "--epochs", 3, "--seed", 5, "--out", r2)
check(open(r1, "rb").read() == open(r2, "rb").read(), "same seed, same backbone file")
check(open(r1.replace(".safetensors", ".state.safetensors"), "rb").read() ==
      open(r2.replace(".safetensors", ".state.safetensors"), "rb").read(), "same seed, same state")
# killed (SIGKILL) once the second epoch's line is out, then resumed
proc = subprocess.Popen([VTAG, "backbone", "train"] + [str(a) for a in TRAIN] + ["--epochs", "3", "--seed", "5", "--out", r3],
                        stderr=subprocess.PIPE, text=True)
seen = 0
for line in proc.stderr:
    seen += line.startswith("{\"epoch\"")
    if seen == 2:
        proc.kill()
        break
proc.wait()
check(seen == 2, "killed after epoch 2")
p = run("backbone", "train", *TRAIN, "--epochs", 3, "--seed", 5, "--out", r3, "--resume")
check("resuming" in p.stderr and len(epochs_of(p.stderr)) == 1, "resume runs the one missing epoch")
check(open(r1.replace(".safetensors", ".state.safetensors"), "rb").read() ==
      open(r3.replace(".safetensors", ".state.safetensors"), "rb").read(), "2 + 1 resumed epochs == 3 epochs")

# ---- predict ----
vids = [os.path.join(corpus, e["video"]) for e in entries[:2]]
missing = os.path.join(corpus, "videos", "nope.mp4")
p = run("backbone", "predict", "--backbone", b1, "--sample", "uniform:3", "--top", 2, vids[0], missing, vids[1], want=1)
lines = [json.loads(line) for line in p.stdout.splitlines()]
check(len(lines) == 3, "one line per video")
if len(lines) == 3:
    ok = lines[0]
    check(list(ok) == ["video", "labels", "frames"] and ok["video"] == vids[0], "keys video, labels, frames")
    scores = [x["score"] for x in ok["labels"]]
    check(len(ok["labels"]) == len(vocab) and scores == sorted(scores, reverse=True), "every label, descending")
    check(len(ok["frames"]) == 3 and all(len(f["labels"]) == 2 and "pts_seconds" in f for f in ok["frames"]),
          "3 frames with top 2")
    check(lines[1]["video"] == missing and "error" in lines[1] and "nope.mp4" in lines[1]["error"], "error line")
    check(lines[2]["video"] == vids[1], "goes on after a failure")
    # the video's score is the mean of its frames' scores (frames show only their top 2)
    check(all(0 <= s <= 1 for s in scores), "scores are probabilities")

# ---- features → vtag train ----
feats = os.path.join(WORK, "train_feats.safetensors")
p = run("features", "--backbone", b1, "--labels", labels, "--split", "train", "--sample", "uniform:5", "--batch", 4,
        "--out", feats)
train_videos = [e["video"] for e in entries if e.get("split", "train") == "train"]
t, meta = safetensors_io.load(feats)
items = json.loads(meta["vtag.items"])
check(t["fc"].shape == [5 * len(train_videos), 32], "fc rows %s" % t["fc"].shape)
check(t["att"].shape == [5 * len(train_videos), 16, 32], "att [N, K, D] %s" % t["att"].shape)  # 32 px → 4×4
check(items == [v for v in train_videos for _ in range(5)], "vtag.items = each video's id, once per frame")
check(json.loads(meta["vtag.backbone"])["kind"] == "builtin", "vtag.backbone")
model = os.path.join(WORK, "fc.safetensors")
run("train", "--labels", labels, "--feats", feats, "--model", "fc", "--out", model, "--epochs", 1,
    "--input-encoding-size", 16, "--rnn-size", 16, "--att-hid-size", 8, "--batch", 20, "--threads", 2)
check(os.path.exists(model), "vtag train read the features")

# ---- bad input ----
bad = os.path.join(WORK, "bad.jsonl")
with open(bad, "w") as f:
    for e in entries[:3]:
        f.write(json.dumps(dict(e, video=os.path.join(corpus, e["video"]), split="train")) + "\n")
    f.write(json.dumps(dict(entries[3], video="videos/missing.mp4", split="train")) + "\n")
out = os.path.join(WORK, "never.safetensors")
p = run("features", "--backbone", b1, "--labels", bad, "--sample", "uniform:2", "--out", out, want=1)
check(not os.path.exists(out), "features: nothing written")
err = p.stderr.strip().splitlines()
check(len(err) == 1 and "missing.mp4" in err[0] and "bad.jsonl:4" in err[0], "features: one line naming the video "
      "and the labels line: %r" % err)
p = run("features", "--backbone", b1, "--labels", bad, "--sample", "uniform:2", "--out", out, "--skip-bad", "--quiet")
t, meta = safetensors_io.load(out)
check(t["fc"].shape[0] == 6 and "missing" not in meta["vtag.items"], "--skip-bad leaves the video out")
check("missing.mp4" in p.stderr, "--skip-bad reports it")
p = run("backbone", "train", "--labels", bad, "--out", out + "2", "--epochs", 1, "--size", 32, want=1)
check(not os.path.exists(out + "2") and "missing.mp4" in p.stderr, "train: missing video, nothing written")
broken = os.path.join(WORK, "broken.jsonl")
with open(broken, "w") as f:
    f.write(json.dumps(entries[0]) + "\n{\"video\": \"x.mp4\", \"class1\": \n")
p = run("backbone", "train", "--labels", broken, "--out", out + "3", want=1)
check("broken.jsonl:2" in p.stderr and len(p.stderr.strip().splitlines()) == 1, "labels error names file:line")
p = run("features", "--backbone", labels, "--labels", labels, "--out", out + "4", want=1)
check(not os.path.exists(out + "4") and "labels.jsonl" in p.stderr, "a backbone that is not one: clear error")
run("backbone", "train", "--labels", labels, want=2)
run("backbone", "frobnicate", want=2)
run("features", "--labels", labels, "--out", out, want=2)
check("--sample SPEC" in run("features", "--help").stdout, "features --help")
check("predict" in run("backbone", "--help").stdout, "backbone --help")

print("builtin_cli: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
