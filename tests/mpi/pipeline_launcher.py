"""vtag pipeline --launcher (issue 20): the heavy stages run under a launcher.
On the tiny corpus of tests/pipeline/common.py, with a launcher that is a
shell wrapper recording its arguments before it execs mpirun -np 2, asserts:
  - the wrapper ran once for each features and training stage (features-train,
    features-val, fc-xe, fc), each time as `-np 2 /abs/path/of/vtag COMMAND ...`,
    and never for the backbone's training;
  - pipeline.json records the launcher as given and micro_batches 2; a rerun
    may change the launcher (recorded again), not the micro-batches;
  - the features files and the checkpoints (--micro-batches 2 in both runs)
    are byte-identical to a pipeline run without a launcher;
  - a launcher that does not exist: exit 1 and one error line, naming it;
  - an unbalanced quote: exit 2, a message naming --launcher, nothing written;
  - SIGKILL to the pipeline alone during a training stage under the launcher
    ends mpirun and both ranks within 15 s (PDEATHSIG's SIGTERM to mpirun,
    which passes it on to its ranks).

usage: pipeline_launcher.py VTAG FFMPEG MPIRUN WORKDIR"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, MPIRUN, WORK = sys.argv[1:5]
VTAG = os.path.realpath(VTAG)
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
labels = common.make_corpus(FFMPEG, WORK)
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


calls = os.path.join(WORK, "calls.txt")
wrapper = os.path.join(WORK, "launch.sh")
with open(wrapper, "w") as f:
    f.write("#!/bin/sh\n"
            "printf '%%s\\n' \"$*\" >> '%s'\n"
            "exec '%s' --allow-run-as-root --oversubscribe --bind-to none --mca btl self,tcp "
            "--mca btl_tcp_if_include lo \"$@\"\n" % (calls, MPIRUN))
os.chmod(wrapper, 0o755)
launcher = "%s -np 2" % wrapper


def pipeline(out, *extra):
    t = time.time()
    p = subprocess.run([VTAG] + common.pipeline_args(labels, out, **{"--micro-batches": "2"}) + list(extra),
                       env=env, capture_output=True, text=True, timeout=240)
    print("  %s: exit %d in %.1f s" % (os.path.basename(out), p.returncode, time.time() - t))
    return p


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


# One process, then the same pipeline under the launcher.
plain = os.path.join(WORK, "plain")
p = pipeline(plain)
check(p.returncode == 0, "the pipeline without a launcher exits 0" + (" (%s)" % p.stderr[-300:] if p.returncode else ""))
launched = os.path.join(WORK, "launched")
p = pipeline(launched, "--launcher", launcher)
check(p.returncode == 0, "the pipeline under the launcher exits 0" + (" (%s)" % p.stderr[-300:] if p.returncode else ""))

lines = open(calls).read().splitlines() if os.path.exists(calls) else []
stages = [(l.split()[3] if len(l.split()) > 3 else "?") for l in lines]
check(len(lines) == 4 and all(l.startswith("-np 2 %s " % VTAG) for l in lines),
      "the wrapper ran 4 times as '-np 2 %s ...': %s" % (VTAG, lines))
check(stages == ["features", "features", "train", "train"] and [("--scst" in l) for l in lines] == [0, 0, 0, 1] and
      "--split train" in lines[0] and "--split val" in lines[1],
      "for features of train and val, then XE and SCST training: %s" % stages)
check("backbone" not in stages, "never for the backbone's training")
check([("--micro-batches 2" in l) for l in lines] == [0, 0, 1, 1], "the training stages get --micro-batches 2")

manifest = json.loads(read(os.path.join(launched, "pipeline.json")) or b"{}")
check(manifest.get("launcher") == launcher, "pipeline.json records the launcher: %r" % manifest.get("launcher"))
check(manifest.get("micro_batches") == 2, "and micro_batches 2: %r" % manifest.get("micro_batches"))
check(json.loads(read(os.path.join(plain, "pipeline.json")) or b"{}").get("launcher", "absent") is None,
      "without a launcher it records null")

for name in ["features-train.safetensors", "features-val.safetensors", "fc-xe.safetensors", "fc.safetensors"]:
    a, b = read(os.path.join(plain, name)), read(os.path.join(launched, name))
    check(a is not None and a == b, "%s: byte-identical with and without the launcher" % name)

# A rerun may change the launcher (results do not depend on it), not the micro-batches.
p = pipeline(plain, "--launcher", launcher)
check(p.returncode == 0 and p.stderr.count("done before, skipped") == 5,
      "a rerun of the plain run under the launcher: every stage done before, exit %d" % p.returncode)
check(json.loads(read(os.path.join(plain, "pipeline.json")) or b"{}").get("launcher") == launcher,
      "and pipeline.json records this run's launcher")
p = subprocess.run([VTAG] + common.pipeline_args(labels, plain, **{"--micro-batches": "4"}), env=env,
                   capture_output=True, text=True, timeout=60)
check(p.returncode == 1 and "was made with another micro_batches" in p.stderr,
      "a rerun with other micro-batches is refused (exit %d: %s)" % (p.returncode, p.stderr.strip()))

# A launcher that does not exist: the first launched stage fails in one line naming it.
p = subprocess.run([VTAG] + common.pipeline_args(labels, os.path.join(WORK, "missing")) +
                   ["--launcher", "vtag-no-such-launcher -np 2"], env=env, capture_output=True, text=True,
                   timeout=240)
errors = [l for l in p.stderr.splitlines() if l.startswith("vtag pipeline:")]
check(p.returncode == 1, "a launcher not found: exit 1 (%d)" % p.returncode)
check(len(errors) == 1 and "vtag-no-such-launcher" in errors[0] and "cannot start the launcher" in errors[0],
      "one error line naming it: %s" % errors)

# An unbalanced quote: a usage error naming the option, before anything is written.
bad = os.path.join(WORK, "bad")
p = subprocess.run([VTAG] + common.pipeline_args(labels, bad) + ["--launcher", "mpirun -np '2"], env=env,
                   capture_output=True, text=True, timeout=60)
check(p.returncode == 2 and "--launcher" in p.stderr and "unbalanced" in p.stderr and not os.path.exists(bad),
      "an unbalanced quote: exit 2 naming --launcher, nothing written (%d, %s)" % (p.returncode, p.stderr.strip()))


# SIGKILL to the pipeline during a long training stage under the launcher.
def ranks(out):
    """(pid, starttime) of the processes running `vtag train ... --out OUT/...`."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            c = common.cmdline(int(d))
            if len(c) > 2 and c[0] == VTAG.encode() and c[1] == b"train" and any(
                    a.startswith(out.encode() + b"/") for a in c):
                st = common.proc_stat(int(d))
                if st:
                    found.append((int(d), st[2]))
    return found


