"""Issue 18: vtag pipeline checks every labelled video before its first stage.
The tiny corpus plus a missing video and a corrupt one (bytes that are no
media file), both in the train split:
  1. the pipeline (and its dry run) exits 1 before any stage: both videos
     named on stderr, one line each, a summary line, no stage banner, no
     backbone.safetensors;
  2. with --skip-bad it completes: it says 2 were skipped, writes
     DIR/labels-used.jsonl without them, the features files hold no row of
     them, and vtag tag --from and vtag eval --from (with the labels as given)
     work on the folder.

usage: bad_videos.py VTAG FFMPEG WORKDIR"""
import json
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

VTAG, FFMPEG, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
labels = common.make_corpus(FFMPEG, WORK)
with open(os.path.join(WORK, "v", "corrupt.mp4"), "wb") as f:
    f.write(bytes((i * 37 + 11) % 251 for i in range(8192)))
with open(labels, "a") as f:
    f.write('{"video": "v/missing.mp4", "class1": "a", "class2": "x", "tags": ["red"], "split": "train"}\n')
    f.write('{"video": "v/corrupt.mp4", "class1": "b", "class2": "y", "tags": ["blue"], "split": "train"}\n')
env = dict(os.environ, OMP_WAIT_POLICY="passive", TMPDIR=WORK)
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(args, timeout=200):
    return subprocess.run([VTAG] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def items(path):
    """vtag.items of a features file (safetensors: 8-byte header length, JSON header)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(json.loads(f.read(n))["__metadata__"]["vtag.items"])


out = os.path.join(WORK, "run")
# 1. refused before any stage, both named
for extra in ([], ["--dry-run"]):
    p = run(common.pipeline_args(labels, out) + extra)
    what = "pipeline %s" % " ".join(extra)
    print(p.stderr)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 1, "%s: exit %d" % (what, p.returncode))
    check(sum("missing.mp4" in l for l in lines) == 1 and sum("corrupt.mp4" in l for l in lines) == 1,
          "%s: each bad video named on a line of its own" % what)
    check(any("2 of 6" in l for l in lines), "%s: a summary line (2 of 6)" % what)
    check("[1/" not in p.stderr and "timing" not in p.stderr, "%s: no stage ran" % what)
    check(not os.path.exists(os.path.join(out, "backbone.safetensors")), "%s: no backbone.safetensors" % what)

# 2. --skip-bad: the run completes without them
p = run(common.pipeline_args(labels, out) + ["--skip-bad"])
print(p.stderr)
check(p.returncode == 0, "--skip-bad: exit %d" % p.returncode)
check("skipping 2 bad videos" in p.stderr, "--skip-bad says 2 were skipped")
check(os.path.exists(os.path.join(out, "fc.safetensors")), "--skip-bad: the model trained")
with open(os.path.join(out, "labels-used.jsonl")) as f:
    used = [json.loads(l)["video"] for l in f if l.strip()]
check(len(used) == 4 and not any("missing" in v or "corrupt" in v for v in used),
      "labels-used.jsonl: the 4 good videos (%s)" % used)
train_items = items(os.path.join(out, "features-train.safetensors"))
check(set(train_items) == {"v/0.mp4", "v/1.mp4", "v/2.mp4"}, "features-train: the good videos as labelled (%s)"
      % sorted(set(train_items)))
t = run(["tag", "--from", out, os.path.join(WORK, "v", "3.mp4")])
check(t.returncode == 0 and '"video"' in t.stdout, "vtag tag --from: exit %d %s" % (t.returncode, t.stderr[-200:]))
e = run(["eval", "--from", out, "--labels", labels, "--split", "val"])
check(e.returncode == 0, "vtag eval --from --labels (as given): exit %d %s" % (e.returncode, e.stderr[-300:]))
# a rerun with --skip-bad: every stage done before
p = run(common.pipeline_args(labels, out) + ["--skip-bad"])
check(p.returncode == 0 and p.stderr.count("done before, skipped") == 5, "rerun with --skip-bad: every stage skipped")

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
