"""Issue 15, must-show 4: a kill -9 during an artefact write leaves the old
file or the new one, never a torn file. For a safetensors checkpoint
(vtag train --out), the HTML report (vtag eval --report) and the pipeline
manifest (vtag pipeline's pipeline.json), each over an old valid file:

- the writer runs with VTAG_TEST_ATOMIC_PAUSE (a hook of test builds,
  src/core/fs.c): the commit of that target stops with the temporary file
  partly written, names it in TARGET.paused and sleeps; the test kills the
  writer there with SIGKILL;
- the target is then byte-identical to the old file and still parses (the
  safetensors header and its offsets, the JSON, the whole HTML page);
- the folder gained only the killed writer's temporary file
  (.NAME.tmp.XXXXXX, the one it named) and the marker: a process killed by
  SIGKILL cannot remove its temporary file, and nothing else may appear (but
  the checkpoint's novelty model, a whole file vtag train commits before it
  trains);
- a rerun without the pause succeeds and leaves the new valid file.

usage: atomic_kill.py VTAG FIXTURE_DIR WORKDIR CASE   (CASE: safetensors, html or pipeline)"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

import common

VTAG, FIX, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
CASE = sys.argv[4]
t = common.Checks("faults/atomic_kill_" + CASE)
p = common.fixture_paths(FIX)
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
ENV = dict(os.environ, OMP_WAIT_POLICY="passive")
ENV.pop("VTAG_TEST_ATOMIC_PAUSE", None)


def run_ok(args, what):
    r = common.run(VTAG, args, env=ENV, timeout=240)
    t.check(r.returncode == 0, "%s: exit %d (%s)" % (what, r.returncode, r.err.strip()[-400:]))
    return r


def safetensors_ok(path):
    """The header parses and the tensors' offsets tile the data exactly."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8:8 + n])
    except ValueError:
        return False
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    return 8 + n <= len(data) and bool(ends) and max(ends) == len(data) - 8 - n


def json_ok(path):
    try:
        with open(path) as f:
            return isinstance(json.load(f), dict)
    except ValueError:
        return False


def html_ok(path):
    with open(path, "rb") as f:
        data = f.read()
    return data.startswith(b"<!DOCTYPE html>") and data.endswith(b"</html>\n")


