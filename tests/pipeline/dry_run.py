"""Issue 18, vtag pipeline --dry-run, on the tiny corpus:
  1. the dry run exits 0 and prints every stage (backbone, features-train,
     features-val, fc-xe, fc) with a duration in seconds, and a total; it
     writes nothing: no run folder, nothing left in its temporary folder
     ($TMPDIR);
  2. the real run's stage times (pipeline.json) are close to the estimates:
     each within a factor of 3 or 1.5 s of it (a tiny run's stages take a
     fraction of a second, and the machine is loaded), the total within a
     factor of 3;
  3. a dry run of the finished folder prints every stage "done before" and a
     total of 0.

usage: dry_run.py VTAG FFMPEG WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

VTAG, FFMPEG, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
labels = common.make_corpus(FFMPEG, WORK)
tmp = os.path.join(WORK, "tmp")
os.makedirs(tmp)
env = dict(os.environ, OMP_WAIT_POLICY="passive", TMPDIR=tmp)
failures = []
STAGES = ["backbone", "features-train", "features-val", "fc-xe", "fc"]


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(args, timeout=200):
    return subprocess.run([VTAG] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def estimates(stdout):
    """{stage: seconds or None for "done before"} and the total from the dry run's table."""
    est, total = {}, None
    for line in stdout.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "total":
            total = float(words[1])
        elif words[0] in STAGES:
            est[words[0]] = None if line.rstrip().endswith("done before") else float(words[-2])
    return est, total


out = os.path.join(WORK, "run")
# 1. the dry run
p = run(common.pipeline_args(labels, out) + ["--dry-run"])
print(p.stdout + p.stderr)
check(p.returncode == 0, "dry run: exit %d" % p.returncode)
est, total = estimates(p.stdout)
# a stage shorter than 0.05 s prints as 0.0 s on a fast machine: a duration, not "done before"
check(sorted(est) == sorted(STAGES) and all(v is not None and v >= 0 for v in est.values())
      and sum(est.values()) > 0, "dry run: every stage with a duration: %s" % est)
check(total is not None and abs(total - sum(est.values())) < 0.2 * len(est), "dry run: total %s" % total)
check(not os.path.exists(out), "dry run: no run folder")
check(os.listdir(tmp) == [], "dry run: its temporary folder removed (%s)" % os.listdir(tmp))

# 2. the real run against the estimates
p = run(common.pipeline_args(labels, out))
check(p.returncode == 0, "real run: exit %d %s" % (p.returncode, p.stderr[-300:]))
with open(os.path.join(out, "pipeline.json")) as f:
    measured = json.load(f)["stages"]
for s in STAGES:
    m, e = measured.get(s, 0), est.get(s) or 0
    close = (e <= 3 * m and m <= 3 * e) or abs(e - m) < 1.5
    check(close, "%s: estimate %.2f s, measured %.2f s" % (s, e, m))
mt = sum(measured.values())
check(total is not None and ((total <= 3 * mt and mt <= 3 * total) or abs(total - mt) < 1.5),
      "total: estimate %.2f s, measured %.2f s" % (total, mt))

# 3. the finished folder: nothing left to do
before = sorted(os.listdir(out))
p = run(common.pipeline_args(labels, out) + ["--dry-run"])
est, total = estimates(p.stdout)
check(p.returncode == 0 and sorted(est) == sorted(STAGES) and all(v is None for v in est.values()),
      "dry run of the finished folder: every stage done before: %s" % est)
check(total == 0, "dry run of the finished folder: total %s" % total)
check(sorted(os.listdir(out)) == before, "dry run of the finished folder: nothing written")

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
