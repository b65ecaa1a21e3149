"""Issue 14 point 3: no line-oriented reader holds more than VTAG_LINE_MAX
(1 MiB) of one line. /dev/zero is refused at once; a 1 GiB file of zeros
(sparse: no disk used) or an endless quoted CSV field fails with the cap's
message (4 MiB, VTAG_TAG_LINE_MAX, for tag output and baseline predictions), each in a few seconds and under 200 MB of peak memory
(/usr/bin/time -v). Usage: line_cap.py VTAG"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import Checks, run  # noqa: E402

vtag = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp(prefix="vtag-line-cap-")
c = Checks()
MB = 200


def zeros(name, size=1 << 30):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.truncate(size)
    return name


def expect(what, argv, message):
    r = run([vtag] + argv, work, timeout=15, rss_limit_mb=2 * MB)
    lines = r.err.decode(errors="replace").splitlines()
    c.check(f"{what}: fails", not r.killed and r.rc == 1, r)
    c.check(f"{what}: under {MB} MB", not r.killed and 0 < r.max_rss_kb < MB * 1024, r)
    c.check(f"{what}: one line naming the problem", len(lines) == 1 and message in lines[0], r)


labels = os.path.join(work, "labels.jsonl")
with open(labels, "w") as f:
    f.write('{"video": "a.mp4", "class1": "x", "class2": "y", "tags": []}\n')
with open(os.path.join(work, "score.jsonl"), "w") as f:
    f.write('{"id": "a", "cand": "x y", "refs": ["x y"]}\n')

expect("score --in /dev/zero", ["score", "--in", "/dev/zero"], "/dev/zero: not a regular file (a character device)")
expect("train --labels /dev/zero", ["train", "--labels", "/dev/zero", "--feats", "none.safetensors", "--model", "fc",
                                     "--out", "m.safetensors"], "/dev/zero: not a regular file (a character device)")
z = zeros("zeros.jsonl")
expect("score --in 1 GiB of zeros", ["score", "--in", z], "zeros.jsonl: line 1 is longer than 1 MiB")
expect("score --df-from 1 GiB of zeros", ["score", "--in", "score.jsonl", "--df-from", z],
       "zeros.jsonl: line 1 is longer than 1 MiB")
expect("train --labels 1 GiB of zeros", ["train", "--labels", z, "--feats", "none.safetensors", "--model", "fc",
                                         "--out", "m.safetensors"], "zeros.jsonl: line 1 is longer than 1 MiB")
zc = zeros("zeros.csv")
expect("train --labels 1 GiB of zeros (CSV)", ["train", "--labels", zc, "--feats", "none.safetensors", "--model",
                                               "fc", "--out", "m.safetensors"], "zeros.csv: line 1 is longer than 1 MiB")
# tag output and baseline predictions hold every frame of a video: their cap is VTAG_TAG_LINE_MAX
expect("eval --tags 1 GiB of zeros", ["eval", "--labels", "labels.jsonl", "--tags", z],
       "zeros.jsonl: line 1 is longer than 4 MiB")
with open(os.path.join(work, "tags.jsonl"), "w") as f:
    f.write('{"video": "a.mp4", "class1": "x", "class2": "y", "tags": []}\n')
expect("eval --baseline 1 GiB of zeros", ["eval", "--labels", "labels.jsonl", "--tags", "tags.jsonl", "--baseline", z],
       "zeros.jsonl: line 1 is longer than 4 MiB")

# A quoted CSV field left open: short lines, but libcsv would hold them all.
with open(os.path.join(work, "open_quote.csv"), "w") as f:
    f.write('video,class1,class2,tags\na.mp4,x,y,t\n"b.mp4\n')
    line = "x" * 1000 + "\n"
    for _ in range(4000):
        f.write(line)
expect("an open quote in CSV", ["train", "--labels", "open_quote.csv", "--feats", "none.safetensors", "--model",
                                "fc", "--out", "m.safetensors"],
       "open_quote.csv:3: the row starting here is longer than 1 MiB")

shutil.rmtree(work)
c.done()