def kill_mid_write(args, target, valid):
    """Runs vtag ARGS with the pause on target, kills it there, checks what is left."""
    with open(target, "rb") as f:
        old = f.read()
    folder, name = os.path.split(target)
    before = set(os.listdir(folder))
    marker = target + ".paused"
    env = dict(ENV, VTAG_TEST_ATOMIC_PAUSE=os.sep + name)
    proc = subprocess.Popen([VTAG] + [str(a) for a in args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    end = time.time() + 180
    while not os.path.exists(marker) and proc.poll() is None and time.time() < end:
        time.sleep(0.02)
    paused = os.path.exists(marker)
    if not t.check(paused, "%s: the writer paused in the commit of %s (is it written through vtag_atomic_*? "
                   "exit %s: %s)" % (CASE, name, proc.poll(), proc.stderr.read().decode()[-400:] if proc.poll()
                                     is not None else "still running")):
        proc.kill()
        proc.wait()
        return
    proc.send_signal(signal.SIGKILL)
    t.check(proc.wait() == -signal.SIGKILL, "%s: the writer died of SIGKILL" % CASE)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # a stage child, if the writer had one running
    except ProcessLookupError:
        pass
    proc.stderr.close()
    with open(marker) as f:
        tmp = f.read().strip()
    with open(target, "rb") as f:
        now = f.read()
    t.check(now == old, "%s: after kill -9 the target is byte-identical to the old file (%d bytes, old %d)"
            % (CASE, len(now), len(old)))
    t.check(valid(target), "%s: the target still parses" % CASE)
    pattern = re.compile(r"^\.%s\.tmp\.[A-Za-z0-9]{6}$" % re.escape(name))
    t.check(os.path.dirname(tmp) == folder and pattern.match(os.path.basename(tmp)) is not None
            and os.path.exists(tmp), "%s: the killed writer's temporary file is %s, beside the target" % (CASE, tmp))
    if os.path.exists(tmp):
        print("%s: killed with %d bytes in %s (the new file is written whole by the rerun)"
              % (CASE, os.path.getsize(tmp), os.path.basename(tmp)))
    gained = sorted(set(os.listdir(folder)) - before)
    # vtag train writes the checkpoint's novelty model (a whole file, committed before training) first
    done_before = [g for g in gained if g.endswith(".novelty.safetensors") and safetensors_ok(os.path.join(folder, g))]
    gained = [g for g in gained if g not in done_before]
    t.check(gained == sorted([os.path.basename(tmp), os.path.basename(marker)]),
            "%s: the folder gained only the temporary file and the marker: %s" % (CASE, gained))
    os.remove(marker)
    return os.path.basename(tmp)


def leftovers(folder):
    return sorted(n for n in os.listdir(folder) if ".tmp." in n)


if CASE == "safetensors":
    out = os.path.join(WORK, "model.safetensors")
    shutil.copyfile(p["model"], out)  # the old checkpoint: the fixture's (seed 42)
    train = ["train", "--labels", p["labels"], "--feats", p["feats"], "--model", "fc", "--out", out, "--epochs", 1,
             "--rnn-size", 8, "--input-encoding-size", 8, "--batch", 4, "--threads", 1, "--seed", 7]
    left = kill_mid_write(train, out, safetensors_ok)
    r = run_ok(["inspect", out], "inspect the old checkpoint after the kill")
    run_ok(train, "train without the pause")
    t.check(safetensors_ok(out) and common.digest(out) != common.digest(p["model"]),
            "the rerun wrote the new checkpoint (seed 7), whole")
    run_ok(["inspect", out], "inspect the new checkpoint")
    t.check(leftovers(WORK) == [left], "only the killed writer's temporary file is left: %s" % leftovers(WORK))
elif CASE == "html":
    report = os.path.join(WORK, "R.html")
    ev = ["eval", "--labels", p["labels"], "--tags", "run=" + p["tags"], "--split", "test", "--sample-videos", 0,
          "--report", report, "--title"]
    run_ok(ev + ["old report"], "eval --report (the old report)")
    t.check(html_ok(report), "the old report is a whole page")
    left = kill_mid_write(ev + ["new report"], report, html_ok)
    with open(report, "rb") as f:
        t.check(b"old report" in f.read(), "after the kill the report is the old one")
    run_ok(ev + ["new report"], "eval --report without the pause")
    with open(report, "rb") as f:
        data = f.read()
    t.check(html_ok(report) and b"new report" in data and b"old report" not in data,
            "the rerun wrote the new report, whole")
    t.check(leftovers(WORK) == [left], "only the killed writer's temporary file is left: %s" % leftovers(WORK))
elif CASE == "pipeline":
    run = os.path.join(WORK, "run")
    manifest = os.path.join(run, "pipeline.json")
    pipe = ["pipeline", "--labels", p["labels"], "--out", run, "--model", "fc", "--sample", "uniform:2", "--hidden",
            8, "--xe-epochs", 1, "--scst-epochs", 1, "--backbone-epochs", 1, "--size", 16, "--threads", 1,
            "--batch", 2]
    run_ok(pipe, "the first pipeline run (the old pipeline.json)")
    t.check(json_ok(manifest), "the old pipeline.json parses")
    with open(manifest) as f:
        stages = sorted(json.load(f).get("stages", {}))
    t.check(len(stages) >= 4, "the old run finished its stages: %s" % stages)
    # --restart writes a manifest with no stage first: a torn or new one would differ from the old
    left = kill_mid_write(pipe + ["--restart"], manifest, json_ok)
    with open(manifest) as f:
        t.check(sorted(json.load(f).get("stages", {})) == stages, "after the kill the manifest is the old one")
    old = common.digest(manifest)
    run_ok(pipe + ["--restart"], "pipeline --restart without the pause")
    t.check(json_ok(manifest) and common.digest(manifest) != old,
            "the rerun wrote a new pipeline.json (other stage times), whole")
    with open(manifest) as f:
        t.check(sorted(json.load(f).get("stages", {})) == stages, "the rerun finished every stage again")
    t.check(leftovers(run) == ([left] if left else []),
            "only the killed writer's temporary file is left: %s" % leftovers(run))
else:
    sys.exit("unknown case " + CASE)
t.done()
