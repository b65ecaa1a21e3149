"""Issue 14, point 6: a stage must die with its pipeline. Starts a pipeline
whose backbone stage would run for an hour, waits until that stage runs,
SIGKILLs the pipeline's PID only (not its group) and asserts the stage is
gone within 5 s.

usage: kill_parent.py VTAG FFMPEG WORKDIR"""
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
# a session of its own, so that the cleanup below can end whatever is left by its group; stderr
# not to a pipe nobody reads (a full pipe would block the writers this test expects to end)
p = subprocess.Popen([VTAG] + common.pipeline_args(labels, out, **{"--backbone-epochs": "100000"}), env=env,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
failed = False
try:
    stage = common.wait_for_stage(p.pid, "backbone", 60)
    if stage is None:
        raise SystemExit("FAIL: the backbone stage did not start within 60 s")
    time.sleep(0.5)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    end = time.time() + 5
    while common.alive(*stage) and time.time() < end:
        time.sleep(0.05)
    if common.alive(*stage):
        print("FAIL: the stage (pid %d) still runs 5 s after its pipeline (pid %d) was killed" % (stage[0], p.pid))
        failed = True
    else:
        print("ok: the stage (pid %d) died with its pipeline" % stage[0])
finally:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
sys.exit(1 if failed else 0)