killed = os.path.join(WORK, "killed")
# stderr to a file, not a pipe nobody reads: the epoch lines of 100000 fast epochs would fill a pipe,
# and mpirun, blocked writing to it, could not end when its parent dies.
killed_err = open(os.path.join(WORK, "killed.stderr"), "wb")
p = subprocess.Popen([VTAG] + common.pipeline_args(labels, killed, **{"--xe-epochs": "100000"}) +
                     ["--launcher", launcher], env=env, stdout=subprocess.DEVNULL, stderr=killed_err,
                     start_new_session=True)
try:
    end, job = time.time() + 60, []
    while time.time() < end and len(job) < 2:
        job = ranks(killed)
        time.sleep(0.1)
    check(len(job) == 2, "2 ranks of the training stage run under the launcher: %s" % job)
    launcher_proc = [(c, common.proc_stat(c)[2]) for c in common.children(p.pid) if common.proc_stat(c)]
    time.sleep(1)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    end = time.time() + 15
    while time.time() < end and any(common.alive(*r) for r in job + launcher_proc):
        time.sleep(0.1)
    left = [r[0] for r in job + launcher_proc if common.alive(*r)]
    check(len(launcher_proc) == 1 and not left,
          "mpirun (%s) and its ranks are gone within 15 s of the pipeline's SIGKILL (left: %s)" %
          ([r[0] for r in launcher_proc], left))
finally:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
