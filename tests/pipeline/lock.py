"""Issue 14, point 6: one pipeline per run folder. While a pipeline runs (its
backbone stage would take an hour), a second one on the same folder is
refused at once with "RUN is in use by another vtag pipeline (pid N)",
starts no stage and leaves pipeline.json as it was. Once the first is
SIGKILLed (its PID only) the kernel releases the lock: a third run on the
folder goes through.

usage: lock.py VTAG FFMPEG WORKDIR"""
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
out = os.path.join(WORK, "run")
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def snapshot(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


long_run = common.pipeline_args(labels, out, **{"--backbone-epochs": "100000"})
first = subprocess.Popen([VTAG] + long_run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
second = None
try:
    stage = common.wait_for_stage(first.pid, "backbone", 60)
    if stage is None:
        raise SystemExit("FAIL: the first pipeline's backbone stage did not start within 60 s")
    manifest = os.path.join(out, "pipeline.json")
    before = snapshot(manifest)
    t = time.time()
    second = subprocess.Popen([VTAG] + long_run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        _, err = second.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(second.pid, signal.SIGKILL)
        _, err = second.communicate()
    dt = time.time() - t
    print("\n".join(err.strip().splitlines()[-5:]))
    check(second.returncode not in (0, None) and second.returncode > 0,
          "the second pipeline exits non-zero (exit %s after %.1f s)" % (second.returncode, dt))
    want = "%s is in use by another vtag pipeline (pid %d)" % (out, first.pid)
    check(want in err, "its message says: " + want)
    check("[1/" not in err, "it starts no stage")
    check(snapshot(manifest) == before, "pipeline.json is unchanged")
    check(first.poll() is None and common.alive(*stage), "the first pipeline still runs")

    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    end = time.time() + 10
    while common.alive(*stage) and time.time() < end:
        time.sleep(0.05)
    third = subprocess.run([VTAG] + common.pipeline_args(labels, out), env=env, capture_output=True, text=True,
                           timeout=300)
    check(third.returncode == 0, "after the first is killed, the folder is free again (exit %d)\n%s" %
          (third.returncode, third.stderr[-2000:]))
finally:
    for p in (first, second):
        if p is not None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
sys.exit(1 if failures else 0)
