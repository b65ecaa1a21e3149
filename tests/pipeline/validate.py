"""Issue 14, point 11: the pipeline checks every option before its first
stage, with the parsers of the stages that take them, and records in
pipeline.json only settings that a finished stage accepted.
  1. bad values that only a stage refuses (a sampler spec, a size or a seed
     beyond the stage's range) fail at once: non-zero exit, no stage run,
     no run folder created; into an existing run folder, pipeline.json is
     left byte for byte;
  2. a value every parser accepts but the stage fails on at run time
     (--sample fps:0.01: no frame in a 1 s clip) is not a setting of the
     folder: the corrected command is accepted and runs to the end;
  3. a setting a finished stage used is still guarded: changing --size
     after the backbone was trained is refused.

usage: validate.py VTAG FFMPEG WORKDIR"""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

VTAG, FFMPEG, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
labels = common.make_corpus(FFMPEG, WORK)
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(args, timeout=120):
    """Runs vtag in a session of its own; on timeout ends that session (the
    pipeline and its stage) and reports exit code None."""
    t = time.time()
    p = subprocess.Popen([VTAG] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        p.stdout_text, p.stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.stdout_text, p.stderr = p.communicate()
        p.returncode = None
    return p, time.time() - t


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


BAD = [
    {"--sample": "uniform:0"},
    {"--sample": "bogus:3"},
    {"--size": "2000"},  # the pipeline's own range goes to 4096, vtag backbone's to 1024
    {"--seed": "4000000000"},  # the stages take seeds up to 2^31 - 1
]

# 1. a fresh folder: nothing created
for bad in BAD:
    out = os.path.join(WORK, "fresh")
    p, dt = run(common.pipeline_args(labels, out, **{"--backbone-epochs": "100000"}, **bad), timeout=15)
    what = " ".join("%s %s" % kv for kv in bad.items())
    last = (p.stderr.strip().splitlines() or [""])[-1]
    check(p.returncode not in (0, None) and "[1/" not in p.stderr,
          "%s: refused before any stage (exit %s in %.1f s): %s" % (what, p.returncode, dt, last))
    check(not os.path.exists(out), "%s: no run folder created" % what)
    shutil.rmtree(out, ignore_errors=True)

# 2. a stage fails on a value the parsers accept; the corrected command goes through
out = os.path.join(WORK, "run")
p, _ = run(common.pipeline_args(labels, out, **{"--sample": "fps:0.01"}))
check(p.returncode == 1 and "features-train" in p.stderr,
      "--sample fps:0.01 fails in the features stage (exit %s)" % p.returncode)
manifest = os.path.join(out, "pipeline.json")
before = read(manifest)
check(before is not None and b"fps:0.01" not in before,
      "pipeline.json does not record the sample no stage accepted:\n%s" % (before or b"").decode())
for bad in BAD:
    p, dt = run(common.pipeline_args(labels, out, **bad), timeout=15)
    what = " ".join("%s %s" % kv for kv in bad.items())
    check(p.returncode not in (0, None) and "[1/" not in p.stderr and read(manifest) == before,
          "%s into the run folder: refused, pipeline.json unchanged (exit %s in %.1f s)" % (what, p.returncode, dt))
p, _ = run(common.pipeline_args(labels, out))
check(p.returncode == 0, "the corrected command runs to the end (exit %s)\n%s" % (p.returncode, p.stderr[-1500:]))
check(b"uniform:2" in (read(manifest) or b""), "pipeline.json records the sample the features stages used")

# 3. a setting a finished stage used is still guarded
p, _ = run(common.pipeline_args(labels, out, **{"--size": "32"}))
check(p.returncode != 0 and "another size" in p.stderr,
      "--size changed after the backbone stage is refused (exit %s): %s" % (p.returncode, p.stderr.strip()[-300:]))
sys.exit(1 if failures else 0)
