"""End to end on a small demo corpus: vtag synth → vtag pipeline (built-in
CNN, features, topdown XE + SCST) → vtag tag → vtag eval.

Asserts:
  1. the tags are far better than a frequency-only guesser's (every test
     video gets the training set's most frequent class1, class2 and tags):
     tag OF1 at least 1.5x the guesser's and 0.1 above it, scored by the
     same `vtag eval`;
  2. --top-n N and --min-frames C follow their definitions exactly on the
     real output: tags = the first N labels of the ranking (all of them when
     fewer), and = every label seen in more than C frames; every label's
     frame count equals the number of frames whose tokens hold it, ranked by
     count with ties in order of first appearance; class1 is the most frequent
     first token, class2 the most frequent second token among the frames
     starting with class1;
  3. among good videos one corrupt file (a truncated MP4) and one file that
     is not a video: the good ones are tagged, the bad ones get an error
     line, and the exit code is 1;
  4. a rerun of the pipeline skips every finished stage.

usage: e2e.py VTAG WORKDIR   (stdlib only; run with /usr/bin/python3)
"""
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter

VTAG, WORK = sys.argv[1], sys.argv[2]
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


def run(args, ok=(0,), **kw):
    t = time.time()
    p = subprocess.run([VTAG] + args, capture_output=True, text=True, **kw)
    if p.returncode not in ok:
        print(p.stdout[-3000:])
        print(p.stderr[-3000:])
        raise SystemExit("vtag %s exited %d" % (args[0], p.returncode))
    print("vtag %s: %.1f s" % (args[0], time.time() - t))
    return p


env = dict(os.environ, OMP_WAIT_POLICY="passive")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
corpus, out = os.path.join(WORK, "corpus"), os.path.join(WORK, "run")
labels_path = os.path.join(corpus, "labels.jsonl")
run(["synth", "--out", corpus, "--videos", "200", "--seed", "11", "--quiet"], env=env)
pipe = ["pipeline", "--labels", labels_path, "--out", out, "--model", "topdown", "--sample", "uniform:8",
        "--hidden", "128", "--xe-epochs", "20", "--scst-epochs", "2", "--backbone-epochs", "10", "--threads", "2"]
run(pipe, env=env)

# 4. a rerun skips everything
p = run(pipe, env=env)
check(p.stderr.count("done before, skipped") == 6, "rerun skips the 6 stages:\n" + p.stderr)

labels = [json.loads(l) for l in open(labels_path)]
train = [e for e in labels if e.get("split", "train") == "train"]
test = [e for e in labels if e.get("split") == "test"]
check(len(test) >= 10, "the corpus has test videos")

# 1. tag F1 against a frequency-only guesser, through the same vtag eval
count = Counter()
for e in train:
    count.update(list(dict.fromkeys([e["class1"], e["class2"]] + e["tags"])))
c1 = Counter(e["class1"] for e in train).most_common(1)[0][0]
c2 = Counter(e["class2"] for e in train if e["class1"] == c1).most_common(1)[0][0]
top = [l for l, _ in count.most_common(5)]
guess_path = os.path.join(WORK, "frequency.jsonl")
with open(guess_path, "w") as f:
    for e in test:
        lab = [{"label": l, "frames": 1, "score": 1.0 - 0.1 * i} for i, l in enumerate(top)]
        f.write(json.dumps({"video": e["video"], "class1": c1, "class2": c2, "tags": lab, "labels": lab}) + "\n")

test_paths = [os.path.join(corpus, e["video"]) for e in test]
p = run(["tag", "--from", out] + test_paths, env=env)
tags_path = os.path.join(WORK, "tags.jsonl")
with open(tags_path, "w") as f:
    f.write(p.stdout)
p = run(["eval", "--labels", labels_path, "--tags", "vtag=" + tags_path, "--tags", "frequency=" + guess_path,
         "--json"], env=env)
ev = json.loads(p.stdout)


def of1(name):
    for r in ev["runs"]:
        if r["name"] == name:
            return r["scores"]["OF1"]
    raise KeyError(name)


f_model, f_freq = of1("vtag"), of1("frequency")
print("tag OF1: vtag %.3f, frequency-only guesser %.3f" % (f_model, f_freq))
check(f_model >= 1.5 * f_freq and f_model >= f_freq + 0.1,
      "tag OF1 %.3f well above the frequency guesser's %.3f" % (f_model, f_freq))

# 2. --top-n and --min-frames against their definitions
def ranking(frames):
    k, first = Counter(), {}
    for fr in frames:
        for t in dict.fromkeys(fr["tokens"]):
            k[t] += 1
            first.setdefault(t, len(first))
    return sorted(k, key=lambda t: (-k[t], first[t])), k


def mode(tokens):
    c, first = Counter(tokens), {}
    for i, t in enumerate(tokens):
        first.setdefault(t, i)
    return min(c, key=lambda t: (-c[t], first[t])) if c else None


some = test_paths[:4]
for rule in (["--top-n", "2"], ["--top-n", "50"], ["--min-frames", "3"], ["--min-frames", "0"]):
    p = run(["tag", "--from", out] + rule + some, env=env)
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    check(len(lines) == len(some), "one line per video")
    for o in lines:
        frames = o["frames"]
        F = len(frames)
        order, k = ranking(frames)
        check([l["label"] for l in o["labels"]] == order, "labels ranked by count, ties by first appearance")
        check(all(l["frames"] == k[l["label"]] and abs(l["score"] - k[l["label"]] / F) < 1e-9 for l in o["labels"]),
              "frame counts and scores k/F")
        if rule[0] == "--top-n":
            want = order[: int(rule[1])]
        else:
            want = [t for t in order if k[t] > int(rule[1])]
        check([t["label"] for t in o["tags"]] == want, "%s %s: tags %s, want %s" % (rule[0], rule[1], o["tags"], want))
        firsts = [fr["tokens"][0] for fr in frames if fr["tokens"]]
        check(o["class1"] == mode(firsts), "class1 is the most frequent first token")
        seconds = [fr["tokens"][1] for fr in frames if len(fr["tokens"]) > 1 and fr["tokens"][0] == o["class1"]]
        check(o["class2"] == mode(seconds), "class2 is the most frequent second token after class1")

# 3. a corrupt file and a non-video among good videos
bad = os.path.join(WORK, "truncated.mp4")
data = open(test_paths[0], "rb").read()
open(bad, "wb").write(data[: len(data) // 3])
notvideo = os.path.join(WORK, "notes.mp4")
open(notvideo, "w").write("this is not a video\n")
p = run(["tag", "--from", out, test_paths[1], bad, notvideo, test_paths[2]], ok=(1,), env=env)
lines = [json.loads(l) for l in p.stdout.splitlines()]
check([o["video"] for o in lines] == [test_paths[1], bad, notvideo, test_paths[2]], "a line per video, in order")
check("error" not in lines[0] and "error" not in lines[3] and lines[0]["class1"] and lines[3]["class1"],
      "the good videos are tagged")
check("error" in lines[2] and "notes.mp4" in lines[2]["error"], "the non-video gets an error line naming it")
# A truncated MP4 without its index is an error; if FFmpeg salvages frames it is tagged.
check("error" in lines[1] or lines[1]["frames"], "the truncated file gets an error line or its readable frames")
check("failed" in p.stderr, "stderr says some failed")

print("%d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
