"""--output, --resume and --format (issue 18, "Outputs"; must-show 1's csv
and kill -9 points), on a run folder made by vtag pipeline on the pipeline
tests' 4 clips plus a file that is not a video.

csv:    for tag, backbone predict, probe and score --per-item, --format csv
        parsed back by Python's csv module has the header of docs/FORMATS.md
        and, row for row in the same order, the fields of the JSON lines
        (tags/labels and scores ';'-joined, frames the number of frames,
        damaged_packets as in the line, an error row with only video and
        error); a video named with a comma and
        a quote comes back whole (RFC 4180 quoting); --output FILE holds what
        stdout gets (--output -: stdout), and no FILE.partial is left; an
        --output that is an input, --resume without --output and --format xml
        are usage errors.
resume: vtag tag --output F on 30 videos (one of them broken), fed its list
        through stdin, SIGKILLed once at least 4 lines are in F.partial (F
        itself not written); a torn half line is added to F.partial as a kill
        during a write would leave it; --resume then writes F with exactly the
        lines of an uninterrupted run, in the same order (every video once),
        tagging only the videos not kept; a second --resume tags nothing and
        leaves F as it is. A CSV output cut in the middle of a row resumes to
        the uninterrupted CSV; resuming a JSON Lines F.partial as CSV fails
        and names it.
mpi:    under mpirun -np 2 (rank 0 alone writes), vtag tag --output on 20
        videos (one broken) gives one process's file byte for byte, as JSON
        Lines and as CSV, with its exit code; an F.partial holding the first
        7 lines and a torn one, resumed under mpirun -np 2, becomes the same
        file.

usage: outputs.py VTAG FFMPEG WORKDIR csv|resume|mpi [MPIRUN ARGS...]"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, WORK, MODE = os.path.abspath(sys.argv[1]), sys.argv[2], os.path.abspath(sys.argv[3]), sys.argv[4]
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def vtag(args, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run([VTAG] + args, env=env, capture_output=True, text=True, **kw)


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)
labels = common.make_corpus(FFMPEG, ".")
p = vtag(common.pipeline_args(labels, "run"), timeout=300)
if p.returncode != 0:
    raise SystemExit("vtag pipeline exited %d:\n%s" % (p.returncode, p.stderr))
with open("broken.mp4", "wb") as f:  # not a video: an error line
    f.write(b"this is not a video\n" * 50)
odd = 'v/a,"b".mp4'  # RFC 4180: quoted, its quote doubled
shutil.copy("v/0.mp4", odd)
VIDEOS = ["v/0.mp4", "v/1.mp4", "broken.mp4", odd, "v/2.mp4", "v/3.mp4"]
TAG = ["tag", "--from", "run", "--threads", "1"]
PREDICT = ["backbone", "predict", "--backbone", "run/backbone.safetensors", "--threads", "1", "--sample", "uniform:3"]


def rows_of(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def joined(items, key):
    return ";".join(str(i[key]) for i in items)


def same_scores(cell, items):
    got = [float(x) for x in cell.split(";")] if cell else []
    return got == [float(i["score"]) for i in items]


def csv_round(cmd, args, header, row_check=None):
    """JSON lines and CSV rows of one command (row_check: one row per line); both exit alike;
    --output FILE = stdout."""
    j = vtag(args)
    c = vtag(args + ["--format", "csv"])
    check(j.returncode == c.returncode, "%s: exit %d (jsonl) vs %d (csv)" % (cmd, j.returncode, c.returncode))
    lines = [json.loads(l) for l in j.stdout.splitlines()]
    rows = rows_of(c.stdout)
    check(rows and rows[0] == header, "%s: CSV header %r, wanted %r" % (cmd, rows[:1], header))
    check(not row_check or len(rows) == len(lines) + 1, "%s: %d CSV rows for %d JSON lines" % (cmd, len(rows) - 1, len(lines)))
    for line, row in zip(lines, rows[1:]) if row_check else ():
        fields = dict(zip(header, row))
        check(len(row) == len(header), "%s: row %r has %d fields" % (cmd, row, len(row)))
        check(row_check(line, fields), "%s: row %r is not the JSON line %s" % (cmd, row, json.dumps(line)[:300]))
    for fmt, want in (("jsonl", j.stdout), ("csv", c.stdout)):
        out = "out-%s.%s" % (cmd.replace(" ", "-"), fmt)
        r = vtag(args + ["--format", fmt, "--output", out])
        check(r.returncode == j.returncode and r.stdout == "", "%s --output: exit %d, stdout %r" % (cmd, r.returncode, r.stdout[:100]))
        check(os.path.exists(out) and open(out, newline="").read() == want, "%s --format %s --output: not stdout's" % (cmd, fmt))
        check(not os.path.exists(out + ".partial"), "%s --output: %s.partial left behind" % (cmd, out))
    return lines


def tag_row(line, f):
    if "error" in line:
        return f["video"] == line["video"] and f["error"] == line["error"] and \
            all(f[k] == "" for k in ("class1", "class2", "tags", "scores", "frames", "damaged_packets"))
    return (f["video"] == line["video"] and f["class1"] == (line["class1"] or "") and
            f["class2"] == (line["class2"] or "") and f["tags"] == joined(line["tags"], "label") and
            same_scores(f["scores"], line["tags"]) and f["frames"] == str(len(line["frames"])) and
            f["damaged_packets"] == str(line.get("damaged_packets", "")) and f["error"] == "")


def predict_row(line, f):
    if "error" in line:
        return f["video"] == line["video"] and f["error"] == line["error"] and f["labels"] == f["frames"] == ""
    return (f["video"] == line["video"] and f["labels"] == joined(line["labels"], "label") and
            same_scores(f["scores"], line["labels"]) and f["frames"] == str(len(line["frames"])) and f["error"] == "")


PROBE_FIELDS = ["video", "container", "codec", "duration_seconds", "frame_rate", "width", "height", "rotation",
                "display_width", "display_height", "frames", "keyframes", "index"]


def probe_row(line, f):
    for k in PROBE_FIELDS:
        v = line[k]
        if isinstance(v, float) and float(f[k]) != v or not isinstance(v, float) and f[k] != str(v):
            return False
    return True


if MODE == "csv":
    lines = csv_round("tag", TAG + VIDEOS, ["video", "class1", "class2", "tags", "scores", "frames", "damaged_packets",
                                           "error"], tag_row)
    check([l["video"] for l in lines] == VIDEOS, "tag: the videos in order, the odd name whole: %r" %
          [l["video"] for l in lines])
    check(sum("error" in l for l in lines) == 1, "tag: one error line (broken.mp4)")
    lines = csv_round("backbone predict", PREDICT + VIDEOS, ["video", "labels", "scores", "frames", "error"],
                      predict_row)
    check([l["video"] for l in lines] == VIDEOS, "backbone predict: every video in order")
    lines = csv_round("probe", ["probe"] + VIDEOS, PROBE_FIELDS, probe_row)
    check([l["video"] for l in lines] == [v for v in VIDEOS if v != "broken.mp4"], "probe: the readable videos")
    r = vtag(["probe", "--output", "-", "--format", "csv", "v/0.mp4"])
    check(r.returncode == 0 and r.stdout == vtag(["probe", "--format", "csv", "v/0.mp4"]).stdout and
          not os.path.exists("-"), "probe --output -: the standard output")
    with open("caps.jsonl", "w") as f:
        f.write('{"id": 1, "cand": "a b c", "refs": ["a b c", "a b d"]}\n'
                '{"id": "two", "cand": "x y", "refs": ["a b", "x y z"]}\n'
                '{"id": 3, "cand": "a", "refs": ["b c"]}\n')
    lines = csv_round("score", ["score", "--in", "caps.jsonl", "--per-item"], ["item", "CIDEr-D"])
    rows = rows_of(vtag(["score", "--in", "caps.jsonl", "--per-item", "--format", "csv"]).stdout)[1:]
    check(len(lines) == 1 and [float(r[1]) for r in rows] == lines[0]["per_item"] and
          [r[0] for r in rows] == ["0", "1", "2"], "score --per-item: CSV rows %r vs per_item %r" % (rows, lines))
    # usage errors: exit 2, one line, nothing written
    for args in (["probe", "--output", "v/1.mp4", "v/1.mp4"], TAG + ["--output", "v/1.mp4", "v/1.mp4"],
                 PREDICT + ["--output", "run/backbone.safetensors", "v/1.mp4"],
                 ["score", "--in", "caps.jsonl", "--output", "caps.jsonl"],
                 TAG + ["--resume", "v/1.mp4"], ["probe", "--resume", "v/1.mp4"], PREDICT + ["--resume", "v/1.mp4"],
                 TAG + ["--format", "xml", "v/1.mp4"], ["probe", "--format", "xml", "v/1.mp4"],
                 ["score", "--in", "caps.jsonl", "--format", "csv"]):
        r = vtag(args)
        check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and r.stdout == "",
              "%s: exit %d (wanted 2), stderr %r" % (" ".join(args), r.returncode, r.stderr[-300:]))
    check(os.path.getsize("v/1.mp4") > 1000 and os.path.getsize("caps.jsonl") > 100, "the inputs are untouched")
elif MODE == "resume":
    os.makedirs("v30")
    names = []
    for i in range(30):
        name = "v30/%02d.mp4" % i
        if i == 25:
            shutil.copy("broken.mp4", name)
        else:
            shutil.copy("v/%d.mp4" % (i % 4), name)
        names.append(name)
    with open("list.txt", "w") as f:
        f.write("\n".join(names) + "\n")
    full = vtag(TAG + ["--list", "list.txt", "--output", "full.jsonl"])
    check(full.returncode == 1, "uninterrupted: exit %d, wanted 1 (one broken video)" % full.returncode)
    want = open("full.jsonl").read()
    check([json.loads(l)["video"] for l in want.splitlines()] == names, "uninterrupted: every video once, in order")

    # Killed mid-run: the list comes through stdin, 12 paths first; SIGKILL once 4 lines are synced.
    proc = subprocess.Popen([VTAG] + TAG + ["--list", "-", "--output", "part.jsonl", "--timing"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.stdin.write(("\n".join(names[:12]) + "\n").encode())
    proc.stdin.flush()
    deadline = time.time() + 90
    n = 0
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists("part.jsonl.partial"):
            with open("part.jsonl.partial") as f:
                n = f.read().count("\n")
            if n >= 4:
                break
        time.sleep(0.01)
    killed = proc.poll() is None
    proc.kill()
    proc.wait()
    try:
        proc.stdin.close()
    except OSError:
        pass
    check(killed and n >= 4, "the run was SIGKILLed after %d lines (wanted alive with at least 4)" % n)
    check(not os.path.exists("part.jsonl"), "a killed run leaves no part.jsonl")
    kept = open("part.jsonl.partial").read()
    kept_lines = kept.splitlines(True)
    check(kept_lines and all(l.endswith("\n") for l in kept_lines) and want.startswith(kept),
          "part.jsonl.partial holds whole lines, the first %d of the uninterrupted run" % len(kept_lines))
    k = len(kept_lines)
    torn = want.splitlines(True)[k][:40]  # the next video's line, cut by a kill during its write
    with open("part.jsonl.partial", "a") as f:
        f.write(torn)
    r = vtag(TAG + ["--list", "list.txt", "--output", "part.jsonl", "--resume", "--timing"])
    check(r.returncode == 1, "resume: exit %d, wanted 1 (broken.mp4 is tagged in it): %s" % (r.returncode, r.stderr[-300:]))
    got = open("part.jsonl").read() if os.path.exists("part.jsonl") else ""
    check(got == want, "resume: part.jsonl is the uninterrupted run's, line for line in order")
    check([json.loads(l)["video"] for l in got.splitlines()] == names, "resume: every video exactly once")
    check(not os.path.exists("part.jsonl.partial"), "resume: no part.jsonl.partial left")
    timed = [l for l in r.stderr.splitlines() if "decode" in l and "total" in l]
    check(len(timed) == 30 - k - 1, "resume: tagged %d videos, wanted %d (30 - %d kept - broken)" % (len(timed), 29 - k, k))
    check("%d videos done before" % k in r.stderr, "resume: says %d videos were done before: %r" % (k, r.stderr[-300:]))
    r = vtag(TAG + ["--list", "list.txt", "--output", "part.jsonl", "--resume", "--timing"])
    timed = [l for l in r.stderr.splitlines() if "decode" in l and "total" in l]
    check(r.returncode == 0 and not timed and "30 videos done before" in r.stderr,
          "second resume: exit %d, %d videos tagged (wanted 0 and 0): %r" % (r.returncode, len(timed), r.stderr[-300:]))
    check(open("part.jsonl").read() == want and not os.path.exists("part.jsonl.partial"),
          "second resume: part.jsonl unchanged")

    # CSV: cut in the middle of a row, resumed
    args = TAG + ["--list", "list.txt", "--format", "csv"]
    check(vtag(args + ["--output", "full.csv"]).returncode == 1, "csv: uninterrupted run")
    want_csv = open("full.csv", newline="").read()
    cut = want_csv.index("v30/07.mp4") + 5
    with open("cut.csv.partial", "w", newline="") as f:
        f.write(want_csv[:cut])
    r = vtag(args + ["--output", "cut.csv", "--resume", "--timing"])
    got = open("cut.csv", newline="").read() if os.path.exists("cut.csv") else ""
    check(got == want_csv and "7 videos done before" in r.stderr,
          "csv resume after a torn row: the uninterrupted CSV (%s)" % r.stderr[-300:])
    # the wrong format is refused, naming the file, which is left as it was
    with open("mixed.jsonl.partial", "w") as f:
        f.write(want.splitlines(True)[0])
    r = vtag(args + ["--output", "mixed.jsonl", "--resume"])
    check(r.returncode == 1 and "mixed.jsonl.partial" in r.stderr and
          open("mixed.jsonl.partial").read() == want.splitlines(True)[0],
          "csv resume of a JSON Lines file: exit %d, %r" % (r.returncode, r.stderr[-300:]))
elif MODE == "mpi":
    MPI = sys.argv[5:] + ["-q", "-np", "2"]
    os.makedirs("v20")
    names = ["v20/%02d.mp4" % i for i in range(20)]
    for i, name in enumerate(names):
        shutil.copy("broken.mp4" if i == 11 else "v/%d.mp4" % (i % 4), name)
    with open("list.txt", "w") as f:
        f.write("\n".join(names) + "\n")
    for fmt in ("jsonl", "csv"):
        args = TAG + ["--list", "list.txt", "--format", fmt, "--output"]
        one = vtag(args + ["one." + fmt])
        two = subprocess.run(MPI + [VTAG] + args + ["two." + fmt], env=env, capture_output=True, text=True,
                             timeout=300)
        want = open("one." + fmt, newline="").read()
        check(one.returncode == two.returncode == 1, "%s: exit %d (one process) and %d (-np 2), wanted 1" %
              (fmt, one.returncode, two.returncode))
        check(os.path.exists("two." + fmt) and open("two." + fmt, newline="").read() == want and
              not os.path.exists("two.%s.partial" % fmt), "%s: -np 2 wrote one process's file (%s)" %
              (fmt, two.stderr[-300:]))
        check(two.stdout == "", "%s: -np 2 printed nothing on stdout" % fmt)
        kept = "".join(want.splitlines(True)[:7 + (fmt == "csv")])  # csv: and its header
        with open("three.%s.partial" % fmt, "w", newline="") as f:
            f.write(kept + want.splitlines(True)[len(kept.splitlines())][:12])
        r = subprocess.run(MPI + [VTAG] + args + ["three." + fmt, "--resume"], env=env, capture_output=True,
                           text=True, timeout=300)
        got = open("three." + fmt, newline="").read() if os.path.exists("three." + fmt) else ""
        check(r.returncode == 1 and got == want and "7 videos done before" in r.stderr,
              "%s: resumed under -np 2: exit %d, the uninterrupted file: %s (%s)" %
              (fmt, r.returncode, got == want, r.stderr[-300:]))
else:
    raise SystemExit("unknown mode " + MODE)

print("%d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures else 0)
