"""Issue 18, must-show 6: with stderr not a terminal, a long command writes a
progress line at least every 10 s. vtag features runs over a labels file of
2000 videos (hard links to one 4 s clip) with VTAG_PROGRESS_SECONDS=1 and its
stderr to a pipe, read line by line as the lines arrive; after 20 s (or at its
end, if sooner) it is stopped. Checked: the progress lines have the one plain
form "vtag features: D/T videos R/s ETA M:SS", their counts grow, there are at
least 3, the first comes within 10 s, and no gap between lines (from the start
to the last line) is over 10 s. A short run of the same command (one video)
prints no progress line at all (VTAG_PROGRESS_SECONDS unset).

usage: long_run.py VTAG FFMPEG WORKDIR"""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, WORK = (os.path.abspath(a) if os.sep in a else a for a in sys.argv[1:4])
env = dict(os.environ, OMP_WAIT_POLICY="passive", VTAG_PROGRESS_SECONDS="1")
failures = []
N = 2000
RUN_FOR = 20.0
PROGRESS = re.compile(r"^vtag features: (?P<done>\d+)/(?P<total>\d+) videos \d+(\.\d+)?/s ETA (\d+:)?\d+:\d\d$")


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)
labels = common.make_corpus(FFMPEG, ".")
p = subprocess.run([VTAG, "backbone", "train", "--labels", labels, "--out", "bb.safetensors", "--epochs", "1",
                    "--size", "16", "--sample", "uniform:2", "--threads", "1"], env=env, capture_output=True,
                   text=True, timeout=120)
check(p.returncode == 0, "backbone trained: %s" % p.stderr.strip()[-300:])
subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "4",
                "-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "100", "clip.mp4"], check=True)
os.makedirs("many")
with open("many.jsonl", "w") as f:
    for i in range(N):
        os.link("clip.mp4", "many/%d.mp4" % i)
        f.write('{"video": "many/%d.mp4", "class1": "a", "class2": "x", "tags": ["red"], "split": "train"}\n' % i)
with open("one.jsonl", "w") as f:
    f.write('{"video": "many/0.mp4", "class1": "a", "class2": "x", "tags": ["red"], "split": "train"}\n')

args = ["features", "--backbone", "bb.safetensors", "--sample", "uniform:16", "--size", "16", "--threads", "1"]

# A short run: no progress line.
quiet_env = dict(env)
del quiet_env["VTAG_PROGRESS_SECONDS"]  # the default: nothing in the first 2 s
p = subprocess.run([VTAG] + args + ["--labels", "one.jsonl", "--out", "one.safetensors"], env=quiet_env,
                   capture_output=True, text=True, timeout=60)
check(p.returncode == 0 and not [l for l in p.stderr.splitlines() if PROGRESS.match(l)],
      "a run of one video: exit %d, no progress line: %r" % (p.returncode, p.stderr))



def long_run(name, cmd, pattern, total):
    """cmd with stderr to a pipe for RUN_FOR seconds (or to its end): the
    progress lines (pattern) are checked as the docstring says."""
    t0 = time.monotonic()
    proc = subprocess.Popen([VTAG] + cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    lines = []

    def read():
        for line in proc.stderr:
            lines.append((time.monotonic() - t0, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=RUN_FOR)
        ended = "finished"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        ended = "stopped"
    t_end = time.monotonic() - t0
    reader.join(timeout=10)
    print("%s: %s after %.1f s, %d lines on stderr" % (name, ended, t_end, len(lines)))
    for t, line in lines[:4] + [(0, "...")] + lines[-3:]:
        print("  %6.2f  %s" % (t, line[:160]))
    progress = [(t, line) for t, line in lines if pattern.match(line)]
    other = [line for t, line in lines if not pattern.match(line)]
    check(not [l for l in other if l.startswith("vtag ") and "/s ETA" in l],
          "%s: every progress line has the plain form: %r" % (name, other[:3]))
    check(len(progress) >= 3, "%s: at least 3 progress lines (%d in %.1f s)" % (name, len(progress), t_end))
    done = [(int(pattern.match(line).groupdict().get("epoch") or 0), int(pattern.match(line).group("done")))
            for t, line in progress]
    check(all(int(pattern.match(line).group("total")) == total for t, line in progress), "%s: the total is %d" % (name, total))
    check(done == sorted(done), "%s: the counts grow: %s" % (name, done[:10]))
    times = [0.0] + [t for t, line in lines] + ([t_end] if ended == "stopped" else [])
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(progress and progress[0][0] <= 10.0, "%s: the first progress line within 10 s (%.1f s)" %
          (name, progress[0][0] if progress else -1))
    check(max(gaps) <= 10.0, "%s: the largest gap between stderr lines is %.1f s (<= 10 s)" % (name, max(gaps)))


long_run("features", args + ["--labels", "many.jsonl", "--out", "many.safetensors"], PROGRESS, N)

# vtag train, SCST from the first epoch, on 400 rows (4 videos, 100 frames each): an epoch is longer
# than the 10 s allowed between lines, its progress lines fill the gap.
with open("few.jsonl", "w") as f:
    f.write("".join('{"video": "many/%d.mp4", "class1": "a", "class2": "x", "tags": ["red"], "split": "train"}\n' % i
                    for i in range(4)))
p = subprocess.run([VTAG] + args[:3] + ["--sample", "fps:25", "--size", "16", "--labels", "few.jsonl", "--out",
                                        "few.safetensors"], env=env, capture_output=True, text=True, timeout=120)
check(p.returncode == 0, "features of 4 videos: %s" % p.stderr.strip()[-300:])
TRAIN = re.compile(r"^vtag train: epoch (?P<epoch>\d)/3 \(scst\) (?P<done>\d+)/(?P<total>\d+) rows \d+(\.\d+)?/s ETA (\d+:)?\d+:\d\d$")
long_run("train", ["train", "--labels", "few.jsonl", "--feats", "few.safetensors", "--model", "fc", "--out",
                   "m.safetensors", "--epochs", "3", "--scst-after", "0", "--batch", "4", "--threads", "1"], TRAIN, 400)

if failures:
    sys.exit("%d failure(s)" % len(failures))
print("all ok")
