"""vtag tag --from DIR tags with the checkpoint that was best on validation
(issue 15): in a run folder whose pipeline.json summary has XE beating SCST,
  1. it uses DIR/<model>-xe.safetensors: its output is byte for byte that of
     --checkpoint DIR/fc-xe.safetensors with the folder's backbone, sampler
     and size, and it still works with the SCST checkpoint made unreadable;
  2. with the summary turned round (SCST ahead) it opens the SCST file, and
     so fails naming it.
The run folder is a real one: vtag pipeline on the pipeline tests' 4 clips.

usage: best_xe.py VTAG FFMPEG WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)
labels = common.make_corpus(FFMPEG, ".")
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def vtag(args):
    return subprocess.run([VTAG] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)


p = vtag(common.pipeline_args(labels, "run"))
if p.returncode != 0:
    raise SystemExit("vtag pipeline exited %d:\n%s" % (p.returncode, p.stderr))
for f in ("fc-xe.safetensors", "fc.safetensors", "backbone.safetensors"):
    check(os.path.isfile(os.path.join("run", f)), "the pipeline wrote run/" + f)


def set_summary(xe, scst):
    with open("run/pipeline.json") as f:
        m = json.load(f)
    m["summary"] = {"fc": {"val_cider_d_scst": scst, "val_cider_d_xe": xe}}
    with open("run/pipeline.json", "w") as f:
        json.dump(m, f, indent=2)
    return m


videos = ["v/%d.mp4" % i for i in range(4)]
m = set_summary(0.9, 0.2)
by_dir = vtag(["tag", "--from", "run"] + videos)
named = ["tag", "--checkpoint", "run/fc-xe.safetensors", "--backbone", "run/backbone.safetensors",
         "--sample", m["sample"]] + (["--size", str(m["size"])] if m.get("size") else []) + videos
by_xe = vtag(named)
check(by_dir.returncode == 0 and by_xe.returncode == 0,
      "both tag runs succeed (%s / %s)" % (by_dir.stderr.strip(), by_xe.stderr.strip()))
check(by_dir.stdout.count("\n") == 4 and by_dir.stdout == by_xe.stdout,
      "--from with XE ahead = --checkpoint fc-xe:\n%s---\n%s" % (by_dir.stdout, by_xe.stdout))

# the SCST file unreadable: --from does not open it while XE is ahead
with open("run/fc.safetensors", "wb") as f:
    f.write(b"not a checkpoint")
again = vtag(["tag", "--from", "run"] + videos)
check(again.returncode == 0 and again.stdout == by_xe.stdout, "XE ahead: the SCST file is never opened (%s)" %
      again.stderr.strip())

set_summary(0.2, 0.9)
scst = vtag(["tag", "--from", "run"] + videos)
check(scst.returncode == 1 and "run/fc.safetensors" in scst.stderr and scst.stdout == "",
      "SCST ahead: the SCST file is opened (exit %d: %s)" % (scst.returncode, scst.stderr.strip()))

if failures:
    raise SystemExit("%d failed" % len(failures))
print("all passed")
