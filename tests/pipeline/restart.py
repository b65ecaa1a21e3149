"""--restart starts again: the training stages run with --resume and append
to their logs, so a restart that kept their files would resume the old run's
training (which had ended: nothing trained, the old checkpoint kept) and mix
its log lines into the new ones. After a finished run with 2 XE epochs (seed 1),
a --restart with 3 (seed 2) must train 3 epochs from scratch: the XE log
holds exactly 3 lines, epochs 1, 2, 3, all of the new run.

usage: restart.py VTAG FFMPEG WORKDIR"""
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
env = dict(os.environ, OMP_WAIT_POLICY="passive")
out = os.path.join(WORK, "run")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def pipeline(*extra, **over):
    p = subprocess.run([VTAG] + common.pipeline_args(labels, out, **over) + list(extra), env=env,
                       capture_output=True, text=True, timeout=240)
    check(p.returncode == 0, "pipeline %s exits 0 (%s)" % (" ".join(extra), p.stderr.strip()[-300:]))


def lines(log):
    with open(os.path.join(out, log)) as f:
        return [json.loads(line) for line in f if line.strip()]


pipeline(**{"--xe-epochs": "2", "--scst-epochs": "0", "--seed": "1"})
first = lines("fc-xe.log.jsonl")
check([o["epoch"] for o in first] == [1, 2], "first run: XE epochs 1, 2 logged")
# another seed: a run trained again from scratch logs other losses from epoch 1 on
pipeline("--restart", **{"--xe-epochs": "3", "--scst-epochs": "0", "--seed": "2"})
again = lines("fc-xe.log.jsonl")
check([o["epoch"] for o in again] == [1, 2, 3], "after --restart: XE epochs 1, 2, 3 logged: %s"
      % [o["epoch"] for o in again])
check(len(again) == 3 and again[0]["loss"] != first[0]["loss"],
      "after --restart: epoch 1 trained again (seed 2's loss %s, not the old run's %s)"
      % (again[0]["loss"] if again else None, first[0]["loss"]))

print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
