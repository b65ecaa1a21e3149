"""vtag features and vtag tag shared out over MPI ranks give what one process
gives (issue 20, must-show 2), on the e2e corpus with two broken files (a
truncated MP4 and a text file named .mp4) among the good videos:

  1. features without --skip-bad (one process fails at the first broken file):
     the same exit code, the same error line, no file written, with -np 2
     (the broken file is rank 0's) and -np 3 (rank 1's);
  2. features --skip-bad: the same file byte for byte, the same "skipped"
     lines in the same order and the same summary (its timing aside);
  3. tag on videos given on the command line and in a --list file (a blank
     line in it): the same stdout byte for byte, the same stderr, the same
     exit code (1: two videos failed), with -np 2 and -np 3;
  4. a --list that cannot be opened (rank 0 reads it) and a features file
     that cannot be written (rank 0 writes it, after every video): every rank
     ends, with the exit code and the one error line of one process.

usage: shard.py VTAG E2E_DIR WORK MPIRUN [MPIRUN_ARGS...]   (stdlib only; /usr/bin/python3)
E2E_DIR is tests/e2e/e2e.py's work folder: corpus/labels.jsonl, corpus/videos,
run/ (backbone and caption checkpoints), truncated.mp4 and notes.mp4.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

VTAG, E2E, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
# -q: mpirun's own notice of a rank's non-zero exit would be stderr lines one process has not.
MPIRUN = sys.argv[4:] + ["-q"]
VIDEOS = 200  # the whole corpus; with the 2 broken files, 202 (a run of -np 2 takes a few seconds)
failures = checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


# OMP_WAIT_POLICY: no spinning OpenMP threads; yield_when_idle: a rank waiting on another's
# result gives its core away (2 ranks with 2 threads each share 2 cores here).
env = dict(os.environ, OMP_WAIT_POLICY="passive", OMPI_MCA_mpi_yield_when_idle="1")


def run(np, args, out=None):
    """vtag ARGS in one process (np 0) or under mpirun -np NP: (exit code, stdout, stderr, file bytes)."""
    if out and os.path.exists(out):
        os.remove(out)
    cmd = ([VTAG] if np == 0 else MPIRUN + ["-np", str(np), VTAG]) + args
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, env=env, cwd=WORK, timeout=300)
    print("%-6s vtag %s: exit %d, %.1f s" % ("np %d" % np if np else "1 proc", " ".join(args[:1]), p.returncode,
                                          time.time() - t))
    data = open(out, "rb").read() if out and os.path.exists(out) else None
    return p.returncode, p.stdout, p.stderr.decode(errors="replace"), data


def features_lines(err):
    """stderr of vtag features with the summary's timing blanked and no progress lines (timed: one
    every VTAG_PROGRESS_SECONDS after the first 2 s, so their number differs between runs)."""
    lines = [l for l in err.splitlines() if not re.match(r"vtag features: (\[[# ]*\] +)?\d+/\d+ videos\b", l)]
    return [re.sub(r" in [0-9.]+ s \([0-9.]+ frames/s\)$", " in T s", l) for l in lines]


def tag_lines(err):
    """stderr of vtag tag without its progress lines (timed, like features')."""
    return [l for l in err.splitlines() if not re.match(r"vtag tag: (\[[# ]*\] +)?\d+(/\d+)? videos\b", l)]


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
corpus = os.path.join(E2E, "corpus")
good = [json.loads(l) for l in open(os.path.join(corpus, "labels.jsonl"))][:VIDEOS]
for e in good:
    e["video"] = os.path.join(corpus, e["video"])
bad = [os.path.join(E2E, "truncated.mp4"), os.path.join(E2E, "notes.mp4")]
check(all(os.path.getsize(b) > 0 for b in bad), "the e2e fixture has its two broken files")
# Video 4 is rank 0's with -np 2 and rank 1's with -np 3; video 33 the other way round.
videos = [e["video"] for e in good[:4]] + [bad[0]] + [e["video"] for e in good[4:32]] + [bad[1]] + \
         [e["video"] for e in good[32:]]
labels = os.path.join(WORK, "labels.jsonl")
with open(labels, "w") as f:
    by_video = {e["video"]: e for e in good}
    for v in videos:
        e = dict(by_video.get(v, good[0]))
        e["video"] = v
        f.write(json.dumps(e) + "\n")

backbone = os.path.join(E2E, "run", "backbone.safetensors")
feats = os.path.join(WORK, "features.safetensors")
base = ["features", "--backbone", backbone, "--labels", labels, "--out", feats, "--sample", "uniform:8"]

# 1. without --skip-bad: the first broken file stops the run, nothing is written
one = run(0, base, feats)
check(one[0] == 1 and one[3] is None, "one process: exit 1, no file")
check(any("truncated.mp4" in l and "labels.jsonl:5)" in l for l in features_lines(one[2])),
      "one process names the broken file and its line:\n" + one[2])
for np in (2, 3):
    got = run(np, base, feats)
    check(got[0] == one[0], "-np %d: exit %d, one process %d" % (np, got[0], one[0]))
    check(got[3] is None, "-np %d: no file written" % np)
    check(features_lines(got[2]) == features_lines(one[2]),
          "-np %d: stderr\n%s\none process:\n%s" % (np, got[2], one[2]))
    check(got[1] == b"", "-np %d: nothing on stdout" % np)

# 2. --skip-bad: the same file, byte for byte
one = run(0, base + ["--skip-bad"], feats)
check(one[0] == 0 and one[3], "one process --skip-bad: exit 0, a file")
check(sum("skipped:" in l for l in one[2].splitlines()) == 2, "one process skips the 2 broken files:\n" + one[2])
got = run(2, base + ["--skip-bad"], feats)
check(got[0] == 0, "-np 2 --skip-bad: exit %d" % got[0])
check(got[3] == one[3], "-np 2 --skip-bad: the features file is byte-identical to one process's")
check(features_lines(got[2]) == features_lines(one[2]), "-np 2 --skip-bad: stderr\n%s\none process:\n%s" %
      (got[2], one[2]))

# 3. tag: command-line videos, then a list with a blank line
run_dir = os.path.join(E2E, "run")
listed = os.path.join(WORK, "videos.txt")
with open(listed, "w") as f:
    f.write("\n".join(videos[3:20]) + "\n\n" + "\n".join(videos[20:]) + "\n")
tag = ["tag", "--from", run_dir, "--list", listed] + videos[:3]
one = run(0, tag)
lines = one[1].decode().splitlines()
check(one[0] == 1 and len(lines) == len(videos), "one process: exit 1, a line per video (%d)" % len(lines))
check(sum('"error"' in l for l in lines) == 2, "one process: 2 error lines")
check("2 of %d videos failed" % len(videos) in one[2], "one process says 2 failed:\n" + one[2])
for np in (2, 3):
    got = run(np, tag)
    check(got[0] == one[0], "-np %d tag: exit %d, one process %d" % (np, got[0], one[0]))
    check(got[1] == one[1], "-np %d tag: stdout byte-identical to one process's" % np)
    check(tag_lines(got[2]) == tag_lines(one[2]), "-np %d tag: stderr\n%s\none process:\n%s" % (np, got[2], one[2]))

# 4. failures every rank must see, without a hang: a list that cannot be opened (rank 0 alone
# reads it) and a features file that cannot be written (rank 0 alone writes it, at the end)
for args in (["tag", "--from", run_dir, "--list", os.path.join(WORK, "missing.txt")],
             base[:6] + [os.path.join(WORK, "missing", "f.safetensors"), "--sample", "uniform:8", "--skip-bad"]):
    one = run(0, args)
    got = run(2, args)
    what = "-np 2 %s (%s)" % (args[0], one[2].splitlines()[-1:])
    check(one[0] == 1 and "missing" in one[2], "one process: %s: exit %d:\n%s" % (args[0], one[0], one[2]))
    check(got[0] == one[0] and features_lines(got[2]) == features_lines(one[2]) and got[1] == one[1],
          "%s: exit %d, stderr\n%s" % (what, got[0], got[2]))

print("%d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
